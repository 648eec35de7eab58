/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The gRPC server of rpc/ on a real Unix socket in a fresh /tmp directory, serving containerd's
 * snapshot service with test handlers, driven by the gRPC C core's own client: what a client
 * sees of responses, statuses, streams, bad requests, limits and a stop with calls in flight. */
#include "unit.h"

#include <grp.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "../../common/socket.h"
#include "../../rpc/rpc.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "../common/rpc-client.h"

typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest StatRequest;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse StatResponse;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest RemoveRequest;
typedef Containerd__Services__Snapshots__V1__ListSnapshotsRequest ListRequest;
typedef Containerd__Services__Snapshots__V1__ListSnapshotsResponse ListResponse;
typedef Containerd__Services__Snapshots__V1__UsageRequest UsageRequest;
typedef Containerd__Services__Snapshots__V1__UsageResponse UsageResponse;
typedef Containerd__Services__Snapshots__V1__Info Info;

#define SVC	       "/containerd.services.snapshots.v1.Snapshots/"
#define LIST_N	       1000
#define MAX_MESSAGE    (64 * 1024)
#define USAGE_SLEEP_MS 300
#define BIG_N	       100
#define BIG_SIZE       (1024 * 1024)
#define TEST_GROUP     4242 /* no one's group but the test's children's */

/* What the handlers share with the test. */
static atomic_int usage_entered;  /* Usage handlers started */
static atomic_int usage_answered; /* Usage calls that got their status */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_closed;	  /* Usage waits while it is */
static atomic_int big_send_error; /* the big List's last rpc_stream_send(); 1: not yet over */

/* Stat: the snapshot named as asked, its parent left at protobuf-c's empty string. */
static void stat_fn(void *data, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
		    struct rpc_status *st)
{
	const StatRequest *in = (const StatRequest *)req;
	StatResponse *resp = malloc(sizeof(*resp));
	Info *info = malloc(sizeof(*info));
	(void)data;
	(void)st;

	*resp = (StatResponse)CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
	*info = (Info)CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
	info->name = strdup(in->key);
	info->kind = CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE;
	resp->info = info;
	*ret_resp = &resp->base;
}

static void remove_fn(void *data, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
		      struct rpc_status *st)
{
	(void)data;
	(void)ret_resp;
	rpc_status_set(st, RPC_NOT_FOUND, "snapshot `%s` not found", ((const RemoveRequest *)req)->key);
}

/* List with filter "big": BIG_N messages of BIG_SIZE, until a send fails; its -errno is kept. */
static void list_big(struct rpc_stream *out)
{
	char *name = malloc(BIG_SIZE + 1);
	int r = 0;

	memset(name, 'n', BIG_SIZE);
	name[BIG_SIZE] = '\0';
	for (int i = 0; i < BIG_N && r == 0; i++) {
		Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT, *infos[] = { &info };
		ListResponse resp = CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
		info.name = name;
		resp.n_info = 1;
		resp.info = infos;
		r = rpc_stream_send(out, &resp.base);
	}
	free(name);
	atomic_store(&big_send_error, r);
}

/* List: LIST_N messages of one snapshot each, "snap-0000" on. */
static void list_fn(void *data, const ProtobufCMessage *req, struct rpc_stream *out, struct rpc_status *st)
{
	const ListRequest *in = (const ListRequest *)req;
	(void)data;
	(void)st;
	if (in->n_filters == 1 && strcmp(in->filters[0], "big") == 0) {
		list_big(out);
		return;
	}
	for (int i = 0; i < LIST_N; i++) {
		char name[32];
		Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT, *infos[] = { &info };
		ListResponse resp = CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
		snprintf(name, sizeof(name), "snap-%04d", i);
		info.name = name;
		resp.n_info = 1;
		resp.info = infos;
		if (rpc_stream_send(out, &resp.base) < 0)
			return;
	}
}

/* Usage: slow (USAGE_SLEEP_MS), or held until the gate opens. */
static void usage_fn(void *data, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
		     struct rpc_status *st)
{
	UsageResponse *resp = malloc(sizeof(*resp));
	(void)data;
	(void)req;
	(void)st;

	atomic_fetch_add(&usage_entered, 1);
	pthread_mutex_lock(&gate_lock);
	while (gate_closed)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	usleep(USAGE_SLEEP_MS * 1000);
	*resp = (UsageResponse)CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_RESPONSE__INIT;
	resp->size = 42;
	*ret_resp = &resp->base;
}

/* Prepare: a handler that breaks the contract (OK, no response). */
static void prepare_fn(void *data, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
		       struct rpc_status *st)
{
	(void)data;
	(void)req;
	(void)ret_resp;
	(void)st;
}

/* In the descriptor's order: Prepare View Mounts Commit Remove Stat Update List Usage Cleanup. */
static const struct rpc_method methods[] = {
	{ .unary = prepare_fn },
	{},
	{},
	{},
	{ .unary = remove_fn },
	{ .unary = stat_fn },
	{},
	{ .stream = list_fn },
	{ .unary = usage_fn },
	{},
};
static const struct rpc_service service = {
	.descriptor = &containerd__services__snapshots__v1__snapshots__descriptor,
	.methods = methods,
};

struct fixture {
	struct unit_dir dir;
	char path[128];
	int listen_fd, stop_fd;
	struct rpc_server_config cfg;
	pthread_t thread;
	int ret;
	struct cvol_error err;
	grpc_channel *ch;
};

static void *server_main(void *arg)
{
	struct fixture *f = arg;
	f->ret = rpc_server_run(&f->cfg, &f->err);
	return NULL;
}

static int start(void **state, unsigned workers, unsigned max_queued, unsigned send_timeout, bool has_group)
{
	struct fixture *f = calloc(1, sizeof(*f));
	void *dir;

	if (!f || unit_dir_setup(&dir) < 0)
		return -1;
	f->dir = *(struct unit_dir *)dir;
	free(dir);
	snprintf(f->path, sizeof(f->path), "%s/rpc.sock", f->dir.top);
	f->listen_fd = unix_socket_listen(f->path, false, 0, NULL);
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (f->listen_fd < 0 || f->stop_fd < 0)
		return -1;
	f->cfg = (struct rpc_server_config){ .services = &service,
					     .n_services = 1,
					     .listen_fd = f->listen_fd,
					     .stop_fd = f->stop_fd,
					     .workers = workers,
					     .max_queued = max_queued,
					     .send_timeout = send_timeout,
					     .has_group = has_group,
					     .group = TEST_GROUP,
					     .max_message = MAX_MESSAGE,
					     .debug = getenv("RPC_TEST_DEBUG") != NULL };
	atomic_store(&usage_entered, 0);
	atomic_store(&usage_answered, 0);
	atomic_store(&big_send_error, 1);
	gate_closed = false;
	if (pthread_create(&f->thread, NULL, server_main, f) != 0)
		return -1;
	f->ch = rpc_client_open(f->path);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, 0, 0, 0, false);
}

static int setup_one_worker(void **state)
{
	return start(state, 1, 5, 0, false);
}

static int setup_short_send(void **state)
{
	return start(state, 0, 0, 1, false);
}

static int setup_group(void **state)
{
	return start(state, 0, 0, 0, true);
}

/* Stop the server by its stop_fd; it must return 0. */
static void stop(struct fixture *f)
{
	uint64_t one = 1;
	assert_int_equal(write(f->stop_fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	f->thread = 0;
	if (f->ret != 0)
		fail_msg("rpc_server_run: %d %s", f->ret, f->err.msg);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->ch)
		grpc_channel_destroy(f->ch);
	if (f->thread)
		stop(f);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	close(f->stop_fd);
	struct unit_dir *dir = malloc(sizeof(*dir));
	*dir = f->dir;
	void *d = dir;
	unit_dir_teardown(&d);
	free(f);
	return 0;
}

static int call_stat(grpc_channel *ch, const char *key, struct rpc_reply *reply)
{
	StatRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	req.key = (char *)key;
	return rpc_client_call(ch, SVC "Stat", &req.base, reply);
}

static void test_unary_response(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;

	assert_int_equal(call_stat(f->ch, "layer-1", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	assert_int_equal(reply.n, 1);
	StatResponse *resp = (StatResponse *)rpc_reply_unpack(
		&reply, 0, &containerd__services__snapshots__v1__stat_snapshot_response__descriptor);
	assert_non_null(resp);
	assert_non_null(resp->info);
	assert_string_equal(resp->info->name, "layer-1");
	assert_string_equal(resp->info->parent, "");
	assert_int_equal(resp->info->kind, CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	rpc_reply_free(&reply);
}

static void test_status_message(void **state)
{
	struct fixture *f = *state;
	RemoveRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
	struct rpc_reply reply;

	req.key = "gone";
	assert_int_equal(rpc_client_call(f->ch, SVC "Remove", &req.base, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_NOT_FOUND);
	assert_string_equal(reply.message, "snapshot `gone` not found");
	assert_int_equal(reply.n, 0);
	rpc_reply_free(&reply);

	/* a handler that says OK but makes nothing: the client gets INTERNAL, not an empty reply */
	assert_int_equal(rpc_client_call(f->ch, SVC "Prepare", &req.base, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_INTERNAL);
	assert_contains(reply.message, "made no response");
	rpc_reply_free(&reply);
}

static void test_stream_in_order(void **state)
{
	struct fixture *f = *state;
	ListRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
	struct rpc_reply reply;

	assert_int_equal(rpc_client_call(f->ch, SVC "List", &req.base, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	assert_int_equal(reply.n, LIST_N);
	for (size_t i = 0; i < reply.n; i++) {
		char want[32];
		ListResponse *resp = (ListResponse *)rpc_reply_unpack(
			&reply, i, &containerd__services__snapshots__v1__list_snapshots_response__descriptor);
		assert_non_null(resp);
		assert_int_equal(resp->n_info, 1);
		snprintf(want, sizeof(want), "snap-%04zu", i);
		assert_string_equal(resp->info[0]->name, want);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	rpc_reply_free(&reply);
}

static void test_unimplemented(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;

	/* a method of the service without a handler */
	assert_int_equal(rpc_client_call_raw(f->ch, SVC "Cleanup", "", 0, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_UNIMPLEMENTED);
	assert_contains(reply.message, "Cleanup");
	rpc_reply_free(&reply);
	/* a method nobody registered */
	assert_int_equal(rpc_client_call_raw(f->ch, "/no.such.Service/Method", "", 0, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_UNIMPLEMENTED);
	assert_contains(reply.message, "/no.such.Service/Method");
	rpc_reply_free(&reply);
	/* its name is the client's: what is not printable does not reach the log or the reply */
	assert_int_equal(rpc_client_call_raw(f->ch,
					     "/no.such.Service/\x01"
					     "Evil\x7f",
					     "", 0, &reply),
			 0);
	assert_int_equal(reply.code, GRPC_STATUS_UNIMPLEMENTED);
	assert_contains(reply.message, "/no.such.Service/?Evil?");
	rpc_reply_free(&reply);
}

static void test_invalid_request(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;

	/* field 1 with wire type 7, which does not exist */
	assert_int_equal(rpc_client_call_raw(f->ch, SVC "Stat", "\x0f\xff\xff", 3, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_INVALID_ARGUMENT);
	assert_contains(reply.message, "not a valid");
	assert_int_equal(reply.n, 0);
	rpc_reply_free(&reply);
	/* no message at all */
	assert_int_equal(rpc_client_call_raw(f->ch, SVC "Stat", NULL, 0, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_INVALID_ARGUMENT);
	rpc_reply_free(&reply);
	/* the connection still serves */
	assert_int_equal(call_stat(f->ch, "after", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
}

static void test_message_too_big(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;
	char *key = malloc(MAX_MESSAGE + 1);

	memset(key, 'k', MAX_MESSAGE);
	key[MAX_MESSAGE] = '\0';
	assert_int_equal(call_stat(f->ch, key, &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
	assert_int_equal(reply.n, 0);
	print_message("over max_message: %s\n", reply.message);
	rpc_reply_free(&reply);
	free(key);
	assert_int_equal(call_stat(f->ch, "after", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
}

struct usage_call {
	grpc_channel *ch;
	struct rpc_reply reply;
};

static void *usage_thread(void *arg)
{
	struct usage_call *c = arg;
	UsageRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
	(void)rpc_client_call(c->ch, SVC "Usage", &req.base, &c->reply);
	atomic_fetch_add(&usage_answered, 1);
	return NULL;
}

static double since_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Wait (5 s at most) until @n Usage handlers have started. */
static void wait_entered(int n)
{
	for (int i = 0; i < 500 && atomic_load(&usage_entered) < n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&usage_entered), n);
}

static void test_stop_finishes_calls(void **state)
{
	struct fixture *f = *state;
	struct usage_call calls[RPC_DEFAULT_WORKERS];
	pthread_t threads[RPC_DEFAULT_WORKERS];
	struct timespec t0;

	for (int i = 0; i < RPC_DEFAULT_WORKERS; i++) {
		calls[i].ch = f->ch;
		assert_int_equal(pthread_create(&threads[i], NULL, usage_thread, &calls[i]), 0);
	}
	wait_entered(RPC_DEFAULT_WORKERS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	stop(f); /* returns once the calls are answered */
	double ms = since_ms(&t0);
	for (int i = 0; i < RPC_DEFAULT_WORKERS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		if (calls[i].reply.code != GRPC_STATUS_OK)
			fail_msg("call %d: status %d: %s", i, calls[i].reply.code, calls[i].reply.message);
		UsageResponse *resp = (UsageResponse *)rpc_reply_unpack(
			&calls[i].reply, 0, &containerd__services__snapshots__v1__usage_response__descriptor);
		assert_non_null(resp);
		assert_int_equal(resp->size, 42);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		rpc_reply_free(&calls[i].reply);
	}
	print_message("stopped in %.0f ms with %d calls of %d ms in flight\n", ms, RPC_DEFAULT_WORKERS,
		      USAGE_SLEEP_MS);
	assert_true(ms < 10000);
	/* nobody answers any more */
	struct rpc_reply reply;
	close(f->listen_fd); /* else a connection would wait in its backlog */
	f->listen_fd = -1;
	(void)call_stat(f->ch, "late", &reply);
	assert_int_not_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
}

/* One worker, 5 calls queued at most: of 20 held at once, 14 are refused at once. */
static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	enum { N = 20, QUEUED = 5 };
	struct usage_call calls[N];
	pthread_t threads[N];
	int ok = 0, exhausted = 0;

	pthread_mutex_lock(&gate_lock);
	gate_closed = true;
	pthread_mutex_unlock(&gate_lock);
	for (int i = 0; i < N; i++) {
		calls[i].ch = f->ch;
		assert_int_equal(pthread_create(&threads[i], NULL, usage_thread, &calls[i]), 0);
		if (i == 0) /* the worker holds the first before the others come */
			wait_entered(1);
	}
	/* the others arrive: queued, or refused (and so answered) at once */
	for (int i = 0; i < 1000 && atomic_load(&usage_answered) < N - 1 - QUEUED; i++)
		usleep(10000);
	usleep(100000); /* and no more than those */
	assert_int_equal(atomic_load(&usage_answered), N - 1 - QUEUED);
	pthread_mutex_lock(&gate_lock);
	gate_closed = false;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		if (calls[i].reply.code == GRPC_STATUS_OK)
			ok++;
		else if (calls[i].reply.code == GRPC_STATUS_RESOURCE_EXHAUSTED)
			exhausted++;
		rpc_reply_free(&calls[i].reply);
	}
	assert_int_equal(ok, 1 + QUEUED);
	assert_int_equal(exhausted, N - 1 - QUEUED);
}

/* A client that does not read a stream: the handler's send fails with -ETIMEDOUT after the
 * send timeout (1 s here), so that it stops, rather than holding its worker for ever. */
static void test_stream_reader_stalls(void **state)
{
	struct fixture *f = *state;
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_call *call = grpc_channel_create_call(f->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
						   grpc_slice_from_static_string(SVC "List"), NULL,
						   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	ListRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
	char *filters[] = { "big" };
	uint8_t buf[64];
	grpc_metadata_array initial;
	grpc_op ops[4];
	struct timespec t0;
	int tag;

	req.n_filters = 1;
	req.filters = filters;
	grpc_slice slice =
		grpc_slice_from_copied_buffer((const char *)buf, protobuf_c_message_pack(&req.base, buf));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	grpc_metadata_array_init(&initial);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
	assert_int_equal(grpc_call_start_batch(call, ops, 4, &tag, NULL), GRPC_CALL_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* and no message is ever read */
	for (int i = 0; i < 1000 && atomic_load(&big_send_error) == 1; i++)
		usleep(10000);
	double ms = since_ms(&t0);
	int r = atomic_load(&big_send_error);
	grpc_call_cancel(call, NULL);
	grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_byte_buffer_destroy(bb);
	grpc_metadata_array_destroy(&initial);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	print_message("a stream nobody reads: the send failed with %d after %.0f ms\n", r, ms);
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(ms >= 900 && ms < 5000);
	/* the worker is free again */
	struct rpc_reply reply;
	assert_int_equal(call_stat(f->ch, "after", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
}

/* SIGTERM to the server's thread (blocked there, read with its signalfd) stops it as stop_fd does. */
static void test_stop_on_sigterm(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;

	assert_int_equal(call_stat(f->ch, "before", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
	assert_int_equal(pthread_kill(f->thread, SIGTERM), 0);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	f->thread = 0;
	assert_int_equal(f->ret, 0);
}

/* What rpc.h promises handlers: protobuf-c frees a string field left at its __INIT default
 * (protobuf_c_empty_string) not at all, and the malloc'ed ones (an invalid free would abort). */
static void test_free_unpacked_empty_string(void **state)
{
	Info *info = malloc(sizeof(*info));
	(void)state;
	*info = (Info)CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
	info->name = strdup("mine");
	assert_ptr_equal(info->parent, protobuf_c_empty_string);
	protobuf_c_message_free_unpacked(&info->base, NULL);
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Not a limit, a figure: a unary call's round trip from one client, on one connection. */
static void test_latency(void **state)
{
	struct fixture *f = *state;
	enum { N = 1000 };
	static double ms[N];
	struct rpc_reply reply;

	for (int i = 0; i < N; i++) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(call_stat(f->ch, "layer", &reply), 0);
		ms[i] = since_ms(&t0);
		assert_int_equal(reply.code, GRPC_STATUS_OK);
		rpc_reply_free(&reply);
	}
	qsort(ms, N, sizeof(ms[0]), compare_doubles);
	print_message("unary Stat round trip over %d calls: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", N,
		      ms[N / 2], ms[N * 99 / 100], ms[N - 1]);
}

/* Connect as uid 65534 with primary group @gid, send HTTP/2's preface and read: "refused" when
 * the server closed the connection, "served" when gRPC answered (its SETTINGS frame). */
static const char *peer_try(struct fixture *f, gid_t gid)
{
	int status;

	/* so that the modes of the socket and its mkdtemp() directory do not stop it first */
	assert_int_equal(chmod(f->dir.top, 0755), 0);
	assert_int_equal(chmod(f->path, 0666), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		char buf[64];
		struct timeval tv = { .tv_sec = 5 };
		strcpy(addr.sun_path, f->path);
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(65534) < 0)
			_exit(2);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			_exit(3);
		/* the server may have closed it already: no SIGPIPE then */
		(void)!send(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, MSG_NOSIGNAL);
		ssize_t n = read(fd, buf, sizeof(buf));
		_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : n > 0 ? 1 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1)
		return WEXITSTATUS(status) == 0 ? "refused" : "served";
	fail_msg("the peer's child: status 0x%x (2: setuid, 3: connect, 4: no answer)", status);
	return NULL;
}

/* A peer that is neither root nor in the group is closed before gRPC reads a byte. */
static void test_peer_refused(void **state)
{
	struct fixture *f = *state;
	struct rpc_reply reply;

	unit_require_root("to connect as uid 65534");
	assert_string_equal(peer_try(f, 65534), "refused");
	assert_string_equal(peer_try(f, TEST_GROUP), "refused"); /* no group given to the server */
	/* root still gets in */
	assert_int_equal(call_stat(f->ch, "root", &reply), 0);
	assert_int_equal(reply.code, GRPC_STATUS_OK);
	rpc_reply_free(&reply);
}

/* With has_group, a peer whose group it is gets served; others are still refused. */
static void test_peer_in_group(void **state)
{
	struct fixture *f = *state;

	unit_require_root("to connect as uid 65534");
	assert_string_equal(peer_try(f, TEST_GROUP), "served");
	assert_string_equal(peer_try(f, 65534), "refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unary_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unimplemented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_finishes_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup_one_worker, teardown),
		cmocka_unit_test_setup_teardown(test_peer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_in_group, setup_group, teardown),
		cmocka_unit_test_setup_teardown(test_stream_reader_stalls, setup_short_send, teardown),
		cmocka_unit_test_setup_teardown(test_stop_on_sigterm, setup, teardown),
		cmocka_unit_test(test_free_unpacked_empty_string),
		cmocka_unit_test_setup_teardown(test_latency, setup, teardown),
	};
	grpc_init();
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	grpc_shutdown();
	return failed;
}
