#!/bin/bash
# Benchmark (not a test): a well-behaved client of cvol-plugin while others hold idle
# connections. Get on the socket, CLIENTS client(s) with one keep-alive connection each,
# without and then with IDLE silent connections held open during the run (opened before
# the client connects, so the plugin's "close the one waiting longest" closes them, not
# the client's). Reports p50/p99/max of Get and the plugin's threads and resident memory.
#
#   sudo tests/bench/plugin-idle.sh            # IDLE=1000 REQUESTS=2000 RUNS=3
#   IDLE=1000 sudo tests/bench/plugin.sh       # the same, after the plugin benchmark
#
# Environment:
#   IDLE       silent connections (default 1000)
#   REQUESTS   timed Gets per client and run (default 2000)
#   CLIENTS    well-behaved clients (default 1)
#   RUNS       runs of each line; medians are reported (default 3)
#   CVOL_PLUGIN, PLUGIN_LOAD   the binaries (default: the tree's; make bench builds both)
#
# The plugin's store and socket live on a tmpfs over a mktemp dir under /tmp, in a private
# mount namespace; the trap stops the plugin by its pid and removes the dir.
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=plugin-idle-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it mounts a tmpfs" "$@"

IDLE=${IDLE:-1000}
REQUESTS=${REQUESTS:-2000}
CLIENTS=${CLIENTS:-1}
RUNS=${RUNS:-3}
CVOL_PLUGIN=${CVOL_PLUGIN:-$TOP/cvol-plugin}
PLUGIN_LOAD=${PLUGIN_LOAD:-$TOP/build/bench/plugin-load}
T_P99_US=1000 # p99 of Get with IDLE idle connections, below

for v in IDLE REQUESTS CLIENTS RUNS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
for b in "$CVOL_PLUGIN" "$PLUGIN_LOAD"; do
	[[ -x $b ]] || die "$b not found; run make bench (or make && make build/bench/plugin-load)"
done

D="" MOUNTED=0 PLUGIN_PID="" SAMPLER_PID="" HELD=0
cleanup() {
	local rc=$?
	set +e
	[[ -z $SAMPLER_PID ]] || stop_pid "$SAMPLER_PID" 1
	[[ -z $PLUGIN_PID ]] || stop_pid "$PLUGIN_PID" 10
	[[ $MOUNTED == 0 ]] || umount "$D"
	[[ -z $D ]] || rm -rf -- "$D"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

D=$(mktemp -d /tmp/cvpi.XXXXXX)
mount -t tmpfs -o size=64m,mode=0700 cvol-bench-idle "$D"
MOUNTED=1
SOCK=$D/p.sock
"$CVOL_PLUGIN" --root "$D/root" --socket "$SOCK" >>"$D/plugin.log" 2>&1 &
PLUGIN_PID=$!
wait_for 30 test -S "$SOCK" || die "cvol-plugin did not create $SOCK: $(tail -n3 "$D/plugin.log")"
"$PLUGIN_LOAD" --socket "$SOCK" --requests 1 --endpoint Create --body '{"Name":"v"}' >/dev/null ||
	die "Create failed: $(tail -n3 "$D/plugin.log")"

# sampler: the largest VmRSS and Threads of the plugin while $D/sampling exists, into $D/sampled.
sampler() {
	local rss=0 threads=0 k v _
	while [[ -e $D/sampling ]]; do
		while read -r k v _; do
			case $k in
			VmRSS:) ((v > rss)) && rss=$v ;;
			Threads:) ((v > threads)) && threads=$v ;;
			esac
		done <"/proc/$PLUGIN_PID/status"
		sleep 0.05
	done
	echo "$rss $threads" >"$D/sampled"
}

# line IDLE: RUNS runs of Get with IDLE idle connections; medians into R (p50 p99 max errors/total rss threads).
line() {
	local idle=$1 out kv k v p50=() p99=() mx=() errs=0 total=0 i args=()
	((idle == 0)) || args=(--idle "$idle")
	touch "$D/sampling"
	sampler &
	SAMPLER_PID=$!
	for ((i = 0; i < RUNS; i++)); do
		out=$("$PLUGIN_LOAD" --socket "$SOCK" --clients "$CLIENTS" --requests "$REQUESTS" \
			--warmup $((REQUESTS / 10)) --endpoint Get --body '{"Name":"v"}' "${args[@]}" 2>"$D/err") || true
		[[ $out == endpoint=* ]] || die "plugin-load with $idle idle connections: $(<"$D/err")"
		declare -A L=()
		for kv in $out; do k=${kv%%=*} v=${kv#*=} L[$k]=$v; done
		HELD=${L[idle_open]:-0}
		p50+=("${L[p50_us]}") p99+=("${L[p99_us]}") mx+=("${L[max_us]}")
		errs=$((errs + L[errors])) total=$((total + L[requests]))
	done
	rm "$D/sampling"
	wait "$SAMPLER_PID"
	SAMPLER_PID=""
	R="$(median "${p50[@]}") $(median "${p99[@]}") $(median "${mx[@]}") $errs/$total $(<"$D/sampled")"
}

line 0
BASE=$R
line "$IDLE"
LOADED=$R

echo "cvol-plugin: Get by $CLIENTS well-behaved client(s) while others hold idle connections"
echo
printf '%-13s %s\n' "kernel:" "$(uname -r)" \
	"cpu:" "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)" \
	"store:" "tmpfs; $REQUESTS Gets per client and run after $((REQUESTS / 10)) untimed, $RUNS runs, medians"
echo
ROW='%-28s  %8s  %8s  %8s  %11s  %8s  %7s  %7s  %s\n'
printf "$ROW" "idle connections held" "p50 us" "p99 us" "max us" "bad/total" "RSS MiB" "threads" "target" ""
printf "$ROW" "----------------------------" "--------" "--------" "--------" "-----------" "--------" "-------" \
	"-------" "----"
for r in "0:$BASE" "$IDLE:$LOADED"; do
	read -r p50 p99 mx bad rss threads <<<"${r#*:}"
	target="" ok=""
	if [[ ${r%%:*} != 0 ]]; then
		target="p99<1ms" ok=MISS
		awk -v a="$p99" -v b="$T_P99_US" 'BEGIN { exit !(a < b) }' && [[ ${bad%/*} == 0 ]] && ok=ok
	fi
	printf "$ROW" "${r%%:*}" "$p50" "$p99" "$mx" "$bad" "$(fmt "$rss / 1024" 1)" "$threads" "$target" "$ok"
done
echo "(threads and RSS: the largest sample, every 50 ms. Of the $IDLE idle connections the plugin kept"
echo " $HELD open and closed the others to make room; the timed run starts once it has settled)"
