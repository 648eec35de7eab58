/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What exec.c and seccomp.c share: the capabilities a command keeps under --exec. */
#pragma once

#include <linux/capability.h>
#include <stdint.h>

/* The capabilities Docker leaves a container, as a mask of 1 << CAP_*: exec.c drops every
 * other one before the exec, seccomp.c weighs a profile's "caps" conditions against them. */
#define CVOL_EXEC_KEPT_CAPS                                                                                  \
	((1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FSETID) | (1ULL << CAP_FOWNER) |    \
	 (1ULL << CAP_MKNOD) | (1ULL << CAP_NET_RAW) | (1ULL << CAP_SETGID) | (1ULL << CAP_SETUID) |         \
	 (1ULL << CAP_SETFCAP) | (1ULL << CAP_SETPCAP) | (1ULL << CAP_NET_BIND_SERVICE) |                    \
	 (1ULL << CAP_SYS_CHROOT) | (1ULL << CAP_KILL) | (1ULL << CAP_AUDIT_WRITE))
