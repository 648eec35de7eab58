/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume options (`-o key=value`), checked before any file is touched. */
#include "volumes-internal.h"

#include <libmount.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char *const known_keys[] = { "type", "device", "o",    "size", "fs",
					  "uid",  "gid",    "mode", "ro",   "create" };

static bool key_is_known(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++)
		if (strcmp(key, known_keys[i]) == 0)
			return true;
	return false;
}

int volume_size_parse(const char *text, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || end == text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || n == 0 || n > (UINT64_MAX >> shift))
		return -EINVAL;
	*ret = (uint64_t)n << shift;
	return 0;
}

static int parse_bool(const char *key, const char *value, bool *ret, struct cvol_error *err)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*ret = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*ret = false;
	else
		return cvol_error_setx(err, EINVAL, "option `%s=%s`: use true or false", key, value);
	return 0;
}

static int parse_number(const char *key, const char *value, int base, unsigned long max, unsigned long *ret,
			struct cvol_error *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(value, &end, base);
	if (errno || end == value || *end || value[0] == '-' || n > max)
		return base == 8
			       ? cvol_error_setx(err, EINVAL, "option `%s=%s`: not an octal number up to %lo",
						 key, value, max)
			       : cvol_error_setx(err, EINVAL,
						 "option `%s=%s`: not a decimal number up to %lu", key, value,
						 max);
	*ret = n;
	return 0;
}

static bool is_fs_type_name(const char *s)
{
	if (!*s || strlen(s) > 32)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_'))
			return false;
	return true;
}

/* Options of mount(8) and libmount, not of the filesystem: in `o` they would change what is
 * mounted or how (a remount, a bind of another path, a move, propagation, a helper program,
 * X-mount.* owners and dirs), so every Mount would fail or do something else. `loop` (an
 * image file as the device) stays: it mounts the filesystem the volume names. */
static const char *const refused_o_names[] = {
	"remount", "bind",	 "rbind",	"move", "shared", "rshared", "private", "rprivate", "slave",
	"rslave",  "unbindable", "runbindable", "user", "users",  "owner",   "group",	"helper",   "uhelper",
};

static bool o_name_is_refused(const char *name, size_t len)
{
	if (len >= 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-')
		return true; /* X-mount.mkdir, X-mount.owner, x-systemd.*: userspace options */
	if (len >= 5 && strncmp(name, "make-", 5) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(refused_o_names); i++)
		if (strlen(refused_o_names[i]) == len && strncmp(name, refused_o_names[i], len) == 0)
			return true;
	return false;
}

/* `o` is a list of filesystem options, read as libmount reads it; refuse one that is not. */
static int check_o(const char *value, struct cvol_error *err)
{
	if (!value)
		return 0;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cvol_error_setx(err, EINVAL,
					       "option `o`: a control character (such as a newline) is not "
					       "allowed");
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return cvol_error_set(err, ENOMEM, "option `o`");
	char *at = copy, *name, *val;
	size_t namesz, valsz;
	int r;
	while ((r = mnt_optstr_next_option(&at, &name, &namesz, &val, &valsz)) == 0) {
		if (o_name_is_refused(name, namesz))
			return cvol_error_setx(
				err, EINVAL,
				"option `o`: `%.*s` is not a filesystem option; it would change "
				"what is mounted or how",
				(int)namesz, name);
	}
	if (r < 0)
		return cvol_error_setx(err, EINVAL, "option `o=%s`: not a list of mount options", value);
	return 0;
}

/* Read every key into @o; the rules between keys come after. */
static int read_keys(json_t *options, struct volume_opts *o, struct cvol_error *err)
{
	const char *key;
	json_t *v;
	unsigned long n;
	int r = 0;

	json_object_foreach(options, key, v)
	{
		if (!key_is_known(key)) {
			return cvol_error_setx(
				err, EINVAL,
				"unknown option `%s` (known: type, device, o, size, fs, uid, gid, mode, ro, "
				"create)",
				key);
		}
		if (!json_is_string(v))
			return cvol_error_setx(err, EINVAL, "option `%s` must be a string", key);
		const char *s = json_string_value(v);
		if (strcmp(key, "type") == 0)
			o->type = s;
		else if (strcmp(key, "device") == 0)
			o->device = s;
		else if (strcmp(key, "o") == 0)
			o->o = s;
		else if (strcmp(key, "fs") == 0)
			o->fs = s;
		else if (strcmp(key, "size") == 0 && volume_size_parse(s, &o->size) < 0)
			return cvol_error_setx(err, EINVAL,
					       "option `size=%s`: use a size such as 512M or 10G", s);
		else if (strcmp(key, "uid") == 0 &&
			 (r = parse_number(key, s, 10, UINT_MAX - 1, &n, err)) == 0)
			o->uid = (uid_t)n, o->has_uid = true;
		else if (strcmp(key, "gid") == 0 &&
			 (r = parse_number(key, s, 10, UINT_MAX - 1, &n, err)) == 0)
			o->gid = (gid_t)n, o->has_gid = true;
		else if (strcmp(key, "mode") == 0 && (r = parse_number(key, s, 8, 07777, &n, err)) == 0)
			o->mode = (mode_t)n, o->has_mode = true;
		else if (strcmp(key, "ro") == 0)
			r = parse_bool(key, s, &o->ro, err);
		else if (strcmp(key, "create") == 0)
			r = parse_bool(key, s, &o->create, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Decide the backend and refuse combinations that make no sense. */
static int check_combination(struct volume_opts *o, struct cvol_error *err)
{
	if (!o->type) {
		if (o->device || o->o)
			return cvol_error_setx(err, EINVAL, "options `device` and `o` need a `type`");
		o->backend = o->size ? CVOL_BACKEND_LOOP : CVOL_BACKEND_DIR;
		if (o->fs && !o->size)
			return cvol_error_setx(err, EINVAL, "option `fs` needs `size` (a loop image)");
		if (o->fs && strcmp(o->fs, "ext4") != 0 && strcmp(o->fs, "xfs") != 0)
			return cvol_error_setx(err, EINVAL, "option `fs=%s`: use ext4 or xfs", o->fs);
		if (o->backend == CVOL_BACKEND_LOOP && !o->fs)
			o->fs = "ext4";
	} else if (strcmp(o->type, "bind") == 0) {
		o->backend = CVOL_BACKEND_BIND;
		if (!o->device || o->device[0] != '/')
			return cvol_error_setx(err, EINVAL,
					       "type=bind needs `device` set to an absolute host path");
		if (o->o || o->size || o->fs)
			return cvol_error_setx(err, EINVAL, "type=bind takes no `o`, `size` or `fs`");
	} else if (strcmp(o->type, "tmpfs") == 0) {
		o->backend = CVOL_BACKEND_TMPFS;
		if (o->device || o->fs)
			return cvol_error_setx(err, EINVAL, "type=tmpfs takes no `device` or `fs`");
	} else {
		o->backend = CVOL_BACKEND_MOUNT;
		if (!is_fs_type_name(o->type))
			return cvol_error_setx(err, EINVAL, "option `type=%s`: not a filesystem type name",
					       o->type);
		if (!o->device)
			return cvol_error_setx(err, EINVAL, "type=%s needs `device`", o->type);
		if (o->size || o->fs)
			return cvol_error_setx(err, EINVAL, "type=%s takes no `size` or `fs`", o->type);
	}
	if (o->backend == CVOL_BACKEND_MOUNT && o->ro && (o->has_uid || o->has_gid || o->has_mode))
		return cvol_error_setx(err, EINVAL,
				       "uid, gid and mode cannot be applied to a read-only type=%s mount",
				       o->type);
	if (o->create && o->backend != CVOL_BACKEND_BIND)
		return cvol_error_setx(err, EINVAL, "option `create` is for type=bind");
	return 0;
}

int volume_opts_parse(json_t *options, struct volume_opts *ret, struct cvol_error *err)
{
	struct volume_opts o = { 0 };

	if (options && !json_is_object(options))
		return cvol_error_setx(err, EINVAL, "options must be an object of strings");
	int r = options ? read_keys(options, &o, err) : 0;
	if (r == 0)
		r = check_combination(&o, err);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

void volume_opts_describe_difference(json_t *have, json_t *want, char *buf, size_t size)
{
	const char *key;
	json_t *v;
	size_t len = 0;

	buf[0] = '\0';
	json_object_foreach(have, key, v)
	{
		json_t *w = json_object_get(want, key);
		if (w && json_equal(v, w))
			continue;
		if (w)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%s%s is `%s`, not `%s`", len ? "; " : "", key,
						json_string_value(v) ? json_string_value(v) : "?",
						json_string_value(w) ? json_string_value(w) : "?");
		else
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%s%s is `%s`, not left out", len ? "; " : "", key,
						json_string_value(v) ? json_string_value(v) : "?");
	}
	json_object_foreach(want, key, v)
	{
		if (json_object_get(have, key))
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s is left out, not `%s`",
					len ? "; " : "", key,
					json_string_value(v) ? json_string_value(v) : "?");
	}
}

int volume_opts_check_new(const struct volume_opts *o, struct cvol_error *err)
{
	return check_o(o->o, err);
}
