/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "staging.h"
#include "fs.h"
#include "log.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#define STAGING_LOCK ".staging.lock"

int staging_open(int store_fd, struct staging *ret, struct cvol_error *err)
{
	int fd = dir_open_at(store_fd, STAGING_DIR, true, err);
	if (fd < 0)
		return fd;
	*ret = (struct staging){ .store_fd = store_fd, .dir_fd = fd };
	return 0;
}

void staging_close(struct staging *s)
{
	cvol_closep(&s->dir_fd);
	s->dir_fd = -1;
}

struct leftover_hook {
	dir_entry_fn before;
	void *data;
};

static int remove_leftover(int dirfd, const char *name, unsigned char d_type, void *data,
			   struct cvol_error *err)
{
	const struct leftover_hook *hook = data;
	log_debug(CVOL_LOG_STORE, "removing leftover `" STAGING_DIR "/%s`", name);
	int r = hook->before ? hook->before(dirfd, name, d_type, hook->data, err) : 0;
	return r < 0 ? r : dir_remove_tree(dirfd, name, err);
}

int staging_cleanup(struct staging *s, struct cvol_error *err)
{
	return staging_cleanup_with(s, NULL, NULL, err);
}

int staging_cleanup_with(struct staging *s, dir_entry_fn before, void *data, struct cvol_error *err)
{
	struct leftover_hook hook = { .before = before, .data = data };
	_cleanup_close_ int lock = lock_file_take(s->store_fd, STAGING_LOCK, LOCK_EX | LOCK_NB, err);
	if (lock == -EWOULDBLOCK)
		return 0;
	if (lock < 0)
		return lock;
	int r = dir_for_each(s->dir_fd, remove_leftover, &hook, err);
	return r < 0 ? r : dir_fsync(s->dir_fd, err);
}

int staging_hold(struct staging *s, struct cvol_error *err)
{
	return lock_file_take(s->store_fd, STAGING_LOCK, LOCK_SH, err);
}

static int staging_name(char kind, char name[STAGING_NAME_MAX], struct cvol_error *err)
{
	uint64_t rnd;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return cvol_error_set(err, errno, "name a staging dir");
	snprintf(name, STAGING_NAME_MAX, "%c-%016llx", kind, (unsigned long long)rnd);
	return 0;
}

int staging_make(struct staging *s, char kind, char ret_name[STAGING_NAME_MAX], struct cvol_error *err)
{
	int r = staging_name(kind, ret_name, err);
	if (r < 0)
		return r;
	if (mkdirat(s->dir_fd, ret_name, 0700) < 0)
		return cvol_error_set(err, errno, "create a staging dir");
	int fd = openat(s->dir_fd, ret_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = cvol_error_set(err, errno, "open the staging dir");
		unlinkat(s->dir_fd, ret_name, AT_REMOVEDIR);
		return r;
	}
	return fd;
}

int staging_commit(struct staging *s, const char *name, const char *dest, struct cvol_error *err)
{
	if (renameat2(s->dir_fd, name, s->store_fd, dest, RENAME_NOREPLACE) < 0)
		return cvol_error_set(err, errno, "move `%s` into place", dest);
	return dir_fsync(s->store_fd, err);
}

void staging_discard(struct staging *s, const char *name)
{
	(void)dir_remove_tree(s->dir_fd, name, NULL);
}

int staging_remove(struct staging *s, const char *name, struct cvol_error *err)
{
	char doomed[STAGING_NAME_MAX];
	int r = staging_name('r', doomed, err);
	if (r < 0)
		return r;
	/* Out of sight in one rename; a crash after it leaves only .staging/ to clean. */
	if (renameat(s->store_fd, name, s->dir_fd, doomed) < 0)
		return cvol_error_set(err, errno, "move `%s` out of the store", name);
	r = dir_fsync(s->store_fd, err);
	return r < 0 ? r : dir_remove_tree(s->dir_fd, doomed, err);
}
