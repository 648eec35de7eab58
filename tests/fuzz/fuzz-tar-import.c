/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer tar import (what an image holds is written by attackers): any archive is unpacked into
 * the layer or refused. The oracle: nothing outside the layer directory changed. The scratch
 * tree is <tmp>/outside/{file,dir/,link->..} beside <tmp>/layer; the layer is emptied after each
 * input, and outside/ must list and read the same as before. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../layers/layers-internal.h"
#include "fuzz.h"

static char top[64];
static int layer_parent_fd = -1;

/* A fingerprint of outside/: names, types, sizes and the sentinel's content. */
static void outside_fingerprint(char *buf, size_t size)
{
	char path[128];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/outside", top);
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st;
	if (!d)
		abort();
	while ((de = readdir(d)) && len + 300 < size) {
		if (strcmp(de->d_name, "..") == 0) /* the scratch dir, where the layer comes and goes */
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			abort();
		len += (size_t)snprintf(buf + len, size - len, "%s:%o:%lld:%lld.%09ld;", de->d_name,
					st.st_mode, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
					st.st_mtim.tv_nsec);
	}
	closedir(d);
	buf[len] = '\0';
}

static void scratch_remove(void)
{
	(void)dir_remove_tree(AT_FDCWD, top, NULL);
}

static void scratch_make(void)
{
	char path[128];
	snprintf(top, sizeof(top), "/tmp/cvol-fuzz-tar.XXXXXX");
	if (!mkdtemp(top))
		abort();
	snprintf(path, sizeof(path), "%s/outside", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/outside/file", top);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "sentinel\n", 9) != 9)
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/outside/dir", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/outside/link", top);
	(void)symlink("..", path);
	layer_parent_fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (layer_parent_fd < 0)
		abort();
	atexit(scratch_remove);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char before[8192];
	char after[8192];
	struct cvol_error err = { 0 };
	struct cvol_tar_stats stats;

	if (!top[0]) {
		scratch_make();
		outside_fingerprint(before, sizeof(before));
	}
	int archive = memfd_create("tar", MFD_CLOEXEC);
	if (archive < 0 || write(archive, data, size) != (ssize_t)size || lseek(archive, 0, SEEK_SET) != 0)
		abort();
	if (mkdirat(layer_parent_fd, "layer", 0755) < 0)
		abort();
	int layer = openat(layer_parent_fd, "layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (layer < 0)
		abort();
	(void)tar_import(layer, archive, false, &stats, &err);
	close(layer);
	close(archive);
	if (dir_remove_tree(layer_parent_fd, "layer", &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		abort(); /* the layer holds only what import made: it can always go */
	}
	outside_fingerprint(after, sizeof(after));
	if (strcmp(before, after) != 0) {
		fprintf(stderr, "outside changed:\n%s\n%s\n", before, after);
		abort(); /* the import changed something outside the layer */
	}
	return 0;
}
