/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layer store: layers and their chains, roots that hold them, tar import and export, diff. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "../overlay/overlay.h"

/* ---- the layer store ------------------------------------------------------ */

struct cvol_layer_store;

/* Ids of the layers cvol-snapshotter makes for containerd's snapshots: reserved to it. */
#define CVOL_LAYER_SNAPSHOT_PREFIX "snapshot-"

struct cvol_layer_info {
	char *id;
	char *parent;	 /* NULL for a base layer */
	char link[32];	 /* short name under l/ */
	size_t depth;	 /* number of lower layers below it */
	unsigned mounts; /* active references, 0 when not mounted */
};

/* Open (creating when missing) the store under @root; removes half-built layers. */
int cvol_layer_store_open(const char *root, struct cvol_layer_store **ret, struct cvol_error *err);
/* A quick open of an existing store, without the repair of cvol_layer_store_open() (for
 * cvol_layer_root_umount() on cvol-mount's hot path); -ENOENT (no message) when @root holds
 * no layer store. */
int cvol_layer_store_open_existing(const char *root, struct cvol_layer_store **ret, struct cvol_error *err);
/* Close a store. */
void cvol_layer_store_close(struct cvol_layer_store *store);
/* Path of the store's overlay directory ("<root>/overlay"). */
const char *cvol_layer_store_get_path(const struct cvol_layer_store *store);
/* Refuse an id that cannot name a layer (the rule of volume names, and not `l`). */
int cvol_layer_check_id(const char *id, struct cvol_error *err);
/* Create layer @id on top of @parent (NULL for a base layer). */
int cvol_layer_create(struct cvol_layer_store *store, const char *id, const char *parent,
		      struct cvol_error *err);
/* Remove layer @id; refuses one that is mounted or has children. */
int cvol_layer_remove(struct cvol_layer_store *store, const char *id, struct cvol_error *err);
/* Like cvol_layer_create() without a single fsync, for a layer that may be lost (containerd's
 * active snapshots): until cvol_layer_sync(), a power loss may leave it missing, or there with
 * its link or lower file empty; cvol_layer_discard() removes such a layer. */
int cvol_layer_create_unsynced(struct cvol_layer_store *store, const char *id, const char *parent,
			       struct cvol_error *err);
/* Make layer @id durable, with everything written in it (syncfs of its filesystem). */
int cvol_layer_sync(struct cvol_layer_store *store, const char *id, struct cvol_error *err);
/* Like cvol_layer_remove(), and also for a layer whose link or lower file cannot be read (an
 * unsynced layer after a power loss); still refuses one that is mounted or that a child or a
 * root uses. Not synced: a power loss may bring the layer back (whoever keeps a record of it
 * must take that: the snapshotter's repair removes a layer no record names). */
int cvol_layer_discard(struct cvol_layer_store *store, const char *id, struct cvol_error *err);
/* Describe every layer, sorted by id. */
int cvol_layer_list(struct cvol_layer_store *store, struct cvol_layer_info **ret_layers, size_t *ret_n,
		    struct cvol_error *err);
/* The ids of the layers in the store, whole or not (a layer whose files cannot be read is in
 * it, where cvol_layer_list() fails); NULL-ended, free with cvol_strv_free(). */
int cvol_layer_ids(struct cvol_layer_store *store, char ***ret_ids, struct cvol_error *err);
/* Free what cvol_layer_list() returned. */
void cvol_layer_info_free(struct cvol_layer_info *layers, size_t n);
/* Mount @id with its parent chain (or add a reference); *ret_merged is the root. */
int cvol_layer_mount(struct cvol_layer_store *store, const char *id, char **ret_merged,
		     struct cvol_error *err);
/* Drop a reference to @id; the last one (or @force) unmounts it. */
int cvol_layer_umount(struct cvol_layer_store *store, const char *id, bool force, struct cvol_error *err);

/* A layer's paths for an engine that mounts it itself, all absolute. */
struct cvol_layer_paths {
	char *diff;    /* "<store>/<id>/diff": the layer's files, an upper while it is written */
	char *work;    /* "<store>/<id>/work": overlay's work dir for that upper */
	char *link;    /* "<store>/l/<short>": the layer's diff as a lower of its children */
	char **lowers; /* the parents' diffs, "<store>/l/<short>", nearest first; empty for a base */
};

/* Fill @ret with layer @id's paths; with @make_work, create its work dir when missing. */
int cvol_layer_paths_get(struct cvol_layer_store *store, const char *id, bool make_work,
			 struct cvol_layer_paths *ret, struct cvol_error *err);
/* Free what cvol_layer_paths_get() filled in. */
void cvol_layer_paths_done(struct cvol_layer_paths *p);
/* Remove layer @id's work dir, once no engine writes its diff any more (a layer the store itself
 * mounted is refused: its mount uses it). */
int cvol_layer_work_drop(struct cvol_layer_store *store, const char *id, struct cvol_error *err);

/* A root on a store layer's chain: the layer and its parents are the lowers. */
struct cvol_layer_root {
	const char *layer; /* the top lower layer */
	const char *upper; /* NULL: a read-only root */
	const char *work;  /* NULL: "<upper>.work" */
	char **options;	   /* extra overlay options, as cvol_overlay_config.options */
	bool read_only;
};

/* Mount a root on @root->layer's chain on @merged, and hold the chain: `layer rm` refuses its
 * layers while the root is mounted (believed while mountinfo shows that very mount). */
int cvol_layer_root_mount(struct cvol_layer_store *store, const struct cvol_layer_root *root,
			  const char *merged, struct cvol_error *err);
/* Unmount the overlay on @merged and drop the hold of a root mounted there (if it is one). */
int cvol_layer_root_umount(struct cvol_layer_store *store, const char *merged, struct cvol_error *err);

struct cvol_tar_stats {
	uint64_t entries;   /* files, directories, links and nodes made */
	uint64_t whiteouts; /* OCI whiteouts turned into overlay ones */
	uint64_t bytes;	    /* file data written */
};

/* Create layer @id on @parent (NULL for a base) from the tar read from @fd; all or nothing.
 * With @userxattr, opaque dirs and xattr whiteouts use user.overlay.* (for userxattr mounts). */
int cvol_layer_import(struct cvol_layer_store *store, const char *id, const char *parent, int fd,
		      bool userxattr, struct cvol_tar_stats *ret_stats, struct cvol_error *err);
/* The next bytes of a layer tar for cvol_layer_import_stream(): points *@ret_buf at them (valid
 * until the next call) and returns their count, 0 at the end, or -errno with @err set. */
typedef ssize_t (*cvol_layer_read_fn)(void *ctx, const void **ret_buf, struct cvol_error *err);
/* Runs once the tar is unpacked, before the layer appears: 0 keeps it, -errno (@err set) refuses it. */
typedef int (*cvol_layer_finish_fn)(void *ctx, struct cvol_error *err);
/* Like cvol_layer_import(), reading the tar (plain or compressed) through @read_fn; @finish_fn
 * (may be NULL) may still refuse the layer, which then leaves nothing behind. */
int cvol_layer_import_stream(struct cvol_layer_store *store, const char *id, const char *parent,
			     cvol_layer_read_fn read_fn, cvol_layer_finish_fn finish_fn, void *ctx,
			     struct cvol_error *err);
/* True if layer @id is in the store. */
bool cvol_layer_exists(struct cvol_layer_store *store, const char *id);
/* Write layer @id's changes as a tar with OCI whiteouts to @fd. */
int cvol_layer_export(struct cvol_layer_store *store, const char *id, int fd, struct cvol_error *err);

/* Called for each change: @kind is 'A', 'C' or 'D', @path relative to the root. */
typedef int (*cvol_layer_diff_fn)(char kind, const char *path, void *data);
/* What layer @id adds, changes and deletes against its parent chain, in path order. */
int cvol_layer_diff(struct cvol_layer_store *store, const char *id, cvol_layer_diff_fn fn, void *data,
		    struct cvol_error *err);

static inline void cvol_layer_store_closep(struct cvol_layer_store **s)
{
	if (*s)
		cvol_layer_store_close(*s);
}
#define _cleanup_layer_store_ _cleanup_(cvol_layer_store_closep)
