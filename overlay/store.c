/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layer store: layers built in .staging/ and renamed into place, short
 * links under l/, metadata written crash-safely (see DESIGN.md). */
#include "overlay-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <libmount.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define LINKS_DIR   "l"
#define STAGING_DIR ".staging"
#define EMPTY_DIR   ".empty"
#define LOCK_FILE   ".lock"

int store_lock(struct cvol_store *store, struct cvol_error *err)
{
	while (flock(store->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cvol_error_set(err, errno, "lock the store `%s`", store->overlay_path);
	return 0;
}

void store_unlock(struct cvol_store *store)
{
	flock(store->lock_fd, LOCK_UN);
}

int layer_id_check(const char *id, struct cvol_error *err)
{
	if (!cvol_name_is_valid(id) || strcmp(id, LINKS_DIR) == 0)
		return cvol_error_setx(err, EINVAL,
				       "invalid layer id `%s`: use 1-255 of [A-Za-z0-9_.-], starting with a "
				       "letter or digit (and not `l`)",
				       id);
	return 0;
}

static int open_subdir(int dirfd, const char *name, bool create, struct cvol_error *err)
{
	if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s`", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", name);
	return fd;
}

/* Remove every half-built layer in .staging/ and every l/ link without a layer. */
static int store_cleanup(struct cvol_store *store, struct cvol_error *err)
{
	DIR *d = fdopendir(fcntl(store->staging_fd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return cvol_error_set(err, errno, "read `%s/" STAGING_DIR "`", store->overlay_path);
	struct dirent *de;
	int r = 0;
	rewinddir(d);
	while (r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			cvol_log_debug(CVOL_LOG_STORE, "removing half-built layer `%s`", de->d_name);
			r = cvol_dir_remove_tree(store->staging_fd, de->d_name, err);
		}
	closedir(d);
	if (r < 0)
		return r;

	d = fdopendir(fcntl(store->links_fd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return cvol_error_set(err, errno, "read `%s/" LINKS_DIR "`", store->overlay_path);
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(store->links_fd, de->d_name, &st, 0) == 0)
			continue;
		cvol_log_debug(CVOL_LOG_STORE, "removing dangling link `l/%s`", de->d_name);
		unlinkat(store->links_fd, de->d_name, 0);
	}
	closedir(d);
	return cvol_dir_fsync(store->staging_fd, err);
}

static int store_open_dirs(struct cvol_store *s, struct cvol_error *err)
{
	s->overlay_fd = open(s->overlay_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->overlay_fd < 0)
		return cvol_error_set(err, errno, "open `%s`", s->overlay_path);
	s->links_fd = open_subdir(s->overlay_fd, LINKS_DIR, true, err);
	if (s->links_fd < 0)
		return s->links_fd;
	s->staging_fd = open_subdir(s->overlay_fd, STAGING_DIR, true, err);
	if (s->staging_fd < 0)
		return s->staging_fd;
	if (mkdirat(s->overlay_fd, EMPTY_DIR, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s/" EMPTY_DIR "`", s->overlay_path);
	s->lock_fd = openat(s->overlay_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return cvol_error_set(err, errno, "open `%s/" LOCK_FILE "`", s->overlay_path);
	return 0;
}

int cvol_store_open(const char *root, struct cvol_store **ret, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (asprintf(&path, "%s/overlay", root) < 0)
		return cvol_error_set(err, ENOMEM, "open store `%s`", root);
	r = cvol_dir_create_parents(path, 0700, err);
	if (r < 0)
		return cvol_error_wrap(err, "open store `%s`", root);

	struct cvol_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cvol_error_set(err, ENOMEM, "open store `%s`", root);
	*s = (struct cvol_store){ .overlay_fd = -1, .links_fd = -1, .staging_fd = -1, .lock_fd = -1 };
	s->overlay_path = realpath(path, NULL);
	if (!s->overlay_path)
		r = cvol_error_set(err, errno, "resolve `%s`", path);
	if (r == 0)
		r = store_open_dirs(s, err);
	if (r == 0)
		r = store_lock(s, err);
	if (r == 0) {
		r = store_cleanup(s, err);
		store_unlock(s);
	}
	if (r < 0) {
		cvol_store_close(s);
		return cvol_error_wrap(err, "open store `%s`", root);
	}
	*ret = s;
	return 0;
}

void cvol_store_close(struct cvol_store *s)
{
	if (!s)
		return;
	cvol_closep(&s->overlay_fd);
	cvol_closep(&s->links_fd);
	cvol_closep(&s->staging_fd);
	cvol_closep(&s->lock_fd);
	free(s->overlay_path);
	free(s);
}

const char *cvol_store_get_overlay_path(const struct cvol_store *store)
{
	return store->overlay_path;
}

/* ---- layer metadata ----------------------------------------------------------- */

void layer_meta_done(struct layer_meta *m)
{
	free(m->lower);
	cvol_strv_free(m->chain);
	m->lower = NULL;
	m->chain = NULL;
}

static bool layer_exists(struct cvol_store *store, const char *id)
{
	struct stat st;
	return fstatat(store->overlay_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int layer_meta_load(struct cvol_store *store, const char *id, struct layer_meta *ret, struct cvol_error *err)
{
	struct layer_meta m = { 0 };
	_cleanup_free_ char *link = NULL, *link_path = NULL, *lower_path = NULL;
	int r;

	if (!layer_exists(store, id))
		return cvol_error_setx(err, ENOENT, "no such layer");
	if (asprintf(&link_path, "%s/link", id) < 0 || asprintf(&lower_path, "%s/lower", id) < 0)
		return cvol_error_set(err, ENOMEM, "read layer `%s`", id);
	r = cvol_file_read_text(store->overlay_fd, link_path, &link, err);
	if (r < 0)
		return cvol_error_wrap(err, "read layer `%s`", id);
	if (!cvol_shortid_is_valid(link))
		return cvol_error_setx(err, EBADMSG, "its link file is corrupt");
	snprintf(m.link, sizeof(m.link), "%s", link);

	r = cvol_file_read_text(store->overlay_fd, lower_path, &m.lower, err);
	if (r == -ENOENT)
		r = (m.lower = strdup("")) ? 0 : cvol_error_set(err, ENOMEM, "read layer `%s`", id);
	if (r == 0 && (r = cvol_chain_parse(m.lower, &m.chain)) < 0)
		cvol_error_set(err, -r, "its lower file is corrupt");
	if (r < 0) {
		layer_meta_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}

/* The id of the layer whose short link is @chain_entry ("l/<short>"), from the symlink. */
static int layer_id_from_link(struct cvol_store *store, const char *chain_entry, char **ret_id)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(store->links_fd, chain_entry + 2, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	/* "../<id>/diff" */
	size_t len = (size_t)n;
	if (len < 9 || strncmp(target, "../", 3) != 0 || strcmp(target + len - 5, "/diff") != 0)
		return -EBADMSG;
	char *id = strndup(target + 3, len - 8);
	if (!id)
		return -ENOMEM;
	*ret_id = id;
	return 0;
}

/* ---- create --------------------------------------------------------------------- */

/* Make l/<short> -> ../<id>/diff with a fresh short id; dangling until the rename. */
static int link_create(struct cvol_store *store, const char *id, char *ret_short, struct cvol_error *err)
{
	_cleanup_free_ char *target = NULL;
	if (asprintf(&target, "../%s/diff", id) < 0)
		return cvol_error_set(err, ENOMEM, "link layer `%s`", id);
	for (int tries = 0; tries < 8; tries++) {
		int r = cvol_shortid_generate(ret_short);
		if (r < 0)
			return cvol_error_set(err, -r, "make a short id for `%s`", id);
		if (symlinkat(target, store->links_fd, ret_short) == 0)
			return 0;
		if (errno != EEXIST)
			return cvol_error_set(err, errno, "create link `l/%s`", ret_short);
	}
	return cvol_error_setx(err, EEXIST, "no free short id for `%s`", id);
}

/* A fresh random name in .staging/ for a layer being built ('c') or removed ('r'). */
static int staging_name(char kind, char name[CVOL_SHORTID_LEN + 3])
{
	name[0] = kind;
	name[1] = '-';
	return cvol_shortid_generate(name + 2);
}

/* Fill the staged layer directory @staged: diff/, link and lower. */
static int staged_layer_fill(struct cvol_store *store, const char *staged, const char *short_id,
			     const char *lower, struct cvol_error *err)
{
	_cleanup_close_ int fd = open_subdir(store->staging_fd, staged, false, err);
	if (fd < 0)
		return fd;
	if (mkdirat(fd, "diff", 0755) < 0)
		return cvol_error_set(err, errno, "create `diff`");
	int r = cvol_file_write_atomic(fd, "link", short_id, strlen(short_id), err);
	if (r == 0 && lower)
		r = cvol_file_write_atomic(fd, "lower", lower, strlen(lower), err);
	return r;
}

static int chain_for_parent(struct cvol_store *store, const char *id, const char *parent, char **ret_lower,
			    struct cvol_error *err)
{
	struct layer_meta pm;
	int r = layer_meta_load(store, parent, &pm, err);
	if (r == -ENOENT)
		return cvol_error_setx(err, ENOENT, "parent layer `%s` does not exist", parent);
	if (r < 0)
		return r;
	size_t depth = cvol_strv_length(pm.chain) + 1;
	if (depth > CVOL_OVERLAY_MAX_LOWERS)
		r = cvol_error_setx(err, E2BIG,
				    "it would stack %zu lower layers on `%s`; the kernel allows at most %d",
				    depth, parent, CVOL_OVERLAY_MAX_LOWERS);
	else if ((r = cvol_chain_for_child(pm.link, pm.lower, ret_lower)) < 0)
		cvol_error_set(err, -r, "chain of `%s`", id);
	layer_meta_done(&pm);
	return r;
}

static int layer_create_locked(struct cvol_store *store, const char *id, const char *parent,
			       struct cvol_error *err)
{
	_cleanup_free_ char *lower = NULL;
	char staged[CVOL_SHORTID_LEN + 3], short_id[CVOL_SHORTID_LEN + 1];
	int r;

	if (layer_exists(store, id))
		return cvol_error_setx(err, EEXIST, "a layer with this id already exists");
	if (parent && (r = chain_for_parent(store, id, parent, &lower, err)) < 0)
		return r;
	r = staging_name('c', staged);
	if (r < 0)
		return cvol_error_set(err, -r, "stage layer `%s`", id);
	if (mkdirat(store->staging_fd, staged, 0700) < 0)
		return cvol_error_set(err, errno, "stage layer `%s`", id);
	r = link_create(store, id, short_id, err);
	if (r < 0)
		goto out_remove_staged;
	r = staged_layer_fill(store, staged, short_id, lower, err);
	if (r == 0 && renameat2(store->staging_fd, staged, store->overlay_fd, id, RENAME_NOREPLACE) < 0)
		r = cvol_error_set(err, errno, "move layer `%s` into place", id);
	if (r == 0)
		return cvol_dir_fsync(store->overlay_fd, err);
	unlinkat(store->links_fd, short_id, 0);
out_remove_staged:;
	struct cvol_error ignored;
	cvol_dir_remove_tree(store->staging_fd, staged, &ignored);
	return r;
}

int cvol_layer_create(struct cvol_store *store, const char *id, const char *parent, struct cvol_error *err)
{
	int r = layer_id_check(id, err);
	if (r == 0 && parent)
		r = layer_id_check(parent, err);
	if (r < 0)
		return r;
	r = store_lock(store, err);
	if (r < 0)
		return r;
	r = layer_create_locked(store, id, parent, err);
	store_unlock(store);
	if (r < 0)
		return cvol_error_wrap(err, "create layer `%s`", id);
	return 0;
}

/* ---- list ------------------------------------------------------------------------- */

void cvol_layer_info_free(struct cvol_layer_info *layers, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(layers[i].id);
		free(layers[i].parent);
	}
	free(layers);
}

static int layer_info_fill(struct cvol_store *store, const char *id, struct libmnt_table *mountinfo,
			   struct cvol_layer_info *info, struct cvol_error *err)
{
	struct layer_meta m;
	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	*info = (struct cvol_layer_info){ .id = strdup(id), .depth = cvol_strv_length(m.chain) };
	snprintf(info->link, sizeof(info->link), "%s", m.link);
	if (info->depth > 0 && layer_id_from_link(store, m.chain[0], &info->parent) < 0)
		info->parent = strdup("?");
	info->mounts = layer_mount_count(store, id, mountinfo);
	layer_meta_done(&m);
	return info->id ? 0 : cvol_error_set(err, ENOMEM, "list layers");
}

static int compare_layer_ids(const void *a, const void *b)
{
	return strcmp(((const struct cvol_layer_info *)a)->id, ((const struct cvol_layer_info *)b)->id);
}

static bool is_layer_dir_name(const char *name)
{
	return name[0] != '.' && strcmp(name, LINKS_DIR) != 0;
}

int cvol_layer_list(struct cvol_store *store, struct cvol_layer_info **ret_layers, size_t *ret_n,
		    struct cvol_error *err)
{
	struct cvol_layer_info *layers = NULL;
	size_t n = 0;
	int r = 0;

	DIR *d = fdopendir(fcntl(store->overlay_fd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return cvol_error_set(err, errno, "list layers in `%s`", store->overlay_path);
	struct libmnt_table *mountinfo = mnt_new_table_from_file("/proc/self/mountinfo");
	rewinddir(d);
	for (struct dirent *de; r == 0 && (de = readdir(d));) {
		if (!is_layer_dir_name(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		if (de->d_type == DT_UNKNOWN && !layer_exists(store, de->d_name))
			continue;
		struct cvol_layer_info *grown = realloc(layers, (n + 1) * sizeof(*layers));
		if (!grown) {
			r = cvol_error_set(err, ENOMEM, "list layers");
			break;
		}
		layers = grown;
		r = layer_info_fill(store, de->d_name, mountinfo, &layers[n], err);
		if (r == 0)
			n++;
	}
	mnt_unref_table(mountinfo);
	closedir(d);
	if (r < 0) {
		cvol_layer_info_free(layers, n);
		return r;
	}
	qsort(layers, n, sizeof(*layers), compare_layer_ids);
	*ret_layers = layers;
	*ret_n = n;
	return 0;
}

/* ---- remove ----------------------------------------------------------------------- */

static int refuse_children(struct cvol_store *store, const char *id, struct cvol_error *err)
{
	struct cvol_layer_info *layers;
	size_t n;
	char children[512] = "";
	size_t len = 0, found = 0;

	int r = cvol_layer_list(store, &layers, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (layers[i].parent && strcmp(layers[i].parent, id) == 0 && len < sizeof(children)) {
			len += (size_t)snprintf(children + len, sizeof(children) - len, "%s`%s`",
						found ? ", " : "", layers[i].id);
			found++;
		}
	cvol_layer_info_free(layers, n);
	if (found)
		return cvol_error_setx(err, EBUSY, "it has %zu child layer%s: %s", found,
				       found == 1 ? "" : "s", children);
	return 0;
}

static int layer_remove_locked(struct cvol_store *store, const char *id, struct cvol_error *err)
{
	struct layer_meta m;
	char doomed[CVOL_SHORTID_LEN + 3];
	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	unsigned mounts = layer_mount_count(store, id, NULL);
	if (mounts > 0)
		r = cvol_error_setx(err, EBUSY, "it is mounted (%u reference%s); unmount it first", mounts,
				    mounts == 1 ? "" : "s");
	if (r == 0)
		r = refuse_children(store, id, err);
	if (r == 0 && (r = staging_name('r', doomed)) < 0)
		cvol_error_set(err, -r, "remove layer `%s`", id);
	if (r == 0) {
		if (renameat(store->overlay_fd, id, store->staging_fd, doomed) < 0)
			r = cvol_error_set(err, errno, "move layer `%s` out of the store", id);
	}
	if (r == 0) {
		unlinkat(store->links_fd, m.link, 0);
		r = cvol_dir_fsync(store->overlay_fd, err);
	}
	if (r == 0)
		r = cvol_dir_remove_tree(store->staging_fd, doomed, err);
	layer_meta_done(&m);
	return r;
}

int cvol_layer_remove(struct cvol_store *store, const char *id, struct cvol_error *err)
{
	int r = layer_id_check(id, err);
	if (r < 0)
		return r;
	r = store_lock(store, err);
	if (r < 0)
		return r;
	r = layer_remove_locked(store, id, err);
	store_unlock(store);
	if (r < 0)
		return cvol_error_wrap(err, "remove layer `%s`", id);
	return 0;
}
