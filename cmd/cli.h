/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What every command line shares: the default store, one error line, the common flags. */
#pragma once

#include <stdbool.h>

#include "../common/error.h"

#define CVOL_DEFAULT_ROOT "/var/lib/cvol"

#define CLI_EXIT_FAILURE 1 /* the operation failed */
#define CLI_EXIT_USAGE	 2 /* the command line is wrong */

/* What an argument parser found; parsers return, they never exit. */
enum cli_parse {
	CLI_PARSE_ERROR = -1, /* a usage error, already printed */
	CLI_PARSE_OK = 0,
	CLI_PARSE_HELP = 1, /* --help: print the usage, exit 0 */
};

/* The store: @given (--root) when set, else $CVOL_ROOT when set, else CVOL_DEFAULT_ROOT. */
const char *cli_store_root(const char *given);
/* Print "@prog: <message>" on stderr; returns CLI_EXIT_FAILURE. */
int cli_fail(const char *prog, const struct cvol_error *err);
/* Parse the --json and --help flags a command takes (nothing else); *@ret_first is the index
 * of the first operand. */
enum cli_parse cli_parse_flags(const char *prog, int argc, char **argv, bool *json, int *ret_first);
/* The exit status for @parse: 0 after printing @usage for --help, CLI_EXIT_USAGE after an error. */
int cli_parse_exit(enum cli_parse parse, const char *usage);
