/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to layers/ (and its unit tests and image/). */
#pragma once

#include <archive.h>

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/staging.h"
#include "../common/strv.h"
#include "layers.h"

struct libmnt_table;

#define CVOL_SHORTID_LEN 26 /* as Docker's overlay2: l/<26 chars> */

/* ---- chains and short ids (chain.c) -------------------------------------- */

/* Fill @buf (CVOL_SHORTID_LEN + 1 bytes) with a random short id of [A-Z0-9]. */
int shortid_generate(char *buf);
/* True for a string made as shortid_generate() makes them. */
bool shortid_is_valid(const char *s);
/* The lower file text of a child of a parent with @parent_link and @parent_lower (NULL for a base). */
int chain_for_child(const char *parent_link, const char *parent_lower, char **ret_lower);
/* Split lower file text into "l/<short>" entries, checking each; @text may be empty. */
int chain_parse(const char *text, char ***ret_entries);

/* ---- the layer store (store.c, store-mount.c) ------------------------------ */

struct cvol_layer_store {
	char *overlay_path; /* canonical "<root>/overlay" */
	int overlay_fd;
	int links_fd; /* l/ */
	int roots_fd; /* .roots/: a record per root mounted on the store's layers */
	struct staging staging;
	int lock_fd;	   /* .lock, flock()ed around every change */
	bool made_private; /* the overlay dir is a private mount (done once per store) */
};

/* A layer's metadata as stored: its short link and its parent chain. */
struct layer_meta {
	char link[CVOL_SHORTID_LEN + 1];
	char *lower;  /* "" for a base layer */
	char **chain; /* lower split into "l/<short>" entries */
};

/* An operation on one layer, run with the store locked. */
typedef int (*store_op)(struct cvol_layer_store *store, const char *id, void *data, struct cvol_error *err);
/* Check @id, take the store's lock, run @op, and name the layer in any error ("@what layer `id`: ..."). */
int store_run_locked(struct cvol_layer_store *store, const char *what, const char *id, store_op op,
		     void *data, struct cvol_error *err);
/* Like store_run_locked() with the lock shared, for operations that only read the store
 * (export, diff): they run side by side, and changes wait for them. */
int store_run_shared(struct cvol_layer_store *store, const char *what, const char *id, store_op op,
		     void *data, struct cvol_error *err);
/* Read the metadata of layer @id; -ENOENT with a clear message when it does not exist. */
int layer_meta_load(struct cvol_layer_store *store, const char *id, struct layer_meta *ret,
		    struct cvol_error *err);
/* Free what layer_meta_load() filled in. */
void layer_meta_done(struct layer_meta *m);
/* Refuse, with EBUSY and their names, a layer that has children; @why ends the message. */
int layer_refuse_children(struct cvol_layer_store *store, const struct layer_meta *m, const char *why,
			  struct cvol_error *err);

/* ---- what holds a layer (refs.c) ---------------------------------------------------- */

/* "<store>/<id>/merged", where layer @id is mounted read-write. */
int layer_merged_path(struct cvol_layer_store *store, const char *id, char **ret);
/* References to layer @id's own mount, from mountinfo (NULL: read it) and its count file; 0 when
 * not mounted. */
unsigned layer_mount_count(struct cvol_layer_store *store, const char *id, struct libmnt_table *mountinfo);
/* Store @count references to layer @id's own mount. */
int layer_mount_count_write(struct cvol_layer_store *store, const char *id, unsigned count,
			    struct cvol_error *err);
/* Forget the count of the layer whose directory is @layer_fd. */
void layer_mount_count_drop(int layer_fd);
/* Record, before it is mounted, a root on layer @id at @merged (canonical): *@ret_name names the
 * record. While its mount ids are unknown it holds the layer as long as an overlay is on @merged. */
int layer_root_begin(struct cvol_layer_store *store, const char *id, const char *merged,
		     char ret_name[CVOL_SHORTID_LEN + 1], struct cvol_error *err);
/* Complete the record @name once the root is mounted, with its mount id and unique id. */
int layer_root_commit(struct cvol_layer_store *store, const char *name, const char *id, const char *merged,
		      int mnt_id, uint64_t unique, struct cvol_error *err);
/* Remove what a crash left in .roots/ (half-written records); run with the store locked. */
int layer_roots_repair(struct cvol_layer_store *store, struct cvol_error *err);
/* Remove the record @name of a root that was not mounted. */
void layer_root_abort(struct cvol_layer_store *store, const char *name);
/* Refuse, with EBUSY and their mount points, a layer that a live root uses; drops stale
 * records. Fails, dropping nothing, when it cannot tell which roots live. */
int layer_refuse_roots(struct cvol_layer_store *store, const char *id, struct cvol_error *err);
/* Drop the records of the mount with ids @mnt_id / @unique (just unmounted), and stale ones. */
int layer_roots_drop(struct cvol_layer_store *store, int mnt_id, uint64_t unique, struct cvol_error *err);

/* ---- layer tars (tar-import.c, tar-export.c) ------------------------------------ */

/* Unpack the tar (plain, gzip, zstd...) read from @archive_fd into the directory @rootfd. */
int tar_import(int rootfd, int archive_fd, bool userxattr, struct cvol_tar_stats *ret_stats,
	       struct cvol_error *err);
/* Like tar_import(), reading the archive through libarchive's @read_cb with @ctx. */
int tar_import_read(int rootfd, archive_read_callback *read_cb, void *ctx, bool userxattr,
		    struct cvol_tar_stats *ret_stats, struct cvol_error *err);
/* Write the layer directory @rootfd as a tar with OCI whiteouts to @out_fd. */
int tar_export(int rootfd, int out_fd, struct cvol_error *err);
