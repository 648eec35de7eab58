/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string arrays and the name rule shared by layers and volumes. */
#pragma once

#include "macro.h"

/* Number of strings in @v. */
size_t strv_length(char *const *v);
/* Append a copy of @s to *@v; returns 0 or -ENOMEM. */
int strv_push(char ***v, const char *s);
/* Split @s at each unescaped @sep; a backslash before @sep keeps it literal. */
int strv_split(const char *s, char sep, char ***ret_v);
/* True for a name matching ^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$. */
bool name_is_valid(const char *name);
