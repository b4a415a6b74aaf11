/*
 * aws.h: one signed AWS API call with retries. Endpoint resolution, SigV4
 * signing, error decoding (JSON and XML protocols), retry of network
 * errors, 5xx and throttling answers with jittered exponential backoff.
 */
#ifndef KK_AWS_H
#define KK_AWS_H

#include <stddef.h>

#include "cfg.h"
#include "creds.h"
#include "http.h"
#include "sigv4.h"

struct aws_service {
	const char		*name;		/* signing name: "kinesis", "s3", ... */
	char			*scheme;	/* "https" */
	char			*host;		/* "kinesis.eu-west-1.amazonaws.com" or "127.0.0.1:4566" */
	int			 custom;	/* endpoint given in the config */
	struct http_client	*http;
};

struct aws_ctx {
	char			*region;
	struct creds		*creds;
	struct aws_service	 kinesis, s3, sns, cloudwatch, sts, dynamodb;
	/* returns non-zero when retries should stop (shutdown requested) */
	int			(*interrupted)(void);
};

struct aws_call {
	const char		*method;
	const char		*path;		/* raw; NULL means "/" */
	const char		*host;		/* override (S3 virtual-hosted); NULL: service host */
	const struct sigv4_kv	*params;
	size_t			 nparams;
	const struct sigv4_kv	*headers;	/* signed and sent */
	size_t			 nheaders;
	const void		*body;
	size_t			 body_len;
	const char		*payload_sha256;	/* hex, NULL: computed here */
	size_t			 max_response;	/* 0: 16 MiB */
	long			 timeout_ms;	/* 0: http default */
	int			 max_attempts;	/* 0: 5 */
	int			 throttle_fail_fast;	/* return throttles at once */
};

struct aws_result {
	long		status;		/* last HTTP status, 0 if none */
	struct buf	body;		/* last response body */
	char		code[128];	/* AWS error code, "" if none */
	char		message[512];	/* AWS error message or transport error */
	int		throttled;	/* the last answer was a throttle */
	int		transport;	/* the last failure was a transport error */
	int		throttles;	/* throttling answers seen in all attempts */
	int		attempts;
	char		etag[128];	/* ETag of the last answer */
	struct buf	meta;		/* its x-amz-meta-* headers (http.h) */
	long long	content_length;	/* its Content-Length, -1 if none */
};

int	aws_ctx_init(struct aws_ctx *, const struct cfg *, struct creds *);
void	aws_ctx_free(struct aws_ctx *);
/* Abort requests in flight when cb() says so (see http_client_set_abort). */
void	aws_ctx_set_abort(struct aws_ctx *, int (*cb)(void));
/* ... and ask cb() at once when one of fds turns readable meanwhile
 * (http_client_set_wake). */
void	aws_ctx_set_wake(struct aws_ctx *, const int *fds, size_t n,
	    int (*cb)(void));
void	aws_result_init(struct aws_result *);
void	aws_result_free(struct aws_result *);
/* 0 on a 2xx answer; -1 otherwise, with res describing the last failure. */
int	aws_call(struct aws_ctx *, struct aws_service *, const struct aws_call *,
	    struct aws_result *);
/* "code: message (HTTP status)" for logs */
const char *aws_strerror(const struct aws_result *);
/* A JSON-protocol call (Kinesis, DynamoDB): POST / with a JSON body,
 * content_type ("application/x-amz-json-1.1"), X-Amz-Target prefix + op.
 * call holds the caller's bounds (max_response, timeout_ms, max_attempts,
 * throttle_fail_fast); the rest of it is filled here. */
int	aws_json_call(struct aws_ctx *, struct aws_service *,
	    const char *content_type, const char *prefix, const char *op,
	    const char *body, struct aws_call *call, struct aws_result *);
/* A query-protocol call (SNS, STS, CloudWatch): POST / with a form body. */
int	aws_form_call(struct aws_ctx *, struct aws_service *, const struct buf *,
	    long timeout_ms, int max_attempts, struct aws_result *);
/* Encode a form body like Python's urlencode: space as '+'. */
void	aws_form_add(struct buf *, const char *name, const char *value);
/* The text of the first <tag>...</tag> of an XML answer (query protocol,
 * S3): copied into out ("" if absent), or a malloc'd copy (NULL if absent).
 * Enough for the few flat fields the keeper reads; not an XML parser. */
void	aws_xml_text(const char *body, const char *tag, char *out, size_t);
char	*aws_xml_dup(const char *body, const char *tag);
/* Is this error code a throttle? */
int	aws_is_throttle(long status, const char *code);

#endif
