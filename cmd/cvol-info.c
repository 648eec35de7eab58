/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol info: what the store sits on and what the kernel can do. */
#include <stdio.h>

#include "cvol.h"

static const char info_usage[] = "Usage: cvol [--root DIR] info [--json]\n";

int cvol_cmd_info(const struct cvol_globals *g, int argc, char **argv)
{
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs;
	struct cvol_kernel_features k;
	struct cvol_layer_info *layers = NULL;
	size_t n_layers = 0;
	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;
	bool json = g->json;

	int first = 0;
	enum cli_parse parse = cli_parse_flags("cvol info", argc, argv, &json, &first);
	if (parse != CLI_PARSE_OK)
		return cli_parse_exit(parse, info_usage);
	if (first != argc) {
		fprintf(stderr, "cvol info: unexpected argument `%s`\n", argv[first]);
		return CLI_EXIT_USAGE;
	}
	int r = cvol_layer_store_open(g->root, &store, &err);
	if (r == 0)
		r = cvol_kernel_features_probe(&k, &err);
	if (r == 0)
		r = cvol_backing_fs_probe(cvol_layer_store_get_path(store), &fs, &err);
	if (r == 0)
		r = cvol_layer_list(store, &layers, &n_layers, &err);
	if (r < 0) {
		cli_fail("cvol info", &err);
		return 1;
	}
	cvol_layer_info_free(layers, n_layers);
	struct cvol_error unfit = { 0 };
	bool fit = cvol_backing_fs_check(&fs, cvol_layer_store_get_path(store), false, &unfit) == 0;

	if (json)
		return output_json(json_pack("{s:s, s:o, s:o, s:b, s:s?, s:I}", "root", g->root, "backing_fs",
					     output_backing_fs_json(&fs), "kernel", output_kernel_json(&k),
					     "fit", fit, "unfit_reason", fit ? NULL : unfit.msg, "layers",
					     (json_int_t)n_layers)) < 0;
	printf("root:              %s\n", g->root);
	output_probe_text(cvol_layer_store_get_path(store), &fs, &k);
	printf("fit for overlay:   %s\n", fit ? "yes" : unfit.msg);
	printf("layers:            %zu\n", n_layers);
	return 0;
}
