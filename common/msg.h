/*
 * msg.h: framed binary messages on the supervisor <-> worker socketpair
 * (after OpenBSD imsg). A fixed header {type, len, gen}, a hard size limit,
 * and an exact length check per type. Both ends are on one host: native
 * byte order.
 */
#ifndef KK_MSG_H
#define KK_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_MAX_PAYLOAD	(1024 * 1024)	/* the config text is the largest */

enum msg_type {
	MSG_HELLO = 1,		/* worker -> sup: struct msg_hello, first message */
	MSG_CONFIG,		/* sup -> worker: config file text (variable) */
	MSG_FLUSH,		/* worker -> sup: struct msg_flush, after the checkpoint */
	MSG_STATS,		/* worker -> sup: struct msg_stats, counter deltas */
	MSG_DONE,		/* worker -> sup: shard end reached, flushed, checkpoint done */
	MSG_HEALTH,		/* worker -> sup: struct msg_health, when its health changes */
	MSG_TYPE_MAX
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes following the header */
	uint32_t	gen;		/* the worker generation the supervisor gave it */
	uint32_t	pad;
};

struct msg_hello {
	int32_t		pid;
	char		shard[128];	/* NUL-terminated */
};

struct msg_flush {
	uint64_t	records;
	uint64_t	bytes;		/* record data bytes */
	uint64_t	stored_bytes;	/* object bytes */
	uint64_t	latency_ms;	/* first record read -> checkpoint stored */
	char		outbox[256];	/* outbox entry file name, NUL-terminated */
};

struct msg_stats {
	uint64_t	records_read;
	uint64_t	bytes_read;
	uint64_t	getrecords_calls;
	uint64_t	getrecords_throttled;
	uint64_t	millis_behind_latest;	/* gauge: last value */
	uint64_t	s3_put_errors;
	uint64_t	corrupt_aggregates;
	uint64_t	bad_records;
};

/*
 * A worker reports an error that will not heal by itself (NoSuchBucket,
 * AccessDenied, bad credentials, a missing stream) when it first sees it and
 * at most once a minute while it lasts, and ok = 1 once it is gone (after a
 * successful call of the same kind). The supervisor keeps the last one per
 * shard for `kinesis-keeper status`.
 */
struct msg_health {
	uint64_t	time_ms;	/* wall clock, ms since the epoch */
	uint32_t	ok;		/* 1: healthy again, text empty */
	uint32_t	pad;
	char		text[512];	/* NUL-terminated: what, resource, region, hint */
};

/* Receive side: bytes read from the socket, not yet consumed. */
struct msgbuf {
	unsigned char	*data;
	size_t		 len;
	size_t		 cap;
	size_t		 consume;	/* bytes of the message last returned */
};

struct msg {
	struct msg_hdr	 hdr;
	const void	*payload;	/* points into the msgbuf, valid until the next msg_get */
};

void		 msgbuf_init(struct msgbuf *);
void		 msgbuf_free(struct msgbuf *);
/* Read what is available (non-blocking fd). Returns bytes read, 0 on EOF,
 * -1 on error (errno; EAGAIN means nothing there). */
ssize_t		 msgbuf_read(struct msgbuf *, int fd);
/* Feed bytes directly (tests, fuzzing). */
void		 msgbuf_feed(struct msgbuf *, const void *, size_t);
/* 1: a complete, valid message in *m (consumed on the next call);
 * 0: need more bytes; -1: protocol violation (bad type, bad length). */
int		 msg_get(struct msgbuf *, struct msg *);
/* Write one message completely (waits with poll up to timeout_ms while the
 * socket is full). 0 or -1 with errno. */
int		 msg_send(int fd, uint32_t type, uint32_t gen, const void *,
		    size_t len, int timeout_ms);
const char	*msg_type_name(uint32_t type);

#endif
