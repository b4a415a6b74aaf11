/*
 * metrics.c: per-shard metric accumulation, statsd lines over UDP and
 * CloudWatch datums every interval (dimensions StreamName and ShardId, plus
 * stream-level aggregates with StreamName only; the request itself is
 * common/cloudwatch.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudwatch.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

enum { M_RECORDS_READ, M_BYTES_READ, M_GETRECORDS_CALLS, M_GETRECORDS_THROTTLED,
	M_MILLIS_BEHIND, M_BATCHES_FLUSHED, M_BATCH_RECORDS, M_BATCH_BYTES,
	M_FLUSH_LATENCY, M_S3_PUT_ERRORS, M_NOTIFICATION_ERRORS,
	M_WORKER_RESTARTS, M_WORKERS_RUNNING, M_NOTIFICATIONS_PENDING,
	M_LEASES_HELD, M_COUNT };

static const struct {
	const char	*name;
	const char	*unit;
	char		 statsd;	/* 'c' counter, 'g' gauge, 't' timer */
	int		 gauge;
	int		 set;		/* CloudWatch: a statistic set per push */
} defs[M_COUNT] = {
	[M_RECORDS_READ] = { "RecordsRead", "Count", 'c', 0, 0 },
	[M_BYTES_READ] = { "BytesRead", "Bytes", 'c', 0, 0 },
	[M_GETRECORDS_CALLS] = { "GetRecordsCalls", "Count", 'c', 0, 0 },
	[M_GETRECORDS_THROTTLED] = { "GetRecordsThrottled", "Count", 'c', 0, 0 },
	[M_MILLIS_BEHIND] = { "MillisBehindLatest", "Milliseconds", 'g', 1, 0 },
	[M_BATCHES_FLUSHED] = { "BatchesFlushed", "Count", 'c', 0, 0 },
	[M_BATCH_RECORDS] = { "BatchRecords", "Count", 'c', 0, 1 },
	[M_BATCH_BYTES] = { "BatchBytes", "Bytes", 'c', 0, 1 },
	[M_FLUSH_LATENCY] = { "FlushLatency", "Milliseconds", 't', 0, 1 },
	[M_S3_PUT_ERRORS] = { "S3PutErrors", "Count", 'c', 0, 0 },
	[M_NOTIFICATION_ERRORS] = { "NotificationErrors", "Count", 'c', 0, 0 },
	[M_WORKER_RESTARTS] = { "WorkerRestarts", "Count", 'c', 0, 0 },
	[M_WORKERS_RUNNING] = { "WorkersRunning", "Count", 'g', 1, 0 },
	[M_NOTIFICATIONS_PENDING] = { "NotificationsPending", "Count", 'g', 1,
	    0 },
	[M_LEASES_HELD] = { "LeasesHeld", "Count", 'g', 1, 0 },
};

/* One value per metric for one interval: sum (or last value for gauges),
 * and for timers the sample count, min and max. */
struct acc {
	double		sum[M_COUNT];
	double		min[M_COUNT];
	double		max[M_COUNT];
	uint64_t	n[M_COUNT];
};

struct mshard {
	char		*shard;
	struct acc	 acc;
	int		 closed;	/* dropped after the next push */
};

static struct {
	int		 statsd_fd;
	char		*prefix;
	struct mshard	*shards;
	size_t		 nshards;
	struct acc	 stream;	/* stream-level */
	uint64_t	 next_push;
	int		 cw;
	uint64_t	 interval;
	uint64_t	 push_errors;
	uint64_t	 corrupt_aggregates;
	uint64_t	 bad_responses;
	int		 last_failed;	/* the last push failed */
	char		 push_ts[32];	/* ISO 8601 time of the push */
} m = { .statsd_fd = -1 };

static void
acc_add(struct acc *a, int id, double v)
{
	if (a->n[id] == 0 || v < a->min[id])
		a->min[id] = v;
	if (a->n[id] == 0 || v > a->max[id])
		a->max[id] = v;
	if (defs[id].gauge)
		a->sum[id] = v;
	else
		a->sum[id] += v;
	a->n[id]++;
}

static struct mshard *
shard_acc(const char *shard)
{
	size_t i;

	for (i = 0; i < m.nshards; i++)
		if (strcmp(m.shards[i].shard, shard) == 0)
			return &m.shards[i];
	m.shards = xrealloc(m.shards, (m.nshards + 1) * sizeof(*m.shards));
	memset(&m.shards[m.nshards], 0, sizeof(m.shards[0]));
	m.shards[m.nshards].shard = xstrdup(shard);
	return &m.shards[m.nshards++];
}

/* <prefix><Metric>[.<ShardId>]:<value>|<type>: the shard in the name, as
 * plain statsd has no tags (kinesis-keeper.conf(5)) */
static void
statsd_send(const char *shard, int id, double v)
{
	char line[512];
	int n;

	if (m.statsd_fd == -1)
		return;
	n = snprintf(line, sizeof(line), "%s%s%s%s:%.0f|%s", m.prefix,
	    defs[id].name, shard ? "." : "", shard ? shard : "", v,
	    defs[id].statsd == 'c' ? "c" : defs[id].statsd == 'g' ? "g" : "ms");
	/* UDP, non-blocking: a missing statsd costs nothing */
	if (n > 0 && send(m.statsd_fd, line, (size_t)n, MSG_DONTWAIT) == -1 &&
	    errno != ECONNREFUSED && errno != EAGAIN)
		log_debug("statsd: %s", strerror(errno));
}

static void
record(const char *shard, int id, double v)
{
	if (shard != NULL)
		acc_add(&shard_acc(shard)->acc, id, v);
	if (id == M_MILLIS_BEHIND) {
		/* stream level: the shard furthest behind */
		if (m.stream.n[id] == 0 || v > m.stream.sum[id])
			acc_add(&m.stream, id, v);
		else
			m.stream.n[id]++;
	} else
		acc_add(&m.stream, id, v);
	statsd_send(shard, id, v);
}

void
metrics_init(const struct cfg *cfg)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int r;

	if (m.statsd_fd != -1)
		close(m.statsd_fd);
	m.statsd_fd = -1;
	free(m.prefix);
	m.prefix = xstrdup(cfg->statsd_prefix ? cfg->statsd_prefix : "");
	m.cw = cfg->cw_enabled;
	m.interval = cfg->cw_interval_ms;
	if (m.next_push == 0)
		m.next_push = now_ms() + m.interval;
	if (cfg->statsd_host == NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(port, sizeof(port), "%d", cfg->statsd_port);
	if ((r = getaddrinfo(cfg->statsd_host, port, &hints, &res)) != 0) {
		log_warnx("statsd %s: %s; statsd disabled", cfg->statsd_host,
		    gai_strerror(r));
		return;
	}
	m.statsd_fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (m.statsd_fd == -1 || connect(m.statsd_fd, res->ai_addr,
	    res->ai_addrlen) == -1) {
		log_warn("statsd %s", cfg->statsd_host);
		if (m.statsd_fd != -1)
			close(m.statsd_fd);
		m.statsd_fd = -1;
	}
	freeaddrinfo(res);
}

void
metrics_stats(const char *shard, const struct msg_stats *s)
{
	if (s->records_read)
		record(shard, M_RECORDS_READ, (double)s->records_read);
	if (s->bytes_read)
		record(shard, M_BYTES_READ, (double)s->bytes_read);
	if (s->getrecords_calls)
		record(shard, M_GETRECORDS_CALLS, (double)s->getrecords_calls);
	if (s->getrecords_throttled)
		record(shard, M_GETRECORDS_THROTTLED,
		    (double)s->getrecords_throttled);
	if (s->s3_put_errors)
		record(shard, M_S3_PUT_ERRORS, (double)s->s3_put_errors);
	/* not among the metrics of kinesis-keeper.conf(5): counted here,
	 * and told at shutdown */
	m.corrupt_aggregates += s->corrupt_aggregates;
	m.bad_responses += s->bad_records;
	record(shard, M_MILLIS_BEHIND, (double)s->millis_behind_latest);
}

void
metrics_flush(const char *shard, const struct msg_flush *f)
{
	record(shard, M_BATCHES_FLUSHED, 1);
	record(shard, M_BATCH_RECORDS, (double)f->records);
	record(shard, M_BATCH_BYTES, (double)f->bytes);
	record(shard, M_FLUSH_LATENCY, (double)f->latency_ms);
}

void
metrics_restart(const char *shard)
{
	record(shard, M_WORKER_RESTARTS, 1);
}

void
metrics_notification_error(const char *shard)
{
	record(shard, M_NOTIFICATION_ERRORS, 1);
}

void
metrics_workers_running(int n)
{
	static int last = -1;
	static uint64_t sent;

	acc_add(&m.stream, M_WORKERS_RUNNING, n);
	/* called every turn of the loop: tell statsd on change, or every 10 s */
	if (n != last || now_ms() - sent >= 10000) {
		statsd_send(NULL, M_WORKERS_RUNNING, n);
		last = n;
		sent = now_ms();
	}
}

/* leases.table set: sent on change and every 10 s by the supervisor */
void
metrics_leases(uint64_t n)
{
	acc_add(&m.stream, M_LEASES_HELD, (double)n);
	statsd_send(NULL, M_LEASES_HELD, (double)n);
}

void
metrics_pending(uint64_t n)
{
	acc_add(&m.stream, M_NOTIFICATIONS_PENDING, (double)n);
	statsd_send(NULL, M_NOTIFICATIONS_PENDING, (double)n);
}

/* A shard that is done: its last values go out with the next push, then
 * nothing more is sent for it. */
void
metrics_forget(const char *shard)
{
	size_t i;

	for (i = 0; i < m.nshards; i++)
		if (strcmp(m.shards[i].shard, shard) == 0) {
			m.shards[i].closed = 1;
			if (!m.cw) {	/* no push will drop it */
				free(m.shards[i].shard);
				m.shards[i] = m.shards[--m.nshards];
			}
			return;
		}
}

static void
datum(struct buf *b, int *idx, const struct cfg *cfg, const char *shard,
    const struct acc *a, int id)
{
	struct cw_datum d;

	memset(&d, 0, sizeof(d));
	d.name = defs[id].name;
	d.unit = defs[id].unit;
	d.timestamp = m.push_ts;
	d.stream = cfg->stream;
	d.shard = shard;
	d.value = a->sum[id];
	if (defs[id].set && a->n[id] > 0) {
		d.count = a->n[id];
		d.min = a->min[id];
		d.max = a->max[id];
	}
	cw_add(b, ++*idx, &d);
}

static int
put_batch(struct aws_ctx *ctx, struct buf *b)
{
	struct aws_result res;
	int r;

	aws_result_init(&res);
	/* metrics never hold up archiving: cw_put_metric_data makes one
	 * short attempt */
	r = cw_put_metric_data(ctx, b, &res);
	if (r == -1) {
		m.push_errors++;
		m.last_failed = 1;
		log_warnx("cloudwatch: PutMetricData failed: %s; data points "
		    "dropped", aws_strerror(&res));
	}
	aws_result_free(&res);
	return r;
}

static void
push(struct aws_ctx *ctx, const struct cfg *cfg)
{
	struct buf b;
	int idx = 0, id;
	size_t i;

	buf_init(&b);
	fmt_iso8601_ms((int64_t)wall_ms(), m.push_ts, sizeof(m.push_ts));
#define START() do {							\
	cw_start(&b, cfg->cw_namespace);				\
	idx = 0;							\
} while (0)
#define MAYBE_SEND() do {						\
	if (idx >= CW_BATCH) {						\
		if (put_batch(ctx, &b) == -1)				\
			goto out;	/* the rest is dropped too */	\
		START();						\
	}								\
} while (0)
	m.last_failed = 0;
	START();
	for (i = 0; i <= m.nshards; i++) {
		const char *shard = i < m.nshards ? m.shards[i].shard : NULL;
		struct acc *a = i < m.nshards ? &m.shards[i].acc : &m.stream;

		for (id = 0; id < M_COUNT; id++) {
			/* counters are reported as 0 too: a flat line is news */
			if (defs[id].gauge && a->n[id] == 0)
				continue;
			if (defs[id].set && a->n[id] == 0)
				continue;
			if (shard != NULL && (id == M_NOTIFICATION_ERRORS ||
			    id == M_WORKERS_RUNNING ||
			    id == M_NOTIFICATIONS_PENDING))
				continue;
			datum(&b, &idx, cfg, shard, a, id);
			MAYBE_SEND();
		}
	}
	if (idx > 0)
		put_batch(ctx, &b);
out:
#undef START
#undef MAYBE_SEND
	buf_free(&b);
	for (i = 0; i < m.nshards; i++)
		memset(&m.shards[i].acc, 0, sizeof(m.shards[i].acc));
	memset(&m.stream, 0, sizeof(m.stream));
	/* closed shards leave the table (swap with the last one) */
	for (i = 0; i < m.nshards; )
		if (m.shards[i].closed) {
			free(m.shards[i].shard);
			m.shards[i] = m.shards[--m.nshards];
		} else
			i++;
}

uint64_t
metrics_tick(struct aws_ctx *ctx, const struct cfg *cfg)
{
	uint64_t now = now_ms();

	if (!m.cw)
		return 60000;
	if (now >= m.next_push) {
		push(ctx, cfg);
		m.next_push = now + m.interval;
	}
	return m.next_push - now_ms() < m.interval ? m.next_push - now_ms() : 0;
}

void
metrics_shutdown(struct aws_ctx *ctx, const struct cfg *cfg)
{
	size_t i;

	/* a last push, unless CloudWatch just failed: the stop is bounded */
	if (m.cw && !m.last_failed)
		push(ctx, cfg);
	if (m.corrupt_aggregates || m.bad_responses || m.push_errors)
		log_notice("since start: %llu corrupt KPL aggregates archived "
		    "whole, %llu malformed GetRecords answers read again, "
		    "%llu failed CloudWatch pushes",
		    (unsigned long long)m.corrupt_aggregates,
		    (unsigned long long)m.bad_responses,
		    (unsigned long long)m.push_errors);
	if (m.statsd_fd != -1)
		close(m.statsd_fd);
	m.statsd_fd = -1;
	for (i = 0; i < m.nshards; i++)
		free(m.shards[i].shard);
	free(m.shards);
	m.shards = NULL;
	m.nshards = 0;
	free(m.prefix);
	m.prefix = NULL;
}
