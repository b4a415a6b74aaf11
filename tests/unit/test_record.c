/*
 * test_record.c: the jsonl and raw line formats, the strict JSON
 * validator/minifier and JSON string escaping (kinesis-keeper.conf(5)). json-c in strict
 * mode is the independent check that every produced line parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "t.h"

#define JSON_MAX_DEPTH	64	/* as in worker/record.c */
#include "jsonscan.h"
#include "record.h"
#include "util.h"

#define LEN(s)	(sizeof(s) - 1)

/*
 * Parse s[0..len) with json-c (strict, UTF-8 validated, the whole input).
 * Returns 1 if accepted and stores the object (caller puts it), else 0.
 */
static int
jc_parse(const char *s, size_t len, int depth, struct json_object **objp)
{
	struct json_tokener *tok;
	struct json_object *o;
	char *copy;
	int ok;

	/* json-c wants the terminating NUL counted to finish a top-level
	 * number; it also stops at an embedded NUL, which no valid text has */
	copy = xmalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	tok = json_tokener_new_ex(depth);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	ok = json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) >= len;
	json_tokener_free(tok);
	free(copy);
	if (objp != NULL && ok)
		*objp = o;
	else
		json_object_put(o);
	return ok;
}

/* minify s; return the output (static buffer) or NULL if rejected, and
 * check that a rejection left the buffer as it was */
static const char *
minify(const char *s, size_t len)
{
	static struct buf b;
	int r;

	buf_reset(&b);
	buf_addstr(&b, "PFX");
	r = json_minify(&b, (const unsigned char *)s, len);
	if (r != 0) {
		if (b.len != 3 || memcmp(b.data, "PFX", 4) != 0)
			T_OK(0, "rejection changed the buffer for %.40s", s);
		return NULL;
	}
	if (b.len < 3 || memcmp(b.data, "PFX", 3) != 0 ||
	    b.data[b.len] != '\0')
		T_OK(0, "minify clobbered the prefix for %.40s", s);
	return b.data + 3;
}

struct jcase {
	const char	*in;
	const char	*out;	/* NULL: must be rejected */
};

static const struct jcase jcases[] = {
	/* scalars */
	{ "0", "0" }, { "-0", "-0" }, { "1", "1" }, { "-1", "-1" },
	{ "10", "10" }, { "1.5", "1.5" }, { "-0.0e-0", "-0.0e-0" },
	{ "1e5", "1e5" }, { "1E+5", "1E+5" }, { "1e-5", "1e-5" },
	{ "123456789012345678901234567890", "123456789012345678901234567890" },
	{ "1e400", "1e400" }, { "0.000001", "0.000001" },
	{ " 42 ", "42" }, { "\t\r\n 7\n", "7" },
	{ "true", "true" }, { "false", "false" }, { "null", "null" },
	{ "\"\"", "\"\"" }, { "\"abc\"", "\"abc\"" },
	{ "\"a b\\tc\"", "\"a b\\tc\"" },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"" },
	{ "\"\\u0000\"", "\"\\u0000\"" }, { "\"\\u00e9\\u00E9\"", "\"\\u00e9\\u00E9\"" },
	{ "\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"" },
	{ "\"\\uDBFF\\uDFFF\"", "\"\\uDBFF\\uDFFF\"" },
	{ "\"\\uFFFF\\uE000\\uD7FF\"", "\"\\uFFFF\\uE000\\uD7FF\"" },
	{ "\"\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80\"", "\"\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80\"" },
	{ "\"\x7f\"", "\"\x7f\"" },
	/* structures */
	{ "[]", "[]" }, { "{}", "{}" }, { "[ ]", "[]" }, { "{ }", "{}" },
	{ "[[]]", "[[]]" }, { "[{}]", "[{}]" }, { "{\"a\":[]}", "{\"a\":[]}" },
	{ "[1,2,3]", "[1,2,3]" }, { "[ 1 , 2 , 3 ]", "[1,2,3]" },
	{ "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":2}" },
	{ "{ \"a b\" : \"c  d\" , \"e\" : [ true , false , null ] }",
	  "{\"a b\":\"c  d\",\"e\":[true,false,null]}" },
	{ "{\n  \"user\": \"alice\",\n  \"n\": [\n    1,\n    2.5e3\n  ],\n"
	  "  \"o\": {\n    \"k\": \"v\"\n  }\n}\n",
	  "{\"user\":\"alice\",\"n\":[1,2.5e3],\"o\":{\"k\":\"v\"}}" },
	{ "[\"\\\"]\", \"{\"]", "[\"\\\"]\",\"{\"]" },
	{ "{\"\":\"\"}", "{\"\":\"\"}" },
	{ "[-1,0,1e1,-2.5E-3]", "[-1,0,1e1,-2.5E-3]" },

	/* rejected: empty, whitespace, garbage */
	{ "", NULL }, { " ", NULL }, { "\t\r\n", NULL },
	{ "{}x", NULL }, { "{}{}", NULL }, { "[] []", NULL }, { "1 2", NULL },
	{ "\xef\xbb\xbf" "1", NULL }, { "\x0b" "1", NULL }, { "\f1", NULL },
	{ "/*c*/1", NULL }, { "//c\n1", NULL }, { "1 //c", NULL },
	{ "'a'", NULL }, { "abc", NULL }, { "]", NULL }, { "}", NULL },
	{ ",", NULL }, { ":", NULL },
	/* numbers */
	{ "01", NULL }, { "-01", NULL }, { "00", NULL }, { "[01]", NULL },
	{ "+1", NULL }, { ".5", NULL }, { "1.", NULL }, { "1.e5", NULL },
	{ "1e", NULL }, { "1e+", NULL }, { "1E-", NULL }, { "-", NULL },
	{ "--1", NULL }, { "-a", NULL }, { "0x10", NULL }, { "1_000", NULL },
	{ "NaN", NULL }, { "Infinity", NULL }, { "-Infinity", NULL },
	{ "nan", NULL }, { "[1.]", NULL }, { "[-]", NULL }, { "0.e1", NULL },
	{ "1e5.5", NULL }, { "1.5.5", NULL }, { "- 1", NULL },
	/* found by fuzz_json: json-c 0.16 accepts these */
	{ "-.01", NULL }, { "[-.5]", NULL }, { "{'a':1}", NULL },
	{ "{\"re\":[\n{'\"pkh\":0.001,\"2a>':\"u\x04" "3i\\\"=\"}]}\n", NULL },
	/* literals */
	{ "tru", NULL }, { "True", NULL }, { "TRUE", NULL }, { "nul", NULL },
	{ "nulll", NULL }, { "truefalse", NULL }, { "fals", NULL },
	{ "[true false]", NULL },
	/* strings */
	{ "\"abc", NULL }, { "\"", NULL }, { "\"\\\"", NULL },
	{ "\"a\tb\"", NULL }, { "\"a\nb\"", NULL }, { "\"\x1f\"", NULL },
	{ "\"\\x\"", NULL }, { "\"\\'\"", NULL }, { "\"\\a\"", NULL },
	{ "\"\\u12\"", NULL }, { "\"\\u12g4\"", NULL }, { "\"\\u\"", NULL },
	{ "\"\\U0041\"", NULL },
	/* surrogate escapes */
	{ "\"\\ud800\"", NULL }, { "\"\\udc00\"", NULL },
	{ "\"\\uDFFF\\uD800\"", NULL }, { "\"\\ud800\\u0041\"", NULL },
	{ "\"\\ud800x\"", NULL }, { "\"\\ud800\\ud800\"", NULL },
	{ "\"\\ud800\\\"", NULL }, { "\"\\ud800\\n\"", NULL },
	{ "\"\\ud800\\udc0\"", NULL }, { "\"a\\udbff\"", NULL },
	/* UTF-8 in strings */
	{ "\"\xc0\x80\"", NULL }, { "\"\xc1\xbf\"", NULL },
	{ "\"\xe0\x80\x80\"", NULL }, { "\"\xe0\x9f\xbf\"", NULL },
	{ "\"\xed\xa0\x80\"", NULL }, { "\"\xed\xbf\xbf\"", NULL },
	{ "\"\xf0\x80\x80\x80\"", NULL }, { "\"\xf0\x8f\xbf\xbf\"", NULL },
	{ "\"\xf4\x90\x80\x80\"", NULL }, { "\"\xf5\x80\x80\x80\"", NULL },
	{ "\"\xff\"", NULL }, { "\"\x80\"", NULL }, { "\"\xe2\x82\"", NULL },
	{ "\"\xe2\x82", NULL }, { "\"\xf0\x9f\x98\"", NULL },
	{ "\"\xc3\"", NULL }, { "\"\xc3", NULL },
	{ "\xc3\xbc", NULL },
	/* structure */
	{ "[", NULL }, { "{", NULL }, { "[1", NULL }, { "[1,", NULL },
	{ "[1,]", NULL }, { "[,1]", NULL }, { "[,]", NULL }, { "[1,,2]", NULL },
	{ "{,}", NULL }, { "{\"a\"}", NULL }, { "{\"a\":}", NULL },
	{ "{\"a\" 1}", NULL }, { "{1:1}", NULL }, { "{a:1}", NULL },
	{ "{\"a\":1,}", NULL }, { "{\"a\":1 \"b\":2}", NULL },
	{ "[}", NULL }, { "{]", NULL }, { "[1}", NULL }, { "{\"a\":1]", NULL },
	{ "[1]]", NULL }, { "{\"a\":1}}", NULL }, { "[1 2]", NULL },
	{ "{\"a\":1:2}", NULL }, { "[\"a\":1]", NULL }, { "{\"a\",1}", NULL },
};

static void
test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(jcases) / sizeof(jcases[0]); i++) {
		const struct jcase *c = &jcases[i];
		const char *got = minify(c->in, strlen(c->in));
		char name[96];

		snprintf(name, sizeof(name), "minify case %zu", i);
		if (c->out == NULL) {
			T_OK(got == NULL, "case %zu rejected", i);
		} else {
			T_STREQ(got, c->out, name);
			/* the independent parser agrees, and the compact form
			 * is a fixed point */
			T_OK(jc_parse(c->in, strlen(c->in), 1024, NULL),
			    "case %zu: json-c accepts", i);
			if (got != NULL) {
				char *g = xstrdup(got);

				T_STREQ(minify(g, strlen(g)), g, "fixed point");
				free(g);
			}
		}
	}
	/* NUL bytes: raw in a string or outside are invalid */
	T_OK(minify("\"a\0b\"", 5) == NULL, "raw NUL in string rejected");
	T_OK(minify("[1,\0 2]", 7) == NULL, "raw NUL between values rejected");
	T_OK(minify("1\0", 2) == NULL, "trailing NUL rejected");
}

/* Every single byte inside a string: only 0x20-0x7f minus " and \ pass. */
static void
test_string_bytes(void)
{
	int c, bad = 0;
	char s[3] = { '"', 0, '"' };

	for (c = 0; c < 256; c++) {
		int want = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';

		s[1] = (char)c;
		if ((minify(s, 3) != NULL) != want)
			bad++;
	}
	T_INTEQ(bad, 0, "each single byte inside a string classified right");
	/* the same at every offset of an 8-byte word (the SWAR fast path) */
	bad = 0;
	for (c = 0; c < 256; c++) {
		char l[40];
		int off, want = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';

		for (off = 0; off < 24; off++) {
			memset(l, 'x', sizeof(l));
			l[0] = '"';
			l[1 + off] = (char)c;
			l[39] = '"';
			if ((minify(l, sizeof(l)) != NULL) != want)
				bad++;
		}
	}
	T_INTEQ(bad, 0, "each byte at each word offset classified right");
	/* escapes: only "\/bfnrt and u */
	bad = 0;
	for (c = 0; c < 256; c++) {
		char s4[4] = { '"', '\\', (char)c, '"' };
		int want = c != 0 && strchr("\"\\/bfnrt", c) != NULL;

		if ((minify(s4, 4) != NULL) != want)
			bad++;
	}
	T_INTEQ(bad, 0, "each escape letter classified right");
}

/* A plain reference UTF-8 decoder: 1 if p[0..n) is exactly one valid
 * scalar value in shortest form. */
static int
ref_utf8(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t need, i;

	if (p[0] < 0x80)
		return n == 1;
	if ((p[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n != need)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) ||
	    (need == 4 && cp < 0x10000))
		return 0;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return 1;
}

static int
utf8_ok(const unsigned char *seq, size_t n)
{
	char s[8];

	s[0] = '"';
	memcpy(s + 1, seq, n);
	s[n + 1] = '"';
	return minify(s, n + 2) != NULL;
}

static void
test_utf8(void)
{
	unsigned char q[4];
	unsigned a, b2, c, d;
	int bad = 0, checked = 0;
	static const unsigned char conts[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
	    0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };

	/* every 2-byte sequence with a non-ASCII lead */
	for (a = 0x80; a < 0x100; a++)
		for (b2 = 0; b2 < 0x100; b2++) {
			if (b2 == '"' || b2 == '\\' || b2 < 0x20)
				continue;
			q[0] = (unsigned char)a;
			q[1] = (unsigned char)b2;
			if (utf8_ok(q, 2) != ref_utf8(q, 2))
				bad++;
			checked++;
		}
	/* 3- and 4-byte leads with every second byte */
	for (a = 0xe0; a < 0x100; a++)
		for (b2 = 0x80; b2 < 0x100; b2++)
			for (c = 0; c < sizeof(conts); c++) {
				q[0] = (unsigned char)a;
				q[1] = (unsigned char)b2;
				q[2] = conts[c];
				if (q[2] == '"' || q[2] < 0x20)
					continue;
				if (a < 0xf0) {
					if (utf8_ok(q, 3) != ref_utf8(q, 3))
						bad++;
				} else {
					for (d = 0; d < sizeof(conts); d++) {
						q[3] = conts[d];
						if (q[3] == '"' || q[3] < 0x20)
							continue;
						if (utf8_ok(q, 4) !=
						    ref_utf8(q, 4))
							bad++;
						checked++;
					}
				}
				checked++;
			}
	T_INTEQ(bad, 0, "UTF-8 validation agrees with a reference decoder");
	T_OK(checked > 100000, "checked %d sequences", checked);

	/* boundaries, spelled out */
	T_OK(utf8_ok((const unsigned char *)"\xc2\x80", 2), "U+0080");
	T_OK(utf8_ok((const unsigned char *)"\xdf\xbf", 2), "U+07FF");
	T_OK(utf8_ok((const unsigned char *)"\xe0\xa0\x80", 3), "U+0800");
	T_OK(utf8_ok((const unsigned char *)"\xed\x9f\xbf", 3), "U+D7FF");
	T_OK(!utf8_ok((const unsigned char *)"\xed\xa0\x80", 3), "U+D800 no");
	T_OK(!utf8_ok((const unsigned char *)"\xed\xbf\xbf", 3), "U+DFFF no");
	T_OK(utf8_ok((const unsigned char *)"\xee\x80\x80", 3), "U+E000");
	T_OK(utf8_ok((const unsigned char *)"\xef\xbf\xbf", 3), "U+FFFF");
	T_OK(utf8_ok((const unsigned char *)"\xf0\x90\x80\x80", 4), "U+10000");
	T_OK(utf8_ok((const unsigned char *)"\xf4\x8f\xbf\xbf", 4),
	    "U+10FFFF");
	T_OK(!utf8_ok((const unsigned char *)"\xf4\x90\x80\x80", 4),
	    "U+110000 no");
}

static void
test_depth(void)
{
	struct buf s;
	int i;

	buf_init(&s);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&s, '[');
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&s, ']');
	T_OK(minify(s.data, s.len) != NULL, "the deepest nesting allowed is accepted");
	T_OK(jc_parse(s.data, s.len, JSON_MAX_DEPTH, NULL), "json-c agrees at the limit");

	buf_reset(&s);
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&s, '[');
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&s, ']');
	T_OK(minify(s.data, s.len) == NULL, "one level more is rejected");
	T_OK(!jc_parse(s.data, s.len, JSON_MAX_DEPTH, NULL), "json-c agrees one past the limit");

	/* objects and arrays mixed, as deep as allowed, with whitespace */
	buf_reset(&s);
	for (i = 0; i < JSON_MAX_DEPTH / 2; i++)
		buf_addstr(&s, "{ \"k\" : [ ");
	buf_addstr(&s, "0");
	for (i = 0; i < JSON_MAX_DEPTH / 2; i++)
		buf_addstr(&s, " ] }");
	T_OK(minify(s.data, s.len) != NULL, "mixed levels up to the limit accepted");
	buf_reset(&s);
	for (i = 0; i < JSON_MAX_DEPTH / 2; i++)
		buf_addstr(&s, "{\"k\":[");
	buf_addstr(&s, "{}");
	for (i = 0; i < JSON_MAX_DEPTH / 2; i++)
		buf_addstr(&s, "]}");
	T_OK(minify(s.data, s.len) == NULL, "mixed levels past the limit rejected");

	/* very deep input: no recursion, just a rejection */
	buf_reset(&s);
	for (i = 0; i < 1000000; i++)
		buf_addc(&s, '[');
	T_OK(minify(s.data, s.len) == NULL, "a million [ rejected");
	/* balanced but one unclosed */
	buf_reset(&s);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&s, '[');
	for (i = 0; i < JSON_MAX_DEPTH - 1; i++)
		buf_addc(&s, ']');
	T_OK(minify(s.data, s.len) == NULL, "unclosed array rejected");
	/* a close at depth 0 after a complete value */
	T_OK(minify("[]]", 3) == NULL, "extra close rejected");
	buf_free(&s);
}

/* Escape s, check the literal parses with our validator and json-c, and
 * (for valid UTF-8 input) decodes back to s. */
static const char *
esc(const char *s, size_t len)
{
	static struct buf b;
	struct json_object *o;

	buf_reset(&b);
	json_append_string(&b, s, len);
	T_OK(minify(b.data, b.len) != NULL, "escaped literal valid: %s",
	    b.data);
	if (jc_parse(b.data, b.len, 32, &o)) {
		T_OK(json_object_is_type(o, json_type_string),
		    "json-c sees a string");
		json_object_put(o);
	} else
		T_OK(0, "json-c parses escaped literal %s", b.data);
	return b.data;
}

static void
test_append_string(void)
{
	struct json_object *o;
	struct buf b;
	unsigned i, j, bad;
	unsigned seed = 12345;

	T_STREQ(esc("", 0), "\"\"", "empty string");
	T_STREQ(esc(NULL, 0), "\"\"", "NULL, 0");
	T_STREQ(esc("user-42", 7), "\"user-42\"", "plain");
	T_STREQ(esc("a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"", "quote, backslash");
	T_STREQ(esc("\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"", "short escapes");
	T_STREQ(esc("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"",
	    "control chars, DEL kept");
	T_STREQ(esc("a\0b", 3), "\"a\\u0000b\"", "NUL byte");
	T_STREQ(esc("\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80", 9),
	    "\"\xc3\xbc\xe6\x97\xa5\xf0\x9f\x98\x80\"", "unicode kept");
	T_STREQ(esc("\xff", 1), "\"\xef\xbf\xbd\"", "invalid byte -> U+FFFD");
	T_STREQ(esc("a\xc0\x80z", 4), "\"a\xef\xbf\xbd\xef\xbf\xbdz\"",
	    "overlong: one U+FFFD per byte");
	T_STREQ(esc("\xed\xa0\x80", 3),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", "surrogate in UTF-8");
	T_STREQ(esc("\xe2\x82", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"",
	    "truncated sequence at end");
	T_STREQ(esc("\xe2\x82" "A", 3), "\"\xef\xbf\xbd\xef\xbf\xbd" "A\"",
	    "truncated sequence before ASCII");
	T_STREQ(esc("\xf4\x90\x80\x80", 4),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
	    "above U+10FFFF");
	T_STREQ(esc("0123456789abcdef\"0123456789", 27),
	    "\"0123456789abcdef\\\"0123456789\"", "special after two words");

	/* json-c decodes a valid UTF-8 string back to the same bytes */
	buf_init(&b);
	json_append_string(&b, "k\xc3\xa9y \"\\\x01\n\xf0\x9f\x98\x80", 13);
	if (jc_parse(b.data, b.len, 32, &o)) {
		T_OK(json_object_get_string_len(o) == 13 &&
		    memcmp(json_object_get_string(o),
		    "k\xc3\xa9y \"\\\x01\n\xf0\x9f\x98\x80", 13) == 0,
		    "round trip through json-c");
		json_object_put(o);
	} else
		T_OK(0, "round trip parse");

	/* random byte strings always give a valid literal */
	bad = 0;
	for (i = 0; i < 20000; i++) {
		unsigned char r[64];
		size_t n;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof(r);
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			/* bias towards interesting bytes */
			r[j] = (unsigned char)((seed >> 16) % 4 == 0 ?
			    (seed >> 20) % 0x20 : (seed >> 8));
		}
		buf_reset(&b);
		json_append_string(&b, (const char *)r, n);
		if (minify(b.data, b.len) == NULL ||
		    !jc_parse(b.data, b.len, 32, NULL))
			bad++;
	}
	T_INTEQ(bad, 0, "20000 random byte strings escape to valid literals");
	buf_free(&b);
}

static struct buf line;

static const char *
jsonl(const char *seq, int has_sub, uint64_t sub, const char *pk,
    size_t pk_len, int64_t ts, const char *data, size_t data_len)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.has_sub = has_sub;
	r.sub = sub;
	r.pk = pk;
	r.pk_len = pk_len;
	r.ts_ms = ts;
	r.data = (const unsigned char *)data;
	r.data_len = data_len;
	buf_reset(&line);
	record_format_jsonl(&line, &r);
	return line.data;
}

/* One produced line: ends in its only newline and parses strictly with
 * json-c (and, unless too deep for it, with our own validator). */
static int
line_ok_depth(const char *l, int ours)
{
	size_t n = strlen(l);
	struct json_object *o;

	if (n == 0 || l[n - 1] != '\n' || memchr(l, '\n', n - 1) != NULL)
		return 0;
	if (!jc_parse(l, n - 1, 1024, &o))
		return 0;
	json_object_put(o);
	return !ours || minify(l, n - 1) != NULL;
}

static int
line_ok(const char *l)
{
	return line_ok_depth(l, 1);
}

static void
test_jsonl(void)
{
	const char *l;
	struct buf big;
	struct json_object *o, *v;
	int i;

	l = jsonl("49590338271490256608559692538361571095921575989136588898",
	    0, 0, "user-42", 7, 1795789805123LL, "{\"a\": 1}", 8);
	T_STREQ(l, "{\"seq\":\"49590338271490256608559692538361571095921575989"
	    "136588898\",\"pk\":\"user-42\",\"ts\":\"2026-11-27T14:30:05.123Z\","
	    "\"data\":{\"a\":1}}\n", "jsonl with data");
	T_OK(line_ok(l), "parses");

	l = jsonl("1", 1, 3, "pk", 2, 1795789805123LL, "[1, 2]", 6);
	T_STREQ(l, "{\"seq\":\"1\",\"sub\":3,\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"data\":[1,2]}\n", "with sub");
	T_OK(line_ok(l), "parses");
	l = jsonl("1", 1, 0, "pk", 2, 1795789805123LL, "7", 1);
	T_STREQ(l, "{\"seq\":\"1\",\"sub\":0,\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"data\":7}\n", "sub 0");
	l = jsonl("1", 1, UINT64_MAX, "pk", 2, 0, "7", 1);
	T_STREQ(l, "{\"seq\":\"1\",\"sub\":18446744073709551615,\"pk\":\"pk\","
	    "\"ts\":\"1970-01-01T00:00:00.000Z\",\"data\":7}\n", "sub max");

	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "\x00\x01\xff", 3);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"b64\":\"AAH/\"}\n", "b64 fallback");
	T_OK(line_ok(l), "parses");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "", 0);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"b64\":\"\"}\n", "empty payload");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, NULL, 0);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"b64\":\"\"}\n", "NULL payload");
	T_OK(minify(NULL, 0) == NULL, "minify of NULL, 0 rejected");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "hello world", 11);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"b64\":\"aGVsbG8gd29ybGQ=\"}\n",
	    "plain text is b64");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "{\"a\":1", 6);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"b64\":\"eyJhIjox\"}\n",
	    "truncated JSON is b64");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL,
	    "\"\\ud800\"", 8);
	T_OK(strstr(l, "\"b64\":\"Ilx1ZDgwMCI=\"") != NULL,
	    "lone surrogate escape is b64");
	T_OK(line_ok(l), "parses");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "\"\xc3\x28\"", 4);
	T_OK(strstr(l, "\"b64\":") != NULL && line_ok(l),
	    "invalid UTF-8 payload is b64");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "\"str\"", 5);
	T_STREQ(l, "{\"seq\":\"2\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"data\":\"str\"}\n", "string data");
	l = jsonl("2", 0, 0, "pk", 2, 1795789805123LL, "null", 4);
	T_OK(strstr(l, ",\"data\":null}\n") != NULL, "null data");

	/* pretty-printed payload becomes one line */
	l = jsonl("3", 0, 0, "pk", 2, 1795789805123LL,
	    "{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": \"x y\"\n}\n",
	    LEN("{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": \"x y\"\n}\n"));
	T_STREQ(l, "{\"seq\":\"3\",\"pk\":\"pk\",\"ts\":"
	    "\"2026-11-27T14:30:05.123Z\",\"data\":{\"a\":[1,2],\"b\":\"x y\"}}\n",
	    "pretty-printed data");
	T_OK(line_ok(l), "parses");

	/* partition keys: unicode, quotes, control chars, invalid bytes */
	l = jsonl("4", 0, 0, "\xe7\x94\xa8\xe6\x88\xb7-\xf0\x9f\x98\x80", 11,
	    1795789805123LL, "1", 1);
	T_OK(strstr(l, "\"pk\":\"\xe7\x94\xa8\xe6\x88\xb7-\xf0\x9f\x98\x80\"")
	    != NULL && line_ok(l), "unicode pk kept");
	l = jsonl("4", 0, 0, "a\"b\\c\n", 6, 1795789805123LL, "1", 1);
	T_OK(strstr(l, "\"pk\":\"a\\\"b\\\\c\\n\"") != NULL && line_ok(l),
	    "pk escaped");
	l = jsonl("4", 0, 0, "\xff\xfe\x00x", 4, 1795789805123LL, "1", 1);
	T_OK(strstr(l, "\"pk\":\"\xef\xbf\xbd\xef\xbf\xbd\\u0000x\"") != NULL &&
	    line_ok(l), "invalid pk bytes replaced");
	l = jsonl("4", 0, 0, NULL, 0, 1795789805123LL, "1", 1);
	T_OK(strstr(l, "\"pk\":\"\"") != NULL && line_ok(l), "NULL pk");
	/* pk_len is authoritative: a pk that is not NUL-terminated */
	l = jsonl("4", 0, 0, "abcdef", 3, 1795789805123LL, "1", 1);
	T_OK(strstr(l, "\"pk\":\"abc\"") != NULL, "pk_len honoured");

	/* timestamps, including the per-second cache */
	l = jsonl("5", 0, 0, "p", 1, 0, "1", 1);
	T_OK(strstr(l, "\"ts\":\"1970-01-01T00:00:00.000Z\"") != NULL, "epoch");
	l = jsonl("5", 0, 0, "p", 1, -1, "1", 1);
	T_OK(strstr(l, "\"ts\":\"1969-12-31T23:59:59.999Z\"") != NULL,
	    "before epoch");
	l = jsonl("5", 0, 0, "p", 1, 1795789805999LL, "1", 1);
	T_OK(strstr(l, "\"ts\":\"2026-11-27T14:30:05.999Z\"") != NULL,
	    "same second");
	l = jsonl("5", 0, 0, "p", 1, 1795789806000LL, "1", 1);
	T_OK(strstr(l, "\"ts\":\"2026-11-27T14:30:06.000Z\"") != NULL,
	    "next second");
	l = jsonl("5", 0, 0, "p", 1, 1795789805007LL, "1", 1);
	T_OK(strstr(l, "\"ts\":\"2026-11-27T14:30:05.007Z\"") != NULL,
	    "back a second, small ms");
	l = jsonl("5", 0, 0, "p", 1, INT64_MIN, "1", 1);
	T_OK(strstr(l, "\"ts\":\"0001-01-01T00:00:00.000Z\"") != NULL &&
	    line_ok(l), "INT64_MIN clamped");
	l = jsonl("5", 0, 0, "p", 1, INT64_MAX, "1", 1);
	T_OK(strstr(l, "\"ts\":\"9999-12-31T23:59:59.999Z\"") != NULL &&
	    line_ok(l), "INT64_MAX clamped");

	/* fields come back from json-c as written */
	l = jsonl("123", 1, 9, "k\xc3\xa9", 3, 1795789805123LL,
	    "{\"x\":[1,{\"y\":null}]}", 20);
	if (jc_parse(l, strlen(l) - 1, 64, &o)) {
		T_OK(json_object_object_get_ex(o, "seq", &v) &&
		    strcmp(json_object_get_string(v), "123") == 0, "seq");
		T_OK(json_object_object_get_ex(o, "sub", &v) &&
		    json_object_get_int64(v) == 9, "sub");
		T_OK(json_object_object_get_ex(o, "pk", &v) &&
		    strcmp(json_object_get_string(v), "k\xc3\xa9") == 0, "pk");
		T_OK(json_object_object_get_ex(o, "data", &v) &&
		    json_object_is_type(v, json_type_object), "data object");
		T_OK(!json_object_object_get_ex(o, "b64", NULL), "no b64");
		json_object_put(o);
	} else
		T_OK(0, "line parses");

	/* deepest accepted payload still gives a line json-c reads */
	buf_init(&big);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&big, '[');
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		buf_addc(&big, ']');
	l = jsonl("6", 0, 0, "p", 1, 0, big.data, big.len);
	T_OK(strstr(l, "\"data\":[[[") != NULL && line_ok_depth(l, 0),
	    "the deepest payload allowed is embedded");
	buf_reset(&big);
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&big, '[');
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&big, ']');
	l = jsonl("6", 0, 0, "p", 1, 0, big.data, big.len);
	T_OK(strstr(l, "\"b64\":") != NULL && line_ok(l),
	    "a payload one level deeper goes to b64");

	/* a 1 MiB payload, JSON and not */
	buf_reset(&big);
	buf_addstr(&big, "{\"blob\":\"");
	for (i = 0; i < (1 << 20); i++)
		buf_addc(&big, (char)('a' + i % 26));
	buf_addstr(&big, "\"}");
	l = jsonl("7", 0, 0, "p", 1, 0, big.data, big.len);
	T_OK(strlen(l) > (1 << 20) && line_ok(l), "1 MiB JSON payload");
	big.data[3] = '\x80';
	l = jsonl("7", 0, 0, "p", 1, 0, big.data, big.len);
	T_OK(strstr(l, "\"b64\":") != NULL && line_ok(l), "1 MiB b64 payload");
	buf_free(&big);

	/* lines append: two records in one buffer */
	{
		struct record r;
		struct buf two;

		memset(&r, 0, sizeof(r));
		r.seq = "1";
		r.pk = "p";
		r.pk_len = 1;
		r.data = (const unsigned char *)"{}";
		r.data_len = 2;
		buf_init(&two);
		record_format_jsonl(&two, &r);
		r.data = (const unsigned char *)"x";
		r.data_len = 1;
		record_format_jsonl(&two, &r);
		T_STREQ(two.data, "{\"seq\":\"1\",\"pk\":\"p\",\"ts\":"
		    "\"1970-01-01T00:00:00.000Z\",\"data\":{}}\n"
		    "{\"seq\":\"1\",\"pk\":\"p\",\"ts\":"
		    "\"1970-01-01T00:00:00.000Z\",\"b64\":\"eA==\"}\n",
		    "two lines appended");
		buf_free(&two);
	}
}

/* Every table case and random junk as a payload: every line parses. */
static void
test_jsonl_always_valid(void)
{
	size_t i;
	int bad = 0;
	unsigned seed = 99;

	for (i = 0; i < sizeof(jcases) / sizeof(jcases[0]); i++) {
		const char *in = jcases[i].in;

		if (!line_ok(jsonl("1", 1, i, in, strlen(in), 1795789805123LL,
		    in, strlen(in))))
			bad++;
	}
	static const char alpha[] =
	    "{}[]\":,0123456789.-eE tfnrulase\\u\xc3\xbc\xff";

	for (i = 0; i < 5000; i++) {
		char r[48];
		size_t n, j;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof(r);
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			r[j] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		if (!line_ok(jsonl("1", 0, 0, r, n, 0, r, n)))
			bad++;
	}
	T_INTEQ(bad, 0, "every produced line parses with json-c");
}

static void
test_raw(void)
{
	struct record r;
	struct buf b;

	memset(&r, 0, sizeof(r));
	buf_init(&b);
	r.data = (const unsigned char *)"{\"a\": 1}";
	r.data_len = 8;
	record_format_raw(&b, &r);
	r.data = (const unsigned char *)"\x00\xff";
	r.data_len = 2;
	record_format_raw(&b, &r);
	r.data = NULL;
	r.data_len = 0;
	record_format_raw(&b, &r);
	T_INTEQ(b.len, 8 + 1 + 2 + 1 + 1, "raw lengths");
	T_OK(memcmp(b.data, "{\"a\": 1}\n\x00\xff\n\n", b.len) == 0,
	    "raw payloads each followed by a newline");
	buf_free(&b);
}

int
main(void)
{
	test_cases();
	test_string_bytes();
	test_utf8();
	test_depth();
	test_append_string();
	test_jsonl();
	test_jsonl_always_valid();
	test_raw();
	return t_done();
}
