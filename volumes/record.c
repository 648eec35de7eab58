/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* record.json: a volume's options, creation time and active mount IDs, with the
 * boot they belong to. Written crash-safely (temp, fsync, rename, fsync dir), mode 0600: the
 * options may hold a password. */
#include "volumes-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define RECORD_FILE "record.json"

bool volume_ids_contain(char **ids, const char *id)
{
	for (char **p = ids; p && *p; p++)
		if (strcmp(*p, id) == 0)
			return true;
	return false;
}

void volume_record_done(struct volume_record *rec)
{
	json_decref(rec->options);
	cvol_strv_free(rec->ids);
	rec->options = NULL;
	rec->ids = NULL;
}

static int read_ids(json_t *array, char ***ret)
{
	_cleanup_strv_free_ char **ids = calloc(1, sizeof(char *));
	size_t i;
	json_t *v;

	if (!ids)
		return -ENOMEM;
	json_array_foreach(array, i, v)
	{
		if (!json_is_string(v))
			return -EBADMSG;
		if (strv_push(&ids, json_string_value(v)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(ids);
	return 0;
}

int volume_record_load(int dirfd, struct volume_record *ret, struct cvol_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct volume_record rec = { 0 };
	json_error_t jerr;
	const char *created = NULL, *boot = "";
	json_t *options = NULL, *ids = NULL;

	int r = file_read_text(dirfd, RECORD_FILE, &text, err);
	if (r == -ENOENT) /* "no such volume" is for a volume whose directory is missing */
		return cvol_error_setx(err, EBADMSG, "the volume has no " RECORD_FILE);
	if (r < 0)
		return r;
	json_auto_t *doc = json_loads(text, 0, &jerr);
	if (!doc ||
	    json_unpack(doc, "{s:s, s?:s, s:o, s:o}", "CreatedAt", &created, "Boot", &boot, "Options",
			&options, "Mounts", &ids) < 0 ||
	    !json_is_object(options) || !json_is_array(ids))
		return cvol_error_setx(err, EBADMSG, "corrupt " RECORD_FILE);
	r = read_ids(ids, &rec.ids);
	if (r < 0)
		return cvol_error_set(err, -r, "corrupt " RECORD_FILE);
	snprintf(rec.created_at, sizeof(rec.created_at), "%s", created);
	snprintf(rec.boot_id, sizeof(rec.boot_id), "%s", boot);
	rec.options = json_incref(options);
	*ret = rec;
	return 0;
}

int volume_record_save(int dirfd, const struct volume_record *rec, struct cvol_error *err)
{
	json_auto_t *ids = json_array();
	for (char **p = rec->ids; ids && p && *p; p++)
		json_array_append_new(ids, json_string(*p));
	json_auto_t *doc = json_pack("{s:s, s:s, s:O, s:O}", "CreatedAt", rec->created_at, "Boot",
				     rec->boot_id, "Options", rec->options, "Mounts", ids);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text)
		return cvol_error_set(err, ENOMEM, "encode " RECORD_FILE);
	/* root's only: the options may hold a password */
	return file_write_atomic_mode(dirfd, RECORD_FILE, text, strlen(text), 0600, err);
}
