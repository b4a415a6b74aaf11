/*
 * lease.h: one shard's lease in a KCL 2.x lease table, each conditional
 * write of the protocol, and the pure decision of what a keeper takes
 * (lease_plan: no I/O, clock passed in, unit tested like slot.c).
 */
#ifndef KK_LEASE_H
#define KK_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"

#define LEASE_KEY_MAX		132	/* a shard ID and its NUL */
#define LEASE_OWNER_MAX		128
#define LEASE_TOKEN_LEN		33	/* 32 hex digits and the NUL */
#define LEASE_CKPT_MAX		136
#define LEASE_OBJKEY_MAX	1100	/* an S3 key (1024) and room */
#define LEASE_PARENTS		2

#define LEASE_SHARD_END		"SHARD_END"

/*
 * The KCL attributes (leaseKey, leaseOwner, leaseCounter, checkpoint,
 * checkpointSubSequenceNumber, ownerSwitchesSinceCheckpoint, parentShardId,
 * childShardIds) and ours, named "kk..." so the KCL ignores them: kkToken
 * fences the owner's checkpoints (a take changes it), kkInside says the
 * checkpoint stops inside a KPL aggregate, kkLastKey/kkLastSha256 name the
 * shard's last object (the chain goes on on another host), kkAnnounced the
 * last object whose notification was published.
 */
struct lease {
	char		key[LEASE_KEY_MAX];
	char		owner[LEASE_OWNER_MAX];		/* "": nobody */
	int64_t		counter;
	char		checkpoint[LEASE_CKPT_MAX];	/* seq or TRIM_HORIZON... */
	int64_t		subseq;
	int64_t		owner_switches;
	char		parents[LEASE_PARENTS][LEASE_KEY_MAX];
	int		nparents;
	char		token[LEASE_TOKEN_LEN];
	int		inside;
	char		last_key[LEASE_OBJKEY_MAX];
	char		last_sha256[65];
	char		announced[LEASE_OBJKEY_MAX];
	char		wanted[LEASE_OWNER_MAX];	/* kkWantedBy, "": none */
};

struct json_object;

/* An item of the table (Scan, GetItem): 0, 1 not a lease (another KCL
 * entity: skipped), -1 refused (*why says what is wrong). */
int	lease_from_item(struct json_object *, struct lease *, const char **why);

/* Every lease of the table (ConsistentRead, paginated): 0 or -1. */
int	lease_scan(struct aws_ctx *, const char *table, struct lease **,
	    size_t *, struct aws_result *);
/* 0 found, 1 no such lease, -1 error. */
int	lease_get(struct aws_ctx *, const char *table, const char *shard,
	    struct lease *, struct aws_result *);
/* A lease for a new shard, unowned, unless one exists: 0 created,
 * DDB_CONDITION exists, -1 error. */
int	lease_create(struct aws_ctx *, const char *table, const char *shard,
	    const char *const *parents, int nparents, const char *checkpoint,
	    struct aws_result *);
/* Take (or steal) what was seen: on the counter seen, as the KCL does. On
 * success l holds the lease as written (owner, token, counter). */
int	lease_take(struct aws_ctx *, const char *table, struct lease *l,
	    const char *owner, struct aws_result *);
/* Renew: on owner and token; *counter is the new value. announced, when
 * not NULL, is recorded too. */
int	lease_renew(struct aws_ctx *, const char *table, const char *shard,
	    const char *owner, const char *token, const char *announced,
	    int64_t *counter, struct aws_result *);
/* Give it up (owner removed, counter moved): on owner and token;
 * announced as for lease_renew. */
int	lease_evict(struct aws_ctx *, const char *table, const char *shard,
	    const char *owner, const char *token, const char *announced,
	    struct aws_result *);
/* The worker's checkpoint: on owner and token; checkpoint is a sequence
 * number or LEASE_SHARD_END. */
int	lease_checkpoint(struct aws_ctx *, const char *table, const char *shard,
	    const char *owner, const char *token, const char *checkpoint,
	    int64_t subseq, int inside, const char *last_key,
	    const char *last_sha256, struct aws_result *);
/* Ask the owner seen to hand the lease over to me (kkWantedBy): on the
 * owner, the counter untouched (the owner's renewals go on). */
int	lease_ask(struct aws_ctx *, const char *table, const struct lease *l,
	    const char *me, struct aws_result *);
/* Name a new child on its parent (the KCL's childShardIds): no condition. */
int	lease_add_child(struct aws_ctx *, const char *table, const char *parent,
	    const char *child, struct aws_result *);

/* A fresh random fencing token. */
void	lease_token(char out[LEASE_TOKEN_LEN]);

/* ---- the decision (pure) ---- */

/*
 * TAKE a free lease; ASK the most loaded keeper for one of its leases
 * (graceful: it SHEDs it, flush and checkpoint, and releases it); STEAL
 * only when it was asked LEASE_ASK_SCANS durations ago and did not shed.
 */
enum lease_act { LACT_TAKE = 1, LACT_STEAL, LACT_ASK, LACT_SHED };

#define LEASE_ASK_SCANS		3
/* a lease released for the keeper that asked is its own this long */
#define LEASE_RESERVE_SCANS	2

struct lease_obs {
	const struct lease	*l;
	uint64_t		 seen_ms;	/* when its counter was first seen */
	int			 held;		/* by this keeper */
	uint64_t		 asked_ms;	/* when this keeper asked for it
						 * (kkWantedBy), 0: not asked */
};

struct lease_action {
	enum lease_act	kind;
	size_t		idx;		/* into the observations */
};

struct lease_counts {
	size_t	active;		/* leases not at SHARD_END */
	size_t	keepers;	/* live keepers, this one included */
	size_t	target;		/* this keeper's share */
	size_t	held;
};

/* 1 when expired or unowned at now (each observer on its own clock). */
int	lease_expired(const struct lease_obs *, uint64_t now, uint64_t dur);
/* 1 when every parent's lease is at SHARD_END (or gone from the table). */
int	lease_parents_done(const struct lease_obs *, size_t n, size_t i);
/* What this keeper (me) should do now: up to its fair share (active
 * leases over live keepers, capped by max_shards when not 0), take expired
 * or unowned leases first, else ask the most loaded keeper for one when
 * it holds more than one lease beyond this one (steal it if not handed
 * over within LEASE_ASK_SCANS durations); shed a held lease another keeper
 * asked for. A child only when its parents are done. Returns the number of
 * actions written (<= maxact). */
size_t	lease_plan(const struct lease_obs *, size_t n, const char *me,
	    uint64_t now, uint64_t duration, int max_shards,
	    struct lease_action *, size_t maxact, struct lease_counts *);

#endif
