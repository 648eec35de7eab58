#!/bin/bash
# Benchmark (not a test): how long it takes to mount an overlay with N lower layers,
# cvol-mount (fsopen + lowerdir+, layers by fd) against util-linux mount(8), whose
# mount(2) option string must fit in one page (4096 bytes, NUL included).
#
#   sudo tests/bench/mount-layers.sh          # REPS=31 by default
#   REPS=101 BENCH_FS=tmpfs tests/bench/mount-layers.sh
#
# Environment:
#   REPS        timed repetitions per tool and N (default 31)
#   BENCH_FS    ext4 (default: a 512M loop-mounted image, like a real backing fs) or tmpfs
#   CVOL_MOUNT  the cvol-mount binary (default: ./cvol-mount at the top of the tree)
#
# Everything happens in a private mount namespace on a scratch fs inside a mktemp dir
# under /tmp; the trap unmounts it, detaches its loop device and removes the dir.
# Times are wall clock around fork+exec+wait of each command (both tools pay the same
# exec overhead), taken by a tiny C helper with CLOCK_MONOTONIC when cc is there, else
# by bash's $EPOCHREALTIME. Unmounting and resetting the upper and work dirs between
# runs is not timed.
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=mount-layers
. "$TOP/tests/bench/lib.sh"
bench_enter "it mounts overlays and a loop device" "$@"

REPS=${REPS:-31}
BENCH_FS=${BENCH_FS:-ext4}
CVOL_MOUNT=${CVOL_MOUNT:-$TOP/cvol-mount}
MOUNT=$(command -v mount)
UMOUNT=$(command -v umount)
MAX_LOWERS=500     # the kernel's OVL_MAX_STACK and cvol-mount's limit
PAGE_OPTS_MAX=4095 # mount(2) copies one page of options; the string needs its NUL
LONG_PATH_MIN=200  # bytes per lower path in the long-path set

[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "mount-layers: REPS must be a positive number" >&2; exit 1; }
[[ -x $CVOL_MOUNT ]] || { echo "mount-layers: $CVOL_MOUNT not found; run make first" >&2; exit 1; }

# ---- scratch area, cleaned up on exit ---------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0
M="" # the merged dir, set once the scratch fs is up

cleanup() {
	local rc=$?
	trap - ERR
	set +e
	if [[ -n $M ]] && mountpoint -q "$M"; then "$UMOUNT" "$M"; fi
	if [[ $SCRATCH_MOUNTED == 1 ]]; then "$UMOUNT" "$D"; fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "mount-layers: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM


# A short template: every byte of the lower paths counts against mount(8)'s page.
D=$(mktemp -d /tmp/cvb.XXXXXX)
case $BENCH_FS in
ext4)
	# The image lives in D and the fs is mounted over D itself, so paths stay short;
	# the loop device keeps the (now hidden) image open. Inode tables and the journal
	# are written now, so no ext4lazyinit runs in the background during the timings.
	truncate -s 512M "$D/fs.img"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$D/fs.img"
	LOOP=$(losetup --find --show "$D/fs.img")
	"$MOUNT" -t ext4 "$LOOP" "$D"
	SCRATCH_MOUNTED=1
	;;
tmpfs)
	"$MOUNT" -t tmpfs -o size=512m,mode=0700 cvol-bench "$D"
	SCRATCH_MOUNTED=1
	;;
*) die "BENCH_FS must be ext4 or tmpfs, not '$BENCH_FS'" ;;
esac
S=$D
U=$S/u W=$S/w M=$S/m
mkdir "$M" "$S/l" "$S/bin"

# ---- the timer -----------------------------------------------------------------------

# timed CMD...: run CMD, print its wall time in ns on stdout, CMD's stderr to $S/err,
# its stdout to /dev/null; returns CMD's status.
if command -v cc >/dev/null && cc -O2 -o "$S/bin/timeit" -x c - <<'EOF'; then
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* timeit CMD...: run CMD, write its wall time in ns to fd 3, exit with its status. */
int main(int argc, char **argv)
{
	struct timespec a, b;
	int status;

	if (argc < 2 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &b);
	dprintf(3, "%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
EOF
	TIMER="clock_gettime(CLOCK_MONOTONIC) around fork+exec+wait (C helper)"
	timed() { "$S/bin/timeit" "$@" 3>&1 >/dev/null 2>"$S/err"; }
else
	TIMER="bash \$EPOCHREALTIME around the command (us resolution)"
	timed() {
		local t0 t1 rc=0
		t0=${EPOCHREALTIME/./}
		"$@" >/dev/null 2>"$S/err" || rc=$?
		t1=${EPOCHREALTIME/./}
		echo $(((10#$t1 - 10#$t0) * 1000))
		return "$rc"
	}
fi

# ---- layers ------------------------------------------------------------------------

# Short set: $S/l/1 .. $S/l/500, each holding f<i>. Listed top first, so l/N is the bottom.
SHORT=()
mkdir "$S"/l/{1..500}
for ((i = 1; i <= MAX_LOWERS; i++)); do
	echo "$i" >"$S/l/$i/f$i"
	SHORT+=("$S/l/$i")
done

# Long set: $S/<one long name>/1 .. /500, every path at least LONG_PATH_MIN bytes.
# (All 500 joined by ':' must stay below the kernel's 128 KiB limit on one argv string.)
pad_len=$((LONG_PATH_MIN - ${#S} - 3)) # "/" + name + "/1"
printf -v LONGDIR '%*s' "$pad_len" ''
LONGDIR=$S/${LONGDIR// /x}
LONG=()
mkdir "$LONGDIR"
mkdir "$LONGDIR"/{1..500}
for ((i = 1; i <= MAX_LOWERS; i++)); do
	echo "$i" >"$LONGDIR/$i/f$i"
	LONG+=("$LONGDIR/$i")
done
((${#LONG[0]} >= LONG_PATH_MIN)) || die "long lower path is only ${#LONG[0]} bytes"

# lowers_of SET N: the first N paths of SET joined by ':' (into $LOWERS).
lowers_of() {
	local -n set=$1
	local IFS=:
	LOWERS="${set[*]:0:$2}"
}

reset_upper_work() {
	rm -rf -- "$U" "$W"
	mkdir "$U" "$W"
}

# check_mounted SET N: the merged dir shows the top and the bottom layer's files.
check_mounted() {
	local -n set=$1
	local n=$2 top bottom
	mountpoint -q "$M" || return 1
	read -r top <"$M/f1" || return 1
	read -r bottom <"$M/f$n" || return 1
	[[ $top == 1 && $bottom == "$n" && ${set[n - 1]} == */"$n" ]]
}

cvol_cmd() { # SET N
	lowers_of "$1" "$2"
	CMD=("$CVOL_MOUNT" --lower "$LOWERS" --upper "$U" --work "$W" "$M")
}

mount_cmd() { # SET N
	lowers_of "$1" "$2"
	OPTS="lowerdir=$LOWERS,upperdir=$U,workdir=$W"
	CMD=("$MOUNT" -t overlay overlay -o "$OPTS" "$M")
}

# run_once TOOL SET N: one timed mount (ns appended to SAMPLES), checked, unmounted.
run_once() {
	local tool=$1 set=$2 n=$3 ns
	"${tool}_cmd" "$set" "$n"
	reset_upper_work
	if ! ns=$(timed "${CMD[@]}"); then
		die "$tool with N=$n failed: $(<"$S/err")
  command: ${CMD[*]:0:3} ... (${#LOWERS} bytes of lowers)"
	fi
	check_mounted "$set" "$n" || die "$tool with N=$n exited 0 but $M does not show layers 1 and $n"
	"$UMOUNT" "$M"
	SAMPLES+=("$ns")
}

# stats NS...: "median p90" in ms (p90 by nearest rank).
stats() {
	printf '%s\n' "$@" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			r = int(0.9 * NR); if (r < 0.9 * NR) r++
			printf "%.3f %.3f\n", med / 1e6, v[r] / 1e6
		}'
}

# ---- the largest N util-linux mount takes ---------------------------------------------

# The computed answer: lowerdir=...,upperdir=U,workdir=W within one page.
fixed_opts="lowerdir=,upperdir=$U,workdir=$W"
fixed=${#fixed_opts}
len=$fixed N_CALC=0
for ((i = 0; i < MAX_LOWERS; i++)); do
	len=$((len + ${#SHORT[i]} + (i > 0)))
	((len <= PAGE_OPTS_MAX)) || break
	N_CALC=$((i + 1))
done

# Confirmed with real mounts: step down from the computed N until mount(8) takes it
# (it should at once), and record how it refuses one layer more.
mount_takes() { # N
	mount_cmd SHORT "$1"
	reset_upper_work
	"${CMD[@]}" >/dev/null 2>"$S/err" || return 1
	check_mounted SHORT "$1" || die "mount(8) with N=$1 exited 0 but the layers are not visible"
	"$UMOUNT" "$M"
}
N_MAX=$N_CALC
while ((N_MAX > 0)) && ! mount_takes "$N_MAX"; do N_MAX=$((N_MAX - 1)); done
((N_MAX > 0)) || die "util-linux mount cannot mount even one layer: $(<"$S/err")"
mount_cmd SHORT "$N_MAX"
OPTS_AT_MAX=${#OPTS}
REFUSAL="(not tried: $MAX_LOWERS layers)"
while ((N_MAX < MAX_LOWERS)); do
	KLINES=$(dmesg 2>/dev/null | wc -l || echo 0)
	if mount_takes $((N_MAX + 1)); then
		N_MAX=$((N_MAX + 1)) # the computation was too strict
		mount_cmd SHORT "$N_MAX"
		OPTS_AT_MAX=${#OPTS}
		continue
	fi
	mount_cmd SHORT $((N_MAX + 1))
	REFUSAL="N=$((N_MAX + 1)) (${#OPTS} bytes): $(head -n1 "$S/err")"
	# The kernel cut the string at the page, so its complaint is about what was left.
	KERNEL_SAID=$(dmesg 2>/dev/null | tail -n +$((KLINES + 1)) | grep -m1 'overlayfs:' || true)
	[[ -z $KERNEL_SAID ]] || REFUSAL+=$'\n  kernel: '"${KERNEL_SAID#*overlayfs: }"
	break
done

# ---- header ------------------------------------------------------------------------

CHECK=$("$CVOL_MOUNT" --check "$S" --json 2>&1) || true
API=$(jq -r '.kernel.mount_api // "unknown"' <<<"$CHECK" 2>/dev/null) ||
	API="unknown: \`cvol-mount --check $S --json\` said: ${CHECK:-nothing}"
FSTYPE=$(findmnt -n -o FSTYPE --target "$S")
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)

echo "cvol-mount vs util-linux mount: overlay mount time by number of lower layers"
echo
printf '%-22s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol-mount:" "$("$CVOL_MOUNT" --version | sed 's/^cvol-mount //') ($CVOL_MOUNT)" \
	"cvol-mount mount API:" "$API" \
	"util-linux mount:" "$("$MOUNT" --version | head -n1 | sed 's/^mount from //')" \
	"backing fs:" "$FSTYPE${LOOP:+ (512M loop image)}" \
	"cpu:" "${CPU:-unknown} x $(nproc)" \
	"repetitions:" "$REPS per tool and N (after 1 untimed warm-up), interleaved" \
	"timer:" "$TIMER"
echo
echo "Largest N util-linux mount takes with lower paths like ${SHORT[MAX_LOWERS - 1]}"
echo "(${#SHORT[MAX_LOWERS - 1]} bytes): computed $N_CALC, confirmed by mounting: $N_MAX"
echo "(option string $OPTS_AT_MAX of $PAGE_OPTS_MAX bytes)."
echo "One more refused: $REFUSAL"
echo

# ---- cvol-mount vs mount ----------------------------------------------------------

# 1, 16, 64 and N_MAX, without duplicates, in order.
mapfile -t NS < <(printf '%s\n' 1 16 64 "$N_MAX" | awk '$1 <= '"$N_MAX"' && !seen[$1]++' | sort -n)

printf '%6s  %18s  %18s  %14s\n' "N" "cvol-mount med ms" "mount med ms" "cvol/mount"
printf '%6s  %18s  %18s  %14s\n' "------" "------------------" "------------------" "--------------"
for n in "${NS[@]}"; do
	SAMPLES=()
	run_once cvol SHORT "$n" # warm-up, dropped
	run_once mount SHORT "$n"
	A=() B=()
	for ((r = 0; r < REPS; r++)); do
		SAMPLES=()
		run_once cvol SHORT "$n"
		run_once mount SHORT "$n"
		A+=("${SAMPLES[0]}") B+=("${SAMPLES[1]}")
	done
	read -r a_med _ < <(stats "${A[@]}")
	read -r b_med _ < <(stats "${B[@]}")
	ratio=$(awk -v a="$a_med" -v b="$b_med" 'BEGIN { printf "%.2f", a / b }')
	printf '%6s  %18s  %18s  %14s\n' "$n" "$a_med" "$b_med" "$ratio"
done
echo "(cvol/mount below 1: cvol-mount is faster)"
echo

# ---- cvol-mount alone at 500 layers ----------------------------------------------------

echo "cvol-mount alone, N=$MAX_LOWERS (util-linux mount cannot take these):"
echo
printf '%-34s  %10s  %10s\n' "lower paths" "median ms" "p90 ms"
printf '%-34s  %10s  %10s\n' "----------------------------------" "----------" "----------"
for set in SHORT LONG; do
	declare -n paths=$set
	SAMPLES=()
	run_once cvol "$set" "$MAX_LOWERS" # warm-up
	SAMPLES=()
	for ((r = 0; r < REPS; r++)); do run_once cvol "$set" "$MAX_LOWERS"; done
	lowers_of "$set" "$MAX_LOWERS"
	read -r med p90 < <(stats "${SAMPLES[@]}")
	label="$(printf '%s' "${#paths[0]}-${#paths[MAX_LOWERS - 1]}") bytes each (${#LOWERS} total)"
	printf '%-34s  %10s  %10s\n' "$label" "$med" "$p90"
	unset -n paths
done
