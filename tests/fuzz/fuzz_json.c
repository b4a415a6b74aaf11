/*
 * fuzz_json.c: json_minify against json-c (strict) as an oracle, the
 * minified form's properties, and json_append_string/record_format_jsonl
 * always producing a line json-c parses, whatever the bytes.
 */
/* fuzz-sources: worker/record.c common/jsonscan.c common/util.c common/log.c */
/* fuzz-pkgs: json-c libcrypto */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonscan.h"
#include "record.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_json: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

/*
 * json-c 0.16 in strict mode with UTF-8 validation accepts exactly the
 * whole input? json-c needs the NUL counted to finish a top-level number,
 * and stops at an embedded NUL: an input with one is never fully consumed.
 */
static int
jc_accepts(const uint8_t *p, size_t len, int depth)
{
	struct json_tokener *tok;
	struct json_object *o;
	char *copy;
	int ok;

	if (len >= INT_MAX)
		return 0;
	copy = xmalloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = '\0';
	tok = json_tokener_new_ex(depth);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, copy, (int)len + 1);
	/* a JSON null comes back as NULL with success */
	ok = json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) >= len;
	json_object_put(o);
	json_tokener_free(tok);
	free(copy);
	return ok;
}

/* An independent, plain UTF-8 check of the whole input. */
static int
valid_utf8(const uint8_t *p, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else
			return 0;
		if (len - i < n)
			return 0;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

static long
hexval4(const uint8_t *p)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* 1 if some \u escape is a surrogate not in a high+low pair (json-c
 * turns those into U+FFFD where we reject). */
static int
lone_surrogate(const uint8_t *p, size_t len)
{
	size_t i = 0;
	long u, l;

	while (i < len) {
		if (p[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 < len && p[i + 1] == 'u' && i + 6 <= len &&
		    (u = hexval4(p + i + 2)) >= 0) {
			if (u >= 0xdc00 && u <= 0xdfff)
				return 1;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (i + 12 > len || p[i + 6] != '\\' ||
				    p[i + 7] != 'u' ||
				    (l = hexval4(p + i + 8)) < 0xdc00 ||
				    l > 0xdfff)
					return 1;
				i += 12;
				continue;
			}
			i += 6;
			continue;
		}
		i += 2;
	}
	return 0;
}

/*
 * Where json-c 0.16 strict is laxer than RFC 8259 (measured; these are
 * the intentional differences, json_minify is the strict one):
 *  - raw control characters (< 0x20) inside strings;
 *  - NaN, Infinity, -Infinity;
 *  - a number ending in '.' ("1."), or a fraction without its integer
 *    part after a minus ("-.5");
 *  - leading zeros ("00", "-01") in some positions;
 *  - object keys in single quotes ({'a':1}).
 * Returns 1 if the input shows one of them (the control characters inside
 * strings, the others outside): a cheap over-approximation, enough for an
 * oracle.
 */
static int
jsonc_quirk(const uint8_t *p, size_t len)
{
	size_t i, q;
	int instr = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (instr) {
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = 0;
			else if (c < 0x20)
				return 1;
			continue;
		}
		if (c == '"') {
			instr = 1;
			continue;
		}
		/* past a single-quoted key this scanner is lost: give up */
		if (c == '\'')
			return 1;
		if ((c | 0x20) == 'n' && len - i >= 3 &&
		    (p[i + 1] | 0x20) == 'a' && (p[i + 2] | 0x20) == 'n')
			return 1;
		if ((c | 0x20) == 'i' && len - i >= 3 &&
		    (p[i + 1] | 0x20) == 'n' && (p[i + 2] | 0x20) == 'f')
			return 1;
		if (c == '.' && i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9' &&
		    (i + 1 == len || p[i + 1] < '0' || p[i + 1] > '9'))
			return 1;
		if (c == '-' && i + 1 < len && p[i + 1] == '.')
			return 1;
		if (c == '0' && i + 1 < len && p[i + 1] >= '0' &&
		    p[i + 1] <= '9') {
			q = i;
			if (q > 0 && p[q - 1] == '-')
				q--;
			if (q == 0 || !((p[q - 1] >= '0' && p[q - 1] <= '9') ||
			    p[q - 1] == '.' || p[q - 1] == 'e' ||
			    p[q - 1] == 'E' || p[q - 1] == '+'))
				return 1;
		}
	}
	return 0;
}

/* The input minus whitespace outside strings, by a separate scanner. */
static size_t
strip_ws(const uint8_t *p, size_t len, uint8_t *out)
{
	size_t i, o = 0;
	int instr = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = p[i];

		if (instr) {
			out[o++] = c;
			if (c == '\\' && i + 1 < len)
				out[o++] = p[++i];
			else if (c == '"')
				instr = 0;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '"')
			instr = 1;
		out[o++] = c;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf b, b2, line;
	struct record r;
	const char *tsp;
	const uint8_t *out;
	uint8_t *stripped;
	size_t olen, slen;
	int ours, theirs, comparable;

	buf_reset(&b);
	buf_addstr(&b, "PFX");
	ours = json_minify(&b, data, size) == 0;
	if (b.len < 3 || memcmp(b.data, "PFX", 3) != 0)
		FAIL("prefix clobbered");
	if (!ours && (b.len != 3 || b.data[3] != '\0'))
		FAIL("rejection left %zu bytes", b.len - 3);

	/* in a valid text every backslash is inside a string, so the plain
	 * scanners above are exact for it: never accept either defect */
	comparable = valid_utf8(data, size) && !lone_surrogate(data, size);
	if (ours && !comparable)
		FAIL("json_minify accepts invalid UTF-8 or a lone surrogate");
	if (comparable) {
		theirs = jc_accepts(data, size, 64);
		if (ours && !theirs)
			FAIL("json_minify accepts what json-c rejects");
		if (!ours && theirs && !jsonc_quirk(data, size))
			FAIL("json-c accepts what json_minify rejects");
	}

	if (ours) {
		out = (const uint8_t *)b.data + 3;
		olen = b.len - 3;
		if (olen > size)
			FAIL("output longer than input");
		/* exactly the input minus insignificant whitespace */
		stripped = xmalloc(size + 1);
		slen = strip_ws(data, size, stripped);
		if (slen != olen || memcmp(stripped, out, olen) != 0)
			FAIL("output is not the input minus whitespace");
		free(stripped);
		/* a fixed point, and json-c reads it */
		buf_reset(&b2);
		if (json_minify(&b2, out, olen) != 0 || b2.len != olen ||
		    memcmp(b2.data, out, olen) != 0)
			FAIL("minified form does not re-minify to itself");
		if (!jc_accepts(out, olen, 64))
			FAIL("json-c rejects the minified form");
		if (memchr(out, '\n', olen) != NULL)
			FAIL("newline in the minified form");
	}

	/* whatever the bytes, as payload and as partition key: one line that
	 * json-c parses (one level deeper than the payload) */
	memset(&r, 0, sizeof(r));
	r.seq = "49590338271490256608559692538361571095921575989136588898";
	r.has_sub = size & 1;
	r.sub = size;
	r.pk = (const char *)data;
	r.pk_len = size < 256 ? size : 256;
	r.ts_ms = (int64_t)size * 7919 * 1000;
	r.data = data;
	r.data_len = size;
	buf_reset(&line);
	record_format_jsonl(&line, &r);
	if (line.len < 2 || line.data[line.len - 1] != '\n' ||
	    memchr(line.data, '\n', line.len - 1) != NULL)
		FAIL("line is not one newline-terminated line");
	/* seq and pk cannot hold a raw quote, so the first "ts" is ours */
	if ((tsp = strstr(line.data, "\"ts\":\"")) == NULL ||
	    strlen(tsp) < 6 + 24 + 9 ||
	    strncmp(tsp + 6 + 24, ours ? "\",\"data\":" : "\",\"b64\":\"",
	    9) != 0)
		FAIL("data/b64 choice disagrees with json_minify: %s",
		    line.data);
	if (!jc_accepts((const uint8_t *)line.data, line.len - 1, 1024))
		FAIL("json-c rejects the line: %s", line.data);
	return 0;
}
