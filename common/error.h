/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors of the libraries: a real errno and one line that names the operation.
 *
 * Every function taking `struct cvol_error *err` accepts err == NULL: to ignore an
 * error, write `(void)f(..., NULL);` (no throw-away `struct cvol_error`).
 *
 * A message that does not fit in CVOL_ERROR_MSG_MAX loses its middle, marked "…":
 * the outermost context (the start) and the root cause (the end, with strerror) stay. */
#pragma once

#include "macro.h"

#define CVOL_ERROR_MSG_MAX 1024

struct cvol_error {
	int code;		      /* positive errno; 0 when no error */
	char msg[CVOL_ERROR_MSG_MAX]; /* "operation `path`: strerror" */
};

/* Fill @err with the message and strerror(@errnum); returns -@errnum.
 * @errnum may be given negative; 0 is not an errno and becomes EIO. */
int cvol_error_set(struct cvol_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Fill @err with the message only, no strerror; returns -@errnum. */
int cvol_error_setx(struct cvol_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Prefix the message in @err with context, after a callee failed with @r (its -errno):
 *   r = f(..., err); if (r < 0) return cvol_error_wrap(err, r, "open `%s`", path);
 * Returns @r and sets err->code = -@r, so `ret == -err->code` holds, and @r comes back
 * even when @err is NULL. Wrapping with r >= 0 is a caller bug: then the code already in
 * @err is kept, or EIO when there is none. An empty message becomes strerror(code). */
int cvol_error_wrap(struct cvol_error *err, int r, const char *fmt, ...) _printf_(3, 4);
/* Reset @err to "no error". */
void cvol_error_clear(struct cvol_error *err);
