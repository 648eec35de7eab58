/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one builder of mount option strings ("a,b=c"), for overlay's mount(2) data and the
 * volume backends alike. Paths are escaped (`\`, `,`, `:`) so no user string adds an option;
 * text that will not fit is refused with -E2BIG and the buffer is left as it was. */
#pragma once

#include <stddef.h>

/* Append @s to @buf (of @size, holding *@len bytes) with `\`, `,` and `:` escaped. */
int mount_opts_append_escaped(char *buf, size_t size, size_t *len, const char *s);
/* Append @s to @buf unescaped. */
int mount_opts_append(char *buf, size_t size, size_t *len, const char *s);
/* Append the option @key, or @key=@value with @value escaped, after a comma unless @buf is empty. */
int mount_opts_add(char *buf, size_t size, size_t *len, const char *key, const char *value);
