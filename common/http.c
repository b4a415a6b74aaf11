/*
 * http.c: HTTP over libcurl. One easy handle per client so that requests to
 * the same service reuse their connection. Bodies are bounded: a hostile or
 * broken server cannot make us allocate without limit, and a server that
 * trickles bytes is cut off by the low-speed limit. The transfer runs in
 * curl's multi-socket mode under our own poll(): curl is told which
 * socket is ready, so it need not poll to find out, and the poll that waits
 * for the answer also watches the caller's wake-up descriptors.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "http_parse.h"
#include "log.h"

#define HTTP_CONNECT_TIMEOUT_MS	5000
#define HTTP_DEFAULT_TIMEOUT_MS	60000
#define HTTP_LOW_SPEED_BYTES	512	/* bytes/s ... */
#define HTTP_LOW_SPEED_SECS	20	/* ... sustained this long aborts */

struct sink {
	struct http_response	*resp;
	size_t			 max;
};

/*
 * The handle keeps pointers into this struct (sink, errbuf, headers)
 * between requests, and its options between requests of one method: an
 * idle shard's GetRecords sets only what changes (URL, headers, body), not
 * the thirty options a reset would need again.
 */
#define HTTP_MAX_SOCKS		8	/* one, or a few while connecting */
#define HTTP_MAX_WAKE		4

struct http_client {
	CURL			*curl;
	CURLM			*multi;		/* holds the connection cache */
	struct {
		curl_socket_t	 fd;
		int		 what;		/* CURL_POLL_IN/OUT/INOUT */
	}			 socks[HTTP_MAX_SOCKS];
	size_t			 nsocks;
	int			 sock_overflow;
	uint64_t		 timer_at;	/* now_ms() when curl's timer is due */
	int			 timer_on;
	int			 wake[HTTP_MAX_WAKE];	/* the caller's, see .h */
	size_t			 nwake;
	int			(*woken)(void);
	char			*ca_file;
	int			(*abort_cb)(void);
	int			 configured;	/* shared options are set */
	char			 method[16];	/* ... for this method */
	long			 timeout_ms;	/* the CURLOPT_TIMEOUT_MS set */
	struct curl_slist	*headers;	/* the last request's */
	struct buf		 line;		/* one header line, reused */
	struct sink		 sink;
	char			 errbuf[CURL_ERROR_SIZE];
	/*
	 * The direct path (http_client_set_direct): POST requests written by
	 * us on a connection curl opened and verified (CONNECT_ONLY) and
	 * kept, answers framed by http_parse. An idle GetRecords is then a
	 * send, a poll and a receive: no transfer set up and torn down, no
	 * liveness polls before it and after the send.
	 */
	int			 direct;	/* asked for, and no proxy */
	CURL			*dh;		/* the open connection's, or NULL */
	curl_socket_t		 dfd;
	char			*dorigin;	/* "scheme://authority" of it */
	unsigned long		 dserved;	/* answers read on it */
	struct buf		 dreq;		/* a request's bytes, reused */
	char			*dbuf;		/* receive buffer */
	uint64_t		 dstart;	/* now_ms() at the request */
	uint64_t		 dmark;		/* start of the low-speed window */
	size_t			 dmark_got;	/* bytes received before it */
	long			 low_bytes;	/* bytes/s ... */
	long			 low_secs;	/* ... sustained this long aborts */
};

#define HTTP_DIRECT_BUF		(64 * 1024)

void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
}

/* curl says which sockets to watch for what: kept for the next poll() */
static int
sock_cb(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct http_client *c = arg;
	size_t i;

	for (i = 0; i < c->nsocks; i++)
		if (c->socks[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < c->nsocks)
			c->socks[i] = c->socks[--c->nsocks];
		return 0;
	}
	if (i == c->nsocks) {
		if (c->nsocks == HTTP_MAX_SOCKS) {
			c->sock_overflow = 1;	/* fails the transfer */
			return -1;
		}
		c->socks[c->nsocks++].fd = fd;
	}
	c->socks[i].what = what;
	return 0;
}

/* curl's single timer: when it wants to be called without socket news */
static int
timer_cb(CURLM *m, long timeout_ms, void *arg)
{
	struct http_client *c = arg;

	c->timer_on = timeout_ms >= 0;
	if (c->timer_on)
		c->timer_at = now_ms() + (uint64_t)timeout_ms;
	return 0;
}

struct http_client *
http_client_new(const char *ca_file)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	if ((c->curl = curl_easy_init()) == NULL ||
	    (c->multi = curl_multi_init()) == NULL)
		fatalx("curl_easy_init failed");
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	if (ca_file != NULL)
		c->ca_file = xstrdup(ca_file);
	buf_init(&c->line);
	buf_init(&c->dreq);
	c->low_bytes = HTTP_LOW_SPEED_BYTES;
	c->low_secs = HTTP_LOW_SPEED_SECS;
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	/* the cached connections go with the multi handle */
	curl_multi_cleanup(c->multi);
	if (c->dh != NULL)
		curl_easy_cleanup(c->dh);
	free(c->dorigin);
	free(c->dbuf);
	buf_free(&c->dreq);
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	buf_free(&c->line);
	free(c->ca_file);
	free(c);
}

void
http_client_set_wake(struct http_client *c, const int *fds, size_t n,
    int (*cb)(void))
{
	size_t i;

	c->woken = cb;
	c->nwake = 0;
	for (i = 0; i < n && i < HTTP_MAX_WAKE; i++)
		if (fds[i] >= 0)
			c->wake[c->nwake++] = fds[i];
}

void
http_client_set_low_speed(struct http_client *c, long bytes, long secs)
{
	c->low_bytes = bytes;
	c->low_secs = secs;
	c->configured = 0;	/* the transfer options change */
}

void
http_client_set_abort(struct http_client *c, int (*cb)(void))
{
	c->abort_cb = cb;
	c->configured = 0;	/* the progress options change */
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_client *c = arg;

	return c->abort_cb != NULL && c->abort_cb() ? 1 : 0;
}

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	buf_init(&r->meta);
	r->content_length = -1;
}

void
http_response_free(struct http_response *r)
{
	buf_free(&r->body);
	buf_free(&r->meta);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->resp->body.len + n > s->max) {
		s->resp->truncated = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	buf_add(&s->resp->body, ptr, n);
	return n;
}

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	http_take_header(s->resp, ptr, n, s->max);
	return n;
}

/*
 * How every connection is made, on either path: no signals, verification
 * always on (there is no switch that turns it off), the caller's CA file,
 * TCP keep-alive, and the abort callback asked while curl works.
 */
static void
connection_options(struct http_client *c, CURL *h, long connect_ms)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->abort_cb != NULL) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	}
}

/*
 * The options every request of one method shares, set after a reset: a
 * request of another method starts from a clean handle (NOBODY, POST and
 * CUSTOMREQUEST interact), requests of the same method reuse them. A reset
 * keeps the connection cache.
 */
static void
configure(struct http_client *c, const char *method)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	connection_options(c, h, (long)HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c->sink);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, c->low_bytes);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->low_secs);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	c->timeout_ms = -1;
	snprintf(c->method, sizeof(c->method), "%s", method);
	c->configured = 1;
}

/*
 * One transfer of the easy handle in the multi handle, driven by poll():
 * curl acts on the sockets poll() found ready and on its timer (timeouts,
 * the low-speed limit). A wake-up descriptor that turns readable asks
 * woken() whether to give up; if not, it is left alone for the rest of
 * the transfer (it may stay readable, e.g. at EOF), and the progress
 * callback still ends the transfer when the caller says so.
 */
static CURLcode
run(struct http_client *c)
{
	struct pollfd pfd[HTTP_MAX_SOCKS + HTTP_MAX_WAKE];
	CURLMcode mc;
	CURLMsg *msg;
	CURLcode rc = CURLE_OK;
	uint64_t now;
	size_t i, ns, nfd;
	int running = 1, n, left, ev, timeout, done = 0;
	int wake = c->nwake > 0 && c->woken != NULL;

	c->sock_overflow = 0;
	if ((mc = curl_multi_add_handle(c->multi, c->curl)) != CURLM_OK) {
		snprintf(c->errbuf, sizeof(c->errbuf), "%s",
		    curl_multi_strerror(mc));
		return CURLE_FAILED_INIT;
	}
	while (running) {
		now = now_ms();
		if (c->timer_on && c->timer_at <= now) {
			c->timer_on = 0;
			curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
			    &running);
			continue;
		}
		nfd = 0;
		for (i = 0; i < c->nsocks; i++) {
			pfd[nfd].fd = c->socks[i].fd;
			pfd[nfd].events = ((c->socks[i].what & CURL_POLL_IN) ?
			    POLLIN : 0) | ((c->socks[i].what & CURL_POLL_OUT) ?
			    POLLOUT : 0);
			pfd[nfd++].revents = 0;
		}
		ns = nfd;
		for (i = 0; wake && i < c->nwake; i++) {
			pfd[nfd].fd = c->wake[i];
			pfd[nfd].events = POLLIN;
			pfd[nfd++].revents = 0;
		}
		/* without a timer curl waits for its sockets only; a second
		 * is a bound, not a tick (curl keeps a timer while it works) */
		timeout = !c->timer_on ? 1000 : c->timer_at - now > 1000 ?
		    1000 : (int)(c->timer_at - now);
		n = poll(pfd, nfd, timeout);
		if (n == -1 && errno != EINTR) {
			snprintf(c->errbuf, sizeof(c->errbuf), "poll: %s",
			    strerror(errno));
			rc = CURLE_RECV_ERROR;
			break;
		}
		if (n <= 0) {
			if (n == 0 && !c->timer_on)
				curl_multi_socket_action(c->multi,
				    CURL_SOCKET_TIMEOUT, 0, &running);
			continue;
		}
		for (i = ns; i < nfd; i++)
			if (pfd[i].revents != 0)
				break;
		if (i < nfd) {
			if (c->woken()) {
				snprintf(c->errbuf, sizeof(c->errbuf),
				    "Callback aborted");
				rc = CURLE_ABORTED_BY_CALLBACK;
				done = 1;
				break;
			}
			wake = 0;
		}
		for (i = 0; i < ns; i++) {
			if (pfd[i].revents == 0)
				continue;
			ev = 0;
			if (pfd[i].revents & (POLLIN | POLLHUP))
				ev |= CURL_CSELECT_IN;
			if (pfd[i].revents & POLLOUT)
				ev |= CURL_CSELECT_OUT;
			if (pfd[i].revents & (POLLERR | POLLNVAL))
				ev |= CURL_CSELECT_ERR;
			curl_multi_socket_action(c->multi, pfd[i].fd, ev,
			    &running);
		}
	}
	while (!done && (msg = curl_multi_info_read(c->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->curl) {
			rc = msg->data.result;
			done = 1;
		}
	if (!done && rc == CURLE_OK) {
		snprintf(c->errbuf, sizeof(c->errbuf), "%s", c->sock_overflow ?
		    "too many sockets" : "transfer ended without a result");
		rc = CURLE_RECV_ERROR;
	}
	/* the connection stays in the multi handle's cache (closed if the
	 * transfer was cut short) */
	curl_multi_remove_handle(c->multi, c->curl);
	return rc;
}

/* -- the direct path ------------------------------------------------------ */

void
http_client_set_direct(struct http_client *c, int on)
{
	static const char *proxies[] = { "http_proxy", "HTTPS_PROXY",
	    "https_proxy", "ALL_PROXY", "all_proxy" };
	size_t i;

	/* a proxy in the environment (curl follows it) keeps curl's own
	 * path: the direct one writes origin-form requests to the server */
	for (i = 0; on && i < sizeof(proxies) / sizeof(proxies[0]); i++)
		if (getenv(proxies[i]) != NULL && *getenv(proxies[i]) != '\0')
			on = 0;
	c->direct = on;
}

static void
direct_close(struct http_client *c)
{
	if (c->dh != NULL)
		curl_easy_cleanup(c->dh);	/* closes the socket */
	c->dh = NULL;
	c->dfd = CURL_SOCKET_BAD;
	free(c->dorigin);
	c->dorigin = NULL;
	c->dserved = 0;
}

/* A connection to origin, opened and (https) verified by curl, which keeps
 * it for curl_easy_send/recv. */
static int
direct_connect(struct http_client *c, const char *origin, long left_ms)
{
	CURL *h;
	CURLcode rc;

	if ((h = curl_easy_init()) == NULL) {
		snprintf(c->errbuf, sizeof(c->errbuf), "curl_easy_init failed");
		return -1;
	}
	connection_options(c, h, left_ms < HTTP_CONNECT_TIMEOUT_MS ? left_ms :
	    (long)HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_URL, origin);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	c->errbuf[0] = '\0';
	if ((rc = curl_easy_perform(h)) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &c->dfd) != CURLE_OK ||
	    c->dfd == CURL_SOCKET_BAD) {
		if (c->errbuf[0] == '\0')
			snprintf(c->errbuf, sizeof(c->errbuf), "%s",
			    curl_easy_strerror(rc));
		curl_easy_cleanup(h);
		return -1;
	}
	c->dh = h;
	c->dorigin = xstrdup(origin);
	c->dserved = 0;
	return 0;
}

enum { D_OK, D_FAIL, D_STALE };

/* A connection that ended before any byte of the answer: stale if it had
 * served answers before (the server closed it while we slept), which a
 * new connection may retry; on a new connection, a failure. */
static int
ended_early(const struct http_client *c)
{
	return c->dserved > 0 ? D_STALE : D_FAIL;
}

/*
 * Wait until the connection is ready for events (or a wake-up descriptor
 * says stop, or the deadline passes). The abort callback is asked at
 * least once a second, as curl's progress callback would be.
 */
static int
direct_wait(struct http_client *c, short events, uint64_t deadline,
    int *wake, size_t got)
{
	struct pollfd pfd[1 + HTTP_MAX_WAKE];
	uint64_t now, window;
	size_t i, nfd;
	int n, timeout;
	int low = c->low_secs > 0 && c->low_bytes > 0;

	for (;;) {
		now = now_ms();
		if (now >= deadline) {
			snprintf(c->errbuf, sizeof(c->errbuf), "Operation timed "
			    "out after %llu milliseconds with %zu bytes received",
			    (unsigned long long)(now - c->dstart), got);
			return -1;
		}
		pfd[0].fd = c->dfd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		nfd = 1;
		for (i = 0; *wake && i < c->nwake; i++) {
			pfd[nfd].fd = c->wake[i];
			pfd[nfd].events = POLLIN;
			pfd[nfd++].revents = 0;
		}
		/* curl's low-speed limit, by windows: a server that trickles
		 * (or says nothing) is cut off as on curl's own path */
		window = c->dmark + (uint64_t)c->low_secs * 1000;
		if (low && now >= window) {
			if (got - c->dmark_got < (size_t)(c->low_bytes *
			    c->low_secs)) {
				snprintf(c->errbuf, sizeof(c->errbuf), "Operation "
				    "too slow. Less than %ld bytes/sec transferred "
				    "the last %ld seconds", c->low_bytes,
				    c->low_secs);
				return -1;
			}
			c->dmark = now;
			c->dmark_got = got;
			window = now + (uint64_t)c->low_secs * 1000;
		}
		timeout = deadline - now > 1000 ? 1000 : (int)(deadline - now);
		if (low && window - now < (uint64_t)timeout)
			timeout = (int)(window - now);
		n = poll(pfd, nfd, timeout);
		if (n == -1 && errno != EINTR) {
			snprintf(c->errbuf, sizeof(c->errbuf), "poll: %s",
			    strerror(errno));
			return -1;
		}
		if (n <= 0) {
			if (n == 0 && c->abort_cb != NULL && c->abort_cb())
				goto aborted;
			continue;
		}
		for (i = 1; i < nfd; i++)
			if (pfd[i].revents != 0)
				break;
		if (i < nfd) {
			if (c->woken())
				goto aborted;
			*wake = 0;	/* not again in this request */
		}
		if (pfd[0].revents != 0)
			return 0;
	}
 aborted:
	snprintf(c->errbuf, sizeof(c->errbuf), "Callback aborted");
	return -1;
}

/* One request on the open connection, and its answer. */
static int
direct_exchange(struct http_client *c, struct http_parser *p,
    uint64_t deadline)
{
	const char *out = c->dreq.data;
	size_t off = 0, n, used, got = 0;
	CURLcode rc;
	int wake = c->nwake > 0 && c->woken != NULL, r;

	while (off < c->dreq.len) {
		rc = curl_easy_send(c->dh, out + off, c->dreq.len - off, &n);
		if (rc == CURLE_OK) {
			off += n;
			continue;
		}
		if (rc != CURLE_AGAIN) {
			snprintf(c->errbuf, sizeof(c->errbuf), "send: %s",
			    curl_easy_strerror(rc));
			return off == 0 ? ended_early(c) : D_FAIL;
		}
		if (direct_wait(c, POLLOUT, deadline, &wake, 0) == -1)
			return D_FAIL;
	}
	for (;;) {
		/* first wait: the answer cannot be there yet, and a receive
		 * would only say so */
		if (direct_wait(c, POLLIN, deadline, &wake, got) == -1)
			return D_FAIL;
		/* then read until there is no more: TLS may hold decrypted
		 * bytes the socket no longer shows */
		for (;;) {
			rc = curl_easy_recv(c->dh, c->dbuf, HTTP_DIRECT_BUF, &n);
			if (rc == CURLE_AGAIN)
				break;
			if (rc != CURLE_OK) {
				snprintf(c->errbuf, sizeof(c->errbuf),
				    "receive: %s", curl_easy_strerror(rc));
				return !http_parser_started(p) ?
				    ended_early(c) : D_FAIL;
			}
			if (n == 0) {
				if (http_parser_eof(p) == HP_DONE) {
					p->close = 1;
					return D_OK;
				}
				snprintf(c->errbuf, sizeof(c->errbuf), "%s",
				    p->error);
				return !http_parser_started(p) ?
				    ended_early(c) : D_FAIL;
			}
			got += n;
			r = http_parser_feed(p, c->dbuf, n, &used);
			if (r == HP_ERROR) {
				snprintf(c->errbuf, sizeof(c->errbuf), "%s",
				    p->error);
				return D_FAIL;
			}
			if (r == HP_DONE) {
				if (used < n)	/* bytes nobody asked for */
					p->close = 1;
				return D_OK;
			}
		}
	}
}

/*
 * A POST on the direct path. A kept connection the server closed while
 * we slept (the answer's first byte never came) is opened again once and
 * the request sent again: the caller's requests here are reads or
 * conditional writes, which a second sending cannot double.
 */
static int
direct_perform(struct http_client *c, const struct http_request *req,
    struct http_response *resp)
{
	struct http_parser p;
	const char *auth, *path;
	char *origin;
	uint64_t deadline;
	long timeout;
	size_t i, alen;
	int attempt, r = D_FAIL;

	auth = strstr(req->url, "://");
	if (auth == NULL) {
		snprintf(resp->error, sizeof(resp->error), "bad URL");
		return -1;
	}
	auth += 3;
	alen = strcspn(auth, "/?");
	path = auth + alen;
	origin = xstrndup(req->url, (size_t)(auth + alen - req->url));
	if (c->dh != NULL && strcmp(c->dorigin, origin) != 0)
		direct_close(c);
	if (c->dbuf == NULL)
		c->dbuf = xmalloc(HTTP_DIRECT_BUF);

	buf_reset(&c->dreq);
	buf_printf(&c->dreq, "POST %s%s HTTP/1.1\r\nHost: %.*s\r\n",
	    *path == '?' ? "/" : "", *path ? path : "/", (int)alen, auth);
	for (i = 0; i < req->nheaders; i++)
		buf_printf(&c->dreq, "%s: %s\r\n", req->headers[i].name,
		    req->headers[i].value);
	buf_printf(&c->dreq, "Content-Length: %zu\r\n\r\n", req->body_len);
	if (req->body_len > 0)
		buf_add(&c->dreq, req->body, req->body_len);

	timeout = req->timeout_ms > 0 ? req->timeout_ms :
	    (long)HTTP_DEFAULT_TIMEOUT_MS;
	c->dstart = now_ms();
	deadline = c->dstart + (uint64_t)timeout;
	c->dmark = c->dstart;
	c->dmark_got = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->dh == NULL) {
			uint64_t now = now_ms();

			if (now >= deadline || direct_connect(c, origin,
			    (long)(deadline - now)) == -1) {
				if (now >= deadline)
					snprintf(c->errbuf, sizeof(c->errbuf),
					    "Operation timed out");
				r = D_FAIL;
				break;
			}
		}
		/* resp is as http_perform reset it: a stale attempt ended
		 * before the answer's first byte */
		http_parser_init(&p, resp, c->sink.max);
		r = direct_exchange(c, &p, deadline);
		if (r == D_OK) {
			c->dserved++;
			if (p.close)
				direct_close(c);
		} else
			direct_close(c);
		http_parser_free(&p);
		if (r != D_STALE)
			break;
		log_debug("http: %s: kept connection closed by the server, "
		    "opening another", origin);
	}
	free(origin);
	if (r != D_OK) {
		/* errbuf has the parser's refusal, "response body larger
		 * than N bytes" for a truncated answer as on curl's path */
		snprintf(resp->error, sizeof(resp->error), "%s", c->errbuf);
		resp->status = 0;
		return -1;
	}
	return 0;
}

int
http_perform(struct http_client *c, const struct http_request *req,
    struct http_response *resp)
{
	CURL *h = c->curl;
	struct curl_slist *hl = NULL;
	CURLcode rc;
	size_t i;
	long timeout;
	int have_ctype;

	buf_reset(&resp->body);
	resp->status = 0;
	resp->error[0] = '\0';
	resp->truncated = 0;
	resp->amz_error_type[0] = '\0';
	resp->etag[0] = '\0';
	buf_reset(&resp->meta);
	resp->content_length = -1;
	c->sink.resp = resp;
	c->sink.max = req->max_response ? req->max_response : 16 * 1024 * 1024;
	c->errbuf[0] = '\0';
	if (c->direct && strcmp(req->method, "POST") == 0)
		return direct_perform(c, req, resp);

	have_ctype = 0;
	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, "Content-Type") == 0)
			have_ctype = 1;
		buf_reset(&c->line);
		buf_addstr(&c->line, req->headers[i].name);
		buf_addstr(&c->line, ": ");
		buf_addstr(&c->line, req->headers[i].value);
		hl = curl_slist_append(hl, c->line.data);
	}
	/* no "Expect: 100-continue" round trip; curl picks the length */
	hl = curl_slist_append(hl, "Expect:");
	hl = curl_slist_append(hl, "Accept:");
	/* curl would call a bare POST/PUT body a form: it is not one, and a
	 * server that believes it (moto does) mangles the body */
	if (!have_ctype)
		hl = curl_slist_append(hl, "Content-Type:");

	if (!c->configured || strcmp(c->method, req->method) != 0)
		configure(c, req->method);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	/* the list the handle pointed to until now */
	curl_slist_free_all(c->headers);
	c->headers = hl;
	timeout = req->timeout_ms > 0 ? req->timeout_ms :
	    (long)HTTP_DEFAULT_TIMEOUT_MS;
	if (timeout != c->timeout_ms) {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
		c->timeout_ms = timeout;
	}
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		    req->body != NULL ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}

	rc = run(c);
	if (rc != CURLE_OK) {
		if (resp->truncated)
			snprintf(resp->error, sizeof(resp->error),
			    "response body larger than %zu bytes", c->sink.max);
		else
			snprintf(resp->error, sizeof(resp->error), "%s",
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}
