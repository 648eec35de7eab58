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

/* ---- a scratch directory per test ------------------------------------------------------ */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"

/* A fresh directory under /tmp, removed after the test (cmocka setup/teardown state). */
struct unit_dir {
	char top[64]; /* the mkdtemp() directory */
	int fd;	      /* directory fd on top */
};

/* cmocka setup: make the scratch directory. */
static inline int unit_dir_setup(void **state)
{
	struct unit_dir *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/cvol-unit.XXXXXX");
	if (!mkdtemp(f->top))
		return -1;
	f->fd = open(f->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->fd < 0)
		return -1;
	*state = f;
	return 0;
}

/* cmocka teardown: remove the scratch directory and all in it. */
static inline int unit_dir_teardown(void **state)
{
	struct unit_dir *f = *state;

	close(f->fd);
	(void)dir_remove_tree(AT_FDCWD, f->top, NULL);
	free(f);
	return 0;
}

/* Skip the test, saying why, unless it runs as root. */
static inline void unit_require_root(const char *why)
{
	if (geteuid() != 0) {
		print_message("needs root (%s)\n", why);
		skip();
	}
}

/* Open (making it) the directory @name under @dirfd. */
static inline int unit_make_dir(int dirfd, const char *name)
{
	assert_int_equal(mkdirat(dirfd, name, 0755), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}
