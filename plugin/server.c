/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plugin's HTTP server: libmicrohttpd on an AF_UNIX socket (ours, made 0600,
 * or one systemd passed in LISTEN_FDS), a thread per connection so that a slow
 * mount never holds up a List, bodies capped at 1 MiB, and a clean SIGTERM. */
#include "plugin.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/fs.h"
#include "../common/log.h"

#define SD_LISTEN_FDS_START 3

struct server {
	const struct cvol_plugin_config *cfg;
	struct cvol_volume_store *store;
	atomic_int in_flight; /* requests begun and not yet answered */
};

/* A request's body as it arrives, kept per connection by libmicrohttpd. */
struct upload {
	char *data;
	size_t len;
	bool too_big;
};

static enum MHD_Result send_reply(struct MHD_Connection *conn, unsigned status, char *body)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/vnd.docker.plugins.v1.2+json");
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int upload_append(struct upload *up, const char *data, size_t size)
{
	if (up->too_big || up->len + size > CVOL_PLUGIN_MAX_BODY) {
		up->too_big = true;
		return 0;
	}
	char *grown = realloc(up->data, up->len + size + 1);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + up->len, data, size);
	up->data = grown;
	up->len += size;
	up->data[up->len] = '\0';
	return 0;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size,
			      void **con_cls)
{
	struct server *srv = cls;
	struct upload *up = *con_cls;
	(void)version;

	if (!up) { /* the headers are in: start collecting the body */
		up = calloc(1, sizeof(*up));
		if (!up)
			return MHD_NO;
		*con_cls = up;
		atomic_fetch_add(&srv->in_flight, 1);
		return MHD_YES;
	}
	if (*upload_size) {
		if (upload_append(up, upload_data, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return send_reply(conn, 405, strdup("{\"Err\":\"use POST\"}"));
	if (up->too_big)
		return send_reply(conn, 413, strdup("{\"Err\":\"request body over 1 MiB\"}"));

	struct timespec start;
	char *body = NULL;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned status =
		cvol_plugin_handle(srv->store, srv->cfg, url, up->data ? up->data : "", up->len, &body);
	if (srv->cfg->debug)
		log_info("%s %u %.2fms %s", url, status, elapsed_ms(&start), body ? body : "");
	return send_reply(conn, status, body);
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct upload *up = *con_cls;
	(void)conn;
	(void)toe;
	if (!up)
		return;
	free(up->data);
	free(up);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* The socket systemd passed (LISTEN_PID/LISTEN_FDS: exactly one, a socket), or -1. */
static int socket_from_systemd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct stat st;

	if (!pid || !fds || strtol(pid, NULL, 10) != getpid() || strtol(fds, NULL, 10) != 1)
		return -1;
	unsetenv("LISTEN_PID"); /* not for the children we start */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fstat(SD_LISTEN_FDS_START, &st) < 0 || !S_ISSOCK(st.st_mode))
		return -1;
	fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return SD_LISTEN_FDS_START;
}

/* Replace a stale socket file (nobody answers on it); refuse one a live plugin holds. */
static int clear_stale_socket(const struct sockaddr_un *addr, struct cvol_error *err)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return cvol_error_setx(err, EEXIST, "`%s` exists and is not a socket", addr->sun_path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return cvol_error_setx(err, EADDRINUSE, "another plugin already answers on `%s`",
				       addr->sun_path);
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return cvol_error_set(err, errno, "remove stale socket `%s`", addr->sun_path);
	return 0;
}

static int socket_listen(const char *path, struct cvol_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path))
		return cvol_error_setx(err, ENAMETOOLONG, "socket path `%s` is too long", path);
	strcpy(addr.sun_path, path);
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	if (slash && slash != parent) {
		*slash = '\0';
		int r = dir_create_parents(parent, 0755, err);
		if (r < 0)
			return r;
	}
	int r = clear_stale_socket(&addr, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cvol_error_set(err, errno, "create a socket");
	mode_t old = umask(0177); /* the socket is born 0600 */
	r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0)
		return cvol_error_set(err, errno, "bind `%s`", path);
	if (listen(fd, 128) < 0) {
		r = cvol_error_set(err, errno, "listen on `%s`", path);
		unlink(path);
		return r;
	}
	return TAKE_FD(fd);
}

/* Block the stop signals in every thread; the main thread waits for them with sigwait. */
static void block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Stop taking connections, let the requests in flight finish (up to 30 s), then stop. */
static void drain_and_stop(struct MHD_Daemon *d, struct server *srv)
{
	MHD_quiesce_daemon(d);
	for (int i = 0; i < 3000 && atomic_load(&srv->in_flight) > 0; i++)
		usleep(10000);
	MHD_stop_daemon(d);
}

int cvol_plugin_serve(const struct cvol_plugin_config *cfg, struct cvol_error *err)
{
	struct server srv = { .cfg = cfg };
	sigset_t stop;
	int sig;

	block_stop_signals(&stop);
	int r = cvol_volume_store_open(cfg->root, &srv.store, err);
	if (r < 0)
		return r;
	size_t failed = 0;
	r = cvol_volume_store_reconcile(srv.store, &failed, err);
	if (r < 0) {
		cvol_volume_store_close(srv.store);
		return r;
	}
	if (failed > 0)
		log_warning("%zu volume%s could not be reconciled; the last: %s", failed,
			    failed == 1 ? "" : "s", err->msg);
	cvol_error_clear(err);
	int fd = socket_from_systemd();
	bool own_socket = fd < 0;
	if (own_socket && (fd = socket_listen(cfg->socket, err)) < 0) {
		cvol_volume_store_close(srv.store);
		return fd;
	}
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC,
		0, NULL, NULL, answer, &srv, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
		request_done, &srv, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
		MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!d) {
		r = cvol_error_setx(err, EIO, "start the HTTP server on `%s`", cfg->socket);
		close(fd);
	} else {
		log_info("serving %s, volumes in %s/volumes", own_socket ? cfg->socket : "the systemd socket",
			 cfg->root);
		while (sigwait(&stop, &sig) != 0)
			;
		log_info("%s: finishing requests in flight", strsignal(sig));
		drain_and_stop(d, &srv);
		close(fd);
	}
	if (own_socket)
		unlink(cfg->socket);
	cvol_volume_store_close(srv.store);
	return r;
}
