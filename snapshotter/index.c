/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The key index: containerd's keys are any strings ("default/12/extract-3 sha256:…", with
 * spaces and slashes), so a key never becomes a path. Each record is a file under
 * <root>/snapshots/keys/ with a random name (24 hex digits) chosen when its key is first
 * written, one line of JSON holding the key, written crash-safely (temp file, fsync, rename,
 * fsync the dir). All records are loaded into memory at open, in a search tree by key, without
 * their labels (read from the file when asked for): one process serves a store, so memory and
 * disk agree while it runs, and a key is only ever looked up there. */
#include "snapshotter-internal.h"

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/walk.h"

#include <fcntl.h>
#include <jansson.h>
#include <search.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_VERSION 1

static const char *const kind_names[] = {
	[SNAP_VIEW] = "view",
	[SNAP_ACTIVE] = "active",
	[SNAP_COMMITTED] = "committed",
};

static int kind_parse(const char *s, enum snap_kind *ret)
{
	for (enum snap_kind k = SNAP_VIEW; k <= SNAP_COMMITTED; k++)
		if (s && strcmp(s, kind_names[k]) == 0) {
			*ret = k;
			return 0;
		}
	return -EBADMSG;
}

/* A fresh record file name: 24 random hex digits. */
static int file_name_new(char name[SNAP_RECORD_NAME_LEN + 1])
{
	uint8_t b[SNAP_RECORD_NAME_LEN / 2];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		sprintf(name + 2 * i, "%02x", b[i]);
	return 0;
}

static void record_free(struct snap_record *rec)
{
	if (!rec)
		return;
	free(rec->key);
	free(rec->layer);
	free(rec->parent);
	free(rec);
}

static int record_compare(const void *a, const void *b)
{
	return strcmp(((const struct snap_record *)a)->key, ((const struct snap_record *)b)->key);
}

static struct snap_record *record_copy(const struct snap_record *rec)
{
	struct snap_record *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	*c = *rec;
	c->key = strdup(rec->key);
	c->layer = rec->layer ? strdup(rec->layer) : NULL;
	c->parent = rec->parent ? strdup(rec->parent) : NULL;
	if (!c->key || (rec->layer && !c->layer) || (rec->parent && !c->parent)) {
		record_free(c);
		return NULL;
	}
	return c;
}

/* ---- the file ------------------------------------------------------------------------ */

static json_t *labels_to_json(const struct snap_labels *labels)
{
	json_t *o = json_object();
	for (size_t i = 0; o && labels && i < labels->n; i++)
		if (json_object_set_new(o, labels->v[i].key, json_string(labels->v[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* The record as one line of JSON; NULL when out of memory or when a key or label is not UTF-8
 * (jansson refuses it). */
static char *record_dump(const struct snap_record *rec, const struct snap_labels *labels)
{
	json_t *labels_json = labels_to_json(labels);
	if (!labels_json)
		return NULL;
	json_auto_t *doc = json_pack("{si ss ss ss* ss* sI sI sI sI so}", "version", RECORD_VERSION, "key",
				     rec->key, "kind", kind_names[rec->kind], "layer", rec->layer, "parent",
				     rec->parent, "created", (json_int_t)rec->created_ns, "updated",
				     (json_int_t)rec->updated_ns, "size", (json_int_t)rec->size, "inodes",
				     (json_int_t)rec->inodes, "labels", labels_json);
	return doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

static int labels_from_json(json_t *o, struct snap_labels *ret)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v) || snap_labels_set(ret, k, json_string_value(v), NULL) < 0)
			return -EBADMSG;
	}
	return 0;
}

/* Parse a record file; @ret_labels may be NULL. */
static int record_parse(const char *text, struct snap_record **ret, struct snap_labels *ret_labels)
{
	json_error_t jerr;
	json_auto_t *doc = json_loads(text, 0, &jerr);
	const char *key = NULL, *kind = NULL, *layer = NULL, *parent = NULL;
	json_int_t version = 0, created = 0, updated = 0, size = 0, inodes = 0;
	json_t *labels = NULL;

	if (!doc ||
	    json_unpack(doc, "{sI ss ss s?s s?s sI sI sI sI so}", "version", &version, "key", &key, "kind",
			&kind, "layer", &layer, "parent", &parent, "created", &created, "updated", &updated,
			"size", &size, "inodes", &inodes, "labels", &labels) < 0 ||
	    version != RECORD_VERSION || !json_is_object(labels))
		return -EBADMSG;
	struct snap_record rec = { .key = (char *)key,
				   .layer = (char *)layer,
				   .parent = (char *)parent,
				   .created_ns = created,
				   .updated_ns = updated,
				   .size = size,
				   .inodes = inodes };
	if (kind_parse(kind, &rec.kind) < 0 || (rec.kind != SNAP_VIEW && !layer))
		return -EBADMSG;
	if (ret_labels && labels_from_json(labels, ret_labels) < 0) {
		snap_labels_done(ret_labels);
		return -EBADMSG;
	}
	if (ret && !(*ret = record_copy(&rec)))
		return -ENOMEM;
	return 0;
}

/* Read the record file @name, refusing one too large to be ours. */
static int record_file_read(int keys_fd, const char *name, char **ret_text, struct cvol_error *err)
{
	struct stat st;

	if (fstatat(keys_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return cvol_error_set(err, errno, "read record `%s`", name);
	if (!S_ISREG(st.st_mode) || st.st_size > SNAP_RECORD_FILE_MAX)
		return cvol_error_setx(err, EBADMSG, "record `%s` is not a file of at most %d bytes", name,
				       SNAP_RECORD_FILE_MAX);
	return file_read_text(keys_fd, name, ret_text, err);
}

/* ---- memory --------------------------------------------------------------------------- */

static int tree_insert(struct snap_index *idx, struct snap_record *rec)
{
	struct snap_record **slot = tsearch(rec, &idx->tree, record_compare);
	if (!slot)
		return -ENOMEM;
	if (*slot != rec) { /* replace the record of that key, keeping its children counts */
		rec->children = (*slot)->children;
		rec->open_children = (*slot)->open_children;
		record_free(*slot);
		*slot = rec;
	} else {
		idx->n++;
	}
	return 0;
}

struct snap_record *snap_index_find(const struct snap_index *idx, const char *key)
{
	struct snap_record probe = { .key = (char *)key };
	struct snap_record **slot = tfind(&probe, &idx->tree, record_compare);
	return slot ? *slot : NULL;
}

/* Count @child in (@delta 1) or out (-1) of its parent's children. */
static void parent_children_add(struct snap_index *idx, const struct snap_record *child, int delta)
{
	struct snap_record *p = child->parent ? snap_index_find(idx, child->parent) : NULL;
	if (!p)
		return;
	p->children += delta;
	if (child->kind != SNAP_COMMITTED)
		p->open_children += delta;
}

/* ---- loading ---------------------------------------------------------------------------- */

static bool is_record_name(const char *name)
{
	return strlen(name) == SNAP_RECORD_NAME_LEN &&
	       strspn(name, "0123456789abcdef") == SNAP_RECORD_NAME_LEN;
}

/* Two files with one key (never written so: a file copied in by hand): the later one holds. */
/* Two files with one key: a Remove (not synced) and a Prepare of the same key again, then a
 * power loss, can leave them. The one updated last holds; the other is removed. */
static int load_duplicate(struct snap_index *idx, struct snap_record *rec)
{
	struct snap_record *had = snap_index_find(idx, rec->key);
	const struct snap_record *older = had->updated_ns > rec->updated_ns ? rec : had;

	log_warning(
		"snapshot index: `keys/%s` and `keys/%s` both hold `%.128s`; removing `keys/%s`, the older",
		had->file, rec->file, rec->key, older->file);
	(void)unlinkat(idx->keys_fd, older->file, 0);
	if (older == had)
		return tree_insert(idx, rec);
	record_free(rec);
	return 0;
}

static int load_one(int dirfd, const char *name, unsigned char d_type, void *data, struct cvol_error *err)
{
	struct snap_index *idx = data;
	_cleanup_free_ char *text = NULL;
	struct snap_record *rec = NULL;

	(void)d_type;
	if (name[0] == '.' && strstr(name, ".tmp")) { /* an atomic write a crash cut short */
		unlinkat(dirfd, name, 0);
		return 0;
	}
	if (!is_record_name(name)) {
		log_warning("snapshot index: ignoring `keys/%s`: not a record of this index", name);
		return 0;
	}
	/* Only a file that is not a record is ignored (one cut short by a power loss): any other
	 * failure fails the open, for a record not loaded would leave its layer to the sweep. */
	struct cvol_error e = { 0 };
	int r = record_file_read(dirfd, name, &text, &e);
	if (r == 0 && (r = record_parse(text, &rec, NULL)) == -EBADMSG)
		cvol_error_setx(&e, EBADMSG, "`keys/%s` is not a record", name);
	if (r == -EBADMSG) {
		log_warning("snapshot index: ignoring `keys/%s`: %s", name, e.msg);
		idx->ignored++;
		return 0;
	}
	if (r < 0 && e.code)
		return cvol_error_wrap(err, r, "%s", e.msg);
	if (r < 0)
		return cvol_error_set(err, -r, "load `keys/%s`", name);
	memcpy(rec->file, name, sizeof(rec->file));
	r = snap_index_find(idx, rec->key) ? load_duplicate(idx, rec) : tree_insert(idx, rec);
	if (r < 0) {
		record_free(rec);
		return cvol_error_set(err, -r, "load `keys/%s`", name);
	}
	return 0;
}

static void count_children(const void *node, VISIT which, void *data)
{
	struct snap_index *idx = data;
	const struct snap_record *rec = *(struct snap_record *const *)node;

	if (which == postorder || which == leaf)
		parent_children_add(idx, rec, 1);
}

int snap_index_open(int keys_fd, struct snap_index *idx, struct cvol_error *err)
{
	*idx = (struct snap_index){ .keys_fd = keys_fd };
	int r = dir_for_each(keys_fd, load_one, idx, err);
	if (r < 0) {
		snap_index_close(idx);
		return cvol_error_wrap(err, r, "load the snapshot index");
	}
	twalk_r(idx->tree, count_children, idx);
	return 0;
}

static void free_node(void *node)
{
	record_free(node);
}

void snap_index_close(struct snap_index *idx)
{
	tdestroy(idx->tree, free_node);
	if (idx->keys_fd >= 0)
		close(idx->keys_fd);
	*idx = (struct snap_index){ .keys_fd = -1 };
}

/* ---- changes -------------------------------------------------------------------------- */

/* Write a record file: a new one straight under its fresh name (a crash leaves none, or one
 * that does not parse and is ignored), synced or not; an existing one through a temp file and a
 * rename, always synced. */
static int record_file_write(struct snap_index *idx, const char *file, const char *text, bool fresh,
			     bool sync, struct cvol_error *err)
{
	if (!fresh)
		return file_write_atomic(idx->keys_fd, file, text, strlen(text), err);
	int r = file_write_new(idx->keys_fd, file, text, strlen(text), sync, err);
	return r < 0 || !sync ? r : dir_fsync(idx->keys_fd, err);
}

/* Refuse a record that could not be read back: not UTF-8, or larger than a record file may be
 * (jansson writes a control character as 6 bytes: 256 KiB of labels can take 1.5 MiB). */
static int record_check(const char *text, const char *key, struct cvol_error *err)
{
	if (!text)
		return cvol_error_setx(err, EINVAL, "the record of `%.128s`: a key or a label is not UTF-8",
				       key);
	if (strlen(text) > SNAP_RECORD_FILE_MAX)
		return cvol_error_setx(err, EINVAL, "the record of `%.128s` would take %zu bytes; at most %d",
				       key, strlen(text), SNAP_RECORD_FILE_MAX);
	return 0;
}

/* What a write of @rec needs: its text, checked, and the copy memory keeps. */
static int record_prepare(const struct snap_record *rec, const struct snap_labels *labels, char **ret_text,
			  struct snap_record **ret_copy, struct cvol_error *err)
{
	_cleanup_free_ char *text = record_dump(rec, labels);
	int r = record_check(text, rec->key, err);
	if (r < 0)
		return r;
	if (!(*ret_copy = record_copy(rec)))
		return cvol_error_set(err, ENOMEM, "write the record of `%.128s`", rec->key);
	*ret_text = TAKE_PTR(text);
	return 0;
}

int snap_index_put(struct snap_index *idx, const struct snap_record *rec, const struct snap_labels *labels,
		   bool sync, struct cvol_error *err)
{
	const struct snap_record *had = snap_index_find(idx, rec->key);
	_cleanup_free_ char *text = NULL;
	struct snap_record *copy;
	int r = record_prepare(rec, labels, &text, &copy, err);
	if (r < 0)
		return r;
	if (had) /* the file its key already has */
		memcpy(copy->file, had->file, sizeof(copy->file));
	else if ((r = file_name_new(copy->file)) == 0 &&
		 faccessat(idx->keys_fd, copy->file, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		r = -EEXIST; /* 96 random bits met a name in use: refuse rather than overwrite */
	if (r == 0)
		r = record_file_write(idx, copy->file, text, !had, sync, err);
	if (r == 0)
		r = tree_insert(idx, copy);
	if (r < 0) {
		record_free(copy);
		return cvol_error_wrap(err, r, "write the record of `%.128s`", rec->key);
	}
	if (!had)
		parent_children_add(idx, rec, 1);
	return 0;
}

int snap_index_rekey(struct snap_index *idx, const char *old_key, const struct snap_record *rec,
		     const struct snap_labels *labels, struct cvol_error *err)
{
	struct snap_record *had = snap_index_find(idx, old_key);
	if (!had)
		return cvol_error_setx(err, ENOENT, "no snapshot `%.128s`", old_key);
	if (snap_index_find(idx, rec->key))
		return cvol_error_setx(err, EEXIST, "snapshot `%.128s` already exists", rec->key);
	_cleanup_free_ char *text = NULL;
	struct snap_record *copy;
	int r = record_prepare(rec, labels, &text, &copy, err);
	if (r < 0)
		return r;
	memcpy(copy->file, had->file, sizeof(copy->file));
	/* the new entry first: memory that cannot take it is found before the file changes */
	r = tree_insert(idx, copy);
	if (r == 0 && (r = file_write_atomic(idx->keys_fd, copy->file, text, strlen(text), err)) < 0)
		tdelete(copy, &idx->tree, record_compare), idx->n--;
	if (r < 0) {
		record_free(copy);
		return r == -ENOMEM ? cvol_error_set(err, ENOMEM, "index `%.128s`", rec->key)
				    : cvol_error_wrap(err, r, "write the record of `%.128s`", rec->key);
	}
	parent_children_add(idx, copy, 1);
	/* the old key's entry goes, without its file (now the new record's) */
	parent_children_add(idx, had, -1);
	tdelete(had, &idx->tree, record_compare);
	record_free(had);
	idx->n--;
	return 0;
}

int snap_index_delete(struct snap_index *idx, const char *key, bool sync, struct cvol_error *err)
{
	struct snap_record *rec = snap_index_find(idx, key);

	if (!rec)
		return cvol_error_setx(err, ENOENT, "no snapshot `%.128s`", key);
	if (unlinkat(idx->keys_fd, rec->file, 0) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove the record of `%.128s`", key);
	int r = sync ? dir_fsync(idx->keys_fd, err) : 0;
	if (r < 0)
		return r;
	parent_children_add(idx, rec, -1);
	tdelete(rec, &idx->tree, record_compare);
	record_free(rec);
	idx->n--;
	return 0;
}

int snap_index_labels(const struct snap_index *idx, const char *key, struct snap_labels *ret,
		      struct cvol_error *err)
{
	const struct snap_record *rec = snap_index_find(idx, key);
	_cleanup_free_ char *text = NULL;

	*ret = (struct snap_labels){ 0 };
	if (!rec)
		return cvol_error_setx(err, ENOENT, "no snapshot `%.128s`", key);
	int r = record_file_read(idx->keys_fd, rec->file, &text, err);
	if (r == 0 && record_parse(text, NULL, ret) < 0)
		r = cvol_error_setx(err, EBADMSG, "the record of `%.128s` is corrupt", key);
	return r;
}

/* ---- walking ------------------------------------------------------------------------------ */

struct walk_ctx {
	snap_record_fn fn;
	void *data;
	int r;
};

static void walk_one(const void *node, VISIT which, void *data)
{
	struct walk_ctx *w = data;

	if (w->r < 0 || (which != postorder && which != leaf))
		return;
	int r = w->fn(*(struct snap_record *const *)node, w->data);
	if (r < 0)
		w->r = r;
}

int snap_index_for_each(const struct snap_index *idx, snap_record_fn fn, void *data)
{
	struct walk_ctx w = { .fn = fn, .data = data };
	twalk_r(idx->tree, walk_one, &w);
	return w.r;
}
