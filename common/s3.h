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
	const char		*md5_b64;	/* Content-MD5 */
	const char		*sha256_hex;	/* payload hash (also signed) */
	const struct sigv4_kv	*meta;		/* names without "x-amz-meta-" */
	size_t			 nmeta;
	/* multipart: where the upload id is kept while parts are sent, so a
	 * crash never leaves an upload dangling (NULL: not recorded) */
	const char		*upload_state;
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
/* Abort the multipart upload recorded in upload_state by a run that died,
 * if any. */
void	s3_abort_stale(struct aws_ctx *, const struct cfg *,
	    const char *upload_state);
/* Virtual-hosted unless path_style is set, the endpoint is an address or
 * localhost, or the bucket name is not DNS-safe without dots. */
int	s3_path_style(const struct cfg *, const struct aws_service *,
	    const char *bucket);

#endif
