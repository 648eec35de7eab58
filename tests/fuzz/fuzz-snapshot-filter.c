/* SPDX-License-Identifier: GPL-2.0-or-later */
/* containerd's filter syntax as cvol-snapshotter reads it from a List request: any bytes, one
 * filter a line. The oracle: a list of filters matches a snapshot exactly when one of them
 * does alone (filters are ORed, as containerd defines them), and parsing never crashes. */
#include "../../snapshotter/snapshotter-internal.h"
#include "fuzz.h"

#define MAX_FILTERS 8

static bool match_one(char *filter, const struct snap_record *rec, const struct snap_labels *labels)
{
	struct snap_filter *f = NULL;
	char *v[] = { filter };
	if (snap_filter_parse(v, 1, &f, NULL) < 0)
		abort(); /* it parsed as part of the list */
	bool m = snap_filter_match(f, rec, labels);
	snap_filter_free(f);
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *filters[MAX_FILTERS + 1] = { 0 };
	size_t n = fuzz_split(data, size, '\n', filters, MAX_FILTERS + 1);
	struct snap_record rec = { .key = (char *)"default/3/sha256:abc",
				   .kind = SNAP_ACTIVE,
				   .parent = (char *)"default/2/sha256:def" };
	struct snap_labels labels = { 0 };
	struct snap_filter *f = NULL;

	(void)snap_labels_set(&labels, "containerd.io/gc.root", "2026-12-02", NULL);
	(void)snap_labels_set(&labels, "a.b", "c,d", NULL);
	if (snap_filter_parse(filters, n, &f, NULL) == 0) {
		bool any = false;
		for (size_t i = 0; i < n; i++)
			any |= match_one(filters[i], &rec, &labels);
		if (snap_filter_match(f, &rec, &labels) != (n == 0 || any))
			abort();
		snap_filter_free(f);
	}
	snap_labels_done(&labels);
	for (size_t i = 0; i < n; i++)
		free(filters[i]);
	return 0;
}
