/*
 * test_health.c: which AWS errors are permanent, how they are worded, and
 * the one-line-a-minute pacing.
 */
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "t.h"

static enum health_kind
classify(long status, const char *code, const char *msg, int transport,
    char *out, size_t len)
{
	struct aws_result r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.transport = transport;
	snprintf(r.code, sizeof(r.code), "%s", code);
	snprintf(r.message, sizeof(r.message), "%s", msg);
	return health_classify(&r, "s3 put", "s3://archive", "eu-west-1", out,
	    len);
}

int
main(void)
{
	static const struct { long st; const char *code; enum health_kind k; }
	    cases[] = {
		{ 404, "NoSuchBucket", HEALTH_MISSING },
		{ 400, "ResourceNotFoundException", HEALTH_MISSING },
		{ 404, "NotFound", HEALTH_MISSING },
		{ 403, "SignatureDoesNotMatch", HEALTH_CREDENTIALS },
		{ 403, "InvalidClientTokenId", HEALTH_CREDENTIALS },
		{ 403, "InvalidAccessKeyId", HEALTH_CREDENTIALS },
		{ 400, "UnrecognizedClientException", HEALTH_CREDENTIALS },
		{ 403, "AccessDenied", HEALTH_DENIED },
		{ 400, "AccessDeniedException", HEALTH_DENIED },
		{ 403, "AuthorizationError", HEALTH_DENIED },
		{ 301, "PermanentRedirect", HEALTH_REGION },
		{ 400, "AuthorizationHeaderMalformed", HEALTH_REGION },
		{ 301, "", HEALTH_REGION },
		{ 403, "", HEALTH_CREDENTIALS },
		{ 500, "InternalError", HEALTH_OK },
		{ 503, "SlowDown", HEALTH_OK },
		{ 400, "ProvisionedThroughputExceededException", HEALTH_OK },
		{ 400, "ExpiredIteratorException", HEALTH_OK },
		{ 0, "", HEALTH_OK },
	};
	struct health_pace p;
	char out[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum health_kind k = classify(cases[i].st, cases[i].code,
		    "the message", 0, out, sizeof(out));

		T_INTEQ(k, cases[i].k, cases[i].code[0] ? cases[i].code :
		    "no code");
		T_OK((k == HEALTH_OK) == (out[0] == '\0'),
		    "%s: a line exactly when permanent", cases[i].code);
	}
	classify(404, "NoSuchBucket", "The specified bucket does not exist", 0,
	    out, sizeof(out));
	T_STREQ(out, "s3 put s3://archive (region eu-west-1): NoSuchBucket: "
	    "The specified bucket does not exist (HTTP 404); check the name "
	    "and the region in the configuration", "wording of a missing bucket");
	T_INTEQ(classify(0, "", "connect: connection refused", 1, out,
	    sizeof(out)), HEALTH_OK, "a transport error heals");
	T_INTEQ(classify(0, "", "no AWS credentials available", 1, out,
	    sizeof(out)), HEALTH_CREDENTIALS, "no credentials at all");
	T_OK(strstr(out, "kinesis-keeper check") != NULL,
	    "credentials hint names the check command");
	T_INTEQ(classify(403, "AccessDenied", "m", 0, out, 8), HEALTH_DENIED,
	    "a short buffer still classifies");
	T_INTEQ(strlen(out), 7, "and truncates");

	memset(&p, 0, sizeof(p));
	T_INTEQ(health_due(&p, HEALTH_OK, 1000), 0, "healthy: nothing due");
	T_INTEQ(health_due(&p, HEALTH_MISSING, 1000), 1, "first error due");
	T_INTEQ(health_due(&p, HEALTH_MISSING, 1000 + 59999), 0,
	    "same error within a minute: quiet");
	T_INTEQ(health_due(&p, HEALTH_MISSING, 1000 + 60000), 1,
	    "same error a minute later: due");
	T_INTEQ(health_due(&p, HEALTH_DENIED, 1000 + 60001), 1,
	    "another kind: due at once");
	T_INTEQ(health_due(&p, HEALTH_OK, 1000 + 60002), 1,
	    "healed: due once");
	T_INTEQ(health_due(&p, HEALTH_OK, 1000 + 60003), 0,
	    "still healthy: quiet");
	T_INTEQ(health_due(&p, HEALTH_DENIED, 1000 + 60004), 1,
	    "after healing, the same kind again is due");
	return t_done();
}
