/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unpack a layer tar (plain, gzip or zstd) into a layer's diff with libarchive. Every
 * path is opened beneath the layer root with openat2(RESOLVE_BENEATH): `..`, absolute
 * paths, symlinks out and hardlinks to files outside are refused, so nothing outside
 * the layer is ever written. OCI whiteouts become overlay whiteouts. */
#include "layers-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* A directory whose times are set once all its entries are in. */
struct dir_times {
	char *path;
	struct timespec times[2];
};

struct importer {
	struct archive *a;
	int rootfd;
	bool userxattr;
	struct dir_times *dirs;
	size_t n_dirs, cap_dirs;
	struct cvol_tar_stats stats;
};

/* The entry's path with "./" and leading "/" removed; -EPERM for a ".." component. */
static int clean_path(const char *raw, char *buf, size_t size)
{
	size_t len = 0;
	const char *p = raw;

	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EPERM;
		if (!(n == 1 && p[0] == '.')) {
			if (len + n + 2 > size)
				return -ENAMETOOLONG;
			if (len)
				buf[len++] = '/';
			memcpy(buf + len, p, n);
			len += n;
		}
		p += n;
	}
	buf[len] = '\0';
	return 0;
}

/* Open (making missing ones) the parent directories of an entry, beneath the root. */
static int open_parent(struct importer *im, const char *dir, const char *entry, struct cvol_error *err)
{
	if (!*dir) {
		int fd = fcntl(im->rootfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? cvol_error_set(err, errno, "open the layer root") : fd;
	}
	int fd = openat_confined(im->rootfd, dir, O_PATH | O_DIRECTORY, 0, 0);
	if (fd >= 0)
		return fd;
	if (fd == -EXDEV || fd == -ELOOP)
		return cvol_error_setx(
			err, EPERM, "entry `%s` would be written through a link that leads out of the layer",
			entry);
	if (fd != -ENOENT)
		return cvol_error_set(err, -fd, "open the directory of entry `%s`", entry);

	/* create the missing components one by one, each beneath the last */
	char part[PATH_MAX], *save = NULL;
	int cur = fcntl(im->rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return cvol_error_set(err, errno, "open the layer root");
	snprintf(part, sizeof(part), "%s", dir);
	for (char *comp = strtok_r(part, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
			int r = cvol_error_set(err, errno, "make the directories of entry `%s`", entry);
			close(cur);
			return r;
		}
		int next = openat_confined(cur, comp, O_PATH | O_DIRECTORY, 0, 0);
		close(cur);
		if (next == -EXDEV || next == -ELOOP)
			return cvol_error_setx(
				err, EPERM,
				"entry `%s` would be written through a link that leads out of the layer",
				entry);
		if (next < 0) /* e.g. a file where the entry needs a directory */
			return cvol_error_set(err, -next, "open the directories of entry `%s`", entry);
		cur = next;
	}
	return cur;
}

/* A later entry replaces an earlier one of the same name (tar order), but never a directory
 * by a directory. */
static int clear_name(int dirfd, const char *name, bool is_dir, const char *entry, struct cvol_error *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		if (is_dir)
			return 0;
		int r = dir_remove_tree(dirfd, name, err);
		return r < 0 ? cvol_error_wrap(err, r, "entry `%s`", entry) : 0;
	}
	if (unlinkat(dirfd, name, 0) < 0)
		return cvol_error_set(err, errno, "replace `%s`", entry);
	return 0;
}

/* Copy the entry's data blocks to @fd; *@ret_end is where the last one ended. */
static int write_data(struct importer *im, int fd, const char *entry, la_int64_t *ret_end,
		      struct cvol_error *err)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int ar;

	*ret_end = 0;
	while ((ar = archive_read_data_block(im->a, &buf, &size, &offset)) == ARCHIVE_OK) {
		const char *p = buf;
		while (size > 0) {
			ssize_t n = pwrite(fd, p, size, offset);
			if (n < 0)
				return cvol_error_set(err, errno, "write `%s`", entry);
			p += n;
			size -= (size_t)n;
			offset += n;
			im->stats.bytes += (uint64_t)n;
		}
		*ret_end = offset;
	}
	if (ar != ARCHIVE_EOF)
		return cvol_error_setx(err, EIO, "read `%s` from the archive: %s", entry,
				       archive_error_string(im->a));
	return 0;
}

static int apply_xattrs(struct archive_entry *e, int fd, const char *entry, struct cvol_error *err)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (cvol_whiteout_xattr_is_overlay(name))
			continue; /* overlay's own: only whiteout markers may set them */
		if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP)
			return cvol_error_set(err, errno, "set xattr `%s` on `%s`", name, entry);
	}
	return 0;
}

/* Owner, mode (after the owner, so that setuid bits stay), xattrs and times, on an fd. */
static int apply_metadata(struct archive_entry *e, int fd, const char *entry, bool times,
			  struct cvol_error *err)
{
	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return cvol_error_set(err, errno, "chown `%s`", entry);
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return cvol_error_set(err, errno, "chmod `%s`", entry);
	int r = apply_xattrs(e, fd, entry, err);
	if (r < 0 || !times)
		return r;
	struct timespec ts[2] = {
		{ archive_entry_atime(e), archive_entry_atime_nsec(e) },
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
	};
	if (!archive_entry_atime_is_set(e))
		ts[0] = ts[1];
	if (futimens(fd, ts) < 0)
		return cvol_error_set(err, errno, "set the times of `%s`", entry);
	return 0;
}

static int make_regular(struct importer *im, struct archive_entry *e, int dirfd, const char *name,
			const char *entry, struct cvol_error *err)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return -EEXIST; /* an earlier entry of the name: the caller replaces it */
	if (fd < 0)
		return cvol_error_set(err, errno, "create `%s`", entry);
	la_int64_t end;
	int r = write_data(im, fd, entry, &end, err);
	/* only a file that ends in a hole is short of its size (ftruncate is a journaled op on ext4) */
	if (r == 0 && end < archive_entry_size(e) && ftruncate(fd, archive_entry_size(e)) < 0)
		r = cvol_error_set(err, errno, "size `%s`", entry);
	if (r == 0)
		r = apply_metadata(e, fd, entry, true, err);
	return r;
}

static int remember_dir_times(struct importer *im, struct archive_entry *e, const char *path)
{
	if (im->n_dirs == im->cap_dirs) {
		size_t cap = im->cap_dirs ? im->cap_dirs * 2 : 64;
		struct dir_times *grown = realloc(im->dirs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		im->dirs = grown;
		im->cap_dirs = cap;
	}
	struct dir_times *d = &im->dirs[im->n_dirs];
	d->path = strdup(path);
	if (!d->path)
		return -ENOMEM;
	d->times[1] = (struct timespec){ archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
	d->times[0] = archive_entry_atime_is_set(e)
			      ? (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) }
			      : d->times[1];
	im->n_dirs++;
	return 0;
}

static int make_directory(struct importer *im, struct archive_entry *e, int dirfd, const char *name,
			  const char *path, struct cvol_error *err)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create directory `%s`", path);
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
		return -EEXIST; /* a file or symlink of the name: the caller replaces it */
	if (fd < 0)
		return cvol_error_set(err, errno, "open directory `%s`", path);
	int r = apply_metadata(e, fd, path, false, err);
	if (r == 0 && remember_dir_times(im, e, path) < 0)
		r = cvol_error_set(err, ENOMEM, "import `%s`", path);
	return r;
}

static int make_symlink(struct archive_entry *e, int dirfd, const char *name, const char *entry,
			struct cvol_error *err)
{
	const char *target = archive_entry_symlink(e);
	if (!target)
		return cvol_error_setx(err, EINVAL, "symlink `%s` has no target", entry);
	if (symlinkat(target, dirfd, name) < 0)
		return errno == EEXIST ? -EEXIST : cvol_error_set(err, errno, "create symlink `%s`", entry);
	if (fchownat(dirfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "chown `%s`", entry);
	struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
				  { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "set the times of `%s`", entry);
	return 0;
}

/* A hardlink may only point at a file this layer already holds. */
static int make_hardlink(struct importer *im, struct archive_entry *e, int dirfd, const char *name,
			 const char *entry, struct cvol_error *err)
{
	char target[PATH_MAX];
	const char *raw = archive_entry_hardlink(e);

	if (clean_path(raw, target, sizeof(target)) < 0 || !*target)
		return cvol_error_setx(err, EPERM, "hardlink `%s` points out of the layer, at `%s`", entry,
				       raw);
	int fd = openat_confined(im->rootfd, target, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return cvol_error_setx(err, EPERM,
				       "hardlink `%s` points at `%s`, which is not a file of the layer",
				       entry, raw);
	_cleanup_close_ int tfd = fd;
	struct stat st;
	if (fstat(tfd, &st) < 0 || S_ISDIR(st.st_mode))
		return cvol_error_setx(err, EPERM, "hardlink `%s` points at a directory", entry);
	if (linkat(tfd, "", dirfd, name, AT_EMPTY_PATH) < 0)
		return errno == EEXIST ? -EEXIST : cvol_error_set(err, errno, "create hardlink `%s`", entry);
	return 0;
}

static int make_node(struct archive_entry *e, int dirfd, const char *name, const char *entry,
		     struct cvol_error *err)
{
	mode_t type = archive_entry_filetype(e);
	dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	if (mknodat(dirfd, name, type | archive_entry_perm(e), type == AE_IFIFO ? 0 : dev) < 0)
		return errno == EEXIST ? -EEXIST
				       : cvol_error_set(err, errno, "create device node `%s`", entry);
	if (fchownat(dirfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "chown `%s`", entry);
	if (fchmodat(dirfd, name, archive_entry_perm(e), 0) < 0)
		return cvol_error_set(err, errno, "chmod `%s`", entry);
	struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
				  { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "set the times of `%s`", entry);
	return 0;
}

/* `.wh.NAME` and `.wh..wh..opq`: what they delete goes, and overlay's marker stays. */
static int apply_whiteout(struct importer *im, int dirfd, const char *base, const char *entry,
			  struct cvol_error *err)
{
	const char *target;

	if (cvol_whiteout_is_opaque_marker(base)) {
		_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		im->stats.whiteouts++;
		return fd < 0 ? cvol_error_set(err, errno, "open the directory of `%s`", entry)
			      : cvol_whiteout_make_opaque(fd, im->userxattr, err);
	}
	if (cvol_whiteout_target(base, &target) < 0)
		return cvol_error_setx(err, EPERM, "whiteout `%s` names no file of its directory", entry);
	int r = clear_name(dirfd, target, false, entry, err);
	if (r == 0)
		r = cvol_whiteout_make(dirfd, target, im->userxattr, err);
	im->stats.whiteouts++;
	return r;
}

/* Make the entry @base in @dirfd; -EEXIST (and no message) when the name is taken. */
static int make_entry(struct importer *im, struct archive_entry *e, int dirfd, const char *base,
		      const char *path, const char *raw, struct cvol_error *err)
{
	if (archive_entry_hardlink(e))
		return make_hardlink(im, e, dirfd, base, raw, err);
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return make_regular(im, e, dirfd, base, raw, err);
	case AE_IFDIR:
		return make_directory(im, e, dirfd, base, path, err);
	case AE_IFLNK:
		return make_symlink(e, dirfd, base, raw, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return make_node(e, dirfd, base, raw, err);
	}
	return cvol_error_setx(err, EINVAL, "entry `%s` has a type a layer cannot hold", raw);
}

static int import_entry(struct importer *im, struct archive_entry *e, struct cvol_error *err)
{
	char path[PATH_MAX];
	const char *raw = archive_entry_pathname(e);
	const char *target;

	if (!raw)
		return cvol_error_setx(err, EINVAL, "an entry has no name");
	int r = clean_path(raw, path, sizeof(path));
	if (r == -EPERM)
		return cvol_error_setx(err, EPERM, "entry `%s` escapes the layer", raw);
	if (r < 0)
		return cvol_error_setx(err, ENAMETOOLONG, "entry name `%.64s...` is too long", raw);
	if (!*path)
		return 0; /* the root itself: its owner and mode are the lower layers' */

	char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[PATH_MAX] = "";
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (strlen(base) > NAME_MAX)
		return cvol_error_setx(err, ENAMETOOLONG, "entry name `%.64s...` is too long", raw);

	_cleanup_close_ int dirfd = -1;
	int pfd = open_parent(im, dir, raw, err);
	if (pfd < 0)
		return pfd;
	/* O_PATH parents cannot take *at() creations: reopen readable */
	dirfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(pfd);
	if (dirfd < 0)
		return cvol_error_set(err, errno, "open the directory of `%s`", raw);

	if (cvol_whiteout_is_opaque_marker(base) || cvol_whiteout_target(base, &target) != 0)
		return apply_whiteout(im, dirfd, base, raw, err);

	/* Made first; only when the name is taken (an earlier entry) is it cleared and made again. */
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
	im->stats.entries++;
	r = make_entry(im, e, dirfd, base, path, raw, err);
	if (r == -EEXIST && (r = clear_name(dirfd, base, is_dir, raw, err)) == 0)
		r = make_entry(im, e, dirfd, base, path, raw, err);
	if (r == -EEXIST)
		return cvol_error_setx(err, EEXIST, "entry `%s`: the name is taken", raw);
	return r;
}

/* Directory times last: making their entries changed them. */
static int apply_dir_times(struct importer *im, struct cvol_error *err)
{
	for (size_t i = im->n_dirs; i > 0; i--) {
		struct dir_times *d = &im->dirs[i - 1];
		_cleanup_close_ int fd =
			openat_confined(im->rootfd, d->path, O_RDONLY | O_DIRECTORY, 0, RESOLVE_NO_SYMLINKS);
		if (fd < 0)
			continue; /* replaced by a later entry */
		if (futimens(fd, d->times) < 0)
			return cvol_error_set(err, errno, "set the times of `%s`", d->path);
	}
	return 0;
}

/* Unpack what @im->a (opened) holds, then set the directory times. */
static int import_archive(struct importer *im, struct cvol_error *err)
{
	struct archive_entry *e;
	int r = 0, ar;

	while ((ar = archive_read_next_header(im->a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		r = import_entry(im, e, err);
		if (r < 0)
			return r;
	}
	if (ar != ARCHIVE_EOF)
		return cvol_error_setx(err, EINVAL, "read the layer archive: %s",
				       archive_error_string(im->a));
	return apply_dir_times(im, err);
}

/* Open the archive from @fd, or through @read_cb when @fd < 0, and unpack it. */
static int import_from(int rootfd, int fd, archive_read_callback *read_cb, void *ctx, bool userxattr,
		       struct cvol_tar_stats *ret_stats, struct cvol_error *err)
{
	struct importer im = { .rootfd = rootfd, .userxattr = userxattr };
	int r;

	im.a = archive_read_new();
	if (!im.a)
		return cvol_error_set(err, ENOMEM, "read the layer archive");
	archive_read_support_filter_all(im.a);
	archive_read_support_format_tar(im.a);
	int ar = fd >= 0 ? archive_read_open_fd(im.a, fd, 128 * 1024)
			 : archive_read_open(im.a, ctx, NULL, read_cb, NULL);
	if (ar != ARCHIVE_OK)
		r = cvol_error_setx(err, EINVAL, "read the layer archive: %s", archive_error_string(im.a));
	else
		r = import_archive(&im, err);
	for (size_t i = 0; i < im.n_dirs; i++)
		free(im.dirs[i].path);
	free(im.dirs);
	archive_read_free(im.a);
	if (r == 0 && ret_stats)
		*ret_stats = im.stats;
	return r;
}

int tar_import(int rootfd, int archive_fd, bool userxattr, struct cvol_tar_stats *ret_stats,
	       struct cvol_error *err)
{
	return import_from(rootfd, archive_fd, NULL, NULL, userxattr, ret_stats, err);
}

int tar_import_read(int rootfd, archive_read_callback *read_cb, void *ctx, bool userxattr,
		    struct cvol_tar_stats *ret_stats, struct cvol_error *err)
{
	return import_from(rootfd, -1, read_cb, ctx, userxattr, ret_stats, err);
}
