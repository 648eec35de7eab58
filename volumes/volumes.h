/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The volume store: named volumes as directories, host binds, tmpfs, size-capped
 * loop images or any filesystem libmount can mount; records that survive crashes,
 * mount-ID sets, and a reconcile with mountinfo at open. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "../common/error.h"

struct cvol_volume_store;

enum cvol_volume_backend {
	CVOL_BACKEND_DIR,   /* <root>/volumes/<name>/_data */
	CVOL_BACKEND_BIND,  /* type=bind,device=/host/path */
	CVOL_BACKEND_TMPFS, /* type=tmpfs */
	CVOL_BACKEND_LOOP,  /* size=N[,fs=ext4|xfs]: a sparse image on a loop device */
	CVOL_BACKEND_MOUNT, /* type=T,device=D,o=O through libmount */
	CVOL_BACKEND_SSHFS, /* sshcmd=user@host:path[,password=,port=,...]: the sshfs program */
};

struct cvol_volume_info {
	char *name;
	char *mountpoint;
	char created_at[40]; /* RFC3339, UTC */
	enum cvol_volume_backend backend;
	json_t *options;      /* the options it was created with, secrets shown as "********" */
	char **mount_ids;     /* active mount IDs (NULL-terminated) */
	bool mounted;	      /* something is mounted on the mountpoint */
	char mount_state[64]; /* Status.Mount: "alive", "dead: <error>", "no answer within N s",
			       * "not mounted" (a network mount is asked, within a bound) */
	uint64_t size_bytes;  /* capacity, 0 when unknown */
	uint64_t used_bytes;  /* in use, 0 when unknown */
};

/* Name of a backend ("dir", "bind", "tmpfs", "loop", "mount", "sshfs"). */
const char *cvol_volume_backend_name(enum cvol_volume_backend backend);
/* Open (creating when missing) the volume store under @root; removes half-built volumes. */
int cvol_volume_store_open(const char *root, struct cvol_volume_store **ret, struct cvol_error *err);
/* Reconcile every record with mountinfo (libmount), as the plugin does at start: re-attach
 * what mount IDs need, unmount what none holds, never stack a second mount on a path.
 * Mount IDs of an earlier boot are dropped whenever a volume is read. Returns 0 with how many
 * volumes could not be brought in line in *@ret_failed (when some, the last reason in @err),
 * or -errno when the store cannot be walked. */
int cvol_volume_store_reconcile(struct cvol_volume_store *store, size_t *ret_failed, struct cvol_error *err);
/* Bind every volume in use at <@dir>/<name> too, and give that path as its mountpoint: a managed
 * plugin's propagated mount, where dockerd finds what the plugin mounts. Set before the
 * reconcile, which binds again what mount IDs hold (dockerd unmounts @dir when the plugin stops). */
int cvol_volume_store_set_mount_dir(struct cvol_volume_store *store, const char *dir, struct cvol_error *err);
/* Take bind volumes' `device` paths under @dir (where a managed plugin sees the host's `/`), with
 * no symlink followed and `..` kept beneath it. */
int cvol_volume_store_set_host_root(struct cvol_volume_store *store, const char *dir, struct cvol_error *err);
/* Close a volume store. */
void cvol_volume_store_close(struct cvol_volume_store *store);
/* Create volume @name with @options (a JSON object of strings); the same again succeeds. */
int cvol_volume_create(struct cvol_volume_store *store, const char *name, json_t *options,
		       struct cvol_error *err);
/* Remove volume @name; refuses one that has mount IDs, naming them. */
int cvol_volume_remove(struct cvol_volume_store *store, const char *name, struct cvol_error *err);
/* Describe volume @name into *@ret (free with cvol_volume_info_done()). */
int cvol_volume_get(struct cvol_volume_store *store, const char *name, struct cvol_volume_info *ret,
		    struct cvol_error *err);
/* Free what cvol_volume_get() filled in. */
void cvol_volume_info_done(struct cvol_volume_info *info);
/* The names of all volumes, sorted (NULL-terminated, free with cvol_strv_free()). */
int cvol_volume_list_names(struct cvol_volume_store *store, char ***ret_names, struct cvol_error *err);
/* Where a volume named @name is (or would be) mounted; no check that it exists. NULL on ENOMEM. */
char *cvol_volume_mountpoint_of(const struct cvol_volume_store *store, const char *name);
/* Where volume @name is (or will be) mounted; -ENOENT when there is no such volume. */
int cvol_volume_get_mountpoint(struct cvol_volume_store *store, const char *name, char **ret_path,
			       struct cvol_error *err);
/* Add mount @id to volume @name, mounting it for the first; a repeated @id changes nothing. */
int cvol_volume_mount(struct cvol_volume_store *store, const char *name, const char *id, char **ret_path,
		      struct cvol_error *err);
/* Drop mount @id (an unknown one succeeds); the last one unmounts. */
int cvol_volume_unmount(struct cvol_volume_store *store, const char *name, const char *id,
			struct cvol_error *err);

static inline void cvol_volume_store_closep(struct cvol_volume_store **s)
{
	if (*s)
		cvol_volume_store_close(*s);
}
#define _cleanup_volume_store_ _cleanup_(cvol_volume_store_closep)

/* The volume as dockerd's Get shows it: {"Name","Mountpoint","CreatedAt","Status":{...}}. */
json_t *cvol_volume_info_to_json(const struct cvol_volume_info *info);
