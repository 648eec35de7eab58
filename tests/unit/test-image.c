/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image import without docker: `docker save` directories and OCI layouts built here, in a
 * fresh directory under /tmp, from layer tars written with libarchive; chain IDs, reuse,
 * and the refusals of a corrupted or malformed image (which must add nothing to the store).
 * No root needed. */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../common/sha256.h"
#include "../../image/image.h"

#define N_LAYERS 2
#define BLOB_MAX (256 * 1024)

struct file {
	const char *path;
	const char *content;
};

/* The files of each layer; the second adds some and leaves the first's alone. */
static const struct file layer_files[N_LAYERS][2] = {
	{ { "etc/os-release", "ID=cvol-test\n" }, { "bin/hello", "#!/bin/sh\necho hello\n" } },
	{ { "app/main.txt", "main\n" }, { "etc/motd", "welcome\n" } },
};

struct blob {
	unsigned char *data;
	size_t len;
	char hex[CVOL_SHA256_HEX_LEN + 1];
};

struct fixture {
	char img[64];  /* the image directory */
	char root[64]; /* the store */
	struct cvol_layer_store *store;
	struct blob tar[N_LAYERS]; /* uncompressed layer tars: their digests are the diff_ids */
	struct blob gz[N_LAYERS];  /* the same tars gzipped */
};

static void sha256_hex(const void *data, size_t len, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	struct sha256 s;
	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_final_hex(&s, hex);
}

static void blob_set(struct blob *b, const void *data, size_t len)
{
	b->data = malloc(len);
	assert_non_null(b->data);
	memcpy(b->data, data, len);
	b->len = len;
	sha256_hex(data, len, b->hex);
}

/* A plain tar of the regular files @files (no padding to a block size). */
static int make_tar(const struct file *files, size_t n, struct blob *ret)
{
	static unsigned char buf[BLOB_MAX];
	size_t used = 0;
	struct archive *a = archive_write_new();
	int r = 0;

	if (!a || archive_write_set_format_ustar(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) ||
	    archive_write_open_memory(a, buf, sizeof(buf), &used) != ARCHIVE_OK)
		r = -1;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(files[i].content);
		archive_entry_set_pathname(e, files[i].path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		archive_entry_set_uid(e, getuid());
		archive_entry_set_gid(e, getgid());
		archive_entry_set_mtime(e, 1700000000, 0);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, files[i].content, len) != (la_ssize_t)len)
			r = -1;
		archive_entry_free(e);
	}
	if (a && archive_write_close(a) != ARCHIVE_OK)
		r = -1;
	archive_write_free(a);
	if (r == 0)
		blob_set(ret, buf, used);
	return r;
}

/* @in compressed with libarchive's gzip write filter (the raw format: the bytes as they are). */
static int make_gzip(const struct blob *in, struct blob *ret)
{
	static unsigned char buf[BLOB_MAX];
	size_t used = 0;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	if (!a || !e || archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK || archive_write_set_bytes_in_last_block(a, 1) ||
	    archive_write_open_memory(a, buf, sizeof(buf), &used) != ARCHIVE_OK)
		r = -1;
	if (r == 0) {
		archive_entry_set_pathname(e, "layer.tar");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)in->len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, in->data, in->len) != (la_ssize_t)in->len)
			r = -1;
	}
	if (a && archive_write_close(a) != ARCHIVE_OK)
		r = -1;
	archive_entry_free(e);
	archive_write_free(a);
	if (r == 0)
		blob_set(ret, buf, used);
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cvol_error err = { 0 };

	if (!f)
		return -1;
	*state = f;
	snprintf(f->img, sizeof(f->img), "/tmp/cvol-test-image.XXXXXX");
	snprintf(f->root, sizeof(f->root), "/tmp/cvol-test-image-store.XXXXXX");
	if (!mkdtemp(f->img) || !mkdtemp(f->root) || cvol_layer_store_open(f->root, &f->store, &err) < 0)
		return -1;
	for (size_t i = 0; i < N_LAYERS; i++)
		if (make_tar(layer_files[i], 2, &f->tar[i]) < 0 || make_gzip(&f->tar[i], &f->gz[i]) < 0)
			return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->store)
		cvol_layer_store_close(f->store);
	if (*f->img)
		dir_remove_tree(AT_FDCWD, f->img, NULL);
	if (*f->root)
		dir_remove_tree(AT_FDCWD, f->root, NULL);
	for (size_t i = 0; i < N_LAYERS; i++) {
		free(f->tar[i].data);
		free(f->gz[i].data);
	}
	free(f);
	return 0;
}

/* Write @rel under the image directory, making its parent directories. */
static void put(const struct fixture *f, const char *rel, const void *data, size_t len)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s/%s", f->img, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	assert_int_equal(dir_create_parents(dirname(dir), 0755, NULL), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void put_str(const struct fixture *f, const char *rel, const char *text)
{
	put(f, rel, text, strlen(text));
}

/* Write @text as a blob named by its digest; its hex goes to @hex. */
static void put_blob_str(const struct fixture *f, const char *text, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	char rel[128];
	sha256_hex(text, strlen(text), hex);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
	put_str(f, rel, text);
}

/* An image config listing the first @n diff_ids; the caller frees it. */
static char *config_json(const struct fixture *f, size_t n)
{
	char *s = NULL;
	assert_true(asprintf(&s,
			     "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
			     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s%s%s%s%s%s]}}",
			     n > 0 ? "\"sha256:" : "", n > 0 ? f->tar[0].hex : "", n > 0 ? "\"" : "",
			     n > 1 ? ",\"sha256:" : "", n > 1 ? f->tar[1].hex : "", n > 1 ? "\"" : "") > 0);
	return s;
}

/* `docker save` output: <hex>.json, <id>/layer.tar for each layer, manifest.json. The config
 * lists @n_diff_ids diff_ids. */
static void write_docker(const struct fixture *f, size_t n_diff_ids)
{
	char hex[CVOL_SHA256_HEX_LEN + 1], rel[128], *manifest = NULL;
	char *config = config_json(f, n_diff_ids);

	sha256_hex(config, strlen(config), hex);
	snprintf(rel, sizeof(rel), "%s.json", hex);
	put_str(f, rel, config);
	for (size_t i = 0; i < N_LAYERS; i++) {
		snprintf(rel, sizeof(rel), "%s/layer.tar", f->tar[i].hex);
		put(f, rel, f->tar[i].data, f->tar[i].len);
	}
	put_str(f, "repositories", "{}");
	assert_true(asprintf(&manifest,
			     "[{\"Config\":\"%s.json\",\"RepoTags\":[\"cvol-test:latest\"],"
			     "\"Layers\":[\"%s/layer.tar\",\"%s/layer.tar\"]}]",
			     hex, f->tar[0].hex, f->tar[1].hex) > 0);
	put_str(f, "manifest.json", manifest);
	free(manifest);
	free(config);
}

struct oci_opts {
	const struct blob *top;	    /* the second layer's blob; NULL: its tar (or gzip, with @gzip_top) */
	bool gzip_top;		    /* the second layer as a gzip blob */
	const char *bad_top_digest; /* named in the manifest instead of the second layer's digest */
};

/* An OCI layout: oci-layout, blobs/sha256/<each layer, config, manifest>, index.json. */
static void write_oci(const struct fixture *f, const struct oci_opts *o)
{
	char config_hex[CVOL_SHA256_HEX_LEN + 1], manifest_hex[CVOL_SHA256_HEX_LEN + 1], rel[128];
	char top_digest[128], *manifest = NULL, *index = NULL;
	const struct blob *top = o->top ? o->top : o->gzip_top ? &f->gz[1] : &f->tar[1];
	char *config = config_json(f, N_LAYERS);

	put_str(f, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", f->tar[0].hex);
	put(f, rel, f->tar[0].data, f->tar[0].len);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", top->hex);
	put(f, rel, top->data, top->len);
	put_blob_str(f, config, config_hex);
	snprintf(top_digest, sizeof(top_digest), "%s%s",
		 o->bad_top_digest ? "" : "sha256:", o->bad_top_digest ? o->bad_top_digest : top->hex);
	assert_true(
		asprintf(&manifest,
			 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
			 "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":["
			 "{\"mediaType\":\"application/"
			 "vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:%s\",\"size\":%zu},"
			 "{\"mediaType\":\"application/"
			 "vnd.oci.image.layer.v1.tar%s\",\"digest\":\"%s\",\"size\":%zu}]}",
			 config_hex, strlen(config), f->tar[0].hex, f->tar[0].len,
			 top == &f->tar[1] ? "" : "+gzip", top_digest, top->len) > 0);
	put_blob_str(f, manifest, manifest_hex);
	assert_true(asprintf(&index,
			     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
			     "\"application/"
			     "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu}]}",
			     manifest_hex, strlen(manifest)) > 0);
	put_str(f, "index.json", index);
	free(index);
	free(manifest);
	free(config);
}

/* The store ids the image's layers must get: "sha256-" and the hex of each chain ID. */
static void expected_ids(const struct fixture *f, char ids[N_LAYERS][80])
{
	char chain[80], buf[200], hex[CVOL_SHA256_HEX_LEN + 1];

	snprintf(chain, sizeof(chain), "sha256:%s", f->tar[0].hex);
	snprintf(ids[0], 80, "sha256-%s", f->tar[0].hex);
	for (size_t i = 1; i < N_LAYERS; i++) {
		snprintf(buf, sizeof(buf), "%s sha256:%s", chain, f->tar[i].hex);
		sha256_hex(buf, strlen(buf), hex);
		snprintf(chain, sizeof(chain), "sha256:%s", hex);
		snprintf(ids[i], 80, "sha256-%s", hex);
	}
}

struct progress_log {
	size_t calls;
	struct cvol_image_progress last;
};

static void on_progress(const struct cvol_image_progress *p, void *data)
{
	struct progress_log *log = data;
	log->calls++;
	assert_int_equal(p->layers_done, log->calls);
	log->last = *p;
}

/* Fail unless the file @rel in the diff of layer @id holds @content. */
static void assert_diff_file(const struct fixture *f, const char *id, const char *rel, const char *content)
{
	char path[512], buf[256];

	snprintf(path, sizeof(path), "%s/%s/diff/%s", cvol_layer_store_get_path(f->store), id, rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("`%s` is not in layer `%s`", rel, id);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, content);
}

static bool diff_has(const struct fixture *f, const char *id, const char *rel)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s/diff/%s", cvol_layer_store_get_path(f->store), id, rel);
	return lstat(path, &st) == 0;
}

/* Import the image, then again: the chain IDs as layer ids, parents, files, and full reuse. */
static void assert_imports(struct fixture *f, uint64_t bytes)
{
	struct cvol_error err = { 0 };
	struct progress_log log = { 0 };
	struct cvol_layer_info *layers;
	char ids[N_LAYERS][80], *top = NULL;
	size_t n;

	expected_ids(f, ids);
	if (cvol_image_import(f->store, f->img, on_progress, &log, &top, &err) < 0)
		fail_msg("import: %s", err.msg);
	assert_string_equal(top, ids[N_LAYERS - 1]);
	free(top);
	top = NULL;
	assert_int_equal(log.calls, N_LAYERS);
	assert_int_equal(log.last.layers_total, N_LAYERS);
	assert_int_equal(log.last.layers_done, N_LAYERS);
	assert_int_equal(log.last.layers_reused, 0);
	assert_int_equal(log.last.bytes_done, bytes);

	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	assert_int_equal(n, N_LAYERS);
	for (size_t i = 0; i < n; i++) {
		size_t k = strcmp(layers[i].id, ids[0]) == 0 ? 0 : 1;
		assert_string_equal(layers[i].id, ids[k]);
		if (k == 0)
			assert_null(layers[i].parent);
		else
			assert_string_equal(layers[i].parent, ids[0]);
		assert_int_equal(layers[i].depth, k);
	}
	cvol_layer_info_free(layers, n);
	for (size_t i = 0; i < N_LAYERS; i++)
		for (size_t j = 0; j < 2; j++) {
			assert_diff_file(f, ids[i], layer_files[i][j].path, layer_files[i][j].content);
			assert_false(diff_has(f, ids[1 - i], layer_files[i][j].path));
		}

	memset(&log, 0, sizeof(log));
	if (cvol_image_import(f->store, f->img, on_progress, &log, &top, &err) < 0)
		fail_msg("second import: %s", err.msg);
	assert_string_equal(top, ids[N_LAYERS - 1]);
	free(top);
	assert_int_equal(log.calls, N_LAYERS);
	assert_int_equal(log.last.layers_done, N_LAYERS);
	assert_int_equal(log.last.layers_reused, N_LAYERS);
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	assert_int_equal(n, N_LAYERS);
	cvol_layer_info_free(layers, n);
}

/* Entries in the store's .staging/ (none once an import has ended). */
static size_t staging_entries(const struct fixture *f)
{
	char path[512];
	size_t n = 0;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/.staging", cvol_layer_store_get_path(f->store));
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Import must fail with -@code and "import image `<dir>`: @msg" after @calls progress reports
 * (layers imported, and removed again), adding no layer and leaving nothing staged. The store
 * holds one unrelated layer first: cvol_layer_list() of an empty store passes NULL to qsort(),
 * which UBSan refuses (overlay/store.c). */
static void assert_refused_after(struct fixture *f, size_t calls, int code, const char *msg)
{
	struct cvol_error err = { 0 };
	struct progress_log log = { 0 };
	struct cvol_layer_info *layers;
	char *top = NULL, want[2048];
	size_t n;

	if (cvol_layer_create(f->store, "unrelated", NULL, &err) < 0 && err.code != EEXIST)
		fail_msg("create layer: %s", err.msg);
	snprintf(want, sizeof(want), "import image `%s`: %s", f->img, msg);
	assert_int_equal(cvol_image_import(f->store, f->img, on_progress, &log, &top, &err), -code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, want);
	assert_null(top);
	assert_int_equal(log.calls, calls);
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(layers[0].id, "unrelated");
	cvol_layer_info_free(layers, n);
	assert_int_equal(staging_entries(f), 0);
}

static void assert_refused(struct fixture *f, int code, const char *msg)
{
	assert_refused_after(f, 0, code, msg);
}

static void test_docker_save(void **state)
{
	struct fixture *f = *state;
	write_docker(f, N_LAYERS);
	assert_imports(f, f->tar[0].len + f->tar[1].len);
}

static void test_oci_layout(void **state)
{
	struct fixture *f = *state;
	write_oci(f, &(struct oci_opts){ 0 });
	assert_imports(f, f->tar[0].len + f->tar[1].len);
}

static void test_oci_layout_gzip(void **state)
{
	struct fixture *f = *state;
	assert_string_not_equal(f->gz[1].hex, f->tar[1].hex);
	write_oci(f, &(struct oci_opts){ .gzip_top = true });
	assert_imports(f, f->tar[0].len + f->gz[1].len);
}

/* The second layer.tar holds other bytes than its diff_id: refused, and the first layer, made
 * by then, is removed again. */
static void test_docker_layer_mismatch(void **state)
{
	struct fixture *f = *state;
	char rel[128], msg[512];

	write_docker(f, N_LAYERS);
	snprintf(rel, sizeof(rel), "%s/layer.tar", f->tar[1].hex);
	put(f, rel, f->tar[0].data, f->tar[0].len);
	snprintf(msg, sizeof(msg), "layer `%s` does not match its digest sha256:%s (it is sha256:%s)", rel,
		 f->tar[1].hex, f->tar[0].hex);
	assert_refused_after(f, 1, EBADMSG, msg);
}

/* An OCI blob whose content is not the digest it is named by. */
static void test_oci_blob_mismatch(void **state)
{
	struct fixture *f = *state;
	char rel[128], msg[512], hex[CVOL_SHA256_HEX_LEN + 1];

	write_oci(f, &(struct oci_opts){ .gzip_top = true });
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", f->gz[1].hex);
	f->gz[1].data[f->gz[1].len / 2] ^= 0x01; /* one bit of the compressed data */
	put(f, rel, f->gz[1].data, f->gz[1].len);
	sha256_hex(f->gz[1].data, f->gz[1].len, hex);
	snprintf(msg, sizeof(msg), "layer `%s` does not match its digest sha256:%s (it is sha256:%s)", rel,
		 f->gz[1].hex, hex);
	assert_refused_after(f, 1, EBADMSG, msg);
}

/* The config blob of an OCI layout is checked against its name too. */
static void test_oci_config_mismatch(void **state)
{
	struct fixture *f = *state;
	char *config = config_json(f, N_LAYERS), hex[CVOL_SHA256_HEX_LEN + 1], rel[128], msg[512];

	write_oci(f, &(struct oci_opts){ 0 });
	sha256_hex(config, strlen(config), hex);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
	put(f, rel, config, strlen(config) - 1); /* not even JSON: the digest is checked first */
	free(config);
	snprintf(msg, sizeof(msg), "`%s` does not match its digest sha256:%s", rel, hex);
	assert_refused(f, EBADMSG, msg);
}

/* A gzip blob true to its name whose tar is not the diff_id of the config. */
static void test_oci_uncompressed_mismatch(void **state)
{
	struct fixture *f = *state;
	char msg[512];

	write_oci(f, &(struct oci_opts){ .top = &f->gz[0] });
	snprintf(msg, sizeof(msg),
		 "layer `blobs/sha256/%s` uncompressed does not match its digest sha256:%s (it is sha256:%s)",
		 f->gz[0].hex, f->tar[1].hex, f->tar[0].hex);
	assert_refused_after(f, 1, EBADMSG, msg);
}

/* The tars of make_tar() are ustar: the first file's data follows its 512-byte header. */
#define FIRST_FILE_DATA 512

/* One byte of a file's content flipped in the second layer.tar (the tar still unpacks well,
 * the manifest is unchanged): only the digest check on the one read that imports it can
 * refuse it. The first layer, made by then, is removed; nothing is left staged. */
static void test_docker_layer_byte_flipped(void **state)
{
	struct fixture *f = *state;
	char rel[128], msg[512], hex[CVOL_SHA256_HEX_LEN + 1];

	write_docker(f, N_LAYERS);
	f->tar[1].data[FIRST_FILE_DATA] ^= 0x20; /* "main" -> "Main" */
	sha256_hex(f->tar[1].data, f->tar[1].len, hex);
	snprintf(rel, sizeof(rel), "%s/layer.tar", f->tar[1].hex);
	put(f, rel, f->tar[1].data, f->tar[1].len);
	snprintf(msg, sizeof(msg), "layer `%s` does not match its digest sha256:%s (it is sha256:%s)", rel,
		 f->tar[1].hex, hex);
	assert_refused_after(f, 1, EBADMSG, msg);
}

/* The same in an OCI layout's first (uncompressed) layer blob: refused before any layer. */
static void test_oci_layer_byte_flipped(void **state)
{
	struct fixture *f = *state;
	char rel[128], msg[512], hex[CVOL_SHA256_HEX_LEN + 1];

	write_oci(f, &(struct oci_opts){ 0 });
	f->tar[0].data[FIRST_FILE_DATA] ^= 0x20; /* "ID=cvol-test" -> "id=cvol-test" */
	sha256_hex(f->tar[0].data, f->tar[0].len, hex);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", f->tar[0].hex);
	put(f, rel, f->tar[0].data, f->tar[0].len);
	snprintf(msg, sizeof(msg), "layer `%s` does not match its digest sha256:%s (it is sha256:%s)", rel,
		 f->tar[0].hex, hex);
	assert_refused_after(f, 0, EBADMSG, msg);
}

/* A refused import removes only the layers it made: a layer that was in the store before
 * (reused as the image's first) stays. */
static void test_refused_keeps_reused_layer(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct cvol_layer_info *layers;
	char ids[N_LAYERS][80], rel[512], *top = NULL;
	size_t n;

	/* the first layer alone, as `cvol layer import` makes it */
	expected_ids(f, ids);
	write_docker(f, N_LAYERS);
	snprintf(rel, sizeof(rel), "%s/%s/layer.tar", f->img, f->tar[0].hex);
	_cleanup_close_ int fd = open(rel, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (cvol_layer_import(f->store, ids[0], NULL, fd, false, NULL, &err) < 0)
		fail_msg("import the first layer: %s", err.msg);

	f->tar[1].data[FIRST_FILE_DATA] ^= 0x20;
	snprintf(rel, sizeof(rel), "%s/layer.tar", f->tar[1].hex);
	put(f, rel, f->tar[1].data, f->tar[1].len);
	assert_int_equal(cvol_image_import(f->store, f->img, NULL, NULL, &top, &err), -EBADMSG);
	assert_null(top);
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(layers[0].id, ids[0]);
	cvol_layer_info_free(layers, n);
	assert_diff_file(f, ids[0], "etc/os-release", "ID=cvol-test\n");
	assert_int_equal(staging_entries(f), 0);
}

static void test_config_too_few_diff_ids(void **state)
{
	struct fixture *f = *state;
	write_docker(f, 1);
	assert_refused(f, EBADMSG, "the image config lists 1 diff_ids for 2 layers");
}

static void test_manifest_not_json(void **state)
{
	struct fixture *f = *state;
	const char *text = "[{\"Config\": \"x.json\", \"Layers\": [";
	json_error_t jerr;
	char msg[512];

	write_docker(f, N_LAYERS);
	put_str(f, "manifest.json", text);
	assert_null(json_loads(text, 0, &jerr));
	snprintf(msg, sizeof(msg), "`manifest.json` is not valid JSON: %s (line %d)", jerr.text, jerr.line);
	assert_refused(f, EBADMSG, msg);
}

static void test_bad_digest(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"sha256:abc",
		"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha256:../../../../../../etc/passwd",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	};
	char msg[512], *index = NULL;

	write_oci(f, &(struct oci_opts){ 0 });
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_true(asprintf(&index, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"%s\"}]}",
				     bad[i]) > 0);
		put_str(f, "index.json", index);
		free(index);
		snprintf(msg, sizeof(msg), "index.json: `%s` is not a sha256 digest", bad[i]);
		assert_refused(f, EBADMSG, msg);
	}
	/* In the manifest, for a layer (a fresh index.json names the new manifest). */
	write_oci(f, &(struct oci_opts){ .bad_top_digest = "sha256:xyz" });
	assert_refused(f, EBADMSG, "`sha256:xyz` is not a sha256 digest");
}

static void test_no_manifest_nor_index(void **state)
{
	struct fixture *f = *state;
	put_str(f, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	assert_refused(f, EINVAL, "neither manifest.json (docker save) nor index.json (OCI layout) found");
}

static void test_index_without_manifests(void **state)
{
	struct fixture *f = *state;
	write_oci(f, &(struct oci_opts){ 0 });
	put_str(f, "index.json", "{\"schemaVersion\":2,\"manifests\":[]}");
	assert_refused(f, EBADMSG, "index.json lists no manifests");
}

/* A layer path longer than a path can be is refused, not cut to one that names another file. */
static void test_layer_path_too_long(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char path[PATH_MAX + 100], *manifest = NULL, *top = NULL;

	write_docker(f, N_LAYERS);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_true(asprintf(&manifest, "[{\"Config\":\"x.json\",\"Layers\":[\"%s\"]}]", path) > 0);
	put_str(f, "manifest.json", manifest);
	free(manifest);
	assert_int_equal(cvol_image_import(f->store, f->img, NULL, NULL, &top, &err), -ENAMETOOLONG);
	assert_int_equal(err.code, ENAMETOOLONG);
	assert_null(top);
	assert_non_null(strstr(err.msg, "is too long"));
}

/* index.json wrapped in @n more indexes, each naming the one below by its digest. */
static void nest_index(const struct fixture *f, size_t n)
{
	char hex[CVOL_SHA256_HEX_LEN + 1], *text = NULL, *index = NULL;
	_cleanup_close_ int dirfd = open(f->img, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dirfd >= 0);
	assert_int_equal(file_read_text(dirfd, "index.json", &text, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		put_blob_str(f, text, hex);
		assert_true(asprintf(&index,
				     "{\"schemaVersion\":2,\"mediaType\":\"application/"
				     "vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":"
				     "\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:%s\","
				     "\"size\":%zu}]}",
				     hex, strlen(text)) > 0);
		free(text);
		text = TAKE_PTR(index);
	}
	put_str(f, "index.json", text);
	free(text);
}

/* Indexes nest 8 deep, index.json included (an image for several platforms takes 2); a ninth
 * is refused with one line that says so, without recursion (40,000 crashed the import). */
static void test_oci_nested_index_depth(void **state)
{
	struct fixture *f = *state;
	char ids[N_LAYERS][80];

	write_oci(f, &(struct oci_opts){ 0 });
	nest_index(f, 7);
	assert_imports(f, f->tar[0].len + f->tar[1].len);
	expected_ids(f, ids);
	for (size_t i = N_LAYERS; i > 0; i--)
		assert_int_equal(cvol_layer_remove(f->store, ids[i - 1], NULL), 0);
	nest_index(f, 1);
	assert_refused(f, ELOOP, "index.json nests indexes over 8 deep");
}

/* An image tar of @n empty members named by @name_len bytes each, gzipped; its path goes to
 * @path. */
static void write_member_tar(const struct fixture *f, size_t n, size_t name_len, char *path, size_t size)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char *name = malloc(name_len + 1);

	assert_non_null(name);
	snprintf(path, size, "%s/image.tar.gz", f->img);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	memset(name, 'm', name_len);
	name[name_len] = '\0';
	for (size_t i = 0; i < n; i++) {
		snprintf(name, name_len + 1, "%09zu", i);
		name[9] = 'm';
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 0);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	free(name);
}

/* Import of the image tar at @path must fail with -@code and "import image `@path`: @msg". */
static void assert_tar_refused(struct fixture *f, const char *path, int code, const char *msg)
{
	struct cvol_error err = { 0 };
	char want[2048], *top = NULL;

	snprintf(want, sizeof(want), "import image `%s`: %s", path, msg);
	assert_int_equal(cvol_image_import(f->store, path, NULL, NULL, &top, &err), -code);
	assert_string_equal(err.msg, want);
	assert_null(top);
}

/* Every member counts toward a bound, empty or not: 10,001 are refused. */
static void test_tar_too_many_members(void **state)
{
	struct fixture *f = *state;
	char path[512];
	write_member_tar(f, 10001, 20, path, sizeof(path));
	assert_tar_refused(f, path, E2BIG, "the image tar holds over 10000 members");
}

/* The names of the members kept in memory count toward the 64 MiB they may take: 1,000 empty
 * members with 70,000-byte names are refused (their data alone is 0 bytes). */
static void test_tar_member_names_count(void **state)
{
	struct fixture *f = *state;
	char path[512];
	write_member_tar(f, 1000, 70000, path, sizeof(path));
	assert_tar_refused(f, path, E2BIG,
			   "the image tar's small members take over 64 MiB (data, names and bookkeeping)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_docker_save, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_layout_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_layer_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_blob_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_config_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_uncompressed_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_layer_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_layer_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_keeps_reused_layer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_too_few_diff_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_not_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_manifest_nor_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_without_manifests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layer_path_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oci_nested_index_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tar_too_many_members, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tar_member_names_count, setup, teardown),
	};
	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
