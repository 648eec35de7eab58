/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshots on the layer store. An active snapshot is a store layer, made at Prepare on its
 * parent's layer, whose diff containerd writes (the upper of the overlay it mounts); Commit
 * only re-keys it: the same layer, now under the committed name. A view is a record on its
 * parent (no layer of its own). Every change runs under one lock, in an order that a crash at
 * any point leaves repairable at the next open:
 *
 *   Prepare  make the layer, then write the record      (crash: a layer no record names)
 *   Commit   sync the layer (syncfs), then rewrite the  (crash: one or the other)
 *            active record as the committed one, in one
 *            atomic write of its file
 *   Remove   remove the layer, then drop the record     (crash: a record on no layer)
 *
 * Prepare and Remove sync nothing (see docs/snapshotter.md, "What is synced when"): after a
 * power loss an active layer may also be there without its link or lower file, which the open
 * removes with its record. cvol_snapshotter_open() repairs what is left before it serves. */
#include "snapshotter-internal.h"

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/walk.h"

#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is @id one the snapshotter made: "snapshot-" and exactly 24 hex digits (a layer someone named
 * otherwise, before `cvol layer` refused the prefix, is not its to sweep)? */
static bool is_snapshot_layer_id(const char *id)
{
	size_t n = strlen(SNAP_LAYER_PREFIX);
	return strncmp(id, SNAP_LAYER_PREFIX, n) == 0 && strlen(id + n) == 24 &&
	       strspn(id + n, "0123456789abcdef") == 24;
}

/* A fresh store layer id: "snapshot-" and 24 random hex digits. */
static int layer_id_new(char id[sizeof(SNAP_LAYER_PREFIX) + 24])
{
	uint8_t b[12];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	char *p = stpcpy(id, SNAP_LAYER_PREFIX);
	for (size_t i = 0; i < sizeof(b); i++)
		p += sprintf(p, "%02x", b[i]);
	return 0;
}

static int check_key(const char *what, const char *key, struct cvol_error *err)
{
	if (!key || !*key)
		return cvol_error_setx(err, EINVAL, "%s: a key is needed", what);
	if (strlen(key) > SNAP_KEY_MAX)
		return cvol_error_setx(err, EINVAL, "%s: a key of %zu bytes; at most %d", what, strlen(key),
				       SNAP_KEY_MAX);
	return 0;
}

/* Unmount the chain root of @parent_key's layer once no active snapshot or view builds on it:
 * an image being unpacked mounts each deep chain once, for the one layer unpacked on it. */
static void chain_root_release_idle(struct cvol_snapshotter *s, const char *parent_key)
{
	const struct snap_record *p = parent_key ? snap_index_find(&s->index, parent_key) : NULL;
	struct cvol_error e = { 0 };

	if (p && p->layer && p->open_children == 0 && snap_chain_root_release(s, p->layer, &e) < 0)
		log_warning("snapshotter: %s", e.msg);
}

/* ---- prepare and view -------------------------------------------------------------------- */

static int parent_check(struct cvol_snapshotter *s, const char *parent, const struct snap_record **ret,
			struct cvol_error *err)
{
	*ret = NULL;
	if (!parent || !*parent)
		return 0;
	const struct snap_record *p = snap_index_find(&s->index, parent);
	if (!p)
		return cvol_error_setx(err, ENOENT, "parent snapshot `%.128s` does not exist", parent);
	if (p->kind != SNAP_COMMITTED)
		return cvol_error_setx(err, EINVAL, "parent `%.128s` is not a committed snapshot", parent);
	*ret = p;
	return 0;
}

static int prepare_locked(struct cvol_snapshotter *s, struct snap_record *rec, struct snap_labels *labels,
			  struct snap_mount *ret, struct cvol_error *err)
{
	const struct snap_record *parent;
	char id[sizeof(SNAP_LAYER_PREFIX) + 24];

	if (snap_index_find(&s->index, rec->key))
		return cvol_error_setx(err, EEXIST, "snapshot `%.128s` already exists", rec->key);
	int r = parent_check(s, rec->parent, &parent, err);
	if (r < 0)
		return r;
	if (rec->kind == SNAP_ACTIVE) {
		if (layer_id_new(id) < 0)
			return cvol_error_set(err, EIO, "make a layer id");
		/* no fsync for what may be lost: Commit makes it durable */
		r = cvol_layer_create_unsynced(s->layers, id, parent ? parent->layer : NULL, err);
		if (r < 0)
			return r;
		rec->layer = id;
	}
	r = snap_mounts(s, rec, ret, err);
	if (r == 0 && (r = snap_index_put(&s->index, rec, labels, false, err)) < 0)
		snap_mount_done(ret);
	if (r < 0 && rec->layer)
		(void)cvol_layer_discard(s->layers, rec->layer, NULL);
	if (r < 0) /* a chain root the mounts made, with nothing open on it */
		chain_root_release_idle(s, rec->parent);
	rec->layer = NULL; /* it pointed at @id */
	return r;
}

int snap_prepare(struct cvol_snapshotter *s, enum snap_kind kind, const char *key, const char *parent,
		 struct snap_labels *labels, struct snap_mount *ret, struct cvol_error *err)
{
	int r = check_key(kind == SNAP_VIEW ? "view" : "prepare", key, err);
	if (r < 0)
		return r;
	int64_t now = now_ns();
	struct snap_record rec = { .key = (char *)key,
				   .kind = kind,
				   .parent = parent && *parent ? (char *)parent : NULL,
				   .created_ns = now,
				   .updated_ns = now };
	pthread_mutex_lock(&s->lock);
	r = prepare_locked(s, &rec, labels, ret, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- commit ------------------------------------------------------------------------------ */

static int commit_locked(struct cvol_snapshotter *s, const char *name, const char *key,
			 struct snap_labels *labels, struct cvol_error *err)
{
	const struct snap_record *active = snap_index_find(&s->index, key);
	_cleanup_free_ char *diff = NULL;

	if (!active)
		return cvol_error_setx(err, ENOENT, "snapshot `%.128s` does not exist", key);
	if (active->kind != SNAP_ACTIVE)
		return cvol_error_setx(
			err, EBUSY, "snapshot `%.128s` is not active: only an active snapshot commits", key);
	if (snap_index_find(&s->index, name))
		return cvol_error_setx(err, EEXIST, "snapshot `%.128s` already exists", name);
	int64_t now = now_ns();
	_cleanup_free_ char *layer = strdup(active->layer),
			    *parent = active->parent ? strdup(active->parent) : NULL;
	if (!layer || (active->parent && !parent))
		return cvol_error_set(err, ENOMEM, "commit");
	/* copies: the active record goes before the end */
	struct snap_record done = { .key = (char *)name,
				    .kind = SNAP_COMMITTED,
				    .layer = layer,
				    .parent = parent,
				    .created_ns = now,
				    .updated_ns = now };
	if (asprintf(&diff, "%s/%s/diff", cvol_layer_store_get_path(s->layers), layer) < 0)
		return cvol_error_set(err, ENOMEM, "commit");
	int r = snap_disk_usage(diff, &done.size, &done.inodes, err);
	if (r == 0)
		r = cvol_layer_work_drop(s->layers, layer, err);
	if (r == 0) /* the layer as made at Prepare and as containerd wrote it, before its record */
		r = cvol_layer_sync(s->layers, layer, err);
	if (r == 0)
		r = snap_index_rekey(&s->index, key, &done, labels, err);
	if (r == 0)
		chain_root_release_idle(s, done.parent);
	return r;
}

int snap_commit(struct cvol_snapshotter *s, const char *name, const char *key, struct snap_labels *labels,
		struct cvol_error *err)
{
	int r = check_key("commit", name, err);
	if (r == 0)
		r = check_key("commit", key, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	r = commit_locked(s, name, key, labels, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- remove ------------------------------------------------------------------------------ */

/* Remove the store layer of a snapshot (and the root of its chain); a layer already gone is fine. */
static int layer_release(struct cvol_snapshotter *s, const char *layer, struct cvol_error *err)
{
	int r = snap_chain_root_release(s, layer, err);
	if (r < 0)
		return r;
	if (!cvol_layer_exists(s->layers, layer))
		return 0;
	return cvol_layer_discard(s->layers, layer, err);
}

static int remove_locked(struct cvol_snapshotter *s, const char *key, struct cvol_error *err)
{
	const struct snap_record *rec = snap_index_find(&s->index, key);

	if (!rec)
		return cvol_error_setx(err, ENOENT, "snapshot `%.128s` does not exist", key);
	if (rec->children > 0)
		return cvol_error_setx(err, EBUSY,
				       "snapshot `%.128s` has %u child snapshot%s; remove them first", key,
				       rec->children, rec->children == 1 ? "" : "s");
	int r = rec->layer ? layer_release(s, rec->layer, err) : 0;
	if (r < 0)
		return cvol_error_wrap(err, r, "remove snapshot `%.128s`", key);
	bool was_open = rec->kind != SNAP_COMMITTED;
	_cleanup_free_ char *parent = rec->parent ? strdup(rec->parent) : NULL;
	/* unsynced: what a power loss brings back, containerd's GC removes again */
	r = snap_index_delete(&s->index, key, false, err);
	if (r == 0 && was_open)
		chain_root_release_idle(s, parent);
	return r;
}

int snap_remove(struct cvol_snapshotter *s, const char *key, struct cvol_error *err)
{
	int r = check_key("remove", key, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	r = remove_locked(s, key, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- usage ------------------------------------------------------------------------------- */

struct usage {
	int64_t size, inodes;
	void *seen; /* (dev, ino) of files with more than one link, counted once */
};

struct inode_key {
	dev_t dev;
	ino_t ino;
};

static int inode_compare(const void *a, const void *b)
{
	const struct inode_key *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int usage_enter(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	struct usage *u = data;

	if (!S_ISDIR(e->st->st_mode) && e->st->st_nlink > 1) {
		struct inode_key *k = malloc(sizeof(*k));
		if (!k)
			return cvol_error_set(err, ENOMEM, "usage");
		*k = (struct inode_key){ e->st->st_dev, e->st->st_ino };
		struct inode_key **slot = tsearch(k, &u->seen, inode_compare);
		if (!slot) {
			free(k);
			return cvol_error_set(err, ENOMEM, "usage");
		}
		if (*slot != k) {
			free(k);
			return WALK_CONTINUE;
		}
	}
	u->size += (int64_t)e->st->st_blocks * 512;
	u->inodes++;
	return WALK_CONTINUE;
}

int snap_disk_usage(const char *path, int64_t *ret_size, int64_t *ret_inodes, struct cvol_error *err)
{
	static const struct walk_ops ops = { .enter = usage_enter, .batch = 4096 };
	struct usage u = { 0 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return cvol_error_set(err, errno, "measure `%s`", path);
	int r = tree_walk(fd, &ops, &u, err);
	tdestroy(u.seen, free);
	if (r < 0)
		return cvol_error_wrap(err, r, "measure `%s`", path);
	*ret_size = u.size;
	*ret_inodes = u.inodes;
	return 0;
}

int snap_usage(struct cvol_snapshotter *s, const char *key, int64_t *ret_size, int64_t *ret_inodes,
	       struct cvol_error *err)
{
	_cleanup_free_ char *diff = NULL;

	pthread_mutex_lock(&s->lock);
	const struct snap_record *rec = snap_index_find(&s->index, key ? key : "");
	int r = rec ? 0 : cvol_error_setx(err, ENOENT, "snapshot `%.128s` does not exist", key ? key : "");
	*ret_size = *ret_inodes = 0;
	if (r == 0 && rec->kind == SNAP_COMMITTED) {
		*ret_size = rec->size;
		*ret_inodes = rec->inodes;
	} else if (r == 0 && rec->kind == SNAP_ACTIVE &&
		   asprintf(&diff, "%s/%s/diff", cvol_layer_store_get_path(s->layers), rec->layer) < 0) {
		r = cvol_error_set(err, ENOMEM, "usage");
	}
	pthread_mutex_unlock(&s->lock);
	/* an active snapshot is measured without the lock: containerd may be writing it */
	if (r == 0 && diff)
		r = snap_disk_usage(diff, ret_size, ret_inodes, err);
	return r;
}

/* ---- repair and cleanup --------------------------------------------------------------------- */

struct sweep {
	struct cvol_snapshotter *s;
	char **committed_layers; /* sorted, for Commit's repair */
	char **doomed;		 /* keys to drop */
	int r;
};

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool strv_sorted_has(char **v, const char *s)
{
	return v && bsearch(&s, v, strv_length(v), sizeof(char *), strcmp_p);
}

/* Can the layer's link and lower files be read, and does it sit on the parent its record names
 * (an active layer is not synced before Commit)? */
static bool layer_is_whole(struct cvol_snapshotter *s, const struct snap_record *rec)
{
	const struct snap_record *parent = rec->parent ? snap_index_find(&s->index, rec->parent) : NULL;
	struct cvol_layer_paths p, pp;
	bool whole = false;

	if (cvol_layer_paths_get(s->layers, rec->layer, false, &p, NULL) < 0)
		return false;
	if (!rec->parent)
		whole = !p.lowers[0];
	else if (p.lowers[0] && parent && parent->layer &&
		 cvol_layer_paths_get(s->layers, parent->layer, false, &pp, NULL) == 0) {
		whole = strcmp(p.lowers[0], pp.link) == 0;
		cvol_layer_paths_done(&pp);
	}
	cvol_layer_paths_done(&p);
	return whole;
}

static int collect_committed(struct snap_record *rec, void *data)
{
	struct sweep *w = data;
	return rec->kind == SNAP_COMMITTED && strv_push(&w->committed_layers, rec->layer) < 0 ? -ENOMEM : 0;
}

/* A record to drop: one whose layer or parent is gone (a Remove cut short), or an active one on
 * a committed snapshot's layer (Commit rewrites one file, so only a hand-made copy does that;
 * left, a Remove of either would take the other's layer). */
static int collect_doomed(struct snap_record *rec, void *data)
{
	struct sweep *w = data;
	const char *why = NULL;

	if (rec->kind == SNAP_ACTIVE && strv_sorted_has(w->committed_layers, rec->layer))
		why = "its commit was done";
	else if (rec->layer && !cvol_layer_exists(w->s->layers, rec->layer))
		why = "its layer is gone";
	else if (rec->kind == SNAP_ACTIVE && !layer_is_whole(w->s, rec))
		why = "its layer, made without a sync, lost a file in a crash";
	else if (rec->parent && !snap_index_find(&w->s->index, rec->parent))
		why = "its parent is gone";
	if (!why)
		return 0;
	log_warning("snapshot index: dropping `%.128s`: %s", rec->key, why);
	return strv_push(&w->doomed, rec->key) < 0 ? -ENOMEM : 0;
}

/* Drop the records a crash left behind, until none is left (a dropped parent dooms its views). */
static int repair_records(struct cvol_snapshotter *s, struct cvol_error *err)
{
	for (;;) {
		struct sweep w = { .s = s };
		int r = snap_index_for_each(&s->index, collect_committed, &w);
		if (r == 0 && w.committed_layers)
			qsort(w.committed_layers, strv_length(w.committed_layers), sizeof(char *), strcmp_p);
		if (r == 0)
			r = snap_index_for_each(&s->index, collect_doomed, &w);
		for (char **k = w.doomed; r == 0 && k && *k; k++)
			r = snap_index_delete(&s->index, *k, true, err);
		bool again = w.doomed != NULL;
		cvol_strv_free(w.committed_layers);
		cvol_strv_free(w.doomed);
		if (r < 0)
			return r == -ENOMEM ? cvol_error_set(err, ENOMEM, "repair the index") : r;
		if (!again)
			return 0;
	}
}

static int collect_layers(struct snap_record *rec, void *data)
{
	return rec->layer && strv_push(data, rec->layer) < 0 ? -ENOMEM : 0;
}

/* Remove the store layers the snapshotter made that no record names (a Prepare cut short, or
 * one a power loss left without its files). */
static int sweep_orphan_layers(struct cvol_snapshotter *s, struct cvol_error *err)
{
	_cleanup_strv_free_ char **named = NULL, **ids = NULL;

	if (snap_index_for_each(&s->index, collect_layers, &named) < 0)
		return cvol_error_set(err, ENOMEM, "sweep layers");
	if (named)
		qsort(named, strv_length(named), sizeof(char *), strcmp_p);
	if (s->index.ignored > 0) { /* a record not read may name one of them */
		log_warning("snapshotter: %u record file(s) could not be read: keeping the layers no record "
			    "names",
			    s->index.ignored);
		return 0;
	}
	int r = cvol_layer_ids(s->layers, &ids, err);
	if (r < 0)
		return r;
	for (char **id = ids; id && *id; id++) {
		struct cvol_error e = { 0 };
		if (!is_snapshot_layer_id(*id) || strv_sorted_has(named, *id))
			continue;
		if (layer_release(s, *id, &e) < 0)
			log_warning("snapshotter: keeping layer `%s` that no snapshot names: %s", *id, e.msg);
		else
			log_info("snapshotter: removed layer `%s` that no snapshot names", *id);
	}
	return 0;
}

static int collect_idle_chain(struct snap_record *rec, void *data)
{
	return rec->kind == SNAP_COMMITTED && rec->open_children == 0 && strv_push(data, rec->layer) < 0
		       ? -ENOMEM
		       : 0;
}

int snap_cleanup(struct cvol_snapshotter *s, struct cvol_error *err)
{
	_cleanup_strv_free_ char **idle = NULL;

	pthread_mutex_lock(&s->lock);
	int r = sweep_orphan_layers(s, err);
	/* the chain roots no snapshot builds on now: the next Prepare mounts them again */
	if (r == 0 && snap_index_for_each(&s->index, collect_idle_chain, &idle) < 0)
		r = cvol_error_set(err, ENOMEM, "cleanup");
	for (char **l = idle; r == 0 && l && *l; l++) {
		struct cvol_error e = { 0 };
		if (snap_chain_root_release(s, *l, &e) < 0)
			log_warning("snapshotter: %s", e.msg);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- open and close ------------------------------------------------------------------------ */

static int open_dirs(struct cvol_snapshotter *s, const char *root, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = dir_open_store(root, "snapshots", &path, err);
	if (fd < 0)
		return fd;
	s->lock_fd = lock_file_take(fd, ".lock", LOCK_EX | LOCK_NB, err);
	if (s->lock_fd == -EWOULDBLOCK)
		return cvol_error_setx(err, EBUSY, "another cvol-snapshotter serves the store `%s`", root);
	if (s->lock_fd < 0)
		return s->lock_fd;
	int keys_fd = dir_open_at(fd, "keys", true, err);
	if (keys_fd < 0)
		return keys_fd;
	int r = snap_index_open(keys_fd, &s->index, err);
	if (r < 0)
		return r;
	if (asprintf(&s->chains_path, "%s/chains", path) < 0)
		return cvol_error_set(err, ENOMEM, "open the snapshotter");
	s->chains_fd = dir_open_at(fd, "chains", true, err);
	return s->chains_fd < 0 ? s->chains_fd : 0;
}

int cvol_snapshotter_open(const char *root, struct cvol_snapshotter **ret, struct cvol_error *err)
{
	struct cvol_snapshotter *s = calloc(1, sizeof(*s));
	if (!s)
		return cvol_error_set(err, ENOMEM, "open the snapshotter");
	pthread_mutex_init(&s->lock, NULL);
	s->lock_fd = s->chains_fd = s->index.keys_fd = -1;
	int r = cvol_layer_store_open(root, &s->layers, err);
	if (r == 0)
		r = open_dirs(s, root, err);
	if (r == 0)
		r = repair_records(s, err);
	if (r == 0)
		r = sweep_orphan_layers(s, err);
	if (r < 0) {
		cvol_snapshotter_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void cvol_snapshotter_close(struct cvol_snapshotter *s)
{
	if (!s)
		return;
	snap_index_close(&s->index);
	if (s->layers)
		cvol_layer_store_close(s->layers);
	free(s->chains_path);
	if (s->chains_fd >= 0)
		close(s->chains_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
