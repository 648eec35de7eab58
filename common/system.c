/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "system.h"
#include "macro.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char boot_id_text[40];

static void read_boot_id(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f && fgets(boot_id_text, sizeof(boot_id_text), f))
		boot_id_text[strcspn(boot_id_text, "\n")] = '\0';
}

const char *boot_id(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, read_boot_id);
	return boot_id_text;
}

int mount_ns_self(uint64_t *ret_ino)
{
	struct stat st;
	if (stat("/proc/self/ns/mnt", &st) < 0)
		return -errno;
	*ret_ino = (uint64_t)st.st_ino;
	return 0;
}

bool mount_ns_is_alive(uint64_t ino)
{
	char want[64], link[64], path[64];
	snprintf(want, sizeof(want), "mnt:[%" PRIu64 "]", ino);
	DIR *proc = opendir("/proc");
	if (!proc)
		return true; /* cannot tell: assume it lives, as a reference must fail safe */
	bool alive = false;
	struct dirent *de;
	while (!alive && (de = readdir(proc))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/ns/mnt", de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			alive = strcmp(link, want) == 0;
		}
	}
	closedir(proc);
	return alive;
}
