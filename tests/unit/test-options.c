/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Extra overlay options, the mount(2) option string and its builder (common/mount-opts.c). */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>

#include "../../common/mount-opts.h"
#include "../../overlay/overlay-internal.h"

static void test_option_check_known(void **state)
{
	static const char *const good[] = {
		"volatile",
		"userxattr",
		"metacopy=on",
		"metacopy=off",
		"redirect_dir=on",
		"redirect_dir=off",
		"redirect_dir=follow",
		"redirect_dir=nofollow",
		"index=on",
		"index=off",
		"xino=on",
		"xino=off",
		"xino=auto",
		"nfs_export=on",
		"nfs_export=off",
		"uuid=on",
		"uuid=off",
		"uuid=null",
		"uuid=auto",
		"verity=on",
		"verity=off",
		"verity=require",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct cvol_error err = { 0 };
		int r = cvol_overlay_option_check(good[i], &err);
		if (r != 0)
			fail_msg("`%s` refused: %s", good[i], err.msg);
		assert_int_equal(err.code, 0);
	}
}

static void test_option_check_unknown(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	int r = cvol_overlay_option_check("upperdir=/tmp/evil", &err);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_contains(err.msg, "unknown overlay option `upperdir=/tmp/evil`");
	assert_contains(err.msg, "volatile");
	assert_contains(err.msg, "userxattr");
	assert_contains(err.msg, "index=on|off");
	assert_contains(err.msg, "verity=on|off|require");

	/* a prefix or an extension of a known key is not that key */
	assert_int_equal(cvol_overlay_option_check("vol", &err), -EINVAL);
	assert_contains(err.msg, "unknown overlay option `vol`");
	assert_int_equal(cvol_overlay_option_check("volatileX", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("indexx=on", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("=on", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("lowerdir", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("workdir=/w", &err), -EINVAL);
}

static void test_option_check_flag_with_value(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(cvol_overlay_option_check("volatile=on", &err), -EINVAL);
	assert_string_equal(err.msg, "overlay option `volatile` takes no value");
	assert_int_equal(cvol_overlay_option_check("userxattr=", &err), -EINVAL);
	assert_string_equal(err.msg, "overlay option `userxattr` takes no value");
}

static void test_option_check_bad_value(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(cvol_overlay_option_check("index=maybe", &err), -EINVAL);
	assert_string_equal(err.msg, "overlay option `index=maybe` needs one of on|off");
	/* a value needs to be given */
	assert_int_equal(cvol_overlay_option_check("metacopy", &err), -EINVAL);
	assert_contains(err.msg, "needs one of on|off");
	assert_int_equal(cvol_overlay_option_check("metacopy=", &err), -EINVAL);
	/* a prefix of a value, or the separator itself, is not a value */
	assert_int_equal(cvol_overlay_option_check("redirect_dir=fol", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("redirect_dir=on|off", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("xino=ON", &err), -EINVAL);
}

static void test_option_check_smuggled(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	/* one string carrying a second option must not pass as "index=off" */
	assert_int_equal(cvol_overlay_option_check("index=off,upperdir=/x", &err), -EINVAL);
	assert_contains(err.msg, "index=off,upperdir=/x");
	assert_int_equal(cvol_overlay_option_check("volatile,upperdir=/x", &err), -EINVAL);
	assert_int_equal(cvol_overlay_option_check("userxattr,", &err), -EINVAL);
}

static void test_append_escaped(void **state)
{
	char buf[64] = "";
	size_t len = 0;
	(void)state;

	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "plain/path"), 0);
	assert_string_equal(buf, "plain/path");
	assert_int_equal(len, strlen("plain/path"));

	len = 0;
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "a\\b,c:d"), 0);
	assert_string_equal(buf, "a\\\\b\\,c\\:d");
	assert_int_equal(len, strlen(buf));

	/* appends after what is there; the unescaped variant leaves the text alone */
	assert_int_equal(mount_opts_append(buf, sizeof(buf), &len, ",x:y"), 0);
	assert_string_equal(buf, "a\\\\b\\,c\\:d,x:y");
	assert_int_equal(len, strlen(buf));

	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, ""), 0);
	assert_string_equal(buf, "a\\\\b\\,c\\:d,x:y");
}

static void test_append_too_big(void **state)
{
	char buf[8] = "";
	size_t len = 0;
	(void)state;

	/* 7 characters and the NUL fill 8 bytes exactly */
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "abcdefg"), 0);
	assert_string_equal(buf, "abcdefg");
	assert_int_equal(len, 7);

	memset(buf, 0, sizeof(buf));
	len = 0;
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "ab"), 0);
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "cdefgh"), -E2BIG);
	/* refused: length and text as they were */
	assert_int_equal(len, 2);
	assert_string_equal(buf, "ab");

	assert_int_equal(mount_opts_append(buf, sizeof(buf), &len, "cdefghi"), -E2BIG);
	assert_int_equal(len, 2);
	assert_string_equal(buf, "ab");

	char zero[1] = "";
	size_t zlen = 0;
	assert_int_equal(mount_opts_append(zero, sizeof(zero), &zlen, "a"), -E2BIG);
	assert_int_equal(zlen, 0);
}

/* A key=value option goes in whole, after a comma, or not at all. */
static void test_add_option(void **state)
{
	char buf[16] = "";
	size_t len = 0;
	(void)state;

	assert_int_equal(mount_opts_add(buf, sizeof(buf), &len, "ro", NULL), 0);
	assert_string_equal(buf, "ro");
	assert_int_equal(mount_opts_add(buf, sizeof(buf), &len, "a", "b,c"), 0);
	assert_string_equal(buf, "ro,a=b\\,c");
	assert_int_equal(len, strlen(buf));
	/* ",size" fits, "=12" does not: nothing of the option stays */
	assert_int_equal(mount_opts_add(buf, sizeof(buf), &len, "size", "12"), -E2BIG);
	assert_string_equal(buf, "ro,a=b\\,c");
	assert_int_equal(len, strlen(buf));
}

static void test_append_escape_pair_at_end(void **state)
{
	char buf[8];
	size_t len = 0;
	(void)state;

	/* "abcdef" leaves room for one character and the NUL, not for "\:" */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "abcdef"), 0);
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, ":"), -E2BIG);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "abcdef");
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, ","), -E2BIG);
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "\\"), -E2BIG);
	assert_string_equal(buf, "abcdef");

	/* the same one character unescaped fits */
	assert_int_equal(mount_opts_append(buf, sizeof(buf), &len, ":"), 0);
	assert_string_equal(buf, "abcdef:");
	assert_int_equal(len, 7);

	/* an escape pair that ends just before the NUL fits */
	memset(buf, 0, sizeof(buf));
	len = 0;
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "abcde:"), 0);
	assert_string_equal(buf, "abcde\\:");
	assert_int_equal(len, 7);

	/* a pair straddling the end in the middle of a string: the whole string is refused */
	memset(buf, 0, sizeof(buf));
	len = 0;
	assert_int_equal(mount_opts_append_escaped(buf, sizeof(buf), &len, "abcdef,g"), -E2BIG);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
}

static void test_data_build_full(void **state)
{
	char *lowers[] = { "/l/top", "/l/mid", "/l/base", NULL };
	char *options[] = { "volatile", "index=off", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/u",
		.options = options,
		.base_dirfd = AT_FDCWD,
	};
	struct cvol_error err = { 0 };
	char buf[4096];
	(void)state;

	assert_int_equal(overlay_data_build(&cfg, "/w", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "lowerdir=/l/top:/l/mid:/l/base,upperdir=/u,workdir=/w,volatile,index=off");

	/* no extra options */
	cfg.options = NULL;
	assert_int_equal(overlay_data_build(&cfg, "/w", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "lowerdir=/l/top:/l/mid:/l/base,upperdir=/u,workdir=/w");
}

static void test_data_build_escapes_paths(void **state)
{
	char *lowers[] = { "x,upperdir=/tmp/evil", "a:b", "c\\d", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/up,per",
		.base_dirfd = AT_FDCWD,
	};
	struct cvol_error err = { 0 };
	char buf[4096];
	(void)state;

	assert_int_equal(overlay_data_build(&cfg, "/wo:rk", buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "lowerdir=x\\,upperdir=/tmp/evil:a\\:b:c\\\\d"
				 ",upperdir=/up\\,per,workdir=/wo\\:rk");
}

static void test_data_build_read_only(void **state)
{
	char *lowers[] = { "l/A", "l/B", NULL };
	char *options[] = { "userxattr", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.options = options,
		.read_only = true,
		.base_dirfd = AT_FDCWD,
	};
	struct cvol_error err = { 0 };
	char buf[4096];
	(void)state;

	assert_int_equal(overlay_data_build(&cfg, NULL, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "lowerdir=l/A:l/B,userxattr");
	assert_null(strstr(buf, "upperdir"));
	assert_null(strstr(buf, "workdir"));
}

static void test_data_build_too_big(void **state)
{
	enum { N = 500 };
	char *lowers[N + 1];
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/u",
		.base_dirfd = AT_FDCWD,
	};
	struct cvol_error err = { 0 };
	char buf[4096];
	(void)state;

	for (size_t i = 0; i < N; i++) {
		lowers[i] = malloc(64);
		assert_non_null(lowers[i]);
		snprintf(lowers[i], 64, "/var/lib/cvol/overlay/l/ABCDEFGHIJKLMNOPQRSTUV%04zu", i);
	}
	lowers[N] = NULL;

	int r = overlay_data_build(&cfg, "/w", buf, sizeof(buf), &err);
	assert_int_equal(r, -E2BIG);
	assert_int_equal(err.code, E2BIG);
	assert_contains(err.msg, "500 lower layers");
	assert_contains(err.msg, "lowerdir+");

	for (size_t i = 0; i < N; i++)
		free(lowers[i]);
}

static void test_data_build_no_room(void **state)
{
	char *lowers[] = { "a", "b", NULL };
	struct cvol_overlay_config cfg = { .lowers = lowers, .read_only = true, .base_dirfd = AT_FDCWD };
	struct cvol_error err = { 0 };
	char buf[16];
	(void)state;

	assert_int_equal(overlay_data_build(&cfg, NULL, buf, 0, &err), -E2BIG);
	assert_int_equal(err.code, E2BIG);
	assert_int_equal(overlay_data_build(&cfg, NULL, buf, 8, &err), -E2BIG);
	/* "lowerdir=a:b" is 12 characters: 13 bytes fit, 12 do not */
	assert_int_equal(overlay_data_build(&cfg, NULL, buf, 12, &err), -E2BIG);
	assert_int_equal(overlay_data_build(&cfg, NULL, buf, 13, &err), 0);
	assert_string_equal(buf, "lowerdir=a:b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option_check_known),
		cmocka_unit_test(test_option_check_unknown),
		cmocka_unit_test(test_option_check_flag_with_value),
		cmocka_unit_test(test_option_check_bad_value),
		cmocka_unit_test(test_option_check_smuggled),
		cmocka_unit_test(test_append_escaped),
		cmocka_unit_test(test_append_too_big),
		cmocka_unit_test(test_append_escape_pair_at_end),
		cmocka_unit_test(test_add_option),
		cmocka_unit_test(test_data_build_full),
		cmocka_unit_test(test_data_build_escapes_paths),
		cmocka_unit_test(test_data_build_read_only),
		cmocka_unit_test(test_data_build_too_big),
		cmocka_unit_test(test_data_build_no_room),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
