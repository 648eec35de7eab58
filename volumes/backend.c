/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of backends (sshfs in sshfs.c): what each one prepares, mounts, unmounts and reports
 * for a volume's _data. Mounts go through libmount (which also sets up loop devices, with
 * autoclear, so the device goes away with the unmount); mkfs runs as a child, never through a
 * shell. Owner and mode are set on an open directory, never through a path. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <signal.h>
#include <libmount.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/mount-opts.h"

extern char **environ;

/* ---- what is mounted: source, type and options ------------------------------------- */

/* Append the option @key (=@value) to @m's options; -E2BIG when they grow too long. */
static int add_option(struct volume_mount *m, const char *key, const char *value)
{
	return mount_opts_add(m->options, sizeof(m->options), &m->options_len, key, value);
}

static int add_number(struct volume_mount *m, const char *key, unsigned long long n, bool octal)
{
	char text[32];
	snprintf(text, sizeof(text), octal ? "%llo" : "%llu", n);
	return add_option(m, key, text);
}

/* The user's `o`, as given: a list of options for the filesystem. */
static int add_user_options(struct volume_mount *m, const struct volume_opts *o)
{
	return o->o && *o->o ? add_option(m, o->o, NULL) : 0;
}

/* `ro` last when asked for, and one message for options that do not fit. */
static int finish_options(const struct volume *v, struct volume_mount *m, int r, struct cvol_error *err)
{
	if (r == 0 && v->opts.ro)
		r = add_option(m, "ro", NULL);
	if (r < 0)
		return cvol_error_setx(err, E2BIG, "mount options for `%s` are too long", v->data);
	return 0;
}

/* A read-only dir volume is its own _data bound on itself, read-only. */
static int dir_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	*m = (struct volume_mount){ .source = v->data };
	return finish_options(v, m, add_option(m, "bind", NULL), err);
}

static int bind_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	*m = (struct volume_mount){ .source = v->opts.device };
	return finish_options(v, m, add_option(m, "bind", NULL), err);
}

static int tmpfs_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	const struct volume_opts *o = &v->opts;
	*m = (struct volume_mount){ .source = "tmpfs", .fstype = "tmpfs" };
	int r = add_user_options(m, o);
	if (r == 0 && o->size)
		r = add_number(m, "size", o->size, false);
	if (r == 0 && o->has_uid)
		r = add_number(m, "uid", o->uid, false);
	if (r == 0 && o->has_gid)
		r = add_number(m, "gid", o->gid, false);
	if (r == 0 && o->has_mode)
		r = add_number(m, "mode", o->mode, true);
	return finish_options(v, m, r, err);
}

/* <dir>/image: the one place its path is made. */
static int image_path(const struct volume *v, char buf[PATH_MAX], struct cvol_error *err)
{
	int n = snprintf(buf, PATH_MAX, "%s/" VOLUME_IMAGE_FILE, v->dir);
	if (n < 0 || n >= PATH_MAX)
		return cvol_error_setx(err, ENAMETOOLONG, "the image path of `%s` is too long", v->dir);
	return 0;
}

static int loop_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	*m = (struct volume_mount){ .source = m->source_buf, .fstype = v->opts.fs };
	int r = image_path(v, m->source_buf, err);
	if (r < 0)
		return r;
	return finish_options(v, m, add_option(m, "loop", NULL), err);
}

static int any_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	*m = (struct volume_mount){ .source = v->opts.device, .fstype = v->opts.type };
	return finish_options(v, m, add_user_options(m, &v->opts), err);
}

/* ---- mount and unmount ----------------------------------------------------------------- */

/* Mount @source (@shown in messages) on @target through libmount; its message names what failed. */
static int libmount_mount(const char *source, const char *shown, const char *target, const char *fstype,
			  const char *options, struct cvol_error *err)
{
	struct libmnt_context *cxt = mnt_new_context();
	char msg[512] = "";

	if (!cxt)
		return cvol_error_set(err, ENOMEM, "mount `%s`", target);
	/* a descriptor's path is used as it is: resolving it again would follow a path once more */
	int rc = strncmp(source, "/proc/self/fd/", 14) == 0 ? mnt_context_disable_canonicalize(cxt, 1) : 0;
	if (rc == 0)
		rc = mnt_context_set_source(cxt, source);
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
	return cvol_error_setx(err, code, "mount %s `%s` on `%s`: %s", fstype ? fstype : "bind", shown,
			       target, msg[0] ? msg : "failed");
}

/* Mount what the backend's mount_args() says on _data. */
static int mount_by_args(const struct volume *v, struct cvol_error *err)
{
	struct volume_mount m;
	int r = volume_mount_args_logged(v, &m, err);
	if (r < 0)
		return r;
	return libmount_mount(m.source, m.source, v->data, m.fstype, m.options, err);
}

int volume_staged_unmount(int dirfd, const char *name, unsigned char d_type, void *data,
			  struct cvol_error *err)
{
	char data_dir[PATH_MAX];
	(void)d_type;
	(void)data;
	(void)err;
	/* a create that died while its loop image was mounted to set its owner */
	snprintf(data_dir, sizeof(data_dir), "%s/" VOLUME_DATA_DIR, name);
	if (!is_mount_root(dirfd, data_dir))
		return 0;
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "/proc/self/fd/%d/%s", dirfd, data_dir) > 0)
		umount2(path, MNT_DETACH);
	return 0;
}

/* ---- owner and mode ---------------------------------------------------------------------- */

static bool wants_owner(const struct volume_opts *o)
{
	return o->has_uid || o->has_gid || o->has_mode;
}

/* Apply uid/gid/mode to the open directory @fd (@path names it in messages). */
static int set_owner(int fd, const char *path, const struct volume_opts *o, struct cvol_error *err)
{
	if ((o->has_uid || o->has_gid) &&
	    fchown(fd, o->has_uid ? o->uid : (uid_t)-1, o->has_gid ? o->gid : (gid_t)-1) < 0)
		return cvol_error_set(err, errno, "chown `%s`", path);
	if (o->has_mode && fchmod(fd, o->mode) < 0)
		return cvol_error_set(err, errno, "chmod `%s`", path);
	return 0;
}

/* Apply uid/gid/mode to _data (or the root of what is mounted on it). */
static int set_data_owner(const struct volume *v, struct cvol_error *err)
{
	if (!wants_owner(&v->opts))
		return 0;
	_cleanup_close_ int fd =
		openat(v->dirfd, VOLUME_DATA_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", v->data);
	return set_owner(fd, v->data, &v->opts, err);
}

/* ---- prepare ------------------------------------------------------------------------------- */

static int dir_prepare(const struct volume *v, struct cvol_error *err)
{
	int r = volume_make_data(v, err);
	return r < 0 ? r : set_data_owner(v, err);
}

/* Make the bind source for create=true: its parent opened without symlinks, then mkdirat. */
static int make_bind_source(int host_root_fd, const char *device, struct cvol_error *err)
{
	_cleanup_free_ char *parent = strdup(device);
	if (!parent)
		return cvol_error_set(err, ENOMEM, "create bind source `%s`", device);
	size_t len = strlen(parent);
	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = '\0';
	char *slash = strrchr(parent, '/'), *base = slash + 1;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return 0; /* "/" or a dot name: nothing to make, the open says what is there */
	*slash = '\0';
	_cleanup_close_ int fd =
		volume_open_host_path(host_root_fd, slash == parent ? "/" : parent, O_PATH | O_DIRECTORY);
	if (fd == -ELOOP)
		return cvol_error_setx(err, EINVAL,
				       "bind source `%s` goes through a symlink; give the path without one",
				       device);
	if (fd < 0 || (mkdirat(fd, base, 0755) < 0 && errno != EEXIST))
		return cvol_error_set(err, fd < 0 ? -fd : errno, "create bind source `%s`", device);
	return 0;
}

/* Open the bind source (made first with create=true): a directory, reached through no symlink,
 * so neither its owner nor what is mounted can be sent elsewhere by one. */
static int open_bind_source(const struct volume *v, bool create, struct cvol_error *err)
{
	const struct volume_opts *o = &v->opts;
	if (create && o->create) {
		int r = make_bind_source(v->host_root_fd, o->device, err);
		if (r < 0)
			return r;
	}
	int fd = volume_open_host_path(v->host_root_fd, o->device, O_RDONLY | O_DIRECTORY);
	if (fd >= 0)
		return fd;
	if (fd == -ELOOP)
		return cvol_error_setx(
			err, EINVAL,
			"bind source `%s` is or goes through a symlink; give the path without one",
			o->device);
	if (fd == -ENOENT)
		return cvol_error_setx(err, EINVAL, "bind source `%s` does not exist (create=true makes it)",
				       o->device);
	if (fd == -ENOTDIR)
		return cvol_error_setx(err, EINVAL, "bind source `%s` is not a directory", o->device);
	return cvol_error_set(err, -fd, "bind source `%s`", o->device);
}

/* The host directory keeps its owner and mode unless uid=, gid= or mode= ask for others. */
static int bind_prepare(const struct volume *v, struct cvol_error *err)
{
	int r = volume_make_data(v, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_bind_source(v, true, err);
	if (fd < 0)
		return fd;
	return set_owner(fd, v->opts.device, &v->opts, err);
}

/* Bind the source by the descriptor opened without symlinks, never by its path again. */
static int bind_mount(const struct volume *v, struct cvol_error *err)
{
	struct volume_mount m;
	int r = v->ops->mount_args(v, &m, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_bind_source(v, false, err);
	if (fd < 0)
		return fd;
	snprintf(m.source_buf, sizeof(m.source_buf), "/proc/self/fd/%d", fd);
	log_debug(CVOL_LOG_VOLUME, "mount bind `%s` (%s) on `%s` (%s)", v->opts.device, m.source_buf, v->data,
		  m.options);
	return libmount_mount(m.source_buf, v->opts.device, v->data, NULL, m.options, err);
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

/* Mount the fresh image read-write, set the owner of its root, unmount. */
static int loop_set_owner(const struct volume *v, struct cvol_error *err)
{
	struct volume rw = *v;
	struct cvol_error umount_err;

	rw.opts.ro = false;
	int r = mount_by_args(&rw, err);
	if (r < 0)
		return r;
	r = set_data_owner(v, err);
	if (volume_unmount_data(v, &umount_err) < 0 && r == 0) {
		*err = umount_err;
		r = -umount_err.code;
	}
	return r;
}

/* A sparse image of the asked size with a fresh filesystem, owned as asked. */
static int loop_prepare(const struct volume *v, struct cvol_error *err)
{
	char image[PATH_MAX];
	int r = volume_make_data(v, err);
	if (r == 0)
		r = image_path(v, image, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
		openat(v->dirfd, VOLUME_IMAGE_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", image);
	if (ftruncate(fd, (off_t)v->opts.size) < 0)
		return cvol_error_set(err, errno, "size `%s` to %llu bytes", image,
				      (unsigned long long)v->opts.size);
	r = run_mkfs(v->opts.fs, image, err);
	if (r < 0 || !wants_owner(&v->opts))
		return r;
	return loop_set_owner(v, err);
}

/* ---- mount with an owner ------------------------------------------------------------------- */

/* Any filesystem: mounted, then its root owned as asked (unmounted again when that fails). */
static int any_mount(const struct volume *v, struct cvol_error *err)
{
	int r = mount_by_args(v, err);
	if (r == 0 && (r = set_data_owner(v, err)) < 0)
		volume_unmount_data(v, NULL);
	return r;
}

/* ---- usage ----------------------------------------------------------------------------------- */

/* What the filesystem on _data holds; false when it cannot tell. */
static bool fs_usage(const struct volume *v, uint64_t *ret_size, uint64_t *ret_used)
{
	struct statvfs sv;
	_cleanup_close_ int fd =
		openat(v->dirfd, VOLUME_DATA_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstatvfs(fd, &sv) < 0)
		return false;
	*ret_size = (uint64_t)sv.f_blocks * sv.f_frsize;
	*ret_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	return true;
}

static void dir_usage(const struct volume *v, bool mounted, uint64_t *ret_size, uint64_t *ret_used)
{
	(void)mounted;
	(void)fs_usage(v, ret_size, ret_used);
}

static void mounted_usage(const struct volume *v, bool mounted, uint64_t *ret_size, uint64_t *ret_used)
{
	if (mounted)
		(void)fs_usage(v, ret_size, ret_used);
}

/* Mounted: the filesystem's numbers; not: the image's size and the blocks it takes. */
static void loop_usage(const struct volume *v, bool mounted, uint64_t *ret_size, uint64_t *ret_used)
{
	struct stat st;
	if (mounted && fs_usage(v, ret_size, ret_used))
		return;
	if (fstatat(v->dirfd, VOLUME_IMAGE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		*ret_size = (uint64_t)st.st_size;
		*ret_used = (uint64_t)st.st_blocks * 512;
	}
}

/* ---- network filesystems ------------------------------------------------------------------ */

/* The filesystem types whose data is on a server (or, for FUSE, behind a daemon that may go). */
static bool any_is_remote(const struct volume_opts *o)
{
	static const char *const remote[] = { "nfs", "nfs4",	  "cifs",   "smb3",  "smbfs", "ceph",
					      "9p",  "glusterfs", "lustre", "davfs", "afs",   "fuse" };
	if (!o->type)
		return false;
	if (strncmp(o->type, "fuse.", 5) == 0) /* sshfs, s3fs, rclone...: a daemon that may go */
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(remote); i++)
		if (strcmp(o->type, remote[i]) == 0)
			return true;
	return false;
}

/* A network mount is detached lazily: its server may not answer; a local one is unmounted. */
static int any_unmount(const struct volume *v, struct cvol_error *err)
{
	return any_is_remote(&v->opts) ? volume_detach_data(v, err) : volume_unmount_data(v, err);
}

/* ---- the table ------------------------------------------------------------------------------- */

static bool dir_needs_mount(const struct volume_opts *o)
{
	return o->ro;
}

static bool local(const struct volume_opts *o)
{
	(void)o;
	return false;
}

static const struct volume_backend_ops dir_ops = {
	.name = "dir",
	.needs_mount = dir_needs_mount,
	.prepare = dir_prepare,
	.mount_args = dir_mount_args,
	.mount = mount_by_args,
	.unmount = volume_unmount_data,
	.usage = dir_usage,
	.is_remote = local,
	.kill_daemon = volume_no_daemon,
};

static const struct volume_backend_ops bind_ops = {
	.name = "bind",
	.needs_mount = volume_always_mounted,
	.prepare = bind_prepare,
	.mount_args = bind_mount_args,
	.mount = bind_mount,
	.unmount = volume_unmount_data,
	.usage = mounted_usage,
	.is_remote = local,
	.kill_daemon = volume_no_daemon,
};

static const struct volume_backend_ops tmpfs_ops = {
	.name = "tmpfs",
	.needs_mount = volume_always_mounted,
	.prepare = volume_make_data,
	.mount_args = tmpfs_mount_args,
	.mount = mount_by_args,
	.unmount = volume_unmount_data,
	.usage = mounted_usage,
	.is_remote = local,
	.kill_daemon = volume_no_daemon,
};

static const struct volume_backend_ops loop_ops = {
	.name = "loop",
	.needs_mount = volume_always_mounted,
	.prepare = loop_prepare,
	.mount_args = loop_mount_args,
	.mount = mount_by_args,
	.unmount = volume_unmount_data,
	.usage = loop_usage,
	.is_remote = local,
	.kill_daemon = volume_no_daemon,
};

static const struct volume_backend_ops mount_ops = {
	.name = "mount",
	.needs_mount = volume_always_mounted,
	.prepare = volume_make_data,
	.mount_args = any_mount_args,
	.mount = any_mount,
	.unmount = any_unmount,
	.usage = mounted_usage,
	.is_remote = any_is_remote,
	.kill_daemon = volume_no_daemon,
};

static const struct volume_backend_ops *const backends[] = {
	[CVOL_BACKEND_DIR] = &dir_ops,	   [CVOL_BACKEND_BIND] = &bind_ops,
	[CVOL_BACKEND_TMPFS] = &tmpfs_ops, [CVOL_BACKEND_LOOP] = &loop_ops,
	[CVOL_BACKEND_MOUNT] = &mount_ops, [CVOL_BACKEND_SSHFS] = &volume_sshfs_ops,
};

const struct volume_backend_ops *volume_backend_ops(enum cvol_volume_backend backend)
{
	return (size_t)backend < ARRAY_SIZE(backends) ? backends[backend] : NULL;
}

const char *cvol_volume_backend_name(enum cvol_volume_backend backend)
{
	const struct volume_backend_ops *ops = volume_backend_ops(backend);
	return ops ? ops->name : "?";
}
