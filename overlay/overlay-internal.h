/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to overlay/ (and its unit tests). */
#pragma once

#include <archive.h>

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/strv.h"
#include "overlay.h"

struct libmnt_table;
struct stat;

#define CVOL_SHORTID_LEN 26 /* as Docker's overlay2: l/<26 chars> */

/* ---- option strings (options.c) ------------------------------------------ */

/* Append @s to @buf (of @size, holding *@len bytes) with `\`, `,` and `:` escaped. */
int cvol_mount_opts_append_escaped(char *buf, size_t size, size_t *len, const char *s);
/* Append @s to @buf unescaped. */
int cvol_mount_opts_append(char *buf, size_t size, size_t *len, const char *s);
/* Build the mount(2) data string for @cfg with @work as the work dir; -E2BIG when it does not fit. */
int cvol_overlay_data_build(const struct cvol_overlay_config *cfg, const char *work, char *buf, size_t size,
			    struct cvol_error *err);

/* ---- chains and short ids (chain.c) -------------------------------------- */

/* Fill @buf (CVOL_SHORTID_LEN + 1 bytes) with a random short id of [A-Z0-9]. */
int cvol_shortid_generate(char *buf);
/* True for a string made as cvol_shortid_generate() makes them. */
bool cvol_shortid_is_valid(const char *s);
/* The lower file text of a child of a parent with @parent_link and @parent_lower (NULL for a base). */
int cvol_chain_for_child(const char *parent_link, const char *parent_lower, char **ret_lower);
/* Split lower file text into "l/<short>" entries, checking each; @text may be empty. */
int cvol_chain_parse(const char *text, char ***ret_entries);

/* ---- mount plans (plan.c) ------------------------------------------------ */

enum cvol_step_kind {
	CVOL_STEP_ENSURE_DIR,	 /* mkdir when missing; undo removes it only if made */
	CVOL_STEP_MOUNT_OVERLAY, /* mount the config on the target; undo unmounts */
};

struct cvol_mount_step {
	enum cvol_step_kind kind;
	char *path; /* directory to make, or the mount target */
	bool done;  /* ran and has something to undo */
};

struct cvol_mount_plan {
	const struct cvol_overlay_config *cfg;
	char *work; /* resolved work dir, NULL for a read-only root */
	struct cvol_mount_step steps[4];
	size_t n_steps;
};

/* Lay out the steps that mount @cfg on @merged; touches nothing. */
int cvol_mount_plan_build(const struct cvol_overlay_config *cfg, const char *merged,
			  struct cvol_mount_plan *ret_plan, struct cvol_error *err);
/* Free what cvol_mount_plan_build() allocated. */
void cvol_mount_plan_done(struct cvol_mount_plan *plan);

/* ---- the layer store (store.c, store-mount.c) ------------------------------ */

struct cvol_store {
	char *overlay_path; /* canonical "<root>/overlay" */
	int overlay_fd;
	int links_fd;	   /* l/ */
	int staging_fd;	   /* .staging/ */
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
typedef int (*store_op)(struct cvol_store *store, const char *id, void *data, struct cvol_error *err);
/* Check @id, take the store's lock, run @op, and name the layer in any error ("@what layer `id`: ..."). */
int store_run_locked(struct cvol_store *store, const char *what, const char *id, store_op op, void *data,
		     struct cvol_error *err);
/* Read the metadata of layer @id; -ENOENT with a clear message when it does not exist. */
int layer_meta_load(struct cvol_store *store, const char *id, struct layer_meta *ret, struct cvol_error *err);
/* Free what layer_meta_load() filled in. */
void layer_meta_done(struct layer_meta *m);
/* Refuse, with EBUSY and their names, a layer that has children; @why ends the message. */
int layer_refuse_children(struct cvol_store *store, const struct layer_meta *m, const char *why,
			  struct cvol_error *err);
/* /proc/self/mountinfo parsed by libmount, or NULL; free with layer_mountinfo_free(). */
struct libmnt_table *layer_mountinfo_load(void);
void layer_mountinfo_free(struct libmnt_table *mountinfo);
/* Active references of layer @id, from mountinfo and its count file; 0 when not mounted. */
unsigned layer_mount_count(struct cvol_store *store, const char *id, struct libmnt_table *mountinfo);

/* ---- whiteouts (whiteout.c) -------------------------------------------------- */

/* True for the OCI opaque marker `.wh..wh..opq`. */
bool cvol_whiteout_is_opaque_marker(const char *name);
/* For `.wh.NAME`: 1 with *@ret_target = NAME; 0 for other names; -EINVAL for `.wh.`, `.wh..` or `.wh...`. */
int cvol_whiteout_target(const char *name, const char **ret_target);
/* Make an overlay whiteout @name in @dirfd: a 0/0 char device, or the xattr form without mknod. */
int cvol_whiteout_make(int dirfd, const char *name, bool userxattr, struct cvol_error *err);
/* Mark the directory @dirfd opaque. */
int cvol_whiteout_make_opaque(int dirfd, bool userxattr, struct cvol_error *err);
/* True when @name in @dirfd (whose lstat is @st) is an overlay whiteout, in either form. */
bool cvol_whiteout_is(int dirfd, const char *name, const struct stat *st);
/* True when the directory @dirfd is marked opaque. */
bool cvol_whiteout_dir_is_opaque(int dirfd);
/* True for xattrs overlay itself owns (trusted.overlay.*, user.overlay.*): never copied from or into a tar.
 */
bool cvol_whiteout_xattr_is_overlay(const char *name);

/* ---- layer tars (tar-import.c, tar-export.c) ------------------------------------ */

/* Unpack the tar (plain, gzip, zstd...) read from @archive_fd into the directory @rootfd. */
int cvol_tar_import(int rootfd, int archive_fd, bool userxattr, struct cvol_tar_stats *ret_stats,
		    struct cvol_error *err);
/* Like cvol_tar_import(), reading the archive through libarchive's @read_cb with @ctx. */
int cvol_tar_import_read(int rootfd, archive_read_callback *read_cb, void *ctx, bool userxattr,
			 struct cvol_tar_stats *ret_stats, struct cvol_error *err);
/* Create layer @id on @parent from the tar read through @read_cb, as cvol_layer_import() does;
 * @finish (may be NULL) runs after the unpack, before the layer appears, and may refuse it. */
int layer_import_read(struct cvol_store *store, const char *id, const char *parent,
		      archive_read_callback *read_cb, int (*finish)(void *ctx, struct cvol_error *err),
		      void *ctx, struct cvol_error *err);
/* Write the layer directory @rootfd as a tar with OCI whiteouts to @out_fd. */
int cvol_tar_export(int rootfd, int out_fd, struct cvol_error *err);
