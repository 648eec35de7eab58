/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256, streaming, for image blob digests: a thin wrapper of OpenSSL's EVP digests. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CVOL_SHA256_HEX_LEN 64

struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX, kept out of this header */

struct sha256 {
	struct evp_md_ctx_st *ctx; /* NULL before sha256_init() and after sha256_final_hex() */
	int error;		   /* the first failure (-errno), reported by sha256_final_hex() */
};

/* Start a digest; returns 0 or -ENOMEM. sha256_final_hex() or sha256_done() ends it. */
int sha256_init(struct sha256 *s);
/* Hash @len more bytes (a failure is kept for sha256_final_hex()). */
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Finish and write 64 lowercase hex digits and a NUL to @hex; returns 0 or -errno (then
 * @hex is ""). Frees the digest. */
int sha256_final_hex(struct sha256 *s, char hex[CVOL_SHA256_HEX_LEN + 1]);
/* Free a digest not finished (a no-op after sha256_final_hex()). */
void sha256_done(struct sha256 *s);
#define _cleanup_sha256_ __attribute__((cleanup(sha256_done)))
/* Hash everything read from @fd (to its end) into @hex; returns 0 or -errno. */
int sha256_fd(int fd, char hex[CVOL_SHA256_HEX_LEN + 1], uint64_t *ret_bytes);
