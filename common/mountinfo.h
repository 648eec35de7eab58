/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one reader of /proc/self/mountinfo (libmount), shared by both stores. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct libmnt_table;

/* This process's mount table, or NULL when it cannot be read; free with mountinfo_free(). */
struct libmnt_table *mountinfo_load(void);
/* Free what mountinfo_load() returned (NULL is fine). */
void mountinfo_free(struct libmnt_table *mountinfo);
/* True when the topmost mount on @path is of @fstype (NULL: any type); with @mnt_id > 0, only
 * when it is that mount. Loads the table itself when @mountinfo is NULL. */
bool mountinfo_has(struct libmnt_table *mountinfo, const char *path, const char *fstype, int mnt_id);
