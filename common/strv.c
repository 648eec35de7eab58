/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "strv.h"

#include <string.h>

void cvol_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int strv_push(char ***v, const char *s)
{
	size_t n = strv_length(*v);
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	char **grown = realloc(*v, (n + 2) * sizeof(char *));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	grown[n] = copy;
	grown[n + 1] = NULL;
	*v = grown;
	return 0;
}

int strv_split(const char *s, char sep, char ***ret_v)
{
	_cleanup_strv_free_ char **v = calloc(1, sizeof(char *));
	_cleanup_free_ char *part = malloc(strlen(s) + 1);
	if (!v || !part)
		return -ENOMEM;

	size_t len = 0;
	for (const char *p = s;; p++) {
		if (*p == '\\' && (p[1] == sep || p[1] == '\\')) {
			part[len++] = *++p;
			continue;
		}
		if (*p != sep && *p != '\0') {
			part[len++] = *p;
			continue;
		}
		part[len] = '\0';
		if (strv_push(&v, part) < 0)
			return -ENOMEM;
		len = 0;
		if (*p == '\0')
			break;
	}
	*ret_v = TAKE_PTR(v);
	return 0;
}

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool name_is_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > 255 || !is_ascii_alnum(name[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = name[i];
		if (!is_ascii_alnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}
