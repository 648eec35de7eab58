/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `docker save` output or an OCI image layout (a directory or a tar of one) into the
 * layer store: read the manifest, check every blob's sha256, import the layers in
 * order as a chain named by their chain IDs, and reuse the layers already there. */
#include "../layers/layers-internal.h"
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/sha256.h"

#define DIGEST_PREFIX "sha256:"

/* One layer of the image: the file that holds it, and the digests to check. */
struct image_layer {
	char path[PATH_MAX];  /* beneath the image root */
	char blob_digest[80]; /* "sha256:..." of the file as stored, or "" */
	char diff_id[80];     /* "sha256:..." of the uncompressed tar (config rootfs.diff_ids) */
	uint64_t bytes;	      /* size of the file, found while checking its digest */
};

/* A member of an image tar small enough to keep in memory (JSON, small blobs). */
struct small_file {
	char *name;
	char *data;
	size_t len;
};

#define SMALL_FILE_MAX	      (1024 * 1024)
#define SMALL_FILES_TOTAL_MAX (64 * 1024 * 1024) /* an image tar's metadata, held in memory */

/* An image as a directory (rootfd), or as a tar (tar_path) read in place: its small
 * members are kept in memory, its layers streamed out of it, never copied to disk. */
struct image {
	int rootfd;
	const char *tar_path;
	struct small_file *small;
	size_t n_small;
	size_t small_bytes;
	struct image_layer *layers;
	size_t n_layers;
};

/* The path of a tar member without "./" or "/" in front. */
static const char *member_name(const char *raw)
{
	while (raw[0] == '.' && raw[1] == '/')
		raw += 2;
	while (raw[0] == '/')
		raw++;
	return raw;
}

/* Open the image tar for reading its members from the start. */
static struct archive *open_image_tar(const struct image *img, struct cvol_error *err)
{
	struct archive *a = archive_read_new();
	if (!a) {
		cvol_error_set(err, ENOMEM, "read the image");
		return NULL;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, img->tar_path, 128 * 1024) != ARCHIVE_OK) {
		cvol_error_setx(err, EINVAL, "read `%s`: %s", img->tar_path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int keep_small(struct image *img, const char *name, struct archive *a, size_t len,
		      struct cvol_error *err)
{
	img->small_bytes += len;
	if (img->small_bytes > SMALL_FILES_TOTAL_MAX)
		return cvol_error_setx(err, E2BIG, "the image tar holds over %d MiB of small files",
				       SMALL_FILES_TOTAL_MAX >> 20);
	struct small_file *grown = realloc(img->small, (img->n_small + 1) * sizeof(*grown));
	if (!grown)
		return cvol_error_set(err, ENOMEM, "read the image");
	img->small = grown;
	struct small_file *f = &img->small[img->n_small];
	*f = (struct small_file){ .name = strdup(name), .data = malloc(len + 1), .len = len };
	img->n_small++;
	if (!f->name || !f->data)
		return cvol_error_set(err, ENOMEM, "read the image");
	if (archive_read_data(a, f->data, len) != (la_ssize_t)len)
		return cvol_error_setx(err, EBADMSG, "read `%s` from the image: %s", name,
				       archive_error_string(a));
	f->data[len] = '\0';
	return 0;
}

/* One pass over the image tar: keep its small members (the manifests and configs). */
static int index_image_tar(struct image *img, struct cvol_error *err)
{
	struct archive_entry *e;
	int ar, r = 0;
	struct archive *a = open_image_tar(img, err);
	if (!a)
		return -err->code;
	while (r == 0 && ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN))
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) <= SMALL_FILE_MAX)
			r = keep_small(img, member_name(archive_entry_pathname(e)), a,
				       (size_t)archive_entry_size(e), err);
	if (r == 0 && ar != ARCHIVE_EOF)
		r = cvol_error_setx(err, EBADMSG, "read `%s`: %s", img->tar_path, archive_error_string(a));
	archive_read_free(a);
	return r;
}

static const struct small_file *find_small(const struct image *img, const char *name)
{
	for (size_t i = 0; i < img->n_small; i++)
		if (strcmp(img->small[i].name, name) == 0)
			return &img->small[i];
	return NULL;
}

static bool image_has(const struct image *img, const char *name)
{
	struct stat st;
	return img->tar_path ? find_small(img, name) != NULL : fstatat(img->rootfd, name, &st, 0) == 0;
}

/* A layer's bytes, from a file of a directory image, a small member, or the image tar in place. */
struct layer_reader {
	int fd;
	struct archive *outer;
	const struct small_file *small;
	bool small_done;
	struct sha256 hash; /* of every byte handed out */
	const char *expect;	 /* the digest those bytes must have ("sha256:..."), or NULL */
	const char *path;
	char buf[128 * 1024];
};

static la_ssize_t layer_read_raw(struct layer_reader *lr, const void **buf);

/* libarchive's read callback: the layer's bytes, hashed on the way. */
static la_ssize_t layer_read(struct archive *a, void *ctx, const void **buf)
{
	struct layer_reader *lr = ctx;
	(void)a;
	la_ssize_t n = layer_read_raw(lr, buf);
	if (n > 0)
		sha256_update(&lr->hash, *buf, (size_t)n);
	return n;
}

/* After an import: read what the unpacker left unread, and refuse bytes that are not the
 * ones checked before (the image changed in between). */
static int layer_read_verify(void *ctx, struct cvol_error *err)
{
	struct layer_reader *lr = ctx;
	const void *buf;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	la_ssize_t n;

	while ((n = layer_read(NULL, lr, &buf)) > 0)
		;
	if (n < 0)
		return cvol_error_setx(err, EIO, "read layer `%s`", lr->path);
	sha256_final_hex(&lr->hash, hex);
	if (lr->expect && strcmp(hex, lr->expect + strlen(DIGEST_PREFIX)) != 0)
		return cvol_error_setx(err, EBADMSG,
				       "layer `%s` changed while it was imported (now sha256:%s)", lr->path,
				       hex);
	return 0;
}

static la_ssize_t layer_read_raw(struct layer_reader *lr, const void **buf)
{
	if (lr->small) {
		*buf = lr->small->data;
		la_ssize_t n = lr->small_done ? 0 : (la_ssize_t)lr->small->len;
		lr->small_done = true;
		return n;
	}
	if (lr->outer) {
		size_t size;
		la_int64_t offset;
		int ar = archive_read_data_block(lr->outer, buf, &size, &offset);
		return ar == ARCHIVE_EOF ? 0 : ar == ARCHIVE_OK ? (la_ssize_t)size : -1;
	}
	ssize_t n;
	while ((n = read(lr->fd, lr->buf, sizeof(lr->buf))) < 0 && errno == EINTR)
		;
	*buf = lr->buf;
	return n;
}

static void layer_reader_close(struct layer_reader *lr)
{
	cvol_closep(&lr->fd);
	if (lr->outer)
		archive_read_free(lr->outer);
	free(lr);
}

static struct layer_reader *layer_reader_open(const struct image *img, const char *path,
					      struct cvol_error *err)
{
	struct layer_reader *lr = calloc(1, sizeof(*lr));
	struct archive_entry *e;
	int ar;

	if (!lr) {
		cvol_error_set(err, ENOMEM, "read layer `%s`", path);
		return NULL;
	}
	lr->fd = -1;
	lr->path = path;
	sha256_init(&lr->hash);
	if (!img->tar_path) {
		struct stat st;
		lr->fd = openat_beneath(img->rootfd, path, O_RDONLY | O_NONBLOCK, 0);
		if (lr->fd >= 0 && fstat(lr->fd, &st) == 0 && S_ISREG(st.st_mode))
			return lr;
		if (lr->fd >= 0)
			cvol_error_setx(err, EBADMSG, "layer `%s` is not a regular file", path);
		else
			cvol_error_set(err, -lr->fd, "open layer `%s`", path);
	} else if ((lr->small = find_small(img, path))) {
		return lr;
	} else if ((lr->outer = open_image_tar(img, err))) {
		while ((ar = archive_read_next_header(lr->outer, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN)
			if (strcmp(member_name(archive_entry_pathname(e)), path) == 0)
				return lr;
		cvol_error_setx(err, ENOENT, "open layer `%s`: not in the image", path);
	}
	layer_reader_close(lr);
	return NULL;
}

/* The small file @path of the image, read whole (at most SMALL_FILE_MAX) into *@ret, which the
 * caller frees. */
static int read_small(const struct image *img, const char *path, char **ret, size_t *ret_len,
		      struct cvol_error *err)
{
	const struct small_file *f = img->tar_path ? find_small(img, path) : NULL;
	if (img->tar_path) {
		if (!f)
			return cvol_error_setx(err, ENOENT, "open `%s`: not in the image (or over 1 MiB)",
					       path);
		if (!(*ret = malloc(f->len + 1)))
			return cvol_error_set(err, ENOMEM, "read `%s`", path);
		memcpy(*ret, f->data, f->len);
		(*ret)[f->len] = '\0';
		*ret_len = f->len;
		return 0;
	}
	/* a directory image: the exact bytes (the digest covers every one) */
	_cleanup_close_ int fd = openat_beneath(img->rootfd, path, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;
	if (fd < 0)
		return cvol_error_set(err, -fd, "open `%s`", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return cvol_error_setx(err, EBADMSG, "`%s` is not a regular file", path);
	_cleanup_free_ char *data = malloc(SMALL_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	if (!data)
		return cvol_error_set(err, ENOMEM, "read `%s`", path);
	while (len < SMALL_FILE_MAX && (n = read(fd, data + len, SMALL_FILE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cvol_error_set(err, errno, "read `%s`", path);
		len += (size_t)n;
	}
	data[len] = '\0';
	*ret = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

static json_t *load_json(const struct image *img, const char *path, const char *expect_digest,
			 struct cvol_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_small(img, path, &data, &len, err) < 0)
		return NULL;
	json_t *doc = NULL;
	if (expect_digest && *expect_digest) {
		struct sha256 s;
		char hex[CVOL_SHA256_HEX_LEN + 1];
		sha256_init(&s);
		sha256_update(&s, data, len);
		sha256_final_hex(&s, hex);
		if (strcmp(hex, expect_digest + strlen(DIGEST_PREFIX)) != 0) {
			cvol_error_setx(err, EBADMSG, "`%s` does not match its digest %s", path,
					expect_digest);
			goto out;
		}
	}
	json_error_t jerr;
	doc = json_loadb(data, len, 0, &jerr);
	if (!doc)
		cvol_error_setx(err, EBADMSG, "`%s` is not valid JSON: %s (line %d)", path, jerr.text,
				jerr.line);
out:
	return doc;
}

static bool is_sha256_digest(const char *d)
{
	size_t plen = strlen(DIGEST_PREFIX);
	return d && strncmp(d, DIGEST_PREFIX, plen) == 0 && strlen(d) == plen + CVOL_SHA256_HEX_LEN &&
	       strspn(d + plen, "0123456789abcdef") == CVOL_SHA256_HEX_LEN;
}

static int blob_path(const char *digest, char *buf, size_t size, struct cvol_error *err)
{
	if (!is_sha256_digest(digest))
		return cvol_error_setx(err, EBADMSG, "`%s` is not a sha256 digest",
				       digest ? digest : "(none)");
	return path_format(buf, size, err, "blobs/sha256/%s", digest + strlen(DIGEST_PREFIX));
}

/* rootfs.diff_ids of the image config, one per layer. */
static int read_diff_ids(json_t *config, struct image *img, struct cvol_error *err)
{
	json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != img->n_layers)
		return cvol_error_setx(err, EBADMSG, "the image config lists %zu diff_ids for %zu layers",
				       json_is_array(ids) ? json_array_size(ids) : 0, img->n_layers);
	for (size_t i = 0; i < img->n_layers; i++) {
		const char *d = json_string_value(json_array_get(ids, i));
		if (!is_sha256_digest(d))
			return cvol_error_setx(err, EBADMSG,
					       "diff_id %zu of the image config is not a sha256 digest", i);
		snprintf(img->layers[i].diff_id, sizeof(img->layers[i].diff_id), "%s", d);
	}
	return 0;
}

static int alloc_layers(struct image *img, size_t n, struct cvol_error *err)
{
	if (n == 0)
		return cvol_error_setx(err, EBADMSG, "the image has no layers");
	if (n > CVOL_OVERLAY_MAX_LOWERS + 1)
		return cvol_error_setx(err, E2BIG, "the image has %zu layers; overlay stacks at most %d", n,
				       CVOL_OVERLAY_MAX_LOWERS + 1);
	img->layers = calloc(n, sizeof(*img->layers));
	if (!img->layers)
		return cvol_error_set(err, ENOMEM, "read the image");
	img->n_layers = n;
	return 0;
}

/* `docker save`: manifest.json = [{"Config": "...", "Layers": ["<id>/layer.tar" | "blobs/sha256/<hex>",
 * ...]}] */
static int read_docker_manifest(struct image *img, json_t *manifest, struct cvol_error *err)
{
	json_t *entry = json_array_get(manifest, 0);
	const char *config_path = json_string_value(json_object_get(entry, "Config"));
	json_t *layers = json_object_get(entry, "Layers");
	if (!config_path || !json_is_array(layers))
		return cvol_error_setx(err, EBADMSG, "manifest.json has no Config and Layers");
	int r = alloc_layers(img, json_array_size(layers), err);
	for (size_t i = 0; r == 0 && i < img->n_layers; i++) {
		const char *p = json_string_value(json_array_get(layers, i));
		if (!p)
			return cvol_error_setx(err, EBADMSG, "manifest.json: layer %zu is not a path", i);
		r = path_format(img->layers[i].path, sizeof(img->layers[i].path), err, "%s", p);
		/* a newer docker save: the name is the digest */
		if (r == 0 && strncmp(p, "blobs/sha256/", 13) == 0)
			snprintf(img->layers[i].blob_digest, sizeof(img->layers[i].blob_digest),
				 DIGEST_PREFIX "%s", p + 13);
	}
	if (r < 0)
		return r;
	const char *config_digest = NULL;
	char config_blob[128];
	if (strncmp(config_path, "blobs/sha256/", 13) == 0) {
		snprintf(config_blob, sizeof(config_blob), DIGEST_PREFIX "%s", config_path + 13);
		config_digest = config_blob;
	}
	json_t *config = load_json(img, config_path, config_digest, err);
	if (!config)
		return -err->code;
	r = read_diff_ids(config, img, err);
	json_decref(config);
	return r;
}

/* OCI layout: index.json -> manifest blob -> config blob and layer blobs, each by digest. */
static int read_oci_index(struct image *img, json_t *index, struct cvol_error *err)
{
	char path[128];
	json_t *manifests = json_object_get(index, "manifests");
	if (!json_is_array(manifests) || json_array_size(manifests) == 0)
		return cvol_error_setx(err, EBADMSG, "index.json lists no manifests");
	const char *digest = json_string_value(json_object_get(json_array_get(manifests, 0), "digest"));
	int r = blob_path(digest, path, sizeof(path), err);
	if (r < 0)
		return cvol_error_wrap(err, r, "index.json");
	json_auto_t *manifest = load_json(img, path, digest, err);
	if (!manifest)
		return -err->code;
	if (json_object_get(manifest, "manifests")) /* an index of indexes: take its first manifest */
		return read_oci_index(img, manifest, err);
	json_t *layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers))
		return cvol_error_setx(err, EBADMSG, "the image manifest has no layers");
	r = alloc_layers(img, json_array_size(layers), err);
	for (size_t i = 0; r == 0 && i < img->n_layers; i++) {
		const char *d = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
		r = blob_path(d, img->layers[i].path, sizeof(img->layers[i].path), err);
		if (r == 0)
			snprintf(img->layers[i].blob_digest, sizeof(img->layers[i].blob_digest), "%s", d);
	}
	if (r < 0)
		return r;
	const char *config_digest =
		json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
	r = blob_path(config_digest, path, sizeof(path), err);
	if (r < 0)
		return r;
	json_t *config = load_json(img, path, config_digest, err);
	if (!config)
		return -err->code;
	r = read_diff_ids(config, img, err);
	json_decref(config);
	return r;
}

static int read_image(struct image *img, struct cvol_error *err)
{
	if (image_has(img, "manifest.json")) {
		json_auto_t *manifest = load_json(img, "manifest.json", NULL, err);
		return manifest ? read_docker_manifest(img, manifest, err) : -err->code;
	}
	if (image_has(img, "index.json")) {
		json_auto_t *index = load_json(img, "index.json", NULL, err);
		return index ? read_oci_index(img, index, err) : -err->code;
	}
	return cvol_error_setx(err, EINVAL,
			       "neither manifest.json (docker save) nor index.json (OCI layout) found");
}

/* chain ID: the first layer's diff_id, then sha256("<parent chain ID> <diff_id>"). */
static void chain_id(const char *parent_chain, const char *diff_id, char *ret, size_t size)
{
	if (!parent_chain) {
		snprintf(ret, size, "%s", diff_id);
		return;
	}
	struct sha256 s;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	sha256_init(&s);
	sha256_update(&s, parent_chain, strlen(parent_chain));
	sha256_update(&s, " ", 1);
	sha256_update(&s, diff_id, strlen(diff_id));
	sha256_final_hex(&s, hex);
	snprintf(ret, size, DIGEST_PREFIX "%s", hex);
}

/* The store id of a chain ID: "sha256-<hex>" (a valid layer id). */
static void layer_id_of(const char *chain, char *ret, size_t size)
{
	snprintf(ret, size, "sha256-%s", chain + strlen(DIGEST_PREFIX));
}

/* sha256 of a layer's bytes as stored, read through @lr to its end. */
static int sha256_stored(struct layer_reader *lr, char hex[CVOL_SHA256_HEX_LEN + 1], uint64_t *ret_bytes)
{
	const void *buf;
	la_ssize_t n;
	uint64_t bytes = 0;

	while ((n = layer_read(NULL, lr, &buf)) > 0)
		bytes += (uint64_t)n;
	if (n < 0)
		return -EIO;
	sha256_final_hex(&lr->hash, hex);
	*ret_bytes = bytes;
	return 0;
}

/* sha256 of the decompressed stream (gzip, zstd... or none), via libarchive's raw format. */
static int sha256_uncompressed(struct layer_reader *lr, char hex[CVOL_SHA256_HEX_LEN + 1], const char *path,
			       struct cvol_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct sha256 s;
	int r = 0;

	if (!a)
		return cvol_error_set(err, ENOMEM, "read layer `%s`", path);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	sha256_init(&s);
	if (archive_read_open(a, lr, NULL, layer_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = cvol_error_setx(err, EBADMSG, "read layer `%s`: %s", path, archive_error_string(a));
	} else {
		char buf[128 * 1024];
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			sha256_update(&s, buf, (size_t)n);
		if (n < 0)
			r = cvol_error_setx(err, EBADMSG, "read layer `%s`: %s", path,
					    archive_error_string(a));
	}
	archive_read_free(a);
	if (r == 0)
		sha256_final_hex(&s, hex);
	return r;
}

/* Check a layer against its digests: the stored blob (or, for an uncompressed
 * layer.tar, its diff_id), and for a compressed blob the diff_id of its tar too. */
static int check_layer_digest(const struct image *img, struct image_layer *l, struct cvol_error *err)
{
	char hex[CVOL_SHA256_HEX_LEN + 1];
	struct layer_reader *lr = layer_reader_open(img, l->path, err);
	if (!lr)
		return -err->code;
	int r = sha256_stored(lr, hex, &l->bytes);
	layer_reader_close(lr);
	if (r < 0)
		return cvol_error_set(err, -r, "read layer `%s`", l->path);
	const char *want = *l->blob_digest ? l->blob_digest : l->diff_id;
	if (strcmp(hex, want + strlen(DIGEST_PREFIX)) != 0)
		return cvol_error_setx(err, EBADMSG,
				       "layer `%s` does not match its digest %s (it is sha256:%s)", l->path,
				       want, hex);
	if (!*l->blob_digest || strcmp(l->blob_digest, l->diff_id) == 0)
		return 0; /* the blob is the uncompressed tar: its digest was the diff_id */
	/* A compressed blob: its tar must be the diff_id the layer is named by. */
	if (!(lr = layer_reader_open(img, l->path, err)))
		return -err->code;
	r = sha256_uncompressed(lr, hex, l->path, err);
	layer_reader_close(lr);
	if (r < 0)
		return r;
	if (strcmp(hex, l->diff_id + strlen(DIGEST_PREFIX)) != 0)
		return cvol_error_setx(
			err, EBADMSG,
			"layer `%s` uncompressed does not match its digest %s (it is sha256:%s)", l->path,
			l->diff_id, hex);
	return 0;
}

static int import_one(struct cvol_layer_store *store, const struct image *img, const struct image_layer *l,
		      const char *id, const char *parent, struct cvol_error *err)
{
	struct layer_reader *lr = layer_reader_open(img, l->path, err);
	if (!lr)
		return -err->code;
	lr->expect = *l->blob_digest ? l->blob_digest : l->diff_id;
	int r = layer_import_read(store, id, parent, layer_read, layer_read_verify, lr, err);
	layer_reader_close(lr);
	return r;
}

static int import_layers(struct cvol_layer_store *store, struct image *img, cvol_image_progress_fn progress,
			 void *data, char **ret_top, struct cvol_error *err)
{
	char chain[80] = "", id[80] = "", parent[80] = "";
	struct cvol_image_progress p = { .layers_total = img->n_layers };

	/* Every digest before any layer is made: a corrupted image adds nothing to the store
	 * (and each import checks its bytes again, in case the image changes meanwhile). */
	for (size_t i = 0; i < img->n_layers; i++) {
		int r = check_layer_digest(img, &img->layers[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < img->n_layers; i++) {
		struct image_layer *l = &img->layers[i];
		chain_id(i ? chain : NULL, l->diff_id, chain, sizeof(chain));
		snprintf(parent, sizeof(parent), "%s", id);
		layer_id_of(chain, id, sizeof(id));
		struct stat st;
		char diff[128];
		snprintf(diff, sizeof(diff), "%s/diff", id);
		if (fstatat(store->overlay_fd, diff, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			p.layers_reused++;
		} else {
			int r = import_one(store, img, l, id, i ? parent : NULL, err);
			if (r < 0)
				return cvol_error_wrap(err, r, "layer %zu of %zu (`%s`)", i + 1, img->n_layers,
						       l->path);
		}
		p.layers_done++;
		p.bytes_done += l->bytes;
		if (progress)
			progress(&p, data);
	}
	*ret_top = strdup(id);
	return *ret_top ? 0 : cvol_error_set(err, ENOMEM, "import the image");
}

int cvol_image_import(struct cvol_layer_store *store, const char *path, cvol_image_progress_fn progress, void *data,
		      char **ret_top_id, struct cvol_error *err)
{
	struct image img = { .rootfd = -1 };
	struct cvol_error local;
	struct stat st;
	int r = 0;

	if (!err) /* the helpers return -err->code after a NULL */
		err = &local;

	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cvol_error_set(err, errno, "import image `%s`", path);
	if (S_ISDIR(st.st_mode)) {
		img.rootfd = TAKE_FD(fd);
	} else {
		img.tar_path = path; /* read in place: nothing of it is copied to disk */
		r = index_image_tar(&img, err);
	}
	if (r == 0)
		r = read_image(&img, err);
	if (r == 0)
		r = import_layers(store, &img, progress, data, ret_top_id, err);
	cvol_closep(&img.rootfd);
	for (size_t i = 0; i < img.n_small; i++) {
		free(img.small[i].name);
		free(img.small[i].data);
	}
	free(img.small);
	free(img.layers);
	if (r < 0)
		return cvol_error_wrap(err, r, "import image `%s`", path);
	return 0;
}
