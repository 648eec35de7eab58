/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <string.h>

static const struct {
	const char *name;
	enum cvol_log_area area;
} log_areas[] = {
	{ "overlay", CVOL_LOG_OVERLAY }, { "store", CVOL_LOG_STORE }, { "volume", CVOL_LOG_VOLUME },
	{ "plugin", CVOL_LOG_PLUGIN },	 { "all", CVOL_LOG_ALL },
};

static unsigned parse_debug_mask(const char *spec)
{
	unsigned mask = 0;

	while (spec && *spec) {
		size_t len = strcspn(spec, ",");
		for (size_t i = 0; i < ARRAY_SIZE(log_areas); i++)
			if (strlen(log_areas[i].name) == len && strncmp(log_areas[i].name, spec, len) == 0)
				mask |= log_areas[i].area;
		spec += len;
		if (*spec == ',')
			spec++;
	}
	return mask;
}

bool log_debug_enabled(enum cvol_log_area area)
{
	static int mask = -1;

	if (mask < 0)
		mask = (int)parse_debug_mask(getenv("CVOL_DEBUG"));
	return (mask & area) != 0;
}

static void log_line(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s%s\n", prefix, line);
}

void log_debug(enum cvol_log_area area, const char *fmt, ...)
{
	if (!log_debug_enabled(area))
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line("debug: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

void log_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error: ", fmt, ap);
	va_end(ap);
}
