/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image metadata: the input is the `manifest.json` of a `docker save` directory (first byte
 * even) or the `index.json` of an OCI layout (odd), the rest of the image missing or as the
 * input names it. Import refuses it with a reason or imports nothing harmful; never crashes. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../image/image.h"
#include "fuzz.h"

static char top[64];
static struct cvol_layer_store *store;

static void scratch_remove(void)
{
	cvol_layer_store_close(store);
	(void)dir_remove_tree(AT_FDCWD, top, NULL);
}

static void scratch_make(void)
{
	char path[128];
	struct cvol_error err = { 0 };
	snprintf(top, sizeof(top), "/tmp/cvol-fuzz-image.XXXXXX");
	if (!mkdtemp(top))
		abort();
	snprintf(path, sizeof(path), "%s/store", top);
	if (cvol_layer_store_open(path, &store, &err) < 0)
		abort();
	atexit(scratch_remove);
}

static void write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/img/%s", top, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char img[128];
	char *top_id = NULL;
	struct cvol_error err = { 0 };

	if (size < 1)
		return 0;
	if (!store)
		scratch_make();
	snprintf(img, sizeof(img), "%s/img", top);
	(void)dir_remove_tree(AT_FDCWD, img, NULL);
	if (mkdir(img, 0755) < 0)
		abort();
	if (data[0] % 2 == 0) {
		write_file("manifest.json", data + 1, size - 1);
	} else {
		write_file("index.json", data + 1, size - 1);
		write_file("oci-layout", (const uint8_t *)"{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	}
	if (cvol_image_import(store, img, NULL, NULL, &top_id, &err) == 0)
		free(top_id);
	else if (!err.msg[0])
		abort();
	return 0;
}
