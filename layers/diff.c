/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a layer changed against its parent chain, as `docker diff` shows it: A for a
 * path no lower layer has, C for one it changes, D for one it deletes (a whiteout). */
#include "layers-internal.h"

#include "../common/walk.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct differ {
	int *lowers; /* diff dirs of the chain, top first */
	size_t n_lowers;
	cvol_layer_diff_fn fn;
	void *data;
};

/* What layer @fd does to @path through its ancestors: -1 when one is not a directory (a
 * whiteout: nothing below it shows), 1 when one is an opaque directory, else 0. */
static int ancestors_hide(int fd, const char *path)
{
	char prefix[PATH_MAX];
	struct stat st;
	int r = 0;

	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		/* a prefix too long to stat is not there, as for fstatat() */
		int n = snprintf(prefix, sizeof(prefix), "%.*s", (int)(slash - path), path);
		if (n >= (int)sizeof(prefix) || fstatat(fd, prefix, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return r;
		if (!S_ISDIR(st.st_mode))
			return -1;
		_cleanup_close_ int dfd = openat(fd, prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0 && cvol_whiteout_dir_is_opaque(dfd))
			r = 1;
	}
	return r;
}

/* True when a lower layer shows @path: the first layer (top down) that has it, or
 * a whiteout for it or for a directory above it, or an opaque directory above it, decides. */
static bool lower_has(struct differ *d, const char *path)
{
	struct stat st;
	for (size_t i = 0; i < d->n_lowers; i++) {
		int hide = ancestors_hide(d->lowers[i], path);
		if (hide < 0)
			return false;
		if (fstatat(d->lowers[i], path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (hide > 0)
				return false;
			continue;
		}
		char dir[PATH_MAX], *slash;
		snprintf(dir, sizeof(dir), "%s", path); /* fits: fstatat() took it */
		slash = strrchr(dir, '/');
		const char *name = slash ? slash + 1 : dir;
		if (slash)
			*slash = '\0';
		_cleanup_close_ int dfd =
			slash ? openat(d->lowers[i], dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			      : fcntl(d->lowers[i], F_DUPFD_CLOEXEC, 3);
		return !(dfd >= 0 && cvol_whiteout_is(dfd, name, &st));
	}
	return false;
}

static int diff_enter(const struct walk_entry *e, void *data, struct cvol_error *err)
{
	struct differ *d = data;
	char kind = cvol_whiteout_is(e->dirfd, e->name, e->st) ? 'D' : lower_has(d, e->path) ? 'C' : 'A';
	int r = d->fn(kind, e->path, d->data);
	return r < 0 ? cvol_error_set(err, r, "diff `%s`", e->path) : WALK_CONTINUE;
}

struct diff_args {
	cvol_layer_diff_fn fn;
	void *data;
};

static int layer_diff_locked(struct cvol_layer_store *store, const char *id, void *data,
			     struct cvol_error *err)
{
	struct diff_args *a = data;
	struct layer_meta m;
	char diff_path[PATH_MAX];
	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	struct differ d = { .fn = a->fn, .data = a->data };
	size_t n = strv_length(m.chain);
	d.lowers = calloc(n + 1, sizeof(int));
	if (!d.lowers) {
		layer_meta_done(&m);
		return cvol_error_set(err, ENOMEM, "diff");
	}
	for (; d.n_lowers < n; d.n_lowers++) {
		/* l/<short> is the store's own link to ../<id>/diff */
		d.lowers[d.n_lowers] =
			openat(store->links_fd, m.chain[d.n_lowers] + 2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d.lowers[d.n_lowers] < 0) {
			r = cvol_error_set(err, errno, "open lower `%s`", m.chain[d.n_lowers]);
			break;
		}
	}
	snprintf(diff_path, sizeof(diff_path), "%s/diff", id);
	_cleanup_close_ int diff =
		r == 0 ? openat_beneath(store->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY, 0) : -1;
	if (r == 0 && diff < 0)
		r = cvol_error_set(err, -diff, "open the layer's diff");
	if (r == 0)
		r = tree_walk(diff, &(const struct walk_ops){ .enter = diff_enter }, &d, err);
	for (size_t i = 0; i < d.n_lowers; i++)
		close(d.lowers[i]);
	free(d.lowers);
	layer_meta_done(&m);
	return r;
}

int cvol_layer_diff(struct cvol_layer_store *store, const char *id, cvol_layer_diff_fn fn, void *data,
		    struct cvol_error *err)
{
	struct diff_args a = { fn, data };
	return store_run_shared(store, "diff", id, layer_diff_locked, &a, err);
}
