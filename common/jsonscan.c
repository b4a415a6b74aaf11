/*
 * jsonscan.c: the one hand-written JSON lexer: strings (UTF-8 checked,
 * escapes and surrogate pairs), numbers, and on top of them the strict
 * validator/minifier of payloads and the string escaper for jsonl lines.
 * The GetRecords scanner (kinesis_parse.c) lexes with the same functions.
 */
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "jsonscan.h"
#include "util.h"

/*
 * Deepest nesting json_minify accepts (jsonscan.h); deeper payloads go to
 * b64, so that every line parses with jq: jq 1.6 (Debian 12) stops at 256
 * parser stack entries, an object costing two and an array one, so a
 * payload deeper than about 127 objects parses with json-c but not jq 1.6.
 */
#define JSON_MAX_DEPTH	64

_Static_assert(JSON_MAX_DEPTH % 64 == 0, "depth stack is in 64-bit words");

/* Classes of bytes inside a JSON string. */
#define SC_PLAIN	0	/* copied as is */
#define SC_QUOTE	1
#define SC_BSLASH	2
#define SC_CTRL		3	/* < 0x20: must be escaped */
#define SC_HIGH		4	/* >= 0x80: start of a UTF-8 sequence */

#define R4(x)	x, x, x, x
#define R16(x)	R4(x), R4(x), R4(x), R4(x)

static const unsigned char strclass[256] = {
	R16(SC_CTRL), R16(SC_CTRL),				/* 0x00 */
	0, 0, SC_QUOTE, 0, R4(0), R4(0), R4(0),			/* 0x20 */
	R16(0), R16(0),						/* 0x30 */
	R4(0), R4(0), R4(0), SC_BSLASH, 0, 0, 0,		/* 0x50 */
	R16(0), R16(0),						/* 0x60 */
	R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH),	/* 0x80 */
	R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH), R16(SC_HIGH)
};

#undef R4
#undef R16

/* JSON insignificant whitespace (RFC 8259: space, tab, LF, CR only). */
static const unsigned char wsclass[256] = {
	['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1
};

static inline int
is_digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10;
}

/*
 * Nonzero if any of the 8 bytes in v is '"', '\\', below 0x20 or above
 * 0x7f: the bytes a string scanner must look at. Exact as a boolean (the
 * borrow tricks only give false positives above a true hit).
 */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static inline uint64_t
swar_special(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), bs = v ^ (ONES * '\\');

	return (((q - ONES) & ~q) | ((bs - ONES) & ~bs) |
	    ((v - ONES * 0x20) & ~v) | v) & HIGHS;
}

/*
 * Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), or 0:
 * RFC 3629 table 3-7, so no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF, no truncated sequence.
 */
static inline size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;

	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return (avail >= 2 && (p[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (avail < 3 || p[1] < lo || p[1] > hi ||
		    (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (avail < 4 || p[1] < lo || p[1] > hi ||
		    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* The 4 hex digits at p as a number, or -1. The caller checked bounds. */
static inline long
hex4(const unsigned char *p)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned c = p[i], d;

		if (c - '0' < 10)
			d = c - '0';
		else if ((c | 0x20) - 'a' < 6)
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/*
 * Scan a string body; p is just after the opening quote. Returns the
 * position after the closing quote, or NULL if the string is invalid.
 */
static inline const unsigned char *
scan_string(const unsigned char *p, const unsigned char *end)
{
	uint64_t v;
	size_t n;
	long u, l;

	for (;;) {
		/* most string bytes are plain ASCII: skip them 16 (SSE2, every
		 * x86-64) or 8 at a time */
#ifdef __SSE2__
		while (end - p >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const
			    void *)p);
			/* signed: bytes >= 0x80 are below 0x20 too */
			int m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
			    _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))));

			if (m != 0) {
				p += __builtin_ctz((unsigned)m);
				break;
			}
			p += 16;
		}
#endif
		while (end - p >= 8) {
			memcpy(&v, p, 8);
			if (swar_special(v))
				break;
			p += 8;
		}
		while (p < end && strclass[*p] == SC_PLAIN)
			p++;
		if (p == end)
			return NULL;
		switch (strclass[*p]) {
		case SC_QUOTE:
			return p + 1;
		case SC_BSLASH:
			if (end - p < 2)
				return NULL;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				p += 2;
				break;
			case 'u':
				if (end - p < 6 || (u = hex4(p + 2)) < 0)
					return NULL;
				p += 6;
				if (u >= 0xdc00 && u <= 0xdfff)
					return NULL;	/* low without high */
				if (u >= 0xd800 && u <= 0xdbff) {
					/* a high surrogate must pair with a low */
					if (end - p < 6 || p[0] != '\\' ||
					    p[1] != 'u' || (l = hex4(p + 2)) < 0 ||
					    l < 0xdc00 || l > 0xdfff)
						return NULL;
					p += 6;
				}
				break;
			default:
				return NULL;
			}
			break;
		case SC_CTRL:
			return NULL;
		default:
			/* non-ASCII text comes in runs: stay here for one */
			do {
				if ((n = utf8_len(p, end)) == 0)
					return NULL;
				p += n;
			} while (p < end && *p >= 0x80);
			break;
		}
	}
}

/* Scan a number starting at p ('-' or a digit); NULL if malformed. */
static inline const unsigned char *
scan_number(const unsigned char *p, const unsigned char *end)
{
	if (*p == '-' && ++p == end)
		return NULL;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9') {
		while (++p < end && is_digit(*p))
			;
	} else
		return NULL;
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p))
			return NULL;
		while (++p < end && is_digit(*p))
			;
	}
	if (p < end && (*p | 0x20) == 'e') {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p))
			return NULL;
		while (++p < end && is_digit(*p))
			;
	}
	return p;
}

const unsigned char *
json_scan_string(const unsigned char *p, const unsigned char *end)
{
	return scan_string(p, end);
}

const unsigned char *
json_scan_number(const unsigned char *p, const unsigned char *end)
{
	return scan_number(p, end);
}

/*
 * Whitespace is rare in machine-made payloads, so significant bytes are
 * copied in runs: a run ends where whitespace starts and the next begins
 * after it. No recursion: one bit per level says object (1) or array (0).
 */
#define SKIP_WS() do {							\
	if (p < end && wsclass[*p]) {					\
		memcpy(out, run, (size_t)(p - run));			\
		out += p - run;						\
		while (++p < end && wsclass[*p])			\
			;						\
		run = p;						\
	}								\
} while (0)

#define IN_OBJECT() (stack[(depth - 1) / 64] >> ((depth - 1) % 64) & 1)

int
json_minify(struct buf *b, const unsigned char *in, size_t len)
{
	const unsigned char *p, *end, *run;
	unsigned char *out;
	uint64_t stack[JSON_MAX_DEPTH / 64] = { 0 };
	size_t olen = b->len, depth = 0;

	if (len == 0)
		return -1;		/* not a JSON text; in may be NULL */
	p = run = in;
	end = in + len;
	/* the output is never longer than the input */
	buf_reserve(b, len);
	out = (unsigned char *)b->data + olen;

value:
	SKIP_WS();
	if (p == end)
		goto bad;
	switch (*p) {
	case '{':
	case '[':
		if (depth == JSON_MAX_DEPTH)
			goto bad;
		if (*p == '{')
			stack[depth / 64] |= (uint64_t)1 << (depth % 64);
		else
			stack[depth / 64] &= ~((uint64_t)1 << (depth % 64));
		depth++;
		p++;
		SKIP_WS();
		if (p < end && *p == (IN_OBJECT() ? '}' : ']')) {
			p++;
			depth--;
			goto next;
		}
		if (IN_OBJECT())
			goto key;
		goto value;
	case '"':
		if ((p = scan_string(p + 1, end)) == NULL)
			goto bad;
		goto next;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			goto bad;
		p += 4;
		goto next;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			goto bad;
		p += 5;
		goto next;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			goto bad;
		p += 4;
		goto next;
	default:
		if ((p = scan_number(p, end)) == NULL)
			goto bad;
		goto next;
	}

key:	/* whitespace already skipped */
	if (p == end || *p != '"' || (p = scan_string(p + 1, end)) == NULL)
		goto bad;
	SKIP_WS();
	if (p == end || *p != ':')
		goto bad;
	p++;
	goto value;

next:	/* after a value */
	SKIP_WS();
	if (depth == 0) {
		if (p != end)
			goto bad;		/* trailing garbage */
		memcpy(out, run, (size_t)(p - run));
		out += p - run;
		b->len = (size_t)((char *)out - b->data);
		b->data[b->len] = '\0';
		return 0;
	}
	if (p == end)
		goto bad;
	if (*p == ',') {
		p++;
		if (IN_OBJECT()) {
			SKIP_WS();
			goto key;
		}
		goto value;
	}
	if (*p == (IN_OBJECT() ? '}' : ']')) {
		p++;
		depth--;
		goto next;
	}

bad:
	b->len = olen;
	b->data[olen] = '\0';
	return -1;
}

#undef SKIP_WS
#undef IN_OBJECT

void
json_append_string(struct buf *b, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *p, *end, *run;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	uint64_t v;
	size_t n;

	if (s == NULL)
		s = "";			/* NULL + 0 is not a pointer */
	p = (const unsigned char *)s;
	end = p + len;
	buf_reserve(b, len + 2);
	b->data[b->len++] = '"';
	run = p;
	for (;;) {
		while (end - p >= 8) {
			memcpy(&v, p, 8);
			if (swar_special(v))
				break;
			p += 8;
		}
		while (p < end && strclass[*p] == SC_PLAIN)
			p++;
		if (p == end)
			break;
		if (*p >= 0x80 && (n = utf8_len(p, end)) != 0) {
			p += n;			/* valid UTF-8 stays in the run */
			continue;
		}
		if (p > run)
			buf_add(b, run, (size_t)(p - run));
		switch (*p) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\b':
			buf_add(b, "\\b", 2);
			break;
		case '\f':
			buf_add(b, "\\f", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				esc[4] = hexd[*p >> 4];
				esc[5] = hexd[*p & 15];
				buf_add(b, esc, 6);
			} else			/* one invalid UTF-8 byte */
				buf_add(b, "\xef\xbf\xbd", 3);
			break;
		}
		run = ++p;
	}
	if (p > run)
		buf_add(b, run, (size_t)(p - run));
	buf_addc(b, '"');
}
