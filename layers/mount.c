/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mounting store layers with their parent chain, reference counted. The count
 * lives in <id>/mounts but is only believed while mountinfo shows the mount, so
 * it survives the process that made it and resets when the mount is gone. */
#include "layers-internal.h"

#include <fcntl.h>
#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MOUNTS_FILE "mounts"

static int merged_path(struct cvol_layer_store *store, const char *id, char **ret)
{
	return asprintf(ret, "%s/%s/merged", store->overlay_path, id) < 0 ? -ENOMEM : 0;
}

struct libmnt_table *layer_mountinfo_load(void)
{
	return mnt_new_table_from_file("/proc/self/mountinfo");
}

void layer_mountinfo_free(struct libmnt_table *mountinfo)
{
	mnt_unref_table(mountinfo);
}

static bool is_overlay_mounted(struct libmnt_table *mountinfo, const char *path)
{
	struct libmnt_fs *fs = mnt_table_find_target(mountinfo, path, MNT_ITER_BACKWARD);
	return fs && mnt_fs_get_fstype(fs) && strcmp(mnt_fs_get_fstype(fs), "overlay") == 0;
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
	struct libmnt_table *own = NULL;

	if (merged_path(store, id, &merged) < 0)
		return 0;
	if (!mountinfo)
		mountinfo = own = layer_mountinfo_load();
	bool mounted = mountinfo && is_overlay_mounted(mountinfo, merged);
	layer_mountinfo_free(own);
	if (!mounted)
		return 0;
	unsigned count = read_count_file(store, id);
	return count > 0 ? count : 1;
}

static int open_layer_dir(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	int fd = openat_beneath(store->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	return fd < 0 ? cvol_error_set(err, -fd, "open layer `%s`", id) : fd;
}

static int write_count_file(struct cvol_layer_store *store, const char *id, unsigned count, struct cvol_error *err)
{
	char text[32];
	_cleanup_close_ int fd = open_layer_dir(store, id, err);
	if (fd < 0)
		return fd;
	int n = snprintf(text, sizeof(text), "%u\n", count);
	return file_write_atomic(fd, MOUNTS_FILE, text, (size_t)n, err);
}

/* After the last unmount (or a failed first mount): drop the count, work dir and mount point. */
static void layer_mount_dirs_remove(struct cvol_layer_store *store, const char *id)
{
	_cleanup_close_ int fd = open_layer_dir(store, id, NULL);

	if (fd < 0)
		return;
	unlinkat(fd, MOUNTS_FILE, 0);
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
	/* Its diff would be the upper of this mount and a lower of its children's. */
	int r = layer_refuse_children(store, m, "a layer with children is read-only; mount a child", err);
	if (r == 0)
		r = store_make_private(store, err);
	if (r == 0)
		r = layer_overlay_mount(store, id, m, merged, err);
	if (r == 0) {
		r = write_count_file(store, id, 1, err);
		if (r < 0)
			umount2(merged, UMOUNT_NOFOLLOW | MNT_DETACH);
	}
	if (r < 0)
		layer_mount_dirs_remove(store, id);
	return r;
}

static int layer_mount_locked(struct cvol_layer_store *store, const char *id, void *data, struct cvol_error *err)
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
		r = write_count_file(store, id, count + 1, err);
	layer_meta_done(&m);
	return r;
}

int cvol_layer_mount(struct cvol_layer_store *store, const char *id, char **ret_merged, struct cvol_error *err)
{
	_cleanup_free_ char *merged = NULL;

	if (merged_path(store, id, &merged) < 0)
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

static int layer_umount_locked(struct cvol_layer_store *store, const char *id, void *data, struct cvol_error *err)
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
		return write_count_file(store, id, count - 1, err);
	r = cvol_overlay_umount(a->merged, err);
	if (r < 0)
		return r;
	layer_mount_dirs_remove(store, id);
	return 0;
}

int cvol_layer_umount(struct cvol_layer_store *store, const char *id, bool force, struct cvol_error *err)
{
	_cleanup_free_ char *merged = NULL;

	if (merged_path(store, id, &merged) < 0)
		return cvol_error_set(err, ENOMEM, "unmount layer `%s`", id);
	struct umount_args a = { .merged = merged, .force = force };
	return store_run_locked(store, "unmount", id, layer_umount_locked, &a, err);
}

static int layer_lowers_locked(struct cvol_layer_store *store, const char *id, void *data, struct cvol_error *err)
{
	char ***ret = data;
	struct layer_meta m;
	_cleanup_strv_free_ char **paths = calloc(1, sizeof(char *));
	char path[4096];

	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	r = path_format(path, sizeof(path), err, "%s/%s/diff", store->overlay_path, id);
	if (r == 0 && (!paths || cvol_strv_push(&paths, path) < 0))
		r = cvol_error_set(err, ENOMEM, "list the chain");
	for (char **e = m.chain; r == 0 && *e; e++)
		if ((r = path_format(path, sizeof(path), err, "%s/%s", store->overlay_path, *e)) == 0 &&
		    cvol_strv_push(&paths, path) < 0)
			r = cvol_error_set(err, ENOMEM, "list the chain");
	layer_meta_done(&m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(paths);
	return 0;
}

int cvol_layer_get_lowers(struct cvol_layer_store *store, const char *id, char ***ret_paths, struct cvol_error *err)
{
	return store_run_locked(store, "read", id, layer_lowers_locked, ret_paths, err);
}
