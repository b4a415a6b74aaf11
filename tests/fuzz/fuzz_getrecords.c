/*
 * fuzz_getrecords.c: kinesis_parse_records on arbitrary bodies (handed
 * over in an exactly-sized copy, no terminating NUL) never crashes or
 * leaks; a failure says why and leaves nothing behind; a success has every
 * record's seq, partition key and data inside its arena, valid increasing
 * sequence numbers, sane timestamps and counts. And the cross-check the
 * fast scanner promises: it may refuse more than the json-c parser, never
 * accept more, and must give the same records. Each input is tried as a
 * whole body and as the value of a field the parsers skip.
 */
/* fuzz-sources: common/kinesis.c common/kinesis_parse.c common/jsonscan.c common/aws.c common/aws_error.c common/http.c common/http_parse.c common/sigv4.c common/creds.c common/util.c common/log.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinesis.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_getrecords: " __VA_ARGS__);		\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static volatile unsigned sink;

/* Where the records may point: the json-c path's arena, or (the fast
 * scanner works in place) the body it was given. */
static const unsigned char *body_start;
static size_t body_len;

static int
inside(const void *p, size_t n, const struct kinesis_records *r)
{
	const unsigned char *q = p;
	const unsigned char *a = r->arena != NULL ? r->arena : body_start;
	size_t al = r->arena != NULL ? r->arena_len : body_len;

	return q != NULL && a != NULL && q >= a && n <= al &&
	    (size_t)(q - a) <= al - n;
}

static void
check_ok(const struct kinesis_records *r)
{
	size_t i, k, sum = 0;
	unsigned t = 0;

	if (r->n > 10000 || (r->n > 0 && r->recs == NULL))
		FAIL("%zu records", r->n);
	for (i = 0; i < r->n; i++) {
		const struct kinesis_record *x = &r->recs[i];
		size_t sl;

		if (!inside(x->seq, 1, r))
			FAIL("record %zu: seq outside the arena", i);
		sl = strnlen(x->seq, (r->arena != NULL ? r->arena_len :
		    body_len) - (size_t)((const unsigned char *)x->seq -
		    (r->arena != NULL ? r->arena : body_start)));
		if (!inside(x->seq, sl + 1, r) || !seq_valid(x->seq))
			FAIL("record %zu: seq not a terminated decimal", i);
		if (i > 0 && seq_cmp(r->recs[i - 1].seq, x->seq) >= 0)
			FAIL("record %zu: seq %s not after %s", i, x->seq,
			    r->recs[i - 1].seq);
		if (!inside(x->pk, x->pk_len + 1, r) || x->pk[x->pk_len] != '\0')
			FAIL("record %zu: pk outside the arena", i);
		if (x->data_len > 0 && !inside(x->data, x->data_len, r))
			FAIL("record %zu: data outside the arena", i);
		if (x->ts_ms < 0 || x->ts_ms > 100000000000000LL)
			FAIL("record %zu: ts_ms %lld", i, (long long)x->ts_ms);
		for (k = 0; k < x->data_len; k++)
			t += x->data[k];
		for (k = 0; k < x->pk_len; k++)
			t += (unsigned char)x->pk[k];
		sum += x->data_len;
	}
	if (sum != r->data_bytes)
		FAIL("data_bytes %zu, records hold %zu", r->data_bytes, sum);
	if (r->next_iterator != NULL && r->next_iterator[0] == '\0')
		FAIL("empty next_iterator");
	if (r->millis_behind < -1)
		FAIL("millis_behind %lld", (long long)r->millis_behind);
	if (r->nchild > 1000 || (r->nchild > 0 && r->child_shards == NULL))
		FAIL("%zu child shards", r->nchild);
	for (i = 0; i < r->nchild; i++)
		if (!safe_component(r->child_shards[i]))
			FAIL("child shard %zu: unsafe name", i);
	sink += t;
}

static void
check_failed(int ret, const struct kinesis_records *r, const char *why,
    int need_why)
{
	if (ret != -1 && !(ret == -2 && !need_why))	/* -2: fast path only */
		FAIL("returned %d", ret);
	if (need_why && (why == NULL || *why == '\0'))
		FAIL("failure without a reason");
	if (r->recs != NULL || r->n != 0 || r->arena != NULL ||
	    r->next_iterator != NULL || r->child_shards != NULL ||
	    r->nchild != 0 || r->millis_behind != -1)
		FAIL("failure left state behind");
}

static int
same(const struct kinesis_records *a, const struct kinesis_records *b)
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

static void
check(const char *data, size_t size)
{
	struct kinesis_records r, f, j;
	const char *why = NULL, *jwhy = NULL;
	char *body, *jbody;
	int ret, fr, jr;

	/* exactly sized, so ASan sees any read past the end */
	body = xmalloc(size ? size : 1);
	memcpy(body, data, size);

	memset(&r, 0xa5, sizeof(r));
	body_start = (const unsigned char *)body;
	body_len = size;
	ret = kinesis_parse_records(body, size, &r, &why);
	if (ret == 0)
		check_ok(&r);
	else
		check_failed(ret, &r, why, 1);
	kinesis_records_free(&r);

	/* the scanner works in place: give it the original bytes again */
	memcpy(body, data, size);
	memset(&f, 0xa5, sizeof(f));
	fr = kinesis_parse_records_fast(body, size, &f);
	jbody = xmalloc(size ? size : 1);
	memcpy(jbody, data, size);
	memset(&j, 0xa5, sizeof(j));
	jr = kinesis_parse_records_jsonc(jbody, size, &j, &jwhy);
	if (fr == 0)
		check_ok(&f);
	else
		check_failed(fr, &f, NULL, 0);
	if (jr == 0)
		check_ok(&j);
	else
		check_failed(jr, &j, jwhy, 1);
	if (fr == 0 && jr != 0)
		FAIL("the fast scanner accepted what json-c refuses (%s)",
		    jwhy);
	if (fr == 0 && !same(&f, &j))
		FAIL("the fast scanner and json-c disagree on the records");
	if (ret != jr)
		FAIL("kinesis_parse_records says %d, json-c %d", ret, jr);
	kinesis_records_free(&f);
	kinesis_records_free(&j);
	free(body);
	free(jbody);
}

/*
 * The input as a whole body, and as the value of a field the parsers
 * skip: in a record, at the top level and in a ChildShards entry (each at
 * another depth), so mutations are not wasted on the envelope.
 */
static const char *const wrap[][2] = {
	{ "{\"Records\":[{\"SequenceNumber\":\"1\",\"PartitionKey\":\"k\","
	    "\"Data\":\"YQ==\",\"ApproximateArrivalTimestamp\":1,\"X\":",
	    "}],\"NextShardIterator\":\"i\"}" },
	{ "{\"Records\":[],\"X\":", "}" },
	{ "{\"Records\":[],\"ChildShards\":[{\"ShardId\":\"s\",\"X\":",
	    "}]}" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	size_t i;

	check((const char *)data, size);
	buf_init(&b);
	for (i = 0; i < sizeof(wrap) / sizeof(wrap[0]); i++) {
		buf_reset(&b);
		buf_addstr(&b, wrap[i][0]);
		buf_add(&b, data, size);
		buf_addstr(&b, wrap[i][1]);
		check(b.data, b.len);
	}
	buf_free(&b);
	return 0;
}
