/*
 * record.h: one archived record as a line of the object body (format.type
 * in kinesis-keeper.conf(5)): jsonl ({"seq","sub","pk","ts","data"|"b64"})
 * or raw (payload + "\n").
 */
#ifndef KK_RECORD_H
#define KK_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * The position (seq, has_sub, sub) as a view, not a struct pos: seq points
 * into the GetRecords response, and no record's bytes are copied on their
 * way to the batch (batch_add keeps the first and last as struct pos).
 */
struct record {
	const char		*seq;		/* decimal sequence number */
	int			 has_sub;	/* a de-aggregated KPL user record */
	uint64_t		 sub;		/* its index in the aggregate */
	const char		*pk;		/* partition key (any bytes, NUL-terminated) */
	size_t			 pk_len;
	int64_t			 ts_ms;		/* ApproximateArrivalTimestamp, epoch ms */
	const unsigned char	*data;		/* payload */
	size_t			 data_len;
};

/* Append one jsonl line (with its '\n'). "data" holds the payload as
 * compact JSON when it is a valid UTF-8 JSON text, else "b64" holds it. */
void	record_format_jsonl(struct buf *, const struct record *);
/* Append the payload and '\n'. */
void	record_format_raw(struct buf *, const struct record *);

#endif
