# cvol-plugin: the Docker volume plugin protocol over a real Unix socket, driven with
# curl as dockerd drives it, checked by what dockerd and the user see: the JSON, the HTTP
# status, the Err text, the files, mountinfo and the loop devices.

# ---- helpers (plugin_*), also used by test-volume-cli.sh ---------------------------

plugin_pids=()

plugin_require_tools() {
	command -v curl >/dev/null || skip "curl is not installed"
	command -v jq >/dev/null || skip "jq is not installed (make deps)"
}

# Every plugin the test started and did not stop: killed when the test's subshell exits,
# pass or fail, by its pid (the runner then unmounts what is left under $WORK).
plugin_kill_all() {
	local p
	for p in "${plugin_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	plugin_pids=()
}

plugin_forget() { # pid
	local p kept=()
	for p in "${plugin_pids[@]}"; do
		[ "$p" = "$1" ] || kept+=("$p")
	done
	plugin_pids=("${kept[@]}")
}

# Wait until the plugin with PID answers Plugin.Activate on $PLUGIN_SOCK (5 s at most).
plugin_wait_ready() { # pid
	local i code
	for ((i = 0; i < 100; i++)); do
		[ -d "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ] ||
			fail "cvol-plugin (pid $1) exited at start: $(tail -n 3 "$WORK/plugin.log" 2>/dev/null)"
		code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$PLUGIN_SOCK" -X POST \
			http://plugin/Plugin.Activate 2>/dev/null) || true
		[ "$code" = 200 ] && return 0
		sleep 0.05
	done
	fail "cvol-plugin (pid $1) did not answer on $PLUGIN_SOCK within 5 s: $(tail -n 3 "$WORK/plugin.log")"
}

# Start the plugin on $WORK/root and $PLUGIN_SOCK (default $WORK/p.sock); sets PLUGIN_PID.
plugin_start() { # [extra cvol-plugin args]
	PLUGIN_SOCK=${PLUGIN_SOCK:-$WORK/p.sock}
	"$CVOL_PLUGIN" --root "$WORK/root" --socket "$PLUGIN_SOCK" "$@" 2>>"$WORK/plugin.log" &
	PLUGIN_PID=$!
	plugin_pids+=("$PLUGIN_PID")
	trap plugin_kill_all EXIT
	plugin_wait_ready "$PLUGIN_PID"
}

# SIGTERM the plugin (default $PLUGIN_PID) and check that it exits 0.
plugin_stop() { # [pid]
	local pid=${1:-$PLUGIN_PID} rc=0
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	plugin_forget "$pid"
	assert_eq 0 "$rc" "exit status of cvol-plugin after SIGTERM"
}

# kill -9: a crash, nothing cleaned up.
plugin_crash() { # [pid]
	local pid=${1:-$PLUGIN_PID}
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	plugin_forget "$pid"
}

# POST BODY (or @FILE) to /ENDPOINT as dockerd does; sets $reply (checked to be JSON) and $status.
plugin_call() { # endpoint [body] [more curl args]
	local ep=$1 body=${2-} raw
	shift $(($# < 2 ? $# : 2))
	raw=$(curl -s --unix-socket "$PLUGIN_SOCK" -X POST "http://plugin/$ep" \
		-H 'Accept: application/vnd.docker.plugins.v1.2+json' --data-binary "$body" -w '\n%{http_code}' "$@") ||
		fail "curl POST /$ep $body: curl exit $? (is the plugin up?)"
	reply=${raw%$'\n'*}
	status=${raw##*$'\n'}
	jq -e . >/dev/null 2>&1 <<<"$reply" || fail "/$ep $body: reply is not JSON: '$reply' (HTTP $status)"
}

# A field of the last reply, by jq filter.
plugin_reply() { jq -r "$1" <<<"$reply"; }

# The call must succeed: HTTP 200 and, when the reply has one, an empty Err.
plugin_ok() { # endpoint [body]
	plugin_call "$@"
	[ "$status" = 200 ] || fail "/$1 ${2-}: expected HTTP 200, got $status: $reply"
	[ "$(plugin_reply '.Err // ""')" = "" ] || fail "/$1 ${2-}: expected an empty Err, got: $reply"
}

# The call must be refused with HTTP STATUS and an Err containing TEXT; sets $err.
plugin_refused() { # endpoint body status text
	plugin_call "$1" "$2"
	[ "$status" = "$3" ] || fail "/$1 $2: expected HTTP $3, got $status: $reply"
	err=$(plugin_reply '.Err // ""')
	[ -n "$err" ] || fail "/$1 $2: expected a non-empty Err, got: $reply"
	assert_contains "$err" "$4" "Err of /$1 $2"
}

# Start an asynchronous call; its HTTP code lands in FILE.code, its reply in FILE.body.
plugin_call_bg() { # endpoint body file
	curl -s --unix-socket "$PLUGIN_SOCK" -X POST "http://plugin/$1" -d "$2" -o "$3.body" \
		-w '%{http_code}' >"$3.code" &
	plugin_bg+=($!)
}

plugin_vol_dir() { printf '%s/root/volumes/%s' "$(cd "$WORK" && pwd -P)" "$1"; }
plugin_mp() { printf '%s/_data' "$(plugin_vol_dir "$1")"; }

# How many mounts sit on PATH (stacked mounts count each).
plugin_mounts_on() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }
# Field N of the (top) mountinfo line of PATH.
plugin_mount_field() { awk -v p="$1" -v n="$2" '$5 == p { v = $n } END { print v }' /proc/self/mountinfo; }
# The filesystem type of the (top) mount on PATH.
plugin_mount_fstype() { awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); v = $(i + 1) } END { print v }' /proc/self/mountinfo; }
plugin_mount_opts() { awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); v = $6 "," $(i + 3) } END { print v }' /proc/self/mountinfo; }

plugin_loops_for() { losetup -j "$1" | wc -l; }
# A loop device with autoclear may go a moment after the unmount.
plugin_wait_no_loop() { # image what
	local i
	for ((i = 0; i < 40; i++)); do
		[ "$(plugin_loops_for "$1")" -eq 0 ] && return 0
		sleep 0.05
	done
	fail "$2: loop device still attached to $1: $(losetup -j "$1")"
}

# Everything under the store: to show a refused request changed nothing.
plugin_tree() { find "$WORK/root" | sort; }

# Get volume NAME; sets $ids to its mount IDs, sorted, on one line ($reply is the Get's).
plugin_get_ids() { # name
	plugin_ok VolumeDriver.Get "{\"Name\":\"$1\"}"
	ids=$(plugin_reply '.Volume.Status.MountIDs | sort | join(" ")')
}

# ---- endpoints ---------------------------------------------------------------------

test_plugin_activate_and_capabilities() {
	plugin_require_tools
	plugin_start
	plugin_call Plugin.Activate ""
	assert_eq 200 "$status" "Activate status"
	assert_eq '["VolumeDriver"]' "$(plugin_reply '.Implements | tojson')" "Activate Implements"
	plugin_ok VolumeDriver.Capabilities '{}'
	assert_eq local "$(plugin_reply .Capabilities.Scope)" "Capabilities scope by default"
	plugin_stop
	plugin_start --scope global
	plugin_ok VolumeDriver.Capabilities '{}'
	assert_eq global "$(plugin_reply .Capabilities.Scope)" "Capabilities scope with --scope global"
	plugin_stop
	expect_failure "$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/x.sock" --scope planet
	assert_one_line "$out" "--scope planet"
	assert_contains "$out" "use local or global" "--scope planet"
}

# The default backend through every endpoint: Create, Get, List, Path, Mount, Unmount, Remove.
test_plugin_dir_volume_lifecycle() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.List '{}'
	assert_eq '[]' "$(plugin_reply '.Volumes | tojson')" "List of an empty store"
	local before after mp created
	before=$(date -u +%s)
	plugin_ok VolumeDriver.Create '{"Name":"data","Opts":{}}'
	after=$(date -u +%s)
	mp=$(plugin_mp data)
	[ -d "$mp" ] || fail "no directory $mp after Create"
	[ -f "$(plugin_vol_dir data)/record.json" ] || fail "no record.json after Create"

	plugin_ok VolumeDriver.Get '{"Name":"data"}'
	assert_eq data "$(plugin_reply .Volume.Name)" "Get Name"
	assert_eq "$mp" "$(plugin_reply .Volume.Mountpoint)" "Get Mountpoint"
	created=$(plugin_reply .Volume.CreatedAt)
	[[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
		fail "Get CreatedAt '$created' is not RFC3339"
	local t
	t=$(date -u -d "$created" +%s)
	[ "$t" -ge $((before - 1)) ] && [ "$t" -le $((after + 1)) ] ||
		fail "Get CreatedAt '$created' is not the time of the Create ($(date -u -d "@$before" +%FT%TZ))"
	assert_eq object "$(plugin_reply '.Volume.Status | type')" "Get Status"
	assert_eq dir "$(plugin_reply .Volume.Status.Backend)" "Get Status.Backend"
	assert_eq 0 "$(plugin_reply .Volume.Status.Mounts)" "Get Status.Mounts"
	assert_eq '[]' "$(plugin_reply '.Volume.Status.MountIDs | tojson')" "Get Status.MountIDs"

	plugin_ok VolumeDriver.List '{}'
	assert_eq "[{\"Name\":\"data\",\"Mountpoint\":\"$mp\"}]" \
		"$(plugin_reply '[.Volumes[] | {Name, Mountpoint}] | tojson')" "List"
	plugin_ok VolumeDriver.Path '{"Name":"data"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "Path Mountpoint"

	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "Mount Mountpoint"
	echo kept >"$mp/file"
	plugin_get_ids data
	assert_eq c1 "$ids" "MountIDs after Mount"
	assert_eq 1 "$(plugin_reply .Volume.Status.Mounts)" "Status.Mounts after Mount"
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	plugin_get_ids data
	assert_eq "" "$ids" "MountIDs after Unmount"
	assert_file_content "$mp/file" kept

	plugin_ok VolumeDriver.Remove '{"Name":"data"}'
	assert_missing "$(plugin_vol_dir data)"
	plugin_refused VolumeDriver.Get '{"Name":"data"}' 404 "no such volume"
	plugin_refused VolumeDriver.Path '{"Name":"data"}' 404 "no such volume"
	plugin_refused VolumeDriver.Mount '{"Name":"data","ID":"c1"}' 404 "no such volume"
	plugin_refused VolumeDriver.Remove '{"Name":"data"}' 404 "no such volume"
	plugin_ok VolumeDriver.List '{}'
	assert_eq 0 "$(plugin_reply '.Volumes | length')" "volumes listed after Remove"
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after Remove"
	plugin_stop
}

# ---- backends ----------------------------------------------------------------------

# size=64M: an ext4 image on a loop device, a hard limit, the device gone after the last Unmount.
test_plugin_loop_ext4() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"big","Opts":{"size":"64M"}}'
	local img mp
	img="$(plugin_vol_dir big)/image"
	mp=$(plugin_mp big)
	assert_eq 67108864 "$(stat -c %s "$img")" "size of the image file"
	assert_eq 0 "$(plugin_loops_for "$img")" "loop devices before Mount"
	plugin_ok VolumeDriver.Get '{"Name":"big"}'
	assert_eq loop "$(plugin_reply .Volume.Status.Backend)" "Status.Backend"
	assert_eq false "$(plugin_reply .Volume.Status.Mounted)" "Status.Mounted before Mount"

	plugin_ok VolumeDriver.Mount '{"Name":"big","ID":"c1"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "Mount Mountpoint"
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on the mountpoint"
	assert_eq ext4 "$(plugin_mount_fstype "$mp")" "filesystem of the volume"
	assert_eq 1 "$(plugin_loops_for "$img")" "loop devices on the image while mounted"
	plugin_ok VolumeDriver.Get '{"Name":"big"}'
	assert_eq true "$(plugin_reply .Volume.Status.Mounted)" "Status.Mounted"
	local size
	size=$(plugin_reply .Volume.Status.Size)
	[ "$size" -gt $((40 << 20)) ] && [ "$size" -le $((64 << 20)) ] || fail "Status.Size $size is not about 64M"

	# the limit: a write past 64M fails, as it would in the container
	expect_failure dd if=/dev/zero of="$mp/fill" bs=1M count=80 conv=fsync
	assert_contains "$out" "No space left on device" "dd of 80M into a 64M volume"

	plugin_ok VolumeDriver.Unmount '{"Name":"big","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_wait_no_loop "$img" "after the last Unmount"
	# re-attached on the next Mount, data intact
	plugin_ok VolumeDriver.Mount '{"Name":"big","ID":"c2"}'
	assert_eq 1 "$(plugin_loops_for "$img")" "loop devices after the next Mount"
	[ -f "$mp/fill" ] || fail "file written before the Unmount is gone after the next Mount"
	plugin_ok VolumeDriver.Unmount '{"Name":"big","ID":"c2"}'
	plugin_wait_no_loop "$img" "after the second Unmount"
	plugin_ok VolumeDriver.Remove '{"Name":"big"}'
	assert_missing "$(plugin_vol_dir big)"
	plugin_stop
}

test_plugin_loop_xfs() {
	plugin_require_tools
	command -v mkfs.xfs >/dev/null || skip "mkfs.xfs (xfsprogs) is not installed"
	plugin_start
	local before
	before=$(plugin_tree)
	# xfs needs 300M: below that the Err carries mkfs.xfs's own words, and nothing is left
	plugin_call VolumeDriver.Create '{"Name":"small","Opts":{"size":"64M","fs":"xfs"}}'
	[ "$status" != 200 ] || fail "Create of a 64M xfs volume succeeded: $reply"
	assert_contains "$(plugin_reply .Err)" "mkfs.xfs" "Err of a 64M xfs volume"
	assert_eq "$before" "$(plugin_tree | grep -v '/\.locks/')" "store after a failed Create"

	plugin_ok VolumeDriver.Create '{"Name":"x","Opts":{"size":"300M","fs":"xfs"}}'
	local mp img
	mp=$(plugin_mp x)
	img="$(plugin_vol_dir x)/image"
	plugin_ok VolumeDriver.Mount '{"Name":"x","ID":"c1"}'
	assert_eq xfs "$(plugin_mount_fstype "$mp")" "filesystem of an fs=xfs volume"
	assert_eq 1 "$(plugin_loops_for "$img")" "loop devices while mounted"
	echo data >"$mp/f"
	plugin_ok VolumeDriver.Unmount '{"Name":"x","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_wait_no_loop "$img" "xfs volume after the last Unmount"
	plugin_stop
}

test_plugin_tmpfs() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"scratch","Opts":{"type":"tmpfs","o":"size=16m"}}'
	local mp
	mp=$(plugin_mp scratch)
	plugin_ok VolumeDriver.Mount '{"Name":"scratch","ID":"c1"}'
	assert_eq tmpfs "$(plugin_mount_fstype "$mp")" "filesystem of a tmpfs volume"
	assert_contains "$(plugin_mount_opts "$mp")" "size=16384k" "tmpfs mount options"
	expect_failure dd if=/dev/zero of="$mp/fill" bs=1M count=20
	assert_contains "$out" "No space left on device" "dd of 20M into a 16m tmpfs"
	plugin_ok VolumeDriver.Get '{"Name":"scratch"}'
	assert_eq tmpfs "$(plugin_reply .Volume.Status.Backend)" "Status.Backend"
	plugin_ok VolumeDriver.Unmount '{"Name":"scratch","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_ok VolumeDriver.Remove '{"Name":"scratch"}'
	plugin_stop
}

test_plugin_bind() {
	plugin_require_tools
	plugin_start
	mkdir "$WORK/host"
	echo from-host >"$WORK/host/h"
	plugin_ok VolumeDriver.Create "{\"Name\":\"b\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/host\"}}"
	local mp
	mp=$(plugin_mp b)
	plugin_ok VolumeDriver.Mount '{"Name":"b","ID":"c1"}'
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on a bind volume"
	assert_file_content "$mp/h" from-host
	echo from-container >"$mp/c"
	assert_file_content "$WORK/host/c" from-container
	plugin_ok VolumeDriver.Get '{"Name":"b"}'
	assert_eq bind "$(plugin_reply .Volume.Status.Backend)" "Status.Backend"
	plugin_ok VolumeDriver.Unmount '{"Name":"b","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_ok VolumeDriver.Remove '{"Name":"b"}'
	assert_file_content "$WORK/host/h" from-host # Remove never touches the host's files
	assert_file_content "$WORK/host/c" from-container

	# a missing host directory: refused, unless create=true makes it
	plugin_call VolumeDriver.Create "{\"Name\":\"n\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/new\"}}"
	[ "$status" != 200 ] || fail "Create of a bind volume on a missing directory succeeded: $reply"
	assert_contains "$(plugin_reply .Err)" "$WORK/new" "Err of a bind volume on a missing directory"
	assert_missing "$(plugin_vol_dir n)"
	plugin_ok VolumeDriver.Create \
		"{\"Name\":\"n\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/new\",\"create\":\"true\"}}"
	[ -d "$WORK/new" ] || fail "create=true did not make $WORK/new"
	plugin_ok VolumeDriver.Mount '{"Name":"n","ID":"c1"}'
	echo x >"$(plugin_mp n)/x"
	assert_file_content "$WORK/new/x" x
	plugin_ok VolumeDriver.Unmount '{"Name":"n","ID":"c1"}'
	plugin_refused VolumeDriver.Create '{"Name":"r","Opts":{"type":"bind","device":"relative/dir"}}' 400 \
		"absolute"
	plugin_stop
}

# A bind volume never follows a symlink in `device`: not to chown or chmod, not to make the
# directory, not to mount (the path is checked again at each Mount). An existing host directory
# keeps its owner and mode unless uid=, gid= or mode= ask.
test_plugin_bind_no_symlinks_and_owner() {
	plugin_require_tools
	plugin_start
	mkdir -p "$WORK/host" "$WORK/target" "$WORK/real/sub"
	chown 1234:5678 "$WORK/host" "$WORK/target"
	chmod 0701 "$WORK/host" "$WORK/target"
	ln -s "$WORK/target" "$WORK/link"
	ln -s "$WORK/real" "$WORK/linkdir"

	# a symlink as device, with and without owner options: refused, the target untouched
	plugin_refused VolumeDriver.Create \
		"{\"Name\":\"s\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/link\",\"uid\":\"0\",\"mode\":\"0777\"}}" \
		400 "bind source \`$WORK/link\` is or goes through a symlink; give the path without one"
	plugin_refused VolumeDriver.Create "{\"Name\":\"s\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/link\"}}" \
		400 "is or goes through a symlink"
	plugin_refused VolumeDriver.Create \
		"{\"Name\":\"s\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/linkdir/sub\",\"mode\":\"0777\"}}" \
		400 "bind source \`$WORK/linkdir/sub\` is or goes through a symlink"
	plugin_refused VolumeDriver.Create \
		"{\"Name\":\"s\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/linkdir/new\",\"create\":\"true\"}}" \
		400 "bind source \`$WORK/linkdir/new\` goes through a symlink"
	assert_eq "1234:5678 701" "$(stat -c '%u:%g %a' "$WORK/target")" "owner and mode of a symlink's target"
	assert_eq "0:0 755" "$(stat -c '%u:%g %a' "$WORK/real/sub")" "owner and mode behind a symlinked parent"
	assert_missing "$WORK/real/new"
	assert_missing "$(plugin_vol_dir s)"

	# an existing directory without uid/gid/mode: its owner and mode stay, through Mount and Remove
	plugin_ok VolumeDriver.Create "{\"Name\":\"b\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/host\"}}"
	assert_eq "1234:5678 701" "$(stat -c '%u:%g %a' "$WORK/host")" "host dir after Create"
	plugin_ok VolumeDriver.Mount '{"Name":"b","ID":"c1"}'
	assert_eq "1234:5678 701" "$(stat -c '%u:%g %a' "$(plugin_mp b)")" "the volume as the container sees it"
	plugin_ok VolumeDriver.Unmount '{"Name":"b","ID":"c1"}'
	# asked explicitly: then, and only then, changed
	plugin_ok VolumeDriver.Create \
		"{\"Name\":\"o\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/host\",\"uid\":\"42\",\"mode\":\"0750\"}}"
	assert_eq "42:5678 750" "$(stat -c '%u:%g %a' "$WORK/host")" "host dir with uid=42 mode=0750"
	plugin_ok VolumeDriver.Remove '{"Name":"b"}'
	plugin_ok VolumeDriver.Remove '{"Name":"o"}'
	assert_eq "42:5678 750" "$(stat -c '%u:%g %a' "$WORK/host")" "host dir after Remove"

	# device swapped for a symlink after Create: Mount refuses, mounts nothing, says why
	mkdir "$WORK/swap"
	plugin_ok VolumeDriver.Create \
		"{\"Name\":\"w\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/swap\",\"ro\":\"true\"}}"
	plugin_ok VolumeDriver.Mount '{"Name":"w","ID":"c1"}'
	echo t >"$WORK/swap/t"
	assert_file_content "$(plugin_mp w)/t" t
	[ "$(plugin_mount_opts "$(plugin_mp w)" | tr , '\n' | grep -cx ro)" -ge 1 ] || fail "ro=true bind is not read-only"
	plugin_ok VolumeDriver.Unmount '{"Name":"w","ID":"c1"}'
	rm -r "$WORK/swap"
	ln -s "$WORK/target" "$WORK/swap"
	plugin_refused VolumeDriver.Mount '{"Name":"w","ID":"c2"}' 400 \
		"bind source \`$WORK/swap\` is or goes through a symlink"
	assert_not_mounted "$(plugin_mp w)"
	plugin_stop
}

# type=T,device=D,o=O through libmount: an ext4 image the test made, mounted with o=loop.
test_plugin_generic_mount() {
	plugin_require_tools
	plugin_start
	local img=$WORK/fs.img
	truncate -s 32M "$img"
	mkfs.ext4 -q -F "$img"
	mkdir "$WORK/prep"
	mount -o loop "$img" "$WORK/prep"
	echo inside >"$WORK/prep/f"
	umount "$WORK/prep"
	plugin_wait_no_loop "$img" "after preparing the image"

	plugin_ok VolumeDriver.Create "{\"Name\":\"g\",\"Opts\":{\"type\":\"ext4\",\"device\":\"$img\",\"o\":\"loop\"}}"
	local mp
	mp=$(plugin_mp g)
	plugin_ok VolumeDriver.Mount '{"Name":"g","ID":"c1"}'
	assert_eq ext4 "$(plugin_mount_fstype "$mp")" "filesystem of the generic mount"
	assert_file_content "$mp/f" inside
	assert_eq 1 "$(plugin_loops_for "$img")" "loop devices while mounted"
	plugin_ok VolumeDriver.Get '{"Name":"g"}'
	assert_eq mount "$(plugin_reply .Volume.Status.Backend)" "Status.Backend"
	plugin_ok VolumeDriver.Unmount '{"Name":"g","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_wait_no_loop "$img" "generic o=loop volume after the last Unmount"

	plugin_ok VolumeDriver.Create '{"Name":"ram","Opts":{"type":"ramfs","device":"none"}}'
	plugin_ok VolumeDriver.Mount '{"Name":"ram","ID":"c1"}'
	assert_eq ramfs "$(plugin_mount_fstype "$(plugin_mp ram)")" "filesystem of type=ramfs"
	plugin_ok VolumeDriver.Unmount '{"Name":"ram","ID":"c1"}'
	assert_not_mounted "$(plugin_mp ram)"
	plugin_refused VolumeDriver.Create '{"Name":"nodev","Opts":{"type":"ext4"}}' 400 "device"
	plugin_stop
}

# uid=, gid=, mode= on the volume's root as the container sees it, for every backend.
test_plugin_owner_and_mode() {
	plugin_require_tools
	plugin_start
	mkdir "$WORK/host"
	local owner='"uid":"1000","gid":"100","mode":"750"' v
	plugin_ok VolumeDriver.Create "{\"Name\":\"d\",\"Opts\":{$owner}}"
	plugin_ok VolumeDriver.Create "{\"Name\":\"l\",\"Opts\":{\"size\":\"64M\",$owner}}"
	plugin_ok VolumeDriver.Create "{\"Name\":\"t\",\"Opts\":{\"type\":\"tmpfs\",$owner}}"
	plugin_ok VolumeDriver.Create "{\"Name\":\"b\",\"Opts\":{\"type\":\"bind\",\"device\":\"$WORK/host\",$owner}}"
	plugin_ok VolumeDriver.Create "{\"Name\":\"m\",\"Opts\":{\"type\":\"ramfs\",\"device\":\"none\",$owner}}"
	for v in d l t b m; do
		plugin_ok VolumeDriver.Mount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		assert_eq "1000 100 750" "$(stat -c '%u %g %a' "$(plugin_mp "$v")")" "owner and mode of volume $v"
		plugin_ok VolumeDriver.Unmount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
	done
	plugin_ok VolumeDriver.Create '{"Name":"sticky","Opts":{"type":"tmpfs","mode":"1777"}}'
	plugin_ok VolumeDriver.Mount '{"Name":"sticky","ID":"c1"}'
	assert_eq "0 0 1777" "$(stat -c '%u %g %a' "$(plugin_mp sticky)")" "owner and mode of a mode=1777 tmpfs"
	plugin_ok VolumeDriver.Unmount '{"Name":"sticky","ID":"c1"}'
	plugin_refused VolumeDriver.Create '{"Name":"bad","Opts":{"mode":"999"}}' 400 "mode=999"
	plugin_refused VolumeDriver.Create '{"Name":"bad","Opts":{"uid":"-1"}}' 400 "uid=-1"
	plugin_stop
}

test_plugin_read_only() {
	plugin_require_tools
	plugin_start
	local v mp
	plugin_ok VolumeDriver.Create '{"Name":"d","Opts":{"ro":"true"}}'
	plugin_ok VolumeDriver.Create '{"Name":"l","Opts":{"size":"64M","ro":"true"}}'
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs","ro":"true"}}'
	for v in d l t; do
		mp=$(plugin_mp "$v")
		plugin_ok VolumeDriver.Mount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on read-only volume $v"
		case "$(plugin_mount_field "$mp" 6)" in ro | ro,*) ;; *) fail "volume $v: mount options $(plugin_mount_field "$mp" 6) lack ro" ;; esac
		expect_failure touch "$mp/new"
		assert_contains "$out" "Read-only file system" "write to read-only volume $v"
		plugin_ok VolumeDriver.Unmount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		assert_not_mounted "$mp"
	done
	plugin_refused VolumeDriver.Create '{"Name":"x","Opts":{"ro":"maybe"}}' 400 "use true or false"
	plugin_stop
}

# ---- idempotency, as dockerd repeats itself ------------------------------------------

test_plugin_mount_ids() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"type":"tmpfs"}}'
	local mp
	mp=$(plugin_mp v)
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	echo x >"$mp/x"
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "path of a repeated Mount"
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after a repeated Mount ID"
	plugin_get_ids v
	assert_eq c1 "$ids" "MountIDs after a repeated Mount ID"
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c2"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "path of a second Mount"
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after a second ID"
	assert_file_content "$mp/x" x
	plugin_get_ids v
	assert_eq "c1 c2" "$ids" "MountIDs"
	assert_eq 2 "$(plugin_reply .Volume.Status.Mounts)" "Status.Mounts"

	plugin_refused VolumeDriver.Remove '{"Name":"v"}' 409 "c1"
	assert_contains "$err" "c2" "Err of Remove of a mounted volume"
	[ -d "$(plugin_vol_dir v)" ] || fail "a refused Remove removed the volume"
	is_mounted "$mp" || fail "a refused Remove unmounted the volume"

	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"unknown"}'
	plugin_get_ids v
	assert_eq "c1 c2" "$ids" "MountIDs after Unmount of an unknown ID"
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c1"}'
	is_mounted "$mp" || fail "Unmount of one of two IDs unmounted the volume"
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c2"}'
	assert_not_mounted "$mp"
	assert_eq 0 "$(plugin_mounts_on "$mp")" "mounts after the last Unmount"
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c2"}'
	plugin_get_ids v
	assert_eq "" "$ids" "MountIDs after the last Unmount"
	plugin_ok VolumeDriver.Remove '{"Name":"v"}'
	assert_missing "$(plugin_vol_dir v)"
	plugin_stop
}

# dockerd's mount IDs are container IDs, 64 hex digits each: the Err of a refused Remove
# names them whole (or says how many it leaves out), never a cut-off ID.
test_plugin_remove_names_every_id() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"type":"tmpfs"}}'
	local i id all=()
	for i in $(seq 1 10); do
		id=$(printf '%064x' $((i * 0x1234567)))
		all+=("$id")
		plugin_ok VolumeDriver.Mount "{\"Name\":\"v\",\"ID\":\"$id\"}"
	done
	plugin_refused VolumeDriver.Remove '{"Name":"v"}' 409 "10 mounts"
	local item listed=0
	while read -r item; do
		case " ${all[*]} " in
		*" $item "*) listed=$((listed + 1)) ;;
		*) [[ $item =~ ^(and\ )?[0-9]+\ more$ ]] || fail "Err of Remove names '$item', which is no mount ID: $err" ;;
		esac
	done < <(sed 's/^.*mounts: //' <<<"$err" | sed 's/, /\n/g')
	[ "$listed" -gt 0 ] || fail "Err of Remove names no mount ID: $err"
	plugin_stop
}

test_plugin_create_again() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"size":"64M","fs":"ext4"}}'
	plugin_ok VolumeDriver.Get '{"Name":"v"}'
	local created
	created=$(plugin_reply .Volume.CreatedAt)
	sleep 1
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"fs":"ext4","size":"64M"}}'
	plugin_ok VolumeDriver.Get '{"Name":"v"}'
	assert_eq "$created" "$(plugin_reply .Volume.CreatedAt)" "CreatedAt after a second Create"
	plugin_refused VolumeDriver.Create '{"Name":"v","Opts":{"size":"128M","fs":"ext4"}}' 409 "other options"
	assert_contains "$err" 'size is `64M`' "Err of a Create with another size"
	assert_contains "$err" '`128M`' "Err of a Create with another size"
	plugin_refused VolumeDriver.Create '{"Name":"v","Opts":{"size":"64M"}}' 409 'fs is `ext4`'
	assert_eq 67108864 "$(stat -c %s "$(plugin_vol_dir v)/image")" "image size after refused Creates"
	# no options: absent, {} and null are the same
	plugin_ok VolumeDriver.Create '{"Name":"d"}'
	plugin_ok VolumeDriver.Create '{"Name":"d","Opts":{}}'
	plugin_ok VolumeDriver.Create '{"Name":"d","Opts":null}'
	plugin_refused VolumeDriver.Create '{"Name":"d","Opts":{"type":"tmpfs"}}' 409 "other options"
	assert_contains "$err" 'type' "Err of a Create with a type added"
	assert_contains "$err" '`tmpfs`' "Err of a Create with a type added"
	plugin_stop
}

# ---- bad requests ------------------------------------------------------------------------

test_plugin_bad_names() {
	plugin_require_tools
	plugin_start
	local long before name ep body
	long=$(printf 'x%.0s' $(seq 1 256))
	before=$(plugin_tree)
	for name in "../x" "/etc" "" "$long" "a/b" ".." ".hidden" "-x"; do
		for ep in Create Get Path Mount Unmount Remove; do
			body="{\"Name\":\"$name\",\"ID\":\"c1\"}"
			plugin_refused "VolumeDriver.$ep" "$body" 400 "invalid volume name"
		done
	done
	plugin_refused VolumeDriver.Create "{\"Name\":\"$long\"}" 400 "1-255"
	assert_eq "$before" "$(plugin_tree)" "store after bad names"
	# 255 is the limit, not less
	plugin_ok VolumeDriver.Create "{\"Name\":\"${long:1}\"}"
	plugin_ok VolumeDriver.Get "{\"Name\":\"${long:1}\"}"
	plugin_stop
}

test_plugin_bad_requests() {
	plugin_require_tools
	plugin_start
	local before
	before=$(plugin_tree)
	plugin_refused VolumeDriver.Create '{"Name":"v","Opts":{"bogus":"1"}}' 400 'unknown option `bogus`'
	assert_contains "$err" "type, device, o, size, fs, uid, gid, mode, ro, create" "Err of an unknown option"
	plugin_refused VolumeDriver.Create '{"Name":"v","Opts":{"size":"lots"}}' 400 'size=lots'
	plugin_refused VolumeDriver.Create '{"Name":"v","Opts":{"size":5}}' 400 'must be a string'
	plugin_refused VolumeDriver.Create '{"Name":"v"' 400 "malformed JSON"
	plugin_refused VolumeDriver.Create 'Name=v' 400 "malformed JSON"
	plugin_refused VolumeDriver.Create '["v"]' 400 "must be a JSON object"
	plugin_refused VolumeDriver.Create '"v"' 400 "JSON"
	local ep
	for ep in Create Get Path Remove Mount Unmount; do
		plugin_refused "VolumeDriver.$ep" '{}' 400 'string field `Name`'
		plugin_refused "VolumeDriver.$ep" '{"Name":7,"ID":"c1"}' 400 'string field `Name`'
	done
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	before=$(plugin_tree)
	plugin_refused VolumeDriver.Mount '{"Name":"v"}' 400 'string field `ID`'
	plugin_refused VolumeDriver.Unmount '{"Name":"v"}' 400 'string field `ID`'
	plugin_refused VolumeDriver.Mount '{"Name":"v","ID":""}' 400 'invalid mount ID'
	plugin_get_ids v
	assert_eq "" "$ids" "MountIDs after bad Mounts"
	plugin_refused VolumeDriver.Frobnicate '{}' 404 'unknown endpoint `/VolumeDriver.Frobnicate`'
	plugin_refused Plugin.Nope '' 404 "unknown endpoint"

	# over 1 MiB: 413, and the plugin still answers
	{ printf '{}'; head -c $((1024 * 1024 - 2)) /dev/zero | tr '\0' ' '; } >"$WORK/max.json"
	plugin_ok VolumeDriver.List "@$WORK/max.json" # 1 MiB exactly is fine
	printf ' ' >>"$WORK/max.json"
	plugin_call VolumeDriver.List "@$WORK/max.json"
	assert_eq 413 "$status" "status of a body over 1 MiB"
	assert_contains "$(plugin_reply .Err)" "1 MiB" "Err of a body over 1 MiB"
	plugin_ok VolumeDriver.List '{}'
	# only POST
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$PLUGIN_SOCK" http://plugin/VolumeDriver.List)
	assert_eq 405 "$code" "status of a GET"
	assert_eq "$before" "$(plugin_tree)" "store after bad requests"
	plugin_stop
}

# dockerd sends no Content-Type; none is needed, and a JSON one works as well.
test_plugin_requests_as_dockerd_sends_them() {
	plugin_require_tools
	plugin_start
	plugin_call VolumeDriver.Create '{"Name":"v"}' -H 'Content-Type:'
	assert_eq 200 "$status" "Create without Content-Type: $reply"
	plugin_call VolumeDriver.Get '{"Name":"v"}' -H 'Content-Type:'
	assert_eq 200 "$status" "Get without Content-Type: $reply"
	assert_eq v "$(plugin_reply .Volume.Name)" "Get without Content-Type"
	plugin_call Plugin.Activate '' -H 'Content-Type:'
	assert_eq 200 "$status" "Activate without Content-Type"
	plugin_call VolumeDriver.Mount '{"Name":"v","ID":"c1"}' -H 'Content-Type: application/json'
	assert_eq 200 "$status" "Mount with a JSON Content-Type: $reply"
	# Go's json.Encoder ends the body with a newline; dockerd keeps its connection open
	# for the next call: three calls, one connection, every reply whole
	local lines
	lines=$(curl -s --unix-socket "$PLUGIN_SOCK" -X POST -H 'Content-Type:' \
		-H 'Accept: application/vnd.docker.plugins.v1.2+json' --data-binary $'{"Name":"v"}\n' \
		-w '\n=%{http_code} %{num_connects}\n' \
		http://plugin/VolumeDriver.Get http://plugin/VolumeDriver.Path http://plugin/VolumeDriver.Get)
	assert_eq "=200 1 =200 0 =200 0" "$(grep '^=' <<<"$lines" | tr '\n' ' ' | sed 's/ $//')" \
		"status and new connections of three calls on one connection"
	assert_eq "v $(plugin_mp v) v" "$(grep -v '^=' <<<"$lines" | jq -r '.Volume.Name // .Mountpoint' | tr '\n' ' ' | sed 's/ $//')" \
		"replies on one connection"
	plugin_stop
}

# ---- the socket ----------------------------------------------------------------------------

test_plugin_socket_mode_and_removal() {
	plugin_require_tools
	umask 000 # the socket's mode must not depend on the caller's umask
	plugin_start
	[ -S "$PLUGIN_SOCK" ] || fail "$PLUGIN_SOCK is not a socket"
	assert_eq 600 "$(stat -c %a "$PLUGIN_SOCK")" "mode of the socket"
	assert_eq "0 0" "$(stat -c '%u %g' "$PLUGIN_SOCK")" "owner of the socket"
	plugin_stop
	assert_missing "$PLUGIN_SOCK"
}

test_plugin_stale_socket() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	plugin_crash
	[ -S "$PLUGIN_SOCK" ] || skip "a killed plugin left no socket file to test with"
	local ino
	ino=$(stat -c %i "$PLUGIN_SOCK")
	plugin_start
	[ "$(stat -c %i "$PLUGIN_SOCK")" != "$ino" ] || fail "the stale socket file was not replaced"
	plugin_ok VolumeDriver.Get '{"Name":"v"}'
	plugin_stop
	# a file that is not a socket is never removed
	echo precious >"$WORK/notsock"
	expect_failure "$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/notsock"
	assert_one_line "$out" "start on a regular file"
	assert_contains "$out" "not a socket" "start on a regular file"
	assert_file_content "$WORK/notsock" precious
}

test_plugin_second_instance_refused() {
	plugin_require_tools
	plugin_start
	local first=$PLUGIN_PID
	expect_failure timeout 10 "$CVOL_PLUGIN" --root "$WORK/root" --socket "$PLUGIN_SOCK"
	[ "$rc" -ne 124 ] || fail "a second plugin on the same socket kept running"
	assert_one_line "$out" "second plugin"
	assert_contains "$out" "another plugin already answers on" "second plugin"
	[ -S "$PLUGIN_SOCK" ] || fail "the refused second plugin removed the first one's socket"
	plugin_ok Plugin.Activate ''
	plugin_ok VolumeDriver.List '{}'
	plugin_stop "$first"
}

test_plugin_socket_activation() {
	plugin_require_tools
	command -v systemd-socket-activate >/dev/null ||
		skip "systemd-socket-activate is not installed (package systemd)"
	PLUGIN_SOCK=$WORK/activated.sock
	systemd-socket-activate -l "$PLUGIN_SOCK" \
		"$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/unused.sock" 2>>"$WORK/plugin.log" &
	PLUGIN_PID=$!
	plugin_pids+=("$PLUGIN_PID")
	trap plugin_kill_all EXIT
	plugin_wait_ready "$PLUGIN_PID" # the first connection makes it exec the plugin
	assert_eq cvol-plugin "$(cat "/proc/$PLUGIN_PID/comm")" "process behind the activated socket"
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	plugin_ok VolumeDriver.Get '{"Name":"v"}'
	assert_missing "$WORK/unused.sock"
	plugin_stop
	assert_missing "$WORK/unused.sock"
}

# ---- crashes and restarts ---------------------------------------------------------------------

# kill -9 between Mount and Unmount: the restarted plugin knows the mounts, stacks nothing.
test_plugin_crash_between_mount_and_unmount() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"size":"64M"}}'
	local mp img
	mp=$(plugin_mp v)
	img="$(plugin_vol_dir v)/image"
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c2"}'
	echo before-crash >"$mp/f"
	plugin_crash
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after the crash"

	plugin_start
	plugin_ok VolumeDriver.List '{}'
	assert_eq v "$(plugin_reply '[.Volumes[].Name] | join(" ")')" "List after restart"
	plugin_get_ids v
	assert_eq "c1 c2" "$ids" "MountIDs after restart"
	assert_eq 2 "$(plugin_reply .Volume.Status.Mounts)" "Status.Mounts after restart"
	assert_eq true "$(plugin_reply .Volume.Status.Mounted)" "Status.Mounted after restart"
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after restart"
	assert_eq 1 "$(plugin_loops_for "$img")" "loop devices after restart"
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after a Mount following the restart"
	assert_file_content "$mp/f" before-crash
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c1"}'
	is_mounted "$mp" || fail "one of two Unmounts after restart unmounted the volume"
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c2"}'
	assert_not_mounted "$mp"
	plugin_wait_no_loop "$img" "after the last Unmount following the restart"
	plugin_stop
}

# The mount vanished while the plugin was down (a namespace gone, an admin's umount):
# the mount IDs still hold it, so the restarted plugin mounts it again.
test_plugin_restart_remounts_held_volume() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"size":"64M"}}'
	local mp
	mp=$(plugin_mp v)
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	echo kept >"$mp/f"
	plugin_crash
	umount "$mp"
	plugin_start
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after restart"
	assert_file_content "$mp/f" kept
	plugin_get_ids v
	assert_eq c1 "$ids" "MountIDs after restart"
	plugin_ok VolumeDriver.Unmount '{"Name":"v","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_stop
}

# A managed plugin whose store is not a shared mount on the host loses its mounts with its
# process; its next start finds a volume held but not mounted and mounts it afresh (a tmpfs
# empty, while running containers keep the old one). It says so, in one line, and names the
# likely cause; a restart that finds the volume still mounted says nothing.
test_plugin_restart_warns_of_lost_mount() {
	plugin_require_tools
	mkdir "$WORK/pub"
	local pub mp
	pub=$(cd "$WORK/pub" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs"}}'
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c1"}'
	mp=$(plugin_mp t)
	plugin_crash
	umount -l "$pub/t" "$mp" # the plugin's mount namespace went with its process
	: >"$WORK/plugin.log"
	plugin_start --mount-dir "$pub"
	local lines
	lines=$(grep -c "volume \`t\`" "$WORK/plugin.log" || true)
	assert_eq 1 "$lines" "warning lines about volume t at a start that found it unmounted ($(cat "$WORK/plugin.log"))"
	assert_contains "$(cat "$WORK/plugin.log")" "shared mount" "the warning's likely cause"
	plugin_stop
	: >"$WORK/plugin.log"
	plugin_start --mount-dir "$pub"
	assert_eq "" "$(grep "volume \`t\`" "$WORK/plugin.log" || true)" "warnings at a start that found it mounted"
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c1"}'
	plugin_stop
}

# Mount IDs of an earlier boot belong to containers that are gone.
test_plugin_restart_after_reboot_drops_ids() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"type":"tmpfs"}}'
	plugin_ok VolumeDriver.Mount '{"Name":"v","ID":"c1"}'
	plugin_stop
	is_mounted "$(plugin_mp v)" || fail "stopping the plugin unmounted a volume a container holds"
	local rec
	rec="$(plugin_vol_dir v)/record.json"
	jq -c '.Boot = "00000000-0000-0000-0000-000000000000"' "$rec" >"$rec.new"
	mv "$rec.new" "$rec"
	plugin_start
	plugin_get_ids v
	assert_eq "" "$ids" "MountIDs after a reboot"
	assert_not_mounted "$(plugin_mp v)"
	plugin_ok VolumeDriver.Remove '{"Name":"v"}'
	plugin_stop
}

# ---- concurrency ----------------------------------------------------------------------------

test_plugin_parallel_mounts() {
	plugin_require_tools
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v","Opts":{"type":"tmpfs"}}'
	local mp i expected="" code
	mp=$(plugin_mp v)
	mkdir "$WORK/par"
	plugin_bg=()
	for i in $(seq 1 16); do
		plugin_call_bg VolumeDriver.Mount "{\"Name\":\"v\",\"ID\":\"c$i\"}" "$WORK/par/m$i"
	done
	wait "${plugin_bg[@]}" || true
	for i in $(seq 1 16); do
		code=$(cat "$WORK/par/m$i.code")
		assert_eq 200 "$code" "parallel Mount c$i: $(cat "$WORK/par/m$i.body")"
		assert_eq "$mp" "$(jq -r .Mountpoint "$WORK/par/m$i.body")" "path of parallel Mount c$i"
	done
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after 16 parallel Mounts"
	plugin_get_ids v
	assert_eq "$(printf 'c%s\n' $(seq 1 16) | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" "$ids" \
		"MountIDs after 16 parallel Mounts"

	# 8 Unmounts and 8 new Mounts at once
	plugin_bg=()
	for i in $(seq 1 8); do
		plugin_call_bg VolumeDriver.Unmount "{\"Name\":\"v\",\"ID\":\"c$i\"}" "$WORK/par/u$i"
		plugin_call_bg VolumeDriver.Mount "{\"Name\":\"v\",\"ID\":\"c$((i + 16))\"}" "$WORK/par/m$((i + 16))"
	done
	wait "${plugin_bg[@]}" || true
	for i in $(seq 1 8); do
		assert_eq 200 "$(cat "$WORK/par/u$i.code")" "parallel Unmount c$i: $(cat "$WORK/par/u$i.body")"
		assert_eq 200 "$(cat "$WORK/par/m$((i + 16)).code")" "parallel Mount c$((i + 16))"
	done
	expected=$(printf 'c%s\n' $(seq 9 24) | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	plugin_get_ids v
	assert_eq "$expected" "$ids" "MountIDs after parallel Mounts and Unmounts"
	assert_eq 16 "$(plugin_reply .Volume.Status.Mounts)" "Status.Mounts"
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts after parallel Mounts and Unmounts"

	plugin_bg=()
	for i in $(seq 9 24); do
		plugin_call_bg VolumeDriver.Unmount "{\"Name\":\"v\",\"ID\":\"c$i\"}" "$WORK/par/u$i"
	done
	wait "${plugin_bg[@]}" || true
	for i in $(seq 9 24); do
		assert_eq 200 "$(cat "$WORK/par/u$i.code")" "parallel Unmount c$i: $(cat "$WORK/par/u$i.body")"
	done
	plugin_get_ids v
	assert_eq "" "$ids" "MountIDs after every Unmount"
	assert_not_mounted "$mp"
	plugin_stop
}

test_plugin_parallel_creates() {
	plugin_require_tools
	plugin_start
	local i opts
	mkdir "$WORK/par"
	plugin_bg=()
	for i in $(seq 1 20); do
		opts='{}'
		[ $((i % 2)) -eq 0 ] || opts='{"size":"64M"}'
		plugin_call_bg VolumeDriver.Create "{\"Name\":\"v$i\",\"Opts\":$opts}" "$WORK/par/c$i"
	done
	wait "${plugin_bg[@]}" || true
	for i in $(seq 1 20); do
		assert_eq 200 "$(cat "$WORK/par/c$i.code")" "parallel Create v$i: $(cat "$WORK/par/c$i.body")"
		assert_eq "" "$(jq -r .Err "$WORK/par/c$i.body")" "Err of parallel Create v$i"
	done
	plugin_ok VolumeDriver.List '{}'
	assert_eq 20 "$(plugin_reply '.Volumes | length')" "volumes listed after 20 parallel Creates"
	for i in $(seq 1 20); do
		plugin_ok VolumeDriver.Get "{\"Name\":\"v$i\"}"
	done
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after parallel Creates"

	# the same Create 8 times at once, as two dockerds racing: one volume, every answer 200
	plugin_bg=()
	for i in $(seq 1 8); do
		plugin_call_bg VolumeDriver.Create '{"Name":"same","Opts":{"size":"64M"}}' "$WORK/par/s$i"
	done
	wait "${plugin_bg[@]}" || true
	for i in $(seq 1 8); do
		assert_eq 200 "$(cat "$WORK/par/s$i.code")" "parallel Create of one name ($i): $(cat "$WORK/par/s$i.body")"
	done
	plugin_ok VolumeDriver.List '{}'
	assert_eq 21 "$(plugin_reply '.Volumes | length')" "volumes listed after 8 Creates of one name"
	assert_eq "" "$(ls -A "$WORK/root/volumes/.staging")" ".staging after parallel Creates of one name"
	plugin_stop
}

# SIGTERM while a Create is in flight: the Create finishes and dockerd gets its 200.
# The Create (of a loop volume) is held up by holding the volume's lock from outside,
# as a slow mkfs or a slow disk would.
test_plugin_sigterm_finishes_request() {
	plugin_require_tools
	command -v flock >/dev/null || skip "flock (util-linux) is not installed"
	plugin_start
	local lock="$WORK/root/volumes/.locks/slow"
	[ -d "$WORK/root/volumes/.locks" ] || skip "the store has no .locks dir to hold a Create up with"
	flock "$lock" -c "touch '$WORK/locked'; sleep 1.5" &
	local holder=$! i
	for ((i = 0; i < 100; i++)); do [ -e "$WORK/locked" ] && break; sleep 0.02; done
	plugin_bg=()
	plugin_call_bg VolumeDriver.Create '{"Name":"slow","Opts":{"size":"64M"}}' "$WORK/slow"
	local curl_pid=${plugin_bg[0]}
	sleep 0.4
	[ ! -s "$WORK/slow.code" ] || fail "the Create was answered before the lock was free: $(cat "$WORK/slow.body")"
	local t0=$SECONDS rc=0
	kill -TERM "$PLUGIN_PID"
	wait "$curl_pid" || true
	wait "$holder" || true
	assert_eq 200 "$(cat "$WORK/slow.code")" "status of the Create in flight at SIGTERM: $(cat "$WORK/slow.body" 2>/dev/null)"
	assert_eq "" "$(jq -r .Err "$WORK/slow.body")" "Err of the Create in flight at SIGTERM"
	wait "$PLUGIN_PID" || rc=$?
	plugin_forget "$PLUGIN_PID"
	assert_eq 0 "$rc" "exit status after SIGTERM"
	[ $((SECONDS - t0)) -lt 10 ] || fail "the plugin took $((SECONDS - t0)) s to stop"
	assert_missing "$PLUGIN_SOCK"
	[ -f "$(plugin_vol_dir slow)/image" ] || fail "the Create answered 200 but left no volume"
}

# Lists at the same time each see every volume once (they once shared one directory
# offset, and some saw every volume twice, others none). Uses the benchmark's load client:
# curl cannot keep 16 requests in flight on one socket.
test_plugin_parallel_lists() {
	plugin_require_tools
	make -s -C "$TOP" build/bench/plugin-load >/dev/null || skip "cannot build the load client"
	plugin_start
	local i
	for i in $(seq 1 10); do
		plugin_ok VolumeDriver.Create "{\"Name\":\"v$i\"}"
	done
	"$TOP/build/bench/plugin-load" --socket "$PLUGIN_SOCK" --clients 16 --requests 200 --endpoint List \
		--expect-count 10 >"$WORK/load.out" 2>&1 || fail "parallel Lists: $(tail -n 2 "$WORK/load.out")"
	assert_contains "$(cat "$WORK/load.out")" "errors=0" "parallel Lists"
	plugin_stop
}

# Fill DIR with a chain of directories DEPTH levels deep (a file and a symlink out at the
# bottom), made with relative mkdir and open as a container could.
plugin_make_deep_tree() { # dir depth
	python3 - "$1" "$2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(int(sys.argv[2])):
    os.mkdir("d", dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("bottom\n")
os.symlink("/", "out", dir_fd=fd)
PY
}

# A volume holding a tree 5,000 levels deep (any container can make one) goes with Remove and
# with `cvol volume rm`, also under a limit of 64 descriptors: the plugin survives and still
# answers, the volume is gone, .staging/ is empty, and nothing the tree pointed to is touched.
test_plugin_remove_deep_tree() {
	plugin_require_tools
	command -v python3 >/dev/null || skip "python3 is not installed"
	local vols
	vols="$(cd "$WORK" && pwd -P)/root/volumes"
	PLUGIN_SOCK=$WORK/p.sock
	bash -c 'ulimit -n 64 && exec "$@"' limit "$CVOL_PLUGIN" --root "$WORK/root" --socket "$PLUGIN_SOCK" \
		2>>"$WORK/plugin.log" &
	PLUGIN_PID=$!
	plugin_pids+=("$PLUGIN_PID")
	trap plugin_kill_all EXIT
	plugin_wait_ready "$PLUGIN_PID"
	assert_eq 64 "$(awk '/^Max open files/ { print $4 }' "/proc/$PLUGIN_PID/limits")" "the plugin's fd limit"

	plugin_ok VolumeDriver.Create '{"Name":"deep","Opts":{}}'
	plugin_ok VolumeDriver.Mount '{"Name":"deep","ID":"c1"}'
	plugin_make_deep_tree "$(plugin_reply .Mountpoint)" 5000
	plugin_ok VolumeDriver.Unmount '{"Name":"deep","ID":"c1"}'
	plugin_ok VolumeDriver.Remove '{"Name":"deep"}'
	kill -0 "$PLUGIN_PID" || fail "the plugin died removing a deep tree"
	plugin_ok VolumeDriver.List '{}'
	assert_eq '[]' "$(plugin_reply '.Volumes | tojson')" "List after removing the deep volume"
	assert_missing "$vols/deep"
	assert_eq "" "$(ls -A "$vols/.staging")" ".staging after Remove of the deep volume"
	[ -e /bin/sh ] || fail "a symlink out of the volume was followed"
	plugin_stop

	"$CVOL" --root "$WORK/root" volume create deep2 >/dev/null
	plugin_make_deep_tree "$vols/deep2/_data" 5000
	(
		ulimit -n 64
		"$CVOL" --root "$WORK/root" volume rm deep2
	) >"$WORK/rm.out" 2>&1 || fail "cvol volume rm of a deep tree under ulimit -n 64: $(cat "$WORK/rm.out")"
	assert_missing "$vols/deep2"
	assert_eq "" "$(ls -A "$vols/.staging")" ".staging after cvol volume rm of the deep volume"
}


# ---- what one client may hold ---------------------------------------------------------------

# A python3 client of the plugin's socket, in $WORK/client.py:
#   hold SOCK N FILE           open N connections, write N to FILE, then hold them idle until killed
#   trickle SOCK GAP LIMIT     send a List one byte every GAP s; print "closed SECS BYTES" when the
#                              plugin closes the connection (BYTES: of a reply), or "open SECS" at LIMIT
#   keepalive SOCK GAP         two Lists on one connection, GAP s apart; print both statuses
#   storm SOCK N FILE          like hold, but open a new connection whenever the plugin closes one
plugin_write_client() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	cat >"$WORK/client.py" <<'EOF'
import select, socket, sys, time

REQ = b"POST /VolumeDriver.List HTTP/1.1\r\nHost: plugin\r\nContent-Length: 2\r\n\r\n{}"

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def status_of(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return "closed"
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":", 1)[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    while length and len(body) < length[0]:
        d = s.recv(65536)
        if not d:
            return "closed"
        body += d
    return head.split(b" ")[1].decode()

mode, path = sys.argv[1], sys.argv[2]
if mode == "hold":
    conns = [connect(path) for _ in range(int(sys.argv[3]))]
    with open(sys.argv[4], "w") as f:
        f.write("%d\n" % len(conns))
    while True:
        time.sleep(3600)
elif mode == "storm":
    import selectors
    sel = selectors.DefaultSelector()
    def add():
        s = connect(path)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    for _ in range(int(sys.argv[3])):
        add()
    with open(sys.argv[4], "w") as f:
        f.write("%s\n" % sys.argv[3])
    while True:
        for key, _ in sel.select(1):
            try:
                d = key.fileobj.recv(4096)
            except OSError:
                d = b""
            if not d:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                add()
elif mode == "trickle":
    gap, limit = float(sys.argv[3]), float(sys.argv[4])
    s = connect(path)
    t0, got, i = time.monotonic(), b"", 0
    while time.monotonic() - t0 < limit:
        if i < len(REQ):
            try:
                s.send(REQ[i:i + 1])
            except OSError:
                pass
            i += 1
        if select.select([s], [], [], gap)[0]:
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                print("closed %.1f %d" % (time.monotonic() - t0, len(got)))
                sys.exit(0)
            got += d
    print("open %.1f" % (time.monotonic() - t0))
elif mode == "keepalive":
    s = connect(path)
    first = status_of(s) if s.sendall(REQ) is None else "unsent"
    time.sleep(float(sys.argv[3]))
    second = status_of(s) if s.sendall(REQ) is None else "unsent"
    print(first, second)
EOF
}

# The issue's attack: more idle connections than the old limit (1,020) kept every new
# client out. Now dockerd's next call still gets a fast answer, and the plugin holds at
# most its own limit of connections (and threads).
test_plugin_idle_connections_do_not_starve() {
	plugin_require_tools
	plugin_write_client
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	python3 "$WORK/client.py" hold "$PLUGIN_SOCK" 1100 "$WORK/held" 2>"$WORK/holder.err" &
	local holder=$! i t0 t1 raw ms threads rc
	for ((i = 0; i < 600; i++)); do
		[ ! -s "$WORK/held" ] || break
		kill -0 "$holder" 2>/dev/null || fail "the python client holding connections died: $(cat "$WORK/holder.err")"
		sleep 0.1
	done
	[ -s "$WORK/held" ] || { kill "$holder"; fail "1,100 connections were not open within 60 s"; }
	for i in 1 2 3; do
		t0=${EPOCHREALTIME/./}
		raw=$(curl -s --max-time 15 --unix-socket "$PLUGIN_SOCK" -X POST http://plugin/VolumeDriver.List \
			-d '{}' -w '\n%{http_code}') || {
			rc=$?
			kill "$holder"
			fail "List $i with 1,100 connections open: curl exit $rc, no answer within 15 s"
		}
		t1=${EPOCHREALTIME/./}
		ms=$(((10#$t1 - 10#$t0) / 1000))
		[ "${raw##*$'\n'}" = 200 ] || { kill "$holder"; fail "List $i with 1,100 connections open: HTTP ${raw##*$'\n'}: ${raw%$'\n'*}"; }
		assert_eq v "$(jq -r '[.Volumes[].Name] | join(" ")' <<<"${raw%$'\n'*}")" "List $i with 1,100 connections open"
		# far under dockerd's 30 s cut, with room for a loaded 2-core machine under ASan
		[ "$ms" -lt 10000 ] || { kill "$holder"; fail "List $i with 1,100 connections open took $ms ms"; }
	done
	plugin_ok VolumeDriver.Get '{"Name":"v"}'
	threads=$(awk '/^Threads:/ { print $2 }' "/proc/$PLUGIN_PID/status")
	[ "$threads" -le 300 ] || { kill "$holder"; fail "the plugin runs $threads threads with 1,100 connections open (limit 256)"; }
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	plugin_ok VolumeDriver.List '{}'
	plugin_stop
}

# The same with a client that opens a new connection whenever the plugin closes one of its
# 1,100 (thousands a second): the plugin closes that client's own connections, not the
# newcomer's, and List still answers within a few seconds.
test_plugin_connection_storm_does_not_starve() {
	plugin_require_tools
	plugin_write_client
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	python3 "$WORK/client.py" storm "$PLUGIN_SOCK" 1100 "$WORK/held" 2>"$WORK/holder.err" &
	local holder=$! i t0 t1 raw ms rc
	for ((i = 0; i < 600; i++)); do
		[ ! -s "$WORK/held" ] || break
		kill -0 "$holder" 2>/dev/null || fail "the python client opening connections died: $(cat "$WORK/holder.err")"
		sleep 0.1
	done
	[ -s "$WORK/held" ] || { kill "$holder"; fail "1,100 connections were not open within 60 s"; }
	for i in 1 2 3 4 5; do
		t0=${EPOCHREALTIME/./}
		raw=$(curl -s --max-time 15 --unix-socket "$PLUGIN_SOCK" -X POST http://plugin/VolumeDriver.List \
			-d '{}' -w '\n%{http_code}') || {
			rc=$?
			kill "$holder"
			fail "List $i while connections are reopened: curl exit $rc, no answer within 15 s"
		}
		t1=${EPOCHREALTIME/./}
		ms=$(((10#$t1 - 10#$t0) / 1000))
		[ "${raw##*$'\n'}" = 200 ] || { kill "$holder"; fail "List $i while connections are reopened: HTTP ${raw##*$'\n'}: ${raw%$'\n'*}"; }
		[ "$ms" -lt 10000 ] || { kill "$holder"; fail "List $i while connections are reopened took $ms ms"; }
		sleep 0.2
	done
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	plugin_ok VolumeDriver.List '{}'
	plugin_stop
	assert_contains "$(cat "$WORK/plugin.log")" "idle connection(s) closed to make room (at most 256; the last of pid $holder)" \
		"the plugin's warning"
}

# Volumes s1..sN whose Mount hangs: sshfs to a local port that accepts and never says a word
# (ssh waits for the banner until ConnectTimeout), in a plugin started with ARGS. Sets
# SILENT_PID, the listener's pid, which the test ends; skips without sshfs.
plugin_start_with_silent_volumes() { # n [cvol-plugin args]
	local n=$1 i port
	shift
	command -v sshfs >/dev/null || skip "sshfs is not installed (make deps)"
	python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(120)' >"$WORK/port" &
	SILENT_PID=$!
	for ((i = 0; i < 50; i++)); do
		[ ! -s "$WORK/port" ] || break
		sleep 0.1
	done
	port=$(cat "$WORK/port")
	[ -n "$port" ] || { kill "$SILENT_PID"; fail "the silent listener did not start"; }
	plugin_start "$@"
	for ((i = 1; i <= n; i++)); do
		plugin_ok VolumeDriver.Create "{\"Name\":\"s$i\",\"Opts\":{\"sshcmd\":\"u@127.0.0.1:/x\",\"port\":\"$port\"}}"
	done
}

# A peer whose connections are all busy does not take another peer's: with room for 4, a
# client keeps one connection open between two Lists while another holds the other 3 with
# Mounts that hang (sshfs to a port that never answers); that client's 4th connection gets a
# 503, not the first client's idle one (it was closed to make room when the only
# connections that could be closed were other peers').
test_plugin_busy_peer_does_not_take_another_peers_connection() {
	plugin_require_tools
	cat >"$WORK/hog.py" <<'EOF2'
import json, os, socket, sys, time
path = sys.argv[1]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(40)
    return s

def request(s, ep, body):
    body = json.dumps(body).encode()
    s.sendall(b"POST /%s HTTP/1.1\r\nHost: plugin\r\nContent-Length: %d\r\n\r\n" % (ep.encode(), len(body)) + body)

def status(s):
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return "closed"
            buf += d
    except OSError as e:
        return "error:%s" % e
    return buf.split(b" ")[1].decode()

idle = connect()
request(idle, "VolumeDriver.List", {})
first = status(idle)
r, w = os.pipe()
if os.fork() == 0:  # the other peer: its own pid
    busy = []
    for i in (1, 2, 3):
        s = connect()
        request(s, "VolumeDriver.Mount", {"Name": "s%d" % i, "ID": "c%d" % i})
        busy.append(s)
    time.sleep(1.5)
    extra = connect()
    request(extra, "VolumeDriver.List", {})
    os.write(w, status(extra).encode())
    os._exit(0)
os.close(w)
fourth = os.read(r, 100).decode()
try:
    request(idle, "VolumeDriver.List", {})
    again = status(idle)
except OSError as e:
    again = "error:%s" % e
os.wait()
print(first, fourth, again)
EOF2
	plugin_start_with_silent_volumes 3 --max-connections 4
	local got
	got=$(python3 "$WORK/hog.py" "$PLUGIN_SOCK")
	kill "$SILENT_PID"
	wait "$SILENT_PID" 2>/dev/null || true
	assert_eq "200 503 200" "$got" \
		"List on an idle connection, a 4th connection of the peer whose 3 are busy, List again on the first"
	plugin_stop
}

# A client that trickles its request is cut: one byte every 20 s (the issue's) by the idle
# timeout (10 s), one byte every 0.5 s by the request timeout; it gets no reply. A client
# that keeps its connection open between two requests is served both times.
test_plugin_trickling_client_is_cut() {
	plugin_require_tools
	plugin_write_client
	plugin_start
	local what secs bytes
	read -r what secs bytes < <(python3 "$WORK/client.py" trickle "$PLUGIN_SOCK" 20 30)
	assert_eq closed "$what" "a client sending a byte every 20 s, after $secs s (default idle timeout 10 s)"
	awk -v s="$secs" 'BEGIN { exit !(s >= 9 && s <= 15) }' || fail "a client sending a byte every 20 s was cut after $secs s, not about 10 s"
	assert_eq 0 "$bytes" "reply bytes to a trickling client"
	plugin_stop

	# libmicrohttpd checks its idle timeout in whole seconds: 2 s leaves room for the 0.7 s gap
	plugin_start --idle-timeout 2 --request-timeout 4
	read -r what secs bytes < <(python3 "$WORK/client.py" trickle "$PLUGIN_SOCK" 0.5 15)
	assert_eq closed "$what" "a client sending a byte every 0.5 s, after $secs s (request timeout 4 s)"
	awk -v s="$secs" 'BEGIN { exit !(s >= 3.5 && s <= 7) }' || fail "a client sending a byte every 0.5 s was cut after $secs s, not about 4 s"
	assert_eq 0 "$bytes" "reply bytes to a trickling client"
	assert_eq "200 200" "$(python3 "$WORK/client.py" keepalive "$PLUGIN_SOCK" 0.7)" \
		"two Lists on one connection, 0.7 s apart (idle timeout 2 s)"
	plugin_call VolumeDriver.List '{}'
	assert_eq 200 "$status" "List after the trickling client was cut"
	plugin_stop
	# a request timeout within the idle timeout would cut a client that waits, then asks
	expect_failure "$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/x.sock" --idle-timeout 30
	assert_one_line "$out" "--idle-timeout 30"
	assert_contains "$out" "the request timeout (20 s) must be longer than the idle timeout (30 s)" "--idle-timeout 30"
	expect_failure "$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/x.sock" --max-connections 0
	assert_contains "$out" "--max-connections \`0\`: need a number from 1 to 100000" "--max-connections 0"
}

# Only root, and with --group that group's members, may talk to the plugin: others are
# refused (403 and why) even when the socket's mode lets them connect.
test_plugin_refuses_non_root_peers() {
	plugin_require_tools
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	local raw
	# as_user SETPRIV-ARGS...: a List as that user; its HTTP status and Err in $status and $err
	as_user() {
		raw=$(setpriv "$@" -- curl -s --max-time 5 --unix-socket "$PLUGIN_SOCK" -X POST \
			http://plugin/VolumeDriver.List -d '{}' -w '\n%{http_code}') ||
			fail "List as setpriv $*: curl exit $?: $(setpriv "$@" -- curl -sS --unix-socket "$PLUGIN_SOCK" http://plugin/x 2>&1)"
		status=${raw##*$'\n'}
		reply=${raw%$'\n'*}
		err=$(jq -r '.Err // ""' <<<"$reply" 2>/dev/null) || fail "List as setpriv $*: not JSON: $reply"
	}
	plugin_start
	plugin_ok VolumeDriver.Create '{"Name":"v"}'
	chmod 0666 "$PLUGIN_SOCK"
	as_user --reuid=65534 --regid=65534 --clear-groups
	assert_eq 403 "$status" "List by uid 65534 on a 0666 socket: $reply"
	assert_contains "$err" "permission denied: uid 65534 is not root" "Err of a List by uid 65534"
	plugin_ok VolumeDriver.List '{}' # root still is served
	plugin_stop

	plugin_start --group 65534
	assert_eq "660 0 65534" "$(stat -c '%a %u %g' "$PLUGIN_SOCK")" "mode and owner of the socket with --group 65534"
	as_user --reuid=65534 --regid=65534 --clear-groups
	assert_eq 200 "$status" "List by gid 65534 with --group 65534: $reply"
	assert_eq v "$(jq -r '[.Volumes[].Name] | join(" ")' <<<"$reply")" "List by gid 65534 with --group 65534"
	as_user --reuid=65533 --regid=65533 --groups=65534
	assert_eq 200 "$status" "List by a supplementary member of 65534 with --group 65534: $reply"
	chmod 0666 "$PLUGIN_SOCK"
	as_user --reuid=65533 --regid=65533 --clear-groups
	assert_eq 403 "$status" "List by uid 65533, gid 65533 with --group 65534: $reply"
	assert_contains "$err" "uid 65533, gid 65533 is neither root nor in group 65534" "Err of a List by gid 65533"
	plugin_stop

	local name
	name=$(getent group 65534 | cut -d: -f1)
	if [ -n "$name" ]; then
		plugin_start --group "$name"
		assert_eq "660 65534" "$(stat -c '%a %g' "$PLUGIN_SOCK")" "socket with --group $name"
		plugin_stop
	fi
	expect_failure "$CVOL_PLUGIN" --root "$WORK/root" --socket "$WORK/x.sock" --group no-such-group-x
	assert_one_line "$out" "--group no-such-group-x"
	assert_contains "$out" "no such group" "--group no-such-group-x"
}

# A member of --group whose connections are all being handled (Mounts of volumes whose server
# does not answer) does not lock root (dockerd) out: root's new connection is served, in the
# room kept for connections being closed, rather than refused with a 503.
test_plugin_busy_group_member_does_not_lock_root_out() {
	plugin_require_tools
	plugin_start_with_silent_volumes 4 --group 65534 --max-connections 4
	python3 - "$PLUGIN_SOCK" <<'PY' >"$WORK/busy.out" 2>&1
import os, socket, sys, time
path = sys.argv[1]
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s
def call(s, ep, body):
    s.sendall(b"POST /%s HTTP/1.1\r\nHost: p\r\nContent-Length: %d\r\n\r\n%s" % (ep, len(body), body))
pid = os.fork()
if pid == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    busy = [connect() for i in range(4)]
    for i, s in enumerate(busy):
        call(s, b"VolumeDriver.Mount", b'{"Name":"s%d","ID":"c1"}' % (i + 1))
    time.sleep(30)
    os._exit(0)
time.sleep(1.5)
root = connect()
call(root, b"VolumeDriver.List", b"{}")
root.settimeout(10)
try:
    data = root.recv(65536)
    print("root:", data.split(b" ")[1].decode() if data else "closed")
except OSError as e:
    print("root: error", e)
os.kill(pid, 9)
os.waitpid(pid, 0)
PY
	kill "$SILENT_PID"
	wait "$SILENT_PID" 2>/dev/null || true
	assert_contains "$(cat "$WORK/busy.out")" "root: 200" "root's List while a group member's 4 connections are busy (--max-connections 4)"
	plugin_stop
}

# Room is made at the expense of the user holding the most connections, and never of root's
# for another user: dockerd's keep-alive connections (here two of root's) survive 40
# processes of another user (allowed by --group) holding one connection each.
test_plugin_other_users_never_evict_root() {
	plugin_require_tools
	mkdir -p "$WORK/root"
	plugin_start --group 65534 --max-connections 16
	python3 - "$PLUGIN_SOCK" <<'PY' >"$WORK/evict.out" 2>&1
import os, socket, sys, time
path = sys.argv[1]
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s
def list_on(s):
    try:
        s.sendall(b"POST /VolumeDriver.List HTTP/1.1\r\nHost: p\r\nContent-Length: 2\r\n\r\n{}")
        s.settimeout(10)
        data = s.recv(65536)
    except OSError:
        return "closed"
    return data.split(b" ")[1].decode() if data else "closed"
root = [connect(), connect()]
print("root before:", " ".join(list_on(s) for s in root))
children = []
for i in range(40):
    pid = os.fork()
    if pid == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        try:
            c = connect()
            time.sleep(30)
        finally:
            os._exit(0)
    children.append(pid)
time.sleep(3)
print("root after:", " ".join(list_on(s) for s in root))
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
PY
	assert_contains "$(cat "$WORK/evict.out")" "root before: 200 200" "root's connections before"
	assert_contains "$(cat "$WORK/evict.out")" "root after: 200 200" "root's idle connections after 40 other users' connections"
	plugin_stop
}

# ---- --mount-dir and --host-root (how the managed plugin runs) -----------------------

# --mount-dir: Mount binds the volume at DIR/NAME and hands out that path; the data is the
# volume's; the last Unmount takes the bind away (and its dir); Get and Path show DIR/NAME.
test_plugin_mount_dir() {
	plugin_require_tools
	mkdir "$WORK/pub"
	local pub
	pub=$(cd "$WORK/pub" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"d","Opts":{}}'
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs","o":"size=8m"}}'
	plugin_ok VolumeDriver.Path '{"Name":"d"}'
	assert_eq "$pub/d" "$(plugin_reply .Mountpoint)" "Path with --mount-dir"
	local v
	for v in d t; do
		plugin_ok VolumeDriver.Mount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		assert_eq "$pub/$v" "$(plugin_reply .Mountpoint)" "Mountpoint of $v with --mount-dir"
		assert_eq 1 "$(plugin_mounts_on "$pub/$v")" "mounts on $pub/$v"
		echo "in-$v" >"$pub/$v/f"
		assert_file_content "$(plugin_mp "$v")/f" "in-$v"
		plugin_ok VolumeDriver.Mount "{\"Name\":\"$v\",\"ID\":\"c2\"}"
		assert_eq 1 "$(plugin_mounts_on "$pub/$v")" "mounts on $pub/$v after a second Mount"
	done
	assert_eq tmpfs "$(plugin_mount_fstype "$pub/t")" "what $pub/t shows"
	plugin_ok VolumeDriver.Get '{"Name":"t"}'
	assert_eq "$pub/t" "$(plugin_reply .Volume.Mountpoint)" "Get's Mountpoint with --mount-dir"
	for v in d t; do
		plugin_ok VolumeDriver.Unmount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		assert_eq 1 "$(plugin_mounts_on "$pub/$v")" "mounts on $pub/$v while c2 holds it"
		plugin_ok VolumeDriver.Unmount "{\"Name\":\"$v\",\"ID\":\"c2\"}"
		assert_not_mounted "$pub/$v"
		assert_missing "$pub/$v"
	done
	assert_not_mounted "$(plugin_mp t)"
	assert_file_content "$(plugin_mp d)/f" in-d
	plugin_ok VolumeDriver.Remove '{"Name":"d"}'
	plugin_stop
}

# dockerd unmounts a managed plugin's propagated mount when the plugin stops; the volumes its
# containers hold are bound again at the next start, on what is still mounted (never a second
# tmpfs or loop mount), and a Mount heals a bind someone took away.
test_plugin_mount_dir_rebound_at_start() {
	plugin_require_tools
	mkdir "$WORK/pub"
	local pub
	pub=$(cd "$WORK/pub" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs"}}'
	plugin_ok VolumeDriver.Create '{"Name":"l","Opts":{"size":"32M"}}'
	plugin_ok VolumeDriver.Create '{"Name":"idle","Opts":{}}'
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c1"}'
	plugin_ok VolumeDriver.Mount '{"Name":"l","ID":"c1"}'
	echo tmp >"$pub/t/f"
	echo loop >"$pub/l/f"
	plugin_crash
	umount -l "$pub/t" "$pub/l" # as dockerd tears the propagated mount down
	plugin_start --mount-dir "$pub"
	assert_file_content "$pub/t/f" tmp
	assert_file_content "$pub/l/f" loop
	assert_eq 1 "$(plugin_mounts_on "$(plugin_mp t)")" "mounts on the tmpfs volume's _data after a restart"
	assert_eq 1 "$(plugin_mounts_on "$(plugin_mp l)")" "mounts on the loop volume's _data after a restart"
	assert_eq 1 "$(plugin_loops_for "$(plugin_vol_dir l)/image")" "loop devices of the loop image"
	assert_missing "$pub/idle"
	umount -l "$pub/t"
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c2"}'
	assert_file_content "$pub/t/f" tmp
	plugin_stop
	plugin_start --mount-dir "$pub"
	assert_eq 1 "$(plugin_mounts_on "$pub/t")" "mounts on $pub/t after a restart that found it bound"
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c1"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c2"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"l","ID":"c1"}'
	assert_not_mounted "$pub/t"
	assert_not_mounted "$(plugin_mp l)"
	plugin_wait_no_loop "$(plugin_vol_dir l)/image" "the last Unmount of the loop volume"
	plugin_stop
}

# --host-root: a bind volume's device is a path under it, with `..` kept beneath it and no
# symlink followed; create=true makes the directory there; the mount dir shows its files.
test_plugin_host_root() {
	plugin_require_tools
	mkdir -p "$WORK/host/srv/data" "$WORK/pub"
	echo on-host >"$WORK/host/srv/data/h"
	ln -s / "$WORK/host/srv/up"
	plugin_start --host-root "$WORK/host" --mount-dir "$WORK/pub"
	plugin_ok VolumeDriver.Create '{"Name":"b","Opts":{"type":"bind","device":"/srv/data"}}'
	plugin_ok VolumeDriver.Create '{"Name":"dots","Opts":{"type":"bind","device":"/../../../srv/data"}}'
	local v mp
	for v in b dots; do
		plugin_ok VolumeDriver.Mount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
		mp=$(plugin_reply .Mountpoint)
		assert_file_content "$mp/h" on-host
		echo "from-$v" >"$mp/c-$v"
		assert_file_content "$WORK/host/srv/data/c-$v" "from-$v"
		plugin_ok VolumeDriver.Unmount "{\"Name\":\"$v\",\"ID\":\"c1\"}"
	done
	plugin_refused VolumeDriver.Create '{"Name":"s","Opts":{"type":"bind","device":"/srv/up/etc"}}' 400 \
		"symlink"
	local made=/cvol-test-host-root-$$
	[ ! -e "$made" ] || skip "$made exists on this host"
	plugin_ok VolumeDriver.Create "{\"Name\":\"n\",\"Opts\":{\"type\":\"bind\",\"device\":\"$made\",\"create\":\"true\"}}"
	[ -d "$WORK/host$made" ] || fail "create=true did not make $WORK/host$made"
	assert_missing "$made"
	plugin_stop
}

# A symlink someone put at DIR/NAME is not followed: the volume is never bound where it points
# (a bind there would also outlive the last Unmount, which looks at DIR/NAME itself), neither
# by a Mount nor by the start that binds again what mount IDs hold.
test_plugin_mount_dir_symlink_not_followed() {
	plugin_require_tools
	mkdir "$WORK/pub" "$WORK/elsewhere"
	local pub elsewhere
	pub=$(cd "$WORK/pub" && pwd -P)
	elsewhere=$(cd "$WORK/elsewhere" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"d","Opts":{}}'
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs"}}'
	ln -s "$elsewhere" "$pub/d"
	plugin_refused VolumeDriver.Mount '{"Name":"d","ID":"c1"}' 500 "$pub/d"
	assert_not_mounted "$elsewhere"
	plugin_get_ids d
	assert_eq "" "$ids" "mount IDs of d after a refused Mount"
	# the same at start, for a volume held when the plugin stopped
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c1"}'
	plugin_crash
	umount -l "$pub/t"
	rmdir "$pub/t"
	ln -s "$elsewhere" "$pub/t"
	plugin_start --mount-dir "$pub"
	assert_not_mounted "$elsewhere"
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c1"}'
	assert_not_mounted "$elsewhere"
	assert_not_mounted "$(plugin_mp t)"
	plugin_stop
}

# A bind at DIR/NAME that no longer shows the volume (the tmpfs on its _data was unmounted
# under it, and a fresh one mounted) is not handed out: Mount gives a path that shows the
# volume's _data, at once and after a restart, and the last Unmount leaves nothing bound.
test_plugin_mount_dir_stale_bind() {
	plugin_require_tools
	mkdir "$WORK/pub"
	local pub
	pub=$(cd "$WORK/pub" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs"}}'
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c1"}'
	echo old >"$pub/t/f"
	umount "$(plugin_mp t)" # someone takes the volume's own mount away; the bind stays
	plugin_ok VolumeDriver.Mount '{"Name":"t","ID":"c2"}'
	echo new >"$pub/t/g"
	assert_file_content "$(plugin_mp t)/g" new
	assert_eq 1 "$(plugin_mounts_on "$pub/t")" "mounts on $pub/t after a Mount that found a stale bind"
	# at start: the volume held, its _data unmounted while the plugin was down, the bind kept
	plugin_crash
	umount "$(plugin_mp t)"
	plugin_start --mount-dir "$pub"
	echo again >"$pub/t/h"
	assert_file_content "$(plugin_mp t)/h" again
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c1"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"t","ID":"c2"}'
	assert_not_mounted "$pub/t"
	assert_not_mounted "$(plugin_mp t)"
	plugin_stop
}

# A Mount whose record cannot be saved leaves nothing mounted or bound when no other mount ID
# holds the volume: dockerd does not call Unmount for a Mount that failed.
test_plugin_mount_record_save_fails() {
	plugin_require_tools
	mkdir "$WORK/pub"
	local pub
	pub=$(cd "$WORK/pub" && pwd -P)
	plugin_start --mount-dir "$pub"
	plugin_ok VolumeDriver.Create '{"Name":"t","Opts":{"type":"tmpfs"}}'
	# a directory where the record's temporary file goes: the save fails (root or not)
	mkdir "$(plugin_vol_dir t)/.record.json.tmp$PLUGIN_PID"
	plugin_refused VolumeDriver.Mount '{"Name":"t","ID":"c1"}' 500 "record.json"
	assert_not_mounted "$pub/t"
	assert_not_mounted "$(plugin_mp t)"
	rmdir "$(plugin_vol_dir t)/.record.json.tmp$PLUGIN_PID"
	plugin_get_ids t
	assert_eq "" "$ids" "mount IDs of t after a refused Mount"
	plugin_stop
}
