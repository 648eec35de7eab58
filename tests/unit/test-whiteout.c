/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI and overlay whiteouts (overlay/whiteout.c): the names, and the marks made and read
 * on disk. In a fresh directory under /tmp; what needs root skips without. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../overlay/overlay.h"

static void make_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* ---- names ---------------------------------------------------------------------------- */

static void test_target(void **state)
{
	const char *target = "untouched";
	(void)state;

	assert_int_equal(cvol_whiteout_target(".wh.x", &target), 1);
	assert_string_equal(target, "x");
	assert_int_equal(cvol_whiteout_target(".wh..hidden", &target), 1);
	assert_string_equal(target, ".hidden");

	target = "untouched";
	assert_int_equal(cvol_whiteout_target(".wh.", &target), -EINVAL);
	assert_int_equal(cvol_whiteout_target(".wh..", &target), -EINVAL);
	assert_int_equal(cvol_whiteout_target(".wh...", &target), -EINVAL);
	assert_string_equal(target, "untouched");

	assert_int_equal(cvol_whiteout_target("x", &target), 0);
	assert_int_equal(cvol_whiteout_target("wh.x", &target), 0);
	assert_int_equal(cvol_whiteout_target(".wh", &target), 0);
	assert_int_equal(cvol_whiteout_target(".whx", &target), 0);
	assert_int_equal(cvol_whiteout_target("", &target), 0);
	assert_string_equal(target, "untouched");
}

static void test_opaque_marker(void **state)
{
	(void)state;
	assert_true(cvol_whiteout_is_opaque_marker(".wh..wh..opq"));
	assert_false(cvol_whiteout_is_opaque_marker(".wh..wh..opq2"));
	assert_false(cvol_whiteout_is_opaque_marker(".wh.opq"));
	assert_false(cvol_whiteout_is_opaque_marker(".wh..wh."));
	assert_false(cvol_whiteout_is_opaque_marker("opq"));
	assert_false(cvol_whiteout_is_opaque_marker(""));
}

static void test_xattr_is_overlay(void **state)
{
	(void)state;
	assert_true(cvol_whiteout_xattr_is_overlay("trusted.overlay.opaque"));
	assert_true(cvol_whiteout_xattr_is_overlay("trusted.overlay.whiteout"));
	assert_true(cvol_whiteout_xattr_is_overlay("user.overlay.origin"));
	assert_false(cvol_whiteout_xattr_is_overlay("trusted.overlay"));
	assert_false(cvol_whiteout_xattr_is_overlay("trusted.overlayfs.x"));
	assert_false(cvol_whiteout_xattr_is_overlay("user.test"));
	assert_false(cvol_whiteout_xattr_is_overlay("security.capability"));
	assert_false(cvol_whiteout_xattr_is_overlay("system.posix_acl_access"));
	assert_false(cvol_whiteout_xattr_is_overlay(""));
}

/* ---- whiteouts on disk ---------------------------------------------------------------- */

static void test_make(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	struct stat st;

	unit_require_root("mknod, trusted.* xattrs");
	assert_int_equal(cvol_whiteout_make(f->fd, "gone", false, &err), 0);
	assert_int_equal(fstatat(f->fd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 0);
	assert_int_equal(minor(st.st_rdev), 0);
	assert_true(cvol_whiteout_is(f->fd, "gone", &st));

	/* a name that is taken */
	assert_int_equal(cvol_whiteout_make(f->fd, "gone", false, &err), -EEXIST);
	assert_contains(err.msg, "make whiteout `gone`");

	make_file(f->fd, "full", "data");
	assert_int_equal(fstatat(f->fd, "full", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(cvol_whiteout_is(f->fd, "full", &st));
	make_file(f->fd, "empty", "");
	assert_int_equal(fstatat(f->fd, "empty", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(cvol_whiteout_is(f->fd, "empty", &st));
	assert_int_equal(mknodat(f->fd, "null", S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(fstatat(f->fd, "null", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(cvol_whiteout_is(f->fd, "null", &st));
	close(unit_make_dir(f->fd, "dir"));
	assert_int_equal(fstatat(f->fd, "dir", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(cvol_whiteout_is(f->fd, "dir", &st));
}

/* The form overlay reads where mknod is not allowed: an empty file with the whiteout xattr. */
static void test_is_xattr_form(void **state)
{
	struct unit_dir *f = *state;
	struct stat st;

	unit_require_root("mknod, trusted.* xattrs");
	make_file(f->fd, "wo", "");
	int fd = openat(f->fd, "wo", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (fsetxattr(fd, "trusted.overlay.whiteout", "", 0, 0) < 0) {
		print_message("trusted.* xattrs not supported on /tmp: %s\n", strerror(errno));
		close(fd);
		skip();
	}
	close(fd);
	assert_int_equal(fstatat(f->fd, "wo", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(cvol_whiteout_is(f->fd, "wo", &st));
}

static void test_opaque(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	char value[8];

	unit_require_root("mknod, trusted.* xattrs");
	int dir = unit_make_dir(f->fd, "dir");
	int plain = unit_make_dir(f->fd, "plain");
	assert_false(cvol_whiteout_dir_is_opaque(dir));
	int r = cvol_whiteout_make_opaque(dir, false, &err);
	if (r == -ENOTSUP || r == -EOPNOTSUPP) {
		print_message("trusted.* xattrs not supported on /tmp: %s\n", err.msg);
		close(dir);
		close(plain);
		skip();
	}
	assert_int_equal(r, 0);
	assert_true(cvol_whiteout_dir_is_opaque(dir));
	assert_int_equal(fgetxattr(dir, "trusted.overlay.opaque", value, sizeof(value)), 1);
	assert_int_equal(value[0], 'y');
	assert_false(cvol_whiteout_dir_is_opaque(plain));

	/* any other value is not opaque */
	assert_int_equal(fsetxattr(plain, "trusted.overlay.opaque", "n", 1, 0), 0);
	assert_false(cvol_whiteout_dir_is_opaque(plain));
	close(dir);
	close(plain);
}

/* userxattr mounts: the same marks under user.overlay.* */
static void test_opaque_userxattr(void **state)
{
	struct unit_dir *f = *state;
	struct cvol_error err = { 0 };
	char value[8];

	int dir = unit_make_dir(f->fd, "dir");
	int r = cvol_whiteout_make_opaque(dir, true, &err);
	if (r == -ENOTSUP || r == -EOPNOTSUPP) {
		print_message("user.* xattrs not supported on /tmp: %s\n", err.msg);
		close(dir);
		skip();
	}
	assert_int_equal(r, 0);
	assert_int_equal(fgetxattr(dir, "user.overlay.opaque", value, sizeof(value)), 1);
	assert_true(cvol_whiteout_dir_is_opaque(dir));
	close(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_opaque_marker),
		cmocka_unit_test(test_xattr_is_overlay),
		cmocka_unit_test_setup_teardown(test_make, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_is_xattr_form, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_opaque, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_opaque_userxattr, unit_dir_setup, unit_dir_teardown),
	};
	return cmocka_run_group_tests_name("whiteout", tests, NULL, NULL);
}
