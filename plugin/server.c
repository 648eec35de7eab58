/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plugin's HTTP server: libmicrohttpd on an AF_UNIX socket (ours, made 0600,
 * or one systemd passed in LISTEN_FDS), a thread per connection so that a slow
 * mount never holds up a List, bodies capped at 1 MiB, and a clean SIGTERM.
 *
 * The server accepts its connections itself, so that it can refuse a peer that is
 * neither root nor in --group before reading a byte (SO_PEERCRED, SO_PEERGROUPS), and
 * bound what clients hold: at most max_connections at once (when full, of the process
 * holding the most connections, the one that has waited longest for a request, or for its
 * reply to be read, is closed to make room), a connection silent for idle_timeout is
 * closed (libmicrohttpd's timeout), and
 * one that has not delivered a whole request request_timeout after it opened or after
 * its last reply is cut, however it trickles. A request being handled is never cut. */
#include "plugin.h"

#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/fs.h"
#include "../common/log.h"
#include "../common/socket.h"

#define STALE_MS      5000  /* a connection libmicrohttpd never started: forgotten after this */
#define REAP_EVERY_MS 250   /* how often deadlines are checked */
#define WARN_EVERY_MS 10000 /* one summary warning at most this often */
#define ROOM_WAIT_MS  50    /* a new connection waits this long for room, then is refused */
#define MAX_REFUSED   64    /* refused connections kept open until their client has read why */
#define REFUSED_MS    1000  /* for at most this long */

/* What a connection holds the plugin for. */
enum conn_phase {
	CONN_READING,  /* waiting for a request, or receiving one: may be cut */
	CONN_HANDLING, /* the handler runs: never cut */
	CONN_SENDING,  /* the reply is being sent: may be cut */
};

/* One client connection, from accept until libmicrohttpd closes it (guarded by server.lock).
 * We keep a descriptor of our own on its socket (own_fd), and cut the connection through it:
 * libmicrohttpd may close its fd before telling us (a connection it never started), and that
 * number may by then name another file; ours names this socket until we close it. */
struct conn {
	struct conn *prev, *next;
	int fd;     /* libmicrohttpd's, to match MHD_CONNECTION_NOTIFY_STARTED */
	int own_fd; /* ours, a dup of fd, closed when the connection leaves the list */
	pid_t pid;     /* the peer's, at connect */
	uid_t uid;     /* the peer's, at connect */
	bool attached; /* libmicrohttpd has started it */
	bool closing;  /* shut down by us, not yet closed */
	enum conn_phase phase;
	uint64_t since_ms; /* when the phase began */
};

struct server {
	const struct cvol_plugin_config *cfg;
	struct cvol_volume_store *store;
	atomic_int in_flight; /* requests begun and not yet answered */
	struct MHD_Daemon *daemon;
	int listen_fd;
	int stop_fd; /* an eventfd: the accept thread returns */
	struct refused {
		int fd;
		uint64_t until_ms;
	} refused[MAX_REFUSED]; /* the accept thread's own */
	unsigned n_refused;
	unsigned max_conns, idle_s, request_s;
	unsigned mhd_limit; /* libmicrohttpd's own connection limit, above ours */

	pthread_mutex_t lock;
	pthread_cond_t room; /* a connection was closed */
	struct conn *conns;
	unsigned n_conns;   /* in the list, closing ones included */
	unsigned n_closing; /* shut down, not yet closed */
	/* since the last warning */
	unsigned evicted, cut, refused_peer, refused_full;
	unsigned accept_failed; /* accept() out of descriptors or memory */
	int accept_errno;
	pid_t last_evicted; /* the peer whose connection was closed last to make room */
	struct ucred last_refused;
	uint64_t last_warn_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_unlink(struct server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	if (c->closing)
		srv->n_closing--;
	close(c->own_fd);
	free(c);
	pthread_cond_signal(&srv->room);
}

/* Shut a connection down; its thread sees the end of the stream and libmicrohttpd closes it
 * (one it has not started yet, it finds closed when it does). Called with the lock held. */
static void conn_cut(struct server *srv, struct conn *c)
{
	shutdown(c->own_fd, SHUT_RDWR);
	c->closing = true;
	srv->n_closing++;
}

/* The connection libmicrohttpd passes to a callback, or NULL. */
static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Enter @phase; false when the connection is being cut (then nothing more is done for it). */
static bool conn_set_phase(struct server *srv, struct MHD_Connection *mc, enum conn_phase phase)
{
	struct conn *c = conn_of(mc);
	bool ok = true;

	if (!c)
		return true;
	pthread_mutex_lock(&srv->lock);
	if (c->closing) {
		ok = false;
	} else {
		c->phase = phase;
		c->since_ms = now_ms();
	}
	pthread_mutex_unlock(&srv->lock);
	return ok;
}

/* MHD_OPTION_NOTIFY_CONNECTION: tie libmicrohttpd's connection to ours, and forget it at close. */
static void conn_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;

	pthread_mutex_lock(&srv->lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		for (struct conn *c = srv->conns; ci && c; c = c->next)
			if (!c->attached && c->fd == ci->connect_fd) {
				c->attached = true;
				*socket_context = c;
				break;
			}
	} else if (*socket_context) {
		conn_unlink(srv, *socket_context);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
}

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
	/* the request is whole: a client that was cut meanwhile gets nothing done */
	if (!conn_set_phase(srv, conn, CONN_HANDLING))
		return MHD_NO;
	enum MHD_Result ret;
	if (strcmp(method, "POST") != 0) {
		ret = send_reply(conn, 405, strdup("{\"Err\":\"use POST\"}"));
	} else if (up->too_big) {
		ret = send_reply(conn, 413, strdup("{\"Err\":\"request body over 1 MiB\"}"));
	} else {
		struct timespec start;
		char *body = NULL;
		clock_gettime(CLOCK_MONOTONIC, &start);
		unsigned status = cvol_plugin_handle(srv->store, srv->cfg, url, up->data ? up->data : "",
						     up->len, &body);
		if (srv->cfg->debug)
			log_info("%s %u %.2fms %s", url, status, elapsed_ms(&start), body ? body : "");
		ret = send_reply(conn, status, body);
	}
	conn_set_phase(srv, conn, CONN_SENDING);
	return ret;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct upload *up = *con_cls;
	(void)toe;
	conn_set_phase(srv, conn, CONN_READING); /* the next request's time starts now */
	if (!up)
		return;
	free(up->data);
	free(up);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* Cut every connection that has waited too long for a whole request, or for its reply to
 * be read; forget connections libmicrohttpd never started. */
static void reap(struct server *srv, uint64_t now)
{
	uint64_t limit = (uint64_t)srv->request_s * 1000;

	pthread_mutex_lock(&srv->lock);
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (!c->attached) {
			if (now - c->since_ms > STALE_MS) { /* whatever libmicrohttpd does with it */
				shutdown(c->own_fd, SHUT_RDWR);
				conn_unlink(srv, c);
			}
		} else if (!c->closing && c->phase != CONN_HANDLING && now - c->since_ms > limit) {
			conn_cut(srv, c);
			srv->cut++;
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

/* A connection held by a peer that may lose connections to make room for @newcomer: not
 * being closed already, and root's only when the newcomer is root too. */
static bool conn_counts_against(const struct conn *c, uid_t newcomer)
{
	return !c->closing && (c->uid != 0 || newcomer == 0);
}

/* One that may be closed for @newcomer: also not being handled (waiting for a request, whether
 * libmicrohttpd has started it or not, or for its reply to be read). */
static bool conn_evictable(const struct conn *c, uid_t newcomer)
{
	return conn_counts_against(c, newcomer) && c->phase != CONN_HANDLING;
}

struct peer {
	uid_t uid;
	pid_t pid;
};

static int compare_peers(const void *a, const void *b)
{
	const struct peer *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The peer (uid, then pid within it) holding the most connections, those being handled
 * included: so that users spreading connections over many processes, or one process hogging
 * them, lose their own, never dockerd's to a non-root peer, and never a peer's one connection
 * because the hog's are all busy. Called with the lock held. */
static void busiest_peer(const struct server *srv, uid_t newcomer, uid_t *ret_uid, pid_t *ret_pid)
{
	_cleanup_free_ struct peer *peers = malloc((srv->n_conns + 1) * sizeof(*peers));
	size_t n = 0, best_uid = 0, best_pid = 0;

	*ret_uid = (uid_t)-1;
	*ret_pid = 0;
	if (!peers)
		return;
	for (const struct conn *c = srv->conns; c; c = c->next)
		if (conn_counts_against(c, newcomer))
			peers[n++] = (struct peer){ c->uid, c->pid };
	qsort(peers, n, sizeof(*peers), compare_peers); /* grouped by uid, then pid */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && peers[j].uid == peers[i].uid; j++)
			;
		if (j - i > best_uid) {
			best_uid = j - i;
			*ret_uid = peers[i].uid;
		}
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && peers[j].uid == peers[i].uid && peers[j].pid == peers[i].pid; j++)
			;
		if (peers[i].uid == *ret_uid && j - i > best_pid) {
			best_pid = j - i;
			*ret_pid = peers[i].pid;
		}
	}
}

/* Make room for a connection of @newcomer: close the connection of the busiest peer that has
 * waited longest; false if none of that peer's can go (the newcomer then waits, and at worst
 * gets a 503).
 * Called with the lock held. */
static bool evict_oldest(struct server *srv, uid_t newcomer, uid_t *ret_busiest)
{
	struct conn *oldest = NULL;
	uid_t uid;
	pid_t pid;

	busiest_peer(srv, newcomer, &uid, &pid);
	*ret_busiest = uid;
	for (struct conn *c = srv->conns; c; c = c->next)
		if (conn_evictable(c, newcomer) && c->uid == uid && c->pid == pid &&
		    (!oldest || c->since_ms < oldest->since_ms))
			oldest = c;
	if (!oldest)
		return false;
	conn_cut(srv, oldest);
	srv->evicted++;
	srv->last_evicted = oldest->pid;
	return true;
}

/* One warning line, at most every WARN_EVERY_MS, for what was cut, closed and refused. */
static void warn_summary(struct server *srv, uint64_t now)
{
	char msg[512];
	size_t n = 0;

	pthread_mutex_lock(&srv->lock);
	if ((!srv->evicted && !srv->cut && !srv->refused_peer && !srv->refused_full && !srv->accept_failed) ||
	    (srv->last_warn_ms && now - srv->last_warn_ms < WARN_EVERY_MS)) {
		pthread_mutex_unlock(&srv->lock);
		return;
	}
	if (srv->evicted)
		n += (size_t)snprintf(
			msg + n, sizeof(msg) - n,
			"; %u idle connection(s) closed to make room (at most %u; the last of pid %d)",
			srv->evicted, srv->max_conns, (int)srv->last_evicted);
	if (srv->cut && n < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				      "; %u connection(s) cut: no whole request, or the reply not read, "
				      "within %u s",
				      srv->cut, srv->request_s);
	if (srv->refused_full && n < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n,
				      "; %u connection(s) refused: no room within %u ms", srv->refused_full,
				      ROOM_WAIT_MS);
	if (srv->accept_failed && n < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "; accept failed %u time(s): %s",
				      srv->accept_failed, strerror(srv->accept_errno));
	if (srv->refused_peer && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n,
			 "; %u connection(s) refused: peer neither root nor in the allowed group "
			 "(the last: pid %d, uid %u, gid %u)",
			 srv->refused_peer, (int)srv->last_refused.pid, (unsigned)srv->last_refused.uid,
			 (unsigned)srv->last_refused.gid);
	srv->evicted = srv->cut = srv->refused_peer = srv->refused_full = srv->accept_failed = 0;
	srv->last_warn_ms = now;
	pthread_mutex_unlock(&srv->lock);
	log_warning("connections%s", msg);
}

/* Read and throw away what a refused client sent; true when it is gone (end of stream, error). */
static bool refused_drain(int fd)
{
	char sink[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
		if (n < 0)
			return false;
	}
	return false;
}

/* Answer a connection we will not serve with @status and @err, without reading it. It is
 * kept open (REFUSED_MS at most) until its client has sent its request and read the answer:
 * closing at once would make the client fail to connect, or reset the connection before it
 * reads why. What it sends is thrown away unread. */
static void refuse(struct server *srv, int fd, unsigned status, const char *reason, const char *err)
{
	char body[384], msg[640];
	int blen = snprintf(body, sizeof(body), "{\"Err\":\"%s\"}", err);
	int len = snprintf(msg, sizeof(msg),
			   "HTTP/1.1 %u %s\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\n"
			   "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			   status, reason, blen, body);

	if (len > 0 && (size_t)len < sizeof(msg))
		(void)!send(fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	if (srv->n_refused < MAX_REFUSED && !refused_drain(fd)) {
		srv->refused[srv->n_refused++] =
			(struct refused){ .fd = fd, .until_ms = now_ms() + REFUSED_MS };
		return;
	}
	close(fd);
}

/* Close the refused connections whose client is gone or whose time is up; @pfd[i] polled refused[i]. */
static void refused_reap(struct server *srv, const struct pollfd *pfd, uint64_t now)
{
	for (unsigned i = srv->n_refused; i-- > 0;) {
		struct refused *r = &srv->refused[i];
		if ((pfd && pfd[i].revents && refused_drain(r->fd)) || now >= r->until_ms) {
			close(r->fd);
			*r = srv->refused[--srv->n_refused];
		}
	}
}

/* Refuse a peer that is neither root nor in --group, with a 403 naming why; true if refused. */
static bool refuse_stranger(struct server *srv, int fd, struct ucred *cred)
{
	char err[256];

	if (unix_peer_allowed(fd, srv->cfg->has_group, srv->cfg->group, cred))
		return false;
	if (srv->cfg->has_group)
		snprintf(err, sizeof(err),
			 "cvol-plugin: permission denied: uid %u, gid %u is neither root nor in group %u",
			 (unsigned)cred->uid, (unsigned)cred->gid, (unsigned)srv->cfg->group);
	else
		snprintf(err, sizeof(err), "cvol-plugin: permission denied: uid %u is not root",
			 (unsigned)cred->uid);
	refuse(srv, fd, 403, "Forbidden", err);
	pthread_mutex_lock(&srv->lock);
	srv->refused_peer++;
	srv->last_refused = *cred;
	pthread_mutex_unlock(&srv->lock);
	return true;
}

/* Whether libmicrohttpd will start one more connection: it counts those it has not cleaned up
 * yet, which we no longer do, and drops what is over its limit without telling us. Called with
 * the lock held. */
static bool mhd_has_room(const struct server *srv)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	unsigned queued = 0;

	for (const struct conn *c = srv->conns; c; c = c->next)
		queued += !c->attached;
	return !info || info->num_connections + queued < srv->mhd_limit;
}

/* Room for one more: under the limit, not counting those being closed, of which there may be
 * as many again. Called with the lock held. */
static bool has_room(const struct server *srv)
{
	return srv->n_conns - srv->n_closing < srv->max_conns && srv->n_conns < 2 * srv->max_conns &&
	       mhd_has_room(srv);
}

/* Make room for a connection of @newcomer: when full, the busiest peer's connection waiting
 * longest goes, and when none can go (all busy, or all being closed, as under a storm of
 * connections), we wait a little; root, when the busiest peer is another user, takes the room
 * kept for those being closed. False when there is still no room. Called with the lock held. */
static bool make_room(struct server *srv, uid_t newcomer)
{
	uint64_t give_up = now_ms() + ROOM_WAIT_MS;

	for (;;) {
		uid_t busiest = 0;
		bool evicted = srv->n_conns - srv->n_closing < srv->max_conns ||
			       evict_oldest(srv, newcomer, &busiest);
		if (has_room(srv))
			return true;
		/* root (dockerd) is not locked out by another user whose connections are all being
		 * handled: it takes the room kept for connections being closed */
		if (newcomer == 0 && !evicted && busiest != 0 && busiest != (uid_t)-1 &&
		    srv->n_conns < 2 * srv->max_conns && mhd_has_room(srv))
			return true;
		if (now_ms() >= give_up)
			return false;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&srv->room, &srv->lock, &ts);
	}
}

/* Put a connection on @fd of @cred's peer in the list; NULL when out of memory or descriptors.
 * Called with the lock held. */
static struct conn *conn_add(struct server *srv, int fd, const struct ucred *cred)
{
	struct conn *c = calloc(1, sizeof(*c));
	int own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (!c || own_fd < 0) {
		free(c);
		if (own_fd >= 0)
			close(own_fd);
		return NULL;
	}
	*c = (struct conn){ .fd = fd,
			    .own_fd = own_fd,
			    .pid = cred->pid,
			    .uid = cred->uid,
			    .phase = CONN_READING,
			    .since_ms = now_ms(),
			    .next = srv->conns };
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	return c;
}

/* Take one accepted connection: check the peer, make room, hand it to libmicrohttpd. */
static void take_connection(struct server *srv, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct ucred cred = { .pid = 0 };
	struct conn *c;

	if (refuse_stranger(srv, fd, &cred))
		return;
	pthread_mutex_lock(&srv->lock);
	for (c = srv->conns; c; c = c->next)
		if (!c->attached && c->fd == fd) { /* its fd was closed: libmicrohttpd never started it */
			conn_unlink(srv, c);
			break;
		}
	c = make_room(srv, cred.uid) ? conn_add(srv, fd, &cred) : NULL;
	if (!c)
		srv->refused_full++;
	pthread_mutex_unlock(&srv->lock);
	if (!c) {
		refuse(srv, fd, 503, "Service Unavailable", "cvol-plugin: too many connections; try again");
		return;
	}
	if (MHD_add_connection(srv->daemon, fd, addr, addrlen) != MHD_YES) { /* it closed fd */
		pthread_mutex_lock(&srv->lock);
		conn_unlink(srv, c);
		pthread_mutex_unlock(&srv->lock);
	}
}

/* The accept thread: takes connections until stop_fd is written, and checks the deadlines. */
static void *accept_main(void *arg)
{
	struct server *srv = arg;
	struct pollfd pfd[2 + MAX_REFUSED] = { { .fd = srv->listen_fd, .events = POLLIN },
					       { .fd = srv->stop_fd, .events = POLLIN } };
	uint64_t last_reap = 0;

	for (;;) {
		unsigned n_refused = srv->n_refused;
		for (unsigned i = 0; i < n_refused; i++)
			pfd[2 + i] = (struct pollfd){ .fd = srv->refused[i].fd, .events = POLLIN };
		int n = poll(pfd, 2 + n_refused, REAP_EVERY_MS);
		if (n < 0 && errno != EINTR) {
			log_error("poll on the plugin socket: %s", strerror(errno));
			usleep(100000);
		}
		if (n > 0 && pfd[1].revents)
			break;
		uint64_t now = now_ms();
		refused_reap(srv, n > 0 ? pfd + 2 : NULL, now);
		if (now - last_reap >= REAP_EVERY_MS) {
			reap(srv, now);
			warn_summary(srv, now);
			last_reap = now;
		}
		if (n <= 0 || !(pfd[0].revents & POLLIN))
			continue;
		for (int i = 0; i < 64; i++) { /* then the deadlines again */
			struct sockaddr_un addr;
			socklen_t addrlen = sizeof(addr);
			int fd = accept4(srv->listen_fd, (struct sockaddr *)&addr, &addrlen,
					 SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0) {
				if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				    errno == ENOMEM) {
					pthread_mutex_lock(
						&srv->lock); /* told in the summary, not each time */
					srv->accept_failed++;
					srv->accept_errno = errno;
					pthread_mutex_unlock(&srv->lock);
					usleep(100000); /* the connection waits in the backlog */
				}
				break;
			}
			take_connection(srv, fd, (struct sockaddr *)&addr, addrlen);
		}
	}
	while (srv->n_refused)
		close(srv->refused[--srv->n_refused].fd);
	return NULL;
}

/* Listen on --socket; the message for a live plugin on it names the plugin. */
static int socket_listen(const struct cvol_plugin_config *cfg, struct cvol_error *err)
{
	int fd = unix_socket_listen(cfg->socket, cfg->has_group, cfg->group, err);
	if (fd == -EADDRINUSE) /* as before the socket code was shared */
		return cvol_error_setx(err, EADDRINUSE, "another plugin already answers on `%s`",
				       cfg->socket);
	return fd;
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
static void drain_and_stop(struct server *srv, pthread_t acceptor)
{
	uint64_t one = 1;
	(void)!write(srv->stop_fd, &one, sizeof(one));
	pthread_join(acceptor, NULL);
	for (int i = 0; i < 3000 && atomic_load(&srv->in_flight) > 0; i++)
		usleep(10000);
	MHD_stop_daemon(srv->daemon);
	while (srv->conns) /* those libmicrohttpd never started */
		conn_unlink(srv, srv->conns);
}

/* Raise the descriptor limit to its hard one, and keep the connection limit within it: each
 * connection takes libmicrohttpd's descriptor and ours; there may be twice the limit of them
 * while connections are closed, and libmicrohttpd's until it cleans them up (its own limit is
 * four times ours); the store needs some. */
static unsigned fit_connections(unsigned wanted)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return wanted;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	rlim_t reserve = rl.rlim_cur / 4 < 256 ? rl.rlim_cur / 4 : 256; /* the store, logs, libraries */
	rlim_t room = rl.rlim_cur > reserve + 6 ? (rl.rlim_cur - reserve) / 6 : 1;
	if (rl.rlim_cur == RLIM_INFINITY || wanted <= room)
		return wanted;
	log_warning("--max-connections %u lowered to %u: the descriptor limit is %llu", wanted,
		    (unsigned)room, (unsigned long long)rl.rlim_cur);
	return (unsigned)room;
}

int cvol_plugin_serve(const struct cvol_plugin_config *cfg, struct cvol_error *err)
{
	struct server srv = {
		.cfg = cfg,
		.max_conns = cfg->max_connections ? cfg->max_connections : CVOL_PLUGIN_MAX_CONNECTIONS,
		.idle_s = cfg->idle_timeout ? cfg->idle_timeout : CVOL_PLUGIN_IDLE_TIMEOUT,
		.request_s = cfg->request_timeout ? cfg->request_timeout : CVOL_PLUGIN_REQUEST_TIMEOUT,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.room = PTHREAD_COND_INITIALIZER,
	};
	pthread_t acceptor;
	sigset_t stop;
	int sig;

	srv.max_conns = fit_connections(srv.max_conns);
	srv.mhd_limit = 4 * srv.max_conns + 16;
	if (srv.request_s <= srv.idle_s)
		return cvol_error_setx(
			err, EINVAL, "the request timeout (%u s) must be longer than the idle timeout (%u s)",
			srv.request_s, srv.idle_s);
	block_stop_signals(&stop);
	int r = cvol_volume_store_open(cfg->root, &srv.store, err);
	if (r < 0)
		return r;
	if (cfg->mount_dir)
		r = cvol_volume_store_set_mount_dir(srv.store, cfg->mount_dir, err);
	if (r == 0 && cfg->host_root)
		r = cvol_volume_store_set_host_root(srv.store, cfg->host_root, err);
	size_t failed = 0;
	if (r == 0)
		r = cvol_volume_store_reconcile(srv.store, &failed, err);
	if (r < 0) {
		cvol_volume_store_close(srv.store);
		return r;
	}
	if (failed > 0)
		log_warning("%zu volume%s could not be reconciled; the last: %s", failed,
			    failed == 1 ? "" : "s", err->msg);
	cvol_error_clear(err);
	int fd = unix_socket_from_systemd();
	bool own_socket = fd < 0;
	if (own_socket && (fd = socket_listen(cfg, err)) < 0) {
		cvol_volume_store_close(srv.store);
		return fd;
	}
	srv.listen_fd = fd;
	srv.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (srv.stop_fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = cvol_error_set(err, errno, "set up the socket `%s`", cfg->socket);
		goto out_close;
	}
	/* we accept (to check the peer first) and hand connections over: no listen socket here;
	 * libmicrohttpd's own limit is above ours, which counts connections being closed too, and
	 * leaves room for those it has closed and not cleaned up yet */
	srv.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					      MHD_USE_POLL | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET,
				      0, NULL, NULL, answer, &srv, MHD_OPTION_NOTIFY_COMPLETED, request_done,
				      &srv, MHD_OPTION_NOTIFY_CONNECTION, conn_notify, &srv,
				      MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
				      MHD_OPTION_CONNECTION_TIMEOUT, srv.idle_s, MHD_OPTION_CONNECTION_LIMIT,
				      srv.mhd_limit, MHD_OPTION_END);
	if (!srv.daemon) {
		r = cvol_error_setx(err, EIO, "start the HTTP server on `%s`", cfg->socket);
		goto out_close;
	}
	r = -pthread_create(&acceptor, NULL, accept_main, &srv);
	if (r < 0) {
		cvol_error_set(err, -r, "start the thread that accepts connections");
		MHD_stop_daemon(srv.daemon);
		goto out_close;
	}
	log_info("serving %s, volumes in %s/volumes", own_socket ? cfg->socket : "the systemd socket",
		 cfg->root);
	while (sigwait(&stop, &sig) != 0)
		;
	log_info("%s: finishing requests in flight", strsignal(sig));
	drain_and_stop(&srv, acceptor);
out_close:
	if (srv.stop_fd >= 0)
		close(srv.stop_fd);
	close(fd);
	if (own_socket)
		unlink(cfg->socket);
	cvol_volume_store_close(srv.store);
	return r;
}
