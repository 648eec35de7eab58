/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume options (`-o key=value`), checked before any file is touched. */
#include "volumes-internal.h"

#include <libmount.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
	if (r < 0) {
		char shown[CVOL_ERROR_MSG_MAX];
		volume_optstr_redact(value, shown, sizeof(shown)); /* a cifs password= stays hidden */
		return cvol_error_setx(err, EINVAL, "option `o=%s`: not a list of mount options", shown);
	}
	return 0;
}

/* ---- secrets ------------------------------------------------------------------------------ */

/* Parts of option names that hold credentials, matched anywhere in the name, in any case:
 * password, cifs' password2, ssh_passphrase, client_secret, auth_token, credentials... */
static const char *const secret_words[] = { "password", "passwd",     "passphrase", "secret",
					    "token",	"credential", "apikey",	    "api_key" };

bool volume_opt_is_secret(const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; i < ARRAY_SIZE(secret_words); i++) {
		size_t wl = strlen(secret_words[i]);
		for (size_t at = 0; at + wl <= len; at++)
			if (strncasecmp(key + at, secret_words[i], wl) == 0)
				return true;
	}
	return false;
}

/* Is the name of the option at @name (@len bytes, up to `=`) a secret? */
static bool name_is_secret(const char *name, size_t len)
{
	char buf[128];
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return volume_opt_is_secret(buf);
}

void volume_optstr_redact(const char *optstr, char *buf, size_t size)
{
	size_t len = 0;
	const char *p = optstr;

	if (size == 0)
		return;
	buf[0] = '\0';
	while (*p) {
		/* one option: up to a comma outside double quotes, as libmount reads it */
		const char *start = p, *eq = NULL;
		bool quoted = false;
		for (; *p && (quoted || *p != ','); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '=' && !eq && !quoted)
				eq = p;
		}
		size_t n = (size_t)(p - start);
		if (eq && name_is_secret(start, (size_t)(eq - start)))
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%.*s=" VOLUME_SECRET_SHOWN, (int)(eq - start), start);
		else
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%.*s", (int)n,
						start);
		if (*p == ',') {
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, ",");
			p++;
		}
	}
}

json_t *volume_opts_redacted(json_t *options)
{
	const char *key;
	json_t *v;
	json_t *copy =
		json_is_object(options) ? json_deep_copy(options) : json_object(); /* its own strings */

	if (!copy)
		return NULL;
	json_object_foreach(copy, key, v)
	{
		if (!json_is_string(v))
			continue;
		if (volume_opt_is_secret(key)) {
			json_string_set(v, VOLUME_SECRET_SHOWN);
		} else if (strcmp(key, "o") == 0 && strchr(json_string_value(v), '=')) {
			size_t size = strlen(json_string_value(v)) + 64;
			_cleanup_free_ char *buf = malloc(size);
			if (!buf) {
				json_decref(copy);
				return NULL;
			}
			volume_optstr_redact(json_string_value(v), buf, size);
			json_string_set(v, buf);
		}
	}
	return copy;
}

/* ---- sshfs: docker-volume-sshfs's options ---------------------------------------------------- */

static const char *const sshfs_own_keys[] = { "sshcmd", "password", "password_file", "port" };

bool volume_opt_is_sshfs_own(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(sshfs_own_keys); i++)
		if (strcmp(key, sshfs_own_keys[i]) == 0)
			return true;
	return false;
}

/* sshfs and ssh options that run a program, talk to the server without ssh, run in the
 * foreground (Mount would never return) or are cvol's to set: refused in any case. */
static const char *const sshfs_refused_keys[] = {
	"ssh_command",
	"sshfs_command",
	"ssh_protocol",
	"directport",
	"passive",
	"slave",
	"password_stdin",
	"debug",
	"sshfs_debug",
	"proxycommand",
	"localcommand",
	"permitlocalcommand",
	"knownhostscommand",
	"remotecommand",
	"foreground",
	"f",
	"d",
	"s",
};

static bool key_is_word(const char *key)
{
	if (!*key || strlen(key) > 64)
		return false;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Every key of an sshfs volume: cvol's three, and words passed on as `-o key[=value]`. A value
 * that could end one option and start another (`,`, a newline, a leading `-`) is refused; a
 * secret's value is never quoted in the message. */
static int read_sshfs_keys(json_t *options, struct volume_opts *o, struct cvol_error *err)
{
	const char *key;
	json_t *v;

	o->backend = CVOL_BACKEND_SSHFS;
	o->all = options;
	json_object_foreach(options, key, v)
	{
		if (!key_is_word(key))
			return cvol_error_setx(err, EINVAL,
					       "sshfs option `%.64s`: a name is 1-64 of [A-Za-z0-9_]", key);
		if (!json_is_string(v))
			return cvol_error_setx(err, EINVAL, "option `%s` must be a string", key);
		const char *s = json_string_value(v);
		bool secret = volume_opt_is_secret(key);
		if (strcmp(key, "type") == 0)
			return cvol_error_setx(
				err, EINVAL,
				"option `type`: `sshcmd` makes an sshfs volume; leave `type` out");
		for (size_t i = 0; i < ARRAY_SIZE(sshfs_refused_keys); i++)
			if (strcasecmp(key, sshfs_refused_keys[i]) == 0)
				return cvol_error_setx(err, EINVAL,
						       "sshfs option `%s` is not allowed: it would run a "
						       "program, bypass ssh or hang the mount",
						       key);
		if (has_control(s))
			return cvol_error_setx(err, EINVAL,
					       "option `%s`: a control character (such as a newline) is "
					       "not allowed",
					       key);
		if (strcmp(key, "password") == 0) {
			if (!*s || strlen(s) > SSHFS_PASSWORD_MAX)
				return cvol_error_setx(err, EINVAL, "option `password`: give 1-%d bytes",
						       SSHFS_PASSWORD_MAX);
			o->password = s;
			continue; /* on stdin: commas and dashes are fine */
		}
		if (strcmp(key, "password_file") == 0) {
			if (s[0] != '/' || strlen(s) > 4096)
				return cvol_error_setx(err, EINVAL,
						       "option `password_file`: give the absolute path of a "
						       "file that holds the password");
			o->password_file = s;
			continue;
		}
		if (strchr(s, ',') || s[0] == '-')
			return secret ? cvol_error_setx(err, EINVAL,
							"option `%s`: a value with `,` or starting "
							"with `-` is not allowed",
							key)
				      : cvol_error_setx(err, EINVAL,
							"option `%s=%s`: a value with `,` or starting "
							"with `-` is not allowed",
							key, s);
		if (strcmp(key, "sshcmd") == 0) {
			if (!strchr(s, ':'))
				return cvol_error_setx(err, EINVAL,
						       "option `sshcmd=%s`: use [user@]host:path", s);
			o->sshcmd = s;
		} else if (strcmp(key, "port") == 0) {
			unsigned long n;
			int r = parse_number(key, s, 10, 65535, &n, err);
			if (r < 0)
				return r;
			if (n == 0)
				return cvol_error_setx(err, EINVAL, "option `port=0`: use 1-65535");
			o->port = s;
		}
	}
	if (o->password && o->password_file)
		return cvol_error_setx(err, EINVAL, "options `password` and `password_file`: give one");
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
	int r;
	if (options && json_object_get(options, "sshcmd"))
		r = read_sshfs_keys(options, &o, err);
	else if ((r = options ? read_keys(options, &o, err) : 0) == 0)
		r = check_combination(&o, err);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

/* How @key's value reads in a message: a secret as a placeholder, `o` with its secrets hidden. */
static const char *shown_value(const char *key, json_t *v, char *buf, size_t size)
{
	const char *s = json_string_value(v);
	if (!s)
		return "?";
	if (volume_opt_is_secret(key))
		return VOLUME_SECRET_SHOWN;
	if (strcmp(key, "o") == 0) {
		volume_optstr_redact(s, buf, size);
		return buf;
	}
	return s;
}

void volume_opts_describe_difference(json_t *have, json_t *want, char *buf, size_t size)
{
	const char *key;
	json_t *v;
	size_t len = 0;
	char a[256], b[256];

	buf[0] = '\0';
	json_object_foreach(have, key, v)
	{
		json_t *w = json_object_get(want, key);
		if (w && json_equal(v, w))
			continue;
		if (w && (volume_opt_is_secret(key) ||
			  strcmp(shown_value(key, v, a, sizeof(a)), shown_value(key, w, b, sizeof(b))) == 0))
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s differs",
						len ? "; " : "", key); /* in a secret */
		else if (w)
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%s%s is `%s`, not `%s`", len ? "; " : "", key,
						shown_value(key, v, a, sizeof(a)),
						shown_value(key, w, b, sizeof(b)));
		else
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
						"%s%s is `%s`, not left out", len ? "; " : "", key,
						shown_value(key, v, a, sizeof(a)));
	}
	json_object_foreach(want, key, v)
	{
		if (json_object_get(have, key))
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s is left out, not `%s`",
					len ? "; " : "", key, shown_value(key, v, a, sizeof(a)));
	}
}

int volume_opts_check_new(const struct volume_opts *o, struct cvol_error *err)
{
	return check_o(o->o, err);
}
