/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer diff (layers/diff.c): what `cvol layer diff` lists for a layer against its parent
 * chain, A added, C changed, D deleted, in path order. Layers are made in a store in a fresh
 * directory under /tmp, their files written straight into <store>/overlay/<id>/diff or
 * imported from tars built here. Whiteouts and opaque dirs use the forms a user may make
 * (0/0 character devices, user.overlay.* xattrs), so no root is needed. */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../layers/layers.h"

struct fixture {
	char dir[64];
	struct cvol_layer_store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cvol_error err = { 0 };

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cvol-test-layer-diff.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (cvol_layer_store_open(f->dir, &f->store, &err) < 0) {
		print_message("open the store: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cvol_layer_store_close(f->store);
	dir_remove_tree(AT_FDCWD, f->dir, NULL);
	free(f);
	return 0;
}

/* ---- making layers ---------------------------------------------------------------------- */

static void create(struct fixture *f, const char *id, const char *parent)
{
	struct cvol_error err = { 0 };

	if (cvol_layer_create(f->store, id, parent, &err) < 0)
		fail_msg("create layer `%s`: %s", id, err.msg);
}

/* A directory fd on the parent of @path in layer @id's diff (made as needed); *@ret_name is
 * the last component of @path. */
static int parent_of(struct fixture *f, const char *id, const char *path, const char **ret_name)
{
	char diff[192], dir[4096];
	int fd;

	snprintf(diff, sizeof(diff), "%s/%s/diff", cvol_layer_store_get_path(f->store), id);
	fd = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	*ret_name = slash ? path + (slash - dir) + 1 : path;
	if (!slash)
		return fd;
	*slash = '\0';
	for (char *p = dir, *next; p; p = next) {
		next = strchr(p, '/');
		if (next)
			*next++ = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST)
			fail_msg("mkdir `%s` in layer `%s`: %s", p, id, strerror(errno));
		int sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		assert_true(sub >= 0);
		close(fd);
		fd = sub;
	}
	return fd;
}

/* Write @text to @path in layer @id's diff, making its parents; a @path ending in `/` is a directory. */
static void put(struct fixture *f, const char *id, const char *path, const char *text)
{
	char name_buf[256];
	const char *name;
	int dirfd = parent_of(f, id, path, &name);

	if (!*name) { /* "dir/": parent_of() made it */
		close(dirfd);
		return;
	}
	snprintf(name_buf, sizeof(name_buf), "%s", name);
	int fd = openat(dirfd, name_buf, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	close(dirfd);
}

/* Put a whiteout for @path in layer @id, in the form overlay makes for an unprivileged user. */
static void whiteout(struct fixture *f, const char *id, const char *path)
{
	struct cvol_error err = { 0 };
	const char *name;
	int dirfd = parent_of(f, id, path, &name);

	int r = cvol_whiteout_make(dirfd, name, true, &err);
	close(dirfd);
	if (r == -EPERM || r == -ENOTSUP) {
		print_message("no whiteouts here (mknod of 0/0, user.* xattrs): %s\n", err.msg);
		skip();
	}
	if (r < 0)
		fail_msg("whiteout `%s`: %s", path, err.msg);
}

/* Mark the directory @path of layer @id opaque (user.overlay.opaque, which needs no root). */
static void opaque(struct fixture *f, const char *id, const char *path)
{
	struct cvol_error err = { 0 };
	char dir[256];
	const char *name;

	snprintf(dir, sizeof(dir), "%s/x", path);
	int dirfd = parent_of(f, id, dir, &name);
	int r = cvol_whiteout_make_opaque(dirfd, true, &err);
	close(dirfd);
	if (r == -ENOTSUP) {
		print_message("user.* xattrs not supported on /tmp: %s\n", err.msg);
		skip();
	}
	if (r < 0)
		fail_msg("opaque `%s`: %s", path, err.msg);
}

/* ---- what the user sees ----------------------------------------------------------------- */

struct changes {
	char *text; /* "A path\n" lines */
	size_t len, calls, stop_after;
};

static int note(char kind, const char *path, void *data)
{
	struct changes *c = data;
	size_t add = strlen(path) + 3;

	assert_true(kind == 'A' || kind == 'C' || kind == 'D');
	assert_true(*path && *path != '/');
	c->text = realloc(c->text, c->len + add + 1);
	assert_non_null(c->text);
	snprintf(c->text + c->len, add + 1, "%c %s\n", kind, path);
	c->len += add;
	if (++c->calls == c->stop_after)
		return -ECANCELED;
	return 0;
}

/* The changes of layer @id, one "K path" line each in the order they came; free() it. */
static char *diff(struct fixture *f, const char *id)
{
	struct cvol_error err = { 0 };
	struct changes c = { .text = strdup("") };

	assert_non_null(c.text);
	if (cvol_layer_diff(f->store, id, note, &c, &err) < 0)
		fail_msg("diff layer `%s`: %s", id, err.msg);
	return c.text;
}

#define assert_diff(f, id, expected)                                                                         \
	do {                                                                                                 \
		char *_text = diff(f, id);                                                                   \
		assert_string_equal(_text, expected);                                                        \
		free(_text);                                                                                 \
	} while (0)

/* A base layer: everything in it is added. */
static void test_base(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	put(f, "base", "etc/hostname", "box\n");
	put(f, "base", "usr/bin/sh", "#!\n");
	put(f, "base", "tmp/", "");
	assert_diff(f, "base",
		    "A etc\n"
		    "A etc/hostname\n"
		    "A etc/passwd\n"
		    "A tmp\n"
		    "A usr\n"
		    "A usr/bin\n"
		    "A usr/bin/sh\n");
}

/* Empty layers list nothing. */
static void test_empty(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	assert_diff(f, "base", "");
	put(f, "base", "etc/passwd", "root\n");
	create(f, "app", "base");
	assert_diff(f, "app", "");
}

/* Added and changed on one parent: a path the parent has is changed, even a directory
 * the layer only holds to reach what it adds below. */
static void test_added_and_changed(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "etc/passwd", "root\n");
	put(f, "base", "etc/hosts", "127.0.0.1 localhost\n");
	put(f, "base", "usr/bin/sh", "#!\n");
	create(f, "app", "base");
	put(f, "app", "etc/passwd", "root\napp\n");
	put(f, "app", "etc/app.conf", "port=80\n");
	put(f, "app", "srv/www/index.html", "<html>\n");
	put(f, "app", "usr/bin/app", "\177ELF");
	assert_diff(f, "app",
		    "C etc\n"
		    "A etc/app.conf\n"
		    "C etc/passwd\n"
		    "A srv\n"
		    "A srv/www\n"
		    "A srv/www/index.html\n"
		    "C usr\n"
		    "C usr/bin\n"
		    "A usr/bin/app\n");
	/* the base itself is unchanged by its child */
	assert_diff(f, "base",
		    "A etc\n"
		    "A etc/hosts\n"
		    "A etc/passwd\n"
		    "A usr\n"
		    "A usr/bin\n"
		    "A usr/bin/sh\n");
}

/* Whiteouts are deletions, of a file or of a whole directory; what is below a deleted
 * directory is not listed. */
static void test_deleted(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "etc/hosts", "127.0.0.1 localhost\n");
	put(f, "base", "etc/passwd", "root\n");
	put(f, "base", "var/lib/old/a", "a\n");
	put(f, "base", "var/lib/old/b", "b\n");
	create(f, "app", "base");
	whiteout(f, "app", "etc/hosts");
	whiteout(f, "app", "var/lib/old");
	assert_diff(f, "app",
		    "C etc\n"
		    "D etc/hosts\n"
		    "C var\n"
		    "C var/lib\n"
		    "D var/lib/old\n");
}

/* The xattr form of a whiteout (an empty file marked user.overlay.whiteout) is a deletion
 * too; an empty file without the mark is a file. */
static void test_deleted_xattr_form(void **state)
{
	struct fixture *f = *state;
	const char *name;

	create(f, "base", NULL);
	put(f, "base", "etc/hosts", "127.0.0.1 localhost\n");
	put(f, "base", "etc/motd", "hi\n");
	create(f, "app", "base");
	put(f, "app", "etc/hosts", "");
	put(f, "app", "etc/motd", "");
	put(f, "app", "etc/empty", "");
	int dirfd = parent_of(f, "app", "etc/hosts", &name);
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = fsetxattr(fd, "user.overlay.whiteout", "", 0, 0);
	if (r == 0)
		r = fsetxattr(dirfd, "user.overlay.whiteouts", "", 0, 0);
	int e = errno;
	close(fd);
	close(dirfd);
	if (r < 0 && e == ENOTSUP) {
		print_message("user.* xattrs not supported on /tmp\n");
		skip();
	}
	assert_int_equal(r, 0);
	assert_diff(f, "app",
		    "C etc\n"
		    "A etc/empty\n"
		    "D etc/hosts\n"
		    "C etc/motd\n");
}

/* An opaque directory hides what the layers below hold in it: a name it has again is
 * changed, a new one added; and in a layer above, a name only the hidden part had is new. */
static void test_opaque(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "var/cache/a", "a\n");
	put(f, "base", "var/cache/b", "b\n");
	put(f, "base", "var/cache/sub/c", "c\n");
	create(f, "mid", "base");
	opaque(f, "mid", "var/cache");
	put(f, "mid", "var/cache/b", "new b\n");
	put(f, "mid", "var/cache/d", "d\n");
	assert_diff(f, "mid",
		    "C var\n"
		    "C var/cache\n"
		    "C var/cache/b\n"
		    "A var/cache/d\n");

	create(f, "top", "mid");
	put(f, "top", "var/cache/a", "a again\n");
	put(f, "top", "var/cache/b", "b again\n");
	put(f, "top", "var/cache/d", "d again\n");
	put(f, "top", "var/cache/sub/c", "c again\n");
	assert_diff(f, "top",
		    "C var\n"
		    "C var/cache\n"
		    "A var/cache/a\n"
		    "C var/cache/b\n"
		    "C var/cache/d\n"
		    "A var/cache/sub\n"
		    "A var/cache/sub/c\n");
}

/* What a middle layer deleted or replaced is gone for the layers above: adding it back is an
 * add, and so is anything below a directory the middle layer turned into a file. */
static void test_chain(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "etc/hosts", "127.0.0.1 localhost\n");
	put(f, "base", "etc/passwd", "root\n");
	put(f, "base", "opt/tool/bin", "#!\n");
	put(f, "base", "data/old", "old\n");
	create(f, "mid", "base");
	whiteout(f, "mid", "etc/hosts");
	whiteout(f, "mid", "opt");
	put(f, "mid", "data", "now a file\n");
	create(f, "top", "mid");
	put(f, "top", "etc/hosts", "::1 localhost\n");
	put(f, "top", "etc/passwd", "root\ntop\n");
	put(f, "top", "opt/tool/bin", "#!/bin/sh\n");
	put(f, "top", "data/old", "a dir again\n");
	assert_diff(f, "top",
		    "C data\n"
		    "A data/old\n"
		    "C etc\n"
		    "A etc/hosts\n"
		    "C etc/passwd\n"
		    "A opt\n"
		    "A opt/tool\n"
		    "A opt/tool/bin\n");
	assert_diff(f, "mid",
		    "C data\n"
		    "C etc\n"
		    "D etc/hosts\n"
		    "D opt\n");
}

/* A directory's entries come right after it, before its next sibling, each level by name. */
static void test_path_order(void **state)
{
	struct fixture *f = *state;

	create(f, "base", NULL);
	put(f, "base", "a.c", "");
	put(f, "base", "a/x", "");
	put(f, "base", "a-b", "");
	put(f, "base", "_", "");
	put(f, "base", "B", "");
	put(f, "base", "a/X/y", "");
	assert_diff(f, "base",
		    "A B\n"
		    "A _\n"
		    "A a\n"
		    "A a/X\n"
		    "A a/X/y\n"
		    "A a/x\n"
		    "A a-b\n"
		    "A a.c\n");
}

#define DEPTH 100

/* A file a hundred directories down, changed by a child: every directory on the way is changed. */
static void test_deep_path(void **state)
{
	struct fixture *f = *state;
	char path[2 * DEPTH + 16] = "", line[2 * DEPTH + 64];

	for (int i = 0; i < DEPTH; i++)
		strcat(path, i ? "/d" : "d");
	strcat(path, "/file");
	create(f, "base", NULL);
	put(f, "base", path, "deep\n");
	create(f, "app", "base");
	put(f, "app", path, "deeper\n");
	put(f, "app", "d/d/new", "");

	char *text = diff(f, "app");
	char *p = text;
	for (int i = 0; i < DEPTH; i++) {
		snprintf(line, sizeof(line), "C %.*s\n", 2 * i + 1, path);
		if (strncmp(p, line, strlen(line)) != 0)
			fail_msg("line %d: expected `%s`, at `%.40s`", i + 1, line, p);
		p += strlen(line);
	}
	/* d/d/new sorts after d/d/d and all below it */
	snprintf(line, sizeof(line), "C %s\nA d/d/new\n", path);
	assert_string_equal(p, line);
	free(text);
}

/* ---- imported layers -------------------------------------------------------------------- */

/* A tar entry: a path ending in `/` is a directory, else a file holding @data. */
struct tar_file {
	const char *path, *data;
};

static void tar_add(struct archive *a, struct archive_entry *e, const char *path, const char *data)
{
	size_t size = strlen(data);
	bool dir = path[strlen(path) - 1] == '/';

	archive_entry_clear(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_uid(e, getuid()); /* so that no chown needs root */
	archive_entry_set_gid(e, getgid());
	archive_entry_set_mtime(e, 1000000000, 0);
	archive_entry_set_size(e, (la_int64_t)(dir ? 0 : size));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (!dir && size)
		assert_int_equal(archive_write_data(a, data, size), (la_ssize_t)size);
}

/* Import layer @id on @parent from a tar of @entries (up to one with a NULL path). */
static void import(struct fixture *f, const char *id, const char *parent, const struct tar_file *entries)
{
	struct cvol_error err = { 0 };
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd = memfd_create("layer.tar", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_true(a && e);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (const struct tar_file *t = entries; t->path; t++)
		tar_add(a, e, t->path, t->data);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	int r = cvol_layer_import(f->store, id, parent, fd, true, NULL, &err);
	close(fd);
	if (r < 0 && geteuid() != 0 && (r == -EPERM || r == -ENOTSUP)) {
		print_message("import without root: %s\n", err.msg);
		skip();
	}
	if (r < 0)
		fail_msg("import layer `%s`: %s", id, err.msg);
}

/* Layers as an image brings them: OCI whiteouts and opaque markers in the tars. */
static void test_imported(void **state)
{
	struct fixture *f = *state;
	static const struct tar_file base[] = {
		{ "etc/", "" },
		{ "etc/hosts", "127.0.0.1 localhost\n" },
		{ "etc/passwd", "root\n" },
		{ "var/", "" },
		{ "var/cache/", "" },
		{ "var/cache/a", "a\n" },
		{ "var/cache/b", "b\n" },
		{ "lib/", "" },
		{ "lib/libc.so.6", "\177ELF" },
		{ NULL, NULL },
	};
	static const struct tar_file app[] = {
		{ "etc/", "" },
		{ "etc/.wh.hosts", "" },
		{ "etc/passwd", "root\napp\n" },
		{ "var/", "" },
		{ "var/cache/", "" },
		{ "var/cache/.wh..wh..opq", "" },
		{ "var/cache/b", "b2\n" },
		{ "app/", "" },
		{ "app/main", "#!\n" },
		{ ".wh.lib", "" },
		{ NULL, NULL },
	};

	import(f, "base", NULL, base);
	import(f, "app", "base", app);
	assert_diff(f, "app",
		    "A app\n"
		    "A app/main\n"
		    "C etc\n"
		    "D etc/hosts\n"
		    "C etc/passwd\n"
		    "D lib\n"
		    "C var\n"
		    "C var/cache\n"
		    "C var/cache/b\n");
}

/* ---- refusals --------------------------------------------------------------------------- */

static void test_no_such_layer(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct changes c = { 0 };

	assert_int_equal(cvol_layer_diff(f->store, "nope", note, &c, &err), -ENOENT);
	assert_string_equal(err.msg, "diff layer `nope`: no such layer");
	assert_int_equal(cvol_layer_diff(f->store, "../base", note, &c, &err), -EINVAL);
	assert_contains(err.msg, "invalid layer id `../base`");
	assert_int_equal(c.calls, 0);
	free(c.text);
}

/* A callback that fails stops the walk, and the diff fails. */
static void test_callback_stops(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct changes c = { .stop_after = 2 };

	create(f, "base", NULL);
	put(f, "base", "a/b/c", "");
	put(f, "base", "d", "");
	int r = cvol_layer_diff(f->store, "base", note, &c, &err);
	assert_true(r < 0);
	assert_int_equal(r, -err.code);
	assert_contains(err.msg, "diff layer `base`");
	assert_int_equal(c.calls, 2);
	assert_string_equal(c.text, "A a\nA a/b\n");
	free(c.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_added_and_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_xattr_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_such_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
	};
	return cmocka_run_group_tests_name("layer diff", tests, NULL, NULL);
}
