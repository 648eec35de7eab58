#!/bin/bash
# Benchmark (not a test): an sshfs volume through cvol-plugin against the same sshfs mount
# made by hand, on a test network of the script's own, and what Mount does when the server
# has gone away.
#
#   sudo tests/bench/sshfs.sh                 # REPS=5, DEAD_REPS=3, SIZE_MIB=256
#   REPS=9 SIZE_MIB=512 tests/bench/sshfs.sh
#
# It measures, in one run:
#   1. sequential write (dd bs=1M conv=fsync, a new file) and read (dd bs=1M of that file,
#      on a fresh mount: nothing of it in the client's page cache, so every byte crosses the
#      network) of SIZE_MIB MiB on the volume's Mountpoint (cvol-plugin's Create with sshcmd,
#      port, IdentityFile, then Mount, on its socket as dockerd calls it) and on a mount made
#      by hand with `sshfs root@host:path dir -p PORT -o ...` and the same options (those of
#      the sshfs cvol runs, read from its command line), interleaved, which goes first
#      alternating: median MiB/s and the time ratio cvol/by hand;
#   2. `docker run --rm -v ...:/data bb sh -c 'write, read, remove a small file'` with a
#      private dockerd: -v VOL:/data of a cvol sshfs volume (dockerd's Mount runs sshfs, its
#      Unmount unmounts) against -v DIR:/data of the standing hand-made mount (the pair of
#      the issue), and two pairs that do the same work on both sides: each run mounting sshfs
#      (cvol; by hand: sshfs, docker run, umount), and the volume already mounted (cvol: a
#      mount ID of our own holds it; by hand: the standing mount); and on the socket, Mount
#      of the volume not mounted (it runs sshfs) and its last Unmount, against sshfs and
#      umount by hand (what the first pair adds to a run). Medians and ratios;
#   3. a dead server, with a volume mounted (mount ID m0, a file read through it): sshd and
#      its sessions killed -9 and started again; killed for good; stopped (SIGSTOP) for good.
#      And, the server up, the volume's own sshfs killed -9 (its mount left dead, ENOTCONN).
#      Then Mount with a new mount ID, timed until it answers: its reply (success, or the
#      Err), whether the returned path answers (a read of the file, 5 s at most), how many
#      mounts are stacked on it, and whether the Unmounts and Remove that follow succeed.
#      Median and slowest time, the outcomes counted.
# and prints each figure beside its target (1: cvol/by hand <= 1.05; 2: the same; 3: the
# volume answers again after a restart or a dead sshfs, a dead server fails the Mount with an
# error, within T_DEAD_S).
#
# Environment:
#   REPS         timed repetitions of each measurement of 1 and 2 (default 5)
#   DEAD_REPS    repetitions of each case of 3 (default 3)
#   SIZE_MIB     file size of 1, MiB (default 256)
#   T_DEAD_S     bound of 3, seconds (default 20: Mount's 15 s sshfs bound, and a few
#                seconds to find the old mount dead)
#   MOUNT_MAX    how long a Mount of 3 is waited for before it counts as no reply (default 60)
#   NET          the /30 of the test network, without the last number (default 10.233.0:
#                the server is .1, the client .2; no test uses it)
#   CVOL_PLUGIN  the binary (default: the tree's, run make)
#   DOCKERD, DOCKER   default /usr/sbin/dockerd and /usr/bin/docker
#   BUSYBOX      a static busybox, the one binary of the test image (default /bin/busybox)
#   PLUGIN_LOG   when set, a file: cvol-plugin runs with --debug (one line a request, with its
#                time) and its log is copied there at the end
#
# The test network: two network namespaces joined by a veth pair, the storage host (its
# own sshd, the script's host key and client key, root's login by key only, on port 2222)
# and the client, where cvol-plugin and the hand-made sshfs run (nsenter --net). Both
# addresses exist only inside them. The server exports a tmpfs (so its disk does not enter
# the figures); the client side sees the same network, the same sshfs binary and options.
# dockerd runs in the host's network namespace, its containers with --network none.
#
# Everything happens in a private mount namespace inside a mktemp dir under /tmp: a 2G ext4
# loop image holds dockerd's --data-root and the plugin's --root, tmpfs mounts hide the
# host's /run/docker/plugins, /run/containerd, /etc/docker and /run/netns. The trap resumes
# a stopped sshd, stops the plugin and dockerd by their pids, detaches every sshfs mount under
# the dir, ends the sshfs processes serving them (their command line names the dir) and sshd
# with its sessions (the pids it started and their children), deletes the namespaces,
# unmounts, detaches the loop device and removes the dir.
# Times are wall clock, bash's $EPOCHREALTIME around fork+exec+wait of the command (dd,
# curl, the docker client): both sides pay the same.
# shellcheck disable=SC2059 # the table formats in $ROW are our own
set -euo pipefail

SELF=$(realpath "${BASH_SOURCE[0]}")
TOP=$(cd "$(dirname "$SELF")/../.." && pwd)

BENCH_NAME=sshfs-bench
. "$TOP/tests/bench/lib.sh"
bench_enter "it makes network namespaces, runs sshd and dockerd and mounts sshfs" "$@"

REPS=${REPS:-5}
DEAD_REPS=${DEAD_REPS:-3}
SIZE_MIB=${SIZE_MIB:-256}
T_DEAD_S=${T_DEAD_S:-20}
MOUNT_MAX=${MOUNT_MAX:-60}
NET=${NET:-10.233.0}
CVOL_PLUGIN=${CVOL_PLUGIN:-$TOP/cvol-plugin}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-/usr/bin/docker}
BUSYBOX=${BUSYBOX:-/bin/busybox}
SSHD=/usr/sbin/sshd
ADDR=$NET.1 # the storage host; the client is $NET.2
PORT=2222
PLUGIN_DIR=/run/docker/plugins
SOCK=$PLUGIN_DIR/cvol.sock
IMAGE=cvol-bench-bb
CGROUP_PARENT=cvol-bench-$$
NS_S=cvbenchs$$ # the storage host
NS_C=cvbenchc$$ # the client

T_RATIO=1.05 # cvol/by hand, at most

for v in REPS DEAD_REPS SIZE_MIB T_DEAD_S MOUNT_MAX; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[[ $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "NET must be three numbers, as 10.233.0"
[[ -x $CVOL_PLUGIN ]] || die "$CVOL_PLUGIN not found; run make"
for b in "$DOCKERD" "$DOCKER" "$BUSYBOX" "$SSHD"; do
	[[ -x $b ]] || die "$b not found (make deps)"
done
for t in sshfs ssh ssh-keygen ip nsenter curl jq pgrep; do
	command -v "$t" >/dev/null || die "$t not found (make deps)"
done
[[ -c /dev/fuse ]] || die "/dev/fuse is missing"

# ---- scratch area, cleaned up on exit ---------------------------------------------------

D="" LOOP="" SCRATCH_MOUNTED=0 PLUGIN_PID="" DOCKERD_PID="" SSHD_PID="" MADE_PRIVSEP=""
NETNS_MADE=() HIDDEN=() # host paths we mounted a tmpfs over
STOPPED=()              # sshd processes we stopped

# sshfs mounts under D, deepest first; their mount points.
sshfs_mounts() {
	awk -v d="$D/" 'index($5, d) == 1 && / - fuse\.sshfs / { print $5 }' /proc/self/mountinfo | sort -r
}

# The sshfs processes whose command line names PATH (ours: PATH is under D).
sshfs_pids_naming() { # path
	local pid
	for pid in $(pgrep -x sshfs || true); do
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$1" && echo "$pid"
	done
	return 0
}

cleanup() {
	local rc=$? pid m
	trap - ERR
	set +e
	# a stopped server first: until it runs, whatever touches its mounts waits
	[[ ${#STOPPED[@]} == 0 ]] || kill -CONT "${STOPPED[@]}" 2>/dev/null
	[[ -z $PLUGIN_PID ]] || stop_pid "$PLUGIN_PID" 10
	[[ -z ${PLUGIN_LOG:-} || -z $D ]] || cp "$D/plugin.log" "$PLUGIN_LOG"
	if [[ -n $DOCKERD_PID ]]; then
		stop_pid "$DOCKERD_PID" 30
		if [[ -r $D/run/exec/containerd/containerd.pid ]]; then
			read -r pid <"$D/run/exec/containerd/containerd.pid"
			[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || kill -KILL "$pid"
		fi
	fi
	if [[ -n $D ]]; then
		for m in $(sshfs_mounts); do umount -l -c "$m"; done
		# the sshfs serving them, and the ssh each ran (its IdentityFile is ours)
		for pid in $(pgrep -x sshfs || true) $(pgrep -x ssh || true); do
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$D/" && kill -KILL "$pid"
		done
	fi
	[[ -z $SSHD_PID ]] || sshd_kill
	for ns in "${NETNS_MADE[@]}"; do ip netns del "$ns"; done
	for cg in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
		[[ ! -d $cg ]] || rmdir "$cg"
	done
	for ((i = ${#HIDDEN[@]} - 1; i >= 0; i--)); do umount "${HIDDEN[i]}" || umount -l "${HIDDEN[i]}"; done
	if [[ $SCRATCH_MOUNTED == 1 ]]; then
		umount -R "$D" || umount -l "$D"
	fi
	if [[ -n $LOOP ]]; then losetup -d "$LOOP"; fi
	if [[ -n $D ]]; then rm -rf -- "$D"; fi
	[[ -z $MADE_PRIVSEP ]] || rmdir /run/sshd
	exit "$rc"
}
trap cleanup EXIT
set -E
trap 'echo "sshfs-bench: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
D=$(mktemp -d /tmp/cvsshfs.XXXXXX)
truncate -s 2G "$D/fs.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$D/fs.img"
LOOP=$(losetup --find --show "$D/fs.img")
mount -t ext4 "$LOOP" "$D"
SCRATCH_MOUNTED=1
mkdir "$D/run" "$D/docker" "$D/cvol" "$D/img" "$D/cli" "$D/srv" "$D/ssh" "$D/hand"
chmod 700 "$D/ssh"
mount -t tmpfs -o size=64m,mode=0700 cvol-bench-run "$D/run"
mkdir "$D/run/exec"
# the server's export: room for a file of each side and some
mount -t tmpfs -o "size=$((SIZE_MIB * 2 + 64))m,mode=0755" cvol-bench-srv "$D/srv"
for p in "$PLUGIN_DIR" /run/containerd /etc/docker /run/netns; do
	mkdir -p "$p"
	mount -t tmpfs -o size=16m,mode=0755 cvol-bench "$p"
	HIDDEN+=("$p")
done
ERRF=$D/run/err
SRV=$D/srv

# ---- the test network and the storage host -----------------------------------------------

on_s() { nsenter --net="/run/netns/$NS_S" "$@"; }
on_c() { nsenter --net="/run/netns/$NS_C" "$@"; }

for ns in "$NS_S" "$NS_C"; do
	ip netns add "$ns"
	NETNS_MADE+=("$ns")
done
ip link add "cvbs$$" type veth peer name "cvbc$$"
ip link set "cvbs$$" netns "$NS_S"
ip link set "cvbc$$" netns "$NS_C"
on_s ip link set lo up
on_c ip link set lo up
on_s ip addr add "$ADDR/30" dev "cvbs$$"
on_c ip addr add "$NET.2/30" dev "cvbc$$"
on_s ip link set "cvbs$$" up
on_c ip link set "cvbc$$" up

ssh-keygen -q -t ed25519 -N '' -f "$D/ssh/host" -C cvol-bench-host
ssh-keygen -q -t ed25519 -N '' -f "$D/ssh/id" -C cvol-bench-client
cp "$D/ssh/id.pub" "$D/ssh/authorized_keys"
if [[ ! -d /run/sshd ]]; then # sshd's privilege separation dir, as openssh-server's unit makes it
	mkdir -m 755 /run/sshd
	MADE_PRIVSEP=1
fi
cat >"$D/ssh/sshd_config" <<EOF
Port $PORT
ListenAddress $ADDR
HostKey $D/ssh/host
PidFile $D/run/sshd.pid
AuthorizedKeysFile $D/ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
Subsystem sftp internal-sftp
EOF

sshd_start() {
	nsenter --net="/run/netns/$NS_S" "$SSHD" -D -e -f "$D/ssh/sshd_config" 2>>"$D/sshd.log" &
	SSHD_PID=$! # nsenter execs sshd: the same pid
	local i
	for ((i = 0; i < 100; i++)); do
		on_c bash -c "exec 3<>/dev/tcp/$ADDR/$PORT" 2>/dev/null && return 0
		kill -0 "$SSHD_PID" 2>/dev/null || die "sshd exited at start: $(tail -n 3 "$D/sshd.log")"
		sleep 0.05
	done
	die "sshd did not listen on $ADDR:$PORT within 5 s: $(tail -n 3 "$D/sshd.log")"
}

# The listening sshd and every process under it (the sessions: what serves the mounts).
sshd_tree() {
	local todo=("$SSHD_PID") p
	while ((${#todo[@]})); do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		echo "$p"
		# shellcheck disable=SC2207 # pids
		todo+=($(pgrep -P "$p" || true))
	done
}

# Stop sshd and its sessions: the listener first, so that it forks no more.
sshd_stop() {
	kill -STOP "$SSHD_PID"
	mapfile -t STOPPED < <(sshd_tree)
	kill -STOP "${STOPPED[@]}"
}

sshd_cont() {
	[[ ${#STOPPED[@]} == 0 ]] || kill -CONT "${STOPPED[@]}" 2>/dev/null || true
	STOPPED=()
}

# Kill sshd and its sessions (-9, all at once, stopped first so none is left out), as a
# server that goes down; reap the listener.
sshd_kill() {
	local all
	[[ -n $SSHD_PID ]] || return 0
	kill -STOP "$SSHD_PID" 2>/dev/null || true
	mapfile -t all < <(sshd_tree)
	kill -KILL "${all[@]}" 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
	SSHD_PID="" STOPPED=()
}

sshd_start

# ---- the plugin, its calls, the hand-made mount -------------------------------------------

# cvol-plugin in the client's network namespace (sshfs runs as its child there).
PLUGIN_ARGS=(--root "$D/cvol" --socket "$SOCK")
[[ -z ${PLUGIN_LOG:-} ]] || PLUGIN_ARGS+=(--debug)
nsenter --net="/run/netns/$NS_C" "$CVOL_PLUGIN" "${PLUGIN_ARGS[@]}" >>"$D/plugin.log" 2>&1 &
PLUGIN_PID=$! # nsenter execs it
wait_for 30 test -S "$SOCK" || die "cvol-plugin did not create $SOCK: $(tail -n3 "$D/plugin.log")"

# call ENDPOINT BODY [MAX-SECONDS]: one plugin call as dockerd makes it; the HTTP status (or
# "curl exit N") in CODE, the reply in REPLY, its Err in ERR, the wall time in us in T_US.
call() {
	local t0 t1 rc=0
	t0=${EPOCHREALTIME/./}
	CODE=$(curl -s --unix-socket "$SOCK" --max-time "${3:-30}" -o "$D/run/reply" -w '%{http_code}' \
		-X POST -H 'Content-Type: application/json' --data "$2" "http://plugin/VolumeDriver.$1") || rc=$?
	t1=${EPOCHREALTIME/./}
	T_US=$((10#$t1 - 10#$t0))
	REPLY=$(cat "$D/run/reply" 2>/dev/null || true)
	rm -f "$D/run/reply"
	((rc == 0)) || CODE="curl exit $rc"
	ERR=$(jq -r '.Err // ""' <<<"$REPLY" 2>/dev/null || echo "$REPLY")
}

# A call that must succeed.
ok_call() { # endpoint body
	call "$@"
	[[ $CODE == 200 && -z $ERR ]] || die "VolumeDriver.$1 $2: $CODE $ERR"
}

# The options of every cvol volume here. The hand-made mount takes the options of the sshfs
# that cvol-plugin runs (the volume's and cvol's defaults), read from its command line.
KEY_OPTS=(IdentityFile="$D/ssh/id" StrictHostKeyChecking=no UserKnownHostsFile=/dev/null)
VOL_OPTS="\"sshcmd\":\"root@$ADDR:$SRV\",\"port\":\"$PORT\""
for o in "${KEY_OPTS[@]}"; do VOL_OPTS+=",\"${o%%=*}\":\"${o#*=}\""; done
HAND_ARGS=()

hand_mount() { on_c sshfs "root@$ADDR:$SRV" "$D/hand" "${HAND_ARGS[@]}" 2>"$ERRF" || die "sshfs by hand: $(<"$ERRF")"; }
hand_umount() { umount -c "$D/hand"; }

# ---- 1: sequential write and read ---------------------------------------------------------

timed() {
	local t0 t1
	t0=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>"$ERRF" || return
	t1=${EPOCHREALTIME/./}
	T_US=$((10#$t1 - 10#$t0))
}

ok_call Create "{\"Name\":\"tp\",\"Opts\":{$VOL_OPTS}}"
ok_call Mount '{"Name":"tp","ID":"tp"}'
MP=$(jq -r .Mountpoint <<<"$REPLY")
pid=$(sshfs_pids_naming "$MP" | head -n1)
[[ -n $pid ]] || die "no sshfs process serves $MP"
mapfile -d '' -t CVOL_SSHFS <"/proc/$pid/cmdline"
[[ ${CVOL_SSHFS[0]##*/} == sshfs && ${CVOL_SSHFS[1]} == "root@$ADDR:$SRV" && ${CVOL_SSHFS[2]} == "$MP" ]] ||
	die "cvol's sshfs is not \`sshfs SOURCE MOUNTPOINT OPTIONS\`: ${CVOL_SSHFS[*]}"
HAND_ARGS=("${CVOL_SSHFS[@]:3}")
HAND_SSHFS=(sshfs "root@$ADDR:$SRV" "$D/hand" "${HAND_ARGS[@]}")
hand_mount

dir_of() { if [[ $1 == cvol ]]; then echo "$MP"; else echo "$D/hand"; fi; }

# A fresh mount of SIDE: no page of its files cached on the client.
remount() { # side
	if [[ $1 == cvol ]]; then
		ok_call Unmount '{"Name":"tp","ID":"tp"}'
		ok_call Mount '{"Name":"tp","ID":"tp"}'
	else
		hand_umount
		hand_mount
	fi
}

declare -A S=()

# One write and one read of MIB MiB on SIDE, recorded when asked.
io_one() { # side mib tag [record]
	local side=$1 mib=$2 f
	f=$(dir_of "$side")/f-$3
	timed dd if=/dev/zero of="$f" bs=1M count="$mib" conv=fsync || die "$side: dd write: $(<"$ERRF")"
	[[ ${4:-} != record ]] || S[$side.write]+=" $T_US"
	[[ $(stat -c %s "$SRV/f-$3") == $((mib << 20)) ]] || die "$side: the file on the server is not $mib MiB"
	remount "$side"
	f=$(dir_of "$side")/f-$3
	timed dd if="$f" of=/dev/null bs=1M || die "$side: dd read: $(<"$ERRF")"
	grep -q "^$mib+0 records in" "$ERRF" || die "$side: dd read: $(<"$ERRF")"
	[[ ${4:-} != record ]] || S[$side.read]+=" $T_US"
	rm "$SRV/f-$3"
}

SIDES=(cvol hand)
for side in "${SIDES[@]}"; do io_one "$side" 16 "warm-$side"; done
for ((r = 0; r < REPS; r++)); do
	order=("${SIDES[@]:r % 2}" "${SIDES[@]:0:r % 2}")
	for side in "${order[@]}"; do io_one "$side" "$SIZE_MIB" "$side-$r" record; done
done
ok_call Unmount '{"Name":"tp","ID":"tp"}'
hand_umount

# Mount (the volume not mounted: it runs sshfs) and the last Unmount, against sshfs and
# umount by hand: what each docker run of a volume not yet mounted adds.
mount_one() { # side [record]
	if [[ $1 == cvol ]]; then
		ok_call Mount '{"Name":"tp","ID":"mt"}'
		[[ ${2:-} != record ]] || S[cvol.mount]+=" $T_US"
		ok_call Unmount '{"Name":"tp","ID":"mt"}'
		[[ ${2:-} != record ]] || S[cvol.umount]+=" $T_US"
	else
		timed hand_mount
		[[ ${2:-} != record ]] || S[hand.mount]+=" $T_US"
		timed hand_umount || die "umount by hand: $(<"$ERRF")"
		[[ ${2:-} != record ]] || S[hand.umount]+=" $T_US"
	fi
}
for side in "${SIDES[@]}"; do mount_one "$side"; done
for ((r = 0; r < REPS; r++)); do
	order=("${SIDES[@]:r % 2}" "${SIDES[@]:0:r % 2}")
	for side in "${order[@]}"; do mount_one "$side" record; done
done
ok_call Remove '{"Name":"tp"}'

# ---- 2: docker run -v -----------------------------------------------------------------------

echo '{}' >"$D/daemon.json"
export DOCKER_HOST=unix://$D/run/docker.sock DOCKER_CONFIG=$D/cli
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
"$DOCKERD" --data-root "$D/docker" --exec-root "$D/run/exec" --pidfile "$D/run/dockerd.pid" \
	-H "$DOCKER_HOST" --config-file "$D/daemon.json" --iptables=false --ip-masq=false --bridge=none \
	--cgroup-parent "$CGROUP_PARENT" >"$D/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for 60 "$DOCKER" version || die "dockerd did not come up: $(tail -n5 "$D/dockerd.log")"
DOCKERD_VERSION=$("$DOCKER" version --format '{{.Server.Version}}')

# No /data in the image: when the image has the destination, dockerd mounts a named volume
# once more at create, to copy that content up (CopyImagePathContent; `:nocopy` skips it),
# which for sshfs is a second connect per run that a bind of the hand-made mount never pays.
mkdir "$D/img/bin"
cp "$BUSYBOX" "$D/img/bin/busybox"
for a in sh cat echo rm true; do ln -s busybox "$D/img/bin/$a"; done
tar -C "$D/img" -c . | "$DOCKER" import - "$IMAGE" >/dev/null

dopts=()
for o in "sshcmd=root@$ADDR:$SRV" "port=$PORT" "${KEY_OPTS[@]}"; do dopts+=(-o "$o"); done
"$DOCKER" volume create -d cvol "${dopts[@]}" dvol >/dev/null 2>"$ERRF" || die "docker volume create: $(<"$ERRF")"

# The container's work: a small file written, read back and removed.
# shellcheck disable=SC2016 # expanded by the container's sh
CMD_SH='echo "$0" >/data/c-$0 && cat /data/c-$0 && rm /data/c-$0'
run_on() { # -v-source tag
	"$DOCKER" run --rm --network none -v "$1:/data" "$IMAGE" sh -c "$CMD_SH" "$2"
}
# by hand what the plugin does for dockerd around a run: mount, run, unmount
hand_cold_run() { # tag
	hand_mount
	run_on "$D/hand" "$1"
	hand_umount
}

# variant: cvol-cold cvol-held hand-cold hand-standing
run_one() { # variant tag [record]
	case $1 in
	cvol-*) timed run_on dvol "$2" ;;
	hand-cold) timed hand_cold_run "$2" ;;
	hand-standing) timed run_on "$D/hand" "$2" ;;
	esac || die "$1: docker run failed: $(<"$ERRF")"
	[[ ${3:-} != record ]] || S[$1]+=" $T_US"
}

# Warm-up, untimed, and a check that what a container writes is on the server.
"$DOCKER" run --rm --network none -v dvol:/data "$IMAGE" sh -c 'echo via-cvol >/data/probe'
[[ $(cat "$SRV/probe" 2>/dev/null) == via-cvol ]] || die "a file written to the cvol volume in a container is not on the server"
rm "$SRV/probe"
hand_mount
"$DOCKER" run --rm --network none -v "$D/hand:/data" "$IMAGE" sh -c 'echo via-hand >/data/probe'
[[ $(cat "$SRV/probe" 2>/dev/null) == via-hand ]] || die "a file written to the hand-made mount in a container is not on the server"
rm "$SRV/probe"
hand_umount

# each run mounting sshfs
PAIR=(cvol-cold hand-cold)
for ((r = 0; r < REPS; r++)); do
	order=("${PAIR[@]:r % 2}" "${PAIR[@]:0:r % 2}")
	for v in "${order[@]}"; do run_one "$v" "$v-$r" record; done
done
# the volume already mounted; and the issue's pair, the cvol side cold
ok_call Mount '{"Name":"dvol","ID":"held"}'
hand_mount
run_one cvol-held warm
run_one hand-standing warm
TRIO=(cvol-held hand-standing)
for ((r = 0; r < REPS; r++)); do
	order=("${TRIO[@]:r % 2}" "${TRIO[@]:0:r % 2}")
	for v in "${order[@]}"; do run_one "$v" "$v-$r" record; done
done
ok_call Unmount '{"Name":"dvol","ID":"held"}'
for ((r = 0; r < REPS; r++)); do
	order=(cvol-cold hand-standing)
	if ((r % 2)); then order=(hand-standing cvol-cold); fi
	for v in "${order[@]}"; do
		run_one "$v" "i-$v-$r"
		if [[ $v == cvol-cold ]]; then S[issue.cvol]+=" $T_US"; else S[issue.hand]+=" $T_US"; fi
	done
done
hand_umount
"$DOCKER" volume rm dvol >/dev/null 2>"$ERRF" || die "docker volume rm: $(<"$ERRF")"
stop_pid "$DOCKERD_PID" 30
DOCKERD_PID=""

# ---- 3: a dead server ---------------------------------------------------------------------

# Has our child PID ended (gone, or a zombie)?
ended() { # pid
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	[[ ${s%% *} == Z ]]
}

# What reading FILE gives, in STATE: "answers" (its content is EXPECTED), the error, or "no
# answer within 5 s". The reader runs on its own (a grandchild, so no job of ours) writing to
# a file: a FUSE request that sshfs has passed on to a stopped server cannot be interrupted,
# not even by SIGKILL, so neither `timeout` nor a pipe we read would come back. Such a reader
# is killed and left in PROBES; it ends when the server answers or its sshfs goes.
PROBES=() NPROBE=0
path_state() { # file expected
	local pid i out=$D/run/probe.$((++NPROBE))
	pid=$(bash -c 'cat -- "$1" >"$2" 2>&1 & echo $!' probe "$1" "$out")
	for ((i = 0; i < 50; i++)); do
		ended "$pid" && break
		sleep 0.1
	done
	if ! ended "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		PROBES+=("$pid")
		STATE="no answer within 5 s"
	elif [[ $(<"$out") == "$2" ]]; then
		STATE=answers
	else
		STATE=$(<"$out")
		STATE=${STATE##*: }
	fi
}

# Wait for the readers left waiting to end, once their server answers again (10 s at most).
probes_reap() {
	local pid i
	for pid in "${PROBES[@]}"; do
		for ((i = 0; i < 100; i++)); do
			ended "$pid" && break
			sleep 0.1
		done
	done
	PROBES=()
}

mounts_on() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }

declare -A DEAD_T=() DEAD_OUT=() DEAD_OK=()
DEAD_CASES=(restart gone stopped client)

# dead_case KIND REP: a volume mounted, the server restarted / killed / stopped, a Mount timed.
dead_case() {
	local kind=$1 name="dead-$1-$2" mp pid out ok=0 n old=""
	ok_call Create "{\"Name\":\"$name\",\"Opts\":{$VOL_OPTS}}"
	ok_call Mount "{\"Name\":\"$name\",\"ID\":\"m0\"}"
	mp=$(jq -r .Mountpoint <<<"$REPLY")
	echo "$name" >"$SRV/$name"
	path_state "$mp/$name" "$name"
	[[ $STATE == answers ]] || die "$name: the mounted volume does not answer: $STATE"
	pid=$(sshfs_pids_naming "$mp" | head -n1)
	[[ -n $pid ]] || die "$name: no sshfs process serves $mp"
	case $kind in
	restart | gone)
		sshd_kill
		# the old sshfs sees its connection closed and exits (its mount dead), unless it
		# connects again (-o reconnect)
		wait_for 2 bash -c "! kill -0 $pid 2>/dev/null" || old="; the old sshfs still ran 2 s after the kill"
		[[ $kind == gone ]] || sshd_start
		;;
	stopped) sshd_stop ;;
	client)
		# not the server: the client's sshfs dies, its mount stays, dead (ENOTCONN)
		kill -KILL "$pid"
		wait_for 5 bash -c "! kill -0 $pid 2>/dev/null" || die "$name: sshfs $pid outlived kill -9"
		;;
	esac

	call Mount "{\"Name\":\"$name\",\"ID\":\"m1\"}" "$MOUNT_MAX"
	DEAD_T[$kind]+=" $T_US"
	if [[ $CODE == 200 && -z $ERR ]]; then
		path_state "$(jq -r .Mountpoint <<<"$REPLY")/$name" "$name"
		n=$(mounts_on "$mp")
		out="success; the path: $STATE; mounts on it: $n"
		[[ $kind == restart || $kind == client ]] && [[ $STATE == answers && $n == 1 ]] && ok=1
	elif [[ $CODE == curl* ]]; then
		out="no reply within $MOUNT_MAX s ($CODE)"
	else
		out="error $CODE: $ERR"
		n=$(mounts_on "$mp")
		((n == 0)) || out+="; mounts left on the path: $n"
		[[ $kind == gone || $kind == stopped ]] && ok=1
	fi
	((T_US <= T_DEAD_S * 1000000)) || ok=0
	((ok)) || DEAD_OK[$kind]=miss

	# back to a clean state: the server running, the volume unmounted and removed
	sshd_cont
	probes_reap
	local last=m0
	call Unmount "{\"Name\":\"$name\",\"ID\":\"m1\"}" "$MOUNT_MAX"
	[[ $CODE == 200 && -z $ERR ]] || out+="; Unmount m1: $CODE $ERR"
	call Unmount "{\"Name\":\"$name\",\"ID\":\"$last\"}" "$MOUNT_MAX"
	[[ $CODE == 200 && -z $ERR ]] || out+="; last Unmount: $CODE $ERR"
	n=$(mounts_on "$mp")
	if ((n > 0)); then
		out+="; left mounted after the last Unmount: $n"
		while ((n-- > 0)); do umount -l -c "$mp"; done
	fi
	for pid in $(sshfs_pids_naming "$mp"); do kill -KILL "$pid"; done
	call Remove "{\"Name\":\"$name\"}"
	[[ $CODE == 200 && -z $ERR ]] || out+="; Remove: $CODE $ERR"
	out+=$old
	out=${out//$name/VOL}
	DEAD_OUT[$kind]+="${out//$D/\$D}"$'\n'
	rm -f "$SRV/$name"
	sshd_kill
	sshd_start
}

for kind in "${DEAD_CASES[@]}"; do
	for ((r = 0; r < DEAD_REPS; r++)); do dead_case "$kind" "$r"; done
done

# ---- report -------------------------------------------------------------------------------

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
verdict() { if [[ $1 == 1 ]]; then echo ok; else echo MISS; fi; }
ms() { fmt "$1 / 1000" 1; }
mibs() { fmt "$SIZE_MIB / ($1 / 1000000)" 1; } # MiB/s of a time in us
# shellcheck disable=SC2086 # a list of numbers
med() { median $1; }
ratio_cell() { # cvol-us hand-us: the ratio and its verdict
	local r ok=0
	r=$(fmt "$1 / $2" 3)
	le "$r" "$T_RATIO" && ok=1
	echo "$r $(verdict $ok)"
}

echo "sshfs volumes: cvol-plugin against the same sshfs mount made by hand, on a test network"
echo
printf '%-13s %s\n' \
	"kernel:" "$(uname -r)" \
	"cvol-plugin:" "$("$CVOL_PLUGIN" --version | sed 's/^cvol-plugin //') ($CVOL_PLUGIN)" \
	"sshfs:" "$(sshfs --version 2>&1 | awk '/^SSHFS/ { print $3 }'), $(ssh -V 2>&1)" \
	"dockerd:" "$DOCKERD_VERSION ($DOCKERD), client $DOCKER" \
	"network:" "veth between two network namespaces, server $ADDR (sshd, port $PORT, a tmpfs export), client $NET.2" \
	"cpu:" "${CPU:-unknown} x $(nproc) (client, server and ssh crypto share them)" \
	"load:" "$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (/proc/loadavg)" \
	"repetitions:" "$REPS of each figure of 1 and 2 after an untimed warm-up, interleaved; $DEAD_REPS of each case of 3"
echo "sshfs by cvol:  ${CVOL_SSHFS[*]}"
echo "sshfs by hand:  ${HAND_SSHFS[*]}"
echo "(the hand-made mount takes the options of cvol's sshfs, read from its command line)"
echo

# The slowest and fastest MiB/s of a list of times in us.
spread() { # "us us ..."
	# shellcheck disable=SC2086 # a list of numbers
	printf '%s\n' $1 | sort -n | sed -n '1p;$p' | tac | while read -r t; do mibs "$t"; echo; done | paste -sd -
}

ROW='%-40s  %7s  %7s  %8s  %4s  %11s  %11s\n'
echo "1. Sequential I/O of $SIZE_MIB MiB, dd bs=1M: median MiB/s (wall clock of dd)"
echo
printf "$ROW" "" "cvol" "by hand" "time c/h" "" "cvol range" "hand range"
printf "$ROW" "----------------------------------------" "-------" "-------" "--------" "----" "-----------" "-----------"
for op in write read; do
	c=$(med "${S[cvol.$op]}") h=$(med "${S[hand.$op]}")
	case $op in
	write) label="write a new file, conv=fsync" ;;
	read) label="read it on a fresh mount (not cached)" ;;
	esac
	# shellcheck disable=SC2046 # ratio and verdict
	printf "$ROW" "$label" "$(mibs "$c")" "$(mibs "$h")" $(ratio_cell "$c" "$h") "$(spread "${S[cvol.$op]}")" \
		"$(spread "${S[hand.$op]}")"
done
echo "(target: the time ratio cvol/by hand <=$T_RATIO)"
echo

ROW='%-58s  %8s  %8s  %8s  %4s\n'
echo "2. docker run --rm --network none -v SRC:/data bb sh -c 'write, read, rm a small file': median ms"
echo
printf "$ROW" "" "cvol" "by hand" "cvol/hand" ""
printf "$ROW" "----------------------------------------------------------" "--------" "--------" "---------" "----"
c=$(med "${S[issue.cvol]}") h=$(med "${S[issue.hand]}")
# shellcheck disable=SC2046
printf "$ROW" "-v VOL:/data (Mount runs sshfs) vs -v standing-mount:/data" "$(ms "$c")" "$(ms "$h")" $(ratio_cell "$c" "$h")
c=$(med "${S[cvol-cold]}") h=$(med "${S[hand-cold]}")
# shellcheck disable=SC2046
printf "$ROW" "each run mounts sshfs (by hand: sshfs; docker run; umount)" "$(ms "$c")" "$(ms "$h")" $(ratio_cell "$c" "$h")
c=$(med "${S[cvol-held]}") h=$(med "${S[hand-standing]}")
# shellcheck disable=SC2046
printf "$ROW" "already mounted (cvol: a mount ID held) vs standing mount" "$(ms "$c")" "$(ms "$h")" $(ratio_cell "$c" "$h")
c=$(med "${S[cvol.mount]}") h=$(med "${S[hand.mount]}")
# shellcheck disable=SC2046
printf "$ROW" "Mount on the socket (runs sshfs) vs sshfs by hand" "$(ms "$c")" "$(ms "$h")" $(ratio_cell "$c" "$h")
c=$(med "${S[cvol.umount]}") h=$(med "${S[hand.umount]}")
# shellcheck disable=SC2046
printf "$ROW" "the last Unmount on the socket vs umount by hand" "$(ms "$c")" "$(ms "$h")" $(ratio_cell "$c" "$h")
echo "(target: cvol/by hand <=$T_RATIO; the first row is the issue's pair: the cvol side connects"
echo " and mounts sshfs at each run, the hand-made one is mounted once)"
echo

ROW='%-44s  %8s  %8s  %6s\n'
echo "3. A dead server: Mount of a mounted volume with a new mount ID, timed until it answers"
echo
printf "$ROW" "" "median s" "max s" "target"
printf "$ROW" "--------------------------------------------" "--------" "--------" "------"
for kind in "${DEAD_CASES[@]}"; do
	case $kind in
	restart) label="sshd and its sessions killed -9, started again" ;;
	gone) label="sshd and its sessions killed -9 for good" ;;
	stopped) label="sshd and its sessions stopped (SIGSTOP)" ;;
	client) label="(not the server) the volume's sshfs killed -9" ;;
	esac
	# shellcheck disable=SC2086 # a list of numbers
	mx=$(printf '%s\n' ${DEAD_T[$kind]} | sort -n | tail -n1)
	ok=1
	[[ -z ${DEAD_OK[$kind]:-} ]] || ok=0
	printf "$ROW" "$label" "$(fmt "$(med "${DEAD_T[$kind]}") / 1000000" 2)" "$(fmt "$mx / 1000000" 2)" "$(verdict $ok)"
done
echo "(target, within ${T_DEAD_S} s: after a restart, and after the client's sshfs died, the Mount"
echo " succeeds, its path answers, one mount on it; with the server gone or stopped it fails with"
echo " an error)"
echo
echo "Outcomes (count: what the Mount replied; its path read by cat, 5 s at most):"
for kind in "${DEAD_CASES[@]}"; do
	echo "  $kind:"
	printf '%s' "${DEAD_OUT[$kind]}" | sort | uniq -c | sed 's/^ */    /'
done
