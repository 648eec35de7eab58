/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One home for how a volume looks in JSON: the plugin's Get and `cvol volume inspect`. */
#include "volumes-internal.h"

static json_t *ids_json(char **ids)
{
	json_t *a = json_array();
	for (char **p = ids; a && p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

json_t *cvol_volume_info_to_json(const struct cvol_volume_info *info)
{
	json_t *status =
		json_pack("{s:s, s:b, s:s, s:I, s:I, s:I, s:o, s:O}", "Backend",
			  cvol_volume_backend_name(info->backend), "Mounted", info->mounted, "Mount",
			  info->mount_state, "Size", (json_int_t)info->size_bytes, "Used",
			  (json_int_t)info->used_bytes, "Mounts", (json_int_t)strv_length(info->mount_ids),
			  "MountIDs", ids_json(info->mount_ids), "Options", info->options);
	return json_pack("{s:s, s:s, s:s, s:o}", "Name", info->name, "Mountpoint", info->mountpoint,
			 "CreatedAt", info->created_at, "Status", status);
}
