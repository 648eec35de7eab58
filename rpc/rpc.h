/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small gRPC server on the gRPC C core, for services whose messages are protobuf-c's:
 * unary and server-streaming methods, on a Unix socket whose peers must be root (or in one
 * group). It knows nothing of snapshots: the containerd snapshot service is one user, a CSI
 * node plugin can be another. Handlers run on a pool of worker threads, so one slow call (a
 * large Remove, a client that does not read its List) never stops the others. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../common/error.h"

/* gRPC status codes, with the wire's values. */
enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
};

#define RPC_STATUS_MSG_MAX 1024

/* How a call ends: a code and one line for the client. */
struct rpc_status {
	enum rpc_code code;
	char message[RPC_STATUS_MSG_MAX];
};

/* Set @st; returns -1 (so `return rpc_status_set(...)` ends a handler's helper). */
int rpc_status_set(struct rpc_status *st, enum rpc_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The way out of a server-streaming call. */
struct rpc_stream;
/* Send one message on @s and wait until the transport took it; 0, or -errno when the client
 * is gone or cancelled (-EPIPE) or did not read within the send timeout (-ETIMEDOUT: the
 * call is then cancelled). Stop sending then: every later send fails the same way. */
int rpc_stream_send(struct rpc_stream *s, const ProtobufCMessage *msg);

/* A unary method: read @req, set *@ret_resp (freed by the server with
 * protobuf_c_message_free_unpacked(resp, NULL), so every pointer in it must be malloc'ed,
 * strings included) or leave it NULL and set @st.
 *  - A string field may be left at its __INIT default, protobuf_c_empty_string: protobuf-c
 *    (1.4.1, Debian 12; tested) does not free that one. Any other string must be malloc'ed;
 *    a string literal or a pointer into @req would be freed.
 *  - *@ret_resp must be of the method's output type: another type, or RPC_OK with no
 *    response, ends the call with RPC_INTERNAL. With a code other than RPC_OK, a response
 *    is freed and not sent.
 *  - @req belongs to the server, and lives until the handler returns.
 *  - @st starts as RPC_OK with an empty message; the message goes to the client as the
 *    status's details, so it must not hold what the client may not see. */
typedef void (*rpc_unary_fn)(void *data, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			     struct rpc_status *st);
/* A server-streaming method: send messages on @out, then set @st (RPC_OK by default). The
 * messages are the handler's (rpc_stream_send() copies them out; they may live on the stack).
 * When a send fails, stop: the call is over, and the status set afterwards is not sent. */
typedef void (*rpc_stream_fn)(void *data, const ProtobufCMessage *req, struct rpc_stream *out,
			      struct rpc_status *st);

/* One method of a service: its handler, unary or streaming (the other NULL). */
struct rpc_method {
	rpc_unary_fn unary;
	rpc_stream_fn stream;
};

/* A service: protobuf-c's descriptor gives its full name ("pkg.Service"), its methods' names
 * and request types; @methods has one entry per descriptor method, in the same order. */
struct rpc_service {
	const ProtobufCServiceDescriptor *descriptor;
	const struct rpc_method *methods;
	void *data; /* passed to every handler */
};

struct rpc_server_config {
	const struct rpc_service *services;
	size_t n_services;
	int listen_fd;	/* a listening AF_UNIX stream socket, made non-blocking; not closed */
	int stop_fd;	/* -1, or an fd whose readability stops the server as SIGTERM does (tests) */
	bool has_group; /* peers in @group may connect too (root always may) */
	gid_t group;
	unsigned workers;      /* handler threads; 0: RPC_DEFAULT_WORKERS */
	unsigned max_message;  /* largest request in bytes; 0: RPC_DEFAULT_MAX_MESSAGE */
	unsigned max_queued;   /* calls waiting for a worker, at most; 0: RPC_DEFAULT_QUEUED_PER_WORKER
				* per worker. Beyond, a call is answered RPC_RESOURCE_EXHAUSTED. */
	unsigned send_timeout; /* s a streamed message may wait for the client; 0: RPC_SEND_TIMEOUT_S */
	bool debug;	       /* one line per call on stderr: method, status, milliseconds */
};

#define RPC_DEFAULT_WORKERS	      4
#define RPC_DEFAULT_MAX_MESSAGE	      (4 * 1024 * 1024)
#define RPC_DEFAULT_QUEUED_PER_WORKER 16
#define RPC_SEND_TIMEOUT_S	      30 /* default: a client that does not read for this long is cut */
#define RPC_DRAIN_TIMEOUT_S	      30 /* at a stop, calls in flight get this long, then are cancelled */

/* Serve until SIGTERM or SIGINT (blocked in the calling thread and so in every thread the
 * server starts, gRPC's included; read here with a signalfd) or until @cfg->stop_fd is
 * readable. Then stop accepting, let the calls in flight finish (RPC_DRAIN_TIMEOUT_S, then
 * they are cancelled, and handlers still running are waited for) and return 0; -errno with
 * @err set when the server cannot start. Only root, and @cfg->group with @cfg->has_group,
 * may connect: other peers are closed before gRPC reads a byte (SO_PEERCRED, SO_PEERGROUPS).
 * Methods of a service without a handler, and methods of no service, get RPC_UNIMPLEMENTED; a
 * request that is missing or does not unpack gets RPC_INVALID_ARGUMENT; one over max_message
 * gets RPC_RESOURCE_EXHAUSTED from gRPC. SIGTERM and SIGINT stay blocked in the calling
 * thread on return (one that came while the server stopped must not kill the process then).
 * Calls grpc_init() and grpc_shutdown(); --debug lines and the stop go to stderr (log.h). */
int rpc_server_run(const struct rpc_server_config *cfg, struct cvol_error *err);
