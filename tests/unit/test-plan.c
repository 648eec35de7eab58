/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mount plans: the steps laid out for a config, and the configs refused before any step. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>

#include "../../overlay/overlay-internal.h"

static void test_upper_without_work(void **state)
{
	char *lowers[] = { "/l/a", "/l/b", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/data/upper/",
		.base_dirfd = AT_FDCWD,
	};
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(mount_plan_build(&cfg, "/mnt/merged", &plan, &err), 0);
	assert_ptr_equal(plan.cfg, &cfg);
	assert_string_equal(plan.work, "/data/upper.work");
	assert_int_equal(plan.n_steps, 2);
	assert_int_equal(plan.steps[0].kind, MOUNT_STEP_ENSURE_DIR);
	assert_string_equal(plan.steps[0].path, "/data/upper.work");
	assert_false(plan.steps[0].done);
	assert_int_equal(plan.steps[1].kind, MOUNT_STEP_MOUNT_OVERLAY);
	assert_string_equal(plan.steps[1].path, "/mnt/merged");
	assert_false(plan.steps[1].done);
	mount_plan_done(&plan);
	assert_int_equal(plan.n_steps, 0);
	assert_null(plan.work);
}

static void test_upper_trailing_slashes(void **state)
{
	char *lowers[] = { "a", NULL };
	struct cvol_overlay_config cfg = { .lowers = lowers, .upper = "up//", .base_dirfd = AT_FDCWD };
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(mount_plan_build(&cfg, "m", &plan, &err), 0);
	assert_string_equal(plan.work, "up.work");
	assert_string_equal(plan.steps[0].path, "up.work");
	mount_plan_done(&plan);
}

static void test_explicit_work(void **state)
{
	char *lowers[] = { "/l/a", NULL };
	char *options[] = { "volatile", "index=off", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/u",
		.work = "/elsewhere/w",
		.options = options,
		.base_dirfd = AT_FDCWD,
	};
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(mount_plan_build(&cfg, "/mnt/m", &plan, &err), 0);
	assert_string_equal(plan.work, "/elsewhere/w");
	assert_ptr_not_equal(plan.work, cfg.work);
	assert_int_equal(plan.n_steps, 2);
	assert_int_equal(plan.steps[0].kind, MOUNT_STEP_ENSURE_DIR);
	assert_string_equal(plan.steps[0].path, "/elsewhere/w");
	assert_int_equal(plan.steps[1].kind, MOUNT_STEP_MOUNT_OVERLAY);
	assert_string_equal(plan.steps[1].path, "/mnt/m");
	mount_plan_done(&plan);
}

static void test_read_only(void **state)
{
	char *lowers[] = { "/l/a", "/l/b", NULL };
	struct cvol_overlay_config cfg = { .lowers = lowers, .read_only = true, .base_dirfd = AT_FDCWD };
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(mount_plan_build(&cfg, "/mnt/ro", &plan, &err), 0);
	assert_null(plan.work);
	assert_int_equal(plan.n_steps, 1);
	assert_int_equal(plan.steps[0].kind, MOUNT_STEP_MOUNT_OVERLAY);
	assert_string_equal(plan.steps[0].path, "/mnt/ro");
	mount_plan_done(&plan);
}

/* Build a plan that must be refused with -@code and a message containing @text. */
static void check_refused(const struct cvol_overlay_config *cfg, int code, const char *text)
{
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };

	int r = mount_plan_build(cfg, "/mnt/x", &plan, &err);
	assert_int_equal(r, -code);
	assert_int_equal(err.code, code);
	assert_contains(err.msg, "/mnt/x");
	assert_contains(err.msg, text);
	/* nothing handed out */
	assert_int_equal(plan.n_steps, 0);
	assert_null(plan.work);
}

static void test_read_only_one_lower(void **state)
{
	char *lowers[] = { "/l/a", NULL };
	struct cvol_overlay_config cfg = { .lowers = lowers, .read_only = true, .base_dirfd = AT_FDCWD };
	(void)state;

	check_refused(&cfg, EINVAL, "at least two lower layers");
}

static void test_no_lowers(void **state)
{
	char *none[] = { NULL };
	struct cvol_overlay_config cfg = { .lowers = none, .upper = "/u", .base_dirfd = AT_FDCWD };
	(void)state;

	check_refused(&cfg, EINVAL, "no lower layer");
	cfg.lowers = NULL;
	check_refused(&cfg, EINVAL, "no lower layer");
}

static void test_too_many_lowers(void **state)
{
	char *lowers[CVOL_OVERLAY_MAX_LOWERS + 2];
	struct cvol_overlay_config cfg = { .lowers = lowers, .upper = "/u", .base_dirfd = AT_FDCWD };
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	for (size_t i = 0; i < CVOL_OVERLAY_MAX_LOWERS + 1; i++)
		lowers[i] = "/l";
	lowers[CVOL_OVERLAY_MAX_LOWERS + 1] = NULL;
	check_refused(&cfg, E2BIG, "501 lower layers");
	check_refused(&cfg, E2BIG, "limit of 500");

	/* 500 is the limit, not past it */
	lowers[CVOL_OVERLAY_MAX_LOWERS] = NULL;
	assert_int_equal(mount_plan_build(&cfg, "/mnt/x", &plan, &err), 0);
	assert_int_equal(plan.n_steps, 2);
	mount_plan_done(&plan);
}

static void test_upper_and_read_only(void **state)
{
	char *lowers[] = { "/l/a", "/l/b", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/u",
		.read_only = true,
		.base_dirfd = AT_FDCWD,
	};
	(void)state;

	check_refused(&cfg, EINVAL, "a read-only root takes no upper layer");
}

static void test_work_without_upper(void **state)
{
	char *lowers[] = { "/l/a", "/l/b", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.work = "/w",
		.read_only = true,
		.base_dirfd = AT_FDCWD,
	};
	(void)state;

	check_refused(&cfg, EINVAL, "a work dir needs an upper layer");
	cfg.read_only = false;
	check_refused(&cfg, EINVAL, "a work dir needs an upper layer");
}

static void test_no_upper_not_read_only(void **state)
{
	char *lowers[] = { "/l/a", "/l/b", NULL };
	struct cvol_overlay_config cfg = { .lowers = lowers, .base_dirfd = AT_FDCWD };
	(void)state;

	check_refused(&cfg, EINVAL, "no upper layer given");
}

static void test_unknown_option(void **state)
{
	char *lowers[] = { "/l/a", NULL };
	char *options[] = { "volatile", "upperdir=/tmp/evil", NULL };
	struct cvol_overlay_config cfg = {
		.lowers = lowers,
		.upper = "/u",
		.options = options,
		.base_dirfd = AT_FDCWD,
	};
	struct mount_plan plan = { 0 };
	struct cvol_error err = { 0 };
	(void)state;

	assert_int_equal(mount_plan_build(&cfg, "/mnt/x", &plan, &err), -EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_contains(err.msg, "unknown overlay option `upperdir=/tmp/evil`");
	assert_int_equal(plan.n_steps, 0);

	options[1] = "index=bogus";
	assert_int_equal(mount_plan_build(&cfg, "/mnt/x", &plan, &err), -EINVAL);
	assert_contains(err.msg, "index=bogus");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upper_without_work),  cmocka_unit_test(test_upper_trailing_slashes),
		cmocka_unit_test(test_explicit_work),	    cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_read_only_one_lower), cmocka_unit_test(test_no_lowers),
		cmocka_unit_test(test_too_many_lowers),	    cmocka_unit_test(test_upper_and_read_only),
		cmocka_unit_test(test_work_without_upper),  cmocka_unit_test(test_no_upper_not_read_only),
		cmocka_unit_test(test_unknown_option),
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
