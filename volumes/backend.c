/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What each backend does to prepare, mount and unmount a volume's _data. Mounts go
 * through libmount (which also sets up loop devices, with autoclear, so the device
 * goes away with the unmount); mkfs runs as a child, never through a shell. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <signal.h>
#include <libmount.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_DIR   "_data"
#define IMAGE_FILE "image"

extern char **environ;

bool volume_backend_needs_mount(const struct volume_opts *o)
{
	return o->backend != CVOL_BACKEND_DIR || o->ro;
}

/* Mount @source on @target through libmount; its message names what failed. */
static int libmount_mount(const char *source, const char *target, const char *fstype, const char *options,
			  struct cvol_error *err)
{
	struct libmnt_context *cxt = mnt_new_context();
	char msg[512] = "";

	if (!cxt)
		return cvol_error_set(err, ENOMEM, "mount `%s`", target);
	int rc = mnt_context_set_source(cxt, source);
	if (rc == 0)
		rc = mnt_context_set_target(cxt, target);
	if (rc == 0 && fstype)
		rc = mnt_context_set_fstype(cxt, fstype);
	if (rc == 0 && options && *options)
		rc = mnt_context_set_options(cxt, options);
	if (rc == 0)
		rc = mnt_context_mount(cxt);
	int syserr = mnt_context_get_syscall_errno(cxt);
	int ex = mnt_context_get_excode(cxt, rc, msg, sizeof(msg));
	mnt_free_context(cxt);
	if (ex == MNT_EX_SUCCESS)
		return 0;
	/* ENOENT would read as "no such volume": a missing source is the mount's failure */
	int code = syserr && syserr != ENOENT ? syserr : EIO;
	return cvol_error_setx(err, code, "mount %s `%s` on `%s`: %s", fstype ? fstype : "bind", source,
			       target, msg[0] ? msg : "failed");
}

/* Options for libmount: the user's `o`, then what cvol adds. */
static int build_options(const struct volume_opts *o, char *buf, size_t size)
{
	size_t len = 0;
	int n;

#define ADD(...)                                                                                             \
	do {                                                                                                 \
		n = snprintf(buf + len, size - len, "%s", len ? "," : "");                                   \
		len += (size_t)n;                                                                            \
		n = snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__);                           \
		if (n < 0 || (len += (size_t)n) >= size)                                                     \
			return -E2BIG;                                                                       \
	} while (0)

	buf[0] = '\0';
	if (o->o && *o->o)
		ADD("%s", o->o);
	if (o->backend == CVOL_BACKEND_LOOP)
		ADD("loop");
	if (o->backend == CVOL_BACKEND_BIND || (o->backend == CVOL_BACKEND_DIR && o->ro))
		ADD("bind");
	if (o->backend == CVOL_BACKEND_TMPFS && o->size)
		ADD("size=%llu", (unsigned long long)o->size);
	if (o->backend == CVOL_BACKEND_TMPFS && o->has_uid)
		ADD("uid=%u", (unsigned)o->uid);
	if (o->backend == CVOL_BACKEND_TMPFS && o->has_gid)
		ADD("gid=%u", (unsigned)o->gid);
	if (o->backend == CVOL_BACKEND_TMPFS && o->has_mode)
		ADD("mode=%o", (unsigned)o->mode);
	if (o->ro)
		ADD("ro");
#undef ADD
	return 0;
}

int volume_backend_mount(const char *dir, const struct volume_opts *o, struct cvol_error *err)
{
	char target[4096], image[4096], options[4096];
	const char *source = NULL, *fstype = NULL;

	snprintf(target, sizeof(target), "%s/" DATA_DIR, dir);
	if (build_options(o, options, sizeof(options)) < 0)
		return cvol_error_setx(err, E2BIG, "mount options for `%s` are too long", target);
	switch (o->backend) {
	case CVOL_BACKEND_DIR:
		source = target;
		break;
	case CVOL_BACKEND_BIND:
		source = o->device;
		break;
	case CVOL_BACKEND_TMPFS:
		source = "tmpfs";
		fstype = "tmpfs";
		break;
	case CVOL_BACKEND_LOOP:
		snprintf(image, sizeof(image), "%s/" IMAGE_FILE, dir);
		source = image;
		fstype = o->fs;
		break;
	case CVOL_BACKEND_MOUNT:
		source = o->device;
		fstype = o->type;
		break;
	}
	log_debug(CVOL_LOG_VOLUME, "mount %s `%s` on `%s` (%s)", fstype ? fstype : "bind", source,
		       target, options);
	return libmount_mount(source, target, fstype, options, err);
}

int volume_backend_umount(const char *dir, struct cvol_error *err)
{
	char target[4096];

	snprintf(target, sizeof(target), "%s/" DATA_DIR, dir);
	if (umount2(target, UMOUNT_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "unmount `%s`", target);
	return 0;
}

int volume_backend_apply_owner(const char *path, const struct volume_opts *o, struct cvol_error *err)
{
	if ((o->has_uid || o->has_gid) &&
	    chown(path, o->has_uid ? o->uid : (uid_t)-1, o->has_gid ? o->gid : (gid_t)-1) < 0)
		return cvol_error_set(err, errno, "chown `%s`", path);
	if (o->has_mode && chmod(path, o->mode) < 0)
		return cvol_error_set(err, errno, "chmod `%s`", path);
	return 0;
}

/* Run mkfs for @fs on @image; its own message on failure. */
static int run_mkfs(const char *fs, const char *image, struct cvol_error *err)
{
	char *const ext4[] = { "mkfs.ext4", "-q", "-F", "-m", "0", (char *)image, NULL };
	char *const xfs[] = { "mkfs.xfs", "-q", "-f", (char *)image, NULL };
	char *const *argv = strcmp(fs, "xfs") == 0 ? xfs : ext4;
	char out[512];
	int pipefd[2], status = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cvol_error_set(err, errno, "run %s", argv[0]);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE); /* the plugin ignores it and blocks SIGTERM: mkfs must not */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return cvol_error_set(err, r, "run %s (is %s installed?)", argv[0],
				      strcmp(fs, "xfs") == 0 ? "xfsprogs" : "e2fsprogs");
	}
	ssize_t n = read(pipefd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(pipefd[0]);
	pid_t waited;
	while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (waited < 0)
		return cvol_error_set(err, errno, "wait for %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) /* most often a size the fs cannot take */
		return cvol_error_setx(err, EINVAL, "%s failed: %s", argv[0], out[0] ? out : "no output");
	return 0;
}

/* A sparse image of the asked size with a fresh filesystem, owned as asked. */
static int prepare_loop_image(int dirfd, const char *dir, const struct volume_opts *o, struct cvol_error *err)
{
	char image[4096], data[4096];
	snprintf(image, sizeof(image), "%s/" IMAGE_FILE, dir);
	snprintf(data, sizeof(data), "%s/" DATA_DIR, dir);

	_cleanup_close_ int fd = openat(dirfd, IMAGE_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", image);
	if (ftruncate(fd, (off_t)o->size) < 0)
		return cvol_error_set(err, errno, "size `%s` to %llu bytes", image,
				      (unsigned long long)o->size);
	int r = run_mkfs(o->fs, image, err);
	if (r < 0 || !(o->has_uid || o->has_gid || o->has_mode))
		return r;
	struct volume_opts rw = *o;
	rw.ro = false;
	r = volume_backend_mount(dir, &rw, err);
	if (r < 0)
		return r;
	r = volume_backend_apply_owner(data, o, err);
	int ru = volume_backend_umount(dir, r < 0 ? NULL : err); /* the first error is the one told */
	return r < 0 ? r : ru;
}

int volume_backend_prepare(int dirfd, const char *dir, const struct volume_opts *o, struct cvol_error *err)
{
	char data[4096];
	struct stat st;

	snprintf(data, sizeof(data), "%s/" DATA_DIR, dir);
	if (mkdirat(dirfd, DATA_DIR, 0755) < 0)
		return cvol_error_set(err, errno, "create `%s`", data);
	switch (o->backend) {
	case CVOL_BACKEND_DIR:
		return volume_backend_apply_owner(data, o, err);
	case CVOL_BACKEND_BIND:
		if (o->create && mkdir(o->device, 0755) < 0 && errno != EEXIST)
			return cvol_error_set(err, errno, "create bind source `%s`", o->device);
		if (stat(o->device, &st) < 0 && errno == ENOENT)
			return cvol_error_setx(err, EINVAL,
					       "bind source `%s` does not exist (create=true makes it)",
					       o->device);
		if (stat(o->device, &st) < 0)
			return cvol_error_set(err, errno, "bind source `%s`", o->device);
		if (!S_ISDIR(st.st_mode))
			return cvol_error_setx(err, EINVAL, "bind source `%s` is not a directory", o->device);
		return volume_backend_apply_owner(o->device, o, err);
	case CVOL_BACKEND_LOOP:
		return prepare_loop_image(dirfd, dir, o, err);
	case CVOL_BACKEND_TMPFS:
	case CVOL_BACKEND_MOUNT:
		break;
	}
	return 0;
}
