/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a command on a merged root: a child in new mount and PID namespaces pivots into
 * the root (old root detached), mounts /proc and a minimal /dev, loads seccomp last and
 * execs. Errors before the exec come back to the caller over a close-on-exec pipe. */
#include "runtime.h"
#include "../common/fs.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
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

static int mount_dev(const char *root, struct cvol_error *err)
{
	char path[4096];

	int r = path_format(path, sizeof(path), err, "%s/dev", root);
	if (r < 0)
		return r;
	mkdir(path, 0755);
	/* nodev: a node made in /dev opens nothing; the binds below carry their own flags */
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=0755,size=64k") < 0)
		return cvol_error_set(err, errno, "mount a tmpfs on `%s`", path);
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		char host[64];
		snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]); /* fits: names of 6 bytes at most */
		if ((r = path_format(path, sizeof(path), err, "%s/dev/%s", root, dev_nodes[i])) < 0)
			return r;
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd >= 0)
			close(fd);
		if (mount(host, path, NULL, MS_BIND, NULL) < 0)
			return cvol_error_set(err, errno, "bind `%s` into the root", host);
	}
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },
		{ "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },
		{ "/proc/self/fd/2", "stderr" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		if ((r = path_format(path, sizeof(path), err, "%s/dev/%s", root, links[i][1])) < 0)
			return r;
		symlink(links[i][0], path);
	}
	return 0;
}

/* What runc keeps from a container's /proc: the kernel's knobs read-only, some files hidden. */
static const char *const proc_read_only[] = { "sys", "sysrq-trigger", "irq", "bus", "fs" };
static const char *const proc_masked[] = { "kcore",	    "keys",	   "timer_list", "sched_debug",
					   "latency_stats", "timer_stats", "acpi",	 "scsi" };

static int guard_proc(const char *proc, struct cvol_error *err)
{
	char path[4096];
	struct stat st;

	for (size_t i = 0; i < ARRAY_SIZE(proc_read_only); i++) {
		int r = path_format(path, sizeof(path), err, "%s/%s", proc, proc_read_only[i]);
		if (r < 0)
			return r;
		if (lstat(path, &st) < 0)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, path, NULL,
			  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return cvol_error_set(err, errno, "make `%s` read-only", path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_masked); i++) {
		int r = path_format(path, sizeof(path), err, "%s/%s", proc, proc_masked[i]);
		if (r < 0)
			return r;
		if (lstat(path, &st) < 0)
			continue;
		r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
					: mount("/dev/null", path, NULL, MS_BIND, NULL);
		if (r < 0)
			return cvol_error_set(err, errno, "hide `%s`", path);
	}
	return 0;
}

/* The capabilities Docker leaves a container; every other one is dropped before the exec. */
static const int kept_caps[] = {
	CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,	     CAP_FOWNER,
	CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,	     CAP_SETUID,
	CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	CAP_KILL,    CAP_AUDIT_WRITE,
};

static int drop_capabilities(struct cvol_error *err)
{
	uint64_t keep = 0;
	for (size_t i = 0; i < ARRAY_SIZE(kept_caps); i++)
		keep |= 1ULL << kept_caps[i];
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

/* The new root: private propagation, /proc, /dev, then pivot_root with the old root detached. */
static int enter_root(const char *root, struct cvol_error *err)
{
	char path[4096];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return cvol_error_set(err, errno, "make the mount namespace private");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cvol_error_set(err, errno, "bind `%s` on itself", root);
	/* device nodes of the image, or made in it, open nothing: only /dev's own binds do;
	 * recursive, so a mount under the root is nodev too */
	struct mount_attr nodev = { .attr_set = MOUNT_ATTR_NODEV };
	if (mount_setattr(AT_FDCWD, root, AT_RECURSIVE, &nodev, sizeof(nodev)) < 0)
		return cvol_error_set(err, errno, "make `%s` nodev", root);
	int r = path_format(path, sizeof(path), err, "%s/proc", root);
	if (r < 0)
		return r;
	mkdir(path, 0555);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return cvol_error_set(err, errno, "mount /proc in `%s`", root);
	r = guard_proc(path, err);
	if (r < 0)
		return r;
	r = mount_dev(root, err);
	if (r < 0)
		return r;
	if (chdir(root) < 0)
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
