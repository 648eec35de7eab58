/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seccomp filters with libseccomp: a default that refuses what container runtimes refuse
 * by default, or a profile in Docker's JSON format. */
#include "runtime.h"

#include <jansson.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

/* Refused with EPERM by the default filter: what Docker's default profile keeps from a
 * container (kernel modules, kexec, reboot, mounts, namespaces, tracing, keyrings, bpf...). */
static const char *const default_refused[] = {
	"acct",
	"add_key",
	"bpf",
	"clock_adjtime",
	"clock_settime",
	"create_module",
	"delete_module",
	"finit_module",
	"fsconfig",
	"fsmount",
	"fsopen",
	"fspick",
	"get_kernel_syms",
	"get_mempolicy",
	"init_module",
	"ioperm",
	"iopl",
	"kcmp",
	"kexec_file_load",
	"kexec_load",
	"keyctl",
	"lookup_dcookie",
	"mbind",
	"mount",
	"mount_setattr",
	"move_mount",
	"move_pages",
	"name_to_handle_at",
	"nfsservctl",
	"open_by_handle_at",
	"open_tree",
	"perf_event_open",
	"pivot_root",
	"process_vm_readv",
	"process_vm_writev",
	"ptrace",
	"query_module",
	"quotactl",
	"quotactl_fd",
	"reboot",
	"request_key",
	"set_mempolicy",
	"setns",
	"settimeofday",
	"stime",
	"swapoff",
	"swapon",
	"sysfs",
	"_sysctl",
	"syslog",
	"umount",
	"umount2",
	"unshare",
	"uselib",
	"userfaultfd",
	"ustat",
	"vhangup",
	"vm86",
	"vm86old",
};

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n_args,
		    const struct scmp_arg_cmp *args, struct cvol_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a syscall of this architecture */
	int r = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (r == -EACCES) /* the same as the default action: nothing to add */
		return 0;
	if (r < 0 && r != -EEXIST)
		return cvol_error_set(err, -r, "seccomp rule for `%s`", name);
	return 0;
}

static int build_default(scmp_filter_ctx *ret, struct cvol_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return cvol_error_set(err, ENOMEM, "seccomp filter");
	for (size_t i = 0; i < ARRAY_SIZE(default_refused); i++) {
		int r = add_rule(ctx, SCMP_ACT_ERRNO(EPERM), default_refused[i], 0, NULL, err);
		if (r < 0) {
			seccomp_release(ctx);
			return r;
		}
	}
	/* no typing into a terminal the command shares with its caller; the kernel reads the
	 * request as 32 bits, so only those are compared (TIOCSTI | 1 << 32 is TIOCSTI) */
	static const unsigned long tty_injection[] = { TIOCSTI, TIOCLINUX };
	for (size_t i = 0; i < ARRAY_SIZE(tty_injection); i++) {
		struct scmp_arg_cmp arg = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, tty_injection[i]);
		int r = add_rule(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &arg, err);
		if (r < 0) {
			seccomp_release(ctx);
			return r;
		}
	}
	*ret = ctx;
	return 0;
}

/* "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO" (with errnoRet), ... */
static int parse_action(const char *name, json_t *errno_ret, int default_errno, uint32_t *ret)
{
	int e = json_is_integer(errno_ret) ? (int)json_integer_value(errno_ret) : default_errno;
	if (!name)
		return -EINVAL;
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*ret = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*ret = SCMP_ACT_ERRNO((uint16_t)e);
	else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*ret = SCMP_ACT_KILL;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*ret = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*ret = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*ret = SCMP_ACT_LOG;
	else
		return -EINVAL;
	return 0;
}

static int parse_op(const char *name, enum scmp_compare *ret)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE },
		{ "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE },
		{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE },
		{ "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; name && i < ARRAY_SIZE(ops); i++)
		if (strcmp(name, ops[i].name) == 0) {
			*ret = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* Docker's entries can be limited to capabilities or architectures: cvol runs the command
 * as root with every capability on this architecture, so "includes" of capabilities
 * apply, "excludes" of capabilities do not, and other architectures are skipped. */
static bool entry_applies(json_t *entry)
{
	json_t *inc = json_object_get(entry, "includes"), *exc = json_object_get(entry, "excludes");
	json_t *arches = json_object_get(inc, "arches");
	if (json_is_array(arches) && json_array_size(arches) > 0) {
		bool here = false;
		size_t i;
		json_t *a;
		json_array_foreach(arches, i, a) here |=
			json_is_string(a) && (strcmp(json_string_value(a), "amd64") == 0 ||
					      strcmp(json_string_value(a), "x86_64") == 0);
		if (!here)
			return false;
	}
	return !json_is_array(json_object_get(exc, "caps")) ||
	       json_array_size(json_object_get(exc, "caps")) == 0;
}

static int add_profile_entry(scmp_filter_ctx ctx, json_t *entry, int default_errno, const char *path,
			     struct cvol_error *err)
{
	uint32_t action;
	struct scmp_arg_cmp args[6];
	unsigned n_args = 0;
	size_t i;
	json_t *v;

	if (!entry_applies(entry))
		return 0;
	if (parse_action(json_string_value(json_object_get(entry, "action")),
			 json_object_get(entry, "errnoRet"), default_errno, &action) < 0)
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: unknown action in an entry", path);
	json_array_foreach(json_object_get(entry, "args"), i, v)
	{
		enum scmp_compare op;
		if (n_args == ARRAY_SIZE(args) ||
		    parse_op(json_string_value(json_object_get(v, "op")), &op) < 0)
			return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: bad argument condition",
					       path);
		args[n_args++] = (struct scmp_arg_cmp){
			.arg = (unsigned)json_integer_value(json_object_get(v, "index")),
			.op = op,
			.datum_a = (scmp_datum_t)json_integer_value(json_object_get(v, "value")),
			.datum_b = (scmp_datum_t)json_integer_value(json_object_get(v, "valueTwo")),
		};
	}
	json_t *names = json_object_get(entry, "names");
	if (!json_is_array(names) && json_is_string(json_object_get(entry, "name")))
		return add_rule(ctx, action, json_string_value(json_object_get(entry, "name")), n_args, args,
				err);
	json_array_foreach(names, i, v)
	{
		int r = add_rule(ctx, action, json_string_value(v), n_args, args, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int build_profile(const char *path, scmp_filter_ctx *ret, struct cvol_error *err)
{
	json_error_t jerr;
	uint32_t def;
	size_t i;
	json_t *entry;

	json_auto_t *doc = json_load_file(path, 0, &jerr);
	if (!doc)
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: %s (line %d)", path, jerr.text,
				       jerr.line);
	json_t *def_errno = json_object_get(doc, "defaultErrnoRet");
	int default_errno = json_is_integer(def_errno) ? (int)json_integer_value(def_errno) : EPERM;
	if (parse_action(json_string_value(json_object_get(doc, "defaultAction")), def_errno, EPERM, &def) <
	    0)
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: missing or unknown defaultAction",
				       path);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return cvol_error_set(err, ENOMEM, "seccomp filter");
	json_array_foreach(json_object_get(doc, "syscalls"), i, entry)
	{
		int r = add_profile_entry(ctx, entry, default_errno, path, err);
		if (r < 0) {
			seccomp_release(ctx);
			return r;
		}
	}
	*ret = ctx;
	return 0;
}

int cvol_seccomp_build(const char *spec, void **ret, struct cvol_error *err)
{
	scmp_filter_ctx ctx = NULL;
	int r = 0;

	if (spec && strcmp(spec, CVOL_SECCOMP_UNCONFINED) == 0)
		ctx = NULL;
	else if (spec)
		r = build_profile(spec, &ctx, err);
	else
		r = build_default(&ctx, err);
	if (r < 0)
		return r;
	*ret = ctx;
	return 0;
}

int cvol_seccomp_load(void *filter, struct cvol_error *err)
{
	if (!filter)
		return 0;
	int r = seccomp_load(filter);
	seccomp_release(filter);
	if (r < 0)
		return cvol_error_set(err, -r, "load the seccomp filter");
	return 0;
}

void cvol_seccomp_free(void *filter)
{
	if (filter)
		seccomp_release(filter);
}
