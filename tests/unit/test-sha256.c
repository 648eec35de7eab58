/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256: the FIPS 180-4 examples, streaming in odd chunks, hashing a file descriptor, and the
 * wrapper's init/done/final contract. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../common/macro.h"
#include "../../common/sha256.h"

#define SHA256_EMPTY	 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC	 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_448	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA256_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

#define MSG_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

/* Hash @len bytes at @data in one call into @hex. */
static void hash_oneshot(const void *data, size_t len, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final_hex(&s, hex);
}

/* Hash @len bytes at @data in pieces of @chunk bytes into @hex. */
static void hash_chunked(const void *data, size_t len, size_t chunk, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	const uint8_t *p = data;
	struct sha256 s;

	sha256_init(&s);
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;

		sha256_update(&s, p, n);
		p += n;
		len -= n;
	}
	sha256_final_hex(&s, hex);
}

/* Fill @buf with @len bytes of a fixed pseudo-random pattern. */
static void fill_pattern(uint8_t *buf, size_t len)
{
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = x >> 16;
	}
}

static void test_nist_vectors(void **state)
{
	char hex[CVOL_SHA256_HEX_LEN + 1];
	(void)state;

	hash_oneshot("", 0, hex);
	assert_string_equal(hex, SHA256_EMPTY);
	hash_oneshot("abc", 3, hex);
	assert_string_equal(hex, SHA256_ABC);
	hash_oneshot(MSG_448, strlen(MSG_448), hex);
	assert_string_equal(hex, SHA256_448);
}

static void test_nist_vectors_null_update(void **state)
{
	char hex[CVOL_SHA256_HEX_LEN + 1];
	struct sha256 s;
	(void)state;

	/* an empty update changes nothing */
	sha256_init(&s);
	sha256_update(&s, "", 0);
	sha256_update(&s, "ab", 2);
	sha256_update(&s, "", 0);
	sha256_update(&s, "c", 1);
	sha256_final_hex(&s, hex);
	assert_string_equal(hex, SHA256_ABC);
}

static void test_million_a(void **state)
{
	_cleanup_free_ char *buf = malloc(1000000);
	char hex[CVOL_SHA256_HEX_LEN + 1];
	(void)state;

	assert_non_null(buf);
	memset(buf, 'a', 1000000);
	hash_oneshot(buf, 1000000, hex);
	assert_string_equal(hex, SHA256_MILLION_A);
	/* and as FIPS 180-4's example feeds it, one 'a' at a time */
	hash_chunked(buf, 1000000, 1, hex);
	assert_string_equal(hex, SHA256_MILLION_A);
	hash_chunked(buf, 1000000, 4096 + 7, hex);
	assert_string_equal(hex, SHA256_MILLION_A);
}

static void test_streaming_equals_oneshot(void **state)
{
	static const size_t chunks[] = { 1, 3, 63, 64, 65 };
	/* lengths around the padding edges (55, 56, 64) and spanning several blocks */
	static const size_t lens[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 129, 1000, 4099 };
	char want[CVOL_SHA256_HEX_LEN + 1], got[CVOL_SHA256_HEX_LEN + 1];
	uint8_t buf[4099];
	(void)state;

	fill_pattern(buf, sizeof(buf));
	for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
		hash_oneshot(buf, lens[l], want);
		for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
			hash_chunked(buf, lens[l], chunks[c], got);
			if (strcmp(want, got) != 0)
				fail_msg("length %zu in chunks of %zu: %s, one-shot %s", lens[l], chunks[c],
					 got, want);
		}
	}

	/* the NIST vectors, streamed */
	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		hash_chunked("abc", 3, chunks[c], got);
		assert_string_equal(got, SHA256_ABC);
		hash_chunked(MSG_448, strlen(MSG_448), chunks[c], got);
		assert_string_equal(got, SHA256_448);
	}
}

/* Make an unlinked-on-teardown temp file holding @len pattern bytes; returns its fd. */
static int make_temp_file(char path[64], const uint8_t *data, size_t len)
{
	snprintf(path, 64, "/tmp/cvol-test-sha256.XXXXXX");
	int fd = mkostemp(path, O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* 300 KiB and a bit: more than two of sha256_fd's 128 KiB reads, and a partial block. */
#define FILE_LEN (300 * 1024 + 37)

static void test_fd_equals_memory(void **state)
{
	_cleanup_free_ uint8_t *buf = malloc(FILE_LEN);
	char want[CVOL_SHA256_HEX_LEN + 1], got[CVOL_SHA256_HEX_LEN + 1];
	uint64_t bytes = 0;
	char path[64];
	(void)state;

	assert_non_null(buf);
	fill_pattern(buf, FILE_LEN);
	hash_oneshot(buf, FILE_LEN, want);

	_cleanup_close_ int fd = make_temp_file(path, buf, FILE_LEN);
	unlink(path);
	assert_int_equal(sha256_fd(fd, got, &bytes), 0);
	assert_string_equal(got, want);
	assert_int_equal(bytes, FILE_LEN);

	/* at end of file now: what is left is empty; ret_bytes may be NULL */
	assert_int_equal(sha256_fd(fd, got, NULL), 0);
	assert_string_equal(got, SHA256_EMPTY);
}

static void test_fd_equals_sha256sum(void **state)
{
	_cleanup_free_ uint8_t *buf = malloc(FILE_LEN);
	char want[CVOL_SHA256_HEX_LEN + 1] = "", got[CVOL_SHA256_HEX_LEN + 1];
	char cmd[128], line[256];
	uint64_t bytes = 0;
	char path[64];
	(void)state;

	if (access("/usr/bin/sha256sum", X_OK) < 0)
		skip(); /* no /usr/bin/sha256sum to compare with */

	assert_non_null(buf);
	fill_pattern(buf, FILE_LEN);
	_cleanup_close_ int fd = make_temp_file(path, buf, FILE_LEN);

	snprintf(cmd, sizeof(cmd), "/usr/bin/sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char *ok = fgets(line, sizeof(line), p);
	int status = pclose(p);
	unlink(path);
	assert_non_null(ok);
	assert_int_equal(status, 0);
	assert_true(strlen(line) > CVOL_SHA256_HEX_LEN && line[CVOL_SHA256_HEX_LEN] == ' ');
	memcpy(want, line, CVOL_SHA256_HEX_LEN);
	want[CVOL_SHA256_HEX_LEN] = '\0';

	assert_int_equal(sha256_fd(fd, got, &bytes), 0);
	assert_string_equal(got, want);
	assert_int_equal(bytes, FILE_LEN);
}

static void test_fd_errors(void **state)
{
	char hex[CVOL_SHA256_HEX_LEN + 1] = "untouched";
	uint64_t bytes = 42;
	(void)state;

	assert_int_equal(sha256_fd(-1, hex, &bytes), -EBADF);
	assert_string_equal(hex, "untouched");
	assert_int_equal(bytes, 42);

	/* a closed descriptor */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sha256_fd(fd, hex, &bytes), -EBADF);

	/* read(2) on a directory fails with EISDIR */
	_cleanup_close_ int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(sha256_fd(dfd, hex, &bytes), -EISDIR);
	assert_string_equal(hex, "untouched");
	assert_int_equal(bytes, 42);
}

/* The EVP wrapper's own contract: init reports, an unfinished digest can be dropped, and
 * a digest that was never started (or is finished already) is an error, not a crash. */
static void test_init_done_errors(void **state)
{
	char hex[CVOL_SHA256_HEX_LEN + 1] = "untouched";
	struct sha256 s = { 0 };
	(void)state;

	assert_int_equal(sha256_final_hex(&s, hex), -EINVAL);
	assert_string_equal(hex, "");

	assert_int_equal(sha256_init(&s), 0);
	sha256_update(&s, "abc", 3);
	sha256_done(&s); /* dropped unfinished: nothing leaks (ASan) */
	sha256_done(&s);

	assert_int_equal(sha256_init(&s), 0);
	sha256_update(&s, "abc", 3);
	assert_int_equal(sha256_final_hex(&s, hex), 0);
	assert_string_equal(hex, SHA256_ABC);
	assert_int_equal(sha256_final_hex(&s, hex), -EINVAL); /* finished: it is freed */
	sha256_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_vectors),	 cmocka_unit_test(test_nist_vectors_null_update),
		cmocka_unit_test(test_million_a),	 cmocka_unit_test(test_streaming_equals_oneshot),
		cmocka_unit_test(test_fd_equals_memory), cmocka_unit_test(test_fd_equals_sha256sum),
		cmocka_unit_test(test_fd_errors),	 cmocka_unit_test(test_init_done_errors),
	};

	return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
