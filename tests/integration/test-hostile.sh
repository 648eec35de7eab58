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

# docker volume rm NAME, and what must hold after it: the rm succeeded as dockerd reports it,
# the plugin that served it is still running and serving (ls, then a new volume created,
# used and removed), NAME is gone from dockerd and from <root>/volumes, .staging is empty,
# and everything outside NAME is as it was.
hostile_rm_and_check() { # name
	local name=$1
	assert_eq "$name" "$(docker_e2e_ok volume rm "$name")" "docker volume rm $name"
	kill -0 "$DOCKER_E2E_PLUGIN_PID" 2>/dev/null ||
		fail "cvol-plugin is gone after the rm of $name: $(tail -n 3 "$WORK/plugin.log")"
	assert_eq "neighbour" "$(docker_e2e_volume_names)" "docker volume ls after the rm of $name"
	assert_missing "$WORK/root/volumes/$name"
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after the rm of $name"
	assert_eq "neighbour-data" "$(docker_e2e_run -v neighbour:/data -- cat /data/x)" "the neighbour volume"
	docker_e2e_create after
	docker_e2e_roundtrip after after-data
	docker_e2e_ok volume rm after >/dev/null
	assert_missing "$WORK/root/volumes/after"
	assert_eq "neighbour" "$(docker_e2e_volume_names)" "docker volume ls after a new volume came and went"
	assert_file_content "$WORK/sentinel" keep
	assert_file_content "$WORK/sentinel-dir/a" keep-a
	assert_file_content "$WORK/sentinel-dir/sub/b" keep-b
	hostile_outside >"$WORK/outside.after"
	diff "$WORK/outside.before" "$WORK/outside.after" >"$WORK/outside.diff" ||
		fail "outside the volume, changed by the rm of $name: $(head -c 400 "$WORK/outside.diff")"
}

# A tree 3,000 levels deep (6,000 bytes of path, over PATH_MAX), as any container can make
# one: the bottom first (a file, symlinks out of the volume), then wrapped in a new parent
# 2,999 times (mkdir and two renames a level: a `cd` into each level costs minutes here).
test_hostile_deep_tree() {
	hostile_setup
	docker_e2e_create vdeep
	docker_e2e_run -v vdeep:/data -- sh -c "cd /data && mkdir d && echo x > d/f && ln -s / d/root &&
		ln -s $WORK/sentinel-dir d/sentinel && for i in \$(seq 2999); do mkdir n && mv d n/d && mv n d || exit 1; done"
	assert_eq 3000 "$(find "$WORK/root/volumes/vdeep/_data" -type d -name d | wc -l)" "directories made in vdeep"
	hostile_rm_and_check vdeep
}

# A million empty files in one directory (xargs touch, thousands a process: about 15 s here).
test_hostile_many_files() {
	hostile_setup
	docker_e2e_create vmany
	docker_e2e_run -v vmany:/data -- sh -c 'mkdir /data/m && cd /data/m && seq 1000000 | xargs touch'
	assert_eq 1000000 "$(docker_e2e_run -v vmany:/data -- sh -c 'find /data/m -type f | wc -l')" \
		"files a container finds in vmany"
	hostile_rm_and_check vmany
}
