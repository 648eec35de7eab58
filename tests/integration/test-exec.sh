# cvol-mount --exec: a command on a layered root, in its own mount and PID namespaces,
# under seccomp; and --layers, a root from the store's chain.

# A busybox root under $WORK/img with a marker file; skips without busybox.
exec_make_root() {
	[ -x /bin/busybox ] || skip "busybox is not installed (package busybox-static)"
	mkdir -p "$WORK/img/bin" "$WORK/img/etc" "$WORK/b" "$WORK/u" "$WORK/m"
	cp /bin/busybox "$WORK/img/bin/"
	local c
	for c in sh echo cat ls mount ps id unshare mkdir true; do ln -s busybox "$WORK/img/bin/$c"; done
	echo from-image >"$WORK/img/etc/marker"
}

exec_run() { # cvol-mount args after the mount point...
	"$CVOL_MOUNT" --lower "$WORK/img:$WORK/b" --upper "$WORK/u" "$WORK/m" "$@"
}

test_exec_sees_the_image_not_the_host() {
	exec_make_root
	echo host-only >"$WORK/host-secret"
	local out
	out=$(exec_run --exec -- /bin/sh -c 'cat /etc/marker; ls /; cat '"$WORK"'/host-secret 2>&1; echo pid=$$; ps | wc -l')
	assert_contains "$out" "from-image" "the image's file"
	assert_contains "$out" "No such file or directory" "the host's file is not visible"
	assert_contains "$out" "pid=1" "the command is PID 1 of its own namespace"
	assert_contains "$out" "proc" "/proc is there"
	assert_not_mounted "$WORK/m"
}

test_exec_exit_status() {
	exec_make_root
	set +e
	exec_run --exec -- /bin/sh -c 'exit 7'
	local rc=$?
	set -e
	assert_eq 7 "$rc" "exit status of the command"
	set +e
	exec_run --exec -- /bin/sh -c '/bin/sh -c "kill -9 \$\$"; exit $?' # PID 1 ignores signals from its namespace
	rc=$?
	set -e
	assert_eq 137 "$rc" "exit status of a command whose child was killed by SIGKILL"
}

test_exec_default_seccomp() {
	exec_make_root
	local out
	out=$(exec_run --exec -- /bin/sh -c 'mkdir -p /mnt; mount -t tmpfs x /mnt 2>&1; unshare -m true 2>&1; echo done')
	assert_contains "$out" "mount: permission denied" "mount in the child is refused"
	assert_contains "$out" "Operation not permitted" "unshare in the child is refused"
	assert_contains "$out" "done" "the command ran on"
	# a user namespace needs no capability: only the filter stands in the way
	out=$(exec_run --exec -- /bin/sh -c 'unshare -U true 2>&1 || echo refused')
	assert_contains "$out" "refused" "unshare -U under the default filter"
	out=$(exec_run --exec --seccomp=unconfined -- /bin/sh -c 'unshare -U true && echo userns-ok')
	assert_contains "$out" "userns-ok" "unshare -U with --seccomp=unconfined"
}

# A static program in the root that tries what a container must not do; skips without cc -static.
exec_make_probe() {
	command -v cc >/dev/null || skip "no C compiler for the probe"
	cat >"$WORK/probe.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* "what: ok" when a child was made (and reaped), else "what: <error>" */
static void report(const char *what, long pid)
{
	if (pid < 0) {
		printf("%s: %s\n", what, strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(0);
	waitpid((pid_t)pid, NULL, 0);
	printf("%s: ok\n", what);
}

static void *thread(void *arg) { return arg; }

int main(void)
{
	static const struct { const char *name; unsigned long flag; } ns[] = {
		{ "newuser", CLONE_NEWUSER }, { "newns", CLONE_NEWNS }, { "newnet", CLONE_NEWNET },
		{ "newpid", CLONE_NEWPID }, { "newuts", CLONE_NEWUTS }, { "newipc", CLONE_NEWIPC },
		{ "newcgroup", CLONE_NEWCGROUP },
	};
	char what[64];
	pthread_t t;

	setvbuf(stdout, NULL, _IONBF, 0);
	report("clone", syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		snprintf(what, sizeof(what), "clone-%s", ns[i].name);
		report(what, syscall(SYS_clone, ns[i].flag | SIGCHLD, 0, 0, 0, 0));
	}
	struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	report("clone3-newuser", syscall(SYS_clone3, &args, sizeof(args)));
	printf("unshare-newuser: %s\n", unshare(CLONE_NEWUSER) < 0 ? strerror(errno) : "ok");
	/* glibc tries clone3 first for a thread and falls back to clone on ENOSYS */
	errno = pthread_create(&t, NULL, thread, NULL);
	printf("thread: %s\n", errno ? strerror(errno) : "ok");
	if (!errno)
		pthread_join(t, NULL);
	report("fork", fork());
	/* a syscall number no kernel has yet: ENOSYS from the kernel, EPERM from an allowlist */
	printf("syscall-999: %s\n", syscall(999) < 0 ? strerror(errno) : "ok");
	char c = 'x';
	printf("tiocsti-high: %s\n",
	       syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | 1UL << 32, &c) < 0 ? strerror(errno) : "ok");
	return 0;
}
C
	cc -static -pthread -o "$WORK/img/bin/probe" "$WORK/probe.c" 2>"$WORK/cc.log" ||
		skip "cc -static failed (no static libc?): $(head -c 300 "$WORK/cc.log")"
}

# The default filter is an allowlist: no namespace through clone, clone3 or unshare, nothing
# newer than the filter; ordinary processes, threads and pipelines run.
test_exec_default_seccomp_namespaces() {
	exec_make_root
	exec_make_probe
	local out ns
	out=$(exec_run --exec -- /bin/probe </dev/null)
	assert_contains "$out" "clone: ok" "a plain clone (fork)"
	for ns in newuser newns newnet newpid newuts newipc newcgroup; do
		assert_contains "$out" "clone-$ns: Operation not permitted" "clone with CLONE_${ns^^}"
	done
	assert_contains "$out" "clone3-newuser: Function not implemented" "clone3 answers ENOSYS"
	assert_contains "$out" "unshare-newuser: Operation not permitted" "unshare(CLONE_NEWUSER)"
	assert_contains "$out" "thread: ok" "a thread (glibc falls back from clone3 to clone)"
	assert_contains "$out" "fork: ok" "fork"
	assert_contains "$out" "syscall-999: Operation not permitted" "a syscall newer than the filter"
	assert_contains "$out" "tiocsti-high: Operation not permitted" "TIOCSTI with bits above 32"
	out=$(exec_run --exec -- /bin/sh -c 'echo one two | cat; ls /etc; (id -u); unshare -U true 2>&1 || echo unshare-refused')
	assert_contains "$out" "one two" "a pipeline"
	assert_contains "$out" "marker" "ls"
	assert_contains "$out" "unshare-refused" "busybox unshare -U"
	# the same probe unconfined: the refusals above are the filter's
	out=$(exec_run --exec --seccomp=unconfined -- /bin/probe </dev/null)
	assert_contains "$out" "clone-newuser: ok" "clone with CLONE_NEWUSER, unconfined"
	assert_contains "$out" "clone3-newuser: ok" "clone3 with CLONE_NEWUSER, unconfined"
	assert_contains "$out" "syscall-999: Function not implemented" "syscall 999, unconfined"
	assert_contains "$out" "tiocsti-high: Inappropriate ioctl for device" "TIOCSTI on /dev/null, unconfined"
	assert_not_mounted "$WORK/m"
}

test_exec_docker_profile() {
	exec_make_root
	cat >"$WORK/profile.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}}]}
JSON
	local out
	out=$(exec_run --exec --seccomp "$WORK/profile.json" -- /bin/sh -c 'mkdir /x 2>&1; echo after')
	assert_contains "$out" "Permission denied" "mkdir refused with errnoRet 13 by the profile"
	assert_contains "$out" "after" "the command ran on"
	echo '{"defaultAction": "SCMP_ACT_BOGUS"}' >"$WORK/bad.json"
	expect_failure exec_run --exec --seccomp "$WORK/bad.json" -- /bin/true
	assert_contains "$out" "unknown defaultAction" "a bad profile"
	assert_not_mounted "$WORK/m"
}

# A profile's includes/excludes of capabilities count against what --exec keeps (no
# CAP_SYS_ADMIN), as Docker counts them for a container.
test_exec_docker_profile_caps() {
	exec_make_root
	local c
	for c in chmod rmdir; do ln -sf busybox "$WORK/img/bin/$c"; done
	cat >"$WORK/profile.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
               "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
               "includes": {"caps": ["CAP_SYS_ADMIN"]}},
              {"names": ["rmdir", "unlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
               "includes": {"caps": ["CAP_SYS_CHROOT"]}}]}
JSON
	mkdir -p "$WORK/img/d"
	local out
	out=$(exec_run --exec --seccomp "$WORK/profile.json" -- /bin/sh -c '
		mkdir /x 2>&1 || echo mkdir-refused
		chmod 700 /etc/marker && echo chmod-ok
		rmdir /d 2>&1 || echo rmdir-refused')
	assert_contains "$out" "mkdir-refused" "an entry excluding CAP_SYS_ADMIN applies"
	assert_contains "$out" "chmod-ok" "an entry including CAP_SYS_ADMIN does not apply"
	assert_contains "$out" "rmdir-refused" "an entry including CAP_SYS_CHROOT (kept) applies"
}

# Docker's own default.json, where one is given: no namespace through clone either.
test_exec_docker_default_profile() {
	[ -n "${CVOL_DOCKER_SECCOMP_PROFILE:-}" ] ||
		skip "set CVOL_DOCKER_SECCOMP_PROFILE to moby's profiles/seccomp/default.json"
	exec_make_root
	exec_make_probe
	local out
	out=$(exec_run --exec --seccomp "$CVOL_DOCKER_SECCOMP_PROFILE" -- /bin/probe </dev/null)
	assert_contains "$out" "clone: ok" "a plain clone (fork)"
	assert_contains "$out" "clone-newuser: Operation not permitted" "clone with CLONE_NEWUSER"
	assert_contains "$out" "clone3-newuser: Function not implemented" "clone3 answers ENOSYS"
	assert_contains "$out" "thread: ok" "a thread"
}

test_exec_keep_and_missing_command() {
	exec_make_root
	exec_run --keep --exec -- /bin/true
	is_mounted "$WORK/m" || fail "--keep unmounted the root"
	"$CVOL_MOUNT" --umount "$WORK/m"
	expect_failure exec_run --exec -- /nonexistent
	assert_eq 127 "$rc" "exit status when the command is missing"
	assert_contains "$out" 'run `/nonexistent`: No such file or directory' "missing command"
	assert_not_mounted "$WORK/m"
}

test_exec_layers_from_store() {
	exec_make_root
	"$CVOL" --root "$WORK/root" layer create base >/dev/null
	cp -a "$WORK/img/." "$WORK/root/overlay/base/diff/"
	"$CVOL" --root "$WORK/root" layer create --parent base app >/dev/null
	echo app-layer >"$WORK/root/overlay/app/diff/app-file"
	local out
	out=$("$CVOL_MOUNT" --layers app --root "$WORK/root" --upper "$WORK/u" "$WORK/m" --exec -- /bin/sh -c 'cat /etc/marker /app-file; echo w > /new')
	assert_contains "$out" "from-image" "the base layer"
	assert_contains "$out" "app-layer" "the app layer"
	assert_file_content "$WORK/u/new" w
	expect_failure "$CVOL_MOUNT" --layers nope --root "$WORK/root" --upper "$WORK/u" "$WORK/m"
	assert_contains "$out" 'layer `nope`: no such layer' "--layers of a missing layer"
}

# Confined as Docker confines a container: its capabilities, a read-only /proc/sys, hidden
# kernel files, its own network, no device nodes of the image.
test_exec_confinement() {
	exec_make_root
	local d
	for d in grep hostname mknod head; do ln -sf busybox "$WORK/img/bin/$d"; done
	mknod "$WORK/img/disk" b 7 0 2>/dev/null || true
	local host_name out
	host_name=$(hostname)
	out=$(exec_run --exec -- /bin/sh -c '
		grep CapEff /proc/self/status
		echo x > /proc/sys/kernel/hostname 2>&1 || echo proc-sys-read-only
		head -c 10 /proc/kcore | wc -c
		ls /sys/class/net 2>/dev/null; cat /proc/net/dev | wc -l
		hostname inside 2>&1 || echo no-hostname
		head -c 1 /disk 2>&1 || echo disk-refused
		mknod /newdisk b 7 0 2>&1 && head -c 1 /newdisk 2>&1 || echo newdisk-refused')
	assert_contains "$out" "CapEff:	00000000a80425fb" "Docker's default capabilities"
	assert_contains "$out" "proc-sys-read-only" "/proc/sys is read-only"
	assert_contains "$out" "no-hostname" "no CAP_SYS_ADMIN for sethostname"
	assert_contains "$out" "disk-refused" "a device node of the image opens nothing"
	assert_contains "$out" "newdisk-refused" "a device node made inside opens nothing"
	assert_eq "$host_name" "$(hostname)" "the host's name"
	assert_eq 0 "$(sed -n 3p <<<"$out" | tr -d ' ')" "bytes read from /proc/kcore"
	assert_eq 3 "$(sed -n 4p <<<"$out" | tr -d ' ')" "lines of /proc/net/dev (only lo: its own network)"
}

# No device but cvol's own opens: /dev is a nodev tmpfs (its six nodes are bind mounts that
# keep their own flags), the root and everything writable under it are nodev too.
test_exec_no_host_devices() {
	exec_make_root
	local d
	for d in mknod head wc awk; do ln -sf busybox "$WORK/img/bin/$d"; done
	mkdir -p "$WORK/img/tmp"
	local out
	out=$(exec_run --exec -- /bin/sh -c '
		mknod /dev/x b 7 0 && { head -c 1 /dev/x >/dev/null 2>&1 && echo loop-opened || echo loop-refused; }
		mknod /dev/z c 1 5 && { head -c 1 /dev/z 2>&1 >/dev/null && echo zero-twin-opened; }
		mknod /tmp/x c 1 3 && { echo hi 2>/dev/null >/tmp/x && echo tmp-null-opened || echo tmp-null-refused; }
		echo hi >/dev/null && echo null-ok
		echo zero=$(head -c 3 /dev/zero | wc -c) urandom=$(head -c 3 /dev/urandom | wc -c)
		echo hi >/dev/full 2>/dev/null || echo full-is-full
		# a writable mount without nodev: only the six nodes and files of /proc hidden by /dev/null
		awk '"'"'$6 ~ /^rw/ && $6 !~ /nodev/ && $5 !~ /^\/dev\/(null|zero|full|random|urandom|tty)$/ &&
			$5 !~ /^\/proc\/[a-z_]+$/ { print "devices-allowed-on:" $5 }'"'"' /proc/self/mountinfo')
	assert_contains "$out" "loop-refused" "a host loop device made in /dev opens nothing"
	assert_contains "$out" "head: /dev/z: Permission denied" "a /dev/zero twin made in /dev opens nothing"
	assert_contains "$out" "tmp-null-refused" "a /dev/null twin made in /tmp opens nothing"
	assert_contains "$out" "null-ok" "/dev/null"
	assert_contains "$out" "zero=3 urandom=3" "bytes read from /dev/zero and /dev/urandom"
	assert_contains "$out" "full-is-full" "/dev/full"
	case "$out" in *devices-allowed-on*) fail "a writable mount where device nodes open: $out" ;; esac
}

# An image whose dev or proc is a symlink out of the root: every path --exec makes or mounts
# on is resolved inside the root, so the link leads to the root's own directory or to an error.
test_exec_dev_and_proc_symlinks_stay_in_the_root() {
	exec_make_root
	ln -sf busybox "$WORK/img/bin/test"
	mkdir -p "$WORK/outside" "$WORK/img$WORK/outside"
	echo host >"$WORK/outside/marker"
	# absolute: the image's own $WORK/outside becomes /dev, the host's is untouched
	ln -s "$WORK/outside" "$WORK/img/dev"
	local out
	out=$(exec_run --exec -- /bin/sh -c 'test -c /dev/null && echo hi >/dev/null && echo dev-null-ok; ls /dev')
	assert_contains "$out" "dev-null-ok" "/dev/null through an absolute /dev symlink"
	assert_contains "$out" "urandom" "/dev through an absolute /dev symlink"
	assert_eq "marker" "$(ls -A "$WORK/outside")" "the host's directory the link names"
	# relative, climbing out: resolved inside the root, where nothing of that name is
	rm "$WORK/img/dev"
	ln -s ../../../../../../../../../../../..$WORK/outside/../hostdev "$WORK/img/dev"
	mkdir "$WORK/hostdev"
	expect_failure exec_run --exec -- /bin/true
	assert_one_line "$out" "--exec with a /dev leading out of the root"
	assert_contains "$out" '`/dev`' "the error names /dev"
	assert_eq "" "$(ls -A "$WORK/hostdev")" "the host's directory the relative link names"
	# to / itself: the root's own / (never the host's), refused with one line
	local before
	before=$(ls -A /)
	rm "$WORK/img/dev"
	rm -r "$WORK/u/proc" # made by the runs above, it would hide the image's proc
	ln -s / "$WORK/img/proc"
	expect_failure exec_run --exec -- /bin/true
	assert_one_line "$out" "--exec with /proc -> /"
	assert_contains "$out" '`/proc`' "the error names /proc"
	assert_eq "$before" "$(ls -A /)" "the host's / after --exec with /proc -> /"
	rm "$WORK/img/proc"
	ln -s / "$WORK/img/dev"
	expect_failure exec_run --exec -- /bin/true
	assert_one_line "$out" "--exec with /dev -> /"
	assert_contains "$out" '`/dev`' "the error names /dev"
	assert_eq "$before" "$(ls -A /)" "the host's / after --exec with /dev -> /"
	assert_not_mounted "$WORK/m"
}

# /dev's nodes are the host's own inodes, bound in: the command writes to them but changes
# nothing about them (mode, owner, times), as a container's /dev/null leaves the host's alone.
test_exec_dev_nodes_unchanged_on_the_host() {
	exec_make_root
	local d
	for d in chmod touch; do ln -sf busybox "$WORK/img/bin/$d"; done
	local mode before out
	mode=$(stat -c %a /dev/full)
	before=$(stat -c '%a %u %Z %Y' /dev/full)
	sleep 1 # a change would show in the ctime
	out=$(exec_run --exec -- /bin/sh -c "chmod $mode /dev/full 2>&1; touch /dev/full 2>&1; echo hi >/dev/null && echo null-ok")
	assert_contains "$out" "chmod: /dev/full: Read-only file system" "chmod of /dev/full inside"
	assert_contains "$out" "null-ok" "/dev/null"
	assert_eq "$before" "$(stat -c '%a %u %Z %Y' /dev/full)" "mode, owner, ctime and mtime of the host's /dev/full"
}
