/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a command on a merged root: a child in new mount and PID namespaces pivots into
 * the root (old root detached), mounts /proc and a minimal nodev /dev (every path opened
 * inside the root, every mount made by fd: docs/exec-root.md), loads seccomp last and
 * execs. Errors before the exec come back to the caller over a close-on-exec pipe. */
#include "runtime.h"
#include "runtime-internal.h"
#include "../common/fs.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* Report @err to the parent and end the child. */
static _Noreturn void child_fail(int report_fd, const struct cvol_error *err)
{
	ssize_t n = write(report_fd, err->msg, strlen(err->msg));
	(void)n;
	_exit(127);
}

/* Every mount below is made by fd: an fd on the new mount's root, attached with move_mount
 * onto an fd opened inside the root, never onto a path looked up again through the image. */

/* A new @fstype (@opts: "key", "value" pairs, NULL-ended) with @attrs (MOUNT_ATTR_*), put on
 * @target_fd; returns an fd on its root or -errno. */
static int mount_new_fs(const char *fstype, const char *const (*opts)[2], unsigned attrs, int target_fd)
{
	_cleanup_close_ int fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", fstype, 0) < 0) /* as mountinfo shows it */
		return -errno;
	for (; opts && (*opts)[0]; opts++)
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, (*opts)[0], (*opts)[1], 0) < 0)
			return -errno;
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	_cleanup_close_ int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0)
		return -errno;
	if (move_mount(mfd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return TAKE_FD(mfd);
}

/* Bind a copy of @path in @dirfd ("" for @dirfd itself; with the mounts below it when
 * @recursive), its flags set to @set and cleared of @clear, onto @target_fd; returns an fd on
 * the new mount or -errno. */
static int mount_bind(int dirfd, const char *path, bool recursive, uint64_t set, uint64_t clear,
		      int target_fd)
{
	unsigned rec = recursive ? AT_RECURSIVE : 0;
	_cleanup_close_ int tree = open_tree(
		dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec | (*path ? 0 : AT_EMPTY_PATH));
	if (tree < 0)
		return -errno;
	struct mount_attr attr = { .attr_set = set, .attr_clr = clear };
	if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) < 0)
		return -errno;
	if (move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return TAKE_FD(tree);
}

/* A host device node bound onto @target_fd: not nodev whatever its host mount is, and
 * read-only, which refuses chmod, chown and touch of the host's inode, not writes to the device. */
static int bind_dev_node(const char *name, int target_fd)
{
	char host[64];
	snprintf(host, sizeof(host), "/dev/%s", name); /* fits: names of 6 bytes at most */
	int r = mount_bind(AT_FDCWD, host, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
			   MOUNT_ATTR_NODEV, target_fd);
	if (r >= 0)
		close(r);
	return r < 0 ? r : 0;
}

/* Open the directory /@name of the root @root_fd (@root its path, for messages) to mount on,
 * making it with @mode if missing. It is resolved inside the root as the command will see it: a
 * symlink leads to the root's own directory ("/" and ".." stop at the root), never out of it.
 * One that leads to the root itself is refused: a mount there would hide the whole image. */
static int open_mount_point(int root_fd, const char *root, const char *name, mode_t mode,
			    struct cvol_error *err)
{
	/* never follows a symlink there; on a read-only root, the open below says what is missing */
	(void)mkdirat(root_fd, name, mode);
	int fd = openat_confined(root_fd, name, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT);
	if (fd < 0)
		return cvol_error_set(err, -fd, "open `/%s` in `%s`", name, root);
	struct stat st, root_st;
	if (fstat(fd, &st) < 0 || fstat(root_fd, &root_st) < 0) {
		int r = cvol_error_set(err, errno, "stat `/%s` in `%s`", name, root);
		close(fd);
		return r;
	}
	if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
		close(fd);
		return cvol_error_setx(err, ELOOP, "`/%s` in `%s` leads to the root itself through a symlink",
				       name, root);
	}
	return fd;
}

/* /dev: a nodev tmpfs (a node made in it opens nothing) holding binds of the host's six nodes,
 * which carry their own flags, and the fd symlinks. */
static int mount_dev(int root_fd, const char *root, struct cvol_error *err)
{
	static const char *const opts[][2] = { { "mode", "0755" }, { "size", "64k" }, { NULL, NULL } };

	_cleanup_close_ int at = open_mount_point(root_fd, root, "dev", 0755, err);
	if (at < 0)
		return at;
	_cleanup_close_ int dev_fd =
		mount_new_fs("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV, at);
	if (dev_fd < 0)
		return cvol_error_set(err, -dev_fd, "mount a tmpfs on `/dev` in `%s`", root);
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		_cleanup_close_ int fd = openat_confined(dev_fd, dev_nodes[i], O_WRONLY | O_CREAT | O_EXCL,
							 0666, RESOLVE_NO_SYMLINKS);
		if (fd < 0)
			return cvol_error_set(err, -fd, "create `/dev/%s` in `%s`", dev_nodes[i], root);
		int r = bind_dev_node(dev_nodes[i], fd);
		if (r < 0)
			return cvol_error_set(err, -r, "bind `/dev/%s` into `%s`", dev_nodes[i], root);
	}
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], dev_fd, links[i][1]) < 0)
			return cvol_error_set(err, errno, "create `/dev/%s` in `%s`", links[i][1], root);
	return 0;
}

/* What runc keeps from a container's /proc: the kernel's knobs read-only, some files hidden. */
static const char *const proc_read_only[] = { "sys", "sysrq-trigger", "irq", "bus", "fs" };
static const char *const proc_masked[] = { "kcore",	    "keys",	   "timer_list", "sched_debug",
					   "latency_stats", "timer_stats", "acpi",	 "scsi" };

/* Open /proc/@name beneath the proc mount @proc_fd (no symlinks); -ENOENT when this kernel has none. */
static int open_proc_entry(int proc_fd, const char *name, const char *root, struct cvol_error *err)
{
	int fd = openat_confined(proc_fd, name, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
	if (fd < 0 && fd != -ENOENT)
		return cvol_error_set(err, -fd, "open `/proc/%s` in `%s`", name, root);
	return fd;
}

/* Make /proc's knobs read-only and hide its files of the host's, beneath the proc mount @proc_fd. */
static int guard_proc(int proc_fd, const char *root, struct cvol_error *err)
{
	static const uint64_t ro =
		MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

	for (size_t i = 0; i < ARRAY_SIZE(proc_read_only); i++) {
		_cleanup_close_ int fd = open_proc_entry(proc_fd, proc_read_only[i], root, err);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fd;
		int r = mount_bind(fd, "", true, ro, 0, fd);
		if (r < 0)
			return cvol_error_set(err, -r, "make `/proc/%s` in `%s` read-only", proc_read_only[i],
					      root);
		close(r);
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_masked); i++) {
		_cleanup_close_ int fd = open_proc_entry(proc_fd, proc_masked[i], root, err);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fd;
		struct stat st;
		int r = fstat(fd, &st) < 0 ? -errno : 0;
		if (r == 0 && S_ISDIR(st.st_mode)) {
			r = mount_new_fs("tmpfs", NULL, (unsigned)ro, fd);
			if (r >= 0) {
				close(r);
				r = 0;
			}
		} else if (r == 0) {
			r = bind_dev_node("null", fd);
		}
		if (r < 0)
			return cvol_error_set(err, -r, "hide `/proc/%s` in `%s`", proc_masked[i], root);
	}
	return 0;
}

/* /proc of the new PID namespace, guarded. */
static int mount_proc(int root_fd, const char *root, struct cvol_error *err)
{
	_cleanup_close_ int at = open_mount_point(root_fd, root, "proc", 0555, err);
	if (at < 0)
		return at;
	_cleanup_close_ int proc_fd =
		mount_new_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, at);
	if (proc_fd < 0)
		return cvol_error_set(err, -proc_fd, "mount /proc in `%s`", root);
	return guard_proc(proc_fd, root, err);
}

static int drop_capabilities(struct cvol_error *err)
{
	const uint64_t keep = CVOL_EXEC_KEPT_CAPS;
	for (int cap = 0; cap <= 63; cap++)
		if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return cvol_error_set(err, errno, "drop capability %d", cap);
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)keep, .permitted = (uint32_t)keep, .inheritable = 0 },
		{ .effective = (uint32_t)(keep >> 32),
		  .permitted = (uint32_t)(keep >> 32),
		  .inheritable = 0 },
	};
	if (syscall(SYS_capset, &hdr, data) < 0)
		return cvol_error_set(err, errno, "set capabilities");
	return 0;
}

/* The new root: private propagation, a nodev bind of the root, /proc, /dev, then pivot_root
 * with the old root detached. The root is opened once; everything in it is reached from that fd. */
static int enter_root(const char *root, struct cvol_error *err)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return cvol_error_set(err, errno, "make the mount namespace private");
	_cleanup_close_ int at = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (at < 0)
		return cvol_error_set(err, errno, "open `%s`", root);
	/* device nodes of the image, or made in it, open nothing: only /dev's own binds do;
	 * recursive, so a mount under the root is nodev too */
	_cleanup_close_ int root_fd = mount_bind(at, "", true, MOUNT_ATTR_NODEV, 0, at);
	if (root_fd < 0)
		return cvol_error_set(err, -root_fd, "bind `%s` on itself, nodev", root);
	int r = mount_proc(root_fd, root, err);
	if (r < 0)
		return r;
	r = mount_dev(root_fd, root, err);
	if (r < 0)
		return r;
	if (fchdir(root_fd) < 0)
		return cvol_error_set(err, errno, "enter `%s`", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return cvol_error_set(err, errno, "pivot_root into `%s`", root);
	if (umount2(".", MNT_DETACH) < 0) /* the old root, stacked under the new one */
		return cvol_error_set(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return cvol_error_set(err, errno, "chdir /");
	return 0;
}

/* PID 1 of the new PID namespace. */
static _Noreturn void run_init(const struct cvol_exec_config *cfg, void *filter, int report_fd)
{
	struct cvol_error err = { 0 };

	if (enter_root(cfg->root, &err) < 0)
		child_fail(report_fd, &err);
	if (setsid() < 0) /* no controlling terminal of the caller's to type into */
		cvol_error_set(&err, errno, "setsid");
	/* fds the caller left open without O_CLOEXEC stay with it */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (err.code || drop_capabilities(&err) < 0 || cvol_seccomp_load(filter, &err) < 0)
		child_fail(report_fd, &err);
	execvp(cfg->argv[0], cfg->argv);
	cvol_error_set(&err, errno, "run `%s`", cfg->argv[0]);
	child_fail(report_fd, &err);
}

static int wait_status(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first child: new namespaces, then the PID 1 child, whose status it passes on. */
static _Noreturn void run_namespaces(const struct cvol_exec_config *cfg, void *filter, int report_fd)
{
	struct cvol_error err = { 0 };

	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) < 0) {
		cvol_error_set(&err, errno, "create mount, PID, UTS, IPC and network namespaces");
		child_fail(report_fd, &err);
	}
	pid_t pid = fork();
	if (pid < 0) {
		cvol_error_set(&err, errno, "fork");
		child_fail(report_fd, &err);
	}
	if (pid == 0)
		run_init(cfg, filter, report_fd);
	close(report_fd);
	_exit(wait_status(pid));
}

int cvol_exec_run(const struct cvol_exec_config *cfg, int *ret_status, struct cvol_error *err)
{
	void *filter = NULL;
	int report[2];

	if (!cfg->argv || !cfg->argv[0])
		return cvol_error_setx(err, EINVAL, "no command to run");
	int r = cvol_seccomp_build(cfg->seccomp, &filter, err); /* read any profile before leaving the host */
	if (r < 0)
		return r;
	if (pipe2(report, O_CLOEXEC) < 0) {
		cvol_seccomp_free(filter);
		return cvol_error_set(err, errno, "create a pipe");
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		r = cvol_error_set(err, errno, "fork");
		close(report[0]);
		close(report[1]);
		cvol_seccomp_free(filter);
		return r;
	}
	if (pid == 0) {
		close(report[0]);
		run_namespaces(cfg, filter, report[1]);
	}
	close(report[1]);
	cvol_seccomp_free(filter);
	char msg[CVOL_ERROR_MSG_MAX];
	ssize_t n = read(report[0], msg, sizeof(msg) - 1);
	close(report[0]);
	int status = wait_status(pid);
	if (n > 0) {
		msg[n] = '\0';
		return cvol_error_setx(err, EIO, "%s", msg);
	}
	*ret_status = status;
	return 0;
}
