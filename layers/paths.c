/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A layer's paths for an engine that mounts it itself (containerd mounts what its
 * snapshotter hands it): absolute, through the short links, so that its option string stays
 * as short as the store can make it. */
#include "layers-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define WORK_DIR "work"

void cvol_layer_paths_done(struct cvol_layer_paths *p)
{
	free(p->diff);
	free(p->work);
	free(p->link);
	cvol_strv_free(p->lowers);
	*p = (struct cvol_layer_paths){ 0 };
}

/* Each "l/<short>" chain entry as "<store>/l/<short>". */
static int chain_absolute(const struct cvol_layer_store *store, char **chain, char ***ret)
{
	size_t n = strv_length(chain);
	_cleanup_strv_free_ char **abs = calloc(n + 1, sizeof(char *));

	if (!abs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (asprintf(&abs[i], "%s/%s", store->overlay_path, chain[i]) < 0)
			return -ENOMEM;
	*ret = TAKE_PTR(abs);
	return 0;
}

struct paths_args {
	bool make_work;
	struct cvol_layer_paths *ret;
};

static int layer_paths_locked(struct cvol_layer_store *store, const char *id, void *data,
			      struct cvol_error *err)
{
	struct paths_args *a = data;
	struct cvol_layer_paths p = { 0 };
	struct layer_meta m;

	int r = layer_meta_load(store, id, &m, err);
	if (r < 0)
		return r;
	if (asprintf(&p.diff, "%s/%s/diff", store->overlay_path, id) < 0 ||
	    asprintf(&p.work, "%s/%s/" WORK_DIR, store->overlay_path, id) < 0 ||
	    asprintf(&p.link, "%s/l/%s", store->overlay_path, m.link) < 0 ||
	    chain_absolute(store, m.chain, &p.lowers) < 0)
		r = cvol_error_set(err, ENOMEM, "paths");
	layer_meta_done(&m);
	if (r == 0 && a->make_work && mkdir(p.work, 0700) < 0 && errno != EEXIST)
		r = cvol_error_set(err, errno, "create `%s`", p.work);
	if (r < 0) {
		cvol_layer_paths_done(&p);
		return r;
	}
	*a->ret = p;
	return 0;
}

int cvol_layer_paths_get(struct cvol_layer_store *store, const char *id, bool make_work,
			 struct cvol_layer_paths *ret, struct cvol_error *err)
{
	struct paths_args a = { .make_work = make_work, .ret = ret };
	return store_run_shared(store, "paths of", id, layer_paths_locked, &a, err);
}

static int layer_work_drop_locked(struct cvol_layer_store *store, const char *id, void *data,
				  struct cvol_error *err)
{
	_cleanup_close_ int fd = -1;

	(void)data;
	if (layer_mount_count(store, id, NULL) > 0)
		return cvol_error_setx(err, EBUSY, "it is mounted");
	fd = openat_beneath(store->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return cvol_error_set(err, -fd, "open");
	int r = dir_remove_tree(fd, WORK_DIR, err);
	return r == -ENOENT ? 0 : r;
}

int cvol_layer_work_drop(struct cvol_layer_store *store, const char *id, struct cvol_error *err)
{
	return store_run_locked(store, "drop the work dir of", id, layer_work_drop_locked, NULL, err);
}
