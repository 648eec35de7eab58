/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A mount laid out as typed steps before anything is touched (bubblewrap's SetupOp). */
#include "overlay-internal.h"

#include <stdio.h>
#include <string.h>

/* "<upper>.work", next to the upper directory; trailing slashes dropped. */
static int default_work_dir(const char *upper, char **ret)
{
	size_t len = strlen(upper);

	while (len > 1 && upper[len - 1] == '/')
		len--;
	return asprintf(ret, "%.*s.work", (int)len, upper) < 0 ? -ENOMEM : 0;
}

static int plan_add(struct mount_plan *plan, enum mount_step_kind kind, const char *path)
{
	if (plan->n_steps >= ARRAY_SIZE(plan->steps))
		return -E2BIG;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	plan->steps[plan->n_steps++] = (struct mount_step){ .kind = kind, .path = copy };
	return 0;
}

int mount_plan_build(const struct cvol_overlay_config *cfg, const char *merged, struct mount_plan *ret_plan,
		     struct cvol_error *err)
{
	struct mount_plan plan = { .cfg = cfg };
	size_t n_lowers = strv_length(cfg->lowers);
	int r = 0;

	if (n_lowers == 0)
		return cvol_error_setx(err, EINVAL, "mount `%s`: no lower layer given", merged);
	if (n_lowers > CVOL_OVERLAY_MAX_LOWERS)
		return cvol_error_setx(err, E2BIG,
				       "mount `%s`: %zu lower layers exceed the kernel's limit of %d", merged,
				       n_lowers, CVOL_OVERLAY_MAX_LOWERS);
	if (cfg->upper && cfg->read_only)
		return cvol_error_setx(err, EINVAL, "mount `%s`: a read-only root takes no upper layer",
				       merged);
	if (!cfg->upper && n_lowers < 2)
		return cvol_error_setx(
			err, EINVAL,
			"mount `%s`: a root without an upper layer needs at least two lower layers", merged);
	if (!cfg->upper && cfg->work)
		return cvol_error_setx(err, EINVAL, "mount `%s`: a work dir needs an upper layer", merged);
	if (!cfg->upper && !cfg->read_only)
		return cvol_error_setx(err, EINVAL, "mount `%s`: no upper layer given (use a read-only root)",
				       merged);
	for (char **o = cfg->options; o && *o; o++) {
		r = cvol_overlay_option_check(*o, err);
		if (r < 0)
			return r;
	}

	if (cfg->upper) {
		r = cfg->work ? ((plan.work = strdup(cfg->work)) ? 0 : -ENOMEM)
			      : default_work_dir(cfg->upper, &plan.work);
		if (r == 0)
			r = plan_add(&plan, MOUNT_STEP_ENSURE_DIR, plan.work);
	}
	if (r == 0)
		r = plan_add(&plan, MOUNT_STEP_MOUNT_OVERLAY, merged);
	if (r < 0) {
		mount_plan_done(&plan);
		return cvol_error_set(err, r, "plan the mount of `%s`", merged);
	}
	*ret_plan = plan;
	return 0;
}

void mount_plan_done(struct mount_plan *plan)
{
	for (size_t i = 0; i < plan->n_steps; i++)
		free(plan->steps[i].path);
	free(plan->work);
	plan->n_steps = 0;
	plan->work = NULL;
}
