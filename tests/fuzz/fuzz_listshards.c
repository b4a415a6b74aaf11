/*
 * fuzz_listshards.c: kinesis_parse_shards on arbitrary bodies (in an
 * exactly-sized copy) never crashes or leaks; a failure says why and
 * returns no token; a success gives shards with safe ids and valid
 * sequence numbers. Each body is also parsed as a second page after a
 * fixed first one, which must survive untouched.
 */
/* fuzz-sources: common/kinesis.c common/kinesis_parse.c common/jsonscan.c common/aws.c common/aws_error.c common/http.c common/http_parse.c common/sigv4.c common/creds.c common/util.c common/log.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinesis.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_listshards: " __VA_ARGS__);		\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

static const char page1[] =
    "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\","
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
    "\"EndingSequenceNumber\":\"99\"}},{\"ShardId\":\"shardId-000000000001\","
    "\"ParentShardId\":\"shardId-000000000000\",\"SequenceNumberRange\":"
    "{\"StartingSequenceNumber\":\"100\"}}],\"NextToken\":\"t1\"}";

static volatile unsigned sink;

static void
check_shards(const struct kinesis_shard *s, size_t from, size_t n)
{
	size_t i;
	unsigned t = 0;

	for (i = from; i < n; i++) {
		if (s[i].id == NULL || !safe_component(s[i].id))
			FAIL("shard %zu: bad id", i);
		if (s[i].parent != NULL && s[i].parent[0] == '\0')
			FAIL("shard %zu: empty parent", i);
		if (s[i].adjacent_parent != NULL &&
		    s[i].adjacent_parent[0] == '\0')
			FAIL("shard %zu: empty adjacent parent", i);
		if (s[i].starting_seq != NULL && !seq_valid(s[i].starting_seq))
			FAIL("shard %zu: bad starting seq", i);
		if (s[i].ending_seq != NULL && !seq_valid(s[i].ending_seq))
			FAIL("shard %zu: bad ending seq", i);
		t += (unsigned char)s[i].id[0];
		if (s[i].parent != NULL)
			t += (unsigned)strlen(s[i].parent);
		if (s[i].adjacent_parent != NULL)
			t += (unsigned)strlen(s[i].adjacent_parent);
	}
	sink += t;
}

/* Parse body after n0 shards already there; return the new count. */
static size_t
parse(const char *body, size_t len, struct kinesis_shard **s, size_t n0)
{
	size_t n = n0;
	char *tok = (char *)(uintptr_t)"stale";
	const char *why = NULL;
	int r;

	r = kinesis_parse_shards(body, len, s, &n, &tok, &why);
	if (n < n0)
		FAIL("shard count went down from %zu to %zu", n0, n);
	if (r == -1) {
		if (why == NULL || *why == '\0')
			FAIL("failure without a reason");
		if (tok != NULL)
			FAIL("failure with a token");
	} else if (r == 0) {
		if (why != NULL)
			FAIL("success with a reason");
		if (tok != NULL && *tok == '\0')
			FAIL("empty token");
	} else
		FAIL("returned %d", r);
	/* what came before an error is the caller's (kinesis_list_shards
	 * frees it): it must be whole */
	check_shards(*s, n0, n);
	free(tok);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kinesis_shard *s = NULL;
	char *body;
	size_t n;

	body = xmalloc(size ? size : 1);
	memcpy(body, data, size);

	n = parse(body, size, &s, 0);
	kinesis_shards_free(s, n);

	s = NULL;
	n = parse(page1, sizeof(page1) - 1, &s, 0);
	if (n != 2)
		FAIL("the fixed first page gave %zu shards", n);
	n = parse(body, size, &s, n);
	if (strcmp(s[0].id, "shardId-000000000000") != 0 ||
	    strcmp(s[0].ending_seq, "99") != 0 ||
	    strcmp(s[1].id, "shardId-000000000001") != 0 ||
	    strcmp(s[1].parent, "shardId-000000000000") != 0 ||
	    strcmp(s[1].starting_seq, "100") != 0)
		FAIL("the first page changed");
	kinesis_shards_free(s, n);
	free(body);
	return 0;
}
