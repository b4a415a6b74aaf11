/*
 * leases.h: the lease helper (kinesis-keeper-worker -H lease): it keeps
 * this keeper's share of the stream's shards in the KCL lease table and
 * tells the supervisor each lease won or lost (kinesis-keeper.conf(5),
 * LEASES).
 */
#ifndef KK_LEASES_H
#define KK_LEASES_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "cfg.h"
#include "msg.h"

/* send: to the supervisor (the helper's reply()); stopped: a SIGTERM came
 * (long waits give up) */
void		lh_init(struct aws_ctx *, const struct cfg *,
		    void (*send)(uint32_t, const void *, size_t),
		    int (*stopped)(void));
/* Do what is due (renewals, a scan and takes); ms until the next. */
uint64_t	lh_tick(void);
/* MSG_L_RELEASE, MSG_L_ANNOUNCED */
void		lh_message(const struct msg *);
/* The counts of calls made, logged (at the end and once a minute). */
void		lh_summary(void);
void		lh_free(void);

#endif
