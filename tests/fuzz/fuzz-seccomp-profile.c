/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Docker JSON seccomp profiles (`cvol-mount --exec --seccomp FILE`): built or refused, never
 * loaded here. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "../../runtime/runtime.h"
#include "fuzz.h"

static char path[64];

static void profile_remove(void)
{
	(void)unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvol_error err = { 0 };
	void *filter = NULL;

	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/cvol-fuzz-seccomp.%d.json", (int)getpid());
		atexit(profile_remove);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (cvol_seccomp_build(path, &filter, &err) == 0)
		cvol_seccomp_free(filter);
	else if (!err.msg[0])
		abort();
	return 0;
}
