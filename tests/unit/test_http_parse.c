/*
 * test_http_parse.c: common/http_parse.c, the HTTP/1.1 answer framed from
 * its bytes. Every case is fed whole, one byte at a time and split in two
 * at every point, and each way must give the same answer: exact status,
 * body, headers kept, bytes left over, or the same refusal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_parse.h"
#include "t.h"
#include "util.h"

#define IN(s)	.in = (s), .len = sizeof(s) - 1
#define BODY(s)	.body = (s), .blen = sizeof(s) - 1
#define CL(x)	.has_cl = 1, .cl = (x)

/* the status lines and heads most cases start with */
#define OK	"HTTP/1.1 200 OK\r\n"
#define CHUNKED	OK "Transfer-Encoding: chunked\r\n\r\n"
#define NEXT	"HTTP/1.1 200 OK\r\n"	/* a pipelined answer: 17 bytes */

struct tcase {
	const char	*name;
	const char	*in;
	size_t		 len;
	size_t		 max;		/* max_body; 0: 1 MiB */
	int		 eof;		/* the server closes after the bytes */
	int		 rc;		/* HP_DONE, HP_MORE or HP_ERROR */
	long		 status;
	int		 nostatus;	/* a refused header: status unchecked */
	const char	*body;		/* HP_DONE: exactly this body */
	size_t		 blen;
	size_t		 after;		/* bytes after the answer, not used */
	int		 close;
	int		 truncated;
	const char	*error;		/* HP_ERROR: a part of p->error */
	int		 has_cl;
	long long	 cl;
	const char	*etag;		/* NULL: must be empty */
	const char	*errtype;
	const char	*meta;
};

/* what one way of feeding a case gave */
struct res {
	int		 rc;
	long		 status;
	struct buf	 body;
	size_t		 used;		/* bytes consumed, all pieces */
	int		 close;
	int		 truncated;
	long long	 cl;
	char		 etag[128];
	char		 errtype[128];
	char		*meta;
	char		 error[128];
	int		 started;
	int		 bad_used;	/* *used > piece, or < piece with HP_MORE */
	int		 over_max;	/* body grew past max_body */
};

enum { M_WHOLE, M_BYTES, M_SPLIT };

static size_t
max_of(const struct tcase *c)
{
	return c->max != 0 ? c->max : 1024 * 1024;
}

/*
 * Feed c->in whole, a byte at a time, or as the two pieces [0, k) and
 * [k, len) (either may be empty); stop at HP_DONE or HP_ERROR (what
 * follows an answer is the next one's), then report the close if asked.
 */
static void
run(const struct tcase *c, int mode, size_t k, struct res *r)
{
	struct http_response resp;
	struct http_parser p;
	size_t pos = 0, n, used, idx = 0;
	int rc = HP_MORE;

	memset(r, 0, sizeof(*r));
	http_response_init(&resp);
	http_parser_init(&p, &resp, max_of(c));
	while (rc == HP_MORE) {
		if (mode == M_SPLIT) {
			if (idx == 2)
				break;
			n = idx == 0 ? k : c->len - pos;
		} else {
			if (pos == c->len)
				break;
			n = mode == M_BYTES ? 1 : c->len - pos;
		}
		idx++;
		used = SIZE_MAX;
		rc = http_parser_feed(&p, c->in + pos, n, &used);
		if (used > n) {
			r->bad_used = 1;
			used = n;
		} else if (rc == HP_MORE && used != n)
			r->bad_used = 1;
		pos += used;
		if (resp.body.len > max_of(c))
			r->over_max = 1;
	}
	r->started = http_parser_started(&p);
	if (rc == HP_MORE && c->eof)
		rc = http_parser_eof(&p);
	r->rc = rc;
	r->used = pos;
	r->status = resp.status;
	buf_init(&r->body);
	buf_add(&r->body, resp.body.data, resp.body.len);
	r->close = p.close;
	r->truncated = resp.truncated;
	r->cl = resp.content_length;
	memcpy(r->etag, resp.etag, sizeof(r->etag));
	memcpy(r->errtype, resp.amz_error_type, sizeof(r->errtype));
	r->meta = xstrdup(resp.meta.len > 0 ? resp.meta.data : "");
	memcpy(r->error, p.error, sizeof(r->error));
	http_parser_free(&p);
	http_response_free(&resp);
}

static void
res_free(struct res *r)
{
	buf_free(&r->body);
	free(r->meta);
}

/*
 * Whether two ways of feeding gave the same answer; *why names the first
 * difference. The body of a refused answer is not compared: it holds what
 * arrived before the refusal, which depends on the pieces.
 */
static int
same(const struct res *a, const struct res *b, const char **why)
{
	if (a->rc != b->rc)
		*why = "return code";
	else if (a->status != b->status)
		*why = "status";
	else if (a->rc == HP_DONE && (a->body.len != b->body.len ||
	    memcmp(a->body.data, b->body.data, a->body.len) != 0))
		*why = "body";
	else if (a->rc == HP_DONE && a->used != b->used)
		*why = "bytes used";
	else if (a->close != b->close)
		*why = "close";
	else if (a->truncated != b->truncated)
		*why = "truncated";
	else if (a->cl != b->cl)
		*why = "content_length";
	else if (strcmp(a->etag, b->etag) != 0 ||
	    strcmp(a->errtype, b->errtype) != 0 ||
	    strcmp(a->meta, b->meta) != 0)
		*why = "headers kept";
	else if (strcmp(a->error, b->error) != 0)
		*why = "error text";
	else if (a->started != b->started)
		*why = "started";
	else if (b->bad_used)
		*why = "*used out of range";
	else if (b->over_max)
		*why = "body over max_body";
	else
		return 1;
	return 0;
}

static void
expect(const struct tcase *c, const struct res *r)
{
	const char *rcs[] = { "HP_ERROR", "HP_MORE", "HP_DONE" };

	T_OK(r->rc == c->rc, "%s: %s", c->name, rcs[c->rc + 1]);
	if (r->rc != c->rc)
		printf("#   got %s (%s)\n", r->rc >= -1 && r->rc <= 1 ?
		    rcs[r->rc + 1] : "?", r->error);
	if (!c->nostatus)
		T_INTEQ(r->status, c->status, "status");
	if (c->rc == HP_DONE || c->body != NULL) {
		int eq = c->body != NULL && r->body.len == c->blen &&
		    memcmp(r->body.data, c->body, c->blen) == 0;

		T_OK(eq, "%s: body of %zu bytes", c->name, c->blen);
		if (!eq)
			printf("#   got %zu bytes: %.*s\n", r->body.len,
			    (int)(r->body.len > 200 ? 200 : r->body.len),
			    r->body.data);
	}
	if (c->rc == HP_DONE) {
		T_INTEQ(c->len - r->used, c->after, "bytes after the answer");
		T_INTEQ(r->close, c->close, "connection closes after it");
	}
	if (c->rc == HP_MORE)
		T_INTEQ(r->used, c->len, "every byte used");
	if (c->rc == HP_ERROR) {
		T_OK(c->error != NULL && r->error[0] != '\0' &&
		    strstr(r->error, c->error) != NULL,
		    "%s: refused: %s", c->name, c->error ? c->error : "?");
		if (c->error == NULL || strstr(r->error, c->error) == NULL)
			printf("#   error: \"%s\"\n", r->error);
	} else
		T_STREQ(r->error, "", "no error text");
	T_INTEQ(r->truncated, c->truncated, "truncated");
	if (c->has_cl)
		T_INTEQ(r->cl, c->cl, "content_length");
	if (c->etag != NULL || r->etag[0] != '\0')
		T_STREQ(r->etag, c->etag ? c->etag : "", "ETag");
	if (c->errtype != NULL || r->errtype[0] != '\0')
		T_STREQ(r->errtype, c->errtype ? c->errtype : "",
		    "x-amzn-ErrorType");
	if (c->meta != NULL || r->meta[0] != '\0')
		T_STREQ(r->meta, c->meta ? c->meta : "", "x-amz-meta-*");
	T_OK(r->started == (c->len > 0), "%s: started", c->name);
	T_OK(!r->bad_used && !r->over_max,
	    "%s: *used within the piece, body within max_body", c->name);
}

/* Split points: all of them, or for big inputs both ends and a stride. */
static int
split_here(size_t k, size_t len)
{
	if (len <= 4096)
		return 1;
	return k <= 300 || k + 300 >= len || k % 499 == 0;
}

static void
check_case(const struct tcase *c)
{
	struct res whole, r;
	const char *why = NULL;
	size_t k, nsplit = 0, bad = 0, first = 0;

	run(c, M_WHOLE, 0, &whole);
	expect(c, &whole);

	run(c, M_BYTES, 0, &r);
	T_OK(same(&whole, &r, &why), "%s: one byte at a time, the same answer",
	    c->name);
	if (!same(&whole, &r, &why))
		printf("#   differs in: %s (%s)\n", why, r.error);
	res_free(&r);

	for (k = 0; k <= c->len; k++) {
		if (!split_here(k, c->len))
			continue;
		nsplit++;
		run(c, M_SPLIT, k, &r);
		if (!same(&whole, &r, &why) && bad++ == 0) {
			first = k;
			printf("# split at %zu differs in: %s\n", first, why);
		}
		res_free(&r);
	}
	T_OK(bad == 0, "%s: split in two at %zu points, the same answer "
	    "(%zu differ)", c->name, nsplit, bad);
	res_free(&whole);
}

static const struct tcase cases[] = {
	/* Content-Length */
	{ "content-length 0", IN(OK "Content-Length: 0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY(""), CL(0) },
	{ "content-length 5", IN(OK "Content-Length: 5\r\n\r\nhello"),
	  .rc = HP_DONE, .status = 200, BODY("hello"), CL(5) },
	{ "binary body that looks like framing",
	  IN(OK "Content-Length: 9\r\n\r\n\r\n0\r\n\0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("\r\n0\r\n\0\r\n\r"), .after = 1,
	  CL(9) },
	{ "content-length, the next answer after it",
	  IN(OK "Content-Length: 2\r\n\r\nhi" NEXT),
	  .rc = HP_DONE, .status = 200, BODY("hi"), .after = 17, CL(2) },
	{ "LF-only head", IN("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc"),
	  .rc = HP_DONE, .status = 200, BODY("abc"), CL(3) },
	{ "header names in any case, blanks around the value",
	  IN(OK "content-LENGTH: \t 3 \t\r\n\r\nabc"),
	  .rc = HP_DONE, .status = 200, BODY("abc"), CL(3) },
	{ "the same content-length twice",
	  IN(OK "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
	  .rc = HP_DONE, .status = 200, BODY("abc"), CL(3) },
	{ "status line without a reason",
	  IN("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"),
	  .rc = HP_DONE, .status = 200, BODY("x"), CL(1) },
	{ "an AWS JSON error",
	  IN("HTTP/1.1 400 Bad Request\r\n"
	  "x-amzn-RequestId: d1a7c2f0\r\n"
	  "x-amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/\r\n"
	  "Content-Type: application/x-amz-json-1.1\r\n"
	  "Content-Length: 38\r\n\r\n"
	  "{\"__type\":\"ResourceNotFoundException\"}"),
	  .rc = HP_DONE, .status = 400,
	  BODY("{\"__type\":\"ResourceNotFoundException\"}"), CL(38),
	  .errtype = "ResourceNotFoundException:http://internal.amazon.com/" },
	{ "an S3 HeadObject answer",
	  IN(OK "ETag: \"9b2cf535f27731c974343645a3985328\"\r\n"
	  "x-amz-meta-records: 12\r\n"
	  "X-Amz-Meta-First-Seq:\t4959 \r\n"
	  "x-amz-meta-sha256: ab\r\n"
	  "Content-Length: 0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY(""), CL(0),
	  .etag = "\"9b2cf535f27731c974343645a3985328\"",
	  .meta = "records: 12\nfirst-seq: 4959\nsha256: ab\n" },
	{ "a 500 with an HTML page",
	  IN("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
	  "Content-Length: 12\r\n\r\n<html></html>"),
	  .rc = HP_DONE, .status = 500, BODY("<html></html"), .after = 1,
	  CL(12) },
	{ "content-length body cut short, no close yet",
	  IN(OK "Content-Length: 5\r\n\r\nhel"),
	  .rc = HP_MORE, .status = 200, CL(5) },

	/* chunked */
	{ "chunked, several chunks",
	  IN(CHUNKED "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("hello world"), CL(-1) },
	{ "chunked, extensions",
	  IN(CHUNKED "5;name=value\r\nhello\r\n6 ; a=\"b;c\"\r\n world\r\n"
	  "0;last\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("hello world"), CL(-1) },
	{ "chunked, trailers, the next answer after them",
	  IN(CHUNKED "3\r\nabc\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n"
	  "Other: y\r\n\r\n" NEXT),
	  .rc = HP_DONE, .status = 200, BODY("abc"), .after = 17, CL(-1) },
	{ "chunked, upper and lower case hex, leading zeros",
	  IN(CHUNKED "A\r\n0123456789\r\na\r\nabcdefghij\r\n"
	  "1F\r\n0123456789abcdefghijklmnopqrstu\r\n"
	  "00010\r\n0123456789ABCDEF\r\n000\r\n\r\n"),
	  .rc = HP_DONE, .status = 200,
	  BODY("0123456789abcdefghij0123456789abcdefghijklmnopqrstu"
	  "0123456789ABCDEF"), CL(-1) },
	{ "chunked, LF-only line ends",
	  IN("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
	  "3\nabc\n2\r\nde\n0\nT: 1\n\n"),
	  .rc = HP_DONE, .status = 200, BODY("abcde"), CL(-1) },
	{ "chunked, the coding named in any case, with blanks",
	  IN(OK "Transfer-Encoding:  CHUNKED \r\n\r\n2\r\nok\r\n0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("ok"), CL(-1) },
	{ "chunked, chunk data that looks like framing",
	  IN(CHUNKED "7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("\r\n0\r\n\r\n"), CL(-1) },
	{ "chunked and content-length: chunked wins, then close",
	  IN(OK "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "2\r\nok\r\n0\r\n\r\n"),
	  .rc = HP_DONE, .status = 200, BODY("ok"), .close = 1, CL(-1) },
	{ "chunked, no chunk yet",
	  IN(CHUNKED "5\r\nhel"), .rc = HP_MORE, .status = 200, CL(-1) },

	/* close-delimited */
	{ "close-delimited body",
	  IN(OK "Content-Type: text/plain\r\n\r\nall of it\r\n0\r\n\r\n"),
	  .eof = 1, .rc = HP_DONE, .status = 200,
	  BODY("all of it\r\n0\r\n\r\n"), .close = 1, CL(-1) },
	{ "close-delimited body before the close",
	  IN(OK "Content-Type: text/plain\r\n\r\nall of it"),
	  .rc = HP_MORE, .status = 200, CL(-1) },
	{ "close-delimited, empty", IN(OK "\r\n"), .eof = 1,
	  .rc = HP_DONE, .status = 200, BODY(""), .close = 1, CL(-1) },

	/* no body */
	{ "204", IN("HTTP/1.1 204 No Content\r\nx-amzn-RequestId: 1\r\n\r\n"),
	  .rc = HP_DONE, .status = 204, BODY(""), CL(-1) },
	{ "304 with a content-length, the next answer after it",
	  IN("HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n"
	  "Content-Length: 10\r\n\r\n" NEXT),
	  .rc = HP_DONE, .status = 304, BODY(""), .after = 17, CL(10),
	  .etag = "\"e\"" },
	{ "204 that says chunked",
	  IN("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\n\r\n"),
	  .rc = HP_DONE, .status = 204, BODY(""), .after = 5, CL(-1) },

	/* interim answers */
	{ "100 Continue, then 200",
	  IN("HTTP/1.1 100 Continue\r\n\r\n" OK "Content-Length: 2\r\n\r\nok"),
	  .rc = HP_DONE, .status = 200, BODY("ok"), CL(2) },
	{ "100 and 103 with headers, then 200: theirs not kept",
	  IN("HTTP/1.1 100\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
	  "Link: </a>; rel=preload\r\nETag: \"early\"\r\n"
	  "Content-Length: 99\r\nConnection: close\r\n\r\n"
	  OK "Content-Length: 2\r\n\r\nok"),
	  .rc = HP_DONE, .status = 200, BODY("ok"), CL(2) },
	{ "100 Continue, then the close", IN("HTTP/1.1 100 Continue\r\n\r\n"),
	  .eof = 1, .rc = HP_ERROR, .status = 0,
	  .error = "closed in the middle" },

	/* HTTP/1.0 and Connection */
	{ "HTTP/1.0: close after it",
	  IN("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
	  .rc = HP_DONE, .status = 200, BODY("hi"), .close = 1, CL(2) },
	{ "HTTP/1.0 keep-alive",
	  IN("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	  "Content-Length: 2\r\n\r\nhi"),
	  .rc = HP_DONE, .status = 200, BODY("hi"), CL(2) },
	{ "HTTP/1.0 close-delimited",
	  IN("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody"),
	  .eof = 1, .rc = HP_DONE, .status = 200, BODY("body"), .close = 1,
	  CL(-1) },
	{ "Connection: close",
	  IN(OK "Connection: close\r\nContent-Length: 2\r\n\r\nhi"),
	  .rc = HP_DONE, .status = 200, BODY("hi"), .close = 1, CL(2) },
	{ "Connection: a list with close",
	  IN(OK "Connection: keep-alive , Close\r\nContent-Length: 2\r\n\r\nhi"),
	  .rc = HP_DONE, .status = 200, BODY("hi"), .close = 1, CL(2) },
	{ "Connection: closed is not close",
	  IN(OK "Connection: closed\r\nContent-Length: 2\r\n\r\nhi"),
	  .rc = HP_DONE, .status = 200, BODY("hi"), CL(2) },

	/* refused status lines */
	{ "not HTTP", IN("ICY 200 OK\r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "HTTP/2", IN("HTTP/2 200\r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "HTTP/1.2", IN("HTTP/1.2 200 OK\r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "status digits: 2x0", IN("HTTP/1.1 2x0 OK\r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "status digits: two", IN("HTTP/1.1 20 OK\r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "status digits: four", IN("HTTP/1.1 2000 OK\r\n\r\n"),
	  .rc = HP_ERROR, .error = "not an HTTP/1.x status line" },
	{ "status digits: none", IN("HTTP/1.1 \r\n\r\n"), .rc = HP_ERROR,
	  .error = "not an HTTP/1.x status line" },
	{ "status 099", IN("HTTP/1.1 099 Odd\r\n\r\n"), .rc = HP_ERROR,
	  .error = "bad status code" },
	{ "101", IN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
	  .rc = HP_ERROR, .error = "(101)" },
	{ "a blank line before the status line", IN("\r\n" OK "\r\n"),
	  .rc = HP_ERROR, .error = "not an HTTP/1.x status line" },

	/* refused header lines */
	{ "folded header line",
	  IN(OK "X-A: 1\r\n  more\r\nContent-Length: 0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "folded header line" },
	{ "folded with a tab",
	  IN(OK "X-A: 1\r\n\tmore\r\nContent-Length: 0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "folded header line" },
	{ "nameless header", IN(OK ": value\r\nContent-Length: 0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "without a name" },
	{ "header without a colon", IN(OK "Content-Length 0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "without a name" },
	{ "blank before the colon",
	  IN(OK "Content-Length : 5\r\n\r\nhello"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "blank in a header name" },
	{ "tab before the colon",
	  IN(OK "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "blank in a header name" },
	{ "eight interim answers, then 200",
	  IN("HTTP/1.1 100 A\r\n\r\nHTTP/1.1 102 B\r\n\r\n"
	  "HTTP/1.1 103 C\r\n\r\nHTTP/1.1 100 D\r\n\r\n"
	  "HTTP/1.1 100 E\r\n\r\nHTTP/1.1 100 F\r\n\r\n"
	  "HTTP/1.1 100 G\r\n\r\nHTTP/1.1 100 H\r\n\r\n"
	  OK "Content-Length: 2\r\n\r\nok"),
	  .rc = HP_DONE, .status = 200, BODY("ok"), CL(2) },
	{ "nine interim answers",
	  IN("HTTP/1.1 100 A\r\n\r\nHTTP/1.1 102 B\r\n\r\n"
	  "HTTP/1.1 103 C\r\n\r\nHTTP/1.1 100 D\r\n\r\n"
	  "HTTP/1.1 100 E\r\n\r\nHTTP/1.1 100 F\r\n\r\n"
	  "HTTP/1.1 100 G\r\n\r\nHTTP/1.1 100 H\r\n\r\n"
	  "HTTP/1.1 100 I\r\n\r\n" OK "Content-Length: 2\r\n\r\nok"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "too many interim" },
	{ "content-length: letters", IN(OK "Content-Length: abc\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: negative", IN(OK "Content-Length: -1\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: plus", IN(OK "Content-Length: +5\r\n\r\nhello"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: empty", IN(OK "Content-Length: \r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: two numbers", IN(OK "Content-Length: 1 2\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: a list", IN(OK "Content-Length: 3, 3\r\n\r\nabc"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length: hex", IN(OK "Content-Length: 0x10\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "conflicting content-length",
	  IN(OK "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "conflicting Content-Length" },
	{ "content-length over 2^63",
	  IN(OK "Content-Length: 9223372036854775808\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "content-length of 20 digits",
	  IN(OK "Content-Length: 18446744073709551621\r\n\r\nhello"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "bad Content-Length" },
	{ "transfer-encoding gzip",
	  IN(OK "Transfer-Encoding: gzip\r\n\r\nxx"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "unsupported transfer coding" },
	{ "transfer-encoding gzip, chunked",
	  IN(OK "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\nxx\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "unsupported transfer coding" },
	{ "transfer-encoding chunked, chunked",
	  IN(OK "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "unsupported transfer coding" },
	{ "transfer-encoding identity",
	  IN(OK "Transfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nxx"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "unsupported transfer coding" },
	{ "transfer-encoding gzip then chunked, two lines",
	  IN(OK "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\n\r\n"),
	  .rc = HP_ERROR, .nostatus = 1, .error = "unsupported transfer coding" },

	/* refused chunks */
	{ "chunk size: letters", IN(CHUNKED "zz\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "bad chunk size" },
	{ "chunk size: empty line", IN(CHUNKED "\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "bad chunk size" },
	{ "chunk size: junk after it", IN(CHUNKED "5x\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "bad chunk size" },
	{ "chunk size: negative", IN(CHUNKED "-5\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "bad chunk size" },
	{ "chunk size: 0x prefix", IN(CHUNKED "0x5\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "bad chunk size" },
	{ "chunk size: 16 digits, leading zeros",
	  IN(CHUNKED "0000000000000005\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "chunk size too large" },
	{ "chunk size: 16 hex digits",
	  IN(CHUNKED "ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "chunk size too large" },
	{ "chunk size: 17 hex digits, 2^64 + 1",
	  IN(CHUNKED "10000000000000001\r\nh\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .error = "chunk size too large" },
	{ "chunk size: 15 hex digits, over max_body",
	  IN(CHUNKED "fffffffffffffff\r\nhello\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, .truncated = 1,
	  .error = "larger than 1048576 bytes" },
	{ "chunk data followed by junk",
	  IN(CHUNKED "5\r\nhellojunk\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, BODY("hello"),
	  .error = "chunk not followed by CRLF" },
	{ "chunk data followed by the next size",
	  IN(CHUNKED "5\r\nhello5\r\nworld\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, BODY("hello"),
	  .error = "chunk not followed by CRLF" },
	{ "chunk data followed by CR CR LF",
	  IN(CHUNKED "5\r\nhello\r\r\n0\r\n\r\n"),
	  .rc = HP_ERROR, .status = 200, BODY("hello"),
	  .error = "chunk not followed by CRLF" },

	/* bodies over max_body */
	{ "content-length over max_body",
	  IN(OK "Content-Length: 5\r\n\r\nhello"), .max = 4,
	  .rc = HP_ERROR, .status = 200, .truncated = 1,
	  .error = "response body larger than 4 bytes" },
	{ "content-length at max_body", IN(OK "Content-Length: 4\r\n\r\nhell"),
	  .max = 4, .rc = HP_DONE, .status = 200, BODY("hell"), CL(4) },
	{ "chunked over max_body",
	  IN(CHUNKED "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), .max = 8,
	  .rc = HP_ERROR, .status = 200, BODY("hello"), .truncated = 1,
	  .error = "response body larger than 8 bytes" },
	{ "chunked at max_body",
	  IN(CHUNKED "5\r\nhello\r\n3\r\nwor\r\n0\r\n\r\n"), .max = 8,
	  .rc = HP_DONE, .status = 200, BODY("hellowor"), CL(-1) },
	{ "close-delimited over max_body", IN(OK "\r\nhello"), .max = 4,
	  .eof = 1, .rc = HP_ERROR, .status = 200, .truncated = 1,
	  .error = "response body larger than 4 bytes" },
	{ "close-delimited at max_body", IN(OK "\r\nhell"), .max = 4, .eof = 1,
	  .rc = HP_DONE, .status = 200, BODY("hell"), .close = 1, CL(-1) },

	/* the close in the middle */
	{ "close before any byte", IN(""), .eof = 1, .rc = HP_ERROR,
	  .error = "connection closed before an answer" },
	{ "close in the status line", IN("HTTP/1.1 20"), .eof = 1,
	  .rc = HP_ERROR, .error = "connection closed in the middle" },
	{ "close in the head", IN(OK "Content-Le"), .eof = 1,
	  .rc = HP_ERROR, .error = "connection closed in the middle" },
	{ "close in a content-length body",
	  IN(OK "Content-Length: 10\r\n\r\nabc"), .eof = 1, .rc = HP_ERROR,
	  .status = 200, BODY("abc"), CL(10),
	  .error = "connection closed in the middle" },
	{ "close in a chunk", IN(CHUNKED "5\r\nhel"), .eof = 1,
	  .rc = HP_ERROR, .status = 200, BODY("hel"),
	  .error = "connection closed in the middle" },
	{ "close before the last chunk", IN(CHUNKED "3\r\nabc\r\n"), .eof = 1,
	  .rc = HP_ERROR, .status = 200, BODY("abc"),
	  .error = "connection closed in the middle" },
	{ "close in the trailers", IN(CHUNKED "3\r\nabc\r\n0\r\nT: 1\r\n"),
	  .eof = 1, .rc = HP_ERROR, .status = 200, BODY("abc"),
	  .error = "connection closed in the middle" },
};

/* A head of exactly len bytes: status line, padding, Content-Length: 0. */
static void
head_of(struct buf *b, size_t len)
{
	static const char pre[] = OK "X-Pad: ", post[] =
	    "\r\nContent-Length: 0\r\n\r\n";
	size_t pad = len - (sizeof(pre) - 1) - (sizeof(post) - 1);

	buf_reset(b);
	buf_addstr(b, pre);
	while (pad-- > 0)
		buf_addc(b, 'p');
	buf_addstr(b, post);
}

/* A chunked "ok" whose trailer section is n lines of 1000 bytes. */
static void
trailers_of(struct buf *b, size_t n)
{
	size_t i, j;

	buf_reset(b);
	buf_addstr(b, CHUNKED "2\r\nok\r\n0\r\n");
	for (i = 0; i < n; i++) {
		buf_printf(b, "T%02zu: ", i);
		for (j = 0; j < 993; j++)
			buf_addc(b, 't');
		buf_addstr(b, "\r\n");
	}
	buf_addstr(b, "\r\n");
}

/* The cases too big to write out: the head and trailer limits. */
static void
test_big(void)
{
	struct buf b;
	struct tcase c;
	size_t i;

	buf_init(&b);

	head_of(&b, HTTP_MAX_HEAD);
	memset(&c, 0, sizeof(c));
	c.name = "a head of exactly HTTP_MAX_HEAD bytes";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_DONE;
	c.status = 200;
	c.body = "";
	c.has_cl = 1;
	check_case(&c);

	head_of(&b, HTTP_MAX_HEAD + 1);
	memset(&c, 0, sizeof(c));
	c.name = "a head of HTTP_MAX_HEAD + 1 bytes";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_ERROR;
	c.error = "header section too large";
	check_case(&c);

	/* a head that never ends, in lines: refused at the limit, not at
	 * the end of the input */
	buf_reset(&b);
	buf_addstr(&b, OK);
	for (i = 0; i < 3000; i++)
		buf_addstr(&b, "X-Many: 0123456789012345678\r\n");
	memset(&c, 0, sizeof(c));
	c.name = "3000 header lines";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_ERROR;
	c.error = "header section too large";
	check_case(&c);

	/* a chunk-size line with a long extension */
	buf_reset(&b);
	buf_addstr(&b, CHUNKED "5;x=");
	for (i = 0; i < 1100; i++)
		buf_addc(&b, 'e');
	buf_addstr(&b, "\r\nhello\r\n0\r\n\r\n");
	memset(&c, 0, sizeof(c));
	c.name = "a chunk-size line of 1100 bytes";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_ERROR;
	c.status = 200;
	c.error = "chunk size line too long";
	check_case(&c);

	/* trailers of 70 lines of 1000 bytes: over 64 KiB together */
	trailers_of(&b, 70);
	memset(&c, 0, sizeof(c));
	c.name = "a trailer section of 70,000 bytes";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_ERROR;
	c.status = 200;
	c.body = "ok";
	c.blen = 2;
	c.error = "trailer section too large";
	check_case(&c);

	/* the same trailers, fewer of them, are skipped */
	trailers_of(&b, 60);
	memset(&c, 0, sizeof(c));
	c.name = "a trailer section of 60,000 bytes";
	c.in = b.data;
	c.len = b.len;
	c.rc = HP_DONE;
	c.status = 200;
	c.body = "ok";
	c.blen = 2;
	c.has_cl = 1;
	c.cl = -1;
	check_case(&c);

	buf_free(&b);
}

/* What the API promises around one answer, beyond its bytes. */
static void
test_api(void)
{
	static const char two[] = OK "Content-Length: 3\r\n\r\none"
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\ntwo";
	struct http_response resp;
	struct http_parser p;
	size_t used = 99, at;

	/* nothing arrived: the request may be retried elsewhere */
	http_response_init(&resp);
	http_parser_init(&p, &resp, 100);
	T_INTEQ(http_parser_feed(&p, "", 0, &used), HP_MORE,
	    "no bytes: HP_MORE");
	T_INTEQ(used, 0, "no bytes: none used");
	T_INTEQ(http_parser_started(&p), 0, "no bytes: not started");
	T_INTEQ(http_parser_eof(&p), HP_ERROR, "close before any byte");
	T_STREQ(p.error, "connection closed before an answer",
	    "close before any byte: why");
	T_INTEQ(resp.status, 0, "close before any byte: no status");
	http_parser_free(&p);
	http_response_free(&resp);

	/* two answers on one connection: a parser per answer, the second
	 * fed what the first did not use */
	http_response_init(&resp);
	http_parser_init(&p, &resp, 100);
	T_INTEQ(http_parser_feed(&p, two, sizeof(two) - 1, &used), HP_DONE,
	    "pipelined: the first answer");
	T_STREQ(resp.body.data, "one", "pipelined: the first body");
	at = used;
	T_INTEQ(at, sizeof(OK "Content-Length: 3\r\n\r\none") - 1,
	    "pipelined: the first answer's bytes used");
	T_INTEQ(http_parser_feed(&p, two + at, sizeof(two) - 1 - at, &used),
	    HP_DONE, "fed after its end: still HP_DONE");
	T_INTEQ(used, 0, "fed after its end: nothing used");
	T_INTEQ(http_parser_eof(&p), HP_DONE, "the close after a whole answer");
	T_STREQ(resp.body.data, "one", "the close changed nothing");
	http_parser_free(&p);
	http_response_free(&resp);

	http_response_init(&resp);
	http_parser_init(&p, &resp, 100);
	T_INTEQ(http_parser_feed(&p, two + at, sizeof(two) - 1 - at, &used),
	    HP_DONE, "pipelined: the second answer");
	T_INTEQ(resp.status, 404, "pipelined: the second status");
	T_STREQ(resp.body.data, "two", "pipelined: the second body");
	T_INTEQ(used, sizeof(two) - 1 - at, "pipelined: all of it used");
	http_parser_free(&p);
	http_response_free(&resp);

	/* a refused answer stays refused, whatever is fed after it */
	http_response_init(&resp);
	http_parser_init(&p, &resp, 100);
	T_INTEQ(http_parser_feed(&p, OK "Content-Length: x\r\n\r\n",
	    sizeof(OK "Content-Length: x\r\n\r\n") - 1, &used), HP_ERROR,
	    "refused: a bad Content-Length");
	T_INTEQ(http_parser_feed(&p, "more", 4, &used), HP_ERROR,
	    "fed after a refusal: still HP_ERROR");
	T_INTEQ(used, 0, "fed after a refusal: nothing used");
	T_STREQ(p.error, "bad Content-Length", "fed after a refusal: the "
	    "same reason");
	T_INTEQ(http_parser_eof(&p), HP_ERROR, "the close after a refusal");
	http_parser_free(&p);
	http_response_free(&resp);

	/* a known length is reserved exactly, not grown by doubling */
	http_response_init(&resp);
	http_parser_init(&p, &resp, 10 * 1024 * 1024);
	T_INTEQ(http_parser_feed(&p, OK "Content-Length: 1000000\r\n\r\nab",
	    sizeof(OK "Content-Length: 1000000\r\n\r\nab") - 1, &used), HP_MORE,
	    "a large body begins");
	T_INTEQ(resp.body.cap, 1000001, "its room reserved exactly");
	T_INTEQ(resp.content_length, 1000000, "its content_length");
	http_parser_free(&p);
	http_response_free(&resp);

	/* over max_body: nothing reserved for it */
	http_response_init(&resp);
	http_parser_init(&p, &resp, 1000);
	T_INTEQ(http_parser_feed(&p, OK "Content-Length: 900000000\r\n\r\n",
	    sizeof(OK "Content-Length: 900000000\r\n\r\n") - 1, &used),
	    HP_ERROR, "a body over max_body refused at its head");
	T_OK(resp.body.cap < 1000, "no room reserved for it (%zu)",
	    resp.body.cap);
	T_INTEQ(resp.truncated, 1, "truncated");
	http_parser_free(&p);
	http_response_free(&resp);
}

/* http_take_header alone, as curl's header callback calls it. */
static void
test_take_header(void)
{
	struct http_response resp;
	char line[256];
	int i;

	http_response_init(&resp);
	http_take_header(&resp, "ETag: \"abc\"\r\n", 13, 100);
	T_STREQ(resp.etag, "\"abc\"", "take_header: ETag, CRLF stripped");
	http_take_header(&resp, "x-amzn-errortype:  Throttling ", 30, 100);
	T_STREQ(resp.amz_error_type, "Throttling",
	    "take_header: x-amzn-ErrorType, blanks stripped");
	http_take_header(&resp, "Content-Length: 42\r\n", 20, 100);
	T_INTEQ(resp.content_length, 42, "take_header: Content-Length");
	http_take_header(&resp, "HTTP/1.1 200 OK\r\n", 17, 100);
	T_INTEQ(resp.content_length, 42, "take_header: a status line ignored");
	http_take_header(&resp, "X-AMZ-META-Last-Seq: 77\r\n", 25, 100);
	T_STREQ(resp.meta.data, "last-seq: 77\n",
	    "take_header: x-amz-meta-*, name lowercased");
	/* a server cannot grow the metadata without bound */
	for (i = 0; i < 200; i++) {
		snprintf(line, sizeof(line), "x-amz-meta-k%03d: %0100d\r\n",
		    i, 0);
		http_take_header(&resp, line, strlen(line), 100);
	}
	T_OK(resp.meta.len > 7000 && resp.meta.len < 8192,
	    "take_header: metadata capped under 8 KiB (%zu)", resp.meta.len);
	http_response_free(&resp);
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(&cases[i]);
	test_big();
	test_api();
	test_take_header();
	return t_done();
}
