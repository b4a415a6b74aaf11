/*
 * test_kpl.c: KPL de-aggregation: hand-built aggregates (a tiny protobuf
 * encoder below), every kind of corruption, and fixtures made by the
 * official aws-kinesis-agg library (tests/kpl/make_fixtures.js).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "t.h"
#include "kpl.h"
#include "util.h"

/* The tiny encoder: protobuf wire format into a struct buf. */
static void
pb_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_addc(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_addc(b, (char)v);
}

static void
pb_key(struct buf *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

static void
pb_uint(struct buf *b, unsigned field, uint64_t v)
{
	pb_key(b, field, 0);
	pb_varint(b, v);
}

static void
pb_bytes(struct buf *b, unsigned field, const void *p, size_t len)
{
	pb_key(b, field, 2);
	pb_varint(b, len);
	buf_add(b, p, len);
}

static void
pb_str(struct buf *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

/* magic + body + MD5(body) */
static void
wrap(struct buf *out, const struct buf *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	buf_reset(out);
	buf_add(out, KPL_MAGIC, 4);
	buf_add(out, body->data, body->len);
	EVP_Digest(body->data, body->len, md, &mdlen, EVP_md5(), NULL);
	buf_add(out, md, mdlen);
}

/* One Record message: pk index, ehk index (-1: none), data. */
static void
rec(struct buf *body, int64_t pki, int64_t ehki, const char *data)
{
	struct buf r;

	buf_init(&r);
	if (pki >= 0)
		pb_uint(&r, 1, (uint64_t)pki);
	if (ehki >= 0)
		pb_uint(&r, 2, (uint64_t)ehki);
	if (data != NULL)
		pb_str(&r, 3, data);
	pb_bytes(body, 3, r.data, r.len);
	buf_free(&r);
}

static int
eq(const void *p, size_t len, const char *s)
{
	return p != NULL && len == strlen(s) && memcmp(p, s, len) == 0;
}

/* The last aggregate dec() built: records point into it until the next. */
static struct buf wrapped;

/* decode the body wrapped; returns kpl_decode's result */
static int
dec(const struct buf *body, struct kpl_agg *agg, const char **why)
{
	wrap(&wrapped, body);
	return kpl_decode((const unsigned char *)wrapped.data, wrapped.len,
	    agg, why);
}

/* 1 if every pointer of a decoded aggregate lies inside p[0..len) */
static int
inside(const struct kpl_agg *agg, const void *p, size_t len)
{
	const char *lo = p, *hi = lo + len;
	size_t i;

	for (i = 0; i < agg->n; i++) {
		const struct kpl_record *r = &agg->records[i];

		if ((const char *)r->data < lo ||
		    (const char *)r->data + r->data_len > hi ||
		    r->pk < lo || r->pk + r->pk_len > hi ||
		    (r->ehk != NULL && (r->ehk < lo ||
		    r->ehk + r->ehk_len > hi)))
			return 0;
	}
	return 1;
}

/* expect a rejection with a reason containing want */
static void
expect_bad(const struct buf *body, const char *want, const char *name)
{
	struct kpl_agg agg;
	const char *why = NULL;
	int r;

	r = dec(body, &agg, &why);
	T_OK(r == -1 && agg.records == NULL && agg.n == 0 && why != NULL &&
	    strstr(why, want) != NULL, "%s: rejected (%s)", name,
	    why ? why : "no reason");
	if (r == 0)
		kpl_free(&agg);
}

static void
test_is_aggregate(void)
{
	unsigned char p[32];

	memset(p, 0, sizeof(p));
	memcpy(p, KPL_MAGIC, 4);
	T_OK(kpl_is_aggregate(p, 21), "magic + 17 bytes");
	T_OK(!kpl_is_aggregate(p, 20), "magic + digest only: not one");
	T_OK(!kpl_is_aggregate(p, 3), "short");
	T_OK(!kpl_is_aggregate(p, 0), "empty");
	p[3] = 0xc3;
	T_OK(!kpl_is_aggregate(p, 32), "wrong magic");
	T_OK(!kpl_is_aggregate((const unsigned char *)"{\"a\":1}", 7),
	    "JSON payload");
}

static void
test_good(void)
{
	struct buf body, r, t;
	struct kpl_agg agg;
	const char *why = "unset";

	buf_init(&body);
	buf_init(&r);
	buf_init(&t);
	pb_str(&body, 1, "pk-a");
	pb_str(&body, 1, "pk-b");
	pb_str(&body, 2, "340282366920938463463374607431768211455");
	rec(&body, 1, 0, "{\"x\":1}");
	rec(&body, 0, -1, "second");
	/* third: with tags and unknown fields of every skippable type */
	pb_uint(&r, 1, 1);
	pb_key(&r, 9, 1);
	buf_add(&r, "12345678", 8);
	pb_key(&r, 10, 5);
	buf_add(&r, "1234", 4);
	pb_uint(&r, 11, UINT64_MAX);
	pb_str(&r, 12, "unknown bytes");
	pb_str(&t, 1, "tagkey");
	pb_str(&t, 2, "tagval");
	pb_uint(&t, 7, 5);
	pb_bytes(&r, 4, t.data, t.len);
	buf_reset(&t);
	pb_str(&t, 1, "key only");
	pb_bytes(&r, 4, t.data, t.len);
	pb_bytes(&r, 3, "", 0);
	pb_bytes(&body, 3, r.data, r.len);
	/* unknown top-level fields too */
	pb_uint(&body, 5, 7);
	pb_str(&body, 6, "x");
	pb_key(&body, 7, 1);
	buf_add(&body, "abcdefgh", 8);
	pb_key(&body, 8, 5);
	buf_add(&body, "abcd", 4);

	T_INTEQ(dec(&body, &agg, &why), 0, "hand-built aggregate decodes");
	T_OK(why == NULL, "no reason on success");
	T_INTEQ(agg.n, 3, "three records");
	if (agg.n == 3) {
		T_OK(eq(agg.records[0].pk, agg.records[0].pk_len, "pk-b"),
		    "record 0 pk");
		T_OK(eq(agg.records[0].ehk, agg.records[0].ehk_len,
		    "340282366920938463463374607431768211455"), "record 0 ehk");
		T_OK(eq(agg.records[0].data, agg.records[0].data_len,
		    "{\"x\":1}"), "record 0 data");
		T_OK(eq(agg.records[1].pk, agg.records[1].pk_len, "pk-a"),
		    "record 1 pk");
		T_OK(agg.records[1].ehk == NULL && agg.records[1].ehk_len == 0,
		    "record 1 has no ehk");
		T_OK(eq(agg.records[1].data, agg.records[1].data_len, "second"),
		    "record 1 data");
		T_OK(eq(agg.records[2].pk, agg.records[2].pk_len, "pk-b"),
		    "record 2 pk");
		T_OK(agg.records[2].data != NULL &&
		    agg.records[2].data_len == 0, "record 2 empty data");
	}
	kpl_free(&agg);
	T_OK(agg.records == NULL && agg.n == 0, "kpl_free resets");

	/* tables after the records, an empty partition key, and a repeated
	 * scalar field (the last value wins, as in protobuf) */
	buf_reset(&body);
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_str(&r, 3, "first data");
	pb_uint(&r, 1, 1);
	pb_str(&r, 3, "last data");
	pb_bytes(&body, 3, r.data, r.len);
	rec(&body, 0, -1, "d");
	pb_str(&body, 1, "");
	pb_str(&body, 1, "later");
	T_INTEQ(dec(&body, &agg, &why), 0, "tables after records");
	if (agg.n == 2) {
		T_OK(eq(agg.records[0].pk, agg.records[0].pk_len, "later"),
		    "last pk index wins");
		T_OK(eq(agg.records[0].data, agg.records[0].data_len,
		    "last data"), "last data wins");
		T_OK(agg.records[1].pk_len == 0, "empty partition key");
	} else
		T_OK(0, "two records");
	kpl_free(&agg);

	/* multi-byte varints for lengths and indexes */
	buf_reset(&body);
	{
		int i;
		char k[16];
		struct buf big;

		for (i = 0; i < 300; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			pb_str(&body, 1, k);
		}
		buf_init(&big);
		for (i = 0; i < 70000; i++)
			buf_addc(&big, (char)('a' + i % 26));
		rec(&body, 299, -1, big.data);
		T_INTEQ(dec(&body, &agg, &why), 0, "300 keys, 70000-byte data");
		T_OK(agg.n == 1 && eq(agg.records[0].pk, agg.records[0].pk_len,
		    "k299") && agg.records[0].data_len == 70000,
		    "index 299 and a 3-byte length varint");
		kpl_free(&agg);
		buf_free(&big);
	}
	buf_free(&body);
	buf_free(&r);
	buf_free(&t);
}

static void
test_corrupt(void)
{
	struct buf body, r, w;
	struct kpl_agg agg;
	const char *why;
	size_t i;
	int bad;

	buf_init(&body);
	buf_init(&r);
	buf_init(&w);

	/* checksums and framing */
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "data");
	wrap(&w, &body);
	T_INTEQ(kpl_decode((const unsigned char *)w.data, w.len, &agg, &why),
	    0, "base case decodes");
	kpl_free(&agg);
	w.data[w.len - 1] ^= 1;
	T_OK(kpl_decode((const unsigned char *)w.data, w.len, &agg, &why) ==
	    -1 && strcmp(why, "checksum mismatch") == 0, "bad MD5 byte");
	w.data[w.len - 1] ^= 1;
	w.data[6] ^= 0x40;
	T_OK(kpl_decode((const unsigned char *)w.data, w.len, &agg, &why) ==
	    -1 && strcmp(why, "checksum mismatch") == 0, "bad body byte");
	w.data[6] ^= 0x40;
	T_OK(kpl_decode((const unsigned char *)w.data, w.len - 1, &agg,
	    &why) == -1, "truncated by one byte");
	T_OK(kpl_decode((const unsigned char *)w.data, 20, &agg, &why) == -1 &&
	    strcmp(why, "not an aggregate") == 0, "magic + 16 bytes");
	T_OK(kpl_decode((const unsigned char *)"xyz", 3, &agg, &why) == -1 &&
	    strcmp(why, "not an aggregate") == 0, "no magic");
	/* a NULL why is tolerated */
	T_OK(kpl_decode((const unsigned char *)"xyz", 3, &agg, NULL) == -1,
	    "why may be NULL");
	/* every truncation and every single-bit flip is caught */
	bad = 0;
	for (i = 0; i < w.len; i++) {
		if (kpl_decode((const unsigned char *)w.data, i, &agg,
		    &why) != -1)
			bad++;
	}
	T_INTEQ(bad, 0, "every truncation rejected");
	bad = 0;
	for (i = 0; i < w.len * 8; i++) {
		w.data[i / 8] ^= (char)(1 << (i % 8));
		if (kpl_decode((const unsigned char *)w.data, w.len, &agg,
		    &why) != -1) {
			bad++;
			kpl_free(&agg);
		}
		w.data[i / 8] ^= (char)(1 << (i % 8));
	}
	T_INTEQ(bad, 0, "every bit flip rejected");

	/* protobuf-level corruption with a valid checksum */
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 1, -1, "data");
	expect_bad(&body, "partition key index out of range", "pk index 1 of 1");
	buf_reset(&body);
	rec(&body, 0, -1, "data");
	expect_bad(&body, "partition key index out of range", "no pk table");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, (int64_t)INT64_MAX, -1, "data");
	expect_bad(&body, "partition key index out of range", "huge pk index");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	pb_str(&body, 2, "1");
	rec(&body, 0, 1, "data");
	expect_bad(&body, "explicit hash key index out of range",
	    "ehk index 1 of 1");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, 0, "data");
	expect_bad(&body, "explicit hash key index out of range",
	    "ehk index without table");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_uint(&r, 2, UINT64_MAX);
	pb_str(&r, 3, "d");
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "explicit hash key index out of range",
	    "ehk index UINT64_MAX");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, NULL);
	expect_bad(&body, "record without data", "missing data");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, -1, -1, "data");
	expect_bad(&body, "record without partition_key_index",
	    "missing pk index");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	expect_bad(&body, "aggregate without records", "no records");
	buf_reset(&body);
	expect_bad(&body, "not an aggregate", "empty body (20 bytes)");
	buf_reset(&body);
	pb_uint(&body, 9, 1);
	expect_bad(&body, "aggregate without records", "only unknown fields");

	/* varints */
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x0d\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
	    "\x1a\x00", 15);
	expect_bad(&body, "malformed record", "10th varint byte above 1");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x0e\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"
	    "\x00\x1a\x00", 16);
	expect_bad(&body, "malformed record", "11-byte varint");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x0e\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"
	    "\x1a\x01x", 16);
	T_INTEQ(dec(&body, &agg, &why), 0, "10-byte varint for 0 is fine");
	kpl_free(&agg);
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x0e\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"
	    "\x1a\x01x", 16);
	expect_bad(&body, "malformed record", "varint above 2^64");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x04\x08\x80\x80\x80", 6);
	expect_bad(&body, "malformed record", "varint cut by message end");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
	expect_bad(&body, "malformed aggregate", "huge length varint");
	buf_reset(&body);
	buf_add(&body, "\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 12);
	expect_bad(&body, "malformed aggregate", "endless varint");

	/* lengths */
	buf_reset(&body);
	buf_add(&body, "\x0a\x05pk", 4);
	expect_bad(&body, "malformed aggregate", "string past end");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x09\x08\x00\x1a\x01x", 7);
	expect_bad(&body, "malformed aggregate", "record past end");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x05\x08\x00\x1a\x05x", 7);
	expect_bad(&body, "malformed record", "data past record end");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_add(&body, "\x1a\x09\x08\x00\x1a\x01x\x22\x02\x0a\x05", 11);
	expect_bad(&body, "malformed tag", "tag key past tag end");

	/* wire types */
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	pb_key(&body, 9, 3);
	pb_key(&body, 9, 4);
	expect_bad(&body, "malformed aggregate", "group at top level");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_str(&r, 3, "d");
	pb_key(&r, 9, 3);
	pb_key(&r, 9, 4);
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "malformed record", "group in record");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	pb_key(&body, 9, 6);
	expect_bad(&body, "malformed aggregate", "wire type 6");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	pb_key(&body, 9, 7);
	expect_bad(&body, "malformed aggregate", "wire type 7");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	buf_add(&body, "\x02\x01x", 3);
	expect_bad(&body, "malformed aggregate", "field number 0");
	buf_reset(&body);
	pb_uint(&body, 1, 5);
	rec(&body, 0, -1, "d");
	expect_bad(&body, "malformed aggregate", "pk table entry as varint");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	pb_uint(&body, 3, 1);
	expect_bad(&body, "malformed aggregate", "records as varint");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_str(&r, 1, "0");
	pb_str(&r, 3, "d");
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "malformed record", "pk index as bytes");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_uint(&r, 3, 7);
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "malformed record", "data as varint");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_str(&r, 3, "d");
	pb_key(&r, 4, 2);
	pb_varint(&r, 5);
	buf_add(&r, "\x12\x03val", 5);
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "tag without key", "tag without key");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	buf_reset(&r);
	pb_uint(&r, 1, 0);
	pb_str(&r, 3, "d");
	pb_uint(&r, 4, 1);
	pb_bytes(&body, 3, r.data, r.len);
	expect_bad(&body, "malformed record", "tag as varint");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	pb_key(&body, 9, 1);
	buf_add(&body, "1234567", 7);
	expect_bad(&body, "malformed aggregate", "fixed64 cut short");
	buf_reset(&body);
	pb_str(&body, 1, "pk");
	rec(&body, 0, -1, "d");
	pb_key(&body, 9, 5);
	buf_add(&body, "123", 3);
	expect_bad(&body, "malformed aggregate", "fixed32 cut short");

	buf_free(&body);
	buf_free(&r);
	buf_free(&w);
}

/* The record count bound: KPL_MAX_RECORDS decode, one more does not. */
static void
test_max_records(void)
{
	struct buf body;
	struct kpl_agg agg;
	const char *why;
	size_t i;

	buf_init(&body);
	pb_str(&body, 1, "p");
	buf_reserve(&body, (size_t)KPL_MAX_RECORDS * 6 + 16);
	for (i = 0; i < KPL_MAX_RECORDS; i++)
		buf_add(&body, "\x1a\x04\x08\x00\x1a\x00", 6);
	T_INTEQ(dec(&body, &agg, &why), 0, "KPL_MAX_RECORDS records decode");
	T_INTEQ(agg.n, KPL_MAX_RECORDS, "all of them");
	kpl_free(&agg);
	buf_add(&body, "\x1a\x04\x08\x00\x1a\x00", 6);
	expect_bad(&body, "too many records", "KPL_MAX_RECORDS + 1");
	buf_free(&body);
}

/* Aggregates made by the official library decode to its user records. */
static void
test_fixture(const char *name)
{
	char path[256];
	struct buf bin;
	struct json_object *exp, *arr, *e, *v;
	struct kpl_agg agg;
	const char *why = NULL;
	unsigned char *want;
	size_t i, n;
	int bad = 0;

	buf_init(&bin);
	snprintf(path, sizeof(path), "tests/kpl/fixtures/%s.bin", name);
	if (read_file(path, &bin, 1 << 24) == -1) {
		T_OK(0, "%s: cannot read %s (run from the repo root)", name,
		    path);
		return;
	}
	snprintf(path, sizeof(path), "tests/kpl/fixtures/%s.json", name);
	exp = json_object_from_file(path);
	if (exp == NULL || !json_object_object_get_ex(exp, "records", &arr)) {
		T_OK(0, "%s: cannot read %s", name, path);
		buf_free(&bin);
		return;
	}
	T_OK(kpl_is_aggregate((const unsigned char *)bin.data, bin.len),
	    "%s: is an aggregate", name);
	if (kpl_decode((const unsigned char *)bin.data, bin.len, &agg,
	    &why) == -1) {
		T_OK(0, "%s: decodes (%s)", name, why);
		goto out;
	}
	n = json_object_array_length(arr);
	T_INTEQ(agg.n, n, name);
	for (i = 0; i < n && i < agg.n; i++) {
		const struct kpl_record *r = &agg.records[i];
		const char *s;
		ssize_t wl;

		e = json_object_array_get_idx(arr, i);
		json_object_object_get_ex(e, "pk", &v);
		if (!(r->pk_len == (size_t)json_object_get_string_len(v) &&
		    memcmp(r->pk, json_object_get_string(v), r->pk_len) == 0))
			bad++;
		json_object_object_get_ex(e, "ehk", &v);
		if (v == NULL) {
			if (r->ehk != NULL)
				bad++;
		} else if (r->ehk == NULL ||
		    r->ehk_len != (size_t)json_object_get_string_len(v) ||
		    memcmp(r->ehk, json_object_get_string(v), r->ehk_len) != 0)
			bad++;
		json_object_object_get_ex(e, "data", &v);
		s = json_object_get_string(v);
		want = xmalloc(strlen(s) + 1);
		wl = base64_decode(s, strlen(s), want, strlen(s) + 1);
		if (wl < 0 || (size_t)wl != r->data_len ||
		    memcmp(want, r->data, r->data_len) != 0)
			bad++;
		free(want);
	}
	T_INTEQ(bad, 0, "fixture records match");
	T_OK(inside(&agg, bin.data, bin.len), "%s: records inside input",
	    name);
	kpl_free(&agg);

	/* the body re-wrapped after every truncation: no crash, and any
	 * success still points inside the input */
	{
		struct buf body;
		size_t cut;
		int outside = 0;

		buf_init(&body);
		for (cut = 0; cut + 20 <= bin.len; cut += 1 +
		    (bin.len > 2000 ? bin.len / 1000 : 0)) {
			buf_reset(&body);
			buf_add(&body, bin.data + 4, cut);
			if (dec(&body, &agg, &why) == 0) {
				if (!inside(&agg, wrapped.data + 4, cut))
					outside++;
				kpl_free(&agg);
			}
		}
		T_INTEQ(outside, 0, "truncated bodies stay in bounds");
		buf_free(&body);
	}
out:
	json_object_put(exp);
	buf_free(&bin);
}

int
main(void)
{
	static const char *fixtures[] = { "single", "basic", "shared_keys",
	    "binary", "unicode", "many" };
	size_t i;

	test_is_aggregate();
	test_good();
	test_corrupt();
	test_max_records();
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		test_fixture(fixtures[i]);
	buf_free(&wrapped);
	return t_done();
}
