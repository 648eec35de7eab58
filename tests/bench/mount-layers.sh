#!/bin/bash
# Benchmark (not a test): the issue's target, whole processes. At N = 1, 16 and 64 lower
# layers on a disk-backed fs (a 512M ext4 loop image), one "pair" is
#   cvol-mount --lower ... --upper U --work W M   then   cvol-mount --umount M
# against
#   mount -t overlay -o lowerdir=...,upperdir=U,workdir=W overlay M   then   umount M
# (util-linux), on the same layers, upper and work dir. Pairs of the two tools alternate
# (cvol first in even repetitions, mount first in odd ones, after one untimed warm-up pair of
# each); the table shows the median pair of each tool, their ratio and whether it meets the
# target, cvol/mount <= 0.9. Then, for information: the largest N mount(8) can take (its
# option string must fit one page) and cvol-mount alone at 500 layers.
#
#   sudo tests/bench/mount-layers.sh                    # REPS=31 by default
#   REPS=5 BENCH_EXTRA=0 tests/bench/mount-layers.sh    # a smoke run: the target table only
#
# Environment:
#   REPS             timed pairs per tool and N (default 31)
#   BENCH_NS         the Ns of the target table (default "1 16 64")
#   BENCH_EXTRA      1 (default): also the largest N of mount(8) and 500 layers; 0: not
#   BENCH_FS         ext4 (default: a 512M loop-mounted image, like a real backing fs) or tmpfs
#   CVOL_MOUNT       the cvol-mount binary (default: ./cvol-mount at the top of the tree)
#   CVOL_PROBE_CACHE off: cvol-mount probes the backing fs on every mount (default: the
#                    cache, warm after the warm-up pair, as on any host after its first mount)
#
# Everything happens in a private mount namespace, with a private tmpfs on /run (cvol's
# probe cache and libmount's utab go there, not to the host's), on a scratch fs inside a
# mktemp dir under /tmp; the trap unmounts it, detaches its loop device and removes the dir.
# Times are wall clock around fork+exec+wait of each command, taken by a tiny C helper with
# CLOCK_MONOTONIC when cc is there, else by bash's $EPOCHREALTIME; a pair is the sum of its
# two commands. Checking the mount and resetting the upper and work dirs are not timed.
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=mount-layers
. "$TOP/tests/bench/lib.sh"
bench_enter "it mounts overlays and a loop device" "$@"

REPS=${REPS:-31}
BENCH_NS=${BENCH_NS:-1 16 64}
BENCH_EXTRA=${BENCH_EXTRA:-1}
BENCH_FS=${BENCH_FS:-ext4}
TARGET=0.9 # cvol/mount at every N of the target table
CVOL_MOUNT=${CVOL_MOUNT:-$TOP/cvol-mount}
MOUNT=$(command -v mount)
UMOUNT=$(command -v umount)
MAX_LOWERS=500     # the kernel's OVL_MAX_STACK and cvol-mount's limit
PAGE_OPTS_MAX=4095 # mount(2) copies one page of options; the string needs its NUL
LONG_PATH_MIN=200  # bytes per lower path in the long-path set

[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "mount-layers: REPS must be a positive number" >&2; exit 1; }
[[ $BENCH_NS =~ ^[0-9\ ]+$ ]] || { echo "mount-layers: BENCH_NS must be numbers" >&2; exit 1; }
[[ -x $CVOL_MOUNT ]] || { echo "mount-layers: $CVOL_MOUNT not found; run make first" >&2; exit 1; }

# ---- scratch area, cleaned up on exit ---------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0 RUN_MOUNTED=0
M="" # the merged dir, set once the scratch fs is up

cleanup() {
	local rc=$?
	trap - ERR
	set +e
	if [[ -n $M ]] && mountpoint -q "$M"; then "$UMOUNT" "$M"; fi
	if [[ $SCRATCH_MOUNTED == 1 ]]; then "$UMOUNT" "$D"; fi
	if [[ $RUN_MOUNTED == 1 ]]; then "$UMOUNT" /run; fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "mount-layers: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM


# This namespace's own /run: the probe cache and utab of these mounts stay off the host.
"$MOUNT" -t tmpfs -o size=16m,mode=0755 cvol-bench-run /run
RUN_MOUNTED=1

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

# Long set (BENCH_EXTRA only): $S/<one long name>/1 .. /500, every path at least
# LONG_PATH_MIN bytes. (All 500 joined by ':' must stay below the kernel's 128 KiB limit on
# one argv string.)
LONG=()
if [[ $BENCH_EXTRA == 1 ]]; then
	pad_len=$((LONG_PATH_MIN - ${#S} - 3)) # "/" + name + "/1"
	printf -v LONGDIR '%*s' "$pad_len" ''
	LONGDIR=$S/${LONGDIR// /x}
	mkdir "$LONGDIR"
	mkdir "$LONGDIR"/{1..500}
	for ((i = 1; i <= MAX_LOWERS; i++)); do
		echo "$i" >"$LONGDIR/$i/f$i"
		LONG+=("$LONGDIR/$i")
	done
	((${#LONG[0]} >= LONG_PATH_MIN)) || die "long lower path is only ${#LONG[0]} bytes"
fi

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

cvol_umount_cmd() { CMD=("$CVOL_MOUNT" --umount "$M"); }
mount_umount_cmd() { CMD=("$UMOUNT" "$M"); }

# run_pair TOOL SET N: one timed mount and one timed unmount by TOOL, the mount checked in
# between; appends the ns of the pair to PAIR, of the mount to MNT and of the unmount to UMNT.
run_pair() {
	local tool=$1 set=$2 n=$3 m_ns u_ns
	"${tool}_cmd" "$set" "$n"
	reset_upper_work
	if ! m_ns=$(timed "${CMD[@]}"); then
		die "$tool with N=$n failed: $(<"$S/err")
  command: ${CMD[*]:0:3} ... (${#LOWERS} bytes of lowers)"
	fi
	check_mounted "$set" "$n" || die "$tool with N=$n exited 0 but $M does not show layers 1 and $n"
	"${tool}_umount_cmd"
	u_ns=$(timed "${CMD[@]}") || die "$tool: unmount after N=$n failed: $(<"$S/err")"
	! mountpoint -q "$M" || die "$tool: ${CMD[*]} exited 0 but $M is still mounted"
	PAIR+=($((m_ns + u_ns))) MNT+=("$m_ns") UMNT+=("$u_ns")
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

N_MAX="" N_CALC="" OPTS_AT_MAX="" REFUSAL=""
largest_mount_n() {
	# The computed answer: lowerdir=...,upperdir=U,workdir=W within one page.
	local fixed_opts="lowerdir=,upperdir=$U,workdir=$W" len i
	len=${#fixed_opts} N_CALC=0
	for ((i = 0; i < MAX_LOWERS; i++)); do
		len=$((len + ${#SHORT[i]} + (i > 0)))
		((len <= PAGE_OPTS_MAX)) || break
		N_CALC=$((i + 1))
	done

	# Confirmed with real mounts: step down from the computed N until mount(8) takes it
	# (it should at once), and record how it refuses one layer more.
	N_MAX=$N_CALC
	while ((N_MAX > 0)) && ! mount_takes "$N_MAX"; do N_MAX=$((N_MAX - 1)); done
	((N_MAX > 0)) || die "util-linux mount cannot mount even one layer: $(<"$S/err")"
	mount_cmd SHORT "$N_MAX"
	OPTS_AT_MAX=${#OPTS}
	REFUSAL="(not tried: $MAX_LOWERS layers)"
	local klines said
	while ((N_MAX < MAX_LOWERS)); do
		klines=$(dmesg 2>/dev/null | wc -l || echo 0)
		if mount_takes $((N_MAX + 1)); then
			N_MAX=$((N_MAX + 1)) # the computation was too strict
			mount_cmd SHORT "$N_MAX"
			OPTS_AT_MAX=${#OPTS}
			continue
		fi
		mount_cmd SHORT $((N_MAX + 1))
		REFUSAL="N=$((N_MAX + 1)) (${#OPTS} bytes): $(head -n1 "$S/err")"
		# The kernel cut the string at the page, so its complaint is about what was left.
		said=$(dmesg 2>/dev/null | tail -n +$((klines + 1)) | grep -m1 'overlayfs:' || true)
		[[ -z $said ]] || REFUSAL+=$'\n  kernel: '"${said#*overlayfs: }"
		break
	done
}

mount_takes() { # N
	mount_cmd SHORT "$1"
	reset_upper_work
	"${CMD[@]}" >/dev/null 2>"$S/err" || return 1
	check_mounted SHORT "$1" || die "mount(8) with N=$1 exited 0 but the layers are not visible"
	"$UMOUNT" "$M"
}

# ---- header ------------------------------------------------------------------------

CHECK=$("$CVOL_MOUNT" --check "$S" --json 2>&1) || true
API=$(jq -r '.kernel.mount_api // "unknown"' <<<"$CHECK" 2>/dev/null) ||
	API="unknown: \`cvol-mount --check $S --json\` said: ${CHECK:-nothing}"
FSTYPE=$(findmnt -n -o FSTYPE --target "$S")
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
if [[ ${CVOL_PROBE_CACHE-} == off ]]; then
	PROBE="off: cvol-mount probes the backing fs on every mount (CVOL_PROBE_CACHE=off)"
else
	PROBE="on (${CVOL_PROBE_CACHE:-/run/cvol/probe}, warm after the warm-up pair)"
fi

echo "cvol-mount vs util-linux mount: overlay mount + unmount, whole processes, by lower layers"
echo
printf '%-22s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol-mount:" "$("$CVOL_MOUNT" --version | sed 's/^cvol-mount //') ($CVOL_MOUNT, $(ldd "$CVOL_MOUNT" | wc -l) ldd lines)" \
	"cvol-mount mount API:" "$API" \
	"cvol probe cache:" "$PROBE" \
	"util-linux mount:" "$("$MOUNT" --version | head -n1 | sed 's/^mount from //') ($(ldd "$MOUNT" | wc -l) ldd lines)" \
	"backing fs:" "$FSTYPE${LOOP:+ (512M loop image)}" \
	"cpu:" "${CPU:-unknown} x $(nproc)" \
	"repetitions:" "$REPS pairs per tool and N (after 1 untimed warm-up pair each), alternating" \
	"timer:" "$TIMER"
echo

# ---- the target: cvol-mount + cvol-mount --umount vs mount + umount --------------------

# PAIRS TOOL_A TOOL_B SET N: REPS alternating pairs of each; sets A_* and B_* (median ms).
pairs() {
	local a=$1 b=$2 set=$3 n=$4 r
	local -a a_pair a_m a_u b_pair b_m b_u
	PAIR=() MNT=() UMNT=()
	run_pair "$a" "$set" "$n" # warm-ups, dropped
	run_pair "$b" "$set" "$n"
	for ((r = 0; r < REPS; r++)); do
		local first=$a second=$b
		((r % 2 == 0)) || first=$b second=$a
		PAIR=() MNT=() UMNT=()
		run_pair "$first" "$set" "$n"
		run_pair "$second" "$set" "$n"
		if [[ $first == "$a" ]]; then
			a_pair+=("${PAIR[0]}") a_m+=("${MNT[0]}") a_u+=("${UMNT[0]}")
			b_pair+=("${PAIR[1]}") b_m+=("${MNT[1]}") b_u+=("${UMNT[1]}")
		else
			b_pair+=("${PAIR[0]}") b_m+=("${MNT[0]}") b_u+=("${UMNT[0]}")
			a_pair+=("${PAIR[1]}") a_m+=("${MNT[1]}") a_u+=("${UMNT[1]}")
		fi
	done
	read -r A_PAIR A_PAIR90 < <(stats "${a_pair[@]}")
	read -r A_M _ < <(stats "${a_m[@]}")
	read -r A_U _ < <(stats "${a_u[@]}")
	read -r B_PAIR B_PAIR90 < <(stats "${b_pair[@]}")
	read -r B_M _ < <(stats "${b_m[@]}")
	read -r B_U _ < <(stats "${b_u[@]}")
}

echo "Target: cvol/mount <= $TARGET at every N (median of $REPS pairs; a pair = mount + unmount)"
echo
printf '%4s  %14s  %14s  %10s  %6s    %-21s  %-21s\n' "N" "cvol pair ms" "mount pair ms" "cvol/mount" "met" \
	"cvol: mount + umount" "mount: mount + umount"
printf '%4s  %14s  %14s  %10s  %6s    %-21s  %-21s\n' "----" "--------------" "--------------" "----------" "------" \
	"---------------------" "---------------------"
ALL_MET=yes
for n in $BENCH_NS; do
	((n >= 1 && n <= MAX_LOWERS)) || die "BENCH_NS: $n is not between 1 and $MAX_LOWERS"
	pairs cvol mount SHORT "$n"
	ratio=$(awk -v a="$A_PAIR" -v b="$B_PAIR" 'BEGIN { printf "%.2f", a / b }')
	met=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN { print (r <= t) ? "yes" : "no" }')
	[[ $met == yes ]] || ALL_MET=no
	printf '%4s  %14s  %14s  %10s  %6s    %-21s  %-21s\n' "$n" "$A_PAIR" "$B_PAIR" "$ratio" "$met" \
		"$A_M + $A_U" "$B_M + $B_U"
done
echo
echo "Target met at every N: $ALL_MET (REPS=$REPS; a smoke run with few REPS says little)"

[[ $BENCH_EXTRA == 1 ]] || exit 0
echo

# ---- for information: the largest N of mount(8), and 500 layers -----------------------

largest_mount_n
echo "Largest N util-linux mount takes with lower paths like ${SHORT[MAX_LOWERS - 1]}"
echo "(${#SHORT[MAX_LOWERS - 1]} bytes): computed $N_CALC, confirmed by mounting: $N_MAX"
echo "(option string $OPTS_AT_MAX of $PAGE_OPTS_MAX bytes)."
echo "One more refused: $REFUSAL"
echo
pairs cvol mount SHORT "$N_MAX"
printf 'At N=%s: cvol pair %s ms, mount pair %s ms, cvol/mount %s\n' "$N_MAX" "$A_PAIR" "$B_PAIR" \
	"$(awk -v a="$A_PAIR" -v b="$B_PAIR" 'BEGIN { printf "%.2f", a / b }')"
echo

echo "cvol-mount alone, N=$MAX_LOWERS (util-linux mount cannot take these), mount + unmount:"
echo
printf '%-34s  %14s  %10s  %10s\n' "lower paths" "pair median ms" "p90 ms" "mount ms"
printf '%-34s  %14s  %10s  %10s\n' "----------------------------------" "--------------" "----------" "----------"
for set in SHORT LONG; do
	declare -n paths=$set
	PAIR=() MNT=() UMNT=()
	run_pair cvol "$set" "$MAX_LOWERS" # warm-up
	PAIR=() MNT=() UMNT=()
	for ((r = 0; r < REPS; r++)); do run_pair cvol "$set" "$MAX_LOWERS"; done
	lowers_of "$set" "$MAX_LOWERS"
	read -r med p90 < <(stats "${PAIR[@]}")
	read -r m_med _ < <(stats "${MNT[@]}")
	label="$(printf '%s' "${#paths[0]}-${#paths[MAX_LOWERS - 1]}") bytes each (${#LOWERS} total)"
	printf '%-34s  %14s  %10s  %10s\n' "$label" "$med" "$p90" "$m_med"
	unset -n paths
done
