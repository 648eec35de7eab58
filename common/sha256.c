/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 after FIPS 180-4, in portable C: big-endian loads, no table beyond K. */
#include "sha256.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

#define SHA256_FD_BUFSIZE (128 * 1024)

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#define CH(x, y, z)  (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x)     (ror32(x, 2) ^ ror32(x, 13) ^ ror32(x, 22))
#define BSIG1(x)     (ror32(x, 6) ^ ror32(x, 11) ^ ror32(x, 25))
#define SSIG0(x)     (ror32(x, 7) ^ ror32(x, 18) ^ ((x) >> 3))
#define SSIG1(x)     (ror32(x, 17) ^ ror32(x, 19) ^ ((x) >> 10))

/* Run the compression function over @nblocks 64-byte blocks at @p. */
static void sha256_blocks(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[64];

	while (nblocks--) {
		uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
		uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
		int i;

		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		for (; i < 64; i++)
			w[i] = SSIG1(w[i - 2]) + w[i - 7] + SSIG0(w[i - 15]) + w[i - 16];

		for (i = 0; i < 64; i++) {
			uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K[i] + w[i];
			uint32_t t2 = BSIG0(a) + MAJ(a, b, c);

			h = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}

		state[0] += a;
		state[1] += b;
		state[2] += c;
		state[3] += d;
		state[4] += e;
		state[5] += f;
		state[6] += g;
		state[7] += h;
		p += 64;
	}
}

void sha256_init(struct sha256 *s)
{
	static const uint32_t H0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->state, H0, sizeof(H0));
	s->length = 0;
	s->fill = 0;
}

void sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (len == 0)
		return;
	s->length += len;

	/* top up a partial block first */
	if (s->fill > 0) {
		size_t n = sizeof(s->block) - s->fill;

		if (n > len)
			n = len;
		memcpy(s->block + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill < sizeof(s->block))
			return;
		sha256_blocks(s->state, s->block, 1);
		s->fill = 0;
	}

	/* whole blocks straight from the caller's buffer */
	if (len >= 64) {
		size_t nblocks = len / 64;

		sha256_blocks(s->state, p, nblocks);
		p += nblocks * 64;
		len -= nblocks * 64;
	}

	if (len > 0) {
		memcpy(s->block, p, len);
		s->fill = len;
	}
}

void sha256_final_hex(struct sha256 *s, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint64_t bits = s->length * 8;
	uint8_t digest[32];

	/* pad: 0x80, zeros to 56 mod 64, then the length in bits, big-endian */
	s->block[s->fill++] = 0x80;
	if (s->fill > 56) {
		memset(s->block + s->fill, 0, sizeof(s->block) - s->fill);
		sha256_blocks(s->state, s->block, 1);
		s->fill = 0;
	}
	memset(s->block + s->fill, 0, 56 - s->fill);
	store_be32(s->block + 56, (uint32_t)(bits >> 32));
	store_be32(s->block + 60, (uint32_t)bits);
	sha256_blocks(s->state, s->block, 1);
	s->fill = 0;

	for (int i = 0; i < 8; i++)
		store_be32(digest + 4 * i, s->state[i]);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[CVOL_SHA256_HEX_LEN] = '\0';
}

int sha256_fd(int fd, char hex[CVOL_SHA256_HEX_LEN + 1], uint64_t *ret_bytes)
{
	_cleanup_free_ uint8_t *buf = malloc(SHA256_FD_BUFSIZE);
	struct sha256 s;
	uint64_t total = 0;

	if (!buf)
		return -ENOMEM;

	sha256_init(&s);
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

	sha256_final_hex(&s, hex);
	if (ret_bytes)
		*ret_bytes = total;
	return 0;
}
