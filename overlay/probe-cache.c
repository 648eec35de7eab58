/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an earlier probe found on a mounted filesystem, kept in /run/cvol/probe/<key> so
 * that a mount on a filesystem already checked makes no probe directory. /run is emptied
 * at boot; the key names the mount (its unique id on 6.8+), the device and the fs id, so
 * another or a reformatted filesystem is probed again. Only root writes or believes it. */
#include "overlay-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U /* Linux 6.8: a mount id never reused in a boot */
#endif

#define CACHE_DEFAULT_PARENT "/run/cvol"
#define CACHE_DEFAULT	     CACHE_DEFAULT_PARENT "/probe"
#define CACHE_MAGIC	     "cvol-probe 1"
#define CACHE_FILE_MAX	     1024

/* The cache directory: CVOL_PROBE_CACHE (an absolute path; anything else, e.g. "off", turns
 * the cache off), else /run/cvol/probe. NULL when there is none: not root, or turned off. */
static const char *cache_dir(void)
{
	const char *env = getenv("CVOL_PROBE_CACHE");

	if (geteuid() != 0)
		return NULL;
	if (!env)
		return CACHE_DEFAULT;
	return *env == '/' ? env : NULL;
}

/* Root's own file or directory, writable by no one else. */
static bool owned_by_root(int fd, mode_t type)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == type && st.st_uid == 0 &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static int cache_dir_open(const char *dir, bool create)
{
	if (create) {
		/* /run/cvol itself is root's and 0700 too; a custom directory gets its parents */
		if (strcmp(dir, CACHE_DEFAULT) == 0) {
			if (mkdir(CACHE_DEFAULT_PARENT, 0700) < 0 && errno != EEXIST)
				return -errno;
			if (mkdir(dir, 0700) < 0 && errno != EEXIST)
				return -errno;
		} else {
			int r = dir_create_parents(dir, 0700, NULL);
			if (r < 0)
				return r;
		}
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!owned_by_root(fd, S_IFDIR)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int probe_cache_key(int dirfd, const struct statfs *sfs, struct probe_cache *ret)
{
	struct statx stx;

	ret->dir = cache_dir();
	if (!ret->dir || (sfs->f_flags & ST_RDONLY))
		return -EOPNOTSUPP; /* a read-only fs is probed afresh: the probe fails as it should */
	if (statx(dirfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID_UNIQUE | STATX_MNT_ID, &stx) <
	    0)
		return -errno;
	/* Only a unique mount id (6.8+) names the filesystem: an older mount id comes back after an
	 * unmount, and a reformatted xfs keeps its device and fsid, so its probe could be believed
	 * for the new filesystem. Without one, every mount probes. */
	char kind = (stx.stx_mask & STATX_MNT_ID_UNIQUE) ? 'u' : 0;
	if (!kind)
		return -EOPNOTSUPP;
	unsigned fsid0, fsid1;
	memcpy(&fsid0, &sfs->f_fsid.__val[0], sizeof(fsid0));
	memcpy(&fsid1, &sfs->f_fsid.__val[1], sizeof(fsid1));
	int n = snprintf(ret->key, sizeof(ret->key), "%c%llx-%x.%x-%08x%08x-%lx", kind,
			 (unsigned long long)stx.stx_mnt_id, stx.stx_dev_major, stx.stx_dev_minor, fsid0,
			 fsid1, (unsigned long)sfs->f_type);
	return n < 0 || (size_t)n >= sizeof(ret->key) ? -ENAMETOOLONG : 0;
}

static const struct {
	const char *name;
	size_t offset;
} cached_fields[] = {
	{ "d_type", offsetof(struct cvol_backing_fs, d_type) },
	{ "xattr_trusted", offsetof(struct cvol_backing_fs, xattr_trusted) },
	{ "xattr_user", offsetof(struct cvol_backing_fs, xattr_user) },
	{ "tmpfile", offsetof(struct cvol_backing_fs, tmpfile) },
	{ "rename_whiteout", offsetof(struct cvol_backing_fs, rename_whiteout) },
};

/* Parse "cvol-probe 1\nkey=<key>\nd_type=0|1\n..." with every field once, in this order. */
static bool cache_parse(char *text, const char *key, struct cvol_backing_fs *fs)
{
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	struct cvol_backing_fs got = *fs;

	if (!line || strcmp(line, CACHE_MAGIC) != 0)
		return false;
	line = strtok_r(NULL, "\n", &save);
	if (!line || strncmp(line, "key=", 4) != 0 || strcmp(line + 4, key) != 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(cached_fields); i++) {
		size_t len = strlen(cached_fields[i].name);
		line = strtok_r(NULL, "\n", &save);
		if (!line || strncmp(line, cached_fields[i].name, len) != 0 || line[len] != '=' ||
		    (line[len + 1] != '0' && line[len + 1] != '1') || line[len + 2] != '\0')
			return false;
		*(bool *)((char *)&got + cached_fields[i].offset) = line[len + 1] == '1';
	}
	if (strtok_r(NULL, "\n", &save))
		return false;
	*fs = got;
	return true;
}

bool probe_cache_load(const struct probe_cache *cache, struct cvol_backing_fs *fs)
{
	const char *dir = cache->dir, *key = cache->key;
	char text[CACHE_FILE_MAX + 1];
	ssize_t len = 0, n;

	_cleanup_close_ int dfd = cache_dir_open(dir, false);
	if (dfd < 0)
		return false;
	_cleanup_close_ int fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || !owned_by_root(fd, S_IFREG))
		return false;
	while ((n = read(fd, text + len, sizeof(text) - 1 - (size_t)len)) > 0)
		len += n;
	if (n < 0 || len >= CACHE_FILE_MAX)
		return false;
	text[len] = '\0';
	if (!cache_parse(text, key, fs)) {
		log_debug(CVOL_LOG_OVERLAY, "probe cache `%s/%s` does not parse: probing afresh", dir, key);
		return false;
	}
	log_debug(CVOL_LOG_OVERLAY, "backing fs from the probe cache `%s/%s`", dir, key);
	return true;
}

/* Everything an upper needs worked: only such an answer is kept. A failure may be passing
 * (ENOSPC, EDQUOT on the probe's own writes), so an unfit filesystem is probed again. */
static bool probe_is_fit(const struct cvol_backing_fs *fs)
{
	return !fs->is_overlay && fs->d_type && fs->tmpfile && fs->rename_whiteout &&
	       (fs->xattr_trusted || fs->xattr_user);
}

void probe_cache_store(const struct probe_cache *cache, const struct cvol_backing_fs *fs)
{
	const char *dir = cache->dir, *key = cache->key;
	char text[CACHE_FILE_MAX];
	size_t len;
	int n;

	if (!probe_is_fit(fs)) {
		_cleanup_close_ int dfd = cache_dir_open(dir, false);
		if (dfd >= 0)
			(void)unlinkat(dfd, key, 0);
		return;
	}
	n = snprintf(text, sizeof(text), CACHE_MAGIC "\nkey=%s\n", key);
	for (size_t i = 0; n > 0 && i < ARRAY_SIZE(cached_fields); i++) {
		len = (size_t)n;
		if (len >= sizeof(text))
			return;
		bool v = *(const bool *)((const char *)fs + cached_fields[i].offset);
		n += snprintf(text + len, sizeof(text) - len, "%s=%d\n", cached_fields[i].name, v);
	}
	if (n <= 0 || (size_t)n >= sizeof(text))
		return;
	_cleanup_close_ int dfd = cache_dir_open(dir, true);
	if (dfd < 0) {
		log_debug(CVOL_LOG_OVERLAY, "no probe cache in `%s`: %s", dir, strerror(-dfd));
		return;
	}
	struct cvol_error err = { 0 };
	if (file_write_atomic(dfd, key, text, (size_t)n, &err) < 0)
		log_debug(CVOL_LOG_OVERLAY, "probe cache `%s`: %s", dir, err.msg);
}
