/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filesystem helpers, in a fresh directory under /tmp; no root needed. */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"

struct fixture {
	char top[64];  /* the mkdtemp() directory, outside the tree under test */
	char root[96]; /* "<top>/root": where each test works */
	int top_fd;    /* directory fd on top */
	int fd;	       /* directory fd on root */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/cvol-test-fs.XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->top);
	if (mkdir(f->root, 0755) < 0)
		return -1;
	f->top_fd = open(f->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->top_fd < 0 || f->fd < 0)
		return -1;
	*state = f;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->fd);
	close(f->top_fd);
	int r = nftw(f->top, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return r;
}

/* Make the file @name under @dirfd holding @text. */
static void make_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool exists(int dirfd, const char *name)
{
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Entries of @dirfd other than "." and "..", sorted and joined with spaces. */
static void list_dir(int dirfd, char *buf, size_t size)
{
	struct dirent **names;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[64];
	size_t len = 0;

	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int n = scandir(path, &names, NULL, alphasort);
	assert_true(n >= 0);
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " " : "", name);
		free(names[i]);
	}
	free(names);
	close(fd);
}

/* Skip the calling test when openat2() is not there (old kernel, seccomp). */
static void require_openat2(int dirfd)
{
	int fd = openat_beneath(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOSYS || fd == -EPERM) {
		print_message("openat2() not available: %s\n", strerror(-fd));
		skip();
	}
	assert_true(fd >= 0);
	close(fd);
}

static void test_write_read_round_trip(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char *text = NULL;
	char names[256];

	require_openat2(f->fd);
	assert_int_equal(file_write_atomic(f->fd, "link", "ABCDEF\n\n", 8, &err), 0);
	assert_int_equal(file_read_text(f->fd, "link", &text, &err), 0);
	assert_string_equal(text, "ABCDEF");
	free(text);

	/* overwrite with something shorter; inner newlines stay */
	assert_int_equal(file_write_atomic(f->fd, "link", "a\nb\n", 4, &err), 0);
	assert_int_equal(file_read_text(f->fd, "link", &text, &err), 0);
	assert_string_equal(text, "a\nb");
	free(text);

	/* an empty file reads as "" */
	assert_int_equal(file_write_atomic(f->fd, "empty", "", 0, &err), 0);
	assert_int_equal(file_read_text(f->fd, "empty", &text, &err), 0);
	assert_string_equal(text, "");
	free(text);

	/* no temp file left behind */
	list_dir(f->fd, names, sizeof(names));
	assert_string_equal(names, "empty link");

	struct stat st;
	assert_int_equal(fstatat(f->fd, "link", &st, 0), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
}

static void test_read_large(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char *text = NULL;
	size_t n = 10000;
	char *data = malloc(n + 1);

	assert_non_null(data);
	require_openat2(f->fd);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	data[n] = '\0';
	assert_int_equal(file_write_atomic(f->fd, "big", data, n, &err), 0);
	assert_int_equal(file_read_text(f->fd, "big", &text, &err), 0);
	assert_int_equal(strlen(text), n);
	assert_string_equal(text, data);
	free(text);
	free(data);
}

static void test_read_errors(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char *text = (char *)"untouched";

	require_openat2(f->fd);
	assert_int_equal(file_read_text(f->fd, "missing", &text, &err), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_contains(err.msg, "open `missing`");

	/* not through a symlink, and not out of the directory */
	make_file(f->top_fd, "secret", "s3cret");
	assert_int_equal(symlinkat("../secret", f->fd, "up"), 0);
	assert_true(file_read_text(f->fd, "up", &text, &err) < 0);
	assert_true(file_read_text(f->fd, "../secret", &text, &err) < 0);
	assert_int_equal(err.code, EXDEV);
	assert_string_equal(text, "untouched");
}

static void test_write_name_too_long(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char name[255];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(file_write_atomic(f->fd, name, "x", 1, &err), -ENAMETOOLONG);
	assert_contains(err.msg, "too long");
	assert_false(exists(f->fd, name));
}

static void test_write_replaces_symlink(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char *text = NULL;

	require_openat2(f->fd);
	make_file(f->top_fd, "outside", "original");
	assert_int_equal(symlinkat("../outside", f->fd, "name"), 0);
	assert_int_equal(file_write_atomic(f->fd, "name", "new", 3, &err), 0);

	/* the link was replaced, its target left alone */
	struct stat st;
	assert_int_equal(fstatat(f->fd, "name", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(file_read_text(f->top_fd, "outside", &text, &err), 0);
	assert_string_equal(text, "original");
	free(text);
}

static void test_openat_beneath_inside(void **state)
{
	struct fixture *f = *state;
	char buf[16] = "";

	require_openat2(f->fd);
	assert_int_equal(mkdirat(f->fd, "sub", 0755), 0);
	make_file(f->fd, "sub/file", "inside");
	assert_int_equal(symlinkat("sub/file", f->fd, "rel-link"), 0);

	int fd = openat_beneath(f->fd, "rel-link", O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "inside");
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	/* a mode with a plain open is ignored, as open(2) ignores it */
	fd = openat_beneath(f->fd, "sub", O_RDONLY | O_DIRECTORY, 0755);
	assert_true(fd >= 0);
	close(fd);

	/* O_CREAT uses the mode */
	fd = openat_beneath(f->fd, "sub/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
}

static void test_openat_beneath_refuses_escapes(void **state)
{
	struct fixture *f = *state;

	require_openat2(f->fd);
	make_file(f->top_fd, "x", "outside");
	assert_int_equal(symlinkat("/etc", f->fd, "abs-link"), 0);
	assert_int_equal(symlinkat("../x", f->fd, "up-link"), 0);
	assert_int_equal(mkdirat(f->fd, "d", 0755), 0);
	assert_int_equal(symlinkat("../..", f->fd, "d/upup"), 0);

	assert_int_equal(openat_beneath(f->fd, "../x", O_RDONLY, 0), -EXDEV);
	assert_int_equal(openat_beneath(f->fd, "d/../../x", O_RDONLY, 0), -EXDEV);
	assert_int_equal(openat_beneath(f->fd, "/etc/passwd", O_RDONLY, 0), -EXDEV);
	assert_int_equal(openat_beneath(f->fd, "abs-link/passwd", O_RDONLY, 0), -EXDEV);
	assert_int_equal(openat_beneath(f->fd, "up-link", O_RDONLY, 0), -EXDEV);
	assert_int_equal(openat_beneath(f->fd, "d/upup/x", O_RDONLY, 0), -EXDEV);
	/* nor made outside */
	assert_int_equal(openat_beneath(f->fd, "../made", O_WRONLY | O_CREAT, 0644), -EXDEV);
	assert_false(exists(f->top_fd, "made"));
}

/* RESOLVE_IN_ROOT: @dirfd is "/" for absolute paths, ".." and symlinks; nothing leads out */
static void test_openat_confined_in_root(void **state)
{
	struct fixture *f = *state;
	char buf[16] = "";

	require_openat2(f->fd);
	make_file(f->top_fd, "x", "outside");
	make_file(f->fd, "x", "inside");
	assert_int_equal(symlinkat("/", f->fd, "to-root"), 0);
	assert_int_equal(symlinkat("../../../x", f->fd, "up-link"), 0);

	int fd = openat_confined(f->fd, "to-root/x", O_RDONLY, 0, RESOLVE_IN_ROOT);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "inside");
	close(fd);
	fd = openat_confined(f->fd, "up-link", O_RDONLY, 0, RESOLVE_IN_ROOT);
	assert_true(fd >= 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "inside");
	close(fd);
	/* made inside too */
	fd = openat_confined(f->fd, "/../made", O_WRONLY | O_CREAT, 0644, RESOLVE_IN_ROOT);
	assert_true(fd >= 0);
	close(fd);
	assert_true(exists(f->fd, "made"));
	assert_false(exists(f->top_fd, "made"));
}

static void test_remove_tree(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };

	assert_int_equal(mkdirat(f->top_fd, "keep", 0755), 0);
	make_file(f->top_fd, "keep/file", "keep me");
	assert_int_equal(mkdirat(f->fd, "t", 0755), 0);
	assert_int_equal(mkdirat(f->fd, "t/a", 0755), 0);
	assert_int_equal(mkdirat(f->fd, "t/a/b", 0700), 0);
	assert_int_equal(mkdirat(f->fd, "t/a/b/c", 0755), 0);
	assert_int_equal(mkdirat(f->fd, "t/empty", 0755), 0);
	make_file(f->fd, "t/f", "1");
	make_file(f->fd, "t/a/b/c/deep", "2");
	make_file(f->fd, "t/a/.hidden", "3");
	assert_int_equal(symlinkat("../../keep", f->fd, "t/a/to-keep"), 0);
	assert_int_equal(symlinkat("/nonexistent", f->fd, "t/dangling"), 0);
	make_file(f->fd, "sibling", "4");

	assert_int_equal(dir_remove_tree(f->fd, "t", &err), 0);
	assert_false(exists(f->fd, "t"));
	/* what the links pointed at, and what was next to the tree, stay */
	assert_true(exists(f->top_fd, "keep/file"));
	assert_true(exists(f->fd, "sibling"));

	/* a plain file, and a name that is not there */
	assert_int_equal(dir_remove_tree(f->fd, "sibling", &err), 0);
	assert_false(exists(f->fd, "sibling"));
	assert_int_equal(dir_remove_tree(f->fd, "missing", &err), 0);
}

struct batch_walk {
	size_t entered;
};

/* Remove what it is given, and count it. */
static int batch_enter(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	struct batch_walk *b = data;
	(void)err;
	b->entered++;
	if (!S_ISDIR(e->st->st_mode))
		assert_int_equal(unlinkat(e->dirfd, e->name, 0), 0);
	return WALK_CONTINUE;
}

static int batch_leave(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	(void)data;
	(void)err;
	assert_int_equal(unlinkat(e->dirfd, e->name, AT_REMOVEDIR), 0);
	return 0;
}

/* A walk in batches (tree removal's, so that no directory is ever listed whole) visits every
 * entry once, however many batches a directory takes. */
static void test_walk_in_batches(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct batch_walk b = { 0 };
	char name[32];

	assert_int_equal(mkdirat(f->fd, "t", 0755), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "t/f%03d", i);
		make_file(f->fd, name, "x");
	}
	assert_int_equal(mkdirat(f->fd, "t/sub", 0755), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "t/sub/g%02d", i);
		make_file(f->fd, name, "y");
	}
	int t = openat(f->fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t >= 0);
	const struct walk_ops ops = { .enter = batch_enter, .leave = batch_leave, .batch = 7 };
	assert_int_equal(tree_walk(t, &ops, &b, &err), 0);
	close(t);
	assert_int_equal(b.entered, 100 + 1 + 20);
	assert_true(exists(f->fd, "t"));
	assert_int_equal(unlinkat(f->fd, "t", AT_REMOVEDIR), 0); /* empty */

	/* and tree removal over a directory of 3,000 */
	assert_int_equal(mkdirat(f->fd, "big", 0755), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "big/h%04d", i);
		make_file(f->fd, name, "");
	}
	assert_int_equal(dir_remove_tree(f->fd, "big", &err), 0);
	assert_false(exists(f->fd, "big"));
}

static void test_create_parents(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/p/q/r", f->root);
	assert_int_equal(dir_create_parents(path, 0755, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again: already there */
	assert_int_equal(dir_create_parents(path, 0755, &err), 0);

	snprintf(path, sizeof(path), "%s/s/t/", f->root);
	assert_int_equal(dir_create_parents(path, 0700, &err), 0);
	assert_true(exists(f->fd, "s/t"));
}

static void test_create_parents_through_file(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char path[256];

	make_file(f->fd, "file", "");
	snprintf(path, sizeof(path), "%s/file/sub/dir", f->root);
	assert_int_equal(dir_create_parents(path, 0755, &err), -ENOTDIR);
	assert_int_equal(err.code, ENOTDIR);
	assert_contains(err.msg, "file/sub");

	/* the path is the file itself */
	snprintf(path, sizeof(path), "%s/file", f->root);
	assert_int_equal(dir_create_parents(path, 0755, &err), -ENOTDIR);
	assert_contains(err.msg, "is not a directory");

	/* nothing to create */
	assert_int_equal(dir_create_parents("", 0755, &err), -ENOENT);
	assert_int_equal(err.code, ENOENT);
}

/* a path that does not fit is an error, never a shorter path */
static void test_path_format(void **state)
{
	struct cvol_error err = { 0 };
	char buf[16];
	(void)state;

	assert_int_equal(path_format(buf, sizeof(buf), &err, "%s/%s", "/srv", "dev"), 0);
	assert_string_equal(buf, "/srv/dev");
	assert_int_equal(path_format(buf, sizeof(buf), &err, "%s/%s", "/srv/abcde", "proc"), 0);
	assert_string_equal(buf, "/srv/abcde/proc");
	assert_int_equal(path_format(buf, sizeof(buf), &err, "%s/%s", "/srv/abcde", "procs"), -ENAMETOOLONG);
	assert_int_equal(err.code, ENAMETOOLONG);
	assert_non_null(strstr(err.msg, "`/srv/abcde/proc…`"));
	assert_int_equal(path_format(buf, sizeof(buf), NULL, "%s", "/a/very/long/path/indeed"),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_name_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openat_beneath_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openat_beneath_refuses_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_openat_confined_in_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_parents_through_file, setup, teardown),
		cmocka_unit_test(test_path_format),
	};

	return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
