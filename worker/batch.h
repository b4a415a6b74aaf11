/*
 * batch.h: the batch being built by a worker, split into one part per
 * partition of the key template (each record's arrival hour, {json:PATH}
 * members), one object each. Records are formatted and compressed as they
 * arrive (compress.c), so memory holds the compressed parts and one input
 * chunk per part, never the raw batch.
 */
#ifndef KK_BATCH_H
#define KK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "compress.h"
#include "pos.h"
#include "record.h"
#include "util.h"

/* One object of the batch: the records of one partition, in shard order. */
struct part {
	char			*pkey;		/* the key without {seq}: the partition */
	char			*jvals;		/* its {json:} values, each NUL-ended */
	struct comp		 comp;
	struct buf		 out;		/* the object body so far */
	struct buf		 line;		/* lines not yet compressed */
	uint64_t		 records;
	uint64_t		 bytes;		/* record payload bytes */
	struct pos		 first;		/* names the object */
	int64_t			 first_ts;	/* dates the object */
	struct pos		 last;
	int64_t			 last_ts;
	int64_t			 hour;		/* arrival hour of its last record */
	int			 finished;
};

struct batch {
	const struct cfg	*cfg;
	struct part		**parts;	/* in the order of their first records */
	size_t			 nparts;
	size_t			 cur;		/* the part of the last record */
	int			 dated;		/* the key has date placeholders */
	int			 json;		/* ... {json:PATH} placeholders */
	struct buf		 scratch;	/* a line whose part is not known yet */
	struct buf		 minified;	/* a raw payload, for {json:} */
	struct buf		 pkey;		/* the partition of the record at hand */
	struct buf		 jvals;		/* and its {json:} values */
	/* the batch as a whole: limits, checkpoint, age */
	uint64_t		 records;
	uint64_t		 bytes;
	uint64_t		 opened_ms;	/* monotonic, first record */
	struct pos		 first;
	int64_t			 first_ts;
	struct pos		 last;
	int			 last_complete;	/* last record ends its aggregate */
	int64_t			 last_ts;
};

void	batch_init(struct batch *, const struct cfg *);
void	batch_free(struct batch *);
/* Start a new, empty batch (keeps the first part's buffers and engine). */
void	batch_reset(struct batch *);
/*
 * Add one record to the part of its partition. complete: this is the last
 * (or only) user record of its Kinesis record, so a checkpoint here may
 * skip the whole record. Returns -1, adding nothing, when the record
 * would open a partition beyond batch.max_partitions: flush, then add.
 */
int	batch_add(struct batch *, const struct record *, int complete);
/* The count or bytes limit alone (checked per record; age per response). */
int	batch_size_reached(const struct batch *);
/* Is the age limit reached (for a batch that is not empty)? */
int	batch_expired(const struct batch *, uint64_t now);
/* Finish every part's compressed stream; each out then holds its object. */
void	batch_finish(struct batch *);

/* The object key of a part: the template (cfg->s3_key) for its first
 * record. */
void	batch_part_key(struct buf *, const struct batch *,
	    const struct part *, const char *shard);
/* Render the template for a first record: its position, arrival time and
 * {json:} values (each NUL-ended, in template order; NULL: none). */
void	batch_key(struct buf *, const struct cfg *, const char *shard,
	    const struct pos *first, int64_t ts_ms, const char *jvals);

#endif
