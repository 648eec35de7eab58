#!/bin/bash
# Benchmark (not a test): removing a big tree. `cvol volume rm` of a volume holding many
# empty files, and of one holding a very deep directory chain, against `rm -rf` of the
# same tree (what a user would run instead; GNU rm handles any depth), and `cvol layer
# rm` of a layer whose diff holds the deep chain. Wall time and peak resident memory.
#
#   sudo tests/bench/remove.sh                # REPS=5 by default
#   REPS=9 FILES=200000 DEPTH=20000 tests/bench/remove.sh
#
# In one run, REPS interleaved repetitions of:
#   (a) cvol volume rm V      V holds FILES empty files in DIRS dirs (one level)
#   (b) rm -rf DIR            DIR holds the same
#   (c) cvol volume rm V      V holds a chain of DEPTH directories, an empty file at the end
#   (d) rm -rf DIR            DIR holds the same chain
#   (e) cvol layer rm L       L's diff holds the same chain
#   (f) cvol volume rm V      V is empty     } what starting the command costs, in time
#   (g) rm -rf DIR            DIR is empty   } and memory: the baseline of the rows above
# Before each timed command, untimed: the volume or layer is created (cvol volume create,
# cvol layer create), the tree built in it by python3 (dir fds and relative names, so any
# depth works), and everything synced. Medians (and min-max) are printed, with the ratios
# cvol/rm of time and of peak RSS.
#
# Environment:
#   REPS      timed repetitions of each command (default 5)
#   FILES     empty files in the wide tree (default 100000), in DIRS dirs (default 100)
#   DEPTH     directories in the deep chain (default 10000)
#   CVOL      the cvol binary (default: ./cvol at the top of the tree)
#
# Everything happens in a private mount namespace inside a mktemp dir under /tmp: a 2G
# ext4 loop image (400,000 inodes) holds the cvol store and rm's trees. The trap unmounts,
# detaches the loop device and removes the dir.
#
# The caches are warm: each tree was just built, so its inodes and directories are in
# memory, for cvol and rm alike. One untimed warm-up of each command runs first. Times
# are wall clock, bash's $EPOCHREALTIME around fork+exec+wait of `/usr/bin/time -f %M
# CMD` (GNU time's fork+exec is in every row alike, about a millisecond; the empty rows
# show it); peak RSS is GNU time's %M (the command's maxrss, in KiB). Without
# /usr/bin/time the commands run bare and RSS is not reported.
# shellcheck disable=SC2059 # the table formats in $ROW are our own
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=remove-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it mounts a loop device" "$@"

REPS=${REPS:-5}
FILES=${FILES:-100000}
DIRS=${DIRS:-100}
DEPTH=${DEPTH:-10000}
CVOL=${CVOL:-$TOP/cvol}
RM=$(command -v rm)
GTIME=/usr/bin/time

for v in REPS FILES DIRS DEPTH; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
((FILES <= 350000)) || die "FILES must be at most 350000 (the scratch fs has 400,000 inodes)"
[[ -x $CVOL ]] || die "$CVOL not found; run make first"
command -v python3 >/dev/null || die "python3 not found (it builds the trees)"
HAVE_TIME=0
if [[ -x $GTIME ]] && "$GTIME" -f %M -o /dev/null true 2>/dev/null; then
	HAVE_TIME=1
else
	echo "remove-bench: $GTIME (GNU time) not found: peak RSS is not measured" >&2
fi

# ---- scratch area, cleaned up on exit ---------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0

cleanup() {
	local rc=$?
	trap - ERR
	set +e
	if [[ $SCRATCH_MOUNTED == 1 ]]; then
		umount "$D/run"
		umount "$D" || umount -l "$D"
	fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "remove-bench: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

D=$(mktemp -d /tmp/cvr.XXXXXX)
# The image lives in D and the fs is mounted over D itself; the loop device keeps the
# (now hidden) image open. Inode tables and journal are written now, so no ext4lazyinit
# runs in the background during the timings.
truncate -s 2G "$D/fs.img"
mkfs.ext4 -q -F -N 400000 -E lazy_itable_init=0,lazy_journal_init=0 "$D/fs.img"
LOOP=$(losetup --find --show "$D/fs.img")
mount -t ext4 "$LOOP" "$D"
SCRATCH_MOUNTED=1
X=$D/x     # rm's trees
CV=$D/cvol # the cvol store
mkdir "$D/run" "$X" "$CV"
mount -t tmpfs -o size=16m,mode=0700 cvol-bench-run "$D/run"
ERRF=$D/run/err RSSF=$D/run/rss

cvol() { "$CVOL" --root "$CV" "$@"; }

# ---- the trees -------------------------------------------------------------------------

# build wide|deep DIR: the tree in the existing, empty DIR. Wide: d000/f000000 ...,
# FILES empty files spread over DIRS dirs. Deep: d/d/d/... DEPTH dirs, then an empty
# file `leaf`, each level made relative to the fd of the one above (a path of DEPTH
# levels is far over PATH_MAX); one fd open at a time.
build() {
	python3 - "$1" "$2" "$FILES" "$DIRS" "$DEPTH" <<'PY'
import os, sys
kind, top, files, dirs, depth = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
if kind == "wide":
    for d in range(dirs):
        name = "d%03d" % d
        os.mkdir(name, dir_fd=fd)
        dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        for f in range(d * files // dirs, (d + 1) * files // dirs):
            os.close(os.open("f%06d" % f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd))
        os.close(dfd)
else:
    for i in range(depth):
        os.mkdir("d", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd))
os.close(fd)
PY
}

# count DIR: entries under DIR (not DIR itself), whatever the depth (find uses fts).
count() { find "$1" -mindepth 1 | wc -l; }

VOL_DATA=$CV/volumes/bench/_data
LAYER_DIFF=$CV/overlay/bench/diff

# ---- the commands -------------------------------------------------------------------

# timed CMD...: run CMD, its wall time in us into T_US, its peak RSS in KiB into T_RSS;
# its stderr in $ERRF.
timed() {
	local t0 t1
	T_RSS=""
	if [[ $HAVE_TIME == 1 ]]; then
		t0=${EPOCHREALTIME/./}
		"$GTIME" -f %M -o "$RSSF" "$@" >"$D/run/out" 2>"$ERRF" || return
		t1=${EPOCHREALTIME/./}
		T_RSS=$(tail -n1 "$RSSF")
		[[ $T_RSS =~ ^[0-9]+$ ]] || die "GNU time said \`$(<"$RSSF")\`"
	else
		t0=${EPOCHREALTIME/./}
		"$@" >"$D/run/out" 2>"$ERRF" || return
		t1=${EPOCHREALTIME/./}
	fi
	T_US=$((10#$t1 - 10#$t0))
}

# op_cmd OP: the timed command of OP into CMD.
op_cmd() {
	case $1 in
	cvol-wide | cvol-deep | cvol-empty) CMD=("$CVOL" --root "$CV" volume rm bench) ;;
	rm-wide | rm-deep | rm-empty) CMD=("$RM" -rf -- "$X/t") ;;
	layer-deep) CMD=("$CVOL" --root "$CV" layer rm bench) ;;
	esac
}

# Untimed, before OP: the volume, layer or dir, and the tree in it.
op_before() {
	case $1 in
	cvol-*) cvol volume create bench >/dev/null 2>"$ERRF" || die "volume create: $(<"$ERRF")" ;;
	rm-*) mkdir "$X/t" ;;
	layer-*) cvol layer create bench >/dev/null 2>"$ERRF" || die "layer create: $(<"$ERRF")" ;;
	esac
	local dir
	case $1 in
	cvol-*) dir=$VOL_DATA ;;
	rm-*) dir=$X/t ;;
	layer-*) dir=$LAYER_DIFF ;;
	esac
	case $1 in
	*-wide) build wide "$dir" ;;
	*-deep) build deep "$dir" ;;
	esac
}

# Once, in the warm-up: the tree is whole before, and gone after, with nothing left over.
check_before() {
	local dir want
	case $1 in
	cvol-*) dir=$VOL_DATA ;;
	rm-*) dir=$X/t ;;
	layer-*) dir=$LAYER_DIFF ;;
	esac
	case $1 in
	*-wide) want=$((FILES + DIRS)) ;;
	*-deep) want=$((DEPTH + 1)) ;;
	*-empty) want=0 ;;
	esac
	[[ $(count "$dir") == "$want" ]] || die "$1: the tree in $dir does not hold $want entries"
}
check_after() {
	local left=0
	case $1 in
	cvol-*) [[ ! -e $CV/volumes/bench ]] || die "$1: the volume is still there" ;;
	rm-*) [[ ! -e $X/t ]] || die "$1: $X/t is still there" ;;
	layer-*) [[ ! -e $CV/overlay/bench ]] || die "$1: the layer is still there" ;;
	esac
	local s
	for s in "$CV/volumes/.staging" "$CV/overlay/.staging"; do # each made on first use
		[[ ! -d $s ]] || left=$(find "$s" -mindepth 1 -maxdepth 1 | wc -l)
		[[ $left == 0 ]] || die "$1: $left entries left in $s"
	done
}

OPS=(cvol-wide rm-wide cvol-deep rm-deep layer-deep cvol-empty rm-empty)
declare -A SAMPLES=() RSS=()

# op_one OP [record] [check]: one timed OP after its untimed tree building, all synced.
op_one() {
	op_before "$1"
	[[ ${3:-} != check ]] || check_before "$1"
	sync
	op_cmd "$1"
	timed "${CMD[@]}" || die "$1: \`${CMD[*]}\` failed: $(<"$ERRF")"
	[[ ${2:-} != record ]] || SAMPLES[$1]+=" $T_US" RSS[$1]+=" $T_RSS"
	[[ ${3:-} != check ]] || check_after "$1"
	sync
}

# ---- warm-up and checks, then the timed runs -------------------------------------------

t0=${EPOCHREALTIME/./}
mkdir "$X/t"
build wide "$X/t"
t1=${EPOCHREALTIME/./}
"$RM" -rf -- "$X/t"
mkdir "$X/t"
build deep "$X/t"
t2=${EPOCHREALTIME/./}
"$RM" -rf -- "$X/t"
sync
BUILD_WIDE_S=$(awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
BUILD_DEEP_S=$(awk -v us=$((10#$t2 - 10#$t1)) 'BEGIN { printf "%.1f", us / 1e6 }')
for op in "${OPS[@]}"; do op_one "$op" "" check; done

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

# minmax DIV DIGITS N...: the smallest and largest N, each divided by DIV.
minmax() {
	local div=$1 dig=$2
	shift 2
	printf '%s\n' "$@" | sort -n | awk -v d="$div" -v g="$dig" '
		NR == 1 { a = $1 } { b = $1 } END { printf "%.*f-%.*f", g, a / d, g, b / d }'
}

declare -A MED=() MRSS=()
for op in "${OPS[@]}"; do
	# shellcheck disable=SC2086 # the samples are a list of numbers
	MED[$op]=$(median ${SAMPLES[$op]})
	# shellcheck disable=SC2086
	[[ $HAVE_TIME == 0 ]] || MRSS[$op]=$(median ${RSS[$op]})
done

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Removing a tree: cvol volume rm / cvol layer rm against rm -rf"
echo
printf '%-13s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol:" "$("$CVOL" --version | sed 's/^cvol //') ($CVOL)" \
	"rm:" "$("$RM" --version | head -n1) ($RM)" \
	"backing fs:" "ext4 on a 2G loop image (the cvol store and rm's trees), $(findmnt -no OPTIONS "$D")" \
	"cpu:" "${CPU:-unknown} x $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
	"wide tree:" "$FILES empty files in $DIRS dirs (python3: ${BUILD_WIDE_S}s to build)" \
	"deep tree:" "a chain of $DEPTH dirs, an empty file at the end (python3: ${BUILD_DEEP_S}s)" \
	"repetitions:" "$REPS of each command, after 1 untimed warm-up of each, interleaved (order rotating);" \
	"" "the tree is built and \`sync\` run, untimed, before each timed command, so its inodes" \
	"" "are in the cache for cvol and rm alike (the timed run took ${RUN_S}s)"
if [[ $HAVE_TIME == 1 ]]; then
	printf '%-13s %s\n' "peak RSS:" "GNU time's %M ($GTIME, wrapping every timed command)"
else
	printf '%-13s %s\n' "peak RSS:" "not measured: no GNU time at $GTIME"
fi
echo

label() {
	case $1 in
	cvol-wide) echo "(a) cvol volume rm, $FILES files" ;;
	rm-wide) echo "(b) rm -rf, $FILES files" ;;
	cvol-deep) echo "(c) cvol volume rm, $DEPTH deep" ;;
	rm-deep) echo "(d) rm -rf, $DEPTH deep" ;;
	layer-deep) echo "(e) cvol layer rm, $DEPTH deep" ;;
	cvol-empty) echo "(f) cvol volume rm, empty" ;;
	rm-empty) echo "(g) rm -rf, empty dir" ;;
	esac
}

ROW='%-34s  %9s  %15s  %9s  %13s\n'
echo "Wall clock, ms; peak RSS, MiB"
echo
printf "$ROW" "command" "median ms" "min-max ms" "RSS MiB" "RSS min-max"
printf "$ROW" "----------------------------------" "---------" "---------------" "---------" "-------------"
for op in "${OPS[@]}"; do
	rss="n/a" rss_mm="n/a"
	if [[ $HAVE_TIME == 1 ]]; then
		rss=$(fmt "${MRSS[$op]} / 1024" 1)
		# shellcheck disable=SC2086
		rss_mm=$(minmax 1024 1 ${RSS[$op]})
	fi
	# shellcheck disable=SC2086
	printf "$ROW" "$(label "$op")" "$(fmt "${MED[$op]} / 1000" 1)" "$(minmax 1000 1 ${SAMPLES[$op]})" \
		"$rss" "$rss_mm"
done
echo

ROW='%-44s  %10s  %10s\n'
rratio() { [[ $HAVE_TIME == 1 ]] && fmt "${MRSS[$1]} / ${MRSS[$2]}" 2 || echo n/a; }
echo "Ratios of the medians (below 1: cvol is faster, or smaller)"
echo
printf "$ROW" "" "time" "peak RSS"
printf "$ROW" "--------------------------------------------" "----------" "----------"
printf "$ROW" "cvol volume rm / rm -rf, $FILES files" "$(fmt "${MED[cvol-wide]} / ${MED[rm-wide]}" 2)" "$(rratio cvol-wide rm-wide)"
printf "$ROW" "cvol volume rm / rm -rf, $DEPTH deep" "$(fmt "${MED[cvol-deep]} / ${MED[rm-deep]}" 2)" "$(rratio cvol-deep rm-deep)"
printf "$ROW" "cvol layer rm / rm -rf, $DEPTH deep" "$(fmt "${MED[layer-deep]} / ${MED[rm-deep]}" 2)" "$(rratio layer-deep rm-deep)"
printf "$ROW" "cvol volume rm / rm -rf, empty" "$(fmt "${MED[cvol-empty]} / ${MED[rm-empty]}" 2)" "$(rratio cvol-empty rm-empty)"
echo
if [[ $HAVE_TIME == 1 ]]; then
	grow() { fmt "(${MRSS[$1]} - ${MRSS[$2]}) / 1024" 2; }
	echo "Peak RSS over the empty rows (what the tree itself costs), MiB:"
	echo "  cvol volume rm: $(grow cvol-wide cvol-empty) for $FILES files, $(grow cvol-deep cvol-empty) for $DEPTH deep;" \
		"cvol layer rm: $(grow layer-deep cvol-empty) for $DEPTH deep"
	echo "  rm -rf:         $(grow rm-wide rm-empty) for $FILES files, $(grow rm-deep rm-empty) for $DEPTH deep"
	echo
fi
echo "Not the same work:"
echo "- cvol volume rm takes the volume's lock, reads its record, renames the volume into"
echo "  .staging/ and fsyncs the store's directory before it removes the tree there; cvol layer"
echo "  rm does the same in the layer store. rm -rf syncs nothing."
echo "- cvol refuses to cross into another mount: it asks statx for the mount root of every"
echo "  directory it enters (one statx per directory more than rm -rf)."
