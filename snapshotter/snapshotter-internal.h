/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to snapshotter/ and its unit tests. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/strv.h"
#include "../layers/layers.h"
#include "snapshotter.h"

/* Bounds on what a client may store (containerd's own rule for a label, and ours for the rest). */
#define SNAP_KEY_MAX	      4096			 /* bytes of a key */
#define SNAP_LABEL_MAX	      4096			 /* bytes of a label's key and value together */
#define SNAP_LABELS_MAX	      (256 * 1024)		 /* bytes of all of a snapshot's labels */
#define SNAP_LABELS_COUNT_MAX 4096			 /* labels of a snapshot */
#define SNAP_RECORD_FILE_MAX  (1024 * 1024)		 /* a record file larger than this is not read */
#define SNAP_FILTER_MAX	      4096			 /* bytes of one filter */
#define SNAP_FILTERS_MAX      64			 /* filters in one List */
#define SNAP_RECORD_NAME_LEN  24			 /* hex digits of a record file's random name */
#define SNAP_LAYER_PREFIX     CVOL_LAYER_SNAPSHOT_PREFIX /* the store layers the snapshotter made */

/* The kinds, with the values of the protocol's Kind. */
enum snap_kind {
	SNAP_VIEW = 1,
	SNAP_ACTIVE = 2,
	SNAP_COMMITTED = 3,
};

struct snap_label {
	char *key;
	char *value;
};

/* A snapshot's labels, sorted by key. */
struct snap_labels {
	struct snap_label *v;
	size_t n;
	size_t bytes; /* of all keys and values, kept as they change */
};

/* A snapshot as the index keeps it in memory (its labels stay on disk). */
struct snap_record {
	char *key;
	enum snap_kind kind;
	char *layer;  /* the store layer: its own (active, committed); NULL for a view */
	char *parent; /* the parent's key; NULL for none */
	int64_t created_ns, updated_ns;
	int64_t size, inodes;		     /* committed: measured at commit */
	unsigned children;		     /* snapshots whose parent this is (memory only) */
	unsigned open_children;		     /* of them, the active ones and views: they use its chain root */
	char file[SNAP_RECORD_NAME_LEN + 1]; /* its file under keys/ (memory only) */
};

/* ---- labels (labels.c) ----------------------------------------------------------------- */

void snap_labels_done(struct snap_labels *l);
/* Add (or replace) one label; an empty value removes it. Checks the bounds: -EINVAL, @err set. */
int snap_labels_set(struct snap_labels *l, const char *key, const char *value, struct cvol_error *err);
/* The value of @key, or NULL. */
const char *snap_labels_get(const struct snap_labels *l, const char *key);
/* containerd's Update: with no @paths, @l becomes @update; "labels" replaces them all;
 * "labels.KEY" sets (or with no value in @update, removes) one. Another path: -EINVAL. */
int snap_labels_update(struct snap_labels *l, const struct snap_labels *update, char *const *paths,
		       size_t n_paths, struct cvol_error *err);

/* ---- the key index (index.c) -------------------------------------------------------- */

/* All records, in memory (a search tree by key) and on disk, one file per key under
 * <root>/snapshots/keys/ with a random name: no key ever becomes a path. */
struct snap_index {
	int keys_fd;
	void *tree;
	size_t n;
	unsigned ignored; /* files at load that were no record (cut short by a power loss) */
};

/* Load every record from the directory @keys_fd (taken over by the index). */
int snap_index_open(int keys_fd, struct snap_index *idx, struct cvol_error *err);
void snap_index_close(struct snap_index *idx);
/* The record of @key, or NULL. */
struct snap_record *snap_index_find(const struct snap_index *idx, const char *key);
/* Write @rec with @labels crash-safely, then keep a copy in memory (replacing one of its key).
 * A new record is synced only with @sync (a rewrite always is). */
int snap_index_put(struct snap_index *idx, const struct snap_record *rec, const struct snap_labels *labels,
		   bool sync, struct cvol_error *err);
/* Replace the record of @old_key by @rec (another key) in one atomic write of its file: a crash
 * leaves one or the other, never both (Commit). */
int snap_index_rekey(struct snap_index *idx, const char *old_key, const struct snap_record *rec,
		     const struct snap_labels *labels, struct cvol_error *err);
/* Remove the record of @key from disk (durably with @sync), then from memory. */
int snap_index_delete(struct snap_index *idx, const char *key, bool sync, struct cvol_error *err);
/* Read the labels of @key's record. */
int snap_index_labels(const struct snap_index *idx, const char *key, struct snap_labels *ret,
		      struct cvol_error *err);
/* Every record, in key order; a negative return of @fn stops the walk and is returned.
 * @fn must not change the index (collect keys, then change). */
typedef int (*snap_record_fn)(struct snap_record *rec, void *data);
int snap_index_for_each(const struct snap_index *idx, snap_record_fn fn, void *data);

/* ---- filters (filter.c) --------------------------------------------------------------- */

/* A parsed list of containerd filters: a snapshot matches if it matches any of them. */
struct snap_filter;
/* Parse containerd's filter syntax (`kind==active,labels."a.b"`, `name~=^x`, ...). */
int snap_filter_parse(char *const *filters, size_t n, struct snap_filter **ret, struct cvol_error *err);
void snap_filter_free(struct snap_filter *f);
/* Does the snapshot match? NULL @f matches everything. @labels may be NULL when none. */
bool snap_filter_match(const struct snap_filter *f, const struct snap_record *rec,
		       const struct snap_labels *labels);
/* Does any selector look at labels (so the caller must read them)? */
bool snap_filter_needs_labels(const struct snap_filter *f);

/* ---- mounts (mounts.c) ---------------------------------------------------------------- */

/* One mount for containerd: mount -t @type @source -o @options. */
struct snap_mount {
	char *type;
	char *source;
	char **options;
};

void snap_mount_done(struct snap_mount *m);

/* ---- the snapshotter (snapshots.c) ----------------------------------------------------- */

struct cvol_snapshotter {
	pthread_mutex_t lock; /* every operation holds it: one writer of the index */
	struct cvol_layer_store *layers;
	struct snap_index index;
	char *chains_path; /* <root>/snapshots/chains: read-only roots of deep parent chains */
	int chains_fd;
	bool chains_private; /* chains_path is a private mount (done before the first chain root) */
	int lock_fd;	     /* <root>/snapshots/.lock, held while this process serves the store */
	struct rpc_service service;
};

/* The mount containerd is to make for the active snapshot or view @rec. */
int snap_mounts(struct cvol_snapshotter *s, const struct snap_record *rec, struct snap_mount *ret,
		struct cvol_error *err);
/* Unmount the read-only root of @layer's chain, if one is mounted. */
int snap_chain_root_release(struct cvol_snapshotter *s, const char *layer, struct cvol_error *err);

int snap_prepare(struct cvol_snapshotter *s, enum snap_kind kind, const char *key, const char *parent,
		 struct snap_labels *labels, struct snap_mount *ret, struct cvol_error *err);
int snap_commit(struct cvol_snapshotter *s, const char *name, const char *key, struct snap_labels *labels,
		struct cvol_error *err);
int snap_remove(struct cvol_snapshotter *s, const char *key, struct cvol_error *err);
int snap_usage(struct cvol_snapshotter *s, const char *key, int64_t *ret_size, int64_t *ret_inodes,
	       struct cvol_error *err);
int snap_cleanup(struct cvol_snapshotter *s, struct cvol_error *err);
/* Measure the files under @path as containerd does: blocks of distinct inodes, and inodes. */
int snap_disk_usage(const char *path, int64_t *ret_size, int64_t *ret_inodes, struct cvol_error *err);
