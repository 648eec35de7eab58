/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether the mount on a volume's _data answers. A network filesystem whose server has gone may
 * hang any call on it (FUSE waits for its daemon, NFS for its server), so the question is a
 * statfs in a child process, with a time bound. A child that does not answer in time is killed
 * and reaped by a thread of its own; a FUSE call already handed to a stopped daemon cannot be
 * interrupted, and while such a child lingers its mount is not probed again: it reads as not
 * answering, and no second child gets stuck behind the first. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBES_STUCK_MAX 64

/* The mounts (by device) whose probe is stuck in the filesystem. */
static pthread_mutex_t stuck_lock = PTHREAD_MUTEX_INITIALIZER;
static dev_t stuck[PROBES_STUCK_MAX];
static size_t n_stuck;

/* True when a probe of @dev is stuck (or so many are that no more are started). */
static bool stuck_has(dev_t dev)
{
	bool found = false;
	pthread_mutex_lock(&stuck_lock);
	for (size_t i = 0; i < n_stuck && !found; i++)
		found = stuck[i] == dev;
	found = found || n_stuck == PROBES_STUCK_MAX;
	pthread_mutex_unlock(&stuck_lock);
	return found;
}

static void stuck_set(dev_t dev, bool on)
{
	pthread_mutex_lock(&stuck_lock);
	if (on && n_stuck < PROBES_STUCK_MAX)
		stuck[n_stuck++] = dev;
	for (size_t i = 0; !on && i < n_stuck; i++)
		if (stuck[i] == dev) {
			stuck[i] = stuck[--n_stuck];
			break;
		}
	pthread_mutex_unlock(&stuck_lock);
}

struct stuck_child {
	pid_t pid;
	dev_t dev;
};

static void *reap_main(void *arg)
{
	struct stuck_child *c = arg;
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	stuck_set(c->dev, false);
	free(c);
	return NULL;
}

/* Kill the probe @pid of @dev and reap it: at once, or by a thread once the filesystem lets it go. */
static void probe_abandon(pid_t pid, dev_t dev)
{
	struct timespec nap = { .tv_nsec = 5 * 1000000 };
	kill(pid, SIGKILL);
	for (int i = 0; i < 20; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&nap, NULL);
	}
	struct stuck_child *c = malloc(sizeof(*c));
	pthread_attr_t attr;
	pthread_t thread;
	if (!c)
		return; /* a zombie until the plugin exits: better than a thread blocked here */
	*c = (struct stuck_child){ .pid = pid, .dev = dev };
	stuck_set(dev, true);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, reap_main, c) != 0) {
		stuck_set(dev, false);
		free(c);
	}
	pthread_attr_destroy(&attr);
}

/* What the child writes back. */
struct answer {
	int error; /* 0, or statfs's errno */
	uint64_t size, used;
};

/* The child: only @fd (the mount, O_PATH) and @wfd kept open (the volume's lock must not live on
 * in a child stuck in the filesystem), one fstatfs, its answer, exit. */
static _Noreturn void probe_child(int fd, int wfd)
{
	unsigned lo = (unsigned)(fd < wfd ? fd : wfd), hi = (unsigned)(fd < wfd ? wfd : fd);
	struct answer a = { 0 };
	struct statfs sf;

	if (lo > 0)
		close_range(0, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
	if (fstatfs(fd, &sf) < 0) {
		a.error = errno;
	} else {
		a.size = (uint64_t)sf.f_blocks * (uint64_t)sf.f_frsize;
		a.used = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_frsize;
	}
	(void)!write(wfd, &a, sizeof(a));
	_exit(0);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Wait until @rfd has the child's answer, or the bound has passed: true with it in *@ret. */
static bool read_answer(int rfd, struct answer *ret)
{
	struct timespec start;
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	long left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((left = VOLUME_PROBE_TIMEOUT_MS - elapsed_ms(&start)) > 0) {
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		return read(rfd, ret, sizeof(*ret)) == (ssize_t)sizeof(*ret);
	}
	return false;
}

/* statfs on @fd (the mount @dev) in a child, within VOLUME_PROBE_TIMEOUT_MS. */
static void probe_in_child(int fd, dev_t dev, struct volume_probe *p)
{
	int pipefd[2];
	struct answer a;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*p = (struct volume_probe){ .health = VOLUME_DEAD, .error = errno };
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		probe_child(fd, pipefd[1]);
	close(pipefd[1]);
	if (pid < 0) {
		*p = (struct volume_probe){ .health = VOLUME_DEAD, .error = errno };
	} else if (read_answer(pipefd[0], &a)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			; /* it exits right after writing */
		*p = (struct volume_probe){ .health = a.error ? VOLUME_DEAD : VOLUME_ALIVE,
					    .error = a.error,
					    .size = a.size,
					    .used = a.used };
	} else {
		probe_abandon(pid, dev);
		*p = (struct volume_probe){ .health = VOLUME_NO_ANSWER };
	}
	close(pipefd[0]);
}

void volume_probe(const struct volume *v, struct volume_probe *ret)
{
	struct statx stx;
	/* no sync and no open: neither asks the filesystem anything */
	int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC;

	if (statx(v->dirfd, VOLUME_DATA_DIR, flags, STATX_BASIC_STATS, &stx) < 0 ||
	    !(stx.stx_attributes & stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
		*ret = (struct volume_probe){ .health = VOLUME_NOT_MOUNTED };
		return;
	}
	if (!volume_is_remote(v)) { /* a local filesystem answers */
		*ret = (struct volume_probe){ .health = VOLUME_ALIVE };
		return;
	}
	dev_t dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	if (stuck_has(dev)) {
		*ret = (struct volume_probe){ .health = VOLUME_NO_ANSWER };
		return;
	}
	_cleanup_close_ int fd =
		openat(v->dirfd, VOLUME_DATA_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*ret = (struct volume_probe){ .health = VOLUME_DEAD, .error = errno };
		return;
	}
	probe_in_child(fd, dev, ret);
}

void volume_probe_describe(const struct volume_probe *p, char *buf, size_t size)
{
	switch (p->health) {
	case VOLUME_NOT_MOUNTED:
		snprintf(buf, size, "not mounted");
		break;
	case VOLUME_ALIVE:
		snprintf(buf, size, "alive");
		break;
	case VOLUME_DEAD:
		snprintf(buf, size, "dead: %s", strerror(p->error));
		break;
	case VOLUME_NO_ANSWER:
		snprintf(buf, size, "no answer within %d s", VOLUME_PROBE_TIMEOUT_MS / 1000);
		break;
	}
}
