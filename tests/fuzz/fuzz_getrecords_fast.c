/* fuzz-sources: common/kinesis.c common/kinesis_parse.c common/jsonscan.c common/aws.c common/aws_error.c common/http.c common/http_parse.c common/sigv4.c common/creds.c common/util.c common/log.c common/cfg.c common/cfg_check.c common/cfg_dump.c common/cfg_file.c common/cfg_units.c */
/*
 * fuzz_getrecords_fast: the GetRecords fast scanner against the json-c
 * parser. The scanner may refuse what json-c accepts (the caller then uses
 * json-c), but whatever it accepts, json-c must accept with the same records,
 * iterator, MillisBehindLatest and child shards.
 */
#include <stdlib.h>
#include <string.h>

#include "kinesis.h"

int LLVMFuzzerTestOneInput(const unsigned char *, size_t);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	struct kinesis_records f, s;
	const char *why;
	size_t i;

	char *body = malloc(len ? len : 1);	/* the scanner works in place */

	if (body == NULL)
		return 0;
	memcpy(body, data, len);
	if (kinesis_parse_records_fast(body, len, &f) != 0) {
		free(body);
		return 0;
	}
	if (kinesis_parse_records_jsonc((const char *)data, len, &s, &why) == -1)
		abort();	/* the scanner accepted what json-c refuses */
	if (f.n != s.n || f.data_bytes != s.data_bytes ||
	    f.millis_behind != s.millis_behind || f.nchild != s.nchild ||
	    (f.next_iterator == NULL) != (s.next_iterator == NULL) ||
	    (f.next_iterator && strcmp(f.next_iterator, s.next_iterator) != 0))
		abort();
	for (i = 0; i < f.n; i++) {
		const struct kinesis_record *a = &f.recs[i], *b = &s.recs[i];

		if (strcmp(a->seq, b->seq) != 0 || a->pk_len != b->pk_len ||
		    memcmp(a->pk, b->pk, a->pk_len) != 0 ||
		    a->ts_ms != b->ts_ms || a->data_len != b->data_len ||
		    memcmp(a->data, b->data, a->data_len) != 0)
			abort();
	}
	for (i = 0; i < f.nchild; i++)
		if (strcmp(f.child_shards[i], s.child_shards[i]) != 0)
			abort();
	kinesis_records_free(&f);
	kinesis_records_free(&s);
	free(body);
	return 0;
}
