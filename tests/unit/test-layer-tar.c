/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer tars both ways (layers/tar-import.c, tar-export.c): a tar built here with libarchive is
 * imported into an empty directory, checked entry by entry, exported, imported again, and
 * the two trees compared. In a fresh directory under /tmp; what needs root skips without. */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../layers/layers-internal.h"

/* ---- tars: a layer in, out, and in again ------------------------------------------------ */

struct tar_entry {
	const char *path;
	mode_t type; /* AE_IF*, 0 for a hardlink */
	mode_t perm;
	unsigned uid, gid;
	time_t mtime;
	long mtime_nsec;
	const char *data; /* regular files */
	const char *link; /* symlink target or hardlink target */
	unsigned rmajor, rminor;
	const char *xattr; /* "name=value" */
};

#define FILE_MTIME 1000000000 /* 2001-09-09 */
#define DIR_MTIME  1111111111
#define SUB_MTIME  1222222222

/* The layer of the round trip: every kind of entry a layer holds. */
static const struct tar_entry layer_entries[] = {
	{ "./", AE_IFDIR, 0700, 0, 0, DIR_MTIME, 0, NULL, NULL, 0, 0, NULL },
	{ "./file", AE_IFREG, 0640, 1000, 1000, FILE_MTIME, 250000000, "hello, layer\n", NULL, 0, 0,
	  "user.test=some value" },
	{ "./setuid", AE_IFREG, 04755, 0, 0, FILE_MTIME, 0, "#!/bin/sh\n", NULL, 0, 0, NULL },
	{ "./setgid-user", AE_IFREG, 02750, 1000, 50, FILE_MTIME, 0, "x", NULL, 0, 0, NULL },
	{ "./dir/", AE_IFDIR, 0750, 1001, 1002, DIR_MTIME, 0, NULL, NULL, 0, 0, NULL },
	{ "./dir/.wh..wh..opq", AE_IFREG, 0600, 0, 0, DIR_MTIME, 0, "", NULL, 0, 0, NULL },
	{ "./dir/inner", AE_IFREG, 0600, 0, 0, FILE_MTIME, 0, "inner\n", NULL, 0, 0, NULL },
	{ "./dir/sub/", AE_IFDIR, 01777, 0, 0, SUB_MTIME, 0, NULL, NULL, 0, 0, NULL },
	{ "./dir/sub/.wh.old", AE_IFREG, 0600, 0, 0, SUB_MTIME, 0, "", NULL, 0, 0, NULL },
	{ "./link", AE_IFLNK, 0777, 1000, 1000, FILE_MTIME, 0, NULL, "dir/inner", 0, 0, NULL },
	{ "./hard", 0, 0640, 1000, 1000, FILE_MTIME, 250000000, NULL, "./file", 0, 0, NULL },
	{ "./fifo", AE_IFIFO, 0640, 0, 0, FILE_MTIME, 0, NULL, NULL, 0, 0, NULL },
	{ "./null", AE_IFCHR, 0666, 0, 0, FILE_MTIME, 0, NULL, NULL, 1, 3, NULL },
	{ "./.wh.gone", AE_IFREG, 0600, 0, 0, FILE_MTIME, 0, "", NULL, 0, 0, NULL },
};

static void write_tar(int dirfd, const char *name, const struct tar_entry *entries, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_non_null(a);
	assert_non_null(e);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct tar_entry *t = &entries[i];
		size_t size = t->data ? strlen(t->data) : 0;
		archive_entry_clear(e);
		archive_entry_set_pathname(e, t->path);
		archive_entry_set_perm(e, t->perm);
		archive_entry_set_uid(e, t->uid);
		archive_entry_set_gid(e, t->gid);
		archive_entry_set_mtime(e, t->mtime, t->mtime_nsec);
		if (t->type == 0) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, t->link);
		} else {
			archive_entry_set_filetype(e, t->type);
		}
		if (t->type == AE_IFLNK)
			archive_entry_set_symlink(e, t->link);
		if (t->type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(t->rmajor, t->rminor));
		archive_entry_set_size(e, (la_int64_t)size);
		if (t->xattr) {
			const char *eq = strchr(t->xattr, '=');
			char xname[64];
			snprintf(xname, sizeof(xname), "%.*s", (int)(eq - t->xattr), t->xattr);
			archive_entry_xattr_add_entry(e, xname, eq + 1, strlen(eq + 1));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (size)
			assert_int_equal(archive_write_data(a, t->data, size), (la_ssize_t)size);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	close(fd);
}

/* Import the tar @name (in @dirfd) into the new directory @into; returns a fd on it. */
static int import_into(int dirfd, const char *name, const char *into, struct cvol_tar_stats *ret_stats)
{
	struct cvol_error err = { 0 };
	int root = unit_make_dir(dirfd, into);
	int tar = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(tar >= 0);
	int r = tar_import(root, tar, false, ret_stats, &err);
	if (r < 0)
		fail_msg("import `%s`: %s", name, err.msg);
	close(tar);
	return root;
}

static void export_to(int rootfd, int dirfd, const char *name)
{
	struct cvol_error err = { 0 };
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	if (tar_export(rootfd, fd, &err) < 0)
		fail_msg("export `%s`: %s", name, err.msg);
	close(fd);
}

static struct stat lstat_at(int dirfd, const char *path)
{
	struct stat st;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fail_msg("lstat `%s`: %s", path, strerror(errno));
	return st;
}

static void assert_content(int dirfd, const char *path, const char *text)
{
	char buf[256];
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

/* The xattr @name of @path, as a string ("" when absent). */
static const char *xattr_of(int dirfd, const char *path, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = fgetxattr(fd, name, buf, size - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* Everything the import of layer_entries must have made. */
static void check_layer(int root, const char *what)
{
	char buf[64], target[64];
	struct stat st, st2;

	print_message("checking the %s\n", what);
	st = lstat_at(root, "file");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	assert_int_equal(st.st_mtim.tv_sec, FILE_MTIME);
	assert_int_equal(st.st_mtim.tv_nsec, 250000000);
	assert_int_equal(st.st_nlink, 2);
	assert_content(root, "file", "hello, layer\n");
	assert_string_equal(xattr_of(root, "file", "user.test", buf, sizeof(buf)), "some value");

	st2 = lstat_at(root, "hard");
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_dev, st.st_dev);

	st = lstat_at(root, "setuid");
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(st.st_uid, 0);
	assert_content(root, "setuid", "#!/bin/sh\n");
	st = lstat_at(root, "setgid-user");
	assert_int_equal(st.st_mode & 07777, 02750);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 50);

	st = lstat_at(root, "dir");
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 1001);
	assert_int_equal(st.st_gid, 1002);
	assert_int_equal(st.st_mtim.tv_sec, DIR_MTIME);
	assert_string_equal(xattr_of(root, "dir", "trusted.overlay.opaque", buf, sizeof(buf)), "y");
	int dir = openat(root, "dir", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	assert_true(cvol_whiteout_dir_is_opaque(dir));
	close(dir);
	assert_int_equal(faccessat(root, "dir/.wh..wh..opq", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_content(root, "dir/inner", "inner\n");

	st = lstat_at(root, "dir/sub");
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_int_equal(st.st_mtim.tv_sec, SUB_MTIME); /* after the whiteout made in it */
	st = lstat_at(root, "dir/sub/old");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_int_equal(faccessat(root, "dir/sub/.wh.old", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	st = lstat_at(root, "link");
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mtim.tv_sec, FILE_MTIME);
	ssize_t n = readlinkat(root, "link", target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "dir/inner");

	st = lstat_at(root, "fifo");
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_mtim.tv_sec, FILE_MTIME);

	st = lstat_at(root, "null");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(st.st_mtim.tv_sec, FILE_MTIME);

	st = lstat_at(root, "gone");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_true(cvol_whiteout_is(root, "gone", &st));
	assert_int_equal(faccessat(root, ".wh.gone", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

/* One line per entry of the tree under @dirfd, sorted by path: what must survive a round trip. */
struct listing {
	char text[8192];
	size_t len;
	struct {
		dev_t dev;
		ino_t ino;
		char path[128];
	} seen[32]; /* the first name of each inode with more than one */
	size_t n_seen;
};

static void append(struct listing *l, const char *fmt, ...) _printf_(2, 3);
static void append(struct listing *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	l->len += (size_t)vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	assert_true(l->len < sizeof(l->text));
}

/* Xattrs as " name=value", then " data=..." for a regular file (newlines as `|`). */
static void append_xattrs_and_data(struct listing *l, int dirfd, const char *name, bool regular)
{
	char names[512], value[256];
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t len = flistxattr(fd, names, sizeof(names));
	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
		ssize_t n = fgetxattr(fd, names + off, value, sizeof(value) - 1);
		assert_true(n >= 0);
		value[n] = '\0';
		append(l, " %s=%s", names + off, value);
	}
	if (regular) {
		ssize_t n = read(fd, value, sizeof(value) - 1);
		assert_true(n >= 0);
		value[n] = '\0';
		for (char *p = value; *p; p++)
			if (*p == '\n')
				*p = '|';
		append(l, " data=%s", value);
	}
	close(fd);
}

/* " same-inode-as=FIRST" for a later name of an inode seen before. */
static void append_hardlink(struct listing *l, const struct stat *st, const char *path)
{
	for (size_t k = 0; k < l->n_seen; k++)
		if (l->seen[k].dev == st->st_dev && l->seen[k].ino == st->st_ino) {
			append(l, " same-inode-as=%s", l->seen[k].path);
			return;
		}
	assert_true(l->n_seen < ARRAY_SIZE(l->seen));
	l->seen[l->n_seen].dev = st->st_dev;
	l->seen[l->n_seen].ino = st->st_ino;
	snprintf(l->seen[l->n_seen].path, sizeof(l->seen[0].path), "%s", path);
	l->n_seen++;
}

static void list_entry(struct listing *l, int dirfd, const char *name, const char *path)
{
	struct stat st = lstat_at(dirfd, name);
	bool whiteout = cvol_whiteout_is(dirfd, name, &st);

	/* a whiteout's own times are not carried by its OCI form */
	append(l, "%s%s mode=%o uid=%u gid=%u size=%lld rdev=%u:%u nlink=%lu mtime=%lld.%09ld", path,
	       whiteout ? " whiteout" : "", (unsigned)st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
	       major(st.st_rdev), minor(st.st_rdev), (unsigned long)st.st_nlink,
	       whiteout ? 0LL : (long long)st.st_mtim.tv_sec, whiteout ? 0L : st.st_mtim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		char target[128];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		assert_true(n >= 0);
		target[n] = '\0';
		append(l, " -> %s", target);
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		append_xattrs_and_data(l, dirfd, name, S_ISREG(st.st_mode));
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		append_hardlink(l, &st, path);
	append(l, "\n");
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void list_tree(struct listing *l, int dirfd, const char *dir)
{
	struct dirent **names;
	char path[128];
	int n = scandirat(dirfd, ".", &names, NULL, compare_names);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		struct stat st;
		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			int len = snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", name);
			assert_true(len < (int)sizeof(path));
			list_entry(l, dirfd, name, path);
			st = lstat_at(dirfd, name);
			if (S_ISDIR(st.st_mode)) {
				int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				assert_true(fd >= 0);
				list_tree(l, fd, path);
				close(fd);
			}
		}
		free(names[i]);
	}
	free(names);
}

static void test_import(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_tar_stats stats = { 0 };

	unit_require_root("mknod, chown, trusted.* xattrs");
	write_tar(f->fd, "layer.tar", layer_entries, ARRAY_SIZE(layer_entries));
	int a = import_into(f->fd, "layer.tar", "a", &stats);
	check_layer(a, "import");
	/* made: file setuid setgid-user dir dir/inner dir/sub link hard fifo null */
	assert_int_equal(stats.entries, 10);
	assert_int_equal(stats.whiteouts, 3);
	assert_int_equal(stats.bytes,
			 strlen("hello, layer\n") + strlen("#!/bin/sh\n") + 1 + strlen("inner\n"));
	close(a);
}

static void test_round_trip(void **state)
{
	struct unit_dir *f = *state;

	unit_require_root("mknod, chown, trusted.* xattrs");
	struct listing *la = calloc(1, sizeof(*la)), *lb = calloc(1, sizeof(*lb));
	assert_true(la && lb);
	write_tar(f->fd, "layer.tar", layer_entries, ARRAY_SIZE(layer_entries));
	int a = import_into(f->fd, "layer.tar", "a", NULL);
	export_to(a, f->fd, "export.tar");
	int b = import_into(f->fd, "export.tar", "b", NULL);
	check_layer(b, "import of the export");

	list_tree(la, a, "");
	list_tree(lb, b, "");
	assert_contains(la->text, "dir mode=40750 uid=1001 gid=1002");
	assert_contains(la->text, "trusted.overlay.opaque=y");
	assert_contains(la->text, "\nhard mode=100640 uid=1000 gid=1000 size=13");
	assert_contains(la->text, "same-inode-as=file\n");
	assert_contains(la->text, "\ngone whiteout mode=20000");
	assert_string_equal(la->text, lb->text);

	close(a);
	close(b);
	free(la);
	free(lb);
}

/* The export names whiteouts as OCI does and keeps overlay's xattrs out of the tar. */
static void test_export_names(void **state)
{
	struct unit_dir *f = *state;
	struct archive_entry *e;
	char seen[1024] = "";

	unit_require_root("mknod, chown, trusted.* xattrs");
	write_tar(f->fd, "layer.tar", layer_entries, ARRAY_SIZE(layer_entries));
	int a = import_into(f->fd, "layer.tar", "a", NULL);
	export_to(a, f->fd, "export.tar");
	close(a);

	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	int fd = openat(f->fd, "export.tar", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(archive_read_open_fd(ar, fd, 10240), ARCHIVE_OK);
	while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		const char *name, *hl = archive_entry_hardlink(e);
		const void *value;
		size_t size;
		size_t len = strlen(seen);
		snprintf(seen + len, sizeof(seen) - len, "%s%s%s ", archive_entry_pathname(e), hl ? "=>" : "",
			 hl ? hl : "");
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
			assert_false(cvol_whiteout_xattr_is_overlay(name));
	}
	archive_read_free(ar);
	close(fd);
	assert_string_equal(seen,
			    "dir/ dir/.wh..wh..opq dir/inner dir/sub/ dir/sub/.wh.old fifo file .wh.gone "
			    "hard=>file link null setgid-user setuid ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_export_names, unit_dir_setup, unit_dir_teardown),
	};
	return cmocka_run_group_tests_name("layer-tar", tests, NULL, NULL);
}
