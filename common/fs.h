/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Filesystem helpers that work on directory fds: lookups confined with
 * openat2, crash-safe file writes, recursive removal that stays on one fs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "walk.h"

/* openat2() @path beneath @dirfd (no "..", absolute paths or symlinks out); returns fd or -errno. */
int openat_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* openat2() with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS and @resolve added (e.g. RESOLVE_NO_SYMLINKS);
 * with RESOLVE_IN_ROOT in @resolve, that instead of RESOLVE_BENEATH (@dirfd is "/" for absolute
 * paths, "..", and symlinks). */
int openat_confined(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve);
/* flock(@fd, @how), retried on EINTR; 0 or -errno (-EWOULDBLOCK with LOCK_NB when taken). */
int flock_retry(int fd, int how);
/* Open (creating, 0600) the lock file @name in @dirfd and flock() it with @how; returns the fd
 * (closing it unlocks), -EWOULDBLOCK with LOCK_NB when taken (without a message), or -errno.
 * Once locked, the file is checked to be the one still linked at @name, else taken again. */
int lock_file_take(int dirfd, const char *name, int how, struct cvol_error *err);
/* Remove the lock file @name in @dirfd, held by the lock_file_take() @fd, and close @fd: a process
 * waiting for it then takes a fresh file at @name. Only the holder may remove it. */
void lock_file_remove(int dirfd, const char *name, int fd);
/* Write @len bytes to @name in @dirfd crash-safely: temp file, fsync, rename, fsync dir. */
int file_write_atomic(int dirfd, const char *name, const void *data, size_t len, struct cvol_error *err);
/* file_write_atomic() with the file made @mode (0600: readable by its owner only, whatever the umask). */
int file_write_atomic_mode(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			   struct cvol_error *err);
/* Create @name in @dirfd (it must not exist), write @len bytes and, with @sync, fsync it, but not
 * the directory: for files in a directory not yet in place, whose one fsync the caller makes. */
int file_write_new(int dirfd, const char *name, const void *data, size_t len, bool sync,
		   struct cvol_error *err);
/* Read the small text file @name beneath @dirfd, trailing newline dropped, into *ret_text. */
int file_read_text(int dirfd, const char *name, char **ret_text, struct cvol_error *err);
/* fsync() the directory @dirfd. */
int dir_fsync(int dirfd, struct cvol_error *err);
/* Remove @name in @dirfd and everything below it, never crossing into another mount. */
int dir_remove_tree(int dirfd, const char *name, struct cvol_error *err);
/* Open the directory @name in @dirfd (not following a symlink), first making it (0700) if @create. */
int dir_open_at(int dirfd, const char *name, bool create, struct cvol_error *err);
/* Make <@root>/@sub (and its parents, 0700) and open it; *@ret_path is its canonical path.
 * Returns the directory fd. */
int dir_open_store(const char *root, const char *sub, char **ret_path, struct cvol_error *err);
/* Create the directory @path and any missing parents with @mode. */
int dir_create_parents(const char *path, mode_t mode, struct cvol_error *err);
/* snprintf() a path into @buf; one that does not fit is an error (ENAMETOOLONG), never cut. */
int path_format(char *buf, size_t size, struct cvol_error *err, const char *fmt, ...) _printf_(4, 5);
/* True when @path under @dirfd ("" for @dirfd itself) is the root of a mount (statx). */
bool is_mount_root(int dirfd, const char *path);
