#!/bin/bash
# Benchmark (not a test): the cvol volume plugin, through a real dockerd against its
# built-in `local` driver and as a managed (v2) plugin, and straight on its socket.
#
#   sudo tests/bench/plugin.sh                # REPS=15 by default
#   REPS=31 CLIENTS=32 tests/bench/plugin.sh
#
# It measures, in one run:
#   1. docker volume create / inspect / rm and `docker run --rm -v VOL:/data` with
#      -d cvol (the socket plugin), -d cvol/cvol (the same binary as a managed plugin,
#      made by contrib/plugin/make-rootfs.sh, its store on the same filesystem) and
#      -d local, interleaved: medians and the ratios cvol/local and managed/cvol
#      (dockerd sends the plugin Get+Create, Get, Get+Get+Mount+Get+Unmount and
#      Get+Get+Remove for these);
#   2. requests/s and p50/p99 latency of Get, List (of 10 volumes), Path and
#      Mount+Unmount on the socket, with 1 and CLIENTS concurrent clients (and
#      Mount+Unmount with a volume of its own per client, to tell the per-volume
#      lock from the cost of a request);
#   3. List of BULK volumes (10,000), single client: median latency;
#   4. the plugin's resident memory (VmRSS) idle and under the CLIENTS-client load
#      (sampled in a pass of its own, so the sampler does not disturb the timings).
# and prints each figure beside its target.
#
# Environment:
#   REPS         timed repetitions per docker command and driver (default 15)
#   CLIENTS      concurrent clients of the loaded runs (default 16)
#   RUNS         runs of each socket measurement; medians are reported (default 3)
#   BULK         volumes for the big List (default 10000)
#   CVOL_PLUGIN, CVOL, PLUGIN_LOAD   the binaries (default: the tree's, run make bench)
#   DOCKERD, DOCKER                  default /usr/sbin/dockerd and /usr/bin/docker
#   BUSYBOX      a static busybox, the one binary of the test image (default /bin/busybox)
#   MANAGED      0: leave the managed plugin out of part 1 (default 1)
#   IDLE         when set (e.g. 1000), also run tests/bench/plugin-idle.sh at the end: Get by one
#                well-behaved client while IDLE idle connections are held (unset: not run)
#
# Everything happens in a private mount namespace inside a mktemp dir under /tmp: a
# 2G ext4 loop image holds dockerd's --data-root and the plugin's --root (so `local`
# and `cvol` volumes live on the same filesystem), a tmpfs holds the sockets and the
# --exec-root, and tmpfs mounts hide the host's /run/docker/plugins, /run/containerd
# and /etc/docker, so the private dockerd finds only this plugin, starts its own
# containerd and writes nothing of the host's (its containers' cgroups go under a
# cvol-bench-PID parent, removed at the end). The trap stops the plugin and dockerd
# by their pids, unmounts, detaches the loop device and removes the dir.
# Docker commands are timed with bash's $EPOCHREALTIME around fork+exec+wait of the
# client (both drivers pay the same client overhead); socket latencies are taken by
# plugin-load with CLOCK_MONOTONIC around each request.
# shellcheck disable=SC2059 # the table formats in $ROW are our own
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=plugin-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it runs dockerd and mounts a loop device" "$@"

REPS=${REPS:-15}
CLIENTS=${CLIENTS:-16}
RUNS=${RUNS:-3}
BULK=${BULK:-10000}
CVOL_PLUGIN=${CVOL_PLUGIN:-$TOP/cvol-plugin}
CVOL=${CVOL:-$TOP/cvol}
PLUGIN_LOAD=${PLUGIN_LOAD:-$TOP/build/bench/plugin-load}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-/usr/bin/docker}
BUSYBOX=${BUSYBOX:-/bin/busybox}
MANAGED=${MANAGED:-1}
MANAGED_NAME=cvol/cvol
PLUGIN_DIR=/run/docker/plugins
SOCK=$PLUGIN_DIR/cvol.sock
SMALL=10 # volumes in the store for the socket runs
IMAGE=cvol-bench-bb
CGROUP_PARENT=cvol-bench-$$

# Targets.
T_RATIO=1.1   # cvol/local through dockerd, at most
T_MANAGED=1.1 # the managed plugin against the socket plugin through dockerd, at most
T_P99_US=1000 # p99 of Get, List and Path at CLIENTS clients, below
T_BULK_MS=50  # List of BULK volumes, below
T_RSS_MIB=8   # resident memory, below

for v in REPS CLIENTS RUNS BULK; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "plugin-bench: $v must be a positive number" >&2; exit 1; }
done
((BULK >= CLIENTS)) || { echo "plugin-bench: BULK must be at least CLIENTS" >&2; exit 1; }
for b in "$CVOL_PLUGIN" "$CVOL" "$PLUGIN_LOAD"; do
	[[ -x $b ]] || { echo "plugin-bench: $b not found; run make bench (or make && make $PLUGIN_LOAD)" >&2; exit 1; }
done
for b in "$DOCKERD" "$DOCKER" "$BUSYBOX"; do
	[[ -x $b ]] || { echo "plugin-bench: $b not found" >&2; exit 1; }
done

# ---- scratch area, cleaned up on exit ---------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0 PLUGIN_PID="" DOCKERD_PID="" SAMPLER_PID=""
HIDDEN=() # host paths we mounted a tmpfs over


cleanup() {
	local rc=$? pid
	trap - ERR
	set +e
	[[ -z $SAMPLER_PID ]] || stop_pid "$SAMPLER_PID" 1
	[[ -z $PLUGIN_PID ]] || stop_pid "$PLUGIN_PID" 10
	if [[ -n $DOCKERD_PID ]]; then
		stop_pid "$DOCKERD_PID" 30
		# dockerd stops the containerd it started; if it was killed, that one is left
		if [[ -r $D/run/exec/containerd/containerd.pid ]]; then
			read -r pid <"$D/run/exec/containerd/containerd.pid"
			[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || kill -KILL "$pid"
		fi
	fi
	for cg in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
		[[ ! -d $cg ]] || rmdir "$cg"
	done
	for ((i = ${#HIDDEN[@]} - 1; i >= 0; i--)); do umount "${HIDDEN[i]}"; done
	if [[ $SCRATCH_MOUNTED == 1 ]]; then
		# whatever dockerd left mounted under D (overlays, netns) goes first
		umount -R "$D" || umount -l "$D"
	fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "plugin-bench: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM


D=$(mktemp -d /tmp/cvp.XXXXXX)
# The image lives in D and the fs is mounted over D itself; the loop device keeps the
# (now hidden) image open. Inode tables and journal are written now, so no ext4lazyinit
# runs in the background during the timings.
truncate -s 2G "$D/fs.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$D/fs.img"
LOOP=$(losetup --find --show "$D/fs.img")
mount -t ext4 "$LOOP" "$D"
SCRATCH_MOUNTED=1
mkdir "$D/run" "$D/docker" "$D/cvol" "$D/img" "$D/cli" "$D/store"
# The managed plugin's store (docker plugin set cvol/cvol store.source=): a shared mount, so
# that what the plugin mounts in it is seen from here too.
mount --bind "$D/store" "$D/store"
mount --make-shared "$D/store"
mount -t tmpfs -o size=64m,mode=0700 cvol-bench-run "$D/run"
mkdir "$D/run/exec"
for p in "$PLUGIN_DIR" /run/containerd /etc/docker; do
	mkdir -p "$p"
	mount -t tmpfs -o size=16m,mode=0755 cvol-bench "$p"
	HIDDEN+=("$p")
done
ERRF=$D/run/err

# ---- the plugin and dockerd -----------------------------------------------------------


start_plugin() {
	"$CVOL_PLUGIN" --root "$D/cvol" --socket "$SOCK" >>"$D/plugin.log" 2>&1 &
	PLUGIN_PID=$!
	wait_for 60 test -S "$SOCK" || die "cvol-plugin did not create $SOCK: $(tail -n3 "$D/plugin.log")"
	"$PLUGIN_LOAD" --socket "$SOCK" --requests 1 --endpoint Plugin.Activate --expect Implements >/dev/null ||
		die "cvol-plugin does not answer Plugin.Activate: $(tail -n3 "$D/plugin.log")"
}

# rss_kib FIELD: VmRSS, VmHWM ... of the plugin in KiB.
rss_kib() {
	local k v _
	while read -r k v _; do
		[[ $k == "$1:" ]] && { echo "$v"; return; }
	done <"/proc/$PLUGIN_PID/status"
	echo 0
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

start_plugin
RSS_START=$(rss_kib VmRSS)

echo '{}' >"$D/daemon.json"
export DOCKER_HOST=unix://$D/run/docker.sock DOCKER_CONFIG=$D/cli
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
"$DOCKERD" --data-root "$D/docker" --exec-root "$D/run/exec" --pidfile "$D/run/dockerd.pid" \
	-H "$DOCKER_HOST" --config-file "$D/daemon.json" --iptables=false --ip-masq=false --bridge=none \
	--cgroup-parent "$CGROUP_PARENT" >"$D/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for 60 "$DOCKER" version || die "dockerd did not come up: $(tail -n5 "$D/dockerd.log")"
DOCKERD_VERSION=$("$DOCKER" version --format '{{.Server.Version}}')
STORAGE=$("$DOCKER" info --format '{{.Driver}}')

# A one-binary image: busybox, and true and sh as links to it.
mkdir "$D/img/bin" "$D/img/data"
cp "$BUSYBOX" "$D/img/bin/busybox"
ln -s busybox "$D/img/bin/true"
ln -s busybox "$D/img/bin/sh"
tar -C "$D/img" -c . | "$DOCKER" import - "$IMAGE" >/dev/null

# The managed plugin: the same cvol-plugin in a rootfs of its own, its store in $D/store.
DRIVERS=(cvol local)
if [[ $MANAGED == 1 ]]; then
	"$TOP/contrib/plugin/make-rootfs.sh" "$(dirname "$CVOL_PLUGIN")" "$D/managed" 2>"$ERRF" ||
		die "contrib/plugin/make-rootfs.sh: $(<"$ERRF")"
	for a in "create $MANAGED_NAME $D/managed" "set $MANAGED_NAME store.source=$D/store" "enable $MANAGED_NAME"; do
		# shellcheck disable=SC2086 # the words of the command
		"$DOCKER" plugin $a >/dev/null 2>"$ERRF" || die "docker plugin $a: $(<"$ERRF")"
	done
	DRIVERS=(cvol managed local)
fi

# ---- helpers ---------------------------------------------------------------------------

# timed CMD...: run CMD, its wall time in us into T_US; its stderr in $ERRF.
timed() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>"$ERRF" || return
	t1=${EPOCHREALTIME/./}
	T_US=$((10#$t1 - 10#$t0))
}


# fmt EXPR DIGITS: the arithmetic expression EXPR (of our own numbers) with DIGITS decimals.

# verdict OK: "ok" or "MISS"
verdict() { if [[ $1 == 1 ]]; then echo ok; else echo MISS; fi; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# ---- 1: through dockerd, cvol and the managed plugin against local -----------------------

# The -d of each driver of part 1.
driver_name() { # cvol managed local
	if [[ $1 == managed ]]; then echo "$MANAGED_NAME"; else echo "$1"; fi
}

docker_cmd() { # OP DRIVER NAME: the command into CMD
	case $1 in
	create) CMD=("$DOCKER" volume create -d "$(driver_name "$2")" "$3") ;;
	inspect) CMD=("$DOCKER" volume inspect "$3") ;;
	run) CMD=("$DOCKER" run --rm --network none -v "$3:/data" "$IMAGE" true) ;;
	rm) CMD=("$DOCKER" volume rm "$3") ;;
	esac
}

OPS=(create inspect run rm)
declare -A SAMPLES=()

# op_one OP DRIVER NAME [record]: run one docker command, timed; recorded when asked.
op_one() {
	docker_cmd "$1" "$2" "$3"
	timed "${CMD[@]}" || die "$2: \`${CMD[*]}\` failed: $(<"$ERRF")"
	[[ ${4:-} != record ]] || SAMPLES[$2.$1]+=" $T_US"
}

# Warm-up, untimed: the plugins' activation, the image's first run, and a check that a
# cvol volume really is the plugin's directory inside the container.
for op in "${OPS[@]}"; do
	for drv in "${DRIVERS[@]}"; do op_one "$op" "$drv" "warm-$drv"; done
done
for drv in "${DRIVERS[@]}"; do
	[[ $drv != local ]] || continue
	store=$D/cvol
	[[ $drv == cvol ]] || store=$D/store
	"$DOCKER" volume create -d "$(driver_name "$drv")" check >/dev/null
	"$DOCKER" run --rm --network none -v check:/data "$IMAGE" sh -c "echo $drv >/data/probe"
	[[ $(cat "$store/volumes/check/_data/probe" 2>/dev/null) == "$drv" ]] ||
		die "a file written to a $drv volume in a container is not in the plugin's store"
	"$DOCKER" volume rm check >/dev/null
done

# Each command in a loop of its own (so the light ones do not run in the wake of a
# container's teardown), the drivers interleaved, which goes first rotating.
for op in "${OPS[@]}"; do
	for ((r = 0; r < REPS; r++)); do
		order=("${DRIVERS[@]:r % ${#DRIVERS[@]}}" "${DRIVERS[@]:0:r % ${#DRIVERS[@]}}")
		for drv in "${order[@]}"; do op_one "$op" "$drv" "b-$drv-$r" record; done
	done
done
RSS_AFTER_DOCKER=$(rss_kib VmRSS)

# ---- 2: on the socket ---------------------------------------------------------------------

# load ARGS...: one plugin-load run; its key=value line into the array L (rps p50 p99 max errors).
load() {
	local out k v kv
	out=$("$PLUGIN_LOAD" --socket "$SOCK" "$@" 2>"$ERRF") || true
	[[ $out == endpoint=* ]] || die "plugin-load $*: $(<"$ERRF")"
	declare -gA L=()
	for kv in $out; do
		k=${kv%%=*} v=${kv#*=}
		L[$k]=$v
	done
	if ((L[errors] > 0)); then
		ERR_NOTES+=("${L[endpoint]}, ${L[clients]} client(s): ${L[errors]} of ${L[requests]} bad: $(head -n1 "$ERRF")")
	fi
}
ERR_NOTES=()

"$PLUGIN_LOAD" --socket "$SOCK" --clients 1 --requests "$SMALL" --endpoint Create \
	--body '{"Name":"bench-%i"}' >/dev/null 2>"$ERRF" || die "creating $SMALL volumes failed: $(<"$ERRF")"
RSS_IDLE=$(rss_kib VmRSS)

# params EP C: the plugin-load arguments of endpoint EP with C clients into ARGS.
params() {
	local ep=$1 c=$2 n per warm
	case $ep in
	Get) ARGS=(--endpoint Get --body '{"Name":"bench-3"}') n=4000 ;;
	List) ARGS=(--endpoint List --expect-count "$NVOL") n=2000 ;;
	Path) ARGS=(--endpoint Path --body '{"Name":"bench-3"}') n=4000 ;;
	Mount) ARGS=(--mount-pairs bench-5) n=400 ;;  # two fsyncs a request, under the volume's lock
	MountOwn) ARGS=(--mount-pairs 'own-%c') n=400 ;; # the same, a volume per client
	esac
	per=$(((n + c - 1) / c))
	per=$((per + per % 2)) warm=$((per / 10 + (per / 10) % 2))
	ARGS+=(--clients "$c" --requests "$per" --warmup "$warm")
}

ENDPOINTS=(Get List Path Mount MountOwn)
declare -A RES=()
NVOL=$SMALL # volumes in the store
for ep in "${ENDPOINTS[@]}"; do
	if [[ $ep == MountOwn ]]; then
		# after the List runs, which expect SMALL volumes
		"$PLUGIN_LOAD" --socket "$SOCK" --clients "$CLIENTS" --requests 1 --endpoint Create \
			--body '{"Name":"own-%c"}' >/dev/null 2>"$ERRF" || die "creating own-N failed: $(<"$ERRF")"
		NVOL=$((NVOL + CLIENTS))
	fi
	for c in 1 "$CLIENTS"; do
		[[ $ep != MountOwn || $c != 1 ]] || continue
		params "$ep" "$c"
		rps=() p50=() p99=() mx=() errs=0 total=0
		for ((i = 0; i < RUNS; i++)); do
			load "${ARGS[@]}"
			rps+=("${L[rps]}") p50+=("${L[p50_us]}") p99+=("${L[p99_us]}") mx+=("${L[max_us]}")
			errs=$((errs + L[errors])) total=$((total + L[requests]))
		done
		RES[$ep.$c]="$(median "${rps[@]}") $(median "${p50[@]}") $(median "${p99[@]}") $(median "${mx[@]}") $errs $total"
	done
done

# ---- 4: resident memory under load (before 3, while the store is small) --------------------

# rss_sampler FILE: the largest VmRSS and Threads of the plugin while $D/run/sampling exists.
rss_sampler() {
	local max=0 threads=0 k v _
	while [[ -e $D/run/sampling ]]; do
		while read -r k v _; do
			case $k in
			VmRSS:) ((v > max)) && max=$v ;;
			Threads:) ((v > threads)) && threads=$v ;;
			esac
		done <"/proc/$PLUGIN_PID/status"
		sleep 0.01
	done
	echo "$max $threads" >"$1"
}

# Each loaded run once more, untimed, with the sampler on; bad replies are counted above.
touch "$D/run/sampling"
rss_sampler "$D/run/rss" &
SAMPLER_PID=$!
for ep in "${ENDPOINTS[@]}"; do
	params "$ep" "$CLIENTS"
	"$PLUGIN_LOAD" --socket "$SOCK" "${ARGS[@]}" >/dev/null 2>"$ERRF" || (($? == 1)) ||
		die "plugin-load ${ARGS[*]}: $(<"$ERRF")"
done
rm "$D/run/sampling"
wait "$SAMPLER_PID"
SAMPLER_PID=""
read -r RSS_LOAD THREADS_LOAD <"$D/run/rss"

# ---- 3: List of BULK volumes ----------------------------------------------------------

# Made through the plugin by CLIENTS clients at once: a create costs three fsyncs, which
# ext4 commits together for concurrent creates; BULK runs of `cvol volume create` one
# after the other would take minutes.
per=$((BULK / CLIENTS)) rest=$((BULK % CLIENTS))
t0=${EPOCHREALTIME/./}
load --clients "$CLIENTS" --requests "$per" --endpoint Create --body '{"Name":"bulk-%c-%i"}'
if ((rest)); then
	load --clients "$rest" --requests 1 --endpoint Create --body '{"Name":"bulk-rest-%c"}'
fi
t1=${EPOCHREALTIME/./}
BULK_CREATE_S=$(awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
BULK_RUNS=$((RUNS * 2 + 1))
NVOL=$((NVOL + BULK))
load --clients 1 --requests "$BULK_RUNS" --warmup 1 --endpoint List --expect-count "$NVOL"
BULK_LIST=("${L[p50_us]}" "${L[max_us]}" "${L[errors]}")
RSS_BULK=$(rss_kib VmRSS)

# What else BULK volumes cost: `docker volume ls` (dockerd asks the plugin's List), a
# create with the CLI, and a plugin restart (it reconciles every volume at start).
DLS=() CLI=()
for ((i = 0; i < 3; i++)); do
	timed "$DOCKER" volume ls -q || die "docker volume ls failed: $(<"$ERRF")"
	DLS+=("$T_US")
	timed "$CVOL" --root "$D/cvol" volume create "cli-$i" || die "cvol volume create failed: $(<"$ERRF")"
	CLI+=("$T_US")
done
DLS_COUNT=$("$DOCKER" volume ls -q --filter driver=cvol | wc -l)
stop_pid "$PLUGIN_PID" 10
PLUGIN_PID=""
t0=${EPOCHREALTIME/./}
start_plugin
t1=${EPOCHREALTIME/./}
RESTART_US=$((10#$t1 - 10#$t0))

# ---- report ----------------------------------------------------------------------------

RSS_RESTART=$(rss_kib VmRSS)
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
RUNS_WORD=runs
((RUNS > 1)) || RUNS_WORD=run
echo "cvol-plugin: through dockerd against the local driver and as a managed plugin, and on its socket"
echo
printf '%-13s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol-plugin:" "$("$CVOL_PLUGIN" --version | sed 's/^cvol-plugin //') ($CVOL_PLUGIN)" \
	"dockerd:" "$DOCKERD_VERSION ($DOCKERD, storage driver $STORAGE), client $DOCKER" \
	"backing fs:" "ext4 on a 2G loop image (dockerd --data-root, the plugin's --root, the managed plugin's store)" \
	"cpu:" "${CPU:-unknown} x $(nproc) (the load client runs on the same cpus)" \
	"repetitions:" "docker: $REPS per command and driver, after 1 untimed warm-up, interleaved" \
	"" "socket: $RUNS $RUNS_WORD of each line, the median of each figure"
echo

ROW='%-52s  %7s  %7s  %7s  %10s  %4s  %12s  %4s\n'
echo "1. Through dockerd: median ms of the docker command, wall clock"
echo "   (cvol: the socket plugin; managed: the same binary as the managed plugin $MANAGED_NAME)"
echo
printf "$ROW" "command" "cvol" "managed" "local" "cvol/local" "" "managed/cvol" ""
printf "$ROW" "----------------------------------------------------" "-------" "-------" "-------" "----------" \
	"----" "------------" "----"
for op in "${OPS[@]}"; do
	docker_cmd "$op" '<drv>' VOL
	label="docker ${CMD[*]:1}"
	label=${label/$IMAGE/bb}
	# shellcheck disable=SC2086 # the samples are a list of numbers
	a=$(median ${SAMPLES[cvol.$op]}) b=$(median ${SAMPLES[local.$op]})
	ratio=$(fmt "$a / $b" 2)
	ok=0
	le "$ratio" "$T_RATIO" && ok=1
	m="-" mratio="-" mok=""
	if [[ -n ${SAMPLES[managed.$op]:-} ]]; then
		# shellcheck disable=SC2086
		m=$(median ${SAMPLES[managed.$op]})
		mratio=$(fmt "$m / $a" 2)
		mok=0
		le "$mratio" "$T_MANAGED" && mok=1
		mok=$(verdict $mok)
		m=$(fmt "$m / 1000" 1)
	fi
	printf "$ROW" "$label" "$(fmt "$a / 1000" 1)" "$m" "$(fmt "$b / 1000" 1)" "$ratio" "$(verdict $ok)" \
		"$mratio" "$mok"
done
echo "(targets: cvol/local <=$T_RATIO, managed/cvol <=$T_MANAGED)"
echo

ROW='%-24s  %7s  %9s  %8s  %8s  %8s  %11s  %7s  %s\n'
echo "2. On the socket: keep-alive connections, one per client"
echo
printf "$ROW" "request" "clients" "req/s" "p50 us" "p99 us" "max us" "bad/total" "target" ""
printf "$ROW" "------------------------" "-------" "---------" "--------" "--------" "--------" "-----------" \
	"-------" "----"
for ep in "${ENDPOINTS[@]}"; do
	for c in 1 "$CLIENTS"; do
		[[ -n ${RES[$ep.$c]:-} ]] || continue
		read -r rps p50 p99 mx errs total <<<"${RES[$ep.$c]}"
		target="" ok=""
		if [[ $ep != Mount* && $c == "$CLIENTS" ]]; then
			target="p99<1ms" ok=0
			lt "$p99" "$T_P99_US" && ((errs == 0)) && ok=1
			ok=$(verdict $ok)
		fi
		case $ep in
		List) label="List ($SMALL volumes)" ;;
		Mount) label="Mount+Unmount, 1 volume" ;;
		MountOwn) label="Mount+Unmount, own vol." ;;
		*) label="$ep" ;;
		esac
		printf "$ROW" "$label" "$c" "$rps" "$p50" "$p99" "$mx" "$errs/$total" "$target" "$ok"
	done
done
echo "(a good reply is HTTP 200 with \"Err\":\"\", and a List has exactly $SMALL volumes;"
echo " Mount+Unmount alternate, each client with its own mount ID, on one volume or on one each)"
echo

ROW='%-52s  %9s  %7s  %s\n'
echo "3. $NVOL volumes in the store"
echo
ok=0
lt "$(fmt "${BULK_LIST[0]} / 1000" 3)" "$T_BULK_MS" && ((BULK_LIST[2] == 0)) && ok=1
printf "$ROW" "" "ms" "target" ""
printf "$ROW" "----------------------------------------------------" "---------" "-------" "----"
printf "$ROW" "List on the socket, one client, median of $BULK_RUNS" "$(fmt "${BULK_LIST[0]} / 1000" 1)" \
	"<$T_BULK_MS" "$(verdict $ok)"
printf "$ROW" "List on the socket, slowest of $BULK_RUNS" "$(fmt "${BULK_LIST[1]} / 1000" 1)" "" "" \
	"docker volume ls, median of 3 ($DLS_COUNT cvol volumes)" "$(fmt "$(median "${DLS[@]}") / 1000" 1)" "" "" \
	"cvol volume create (the CLI), median of 3" "$(fmt "$(median "${CLI[@]}") / 1000" 1)" "" "" \
	"cvol-plugin restart: start until it answers" "$(fmt "$RESTART_US / 1000" 1)" "" ""
echo "(the $BULK were made through the plugin's Create by $CLIENTS clients in ${BULK_CREATE_S}s)"
echo

echo "4. cvol-plugin resident memory (VmRSS)"
echo
printf "$ROW" "" "MiB" "target" ""
printf "$ROW" "----------------------------------------------------" "---------" "-------" "----"
rss_row() { # LABEL KIB
	local ok=0
	lt "$(mib "$2")" "$T_RSS_MIB" && ok=1
	printf "$ROW" "$1" "$(mib "$2")" "<$T_RSS_MIB" "$(verdict $ok)"
}
rss_row "at start, empty store" "$RSS_START"
rss_row "after the dockerd runs" "$RSS_AFTER_DOCKER"
rss_row "idle, $SMALL volumes" "$RSS_IDLE"
rss_row "under $CLIENTS clients (largest sample)" "$RSS_LOAD"
rss_row "after the List of $NVOL" "$RSS_BULK"
rss_row "after a restart with $NVOL volumes" "$RSS_RESTART"
echo "(sampled every 10 ms in an untimed pass of the $CLIENTS-client runs; threads then: up to $THREADS_LOAD)"

if ((${#ERR_NOTES[@]})); then
	echo
	echo "Bad replies (the first of each run shown):"
	printf '  %s\n' "${ERR_NOTES[@]}"
fi

if [[ -n ${IDLE:-} ]]; then
	echo
	echo "5. tests/bench/plugin-idle.sh: Get by one client while $IDLE idle connections are held"
	echo
	IDLE=$IDLE CLIENTS=1 RUNS=$RUNS CVOL_PLUGIN=$CVOL_PLUGIN PLUGIN_LOAD=$PLUGIN_LOAD "$TOP/tests/bench/plugin-idle.sh"
fi
