/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol layer create|import|export|diff|mount|umount|rm|ls */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cvol.h"

static const char layer_usage[] =
	"Usage: cvol [--root DIR] layer COMMAND\n"
	"  create [--parent PARENT] ID   a new empty layer, on PARENT's chain\n"
	"  import [--parent PARENT] [--userxattr] ID FILE\n"
	"                                a layer from a tar (.tar, .tar.gz, .tar.zst; - for stdin)\n"
	"  export ID                     the layer's changes as a tar with OCI whiteouts, on stdout\n"
	"  diff ID                       A/C/D list of what the layer changes, like docker diff\n"
	"  mount ID                      mount ID with its parent chain; prints the merged path\n"
	"  umount [--force] ID           drop a reference; the last one unmounts\n"
	"  rm ID                         remove a layer that is not mounted and has no children\n"
	"  ls [--json]                   list layers\n";

struct layer_args {
	const char *parent;
	bool force;
	bool json;
	const char *id;
	const char *file; /* import: the tar, or "-" */
	bool userxattr;	  /* import: user.overlay.* markers */
};

enum {
	LAYER_OPT_PARENT = 1 << 0,
	LAYER_OPT_FORCE = 1 << 1,
	LAYER_OPT_JSON = 1 << 2,
	LAYER_OPT_USERXATTR = 1 << 3,
};

static int fail(const struct cvol_error *err)
{
	cli_fail("cvol", err);
	return 1;
}

static int layer_create(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	if (cvol_layer_create(store, a->id, a->parent, &err) < 0)
		return fail(&err);
	puts(a->id);
	return 0;
}

static int layer_import(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	struct cvol_tar_stats stats;
	bool from_stdin = strcmp(a->file, "-") == 0;
	_cleanup_close_ int fd = from_stdin ? dup(STDIN_FILENO) : open(a->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cvol_error_set(&err, errno, "open `%s`", a->file);
		return fail(&err);
	}
	if (cvol_layer_import(store, a->id, a->parent, fd, a->userxattr, &stats, &err) < 0)
		return fail(&err);
	puts(a->id);
	return 0;
}

static int layer_export(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "cvol: export layer `%s`: not writing a tar to a terminal; redirect stdout\n",
			a->id);
		return 1;
	}
	if (cvol_layer_export(store, a->id, STDOUT_FILENO, &err) < 0)
		return fail(&err);
	return 0;
}

static int print_change(char kind, const char *path, void *data)
{
	(void)data;
	return printf("%c /%s\n", kind, path) < 0 ? -EIO : 0;
}

static int layer_diff(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	if (cvol_layer_diff(store, a->id, print_change, NULL, &err) < 0)
		return fail(&err);
	return 0;
}

static int layer_mount(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	_cleanup_free_ char *merged = NULL;
	if (cvol_layer_mount(store, a->id, &merged, &err) < 0)
		return fail(&err);
	puts(merged);
	return 0;
}

static int layer_umount(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	if (cvol_layer_umount(store, a->id, a->force, &err) < 0)
		return fail(&err);
	return 0;
}

static int layer_rm(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	if (cvol_layer_remove(store, a->id, &err) < 0)
		return fail(&err);
	return 0;
}

static int layer_ls_json(const struct cvol_layer_info *layers, size_t n)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:s?, s:s, s:I, s:I}", "id", layers[i].id,
						      "parent", layers[i].parent, "link", layers[i].link,
						      "depth", (json_int_t)layers[i].depth, "mounts",
						      (json_int_t)layers[i].mounts));
	return output_json(list) < 0 ? 1 : 0;
}

static int layer_ls(struct cvol_layer_store *store, const struct layer_args *a)
{
	struct cvol_error err = { 0 };
	struct cvol_layer_info *layers;
	size_t n;

	if (cvol_layer_list(store, &layers, &n, &err) < 0)
		return fail(&err);
	int status = 0;
	if (a->json) {
		status = layer_ls_json(layers, n);
	} else {
		printf("%-32s %-32s %5s %6s\n", "ID", "PARENT", "DEPTH", "MOUNTS");
		for (size_t i = 0; i < n; i++)
			printf("%-32s %-32s %5zu %6u\n", layers[i].id,
			       layers[i].parent ? layers[i].parent : "-", layers[i].depth, layers[i].mounts);
	}
	cvol_layer_info_free(layers, n);
	return status;
}

static const struct layer_command {
	const char *name;
	int (*run)(struct cvol_layer_store *store, const struct layer_args *a);
	unsigned options; /* LAYER_OPT_* it takes */
	int operands;	  /* 0, 1 (the id) or 2 (the id and a file) */
	bool writes;	  /* makes, writes or removes the layer: not one of containerd's */
} layer_commands[] = {
	{ "create", layer_create, LAYER_OPT_PARENT, 1, true },
	{ "import", layer_import, LAYER_OPT_PARENT | LAYER_OPT_USERXATTR, 2, true },
	{ "export", layer_export, 0, 1, false },
	{ "diff", layer_diff, 0, 1, false },
	{ "mount", layer_mount, 0, 1, true },
	{ "umount", layer_umount, LAYER_OPT_FORCE, 1, false },
	{ "rm", layer_rm, 0, 1, true },
	{ "ls", layer_ls, LAYER_OPT_JSON, 0, false },
};

/* The layers of containerd's snapshots are cvol-snapshotter's to make, write and remove (its
 * index names them); reading them, and roots and layers built on them, are anyone's. */
static int refuse_snapshot_layer(const char *command, const char *id, struct cvol_error *err)
{
	if (strncmp(id, CVOL_LAYER_SNAPSHOT_PREFIX, strlen(CVOL_LAYER_SNAPSHOT_PREFIX)) != 0)
		return 0;
	return cvol_error_setx(err, EPERM,
			       "layer `%s` belongs to cvol-snapshotter (a containerd snapshot); `layer %s` "
			       "leaves it alone: remove images with ctr or nerdctl, and build on it with "
			       "`layer create --parent` or `cvol-mount --layers`",
			       id, command);
}

static enum cli_parse parse_layer_args(const struct layer_command *cmd, int argc, char **argv,
				       struct layer_args *a)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' }, { "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },	    { "userxattr", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:fh", opts, NULL)) != -1) {
		unsigned flag = c == 'p'   ? LAYER_OPT_PARENT
				: c == 'f' ? LAYER_OPT_FORCE
				: c == 'j' ? LAYER_OPT_JSON
				: c == 'u' ? LAYER_OPT_USERXATTR
					   : 0;
		if (c == 'h')
			return CLI_PARSE_HELP;
		if (!flag || !(cmd->options & flag)) {
			fprintf(stderr, "cvol layer %s: unknown option or missing value `%s`\n", cmd->name,
				argv[optind - 1]);
			return CLI_PARSE_ERROR;
		}
		if (c == 'p')
			a->parent = optarg;
		a->force |= c == 'f';
		a->json |= c == 'j';
		a->userxattr |= c == 'u';
	}
	int operands = argc - optind;
	if (operands != cmd->operands) {
		static const char *const want[] = { "takes no arguments", "takes one layer id",
						    "takes a layer id and a file" };
		fprintf(stderr, "cvol layer %s: %s\n", cmd->name, want[cmd->operands]);
		return CLI_PARSE_ERROR;
	}
	a->id = operands > 0 ? argv[optind] : NULL;
	a->file = operands > 1 ? argv[optind + 1] : NULL;
	return CLI_PARSE_OK;
}

int cvol_cmd_layer(const struct cvol_globals *g, int argc, char **argv)
{
	struct cvol_error err = { 0 };
	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(layer_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(layer_commands); i++) {
		const struct layer_command *cmd = &layer_commands[i];
		struct layer_args a = { .json = g->json };
		if (strcmp(argv[1], cmd->name) != 0)
			continue;
		enum cli_parse parse = parse_layer_args(cmd, argc - 1, argv + 1, &a);
		if (parse != CLI_PARSE_OK)
			return cli_parse_exit(parse, layer_usage);
		if ((a.id && cvol_layer_check_id(a.id, &err) < 0) ||
		    (a.parent && cvol_layer_check_id(a.parent, &err) < 0) ||
		    (a.id && cmd->writes && refuse_snapshot_layer(cmd->name, a.id, &err) < 0))
			return fail(&err);
		if (cvol_layer_store_open(g->root, &store, &err) < 0)
			return fail(&err);
		return cmd->run(store, &a);
	}
	fprintf(stderr, "cvol layer: unknown command `%s`\n%s", argv[1], layer_usage);
	return 2;
}
