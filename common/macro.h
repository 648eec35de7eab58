/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cleanup attributes and ownership helpers, after systemd's alloc-util.h. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)	 __attribute__((cleanup(f)))
#define _cleanup_free_	 _cleanup_(cvol_freep)
#define _cleanup_close_	 _cleanup_(cvol_closep)
#define _cleanup_fclose_ _cleanup_(cvol_fclosep)
#define _unused_	 __attribute__((unused))
#define _printf_(a, b)	 __attribute__((format(printf, a, b)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand out ownership: returns the value and leaves the variable empty. */
#define TAKE_PTR(p)                                                                                          \
	({                                                                                                   \
		__typeof__(p) _p = (p);                                                                      \
		(p) = NULL;                                                                                  \
		_p;                                                                                          \
	})
#define TAKE_FD(fd)                                                                                          \
	({                                                                                                   \
		int _fd = (fd);                                                                              \
		(fd) = -1;                                                                                   \
		_fd;                                                                                         \
	})

static inline void cvol_freep(void *p)
{
	free(*(void **)p);
}

static inline void cvol_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cvol_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Free a NULL-terminated array of strings. */
void cvol_strv_free(char **v);
static inline void cvol_strv_freep(char ***v)
{
	cvol_strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(cvol_strv_freep)
