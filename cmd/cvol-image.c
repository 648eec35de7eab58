/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol image import PATH: `docker save` output or an OCI layout, into the layer store. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cvol.h"

static const char image_usage[] =
	"Usage: cvol [--root DIR] image import PATH\n"
	"  PATH is `docker save` output or an OCI image layout, as a directory or a tar.\n"
	"  Every blob's sha256 is checked; layers already in the store are reused.\n"
	"  Prints the id of the top layer (mount it with `cvol layer mount`).\n";

/* Layers and bytes done, on one terminal line that is rewritten. */
static void show_progress(const struct cvol_image_progress *p, void *data)
{
	(void)data;
	fprintf(stderr, "\rlayers %zu/%zu (%zu already here), %.1f MiB", p->layers_done, p->layers_total,
		p->layers_reused, (double)p->bytes_done / (1024.0 * 1024.0));
	if (p->layers_done == p->layers_total)
		fputc('\n', stderr);
}

int cvol_cmd_image(const struct cvol_globals *g, int argc, char **argv)
{
	struct cvol_error err = { 0 };
	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;
	_cleanup_free_ char *top = NULL;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(image_usage, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "import") != 0) {
		fputs(image_usage, stderr);
		return 2;
	}
	if (cvol_layer_store_open(g->root, &store, &err) < 0 ||
	    cvol_image_import(store, argv[2], isatty(STDERR_FILENO) ? show_progress : NULL, NULL, &top,
			      &err) < 0) {
		cli_fail("cvol", &err);
		return 1;
	}
	puts(top);
	return 0;
}
