/*
 * kinesis.h: the Kinesis Data Streams calls the keeper makes (JSON 1.1
 * protocol): ListShards, GetShardIterator, GetRecords. Responses are
 * validated completely before anything is used: a record is never skipped.
 */
#ifndef KK_KINESIS_H
#define KK_KINESIS_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"

struct kinesis_shard {
	char	*id;
	char	*parent;		/* NULL if none */
	char	*adjacent_parent;	/* NULL if none */
	char	*starting_seq;
	char	*ending_seq;		/* NULL while the shard is open */
};

struct kinesis_record {
	const char		*seq;		/* into the body or the arena */
	const char		*pk;		/* likewise, NUL-terminated */
	size_t			 pk_len;
	int64_t			 ts_ms;
	const unsigned char	*data;		/* likewise */
	size_t			 data_len;
};

struct kinesis_records {
	struct kinesis_record	*recs;
	size_t			 n;
	size_t			 data_bytes;	/* sum of data_len */
	char			*next_iterator;	/* NULL: the shard is closed and read */
	int64_t			 millis_behind;	/* -1 if absent */
	char			**child_shards;	/* ChildShards ShardIds (may be empty) */
	size_t			 nchild;
	/* one allocation holds every decoded string and payload */
	unsigned char		*arena;
	size_t			 arena_len;
};

int	kinesis_list_shards(struct aws_ctx *, const char *stream,
	    struct kinesis_shard **, size_t *, struct aws_result *);
void	kinesis_shards_free(struct kinesis_shard *, size_t);
/* DescribeStreamSummary: the stream's StreamStatus ("ACTIVE", "CREATING",
 * ...) and open shard count into status and *open_shards. */
int	kinesis_describe_stream_summary(struct aws_ctx *, const char *stream,
	    char *status, size_t statuslen, long *open_shards,
	    struct aws_result *);
/* kinesis_list_shards, one attempt per page bounded to timeout_ms: for a
 * caller that can do without the answer. */
int	kinesis_list_shards_bounded(struct aws_ctx *, const char *stream,
	    long timeout_ms, struct kinesis_shard **, size_t *,
	    struct aws_result *);
/* type: "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP" (ts_ms),
 * "AT_SEQUENCE_NUMBER" or "AFTER_SEQUENCE_NUMBER" (seq). */
int	kinesis_get_iterator(struct aws_ctx *, const char *stream,
	    const char *shard, const char *type, const char *seq, int64_t ts_ms,
	    char **iterator, struct aws_result *);
/* One attempt: network errors, 5xx and throttles are returned to the
 * caller at once so that it keeps its own read budget. */
int	kinesis_get_records(struct aws_ctx *, const char *iterator, int limit,
	    struct kinesis_records *, struct aws_result *);
/* The JSON body of a GetRecords request, appended to b. */
void	kinesis_get_records_body(struct buf *, const char *iterator, int limit);
/* Parse a GetRecords response body. 0, or -1 with *why naming the problem.
 * The body is modified: the records may point into it (they stay valid as
 * long as the body does). */
int	kinesis_parse_records(char *body, size_t len,
	    struct kinesis_records *, const char **why);
/* The two parsers behind it, for cross-checking in tests and fuzzing: the
 * fast scanner (-1 for anything unusual, the body untouched; -2 for a bad
 * Data string found after it began to build the records in the body) and
 * the json-c parser (body untouched, records in their own arena). */
int	kinesis_parse_records_fast(char *body, size_t len,
	    struct kinesis_records *);
int	kinesis_parse_records_jsonc(const char *body, size_t len,
	    struct kinesis_records *, const char **why);
/* The ShardIterator of a GetShardIterator response body: 0, or -1. */
int	kinesis_parse_iterator(const char *body, char **iterator);
/* A DescribeStreamSummary answer: StreamStatus into status, OpenShardCount
 * (-1 if absent) into *open_shards. 0, or -1 without a StreamStatus. */
int	kinesis_parse_stream_summary(const char *body, char *status,
	    size_t statuslen, long *open_shards);
int	kinesis_parse_shards(const char *body, size_t len,
	    struct kinesis_shard **, size_t *, char **next_token,
	    const char **why);
void	kinesis_records_free(struct kinesis_records *);
/* Give back the arrays the parser keeps from one response to the next
 * (for a shard that caught up: see kinesis_parse.c). */
void	kinesis_parse_trim(void);

#endif
