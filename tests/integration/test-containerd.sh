# End to end with a private containerd (tests/integration/containerd-lib.sh): images made
# offline from busybox, imported and unpacked, containers run on them, and the snapshot API
# driven through `ctr snapshots`. The snapshotter is cvol-snapshotter as the proxy plugin
# `cvol` when $CVOL_BIN_DIR/cvol-snapshotter is built, else containerd's own overlayfs (the
# tests were written, and pass, against it first); CVOL_TEST_SNAPSHOTTER=overlayfs forces
# overlayfs. The test_containerd_cvol_* tests are about cvol-snapshotter alone and skip
# without it.
#
# What containerd 1.6 asks a proxy snapshotter (read off a logging stand-in), and so what
# these tests reach: keys are containerd's "<namespace>/<n>/<name>" ("cvoltest/1/extract-
# 870402006-Ffnl sha256:<chainid>", committed as "cvoltest/2/sha256:<chainid>").
# - import: Prepare(extract key, parent) -> containerd applies the layer into the returned
#   mount (straight into upperdir for a lone overlay mount) -> Commit; no Mounts call.
# - ctr run: Stat(image top), Prepare(container), Mounts twice (ctr's own temp mount to
#   read /etc/group, then the task's rootfs).
# - ctr snapshots ls/info: containerd's metadata, then Stat of each key (an entry whose
#   Stat says NotFound is silently left out of ls); NotFound for an unknown key,
#   AlreadyExists for a taken key and FailedPrecondition for rm of a parent all come
#   from containerd's metadata before the snapshotter is asked.
# - rm (and ctr run --rm) only mark; the GC (image rm --sync, or soon after) calls List,
#   then Remove of every snapshot containerd no longer knows, children first, then Cleanup.
# - labels live in containerd's metadata; only containerd.io/snapshot/* reach the
#   snapshotter (Prepare, Commit, Update) and info merges what its Stat returns.

# shellcheck disable=SC2016 # sh -c '...$(...)': the container's shell expands those
# shellcheck source=tests/integration/containerd-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/containerd-lib.sh"

# A 3-layer image (gzip layers): unpacked, a container reads a lower layer and writes.
test_containerd_run_3_layers() {
	ctrd_setup
	ctrd_import l3:latest 3 --gzip
	assert_contains "$(ctrd_ok image ls -q)" "l3:latest" "ctr image ls"
	assert_eq 3 "$(ctrd_snap_list | wc -l)" "snapshots after the import of 3 layers"
	assert_eq "layer 2
hi" "$(ctrd_run_ok l3:latest c1 sh -c 'cat /layers/2; echo hi > /tmp/x; cat /tmp/x')" \
		"ctr run --rm --snapshotter $SNAPSHOTTER l3:latest c1"
	# the container's writes stayed in its own snapshot, gone with it
	assert_eq "layer 3 absent" "$(ctrd_run_ok l3:latest c2 sh -c 'echo $(cat /layers/3) $([ -e /tmp/x ] && echo present || echo absent)')" \
		"a second container on l3"
	assert_eq 3 "$(ctrd_snap_list | wc -l)" "snapshots after two ctr run --rm"
	assert_eq "" "$(ctrd_ok containers ls -q)" "containers after ctr run --rm"
}

# Whiteouts and opaque dirs across 5 layers (make-oci-image.py --whiteouts): exactly this.
test_containerd_whiteouts() {
	ctrd_setup
	ctrd_make_whiteout_image "$WORK/images/wh.tar" wh:latest >/dev/null
	ctrd_ok image import --snapshotter "$SNAPSHOTTER" "$WORK/images/wh.tar" >/dev/null
	local listing='cd / && for p in $(find d e f1 f2 g h 2>/dev/null | sort); do
		if [ -d "$p" ]; then echo "$p/"; else echo "$p=$(cat "$p")"; fi; done'
	assert_eq "d/
d/b/
d/b/inner=inner4
d/c=c3
d/sub/
d/sub/z=z5
e/
e/later=later5
e/new=new2
f1=f1-v3
g=g-is-a-file
h/" "$(ctrd_run_ok wh:latest w1 sh -c "$listing")" "what a container sees of the whiteout image"
	assert_eq "0" "$(ctrd_run_ok wh:latest w2 sh -c 'find / -xdev -name ".wh.*" | wc -l')" \
		"whiteout files a container sees"
	# and after the container wrote over it: its own deletion and an opaque-making rmdir
	assert_eq "e/
e/x=x
f1-gone" "$(ctrd_run_ok wh:latest w3 sh -c 'cd / && rm -r e/new e/later f1 && echo x > e/x &&
		find e | sort | while read -r p; do if [ -d "$p" ]; then echo "$p/"; else echo "$p=$(cat "$p")"; fi; done;
		[ -e f1 ] || echo f1-gone')" "a container deleting files of the image"
}

# Many layers: the chain as deep as an image gets.
ctrd_many_layers() { # n
	local n=$1 t0 t1
	ctrd_setup
	t0=${EPOCHREALTIME/./}
	ctrd_import "l$n:latest" "$n"
	t1=${EPOCHREALTIME/./}
	echo "import of $n layers: $(((10#$t1 - 10#$t0) / 1000)) ms"
	assert_eq "$n" "$(ctrd_snap_list | wc -l)" "snapshots after the import of $n layers"
	set +e
	out=$(ctrd_run --rm -- "l$n:latest" "c$n" sh -c "cat /layers/2 /layers/$((n / 2)) /layers/$n" 2>&1)
	rc=$?
	set -e
	echo "ctr run of $n layers with $SNAPSHOTTER: exit $rc: $out"
	assert_eq "layer 2
layer $((n / 2))
layer $n" "$out" "ctr run --rm on $n layers with $SNAPSHOTTER (exit $rc)"
}

test_containerd_200_layers() {
	ctrd_many_layers 200
}

# With overlayfs, 500 layers work on this kernel (Linux 6.18, containerd 1.6.20): the
# lowerdir option of 500 absolute paths is far over a page, but containerd's mount code
# then chdirs into the snapshots' common parent and mounts relative "N/fs" lowers (about
# 7 bytes each: 3,594 bytes of options here), and overlayfs takes up to 500 lowers. At 510
# layers the unpack still works (containerd writes into the upperdir, no mount) but `ctr
# run` fails: "failed to mount /tmp/containerd-mountNNN: failed to mountat: failed to
# mount: invalid argument" (the kernel: "overlayfs: too many lower directories, limit is
# 500"); that mount is ctr's own, of the rootfs, to read /etc/group. cvol must do 500 too.
test_containerd_500_layers() {
	ctrd_many_layers 500
	if [ "$SNAPSHOTTER" = overlayfs ]; then
		# what the container's root was: the mount containerd made, seen while it runs
		ctrd_ok run -d --snapshotter overlayfs --cgroup "/cvoltest-$$/d500" l500:latest d500 sleep 100 >/dev/null
		local opts
		opts=$(awk -v m="$WORK/ctrd/state/io.containerd.runtime.v2.task/cvoltest/d500/rootfs" \
			'$5 == m { print $NF }' /proc/self/mountinfo)
		echo "overlayfs rootfs of 500 layers: ${#opts} bytes of options: ${opts:0:200}..."
		case "$opts" in
		*,lowerdir=[0-9]*/fs:[0-9]*/fs:*) ;;
		*) fail "the lowerdir of containerd's 500-layer overlay mount is not relative: ${opts:0:300}" ;;
		esac
		[ "${#opts}" -lt 4096 ] || fail "the options of the 500-layer overlay mount: ${#opts} bytes"
	fi
}

# The snapshot API through `ctr snapshots`: prepare, mounts (mounted here, written), commit,
# view, info, usage, label, rm, and the errors containerd relies on.
test_containerd_snapshots_api() {
	ctrd_setup
	ctrd_import l3:latest 3
	local image top
	image=$(ctrd_snap_list)
	# the top of the image's chain: the one committed snapshot no other names as parent
	top=$(printf '%s\n' "$image" | awk '{ key[$1] = 1; if (NF == 3) par[$2] = 1 } END { for (k in key) if (!(k in par)) print k }')
	assert_one_line "$top" "the top snapshot of l3"

	# prepare (a key with spaces, as containerd's own extract keys) and mount it here
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" prepare "rt key 1" "$top" >/dev/null
	mkdir -p "$WORK/mnt"
	local cmd
	cmd=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" mounts "$WORK/mnt" "rt key 1")
	echo "mounts of an active snapshot: $cmd"
	assert_contains "$cmd" "mount -t " "ctr snapshots mounts"
	sh -c "$cmd" || fail "the mount of 'rt key 1' failed: $cmd"
	assert_file_content "$WORK/mnt/layers/3" "layer 3"
	echo new >"$WORK/mnt/layers/new"
	rm "$WORK/mnt/layers/2"
	umount "$WORK/mnt"
	assert_contains "$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt key 1")" '"Kind": "Active"' \
		"info of the prepared snapshot"

	# commit, then a view on it shows the change, read-only
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" commit "rt commit" "rt key 1" >/dev/null
	local info
	info=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt commit")
	assert_contains "$info" '"Kind": "Committed"' "info of the commit"
	assert_contains "$info" "\"Parent\": \"$top\"" "parent of the commit"
	expect_failure ctrd_snap info "rt key 1"
	assert_contains "$out" "not found" "info of the active key after its commit"
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" view "rt view" "rt commit" >/dev/null
	cmd=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" mounts "$WORK/mnt" "rt view")
	echo "mounts of a view: $cmd"
	sh -c "$cmd" || fail "the mount of 'rt view' failed: $cmd"
	assert_file_content "$WORK/mnt/layers/new" new
	assert_file_content "$WORK/mnt/layers/3" "layer 3"
	assert_missing "$WORK/mnt/layers/2"
	assert_missing "$WORK/mnt/layers/.wh.2"
	if touch "$WORK/mnt/layers/ro" 2>/dev/null; then fail "a view's mount is writable"; fi
	umount "$WORK/mnt"
	assert_contains "$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt view")" '"Kind": "View"' "info of the view"

	# labels set with `ctr snapshots label` appear in info (and containerd's own stay)
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" label "rt commit" cvol.test/a=1 b=two >/dev/null
	info=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt commit")
	assert_contains "$info" '"cvol.test/a": "1"' "labels of the commit"
	assert_contains "$info" '"b": "two"' "labels of the commit"
	assert_contains "$info" '"containerd.io/gc.root"' "containerd's own label on the commit"
	# containerd keeps labels in its own metadata and passes only containerd.io/snapshot/*
	# to the snapshotter (Prepare, Commit, Update); info merges what the snapshotter's Stat
	# returns: such a label must reach the snapshotter, and go when it is removed
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" label "rt commit" containerd.io/snapshot/cvol.test=passed >/dev/null
	assert_contains "$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt commit")" \
		'"containerd.io/snapshot/cvol.test": "passed"' "a containerd.io/snapshot/ label of the commit"
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" label "rt commit" containerd.io/snapshot/cvol.test= >/dev/null
	info=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt commit")
	case "$info" in *containerd.io/snapshot/cvol.test*) fail "the containerd.io/snapshot/ label stayed after its removal: $info" ;; esac
	# a label set to nothing is removed
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" label "rt commit" b= >/dev/null
	info=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" info "rt commit")
	case "$info" in *'"b":'*) fail "label b still there after 'label b=': $info" ;; esac
	assert_contains "$info" '"cvol.test/a": "1"' "labels of the commit after one was removed"

	# usage: a row for the key, with its size and inodes
	local usage
	usage=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" usage "rt commit")
	echo "usage: $usage"
	printf '%s\n' "$usage" | grep -Eq '^rt commit +[0-9.]+ [KMG]?i?B +[1-9][0-9]* *$' ||
		fail "ctr snapshots usage 'rt commit': $usage"
	usage=$(ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" usage)
	assert_eq 5 "$(printf '%s\n' "$usage" | tail -n +2 | wc -l)" "rows of ctr snapshots usage: $usage"

	# the errors, as ctr prints them
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" prepare "rt key 2" "$top" >/dev/null
	expect_failure ctrd_snap prepare "rt key 2" "$top"
	assert_contains "$out" 'snapshot "rt key 2": already exists' "prepare of an existing key"
	expect_failure ctrd_snap commit "rt commit" "rt key 2"
	assert_contains "$out" 'snapshot "rt commit": already exists' "commit onto an existing name"
	expect_failure ctrd_snap rm nosuch
	assert_contains "$out" 'failed to remove "nosuch"' "rm of an unknown key"
	assert_contains "$out" "not found" "rm of an unknown key"
	expect_failure ctrd_snap info nosuch
	assert_contains "$out" "not found" "info of an unknown key"
	expect_failure ctrd_snap mounts "$WORK/mnt" nosuch
	assert_contains "$out" "not found" "mounts of an unknown key"
	expect_failure ctrd_snap prepare "rt key 3" nosuchparent
	assert_contains "$out" "not found" "prepare on an unknown parent"
	expect_failure ctrd_snap rm "rt commit"
	assert_contains "$out" 'failed to remove "rt commit"' "rm of a parent with a child"
	assert_contains "$out" "failed precondition" "rm of a parent with a child"
	expect_failure ctrd_snap rm "$top"
	assert_contains "$out" "failed precondition" "rm of the image's top, parent of 'rt commit' and 'rt key 2'"
	# nothing of the failed calls stayed
	expect_failure ctrd_snap info "rt key 3"

	# rm, children first, leaves the image as it was, and a container still runs on it
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" rm "rt view" "rt key 2" >/dev/null
	ctrd_ok snapshots --snapshotter "$SNAPSHOTTER" rm "rt commit" >/dev/null
	assert_eq "$image" "$(ctrd_snap_list)" "snapshots after rm of everything the test made"
	assert_eq "layer 2" "$(ctrd_run_ok l3:latest c1 cat /layers/2)" "ctr run after the round trip"
}

# `ctr image rm --sync`: containerd's GC removes the snapshots, shared ones last.
test_containerd_image_rm() {
	ctrd_setup
	ctrd_import l3:latest 3
	ctrd_import l4:latest 4 # its first 3 layers are l3's: the same chain
	assert_eq 4 "$(ctrd_snap_list | wc -l)" "snapshots of l3 and l4 (3 shared)"
	ctrd_make_whiteout_image "$WORK/images/wh.tar" wh:latest >/dev/null
	ctrd_ok image import --snapshotter "$SNAPSHOTTER" "$WORK/images/wh.tar" >/dev/null
	assert_eq 9 "$(ctrd_snap_list | wc -l)" "snapshots of l3, l4 and wh"
	assert_eq "layer 4" "$(ctrd_run_ok l4:latest c1 cat /layers/4)" "ctr run on l4"

	ctrd_ok image rm --sync l4:latest >/dev/null
	assert_eq 8 "$(ctrd_snap_list | wc -l)" "snapshots after rm of l4"
	assert_eq "layer 3" "$(ctrd_run_ok l3:latest c2 cat /layers/3)" "ctr run on l3 after rm of l4"
	ctrd_ok image rm --sync l3:latest wh:latest >/dev/null
	assert_eq "" "$(ctrd_snap_list)" "snapshots after rm of every image"
	assert_eq "" "$(ctrd_ok image ls -q)" "images after rm"
	if [ "$SNAPSHOTTER" = cvol ]; then
		assert_eq "[]" "$("$CVOL" --root "$SNAP_ROOT" --json layer ls | tr -d ' \n')" "cvol layer ls after rm of every image"
	else
		assert_eq "" "$(ls "$WORK/ctrd/root/io.containerd.snapshotter.v1.overlayfs/snapshots")" \
			"overlayfs snapshot dirs after rm of every image"
	fi
}

# cvol-snapshotter killed (-9) between two imports: what it had committed is all there after
# a restart, and the second import (sharing 3 of its layers) builds on it.
test_containerd_cvol_kill_between_imports() {
	ctrd_setup cvol
	ctrd_import l3:latest 3
	local before
	before=$(ctrd_snap_list)
	ctrd_snapshotter_stop KILL
	set +e
	out=$(ctrd_snap ls 2>&1)
	echo "ctr snapshots ls without the snapshotter: exit $?: $out"
	set -e
	ctrd_snapshotter_up
	ctrd_wait_snapshots
	assert_eq "$before" "$(ctrd_snap_list)" "snapshots after the snapshotter's restart"
	ctrd_import l4:latest 4
	assert_eq 4 "$(ctrd_snap_list | wc -l)" "snapshots of l3 and l4 after the restart"
	assert_eq "layer 2 layer 4" "$(ctrd_run_ok l4:latest c1 sh -c 'echo $(cat /layers/2 /layers/4)')" "ctr run on l4"
	assert_eq "layer 3" "$(ctrd_run_ok l3:latest c2 cat /layers/3)" "ctr run on l3"
	ctrd_ok image rm --sync l3:latest l4:latest >/dev/null
	assert_eq "" "$(ctrd_snap_list)" "snapshots after rm of both images"
	assert_eq "[]" "$("$CVOL" --root "$SNAP_ROOT" --json layer ls | tr -d ' \n')" "cvol layer ls after rm"
}

# cvol-snapshotter killed (-9) while a container runs, then containerd restarted too: the
# container keeps running and its files, the snapshots are unchanged, new containers run.
test_containerd_cvol_kill_running_container() {
	ctrd_setup cvol
	ctrd_import l3:latest 3
	ctrd_ok run -d --snapshotter cvol --cgroup "/cvoltest-$$/holder" l3:latest holder \
		sh -c 'echo written > /tmp/w; sleep 1000' >/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(ctrd_ctr task exec --exec-id w$i holder cat /tmp/w 2>/dev/null)" = written ] && break
		sleep 0.1
	done
	local before
	before=$(ctrd_snap_list)
	assert_eq 4 "$(printf '%s\n' "$before" | wc -l)" "snapshots: 3 of l3, 1 of the container"

	ctrd_snapshotter_stop KILL
	# the container does not need the snapshotter to go on
	assert_eq "written layer 2" "$(ctrd_ok task exec --exec-id e1 holder sh -c 'echo $(cat /tmp/w /layers/2)')" \
		"ctr task exec while the snapshotter is down"
	ctrd_snapshotter_up
	ctrd_wait_snapshots
	assert_eq "$before" "$(ctrd_snap_list)" "snapshots after the snapshotter's restart"
	assert_contains "$(ctrd_ok task ls)" "RUNNING" "the container after the snapshotter's restart"
	ctrd_ok task exec --exec-id e2 holder sh -c 'echo again >> /tmp/w' >/dev/null
	assert_eq "layer 3" "$(ctrd_run_ok l3:latest c1 cat /layers/3)" "a new ctr run after the restart"

	# containerd restarted: it finds its shim, the container, and the snapshots again
	ctrd_stop
	ctrd_start "$WORK/ctrd" "$SNAP_SOCK" 2>"$WORK/ctrd/start.err" || fail "$(cat "$WORK/ctrd/start.err")"
	ctrd_wait_snapshots
	assert_eq "$before" "$(ctrd_snap_list)" "snapshots after containerd's restart"
	assert_eq "written again" "$(ctrd_ok task exec --exec-id e3 holder sh -c 'echo $(cat /tmp/w)')" \
		"the container after containerd's restart"
	assert_eq "layer 2" "$(ctrd_run_ok l3:latest c2 cat /layers/2)" "a new ctr run after containerd's restart"

	# both killed at once, then started again: the same
	ctrd_stop KILL
	ctrd_snapshotter_stop KILL
	ctrd_snapshotter_up
	ctrd_start "$WORK/ctrd" "$SNAP_SOCK" 2>"$WORK/ctrd/start.err" || fail "$(cat "$WORK/ctrd/start.err")"
	ctrd_wait_snapshots
	assert_eq "$before" "$(ctrd_snap_list)" "snapshots after both were killed"
	assert_eq "written again" "$(ctrd_ok task exec --exec-id e4 holder sh -c 'echo $(cat /tmp/w)')" \
		"the container after both were killed"

	# and the container's end removes its snapshot
	ctrd_ok task kill -s KILL holder >/dev/null
	for ((i = 0; i < 50; i++)); do
		ctrd_ctr task delete holder >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctrd_ok containers rm holder >/dev/null
	assert_eq 3 "$(ctrd_snap_list | wc -l)" "snapshots after the container was removed"
}

# cvol-snapshotter killed (-9) in the middle of unpacking 200 layers: the import fails, and
# after a restart the same import completes, a container runs, and removing the image
# leaves no snapshot and no cvol layer (the half-made extract snapshot included).
test_containerd_cvol_kill_during_import() {
	ctrd_setup cvol
	ctrd_make_image "$WORK/images/l200.tar" l200:latest 200 >/dev/null
	ctrd_ctr image import --snapshotter cvol "$WORK/images/l200.tar" >"$WORK/import.out" 2>&1 &
	local import_pid=$! i n=0
	for ((i = 0; i < 200; i++)); do
		n=$(ctrd_snap ls 2>/dev/null | tail -n +2 | wc -l)
		[ "$n" -lt 20 ] || break
		kill -0 "$import_pid" 2>/dev/null || break
		sleep 0.05
	done
	ctrd_snapshotter_stop KILL
	local rc=0
	wait "$import_pid" || rc=$?
	echo "killed at $n snapshots; the import exited $rc: $(tail -n 2 "$WORK/import.out")"
	ctrd_snapshotter_up
	ctrd_wait_snapshots
	ctrd_ok image import --snapshotter cvol "$WORK/images/l200.tar" >/dev/null
	assert_eq "layer 2 layer 200" "$(ctrd_run_ok l200:latest c1 sh -c 'echo $(cat /layers/2 /layers/200)')" \
		"ctr run on l200 after the restart"
	ctrd_ok image rm --sync l200:latest >/dev/null
	assert_eq "" "$(ctrd_snap_list)" "snapshots after rm of the image"
	assert_eq "[]" "$("$CVOL" --root "$SNAP_ROOT" --json layer ls | tr -d ' \n')" "cvol layer ls after rm"
}
