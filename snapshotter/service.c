/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The gRPC face of the snapshotter: containerd.services.snapshots.v1.Snapshots' messages
 * (protobuf-c, from proto/) to and from snapshots.c, and errors to the status codes containerd
 * reads (errdefs.FromGRPC): NotFound, AlreadyExists, FailedPrecondition, InvalidArgument. */
#include "snapshotter-internal.h"

#include "../common/log.h"

#include "containerd/services/snapshots/v1/snapshots.pb-c.h"

#include <stdlib.h>
#include <string.h>

typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry InfoLabel;
typedef Containerd__Types__Mount Mount;
typedef Google__Protobuf__Timestamp Timestamp;

/* The status for an error of snapshots.c: its errno says which. */
static void status_from_error(struct rpc_status *st, const struct cvol_error *err)
{
	enum rpc_code code;

	switch (err->code) {
	case ENOENT:
		code = RPC_NOT_FOUND;
		break;
	case EEXIST:
		code = RPC_ALREADY_EXISTS;
		break;
	case EBUSY:
	case ENOTEMPTY:
		code = RPC_FAILED_PRECONDITION;
		break;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
		code = RPC_INVALID_ARGUMENT;
		break;
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
		code = RPC_RESOURCE_EXHAUSTED;
		break;
	default:
		code = RPC_UNKNOWN;
	}
	rpc_status_set(st, code, "%s", err->msg);
}

/* ---- messages out ---------------------------------------------------------------------- */

static Mount *mount_message(const struct snap_mount *m)
{
	Mount *out = malloc(sizeof(*out));
	if (!out)
		return NULL;
	containerd__types__mount__init(out);
	size_t n = strv_length(m->options);
	out->type = strdup(m->type);
	out->source = strdup(m->source);
	out->options = calloc(n ? n : 1, sizeof(char *));
	bool ok = out->type && out->source && out->options;
	for (size_t i = 0; ok && i < n; i++)
		ok = (out->options[out->n_options++] = strdup(m->options[i])) != NULL;
	if (!ok) {
		protobuf_c_message_free_unpacked(&out->base, NULL);
		return NULL;
	}
	return out;
}

/* Fill a response's repeated mounts with the one mount @m. */
static int mounts_fill(size_t *n, Mount ***mounts, const struct snap_mount *m)
{
	*mounts = calloc(1, sizeof(Mount *));
	if (!*mounts || !((*mounts)[0] = mount_message(m)))
		return -ENOMEM;
	*n = 1;
	return 0;
}

static Timestamp *timestamp_message(int64_t ns)
{
	Timestamp *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	google__protobuf__timestamp__init(t);
	t->seconds = ns / 1000000000;
	t->nanos = (int32_t)(ns % 1000000000);
	return t;
}

static Info *info_message(const struct snap_record *rec, const struct snap_labels *labels)
{
	Info *info = malloc(sizeof(*info));
	if (!info)
		return NULL;
	containerd__services__snapshots__v1__info__init(info);
	info->name = strdup(rec->key);
	info->parent = strdup(rec->parent ? rec->parent : "");
	info->kind = (Containerd__Services__Snapshots__V1__Kind)rec->kind;
	info->created_at = timestamp_message(rec->created_ns);
	info->updated_at = timestamp_message(rec->updated_ns);
	info->labels = calloc(labels->n ? labels->n : 1, sizeof(InfoLabel *));
	bool ok = info->name && info->parent && info->created_at && info->updated_at && info->labels;
	for (size_t i = 0; ok && i < labels->n; i++) {
		InfoLabel *l = malloc(sizeof(*l));
		if (!(ok = l != NULL))
			break;
		containerd__services__snapshots__v1__info__labels_entry__init(l);
		info->labels[info->n_labels++] = l;
		ok = (l->key = strdup(labels->v[i].key)) && (l->value = strdup(labels->v[i].value));
	}
	if (!ok) {
		protobuf_c_message_free_unpacked(&info->base, NULL);
		return NULL;
	}
	return info;
}

/* ---- messages in ------------------------------------------------------------------------ */

/* Labels of a request: every map entry type has key and value after its base. */
struct label_entry {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static int labels_from_entries(size_t n, void *entries, struct snap_labels *ret, struct cvol_error *err)
{
	struct label_entry **e = entries;

	*ret = (struct snap_labels){ 0 };
	/* checked before any work: a request of 4 MiB holds 800,000 tiny entries */
	if (n > SNAP_LABELS_COUNT_MAX)
		return cvol_error_setx(err, EINVAL, "%zu labels; at most %d", n, SNAP_LABELS_COUNT_MAX);
	for (size_t i = 0; i < n; i++) {
		int r = snap_labels_set(ret, e[i]->key ? e[i]->key : "", e[i]->value ? e[i]->value : "", err);
		if (r < 0) {
			snap_labels_done(ret);
			return r;
		}
	}
	return 0;
}

/* ---- the methods --------------------------------------------------------------------------- */

static void do_prepare(void *data, enum snap_kind kind, const char *key, const char *parent, size_t n_labels,
		       void *labels, size_t *n_mounts, Mount ***mounts, struct rpc_status *st)
{
	struct cvol_error err = { 0 };
	struct snap_labels l;
	struct snap_mount m = { 0 };

	int r = labels_from_entries(n_labels, labels, &l, &err);
	if (r == 0) {
		r = snap_prepare(data, kind, key, parent, &l, &m, &err);
		snap_labels_done(&l);
	}
	if (r == 0 && mounts_fill(n_mounts, mounts, &m) < 0)
		r = cvol_error_set(&err, ENOMEM, "mounts");
	snap_mount_done(&m);
	if (r < 0)
		status_from_error(st, &err);
}

static void method_prepare(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			   struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__PrepareSnapshotRequest *req = (const void *)msg;
	Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *resp = malloc(sizeof(*resp));

	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__prepare_snapshot_response__init(resp);
	do_prepare(data, SNAP_ACTIVE, req->key, req->parent, req->n_labels, req->labels, &resp->n_mounts,
		   &resp->mounts, st);
	*ret = &resp->base;
}

static void method_view(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__ViewSnapshotRequest *req = (const void *)msg;
	Containerd__Services__Snapshots__V1__ViewSnapshotResponse *resp = malloc(sizeof(*resp));

	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__view_snapshot_response__init(resp);
	do_prepare(data, SNAP_VIEW, req->key, req->parent, req->n_labels, req->labels, &resp->n_mounts,
		   &resp->mounts, st);
	*ret = &resp->base;
}

static void method_mounts(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			  struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__MountsRequest *req = (const void *)msg;
	struct cvol_snapshotter *s = data;
	struct cvol_error err = { 0 };
	struct snap_mount m = { 0 };
	Containerd__Services__Snapshots__V1__MountsResponse *resp = malloc(sizeof(*resp));

	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__mounts_response__init(resp);
	*ret = &resp->base;
	pthread_mutex_lock(&s->lock);
	const struct snap_record *rec = snap_index_find(&s->index, req->key);
	int r = rec ? snap_mounts(s, rec, &m, &err)
		    : cvol_error_setx(&err, ENOENT, "snapshot `%.128s` does not exist", req->key);
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && mounts_fill(&resp->n_mounts, &resp->mounts, &m) < 0)
		r = cvol_error_set(&err, ENOMEM, "mounts");
	snap_mount_done(&m);
	if (r < 0)
		status_from_error(st, &err);
}

static ProtobufCMessage *empty_message(void)
{
	Google__Protobuf__Empty *e = malloc(sizeof(*e));
	if (e)
		google__protobuf__empty__init(e);
	return e ? &e->base : NULL;
}

/* End a method that answers Empty: the message, or the status of @r. */
static void answer_empty(int r, const struct cvol_error *err, ProtobufCMessage **ret, struct rpc_status *st)
{
	if (r < 0)
		status_from_error(st, err);
	else if (!(*ret = empty_message()))
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
}

static void method_commit(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			  struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__CommitSnapshotRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };
	struct snap_labels l;

	int r = labels_from_entries(req->n_labels, req->labels, &l, &err);
	if (r == 0) {
		r = snap_commit(data, req->name, req->key, &l, &err);
		snap_labels_done(&l);
	}
	answer_empty(r, &err, ret, st);
}

static void method_remove(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			  struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__RemoveSnapshotRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };
	int r = snap_remove(data, req->key, &err);
	answer_empty(r, &err, ret, st);
}

static void method_cleanup(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			   struct rpc_status *st)
{
	struct cvol_error err = { 0 };
	(void)msg;
	int r = snap_cleanup(data, &err);
	answer_empty(r, &err, ret, st);
}

/* The Info of @key, read under the lock. */
static int info_of(struct cvol_snapshotter *s, const char *key, Info **ret, struct cvol_error *err)
{
	struct snap_labels labels = { 0 };

	pthread_mutex_lock(&s->lock);
	const struct snap_record *rec = snap_index_find(&s->index, key);
	int r = rec ? snap_index_labels(&s->index, key, &labels, err)
		    : cvol_error_setx(err, ENOENT, "snapshot `%.128s` does not exist", key);
	if (r == 0 && !(*ret = info_message(rec, &labels)))
		r = cvol_error_set(err, ENOMEM, "stat");
	pthread_mutex_unlock(&s->lock);
	snap_labels_done(&labels);
	return r;
}

static void method_stat(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__StatSnapshotRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };
	Containerd__Services__Snapshots__V1__StatSnapshotResponse *resp = malloc(sizeof(*resp));

	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__stat_snapshot_response__init(resp);
	*ret = &resp->base;
	if (info_of(data, req->key, &resp->info, &err) < 0)
		status_from_error(st, &err);
}

/* Update: labels only, by field paths; the record is rewritten with the new update time. */
static int update_labels(struct cvol_snapshotter *s, const Info *in, const Google__Protobuf__FieldMask *mask,
			 struct cvol_error *err)
{
	struct snap_labels labels = { 0 }, update = { 0 };

	int r = labels_from_entries(in->n_labels, in->labels, &update, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	struct snap_record *rec = snap_index_find(&s->index, in->name);
	r = rec ? snap_index_labels(&s->index, in->name, &labels, err)
		: cvol_error_setx(err, ENOENT, "snapshot `%.128s` does not exist", in->name);
	if (r == 0)
		r = snap_labels_update(&labels, &update, mask ? mask->paths : NULL, mask ? mask->n_paths : 0,
				       err);
	if (r == 0) {
		struct snap_record changed = *rec;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		changed.updated_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		r = snap_index_put(&s->index, &changed, &labels, true, err);
	}
	pthread_mutex_unlock(&s->lock);
	snap_labels_done(&labels);
	snap_labels_done(&update);
	return r;
}

static void method_update(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			  struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__UpdateSnapshotRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };

	if (!req->info || !req->info->name || !*req->info->name) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "update: the snapshot's name is needed");
		return;
	}
	Containerd__Services__Snapshots__V1__UpdateSnapshotResponse *resp = malloc(sizeof(*resp));
	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__update_snapshot_response__init(resp);
	*ret = &resp->base;
	int r = update_labels(data, req->info, req->update_mask, &err);
	if (r == 0)
		r = info_of(data, req->info->name, &resp->info, &err);
	if (r < 0)
		status_from_error(st, &err);
}

static void method_usage(void *data, const ProtobufCMessage *msg, ProtobufCMessage **ret,
			 struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__UsageRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };
	Containerd__Services__Snapshots__V1__UsageResponse *resp = malloc(sizeof(*resp));

	if (!resp) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	containerd__services__snapshots__v1__usage_response__init(resp);
	*ret = &resp->base;
	if (snap_usage(data, req->key, &resp->size, &resp->inodes, &err) < 0)
		status_from_error(st, &err);
}

/* ---- List: collected under the lock, sent without it (a slow reader holds nobody up) ---- */

#define LIST_BATCH	 100		   /* Infos per message at most */
#define LIST_BATCH_BYTES (4 * 1024 * 1024) /* and bytes: containerd reads 16 MiB at most */

struct list_ctx {
	struct cvol_snapshotter *s;
	const struct snap_filter *filter;
	bool need_labels;
	Info **infos;
	size_t n, cap;
	struct cvol_error *err;
};

static int list_one(struct snap_record *rec, void *data)
{
	struct list_ctx *c = data;
	struct snap_labels labels = { 0 };

	if (!c->need_labels && !snap_filter_match(c->filter, rec, NULL))
		return 0;
	int r = snap_index_labels(&c->s->index, rec->key, &labels, c->err);
	if (r < 0)
		return r;
	Info *info = NULL;
	if (snap_filter_match(c->filter, rec, &labels)) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			Info **more = realloc(c->infos, cap * sizeof(*more));
			if (!more)
				r = -ENOMEM;
			else
				c->infos = more, c->cap = cap;
		}
		if (r == 0 && !(info = info_message(rec, &labels)))
			r = -ENOMEM;
		if (r == 0)
			c->infos[c->n++] = info;
	}
	snap_labels_done(&labels);
	return r == -ENOMEM ? cvol_error_set(c->err, ENOMEM, "list") : r;
}

/* How many Infos from @infos (of @n) go in one message. */
static size_t list_batch(Info **infos, size_t n)
{
	size_t k = 0, bytes = 0;
	while (k < n && k < LIST_BATCH) {
		bytes += protobuf_c_message_get_packed_size(&infos[k]->base) + 8;
		if (k > 0 && bytes > LIST_BATCH_BYTES)
			break;
		k++;
	}
	return k;
}

static int list_send(struct rpc_stream *out, Info **infos, size_t n)
{
	for (size_t i = 0; i < n;) {
		Containerd__Services__Snapshots__V1__ListSnapshotsResponse resp;
		containerd__services__snapshots__v1__list_snapshots_response__init(&resp);
		resp.info = infos + i;
		resp.n_info = list_batch(infos + i, n - i);
		int r = rpc_stream_send(out, &resp.base);
		if (r < 0)
			return r;
		i += resp.n_info;
	}
	return 0;
}

static void method_list(void *data, const ProtobufCMessage *msg, struct rpc_stream *out,
			struct rpc_status *st)
{
	const Containerd__Services__Snapshots__V1__ListSnapshotsRequest *req = (const void *)msg;
	struct cvol_error err = { 0 };
	struct snap_filter *filter = NULL;
	struct list_ctx c = { .s = data, .err = &err };

	int r = snap_filter_parse(req->filters, req->n_filters, &filter, &err);
	if (r == 0) {
		c.filter = filter;
		c.need_labels = snap_filter_needs_labels(filter);
		pthread_mutex_lock(&c.s->lock);
		r = snap_index_for_each(&c.s->index, list_one, &c);
		pthread_mutex_unlock(&c.s->lock);
	}
	if (r == 0 && list_send(out, c.infos, c.n) < 0)
		rpc_status_set(st, RPC_CANCELLED, "list: the client went away");
	else if (r < 0)
		status_from_error(st, &err);
	for (size_t i = 0; i < c.n; i++)
		protobuf_c_message_free_unpacked(&c.infos[i]->base, NULL);
	free(c.infos);
	snap_filter_free(filter);
}

/* In the order of the service's methods in snapshots.proto (its descriptor's order). */
static const struct rpc_method methods[] = {
	{ .unary = method_prepare }, { .unary = method_view },	 { .unary = method_mounts },
	{ .unary = method_commit },  { .unary = method_remove }, { .unary = method_stat },
	{ .unary = method_update },  { .stream = method_list },	 { .unary = method_usage },
	{ .unary = method_cleanup },
};

const struct rpc_service *cvol_snapshotter_service(struct cvol_snapshotter *s)
{
	s->service = (struct rpc_service){
		.descriptor = &containerd__services__snapshots__v1__snapshots__descriptor,
		.methods = methods,
		.data = s,
	};
	return &s->service;
}
