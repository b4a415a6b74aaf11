/*
 * http_parse.c: the answer of an HTTP/1.1 request, framed from its bytes
 * (RFC 9112): a status line and header lines up to an empty line, then a
 * body framed by chunked coding, by Content-Length, or by the close of the
 * connection. Interim 1xx answers are skipped. What would leave the framing
 * in doubt is refused, never guessed: the connection is then closed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

enum {
	S_HEAD,		/* status line and headers, into p->line */
	S_BODY,		/* p->left bytes of a Content-Length body */
	S_CHUNK_SIZE,	/* a chunk-size line, into p->line */
	S_CHUNK_DATA,	/* p->left bytes of a chunk */
	S_CHUNK_END,	/* the CRLF after a chunk */
	S_TRAILER,	/* trailer lines after the last chunk, up to an empty one */
	S_CLOSE,	/* a body that ends with the connection */
	S_DONE
};

#define CHUNK_LINE_MAX	1024

/* Copy the value of header "name:" (lowercase) from a header line. */
static int
header_value(const char *line, size_t n, const char *name, char *out,
    size_t outlen)
{
	size_t nl = strlen(name);
	const char *v;
	size_t vl;

	if (n <= nl || strncasecmp(line, name, nl) != 0)
		return 0;
	v = line + nl;
	vl = n - nl;
	while (vl > 0 && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	snprintf(out, outlen, "%.*s", (int)vl, v);
	return 1;
}

/* "Name: value\r\n" -> "name: value\n" */
static void
meta_line(struct buf *b, const char *p, size_t n)
{
	size_t i = 0, v;

	while (i < n && p[i] != ':')
		buf_addc(b, (char)tolower((unsigned char)p[i++]));
	if (i == n) {
		buf_addc(b, '\n');
		return;
	}
	buf_addstr(b, ": ");
	for (v = i + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	while (n > v && (p[n - 1] == '\r' || p[n - 1] == '\n' ||
	    p[n - 1] == ' '))
		n--;
	buf_add(b, p + v, n - v);
	buf_addc(b, '\n');
}

void
http_take_header(struct http_response *r, const char *line, size_t n,
    size_t max_body)
{
	char len[32];

	/* S3 user metadata, for s3_head_object: S3 allows 2 KB of it */
	if (n > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0 &&
	    r->meta.len + n < 8192)
		meta_line(&r->meta, line + 11, n - 11);
	if (!header_value(line, n, "x-amzn-errortype:", r->amz_error_type,
	    sizeof(r->amz_error_type)) &&
	    !header_value(line, n, "etag:", r->etag, sizeof(r->etag)) &&
	    header_value(line, n, "content-length:", len, sizeof(len))) {
		/* room for exactly the body: a 10 MB answer must not sit in a
		 * buffer grown past it by doubling */
		unsigned long long cl = strtoull(len, NULL, 10);

		r->content_length = (long long)cl;
		if (cl > 0 && cl <= max_body &&
		    r->body.len + cl + 1 > r->body.cap)
			buf_reserve_exact(&r->body, (size_t)cl);
	}
}

void
http_parser_init(struct http_parser *p, struct http_response *resp,
    size_t max_body)
{
	memset(p, 0, sizeof(*p));
	p->resp = resp;
	p->max_body = max_body;
	p->state = S_HEAD;
	buf_init(&p->line);
}

void
http_parser_free(struct http_parser *p)
{
	buf_free(&p->line);
}

int
http_parser_started(const struct http_parser *p)
{
	return p->got;
}

static int
fail(struct http_parser *p, const char *why)
{
	snprintf(p->error, sizeof(p->error), "%s", why);
	p->state = S_DONE;
	return HP_ERROR;
}

static int
too_large(struct http_parser *p)
{
	p->resp->truncated = 1;
	snprintf(p->error, sizeof(p->error), "response body larger than %zu "
	    "bytes", p->max_body);
	p->state = S_DONE;
	return HP_ERROR;
}

/* whether the comma-separated list v (length n) holds the token tok */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

/* the value of a header line after "name:", without blanks around it */
static const char *
value_of(const char *l, size_t n, size_t nl, size_t *vl)
{
	const char *v = l + nl;

	n -= nl;
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*vl = n;
	return v;
}

/*
 * The head is complete in p->line (lines ending in LF, CR before it
 * optional): the status line, the framing headers, the rest for resp.
 * Returns 1 for an interim (1xx) answer to skip, 0, or HP_ERROR.
 */
static int
parse_head(struct http_parser *p)
{
	const char *s = p->line.data, *end = s + p->line.len, *nl, *v;
	size_t n, vl;
	long long cl = -1;
	int minor, status, keep = 0, ver10;

	nl = memchr(s, '\n', (size_t)(end - s));
	n = (size_t)(nl - s);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	/* "HTTP/1.x NNN[ reason]" */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) || (n > 12 && s[12] != ' '))
		return fail(p, "not an HTTP/1.x status line");
	minor = s[7] - '0';
	status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (status < 100)
		return fail(p, "bad status code");
	if (status == 101)
		return fail(p, "unexpected protocol switch (101)");
	if (status < 200)
		return ++p->interim > HTTP_MAX_INTERIM ?
		    fail(p, "too many interim (1xx) answers") : 1;
	ver10 = minor == 0;
	p->resp->status = status;
	for (s = nl + 1; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		n = (size_t)(nl - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n == 0)
			break;		/* the empty line that ends the head */
		if (*s == ' ' || *s == '\t')
			return fail(p, "folded header line");
		v = memchr(s, ':', n);
		if (v == NULL || v == s)
			return fail(p, "header line without a name");
		/* "Content-Length : 5" would frame nothing here and something
		 * elsewhere: RFC 9112, 5.1 says refuse it */
		if (memchr(s, ' ', (size_t)(v - s)) != NULL ||
		    memchr(s, '\t', (size_t)(v - s)) != NULL)
			return fail(p, "blank in a header name");
		if ((size_t)(v - s) == 14 &&
		    strncasecmp(s, "content-length", 14) == 0) {
			long long x = 0;
			size_t i;

			v = value_of(s, n, 15, &vl);
			if (vl == 0 || vl > 18)
				return fail(p, "bad Content-Length");
			for (i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)v[i]))
					return fail(p, "bad Content-Length");
				x = x * 10 + (v[i] - '0');
			}
			if (cl >= 0 && x != cl)
				return fail(p, "conflicting Content-Length");
			cl = x;
		} else if ((size_t)(v - s) == 17 &&
		    strncasecmp(s, "transfer-encoding", 17) == 0) {
			v = value_of(s, n, 18, &vl);
			if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
				return fail(p, "unsupported transfer coding");
			p->chunked = 1;
		} else if ((size_t)(v - s) == 10 &&
		    strncasecmp(s, "connection", 10) == 0) {
			v = value_of(s, n, 11, &vl);
			if (has_token(v, vl, "close"))
				p->close = 1;
			if (has_token(v, vl, "keep-alive"))
				keep = 1;
		}
		http_take_header(p->resp, s, n, p->max_body);
	}
	if (ver10 && !keep)
		p->close = 1;
	p->seen_cl = cl >= 0;
	if (status == 204 || status == 304) {
		p->state = S_DONE;
	} else if (p->chunked) {
		/* both framings: chunked wins, and the connection ends
		 * with this answer (RFC 9112, 6.3) */
		if (p->seen_cl)
			p->close = 1;
		p->resp->content_length = -1;
		p->state = S_CHUNK_SIZE;
	} else if (p->seen_cl) {
		if ((unsigned long long)cl > p->max_body)
			return too_large(p);
		p->left = cl;
		p->state = cl > 0 ? S_BODY : S_DONE;
	} else {
		p->close = 1;
		p->state = S_CLOSE;
	}
	buf_reset(&p->line);
	p->lstart = 0;
	return 0;
}

/* the hex size of a chunk-size line "1a2b[;ext]" */
static int
chunk_size(struct http_parser *p)
{
	const char *s = p->line.data;
	size_t n = p->line.len, i;
	long long x = 0;

	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n && isxdigit((unsigned char)s[i]); i++) {
		if (i == 15)
			return fail(p, "chunk size too large");
		x = x * 16 + (isdigit((unsigned char)s[i]) ? s[i] - '0' :
		    (tolower((unsigned char)s[i]) - 'a' + 10));
	}
	if (i == 0)
		return fail(p, "bad chunk size");
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] != ';')
		return fail(p, "bad chunk size");
	buf_reset(&p->line);
	if (x == 0) {
		p->state = S_TRAILER;
		return 0;
	}
	if ((unsigned long long)x > p->max_body - p->resp->body.len)
		return too_large(p);
	p->left = x;
	p->state = S_CHUNK_DATA;
	return 0;
}

int
http_parser_feed(struct http_parser *p, const char *d, size_t n, size_t *used)
{
	size_t i = 0, k;
	const char *lf;
	int r;

	/* a refused answer stays refused: S_DONE alone would read as a
	 * whole answer to a caller that feeds its connection again */
	if (p->error[0] != '\0') {
		*used = 0;
		return HP_ERROR;
	}
	if (n > 0)
		p->got = 1;
	while (i < n && p->state != S_DONE) {
		switch (p->state) {
		case S_HEAD:
			lf = memchr(d + i, '\n', n - i);
			k = lf != NULL ? (size_t)(lf - (d + i)) + 1 : n - i;
			if (p->line.len + k > HTTP_MAX_HEAD) {
				*used = i;
				return fail(p, "header section too large");
			}
			buf_add(&p->line, d + i, k);
			i += k;
			if (lf == NULL)
				break;
			/* a line ended: the head ends with an empty one */
			k = p->line.len - p->lstart;
			if (p->lstart > 0 && (k == 1 || (k == 2 &&
			    p->line.data[p->lstart] == '\r'))) {
				if ((r = parse_head(p)) < 0) {
					*used = i;
					return HP_ERROR;
				}
				if (r == 1) {	/* 1xx: the real answer follows */
					buf_reset(&p->line);
					p->lstart = 0;
				}
			} else
				p->lstart = p->line.len;
			break;
		case S_BODY:
		case S_CHUNK_DATA:
			k = n - i < (unsigned long long)p->left ? n - i :
			    (size_t)p->left;
			buf_add(&p->resp->body, d + i, k);
			i += k;
			p->left -= (long long)k;
			if (p->left == 0)
				p->state = p->state == S_BODY ? S_DONE :
				    S_CHUNK_END;
			break;
		case S_CHUNK_SIZE:
		case S_CHUNK_END:
		case S_TRAILER:
			lf = memchr(d + i, '\n', n - i);
			k = lf != NULL ? (size_t)(lf - (d + i)) + 1 : n - i;
			if (p->line.len + k > CHUNK_LINE_MAX ||
			    p->trailer + k > HTTP_MAX_HEAD) {
				*used = i;
				return fail(p, p->state == S_TRAILER ?
				    "trailer section too large" :
				    "chunk size line too long");
			}
			buf_add(&p->line, d + i, k);
			i += k;
			if (p->state == S_TRAILER)
				p->trailer += k;
			if (lf == NULL)
				break;
			if (p->state == S_CHUNK_SIZE) {
				if (chunk_size(p) < 0) {
					*used = i;
					return HP_ERROR;
				}
				break;
			}
			k = p->line.len;
			if (k > 2 || (k == 2 && p->line.data[0] != '\r')) {
				if (p->state == S_CHUNK_END) {
					*used = i;
					return fail(p, "chunk not followed by "
					    "CRLF");
				}
				buf_reset(&p->line);	/* a trailer line */
				break;
			}
			buf_reset(&p->line);
			p->state = p->state == S_CHUNK_END ? S_CHUNK_SIZE :
			    S_DONE;
			break;
		case S_CLOSE:
			if (n - i > p->max_body - p->resp->body.len) {
				*used = i;
				return too_large(p);
			}
			buf_add(&p->resp->body, d + i, n - i);
			i = n;
			break;
		}
	}
	*used = i;
	return p->state == S_DONE ? HP_DONE : HP_MORE;
}

int
http_parser_eof(struct http_parser *p)
{
	if (p->state == S_CLOSE) {
		p->state = S_DONE;
		return HP_DONE;
	}
	if (p->state == S_DONE && p->error[0] == '\0')
		return HP_DONE;
	if (p->error[0] == '\0')
		snprintf(p->error, sizeof(p->error), "%s", !p->got ?
		    "connection closed before an answer" :
		    "connection closed in the middle of the answer");
	p->state = S_DONE;
	return HP_ERROR;
}
