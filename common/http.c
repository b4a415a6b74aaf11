/*
 * http.c: HTTP over libcurl. One easy handle per client so that requests to
 * the same service reuse their connection. Bodies are bounded: a hostile or
 * broken server cannot make us allocate without limit, and a server that
 * trickles bytes is cut off by the low-speed limit.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"

#define HTTP_CONNECT_TIMEOUT_MS	5000
#define HTTP_DEFAULT_TIMEOUT_MS	60000
#define HTTP_LOW_SPEED_BYTES	512	/* bytes/s ... */
#define HTTP_LOW_SPEED_SECS	20	/* ... sustained this long aborts */

struct http_client {
	CURL	*curl;
	char	*ca_file;
	int	(*abort_cb)(void);
};

struct sink {
	struct http_response	*resp;
	size_t			 max;
};

void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
}

struct http_client *
http_client_new(const char *ca_file)
{
	struct http_client *c = xcalloc(1, sizeof(*c));

	if ((c->curl = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	if (ca_file != NULL)
		c->ca_file = xstrdup(ca_file);
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->ca_file);
	free(c);
}

void
http_client_set_abort(struct http_client *c, int (*cb)(void))
{
	c->abort_cb = cb;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_client *c = arg;

	return c->abort_cb != NULL && c->abort_cb() ? 1 : 0;
}

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	buf_init(&r->meta);
	r->content_length = -1;
}

void
http_response_free(struct http_response *r)
{
	buf_free(&r->body);
	buf_free(&r->meta);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->resp->body.len + n > s->max) {
		s->resp->truncated = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	buf_add(&s->resp->body, ptr, n);
	return n;
}

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
	    v[vl - 1] == ' '))
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

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	char len[32];

	/* S3 user metadata, for s3_head_object: S3 allows 2 KB of it */
	if (n > 11 && strncasecmp(ptr, "x-amz-meta-", 11) == 0 &&
	    s->resp->meta.len + n < 8192)
		meta_line(&s->resp->meta, ptr + 11, n - 11);
	if (!header_value(ptr, n, "x-amzn-errortype:", s->resp->amz_error_type,
	    sizeof(s->resp->amz_error_type)) &&
	    !header_value(ptr, n, "etag:", s->resp->etag, sizeof(s->resp->etag)) &&
	    header_value(ptr, n, "content-length:", len, sizeof(len))) {
		/* room for exactly the body: a 10 MB answer must not sit in a
		 * buffer grown past it by doubling */
		unsigned long long cl = strtoull(len, NULL, 10);

		s->resp->content_length = (long long)cl;
		if (cl > 0 && cl <= s->max &&
		    s->resp->body.len + cl + 1 > s->resp->body.cap)
			buf_reserve_exact(&s->resp->body, (size_t)cl);
	}
	return n;
}

int
http_perform(struct http_client *c, const struct http_request *req,
    struct http_response *resp)
{
	CURL *h = c->curl;
	struct curl_slist *hl = NULL;
	struct sink sink;
	char errbuf[CURL_ERROR_SIZE];
	struct buf line;
	CURLcode rc;
	size_t i;
	int have_ctype;

	buf_reset(&resp->body);
	resp->status = 0;
	resp->error[0] = '\0';
	resp->truncated = 0;
	resp->amz_error_type[0] = '\0';
	resp->etag[0] = '\0';
	buf_reset(&resp->meta);
	resp->content_length = -1;
	sink.resp = resp;
	sink.max = req->max_response ? req->max_response : 16 * 1024 * 1024;
	errbuf[0] = '\0';

	buf_init(&line);
	have_ctype = 0;
	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, "Content-Type") == 0)
			have_ctype = 1;
		buf_reset(&line);
		buf_printf(&line, "%s: %s", req->headers[i].name,
		    req->headers[i].value);
		hl = curl_slist_append(hl, line.data);
	}
	/* no "Expect: 100-continue" round trip; curl picks the length */
	hl = curl_slist_append(hl, "Expect:");
	hl = curl_slist_append(hl, "Accept:");
	/* curl would call a bare POST/PUT body a form: it is not one, and a
	 * server that believes it (moto does) mangles the body */
	if (!have_ctype)
		hl = curl_slist_append(hl, "Content-Type:");
	buf_free(&line);

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)HTTP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ?
	    req->timeout_ms : (long)HTTP_DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)HTTP_LOW_SPEED_BYTES);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)HTTP_LOW_SPEED_SECS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* verification stays on: there is no switch that turns it off */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->abort_cb != NULL) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	}

	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		    req->body != NULL ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	rc = curl_easy_perform(h);
	curl_slist_free_all(hl);
	/* the handle keeps pointers to our stack: drop them now */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		if (resp->truncated)
			snprintf(resp->error, sizeof(resp->error),
			    "response body larger than %zu bytes", sink.max);
		else
			snprintf(resp->error, sizeof(resp->error), "%s",
			    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}
