/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cvol-mount: mount a checked overlay root, check a backing fs, or unmount. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "../runtime/runtime.h"
#include "../layers/layers.h"
#include "cli.h"
#include "mount-args.h"
#include "output.h"

#define PROG "cvol-mount"

static const char usage[] =
	"Usage:\n"
	"  " PROG " --lower DIR[:DIR...] --upper DIR [--work DIR] [-o OPT[,OPT]] MERGED\n"
	"  " PROG " --lower DIR[:DIR...] --read-only MERGED\n"
	"  " PROG " --layers ID [--root DIR] --upper DIR MERGED   (a layer of the store and its chain)\n"
	"  " PROG " ... MERGED --exec [--seccomp FILE|unconfined] [--keep] -- COMMAND [ARG...]\n"
	"  " PROG " --check DIR [--json]\n"
	"  " PROG " --umount MERGED [--root DIR]\n"
	"\n"
	"Mount an overlay root after checking the backing filesystem (d_type, xattrs,\n"
	"O_TMPFILE, RENAME_WHITEOUT). Lower layers are listed top first; up to 500.\n"
	"A ':' inside a path is written '\\:'.\n"
	"\n"
	"Options:\n"
	"      --lower DIRS    lower layers, top first, separated by ':'\n"
	"      --upper DIR     writable upper layer\n"
	"      --work DIR      overlay work dir (default: UPPER.work, created when missing)\n"
	"  -o, --options OPTS  extra overlay options: volatile, userxattr, metacopy=on|off,\n"
	"                      redirect_dir=on|off|follow|nofollow, index=on|off, xino=on|off|auto,\n"
	"                      nfs_export=on|off, uuid=on|off|null|auto, verity=on|off|require\n"
	"  -r, --read-only     a read-only root, no upper layer\n"
	"      --layers ID     lower layers: store layer ID and its parent chain\n"
	"      --root DIR      the store of --layers and --umount (default $CVOL_ROOT or " CVOL_DEFAULT_ROOT
	")\n"
	"      --exec          run COMMAND in new mount and PID namespaces rooted at MERGED, with\n"
	"                      /proc, a minimal /dev and a default seccomp filter; exit with its status\n"
	"      --seccomp FILE  a Docker JSON seccomp profile instead, or `unconfined`\n"
	"      --keep          leave MERGED mounted after --exec\n"
	"      --check DIR     exit 0 if DIR's filesystem can hold an upper layer, else 1 and why\n"
	"      --umount DIR    unmount the overlay on DIR (and release the layers a --layers root holds)\n"
	"      --json          machine-readable output for --check\n"
	"  -h, --help          show this help\n"
	"      --version       show the version\n"
	"\n"
	"Environment: CVOL_MOUNT_API=legacy|string|fd caps the mount API; CVOL_DEBUG=overlay;\n"
	"CVOL_PROBE_CACHE=DIR|off where backing-fs probes are kept (default /run/cvol/probe).\n";

static int run_check(const struct mount_args *a)
{
	struct cvol_error err = { 0 };
	struct cvol_backing_fs fs = { 0 };
	struct cvol_kernel_features k = { 0 };

	int r = cvol_kernel_features_probe(&k, &err);
	if (r == 0)
		r = cvol_backing_fs_probe(a->target, &fs, &err);
	bool probed = r == 0;
	if (r == 0)
		r = cvol_backing_fs_check(&fs, a->target, false, &err);

	if (a->json) {
		json_t *doc = json_pack("{s:s, s:b, s:s?}", "path", a->target, "fit", r == 0, "reason",
					r < 0 ? err.msg : NULL);
		if (doc && probed) {
			json_object_set_new(doc, "fs", output_backing_fs_json(&fs));
			json_object_set_new(doc, "kernel", output_kernel_json(&k));
		}
		output_json(doc);
		return r < 0 ? 1 : 0;
	}
	if (r < 0) {
		cli_fail(PROG, &err);
		return 1;
	}
	printf("`%s` (%s) is fit for an overlay upper layer\n", a->target, fs.type);
	output_probe_text(a->target, &fs, &k);
	return 0;
}

/* --exec: the command on the new root; its exit status is ours. The root is unmounted
 * afterwards (releasing the layers of a --layers root) unless --keep. */
static int run_exec(const struct mount_args *a, struct cvol_layer_store *store)
{
	struct cvol_error err = { 0 };
	struct cvol_exec_config cfg = { .root = a->target, .argv = a->command, .seccomp = a->seccomp };
	int status = 1;

	if (cvol_exec_run(&cfg, &status, &err) < 0) {
		cli_fail(PROG, &err);
		status = 127;
	}
	if (a->keep)
		return status;
	int r = store ? cvol_layer_root_umount(store, a->target, &err) : cvol_overlay_umount(a->target, &err);
	if (r < 0)
		cli_fail(PROG, &err);
	return status;
}

/* A root on --layers ID: the store mounts it on the layer's chain and holds the chain. */
static int mount_layers_root(const struct mount_args *a, struct cvol_layer_store **ret_store,
			     struct cvol_error *err)
{
	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;
	struct cvol_layer_root root = {
		.layer = a->layers,
		.upper = a->upper,
		.work = a->work,
		.options = a->options,
		.read_only = a->read_only,
	};
	int r = cvol_layer_store_open(cli_store_root(a->root), &store, err);
	if (r == 0)
		r = cvol_layer_root_mount(store, &root, a->target, err);
	if (r == 0)
		*ret_store = TAKE_PTR(store);
	return r;
}

static int run_mount(const struct mount_args *a)
{
	struct cvol_error err = { 0 };
	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;
	struct cvol_overlay_config cfg = {
		.lowers = a->lowers,
		.upper = a->upper,
		.work = a->work,
		.options = a->options,
		.read_only = a->read_only,
		.base_dirfd = AT_FDCWD,
	};

	int r = a->layers ? mount_layers_root(a, &store, &err) : cvol_overlay_mount(&cfg, a->target, &err);
	if (r < 0)
		return cli_fail(PROG, &err);
	return a->exec ? run_exec(a, store) : 0;
}

static int run_umount(const struct mount_args *a)
{
	struct cvol_error err = { 0 };

	_cleanup_layer_store_ struct cvol_layer_store *store = NULL;

	/* a root on store layers also drops its hold on them */
	int r = cvol_layer_store_open_existing(cli_store_root(a->root), &store, &err);
	if (r == 0)
		r = cvol_layer_root_umount(store, a->target, &err);
	else if (r == -ENOENT)
		r = cvol_overlay_umount(a->target, &err);
	return r < 0 ? cli_fail(PROG, &err) : 0;
}

int main(int argc, char **argv)
{
	struct mount_args args;
	struct cvol_error err = { 0 };
	int status = 0;

	if (mount_args_parse(argc, argv, &args, &err) < 0) {
		fprintf(stderr, PROG ": %s (see --help)\n", err.msg);
		return 2;
	}
	switch (args.mode) {
	case MOUNT_MODE_HELP:
		fputs(usage, stdout);
		break;
	case MOUNT_MODE_VERSION:
		puts(PROG " " CVOL_VERSION);
		break;
	case MOUNT_MODE_CHECK:
		status = run_check(&args);
		break;
	case MOUNT_MODE_UMOUNT:
		status = run_umount(&args);
		break;
	case MOUNT_MODE_MOUNT:
		status = run_mount(&args);
		break;
	}
	mount_args_done(&args);
	return status;
}
