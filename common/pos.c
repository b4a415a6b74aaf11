/*
 * pos.c: positions in a shard (pos.h): sequence numbers compare as
 * numbers, and a sub-record comes before the whole record it belongs to.
 */
#include "pos.h"
#include "util.h"

int
pos_cmp(const struct pos *a, const struct pos *b)
{
	int c = seq_cmp(a->seq, b->seq);

	if (c != 0)
		return c;
	if (a->has_sub && b->has_sub)
		return a->sub < b->sub ? -1 : a->sub > b->sub;
	if (a->has_sub == b->has_sub)
		return 0;
	return a->has_sub ? -1 : 1;	/* a sub-record comes before the whole */
}

void
pos_set(struct pos *p, const char *seq, int has_sub, uint64_t sub)
{
	str_copy(p->seq, seq, sizeof(p->seq));
	p->has_sub = has_sub;
	p->sub = sub;
}
