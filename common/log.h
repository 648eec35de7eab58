/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One-line logging to stderr; debug output by area, chosen at run time with
 * CVOL_DEBUG=overlay,volume,plugin or CVOL_DEBUG=all (like LIBMOUNT_DEBUG). */
#pragma once

#include "macro.h"

enum cvol_log_area {
	CVOL_LOG_OVERLAY = 1 << 0,
	CVOL_LOG_STORE = 1 << 1,
	CVOL_LOG_VOLUME = 1 << 2,
	CVOL_LOG_PLUGIN = 1 << 3,
	CVOL_LOG_ALL = 0xff,
};

/* True when CVOL_DEBUG turns on debug output for @area. */
bool log_debug_enabled(enum cvol_log_area area);
/* Print one debug line for @area when it is enabled. */
void log_debug(enum cvol_log_area area, const char *fmt, ...) _printf_(2, 3);
/* Print one informational line (to stderr). Only cmd/ and the servers (plugin/, rpc/) call this. */
void log_info(const char *fmt, ...) _printf_(1, 2);
/* Print one warning line (to stderr). cmd/ and the servers (plugin/, rpc/) call this, and the one library
 * path that must go on past a failure no caller could act on: the cleanup of .staging/ when a store opens
 * (common/staging.c). */
void log_warning(const char *fmt, ...) _printf_(1, 2);
/* Print one error line (to stderr). Only cmd/ and the servers (plugin/, rpc/) call this. */
void log_error(const char *fmt, ...) _printf_(1, 2);
