/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fs.h"
#include "strv.h"
#include "walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

int openat_confined(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		/* O_TMPFILE includes O_DIRECTORY: test all its bits, or a plain O_DIRECTORY open gets EINVAL
		 */
		.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
		/* the kernel takes one of BENEATH and IN_ROOT, not both */
		.resolve =
			((resolve & RESOLVE_IN_ROOT) ? 0 : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS | resolve,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int openat_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat_confined(dirfd, path, flags, mode, 0);
}

int flock_retry(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int lock_file_take(int dirfd, const char *name, int how, struct cvol_error *err)
{
	for (;;) {
		int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return cvol_error_set(err, errno, "open lock `%s`", name);
		int r = flock_retry(fd, how);
		if (r < 0) {
			close(fd);
			return r == -EWOULDBLOCK && (how & LOCK_NB)
				       ? r
				       : cvol_error_set(err, -r, "lock `%s`", name);
		}
		/* The holder before us may have unlinked the file (lock_file_remove): a lock on a
		 * file no longer at @name locks nothing, so take the one there now. */
		struct stat held, linked;
		bool gone = false;
		if (fstat(fd, &held) < 0) {
			r = -errno;
		} else if (fstatat(dirfd, name, &linked, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				gone = true;
			else
				r = -errno;
		}
		if (r < 0) {
			close(fd);
			return cvol_error_set(err, -r, "lock `%s`", name);
		}
		if (!gone && held.st_dev == linked.st_dev && held.st_ino == linked.st_ino)
			return fd;
		close(fd);
	}
}

void lock_file_remove(int dirfd, const char *name, int fd)
{
	/* Unlinked while held: a waiter wakes on the unlinked file, sees it is not at @name any
	 * more, and takes a new one. */
	(void)unlinkat(dirfd, name, 0);
	close(fd);
}

int dir_fsync(int dirfd, struct cvol_error *err)
{
	if (fsync(dirfd) < 0)
		return cvol_error_set(err, errno, "fsync directory");
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int file_write_atomic(int dirfd, const char *name, const void *data, size_t len, struct cvol_error *err)
{
	return file_write_atomic_mode(dirfd, name, data, len, 0644, err);
}

int file_write_atomic_mode(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			   struct cvol_error *err)
{
	char tmp[256];
	int r;

	r = snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", name, (long)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return cvol_error_setx(err, ENAMETOOLONG, "file name `%s` too long", name);

	_cleanup_close_ int fd =
		openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", tmp);
	/* a private file must be private even when a temp file a crash left keeps its mode through
	 * O_TRUNC: set it before the data (others keep what the umask made) */
	r = !(mode & 077) && fchmod(fd, mode) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return cvol_error_set(err, -r, "write `%s`", name);
	}
	return dir_fsync(dirfd, err);
}

int file_write_new(int dirfd, const char *name, const void *data, size_t len, bool sync,
		   struct cvol_error *err)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", name);
	int r = write_all(fd, data, len);
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, name, 0);
		return cvol_error_set(err, -r, "write `%s`", name);
	}
	return 0;
}

int file_read_text(int dirfd, const char *name, char **ret_text, struct cvol_error *err)
{
	_cleanup_close_ int fd = openat_beneath(dirfd, name, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return cvol_error_set(err, -fd, "open `%s`", name);

	size_t cap = 256, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return cvol_error_set(err, ENOMEM, "read `%s`", name);
	for (;;) {
		if (len + 1 >= cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger)
				return cvol_error_set(err, ENOMEM, "read `%s`", name);
			buf = bigger;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cvol_error_set(err, errno, "read `%s`", name);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*ret_text = TAKE_PTR(buf);
	return 0;
}

bool is_mount_root(int dirfd, const char *path)
{
	struct statx stx;
	/* no sync: a network filesystem whose server does not answer must not hang the question */
	int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC | (*path ? 0 : AT_EMPTY_PATH);

	if (statx(dirfd, path, flags, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Tree removal: files as they come, a directory after its entries, never into another mount. */
static int remove_enter(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	const dev_t *dev = data;
	if (S_ISDIR(e->st->st_mode)) {
		/* A bind mount from the same filesystem has the same device: ask about mounts too. */
		if (e->st->st_dev != *dev || is_mount_root(e->dirfd, e->name))
			return cvol_error_setx(err, EBUSY, "`%s` is a mount point; not removing", e->path);
		return WALK_CONTINUE;
	}
	if (unlinkat(e->dirfd, e->name, 0) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove `%s`", e->path);
	return WALK_CONTINUE;
}

static int remove_leave(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	(void)data;
	if (unlinkat(e->dirfd, e->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove directory `%s`", e->path);
	return 0;
}

int dir_remove_tree(int dirfd, const char *name, struct cvol_error *err)
{
	/* in batches: a directory of a million entries from a container is never all in memory */
	static const struct walk_ops remove_ops = { .enter = remove_enter,
						    .leave = remove_leave,
						    .batch = 65536 };
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return errno == ENOENT ? 0 : cvol_error_set(err, errno, "stat `%s`", name);
	if (stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return cvol_error_setx(err, EBUSY, "`%s` is a mount point; not removing", name);
	if (!S_ISDIR(stx.stx_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return cvol_error_set(err, errno, "remove `%s`", name);
		return 0;
	}
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", name);
	dev_t dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	int r = tree_walk(fd, &remove_ops, &dev, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "remove `%s`", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove directory `%s`", name);
	return 0;
}

int dir_open_at(int dirfd, const char *name, bool create, struct cvol_error *err)
{
	if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s`", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? cvol_error_set(err, errno, "open `%s`", name) : fd;
}

int dir_open_store(const char *root, const char *sub, char **ret_path, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", root, sub) < 0)
		return cvol_error_set(err, ENOMEM, "open `%s/%s`", root, sub);
	int r = dir_create_parents(path, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *canonical = realpath(path, NULL);
	if (!canonical)
		return cvol_error_set(err, errno, "resolve `%s`", path);
	int fd = open(canonical, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", canonical);
	*ret_path = TAKE_PTR(canonical);
	return fd;
}

int dir_create_parents(const char *path, mode_t mode, struct cvol_error *err)
{
	if (*path == '\0') /* as mkdir(2); the loop below starts past the first byte */
		return cvol_error_set(err, ENOENT, "create directory `%s`", path);
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return cvol_error_set(err, ENOMEM, "create directory `%s`", path);

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return cvol_error_set(err, errno, "create directory `%s`", p);
		*s = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return cvol_error_set(err, errno, "stat `%s`", path);
	if (!S_ISDIR(st.st_mode))
		return cvol_error_setx(err, ENOTDIR, "`%s` is not a directory", path);
	return 0;
}

int path_format(char *buf, size_t size, struct cvol_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cvol_error_set(err, errno, "format a path");
	if ((size_t)n >= size)
		return cvol_error_setx(err, ENAMETOOLONG, "path `%s…` is too long (%d bytes, at most %zu)",
				       buf, n, size - 1);
	return 0;
}
