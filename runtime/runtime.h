/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running a command on a layered root, confined as a container runtime confines it:
 * new mount and PID namespaces, pivot_root, /proc, a minimal /dev, and seccomp. */
#pragma once

#include "../common/error.h"

#define CVOL_SECCOMP_UNCONFINED "unconfined"

struct cvol_exec_config {
	const char *root;    /* the merged root to run in */
	char **argv;	     /* the command, NULL-terminated */
	const char *seccomp; /* NULL: the default filter; "unconfined"; or a Docker JSON profile */
};

/* Run @cfg->argv inside @cfg->root; *@ret_status is its exit status (128+N for signal N). */
int cvol_exec_run(const struct cvol_exec_config *cfg, int *ret_status, struct cvol_error *err);

/* Build the seccomp filter @spec names (see cvol_exec_config.seccomp); *@ret is NULL when unconfined. */
int cvol_seccomp_build(const char *spec, void **ret, struct cvol_error *err);
/* Load a filter cvol_seccomp_build() made (and set no_new_privs), then free it. */
int cvol_seccomp_load(void *filter, struct cvol_error *err);
/* Free a filter without loading it. */
void cvol_seccomp_free(void *filter);
