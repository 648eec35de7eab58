/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backing-fs check: which requirement each refusal names, and a real probe in /tmp. */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../overlay/overlay.h"

static struct cvol_backing_fs fit_fs(void)
{
	struct cvol_backing_fs fs = {
		.d_type = true,
		.xattr_trusted = true,
		.xattr_user = true,
		.tmpfile = true,
		.rename_whiteout = true,
	};
	snprintf(fs.type, sizeof(fs.type), "ext4");
	return fs;
}

static void test_check_fit(void **state)
{
	(void)state;
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs = fit_fs();
	assert_int_equal(cvol_backing_fs_check(&fs, "/x", false, &err), 0);
	assert_int_equal(err.code, 0);
}

static void expect_refusal(struct cvol_backing_fs fs, bool userxattr, int code, const char *text)
{
	struct cvol_error err = { 0 };
	assert_int_equal(cvol_backing_fs_check(&fs, "/srv/upper", userxattr, &err), -code);
	assert_int_equal(err.code, code);
	assert_contains(err.msg, "`/srv/upper`");
	assert_contains(err.msg, text);
}

static void test_check_refusals(void **state)
{
	(void)state;
	struct cvol_backing_fs fs;

	fs = fit_fs();
	fs.is_overlay = true;
	expect_refusal(fs, false, EINVAL, "on overlayfs, which cannot hold an upper layer");
	fs = fit_fs();
	fs.d_type = false;
	expect_refusal(fs, false, EINVAL, "mkfs.xfs -n ftype=1");
	expect_refusal(fs, false, EINVAL, "mkfs.ext4 -O filetype");
	fs = fit_fs();
	fs.xattr_trusted = false;
	expect_refusal(fs, false, EOPNOTSUPP, "trusted.* xattrs");
	struct cvol_error err = { 0 };
	assert_int_equal(cvol_backing_fs_check(&fs, "/srv/upper", true, &err), 0); /* userxattr */
	fs = fit_fs();
	fs.xattr_user = false;
	expect_refusal(fs, true, EOPNOTSUPP, "user.* xattrs");
	fs = fit_fs();
	fs.tmpfile = false;
	expect_refusal(fs, false, EOPNOTSUPP, "O_TMPFILE");
	fs = fit_fs();
	fs.rename_whiteout = false;
	expect_refusal(fs, false, EOPNOTSUPP, "RENAME_WHITEOUT");
}

/* A real probe on /tmp: d_type works there, and the probe leaves nothing behind. */
static void test_probe_tmp(void **state)
{
	(void)state;
	char dir[] = "/tmp/cvol-test-probe.XXXXXX";
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(cvol_backing_fs_probe(dir, &fs, &err), 0);
	assert_true(fs.d_type);
	assert_true(fs.tmpfile);
	assert_false(fs.is_overlay);
	assert_true(fs.type[0] != '\0');
	DIR *d = opendir(dir);
	assert_non_null(d);
	int entries = 0;
	for (struct dirent *de; (de = readdir(d));)
		entries++;
	closedir(d);
	assert_int_equal(entries, 2); /* "." and ".." */
	assert_int_equal(rmdir(dir), 0);
}

static void test_probe_missing_dir(void **state)
{
	(void)state;
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs;
	assert_int_equal(cvol_backing_fs_probe("/nonexistent/cvol", &fs, &err), -ENOENT);
	assert_contains(err.msg, "`/nonexistent/cvol`");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_fit),
		cmocka_unit_test(test_check_refusals),
		cmocka_unit_test(test_probe_tmp),
		cmocka_unit_test(test_probe_missing_dir),
	};
	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
