/*
 * aws_error.c: an AWS call's failure as text (aws.h). Apart from aws.c so
 * that a program that only reports errors (the supervisor, through
 * health.c) does not link the request path and libcurl with it.
 */
#include <stdio.h>

#include "aws.h"

const char *
aws_strerror(const struct aws_result *r)
{
	static char s[768];

	if (r->transport)
		snprintf(s, sizeof(s), "%s", r->message);
	else if (r->code[0] != '\0')
		snprintf(s, sizeof(s), "%s: %s (HTTP %ld)", r->code,
		    r->message[0] ? r->message : "no message", r->status);
	else
		snprintf(s, sizeof(s), "HTTP %ld", r->status);
	return s;
}
