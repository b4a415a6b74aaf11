/*
 * test_batch.c: worker/batch.c: records in, an object body out (a gzip
 * stream that zlib inflates to exactly the record lines, a zstd frame, or
 * the lines
 * themselves without compression), the count/bytes/age limits, and the
 * object key rendered from the template and the batch's first record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "batch.h"
#include "cfg.h"
#include "record.h"
#include "t.h"
#include "unpack.h"
#include "util.h"

/* the body of a batch of one object */
#define OUT0	(b.parts[0]->out)

#define DEFAULT_KEY \
	"{prefix}{stream}/{yyyy}/{mm}/{dd}/{hh}/{stream}-{shard}-{seq}.jsonl.gz"

static void
cfg_setup(struct cfg *c, enum cfg_format type, enum cfg_compression comp)
{
	memset(c, 0, sizeof(*c));
	c->stream = (char *)(uintptr_t)"orders";
	c->s3_prefix = (char *)(uintptr_t)"kinesis/";
	c->s3_key = (char *)(uintptr_t)DEFAULT_KEY;
	c->format_type = type;
	c->format_compression = comp;
	c->format_level = 6;
	c->format_deaggregate = 1;
	c->batch_max_records = 500000;
	c->batch_max_bytes = 64 * 1024 * 1024;
	c->batch_max_age_ms = 300000;
	c->batch_max_partitions = 16;
}

/* A gzip body: one or more complete members (libdeflate writes one per
 * 1 MiB chunk) */
static int
gunzip(const struct buf *in, struct buf *out)
{
	return t_gunzip(in, out, NULL);
}

/* A limit reached: the worker checks the count and bytes per record and
 * the age per response; this is the two together. */
static int
full(const struct batch *b, uint64_t now)
{
	return batch_size_reached(b) || batch_expired(b, now);
}

static void
mkrec(struct record *r, const char *seq, const char *pk, int64_t ts,
    const void *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->pk = pk;
	r->pk_len = strlen(pk);
	r->ts_ms = ts;
	r->data = data;
	r->data_len = len;
}

static void
test_jsonl_gzip(void)
{
	struct cfg c;
	struct batch b;
	struct record r;
	struct buf plain, expect;
	static const unsigned char bin[] = { 0xff, 0x00 };
	const char *want =
	    "{\"seq\":\"1\",\"pk\":\"k\",\"ts\":\"2016-11-21T16:57:47.053Z\","
	    "\"data\":{\"a\":1}}\n"
	    "{\"seq\":\"2\",\"pk\":\"user-42\",\"ts\":\"2016-11-21T16:57:48.000Z\","
	    "\"b64\":\"/wA=\"}\n";

	cfg_setup(&c, FORMAT_JSONL, COMPRESSION_GZIP);
	batch_init(&b, &c);
	buf_init(&plain);
	buf_init(&expect);

	mkrec(&r, "1", "k", 1479747467053LL, "{\"a\": 1}", 8);
	batch_add(&b, &r, 1);
	mkrec(&r, "2", "user-42", 1479747468000LL, bin, sizeof(bin));
	batch_add(&b, &r, 1);
	batch_finish(&b);
	T_OK(OUT0.len > 18 && (unsigned char)OUT0.data[0] == 0x1f &&
	    (unsigned char)OUT0.data[1] == 0x8b && OUT0.data[2] == 8,
	    "gzip: RFC 1952 magic and deflate method");
	T_INTEQ(gunzip(&OUT0, &plain), 0, "gzip: complete members");
	T_STREQ(plain.data, want, "gzip: inflates to exactly the jsonl lines");
	T_INTEQ(b.records, 2, "records counted");
	T_INTEQ(b.bytes, 8 + 2, "payload bytes counted");
	T_STREQ(b.first.seq, "1", "first_seq");
	T_STREQ(b.last.seq, "2", "last_seq");
	T_INTEQ(b.first_ts, 1479747467053LL, "first_ts");
	T_INTEQ(b.last_ts, 1479747468000LL, "last_ts");

	/* finishing twice changes nothing */
	{
		size_t len = OUT0.len;

		batch_finish(&b);
		T_INTEQ(OUT0.len, len, "batch_finish is idempotent");
	}

	/* a reset batch is a new object, with only its own records */
	batch_reset(&b);
	T_OK(b.records == 0 && b.bytes == 0 && b.first.seq[0] == '\0' &&
	    b.last.seq[0] == '\0' && OUT0.len == 0, "batch_reset empties");
	mkrec(&r, "3", "k", 0, "\"x\"", 3);
	r.has_sub = 1;
	r.sub = 4;
	batch_add(&b, &r, 0);
	batch_finish(&b);
	record_format_jsonl(&expect, &r);
	T_OK(gunzip(&OUT0, &plain) == 0 && plain.len == expect.len &&
	    memcmp(plain.data, expect.data, expect.len) == 0,
	    "after reset: only the new record");
	T_OK(b.first.has_sub == 1 && b.first.sub == 4 && b.last.has_sub == 1 &&
	    b.last.sub == 4 && b.last_complete == 0,
	    "sub positions and last_complete tracked");

	/* an empty batch is still a valid (empty) gzip stream */
	batch_reset(&b);
	batch_finish(&b);
	T_OK(gunzip(&OUT0, &plain) == 0 && plain.len == 0,
	    "an empty batch inflates to nothing");

	buf_free(&plain);
	buf_free(&expect);
	batch_free(&b);
}

/* Many records of every kind, small and large, compressible or not. */
static void
test_many(enum cfg_format type, enum cfg_compression comp, int level,
    const char *what)
{
	struct cfg c;
	struct batch b;
	struct record r;
	struct buf plain, expect;
	char seqs[3000][24], pks[8][16];
	unsigned char *data;
	size_t i, off = 0, total = 0;
	uint32_t x = 12345;
	int ok;

	cfg_setup(&c, type, comp);
	/* one object: the records span an hour boundary */
	c.s3_key = (char *)(uintptr_t)"{prefix}{shard}-{seq}";
	c.format_level = level;
	batch_init(&b, &c);
	buf_init(&plain);
	buf_init(&expect);
	data = xmalloc(4 * 1024 * 1024);
	for (i = 0; i < 4 * 1024 * 1024; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)(x >> 16);
	}
	for (i = 0; i < 8; i++)
		snprintf(pks[i], sizeof(pks[i]), "pk-%zu\"\\", i);
	for (i = 0; i < 3000; i++) {
		size_t len;

		snprintf(seqs[i], sizeof(seqs[i]), "%zu", 1000 + i * 7);
		if (i % 3 == 0) {
			static const char *const js[] = { "{\"n\": 1}", "[1,2]",
			    "\"s\"", "null", "  {\"a\":{\"b\":[true,false]}}  " };
			const char *j = js[i % 5];

			mkrec(&r, seqs[i], pks[i % 8], 1479747467053LL +
			    (int64_t)i * 997, j, strlen(j));
		} else {
			/* a few big random payloads: the deflate output
			 * buffer has to grow inside one call */
			len = i % 500 == 1 ? 200000 : (x >> 8) % 300;
			x = x * 1103515245 + 12345;
			if (off + len > 4 * 1024 * 1024)
				off = 0;
			mkrec(&r, seqs[i], pks[i % 8], 1479747467053LL +
			    (int64_t)i * 997, data + off, len);
			off += len;
		}
		if (type == FORMAT_RAW)
			record_format_raw(&expect, &r);
		else
			record_format_jsonl(&expect, &r);
		total += r.data_len;
		batch_add(&b, &r, 1);
	}
	batch_finish(&b);
	if (comp == COMPRESSION_GZIP)
		ok = gunzip(&OUT0, &plain) == 0;
	else if (comp == COMPRESSION_ZSTD)
		ok = t_unzstd(&OUT0, &plain) == 0;
	else {
		buf_reset(&plain);
		buf_add(&plain, OUT0.data, OUT0.len);
		ok = 1;
	}
	T_OK(ok && plain.len == expect.len &&
	    memcmp(plain.data, expect.data, expect.len) == 0,
	    "%s: 3000 records give exactly the concatenated lines", what);
	T_INTEQ(b.records, 3000, "record count");
	T_INTEQ(b.bytes, total, "payload byte count");
	T_STREQ(b.first.seq, "1000", "first_seq");
	T_STREQ(b.last.seq, seqs[2999], "last_seq");
	free(data);
	buf_free(&plain);
	buf_free(&expect);
	batch_free(&b);
}

static void
test_raw_exact(void)
{
	struct cfg c;
	struct batch b;
	struct record r;
	struct buf plain;

	cfg_setup(&c, FORMAT_RAW, COMPRESSION_NONE);
	batch_init(&b, &c);
	buf_init(&plain);
	mkrec(&r, "1", "k", 0, "hello", 5);
	batch_add(&b, &r, 1);
	mkrec(&r, "2", "k", 0, "", 0);
	batch_add(&b, &r, 1);
	mkrec(&r, "3", "k", 0, "a\0b", 3);
	batch_add(&b, &r, 1);
	batch_finish(&b);
	T_OK(OUT0.len == 11 && memcmp(OUT0.data, "hello\n\na\0b\n", 11) == 0,
	    "raw, none: payloads each followed by a newline");
	batch_free(&b);

	cfg_setup(&c, FORMAT_RAW, COMPRESSION_GZIP);
	batch_init(&b, &c);
	mkrec(&r, "1", "k", 0, "hello", 5);
	batch_add(&b, &r, 1);
	mkrec(&r, "2", "k", 0, "a\0b", 3);
	batch_add(&b, &r, 1);
	batch_finish(&b);
	T_OK(gunzip(&OUT0, &plain) == 0 && plain.len == 10 &&
	    memcmp(plain.data, "hello\na\0b\n", 10) == 0,
	    "raw, gzip: inflates to the payloads and newlines");
	batch_free(&b);

	cfg_setup(&c, FORMAT_JSONL, COMPRESSION_NONE);
	batch_init(&b, &c);
	mkrec(&r, "7", "p", 1479747467053LL, "{ \"a\" : [ 1 , 2 ] }", 19);
	batch_add(&b, &r, 1);
	batch_finish(&b);
	T_STREQ(OUT0.data, "{\"seq\":\"7\",\"pk\":\"p\","
	    "\"ts\":\"2016-11-21T16:57:47.053Z\",\"data\":{\"a\":[1,2]}}\n",
	    "jsonl, none: the line itself");
	buf_free(&plain);
	batch_free(&b);
}

static void
test_limits(void)
{
	struct cfg c;
	struct batch b;
	struct record r;
	char big[1000];
	uint64_t t;

	memset(big, 'x', sizeof(big));
	cfg_setup(&c, FORMAT_RAW, COMPRESSION_GZIP);
	c.batch_max_records = 3;
	c.batch_max_bytes = 1000000;
	c.batch_max_age_ms = 60000;
	batch_init(&b, &c);
	t = now_ms();
	T_OK(!full(&b, t) && !batch_expired(&b, t + 10000000),
	    "an empty batch is never full nor expired");
	mkrec(&r, "1", "k", 0, "a", 1);
	batch_add(&b, &r, 1);
	batch_add(&b, &r, 1);
	T_OK(!full(&b, b.opened_ms), "count: 2 of 3 is not full");
	batch_add(&b, &r, 1);
	T_OK(full(&b, b.opened_ms), "count: 3 of 3 is full");
	batch_reset(&b);
	T_OK(!full(&b, now_ms()), "count: reset empties");

	c.batch_max_records = 1000;
	c.batch_max_bytes = 2500;
	mkrec(&r, "1", "k", 0, big, sizeof(big));
	batch_add(&b, &r, 1);
	batch_add(&b, &r, 1);
	T_OK(!full(&b, b.opened_ms), "bytes: 2000 of 2500 not full");
	mkrec(&r, "2", "k", 0, big, 500);
	batch_add(&b, &r, 1);
	T_OK(full(&b, b.opened_ms), "bytes: 2500 of 2500 is full");
	batch_reset(&b);

	c.batch_max_bytes = 1000000;
	t = now_ms();
	mkrec(&r, "1", "k", 0, "a", 1);
	batch_add(&b, &r, 1);
	T_OK(b.opened_ms >= t && b.opened_ms <= now_ms(),
	    "age: opened at the first record (monotonic clock)");
	T_OK(!batch_expired(&b, b.opened_ms + 59999) &&
	    !full(&b, b.opened_ms + 59999), "age: 59.999 s is not old");
	T_OK(batch_expired(&b, b.opened_ms + 60000) &&
	    full(&b, b.opened_ms + 60000), "age: 60 s is old");
	t = b.opened_ms;
	batch_add(&b, &r, 1);
	T_INTEQ(b.opened_ms, t, "age: later records do not restart the clock");
	batch_free(&b);
}

static void
key(struct buf *out, const char *tmpl, const char *prefix, const char *seq,
    int has_sub, uint64_t sub, int64_t ts)
{
	struct cfg c;

	struct pos first;

	cfg_setup(&c, FORMAT_JSONL, COMPRESSION_GZIP);
	c.s3_key = (char *)(uintptr_t)tmpl;
	c.s3_prefix = (char *)(uintptr_t)prefix;
	pos_set(&first, seq, has_sub, sub);
	batch_key(out, &c, "shardId-000000000003", &first, ts, NULL);
}

static void
test_key(void)
{
	struct buf k;

	buf_init(&k);
	/* the local time zone must not leak into the key */
	setenv("TZ", "America/Los_Angeles", 1);
	tzset();

	key(&k, DEFAULT_KEY, "kinesis/", "4959", 0, 0, 1479747467053LL);
	T_STREQ(k.data, "kinesis/orders/2016/11/21/16/"
	    "orders-shardId-000000000003-4959.jsonl.gz", "default key, UTC");
	key(&k, "{prefix}|{stream}|{shard}|{seq}|{yyyy}|{mm}|{dd}|{hh}", "p/",
	    "12", 0, 0, 1709251199999LL);
	T_STREQ(k.data, "p/|orders|shardId-000000000003|12|2024|02|29|23",
	    "every placeholder");
	key(&k, "{seq}", "", "12", 1, 7, 0);
	T_STREQ(k.data, "12-7", "{seq} of sub-record 7 gets -7");
	key(&k, "{seq}", "", "12", 1, 0, 0);
	T_STREQ(k.data, "12", "{seq} of sub-record 0 gets no suffix");
	key(&k, "{seq}", "", "12", 0, 7, 0);
	T_STREQ(k.data, "12", "{seq} without has_sub gets no suffix");
	key(&k, "{seq}", "", "12", 1, UINT64_MAX, 0);
	T_STREQ(k.data, "12-18446744073709551615", "{seq} with the largest sub");
	key(&k, "{seq}.{seq}", "", "5", 1, 2, 0);
	T_STREQ(k.data, "5-2.5-2", "a placeholder used twice");
	key(&k, "{yyyy}-{mm}-{dd}T{hh}", "", "1", 0, 0, 1735689599999LL);
	T_STREQ(k.data, "2024-12-31T23", "last ms of a year");
	key(&k, "{yyyy}-{mm}-{dd}T{hh}", "", "1", 0, 0, 1735689600000LL);
	T_STREQ(k.data, "2025-01-01T00", "first ms of the next year");
	key(&k, "{yyyy}/{mm}/{dd}/{hh}", "", "1", 0, 0, 0);
	T_STREQ(k.data, "1970/01/01/00", "the epoch");
	key(&k, "{prefix}{stream}", NULL, "1", 0, 0, 0);
	T_STREQ(k.data, "orders", "no prefix set");
	key(&k, "a{bogus}b{seq", "", "1", 0, 0, 0);
	T_STREQ(k.data, "a{bogus}b{seq", "unknown and unclosed kept literal");
	key(&k, "", "", "1", 0, 0, 0);
	T_STREQ(k.data, "", "empty template");
	key(&k, "{SEQ}{ seq}{seq }", "", "1", 0, 0, 0);
	T_STREQ(k.data, "{SEQ}{ seq}{seq }", "near misses kept literal");

	unsetenv("TZ");
	tzset();
	buf_free(&k);
}

/* The lines of every part, one string per part (for the checks). */
static void
part_lines(struct batch *b, size_t i, struct buf *plain)
{
	if (b->cfg->format_compression == COMPRESSION_NONE) {
		buf_reset(plain);
		buf_add(plain, b->parts[i]->out.data, b->parts[i]->out.len);
	} else if (gunzip(&b->parts[i]->out, plain) == -1)
		buf_reset(plain);
}

/* Each record's own hour: one batch across hh:00:00 is two objects. */
static void
test_hours(void)
{
	static const int64_t h18 = 1795802400000LL;	/* 2026-11-27T18Z */
	static const struct { const char *seq; int64_t ts; size_t part; } t[] = {
		{ "10", h18 - 2000, 0 }, { "11", h18 - 1, 0 },
		{ "12", h18, 1 }, { "13", h18 + 999, 1 },
		{ "14", h18 - 500, 0 },		/* arrival times may step back */
		{ "15", h18 + 3599999, 1 },
	};
	struct cfg c;
	struct batch b;
	struct record r;
	struct buf k, plain, want[2];
	size_t i;

	cfg_setup(&c, FORMAT_JSONL, COMPRESSION_GZIP);
	batch_init(&b, &c);
	buf_init(&k);
	buf_init(&plain);
	buf_init(&want[0]);
	buf_init(&want[1]);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mkrec(&r, t[i].seq, "k", t[i].ts, "{}", 2);
		T_INTEQ(batch_add(&b, &r, 1), 0, "hours: record added");
		record_format_jsonl(&want[t[i].part], &r);
	}
	batch_finish(&b);
	T_INTEQ(b.nparts, 2, "hours: two partitions, two objects");
	T_INTEQ(b.records, 6, "hours: the batch counts every record");
	for (i = 0; i < 2 && i < b.nparts; i++) {
		part_lines(&b, i, &plain);
		T_OK(plain.len == want[i].len && memcmp(plain.data, want[i].data,
		    plain.len) == 0, "hours: object %zu holds its hour's records "
		    "in shard order", i);
	}
	batch_part_key(&k, &b, b.parts[0], "shardId-000000000001");
	T_STREQ(k.data, "kinesis/orders/2026/11/27/17/"
	    "orders-shardId-000000000001-10.jsonl.gz",
	    "hours: the first object is named after its first record");
	buf_reset(&k);
	if (b.nparts > 1)
		batch_part_key(&k, &b, b.parts[1], "shardId-000000000001");
	T_STREQ(k.data, "kinesis/orders/2026/11/27/18/"
	    "orders-shardId-000000000001-12.jsonl.gz",
	    "hours: the second after its own first record, in hour 18");
	T_OK(strcmp(b.last.seq, "15") == 0 && b.cur == 1,
	    "hours: the batch's last record is known, and its object");

	/* reset: a new batch, the extra part's engine given back */
	batch_reset(&b);
	T_OK(b.nparts == 0 && b.records == 0 && b.parts[1] == NULL,
	    "hours: reset empties the batch and frees the other parts");
	mkrec(&r, "20", "k", h18 + 7200000, "{}", 2);
	batch_add(&b, &r, 1);
	batch_finish(&b);
	part_lines(&b, 0, &plain);
	T_OK(b.nparts == 1 && plain.len > 0 && strstr(plain.data,
	    "\"seq\":\"20\"") != NULL && strstr(plain.data, "\"10\"") == NULL,
	    "hours: after reset only the new record");
	buf_free(&k);
	buf_free(&plain);
	buf_free(&want[0]);
	buf_free(&want[1]);
	batch_free(&b);
}

/* {json:PATH}: one object per value; past the cap, batch_add refuses. */
static void
test_json_parts(enum cfg_format type, enum cfg_compression comp)
{
	static const char *const pay[] = {
		"{\"t\":{\"id\":\"a\"},\"k\":1}",
		"{ \"t\" : { \"id\" : \"b\" } , \"k\" : 1 }",
		"{\"t\":{\"id\":\"a\"},\"k\":1,\"more\":[1,{\"x\":2}]}",
		"not json",
		"{\"t\":{\"id\":\"a/b c\"},\"k\":\"x\"}",
	};
	static const char *const keys[] = {
		"a/1/s-1", "b/1/s-2", "_missing/_missing/s-4", "a_b_c/x/s-5"
	};
	struct cfg c;
	struct batch b;
	struct record r;
	struct buf k;
	char seq[8];
	size_t i;

	cfg_setup(&c, type, comp);
	c.s3_key = (char *)(uintptr_t)"{json:t.id}/{json:k}/{shard}-{seq}";
	c.batch_max_partitions = 4;
	batch_init(&b, &c);
	buf_init(&k);
	for (i = 0; i < sizeof(pay) / sizeof(pay[0]); i++) {
		snprintf(seq, sizeof(seq), "%zu", i + 1);
		mkrec(&r, seq, "k", 0, pay[i], strlen(pay[i]));
		batch_add(&b, &r, 1);
	}
	batch_finish(&b);
	T_INTEQ(b.nparts, 4, "json: four partitions");
	for (i = 0; i < b.nparts && i < 4; i++) {
		batch_part_key(&k, &b, b.parts[i], "s");
		T_STREQ(k.data, keys[i], "json: object key");
	}
	T_INTEQ(b.parts[0]->records, 2, "json: records 1 and 3 share one");
	mkrec(&r, "9", "k", 0, "{\"t\":{\"id\":\"new\"}}", 18);
	T_INTEQ(batch_add(&b, &r, 1), -1, "json: a fifth partition is refused");
	T_INTEQ(b.records, 5, "json: ... and nothing was added");
	mkrec(&r, "10", "k", 0, "{\"t\":{\"id\":\"b\"},\"k\":1}", 20);
	T_INTEQ(batch_add(&b, &r, 1), 0, "json: an open partition still takes "
	    "records");
	buf_free(&k);
	batch_free(&b);
}

int
main(void)
{
	test_jsonl_gzip();
	test_raw_exact();
	test_many(FORMAT_JSONL, COMPRESSION_GZIP, 6, "jsonl gzip 6");
	test_many(FORMAT_RAW, COMPRESSION_GZIP, 9, "raw gzip 9");
	test_many(FORMAT_JSONL, COMPRESSION_GZIP, 1, "jsonl gzip 1 (ISA-L)");
	test_many(FORMAT_JSONL, COMPRESSION_ZSTD, 1, "jsonl zstd 1");
	test_many(FORMAT_RAW, COMPRESSION_ZSTD, 3, "raw zstd 3");
	test_many(FORMAT_JSONL, COMPRESSION_NONE, 0, "jsonl none");
	test_many(FORMAT_RAW, COMPRESSION_NONE, 0, "raw none");
	test_limits();
	test_key();
	test_hours();
	test_json_parts(FORMAT_JSONL, COMPRESSION_GZIP);
	test_json_parts(FORMAT_RAW, COMPRESSION_NONE);
	return t_done();
}
