/*
 * batch.c: building one object body. Each record becomes a line (record.c);
 * lines gather into chunks that go to the compression engine (compress.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "log.h"

void
batch_init(struct batch *b, const struct cfg *cfg)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	buf_init(&b->out);
	buf_init(&b->line);
	comp_init(&b->comp, cfg->format_compression, cfg->format_level);
	batch_reset(b);
}

void
batch_free(struct batch *b)
{
	comp_free(&b->comp);
	buf_free(&b->out);
	buf_free(&b->line);
	memset(b, 0, sizeof(*b));
}

void
batch_reset(struct batch *b)
{
	buf_reset(&b->out);
	buf_reset(&b->line);
	b->records = b->bytes = 0;
	b->opened_ms = 0;
	memset(&b->first, 0, sizeof(b->first));
	memset(&b->last, 0, sizeof(b->last));
	b->first_ts = b->last_ts = 0;
	b->last_complete = 1;
	b->finished = 0;
	comp_reset(&b->comp);
}

void
batch_add(struct batch *b, const struct record *r, int complete)
{
	/* uncompressed: straight into the body; compressed: lines gather in
	 * b->line and go to the engine a chunk at a time (an engine call per
	 * small record costs more than the record) */
	if (b->cfg->format_compression == COMPRESSION_NONE) {
		if (b->cfg->format_type == FORMAT_RAW)
			record_format_raw(&b->out, r);
		else
			record_format_jsonl(&b->out, r);
	} else {
		if (b->cfg->format_type == FORMAT_RAW)
			record_format_raw(&b->line, r);
		else
			record_format_jsonl(&b->line, r);
		if (b->line.len >= comp_chunk(&b->comp)) {
			comp_write(&b->comp, &b->out, b->line.data, b->line.len);
			buf_reset(&b->line);
		}
	}

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
	if (b->finished)
		return;
	if (b->cfg->format_compression != COMPRESSION_NONE) {
		comp_finish(&b->comp, &b->out, b->line.data ? b->line.data : "",
		    b->line.len);
		buf_reset(&b->line);
	}
	b->finished = 1;
}

void
batch_key(struct buf *out, const struct cfg *cfg, const char *shard,
    const char *seq, int has_sub, uint64_t sub, int64_t ts_ms)
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
			buf_addstr(out, seq);
			/* a batch starting inside an aggregate */
			if (has_sub && sub != 0)
				buf_printf(out, "-%llu", (unsigned long long)sub);
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
		} else
			buf_add(out, p, n);	/* rejected by cfg; kept literal */
#undef IS
		p = e + 1;
	}
}
