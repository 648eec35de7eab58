/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "output.h"

#include <stdio.h>

int output_json(json_t *doc)
{
	if (!doc)
		return -ENOMEM;
	int r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	putchar('\n');
	return r < 0 ? -EIO : 0;
}

json_t *output_backing_fs_json(const struct cvol_backing_fs *fs)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:b}", "type", fs->type, "d_type", fs->d_type,
			 "xattr_trusted", fs->xattr_trusted, "xattr_user", fs->xattr_user, "tmpfile",
			 fs->tmpfile, "rename_whiteout", fs->rename_whiteout, "overlay", fs->is_overlay);
}

json_t *output_kernel_json(const struct cvol_kernel_features *k)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:s, s:i}", "release", k->release, "overlay", k->overlay,
			 "fsopen", k->fsopen, "lowerdir_append", k->lowerdir_append, "layer_fd", k->layer_fd,
			 "mount_api", cvol_mount_api_name(k->api), "max_lower_layers",
			 CVOL_OVERLAY_MAX_LOWERS);
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

void output_probe_text(const char *path, const struct cvol_backing_fs *fs,
		       const struct cvol_kernel_features *k)
{
	printf("path:              %s\n", path);
	printf("backing fs:        %s\n", fs->type);
	printf("d_type:            %s\n", yes_no(fs->d_type));
	printf("trusted xattrs:    %s\n", yes_no(fs->xattr_trusted));
	printf("user xattrs:       %s\n", yes_no(fs->xattr_user));
	printf("O_TMPFILE:         %s\n", yes_no(fs->tmpfile));
	printf("RENAME_WHITEOUT:   %s\n", yes_no(fs->rename_whiteout));
	printf("kernel:            %s\n", k->release);
	printf("mount API:         %s\n", cvol_mount_api_name(k->api));
	printf("max lower layers:  %d\n", CVOL_OVERLAY_MAX_LOWERS);
}
