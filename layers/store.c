/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layer store: layers built in .staging/ and renamed into place, short
 * links under l/, metadata written crash-safely (see DESIGN.md). */
#include "layers-internal.h"

#include "../common/mountinfo.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define LINKS_DIR "l"
#define ROOTS_DIR ".roots"
#define EMPTY_DIR ".empty"
#define LOCK_FILE ".lock"

static bool layer_id_is_valid(const char *id)
{
	return name_is_valid(id) && strcmp(id, LINKS_DIR) != 0;
}

int cvol_layer_check_id(const char *id, struct cvol_error *err)
{
	if (!layer_id_is_valid(id))
		return cvol_error_setx(err, EINVAL,
				       "invalid layer id `%s`: use 1-255 of [A-Za-z0-9_.-], starting with a "
				       "letter or digit (and not `l`)",
				       id);
	return 0;
}

/* Check @id, hold the store's lock in @how while @op runs, and name the layer in any error. */
static int store_run(struct cvol_layer_store *store, int how, const char *what, const char *id, store_op op,
		     void *data, struct cvol_error *err)
{
	int r = cvol_layer_check_id(id, err);
	if (r < 0)
		return r;
	r = flock_retry(store->lock_fd, how);
	if (r < 0)
		return cvol_error_set(err, -r, "lock the store `%s`", store->overlay_path);
	r = op(store, id, data, err);
	(void)flock_retry(store->lock_fd, LOCK_UN);
	if (r < 0)
		return cvol_error_wrap(err, r, "%s layer `%s`", what, id);
	return 0;
}

int store_run_locked(struct cvol_layer_store *store, const char *what, const char *id, store_op op,
		     void *data, struct cvol_error *err)
{
	return store_run(store, LOCK_EX, what, id, op, data, err);
}

int store_run_shared(struct cvol_layer_store *store, const char *what, const char *id, store_op op,
		     void *data, struct cvol_error *err)
{
	return store_run(store, LOCK_SH, what, id, op, data, err);
}

static bool layer_exists(struct cvol_layer_store *store, const char *id)
{
	struct stat st;
	return fstatat(store->overlay_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* ---- layer metadata ----------------------------------------------------------- */

void layer_meta_done(struct layer_meta *m)
{
	free(m->lower);
	cvol_strv_free(m->chain);
	m->lower = NULL;
	m->chain = NULL;
}

int layer_meta_load(struct cvol_layer_store *store, const char *id, struct layer_meta *ret,
		    struct cvol_error *err)
{
	struct layer_meta m = { 0 };
	_cleanup_free_ char *link = NULL, *link_path = NULL, *lower_path = NULL;
	int r;

	if (!layer_exists(store, id))
		return cvol_error_setx(err, ENOENT, "no such layer");
	if (asprintf(&link_path, "%s/link", id) < 0 || asprintf(&lower_path, "%s/lower", id) < 0)
		return cvol_error_set(err, ENOMEM, "read layer `%s`", id);
	r = file_read_text(store->overlay_fd, link_path, &link, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "read layer `%s`", id);
	if (!shortid_is_valid(link))
		return cvol_error_setx(err, EBADMSG, "the link file of layer `%s` is corrupt", id);
	snprintf(m.link, sizeof(m.link), "%s", link);

	r = file_read_text(store->overlay_fd, lower_path, &m.lower, err);
	if (r == 0 && !*m.lower) /* a base layer has no lower file: an empty one lost its data */
		r = cvol_error_setx(err, EBADMSG, "the lower file of layer `%s` is empty", id);
	if (r == -ENOENT)
		r = (m.lower = strdup("")) ? 0 : cvol_error_set(err, ENOMEM, "read layer `%s`", id);
	if (r == 0 && (r = chain_parse(m.lower, &m.chain)) < 0)
		cvol_error_set(err, -r, "the lower file of layer `%s` is corrupt", id);
	if (r < 0) {
		layer_meta_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}

/* The id of the layer whose short link is @chain_entry ("l/<short>"), from the symlink. */
static int layer_id_from_link(struct cvol_layer_store *store, const char *chain_entry, char **ret_id)
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

/* Make l/@short -> ../@id/diff. */
static int link_make(struct cvol_layer_store *store, const char *id, const char *short_id)
{
	_cleanup_free_ char *target = NULL;
	if (asprintf(&target, "../%s/diff", id) < 0)
		return -ENOMEM;
	return symlinkat(target, store->links_fd, short_id) < 0 ? -errno : 0;
}

/* ---- opening and repairing -------------------------------------------------------- */

/* A layer whose l/ link was lost (a crash before the link reached the disk) gets it back. */
static int restore_link(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	struct cvol_layer_store *store = data;
	struct layer_meta m;
	struct stat st;

	(void)dirfd;
	(void)d_type;
	if (!layer_id_is_valid(name) || layer_meta_load(store, name, &m, err) < 0)
		return 0; /* not a layer, or a corrupt one: `layer ls` reports it */
	int r = 0;
	if (fstatat(store->links_fd, m.link, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		log_debug(CVOL_LOG_STORE, "restoring link `l/%s` of `%s`", m.link, name);
		r = link_make(store, name, m.link);
		if (r < 0)
			cvol_error_set(err, -r, "restore link `l/%s`", m.link);
	}
	layer_meta_done(&m);
	return r;
}

static int remove_dangling_link(int dirfd, const char *name, unsigned char d_type, void *data,
				struct cvol_error *err)
{
	struct stat st;

	(void)d_type;
	(void)data;
	(void)err;
	if (fstatat(dirfd, name, &st, 0) < 0 && errno == ENOENT) {
		log_debug(CVOL_LOG_STORE, "removing dangling link `l/%s`", name);
		unlinkat(dirfd, name, 0);
	}
	return 0;
}

/* Undo what a crash left: half-built layers, lost links, links without a layer. */
static int store_repair(struct cvol_layer_store *store, void *data, struct cvol_error *err)
{
	(void)data;
	int r = staging_cleanup(&store->staging, err);
	if (r == 0)
		r = dir_for_each(store->overlay_fd, restore_link, store, err);
	if (r == 0)
		r = dir_for_each(store->links_fd, remove_dangling_link, NULL, err);
	if (r == 0)
		r = layer_roots_repair(store, err);
	if (r == 0)
		r = dir_fsync(store->links_fd, err);
	return r;
}

static int store_open_dirs(struct cvol_layer_store *s, struct cvol_error *err)
{
	s->links_fd = dir_open_at(s->overlay_fd, LINKS_DIR, true, err);
	if (s->links_fd < 0)
		return s->links_fd;
	s->roots_fd = dir_open_at(s->overlay_fd, ROOTS_DIR, true, err);
	if (s->roots_fd < 0)
		return s->roots_fd;
	int r = staging_open(s->overlay_fd, s->overlay_path, &s->staging, err);
	if (r < 0)
		return r;
	if (mkdirat(s->overlay_fd, EMPTY_DIR, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s/" EMPTY_DIR "`", s->overlay_path);
	s->lock_fd = openat(s->overlay_fd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return cvol_error_set(err, errno, "open `%s/" LOCK_FILE "`", s->overlay_path);
	return 0;
}

static int store_locked_repair(struct cvol_layer_store *store, struct cvol_error *err)
{
	int r = flock_retry(store->lock_fd, LOCK_EX);
	if (r < 0)
		return cvol_error_set(err, -r, "lock the store `%s`", store->overlay_path);
	r = store_repair(store, NULL, err);
	flock(store->lock_fd, LOCK_UN);
	return r;
}

/* Open the store under @root; @repair: undo what a crash left (every command that changes
 * layers does; unmounting a root, on the hot path of cvol-mount, needs none of it). */
static int store_open(const char *root, bool repair, struct cvol_layer_store **ret, struct cvol_error *err)
{
	struct cvol_layer_store *s = calloc(1, sizeof(*s));
	if (!s)
		return cvol_error_set(err, ENOMEM, "open store `%s`", root);
	*s = (struct cvol_layer_store){
		.overlay_fd = -1, .links_fd = -1, .roots_fd = -1, .staging = { .dir_fd = -1 }, .lock_fd = -1
	};
	int r = s->overlay_fd = dir_open_store(root, "overlay", &s->overlay_path, err);
	if (r >= 0)
		r = store_open_dirs(s, err);
	if (r == 0 && repair)
		r = store_locked_repair(s, err);
	if (r < 0) {
		cvol_layer_store_close(s);
		return cvol_error_wrap(err, r, "open store `%s`", root);
	}
	*ret = s;
	return 0;
}

int cvol_layer_store_open(const char *root, struct cvol_layer_store **ret, struct cvol_error *err)
{
	return store_open(root, true, ret, err);
}

int cvol_layer_store_open_existing(const char *root, struct cvol_layer_store **ret, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (asprintf(&path, "%s/overlay", root) < 0)
		return cvol_error_set(err, ENOMEM, "open store `%s`", root);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	return store_open(root, false, ret, err);
}

void cvol_layer_store_close(struct cvol_layer_store *s)
{
	if (!s)
		return;
	cvol_closep(&s->overlay_fd);
	cvol_closep(&s->links_fd);
	cvol_closep(&s->roots_fd);
	staging_close(&s->staging);
	cvol_closep(&s->lock_fd);
	free(s->overlay_path);
	free(s);
}

const char *cvol_layer_store_get_path(const struct cvol_layer_store *store)
{
	return store->overlay_path;
}

/* ---- children ----------------------------------------------------------------------- */

struct children_ctx {
	struct cvol_layer_store *store;
	char entry[CVOL_SHORTID_LEN + 3]; /* "l/<short>" of the parent */
	size_t found;
	char names[512];
};

static int note_child(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	struct children_ctx *c = data;
	struct layer_meta m;

	(void)dirfd;
	(void)d_type;
	(void)err;
	if (!layer_id_is_valid(name) || layer_meta_load(c->store, name, &m, NULL) < 0)
		return 0;
	if (m.chain[0] && strcmp(m.chain[0], c->entry) == 0) {
		size_t len = strlen(c->names);
		if (len < sizeof(c->names))
			snprintf(c->names + len, sizeof(c->names) - len, "%s`%s`", c->found ? ", " : "",
				 name);
		c->found++;
	}
	layer_meta_done(&m);
	return 0;
}

int layer_refuse_children(struct cvol_layer_store *store, const struct layer_meta *m, const char *why,
			  struct cvol_error *err)
{
	struct children_ctx c = { .store = store };

	snprintf(c.entry, sizeof(c.entry), "l/%s", m->link);
	int r = dir_for_each(store->overlay_fd, note_child, &c, err);
	if (r < 0)
		return r;
	if (c.found)
		return cvol_error_setx(err, EBUSY, "it has %zu child layer%s: %s; %s", c.found,
				       c.found == 1 ? "" : "s", c.names, why);
	return 0;
}

/* ---- create --------------------------------------------------------------------- */

/* Make l/<short> with a fresh short id; it dangles until the layer is renamed into place. */
static int link_create(struct cvol_layer_store *store, const char *id, char *ret_short,
		       struct cvol_error *err)
{
	for (int tries = 0; tries < 8; tries++) {
		int r = shortid_generate(ret_short);
		if (r < 0)
			return cvol_error_set(err, -r, "make a short id");
		r = link_make(store, id, ret_short);
		if (r == 0) /* not synced: the open after a crash makes a lost link again */
			return 0;
		if (r != -EEXIST)
			return cvol_error_set(err, -r, "create link `l/%s`", ret_short);
	}
	return cvol_error_setx(err, EEXIST, "no free short id");
}

/* What fills a new layer's diff before it appears in the store (NULL: it stays empty). */
struct layer_source {
	const char *parent;
	bool unsynced; /* made without a single fsync (cvol_layer_create_unsynced()) */
	int (*fill)(int diff_fd, void *data, struct cvol_error *err);
	void *data;
};

/* Fill diff/ in the staged layer directory @fd (then sync it); it stays empty without a fill. */
static int staged_layer_fill(int fd, const struct layer_source *src, struct cvol_error *err)
{
	if (mkdirat(fd, "diff", 0755) < 0)
		return cvol_error_set(err, errno, "create `diff`");
	if (!src->fill)
		return 0;
	_cleanup_close_ int diff = dir_open_at(fd, "diff", false, err);
	int r = diff < 0 ? diff : src->fill(diff, src->data, err);
	if (r == 0 && syncfs(diff) < 0)
		r = cvol_error_set(err, errno, "sync the layer");
	return r;
}

static int chain_for_parent(struct cvol_layer_store *store, const char *parent, char **ret_lower,
			    struct cvol_error *err)
{
	struct layer_meta pm;
	int r = layer_meta_load(store, parent, &pm, err);
	if (r == -ENOENT)
		return cvol_error_setx(err, ENOENT, "parent layer `%s` does not exist", parent);
	if (r < 0)
		return r;
	size_t depth = strv_length(pm.chain) + 1;
	unsigned mounts = layer_mount_count(store, parent, NULL);
	if (depth > CVOL_OVERLAY_MAX_LOWERS)
		r = cvol_error_setx(err, E2BIG,
				    "it would stack %zu lower layers on `%s`; the kernel allows at most %d",
				    depth, parent, CVOL_OVERLAY_MAX_LOWERS);
	else if (mounts > 0)
		r = cvol_error_setx(err, EBUSY, "parent layer `%s` is mounted read-write; unmount it first",
				    parent);
	else if ((r = chain_for_child(pm.link, pm.lower, ret_lower)) < 0)
		cvol_error_set(err, -r, "build the chain");
	layer_meta_done(&pm);
	return r;
}

/* A layer being made: checked under the lock, filled without it (an import may take minutes,
 * and mounts and roots must not wait for it), then checked again and committed under it. */
struct layer_build {
	const struct layer_source *src;
	char *lower; /* the parent chain of the new layer; NULL for a base layer */
	char staged[STAGING_NAME_MAX];
	int fd; /* the staged directory */
};

/* Under the lock: the id is free and the parent (if any) can take a child; its chain for the child. */
static int layer_build_check_locked(struct cvol_layer_store *store, const char *id, void *data,
				    struct cvol_error *err)
{
	struct layer_build *b = data;
	if (layer_exists(store, id))
		return cvol_error_setx(err, EEXIST, "a layer with this id already exists");
	return b->src->parent ? chain_for_parent(store, b->src->parent, &b->lower, err) : 0;
}

/* Under the lock again: nothing changed meanwhile; the short link, link and lower files, and the
 * rename into place. */
static int layer_build_commit_locked(struct cvol_layer_store *store, const char *id, void *data,
				     struct cvol_error *err)
{
	struct layer_build *b = data;
	_cleanup_free_ char *lower = NULL;
	char short_id[CVOL_SHORTID_LEN + 1];

	int r = 0;
	if (layer_exists(store, id))
		return cvol_error_setx(err, EEXIST, "a layer with this id already exists");
	if (b->src->parent) { /* again, to compare: the parent may have been replaced meanwhile */
		r = chain_for_parent(store, b->src->parent, &lower, err);
		if (r == 0 && strcmp(lower, b->lower) != 0)
			r = cvol_error_setx(err, EBUSY, "parent layer `%s` changed while the layer was built",
					    b->src->parent);
	}
	if (r == 0)
		r = link_create(store, id, short_id, err);
	if (r < 0)
		return r;
	/* the staged dir is nobody's yet: plain files, synced, and one sync of the dir, before
	 * the rename makes them the layer's (4 fsyncs, where two atomic writes took 5) */
	bool sync = !b->src->unsynced;
	r = file_write_new(b->fd, "link", short_id, strlen(short_id), sync, err);
	if (r == 0 && b->lower)
		r = file_write_new(b->fd, "lower", b->lower, strlen(b->lower), sync, err);
	if (r == 0 && sync)
		r = dir_fsync(b->fd, err);
	if (r == 0)
		r = staging_commit(&store->staging, b->staged, id, sync, err);
	if (r < 0)
		(void)unlinkat(store->links_fd, short_id, 0);
	return r;
}

/* Build the checked layer @b in staging and commit it; the staged dir goes on failure. */
static int layer_build_staged(struct cvol_layer_store *store, const char *what, const char *id,
			      struct layer_build *b, struct cvol_error *err)
{
	_cleanup_close_ int hold = staging_hold(&store->staging, err);
	if (hold < 0)
		return hold;
	b->fd = staging_make(&store->staging, 'c', b->staged, err);
	if (b->fd < 0)
		return b->fd;
	int r = staged_layer_fill(b->fd, b->src, err);
	if (r < 0)
		r = cvol_error_wrap(err, r, "%s layer `%s`", what, id);
	else
		r = store_run_locked(store, what, id, layer_build_commit_locked, b, err);
	if (r < 0)
		staging_discard(&store->staging, b->staged);
	cvol_closep(&b->fd);
	return r;
}

static int layer_create_from(struct cvol_layer_store *store, const char *what, const char *id,
			     const struct layer_source *src, struct cvol_error *err)
{
	struct layer_build b = { .src = src, .fd = -1 };
	int r = src->parent ? cvol_layer_check_id(src->parent, err) : 0;
	if (r == 0)
		r = store_run_locked(store, what, id, layer_build_check_locked, &b, err);
	if (r == 0)
		r = layer_build_staged(store, what, id, &b, err);
	free(b.lower);
	return r;
}

int cvol_layer_create(struct cvol_layer_store *store, const char *id, const char *parent,
		      struct cvol_error *err)
{
	struct layer_source src = { .parent = parent };
	return layer_create_from(store, "create", id, &src, err);
}

int cvol_layer_create_unsynced(struct cvol_layer_store *store, const char *id, const char *parent,
			       struct cvol_error *err)
{
	struct layer_source src = { .parent = parent, .unsynced = true };
	return layer_create_from(store, "create", id, &src, err);
}

int cvol_layer_sync(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	int r = cvol_layer_check_id(id, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
		openat_beneath(store->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return cvol_error_set(err, -fd, "sync layer `%s`", id);
	/* one syncfs: the layer's files, whoever wrote them, its link and lower files, its
	 * directories and the rename that put it in the store, in one journal commit */
	if (syncfs(fd) < 0)
		return cvol_error_set(err, errno, "sync layer `%s`", id);
	return 0;
}

struct tar_source {
	int fd; /* the tar, or -1 to read through read_fn */
	cvol_layer_read_fn read_fn;
	cvol_layer_finish_fn finish; /* may refuse what was read (NULL: none) */
	void *ctx;
	struct cvol_error read_err; /* what read_fn said when it failed */
	bool userxattr;
	struct cvol_tar_stats stats;
};

/* libarchive's read callback over the caller's cvol_layer_read_fn. */
static la_ssize_t tar_source_read(struct archive *a, void *data, const void **buf)
{
	struct tar_source *t = data;
	ssize_t n = t->read_fn(t->ctx, buf, &t->read_err);
	if (n >= 0)
		return n;
	if (t->read_err.code == 0)
		cvol_error_setx(&t->read_err, (int)-n, "read the layer");
	archive_set_error(a, t->read_err.code, "%s", t->read_err.msg);
	return ARCHIVE_FATAL;
}

static int fill_from_tar(int diff_fd, void *data, struct cvol_error *err)
{
	struct tar_source *t = data;
	if (t->fd >= 0)
		return tar_import(diff_fd, t->fd, t->userxattr, &t->stats, err);
	int r = tar_import_read(diff_fd, tar_source_read, t, t->userxattr, &t->stats, err);
	if (r < 0 && t->read_err.code) { /* the reader's own words, not libarchive's echo of them */
		*err = t->read_err;
		return -err->code;
	}
	/* still in .staging: a refusal here leaves no layer */
	return r == 0 && t->finish ? t->finish(t->ctx, err) : r;
}

int cvol_layer_import(struct cvol_layer_store *store, const char *id, const char *parent, int fd,
		      bool userxattr, struct cvol_tar_stats *ret_stats, struct cvol_error *err)
{
	struct tar_source t = { .fd = fd, .userxattr = userxattr };
	struct layer_source src = { .parent = parent, .fill = fill_from_tar, .data = &t };
	int r = layer_create_from(store, "import", id, &src, err);
	if (r == 0 && ret_stats)
		*ret_stats = t.stats;
	return r;
}

int cvol_layer_import_stream(struct cvol_layer_store *store, const char *id, const char *parent,
			     cvol_layer_read_fn read_fn, cvol_layer_finish_fn finish_fn, void *ctx,
			     struct cvol_error *err)
{
	struct tar_source t = { .fd = -1, .read_fn = read_fn, .finish = finish_fn, .ctx = ctx };
	struct layer_source src = { .parent = parent, .fill = fill_from_tar, .data = &t };
	return layer_create_from(store, "import", id, &src, err);
}

bool cvol_layer_exists(struct cvol_layer_store *store, const char *id)
{
	return layer_id_is_valid(id) && layer_exists(store, id);
}

static int layer_export_locked(struct cvol_layer_store *store, const char *id, void *data,
			       struct cvol_error *err)
{
	_cleanup_free_ char *diff_path = NULL;
	if (!layer_exists(store, id))
		return cvol_error_setx(err, ENOENT, "no such layer");
	if (asprintf(&diff_path, "%s/diff", id) < 0)
		return cvol_error_set(err, ENOMEM, "export");
	_cleanup_close_ int diff = openat_beneath(store->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY, 0);
	if (diff < 0)
		return cvol_error_set(err, -diff, "open the layer's diff");
	return tar_export(diff, *(int *)data, err);
}

int cvol_layer_export(struct cvol_layer_store *store, const char *id, int fd, struct cvol_error *err)
{
	return store_run_shared(store, "export", id, layer_export_locked, &fd, err);
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

struct list_ctx {
	struct cvol_layer_store *store;
	struct libmnt_table *mountinfo;
	struct cvol_layer_info *layers;
	size_t n;
};

static int note_id(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	(void)dirfd;
	if (!layer_id_is_valid(name) || (d_type != DT_DIR && d_type != DT_UNKNOWN))
		return 0;
	return strv_push(data, name) < 0 ? cvol_error_set(err, ENOMEM, "list layer ids") : 0;
}

int cvol_layer_ids(struct cvol_layer_store *store, char ***ret_ids, struct cvol_error *err)
{
	_cleanup_strv_free_ char **ids = NULL;

	int r = flock_retry(store->lock_fd, LOCK_SH);
	if (r < 0)
		return cvol_error_set(err, -r, "lock the store `%s`", store->overlay_path);
	r = dir_for_each(store->overlay_fd, note_id, &ids, err);
	flock(store->lock_fd, LOCK_UN);
	if (r < 0)
		return cvol_error_wrap(err, r, "list layers in `%s`", store->overlay_path);
	*ret_ids = TAKE_PTR(ids);
	return 0;
}

static int list_one(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	struct list_ctx *c = data;
	struct layer_meta m;

	(void)dirfd;
	if (!layer_id_is_valid(name) || (d_type != DT_DIR && d_type != DT_UNKNOWN))
		return 0;
	if (d_type == DT_UNKNOWN && !layer_exists(c->store, name))
		return 0;
	struct cvol_layer_info *grown = realloc(c->layers, (c->n + 1) * sizeof(*c->layers));
	if (!grown)
		return cvol_error_set(err, ENOMEM, "list layers");
	c->layers = grown;
	int r = layer_meta_load(c->store, name, &m, err);
	if (r < 0)
		return r;
	struct cvol_layer_info *info = &c->layers[c->n];
	*info = (struct cvol_layer_info){ .id = strdup(name), .depth = strv_length(m.chain) };
	snprintf(info->link, sizeof(info->link), "%s", m.link);
	if (info->depth > 0 && layer_id_from_link(c->store, m.chain[0], &info->parent) < 0)
		info->parent = strdup("?");
	info->mounts = layer_mount_count(c->store, name, c->mountinfo);
	layer_meta_done(&m);
	c->n++;
	if (!info->id || (info->depth > 0 && !info->parent))
		return cvol_error_set(err, ENOMEM, "list layers");
	return 0;
}

static int compare_layer_ids(const void *a, const void *b)
{
	return strcmp(((const struct cvol_layer_info *)a)->id, ((const struct cvol_layer_info *)b)->id);
}

int cvol_layer_list(struct cvol_layer_store *store, struct cvol_layer_info **ret_layers, size_t *ret_n,
		    struct cvol_error *err)
{
	struct list_ctx c = { .store = store };

	int r = flock_retry(store->lock_fd, LOCK_SH);
	if (r < 0)
		return cvol_error_set(err, -r, "lock the store `%s`", store->overlay_path);
	c.mountinfo = mountinfo_load();
	r = dir_for_each(store->overlay_fd, list_one, &c, err);
	mountinfo_free(c.mountinfo);
	flock(store->lock_fd, LOCK_UN);
	if (r < 0) {
		cvol_layer_info_free(c.layers, c.n);
		return cvol_error_wrap(err, r, "list layers in `%s`", store->overlay_path);
	}
	if (c.n > 0) /* qsort() of NULL, even of nothing, is undefined */
		qsort(c.layers, c.n, sizeof(*c.layers), compare_layer_ids);
	*ret_layers = c.layers;
	*ret_n = c.n;
	return 0;
}

/* ---- remove ----------------------------------------------------------------------- */

/* Refuse to remove a layer something holds: its own mount, a root on it, a child. */
static int layer_refuse_held(struct cvol_layer_store *store, const char *id, const struct layer_meta *m,
			     struct cvol_error *err)
{
	unsigned mounts = layer_mount_count(store, id, NULL);
	if (mounts > 0)
		return cvol_error_setx(err, EBUSY, "it is mounted (%u reference%s); unmount it first", mounts,
				       mounts == 1 ? "" : "s");
	int r = layer_refuse_roots(store, id, err);
	return r < 0 ? r : layer_refuse_children(store, m, "remove them first", err);
}

/* @data: NULL, or a bool that says whether the removal is synced (true when NULL). */
static int layer_remove_locked(struct cvol_layer_store *store, const char *id, void *data,
			       struct cvol_error *err)
{
	struct layer_meta m;
	bool sync = data ? *(const bool *)data : true;

	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	_cleanup_close_ int hold = -1;
	r = layer_refuse_held(store, id, &m, err);
	if (r == 0 && (hold = staging_hold(&store->staging, err)) < 0)
		r = hold;
	if (r == 0) {
		r = staging_remove(&store->staging, id, sync, err);
		if (!layer_exists(store, id)) /* renamed out: its link dangles (removal is retried at open) */
			(void)unlinkat(store->links_fd, m.link, 0);
	}
	layer_meta_done(&m);
	return r;
}

int cvol_layer_remove(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	return store_run_locked(store, "remove", id, layer_remove_locked, NULL, err);
}

struct links_of {
	char target[PATH_MAX];
	char **links;
};

static int note_link_of(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	struct links_of *l = data;
	char target[PATH_MAX];

	(void)d_type;
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	if (strcmp(target, l->target) == 0 && strv_push(&l->links, name) < 0)
		return cvol_error_set(err, ENOMEM, "list links");
	return 0;
}

/* Refuse to discard a layer whose link, found by where l/ points, a child names. */
static int discard_refuse_children(struct cvol_layer_store *store, char **links, struct cvol_error *err)
{
	for (char **l = links; l && *l; l++) {
		struct layer_meta m = { 0 };
		snprintf(m.link, sizeof(m.link), "%s", *l);
		int r = layer_refuse_children(store, &m, "remove them first", err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int layer_discard_locked(struct cvol_layer_store *store, const char *id, void *data,
				struct cvol_error *err)
{
	struct layer_meta m;
	struct links_of l = { 0 };

	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		cvol_error_clear(err); /* told again below if it is not a lost file */
	if (r == 0) {		       /* a whole layer: removed as any other */
		layer_meta_done(&m);
		return layer_remove_locked(store, id, data, err);
	}
	if (!layer_exists(store, id))
		return cvol_error_setx(err, ENOENT, "no such layer");
	if (r != -ENOENT && r != -EBADMSG) /* not a lost file: EMFILE, ENOMEM... */
		return cvol_error_set(err, -r, "read the layer");
	if (layer_mount_count(store, id, NULL) > 0)
		return cvol_error_setx(err, EBUSY, "it is mounted; unmount it first");
	snprintf(l.target, sizeof(l.target), "../%s/diff", id);
	r = dir_for_each(store->links_fd, note_link_of, &l, err);
	if (r == 0)
		r = discard_refuse_children(store, l.links, err);
	if (r == 0)
		r = layer_refuse_roots(store, id, err);
	_cleanup_close_ int hold = r == 0 ? staging_hold(&store->staging, err) : -1;
	if (r == 0 && hold < 0)
		r = hold;
	if (r == 0)
		r = staging_remove(&store->staging, id, false, err);
	for (char **link = l.links; r == 0 && link && *link; link++)
		(void)unlinkat(store->links_fd, *link, 0);
	cvol_strv_free(l.links);
	return r;
}

int cvol_layer_discard(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	static const bool sync = false; /* see layers.h */
	return store_run_locked(store, "remove", id, layer_discard_locked, (void *)&sync, err);
}
