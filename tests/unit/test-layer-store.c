/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The layer store without mounts: create, list, remove, ids, children, repair at open.
 * Works in a fresh directory under /tmp; no root needed. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/fs.h"
#include "../../layers/layers.h"

struct fixture {
	char dir[64];
	char overlay[96];
	struct cvol_layer_store *store;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cvol_error err = { 0 };

	snprintf(f->dir, sizeof(f->dir), "/tmp/cvol-test-store.XXXXXX");
	if (!mkdtemp(f->dir) || cvol_layer_store_open(f->dir, &f->store, &err) < 0)
		return -1;
	snprintf(f->overlay, sizeof(f->overlay), "%s/overlay", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cvol_layer_store_close(f->store);
	dir_remove_tree(AT_FDCWD, f->dir, NULL);
	free(f);
	return 0;
}

static bool exists(const struct fixture *f, const char *rel)
{
	char path[256];
	struct stat st;
	assert_true(snprintf(path, sizeof(path), "%s/%s", f->overlay, rel) < (int)sizeof(path));
	return lstat(path, &st) == 0;
}

static void test_create_and_list(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct cvol_layer_info *layers;
	size_t n;

	assert_int_equal(cvol_layer_create(f->store, "base", NULL, &err), 0);
	assert_int_equal(cvol_layer_create(f->store, "app", "base", &err), 0);
	assert_true(exists(f, "base/diff"));
	assert_true(exists(f, "app/lower"));
	assert_false(exists(f, "base/lower"));
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(layers[0].id, "app");
	assert_string_equal(layers[0].parent, "base");
	assert_int_equal(layers[0].depth, 1);
	assert_int_equal(layers[0].mounts, 0);
	assert_string_equal(layers[1].id, "base");
	assert_null(layers[1].parent);
	char link[128];
	snprintf(link, sizeof(link), "l/%s", layers[1].link);
	assert_true(exists(f, link));
	cvol_layer_info_free(layers, n);
}

static void test_create_refusals(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };

	assert_int_equal(cvol_layer_create(f->store, "../x", NULL, &err), -EINVAL);
	assert_contains(err.msg, "invalid layer id `../x`");
	assert_int_equal(cvol_layer_create(f->store, "l", NULL, &err), -EINVAL);
	assert_int_equal(cvol_layer_create(f->store, "a", "nope", &err), -ENOENT);
	assert_string_equal(err.msg, "create layer `a`: parent layer `nope` does not exist");
	assert_false(exists(f, "a"));
	assert_int_equal(cvol_layer_create(f->store, "a", NULL, &err), 0);
	assert_int_equal(cvol_layer_create(f->store, "a", NULL, &err), -EEXIST);
	assert_contains(err.msg, "already exists");
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };

	assert_int_equal(cvol_layer_create(f->store, "base", NULL, &err), 0);
	assert_int_equal(cvol_layer_create(f->store, "app", "base", &err), 0);
	assert_int_equal(cvol_layer_remove(f->store, "base", &err), -EBUSY);
	assert_contains(err.msg, "remove layer `base`: it has 1 child layer: `app`");
	assert_int_equal(cvol_layer_remove(f->store, "app", &err), 0);
	assert_int_equal(cvol_layer_remove(f->store, "base", &err), 0);
	assert_false(exists(f, "base"));
	assert_int_equal(cvol_layer_remove(f->store, "base", &err), -ENOENT);
	assert_string_equal(err.msg, "remove layer `base`: no such layer");
}

/* What a crash leaves is undone by the next open. */
static void test_repair_at_open(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	struct cvol_layer_info *layers;
	size_t n;
	char path[256];

	assert_int_equal(cvol_layer_create(f->store, "base", NULL, &err), 0);
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	snprintf(path, sizeof(path), "%s/l/%s", f->overlay, layers[0].link);
	cvol_layer_info_free(layers, n);
	assert_int_equal(unlink(path), 0); /* lost link */
	snprintf(path, sizeof(path), "%s/.staging/c-HALF", f->overlay);
	assert_int_equal(mkdir(path, 0700), 0); /* half-built layer */
	snprintf(path, sizeof(path), "%s/l/DANGLINGDANGLINGDANGLING00", f->overlay);
	assert_int_equal(symlink("../gone/diff", path), 0);

	cvol_layer_store_close(f->store);
	assert_int_equal(cvol_layer_store_open(f->dir, &f->store, &err), 0);
	assert_false(exists(f, ".staging/c-HALF"));
	assert_false(exists(f, "l/DANGLINGDANGLINGDANGLING00"));
	assert_int_equal(cvol_layer_list(f->store, &layers, &n, &err), 0);
	snprintf(path, sizeof(path), "l/%s", layers[0].link);
	assert_true(exists(f, path));
	cvol_layer_info_free(layers, n);
}

static void test_depth_limit(void **state)
{
	struct fixture *f = *state;
	struct cvol_error err = { 0 };
	char id[16], parent[16];

	assert_int_equal(cvol_layer_create(f->store, "c0", NULL, &err), 0);
	for (int i = 1; i <= CVOL_OVERLAY_MAX_LOWERS; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(parent, sizeof(parent), "c%d", i - 1);
		assert_int_equal(cvol_layer_create(f->store, id, parent, &err), 0);
	}
	assert_int_equal(cvol_layer_create(f->store, "over", id, &err), -E2BIG);
	assert_contains(err.msg, "would stack 501 lower layers");
	assert_false(exists(f, "over"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
