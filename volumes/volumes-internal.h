/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private to volumes/ (and its unit tests). */
#pragma once

#include <sys/types.h>

#include "../common/fs.h"
#include "../common/log.h"
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
};

/* Check @options (a JSON object of strings) and read them into @ret; its strings point into @options. */
int volume_opts_parse(json_t *options, struct volume_opts *ret, struct cvol_error *err);
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
/* This boot's id (/proc/sys/kernel/random/boot_id), or "" when unknown. */
const char *volume_boot_id(void);
/* True when @id is among @ids. */
bool volume_ids_contain(char **ids, const char *id);

/* ---- backends (backend.c) ------------------------------------------------ */

/* True when the backend needs something mounted on the mountpoint while in use. */
bool volume_backend_needs_mount(const struct volume_opts *o);
/* Prepare a new volume in @dirfd (an empty staging dir at @dir): _data, the image, ownership. */
int volume_backend_prepare(int dirfd, const char *dir, const struct volume_opts *o, struct cvol_error *err);
/* Mount the volume in @dir on @dir/_data. */
int volume_backend_mount(const char *dir, const struct volume_opts *o, struct cvol_error *err);
/* Unmount @dir/_data (a loop device goes with it). */
int volume_backend_umount(const char *dir, struct cvol_error *err);
/* Apply uid/gid/mode to the root at @path. */
int volume_backend_apply_owner(const char *path, const struct volume_opts *o, struct cvol_error *err);
