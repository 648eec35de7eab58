# cvol layer: the crash-safe layer store, chains, reference-counted mounts.

store() { "$CVOL" --root "$WORK/root" "$@"; }

layer_diff() { printf '%s/root/overlay/%s/diff' "$WORK" "$1"; }

# Every path in the store but the lock, sorted: to show a refused command changed nothing.
store_tree() { find "$WORK/root" ! -name .lock | sort; }

test_layer_chain_mount() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	echo from-base >"$(layer_diff base)/etc-file"
	local merged
	merged=$(store layer mount app)
	assert_eq "$WORK/root/overlay/app/merged" "$merged" "printed merged path"
	assert_file_content "$merged/etc-file" from-base
	echo mine >"$merged/app-file"
	assert_file_content "$(layer_diff app)/app-file" mine
	assert_missing "$(layer_diff base)/app-file"
	store layer umount app
	assert_not_mounted "$merged"
	assert_missing "$merged"
	assert_missing "$WORK/root/overlay/app/work"
}

test_layer_base_mount() {
	store layer create base >/dev/null
	echo x >"$(layer_diff base)/x"
	local merged
	merged=$(store layer mount base)
	assert_file_content "$merged/x" x
	store layer umount base
}

test_layer_mount_refcount() {
	store layer create base >/dev/null
	local m1 m2
	m1=$(store layer mount base)
	m2=$(store layer mount base)
	assert_eq "$m1" "$m2" "second mount path"
	assert_eq 1 "$(awk -v p="$m1" '$5 == p' /proc/self/mountinfo | wc -l)" "mounts stacked on the path"
	assert_contains "$(store layer ls --json)" '"mounts": 2' "reference count"
	store layer umount base
	is_mounted "$m1" || fail "the first of two unmounts unmounted the layer"
	store layer umount base
	assert_not_mounted "$m1"
	expect_failure store layer umount base
	assert_contains "$out" "not mounted" "umount of an unmounted layer"
}

# The count lives on disk but is believed only while mountinfo shows the mount.
test_layer_refcount_follows_mountinfo() {
	store layer create base >/dev/null
	local m
	m=$(store layer mount base)
	store layer mount base >/dev/null
	umount "$m" # gone behind cvol's back, as after a reboot
	assert_contains "$(store layer ls --json)" '"mounts": 0' "count after the mount vanished"
	m=$(store layer mount base)
	assert_contains "$(store layer ls --json)" '"mounts": 1' "count after mounting again"
	store layer umount base
	assert_not_mounted "$m"
}

test_layer_rm() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	store layer mount app >/dev/null
	expect_failure store layer rm app
	assert_one_line "$out" "rm of a mounted layer"
	assert_contains "$out" "mounted (1 reference)" "rm of a mounted layer"
	expect_failure store layer rm base
	assert_contains "$out" 'has 1 child layer: `app`' "rm of a parent"
	store layer umount app
	store layer rm app
	store layer rm base
	assert_eq "" "$(ls -A "$WORK/root/overlay/l")" "links left after rm"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" "staging after rm"
	assert_contains "$(store layer ls)" "ID" "ls header"
	assert_eq 1 "$(store layer ls | wc -l)" "layers left"
}

test_layer_bad_id_on_fresh_root() {
	expect_failure store layer create ../x
	assert_contains "$out" "invalid layer id" "create ../x"
	assert_missing "$WORK/root"
	expect_failure store layer mount a/b
	assert_missing "$WORK/root"
}

# A layer with children is an image layer: read-only. Mounting it read-write, or
# building on a parent that is mounted, would make one diff both upper and lower.
test_layer_upper_never_a_lower() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	expect_failure store layer mount base
	assert_one_line "$out" "mount of a parent"
	assert_contains "$out" 'has 1 child layer: `app`' "mount of a parent"
	assert_missing "$WORK/root/overlay/base/merged"
	assert_missing "$WORK/root/overlay/base/work"
	store layer create solo >/dev/null
	store layer mount solo >/dev/null
	expect_failure store layer create --parent solo child
	assert_contains "$out" 'parent layer `solo` is mounted' "create on a mounted parent"
	assert_missing "$WORK/root/overlay/child"
	store layer umount solo
}

# A link lost in a crash (the l/ entry never reached the disk) is made again at open.
test_layer_lost_link_restored() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	echo b >"$(layer_diff base)/b"
	local link
	link=$(cat "$WORK/root/overlay/base/link")
	rm "$WORK/root/overlay/l/$link"
	store layer ls >/dev/null
	[ -L "$WORK/root/overlay/l/$link" ] || fail "link l/$link was not restored"
	assert_file_content "$(store layer mount app)/b" b
	store layer umount app
}

test_layer_bad_input() {
	store layer create base >/dev/null
	local before
	before=$(store_tree)
	for bad in "a/b" ".." "../x" "l" "" ".hidden" "$(printf 'x%.0s' $(seq 1 256))"; do
		expect_failure store layer create "$bad"
		assert_one_line "$out" "create '$bad'"
		assert_contains "$out" "invalid layer id" "create '$bad'"
	done
	expect_failure store layer create --parent nope app
	assert_one_line "$out" "create on a missing parent"
	assert_contains "$out" 'parent layer `nope` does not exist' "create on a missing parent"
	expect_failure store layer create base
	assert_contains "$out" "already exists" "create of an existing id"
	expect_failure store layer mount nope
	assert_contains "$out" 'mount layer `nope`: no such layer' "mount of a missing layer"
	expect_failure store layer rm ../base
	assert_contains "$out" "invalid layer id" "rm ../base"
	assert_eq "$before" "$(store_tree)" "store after refused commands"
}

# A create killed just before it renames the finished layer into place leaves a
# half layer in .staging/ and a dangling l/ link; the next start removes both.
test_layer_create_killed_halfway() {
	command -v strace >/dev/null || skip "strace is not installed"
	store layer create base >/dev/null
	set +e
	strace -f -o /dev/null -e trace=renameat2 -e inject=renameat2:signal=SIGKILL \
		"$CVOL" --root "$WORK/root" layer create --parent base app
	local rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "the create was not killed"
	[ -n "$(ls -A "$WORK/root/overlay/.staging")" ] || fail "no half layer in .staging after the kill"
	assert_missing "$WORK/root/overlay/app"
	assert_eq 2 "$(ls "$WORK/root/overlay/l" | wc -l)" "links after the kill (base + dangling)"
	store layer ls >"$WORK/ls.out"
	assert_eq 2 "$(wc -l <"$WORK/ls.out")" "layers listed after restart (header + base)"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" ".staging after restart"
	assert_eq 1 "$(ls "$WORK/root/overlay/l" | wc -l)" "links after restart"
	store layer create --parent base app >/dev/null
}

# rm killed after moving the layer out (at the unlink of its link): the next open finishes it.
test_layer_rm_killed_halfway() {
	command -v strace >/dev/null || skip "strace is not installed"
	store layer create base >/dev/null
	set +e
	strace -f -o /dev/null -e trace=unlinkat -e inject=unlinkat:signal=SIGKILL \
		"$CVOL" --root "$WORK/root" layer rm base
	local rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "the rm was not killed"
	assert_missing "$WORK/root/overlay/base"
	[ -n "$(ls -A "$WORK/root/overlay/.staging")" ] || fail "nothing in .staging after the kill"
	assert_eq 1 "$(store layer ls | wc -l)" "layers listed after restart"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" ".staging after restart"
	assert_eq "" "$(ls -A "$WORK/root/overlay/l")" "links after restart"
}

make_chain() { # n: base + layers c1..c(n-1), each on the one before; bottom file in base
	store layer create c0 >/dev/null
	echo bottom >"$(layer_diff c0)/bottom"
	local i
	for ((i = 1; i < $1; i++)); do
		store layer create --parent "c$((i - 1))" "c$i" >/dev/null
	done
}

test_layer_chain_500() {
	make_chain 501 # c500 has 500 lower layers: the kernel's limit
	echo top >"$(layer_diff c500)/top"
	local m
	m=$(store layer mount c500)
	assert_file_content "$m/bottom" bottom
	assert_file_content "$m/top" top
	assert_contains "$(store layer ls --json)" '"depth": 500' "depth of the top layer"
	store layer umount c500
	expect_failure store layer create --parent c500 c501
	assert_one_line "$out" "create past the limit"
	assert_contains "$out" "would stack 501 lower layers" "create past the limit"
	assert_missing "$WORK/root/overlay/c501"
}

# mount(2) fallback: relative l/<short> names from the store dir, and a clear error past a page.
test_layer_legacy_api() {
	require_api legacy
	make_chain 101
	local m
	m=$(CVOL_MOUNT_API=legacy store layer mount c100)
	assert_file_content "$m/bottom" bottom
	local opts
	opts=$(awk -v p="$m" '$5 == p { print $NF }' /proc/self/mountinfo)
	assert_contains "$opts" "lowerdir=l/" "relative short names"
	store layer umount c100
	for ((i = 101; i < 200; i++)); do store layer create --parent "c$((i - 1))" "c$i" >/dev/null; done
	expect_failure env CVOL_MOUNT_API=legacy "$CVOL" --root "$WORK/root" layer mount c199
	assert_one_line "$out" "legacy mount of 199 layers"
	assert_contains "$out" "do not fit" "legacy mount of 199 layers"
	assert_missing "$WORK/root/overlay/c199/merged"
	assert_missing "$WORK/root/overlay/c199/work"
	assert_contains "$(store layer ls --json)" '"mounts": 0' "count after a failed mount"
}

# The store's mount point is private: a layer mount does not show up in a peer mount.
test_store_mount_private() {
	mkdir -p "$WORK/root" "$WORK/peer"
	mount -t tmpfs store "$WORK/root"
	mount --make-shared "$WORK/root"
	mount --bind "$WORK/root" "$WORK/peer" # a peer of the store's mount
	store layer create base >/dev/null
	local m
	m=$(store layer mount base)
	is_mounted "$m" || fail "layer not mounted"
	assert_not_mounted "$WORK/peer/overlay/base/merged"
	local prop
	prop=$(awk -v p="$WORK/root/overlay" '$5 == p { print $7 }' /proc/self/mountinfo)
	[ -n "$prop" ] || fail "the store's overlay dir is not a mount point"
	case "$prop" in shared:*) fail "the store mount is shared: $prop" ;; esac
	store layer umount base
}

test_info() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	local json
	json=$(store --json info)
	assert_contains "$json" '"d_type": true' "info --json"
	assert_contains "$json" '"layers": 2' "info --json"
	assert_contains "$json" '"type": "tmpfs"' "info --json"
	assert_contains "$json" '"max_lower_layers": 500' "info --json"
	assert_contains "$(store info)" "layers:            2" "info"
}

test_help_and_version() {
	local bin
	for bin in "$CVOL_MOUNT" "$CVOL"; do
		assert_contains "$("$bin" --help)" "Usage:" "$bin --help"
		assert_contains "$("$bin" --version)" "0." "$bin --version"
	done
	assert_contains "$("$CVOL" layer --help)" "create [--parent PARENT] ID" "cvol layer --help"
	expect_failure "$CVOL" frobnicate
	assert_contains "$out" 'unknown command `frobnicate`' "unknown command"
	expect_failure "$CVOL_MOUNT" --frob
	assert_one_line "$out" "unknown option"
	assert_contains "$out" '`--frob`' "unknown option"
}

# A root mounted on store layers (cvol-mount --layers) holds its chain: `layer rm` refuses
# the layer while the root is mounted, naming the mount point, and allows it after --umount.
test_layer_root_holds_its_layers() {
	store layer create base >/dev/null
	store layer create --parent base app >/dev/null
	echo from-app >"$WORK/root/overlay/app/diff/f"
	mkdir "$WORK/m" "$WORK/u"
	"$CVOL_MOUNT" --root "$WORK/root" --layers app --upper "$WORK/u" "$WORK/m"
	assert_file_content "$WORK/m/f" from-app
	expect_failure store layer rm app
	assert_contains "$out" "remove layer \`app\`: it is used by 1 mounted root: \`$WORK/m\`" "rm of a layer under a root"
	assert_eq 1 "$(ls -A "$WORK/root/overlay/.roots" | wc -l)" "root records"
	expect_failure store layer mount app
	assert_contains "$out" "used by 1 mounted root" "a read-write mount of a layer under a root"
	"$CVOL_MOUNT" --root "$WORK/root" --umount "$WORK/m"
	assert_not_mounted "$WORK/m"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.roots")" "root records after --umount"
	store layer rm app >/dev/null
	assert_missing "$WORK/root/overlay/app"
}

# A static busybox as /true in layer $1, for --exec.
store_add_true() {
	local busybox
	busybox=$(command -v busybox) || skip "busybox-static is not installed"
	cp "$busybox" "$WORK/root/overlay/$1/diff/true"
}

# The same hold through --exec --keep; a root unmounted behind cvol's back holds nothing.
test_layer_root_exec_keep_and_plain_umount() {
	store layer create base >/dev/null
	store_add_true base
	mkdir "$WORK/m" "$WORK/u"
	"$CVOL_MOUNT" --root "$WORK/root" --layers base --upper "$WORK/u" "$WORK/m" --exec --keep -- /true
	is_mounted "$WORK/m" || fail "--keep left nothing mounted"
	expect_failure store layer rm base
	assert_contains "$out" "\`$WORK/m\`" "rm names the mount point"
	"$CVOL_MOUNT" --root "$WORK/root" --umount "$WORK/m"
	"$CVOL_MOUNT" --root "$WORK/root" --layers base --upper "$WORK/u" "$WORK/m"
	umount "$WORK/m"
	store layer rm base >/dev/null
	assert_eq "" "$(ls -A "$WORK/root/overlay/.roots")" "stale root records after rm"
}

# Without --keep the root is unmounted after the command and holds nothing.
test_layer_root_exec_releases() {
	store layer create base >/dev/null
	store_add_true base
	mkdir "$WORK/m" "$WORK/u"
	"$CVOL_MOUNT" --root "$WORK/root" --layers base --upper "$WORK/u" "$WORK/m" --exec -- /true
	assert_not_mounted "$WORK/m"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.roots")" "root records after --exec"
	store layer rm base >/dev/null
}

# A record names its mount, not its path: after a plain umount, a new root on the same path
# (which may get the same mount id back) does not revive the old hold; a mount stacked on a
# live root does not end it.
test_layer_root_record_names_its_mount() {
	store layer create base >/dev/null
	store layer create other >/dev/null
	mkdir "$WORK/m" "$WORK/u" "$WORK/u2"
	"$CVOL_MOUNT" --root "$WORK/root" --layers base --upper "$WORK/u" "$WORK/m"
	mount -t tmpfs stacked "$WORK/m"
	expect_failure store layer rm base
	assert_contains "$out" "used by 1 mounted root" "a root under a stacked mount still holds its layer"
	umount "$WORK/m"
	umount "$WORK/m"
	"$CVOL_MOUNT" --root "$WORK/root" --layers other --upper "$WORK/u2" "$WORK/m"
	store layer rm base >/dev/null
	expect_failure store layer rm other
	assert_contains "$out" "\`$WORK/m\`" "the new root holds its own layer"
	"$CVOL_MOUNT" --root "$WORK/root" --umount "$WORK/m"
	store layer rm other >/dev/null
}

# A root mounted in another mount namespace is not in our mountinfo: it holds its layer while
# that namespace has a process, and no longer once it has none.
test_layer_root_in_another_namespace() {
	store layer create base >/dev/null
	mkdir "$WORK/m" "$WORK/u"
	unshare -m --propagation private sh -c '
		"$1" --root "$2" --layers base --upper "$3" "$4" && echo mounted >"$5" && exec sleep 60' \
		sh "$CVOL_MOUNT" "$WORK/root" "$WORK/u" "$WORK/m" "$WORK/ready" &
	local pid=$!
	local i
	for i in $(seq 50); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
	assert_file_content "$WORK/ready" mounted
	assert_not_mounted "$WORK/m"
	expect_failure store layer rm base
	assert_contains "$out" "\`$WORK/m\` (in another mount namespace)" "a root in another namespace"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	store layer rm base >/dev/null
}

# An import holds the store's lock only to check and to commit, not while it unpacks: roots
# and other layers are made meanwhile. A parent removed during the unpack fails the commit.
test_layer_import_does_not_hold_the_store() {
	store layer create base >/dev/null
	store layer create parent >/dev/null
	mkdir -p "$WORK/src" "$WORK/m" "$WORK/u"
	echo hi >"$WORK/src/f"
	tar -C "$WORK/src" -cf "$WORK/l.tar" .
	mkfifo "$WORK/slow"
	store layer import --parent parent child "$WORK/slow" >"$WORK/import.out" 2>&1 &
	local pid=$!
	exec 7>"$WORK/slow" # the import now waits for its tar
	sleep 0.3
	timeout 5 "$CVOL_MOUNT" --root "$WORK/root" --layers base --upper "$WORK/u" "$WORK/m" ||
		fail "a root could not be mounted while an import was reading"
	timeout 5 "$CVOL" --root "$WORK/root" layer create other >/dev/null ||
		fail "a layer could not be made while an import was reading"
	timeout 5 "$CVOL" --root "$WORK/root" layer rm parent >/dev/null ||
		fail "the parent could not be removed while its child was being read"
	cat "$WORK/l.tar" >&7
	exec 7>&-
	local rc=0
	wait "$pid" || rc=$?
	assert_eq 1 "$rc" "exit status of the import whose parent went away"
	assert_contains "$(cat "$WORK/import.out")" 'import layer `child`: parent layer `parent` does not exist' "the import's error"
	assert_missing "$WORK/root/overlay/child"
	assert_eq "" "$(ls -A "$WORK/root/overlay/.staging")" "staging after the refused import"
	"$CVOL_MOUNT" --root "$WORK/root" --umount "$WORK/m"
}
