/*
 * cloudwatch.h: CloudWatch PutMetricData (query protocol): one request body
 * built datum by datum, then sent. What to measure is the metrics helper's
 * business (supervisor/metrics.c); this is only the wire format and the call.
 */
#ifndef KK_CLOUDWATCH_H
#define KK_CLOUDWATCH_H

#include <stdint.h>

#include "aws.h"

#define CW_BATCH	20	/* datums per PutMetricData request */

/* One datum: a plain value, or a statistic set when count > 0. */
struct cw_datum {
	const char	*name;
	const char	*unit;
	const char	*timestamp;	/* ISO 8601 */
	const char	*stream;	/* dimension StreamName */
	const char	*shard;		/* dimension ShardId, or NULL */
	double		 value;		/* plain value, or the set's sum */
	uint64_t	 count;		/* statistic set: SampleCount */
	double		 min;
	double		 max;
};

/* Start a request body (Action, Namespace) in b, reset first. */
void	cw_start(struct buf *b, const char *ns);
/* Add datum number idx (1-based) to the body. */
void	cw_add(struct buf *b, int idx, const struct cw_datum *);
/* Send the body: one short attempt (metrics never hold up archiving).
 * 0 when CloudWatch accepted it. */
int	cw_put_metric_data(struct aws_ctx *, struct buf *b, struct aws_result *);

#endif
