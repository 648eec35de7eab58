/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the CLIs print: one error line, JSON documents, probe reports. */
#pragma once

#include <jansson.h>

#include "../overlay/overlay.h"

/* Print @doc as indented JSON on stdout and drop the reference; returns 0 or -EIO. */
int output_json(json_t *doc);
/* A JSON object describing a probed backing filesystem. */
json_t *output_backing_fs_json(const struct cvol_backing_fs *fs);
/* A JSON object describing the kernel's overlay features. */
json_t *output_kernel_json(const struct cvol_kernel_features *k);
/* Print the backing fs and kernel features as "key: value" lines. */
void output_probe_text(const char *path, const struct cvol_backing_fs *fs,
		       const struct cvol_kernel_features *k);
