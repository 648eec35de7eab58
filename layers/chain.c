/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Short link names and parent chains ("l/<short>:l/<short>...", top first). */
#include "layers-internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char shortid_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

int shortid_generate(char *buf)
{
	unsigned char rnd[CVOL_SHORTID_LEN];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno;
	for (size_t i = 0; i < CVOL_SHORTID_LEN; i++)
		buf[i] = shortid_alphabet[rnd[i] % (sizeof(shortid_alphabet) - 1)];
	buf[CVOL_SHORTID_LEN] = '\0';
	return 0;
}

bool shortid_is_valid(const char *s)
{
	return strlen(s) == CVOL_SHORTID_LEN && strspn(s, shortid_alphabet) == CVOL_SHORTID_LEN;
}

int chain_for_child(const char *parent_link, const char *parent_lower, char **ret_lower)
{
	char *lower = NULL;
	int n;

	if (!shortid_is_valid(parent_link))
		return -EINVAL;
	if (parent_lower && *parent_lower)
		n = asprintf(&lower, "l/%s:%s", parent_link, parent_lower);
	else
		n = asprintf(&lower, "l/%s", parent_link);
	if (n < 0)
		return -ENOMEM;
	*ret_lower = lower;
	return 0;
}

int chain_parse(const char *text, char ***ret_entries)
{
	_cleanup_strv_free_ char **entries = NULL;

	if (*text == '\0') {
		entries = calloc(1, sizeof(char *));
		if (!entries)
			return -ENOMEM;
		*ret_entries = TAKE_PTR(entries);
		return 0;
	}
	int r = strv_split(text, ':', &entries);
	if (r < 0)
		return r;
	for (char **e = entries; *e; e++)
		if (strncmp(*e, "l/", 2) != 0 || !shortid_is_valid(*e + 2))
			return -EBADMSG;
	*ret_entries = TAKE_PTR(entries);
	return 0;
}
