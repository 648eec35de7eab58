/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* String arrays, the escaped split, and the name rule for layers and volumes. */
#include "unit.h"

#include <errno.h>

#include "../../common/strv.h"

/* Split @s at @sep and compare with the NULL-terminated @expected. */
static void check_split(const char *s, char sep, const char *const *expected)
{
	_cleanup_strv_free_ char **v = NULL;
	size_t n = 0;

	assert_int_equal(strv_split(s, sep, &v), 0);
	assert_non_null(v);
	while (expected[n])
		n++;
	assert_int_equal(strv_length(v), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], expected[i]);
	assert_null(v[n]);
}

static void test_split_plain(void **state)
{
	(void)state;
	check_split("a:b:c", ':', (const char *const[]){ "a", "b", "c", NULL });
	check_split("one", ':', (const char *const[]){ "one", NULL });
	check_split("x,y", ',', (const char *const[]){ "x", "y", NULL });
	/* another separator is just a character */
	check_split("x,y", ':', (const char *const[]){ "x,y", NULL });
}

static void test_split_escaped_separator(void **state)
{
	(void)state;
	check_split("a\\:b", ':', (const char *const[]){ "a:b", NULL });
	check_split("a\\:b:c", ':', (const char *const[]){ "a:b", "c", NULL });
	check_split("a\\,b,c", ',', (const char *const[]){ "a,b", "c", NULL });
}

static void test_split_escaped_backslash(void **state)
{
	(void)state;
	/* "a\\:b": the backslash is escaped, so the ':' separates */
	check_split("a\\\\:b", ':', (const char *const[]){ "a\\", "b", NULL });
	check_split("a\\\\b", ':', (const char *const[]){ "a\\b", NULL });
	/* a backslash before anything else stays as it is */
	check_split("a\\nb", ':', (const char *const[]){ "a\\nb", NULL });
	check_split("a\\", ':', (const char *const[]){ "a\\", NULL });
}

static void test_split_empty_parts(void **state)
{
	(void)state;
	check_split("a::b", ':', (const char *const[]){ "a", "", "b", NULL });
	check_split(":a", ':', (const char *const[]){ "", "a", NULL });
	check_split("", ':', (const char *const[]){ "", NULL });
	check_split(":", ':', (const char *const[]){ "", "", NULL });
}

static void test_split_trailing_separator(void **state)
{
	(void)state;
	check_split("a:b:", ':', (const char *const[]){ "a", "b", "", NULL });
	check_split("a\\:", ':', (const char *const[]){ "a:", NULL });
}

static void test_push_and_length(void **state)
{
	_cleanup_strv_free_ char **v = NULL;
	char buf[] = "second";
	(void)state;

	assert_int_equal(strv_length(NULL), 0);
	assert_int_equal(strv_push(&v, "first"), 0);
	assert_int_equal(strv_length(v), 1);
	assert_int_equal(strv_push(&v, buf), 0);
	assert_int_equal(strv_push(&v, ""), 0);
	assert_int_equal(strv_length(v), 3);

	/* push copies */
	buf[0] = 'X';
	assert_string_equal(v[0], "first");
	assert_string_equal(v[1], "second");
	assert_string_equal(v[2], "");
	assert_null(v[3]);
	cvol_strv_free(NULL);
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(name_is_valid("a"));
	assert_true(name_is_valid("Z"));
	assert_true(name_is_valid("0"));
	assert_true(name_is_valid("my-volume_1.0"));
	assert_true(name_is_valid("9f86d081884c7d659a2feaa0c55ad015"));
	assert_true(name_is_valid("a..b"));
}

static void test_name_invalid(void **state)
{
	(void)state;
	assert_false(name_is_valid(NULL));
	assert_false(name_is_valid(""));
	assert_false(name_is_valid("."));
	assert_false(name_is_valid(".."));
	assert_false(name_is_valid("../x"));
	assert_false(name_is_valid("a/b"));
	assert_false(name_is_valid("/etc"));
	assert_false(name_is_valid(".hidden"));
	assert_false(name_is_valid("-x"));
	assert_false(name_is_valid("_x"));
	assert_false(name_is_valid("a b"));
	assert_false(name_is_valid("a:b"));
	assert_false(name_is_valid("a,b"));
	assert_false(name_is_valid("a\nb"));
	assert_false(name_is_valid("caf\xc3\xa9"));
	assert_false(name_is_valid("\xc3\xa9t\xc3\xa9"));
}

static void test_name_length(void **state)
{
	char name[258];
	(void)state;

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	assert_true(name_is_valid(name));
	name[255] = 'b';
	name[256] = '\0';
	assert_false(name_is_valid(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_plain),
		cmocka_unit_test(test_split_escaped_separator),
		cmocka_unit_test(test_split_escaped_backslash),
		cmocka_unit_test(test_split_empty_parts),
		cmocka_unit_test(test_split_trailing_separator),
		cmocka_unit_test(test_push_and_length),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_name_length),
	};

	return cmocka_run_group_tests_name("strv", tests, NULL, NULL);
}
