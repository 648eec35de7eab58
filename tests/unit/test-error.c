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

	int r = cvol_error_setx(&err, EBUSY, "layer `%s` is mounted", "abc");
	r = cvol_error_wrap(&err, r, "remove `%s`", "abc");
	assert_int_equal(r, -EBUSY);
	assert_int_equal(err.code, EBUSY);
	assert_string_equal(err.msg, "remove `abc`: layer `abc` is mounted");

	r = cvol_error_wrap(&err, r, "store `%s`", "/var/lib/cvol");
	assert_int_equal(r, -EBUSY);
	assert_string_equal(err.msg, "store `/var/lib/cvol`: remove `abc`: layer `abc` is mounted");
}

static void test_wrap_keeps_errno_through_wraps(void **state)
{
	struct cvol_error err = { 0 };
	char expected[CVOL_ERROR_MSG_MAX];
	(void)state;

	int r = cvol_error_set(&err, EACCES, "open `%s`", "f");
	for (int i = 0; i < 5; i++) {
		r = cvol_error_wrap(&err, r, "level %d", i);
		assert_int_equal(r, -EACCES);
		assert_int_equal(r, -err.code);
	}
	snprintf(expected, sizeof(expected), "level 4: level 3: level 2: level 1: level 0: open `f`: %s",
		 strerror(EACCES));
	assert_string_equal(err.msg, expected);
}

/* the callee's return value is the code, also when it left no message */
static void test_wrap_without_message_uses_r(void **state)
{
	struct cvol_error err = { 0 };
	char expected[CVOL_ERROR_MSG_MAX];
	(void)state;

	int r = cvol_error_wrap(&err, -ENOSPC, "context");
	snprintf(expected, sizeof(expected), "context: %s", strerror(ENOSPC));
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(err.code, ENOSPC);
	assert_string_equal(err.msg, expected);
}

/* wrapping a success is a caller bug: keep the code in @err, else EIO, never 0 */
static void test_wrap_without_error(void **state)
{
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(cvol_error_wrap(&err, 0, "context"), -EIO);
	assert_int_equal(err.code, EIO);

	cvol_error_setx(&err, EROFS, "read-only");
	assert_int_equal(cvol_error_wrap(&err, 0, "context"), -EROFS);
	assert_int_equal(err.code, EROFS);
	assert_string_equal(err.msg, "context: read-only");
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
	assert_int_equal(cvol_error_wrap(NULL, -ENOENT, "context `%s`", "x"), -ENOENT);
	assert_int_equal(cvol_error_wrap(NULL, 0, "context"), -EIO);
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

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* a message too long loses its middle: the start and the strerror stay */
static void test_long_message_keeps_both_ends(void **state)
{
	struct cvol_error err = { 0 };
	char path[3000], tail[64];
	(void)state;

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	snprintf(tail, sizeof(tail), "ppp`: %s", strerror(ENOENT));
	int r = cvol_error_set(&err, ENOENT, "open `%s`", path);
	assert_int_equal(r, -ENOENT);
	assert_int_equal(strlen(err.msg), CVOL_ERROR_MSG_MAX - 1);
	assert_true(strncmp(err.msg, "open `ppp", 9) == 0);
	assert_non_null(strstr(err.msg, "p\xe2\x80\xa6p"));
	assert_true(ends_with(err.msg, tail));

	r = cvol_error_wrap(&err, r, "layer `%s`", "x");
	assert_int_equal(r, -ENOENT);
	assert_int_equal(strlen(err.msg), CVOL_ERROR_MSG_MAX - 1);
	assert_true(strncmp(err.msg, "layer `x`: open `ppp", 20) == 0);
	assert_true(ends_with(err.msg, tail));
	/* one "…", not one per wrap */
	const char *dots = strstr(err.msg, "\xe2\x80\xa6");
	assert_non_null(dots);
	assert_null(strstr(dots + 1, "\xe2\x80\xa6"));

	/* a prefix longer than the whole message keeps its start and the cause */
	r = cvol_error_wrap(&err, r, "import `%s`", path);
	assert_int_equal(r, -ENOENT);
	assert_true(strncmp(err.msg, "import `ppp", 11) == 0);
	assert_true(ends_with(err.msg, tail));
}

static void test_deep_wrap_keeps_context_and_cause(void **state)
{
	struct cvol_error err = { 0 };
	char cause[64];
	(void)state;

	int r = cvol_error_set(&err, EACCES, "unlink `%s`", "d/f");
	for (int i = 0; i < 200; i++)
		r = cvol_error_wrap(&err, r, "remove `%s`", i == 199 ? "outer" : "d");
	assert_int_equal(r, -EACCES);
	assert_int_equal(err.code, EACCES);
	assert_true(strlen(err.msg) < CVOL_ERROR_MSG_MAX);
	assert_true(strncmp(err.msg, "remove `outer`: remove `d`: ", 28) == 0);
	snprintf(cause, sizeof(cause), "remove `d`: unlink `d/f`: %s", strerror(EACCES));
	assert_true(ends_with(err.msg, cause));
	/* cut between two parts, not inside one */
	const char *dots = strstr(err.msg, ": \xe2\x80\xa6: ");
	assert_non_null(dots);
	dots = strstr(err.msg, "\xe2\x80\xa6");
	assert_non_null(dots);
	assert_null(strstr(dots + 1, "\xe2\x80\xa6"));
}

/* the cut never splits a UTF-8 character */
static void test_cut_on_character_boundary(void **state)
{
	struct cvol_error err = { 0 };
	char path[2000] = "";
	(void)state;

	while (strlen(path) + 3 < sizeof(path))
		strcat(path, "\xc3\xa9"); /* "é" */
	cvol_error_setx(&err, EINVAL, "x`%s`", path);
	const char *dots = strstr(err.msg, "\xe2\x80\xa6");
	assert_non_null(dots);
	assert_true(dots > err.msg + 2 && (unsigned char)dots[-1] == 0xa9);
	assert_true((unsigned char)dots[3] == 0xc3);
	assert_true(ends_with(err.msg, "\xc3\xa9`"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_appends_strerror),
		cmocka_unit_test(test_setx_has_no_strerror),
		cmocka_unit_test(test_wrap_adds_prefix_keeps_code),
		cmocka_unit_test(test_wrap_keeps_errno_through_wraps),
		cmocka_unit_test(test_wrap_without_message_uses_r),
		cmocka_unit_test(test_wrap_without_error),
		cmocka_unit_test(test_negative_and_zero_errnum),
		cmocka_unit_test(test_null_err_tolerated),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_long_message_keeps_both_ends),
		cmocka_unit_test(test_deep_wrap_keeps_context_and_cause),
		cmocka_unit_test(test_cut_on_character_boundary),
	};

	return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
