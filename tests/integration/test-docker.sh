# End to end with a real dockerd: cvol-plugin serves /run/docker/plugins/cvol.sock to a
# private dockerd (its own data root, exec root and API socket under $WORK), and busybox
# containers use the volumes. Each test starts both daemons and stops them, by the pids it
# started, when it ends, also on failure.

DOCKER_E2E_DOCKERD=/usr/sbin/dockerd
DOCKER_E2E_CLIENT=/usr/bin/docker # /usr/local/bin/docker may be another client
DOCKER_E2E_BUSYBOX=/bin/busybox
DOCKER_E2E_IMAGE=bb:latest
DOCKER_E2E_SOCKET=/run/docker/plugins/cvol.sock

# The docker client, talking to this test's dockerd only.
docker_e2e_cli() {
	DOCKER_CONFIG="$WORK/docker-client" "$DOCKER_E2E_CLIENT" -H "unix://$WORK/docker.sock" "$@"
}

# A docker command that must work: prints its output; on failure, fails the test with
# dockerd's own words (the client prints them).
docker_e2e_ok() {
	local o
	if ! o=$(docker_e2e_cli "$@" 2>&1); then
		fail "docker $*: $o"
		return 1
	fi
	printf '%s\n' "$o"
}

# `docker run --rm --network none` on the busybox image: docker_e2e_run [docker-run-args] -- command...
docker_e2e_run() {
	local args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		args+=("$1")
		shift
	done
	shift
	docker_e2e_ok run --rm --network none "${args[@]}" "$DOCKER_E2E_IMAGE" "$@"
}

docker_e2e_plugin_start() {
	echo "--- plugin start" >>"$WORK/plugin.log"
	local i from
	from=$(($(wc -l <"$WORK/plugin.log") + 1))
	"$CVOL_PLUGIN" --root "$WORK/root" --debug >>"$WORK/plugin.log" 2>&1 &
	DOCKER_E2E_PLUGIN_PID=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$DOCKER_E2E_PLUGIN_PID" 2>/dev/null ||
			{ fail "cvol-plugin exited at start: $(tail -n 3 "$WORK/plugin.log")"; return 1; }
		tail -n "+$from" "$WORK/plugin.log" | grep -q '^serving ' && [ -S "$DOCKER_E2E_SOCKET" ] && return 0
		sleep 0.1
	done
	fail "cvol-plugin did not start serving $DOCKER_E2E_SOCKET in 10 s: $(tail -n 3 "$WORK/plugin.log")"
}

# Stop the plugin we started: SIGTERM (or the signal given) and wait for it.
docker_e2e_plugin_stop() {
	local sig=${1:-TERM}
	[ -n "${DOCKER_E2E_PLUGIN_PID:-}" ] || return 0
	kill -s "$sig" "$DOCKER_E2E_PLUGIN_PID" 2>/dev/null || true
	wait "$DOCKER_E2E_PLUGIN_PID" 2>/dev/null || true
	DOCKER_E2E_PLUGIN_PID=
}

docker_e2e_dockerd_start() {
	echo "--- dockerd start" >>"$WORK/dockerd.log"
	"$DOCKER_E2E_DOCKERD" --config-file "$WORK/daemon.json" --data-root "$WORK/docker" \
		--exec-root "$WORK/exec" -H "unix://$WORK/docker.sock" --pidfile "$WORK/docker.pid" \
		--iptables=false --ip-masq=false --bridge=none --shutdown-timeout 3 >>"$WORK/dockerd.log" 2>&1 &
	DOCKER_E2E_DOCKERD_PID=$!
	local i
	for ((i = 0; i < 150; i++)); do
		kill -0 "$DOCKER_E2E_DOCKERD_PID" 2>/dev/null ||
			{ fail "dockerd exited at start: $(grep -E 'level=(error|fatal)' "$WORK/dockerd.log" | tail -n 2)"; return 1; }
		docker_e2e_cli info >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "dockerd did not answer in 30 s: $(tail -n 3 "$WORK/dockerd.log")"
}

docker_e2e_dockerd_stop() {
	[ -n "${DOCKER_E2E_DOCKERD_PID:-}" ] || return 0
	kill -TERM "$DOCKER_E2E_DOCKERD_PID" 2>/dev/null || true
	wait "$DOCKER_E2E_DOCKERD_PID" 2>/dev/null || true
	DOCKER_E2E_DOCKERD_PID=
}

# The busybox image: /bin/busybox and the applets the tests call (test-hostile.sh too).
docker_e2e_make_image() {
	local dir="$WORK/image" applet
	mkdir -p "$dir/bin" "$dir/tmp"
	cp "$DOCKER_E2E_BUSYBOX" "$dir/bin/busybox"
	for applet in sh cat echo dd ls df touch stat sleep rm mkdir mv seq xargs find wc ln mkfifo syslogd sha256sum; do
		ln -s busybox "$dir/bin/$applet"
	done
	tar -C "$dir" -cf "$WORK/image.tar" .
	docker_e2e_ok import "$WORK/image.tar" "$DOCKER_E2E_IMAGE" >/dev/null
}

# Whatever this test started, stopped; on failure, the daemons' last words first.
docker_e2e_teardown() {
	local rc=$?
	set +e
	if [ "$rc" -ne 0 ]; then
		echo "--- dockerd errors"
		grep -E 'level=(error|fatal)' "$WORK/dockerd.log" 2>/dev/null | tail -n 4
		echo "--- plugin log (tail)"
		tail -n 6 "$WORK/plugin.log" 2>/dev/null
	fi
	docker_e2e_dockerd_stop
	docker_e2e_plugin_stop
	# dockerd stops its containerd and the shims as it exits; anything of theirs that
	# outlived it names this test's $WORK on its command line and is ours to end.
	local pid
	for pid in $(pgrep -f -- "$WORK/exec" 2>/dev/null); do
		echo "warning: ending leftover $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
		kill -9 "$pid" 2>/dev/null
	done
	[ -z "${DOCKER_E2E_MOUNTED_CONTAINERD:-}" ] || umount /run/containerd || umount -l /run/containerd
	[ -z "${DOCKER_E2E_MOUNTED_PLUGINS:-}" ] || umount /run/docker/plugins || umount -l /run/docker/plugins
}

# Skip without dockerd or busybox; else start the plugin and a private dockerd, make the
# image, and arrange for both daemons to be stopped when the test ends.
# Skip without docker; hide the host's plugin sockets and containerd (the namespace is
# private: dockerd would use a running system containerd instead of its own); write the
# private dockerd's config. Teardown runs at exit.
docker_e2e_isolate() { # daemon.json text
	[ -x "$DOCKER_E2E_DOCKERD" ] || skip "$DOCKER_E2E_DOCKERD is not installed (make deps)"
	[ -x "$DOCKER_E2E_BUSYBOX" ] || skip "$DOCKER_E2E_BUSYBOX is not installed (busybox-static, make deps)"
	[ -x "$DOCKER_E2E_CLIENT" ] || skip "$DOCKER_E2E_CLIENT is not installed (make deps)"
	DOCKER_E2E_PLUGIN_PID=
	DOCKER_E2E_DOCKERD_PID=
	DOCKER_E2E_MOUNTED_PLUGINS=
	DOCKER_E2E_MOUNTED_CONTAINERD=
	trap docker_e2e_teardown EXIT
	mkdir -p /run/docker/plugins
	mount -t tmpfs tmpfs /run/docker/plugins
	DOCKER_E2E_MOUNTED_PLUGINS=1
	if [ -d /run/containerd ]; then
		mount -t tmpfs tmpfs /run/containerd
		DOCKER_E2E_MOUNTED_CONTAINERD=1
	fi
	mkdir -p "$WORK/docker-client"
	echo "$1" >"$WORK/daemon.json"
}

docker_e2e_setup() {
	docker_e2e_isolate '{}'
	docker_e2e_plugin_start
	docker_e2e_dockerd_start
	docker_e2e_make_image
}

docker_e2e_create() { # name [-o opt]...
	local name=$1
	shift
	assert_eq "$name" "$(docker_e2e_ok volume create -d cvol "$@" "$name")" "docker volume create $name"
}

# Write a line into volume NAME in one container, read it back in another.
docker_e2e_roundtrip() { # name text
	docker_e2e_run -v "$1:/data" -- sh -c "echo '$2' > /data/x"
	assert_eq "$2" "$(docker_e2e_run -v "$1:/data" -- cat /data/x)" "volume $1 read back in a new container"
}

# One field of `docker volume inspect` (a Go template).
docker_e2e_inspect() { # name template
	docker_e2e_ok volume inspect --format "$2" "$1"
}

# The size in KiB of the filesystem on /data, as a container sees it.
docker_e2e_df_kib() { # docker-run-args...
	docker_e2e_run "$@" -- df -Pk /data | awk 'NR == 2 { print $2 }'
}

# The names of the cvol volumes dockerd lists, sorted, on one line.
docker_e2e_volume_names() {
	local names
	names=$(docker_e2e_ok volume ls --filter driver=cvol --format '{{.Name}}') || return 1
	printf '%s\n' "$names" | sort | paste -sd ' '
}

# After the last container, a volume that needs a mount has none left, and dockerd's
# Unmount reached the plugin.
docker_e2e_assert_released() { # name
	assert_eq "0 false" "$(docker_e2e_inspect "$1" '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"mounts of $1 after its containers ended"
	assert_not_mounted "$WORK/root/volumes/$1/_data"
}

# Every backend through docker: create, write in one container, read in the next,
# inspect, and the size, owner and read-only options seen from inside a container.
test_docker_volume_backends() {
	docker_e2e_setup
	mkdir -p "$WORK/www"
	echo from-host >"$WORK/www/index.html"

	docker_e2e_create vdir
	docker_e2e_create vloop -o size=64M
	docker_e2e_create vtmp -o type=tmpfs -o o=size=16m
	docker_e2e_create vbind -o type=bind -o device="$WORK/www"
	docker_e2e_create vown -o uid=1000 -o gid=1000 -o mode=0750
	assert_eq "vbind vdir vloop vown vtmp" "$(docker_e2e_volume_names)" "docker volume ls"

	local v
	for v in vdir vloop vtmp vbind vown; do
		assert_eq "cvol local" "$(docker_e2e_inspect $v '{{.Driver}} {{.Scope}}')" "driver and scope of $v"
		assert_eq "$WORK/root/volumes/$v/_data" "$(docker_e2e_inspect $v '{{.Mountpoint}}')" "mountpoint of $v"
	done
	assert_eq "dir 0" "$(docker_e2e_inspect vdir '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vdir"
	assert_eq "loop 0" "$(docker_e2e_inspect vloop '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vloop"
	assert_eq "tmpfs 0" "$(docker_e2e_inspect vtmp '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vtmp"
	assert_eq "bind 0" "$(docker_e2e_inspect vbind '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vbind"
	assert_eq "dir 0" "$(docker_e2e_inspect vown '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vown"
	assert_contains "$(docker_e2e_ok volume inspect vloop)" '"Size": 67108864' "inspect of vloop"

	# dir
	docker_e2e_roundtrip vdir hi
	assert_file_content "$WORK/root/volumes/vdir/_data/x" hi

	# loop: a 64M ext4 image, its limit enforced inside the container
	docker_e2e_roundtrip vloop hi-loop
	docker_e2e_assert_released vloop
	local kib
	kib=$(docker_e2e_df_kib -v vloop:/data)
	[ "$kib" -gt 50000 ] && [ "$kib" -le 65536 ] || fail "size of vloop in a container: ${kib} KiB, expected about 64M"
	expect_failure docker_e2e_cli run --rm --network none -v vloop:/data "$DOCKER_E2E_IMAGE" \
		dd if=/dev/zero of=/data/big bs=1M count=100
	assert_contains "$out" "No space left on device" "dd of 100M into the 64M volume vloop"
	docker_e2e_run -v vloop:/data -- rm /data/big
	assert_eq "hi-loop" "$(docker_e2e_run -v vloop:/data -- cat /data/x)" "vloop after it was filled"
	docker_e2e_assert_released vloop
	[ "$(du -k "$WORK/root/volumes/vloop/image" | cut -f1)" -le 65536 ] || fail "the image of vloop grew past 64M"

	# tmpfs: memory, 16m, shared by the containers that hold it at the same time
	assert_eq 16384 "$(docker_e2e_df_kib -v vtmp:/data)" "size of vtmp in a container (KiB)"
	assert_eq tmpfs "$(docker_e2e_run -v vtmp:/data -- stat -f -c %T /data)" "filesystem of vtmp"
	docker_e2e_ok run -d --name tmp-holder --network none --stop-timeout 1 -v vtmp:/data \
		"$DOCKER_E2E_IMAGE" sleep 1000 >/dev/null
	assert_eq "tmpfs 1" "$(docker_e2e_inspect vtmp '{{.Status.Backend}} {{.Status.Mounts}}')" "status of vtmp in use"
	docker_e2e_roundtrip vtmp hi-tmpfs
	assert_eq "1 true" "$(docker_e2e_inspect vtmp '{{.Status.Mounts}} {{.Status.Mounted}}')" "vtmp with its holder"
	expect_failure docker_e2e_cli run --rm --network none -v vtmp:/data "$DOCKER_E2E_IMAGE" \
		dd if=/dev/zero of=/data/big bs=1M count=32
	assert_contains "$out" "No space left on device" "dd of 32M into the 16m tmpfs vtmp"
	docker_e2e_ok rm -f tmp-holder >/dev/null
	docker_e2e_assert_released vtmp

	# bind: the host directory itself, both ways
	assert_eq from-host "$(docker_e2e_run -v vbind:/data -- cat /data/index.html)" "host file in vbind"
	docker_e2e_roundtrip vbind hi-bind
	assert_file_content "$WORK/www/x" hi-bind
	docker_e2e_assert_released vbind

	# owner and mode of the volume's root
	assert_eq "1000:1000 750" "$(docker_e2e_run -v vown:/data -- stat -c '%u:%g %a' /data)" "owner and mode of vown"
	docker_e2e_run --user 1000:1000 -v vown:/data -- sh -c 'echo mine > /data/x'
	assert_eq "1000 mine" "$(docker_e2e_run -v vown:/data -- sh -c 'stat -c %u /data/x; cat /data/x' | tr '\n' ' ' | sed 's/ $//')" \
		"a file written by uid 1000 in vown"
	expect_failure docker_e2e_cli run --rm --network none --user 2000:2000 -v vown:/data "$DOCKER_E2E_IMAGE" \
		touch /data/other
	assert_contains "$out" "Permission denied" "write to vown by another uid"

	# the owner options on a loop image and a tmpfs, and ro=true
	docker_e2e_create vloopown -o size=32M -o uid=1000 -o gid=1000 -o mode=0750
	assert_eq "1000:1000 750" "$(docker_e2e_run -v vloopown:/data -- stat -c '%u:%g %a' /data)" "owner and mode of vloopown"
	docker_e2e_create vtmpown -o type=tmpfs -o uid=1000 -o gid=1000 -o mode=0750
	assert_eq "1000:1000 750" "$(docker_e2e_run -v vtmpown:/data -- stat -c '%u:%g %a' /data)" "owner and mode of vtmpown"
	docker_e2e_create vro -o ro=true
	expect_failure docker_e2e_cli run --rm --network none -v vro:/data "$DOCKER_E2E_IMAGE" touch /data/y
	assert_contains "$out" "Read-only file system" "write to the ro=true volume vro"
	docker_e2e_assert_released vro

	# what the plugin refuses reaches the user with its reason
	expect_failure docker_e2e_cli volume create -d cvol -o bogus=1 vbad
	assert_contains "$out" "unknown option \`bogus\`" "create with an unknown option"
	assert_contains "$out" "known: type, device" "create with an unknown option"
	expect_failure docker_e2e_cli volume create -d cvol -o size=lots vbad
	assert_contains "$out" "size=lots" "create with a bad size"
	expect_failure docker_e2e_cli volume create -d cvol .hidden
	assert_contains "$out" "invalid volume name" "create of an invalid name"
	assert_missing "$WORK/root/volumes/vbad"

	# rm: every volume goes, the bind source stays with its files
	for v in vdir vloop vtmp vbind vown vloopown vtmpown vro; do
		docker_e2e_ok volume rm "$v" >/dev/null
		assert_missing "$WORK/root/volumes/$v"
	done
	assert_eq "" "$(docker_e2e_volume_names)" "docker volume ls after rm"
	assert_file_content "$WORK/www/index.html" from-host
	assert_file_content "$WORK/www/x" hi-bind
	assert_eq "" "$(awk -v r="$WORK/root/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)" \
		"mounts left under the store"
}

# A volume in use by a container cannot be removed; once the container is gone, it can.
test_docker_volume_rm_in_use() {
	docker_e2e_setup
	docker_e2e_create vbusy
	docker_e2e_create vbusyloop -o size=32M
	docker_e2e_ok run -d --name user1 --network none --stop-timeout 1 -v vbusy:/data -v vbusyloop:/loop \
		"$DOCKER_E2E_IMAGE" sleep 1000 >/dev/null
	assert_eq "1" "$(docker_e2e_inspect vbusy '{{.Status.Mounts}}')" "mounts of vbusy in use"
	assert_eq "1 true" "$(docker_e2e_inspect vbusyloop '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"mounts of vbusyloop in use"
	local v
	for v in vbusy vbusyloop; do
		expect_failure docker_e2e_cli volume rm "$v"
		assert_contains "$out" "in use" "docker volume rm $v while a container uses it"
		[ -d "$WORK/root/volumes/$v/_data" ] || fail "volume $v lost its data dir to a refused rm"
	done
	# a stopped container still holds its volumes in dockerd, but no mount
	docker_e2e_ok stop user1 >/dev/null
	docker_e2e_assert_released vbusy
	docker_e2e_assert_released vbusyloop
	expect_failure docker_e2e_cli volume rm vbusy
	assert_contains "$out" "in use" "docker volume rm vbusy while a stopped container refers to it"
	docker_e2e_ok rm user1 >/dev/null
	docker_e2e_ok volume rm vbusy vbusyloop >/dev/null
	assert_missing "$WORK/root/volumes/vbusy"
	assert_missing "$WORK/root/volumes/vbusyloop"
	assert_eq "" "$(docker_e2e_volume_names)" "docker volume ls after rm"
}

# The plugin killed (-9) and started again while a container uses its volumes: dockerd
# still lists them, the data is intact, and the container's Unmount reaches the new plugin.
test_docker_plugin_restart() {
	docker_e2e_setup
	docker_e2e_create pdir
	docker_e2e_create ploop -o size=32M
	docker_e2e_create ptmp -o type=tmpfs -o o=size=8m
	docker_e2e_create pidle
	docker_e2e_roundtrip pidle idle-data
	docker_e2e_ok run -d --name holder --network none --stop-timeout 1 \
		-v pdir:/d -v ploop:/l -v ptmp:/t "$DOCKER_E2E_IMAGE" \
		sh -c 'echo d > /d/x; echo l > /l/x; echo t > /t/x; sleep 1000' >/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(docker_e2e_cli exec holder cat /t/x 2>/dev/null)" = t ] && break
		sleep 0.1
	done

	docker_e2e_plugin_stop KILL
	docker_e2e_plugin_start
	assert_eq "pdir pidle ploop ptmp" "$(docker_e2e_volume_names)" "docker volume ls after the plugin restart"
	assert_eq "d l t" "$(docker_e2e_ok exec holder sh -c 'echo $(cat /d/x /l/x /t/x)')" \
		"data seen by the running container"
	assert_eq "1 true" "$(docker_e2e_inspect ploop '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"ploop after the plugin restart"
	assert_eq "1 true" "$(docker_e2e_inspect ptmp '{{.Status.Mounts}} {{.Status.Mounted}}')" \
		"ptmp after the plugin restart"
	assert_eq "1" "$(docker_e2e_inspect pdir '{{.Status.Mounts}}')" "pdir after the plugin restart"
	# a second container joins the volumes the new plugin found mounted
	assert_eq "d l t" "$(docker_e2e_run -v pdir:/d -v ploop:/l -v ptmp:/t -- sh -c 'echo $(cat /d/x /l/x /t/x)')" \
		"data seen by a new container"
	assert_eq "idle-data" "$(docker_e2e_run -v pidle:/data -- cat /data/x)" "pidle after the plugin restart"
	# writes through the old container land in the same volumes
	docker_e2e_ok exec holder sh -c 'echo after > /l/y' >/dev/null
	assert_eq after "$(docker_e2e_run -v ploop:/l -- cat /l/y)" "write after the restart, read in another container"

	docker_e2e_ok stop holder >/dev/null
	docker_e2e_ok rm holder >/dev/null
	docker_e2e_assert_released ploop
	docker_e2e_assert_released ptmp
	assert_eq "0" "$(docker_e2e_inspect pdir '{{.Status.Mounts}}')" "pdir after the container was removed"
	assert_eq "l" "$(docker_e2e_run -v ploop:/l -- cat /l/x)" "ploop data after the container left"
	docker_e2e_ok volume rm pdir ploop ptmp pidle >/dev/null
	assert_eq "" "$(docker_e2e_volume_names)" "docker volume ls after rm"
}

# dockerd stopped and started again with the same dirs: it asks the plugin (Get) for every
# volume it knew and forgets what is not reported; all must still be listed, data intact.
test_docker_dockerd_restart() {
	docker_e2e_setup
	mkdir -p "$WORK/www"
	docker_e2e_create rdir
	docker_e2e_create rloop -o size=32M
	docker_e2e_create rbind -o type=bind -o device="$WORK/www"
	docker_e2e_create rown -o uid=1000 -o gid=1000 -o mode=0750
	docker_e2e_roundtrip rdir dir-data
	docker_e2e_roundtrip rloop loop-data
	docker_e2e_roundtrip rbind bind-data
	docker_e2e_roundtrip rown own-data
	# a stopped container that refers to a volume, and a running one that docker restarts
	docker_e2e_ok run --name keeper --network none -v rdir:/data "$DOCKER_E2E_IMAGE" cat /data/x >/dev/null
	docker_e2e_ok run -d --name svc --restart always --network none --stop-timeout 1 -v rloop:/data \
		"$DOCKER_E2E_IMAGE" sleep 1000 >/dev/null
	assert_eq "1 true" "$(docker_e2e_inspect rloop '{{.Status.Mounts}} {{.Status.Mounted}}')" "rloop in use"

	docker_e2e_dockerd_stop
	# dockerd stopped its container as it went down: the Unmount reached the plugin
	assert_not_mounted "$WORK/root/volumes/rloop/_data"
	local status
	status=$("$CVOL" --root "$WORK/root" volume inspect rloop 2>&1) || fail "cvol volume inspect rloop: $status"
	assert_contains "$status" '"Mounts": 0' "rloop after dockerd stopped its container"
	docker_e2e_dockerd_start
	assert_eq "rbind rdir rloop rown" "$(docker_e2e_volume_names)" "docker volume ls after the dockerd restart"
	local v
	for v in rdir rloop rbind rown; do
		assert_eq "cvol" "$(docker_e2e_inspect $v '{{.Driver}}')" "driver of $v after the dockerd restart"
	done
	assert_eq "dir-data loop-data bind-data own-data" \
		"$(docker_e2e_run -v rdir:/a -v rloop:/b -v rbind:/c -v rown:/d -- sh -c 'echo $(cat /a/x /b/x /c/x /d/x)')" \
		"data after the dockerd restart"
	assert_eq "1000:1000 750" "$(docker_e2e_run -v rown:/data -- stat -c '%u:%g %a' /data)" "owner of rown after the restart"
	assert_eq dir-data "$(docker_e2e_ok start -a keeper)" "the stopped container started again"
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(docker_e2e_cli inspect --format '{{.State.Running}}' svc 2>/dev/null)" = true ] && break
		sleep 0.2
	done
	assert_eq loop-data "$(docker_e2e_ok exec svc cat /data/x)" "the restart=always container after the dockerd restart"
	assert_eq "1 true" "$(docker_e2e_inspect rloop '{{.Status.Mounts}} {{.Status.Mounted}}')" "rloop in use again"

	docker_e2e_ok rm -f svc keeper >/dev/null
	docker_e2e_assert_released rloop
	docker_e2e_ok volume rm rdir rloop rbind rown >/dev/null
	assert_eq "" "$(docker_e2e_volume_names)" "docker volume ls after rm"
	# and once more: a volume dockerd no longer knows stays forgotten, none comes back
	docker_e2e_dockerd_stop
	docker_e2e_dockerd_start
	assert_eq "" "$(docker_e2e_volume_names)" "docker volume ls after a second restart"
}
