/*
 * fuzz_http.c: the HTTP answer framing (common/http_parse.c) on arbitrary
 * bytes. The first byte picks a piece size and max_body; the rest is fed
 * whole, then in pieces, and both must give the same answer or refusal,
 * never a body over max_body, never more bytes used than fed.
 */
/* fuzz-sources: common/http_parse.c common/util.c common/log.c */
/* fuzz-pkgs: libcrypto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_parse.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_http: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static const size_t pieces[8] = { 1, 2, 3, 5, 7, 16, 100, 1000 };
static const size_t maxes[8] = { 0, 1, 3, 8, 64, 1000, 65536, 1 << 20 };

struct run {
	struct http_response	 resp;
	struct http_parser	 p;
	int			 rc;
	size_t			 used;	/* all pieces together */
};

/* what http_response_init does, without linking http.c (and libcurl) */
static void
resp_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	buf_init(&r->meta);
	r->content_length = -1;
}

/* Feed d in pieces of step bytes (0: whole), then the close if needed. */
static void
feed(struct run *x, const char *d, size_t n, size_t step, size_t max)
{
	size_t pos = 0, k, used;

	resp_init(&x->resp);
	http_parser_init(&x->p, &x->resp, max);
	x->rc = HP_MORE;
	while (pos < n && x->rc == HP_MORE) {
		k = step == 0 || n - pos < step ? n - pos : step;
		used = SIZE_MAX;
		x->rc = http_parser_feed(&x->p, d + pos, k, &used);
		if (used > k)
			FAIL("used %zu of a piece of %zu", used, k);
		if (x->rc == HP_MORE && used != k)
			FAIL("HP_MORE with %zu of %zu bytes used", used, k);
		if (x->rc != HP_MORE && x->rc != HP_DONE && x->rc != HP_ERROR)
			FAIL("feed returned %d", x->rc);
		if (x->resp.body.len > max)
			FAIL("a body of %zu bytes, max_body %zu",
			    x->resp.body.len, max);
		pos += used;
	}
	x->used = pos;
	if (http_parser_started(&x->p) != (n > 0))
		FAIL("started %d after %zu bytes", http_parser_started(&x->p),
		    n);
	if (x->rc == HP_MORE) {
		x->rc = http_parser_eof(&x->p);
		if (x->rc != HP_DONE && x->rc != HP_ERROR)
			FAIL("eof returned %d", x->rc);
	}
	if ((x->rc == HP_ERROR) != (x->p.error[0] != '\0'))
		FAIL("rc %d with error \"%s\"", x->rc, x->p.error);
	if (x->resp.truncated && x->rc != HP_ERROR)
		FAIL("truncated, yet rc %d", x->rc);
	if (x->rc == HP_DONE) {
		long st = x->resp.status;

		if (st < 200 || st > 999)
			FAIL("answer done with status %ld", st);
		if ((st == 204 || st == 304) && x->resp.body.len != 0)
			FAIL("a %ld with a body", st);
		else if (!x->p.chunked && x->p.seen_cl && st != 204 &&
		    st != 304 && (long long)x->resp.body.len !=
		    x->resp.content_length)
			FAIL("a body of %zu bytes, Content-Length %lld",
			    x->resp.body.len, x->resp.content_length);
	}
}

static void
done(struct run *x)
{
	http_parser_free(&x->p);
	buf_free(&x->resp.body);
	buf_free(&x->resp.meta);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run w, s;
	const char *d = (const char *)data + 1;
	size_t n, step, max;

	if (size == 0)
		return 0;
	step = pieces[data[0] & 7];
	max = maxes[(data[0] >> 3) & 7];
	n = size - 1;

	feed(&w, d, n, 0, max);
	feed(&s, d, n, step, max);
	if (w.rc != s.rc)
		FAIL("whole: %d (%s), in pieces of %zu: %d (%s)", w.rc,
		    w.p.error, step, s.rc, s.p.error);
	if (strcmp(w.p.error, s.p.error) != 0)
		FAIL("whole refused with \"%s\", in pieces of %zu with \"%s\"",
		    w.p.error, step, s.p.error);
	if (w.resp.truncated != s.resp.truncated)
		FAIL("truncated whole %d, in pieces of %zu %d",
		    w.resp.truncated, step, s.resp.truncated);
	if (w.rc == HP_DONE) {
		if (w.resp.status != s.resp.status)
			FAIL("status whole %ld, in pieces of %zu %ld",
			    w.resp.status, step, s.resp.status);
		if (w.resp.body.len != s.resp.body.len ||
		    (w.resp.body.len > 0 && memcmp(w.resp.body.data,
		    s.resp.body.data, w.resp.body.len) != 0))
			FAIL("body whole %zu bytes, in pieces of %zu %zu bytes",
			    w.resp.body.len, step, s.resp.body.len);
		if (w.used != s.used)
			FAIL("answer of %zu bytes whole, %zu in pieces of %zu",
			    w.used, s.used, step);
		if (w.p.close != s.p.close ||
		    w.resp.content_length != s.resp.content_length ||
		    strcmp(w.resp.etag, s.resp.etag) != 0 ||
		    strcmp(w.resp.amz_error_type, s.resp.amz_error_type) != 0 ||
		    w.resp.meta.len != s.resp.meta.len ||
		    (w.resp.meta.len > 0 &&
		    strcmp(w.resp.meta.data, s.resp.meta.data) != 0))
			FAIL("headers kept differ, pieces of %zu", step);
	}
	done(&w);
	done(&s);
	return 0;
}
