/*
 * sns.c: SNS Publish with message attributes, and GetTopicAttributes, as
 * form-encoded POSTs.
 */
#include <string.h>

#include "sns.h"

int
sns_publish(struct aws_ctx *ctx, const char *topic_arn, const char *message,
    const char *stream, const char *shard, struct aws_result *res)
{
	struct buf body;
	int r;

	buf_init(&body);
	aws_form_add(&body, "Action", "Publish");
	aws_form_add(&body, "TopicArn", topic_arn);
	aws_form_add(&body, "Message", message);
	aws_form_add(&body, "MessageAttributes.entry.1.Name", "stream");
	aws_form_add(&body, "MessageAttributes.entry.1.Value.DataType", "String");
	aws_form_add(&body, "MessageAttributes.entry.1.Value.StringValue",
	    stream);
	aws_form_add(&body, "MessageAttributes.entry.2.Name", "shard");
	aws_form_add(&body, "MessageAttributes.entry.2.Value.DataType", "String");
	aws_form_add(&body, "MessageAttributes.entry.2.Value.StringValue",
	    shard);
	aws_form_add(&body, "Version", "2010-03-31");
	r = aws_form_call(ctx, &ctx->sns, &body, 10000, 2, res);
	buf_free(&body);
	return r;
}

int
sns_get_topic_attributes(struct aws_ctx *ctx, const char *topic_arn,
    struct aws_result *res)
{
	struct buf body;
	int r;

	buf_init(&body);
	aws_form_add(&body, "Action", "GetTopicAttributes");
	aws_form_add(&body, "TopicArn", topic_arn);
	aws_form_add(&body, "Version", "2010-03-31");
	r = aws_form_call(ctx, &ctx->sns, &body, 10000, 2, res);
	buf_free(&body);
	return r;
}
