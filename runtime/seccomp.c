/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seccomp filters with libseccomp: the default, an allowlist after Docker's default profile
 * (docs/exec-confinement.md), or a profile in Docker's JSON format. */
#include "runtime.h"
#include "runtime-internal.h"

#include <ctype.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

/* The default filter is an allowlist, as Docker's default profile is: a syscall it does not
 * name, or one newer than it, gets EPERM. These are the names Docker's default profile
 * (moby/profiles seccomp v0.2.3) allows without condition to a container holding the
 * capabilities --exec keeps, on every architecture (a name this architecture does not have is
 * skipped), less ptrace, process_vm_readv and process_vm_writev, which cvol refuses on purpose
 * (docs/exec-confinement.md). tests/data/docker-default-syscalls.txt holds Docker's list for the
 * comparison in the unit tests. */
static const char *const default_allowed[] = {
	"_llseek",
	"_newselect",
	"accept",
	"accept4",
	"access",
	"adjtimex",
	"alarm",
	"arch_prctl",
	"arm_fadvise64_64",
	"arm_sync_file_range",
	"bind",
	"breakpoint",
	"brk",
	"cacheflush",
	"cachestat",
	"capget",
	"capset",
	"chdir",
	"chmod",
	"chown",
	"chown32",
	"chroot",
	"clock_adjtime",
	"clock_adjtime64",
	"clock_getres",
	"clock_getres_time64",
	"clock_gettime",
	"clock_gettime64",
	"clock_nanosleep",
	"clock_nanosleep_time64",
	"close",
	"close_range",
	"connect",
	"copy_file_range",
	"creat",
	"dup",
	"dup2",
	"dup3",
	"epoll_create",
	"epoll_create1",
	"epoll_ctl",
	"epoll_ctl_old",
	"epoll_pwait",
	"epoll_pwait2",
	"epoll_wait",
	"epoll_wait_old",
	"eventfd",
	"eventfd2",
	"execve",
	"execveat",
	"exit",
	"exit_group",
	"faccessat",
	"faccessat2",
	"fadvise64",
	"fadvise64_64",
	"fallocate",
	"fanotify_mark",
	"fchdir",
	"fchmod",
	"fchmodat",
	"fchmodat2",
	"fchown",
	"fchown32",
	"fchownat",
	"fcntl",
	"fcntl64",
	"fdatasync",
	"fgetxattr",
	"flistxattr",
	"flock",
	"fork",
	"fremovexattr",
	"fsetxattr",
	"fstat",
	"fstat64",
	"fstatat64",
	"fstatfs",
	"fstatfs64",
	"fsync",
	"ftruncate",
	"ftruncate64",
	"futex",
	"futex_requeue",
	"futex_time64",
	"futex_wait",
	"futex_waitv",
	"futex_wake",
	"futimesat",
	"get_robust_list",
	"get_thread_area",
	"getcpu",
	"getcwd",
	"getdents",
	"getdents64",
	"getegid",
	"getegid32",
	"geteuid",
	"geteuid32",
	"getgid",
	"getgid32",
	"getgroups",
	"getgroups32",
	"getitimer",
	"getpeername",
	"getpgid",
	"getpgrp",
	"getpid",
	"getppid",
	"getpriority",
	"getrandom",
	"getresgid",
	"getresgid32",
	"getresuid",
	"getresuid32",
	"getrlimit",
	"getrusage",
	"getsid",
	"getsockname",
	"getsockopt",
	"gettid",
	"gettimeofday",
	"getuid",
	"getuid32",
	"getxattr",
	"getxattrat",
	"inotify_add_watch",
	"inotify_init",
	"inotify_init1",
	"inotify_rm_watch",
	"io_cancel",
	"io_destroy",
	"io_getevents",
	"io_pgetevents",
	"io_pgetevents_time64",
	"io_setup",
	"io_submit",
	"ioprio_get",
	"ioprio_set",
	"ipc",
	"kill",
	"landlock_add_rule",
	"landlock_create_ruleset",
	"landlock_restrict_self",
	"lchown",
	"lchown32",
	"lgetxattr",
	"link",
	"linkat",
	"listen",
	"listmount",
	"listxattr",
	"listxattrat",
	"llistxattr",
	"lremovexattr",
	"lseek",
	"lsetxattr",
	"lstat",
	"lstat64",
	"madvise",
	"map_shadow_stack",
	"membarrier",
	"memfd_create",
	"memfd_secret",
	"mincore",
	"mkdir",
	"mkdirat",
	"mknod",
	"mknodat",
	"mlock",
	"mlock2",
	"mlockall",
	"mmap",
	"mmap2",
	"modify_ldt",
	"mprotect",
	"mq_getsetattr",
	"mq_notify",
	"mq_open",
	"mq_timedreceive",
	"mq_timedreceive_time64",
	"mq_timedsend",
	"mq_timedsend_time64",
	"mq_unlink",
	"mremap",
	"mseal",
	"msgctl",
	"msgget",
	"msgrcv",
	"msgsnd",
	"msync",
	"munlock",
	"munlockall",
	"munmap",
	"name_to_handle_at",
	"nanosleep",
	"newfstatat",
	"open",
	"openat",
	"openat2",
	"pause",
	"pidfd_open",
	"pidfd_send_signal",
	"pipe",
	"pipe2",
	"pkey_alloc",
	"pkey_free",
	"pkey_mprotect",
	"poll",
	"ppoll",
	"ppoll_time64",
	"prctl",
	"pread64",
	"preadv",
	"preadv2",
	"prlimit64",
	"process_mrelease",
	"pselect6",
	"pselect6_time64",
	"pwrite64",
	"pwritev",
	"pwritev2",
	"read",
	"readahead",
	"readlink",
	"readlinkat",
	"readv",
	"recv",
	"recvfrom",
	"recvmmsg",
	"recvmmsg_time64",
	"recvmsg",
	"remap_file_pages",
	"removexattr",
	"removexattrat",
	"rename",
	"renameat",
	"renameat2",
	"restart_syscall",
	"riscv_flush_icache",
	"riscv_hwprobe",
	"rmdir",
	"rseq",
	"rt_sigaction",
	"rt_sigpending",
	"rt_sigprocmask",
	"rt_sigqueueinfo",
	"rt_sigreturn",
	"rt_sigsuspend",
	"rt_sigtimedwait",
	"rt_sigtimedwait_time64",
	"rt_tgsigqueueinfo",
	"s390_pci_mmio_read",
	"s390_pci_mmio_write",
	"s390_runtime_instr",
	"sched_get_priority_max",
	"sched_get_priority_min",
	"sched_getaffinity",
	"sched_getattr",
	"sched_getparam",
	"sched_getscheduler",
	"sched_rr_get_interval",
	"sched_rr_get_interval_time64",
	"sched_setaffinity",
	"sched_setattr",
	"sched_setparam",
	"sched_setscheduler",
	"sched_yield",
	"seccomp",
	"select",
	"semctl",
	"semget",
	"semop",
	"semtimedop",
	"semtimedop_time64",
	"send",
	"sendfile",
	"sendfile64",
	"sendmmsg",
	"sendmsg",
	"sendto",
	"set_robust_list",
	"set_thread_area",
	"set_tid_address",
	"set_tls",
	"setfsgid",
	"setfsgid32",
	"setfsuid",
	"setfsuid32",
	"setgid",
	"setgid32",
	"setgroups",
	"setgroups32",
	"setitimer",
	"setpgid",
	"setpriority",
	"setregid",
	"setregid32",
	"setresgid",
	"setresgid32",
	"setresuid",
	"setresuid32",
	"setreuid",
	"setreuid32",
	"setrlimit",
	"setsid",
	"setsockopt",
	"setuid",
	"setuid32",
	"setxattr",
	"setxattrat",
	"shmat",
	"shmctl",
	"shmdt",
	"shmget",
	"shutdown",
	"sigaltstack",
	"signalfd",
	"signalfd4",
	"sigprocmask",
	"sigreturn",
	"socketcall",
	"socketpair",
	"splice",
	"stat",
	"stat64",
	"statfs",
	"statfs64",
	"statmount",
	"statx",
	"swapcontext",
	"symlink",
	"symlinkat",
	"sync",
	"sync_file_range",
	"sync_file_range2",
	"syncfs",
	"sysinfo",
	"tee",
	"tgkill",
	"time",
	"timer_create",
	"timer_delete",
	"timer_getoverrun",
	"timer_gettime",
	"timer_gettime64",
	"timer_settime",
	"timer_settime64",
	"timerfd_create",
	"timerfd_gettime",
	"timerfd_gettime64",
	"timerfd_settime",
	"timerfd_settime64",
	"times",
	"tkill",
	"truncate",
	"truncate64",
	"ugetrlimit",
	"umask",
	"uname",
	"unlink",
	"unlinkat",
	"uretprobe",
	"utime",
	"utimensat",
	"utimensat_time64",
	"utimes",
	"vfork",
	"vmsplice",
	"wait4",
	"waitid",
	"waitpid",
	"write",
	"writev",
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

/* Allow @name unless the low 32 bits of its argument @arg are one of @refused[@n]. An
 * unconditional rule would override every conditional one (libseccomp keeps the broader), and
 * there is no masked "not equal": the values allowed are the subtrees beside each refused
 * value's path down its 32 bits, one masked compare each (34 rules for two values). */
static int allow_unless_low32(scmp_filter_ctx ctx, const char *name, unsigned arg, const uint32_t *refused,
			      size_t n, struct cvol_error *err)
{
	for (size_t i = 0; i < n; i++)
		for (int bit = 31; bit >= 0; bit--) {
			uint32_t mask = (uint32_t)(0xffffffffULL << bit),
				 value = (refused[i] ^ (1U << bit)) & mask;
			bool holds_refused = false;
			for (size_t j = 0; j < n; j++)
				holds_refused |= (refused[j] & mask) == value;
			if (holds_refused)
				continue;
			struct scmp_arg_cmp cmp = { arg, SCMP_CMP_MASKED_EQ, mask, value };
			int r = add_rule(ctx, SCMP_ACT_ALLOW, name, 1, &cmp, err);
			if (r < 0)
				return r;
		}
	return 0;
}

/* The namespace flags Docker masks on clone: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
 * NEWPID, NEWNET (0x7e020000). A clone with none of them runs, one with any gets EPERM. */
#define CLONE_NAMESPACE_FLAGS 0x7e020000ULL

/* clone's flags are its first argument, but its second on s390 */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

static int build_default(scmp_filter_ctx *ret, struct cvol_error *err)
{
	/* syscalls allowed only so (Docker's argument conditions) */
	static const struct {
		const char *name;
		struct scmp_arg_cmp arg;
	} conditional[] = {
		{ "clone", { CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0 } },
		/* Linux, with UNAME26 and/or ADDR_NO_RANDOMIZE, or a query */
		{ "personality", { 0, SCMP_CMP_EQ, 0x0, 0 } },
		{ "personality", { 0, SCMP_CMP_EQ, 0x8, 0 } },
		{ "personality", { 0, SCMP_CMP_EQ, 0x20000, 0 } },
		{ "personality", { 0, SCMP_CMP_EQ, 0x20008, 0 } },
		{ "personality", { 0, SCMP_CMP_EQ, 0xffffffff, 0 } },
	};
	int r = 0;

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return cvol_error_set(err, ENOMEM, "seccomp filter");
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(default_allowed); i++)
		r = add_rule(ctx, SCMP_ACT_ALLOW, default_allowed[i], 0, NULL, err);
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(conditional); i++)
		r = add_rule(ctx, SCMP_ACT_ALLOW, conditional[i].name, 1, &conditional[i].arg, err);
	/* no typing into a terminal the command shares with its caller: ioctl but TIOCSTI and
	 * TIOCLINUX, whatever bits lie above the 32 the kernel reads (TIOCSTI | 1 << 32 is TIOCSTI) */
	static const uint32_t tty_injection[] = { TIOCSTI, TIOCLINUX };
	if (r >= 0)
		r = allow_unless_low32(ctx, "ioctl", 1, tty_injection, ARRAY_SIZE(tty_injection), err);
	/* every socket family but AF_ALG and AF_VSOCK, compared on the 32 bits of the int the
	 * kernel reads (socket(1 << 32 | AF_VSOCK, ...) is AF_VSOCK) */
	static const uint32_t refused_families[] = { 38 /* AF_ALG */, 40 /* AF_VSOCK */ };
	if (r >= 0)
		r = allow_unless_low32(ctx, "socket", 0, refused_families, ARRAY_SIZE(refused_families), err);
	/* libc falls back to clone, whose flags a filter can read; clone3's are behind a pointer */
	if (r >= 0)
		r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
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
		{ SCMP_ARCH_X86_64, { "amd64", "x86_64" } }, { SCMP_ARCH_X86, { "386", "x86" } },
		{ SCMP_ARCH_X32, { "x32", NULL } },	     { SCMP_ARCH_AARCH64, { "arm64", "aarch64" } },
		{ SCMP_ARCH_ARM, { "arm", NULL } },	     { SCMP_ARCH_PPC64LE, { "ppc64le", NULL } },
		{ SCMP_ARCH_S390X, { "s390x", NULL } },	     { SCMP_ARCH_S390, { "s390", NULL } },
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

/* The architecture a profile names "SCMP_ARCH_X86_64", ..., or 0 when libseccomp knows none. */
static uint32_t arch_from_name(const char *name)
{
	char lower[32];
	size_t n = 0;

	if (!name || strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower))
		return 0;
	for (; name[10 + n]; n++)
		lower[n] = (char)tolower((unsigned char)name[10 + n]);
	lower[n] = '\0';
	return n ? seccomp_arch_resolve_name(lower) : 0;
}

/* Add the architecture @name to @ctx; a name that is none is refused. */
static int add_arch(scmp_filter_ctx ctx, json_t *name, const char *path, struct cvol_error *err)
{
	if (!json_is_string(name))
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: architectures: a list of names",
				       path);
	uint32_t arch = arch_from_name(json_string_value(name));
	if (!arch)
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: unknown architecture `%s`", path,
				       json_string_value(name));
	int r = seccomp_arch_add(ctx, arch);
	if (r < 0 && r != -EEXIST)
		return cvol_error_set(err, -r, "seccomp profile `%s`: add architecture `%s`", path,
				      json_string_value(name));
	return 0;
}

/* The ABIs the filter judges, besides this machine's own: the profile's "architectures", else,
 * as Docker reads it, the subArchitectures of this machine's entry in "archMap" (x86_64's are
 * x86 and x32). A syscall of an ABI left out is killed. */
static int add_profile_arches(scmp_filter_ctx ctx, json_t *doc, const char *path, struct cvol_error *err)
{
	json_t *arches = json_object_get(doc, "architectures"), *v, *sub;
	size_t i, j;
	int r;

	if (arches && !json_is_array(arches))
		return cvol_error_setx(err, EINVAL, "seccomp profile `%s`: architectures: a list of names",
				       path);
	json_array_foreach(arches, i, v)
	{
		if ((r = add_arch(ctx, v, path, err)) < 0)
			return r;
	}
	if (json_array_size(arches) > 0)
		return 0;
	json_array_foreach(json_object_get(doc, "archMap"), i, v)
	{
		/* other machines' entries may name architectures this libseccomp does not know */
		if (arch_from_name(json_string_value(json_object_get(v, "architecture"))) !=
		    seccomp_arch_native())
			continue;
		json_array_foreach(json_object_get(v, "subArchitectures"), j, sub)
		{
			if ((r = add_arch(ctx, sub, path, err)) < 0)
				return r;
		}
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
	int r = add_profile_arches(ctx, doc, path, err);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	json_array_foreach(json_object_get(doc, "syscalls"), i, entry)
	{
		r = add_profile_entry(ctx, entry, default_errno, path, err);
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
