/* SPDX-License-Identifier: GPL-2.0-or-later */
/* snapshotter-load: a load client for a containerd snapshotter's gRPC socket
 * (containerd.services.snapshots.v1.Snapshots), on the gRPC C core's client of
 * tests/common/rpc-client.c, each client thread with a channel (a connection) of its own.
 *
 *   snapshotter-load --socket PATH --clients 8 --iterations 500 --parent KEY
 *   snapshotter-load --socket PATH --setup-chain 3
 *
 * Each client c loops K times: Prepare(key=load-<c>-<i>, parent=KEY), Mounts(load-<c>-<i>),
 * Remove(load-<c>-<i>). The clients connect first (each waits until its channel is READY);
 * then they start together. Prepare+Mounts is timed as one (what a container start asks
 * of the snapshotter before it mounts), Remove on its own, with CLOCK_MONOTONIC around the
 * calls (packing and unpacking included). The result is one line of key=value pairs:
 *   clients= iterations= cycles= errors= secs= ops_per_s= calls_per_s=
 *   pm_p50_ms= pm_p99_ms= pm_max_ms= rm_p50_ms= rm_p99_ms= rm_max_ms=
 * where an op is one Prepare+Mounts+Remove cycle (calls_per_s counts the three calls),
 * secs runs from the start to the last client's end, and the percentiles are the nearest
 * rank over the good calls of all clients.
 *
 * Every call's status is checked, and a good Prepare or Mounts must return at least one
 * mount. A bad call is counted in errors= and the first few are shown on stderr; a failed
 * Prepare skips that cycle's Mounts and Remove, a failed Mounts still removes.
 *
 * --setup-chain N makes a chain of N committed snapshots on --parent (default: a base):
 * Prepare(load-chain-<pid>-<j>-active) and Commit(load-chain-<pid>-<j>) for j = 1..N, and
 * prints the top one's name, a --parent for the runs.
 *
 * Exit status: 0 when every call was good, 1 when some were not, 2 on a usage or set-up error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/rpc-client.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define PROG		  "snapshotter-load"
#define SVC		  "/containerd.services.snapshots.v1.Snapshots/"
#define MAX_CLIENTS	  256
#define MAX_SHOWN_ERRORS  5
#define CONNECT_TIMEOUT_S 10
#define KEY_MAX		  256

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest PrepareRequest;
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotResponse PrepareResponse;
typedef Containerd__Services__Snapshots__V1__MountsRequest MountsRequest;
typedef Containerd__Services__Snapshots__V1__MountsResponse MountsResponse;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest RemoveRequest;
typedef Containerd__Services__Snapshots__V1__CommitSnapshotRequest CommitRequest;

struct config {
	const char *socket;
	unsigned clients;
	unsigned long iterations; /* per client */
	const char *parent;
	unsigned long setup_chain; /* 0: a load run */
};

struct client {
	const struct config *cfg;
	unsigned index;
	pthread_t thread;
	grpc_channel *ch;
	bool fatal;	 /* not connected: no run */
	uint64_t *pm_ns; /* Prepare+Mounts of each good cycle */
	uint64_t *rm_ns; /* Remove, each good one */
	size_t pm_n, rm_n;
	unsigned long errors;
	uint64_t end_ns;
};

static pthread_barrier_t start_line;
static atomic_uint shown_errors;
static uint64_t start_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void show_error(int client, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void show_error(int client, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (atomic_fetch_add(&shown_errors, 1) >= MAX_SHOWN_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (client >= 0)
		fprintf(stderr, PROG ": client %d: %s\n", client, msg);
	else
		fprintf(stderr, PROG ": %s\n", msg);
}

/* Wait until @ch is connected; false after CONNECT_TIMEOUT_S. */
static bool wait_ready(grpc_channel *ch)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					     gpr_time_from_seconds(CONNECT_TIMEOUT_S, GPR_TIMESPAN));
	grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
	grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
	bool timed_out = false;

	while (st != GRPC_CHANNEL_READY && st != GRPC_CHANNEL_SHUTDOWN && !timed_out) {
		grpc_channel_watch_connectivity_state(ch, st, deadline, cq, NULL);
		grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		timed_out = ev.type != GRPC_OP_COMPLETE || !ev.success; /* the deadline came first */
		st = grpc_channel_check_connectivity_state(ch, 1);
	}
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return st == GRPC_CHANNEL_READY;
}

static const char *code_name(int code)
{
	static const char *const names[] = {
		"OK",
		"CANCELLED",
		"UNKNOWN",
		"INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED",
		"NOT_FOUND",
		"ALREADY_EXISTS",
		"PERMISSION_DENIED",
		"RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION",
		"ABORTED",
		"OUT_OF_RANGE",
		"UNIMPLEMENTED",
		"INTERNAL",
		"UNAVAILABLE",
		"DATA_LOSS",
		"UNAUTHENTICATED",
	};
	return code >= 0 && (size_t)code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

/* The mounts a Prepare or Mounts response holds. */
static size_t n_mounts(const ProtobufCMessage *m)
{
	if (m->descriptor == &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor)
		return ((const PrepareResponse *)m)->n_mounts;
	if (m->descriptor == &containerd__services__snapshots__v1__mounts_response__descriptor)
		return ((const MountsResponse *)m)->n_mounts;
	return 0;
}

/* Call @method with @req: true when the status is OK and the one message that came back is
 * a @type (with a mount or more, when @want_mounts). A bad call is shown (the first few). */
static bool call(int client, grpc_channel *ch, const char *method, const char *key,
		 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *type, bool want_mounts)
{
	char path[128];
	struct rpc_reply reply;
	bool good = false;

	snprintf(path, sizeof(path), SVC "%s", method);
	int r = rpc_client_call(ch, path, req, &reply);
	if (reply.code != GRPC_STATUS_OK) {
		show_error(client, "%s %s: status %d %s: %s", method, key, reply.code, code_name(reply.code),
			   reply.message ? reply.message : "");
	} else if (r < 0) {
		show_error(client, "%s %s: the call failed", method, key);
	} else if (reply.n != 1) {
		show_error(client, "%s %s: %zu messages back, not 1", method, key, reply.n);
	} else {
		ProtobufCMessage *m = rpc_reply_unpack(&reply, 0, type);
		if (!m)
			show_error(client, "%s %s: the reply is not a %s", method, key, type->name);
		else if (want_mounts && n_mounts(m) == 0)
			show_error(client, "%s %s: no mounts in the reply", method, key);
		else
			good = true;
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
	rpc_reply_free(&reply);
	return good;
}

static bool prepare(int client, grpc_channel *ch, const char *key, const char *parent)
{
	PrepareRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
	req.key = (char *)key;
	req.parent = (char *)parent;
	return call(client, ch, "Prepare", key, &req.base,
		    &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, true);
}

static bool mounts(int client, grpc_channel *ch, const char *key)
{
	MountsRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
	req.key = (char *)key;
	return call(client, ch, "Mounts", key, &req.base,
		    &containerd__services__snapshots__v1__mounts_response__descriptor, true);
}

static bool remove_key(int client, grpc_channel *ch, const char *key)
{
	RemoveRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
	req.key = (char *)key;
	return call(client, ch, "Remove", key, &req.base, &google__protobuf__empty__descriptor, false);
}

static bool commit(int client, grpc_channel *ch, const char *name, const char *key)
{
	CommitRequest req = CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
	req.name = (char *)name;
	req.key = (char *)key;
	return call(client, ch, "Commit", key, &req.base, &google__protobuf__empty__descriptor, false);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct config *cfg = c->cfg;
	char key[KEY_MAX];

	c->ch = rpc_client_open_own(cfg->socket);
	if (!wait_ready(c->ch)) {
		show_error((int)c->index, "not connected to %s in %d s", cfg->socket, CONNECT_TIMEOUT_S);
		c->fatal = true;
	}
	pthread_barrier_wait(&start_line); /* everyone connected (or failed): go */
	if (c->fatal)
		return NULL;
	for (unsigned long i = 0; i < cfg->iterations; i++) {
		snprintf(key, sizeof(key), "load-%u-%lu", c->index, i);
		uint64_t t0 = now_ns();
		if (!prepare((int)c->index, c->ch, key, cfg->parent)) {
			c->errors++;
			continue;
		}
		bool good = mounts((int)c->index, c->ch, key);
		uint64_t t1 = now_ns();
		if (good)
			c->pm_ns[c->pm_n++] = t1 - t0;
		else
			c->errors++;
		t0 = now_ns();
		good = remove_key((int)c->index, c->ch, key);
		t1 = now_ns();
		if (good)
			c->rm_ns[c->rm_n++] = t1 - t0;
		else
			c->errors++;
	}
	c->end_ns = now_ns();
	return NULL;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile @p (0-100) of @n sorted values. */
static uint64_t percentile(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* --setup-chain: N committed snapshots, each on the one before; prints the top one's name. */
static int setup_chain(const struct config *cfg)
{
	char parent[KEY_MAX], key[KEY_MAX], name[KEY_MAX];
	grpc_channel *ch = rpc_client_open_own(cfg->socket);
	int rc = 0;

	snprintf(parent, sizeof(parent), "%s", cfg->parent);
	if (!wait_ready(ch)) {
		fprintf(stderr, PROG ": not connected to %s in %d s\n", cfg->socket, CONNECT_TIMEOUT_S);
		rc = 2;
	}
	for (unsigned long j = 1; j <= cfg->setup_chain && !rc; j++) {
		snprintf(name, sizeof(name), "load-chain-%d-%lu", (int)getpid(), j);
		snprintf(key, sizeof(key), "load-chain-%d-%lu-active", (int)getpid(), j);
		if (!prepare(-1, ch, key, parent) || !commit(-1, ch, name, key))
			rc = 1;
		snprintf(parent, sizeof(parent), "%s", name);
	}
	grpc_channel_destroy(ch);
	if (!rc)
		printf("%s\n", parent);
	return rc;
}

static const char usage[] =
	"Usage: " PROG " --socket PATH [--clients N] [--iterations K] [--parent KEY]\n"
	"       " PROG " --socket PATH --setup-chain N [--parent KEY]\n"
	"\n"
	"Load a containerd snapshotter's gRPC socket: N client threads, each with a connection of\n"
	"its own, each making K cycles of Prepare(load-<client>-<i>, parent KEY), Mounts, Remove.\n"
	"Prints one line:\n"
	"  clients= iterations= cycles= errors= secs= ops_per_s= calls_per_s=\n"
	"  pm_p50_ms= pm_p99_ms= pm_max_ms= rm_p50_ms= rm_p99_ms= rm_max_ms=\n"
	"(pm: Prepare+Mounts timed together; rm: Remove; an op is one cycle of the three calls).\n"
	"\n"
	"      --socket PATH      the snapshotter's socket\n"
	"      --clients N        concurrent clients (default 1, at most 256)\n"
	"      --iterations K     cycles per client (default 100)\n"
	"      --parent KEY       the parent of the prepared snapshots (default none: a base)\n"
	"      --setup-chain N    commit N snapshots, each on the one before (the first on --parent),\n"
	"                         print the top one's name, and exit\n"
	"  -h, --help             show this help\n";

static int parse_ulong(const char *opt, const char *s, unsigned long min, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min) {
		fprintf(stderr, PROG ": %s `%s`: need a number of at least %lu\n", opt, s, min);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "parent", required_argument, NULL, 'p' },
		{ "setup-chain", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg->socket = optarg;
			break;
		case 'c':
			if (parse_ulong("--clients", optarg, 1, &v) < 0)
				return -EINVAL;
			if (v > MAX_CLIENTS) {
				fprintf(stderr, PROG ": --clients: at most %d\n", MAX_CLIENTS);
				return -EINVAL;
			}
			cfg->clients = (unsigned)v;
			break;
		case 'n':
			if (parse_ulong("--iterations", optarg, 1, &cfg->iterations) < 0)
				return -EINVAL;
			break;
		case 'p':
			cfg->parent = optarg;
			break;
		case 'C':
			if (parse_ulong("--setup-chain", optarg, 1, &cfg->setup_chain) < 0)
				return -EINVAL;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fprintf(stderr, PROG ": unknown option or missing value `%s` (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument `%s` (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	if (!cfg->socket) {
		fprintf(stderr, PROG ": need --socket (see --help)\n");
		return -EINVAL;
	}
	if (strlen(cfg->parent) > KEY_MAX - 32) {
		fprintf(stderr, PROG ": --parent: at most %d bytes\n", KEY_MAX - 32);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg = { .clients = 1, .iterations = 100, .parent = "" };
	struct client *clients;
	uint64_t *pm_all, *rm_all, t_end = 0;
	size_t pm_n = 0, rm_n = 0;
	unsigned long errors = 0;
	bool fatal = false;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	grpc_init();
	if (cfg.setup_chain) {
		int rc = setup_chain(&cfg);
		grpc_shutdown();
		return rc;
	}
	size_t per = cfg.iterations, total = cfg.clients * per;
	clients = calloc(cfg.clients, sizeof(*clients));
	pm_all = calloc(total, sizeof(*pm_all));
	rm_all = calloc(total, sizeof(*rm_all));
	if (!clients || !pm_all || !rm_all) {
		fprintf(stderr, PROG ": out of memory\n");
		return 2;
	}
	/* the main thread waits at the start line too, and starts the clock there */
	if (pthread_barrier_init(&start_line, NULL, cfg.clients + 1) != 0) {
		fprintf(stderr, PROG ": pthread_barrier_init failed\n");
		return 2;
	}
	for (unsigned i = 0; i < cfg.clients; i++) {
		struct client *c = &clients[i];
		*c = (struct client){
			.cfg = &cfg, .index = i, .pm_ns = pm_all + i * per, .rm_ns = rm_all + i * per
		};
		if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
			fprintf(stderr, PROG ": pthread_create failed\n");
			return 2;
		}
	}
	pthread_barrier_wait(&start_line);
	start_ns = now_ns();
	for (unsigned i = 0; i < cfg.clients; i++) {
		struct client *c = &clients[i];
		pthread_join(c->thread, NULL);
		fatal |= c->fatal;
		errors += c->errors;
		if (c->end_ns > t_end)
			t_end = c->end_ns;
		/* gather the samples at the front of the arrays (a client's own come after) */
		memmove(pm_all + pm_n, c->pm_ns, c->pm_n * sizeof(*pm_all));
		memmove(rm_all + rm_n, c->rm_ns, c->rm_n * sizeof(*rm_all));
		pm_n += c->pm_n;
		rm_n += c->rm_n;
		grpc_channel_destroy(c->ch);
	}
	if (fatal) {
		fprintf(stderr, PROG ": some clients did not connect to %s\n", cfg.socket);
		return 2;
	}
	qsort(pm_all, pm_n, sizeof(*pm_all), compare_u64);
	qsort(rm_all, rm_n, sizeof(*rm_all), compare_u64);
	double secs = t_end > start_ns ? (double)(t_end - start_ns) / 1e9 : 0;
	printf("clients=%u iterations=%lu cycles=%zu errors=%lu secs=%.3f ops_per_s=%.1f calls_per_s=%.1f "
	       "pm_p50_ms=%.3f pm_p99_ms=%.3f pm_max_ms=%.3f rm_p50_ms=%.3f rm_p99_ms=%.3f rm_max_ms=%.3f\n",
	       cfg.clients, cfg.iterations, total, errors, secs, secs > 0 ? (double)total / secs : 0,
	       secs > 0 ? 3.0 * (double)total / secs : 0, ms(percentile(pm_all, pm_n, 50)),
	       ms(percentile(pm_all, pm_n, 99)), ms(pm_n ? pm_all[pm_n - 1] : 0),
	       ms(percentile(rm_all, rm_n, 50)), ms(percentile(rm_all, rm_n, 99)),
	       ms(rm_n ? rm_all[rm_n - 1] : 0));
	free(clients);
	free(pm_all);
	free(rm_all);
	grpc_shutdown();
	return errors ? 1 : 0;
}
