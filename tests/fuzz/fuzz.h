/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libFuzzer harnesses share: splitting an input into strings, a scratch dir. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a NUL-terminated string (malloc'd; NULs inside are kept, so C sees a prefix). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Split @data at @sep into at most @max strings in @out (malloc'd, NULL-terminated); returns count. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, char sep, char **out, size_t max)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n + 1 < max; i++) {
		if (i == size || data[i] == (uint8_t)sep) {
			out[n] = malloc(i - start + 1);
			if (!out[n])
				break;
			memcpy(out[n], data + start, i - start);
			out[n][i - start] = '\0';
			n++;
			start = i + 1;
		}
	}
	out[n] = NULL;
	return n;
}

static inline void fuzz_free_strings(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
}
