/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol-snapshotter: containerd's snapshot service on cvol's layer store, over gRPC on
 * /run/cvol/snapshotter.sock (a proxy_plugins entry of type "snapshot" in containerd's config). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/socket.h"
#include "../snapshotter/snapshotter.h"
#include "cli.h"

#define PROG "cvol-snapshotter"

static const char usage[] =
	"Usage: " PROG " [--root DIR] [--socket PATH] [--debug]\n"
	"\n"
	"Serve containerd's snapshot API (containerd.services.snapshots.v1.Snapshots) on cvol's\n"
	"layer store: committed snapshots are cvol layers. In containerd's config.toml:\n"
	"  [proxy_plugins.cvol]\n"
	"    type = \"snapshot\"\n"
	"    address = \"" CVOL_SNAPSHOTTER_SOCKET "\"\n"
	"Takes a socket passed by systemd (LISTEN_FDS) instead of --socket when there is one.\n"
	"Only root may connect.\n"
	"\n"
	"      --root DIR     the store (default $CVOL_ROOT or " CVOL_DEFAULT_ROOT ")\n"
	"      --socket PATH  the socket (default " CVOL_SNAPSHOTTER_SOCKET "), made 0600\n"
	"      --debug        one line per call on stderr\n"
	"  -h, --help         show this help\n"
	"      --version      show the version\n";

struct options {
	const char *root;
	const char *socket;
	bool debug;
};

static enum cli_parse parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'R' }, { "socket", required_argument, NULL, 'S' },
		{ "debug", no_argument, NULL, 'd' },	  { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },	  { NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			o->root = optarg;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'h':
			return CLI_PARSE_HELP;
		case 'V':
			puts(PROG " " CVOL_VERSION);
			exit(0);
		default:
			fprintf(stderr, PROG ": unknown option or missing value `%s` (see --help)\n",
				argv[optind - 1]);
			return CLI_PARSE_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument `%s` (see --help)\n", argv[optind]);
		return CLI_PARSE_ERROR;
	}
	return CLI_PARSE_OK;
}

static int serve(const struct options *o, struct cvol_snapshotter *s, struct cvol_error *err)
{
	int fd = unix_socket_from_systemd();
	bool own = fd < 0;

	if (own && (fd = unix_socket_listen(o->socket, false, 0, err)) < 0)
		return fd;
	struct rpc_server_config cfg = {
		.services = cvol_snapshotter_service(s),
		.n_services = 1,
		.listen_fd = fd,
		.stop_fd = -1,
		.max_message = 1024 * 1024, /* the largest request containerd sends is ~260 KiB of labels */
		.debug = o->debug,
	};
	int r = rpc_server_run(&cfg, err);
	if (own) {
		unlink(o->socket);
		close(fd);
	}
	return r;
}

int main(int argc, char **argv)
{
	struct options o = { .socket = CVOL_SNAPSHOTTER_SOCKET };
	struct cvol_snapshotter *s = NULL;
	struct cvol_error err = { 0 };

	enum cli_parse p = parse_options(argc, argv, &o);
	if (p != CLI_PARSE_OK)
		return cli_parse_exit(p, usage);
	if (cvol_snapshotter_open(cli_store_root(o.root), &s, &err) < 0)
		return cli_fail(PROG, &err);
	int r = serve(&o, s, &err);
	cvol_snapshotter_close(s);
	return r < 0 ? cli_fail(PROG, &err) : 0;
}
