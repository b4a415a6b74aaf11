/*
 * batch.c: building one object body. Each record becomes a line (record.c)
 * that goes straight into a zlib gzip stream (RFC 1952).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "log.h"

#define GZIP_WINDOW	(15 + 16)	/* zlib: 15-bit window, gzip wrapper */
#define DEFLATE_CHUNK	(64 * 1024)

void
batch_init(struct batch *b, const struct cfg *cfg)
{
	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	buf_init(&b->out);
	buf_init(&b->line);
	batch_reset(b);
}

void
batch_free(struct batch *b)
{
	if (b->zactive)
		deflateEnd(&b->z);
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
	if (b->cfg->format_compression == COMPRESSION_GZIP) {
		if (b->zactive) {
			if (deflateReset(&b->z) != Z_OK)
				fatalx("deflateReset failed");
		} else {
			memset(&b->z, 0, sizeof(b->z));
			if (deflateInit2(&b->z, b->cfg->format_level,
			    Z_DEFLATED, GZIP_WINDOW, 8,
			    Z_DEFAULT_STRATEGY) != Z_OK)
				fatalx("deflateInit2 failed");
			b->zactive = 1;
		}
	}
}

static void
deflate_some(struct batch *b, const void *in, size_t len, int flush)
{
	int r;

	b->z.next_in = (Bytef *)(uintptr_t)in;
	b->z.avail_in = (uInt)len;
	do {
		size_t room;

		buf_reserve(&b->out, len / 2 + 4096);
		room = b->out.cap - b->out.len - 1;
		if (room > UINT32_MAX)
			room = UINT32_MAX;
		b->z.next_out = (Bytef *)b->out.data + b->out.len;
		b->z.avail_out = (uInt)room;
		r = deflate(&b->z, flush);
		if (r == Z_STREAM_ERROR)
			fatalx("deflate: stream error");
		b->out.len += room - b->z.avail_out;
		b->out.data[b->out.len] = '\0';
	} while (b->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
}

void
batch_add(struct batch *b, const struct record *r, int complete)
{
	/* uncompressed: straight into the body; compressed: lines gather in
	 * b->line and go to zlib 64 KiB at a time (a deflate call per small
	 * record costs more than the record) */
	if (b->cfg->format_compression != COMPRESSION_GZIP) {
		if (b->cfg->format_type == FORMAT_RAW)
			record_format_raw(&b->out, r);
		else
			record_format_jsonl(&b->out, r);
	} else {
		if (b->cfg->format_type == FORMAT_RAW)
			record_format_raw(&b->line, r);
		else
			record_format_jsonl(&b->line, r);
		if (b->line.len >= DEFLATE_CHUNK) {
			deflate_some(b, b->line.data, b->line.len, Z_NO_FLUSH);
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
	if (b->cfg->format_compression == COMPRESSION_GZIP) {
		deflate_some(b, b->line.data ? b->line.data : "", b->line.len,
		    Z_FINISH);
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
