/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A snapshot's labels: a sorted array, bounded as containerd bounds them (a key and its value
 * in 4 KiB), and in all (256 KiB), since a client chooses them. Update follows containerd's
 * field paths. */
#include "snapshotter-internal.h"

#include <stdlib.h>
#include <string.h>

void snap_labels_done(struct snap_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	*l = (struct snap_labels){ 0 };
}

/* The index of @key, or where it would go (*@found false). */
static size_t labels_find(const struct snap_labels *l, const char *key, bool *found)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *snap_labels_get(const struct snap_labels *l, const char *key)
{
	bool found;
	size_t i = labels_find(l, key, &found);
	return found ? l->v[i].value : NULL;
}

static void labels_remove_at(struct snap_labels *l, size_t i)
{
	l->bytes -= strlen(l->v[i].key) + strlen(l->v[i].value);
	free(l->v[i].key);
	free(l->v[i].value);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
	l->n--;
}

static int labels_insert_at(struct snap_labels *l, size_t i, const char *key, const char *value)
{
	struct snap_label *v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	char *k = strdup(key), *val = strdup(value);
	if (!k || !val) {
		free(k);
		free(val);
		return -ENOMEM;
	}
	memmove(&v[i + 1], &v[i], (l->n - i) * sizeof(*v));
	v[i] = (struct snap_label){ k, val };
	l->n++;
	l->bytes += strlen(key) + strlen(value);
	return 0;
}

int snap_labels_set(struct snap_labels *l, const char *key, const char *value, struct cvol_error *err)
{
	size_t klen = strlen(key), vlen = strlen(value);
	bool found;

	if (klen == 0)
		return cvol_error_setx(err, EINVAL, "a label needs a key");
	if (klen + vlen > SNAP_LABEL_MAX)
		return cvol_error_setx(err, EINVAL, "label `%.64s`: key and value are %zu bytes; at most %d",
				       key, klen + vlen, SNAP_LABEL_MAX);
	size_t i = labels_find(l, key, &found);
	size_t was = found ? strlen(l->v[i].value) : 0;
	if ((found || vlen > 0) && l->bytes - was + (found ? 0 : klen) + vlen > SNAP_LABELS_MAX)
		return cvol_error_setx(err, EINVAL, "labels: more than %d bytes in all", SNAP_LABELS_MAX);
	if (found) {
		if (vlen == 0) {
			labels_remove_at(l, i);
			return 0;
		}
		char *copy = strdup(value);
		if (!copy)
			return cvol_error_set(err, ENOMEM, "set label");
		free(l->v[i].value);
		l->v[i].value = copy;
		l->bytes = l->bytes - was + vlen;
	} else if (vlen > 0 && l->n >= SNAP_LABELS_COUNT_MAX) {
		return cvol_error_setx(err, EINVAL, "labels: more than %d", SNAP_LABELS_COUNT_MAX);
	} else if (vlen > 0 && labels_insert_at(l, i, key, value) < 0) {
		return cvol_error_set(err, ENOMEM, "set label");
	}
	return 0;
}

static int labels_copy(struct snap_labels *dst, const struct snap_labels *src, struct cvol_error *err)
{
	struct snap_labels copy = { 0 };

	for (size_t i = 0; i < src->n; i++) {
		int r = snap_labels_set(&copy, src->v[i].key, src->v[i].value, err);
		if (r < 0) {
			snap_labels_done(&copy);
			return r;
		}
	}
	snap_labels_done(dst);
	*dst = copy;
	return 0;
}

int snap_labels_update(struct snap_labels *l, const struct snap_labels *update, char *const *paths,
		       size_t n_paths, struct cvol_error *err)
{
	if (n_paths > SNAP_LABELS_COUNT_MAX + 1) /* each label, and "labels": each copies them all */
		return cvol_error_setx(err, EINVAL, "%zu field paths; at most %d", n_paths,
				       SNAP_LABELS_COUNT_MAX + 1);
	if (n_paths == 0)
		return labels_copy(l, update, err);
	for (size_t i = 0; i < n_paths; i++) {
		const char *path = paths[i];
		int r;
		if (strcmp(path, "labels") == 0) {
			r = labels_copy(l, update, err);
		} else if (strncmp(path, "labels.", 7) == 0) {
			const char *value = snap_labels_get(update, path + 7);
			r = snap_labels_set(l, path + 7, value ? value : "", err);
		} else {
			r = cvol_error_setx(err, EINVAL,
					    "cannot update field `%.64s`: only labels can change", path);
		}
		if (r < 0)
			return r;
	}
	return 0;
}
