/*
 * health.c: classify AWS errors that retries cannot heal and say what to
 * check (see health.h). The codes are those AWS documents for its JSON
 * (Kinesis), REST-XML (S3) and query (SNS, STS, CloudWatch) protocols.
 */
#include <stdio.h>
#include <string.h>

#include "health.h"

struct code_kind {
	const char		*code;
	enum health_kind	 kind;
};

static const struct code_kind codes[] = {
	{ "InvalidClientTokenId", HEALTH_CREDENTIALS },
	{ "UnrecognizedClientException", HEALTH_CREDENTIALS },
	{ "InvalidAccessKeyId", HEALTH_CREDENTIALS },
	{ "SignatureDoesNotMatch", HEALTH_CREDENTIALS },
	{ "InvalidSignatureException", HEALTH_CREDENTIALS },
	{ "IncompleteSignature", HEALTH_CREDENTIALS },
	{ "IncompleteSignatureException", HEALTH_CREDENTIALS },
	{ "MissingAuthenticationToken", HEALTH_CREDENTIALS },
	{ "MissingAuthenticationTokenException", HEALTH_CREDENTIALS },
	{ "ExpiredToken", HEALTH_CREDENTIALS },
	{ "ExpiredTokenException", HEALTH_CREDENTIALS },
	{ "InvalidToken", HEALTH_CREDENTIALS },
	{ "AuthFailure", HEALTH_CREDENTIALS },
	{ "AccessDenied", HEALTH_DENIED },
	{ "AccessDeniedException", HEALTH_DENIED },
	{ "AuthorizationError", HEALTH_DENIED },
	{ "KMS.AccessDeniedException", HEALTH_DENIED },
	{ "KMS.DisabledException", HEALTH_DENIED },
	{ "AllAccessDisabled", HEALTH_DENIED },
	{ "NoSuchBucket", HEALTH_MISSING },
	{ "ResourceNotFoundException", HEALTH_MISSING },
	{ "NotFound", HEALTH_MISSING },
	{ "NotFoundException", HEALTH_MISSING },
	{ "KMS.NotFoundException", HEALTH_MISSING },
	{ "PermanentRedirect", HEALTH_REGION },
	{ "AuthorizationHeaderMalformed", HEALTH_REGION },
	{ "IllegalLocationConstraintException", HEALTH_REGION },
};

static const char *
hint(enum health_kind kind)
{
	switch (kind) {
	case HEALTH_CREDENTIALS:
		return "check the credentials (the credentials section, "
		    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE) "
		    "with kinesis-keeper check";
	case HEALTH_DENIED:
		return "check the IAM policy of these credentials (see IAM "
		    "POLICY in kinesis-keeper.conf(5))";
	case HEALTH_MISSING:
		return "check the name and the region in the configuration";
	case HEALTH_REGION:
		return "the resource is in another region: check region and "
		    "endpoints";
	case HEALTH_OK:
		break;
	}
	return "";
}

enum health_kind
health_classify(const struct aws_result *res, const char *what,
    const char *resource, const char *region, char *out, size_t outlen)
{
	enum health_kind kind = HEALTH_OK;
	size_t i;

	if (outlen > 0)
		out[0] = '\0';
	if (res->transport) {
		/* no credentials at all is permanent until someone acts */
		if (strstr(res->message, "no AWS credentials") != NULL)
			kind = HEALTH_CREDENTIALS;
	} else {
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			if (strcmp(res->code, codes[i].code) == 0) {
				kind = codes[i].kind;
				break;
			}
		/* S3 names no code for a bare 404 of a HEAD, or a 301 */
		if (kind == HEALTH_OK && res->code[0] == '\0' &&
		    res->status == 301)
			kind = HEALTH_REGION;
		if (kind == HEALTH_OK && res->code[0] == '\0' &&
		    (res->status == 401 || res->status == 403))
			kind = HEALTH_CREDENTIALS;
	}
	if (kind == HEALTH_OK || outlen == 0)
		return kind;
	snprintf(out, outlen, "%s %s (region %s): %s; %s", what, resource,
	    region != NULL && *region != '\0' ? region : "unset",
	    aws_strerror(res), hint(kind));
	return kind;
}

int
health_due(struct health_pace *p, enum health_kind kind, uint64_t now_ms)
{
	if (kind == HEALTH_OK) {
		if (p->kind == HEALTH_OK)
			return 0;
		p->kind = HEALTH_OK;
		p->last_ms = 0;
		return 1;
	}
	if (p->kind != kind || now_ms - p->last_ms >= HEALTH_LOG_EVERY_MS) {
		p->kind = kind;
		p->last_ms = now_ms;
		return 1;
	}
	return 0;
}
