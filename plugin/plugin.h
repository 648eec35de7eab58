/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Docker volume plugin: the protocol's handlers, and the server on a Unix socket. */
#pragma once

#include "../common/error.h"
#include "../volumes/volumes.h"

#define CVOL_PLUGIN_SOCKET   "/run/docker/plugins/cvol.sock"
#define CVOL_PLUGIN_MAX_BODY (1024 * 1024)

struct cvol_plugin_config {
	const char *root;   /* the store */
	const char *socket; /* where to listen, unless systemd passed a socket */
	bool global_scope;  /* Capabilities says "global" */
	bool debug;	    /* one line per request on stderr */
};

/* Answer one request to @path with @body: the HTTP status and a JSON reply in *@ret_body. */
unsigned cvol_plugin_handle(struct cvol_volume_store *store, const struct cvol_plugin_config *cfg,
			    const char *path, const char *body, size_t len, char **ret_body);
/* Serve the plugin until SIGTERM or SIGINT; requests in flight are finished first. */
int cvol_plugin_serve(const struct cvol_plugin_config *cfg, struct cvol_error *err);
