/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol-plugin: the Docker volume plugin on /run/docker/plugins/cvol.sock. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../plugin/plugin.h"
#include "cli.h"

#define PROG "cvol-plugin"

static const char usage[] =
	"Usage: " PROG " [--root DIR] [--socket PATH] [--scope local|global] [--debug]\n"
	"\n"
	"Serve the Docker volume plugin protocol (docker volume create -d cvol ...).\n"
	"Takes a socket passed by systemd (LISTEN_FDS) instead of --socket when there is one.\n"
	"\n"
	"      --root DIR      the store (default $CVOL_ROOT or " CVOL_DEFAULT_ROOT ")\n"
	"      --socket PATH   the socket (default " CVOL_PLUGIN_SOCKET ")\n"
	"      --scope SCOPE   local (default) or global, as Capabilities reports it\n"
	"      --debug         one line per request on stderr\n"
	"  -h, --help          show this help\n"
	"      --version       show the version\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'R' },
		{ "socket", required_argument, NULL, 'S' },
		{ "scope", required_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cvol_plugin_config cfg = { .socket = CVOL_PLUGIN_SOCKET };
	struct cvol_error err = { 0 };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			cfg.root = optarg;
			break;
		case 'S':
			cfg.socket = optarg;
			break;
		case 's':
			if (strcmp(optarg, "local") != 0 && strcmp(optarg, "global") != 0) {
				fprintf(stderr, PROG ": --scope `%s`: use local or global\n", optarg);
				return 2;
			}
			cfg.global_scope = strcmp(optarg, "global") == 0;
			break;
		case 'd':
			cfg.debug = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts(PROG " " CVOL_VERSION);
			return 0;
		default:
			fprintf(stderr, PROG ": unknown option or missing value `%s` (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument `%s` (see --help)\n", argv[optind]);
		return 2;
	}
	cfg.root = cli_store_root(cfg.root);
	if (cvol_plugin_serve(&cfg, &err) < 0) {
		cli_fail(PROG, &err);
		return 1;
	}
	return 0;
}
