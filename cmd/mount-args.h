/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command line of cvol-mount, parsed into a struct (unit-tested without root). */
#pragma once

#include "../common/error.h"

enum mount_mode {
	MOUNT_MODE_MOUNT,
	MOUNT_MODE_CHECK,
	MOUNT_MODE_UMOUNT,
	MOUNT_MODE_HELP,
	MOUNT_MODE_VERSION,
};

struct mount_args {
	enum mount_mode mode;
	char **lowers; /* --lower, split at unescaped ':' (top first) */
	char *upper;
	char *work;
	char **options; /* -o, split at ',' */
	bool read_only;
	bool json;
	char *target; /* merged dir, or the dir of --check / --umount */
	char *layers; /* --layers ID: the lowers are ID and its chain in the store */
	char *root;   /* --root: the store of --layers */
	bool exec;    /* --exec: run command after mounting */
	char **command;
	bool keep;     /* --keep: leave the root mounted after --exec */
	char *seccomp; /* --seccomp FILE|unconfined */
};

/* Parse @argv; on a usage error returns -EINVAL with one line in @err. */
int mount_args_parse(int argc, char **argv, struct mount_args *ret, struct cvol_error *err);
/* Free what mount_args_parse() filled in. */
void mount_args_done(struct mount_args *args);
