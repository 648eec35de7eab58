/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seccomp filters with libseccomp: a default that refuses what container runtimes refuse
 * by default, or a profile in Docker's JSON format. */
#include "runtime.h"
#include "runtime-internal.h"

#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

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

/* The capability named @name ("CAP_SYS_ADMIN"), or -1. */
static int cap_from_name(const char *name)
{
	static const char *const names[] = {
		[CAP_CHOWN] = "CAP_CHOWN",
		[CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
		[CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH",
		[CAP_FOWNER] = "CAP_FOWNER",
		[CAP_FSETID] = "CAP_FSETID",
		[CAP_KILL] = "CAP_KILL",
		[CAP_SETGID] = "CAP_SETGID",
		[CAP_SETUID] = "CAP_SETUID",
		[CAP_SETPCAP] = "CAP_SETPCAP",
		[CAP_LINUX_IMMUTABLE] = "CAP_LINUX_IMMUTABLE",
		[CAP_NET_BIND_SERVICE] = "CAP_NET_BIND_SERVICE",
		[CAP_NET_BROADCAST] = "CAP_NET_BROADCAST",
		[CAP_NET_ADMIN] = "CAP_NET_ADMIN",
		[CAP_NET_RAW] = "CAP_NET_RAW",
		[CAP_IPC_LOCK] = "CAP_IPC_LOCK",
		[CAP_IPC_OWNER] = "CAP_IPC_OWNER",
		[CAP_SYS_MODULE] = "CAP_SYS_MODULE",
		[CAP_SYS_RAWIO] = "CAP_SYS_RAWIO",
		[CAP_SYS_CHROOT] = "CAP_SYS_CHROOT",
		[CAP_SYS_PTRACE] = "CAP_SYS_PTRACE",
		[CAP_SYS_PACCT] = "CAP_SYS_PACCT",
		[CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
		[CAP_SYS_BOOT] = "CAP_SYS_BOOT",
		[CAP_SYS_NICE] = "CAP_SYS_NICE",
		[CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE",
		[CAP_SYS_TIME] = "CAP_SYS_TIME",
		[CAP_SYS_TTY_CONFIG] = "CAP_SYS_TTY_CONFIG",
		[CAP_MKNOD] = "CAP_MKNOD",
		[CAP_LEASE] = "CAP_LEASE",
		[CAP_AUDIT_WRITE] = "CAP_AUDIT_WRITE",
		[CAP_AUDIT_CONTROL] = "CAP_AUDIT_CONTROL",
		[CAP_SETFCAP] = "CAP_SETFCAP",
		[CAP_MAC_OVERRIDE] = "CAP_MAC_OVERRIDE",
		[CAP_MAC_ADMIN] = "CAP_MAC_ADMIN",
		[CAP_SYSLOG] = "CAP_SYSLOG",
		[CAP_WAKE_ALARM] = "CAP_WAKE_ALARM",
		[CAP_BLOCK_SUSPEND] = "CAP_BLOCK_SUSPEND",
		[CAP_AUDIT_READ] = "CAP_AUDIT_READ",
		[CAP_PERFMON] = "CAP_PERFMON",
		[CAP_BPF] = "CAP_BPF",
		[CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
	};
	for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
		if (names[i] && strcasecmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Whether the command under --exec holds the capability @name (not when it names none). */
static bool cap_kept(json_t *name)
{
	int cap = cap_from_name(json_string_value(name));
	return cap >= 0 && (CVOL_EXEC_KEPT_CAPS & (1ULL << cap));
}

/* Whether @arches (Docker's names: "amd64", "arm64", ...) names this machine's architecture. */
static bool arch_listed(json_t *arches)
{
	static const struct {
		uint32_t arch;
		const char *names[2];
	} native[] = {
		{ SCMP_ARCH_X86_64, { "amd64", "x86_64" } },  { SCMP_ARCH_X86, { "386", "x86" } },
		{ SCMP_ARCH_X32, { "x32", NULL } },	      { SCMP_ARCH_AARCH64, { "arm64", "aarch64" } },
		{ SCMP_ARCH_ARM, { "arm", NULL } },	      { SCMP_ARCH_PPC64LE, { "ppc64le", NULL } },
		{ SCMP_ARCH_S390X, { "s390x", NULL } },	      { SCMP_ARCH_S390, { "s390", NULL } },
		{ SCMP_ARCH_RISCV64, { "riscv64", NULL } },
	};
	uint32_t here = seccomp_arch_native();
	size_t i;
	json_t *a;

	json_array_foreach(arches, i, a)
	{
		for (size_t j = 0; j < ARRAY_SIZE(native); j++)
			for (size_t k = 0; k < 2; k++)
				if (native[j].arch == here && native[j].names[k] && json_is_string(a) &&
				    strcmp(json_string_value(a), native[j].names[k]) == 0)
					return true;
	}
	return false;
}

/* Whether the running kernel is @min ("4.8") or newer. */
static bool kernel_at_least(const char *min)
{
	struct utsname u;
	unsigned want_major = 0, want_minor = 0, major = 0, minor = 0;

	if (!min || sscanf(min, "%u.%u", &want_major, &want_minor) < 1)
		return false;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) < 1)
		return false;
	return major > want_major || (major == want_major && minor >= want_minor);
}

/* Whether a profile's entry applies to the command under --exec, as Docker decides for a
 * container: "includes" holds when this is one of its architectures, every capability it
 * names is kept and the kernel is at least its minKernel; "excludes" drops the entry when
 * this is one of its architectures or any capability it names is kept. */
static bool entry_applies(json_t *entry)
{
	json_t *inc = json_object_get(entry, "includes"), *exc = json_object_get(entry, "excludes");
	json_t *v;
	size_t i;

	json_t *arches = json_object_get(inc, "arches");
	if (json_array_size(arches) > 0 && !arch_listed(arches))
		return false;
	json_array_foreach(json_object_get(inc, "caps"), i, v)
	{
		if (!cap_kept(v))
			return false;
	}
	json_t *min_kernel = json_object_get(inc, "minKernel");
	if (json_is_string(min_kernel) && !kernel_at_least(json_string_value(min_kernel)))
		return false;

	if (arch_listed(json_object_get(exc, "arches")))
		return false;
	json_array_foreach(json_object_get(exc, "caps"), i, v)
	{
		if (cap_kept(v))
			return false;
	}
	return true;
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
