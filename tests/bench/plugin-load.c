/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plugin-load: a load client for the volume plugin's socket. Raw HTTP/1.1 over
 * AF_UNIX, one keep-alive connection per client thread, every reply checked.
 *
 *   plugin-load --socket PATH --clients 16 --requests 1000 --endpoint Get --body '{"Name":"v1"}'
 *   plugin-load --socket PATH --clients 16 --requests 500 --mount-pairs v1
 *
 * The body may hold %c (the client's number), %i (the request's number within its
 * client) and %%, so `--endpoint Create --body '{"Name":"bulk-%c-%i"}'` makes names
 * that never repeat. --mount-pairs NAME alternates Mount and Unmount of NAME, each
 * client with its own mount ID `plugin-load-<pid>-<client>` (NAME may hold %c too, for
 * a volume per client); --requests counts requests, so a client makes requests/2 pairs.
 * --warmup requests go first, untimed and unchecked.
 *
 * --idle N opens N more connections before the clients connect and holds them, silent,
 * until the end: the figures are then those of a well-behaved client while a slow or
 * hostile one holds connections. The plugin may close some to make room: the run starts
 * when none has been closed for 500 ms, and idle_open= on the result line says how many
 * it kept.
 *
 * A reply is good when it is HTTP 200 and holds "Err":"" (or the --expect text) and,
 * with --expect-count N, exactly N "Name": keys (a List of N volumes). The result is one
 * line of key=value pairs on stdout; the first few bad replies are shown on stderr. The
 * exit status is 0 when every reply was good, 1 when some were not, 2 on a usage or
 * set-up error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROG		 "plugin-load"
#define MAX_CLIENTS	 1024
#define MAX_HEAD	 8192
#define MAX_REPLY	 (64 * 1024 * 1024)
#define HEAD_ROOM	 512 /* bytes kept in front of a request's body for its head */
#define MAX_SHOWN_ERRORS 5
#define DEFAULT_EXPECT	 "\"Err\":\"\""
#define NAME_KEY	 "\"Name\":"

struct config {
	const char *socket;
	unsigned clients;
	unsigned long requests; /* per client, timed */
	unsigned long warmup;	/* per client, before the timed ones, not counted */
	const char *endpoint;
	const char *body;
	const char *mount_name; /* --mount-pairs */
	const char *expect;
	long expect_count;  /* -1: not checked */
	unsigned long idle; /* silent connections held during the run */
};

struct client {
	const struct config *cfg;
	unsigned index;
	pthread_t thread;
	int fd;
	char *req; /* the request: HEAD_ROOM bytes, then its body */
	size_t req_cap;
	char *buf; /* the reply as read */
	size_t buf_cap;
	size_t buf_len;
	uint64_t *lat_ns; /* one per timed request */
	unsigned long done;
	unsigned long errors;
	uint64_t end_ns;
	int connect_err; /* a negative errno from the first connect, read after the start line */
	int fatal;	 /* a negative errno that stopped this client */
};

static pthread_barrier_t start_line;
static atomic_uint shown_errors;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void show_error(const struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void show_error(const struct client *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (atomic_fetch_add(&shown_errors, 1) >= MAX_SHOWN_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": client %u: %s\n", c->index, msg);
}

static int connect_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void disconnect(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Make *@buf hold at least @need bytes. */
static int grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;
	char *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* Write @tmpl with %c, %i and %% filled in to c->req from offset *@len on. */
static int expand_body(struct client *c, const char *tmpl, unsigned long i, size_t *len)
{
	char num[32];

	for (const char *p = tmpl; *p; p++) {
		const char *add = p;
		size_t n = 1;

		if (*p == '%' && (p[1] == 'c' || p[1] == 'i')) {
			n = (size_t)snprintf(num, sizeof(num), "%lu",
					     p[1] == 'c' ? (unsigned long)c->index : i);
			add = num;
			p++;
		} else if (*p == '%' && p[1] == '%') {
			p++;
		}
		if (grow(&c->req, &c->req_cap, *len + n) < 0)
			return -ENOMEM;
		memcpy(c->req + *len, add, n);
		*len += n;
	}
	return 0;
}

/* Build request @i of client @c in c->req: it starts at *@ret_start and is *@ret_len long. */
static int build_request(struct client *c, unsigned long i, size_t *ret_start, size_t *ret_len)
{
	const struct config *cfg = c->cfg;
	const char *endpoint = cfg->endpoint, *tmpl = cfg->body;
	char mount_tmpl[600], head[HEAD_ROOM];
	size_t len = HEAD_ROOM, body_len;
	int n;

	if (cfg->mount_name) {
		endpoint = i % 2 ? "Unmount" : "Mount";
		n = snprintf(mount_tmpl, sizeof(mount_tmpl),
			     "{\"Name\":\"%s\",\"ID\":\"plugin-load-%ld-%%c\"}", cfg->mount_name,
			     (long)getpid());
		if (n < 0 || (size_t)n >= sizeof(mount_tmpl))
			return -ENAMETOOLONG;
		tmpl = mount_tmpl;
	}
	if (grow(&c->req, &c->req_cap, HEAD_ROOM) < 0 || expand_body(c, tmpl, i, &len) < 0)
		return -ENOMEM;
	body_len = len - HEAD_ROOM;
	n = snprintf(head, sizeof(head),
		     "POST /%s%s HTTP/1.1\r\n"
		     "Host: plugin\r\n"
		     "Accept: application/vnd.docker.plugins.v1.2+json\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n",
		     strchr(endpoint, '.') ? "" : "VolumeDriver.", endpoint, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	memcpy(c->req + HEAD_ROOM - (size_t)n, head, (size_t)n);
	*ret_start = HEAD_ROOM - (size_t)n;
	*ret_len = (size_t)n + body_len;
	return 0;
}

static int send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read more of the reply into c->buf (kept NUL-terminated); -ECONNRESET at end of stream. */
static int read_more(struct client *c)
{
	ssize_t n;

	if (c->buf_len > MAX_REPLY)
		return -EFBIG;
	if (grow(&c->buf, &c->buf_cap, c->buf_len + 65536 + 1) < 0)
		return -ENOMEM;
	do
		n = recv(c->fd, c->buf + c->buf_len, c->buf_cap - c->buf_len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	c->buf_len += (size_t)n;
	c->buf[c->buf_len] = '\0';
	return 0;
}

/* The value of header @name in the head @head (NUL-terminated), or NULL. */
static const char *header_value(const char *head, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			line += nlen + 1;
			while (*line == ' ' || *line == '\t')
				line++;
			return line;
		}
	}
	return NULL;
}

/* Is the chunked body in [@p, @p + @avail) complete? Its decoded length in *@ret_len. */
static int chunked_complete(const char *p, size_t avail, size_t *ret_len)
{
	size_t in = 0, out = 0;

	for (;;) {
		const char *eol = memmem(p + in, avail - in, "\r\n", 2);
		char *endp;
		unsigned long size;

		if (!eol)
			return -EAGAIN;
		size = strtoul(p + in, &endp, 16);
		if (endp == p + in)
			return -EPROTO;
		in = (size_t)(eol - p) + 2;
		if (size == 0) { /* no trailers from a plugin: the last CRLF follows */
			if (avail - in < 2)
				return -EAGAIN;
			*ret_len = out;
			return 0;
		}
		if (avail - in < size + 2)
			return -EAGAIN;
		out += size;
		in += size + 2;
	}
}

/* Decode a complete chunked body in place. */
static void dechunk(char *p)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *endp;
		unsigned long size = strtoul(p + in, &endp, 16);

		in = (size_t)(strstr(endp, "\r\n") - p) + 2;
		if (size == 0)
			break;
		memmove(p + out, p + in, size);
		out += size;
		in += size + 2;
	}
	p[out] = '\0';
}

/* Read one whole reply: its status, and its body NUL-terminated at *@ret_body. */
static int read_reply(struct client *c, unsigned *ret_status, char **ret_body, bool *ret_close)
{
	char *end;
	const char *v;
	size_t head_len, body_len;
	int r;

	c->buf_len = 0;
	if (c->buf)
		c->buf[0] = '\0';
	while (!c->buf || !(end = strstr(c->buf, "\r\n\r\n"))) {
		if (c->buf_len > MAX_HEAD)
			return -EPROTO;
		r = read_more(c);
		if (r < 0)
			return r;
	}
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3u", ret_status) != 1)
		return -EPROTO;
	head_len = (size_t)(end - c->buf) + 4;
	end[2] = '\0'; /* the head ends with its last header's CRLF */
	*ret_close = (v = header_value(c->buf, "Connection")) && strncasecmp(v, "close", 5) == 0;
	if ((v = header_value(c->buf, "Content-Length"))) {
		body_len = strtoul(v, NULL, 10);
		if (body_len > MAX_REPLY)
			return -EFBIG;
		while (c->buf_len < head_len + body_len)
			if ((r = read_more(c)) < 0)
				return r;
		if (c->buf_len != head_len + body_len)
			return -EPROTO; /* nothing may follow: we never pipeline */
		c->buf[head_len + body_len] = '\0';
	} else if ((v = header_value(c->buf, "Transfer-Encoding")) && strncasecmp(v, "chunked", 7) == 0) {
		while ((r = chunked_complete(c->buf + head_len, c->buf_len - head_len, &body_len)) == -EAGAIN)
			if ((r = read_more(c)) < 0)
				return r;
		if (r < 0)
			return r;
		dechunk(c->buf + head_len);
	} else {
		return -EPROTO; /* keep-alive needs a length */
	}
	*ret_body = c->buf + head_len;
	return 0;
}

static long count_names(const char *body)
{
	long n = 0;
	for (const char *p = body; (p = strstr(p, NAME_KEY)); p += strlen(NAME_KEY))
		n++;
	return n;
}

/* Why a reply is bad, or NULL when it is good. */
static const char *judge(const struct config *cfg, unsigned status, const char *body, long *ret_names)
{
	if (status != 200)
		return "status is not 200";
	if (!strstr(body, cfg->expect))
		return "expected text missing";
	if (cfg->expect_count >= 0 && (*ret_names = count_names(body)) != cfg->expect_count)
		return "wrong number of \"Name\" keys";
	return NULL;
}

/* Send request @i and read its reply; sets *@ret_good (always true unless @check).
 * <0 when the exchange failed. */
static int one_request(struct client *c, unsigned long i, bool check, bool *ret_good)
{
	const struct config *cfg = c->cfg;
	size_t start, len;
	unsigned status = 0;
	char *body = NULL;
	bool close_after = false;
	long names = 0;
	const char *why;
	int r;

	*ret_good = false;
	r = build_request(c, i, &start, &len);
	if (r < 0)
		return r;
	if (c->fd < 0) {
		r = connect_socket(cfg->socket);
		if (r < 0)
			return r;
		c->fd = r;
	}
	r = send_all(c->fd, c->req + start, len);
	if (r == 0)
		r = read_reply(c, &status, &body, &close_after);
	if (r < 0) {
		disconnect(c);
		return r;
	}
	if (close_after)
		disconnect(c);
	*ret_good = !check;
	if (!check)
		return 0;
	why = judge(cfg, status, body, &names);
	if (why) {
		size_t blen = strlen(body);
		if (cfg->expect_count >= 0 && names != cfg->expect_count && status == 200)
			show_error(c, "request %lu: %s (%ld, not %ld) in a %zu-byte reply", i, why, names,
				   cfg->expect_count, blen);
		else
			show_error(c, "request %lu: HTTP %u, %s: %.300s%s", i, status, why, body,
				   blen > 300 ? "..." : "");
		return 0;
	}
	*ret_good = true;
	return 0;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct config *cfg = c->cfg;
	bool good;
	int r;

	r = connect_socket(cfg->socket);
	if (r < 0)
		c->fatal = c->connect_err = r;
	else
		c->fd = r;
	pthread_barrier_wait(&start_line); /* everyone connected (or failed) */
	for (unsigned long i = 0; i < cfg->warmup && !c->fatal; i++) {
		r = one_request(c, i, false, &good); /* replies unchecked: only a failed exchange stops us */
		if (r < 0) {
			c->fatal = r;
			show_error(c, "warm-up request %lu: %s", i, strerror(-r));
		}
	}
	if (cfg->warmup)
		pthread_barrier_wait(&start_line); /* the timed part starts together */
	if (c->fatal < 0)
		return NULL;
	for (unsigned long i = cfg->warmup; i < cfg->warmup + cfg->requests; i++) {
		uint64_t t0 = now_ns();
		r = one_request(c, i, true, &good);
		c->lat_ns[c->done++] = now_ns() - t0;
		if (r < 0) {
			/* a failed exchange is an error; the next request connects again */
			show_error(c, "request %lu: %s", i, strerror(-r));
			c->errors++;
			if (r == -ECONNREFUSED || r == -ENOENT) {
				c->fatal = r;
				break;
			}
		} else if (!good) {
			c->errors++;
		}
	}
	c->end_ns = now_ns();
	disconnect(c);
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

/* Wait until the plugin has taken (or closed) the @n idle connections: until none of them is
 * closed for 500 ms. Those it closed are closed here too; the number still open is returned. */
static unsigned long settle(int *fds, unsigned long n)
{
	struct pollfd *pfd = calloc(n + 1, sizeof(*pfd));
	unsigned long open_n = n;

	if (!pfd)
		return n;
	for (;;) {
		for (unsigned long i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN }; /* -1 is skipped */
		if (poll(pfd, n, 500) <= 0)
			break;
		for (unsigned long i = 0; i < n; i++)
			if (fds[i] >= 0 && pfd[i].revents) { /* a silent client is only ever sent an end */
				close(fds[i]);
				fds[i] = -1;
				open_n--;
			}
	}
	free(pfd);
	return open_n;
}

static const char usage[] =
	"Usage: " PROG " --socket PATH [--clients N] [--requests M] [--warmup W]\n"
	"                   (--endpoint NAME [--body JSON] | --mount-pairs VOLUME)\n"
	"                   [--expect TEXT] [--expect-count N] [--idle N]\n"
	"\n"
	"Send requests to a Docker volume plugin over its Unix socket, one keep-alive\n"
	"connection per client thread, and print one line:\n"
	"  endpoint= clients= requests= errors= secs= rps= p50_us= p99_us= max_us=\n"
	"\n"
	"      --socket PATH        the plugin's socket\n"
	"      --clients N          concurrent clients (default 1)\n"
	"      --requests M         timed requests per client (default 1000)\n"
	"      --warmup W           untimed, unchecked requests per client first (default 0)\n"
	"      --endpoint NAME      Get, List, Path, Create ... (VolumeDriver. is added) or Plugin.Activate\n"
	"      --body JSON          the request body (default {}); %c is the client, %i the request number\n"
	"      --mount-pairs VOL    Mount then Unmount VOL, repeatedly, each client with its own ID\n"
	"      --expect TEXT        a good reply holds TEXT (default " DEFAULT_EXPECT ")\n"
	"      --expect-count N     a good reply holds exactly N \"Name\": keys\n"
	"      --idle N             hold N more connections open and silent during the run\n"
	"  -h, --help               show this help\n";

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
		{ "requests", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "body", required_argument, NULL, 'b' },
		{ "mount-pairs", required_argument, NULL, 'm' },
		{ "expect", required_argument, NULL, 'x' },
		{ "expect-count", required_argument, NULL, 'N' },
		{ "idle", required_argument, NULL, 'I' },
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
			if (parse_ulong("--requests", optarg, 1, &cfg->requests) < 0)
				return -EINVAL;
			break;
		case 'w':
			if (parse_ulong("--warmup", optarg, 0, &cfg->warmup) < 0)
				return -EINVAL;
			break;
		case 'e':
			cfg->endpoint = optarg;
			break;
		case 'b':
			cfg->body = optarg;
			break;
		case 'm':
			cfg->mount_name = optarg;
			break;
		case 'x':
			cfg->expect = optarg;
			break;
		case 'N':
			if (parse_ulong("--expect-count", optarg, 0, &v) < 0)
				return -EINVAL;
			cfg->expect_count = (long)v;
			break;
		case 'I':
			if (parse_ulong("--idle", optarg, 0, &cfg->idle) < 0)
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
	if (!cfg->socket || !!cfg->endpoint == !!cfg->mount_name) {
		fprintf(stderr,
			PROG ": need --socket and one of --endpoint and --mount-pairs (see --help)\n");
		return -EINVAL;
	}
	if (cfg->mount_name && (cfg->requests % 2 || cfg->warmup % 2)) {
		fprintf(stderr, PROG ": --mount-pairs needs even --requests and --warmup (whole pairs)\n");
		return -EINVAL;
	}
	if (strpbrk(cfg->endpoint ? cfg->endpoint : "", " /\r\n")) {
		fprintf(stderr, PROG ": --endpoint `%s`: a name such as Get, not a path\n", cfg->endpoint);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.clients = 1, .requests = 1000, .body = "{}", .expect = DEFAULT_EXPECT, .expect_count = -1
	};
	struct client *clients;
	uint64_t *all, t0, t_end = 0;
	unsigned long errors = 0;
	size_t n = 0;
	int fatal = 0;

	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	/* the idle connections first: a plugin that closes the oldest to make room closes them */
	int *idle = calloc(cfg.idle + 1, sizeof(*idle));
	struct rlimit rl;
	if (!idle) {
		fprintf(stderr, PROG ": out of memory\n");
		return 2;
	}
	if (cfg.idle && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cfg.idle + cfg.clients + 64) {
		rl.rlim_cur =
			rl.rlim_max < cfg.idle + cfg.clients + 64 ? rl.rlim_max : cfg.idle + cfg.clients + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (unsigned long i = 0; i < cfg.idle; i++) {
		int r = connect_socket(cfg.socket);
		if (r < 0) {
			fprintf(stderr, PROG ": idle connection %lu of %lu: %s\n", i + 1, cfg.idle,
				strerror(-r));
			return 2;
		}
		idle[i] = r;
	}
	unsigned long idle_open = settle(idle, cfg.idle);
	clients = calloc(cfg.clients, sizeof(*clients));
	all = calloc(cfg.clients * cfg.requests, sizeof(*all));
	if (!clients || !all) {
		fprintf(stderr, PROG ": out of memory\n");
		return 2;
	}
	/* the main thread waits at the start line too: once after connecting, once after warm-up */
	if (pthread_barrier_init(&start_line, NULL, cfg.clients + 1) != 0) {
		fprintf(stderr, PROG ": pthread_barrier_init failed\n");
		return 2;
	}
	for (unsigned i = 0; i < cfg.clients; i++) {
		struct client *c = &clients[i];
		*c = (struct client){
			.cfg = &cfg, .index = i, .fd = -1, .lat_ns = all + (size_t)i * cfg.requests
		};
		int r = pthread_create(&c->thread, NULL, client_main, c);
		if (r != 0) {
			fprintf(stderr, PROG ": start client %u: %s\n", i, strerror(r));
			return 2; /* the barrier can never open: nothing to clean up but to exit */
		}
	}
	pthread_barrier_wait(&start_line);
	for (unsigned i = 0; i < cfg.clients; i++)
		if (clients[i].connect_err < 0) {
			fprintf(stderr, PROG ": connect to %s: %s\n", cfg.socket,
				strerror(-clients[i].connect_err));
			return 2; /* the others are blocked at the barrier; exit ends them */
		}
	if (cfg.warmup)
		pthread_barrier_wait(&start_line);
	t0 = now_ns();
	for (unsigned i = 0; i < cfg.clients; i++) {
		struct client *c = &clients[i];
		pthread_join(c->thread, NULL);
		if (c->fatal < 0 && !fatal)
			fatal = c->fatal;
		errors += c->errors;
		/* a client's latencies sit at the front of its own slice: gather them */
		memmove(all + n, c->lat_ns, c->done * sizeof(*all));
		n += c->done;
		if (c->end_ns > t_end)
			t_end = c->end_ns;
		free(c->req);
		free(c->buf);
	}
	if (fatal && !n) {
		fprintf(stderr, PROG ": no request was timed: %s\n", strerror(-fatal));
		return 2;
	}
	qsort(all, n, sizeof(*all), compare_u64);
	double secs = t_end > t0 ? (double)(t_end - t0) / 1e9 : 0;
	printf("endpoint=%s clients=%u requests=%zu errors=%lu secs=%.3f rps=%.0f p50_us=%.0f p99_us=%.0f "
	       "max_us=%.0f",
	       cfg.mount_name ? "Mount/Unmount" : cfg.endpoint, cfg.clients, n, errors, secs,
	       secs > 0 ? (double)n / secs : 0, (double)percentile(all, n, 50) / 1e3,
	       (double)percentile(all, n, 99) / 1e3, n ? (double)all[n - 1] / 1e3 : 0);
	if (cfg.idle) /* only then: the line stays as it was for the other runs */
		printf(" idle=%lu idle_open=%lu", cfg.idle, idle_open);
	putchar('\n');
	if (fatal)
		fprintf(stderr, PROG ": a client stopped early: %s\n", strerror(-fatal));
	for (unsigned long i = 0; i < cfg.idle; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	free(idle);
	free(all);
	free(clients);
	return errors || fatal || n < (size_t)cfg.clients * cfg.requests ? 1 : 0;
}
