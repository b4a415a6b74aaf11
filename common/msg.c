/*
 * msg.c: framing for the supervisor <-> worker channel. The receiver checks
 * the type and the exact payload length before anything looks inside, so a
 * confused or hostile worker is detected at the first bad byte count.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "msg.h"
#include "util.h"

static const char *const names[MSG_TYPE_MAX] = {
	[MSG_HELLO] = "HELLO",
	[MSG_CONFIG] = "CONFIG",
	[MSG_FLUSH] = "FLUSH",
	[MSG_STATS] = "STATS",
	[MSG_DONE] = "DONE",
	[MSG_HEALTH] = "HEALTH",
	[MSG_TOPO_REQ] = "TOPO_REQ",
	[MSG_TOPO_SHARD] = "TOPO_SHARD",
	[MSG_TOPO_END] = "TOPO_END",
	[MSG_PUBLISH] = "PUBLISH",
	[MSG_PUBLISHED] = "PUBLISHED",
	[MSG_M_STATS] = "M_STATS",
	[MSG_M_FLUSH] = "M_FLUSH",
	[MSG_M_EVENT] = "M_EVENT",
	[MSG_L_GAINED] = "L_GAINED",
	[MSG_L_LOST] = "L_LOST",
	[MSG_L_RELEASE] = "L_RELEASE",
	[MSG_L_RELEASED] = "L_RELEASED",
	[MSG_L_ANNOUNCED] = "L_ANNOUNCED",
	[MSG_L_SHED] = "L_SHED",
};

const char *
msg_type_name(uint32_t type)
{
	if (type > 0 && type < MSG_TYPE_MAX && names[type] != NULL)
		return names[type];
	return "UNKNOWN";
}

/* The exact payload length of each type; SIZE_MAX: variable up to the max. */
static size_t
msg_expected_len(uint32_t type)
{
	switch (type) {
	case MSG_HELLO:
		return sizeof(struct msg_hello);
	case MSG_CONFIG:
		return SIZE_MAX;
	case MSG_FLUSH:
		return sizeof(struct msg_flush);
	case MSG_STATS:
		return sizeof(struct msg_stats);
	case MSG_DONE:
		return 0;
	case MSG_HEALTH:
		return sizeof(struct msg_health);
	case MSG_TOPO_REQ:
		return 0;
	case MSG_TOPO_SHARD:
		return sizeof(struct msg_topo_shard);
	case MSG_TOPO_END:
	case MSG_PUBLISHED:
		return sizeof(struct msg_result);
	case MSG_PUBLISH:
		return SIZE_MAX;	/* at least struct msg_publish */
	case MSG_M_STATS:
		return sizeof(struct msg_m_stats);
	case MSG_M_FLUSH:
		return sizeof(struct msg_m_flush);
	case MSG_M_EVENT:
		return sizeof(struct msg_m_event);
	case MSG_L_GAINED:
	case MSG_L_LOST:
	case MSG_L_RELEASE:
	case MSG_L_SHED:
		return sizeof(struct msg_lease);
	case MSG_L_RELEASED:
		return sizeof(struct msg_result);
	case MSG_L_ANNOUNCED:
		return sizeof(struct msg_l_note);
	default:
		return 0;
	}
}

void
msgbuf_init(struct msgbuf *mb)
{
	memset(mb, 0, sizeof(*mb));
}

void
msgbuf_free(struct msgbuf *mb)
{
	free(mb->data);
	msgbuf_init(mb);
}

static void
msgbuf_reserve(struct msgbuf *mb, size_t extra)
{
	if (mb->len + extra <= mb->cap)
		return;
	mb->cap = mb->len + extra < 4096 ? 4096 : mb->len + extra;
	mb->data = xrealloc(mb->data, mb->cap);
}

void
msgbuf_feed(struct msgbuf *mb, const void *p, size_t n)
{
	if (n == 0)
		return;
	msgbuf_reserve(mb, n);
	memcpy(mb->data + mb->len, p, n);
	mb->len += n;
}

ssize_t
msgbuf_read(struct msgbuf *mb, int fd)
{
	ssize_t n;

	/* messages are small: grow in modest steps (one per worker) */
	msgbuf_reserve(mb, 4096);
	do {
		n = read(fd, mb->data + mb->len, mb->cap - mb->len);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		mb->len += (size_t)n;
	return n;
}

int
msg_get(struct msgbuf *mb, struct msg *m)
{
	struct msg_hdr h;
	size_t want;

	/* the message handed out last time is done with now */
	if (mb->consume > 0) {
		memmove(mb->data, mb->data + mb->consume, mb->len - mb->consume);
		mb->len -= mb->consume;
		mb->consume = 0;
	}
	memset(m, 0, sizeof(*m));
	if (mb->len < sizeof(h))
		return 0;
	memcpy(&h, mb->data, sizeof(h));
	if (h.type == 0 || h.type >= MSG_TYPE_MAX || h.len > MSG_MAX_PAYLOAD)
		return -1;
	want = msg_expected_len(h.type);
	if (want != SIZE_MAX && h.len != want)
		return -1;
	if (h.type == MSG_PUBLISH && h.len < sizeof(struct msg_publish))
		return -1;
	if (mb->len < sizeof(h) + h.len)
		return 0;
	m->hdr = h;
	m->payload = mb->data + sizeof(h);
	mb->consume = sizeof(h) + h.len;
	return 1;
}

int
msg_send(int fd, uint32_t type, uint32_t gen, const void *p, size_t len,
    int timeout_ms)
{
	struct msg_hdr h;
	struct iovec iov[2];
	size_t off = 0, total;

	if (len > MSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = (uint32_t)len;
	h.gen = gen;
	total = sizeof(h) + len;
	while (off < total) {
		ssize_t n;
		int cnt = 0;

		if (off < sizeof(h)) {
			iov[cnt].iov_base = (char *)&h + off;
			iov[cnt++].iov_len = sizeof(h) - off;
			if (len > 0) {
				iov[cnt].iov_base = (void *)(uintptr_t)p;
				iov[cnt++].iov_len = len;
			}
		} else {
			iov[cnt].iov_base = (char *)(uintptr_t)p +
			    (off - sizeof(h));
			iov[cnt++].iov_len = total - off;
		}
		n = writev(fd, iov, cnt);
		if (n == -1) {
			struct pollfd pfd;
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			pfd.fd = fd;
			pfd.events = POLLOUT;
			r = poll(&pfd, 1, timeout_ms);
			if (r == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (r == -1 && errno != EINTR)
				return -1;
			continue;
		}
		off += (size_t)n;
	}
	return 0;
}
