/*
 * test_kinesis.c: the response parsers of common/kinesis.c. Valid bodies
 * as AWS (and moto) send them, then hostile ones: each must give -1 with a
 * reason, leave nothing allocated, and never read past the body (bodies are
 * handed over in exactly-sized heap copies without a terminating NUL).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kinesis.h"
#include "t.h"
#include "util.h"

/* One record with every field right; the R1 bodies replace one field. */
#define SEQ	"\"SequenceNumber\":\"1\""
#define PK	"\"PartitionKey\":\"k\""
#define DATA	"\"Data\":\"YQ==\""
#define TS	"\"ApproximateArrivalTimestamp\":1.479747467053E9"
#define R1(f)	"{\"Records\":[{" f "}],\"NextShardIterator\":\"it\"}"

static int divergences, crosschecks;

static int
same_records(const struct kinesis_records *a, const struct kinesis_records *b)
{
	size_t i;

	if (a->n != b->n || a->data_bytes != b->data_bytes ||
	    a->millis_behind != b->millis_behind || a->nchild != b->nchild ||
	    (a->next_iterator == NULL) != (b->next_iterator == NULL) ||
	    (a->next_iterator != NULL &&
	    strcmp(a->next_iterator, b->next_iterator) != 0))
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct kinesis_record *x = &a->recs[i], *y = &b->recs[i];

		if (strcmp(x->seq, y->seq) != 0 || x->pk_len != y->pk_len ||
		    memcmp(x->pk, y->pk, x->pk_len) != 0 ||
		    x->data_len != y->data_len || x->ts_ms != y->ts_ms ||
		    (x->data_len > 0 &&
		    memcmp(x->data, y->data, x->data_len) != 0))
			return 0;
	}
	for (i = 0; i < a->nchild; i++)
		if (strcmp(a->child_shards[i], b->child_shards[i]) != 0)
			return 0;
	return 1;
}

/*
 * kinesis_parse_records tries a fast scanner first and falls back to the
 * json-c parser; the scanner may refuse more than json-c but must never
 * accept more, and must give the same result. Checked on every body.
 */
static void
crosscheck(const char *body, size_t len)
{
	struct kinesis_records f, j;
	const char *why = NULL;
	char *copy = xmalloc(len ? len : 1);	/* the scanner works in place */

	memcpy(copy, body, len);
	crosschecks++;
	if (kinesis_parse_records_fast(copy, len, &f) == 0) {
		if (kinesis_parse_records_jsonc(body, len, &j, &why) != 0 ||
		    !same_records(&f, &j)) {
			divergences++;
			printf("# fast scanner accepted%s: %.*s\n",
			    why ? " what json-c refuses" : " differently",
			    (int)(len > 300 ? 300 : len), body);
		}
		kinesis_records_free(&j);
	}
	kinesis_records_free(&f);
	free(copy);
}

static char **held;
static size_t nheld, held_len;	/* held_len: of the last body */

static int
records(const char *body, size_t len, struct kinesis_records *r,
    const char **why)
{
	char *copy = xmalloc(len ? len : 1);
	int ret;

	memcpy(copy, body, len);
	crosscheck(copy, len);
	*why = NULL;
	ret = kinesis_parse_records(copy, len, r, why);
	/* the records point into the body: it lives until the test ends */
	held = xrealloc(held, (nheld + 1) * sizeof(*held));
	held[nheld++] = copy;
	held_len = len;
	return ret;
}

static void
free_held(void)
{
	size_t i;

	for (i = 0; i < nheld; i++)
		free(held[i]);
	free(held);
}

/* -1, a reason, and nothing left allocated or pointing anywhere. */
static int
rejected(const char *body, size_t len)
{
	struct kinesis_records r;
	const char *why;
	int ok;

	memset(&r, 0x5a, sizeof(r));
	ok = records(body, len, &r, &why) == -1 && why != NULL &&
	    *why != '\0' && r.recs == NULL && r.n == 0 && r.arena == NULL &&
	    r.next_iterator == NULL && r.child_shards == NULL &&
	    r.nchild == 0 && r.millis_behind == -1;
	if (!ok)
		printf("# accepted or left state behind (why: %s)\n",
		    why ? why : "(null)");
	kinesis_records_free(&r);
	return ok;
}

static int
rejected_s(const char *body)
{
	return rejected(body, strlen(body));
}

/* Every pointer of a parsed response lies inside its arena. */
static int
in_arena(const struct kinesis_records *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct kinesis_record *k = &r->recs[i];
		/* the json-c path fills an arena; the scanner works in the
		 * body itself (the last one records() was given) */
		const unsigned char *a = r->arena != NULL ? r->arena :
		    (const unsigned char *)held[nheld - 1];
		const unsigned char *e = a + (r->arena != NULL ? r->arena_len :
		    held_len);
		const unsigned char *s = (const unsigned char *)k->seq;
		const unsigned char *p = (const unsigned char *)k->pk;

		if (s < a || s + strlen(k->seq) >= e || p < a ||
		    p + k->pk_len >= e || p[k->pk_len] != '\0' ||
		    (k->data_len > 0 && (k->data < a ||
		    k->data + k->data_len > e)) || !seq_valid(k->seq))
			return 0;
	}
	return 1;
}

static void
test_records_valid(void)
{
	struct kinesis_records r;
	const char *why;
	const char *aws =
	    "{\"MillisBehindLatest\":2100,\"NextShardIterator\":\"AAAAAAAAAAHsW8"
	    "zCWf9164uy8Epue6WS3w6wmj4a4USt+CNvMd6uXQ+HL5vAJMznqqC0DLKsIjuoiTi1"
	    "BpT6nW0LN2M2D56zM5H8anHm30Gbri9ua+qaGgj+3XTyvbhpERfrezgLHbPB/rIcVp"
	    "ykJbaSj5tmcXYRmFnqZBEyHwtZYFmh6hvWVFkIwLuMZLMrpWhG5r5hzkE=\","
	    "\"Records\":[{\"ApproximateArrivalTimestamp\":1.441215410867E9,"
	    "\"Data\":\"XzxkYXRhPl8w\",\"PartitionKey\":\"partitionKey\","
	    "\"SequenceNumber\":\"21269319989652663814458848515492872193\"},"
	    "{\"ApproximateArrivalTimestamp\":1.479747467053E9,"
	    "\"Data\":\"eyJhIjoxfQ==\",\"PartitionKey\":\"user-42\","
	    "\"EncryptionType\":\"KMS\","
	    "\"SequenceNumber\":\"21269319989652663814458848515492872194\"}]}";
	const char *end =
	    "{\"Records\":[],\"NextShardIterator\":null,"
	    "\"MillisBehindLatest\":0,\"ChildShards\":["
	    "{\"ShardId\":\"shardId-000000000002\",\"ParentShards\":"
	    "[\"shardId-000000000000\"],\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"0\",\"EndingHashKey\":\"170141183460469231731687303715884105727\"}},"
	    "{\"ShardId\":\"shardId-000000000003\",\"ParentShards\":"
	    "[\"shardId-000000000000\"],\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"170141183460469231731687303715884105728\",\"EndingHashKey\":"
	    "\"340282366920938463463374607431768211455\"}}]}";

	T_INTEQ(records(aws, strlen(aws), &r, &why), 0, "AWS GetRecords body");
	T_INTEQ(r.n, 2, "two records");
	T_OK(r.n == 2 && strcmp(r.recs[0].seq,
	    "21269319989652663814458848515492872193") == 0 &&
	    strcmp(r.recs[0].pk, "partitionKey") == 0 &&
	    r.recs[0].pk_len == 12 && r.recs[0].data_len == 9 &&
	    memcmp(r.recs[0].data, "_<data>_0", 9) == 0,
	    "record 0: seq, pk, decoded data");
	T_OK(r.n == 2 && r.recs[0].ts_ms == 1441215410867LL,
	    "1.441215410867E9 -> 1441215410867 ms");
	T_OK(r.n == 2 && r.recs[1].ts_ms == 1479747467053LL,
	    "1.479747467053E9 -> 1479747467053 ms");
	T_OK(r.n == 2 && r.recs[1].data_len == 7 &&
	    memcmp(r.recs[1].data, "{\"a\":1}", 7) == 0, "record 1 data");
	T_INTEQ(r.data_bytes, 16, "data_bytes is the sum");
	T_OK(r.next_iterator != NULL && strncmp(r.next_iterator,
	    "AAAAAAAAAAHsW8zCWf9164", 22) == 0, "NextShardIterator");
	T_INTEQ(r.millis_behind, 2100, "MillisBehindLatest");
	T_INTEQ(r.nchild, 0, "no ChildShards");
	T_OK(in_arena(&r), "every pointer inside the arena");
	kinesis_records_free(&r);
	T_OK(r.recs == NULL && r.arena == NULL && r.next_iterator == NULL,
	    "kinesis_records_free clears");

	T_INTEQ(records(end, strlen(end), &r, &why), 0, "shard end body");
	T_OK(r.n == 0 && r.next_iterator == NULL,
	    "null NextShardIterator: the shard is closed");
	T_INTEQ(r.nchild, 2, "two ChildShards");
	T_OK(r.nchild == 2 &&
	    strcmp(r.child_shards[0], "shardId-000000000002") == 0 &&
	    strcmp(r.child_shards[1], "shardId-000000000003") == 0,
	    "ChildShards ids");
	T_INTEQ(r.millis_behind, 0, "MillisBehindLatest 0");
	kinesis_records_free(&r);

	T_INTEQ(records("{\"Records\":[]}", 14, &r, &why), 0,
	    "minimal: no iterator, no lag");
	T_OK(r.n == 0 && r.next_iterator == NULL && r.millis_behind == -1,
	    "absent MillisBehindLatest is -1");
	kinesis_records_free(&r);

	{
		const char *b = "{\"Records\":[{\"SequenceNumber\":\"9\","
		    "\"PartitionKey\":\"a\\u0000b\\\"\\u00e9\","
		    "\"Data\":\"\",\"ApproximateArrivalTimestamp\":1479747467},"
		    "{\"SequenceNumber\":\"10\",\"PartitionKey\":\"\","
		    "\"Data\":\"AP8=\",\"ApproximateArrivalTimestamp\":0}],"
		    "\"NextShardIterator\":\"x\",\"ChildShards\":[]}";

		T_INTEQ(records(b, strlen(b), &r, &why), 0,
		    "moto-style: integer timestamps, 9 then 10");
		T_OK(r.n == 2 && r.recs[0].ts_ms == 1479747467000LL &&
		    r.recs[1].ts_ms == 0, "integer seconds -> ms");
		T_OK(r.n == 2 && r.recs[0].pk_len == 6 &&
		    memcmp(r.recs[0].pk, "a\0b\"\xc3\xa9", 7) == 0,
		    "pk with NUL, quote and UTF-8 kept whole");
		T_OK(r.n == 2 && r.recs[0].data_len == 0 &&
		    r.recs[1].data_len == 2 && r.recs[1].data[0] == 0 &&
		    r.recs[1].data[1] == 0xff, "empty and binary data");
		T_OK(r.n == 2 && r.recs[1].pk_len == 0 &&
		    r.recs[1].pk[0] == '\0', "empty partition key");
		T_OK(in_arena(&r), "in the arena");
		kinesis_records_free(&r);
	}

	/* every byte value through base64, and a 1 MiB record */
	{
		struct buf body, d;
		unsigned char all[256];
		unsigned char *mb = xmalloc(1024 * 1024);
		size_t i;

		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		for (i = 0; i < 1024 * 1024; i++)
			mb[i] = (unsigned char)(i * 13 + (i >> 11));
		buf_init(&body);
		buf_init(&d);
		buf_addstr(&body, "{\"Records\":[{\"SequenceNumber\":\"1\","
		    "\"PartitionKey\":\"k\",\"ApproximateArrivalTimestamp\":1,"
		    "\"Data\":\"");
		base64_encode_buf(&body, all, sizeof(all));
		buf_addstr(&body, "\"},{\"SequenceNumber\":\"2\","
		    "\"PartitionKey\":\"k\",\"ApproximateArrivalTimestamp\":1,"
		    "\"Data\":\"");
		base64_encode_buf(&body, mb, 1024 * 1024);
		buf_addstr(&body, "\"}]}");
		T_INTEQ(records(body.data, body.len, &r, &why), 0,
		    "256 byte values and a 1 MiB payload");
		T_OK(r.n == 2 && r.recs[0].data_len == 256 &&
		    memcmp(r.recs[0].data, all, 256) == 0,
		    "every byte value decoded");
		T_OK(r.n == 2 && r.recs[1].data_len == 1024 * 1024 &&
		    memcmp(r.recs[1].data, mb, 1024 * 1024) == 0,
		    "1 MiB decoded");
		T_OK(in_arena(&r), "in the arena");
		kinesis_records_free(&r);
		buf_free(&body);
		buf_free(&d);
		free(mb);
	}
}

static void
many(struct buf *b, size_t n, int order_ok)
{
	size_t i;

	buf_reset(b);
	buf_addstr(b, "{\"Records\":[");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s{\"SequenceNumber\":\"%zu\","
		    "\"PartitionKey\":\"p%zu\",\"Data\":\"YWJj\","
		    "\"ApproximateArrivalTimestamp\":1.5E9}", i ? "," : "",
		    order_ok || i != n / 2 ? 1000000 + i : 1, i);
	buf_addstr(b, "],\"NextShardIterator\":\"it\","
	    "\"MillisBehindLatest\":5}");
}

static void
test_records_limits(void)
{
	struct kinesis_records r;
	struct buf b;
	const char *why;

	buf_init(&b);
	many(&b, 10000, 1);
	T_INTEQ(records(b.data, b.len, &r, &why), 0, "10000 records: fine");
	T_OK(r.n == 10000 && strcmp(r.recs[9999].seq, "1009999") == 0 &&
	    r.recs[9999].data_len == 3 && r.data_bytes == 30000,
	    "10000 records parsed");
	T_OK(in_arena(&r), "10000 records in the arena");
	kinesis_records_free(&r);
	many(&b, 10001, 1);
	T_OK(rejected(b.data, b.len), "10001 records: -1");
	many(&b, 300, 0);
	T_OK(rejected(b.data, b.len), "one record out of order among 300");
	buf_free(&b);
}

static void
test_records_hostile(void)
{
	static const char *const bad[] = {
		/* not JSON at all */
		"", " ", "not json", "Records", "<html><head><title>503 Service "
		"Unavailable</title></head><body><h1>Service Unavailable</h1>"
		"</body></html>", "\x1f\x8b\x08\x00", "\xef\xbb\xbf{}",
		/* JSON, but not an object with Records */
		"[]", "\"x\"", "1", "null", "true", "{}", "{\"records\":[]}",
		"{\"Records\":{}}", "{\"Records\":null}", "{\"Records\":\"[]\"}",
		"{\"Records\":1}", "{\"Records\":[]", "{\"Records\":[",
		"{\"Records\":[{", "{\"Records\":[{}]}",
		/* a record that is not an object */
		"{\"Records\":[1]}", "{\"Records\":[\"x\"]}",
		"{\"Records\":[null]}", "{\"Records\":[[]]}",
		"{\"Records\":[{" SEQ "," PK "," DATA "," TS "},2]}",
		/* SequenceNumber */
		R1(PK "," DATA "," TS),
		R1("\"SequenceNumber\":1," PK "," DATA "," TS),
		R1("\"SequenceNumber\":null," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"12a\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"-1\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\" 1\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"1.5\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"1e5\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"0x10\"," PK "," DATA "," TS),
		R1("\"SequenceNumber\":\"11111111111111111111111111111111111111"
		    "111111111111111111111111111111111111111111111111111111111"
		    "1111111111111111111111111111111111\"," PK "," DATA "," TS),
		/* PartitionKey */
		R1(SEQ "," DATA "," TS),
		R1(SEQ ",\"PartitionKey\":1," DATA "," TS),
		R1(SEQ ",\"PartitionKey\":null," DATA "," TS),
		R1(SEQ ",\"PartitionKey\":[\"k\"]," DATA "," TS),
		/* Data */
		R1(SEQ "," PK "," TS),
		R1(SEQ "," PK ",\"Data\":1," TS),
		R1(SEQ "," PK ",\"Data\":null," TS),
		R1(SEQ "," PK ",\"Data\":\"YQ=\"," TS),
		R1(SEQ "," PK ",\"Data\":\"YQ\"," TS),
		R1(SEQ "," PK ",\"Data\":\"Y===\"," TS),
		R1(SEQ "," PK ",\"Data\":\"!!!!\"," TS),
		R1(SEQ "," PK ",\"Data\":\"YQ==YQ==\"," TS),
		R1(SEQ "," PK ",\"Data\":\"YQ== \"," TS),
		R1(SEQ "," PK ",\"Data\":\"YW\\nJj\"," TS),
		R1(SEQ "," PK ",\"Data\":\"YW-j\"," TS),
		R1(SEQ "," PK ",\"Data\":\"YQ\\u0000=\"," TS),
		/* ApproximateArrivalTimestamp */
		R1(SEQ "," PK "," DATA),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":\"1.4E9\""),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":null"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":true"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":{}"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":-1"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":-0.5"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":1e12"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":1e400"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":-1e400"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":NaN"),
		R1(SEQ "," PK "," DATA ",\"ApproximateArrivalTimestamp\":Infinity"),
		R1(SEQ "," PK "," DATA
		    ",\"ApproximateArrivalTimestamp\":99999999999999999999"),
		R1(SEQ "," PK "," DATA
		    ",\"ApproximateArrivalTimestamp\":-9223372036854775808"),
		/* order */
		"{\"Records\":[{\"SequenceNumber\":\"2\"," PK "," DATA "," TS
		    "},{\"SequenceNumber\":\"1\"," PK "," DATA "," TS "}]}",
		"{\"Records\":[{\"SequenceNumber\":\"1\"," PK "," DATA "," TS
		    "},{\"SequenceNumber\":\"1\"," PK "," DATA "," TS "}]}",
		"{\"Records\":[{\"SequenceNumber\":\"7\"," PK "," DATA "," TS
		    "},{\"SequenceNumber\":\"007\"," PK "," DATA "," TS "}]}",
		"{\"Records\":[{\"SequenceNumber\":\"10\"," PK "," DATA "," TS
		    "},{\"SequenceNumber\":\"9\"," PK "," DATA "," TS "}]}",
		/* a bad second record rejects the first too */
		"{\"Records\":[{" SEQ "," PK "," DATA "," TS "},"
		    "{\"SequenceNumber\":\"2\"," PK ",\"Data\":\"%%%%\"," TS "}]}",
		/* NextShardIterator */
		"{\"Records\":[],\"NextShardIterator\":1}",
		"{\"Records\":[],\"NextShardIterator\":\"\"}",
		"{\"Records\":[],\"NextShardIterator\":{}}",
		"{\"Records\":[],\"NextShardIterator\":[\"x\"]}",
		"{\"Records\":[],\"NextShardIterator\":false}",
		/* MillisBehindLatest */
		"{\"Records\":[],\"MillisBehindLatest\":\"1\"}",
		"{\"Records\":[],\"MillisBehindLatest\":-1}",
		"{\"Records\":[],\"MillisBehindLatest\":1.5}",
		"{\"Records\":[],\"MillisBehindLatest\":1e30}",
		"{\"Records\":[],\"MillisBehindLatest\":null}",
		"{\"Records\":[],\"MillisBehindLatest\":-9223372036854775808}",
		/* ChildShards */
		"{\"Records\":[],\"ChildShards\":[1]}",
		"{\"Records\":[],\"ChildShards\":[null]}",
		"{\"Records\":[],\"ChildShards\":[{}]}",
		"{\"Records\":[],\"ChildShards\":[{\"ShardId\":2}]}",
		"{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"\"}]}",
		"{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"../x\"}]}",
		"{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"a/b\"}]}",
		"{\"Records\":[],\"NextShardIterator\":\"i\",\"ChildShards\":"
		    "[{\"ShardId\":\"s1\"},{\"ShardId\":\"..\"}]}",
		/* nesting deeper than json-c's limit */
		"{\"Records\":[],\"X\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	const char *valid = R1(SEQ "," PK "," DATA "," TS);
	struct buf b;
	size_t i, cut;
	int ok;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok = rejected_s(bad[i]);
		T_OK(ok, "hostile GetRecords body %zu -> -1", i);
		if (!ok)
			printf("#   body: %.200s\n", bad[i]);
	}

	/* an embedded NUL byte in the body itself */
	T_OK(rejected("{\"Records\":[]\0}", 15), "a NUL byte in the body");

	/* every truncation of a valid body */
	ok = 1;
	for (cut = 0; cut < strlen(valid); cut++)
		if (!rejected(valid, cut)) {
			ok = 0;
			printf("#   truncated at %zu\n", cut);
		}
	T_OK(ok, "every truncation of a valid body -> -1");

	/* too many ChildShards */
	buf_init(&b);
	buf_addstr(&b, "{\"Records\":[],\"ChildShards\":[");
	for (i = 0; i < 1001; i++)
		buf_printf(&b, "%s{\"ShardId\":\"shardId-%012zu\"}", i ? "," :
		    "", i);
	buf_addstr(&b, "]}");
	T_OK(rejected(b.data, b.len), "1001 ChildShards -> -1");
	buf_free(&b);

	/*
	 * Was a bug in common/kinesis.c kinesis_parse_records, fixed in
	 * 659746b: strings are checked as C strings but JSON strings may hold
	 * "\u0000": a SequenceNumber "1\u0000x" passes seq_valid() (which sees
	 * "1") and is archived as "1"; a ChildShards ShardId "s\u0000/../x"
	 * passes safe_component() the same way. Compare strlen() with
	 * json_object_get_string_len() and reject on a difference.
	 */
	T_OK(rejected_s(R1("\"SequenceNumber\":\"1\\u0000x\"," PK "," DATA ","
	    TS)), "SequenceNumber with an embedded \\u0000 -> -1");
	T_OK(rejected_s("{\"Records\":[],\"ChildShards\":"
	    "[{\"ShardId\":\"s\\u0000/../x\"}]}"),
	    "ChildShards ShardId with an embedded \\u0000 -> -1");
	/*
	 * Was a bug in common/kinesis.c kinesis_parse_records, and
	 * kinesis_parse_shards, fixed in 659746b: json_tokener_parse_ex() stops
	 * after the first complete JSON value; what follows is never looked at,
	 * so "{...} trailing garbage" is accepted. Check
	 * json_tokener_get_parse_end(tok) against len (allowing only trailing
	 * whitespace).
	 */
	T_OK(rejected_s("{\"Records\":[]}<html>error</html>"),
	    "trailing garbage after the JSON object -> -1");
	T_OK(rejected_s("{\"Records\":[]}{\"Records\":[]}"),
	    "two JSON objects -> -1");
	/*
	 * Was a bug in common/kinesis.c kinesis_parse_records, fixed in
	 * 659746b: a MillisBehindLatest beyond int64 (json-c keeps it as
	 * uint64) is clamped to INT64_MAX by json_object_get_int64() and
	 * accepted.
	 */
	T_OK(rejected_s("{\"Records\":[],\"MillisBehindLatest\":"
	    "99999999999999999999}"),
	    "MillisBehindLatest beyond int64 -> -1");
	/*
	 * Was a bug in common/kinesis.c kinesis_parse_records, fixed in
	 * 659746b: a ChildShards that is present but not an array is silently
	 * ignored, so a shard end would be taken as "no children".
	 */
	T_OK(rejected_s("{\"Records\":[],\"ChildShards\":"
	    "{\"ShardId\":\"shardId-000000000002\"}}"),
	    "ChildShards that is an object -> -1");
	T_OK(rejected_s("{\"Records\":[],\"ChildShards\":\"shardId-1\"}"),
	    "ChildShards that is a string -> -1");
}

/* Nesting in ignored fields, around json-c's depth limit (32). */
static void
test_records_depth(void)
{
	struct buf b;
	struct kinesis_records r;
	const char *why;
	int k;

	buf_init(&b);
	for (k = 25; k <= 34; k++) {
		int i;

		buf_reset(&b);
		buf_addstr(&b, "{\"Records\":[{\"SequenceNumber\":\"1\","
		    "\"PartitionKey\":\"k\",\"Data\":\"\","
		    "\"ApproximateArrivalTimestamp\":1,\"X\":");
		for (i = 0; i < k; i++)
			buf_addc(&b, '[');
		for (i = 0; i < k; i++)
			buf_addc(&b, ']');
		buf_addstr(&b, "}],\"ChildShards\":[{\"ShardId\":\"s\","
		    "\"ParentShards\":[\"p\"]}]}");
		if (records(b.data, b.len, &r, &why) == 0)
			kinesis_records_free(&r);

		buf_reset(&b);
		buf_addstr(&b, "{\"Records\":[],\"X\":");
		for (i = 0; i < k; i++)
			buf_addc(&b, '[');
		for (i = 0; i < k; i++)
			buf_addc(&b, ']');
		buf_addc(&b, '}');
		if (records(b.data, b.len, &r, &why) == 0)
			kinesis_records_free(&r);

		buf_reset(&b);
		buf_addstr(&b, "{\"Records\":[],\"ChildShards\":"
		    "[{\"ShardId\":\"s\",\"X\":");
		for (i = 0; i < k; i++)
			buf_addc(&b, '{'), buf_addstr(&b, "\"a\":");
		buf_addc(&b, '1');
		for (i = 0; i < k; i++)
			buf_addc(&b, '}');
		buf_addstr(&b, "}]}");
		if (records(b.data, b.len, &r, &why) == 0)
			kinesis_records_free(&r);
	}
	buf_free(&b);
}

static void
test_records_crosscheck(void)
{
	/*
	 * Was a bug in common/kinesis.c, the fast scanner, fixed in 659746b:
	 * sc_skip() counts depth from 1 wherever it starts, but json-c counts
	 * from the top-level object, so a record's ignored field nested 30..32
	 * deep (or a top-level one nested 32 deep) is accepted by the scanner
	 * and refused by json-c: the scanner accepts more than json-c, against
	 * its own contract. Start sc_skip at the real depth: 2 for top-level
	 * fields, 4 for record and ChildShards entry fields.
	 */
	T_OK(divergences == 0,
	    "fast scanner never accepts more than json-c, same records "
	    "(%d of %d bodies diverge)", divergences, crosschecks);
}

static int
shards(const char *body, size_t len, struct kinesis_shard **s, size_t *n,
    char **tok, const char **why)
{
	char *copy = xmalloc(len ? len : 1);
	int ret;

	memcpy(copy, body, len);
	*why = NULL;
	ret = kinesis_parse_shards(copy, len, s, n, tok, why);
	free(copy);
	return ret;
}

static int
shards_rejected(const char *body, size_t len)
{
	struct kinesis_shard *s = NULL;
	size_t n = 0;
	char *tok = (char *)(uintptr_t)"stale";
	const char *why;
	int ok;

	ok = shards(body, len, &s, &n, &tok, &why) == -1 && why != NULL &&
	    *why != '\0' && tok == NULL;
	if (!ok)
		printf("# accepted (why: %s)\n", why ? why : "(null)");
	/* what was parsed before the error is the caller's, as in
	 * kinesis_list_shards */
	kinesis_shards_free(s, n);
	free(tok);
	return ok;
}

static int
shards_rejected_s(const char *body)
{
	return shards_rejected(body, strlen(body));
}

/*
 * The record array kept from one answer to the next (kinesis_parse.c):
 * lent to one answer at a time, a second answer alive at once gets its
 * own, and the kept one comes back for the next answer, cleared.
 */
static void
test_records_pool(void)
{
	static const char body[] = "{\"Records\":[{\"SequenceNumber\":\"1\","
	    "\"ApproximateArrivalTimestamp\":1.5E9,\"Data\":\"eyJhIjoxfQ==\","
	    "\"PartitionKey\":\"k\"},{\"SequenceNumber\":\"2\","
	    "\"ApproximateArrivalTimestamp\":1.5E9,\"Data\":\"Zm9v\","
	    "\"PartitionKey\":\"k2\"}],\"NextShardIterator\":\"it\"}";
	struct kinesis_records a, b, c;
	char *ba = xstrdup(body), *bc = xstrdup(body);
	const char *why;
	const void *kept;

	T_INTEQ(kinesis_parse_records_fast(ba, strlen(ba), &a), 0,
	    "pool: first answer (fast)");
	T_INTEQ(kinesis_parse_records_jsonc(body, strlen(body), &b, &why), 0,
	    "pool: a second answer alive at once (json-c)");
	T_OK(a.recs != NULL && b.recs != NULL && a.recs != b.recs &&
	    a.n == 2 && b.n == 2 && a.recs[1].data_len == 3 &&
	    b.recs[1].data_len == 3 && memcmp(b.recs[0].data, "{\"a\":1}", 7)
	    == 0, "pool: two answers alive at once have their own records");
	kept = a.recs;
	kinesis_records_free(&b);
	kinesis_records_free(&a);
	T_INTEQ(kinesis_parse_records_fast(bc, strlen(bc), &c), 0,
	    "pool: the next answer");
	T_OK(c.recs == kept && c.n == 2 && strcmp(c.recs[0].seq, "1") == 0 &&
	    strcmp(c.recs[1].pk, "k2") == 0,
	    "pool: the kept array is reused for the next answer");
	kinesis_records_free(&c);
	kinesis_parse_trim();
	free(ba);
	free(bc);
}

static void
test_shards(void)
{
	const char *aws =
	    "{\"NextToken\":\"AAAAAAAAAAGK9EEG0sJqVeCAwbhU9B1b8kFoMdFjP+4/ifi"
	    "gd8CLzaKMUyCY3Sqp/gu+YKoeXrEtclQ/ld5bfELr2NiK0DpJWw==\","
	    "\"Shards\":[{\"ShardId\":\"shardId-000000000000\","
	    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":"
	    "\"170141183460469231731687303715884105727\"},"
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
	    "\"49579844037727333356165064238440708846556371693205002242\","
	    "\"EndingSequenceNumber\":"
	    "\"49579844037738483728764329550010267779861340399825453058\"}},"
	    "{\"ShardId\":\"shardId-000000000002\",\"ParentShardId\":"
	    "\"shardId-000000000000\",\"AdjacentParentShardId\":"
	    "\"shardId-000000000001\",\"HashKeyRange\":{\"StartingHashKey\":"
	    "\"0\",\"EndingHashKey\":\"340282366920938463463374607431768211455\"},"
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":"
	    "\"49579844037760785449757369104508431917640563210113466402\"}}]}";
	const char *page2 =
	    "{\"Shards\":[{\"ShardId\":\"shardId-000000000003\","
	    "\"ParentShardId\":\"\",\"SequenceNumberRange\":"
	    "{\"StartingSequenceNumber\":\"1\"}}],\"NextToken\":\"\"}";
	struct kinesis_shard *s = NULL;
	size_t n = 0;
	char *tok = NULL;
	const char *why;

	T_INTEQ(shards(aws, strlen(aws), &s, &n, &tok, &why), 0,
	    "AWS ListShards body");
	T_INTEQ(n, 2, "two shards");
	T_OK(n == 2 && strcmp(s[0].id, "shardId-000000000000") == 0 &&
	    s[0].parent == NULL && s[0].adjacent_parent == NULL &&
	    strcmp(s[0].starting_seq,
	    "49579844037727333356165064238440708846556371693205002242") == 0 &&
	    s[0].ending_seq != NULL && strcmp(s[0].ending_seq,
	    "49579844037738483728764329550010267779861340399825453058") == 0,
	    "a closed shard without parents");
	T_OK(n == 2 && strcmp(s[1].id, "shardId-000000000002") == 0 &&
	    s[1].parent != NULL &&
	    strcmp(s[1].parent, "shardId-000000000000") == 0 &&
	    s[1].adjacent_parent != NULL &&
	    strcmp(s[1].adjacent_parent, "shardId-000000000001") == 0 &&
	    s[1].ending_seq == NULL, "an open merged shard with two parents");
	T_OK(tok != NULL && strncmp(tok, "AAAAAAAAAAGK9EEG", 16) == 0,
	    "NextToken");
	free(tok);
	T_INTEQ(shards(page2, strlen(page2), &s, &n, &tok, &why), 0,
	    "second page appends");
	T_INTEQ(n, 3, "three shards over two pages");
	T_OK(n == 3 && strcmp(s[0].id, "shardId-000000000000") == 0 &&
	    strcmp(s[2].id, "shardId-000000000003") == 0 &&
	    s[2].parent == NULL && strcmp(s[2].starting_seq, "1") == 0,
	    "the first page kept, an empty ParentShardId is none");
	T_OK(tok == NULL, "an empty NextToken is the last page");
	kinesis_shards_free(s, n);

	s = NULL;
	n = 0;
	T_INTEQ(shards("{\"Shards\":[]}", 13, &s, &n, &tok, &why), 0,
	    "no shards");
	T_OK(n == 0 && tok == NULL, "no shards, no token");
	kinesis_shards_free(s, n);
}

static void
test_shards_hostile(void)
{
	static const char *const bad[] = {
		"", "not json", "<html><body><h1>502 Bad Gateway</h1></body></html>",
		"[]", "null", "\"Shards\"", "{}", "{\"Shards\":null}",
		"{\"Shards\":{}}", "{\"Shards\":\"[]\"}", "{\"Shards\":[1]}",
		"{\"Shards\":[null]}", "{\"Shards\":[[]]}", "{\"Shards\":[{}]}",
		"{\"Shards\":[{\"ShardId\":1}]}",
		"{\"Shards\":[{\"ShardId\":null}]}",
		"{\"Shards\":[{\"ShardId\":\"\"}]}",
		"{\"Shards\":[{\"ShardId\":\"..\"}]}",
		"{\"Shards\":[{\"ShardId\":\"../../etc/passwd\"}]}",
		"{\"Shards\":[{\"ShardId\":\"a b\"}]}",
		"{\"Shards\":[{\"ShardId\":\"shardId-1\"},{\"ShardId\":\"x/y\"}]}",
		"{\"Shards\":[{\"ShardId\":\"s1\"},{\"ShardId\":\"s2\"},{}]}",
		"{\"Shards\":[{\"ShardId\":\"shardId-1\"}]",
	};
	const char *valid = "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\","
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\"}}],"
	    "\"NextToken\":\"t\"}";
	struct buf b;
	size_t i, cut;
	int ok;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok = shards_rejected_s(bad[i]);
		T_OK(ok, "hostile ListShards body %zu -> -1", i);
		if (!ok)
			printf("#   body: %.200s\n", bad[i]);
	}
	ok = 1;
	for (cut = 0; cut < strlen(valid); cut++)
		if (!shards_rejected(valid, cut)) {
			ok = 0;
			printf("#   truncated at %zu\n", cut);
		}
	T_OK(ok, "every truncation of a valid ListShards body -> -1");

	buf_init(&b);
	buf_addstr(&b, "{\"Shards\":[");
	for (i = 0; i < 100001; i++)
		buf_printf(&b, "%s{\"ShardId\":\"s%zu\"}", i ? "," : "", i);
	buf_addstr(&b, "]}");
	T_OK(shards_rejected(b.data, b.len), "100001 shards -> -1");
	buf_free(&b);

	/*
	 * Was a bug in common/kinesis.c kinesis_parse_shards, fixed in 659746b:
	 * the optional fields are used only when they have the right type and
	 * form, and are otherwise silently dropped: a ParentShardId of the
	 * wrong type (or not a safe name) makes a child shard look parentless,
	 * so it would be read before its parent ends (kinesis-keeper(8): resharding); a
	 * malformed EndingSequenceNumber makes a closed shard look open; a
	 * NextToken of the wrong type ends the listing early and loses shards.
	 * Present-but-invalid must be -1.
	 */
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"ParentShardId\":0}]}"),
	    "ParentShardId of the wrong type -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"ParentShardId\":\"../../x\"}]}"),
	    "ParentShardId not a safe name -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"AdjacentParentShardId\":[\"s0\"]}]}"),
	    "AdjacentParentShardId of the wrong type -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
	    "\"EndingSequenceNumber\":\"abc\"}}]}"),
	    "EndingSequenceNumber not decimal -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":5}}]}"),
	    "StartingSequenceNumber of the wrong type -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\","
	    "\"SequenceNumberRange\":\"1-2\"}]}"),
	    "SequenceNumberRange of the wrong type -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\"}],"
	    "\"NextToken\":17}"),
	    "NextToken of the wrong type -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[{\"ShardId\":\"s1\\u0000/..\"}]}"),
	    "ShardId with an embedded \\u0000 -> -1");
	T_OK(shards_rejected_s("{\"Shards\":[]} trailing"),
	    "ListShards body with trailing garbage -> -1");
}

/* DescribeStreamSummary, as kinesis-keeper check reads it. */
static void
test_stream_summary(void)
{
	char st[16];
	long n;

	T_OK(kinesis_parse_stream_summary("{\"StreamDescriptionSummary\":"
	    "{\"StreamName\":\"s\",\"StreamStatus\":\"ACTIVE\","
	    "\"OpenShardCount\":4}}", st, sizeof(st), &n) == 0,
	    "stream summary: parsed");
	T_STREQ(st, "ACTIVE", "stream summary: StreamStatus");
	T_INTEQ(n, 4, "stream summary: OpenShardCount");
	T_OK(kinesis_parse_stream_summary("{\"StreamDescriptionSummary\":"
	    "{\"StreamStatus\":\"CREATING\"}}", st, sizeof(st), &n) == 0 &&
	    strcmp(st, "CREATING") == 0 && n == -1,
	    "stream summary: no OpenShardCount is -1");
	T_OK(kinesis_parse_stream_summary("{\"StreamDescriptionSummary\":"
	    "{\"StreamStatus\":\"A-STATUS-LONGER-THAN-THE-BUFFER\"}}", st,
	    sizeof(st), &n) == 0 && strlen(st) == sizeof(st) - 1,
	    "stream summary: a long status is cut to the buffer");
	T_OK(kinesis_parse_stream_summary("{\"StreamDescriptionSummary\":"
	    "{\"StreamStatus\":7}}", st, sizeof(st), &n) == -1,
	    "stream summary: a StreamStatus that is no string is refused");
	T_OK(kinesis_parse_stream_summary("{\"StreamDescriptionSummary\":"
	    "\"ACTIVE\"}", st, sizeof(st), &n) == -1,
	    "stream summary: a summary that is no object is refused");
	T_OK(kinesis_parse_stream_summary("<html>", st, sizeof(st), &n) == -1,
	    "stream summary: not JSON is refused");
}

/* The GetRecords request is written out by hand: json-c must read back
 * exactly the iterator it was given, whatever its bytes. */
static void
test_request_body(void)
{
	static const char *const its[] = {
		"AAAAAAAAAAHsGhrv+/pD2vSpgDtNkpz=",
		"quote\" backslash\\ slash/ tab\t nl\n cr\r bell\a del\x7f",
		"utf-8 \xc3\xa9\xe2\x82\xac",
		"",
	};
	struct json_object *j, *v;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(its) / sizeof(its[0]); i++) {
		buf_init(&b);
		kinesis_get_records_body(&b, its[i], 10000);
		j = json_tokener_parse(b.data);
		T_OK(j != NULL, "GetRecords body %zu is JSON: %s", i, b.data);
		T_STREQ(j != NULL && json_object_object_get_ex(j,
		    "ShardIterator", &v) ? json_object_get_string(v) : NULL,
		    its[i], "its ShardIterator reads back unchanged");
		T_INTEQ(j != NULL && json_object_object_get_ex(j, "Limit", &v) ?
		    json_object_get_int(v) : -1, 10000, "its Limit too");
		T_INTEQ(j != NULL ? json_object_object_length(j) : 0, 2,
		    "and nothing else");
		json_object_put(j);
		buf_free(&b);
	}
}

int
main(void)
{
	test_request_body();
	test_stream_summary();
	test_records_valid();
	test_records_limits();
	test_records_hostile();
	test_records_depth();
	test_records_crosscheck();
	test_records_pool();
	test_shards();
	test_shards_hostile();
	free_held();
	return t_done();
}
