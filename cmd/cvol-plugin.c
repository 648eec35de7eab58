/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol-plugin: the Docker volume plugin on /run/docker/plugins/cvol.sock. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugin/plugin.h"
#include "cli.h"

#define PROG "cvol-plugin"

/* A printf format: the defaults of --max-connections, --idle-timeout and --request-timeout. */
static const char usage[] =
	"Usage: " PROG " [--root DIR] [--socket PATH] [--scope local|global] [--group NAME|GID]\n"
	"                   [--max-connections N] [--idle-timeout SECS] [--request-timeout SECS]\n"
	"                   [--mount-dir DIR] [--host-root DIR] [--debug]\n"
	"\n"
	"Serve the Docker volume plugin protocol (docker volume create -d cvol ...).\n"
	"Takes a socket passed by systemd (LISTEN_FDS) instead of --socket when there is one.\n"
	"Only root may connect, and members of --group; others are refused before a byte is read.\n"
	"\n"
	"      --root DIR              the store (default $CVOL_ROOT or " CVOL_DEFAULT_ROOT ")\n"
	"      --socket PATH           the socket (default " CVOL_PLUGIN_SOCKET "), made 0600\n"
	"      --scope SCOPE           local (default) or global, as Capabilities reports it\n"
	"      --group NAME|GID        let this group's members connect too (their primary or a\n"
	"                              supplementary group); the socket is made root:GROUP 0660\n"
	"      --max-connections N     connections at once (default %u); when full,\n"
	"                              the busiest client's connection waiting longest for a\n"
	"                              request is closed to make room\n"
	"      --idle-timeout SECS     close a connection silent for SECS (default %u)\n"
	"      --request-timeout SECS  cut a connection that has no whole request SECS after it\n"
	"                              opened or after its last reply (default %u);\n"
	"                              longer than --idle-timeout\n"
	"      --mount-dir DIR         bind each volume in use at DIR/NAME and give dockerd that\n"
	"                              path (a managed plugin's propagated mount); at start, bind\n"
	"                              again every volume that mount IDs hold\n"
	"      --host-root DIR         take bind volumes' device paths under DIR (where a managed\n"
	"                              plugin sees the host's /)\n"
	"      --debug                 one line per request on stderr\n"
	"  -h, --help                  show this help\n"
	"      --version               show the version\n";

/* --group: a group name, or a number. */
static int parse_group(const char *arg, gid_t *ret)
{
	char *end;
	unsigned long v;
	struct group *gr = getgrnam(arg);

	if (gr) {
		*ret = gr->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno || v >= (gid_t)-1) {
		fprintf(stderr, PROG ": --group `%s`: no such group\n", arg);
		return -EINVAL;
	}
	*ret = (gid_t)v;
	return 0;
}

/* A whole number of at least 1 for option @opt. */
static int parse_count(const char *opt, const char *arg, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || *end || errno || v < 1 || v > max) {
		fprintf(stderr, PROG ": %s `%s`: need a number from 1 to %u\n", opt, arg, max);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'R' },
		{ "socket", required_argument, NULL, 'S' },
		{ "scope", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "request-timeout", required_argument, NULL, 't' },
		{ "mount-dir", required_argument, NULL, 'M' },
		{ "host-root", required_argument, NULL, 'H' },
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
		case 'g':
			if (parse_group(optarg, &cfg.group) < 0)
				return 2;
			cfg.has_group = true;
			break;
		case 'm':
			if (parse_count("--max-connections", optarg, 100000, &cfg.max_connections) < 0)
				return 2;
			break;
		case 'i':
			if (parse_count("--idle-timeout", optarg, 86400, &cfg.idle_timeout) < 0)
				return 2;
			break;
		case 't':
			if (parse_count("--request-timeout", optarg, 86400, &cfg.request_timeout) < 0)
				return 2;
			break;
		case 'M':
			cfg.mount_dir = optarg;
			break;
		case 'H':
			cfg.host_root = optarg;
			break;
		case 'd':
			cfg.debug = true;
			break;
		case 'h':
			printf(usage, CVOL_PLUGIN_MAX_CONNECTIONS, CVOL_PLUGIN_IDLE_TIMEOUT,
			       CVOL_PLUGIN_REQUEST_TIMEOUT);
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
