/*
 * archive.h: what the archive in S3 says about itself, so that it can be the
 * source of truth: the user metadata of each object (its range, hash and
 * chain links) and the per-shard head object that names a shard's last
 * object. Both are parsed strictly: they decide where a worker resumes.
 */
#ifndef KK_ARCHIVE_H
#define KK_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ckpt.h"
#include "sigv4.h"
#include "util.h"

#define ARC_KEY_MAX	1024	/* S3's limit on a key, in bytes */
#define ARC_SHARD_MAX	128
#define ARC_STREAM_MAX	129	/* Kinesis allows 128 characters */
#define ARC_META_MAX	2048	/* S3's limit on user metadata */
#define ARC_PARENTS	2	/* a merge has two parents */

/* A link of the chain: an object named by its key and hash. */
struct arc_link {
	char	key[ARC_KEY_MAX];	/* "" when dropped to fit 2 KB */
	char	sha256[65];		/* "" when there is no link */
};

/* What an object's metadata (x-amz-meta-*) says. */
struct arc_object {
	char		stream[ARC_STREAM_MAX];	/* "" in older objects */
	char		shard[ARC_SHARD_MAX];
	uint64_t	records;
	uint64_t	bytes;		/* record payload bytes */
	uint64_t	stored;		/* object bytes; 0 if not given */
	struct pos	first;
	int64_t		first_ts;	/* ms; INT64_MIN if absent */
	struct pos	last;
	int		last_more;	/* the batch ended inside an aggregate */
	int64_t		last_ts;
	char		sha256[65];
	/* partitions: the batch this object is part of (one object per
	 * partition); with parts == 1 the batch is this object */
	unsigned	part, parts;
	struct pos	batch_first, batch_last;
	int		batch_more;
	struct arc_link	prev;		/* the previous object of the shard,
					 * in (batch, part) order */
	struct arc_link	parents[ARC_PARENTS];	/* first object of a child */
};

/* The metadata of an object as headers; names without "x-amz-meta-". */
struct arc_meta {
	struct sigv4_kv	kv[24];
	size_t		n;
	char		num[12][32];
};

/* Fill m from o (pointers into o and m: both must outlive m). When the
 * whole would pass S3's 2 KB, the chain links keep only their hashes. */
void	arc_meta_build(struct arc_meta *m, const struct arc_object *o);
/* Parse the "name: value\n" lines of an answer (aws_result.meta): 0, or -1
 * with *why when the object does not carry complete keeper metadata. */
int	arc_meta_parse(const struct buf *meta, struct arc_object *o,
	    const char **why);

/* One field ("name", lowercase, no x-amz-meta- prefix) of those lines,
 * copied into out: 0, or -1 if absent or too long. */
int	arc_meta_value(const struct buf *meta, const char *name, char *out,
	    size_t outlen);

/* The head object: the last object of a shard, rewritten after each flush. */
struct arc_head {
	char		shard[ARC_SHARD_MAX];
	char		key[ARC_KEY_MAX];	/* "" if the shard has none */
	char		sha256[65];
	struct pos	last;		/* seq "" if nothing archived */
	int		last_more;
	uint64_t	records;	/* of the last object */
	int64_t		last_ts;	/* ms; INT64_MIN if absent */
	int		done;		/* shard end reached and archived */
};

/* "{prefix}{stream}/_keeper/{shard}.json": beside the data, outside any
 * path a "**" glob on the data's extension matches. */
void	arc_head_key(struct buf *, const struct cfg *, const char *shard);
/* The head object's JSON text (malloc'd). */
char	*arc_head_format(const struct arc_head *, const char *stream);
/* Parse a head object: 0, or -1 with *why. Never trusts its input. */
int	arc_head_parse(const char *text, size_t len, struct arc_head *,
	    const char **why);
/* The literal start of every key the template can give (everything before
 * the first placeholder other than {prefix} and {stream}): what verify
 * lists. */
void	arc_list_prefix(struct buf *, const struct cfg *);
/* Is s 64 lowercase hex digits? */
int	arc_sha_valid(const char *s);

#endif
