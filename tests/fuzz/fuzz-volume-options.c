/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume options (`docker volume create -o`): any JSON is parsed or refused with a reason, never
 * crashes, and accepted options give their backend a mount source, type and option string
 * (mount_args touches nothing) in which no user string adds an option. */
#include <jansson.h>

#include "../../volumes/volumes-internal.h"
#include "fuzz.h"

static void check_mount_args(const struct volume_opts *o)
{
	struct volume v = {
		.dir = (char *)"/v", .data = (char *)"/v/_data", .dirfd = -1, .lock_fd = -1, .opts = *o
	};
	struct volume_mount m;
	struct cvol_error err = { 0 };

	v.ops = volume_backend_ops(o->backend);
	if (!v.ops)
		abort(); /* every parsed backend has its operations */
	if (v.ops->mount_args(&v, &m, &err) == 0 && strchr(m.options, '\n'))
		abort(); /* a newline never reaches libmount */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *options = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct volume_opts o;
	struct cvol_error err = { 0 };

	if (!options || !json_is_object(options)) {
		json_decref(options);
		return 0;
	}
	if (volume_opts_parse(options, &o, &err) == 0)
		check_mount_args(&o);
	else if (err.code == 0 || !err.msg[0])
		abort(); /* a refusal always says why */
	json_decref(options);
	return 0;
}
