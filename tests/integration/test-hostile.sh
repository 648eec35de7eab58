# What a hostile container can leave in a cvol volume, and what `docker volume rm` does
# with it (issue 8): a tree deeper than PATH_MAX, a million empty files, a loop volume filled
# to its cap, symlinks and hardlinks pointing out of the volume, a FIFO and a socket. After
# each rm the plugin still serves dockerd, the volume is gone and nothing else is: not a
# neighbour volume, not a sentinel file and directory next to the store, not the host's `/`.
# The private dockerd and plugin are test-docker.sh's (docker_e2e_*).

# Outside the volume: a sentinel file and directory next to the store, a neighbour volume
# with a file, and what the host's `/` and the sentinels look like (names, types, modes, link
# counts, sizes, times), to compare after the rm.
hostile_setup() {
	docker_e2e_setup
	echo keep >"$WORK/sentinel"
	mkdir -p "$WORK/sentinel-dir/sub"
	echo keep-a >"$WORK/sentinel-dir/a"
	echo keep-b >"$WORK/sentinel-dir/sub/b"
	docker_e2e_create neighbour
	docker_e2e_roundtrip neighbour neighbour-data
	hostile_outside >"$WORK/outside.before"
}

hostile_outside() {
	ls -A /
	find "$WORK/sentinel" "$WORK/sentinel-dir" -printf '%p %y %m %n %s %T@ %C@\n' | sort
}

# What the rm of a hostile volume must leave outside it: the sentinels and the host's `/` as
# they were, and the plugin still running.
hostile_assert_outside() { # what
	assert_file_content "$WORK/sentinel" keep
	assert_file_content "$WORK/sentinel-dir/a" keep-a
	assert_file_content "$WORK/sentinel-dir/sub/b" keep-b
	hostile_outside >"$WORK/outside.after"
	diff "$WORK/outside.before" "$WORK/outside.after" >"$WORK/outside.diff" ||
		fail "outside the volume, changed by $1: $(head -c 400 "$WORK/outside.diff")"
	kill -0 "$DOCKER_E2E_PLUGIN_PID" 2>/dev/null ||
		fail "cvol-plugin is gone after $1: $(tail -n 3 "$WORK/plugin.log")"
}

# docker volume rm NAME, and what must hold after it: nothing outside NAME changed (checked
# first: whatever else went wrong, that is the worst), the plugin that served it still runs,
# the rm succeeded as dockerd reports it, NAME is gone from dockerd and from <root>/volumes,
# .staging is empty, the neighbour is intact, and a new volume is created, used and removed.
hostile_rm_and_check() { # name
	local name=$1 o rc=0
	o=$(docker_e2e_cli volume rm "$name" 2>&1) || rc=$?
	hostile_assert_outside "the rm of $name"
	[ "$rc" -eq 0 ] || fail "docker volume rm $name: $o"
	assert_eq "$name" "$o" "docker volume rm $name"
	assert_eq "neighbour" "$(docker_e2e_volume_names)" "docker volume ls after the rm of $name"
	assert_missing "$WORK/root/volumes/$name"
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after the rm of $name"
	assert_eq "neighbour-data" "$(docker_e2e_run -v neighbour:/data -- cat /data/x)" "the neighbour volume"
	docker_e2e_create after
	docker_e2e_roundtrip after after-data
	docker_e2e_ok volume rm after >/dev/null
	assert_missing "$WORK/root/volumes/after"
	assert_eq "neighbour" "$(docker_e2e_volume_names)" "docker volume ls after a new volume came and went"
	hostile_assert_outside "a new volume after the rm of $name"
}

# A tree 3,000 levels deep (6,000 bytes of path, over PATH_MAX), as any container can make
# one: the bottom first (a file, symlinks out of the volume), then wrapped in a new parent
# 2,999 times (mkdir and two renames a level: a `cd` into each level took over a minute here).
test_hostile_deep_tree() {
	hostile_setup
	docker_e2e_create vdeep
	docker_e2e_run -v vdeep:/data -- sh -c "cd /data && mkdir d && echo x > d/f && ln -s / d/root &&
		ln -s $WORK/sentinel-dir d/sentinel && for i in \$(seq 2999); do mkdir n && mv d n/d && mv n d || exit 1; done"
	assert_eq 3000 "$(find "$WORK/root/volumes/vdeep/_data" -type d -name d | wc -l)" "directories made in vdeep"
	hostile_rm_and_check vdeep
}

# A million empty files in one directory (xargs touch, thousands a process: the whole test
# takes about 15 s here, so the issue's million is kept).
test_hostile_many_files() {
	hostile_setup
	docker_e2e_create vmany
	docker_e2e_run -v vmany:/data -- sh -c 'mkdir /data/m && cd /data/m && seq 1000000 | xargs touch'
	assert_eq 1000000 "$(docker_e2e_run -v vmany:/data -- sh -c 'find /data/m -type f | wc -l')" \
		"files a container finds in vmany"
	hostile_rm_and_check vmany
}

# A 64M loop volume filled to its cap: the container sees ENOSPC and a full filesystem, the
# image stays within 64M, and the rm detaches and removes it.
test_hostile_full_volume() {
	hostile_setup
	docker_e2e_create vfull -o size=64M
	expect_failure docker_e2e_cli run --rm --network none -v vfull:/data "$DOCKER_E2E_IMAGE" \
		dd if=/dev/zero of=/data/fill bs=1M
	assert_contains "$out" "No space left on device" "dd into the 64M volume vfull until it stops"
	local avail fill
	avail=$(docker_e2e_run -v vfull:/data -- df -Pk /data | awk 'NR == 2 { print $4 }')
	[ "$avail" -lt 1024 ] || fail "vfull has $avail KiB available after dd stopped, expected less than its 1M block"
	fill=$(docker_e2e_run -v vfull:/data -- stat -c %s /data/fill)
	[ "$fill" -gt $((50 << 20)) ] || fail "vfull took only $fill bytes before ENOSPC"
	docker_e2e_assert_released vfull
	[ "$(du -k "$WORK/root/volumes/vfull/image" | cut -f1)" -le 65536 ] || fail "the image of vfull grew past 64M"
	hostile_rm_and_check vfull
	assert_eq "" "$(losetup -a | grep -F "$WORK/root/")" "loop devices left on the store"
}

# Symlinks out of the volume (to `/`, up to the dir above the store, to the sentinels by
# absolute and relative path), a hardlink to a file of the container's own rootfs (refused:
# another filesystem), a hardlink inside the volume, a FIFO and a unix socket. First a
# volume with only the links that stay on the store's filesystem: a remover that followed
# symlinks but stopped at other filesystems (`/`) would reach the sentinels through them.
# Relative links go up 4 levels to the sentinels from <root>/volumes/NAME/_data, and 5 from
# <root>/volumes/.staging/r-*/_data, where the volume is while it is removed.
test_hostile_links_out() {
	hostile_setup
	local bb
	bb=$(sha256sum "$DOCKER_E2E_BUSYBOX" | cut -d' ' -f1)
	docker_e2e_create vsame
	docker_e2e_run -v vsame:/data -- sh -c "cd /data && ln -s $WORK/sentinel-dir sentinel-dir &&
		ln -s ../../../../sentinel-dir up4-sentinel-dir && ln -s ../../../../../sentinel-dir up5-sentinel-dir &&
		ln -s ../../../../sentinel up4-sentinel && ln -s ../../../../../sentinel up5-sentinel"
	hostile_rm_and_check vsame

	docker_e2e_create vlinks
	docker_e2e_run -v vlinks:/data -- sh -c "cd /data && ln -s / root && ln -s ../../../.. up && ln -s ../../../../.. up5 &&
		ln -s $WORK/sentinel sentinel && ln -s $WORK/sentinel-dir sentinel-dir &&
		ln -s ../../../../sentinel-dir up-sentinel-dir && mkdir sub && ln -s ../../../../../sentinel sub/up-sentinel &&
		echo x > file && ln file file-link && mkfifo fifo"
	expect_failure docker_e2e_cli run --rm --network none -v vlinks:/data "$DOCKER_E2E_IMAGE" ln /bin/busybox /data/bb
	assert_contains "$out" "Invalid cross-device link" "ln /bin/busybox /data/bb in a container"
	# busybox has no `nc -U`, but its syslogd binds its socket where /dev/log points
	docker_e2e_run -v vlinks:/data -- sh -c 'ln -sf /data/sock /dev/log && syslogd -n -O /dev/null &
		i=0; while [ ! -S /data/sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done'
	assert_eq "fifo:fifo file-link:regular file sentinel:symbolic link sock:socket up:symbolic link" \
		"$(docker_e2e_run -v vlinks:/data -- sh -c 'cd /data && stat -c %n:%F fifo file-link sentinel sock up' | paste -sd ' ')" \
		"what a container sees in vlinks"
	assert_eq "2" "$(docker_e2e_run -v vlinks:/data -- stat -c %h /data/file)" "links of /data/file"
	hostile_rm_and_check vlinks
	assert_eq "$bb" "$(docker_e2e_run -- sha256sum /bin/busybox | cut -d' ' -f1)" \
		"the container's /bin/busybox, the hardlink's target, after the rm"
	assert_eq "$bb" "$(sha256sum "$DOCKER_E2E_BUSYBOX" | cut -d' ' -f1)" "the host's $DOCKER_E2E_BUSYBOX after the rm"
}
