/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cvol-mount's command line: the input split at NUL bytes is argv; parsed or refused. */
#include "../../cmd/mount-args.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[66];
	struct mount_args a;
	struct cvol_error err = { 0 };

	argv[0] = (char *)"cvol-mount";
	size_t n = fuzz_split(data, size, '\0', argv + 1, 64);
	if (mount_args_parse((int)n + 1, argv, &a, &err) == 0)
		mount_args_done(&a);
	else if (!err.msg[0])
		abort();
	fuzz_free_strings(argv + 1);
	return 0;
}
