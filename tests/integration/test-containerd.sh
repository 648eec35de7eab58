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

# ---- cvol's store seen from cvol's side -----------------------------------------------------

# cvol's layers of the snapshotter's store, one "id parent" a line (parent "-" for a base
# layer), sorted.
ctrd_cvol_layers() {
	local o
	o=$("$CVOL" --root "$SNAP_ROOT" layer ls --json 2>&1) || { fail "cvol layer ls --json: $o"; return 1; }
	jq -r '.[] | "\(.id) \(.parent // "-")"' <<<"$o" | sort
}

# The snapshotter's records (<root>/snapshots/keys/*), one "kind layer key" a line, sorted.
ctrd_cvol_records() {
	local files o
	files=("$SNAP_ROOT"/snapshots/keys/*)
	[ -f "${files[0]}" ] || return 0
	o=$(jq -r '"\(.kind) \(.layer // "-") \(.key)"' "${files[@]}" 2>&1) || { fail "the records do not parse: $o"; return 1; }
	printf '%s\n' "$o" | sort
}

# The layer of the snapshot ctr lists as KEY (containerd's name; the record's key is
# "<namespace>/<n>/KEY").
ctrd_cvol_layer_of() { # key
	ctrd_cvol_records | awk -v k="/$1" '{ key = $0; sub(/^[^ ]+ [^ ]+ /, "", key) }
		length(key) >= length(k) && substr(key, length(key) - length(k) + 1) == k { print $2 }'
}

# The chain from base layer BASE up, one id a line: each layer, then its only child.
ctrd_cvol_chain() { # base
	local layers cur=$1 next
	layers=$(ctrd_cvol_layers)
	while :; do
		echo "$cur"
		next=$(awk -v p="$cur" '$2 == p { print $1 }' <<<"$layers")
		[ -n "$next" ] || break
		[ "$(wc -l <<<"$next")" -eq 1 ] || { fail "layer $cur has more than one child: $next"; return 1; }
		cur=$next
	done
}

# cvol's store agrees with the snapshotter's records: every layer's parent is a layer, and
# the layers are exactly those the records name (no layer without a record, no record on a
# missing layer).
ctrd_cvol_assert_consistent() { # what
	local layers orphans
	layers=$(ctrd_cvol_layers)
	orphans=$(awk '{ id[$1] = 1; par[$1] = $2 }
		END { for (i in par) if (par[i] != "-" && !(par[i] in id)) print i " on missing " par[i] }' <<<"$layers")
	assert_eq "" "$orphans" "$1: layers whose parent is missing"
	assert_eq "$(awk '{ print $1 }' <<<"$layers")" "$(ctrd_cvol_records | awk '$2 != "-" { print $2 }' | sort -u)" \
		"$1: the layers of cvol layer ls against the layers the snapshot records name"
}

# The mounts whose mount point is under PREFIX (a path, "/" ended for strictly below), one
# "mount-id mountpoint fstype" a line.
ctrd_mounts_under() { # prefix
	awk -v d="$1" 'index($5, d) == 1 { for (i = 7; $i != "-"; i++); print $1, $5, $(i + 1) }' /proc/self/mountinfo
}

# What is mounted under the store besides the private binds of its own dirs on themselves
# (<root>/overlay and <root>/snapshots/chains, made once, kept): nothing, once all is removed.
ctrd_cvol_mounts_left() {
	ctrd_mounts_under "$SNAP_ROOT/" | awk -v o="$SNAP_ROOT/overlay" -v c="$SNAP_ROOT/snapshots/chains" \
		'!(($2 == o || $2 == c) && $3 != "overlay")'
}

# The store is empty: no snapshot in containerd, no record, no cvol layer, no mount left.
ctrd_cvol_assert_empty() { # what
	echo "mounts under the store $1: $(ctrd_mounts_under "$SNAP_ROOT/" | awk '{ print $2, $3 }' | paste -sd ' ')"
	assert_eq "" "$(ctrd_snap_list)" "$1: ctr snapshots ls"
	assert_eq "[]" "$("$CVOL" --root "$SNAP_ROOT" layer ls --json | tr -d ' \n')" "$1: cvol layer ls"
	assert_eq "" "$(ls -A "$SNAP_ROOT/snapshots/keys")" "$1: the records in $SNAP_ROOT/snapshots/keys"
	assert_eq "" "$(ctrd_cvol_mounts_left)" "$1: mounts under $SNAP_ROOT"
}

# The snapshots containerd unpacked are cvol layers like any other: `cvol layer ls` chains
# them parent to child, `layer export` and `layer diff` read them.
test_containerd_cvol_layers_are_cvol_layers() {
	ctrd_setup cvol
	ctrd_import l3:latest 3
	local layers base chain top
	layers=$(ctrd_cvol_layers)
	echo "cvol layer ls after the import of l3: $layers"
	assert_eq 3 "$(wc -l <<<"$layers")" "cvol layers after the import of 3 layers"
	! awk '{ print $1 }' <<<"$layers" | grep -Eqv '^snapshot-[0-9a-f]{24}$' || fail "layers not named snapshot-<24 hex>: $layers"
	base=$(awk '$2 == "-" { print $1 }' <<<"$layers")
	assert_one_line "$base" "the base layer of l3 (the one without a parent)"
	chain=$(ctrd_cvol_chain "$base")
	assert_eq 3 "$(wc -l <<<"$chain")" "the chain from $base up: $chain"
	top=$(tail -n 1 <<<"$chain")
	# the chain's top is the snapshot of the image's top, as the records say
	local top_key
	top_key=$(ctrd_snap_list | awk '{ key[$1] = 1; if (NF == 3) par[$2] = 1 } END { for (k in key) if (!(k in par)) print k }')
	assert_eq "$top" "$(ctrd_cvol_layer_of "$top_key")" "the layer of the top snapshot $top_key"
	ctrd_cvol_assert_consistent "after the import of l3"

	# export: a tar of the layer's own change
	"$CVOL" --root "$SNAP_ROOT" layer export "$top" >"$WORK/top.tar" || fail "cvol layer export $top failed"
	local entries
	entries=$(tar -tf "$WORK/top.tar" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort)
	echo "cvol layer export $top: $entries"
	assert_eq "layers
layers/3" "$entries" "the entries of cvol layer export $top"
	assert_eq "layer 3" "$(tar -xOf "$WORK/top.tar" --wildcards '*layers/3')" "layers/3 in the export of $top"

	# diff of the whiteout image's layer 2 (deletes /f1 and /d/a, makes /e opaque)
	ctrd_make_whiteout_image "$WORK/images/wh.tar" wh:latest >/dev/null
	ctrd_ok image import --snapshotter cvol "$WORK/images/wh.tar" >/dev/null
	local wh_base wh2 diff
	wh_base=$(ctrd_cvol_layers | awk -v l3="$base" '$2 == "-" && $1 != l3 { print $1 }')
	assert_one_line "$wh_base" "the base layer of wh"
	assert_eq 5 "$(ctrd_cvol_chain "$wh_base" | wc -l)" "the chain of the whiteout image"
	wh2=$(ctrd_cvol_chain "$wh_base" | sed -n 2p)
	diff=$("$CVOL" --root "$SNAP_ROOT" layer diff "$wh2") || fail "cvol layer diff $wh2: $diff"
	echo "cvol layer diff of the whiteout image's layer 2: $diff"
	# the deletions as 'D' (not as whiteout files), the opaque dir as changed
	assert_eq "C /d
D /d/a
C /e
A /e/new
D /f1" "$diff" "cvol layer diff of the whiteout layer $wh2"
	ctrd_cvol_assert_consistent "after the import of wh"
}

# Four images unpacked at once (3, 20, 40 and 70 layers: the 70 past the ~65 layers a mount
# string holds, so its last layers are unpacked on a deep chain's root; the images share
# their first layers, so the same chain is prepared and committed by several unpacks at
# once), run one by one and then at once, and removed at once: nothing is left.
test_containerd_cvol_parallel_unpacks() {
	ctrd_setup cvol
	local n pids=() i rc errs="" t0 t1
	for n in 3 20 40 70; do
		ctrd_make_image "$WORK/images/p$n.tar" "p$n:latest" "$n" >/dev/null
	done
	t0=${EPOCHREALTIME/./}
	for n in 3 20 40 70; do
		ctrd_ctr image import --snapshotter cvol "$WORK/images/p$n.tar" >"$WORK/import-$n.out" 2>&1 &
		pids+=($!)
	done
	i=0
	for n in 3 20 40 70; do
		rc=0
		wait "${pids[i]}" || rc=$?
		[ "$rc" -eq 0 ] || errs+="import of p$n exited $rc: $(tail -n 2 "$WORK/import-$n.out"); "
		i=$((i + 1))
	done
	t1=${EPOCHREALTIME/./}
	echo "4 imports at once: $(((10#$t1 - 10#$t0) / 1000)) ms"
	assert_eq "" "$errs" "ctr image import of 4 images at once"
	assert_eq 70 "$(ctrd_snap_list | wc -l)" "snapshots of the 4 images (the 70 of p70, shared)"
	ctrd_cvol_assert_consistent "after 4 imports at once"
	assert_eq "$(ctrd_snap_list | wc -l)" "$(ctrd_cvol_layers | wc -l)" "cvol layers against snapshots"
	for n in 3 20 40 70; do
		assert_eq "layer $n" "$(ctrd_run_ok "p$n:latest" "r$n" cat "/layers/$n")" "ctr run on p$n"
	done
	# and at once, two of them on the 70 layers (one deep chain root for both)
	pids=()
	for n in 3 20 40 70 70; do
		ctrd_run --rm -- "p$n:latest" "q$n-${#pids[@]}" cat "/layers/$n" >"$WORK/run-${#pids[@]}.out" 2>&1 &
		pids+=($!)
	done
	i=0
	for n in 3 20 40 70 70; do
		rc=0
		wait "${pids[i]}" || rc=$?
		[ "$rc:$(cat "$WORK/run-$i.out")" = "0:layer $n" ] || errs+="run $i on p$n: exit $rc: $(tail -n 2 "$WORK/run-$i.out"); "
		i=$((i + 1))
	done
	assert_eq "" "$errs" "5 ctr run at once on the 4 images"
	assert_eq 70 "$(ctrd_snap_list | wc -l)" "snapshots after the containers"

	pids=()
	for n in 3 20 40 70; do
		ctrd_ctr image rm --sync "p$n:latest" >"$WORK/rm-$n.out" 2>&1 &
		pids+=($!)
	done
	i=0
	for n in 3 20 40 70; do
		rc=0
		wait "${pids[i]}" || rc=$?
		[ "$rc" -eq 0 ] || errs+="rm of p$n exited $rc: $(tail -n 2 "$WORK/rm-$n.out"); "
		i=$((i + 1))
	done
	assert_eq "" "$errs" "ctr image rm --sync of 4 images at once"
	assert_eq "" "$(ctrd_ok image ls -q)" "images after rm"
	ctrd_cvol_assert_empty "after rm of the 4 images at once"
	assert_eq "" "$(grep -E 'rpc .* (UNKNOWN|INTERNAL|FAILED_PRECONDITION)' "$WORK/ctrd/snapshotter.log")" \
		"the snapshotter's failed calls"
}

# A root cvol-mount made on the top layer of an image holds it: containerd's GC is refused
# (FailedPrecondition, naming the mount point) and the store stays whole; once the root is
# unmounted, the next GC removes it all.
test_containerd_cvol_gc_refused_while_a_root_holds() {
	ctrd_setup cvol
	ctrd_import l3:latest 3
	local top_key top
	top_key=$(ctrd_snap_list | awk '{ key[$1] = 1; if (NF == 3) par[$2] = 1 } END { for (k in key) if (!(k in par)) print k }')
	assert_one_line "$top_key" "the top snapshot of l3"
	top=$(ctrd_cvol_layer_of "$top_key")
	assert_one_line "$top" "the layer of the top snapshot $top_key"
	mkdir -p "$WORK/r"
	"$CVOL_MOUNT" --root "$SNAP_ROOT" --layers "$top" --read-only "$WORK/r" || fail "cvol-mount --layers $top failed"
	assert_file_content "$WORK/r/layers/3" "layer 3"
	local records_before
	records_before=$(ctrd_cvol_records)

	ctrd_ok image rm --sync l3:latest >/dev/null
	assert_eq "" "$(ctrd_ok image ls -q)" "images after rm"
	local refused
	refused=$(grep -F 'rpc /containerd.services.snapshots.v1.Snapshots/Remove FAILED_PRECONDITION' "$WORK/ctrd/snapshotter.log" || true)
	echo "the snapshotter's refusals: $refused"
	assert_contains "$refused" "remove layer \`$top\`: it is used by 1 mounted root: \`$WORK/r\`" \
		"the snapshotter's log of the Remove of $top"
	# nothing of the chain went: the layers, their records, and cvol's view agree
	assert_eq "$records_before" "$(ctrd_cvol_records)" "the snapshot records after the refused GC"
	assert_contains "$(ctrd_cvol_layers)" "$top" "cvol layer ls after the refused GC"
	assert_eq 3 "$(ctrd_cvol_layers | wc -l)" "cvol layers after the refused GC"
	ctrd_cvol_assert_consistent "after the refused GC"
	assert_file_content "$WORK/r/layers/3" "layer 3"

	"$CVOL_MOUNT" --umount "$WORK/r" --root "$SNAP_ROOT" || fail "cvol-mount --umount $WORK/r failed"
	# containerd cleans a snapshotter again once a snapshot of it goes from its metadata:
	# a second image, removed with --sync
	ctrd_import l1:latest 1
	ctrd_ok image rm --sync l1:latest >/dev/null
	ctrd_cvol_assert_empty "after the root was unmounted and the next GC"
}

# The overlay mounts on deep chains' roots (<root>/snapshots/chains/<layer>), one
# "mount-id mountpoint fstype" a line.
ctrd_cvol_chain_mounts() {
	ctrd_mounts_under "$SNAP_ROOT/snapshots/chains/"
}

# Wait until task ID can exec (it runs); then `cat FILE` in it.
ctrd_exec_cat() { # id exec-id file
	local i o
	for ((i = 0; i < 50; i++)); do
		o=$(ctrd_ctr task exec --exec-id "$2" "$1" cat "$3" 2>&1) && { printf '%s\n' "$o"; return 0; }
		sleep 0.1
	done
	fail "ctr task exec $1 cat $3: $o"
}

# Kill task ID, delete it and its container.
ctrd_container_gone() { # id
	local i
	ctrd_ok task kill -s KILL "$1" >/dev/null
	for ((i = 0; i < 50; i++)); do
		ctrd_ctr task delete "$1" >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctrd_ok containers rm "$1" >/dev/null
}

# A 200-layer image's containers share one chain root, also across a kill -9 of the
# snapshotter: the restarted one finds the mounted root again and mounts nothing twice; when
# the containers and the image are gone, so is the mount.
test_containerd_cvol_deep_chain_mounted_once() {
	ctrd_setup cvol
	ctrd_import l200:latest 200
	assert_eq "" "$(ctrd_cvol_chain_mounts)" "chain roots mounted after the import"
	ctrd_ok run -d --snapshotter cvol --cgroup "/cvoltest-$$/c1" l200:latest c1 sleep 1000 >/dev/null
	assert_eq "layer 200" "$(ctrd_exec_cat c1 e1 /layers/200)" "/layers/200 in c1"
	local first
	first=$(ctrd_cvol_chain_mounts)
	echo "chain root of c1: $first"
	assert_one_line "$first" "overlay mounts under $SNAP_ROOT/snapshots/chains/ with c1 running"
	assert_eq overlay "$(awk '{ print $3 }' <<<"$first")" "the filesystem of the chain root"

	ctrd_snapshotter_stop KILL
	ctrd_snapshotter_up
	ctrd_wait_snapshots
	# a GC (its Cleanup unmounts the chain roots left over from a crash) leaves c1's alone
	ctrd_import l1:latest 1
	ctrd_ok image rm --sync l1:latest >/dev/null
	local cleanups
	cleanups=$(awk '/^--- cvol-snapshotter start/ { n = 0 } /Snapshots\/Cleanup OK/ { n++ } END { print n + 0 }' \
		"$WORK/ctrd/snapshotter.log")
	[ "$cleanups" -ge 1 ] || fail "no Cleanup reached the restarted snapshotter in the GC of rm --sync l1"
	assert_eq "$first" "$(ctrd_cvol_chain_mounts)" "the chain roots after the restart and a GC, c1 running"
	assert_eq "layer 200" "$(ctrd_exec_cat c1 e4 /layers/200)" "/layers/200 in c1 after the restart and a GC"
	ctrd_ok run -d --snapshotter cvol --cgroup "/cvoltest-$$/c2" l200:latest c2 sleep 1000 >/dev/null
	assert_eq "layer 200" "$(ctrd_exec_cat c2 e2 /layers/200)" "/layers/200 in c2"
	assert_eq "layer 200" "$(ctrd_exec_cat c1 e3 /layers/200)" "/layers/200 in c1 after the restart"
	# the same mount (the same mount id), not a second one on it
	assert_eq "$first" "$(ctrd_cvol_chain_mounts)" "the chain roots with c1 and c2 running, the snapshotter restarted between"

	ctrd_container_gone c1
	ctrd_container_gone c2
	ctrd_ok image rm --sync l200:latest >/dev/null
	assert_eq "" "$(ctrd_cvol_chain_mounts)" "chain roots mounted after c1, c2 and the image were removed"
	ctrd_cvol_assert_empty "after c1, c2 and the image were removed"
}

# Only N snapshots, all committed, each a record and a layer, and no other layer.
ctrd_cvol_assert_only_committed() { # n what
	local snaps t0=${EPOCHREALTIME/./}
	snaps=$(ctrd_snap_list)
	echo "snapshots $2: $(grep -c . <<<"$snaps") ($(awk '{ print $NF }' <<<"$snaps" | sort | uniq -c | paste -sd ' '))"
	assert_eq "$1" "$(grep -c . <<<"$snaps" || true)" "ctr snapshots ls $2"
	assert_eq "" "$(awk '$NF != "Committed"' <<<"$snaps")" "snapshots not committed $2"
	local records
	records=$(ctrd_cvol_records)
	assert_eq "" "$(awk '$1 != "committed"' <<<"$records")" "records not committed $2"
	assert_eq "$1" "$(grep -c . <<<"$records" || true)" "snapshot records $2"
	assert_eq "$1" "$(ctrd_cvol_layers | grep -c . || true)" "cvol layers $2"
	ctrd_cvol_assert_consistent "$2"
	echo "checked in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
}

# The kernel stacks at most 500 lower layers (OVL_MAX_STACK). Unpacking a 501-layer image
# needs 500 at most (layer 501 is unpacked into the upper dir of an overlay on the 500 below
# it), so its import works, as with containerd's own overlayfs; a container on it would stack
# 501 and is refused with the layer store's words, before anything is made. A 502-layer
# image's import is refused so at its last layer. Either way no half snapshot is left: only
# committed snapshots, each with its layer, and no layer without a record.
test_containerd_cvol_501_layers_refused() {
	ctrd_setup cvol
	local t0 t1
	t0=${EPOCHREALTIME/./}
	ctrd_import l501:latest 501
	t1=${EPOCHREALTIME/./}
	echo "import of 501 layers: $(((10#$t1 - 10#$t0) / 1000)) ms"
	ctrd_cvol_assert_only_committed 501 "after the import of 501 layers"
	expect_failure ctrd_run --rm -- l501:latest c501 cat /layers/501
	echo "ctr run on 501 layers: exit $rc: $out"
	assert_contains "$out" "it would stack 501 lower layers on \`snapshot-" "ctr run on 501 layers"
	assert_contains "$out" "the kernel allows at most 500" "ctr run on 501 layers"
	assert_contains "$(grep -F 'rpc /containerd.services.snapshots.v1.Snapshots/Prepare INVALID_ARGUMENT' \
		"$WORK/ctrd/snapshotter.log")" "the kernel allows at most 500" "the snapshotter's log of the refused Prepare"
	ctrd_cvol_assert_only_committed 501 "after the refused ctr run"
	assert_eq "" "$(ctrd_cvol_chain_mounts)" "chain roots mounted after the refused ctr run"

	ctrd_make_image "$WORK/images/l502.tar" l502:latest 502 >/dev/null
	expect_failure ctrd_ctr image import --snapshotter cvol "$WORK/images/l502.tar"
	echo "import of 502 layers: exit $rc: $out"
	assert_contains "$out" "it would stack 501 lower layers on \`snapshot-" "ctr image import of 502 layers"
	assert_contains "$out" "the kernel allows at most 500" "ctr image import of 502 layers"
	ctrd_cvol_assert_only_committed 501 "after the refused import of 502 layers"
	assert_eq "" "$(ctrd_cvol_chain_mounts)" "chain roots mounted after the refused import"
}

# An image as `docker save` writes it (Docker 20.10: manifest.json, a dir per layer), built
# by a private dockerd (test-docker.sh's helpers) from busybox and one committed step that
# adds a file and deletes one of the base: imported into cvol through containerd and run.
test_containerd_cvol_docker_save_archive() {
	local why
	if why=$(ctrd_missing); then skip "$why"; fi
	[ -x "$CTRD_SNAP_BIN" ] || skip "cvol-snapshotter not built"
	command -v docker_e2e_isolate >/dev/null || skip "test-docker.sh's helpers are not loaded"
	docker_e2e_isolate '{"storage-driver": "overlay2"}'
	docker_e2e_dockerd_start
	local dir="$WORK/bb" applet
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
	chmod 1777 "$dir/tmp"
	cp "$DOCKER_E2E_BUSYBOX" "$dir/bin/busybox"
	for applet in sh cat echo mkdir rm ls; do
		ln -s busybox "$dir/bin/$applet"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$dir/etc/passwd"
	echo 'root:x:0:' >"$dir/etc/group"
	echo base >"$dir/gone"
	tar -C "$dir" -cf "$WORK/bb.tar" .
	docker_e2e_ok import "$WORK/bb.tar" dsave:0 >/dev/null
	docker_e2e_ok run --network none --name step1 dsave:0 sh -ec 'mkdir /app; echo from-docker > /app/hello; rm /gone' >/dev/null
	docker_e2e_ok commit step1 dsave:1 >/dev/null
	mkdir -p "$WORK/images"
	docker_e2e_ok save -o "$WORK/images/dsave.tar" dsave:1
	assert_contains "$(tar -tf "$WORK/images/dsave.tar")" "manifest.json" "the docker save archive"
	# dockerd (and its containerd) gone before ours starts
	trap - EXIT
	docker_e2e_teardown

	ctrd_setup cvol
	local o
	o=$(ctrd_ok image import --snapshotter cvol "$WORK/images/dsave.tar")
	echo "ctr image import of the docker save archive: $o"
	local name
	name=$(ctrd_ok image ls -q)
	assert_eq "docker.io/library/dsave:1" "$name" "the image's name after the import"
	assert_eq 2 "$(ctrd_snap_list | wc -l)" "snapshots of the docker image (busybox and the step)"
	assert_eq 2 "$(ctrd_cvol_chain "$(ctrd_cvol_layers | awk '$2 == "-" { print $1 }')" | wc -l)" \
		"the chain of cvol layers of the docker image"
	ctrd_cvol_assert_consistent "after the import of the docker save archive"
	assert_eq "from-docker
gone is gone" "$(ctrd_run_ok "$name" d1 sh -c 'cat /app/hello; [ -e /gone ] && echo gone is there || echo gone is gone')" \
		"ctr run on the docker image"
	ctrd_ok image rm --sync "$name" >/dev/null
	ctrd_cvol_assert_empty "after rm of the docker image"
}

# systemd's socket activation: cvol-snapshotter serves the listening socket it is passed
# (LISTEN_PID/LISTEN_FDS) and makes none of its own; containerd reaches it there.
test_containerd_cvol_socket_activation() {
	command -v systemd-socket-activate >/dev/null || skip "no systemd-socket-activate (package systemd)"
	ctrd_setup cvol
	ctrd_snapshotter_stop # the one ctrd_setup started on its own socket
	rm -f "$SNAP_SOCK"
	systemd-socket-activate -l "$SNAP_SOCK" "$CTRD_SNAP_BIN" --root "$SNAP_ROOT" \
		--socket "$WORK/own.sock" --debug >>"$WORK/ctrd/snapshotter.log" 2>&1 &
	CTRD_SNAP_PID=$! # systemd-socket-activate execs the snapshotter in its own process
	local i
	for ((i = 0; i < 50; i++)); do
		[ -S "$SNAP_SOCK" ] && break
		sleep 0.1
	done
	ctrd_wait_snapshots # the first connection starts it
	assert_eq "cvol-snapshotter" "$(basename "$(readlink "/proc/$CTRD_SNAP_PID/exe")")" \
		"the process behind the socket"
	assert_contains "$(readlink "/proc/$CTRD_SNAP_PID/fd/3")" "socket:" "the passed socket, fd 3"
	ctrd_import l3:latest 3
	assert_eq "layer 3" "$(ctrd_run_ok l3:latest c1 cat /layers/3)" "ctr run through the passed socket"
	assert_missing "$WORK/own.sock"
	ctrd_ok image rm --sync l3:latest >/dev/null
	assert_eq "[]" "$("$CVOL" --root "$SNAP_ROOT" --json layer ls | tr -d ' \n')" "cvol layer ls after rm"
}
