/*
 * http_parse.h: an HTTP/1.1 answer read as its bytes arrive, for the
 * direct path of http.c (a request written on a kept connection, no curl
 * transfer around it). Fed any split of the bytes, it gives the same
 * answer; it refuses what it cannot frame for certain (a bad status line,
 * a bad or doubled Content-Length, a transfer coding other than chunked,
 * folded or nameless header lines, a head over 64 KiB, a bad chunk size),
 * because a wrongly framed answer would be read into the next one.
 */
#ifndef KK_HTTP_PARSE_H
#define KK_HTTP_PARSE_H

#include <stddef.h>

#include "http.h"

#define HTTP_MAX_HEAD	(64 * 1024)	/* status line and header lines */
#define HTTP_MAX_INTERIM	8	/* 1xx answers before the real one */

enum {
	HP_ERROR = -1,	/* p->error says why; the connection is unusable */
	HP_MORE = 0,	/* feed more bytes */
	HP_DONE = 1	/* the whole answer is in p->resp */
};

struct http_parser {
	int			 state;
	struct http_response	*resp;	/* status, body, headers of note */
	size_t			 max_body;	/* more fails the answer */
	struct buf		 line;	/* the head, or a chunk-size line */
	size_t			 lstart;	/* where its last line starts */
	size_t			 trailer;	/* trailer bytes so far */
	int			 got;	/* a byte of the answer arrived */
	int			 interim;	/* 1xx answers skipped */
	long long		 left;	/* body or chunk bytes still to come */
	int			 chunked;
	int			 close;	/* the server closes after this answer */
	int			 seen_cl;
	char			 error[128];
};

void	http_parser_init(struct http_parser *, struct http_response *,
	    size_t max_body);
/* Consumes bytes up to the end of the answer (*used says how many: bytes
 * after the answer were not asked for). */
int	http_parser_feed(struct http_parser *, const char *, size_t,
	    size_t *used);
/* The server closed the connection: HP_DONE for an answer framed by the
 * close, HP_ERROR for one cut short. */
int	http_parser_eof(struct http_parser *);
/* Whether any byte of the answer has arrived (a kept connection the
 * server closed before answering can be retried on a new one). */
int	http_parser_started(const struct http_parser *);
void	http_parser_free(struct http_parser *);

/* One header line ("Name: value", line end included or not) of an answer:
 * Content-Length, x-amzn-ErrorType, ETag and x-amz-meta-* are kept in resp
 * (curl's header callback and the direct path share it). */
void	http_take_header(struct http_response *, const char *, size_t,
	    size_t max_body);

#endif
