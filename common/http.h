/*
 * http.h: a small HTTP client on libcurl. One client per AWS service keeps
 * its connection alive between requests. TLS peers are always verified.
 */
#ifndef KK_HTTP_H
#define KK_HTTP_H

#include <stddef.h>

#include "util.h"

struct http_client;

struct http_header {
	const char	*name;
	const char	*value;
};

struct http_request {
	const char			*method;
	const char			*url;
	const struct http_header	*headers;
	size_t				 nheaders;
	const void			*body;
	size_t				 body_len;
	size_t				 max_response;	/* larger bodies fail the request */
	long				 timeout_ms;	/* whole request; 0: client default */
};

struct http_response {
	long		 status;	/* 0 when no HTTP answer arrived */
	struct buf	 body;
	char		 error[256];	/* transport error text */
	int		 truncated;	/* body exceeded max_response */
	char		 amz_error_type[128];	/* x-amzn-ErrorType header */
	char		 etag[128];		/* ETag header (S3 parts) */
	/* the x-amz-meta-* headers (S3 HeadObject), one "name: value\n"
	 * line each, names lowercase and without the prefix; capped */
	struct buf	 meta;
	long long	 content_length;	/* -1 if absent */
};

/* ca_file: an extra CA bundle (NULL: system store only). */
struct http_client	*http_client_new(const char *ca_file);
void			 http_client_free(struct http_client *);
/* cb() != 0 aborts a transfer in flight (checked about once a second and
 * whenever data moves): how a stop reaches a hung request. */
void			 http_client_set_abort(struct http_client *, int (*cb)(void));
/* While a request waits, also watch these descriptors (at most 4: the
 * caller's signalfd, its supervisor): when one turns readable, cb() says
 * at once whether to abort, not at the abort callback's next check. */
void			 http_client_set_wake(struct http_client *, const int *,
			    size_t, int (*cb)(void));
/* A request that receives less than bytes/s over secs seconds fails
 * (default 512 B/s over 20 s): a trickling or silent server. */
void			 http_client_set_low_speed(struct http_client *, long,
			    long);
/* POST requests written on a kept connection and their answers framed by
 * http_parse, curl only opening (and verifying) the connection: what an
 * idle GetRecords costs is then a send, a poll and a receive. Not with a
 * proxy in the environment. */
void			 http_client_set_direct(struct http_client *, int);
/* 0 if an HTTP answer arrived (any status), -1 on a transport error
 * (resp->error says what). resp must be initialised with http_response_init. */
int			 http_perform(struct http_client *,
			    const struct http_request *, struct http_response *);
void			 http_response_init(struct http_response *);
void			 http_response_free(struct http_response *);
void			 http_global_init(void);

#endif
