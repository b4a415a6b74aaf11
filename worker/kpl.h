/*
 * kpl.h: de-aggregation of KPL aggregated records (magic F3 89 9A C2, a
 * protobuf AggregatedRecord, then the MD5 of the protobuf bytes).
 */
#ifndef KK_KPL_H
#define KK_KPL_H

#include <stddef.h>
#include <stdint.h>

#define KPL_MAGIC	"\xf3\x89\x9a\xc2"
#define KPL_MAX_RECORDS	1000000

/* One user record; pointers into the decoded input buffer. */
struct kpl_record {
	const unsigned char	*data;
	size_t			 data_len;
	const char		*pk;		/* NOT NUL-terminated */
	size_t			 pk_len;
	const char		*ehk;		/* explicit hash key or NULL */
	size_t			 ehk_len;
};

struct kpl_agg {
	struct kpl_record	*records;
	size_t			 n;
};

/* 1 if the payload starts with the magic and is long enough to be one. */
int	kpl_is_aggregate(const unsigned char *, size_t);
/*
 * Decode an aggregate: check the MD5, parse the protobuf, resolve key
 * indexes. 0 on success (agg filled; free with kpl_free), -1 if corrupt
 * (bad MD5, truncated or malformed protobuf, index out of range, missing
 * required field); *why then names the problem (static string).
 */
int	kpl_decode(const unsigned char *, size_t, struct kpl_agg *,
	    const char **why);
void	kpl_free(struct kpl_agg *);

#endif
