/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mount-opts.h"

#include <errno.h>
#include <stdbool.h>

static int opts_append(char *buf, size_t size, size_t *len, const char *s, bool escape)
{
	size_t n = *len;

	for (; *s; s++) {
		bool special = escape && (*s == '\\' || *s == ',' || *s == ':');
		if (n + (special ? 2 : 1) >= size) {
			if (*len < size)
				buf[*len] = '\0'; /* refused: leave the text as it was */
			return -E2BIG;
		}
		if (special)
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

int mount_opts_append_escaped(char *buf, size_t size, size_t *len, const char *s)
{
	return opts_append(buf, size, len, s, true);
}

int mount_opts_append(char *buf, size_t size, size_t *len, const char *s)
{
	return opts_append(buf, size, len, s, false);
}

int mount_opts_add(char *buf, size_t size, size_t *len, const char *key, const char *value)
{
	size_t start = *len;
	int r = mount_opts_append(buf, size, len, *len ? "," : "");
	if (r == 0)
		r = mount_opts_append(buf, size, len, key);
	if (r == 0 && value)
		r = mount_opts_append(buf, size, len, "=");
	if (r == 0 && value)
		r = mount_opts_append_escaped(buf, size, len, value);
	if (r < 0 && start < size) {
		buf[start] = '\0'; /* all of the option or none of it */
		*len = start;
	}
	return r;
}
