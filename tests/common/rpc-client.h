/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A blocking gRPC client on the gRPC C core, for the tests of rpc/ and the snapshotter's load
 * client (tests/bench/snapshotter-load.c): one call sends one request (or none) and collects
 * every message and the status that come back. */
#pragma once

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct rpc_reply {
	int code;      /* grpc_status_code */
	char *message; /* the status's details ("" when none) */
	size_t n;      /* messages received, in order */
	struct rpc_reply_msg {
		uint8_t *data;
		size_t len;
	} * msgs;
};

/* A channel to the Unix socket @path (grpc_init() is the caller's). */
grpc_channel *rpc_client_open(const char *path);
/* The same, but with a connection of its own: channels made by rpc_client_open() to one
 * socket share one connection (gRPC's global subchannel pool). */
grpc_channel *rpc_client_open_own(const char *path);
/* Call @method ("/pkg.Service/Method") with @len bytes of @req (NULL: send no message). */
int rpc_client_call_raw(grpc_channel *ch, const char *method, const void *req, size_t len,
			struct rpc_reply *ret);
/* Call @method with @req packed. */
int rpc_client_call(grpc_channel *ch, const char *method, const ProtobufCMessage *req, struct rpc_reply *ret);
/* Message @i of @reply unpacked as @type; NULL if it is not one. */
ProtobufCMessage *rpc_reply_unpack(const struct rpc_reply *reply, size_t i,
				   const ProtobufCMessageDescriptor *type);
void rpc_reply_free(struct rpc_reply *reply);
