/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What holds a layer: its own read-write mount (a count in <id>/mounts) and the roots
 * mounted on its chain (one record each in .roots/). Both are believed only while the
 * mount they name exists, so they survive the process that made them and reset when the
 * mount is gone (after a reboot, a plain umount, a crash). A root record names its mount
 * by boot, mount namespace and mount id (the unique id where the kernel has one); when
 * that cannot be checked, the record holds (a reference fails safe). */
#include "layers-internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/mountinfo.h"
#include "../common/system.h"

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

/* True when statx says @path is no mount root (false when it cannot tell: no such flag before
 * Linux 5.8, or no such path, which mountinfo then settles). */
static bool surely_not_mounted(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return errno == ENOENT;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

unsigned layer_mount_count(struct cvol_layer_store *store, const char *id, struct libmnt_table *mountinfo)
{
	_cleanup_free_ char *merged = NULL;

	if (layer_merged_path(store, id, &merged) < 0)
		return 0;
	/* nothing is mounted on a path that is not a mount root: no need to read mountinfo (a
	 * host's has thousands of lines, and every create, remove and Prepare asks) */
	if (!mountinfo && surely_not_mounted(merged))
		return 0;
	if (!mountinfo_has(mountinfo, merged, "overlay", 0))
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

#define ROOT_RECORD_MAGIC "cvol-root 1"

/* A record in .roots/, one line each: the magic, the boot, the mount namespace, the mount id
 * (0 while the mount is being made), its unique id (0 when the kernel has none), the layer,
 * the mount point. */
struct root_record {
	char boot[40];
	uint64_t ns;
	int mnt_id;
	uint64_t unique;
	char *layer;
	char *merged;
};

static void root_record_done(struct root_record *rec)
{
	free(rec->layer);
	free(rec->merged);
}

/* Split @text at its newlines into @n lines; -EBADMSG when it has fewer. */
static int split_lines(char *text, char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lines[i] = text;
		char *nl = i + 1 < n ? strchr(text, '\n') : NULL;
		if (i + 1 < n && !nl)
			return -EBADMSG;
		if (nl) {
			*nl = '\0';
			text = nl + 1;
		}
	}
	return 0;
}

/* 0, -EBADMSG for a record that is not one (cut short by a crash), or another -errno. */
static int root_record_read(struct cvol_layer_store *store, const char *name, struct root_record *ret)
{
	_cleanup_free_ char *text = NULL;
	char *line[7], *end = NULL;
	int r = file_read_text(store->roots_fd, name, &text, NULL);
	if (r < 0)
		return r;
	if (split_lines(text, line, ARRAY_SIZE(line)) < 0 || strcmp(line[0], ROOT_RECORD_MAGIC) != 0)
		return -EBADMSG;
	*ret = (struct root_record){ 0 };
	snprintf(ret->boot, sizeof(ret->boot), "%s", line[1]);
	errno = 0;
	ret->ns = strtoull(line[2], &end, 10);
	ret->mnt_id = (int)strtol(line[3], &end, 10);
	ret->unique = strtoull(line[4], &end, 10);
	if (errno != 0 || !*line[5] || line[6][0] != '/')
		return -EBADMSG;
	ret->layer = strdup(line[5]);
	ret->merged = strdup(line[6]);
	if (!ret->layer || !ret->merged) {
		root_record_done(ret);
		return -ENOMEM;
	}
	return 0;
}

static int root_record_write(struct cvol_layer_store *store, const char *name, const struct root_record *rec,
			     struct cvol_error *err)
{
	_cleanup_free_ char *text = NULL;
	int n = asprintf(&text, ROOT_RECORD_MAGIC "\n%s\n%" PRIu64 "\n%d\n%" PRIu64 "\n%s\n%s\n", rec->boot,
			 rec->ns, rec->mnt_id, rec->unique, rec->layer, rec->merged);
	if (n < 0)
		return cvol_error_set(err, ENOMEM, "record the root `%s`", rec->merged);
	int r = file_write_atomic(store->roots_fd, name, text, (size_t)n, err);
	return r < 0 ? cvol_error_wrap(err, r, "record the root `%s`", rec->merged) : 0;
}

/* Whether the root of @rec is mounted: 1 or 0, or -errno when that cannot be told (never
 * guessed as 0: a reference must fail safe). @mountinfo is this namespace's table. */
static int root_record_is_live(const struct root_record *rec, uint64_t own_ns, struct libmnt_table *mountinfo)
{
	if (strcmp(rec->boot, boot_id()) != 0)
		return 0; /* mounts do not outlive a boot */
	if (rec->ns != own_ns)
		return mount_ns_is_alive(rec->ns); /* not in our mountinfo: held while its namespace is */
	if (rec->mnt_id == 0)			   /* being mounted, or a crash before the ids were written */
		return mountinfo_has(mountinfo, rec->merged, "overlay", 0);
	int r = mount_unique_exists(rec->unique);
	if (r >= 0)
		return r;
	return mountinfo_has_id(mountinfo, rec->mnt_id, rec->merged, "overlay");
}

int layer_root_begin(struct cvol_layer_store *store, const char *id, const char *merged,
		     char ret_name[CVOL_SHORTID_LEN + 1], struct cvol_error *err)
{
	struct root_record rec = { .layer = (char *)id, .merged = (char *)merged };
	snprintf(rec.boot, sizeof(rec.boot), "%s", boot_id());
	int r = mount_ns_self(&rec.ns);
	if (r < 0)
		return cvol_error_set(err, -r, "read the mount namespace");
	if (!rec.boot[0])
		return cvol_error_setx(err, EIO, "read the boot id");
	r = shortid_generate(ret_name);
	if (r < 0)
		return cvol_error_set(err, -r, "name the record of root `%s`", merged);
	return root_record_write(store, ret_name, &rec, err);
}

int layer_root_commit(struct cvol_layer_store *store, const char *name, const char *id, const char *merged,
		      int mnt_id, uint64_t unique, struct cvol_error *err)
{
	struct root_record rec = {
		.layer = (char *)id, .merged = (char *)merged, .mnt_id = mnt_id, .unique = unique
	};
	snprintf(rec.boot, sizeof(rec.boot), "%s", boot_id());
	int r = mount_ns_self(&rec.ns);
	if (r < 0)
		return cvol_error_set(err, -r, "read the mount namespace");
	return root_record_write(store, name, &rec, err);
}

static int remove_temp_record(int dirfd, const char *name, unsigned char d_type, void *data,
			      struct cvol_error *err)
{
	(void)d_type;
	(void)data;
	(void)err;
	if (name[0] == '.') /* a record write cut short by a crash */
		(void)unlinkat(dirfd, name, 0);
	return 0;
}

int layer_roots_repair(struct cvol_layer_store *store, struct cvol_error *err)
{
	return dir_for_each(store->roots_fd, remove_temp_record, NULL, err);
}

void layer_root_abort(struct cvol_layer_store *store, const char *name)
{
	(void)unlinkat(store->roots_fd, name, 0);
	(void)dir_fsync(store->roots_fd, NULL);
}

/* What a walk of .roots/ looks for, and what it found. */
struct roots_walk {
	struct cvol_layer_store *store;
	struct libmnt_table *mountinfo;
	uint64_t own_ns;
	const char *layer;    /* find the live roots on this layer (NULL: none) */
	int drop_id;	      /* drop the records of this mount (0: none) */
	uint64_t drop_unique; /* (its unique id, 0 when unknown) */
	size_t found;
	char names[512]; /* their mount points, for the message */
};

static void roots_walk_note(struct roots_walk *w, const struct root_record *rec, bool foreign)
{
	size_t len = strlen(w->names);
	if (len + 1 < sizeof(w->names))
		snprintf(w->names + len, sizeof(w->names) - len, "%s`%s`%s", w->found ? ", " : "",
			 rec->merged, foreign ? " (in another mount namespace)" : "");
	w->found++;
}

static bool roots_walk_drops(const struct roots_walk *w, const struct root_record *rec)
{
	if (w->drop_id == 0 || rec->ns != w->own_ns)
		return false;
	if (w->drop_unique && rec->unique)
		return rec->unique == w->drop_unique;
	return rec->mnt_id == w->drop_id;
}

static int roots_walk_one(int dirfd, const char *name, unsigned char d_type, void *data,
			  struct cvol_error *err)
{
	struct roots_walk *w = data;
	struct root_record rec;

	(void)d_type;
	if (name[0] == '.') /* a record being written */
		return 0;
	int r = root_record_read(w->store, name, &rec);
	if (r == -EBADMSG) /* a record cut short by a crash: its mount, if any, never got its ids */
		return unlinkat(dirfd, name, 0) < 0 ? cvol_error_set(err, errno, "remove `.roots/%s`", name)
						    : 0;
	if (r < 0)
		return cvol_error_set(err, -r, "read `.roots/%s`", name);
	if (!w->mountinfo && !(w->mountinfo = mountinfo_load())) { /* read once there is a record */
		root_record_done(&rec);
		return cvol_error_set(err, errno ? errno : EIO, "read /proc/self/mountinfo");
	}
	int live = root_record_is_live(&rec, w->own_ns, w->mountinfo);
	if (live < 0)
		r = cvol_error_set(err, -live, "tell whether the root on `%s` is mounted", rec.merged);
	else if (!live || roots_walk_drops(w, &rec))
		r = unlinkat(dirfd, name, 0) < 0 ? cvol_error_set(err, errno, "remove `.roots/%s`", name) : 0;
	else if (w->layer && strcmp(rec.layer, w->layer) == 0)
		roots_walk_note(w, &rec, rec.ns != w->own_ns);
	root_record_done(&rec);
	return r;
}

/* Walk .roots/; fails (and drops nothing) when this namespace's mounts cannot be read. */
static int roots_walk(struct roots_walk *w, struct cvol_error *err)
{
	int r = mount_ns_self(&w->own_ns);
	if (r < 0)
		return cvol_error_set(err, -r, "read the mount namespace");
	r = dir_for_each(w->store->roots_fd, roots_walk_one, w, err);
	mountinfo_free(w->mountinfo);
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

int layer_roots_drop(struct cvol_layer_store *store, int mnt_id, uint64_t unique, struct cvol_error *err)
{
	struct roots_walk w = { .store = store, .drop_id = mnt_id, .drop_unique = unique };
	return roots_walk(&w, err);
}
