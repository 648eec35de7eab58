/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The command line of cvol-mount, parsed without mounting anything. */
#include "unit.h"

#include <errno.h>

#include "../../cmd/mount-args.h"
#include "../../common/strv.h"

/* Parse "cvol-mount ARGS..."; the array is writable, as getopt permutes it. */
#define PARSE(ret, err, ...)                                                                                 \
	({                                                                                                   \
		char *_argv[] = { "cvol-mount", ##__VA_ARGS__, NULL };                                       \
		mount_args_parse((int)ARRAY_SIZE(_argv) - 1, _argv, (ret), (err));                           \
	})

/* Parse ARGS, which must fail with -EINVAL and a message containing TEXT. */
#define PARSE_FAILS(text, ...)                                                                               \
	do {                                                                                                 \
		struct mount_args _a = { .mode = (enum mount_mode)99 };                                      \
		struct cvol_error _err = { 0 };                                                              \
		assert_int_equal(PARSE(&_a, &_err, ##__VA_ARGS__), -EINVAL);                                 \
		assert_int_equal(_err.code, EINVAL);                                                         \
		assert_contains(_err.msg, (text));                                                           \
		/* the result is untouched */                                                                \
		assert_int_equal(_a.mode, 99);                                                               \
		assert_null(_a.lowers);                                                                      \
	} while (0)

static void assert_strv_equal(char **v, const char *const *expected)
{
	size_t n = 0;

	while (expected[n])
		n++;
	assert_non_null(v);
	assert_int_equal(strv_length(v), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], expected[i]);
}

static void test_full_mount(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	int r = PARSE(&a, &err, "--lower", "a:b", "--upper", "u", "--work", "w", "-o", "volatile,index=off",
		      "-o", "userxattr", "merged");
	if (r != 0)
		fail_msg("refused: %s", err.msg);
	assert_int_equal(a.mode, MOUNT_MODE_MOUNT);
	assert_strv_equal(a.lowers, (const char *const[]){ "a", "b", NULL });
	assert_string_equal(a.upper, "u");
	assert_string_equal(a.work, "w");
	assert_strv_equal(a.options, (const char *const[]){ "volatile", "index=off", "userxattr", NULL });
	assert_false(a.read_only);
	assert_false(a.json);
	assert_string_equal(a.target, "merged");
	mount_args_done(&a);
	assert_null(a.lowers);
	assert_null(a.target);
}

static void test_target_first_and_equals(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	/* getopt permutes: the mount point may come first; --opt=value works too */
	int r = PARSE(&a, &err, "merged", "--lower=x", "--upper=u", "--options=metacopy=on", "--json");
	if (r != 0)
		fail_msg("refused: %s", err.msg);
	assert_strv_equal(a.lowers, (const char *const[]){ "x", NULL });
	assert_string_equal(a.upper, "u");
	assert_null(a.work);
	assert_strv_equal(a.options, (const char *const[]){ "metacopy=on", NULL });
	assert_true(a.json);
	assert_string_equal(a.target, "merged");
	mount_args_done(&a);
}

static void test_escaped_lower(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(PARSE(&a, &err, "--lower", "a\\:b:c", "--upper", "u", "m"), 0);
	assert_strv_equal(a.lowers, (const char *const[]){ "a:b", "c", NULL });
	mount_args_done(&a);
}

static void test_read_only(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(PARSE(&a, &err, "--read-only", "--lower", "l1:l2", "/mnt/ro"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_MOUNT);
	assert_true(a.read_only);
	assert_null(a.upper);
	assert_null(a.work);
	assert_null(a.options);
	assert_strv_equal(a.lowers, (const char *const[]){ "l1", "l2", NULL });
	assert_string_equal(a.target, "/mnt/ro");
	mount_args_done(&a);

	assert_int_equal(PARSE(&a, &err, "-r", "--lower", "l1:l2", "/mnt/ro"), 0);
	assert_true(a.read_only);
	mount_args_done(&a);
}

static void test_check(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(PARSE(&a, &err, "--check", "/var/lib/x", "--json"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_CHECK);
	assert_string_equal(a.target, "/var/lib/x");
	assert_true(a.json);
	assert_null(a.lowers);
	mount_args_done(&a);
}

static void test_umount(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(PARSE(&a, &err, "--umount", "/mnt/m"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_UMOUNT);
	assert_string_equal(a.target, "/mnt/m");
	assert_false(a.json);
	mount_args_done(&a);
}

static void test_help_and_version(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(PARSE(&a, &err, "--help"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_HELP);
	mount_args_done(&a);
	assert_int_equal(PARSE(&a, &err, "-h"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_HELP);
	mount_args_done(&a);
	/* --help wins over missing mount options */
	assert_int_equal(PARSE(&a, &err, "--upper", "u", "--help"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_HELP);
	mount_args_done(&a);

	assert_int_equal(PARSE(&a, &err, "--version"), 0);
	assert_int_equal(a.mode, MOUNT_MODE_VERSION);
	mount_args_done(&a);
}

static void test_parse_twice(void **state)
{
	struct mount_args a = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	/* getopt state is reset between calls */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(PARSE(&a, &err, "--lower", "a", "--upper", "u", "m"), 0);
		assert_string_equal(a.target, "m");
		mount_args_done(&a);
		PARSE_FAILS("unknown option `--bogus`", "--bogus");
	}
}

static void test_layers_and_exec(void **state)
{
	(void)state;
	struct mount_args a;
	struct cvol_error err = { 0 };

	assert_int_equal(PARSE(&a, &err, "--layers", "app", "--root", "/r", "--upper", "u", "m", "--exec",
			       "--seccomp", "unconfined", "--keep", "--", "/bin/sh", "-c", "exit 3"),
			 0);
	assert_string_equal(a.layers, "app");
	assert_string_equal(a.root, "/r");
	assert_null(a.lowers);
	assert_string_equal(a.target, "m");
	assert_true(a.exec);
	assert_true(a.keep);
	assert_string_equal(a.seccomp, "unconfined");
	assert_string_equal(a.command[0], "/bin/sh");
	assert_string_equal(a.command[1], "-c");
	assert_string_equal(a.command[2], "exit 3");
	assert_null(a.command[3]);
	mount_args_done(&a);
}

static void test_usage_errors(void **state)
{
	(void)state;

	PARSE_FAILS("no --lower or --layers given");
	PARSE_FAILS("no --lower or --layers given", "--upper", "u", "m");
	PARSE_FAILS("no mount point given", "--lower", "a", "--upper", "u");
	PARSE_FAILS("--lower and --layers cannot be combined", "--lower", "a", "--layers", "x", "--upper",
		    "u", "m");
	PARSE_FAILS("--root is for --layers", "--lower", "a", "--root", "/r", "--upper", "u", "m");
	PARSE_FAILS("--exec needs a command", "--lower", "a", "--upper", "u", "m", "--exec");
	PARSE_FAILS("--keep and --seccomp are for --exec", "--lower", "a", "--upper", "u", "--keep", "m");
	PARSE_FAILS("unexpected argument `m2`", "--lower", "a", "--upper", "u", "m1", "m2");
	PARSE_FAILS("no --upper given", "--lower", "a", "m");
	PARSE_FAILS("--read-only takes no --upper", "--lower", "a:b", "--upper", "u", "--read-only", "m");
	PARSE_FAILS("--work needs --upper", "--lower", "a:b", "--work", "w", "--read-only", "m");
	PARSE_FAILS("--check and --umount take no mount options", "--check", "/d", "--lower", "a");
	PARSE_FAILS("--check and --umount take no mount options", "--lower", "a", "--check", "/d");
	PARSE_FAILS("--check and --umount take no mount options", "--umount", "/d", "-r");
	PARSE_FAILS("unexpected argument `extra`", "--umount", "/d", "extra");
	PARSE_FAILS("--umount cannot be combined with another action", "--check", "/d", "--umount", "/e");
	PARSE_FAILS("unknown option `--bogus`", "--bogus", "--lower", "a", "--upper", "u", "m");
	PARSE_FAILS("unknown option `-x`", "-x", "m");
	PARSE_FAILS("option `--lower` needs a value", "m", "--upper", "u", "--lower");
	PARSE_FAILS("option `-o` needs a value", "--lower", "a", "--upper", "u", "m", "-o");
	PARSE_FAILS("--lower given twice", "--lower", "a", "--lower", "b", "--upper", "u", "m");
	PARSE_FAILS("--upper given twice", "--lower", "a", "--upper", "u", "--upper", "v", "m");
	PARSE_FAILS("empty path in `--lower a::b`", "--lower", "a::b", "--upper", "u", "m");
	PARSE_FAILS("empty path in `--lower `", "--lower", "", "--upper", "u", "m");
	PARSE_FAILS("--upper needs a path, got an empty string", "--lower", "a", "--upper", "", "m");
	PARSE_FAILS("empty overlay option in `-o volatile,`", "--lower", "a", "--upper", "u", "-o",
		    "volatile,", "m");
	PARSE_FAILS("mount point needs a path", "--lower", "a", "--upper", "u", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_mount),
		cmocka_unit_test(test_target_first_and_equals),
		cmocka_unit_test(test_escaped_lower),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_umount),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_parse_twice),
		cmocka_unit_test(test_layers_and_exec),
		cmocka_unit_test(test_usage_errors),
	};

	return cmocka_run_group_tests_name("mount-args", tests, NULL, NULL);
}
