/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Build in staging, rename into place; rename out, then remove. The one home of both for the
 * layer and the volume store. A store directory holds `.staging/` and `.staging.lock`: builds
 * and removals hold the lock shared, the cleanup of what a crash left takes it exclusive and
 * skips the cleanup when another process is building (a `cvol ... ls` never breaks the
 * plugin's Create). Nothing in .staging/ is ever visible as a layer or a volume. */
#pragma once

#include "error.h"
#include "fs.h"

#define STAGING_DIR	 ".staging" /* in the store directory */
#define STAGING_NAME_MAX 32

struct staging {
	int store_fd;	  /* the directory entries are renamed into and out of */
	int dir_fd;	  /* .staging/ */
	char *store_path; /* @store_fd's path, for warnings */
};

/* Open (making it when missing) .staging/ in @store_fd, whose path is @store_path. */
int staging_open(int store_fd, const char *store_path, struct staging *ret, struct cvol_error *err);
/* Close what staging_open() opened. */
void staging_close(struct staging *s);
/* Remove every leftover in .staging/, unless a build or removal holds the lock now. Never fails:
 * a leftover that cannot be removed (a mount inside it, EPERM, EMFILE) is kept, untouched past
 * what could go, with a warning (log_warning) that names it and the whole cause; the next
 * cleanup tries again. Returns 0. */
int staging_cleanup(struct staging *s, struct cvol_error *err);
/* staging_cleanup(), calling @before on each leftover first (e.g. to unmount what a crash left
 * mounted in it); a negative return from @before keeps that leftover, as a failed removal. */
int staging_cleanup_with(struct staging *s, dir_entry_fn before, void *data, struct cvol_error *err);
/* Hold the staging lock shared for a build or removal; returns the lock fd (close it to release). */
int staging_hold(struct staging *s, struct cvol_error *err);
/* Make a fresh directory in .staging/ named @kind-<random> into @ret_name; returns its fd. */
int staging_make(struct staging *s, char kind, char ret_name[STAGING_NAME_MAX], struct cvol_error *err);
/* Rename the staged @name to @dest in the store (never replacing) and, with @sync, fsync the
 * store dir. */
int staging_commit(struct staging *s, const char *name, const char *dest, bool sync, struct cvol_error *err);
/* Remove the staged @name and everything in it; errors are dropped (a later cleanup retries). */
void staging_discard(struct staging *s, const char *name);
/* Rename @name out of the store into .staging/ (with @sync, fsyncing the store dir: else a power
 * loss may bring it back), then remove it. Once renamed out it is gone for the store, even if
 * the removal fails. */
int staging_remove(struct staging *s, const char *name, bool sync, struct cvol_error *err);
