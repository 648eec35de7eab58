/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Extra overlay options, and overlay's mount(2) data string (built with common/mount-opts.h). */
#include "overlay-internal.h"

#include <string.h>

static const struct {
	const char *key;
	const char *values; /* '|'-separated; NULL for a flag */
} known_options[] = {
	{ "volatile", NULL },		{ "userxattr", NULL },
	{ "metacopy", "on|off" },	{ "redirect_dir", "on|off|follow|nofollow" },
	{ "index", "on|off" },		{ "xino", "on|off|auto" },
	{ "nfs_export", "on|off" },	{ "uuid", "on|off|null|auto" },
	{ "verity", "on|off|require" },
};

static bool value_in_list(const char *value, const char *list)
{
	size_t len = strlen(value);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, "|");
		if (n == len && strncmp(p, value, n) == 0)
			return true;
		p += n;
		if (*p == '|')
			p++;
	}
	return false;
}

static void list_known_options(char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(known_options) && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s%s%s", i ? ", " : "",
					known_options[i].key, known_options[i].values ? "=" : "",
					known_options[i].values ? known_options[i].values : "");
}

int cvol_overlay_option_check(const char *option, struct cvol_error *err)
{
	const char *eq = strchr(option, '=');
	size_t keylen = eq ? (size_t)(eq - option) : strlen(option);
	char known[512];

	for (size_t i = 0; i < ARRAY_SIZE(known_options); i++) {
		if (strlen(known_options[i].key) != keylen ||
		    strncmp(known_options[i].key, option, keylen) != 0)
			continue;
		if (!known_options[i].values && !eq)
			return 0;
		if (!known_options[i].values)
			return cvol_error_setx(err, EINVAL, "overlay option `%s` takes no value",
					       known_options[i].key);
		if (eq && value_in_list(eq + 1, known_options[i].values))
			return 0;
		return cvol_error_setx(err, EINVAL, "overlay option `%s` needs one of %s", option,
				       known_options[i].values);
	}
	list_known_options(known, sizeof(known));
	return cvol_error_setx(err, EINVAL, "unknown overlay option `%s` (known: %s)", option, known);
}

int overlay_data_build(const struct cvol_overlay_config *cfg, const char *work, char *buf, size_t size,
		       struct cvol_error *err)
{
	size_t len = 0;
	int r;

	if (size == 0)
		return cvol_error_setx(err, E2BIG, "no room for mount options");
	buf[0] = '\0';
	r = mount_opts_append(buf, size, &len, "lowerdir=");
	for (size_t i = 0; r == 0 && cfg->lowers[i]; i++) {
		if (i > 0)
			r = mount_opts_append(buf, size, &len, ":");
		if (r == 0)
			r = mount_opts_append_escaped(buf, size, &len, cfg->lowers[i]);
	}
	if (r == 0 && cfg->upper)
		r = mount_opts_add(buf, size, &len, "upperdir", cfg->upper);
	if (r == 0 && cfg->upper)
		r = mount_opts_add(buf, size, &len, "workdir", work);
	for (size_t i = 0; r == 0 && cfg->options && cfg->options[i]; i++) {
		r = mount_opts_append(buf, size, &len, ",");
		if (r == 0)
			r = mount_opts_append(buf, size, &len, cfg->options[i]);
	}
	if (r < 0)
		return cvol_error_setx(err, E2BIG,
				       "the mount options for %zu lower layers do not fit in the %zu bytes "
				       "mount(2) takes; this kernel lacks lowerdir+ (Linux 6.8+)",
				       strv_length(cfg->lowers), size - 1);
	return 0;
}
