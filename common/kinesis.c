/*
 * kinesis.c: the Kinesis Data Streams calls (ListShards, GetShardIterator,
 * GetRecords, DescribeStreamSummary) over the JSON 1.1 protocol. The response bodies are parsed in
 * kinesis_parse.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kinesis.h"

#define KINESIS_TARGET		"Kinesis_20131202."
/* 10 MB of data, as base64 inside JSON */
#define KINESIS_MAX_RESPONSE	(32 * 1024 * 1024)

/* a bound on one ListShards call (0: the client's default) */
static long list_timeout_ms;

static int
kinesis_post(struct aws_ctx *ctx, const char *op, const char *body,
    int max_attempts, int fail_fast, struct aws_result *res)
{
	struct aws_call call;

	memset(&call, 0, sizeof(call));
	call.max_response = KINESIS_MAX_RESPONSE;
	call.max_attempts = max_attempts;
	call.throttle_fail_fast = fail_fast;
	if (strcmp(op, "ListShards") == 0 && list_timeout_ms > 0) {
		call.timeout_ms = list_timeout_ms;
		call.max_attempts = 1;
	}
	return aws_json_call(ctx, &ctx->kinesis, "application/x-amz-json-1.1",
	    KINESIS_TARGET, op, body, &call, res);
}

int
kinesis_list_shards_bounded(struct aws_ctx *ctx, const char *stream,
    long timeout_ms, struct kinesis_shard **out, size_t *nout,
    struct aws_result *res)
{
	int r;

	list_timeout_ms = timeout_ms;
	r = kinesis_list_shards(ctx, stream, out, nout, res);
	list_timeout_ms = 0;
	return r;
}

int
kinesis_list_shards(struct aws_ctx *ctx, const char *stream,
    struct kinesis_shard **out, size_t *nout, struct aws_result *res)
{
	struct json_object *req;
	char *token = NULL;
	const char *why;
	int pages = 0;

	*out = NULL;
	*nout = 0;
	do {
		req = json_object_new_object();
		/* AWS forbids StreamName together with NextToken */
		if (token == NULL)
			json_object_object_add(req, "StreamName",
			    json_object_new_string(stream));
		else
			json_object_object_add(req, "NextToken",
			    json_object_new_string(token));
		free(token);
		token = NULL;
		if (kinesis_post(ctx, "ListShards",
		    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN),
		    3, 0, res) == -1) {
			json_object_put(req);
			goto fail;
		}
		json_object_put(req);
		if (kinesis_parse_shards(res->body.data, res->body.len, out,
		    nout, &token, &why) == -1) {
			snprintf(res->code, sizeof(res->code), "BadResponse");
			snprintf(res->message, sizeof(res->message),
			    "ListShards: %s", why);
			goto fail;
		}
	} while (token != NULL && ++pages < 1000);
	free(token);
	return 0;
fail:
	free(token);
	kinesis_shards_free(*out, *nout);
	*out = NULL;
	*nout = 0;
	return -1;
}

int
kinesis_describe_stream_summary(struct aws_ctx *ctx, const char *stream,
    char *status, size_t statuslen, long *open_shards,
    struct aws_result *res)
{
	struct json_object *req;

	if (statuslen > 0)
		status[0] = '\0';
	*open_shards = -1;
	req = json_object_new_object();
	json_object_object_add(req, "StreamName", json_object_new_string(stream));
	if (kinesis_post(ctx, "DescribeStreamSummary",
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 2, 0,
	    res) == -1) {
		json_object_put(req);
		return -1;
	}
	json_object_put(req);
	if (kinesis_parse_stream_summary(res->body.data, status, statuslen,
	    open_shards) == -1) {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message),
		    "DescribeStreamSummary: no StreamStatus in the response");
		return -1;
	}
	return 0;
}

int
kinesis_get_iterator(struct aws_ctx *ctx, const char *stream,
    const char *shard, const char *type, const char *seq, int64_t ts_ms,
    char **iterator, struct aws_result *res)
{
	struct json_object *req;
	int ret = -1;

	*iterator = NULL;
	req = json_object_new_object();
	json_object_object_add(req, "StreamName", json_object_new_string(stream));
	json_object_object_add(req, "ShardId", json_object_new_string(shard));
	json_object_object_add(req, "ShardIteratorType",
	    json_object_new_string(type));
	if (seq != NULL)
		json_object_object_add(req, "StartingSequenceNumber",
		    json_object_new_string(seq));
	if (strcmp(type, "AT_TIMESTAMP") == 0)
		json_object_object_add(req, "Timestamp",
		    json_object_new_double((double)ts_ms / 1000.0));
	if (kinesis_post(ctx, "GetShardIterator",
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 8, 0,
	    res) == -1) {
		json_object_put(req);
		return -1;
	}
	json_object_put(req);
	if (kinesis_parse_iterator(res->body.data, iterator) == 0)
		ret = 0;
	else {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message),
		    "GetShardIterator: no ShardIterator in the response");
	}
	return ret;
}

/* s as the inside of a JSON string */
static void
json_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)c);
		} else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_addc(b, (char)c);
	}
}

/* Written out, not built with json-c: an idle shard makes this call every
 * second, and its shape never changes. */
void
kinesis_get_records_body(struct buf *b, const char *iterator, int limit)
{
	buf_reserve(b, strlen(iterator) + 64);
	buf_addstr(b, "{\"ShardIterator\":\"");
	json_escape(b, iterator);
	buf_printf(b, "\",\"Limit\":%d}", limit);
}

int
kinesis_get_records(struct aws_ctx *ctx, const char *iterator, int limit,
    struct kinesis_records *out, struct aws_result *res)
{
	struct buf req;
	const char *why;
	int r;

	memset(out, 0, sizeof(*out));
	buf_init(&req);
	kinesis_get_records_body(&req, iterator, limit);
	/* one attempt: errors and throttles come back to the caller, which
	 * keeps the read budget */
	r = kinesis_post(ctx, "GetRecords", req.data, 1, 1, res);
	buf_free(&req);
	if (r == -1)
		return -1;
	if (kinesis_parse_records(res->body.data, res->body.len, out,
	    &why) == -1) {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message), "GetRecords: %s",
		    why);
		return -1;
	}
	return 0;
}
