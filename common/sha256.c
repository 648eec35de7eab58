/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 from OpenSSL's libcrypto (EVP), which uses the CPU's SHA extensions where there are any. */
#include "sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

#define SHA256_FD_BUFSIZE (128 * 1024)

int sha256_init(struct sha256 *s)
{
	s->error = 0;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx)
		return s->error = -ENOMEM;
	if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		sha256_done(s);
		return s->error = -ENOSYS; /* no provider offers sha256 */
	}
	return 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	if (len > 0 && s->ctx && !s->error && EVP_DigestUpdate(s->ctx, data, len) != 1)
		s->error = -EIO;
}

int sha256_final_hex(struct sha256 *s, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!s->error && !s->ctx)
		s->error = -EINVAL; /* not started */
	if (!s->error && (EVP_DigestFinal_ex(s->ctx, digest, &len) != 1 || len != CVOL_SHA256_HEX_LEN / 2))
		s->error = -EIO;
	sha256_done(s);
	hex[0] = '\0';
	if (s->error)
		return s->error;
	for (unsigned int i = 0; i < len; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[CVOL_SHA256_HEX_LEN] = '\0';
	return 0;
}

void sha256_done(struct sha256 *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

int sha256_fd(int fd, char hex[CVOL_SHA256_HEX_LEN + 1], uint64_t *ret_bytes)
{
	_cleanup_free_ uint8_t *buf = malloc(SHA256_FD_BUFSIZE);
	_cleanup_sha256_ struct sha256 s = { 0 };
	char out[CVOL_SHA256_HEX_LEN + 1];
	uint64_t total = 0;

	if (!buf)
		return -ENOMEM;
	int r = sha256_init(&s);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, SHA256_FD_BUFSIZE);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		sha256_update(&s, buf, (size_t)n);
		total += (uint64_t)n;
	}
	r = sha256_final_hex(&s, out);
	if (r < 0)
		return r;
	memcpy(hex, out, sizeof(out));
	if (ret_bytes)
		*ret_bytes = total;
	return 0;
}
