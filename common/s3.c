/*
 * s3.c: storing an object in S3. Every body is signed with its real SHA-256
 * and sent with Content-MD5, so S3 rejects a body damaged on the way. Large
 * objects go as a multipart upload whose id is recorded on disk until it is
 * completed or aborted: a crash never leaves an upload behind for long.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "s3.h"

#define S3_MAX_PARTS	10000

int
s3_path_style(const struct cfg *cfg, const struct aws_service *svc,
    const char *bucket)
{
	const char *p;
	size_t hl;

	if (cfg->s3_path_style)
		return 1;
	for (p = bucket; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '-'))
			return 1;
	if (!svc->custom)
		return 0;
	/* an address or localhost cannot carry a bucket subdomain */
	hl = strcspn(svc->host, ":");
	if (svc->host[0] == '[' || strncmp(svc->host, "localhost", hl) == 0)
		return 1;
	for (p = svc->host; p < svc->host + hl; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return 0;
	return 1;
}

struct target {
	char	*path;
	char	*host;		/* NULL: the service host */
};

static void
target_init(struct target *t, struct aws_ctx *ctx, const struct cfg *cfg,
    const char *bucket, const char *key)
{
	if (s3_path_style(cfg, &ctx->s3, bucket)) {
		xasprintf(&t->path, "/%s/%s", bucket, key);
		t->host = NULL;
	} else {
		xasprintf(&t->path, "/%s", key);
		xasprintf(&t->host, "%s.%s", bucket, ctx->s3.host);
	}
}

static void
target_free(struct target *t)
{
	free(t->path);
	free(t->host);
}

/* The headers that describe the object (PutObject, CreateMultipartUpload). */
struct hdrs {
	struct sigv4_kv	 h[32];
	size_t		 n;
	char		*names[16];
	size_t		 nnames;
};

static void
hdr_add(struct hdrs *h, const char *name, const char *value)
{
	if (h->n < sizeof(h->h) / sizeof(h->h[0])) {
		h->h[h->n].name = name;
		h->h[h->n++].value = value;
	}
}

static void
object_headers(struct hdrs *h, const struct cfg *cfg, const struct s3_put *put)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	hdr_add(h, "Content-Type", put->content_type ? put->content_type :
	    "application/octet-stream");
	if (cfg->s3_storage_class != NULL &&
	    strcmp(cfg->s3_storage_class, "STANDARD") != 0)
		hdr_add(h, "x-amz-storage-class", cfg->s3_storage_class);
	if (cfg->s3_sse == SSE_AES256)
		hdr_add(h, "x-amz-server-side-encryption", "AES256");
	else if (cfg->s3_sse == SSE_KMS) {
		hdr_add(h, "x-amz-server-side-encryption", "aws:kms");
		if (cfg->s3_kms_key_id != NULL)
			hdr_add(h, "x-amz-server-side-encryption-aws-kms-key-id",
			    cfg->s3_kms_key_id);
	}
	for (i = 0; i < put->nmeta && h->nnames < 16; i++) {
		xasprintf(&h->names[h->nnames], "x-amz-meta-%s",
		    put->meta[i].name);
		hdr_add(h, h->names[h->nnames++], put->meta[i].value);
	}
}

static void
hdrs_free(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < h->nnames; i++)
		free(h->names[i]);
}

static int
s3_call(struct aws_ctx *ctx, const struct target *t, const char *method,
    const struct sigv4_kv *params, size_t nparams, struct sigv4_kv *h,
    size_t nh, const void *body, size_t len, const char *sha,
    struct aws_result *res)
{
	struct aws_call call;
	char bodysha[65];

	if (sha == NULL) {
		sha256_hex(body ? body : "", len, bodysha);
		sha = bodysha;
	}
	/* the signer insists on it for S3, and S3 wants it */
	h[nh].name = "x-amz-content-sha256";
	h[nh++].value = sha;
	memset(&call, 0, sizeof(call));
	call.method = method;
	call.path = t->path;
	call.host = t->host;
	call.params = params;
	call.nparams = nparams;
	call.headers = h;
	call.nheaders = nh;
	call.body = body;
	call.body_len = len;
	call.payload_sha256 = sha;
	call.max_response = 1024 * 1024;
	/* generous for big bodies; a stalled transfer is cut by low-speed */
	call.timeout_ms = 60000 + (long)(len / (256 * 1024)) * 1000;
	call.max_attempts = 3;
	return aws_call(ctx, &ctx->s3, &call, res);
}

static int	get_or_head(struct aws_ctx *, const struct cfg *, const char *,
		    const char *, const char *, size_t, struct aws_result *);

static int
put_single(struct aws_ctx *ctx, const struct cfg *cfg, const struct s3_put *put,
    const struct target *t, struct aws_result *res)
{
	struct hdrs h;
	char md5[32];
	int r;

	object_headers(&h, cfg, put);
	if (put->md5_b64 == NULL)
		md5_base64(put->body, put->len, md5);
	hdr_add(&h, "Content-MD5", put->md5_b64 != NULL ? put->md5_b64 : md5);
	if (put->if_none_match)
		hdr_add(&h, "If-None-Match", "*");
	r = s3_call(ctx, t, "PUT", NULL, 0, h.h, h.n, put->body, put->len,
	    put->sha256_hex, res);
	hdrs_free(&h);
	return r;
}

static int
abort_upload(struct aws_ctx *ctx, const struct target *t, const char *id)
{
	struct sigv4_kv p[1], h[2];
	struct aws_result res;
	int r;

	p[0].name = "uploadId";
	p[0].value = id;
	aws_result_init(&res);
	r = s3_call(ctx, t, "DELETE", p, 1, h, 0, NULL, 0, NULL, &res);
	if (r == -1 && res.status != 404)
		log_warnx("s3: abort multipart upload %s: %s", id,
		    aws_strerror(&res));
	aws_result_free(&res);
	return r == 0 || res.status == 404 ? 0 : -1;
}

static int
put_multipart(struct aws_ctx *ctx, const struct cfg *cfg,
    const struct s3_put *put, const struct target *t, struct aws_result *res)
{
	struct hdrs h;
	struct sigv4_kv p[2], ph[4];
	struct buf done, state;
	char id[1024], num[24], md5[32], sha[65];
	size_t part = cfg->s3_part_size, off, nparts, i;
	int r = -1;

	/* S3 allows 10000 parts: grow the part size if it must */
	nparts = (put->len + part - 1) / part;
	if (nparts > S3_MAX_PARTS) {
		part = (put->len + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
		nparts = (put->len + part - 1) / part;
	}
	object_headers(&h, cfg, put);
	p[0].name = "uploads";
	p[0].value = "";
	if (s3_call(ctx, t, "POST", p, 1, h.h, h.n, NULL, 0, NULL, res) == -1) {
		hdrs_free(&h);
		return -1;
	}
	hdrs_free(&h);
	aws_xml_text(res->body.data, "UploadId", id, sizeof(id));
	if (id[0] == '\0') {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message),
		    "CreateMultipartUpload: no UploadId");
		return -1;
	}
	buf_init(&state);
	if (put->upload_state != NULL) {
		buf_printf(&state, "%s\n%s\n%s\n", id, put->bucket, put->key);
		if (write_file_atomic(put->upload_state, state.data, state.len,
		    0640) == -1)
			log_warn("s3: record upload id in %s", put->upload_state);
	}
	buf_free(&state);

	buf_init(&done);
	buf_addstr(&done, "<CompleteMultipartUpload>");
	p[0].name = "partNumber";
	p[0].value = num;
	p[1].name = "uploadId";
	p[1].value = id;
	for (i = 0, off = 0; i < nparts; i++, off += part) {
		size_t len = put->len - off < part ? put->len - off : part;
		const char *b = (const char *)put->body + off;

		snprintf(num, sizeof(num), "%zu", i + 1);
		md5_base64(b, len, md5);
		sha256_hex(b, len, sha);
		ph[0].name = "Content-MD5";
		ph[0].value = md5;
		if (s3_call(ctx, t, "PUT", p, 2, ph, 1, b, len, sha, res) == -1)
			goto abort;
		if (res->etag[0] == '\0') {
			snprintf(res->code, sizeof(res->code), "BadResponse");
			snprintf(res->message, sizeof(res->message),
			    "UploadPart: no ETag");
			goto abort;
		}
		buf_printf(&done, "<Part><PartNumber>%zu</PartNumber>"
		    "<ETag>%s</ETag></Part>", i + 1, res->etag);
	}
	buf_addstr(&done, "</CompleteMultipartUpload>");
	ph[0].name = "Content-Type";
	ph[0].value = "application/xml";
	/* the object appears only at completion: that is where the
	 * condition goes */
	ph[1].name = "If-None-Match";
	ph[1].value = "*";
	if (s3_call(ctx, t, "POST", p + 1, 1, ph, put->if_none_match ? 2 : 1,
	    done.data, done.len, NULL, res) == -1)
		goto abort;
	/* S3 may answer 200 and still fail: the error is in the body */
	if (res->body.data != NULL && strstr(res->body.data, "<Error>") != NULL) {
		aws_xml_text(res->body.data, "Code", res->code,
		    sizeof(res->code));
		aws_xml_text(res->body.data, "Message", res->message,
		    sizeof(res->message));
		goto abort;
	}
	r = 0;
	goto out;
abort:
	abort_upload(ctx, t, id);
out:
	if (put->upload_state != NULL)
		unlink(put->upload_state);
	buf_free(&done);
	return r;
}

int
s3_delete_object(struct aws_ctx *ctx, const struct cfg *cfg,
    const char *bucket, const char *key, struct aws_result *res)
{
	struct target t;
	struct sigv4_kv h[1];
	int r;

	target_init(&t, ctx, cfg, bucket, key);
	r = s3_call(ctx, &t, "DELETE", NULL, 0, h, 0, NULL, 0, NULL, res);
	target_free(&t);
	return r;
}

int
s3_put_object(struct aws_ctx *ctx, const struct cfg *cfg,
    const struct s3_put *put, struct aws_result *res)
{
	struct target t;
	int r;

	target_init(&t, ctx, cfg, put->bucket, put->key);
	if (put->len > cfg->s3_multipart_threshold && cfg->s3_part_size > 0) {
		/* a big object already there (a crash after its completion)
		 * is not uploaded again only to be refused at the end; the
		 * completion's own condition still covers a race */
		if (put->if_none_match && get_or_head(ctx, cfg, "HEAD",
		    put->bucket, put->key, 64 * 1024, res) == 0) {
			res->status = 412;
			snprintf(res->code, sizeof(res->code),
			    "PreconditionFailed");
			snprintf(res->message, sizeof(res->message),
			    "the key exists (HeadObject before a multipart "
			    "upload)");
			r = -1;
		} else
			r = put_multipart(ctx, cfg, put, &t, res);
	} else
		r = put_single(ctx, cfg, put, &t, res);
	target_free(&t);
	return r;
}

void
s3_abort_stale(struct aws_ctx *ctx, const struct cfg *cfg,
    const char *upload_state)
{
	struct buf b;
	struct target t;
	char *id, *bucket, *key, *save = NULL;

	buf_init(&b);
	if (read_file(upload_state, &b, 65536) == -1) {
		buf_free(&b);
		return;
	}
	id = strtok_r(b.data, "\n", &save);
	bucket = strtok_r(NULL, "\n", &save);
	key = strtok_r(NULL, "\n", &save);
	if (id != NULL && bucket != NULL && key != NULL) {
		log_info("s3: aborting the multipart upload of s3://%s/%s left "
		    "by an earlier run", bucket, key);
		target_init(&t, ctx, cfg, bucket, key);
		if (abort_upload(ctx, &t, id) == 0)
			unlink(upload_state);
		target_free(&t);
	} else
		unlink(upload_state);
	buf_free(&b);
}

int
s3_exists_error(const struct aws_result *res)
{
	return res->status == 412 ||
	    strcmp(res->code, "PreconditionFailed") == 0;
}

static int
get_or_head(struct aws_ctx *ctx, const struct cfg *cfg, const char *method,
    const char *bucket, const char *key, size_t max, struct aws_result *res)
{
	struct target t;
	struct sigv4_kv h[2];
	int r;

	target_init(&t, ctx, cfg, bucket, key);
	r = s3_call(ctx, &t, method, NULL, 0, h, 0, NULL, 0, NULL, res);
	target_free(&t);
	if (r == 0)
		return 0;
	return res->status == 404 ? 1 : -1;
}

int
s3_head_object(struct aws_ctx *ctx, const struct cfg *cfg, const char *bucket,
    const char *key, struct aws_result *res)
{
	/* a small limit: the Content-Length of a HEAD must not make the
	 * client reserve room for the whole object */
	return get_or_head(ctx, cfg, "HEAD", bucket, key, 64 * 1024, res);
}

int
s3_get_object(struct aws_ctx *ctx, const struct cfg *cfg, const char *bucket,
    const char *key, size_t max, struct aws_result *res)
{
	struct target t;
	struct aws_call call;
	struct sigv4_kv h[2];
	char sha[65];
	int r;

	target_init(&t, ctx, cfg, bucket, key);
	sha256_hex("", 0, sha);
	h[0].name = "x-amz-content-sha256";
	h[0].value = sha;
	memset(&call, 0, sizeof(call));
	call.method = "GET";
	call.path = t.path;
	call.host = t.host;
	call.headers = h;
	call.nheaders = 1;
	call.payload_sha256 = sha;
	call.max_response = max;
	call.timeout_ms = 60000 + (long)(max / (256 * 1024)) * 1000;
	call.max_attempts = 3;
	r = aws_call(ctx, &ctx->s3, &call, res);
	target_free(&t);
	if (r == 0)
		return 0;
	return res->status == 404 ? 1 : -1;
}

int
s3_put_small(struct aws_ctx *ctx, const struct cfg *cfg, const char *bucket,
    const char *key, const char *content_type, const void *body, size_t len,
    struct aws_result *res)
{
	struct target t;
	struct hdrs h;
	struct s3_put put;
	char md5[32], sha[65];
	int r;

	memset(&put, 0, sizeof(put));
	put.content_type = content_type;
	md5_base64(body, len, md5);
	sha256_hex(body, len, sha);
	target_init(&t, ctx, cfg, bucket, key);
	object_headers(&h, cfg, &put);
	hdr_add(&h, "Content-MD5", md5);
	r = s3_call(ctx, &t, "PUT", NULL, 0, h.h, h.n, body, len, sha, res);
	hdrs_free(&h);
	target_free(&t);
	return r;
}

/* The few entities S3 uses in a listing, decoded in place. */
static void
xml_unescape(char *s)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' }, { "&#34;", '"' },
	};
	char *r = s, *w = s;
	size_t i;

	while (*r) {
		if (*r == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t n = strlen(ents[i].e);

				if (strncmp(r, ents[i].e, n) == 0) {
					*w++ = ents[i].c;
					r += n;
					break;
				}
			}
			if (i < sizeof(ents) / sizeof(ents[0]))
				continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

int
s3_list(struct aws_ctx *ctx, const struct cfg *cfg, const char *bucket,
    const char *prefix, int (*cb)(void *, const struct s3_entry *), void *arg,
    struct aws_result *res)
{
	struct target t;
	struct sigv4_kv p[3], h[2];
	struct s3_entry e;
	char *token = NULL, *block, *key, *etag, size[32], lm[64];
	const char *p0, *end;
	char trunc[16];
	size_t np;
	int r = 0, stop = 0;

	target_init(&t, ctx, cfg, bucket, "");
	do {
		np = 0;
		p[np].name = "list-type";
		p[np++].value = "2";
		p[np].name = "prefix";
		p[np++].value = prefix;
		if (token != NULL) {
			p[np].name = "continuation-token";
			p[np++].value = token;
		}
		if (s3_call(ctx, &t, "GET", p, np, h, 0, NULL, 0, NULL,
		    res) == -1) {
			r = -1;
			break;
		}
		free(token);
		token = NULL;
		p0 = res->body.data ? res->body.data : "";
		while (!stop && (p0 = strstr(p0, "<Contents>")) != NULL) {
			if ((end = strstr(p0, "</Contents>")) == NULL)
				break;
			block = xstrndup(p0, (size_t)(end - p0));
			key = aws_xml_dup(block, "Key");
			etag = aws_xml_dup(block, "ETag");
			aws_xml_text(block, "Size", size, sizeof(size));
			aws_xml_text(block, "LastModified", lm, sizeof(lm));
			if (key != NULL) {
				xml_unescape(key);
				if (etag != NULL) {
					char *q;

					xml_unescape(etag);
					while ((q = strchr(etag, '"')) != NULL)
						memmove(q, q + 1, strlen(q));
				}
				e.key = key;
				e.etag = etag ? etag : "";
				e.size = strtoll(size, NULL, 10);
				e.last_modified = lm;
				stop = cb(arg, &e);
			}
			free(key);
			free(etag);
			free(block);
			p0 = end;
		}
		aws_xml_text(p0 ? p0 : res->body.data, "IsTruncated", trunc,
		    sizeof(trunc));
		if (!stop && strcmp(trunc, "true") == 0) {
			token = aws_xml_dup(res->body.data,
			    "NextContinuationToken");
			if (token != NULL)
				xml_unescape(token);
		}
	} while (!stop && token != NULL);
	free(token);
	target_free(&t);
	return r;
}
