/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "staging.h"
#include "fs.h"
#include "log.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#define STAGING_LOCK ".staging.lock"

int staging_open(int store_fd, const char *store_path, struct staging *ret, struct cvol_error *err)
{
	char *path = strdup(store_path);
	if (!path)
		return cvol_error_set(err, ENOMEM, "open `%s/" STAGING_DIR "`", store_path);
	int fd = dir_open_at(store_fd, STAGING_DIR, true, err);
	if (fd < 0) {
		free(path);
		return fd;
	}
	*ret = (struct staging){ .store_fd = store_fd, .dir_fd = fd, .store_path = path };
	return 0;
}

void staging_close(struct staging *s)
{
	cvol_closep(&s->dir_fd);
	s->dir_fd = -1;
	free(s->store_path);
	s->store_path = NULL;
}

struct leftover_hook {
	const struct staging *s;
	dir_entry_fn before;
	void *data;
	size_t kept;
};

/* Remove one leftover; one that will not go (a mount inside it, EPERM, EMFILE, ...) is kept
 * where it is, untouched past what could be removed, and tried again at the next cleanup. */
static int remove_leftover(int dirfd, const char *name, unsigned char d_type, void *data,
			   struct cvol_error *unused)
{
	struct leftover_hook *hook = data;
	struct cvol_error err = { 0 };
	(void)unused;

	log_debug(CVOL_LOG_STORE, "removing leftover `" STAGING_DIR "/%s`", name);
	int r = hook->before ? hook->before(dirfd, name, d_type, hook->data, &err) : 0;
	if (r == 0)
		r = dir_remove_tree(dirfd, name, &err);
	if (r < 0) {
		log_warning("kept the leftover `%s/" STAGING_DIR "/%s`, which could not be removed (the next "
			    "open tries again): %s",
			    hook->s->store_path, name, err.msg[0] ? err.msg : strerror(-r));
		hook->kept++;
	}
	return 0;
}

int staging_cleanup(struct staging *s, struct cvol_error *err)
{
	return staging_cleanup_with(s, NULL, NULL, err);
}

int staging_cleanup_with(struct staging *s, dir_entry_fn before, void *data, struct cvol_error *unused)
{
	struct leftover_hook hook = { .s = s, .before = before, .data = data };
	struct cvol_error err = { 0 };
	(void)unused;

	/* Nothing here makes a store refuse to open: leftovers are only in the way of nobody. */
	_cleanup_close_ int lock = lock_file_take(s->store_fd, STAGING_LOCK, LOCK_EX | LOCK_NB, &err);
	if (lock == -EWOULDBLOCK)
		return 0;
	int r = lock < 0 ? lock : dir_for_each(s->dir_fd, remove_leftover, &hook, &err);
	if (r == 0)
		r = dir_fsync(s->dir_fd, &err);
	if (r < 0)
		log_warning("could not clean up `%s/" STAGING_DIR "` (the next open tries again): %s",
			    s->store_path, err.msg[0] ? err.msg : strerror(-r));
	return 0;
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

int staging_commit(struct staging *s, const char *name, const char *dest, bool sync, struct cvol_error *err)
{
	if (renameat2(s->dir_fd, name, s->store_fd, dest, RENAME_NOREPLACE) < 0)
		return cvol_error_set(err, errno, "move `%s` into place", dest);
	return sync ? dir_fsync(s->store_fd, err) : 0;
}

void staging_discard(struct staging *s, const char *name)
{
	(void)dir_remove_tree(s->dir_fd, name, NULL);
}

int staging_remove(struct staging *s, const char *name, bool sync, struct cvol_error *err)
{
	char doomed[STAGING_NAME_MAX];
	int r = staging_name('r', doomed, err);
	if (r < 0)
		return r;
	/* Out of sight in one rename; a crash after it leaves only .staging/ to clean. */
	if (renameat(s->store_fd, name, s->dir_fd, doomed) < 0)
		return cvol_error_set(err, errno, "move `%s` out of the store", name);
	r = sync ? dir_fsync(s->store_fd, err) : 0;
	return r < 0 ? r : dir_remove_tree(s->dir_fd, doomed, err);
}
