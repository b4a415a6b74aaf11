/*
 * pos.h: a position in a shard: a Kinesis sequence number and, inside a
 * KPL aggregate, the index of a user record. The one shape of it, for the
 * checkpoint, the batch's first and last records, the outbox entries and
 * the worker's reading position.
 */
#ifndef KK_POS_H
#define KK_POS_H

#include <stdint.h>

#define SEQ_MAX		130	/* 128 digits and a NUL, with room */

struct pos {
	char		seq[SEQ_MAX];	/* decimal; "" for none */
	int		has_sub;	/* inside an aggregate ... */
	uint64_t	sub;		/* ... at this user record */
};

/* Compare two positions (-1, 0, 1). A position without sub means "the
 * whole record", which is after all of its sub-records. */
int	pos_cmp(const struct pos *, const struct pos *);
/* Set a position; seq is truncated to SEQ_MAX - 1 bytes. */
void	pos_set(struct pos *, const char *seq, int has_sub, uint64_t sub);

#endif
