/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "mount-args.h"

#include <getopt.h>
#include <string.h>

#include "../common/strv.h"

enum {
	OPT_LOWER = 0x100,
	OPT_UPPER,
	OPT_WORK,
	OPT_CHECK,
	OPT_UMOUNT,
	OPT_JSON,
	OPT_VERSION,
	OPT_LAYERS,
	OPT_ROOT,
	OPT_EXEC,
	OPT_KEEP,
	OPT_SECCOMP,
};

static const struct option long_options[] = {
	{ "lower", required_argument, NULL, OPT_LOWER },
	{ "upper", required_argument, NULL, OPT_UPPER },
	{ "work", required_argument, NULL, OPT_WORK },
	{ "options", required_argument, NULL, 'o' },
	{ "read-only", no_argument, NULL, 'r' },
	{ "check", required_argument, NULL, OPT_CHECK },
	{ "umount", required_argument, NULL, OPT_UMOUNT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "layers", required_argument, NULL, OPT_LAYERS },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "exec", no_argument, NULL, OPT_EXEC },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ NULL, 0, NULL, 0 },
};

void mount_args_done(struct mount_args *a)
{
	cvol_strv_free(a->lowers);
	cvol_strv_free(a->options);
	free(a->upper);
	free(a->work);
	free(a->target);
	free(a->layers);
	free(a->root);
	free(a->seccomp);
	cvol_strv_free(a->command);
	*a = (struct mount_args){ 0 };
}

static int set_once(char **slot, const char *value, const char *name, struct cvol_error *err)
{
	if (*slot)
		return cvol_error_setx(err, EINVAL, "%s given twice", name);
	if (*value == '\0')
		return cvol_error_setx(err, EINVAL, "%s needs a path, got an empty string", name);
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

static int add_options(struct mount_args *a, const char *spec, struct cvol_error *err)
{
	_cleanup_strv_free_ char **parts = NULL;
	if (strv_split(spec, ',', &parts) < 0)
		return -ENOMEM;
	for (char **p = parts; *p; p++) {
		if (**p == '\0')
			return cvol_error_setx(err, EINVAL, "empty overlay option in `-o %s`", spec);
		if (strv_push(&a->options, *p) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int set_lowers(struct mount_args *a, const char *spec, struct cvol_error *err)
{
	if (a->lowers)
		return cvol_error_setx(err, EINVAL, "--lower given twice; list the layers as a:b:c");
	if (strv_split(spec, ':', &a->lowers) < 0)
		return -ENOMEM;
	for (char **l = a->lowers; *l; l++)
		if (**l == '\0')
			return cvol_error_setx(err, EINVAL, "empty path in `--lower %s`", spec);
	return 0;
}

static int set_mode(struct mount_args *a, enum mount_mode mode, const char *value, const char *name,
		    struct cvol_error *err)
{
	if (a->mode != MOUNT_MODE_MOUNT)
		return cvol_error_setx(err, EINVAL, "%s cannot be combined with another action", name);
	a->mode = mode;
	return value ? set_once(&a->target, value, name, err) : 0;
}

static int parse_one(struct mount_args *a, int c, int argc, char **argv, struct cvol_error *err)
{
	switch (c) {
	case OPT_LOWER:
		return set_lowers(a, optarg, err);
	case OPT_UPPER:
		return set_once(&a->upper, optarg, "--upper", err);
	case OPT_WORK:
		return set_once(&a->work, optarg, "--work", err);
	case 'o':
		return add_options(a, optarg, err);
	case 'r':
		a->read_only = true;
		return 0;
	case OPT_CHECK:
		return set_mode(a, MOUNT_MODE_CHECK, optarg, "--check", err);
	case OPT_UMOUNT:
		return set_mode(a, MOUNT_MODE_UMOUNT, optarg, "--umount", err);
	case OPT_JSON:
		a->json = true;
		return 0;
	case 'h':
		a->mode = MOUNT_MODE_HELP;
		return 0;
	case OPT_VERSION:
		a->mode = MOUNT_MODE_VERSION;
		return 0;
	case OPT_LAYERS:
		return set_once(&a->layers, optarg, "--layers", err);
	case OPT_ROOT:
		return set_once(&a->root, optarg, "--root", err);
	case OPT_EXEC:
		a->exec = true;
		return 0;
	case OPT_KEEP:
		a->keep = true;
		return 0;
	case OPT_SECCOMP:
		return set_once(&a->seccomp, optarg, "--seccomp", err);
	case ':':
		return cvol_error_setx(err, EINVAL, "option `%s` needs a value", argv[optind - 1]);
	default:
		(void)argc;
		if (optopt && optopt < 0x100)
			return cvol_error_setx(err, EINVAL, "unknown option `-%c`", optopt);
		return cvol_error_setx(err, EINVAL, "unknown option `%s`", argv[optind - 1]);
	}
}

/* The rules between options, once all are read. */
static int check_mount_args(struct mount_args *a, struct cvol_error *err)
{
	if (a->mode == MOUNT_MODE_HELP || a->mode == MOUNT_MODE_VERSION)
		return 0;
	if (a->mode != MOUNT_MODE_MOUNT) {
		if (a->lowers || a->layers || a->upper || a->work || a->options || a->read_only || a->exec)
			return cvol_error_setx(err, EINVAL, "--check and --umount take no mount options");
		if (a->root && a->mode != MOUNT_MODE_UMOUNT)
			return cvol_error_setx(err, EINVAL, "--root is for --layers and --umount");
		return 0;
	}
	if (!a->lowers && !a->layers)
		return cvol_error_setx(err, EINVAL, "no --lower or --layers given");
	if (a->lowers && a->layers)
		return cvol_error_setx(err, EINVAL, "--lower and --layers cannot be combined");
	if (a->root && !a->layers)
		return cvol_error_setx(err, EINVAL, "--root is for --layers and --umount");
	if (a->exec && !a->command)
		return cvol_error_setx(err, EINVAL, "--exec needs a command after the mount point");
	if ((a->keep || a->seccomp) && !a->exec)
		return cvol_error_setx(err, EINVAL, "--keep and --seccomp are for --exec");
	if (!a->target)
		return cvol_error_setx(err, EINVAL, "no mount point given");
	if (!a->upper && !a->read_only)
		return cvol_error_setx(err, EINVAL,
				       "no --upper given; use --read-only for a root without one");
	if (a->upper && a->read_only)
		return cvol_error_setx(err, EINVAL, "--read-only takes no --upper");
	if (a->work && !a->upper)
		return cvol_error_setx(err, EINVAL, "--work needs --upper");
	return 0;
}

int mount_args_parse(int argc, char **argv, struct mount_args *ret, struct cvol_error *err)
{
	struct mount_args a = { .mode = MOUNT_MODE_MOUNT };
	int c, r = 0;

	optind = 0;
	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, ":o:rh", long_options, NULL)) != -1)
		r = parse_one(&a, c, argc, argv, err);
	for (; r == 0 && optind < argc; optind++) {
		if (a.exec && a.target) /* the command and its arguments */
			r = strv_push(&a.command, argv[optind]);
		else if (a.mode != MOUNT_MODE_MOUNT || a.target)
			r = cvol_error_setx(err, EINVAL, "unexpected argument `%s`", argv[optind]);
		else
			r = set_once(&a.target, argv[optind], "mount point", err);
	}
	if (r == 0)
		r = check_mount_args(&a, err);
	if (r == -ENOMEM)
		cvol_error_set(err, ENOMEM, "parse arguments");
	if (r < 0) {
		mount_args_done(&a);
		return r;
	}
	*ret = a;
	return 0;
}
