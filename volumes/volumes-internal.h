/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to volumes/ (and its unit tests). */
#pragma once

#include <sys/types.h>

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/system.h"
#include "../common/strv.h"
#include "volumes.h"

/* ---- options (options.c) ------------------------------------------------- */

struct volume_opts {
	enum cvol_volume_backend backend;
	const char *type;   /* filesystem type: tmpfs, or that of a generic mount */
	const char *device; /* bind source or generic device */
	const char *o;	    /* mount options as the user gave them */
	uint64_t size;	    /* loop image or tmpfs size in bytes, 0 when not given */
	const char *fs;	    /* loop image filesystem: ext4 or xfs */
	bool has_uid, has_gid, has_mode;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	bool ro;
	bool create; /* bind: make the host directory when missing */
	/* sshfs: what docker-volume-sshfs takes; every other key is an sshfs `-o key[=value]` */
	const char *sshcmd;   /* user@host:path */
	const char *password; /* given to sshfs on its stdin, never on a command line */
	const char *password_file; /* or read from this host file (root's, 0600) at each mount */
	const char *port;     /* sshfs -p */
	json_t *all;	      /* the options object (borrowed): the other keys are read from it */
};

/* The longest sshfs password, given as `password` or in `password_file`. */
#define SSHFS_PASSWORD_MAX 1024

/* The sshfs options cvol reads itself; the others go to sshfs as `-o`. */
bool volume_opt_is_sshfs_own(const char *key);
/* True when an option named @key holds a credential (password, passphrase, secret, token...,
 * in any case): the one test of what is secret. */
bool volume_opt_is_secret(const char *key);
/* A copy of @options with the value of every secret (and every secret in `o`) replaced by
 * "********": the one place secrets are hidden. NULL on ENOMEM. */
json_t *volume_opts_redacted(json_t *options);
/* @optstr (a mount option string such as `o`) with each secret's value replaced by "********",
 * into @buf (cut to fit). */
void volume_optstr_redact(const char *optstr, char *buf, size_t size);
#define VOLUME_SECRET_SHOWN "********"

/* Check @options (a JSON object of strings) and read them into @ret; its strings point into @options. */
int volume_opts_parse(json_t *options, struct volume_opts *ret, struct cvol_error *err);
/* The rules only a new volume must meet (a volume made before them still loads and goes):
 * `o` holds filesystem options, nothing that changes what is mounted or how. */
int volume_opts_check_new(const struct volume_opts *o, struct cvol_error *err);
/* Parse "10G", "512m", "4096" into bytes. */
int volume_size_parse(const char *text, uint64_t *ret);
/* Explain how @have differs from @want in one phrase ("size is `1G`, not `2G`"). */
void volume_opts_describe_difference(json_t *have, json_t *want, char *buf, size_t size);

/* ---- records (record.c) -------------------------------------------------- */

struct volume_record {
	char created_at[40];
	char boot_id[40]; /* the boot the mount IDs belong to */
	json_t *options;
	char **ids;
};

/* Read <dirfd>/record.json. */
int volume_record_load(int dirfd, struct volume_record *ret, struct cvol_error *err);
/* Write <dirfd>/record.json crash-safely. */
int volume_record_save(int dirfd, const struct volume_record *rec, struct cvol_error *err);
/* Free a record's contents. */
void volume_record_done(struct volume_record *rec);
/* True when @id is among @ids. */
bool volume_ids_contain(char **ids, const char *id);

/* ---- a volume on disk ------------------------------------------------------ */

#define VOLUME_DATA_DIR	  "_data" /* the mountpoint */
#define VOLUME_IMAGE_FILE "image" /* a loop volume's filesystem image */

struct volume_backend_ops;

/* A volume as the store and its backend work on it. */
struct volume {
	const char *name; /* as the caller gave it (borrowed); NULL while it is made in .staging/ */
	char *dir;	  /* <root>/volumes/<name>, or its directory in .staging/ while it is made */
	char *data;	  /* <dir>/_data, formatted once */
	int dirfd;	  /* @dir */
	int lock_fd;	  /* .locks/<name>, held while >= 0 */
	int host_root_fd; /* where a bind volume's device path starts (the store's), -1 for `/` */
	struct volume_record rec;
	struct volume_opts opts;
	const struct volume_backend_ops *ops; /* of opts.backend, looked up once */
	bool dirty;			      /* rec differs from the file (IDs of an earlier boot dropped) */
};

/* ---- publishing (publish.c) ---------------------------------------------- */

/* The mount dir, when the store has one. */
struct volume_publish {
	int dirfd;  /* -1: no mount dir, volumes are used where they are */
	char *path; /* for messages and mountpoints */
};

/* True when volume @v (@name) is bound in the mount dir: a mount there shows what its _data shows. */
bool volume_is_published(const struct volume_publish *p, const struct volume *v, const char *name);
/* Bind @v's _data (and what is mounted on it) at <mount dir>/@name, unless it is bound already;
 * a stale bind there goes first, a symlink there is refused. */
int volume_publish(const struct volume_publish *p, const struct volume *v, const char *name,
		   struct cvol_error *err);
/* Undo volume_publish(): detach what is bound at <mount dir>/@name and remove the empty dir;
 * 0 when nothing is bound. */
int volume_unpublish(const struct volume_publish *p, const char *name, struct cvol_error *err);

/* ---- backends (backend.c; sshfs in sshfs.c) ------------------------------------ */

/* What a backend mounts on _data. */
struct volume_mount {
	const char *source;
	const char *fstype; /* NULL for a bind mount */
	char options[4096]; /* for libmount */
	size_t options_len;
	char source_buf[4096]; /* the source when it is a path in the volume (the loop image) */
};

/* What each backend does; the store never asks which backend it holds. */
struct volume_backend_ops {
	const char *name; /* as `Status.Backend` shows it */
	/* True when something is mounted on _data while the volume is in use. */
	bool (*needs_mount)(const struct volume_opts *o);
	/* Make _data and what else a new volume needs (image, bind source, owner) in @v->dirfd. */
	int (*prepare)(const struct volume *v, struct cvol_error *err);
	/* What mount() mounts, into *@ret; touches nothing. */
	int (*mount_args)(const struct volume *v, struct volume_mount *ret, struct cvol_error *err);
	/* Mount the volume on _data. */
	int (*mount)(const struct volume *v, struct cvol_error *err);
	/* Unmount _data (a loop device goes with it). */
	int (*unmount)(const struct volume *v, struct cvol_error *err);
	/* Capacity and use as Status shows them (0 when unknown); @mounted: something is on _data.
	 * Not called for a network volume: its numbers come from volume_probe(). */
	void (*usage)(const struct volume *v, bool mounted, uint64_t *ret_size, uint64_t *ret_used);
	/* True when what is mounted comes over the network (its server may go away). */
	bool (*is_remote)(const struct volume_opts *o);
	/* Stop the program serving a mount of @v that does not answer (sshfs), once it is detached;
	 * volume_no_daemon() when there is none. */
	void (*kill_daemon)(const struct volume *v);
};

/* The operations of @backend, NULL for an unknown one. */
const struct volume_backend_ops *volume_backend_ops(enum cvol_volume_backend backend);
/* Detach whatever a crash left mounted on <@dirfd>/@name/_data (a staging leftover of any
 * backend, which may have no record); a dir_entry_fn for staging_cleanup_with(). */
int volume_staged_unmount(int dirfd, const char *name, unsigned char d_type, void *data,
			  struct cvol_error *err);

/* Helpers the backends share (backend-shared.c). */
/* Make a volume's empty _data: the prepare() of a backend that needs nothing else. */
int volume_make_data(const struct volume *v, struct cvol_error *err);
/* A needs_mount() for backends that always mount something on _data. */
bool volume_always_mounted(const struct volume_opts *o);
/* The backend's mount_args() for @v into *@m, logged (secrets redacted) when debugging volumes. */
int volume_mount_args_logged(const struct volume *v, struct volume_mount *m, struct cvol_error *err);
/* A kill_daemon() for backends whose mounts have no daemon. */
void volume_no_daemon(const struct volume *v);
/* Unmount _data (a loop device goes with it). */
int volume_unmount_data(const struct volume *v, struct cvol_error *err);
/* Detach the top mount on _data lazily: never waits for a filesystem whose server has gone, and
 * what still uses the mount keeps it. The unmount() of network volumes. */
int volume_detach_data(const struct volume *v, struct cvol_error *err);
/* True when @v's mount comes over the network. */
bool volume_is_remote(const struct volume *v);
/* Open the host path @path (absolute) without following any symlink in it, as @flags; under
 * @host_root_fd (`..` kept beneath it) when it is >= 0, else from `/`. -errno on failure. */
int volume_open_host_path(int host_root_fd, const char *path, int flags);

/* The sshfs backend (sshfs.c). */
extern const struct volume_backend_ops volume_sshfs_ops;

/* ---- is the mount alive (probe.c) ------------------------------------------------------------ */

/* How long a network mount has to answer a statfs before it counts as dead. */
#define VOLUME_PROBE_TIMEOUT_MS 3000

enum volume_health {
	VOLUME_NOT_MOUNTED, /* nothing on _data */
	VOLUME_ALIVE,	    /* mounted, and a network mount answered */
	VOLUME_DEAD,	    /* mounted, and statfs failed with @error (ENOTCONN, ESTALE, EIO...) */
	VOLUME_NO_ANSWER,   /* mounted, and statfs did not answer within VOLUME_PROBE_TIMEOUT_MS */
};

struct volume_probe {
	enum volume_health health;
	int error;	     /* VOLUME_DEAD: statfs's errno */
	uint64_t size, used; /* VOLUME_ALIVE, network volumes: what statfs said */
};

/* Whether the mount on @v's _data answers: a local mount is taken as alive; a network mount is
 * asked (statfs, in a child process, within VOLUME_PROBE_TIMEOUT_MS). Never blocks longer. */
void volume_probe(const struct volume *v, struct volume_probe *ret);
/* @p as Status shows it: "alive", "dead: <error>", "no answer within N s" or "not mounted". */
void volume_probe_describe(const struct volume_probe *p, char *buf, size_t size);
