/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mountinfo.h"

#include <libmount.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U /* Linux 6.8 */
#endif
#ifndef SYS_statmount
#define SYS_statmount 457 /* Linux 6.8, the same number on every architecture */
#endif

struct libmnt_table *mountinfo_load(void)
{
	return mnt_new_table_from_file("/proc/self/mountinfo");
}

void mountinfo_free(struct libmnt_table *mountinfo)
{
	mnt_unref_table(mountinfo);
}

bool mountinfo_has(struct libmnt_table *mountinfo, const char *path, const char *fstype, int mnt_id)
{
	struct libmnt_table *own = NULL;
	if (!mountinfo && !(mountinfo = own = mountinfo_load()))
		return false;
	struct libmnt_fs *fs = mnt_table_find_target(mountinfo, path, MNT_ITER_BACKWARD);
	bool found = fs &&
		     (!fstype || (mnt_fs_get_fstype(fs) && strcmp(mnt_fs_get_fstype(fs), fstype) == 0)) &&
		     (mnt_id <= 0 || mnt_fs_get_id(fs) == mnt_id);
	mountinfo_free(own);
	return found;
}

int mount_ids_of(const char *path, int *ret_id, uint64_t *ret_unique)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*ret_id = (int)stx.stx_mnt_id;
	*ret_unique = 0;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID_UNIQUE, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID_UNIQUE))
		*ret_unique = stx.stx_mnt_id;
	return 0;
}

int mount_unique_exists(uint64_t unique)
{
	/* struct mnt_id_req (version 0) and enough room for struct statmount's fixed part */
	struct {
		uint32_t size, spare;
		uint64_t mnt_id, param;
	} req = { .size = 24, .mnt_id = unique, .param = 0x1 /* STATMOUNT_SB_BASIC */ };
	uint64_t buf[64];

	if (unique == 0)
		return -EOPNOTSUPP;
	if (syscall(SYS_statmount, &req, buf, sizeof(buf), 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

bool mountinfo_has_id(struct libmnt_table *mountinfo, int id, const char *path, const char *fstype)
{
	struct libmnt_table *own = NULL;
	if (!mountinfo && !(mountinfo = own = mountinfo_load()))
		return false;
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
	struct libmnt_fs *fs = NULL;
	bool found = false;
	while (it && !found && mnt_table_next_fs(mountinfo, it, &fs) == 0)
		found = mnt_fs_get_id(fs) == id && mnt_fs_get_target(fs) &&
			strcmp(mnt_fs_get_target(fs), path) == 0 &&
			(!fstype || (mnt_fs_get_fstype(fs) && strcmp(mnt_fs_get_fstype(fs), fstype) == 0));
	mnt_free_iter(it);
	mountinfo_free(own);
	return found;
}
