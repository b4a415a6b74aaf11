/*
 * test_http.c: the HTTP client (common/http.c) against a loopback server
 * forked here: one kept-alive connection for requests of every method,
 * options of one method never leaking into the next, and the wake-up
 * descriptors that end a request which waits for an answer.
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
test_wake(void)
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
	test_wake();
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed != 0;
}
