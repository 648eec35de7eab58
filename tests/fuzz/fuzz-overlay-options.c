/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The overlay data string of mount(2): built from layer paths and extra options, then read back
 * with the kernel's own rules (fs/overlayfs/params.c: options split at ',' and lowerdir at ':',
 * each unless escaped by '\', escapes then removed). The oracle: what the kernel would read is
 * exactly what was given, so no path, however written, adds or changes an option.
 * Input lines: the upper dir, the work dir, then extra options and lower dirs ("o:" marks an
 * option). */
#include "../../overlay/overlay-internal.h"
#include "fuzz.h"

#define MAX_PARTS 64

/* The next item of @s up to an unescaped @sep, unescaped into @out; returns where it ended. */
static const char *next_item(const char *s, char sep, char *out)
{
	for (; *s && *s != sep; s++) {
		if (*s == '\\') {
			if (!s[1])
				break;
			s++;
		}
		*out++ = *s;
	}
	*out = '\0';
	return s;
}

/* Split the raw option string at unescaped commas, keeping the escapes (as the kernel's
 * ovl_next_opt does); each piece into @out. */
static size_t split_options(const char *s, char **out, size_t max)
{
	size_t n = 0;
	while (n < max) {
		const char *start = s;
		for (; *s && *s != ','; s++)
			if (*s == '\\' && s[1])
				s++;
		out[n++] = strndup(start, (size_t)(s - start));
		if (!*s)
			break;
		s++;
	}
	return n;
}

static void check_round_trip(const char *data, char **lowers, const char *upper, const char *work,
			     char **extra)
{
	char *opts[MAX_PARTS * 2];
	char *item = malloc(strlen(data) + 1);
	size_t n = split_options(data, opts, MAX_PARTS * 2), want = 3 + strv_length(extra), i = 0;

	if (!item || n != want || strncmp(opts[0], "lowerdir=", 9) != 0)
		abort();
	const char *p = opts[0] + 9;
	for (; lowers[i]; i++) { /* lowerdir=A:B:... */
		p = next_item(p, ':', item);
		if (strcmp(item, lowers[i]) != 0 || (lowers[i + 1] ? *p != ':' : *p != '\0'))
			abort();
		p += *p ? 1 : 0;
	}
	next_item(opts[1] + 9, '\0', item);
	if (strncmp(opts[1], "upperdir=", 9) != 0 || strcmp(item, upper) != 0)
		abort();
	next_item(opts[2] + 8, '\0', item);
	if (strncmp(opts[2], "workdir=", 8) != 0 || strcmp(item, work) != 0)
		abort();
	for (i = 0; extra[i]; i++)
		if (strcmp(opts[3 + i], extra[i]) != 0)
			abort();
	for (i = 0; i < n; i++)
		free(opts[i]);
	free(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *parts[MAX_PARTS + 1], *lowers[MAX_PARTS + 1], *extra[MAX_PARTS + 1];
	size_t n = fuzz_split(data, size, '\n', parts, MAX_PARTS + 1), nl = 0, ne = 0;
	struct cvol_error err = { 0 };
	char buf[4096];

	for (size_t i = 2; i < n; i++) {
		if (strncmp(parts[i], "o:", 2) == 0) {
			if (cvol_overlay_option_check(parts[i] + 2, &err) == 0)
				extra[ne++] = parts[i] + 2;
		} else if (parts[i][0]) {
			lowers[nl++] = parts[i];
		}
	}
	lowers[nl] = extra[ne] = NULL;
	if (n >= 2 && nl > 0 && parts[0][0] && parts[1][0]) {
		struct cvol_overlay_config cfg = { .lowers = lowers, .upper = parts[0], .options = extra };
		if (overlay_data_build(&cfg, parts[1], buf, sizeof(buf), &err) == 0)
			check_round_trip(buf, lowers, parts[0], parts[1], extra);
	}
	fuzz_free_strings(parts);
	return 0;
}
