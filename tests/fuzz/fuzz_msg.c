/*
 * fuzz_msg.c: the framing of common/msg.c on arbitrary bytes, fed in
 * chunks of random sizes (from the input's first four bytes), directly or
 * through a socketpair. A reference decoder of the same byte stream says
 * what msg_get must answer at every step: never a message whose length
 * disagrees with its type, never one that is not the next bytes of the
 * stream, never "need more" when a whole message is there.
 */
/* fuzz-sources: common/msg.c common/util.c common/log.c */
/* fuzz-pkgs: libcrypto */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_msg: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

/* The payload length each type must have; -1: variable up to the max;
 * -3: variable, at least a fixed part. */
static long
want_len(uint32_t type)
{
	switch (type) {
	case MSG_HELLO:
		return (long)sizeof(struct msg_hello);
	case MSG_CONFIG:
		return -1;
	case MSG_FLUSH:
		return (long)sizeof(struct msg_flush);
	case MSG_STATS:
		return (long)sizeof(struct msg_stats);
	case MSG_DONE:
		return 0;
	case MSG_HEALTH:
		return (long)sizeof(struct msg_health);
	case MSG_TOPO_REQ:
		return 0;
	case MSG_TOPO_SHARD:
		return (long)sizeof(struct msg_topo_shard);
	case MSG_TOPO_END:
	case MSG_PUBLISHED:
		return (long)sizeof(struct msg_result);
	case MSG_PUBLISH:
		return -3;	/* at least struct msg_publish */
	case MSG_M_STATS:
		return (long)sizeof(struct msg_m_stats);
	case MSG_M_FLUSH:
		return (long)sizeof(struct msg_m_flush);
	case MSG_M_EVENT:
		return (long)sizeof(struct msg_m_event);
	case MSG_L_GAINED:
	case MSG_L_LOST:
	case MSG_L_RELEASE:
	case MSG_L_SHED:
		return (long)sizeof(struct msg_lease);
	case MSG_L_RELEASED:
		return (long)sizeof(struct msg_result);
	case MSG_L_ANNOUNCED:
		return (long)sizeof(struct msg_l_note);
	default:
		return -2;
	}
}

/* What msg_get must say about stream[0..avail): 1, 0 or -1. */
static int
reference(const unsigned char *s, size_t avail)
{
	struct msg_hdr h;
	long w;

	if (avail < sizeof(h))
		return 0;
	memcpy(&h, s, sizeof(h));
	w = want_len(h.type);
	if (w == -2 || h.len > MSG_MAX_PAYLOAD || (w >= 0 && h.len != w) ||
	    (w == -3 && h.len < sizeof(struct msg_publish)))
		return -1;
	return avail >= sizeof(h) + h.len ? 1 : 0;
}

static uint32_t
next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static volatile unsigned sink;

/* Drain every message msg_get has; 1 to go on, 0 after a violation. */
static int
drain(struct msgbuf *mb, const unsigned char *s, size_t fed, size_t *done)
{
	struct msg m;
	const unsigned char *p;
	unsigned sum = 0;
	size_t i;
	int r, ref;

	for (;;) {
		ref = reference(s + *done, fed - *done);
		r = msg_get(mb, &m);
		if (r != ref)
			FAIL("msg_get says %d, the stream says %d (offset %zu, "
			    "%zu bytes fed)", r, ref, *done, fed);
		if (r <= 0)
			return r == 0;
		if (m.hdr.type == 0 || m.hdr.type >= MSG_TYPE_MAX)
			FAIL("message of type %u", m.hdr.type);
		if (want_len(m.hdr.type) >= 0 ?
		    m.hdr.len != (uint32_t)want_len(m.hdr.type) :
		    m.hdr.len > MSG_MAX_PAYLOAD)
			FAIL("%s message with %u bytes",
			    msg_type_name(m.hdr.type), m.hdr.len);
		if (memcmp(&m.hdr, s + *done, sizeof(m.hdr)) != 0)
			FAIL("header is not the next bytes of the stream");
		p = m.payload;
		if (m.hdr.len > 0 && (p == NULL || memcmp(p,
		    s + *done + sizeof(m.hdr), m.hdr.len) != 0))
			FAIL("payload is not the next bytes of the stream");
		for (i = 0; i < m.hdr.len; i++)	/* ASan checks the range */
			sum += p[i];
		*done += sizeof(m.hdr) + m.hdr.len;
		sink += sum;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sv[2] = { -1, -1 };
	struct msgbuf mb;
	const unsigned char *s;
	size_t len, fed = 0, done = 0;
	uint32_t x;
	int sock;

	if (size < 4)
		return 0;
	memcpy(&x, data, 4);
	x |= 1;
	s = data + 4;
	len = size - 4;
	sock = (x & 6) == 6;	/* a quarter of the inputs go through a socket */
	if (sock && sv[0] == -1) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			FAIL("socketpair: %s", strerror(errno));
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	}
	msgbuf_init(&mb);
	while (fed < len) {
		size_t n;

		/* mostly small chunks, sometimes one large one */
		n = next(&x) % 8 == 0 ? next(&x) % 70000 : next(&x) % 40;
		/*
		 * zero-byte feeds are skipped: msgbuf_feed(mb, p, 0) on a
		 * new msgbuf is memcpy(NULL, p, 0) (a known bug, see the
		 * BUG check in tests/unit/test_msg.c)
		 */
		if (n == 0)
			n = 1;
		if (n > len - fed)
			n = len - fed;
		if (sock) {
			size_t got = 0;

			while (got < n) {
				ssize_t w = write(sv[1], s + fed + got, n - got);

				if (w <= 0)
					FAIL("write: %s", strerror(errno));
				while (w > 0) {
					ssize_t r = msgbuf_read(&mb, sv[0]);

					if (r <= 0 || r > w)
						FAIL("msgbuf_read: %zd", r);
					w -= r;
					got += (size_t)r;
				}
			}
		} else
			msgbuf_feed(&mb, s + fed, n);
		fed += n;
		if (!drain(&mb, s, fed, &done))
			break;	/* a violation: the supervisor kills the worker */
	}
	msgbuf_free(&mb);
	return 0;
}
