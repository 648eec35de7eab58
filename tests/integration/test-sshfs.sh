# sshfs volumes with docker-volume-sshfs's options (sshcmd, password, port, any other key as an
# sshfs `-o`), against a storage host the test makes: a network namespace running the test's
# own sshd, joined by a veth pair to a second namespace where cvol-plugin runs. Both addresses
# exist only inside those namespaces; nothing outside them is ever addressed. The password never
# shows (Get, List, cvol volume inspect/ls, the --debug log, errors, sshfs's command line), the
# record is root's only, Remove leaves the data on the server, and a wrong password or a server
# that does not answer fails within the bound while other volumes are served.

SSHFS_ADDR=10.231.0.1 # the storage host; the client is 10.231.0.2
SSHFS_PORT=2222
SSHFS_PW='s3cret,pw-9' # a comma: fine on stdin, never on a command line
SSHFS_NS_S=
SSHFS_NS_C=
SSHFS_SSHD_PID=
SSHFS_MADE_PRIVSEP=

sshfs_require_tools() {
	plugin_require_tools
	command -v sshfs >/dev/null || skip "sshfs is not installed (apt-get install sshfs; make deps)"
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed (apt-get install openssh-server; make deps)"
	command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed (openssh-client)"
	command -v openssl >/dev/null || skip "openssl is not installed"
	command -v ip >/dev/null || skip "ip is not installed (iproute2)"
	command -v nsenter >/dev/null || skip "nsenter is not installed (util-linux)"
	[ -c /dev/fuse ] || skip "/dev/fuse is missing (no FUSE in this kernel or container)"
}

# Run a command on the storage host (s) or the client (c).
sshfs_on() { # s|c command...
	local ns=$SSHFS_NS_S
	[ "$1" = c ] && ns=$SSHFS_NS_C
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

sshfs_teardown() {
	local rc=$? m pid
	set +e
	plugin_kill_all
	# the sshfs daemons go with their mounts; any left is this test's (its mountpoint is in $WORK)
	for m in $(awk -v w="$WORK" 'index($5, w) == 1 && $0 ~ / - fuse\.sshfs / { print $5 }' /proc/self/mountinfo); do
		umount -l "$m"
	done
	for pid in $(pgrep -x sshfs 2>/dev/null); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$WORK/" && kill -9 "$pid"
	done
	if [ -n "$SSHFS_SSHD_PID" ]; then
		kill -CONT "$SSHFS_SSHD_PID" 2>/dev/null
		kill -TERM "$SSHFS_SSHD_PID" 2>/dev/null
		wait "$SSHFS_SSHD_PID" 2>/dev/null
	fi
	[ -z "$SSHFS_NS_S" ] || ip netns del "$SSHFS_NS_S" 2>/dev/null
	[ -z "$SSHFS_NS_C" ] || ip netns del "$SSHFS_NS_C" 2>/dev/null
	[ -z "$SSHFS_MADE_PRIVSEP" ] || rmdir /run/sshd 2>/dev/null
	return "$rc"
}

# The storage host: namespaces s and c joined by a veth pair, sshd on $SSHFS_ADDR:$SSHFS_PORT
# with the test's host key, root's login by the test's key ($WORK/ssh/id), and user cvoltest
# with password $SSHFS_PW (in copies of /etc/passwd and /etc/shadow bound over the real ones in
# this test's private mount namespace). Exports: $WORK/srv (root's) and $WORK/srv/pw (cvoltest's).
sshfs_storage_host() {
	sshfs_require_tools
	trap sshfs_teardown EXIT
	SSHFS_NS_S=cvolsshs$$
	SSHFS_NS_C=cvolsshc$$
	ip netns add "$SSHFS_NS_S"
	ip netns add "$SSHFS_NS_C"
	ip link add "cvs$$" type veth peer name "cvc$$"
	ip link set "cvs$$" netns "$SSHFS_NS_S"
	ip link set "cvc$$" netns "$SSHFS_NS_C"
	sshfs_on s ip link set lo up
	sshfs_on c ip link set lo up
	sshfs_on s ip addr add "$SSHFS_ADDR/30" dev "cvs$$"
	sshfs_on c ip addr add 10.231.0.2/30 dev "cvc$$"
	sshfs_on s ip link set "cvs$$" up
	sshfs_on c ip link set "cvc$$" up

	mkdir -p "$WORK/ssh" "$WORK/srv/pw"
	chmod 700 "$WORK/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host" -C cvol-test-host
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/id" -C cvol-test-client
	cp "$WORK/ssh/id.pub" "$WORK/ssh/authorized_keys"
	local hash
	hash=$(openssl passwd -6 -stdin <<<"$SSHFS_PW")
	cp /etc/passwd "$WORK/passwd"
	cp /etc/shadow "$WORK/shadow"
	echo "cvoltest:x:64123:64123:cvol test:$WORK/srv/pw:/bin/sh" >>"$WORK/passwd"
	echo "cvoltest:$hash:19000:0:99999:7:::" >>"$WORK/shadow"
	mount --bind "$WORK/passwd" /etc/passwd
	mount --bind "$WORK/shadow" /etc/shadow
	chown 64123:64123 "$WORK/srv/pw"
	if [ ! -d /run/sshd ]; then # sshd's privilege separation dir, as openssh-server's unit makes it
		mkdir -m 755 /run/sshd
		SSHFS_MADE_PRIVSEP=1
	fi
	cat >"$WORK/ssh/sshd_config" <<EOF
Port $SSHFS_PORT
ListenAddress $SSHFS_ADDR
HostKey $WORK/ssh/host
PidFile $WORK/ssh/sshd.pid
AuthorizedKeysFile $WORK/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
PrintMotd no
Subsystem sftp internal-sftp
EOF
	sshfs_sshd_start
}

# Start the storage host's sshd (again) and wait until it listens.
sshfs_sshd_start() {
	nsenter --net="/run/netns/$SSHFS_NS_S" /usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" 2>>"$WORK/sshd.log" &
	SSHFS_SSHD_PID=$! # nsenter execs sshd: the same pid
	local i
	for ((i = 0; i < 100; i++)); do
		sshfs_on c bash -c "exec 3<>/dev/tcp/$SSHFS_ADDR/$SSHFS_PORT" 2>/dev/null && return 0
		[ -d "/proc/$SSHFS_SSHD_PID" ] || fail "sshd exited at start: $(tail -n 3 "$WORK/sshd.log")"
		sleep 0.05
	done
	fail "sshd did not listen on $SSHFS_ADDR:$SSHFS_PORT within 5 s: $(tail -n 3 "$WORK/sshd.log")"
}

# The pids of PID and of all its descendants.
sshfs_tree() { # pid
	local kid
	echo "$1"
	for kid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		sshfs_tree "$kid"
	done
}

# The server dies: kill -9 sshd and its sessions (the test's own sshd and its descendants, by pid).
sshfs_sshd_kill() {
	local pids
	pids=$(sshfs_tree "$SSHFS_SSHD_PID")
	# shellcheck disable=SC2086 # one pid a word
	kill -KILL $pids 2>/dev/null || true
	wait "$SSHFS_SSHD_PID" 2>/dev/null || true
	SSHFS_SSHD_PID=
}

# The storage host goes silent, as a host that is gone: its link down, nothing answers at all.
sshfs_host_gone() { sshfs_on s ip link set "cvs$$" down; }
sshfs_host_back() { sshfs_on s ip link set "cvs$$" up; }

# cvol-plugin in the client namespace (sshfs runs as its child there); the teardown stays ours.
sshfs_plugin_start() { # [cvol-plugin args]
	local real=$CVOL_PLUGIN
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$SSHFS_NS_C" "$real" >"$WORK/plugin-in-ns"
	chmod +x "$WORK/plugin-in-ns"
	# plugin_start sets its own EXIT trap: ours again, also when the plugin does not start (sshd
	# would be left running)
	CVOL_PLUGIN=$WORK/plugin-in-ns plugin_start "$@" || {
		trap sshfs_teardown EXIT
		return 1
	}
	trap sshfs_teardown EXIT
}

# Options every test volume carries, as a user of a test server would give them: no host key
# check (the test's host key is new each run) and no known_hosts written for root.
SSHFS_HOSTKEY_OPTS='"StrictHostKeyChecking":"no","UserKnownHostsFile":"/dev/null"'

# Create sshfs volume NAME on the storage host's $WORK/srv, logged in with the test's key.
sshfs_create_key_volume() { # name
	plugin_ok VolumeDriver.Create "{\"Name\":\"$1\",\"Opts\":{\"sshcmd\":\"root@$SSHFS_ADDR:$WORK/srv\",\"port\":\"$SSHFS_PORT\",\"IdentityFile\":\"$WORK/ssh/id\",$SSHFS_HOSTKEY_OPTS}}"
}

# Get volume NAME; sets $state to its Status.Mount ($reply is the Get's).
sshfs_mount_state() { # name
	plugin_ok VolumeDriver.Get "{\"Name\":\"$1\"}"
	state=$(plugin_reply .Volume.Status.Mount)
}

# Milliseconds since START (from date +%s%N).
sshfs_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# The pid of the sshfs serving mountpoint MP (its command line names it).
sshfs_pid_of() { # mp
	local pid
	for pid in $(pgrep -x sshfs); do
		tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$1" && { echo "$pid"; return 0; }
	done
	return 1
}

# ---- tests -----------------------------------------------------------------------------------

# The key, the options and the mount: a file written through the volume is on the server.
test_sshfs_key_volume() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp
	mp=$(plugin_mp data)
	echo old >"$WORK/srv/before"
	plugin_ok VolumeDriver.Create "{\"Name\":\"data\",\"Opts\":{\"sshcmd\":\"root@$SSHFS_ADDR:$WORK/srv\",\"port\":\"$SSHFS_PORT\",\"IdentityFile\":\"$WORK/ssh/id\",$SSHFS_HOSTKEY_OPTS,\"reconnect\":\"\"}}"
	assert_not_mounted "$mp"
	assert_eq 600 "$(stat -c %a "$(plugin_vol_dir data)/record.json")" "mode of record.json"
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "Mountpoint"
	assert_eq fuse.sshfs "$(plugin_mount_fstype "$mp")" "filesystem on the volume"
	assert_file_content "$mp/before" old
	echo through-cvol >"$mp/new"
	assert_file_content "$WORK/srv/new" through-cvol
	local pid cmd
	pid=$(sshfs_pid_of "$mp") || fail "no sshfs process serves $mp"
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	assert_contains "$cmd" "-p $SSHFS_PORT" "sshfs command line"
	assert_contains "$cmd" "-o IdentityFile=$WORK/ssh/id" "sshfs command line"
	assert_contains "$cmd" "-o reconnect " "sshfs command line (a key with an empty value is a flag)"
	assert_contains "$cmd" "-o ConnectTimeout=10" "sshfs command line (the default bound)"
	assert_contains "$cmd" "-o ServerAliveInterval=5 -o ServerAliveCountMax=3" "sshfs command line (a dead server noticed)"
	plugin_ok VolumeDriver.Get '{"Name":"data"}'
	assert_eq sshfs "$(plugin_reply .Volume.Status.Backend)" "Status.Backend"
	assert_eq true "$(plugin_reply .Volume.Status.Mounted)" "Status.Mounted"
	assert_eq "root@$SSHFS_ADDR:$WORK/srv" "$(plugin_reply .Volume.Status.Options.sshcmd)" "Status.Options.sshcmd"
	plugin_refused VolumeDriver.Remove '{"Name":"data"}' 409 "in use"
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	assert_not_mounted "$mp"
	# Remove forgets the volume; the data stays on the server
	plugin_ok VolumeDriver.Remove '{"Name":"data"}'
	assert_missing "$(plugin_vol_dir data)"
	assert_file_content "$WORK/srv/new" through-cvol
	assert_file_content "$WORK/srv/before" old
	plugin_stop
}

# vieux/docker-volume-sshfs's set: sshcmd, password, port and an extra -o; the password is
# nowhere a user or another process can read it.
test_sshfs_password_never_shown() {
	sshfs_storage_host
	sshfs_plugin_start --debug
	local mp opts
	mp=$(plugin_mp pw)
	opts="\"sshcmd\":\"cvoltest@$SSHFS_ADDR:$WORK/srv/pw\",\"password\":\"$SSHFS_PW\",\"port\":\"$SSHFS_PORT\",\"cache\":\"no\",$SSHFS_HOSTKEY_OPTS"
	plugin_ok VolumeDriver.Create "{\"Name\":\"pw\",\"Opts\":{$opts}}"
	plugin_ok VolumeDriver.Create "{\"Name\":\"pw\",\"Opts\":{$opts}}" # the same again succeeds
	plugin_ok VolumeDriver.Mount '{"Name":"pw","ID":"c1"}'
	echo by-password >"$mp/f"
	assert_file_content "$WORK/srv/pw/f" by-password
	assert_eq 64123 "$(stat -c %u "$WORK/srv/pw/f")" "owner of the file on the server (the ssh user)"
	local pid cmd environ
	pid=$(sshfs_pid_of "$mp") || fail "no sshfs process serves $mp"
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	assert_contains "$cmd" "-o password_stdin" "sshfs command line"
	assert_contains "$cmd" "-o cache=no" "sshfs command line"
	environ=$(tr '\0' '\n' <"/proc/$pid/environ")
	local what text
	for what in cmdline environ; do
		[ "$what" = cmdline ] && text=$cmd || text=$environ
		case "$text" in *"$SSHFS_PW"*) fail "the password is in sshfs's $what: $text" ;; esac
	done

	# everything a user sees
	plugin_ok VolumeDriver.Get '{"Name":"pw"}'
	local get=$reply
	assert_eq '********' "$(plugin_reply .Volume.Status.Options.password)" "Status.Options.password"
	assert_eq "$SSHFS_PORT" "$(plugin_reply .Volume.Status.Options.port)" "Status.Options.port"
	plugin_ok VolumeDriver.List '{}'
	local list=$reply
	plugin_refused VolumeDriver.Create "{\"Name\":\"pw\",\"Opts\":{${opts/$SSHFS_PW/other-pw},\"port\":\"2200\"}}" 409 "other options"
	local refused=$err
	assert_contains "$refused" "password differs" "Err of a create with another password"
	assert_contains "$refused" "port is \`$SSHFS_PORT\`, not \`2200\`" "Err of a create with another port"
	local cli_inspect cli_ls cli_ls_json cli_debug
	cli_inspect=$("$CVOL" --root "$WORK/root" volume inspect pw)
	assert_eq '********' "$(jq -r .Status.Options.password <<<"$cli_inspect")" "cvol volume inspect: Options.password"
	cli_ls=$("$CVOL" --root "$WORK/root" volume ls)
	assert_contains "$cli_ls" sshfs "cvol volume ls"
	cli_ls_json=$("$CVOL" --root "$WORK/root" volume ls --json)
	cli_debug=$(CVOL_DEBUG=volume "$CVOL" --root "$WORK/root" volume create -o sshcmd=x@y:/z -o password=other-pw -o port=1 pw 2>&1) &&
		fail "cvol volume create with other options succeeded"
	assert_contains "$cli_debug" "password differs" "cvol volume create with another password"
	for what in get list refused cli_inspect cli_ls cli_ls_json cli_debug; do
		case "${!what}" in *"$SSHFS_PW"* | *other-pw*) fail "the password shows in $what: ${!what}" ;; esac
	done
	plugin_ok VolumeDriver.Unmount '{"Name":"pw","ID":"c1"}'
	assert_not_mounted "$mp"
	# the CLI mounts too (its debug log names the mount, not the password)
	cli_debug=$(CVOL_DEBUG=volume nsenter --net="/run/netns/$SSHFS_NS_C" "$CVOL" --root "$WORK/root" volume mount pw 2>&1) ||
		fail "cvol volume mount pw: $cli_debug"
	assert_contains "$cli_debug" "mount fuse.sshfs" "CVOL_DEBUG=volume of cvol volume mount"
	assert_file_content "$mp/f" by-password
	cli_debug+=$("$CVOL" --root "$WORK/root" volume umount pw 2>&1)
	case "$cli_debug" in *"$SSHFS_PW"*) fail "the password shows in CVOL_DEBUG=volume: $cli_debug" ;; esac
	assert_not_mounted "$mp"

	# the record keeps it, for root only
	local rec
	rec=$(plugin_vol_dir pw)/record.json
	assert_eq 600 "$(stat -c %a "$rec")" "mode of record.json"
	assert_contains "$(cat "$rec")" "$SSHFS_PW" "record.json (it keeps the password to mount again)"
	plugin_ok VolumeDriver.Remove '{"Name":"pw"}'
	assert_file_content "$WORK/srv/pw/f" by-password
	plugin_stop
	case "$(cat "$WORK/plugin.log")" in *"$SSHFS_PW"*) fail "the password is in the plugin's --debug log" ;; esac
	assert_contains "$(cat "$WORK/plugin.log")" '********' "the --debug log (Get's reply, redacted)"
}

# The password read from a file at each Mount (password_file): root's, 0600, one line; the file
# is checked before sshfs runs, and a changed file is read at the next mount.
test_sshfs_password_file() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp base
	mp=$(plugin_mp pf)
	base="\"sshcmd\":\"cvoltest@$SSHFS_ADDR:$WORK/srv/pw\",\"port\":\"$SSHFS_PORT\",$SSHFS_HOSTKEY_OPTS"
	plugin_refused VolumeDriver.Create "{\"Name\":\"pf\",\"Opts\":{$base,\"password_file\":\"pw.txt\"}}" 400 \
		"option \`password_file\`: give the absolute path"
	plugin_refused VolumeDriver.Create "{\"Name\":\"pf\",\"Opts\":{$base,\"password_file\":\"$WORK/pw.txt\",\"password\":\"x\"}}" 400 \
		"options \`password\` and \`password_file\`: give one"
	plugin_ok VolumeDriver.Create "{\"Name\":\"pf\",\"Opts\":{$base,\"password_file\":\"$WORK/pw.txt\"}}"
	plugin_refused VolumeDriver.Mount '{"Name":"pf","ID":"c1"}' 500 "open the password file \`$WORK/pw.txt\`"
	printf '%s\n' "$SSHFS_PW" >"$WORK/pw.txt"
	chmod 644 "$WORK/pw.txt"
	plugin_refused VolumeDriver.Mount '{"Name":"pf","ID":"c1"}' 500 "only root can read (chmod 600)"
	assert_not_mounted "$mp"
	chmod 600 "$WORK/pw.txt"
	ln -s "$WORK/pw.txt" "$WORK/pw-link"
	plugin_ok VolumeDriver.Create "{\"Name\":\"pl\",\"Opts\":{$base,\"password_file\":\"$WORK/pw-link\"}}"
	plugin_refused VolumeDriver.Mount '{"Name":"pl","ID":"c1"}' 500 "open the password file \`$WORK/pw-link\`"
	plugin_ok VolumeDriver.Mount '{"Name":"pf","ID":"c1"}'
	echo by-file >"$mp/f"
	assert_file_content "$WORK/srv/pw/f" by-file
	local pid cmd
	pid=$(sshfs_pid_of "$mp") || fail "no sshfs process serves $mp"
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	assert_contains "$cmd" "-o password_stdin" "sshfs command line"
	case "$cmd$(cat "$(plugin_vol_dir pf)/record.json")" in *"$SSHFS_PW"*) fail "the password is in sshfs's command line or the record" ;; esac
	plugin_ok VolumeDriver.Unmount '{"Name":"pf","ID":"c1"}'
	# a changed file is what the next mount uses: a wrong password now fails as one
	printf 'wrong-%s\n' "$SSHFS_PW" >"$WORK/pw.txt"
	plugin_refused VolumeDriver.Mount '{"Name":"pf","ID":"c2"}' 500 "the login with the password failed"
	case "$err$(cat "$WORK/plugin.log")" in *"$SSHFS_PW"*) fail "the password shows in an error or the log" ;; esac
	assert_not_mounted "$mp"
	plugin_ok VolumeDriver.Remove '{"Name":"pf"}'
	plugin_ok VolumeDriver.Remove '{"Name":"pl"}'
	plugin_stop
}

# A password_file that is not a regular file is refused without being opened for reading: a
# FIFO's writer waiting for a reader is not let through (nor a device's open run, with its
# effects), and the Mount fails at once.
test_sshfs_password_file_not_opened() {
	plugin_start
	local writer
	mkfifo -m 600 "$WORK/pw.fifo"
	(
		exec 3>"$WORK/pw.fifo"
		echo opened >"$WORK/writer"
	) &
	writer=$!
	plugin_ok VolumeDriver.Create "{\"Name\":\"pf\",\"Opts\":{\"sshcmd\":\"u@192.0.2.1:/x\",\"password_file\":\"$WORK/pw.fifo\"}}"
	plugin_refused VolumeDriver.Mount '{"Name":"pf","ID":"c1"}' 500 "must be a regular file of root's"
	sleep 0.3
	[ -e "$WORK/writer" ] && fail "the plugin opened the FIFO given as password_file (its writer went on)"
	kill "$writer" 2>/dev/null || true
	wait "$writer" 2>/dev/null || true
	plugin_ok VolumeDriver.Remove '{"Name":"pf"}'
	plugin_stop
}

# A wrong password: a clear error within the bound, nothing mounted, no sshfs left.
test_sshfs_wrong_password() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp start took state
	mp=$(plugin_mp bad)
	plugin_ok VolumeDriver.Create "{\"Name\":\"bad\",\"Opts\":{\"sshcmd\":\"cvoltest@$SSHFS_ADDR:$WORK/srv/pw\",\"password\":\"wrong-$SSHFS_PW\",\"port\":\"$SSHFS_PORT\",$SSHFS_HOSTKEY_OPTS}}"
	start=$(date +%s%N)
	plugin_refused VolumeDriver.Mount '{"Name":"bad","ID":"c1"}' 500 "mount sshfs \`cvoltest@$SSHFS_ADDR:$WORK/srv/pw\`"
	assert_contains "$err" "the login with the password failed" "Err of a Mount with a wrong password"
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$took" -lt 16000 ] || fail "a wrong password took ${took} ms to fail (the bound is 15 s)"
	case "$err" in *"$SSHFS_PW"*) fail "the password shows in the error: $err" ;; esac
	assert_not_mounted "$mp"
	sshfs_pid_of "$mp" >/dev/null && fail "an sshfs process is left for $mp"
	plugin_get_ids bad
	assert_eq "" "$ids" "mount IDs after the failed Mount"
	plugin_ok VolumeDriver.Remove '{"Name":"bad"}'
	plugin_stop
}

# A server that does not answer (sshd stopped): Mount fails within the bound, the plugin serves
# other volumes meanwhile, and nothing stays mounted.
test_sshfs_server_not_answering() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp
	mp=$(plugin_mp hung)
	plugin_ok VolumeDriver.Create '{"Name":"other"}'
	plugin_ok VolumeDriver.Create "{\"Name\":\"hung\",\"Opts\":{\"sshcmd\":\"root@$SSHFS_ADDR:$WORK/srv\",\"port\":\"$SSHFS_PORT\",\"IdentityFile\":\"$WORK/ssh/id\",$SSHFS_HOSTKEY_OPTS}}"
	kill -STOP "$SSHFS_SSHD_PID"
	local start took
	start=$(date +%s%N)
	plugin_bg=()
	plugin_call_bg VolumeDriver.Mount '{"Name":"hung","ID":"c1"}' "$WORK/hung"
	sleep 1
	local t0
	t0=$(date +%s%N)
	plugin_ok VolumeDriver.Get '{"Name":"other"}'
	plugin_ok VolumeDriver.Mount '{"Name":"other","ID":"c1"}'
	plugin_ok VolumeDriver.List '{}'
	[ $((($(date +%s%N) - t0) / 1000000)) -lt 2000 ] || fail "other volumes waited for the hung Mount"
	wait "${plugin_bg[@]}"
	took=$((($(date +%s%N) - start) / 1000000))
	kill -CONT "$SSHFS_SSHD_PID"
	[ "$took" -lt 17000 ] || fail "Mount of a server that does not answer took ${took} ms (the bound is 15 s)"
	assert_eq 500 "$(cat "$WORK/hung.code")" "HTTP status of the hung Mount"
	assert_contains "$(jq -r .Err "$WORK/hung.body")" "mount sshfs \`root@$SSHFS_ADDR:$WORK/srv\`" "Err of the hung Mount"
	assert_not_mounted "$mp"
	sshfs_pid_of "$mp" >/dev/null && fail "an sshfs process is left for $mp"
	# the server back: the next Mount works
	plugin_ok VolumeDriver.Mount '{"Name":"hung","ID":"c1"}'
	assert_eq fuse.sshfs "$(plugin_mount_fstype "$mp")" "filesystem after the server came back"
	plugin_ok VolumeDriver.Unmount '{"Name":"hung","ID":"c1"}'
	plugin_stop
}

# A server cut off for a moment while a container holds the volume: the next Mount finds the
# mount silent and detaches it, but leaves its sshfs running for the container, which reads
# through it again once the link is back; a later Mount makes a fresh mount.
test_sshfs_silent_mount_kept_for_holders() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp holder pid err_text
	mp=$(plugin_mp held)
	echo before >"$WORK/srv/f"
	plugin_ok VolumeDriver.Create "{\"Name\":\"held\",\"Opts\":{\"sshcmd\":\"root@$SSHFS_ADDR:$WORK/srv\",\"port\":\"$SSHFS_PORT\",\"IdentityFile\":\"$WORK/ssh/id\",\"ConnectTimeout\":\"2\",$SSHFS_HOSTKEY_OPTS}}"
	plugin_ok VolumeDriver.Mount '{"Name":"held","ID":"c1"}'
	pid=$(sshfs_pid_of "$mp") || fail "no sshfs process serves $mp"
	(cd "$mp" && exec sleep 300) & # a container: its cwd in the volume
	holder=$!
	sshfs_host_gone
	plugin_refused VolumeDriver.Mount '{"Name":"held","ID":"c2"}' 500 "its mount (no answer within 3 s) is detached"
	sshfs_host_back
	[ -d "/proc/$pid" ] || { kill "$holder"; fail "the sshfs that c1 still uses was killed"; }
	err_text=$(timeout 20 cat "/proc/$holder/cwd/f" 2>&1) || true
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	assert_eq before "$err_text" "the file read by c1 through its mount once the link is back"
	plugin_ok VolumeDriver.Mount '{"Name":"held","ID":"c2"}'
	assert_file_content "$mp/f" before
	assert_eq 1 "$(awk -v m="$mp" '$5 == m' /proc/self/mountinfo | wc -l)" "mounts on $mp"
	plugin_ok VolumeDriver.Unmount '{"Name":"held","ID":"c2"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"held","ID":"c1"}'
	plugin_stop
}

# Keys and values that could end one sshfs option and start another, or run a program.
test_sshfs_options_refused() {
	plugin_require_tools
	plugin_start
	local base='"sshcmd":"u@h:/p"' before
	before=$(plugin_tree)
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"cache\":\"no,allow_other\"}}" 400 "a value with \`,\`"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"cache\":\"-oProxyCommand=sh\"}}" 400 "starting with \`-\`"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"a,b\":\"c\"}}" 400 "[A-Za-z0-9_]"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"-f\":\"\"}}" 400 "[A-Za-z0-9_]"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"cache\":\"no\\nx\"}}" 400 "control character"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"password\":\"a\\nb\"}}" 400 "control character"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"ProxyCommand\":\"nc h 22\"}}" 400 "not allowed"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"ssh_command\":\"sh\"}}" 400 "not allowed"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"debug\":\"\"}}" 400 "not allowed"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"port\":\"70000\"}}" 400 "port"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"type\":\"nfs\"}}" 400 "leave \`type\` out"
	plugin_refused VolumeDriver.Create '{"Name":"x","Opts":{"sshcmd":"-oProxyCommand=sh:/p"}}' 400 "starting with \`-\`"
	plugin_refused VolumeDriver.Create '{"Name":"x","Opts":{"sshcmd":"nohost"}}' 400 "host:path"
	plugin_refused VolumeDriver.Create "{\"Name\":\"x\",\"Opts\":{$base,\"my_token\":\"-tok\"}}" 400 "my_token"
	case "$err" in *-tok*) fail "a secret's value shows in the error: $err" ;; esac
	assert_eq "$before" "$(plugin_tree)" "the store after refused creates"
	# a secret inside a generic mount's `o` (cifs) is hidden too
	plugin_ok VolumeDriver.Create '{"Name":"c","Opts":{"type":"cifs","device":"//h/s","o":"username=u,password=cifs-pw,vers=3.0"}}'
	plugin_ok VolumeDriver.Get '{"Name":"c"}'
	assert_eq "username=u,password=********,vers=3.0" "$(plugin_reply .Volume.Status.Options.o)" "Status.Options.o"
	plugin_refused VolumeDriver.Create '{"Name":"c","Opts":{"type":"cifs","device":"//h/s","o":"username=u,password=x2,vers=3.0"}}' 409 "o differs"
	case "$err" in *cifs-pw* | *x2*) fail "the cifs password shows in the error: $err" ;; esac
	plugin_stop
}

# The same through docker volume create with a private dockerd: what a vieux/sshfs user types.
test_sshfs_docker() {
	command -v docker_e2e_isolate >/dev/null || skip "test-docker.sh's helpers are not loaded"
	sshfs_storage_host
	docker_e2e_isolate '{}'
	trap 'docker_e2e_teardown; sshfs_teardown' EXIT
	local real=$CVOL_PLUGIN
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$SSHFS_NS_C" "$real" >"$WORK/plugin-in-ns"
	chmod +x "$WORK/plugin-in-ns"
	CVOL_PLUGIN=$WORK/plugin-in-ns docker_e2e_plugin_start
	docker_e2e_dockerd_start
	docker_e2e_make_image
	docker_e2e_create sshvol -o "sshcmd=cvoltest@$SSHFS_ADDR:$WORK/srv/pw" -o "password=$SSHFS_PW" -o "port=$SSHFS_PORT" \
		-o cache=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	docker_e2e_run -v sshvol:/data -- sh -c 'echo from-docker > /data/d'
	assert_file_content "$WORK/srv/pw/d" from-docker
	local inspect
	inspect=$(docker_e2e_ok volume inspect sshvol)
	assert_eq '********' "$(jq -r '.[0].Status.Options.password' <<<"$inspect")" "docker volume inspect: Status.Options.password"
	assert_eq sshfs "$(jq -r '.[0].Status.Backend' <<<"$inspect")" "docker volume inspect: Status.Backend"
	local out
	# (dockerd answers a create of a name it knows itself: the plugin's "other options" is tested above)
	docker_e2e_create sshbad -o "sshcmd=cvoltest@$SSHFS_ADDR:$WORK/srv/pw" -o password=wr0ng-pw-77 -o "port=$SSHFS_PORT" \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	out=$(docker_e2e_cli run --rm --network none -v sshbad:/data "$DOCKER_E2E_IMAGE" true 2>&1) &&
		fail "docker run with a wrong password succeeded"
	assert_contains "$out" "the login with the password failed" "docker run with a wrong password"
	# dockerd keeps the options of its own create request and shows them as the top-level
	# Options: not the plugin's to hide (docs: use IdentityFile where that matters)
	out+=$(jq '.[0].Status' <<<"$inspect")$(docker_e2e_ok volume ls)$(cat "$WORK/plugin.log")
	case "$out" in *"$SSHFS_PW"* | *wr0ng-pw-77*) fail "the password shows in docker's output or the plugin log" ;; esac
	# with password_file, the password is in no create request: docker volume inspect, all of
	# it (dockerd's own Options too), never shows it
	install -m 600 /dev/null "$WORK/pwfile"
	printf '%s\n' "$SSHFS_PW" >"$WORK/pwfile"
	docker_e2e_create sshfile -o "sshcmd=cvoltest@$SSHFS_ADDR:$WORK/srv/pw" -o "password_file=$WORK/pwfile" \
		-o "port=$SSHFS_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
	assert_eq from-docker "$(docker_e2e_run -v sshfile:/data -- cat /data/d)" "sshfile (password_file) read in a container"
	inspect=$(docker_e2e_ok volume inspect sshfile)
	case "$inspect" in *"$SSHFS_PW"*) fail "the password shows in docker volume inspect: $inspect" ;; esac
	docker_e2e_ok volume rm sshvol sshfile >/dev/null
	assert_file_content "$WORK/srv/pw/d" from-docker
}

# Remove never goes into what is still mounted on a volume: with two mounts stacked on _data
# (the unmount takes only the top one), Remove is refused, the volume stays, the data too.
test_sshfs_remove_refuses_while_mounted() {
	plugin_require_tools
	plugin_start
	mkdir -p "$WORK/srv"
	echo keep >"$WORK/srv/f"
	plugin_ok VolumeDriver.Create '{"Name":"st","Opts":{"sshcmd":"u@10.231.0.1:/srv"}}'
	local mp
	mp=$(plugin_mp st)
	mount --bind "$WORK/srv" "$mp"
	mount --bind "$WORK/srv" "$mp"
	plugin_refused VolumeDriver.Remove '{"Name":"st"}' 409 "is still mounted; not removing"
	assert_file_content "$WORK/srv/f" keep
	assert_file_content "$mp/f" keep
	plugin_ok VolumeDriver.Get '{"Name":"st"}'
	# once nothing is mounted there, Remove forgets the volume; the files stay where they are
	umount "$mp"
	plugin_ok VolumeDriver.Remove '{"Name":"st"}'
	assert_missing "$(plugin_vol_dir st)"
	assert_file_content "$WORK/srv/f" keep
	plugin_stop
}

# ---- network volumes come back ------------------------------------------------------------------

# The server dies while a volume is mounted and held, and comes back: Status says the mount is
# dead meanwhile, and the next Mount works with the data written before, on one mount only.
test_sshfs_server_killed_and_back() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp state start
	mp=$(plugin_mp data)
	sshfs_create_key_volume data
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	sshfs_mount_state data
	assert_eq alive "$state" "Status.Mount of a mounted volume"
	echo before >"$mp/f"
	sshfs_sshd_kill
	sshfs_mount_state data
	assert_contains "$state" "dead: " "Status.Mount with the server killed"
	sshfs_sshd_start
	start=$(date +%s%N)
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c2"}'
	echo "killed and restarted: Mount took $(sshfs_ms_since "$start") ms" >&2
	assert_eq "$mp" "$(plugin_reply .Mountpoint)" "Mountpoint"
	assert_file_content "$mp/f" before
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on _data after the server came back"
	assert_eq fuse.sshfs "$(plugin_mount_fstype "$mp")" "filesystem on the volume"
	sshfs_mount_state data
	assert_eq alive "$state" "Status.Mount after the server came back"
	plugin_get_ids data
	assert_eq "c1 c2" "$ids" "mount IDs"
	echo after >"$mp/g"
	assert_file_content "$WORK/srv/g" after
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c2"}'
	assert_not_mounted "$mp"
	plugin_stop
}

# The sshfs daemon gone (killed; the mount stays in the table and answers ENOTCONN): the next
# Mount detaches it and mounts again; the mount IDs of the containers holding it are kept.
test_sshfs_daemon_gone_mounted_again() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp pid state
	mp=$(plugin_mp data)
	sshfs_create_key_volume data
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	echo before >"$mp/f"
	pid=$(sshfs_pid_of "$mp") || fail "no sshfs process serves $mp"
	kill -KILL "$pid"
	sshfs_mount_state data
	assert_eq "dead: Transport endpoint is not connected" "$state" "Status.Mount with sshfs killed"
	assert_eq true "$(plugin_reply .Volume.Status.Mounted)" "Status.Mounted (still in the mount table)"
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c2"}'
	assert_file_content "$mp/f" before
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on _data after Mount"
	sshfs_mount_state data
	assert_eq alive "$state" "Status.Mount after Mount"
	plugin_get_ids data
	assert_eq "c1 c2" "$ids" "mount IDs"
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c2"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	assert_not_mounted "$mp"
	plugin_stop
}

# The server gone for good (sshd killed, the host silent): Status says the mount does not answer,
# Mount fails within the bound with one line naming the volume and the server, other volumes are
# served meanwhile, nothing stays mounted, the mount IDs are kept, and the last Unmount of a dead
# mount succeeds at once (though a process in it keeps it busy).
test_sshfs_server_gone_for_good() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp mp2 start took t0 err state busy
	mp=$(plugin_mp data)
	mp2=$(plugin_mp data2)
	sshfs_create_key_volume data
	sshfs_create_key_volume data2
	plugin_ok VolumeDriver.Create '{"Name":"other"}'
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	plugin_ok VolumeDriver.Mount '{"Name":"data2","ID":"c1"}'
	echo before >"$mp/f"
	(cd "$mp2" && exec sleep 600) &
	busy=$!
	sshfs_sshd_kill
	sshfs_host_gone
	start=$(date +%s%N)
	sshfs_mount_state data
	assert_eq "no answer within 3 s" "$state" "Status.Mount with the server gone"
	took=$(sshfs_ms_since "$start")
	[ "$took" -lt 5000 ] || fail "Get of a volume whose server is gone took $took ms (the bound is 3 s)"

	start=$(date +%s%N)
	plugin_ok VolumeDriver.Unmount '{"Name":"data2","ID":"c1"}'
	took=$(sshfs_ms_since "$start")
	[ "$took" -lt 2000 ] || fail "Unmount of a dead mount took $took ms"
	assert_not_mounted "$mp2"
	kill "$busy"

	start=$(date +%s%N)
	plugin_bg=()
	plugin_call_bg VolumeDriver.Mount '{"Name":"data","ID":"c2"}' "$WORK/dead"
	sleep 1
	t0=$(date +%s%N)
	plugin_ok VolumeDriver.Get '{"Name":"other"}'
	plugin_ok VolumeDriver.Mount '{"Name":"other","ID":"c1"}'
	plugin_ok VolumeDriver.List '{}'
	took=$(sshfs_ms_since "$t0")
	[ "$took" -lt 2000 ] || fail "another volume waited $took ms for the dead one's Mount"
	wait "${plugin_bg[@]}"
	took=$(sshfs_ms_since "$start")
	echo "server gone: Mount failed after $took ms" >&2
	[ "$took" -lt 20000 ] || fail "Mount of a volume whose server is gone took $took ms (the bound is 3 + 15 s)"
	assert_eq 500 "$(cat "$WORK/dead.code")" "HTTP status of the Mount"
	err=$(jq -r .Err "$WORK/dead.body")
	echo "Err: $err" >&2
	assert_one_line "$err" "Err of the Mount"
	assert_contains "$err" "mount volume \`data\`: its mount (no answer within 3 s) is detached; mounting it again: mount sshfs \`root@$SSHFS_ADDR:$WORK/srv\`" "Err of the Mount"
	assert_not_mounted "$mp"
	sshfs_pid_of "$mp" >/dev/null && fail "an sshfs process is left for $mp"
	plugin_get_ids data
	assert_eq c1 "$ids" "mount IDs after the failed Mount"
	assert_eq "not mounted" "$(plugin_reply .Volume.Status.Mount)" "Status.Mount after the failed Mount"
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	# Remove forgets the volume; the files stay on the server
	plugin_ok VolumeDriver.Remove '{"Name":"data"}'
	assert_file_content "$WORK/srv/f" before
	plugin_ok VolumeDriver.Unmount '{"Name":"other","ID":"c1"}'
	plugin_stop
}

# A Mount that kills the daemon of a silent mount kills ours only: a process named sshfs whose
# command line names the same _data in another mount namespace (a container's, another
# plugin's with the same store path) is left alone.
test_sshfs_kill_spares_other_namespaces() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp other
	mp=$(plugin_mp data)
	sshfs_create_key_volume data
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	# shellcheck disable=SC2016 # expanded by the inner bash
	unshare -m bash -c 'exec -a sshfs cat - "$1" < <(exec sleep 600)' _ "$mp" &
	other=$!
	sleep 0.3
	kill -0 "$other" 2>/dev/null || fail "the impersonating process did not start"
	sshfs_sshd_kill
	sshfs_host_gone
	plugin_call VolumeDriver.Mount '{"Name":"data","ID":"c2"}' >/dev/null || true
	assert_not_mounted "$mp"
	kill -0 "$other" 2>/dev/null || fail "the Mount killed an sshfs of another mount namespace"
	# shellcheck disable=SC2046 # one pid a word
	kill $(sshfs_tree "$other") 2>/dev/null || true
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	plugin_stop
}

# The plugin restarted while a held volume's server is gone (its mount lost meanwhile, as with a
# managed plugin's namespace): it answers at once, the volume is mounted at its next Mount.
test_sshfs_plugin_restart_server_gone() {
	sshfs_storage_host
	sshfs_plugin_start
	local mp start took state
	mp=$(plugin_mp data)
	sshfs_create_key_volume data
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c1"}'
	echo before >"$mp/f"
	plugin_stop
	sshfs_sshd_kill
	sshfs_host_gone
	! is_mounted "$mp" || umount -l "$mp" # sshfs without reconnect unmounts itself
	start=$(date +%s%N)
	sshfs_plugin_start
	took=$(sshfs_ms_since "$start")
	[ "$took" -lt 2000 ] || fail "the plugin took $took ms to answer with a volume whose server is gone"
	sshfs_mount_state data
	assert_eq "not mounted" "$state" "Status.Mount after the restart"
	plugin_get_ids data
	assert_eq c1 "$ids" "mount IDs after the restart"
	sshfs_host_back
	sshfs_sshd_start
	plugin_ok VolumeDriver.Mount '{"Name":"data","ID":"c2"}'
	assert_file_content "$mp/f" before
	assert_eq 1 "$(plugin_mounts_on "$mp")" "mounts on _data"
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c1"}'
	plugin_ok VolumeDriver.Unmount '{"Name":"data","ID":"c2"}'
	assert_not_mounted "$mp"
	plugin_stop
}
