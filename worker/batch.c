/*
 * batch.c: building the objects of a batch. Each record becomes a line
 * (record.c) in the part of its partition; a part's lines gather into
 * chunks that go to its compression engine (compress.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "jsonpath.h"
#include "jsonscan.h"
#include "log.h"

#define HOUR_MS		3600000LL

static struct part *
part_new(const struct cfg *cfg)
{
	struct part *p = xcalloc(1, sizeof(*p));

	buf_init(&p->out);
	buf_init(&p->line);
	comp_init(&p->comp, cfg->format_compression, cfg->format_level);
	return p;
}

static void
part_free(struct part *p)
{
	comp_free(&p->comp);
	buf_free(&p->out);
	buf_free(&p->line);
	free(p->pkey);
	free(p->jvals);
	free(p);
}

/* Empty a part for a new object; its engine and buffers stay. */
static void
part_reset(struct part *p)
{
	buf_reset(&p->out);
	buf_reset(&p->line);
	free(p->pkey);
	free(p->jvals);
	p->pkey = p->jvals = NULL;
	p->records = p->bytes = 0;
	memset(&p->first, 0, sizeof(p->first));
	memset(&p->last, 0, sizeof(p->last));
	p->first_ts = p->last_ts = 0;
	p->hour = 0;
	p->finished = 0;
	comp_reset(&p->comp);
}

void
batch_init(struct batch *b, const struct cfg *cfg)
{
	const char *k = cfg->s3_key != NULL ? cfg->s3_key : "";

	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->parts = xcalloc((size_t)(cfg->batch_max_partitions > 0 ?
	    cfg->batch_max_partitions : 1), sizeof(*b->parts));
	b->parts[0] = part_new(cfg);
	b->dated = strstr(k, "{yyyy}") != NULL || strstr(k, "{mm}") != NULL ||
	    strstr(k, "{dd}") != NULL || strstr(k, "{hh}") != NULL;
	b->json = strstr(k, "{json:") != NULL;
	buf_init(&b->scratch);
	buf_init(&b->minified);
	buf_init(&b->pkey);
	buf_init(&b->jvals);
	batch_reset(b);
}

void
batch_free(struct batch *b)
{
	size_t i, n = (size_t)(b->cfg->batch_max_partitions > 0 ?
	    b->cfg->batch_max_partitions : 1);

	for (i = 0; i < n; i++)
		if (b->parts[i] != NULL)
			part_free(b->parts[i]);
	free(b->parts);
	buf_free(&b->scratch);
	buf_free(&b->minified);
	buf_free(&b->pkey);
	buf_free(&b->jvals);
	memset(b, 0, sizeof(*b));
}

void
batch_reset(struct batch *b)
{
	size_t i;

	/* the first part is kept for the next batch; the others go, so that
	 * a quiet shard holds one engine, not one per partition it saw */
	part_reset(b->parts[0]);
	for (i = 1; i < b->nparts; i++) {
		part_free(b->parts[i]);
		b->parts[i] = NULL;
	}
	b->nparts = 0;
	b->cur = 0;
	b->records = b->bytes = 0;
	b->opened_ms = 0;
	memset(&b->first, 0, sizeof(b->first));
	memset(&b->last, 0, sizeof(b->last));
	b->first_ts = b->last_ts = 0;
	b->last_complete = 1;
}

static int64_t
hour_of(int64_t ts_ms)
{
	/* floor, like fmt_iso8601_ms, should a timestamp ever be negative */
	return ts_ms >= 0 ? ts_ms / HOUR_MS : (ts_ms - HOUR_MS + 1) / HOUR_MS;
}

/*
 * The {json:} values of a record, each NUL-ended, into b->jvals. The line
 * at hand (b->scratch) holds the payload already minified when it is
 * jsonl with "data"; a raw line is minified here.
 */
static void
json_values(struct batch *b, const struct record *r)
{
	const unsigned char *json = NULL, *p;
	const char *t = b->cfg->s3_key, *e;
	size_t len = 0;

	if (b->cfg->format_type == FORMAT_JSONL) {
		/* {"seq":..,"pk":..,"ts":..,"data":JSON}\n: a quote inside the
		 * pk is escaped, so the first ,"data": is the member */
		p = memmem(b->scratch.data, b->scratch.len, ",\"data\":", 8);
		if (p != NULL) {
			json = p + 8;
			len = (size_t)((const unsigned char *)b->scratch.data +
			    b->scratch.len - 2 - json);
		}
	} else {
		buf_reset(&b->minified);
		if (json_minify(&b->minified, r->data, r->data_len) == 0) {
			json = (const unsigned char *)b->minified.data;
			len = b->minified.len;
		}
	}
	buf_reset(&b->jvals);
	while ((t = strstr(t, "{json:")) != NULL && (e = strchr(t, '}')) !=
	    NULL) {
		jpath_value(&b->jvals, json, len, t + 6, (size_t)(e - t - 6));
		buf_addc(&b->jvals, '\0');
		t = e + 1;
	}
}

/* The part of the partition in b->pkey, opened if new; NULL past the cap. */
static struct part *
find_part(struct batch *b, int64_t hour)
{
	struct part *p;
	size_t i;

	for (i = 0; i < b->nparts; i++)
		if (strcmp(b->parts[i]->pkey, b->pkey.data) == 0) {
			b->cur = i;
			b->parts[i]->hour = hour;
			return b->parts[i];
		}
	if (b->nparts >= (size_t)(b->cfg->batch_max_partitions > 0 ?
	    b->cfg->batch_max_partitions : 1))
		return NULL;
	if (b->parts[b->nparts] == NULL)
		b->parts[b->nparts] = part_new(b->cfg);
	p = b->parts[b->nparts];
	p->pkey = xstrdup(b->pkey.data);
	if (b->json) {
		p->jvals = xmalloc(b->jvals.len + 1);
		memcpy(p->jvals, b->jvals.data, b->jvals.len);
		p->jvals[b->jvals.len] = '\0';
	}
	p->hour = hour;
	b->cur = b->nparts++;
	return p;
}

static void
format_line(const struct batch *b, struct buf *to, const struct record *r)
{
	if (b->cfg->format_type == FORMAT_RAW)
		record_format_raw(to, r);
	else
		record_format_jsonl(to, r);
}

int
batch_add(struct batch *b, const struct record *r, int complete)
{
	struct part *p;
	int64_t hour = hour_of(r->ts_ms);
	static const struct pos none;

	/* which part: the same hour as the last record means the same dates,
	 * so only a record of another hour, or any with {json:} keys, has
	 * its partition rendered (the template without {seq}) */
	if (b->json) {
		buf_reset(&b->scratch);
		format_line(b, &b->scratch, r);
		json_values(b, r);
		batch_key(&b->pkey, b->cfg, "", &none, r->ts_ms, b->jvals.data);
		if ((p = find_part(b, hour)) == NULL)
			return -1;
	} else if (b->nparts > 0 && (!b->dated ||
	    b->parts[b->cur]->hour == hour))
		p = b->parts[b->cur];
	else {
		batch_key(&b->pkey, b->cfg, "", &none, r->ts_ms, NULL);
		if ((p = find_part(b, hour)) == NULL)
			return -1;
	}

	/* uncompressed: straight into the body; compressed: lines gather in
	 * p->line and go to the engine a chunk at a time (an engine call per
	 * small record costs more than the record) */
	if (b->cfg->format_compression == COMPRESSION_NONE) {
		if (b->json)
			buf_add(&p->out, b->scratch.data, b->scratch.len);
		else
			format_line(b, &p->out, r);
	} else {
		if (b->json)
			buf_add(&p->line, b->scratch.data, b->scratch.len);
		else
			format_line(b, &p->line, r);
		if (p->line.len >= comp_chunk(&p->comp)) {
			comp_write(&p->comp, &p->out, p->line.data, p->line.len);
			buf_reset(&p->line);
		}
	}

	if (p->records == 0) {
		pos_set(&p->first, r->seq, r->has_sub, r->sub);
		p->first_ts = r->ts_ms;
	}
	pos_set(&p->last, r->seq, r->has_sub, r->sub);
	p->last_ts = r->ts_ms;
	p->records++;
	p->bytes += r->data_len;

	if (b->records == 0) {
		pos_set(&b->first, r->seq, r->has_sub, r->sub);
		b->first_ts = r->ts_ms;
		b->opened_ms = now_ms();
	}
	pos_set(&b->last, r->seq, r->has_sub, r->sub);
	b->last_complete = complete;
	b->last_ts = r->ts_ms;
	b->records++;
	b->bytes += r->data_len;
	return 0;
}

int
batch_expired(const struct batch *b, uint64_t now)
{
	return b->records > 0 && now - b->opened_ms >= b->cfg->batch_max_age_ms;
}

int
batch_size_reached(const struct batch *b)
{
	return b->records > 0 && (b->records >= b->cfg->batch_max_records ||
	    b->bytes >= b->cfg->batch_max_bytes);
}

void
batch_finish(struct batch *b)
{
	struct part *p;
	size_t i;

	/* an empty batch is still one (empty) object, as ever */
	for (i = 0; i < (b->nparts > 0 ? b->nparts : 1); i++) {
		p = b->parts[i];
		if (p->finished)
			continue;
		if (b->cfg->format_compression != COMPRESSION_NONE) {
			comp_finish(&p->comp, &p->out, p->line.data ?
			    p->line.data : "", p->line.len);
			buf_reset(&p->line);
		}
		p->finished = 1;
	}
}

void
batch_part_key(struct buf *out, const struct batch *b, const struct part *p,
    const char *shard)
{
	batch_key(out, b->cfg, shard, &p->first, p->first_ts, p->jvals);
}

void
batch_key(struct buf *out, const struct cfg *cfg, const char *shard,
    const struct pos *first, int64_t ts_ms, const char *jvals)
{
	const char *p = cfg->s3_key, *e;
	struct tm tm;
	/* floor, like fmt_iso8601_ms, should a timestamp ever be negative */
	time_t t = (time_t)(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
	char num[16];

	gmtime_r(&t, &tm);
	buf_reset(out);
	while (*p) {
		size_t n;

		if (*p != '{' || (e = strchr(p, '}')) == NULL) {
			buf_addc(out, *p++);
			continue;
		}
		n = (size_t)(e - p + 1);
#define IS(s) (n == sizeof(s) - 1 && strncmp(p, s, n) == 0)
		if (IS("{prefix}"))
			buf_addstr(out, cfg->s3_prefix ? cfg->s3_prefix : "");
		else if (IS("{stream}"))
			buf_addstr(out, cfg->stream);
		else if (IS("{shard}"))
			buf_addstr(out, shard);
		else if (IS("{seq}")) {
			buf_addstr(out, first->seq);
			/* a batch starting inside an aggregate */
			if (first->has_sub && first->sub != 0)
				buf_printf(out, "-%llu",
				    (unsigned long long)first->sub);
		} else if (IS("{yyyy}")) {
			snprintf(num, sizeof(num), "%04d", tm.tm_year + 1900);
			buf_addstr(out, num);
		} else if (IS("{mm}")) {
			snprintf(num, sizeof(num), "%02d", tm.tm_mon + 1);
			buf_addstr(out, num);
		} else if (IS("{dd}")) {
			snprintf(num, sizeof(num), "%02d", tm.tm_mday);
			buf_addstr(out, num);
		} else if (IS("{hh}")) {
			snprintf(num, sizeof(num), "%02d", tm.tm_hour);
			buf_addstr(out, num);
		} else if (n > 7 && strncmp(p, "{json:", 6) == 0) {
			/* the values in template order; none: missing */
			buf_addstr(out, jvals != NULL ? jvals : JPATH_MISSING);
			if (jvals != NULL)
				jvals += strlen(jvals) + 1;
		} else
			buf_add(out, p, n);	/* rejected by cfg; kept literal */
#undef IS
		p = e + 1;
	}
}
