/*
 * sns.c: SNS Publish with message attributes, as a form-encoded POST.
 */
#include <string.h>

#include "sns.h"

int
sns_publish(struct aws_ctx *ctx, const char *topic_arn, const char *message,
    const char *stream, const char *shard, struct aws_result *res)
{
	struct sigv4_kv h[1];
	struct aws_call call;
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
	h[0].name = "Content-Type";
	h[0].value = "application/x-www-form-urlencoded; charset=utf-8";
	memset(&call, 0, sizeof(call));
	call.method = "POST";
	call.path = "/";
	call.headers = h;
	call.nheaders = 1;
	call.body = body.data;
	call.body_len = body.len;
	call.max_response = 1024 * 1024;
	call.timeout_ms = 20000;
	call.max_attempts = 3;
	r = aws_call(ctx, &ctx->sns, &call, res);
	buf_free(&body);
	return r;
}
