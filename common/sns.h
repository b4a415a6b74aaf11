/*
 * sns.h: SNS Publish (query protocol) of one notification, and
 * GetTopicAttributes to tell that a topic exists.
 */
#ifndef KK_SNS_H
#define KK_SNS_H

#include "aws.h"

/* Publish message to topic with String attributes stream and shard.
 * 0 when SNS accepted it. */
int	sns_publish(struct aws_ctx *, const char *topic_arn, const char *message,
	    const char *stream, const char *shard, struct aws_result *);

/* 0 when the topic exists and these credentials may read it. */
int	sns_get_topic_attributes(struct aws_ctx *, const char *topic_arn,
	    struct aws_result *);

#endif
