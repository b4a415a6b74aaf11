/*
 * worker.c: kinesis-keeper-worker, one process per shard (see
 * kinesis-keeper-worker(8)). It reads its shard from just after its
 * checkpoint, builds batches, and for each batch, in this order: uploads the
 * object to S3, keeps a local copy, writes the notification to the outbox,
 * stores the checkpoint, rewrites the shard's head object, reports the
 * flush. Objects are never overwritten (If-None-Match): a crash before the
 * checkpoint makes the restarted worker re-read the same records, meet its
 * own object under the same key (the key depends only on the batch's first
 * record) and adopt it: the archive, not the local disk, is the truth.
 */
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <json-c/json.h>

#include "archive.h"
#include "aws.h"
#include "batch.h"
#include "cfg.h"
#include "check.h"
#include "ckpt.h"
#include "creds.h"
#include "health.h"
#include "helper.h"
#include "kinesis.h"
#include "kpl.h"
#include "ddb.h"
#include "lease.h"
#include "localcopy.h"
#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "record.h"
#include "s3.h"
#include "util.h"
#include "verify.h"

#define SUP_FD			3	/* the supervisor channel, by contract */
#define THROTTLE_BASE_MS	1000	/* jittered: 500 ms to 1 s at first */
#define THROTTLE_CAP_MS		10000
#define ERROR_BASE_MS		500
#define ERROR_CAP_MS		30000
#define STATS_INTERVAL_MS	1000
#define STATS_IDLE_MS		10000
#define BIG_BUFFER		(8 * 1024 * 1024)

static struct {
	const char		*shard;
	uint32_t		 gen;
	struct cfg		 cfg;
	struct aws_ctx		 aws;
	struct creds		*creds;
	struct batch		 batch;
	struct localcopy	 lc;
	/* where reading stands: the last record consumed into the batch or
	 * archived, and whether the whole Kinesis record is consumed */
	struct pos		 pos;
	int			 pos_complete;
	int			 sigfd;
	int			 stopping;
	int			 reading;	/* a GetRecords is in flight */
	uint64_t		 call_ms;	/* when it was sent */
	int			 busy;		/* the last answer was big: a backlog */
	uint64_t		 stop_deadline;
	struct msg_stats	 stats;
	uint64_t		 stats_sent_ms;
	uint64_t		 stats_behind_sent;
	char			 host[256];
	char			 upload_state[PATH_MAX];
	/* an error that will not heal by itself: paced, and reported; it
	 * heals when a call to health_service ("s3", "kinesis") succeeds */
	struct health_pace	 health;
	const char		*health_service;
	/* the chain: the shard's last object, or (before its first one) the
	 * last object of each parent shard */
	struct arc_link		 prev;
	struct arc_link		 parents[ARC_PARENTS];
	int			 reposition;	/* pos moved: a new iterator */
	/* where the checkpoint stands: a batch given up starts again here */
	struct pos		 committed;
	int			 committed_complete;
	/* re-reading a batch an earlier run archived in parts: it ends
	 * exactly here, whatever the limits say now */
	int			 forced;
	struct pos		 forced_end;
	char			*head_key;
	/* leases.table set: the lease this worker runs under (-L) */
	const char		*token;
} w;

static void
usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper-worker [-dv] [-D key=value]... "
	    "-s shard-id [-L lease-token] -g generation config-file\n");
	exit(EX_FATAL);
}

static void
request_stop(const char *why)
{
	if (w.stopping)
		return;
	log_info("stopping: %s", why);
	w.stopping = 1;
	w.stop_deadline = now_ms() + (w.cfg.shutdown_timeout_ms > 2000 ?
	    w.cfg.shutdown_timeout_ms - 1000 : w.cfg.shutdown_timeout_ms);
}

/* Wait up to timeout_ms for a signal or the supervisor; returns early on
 * either. */
static void
wait_events(uint64_t timeout_ms)
{
	struct pollfd pfd[2];
	struct signalfd_siginfo si;
	char junk[512];
	int r;

	pfd[0].fd = w.sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = SUP_FD;
	pfd[1].events = POLLIN;
	r = poll(pfd, 2, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);
	if (r <= 0)
		return;
	if (pfd[0].revents & POLLIN) {
		while (read(w.sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				request_stop(si.ssi_signo == SIGTERM ?
				    "SIGTERM" : "SIGINT");
		}
	}
	if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t n = read(SUP_FD, junk, sizeof(junk));

		/* the supervisor sends nothing after CONFIG: EOF means it is
		 * gone, and an orphan must flush and exit */
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			request_stop("supervisor went away");
	}
}

static int
interrupted(void)
{
	wait_events(0);
	return w.stopping;
}

/*
 * Checked by curl while a request is in flight: a stop (a signal, or the
 * supervisor gone) ends a GetRecords there; another transfer still running
 * at the stop deadline (an upload to a hung S3) is abandoned; the
 * checkpoint has not moved, so nothing is lost. The request's own wait
 * watches the signalfd and the supervisor (woken() below), so a stop is
 * seen at once; this check polls them at most every 100 ms besides, and
 * not in a GetRecords' first 100 ms: an idle call is over in one, and the
 * wait before the next call polls anyway (a system call fewer per call).
 */
static int
abort_transfer(void)
{
	static uint64_t last;
	uint64_t now = now_ms();

	if (w.reading && w.call_ms > last)
		last = w.call_ms;
	if (now - last >= 100) {
		last = now;
		wait_events(0);
	}
	/* a read is worth nothing once we stop: what we hold gets flushed
	 * now, not after a stalled GetRecords gave up */
	return w.stopping && (w.reading || now >= w.stop_deadline);
}

/* A signal or the supervisor woke a request's wait: see at once whether
 * it is a stop (abort_transfer's rule). */
static int
woken(void)
{
	wait_events(0);
	return w.stopping && (w.reading || now_ms() >= w.stop_deadline);
}

static void
send_stats(int force)
{
	uint64_t now = now_ms();
	int idle;

	if (!force && now - w.stats_sent_ms < STATS_INTERVAL_MS)
		return;
	/* an idle shard has nothing new to say: every 10 s is enough (the
	 * supervisor wakes for each message of each worker) */
	idle = w.stats.records_read == 0 && w.stats.getrecords_throttled == 0 &&
	    w.stats.s3_put_errors == 0 && w.stats.corrupt_aggregates == 0 &&
	    w.stats.bad_records == 0 &&
	    w.stats.millis_behind_latest == w.stats_behind_sent;
	if (!force && idle && now - w.stats_sent_ms < STATS_IDLE_MS)
		return;
	w.stats_behind_sent = w.stats.millis_behind_latest;
	w.stats_sent_ms = now;
	if (msg_send(SUP_FD, MSG_STATS, w.gen, &w.stats, sizeof(w.stats),
	    1000) == -1 && errno != EPIPE)
		log_warn("send stats");
	/* counters are deltas; the gauge stays */
	memset(&w.stats, 0, offsetof(struct msg_stats, millis_behind_latest));
	w.stats.s3_put_errors = w.stats.corrupt_aggregates = 0;
	w.stats.bad_records = 0;
}

/*
 * An error that retries will not heal (a missing bucket or stream, refused
 * credentials, a missing permission): one warning a minute with what to
 * check instead of one per retry, and a HEALTH message to the supervisor
 * for kinesis-keeper status. Returns 1 if res is such an error.
 */
static int
health_bad(const struct aws_result *res, const char *service,
    const char *what, const char *resource)
{
	struct msg_health h;
	enum health_kind kind;

	memset(&h, 0, sizeof(h));
	kind = health_classify(res, what, resource, w.cfg.region, h.text,
	    sizeof(h.text));
	if (kind == HEALTH_OK)
		return 0;
	w.health_service = service;
	if (!health_due(&w.health, kind, now_ms()))
		return 1;
	log_warnx("%s", h.text);
	h.time_ms = wall_ms();
	if (msg_send(SUP_FD, MSG_HEALTH, w.gen, &h, sizeof(h), 1000) == -1 &&
	    errno != EPIPE)
		log_warn("report health to supervisor");
	return 1;
}

/* A call to service succeeded: an error of that service has healed. */
static void
health_good(const char *service)
{
	struct msg_health h;

	if (w.health_service == NULL || strcmp(w.health_service, service) != 0)
		return;
	w.health_service = NULL;
	if (!health_due(&w.health, HEALTH_OK, now_ms()))
		return;
	log_info("%s: healthy again", service);
	memset(&h, 0, sizeof(h));
	h.time_ms = wall_ms();
	h.ok = 1;
	if (msg_send(SUP_FD, MSG_HEALTH, w.gen, &h, sizeof(h), 1000) == -1 &&
	    errno != EPIPE)
		log_warn("report health to supervisor");
}

/* The object is in S3: a missing local copy loses nothing (localcopy.h). */
static void
local_copy(const char *key, const char *first_seq, const void *data,
    size_t len)
{
	char *name, *p;

	if (w.cfg.local_keep <= 0)
		return;
	name = xstrdup(key);
	for (p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	if (strlen(name) > 250 || name[0] == '.') {
		free(name);
		xasprintf(&name, "%s.obj", first_seq);
	}
	lc_store(&w.lc, name, data, len);
	free(name);
}

/*
 * A full disk when the outbox entry or the checkpoint is written: the local
 * copies are expendable, they give their room. 1 if that is worth a second
 * try (some copies were removed), with errno kept for the caller otherwise.
 */
static int
room_freed(void)
{
	int saved = errno;
	size_t gone;

	if (saved != ENOSPC && saved != EDQUOT)
		return 0;
	if ((gone = lc_prune(&w.lc, 0)) == 0) {
		errno = saved;
		return 0;
	}
	log_warnx("no space left in %s: dropped %zu local copies of this "
	    "shard to go on archiving", w.cfg.state_dir, gone);
	return 1;
}

static char *
notification(const char *key, const struct arc_object *o, size_t stored)
{
	static const char *pn[ARC_PARENTS] = { "parent", "parent2" };
	struct json_object *j;
	char *uri, *s, ts[32], name[32];
	size_t i;

	j = json_object_new_object();
	json_object_object_add(j, "version", json_object_new_int(1));
	json_object_object_add(j, "stream", json_object_new_string(w.cfg.stream));
	json_object_object_add(j, "shard", json_object_new_string(w.shard));
	json_object_object_add(j, "bucket",
	    json_object_new_string(w.cfg.s3_bucket));
	json_object_object_add(j, "key", json_object_new_string(key));
	xasprintf(&uri, "s3://%s/%s", w.cfg.s3_bucket, key);
	json_object_object_add(j, "uri", json_object_new_string(uri));
	free(uri);
	json_object_object_add(j, "records",
	    json_object_new_int64((int64_t)o->records));
	json_object_object_add(j, "bytes", json_object_new_int64((int64_t)o->bytes));
	json_object_object_add(j, "stored_bytes",
	    json_object_new_int64((int64_t)stored));
	json_object_object_add(j, "sha256", json_object_new_string(o->sha256));
	json_object_object_add(j, "first_seq",
	    json_object_new_string(o->first.seq));
	json_object_object_add(j, "last_seq", json_object_new_string(o->last.seq));
	if (o->first.has_sub)
		json_object_object_add(j, "first_sub",
		    json_object_new_int64((int64_t)o->first.sub));
	if (o->last.has_sub)
		json_object_object_add(j, "last_sub",
		    json_object_new_int64((int64_t)o->last.sub));
	if (o->first_ts != INT64_MIN) {
		fmt_iso8601_ms(o->first_ts, ts, sizeof(ts));
		json_object_object_add(j, "first_ts", json_object_new_string(ts));
	}
	if (o->last_ts != INT64_MIN) {
		fmt_iso8601_ms(o->last_ts, ts, sizeof(ts));
		json_object_object_add(j, "last_ts", json_object_new_string(ts));
	}
	/* the chain, as in the object's metadata (kinesis-keeper.conf(5)) */
	if (o->prev.sha256[0] != '\0') {
		if (o->prev.key[0] != '\0')
			json_object_object_add(j, "prev_key",
			    json_object_new_string(o->prev.key));
		json_object_object_add(j, "prev_sha256",
		    json_object_new_string(o->prev.sha256));
	}
	for (i = 0; i < ARC_PARENTS; i++) {
		if (o->parents[i].sha256[0] == '\0')
			continue;
		if (o->parents[i].key[0] != '\0') {
			snprintf(name, sizeof(name), "%s_key", pn[i]);
			json_object_object_add(j, name,
			    json_object_new_string(o->parents[i].key));
		}
		snprintf(name, sizeof(name), "%s_sha256", pn[i]);
		json_object_object_add(j, name,
		    json_object_new_string(o->parents[i].sha256));
	}
	json_object_object_add(j, "host", json_object_new_string(w.host));
	json_object_object_add(j, "keeper_version",
	    json_object_new_string(KK_VERSION));
	s = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return s;
}

/*
 * The head object: the one object the keeper overwrites. It is a pointer,
 * not archive data; a stale one (a crash between the object and it) costs
 * one adoption (below) on resume, never a duplicate.
 */
static void
put_head(int done)
{
	struct arc_head h;
	struct aws_result res;
	char *text;

	memset(&h, 0, sizeof(h));
	snprintf(h.shard, sizeof(h.shard), "%s", w.shard);
	if (w.prev.sha256[0] != '\0') {
		snprintf(h.key, sizeof(h.key), "%s", w.prev.key);
		snprintf(h.sha256, sizeof(h.sha256), "%s", w.prev.sha256);
	}
	h.last = w.pos;
	h.last_more = w.pos.has_sub && !w.pos_complete;
	h.last_ts = INT64_MIN;
	h.done = done;
	text = arc_head_format(&h, w.cfg.stream);
	aws_result_init(&res);
	if (s3_put_small(&w.aws, &w.cfg, w.cfg.s3_bucket, w.head_key,
	    "application/json", text, strlen(text), &res) == -1)
		log_warnx("s3 put head object s3://%s/%s: %s (a resume without "
		    "checkpoint will adopt the objects after it)",
		    w.cfg.s3_bucket, w.head_key, aws_strerror(&res));
	aws_result_free(&res);
	free(text);
}

/*
 * Store a checkpoint. With leases the lease is the truth and is written
 * first, on our ownership (owner and fencing token): a refusal means
 * another keeper took the shard, so this worker stops at once and its
 * flush moves nothing (the object it stored is adopted by the new owner's
 * If-None-Match PUT of the same key, never doubled). The local file stays
 * a cache, for status, the supervisor's "done" and the chain's parents.
 * -1 when the local file could not be written.
 */
static int
ckpt_store(const struct ckpt *ck)
{
	struct aws_result res;
	unsigned attempt = 0;
	uint64_t d;
	int r;

	while (w.cfg.lease_table != NULL) {
		aws_result_init(&res);
		r = lease_checkpoint(&w.aws, w.cfg.lease_table, w.shard,
		    w.cfg.lease_worker_id, w.token, ck->done ? LEASE_SHARD_END :
		    ck->pos.seq, ck->pos.has_sub ? (int64_t)ck->pos.sub : 0,
		    ck->pos.has_sub, ck->key, ck->sha256, &res);
		if (r == 0) {
			aws_result_free(&res);
			break;
		}
		if (r == DDB_CONDITION) {
			log_warnx("lease %s: lost: checkpoint refused, not "
			    "moved (what this worker stored is adopted by "
			    "the new owner); stopping", w.shard);
			exit(EX_LEASE_LOST);
		}
		d = backoff_ms(attempt++, ERROR_BASE_MS, ERROR_CAP_MS);
		log_warnx("lease %s: checkpoint: %s; retrying in %llu ms",
		    w.shard, aws_strerror(&res), (unsigned long long)d);
		aws_result_free(&res);
		if (w.stopping && now_ms() + d > w.stop_deadline) {
			log_warnx("lease %s: checkpoint not stored by the stop "
			    "deadline: the next owner reads this batch again "
			    "(and adopts its objects)", w.shard);
			exit(EX_ABANDONED);
		}
		wait_events(d);
	}
	return ckpt_write(w.cfg.state_dir, w.shard, ck);
}

/*
 * Make an object that is in S3 the shard's position: outbox entry, then
 * checkpoint (the order outbox.h explains), head object, report. For an
 * adopted object the outbox entry carries its real metadata: announcing it
 * twice is fine (notifications are at-least-once; the bytes are the same).
 */
static void
commit_object(const char *key, const struct arc_object *o, size_t stored,
    int shard_done, uint64_t t0)
{
	struct msg_flush fm;
	struct ckpt ck;
	char *msg;

	msg = notification(key, o, stored);
	memset(&fm, 0, sizeof(fm));
	if (w.cfg.sns_topic_arn != NULL &&
	    outbox_put(w.cfg.state_dir, w.shard, &o->first, &o->last, msg,
	    fm.outbox, sizeof(fm.outbox)) == -1)
		/* not reported, no checkpoint: the restart adopts the object
		 * and writes the entry again */
		fatalx("outbox entry for s3://%s/%s not stored: flush not "
		    "reported, exiting", w.cfg.s3_bucket, key);
	free(msg);

	memset(&ck, 0, sizeof(ck));
	/* a batch that ends inside an aggregate resumes after that sub; a
	 * part of a batch stands for the batch's end */
	pos_set(&ck.pos, o->batch_last.seq, o->batch_last.has_sub &&
	    o->batch_more, o->batch_last.sub);
	ck.done = shard_done;
	snprintf(ck.key, sizeof(ck.key), "%s", key);
	snprintf(ck.sha256, sizeof(ck.sha256), "%s", o->sha256);
	if (ckpt_store(&ck) == -1)
		fatalx("checkpoint for %s not stored: flush of s3://%s/%s not "
		    "reported, exiting", w.shard, w.cfg.s3_bucket, key);

	snprintf(w.prev.key, sizeof(w.prev.key), "%s", key);
	snprintf(w.prev.sha256, sizeof(w.prev.sha256), "%s", o->sha256);
	memset(w.parents, 0, sizeof(w.parents));
	w.pos = o->batch_last;
	w.pos_complete = !o->batch_more;
	w.committed = w.pos;
	w.committed_complete = w.pos_complete;
	w.forced = 0;
	put_head(shard_done);

	fm.records = o->records;
	fm.bytes = o->bytes;
	fm.stored_bytes = stored;
	fm.latency_ms = now_ms() - t0;
	if (msg_send(SUP_FD, MSG_FLUSH, w.gen, &fm, sizeof(fm), 2000) == -1)
		log_warn("report flush to supervisor");	/* the outbox has it */
}

/*
 * The key exists: an earlier writer (this worker before a crash, or another
 * keeper) archived a batch starting at this record. Read its metadata and
 * make it ours. 0 adopted (o and *stored describe it), 1 the key is gone
 * again (deleted meanwhile: PUT once more), -1 given up at the shutdown
 * deadline.
 */
static int
adopt(const char *key, struct arc_object *o, size_t *stored)
{
	struct aws_result res;
	const char *why;
	unsigned attempt = 0;
	uint64_t d;
	int r;

	aws_result_init(&res);
	for (;;) {
		r = s3_head_object(&w.aws, &w.cfg, w.cfg.s3_bucket, key, &res);
		if (r == 0 && arc_meta_parse(&res.meta, o, &why) == 0)
			break;
		if (r == 0)
			log_warnx("s3 object s3://%s/%s exists but its metadata "
			    "is not the keeper's (%s): not overwriting it",
			    w.cfg.s3_bucket, key, why);
		else if (r == 1)
			/* gone again (deleted by someone): the PUT will tell */
			log_warnx("s3 head s3://%s/%s: not found",
			    w.cfg.s3_bucket, key);
		else
			log_warnx("s3 head s3://%s/%s: %s", w.cfg.s3_bucket,
			    key, aws_strerror(&res));
		if (r == 1)
			break;
		if (w.stopping && now_ms() >= w.stop_deadline) {
			aws_result_free(&res);
			return -1;
		}
		d = backoff_ms(attempt++, ERROR_BASE_MS, ERROR_CAP_MS);
		if (w.stopping && now_ms() + d > w.stop_deadline)
			d = w.stop_deadline > now_ms() ?
			    w.stop_deadline - now_ms() : 0;
		wait_events(d);
	}
	*stored = o->stored > 0 ? (size_t)o->stored :
	    res.content_length > 0 ? (size_t)res.content_length : 0;
	aws_result_free(&res);
	return r == 1 ? 1 : 0;
}

/* Memory for an idle shard: the empty batch's body buffer goes back. */
static void
release_big_buffers(void)
{
	struct part *p = w.batch.parts[0];

	if (w.batch.records == 0 && p->out.cap > BIG_BUFFER) {
		buf_free(&p->out);
		malloc_trim(0);
	}
}

/*
 * Upload one object (a part of the batch) with If-None-Match, retrying
 * while S3 fails (back-pressure: nothing more is read meanwhile). 0 stored,
 * 1 the key exists, -1 given up at the shutdown deadline.
 */
static int
upload(struct part *p, const char *key, const struct arc_object *o)
{
	struct s3_put put;
	struct arc_meta meta;
	struct aws_result res;
	char *resource;
	unsigned attempt = 0;

	arc_meta_build(&meta, o);
	memset(&put, 0, sizeof(put));
	put.bucket = w.cfg.s3_bucket;
	put.key = key;
	put.body = p->out.data;
	put.len = p->out.len;
	put.content_type = comp_content_type(w.cfg.format_compression);
	if (put.content_type == NULL)
		put.content_type = w.cfg.format_type == FORMAT_RAW ?
		    "application/octet-stream" : "application/x-ndjson";
	/* Content-MD5 is s3.c's: a big object goes in parts, each with its
	 * own, and an MD5 of the whole would cost a pass for nothing */
	put.md5_b64 = NULL;
	put.sha256_hex = o->sha256;
	put.meta = meta.kv;
	put.nmeta = meta.n;
	put.upload_state = w.upload_state;
	put.if_none_match = 1;

	aws_result_init(&res);
	while (s3_put_object(&w.aws, &w.cfg, &put, &res) == -1) {
		uint64_t d;

		if (s3_exists_error(&res)) {
			aws_result_free(&res);
			return 1;
		}
		w.stats.s3_put_errors++;
		if (w.stopping && now_ms() >= w.stop_deadline) {
			log_warnx("flush of %llu records to s3://%s/%s abandoned "
			    "at shutdown: %s (nothing lost: the checkpoint did "
			    "not move)", (unsigned long long)p->records,
			    w.cfg.s3_bucket, key, aws_strerror(&res));
			aws_result_free(&res);
			return -1;
		}
		d = backoff_ms(attempt++, ERROR_BASE_MS, ERROR_CAP_MS);
		xasprintf(&resource, "s3://%s", w.cfg.s3_bucket);
		/* a permanent error is said once a minute, every retry at debug */
		if (health_bad(&res, "s3", "s3 put", resource))
			log_debug("s3 put s3://%s/%s: %s; retrying in %llu ms",
			    w.cfg.s3_bucket, key, aws_strerror(&res),
			    (unsigned long long)d);
		else
			log_warnx("s3 put s3://%s/%s: %s; retrying in %llu ms",
			    w.cfg.s3_bucket, key, aws_strerror(&res),
			    (unsigned long long)d);
		free(resource);
		send_stats(0);
		if (w.stopping && now_ms() + d > w.stop_deadline)
			d = w.stop_deadline > now_ms() ?
			    w.stop_deadline - now_ms() : 0;
		wait_events(d);
	}
	aws_result_free(&res);
	health_good("s3");
	return 0;
}

/* The metadata of part i of the batch, linked to the object before it. */
static void
part_object(struct arc_object *o, const struct batch *b, size_t i,
    const struct arc_link *prev)
{
	const struct part *p = b->parts[i];
	int more = b->last.has_sub && !b->last_complete;

	memset(o, 0, sizeof(*o));
	snprintf(o->stream, sizeof(o->stream), "%s", w.cfg.stream);
	snprintf(o->shard, sizeof(o->shard), "%s", w.shard);
	o->records = p->records;
	o->bytes = p->bytes;
	o->stored = p->out.len;
	o->first = p->first;
	o->first_ts = p->first_ts;
	o->last = p->last;
	o->last_ts = p->last_ts;
	/* with one part, the object is the batch and ends where it does */
	o->last_more = b->nparts == 1 && more;
	o->part = (unsigned)i;
	o->parts = (unsigned)b->nparts;
	o->batch_first = b->first;
	o->batch_last = b->last;
	o->batch_more = more;
	sha256_hex(p->out.data, p->out.len, o->sha256);
	o->prev = *prev;
	if (i == 0 && w.prev.sha256[0] == '\0')
		memcpy(o->parents, w.parents, sizeof(o->parents));
}

/*
 * An object of one part: the batch is exactly this object (the archive's
 * object replaces the batch; reading goes on after its end, wherever that
 * is).
 */
static void
adopt_single(const char *key, const struct arc_object *o,
    const struct arc_object *got, size_t stored, const struct part *p,
    int shard_done, uint64_t t0)
{
	int same = pos_cmp(&got->last, &o->last) == 0 &&
	    got->last_more == o->last_more;
	char sub[32];

	if (got->shard[0] != '\0' && strcmp(got->shard, w.shard) != 0)
		fatalx("s3 object s3://%s/%s belongs to shard %s, not to this "
		    "one: check s3.key", w.cfg.s3_bucket, key, got->shard);
	/* our re-read batch is often the very same bytes (batches ended by
	 * count, deterministic compression) */
	if (strcmp(got->sha256, o->sha256) == 0)
		local_copy(key, p->first.seq, p->out.data, p->out.len);
	commit_object(key, got, stored, shard_done && same, t0);
	snprintf(sub, sizeof(sub), "%llu", (unsigned long long)got->last.sub);
	log_info("adopted s3://%s/%s: already archived by an earlier run (%llu "
	    "records up to %s%s%s, sha256 %s); this batch of %llu records is "
	    "dropped and reading resumes after it", w.cfg.s3_bucket, key,
	    (unsigned long long)got->records, got->last.seq,
	    got->last.has_sub ? " sub " : "", got->last.has_sub ? sub : "",
	    got->sha256, (unsigned long long)o->records);
	if (!same)
		w.reposition = 1;
}

/*
 * Archive the current batch: one object per part (partition), each written
 * only if its key does not exist, then one checkpoint after the batch's
 * last record. Returns 0 when the checkpoint advanced, or when an earlier
 * run's object was met (adopted: w.reposition says that reading starts
 * again, after that object, or from the checkpoint to re-read the earlier
 * batch exactly); -1 if S3 could not take an object before the shutdown
 * deadline (nothing is lost: the checkpoint did not move).
 */
static int
flush(int shard_done)
{
	struct batch *b = &w.batch;
	struct buf *keys;
	struct arc_object *o, got;
	struct arc_link link;
	struct ckpt ck;
	struct msg_flush *fm;
	struct part *p;
	char *msg, sub[32];
	uint64_t t0 = b->opened_ms, start = now_ms();
	size_t i, n = b->nparts, *stored;
	int r = -1, a, *mine;

	if (b->records == 0)
		return 0;
	batch_finish(b);
	keys = xcalloc(n, sizeof(*keys));
	o = xcalloc(n, sizeof(*o));
	fm = xcalloc(n, sizeof(*fm));
	stored = xcalloc(n, sizeof(*stored));
	mine = xcalloc(n, sizeof(*mine));
	link = w.prev;
	for (i = 0; i < n; i++) {
		p = b->parts[i];
		buf_init(&keys[i]);
		batch_part_key(&keys[i], b, p, w.shard);
		part_object(&o[i], b, i, &link);
		stored[i] = p->out.len;
		mine[i] = 1;
		while ((a = upload(p, keys[i].data, &o[i])) == 1) {
			size_t st = 0;

			a = adopt(keys[i].data, &got, &st);
			if (a == -1)
				goto out;
			if (a == 1)
				continue;	/* gone again: PUT once more */
			if (n == 1 && got.parts == 1) {
				adopt_single(keys[i].data, &o[i], &got, st, p,
				    shard_done, t0);
				r = 0;
				goto reset;
			}
			if (pos_cmp(&got.batch_first, &b->first) == 0 &&
			    pos_cmp(&got.batch_last, &b->last) == 0 &&
			    got.batch_more == o[i].batch_more &&
			    got.parts == n && got.part == i) {
				/* this very batch, archived before a crash:
				 * compression is deterministic, so the bytes
				 * are ours too; never overwritten either way */
				if (strcmp(got.sha256, o[i].sha256) != 0)
					log_warnx("s3 object s3://%s/%s: already "
					    "archived with sha256 %s, rebuilt "
					    "%s: kept as it is", w.cfg.s3_bucket,
					    keys[i].data, got.sha256,
					    o[i].sha256);
				else
					log_info("s3 object s3://%s/%s: already "
					    "archived by an earlier run, the same "
					    "bytes (part %zu of %zu of this "
					    "batch): kept", w.cfg.s3_bucket,
					    keys[i].data, i + 1, n);
				mine[i] = strcmp(got.sha256, o[i].sha256) == 0;
			} else if (i == 0) {
				/* an earlier run's batch from the same first
				 * record, with another end: read exactly that
				 * batch again, so its parts come out the same */
				snprintf(sub, sizeof(sub), "%llu",
				    (unsigned long long)got.batch_last.sub);
				log_info("adopted the batch of s3://%s/%s: "
				    "archived by an earlier run up to %s%s%s in "
				    "%u objects; reading that batch again, "
				    "exactly", w.cfg.s3_bucket, keys[i].data,
				    got.batch_last.seq, got.batch_last.has_sub ?
				    " sub " : "", got.batch_last.has_sub ? sub :
				    "", got.parts);
				w.forced = 1;
				w.forced_end = got.batch_last;
				w.pos = w.committed;
				w.pos_complete = w.committed_complete;
				w.reposition = 1;
				r = 0;
				goto reset;
			} else {
				log_warnx("s3 object s3://%s/%s: already "
				    "archived by another batch (%u of %u up to "
				    "%s): kept as it is, the chain forks here",
				    w.cfg.s3_bucket, keys[i].data, got.part + 1,
				    got.parts, got.batch_last.seq);
				mine[i] = 0;
			}
			o[i] = got;
			stored[i] = st;
			break;
		}
		if (a == -1)
			goto out;
		snprintf(link.key, sizeof(link.key), "%s", keys[i].data);
		snprintf(link.sha256, sizeof(link.sha256), "%s", o[i].sha256);
	}

	/* every part is in S3: local copies, outbox entries (before the
	 * checkpoint: see outbox.h), the checkpoint, the head object */
	for (i = 0; i < n; i++) {
		p = b->parts[i];
		if (mine[i])
			local_copy(keys[i].data, p->first.seq, p->out.data,
			    p->out.len);
		msg = notification(keys[i].data, &o[i], stored[i]);
		if (w.cfg.sns_topic_arn != NULL &&
		    outbox_put(w.cfg.state_dir, w.shard, &o[i].first,
		    &o[i].last, msg, fm[i].outbox, sizeof(fm[i].outbox)) == -1 &&
		    (!room_freed() || outbox_put(w.cfg.state_dir, w.shard,
		    &o[i].first, &o[i].last, msg, fm[i].outbox,
		    sizeof(fm[i].outbox)) == -1))
			fatal("outbox entry for s3://%s/%s", w.cfg.s3_bucket,
			    keys[i].data);
		free(msg);
	}
	memset(&ck, 0, sizeof(ck));
	/* a batch that ends inside an aggregate resumes after that sub */
	pos_set(&ck.pos, b->last.seq, b->last.has_sub && !b->last_complete,
	    b->last.sub);
	ck.done = shard_done;
	snprintf(ck.key, sizeof(ck.key), "%s", link.key);
	snprintf(ck.sha256, sizeof(ck.sha256), "%s", link.sha256);
	if (ckpt_store(&ck) == -1 &&
	    (!room_freed() || ckpt_write(w.cfg.state_dir, w.shard, &ck) == -1))
		fatal("checkpoint for %s", w.shard);
	w.prev = link;
	memset(w.parents, 0, sizeof(w.parents));
	w.committed = b->last;
	w.committed_complete = b->last_complete || !b->last.has_sub;
	w.forced = 0;
	put_head(shard_done);

	for (i = 0; i < n; i++) {
		p = b->parts[i];
		fm[i].records = o[i].records;
		fm[i].bytes = o[i].bytes;
		fm[i].stored_bytes = stored[i];
		fm[i].latency_ms = now_ms() - t0;
		log_info("flushed %llu records to s3://%s/%s (%zu bytes, %llu "
		    "ms)", (unsigned long long)p->records, w.cfg.s3_bucket,
		    keys[i].data, p->out.len,
		    (unsigned long long)(now_ms() - start));
		if (msg_send(SUP_FD, MSG_FLUSH, w.gen, &fm[i], sizeof(fm[i]),
		    2000) == -1)
			log_warn("report flush to supervisor"); /* outbox has it */
	}
	r = 0;
reset:
	batch_reset(b);
	/* give a big batch's memory back: an idle shard should not keep the
	 * high-water mark of its busiest minute. Not while a backlog is read:
	 * the next batch would fault the same pages in again (a page fault
	 * per 4 KiB of object, about a tenth of the worker's CPU) */
	if (!w.busy)
		release_big_buffers();
out:
	for (i = 0; i < n; i++)
		buf_free(&keys[i]);
	free(keys);
	free(o);
	free(fm);
	free(stored);
	free(mine);
	return r;
}

/* The shard end is reached: 0 when everything is archived and the
 * checkpoint says done; 1 when the last flush adopted an object that ends
 * before the shard does (then reading goes on). */
static int
mark_done(void)
{
	struct ckpt ck;

	if (w.batch.records > 0) {
		if (flush(1) == -1)
			exit(EX_FATAL);
		if (w.reposition)
			return 1;
	} else {
		/* keep what the last checkpoint says, and add "done" (with
		 * leases the local file may be of an earlier ownership) */
		if (w.cfg.lease_table != NULL ||
		    ckpt_read(w.cfg.state_dir, w.shard, &ck) != 0) {
			memset(&ck, 0, sizeof(ck));
			pos_set(&ck.pos, w.pos.seq, 0, 0);
			snprintf(ck.key, sizeof(ck.key), "%s", w.prev.key);
			snprintf(ck.sha256, sizeof(ck.sha256), "%s",
			    w.prev.sha256);
		}
		ck.done = 1;
		ck.pos.has_sub = 0;
		if (ckpt_store(&ck) == -1)
			fatal("checkpoint for %s", w.shard);
		/* the head says so too: a child on another state_dir links
		 * to this shard's last object through it */
		w.pos_complete = 1;
		put_head(1);
	}
	log_info("shard end reached: %s is done", w.shard);
	send_stats(1);
	msg_send(SUP_FD, MSG_DONE, w.gen, NULL, 0, 2000);
	return 0;
}

/* A fresh iterator for the current position (or start_position). */
static char *
get_iterator(uint64_t *skip_sub, int *skip_valid)
{
	struct aws_result res;
	const char *type, *seq = NULL;
	char *it = NULL, *resource;
	unsigned attempt = 0;

	xasprintf(&resource, "stream %s shard %s", w.cfg.stream, w.shard);
	*skip_valid = 0;
	if (w.pos.seq[0] != '\0') {
		seq = w.pos.seq;
		if (w.pos.has_sub && !w.pos_complete) {
			type = "AT_SEQUENCE_NUMBER";
			*skip_valid = 1;
			*skip_sub = w.pos.sub;
		} else
			type = "AFTER_SEQUENCE_NUMBER";
	} else if (w.cfg.start_position == START_LATEST)
		type = "LATEST";
	else if (w.cfg.start_position == START_AT_TIMESTAMP)
		type = "AT_TIMESTAMP";
	else
		type = "TRIM_HORIZON";
	aws_result_init(&res);
	while (kinesis_get_iterator(&w.aws, w.cfg.stream, w.shard, type, seq,
	    w.cfg.start_timestamp_ms, &it, &res) == -1) {
		uint64_t d = backoff_ms(attempt++, ERROR_BASE_MS, ERROR_CAP_MS);

		if (res.throttled)
			w.stats.getrecords_throttled++;
		if (health_bad(&res, "kinesis", "get shard iterator", resource))
			log_debug("get shard iterator (%s%s%s): %s; retrying "
			    "in %llu ms", type, seq ? " " : "", seq ? seq : "",
			    aws_strerror(&res), (unsigned long long)d);
		else
			log_warnx("get shard iterator (%s%s%s): %s; retrying "
			    "in %llu ms", type, seq ? " " : "", seq ? seq : "",
			    aws_strerror(&res), (unsigned long long)d);
		wait_events(d);
		if (w.stopping)
			break;
	}
	aws_result_free(&res);
	free(resource);
	if (it != NULL) {
		health_good("kinesis");
		log_debug("iterator %s%s%s", type, seq ? " " : "",
		    seq ? seq : "");
	}
	return it;
}

static void
consume(const char *seq, int has_sub, uint64_t sub, int64_t ts,
    const char *pk, size_t pk_len, const unsigned char *data, size_t len,
    int complete)
{
	struct record r;

	r.seq = seq;
	r.has_sub = has_sub;
	r.sub = sub;
	r.pk = pk;
	r.pk_len = pk_len;
	r.ts_ms = ts;
	r.data = data;
	r.data_len = len;
	if (batch_add(&w.batch, &r, complete) == -1) {
		/* a partition past batch.max_partitions: this batch ends
		 * here, the record opens the next (nothing is dropped) */
		log_info("batch.max_partitions (%d) reached at %s: flushing %zu "
		    "objects early", w.cfg.batch_max_partitions, seq,
		    w.batch.nparts);
		if (flush(0) == -1)
			exit(EX_FATAL);
		if (w.reposition)
			return;
		if (batch_add(&w.batch, &r, complete) == -1)
			fatalx("record %s fits no partition", seq);
	}
	pos_set(&w.pos, seq, has_sub, sub);
	w.pos_complete = complete;
	if (w.forced) {
		/* re-reading an earlier run's batch: it ends where it ended,
		 * whatever the limits say now, so its parts come out the same */
		if (pos_cmp(&w.pos, &w.forced_end) >= 0 && flush(0) == -1)
			exit(EX_FATAL);
		return;
	}
	if (batch_size_reached(&w.batch))
		if (flush(0) == -1)
			exit(EX_FATAL);
}

static void
consume_record(const struct kinesis_record *kr, int skip_valid,
    uint64_t skip_sub)
{
	struct kpl_agg agg;
	const char *why;
	char *pk;
	size_t i;

	if (!w.cfg.format_deaggregate || !kpl_is_aggregate(kr->data,
	    kr->data_len)) {
		consume(kr->seq, 0, 0, kr->ts_ms, kr->pk, kr->pk_len, kr->data,
		    kr->data_len, 1);
		return;
	}
	if (kpl_decode(kr->data, kr->data_len, &agg, &why) == -1) {
		/* archived whole (as b64), never dropped */
		w.stats.corrupt_aggregates++;
		log_warnx("corrupt KPL aggregate at %s: %s; archived as is",
		    kr->seq, why);
		consume(kr->seq, 0, 0, kr->ts_ms, kr->pk, kr->pk_len, kr->data,
		    kr->data_len, 1);
		return;
	}
	for (i = 0; i < agg.n && !w.reposition; i++) {
		if (skip_valid && i <= skip_sub)
			continue;	/* archived before the restart */
		pk = xstrndup(agg.records[i].pk, agg.records[i].pk_len);
		consume(kr->seq, 1, i, kr->ts_ms, pk, agg.records[i].pk_len,
		    agg.records[i].data, agg.records[i].data_len, i + 1 == agg.n);
		free(pk);
	}
	if (agg.n == 0) {
		/* an empty aggregate: nothing to archive, but move past it */
		snprintf(w.pos.seq, sizeof(w.pos.seq), "%s", kr->seq);
		w.pos.has_sub = 0;
		w.pos_complete = 1;
	}
	kpl_free(&agg);
}

/* After an adoption: the batch is gone, w.pos is the adopted object's end;
 * a new iterator starts right after it. 0 if stopping. */
static int
reposition(char **it, uint64_t *skip_sub, int *skip_valid)
{
	w.reposition = 0;
	free(*it);
	*it = get_iterator(skip_sub, skip_valid);
	return *it != NULL;
}

/*
 * Is the shard really closed? Asked only when an answer came without a
 * NextShardIterator and without ChildShards (kinesalite ends closed shards
 * that way): 1 if ListShards gives it an EndingSequenceNumber, 0 if it is
 * open (or not listed), -1 if ListShards failed.
 */
static int
shard_closed(void)
{
	struct kinesis_shard *sh;
	struct aws_result res;
	size_t n, i;
	int closed = 0;

	aws_result_init(&res);
	if (kinesis_list_shards(&w.aws, w.cfg.stream, &sh, &n, &res) == -1) {
		log_warnx("ListShards: %s", aws_strerror(&res));
		aws_result_free(&res);
		return -1;
	}
	aws_result_free(&res);
	for (i = 0; i < n; i++)
		if (strcmp(sh[i].id, w.shard) == 0)
			closed = sh[i].ending_seq != NULL;
	kinesis_shards_free(sh, n);
	return closed;
}

/*
 * An answer is used only if it makes sense where we stand: every record
 * after the position and after the record before it (an endpoint that starts
 * over at an earlier sequence number must not get records archived twice,
 * nor the checkpoint moved backwards; the only record allowed at the
 * position is the aggregate we resume inside of), and no end of the shard
 * unless the shard did end. NULL if it is good, else why not (for the log).
 */
static const char *
bad_answer(const struct kinesis_records *recs, int skip_valid, int *done,
    char *why, size_t whylen)
{
	const char *prev = w.pos.seq[0] != '\0' ? w.pos.seq : NULL;
	size_t i;
	int c;

	*done = 0;
	for (i = 0; i < recs->n; i++) {
		const char *seq = recs->recs[i].seq;

		if (prev != NULL && ((c = seq_cmp(seq, prev)) < 0 ||
		    (c == 0 && !(i == 0 && skip_valid)))) {
			snprintf(why, whylen, "record %.60s is not after %.60s",
			    seq, prev);
			return why;
		}
		prev = seq;
	}
	if (recs->next_iterator != NULL)
		return NULL;
	if (recs->nchild > 0) {
		*done = 1;
		return NULL;
	}
	switch (shard_closed()) {
	case 1:
		*done = 1;
		return NULL;
	case 0:
		snprintf(why, whylen, "no NextShardIterator, but the shard is "
		    "open");
		return why;
	default:
		snprintf(why, whylen, "no NextShardIterator, and ListShards "
		    "cannot tell whether the shard is closed");
		return why;
	}
}

static void
read_loop(void)
{
	struct kinesis_records recs;
	struct aws_result res;
	char *it, *resource;
	uint64_t skip_sub = 0, next_call = 0, last_call = 0, min_gap, now;
	int skip_valid = 0, readers = 1 + w.cfg.read_other_readers, r, done = 0;
	char whybuf[200];
	const char *why;
	unsigned throttles = 0, errors = 0;
	size_t i;

	/* the per-shard budget is shared by every consumer of the stream */
	min_gap = (1000 * (uint64_t)readers + (uint64_t)w.cfg.read_calls_per_sec
	    - 1) / (uint64_t)w.cfg.read_calls_per_sec;
	if ((it = get_iterator(&skip_sub, &skip_valid)) == NULL)
		return;
	xasprintf(&resource, "stream %s shard %s", w.cfg.stream, w.shard);
	aws_result_init(&res);
	while (!w.stopping) {
		now = now_ms();
		if (now < next_call) {
			uint64_t d = next_call - now;

			if (w.batch.records > 0 && w.batch.opened_ms +
			    w.cfg.batch_max_age_ms < next_call)
				d = w.batch.opened_ms + w.cfg.batch_max_age_ms >
				    now ? w.batch.opened_ms +
				    w.cfg.batch_max_age_ms - now : 0;
			wait_events(d);
			if (!w.forced && batch_expired(&w.batch, now_ms()) &&
			    flush(0) == -1)
				exit(EX_FATAL);
			if (w.reposition && !reposition(&it, &skip_sub,
			    &skip_valid))
				break;
			continue;
		}
		w.stats.getrecords_calls++;
		last_call = now_ms();
		w.reading = 1;
		w.call_ms = last_call;
		r = kinesis_get_records(&w.aws, it, w.cfg.read_max_records, &recs,
		    &res);
		w.reading = 0;
		/* whatever the answer, the budget counts the call */
		next_call = last_call + min_gap;
		if (r == -1 && w.stopping)
			break;		/* cut short by the stop: flush now */
		if (r == 0 && (why = bad_answer(&recs, skip_valid, &done,
		    whybuf, sizeof(whybuf))) != NULL) {
			uint64_t d = backoff_ms(errors++, ERROR_BASE_MS,
			    ERROR_CAP_MS);

			/* nothing of it is used: read again from where we
			 * stand, with a fresh iterator */
			w.stats.bad_records++;
			log_warnx("GetRecords: bad answer: %s; reading again "
			    "after %s in %llu ms", why, w.pos.seq[0] ?
			    w.pos.seq : "the start", (unsigned long long)d);
			kinesis_records_free(&recs);
			free(it);
			it = NULL;
			wait_events(d);
			if (w.stopping)
				break;
			if ((it = get_iterator(&skip_sub, &skip_valid)) == NULL)
				break;
			if (now_ms() + min_gap > next_call)
				next_call = now_ms() + min_gap;
			continue;
		}
		if (r == -1) {
			uint64_t d;

			if (res.throttled) {
				w.stats.getrecords_throttled++;
				d = backoff_ms(throttles++, THROTTLE_BASE_MS,
				    THROTTLE_CAP_MS);
				log_debug("GetRecords throttled (%s); backing "
				    "off %llu ms", res.code,
				    (unsigned long long)d);
				if (now_ms() + d > next_call)
					next_call = now_ms() + d;
				continue;
			}
			if (strcmp(res.code, "BadResponse") == 0)
				w.stats.bad_records++;
			d = backoff_ms(errors++, ERROR_BASE_MS, ERROR_CAP_MS);
			if (strcmp(res.code, "ExpiredIteratorException") == 0)
				log_info("iterator expired; resuming after %s",
				    w.pos.seq[0] ? w.pos.seq : "the start");
			else if (health_bad(&res, "kinesis", "get records",
			    resource))
				log_debug("GetRecords: %s; retrying in %llu ms",
				    aws_strerror(&res), (unsigned long long)d);
			else
				log_warnx("GetRecords: %s; retrying in %llu ms",
				    aws_strerror(&res), (unsigned long long)d);
			if (now_ms() + d > next_call)
				next_call = now_ms() + d;
			if (strcmp(res.code, "BadResponse") == 0)
				continue;	/* same iterator, once more */
			/* resume from what we hold: nothing lost, nothing twice */
			free(it);
			wait_events(d);
			it = NULL;
			if (w.stopping)
				break;
			if ((it = get_iterator(&skip_sub, &skip_valid)) == NULL)
				break;
			if (last_call + min_gap > next_call)
				next_call = last_call + min_gap;
			continue;
		}
		throttles = errors = 0;
		health_good("kinesis");
		w.stats.bytes_read += recs.data_bytes;
		w.stats.records_read += recs.n;
		if (recs.millis_behind >= 0)
			w.stats.millis_behind_latest =
			    (uint64_t)recs.millis_behind;
		for (i = 0; i < recs.n && !w.reposition; i++) {
			int sk = skip_valid && seq_cmp(recs.recs[i].seq,
			    w.pos.seq) == 0;

			consume_record(&recs.recs[i], sk, skip_sub);
		}
		/* where reading stands, for tests that stop a keeper only once
		 * it holds every record (tests/crash) */
		if (i > 0)
			log_debug("read %zu records up to %s%s", i,
			    recs.recs[i - 1].seq, w.reposition ?
			    " (reading again after an adopted object)" : "");
		/* the skip holds until a record came: an empty answer (Kinesis
		 * gives them even with records ahead) must not drop it */
		if (recs.n > 0)
			skip_valid = 0;
		/* 2 MB/s per shard: a big response delays the next call */
		if (recs.data_bytes > 0) {
			uint64_t wait = recs.data_bytes * 1000 * (uint64_t)readers /
			    w.cfg.read_bytes_per_sec;

			/* counted from now: the response is fully read */
			if (now_ms() + wait > next_call)
				next_call = now_ms() + wait;
		}
		/* caught up: idle for read.interval */
		if (recs.n == 0 || recs.millis_behind == 0) {
			uint64_t idle = now_ms() + w.cfg.read_interval_ms;

			if (idle > next_call)
				next_call = idle;
		}
		free(it);
		it = recs.next_iterator;
		recs.next_iterator = NULL;
		kinesis_records_free(&recs);
		/* caught up after a burst: drop the big buffers (kept while
		 * a backlog is read, see flush) */
		w.busy = res.body.len >= BIG_BUFFER / 8;
		if (res.body.cap > BIG_BUFFER && !w.busy) {
			buf_free(&res.body);
			malloc_trim(0);
		}
		if (!w.busy) {
			release_big_buffers();
			kinesis_parse_trim();
		}
		if (!w.reposition && !w.forced &&
		    batch_expired(&w.batch, now_ms()) && flush(0) == -1)
			exit(EX_FATAL);
		send_stats(0);
		if (done && !w.reposition && mark_done() == 0) {
			aws_result_free(&res);
			free(resource);
			exit(EX_OK_);
		}
		if (w.reposition && !reposition(&it, &skip_sub, &skip_valid))
			break;
	}
	free(it);
	free(resource);
	aws_result_free(&res);
}

/* Wait out a failed call while not stopping; exits when stopping. */
static void
retry_wait(unsigned *attempt, const char *what, const struct aws_result *res)
{
	uint64_t d = backoff_ms((*attempt)++, ERROR_BASE_MS, ERROR_CAP_MS);

	log_warnx("%s: %s; retrying in %llu ms", what, aws_strerror(res),
	    (unsigned long long)d);
	wait_events(d);
	if (w.stopping)
		exit(EX_OK_);
}

/*
 * No checkpoint: the shard's head object in S3 names its last object. That
 * object is adopted (HEAD: it exists, and its metadata is the position), so
 * the resume costs two requests whatever the archive's size. A stale head
 * (a crash between an object and the head) is healed by the adoptions the
 * next PUTs meet. Only a shard with nothing archived uses start_position.
 */
static void
resume_from_archive(void)
{
	struct aws_result res;
	struct arc_head h;
	struct arc_object o;
	struct ckpt ck;
	const char *why;
	size_t stored = 0;
	unsigned attempt = 0;
	int r;

	aws_result_init(&res);
	while ((r = s3_get_object(&w.aws, &w.cfg, w.cfg.s3_bucket, w.head_key,
	    65536, &res)) == -1)
		retry_wait(&attempt, "s3 get head object", &res);
	if (r == 1) {
		log_info("no checkpoint and no head object s3://%s/%s: nothing "
		    "of %s archived yet", w.cfg.s3_bucket, w.head_key, w.shard);
		aws_result_free(&res);
		return;
	}
	if (arc_head_parse(res.body.data, res.body.len, &h, &why) == -1 ||
	    strcmp(h.shard, w.shard) != 0) {
		log_warnx("head object s3://%s/%s unreadable (%s): reading from "
		    "start_position; what is archived already is adopted, "
		    "never written twice", w.cfg.s3_bucket, w.head_key,
		    why ? why : "another shard's");
		aws_result_free(&res);
		return;
	}
	aws_result_free(&res);
	r = h.key[0] != '\0' ? adopt(h.key, &o, &stored) : 1;
	if (r == -1)
		exit(EX_OK_);
	if (r == 0) {
		if (strcmp(o.sha256, h.sha256) != 0)
			log_warnx("head object names s3://%s/%s with sha256 %s, "
			    "the object says %s: trusting the object",
			    w.cfg.s3_bucket, h.key, h.sha256, o.sha256);
		commit_object(h.key, &o, stored, h.done, now_ms());
	} else {
		if (h.key[0] != '\0')
			log_warnx("head object names s3://%s/%s, which is "
			    "missing: resuming after %s all the same",
			    w.cfg.s3_bucket, h.key, h.last.seq);
		w.pos = h.last;
		w.pos_complete = !h.last_more;
		w.committed = w.pos;
		w.committed_complete = w.pos_complete;
		snprintf(w.prev.key, sizeof(w.prev.key), "%s", h.key);
		snprintf(w.prev.sha256, sizeof(w.prev.sha256), "%s", h.sha256);
		memset(&ck, 0, sizeof(ck));
		pos_set(&ck.pos, h.last.seq, h.last.has_sub && h.last_more,
		    h.last.sub);
		ck.done = h.done;
		snprintf(ck.key, sizeof(ck.key), "%s", h.key);
		snprintf(ck.sha256, sizeof(ck.sha256), "%s", h.sha256);
		if (ckpt_store(&ck) == -1)
			fatal("checkpoint for %s", w.shard);
	}
	log_info("no checkpoint: %s resumes from the archive after %s%s "
	    "(last object s3://%s/%s)", w.shard, w.pos.seq[0] ? w.pos.seq :
	    "nothing", w.pos.has_sub && !w.pos_complete ? " (inside its "
	    "aggregate)" : "", w.cfg.s3_bucket, h.key[0] ? h.key : "none");
	if (h.done) {
		log_info("shard already done (the archive says so)");
		msg_send(SUP_FD, MSG_DONE, w.gen, NULL, 0, 2000);
		exit(EX_OK_);
	}
}

/*
 * At-least-once across hosts: the lease names the shard's last object
 * (kkLastKey, written with each checkpoint) and the last one whose
 * notification was published (kkAnnounced, written by the owner's lease
 * helper). Objects between the two may never have been announced if their
 * keeper died: walk the chain back from the newest and put them in this
 * keeper's outbox, oldest first. A duplicate announcement is allowed; a
 * missing one is not. Bounded: at most LEASE_WALK_MAX objects.
 */
#define LEASE_WALK_MAX	1000

static void
lease_reannounce(const struct lease *l)
{
	struct aws_result res;
	struct arc_object *o;
	char (*keys)[ARC_KEY_MAX], name[256], *msg;
	size_t n = 0, i;
	const char *why;
	int r;

	if (w.cfg.sns_topic_arn == NULL || l->last_key[0] == '\0' ||
	    strcmp(l->last_key, l->announced) == 0)
		return;
	o = xcalloc(LEASE_WALK_MAX, sizeof(*o));
	keys = xcalloc(LEASE_WALK_MAX, sizeof(*keys));
	str_copy(keys[0], l->last_key, sizeof(keys[0]));
	while (n < LEASE_WALK_MAX) {
		aws_result_init(&res);
		r = s3_head_object(&w.aws, &w.cfg, w.cfg.s3_bucket, keys[n],
		    &res);
		if (r != 0 || arc_meta_parse(&res.meta, &o[n], &why) == -1) {
			log_warnx("lease %s: re-announce: s3://%s/%s: %s; "
			    "announcing the %zu objects after it", w.shard,
			    w.cfg.s3_bucket, keys[n], r == 1 ? "not found" :
			    r == 0 ? why : aws_strerror(&res), n);
			aws_result_free(&res);
			break;
		}
		if (o[n].stored == 0 && res.content_length > 0)
			o[n].stored = (uint64_t)res.content_length;
		aws_result_free(&res);
		n++;
		if (o[n - 1].prev.key[0] == '\0' &&
		    o[n - 1].prev.sha256[0] != '\0')
			/* the link was cut to fit S3's 2 KB of metadata */
			log_warnx("lease %s: re-announce: s3://%s/%s names its "
			    "predecessor by hash only: announcing the %zu "
			    "objects from it on", w.shard, w.cfg.s3_bucket,
			    keys[n - 1], n);
		if (o[n - 1].prev.key[0] == '\0' ||
		    strcmp(o[n - 1].prev.key, l->announced) == 0 ||
		    n == LEASE_WALK_MAX)
			break;
		str_copy(keys[n], o[n - 1].prev.key, sizeof(keys[n]));
	}
	for (i = n; i > 0; i--) {
		msg = notification(keys[i - 1], &o[i - 1],
		    (size_t)o[i - 1].stored);
		if (outbox_put(w.cfg.state_dir, w.shard, &o[i - 1].first,
		    &o[i - 1].last, msg, name, sizeof(name)) == -1)
			log_warn("lease %s: re-announce s3://%s/%s: outbox",
			    w.shard, w.cfg.s3_bucket, keys[i - 1]);
		free(msg);
	}
	if (n > 0) {
		log_info("lease %s: %zu objects after the last announced (%s) "
		    "announced again", w.shard, n, l->announced[0] ?
		    l->announced : "none");
		msg_send(SUP_FD, MSG_FLUSH, w.gen, &(struct msg_flush){ 0 },
		    sizeof(struct msg_flush), 2000);
	}
	free(o);
	free(keys);
}

/*
 * With leases the lease is the truth: it must be ours (owner and the token
 * the supervisor gave), and its checkpoint is the position. A checkpoint
 * that is not a sequence number (a new lease: TRIM_HORIZON...) means no
 * checkpoint: 1, and the shard resumes from the archive like a lost
 * state_dir. 0 with *ck filled otherwise.
 */
static int
lease_start(struct ckpt *ck)
{
	struct aws_result res;
	struct lease l;
	unsigned attempt = 0;
	int r;

	for (;;) {
		aws_result_init(&res);
		r = lease_get(&w.aws, w.cfg.lease_table, w.shard, &l, &res);
		if (r == 0)
			break;
		if (r == 1) {
			log_warnx("lease %s: not in table %s; stopping",
			    w.shard, w.cfg.lease_table);
			exit(EX_LEASE_LOST);
		}
		retry_wait(&attempt, "lease get", &res);
		aws_result_free(&res);
	}
	aws_result_free(&res);
	if (strcmp(l.owner, w.cfg.lease_worker_id) != 0 ||
	    strcmp(l.token, w.token) != 0) {
		log_warnx("lease %s: owned by %s now, not by this keeper; "
		    "stopping", w.shard, l.owner[0] ? l.owner : "nobody");
		exit(EX_LEASE_LOST);
	}
	lease_reannounce(&l);
	memset(ck, 0, sizeof(*ck));
	str_copy(ck->key, l.last_key, sizeof(ck->key));
	snprintf(ck->sha256, sizeof(ck->sha256), "%s", l.last_sha256);
	if (strcmp(l.checkpoint, LEASE_SHARD_END) == 0) {
		ck->done = 1;
		if (ckpt_write(w.cfg.state_dir, w.shard, ck) == -1)
			fatal("checkpoint for %s", w.shard);
		return 0;
	}
	if (!seq_valid(l.checkpoint)) {
		log_info("lease %s: checkpoint %s: resuming from the archive",
		    w.shard, l.checkpoint[0] ? l.checkpoint : "none");
		return 1;
	}
	pos_set(&ck->pos, l.checkpoint, l.inside, (uint64_t)l.subseq);
	log_info("lease %s: checkpoint %s%s", w.shard, l.checkpoint,
	    l.inside ? " (inside its aggregate)" : "");
	return 0;
}

/* A checkpoint of an older version names its last object without its
 * hash: the object's metadata has it. */
static void
prev_from_object(void)
{
	struct aws_result res;
	struct arc_object o;
	const char *why;

	aws_result_init(&res);
	if (s3_head_object(&w.aws, &w.cfg, w.cfg.s3_bucket, w.prev.key,
	    &res) == 0 && arc_meta_parse(&res.meta, &o, &why) == 0)
		snprintf(w.prev.sha256, sizeof(w.prev.sha256), "%s", o.sha256);
	else
		log_warnx("s3 head s3://%s/%s: no keeper metadata; the next "
		    "object names no predecessor", w.cfg.s3_bucket, w.prev.key);
	aws_result_free(&res);
}

/* The last object of a parent shard: its checkpoint here, else its head
 * object (another host archived it). */
static void
link_parent(const char *id, struct arc_link *l)
{
	struct aws_result res;
	struct arc_head h;
	struct ckpt ck;
	struct buf key;
	const char *why;

	if (ckpt_read(w.cfg.state_dir, id, &ck) == 0 && ck.key[0] != '\0' &&
	    ck.sha256[0] != '\0') {
		snprintf(l->key, sizeof(l->key), "%s", ck.key);
		snprintf(l->sha256, sizeof(l->sha256), "%s", ck.sha256);
		return;
	}
	buf_init(&key);
	arc_head_key(&key, &w.cfg, id);
	aws_result_init(&res);
	if (s3_get_object(&w.aws, &w.cfg, w.cfg.s3_bucket, key.data, 65536,
	    &res) == 0 && arc_head_parse(res.body.data, res.body.len, &h,
	    &why) == 0 && h.key[0] != '\0') {
		snprintf(l->key, sizeof(l->key), "%s", h.key);
		snprintf(l->sha256, sizeof(l->sha256), "%s", h.sha256);
	}
	aws_result_free(&res);
	buf_free(&key);
}

/* Before a shard's first object: the chain goes on from its parents. */
static void
find_parents(void)
{
	struct kinesis_shard *sh = NULL;
	struct aws_result res;
	size_t n = 0, i;

	/* bounded: reading must not wait on ListShards (a hung Kinesis
	 * control plane); without an answer the first object names no
	 * parent, which verify reports */
	aws_result_init(&res);
	if (kinesis_list_shards_bounded(&w.aws, w.cfg.stream, 3000, &sh, &n,
	    &res) == -1) {
		log_warnx("list shards: %s; the first object of %s names no "
		    "parent", aws_strerror(&res), w.shard);
		aws_result_free(&res);
		return;
	}
	aws_result_free(&res);
	for (i = 0; i < n; i++) {
		if (strcmp(sh[i].id, w.shard) != 0)
			continue;
		if (sh[i].parent != NULL)
			link_parent(sh[i].parent, &w.parents[0]);
		if (sh[i].adjacent_parent != NULL)
			link_parent(sh[i].adjacent_parent, &w.parents[1]);
		if (w.parents[0].sha256[0] != '\0' ||
		    w.parents[1].sha256[0] != '\0')
			log_info("first object of %s links to its parents' last "
			    "objects: %s %s", w.shard, w.parents[0].key[0] ?
			    w.parents[0].key : "-", w.parents[1].key[0] ?
			    w.parents[1].key : "-");
		break;
	}
	kinesis_shards_free(sh, n);
}

static void
receive_config(const char *path, char **overrides, size_t nover)
{
	struct msgbuf mb;
	struct msg m;
	struct pollfd pfd;
	struct cfg_errors errs;
	uint64_t deadline = now_ms() + 10000;
	char *text;
	size_t i;
	int r;

	msgbuf_init(&mb);
	memset(&m, 0, sizeof(m));
	for (;;) {
		r = msg_get(&mb, &m);
		if (r == -1)
			fatalx("bad message from the supervisor");
		if (r == 1)
			break;
		if (now_ms() > deadline)
			fatalx("no configuration from the supervisor");
		pfd.fd = SUP_FD;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) == 1) {
			ssize_t n = msgbuf_read(&mb, SUP_FD);

			if (n == 0)
				fatalx("supervisor closed the channel");
			if (n == -1 && errno != EAGAIN)
				fatal("read from the supervisor");
		}
	}
	if (m.hdr.type != MSG_CONFIG)
		fatalx("expected CONFIG, got %s", msg_type_name(m.hdr.type));
	text = xstrndup(m.payload, m.hdr.len);
	msgbuf_free(&mb);
	memset(&errs, 0, sizeof(errs));
	if (cfg_parse(&w.cfg, path, text, overrides, nover, 0, &errs) == -1) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msgs[i]);
		fatalx_code(EX_CONFIG_, "bad configuration");
	}
	cfg_errors_free(&errs);
	free(text);
}

int
main(int argc, char *argv[])
{
	struct msg_hello hello;
	struct ckpt ck;
	struct stat st;
	sigset_t mask;
	char **overrides = NULL, dir[PATH_MAX], *end;
	size_t nover = 0;
	int ch, debug = 0, verbose = 0, lockfd, r, lock_logged = 0;
	uint64_t lock_deadline;

	/* the supervisor's network helpers live in this program too */
	if (argc > 1 && strncmp(argv[1], "-H", 2) == 0)
		return helper_main(argc, argv);
	/* and its commands that call AWS: kinesis-keeper check, verify */
	if (argc > 2 && strcmp(argv[1], "-C") == 0) {
		if (strcmp(argv[2], "check") == 0)
			return check_main(argc - 2, argv + 2);
		if (strcmp(argv[2], "verify") == 0)
			return verify_main(argc - 2, argv + 2);
	}
	while ((ch = getopt(argc, argv, "dvD:s:g:L:")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'D':
			overrides = xrealloc(overrides,
			    (nover + 1) * sizeof(char *));
			overrides[nover++] = optarg;
			break;
		case 's':
			w.shard = optarg;
			break;
		case 'L':
			w.token = optarg;
			break;
		case 'g':
			w.gen = (uint32_t)strtoul(optarg, &end, 10);
			if (*end != '\0')
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || w.shard == NULL)
		usage();
	/*
	 * Big buffers (a response, a batch) come from mmap, always: glibc
	 * would otherwise raise its threshold after the first free and move
	 * them to the heap, where growing one copies it (twice the memory for
	 * a moment) and freeing it does not give the memory back.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	log_init(debug ? LOG_TO_STDERR : LOG_TO_SYSLOG, verbose, LOG_DAEMON);
	snprintf(dir, sizeof(dir), "worker %s", w.shard);
	log_procinit(dir);
	if (!safe_component(w.shard))
		fatalx_code(EX_CONFIG_, "bad shard id");
	if (fstat(SUP_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("fd %d is not the supervisor channel; this program is "
		    "started by kinesis-keeper(8)", SUP_FD);

	/* never outlive the supervisor: its death means stop */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (getppid() == 1)
		fatalx("supervisor already gone");

	memset(&hello, 0, sizeof(hello));
	hello.pid = (int32_t)getpid();
	snprintf(hello.shard, sizeof(hello.shard), "%s", w.shard);
	if (msg_send(SUP_FD, MSG_HELLO, w.gen, &hello, sizeof(hello),
	    5000) == -1)
		fatal("send hello");
	receive_config(argv[0], overrides, nover);
	free(overrides);
	log_setlevel(w.cfg.log_level);
	if (!debug)
		log_setfacility(w.cfg.log_facility);
	if (gethostname(w.host, sizeof(w.host)) == -1)
		snprintf(w.host, sizeof(w.host), "unknown");

	snprintf(dir, sizeof(dir), "%s/batches/%s", w.cfg.state_dir, w.shard);
	if (mkdir_p(dir, 0750) == -1)
		fatal("mkdir %s", dir);
	lc_init(&w.lc, dir, w.cfg.local_keep > 0 ? (size_t)w.cfg.local_keep :
	    0);
	snprintf(dir, sizeof(dir), "%s/locks", w.cfg.state_dir);
	if (mkdir_p(dir, 0750) == -1)
		fatal("mkdir %s", dir);
	snprintf(dir, sizeof(dir), "%s/checkpoints", w.cfg.state_dir);
	if (mkdir_p(dir, 0750) == -1)
		fatal("mkdir %s", dir);
	snprintf(dir, sizeof(dir), "%s/uploads", w.cfg.state_dir);
	if (mkdir_p(dir, 0750) == -1)
		fatal("mkdir %s", dir);
	snprintf(w.upload_state, sizeof(w.upload_state), "%s/uploads/%s",
	    w.cfg.state_dir, w.shard);

	/* one owner per shard: a worker of a killed supervisor may still be
	 * flushing; wait for it rather than run beside it */
	lock_deadline = now_ms() + w.cfg.shutdown_timeout_ms + 5000;
	while ((lockfd = ckpt_lock(w.cfg.state_dir, w.shard)) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("lock %s", w.shard);
		if (now_ms() > lock_deadline)
			fatalx("shard %s is locked by another worker", w.shard);
		if (!lock_logged++)
			log_info("waiting for the shard lock (another worker "
			    "holds it)");
		wait_events(200);
		if (w.stopping)
			exit(EX_OK_);
	}

	http_global_init();
	w.creds = creds_new(&w.cfg);
	if (aws_ctx_init(&w.aws, &w.cfg, w.creds) == -1)
		fatalx_code(EX_CONFIG_, "bad endpoint");
	w.aws.interrupted = interrupted;
	aws_ctx_set_abort(&w.aws, abort_transfer);
	{
		int wake[2] = { w.sigfd, SUP_FD };

		aws_ctx_set_wake(&w.aws, wake, 2, woken);
	}
	if (w.cfg.lease_table != NULL && (w.token == NULL ||
	    strlen(w.token) != LEASE_TOKEN_LEN - 1))
		fatalx_code(EX_CONFIG_, "leases.table is set: -L token needed");

	r = ckpt_read(w.cfg.state_dir, w.shard, &ck);
	if (r == -1) {
		/* the archive knows where this shard stands: no operator step */
		if (ckpt_set_aside(w.cfg.state_dir, w.shard, dir,
		    sizeof(dir)) == -1)
			fatal("move the unreadable checkpoint of %s aside",
			    w.shard);
		log_warnx("checkpoint of %s unreadable: moved aside to %s; "
		    "resuming from the archive", w.shard, dir);
		r = 1;
	}
	if (w.cfg.lease_table != NULL)
		r = lease_start(&ck);
	if (r == 0 && ck.done) {
		log_info("shard already done");
		msg_send(SUP_FD, MSG_DONE, w.gen, NULL, 0, 2000);
		exit(EX_OK_);
	}
	memset(&w.pos, 0, sizeof(w.pos));
	w.pos_complete = 0;
	if (r == 0 && ck.pos.seq[0] != '\0') {
		w.pos = ck.pos;
		w.pos_complete = !ck.pos.has_sub;
		w.committed = w.pos;
		w.committed_complete = w.pos_complete;
		snprintf(w.prev.key, sizeof(w.prev.key), "%s", ck.key);
		snprintf(w.prev.sha256, sizeof(w.prev.sha256), "%s", ck.sha256);
	}

	/* a multipart upload of a run that died is never left dangling */
	s3_abort_stale(&w.aws, &w.cfg, w.upload_state);
	{
		struct buf hk;

		buf_init(&hk);
		arc_head_key(&hk, &w.cfg, w.shard);
		w.head_key = xstrdup(hk.data);
		buf_free(&hk);
	}
	if (r == 1)
		resume_from_archive();
	else if (w.prev.key[0] != '\0' && w.prev.sha256[0] == '\0')
		prev_from_object();
	if (w.prev.sha256[0] == '\0')
		find_parents();
	batch_init(&w.batch, &w.cfg);
	if (w.pos.seq[0] != '\0' && w.pos.has_sub)
		log_info("reading %s at %s, after its user record %llu",
		    w.shard, w.pos.seq, (unsigned long long)w.pos.sub);
	else if (w.pos.seq[0] != '\0')
		log_info("reading %s after %s", w.shard, w.pos.seq);
	else
		log_info("reading %s from %s", w.shard,
		    w.cfg.start_position == START_LATEST ? "LATEST" :
		    w.cfg.start_position == START_AT_TIMESTAMP ?
		    "AT_TIMESTAMP" : "TRIM_HORIZON");

	read_loop();

	/* stopping: archive what we hold, then go */
	r = flush(0);
	send_stats(1);
	batch_free(&w.batch);
	lc_free(&w.lc);
	aws_ctx_free(&w.aws);
	creds_free(w.creds);
	cfg_free(&w.cfg);
	free(w.head_key);
	close(lockfd);
	/* the supervisor names the shards whose last batch waits for the
	 * next start (kinesis-keeper-worker(8) EXIT STATUS) */
	return r == 0 ? EX_OK_ : EX_ABANDONED;
}
