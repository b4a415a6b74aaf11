/*
 * health.h: errors that will not heal by themselves. Tells a permanent AWS
 * error (a missing bucket, stream or topic, refused credentials, a missing
 * permission) from a passing one, words it for an operator (what, which
 * resource, which region, what to check), and keeps such a line to one a
 * minute per kind, not one per retry.
 */
#ifndef KK_HEALTH_H
#define KK_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "aws.h"

#define HEALTH_LOG_EVERY_MS	60000

enum health_kind {
	HEALTH_OK = 0,		/* not permanent: retries may heal it */
	HEALTH_CREDENTIALS,	/* the credentials are refused */
	HEALTH_DENIED,		/* the identity lacks a permission */
	HEALTH_MISSING,		/* the resource does not exist (there) */
	HEALTH_REGION		/* the resource lives in another region */
};

/*
 * If res is an error that will not heal by itself, write one line into out
 * ("<what> <resource> (region R): <code>: <message>; <what to check>") and
 * return its kind; otherwise return HEALTH_OK and leave out empty. what
 * names the call ("s3 put", "list shards"), resource the object of it
 * ("s3://bucket", "stream orders", "topic arn:...").
 */
enum health_kind health_classify(const struct aws_result *, const char *what,
	    const char *resource, const char *region, char *out, size_t outlen);

/* Log-line pacing: one per kind a minute while the error lasts. */
struct health_pace {
	enum health_kind	kind;	/* the kind last reported, HEALTH_OK if none */
	uint64_t		last_ms;
};

/* 1 when a line of this kind is due now: a new kind, or a minute since the
 * last line; records it. HEALTH_OK resets the pace and returns 1 when an
 * error was outstanding (time to say it healed). */
int	health_due(struct health_pace *, enum health_kind, uint64_t now_ms);

#endif
