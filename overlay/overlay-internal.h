/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to overlay/ (and its unit tests). */
#pragma once

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/mount-opts.h"
#include "../common/strv.h"
#include "overlay.h"

struct libmnt_table;
struct stat;
struct statfs;

/* ---- the probe cache (probe-cache.c) ------------------------------------- */

struct probe_cache {
	const char *dir; /* the cache directory */
	char key[128];	 /* the file in it for one mounted filesystem */
};

/* The cache file for the filesystem of @dirfd (whose statfs is @sfs): its name is the unique
 * mount id, device and fs id; -EOPNOTSUPP when nothing is cached (not root,
 * CVOL_PROBE_CACHE=off, a read-only fs, a kernel without unique mount ids). */
int probe_cache_key(int dirfd, const struct statfs *sfs, struct probe_cache *ret);
/* Fill @fs's probed fields from @cache's file: false when it is missing, not a regular file of
 * root's, or does not parse (then it is probed afresh and rewritten). */
bool probe_cache_load(const struct probe_cache *cache, struct cvol_backing_fs *fs);
/* Write @fs's probed fields to @cache's file, atomically, when the filesystem is fit for an
 * upper; an unfit answer removes the file (it is probed again). Best effort. */
void probe_cache_store(const struct probe_cache *cache, const struct cvol_backing_fs *fs);

/* ---- option strings (options.c) ------------------------------------------ */

/* Build the mount(2) data string for @cfg with @work as the work dir; -E2BIG when it does not fit. */
int overlay_data_build(const struct cvol_overlay_config *cfg, const char *work, char *buf, size_t size,
		       struct cvol_error *err);

/* ---- mount plans (plan.c) ------------------------------------------------ */

enum mount_step_kind {
	MOUNT_STEP_ENSURE_DIR,	  /* mkdir when missing; undo removes it only if made */
	MOUNT_STEP_MOUNT_OVERLAY, /* mount the config on the target; undo unmounts */
};

struct mount_step {
	enum mount_step_kind kind;
	char *path; /* directory to make, or the mount target */
	bool done;  /* ran and has something to undo */
};

struct mount_plan {
	const struct cvol_overlay_config *cfg;
	char *work; /* resolved work dir, NULL for a read-only root */
	struct mount_step steps[4];
	size_t n_steps;
};

/* Lay out the steps that mount @cfg on @merged; touches nothing. */
int mount_plan_build(const struct cvol_overlay_config *cfg, const char *merged, struct mount_plan *ret_plan,
		     struct cvol_error *err);
/* Free what mount_plan_build() allocated. */
void mount_plan_done(struct mount_plan *plan);
