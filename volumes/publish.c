/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Publishing: with a mount dir (a managed plugin's propagated mount), every volume in use is
 * also bound at <mount dir>/<name>, the path Mount hands to dockerd. The bind is made after the
 * backend's mount and undone before its unmount, so what is bound is always what is mounted. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNPUBLISH_STACKED_MAX 16 /* binds stacked at <mount dir>/<name> taken away at once */

/* Device and inode of <@dirfd>/@name without asking its filesystem (no sync: a network mount
 * whose server has gone must not hang the question). */
static bool stat_cached(int dirfd, const char *name, struct statx *ret)
{
	return statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_INO, ret) == 0;
}

bool volume_is_published(const struct volume_publish *p, const struct volume *v, const char *name)
{
	struct statx bound, data;

	/* a mount there that shows something else (a tmpfs since unmounted from _data) is stale */
	return p->dirfd >= 0 && is_mount_root(p->dirfd, name) && stat_cached(p->dirfd, name, &bound) &&
	       stat_cached(v->dirfd, VOLUME_DATA_DIR, &data) && bound.stx_dev_major == data.stx_dev_major &&
	       bound.stx_dev_minor == data.stx_dev_minor && bound.stx_ino == data.stx_ino;
}

int volume_publish(const struct volume_publish *p, const struct volume *v, const char *name,
		   struct cvol_error *err)
{
	char source[64], target[64];

	if (p->dirfd < 0 || volume_is_published(p, v, name))
		return 0;
	int r = volume_unpublish(p, name, err); /* a stale bind goes first */
	if (r < 0)
		return r;
	if (mkdirat(p->dirfd, name, 0755) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s/%s`", p->path, name);
	/* mount(2) follows a symlink at the target: open it as a directory without following one */
	_cleanup_close_ int fd =
		openat_confined(p->dirfd, name, O_PATH | O_DIRECTORY, 0, RESOLVE_NO_SYMLINKS);
	if (fd == -ELOOP)
		return cvol_error_setx(err, ELOOP, "`%s/%s` is a symlink; not binding the volume through it",
				       p->path, name);
	if (fd < 0)
		return cvol_error_set(err, -fd, "open `%s/%s`", p->path, name);
	/* by the descriptors: neither path is resolved again between the checks and the bind */
	snprintf(source, sizeof(source), "/proc/self/fd/%d/" VOLUME_DATA_DIR, v->dirfd);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cvol_error_set(err, errno, "bind `%s` on `%s/%s`", v->data, p->path, name);
	log_debug(CVOL_LOG_VOLUME, "bound `%s` on `%s/%s`", v->data, p->path, name);
	return 0;
}

int volume_unpublish(const struct volume_publish *p, const char *name, struct cvol_error *err)
{
	char target[64 + NAME_MAX];

	if (p->dirfd < 0 || !is_mount_root(p->dirfd, name))
		return 0;
	/* detached: a process with its cwd in the bind must not keep the volume from unmounting;
	 * every bind stacked there, a bounded number of times */
	snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", p->dirfd, name);
	for (int i = 0; i < UNPUBLISH_STACKED_MAX && is_mount_root(p->dirfd, name); i++)
		if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			return cvol_error_set(err, errno, "unmount `%s/%s`", p->path, name);
	(void)unlinkat(p->dirfd, name, AT_REMOVEDIR);
	log_debug(CVOL_LOG_VOLUME, "unbound `%s/%s`", p->path, name);
	return 0;
}
