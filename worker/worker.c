/*
 * worker.c: kinesis-keeper-worker, one process per shard (see
 * kinesis-keeper-worker(8)). It reads its shard from just after its
 * checkpoint, builds batches, and for each batch, in this order: uploads the
 * object to S3, keeps a local copy, writes the notification to the outbox,
 * stores the checkpoint, reports the flush. A crash anywhere before the
 * checkpoint makes the restarted worker re-read the same records and
 * rewrite the same key (the key depends only on the batch's first record).
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

#include "aws.h"
#include "batch.h"
#include "cfg.h"
#include "ckpt.h"
#include "creds.h"
#include "health.h"
#include "helper.h"
#include "kinesis.h"
#include "kpl.h"
#include "localcopy.h"
#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "record.h"
#include "s3.h"
#include "util.h"

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
} w;

static void
usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper-worker [-dv] [-D key=value]... "
	    "-s shard-id -g generation config-file\n");
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
 * supervisor gone) is noticed at once and ends a GetRecords there; another
 * transfer still running at the stop deadline (an upload to a hung S3) is
 * abandoned; the checkpoint has not moved, so nothing is lost.
 */
static int
abort_transfer(void)
{
	static uint64_t last;
	uint64_t now = now_ms();

	if (now - last >= 100) {
		last = now;
		wait_events(0);
	}
	/* a read is worth nothing once we stop: what we hold gets flushed
	 * now, not after a stalled GetRecords gave up */
	return w.stopping && (w.reading || now >= w.stop_deadline);
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
notification(const struct part *b, const char *key, const char *sha,
    size_t stored)
{
	struct json_object *j;
	char *uri, *s, ts[32];

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
	    json_object_new_int64((int64_t)b->records));
	json_object_object_add(j, "bytes", json_object_new_int64((int64_t)b->bytes));
	json_object_object_add(j, "stored_bytes",
	    json_object_new_int64((int64_t)stored));
	json_object_object_add(j, "sha256", json_object_new_string(sha));
	json_object_object_add(j, "first_seq",
	    json_object_new_string(b->first.seq));
	json_object_object_add(j, "last_seq", json_object_new_string(b->last.seq));
	if (b->first.has_sub)
		json_object_object_add(j, "first_sub",
		    json_object_new_int64((int64_t)b->first.sub));
	if (b->last.has_sub)
		json_object_object_add(j, "last_sub",
		    json_object_new_int64((int64_t)b->last.sub));
	fmt_iso8601_ms(b->first_ts, ts, sizeof(ts));
	json_object_object_add(j, "first_ts", json_object_new_string(ts));
	fmt_iso8601_ms(b->last_ts, ts, sizeof(ts));
	json_object_object_add(j, "last_ts", json_object_new_string(ts));
	json_object_object_add(j, "host", json_object_new_string(w.host));
	json_object_object_add(j, "keeper_version",
	    json_object_new_string(KK_VERSION));
	s = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return s;
}

/*
 * Upload one object of the batch, retrying while S3 fails (back-pressure:
 * nothing more is read meanwhile). -1 if S3 could not take it before the
 * shutdown deadline.
 */
static int
upload(struct part *p, const char *key, char *sha)
{
	struct s3_put put;
	struct sigv4_kv meta[4];
	struct aws_result res;
	char md5[32], nrec[32], *resource;
	unsigned attempt = 0;

	sha256_hex(p->out.data, p->out.len, sha);
	md5_base64(p->out.data, p->out.len, md5);
	snprintf(nrec, sizeof(nrec), "%llu", (unsigned long long)p->records);
	meta[0].name = "records";
	meta[0].value = nrec;
	meta[1].name = "first-seq";
	meta[1].value = p->first.seq;
	meta[2].name = "last-seq";
	meta[2].value = p->last.seq;
	meta[3].name = "sha256";
	meta[3].value = sha;
	memset(&put, 0, sizeof(put));
	put.bucket = w.cfg.s3_bucket;
	put.key = key;
	put.body = p->out.data;
	put.len = p->out.len;
	put.content_type = comp_content_type(w.cfg.format_compression);
	if (put.content_type == NULL)
		put.content_type = w.cfg.format_type == FORMAT_RAW ?
		    "application/octet-stream" : "application/x-ndjson";
	put.md5_b64 = md5;
	put.sha256_hex = sha;
	put.meta = meta;
	put.nmeta = 4;
	put.upload_state = w.upload_state;

	aws_result_init(&res);
	while (s3_put_object(&w.aws, &w.cfg, &put, &res) == -1) {
		uint64_t d;

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

/*
 * Archive the current batch: one object per part (partition), then one
 * checkpoint after the batch's last record. Returns 0 when the checkpoint
 * advanced, -1 if S3 could not take an object before the shutdown
 * deadline (nothing is lost: the checkpoint did not move, the records
 * will be read again, and each part's key, which depends only on its
 * first record, is written again with the same name).
 */
static int
flush(int shard_done)
{
	struct batch *b = &w.batch;
	struct buf *keys;
	struct ckpt ck;
	struct msg_flush *fm;
	struct part *p;
	char sha[65], *msg;
	uint64_t t0 = b->opened_ms, start = now_ms();
	size_t i, n = b->nparts;
	int r = -1;

	if (b->records == 0)
		return 0;
	batch_finish(b);
	keys = xcalloc(n, sizeof(*keys));
	fm = xcalloc(n, sizeof(*fm));
	for (i = 0; i < n; i++) {
		p = b->parts[i];
		buf_init(&keys[i]);
		batch_part_key(&keys[i], b, p, w.shard);
		if (upload(p, keys[i].data, sha) == -1)
			goto out;
		local_copy(keys[i].data, p->first.seq, p->out.data, p->out.len);
		/* the outbox entry before the checkpoint: see outbox.h */
		msg = notification(p, keys[i].data, sha, p->out.len);
		if (w.cfg.sns_topic_arn != NULL &&
		    outbox_put(w.cfg.state_dir, w.shard, &p->first, &p->last,
		    msg, fm[i].outbox, sizeof(fm[i].outbox)) == -1 &&
		    (!room_freed() || outbox_put(w.cfg.state_dir, w.shard,
		    &p->first, &p->last, msg, fm[i].outbox,
		    sizeof(fm[i].outbox)) == -1))
			fatal("outbox entry for s3://%s/%s", w.cfg.s3_bucket,
			    keys[i].data);
		free(msg);
	}

	memset(&ck, 0, sizeof(ck));
	snprintf(ck.pos.seq, sizeof(ck.pos.seq), "%s", b->last.seq);
	/* a batch that ends inside an aggregate resumes after that sub */
	ck.pos.has_sub = b->last.has_sub && !b->last_complete;
	ck.pos.sub = b->last.sub;
	ck.done = shard_done;
	/* the object holding the batch's last record */
	snprintf(ck.key, sizeof(ck.key), "%s", keys[b->cur].data);
	if (ckpt_write(w.cfg.state_dir, w.shard, &ck) == -1 &&
	    (!room_freed() || ckpt_write(w.cfg.state_dir, w.shard, &ck) == -1))
		fatal("checkpoint for %s", w.shard);

	for (i = 0; i < n; i++) {
		p = b->parts[i];
		fm[i].records = p->records;
		fm[i].bytes = p->bytes;
		fm[i].stored_bytes = p->out.len;
		fm[i].latency_ms = now_ms() - t0;
		log_info("flushed %llu records to s3://%s/%s (%zu bytes, %llu "
		    "ms)", (unsigned long long)p->records, w.cfg.s3_bucket,
		    keys[i].data, p->out.len,
		    (unsigned long long)(now_ms() - start));
		if (msg_send(SUP_FD, MSG_FLUSH, w.gen, &fm[i], sizeof(fm[i]),
		    2000) == -1)
			log_warn("report flush to supervisor"); /* outbox has it */
	}
	batch_reset(b);
	/* give a big batch's memory back: an idle shard should not keep the
	 * high-water mark of its busiest minute */
	if (b->parts[0]->out.cap > BIG_BUFFER) {
		buf_free(&b->parts[0]->out);
		malloc_trim(0);
	}
	r = 0;
out:
	for (i = 0; i < n; i++)
		buf_free(&keys[i]);
	free(keys);
	free(fm);
	return r;
}

static void
mark_done(void)
{
	struct ckpt ck;

	if (w.batch.records > 0) {
		if (flush(1) == -1)
			exit(EX_FATAL);
	} else {
		/* keep what the last checkpoint says, and add "done" */
		if (ckpt_read(w.cfg.state_dir, w.shard, &ck) != 0) {
			memset(&ck, 0, sizeof(ck));
			pos_set(&ck.pos, w.pos.seq, 0, 0);
		}
		ck.done = 1;
		ck.pos.has_sub = 0;
		if (ckpt_write(w.cfg.state_dir, w.shard, &ck) == -1)
			fatal("checkpoint for %s", w.shard);
	}
	log_info("shard end reached: %s is done", w.shard);
	send_stats(1);
	msg_send(SUP_FD, MSG_DONE, w.gen, NULL, 0, 2000);
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
		if (batch_add(&w.batch, &r, complete) == -1)
			fatalx("record %s fits no partition", seq);
	}
	pos_set(&w.pos, seq, has_sub, sub);
	w.pos_complete = complete;
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
	for (i = 0; i < agg.n; i++) {
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
	int skip_valid = 0, readers = 1 + w.cfg.read_other_readers, r, done;
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
			if (batch_expired(&w.batch, now_ms()) && flush(0) == -1)
				exit(EX_FATAL);
			continue;
		}
		w.stats.getrecords_calls++;
		last_call = now_ms();
		w.reading = 1;
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
		for (i = 0; i < recs.n; i++) {
			int sk = skip_valid && seq_cmp(recs.recs[i].seq,
			    w.pos.seq) == 0;

			consume_record(&recs.recs[i], sk, skip_sub);
		}
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
		/* caught up after a burst: drop the big response buffer */
		if (res.body.cap > BIG_BUFFER && res.body.len < BIG_BUFFER / 8) {
			buf_free(&res.body);
			malloc_trim(0);
		}
		if (batch_expired(&w.batch, now_ms()) && flush(0) == -1)
			exit(EX_FATAL);
		send_stats(0);
		if (done) {
			mark_done();
			aws_result_free(&res);
			free(resource);
			exit(EX_OK_);
		}
	}
	free(it);
	free(resource);
	aws_result_free(&res);
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
	while ((ch = getopt(argc, argv, "dvD:s:g:")) != -1) {
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

	r = ckpt_read(w.cfg.state_dir, w.shard, &ck);
	if (r == -1)
		fatalx("unreadable checkpoint; refusing to guess where to "
		    "resume");
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
	}

	http_global_init();
	w.creds = creds_new(&w.cfg);
	if (aws_ctx_init(&w.aws, &w.cfg, w.creds) == -1)
		fatalx_code(EX_CONFIG_, "bad endpoint");
	w.aws.interrupted = interrupted;
	aws_ctx_set_abort(&w.aws, abort_transfer);
	/* a multipart upload of a run that died is never left dangling */
	s3_abort_stale(&w.aws, &w.cfg, w.upload_state);
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
	close(lockfd);
	/* the supervisor names the shards whose last batch waits for the
	 * next start (kinesis-keeper-worker(8) EXIT STATUS) */
	return r == 0 ? EX_OK_ : EX_ABANDONED;
}
