/*
 * test_http.c: the HTTP client (common/http.c) against a loopback server
 * forked here: one kept-alive connection for requests of every method,
 * options of one method never leaking into the next, and the wake-up
 * descriptors that end a request which waits for an answer; and the direct
 * path (http_client_set_direct) against a scripted server: the bytes of
 * its requests, answers framed every way, kept connections the server
 * closed, hostile framing refused and the connection dropped after it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "util.h"
#include "t.h"

static int
listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1)
		exit(2);
	*port = ntohs(sa.sin_port);
	return fd;
}

/*
 * Accepts ONE connection and answers every request on it with
 * "METHOD:body" (HEAD: nothing); exits at its end. A client that opened a
 * second connection would wait for an answer that never comes.
 */
static void
serve_one(int lfd)
{
	char buf[8192], reply[8192], method[16];
	size_t have = 0;
	ssize_t n;
	int fd = accept(lfd, NULL, NULL);

	if (fd == -1)
		_exit(2);
	for (;;) {
		char *end, *cl;
		size_t hlen, blen, rlen;

		buf[have] = '\0';
		while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
			if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
				_exit(0);
			have += (size_t)n;
			buf[have] = '\0';
		}
		hlen = (size_t)(end - buf) + 4;
		cl = strcasestr(buf, "\r\ncontent-length:");
		blen = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		while (have < hlen + blen) {
			if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
				_exit(0);
			have += (size_t)n;
		}
		sscanf(buf, "%15s", method);
		if (strcmp(method, "HEAD") == 0)
			rlen = (size_t)snprintf(reply, sizeof(reply),
			    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		else
			rlen = (size_t)snprintf(reply, sizeof(reply),
			    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n"
			    "%s:%.*s", strlen(method) + 1 + blen, method,
			    (int)blen, buf + hlen);
		if (write(fd, reply, rlen) != (ssize_t)rlen)
			_exit(2);
		memmove(buf, buf + hlen + blen, have - hlen - blen);
		have -= hlen + blen;
	}
}

/*
 * The direct path's server: accepts connections one after another and
 * answers the i-th request (over all connections) with answers[i].text;
 * what it saw goes down the pipe as one line per request:
 * "conn REQUEST-LINE|HOST|CONTENT-LENGTH|BODY".
 */
enum { A_KEEP, A_CLOSE_AFTER, A_CLOSE_NOW };
static const struct {
	const char	*text;
	int		 then;
} answers[] = {
	/* 0: bytes after the answer, which nobody asked for: the client
	 * drops the connection (the server would go on) */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstJUNK", A_KEEP },
	/* 1, 2: two answers on one connection */
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nchu\r\n"
	  "4;x=y\r\nnked\r\n0\r\nTrailer: t\r\n\r\n", A_KEEP },
	/* 2: then the server closes the kept connection unannounced:
	 * 3 goes out on it, finds it closed, and is sent again on a new one */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", A_CLOSE_AFTER },
	{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Slow Down\r\n"
	  "x-amzn-ErrorType: ProvisionedThroughputExceededException:\r\n"
	  "Content-Length: 4\r\n\r\nbusy", A_KEEP },
	/* 4: an announced close (the server would go on reading: the
	 * client must not): 5 on a new connection */
	{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n"
	  "bye", A_KEEP },
	/* 5: hostile framing, refused, and the connection dropped */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
	  "hello!", A_KEEP },
	/* 6: more than max_response */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", A_KEEP },
	/* 7: a body framed by the close */
	{ "HTTP/1.0 200 OK\r\n\r\nuntil the end", A_CLOSE_AFTER },
	/* 8: a new connection closed before any answer: an error, and the
	 * request is not sent a second time */
	{ NULL, A_CLOSE_NOW },
	/* 9: fine again */
	{ "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast", A_KEEP },
};
#define NANSWERS	(sizeof(answers) / sizeof(answers[0]))

static void
serve_script(int lfd, int report)
{
	char buf[8192], line[1024];
	size_t have, i = 0;
	ssize_t n;
	int fd, conn = 0;

	alarm(30);	/* a client that got out of step leaves it waiting */
	while (i < NANSWERS) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			_exit(2);
		conn++;
		have = 0;
		for (;;) {
			char *end, *cl, *host;
			size_t hlen, blen;
			int len;

			buf[have] = '\0';
			while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
				n = read(fd, buf + have, sizeof(buf) - 1 - have);
				if (n <= 0)
					goto next;
				have += (size_t)n;
				buf[have] = '\0';
			}
			hlen = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "\r\ncontent-length:");
			blen = cl != NULL && cl < end ?
			    strtoul(cl + 17, NULL, 10) : 0;
			while (have < hlen + blen) {
				n = read(fd, buf + have, sizeof(buf) - 1 - have);
				if (n <= 0)
					goto next;
				have += (size_t)n;
			}
			host = strcasestr(buf, "\r\nhost: ");
			len = snprintf(line, sizeof(line), "%d %.*s|%.*s|%zu|%.*s\n",
			    conn, (int)strcspn(buf, "\r"), buf,
			    host ? (int)strcspn(host + 8, "\r") : 0,
			    host ? host + 8 : "", blen, (int)blen, buf + hlen);
			if (write(report, line, (size_t)len) != len)
				_exit(2);
			if (answers[i].text != NULL &&
			    write(fd, answers[i].text, strlen(answers[i].text)) !=
			    (ssize_t)strlen(answers[i].text))
				_exit(2);
			memmove(buf, buf + hlen + blen, have - hlen - blen);
			have -= hlen + blen;
			if (answers[i++].then != A_KEEP || i == NANSWERS)
				break;
		}
 next:
		close(fd);
	}
	_exit(0);
}

static void
test_direct(void)
{
	static const struct {
		int		 rc;
		long		 status;
		const char	*body, *error;
	} want[] = {
		{ 0, 200, "first", NULL },
		{ 0, 200, "chunked", NULL },
		{ 0, 200, "ok", NULL },
		{ 0, 503, "busy", NULL },
		{ 0, 200, "bye", NULL },
		{ -1, 0, NULL, "conflicting Content-Length" },
		{ -1, 0, NULL, "larger than 64 bytes" },
		{ 0, 200, "until the end", NULL },
		{ -1, 0, NULL, "closed before an answer" },
		{ 0, 200, "last", NULL },
	};
	/* connection of each request line the server saw: 3 was sent twice
	 * (the kept connection found closed), 8 once */
	static const int conn_of[] = { 1, 2, 2, 3, 3, 4, 5, 6, 7, 8 };
	struct http_header hdr[] = { { "X-Amz-Target", "K.GetRecords" } };
	struct http_client *c = http_client_new(NULL);
	struct http_response resp;
	struct http_request req;
	char url[64], body[8], got[4096], line[256];
	size_t i, have = 0;
	ssize_t n;
	pid_t pid;
	int lfd, port, st, rep[2], rc;
	char *p, *nl;

	http_client_set_direct(c, 1);
	lfd = listener(&port);
	if (pipe(rep) == -1)
		exit(2);
	if ((pid = fork()) == 0) {
		close(rep[0]);
		serve_script(lfd, rep[1]);
	}
	close(lfd);
	close(rep[1]);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/q?x=1", port);
	http_response_init(&resp);
	for (i = 0; i < NANSWERS; i++) {
		memset(&req, 0, sizeof(req));
		snprintf(body, sizeof(body), "r-%zu", i);
		req.method = "POST";
		req.url = url;
		req.headers = hdr;
		req.nheaders = 1;
		req.body = body;
		req.body_len = strlen(body);
		req.timeout_ms = 5000;
		req.max_response = 64;
		rc = http_perform(c, &req, &resp);
		T_OK(rc == want[i].rc, "direct request %zu: the outcome %d "
		    "(%s)", i, rc, resp.error);
		if (want[i].rc == 0) {
			T_OK(resp.status == want[i].status, "its status %ld",
			    resp.status);
			if (i == 3)
				T_STREQ(resp.amz_error_type, "ProvisionedThrough"
				    "putExceededException:", "its error type");
			T_STREQ(resp.body.data ? resp.body.data : "",
			    want[i].body, "its body, framed");
		} else
			T_OK(strstr(resp.error, want[i].error) != NULL,
			    "refused: \"%s\"", resp.error);
	}
	http_response_free(&resp);
	http_client_free(c);
	T_OK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "the server answered all and ended (%s)",
	    WIFSIGNALED(st) ? "killed by its alarm" : "exited");
	while (have < sizeof(got) - 1 &&
	    (n = read(rep[0], got + have, sizeof(got) - 1 - have)) > 0)
		have += (size_t)n;
	got[have] = '\0';
	close(rep[0]);
	p = got;
	for (i = 0; i < NANSWERS; i++) {
		snprintf(line, sizeof(line), "%d POST /q?x=1 HTTP/1.1|"
		    "127.0.0.1:%d|3|r-%zu", conn_of[i], port, i);
		nl = strchr(p, '\n');
		T_OK(nl != NULL && (size_t)(nl - p) == strlen(line) &&
		    strncmp(p, line, strlen(line)) == 0,
		    "the server saw \"%s\" (\"%.*s\")", line,
		    nl ? (int)(nl - p) : 0, p);
		p = nl ? nl + 1 : p;
	}
	T_STREQ(p, "", "and no other request");
}

static int wake_calls, wake_answer;

static int
woken(void)
{
	wake_calls++;
	return wake_answer;
}

static void
test_methods(void)
{
	static const struct {
		const char	*method, *body, *want;
	} reqs[] = {
		{ "POST", "{\"a\":1}", "POST:{\"a\":1}" },
		{ "POST", "x", "POST:x" },
		{ "HEAD", NULL, "" },
		{ "GET", NULL, "GET:" },
		{ "PUT", "part", "PUT:part" },
		{ "POST", "again", "POST:again" },
	};
	struct http_client *c = http_client_new(NULL);
	struct http_response resp;
	struct http_request req;
	char url[64];
	pid_t pid;
	size_t i;
	int lfd, port, st;

	lfd = listener(&port);
	if ((pid = fork()) == 0)
		serve_one(lfd);
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	http_response_init(&resp);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		memset(&req, 0, sizeof(req));
		req.method = reqs[i].method;
		req.url = url;
		req.body = reqs[i].body;
		req.body_len = reqs[i].body ? strlen(reqs[i].body) : 0;
		req.timeout_ms = 5000;
		T_OK(http_perform(c, &req, &resp) == 0 && resp.status == 200,
		    "%s %zu answered on the one kept-alive connection (%s)",
		    reqs[i].method, i, resp.error);
		T_STREQ(resp.body.data ? resp.body.data : "", reqs[i].want,
		    "its answer is for that method and body");
	}
	http_response_free(&resp);
	http_client_free(c);		/* closes the connection: server ends */
	T_OK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "the server saw one connection, closed");
}

static void
test_wake(int direct)
{
	struct http_client *c;
	struct http_response resp;
	struct http_request req;
	char url[64];
	uint64_t t0, dt;
	int lfd, port, p[2];

	/* a server that never answers (the kernel accepts for it) */
	lfd = listener(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	if (pipe(p) == -1 || write(p[1], "x", 1) != 1)
		exit(2);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.body = "{}";
	req.body_len = 2;

	/* a readable wake-up descriptor, and the caller says stop */
	c = http_client_new(NULL);
	http_client_set_direct(c, direct);
	http_client_set_wake(c, &p[0], 1, woken);
	wake_calls = 0;
	wake_answer = 1;
	req.timeout_ms = 20000;
	http_response_init(&resp);
	t0 = now_ms();
	T_OK(http_perform(c, &req, &resp) == -1, "a woken request that is "
	    "told to stop fails");
	dt = now_ms() - t0;
	T_OK(dt < 3000, "at once, not at its 20 s timeout (%llu ms)",
	    (unsigned long long)dt);
	T_OK(strstr(resp.error, "bort") != NULL, "as aborted (\"%s\")",
	    resp.error);
	T_INTEQ(wake_calls, 1, "the caller was asked once");
	http_response_free(&resp);
	http_client_free(c);

	/* the caller says go on: the descriptor (still readable) is left
	 * alone until the request's own timeout, not polled in a loop */
	c = http_client_new(NULL);
	http_client_set_direct(c, direct);
	http_client_set_wake(c, &p[0], 1, woken);
	wake_calls = 0;
	wake_answer = 0;
	req.timeout_ms = 800;
	http_response_init(&resp);
	t0 = now_ms();
	T_OK(http_perform(c, &req, &resp) == -1, "a request without an "
	    "answer fails at its timeout");
	dt = now_ms() - t0;
	T_OK(dt >= 700 && dt < 5000, "after about 800 ms (%llu ms)",
	    (unsigned long long)dt);
	T_OK(strstr(resp.error, "imeout") != NULL ||
	    strstr(resp.error, "imed out") != NULL, "as a timeout (\"%s\")",
	    resp.error);
	T_INTEQ(wake_calls, 1, "the caller was asked once, not once per poll");
	http_response_free(&resp);
	http_client_free(c);

	/* a silent server under a 20 s timeout: the low-speed limit (here
	 * 512 bytes/s over 1 s) ends the request first, on either path */
	c = http_client_new(NULL);
	http_client_set_direct(c, direct);
	http_client_set_low_speed(c, 512, 1);
	req.timeout_ms = 20000;
	http_response_init(&resp);
	t0 = now_ms();
	T_OK(http_perform(c, &req, &resp) == -1, "%s: a silent server's "
	    "request fails", direct ? "direct" : "curl");
	dt = now_ms() - t0;
	T_OK(dt >= 900 && dt < 6000, "after about the low-speed window, not "
	    "at the 20 s timeout (%llu ms)", (unsigned long long)dt);
	T_OK(strstr(resp.error, "too slow") != NULL, "as too slow (\"%s\")",
	    resp.error);
	http_response_free(&resp);
	http_client_free(c);
	close(p[0]);
	close(p[1]);
	close(lfd);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	http_global_init();
	test_methods();
	test_wake(0);
	test_wake(1);
	test_direct();
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed != 0;
}
