/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 (FIPS 180-4), streaming, for image blob digests. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CVOL_SHA256_HEX_LEN 64

struct sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[64];
	size_t fill; /* bytes waiting in block */
};

/* Start a digest. */
void sha256_init(struct sha256 *s);
/* Hash @len more bytes. */
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Finish and write 64 lowercase hex digits and a NUL to @hex. */
void sha256_final_hex(struct sha256 *s, char hex[CVOL_SHA256_HEX_LEN + 1]);
/* Hash everything read from @fd (to its end) into @hex; returns 0 or -errno. */
int sha256_fd(int fd, char hex[CVOL_SHA256_HEX_LEN + 1], uint64_t *ret_bytes);
