/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rpc-client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_TIMEOUT_S 60

static grpc_channel *open_channel(const char *path, const grpc_channel_args *args)
{
	char target[256];
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();

	snprintf(target, sizeof(target), "unix:%s", path);
	grpc_channel *ch = grpc_channel_create(target, creds, args);
	grpc_channel_credentials_release(creds);
	return ch;
}

grpc_channel *rpc_client_open(const char *path)
{
	return open_channel(path, NULL);
}

grpc_channel *rpc_client_open_own(const char *path)
{
	grpc_arg arg = { .type = GRPC_ARG_INTEGER,
			 .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
			 .value.integer = 1 };
	grpc_channel_args args = { .num_args = 1, .args = &arg };

	return open_channel(path, &args);
}

/* Run @ops and wait for them on @cq; 0 when they all succeeded. */
static int batch(grpc_call *call, grpc_completion_queue *cq, const grpc_op *ops, size_t n)
{
	int tag;
	if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK)
		return -1;
	grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -1;
}

static int reply_append(struct rpc_reply *ret, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return -1;
	grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	struct rpc_reply_msg *grown = realloc(ret->msgs, (ret->n + 1) * sizeof(*grown));
	if (!grown) {
		grpc_slice_unref(all);
		return -1;
	}
	ret->msgs = grown;
	grown[ret->n].len = GRPC_SLICE_LENGTH(all);
	grown[ret->n].data = malloc(grown[ret->n].len + 1);
	memcpy(grown[ret->n].data, GRPC_SLICE_START_PTR(all), grown[ret->n].len);
	ret->n++;
	grpc_slice_unref(all);
	return 0;
}

int rpc_client_call_raw(grpc_channel *ch, const char *method, const void *req, size_t len,
			struct rpc_reply *ret)
{
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
					     gpr_time_from_seconds(CALL_TIMEOUT_S, GPR_TIMESPAN));
	grpc_call *call =
		grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
					 grpc_slice_from_static_string(method), NULL, deadline, NULL);
	grpc_metadata_array initial, trailing;
	grpc_byte_buffer *send = NULL, *recv = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6];
	size_t n = 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	memset(ops, 0, sizeof(ops));
	grpc_metadata_array_init(&initial);
	grpc_metadata_array_init(&trailing);
	if (req) {
		grpc_slice s = grpc_slice_from_copied_buffer(req, len);
		send = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
	}
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (send) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = send;
	}
	ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[n++].data.recv_initial_metadata.recv_initial_metadata = &initial;
	(void)batch(call, cq, ops, n); /* fails when the server refused the call: the status says why */
	for (;;) {		       /* every message until the end of the stream */
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &recv;
		if (batch(call, cq, ops, 1) < 0 || !recv)
			break;
		if (reply_append(ret, recv) < 0)
			r = -1;
		grpc_byte_buffer_destroy(recv);
		recv = NULL;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[0].data.recv_status_on_client.status = &status;
	ops[0].data.recv_status_on_client.status_details = &details;
	if (batch(call, cq, ops, 1) < 0)
		r = -1;
	ret->code = status;
	ret->message = grpc_slice_to_c_string(details);
	grpc_slice_unref(details);
	if (send)
		grpc_byte_buffer_destroy(send);
	grpc_metadata_array_destroy(&initial);
	grpc_metadata_array_destroy(&trailing);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return r;
}

int rpc_client_call(grpc_channel *ch, const char *method, const ProtobufCMessage *req, struct rpc_reply *ret)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	protobuf_c_message_pack(req, buf);
	int r = rpc_client_call_raw(ch, method, buf, len, ret);
	free(buf);
	return r;
}

ProtobufCMessage *rpc_reply_unpack(const struct rpc_reply *reply, size_t i,
				   const ProtobufCMessageDescriptor *type)
{
	if (i >= reply->n)
		return NULL;
	return protobuf_c_message_unpack(type, NULL, reply->msgs[i].len, reply->msgs[i].data);
}

void rpc_reply_free(struct rpc_reply *reply)
{
	for (size_t i = 0; i < reply->n; i++)
		free(reply->msgs[i].data);
	free(reply->msgs);
	gpr_free(reply->message);
	memset(reply, 0, sizeof(*reply));
}
