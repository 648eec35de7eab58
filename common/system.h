/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the running system is: this boot, and mount namespaces. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* This boot's id (/proc/sys/kernel/random/boot_id), read once; "" when unreadable. */
const char *boot_id(void);
/* The inode of this process's mount namespace (/proc/self/ns/mnt); 0 or -errno. */
int mount_ns_self(uint64_t *ret_ino);
/* True when a process is in the mount namespace with inode @ino (a scan of /proc). */
bool mount_ns_is_alive(uint64_t ino);
