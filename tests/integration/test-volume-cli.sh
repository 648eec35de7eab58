# cvol volume: the volume store from the command line, the same store the plugin serves.
# The plugin_* helpers come from test-plugin.sh (run-all.sh sources every test file).

vcli() { "$CVOL" --root "$WORK/root" volume "$@"; }

vcli_require_tools() {
	command -v jq >/dev/null || skip "jq is not installed (make deps)"
}

vcli_dir() { printf '%s/root/volumes/%s' "$(cd "$WORK" && pwd -P)" "$1"; }

test_volume_cli_create_ls_inspect() {
	vcli_require_tools
	assert_eq v "$(vcli create -o size=64M v)" "create prints the name"
	assert_eq d "$(vcli create d)" "create of a dir volume"
	assert_eq v "$(vcli create -o size=64M v)" "create again with the same options"
	expect_failure vcli create -o size=128M v
	assert_one_line "$out" "create with other options"
	assert_contains "$out" 'size is `64M`' "create with other options"
	assert_contains "$out" '`128M`' "create with other options"

	local ls
	ls=$(vcli ls)
	assert_eq 3 "$(wc -l <<<"$ls")" "ls lines (header + 2)"
	assert_eq "NAME DRIVER MOUNTS BACKEND" "$(head -n 1 <<<"$ls" | tr -s ' ')" "ls header"
	assert_eq "d cvol 0 dir" "$(sed -n 2p <<<"$ls" | tr -s ' ' | sed 's/ $//')" "ls row of d"
	assert_eq "v cvol 0 loop" "$(sed -n 3p <<<"$ls" | tr -s ' ' | sed 's/ $//')" "ls row of v"

	local json
	json=$(vcli ls --json)
	assert_eq "d v" "$(jq -r '[.[].Name] | join(" ")' <<<"$json")" "ls --json names"
	assert_eq "dir loop" "$(jq -r '[.[].Status.Backend] | join(" ")' <<<"$json")" "ls --json backends"
	assert_eq "$json" "$("$CVOL" --root "$WORK/root" --json volume ls)" "cvol --json volume ls"

	json=$(vcli inspect v)
	assert_eq v "$(jq -r .Name <<<"$json")" "inspect Name"
	assert_eq "$(vcli_dir v)/_data" "$(jq -r .Mountpoint <<<"$json")" "inspect Mountpoint"
	[[ $(jq -r .CreatedAt <<<"$json") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
		fail "inspect CreatedAt is not RFC3339: $json"
	assert_eq loop "$(jq -r .Status.Backend <<<"$json")" "inspect Status.Backend"
	assert_eq 67108864 "$(jq -r .Status.Size <<<"$json")" "inspect Status.Size of an unmounted 64M volume"
	assert_eq 0 "$(jq -r .Status.Mounts <<<"$json")" "inspect Status.Mounts"
	assert_eq '{"size":"64M"}' "$(jq -c .Status.Options <<<"$json")" "inspect Status.Options"

	expect_failure vcli inspect nope
	assert_one_line "$out" "inspect of a missing volume"
	assert_contains "$out" "no such volume" "inspect of a missing volume"
}

test_volume_cli_mount_umount_rm() {
	vcli_require_tools
	vcli create -o size=64M v >/dev/null
	local mp img
	mp="$(vcli_dir v)/_data"
	img="$(vcli_dir v)/image"
	assert_eq "$mp" "$(vcli mount v)" "mount prints the mountpoint"
	is_mounted "$mp" || fail "cvol volume mount did not mount $mp"
	assert_eq '["cvol-cli"]' "$(vcli inspect v | jq -c .Status.MountIDs)" "default mount ID"
	assert_eq "$mp" "$(vcli mount v web1)" "mount with an explicit ID"
	assert_eq "$mp" "$(vcli mount v web1)" "mount with a repeated ID"
	assert_eq 1 "$(awk -v p="$mp" '$5 == p' /proc/self/mountinfo | wc -l)" "mounts on the mountpoint"
	assert_eq '["cvol-cli","web1"]' "$(vcli inspect v | jq -c '.Status.MountIDs | sort')" "mount IDs"
	assert_contains "$(vcli ls | tr -s ' ')" "v cvol 2 loop" "ls of a mounted volume"

	expect_failure vcli rm v
	assert_one_line "$out" "rm of a mounted volume"
	assert_contains "$out" "cvol-cli" "rm of a mounted volume"
	assert_contains "$out" "web1" "rm of a mounted volume"
	[ -d "$(vcli_dir v)" ] || fail "a refused rm removed the volume"

	vcli umount v
	is_mounted "$mp" || fail "umount of the default ID unmounted a volume web1 still holds"
	vcli umount v never-mounted
	vcli umount v web1
	assert_not_mounted "$mp"
	local i
	for ((i = 0; i < 40 && $(losetup -j "$img" | wc -l) > 0; i++)); do sleep 0.05; done
	assert_eq "" "$(losetup -j "$img")" "loop device after the last umount"
	vcli rm v
	assert_missing "$(vcli_dir v)"
	assert_eq 1 "$(vcli ls | wc -l)" "ls after rm"
	expect_failure vcli rm v
	assert_contains "$out" "no such volume" "rm of a removed volume"
}

test_volume_cli_bad_input() {
	vcli create keep >/dev/null
	local before long bad
	before=$(find "$WORK/root" | sort)
	long=$(printf 'x%.0s' $(seq 1 256))
	for bad in "../x" "/etc" "" "$long" ".hidden"; do
		expect_failure vcli create "$bad"
		assert_one_line "$out" "create '$bad'"
		assert_contains "$out" "invalid volume name" "create '$bad'"
		expect_failure vcli mount "$bad"
		assert_one_line "$out" "mount '$bad'"
		assert_contains "$out" "invalid volume name" "mount '$bad'"
	done
	expect_failure vcli create -o bogus=1 x
	assert_one_line "$out" "create with an unknown option"
	assert_contains "$out" "known: type, device, o, size, fs, uid, gid, mode, ro, create" "unknown option"
	expect_failure vcli create -o novalue x
	assert_one_line "$out" "create -o without ="
	assert_contains "$out" "KEY=VALUE" "create -o without ="
	expect_failure vcli create
	assert_contains "$out" "no volume name given" "create without a name"
	expect_failure vcli frob
	assert_contains "$out" 'unknown command `frob`' "unknown volume command"
	assert_eq "$before" "$(find "$WORK/root" | sort)" "store after refused commands"
}

# The CLI and a running plugin on the same root see each other's changes.
test_volume_cli_and_plugin_share_the_store() {
	plugin_require_tools
	plugin_start
	vcli create -o type=tmpfs from-cli >/dev/null
	plugin_ok VolumeDriver.List '{}'
	assert_eq from-cli "$(plugin_reply '[.Volumes[].Name] | join(" ")')" "plugin List of a volume the CLI made"
	plugin_ok VolumeDriver.Get '{"Name":"from-cli"}'
	assert_eq tmpfs "$(plugin_reply .Volume.Status.Backend)" "plugin Get of a volume the CLI made"

	plugin_ok VolumeDriver.Create '{"Name":"from-plugin","Opts":{"type":"tmpfs"}}'
	assert_contains "$(vcli ls | tr -s ' ')" "from-plugin cvol 0 tmpfs" "CLI ls of a volume the plugin made"

	local mp
	mp="$(vcli_dir from-plugin)/_data"
	plugin_ok VolumeDriver.Mount '{"Name":"from-plugin","ID":"c1"}'
	assert_eq '["c1"]' "$(vcli inspect from-plugin | jq -c .Status.MountIDs)" "CLI inspect after a plugin Mount"
	assert_eq "$mp" "$(vcli mount from-plugin)" "CLI mount of a volume the plugin mounted"
	assert_eq 1 "$(awk -v p="$mp" '$5 == p' /proc/self/mountinfo | wc -l)" "mounts after plugin and CLI mounts"
	plugin_get_ids from-plugin
	assert_eq "c1 cvol-cli" "$ids" "plugin Get after a CLI mount"
	expect_failure vcli rm from-plugin
	assert_contains "$out" "c1" "CLI rm of a volume the plugin mounted"
	plugin_refused VolumeDriver.Remove '{"Name":"from-plugin"}' 409 "cvol-cli"

	plugin_ok VolumeDriver.Unmount '{"Name":"from-plugin","ID":"c1"}'
	is_mounted "$mp" || fail "the plugin's Unmount dropped the CLI's mount"
	vcli umount from-plugin
	assert_not_mounted "$mp"
	plugin_get_ids from-plugin
	assert_eq "" "$ids" "plugin Get after the CLI's umount"

	plugin_ok VolumeDriver.Remove '{"Name":"from-cli"}'
	vcli rm from-plugin
	plugin_refused VolumeDriver.Get '{"Name":"from-plugin"}' 404 "no such volume"
	assert_eq 1 "$(vcli ls | wc -l)" "CLI ls after both removes"
	plugin_stop
}

# A create or remove in flight holds .staging.lock shared: a CLI start in the meantime
# leaves its staging dir alone, and the next start with nobody in flight cleans up.
test_volume_cli_leaves_staging_in_use() {
	vcli ls >/dev/null # make the store
	mkdir "$WORK/root/volumes/.staging/v-inflight"
	exec 9>"$WORK/root/volumes/.staging.lock"
	flock -s 9 # as a Create in flight holds it
	vcli ls >/dev/null
	[ -d "$WORK/root/volumes/.staging/v-inflight" ] || fail "a CLI start removed a staging dir in use"
	exec 9>&-
	vcli ls >/dev/null
	assert_missing "$WORK/root/volumes/.staging/v-inflight"
}

# Unmount writes the record before it unmounts: killed in between, the volume is left
# mounted with no ID, and the plugin's start unmounts it; Remove then works.
test_volume_cli_umount_killed_before_unmount() {
	command -v strace >/dev/null || skip "strace is not installed"
	vcli create -o type=tmpfs t >/dev/null
	local mp
	mp=$(vcli mount t)
	is_mounted "$mp" || fail "tmpfs volume not mounted"
	set +e
	strace -f -o /dev/null -e trace=umount2 -e inject=umount2:signal=SIGKILL "$CVOL" --root "$WORK/root" volume umount t
	set -e
	is_mounted "$mp" || fail "the kill came after the unmount"
	assert_contains "$(vcli inspect t)" '"Mounts": 0' "IDs after the killed umount"
	plugin_start
	assert_not_mounted "$mp"
	plugin_stop
	vcli rm t
	assert_missing "$(vcli_dir t)"
}

# A create killed while its new loop image is mounted to set the owner leaves a mount inside
# .staging/: the next start detaches it (the loop device goes with it) and removes the dir.
test_volume_cli_create_killed_with_image_mounted() {
	command -v strace >/dev/null || skip "strace is not installed"
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed (e2fsprogs)"
	vcli ls >/dev/null # make the store
	set +e
	strace -f -o /dev/null -e trace=umount2 -e inject=umount2:signal=SIGKILL \
		"$CVOL" --root "$WORK/root" volume create -o size=64M -o uid=1000 -o mode=0750 owned
	set -e
	local staged
	staged=$(ls -A "$WORK/root/volumes/.staging")
	[ -n "$staged" ] || fail "the kill left nothing in .staging"
	local data
	data="$(cd "$WORK/root/volumes/.staging" && pwd -P)/$staged/_data"
	is_mounted "$data" || fail "the kill came before the owner was set on the mounted image"
	vcli ls >/dev/null
	assert_not_mounted "$data"
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after the next start"
	assert_missing "$(vcli_dir owned)"
	assert_eq 1 "$(vcli ls | wc -l)" "ls after the killed create"
}

# A leftover in .staging/ that cannot be removed (here a tmpfs mounted inside it, deep in it
# for one of them, and an immutable file: EPERM) never makes a store refuse to open: `cvol volume ls`, `cvol layer ls` and
# the plugin go on, warn with the leftover's path and the whole cause, and leave the mount
# alone. Once it is unmounted, the next open removes the leftover.
test_store_open_keeps_a_leftover_it_cannot_remove() {
	vcli ls >/dev/null # make the stores
	"$CVOL" --root "$WORK/root" layer ls >/dev/null
	local root s mnt deep out
	root=$(cd "$WORK/root" && pwd -P)
	deep=$(printf 'd/%.0s' $(seq 1500)) # a cause deeper than the message's 1024 bytes
	for s in volumes overlay; do
		mkdir -p "$root/$s/.staging/r-stuck/in/mnt" "$root/$s/.staging/r-deep/${deep}mnt" \
			"$root/$s/.staging/c-gone/x"
		mount -t tmpfs stuck "$root/$s/.staging/r-stuck/in/mnt"
		mount -t tmpfs deep "$root/$s/.staging/r-deep/${deep}mnt"
		echo kept >"$root/$s/.staging/r-stuck/in/mnt/f"
		mkdir "$root/$s/.staging/r-perm"
		touch "$root/$s/.staging/r-perm/immutable"
		chattr +i "$root/$s/.staging/r-perm/immutable" || skip "chattr +i does not work on tmpfs here"
	done

	out=$(vcli ls 2>&1 >/dev/null) || fail "cvol volume ls with a stuck leftover failed: $out"
	assert_contains "$out" "warning: kept the leftover \`$root/volumes/.staging/r-stuck\`" "volume ls warning"
	assert_contains "$out" "remove \`r-stuck\`: \`in/mnt\` is a mount point; not removing" "volume ls warning"
	assert_contains "$out" "warning: kept the leftover \`$root/volumes/.staging/r-deep\`" "volume ls warning"
	assert_contains "$out" "d/d/mnt\` is a mount point; not removing" "cause of the deep leftover"
	assert_contains "$out" "kept the leftover \`$root/volumes/.staging/r-perm\`" "volume ls warning"
	assert_contains "$out" "remove \`r-perm\`: remove \`immutable\`: Operation not permitted" "EPERM warning"
	out=$("$CVOL" --root "$WORK/root" layer ls 2>&1 >/dev/null) || fail "cvol layer ls with a stuck leftover failed: $out"
	assert_contains "$out" "kept the leftover \`$root/overlay/.staging/r-perm\`" "layer ls warning"
	assert_contains "$out" "kept the leftover \`$root/overlay/.staging/r-stuck\`" "layer ls warning"
	assert_contains "$out" "\`in/mnt\` is a mount point; not removing" "layer ls warning"
	local line
	while IFS= read -r line; do
		[ ${#line} -lt 1300 ] || fail "a warning line of ${#line} bytes: $line"
	done <<<"$out"
	for s in volumes overlay; do
		mnt="$root/$s/.staging/r-stuck/in/mnt"
		is_mounted "$mnt" || fail "the open unmounted $mnt"
		assert_file_content "$mnt/f" kept
		is_mounted "$root/$s/.staging/r-deep/${deep}mnt" || fail "the open unmounted the deep mount in $s"
		assert_missing "$root/$s/.staging/c-gone" # the other leftovers still go
	done
	vcli create v >/dev/null
	assert_eq v "$(vcli ls 2>/dev/null | tail -n 1 | awk '{ print $1 }')" "ls after a create next to a stuck leftover"
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.List '{}'
	assert_eq v "$(plugin_reply '.Volumes[0].Name')" "List of the plugin started next to a stuck leftover"
	plugin_stop
	assert_contains "$(cat "$WORK/plugin.log")" "kept the leftover \`$root/volumes/.staging/r-stuck\`" "plugin log"

	for s in volumes overlay; do
		umount "$root/$s/.staging/r-stuck/in/mnt" "$root/$s/.staging/r-deep/${deep}mnt"
		chattr -i "$root/$s/.staging/r-perm/immutable"
	done
	out=$(vcli ls 2>&1 >/dev/null)
	assert_eq "" "$out" "warnings of volume ls once nothing is mounted"
	out=$("$CVOL" --root "$WORK/root" layer ls 2>&1 >/dev/null)
	assert_eq "" "$out" "warnings of layer ls once nothing is mounted"
	for s in volumes overlay; do
		assert_eq "" "$(ls -A "$root/$s/.staging")" "$s/.staging once the mount is gone"
	done
}

# docs/operator-guide.md's backup and restore, as written there: a loop volume's files, owners,
# modes and xattrs go through tar into a new volume made with the same options.
test_volume_cli_backup_restore_as_documented() {
	vcli_require_tools
	command -v tar >/dev/null || skip "tar is not installed"
	local mp
	vcli create -o size=64M data >/dev/null
	mp=$(vcli mount data writer)
	mkdir "$mp/dir"
	echo kept >"$mp/dir/f"
	chown 1234:5678 "$mp/dir/f"
	chmod 0640 "$mp/dir/f"
	setfattr -n user.note -v backed-up "$mp/dir/f"
	vcli umount data writer

	# back up
	mp=$(vcli mount data backup)
	tar -C "$mp" --numeric-owner --xattrs --acls -cpf "$WORK/data.tar" .
	vcli umount data backup
	vcli rm data >/dev/null

	# restore
	vcli create -o size=64M data >/dev/null
	mp=$(vcli mount data restore)
	tar -C "$mp" --numeric-owner --xattrs --acls -xpf "$WORK/data.tar"
	vcli umount data restore

	mp=$(vcli mount data check)
	assert_file_content "$mp/dir/f" kept
	assert_eq "1234:5678 640" "$(stat -c '%u:%g %a' "$mp/dir/f")" "owner and mode after the restore"
	assert_eq backed-up "$(getfattr --only-values -n user.note "$mp/dir/f")" "xattr after the restore"
	vcli umount data check
	assert_not_mounted "$mp"
}
