/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors of the libraries: a real errno and one line that names the operation. */
#pragma once

#include "macro.h"

#define CVOL_ERROR_MSG_MAX 1024

struct cvol_error {
	int code;		      /* positive errno; 0 when no error */
	char msg[CVOL_ERROR_MSG_MAX]; /* "operation `path`: strerror" */
};

/* Fill @err with the message and strerror(@errnum); returns -@errnum. */
int cvol_error_set(struct cvol_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Fill @err with the message only, no strerror; returns -@errnum. */
int cvol_error_setx(struct cvol_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Prefix the message in @err with context; returns -err->code. */
int cvol_error_wrap(struct cvol_error *err, const char *fmt, ...) _printf_(2, 3);
/* Reset @err to "no error". */
void cvol_error_clear(struct cvol_error *err);
