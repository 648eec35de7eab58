# End to end with the managed (v2) plugin: contrib/plugin/make-rootfs.sh lays out the plugin
# from the binaries under test, a private dockerd (as in test-docker.sh, whose docker_e2e_*
# helpers these tests use) takes it with `docker plugin create`, its store is a shared bind
# mount of a dir under $WORK (`docker plugin set cvol/cvol store.source=...`), and busybox
# containers use its volumes. Each test starts dockerd and stops it when it ends.

MANAGED_NAME=cvol/cvol
MANAGED_DRIVER=cvol/cvol:latest # what `docker volume inspect` shows as the driver

# The plugin dir (config.json + rootfs/) from the binaries under test, made once per test in
# $WORK: fast (a copy of a few files), and no race with a `make` running beside the tests.
managed_make_plugin_dir() {
	local o
	o=$("$TOP/contrib/plugin/make-rootfs.sh" "$CVOL_BIN_DIR" "$WORK/plugin-src" 2>&1) ||
		fail "contrib/plugin/make-rootfs.sh: $o"
}

# A store dir that is a shared mount, so that what the plugin mounts in it (tmpfs and loop
# volumes) propagates back here and outlives the plugin's process.
managed_make_store() {
	mkdir -p "$WORK/store"
	[ -z "${MANAGED_PRIVATE_STORE:-}" ] || return 0 # left private, as this test namespace's dirs are
	mount --bind "$WORK/store" "$WORK/store"
	mount --make-shared "$WORK/store"
}

# The plugin's id (its container's id in containerd's plugins.moby namespace).
managed_plugin_id() {
	docker_e2e_ok plugin inspect --format '{{.Id}}' "$MANAGED_NAME"
}

# The pid of the plugin's process, from the private containerd (never by its name: another
# dockerd on this machine may run the same plugin).
managed_plugin_pid() {
	local id
	id=$(managed_plugin_id) || return 1
	ctr --address "$WORK/exec/containerd/containerd.sock" -n plugins.moby task ls 2>/dev/null |
		awk -v id="$id" '$1 == id && $3 == "RUNNING" { print $2 }'
}

# Remember the plugin's pid, so that teardown can end it if dockerd did not.
managed_note_pid() {
	local pid
	pid=$(managed_plugin_pid) || return 1
	[ -n "$pid" ] || { fail "no running task for the plugin in containerd's plugins.moby namespace"; return 1; }
	echo "$pid" >>"$WORK/plugin-pids"
	printf '%s\n' "$pid"
}

# On failure the plugin's last lines (dockerd logs them, plugin=<id>); dockerd stopped, a
# plugin's process that outlived it ended, the test's loop devices detached.
managed_teardown() {
	local rc=$? pid
	set +e
	if [ "$rc" -ne 0 ]; then
		echo "--- the plugin's lines in dockerd's log (tail)"
		grep 'plugin=' "$WORK/dockerd.log" 2>/dev/null | tail -n 6
	fi
	(exit "$rc") # docker_e2e_teardown reads the test's status from $?
	docker_e2e_teardown
	for pid in $(cat "$WORK/plugin-pids" 2>/dev/null); do
		grep -q cvol-plugin "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"
	done
	# a loop device the test set up: detached now, or (still mounted) at its last unmount
	local dev
	for dev in $(cat "$WORK/loop-devices" 2>/dev/null); do
		losetup -d "$dev"
	done
	return "$rc"
}

# Create, set and enable the plugin from $WORK/plugin-src, its store in $WORK/store, root's home
# (the mount `home`) in $WORK/home: never the host's /root, whose .ssh is not the test's.
managed_install() {
	mkdir -p "$WORK/home/.ssh"
	chmod 700 "$WORK/home" "$WORK/home/.ssh"
	docker_e2e_ok plugin create "$MANAGED_NAME" "$WORK/plugin-src" >/dev/null
	docker_e2e_ok plugin set "$MANAGED_NAME" store.source="$WORK/store" home.source="$WORK/home" >/dev/null
	docker_e2e_ok plugin enable "$MANAGED_NAME" >/dev/null
	managed_note_pid >/dev/null
}

# Skip without docker, ctr or mkfs.ext4, or when dockerd cannot start; else a private dockerd
# with the managed plugin enabled, and the busybox image. With MANAGED_NETNS set, dockerd (and
# so the plugin, on dockerd's network) runs in that network namespace (/run/netns/NAME).
managed_setup() {
	command -v ctr >/dev/null || skip "ctr is not installed (containerd, make deps)"
	command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed (e2fsprogs)"
	docker_e2e_isolate '{}'
	trap managed_teardown EXIT
	managed_make_plugin_dir
	managed_make_store
	local dockerd=$DOCKER_E2E_DOCKERD
	if [ -n "${MANAGED_NETNS:-}" ]; then # nsenter execs dockerd: the pid stays dockerd's
		printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$MANAGED_NETNS" "$dockerd" >"$WORK/dockerd-in-ns"
		chmod +x "$WORK/dockerd-in-ns"
		dockerd=$WORK/dockerd-in-ns
	fi
	# dockerd that cannot start here (no cgroups, say) is the machine's, not the plugin's
	DOCKER_E2E_DOCKERD=$dockerd docker_e2e_dockerd_start || skip "dockerd cannot start here: $(cat "$WORK/.fail")"
	docker_e2e_make_image
	managed_install
}

managed_create() { # name [-o opt]...
	local name=$1
	shift
	assert_eq "$name" "$(docker_e2e_ok volume create -d "$MANAGED_NAME" "$@" "$name")" "docker volume create $name"
}

# The names of the managed plugin's volumes that dockerd lists, sorted, on one line.
managed_volume_names() {
	local names
	names=$(docker_e2e_ok volume ls --filter driver="$MANAGED_DRIVER" --format '{{.Name}}') || return 1
	printf '%s\n' "$names" | sort | paste -sd ' '
}

managed_sorted() { # word...
	printf '%s\n' "$@" | sort | paste -sd ' '
}

# How many mounts sit exactly on PATH in this namespace.
managed_mount_count() { # path
	awk -v p="$1" '$5 == p { n++ } END { print n + 0 }' /proc/self/mountinfo
}

# How many mounts on PATH sit on another mount on PATH: a volume mounted twice over. (A mount
# can also show up twice on a path side by side, propagated to two peers of a shared subtree
# such as dockerd's data root and the propagated mount bound on itself inside it; the one
# under the bind is hidden and harmless.)
managed_stacked_count() { # path
	awk -v p="$1" '$5 == p { at[$1] = 1; parent[$1] = $2 }
		END { for (id in at) if (parent[id] in at) n++; print n + 0 }' /proc/self/mountinfo
}

# PATH is mounted, once: no mount stacked on another there.
managed_assert_mounted_once() { # path what
	[ "$(managed_mount_count "$1")" -ge 1 ] || fail "$2: nothing mounted on $1"
	assert_eq 0 "$(managed_stacked_count "$1")" "$2: mounts stacked on $1"
}

# The volumes' data dir in the store, as the host sees it.
managed_data() { # name
	printf '%s\n' "$WORK/store/volumes/$1/_data"
}

# Volumes of every backend with a line of data each, and an xfs one when mkfs.xfs is here:
# sets MANAGED_VOLS.
managed_create_every_backend() { # prefix
	local p=$1 v
	mkdir -p "$WORK/www"
	managed_create "${p}dir"
	managed_create "${p}bind" -o type=bind -o device="$WORK/www"
	managed_create "${p}loop" -o size=64M
	MANAGED_VOLS="${p}bind ${p}dir ${p}loop"
	if command -v mkfs.xfs >/dev/null; then
		managed_create "${p}xfs" -o size=320M -o fs=xfs # mkfs.xfs takes 300M at least
		MANAGED_VOLS+=" ${p}xfs"
	fi
	for v in $MANAGED_VOLS; do
		docker_e2e_run -v "$v:/data" -- sh -c "echo 'data of $v' > /data/f"
	done
}

# Every volume of MANAGED_VOLS still holds its line, read in a new container.
managed_assert_data() { # what
	local v
	for v in $MANAGED_VOLS; do
		assert_eq "data of $v" "$(docker_e2e_run -v "$v:/data" -- cat /data/f)" "$v $1"
	done
}

# A container holding a tmpfs volume (its data lives only while it is mounted) with a line in it.
managed_hold_tmpfs() { # container volume
	managed_create "$2" -o type=tmpfs -o o=size=16m
	docker_e2e_ok run -d --name "$1" --network none --stop-timeout 1 -v "$2:/data" \
		"$DOCKER_E2E_IMAGE" sh -c "echo 'data of $2' > /data/f; sleep 1000" >/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(docker_e2e_cli exec "$1" cat /data/f 2>/dev/null)" = "data of $2" ] && return 0
		sleep 0.1
	done
	fail "container $1 did not write to $2"
}

# Every backend through the managed plugin (dir, bind, loop ext4 and xfs, tmpfs, type=ext4 on
# a host device): create, write in one container, read in the next, the size caps inside a
# container, the bind volume's host dir, rm.
test_managed_plugin_backends() {
	managed_setup
	assert_contains "$(docker_e2e_ok plugin ls --format '{{.Name}} {{.Enabled}}')" "$MANAGED_DRIVER true" \
		"docker plugin ls"
	managed_create_every_backend m
	managed_create mtmp -o type=tmpfs -o o=size=16m
	assert_eq "$(managed_sorted $MANAGED_VOLS mtmp)" "$(managed_volume_names)" "docker volume ls"
	local v
	for v in mdir mloop mbind mtmp; do
		assert_eq "$MANAGED_DRIVER local" "$(docker_e2e_inspect $v '{{.Driver}} {{.Scope}}')" "driver and scope of $v"
	done
	assert_eq "dir bind loop tmpfs" "$(for v in mdir mbind mloop mtmp; do
		docker_e2e_inspect $v '{{.Status.Backend}}'
	done | paste -sd ' ')" "backends"
	managed_assert_data "read back in a new container"

	# the store is the host dir set as store.source
	assert_file_content "$(managed_data mdir)/f" "data of mdir"
	# bind: the host dir itself, both ways
	assert_file_content "$WORK/www/f" "data of mbind"
	echo from-host >"$WORK/www/index.html"
	assert_eq from-host "$(docker_e2e_run -v mbind:/data -- cat /data/index.html)" "host file in mbind"

	# loop: a 64M ext4 image, its limit enforced inside the container
	local kib
	kib=$(docker_e2e_df_kib -v mloop:/data)
	[ "$kib" -gt 50000 ] && [ "$kib" -le 65536 ] || fail "size of mloop in a container: ${kib} KiB, expected about 64M"
	assert_eq ext2/ext3 "$(docker_e2e_run -v mloop:/data -- stat -f -c %T /data)" \
		"filesystem of mloop (busybox stat names ext4 so)"
	expect_failure docker_e2e_cli run --rm --network none -v mloop:/data "$DOCKER_E2E_IMAGE" \
		dd if=/dev/zero of=/data/big bs=1M count=100
	assert_contains "$out" "No space left on device" "dd of 100M into the 64M volume mloop"
	docker_e2e_run -v mloop:/data -- rm /data/big
	assert_eq "data of mloop" "$(docker_e2e_run -v mloop:/data -- cat /data/f)" "mloop after it was filled"
	assert_eq "0 false" "$(docker_e2e_inspect mloop '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"mounts of mloop after its containers ended"
	assert_not_mounted "$(managed_data mloop)"
	if [[ " $MANAGED_VOLS " == *" mxfs "* ]]; then
		assert_eq xfs "$(docker_e2e_run -v mxfs:/data -- stat -f -c %T /data)" "filesystem of mxfs"
	fi

	# tmpfs: 16m of memory, its cap enforced
	assert_eq 16384 "$(docker_e2e_df_kib -v mtmp:/data)" "size of mtmp in a container (KiB)"
	expect_failure docker_e2e_cli run --rm --network none -v mtmp:/data "$DOCKER_E2E_IMAGE" \
		dd if=/dev/zero of=/data/big bs=1M count=32
	assert_contains "$out" "No space left on device" "dd of 32M into the 16m tmpfs mtmp"

	# type=ext4 on a block device of the host: a loop device this test sets up
	truncate -s 64M "$WORK/dev.img"
	mkfs.ext4 -q -F "$WORK/dev.img"
	local dev
	dev=$(losetup --find --show "$WORK/dev.img")
	echo "$dev" >>"$WORK/loop-devices"
	managed_create mdev -o type=ext4 -o device="$dev"
	assert_eq mount "$(docker_e2e_inspect mdev '{{.Status.Backend}}')" "backend of mdev"
	docker_e2e_run -v mdev:/data -- sh -c 'echo on-dev > /data/f'
	assert_eq on-dev "$(docker_e2e_run -v mdev:/data -- cat /data/f)" "mdev read back in a new container"
	assert_not_mounted "$(managed_data mdev)"
	assert_eq on-dev "$(debugfs -R 'cat /f' "$WORK/dev.img" 2>/dev/null)" "the file on the device under mdev"
	docker_e2e_ok volume rm mdev >/dev/null

	# what the plugin refuses reaches the user with its reason
	expect_failure docker_e2e_cli volume create -d "$MANAGED_NAME" -o bogus=1 mbad
	assert_contains "$out" "unknown option \`bogus\`" "create with an unknown option"

	for v in $MANAGED_VOLS mtmp; do
		docker_e2e_ok volume rm "$v" >/dev/null
		assert_missing "$WORK/store/volumes/$v"
	done
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
	assert_file_content "$WORK/www/f" "data of mbind"
	assert_eq "" "$(awk -v r="$WORK/store/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)" \
		"mounts left in the store"
}

# `docker plugin disable` (-f: the plugin holds volumes) and enable: every volume is listed
# again with its data, and a tmpfs volume held by a running container keeps its data and
# is joined by a new container.
test_managed_plugin_disable_enable() {
	managed_setup
	managed_create_every_backend d
	managed_hold_tmpfs holder dtmp
	expect_failure docker_e2e_cli plugin disable "$MANAGED_NAME"
	assert_contains "$out" "in use" "docker plugin disable while volumes exist"

	docker_e2e_ok plugin disable -f "$MANAGED_NAME" >/dev/null
	assert_contains "$(docker_e2e_ok plugin ls --format '{{.Name}} {{.Enabled}}')" "$MANAGED_DRIVER false" \
		"docker plugin ls after disable"
	expect_failure docker_e2e_cli volume create -d "$MANAGED_NAME" dnew
	assert_contains "$out" "disabled" "docker volume create with the plugin disabled"
	# the running container keeps its tmpfs
	assert_eq "data of dtmp" "$(docker_e2e_ok exec holder cat /data/f)" "dtmp in its container, plugin disabled"

	# the settings besides the store: debug lines by area, in dockerd's log, and more options
	docker_e2e_ok plugin set "$MANAGED_NAME" CVOL_DEBUG=volume >/dev/null
	docker_e2e_ok plugin set "$MANAGED_NAME" args="--scope global" >/dev/null
	docker_e2e_ok plugin enable "$MANAGED_NAME" >/dev/null
	managed_note_pid >/dev/null
	local id
	id=$(managed_plugin_id)
	grep "plugin=$id" "$WORK/dockerd.log" | grep -q 'msg="debug: .*dtmp' ||
		fail "no debug line of the plugin about dtmp in dockerd's log after docker plugin set CVOL_DEBUG=volume"
	assert_eq "$(managed_sorted $MANAGED_VOLS dtmp)" "$(managed_volume_names)" "docker volume ls after enable"
	assert_eq global "$(docker_e2e_ok volume inspect -f '{{.Scope}}' dtmp)" \
		"the scope of dtmp after docker plugin set args=\"--scope global\""
	managed_assert_data "after disable and enable"
	assert_eq "data of dtmp" "$(docker_e2e_run -v dtmp:/data -- cat /data/f)" \
		"dtmp read by a new container after disable and enable"
	docker_e2e_ok exec holder sh -c 'echo more >> /data/f' >/dev/null
	assert_eq "data of dtmp more" "$(docker_e2e_run -v dtmp:/data -- cat /data/f | paste -sd ' ')" \
		"dtmp written by the old container, read by a new one"
	assert_eq 1 "$(managed_mount_count "$(managed_data dtmp)")" "mounts of dtmp's tmpfs in the store"

	docker_e2e_ok rm -f holder >/dev/null
	assert_not_mounted "$(managed_data dtmp)"
	docker_e2e_ok volume rm dtmp $MANAGED_VOLS >/dev/null
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
}

# `docker plugin rm -f` deletes the plugin with its rootfs and propagated mount; the store is
# a host dir, so create, set and enable bring every volume back with its data, and running
# containers keep their tmpfs and loop volumes, shared with new containers, mounted once.
test_managed_plugin_rm_recreate() {
	managed_setup
	managed_create_every_backend r
	managed_hold_tmpfs holder rtmp
	docker_e2e_ok run -d --name lholder --network none --stop-timeout 1 -v rloop:/data \
		"$DOCKER_E2E_IMAGE" sleep 1000 >/dev/null
	local old_id
	old_id=$(managed_plugin_id)

	docker_e2e_ok plugin rm -f "$MANAGED_NAME" >/dev/null
	expect_failure docker_e2e_cli plugin inspect "$MANAGED_NAME"
	assert_missing "$WORK/docker/plugins/$old_id"
	assert_file_content "$(managed_data rdir)/f" "data of rdir"

	# a store dir that does not exist: enable fails and says so
	docker_e2e_ok plugin create "$MANAGED_NAME" "$WORK/plugin-src" >/dev/null
	docker_e2e_ok plugin set "$MANAGED_NAME" store.source="$WORK/nostore" >/dev/null
	expect_failure docker_e2e_cli plugin enable "$MANAGED_NAME"
	assert_contains "$out" "$WORK/nostore" "docker plugin enable with a missing store.source"
	# nor root's home set to a dir that does not exist
	docker_e2e_ok plugin set "$MANAGED_NAME" store.source="$WORK/store" home.source="$WORK/nohome" >/dev/null
	expect_failure docker_e2e_cli plugin enable "$MANAGED_NAME"
	assert_contains "$out" "$WORK/nohome" "docker plugin enable with a missing home.source"
	docker_e2e_ok plugin rm -f "$MANAGED_NAME" >/dev/null

	managed_install
	[ "$(managed_plugin_id)" != "$old_id" ] || fail "the plugin kept its id through rm and create"
	assert_eq "$(managed_sorted $MANAGED_VOLS rtmp)" "$(managed_volume_names)" "docker volume ls after rm, create and enable"
	managed_assert_data "after plugin rm, create and enable"
	assert_eq "data of rtmp" "$(docker_e2e_ok exec holder cat /data/f)" "rtmp in its container"
	assert_eq "data of rtmp" "$(docker_e2e_run -v rtmp:/data -- cat /data/f)" \
		"rtmp read by a new container after plugin rm, create and enable"
	assert_eq 1 "$(managed_mount_count "$(managed_data rtmp)")" "mounts of rtmp's tmpfs in the store"
	# a loop volume in use across it: the same mount, written on both sides
	assert_eq "data of rloop" "$(docker_e2e_ok exec lholder cat /data/f)" "rloop in its container"
	docker_e2e_ok exec lholder sh -c 'echo more >> /data/f' >/dev/null
	assert_eq "data of rloop more" "$(docker_e2e_run -v rloop:/data -- cat /data/f | paste -sd ' ')" \
		"rloop written by the old container, read by a new one"
	assert_eq 1 "$(managed_mount_count "$(managed_data rloop)")" "mounts of rloop's image in the store"

	docker_e2e_ok rm -f holder lholder >/dev/null
	assert_not_mounted "$(managed_data rloop)"
	docker_e2e_ok volume rm rtmp $MANAGED_VOLS >/dev/null
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
}

# The plugin's process killed (-9) while a container uses its volumes: dockerd starts it
# again, the running container keeps its data, a new container on the same volumes sees it,
# and nothing is mounted twice (neither the loop image in the store nor the volume in the
# propagated mount).
test_managed_plugin_killed() {
	managed_setup
	managed_create kdir
	managed_create kloop -o size=64M
	managed_create ktmp -o type=tmpfs -o o=size=8m
	docker_e2e_ok run -d --name holder --network none --stop-timeout 1 \
		-v kdir:/d -v kloop:/l -v ktmp:/t "$DOCKER_E2E_IMAGE" \
		sh -c 'echo d > /d/x; echo l > /l/x; echo t > /t/x; sleep 1000' >/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(docker_e2e_cli exec holder cat /t/x 2>/dev/null)" = t ] && break
		sleep 0.1
	done
	local id prop old new
	id=$(managed_plugin_id)
	prop="$WORK/docker/plugins/$id/propagated-mount"
	assert_eq 1 "$(managed_mount_count "$(managed_data kloop)")" "mounts of kloop's image in the store"
	managed_assert_mounted_once "$prop/kloop" "kloop in the propagated mount"
	old=$(managed_plugin_pid)
	[ -n "$old" ] || fail "no pid for the plugin"

	kill -9 "$old"
	for ((i = 0; i < 100; i++)); do
		new=$(managed_plugin_pid)
		[ -n "$new" ] && [ "$new" != "$old" ] && docker_e2e_cli volume inspect kdir >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "dockerd did not start the plugin again in 10 s"
	echo "$new" >>"$WORK/plugin-pids"
	assert_eq "kdir kloop ktmp" "$(managed_volume_names)" "docker volume ls after the plugin was killed"
	assert_eq "d l t" "$(docker_e2e_ok exec holder sh -c 'echo $(cat /d/x /l/x /t/x)')" \
		"data seen by the running container"
	assert_eq "1 true" "$(docker_e2e_inspect kloop '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"kloop after the plugin was killed"
	assert_eq "d l t" "$(docker_e2e_run -v kdir:/d -v kloop:/l -v ktmp:/t -- sh -c 'echo $(cat /d/x /l/x /t/x)')" \
		"data seen by a new container"
	docker_e2e_ok exec holder sh -c 'echo after > /l/y' >/dev/null
	assert_eq after "$(docker_e2e_run -v kloop:/l -- cat /l/y)" "write after the restart, read in another container"
	local v
	for v in kloop ktmp; do
		assert_eq 1 "$(managed_mount_count "$(managed_data $v)")" "mounts of $v in the store after the restart"
	done
	for v in kdir kloop ktmp; do
		managed_assert_mounted_once "$prop/$v" "$v in the propagated mount after the restart"
	done

	docker_e2e_ok rm -f holder >/dev/null
	assert_not_mounted "$(managed_data kloop)"
	assert_eq "l" "$(docker_e2e_run -v kloop:/l -- cat /l/x)" "kloop data after the container left"
	docker_e2e_ok volume rm kdir kloop ktmp >/dev/null
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
}

# A store.source that is not a shared mount on the host (here, a dir of this test's private
# namespace): the plugin's tmpfs mounts die with its process, and nothing says so when the
# plugin is enabled. Killed and started again by dockerd, it finds a volume held by a running
# container but not mounted: dockerd's log gets one line that names the volume and the cause.
test_managed_plugin_private_store_warns() {
	MANAGED_PRIVATE_STORE=1 managed_setup
	managed_hold_tmpfs holder ptmp
	local old new i
	old=$(managed_plugin_pid)
	[ -n "$old" ] || fail "no pid for the plugin"
	kill -9 "$old"
	for ((i = 0; i < 100; i++)); do
		new=$(managed_plugin_pid)
		[ -n "$new" ] && [ "$new" != "$old" ] && docker_e2e_cli volume inspect ptmp >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "dockerd did not start the plugin again in 10 s"
	echo "$new" >>"$WORK/plugin-pids"
	local lines
	lines=$(grep 'plugin=' "$WORK/dockerd.log" | grep "volume \`ptmp\`" || true)
	assert_eq 1 "$(printf '%s' "$lines" | grep -c . || true)" "lines on ptmp in dockerd's log after the restart"
	assert_contains "$lines" "not a shared mount on the host" "dockerd's log on ptmp"
	docker_e2e_ok rm -f holder >/dev/null
	docker_e2e_ok volume rm ptmp >/dev/null
}

# dockerd stopped (it stops its containers and the plugin) and started again: the plugin is
# enabled again by dockerd itself, every volume is listed with its data, and a container that
# docker restarts finds its loop volume.
test_managed_plugin_dockerd_restart() {
	managed_setup
	managed_create_every_backend s
	docker_e2e_ok run -d --name svc --restart always --network none --stop-timeout 1 -v sloop:/data \
		"$DOCKER_E2E_IMAGE" sleep 1000 >/dev/null
	docker_e2e_dockerd_stop
	assert_not_mounted "$(managed_data sloop)"

	docker_e2e_dockerd_start
	assert_contains "$(docker_e2e_ok plugin ls --format '{{.Name}} {{.Enabled}}')" "$MANAGED_DRIVER true" \
		"docker plugin ls after the dockerd restart"
	managed_note_pid >/dev/null
	assert_eq "$(managed_sorted $MANAGED_VOLS)" "$(managed_volume_names)" "docker volume ls after the dockerd restart"
	managed_assert_data "after the dockerd restart"
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(docker_e2e_cli inspect --format '{{.State.Running}}' svc 2>/dev/null)" = true ] && break
		sleep 0.2
	done
	assert_eq "data of sloop" "$(docker_e2e_ok exec svc cat /data/f)" "the restart=always container after the dockerd restart"
	assert_eq "1 true" "$(docker_e2e_inspect sloop '{{.Status.Mounts}} {{.Status.Mounted}}')" "sloop in use again"

	docker_e2e_ok rm -f svc >/dev/null
	assert_not_mounted "$(managed_data sloop)"
	docker_e2e_ok volume rm $MANAGED_VOLS >/dev/null
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
}

# What `make plugin` lays out, without docker: the config dockerd reads, and a rootfs whose
# programs run in it alone (chroot: every library they load is in it), made the same twice.
test_managed_plugin_rootfs() {
	managed_make_plugin_dir
	local src=$WORK/plugin-src root=$WORK/plugin-src/rootfs
	[ -f "$src/config.json" ] && [ -d "$root" ] || fail "make-rootfs.sh made no config.json and rootfs/ in $src"
	command -v jq >/dev/null || skip "jq is not installed (make deps)"
	assert_eq "docker.volumedriver/1.0 cvol.sock /mnt/volumes host store:/var/lib/cvol:source home:/root:source" \
		"$(jq -r '[.interface.types[0], .interface.socket, .propagatedMount, .network.type,
			(.mounts[] | select(.settable | length > 0) | "\(.name):\(.source):\(.settable[0])")] | join(" ")' \
			"$src/config.json")" "config.json"
	assert_eq "$(jq -r '.entrypoint[0]' "$src/config.json")" /usr/sbin/cvol-plugin "the entrypoint"
	assert_eq "args value 0" "$(jq -r '"\(.args.name) \(.args.settable[0]) \(.args.value | length)"' "$src/config.json")" \
		"config.json's settable args (empty by default)"
	# the plugin always has a /proc (runc mounts one; an ASan build's leak check needs it at exit)
	# and the host's /dev (the mount `dev`: ssh opens /dev/null)
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	assert_contains "$(chroot "$root" /usr/sbin/cvol-plugin --version 2>&1)" "cvol-plugin " "cvol-plugin in the rootfs"
	assert_contains "$(chroot "$root" /usr/sbin/cvol-plugin --help 2>&1)" "--mount-dir" "cvol-plugin --help in the rootfs"
	mkdir -p "$root/tmp/t"
	truncate -s 64M "$root/tmp/t/img"
	chroot "$root" /usr/sbin/mkfs.ext4 -q -F /tmp/t/img >/dev/null 2>&1 || fail "mkfs.ext4 does not run in the rootfs"
	assert_contains "$(blkid -o value -s TYPE "$root/tmp/t/img")" ext4 "the image mkfs.ext4 made in the rootfs"
	if [ -x "$root/usr/sbin/mkfs.xfs" ]; then
		truncate -s 320M "$root/tmp/t/img"
		chroot "$root" /usr/sbin/mkfs.xfs -q -f /tmp/t/img >/dev/null 2>&1 || fail "mkfs.xfs does not run in the rootfs"
		assert_eq xfs "$(blkid -o value -s TYPE "$root/tmp/t/img")" "the image mkfs.xfs made in the rootfs"
	fi
	rm -r "$root/tmp/t"
	# sshfs volumes: sshfs and ssh run, and ssh, as root, finds its user and the known hosts
	assert_contains "$(chroot "$root" /usr/bin/sshfs --version 2>&1)" "SSHFS version" "sshfs --version in the rootfs"
	assert_contains "$(chroot "$root" /usr/bin/ssh -V 2>&1)" "OpenSSH" "ssh -V in the rootfs"
	local cfg
	cfg=$(chroot "$root" /usr/bin/ssh -G -p 2222 u@10.231.0.1 2>&1) || fail "ssh -G in the rootfs: $cfg"
	assert_contains "$cfg" "userknownhostsfile /var/lib/cvol/known_hosts /root/.ssh/known_hosts" \
		"ssh's known hosts in the rootfs (the store's first: /root/.ssh is bound read-only)"
	assert_contains "$cfg" "identityfile ~/.ssh/id_ed25519" "ssh's default keys in the rootfs"
	umount -R "$root/dev"
	umount "$root/proc"
	"$TOP/contrib/plugin/make-rootfs.sh" "$CVOL_BIN_DIR" "$WORK/again" >/dev/null 2>&1 || fail "make-rootfs.sh failed the second time"
	local d
	d=$(diff -r --no-dereference "$src" "$WORK/again" 2>&1) || fail "make-rootfs.sh made another tree the second time: $d"
	assert_missing "$WORK/again.tmp"
}

# Both teardowns; on failure, sshd's last words first (sshfs hides ssh's).
managed_sshfs_teardown() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "--- sshd's log (tail)"
		tail -n 8 "$WORK/sshd.log" 2>/dev/null
	fi
	(exit "$rc")
	managed_teardown
	sshfs_teardown
}

# sshfs volumes through the managed plugin, as vieux/docker-volume-sshfs users make them: the
# storage host of test-sshfs.sh (its own sshd, key and password user, in a network namespace),
# dockerd and so the plugin (host network: dockerd's) in the client namespace. Keys are in the
# .ssh of the dir set as `home.source`, the plugin's /root; the host key is learnt into the store.
# Then the plugin replaces vieux/sshfs under its name, and takes vieux's option set.
test_managed_plugin_sshfs() {
	command -v sshfs_storage_host >/dev/null || skip "test-sshfs.sh's helpers are not loaded"
	sshfs_storage_host
	MANAGED_NETNS=$SSHFS_NS_C managed_setup
	trap managed_sshfs_teardown EXIT
	# a key under a name ssh does not try by itself: only IdentityFile names it
	install -m 600 "$WORK/ssh/id" "$WORK/home/.ssh/cvol_key"
	echo old >"$WORK/srv/before"

	# a key: a container writes, the file is on the server, a second container reads it
	managed_create mkey -o "sshcmd=root@$SSHFS_ADDR:$WORK/srv" -o "port=$SSHFS_PORT" \
		-o IdentityFile=/root/.ssh/cvol_key -o reconnect
	assert_eq "$MANAGED_DRIVER sshfs" "$(docker_e2e_inspect mkey '{{.Driver}} {{.Status.Backend}}')" \
		"driver and backend of mkey"
	docker_e2e_run -v mkey:/data -- sh -c '[ "$(cat /data/before)" = old ] && echo from-managed > /data/f'
	assert_file_content "$WORK/srv/f" from-managed
	assert_eq from-managed "$(docker_e2e_run -v mkey:/data -- cat /data/f)" "mkey read in a second container"
	assert_eq "0 false" "$(docker_e2e_inspect mkey '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"mounts of mkey after its containers ended"
	assert_not_mounted "$(managed_data mkey)"
	# accept-new learnt the server's key, in the store (the plugin's /root/.ssh is read-only)
	assert_contains "$(cat "$WORK/store/known_hosts" 2>&1)" "[$SSHFS_ADDR]:$SSHFS_PORT $(cut -d' ' -f1,2 "$WORK/ssh/host.pub")" \
		"the store's known_hosts"
	assert_missing "$WORK/home/.ssh/known_hosts"
	# and checks it from then on: a server whose key is not that one is refused
	cp "$WORK/store/known_hosts" "$WORK/known_hosts.learnt"
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/other" -C other-host
	echo "[$SSHFS_ADDR]:$SSHFS_PORT $(cut -d' ' -f1,2 "$WORK/ssh/other.pub")" >"$WORK/store/known_hosts"
	managed_create mspoof -o "sshcmd=root@$SSHFS_ADDR:$WORK/srv" -o "port=$SSHFS_PORT" -o IdentityFile=/root/.ssh/cvol_key
	expect_failure docker_e2e_cli run --rm --network none -v mspoof:/data "$DOCKER_E2E_IMAGE" true
	# (sshfs sends ssh's own words to /dev/null: "Host key verification failed" is not among them)
	assert_contains "$out" "mount sshfs \`root@$SSHFS_ADDR:$WORK/srv\`" "docker run on a server whose key is not the known one"
	assert_not_mounted "$(managed_data mspoof)"
	cp "$WORK/known_hosts.learnt" "$WORK/store/known_hosts"
	docker_e2e_ok volume rm mspoof >/dev/null

	# no IdentityFile: ssh tries root's default keys, in the bound dir (as with vieux/sshfs)
	install -m 600 "$WORK/ssh/id" "$WORK/home/.ssh/id_ed25519"
	managed_create mdef -o "sshcmd=root@$SSHFS_ADDR:$WORK/srv" -o "port=$SSHFS_PORT"
	assert_eq "old from-managed" "$(docker_e2e_run -v mdef:/data -- cat /data/before /data/f | paste -sd ' ')" \
		"mdef (root's default key) read in a container"
	rm "$WORK/home/.ssh/id_ed25519" # the password user below must log in by its password

	# rm forgets the volumes; the data stays on the server
	docker_e2e_ok volume rm mkey mdef >/dev/null
	assert_eq "" "$(managed_volume_names)" "docker volume ls after rm"
	assert_missing "$WORK/store/volumes/mkey"
	assert_file_content "$WORK/srv/f" from-managed
	assert_file_content "$WORK/srv/before" old

	# the plugin under vieux's name, on the same store: compose files that say
	# `driver: vieux/sshfs` work unchanged
	docker_e2e_ok plugin rm -f "$MANAGED_NAME" >/dev/null
	MANAGED_NAME=vieux/sshfs managed_install
	# vieux's set: sshcmd, password, port, an extra -o; the password shown nowhere
	assert_eq mpw "$(docker_e2e_ok volume create -d vieux/sshfs -o "sshcmd=cvoltest@$SSHFS_ADDR:$WORK/srv/pw" \
		-o "password=$SSHFS_PW" -o "port=$SSHFS_PORT" -o cache=no mpw)" "docker volume create -d vieux/sshfs mpw"
	assert_eq "vieux/sshfs:latest sshfs" "$(docker_e2e_inspect mpw '{{.Driver}} {{.Status.Backend}}')" \
		"driver and backend of mpw"
	docker_e2e_run -v mpw:/data -- sh -c 'echo by-password > /data/p'
	assert_file_content "$WORK/srv/pw/p" by-password
	assert_eq 64123 "$(stat -c %u "$WORK/srv/pw/p")" "owner of the file on the server (the ssh user)"
	assert_eq by-password "$(docker_e2e_run -v mpw:/data -- cat /data/p)" "mpw read in a second container"
	local status
	status=$(docker_e2e_inspect mpw '{{json .Status}}')
	assert_eq '********' "$(jq -r .Options.password <<<"$status")" "docker volume inspect: Status.Options.password"
	case "$status" in *"$SSHFS_PW"*) fail "the password shows in Status: $status" ;; esac
	# a wrong password: docker run fails and says why
	docker_e2e_ok volume create -d vieux/sshfs -o "sshcmd=cvoltest@$SSHFS_ADDR:$WORK/srv/pw" \
		-o password=wr0ng-pw-77 -o "port=$SSHFS_PORT" mbad >/dev/null
	expect_failure docker_e2e_cli run --rm --network none -v mbad:/data "$DOCKER_E2E_IMAGE" true
	assert_contains "$out" "the login with the password failed" "docker run with a wrong password"
	case "$out" in *wr0ng-pw-77*) fail "the password shows in the error: $out" ;; esac

	docker_e2e_ok volume rm mpw mbad >/dev/null
	assert_eq "" "$(docker_e2e_ok volume ls --format '{{.Name}}')" "docker volume ls after rm"
	assert_missing "$WORK/store/volumes/mpw"
	assert_file_content "$WORK/srv/pw/p" by-password
	case "$(grep 'plugin=' "$WORK/dockerd.log")" in *"$SSHFS_PW"* | *wr0ng-pw-77*) fail "a password is in the plugin's log" ;; esac
}
