/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Unix socket a daemon listens on: the one systemd passed, or one it binds itself, and the
 * check of who is at the other end of a connection. The volume plugin and the gRPC server
 * share it, so that both refuse the same peers and treat a stale socket file the same way. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "error.h"

/* The socket systemd passed (LISTEN_PID/LISTEN_FDS: exactly one, a socket), made
 * close-on-exec and taken out of the environment; or -1. */
int unix_socket_from_systemd(void);
/* Bind and listen on @path (its parents made 0755, a stale socket file replaced, the socket
 * born 0600, or root:@group 0660 with @has_group); the listening fd, or -errno: -EADDRINUSE
 * when a live server answers on @path, -EEXIST when @path is not a socket. */
int unix_socket_listen(const char *path, bool has_group, gid_t group, struct cvol_error *err);
/* Is the peer on the connection @fd root, or (with @has_group) in @group, as its gid or a
 * supplementary group? Its credentials go to *@ret_cred (pid, uid, gid; zero when unknown). */
bool unix_peer_allowed(int fd, bool has_group, gid_t group, struct ucred *ret_cred);
