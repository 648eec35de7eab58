/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The gRPC server of rpc.h, on the gRPC C core.
 *
 * Threads: the caller's accepts connections (so that a peer is checked with SO_PEERCRED
 * before gRPC reads a byte of it) and waits for SIGTERM, SIGINT or stop_fd; one thread drives
 * the completion queue on which gRPC announces calls; a fixed pool of workers runs the
 * handlers. A handler never runs on the queue's thread, so a slow one delays only its worker.
 *
 * Each method has one call requested of gRPC at a time, bound to a completion queue of its
 * own (a "pluck" queue, as the C++ sync server does): when it arrives it is asked for again,
 * and the call goes to the workers through a bounded queue; a worker sends the answer on the
 * call's queue and waits on it alone, so workers never share a queue. When the queue is full
 * the call is answered RESOURCE_EXHAUSTED at once, rather than held in memory without end. */
#include "rpc.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/socket.h"

#define STREAMS_PER_CONN 128   /* calls at once on one connection (HTTP/2 streams) */
#define WARN_EVERY_MS	 10000 /* one warning about refused peers at most this often */
#define REPLY_FLUSH_MS	 20    /* at stop, after the last call: for the transport to write it */
#define REPLIES_READ_MS	 2000  /* at stop, after the last call: how long clients get to read it */
#define ACCEPT_BATCH	 64    /* connections taken per wake-up */

/* One method gRPC knows: its path on the wire and what serves it. */
struct method {
	const struct rpc_service *service;
	size_t index;	/* in service->descriptor->methods and service->methods */
	char path[256]; /* "/pkg.Service/Method" */
	void *handle;	/* grpc_server_register_method's */
};

/* A call asked of gRPC, then (once it arrived) handed to a worker; freed by request_free(). */
struct request {
	struct server *srv;
	const struct method *m;	   /* NULL: the catch-all for methods nobody registered */
	grpc_completion_queue *cq; /* the call's own: only its worker waits on it */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array metadata;
	grpc_byte_buffer *payload;
	grpc_call_details details; /* the catch-all's: which method was asked for */
};

/* A connection handed to gRPC, which owns and closes its fd: the number and the socket's inode
 * tell whether it is still that connection. */
struct peer_conn {
	int fd;
	ino_t ino;
};

struct server {
	const struct rpc_server_config *cfg;
	grpc_server *grpc;
	grpc_completion_queue *cq; /* notifications of new calls, and of the server's shutdown */
	grpc_server_credentials *creds;
	struct method *methods;
	size_t n_methods;
	unsigned workers;
	int64_t send_timeout_ms;
	atomic_bool stopping; /* no call is asked for again */
	int shutdown_tag;     /* its address tags the shutdown notification */

	pthread_mutex_t lock;
	pthread_cond_t work;   /* a call was queued, or the queue was closed */
	pthread_cond_t ended;  /* the server's shutdown is complete, or a worker ended */
	unsigned workers_done; /* workers that returned (the queue closed and empty) */
	struct request **queue;
	size_t queue_cap, queue_head, queue_len;
	bool queue_closed;
	bool shut_down;

	/* the accept loop's own */
	struct peer_conn *conns; /* the connections handed to gRPC that may still be open */
	size_t n_conns, conns_cap;
	unsigned refused;
	struct ucred last_refused;
	uint64_t last_warn_ms;
};

struct rpc_stream {
	struct request *req;
	bool sent_initial; /* the initial metadata went with the first message */
	int error;	   /* the first failed send's -errno: later ones fail at once */
};

static const char *const code_names[] = {
	"OK",	     "CANCELLED",      "UNKNOWN",	    "INVALID_ARGUMENT",	  "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",	    "INTERNAL",		  "UNAVAILABLE",
};

static const char *code_name(enum rpc_code code)
{
	return (unsigned)code < ARRAY_SIZE(code_names) ? code_names[code] : "?";
}

int rpc_status_set(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
{
	va_list ap;

	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static gpr_timespec in_ms(int64_t ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Shut a call's queue down and destroy it, once every batch on it has been waited for. */
static void call_cq_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

static void request_free(struct request *req)
{
	if (!req)
		return;
	if (req->call)
		grpc_call_unref(req->call);
	if (req->payload)
		grpc_byte_buffer_destroy(req->payload);
	grpc_metadata_array_destroy(&req->metadata);
	if (!req->m)
		grpc_call_details_destroy(&req->details);
	call_cq_destroy(req->cq);
	free(req);
}

/* Ask gRPC for the next call of @m (NULL: of any method not registered); it is announced on
 * the server's queue with the request as its tag. */
static int request_call(struct server *srv, const struct method *m)
{
	struct request *req = calloc(1, sizeof(*req));
	grpc_call_error e;

	if (!req)
		return -ENOMEM;
	req->srv = srv;
	req->m = m;
	req->cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_metadata_array_init(&req->metadata);
	if (m) {
		e = grpc_server_request_registered_call(srv->grpc, m->handle, &req->call, &req->deadline,
							&req->metadata, &req->payload, req->cq, srv->cq, req);
	} else {
		grpc_call_details_init(&req->details);
		e = grpc_server_request_call(srv->grpc, &req->call, &req->details, &req->metadata, req->cq,
					     srv->cq, req);
	}
	if (e != GRPC_CALL_OK) {
		request_free(req);
		return -EIO;
	}
	return 0;
}

static void log_call(const struct server *srv, const char *path, const struct rpc_status *st,
		     const struct timespec *start)
{
	if (!srv->cfg->debug)
		return;
	if (st->code == RPC_OK)
		log_info("rpc %s OK %.2fms", path, elapsed_ms(start));
	else
		log_info("rpc %s %s %.2fms: %s", path, code_name(st->code), elapsed_ms(start), st->message);
}

/* Answer a call with @code without a worker: for calls nobody will serve. gRPC sends the
 * status itself, so the queue's thread never waits for the client. */
static void request_refuse(struct request *req, const char *path, enum rpc_code code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void request_refuse(struct request *req, const char *path, enum rpc_code code, const char *fmt, ...)
{
	struct rpc_status st = { .code = code };
	struct timespec start;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &start);
	va_start(ap, fmt);
	vsnprintf(st.message, sizeof(st.message), fmt, ap);
	va_end(ap);
	grpc_call_cancel_with_status(req->call, (grpc_status_code)code, st.message, NULL);
	log_call(req->srv, path, &st, &start);
	request_free(req);
}

/* Queue a call for the workers; false when the queue is full. */
static bool queue_push(struct server *srv, struct request *req)
{
	bool ok;

	pthread_mutex_lock(&srv->lock);
	ok = !srv->queue_closed && srv->queue_len < srv->queue_cap;
	if (ok) {
		srv->queue[(srv->queue_head + srv->queue_len++) % srv->queue_cap] = req;
		pthread_cond_signal(&srv->work);
	}
	pthread_mutex_unlock(&srv->lock);
	return ok;
}

/* The next queued call; NULL once the queue is closed and empty. */
static struct request *queue_pop(struct server *srv)
{
	struct request *req = NULL;

	pthread_mutex_lock(&srv->lock);
	while (!srv->queue_len && !srv->queue_closed)
		pthread_cond_wait(&srv->work, &srv->lock);
	if (srv->queue_len) {
		req = srv->queue[srv->queue_head];
		srv->queue_head = (srv->queue_head + 1) % srv->queue_cap;
		srv->queue_len--;
	}
	pthread_mutex_unlock(&srv->lock);
	return req;
}

static void queue_close(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->queue_closed = true;
	pthread_cond_broadcast(&srv->work);
	pthread_mutex_unlock(&srv->lock);
}

/* The client's @name, cut to fit @size, its bytes outside printable ASCII as '?': it goes into
 * a log line and back to the client. */
static void printable_copy(char *dst, size_t size, grpc_slice name)
{
	size_t len = GRPC_SLICE_LENGTH(name) < size - 1 ? GRPC_SLICE_LENGTH(name) : size - 1;
	const uint8_t *src = GRPC_SLICE_START_PTR(name);

	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[len] = '\0';
}

/* A call arrived: ask for the next one of its method, then give it to a worker, or refuse it. */
static void call_arrived(struct server *srv, struct request *req)
{
	const struct method *m = req->m;

	if (!atomic_load(&srv->stopping) && request_call(srv, m) < 0)
		log_error("rpc: cannot wait for the next call of %s", m ? m->path : "unknown methods");
	if (!m) {
		char path[256];
		printable_copy(path, sizeof(path), req->details.method);
		request_refuse(req, path, RPC_UNIMPLEMENTED, "unknown method %s", path);
		return;
	}
	const struct rpc_method *h = &m->service->methods[m->index];
	if (!h->unary && !h->stream) {
		request_refuse(req, m->path, RPC_UNIMPLEMENTED, "%s is not implemented", m->path);
		return;
	}
	if (!queue_push(srv, req))
		request_refuse(req, m->path, RPC_RESOURCE_EXHAUSTED, "server busy: %zu calls waiting",
			       srv->queue_cap);
}

/* The completion queue's thread: new calls, failed requests (at shutdown), the end. */
static void *cq_main(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		grpc_event ev =
			grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == &srv->shutdown_tag) {
			pthread_mutex_lock(&srv->lock);
			srv->shut_down = true;
			pthread_cond_broadcast(&srv->ended);
			pthread_mutex_unlock(&srv->lock);
		} else if (!ev.success) { /* a request the server's shutdown ended */
			request_free(ev.tag);
		} else {
			call_arrived(srv, ev.tag);
		}
	}
	return NULL;
}

/* Run one batch on a call and wait for it, the send timeout at most: a client that does not read
 * must not hold a worker. 0; -EPIPE when the call ended (client gone, cancelled); -ETIMEDOUT. */
static int batch_run(struct request *req, const grpc_op *ops, size_t n)
{
	int tag;
	if (grpc_call_start_batch(req->call, ops, n, &tag, NULL) != GRPC_CALL_OK)
		return -EIO;
	grpc_event ev = grpc_completion_queue_pluck(req->cq, &tag, in_ms(req->srv->send_timeout_ms), NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT) {
		grpc_call_cancel(req->call, NULL); /* the batch then ends at once, and is waited for */
		grpc_completion_queue_pluck(req->cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		return -ETIMEDOUT;
	}
	return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -EPIPE;
}

/* @msg in protobuf's wire format, in a byte buffer for gRPC; NULL when out of memory. */
static grpc_byte_buffer *message_pack(const ProtobufCMessage *msg)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(size);
	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

/* The call's request, unpacked as @type; NULL with @st set when it is missing or not one. */
static ProtobufCMessage *request_unpack(struct request *req, const ProtobufCMessageDescriptor *type,
					struct rpc_status *st)
{
	grpc_byte_buffer_reader reader;

	if (!req->payload) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "no request message");
		return NULL;
	}
	if (!grpc_byte_buffer_reader_init(&reader, req->payload)) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "the request message cannot be read");
		return NULL;
	}
	grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	ProtobufCMessage *msg =
		protobuf_c_message_unpack(type, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
	grpc_slice_unref(all);
	if (!msg)
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "the request is not a valid %s", type->name);
	return msg;
}

/* End the call: the initial metadata unless sent, @resp when there is one (the status is OK
 * then), the status; and wait until the client closed its side. */
static int call_finish(struct request *req, bool sent_initial, grpc_byte_buffer *resp,
		       const struct rpc_status *st)
{
	grpc_slice details = grpc_slice_from_copied_string(st->message);
	int cancelled = 0;
	grpc_op ops[4];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (!sent_initial)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (resp) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = resp;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)st->code;
	ops[n++].data.send_status_from_server.status_details = st->message[0] ? &details : NULL;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &cancelled;
	int r = batch_run(req, ops, n);
	grpc_slice_unref(details);
	return r;
}

/* Run a unary handler and send what it made. */
static void serve_unary(struct request *req, const ProtobufCMethodDescriptor *md, const struct rpc_method *h,
			const ProtobufCMessage *in, struct rpc_status *st)
{
	ProtobufCMessage *resp = NULL;
	grpc_byte_buffer *bb = NULL;

	h->unary(req->m->service->data, in, &resp, st);
	if (st->code == RPC_OK && !resp)
		rpc_status_set(st, RPC_INTERNAL, "%s made no response", req->m->path);
	else if (st->code == RPC_OK && resp->descriptor != md->output)
		rpc_status_set(st, RPC_INTERNAL, "%s made a %s, not a %s", req->m->path,
			       resp->descriptor->name, md->output->name);
	if (st->code == RPC_OK && !(bb = message_pack(resp)))
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	call_finish(req, false, bb, st);
	if (bb)
		grpc_byte_buffer_destroy(bb);
}

int rpc_stream_send(struct rpc_stream *s, const ProtobufCMessage *msg)
{
	grpc_op ops[2];
	size_t n = 0;

	if (s->error)
		return s->error;
	grpc_byte_buffer *bb = message_pack(msg);
	if (!bb)
		return -ENOMEM;
	memset(ops, 0, sizeof(ops));
	if (!s->sent_initial)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	ops[n++].data.send_message.send_message = bb;
	int r = batch_run(s->req, ops, n);
	grpc_byte_buffer_destroy(bb);
	s->sent_initial = true;
	if (r < 0)
		s->error = r;
	return r;
}

/* Run a streaming handler, then end the call with its status. */
static void serve_stream(struct request *req, const struct rpc_method *h, const ProtobufCMessage *in,
			 struct rpc_status *st)
{
	struct rpc_stream s = { .req = req };

	h->stream(req->m->service->data, in, &s, st);
	if (s.error) /* the call is over; the log says why rather than what the handler set */
		rpc_status_set(st, s.error == -ETIMEDOUT ? RPC_DEADLINE_EXCEEDED : RPC_CANCELLED,
			       "the client did not take a message: %s", strerror(-s.error));
	call_finish(req, s.sent_initial, NULL, st);
}

/* A worker's part of a call: unpack, handle, answer. */
static void serve(struct request *req)
{
	const struct method *m = req->m;
	const ProtobufCMethodDescriptor *md = &m->service->descriptor->methods[m->index];
	const struct rpc_method *h = &m->service->methods[m->index];
	struct rpc_status st = { .code = RPC_OK };
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	ProtobufCMessage *in = request_unpack(req, md->input, &st);
	if (!in)
		call_finish(req, false, NULL, &st);
	else if (h->unary)
		serve_unary(req, md, h, in, &st);
	else
		serve_stream(req, h, in, &st);
	if (in)
		protobuf_c_message_free_unpacked(in, NULL);
	log_call(req->srv, m->path, &st, &start);
}

static void *worker_main(void *arg)
{
	struct server *srv = arg;
	struct request *req;

	while ((req = queue_pop(srv))) {
		serve(req);
		request_free(req);
	}
	pthread_mutex_lock(&srv->lock);
	srv->workers_done++;
	pthread_cond_broadcast(&srv->ended);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Check the services against their descriptors and list their methods. */
static int methods_build(struct server *srv, struct cvol_error *err)
{
	const struct rpc_server_config *cfg = srv->cfg;
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct rpc_service *svc = &cfg->services[i];
		if (!svc->descriptor || !svc->methods)
			return cvol_error_setx(err, EINVAL, "service %zu has no descriptor or no methods", i);
		n += svc->descriptor->n_methods;
	}
	srv->methods = calloc(n ? n : 1, sizeof(*srv->methods));
	if (!srv->methods)
		return cvol_error_set(err, ENOMEM, "list the methods");
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct rpc_service *svc = &cfg->services[i];
		for (size_t j = 0; j < svc->descriptor->n_methods; j++) {
			struct method *m = &srv->methods[srv->n_methods++];
			const char *name = svc->descriptor->methods[j].name;
			int len = snprintf(m->path, sizeof(m->path), "/%s/%s", svc->descriptor->name, name);
			if (len < 0 || (size_t)len >= sizeof(m->path))
				return cvol_error_setx(err, ENAMETOOLONG, "method name `%s.%s` is too long",
						       svc->descriptor->name, name);
			if (svc->methods[j].unary && svc->methods[j].stream)
				return cvol_error_setx(
					err, EINVAL, "%s has both a unary and a streaming handler", m->path);
			m->service = svc;
			m->index = j;
		}
	}
	return 0;
}

/* The gRPC server with its limits, its queue and its methods; not started yet. */
static int grpc_build(struct server *srv, struct cvol_error *err)
{
	unsigned max = srv->cfg->max_message ? srv->cfg->max_message : RPC_DEFAULT_MAX_MESSAGE;
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER,
		  .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = max > INT32_MAX ? INT32_MAX : (int)max },
		{ .type = GRPC_ARG_INTEGER,
		  .key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS,
		  .value.integer = STREAMS_PER_CONN },
	};
	grpc_channel_args channel_args = { .num_args = ARRAY_SIZE(args), .args = args };

	srv->grpc = grpc_server_create(&channel_args, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	srv->creds = grpc_insecure_server_credentials_create();
	if (!srv->grpc || !srv->cq || !srv->creds)
		return cvol_error_setx(err, ENOMEM, "create the gRPC server");
	grpc_server_register_completion_queue(srv->grpc, srv->cq, NULL);
	for (size_t i = 0; i < srv->n_methods; i++) {
		struct method *m = &srv->methods[i];
		m->handle = grpc_server_register_method(srv->grpc, m->path, NULL,
							GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
		if (!m->handle)
			return cvol_error_setx(err, EINVAL, "register gRPC method %s (twice?)", m->path);
	}
	return 0;
}

/* Ask for the first call of every method, and of any method nobody registered. */
static int requests_start(struct server *srv, struct cvol_error *err)
{
	for (size_t i = 0; i <= srv->n_methods; i++)
		if (request_call(srv, i < srv->n_methods ? &srv->methods[i] : NULL) < 0)
			return cvol_error_setx(err, EIO, "wait for gRPC calls");
	return 0;
}

/* Start the workers; *@ret_started of them run, even on failure. */
static int workers_start(struct server *srv, pthread_t *workers, unsigned *ret_started,
			 struct cvol_error *err)
{
	for (*ret_started = 0; *ret_started < srv->workers; (*ret_started)++) {
		int r = pthread_create(&workers[*ret_started], NULL, worker_main, srv);
		if (r)
			return cvol_error_set(err, r, "start %u gRPC worker threads", srv->workers);
	}
	return 0;
}

/* One warning at most every WARN_EVERY_MS for the peers refused since the last. */
static void warn_refused(struct server *srv, bool has_group, gid_t group)
{
	uint64_t now = now_ms();

	if (!srv->refused || (srv->last_warn_ms && now - srv->last_warn_ms < WARN_EVERY_MS))
		return;
	if (has_group)
		log_warning("rpc: %u connection(s) refused: peer neither root nor in group %u (the last: "
			    "pid %d, uid %u, gid %u)",
			    srv->refused, (unsigned)group, (int)srv->last_refused.pid,
			    (unsigned)srv->last_refused.uid, (unsigned)srv->last_refused.gid);
	else
		log_warning("rpc: %u connection(s) refused: peer not root (the last: pid %d, uid %u)",
			    srv->refused, (int)srv->last_refused.pid, (unsigned)srv->last_refused.uid);
	srv->refused = 0;
	srv->last_warn_ms = now;
}

/* True while @c is still the socket gRPC was given (its fd not closed, nor reused). */
static bool peer_conn_open(const struct peer_conn *c)
{
	struct stat st;
	return fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == c->ino;
}

/* True while the client of @c has not read all that was sent to it: a Unix socket's SIOCOUTQ
 * counts the bytes sent and not yet read by the peer. */
static bool peer_conn_unread(const struct peer_conn *c)
{
	int unread = 0;
	return peer_conn_open(c) && ioctl(c->fd, SIOCOUTQ, &unread) == 0 && unread > 0;
}

/* Forget the connections that are closed; returns how many are left. */
static size_t peer_conns_prune(struct server *srv)
{
	size_t kept = 0;
	for (size_t i = 0; i < srv->n_conns; i++)
		if (peer_conn_open(&srv->conns[i]))
			srv->conns[kept++] = srv->conns[i];
	srv->n_conns = kept;
	return kept;
}

/* Remember connection @fd (nothing when memory is short: it is then not waited for at stop). */
static void peer_conns_add(struct server *srv, int fd)
{
	struct stat st;
	if (srv->n_conns == srv->conns_cap && peer_conns_prune(srv) == srv->conns_cap) {
		size_t cap = srv->conns_cap ? 2 * srv->conns_cap : 16;
		struct peer_conn *conns = reallocarray(srv->conns, cap, sizeof(*conns));
		if (!conns)
			return;
		srv->conns = conns;
		srv->conns_cap = cap;
	}
	if (fstat(fd, &st) == 0)
		srv->conns[srv->n_conns++] = (struct peer_conn){ .fd = fd, .ino = st.st_ino };
}

/* A call is done for gRPC once its reply is handed to the transport, which writes it on its own
 * threads; gRPC's shutdown then closes the connections, and a client that writes to its closed
 * connection (an acknowledgement, say) before it has read the last replies fails those calls
 * with UNAVAILABLE, though they were answered (seen under load). So, before the shutdown and
 * with every connection still up, wait until the clients have read what was sent to them: a
 * bounded time, so that no client's slowness holds the stop. */
static void wait_replies_read(struct server *srv)
{
	struct timespec t0, now;
	size_t unread;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	usleep(REPLY_FLUSH_MS * 1000); /* the transport's threads write the last replies */
	for (;;) {
		unread = 0;
		for (size_t i = 0; i < srv->n_conns; i++)
			unread += peer_conn_unread(&srv->conns[i]);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!unread ||
		    (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= REPLIES_READ_MS)
			break;
		usleep(2000);
	}
	if (unread)
		log_info("rpc: %zu client(s) had not read their replies %d ms after the last call", unread,
			 REPLIES_READ_MS);
}

/* Take the connections waiting on the socket: each peer is checked before gRPC gets it. */
static void accept_connections(struct server *srv)
{
	const struct rpc_server_config *cfg = srv->cfg;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warning("rpc: accept: %s", strerror(errno));
				usleep(100000); /* the connection waits in the backlog */
			}
			break;
		}
		struct ucred cred = { .pid = 0 };
		if (!unix_peer_allowed(fd, cfg->has_group, cfg->group, &cred)) {
			close(fd);
			srv->refused++;
			srv->last_refused = cred;
			continue;
		}
		peer_conns_add(srv, fd);
		grpc_server_add_channel_from_fd(srv->grpc, fd, srv->creds); /* gRPC owns fd now */
	}
	warn_refused(srv, cfg->has_group, cfg->group);
}

/* Accept until a stop signal arrives on @sigfd or stop_fd becomes readable. */
static void accept_until_stopped(struct server *srv, int sigfd)
{
	const struct rpc_server_config *cfg = srv->cfg;
	struct pollfd pfd[3] = {
		{ .fd = cfg->listen_fd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = cfg->stop_fd, .events = POLLIN }, /* poll ignores a negative fd */
	};

	for (;;) {
		int n = poll(pfd, ARRAY_SIZE(pfd), WARN_EVERY_MS);
		if (n < 0 && errno != EINTR) {
			log_error("rpc: poll on the socket: %s", strerror(errno));
			usleep(100000);
			continue;
		}
		if (n > 0 && pfd[1].revents) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				log_info("rpc: %s: finishing the calls in flight",
					 strsignal((int)si.ssi_signo));
			return;
		}
		if (n > 0 && pfd[2].revents)
			return;
		if (n > 0 && pfd[0].revents)
			accept_connections(srv);
		else
			warn_refused(srv, cfg->has_group, cfg->group);
	}
}

/* Wait until the server's shutdown completed, at most until @deadline (NULL: no limit). */
static bool wait_shut_down(struct server *srv, const struct timespec *deadline)
{
	bool done;

	pthread_mutex_lock(&srv->lock);
	while (!srv->shut_down) {
		if (!deadline)
			pthread_cond_wait(&srv->ended, &srv->lock);
		else if (pthread_cond_timedwait(&srv->ended, &srv->lock, deadline) == ETIMEDOUT)
			break;
	}
	done = srv->shut_down;
	pthread_mutex_unlock(&srv->lock);
	return done;
}

/* Stop taking calls and let the workers answer those queued or running, RPC_DRAIN_TIMEOUT_S at
 * most, on live connections; then wait until their clients have read the replies. */
static void drain(struct server *srv, unsigned workers)
{
	struct timespec deadline;
	bool done;

	atomic_store(&srv->stopping, true);
	queue_close(srv);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += RPC_DRAIN_TIMEOUT_S;
	pthread_mutex_lock(&srv->lock);
	while (srv->workers_done < workers && pthread_cond_timedwait(&srv->ended, &srv->lock, &deadline) == 0)
		;
	done = srv->workers_done >= workers;
	pthread_mutex_unlock(&srv->lock);
	if (done)
		wait_replies_read(srv);
}

/* Shut gRPC down: calls still running after RPC_DRAIN_TIMEOUT_S more are cancelled. */
static void shut_down(struct server *srv)
{
	struct timespec deadline;

	grpc_server_shutdown_and_notify(srv->grpc, srv->cq, &srv->shutdown_tag);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += RPC_DRAIN_TIMEOUT_S;
	if (!wait_shut_down(srv, &deadline)) {
		log_warning("rpc: calls still running after %d s: cancelled", RPC_DRAIN_TIMEOUT_S);
		grpc_server_cancel_all_calls(srv->grpc);
		wait_shut_down(srv, NULL); /* a handler still running is waited for */
	}
}

/* Free what grpc_build() made; the server is shut down or was never started, and nobody
 * waits on its queue any more. */
static void server_free(struct server *srv)
{
	if (srv->grpc)
		grpc_server_destroy(srv->grpc);
	if (srv->creds)
		grpc_server_credentials_release(srv->creds);
	if (srv->cq) {
		grpc_completion_queue_shutdown(srv->cq);
		while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
		       GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(srv->cq);
	}
	free(srv->queue);
	free(srv->methods);
	free(srv->conns);
}

/* Serve until stopped, on a server built and a queue's thread running; then stop it all. */
static int serve_until_stopped(struct server *srv, pthread_t cq_thread, int sigfd, struct cvol_error *err)
{
	_cleanup_free_ pthread_t *workers = calloc(srv->workers, sizeof(*workers));
	unsigned started = 0;
	int r;

	grpc_server_start(srv->grpc);
	if (!workers)
		r = cvol_error_set(err, ENOMEM, "start the gRPC workers");
	else if ((r = requests_start(srv, err)) == 0 && (r = workers_start(srv, workers, &started, err)) == 0)
		accept_until_stopped(srv, sigfd);
	drain(srv, started);
	shut_down(srv);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	/* the server is done: its queue ends, and its thread with it */
	grpc_server_destroy(srv->grpc);
	srv->grpc = NULL;
	grpc_completion_queue_shutdown(srv->cq);
	pthread_join(cq_thread, NULL);
	return r;
}

int rpc_server_run(const struct rpc_server_config *cfg, struct cvol_error *err)
{
	struct server srv = {
		.cfg = cfg,
		.workers = cfg->workers ? cfg->workers : RPC_DEFAULT_WORKERS,
		.send_timeout_ms =
			1000 * (int64_t)(cfg->send_timeout ? cfg->send_timeout : RPC_SEND_TIMEOUT_S),
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.work = PTHREAD_COND_INITIALIZER,
		.ended = PTHREAD_COND_INITIALIZER,
	};
	sigset_t stop;
	pthread_t cq_thread;
	int r;

	if (cfg->listen_fd < 0 || (cfg->n_services && !cfg->services))
		return cvol_error_setx(err, EINVAL, "no socket or no services to serve");
	/* before any thread is made, so that gRPC's own threads inherit the mask too; never
	 * unblocked again, so that a signal that comes while we stop does not kill the process */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	_cleanup_close_ int sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return cvol_error_set(err, errno, "wait for stop signals");
	if (fcntl(cfg->listen_fd, F_SETFL, fcntl(cfg->listen_fd, F_GETFL) | O_NONBLOCK) < 0)
		return cvol_error_set(err, errno, "make the listening socket non-blocking");
	srv.queue_cap =
		cfg->max_queued ? cfg->max_queued : (size_t)srv.workers * RPC_DEFAULT_QUEUED_PER_WORKER;
	srv.queue = calloc(srv.queue_cap, sizeof(*srv.queue));
	if (!srv.queue)
		return cvol_error_set(err, ENOMEM, "set up the gRPC server");
	grpc_init();
	r = methods_build(&srv, err);
	if (r == 0)
		r = grpc_build(&srv, err);
	if (r == 0) {
		r = -pthread_create(&cq_thread, NULL, cq_main, &srv);
		if (r < 0)
			cvol_error_set(err, -r, "start the gRPC completion queue thread");
	}
	if (r == 0)
		r = serve_until_stopped(&srv, cq_thread, sigfd, err);
	server_free(&srv);
	grpc_shutdown();
	return r;
}
