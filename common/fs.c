/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fs.h"
#include "strv.h"

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
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
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
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "open lock `%s`", name);
	int r = flock_retry(fd, how);
	if (r < 0) {
		close(fd);
		return r == -EWOULDBLOCK && (how & LOCK_NB) ? r : cvol_error_set(err, -r, "lock `%s`", name);
	}
	return fd;
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
	char tmp[256];
	int r;

	r = snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", name, (long)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return cvol_error_setx(err, ENAMETOOLONG, "file name `%s` too long", name);

	_cleanup_close_ int fd =
		openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", tmp);
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
	int flags = AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH);

	if (statx(dirfd, path, flags, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int remove_children(int dfd, dev_t dev, struct cvol_error *err);

static int remove_entry(int dirfd, const char *name, dev_t dev, struct cvol_error *err)
{
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
		return errno == ENOENT ? 0 : cvol_error_set(err, errno, "stat `%s`", name);
	if (S_ISDIR(stx.stx_mode)) {
		/* A bind mount from the same filesystem has the same device: ask about mounts too. */
		if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev ||
		    (stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
			return cvol_error_setx(err, EBUSY, "`%s` is a mount point; not removing", name);
		_cleanup_close_ int cfd =
			openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			return cvol_error_set(err, errno, "open `%s`", name);
		int r = remove_children(cfd, dev, err);
		if (r < 0)
			return cvol_error_wrap(err, r, "remove `%s`", name);
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return cvol_error_set(err, errno, "remove directory `%s`", name);
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove `%s`", name);
	return 0;
}

struct remove_ctx {
	dev_t dev;
};

static int remove_child(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	(void)d_type;
	return remove_entry(dirfd, name, ((struct remove_ctx *)data)->dev, err);
}

static int remove_children(int dfd, dev_t dev, struct cvol_error *err)
{
	struct remove_ctx ctx = { .dev = dev };
	return dir_for_each(dfd, remove_child, &ctx, err);
}

int dir_for_each(int dirfd, dir_entry_fn fn, void *data, struct cvol_error *err)
{
	/* A new open file description: a dup would share its offset with every other walk. */
	int walkfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (walkfd < 0)
		return cvol_error_set(err, errno, "read directory");
	DIR *d = fdopendir(walkfd);
	if (!d) {
		close(walkfd);
		return cvol_error_set(err, errno, "read directory");
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = fn(dirfd, de->d_name, de->d_type, data, err);
	closedir(d);
	return r;
}

int dir_remove_tree(int dirfd, const char *name, struct cvol_error *err)
{
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return errno == ENOENT ? 0 : cvol_error_set(err, errno, "stat `%s`", name);
	if (stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return cvol_error_setx(err, EBUSY, "`%s` is a mount point; not removing", name);
	return remove_entry(dirfd, name, makedev(stx.stx_dev_major, stx.stx_dev_minor), err);
}

struct name_vector {
	char **v;
	size_t n, cap;
};

static int add_to_vector(int dirfd, const char *name, unsigned char d_type, void *data,
			 struct cvol_error *err)
{
	struct name_vector *nv = data;
	(void)dirfd;
	(void)d_type;
	if (nv->n + 2 > nv->cap) {
		size_t cap = nv->cap ? nv->cap * 2 : 16;
		char **grown = realloc(nv->v, cap * sizeof(char *));
		if (!grown)
			return cvol_error_set(err, ENOMEM, "list a directory");
		nv->v = grown;
		nv->cap = cap;
	}
	if (!(nv->v[nv->n] = strdup(name)))
		return cvol_error_set(err, ENOMEM, "list a directory");
	nv->v[++nv->n] = NULL;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_list_sorted(int dirfd, char ***ret_names, struct cvol_error *err)
{
	struct name_vector nv = { 0 };
	int r = dir_for_each(dirfd, add_to_vector, &nv, err);
	if (r == 0 && !nv.v && !(nv.v = calloc(1, sizeof(char *))))
		r = cvol_error_set(err, ENOMEM, "list a directory");
	if (r < 0) {
		cvol_strv_free(nv.v);
		return r;
	}
	if (nv.n > 1)
		qsort(nv.v, nv.n, sizeof(char *), compare_names);
	*ret_names = nv.v;
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
