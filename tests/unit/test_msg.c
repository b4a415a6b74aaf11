/*
 * test_msg.c: common/msg.c, the supervisor <-> worker framing: round trips
 * over a socketpair, partial and split reads, several messages in one read,
 * and every way a header can be wrong (type, length per type, size limit).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "t.h"
#include "util.h"

static void
nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A raw header followed by len payload bytes (pattern), into b. */
static void
frame(struct buf *b, uint32_t type, uint32_t len, uint32_t gen)
{
	struct msg_hdr h;
	uint32_t i;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	h.gen = gen;
	buf_add(b, &h, sizeof(h));
	for (i = 0; i < len; i++)
		buf_addc(b, (char)(i * 31 + type));
}

/* Read from fd until msg_get gives a message or timeout_ms passes. */
static int
recv_one(int fd, struct msgbuf *mb, struct msg *m, int timeout_ms)
{
	int r;

	for (;;) {
		struct pollfd pfd;
		ssize_t n;

		if ((r = msg_get(mb, m)) != 0)
			return r;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return 0;
		n = msgbuf_read(mb, fd);
		if (n == 0)
			return 0;
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}

static void
test_names(void)
{
	T_STREQ(msg_type_name(MSG_HELLO), "HELLO", "msg_type_name HELLO");
	T_STREQ(msg_type_name(MSG_CONFIG), "CONFIG", "msg_type_name CONFIG");
	T_STREQ(msg_type_name(MSG_FLUSH), "FLUSH", "msg_type_name FLUSH");
	T_STREQ(msg_type_name(MSG_STATS), "STATS", "msg_type_name STATS");
	T_STREQ(msg_type_name(MSG_DONE), "DONE", "msg_type_name DONE");
	T_STREQ(msg_type_name(0), "UNKNOWN", "msg_type_name 0");
	T_STREQ(msg_type_name(MSG_TYPE_MAX), "UNKNOWN", "msg_type_name MAX");
	T_STREQ(msg_type_name(UINT32_MAX), "UNKNOWN", "msg_type_name ~0");
}

static void
test_roundtrip(void)
{
	int sv[2];
	struct msgbuf mb;
	struct msg m;
	struct msg_hello hello, hin;
	struct msg_flush fl, fin;
	struct msg_stats st, sin;
	const char *conf = "stream = \"orders\";\nstate_dir = \"/tmp/x\";\n";

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		T_OK(0, "socketpair: %s", strerror(errno));
		return;
	}
	nonblock(sv[0]);
	nonblock(sv[1]);
	msgbuf_init(&mb);

	memset(&hello, 0, sizeof(hello));
	hello.pid = 4242;
	snprintf(hello.shard, sizeof(hello.shard), "shardId-000000000007");
	memset(&fl, 0, sizeof(fl));
	fl.records = 1234;
	fl.bytes = 567890;
	fl.stored_bytes = 81234;
	fl.latency_ms = UINT64_MAX;
	snprintf(fl.outbox, sizeof(fl.outbox), "4959.json");
	memset(&st, 0xA5, sizeof(st));
	st.records_read = 1;
	st.bad_records = 8;

	T_INTEQ(msg_send(sv[1], MSG_HELLO, 7, &hello, sizeof(hello), 1000), 0,
	    "msg_send HELLO");
	T_INTEQ(msg_send(sv[1], MSG_CONFIG, 7, conf, strlen(conf), 1000), 0,
	    "msg_send CONFIG");
	T_INTEQ(msg_send(sv[1], MSG_FLUSH, 8, &fl, sizeof(fl), 1000), 0,
	    "msg_send FLUSH");
	T_INTEQ(msg_send(sv[1], MSG_STATS, 9, &st, sizeof(st), 1000), 0,
	    "msg_send STATS");
	T_INTEQ(msg_send(sv[1], MSG_DONE, UINT32_MAX, NULL, 0, 1000), 0,
	    "msg_send DONE (no payload)");
	T_INTEQ(msg_send(sv[1], MSG_CONFIG, 1, NULL, 0, 1000), 0,
	    "msg_send an empty CONFIG");

	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv HELLO");
	T_OK(m.hdr.type == MSG_HELLO && m.hdr.len == sizeof(hello) &&
	    m.hdr.gen == 7, "HELLO header");
	memcpy(&hin, m.payload, sizeof(hin));
	T_OK(hin.pid == 4242 && strcmp(hin.shard, "shardId-000000000007") == 0,
	    "HELLO payload");
	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv CONFIG");
	T_OK(m.hdr.type == MSG_CONFIG && m.hdr.len == strlen(conf) &&
	    memcmp(m.payload, conf, strlen(conf)) == 0, "CONFIG text");
	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv FLUSH");
	memcpy(&fin, m.payload, sizeof(fin));
	T_OK(m.hdr.type == MSG_FLUSH && m.hdr.gen == 8 &&
	    memcmp(&fin, &fl, sizeof(fl)) == 0, "FLUSH payload");
	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv STATS");
	memcpy(&sin, m.payload, sizeof(sin));
	T_OK(m.hdr.type == MSG_STATS && m.hdr.gen == 9 &&
	    memcmp(&sin, &st, sizeof(st)) == 0, "STATS payload");
	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv DONE");
	T_OK(m.hdr.type == MSG_DONE && m.hdr.len == 0 &&
	    m.hdr.gen == UINT32_MAX, "DONE header, generation 2^32-1");
	T_INTEQ(recv_one(sv[0], &mb, &m, 1000), 1, "recv empty CONFIG");
	T_OK(m.hdr.type == MSG_CONFIG && m.hdr.len == 0, "empty CONFIG");
	T_INTEQ(msg_get(&mb, &m), 0, "nothing more buffered");
	errno = 0;
	T_INTEQ(msgbuf_read(&mb, sv[0]), -1, "msgbuf_read: nothing there");
	T_INTEQ(errno, EAGAIN, "msgbuf_read: EAGAIN");
	close(sv[1]);
	T_INTEQ(msgbuf_read(&mb, sv[0]), 0, "msgbuf_read: EOF is 0");
	close(sv[0]);
	msgbuf_free(&mb);
	T_OK(mb.data == NULL && mb.len == 0, "msgbuf_free");
}

/* A maximal CONFIG goes through a socket buffer much smaller than it:
 * msg_send must wait (poll) and finish the partial writes. */
static void
test_big(void)
{
	int sv[2], st;
	pid_t pid;
	struct msgbuf mb;
	struct msg m;
	char *big;
	size_t i;
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	nonblock(sv[0]);
	nonblock(sv[1]);
	big = xmalloc(MSG_MAX_PAYLOAD);
	for (i = 0; i < MSG_MAX_PAYLOAD; i++)
		big[i] = (char)(i % 251);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		r = msg_send(sv[1], MSG_CONFIG, 3, big, MSG_MAX_PAYLOAD, 10000);
		r |= msg_send(sv[1], MSG_DONE, 3, NULL, 0, 10000);
		_exit(r == 0 ? 0 : 1);
	}
	close(sv[1]);
	msgbuf_init(&mb);
	r = recv_one(sv[0], &mb, &m, 10000);
	T_INTEQ(r, 1, "recv a CONFIG of MSG_MAX_PAYLOAD bytes");
	T_OK(r == 1 && m.hdr.type == MSG_CONFIG &&
	    m.hdr.len == MSG_MAX_PAYLOAD &&
	    memcmp(m.payload, big, MSG_MAX_PAYLOAD) == 0,
	    "the 1 MiB payload arrives intact");
	T_INTEQ(recv_one(sv[0], &mb, &m, 10000), 1, "then DONE");
	T_INTEQ(m.hdr.type, MSG_DONE, "DONE after the big message");
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "msg_send completes through partial writes");
	close(sv[0]);
	msgbuf_free(&mb);
	free(big);
}

static void
test_send_errors(void)
{
	int sv[2];
	char *big, chunk[65536];
	uint64_t t0;
	int r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	nonblock(sv[0]);
	nonblock(sv[1]);
	big = xcalloc(1, MSG_MAX_PAYLOAD + 1);
	errno = 0;
	T_INTEQ(msg_send(sv[1], MSG_CONFIG, 1, big, MSG_MAX_PAYLOAD + 1, 100),
	    -1, "msg_send: over MSG_MAX_PAYLOAD refused");
	T_INTEQ(errno, EMSGSIZE, "msg_send: EMSGSIZE");
	T_OK(recv(sv[0], chunk, sizeof(chunk), MSG_DONTWAIT) == -1 &&
	    errno == EAGAIN, "msg_send: nothing written for an oversize one");

	/* nobody reads: the socket fills and msg_send gives up in time */
	t0 = now_ms();
	errno = 0;
	r = msg_send(sv[1], MSG_CONFIG, 1, big, MSG_MAX_PAYLOAD, 200);
	T_INTEQ(r, -1, "msg_send: full socket times out");
	T_INTEQ(errno, ETIMEDOUT, "msg_send: ETIMEDOUT");
	T_OK(now_ms() - t0 < 5000, "msg_send: the timeout is honoured");

	/* the peer is gone */
	signal(SIGPIPE, SIG_IGN);
	close(sv[0]);
	errno = 0;
	T_INTEQ(msg_send(sv[1], MSG_DONE, 1, NULL, 0, 100), -1,
	    "msg_send: closed peer fails");
	T_INTEQ(errno, EPIPE, "msg_send: EPIPE");
	close(sv[1]);
	free(big);
}

static void
test_partial(void)
{
	struct msgbuf mb;
	struct msg m;
	struct buf b;
	size_t i;
	int r = 0, early = 0;

	buf_init(&b);
	frame(&b, MSG_FLUSH, sizeof(struct msg_flush), 11);
	msgbuf_init(&mb);
	for (i = 0; i < b.len; i++) {
		msgbuf_feed(&mb, b.data + i, 1);
		r = msg_get(&mb, &m);
		if (i + 1 < b.len && r != 0)
			early = 1;
	}
	T_OK(!early, "byte by byte: nothing before the last byte");
	T_INTEQ(r, 1, "byte by byte: the message on the last byte");
	T_OK(m.hdr.type == MSG_FLUSH && m.hdr.gen == 11 &&
	    memcmp(m.payload, b.data + sizeof(struct msg_hdr),
	    sizeof(struct msg_flush)) == 0, "byte by byte: content");
	T_INTEQ(msg_get(&mb, &m), 0, "byte by byte: consumed");
	T_INTEQ(mb.len, 0, "byte by byte: buffer empty after consumption");

	/* the same through a socketpair, a write per byte */
	{
		int sv[2];
		int bad = 0;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
			nonblock(sv[0]);
			for (i = 0; i < b.len; i++) {
				if (write(sv[1], b.data + i, 1) != 1 ||
				    msgbuf_read(&mb, sv[0]) != 1)
					bad = 1;
				r = msg_get(&mb, &m);
				if (i + 1 < b.len && r != 0)
					bad = 1;
			}
			T_OK(!bad && r == 1 && m.hdr.type == MSG_FLUSH,
			    "socketpair, one byte per read");
			close(sv[0]);
			close(sv[1]);
		}
	}

	/* a message split across two reads, header split too */
	buf_reset(&b);
	frame(&b, MSG_HELLO, sizeof(struct msg_hello), 2);
	frame(&b, MSG_CONFIG, 1000, 2);
	msgbuf_free(&mb);
	msgbuf_feed(&mb, b.data, 7);
	T_INTEQ(msg_get(&mb, &m), 0, "split header: need more");
	msgbuf_feed(&mb, b.data + 7, sizeof(struct msg_hdr) +
	    sizeof(struct msg_hello) + 20 - 7);
	T_INTEQ(msg_get(&mb, &m), 1, "first message complete");
	T_INTEQ(m.hdr.type, MSG_HELLO, "first is HELLO");
	T_INTEQ(msg_get(&mb, &m), 0, "second split inside its payload");
	msgbuf_feed(&mb, b.data + sizeof(struct msg_hdr) +
	    sizeof(struct msg_hello) + 20,
	    b.len - (sizeof(struct msg_hdr) + sizeof(struct msg_hello) + 20));
	T_INTEQ(msg_get(&mb, &m), 1, "second complete after the rest");
	T_OK(m.hdr.type == MSG_CONFIG && m.hdr.len == 1000 &&
	    memcmp(m.payload, b.data + 2 * sizeof(struct msg_hdr) +
	    sizeof(struct msg_hello), 1000) == 0, "second CONFIG intact");
	T_INTEQ(msg_get(&mb, &m), 0, "then nothing");
	msgbuf_free(&mb);
	buf_free(&b);
}

static void
test_many(void)
{
	struct msgbuf mb;
	struct msg m;
	struct buf b;
	int i, ok = 1;
	uint32_t types[] = { MSG_HELLO, MSG_STATS, MSG_DONE, MSG_CONFIG,
	    MSG_FLUSH, MSG_DONE, MSG_CONFIG };
	uint32_t lens[] = { sizeof(struct msg_hello), sizeof(struct msg_stats),
	    0, 5, sizeof(struct msg_flush), 0, 0 };

	buf_init(&b);
	for (i = 0; i < 7; i++)
		frame(&b, types[i], lens[i], (uint32_t)i);
	/* one feed holds every message and half of another */
	frame(&b, MSG_STATS, sizeof(struct msg_stats), 99);
	msgbuf_init(&mb);
	msgbuf_feed(&mb, b.data, b.len - 10);
	for (i = 0; i < 7; i++) {
		if (msg_get(&mb, &m) != 1 || m.hdr.type != types[i] ||
		    m.hdr.len != lens[i] || m.hdr.gen != (uint32_t)i)
			ok = 0;
	}
	T_OK(ok, "seven messages from one buffer, in order");
	T_INTEQ(msg_get(&mb, &m), 0, "the eighth is incomplete");
	msgbuf_feed(&mb, b.data + b.len - 10, 10);
	T_INTEQ(msg_get(&mb, &m), 1, "the eighth after its tail");
	T_INTEQ(m.hdr.gen, 99, "the eighth's generation");
	msgbuf_free(&mb);
	buf_free(&b);
}

/* One header alone (no payload) must already be judged. */
static int
hdr_verdict(uint32_t type, uint32_t len, int with_payload)
{
	struct msgbuf mb;
	struct msg m;
	struct msg_hdr h;
	int r;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = len;
	msgbuf_init(&mb);
	msgbuf_feed(&mb, &h, sizeof(h));
	if (with_payload && len <= MSG_MAX_PAYLOAD) {
		void *p = xcalloc(1, len + 1);

		msgbuf_feed(&mb, p, len);
		free(p);
	}
	r = msg_get(&mb, &m);
	if (r == -1 && msg_get(&mb, &m) != -1)
		r = 99;		/* a violation must stick */
	msgbuf_free(&mb);
	return r;
}

static void
test_bad(void)
{
	static const struct {
		uint32_t type;
		uint32_t len;
		const char *what;
	} bad[] = {
		{ 0, 0, "type 0" },
		{ MSG_TYPE_MAX, 0, "type MSG_TYPE_MAX" },
		{ 77, 0, "type 77" },
		{ UINT32_MAX, 0, "type 2^32-1" },
		{ MSG_HELLO, sizeof(struct msg_hello) - 1, "HELLO one short" },
		{ MSG_HELLO, sizeof(struct msg_hello) + 1, "HELLO one long" },
		{ MSG_HELLO, 0, "HELLO empty" },
		{ MSG_FLUSH, sizeof(struct msg_flush) - 1, "FLUSH one short" },
		{ MSG_FLUSH, sizeof(struct msg_flush) + 8, "FLUSH long" },
		{ MSG_STATS, sizeof(struct msg_stats) - 8, "STATS short" },
		{ MSG_STATS, sizeof(struct msg_stats) + 1, "STATS one long" },
		{ MSG_DONE, 1, "DONE with a payload" },
		{ MSG_DONE, UINT32_MAX, "DONE with 4 GiB" },
		{ MSG_CONFIG, MSG_MAX_PAYLOAD + 1, "CONFIG one over the limit" },
		{ MSG_CONFIG, UINT32_MAX, "CONFIG 4 GiB" },
		{ MSG_HELLO, UINT32_MAX, "HELLO 4 GiB" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_INTEQ(hdr_verdict(bad[i].type, bad[i].len, 0), -1,
		    bad[i].what);
		if (bad[i].len <= MSG_MAX_PAYLOAD)
			T_INTEQ(hdr_verdict(bad[i].type, bad[i].len, 1), -1,
			    bad[i].what);
	}
	T_INTEQ(hdr_verdict(MSG_CONFIG, MSG_MAX_PAYLOAD, 0), 0,
	    "CONFIG at the limit: waits for the payload");
	T_INTEQ(hdr_verdict(MSG_CONFIG, MSG_MAX_PAYLOAD, 1), 1,
	    "CONFIG at the limit: accepted");
	T_INTEQ(hdr_verdict(MSG_HELLO, sizeof(struct msg_hello), 0), 0,
	    "HELLO header alone: waits");

	/* a good message, then garbage: the good one still comes out */
	{
		struct msgbuf mb;
		struct msg m;
		struct buf b;

		buf_init(&b);
		frame(&b, MSG_DONE, 0, 1);
		frame(&b, MSG_DONE, 3, 1);
		msgbuf_init(&mb);
		msgbuf_feed(&mb, b.data, b.len);
		T_INTEQ(msg_get(&mb, &m), 1, "good message before a bad one");
		T_INTEQ(msg_get(&mb, &m), -1, "then the bad one is refused");
		msgbuf_free(&mb);
		buf_free(&b);
	}
}

static void
feed_nothing(void)
{
	struct msgbuf mb;
	struct msg m;

	msgbuf_init(&mb);
	msgbuf_feed(&mb, "", 0);
	if (msg_get(&mb, &m) != 0)
		_exit(1);
	msgbuf_free(&mb);
}

static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		fn();
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The helpers' messages: each exact length passes, one byte more or less
 * is a protocol error; PUBLISH is its fixed part plus the text. */
static void
test_helper_types(void)
{
	static const struct {
		uint32_t	type;
		size_t		len;
	} t[] = {
		{ MSG_TOPO_REQ, 0 },
		{ MSG_TOPO_SHARD, sizeof(struct msg_topo_shard) },
		{ MSG_TOPO_END, sizeof(struct msg_result) },
		{ MSG_PUBLISHED, sizeof(struct msg_result) },
		{ MSG_M_STATS, sizeof(struct msg_m_stats) },
		{ MSG_M_FLUSH, sizeof(struct msg_m_flush) },
		{ MSG_M_EVENT, sizeof(struct msg_m_event) },
	};
	size_t i;
	int d;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (d = -1; d <= 1; d++) {
			struct msgbuf mb;
			struct buf b;
			struct msg m;
			int r;

			if (d == -1 && t[i].len == 0)
				continue;
			buf_init(&b);
			msgbuf_init(&mb);
			frame(&b, t[i].type, (uint32_t)(t[i].len + d), 1);
			msgbuf_feed(&mb, b.data, b.len);
			r = msg_get(&mb, &m);
			T_INTEQ(r, d == 0 ? 1 : -1, d == 0 ?
			    "helper message of its exact length accepted" :
			    "helper message one byte off rejected");
			if (r != (d == 0 ? 1 : -1))
				printf("#   type %s, length %zu%+d\n",
				    msg_type_name(t[i].type), t[i].len, d);
			msgbuf_free(&mb);
			buf_free(&b);
		}
	for (d = -1; d <= 100; d += 101) {
		struct msgbuf mb;
		struct buf b;
		struct msg m;

		buf_init(&b);
		msgbuf_init(&mb);
		frame(&b, MSG_PUBLISH, (uint32_t)(sizeof(struct msg_publish) + d),
		    1);
		msgbuf_feed(&mb, b.data, b.len);
		T_INTEQ(msg_get(&mb, &m), d < 0 ? -1 : 1, d < 0 ?
		    "PUBLISH shorter than its fixed part rejected" :
		    "PUBLISH with a 100-byte text accepted");
		msgbuf_free(&mb);
		buf_free(&b);
	}
	T_STREQ(msg_type_name(MSG_M_EVENT), "M_EVENT", "M_EVENT is named");
	T_INTEQ(sizeof(((struct msg_hello *)0)->shard) > 128, 1,
	    "HELLO holds a 128-character shard ID and its NUL");
}

int
main(void)
{
	test_names();
	test_roundtrip();
	test_big();
	test_send_errors();
	test_partial();
	test_many();
	test_bad();
	test_helper_types();
	/*
	 * BUG (common/msg.c msgbuf_feed): feeding 0 bytes to a fresh msgbuf
	 * calls memcpy(NULL, p, 0), undefined behaviour (UBSan aborts).
	 */
	T_OK(in_child(feed_nothing),
	    "BUG msgbuf_feed of 0 bytes on a new msgbuf: no memcpy to NULL");
	return t_done();
}
