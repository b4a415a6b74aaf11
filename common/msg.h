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
	/* the supervisor's helpers (kinesis-keeper-worker -H ROLE): they own
	 * its network calls, so that its loop never waits on the network */
	MSG_TOPO_REQ,		/* sup -> topology helper: list the shards (empty) */
	MSG_TOPO_SHARD,		/* topology helper -> sup: struct msg_topo_shard */
	MSG_TOPO_END,		/* topology helper -> sup: struct msg_result, last */
	MSG_PUBLISH,		/* sup -> notify helper: struct msg_publish + text */
	MSG_PUBLISHED,		/* notify helper -> sup: struct msg_result */
	MSG_M_STATS,		/* sup -> metrics helper: struct msg_m_stats */
	MSG_M_FLUSH,		/* sup -> metrics helper: struct msg_m_flush */
	MSG_M_EVENT,		/* sup -> metrics helper: struct msg_m_event */
	/* the lease helper (leases.table set) */
	MSG_L_GAINED,		/* lease helper -> sup: struct msg_lease */
	MSG_L_LOST,		/* lease helper -> sup: struct msg_lease */
	MSG_L_RELEASE,		/* sup -> lease helper: struct msg_lease ("": all) */
	MSG_L_RELEASED,		/* lease helper -> sup: struct msg_result */
	MSG_L_ANNOUNCED,	/* sup -> lease helper: struct msg_l_note */
	MSG_L_SHED,		/* lease helper -> sup: struct msg_lease: stop
				 * its worker, then MSG_L_RELEASE it */
	MSG_TYPE_MAX
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes following the header */
	uint32_t	gen;		/* the worker generation the supervisor gave it */
	uint32_t	pad;
};

/* 128 characters, the longest shard ID AWS allows, and its NUL */
#define MSG_SHARD_LEN	132

struct msg_hello {
	int32_t		pid;
	char		shard[MSG_SHARD_LEN];	/* NUL-terminated; a helper: its role */
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

struct msg_topo_shard {
	char		id[MSG_SHARD_LEN];	/* each NUL-terminated, "" if none */
	char		parent[MSG_SHARD_LEN];
	char		adjacent[MSG_SHARD_LEN];
};

/* The end of a helper's call: ok, or what failed and whether it will heal. */
struct msg_result {
	uint64_t	id;		/* MSG_PUBLISHED: the id of the MSG_PUBLISH */
	uint32_t	ok;
	uint32_t	permanent;	/* 1: will not heal by itself */
	uint32_t	count;		/* MSG_TOPO_END: shards sent before it */
	uint32_t	pad;
	char		code[128];	/* AWS error code, "" if none */
	char		text[512];	/* for the log: what, resource, reason */
};

/* Followed by the message text (variable, up to MSG_MAX_PAYLOAD). */
struct msg_publish {
	uint64_t	id;
	char		shard[MSG_SHARD_LEN];
	char		pad[4];
};

struct msg_m_stats {
	char		shard[MSG_SHARD_LEN];
	char		pad[4];
	struct msg_stats s;
};

struct msg_m_flush {
	char		shard[MSG_SHARD_LEN];
	char		pad[4];
	struct msg_flush f;
};

enum msg_m_kind {
	MSG_M_RESTART = 1,	/* shard: a worker restart */
	MSG_M_NOTIFY_ERROR,	/* a failed publication */
	MSG_M_WORKERS,		/* value: workers running */
	MSG_M_PENDING,		/* value: notifications pending */
	MSG_M_CLOSED,		/* shard: done, forget its metrics */
	MSG_M_LEASES		/* value: leases held */
};

struct msg_m_event {
	char		shard[MSG_SHARD_LEN];	/* "" for keeper-wide ones */
	uint32_t	kind;
	uint64_t	value;
};

/* A lease won or lost (helper -> sup), or to give up (sup -> helper). */
#define MSG_TOKEN_LEN	36
#define MSG_OWNER_LEN	128
struct msg_lease {
	char		shard[MSG_SHARD_LEN];
	char		token[MSG_TOKEN_LEN];	/* GAINED: the fencing token */
	char		owner[MSG_OWNER_LEN];	/* the other keeper, "" if none */
	int64_t		counter;
	uint32_t	takeover;	/* GAINED: taken without a release */
	uint32_t	pad;
};

/* The last object of a shard whose notification is published (with every
 * one before it): recorded in the lease at the next renewal. */
struct msg_l_note {
	char		shard[MSG_SHARD_LEN];
	char		key[1100];
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
