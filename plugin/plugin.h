/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Docker volume plugin: the protocol's handlers, and the server on a Unix socket. */
#pragma once

#include "../common/error.h"
#include "../volumes/volumes.h"

#include <sys/types.h>

#define CVOL_PLUGIN_SOCKET   "/run/docker/plugins/cvol.sock"
#define CVOL_PLUGIN_MAX_BODY (1024 * 1024)

/* What one client may hold: defaults of the fields of struct cvol_plugin_config. */
#define CVOL_PLUGIN_MAX_CONNECTIONS 256 /* dockerd keeps a few */
#define CVOL_PLUGIN_IDLE_TIMEOUT    10	/* s without a byte, then the connection is closed */
#define CVOL_PLUGIN_REQUEST_TIMEOUT 20	/* s from a connection's start or last reply to a whole request */

struct cvol_plugin_config {
	const char *root;	  /* the store */
	const char *socket;	  /* where to listen, unless systemd passed a socket */
	const char *mount_dir;	  /* bind volumes in use here and hand out these paths (managed plugin) */
	const char *host_root;	  /* bind volumes' device paths are under it (managed plugin) */
	bool global_scope;	  /* Capabilities says "global" */
	bool debug;		  /* one line per request on stderr */
	bool has_group;		  /* peers in @group are let in too, and the socket is made 0660 for it */
	gid_t group;		  /* besides uid 0, the one group whose members may connect */
	unsigned max_connections; /* at most this many at once; 0: the default */
	unsigned idle_timeout;	  /* seconds; 0: the default */
	unsigned request_timeout; /* seconds; 0: the default; must exceed idle_timeout */
};

/* Answer one request to @path with @body: the HTTP status and a JSON reply in *@ret_body. */
unsigned cvol_plugin_handle(struct cvol_volume_store *store, const struct cvol_plugin_config *cfg,
			    const char *path, const char *body, size_t len, char **ret_body);
/* Serve the plugin until SIGTERM or SIGINT; requests in flight are finished first. */
int cvol_plugin_serve(const struct cvol_plugin_config *cfg, struct cvol_error *err);
