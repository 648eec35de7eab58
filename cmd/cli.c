/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

const char *cli_store_root(const char *given)
{
	if (given && *given)
		return given;
	const char *env = getenv("CVOL_ROOT");
	return env && *env ? env : CVOL_DEFAULT_ROOT;
}

int cli_fail(const char *prog, const struct cvol_error *err)
{
	fprintf(stderr, "%s: %s\n", prog, err->msg[0] ? err->msg : "unknown error");
	return CLI_EXIT_FAILURE;
}

enum cli_parse cli_parse_flags(const char *prog, int argc, char **argv, bool *json, int *ret_first)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h')
			return CLI_PARSE_HELP;
		if (c != 'j') {
			fprintf(stderr, "%s: unknown option `%s` (see --help)\n", prog, argv[optind - 1]);
			return CLI_PARSE_ERROR;
		}
		*json = true;
	}
	*ret_first = optind;
	return CLI_PARSE_OK;
}

int cli_parse_exit(enum cli_parse parse, const char *usage)
{
	if (parse == CLI_PARSE_HELP) {
		fputs(usage, stdout);
		return 0;
	}
	return CLI_EXIT_USAGE;
}
