/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sshfs backend: a volume with `sshcmd` is mounted by the sshfs program (Debian `sshfs`) as
 * docker-volume-sshfs runs it, the password on its stdin, never on a command line. */
#include "volumes-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/mount-opts.h"

extern char **environ;

/* The sshfs program (Debian `sshfs`) as a child, as docker-volume-sshfs runs it: `sshfs SSHCMD
 * _data [-p PORT] -o password_stdin -o KEY[=VALUE]...`, the password written on its stdin (never
 * on a command line or in the environment). Time-bound: ssh gives up connecting after
 * SSHFS_CONNECT_TIMEOUT seconds unless the volume sets ConnectTimeout, and sshfs is killed (its
 * process group: ssh too) when it has not mounted within SSHFS_MOUNT_TIMEOUT_MS. */
#define SSHFS_CONNECT_TIMEOUT  "10"
#define SSHFS_MOUNT_TIMEOUT_MS 15000

/* What cvol adds unless the volume sets it: new host keys taken, a bound on connecting, a server
 * that stops answering dropped by ssh after 5 s x 3 (calls on the mount then fail instead of
 * hanging), and sshfs connecting again when it is asked something after the server came back. */
static const struct {
	const char *key, *value;
} sshfs_defaults[] = {
	{ "StrictHostKeyChecking", "accept-new" },
	{ "ConnectTimeout", SSHFS_CONNECT_TIMEOUT },
	{ "ServerAliveInterval", "5" },
	{ "ServerAliveCountMax", "3" },
	{ "reconnect", NULL },
};

/* Has the volume set ssh/sshfs option @key (in any case, as ssh reads its options)? */
static bool sshfs_has_option(const struct volume_opts *o, const char *key)
{
	const char *k;
	json_t *v;
	json_object_foreach(o->all, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return true;
	}
	return false;
}

/* Append sshfs option @key (=@value) as sshfs gets it: each becomes its own `-o` argument, so
 * nothing is escaped (options.c refuses a `,` in a value: the list splits where this joins). */
static int add_sshfs_option(struct volume_mount *m, const char *key, const char *value)
{
	size_t start = m->options_len;
	size_t size = sizeof(m->options);
	int r = mount_opts_append(m->options, size, &m->options_len, start ? "," : "");
	if (r == 0)
		r = mount_opts_append(m->options, size, &m->options_len, key);
	if (r == 0 && value)
		r = mount_opts_append(m->options, size, &m->options_len, "=");
	if (r == 0 && value)
		r = mount_opts_append(m->options, size, &m->options_len, value);
	if (r < 0) {
		m->options[start] = '\0'; /* all of the option or none of it */
		m->options_len = start;
	}
	return r;
}

/* What an sshfs mount shows: the source, and the `-o` options without the password. */
static int sshfs_mount_args(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	const struct volume_opts *o = &v->opts;
	const char *key;
	json_t *val;
	int r = 0;

	*m = (struct volume_mount){ .source = o->sshcmd, .fstype = "fuse.sshfs" };
	if (o->password || o->password_file)
		r = add_sshfs_option(m, "password_stdin", NULL);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(sshfs_defaults); i++)
		if (!sshfs_has_option(o, sshfs_defaults[i].key))
			r = add_sshfs_option(m, sshfs_defaults[i].key, sshfs_defaults[i].value);
	/* a wrong password must fail, not wait for a second one that never comes */
	if (r == 0 && (o->password || o->password_file) && !sshfs_has_option(o, "NumberOfPasswordPrompts"))
		r = add_sshfs_option(m, "NumberOfPasswordPrompts", "1");
	json_object_foreach(o->all, key, val)
	{
		if (r < 0)
			break;
		if (volume_opt_is_sshfs_own(key))
			continue;
		const char *s = json_string_value(val);
		r = add_sshfs_option(m, key, s && *s ? s : NULL);
	}
	if (r < 0)
		return cvol_error_setx(err, E2BIG, "mount options for `%s` are too long", v->data);
	return 0;
}

/* The sshfs command line for @m (its options are each a `-o`, as docker-volume-sshfs gives them),
 * NULL-terminated, pointing into @m and @v; free the array only. */
static char **sshfs_argv(const struct volume *v, struct volume_mount *m)
{
	size_t n = 1;
	for (const char *p = m->options; *p; p++)
		n += *p == ',';
	char **argv = calloc(2 * n + 8, sizeof(char *)), **a = argv;
	if (!argv)
		return NULL;
	*a++ = "sshfs";
	*a++ = (char *)v->opts.sshcmd;
	*a++ = v->data;
	if (v->opts.port) {
		*a++ = "-p";
		*a++ = (char *)v->opts.port;
	}
	/* the values hold no `,` (options.c refuses them): split where add_option() joined */
	for (char *p = m->options; *p;) {
		*a++ = "-o";
		*a++ = p;
		p += strcspn(p, ",");
		if (*p)
			*p++ = '\0';
	}
	*a = NULL;
	return argv;
}

/* What sshfs and ssh wrote, on one line ("; " between lines), with the password hidden should
 * it be there. */
static void sshfs_message(int fd, const char *password, char *buf, size_t size)
{
	char out[2048];
	size_t len = 0;
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	if (password && *password)
		for (char *p; (p = strstr(out, password));)
			memset(p, '*', strlen(password));
	buf[0] = '\0';
	for (char *save = NULL, *line = strtok_r(out, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		if (*line)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
						len ? "; " : "", line);
	}
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Wait for @pid until @bound_ms: its status, or -ETIMEDOUT. */
static int wait_bounded(pid_t pid, long bound_ms, int *ret_status)
{
	struct timespec start, nap = { .tv_nsec = 10 * 1000000 };
	/* woken the moment sshfs exits (its exit is most of a Mount's time): a pidfd polls readable */
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t w = waitpid(pid, ret_status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		double left = (double)bound_ms - elapsed_ms(&start);
		if (left <= 0)
			return -ETIMEDOUT;
		if (pidfd >= 0)
			(void)poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1, (int)left + 1);
		else
			nanosleep(&nap, NULL);
	}
}

/* Read the password of `password_file` into @buf: a regular file of root's that no one else may
 * read (as ssh asks of a key), opened without following symlinks (under the host root of a
 * managed plugin), at most SSHFS_PASSWORD_MAX bytes and one line (its newline dropped). */
static int read_password_file(const struct volume *v, char *buf, size_t size, struct cvol_error *err)
{
	const char *path = v->opts.password_file;
	/* O_PATH first: a FIFO or a device is refused without being opened (no writer let through,
	 * no device's open run); the file checked is the one then opened for reading */
	_cleanup_close_ int pfd = volume_open_host_path(v->host_root_fd, path, O_PATH);
	char proc[64];
	struct stat st;
	size_t n = 0;

	if (pfd < 0) /* not ENOENT: the volume is there, its password is not (a 500, not a 404) */
		return cvol_error_setx(err, EIO, "open the password file `%s`: %s", path, strerror(-pfd));
	if (fstat(pfd, &st) < 0)
		return cvol_error_set(err, errno, "stat the password file `%s`", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077))
		return cvol_error_setx(err, EPERM,
				       "the password file `%s` must be a regular file of root's that only "
				       "root can read (chmod 600)",
				       path);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	_cleanup_close_ int fd = open(proc, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open the password file `%s`", path);
	for (ssize_t k; n < size - 1 && (k = read(fd, buf + n, size - 1 - n)) != 0;) {
		if (k < 0 && errno != EINTR)
			return cvol_error_set(err, errno, "read the password file `%s`", path);
		n += k > 0 ? (size_t)k : 0;
	}
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	if (len == 0 || n > SSHFS_PASSWORD_MAX || buf[len + strspn(buf + len, "\r\n")]) {
		explicit_bzero(buf, size);
		return cvol_error_setx(err, EINVAL, "the password file `%s` must hold one line of 1-%d bytes",
				       path, SSHFS_PASSWORD_MAX);
	}
	buf[len] = '\0';
	return 0;
}

/* Write the password (or nothing) to sshfs's stdin, then end it. */
static void send_password(int fd, const char *password)
{
	if (password) {
		size_t len = strlen(password);
		_cleanup_free_ char *line = malloc(len + 2);
		if (line) {
			memcpy(line, password, len);
			memcpy(line + len, "\n", 2);
			(void)!send(fd, line, len + 1, MSG_NOSIGNAL);
			explicit_bzero(line, len + 1);
		}
	}
	shutdown(fd, SHUT_WR);
}

static int sshfs_run(const struct volume *v, const char *password, struct cvol_error *err);

/* Mount @v with sshfs: the password is the volume's, or read from its password file now (so
 * that a changed file is used at the next mount, and the password is in no record). */
static int sshfs_mount(const struct volume *v, struct cvol_error *err)
{
	char from_file[SSHFS_PASSWORD_MAX + 2];
	const char *password = v->opts.password;
	int r = 0;

	if (v->opts.password_file) {
		r = read_password_file(v, from_file, sizeof(from_file), err);
		password = from_file;
	}
	if (r == 0)
		r = sshfs_run(v, password, err);
	explicit_bzero(from_file, sizeof(from_file)); /* also what a failed read left */
	return r;
}

/* Run sshfs for @v: its stdin a socket @password is written to (or nothing), its output in a
 * memfd (ssh keeps it after sshfs has gone to the background: a pipe would break it). */
static int sshfs_run(const struct volume *v, const char *password, struct cvol_error *err)
{
	struct volume_mount m;
	int r = volume_mount_args_logged(v, &m, err);
	if (r < 0)
		return r;
	_cleanup_free_ char **argv = sshfs_argv(v, &m);
	if (!argv)
		return cvol_error_set(err, ENOMEM, "mount sshfs on `%s`", v->data);

	_cleanup_close_ int out = memfd_create("sshfs-output", MFD_CLOEXEC);
	int sv[2];
	if (out < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cvol_error_set(err, errno, "mount sshfs on `%s`", v->data);
	_cleanup_close_ int mine = sv[0];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out, STDERR_FILENO);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0); /* a kill at the bound takes ssh with it */
	posix_spawnattr_setflags(&attr,
				 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	r = posix_spawnp(&pid, "sshfs", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (r != 0)
		return cvol_error_set(err, r, "run sshfs (is the sshfs package installed?)");

	send_password(mine, password);

	int status = 0;
	r = wait_bounded(pid, SSHFS_MOUNT_TIMEOUT_MS, &status);
	if (r == -ETIMEDOUT) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	bool mounted = is_mount_root(v->dirfd, VOLUME_DATA_DIR);
	if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && mounted)
		return 0;
	if (mounted) /* killed late, or gone after mounting: nothing stays */
		umount2(v->data, MNT_DETACH | UMOUNT_NOFOLLOW);
	char msg[512];
	sshfs_message(out, password, msg, sizeof(msg));
	if (r == -ETIMEDOUT)
		return cvol_error_setx(
			err, ETIMEDOUT, "mount sshfs `%s` on `%s`: no answer within %d s (sshfs killed)%s%s",
			v->opts.sshcmd, v->data, SSHFS_MOUNT_TIMEOUT_MS / 1000, msg[0] ? ": " : "", msg);
	if (r < 0)
		return cvol_error_set(err, -r, "wait for sshfs");
	/* with password_stdin, ssh talks on sshfs's pty: its "Permission denied" never reaches us */
	return cvol_error_setx(err, EIO, "mount sshfs `%s` on `%s`: %s%s", v->opts.sshcmd, v->data,
			       msg[0]		   ? msg
			       : WIFEXITED(status) ? "sshfs failed with no message"
						   : "sshfs was killed",
			       password ? " (the login with the password failed: check the user, the "
						  "password, and that the server takes password logins)"
						: "");
}

/* ---- a daemon whose server has gone ----------------------------------------------------------- */

/* True when process @pid is an sshfs serving @mountpoint: `sshfs SSHCMD MOUNTPOINT ...`, as
 * sshfs_argv() makes it (its daemon keeps the command line). */
static bool sshfs_serves(const char *pid, const char *mountpoint)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *argv0 = buf, *base = strrchr(argv0, '/');
	size_t len0 = strlen(argv0), len1 = (size_t)n > len0 + 1 ? strlen(buf + len0 + 1) : 0;
	if (strcmp(base ? base + 1 : argv0, "sshfs") != 0 || (size_t)n <= len0 + len1 + 2)
		return false;
	return strcmp(buf + len0 + len1 + 2, mountpoint) == 0;
}

/* The inode of process @pid's mount namespace ("self" for ours); 0 when it cannot be told. */
static ino_t mnt_ns_of(const char *pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%.20s/ns/mnt", pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Kill the sshfs daemons of @v's _data: a mount that does not answer has been detached, and its
 * daemon would only keep what still uses it waiting. Ours only: in our mount namespace (the same
 * path elsewhere, a container's or another plugin's, is another mount), and through a pidfd taken
 * before the checks, so that a pid reused meanwhile is not killed. */
static void sshfs_kill_daemon(const struct volume *v)
{
	ino_t ours = mnt_ns_of("self");
	DIR *proc = ours ? opendir("/proc") : NULL;
	struct dirent *e;
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (pid <= 1 || *end)
			continue;
		_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pidfd < 0 || mnt_ns_of(e->d_name) != ours || !sshfs_serves(e->d_name, v->data))
			continue;
		log_info("volume `%s`: killing sshfs (pid %ld), whose mount did not answer",
			 v->name ? v->name : "?", pid);
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	}
	closedir(proc);
}

/* No statfs here: on a server that does not answer it would hang; the store takes a network
 * volume's numbers from its bounded probe and never calls this. */
static void no_usage(const struct volume *v, bool mounted, uint64_t *ret_size, uint64_t *ret_used)
{
	(void)v;
	(void)mounted;
	(void)ret_size;
	(void)ret_used;
}

static bool sshfs_is_remote(const struct volume_opts *o)
{
	(void)o;
	return true;
}

const struct volume_backend_ops volume_sshfs_ops = {
	.name = "sshfs",
	.needs_mount = volume_always_mounted,
	.prepare = volume_make_data,
	.mount_args = sshfs_mount_args,
	.mount = sshfs_mount,
	.unmount = volume_detach_data,
	.usage = no_usage,
	.is_remote = sshfs_is_remote,
	.kill_daemon = sshfs_kill_daemon,
};
