/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the backing filesystem and the kernel can do, found out before any mount. */
#include "overlay-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>

#define PROBE_FILE  "f"
#define PROBE_MOVED "g"

static const struct {
	unsigned long magic;
	const char *name;
} fs_names[] = {
	{ EXT4_SUPER_MAGIC, "ext4" },
	{ XFS_SUPER_MAGIC, "xfs" },
	{ BTRFS_SUPER_MAGIC, "btrfs" },
	{ TMPFS_MAGIC, "tmpfs" },
	{ OVERLAYFS_SUPER_MAGIC, "overlay" },
	{ NFS_SUPER_MAGIC, "nfs" },
	{ F2FS_SUPER_MAGIC, "f2fs" },
	{ 0x2fc12fc1, "zfs" },
	{ FUSE_SUPER_MAGIC, "fuse" },
	{ SQUASHFS_MAGIC, "squashfs" },
	{ 0x01021997, "v9fs" },
	{ 0x786f4256, "virtiofs" },
	{ 0xFF534D42, "cifs" },
	{ RAMFS_MAGIC, "ramfs" },
};

static void name_fs_type(unsigned long magic, char *buf, size_t size)
{
	for (size_t i = 0; i < ARRAY_SIZE(fs_names); i++)
		if (fs_names[i].magic == magic) {
			snprintf(buf, size, "%s", fs_names[i].name);
			return;
		}
	snprintf(buf, size, "0x%lx", magic);
}

/* Read the probe directory back with getdents64 and find PROBE_FILE's d_type. */
static int read_probe_d_type(int dfd, unsigned char *ret_type)
{
	char buf[4096] __attribute__((aligned(8)));

	if (lseek(dfd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOENT;
		for (long off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			if (strcmp(de->d_name, PROBE_FILE) == 0) {
				*ret_type = de->d_type;
				return 0;
			}
			off += de->d_reclen;
		}
	}
}

static bool can_set_xattr(int fd, const char *name)
{
	if (fsetxattr(fd, name, "1", 1, 0) < 0)
		return false;
	fremovexattr(fd, name);
	return true;
}

static bool can_make_tmpfile(int dfd)
{
	int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool can_rename_whiteout(int dfd)
{
	struct stat st;

	if (renameat2(dfd, PROBE_FILE, dfd, PROBE_MOVED, RENAME_WHITEOUT) < 0)
		return false;
	bool ok = fstatat(dfd, PROBE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
		  st.st_rdev == 0;
	unlinkat(dfd, PROBE_FILE, 0);
	renameat(dfd, PROBE_MOVED, dfd, PROBE_FILE);
	return ok;
}

/* Run the file-level probes inside the fresh directory @dfd. */
static int probe_in_dir(int dfd, const char *path, struct cvol_backing_fs *fs, struct cvol_error *err)
{
	unsigned char d_type = DT_UNKNOWN;

	_cleanup_close_ int fd = openat(dfd, PROBE_FILE, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cvol_error_set(err, errno, "create a probe file in `%s`", path);
	int r = read_probe_d_type(dfd, &d_type);
	if (r < 0)
		return cvol_error_set(err, -r, "read back the probe directory in `%s`", path);
	fs->d_type = d_type != DT_UNKNOWN;
	fs->xattr_trusted = can_set_xattr(fd, "trusted.overlay.cvol-probe");
	fs->xattr_user = can_set_xattr(fd, "user.overlay.cvol-probe");
	fs->tmpfile = can_make_tmpfile(dfd);
	fs->rename_whiteout = can_rename_whiteout(dfd);
	return 0;
}

static int make_probe_dir(int dirfd, char *name, size_t size)
{
	uint32_t rnd = 0;

	for (int tries = 0; tries < 16; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) < 0)
			rnd = (uint32_t)getpid() + (uint32_t)tries;
		snprintf(name, size, ".cvol-probe-%08x", rnd);
		if (mkdirat(dirfd, name, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Probe the filesystem of @dirfd; with @use_cache, take an earlier probe of the same mounted
 * filesystem from the probe cache. A fresh probe always refreshes the cache. */
static int backing_fs_probe(int dirfd, const char *path, bool use_cache, struct cvol_backing_fs *ret_fs,
			    struct cvol_error *err)
{
	struct cvol_backing_fs fs = { 0 };
	struct statfs sfs;
	struct probe_cache cache;
	char name[64];

	if (fstatfs(dirfd, &sfs) < 0)
		return cvol_error_set(err, errno, "statfs `%s`", path);
	name_fs_type((unsigned long)sfs.f_type, fs.type, sizeof(fs.type));
	fs.is_overlay = sfs.f_type == OVERLAYFS_SUPER_MAGIC;

	bool cacheable = probe_cache_key(dirfd, &sfs, &cache) == 0;
	if (use_cache && cacheable && probe_cache_load(&cache, &fs)) {
		*ret_fs = fs;
		return 0;
	}

	int r = make_probe_dir(dirfd, name, sizeof(name));
	if (r < 0)
		return cvol_error_set(err, -r, "create a probe directory in `%s`", path);
	_cleanup_close_ int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		r = cvol_error_set(err, errno, "open the probe directory in `%s`", path);
	else
		r = probe_in_dir(dfd, path, &fs, err);
	(void)dir_remove_tree(dirfd, name, NULL);
	if (r < 0)
		return r;
	if (cacheable)
		probe_cache_store(&cache, &fs);
	*ret_fs = fs;
	return 0;
}

int cvol_backing_fs_probe_fd(int dirfd, const char *path, struct cvol_backing_fs *ret_fs,
			     struct cvol_error *err)
{
	return backing_fs_probe(dirfd, path, false, ret_fs, err);
}

int cvol_backing_fs_probe_cached(int dirfd, const char *path, struct cvol_backing_fs *ret_fs,
				 struct cvol_error *err)
{
	return backing_fs_probe(dirfd, path, true, ret_fs, err);
}

int cvol_backing_fs_probe(const char *path, struct cvol_backing_fs *ret_fs, struct cvol_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", path);
	return cvol_backing_fs_probe_fd(fd, path, ret_fs, err);
}

int cvol_backing_fs_check(const struct cvol_backing_fs *fs, const char *path, bool userxattr,
			  struct cvol_error *err)
{
	if (fs->is_overlay)
		return cvol_error_setx(err, EINVAL,
				       "`%s` is on overlayfs, which cannot hold an upper layer: "
				       "use a directory on ext4, xfs or btrfs",
				       path);
	if (!fs->d_type)
		return cvol_error_setx(err, EINVAL,
				       "`%s` (%s) does not report file types (d_type): overlay needs them; "
				       "reformat it (xfs: mkfs.xfs -n ftype=1, ext4: mkfs.ext4 -O filetype)",
				       path, fs->type);
	if (userxattr ? !fs->xattr_user : !fs->xattr_trusted)
		return cvol_error_setx(err, EOPNOTSUPP,
				       "`%s` (%s) cannot store %s.* xattrs, which overlay needs", path,
				       fs->type, userxattr ? "user" : "trusted");
	if (!fs->tmpfile)
		return cvol_error_setx(err, EOPNOTSUPP,
				       "`%s` (%s) does not support O_TMPFILE, which overlay needs", path,
				       fs->type);
	if (!fs->rename_whiteout)
		return cvol_error_setx(
			err, EOPNOTSUPP,
			"`%s` (%s) does not support renameat2(RENAME_WHITEOUT), which overlay needs", path,
			fs->type);
	return 0;
}

/* ---- kernel features ------------------------------------------------------ */

const char *cvol_mount_api_name(enum cvol_mount_api api)
{
	switch (api) {
	case CVOL_MOUNT_API_FD:
		return "fsopen, lowerdir+ by fd";
	case CVOL_MOUNT_API_STRING:
		return "fsopen, lowerdir+ by path";
	case CVOL_MOUNT_API_LEGACY:
		break;
	}
	return "mount(2)";
}

/* CVOL_MOUNT_API=legacy|string|fd picks an API at or below what the kernel has. */
static int mount_api_override(enum cvol_mount_api best, enum cvol_mount_api *ret, struct cvol_error *err)
{
	static const char *const names[] = {
		[CVOL_MOUNT_API_LEGACY] = "legacy",
		[CVOL_MOUNT_API_STRING] = "string",
		[CVOL_MOUNT_API_FD] = "fd",
	};
	const char *want = getenv("CVOL_MOUNT_API");

	*ret = best;
	if (!want || !*want)
		return 0;
	for (enum cvol_mount_api api = 0; api < ARRAY_SIZE(names); api++) {
		if (strcmp(want, names[api]) != 0)
			continue;
		if (api > best)
			return cvol_error_setx(err, EOPNOTSUPP, "CVOL_MOUNT_API=%s: this kernel only has %s",
					       want, cvol_mount_api_name(best));
		*ret = api;
		return 0;
	}
	return cvol_error_setx(err, EINVAL, "CVOL_MOUNT_API=%s: use legacy, string or fd", want);
}

static bool overlay_fs_known(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/filesystems", "re");
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "\toverlay\n"))
			return true;
	return false;
}

int cvol_kernel_features_probe(struct cvol_kernel_features *ret, struct cvol_error *err)
{
	struct cvol_kernel_features k = { 0 };
	struct utsname u;

	if (uname(&u) == 0)
		snprintf(k.release, sizeof(k.release), "%s", u.release);
	_cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	k.overlay = fsfd >= 0 || overlay_fs_known();
	if (fsfd >= 0) {
		k.fsopen = true;
		k.lowerdir_append = fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", "/", 0) == 0;
		_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		k.layer_fd = k.lowerdir_append && root >= 0 &&
			     fsconfig(fsfd, FSCONFIG_SET_FD, "lowerdir+", NULL, root) == 0;
	}
	if (!k.overlay)
		return cvol_error_setx(err, ENODEV,
				       "the kernel has no overlay filesystem (modprobe overlay)");

	k.api = k.layer_fd	    ? CVOL_MOUNT_API_FD
		: k.lowerdir_append ? CVOL_MOUNT_API_STRING
				    : CVOL_MOUNT_API_LEGACY;
	int r = mount_api_override(k.api, &k.api, err);
	if (r < 0)
		return r;
	*ret = k;
	return 0;
}
