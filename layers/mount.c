/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting store layers: a layer read-write on its parent chain (reference counted),
 * and roots on a layer's chain that hold it (see refs.c for both kinds of reference). */
#include "layers-internal.h"

#include "../common/mountinfo.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_layer_dir(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	int fd = openat_beneath(store->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	return fd < 0 ? cvol_error_set(err, -fd, "open layer `%s`", id) : fd;
}

/* After the last unmount (or a failed first mount): drop the count, work dir and mount point. */
static void layer_mount_dirs_remove(struct cvol_layer_store *store, const char *id)
{
	_cleanup_close_ int fd = open_layer_dir(store, id, NULL);

	if (fd < 0)
		return;
	layer_mount_count_drop(fd);
	(void)dir_remove_tree(fd, "work", NULL);
	unlinkat(fd, "merged", AT_REMOVEDIR);
}

/* Bind the store's overlay dir on itself and make it private (as Docker does), so
 * the layer mounts under it do not propagate into other mount namespaces. */
static int store_make_private(struct cvol_layer_store *store, struct cvol_error *err)
{
	const char *path = store->overlay_path;

	if (store->made_private)
		return 0;
	if (!is_mount_root(AT_FDCWD, path) && mount(path, path, NULL, MS_BIND, NULL) < 0)
		return cvol_error_set(err, errno, "bind `%s` on itself", path);
	if (mount(NULL, path, NULL, MS_PRIVATE, NULL) < 0)
		return cvol_error_set(err, errno, "make `%s` a private mount", path);
	store->made_private = true;
	return 0;
}

static int layer_overlay_mount(struct cvol_layer_store *store, const char *id, const struct layer_meta *m,
			       const char *merged, struct cvol_error *err)
{
	_cleanup_free_ char *upper = NULL, *work = NULL, *merged_rel = NULL;
	static char empty[] = ".empty";
	char *empty_chain[] = { empty, NULL };

	if (asprintf(&upper, "%s/diff", id) < 0 || asprintf(&work, "%s/work", id) < 0 ||
	    asprintf(&merged_rel, "%s/merged", id) < 0)
		return cvol_error_set(err, ENOMEM, "mount");
	/* a layer's diff must stay a plain tree that export and diff read as it is: no
	 * redirects to renamed lower dirs, no metadata-only copies */
	static char redirect_off[] = "redirect_dir=off", metacopy_off[] = "metacopy=off";
	char *plain_diff[] = { redirect_off, metacopy_off, NULL };
	struct cvol_overlay_config cfg = {
		.lowers = m->chain[0] ? m->chain : empty_chain,
		.upper = upper,
		.work = work,
		.options = plain_diff,
		.base_dirfd = store->overlay_fd,
	};
	if (mkdirat(store->overlay_fd, merged_rel, 0700) < 0 && errno != EEXIST)
		return cvol_error_set(err, errno, "create `%s`", merged);
	return cvol_overlay_mount(&cfg, merged, err);
}

/* The first reference: mount the layer read-write on its chain. */
static int layer_mount_first(struct cvol_layer_store *store, const char *id, const struct layer_meta *m,
			     const char *merged, struct cvol_error *err)
{
	/* Its diff would be the upper of this mount and a lower of its children's or roots'. */
	int r = layer_refuse_children(store, m, "a layer with children is read-only; mount a child", err);
	if (r == 0)
		r = layer_refuse_roots(store, id, err);
	if (r == 0)
		r = store_make_private(store, err);
	if (r == 0)
		r = layer_overlay_mount(store, id, m, merged, err);
	if (r == 0) {
		r = layer_mount_count_write(store, id, 1, err);
		if (r < 0)
			umount2(merged, UMOUNT_NOFOLLOW | MNT_DETACH);
	}
	if (r < 0)
		layer_mount_dirs_remove(store, id);
	return r;
}

static int layer_mount_locked(struct cvol_layer_store *store, const char *id, void *data,
			      struct cvol_error *err)
{
	const char *merged = data;
	struct layer_meta m;
	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	unsigned count = layer_mount_count(store, id, NULL);
	if (count == 0)
		r = layer_mount_first(store, id, &m, merged, err);
	else
		r = layer_mount_count_write(store, id, count + 1, err);
	layer_meta_done(&m);
	return r;
}

int cvol_layer_mount(struct cvol_layer_store *store, const char *id, char **ret_merged,
		     struct cvol_error *err)
{
	_cleanup_free_ char *merged = NULL;

	if (layer_merged_path(store, id, &merged) < 0)
		return cvol_error_set(err, ENOMEM, "mount layer `%s`", id);
	int r = store_run_locked(store, "mount", id, layer_mount_locked, merged, err);
	if (r < 0)
		return r;
	*ret_merged = TAKE_PTR(merged);
	return 0;
}

struct umount_args {
	const char *merged;
	bool force;
};

static int layer_umount_locked(struct cvol_layer_store *store, const char *id, void *data,
			       struct cvol_error *err)
{
	const struct umount_args *a = data;
	struct layer_meta m;
	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	layer_meta_done(&m);
	unsigned count = layer_mount_count(store, id, NULL);
	if (count == 0)
		return cvol_error_setx(err, EINVAL, "it is not mounted");
	if (count > 1 && !a->force)
		return layer_mount_count_write(store, id, count - 1, err);
	r = cvol_overlay_umount(a->merged, err);
	if (r < 0)
		return r;
	layer_mount_dirs_remove(store, id);
	return 0;
}

int cvol_layer_umount(struct cvol_layer_store *store, const char *id, bool force, struct cvol_error *err)
{
	_cleanup_free_ char *merged = NULL;

	if (layer_merged_path(store, id, &merged) < 0)
		return cvol_error_set(err, ENOMEM, "unmount layer `%s`", id);
	struct umount_args a = { .merged = merged, .force = force };
	return store_run_locked(store, "unmount", id, layer_umount_locked, &a, err);
}

/* ---- roots on a layer's chain ------------------------------------------------------- */

/* @path made absolute against the working directory (the mount runs relative to the store);
 * a NULL @path stays NULL. */
static int path_absolute(const char *path, char **ret)
{
	*ret = NULL;
	if (!path)
		return 0;
	if (path[0] == '/')
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return -errno;
	return asprintf(ret, "%s/%s", cwd, path) < 0 ? -ENOMEM : 0;
}

/* What a root mount works on, prepared before anything is mounted. */
struct root_mount {
	const struct cvol_layer_root *root;
	char *merged; /* canonical: the path mountinfo shows */
	char *upper, *work;
	char **lowers; /* l/<short> of the layer, then its chain: short names, relative to the store */
};

static void root_mount_done(struct root_mount *rm)
{
	free(rm->merged);
	free(rm->upper);
	free(rm->work);
	cvol_strv_free(rm->lowers);
}

static int root_mount_prepare(struct cvol_layer_store *store, const char *id, struct root_mount *rm,
			      const char *merged, struct cvol_error *err)
{
	struct layer_meta m;
	char top[CVOL_SHORTID_LEN + 3];

	if (!(rm->merged = realpath(merged, NULL)))
		return cvol_error_set(err, errno, "mount point `%s`", merged);
	if (strchr(rm->merged, '\n'))
		return cvol_error_setx(err, EINVAL, "mount point `%s` has a newline in its path", merged);
	int r = path_absolute(rm->root->upper, &rm->upper);
	if (r == 0)
		r = path_absolute(rm->root->work, &rm->work);
	if (r < 0)
		return cvol_error_set(err, -r, "resolve the upper dir of `%s`", merged);
	r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	unsigned mounts = layer_mount_count(store, id, NULL);
	snprintf(top, sizeof(top), "l/%s", m.link);
	if (mounts > 0)
		r = cvol_error_setx(err, EBUSY, "it is mounted read-write; unmount it first");
	else if ((r = strv_push(&rm->lowers, top)) == 0)
		for (char **e = m.chain; r == 0 && *e; e++)
			r = strv_push(&rm->lowers, *e);
	if (r == -ENOMEM)
		cvol_error_set(err, ENOMEM, "list the chain");
	layer_meta_done(&m);
	return r;
}

struct root_args {
	const struct cvol_layer_root *root;
	const char *merged;
};

static int root_overlay_mount(struct cvol_layer_store *store, const struct root_mount *rm,
			      struct cvol_error *err)
{
	struct cvol_overlay_config cfg = {
		.lowers = rm->lowers,
		.upper = rm->upper,
		.work = rm->work,
		.options = rm->root->options,
		.read_only = rm->root->read_only,
		.base_dirfd = store->overlay_fd,
	};
	return cvol_overlay_mount(&cfg, rm->merged, err);
}

/* Prepare (the chain, absolute paths), record the root, mount it, then complete the record
 * with the mount's ids: a crash at any point leaves no mount that holds nothing. */
static int root_mount_locked(struct cvol_layer_store *store, const char *id, void *data,
			     struct cvol_error *err)
{
	const struct root_args *a = data;
	struct root_mount rm = { .root = a->root };
	char record[CVOL_SHORTID_LEN + 1];
	int mnt_id = 0;
	uint64_t unique = 0;

	int r = root_mount_prepare(store, id, &rm, a->merged, err);
	if (r == 0)
		r = layer_root_begin(store, id, rm.merged, record, err);
	if (r < 0) {
		root_mount_done(&rm);
		return r;
	}
	r = root_overlay_mount(store, &rm, err);
	if (r == 0) {
		r = mount_ids_of(rm.merged, &mnt_id, &unique);
		if (r < 0)
			cvol_error_set(err, -r, "read the mount id of `%s`", rm.merged);
		else
			r = layer_root_commit(store, record, id, rm.merged, mnt_id, unique, err);
		if (r < 0)
			(void)umount2(rm.merged, UMOUNT_NOFOLLOW | MNT_DETACH);
	}
	if (r < 0)
		layer_root_abort(store, record);
	root_mount_done(&rm);
	return r;
}

int cvol_layer_root_mount(struct cvol_layer_store *store, const struct cvol_layer_root *root,
			  const char *merged, struct cvol_error *err)
{
	struct root_args a = { .root = root, .merged = merged };
	return store_run_locked(store, "mount a root on", root->layer, root_mount_locked, &a, err);
}

int cvol_layer_root_umount(struct cvol_layer_store *store, const char *merged, struct cvol_error *err)
{
	_cleanup_free_ char *canonical = realpath(merged, NULL);
	if (!canonical)
		return cvol_error_set(err, errno, "unmount `%s`", merged);
	int mnt_id = 0;
	uint64_t unique = 0;
	int r = flock_retry(store->lock_fd, LOCK_EX);
	if (r < 0)
		return cvol_error_set(err, -r, "lock the store `%s`", store->overlay_path);
	(void)mount_ids_of(canonical, &mnt_id, &unique); /* not a mount: the unmount says so */
	r = cvol_overlay_umount(canonical, err);
	if (r == 0)
		r = layer_roots_drop(store, mnt_id, unique, err);
	(void)flock_retry(store->lock_fd, LOCK_UN);
	return r;
}
