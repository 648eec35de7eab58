/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one walk of a directory tree: names in byte order, parents before their children,
 * without recursion and with two descriptors open whatever the depth (a frame keeps the
 * sorted names of its directory on the heap; going up reopens ".." and checks it is the
 * directory it left). Trees come from containers and images: any depth is walked. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "error.h"

/* ---- listings ------------------------------------------------------------------------ */

/* Called for each entry but "." and ".."; a negative return stops the walk. */
typedef int (*dir_entry_fn)(int dirfd, const char *name, unsigned char d_type, void *data,
			    struct cvol_error *err);
/* Call @fn for every entry of the directory @dirfd. */
int dir_for_each(int dirfd, dir_entry_fn fn, void *data, struct cvol_error *err);
/* The names in the directory @dirfd (but "." and ".."), sorted; free with cvol_strv_free(). */
int dir_list_sorted(int dirfd, char ***ret_names, struct cvol_error *err);
/* ---- tree walks ---------------------------------------------------------------------- */

#define WALK_CONTINUE 0 /* go on, into the entry when it is a directory */
#define WALK_SKIP     1 /* go on, but not into this directory */

struct walk_entry {
	int dirfd;	       /* the directory that holds the entry */
	const char *name;      /* its name there */
	const char *path;      /* its path from the root of the walk, no leading "/" */
	const struct stat *st; /* its lstat */
};

struct walk_ops {
	/* Each entry, before the entries under it: WALK_CONTINUE, WALK_SKIP or -errno. */
	int (*enter)(const struct walk_entry *e, void *data, struct cvol_error *err);
	/* Each directory entered, after the entries under it (NULL: nothing to do); -errno stops. */
	int (*leave)(const struct walk_entry *e, void *data, struct cvol_error *err);
	/* 0: a directory's names are all listed (and sorted) before its first entry. N: at most N
	 * at a time (each batch sorted), the directory read on from where the batch before
	 * stopped: memory bounded whatever a directory holds. */
	size_t batch;
};

/* Walk the tree under the directory @rootfd (not @rootfd itself). */
int tree_walk(int rootfd, const struct walk_ops *ops, void *data, struct cvol_error *err);
