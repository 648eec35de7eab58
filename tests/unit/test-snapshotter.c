/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshotter without a socket: labels and their field-path updates, containerd's filters,
 * the key index (keys never become paths; what a crash leaves is repaired), and the status
 * codes each Snapshots method answers, called as the gRPC server calls them. */
#include "unit.h"

#include "../../snapshotter/snapshotter-internal.h"

#include "containerd/services/snapshots/v1/snapshots.pb-c.h"

#include <dirent.h>
#include <sys/stat.h>

/* ---- labels --------------------------------------------------------------------------- */

static void test_labels_set_and_bounds(void **state)
{
	struct snap_labels l = { 0 };
	struct cvol_error err = { 0 };
	char big[SNAP_LABEL_MAX + 2];

	(void)state;
	assert_int_equal(snap_labels_set(&l, "b", "2", &err), 0);
	assert_int_equal(snap_labels_set(&l, "a", "1", &err), 0);
	assert_int_equal(snap_labels_set(&l, "b", "3", &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].key, "a"); /* kept sorted */
	assert_string_equal(snap_labels_get(&l, "b"), "3");
	assert_int_equal(snap_labels_set(&l, "a", "", &err), 0); /* an empty value removes */
	assert_null(snap_labels_get(&l, "a"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(snap_labels_set(&l, "k", big, &err), -EINVAL);
	assert_contains(err.msg, "at most 4096");
	assert_int_equal(snap_labels_set(&l, "", "v", &err), -EINVAL);
	snap_labels_done(&l);
	/* a client's many small labels: bounded in number (each insert moves the ones after it) */
	char k[16];
	for (int i = 0; i < SNAP_LABELS_COUNT_MAX; i++) {
		snprintf(k, sizeof(k), "%d", i);
		assert_int_equal(snap_labels_set(&l, k, "v", &err), 0);
	}
	assert_int_equal(snap_labels_set(&l, "one-more", "v", &err), -EINVAL);
	assert_contains(err.msg, "more than 4096");
	assert_int_equal(snap_labels_set(&l, "0", "replaced", &err), 0); /* a replace adds none */
	snap_labels_done(&l);
}

static void test_labels_update_paths(void **state)
{
	struct snap_labels l = { 0 }, u = { 0 };
	struct cvol_error err = { 0 };

	(void)state;
	assert_int_equal(snap_labels_set(&l, "keep", "1", &err), 0);
	assert_int_equal(snap_labels_set(&l, "gone", "1", &err), 0);
	assert_int_equal(snap_labels_set(&u, "new", "2", &err), 0);
	char *one[] = { "labels.new", "labels.gone" }; /* set one, remove one absent from the update */
	assert_int_equal(snap_labels_update(&l, &u, one, 2, &err), 0);
	assert_string_equal(snap_labels_get(&l, "keep"), "1");
	assert_string_equal(snap_labels_get(&l, "new"), "2");
	assert_null(snap_labels_get(&l, "gone"));
	char *all[] = { "labels" }; /* replace them all */
	assert_int_equal(snap_labels_update(&l, &u, all, 1, &err), 0);
	assert_int_equal(l.n, 1);
	assert_null(snap_labels_get(&l, "keep"));
	assert_int_equal(snap_labels_set(&u, "x", "3", &err), 0);
	assert_int_equal(snap_labels_update(&l, &u, NULL, 0, &err), 0); /* no mask: all mutable fields */
	assert_int_equal(l.n, 2);
	char *bad[] = { "parent" };
	assert_int_equal(snap_labels_update(&l, &u, bad, 1, &err), -EINVAL);
	assert_contains(err.msg, "cannot update field `parent`");
	static char *many[SNAP_LABELS_COUNT_MAX + 2];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "labels"; /* each copies them all: a bound on the paths */
	assert_int_equal(snap_labels_update(&l, &u, many, ARRAY_SIZE(many), &err), -EINVAL);
	assert_contains(err.msg, "field paths");
	snap_labels_done(&l);
	snap_labels_done(&u);
}

/* ---- filters ---------------------------------------------------------------------------- */

static bool matches(const char *filter, const struct snap_record *rec, const struct snap_labels *labels)
{
	struct snap_filter *f = NULL;
	struct cvol_error err = { 0 };
	char *v[] = { (char *)filter };

	if (snap_filter_parse(v, 1, &f, &err) < 0)
		fail_msg("`%s` does not parse: %s", filter, err.msg);
	bool m = snap_filter_match(f, rec, labels);
	snap_filter_free(f);
	return m;
}

static void test_filter_match(void **state)
{
	struct snap_record rec = { .key = (char *)"default/3/sha256:abc",
				   .kind = SNAP_COMMITTED,
				   .parent = (char *)"default/2/sha256:def" };
	struct snap_labels l = { 0 };

	(void)state;
	assert_int_equal(snap_labels_set(&l, "containerd.io/gc.root", "2026", NULL), 0);
	assert_int_equal(snap_labels_set(&l, "app", "web", NULL), 0);
	assert_true(matches("kind==committed", &rec, &l));
	assert_false(matches("kind==active", &rec, &l));
	assert_true(matches("kind!=view", &rec, &l));
	assert_true(matches("name==\"default/3/sha256:abc\"", &rec, &l));
	assert_true(matches("parent==default/2/sha256:def", &rec, &l));
	assert_true(matches("name~=^default/[0-9]+/sha256:", &rec, &l));
	assert_true(matches("name~=/^default\\//", &rec, &l));
	assert_true(matches("name~=^def+?ault", &rec, &l));		     /* one lazy mark, as RE2 takes */
	assert_true(matches("name~=\"[+*]?default/[0-9]{1,3}\"", &rec, &l)); /* in brackets: no operator */
	assert_true(matches("labels.\"containerd.io/gc.root\"", &rec, &l));
	assert_true(matches("labels.app==web, kind==committed", &rec, &l));
	assert_false(matches("labels.app==web,kind==active", &rec, &l)); /* AND */
	assert_false(matches("labels.missing", &rec, &l));
	assert_true(matches("labels.missing!=x", &rec, &l)); /* absent is "" for != */
	assert_false(matches("unknown==x", &rec, &l));

	struct snap_filter *f = NULL;
	char *any[] = { "kind==active", "labels.app==web" }; /* OR across filters */
	assert_int_equal(snap_filter_parse(any, 2, &f, NULL), 0);
	assert_true(snap_filter_match(f, &rec, &l));
	assert_true(snap_filter_needs_labels(f));
	snap_filter_free(f);
	assert_true(snap_filter_match(NULL, &rec, NULL)); /* no filter: everything */
	snap_labels_done(&l);
}

static void test_filter_syntax_errors(void **state)
{
	static const char
		*const bad[] = { "kind==",
				 "kind=active",
				 "\"open",
				 "kind==a,",
				 ",kind==a",
				 "name~=(",
				 "labels.",
				 "kind==a b",
				 "labels.containerd.io/gc.root" /* '/' needs quotes */,
				 "name~=",
				 "name~=a**",
				 "name~=a+{2}",
				 "name~=(a{101})",
				 "name~=a{2}b{2}",
				 "name~=%t%=xa+++++++++++++++++++++++++" /* glibc's regcomp: 2 GiB */,
				 "name~=(|)(\\1\\1)*" /* glibc's regexec recurses */ };
	struct cvol_error err = { 0 };
	struct snap_filter *f = NULL;
	char big[SNAP_FILTER_MAX + 8];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *v[] = { (char *)bad[i] };
		if (snap_filter_parse(v, 1, &f, &err) != -EINVAL)
			fail_msg("`%s` parsed", bad[i]);
		assert_contains(err.msg, "filter");
		assert_null(f);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *v[] = { big };
	assert_int_equal(snap_filter_parse(v, 1, &f, &err), -EINVAL);
	assert_contains(err.msg, "at most 4096");
	char *many[SNAP_FILTERS_MAX + 1];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = "kind==active";
	assert_int_equal(snap_filter_parse(many, ARRAY_SIZE(many), &f, &err), -EINVAL);
	assert_contains(err.msg, "at most 64");
	assert_int_equal(snap_filter_parse(many, SNAP_FILTERS_MAX, &f, &err), 0);
	snap_filter_free(f);
}

/* ---- the key index ------------------------------------------------------------------------ */

/* The one entry of the directory @dirfd (not starting with '.'), copied into @name. */
static int only_entry(int dirfd, char name[256])
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fdopendir(fd);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && n++ == 0)
			snprintf(name, 256, "%s", e->d_name);
	closedir(d);
	return n;
}

static void test_index_keys_never_paths(void **state)
{
	struct unit_dir *dir = *state;
	struct snap_index idx;
	struct snap_labels l = { 0 };
	const char *key = "default/12/extract-3 ../../../etc/passwd sha256:9f";
	struct snap_record rec = { .key = (char *)key, .kind = SNAP_ACTIVE, .layer = (char *)"snapshot-1" };
	char name[256];

	int keys = unit_make_dir(dir->fd, "keys");
	assert_int_equal(snap_index_open(dup(keys), &idx, NULL), 0);
	assert_int_equal(snap_labels_set(&l, "containerd.io/snapshot.ref", "sha256:9f", NULL), 0);
	assert_int_equal(snap_index_put(&idx, &rec, &l, true, NULL), 0);
	assert_int_equal(only_entry(keys, name), 1); /* one file, named by 24 random hex digits */
	assert_int_equal(strlen(name), SNAP_RECORD_NAME_LEN);
	assert_int_equal(strspn(name, "0123456789abcdef"), SNAP_RECORD_NAME_LEN);
	assert_int_equal(faccessat(dir->fd, "etc", F_OK, 0), -1);
	rec.size = 7; /* written again: the same file */
	assert_int_equal(snap_index_put(&idx, &rec, &l, true, NULL), 0);
	char again[256];
	assert_int_equal(only_entry(keys, again), 1);
	assert_string_equal(again, name);
	snap_index_close(&idx);

	/* planted: a copy under another name, a garbage file, an oversized one: all ignored */
	assert_int_equal(linkat(keys, name, keys, "000000000000000000000000", 0), 0);
	int fd = openat(keys, "111111111111111111111111", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0 && write(fd, "{nope", 5) == 5);
	close(fd);
	fd = openat(keys, "222222222222222222222222", O_CREAT | O_WRONLY, 0600);
	assert_int_equal(ftruncate(fd, SNAP_RECORD_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(snap_index_open(dup(keys), &idx, NULL), 0);
	assert_int_equal(idx.n, 1);
	struct snap_record *found = snap_index_find(&idx, key);
	assert_non_null(found);
	assert_string_equal(found->layer, "snapshot-1");
	assert_int_equal(found->size, 7);
	struct snap_labels back;
	assert_int_equal(snap_index_labels(&idx, key, &back, NULL), 0);
	assert_string_equal(snap_labels_get(&back, "containerd.io/snapshot.ref"), "sha256:9f");
	snap_labels_done(&back);
	char file[SNAP_RECORD_NAME_LEN + 1];
	snprintf(file, sizeof(file), "%s", found->file);
	assert_int_equal(snap_index_delete(&idx, key, true, NULL), 0);
	assert_null(snap_index_find(&idx, key));
	struct stat st;
	assert_int_equal(fstatat(keys, file, &st, 0), -1);
	snap_index_close(&idx);
	snap_labels_done(&l);
	close(keys);
}

static void test_index_children(void **state)
{
	struct unit_dir *dir = *state;
	struct snap_index idx;
	struct snap_record p = { .key = (char *)"p", .kind = SNAP_COMMITTED, .layer = (char *)"snapshot-p" };
	struct snap_record c = { .key = (char *)"c", .kind = SNAP_VIEW, .parent = (char *)"p" };

	int keys = unit_make_dir(dir->fd, "keys");
	assert_int_equal(snap_index_open(dup(keys), &idx, NULL), 0);
	assert_int_equal(snap_index_put(&idx, &p, NULL, true, NULL), 0);
	assert_int_equal(snap_index_put(&idx, &c, NULL, true, NULL), 0);
	assert_int_equal(snap_index_find(&idx, "p")->children, 1);
	snap_index_close(&idx);
	assert_int_equal(snap_index_open(dup(keys), &idx, NULL), 0); /* counted again at load */
	assert_int_equal(snap_index_find(&idx, "p")->children, 1);
	assert_int_equal(snap_index_delete(&idx, "c", false, NULL), 0);
	assert_int_equal(snap_index_find(&idx, "p")->children, 0);
	snap_index_close(&idx);
	close(keys);
}

/* ---- the methods, as the server calls them ------------------------------------------------ */

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotResponse PrepareResponse;

enum { M_PREPARE, M_VIEW, M_MOUNTS, M_COMMIT, M_REMOVE, M_STAT, M_UPDATE, M_LIST, M_USAGE, M_CLEANUP };

struct fixture {
	struct unit_dir dir;
	struct cvol_snapshotter *s;
};

static int snap_setup(void **state)
{
	struct unit_dir *dir;
	if (unit_dir_setup(state) < 0)
		return -1;
	dir = *state;
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = *dir;
	free(dir);
	struct cvol_error err = { 0 };
	if (cvol_snapshotter_open(f->dir.top, &f->s, &err) < 0) {
		print_message("open: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int snap_teardown(void **state)
{
	struct fixture *f = *state;
	cvol_snapshotter_close(f->s); /* NULL after a failed reopen */
	struct unit_dir *dir = malloc(sizeof(*dir));
	*dir = f->dir;
	free(f);
	*state = dir;
	return unit_dir_teardown(state);
}

/* Call unary method @m of @s with @req; the status code, the response in *@ret (or freed). */
static enum rpc_code call(struct cvol_snapshotter *s, int m, const void *req, ProtobufCMessage **ret,
			  char *msg_out)
{
	const struct rpc_service *svc = cvol_snapshotter_service(s);
	struct rpc_status st = { .code = RPC_OK };
	ProtobufCMessage *resp = NULL;

	svc->methods[m].unary(svc->data, req, &resp, &st);
	if (msg_out)
		strcpy(msg_out, st.message);
	if (st.code == RPC_OK)
		assert_non_null(resp);
	if (ret && st.code == RPC_OK)
		*ret = resp;
	else if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return st.code;
}

static enum rpc_code prepare(struct cvol_snapshotter *s, int method, const char *key, const char *parent,
			     PrepareResponse **ret, char *msg)
{
	Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req;
	containerd__services__snapshots__v1__prepare_snapshot_request__init(&req);
	req.key = (char *)key;
	req.parent = (char *)(parent ? parent : "");
	return call(s, method, &req, (ProtobufCMessage **)ret, msg);
}

static enum rpc_code commit(struct cvol_snapshotter *s, const char *name, const char *key, char *msg)
{
	Containerd__Services__Snapshots__V1__CommitSnapshotRequest req;
	containerd__services__snapshots__v1__commit_snapshot_request__init(&req);
	req.name = (char *)name;
	req.key = (char *)key;
	return call(s, M_COMMIT, &req, NULL, msg);
}

static enum rpc_code by_key(struct cvol_snapshotter *s, int method, const char *key, ProtobufCMessage **ret,
			    char *msg)
{
	/* Stat, Remove, Mounts and Usage requests share one layout: snapshotter, key */
	Containerd__Services__Snapshots__V1__StatSnapshotRequest req;
	containerd__services__snapshots__v1__stat_snapshot_request__init(&req);
	req.key = (char *)key;
	return call(s, method, &req, ret, msg);
}

static bool has_option(const Containerd__Types__Mount *m, const char *prefix)
{
	for (size_t i = 0; i < m->n_options; i++)
		if (strncmp(m->options[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void test_status_codes(void **state)
{
	struct fixture *f = *state;
	char msg[RPC_STATUS_MSG_MAX];
	PrepareResponse *p = NULL;

	assert_int_equal(by_key(f->s, M_STAT, "nope", NULL, msg), RPC_NOT_FOUND);
	assert_contains(msg, "`nope` does not exist");
	assert_int_equal(by_key(f->s, M_REMOVE, "nope", NULL, msg), RPC_NOT_FOUND);
	assert_int_equal(by_key(f->s, M_MOUNTS, "nope", NULL, msg), RPC_NOT_FOUND);
	assert_int_equal(by_key(f->s, M_USAGE, "nope", NULL, msg), RPC_NOT_FOUND);
	assert_int_equal(prepare(f->s, M_PREPARE, "", NULL, NULL, msg), RPC_INVALID_ARGUMENT);

	/* a base layer: a read-write bind of its diff */
	assert_int_equal(prepare(f->s, M_PREPARE, "ns/1/extract 1", NULL, &p, msg), RPC_OK);
	assert_int_equal(p->n_mounts, 1);
	assert_string_equal(p->mounts[0]->type, "bind");
	assert_true(has_option(p->mounts[0], "rw"));
	assert_contains(p->mounts[0]->source, "/overlay/snapshot-");
	protobuf_c_message_free_unpacked(&p->base, NULL);
	assert_int_equal(prepare(f->s, M_PREPARE, "ns/1/extract 1", NULL, NULL, msg), RPC_ALREADY_EXISTS);
	assert_contains(msg, "already exists");
	assert_int_equal(prepare(f->s, M_PREPARE, "x", "ns/1/extract 1", NULL, msg), RPC_INVALID_ARGUMENT);
	assert_contains(msg, "not a committed snapshot");
	assert_int_equal(prepare(f->s, M_PREPARE, "x", "missing", NULL, msg), RPC_NOT_FOUND);

	assert_int_equal(commit(f->s, "ns/2/sha256:a", "ns/1/extract 1", msg), RPC_OK);
	assert_int_equal(commit(f->s, "ns/2/sha256:a", "ns/1/extract 1", msg), RPC_NOT_FOUND);
	assert_int_equal(by_key(f->s, M_MOUNTS, "ns/2/sha256:a", NULL, msg), RPC_FAILED_PRECONDITION);

	/* a child: an overlay whose upper containerd unpacks into */
	assert_int_equal(prepare(f->s, M_PREPARE, "ns/3/extract 2", "ns/2/sha256:a", &p, msg), RPC_OK);
	assert_string_equal(p->mounts[0]->type, "overlay");
	assert_true(has_option(p->mounts[0], "upperdir="));
	assert_true(has_option(p->mounts[0], "lowerdir="));
	assert_true(has_option(p->mounts[0], "workdir="));
	protobuf_c_message_free_unpacked(&p->base, NULL);
	assert_int_equal(commit(f->s, "ns/2/sha256:a", "ns/3/extract 2", msg), RPC_ALREADY_EXISTS);
	assert_int_equal(by_key(f->s, M_REMOVE, "ns/2/sha256:a", NULL, msg), RPC_FAILED_PRECONDITION);
	assert_contains(msg, "1 child snapshot");

	/* a view on one layer: a read-only bind; it cannot commit */
	assert_int_equal(prepare(f->s, M_VIEW, "ns/4/view", "ns/2/sha256:a", &p, msg), RPC_OK);
	assert_string_equal(p->mounts[0]->type, "bind");
	assert_true(has_option(p->mounts[0], "ro"));
	protobuf_c_message_free_unpacked(&p->base, NULL);
	assert_int_equal(commit(f->s, "ns/5/sha256:v", "ns/4/view", msg), RPC_FAILED_PRECONDITION);

	/* children first, then the parent */
	assert_int_equal(by_key(f->s, M_REMOVE, "ns/4/view", NULL, msg), RPC_OK);
	assert_int_equal(by_key(f->s, M_REMOVE, "ns/3/extract 2", NULL, msg), RPC_OK);
	assert_int_equal(by_key(f->s, M_REMOVE, "ns/2/sha256:a", NULL, msg), RPC_OK);
	assert_int_equal(f->s->index.n, 0);
}

static void test_stat_update_usage(void **state)
{
	struct fixture *f = *state;
	char msg[RPC_STATUS_MSG_MAX];
	ProtobufCMessage *resp = NULL;

	assert_int_equal(prepare(f->s, M_PREPARE, "a", NULL, NULL, msg), RPC_OK);
	/* containerd writes the layer: 3 files of 5000 bytes */
	struct snap_record *rec = snap_index_find(&f->s->index, "a");
	char path[512];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s/diff/f%d", cvol_layer_store_get_path(f->s->layers),
			 rec->layer, i);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		for (int j = 0; j < 5000; j++)
			fputc('x', fp);
		fclose(fp);
	}
	assert_int_equal(by_key(f->s, M_USAGE, "a", &resp, msg), RPC_OK);
	Containerd__Services__Snapshots__V1__UsageResponse *u = (void *)resp;
	assert_int_equal(u->inodes, 3);
	assert_true(u->size >= 3 * 5000);
	protobuf_c_message_free_unpacked(resp, NULL);
	assert_int_equal(commit(f->s, "c", "a", msg), RPC_OK);
	assert_int_equal(by_key(f->s, M_USAGE, "c", &resp, msg), RPC_OK); /* measured at commit */
	assert_int_equal(((Containerd__Services__Snapshots__V1__UsageResponse *)resp)->inodes, 3);
	protobuf_c_message_free_unpacked(resp, NULL);

	/* Update: labels.x set, by field path */
	Containerd__Services__Snapshots__V1__Info info;
	Containerd__Services__Snapshots__V1__Info__LabelsEntry e, *entries[] = { &e };
	Google__Protobuf__FieldMask mask;
	Containerd__Services__Snapshots__V1__UpdateSnapshotRequest req;
	char *paths[] = { "labels.containerd.io/gc.root" };
	containerd__services__snapshots__v1__info__init(&info);
	containerd__services__snapshots__v1__info__labels_entry__init(&e);
	google__protobuf__field_mask__init(&mask);
	containerd__services__snapshots__v1__update_snapshot_request__init(&req);
	e.key = "containerd.io/gc.root";
	e.value = "yes";
	info.name = "c";
	info.labels = entries;
	info.n_labels = 1;
	mask.paths = paths;
	mask.n_paths = 1;
	req.info = &info;
	req.update_mask = &mask;
	assert_int_equal(call(f->s, M_UPDATE, &req, &resp, msg), RPC_OK);
	Containerd__Services__Snapshots__V1__UpdateSnapshotResponse *up = (void *)resp;
	assert_int_equal(up->info->n_labels, 1);
	assert_string_equal(up->info->labels[0]->value, "yes");
	assert_int_equal(up->info->kind, CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED);
	protobuf_c_message_free_unpacked(resp, NULL);
	char *bad[] = { "kind" };
	mask.paths = bad;
	assert_int_equal(call(f->s, M_UPDATE, &req, NULL, msg), RPC_INVALID_ARGUMENT);
	info.name = "nope";
	mask.paths = paths;
	assert_int_equal(call(f->s, M_UPDATE, &req, NULL, msg), RPC_NOT_FOUND);

	assert_int_equal(by_key(f->s, M_STAT, "c", &resp, msg), RPC_OK);
	Containerd__Services__Snapshots__V1__StatSnapshotResponse *stat = (void *)resp;
	assert_string_equal(stat->info->name, "c");
	assert_string_equal(stat->info->labels[0]->key, "containerd.io/gc.root");
	assert_true(stat->info->updated_at->seconds >= stat->info->created_at->seconds);
	protobuf_c_message_free_unpacked(resp, NULL);
}

/* What a crash leaves, repaired by the next open. */
static void test_repair_at_open(void **state)
{
	struct fixture *f = *state;
	char msg[RPC_STATUS_MSG_MAX];

	assert_int_equal(prepare(f->s, M_PREPARE, "a", NULL, NULL, msg), RPC_OK);
	assert_int_equal(prepare(f->s, M_PREPARE, "b", NULL, NULL, msg), RPC_OK);
	struct snap_record *a = snap_index_find(&f->s->index, "a");
	/* a Commit cut between its two writes: "c" committed on a's layer, "a" still there */
	struct snap_record c = { .key = (char *)"c", .kind = SNAP_COMMITTED, .layer = a->layer };
	assert_int_equal(snap_index_put(&f->s->index, &c, NULL, true, NULL), 0);
	/* a Prepare cut before its record: a layer nobody names */
	assert_int_equal(
		cvol_layer_create(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000001", NULL, NULL), 0);
	/* a Remove cut after the layer went: a record on no layer */
	char b_layer[128];
	snprintf(b_layer, sizeof(b_layer), "%s", snap_index_find(&f->s->index, "b")->layer);
	assert_int_equal(cvol_layer_remove(f->s->layers, b_layer, NULL), 0);
	/* and a layer of someone else's, which the snapshotter leaves alone */
	assert_int_equal(cvol_layer_create(f->s->layers, "mine", NULL, NULL), 0);
	/* and one named in the prefix before `cvol layer` refused it, not in the generated form */
	assert_int_equal(cvol_layer_create(f->s->layers, SNAP_LAYER_PREFIX "users", NULL, NULL), 0);
	/* a power loss after Prepares (not synced before Commit): one active layer kept its
	 * record but lost its link file's data, an orphan lost its lower file */
	assert_int_equal(prepare(f->s, M_PREPARE, "lost", NULL, NULL, msg), RPC_OK);
	char path[512];
	const char *store = cvol_layer_store_get_path(f->s->layers);
	snprintf(path, sizeof(path), "%s/%s/link", store, snap_index_find(&f->s->index, "lost")->layer);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(prepare(f->s, M_PREPARE, "lost-lower", "c", NULL, msg), RPC_OK);
	snprintf(path, sizeof(path), "%s/%s/lower", store,
		 snap_index_find(&f->s->index, "lost-lower")->layer);
	assert_int_equal(truncate(path, 0), 0); /* read as "no parent" before: a base layer */
	assert_int_equal(
		cvol_layer_create(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000002", "mine", NULL),
		0);
	snprintf(path, sizeof(path), "%s/" SNAP_LAYER_PREFIX "c00000000000000000000002/lower", store);
	assert_int_equal(unlink(path), 0);

	cvol_snapshotter_close(f->s);
	struct cvol_error err = { 0 };
	if (cvol_snapshotter_open(f->dir.top, &f->s, &err) < 0) {
		f->s = NULL;
		fail_msg("reopen: %s", err.msg);
	}
	assert_null(snap_index_find(&f->s->index, "a"));
	assert_null(snap_index_find(&f->s->index, "b"));
	assert_non_null(snap_index_find(&f->s->index, "c"));
	assert_false(cvol_layer_exists(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000001"));
	assert_null(snap_index_find(&f->s->index, "lost"));
	assert_null(snap_index_find(&f->s->index, "lost-lower"));
	assert_false(cvol_layer_exists(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000002"));
	struct cvol_layer_info *layers;
	size_t n;
	assert_int_equal(cvol_layer_list(f->s->layers, &layers, &n, NULL), 0);
	assert_int_equal(n, 3); /* c's layer, mine and the user's: the lost one went with its link */
	cvol_layer_info_free(layers, n);
	assert_true(cvol_layer_exists(f->s->layers, "mine"));
	assert_true(cvol_layer_exists(f->s->layers, snap_index_find(&f->s->index, "c")->layer));
}

/* A record file that cannot be read (here a directory where a file should be) is ignored, and
 * then no layer is swept: one of them may be that record's. A record that could not be read
 * back (labels JSON escapes past 1 MiB) is refused when written. */
static void test_unread_record_keeps_layers(void **state)
{
	struct fixture *f = *state;
	char msg[RPC_STATUS_MSG_MAX], path[512];

	assert_int_equal(
		cvol_layer_create(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000003", NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/snapshots/keys/000000000000000000000abc", f->dir.top);
	assert_int_equal(mkdir(path, 0700), 0);
	cvol_snapshotter_close(f->s);
	struct cvol_error err = { 0 };
	if (cvol_snapshotter_open(f->dir.top, &f->s, &err) < 0) {
		f->s = NULL;
		fail_msg("reopen: %s", err.msg);
	}
	assert_int_equal(f->s->index.ignored, 1);
	assert_true(cvol_layer_exists(f->s->layers, SNAP_LAYER_PREFIX "c00000000000000000000003"));

	Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req;
	Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry e[64], *entries[64];
	static char value[4000];
	memset(value, '\x01', sizeof(value) - 1);
	containerd__services__snapshots__v1__prepare_snapshot_request__init(&req);
	req.key = "escaped";
	for (int i = 0; i < 64; i++) {
		containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__init(&e[i]);
		e[i].key = malloc(16);
		snprintf(e[i].key, 16, "k%u", (unsigned)i);
		e[i].value = value;
		entries[i] = &e[i];
	}
	req.labels = entries;
	req.n_labels = 64; /* 256,000 bytes of labels, 1.5 MB of JSON */
	assert_int_equal(call(f->s, M_PREPARE, &req, NULL, msg), RPC_INVALID_ARGUMENT);
	assert_contains(msg, "at most 1048576");
	assert_null(snap_index_find(&f->s->index, "escaped"));
	for (int i = 0; i < 64; i++)
		free(e[i].key);
}

static void test_one_process_per_store(void **state)
{
	struct fixture *f = *state;
	struct cvol_snapshotter *second = NULL;
	struct cvol_error err = { 0 };

	assert_int_equal(cvol_snapshotter_open(f->dir.top, &second, &err), -EBUSY);
	assert_contains(err.msg, "another cvol-snapshotter serves the store");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_set_and_bounds),
		cmocka_unit_test(test_labels_update_paths),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_filter_syntax_errors),
		cmocka_unit_test_setup_teardown(test_index_keys_never_paths, unit_dir_setup,
						unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_index_children, unit_dir_setup, unit_dir_teardown),
		cmocka_unit_test_setup_teardown(test_status_codes, snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(test_stat_update_usage, snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(test_repair_at_open, snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(test_unread_record_keeps_layers, snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(test_one_process_per_store, snap_setup, snap_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
