/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Volume options (`docker volume create -o`): any JSON is parsed or refused with a reason, never
 * crashes, and options Create accepts give their backend a mount source, type and option string
 * (mount_args touches nothing) with no newline in it. */
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
	/* what Create accepts (a stored volume is loaded with the parse alone, so that one made by
	 * an earlier version can still be removed) */
	int r = volume_opts_parse(options, &o, &err);
	if (r == 0)
		r = volume_opts_check_new(&o, &err);
	if (r == 0)
		check_mount_args(&o);
	else if (err.code == 0 || !err.msg[0])
		abort(); /* a refusal always says why */
	json_decref(options);
	return 0;
}
