/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Publishing: with a mount dir (a managed plugin's propagated mount), every volume in use is
 * also bound at <mount dir>/<name>, the path Mount hands to dockerd. The bind is made after the
 * backend's mount and undone before its unmount, so what is bound is always what is mounted. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

bool volume_is_published(const struct volume_publish *p, const char *name)
{
	return p->dirfd >= 0 && is_mount_root(p->dirfd, name);
}

int volume_publish(const struct volume_publish *p, const struct volume *v, const char *name,
		   struct cvol_error *err)
{
	char source[64], target[64 + NAME_MAX];

	if (p->dirfd < 0 || volume_is_published(p, name))
		return 0;
	if (mkdirat(p->dirfd, name, 0755) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s/%s`", p->path, name);
	/* by the descriptors: neither path is resolved again between the checks and the bind */
	snprintf(source, sizeof(source), "/proc/self/fd/%d/" VOLUME_DATA_DIR, v->dirfd);
	snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", p->dirfd, name);
	if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cvol_error_set(err, errno, "bind `%s` on `%s/%s`", v->data, p->path, name);
	log_debug(CVOL_LOG_VOLUME, "bound `%s` on `%s/%s`", v->data, p->path, name);
	return 0;
}

int volume_unpublish(const struct volume_publish *p, const char *name, struct cvol_error *err)
{
	char target[64 + NAME_MAX];

	if (!volume_is_published(p, name))
		return 0;
	/* detached: a process with its cwd in the bind must not keep the volume from unmounting */
	snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", p->dirfd, name);
	if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "unmount `%s/%s`", p->path, name);
	(void)unlinkat(p->dirfd, name, AT_REMOVEDIR);
	log_debug(CVOL_LOG_VOLUME, "unbound `%s/%s`", p->path, name);
	return 0;
}
