/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mounts handed to containerd, which makes them itself with mount(2): one option string,
 * at most a page. A chain short enough goes as overlay options naming each layer through its
 * short link ("<store>/l/<short>", about 50 bytes a layer), as containerd's own overlayfs
 * snapshotter does. A deeper chain (past about 65 layers) does not fit: its parent chain is
 * then mounted by cvol as one read-only overlay, with the new mount API (no limit but the
 * kernel's 500 layers), under <root>/snapshots/chains/<layer>, and containerd gets that
 * one directory as its single lower. The string stays short at any depth, containerd still
 * writes a layer straight into the upper dir when it unpacks, and the chain root is shared by
 * every snapshot on the same parent. See docs/snapshotter.md. */
#include "snapshotter-internal.h"

#include "../common/fs.h"
#include "../common/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* containerd mounts an overlay whose options fit in a page with 512 bytes to spare. */
static size_t mount_data_max(void)
{
	long page = sysconf(_SC_PAGESIZE);
	return (size_t)(page > 4096 ? page : 4096) - 512;
}

void snap_mount_done(struct snap_mount *m)
{
	free(m->type);
	free(m->source);
	cvol_strv_free(m->options);
	*m = (struct snap_mount){ 0 };
}

/* Fill @ret from @type, @source and a NULL-ended list of options. */
static int mount_make(struct snap_mount *ret, const char *type, const char *source,
		      const char *const *options)
{
	struct snap_mount m = { .type = strdup(type), .source = strdup(source) };
	int r = m.type && m.source ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && options[i]; i++)
		r = strv_push(&m.options, options[i]);
	if (r < 0) {
		snap_mount_done(&m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

static int mount_bind(struct snap_mount *ret, const char *source, bool read_only, struct cvol_error *err)
{
	const char *options[] = { read_only ? "ro" : "rw", "rbind", NULL };
	return mount_make(ret, "bind", source, options) < 0 ? cvol_error_set(err, ENOMEM, "mounts") : 0;
}

/* "lowerdir=A:B:…" from @lowers; NULL when out of memory. */
static char *lowerdir_option(char *const *lowers)
{
	size_t len = strlen("lowerdir=") + 1;
	for (size_t i = 0; lowers[i]; i++)
		len += strlen(lowers[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	p = stpcpy(p, "lowerdir=");
	for (size_t i = 0; lowers[i]; i++) {
		if (i > 0)
			*p++ = ':';
		p = stpcpy(p, lowers[i]);
	}
	return s;
}

/* An overlay mount: read-write with @upper and @work, else read-only on two or more lowers. */
static int mount_overlay(struct snap_mount *ret, char *const *lowers, const char *upper, const char *work,
			 struct cvol_error *err)
{
	_cleanup_free_ char *lowerdir = lowerdir_option(lowers), *upperdir = NULL, *workdir = NULL;

	if (!lowerdir || (upper && (asprintf(&upperdir, "upperdir=%s", upper) < 0 ||
				    asprintf(&workdir, "workdir=%s", work) < 0)))
		return cvol_error_set(err, ENOMEM, "mounts");
	/* a layer must stay a plain tree (export and diff read it as it is), as the store's own
	 * mounts keep it: no redirects to renamed lower dirs, no metadata-only copies */
	const char *rw[] = { "index=off", "redirect_dir=off", "metacopy=off", workdir, upperdir, lowerdir,
			     NULL };
	const char *ro[] = { lowerdir, NULL };
	return mount_make(ret, "overlay", "overlay", upper ? rw : ro) < 0
		       ? cvol_error_set(err, ENOMEM, "mounts")
		       : 0;
}

static bool mount_fits(const struct snap_mount *m)
{
	size_t len = 0;
	for (char **o = m->options; o && *o; o++)
		len += strlen(*o) + 1;
	return len < mount_data_max();
}

/* ---- read-only roots of deep chains ------------------------------------------------------ */

static bool is_overlay_mount(int dirfd, const char *name)
{
	struct statfs sfs;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd >= 0 && is_mount_root(dirfd, name) && fstatfs(fd, &sfs) == 0 &&
	       (unsigned long)sfs.f_type == OVERLAYFS_SUPER_MAGIC;
}

/* Bind <root>/snapshots/chains on itself, private (as the layer store does with its own dir), so
 * the chain roots mounted there do not propagate into other mount namespaces. */
static int chains_make_private(struct cvol_snapshotter *s, struct cvol_error *err)
{
	const char *path = s->chains_path;

	if (s->chains_private)
		return 0;
	if (!is_mount_root(AT_FDCWD, path) && mount(path, path, NULL, MS_BIND, NULL) < 0)
		return cvol_error_set(err, errno, "bind `%s` on itself", path);
	if (mount(NULL, path, NULL, MS_PRIVATE, NULL) < 0)
		return cvol_error_set(err, errno, "make `%s` a private mount", path);
	/* the fd opened before the bind sees the dir under it, not the mounts made on it */
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cvol_error_set(err, errno, "open `%s`", path);
	close(s->chains_fd);
	s->chains_fd = fd;
	s->chains_private = true;
	return 0;
}

/* The read-only root of @layer's chain (the layer and its parents), mounted once; *@ret_path. */
static int chain_root(struct cvol_snapshotter *s, const char *layer, char **ret_path, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", s->chains_path, layer) < 0)
		return cvol_error_set(err, ENOMEM, "mounts");
	if (!is_overlay_mount(s->chains_fd, layer)) {
		if (mkdirat(s->chains_fd, layer, 0700) < 0 && errno != EEXIST)
			return cvol_error_set(err, errno, "create `%s`", path);
		struct cvol_layer_root root = { .layer = layer, .read_only = true };
		int r = chains_make_private(s, err);
		if (r == 0)
			r = cvol_layer_root_mount(s->layers, &root, path, err);
		if (r < 0)
			return cvol_error_wrap(err, r, "mount the chain of `%s`", layer);
		log_debug(CVOL_LOG_STORE, "mounted the chain of `%s` on `%s`", layer, path);
	}
	*ret_path = TAKE_PTR(path);
	return 0;
}

int snap_chain_root_release(struct cvol_snapshotter *s, const char *layer, struct cvol_error *err)
{
	_cleanup_free_ char *path = NULL;

	if (!is_overlay_mount(s->chains_fd, layer)) {
		(void)unlinkat(s->chains_fd, layer, AT_REMOVEDIR);
		return 0;
	}
	if (asprintf(&path, "%s/%s", s->chains_path, layer) < 0)
		return cvol_error_set(err, ENOMEM, "release chain");
	int r = cvol_layer_root_umount(s->layers, path, err);
	if (r < 0)
		return cvol_error_wrap(err, r, "unmount the chain of `%s`", layer);
	(void)unlinkat(s->chains_fd, layer, AT_REMOVEDIR);
	return 0;
}

/* ---- a snapshot's mount ------------------------------------------------------------------ */

static int mounts_active(struct cvol_snapshotter *s, const struct snap_record *rec, const char *parent_layer,
			 struct snap_mount *ret, struct cvol_error *err)
{
	struct cvol_layer_paths p;
	int r = cvol_layer_paths_get(s->layers, rec->layer, true, &p, err);
	if (r < 0)
		return r;
	if (!p.lowers[0]) {
		r = mount_bind(ret, p.diff, false, err);
	} else {
		r = mount_overlay(ret, p.lowers, p.diff, p.work, err);
		if (r == 0 && !mount_fits(ret)) {
			_cleanup_free_ char *root = NULL;
			snap_mount_done(ret);
			r = chain_root(s, parent_layer, &root, err);
			char *one[] = { root, NULL };
			if (r == 0)
				r = mount_overlay(ret, one, p.diff, p.work, err);
		}
	}
	cvol_layer_paths_done(&p);
	return r;
}

static int mounts_view(struct cvol_snapshotter *s, const char *parent_layer, struct snap_mount *ret,
		       struct cvol_error *err)
{
	_cleanup_free_ char *empty = NULL;

	if (!parent_layer) { /* a view of nothing: the store's empty dir, read-only */
		if (asprintf(&empty, "%s/.empty", cvol_layer_store_get_path(s->layers)) < 0)
			return cvol_error_set(err, ENOMEM, "mounts");
		return mount_bind(ret, empty, true, err);
	}
	struct cvol_layer_paths p;
	int r = cvol_layer_paths_get(s->layers, parent_layer, false, &p, err);
	if (r < 0)
		return r;
	if (!p.lowers[0]) {
		r = mount_bind(ret, p.diff, true, err);
	} else {
		_cleanup_strv_free_ char **lowers = NULL;
		r = strv_push(&lowers, p.link);
		for (size_t i = 0; r == 0 && p.lowers[i]; i++)
			r = strv_push(&lowers, p.lowers[i]);
		r = r < 0 ? cvol_error_set(err, ENOMEM, "mounts")
			  : mount_overlay(ret, lowers, NULL, NULL, err);
		if (r == 0 && !mount_fits(ret)) {
			_cleanup_free_ char *root = NULL;
			snap_mount_done(ret);
			r = chain_root(s, parent_layer, &root, err);
			if (r == 0)
				r = mount_bind(ret, root, true, err);
		}
	}
	cvol_layer_paths_done(&p);
	return r;
}

int snap_mounts(struct cvol_snapshotter *s, const struct snap_record *rec, struct snap_mount *ret,
		struct cvol_error *err)
{
	const struct snap_record *parent = rec->parent ? snap_index_find(&s->index, rec->parent) : NULL;

	if (rec->parent && (!parent || !parent->layer))
		return cvol_error_setx(err, ENOENT, "the parent `%.128s` of `%.128s` is gone", rec->parent,
				       rec->key);
	switch (rec->kind) {
	case SNAP_ACTIVE:
		return mounts_active(s, rec, parent ? parent->layer : NULL, ret, err);
	case SNAP_VIEW:
		return mounts_view(s, parent ? parent->layer : NULL, ret, err);
	default:
		return cvol_error_setx(
			err, EBUSY,
			"snapshot `%.128s` is committed: only an active snapshot or a view has mounts",
			rec->key);
	}
}
