/*
 * aws.c: signed AWS requests with retries. Every AWS call of the keeper goes
 * through aws_call(), so retry policy, error decoding and signing live in
 * one place.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "aws.h"
#include "log.h"

#define AWS_RETRY_BASE_MS	100
#define AWS_RETRY_CAP_MS	5000

static int
service_init(struct aws_service *s, const char *name, const char *dnsname,
    const char *endpoint, const char *region, const char *ca_file)
{
	const char *p, *host, *suffix;

	s->name = name;
	if (endpoint != NULL) {
		p = strstr(endpoint, "://");
		if (p == NULL)
			return -1;
		s->scheme = xstrndup(endpoint, (size_t)(p - endpoint));
		host = p + 3;
		s->host = xstrndup(host, strcspn(host, "/"));
		s->custom = 1;
	} else {
		suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" :
		    "amazonaws.com";
		s->scheme = xstrdup("https");
		xasprintf(&s->host, "%s.%s.%s", dnsname, region, suffix);
	}
	s->http = http_client_new(ca_file);
	/* the JSON services: small POSTs, the idle reads of every worker and
	 * the lease renewals */
	if (strcmp(name, "kinesis") == 0 || strcmp(name, "dynamodb") == 0)
		http_client_set_direct(s->http, 1);
	return 0;
}

static void
service_free(struct aws_service *s)
{
	free(s->scheme);
	free(s->host);
	http_client_free(s->http);
	memset(s, 0, sizeof(*s));
}

int
aws_ctx_init(struct aws_ctx *ctx, const struct cfg *cfg, struct creds *creds)
{
	const char *ca = cfg->tls_ca_file;

	memset(ctx, 0, sizeof(*ctx));
	if (ca == NULL && getenv("AWS_CA_BUNDLE") != NULL &&
	    *getenv("AWS_CA_BUNDLE") != '\0')
		ca = getenv("AWS_CA_BUNDLE");
	ctx->region = xstrdup(cfg->region);
	ctx->creds = creds;
	if (service_init(&ctx->kinesis, "kinesis", "kinesis", cfg->ep_kinesis,
	    cfg->region, ca) == -1 ||
	    service_init(&ctx->s3, "s3", "s3", cfg->ep_s3, cfg->region, ca) == -1 ||
	    service_init(&ctx->sns, "sns", "sns", cfg->ep_sns, cfg->region,
	    ca) == -1 ||
	    service_init(&ctx->cloudwatch, "monitoring", "monitoring",
	    cfg->ep_cloudwatch, cfg->region, ca) == -1 ||
	    service_init(&ctx->sts, "sts", "sts", cfg->ep_sts, cfg->region,
	    ca) == -1 ||
	    service_init(&ctx->dynamodb, "dynamodb", "dynamodb",
	    cfg->ep_dynamodb, cfg->region, ca) == -1) {
		aws_ctx_free(ctx);
		return -1;
	}
	return 0;
}

void
aws_ctx_free(struct aws_ctx *ctx)
{
	service_free(&ctx->kinesis);
	service_free(&ctx->s3);
	service_free(&ctx->sns);
	service_free(&ctx->cloudwatch);
	service_free(&ctx->sts);
	service_free(&ctx->dynamodb);
	free(ctx->region);
	ctx->region = NULL;
}

void
aws_ctx_set_abort(struct aws_ctx *ctx, int (*cb)(void))
{
	http_client_set_abort(ctx->kinesis.http, cb);
	http_client_set_abort(ctx->s3.http, cb);
	http_client_set_abort(ctx->sns.http, cb);
	http_client_set_abort(ctx->cloudwatch.http, cb);
	http_client_set_abort(ctx->sts.http, cb);
	http_client_set_abort(ctx->dynamodb.http, cb);
}

void
aws_ctx_set_wake(struct aws_ctx *ctx, const int *fds, size_t n,
    int (*cb)(void))
{
	http_client_set_wake(ctx->kinesis.http, fds, n, cb);
	http_client_set_wake(ctx->s3.http, fds, n, cb);
	http_client_set_wake(ctx->sns.http, fds, n, cb);
	http_client_set_wake(ctx->cloudwatch.http, fds, n, cb);
	http_client_set_wake(ctx->sts.http, fds, n, cb);
	http_client_set_wake(ctx->dynamodb.http, fds, n, cb);
}

void
aws_result_init(struct aws_result *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	buf_init(&r->meta);
	r->content_length = -1;
}

void
aws_result_free(struct aws_result *r)
{
	buf_free(&r->body);
	buf_free(&r->meta);
}

int
aws_is_throttle(long status, const char *code)
{
	static const char *const codes[] = {
		"ProvisionedThroughputExceededException", "ThrottlingException",
		"Throttling", "ThrottledException", "RequestLimitExceeded",
		"SlowDown", "TooManyRequestsException",
		"RequestThrottled", "RequestThrottledException",
		"LimitExceededException", "KMSThrottlingException",
		"TransactionInProgressException", "BandwidthLimitExceeded",
		"EC2ThrottledException", "PriorRequestNotComplete",
	};
	size_t i;

	if (status == 429)
		return 1;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Where the text of the first <tag>...</tag> is, or NULL. */
static const char *
xml_find(const char *body, const char *tag, size_t *len)
{
	char open[64], close[64];
	const char *s, *e;

	if (body == NULL)
		return NULL;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((s = strstr(body, open)) == NULL)
		return NULL;
	s += strlen(open);
	if ((e = strstr(s, close)) == NULL)
		return NULL;
	*len = (size_t)(e - s);
	return s;
}

void
aws_xml_text(const char *body, const char *tag, char *out, size_t outlen)
{
	const char *s;
	size_t n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if ((s = xml_find(body, tag, &n)) != NULL)
		snprintf(out, outlen, "%.*s", (int)n, s);
}

char *
aws_xml_dup(const char *body, const char *tag)
{
	const char *s;
	size_t n;

	return (s = xml_find(body, tag, &n)) != NULL ? xstrndup(s, n) : NULL;
}

static void
sanitize(char *s)
{
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			*s = '?';
}

static void
decode_error(struct aws_result *r, const char *errtype)
{
	const char *body = r->body.data ? r->body.data : "";
	const char *p;

	r->code[0] = r->message[0] = '\0';
	if (body[0] == '{') {
		struct json_object *j, *v;

		if ((j = json_tokener_parse(body)) != NULL) {
			if (json_object_object_get_ex(j, "__type", &v) &&
			    json_object_is_type(v, json_type_string))
				snprintf(r->code, sizeof(r->code), "%s",
				    json_object_get_string(v));
			if ((json_object_object_get_ex(j, "message", &v) ||
			    json_object_object_get_ex(j, "Message", &v)) &&
			    json_object_is_type(v, json_type_string))
				snprintf(r->message, sizeof(r->message), "%s",
				    json_object_get_string(v));
			json_object_put(j);
		}
	} else if (strstr(body, "<Code>") != NULL) {
		aws_xml_text(body, "Code", r->code, sizeof(r->code));
		aws_xml_text(body, "Message", r->message, sizeof(r->message));
	}
	if (r->code[0] == '\0' && errtype != NULL && errtype[0] != '\0')
		snprintf(r->code, sizeof(r->code), "%.*s",
		    (int)strcspn(errtype, ":"), errtype);
	/* "com.amazonaws.kinesis.v20131202#ExpiredIteratorException" */
	if ((p = strrchr(r->code, '#')) != NULL)
		memmove(r->code, p + 1, strlen(p + 1) + 1);
	sanitize(r->code);
	sanitize(r->message);
}

void
aws_form_add(struct buf *b, const char *name, const char *value)
{
	const char *s;
	int i;

	if (b->len > 0)
		buf_addc(b, '&');
	for (i = 0; i < 2; i++) {
		for (s = i == 0 ? name : value; *s; s++) {
			unsigned char c = (unsigned char)*s;

			if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
			    c == '~')
				buf_addc(b, (char)c);
			else if (c == ' ')
				buf_addc(b, '+');
			else
				buf_printf(b, "%%%02X", c);
		}
		if (i == 0)
			buf_addc(b, '=');
	}
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
aws_call(struct aws_ctx *ctx, struct aws_service *svc,
    const struct aws_call *call, struct aws_result *res)
{
	const struct aws_creds *cr;
	struct sigv4_request sreq;
	struct sigv4_signed sig;
	struct http_request hreq;
	struct http_response hresp;
	struct http_header *hh;
	struct buf url, path, query, tmp;
	char payload_hash[65];
	const char *host = call->host ? call->host : svc->host;
	int attempt, max = call->max_attempts > 0 ? call->max_attempts : 5;
	size_t i, nh;
	int ok = -1;

	res->status = 0;
	res->code[0] = res->message[0] = '\0';
	res->throttled = res->transport = res->throttles = res->attempts = 0;

	if (call->payload_sha256 != NULL)
		snprintf(payload_hash, sizeof(payload_hash), "%s",
		    call->payload_sha256);
	else
		sha256_hex(call->body ? call->body : "", call->body_len,
		    payload_hash);

	buf_init(&url);
	buf_init(&path);
	buf_init(&query);
	sigv4_uri_encode(&path, call->path ? call->path : "/",
	    strlen(call->path ? call->path : "/"), 1);
	sigv4_query_string(&query, call->params, call->nparams);
	buf_printf(&url, "%s://%s%s%s%s", svc->scheme, host, path.data,
	    query.len ? "?" : "", query.len ? query.data : "");

	hh = xcalloc(call->nheaders + 5, sizeof(*hh));
	/* the answer is read straight into res->body's memory: a 10 MB
	 * GetRecords body is neither copied nor grown again on every call */
	http_response_init(&hresp);
	hresp.body = res->body;
	buf_init(&res->body);
	for (attempt = 0; attempt < max; attempt++) {
		if (attempt > 0) {
			uint64_t d = backoff_ms((unsigned)attempt - 1,
			    AWS_RETRY_BASE_MS, AWS_RETRY_CAP_MS);

			if (ctx->interrupted != NULL && ctx->interrupted())
				break;
			log_debug("%s: retry %d in %llu ms after %s", svc->name,
			    attempt, (unsigned long long)d, aws_strerror(res));
			sleep_ms(d);
		}
		res->attempts++;
		if ((cr = creds_get(ctx->creds)) == NULL) {
			res->transport = 1;
			snprintf(res->message, sizeof(res->message),
			    "no AWS credentials available");
			continue;
		}
		memset(&sreq, 0, sizeof(sreq));
		sreq.service = svc->name;
		sreq.region = ctx->region;
		sreq.method = call->method;
		sreq.host = host;
		sreq.path = call->path ? call->path : "/";
		sreq.params = call->params;
		sreq.nparams = call->nparams;
		sreq.headers = call->headers;
		sreq.nheaders = call->nheaders;
		sreq.payload_sha256 = payload_hash;
		sreq.s3 = strcmp(svc->name, "s3") == 0;
		if (sigv4_sign(&sreq, cr, time(NULL), &sig) == -1) {
			snprintf(res->message, sizeof(res->message),
			    "cannot sign request");
			res->transport = 1;
			break;
		}
		nh = 0;
		for (i = 0; i < call->nheaders; i++) {
			hh[nh].name = call->headers[i].name;
			hh[nh++].value = call->headers[i].value;
		}
		hh[nh].name = "X-Amz-Date";
		hh[nh++].value = sig.amz_date;
		if (cr->session_token != NULL) {
			hh[nh].name = "X-Amz-Security-Token";
			hh[nh++].value = cr->session_token;
		}
		hh[nh].name = "Authorization";
		hh[nh++].value = sig.authorization;

		memset(&hreq, 0, sizeof(hreq));
		hreq.method = call->method;
		hreq.url = url.data;
		hreq.headers = hh;
		hreq.nheaders = nh;
		hreq.body = call->body;
		hreq.body_len = call->body_len;
		hreq.max_response = call->max_response;
		hreq.timeout_ms = call->timeout_ms;
		if (http_perform(svc->http, &hreq, &hresp) == -1) {
			sigv4_signed_free(&sig);
			res->transport = 1;
			res->throttled = 0;
			res->status = 0;
			snprintf(res->message, sizeof(res->message), "%s: %s",
			    svc->name, hresp.error);
			continue;
		}
		sigv4_signed_free(&sig);
		res->transport = 0;
		res->status = hresp.status;
		snprintf(res->etag, sizeof(res->etag), "%s", hresp.etag);
		buf_reset(&res->meta);
		if (hresp.meta.len > 0)
			buf_add(&res->meta, hresp.meta.data, hresp.meta.len);
		res->content_length = hresp.content_length;
		tmp = res->body;
		res->body = hresp.body;
		hresp.body = tmp;
		/* a HEAD (or any empty answer) still leaves a string for
		 * decode_error and the callers */
		if (res->body.data == NULL) {
			buf_reserve(&res->body, 0);
			res->body.data[0] = '\0';
		}
		if (hresp.status >= 200 && hresp.status < 300) {
			res->code[0] = res->message[0] = '\0';
			res->throttled = 0;
			ok = 0;
			break;
		}
		decode_error(res, hresp.amz_error_type);
		res->throttled = aws_is_throttle(res->status, res->code);
		if (res->throttled)
			res->throttles++;
		/* 4xx other than throttling will not get better by retrying */
		if (!res->throttled && res->status < 500)
			break;
		if (res->throttled && call->throttle_fail_fast)
			break;
	}
	http_response_free(&hresp);
	free(hh);
	buf_free(&url);
	buf_free(&path);
	buf_free(&query);
	return ok;
}

int
aws_json_call(struct aws_ctx *ctx, struct aws_service *svc,
    const char *content_type, const char *prefix, const char *op,
    const char *body, struct aws_call *call, struct aws_result *res)
{
	char target[128];
	struct sigv4_kv h[2];

	snprintf(target, sizeof(target), "%s%s", prefix, op);
	h[0].name = "Content-Type";
	h[0].value = content_type;
	h[1].name = "X-Amz-Target";
	h[1].value = target;
	call->method = "POST";
	call->path = "/";
	call->headers = h;
	call->nheaders = 2;
	call->body = body;
	call->body_len = strlen(body);
	return aws_call(ctx, svc, call, res);
}

int
aws_form_call(struct aws_ctx *ctx, struct aws_service *svc,
    const struct buf *body, long timeout_ms, int max_attempts,
    struct aws_result *res)
{
	struct sigv4_kv h[1];
	struct aws_call call;

	h[0].name = "Content-Type";
	h[0].value = "application/x-www-form-urlencoded; charset=utf-8";
	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.path = "/";
	call.headers = h;
	call.nheaders = 1;
	call.body = body->data;
	call.body_len = body->len;
	call.max_response = 1024 * 1024;
	call.timeout_ms = timeout_ms;
	call.max_attempts = max_attempts;
	return aws_call(ctx, svc, &call, res);
}
