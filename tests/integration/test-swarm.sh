# A two-node Docker Swarm sharing one sshfs volume through cvol-plugin --scope global
# (docs/swarm.md; the layout is the one of docs/dev/swarm-test-notes.md). Three hosts, each a
# process of the test in its own network, mount and UTS namespaces, none named on the host:
#   storage 10.232.0.1  the test's sshd (its own host key; root logs in with the test's key),
#                       serving $WORK/srv; the bridge swbr the nodes' veth pairs are ports of
#   node1   10.232.0.11 a private dockerd (the Swarm's manager) and cvol-plugin --scope global
#   node2   10.232.0.12 the same (a worker)
# Each node's mount namespace has a tmpfs over /run (its own /run/docker/plugins: dockerd finds
# the plugin at that fixed path) and over /etc/docker, and an /etc/hosts that names `storage`.
# Every address exists only inside these namespaces (no default route): nothing outside them is
# ever addressed. Everything started is ended by its pid when the test ends, pass or fail; the
# namespaces, their mounts and links go with their last process.

SWARM_NET=10.232.0 # storage .1, node N .1N
SWARM_IMAGE=bb:latest
SWARM_T0=0

# The pids (and network namespaces) of what the test starts, for the teardown; the numbered
# ones are read as ${!name} too.
swarm_forget_pids() {
	SWARM_HOLDER_storage='' SWARM_HOLDER_node1='' SWARM_HOLDER_node2=''
	SWARM_NETNS_storage='' SWARM_NETNS_node1='' SWARM_NETNS_node2=''
	# shellcheck disable=SC2034
	SWARM_DOCKERD_1='' SWARM_DOCKERD_2='' SWARM_PLUGIN_1='' SWARM_PLUGIN_2=''
	SWARM_SSHD='' SWARM_MADE_ETC_DOCKER=''
}

swarm_require_tools() {
	local t
	[ -x /usr/sbin/dockerd ] || skip "/usr/sbin/dockerd is not installed (docker.io, make deps)"
	[ -x /usr/bin/docker ] || skip "/usr/bin/docker is not installed (docker.io, make deps)"
	[ -x /bin/busybox ] || skip "/bin/busybox is not installed (busybox-static, make deps)"
	command -v sshfs >/dev/null || skip "sshfs is not installed (apt-get install sshfs; make deps)"
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed (apt-get install openssh-server; make deps)"
	for t in ssh-keygen ip nsenter unshare hostname; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
	[ -c /dev/fuse ] || skip "/dev/fuse is missing (no FUSE in this kernel or container)"
}

# What the test is doing, with the seconds since it began, in its log.
swarm_step() {
	echo "--- $((SECONDS - SWARM_T0)) s: $*"
}

# The docker client of node N, talking to that node's dockerd only.
swarm_cli() { # n args...
	local n=$1
	shift
	DOCKER_CONFIG="$WORK/n$n/docker-client" /usr/bin/docker -H "unix://$WORK/n$n/docker.sock" "$@"
}

# A docker command on node N that must work: prints its output, or fails the test with
# dockerd's words.
swarm_ok() { # n args...
	local o
	if ! o=$(swarm_cli "$@" 2>&1); then
		fail "node$1: docker ${*:2}: $o"
		return 1
	fi
	printf '%s\n' "$o"
}

# Run COMMAND every half second until it succeeds, for at most SECS; else return 1.
swarm_until() { # secs command...
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}

# A host: a process sleeping in new network, mount and UTS namespaces (hostname NAME) after
# SETUP ran in them; its pid in SWARM_HOLDER_<name>, its network namespace in SWARM_NETNS_<name>.
swarm_host() { # name setup
	local name=$1 setup=$2 pid i
	unshare -n -m -u --propagation private -- sh -c \
		"set -e; hostname $name; $setup; : >'$WORK/$name.ready'; exec sleep 86400" >>"$WORK/$name.log" 2>&1 &
	pid=$!
	disown "$pid" # ended by KILL at teardown: no "Killed" job report in the test's log
	printf -v "SWARM_HOLDER_$name" %s "$pid"
	for ((i = 0; i < 100; i++)); do
		if [ -e "$WORK/$name.ready" ]; then
			printf -v "SWARM_NETNS_$name" %s "$(readlink "/proc/$pid/ns/net")"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	fail "host $name: its namespaces were not set up: $(tail -n 3 "$WORK/$name.log")"
}

# Run a command in host NAME's namespaces (network, mount, UTS).
swarm_on() { # name command...
	local holder="SWARM_HOLDER_$1"
	shift
	nsenter -t "${!holder}" -n -m -u "$@"
}

# cvol-plugin --scope global on node N, its store under $WORK/nN/root; waits until it serves.
swarm_plugin_start() { # n
	local n=$1 log="$WORK/n$1/plugin.log" from pid i holder="SWARM_HOLDER_node$1"
	echo "--- plugin start" >>"$log"
	from=$(($(wc -l <"$log") + 1))
	nsenter -t "${!holder}" -n -m -u "$CVOL_PLUGIN" --root "$WORK/n$n/root" --scope global --debug >>"$log" 2>&1 &
	pid=$! # nsenter execs the plugin: the same pid (swarm_on, a function, would add a shell)
	printf -v "SWARM_PLUGIN_$n" %s "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		tail -n "+$from" "$log" | grep -q '^serving ' &&
			[ -S "/proc/${!holder}/root/run/docker/plugins/cvol.sock" ] && return 0
		sleep 0.1
	done
	fail "node$n: cvol-plugin did not serve /run/docker/plugins/cvol.sock in 10 s: $(tail -n 3 "$log")"
}

# A private dockerd on node N (data, exec root and API socket under $WORK/nN); it never pulls
# the image of a service task (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: the local one is used).
swarm_dockerd_start() { # n
	local n=$1 w="$WORK/n$1" holder="SWARM_HOLDER_node$1"
	mkdir -p "$w/docker-client"
	echo '{}' >"$w/daemon.json"
	nsenter -t "${!holder}" -n -m -u env DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 /usr/sbin/dockerd \
		--config-file "$w/daemon.json" --data-root "$w/docker" --exec-root "$w/exec" \
		-H "unix://$w/docker.sock" --pidfile "$w/docker.pid" --iptables=false --ip-masq=false \
		--bridge=none --shutdown-timeout 3 >>"$w/dockerd.log" 2>&1 &
	printf -v "SWARM_DOCKERD_$n" %s "$!"
}

swarm_dockerd_wait() { # n
	local n=$1 i pid="SWARM_DOCKERD_$1"
	for ((i = 0; i < 150; i++)); do
		kill -0 "${!pid}" 2>/dev/null ||
			{ fail "node$n: dockerd exited at start: $(grep -E 'level=(error|fatal)' "$WORK/n$n/dockerd.log" | tail -n 2)"; return 1; }
		swarm_cli "$n" info >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	fail "node$n: dockerd did not answer in 30 s: $(tail -n 3 "$WORK/n$n/dockerd.log")"
}

# End PID (ours) with SIG, then KILL after SECS; waits for it.
swarm_stop_pid() { # pid sig secs
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -s "$2" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $3 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# Process PID is the test's, left after its daemons stopped: in a host's network namespace
# (sshfs, ssh; not the hosts themselves), naming $WORK (a shim), or in the cgroup of one of the
# containers IDS.
swarm_is_leftover() { # pid ids
	local p=$1 id net
	[ "$p" != $$ ] && [ "$p" != "$BASHPID" ] || return 1
	case " $SWARM_HOLDER_storage $SWARM_HOLDER_node1 $SWARM_HOLDER_node2 " in *" $p "*) return 1 ;; esac
	net=$(readlink "/proc/$p/ns/net" 2>/dev/null) || return 1
	case " $SWARM_NETNS_storage $SWARM_NETNS_node1 $SWARM_NETNS_node2 " in *" $net "*) return 0 ;; esac
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$WORK/" && return 0
	for id in $2; do
		grep -qF -- "$id" "/proc/$p/cgroup" 2>/dev/null && return 0
	done
	return 1
}

# Whatever the test started, ended by pid: the dockerds (they stop their containers, shims and
# containerd), the plugins, sshd; then anything left in the hosts' network namespaces (sshfs,
# ssh) or naming $WORK, the containers' processes by their cgroup; then the hosts themselves.
swarm_teardown() {
	local rc=$? n p ids="" var
	set +e
	if [ "$rc" -ne 0 ] || [ -s "$WORK/.fail" ]; then
		for n in 1 2; do
			echo "--- node$n: dockerd errors"
			grep -E 'level=(error|fatal)' "$WORK/n$n/dockerd.log" 2>/dev/null | tail -n 4
			echo "--- node$n: plugin log (tail)"
			tail -n 3 "$WORK/n$n/plugin.log" 2>/dev/null | cut -c 1-200
		done
	fi
	for n in 1 2; do
		var="SWARM_DOCKERD_$n"
		[ -n "${!var}" ] && kill -0 "${!var}" 2>/dev/null &&
			ids+=" $(DOCKER_CONFIG="$WORK/n$n/docker-client" timeout 5 /usr/bin/docker -H "unix://$WORK/n$n/docker.sock" \
				ps -aq --no-trunc 2>/dev/null)"
		kill -TERM "${!var}" 2>/dev/null
	done
	for n in 1 2; do
		var="SWARM_DOCKERD_$n"
		swarm_stop_pid "${!var}" TERM 20
		var="SWARM_PLUGIN_$n"
		swarm_stop_pid "${!var}" TERM 5
	done
	swarm_stop_pid "$SWARM_SSHD" TERM 5
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		if swarm_is_leftover "$p" "$ids"; then
			echo "warning: ending leftover $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
			kill -KILL "$p" 2>/dev/null
		fi
	done
	for n in storage node1 node2; do
		var="SWARM_HOLDER_$n"
		swarm_stop_pid "${!var}" KILL 5
	done
	[ -z "$SWARM_MADE_ETC_DOCKER" ] || rmdir /etc/docker
	return "$rc"
}

# The three hosts, the network between them, sshd on the storage host, and on each node the
# plugin and dockerd, answering, with the busybox image.
swarm_setup() {
	swarm_require_tools
	SWARM_T0=$SECONDS
	swarm_forget_pids
	trap swarm_teardown EXIT
	if [ ! -d /etc/docker ]; then # dockerd writes its key.json there: into the nodes' tmpfs
		mkdir /etc/docker
		SWARM_MADE_ETC_DOCKER=1
	fi
	mkdir -p "$WORK/n1" "$WORK/n2" "$WORK/srv"
	{
		cat /etc/hosts
		echo "$SWARM_NET.1 storage"
		echo "$SWARM_NET.11 node1"
		echo "$SWARM_NET.12 node2"
	} >"$WORK/hosts"

	swarm_step "hosts and network"
	swarm_host storage "mount -t tmpfs -o mode=755 swarm-run /run; mkdir -m 755 /run/sshd"
	local n node_setup="mount -t tmpfs -o mode=755 swarm-run /run; mkdir -p /run/docker/plugins"
	node_setup+="; mount -t tmpfs -o mode=755 swarm-etc-docker /etc/docker; mount --bind '$WORK/hosts' /etc/hosts"
	swarm_host node1 "$node_setup"
	swarm_host node2 "$node_setup"
	swarm_on storage sh -ec "ip link set lo up; ip link add name swbr type bridge
		ip addr add $SWARM_NET.1/24 dev swbr; ip link set swbr up"
	for n in 1 2; do
		local holder="SWARM_HOLDER_node$n"
		# both ends made inside the namespaces: no link ever exists on the host
		ip link add name eth0 netns "${!holder}" type veth peer name "swp$n" netns "$SWARM_HOLDER_storage"
		swarm_on storage sh -ec "ip link set swp$n master swbr; ip link set swp$n up"
		swarm_on "node$n" sh -ec "ip link set lo up; ip addr add $SWARM_NET.1$n/24 dev eth0; ip link set eth0 up"
	done

	swarm_step "sshd on storage"
	mkdir -p "$WORK/ssh"
	chmod 700 "$WORK/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host" -C cvol-swarm-storage
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/id" -C cvol-swarm-nodes
	cp "$WORK/ssh/id.pub" "$WORK/ssh/authorized_keys"
	cat >"$WORK/ssh/sshd_config" <<EOF
ListenAddress $SWARM_NET.1
HostKey $WORK/ssh/host
PidFile $WORK/ssh/sshd.pid
AuthorizedKeysFile $WORK/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
Subsystem sftp internal-sftp
EOF
	nsenter -t "$SWARM_HOLDER_storage" -n -m -u /usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config" 2>>"$WORK/sshd.log" &
	SWARM_SSHD=$!
	# node 2 reaches storage's sshd through the bridge (node 1 alike: the same kind of port)
	swarm_until 10 swarm_on node2 bash -c "exec 3<>/dev/tcp/$SWARM_NET.1/22" 2>/dev/null ||
		fail "sshd not listening on $SWARM_NET.1:22, seen from node2, within 10 s: $(tail -n 3 "$WORK/sshd.log")"

	swarm_step "plugins and dockerds"
	for n in 1 2; do
		swarm_plugin_start "$n"
		swarm_dockerd_start "$n"
	done
	swarm_dockerd_wait 1
	swarm_dockerd_wait 2

	# the busybox image, the same tar imported on each node (docker_e2e_make_image's way)
	local dir="$WORK/image" applet
	mkdir -p "$dir/bin" "$dir/tmp"
	cp /bin/busybox "$dir/bin/busybox"
	for applet in sh cat echo sleep hostname ls; do
		ln -s busybox "$dir/bin/$applet"
	done
	tar -C "$dir" -cf "$WORK/image.tar" .
	for n in 1 2; do
		swarm_ok "$n" import "$WORK/image.tar" "$SWARM_IMAGE" >/dev/null
	done
}

# The volume as a user creates it on every node: the same name, the same options.
SWARM_VOLUME_OPTS=()
swarm_volume_create() { # n
	SWARM_VOLUME_OPTS=(-o "sshcmd=root@storage:$WORK/srv" -o "IdentityFile=$WORK/ssh/id"
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
	assert_eq data "$(swarm_ok "$1" volume create -d cvol "${SWARM_VOLUME_OPTS[@]}" data)" "node$1: docker volume create data"
}

# The nodes whose task of service SVC is running, sorted, on one line.
swarm_running_nodes() { # svc
	swarm_cli 1 service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null |
		awk '$2 == "Running" { print $1 }' | sort | paste -sd ' '
}

swarm_nodes_ready() {
	[ "$(swarm_cli 1 node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null | sort | paste -sd ' ')" = "node1 Ready node2 Ready" ]
}

swarm_running_on() { # svc "node1 node2"
	[ "$(swarm_running_nodes "$1")" = "$2" ]
}

swarm_container_exited() { # n container
	[ "$(swarm_cli "$1" inspect --format '{{.State.Status}}' "$2" 2>/dev/null)" = exited ]
}

# Node N's dockerd reports the cvol volume driver to the Swarm (it does once it has used it).
swarm_node_reports_cvol() { # n
	swarm_cli 1 node inspect "node$1" --format '{{range .Description.Engine.Plugins}}{{.Type}}/{{.Name}} {{end}}' 2>/dev/null |
		grep -qw 'Volume/cvol'
}

swarm_volume_released() { # n
	[ "$(swarm_cli "$1" volume inspect --format '{{.Status.Mounted}} {{.Status.Mounts}}' data 2>/dev/null)" = "false 0" ]
}

swarm_files_there() { # file...
	local f
	for f in "$@"; do
		[ -s "$WORK/srv/$f" ] || return 1
	done
}

# ---- tests -----------------------------------------------------------------------------------

# The issue's Swarm: a global service on two nodes mounting one sshfs volume; what node 1's task
# writes, node 2's reads, and it is on the storage host; a plugin killed on node 1 leaves both
# tasks working and answers again once started; a volume removed on node 1 (its task gone)
# leaves node 2's working and the data on the storage host.
test_swarm_two_nodes_one_volume() {
	swarm_setup
	local n inspect opts1 opts2

	swarm_step "the volume on each node"
	for n in 1 2; do
		swarm_volume_create "$n" # the second node's Create succeeds as the first's
		inspect=$(swarm_ok "$n" volume inspect --format '{{.Driver}} {{.Scope}} {{.Status.Backend}} {{.Status.Mounted}}' data)
		assert_eq "cvol global sshfs false" "$inspect" "node$n: docker volume inspect data (driver, scope, backend, mounted)"
	done
	opts1=$(swarm_ok 1 volume inspect --format '{{json .Status.Options}}' data)
	opts2=$(swarm_ok 2 volume inspect --format '{{json .Status.Options}}' data)
	assert_contains "$opts1" "\"sshcmd\":\"root@storage:$WORK/srv\"" "node1: the plugin's options of data"
	assert_eq "$opts1" "$opts2" "the plugin's options of data on node2, against node1's"
	assert_eq "data global" "$(swarm_ok 2 volume ls --filter driver=cvol --format '{{.Name}} {{.Scope}}')" \
		"node2: docker volume ls --filter driver=cvol"

	swarm_step "the swarm"
	swarm_ok 1 swarm init --advertise-addr "$SWARM_NET.11" --listen-addr "$SWARM_NET.11:2377" >/dev/null
	local token
	token=$(swarm_ok 1 swarm join-token -q worker)
	swarm_ok 2 swarm join --token "$token" --advertise-addr "$SWARM_NET.12" --listen-addr "$SWARM_NET.12:2377" \
		"$SWARM_NET.11:2377" >/dev/null
	swarm_until 30 swarm_nodes_ready ||
		fail "docker node ls: not both nodes Ready within 30 s: $(swarm_cli 1 node ls 2>&1 | paste -sd ';')"
	# Swarm places a task with volume-driver=cvol only on a node that reports the driver: each
	# dockerd does once it has used it (the volume create above), in its node description
	swarm_until 30 swarm_node_reports_cvol 1 ||
		fail "node1 not reporting the cvol volume driver to the swarm within 30 s"
	swarm_until 30 swarm_node_reports_cvol 2 ||
		fail "node2 not reporting the cvol volume driver to the swarm within 30 s"

	swarm_step "a global service on the volume"
	# shellcheck disable=SC2016 # the task's shell expands it
	swarm_ok 1 service create --detach --quiet --name shared --mode global --no-resolve-image \
		--endpoint-mode dnsrr --stop-signal KILL --hostname '{{.Node.Hostname}}' \
		--mount type=volume,src=data,dst=/data,volume-driver=cvol "$SWARM_IMAGE" \
		sh -c 'echo "written on $(hostname)" > "/data/from-$(hostname)"; exec sleep 3600' >/dev/null
	swarm_until 60 swarm_running_on shared "node1 node2" ||
		fail "the tasks of service shared not running on node1 and node2 within 60 s: $(
			swarm_cli 1 service ps shared --no-trunc --format '{{.Node}} {{.CurrentState}} {{.Error}}' 2>&1 | paste -sd ';')"
	local c1 c2
	c1=$(swarm_ok 1 ps -q --filter label=com.docker.swarm.service.name=shared)
	c2=$(swarm_ok 2 ps -q --filter label=com.docker.swarm.service.name=shared)
	assert_one_line "$c1" "node1: the task's container"
	assert_one_line "$c2" "node2: the task's container"
	swarm_until 10 swarm_files_there from-node1 from-node2 ||
		fail "the tasks' files not on the storage host within 10 s: $(ls "$WORK/srv")"
	assert_file_content "$WORK/srv/from-node1" "written on node1"
	assert_file_content "$WORK/srv/from-node2" "written on node2"
	assert_eq "written on node1" "$(swarm_ok 2 exec "$c2" cat /data/from-node1)" "node2's task reading what node1's wrote"
	assert_eq "written on node2" "$(swarm_ok 1 exec "$c1" cat /data/from-node2)" "node1's task reading what node2's wrote"
	for n in 1 2; do
		assert_eq "sshfs true 1" "$(swarm_ok "$n" volume inspect --format '{{.Status.Backend}} {{.Status.Mounted}} {{.Status.Mounts}}' data)" \
			"node$n: docker volume inspect data with its task running (backend, mounted, mounts)"
	done

	swarm_step "the plugin on node1 killed"
	kill -KILL "$SWARM_PLUGIN_1"
	wait "$SWARM_PLUGIN_1" 2>/dev/null || true
	SWARM_PLUGIN_1=
	assert_eq "written on node1" \
		"$(swarm_ok 2 exec "$c2" sh -c 'echo "node2 after the kill" > /data/n2-after-kill && cat /data/from-node1')" \
		"node2's task reading the volume, node1's plugin dead"
	assert_file_content "$WORK/srv/n2-after-kill" "node2 after the kill"
	# node1's running task keeps its mount too: sshfs does not go with the plugin
	swarm_ok 1 exec "$c1" sh -c 'echo "node1 after the kill" > /data/n1-after-kill' >/dev/null
	assert_eq "node1 after the kill" "$(swarm_ok 2 exec "$c2" cat /data/n1-after-kill)" \
		"node2's task reading what node1's wrote with node1's plugin dead"
	assert_eq "node2 after the kill" "$(swarm_ok 1 exec "$c1" cat /data/n2-after-kill)" \
		"node1's task reading what node2's wrote with node1's plugin dead"
	swarm_plugin_start 1
	assert_eq "global sshfs true 1" "$(swarm_ok 1 volume inspect --format '{{.Scope}} {{.Status.Backend}} {{.Status.Mounted}} {{.Status.Mounts}}' data)" \
		"node1: docker volume inspect data through the plugin started again"
	assert_eq "$opts1" "$(swarm_ok 1 volume inspect --format '{{json .Status.Options}}' data)" \
		"node1: the options of data through the plugin started again"

	swarm_step "node1 drained, its volume removed"
	# a drained node's global task ends; its stopped container stays (Swarm's task history)
	# and holds the volume for dockerd until it is removed
	swarm_ok 1 node update --availability drain node1 >/dev/null
	swarm_until 30 swarm_running_on shared node2 ||
		fail "node1's task not gone within 30 s: $(swarm_cli 1 service ps shared 2>&1 | paste -sd ';')"
	swarm_until 10 swarm_container_exited 1 "$c1" ||
		fail "node1's task container not stopped within 10 s: $(swarm_cli 1 ps -a 2>&1 | paste -sd ';')"
	swarm_ok 1 rm "$c1" >/dev/null
	swarm_until 10 swarm_volume_released 1 ||
		fail "node1: data not unmounted within 10 s of its task's end: $(swarm_cli 1 volume inspect --format '{{json .Status}}' data 2>&1)"
	assert_eq data "$(swarm_ok 1 volume rm data)" "node1: docker volume rm data"
	assert_eq "" "$(swarm_ok 1 volume ls -q --filter driver=cvol)" "node1: docker volume ls after the rm"
	assert_missing "$WORK/n1/root/volumes/data"
	grep -qF "$WORK/n1/root/volumes/data" "/proc/$SWARM_HOLDER_node1/mountinfo" &&
		fail "node1: data is still mounted after docker volume rm: $(grep -F "$WORK/n1/" "/proc/$SWARM_HOLDER_node1/mountinfo")"
	# node2: the same task, still working on the volume; the data all on the storage host
	assert_eq "$c2" "$(swarm_ok 2 ps -q --filter label=com.docker.swarm.service.name=shared)" "node2's task container after the rm on node1"
	assert_eq "written on node1" \
		"$(swarm_ok 2 exec "$c2" sh -c 'echo "node2 after the rm on node1" > /data/n2-after-rm && cat /data/from-node1')" \
		"node2's task reading the volume after the rm on node1"
	assert_eq "global sshfs true 1" "$(swarm_ok 2 volume inspect --format '{{.Scope}} {{.Status.Backend}} {{.Status.Mounted}} {{.Status.Mounts}}' data)" \
		"node2: docker volume inspect data after the rm on node1"
	assert_file_content "$WORK/srv/from-node1" "written on node1"
	assert_file_content "$WORK/srv/from-node2" "written on node2"
	assert_file_content "$WORK/srv/n1-after-kill" "node1 after the kill"
	assert_file_content "$WORK/srv/n2-after-kill" "node2 after the kill"
	assert_file_content "$WORK/srv/n2-after-rm" "node2 after the rm on node1"
	swarm_step "done"
}
