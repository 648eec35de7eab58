/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `docker save` output or an OCI image layout (a directory or a tar of one) into the
 * layer store: read the manifest, check every blob's sha256, import the layers in
 * order as a chain named by their chain IDs, and reuse the layers already there. */
#include "overlay-internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "../common/sha256.h"

#define DIGEST_PREFIX "sha256:"

/* One layer of the image: the file that holds it, and the digests to check. */
struct image_layer {
	char path[PATH_MAX];  /* beneath the image root */
	char blob_digest[80]; /* "sha256:..." of the file as stored, or "" */
	char diff_id[80];     /* "sha256:..." of the uncompressed tar (config rootfs.diff_ids) */
	uint64_t bytes;	      /* size of the file, found while checking its digest */
	int fd;		      /* the file checked, open until it is imported */
};

struct image {
	int rootfd;
	struct image_layer *layers;
	size_t n_layers;
};

static json_t *load_json(int rootfd, const char *path, const char *expect_digest, struct cvol_error *err)
{
	_cleanup_close_ int fd = cvol_openat_beneath(rootfd, path, O_RDONLY, 0);
	if (fd < 0) {
		cvol_error_set(err, -fd, "open `%s`", path);
		return NULL;
	}
	if (expect_digest && *expect_digest) {
		char hex[CVOL_SHA256_HEX_LEN + 1];
		int r = cvol_sha256_fd(fd, hex, NULL);
		if (r < 0 || strcmp(hex, expect_digest + strlen(DIGEST_PREFIX)) != 0 ||
		    lseek(fd, 0, SEEK_SET) < 0) {
			cvol_error_setx(err, EBADMSG, "`%s` does not match its digest %s", path,
					expect_digest);
			return NULL;
		}
	}
	json_error_t jerr;
	FILE *f = fdopen(fd, "re");
	if (!f) {
		cvol_error_set(err, errno, "read `%s`", path);
		return NULL;
	}
	fd = -1;
	json_t *doc = json_loadf(f, 0, &jerr);
	fclose(f);
	if (!doc)
		cvol_error_setx(err, EBADMSG, "`%s` is not valid JSON: %s (line %d)", path, jerr.text,
				jerr.line);
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
	snprintf(buf, size, "blobs/sha256/%s", digest + strlen(DIGEST_PREFIX));
	return 0;
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
	for (size_t i = 0; i < n; i++)
		img->layers[i].fd = -1;
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
		snprintf(img->layers[i].path, sizeof(img->layers[i].path), "%s", p);
		if (strncmp(p, "blobs/sha256/", 13) == 0) /* a newer docker save: the name is the digest */
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
	json_t *config = load_json(img->rootfd, config_path, config_digest, err);
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
		return cvol_error_wrap(err, "index.json");
	json_auto_t *manifest = load_json(img->rootfd, path, digest, err);
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
	json_t *config = load_json(img->rootfd, path, config_digest, err);
	if (!config)
		return -err->code;
	r = read_diff_ids(config, img, err);
	json_decref(config);
	return r;
}

static int read_image(struct image *img, struct cvol_error *err)
{
	struct stat st;
	if (fstatat(img->rootfd, "manifest.json", &st, 0) == 0) {
		json_auto_t *manifest = load_json(img->rootfd, "manifest.json", NULL, err);
		return manifest ? read_docker_manifest(img, manifest, err) : -err->code;
	}
	if (fstatat(img->rootfd, "index.json", &st, 0) == 0) {
		json_auto_t *index = load_json(img->rootfd, "index.json", NULL, err);
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
	struct cvol_sha256 s;
	char hex[CVOL_SHA256_HEX_LEN + 1];
	cvol_sha256_init(&s);
	cvol_sha256_update(&s, parent_chain, strlen(parent_chain));
	cvol_sha256_update(&s, " ", 1);
	cvol_sha256_update(&s, diff_id, strlen(diff_id));
	cvol_sha256_final_hex(&s, hex);
	snprintf(ret, size, DIGEST_PREFIX "%s", hex);
}

/* The store id of a chain ID: "sha256-<hex>" (a valid layer id). */
static void layer_id_of(const char *chain, char *ret, size_t size)
{
	snprintf(ret, size, "sha256-%s", chain + strlen(DIGEST_PREFIX));
}

/* sha256 of the decompressed stream of @fd (gzip, zstd... or none), via libarchive's raw format. */
static int sha256_uncompressed(int fd, char hex[CVOL_SHA256_HEX_LEN + 1], const char *path,
			       struct cvol_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct cvol_sha256 s;
	int r = 0;

	if (!a)
		return cvol_error_set(err, ENOMEM, "read layer `%s`", path);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	cvol_sha256_init(&s);
	if (archive_read_open_fd(a, fd, 128 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		r = cvol_error_setx(err, EBADMSG, "read layer `%s`: %s", path, archive_error_string(a));
	} else {
		char buf[128 * 1024];
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			cvol_sha256_update(&s, buf, (size_t)n);
		if (n < 0)
			r = cvol_error_setx(err, EBADMSG, "read layer `%s`: %s", path,
					    archive_error_string(a));
	}
	archive_read_free(a);
	if (r == 0)
		cvol_sha256_final_hex(&s, hex);
	return r;
}

/* Check the layer file against its digests: the stored blob, and for an uncompressed tar its diff_id. */
static int check_layer_digest(struct image *img, struct image_layer *l, int fd, uint64_t *ret_bytes,
			      struct cvol_error *err)
{
	char hex[CVOL_SHA256_HEX_LEN + 1];
	int r = cvol_sha256_fd(fd, hex, ret_bytes);
	if (r < 0)
		return cvol_error_set(err, -r, "read layer `%s`", l->path);
	const char *want = *l->blob_digest ? l->blob_digest : l->diff_id;
	if (strcmp(hex, want + strlen(DIGEST_PREFIX)) != 0)
		return cvol_error_setx(err, EBADMSG,
				       "layer `%s` does not match its digest %s (it is sha256:%s)", l->path,
				       want, hex);
	(void)img;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cvol_error_set(err, errno, "rewind layer `%s`", l->path);
	if (!*l->blob_digest || strcmp(l->blob_digest, l->diff_id) == 0)
		return 0; /* the file is the uncompressed tar: its digest was the diff_id */
	/* A compressed blob: its tar must be the diff_id the layer is named by. */
	r = sha256_uncompressed(fd, hex, l->path, err);
	if (r < 0)
		return r;
	if (strcmp(hex, l->diff_id + strlen(DIGEST_PREFIX)) != 0)
		return cvol_error_setx(
			err, EBADMSG,
			"layer `%s` uncompressed does not match its digest %s (it is sha256:%s)", l->path,
			l->diff_id, hex);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return cvol_error_set(err, errno, "rewind layer `%s`", l->path);
	return 0;
}

static int import_layers(struct cvol_store *store, struct image *img, cvol_image_progress_fn progress,
			 void *data, char **ret_top, struct cvol_error *err)
{
	char chain[80] = "", id[80] = "", parent[80] = "";
	struct cvol_image_progress p = { .layers_total = img->n_layers };

	/* Every digest before any layer is made: a corrupted image adds nothing to the store. */
	for (size_t i = 0; i < img->n_layers; i++) {
		struct image_layer *l = &img->layers[i];
		l->fd = cvol_openat_beneath(img->rootfd, l->path, O_RDONLY, 0);
		if (l->fd < 0)
			return cvol_error_set(err, -l->fd, "open layer `%s`", l->path);
		int r = check_layer_digest(img, l, l->fd, &l->bytes, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < img->n_layers; i++) {
		struct image_layer *l = &img->layers[i];
		chain_id(i ? chain : NULL, l->diff_id, chain, sizeof(chain));
		snprintf(parent, sizeof(parent), "%s", id);
		layer_id_of(chain, id, sizeof(id));
		int r;
		struct stat st;
		char diff[128];
		snprintf(diff, sizeof(diff), "%s/diff", id);
		if (fstatat(store->overlay_fd, diff, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			p.layers_reused++;
		} else {
			r = cvol_layer_import(store, id, i ? parent : NULL, l->fd, false, NULL, err);
			if (r < 0)
				return cvol_error_wrap(err, "layer %zu of %zu (`%s`)", i + 1, img->n_layers,
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

/* A tar of the image is unpacked into .staging/i-<rnd> (flocked, so that another
 * process opening the store leaves it alone) and removed afterwards. */
static int unpack_image_tar(struct cvol_store *store, int fd, char name[CVOL_SHORTID_LEN + 3], int *ret_lock,
			    struct cvol_error *err)
{
	name[0] = 'i';
	name[1] = '-';
	int r = cvol_shortid_generate(name + 2);
	if (r < 0)
		return cvol_error_set(err, -r, "name a staging dir");
	if (mkdirat(store->staging_fd, name, 0700) < 0)
		return cvol_error_set(err, errno, "create a staging dir");
	int dfd = cvol_dir_open_at(store->staging_fd, name, false, err);
	if (dfd < 0)
		return dfd;
	flock(dfd, LOCK_EX);
	*ret_lock = dfd;
	r = cvol_tar_import(dfd, fd, false, NULL, err);
	return r < 0 ? cvol_error_wrap(err, "unpack the image") : 0;
}

int cvol_image_import(struct cvol_store *store, const char *path, cvol_image_progress_fn progress, void *data,
		      char **ret_top_id, struct cvol_error *err)
{
	struct image img = { .rootfd = -1 };
	char unpacked[CVOL_SHORTID_LEN + 3] = "";
	int lock = -1, r;
	struct stat st;

	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cvol_error_set(err, errno, "import image `%s`", path);
	if (S_ISDIR(st.st_mode)) {
		img.rootfd = TAKE_FD(fd);
		r = 0;
	} else {
		r = unpack_image_tar(store, fd, unpacked, &lock, err);
		if (r == 0 && (img.rootfd = dup(lock)) < 0)
			r = cvol_error_set(err, errno, "open the unpacked image");
	}
	if (r == 0)
		r = read_image(&img, err);
	if (r == 0)
		r = import_layers(store, &img, progress, data, ret_top_id, err);
	if (*unpacked)
		cvol_dir_remove_tree(store->staging_fd, unpacked, NULL);
	cvol_closep(&lock);
	cvol_closep(&img.rootfd);
	for (size_t i = 0; i < img.n_layers; i++)
		cvol_closep(&img.layers[i].fd);
	free(img.layers);
	if (r < 0)
		return cvol_error_wrap(err, "import image `%s`", path);
	return 0;
}
