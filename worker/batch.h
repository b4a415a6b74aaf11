/*
 * batch.h: the batch being built by a worker. Records are formatted and
 * compressed as they arrive (compress.c), so memory holds the compressed
 * batch and one input chunk, never the raw batch.
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

struct batch {
	const struct cfg	*cfg;
	struct comp		 comp;
	struct buf		 out;		/* the object body so far */
	struct buf		 line;		/* scratch for one record */
	uint64_t		 records;
	uint64_t		 bytes;		/* record payload bytes */
	uint64_t		 opened_ms;	/* monotonic, first record */
	struct pos		 first;
	int64_t			 first_ts;
	struct pos		 last;
	int			 last_complete;	/* last record ends its aggregate */
	int64_t			 last_ts;
	int			 finished;
};

void	batch_init(struct batch *, const struct cfg *);
void	batch_free(struct batch *);
/* Start a new, empty batch (keeps buffers). */
void	batch_reset(struct batch *);
/* Add one record. complete: this is the last (or only) user record of its
 * Kinesis record, so a checkpoint here may skip the whole record. */
void	batch_add(struct batch *, const struct record *, int complete);
/* The count or bytes limit alone (checked per record; age per response). */
int	batch_size_reached(const struct batch *);
/* Is the age limit reached (for a batch that is not empty)? */
int	batch_expired(const struct batch *, uint64_t now);
/* Finish the compressed stream; out then holds the whole object. */
void	batch_finish(struct batch *);

/* Render the object key from the template (cfg->s3_key). */
void	batch_key(struct buf *, const struct cfg *, const char *shard,
	    const char *seq, int has_sub, uint64_t sub, int64_t ts_ms);

#endif
