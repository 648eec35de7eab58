/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Short link names and the parent chains kept in each layer's lower file. */
#include "unit.h"

#include <errno.h>

#include "../../layers/layers-internal.h"

#define ID_X "XXXXXXXXXXXXXXXXXXXXXXXXX1"
#define ID_Y "YYYYYYYYYYYYYYYYYYYYYYYYY2"
#define ID_Z "ZZZZZZZZZZZZZZZZZZZZZZZZZ3"

static void test_shortid_generate(void **state)
{
	char a[CVOL_SHORTID_LEN + 1], b[CVOL_SHORTID_LEN + 1];
	(void)state;

	memset(a, '?', sizeof(a));
	memset(b, '?', sizeof(b));
	assert_int_equal(shortid_generate(a), 0);
	assert_int_equal(shortid_generate(b), 0);
	assert_int_equal(strlen(a), 26);
	assert_int_equal(strlen(b), 26);
	for (size_t i = 0; i < CVOL_SHORTID_LEN; i++)
		if (!((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9')))
			fail_msg("`%s` has `%c` at %zu", a, a[i], i);
	assert_string_not_equal(a, b);
	assert_true(shortid_is_valid(a));
	assert_true(shortid_is_valid(b));
}

static void test_shortid_is_valid(void **state)
{
	(void)state;
	assert_true(shortid_is_valid(ID_X));
	assert_true(shortid_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_true(shortid_is_valid("01234567890123456789012345"));
	assert_false(shortid_is_valid(""));
	assert_false(shortid_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXY"));   /* 25 */
	assert_false(shortid_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ0")); /* 27 */
	assert_false(shortid_is_valid("abcdefghijklmnopqrstuvwxyz"));
	assert_false(shortid_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXY/"));
	assert_false(shortid_is_valid("../DEFGHIJKLMNOPQRSTUVWXYZ"));
	assert_false(shortid_is_valid("ABCDEFGHIJKLMNOPQRSTUVWXY:"));
}

static void test_chain_for_base_parent(void **state)
{
	_cleanup_free_ char *lower = NULL;
	_cleanup_free_ char *lower2 = NULL;
	(void)state;

	assert_int_equal(chain_for_child(ID_X, NULL, &lower), 0);
	assert_string_equal(lower, "l/" ID_X);
	/* a base layer's lower file is empty */
	assert_int_equal(chain_for_child(ID_X, "", &lower2), 0);
	assert_string_equal(lower2, "l/" ID_X);
}

static void test_chain_for_child_of_child(void **state)
{
	_cleanup_free_ char *lower = NULL;
	(void)state;

	assert_int_equal(chain_for_child(ID_X, "l/" ID_Y ":l/" ID_Z, &lower), 0);
	assert_string_equal(lower, "l/" ID_X ":l/" ID_Y ":l/" ID_Z);
}

static void test_chain_for_child_bad_link(void **state)
{
	char *lower = (char *)"untouched";
	(void)state;

	assert_int_equal(chain_for_child("", NULL, &lower), -EINVAL);
	assert_int_equal(chain_for_child("../../etc", NULL, &lower), -EINVAL);
	assert_int_equal(chain_for_child("l/" ID_X, NULL, &lower), -EINVAL);
	assert_int_equal(chain_for_child("xxxxxxxxxxxxxxxxxxxxxxxxxx", NULL, &lower), -EINVAL);
	assert_string_equal(lower, "untouched");
}

static void test_chain_parse_empty(void **state)
{
	_cleanup_strv_free_ char **entries = NULL;
	(void)state;

	assert_int_equal(chain_parse("", &entries), 0);
	assert_non_null(entries);
	assert_int_equal(strv_length(entries), 0);
}

static void test_chain_round_trip(void **state)
{
	_cleanup_free_ char *base_child = NULL, *grandchild = NULL;
	_cleanup_strv_free_ char **entries = NULL;
	(void)state;

	assert_int_equal(chain_for_child(ID_Z, "", &base_child), 0);
	assert_int_equal(chain_for_child(ID_Y, base_child, &grandchild), 0);
	assert_int_equal(chain_parse(grandchild, &entries), 0);
	assert_int_equal(strv_length(entries), 2);
	assert_string_equal(entries[0], "l/" ID_Y);
	assert_string_equal(entries[1], "l/" ID_Z);
	assert_null(entries[2]);
}

static void test_chain_parse_corrupt(void **state)
{
	static const char *const bad[] = {
		"garbage",
		"l/",
		"l/short",
		"/l/" ID_X,
		"L/" ID_X,
		"l/" ID_X ":",
		":l/" ID_X,
		"l/" ID_X "::l/" ID_Y,
		"l/" ID_X ":../../../etc",
		"l/" ID_X ":l/" ID_Y "/..",
		"l/" ID_X "\\:l/" ID_Y,
		"l/" ID_X ",l/" ID_Y,
		"l/" ID_X "\n",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char **entries = NULL;
		int r = chain_parse(bad[i], &entries);
		if (r != -EBADMSG)
			fail_msg("`%s` gave %d, not -EBADMSG", bad[i], r);
		assert_null(entries);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shortid_generate),
		cmocka_unit_test(test_shortid_is_valid),
		cmocka_unit_test(test_chain_for_base_parent),
		cmocka_unit_test(test_chain_for_child_of_child),
		cmocka_unit_test(test_chain_for_child_bad_link),
		cmocka_unit_test(test_chain_parse_empty),
		cmocka_unit_test(test_chain_round_trip),
		cmocka_unit_test(test_chain_parse_corrupt),
	};

	return cmocka_run_group_tests_name("chain", tests, NULL, NULL);
}
