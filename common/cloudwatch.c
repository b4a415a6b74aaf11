/*
 * cloudwatch.c: the PutMetricData request as a form-encoded POST: member
 * numbering, dimensions, plain values or statistic sets.
 */
#include <stdio.h>

#include "cloudwatch.h"

void
cw_start(struct buf *b, const char *ns)
{
	buf_reset(b);
	aws_form_add(b, "Action", "PutMetricData");
	aws_form_add(b, "Namespace", ns);
}

void
cw_add(struct buf *b, int i, const struct cw_datum *d)
{
	char k[96], v[64];

	snprintf(k, sizeof(k), "MetricData.member.%d.MetricName", i);
	aws_form_add(b, k, d->name);
	/* the data points belong to the push's interval, not to whenever
	 * CloudWatch receives them */
	snprintf(k, sizeof(k), "MetricData.member.%d.Timestamp", i);
	aws_form_add(b, k, d->timestamp);
	snprintf(k, sizeof(k), "MetricData.member.%d.Unit", i);
	aws_form_add(b, k, d->unit);
	snprintf(k, sizeof(k), "MetricData.member.%d.Dimensions.member.1.Name", i);
	aws_form_add(b, k, "StreamName");
	snprintf(k, sizeof(k), "MetricData.member.%d.Dimensions.member.1.Value",
	    i);
	aws_form_add(b, k, d->stream);
	if (d->shard != NULL) {
		snprintf(k, sizeof(k),
		    "MetricData.member.%d.Dimensions.member.2.Name", i);
		aws_form_add(b, k, "ShardId");
		snprintf(k, sizeof(k),
		    "MetricData.member.%d.Dimensions.member.2.Value", i);
		aws_form_add(b, k, d->shard);
	}
	if (d->count > 0) {
		/* a statistic set keeps min/max/average of the samples */
		snprintf(k, sizeof(k),
		    "MetricData.member.%d.StatisticValues.SampleCount", i);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)d->count);
		aws_form_add(b, k, v);
		snprintf(k, sizeof(k), "MetricData.member.%d.StatisticValues.Sum",
		    i);
		snprintf(v, sizeof(v), "%.0f", d->value);
		aws_form_add(b, k, v);
		snprintf(k, sizeof(k),
		    "MetricData.member.%d.StatisticValues.Minimum", i);
		snprintf(v, sizeof(v), "%.0f", d->min);
		aws_form_add(b, k, v);
		snprintf(k, sizeof(k),
		    "MetricData.member.%d.StatisticValues.Maximum", i);
		snprintf(v, sizeof(v), "%.0f", d->max);
		aws_form_add(b, k, v);
	} else {
		snprintf(k, sizeof(k), "MetricData.member.%d.Value", i);
		snprintf(v, sizeof(v), "%.0f", d->value);
		aws_form_add(b, k, v);
	}
}

int
cw_put_metric_data(struct aws_ctx *ctx, struct buf *b, struct aws_result *res)
{
	aws_form_add(b, "Version", "2010-08-01");
	/* bounded: one short attempt; the caller drops what failed */
	return aws_form_call(ctx, &ctx->cloudwatch, b, 3000, 1, res);
}
