/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What holds a layer: its own read-write mount (a count in <id>/mounts) and the roots
 * mounted on its chain (one record each in .roots/). Both are believed only while
 * mountinfo shows the mount, so they survive the process that made them and reset
 * when the mount is gone (after a reboot, a plain umount, a crash). */
#include "layers-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/mountinfo.h"

#define MOUNTS_FILE "mounts"

/* ---- a layer's own mount ------------------------------------------------------------ */

int layer_merged_path(struct cvol_layer_store *store, const char *id, char **ret)
{
	return asprintf(ret, "%s/%s/merged", store->overlay_path, id) < 0 ? -ENOMEM : 0;
}

static unsigned read_count_file(struct cvol_layer_store *store, const char *id)
{
	_cleanup_free_ char *path = NULL, *text = NULL;

	if (asprintf(&path, "%s/" MOUNTS_FILE, id) < 0 ||
	    file_read_text(store->overlay_fd, path, &text, NULL) < 0)
		return 0;
	return (unsigned)strtoul(text, NULL, 10);
}

unsigned layer_mount_count(struct cvol_layer_store *store, const char *id, struct libmnt_table *mountinfo)
{
	_cleanup_free_ char *merged = NULL;

	if (layer_merged_path(store, id, &merged) < 0 || !mountinfo_has(mountinfo, merged, "overlay", 0))
		return 0;
	unsigned count = read_count_file(store, id);
	return count > 0 ? count : 1;
}

int layer_mount_count_write(struct cvol_layer_store *store, const char *id, unsigned count,
			    struct cvol_error *err)
{
	char text[32];
	_cleanup_close_ int fd =
		openat_beneath(store->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return cvol_error_set(err, -fd, "open layer `%s`", id);
	int n = snprintf(text, sizeof(text), "%u\n", count);
	return file_write_atomic(fd, MOUNTS_FILE, text, (size_t)n, err);
}

void layer_mount_count_drop(int layer_fd)
{
	unlinkat(layer_fd, MOUNTS_FILE, 0);
}

/* ---- roots on a layer's chain ------------------------------------------------------- */

/* A record in .roots/: "<mount id>\n<top layer>\n<mount point>". */
struct root_record {
	int mnt_id;
	char *layer;
	char *merged;
};

static void root_record_done(struct root_record *rec)
{
	free(rec->layer);
	free(rec->merged);
}

static int root_record_read(struct cvol_layer_store *store, const char *name, struct root_record *ret)
{
	_cleanup_free_ char *text = NULL;
	int r = file_read_text(store->roots_fd, name, &text, NULL);
	if (r < 0)
		return r;
	char *layer = strchr(text, '\n');
	char *merged = layer ? strchr(layer + 1, '\n') : NULL;
	if (!merged)
		return -EBADMSG;
	*layer++ = '\0';
	*merged++ = '\0';
	*ret = (struct root_record){ .mnt_id = atoi(text), .layer = strdup(layer), .merged = strdup(merged) };
	if (!ret->layer || !ret->merged) {
		root_record_done(ret);
		return -ENOMEM;
	}
	return 0;
}

static bool root_record_is_live(const struct root_record *rec, struct libmnt_table *mountinfo)
{
	return rec->mnt_id > 0 && mountinfo_has(mountinfo, rec->merged, "overlay", rec->mnt_id);
}

int layer_root_record(struct cvol_layer_store *store, const char *id, const char *merged, int mnt_id,
		      struct cvol_error *err)
{
	_cleanup_free_ char *text = NULL;
	char name[CVOL_SHORTID_LEN + 1];

	int n = asprintf(&text, "%d\n%s\n%s\n", mnt_id, id, merged);
	if (n < 0)
		return cvol_error_set(err, ENOMEM, "record the root `%s`", merged);
	int r = shortid_generate(name);
	if (r < 0)
		return cvol_error_set(err, -r, "name the record of root `%s`", merged);
	r = file_write_atomic(store->roots_fd, name, text, (size_t)n, err);
	return r < 0 ? cvol_error_wrap(err, r, "record the root `%s`", merged) : 0;
}

/* What a walk of .roots/ looks for, and what it found. */
struct roots_walk {
	struct cvol_layer_store *store;
	struct libmnt_table *mountinfo;
	const char *layer;  /* find the live roots on this layer (NULL: none) */
	const char *merged; /* drop the records of this mount point (NULL: none) */
	size_t found;
	char names[512]; /* their mount points, for the message */
};

static void roots_walk_note(struct roots_walk *w, const char *merged)
{
	size_t len = strlen(w->names);
	if (len + 1 < sizeof(w->names))
		snprintf(w->names + len, sizeof(w->names) - len, "%s`%s`", w->found ? ", " : "", merged);
	w->found++;
}

static int roots_walk_one(int dirfd, const char *name, unsigned char d_type, void *data,
			  struct cvol_error *err)
{
	struct roots_walk *w = data;
	struct root_record rec;

	(void)d_type;
	(void)err;
	if (name[0] == '.') /* a temp file of a record being written */
		return 0;
	if (root_record_read(w->store, name, &rec) < 0) {
		(void)unlinkat(dirfd, name, 0); /* a record cut short by a crash holds nothing */
		return 0;
	}
	bool live = root_record_is_live(&rec, w->mountinfo);
	if (!live || (w->merged && strcmp(rec.merged, w->merged) == 0))
		(void)unlinkat(dirfd, name, 0);
	else if (w->layer && strcmp(rec.layer, w->layer) == 0)
		roots_walk_note(w, rec.merged);
	root_record_done(&rec);
	return 0;
}

static int roots_walk(struct roots_walk *w, struct cvol_error *err)
{
	struct libmnt_table *own = NULL;
	if (!w->mountinfo)
		w->mountinfo = own = mountinfo_load();
	int r = dir_for_each(w->store->roots_fd, roots_walk_one, w, err);
	mountinfo_free(own);
	w->mountinfo = NULL;
	return r;
}

int layer_refuse_roots(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	struct roots_walk w = { .store = store, .layer = id };
	int r = roots_walk(&w, err);
	if (r < 0)
		return r;
	if (w.found)
		return cvol_error_setx(err, EBUSY, "it is used by %zu mounted root%s: %s; unmount %s first",
				       w.found, w.found == 1 ? "" : "s", w.names,
				       w.found == 1 ? "it" : "them");
	return 0;
}

int layer_roots_drop(struct cvol_layer_store *store, const char *merged, struct cvol_error *err)
{
	struct roots_walk w = { .store = store, .merged = merged };
	return roots_walk(&w, err);
}
