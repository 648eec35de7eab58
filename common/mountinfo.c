/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mountinfo.h"

#include <libmount.h>
#include <string.h>

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
