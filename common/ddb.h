/*
 * ddb.h: a small DynamoDB client (JSON 1.0 protocol over aws_call): the
 * table calls the lease table needs, and the attribute value helpers. A
 * failed ConditionExpression is reported apart from every other error:
 * for a lease it means "someone else changed it", never "try again".
 */
#ifndef KK_DDB_H
#define KK_DDB_H

#include <stdint.h>

#include <json-c/json.h>

#include "aws.h"

#define DDB_CONDITION	1	/* ConditionalCheckFailedException */

/* Bound every later call: timeout per attempt (default 10 s) and attempts
 * (default 3). A lease holder must know within its lease duration. */
void	ddb_set_limits(long timeout_ms, int attempts);
/* One call: req is consumed. 0 (with *out the parsed answer when out is
 * not NULL, a JSON object), DDB_CONDITION, or -1 (res says why). */
int	ddb_call(struct aws_ctx *, const char *op, struct json_object *req,
	    struct json_object **out, struct aws_result *);
/* 0 with the table's status ("ACTIVE", "CREATING"...), 1 no such table,
 * -1 error. */
int	ddb_describe_table(struct aws_ctx *, const char *table, char *status,
	    size_t, struct aws_result *);
/* Create the lease table (hash key leaseKey S, on-demand billing) unless
 * it exists, and wait (bounded by wait_ms) until it is ACTIVE. 0 or -1. */
int	ddb_create_table(struct aws_ctx *, const char *table, uint64_t wait_ms,
	    int (*stop)(void), struct aws_result *);

/* Attribute values: {"S": s}, {"N": "n"}, {"SS": [...]}. */
struct json_object *ddb_s(const char *);
struct json_object *ddb_n(int64_t);
/* Typed reads of an item's attribute: NULL (or -1) when absent or of
 * another type; ddb_get_n: 0, 1 absent, -1 not an integer. */
const char	*ddb_get_s(struct json_object *item, const char *name);
int		 ddb_get_n(struct json_object *item, const char *name,
		    int64_t *);
struct json_object *ddb_get_ss(struct json_object *item, const char *name);

#endif
