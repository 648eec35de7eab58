# A private containerd for tests and benchmarks, in the caller's mount namespace (run-all.sh
# and tests/bench/lib.sh make a private one): its own root, state, sockets and config under
# a dir, optionally with cvol-snapshotter as the proxy snapshotter `cvol`. Sourced by
# test-containerd.sh and tests/bench/snapshotter.sh; every helper is named ctrd_*.
#
# What containerd 1.6 needs besides its config, found by running it here:
# - /run/containerd: the shims' sockets (/run/containerd/s/<sha256>), runc's state
#   (/run/containerd/runc/<ns>) and ctr's fifos (/run/containerd/fifo) go there whatever
#   `state` says. A tmpfs over it, in the private namespace, keeps them off the host and
#   away from any other containerd; it stays mounted across a restart of the daemon (the
#   restarted containerd finds its shims there) and goes in ctrd_cleanup.
# - the opt plugin makes /opt/containerd unless its path is set; the CRI plugin would
#   start a CNI/CRI service on the socket: both are configured away. The v1 runtime
#   (io.containerd.runtime.v1.linux) must stay: without it the tasks service does not load
#   and `ctr run` says "unknown service containerd.services.tasks.v1.Tasks".
# - ctr itself mounts the container's rootfs once, on a temp dir /tmp/containerd-mountNNN,
#   to read /etc/passwd and /etc/group: it must run in the same mount namespace (it does).
# - cgroups: runc puts a container in /<namespace>/<id> of every hierarchy, which is the
#   host's; ctrd_run gives each container a cgroup path of its own (cvoltest-<pid>/<id>),
#   so two test runs at once do not meet there.
# - containerd leaves its shims running when it stops (by design). ctrd_cleanup kills
#   every task it still knows of, then the shims (the processes of the shim binary whose
#   working dir is a bundle under its state dir) and the containers' init processes (the
#   bundles' init.pid), and unmounts whatever is left under DIR.

CTRD_CONTAINERD=${CTRD_CONTAINERD:-/usr/bin/containerd}
CTRD_CTR=${CTRD_CTR:-/usr/bin/ctr}
CTRD_RUNC=${CTRD_RUNC:-/usr/sbin/runc}
CTRD_SHIM=${CTRD_SHIM:-/usr/bin/containerd-shim-runc-v2}
CTRD_NS=cvoltest
CTRD_MAKE_IMAGE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/make-oci-image.py"
CTRD_DIR=
CTRD_PID=
CTRD_MOUNTED_RUN=

# Everything a containerd test needs is installed, else the reason on stdout (exit 1).
ctrd_missing() {
	local b
	for b in "$CTRD_CONTAINERD" "$CTRD_CTR" "$CTRD_RUNC" "$CTRD_SHIM"; do
		[ -x "$b" ] || { echo "$b is not installed (containerd and runc: make deps)"; return 0; }
	done
	[ -x /bin/busybox ] || { echo "/bin/busybox is not installed (busybox-static: make deps)"; return 0; }
	command -v python3 >/dev/null || { echo "python3 is not installed (make deps)"; return 0; }
	return 1
}

# The config: version 2, everything under DIR, the proxy snapshotter when a socket is given.
ctrd_write_config() { # dir [snapshotter-socket]
	local dir=$1 sock=${2:-}
	cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = "$dir/debug.sock"
  level = "debug"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
	if [ -n "$sock" ]; then
		cat >>"$dir/config.toml" <<EOF

[proxy_plugins.cvol]
  type = "snapshot"
  address = "$sock"
EOF
	fi
}

# Start a private containerd with DIR as its home; wait until ctr gets an answer. Again
# after ctrd_stop, with the same DIR: the same config, store and shims.
ctrd_start() { # dir [snapshotter-socket]
	local dir=$1 i from
	mkdir -p "$dir"
	CTRD_DIR=$(cd "$dir" && pwd)
	[ -f "$CTRD_DIR/config.toml" ] || ctrd_write_config "$CTRD_DIR" "${2:-}"
	if [ -z "$CTRD_MOUNTED_RUN" ]; then
		mkdir -p /run/containerd
		mount -t tmpfs -o mode=0711,size=64m cvol-containerd /run/containerd
		CTRD_MOUNTED_RUN=1
	fi
	touch "$CTRD_DIR/containerd.log"
	echo "--- containerd start $(date +%T.%N)" >>"$CTRD_DIR/containerd.log"
	from=$(($(wc -l <"$CTRD_DIR/containerd.log") + 1))
	"$CTRD_CONTAINERD" --config "$CTRD_DIR/config.toml" >>"$CTRD_DIR/containerd.log" 2>&1 &
	CTRD_PID=$!
	echo "$CTRD_PID" >"$CTRD_DIR/containerd.pid"
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "$CTRD_PID" 2>/dev/null; then
			wait "$CTRD_PID" 2>/dev/null
			CTRD_PID=
			echo "containerd exited at start: $(tail -n "+$from" "$CTRD_DIR/containerd.log" | grep -E 'level=(error|fatal)' | tail -n 2)" >&2
			return 1
		fi
		ctrd_ctr version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "containerd did not answer in 15 s: $(tail -n 3 "$CTRD_DIR/containerd.log")" >&2
	return 1
}

# Stop the containerd we started (TERM, or the signal given; KILL after 10 s), by its pid.
# Its shims and containers go on running.
# shellcheck disable=SC2120 # the tests pass a signal
ctrd_stop() { # [signal]
	local i
	[ -n "$CTRD_PID" ] || return 0
	kill -s "${1:-TERM}" "$CTRD_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CTRD_PID" 2>/dev/null || true
	wait "$CTRD_PID" 2>/dev/null || true
	CTRD_PID=
}

# ctr talking to our containerd only, in the namespace cvoltest.
ctrd_ctr() {
	"$CTRD_CTR" --address "$CTRD_DIR/containerd.sock" --namespace "$CTRD_NS" "$@"
}

# `ctr run` with the test's snapshotter ($SNAPSHOTTER, else overlayfs) and a cgroup of its own:
#   ctrd_run [ctr-run-options...] -- IMAGE ID [COMMAND...]
ctrd_run() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	ctrd_ctr run --snapshotter "${SNAPSHOTTER:-overlayfs}" --cgroup "/cvoltest-$$/$2" "${opts[@]}" "$@"
}

# Our shims and containers that are still alive: every containerd-shim-runc-v2 whose working
# dir is a bundle under our state dir (containerd 1.6 writes no shim.pid; the shim runs in
# its bundle), and the containers' init processes (init.pid in the bundles).
ctrd_bundle_pids() {
	local f pid cwd
	for f in /proc/[0-9]*; do
		[ "$(readlink "$f/exe" 2>/dev/null)" = "$CTRD_SHIM" ] || continue
		cwd=$(readlink "$f/cwd" 2>/dev/null) || continue
		case "$cwd" in "$CTRD_DIR/state/"*) echo "${f#/proc/}" ;; esac
	done
	for f in "$CTRD_DIR"/state/io.containerd.runtime.v2.task/*/*/init.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null && echo "$pid"
	done
	return 0
}

# Everything ctrd_start made, gone: the tasks (through containerd while it runs), the
# daemon, any shim or container process left (by the pids in its bundles), the mounts
# under DIR and the tmpfs on /run/containerd. Safe to call twice, and when nothing started.
ctrd_cleanup() {
	local t pid i left
	[ -n "$CTRD_DIR" ] || return 0
	if [ -n "$CTRD_PID" ]; then
		for t in $(ctrd_ctr task ls -q 2>/dev/null); do
			ctrd_ctr task kill -s KILL "$t" >/dev/null 2>&1
		done
		for t in $(ctrd_ctr task ls -q 2>/dev/null); do
			for ((i = 0; i < 30; i++)); do
				ctrd_ctr task delete "$t" >/dev/null 2>&1 && break
				sleep 0.1
			done
		done
	fi
	ctrd_stop
	for ((i = 0; i < 30; i++)); do
		left=$(ctrd_bundle_pids)
		[ -n "$left" ] || break
		for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
		sleep 0.1
	done
	[ -z "$left" ] || echo "warning: containerd's processes left: $left" >&2
	awk -v d="$CTRD_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	if [ -n "$CTRD_MOUNTED_RUN" ]; then
		umount /run/containerd 2>/dev/null || umount -l /run/containerd
		CTRD_MOUNTED_RUN=
	fi
	# the cgroups ctrd_run named; runc removes a container's own, the parent is ours
	for i in /sys/fs/cgroup/*/"cvoltest-$$" /sys/fs/cgroup/"cvoltest-$$"; do
		[ -d "$i" ] && rmdir "$i" 2>/dev/null
	done
	return 0
}

# An OCI image archive of busybox and NLAYERS-1 layers adding /layers/<i>; prints the
# manifest's digest. Extra args (--gzip) go to make-oci-image.py.
ctrd_make_image() { # out.tar name:tag nlayers [--gzip]
	python3 "$CTRD_MAKE_IMAGE" "${@:4}" "$1" "$2" "$3"
}

# The whiteout/opaque image (5 layers, see make-oci-image.py).
ctrd_make_whiteout_image() { # out.tar name:tag [--gzip]
	python3 "$CTRD_MAKE_IMAGE" "${@:3}" --whiteouts "$1" "$2"
}

# ---- cvol-snapshotter --------------------------------------------------------------------

CTRD_SNAP_BIN=${CTRD_SNAP_BIN:-${CVOL_BIN_DIR:-.}/cvol-snapshotter}
CTRD_SNAP_PID=

# The socket answers a connect (a file left by a killed snapshotter does not).
ctrd_socket_answers() { # path
	[ -S "$1" ] && python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

# Start cvol-snapshotter --root ROOT --socket SOCKET --debug (its output appended to LOG);
# wait until the socket takes connections. The socket file a killed one left is its to handle.
ctrd_snapshotter_start() { # root socket log
	local i
	echo "--- cvol-snapshotter start $(date +%T.%N)" >>"$3"
	"$CTRD_SNAP_BIN" --root "$1" --socket "$2" --debug >>"$3" 2>&1 &
	CTRD_SNAP_PID=$!
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$CTRD_SNAP_PID" 2>/dev/null; then
			wait "$CTRD_SNAP_PID" 2>/dev/null
			CTRD_SNAP_PID=
			echo "cvol-snapshotter exited at start: $(tail -n 3 "$3")" >&2
			return 1
		fi
		ctrd_socket_answers "$2" && return 0
		sleep 0.1
	done
	echo "cvol-snapshotter did not answer on $2 in 10 s: $(tail -n 3 "$3")" >&2
	return 1
}

# Stop the snapshotter we started, by its pid: TERM (or the signal given), KILL after 10 s.
# shellcheck disable=SC2120 # the tests pass a signal
ctrd_snapshotter_stop() { # [signal]
	local i
	[ -n "$CTRD_SNAP_PID" ] || return 0
	kill -s "${1:-TERM}" "$CTRD_SNAP_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$CTRD_SNAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CTRD_SNAP_PID" 2>/dev/null || true
	wait "$CTRD_SNAP_PID" 2>/dev/null || true
	CTRD_SNAP_PID=
}

# VmRSS and VmHWM of a process, in KiB: "RSS HWM".
ctrd_mem_kib() { # pid
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' "/proc/$1/status"
}

# ---- for the integration tests (tests/integration/lib.sh's fail and skip) --------------------

# The snapshotter the tests use: cvol when cvol-snapshotter is built, else containerd's
# overlayfs; CVOL_TEST_SNAPSHOTTER=overlayfs picks overlayfs even then.
ctrd_pick_snapshotter() {
	if [ "${CVOL_TEST_SNAPSHOTTER:-}" = overlayfs ] || [ ! -x "$CTRD_SNAP_BIN" ]; then
		echo overlayfs
	else
		echo cvol
	fi
}

# Skip without containerd, runc or busybox (or, with `cvol`, without cvol-snapshotter);
# start cvol-snapshotter (when it is the snapshotter) and a private containerd under
# $WORK/ctrd; teardown at exit. Sets SNAPSHOTTER and SNAP_ROOT (cvol's store).
ctrd_setup() { # [cvol]
	local why
	if why=$(ctrd_missing); then skip "$why"; fi
	if [ "${1:-}" = cvol ]; then
		[ -x "$CTRD_SNAP_BIN" ] || skip "cvol-snapshotter not built"
		SNAPSHOTTER=cvol
	else
		SNAPSHOTTER=$(ctrd_pick_snapshotter)
	fi
	SNAP_ROOT="$WORK/ctrd/cvol"
	SNAP_SOCK="$WORK/ctrd/snap.sock"
	CTRD_SNAP_PID=
	trap ctrd_teardown EXIT
	mkdir -p "$WORK/ctrd" "$WORK/images"
	echo "snapshotter: $SNAPSHOTTER"
	if [ "$SNAPSHOTTER" = cvol ]; then
		ctrd_snapshotter_start "$SNAP_ROOT" "$SNAP_SOCK" "$WORK/ctrd/snapshotter.log" ||
			{ fail "cvol-snapshotter did not start: $(tail -n 2 "$WORK/ctrd/snapshotter.log")"; return 1; }
		ctrd_start "$WORK/ctrd" "$SNAP_SOCK" 2>"$WORK/ctrd/start.err" ||
			{ fail "$(cat "$WORK/ctrd/start.err")"; return 1; }
	else
		ctrd_start "$WORK/ctrd" 2>"$WORK/ctrd/start.err" || { fail "$(cat "$WORK/ctrd/start.err")"; return 1; }
	fi
}

# containerd, its shims and containers, and the snapshotter stopped; on failure their last words.
ctrd_teardown() {
	local rc=$?
	set +e
	if [ "$rc" -ne 0 ] || [ -s "$WORK/.fail" ]; then
		echo "--- containerd errors"
		grep -E 'level=(error|fatal)' "$WORK/ctrd/containerd.log" 2>/dev/null | tail -n 4 | cut -c1-400
		echo "--- snapshotter log (tail)"
		tail -n 6 "$WORK/ctrd/snapshotter.log" 2>/dev/null
	fi
	ctrd_cleanup
	ctrd_snapshotter_stop
}

# A ctr command that must work: prints its output; on failure fails the test with ctr's words.
ctrd_ok() {
	local o
	if ! o=$(ctrd_ctr "$@" 2>&1); then
		fail "ctr $*: $o"
		return 1
	fi
	printf '%s\n' "$o"
}

# `ctr snapshots --snapshotter $SNAPSHOTTER ARGS`
ctrd_snap() {
	ctrd_ctr snapshots --snapshotter "$SNAPSHOTTER" "$@"
}

# The snapshots, sorted, one "key parent kind" a line (ctr's columns, spaces squeezed).
ctrd_snap_list() {
	local o
	o=$(ctrd_snap ls 2>&1) || { fail "ctr snapshots ls: $o"; return 1; }
	printf '%s\n' "$o" | awk 'NR > 1 { $1 = $1; print }' | sort
}

# Make image NAME (NLAYERS layers, extra args to make-oci-image.py) and import it, unpacked.
ctrd_import() { # name:tag nlayers [--gzip]
	local tar="$WORK/images/${1//[:\/]/_}.tar"
	[ -f "$tar" ] || ctrd_make_image "$tar" "$@" >/dev/null
	ctrd_ok image import --snapshotter "$SNAPSHOTTER" "$tar" >/dev/null
}

# `ctr run --rm` of IMAGE as ID with the test's snapshotter; prints what the command printed.
ctrd_run_ok() { # image id command...
	local o
	if ! o=$(ctrd_run --rm -- "$@" 2>&1); then
		fail "ctr run $*: $o"
		return 1
	fi
	printf '%s\n' "$o"
}

# Start cvol-snapshotter again on the test's store and socket (after ctrd_snapshotter_stop).
ctrd_snapshotter_up() {
	ctrd_snapshotter_start "$SNAP_ROOT" "$SNAP_SOCK" "$WORK/ctrd/snapshotter.log" 2>"$WORK/ctrd/snap-start.err" ||
		{ fail "$(cat "$WORK/ctrd/snap-start.err")"; return 1; }
}

# Wait until the snapshotter answers through containerd again (its gRPC client redials
# with a back-off of up to 3 s). `ctr snapshots ls` is no proof: containerd answers List and
# Stat of unknown keys from its own metadata, and with no snapshots never asks the
# snapshotter; a Prepare (of a scratch key, removed again) always reaches it.
ctrd_wait_snapshots() {
	local i o
	for ((i = 0; i < 100; i++)); do
		if o=$(ctrd_snap prepare "cvoltest-wait $i" 2>&1); then
			ctrd_snap rm "cvoltest-wait $i" >/dev/null 2>&1 || true
			return 0
		fi
		sleep 0.2
	done
	fail "the snapshotter did not answer a Prepare through containerd in 20 s: $o"
}
