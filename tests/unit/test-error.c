/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cvol_error_*: the message, the errno, and `ret == -err->code`. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "../../common/error.h"

static void test_set_appends_strerror(void **state)
{
	struct cvol_error err = { 0 };
	char expected[CVOL_ERROR_MSG_MAX];
	(void)state;

	int r = cvol_error_set(&err, ENOENT, "open `%s`", "/srv/x");
	snprintf(expected, sizeof(expected), "open `/srv/x`: %s", strerror(ENOENT));
	assert_int_equal(r, -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(r, -err.code);
	assert_string_equal(err.msg, expected);
}

static void test_setx_has_no_strerror(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	int r = cvol_error_setx(&err, EINVAL, "layer `%s` is not valid", "a/b");
	assert_int_equal(r, -EINVAL);
	assert_int_equal(r, -err.code);
	assert_string_equal(err.msg, "layer `a/b` is not valid");
}

static void test_wrap_adds_prefix_keeps_code(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	cvol_error_setx(&err, EBUSY, "layer `%s` is mounted", "abc");
	int r = cvol_error_wrap(&err, "remove `%s`", "abc");
	assert_int_equal(r, -EBUSY);
	assert_int_equal(err.code, EBUSY);
	assert_string_equal(err.msg, "remove `abc`: layer `abc` is mounted");

	r = cvol_error_wrap(&err, "store `%s`", "/var/lib/cvol");
	assert_int_equal(r, -EBUSY);
	assert_string_equal(err.msg, "store `/var/lib/cvol`: remove `abc`: layer `abc` is mounted");
}

static void test_wrap_without_code_gives_eio(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	int r = cvol_error_wrap(&err, "context");
	assert_int_equal(r, -EIO);
	assert_int_equal(err.code, EIO);
	assert_string_equal(err.msg, "context: ");
}

static void test_negative_and_zero_errnum(void **state)
{
	struct cvol_error err = { 0 };
	char expected[CVOL_ERROR_MSG_MAX];
	(void)state;

	int r = cvol_error_set(&err, -EACCES, "chmod `%s`", "f");
	snprintf(expected, sizeof(expected), "chmod `f`: %s", strerror(EACCES));
	assert_int_equal(r, -EACCES);
	assert_int_equal(err.code, EACCES);
	assert_string_equal(err.msg, expected);

	r = cvol_error_setx(&err, -EPERM, "no");
	assert_int_equal(r, -EPERM);
	assert_int_equal(err.code, EPERM);

	/* 0 is not an error code; it must not come back as "success" */
	r = cvol_error_setx(&err, 0, "odd");
	assert_int_equal(r, -EIO);
	assert_int_equal(err.code, EIO);
}

static void test_null_err_tolerated(void **state)
{
	(void)state;

	assert_int_equal(cvol_error_set(NULL, ENOENT, "open `%s`", "x"), -ENOENT);
	assert_int_equal(cvol_error_setx(NULL, -E2BIG, "too big"), -E2BIG);
	assert_int_equal(cvol_error_wrap(NULL, "context"), -EIO);
	cvol_error_clear(NULL);
}

static void test_clear(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	cvol_error_set(&err, ENOSPC, "write");
	cvol_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
}

static void test_long_message_truncated(void **state)
{
	struct cvol_error err = { 0 };
	char path[3000];
	(void)state;

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	int r = cvol_error_set(&err, ENOENT, "open `%s`", path);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(strlen(err.msg), CVOL_ERROR_MSG_MAX - 1);
	assert_true(strncmp(err.msg, "open `ppp", 9) == 0);

	r = cvol_error_wrap(&err, "layer `%s`", "x");
	assert_int_equal(r, -ENOENT);
	assert_int_equal(strlen(err.msg), CVOL_ERROR_MSG_MAX - 1);
	assert_true(strncmp(err.msg, "layer `x`: open `ppp", 20) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_appends_strerror),
		cmocka_unit_test(test_setx_has_no_strerror),
		cmocka_unit_test(test_wrap_adds_prefix_keeps_code),
		cmocka_unit_test(test_wrap_without_code_gives_eio),
		cmocka_unit_test(test_negative_and_zero_errnum),
		cmocka_unit_test(test_null_err_tolerated),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_long_message_truncated),
	};

	return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
