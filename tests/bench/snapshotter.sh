#!/bin/bash
# Benchmark (not a test): containerd with cvol-snapshotter (the proxy snapshotter `cvol`)
# against containerd's built-in `overlayfs` snapshotter, on the same disk-backed filesystem.
#
#   sudo tests/bench/snapshotter.sh               # REPS=5, LAYERS="3 50 200" by default
#   REPS=9 LAYERS="3 200" GZIP=1 tests/bench/snapshotter.sh
#   LOAD_ITERS=500 LOAD_CLIENTS=8 tests/bench/snapshotter.sh   # the socket run's defaults
#   make bench                                    # builds what it needs, runs every benchmark
#
# Images of 3, 50 and 200 layers are made offline (tests/integration/make-oci-image.py:
# busybox, then one small file a layer). One private containerd (tests/integration/
# containerd-lib.sh) serves both snapshotters; in one run, REPS interleaved repetitions of,
# for each image and each snapshotter (the order of the snapshotters alternating):
#   (a) ctr image import --snapshotter S IMAGE.tar     (content and unpack)
#   (b) ctr run --rm --snapshotter S IMAGE cN true     (prepare, mount, run, remove)
#   (c) ctr image rm --sync IMAGE                      (GC: every snapshot and blob removed)
# `sync` runs, untimed, before each timed command. Medians (and min-max) are printed with
# the ratio cvol/overlayfs, then the resident memory (VmRSS, VmHWM of /proc/PID/status) of
# cvol-snapshotter and of containerd (overlayfs runs inside containerd) after the runs.
#
# Then Prepare + Mounts + Remove straight on the socket, no containerd in between: a second
# cvol-snapshotter (without --debug) on a store of its own in the same scratch dir; the load
# client (tests/bench/snapshotter-load.c, build/bench/snapshotter-load) commits a chain of 3
# snapshots (--setup-chain 3), then runs LOAD_ITERS cycles of Prepare(key, parent = the
# chain's top), Mounts(key), Remove(key) on each of 1 and of LOAD_CLIENTS concurrent clients
# (one gRPC connection each; the runs in turn, one run of each). Prepare+Mounts is timed as
# one call pair, Remove alone (CLOCK_MONOTONIC in the client); p50, p99 and max over every
# cycle of the run, and cycles/s. Then that snapshotter's VmRSS and VmHWM after the runs.
# Targets (cvol's issue), printed next to the figures: p99 of Prepare+Mounts under 2 ms,
# resident memory under 16 MiB.
# Without cvol-snapshotter ($CVOL_BIN_DIR or the top of the tree), only overlayfs runs and
# the cvol column says "cvol-snapshotter not built".
#
# Environment:
#   REPS      timed repetitions (default 5), after one untimed warm-up round
#   LAYERS    the images' layer counts (default "3 50 200")
#   GZIP      1: gzip layers (default plain tar: the snapshotters' work, not gunzip's)
#   LOAD_ITERS   cycles a client on the socket (default 500)
#   LOAD_CLIENTS concurrent clients of the loaded socket run (default 8)
#   SNAP_LOAD    the load client (default build/bench/snapshotter-load: make bench)
#   BENCH_DIR where the scratch dir goes (default /var/tmp; must not be tmpfs)
#   BENCH_FS  host (default): BENCH_DIR's own filesystem, as it is; fresh: a new ext4 made in an
#             image file in BENCH_DIR and loop-mounted (still disk-backed). A filesystem that
#             tests have churned can make each new inode cost half a millisecond (ext4's
#             search past recently deleted inodes); a fresh one shows the snapshotters' own cost
#
# Everything runs in a private mount namespace; containerd's root, state and sockets,
# cvol's store and the images are in a mktemp dir under BENCH_DIR, a tmpfs hides the
# host's /run/containerd. The trap stops containerd (and its shims) and the snapshotters
# by their pids, unmounts what they left and removes the dir. Times are wall clock,
# bash's $EPOCHREALTIME around the ctr command.
# shellcheck disable=SC2059 # the table formats in $ROW are our own
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=snapshotter-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it runs containerd and mounts" "$@"

REPS=${REPS:-5}
LAYERS=${LAYERS:-3 50 200}
GZIP=${GZIP:-0}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
BENCH_FS=${BENCH_FS:-host}
[[ $BENCH_FS == host || $BENCH_FS == fresh ]] || die "BENCH_FS must be host or fresh"
LOAD_ITERS=${LOAD_ITERS:-500}
LOAD_CLIENTS=${LOAD_CLIENTS:-8}
SNAP_LOAD=${SNAP_LOAD:-$TOP/build/bench/snapshotter-load}
CVOL_BIN_DIR=$(cd "${CVOL_BIN_DIR:-$TOP}" && pwd)
CVOL=$CVOL_BIN_DIR/cvol
. "$TOP/tests/integration/containerd-lib.sh"

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive number"
for n in $LAYERS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "LAYERS must be numbers: $LAYERS"; done
for v in LOAD_ITERS LOAD_CLIENTS; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"; done
if why=$(ctrd_missing); then die "$why"; fi
[[ $(stat -f -c %T "$BENCH_DIR") != tmpfs ]] || die "$BENCH_DIR is a tmpfs; set BENCH_DIR to a disk-backed dir"

SNAPS=(overlayfs)
if [[ -x $CTRD_SNAP_BIN ]]; then
	SNAPS+=(cvol)
	[[ -x $SNAP_LOAD ]] || die "$SNAP_LOAD not found; run make bench (or make && make build/bench/snapshotter-load)"
fi

# ---- scratch area, cleaned up on exit ---------------------------------------------

D=""
LOAD_PID="" # the socket run's snapshotter
cleanup() {
	local rc=$?
	trap - ERR
	set +e
	ctrd_cleanup
	ctrd_snapshotter_stop
	[[ -z $LOAD_PID ]] || stop_pid "$LOAD_PID" 10
	if [[ -n $D ]]; then
		awk -v d="$D/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
			while read -r m; do umount "$m" || umount -l "$m"; done
		! mountpoint -q "$D" || umount "$D" || umount -l "$D"
		rm -rf -- "$D" "$D.img"
	fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "snapshotter-bench: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

D=$(mktemp -d "$BENCH_DIR/cvol-snap-bench.XXXXXX")
if [[ $BENCH_FS == fresh ]]; then
	truncate -s 16G "$D.img"
	mkfs.ext4 -q -F "$D.img"
	mount -o loop "$D.img" "$D"
fi
mkdir "$D/images"
ERRF=$D/err
FSTYPE=$(findmnt -n -o FSTYPE --target "$D" || stat -f -c %T "$D")

t0=${EPOCHREALTIME/./}
gz=()
[[ $GZIP != 1 ]] || gz=(--gzip)
for n in $LAYERS; do
	ctrd_make_image "$D/images/l$n.tar" "bench/l$n:latest" "$n" "${gz[@]}" >/dev/null
done
t1=${EPOCHREALTIME/./}
GEN_MS=$(((10#$t1 - 10#$t0) / 1000))

if [[ " ${SNAPS[*]} " == *" cvol "* ]]; then
	ctrd_snapshotter_start "$D/cvol" "$D/snap.sock" "$D/snapshotter.log" || die "cvol-snapshotter did not start"
	ctrd_start "$D/ctrd" "$D/snap.sock" || die "containerd did not start"
else
	ctrd_start "$D/ctrd" || die "containerd did not start"
fi

# timed CMD...: run CMD, its wall time in us into T_US; its output in $ERRF.
timed() {
	local a b
	a=${EPOCHREALTIME/./}
	"$@" >"$ERRF" 2>&1 || return
	b=${EPOCHREALTIME/./}
	T_US=$((10#$b - 10#$a))
}

declare -A SAMPLES=()
RUN=0
# one_round S N [record]: import, run, rm of the N-layer image with snapshotter S.
one_round() {
	local s=$1 n=$2 img="bench/l$2:latest" op
	for op in import run rm; do
		sync
		case $op in
		import) timed ctrd_ctr image import --snapshotter "$s" "$D/images/l$n.tar" ;;
		run)
			RUN=$((RUN + 1))
			SNAPSHOTTER=$s timed ctrd_run --rm -- "$img" "c$RUN" true
			;;
		rm) timed ctrd_ctr image rm --sync "$img" ;;
		esac || die "$op of $n layers with $s failed: $(<"$ERRF")"
		[[ ${3:-} != record ]] || SAMPLES[$s,$n,$op]+=" $T_US"
	done
	local left
	left=$(ctrd_ctr snapshots --snapshotter "$s" ls | tail -n +2)
	[[ -z $left ]] || die "snapshots of $s left after image rm --sync: $left"
}

for n in $LAYERS; do
	for s in "${SNAPS[@]}"; do one_round "$s" "$n"; done
done
t0=${EPOCHREALTIME/./}
for ((r = 0; r < REPS; r++)); do
	for n in $LAYERS; do
		if ((r % 2)); then order=("${SNAPS[@]}"); else order=(); for s in "${SNAPS[@]}"; do order=("$s" "${order[@]}"); done; fi
		for s in "${order[@]}"; do one_round "$s" "$n" record; done
	done
done
t1=${EPOCHREALTIME/./}
RUN_S=$(fmt "($t1 - $t0) / 1e6" 1)

if [[ -n $CTRD_SNAP_PID ]]; then
	left=$("$CVOL" --root "$D/cvol" --json layer ls | tr -d ' \n')
	[[ $left == "[]" ]] || die "cvol layers left after the last image rm --sync: $left"
fi
CTRD_MEM=$(ctrd_mem_kib "$CTRD_PID")
SNAP_MEM=""
[[ -z $CTRD_SNAP_PID ]] || SNAP_MEM=$(ctrd_mem_kib "$CTRD_SNAP_PID")

# ---- Prepare + Mounts + Remove straight on the socket ------------------------------------

# load C: one snapshotter-load run of C clients on the chain's top; its key=value line into
# LOAD[C,key] (pm_p50_ms pm_p99_ms pm_max_ms rm_... ops_per_s errors ...).
declare -A LOAD=()
load() {
	local c=$1 out kv
	sync
	out=$("$SNAP_LOAD" --socket "$D/load.sock" --clients "$c" --iterations "$LOAD_ITERS" \
		--parent "$LOAD_TOP" 2>"$ERRF") || (($? == 1)) || die "snapshotter-load, $c client(s): $(<"$ERRF")"
	[[ $out == clients=* ]] || die "snapshotter-load, $c client(s): $(<"$ERRF")"
	for kv in $out; do LOAD[$c,${kv%%=*}]=${kv#*=}; done
	if ((LOAD[$c,errors] > 0)); then
		LOAD_NOTES+=("$c client(s): ${LOAD[$c,errors]} bad calls in ${LOAD[$c,cycles]} cycles: $(head -n1 "$ERRF")")
	fi
}
LOAD_NOTES=()
LOAD_MEM=""
if [[ -n $CTRD_SNAP_PID ]]; then
	"$CTRD_SNAP_BIN" --root "$D/cvol-load" --socket "$D/load.sock" >"$D/load.log" 2>&1 &
	LOAD_PID=$!
	wait_for 10 ctrd_socket_answers "$D/load.sock" || die "cvol-snapshotter (socket run) did not start: $(tail -n 3 "$D/load.log")"
	LOAD_TOP=$("$SNAP_LOAD" --socket "$D/load.sock" --setup-chain 3 2>"$ERRF") ||
		die "snapshotter-load --setup-chain 3: $(<"$ERRF")"
	t0=${EPOCHREALTIME/./}
	load 1
	load "$LOAD_CLIENTS"
	t1=${EPOCHREALTIME/./}
	LOAD_S=$(fmt "($t1 - $t0) / 1e6" 1)
	LOAD_MEM=$(ctrd_mem_kib "$LOAD_PID")
fi

# ---- report ----------------------------------------------------------------------------

minmax() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a / 1000, b / 1000 }'; }
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)

echo "containerd snapshotters: cvol-snapshotter (proxy) against the built-in overlayfs"
echo
printf '%-13s %s\n' \
	"kernel:" "$(uname -r)" \
	"containerd:" "$("$CTRD_CONTAINERD" --version | awk '{ print $3 }') ($CTRD_CONTAINERD), runc $("$CTRD_RUNC" --version | awk 'NR == 1 { print $3 }')" \
	"cvol:" "$([[ -x $CTRD_SNAP_BIN ]] && echo "$CTRD_SNAP_BIN" || echo "cvol-snapshotter not built")" \
	"backing fs:" "$FSTYPE ($D, BENCH_FS=$BENCH_FS): containerd's root and state, cvol's store, the images" \
	"cpu:" "${CPU:-unknown} x $(nproc)" \
	"images:" "$LAYERS layers ($([[ $GZIP == 1 ]] && echo gzip || echo plain tar); busybox, then one small file a layer; made in ${GEN_MS} ms)" \
	"repetitions:" "$REPS of each, after 1 untimed warm-up round, snapshotters alternating (took ${RUN_S}s)"
echo

label() {
	case $1 in
	import) echo "ctr image import (unpack)" ;;
	run) echo "ctr run --rm IMG cN true" ;;
	rm) echo "ctr image rm --sync" ;;
	esac
}
ROW='%-7s %-26s %18s %18s %10s\n'
echo "Wall clock, ms: median (min-max)"
echo
printf "$ROW" layers command overlayfs cvol cvol/ovl
printf "$ROW" ------- -------------------------- ------------------ ------------------ ----------
for n in $LAYERS; do
	# shellcheck disable=SC2086 # the samples are lists of numbers
	for op in import run rm; do
		o_med=$(median ${SAMPLES[overlayfs,$n,$op]})
		o="$(fmt "$o_med / 1000" 0) ($(minmax ${SAMPLES[overlayfs,$n,$op]}))"
		if [[ -n ${SAMPLES[cvol,$n,$op]:-} ]]; then
			c_med=$(median ${SAMPLES[cvol,$n,$op]})
			c="$(fmt "$c_med / 1000" 0) ($(minmax ${SAMPLES[cvol,$n,$op]}))"
			ratio=$(fmt "$c_med / $o_med" 2)
		else
			c="not built" ratio="-"
		fi
		printf "$ROW" "$n" "$(label $op)" "$o" "$c" "$ratio"
	done
done
echo
echo "Resident memory after the runs, MiB (VmRSS, VmHWM = peak)"
echo
kib2mib() { fmt "$1 / 1024" 1; }
read -r rss hwm <<<"$CTRD_MEM"
printf '%-46s %8s %8s\n' process VmRSS VmHWM
printf '%-46s %8s %8s\n' "containerd (the overlayfs snapshotter inside)" "$(kib2mib "$rss")" "$(kib2mib "$hwm")"
if [[ -n $SNAP_MEM ]]; then
	read -r rss hwm <<<"$SNAP_MEM"
	printf '%-46s %8s %8s\n' "cvol-snapshotter" "$(kib2mib "$rss")" "$(kib2mib "$hwm")"
else
	printf '%-46s %8s %8s\n' "cvol-snapshotter" "-" "-"
	echo
	echo "cvol-snapshotter not built: only overlayfs ran."
fi

# ---- report: on the socket --------------------------------------------------------------

echo
echo "Prepare + Mounts + Remove straight on the socket (cvol-snapshotter alone, no containerd)"
echo
if [[ -z $LOAD_MEM ]]; then
	echo "cvol-snapshotter not built: not run."
	exit 0
fi
printf '%-13s %s\n' \
	"snapshotter:" "a second cvol-snapshotter (no --debug), its own store in $D ($FSTYPE)" \
	"parent:" "$LOAD_TOP, the top of a chain of 3 committed snapshots" \
	"cycles:" "$LOAD_ITERS per client of Prepare(load-<client>-<i>, parent), Mounts, Remove; one run with 1 client, then one with $LOAD_CLIENTS (took ${LOAD_S}s)" \
	"timed:" "in the client (gRPC C core, a connection a client), CLOCK_MONOTONIC: Prepare+Mounts as one, Remove alone"
echo
# below TARGET: "yes" or "NO"
meets() { awk -v v="$1" -v t="$2" 'BEGIN { print v < t ? "yes" : "NO" }'; }
LROW='%-8s %9s %9s %9s %10s   %9s %9s %9s %10s\n'
echo "ms over every cycle of the run; target: p99 of Prepare+Mounts under 2 ms"
echo
printf '%-8s %-29s %10s   %-29s %10s\n' "" "--------- Prepare+Mounts ----" "p99 < 2ms" "--------- Remove ------------" ""
printf "$LROW" clients p50 p99 max target p50 p99 max cycles/s
printf "$LROW" -------- --------- --------- --------- ---------- --------- --------- --------- ----------
for c in 1 "$LOAD_CLIENTS"; do
	printf "$LROW" "$c" "${LOAD[$c,pm_p50_ms]}" "${LOAD[$c,pm_p99_ms]}" "${LOAD[$c,pm_max_ms]}" \
		"$(meets "${LOAD[$c,pm_p99_ms]}" 2)" "${LOAD[$c,rm_p50_ms]}" "${LOAD[$c,rm_p99_ms]}" \
		"${LOAD[$c,rm_max_ms]}" "${LOAD[$c,ops_per_s]}"
done
for note in "${LOAD_NOTES[@]}"; do echo "errors: $note"; done
echo
echo "Resident memory of that cvol-snapshotter after the runs, MiB; target: under 16 MiB"
echo
read -r rss hwm <<<"$LOAD_MEM"
printf '%-30s %8s %13s\n' "" VmRSS "VmHWM (peak)"
printf '%-30s %8s %13s\n' "cvol-snapshotter" "$(kib2mib "$rss")" "$(kib2mib "$hwm")"
printf '%-30s %8s %13s\n' "under 16 MiB" "$(meets "$rss" 16384)" "$(meets "$hwm" 16384)"
((${#LOAD_NOTES[@]} == 0)) || exit 1
