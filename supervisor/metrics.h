/*
 * metrics.h: the keeper's metrics (kinesis-keeper.conf(5)), kept by the metrics
 * helper (helper.c). Workers report counters to the supervisor, which
 * forwards them; here they are summed per shard, sent to
 * statsd as they arrive, and pushed to CloudWatch every interval. Metrics
 * never block archiving: a failed push is logged, counted and dropped.
 */
#ifndef KK_METRICS_H
#define KK_METRICS_H

#include <stdint.h>

#include "aws.h"
#include "cfg.h"
#include "msg.h"

void	metrics_init(const struct cfg *);
void	metrics_stats(const char *shard, const struct msg_stats *);
void	metrics_flush(const char *shard, const struct msg_flush *);
void	metrics_restart(const char *shard);
void	metrics_notification_error(const char *shard);
void	metrics_workers_running(int);
void	metrics_leases(uint64_t);
void	metrics_pending(uint64_t);		/* NotificationsPending */
void	metrics_forget(const char *shard);	/* done: drop after the next push */
/* Push to CloudWatch if the interval elapsed; returns ms until the next. */
uint64_t metrics_tick(struct aws_ctx *, const struct cfg *);
void	metrics_shutdown(struct aws_ctx *, const struct cfg *);

#endif
