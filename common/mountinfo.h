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
/* The mount on @path now: its id as mountinfo shows it and, on Linux 6.8+, its unique id (never
 * reused in a boot; 0 when the kernel has none). 0 or -errno. */
int mount_ids_of(const char *path, int *ret_id, uint64_t *ret_unique);
/* Whether the mount with unique id @unique is in this mount namespace (statmount, 6.8+):
 * 1 or 0; -ENOSYS or -EOPNOTSUPP when the kernel cannot say. */
int mount_unique_exists(uint64_t unique);
/* Whether mountinfo holds a mount with id @id of @fstype on @path: the mount itself, not the
 * topmost one on the path. Loads the table itself when @mountinfo is NULL (false if it cannot). */
bool mountinfo_has_id(struct libmnt_table *mountinfo, int id, const char *path, const char *fstype);
