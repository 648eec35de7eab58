/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Overlay mechanics: backing-fs and kernel probes, option checks, mounts, the whiteout format. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

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
/* Like cvol_backing_fs_probe_fd(), but reuse an earlier probe of the same mounted filesystem
 * (root only: /run/cvol/probe/<mount id, device, fs id>, or $CVOL_PROBE_CACHE; "off" turns it off).
 * Fresh probes refresh that cache. */
int cvol_backing_fs_probe_cached(int dirfd, const char *path, struct cvol_backing_fs *ret_fs,
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
