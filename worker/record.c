/*
 * record.c: the line formats of an archived object (format.type in
 * kinesis-keeper.conf(5)): the jsonl envelope and raw lines. Whether a
 * payload is embedded as "data" or kept as "b64" is json_minify's call
 * (jsonscan.c).
 */
#include <stdint.h>
#include <string.h>

#include "jsonscan.h"
#include "record.h"
#include "util.h"

/* Append the decimal digits of v. */
static void
append_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, tmp + i, sizeof(tmp) - i);
}

/* 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in epoch ms */
#define TS_MIN_MS	(-62135596800000LL)
#define TS_MAX_MS	253402300799999LL

/*
 * Append "YYYY-MM-DDTHH:MM:SS.mmmZ". Records of one GetRecords batch mostly
 * share their second: remember the last one formatted (per thread) so the
 * gmtime/printf work is done once per second of arrival time. Kinesis
 * timestamps are always in range; the clamp only keeps a nonsense value
 * from overflowing the arithmetic or printing a malformed date.
 */
static void
append_ts(struct buf *b, int64_t ms)
{
	static _Thread_local int64_t last_sec = INT64_MIN;
	static _Thread_local char last[32];
	int64_t sec, frac;
	char tail[5];

	if (ms < TS_MIN_MS)
		ms = TS_MIN_MS;
	else if (ms > TS_MAX_MS)
		ms = TS_MAX_MS;
	sec = ms / 1000;
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	if (sec != last_sec) {
		fmt_iso8601_ms(sec * 1000, last, sizeof(last));
		last[19] = '\0';		/* keep "YYYY-MM-DDTHH:MM:SS" */
		last_sec = sec;
	}
	buf_add(b, last, 19);
	tail[0] = '.';
	tail[1] = (char)('0' + frac / 100);
	tail[2] = (char)('0' + frac / 10 % 10);
	tail[3] = (char)('0' + frac % 10);
	tail[4] = 'Z';
	buf_add(b, tail, 5);
}

void
record_format_jsonl(struct buf *b, const struct record *r)
{
	const char *seq = r->seq != NULL ? r->seq : "";
	size_t mark;

	/* one growth for the common case: envelope plus embedded payload */
	buf_reserve(b, r->data_len + r->pk_len + 128);
	buf_add(b, "{\"seq\":", 7);
	json_append_string(b, seq, strlen(seq));
	if (r->has_sub) {
		buf_add(b, ",\"sub\":", 7);
		append_u64(b, r->sub);
	}
	buf_add(b, ",\"pk\":", 6);
	json_append_string(b, r->pk, r->pk_len);
	buf_add(b, ",\"ts\":\"", 7);
	append_ts(b, r->ts_ms);
	mark = b->len;
	buf_add(b, "\",\"data\":", 9);
	if (json_minify(b, r->data, r->data_len) != 0) {
		/* not a JSON text in valid UTF-8: keep the exact bytes */
		b->len = mark;
		buf_add(b, "\",\"b64\":\"", 9);
		base64_encode_buf(b, r->data, r->data_len);
		buf_addc(b, '"');
	}
	buf_add(b, "}\n", 2);
}

void
record_format_raw(struct buf *b, const struct record *r)
{
	buf_reserve(b, r->data_len + 1);
	buf_add(b, r->data, r->data_len);
	buf_addc(b, '\n');
}
