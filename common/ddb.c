/*
 * ddb.c: DynamoDB over the JSON 1.0 protocol (see ddb.h). Each answer is
 * parsed with json-c and read through typed accessors, so a hostile or
 * broken answer is refused, never trusted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb.h"
#include "log.h"
#include "util.h"

#define DDB_TARGET		"DynamoDB_20120810."
#define DDB_MAX_RESPONSE	(16 * 1024 * 1024)
#define DDB_TIMEOUT_MS		10000

/* the bound of each call (ddb_set_limits) */
static long	call_timeout_ms = DDB_TIMEOUT_MS;
static int	call_attempts = 3;

void
ddb_set_limits(long timeout_ms, int attempts)
{
	call_timeout_ms = timeout_ms > 0 ? timeout_ms : DDB_TIMEOUT_MS;
	call_attempts = attempts > 0 ? attempts : 3;
}

int
ddb_call(struct aws_ctx *ctx, const char *op, struct json_object *req,
    struct json_object **out, struct aws_result *res)
{
	struct aws_call call;
	const char *body;
	struct json_object *j;
	int r;

	if (out != NULL)
		*out = NULL;
	body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	memset(&call, 0, sizeof(call));
	call.max_response = DDB_MAX_RESPONSE;
	call.timeout_ms = call_timeout_ms;
	call.max_attempts = call_attempts;
	r = aws_json_call(ctx, &ctx->dynamodb, "application/x-amz-json-1.0",
	    DDB_TARGET, op, body, &call, res);
	json_object_put(req);
	if (r == -1)
		return strcmp(res->code, "ConditionalCheckFailedException") ==
		    0 ? DDB_CONDITION : -1;
	if (out == NULL)
		return 0;
	j = res->body.len > 0 ? json_tokener_parse(res->body.data) : NULL;
	if (j == NULL || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message), "dynamodb %s: "
		    "the answer is not a JSON object", op);
		return -1;
	}
	*out = j;
	return 0;
}

struct json_object *
ddb_s(const char *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "S", json_object_new_string(s));
	return o;
}

struct json_object *
ddb_n(int64_t n)
{
	struct json_object *o = json_object_new_object();
	char b[32];

	snprintf(b, sizeof(b), "%" PRId64, n);
	json_object_object_add(o, "N", json_object_new_string(b));
	return o;
}

static struct json_object *
typed(struct json_object *item, const char *name, const char *type)
{
	struct json_object *a, *v;

	if (item == NULL || !json_object_is_type(item, json_type_object) ||
	    !json_object_object_get_ex(item, name, &a) ||
	    !json_object_is_type(a, json_type_object) ||
	    !json_object_object_get_ex(a, type, &v))
		return NULL;
	return v;
}

const char *
ddb_get_s(struct json_object *item, const char *name)
{
	struct json_object *v = typed(item, name, "S");

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	/* a NUL inside is not a string this program can keep */
	if (strlen(json_object_get_string(v)) !=
	    (size_t)json_object_get_string_len(v))
		return NULL;
	return json_object_get_string(v);
}

int
ddb_get_n(struct json_object *item, const char *name, int64_t *out)
{
	struct json_object *v = typed(item, name, "N");
	const char *s;
	char *end;
	long long n;

	if (v == NULL)
		return json_object_is_type(item, json_type_object) &&
		    json_object_object_get_ex(item, name, NULL) ? -1 : 1;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (*s == '\0' || strlen(s) > 20)
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	*out = (int64_t)n;
	return 0;
}

struct json_object *
ddb_get_ss(struct json_object *item, const char *name)
{
	struct json_object *v = typed(item, name, "SS");

	if (v == NULL || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static void
nap(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct json_object *
table_req(const char *table)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "TableName",
	    json_object_new_string(table));
	return req;
}

int
ddb_describe_table(struct aws_ctx *ctx, const char *table, char *status,
    size_t len, struct aws_result *res)
{
	struct json_object *out, *t, *s;
	int r;

	if (len > 0)
		status[0] = '\0';
	r = ddb_call(ctx, "DescribeTable", table_req(table), &out, res);
	if (r != 0)
		return strcmp(res->code, "ResourceNotFoundException") == 0 ?
		    1 : -1;
	if (json_object_object_get_ex(out, "Table", &t) &&
	    json_object_object_get_ex(t, "TableStatus", &s) &&
	    json_object_is_type(s, json_type_string))
		str_copy(status, json_object_get_string(s), len);
	json_object_put(out);
	if (len > 0 && status[0] == '\0') {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message), "DescribeTable: "
		    "no TableStatus");
		return -1;
	}
	return 0;
}

int
ddb_create_table(struct aws_ctx *ctx, const char *table, uint64_t wait_ms,
    int (*stop)(void), struct aws_result *res)
{
	struct json_object *req, *a, *k, *arr;
	char status[32];
	uint64_t until = now_ms() + wait_ms;
	int r;

	r = ddb_describe_table(ctx, table, status, sizeof(status), res);
	if (r == -1)
		return -1;
	if (r == 1) {
		req = table_req(table);
		arr = json_object_new_array();
		a = json_object_new_object();
		json_object_object_add(a, "AttributeName",
		    json_object_new_string("leaseKey"));
		json_object_object_add(a, "AttributeType",
		    json_object_new_string("S"));
		json_object_array_add(arr, a);
		json_object_object_add(req, "AttributeDefinitions", arr);
		arr = json_object_new_array();
		k = json_object_new_object();
		json_object_object_add(k, "AttributeName",
		    json_object_new_string("leaseKey"));
		json_object_object_add(k, "KeyType",
		    json_object_new_string("HASH"));
		json_object_array_add(arr, k);
		json_object_object_add(req, "KeySchema", arr);
		json_object_object_add(req, "BillingMode",
		    json_object_new_string("PAY_PER_REQUEST"));
		if (ddb_call(ctx, "CreateTable", req, NULL, res) != 0 &&
		    strcmp(res->code, "ResourceInUseException") != 0)
			return -1;
		log_info("lease table %s: created (on-demand billing)", table);
	}
	for (;;) {
		if (r == 0 && strcmp(status, "ACTIVE") == 0)
			return 0;
		if (now_ms() >= until || (stop != NULL && stop())) {
			snprintf(res->code, sizeof(res->code), "NotActive");
			snprintf(res->message, sizeof(res->message), "table %s "
			    "is not ACTIVE yet (%s)", table, status[0] ?
			    status : "creating");
			return -1;
		}
		nap(500);
		r = ddb_describe_table(ctx, table, status, sizeof(status), res);
		if (r == -1)
			return -1;
	}
}
