/*
 * s3.c: S3 PutObject. The body is signed with its real SHA-256 (which is
 * also the object's x-amz-meta-sha256) and sent with Content-MD5, so S3
 * rejects a body damaged on the way.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "s3.h"

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

int
s3_put_object(struct aws_ctx *ctx, const struct cfg *cfg,
    const struct s3_put *put, struct aws_result *res)
{
	struct sigv4_kv *h;
	struct aws_call call;
	char *path = NULL, *host = NULL, **names;
	size_t nh = 0, i;
	int r;

	h = xcalloc(put->nmeta + 8, sizeof(*h));
	names = xcalloc(put->nmeta + 1, sizeof(char *));
	h[nh].name = "Content-Type";
	h[nh++].value = put->content_type ? put->content_type :
	    "application/octet-stream";
	h[nh].name = "Content-MD5";
	h[nh++].value = put->md5_b64;
	h[nh].name = "x-amz-content-sha256";
	h[nh++].value = put->sha256_hex;
	if (cfg->s3_storage_class != NULL &&
	    strcmp(cfg->s3_storage_class, "STANDARD") != 0) {
		h[nh].name = "x-amz-storage-class";
		h[nh++].value = cfg->s3_storage_class;
	}
	if (cfg->s3_sse == SSE_AES256) {
		h[nh].name = "x-amz-server-side-encryption";
		h[nh++].value = "AES256";
	} else if (cfg->s3_sse == SSE_KMS) {
		h[nh].name = "x-amz-server-side-encryption";
		h[nh++].value = "aws:kms";
		if (cfg->s3_kms_key_id != NULL) {
			h[nh].name = "x-amz-server-side-encryption-aws-kms-key-id";
			h[nh++].value = cfg->s3_kms_key_id;
		}
	}
	for (i = 0; i < put->nmeta; i++) {
		xasprintf(&names[i], "x-amz-meta-%s", put->meta[i].name);
		h[nh].name = names[i];
		h[nh++].value = put->meta[i].value;
	}

	if (s3_path_style(cfg, &ctx->s3, put->bucket)) {
		xasprintf(&path, "/%s/%s", put->bucket, put->key);
	} else {
		xasprintf(&path, "/%s", put->key);
		xasprintf(&host, "%s.%s", put->bucket, ctx->s3.host);
	}
	memset(&call, 0, sizeof(call));
	call.method = "PUT";
	call.path = path;
	call.host = host;
	call.headers = h;
	call.nheaders = nh;
	call.body = put->body;
	call.body_len = put->len;
	call.payload_sha256 = put->sha256_hex;
	call.max_response = 1024 * 1024;
	/* generous for big objects; a stalled upload is cut by low-speed */
	call.timeout_ms = 60000 + (long)(put->len / (256 * 1024)) * 1000;
	call.max_attempts = 3;
	r = aws_call(ctx, &ctx->s3, &call, res);
	for (i = 0; i < put->nmeta; i++)
		free(names[i]);
	free(names);
	free(h);
	free(path);
	free(host);
	return r;
}
