/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol: the layer store (and, later, the volume store) from the command line. */
#include "cvol.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define PROG "cvol"

static const struct command {
	const char *name;
	int (*run)(const struct cvol_globals *g, int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "info", cvol_cmd_info, "backing filesystem, d_type, kernel features, layer count" },
	{ "layer", cvol_cmd_layer, "create, mount, unmount, remove and list layers" },
	{ "image", cvol_cmd_image, "import docker save output or an OCI layout as a chain of layers" },
	{ "volume", cvol_cmd_volume, "create, inspect, mount, unmount, remove and list volumes" },
};

static void print_usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [--root DIR] [--json] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "      --root DIR  the store (default $CVOL_ROOT or " CVOL_DEFAULT_ROOT ")\n"
		   "      --json      machine-readable output\n"
		   "  -h, --help      show this help\n"
		   "      --version   show the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cvol_globals g = { 0 };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			g.root = optarg;
			break;
		case 'j':
			g.json = true;
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		case 'V':
			puts(PROG " " CVOL_VERSION);
			return 0;
		default:
			fprintf(stderr, PROG ": unknown option or missing value `%s`\n", argv[optind - 1]);
			print_usage(stderr);
			return 2;
		}
	}
	g.root = cli_store_root(g.root);
	if (optind >= argc) {
		print_usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(&g, argc - optind, argv + optind);
	fprintf(stderr, PROG ": unknown command `%s` (see --help)\n", argv[optind]);
	return 2;
}
