/*
 * sts.c: STS GetCallerIdentity, signed with the configured credentials. It
 * needs no permission at all, so it tells refused credentials apart from a
 * missing permission on the stream, bucket or topic.
 */
#include "sts.h"

int
sts_get_caller_identity(struct aws_ctx *ctx, char *arn, size_t arnlen,
    char *account, size_t accountlen, struct aws_result *res)
{
	struct buf body;
	int r;

	buf_init(&body);
	aws_form_add(&body, "Action", "GetCallerIdentity");
	aws_form_add(&body, "Version", "2011-06-15");
	r = aws_form_call(ctx, &ctx->sts, &body, 10000, 2, res);
	buf_free(&body);
	if (r == 0) {
		aws_xml_text(res->body.data, "Arn", arn, arnlen);
		aws_xml_text(res->body.data, "Account", account, accountlen);
	}
	return r;
}
