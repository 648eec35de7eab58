/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the backends share (backend.c and sshfs.c call it; it calls neither): making _data,
 * logging what is mounted, unmounting and detaching, and the operations many backends use as
 * they are. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>

int volume_mount_args_logged(const struct volume *v, struct volume_mount *m, struct cvol_error *err)
{
	int r = v->ops->mount_args(v, m, err);
	if (r == 0 && log_debug_enabled(CVOL_LOG_VOLUME)) {
		char shown[sizeof(m->options) + 64];
		volume_optstr_redact(m->options, shown, sizeof(shown));
		log_debug(CVOL_LOG_VOLUME, "mount %s `%s` on `%s` (%s)", m->fstype ? m->fstype : "bind",
			  m->source, v->data, shown);
	}
	return r;
}

int volume_unmount_data(const struct volume *v, struct cvol_error *err)
{
	if (umount2(v->data, UMOUNT_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "unmount `%s`", v->data);
	return 0;
}

int volume_detach_data(const struct volume *v, struct cvol_error *err)
{
	if (umount2(v->data, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "detach `%s`", v->data);
	log_debug(CVOL_LOG_VOLUME, "detached `%s`", v->data);
	return 0;
}

bool volume_is_remote(const struct volume *v)
{
	return v->ops->is_remote(&v->opts);
}

int volume_make_data(const struct volume *v, struct cvol_error *err)
{
	if (mkdirat(v->dirfd, VOLUME_DATA_DIR, 0755) < 0)
		return cvol_error_set(err, errno, "create `%s`", v->data);
	return 0;
}

bool volume_always_mounted(const struct volume_opts *o)
{
	(void)o;
	return true;
}

void volume_no_daemon(const struct volume *v)
{
	(void)v;
}

int volume_open_host_path(int host_root_fd, const char *path, int flags)
{
	_cleanup_close_ int slash = -1;
	if (host_root_fd < 0 && (host_root_fd = slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	while (*path == '/')
		path++;
	return openat_confined(host_root_fd, *path ? path : ".", flags, 0,
			       RESOLVE_NO_SYMLINKS | (slash < 0 ? RESOLVE_IN_ROOT : 0));
}
