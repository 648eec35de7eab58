/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol volume create|ls|inspect|rm|mount|umount: the store the plugin serves. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../common/strv.h"
#include "../volumes/volumes.h"
#include "cvol.h"

#define CLI_MOUNT_ID "cvol-cli"

static const char volume_usage[] =
	"Usage: cvol [--root DIR] volume COMMAND\n"
	"  create [-o|--opt KEY=VALUE]... NAME\n"
	"                                  a volume (options as for docker volume create -d cvol)\n"
	"  ls [--json]                     list volumes\n"
	"  inspect NAME                    the volume as dockerd sees it, with Status\n"
	"  rm NAME                         remove a volume no mount ID holds\n"
	"  mount NAME [ID]                 add mount ID (default " CLI_MOUNT_ID "); prints the mountpoint\n"
	"  umount NAME [ID]                drop mount ID; the last one unmounts\n";

struct volume_args {
	json_t *options;
	bool json;
	char **operands;
	int n_operands;
};

static int fail(const struct cvol_error *err)
{
	cli_fail("cvol", err);
	return 1;
}

static int add_option(json_t *options, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv) {
		fprintf(stderr, "cvol volume create: option `%s`: use KEY=VALUE\n", kv);
		return -1;
	}
	_cleanup_free_ char *key = strndup(kv, (size_t)(eq - kv));
	return key && json_object_set_new(options, key, json_string(eq + 1)) == 0 ? 0 : -1;
}

static int volume_create(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	if (cvol_volume_create(store, a->operands[0], a->options, &err) < 0)
		return fail(&err);
	puts(a->operands[0]);
	return 0;
}

static int volume_ls(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	char **names;
	if (cvol_volume_list_names(store, &names, &err) < 0)
		return fail(&err);
	json_t *list = a->json ? json_array() : NULL;
	if (!a->json)
		printf("%-32s %-6s %-6s %s\n", "NAME", "DRIVER", "MOUNTS", "BACKEND");
	int status = 0;
	for (char **n = names; *n; n++) {
		struct cvol_volume_info info;
		if (cvol_volume_get(store, *n, &info, &err) < 0) {
			if (err.code != ENOENT) { /* a volume removed meanwhile is simply gone */
				cli_fail("cvol", &err);
				status = 1;
			}
			continue;
		}
		if (list)
			json_array_append_new(list, cvol_volume_info_to_json(&info));
		else
			printf("%-32s %-6s %-6zu %s\n", info.name, "cvol", strv_length(info.mount_ids),
			       cvol_volume_backend_name(info.backend));
		cvol_volume_info_done(&info);
	}
	cvol_strv_free(names);
	if (list && output_json(list) < 0)
		status = 1;
	return status;
}

static int volume_inspect(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	struct cvol_volume_info info;
	if (cvol_volume_get(store, a->operands[0], &info, &err) < 0)
		return fail(&err);
	json_t *doc = cvol_volume_info_to_json(&info);
	cvol_volume_info_done(&info);
	return output_json(doc) < 0 ? 1 : 0;
}

static int volume_rm(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	return cvol_volume_remove(store, a->operands[0], &err) < 0 ? fail(&err) : 0;
}

static const char *mount_id(const struct volume_args *a)
{
	return a->n_operands > 1 ? a->operands[1] : CLI_MOUNT_ID;
}

static int volume_mount(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	_cleanup_free_ char *path = NULL;
	if (cvol_volume_mount(store, a->operands[0], mount_id(a), &path, &err) < 0)
		return fail(&err);
	puts(path);
	return 0;
}

static int volume_umount(struct cvol_volume_store *store, struct volume_args *a)
{
	struct cvol_error err = { 0 };
	return cvol_volume_unmount(store, a->operands[0], mount_id(a), &err) < 0 ? fail(&err) : 0;
}

static const struct volume_command {
	const char *name;
	int (*run)(struct cvol_volume_store *store, struct volume_args *a);
	int min_operands, max_operands;
	bool takes_options; /* -o */
} volume_commands[] = {
	{ "create", volume_create, 1, 1, true },    { "ls", volume_ls, 0, 0, false },
	{ "inspect", volume_inspect, 1, 1, false }, { "rm", volume_rm, 1, 1, false },
	{ "mount", volume_mount, 1, 2, false },	    { "umount", volume_umount, 1, 2, false },
};

static enum cli_parse parse_volume_args(const struct volume_command *cmd, int argc, char **argv,
					struct volume_args *a)
{
	static const struct option opts[] = {
		{ "opt", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		if (c == 'h')
			return CLI_PARSE_HELP;
		if (c == 'o' && cmd->takes_options) {
			if (add_option(a->options, optarg) < 0)
				return CLI_PARSE_ERROR;
		} else if (c == 'j') {
			a->json = true;
		} else {
			fprintf(stderr, "cvol volume %s: unknown option or missing value `%s`\n", cmd->name,
				argv[optind - 1]);
			return CLI_PARSE_ERROR;
		}
	}
	a->operands = argv + optind;
	a->n_operands = argc - optind;
	if (a->n_operands < cmd->min_operands || a->n_operands > cmd->max_operands) {
		fprintf(stderr, "cvol volume %s: %s\n%s", cmd->name,
			a->n_operands < cmd->min_operands ? "no volume name given" : "too many arguments",
			volume_usage);
		return CLI_PARSE_ERROR;
	}
	return CLI_PARSE_OK;
}

int cvol_cmd_volume(const struct cvol_globals *g, int argc, char **argv)
{
	struct cvol_error err = { 0 };

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(volume_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(volume_commands); i++) {
		const struct volume_command *cmd = &volume_commands[i];
		if (strcmp(argv[1], cmd->name) != 0)
			continue;
		json_auto_t *options = json_object();
		struct volume_args a = { .options = options, .json = g->json };
		if (!options)
			return CLI_EXIT_FAILURE;
		enum cli_parse parse = parse_volume_args(cmd, argc - 1, argv + 1, &a);
		if (parse != CLI_PARSE_OK)
			return cli_parse_exit(parse, volume_usage);
		_cleanup_volume_store_ struct cvol_volume_store *store = NULL;
		if (cvol_volume_store_open(g->root, &store, &err) < 0)
			return fail(&err);
		return cmd->run(store, &a);
	}
	fprintf(stderr, "cvol volume: unknown command `%s`\n%s", argv[1], volume_usage);
	return 2;
}
