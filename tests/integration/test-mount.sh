# cvol-mount: layered roots on real filesystems, checked before they are mounted.

# Two lowers and an upper on FS: files of both lowers seen, a write lands in the upper.
mount_and_write_on() { # dir
	local d=$1
	mkdir -p "$d/a" "$d/b" "$d/u" "$d/m"
	echo top >"$d/a/shared"; echo bottom >"$d/b/shared"; echo only-b >"$d/b/fb"
	"$CVOL_MOUNT" --lower "$d/a:$d/b" --upper "$d/u" "$d/m"
	assert_file_content "$d/m/shared" top
	assert_file_content "$d/m/fb" only-b
	echo written >"$d/m/new"
	rm "$d/m/fb"
	assert_file_content "$d/u/new" written
	[ -c "$d/u/fb" ] || fail "deleting a lower file left no whiteout in the upper"
	[ -d "$d/u.work" ] || fail "default work dir $d/u.work was not created"
	"$CVOL_MOUNT" --umount "$d/m"
	assert_not_mounted "$d/m"
}

test_mount_ext4() {
	local d
	d=$(make_loop_fs ext4 ext4)
	mount_and_write_on "$d"
}

test_mount_xfs() {
	command -v mkfs.xfs >/dev/null || skip "mkfs.xfs (xfsprogs) is not installed"
	local d
	d=$(make_loop_fs xfs xfs -n ftype=1)
	mount_and_write_on "$d"
}

test_mount_read_only_root() {
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/m"
	echo a >"$WORK/a/fa"; echo b >"$WORK/b/fb"
	"$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --read-only "$WORK/m"
	assert_file_content "$WORK/m/fb" b
	expect_failure touch "$WORK/m/new"
	assert_contains "$out" "Read-only file system" "write to a read-only root"
	"$CVOL_MOUNT" --umount "$WORK/m"
}

test_mount_options_passed() {
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/u" "$WORK/w" "$WORK/m"
	"$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" --work "$WORK/w" -o volatile,index=off "$WORK/m"
	local opts
	opts=$(awk -v p="$WORK/m" '$5 == p { print $NF }' /proc/self/mountinfo)
	assert_contains "$opts" "volatile" "mount options"
	assert_contains "$opts" "workdir=$WORK/w" "mount options"
	[ ! -e "$WORK/u.work" ] || fail "a default work dir was made although --work was given"
}

test_no_d_type_refused() {
	local d
	d=$(make_loop_fs ext4 nodtype -O ^filetype)
	expect_failure "$CVOL_MOUNT" --check "$d"
	assert_eq 1 "$rc" "exit status of --check on a fs without d_type"
	assert_one_line "$out" "--check output"
	assert_contains "$out" "d_type" "--check reason"
	assert_contains "$out" "$d" "--check names the path"
	assert_contains "$out" "mkfs.ext4 -O filetype" "--check advice"

	mkdir -p "$WORK/a" "$WORK/b" "$d/u" "$WORK/m"
	expect_failure "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m"
	assert_one_line "$out" "cvol-mount output"
	assert_contains "$out" "d_type" "mount refused"
	assert_not_mounted "$WORK/m"
	assert_missing "$d/u.work"
	[ -z "$(ls -A "$d/u")" ] || fail "the refused mount left files in the upper"

	local json
	json=$("$CVOL_MOUNT" --check "$d" --json || true)
	assert_contains "$json" '"fit": false' "--check --json"
	assert_contains "$json" '"d_type": false' "--check --json"
}

test_check_refuses_overlay() {
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/u" "$WORK/m"
	"$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" "$WORK/m"
	expect_failure "$CVOL_MOUNT" --check "$WORK/m"
	assert_contains "$out" "overlayfs, which cannot hold an upper layer" "--check on overlay"
	mkdir -p "$WORK/m/u2" "$WORK/m2"
	expect_failure "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$WORK/m/u2" "$WORK/m2"
	assert_contains "$out" "overlayfs" "upper on overlay refused"
	assert_not_mounted "$WORK/m2"
	assert_missing "$WORK/m/u2.work"
}

test_check_fit_ext4() {
	local d
	d=$(make_loop_fs ext4 fit)
	"$CVOL_MOUNT" --check "$d" >"$WORK/check.out"
	assert_contains "$(cat "$WORK/check.out")" "is fit" "--check on ext4"
	assert_eq "" "$(ls -A "$d" | grep -v lost+found || true)" "--check leaves nothing behind"
}

# 500 lowers whose paths are each over 200 bytes: the file of the bottom one is read.
test_mount_500_long_lowers() {
	local long dir list
	long=$(printf 'p%.0s' $(seq 1 180))
	dir="$WORK/$long"
	make_lowers "$dir" "layer-with-a-long-name-" 500
	list=$(lower_list "$dir" "layer-with-a-long-name-" 500)
	local shortest="$dir/layer-with-a-long-name-1"
	[ ${#shortest} -gt 200 ] || fail "lower paths are not over 200 bytes"
	mkdir -p "$WORK/u" "$WORK/m"
	"$CVOL_MOUNT" --lower "$list" --upper "$WORK/u" "$WORK/m"
	assert_file_content "$WORK/m/f500" 500
	assert_file_content "$WORK/m/f1" 1
	"$CVOL_MOUNT" --umount "$WORK/m"
}

test_mount_501_lowers_refused() {
	make_lowers "$WORK/l" "" 501
	mkdir -p "$WORK/u" "$WORK/m"
	expect_failure "$CVOL_MOUNT" --lower "$(lower_list "$WORK/l" "" 501)" --upper "$WORK/u" "$WORK/m"
	assert_one_line "$out" "error"
	assert_contains "$out" "501 lower layers exceed the kernel's limit of 500" "error"
	assert_missing "$WORK/u.work"
}

# Without lowerdir+, mount(2) takes one page of options: a clear error, nothing left.
test_legacy_api_too_many_lowers() {
	make_lowers "$WORK/ll" "a-long-lower-name-" 300
	mkdir -p "$WORK/u" "$WORK/m"
	expect_failure env CVOL_MOUNT_API=legacy "$CVOL_MOUNT" --lower "$(lower_list "$WORK/ll" "a-long-lower-name-" 300)" \
		--upper "$WORK/u" "$WORK/m"
	assert_one_line "$out" "error"
	assert_contains "$out" "do not fit" "error"
	assert_contains "$out" "lowerdir+" "error"
	assert_not_mounted "$WORK/m"
	assert_missing "$WORK/u.work"
}

test_legacy_api_mounts() {
	require_api legacy
	make_lowers "$WORK/l" "" 20
	mkdir -p "$WORK/u" "$WORK/m"
	CVOL_MOUNT_API=legacy "$CVOL_MOUNT" --lower "$(lower_list "$WORK/l" "" 20)" --upper "$WORK/u" "$WORK/m"
	assert_file_content "$WORK/m/f20" 20
	local opts
	opts=$(awk -v p="$WORK/m" '$5 == p { print $NF }' /proc/self/mountinfo)
	assert_contains "$opts" "lowerdir=$WORK/l/1:" "mount(2) options"
}

# A directory whose name looks like an option is a plain lower, with every mount API.
evil_name_is_plain_lower() { # api
	require_api "$1"
	local evil="$WORK/x,upperdir=$WORK/evil"
	mkdir -p "$evil" "$WORK/evil" "$WORK/b" "$WORK/u" "$WORK/m"
	echo from-x >"$evil/fx"
	CVOL_MOUNT_API=$1 "$CVOL_MOUNT" --lower "$evil:$WORK/b" --upper "$WORK/u" "$WORK/m"
	assert_file_content "$WORK/m/fx" from-x
	echo w >"$WORK/m/written"
	assert_file_content "$WORK/u/written" w
	assert_missing "$WORK/evil/written"
	"$CVOL_MOUNT" --umount "$WORK/m"
}

test_evil_name_fd_api() { evil_name_is_plain_lower fd; }
test_evil_name_string_api() { evil_name_is_plain_lower string; }
test_evil_name_legacy_api() { evil_name_is_plain_lower legacy; }

test_colon_in_lower_name() {
	mkdir -p "$WORK/a:b" "$WORK/c" "$WORK/u" "$WORK/m"
	echo ab >"$WORK/a:b/f"
	"$CVOL_MOUNT" --lower "$WORK/a\\:b:$WORK/c" --upper "$WORK/u" "$WORK/m"
	assert_file_content "$WORK/m/f" ab
}

# ---- bad input: one line naming the problem and the path; nothing changed ------------

# Run a mount that must be refused; check the message and that nothing was left behind.
refused_mount() { # expected-text path-in-message cvol-mount-args...
	local text=$1 path=$2
	shift 2
	local before after
	before=$(find "$WORK" -path "$WORK/.*" -prune -o -print | sort)
	expect_failure "$CVOL_MOUNT" "$@"
	assert_one_line "$out" "error of '$*'"
	assert_contains "$out" "$text" "error of '$*'"
	assert_contains "$out" "$path" "error names the path"
	after=$(find "$WORK" -path "$WORK/.*" -prune -o -print | sort)
	assert_eq "$before" "$after" "files after a refused mount"
	! awk -v w="$WORK" 'index($5, w) == 1 && $9 == "overlay"' /proc/self/mountinfo | grep -q . ||
		fail "a refused mount left an overlay mounted"
}

test_bad_input_refused() {
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/u" "$WORK/m" "$WORK/a/inner" "$WORK/t"
	touch "$WORK/file"
	refused_mount "does not exist" "$WORK/nope" --lower "$WORK/nope:$WORK/b" --upper "$WORK/u" "$WORK/m"
	refused_mount "is not a directory" "$WORK/file" --lower "$WORK/file:$WORK/b" --upper "$WORK/u" "$WORK/m"
	refused_mount "is inside lower" "$WORK/a/inner" --lower "$WORK/a:$WORK/b" --upper "$WORK/a/inner" "$WORK/m"
	refused_mount "unknown overlay option" "bogus" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" -o bogus "$WORK/m"
	refused_mount "unknown overlay option" "upperdir=/tmp/x" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" \
		-o "index=off,upperdir=/tmp/x" "$WORK/m"
	refused_mount "does not exist" "$WORK/nomerged" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" "$WORK/nomerged"

	mount -t tmpfs t "$WORK/t"
	refused_mount "already a mount" "$WORK/t" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" "$WORK/t"

	local d
	d=$(make_loop_fs ext4 other)
	mkdir -p "$d/w"
	refused_mount "different filesystem" "$d/w" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" --work "$d/w" "$WORK/m"
	assert_eq "" "$(ls -A "$d/w")" "work dir on the other fs"
	refused_mount "no --upper" "" --lower "$WORK/a:$WORK/b" "$WORK/m"
}

# A mount the kernel refuses fails with its words, with every API, and leaves nothing.
test_kernel_message_shown() {
	mkdir -p "$WORK/u/inner" "$WORK/b" "$WORK/m"
	local api
	for api in fd string legacy; do
		require_api "$api"
		expect_failure env CVOL_MOUNT_API=$api "$CVOL_MOUNT" --lower "$WORK/u/inner:$WORK/b" --upper "$WORK/u" "$WORK/m"
		assert_one_line "$out" "error ($api)"
		assert_contains "$out" "(kernel: overlayfs: overlapping" "the kernel's own words ($api)"
		assert_not_mounted "$WORK/m"
		assert_missing "$WORK/u.work"
	done
}

test_mount_api_override_checked() {
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/u" "$WORK/m"
	expect_failure env CVOL_MOUNT_API=bogus "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$WORK/u" "$WORK/m"
	assert_contains "$out" "CVOL_MOUNT_API=bogus: use legacy, string or fd" "bad CVOL_MOUNT_API"
	assert_not_mounted "$WORK/m"
}

test_umount_refuses_non_overlay() {
	mkdir -p "$WORK/plain" "$WORK/t"
	expect_failure "$CVOL_MOUNT" --umount "$WORK/plain"
	assert_contains "$out" "not a mount point" "umount of a plain dir"
	mount -t tmpfs t "$WORK/t"
	expect_failure "$CVOL_MOUNT" --umount "$WORK/t"
	assert_contains "$out" "not an overlay mount" "umount of a tmpfs"
	is_mounted "$WORK/t" || fail "the tmpfs was unmounted"
}

# ---- the probe cache: a filesystem already checked is not probed again ------------------

# Run TEST with a private, empty /run (a tmpfs in this namespace), so that the cache under
# /run/cvol/probe starts empty and the host's is never touched.
with_private_run() { # function
	mount -t tmpfs -o mode=0755 cvol-test-run /run
	local rc
	# not `( ... ) || rc=$?`: bash ignores set -e in a subshell that is part of a || list,
	# and a failed assertion would not end the test
	set +e
	(
		set -e
		"$1"
	)
	rc=$?
	set -e
	umount /run
	return "$rc"
}

# The probe directories cvol-mount made (mkdir of .cvol-probe-*), seen by strace.
probe_mkdirs() { # cvol-mount args...
	strace -f -qq -e trace=mkdir,mkdirat -o "$WORK/strace.out" "$CVOL_MOUNT" "$@" >/dev/null
	grep -c '\.cvol-probe-' "$WORK/strace.out" || true
}

probe_cache_on_ext4() {
	local d cache file mtime
	d=$(make_loop_fs ext4 cached)
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/m" "$d/u"
	unset CVOL_PROBE_CACHE

	assert_eq 1 "$(probe_mkdirs --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m")" "probe dirs on the first mount"
	"$CVOL_MOUNT" --umount "$WORK/m"
	assert_eq "drwx------ 0" "$(stat -c '%A %u' /run/cvol)" "/run/cvol"
	assert_eq "drwx------ 0" "$(stat -c '%A %u' /run/cvol/probe)" "/run/cvol/probe"
	cache=(/run/cvol/probe/*)
	assert_eq 1 "${#cache[@]}" "cache files after one mount"
	file=${cache[0]}
	assert_contains "$(cat "$file")" "d_type=1" "cache file"
	mtime=$(stat -c %y "$file")

	assert_eq 0 "$(probe_mkdirs --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m")" "probe dirs on the second mount"
	is_mounted "$WORK/m" || fail "the second mount did not mount"
	"$CVOL_MOUNT" --umount "$WORK/m"
	assert_eq "$mtime" "$(stat -c %y "$file")" "cache file mtime after a cached mount"

	# A cached result takes the same check as a fresh one, message and all.
	sed -i 's/^d_type=1$/d_type=0/' "$file"
	expect_failure "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m"
	assert_one_line "$out" "refusal from the cache"
	assert_eq "cvol-mount: \`$d/u\` (ext4) does not report file types (d_type): overlay needs them; reformat it (xfs: mkfs.xfs -n ftype=1, ext4: mkfs.ext4 -O filetype)" \
		"$out" "refusal from the cache"
	assert_not_mounted "$WORK/m"
	# u.work is the earlier mounts' (the refused mount did not make it, so it leaves it)
	assert_eq "" "$(find "$d/u.work" -mindepth 1 -newer "$file")" "entries the refused mount made in the work dir"

	# --check always probes afresh, and puts the truth back.
	assert_eq 1 "$(probe_mkdirs --check "$d")" "probe dirs of --check"
	assert_contains "$(cat "$file")" "d_type=1" "cache file after --check"

	# A file that does not parse, or is not root's, is not believed and is rewritten.
	echo garbage >"$file"
	assert_eq 1 "$(probe_mkdirs --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m")" "probe dirs with a bad cache file"
	"$CVOL_MOUNT" --umount "$WORK/m"
	assert_contains "$(cat "$file")" "d_type=1" "rewritten cache file"
	sed -i 's/^d_type=1$/d_type=0/' "$file"
	chown 65534:65534 "$file"
	"$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m"
	"$CVOL_MOUNT" --umount "$WORK/m"
	assert_eq "0 d_type=1" "$(stat -c %u "$file") $(grep d_type= "$file")" "cache file that was not root's"

	# Reformatted without d_type and mounted on the same path: probed again and refused.
	umount "$d"
	mkfs.ext4 -q -F -O ^filetype "$WORK/cached.img"
	mount -o loop "$WORK/cached.img" "$d"
	mkdir -p "$d/u"
	expect_failure "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m"
	assert_contains "$out" "does not report file types (d_type)" "reformatted fs"
	cache=(/run/cvol/probe/*)
	assert_eq 1 "${#cache[@]}" "cache files after the reformat (a refusal is not kept)"
	# ... and a refusal is probed again (it may have been a passing failure): the same message.
	local first=$out
	expect_failure "$CVOL_MOUNT" --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m"
	assert_eq "$first" "$out" "refusal probed again"
	assert_eq 1 "$(probe_mkdirs --lower "$WORK/a:$WORK/b" --upper "$d/u" "$WORK/m" 2>/dev/null)" "probe dirs of a refused fs"
}

test_probe_cache() {
	command -v strace >/dev/null || skip "strace is not installed"
	with_private_run probe_cache_on_ext4
}

# Without a place for the cache (CVOL_PROBE_CACHE=off, or not root) every mount probes.
test_probe_cache_off() {
	command -v strace >/dev/null || skip "strace is not installed"
	mkdir -p "$WORK/a" "$WORK/u" "$WORK/m"
	local i
	for i in 1 2; do
		assert_eq 1 "$(CVOL_PROBE_CACHE=off probe_mkdirs --lower "$WORK/a" --upper "$WORK/u" "$WORK/m")" "probe dirs, mount $i"
		"$CVOL_MOUNT" --umount "$WORK/m"
	done
}

# cvol-mount tries the fd API first and probes the kernel only when that is refused in a way
# that may mean the kernel lacks it. Kernels without it are played by strace's fault injection.
test_mount_api_fallback() {
	command -v strace >/dev/null || skip "strace is not installed"
	require_api fd
	mkdir -p "$WORK/a" "$WORK/b" "$WORK/u" "$WORK/m"
	echo a >"$WORK/a/fa"
	local args=(--lower "$WORK/a:$WORK/b" --upper "$WORK/u" "$WORK/m")
	export CVOL_DEBUG=overlay

	# 6.8-6.12: lowerdir+ by fd refused (fsconfig calls 2, the first layer, and 4, the probe's).
	out=$(strace -qq -f -o /dev/null -e inject=fsconfig:error=EINVAL:when=2..4+2 "$CVOL_MOUNT" "${args[@]}" 2>&1)
	assert_contains "$out" "via fsopen, lowerdir+ by path" "mount API after a refused fd"
	assert_file_content "$WORK/m/fa" a
	"$CVOL_MOUNT" --umount "$WORK/m"

	# no fsopen for overlay at all: mount(2)
	out=$(strace -qq -f -o /dev/null -e inject=fsopen:error=ENODEV "$CVOL_MOUNT" "${args[@]}" 2>&1)
	assert_contains "$out" "via mount(2)" "mount API without fsopen"
	assert_file_content "$WORK/m/fa" a
	"$CVOL_MOUNT" --umount "$WORK/m"

	# The first layer refused on a kernel that has the fd API: that refusal is the error.
	expect_failure strace -qq -f -o /dev/null -e inject=fsconfig:error=EINVAL:when=2 "$CVOL_MOUNT" "${args[@]}"
	assert_contains "$out" "cvol-mount: mount overlay on \`$WORK/m\`: set \`$WORK/a\`: Invalid argument" "refused layer"
	assert_not_mounted "$WORK/m"
}
