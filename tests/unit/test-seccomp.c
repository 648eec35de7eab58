/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seccomp filters (runtime/seccomp.c): the default filter and Docker JSON profiles, built
 * with cvol_seccomp_build() and never loaded. What a filter does to a syscall is found by
 * running the BPF program libseccomp exports for it on a struct seccomp_data made here, so
 * a case reads "the profile says ERRNO 38 for mount; mount gets ERRNO 38". No root needed. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../runtime/runtime.h"

#define EPERM_ACT SCMP_ACT_ERRNO(EPERM)

struct fixture {
	char dir[64];	/* the mkdtemp() directory */
	char path[128]; /* <dir>/profile.json */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cvol-test-seccomp.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/profile.json", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dir_remove_tree(AT_FDCWD, f->dir, NULL);
	free(f);
	return 0;
}

/* ---- running a filter ------------------------------------------------------------------ */

/* The verdict of the classic BPF program @prog for @data, as the kernel computes it. */
static uint32_t bpf_run(const struct sock_filter *prog, size_t n, const struct seccomp_data *data)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &prog[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS) {
				assert_true(i->k % 4 == 0 && i->k + 4 <= sizeof(*data));
				memcpy(&a, (const char *)data + i->k, 4);
			} else if (BPF_MODE(i->code) == BPF_IMM) {
				a = i->k;
			} else if (BPF_MODE(i->code) == BPF_MEM) {
				assert_true(i->k < BPF_MEMWORDS);
				a = mem[i->k];
			} else {
				fail_msg("BPF load mode %#x at %zu", BPF_MODE(i->code), pc);
			}
			break;
		case BPF_LDX:
			if (BPF_MODE(i->code) == BPF_IMM)
				x = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				x = mem[i->k];
			else
				fail_msg("BPF ldx mode %#x at %zu", BPF_MODE(i->code), pc);
			break;
		case BPF_ST:
		case BPF_STX:
			assert_true(i->k < BPF_MEMWORDS);
			mem[i->k] = BPF_CLASS(i->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU: /* libseccomp's masked compares */
			if (BPF_OP(i->code) == BPF_AND)
				a &= src;
			else if (BPF_OP(i->code) == BPF_OR)
				a |= src;
			else
				fail_msg("BPF alu op %#x at %zu", BPF_OP(i->code), pc);
			break;
		case BPF_JMP: {
			bool taken = false;
			if (BPF_OP(i->code) == BPF_JA) {
				pc += i->k;
				break;
			}
			if (BPF_OP(i->code) == BPF_JEQ)
				taken = a == src;
			else if (BPF_OP(i->code) == BPF_JGT)
				taken = a > src;
			else if (BPF_OP(i->code) == BPF_JGE)
				taken = a >= src;
			else if (BPF_OP(i->code) == BPF_JSET)
				taken = (a & src) != 0;
			else
				fail_msg("BPF jump op %#x at %zu", BPF_OP(i->code), pc);
			pc += taken ? i->jt : i->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		}
	}
	fail_msg("the BPF program ends without a verdict");
	return 0;
}

/* What @filter does to the syscall numbered @nr with @args, called on architecture @arch. */
static uint32_t verdict_nr(void *filter, uint32_t arch, int nr, const uint64_t args[6])
{
	struct seccomp_data data = { .nr = nr, .arch = arch, .instruction_pointer = 0x1000 };
	struct stat st;

	memcpy(data.args, args, sizeof(data.args));
	int fd = memfd_create("bpf", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(seccomp_export_bpf(filter, fd), 0);
	assert_int_equal(fstat(fd, &st), 0);
	size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
	assert_true(n > 0);
	struct sock_filter *prog = calloc(n, sizeof(*prog));
	assert_non_null(prog);
	assert_int_equal(pread(fd, prog, n * sizeof(*prog), 0), (ssize_t)(n * sizeof(*prog)));
	close(fd);
	uint32_t v = bpf_run(prog, n, &data);
	free(prog);
	return v;
}

/* What @filter does to the syscall @name called with the first two arguments @a0 and @a1. */
static uint32_t verdict(void *filter, const char *name, uint64_t a0, uint64_t a1)
{
	const uint64_t args[6] = { a0, a1 };
	int nr = seccomp_syscall_resolve_name(name);

	if (nr < 0)
		fail_msg("`%s` is no syscall here", name);
	return verdict_nr(filter, seccomp_arch_native(), nr, args);
}

/* ---- profiles -------------------------------------------------------------------------- */

/* Write @json to the fixture's profile.json, with ' for " to keep the cases readable. */
static const char *profile(struct fixture *f, const char *json)
{
	FILE *fp = fopen(f->path, "we");
	assert_non_null(fp);
	for (const char *p = json; *p; p++)
		fputc(*p == '\'' ? '"' : *p, fp);
	assert_int_equal(fclose(fp), 0);
	return f->path;
}

/* The filter the profile @json makes; fails the case with the error when refused. */
static void *build_ok(struct fixture *f, const char *json)
{
	struct cvol_error err = { 0 };
	void *filter = (void *)"untouched";

	if (cvol_seccomp_build(profile(f, json), &filter, &err) < 0)
		fail_msg("profile refused: %s", err.msg);
	assert_non_null(filter);
	return filter;
}

/* Build the profile @json, which must be refused with a message naming it and holding @what. */
static void build_refused(struct fixture *f, const char *json, const char *what)
{
	struct cvol_error err = { 0 };
	char prefix[192];
	void *filter = (void *)"untouched";

	int r = cvol_seccomp_build(profile(f, json), &filter, &err);
	if (r == 0) {
		cvol_seccomp_free(filter);
		fail_msg("profile accepted, expected `%s`: %s", what, json);
	}
	assert_int_equal(r, -err.code);
	assert_string_equal((const char *)filter, "untouched");
	snprintf(prefix, sizeof(prefix), "seccomp profile `%s`: ", f->path);
	assert_contains(err.msg, prefix);
	assert_contains(err.msg, what);
}

/* ---- no profile ------------------------------------------------------------------------- */

static void test_unconfined(void **state)
{
	struct cvol_error err = { 0 };
	void *filter = (void *)"untouched";

	(void)state;
	assert_int_equal(cvol_seccomp_build(CVOL_SECCOMP_UNCONFINED, &filter, &err), 0);
	assert_null(filter);
	assert_int_equal(err.code, 0);
	cvol_seccomp_free(NULL);
}

/* Without a profile: what Docker's default refuses is refused with EPERM, the rest allowed. */
static void test_default_filter(void **state)
{
	struct cvol_error err = { 0 };
	void *filter = NULL;

	(void)state;
	assert_int_equal(cvol_seccomp_build(NULL, &filter, &err), 0);
	assert_non_null(filter);
	assert_int_equal(verdict(filter, "mount", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "umount2", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "unshare", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "setns", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "keyctl", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "bpf", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "kexec_load", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "ptrace", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "openat", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0, 0), SCMP_ACT_ALLOW);
	/* no typing into the caller's terminal; other ioctls pass */
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCSTI), EPERM_ACT);
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCLINUX), EPERM_ACT);
	assert_int_equal(verdict(filter, "ioctl", 0, TCGETS), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCGWINSZ), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* The kernel reads an ioctl's request as 32 bits: bits set above them do not get past the rule. */
static void test_default_tiocsti_high_bits(void **state)
{
	struct cvol_error err = { 0 };
	void *filter = NULL;

	(void)state;
	assert_int_equal(cvol_seccomp_build(NULL, &filter, &err), 0);
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCSTI | 1ULL << 32), EPERM_ACT);
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCSTI | 0xffffffff00000000ULL), EPERM_ACT);
	assert_int_equal(verdict(filter, "ioctl", 0, TIOCLINUX | 1ULL << 63), EPERM_ACT);
	assert_int_equal(verdict(filter, "ioctl", 0, TCGETS | 1ULL << 32), SCMP_ACT_ALLOW);
	/* every other request passes, whatever its high bits (musl sign-extends an int request) */
	for (uint64_t req = 0x5300; req < 0x5600; req++) {
		uint32_t expect = req == TIOCSTI || req == TIOCLINUX ? EPERM_ACT : SCMP_ACT_ALLOW;
		if (verdict(filter, "ioctl", 0, req) != expect ||
		    verdict(filter, "ioctl", 0, req | 0xffffffff00000000ULL) != expect)
			fail_msg("ioctl request %#llx", (unsigned long long)req);
	}
	assert_int_equal(verdict(filter, "ioctl", 0, 0xffffffff80045430ULL /* TIOCGPTN from musl */),
			 SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ioctl", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ioctl", 0, 0xffffffff), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ioctl", 0, ~0ULL), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* The default filter is an allowlist: what it does not name is refused, a syscall newer
 * than it too; namespaces stay out of reach through clone and clone3 as through unshare. */
static void test_default_allowlist(void **state)
{
	static const char *const refused[] = {
		"add_key",	   "bpf",	    "fanotify_init",	 "fsopen",
		"io_uring_setup",  "kcmp",	    "kexec_file_load",	 "keyctl",
		"lookup_dcookie",  "mount_setattr", "open_by_handle_at", "open_tree",
		"perf_event_open", "pidfd_getfd",   "process_madvise",	 "request_key",
		"setdomainname",   "sethostname",   "userfaultfd",	 "vhangup",
	};
	static const uint64_t namespace_flags[] = {
		0x00020000 /* CLONE_NEWNS */,	0x02000000 /* CLONE_NEWCGROUP */,
		0x04000000 /* CLONE_NEWUTS */,	0x08000000 /* CLONE_NEWIPC */,
		0x10000000 /* CLONE_NEWUSER */, 0x20000000 /* CLONE_NEWPID */,
		0x40000000 /* CLONE_NEWNET */,
	};
	const uint64_t no_args[6] = { 0 };
	struct cvol_error err = { 0 };
	void *filter = NULL;

	(void)state;
	assert_int_equal(cvol_seccomp_build(NULL, &filter, &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		if (seccomp_syscall_resolve_name(refused[i]) >= 0 &&
		    verdict(filter, refused[i], 0, 0) != EPERM_ACT)
			fail_msg("`%s` is not refused", refused[i]);
	/* numbers no kernel has given a syscall yet */
	assert_int_equal(verdict_nr(filter, seccomp_arch_native(), 999, no_args), EPERM_ACT);
	assert_int_equal(verdict_nr(filter, seccomp_arch_native(), 4000, no_args), EPERM_ACT);
	/* clone: threads and processes, never a namespace */
	assert_int_equal(verdict(filter, "clone", 0x11 /* fork: SIGCHLD */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0x003d0f00 /* pthread_create */, 0), SCMP_ACT_ALLOW);
	for (size_t i = 0; i < ARRAY_SIZE(namespace_flags); i++) {
		if (verdict(filter, "clone", namespace_flags[i] | 0x11, 0) != EPERM_ACT)
			fail_msg("clone with %#llx is not refused", (unsigned long long)namespace_flags[i]);
	}
	assert_int_equal(verdict(filter, "clone", 0x7e020011, 0), EPERM_ACT);
	/* clone3 keeps its flags behind a pointer: ENOSYS, and libc falls back to clone */
	assert_int_equal(verdict(filter, "clone3", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "unshare", 0x10000000, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "setns", 0, 0), EPERM_ACT);
	/* Docker's argument conditions */
	assert_int_equal(verdict(filter, "socket", 1 /* AF_UNIX */, 1), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "socket", 10 /* AF_INET6 */, 2), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "socket", 38 /* AF_ALG */, 5), EPERM_ACT);
	assert_int_equal(verdict(filter, "socket", 40 /* AF_VSOCK */, 1), EPERM_ACT);
	/* the kernel reads an int: high bits do not make AF_VSOCK another family */
	assert_int_equal(verdict(filter, "socket", 1ULL << 32 | 40, 1), EPERM_ACT);
	assert_int_equal(verdict(filter, "socket", 1ULL << 32 | 38, 5), EPERM_ACT);
	assert_int_equal(verdict(filter, "socket", 1ULL << 32 | 1, 1), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "personality", 0xffffffff, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "personality", 0x0008 /* UNAME26 */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "personality", 0x0040000 /* READ_IMPLIES_EXEC */, 0), EPERM_ACT);
	/* what a shell and its commands need */
	static const char *const everyday[] = { "read",	      "write",	      "openat",	  "execve",
						"wait4",      "exit_group",   "mmap",	  "getdents64",
						"newfstatat", "rt_sigaction", "pipe2",	  "dup2",
						"chroot",     "setuid",	      "fchownat", "mknodat",
						"futex",      "getrandom" };
	for (size_t i = 0; i < ARRAY_SIZE(everyday); i++)
		if (verdict(filter, everyday[i], 0, 0) != SCMP_ACT_ALLOW)
			fail_msg("`%s` is refused", everyday[i]);
	cvol_seccomp_free(filter);
}

/* ---- cvol's default next to Docker's ---------------------------------------------------- */

/* Where cvol's default refuses what Docker's default allows, on purpose (docs/exec-confinement.md). */
static const char *const docker_differences = "ptrace: Docker allows, cvol refuses\n"
					      "process_vm_readv: Docker allows, cvol refuses\n"
					      "process_vm_writev: Docker allows, cvol refuses\n";

/* The lines, in syscall number order, where @a ("Docker") and @b ("cvol") give another verdict
 * for a syscall of this architecture called with all arguments 0. */
static char *filter_differences(void *docker, void *cvol)
{
	const uint64_t no_args[6] = { 0 };
	uint32_t arch = seccomp_arch_native();
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	for (int nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);
		if (!name)
			continue;
		uint32_t d = verdict_nr(docker, arch, nr, no_args), c = verdict_nr(cvol, arch, nr, no_args);
		if (d != c)
			fprintf(fp, "%s: Docker %s, cvol %s\n", name,
				d == SCMP_ACT_ALLOW   ? "allows"
				: c == SCMP_ACT_ALLOW ? "refuses"
						      : "answers otherwise",
				c == SCMP_ACT_ALLOW   ? "allows"
				: d == SCMP_ACT_ALLOW ? "refuses"
						      : "answers otherwise");
		free(name);
	}
	assert_int_equal(fclose(fp), 0);
	return out;
}

/* A Docker JSON profile made from tests/data/docker-default-syscalls.txt (Docker's default
 * profile for the capabilities --exec keeps): "args" names are allowed at argument 0, where
 * Docker's conditions let each of them through. */
static void *docker_filter_from_list(struct fixture *f)
{
	char list[4096], line[128];
	const char *file = __FILE__, *slash = strrchr(file, '/');

	/* tests/unit/test-seccomp.c -> tests/unit/../data/... */
	snprintf(list, sizeof(list), "%.*s/../data/docker-default-syscalls.txt",
		 slash ? (int)(slash - file) : 1, slash ? file : ".");
	FILE *in = fopen(list, "re");
	if (!in)
		fail_msg("open `%s`: %s", list, strerror(errno));
	FILE *out = fopen(f->path, "we");
	assert_non_null(out);
	fputs("{ \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n", out);
	int n = 0;
	while (fgets(line, sizeof(line), in)) {
		char name[64], kind[16] = "";
		int e = 0;
		if (line[0] == '#' || sscanf(line, "%63s %15s %d", name, kind, &e) < 1)
			continue;
		if (strcmp(kind, "errno") == 0)
			fprintf(out,
				"%s{ \"names\": [ \"%s\" ], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %d "
				"}\n",
				n++ ? "," : "", name, e);
		else
			fprintf(out, "%s{ \"names\": [ \"%s\" ], \"action\": \"SCMP_ACT_ALLOW\" }\n",
				n++ ? "," : "", name);
	}
	fputs("] }\n", out);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_true(n > 300);

	struct cvol_error err = { 0 };
	void *filter = NULL;
	if (cvol_seccomp_build(f->path, &filter, &err) < 0)
		fail_msg("Docker's list as a profile: %s", err.msg);
	return filter;
}

/* cvol's default allows and refuses what Docker's default does, but for the differences
 * docs/exec-confinement.md gives; the report names every syscall where they differ. */
static void test_default_vs_docker_list(void **state)
{
	struct cvol_error err = { 0 };
	void *cvol = NULL;
	void *docker = docker_filter_from_list(*state);

	assert_int_equal(cvol_seccomp_build(NULL, &cvol, &err), 0);
	char *diff = filter_differences(docker, cvol);
	print_message("cvol's default next to Docker's (tests/data/docker-default-syscalls.txt):\n%s", diff);
	assert_string_equal(diff, docker_differences);
	free(diff);
	cvol_seccomp_free(docker);
	cvol_seccomp_free(cvol);
}

/* The same with Docker's own default.json, read with --seccomp's parser, where one is given
 * ($CVOL_DOCKER_SECCOMP_PROFILE: moby's profiles/seccomp/default.json). */
static void test_default_vs_docker_profile(void **state)
{
	const char *path = getenv("CVOL_DOCKER_SECCOMP_PROFILE");
	struct cvol_error err = { 0 };
	void *cvol = NULL, *docker = NULL;

	(void)state;
	if (!path || !*path) {
		print_message("no Docker profile: set CVOL_DOCKER_SECCOMP_PROFILE to moby's default.json\n");
		skip();
	}
	if (cvol_seccomp_build(path, &docker, &err) < 0)
		fail_msg("Docker's profile: %s", err.msg);
	assert_int_equal(cvol_seccomp_build(NULL, &cvol, &err), 0);
	char *diff = filter_differences(docker, cvol);
	print_message("cvol's default next to `%s`:\n%s", path, diff);
	assert_string_equal(diff, docker_differences);
	free(diff);
	cvol_seccomp_free(docker);
	cvol_seccomp_free(cvol);
}

/* ---- valid profiles --------------------------------------------------------------------- */

/* An allow list, as Docker's default is: what it names runs, the rest gets EPERM. */
static void test_allow_list(void **state)
{
	void *filter = build_ok(*state, "{ 'defaultAction': 'SCMP_ACT_ERRNO',"
					"  'syscalls': [ { 'names': [ 'getpid', 'read', 'write' ],"
					"                  'action': 'SCMP_ACT_ALLOW' } ] }");

	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "read", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "write", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "openat", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "mount", 0, 0), EPERM_ACT);
	cvol_seccomp_free(filter);
}

/* defaultErrnoRet: the errno of the default action and of ERRNO entries without their own. */
static void test_default_errno_ret(void **state)
{
	void *filter =
		build_ok(*state, "{ 'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 38,"
				 "  'syscalls': [ { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW' },"
				 "                { 'names': [ 'mount' ], 'action': 'SCMP_ACT_ERRNO' },"
				 "                { 'names': [ 'umount2' ], 'action': 'SCMP_ACT_ERRNO',"
				 "                  'errnoRet': 13 } ] }");

	assert_int_equal(verdict(filter, "openat", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "mount", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "umount2", 0, 0), SCMP_ACT_ERRNO(EACCES));
	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* A deny list: every action a profile can give, each to the syscalls it names. */
static void test_actions(void **state)
{
	void *filter = build_ok(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
					"  'syscalls': ["
					"    { 'names': [ 'mount', 'umount2' ], 'action': 'SCMP_ACT_ERRNO',"
					"      'errnoRet': 13 },"
					"    { 'names': [ 'swapon' ], 'action': 'SCMP_ACT_ERRNO' },"
					"    { 'names': [ 'reboot' ], 'action': 'SCMP_ACT_KILL_PROCESS' },"
					"    { 'names': [ 'kexec_load' ], 'action': 'SCMP_ACT_KILL_THREAD' },"
					"    { 'names': [ 'init_module' ], 'action': 'SCMP_ACT_KILL' },"
					"    { 'names': [ 'acct' ], 'action': 'SCMP_ACT_TRAP' },"
					"    { 'names': [ 'chroot' ], 'action': 'SCMP_ACT_LOG' },"
					"    { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW' } ] }");

	assert_int_equal(verdict(filter, "mount", 0, 0), SCMP_ACT_ERRNO(EACCES));
	assert_int_equal(verdict(filter, "umount2", 0, 0), SCMP_ACT_ERRNO(EACCES));
	assert_int_equal(verdict(filter, "swapon", 0, 0), SCMP_ACT_ERRNO(EPERM));
	assert_int_equal(verdict(filter, "reboot", 0, 0), SCMP_ACT_KILL_PROCESS);
	assert_int_equal(verdict(filter, "kexec_load", 0, 0), SCMP_ACT_KILL_THREAD);
	assert_int_equal(verdict(filter, "init_module", 0, 0), SCMP_ACT_KILL_THREAD);
	assert_int_equal(verdict(filter, "acct", 0, 0), SCMP_ACT_TRAP);
	assert_int_equal(verdict(filter, "chroot", 0, 0), SCMP_ACT_LOG);
	/* the same as the default: nothing to add, and not an error */
	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "openat", 0, 0), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* The older form of an entry: one "name" instead of "names". */
static void test_single_name(void **state)
{
	void *filter =
		build_ok(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
				 "  'syscalls': [ { 'name': 'mount', 'action': 'SCMP_ACT_ERRNO' } ] }");

	assert_int_equal(verdict(filter, "mount", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "umount2", 0, 0), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* Argument conditions: each op, 64-bit values, and two conditions on one entry (both must hold). */
static void test_args(void **state)
{
	void *filter = build_ok(
		*state, "{ 'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
			"  'syscalls': ["
			/* Docker's personality entries */
			"    { 'names': [ 'personality' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 0, 'op': 'SCMP_CMP_EQ' } ] },"
			"    { 'names': [ 'personality' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 4294967295, 'op': 'SCMP_CMP_EQ' } ] },"
			/* Docker's clone without namespace flags */
			"    { 'names': [ 'clone' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 2114060288, 'valueTwo': 0,"
			"                  'op': 'SCMP_CMP_MASKED_EQ' } ] },"
			"    { 'names': [ 'socket' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 16, 'op': 'SCMP_CMP_NE' } ] },"
			"    { 'names': [ 'close' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 3, 'op': 'SCMP_CMP_LT' } ] },"
			"    { 'names': [ 'dup' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 3, 'op': 'SCMP_CMP_LE' } ] },"
			"    { 'names': [ 'dup2' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 1, 'value': 1099511627776, 'op': 'SCMP_CMP_GT' } ] },"
			"    { 'names': [ 'dup3' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 1, 'value': 10, 'op': 'SCMP_CMP_GE' } ] },"
			"    { 'names': [ 'ioctl' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 2, 'op': 'SCMP_CMP_LE' },"
			"                { 'index': 1, 'value': 21505, 'op': 'SCMP_CMP_EQ' } ] } ] }");
	const uint32_t refused = SCMP_ACT_ERRNO(EPERM);

	assert_int_equal(verdict(filter, "personality", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "personality", 0xffffffff, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "personality", 8, 0), refused);
	assert_int_equal(verdict(filter, "personality", 0x1ffffffffULL, 0), refused);

	assert_int_equal(verdict(filter, "clone", 0x11 /* SIGCHLD */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0x003d0f00 /* pthread_create */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0x10000011 /* CLONE_NEWUSER */, 0), refused);
	assert_int_equal(verdict(filter, "clone", 0x00020011 /* CLONE_NEWNS */, 0), refused);

	assert_int_equal(verdict(filter, "socket", 2, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "socket", 16, 0), refused);

	assert_int_equal(verdict(filter, "close", 2, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "close", 3, 0), refused);
	assert_int_equal(verdict(filter, "dup", 3, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "dup", 4, 0), refused);
	assert_int_equal(verdict(filter, "dup2", 0, 1ULL << 40), refused);
	assert_int_equal(verdict(filter, "dup2", 0, (1ULL << 40) + 1), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "dup2", 0, 5), refused);
	assert_int_equal(verdict(filter, "dup3", 0, 10), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "dup3", 0, 9), refused);

	assert_int_equal(verdict(filter, "ioctl", 1, 21505 /* TCGETS */), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ioctl", 5, 21505), refused);
	assert_int_equal(verdict(filter, "ioctl", 1, 21506), refused);
	cvol_seccomp_free(filter);
}

/* Names libseccomp does not know, or that belong to other architectures (Docker's default
 * lists both `_llseek` and `arm_fadvise64_64`), are skipped, as Docker skips them. */
static void test_names_not_here(void **state)
{
	void *filter = build_ok(*state, "{ 'defaultAction': 'SCMP_ACT_ERRNO',"
					"  'syscalls': [ { 'names': [ 'no_such_syscall', '_llseek',"
					"                             'arm_fadvise64_64', 'getpid' ],"
					"                  'action': 'SCMP_ACT_ALLOW' } ] }");

	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "openat", 0, 0), EPERM_ACT);
	cvol_seccomp_free(filter);
}

/* Entries limited to architectures ("includes": {"arches": [...]}) apply only on theirs. */
static void test_entry_arches(void **state)
{
#if !defined(__x86_64__)
	(void)state;
	print_message("the cases name amd64 as the architecture they run on\n");
	skip();
#else
	void *filter = build_ok(*state,
				"{ 'defaultAction': 'SCMP_ACT_ERRNO',"
				"  'architectures': [ 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32' ],"
				"  'syscalls': ["
				"    { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW',"
				"      'includes': {}, 'excludes': {} },"
				"    { 'names': [ 'arch_prctl' ], 'action': 'SCMP_ACT_ALLOW',"
				"      'includes': { 'arches': [ 'amd64', 'x32' ] } },"
				"    { 'names': [ 'modify_ldt' ], 'action': 'SCMP_ACT_ALLOW',"
				"      'includes': { 'arches': [ 'ppc64le', 'x86_64' ] } },"
				"    { 'names': [ 'openat' ], 'action': 'SCMP_ACT_ALLOW',"
				"      'includes': { 'arches': [ 'arm64' ] } },"
				"    { 'names': [ 'read' ], 'action': 'SCMP_ACT_ALLOW',"
				"      'includes': { 'arches': [ 's390', 's390x' ] } } ] }");

	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "arch_prctl", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "modify_ldt", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "openat", 0, 0), EPERM_ACT);
	assert_int_equal(verdict(filter, "read", 0, 0), EPERM_ACT);
	/* the filter is for this machine's architecture */
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_X86_64), 0);
	cvol_seccomp_free(filter);
#endif
}

/* "includes"/"excludes" of capabilities are weighed against what --exec keeps (Docker's
 * default set, without CAP_SYS_ADMIN): Docker's own default profile lets clone through
 * only without namespace flags and answers clone3 with ENOSYS. */
static void test_entry_caps(void **state)
{
	void *filter = build_ok(
		*state, "{ 'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
			"  'syscalls': ["
			"    { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW' },"
			/* Docker's entries: CAP_SYS_ADMIN is not kept */
			"    { 'names': [ 'clone', 'clone3', 'mount', 'unshare', 'setns' ],"
			"      'action': 'SCMP_ACT_ALLOW', 'includes': { 'caps': [ 'CAP_SYS_ADMIN' ] } },"
			"    { 'names': [ 'clone' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'args': [ { 'index': 0, 'value': 2114060288, 'op': 'SCMP_CMP_MASKED_EQ' } ],"
			"      'excludes': { 'caps': [ 'CAP_SYS_ADMIN' ], 'arches': [ 's390', 's390x' ] } },"
			"    { 'names': [ 'clone3' ], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38,"
			"      'excludes': { 'caps': [ 'CAP_SYS_ADMIN' ] } },"
			/* CAP_SYS_CHROOT is kept, CAP_SYS_PTRACE is not */
			"    { 'names': [ 'chroot' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'includes': { 'caps': [ 'CAP_SYS_CHROOT' ] } },"
			"    { 'names': [ 'ptrace' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'includes': { 'caps': [ 'CAP_SYS_PTRACE' ] } },"
			/* every capability an entry includes must be kept */
			"    { 'names': [ 'kcmp' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'includes': { 'caps': [ 'CAP_KILL', 'CAP_SYS_PTRACE' ] } },"
			"    { 'names': [ 'tkill' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'includes': { 'caps': [ 'CAP_KILL', 'CAP_CHOWN' ] } },"
			/* one kept capability among those excluded is enough to drop the entry */
			"    { 'names': [ 'sync' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'excludes': { 'caps': [ 'CAP_SYS_ADMIN', 'CAP_CHOWN' ] } },"
			/* a name that is no capability is not held */
			"    { 'names': [ 'syncfs' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'includes': { 'caps': [ 'CAP_NO_SUCH_THING' ] } },"
			"    { 'names': [ 'fsync' ], 'action': 'SCMP_ACT_ALLOW',"
			"      'excludes': { 'caps': [ 'CAP_NO_SUCH_THING' ] } } ] }");
	const uint32_t refused = SCMP_ACT_ERRNO(EPERM);

	assert_int_equal(verdict(filter, "clone", 0x11 /* SIGCHLD */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0x003d0f00 /* pthread_create */, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "clone", 0x10000011 /* CLONE_NEWUSER */, 0), refused);
	assert_int_equal(verdict(filter, "clone", 0x00020011 /* CLONE_NEWNS */, 0), refused);
	assert_int_equal(verdict(filter, "clone3", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "mount", 0, 0), refused);
	assert_int_equal(verdict(filter, "unshare", 0, 0), refused);
	assert_int_equal(verdict(filter, "setns", 0, 0), refused);
	assert_int_equal(verdict(filter, "chroot", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ptrace", 0, 0), refused);
	assert_int_equal(verdict(filter, "kcmp", 0, 0), refused);
	assert_int_equal(verdict(filter, "tkill", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "sync", 0, 0), refused);
	assert_int_equal(verdict(filter, "syncfs", 0, 0), refused);
	assert_int_equal(verdict(filter, "fsync", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);
}

/* "architectures" (else the archMap entry of this architecture, as Docker reads it): the
 * filter judges those ABIs' syscalls by the profile too; an ABI it does not name is killed. */
static void test_profile_architectures(void **state)
{
#if !defined(__x86_64__)
	(void)state;
	print_message("the cases name the i386 and x32 ABIs of x86_64\n");
	skip();
#else
	static const char *const rules =
		"  'syscalls': [ { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW' } ] }";
	const uint64_t no_args[6] = { 0 };
	char json[1024];

	/* i386: getpid is 20, mount 21 */
	snprintf(json, sizeof(json),
		 "{ 'defaultAction': 'SCMP_ACT_ERRNO',"
		 "  'architectures': [ 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X86' ], %s",
		 rules);
	void *filter = build_ok(*state, json);
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_X86), 0);
	assert_int_equal(verdict_nr(filter, SCMP_ARCH_X86, 20, no_args), SCMP_ACT_ALLOW);
	assert_int_equal(verdict_nr(filter, SCMP_ARCH_X86, 21, no_args), EPERM_ACT);
	assert_int_equal(verdict(filter, "getpid", 0, 0), SCMP_ACT_ALLOW);
	cvol_seccomp_free(filter);

	/* Docker's default names no architectures but an archMap */
	snprintf(json, sizeof(json),
		 "{ 'defaultAction': 'SCMP_ACT_ERRNO',"
		 "  'archMap': [ { 'architecture': 'SCMP_ARCH_AARCH64', 'subArchitectures': [ "
		 "'SCMP_ARCH_ARM' ] },"
		 "               { 'architecture': 'SCMP_ARCH_X86_64',"
		 "                 'subArchitectures': [ 'SCMP_ARCH_X86', 'SCMP_ARCH_X32' ] },"
		 "               { 'architecture': 'SCMP_ARCH_RISCV64', 'subArchitectures': null } ], %s",
		 rules);
	filter = build_ok(*state, json);
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_X86), 0);
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_X32), 0);
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_ARM), -EEXIST);
	assert_int_equal(verdict_nr(filter, SCMP_ARCH_X86, 20, no_args), SCMP_ACT_ALLOW);
	assert_int_equal(verdict_nr(filter, SCMP_ARCH_X86, 21, no_args), EPERM_ACT);
	cvol_seccomp_free(filter);

	/* only this machine's ABI: the others are killed, as before */
	snprintf(json, sizeof(json), "{ 'defaultAction': 'SCMP_ACT_ERRNO', %s", rules);
	filter = build_ok(*state, json);
	assert_int_equal(seccomp_arch_exist(filter, SCMP_ARCH_X86), -EEXIST);
	assert_int_equal(verdict_nr(filter, SCMP_ARCH_X86, 20, no_args), SCMP_ACT_KILL);
	cvol_seccomp_free(filter);
#endif
}

/* A profile in the shape of Docker's default: comments, archMap, defaultErrnoRet, entries
 * with errnoRet and empty includes/excludes. */
static void test_docker_shape(void **state)
{
	void *filter = build_ok(
		*state,
		"{\n"
		"  'defaultAction': 'SCMP_ACT_ERRNO',\n"
		"  'defaultErrnoRet': 1,\n"
		"  'archMap': [\n"
		"    { 'architecture': 'SCMP_ARCH_X86_64',\n"
		"      'subArchitectures': [ 'SCMP_ARCH_X86', 'SCMP_ARCH_X32' ] },\n"
		"    { 'architecture': 'SCMP_ARCH_AARCH64', 'subArchitectures': [ 'SCMP_ARCH_ARM' ] }\n"
		"  ],\n"
		"  'syscalls': [\n"
		"    { 'names': [ 'accept', 'accept4', 'access', 'brk', 'close', 'execve', 'exit',\n"
		"                 'exit_group', 'getpid', 'openat', 'read', 'write' ],\n"
		"      'action': 'SCMP_ACT_ALLOW', 'comment': '', 'includes': {}, 'excludes': {} },\n"
		"    { 'names': [ 'process_vm_readv', 'process_vm_writev', 'ptrace' ],\n"
		"      'action': 'SCMP_ACT_ALLOW', 'includes': { 'minKernel': '4.8' } },\n"
		"    { 'names': [ 'socket' ], 'action': 'SCMP_ACT_ALLOW',\n"
		"      'args': [ { 'index': 0, 'value': 40, 'valueTwo': 0, 'op': 'SCMP_CMP_NE' } ] },\n"
		"    { 'names': [ 'bdflush', 'io_pgetevents', 'kexec_file_load', 'kexec_load',\n"
		"                 'migrate_pages', 'move_pages', 'nfsservctl', 'nice', 'oldfstat' ],\n"
		"      'action': 'SCMP_ACT_ERRNO', 'errnoRet': 38,\n"
		"      'comment': 'ENOSYS where not used' }\n"
		"  ]\n"
		"}\n");

	assert_int_equal(verdict(filter, "openat", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "execve", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "ptrace", 0, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "socket", 2, 0), SCMP_ACT_ALLOW);
	assert_int_equal(verdict(filter, "socket", 40 /* AF_VSOCK */, 0), SCMP_ACT_ERRNO(EPERM));
	assert_int_equal(verdict(filter, "kexec_load", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "move_pages", 0, 0), SCMP_ACT_ERRNO(ENOSYS));
	assert_int_equal(verdict(filter, "mount", 0, 0), SCMP_ACT_ERRNO(EPERM));
	assert_int_equal(verdict(filter, "unshare", 0, 0), SCMP_ACT_ERRNO(EPERM));
	cvol_seccomp_free(filter);
}

/* ---- refused profiles ------------------------------------------------------------------- */

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char path[192];
	void *filter = (void *)"untouched";

	snprintf(path, sizeof(path), "%s/no-such-profile.json", f->dir);
	int r = cvol_seccomp_build(path, &filter, &err);
	assert_true(r < 0);
	assert_int_equal(r, -err.code);
	assert_string_equal((const char *)filter, "untouched");
	assert_contains(err.msg, "seccomp profile `");
	assert_contains(err.msg, "/no-such-profile.json`: ");
	assert_contains(err.msg, "No such file or directory");

	/* a directory is no profile either */
	r = cvol_seccomp_build(f->dir, &filter, &err);
	assert_true(r < 0);
	assert_int_equal(r, -err.code);
	assert_contains(err.msg, f->dir);
}

static void test_bad_json(void **state)
{
	build_refused(*state, "", "(line 1)");
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW',\n  'syscalls': [\n", "(line 3)");
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW', }", "(line 1)");
	build_refused(*state, "defaultAction: SCMP_ACT_ALLOW\n", "(line 1)");
}

static void test_bad_default_action(void **state)
{
	const char *why = "missing or unknown defaultAction";

	build_refused(*state, "{}", why);
	build_refused(*state, "[]", why);
	build_refused(*state, "{ 'syscalls': [ { 'names': [ 'getpid' ], 'action': 'SCMP_ACT_ALLOW' } ] }",
		      why);
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_MAYBE' }", why);
	build_refused(*state, "{ 'defaultAction': 'scmp_act_allow' }", why);
	build_refused(*state, "{ 'defaultAction': 0 }", why);
	build_refused(*state, "{ 'defaultaction': 'SCMP_ACT_ALLOW' }", why);
}

static void test_bad_entry_action(void **state)
{
	const char *why = "unknown action in an entry";

	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'mount' ], 'action': 'SCMP_ACT_MAYBE' } ] }",
		      why);
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [ { 'names': [ 'mount' ] } ] }", why);
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'mount' ], 'action': [ 'SCMP_ACT_ERRNO' ] } ] }",
		      why);
	/* refused after good entries: nothing half-built is handed out (and nothing leaks) */
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'mount' ], 'action': 'SCMP_ACT_ERRNO' },"
		      "                { 'names': [ 'umount2' ], 'action': 'SCMP_ACT_KILL_EVERYONE' } ] }",
		      why);
}

static void test_bad_args(void **state)
{
	const char *why = "bad argument condition";

	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'personality' ], 'action': 'SCMP_ACT_ERRNO',"
		      "    'args': [ { 'index': 0, 'value': 8, 'op': 'SCMP_CMP_EQUAL' } ] } ] }",
		      why);
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'personality' ], 'action': 'SCMP_ACT_ERRNO',"
		      "    'args': [ { 'index': 0, 'value': 8 } ] } ] }",
		      why);
	/* seven conditions: a syscall has six arguments */
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'syscalls': [ { 'names': [ 'mmap' ], 'action': 'SCMP_ACT_ERRNO', 'args': ["
		      "    { 'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 1, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 2, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 3, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 4, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 5, 'value': 1, 'op': 'SCMP_CMP_EQ' },"
		      "    { 'index': 0, 'value': 2, 'op': 'SCMP_CMP_EQ' } ] } ] }",
		      why);
}

/* An architecture libseccomp does not know, or not as a list of names: refused, not ignored. */
static void test_bad_architectures(void **state)
{
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': [ 'SCMP_ARCH_X86_64', "
		      "'SCMP_ARCH_VAX' ] }",
		      "unknown architecture `SCMP_ARCH_VAX`");
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': [ 'x86_64' ] }",
		      "unknown architecture `x86_64`");
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': [ 64 ] }",
		      "architectures: a list of names");
	build_refused(*state, "{ 'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': 'SCMP_ARCH_X86_64' }",
		      "architectures: a list of names");
#if defined(__x86_64__)
	build_refused(*state,
		      "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
		      "  'archMap': [ { 'architecture': 'SCMP_ARCH_X86_64', 'subArchitectures': [ "
		      "'SCMP_ARCH_X87' ] } ] }",
		      "unknown architecture `SCMP_ARCH_X87`");
#endif
}

/* An argument index past the sixth: libseccomp refuses the rule, and the error names the syscall. */
static void test_bad_arg_index(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	void *filter = (void *)"untouched";

	int r = cvol_seccomp_build(
		profile(f, "{ 'defaultAction': 'SCMP_ACT_ALLOW',"
			   "  'syscalls': [ { 'names': [ 'personality' ], 'action': 'SCMP_ACT_ERRNO',"
			   "    'args': [ { 'index': 6, 'value': 8, 'op': 'SCMP_CMP_EQ' } ] } ] }"),
		&filter, &err);
	assert_true(r < 0);
	assert_int_equal(r, -err.code);
	assert_string_equal((const char *)filter, "untouched");
	assert_contains(err.msg, "seccomp rule for `personality`");
}

int main(void)
{
	const struct CMUnitTest no_profile[] = {
		cmocka_unit_test(test_unconfined),
		cmocka_unit_test(test_default_filter),
		cmocka_unit_test(test_default_tiocsti_high_bits),
		cmocka_unit_test(test_default_allowlist),
		cmocka_unit_test_setup_teardown(test_default_vs_docker_list, setup, teardown),
		cmocka_unit_test(test_default_vs_docker_profile),
	};
	const struct CMUnitTest profiles[] = {
		cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_errno_ret, setup, teardown),
		cmocka_unit_test_setup_teardown(test_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_not_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_arches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_architectures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_shape, setup, teardown),
	};
	const struct CMUnitTest refusals[] = {
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_default_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entry_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arg_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_architectures, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("seccomp: no profile", no_profile, NULL, NULL);
	failed += cmocka_run_group_tests_name("seccomp: profiles", profiles, NULL, NULL);
	failed += cmocka_run_group_tests_name("seccomp: refused profiles", refusals, NULL, NULL);
	return failed;
}
