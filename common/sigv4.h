/*
 * sigv4.h: AWS Signature Version 4 (header-based), written with OpenSSL
 * HMAC-SHA256. libcurl's built-in signer is not used: it omits
 * x-amz-content-sha256, mis-handles query strings and read-callback bodies.
 */
#ifndef KK_SIGV4_H
#define KK_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

struct aws_creds {
	char	*access_key_id;
	char	*secret_access_key;
	char	*session_token;		/* NULL if none */
	int64_t	 expires_ms;		/* epoch ms; 0 = does not expire */
	char	 source[48];		/* "config", "environment", ... (for logs) */
};

/* One query parameter or header, NOT encoded. */
struct sigv4_kv {
	const char	*name;
	const char	*value;
};

struct sigv4_request {
	const char		*service;	/* "kinesis", "s3", "sns", "monitoring", "sts" */
	const char		*region;
	const char		*method;	/* "GET", "PUT", "POST", ... */
	const char		*host;		/* Host header: "h" or "h:port" */
	const char		*path;		/* raw (not encoded), starts with '/' */
	const struct sigv4_kv	*params;	/* raw query parameters (may be NULL) */
	size_t			 nparams;
	const struct sigv4_kv	*headers;	/* extra headers to sign (not host,
						   x-amz-date, x-amz-security-token) */
	size_t			 nheaders;
	const char		*payload_sha256;	/* hex, or "UNSIGNED-PAYLOAD" */
	int			 s3;		/* S3 rules: path encoded once, not normalized */
};

struct sigv4_signed {
	char	 amz_date[17];		/* "20150830T123600Z": send as X-Amz-Date */
	char	*authorization;		/* malloc'd: send as Authorization */
	char	*canonical_request;	/* malloc'd, for debugging and tests */
	char	*string_to_sign;	/* malloc'd, for debugging and tests */
};

/*
 * Sign req at time now with creds. The caller sends Host, X-Amz-Date,
 * X-Amz-Security-Token (when creds have a session token) and Authorization,
 * plus every header in req->headers, with exactly these values.
 * Returns 0, or -1 on bad input.
 */
int	sigv4_sign(const struct sigv4_request *, const struct aws_creds *,
	    time_t now, struct sigv4_signed *);
void	sigv4_signed_free(struct sigv4_signed *);

/* RFC 3986 encoding as SigV4 wants it: unreserved A-Za-z0-9-._~ kept,
 * everything else %XX upper-case; '/' kept only if keep_slash. */
void	sigv4_uri_encode(struct buf *, const char *s, size_t len, int keep_slash);
/* The canonical query string (sorted by encoded name, then value): also
 * what the request line must carry. Appends to b. */
void	sigv4_query_string(struct buf *, const struct sigv4_kv *, size_t);

#endif
