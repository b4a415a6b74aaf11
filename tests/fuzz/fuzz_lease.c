/*
 * fuzz_lease.c: a lease table item as DynamoDB (or whatever answers in its
 * place) returns it, through lease_from_item: whatever the input, no crash
 * and no leak; an accepted lease has a safe leaseKey, a counter >= 0, at
 * most two safe parents and NUL-terminated fields.
 */
/* fuzz-sources: common/lease.c common/ddb.c common/aws.c common/aws_error.c common/http.c common/http_parse.c common/sigv4.c common/creds.c common/sts.c common/cfg.c common/cfg_check.c common/cfg_dump.c common/cfg_file.c common/cfg_units.c common/util.c common/log.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lease.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_lease: " __VA_ARGS__);			\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j;
	struct lease l;
	const char *why;
	int r, i;

	j = json_tokener_parse_ex(tok, (const char *)data, (int)len);
	json_tokener_free(tok);
	if (j == NULL)
		return 0;
	r = lease_from_item(j, &l, &why);
	if (r == -1 && why == NULL)
		FAIL("refused without a reason");
	if (r == 0) {
		if (!safe_component(l.key) ||
		    memchr(l.owner, '\0', sizeof(l.owner)) == NULL ||
		    memchr(l.checkpoint, '\0', sizeof(l.checkpoint)) == NULL ||
		    memchr(l.last_key, '\0', sizeof(l.last_key)) == NULL ||
		    l.counter < 0 || l.nparents < 0 ||
		    l.nparents > LEASE_PARENTS)
			FAIL("accepted a bad lease");
		for (i = 0; i < l.nparents; i++)
			if (!safe_component(l.parents[i]))
				FAIL("accepted a bad parent");
	}
	json_object_put(j);
	return 0;
}
