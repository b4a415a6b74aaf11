/*
 * sts.h: STS GetCallerIdentity (query protocol): who the configured
 * credentials are, for "kinesis-keeper check". AssumeRole and web identity
 * stay in creds.c, where the credentials are made.
 */
#ifndef KK_STS_H
#define KK_STS_H

#include <stddef.h>

#include "aws.h"

/* 0 with the identity's ARN and account copied into arn and account
 * ("" if the answer lacks them), or -1 with res describing the failure. */
int	sts_get_caller_identity(struct aws_ctx *, char *arn, size_t arnlen,
	    char *account, size_t accountlen, struct aws_result *);

#endif
