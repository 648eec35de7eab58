/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "socket.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs.h"

#define SD_LISTEN_FDS_START 3

int unix_socket_from_systemd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;

	if (!pid || !fds || strtol(pid, NULL, 10) != getpid() || strtol(fds, NULL, 10) != 1)
		return -1;
	unsetenv("LISTEN_PID"); /* not for the children we start */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fstat(SD_LISTEN_FDS_START, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return SD_LISTEN_FDS_START;
}

/* Replace a stale socket file (nobody answers on it); refuse one a live server holds. */
static int clear_stale_socket(const struct sockaddr_un *addr, struct cvol_error *err)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return cvol_error_setx(err, EEXIST, "`%s` exists and is not a socket", addr->sun_path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return cvol_error_setx(err, EADDRINUSE, "another server already answers on `%s`",
				       addr->sun_path);
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove stale socket `%s`", addr->sun_path);
	return 0;
}

int unix_socket_listen(const char *path, bool has_group, gid_t group, struct cvol_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return cvol_error_setx(err, ENAMETOOLONG, "socket path `%s` is too long", path);
	strcpy(addr.sun_path, path);
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent) {
		*slash = '\0';
		int r = dir_create_parents(parent, 0755, err);
		if (r < 0)
			return r;
	}
	int r = clear_stale_socket(&addr, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cvol_error_set(err, errno, "create a socket");
	mode_t old = umask(0177); /* the socket is born 0600 */
	r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0)
		return cvol_error_set(err, errno, "bind `%s`", path);
	/* the group's members may reach the socket, as docker.sock's group may */
	if (has_group && (chown(path, 0, group) < 0 || chmod(path, 0660) < 0)) {
		r = cvol_error_set(err, errno, "give socket `%s` to group %u", path, (unsigned)group);
		unlink(path);
		return r;
	}
	if (listen(fd, SOMAXCONN) < 0) { /* a burst of connections waits rather than fails */
		r = cvol_error_set(err, errno, "listen on `%s`", path);
		unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

bool unix_peer_allowed(int fd, bool has_group, gid_t group, struct ucred *ret_cred)
{
	socklen_t len = sizeof(*ret_cred);
	gid_t some[64];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret_cred, &len) < 0)
		return false;
	if (ret_cred->uid == 0)
		return true;
	if (!has_group)
		return false;
	if (ret_cred->gid == group)
		return true;
	len = sizeof(some);
	_cleanup_free_ gid_t *many = NULL;
	gid_t *groups = some;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, some, &len) < 0) {
		if (errno != ERANGE || !(many = malloc(len)) ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, many, &len) < 0)
			return false;
		groups = many;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group)
			return true;
	return false;
}
