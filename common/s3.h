/*
 * s3.h: PutObject with Content-MD5, metadata and storage options, and
 * DeleteObject (for the probe object of kinesis-keeper check).
 */
#ifndef KK_S3_H
#define KK_S3_H

#include <stddef.h>

#include "aws.h"
#include "cfg.h"

struct s3_put {
	const char		*bucket;
	const char		*key;
	const void		*body;
	size_t			 len;
	const char		*content_type;
	const char		*md5_b64;	/* Content-MD5; NULL: computed
						 * here, only when the body goes
						 * whole (each part of a multipart
						 * upload has its own) */
	const char		*sha256_hex;	/* payload hash (also signed) */
	const struct sigv4_kv	*meta;		/* names without "x-amz-meta-" */
	size_t			 nmeta;
	/* multipart: where the upload id is kept while parts are sent, so a
	 * crash never leaves an upload dangling (NULL: not recorded) */
	const char		*upload_state;
	/* never overwrite: the PUT (or the multipart completion) carries
	 * If-None-Match: *, and an existing key fails it with HTTP 412 */
	int			 if_none_match;
};

/* One object of a listing (s3_list). */
struct s3_entry {
	const char	*key;
	const char	*etag;		/* without quotes */
	long long	 size;
	const char	*last_modified;	/* ISO 8601, as S3 gives it */
};

/*
 * Store the object: one PUT up to cfg->s3_multipart_threshold, else a
 * multipart upload in parts of cfg->s3_part_size, each with Content-MD5,
 * completed, or aborted on failure. 0 when S3 stored the object.
 */
int	s3_put_object(struct aws_ctx *, const struct cfg *,
	    const struct s3_put *, struct aws_result *);
/* Delete one object. 0 when S3 answered 2xx (also for a missing key). */
int	s3_delete_object(struct aws_ctx *, const struct cfg *,
	    const char *bucket, const char *key, struct aws_result *);
/* Is this failure "the key already exists" (If-None-Match: * refused)? */
int	s3_exists_error(const struct aws_result *);
/*
 * HeadObject: 0 when the object exists (res->meta holds its user metadata,
 * res->etag and res->content_length its ETag and size), 1 when it does
 * not (404), -1 on any other failure.
 */
int	s3_head_object(struct aws_ctx *, const struct cfg *, const char *bucket,
	    const char *key, struct aws_result *);
/* GetObject into res->body (at most max bytes): 0, 1 (404) or -1. */
int	s3_get_object(struct aws_ctx *, const struct cfg *, const char *bucket,
	    const char *key, size_t max, struct aws_result *);
/* A PUT of a small object that may overwrite (the per-shard head object). */
int	s3_put_small(struct aws_ctx *, const struct cfg *, const char *bucket,
	    const char *key, const char *content_type, const void *body,
	    size_t len, struct aws_result *);
/*
 * ListObjectsV2 of every key under prefix, one page (at most 1000 keys) in
 * memory at a time: cb is called per object in key order, and a non-zero
 * return stops the listing. 0 when the listing completed (or cb stopped
 * it), -1 on a failure (res says which).
 */
int	s3_list(struct aws_ctx *, const struct cfg *, const char *bucket,
	    const char *prefix, int (*cb)(void *, const struct s3_entry *),
	    void *arg, struct aws_result *);
/* Abort the multipart upload recorded in upload_state by a run that died,
 * if any. */
void	s3_abort_stale(struct aws_ctx *, const struct cfg *,
	    const char *upload_state);
/* Virtual-hosted unless path_style is set, the endpoint is an address or
 * localhost, or the bucket name is not DNS-safe without dots. */
int	s3_path_style(const struct cfg *, const struct aws_service *,
	    const char *bucket);

#endif
