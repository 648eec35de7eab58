/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layered-root library: backing-fs probe, overlay mounts, the layer store. */
#pragma once

#include <stdint.h>

#include "../common/error.h"

#define CVOL_OVERLAY_MAX_LOWERS 500 /* the kernel's OVL_MAX_STACK */

/* ---- backing filesystem -------------------------------------------------- */

struct cvol_backing_fs {
	char type[32];	      /* "ext4", "xfs", "tmpfs", ... */
	bool d_type;	      /* getdents reports file types */
	bool xattr_trusted;   /* trusted.* xattrs can be set (overlay's own) */
	bool xattr_user;      /* user.* xattrs can be set (userxattr) */
	bool tmpfile;	      /* O_TMPFILE works */
	bool rename_whiteout; /* renameat2(RENAME_WHITEOUT) works */
	bool is_overlay;      /* the directory is itself on overlayfs */
};

/* Probe the filesystem holding @path by making a fresh file in it and reading it back. */
int cvol_backing_fs_probe(const char *path, struct cvol_backing_fs *ret_fs, struct cvol_error *err);
/* Like cvol_backing_fs_probe() on an open directory. */
int cvol_backing_fs_probe_fd(int dirfd, const char *path, struct cvol_backing_fs *ret_fs,
			     struct cvol_error *err);
/* Refuse a probed filesystem that cannot hold an upper layer, naming what it lacks. */
int cvol_backing_fs_check(const struct cvol_backing_fs *fs, const char *path, bool userxattr,
			  struct cvol_error *err);

/* ---- kernel features ------------------------------------------------------ */

enum cvol_mount_api {
	CVOL_MOUNT_API_LEGACY, /* mount(2) with an option string */
	CVOL_MOUNT_API_STRING, /* fsopen + lowerdir+ by path (6.8+) */
	CVOL_MOUNT_API_FD,     /* fsopen + lowerdir+ by fd (6.13+) */
};

struct cvol_kernel_features {
	char release[65];
	bool overlay;		 /* overlay is a known filesystem type */
	bool fsopen;		 /* fsopen("overlay") works */
	bool lowerdir_append;	 /* lowerdir+ accepted */
	bool layer_fd;		 /* FSCONFIG_SET_FD accepted for layers */
	enum cvol_mount_api api; /* what mounts will use (CVOL_MOUNT_API may lower it) */
};

/* Find what this kernel's overlay supports; honours CVOL_MOUNT_API=legacy|string|fd. */
int cvol_kernel_features_probe(struct cvol_kernel_features *ret, struct cvol_error *err);
/* Name of a mount API, for people. */
const char *cvol_mount_api_name(enum cvol_mount_api api);

/* ---- overlay mounts ------------------------------------------------------- */

struct cvol_overlay_config {
	char **lowers;	   /* top first; relative paths resolve under base_dirfd */
	const char *upper; /* NULL: a read-only root */
	const char *work;  /* NULL: "<upper>.work", created when missing */
	char **options;	   /* extra options, each checked by cvol_overlay_option_check() */
	bool read_only;
	int base_dirfd; /* AT_FDCWD, or the directory relative paths start from */
};

/* Refuse an extra overlay option that is not on the list of known ones. */
int cvol_overlay_option_check(const char *option, struct cvol_error *err);
/* Check @cfg and mount it on @merged: d_type and backing checks first, then the mount. */
int cvol_overlay_mount(const struct cvol_overlay_config *cfg, const char *merged, struct cvol_error *err);
/* Unmount the overlay on @merged; refuses a path that is not an overlay mount. */
int cvol_overlay_umount(const char *merged, struct cvol_error *err);

/* ---- the layer store ------------------------------------------------------ */

struct cvol_store;

struct cvol_layer_info {
	char *id;
	char *parent;	 /* NULL for a base layer */
	char link[32];	 /* short name under l/ */
	size_t depth;	 /* number of lower layers below it */
	unsigned mounts; /* active references, 0 when not mounted */
};

/* Open (creating when missing) the store under @root; removes half-built layers. */
int cvol_store_open(const char *root, struct cvol_store **ret, struct cvol_error *err);
/* Close a store. */
void cvol_store_close(struct cvol_store *store);
/* Path of the store's overlay directory ("<root>/overlay"). */
const char *cvol_store_get_overlay_path(const struct cvol_store *store);
/* Refuse an id that cannot name a layer (the rule of volume names, and not `l`). */
int cvol_layer_check_id(const char *id, struct cvol_error *err);
/* Create layer @id on top of @parent (NULL for a base layer). */
int cvol_layer_create(struct cvol_store *store, const char *id, const char *parent, struct cvol_error *err);
/* Remove layer @id; refuses one that is mounted or has children. */
int cvol_layer_remove(struct cvol_store *store, const char *id, struct cvol_error *err);
/* Describe every layer, sorted by id. */
int cvol_layer_list(struct cvol_store *store, struct cvol_layer_info **ret_layers, size_t *ret_n,
		    struct cvol_error *err);
/* Free what cvol_layer_list() returned. */
void cvol_layer_info_free(struct cvol_layer_info *layers, size_t n);
/* Mount @id with its parent chain (or add a reference); *ret_merged is the root. */
int cvol_layer_mount(struct cvol_store *store, const char *id, char **ret_merged, struct cvol_error *err);
/* The directories of @id and its parent chain, top first: the lowers of a root built on @id. */
int cvol_layer_get_lowers(struct cvol_store *store, const char *id, char ***ret_paths,
			  struct cvol_error *err);
/* Drop a reference to @id; the last one (or @force) unmounts it. */
int cvol_layer_umount(struct cvol_store *store, const char *id, bool force, struct cvol_error *err);

struct cvol_tar_stats {
	uint64_t entries;   /* files, directories, links and nodes made */
	uint64_t whiteouts; /* OCI whiteouts turned into overlay ones */
	uint64_t bytes;	    /* file data written */
};

/* Create layer @id on @parent (NULL for a base) from the tar read from @fd; all or nothing.
 * With @userxattr, opaque dirs and xattr whiteouts use user.overlay.* (for userxattr mounts). */
int cvol_layer_import(struct cvol_store *store, const char *id, const char *parent, int fd, bool userxattr,
		      struct cvol_tar_stats *ret_stats, struct cvol_error *err);
/* Write layer @id's changes as a tar with OCI whiteouts to @fd. */
int cvol_layer_export(struct cvol_store *store, const char *id, int fd, struct cvol_error *err);

struct cvol_image_progress {
	size_t layers_total, layers_done, layers_reused;
	uint64_t bytes_done;
};
typedef void (*cvol_image_progress_fn)(const struct cvol_image_progress *p, void *data);
/* Import `docker save` output or an OCI layout (a directory or a tar) as a chain of
 * layers, checking every digest and reusing layers already in the store; *@ret_top_id
 * is the top layer's id. @progress (may be NULL) is called after each layer. */
int cvol_image_import(struct cvol_store *store, const char *path, cvol_image_progress_fn progress, void *data,
		      char **ret_top_id, struct cvol_error *err);

/* Called for each change: @kind is 'A', 'C' or 'D', @path relative to the root. */
typedef int (*cvol_layer_diff_fn)(char kind, const char *path, void *data);
/* What layer @id adds, changes and deletes against its parent chain, in path order. */
int cvol_layer_diff(struct cvol_store *store, const char *id, cvol_layer_diff_fn fn, void *data,
		    struct cvol_error *err);

static inline void cvol_store_closep(struct cvol_store **s)
{
	if (*s)
		cvol_store_close(*s);
}
#define _cleanup_store_ _cleanup_(cvol_store_closep)
