# Shared helpers of the integration tests: a private mount namespace, loop images,
# assertions that print what the user would have seen, and the pass/fail/skip count.
# Sourced by run-all.sh; every test is a shell function named test_*.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CVOL_BIN_DIR=$(cd "${CVOL_BIN_DIR:-$TOP}" && pwd) # make check-asan points it at its own build
CVOL_MOUNT="$CVOL_BIN_DIR/cvol-mount"
CVOL="$CVOL_BIN_DIR/cvol"
CVOL_PLUGIN="$CVOL_BIN_DIR/cvol-plugin"

# A test runs in a subshell under `set -e`: the first failing assertion ends it.
# Its reason goes to a file, since the subshell cannot set the runner's variables.
fail() {
	[ -s "$WORK/.fail" ] || printf '%s\n' "$*" >"$WORK/.fail"
	return 1
}
# Needs root or a kernel feature that is missing: say why and stop the test.
skip() {
	printf '%s\n' "$*" >"$WORK/.skip"
	exit 0
}

assert_eq() { # expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_contains() { # haystack needle what
	case "$1" in
	*"$2"*) return 0 ;;
	esac
	fail "$3: expected to contain '$2', got '$1'"
}

assert_file_content() { # path expected
	[ -f "$1" ] || fail "file '$1' does not exist"
	assert_eq "$2" "$(cat "$1")" "content of $1"
}

assert_missing() { # path
	[ ! -e "$1" ] && [ ! -L "$1" ] || fail "'$1' exists but should not"
}

is_mounted() { # path
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

assert_not_mounted() { # path
	! is_mounted "$1" || fail "'$1' is still a mount point"
}

assert_one_line() { # text what
	[ -n "$1" ] || fail "$2: printed nothing"
	[ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] || fail "$2: expected one line, got: $1"
}

# Skip unless this kernel has the mount API (fd, string or legacy) a test is about.
require_api() {
	local json
	json=$("$CVOL_MOUNT" --check "$WORK" --json)
	case "$1" in
	fd) grep -q '"layer_fd": true' <<<"$json" || skip "the kernel takes no layer fds (Linux 6.13+)" ;;
	string) grep -q '"lowerdir_append": true' <<<"$json" || skip "the kernel has no lowerdir+ (Linux 6.8+)" ;;
	esac
}

# Run a command that must fail: sets $out (its stderr and stdout) and $rc.
expect_failure() {
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "expected '$*' to fail, it exited 0: $out"
}

# A loop-backed filesystem of TYPE (extra mkfs args after it) mounted under $WORK; prints its path.
make_loop_fs() {
	local type=$1 name=$2
	shift 2
	local img="$WORK/$name.img" dir="$WORK/$name"
	truncate -s "${LOOP_SIZE:-320M}" "$img"
	case "$type" in
	ext4) mkfs.ext4 -q -F "$@" "$img" ;;
	xfs) mkfs.xfs -q -f "$@" "$img" ;;
	*) return 1 ;;
	esac
	mkdir -p "$dir"
	mount -o loop "$img" "$dir"
	printf '%s\n' "$dir"
}

# Make N lower dirs under DIR named by PREFIX+number, each holding file f<number>.
make_lowers() { # dir prefix n
	local dir=$1 prefix=$2 n=$3 i
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$dir/$prefix$i"
		echo "$i" >"$dir/$prefix$i/f$i"
	done
}

# "a:b:c" of the lowers made by make_lowers, top (1) first.
lower_list() { # dir prefix n
	local dir=$1 prefix=$2 n=$3 i list=""
	for ((i = 1; i <= n; i++)); do
		list+="${list:+:}$dir/$prefix$i"
	done
	printf '%s' "$list"
}

# Run every test_* function given, each in a subshell with its own scratch dir.
run_tests() {
	local passed=0 failed=0 skipped=0 t result
	for t in "$@"; do
		result=$(
			WORK=$(mktemp -d "${TMPDIR:-/tmp}/cvol-it.XXXXXX")
			export WORK
			# the probe cache of this test's filesystems, not the host's /run/cvol/probe
			export CVOL_PROBE_CACHE="$WORK/.probe-cache"
			mount -t tmpfs -o size=3g cvol-test "$WORK"
			(set -e; "$t") >"$WORK/.log" 2>&1
			rc=$?
			if [ -s "$WORK/.skip" ]; then
				echo "SKIP $(cat "$WORK/.skip")"
			elif [ "$rc" -eq 0 ] && [ ! -s "$WORK/.fail" ]; then # a failed assertion fails, whatever the status
				echo "PASS"
			else
				echo "FAIL $(cat "$WORK/.fail" 2>/dev/null || echo "a command failed (exit $rc)")"
				tail -n 8 "$WORK/.log" | sed 's/^/     | /'
			fi
			# Unmount everything the test left under its scratch dir, deepest first.
			awk -v w="$WORK" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
				while read -r m; do umount -l "$m" 2>/dev/null || true; done
			rm -rf "$WORK"
		)
		case "$result" in
		PASS) passed=$((passed + 1)); echo "ok   $t" ;;
		SKIP*) skipped=$((skipped + 1)); echo "skip $t: ${result#SKIP }" ;;
		*) failed=$((failed + 1)); echo "FAIL $t: ${result#FAIL }" ;;
		esac
	done
	echo "integration: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
