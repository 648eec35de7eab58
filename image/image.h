/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image import: `docker save` output and OCI layouts into the layer store. */
#pragma once

#include "../layers/layers.h"

struct cvol_image_progress {
	size_t layers_total, layers_done, layers_reused;
	uint64_t bytes_done;
};
typedef void (*cvol_image_progress_fn)(const struct cvol_image_progress *p, void *data);
/* Import `docker save` output or an OCI layout (a directory or a tar) as a chain of
 * layers, checking every digest and reusing layers already in the store; *@ret_top_id
 * is the top layer's id. @progress (may be NULL) is called after each layer. */
int cvol_image_import(struct cvol_layer_store *store, const char *path, cvol_image_progress_fn progress,
		      void *data, char **ret_top_id, struct cvol_error *err);
