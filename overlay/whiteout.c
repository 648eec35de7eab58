/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI whiteouts and overlay whiteouts, both ways. OCI: `.wh.NAME` deletes NAME from the
 * layers below, `.wh..wh..opq` hides everything below a directory. Overlay: a 0/0
 * character device (or, where mknod is not allowed, an empty file with the overlay
 * whiteout xattr in a directory marked as holding such), and the opaque xattr. */
#include "overlay-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define OCI_WHITEOUT_PREFIX                                                                                  \
	"."                                                                                                  \
	"wh."
#define OCI_OPAQUE_MARKER ".wh..wh..opq"

static const char *xattr_name(bool userxattr, const char *what, char *buf, size_t size)
{
	snprintf(buf, size, "%s.overlay.%s", userxattr ? "user" : "trusted", what);
	return buf;
}

bool cvol_whiteout_is_opaque_marker(const char *name)
{
	return strcmp(name, OCI_OPAQUE_MARKER) == 0;
}

int cvol_whiteout_target(const char *name, const char **ret_target)
{
	size_t plen = strlen(OCI_WHITEOUT_PREFIX);
	if (strncmp(name, OCI_WHITEOUT_PREFIX, plen) != 0)
		return 0;
	const char *target = name + plen;
	if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0 || strchr(target, '/'))
		return -EINVAL;
	*ret_target = target;
	return 1;
}

int cvol_whiteout_make(int dirfd, const char *name, bool userxattr, struct cvol_error *err)
{
	char xname[64];

	if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) == 0)
		return 0;
	if (errno != EPERM)
		return cvol_error_set(err, errno, "make whiteout `%s`", name);
	/* no mknod here (a user namespace): the xattr form overlay reads since Linux 6.7 */
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return cvol_error_set(err, errno, "make whiteout `%s`", name);
	if (fsetxattr(fd, xattr_name(userxattr, "whiteout", xname, sizeof(xname)), "", 0, 0) < 0 ||
	    fsetxattr(dirfd, xattr_name(userxattr, "whiteouts", xname, sizeof(xname)), "", 0, 0) < 0)
		return cvol_error_set(err, errno, "mark whiteout `%s`", name);
	return 0;
}

int cvol_whiteout_make_opaque(int dirfd, bool userxattr, struct cvol_error *err)
{
	char xname[64];
	if (fsetxattr(dirfd, xattr_name(userxattr, "opaque", xname, sizeof(xname)), "y", 1, 0) < 0)
		return cvol_error_set(err, errno, "mark a directory opaque");
	return 0;
}

bool cvol_whiteout_is(int dirfd, const char *name, const struct stat *st)
{
	char xname[64];

	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
		return true;
	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 && (fgetxattr(fd, xattr_name(false, "whiteout", xname, sizeof(xname)), NULL, 0) >= 0 ||
			   fgetxattr(fd, xattr_name(true, "whiteout", xname, sizeof(xname)), NULL, 0) >= 0);
}

bool cvol_whiteout_dir_is_opaque(int dirfd)
{
	char xname[64], value[4];
	ssize_t n = fgetxattr(dirfd, xattr_name(false, "opaque", xname, sizeof(xname)), value, sizeof(value));
	if (n < 0)
		n = fgetxattr(dirfd, xattr_name(true, "opaque", xname, sizeof(xname)), value, sizeof(value));
	return n == 1 && value[0] == 'y';
}

bool cvol_whiteout_xattr_is_overlay(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0;
}
