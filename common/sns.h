/*
 * sns.h: SNS Publish (query protocol) of one notification.
 */
#ifndef KK_SNS_H
#define KK_SNS_H

#include "aws.h"

/* Publish message to topic with String attributes stream and shard.
 * 0 when SNS accepted it. */
int	sns_publish(struct aws_ctx *, const char *topic_arn, const char *message,
	    const char *stream, const char *shard, struct aws_result *);

#endif
