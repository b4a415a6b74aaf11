/*
 * jsonpath.c: {json:PATH} values. The payload has been validated and made
 * compact by json_minify (jsonscan.c), so this walker only has to skip
 * values and unescape one string; anything unexpected reads as missing.
 */
#include <stdint.h>
#include <string.h>

#include "jsonpath.h"
#include "jsonscan.h"

/* The position after the value at p, or NULL. */
static const unsigned char *
skip_value(const unsigned char *p, const unsigned char *end)
{
	int depth = 0;

	do {
		if (p >= end)
			return NULL;
		switch (*p) {
		case '"':
			if ((p = json_scan_string(p + 1, end)) == NULL)
				return NULL;
			break;
		case '{':
		case '[':
			depth++;
			p++;
			break;
		case '}':
		case ']':
			depth--;
			p++;
			break;
		case ',':
		case ':':
			p++;
			break;
		case 't':
		case 'n':
			p += 4;
			break;
		case 'f':
			p += 5;
			break;
		default:
			if ((p = json_scan_number(p, end)) == NULL)
				return NULL;
		}
	} while (depth > 0);
	return p <= end ? p : NULL;
}

/* In the object at p, the value of member name; NULL if there is none. */
static const unsigned char *
member(const unsigned char *p, const unsigned char *end, const char *name,
    size_t len)
{
	const unsigned char *k, *ke;

	if (p >= end || *p != '{' || ++p >= end || *p == '}')
		return NULL;
	for (;;) {
		if (*p != '"' || (ke = json_scan_string(p + 1, end)) == NULL)
			return NULL;
		k = p + 1;
		p = ke;
		if (p >= end || *p != ':')
			return NULL;
		p++;
		if ((size_t)(ke - 1 - k) == len && memcmp(k, name, len) == 0)
			return p;
		if ((p = skip_value(p, end)) == NULL || p >= end || *p != ',')
			return NULL;
		p++;
	}
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint32_t
hex4(const unsigned char *p)
{
	return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 |
	    hexval(p[2]) << 4 | hexval(p[3]));
}

/* Unescape the string body p..end (the closing quote at end) into v,
 * at most JPATH_MAX bytes; returns the length. */
static size_t
unescape(const unsigned char *p, const unsigned char *end,
    unsigned char *v)
{
	unsigned char u[4];
	size_t n = 0, k, i;
	uint32_t c;

	while (p < end && n < JPATH_MAX) {
		if (*p != '\\') {
			v[n++] = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			c = hex4(p + 1);
			p += 4;
			/* a pair; json_minify let no lone surrogate through */
			if (c >= 0xd800 && c < 0xdc00 && p + 6 < end &&
			    p[1] == '\\' && p[2] == 'u') {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (hex4(p + 3) - 0xdc00);
				p += 6;
			}
			break;
		default:
			c = *p;		/* \" \\ \/ */
		}
		p++;
		if (c < 0x80) {
			u[0] = (unsigned char)c;
			k = 1;
		} else if (c < 0x800) {
			u[0] = (unsigned char)(0xc0 | c >> 6);
			u[1] = (unsigned char)(0x80 | (c & 0x3f));
			k = 2;
		} else if (c < 0x10000) {
			u[0] = (unsigned char)(0xe0 | c >> 12);
			u[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
			u[2] = (unsigned char)(0x80 | (c & 0x3f));
			k = 3;
		} else {
			u[0] = (unsigned char)(0xf0 | c >> 18);
			u[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
			u[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
			u[3] = (unsigned char)(0x80 | (c & 0x3f));
			k = 4;
		}
		for (i = 0; i < k && n < JPATH_MAX; i++)
			v[n++] = u[i];
	}
	return n;
}

static void
add_safe(struct buf *out, const unsigned char *v, size_t n)
{
	size_t i, dots = 0;

	if (n == 0) {
		buf_addstr(out, JPATH_EMPTY);
		return;
	}
	for (i = 0; i < n; i++)
		dots += v[i] == '.';
	for (i = 0; i < n; i++) {
		unsigned char c = v[i];
		int safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && dots < n);

		/* "." and ".." would be path segments of their own */
		buf_addc(out, safe ? (char)c : '_');
	}
}

void
jpath_value(struct buf *out, const unsigned char *json, size_t len,
    const char *path, size_t path_len)
{
	const unsigned char *p = json, *end, *q;
	unsigned char v[JPATH_MAX];
	const char *name = path, *dot;
	size_t n;

	if (json == NULL)
		goto missing;
	end = json + len;
	while (name < path + path_len) {
		dot = memchr(name, '.', (size_t)(path + path_len - name));
		n = dot != NULL ? (size_t)(dot - name) :
		    (size_t)(path + path_len - name);
		if ((p = member(p, end, name, n)) == NULL)
			goto missing;
		name += n + 1;
	}
	if (p >= end)
		goto missing;
	switch (*p) {
	case '"':
		if ((q = json_scan_string(p + 1, end)) == NULL)
			goto missing;
		add_safe(out, v, unescape(p + 1, q - 1, v));
		return;
	case 't':
		buf_addstr(out, "true");
		return;
	case 'f':
		buf_addstr(out, "false");
		return;
	case 'n':
	case '{':
	case '[':
		goto missing;
	default:
		if ((q = json_scan_number(p, end)) == NULL)
			goto missing;
		n = (size_t)(q - p) < JPATH_MAX ? (size_t)(q - p) : JPATH_MAX;
		add_safe(out, p, n);
		return;
	}
missing:
	buf_addstr(out, JPATH_MISSING);
}
