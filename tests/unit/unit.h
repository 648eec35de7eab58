/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every unit test includes: cmocka in the order it needs, and a substring check. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

/* Fail unless @haystack contains @needle, printing both. */
#define assert_contains(haystack, needle)                                                                    \
	do {                                                                                                 \
		const char *_h = (haystack), *_n = (needle);                                                 \
		if (!_h || !strstr(_h, _n))                                                                  \
			fail_msg("`%s` does not contain `%s`", _h ? _h : "(null)", _n);                      \
	} while (0)
