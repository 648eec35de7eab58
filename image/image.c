/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `docker save` output or an OCI image layout (a directory or a tar of one) into the
 * layer store: read the manifest, import the layers in order as a chain named by their
 * chain IDs, reuse the layers already there, and check every blob's sha256 on the one
 * read that imports it (a layer appears only once its bytes match). */
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/fs.h"
#include "../common/sha256.h"

#define DIGEST_PREFIX "sha256:"

/* One layer of the image: the file that holds it, and the digests to check. */
struct image_layer {
	char path[PATH_MAX];  /* beneath the image root */
	char blob_digest[80]; /* "sha256:..." of the file as stored, or "" */
	char diff_id[80];     /* "sha256:..." of the uncompressed tar (config rootfs.diff_ids) */
	uint64_t bytes;	      /* bytes of the file read while importing it */
};

/* A member of an image tar small enough to keep in memory (JSON, small blobs). */
struct small_file {
	char *name;
	char *data;
	size_t len;
};

#define SMALL_FILE_MAX	      (1024 * 1024)
#define SMALL_FILES_TOTAL_MAX (64 * 1024 * 1024) /* an image tar's metadata, held in memory */
/* What one kept member costs besides its data and name: its slot in the array and the
 * allocator's headers of its two blocks. Counted with them toward SMALL_FILES_TOTAL_MAX. */
#define SMALL_FILE_OVERHEAD (sizeof(struct small_file) + 2 * 16)
/* Members of an image tar, of any type and size. A `docker save` holds about four for each
 * layer, an OCI layout one for each blob: 10,000 is room for a tar of many images, and keeps
 * a tar of empty members with long names to a few MiB before it is refused. */
#define IMAGE_MEMBERS_MAX 10000
/* Indexes an OCI layout may nest, index.json included, above its image manifest: an image
 * for several platforms takes 2, and nothing in the spec needs many more. */
#define OCI_INDEX_DEPTH_MAX 8

/* An image as a directory (rootfd), or as a tar (tar_path) read in place: its small
 * members are kept in memory, its layers streamed out of it, never copied to disk. */
struct image {
	int rootfd;
	const char *tar_path;
	struct small_file *small;
	size_t n_small, cap_small;
	size_t small_bytes; /* data, names and SMALL_FILE_OVERHEAD of each kept member */
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
	img->small_bytes += len + strlen(name) + 1 + SMALL_FILE_OVERHEAD;
	if (img->small_bytes > SMALL_FILES_TOTAL_MAX)
		return cvol_error_setx(err, E2BIG,
				       "the image tar's small members take over %d MiB (data, names and "
				       "bookkeeping)",
				       SMALL_FILES_TOTAL_MAX >> 20);
	if (img->n_small == img->cap_small) {
		size_t cap = img->cap_small ? img->cap_small * 2 : 64;
		struct small_file *grown = reallocarray(img->small, cap, sizeof(*grown));
		if (!grown)
			return cvol_error_set(err, ENOMEM, "read the image");
		img->small = grown;
		img->cap_small = cap;
	}
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
	size_t members = 0;
	int ar, r = 0;
	struct archive *a = open_image_tar(img, err);
	if (!a)
		return -err->code;
	while (r == 0 && ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN)) {
		if (++members > IMAGE_MEMBERS_MAX)
			r = cvol_error_setx(err, E2BIG, "the image tar holds over %d members",
					    IMAGE_MEMBERS_MAX);
		else if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) <= SMALL_FILE_MAX &&
			 archive_entry_pathname(e))
			r = keep_small(img, member_name(archive_entry_pathname(e)), a,
				       (size_t)archive_entry_size(e), err);
	}
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

/*
 * SHA-256 on a thread of its own, fed in order by the reader, so that hashing a layer (about
 * a fifth of importing it, even with libcrypto's SHA extensions) runs on the second core while
 * the importing thread unpacks and writes. The reader's buffers are libarchive's or its own,
 * valid only until its next read, so each block is copied (memcpy: about a tenth of the
 * hashing) into one of HASH_SLOTS slots; the reader waits only when all are full. Without a
 * thread (pthread_create failed), blocks are hashed in place, as they come.
 */
#define HASH_SLOTS     4
#define HASH_SLOT_SIZE (256 * 1024)

struct hasher {
	struct sha256 sha;
	unsigned char *slots; /* HASH_SLOTS * HASH_SLOT_SIZE; NULL: hash in place */
	size_t len[HASH_SLOTS];
	size_t head, count; /* the oldest filled slot, and how many are filled */
	bool closing;	    /* no more blocks: the thread ends once it has hashed them */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a slot filled or freed, or closing (only one side ever waits) */
};

static void *hasher_run(void *data)
{
	struct hasher *h = data;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->count == 0 && !h->closing)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->count == 0)
			break;
		size_t slot = h->head;
		pthread_mutex_unlock(&h->lock);
		sha256_update(&h->sha, h->slots + slot * HASH_SLOT_SIZE, h->len[slot]);
		pthread_mutex_lock(&h->lock);
		h->head = (h->head + 1) % HASH_SLOTS;
		h->count--;
		pthread_cond_signal(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Start a digest and its thread; returns 0 or -errno. */
static int hasher_start(struct hasher *h)
{
	*h = (struct hasher){ 0 };
	int r = sha256_init(&h->sha);
	if (r < 0)
		return r;
	h->slots = malloc(HASH_SLOTS * HASH_SLOT_SIZE);
	if (!h->slots)
		return 0; /* hash in place */
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->thread, NULL, hasher_run, h) != 0) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h->slots);
		h->slots = NULL;
	}
	return 0;
}

/* Hash @len more bytes (copied: @data may change once this returns). */
static void hasher_add(struct hasher *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (!h->slots) {
		sha256_update(&h->sha, data, len);
		return;
	}
	while (len > 0) {
		size_t n = len < HASH_SLOT_SIZE ? len : HASH_SLOT_SIZE;
		pthread_mutex_lock(&h->lock);
		while (h->count == HASH_SLOTS)
			pthread_cond_wait(&h->cond, &h->lock);
		size_t slot = (h->head + h->count) % HASH_SLOTS; /* free: the thread reads only filled ones */
		pthread_mutex_unlock(&h->lock);
		memcpy(h->slots + slot * HASH_SLOT_SIZE, p, n);
		h->len[slot] = n;
		pthread_mutex_lock(&h->lock);
		h->count++;
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		p += n;
		len -= n;
	}
}

/* Let the thread hash what it holds and end; then it is a plain digest. */
static void hasher_join(struct hasher *h)
{
	if (!h->slots)
		return;
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h->slots);
	h->slots = NULL;
}

/* Finish: every byte added, hashed; returns 0 or -errno. */
static int hasher_final_hex(struct hasher *h, char hex[CVOL_SHA256_HEX_LEN + 1])
{
	hasher_join(h);
	return sha256_final_hex(&h->sha, hex);
}

/* Stop, whether or not finished. */
static void hasher_done(struct hasher *h)
{
	hasher_join(h);
	sha256_done(&h->sha);
}

/* A layer's bytes as stored: a file of a directory image, a small member, or a member of the
 * image tar read in place. Every byte handed out is hashed into @stored, once. */
struct layer_reader {
	int fd;
	struct archive *outer;
	const struct small_file *small;
	bool eof;
	const char *path;
	struct hasher stored;
	uint64_t bytes;
	char buf[128 * 1024];
};

/* The next bytes of the layer as stored; 0 at its end, or -errno with @err set. */
static ssize_t stored_read(struct layer_reader *lr, const void **buf, struct cvol_error *err)
{
	ssize_t n;

	*buf = lr->buf;
	if (lr->eof)
		return 0;
	if (lr->small) {
		*buf = lr->small->data;
		n = (ssize_t)lr->small->len;
		lr->eof = true; /* handed out whole, once */
	} else if (lr->outer) {
		size_t size;
		la_int64_t offset;
		int ar = archive_read_data_block(lr->outer, buf, &size, &offset);
		if (ar != ARCHIVE_OK && ar != ARCHIVE_EOF)
			return cvol_error_setx(err, EIO, "read layer `%s` from the image: %s", lr->path,
					       archive_error_string(lr->outer));
		n = ar == ARCHIVE_EOF ? 0 : (ssize_t)size;
	} else {
		while ((n = read(lr->fd, lr->buf, sizeof(lr->buf))) < 0 && errno == EINTR)
			;
		if (n < 0)
			return cvol_error_set(err, errno, "read layer `%s`", lr->path);
	}
	if (n == 0)
		lr->eof = true;
	hasher_add(&lr->stored, *buf, (size_t)n);
	lr->bytes += (uint64_t)n;
	return n;
}

static void layer_reader_close(struct layer_reader *lr)
{
	cvol_closep(&lr->fd);
	if (lr->outer)
		archive_read_free(lr->outer);
	hasher_done(&lr->stored);
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
	if ((ar = hasher_start(&lr->stored)) < 0) {
		cvol_error_set(err, -ar, "hash layer `%s`", path);
	} else if (!img->tar_path) {
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
			if (archive_entry_pathname(e) &&
			    strcmp(member_name(archive_entry_pathname(e)), path) == 0)
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
		int r = sha256_init(&s);
		sha256_update(&s, data, len);
		if (r < 0 || (r = sha256_final_hex(&s, hex)) < 0) {
			cvol_error_set(err, -r, "hash `%s`", path);
			goto out;
		}
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

/* OCI layout: index.json -> manifest blob -> config blob and layer blobs, each by digest. An
 * index may name an index (an image for several platforms): its first manifest is followed,
 * in a loop, through at most OCI_INDEX_DEPTH_MAX indexes. */
static int read_oci_index(struct image *img, json_t *index, struct cvol_error *err)
{
	char path[128];
	json_auto_t *manifest = NULL;
	json_t *cur = index;
	for (size_t depth = 1;; depth++) {
		const char *what = depth == 1 ? "index.json" : "a nested index";
		json_t *manifests = json_object_get(cur, "manifests");
		if (!json_is_array(manifests) || json_array_size(manifests) == 0)
			return cvol_error_setx(err, EBADMSG, "%s lists no manifests", what);
		const char *digest =
			json_string_value(json_object_get(json_array_get(manifests, 0), "digest"));
		int r = blob_path(digest, path, sizeof(path), err);
		if (r < 0)
			return cvol_error_wrap(err, r, "%s", what);
		json_t *next = load_json(img, path, digest, err);
		if (!next)
			return -err->code;
		json_decref(manifest);
		cur = manifest = next;
		if (!json_object_get(manifest, "manifests"))
			break; /* an image manifest */
		if (depth == OCI_INDEX_DEPTH_MAX)
			return cvol_error_setx(err, ELOOP, "index.json nests indexes over %d deep",
					       OCI_INDEX_DEPTH_MAX);
	}
	json_t *layers = json_object_get(manifest, "layers");
	if (!json_is_array(layers))
		return cvol_error_setx(err, EBADMSG, "the image manifest has no layers");
	int r = alloc_layers(img, json_array_size(layers), err);
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
static int chain_id(const char *parent_chain, const char *diff_id, char *ret, size_t size,
		    struct cvol_error *err)
{
	if (!parent_chain) {
		snprintf(ret, size, "%s", diff_id);
		return 0;
	}
	struct sha256 s;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	int r = sha256_init(&s);
	sha256_update(&s, parent_chain, strlen(parent_chain));
	sha256_update(&s, " ", 1);
	sha256_update(&s, diff_id, strlen(diff_id));
	if (r < 0 || (r = sha256_final_hex(&s, hex)) < 0)
		return cvol_error_set(err, -r, "compute a chain ID");
	snprintf(ret, size, DIGEST_PREFIX "%s", hex);
	return 0;
}

/* The store id of a chain ID: "sha256-<hex>" (a valid layer id). */
static void layer_id_of(const char *chain, char *ret, size_t size)
{
	snprintf(ret, size, "sha256-%s", chain + strlen(DIGEST_PREFIX));
}

/*
 * One layer into the store, read once. Two digests may be due:
 *   - the blob as stored: its blob digest (OCI, newer docker save), or for an uncompressed
 *     layer.tar the diff_id (the blob is the tar);
 *   - for a compressed blob, also the diff_id: the sha256 of the tar inside it.
 * The layer_reader hashes the stored bytes as they go by. For a compressed blob, a libarchive
 * reader with the raw format and every filter sits between the layer_reader and the store: it
 * decompresses (once), its output is hashed for the diff_id and handed to the store's tar
 * unpacker, which then sees a plain tar. So each byte is read once, decompressed once and
 * hashed once per digest, and no second archive or second pass is needed.
 *
 * The store unpacks into .staging/; import_finish() runs before the layer is renamed into
 * place: it reads what the unpacker left (the tar's end blocks, anything after them), ends
 * the digests and refuses a mismatch, and the store then removes the staging dir. If the
 * unpack itself fails (a corrupted blob often makes bad gzip or a bad tar header),
 * layer_import_explain() reads the rest of the blob, and a blob that is not its digest is
 * reported as such, since that is the cause.
 */
struct layer_import {
	const struct image_layer *l;
	struct layer_reader *lr;
	struct archive *raw;	    /* decompresses lr when the diff_id is a digest of its own; or NULL */
	struct hasher tar;	    /* of raw's output: the uncompressed tar */
	struct cvol_error read_err; /* lr's failure, inside raw's read callback */
	struct cvol_error verdict;  /* a digest that did not match (code 0: none found) */
	bool stored_checked;
};

/* raw's read callback: the stored bytes, hashed by the layer_reader. */
static la_ssize_t raw_read(struct archive *a, void *ctx, const void **buf)
{
	struct layer_import *li = ctx;
	ssize_t n = stored_read(li->lr, buf, &li->read_err);
	if (n < 0)
		archive_set_error(a, li->read_err.code, "%s", li->read_err.msg);
	return n < 0 ? ARCHIVE_FATAL : n;
}

/* cvol_layer_read_fn: the layer tar for the store. */
static ssize_t import_read(void *ctx, const void **ret_buf, struct cvol_error *err)
{
	struct layer_import *li = ctx;
	size_t size;
	la_int64_t offset;

	if (!li->raw)
		return stored_read(li->lr, ret_buf, err);
	int ar = archive_read_data_block(li->raw, ret_buf, &size, &offset);
	if (ar == ARCHIVE_EOF)
		return 0;
	if (ar != ARCHIVE_OK && li->read_err.code) {
		*err = li->read_err;
		return -err->code;
	}
	if (ar != ARCHIVE_OK)
		return cvol_error_setx(err, EBADMSG, "decompress layer `%s`: %s", li->l->path,
				       archive_error_string(li->raw));
	hasher_add(&li->tar, *ret_buf, size);
	return (ssize_t)size;
}

static int refuse(struct layer_import *li, struct cvol_error *err, const char *what, const char *want,
		  const char *hex)
{
	cvol_error_setx(&li->verdict, EBADMSG, "layer `%s`%s does not match its digest %s (it is sha256:%s)",
			li->l->path, what, want, hex);
	*err = li->verdict;
	return -err->code;
}

/* Read the blob to its end and check its digest as stored. */
static int check_stored(struct layer_import *li, struct cvol_error *err)
{
	const struct image_layer *l = li->l;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	const void *buf;
	ssize_t n;

	while ((n = stored_read(li->lr, &buf, err)) > 0)
		;
	if (n < 0)
		return (int)n;
	li->stored_checked = true;
	int r = hasher_final_hex(&li->lr->stored, hex);
	if (r < 0)
		return cvol_error_set(err, -r, "hash layer `%s`", l->path);
	const char *want = *l->blob_digest ? l->blob_digest : l->diff_id;
	if (strcmp(hex, want + strlen(DIGEST_PREFIX)) != 0)
		return refuse(li, err, "", want, hex);
	return 0;
}

/* cvol_layer_finish_fn: after the unpack, before the layer appears. */
static int import_finish(void *ctx, struct cvol_error *err)
{
	struct layer_import *li = ctx;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	const void *buf;
	ssize_t n;

	while ((n = import_read(li, &buf, err)) > 0) /* what the unpacker left unread */
		;
	int r = n < 0 ? (int)n : check_stored(li, err);
	if (r < 0 || !li->raw)
		return r;
	if ((r = hasher_final_hex(&li->tar, hex)) < 0)
		return cvol_error_set(err, -r, "hash layer `%s`", li->l->path);
	if (strcmp(hex, li->l->diff_id + strlen(DIGEST_PREFIX)) != 0)
		return refuse(li, err, " uncompressed", li->l->diff_id, hex);
	return 0;
}

/* After a failed import: finish the stored digest, since a blob that is not its digest is the
 * cause to report. */
static void layer_import_explain(struct layer_import *li)
{
	struct cvol_error ignored; /* check_stored() keeps its verdict in li, and needs a place for err */
	if (!li->verdict.code && !li->stored_checked && li->lr)
		(void)check_stored(li, &ignored);
}

static void layer_import_done(struct layer_import *li)
{
	if (li->raw)
		archive_read_free(li->raw);
	hasher_done(&li->tar); /* zeroed if never started: a no-op */
	if (li->lr)
		layer_reader_close(li->lr);
}

static int layer_import_open(struct layer_import *li, const struct image *img, const struct image_layer *l,
			     struct cvol_error *err)
{
	struct archive_entry *e;

	*li = (struct layer_import){ .l = l };
	if (!(li->lr = layer_reader_open(img, l->path, err)))
		return -err->code;
	if (!*l->blob_digest || strcmp(l->blob_digest, l->diff_id) == 0)
		return 0; /* the blob is the uncompressed tar: its digest is the diff_id */
	int r = hasher_start(&li->tar);
	if (r < 0)
		return cvol_error_set(err, -r, "hash layer `%s`", l->path);
	if (!(li->raw = archive_read_new()))
		return cvol_error_set(err, ENOMEM, "read layer `%s`", l->path);
	archive_read_support_filter_all(li->raw);
	archive_read_support_format_raw(li->raw);
	if (archive_read_open(li->raw, li, NULL, raw_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(li->raw, &e) != ARCHIVE_OK) {
		if (li->read_err.code) {
			*err = li->read_err;
			return -err->code;
		}
		return cvol_error_setx(err, EBADMSG, "read layer `%s`: %s", l->path,
				       archive_error_string(li->raw));
	}
	return 0;
}

/* Import layer @i of @img as @id on @parent, checking its digests on the way. */
static int import_one(struct cvol_layer_store *store, const struct image *img, size_t i, const char *id,
		      const char *parent, struct cvol_error *err)
{
	struct image_layer *l = &img->layers[i];
	struct layer_import li;
	int r = layer_import_open(&li, img, l, err);
	if (r == 0)
		r = cvol_layer_import_stream(store, id, parent, import_read, import_finish, &li, err);
	if (r < 0) {
		layer_import_explain(&li);
		if (li.verdict.code) /* just the mismatch: it names the layer */
			*err = li.verdict;
		else
			cvol_error_wrap(err, r, "layer %zu of %zu (`%s`)", i + 1, img->n_layers, l->path);
	}
	l->bytes = li.lr ? li.lr->bytes : 0;
	layer_import_done(&li);
	return r < 0 ? -err->code : 0;
}

/* Remove, top first, the layers this import made (those of the @n in @ids marked in @made). */
static void remove_made(struct cvol_layer_store *store, char (*ids)[80], const bool *made, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (made[i - 1])
			(void)cvol_layer_remove(store, ids[i - 1], NULL);
}

/* Import the layers bottom up, each checked as it is read. A layer appears in the store only
 * once its bytes matched; if a later layer fails, the ones made before it are removed again,
 * so a corrupted image adds nothing to the store. */
static int import_layers(struct cvol_layer_store *store, struct image *img, cvol_image_progress_fn progress,
			 void *data, char **ret_top, struct cvol_error *err)
{
	char chain[80] = "";
	struct cvol_image_progress p = { .layers_total = img->n_layers };
	_cleanup_free_ char(*ids)[80] = calloc(img->n_layers, sizeof(*ids));
	_cleanup_free_ bool *made = calloc(img->n_layers, sizeof(*made));
	int r = 0;

	if (!ids || !made)
		return cvol_error_set(err, ENOMEM, "import the image");
	for (size_t i = 0; r == 0 && i < img->n_layers; i++) {
		struct image_layer *l = &img->layers[i];
		r = chain_id(i ? chain : NULL, l->diff_id, chain, sizeof(chain), err);
		if (r < 0)
			break;
		layer_id_of(chain, ids[i], sizeof(ids[i]));
		if (cvol_layer_exists(store, ids[i])) {
			p.layers_reused++;
		} else {
			r = import_one(store, img, i, ids[i], i ? ids[i - 1] : NULL, err);
			if (r < 0)
				break;
			made[i] = true;
		}
		p.layers_done++;
		p.bytes_done += l->bytes;
		if (progress)
			progress(&p, data);
	}
	if (r < 0) {
		remove_made(store, ids, made, img->n_layers);
		return r;
	}
	*ret_top = strdup(ids[img->n_layers - 1]);
	return *ret_top ? 0 : cvol_error_set(err, ENOMEM, "import the image");
}

int cvol_image_import(struct cvol_layer_store *store, const char *path, cvol_image_progress_fn progress,
		      void *data, char **ret_top_id, struct cvol_error *err)
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
