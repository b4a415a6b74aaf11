/*
 * chain.h: the checks of `kinesis-keeper verify`, apart from any I/O: given
 * what the listing, the objects' metadata, the head objects and ListShards
 * say, rebuild every shard's chain and name each problem. Unit-tested.
 */
#ifndef KK_CHAIN_H
#define KK_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

/* One object of the archive, compact: verify holds one per object. */
struct chain_obj {
	char		*key;
	char		*why;		/* not NULL: no usable keeper metadata */
	int		 checked;	/* metadata read (inside --since) */
	int		 foreign;	/* another stream's, under the prefix */
	char		*shard;
	char		 sha256[65];
	uint64_t	 records;
	char		*first_seq;
	int		 first_has_sub;
	uint64_t	 first_sub;
	char		*last_seq;
	int		 last_has_sub;
	uint64_t	 last_sub;
	int64_t		 last_ts;
	/* with partitions an object is part of a batch: the positions
	 * above are then the batch's, and parts are ordered by index */
	unsigned	 part, parts;
	char		 prev_sha[65];
	char		*prev_key;		/* NULL if not named */
	char		 parent_sha[ARC_PARENTS][65];
	int		 nsucc;			/* objects naming this one */
	struct chain_obj *pred;
};

struct chain_shard {
	char		*id;
	char		*parent[ARC_PARENTS];	/* NULL if none */
	int		 closed;	/* ListShards: EndingSequenceNumber */
	int		 listed;	/* in ListShards (else: trimmed) */
	int		 has_head;
	struct arc_head	 head;
	/* filled by chain_check */
	size_t		 objects;
	uint64_t	 records;
	struct chain_obj *last;	/* the end of its chain */
	int64_t		 lag_ms;	/* now - last record's arrival, -1 */
};

struct chain {
	struct chain_obj	**objs;
	size_t			 nobjs, capobjs;
	struct chain_shard	*shards;
	size_t			 nshards, capshards;
	size_t			 problems;
	/* one call per problem: key (may be NULL), shard (may be NULL) */
	void			(*report)(void *arg, const char *key,
				    const char *shard, const char *what,
				    const char *detail);
	void			*arg;
};

void	chain_init(struct chain *);
void	chain_free(struct chain *);
/* Add an object of the listing; fill it with chain_obj_set or mark it
 * unchecked (outside --since) or bad (why). */
struct chain_obj *chain_add(struct chain *, const char *key);
void	chain_obj_set(struct chain_obj *, const struct arc_object *);
void	chain_obj_bad(struct chain_obj *, const char *why);
/* A shard known from ListShards or from a head object. */
struct chain_shard *chain_shard_get(struct chain *, const char *id);
/* Run every check; returns the number of problems reported. */
size_t	chain_check(struct chain *, int64_t now_ms);

#endif
