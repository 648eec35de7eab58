/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plugin's handlers on a real volume store in a scratch directory: the input is a path and
 * a body ("PATH\nBODY"), as dockerd would send them. Every answer is a status with JSON, an
 * error status always with a non-empty Err. Volumes it makes are directories (read-only ones are
 * bind mounts), in its own mount namespace when root, so nothing it mounts is seen outside. */
#define _GNU_SOURCE
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../plugin/plugin.h"
#include "fuzz.h"

static struct cvol_volume_store *store;
static char top[64];

static void store_remove(void)
{
	cvol_volume_store_close(store);
	(void)dir_remove_tree(AT_FDCWD, top, NULL);
}

static void store_make(void)
{
	struct cvol_error err = { 0 };

	if (geteuid() == 0 &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
		abort();
	snprintf(top, sizeof(top), "/tmp/cvol-fuzz-plugin.XXXXXX");
	if (!mkdtemp(top) || cvol_volume_store_open(top, &store, &err) < 0)
		abort();
	atexit(store_remove);
}

static void check_reply(unsigned status, const char *reply)
{
	json_t *doc = json_loads(reply, 0, NULL);
	if (!doc || !json_is_object(doc))
		abort(); /* always JSON */
	const char *e = json_string_value(json_object_get(doc, "Err"));
	if (status != 200 && (!e || !*e))
		abort(); /* an error always says why */
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cvol_plugin_config cfg = { .root = "/nonexistent" };
	const uint8_t *nl = memchr(data, '\n', size);
	char *reply = NULL;

	if (!store)
		store_make();
	if (!nl)
		return 0;
	char *path = fuzz_string(data, (size_t)(nl - data));
	const char *body = (const char *)nl + 1;
	size_t len = size - (size_t)(nl - data) - 1;
	/* directory volumes only: loop images run mkfs, binds touch the host, mounts pile up */
	if (path && !memmem(body, len, "size", 4) && !memmem(body, len, "type", 4) &&
	    !memmem(body, len, "device", 6)) {
		unsigned status = cvol_plugin_handle(store, &cfg, path, body, len, &reply);
		check_reply(status, reply);
	}
	free(reply);
	free(path);
	return 0;
}
