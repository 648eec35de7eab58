#!/bin/bash
# Benchmark (not a test): unpacking one layer tar. `cvol layer import` against GNU
# `tar -x` and `docker load`, and `cvol image import` against `docker load`, all on the
# same ext4 filesystem.
#
#   sudo tests/bench/import.sh               # REPS=5 by default
#   REPS=9 SMALL=40000 tests/bench/import.sh
#
# One layer tar is generated: SMALL small files (0-4 KiB, 50 to a directory, two levels
# deep), BIG files of BIG_MIB MiB of random data, 500 symlinks and 500 hardlinks. Then,
# in one run, REPS interleaved repetitions of:
#   (a) cvol layer import L layer.tar          (then cvol layer rm L, untimed)
#   (b) tar -xf layer.tar -C a fresh dir       (then rm -rf, untimed), and for reference
#       the same followed by sync -f, as durable as cvol's import (which ends with syncfs)
#   (c) docker load -i image.tar               (docker rmi before it, untimed); image.tar is
#       `docker save` of `docker import layer.tar`, made once
#   (d) cvol layer import L layer.tar.gz, and tar -xzf layer.tar.gz
#   (e) cvol image import image.tar            (then cvol layer rm of its layer, untimed)
# Medians (and min-max) are printed, with the ratios cvol/tar, cvol/docker load and cvol
# image import/cvol layer import (what checking the digests costs), and
# how much of the page cache was dirty (or under writeback) right after each command.
#
# Environment:
#   REPS      timed repetitions of each command (default 5)
#   SMALL     small files in the layer (default 20000)
#   BIG       large files (default 3), BIG_MIB MiB each (default 64)
#   CVOL      the cvol binary (default: ./cvol at the top of the tree)
#   DOCKERD, DOCKER   default /usr/sbin/dockerd and /usr/bin/docker
#
# Everything happens in a private mount namespace inside a mktemp dir under /tmp: a 4G
# ext4 loop image holds the tars, the cvol store, the tar -x target dirs and dockerd's
# --data-root; a tmpfs holds dockerd's sockets and --exec-root, and tmpfs mounts hide the
# host's /run/docker/plugins, /run/containerd and /etc/docker, so the private dockerd
# starts its own containerd and writes nothing of the host's. The trap stops dockerd by
# its pid, unmounts, detaches the loop device and removes the dir.
#
# Dropping the page cache is not reliable here, so the caches are warm: the inputs are
# read from memory, and one untimed warm-up of each command runs first. Between any two
# timed commands the output of the last is removed and everything is synced (untimed),
# so no command pays for another's writeback. Times are wall clock, bash's
# $EPOCHREALTIME around fork+exec+wait of the command.
# shellcheck disable=SC2059 # the table formats in $ROW are our own
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=import-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it runs dockerd and mounts a loop device" "$@"

REPS=${REPS:-5}
SMALL=${SMALL:-20000}
BIG=${BIG:-3}
BIG_MIB=${BIG_MIB:-64}
CVOL=${CVOL:-$TOP/cvol}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-/usr/bin/docker}
TAR=$(command -v tar)
IMAGE=cvol-bench-import:latest
PER_DIR=50  # small files to a directory
NLINKS=500  # symlinks, and as many hardlinks

for v in REPS SMALL BIG_MIB; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "import-bench: $v must be a positive number" >&2; exit 1; }
done
[[ $BIG =~ ^[0-9]+$ ]] || { echo "import-bench: BIG must be a number" >&2; exit 1; }
((SMALL >= NLINKS)) || { echo "import-bench: SMALL must be at least $NLINKS" >&2; exit 1; }
[[ -x $CVOL ]] || { echo "import-bench: $CVOL not found; run make first" >&2; exit 1; }
for b in "$DOCKERD" "$DOCKER"; do
	[[ -x $b ]] || { echo "import-bench: $b not found" >&2; exit 1; }
done

# ---- scratch area, cleaned up on exit ---------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0 DOCKERD_PID=""
HIDDEN=() # host paths we mounted a tmpfs over


cleanup() {
	local rc=$? pid
	trap - ERR
	set +e
	if [[ -n $DOCKERD_PID ]]; then
		stop_pid "$DOCKERD_PID" 30
		# dockerd stops the containerd it started; if it was killed, that one is left
		if [[ -r $D/run/exec/containerd/containerd.pid ]]; then
			read -r pid <"$D/run/exec/containerd/containerd.pid"
			[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || kill -KILL "$pid"
		fi
	fi
	for ((i = ${#HIDDEN[@]} - 1; i >= 0; i--)); do umount "${HIDDEN[i]}"; done
	if [[ $SCRATCH_MOUNTED == 1 ]]; then
		# whatever dockerd left mounted under D goes first
		umount -R "$D" || umount -l "$D"
	fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "import-bench: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM


D=$(mktemp -d /tmp/cvi.XXXXXX)
# The image lives in D and the fs is mounted over D itself; the loop device keeps the
# (now hidden) image open. Inode tables and journal are written now, so no ext4lazyinit
# runs in the background during the timings.
truncate -s 4G "$D/fs.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$D/fs.img"
LOOP=$(losetup --find --show "$D/fs.img")
mount -t ext4 "$LOOP" "$D"
SCRATCH_MOUNTED=1
F=$D/files # the inputs
X=$D/x     # tar -x targets
CV=$D/cvol # the cvol store
mkdir "$D/run" "$D/docker" "$D/cli" "$F" "$X" "$CV"
mount -t tmpfs -o size=64m,mode=0700 cvol-bench-run "$D/run"
mkdir "$D/run/exec"
for p in /run/docker/plugins /run/containerd /etc/docker; do
	mkdir -p "$p"
	mount -t tmpfs -o size=16m,mode=0755 cvol-bench "$p"
	HIDDEN+=("$p")
done
ERRF=$D/run/err

# ---- dockerd --------------------------------------------------------------------------


echo '{}' >"$D/daemon.json"
export DOCKER_HOST=unix://$D/run/docker.sock DOCKER_CONFIG=$D/cli
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
"$DOCKERD" --data-root "$D/docker" --exec-root "$D/run/exec" --pidfile "$D/run/dockerd.pid" \
	-H "$DOCKER_HOST" --config-file "$D/daemon.json" --iptables=false --ip-masq=false \
	--bridge=none >"$D/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for 60 "$DOCKER" version || die "dockerd did not come up: $(tail -n5 "$D/dockerd.log")"
DOCKERD_VERSION=$("$DOCKER" version --format '{{.Server.Version}}')
STORAGE=$("$DOCKER" info --format '{{.Driver}}')

# ---- the layer ------------------------------------------------------------------------

# Small files: a<i>/b<j>/f<n>, PER_DIR to a directory, sizes 0..4095 bytes, a tenth of
# them executable; written by one awk rather than a process per file.
t0=${EPOCHREALTIME/./}
SRC=$D/src
NDIRS=$(((SMALL + PER_DIR - 1) / PER_DIR))
mkdir "$SRC"
for ((i = 0; i < NDIRS; i++)); do
	printf '%s/a%02d/b%02d\n' "$SRC" $((i / 20)) $((i % 20))
done | xargs mkdir -p
awk -v src="$SRC" -v n="$SMALL" -v per="$PER_DIR" 'BEGIN {
	pad = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	while (length(pad) < 4096) pad = pad pad
	for (i = 0; i < n; i++) {
		d = int(i / per)
		f = sprintf("%s/a%02d/b%02d/f%05d", src, int(d / 20), d % 20, i)
		printf "%s", substr(pad, 1, (i * 1237) % 4096) > f
		close(f)
	}
}'
find "$SRC" -name 'f*0' -type f -exec chmod 0755 {} +
# Links: l/s<n> -> ../a00/.. (relative, inside the layer), and h/ holds hardlinks.
mkdir "$SRC/l" "$SRC/h"
mapfile -t LINKED < <(cd "$SRC" && find a* -type f -name 'f*' | sort | awk -v n="$NLINKS" 'NR <= n')
(cd "$SRC/l" && for p in "${LINKED[@]}"; do printf '../%s\0s%s\0' "$p" "${p##*/f}"; done |
	xargs -0 -n 2 ln -s)
(cd "$SRC" && for p in "${LINKED[@]}"; do printf '%s\0h/%s\0' "$p" "${p##*/}"; done |
	xargs -0 -n 2 ln)
mkdir "$SRC/big"
for ((i = 0; i < BIG; i++)); do
	head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom >"$SRC/big/rand$i"
done
"$TAR" -C "$SRC" --sort=name --numeric-owner -cf "$F/layer.tar" .
gzip -c "$F/layer.tar" >"$F/layer.tar.gz"
ENTRIES=$("$TAR" -tf "$F/layer.tar" | wc -l)
rm -rf -- "$SRC"
t1=${EPOCHREALTIME/./}
GEN_S=$(awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.1f", us / 1e6 }')

# The same layer as a docker image: imported once, saved once.
t0=${EPOCHREALTIME/./}
"$DOCKER" import "$F/layer.tar" "$IMAGE" >/dev/null 2>"$ERRF" || die "docker import failed: $(<"$ERRF")"
"$DOCKER" save -o "$F/image.tar" "$IMAGE" 2>"$ERRF" || die "docker save failed: $(<"$ERRF")"
t1=${EPOCHREALTIME/./}
DOCKER_PREP_S=$(awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.1f", us / 1e6 }')

mib_of() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# ---- the commands -------------------------------------------------------------------

# timed CMD...: run CMD, its wall time in us into T_US; its stderr in $ERRF.
timed() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	"$@" >"$D/run/out" 2>"$ERRF" || return
	t1=${EPOCHREALTIME/./}
	T_US=$((10#$t1 - 10#$t0))
}

cvol() { "$CVOL" --root "$CV" "$@"; }

# op_cmd OP: the timed command of OP into CMD.
# shellcheck disable=SC2016 # the sh -c script expands its own arguments
op_cmd() {
	case $1 in
	cvol-tar) CMD=("$CVOL" --root "$CV" layer import bench "$F/layer.tar") ;;
	tar) CMD=("$TAR" -xf "$F/layer.tar" -C "$X/t") ;;
	tar-sync) CMD=(sh -c '"$0" -xf "$1" -C "$2" && sync -f "$2"' "$TAR" "$F/layer.tar" "$X/t") ;;
	docker) CMD=("$DOCKER" load -i "$F/image.tar") ;;
	cvol-gz) CMD=("$CVOL" --root "$CV" layer import bench "$F/layer.tar.gz") ;;
	tar-gz) CMD=("$TAR" -xzf "$F/layer.tar.gz" -C "$X/t") ;;
	cvol-image) CMD=("$CVOL" --root "$CV" image import "$F/image.tar") ;;
	esac
}

# Untimed, before OP: a fresh target dir for tar, no image for docker load.
op_before() {
	case $1 in
	tar | tar-sync | tar-gz) mkdir "$X/t" ;;
	docker) "$DOCKER" rmi "$IMAGE" >/dev/null 2>"$ERRF" || die "docker rmi failed: $(<"$ERRF")" ;;
	esac
}

# Untimed, after OP: its output removed (docker's stays until the next op_before).
op_after() {
	case $1 in
	cvol-tar | cvol-gz) cvol layer rm bench ;;
	tar | tar-sync | tar-gz) rm -rf -- "$X/t" ;;
	cvol-image) # the image has one layer: the top one
		local top
		read -r top <"$D/run/out"
		cvol layer rm "$top"
		;;
	esac
}

# dirty_kib: Dirty + Writeback of /proc/meminfo, in KiB (the whole machine's).
dirty_kib() { awk '/^(Dirty|Writeback):/ { k += $2 } END { print k }' /proc/meminfo; }

OPS=(cvol-tar tar tar-sync docker cvol-gz tar-gz cvol-image)
declare -A SAMPLES=() DIRTY=()

# op_one OP [record]: one timed OP between untimed preparation and removal, all synced.
op_one() {
	op_before "$1"
	sync
	op_cmd "$1"
	timed "${CMD[@]}" || die "$1: \`${CMD[*]}\` failed: $(<"$ERRF")"
	[[ ${2:-} != record ]] || SAMPLES[$1]+=" $T_US" DIRTY[$1]+=" $(dirty_kib)"
	[[ ${3:-} != check ]] || check_output "$1"
	op_after "$1"
	sync
}

# Once, in the warm-up: cvol's layer and docker's image hold what tar -x makes.
check_output() {
	case $1 in
	cvol-tar) diff -r --no-dereference "$CV/overlay/bench/diff" "$X/ref" >"$ERRF" 2>&1 ||
		die "cvol's layer differs from tar -x's tree: $(head -n3 "$ERRF")" ;;
	cvol-image)
		local top
		read -r top <"$D/run/out"
		diff -r --no-dereference "$CV/overlay/$top/diff" "$X/ref" >"$ERRF" 2>&1 ||
			die "cvol's image layer differs from tar -x's tree: $(head -n3 "$ERRF")"
		;;
	docker) grep -q "$IMAGE" "$D/run/out" || die "docker load did not load $IMAGE: $(<"$D/run/out")" ;;
	esac
}

# ---- warm-up and checks, then the timed runs -------------------------------------------

mkdir "$X/ref"
"$TAR" -xf "$F/layer.tar" -C "$X/ref"
[[ $(find "$X/ref/h" -type f -links 2 | wc -l) == "$NLINKS" ]] || die "the hardlinks did not survive tar -x"
for op in "${OPS[@]}"; do op_one "$op" "" check; done
rm -rf -- "${X:?}/ref"
sync

# Each repetition runs every command once; the order rotates by one each time.
n_ops=${#OPS[@]}
t0=${EPOCHREALTIME/./}
for ((r = 0; r < REPS; r++)); do
	for ((k = 0; k < n_ops; k++)); do
		op_one "${OPS[(r + k) % n_ops]}" record
	done
done
t1=${EPOCHREALTIME/./}
RUN_S=$(awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.0f", us / 1e6 }')

# ---- report ----------------------------------------------------------------------------

# fmt EXPR DIGITS: the arithmetic expression EXPR (of our own numbers) with DIGITS decimals.
minmax() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a / 1000, b / 1000 }'; }

declare -A MED=()
for op in "${OPS[@]}"; do
	# shellcheck disable=SC2086 # the samples are a list of numbers
	MED[$op]=$(median ${SAMPLES[$op]})
done

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
TAR_MIB=$(mib_of "$F/layer.tar")
echo "Unpacking one layer: cvol layer import / image import against tar -x and docker load"
echo
printf '%-13s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol:" "$("$CVOL" --version | sed 's/^cvol //') ($CVOL)" \
	"tar:" "$("$TAR" --version | head -n1) ($TAR)" \
	"dockerd:" "$DOCKERD_VERSION ($DOCKERD, storage driver $STORAGE), client $DOCKER" \
	"backing fs:" "ext4 on a 4G loop image (the inputs, the cvol store, tar's target, dockerd's --data-root)" \
	"cpu:" "${CPU:-unknown} x $(nproc)" \
	"layer:" "$ENTRIES entries: $SMALL files of 0-4 KiB in $NDIRS dirs, $BIG x $BIG_MIB MiB random," \
	"" "$NLINKS symlinks, $NLINKS hardlinks (generated in ${GEN_S}s)" \
	"inputs:" "layer.tar $TAR_MIB MiB, layer.tar.gz $(mib_of "$F/layer.tar.gz") MiB (gzip -6)," \
	"" "image.tar $(mib_of "$F/image.tar") MiB (docker import + docker save, ${DOCKER_PREP_S}s)" \
	"repetitions:" "$REPS of each command, after 1 untimed warm-up of each, interleaved (order rotating);" \
	"" "the page cache is warm (the inputs are read from memory); the output is removed and" \
	"" "\`sync\` run, untimed, between any two timed commands (the timed run took ${RUN_S}s)"
echo

label() {
	case $1 in
	cvol-tar) echo "(a) cvol layer import ID layer.tar" ;;
	tar) echo "(b) tar -xf layer.tar -C DIR" ;;
	tar-sync) echo "    tar -xf ..., then sync -f DIR" ;;
	docker) echo "(c) docker load -i image.tar" ;;
	cvol-gz) echo "(d) cvol layer import ID layer.tar.gz" ;;
	tar-gz) echo "    tar -xzf layer.tar.gz -C DIR" ;;
	cvol-image) echo "(e) cvol image import image.tar" ;;
	esac
}

ROW='%-40s  %10s  %13s  %8s  %10s\n'
echo "Wall clock, ms"
echo
printf "$ROW" "command" "median" "min-max" "MiB/s" "dirty MiB"
printf "$ROW" "----------------------------------------" "----------" "-------------" "--------" "----------"
for op in "${OPS[@]}"; do
	# shellcheck disable=SC2086
	printf "$ROW" "$(label "$op")" "$(fmt "${MED[$op]} / 1000" 0)" "$(minmax ${SAMPLES[$op]})" \
		"$(fmt "$TAR_MIB / (${MED[$op]} / 1e6)" 0)" "$(fmt "$(median ${DIRTY[$op]}) / 1024" 0)"
done
echo "(MiB/s: of the uncompressed layer tar, $TAR_MIB MiB, whatever the command reads;"
echo " dirty MiB: Dirty + Writeback in /proc/meminfo just after the command, median)"
echo

ROW='%-44s  %6s  %s\n'
ratio() { fmt "${MED[$1]} / ${MED[$2]}" 2; }
echo "Ratios of the medians (below 1: cvol is faster)"
echo
printf "$ROW" "" "ratio" "target"
printf "$ROW" "--------------------------------------------" "------" "----------------------------------"
printf "$ROW" "cvol layer import / tar -xf         (plain)" "$(ratio cvol-tar tar)" "<= 1.00 (no slower than tar -x)"
printf "$ROW" "cvol layer import / tar -xzf        (gzip)" "$(ratio cvol-gz tar-gz)" "<= 1.00 (no slower than tar -x)"
printf "$ROW" "cvol layer import / docker load     (plain)" "$(ratio cvol-tar docker)" "< 1.00 (faster than docker load)"
printf "$ROW" "cvol image import / docker load" "$(ratio cvol-image docker)" "<= 0.50 (half docker load's time)"
printf "$ROW" "cvol image import / cvol layer import (plain)" "$(ratio cvol-image cvol-tar)" "<= 1.10 (checking digests costs little)"
printf "$ROW" "cvol layer import / (tar -xf, sync -f)" "$(ratio cvol-tar tar-sync)" "(for reference: both durable)"
echo
echo "Not the same work:"
echo "- cvol layer import checks no digest (a plain tar comes with none); cvol image import, like"
echo "  docker load, checks the layer's sha256 against the image (blob digest, else diff_id). Only"
echo "  (e) against (c) compares like with like on that count."
echo "- cvol layer import ends with syncfs() of the store's filesystem: the layer is on disk when"
echo "  it returns. tar -x and docker load sync nothing of the layer; they leave it dirty in the"
echo "  page cache (\`tar -xf, then sync -f\` is the like-for-like row)."
echo "- docker load unpacks the whole image.tar into its data root's tmp dir first, then applies"
echo "  the layer while it hashes it; cvol image import reads image.tar in place and streams the"
echo "  layer out of it once, hashing it while it unpacks it into .staging (a layer whose bytes"
echo "  do not match is removed there and never appears)."
