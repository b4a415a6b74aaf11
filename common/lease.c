/*
 * lease.c: the KCL 2.x lease record and its conditional writes (see
 * lease.h), after the Java KCL's DynamoDBLeaseRefresher/Serializer: a take
 * is conditional on the leaseCounter the taker saw, an evict on the owner;
 * renewals and checkpoints here are conditional on the owner and our
 * fencing token (the counter also moves with the worker's checkpoints,
 * written from another process), and every write adds 1 to leaseCounter.
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb.h"
#include "lease.h"
#include "log.h"
#include "util.h"

#define SCAN_PAGES_MAX	100000

/* a string attribute into a fixed field: absent is "", too long refused */
static int
get_str(struct json_object *item, const char *name, char *out, size_t len,
    const char **why, const char *what)
{
	const char *s = ddb_get_s(item, name);

	out[0] = '\0';
	if (s == NULL) {
		if (json_object_object_get_ex(item, name, NULL)) {
			*why = what;
			return -1;
		}
		return 0;
	}
	if (strlen(s) >= len) {
		*why = what;
		return -1;
	}
	str_copy(out, s, len);
	return 0;
}

int
lease_from_item(struct json_object *item, struct lease *l, const char **why)
{
	struct json_object *ss;
	const char *et;
	int64_t v;
	size_t i, n;
	int r;

	memset(l, 0, sizeof(*l));
	*why = "not an object";
	if (item == NULL || !json_object_is_type(item, json_type_object))
		return -1;
	/* KCL 3.x keeps other entities in the table: not leases */
	et = ddb_get_s(item, "entityType");
	if (et != NULL && strcmp(et, "LEASE") != 0)
		return 1;
	if (get_str(item, "leaseKey", l->key, sizeof(l->key), why,
	    "leaseKey not a short string") == -1)
		return -1;
	if (l->key[0] == '\0' || !safe_component(l->key)) {
		*why = "no usable leaseKey";
		return -1;
	}
	if (get_str(item, "leaseOwner", l->owner, sizeof(l->owner), why,
	    "leaseOwner not a short string") == -1 ||
	    get_str(item, "checkpoint", l->checkpoint, sizeof(l->checkpoint),
	    why, "checkpoint not a short string") == -1 ||
	    get_str(item, "kkToken", l->token, sizeof(l->token), why,
	    "kkToken not a token") == -1 ||
	    get_str(item, "kkLastKey", l->last_key, sizeof(l->last_key), why,
	    "kkLastKey not a key") == -1 ||
	    get_str(item, "kkLastSha256", l->last_sha256,
	    sizeof(l->last_sha256), why, "kkLastSha256 not a hash") == -1 ||
	    get_str(item, "kkAnnounced", l->announced, sizeof(l->announced),
	    why, "kkAnnounced not a key") == -1 ||
	    get_str(item, "kkWantedBy", l->wanted, sizeof(l->wanted), why,
	    "kkWantedBy not a short string") == -1)
		return -1;
	if ((r = ddb_get_n(item, "leaseCounter", &l->counter)) != 0 ||
	    l->counter < 0) {
		*why = r == 1 ? "no leaseCounter" : "leaseCounter not a number";
		return -1;
	}
	if (ddb_get_n(item, "checkpointSubSequenceNumber", &l->subseq) == -1 ||
	    ddb_get_n(item, "ownerSwitchesSinceCheckpoint",
	    &l->owner_switches) == -1) {
		*why = "a number attribute is not a number";
		return -1;
	}
	if ((r = ddb_get_n(item, "kkInside", &v)) == -1) {
		*why = "kkInside not a number";
		return -1;
	}
	l->inside = r == 0 && v != 0;
	if (l->checkpoint[0] != '\0' && !seq_valid(l->checkpoint) &&
	    strcmp(l->checkpoint, "TRIM_HORIZON") != 0 &&
	    strcmp(l->checkpoint, "LATEST") != 0 &&
	    strcmp(l->checkpoint, "AT_TIMESTAMP") != 0 &&
	    strcmp(l->checkpoint, LEASE_SHARD_END) != 0) {
		*why = "checkpoint neither a sequence number nor a position";
		return -1;
	}
	if ((ss = ddb_get_ss(item, "parentShardId")) != NULL) {
		n = json_object_array_length(ss);
		if (n > LEASE_PARENTS) {
			*why = "more than two parentShardId";
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(ss,
			    i);
			const char *s;

			if (!json_object_is_type(e, json_type_string) ||
			    strlen(s = json_object_get_string(e)) >=
			    LEASE_KEY_MAX || !safe_component(s)) {
				*why = "parentShardId not a shard id";
				return -1;
			}
			str_copy(l->parents[l->nparents++], s, LEASE_KEY_MAX);
		}
	} else if (json_object_object_get_ex(item, "parentShardId", NULL)) {
		*why = "parentShardId not a string set";
		return -1;
	}
	*why = NULL;
	return 0;
}

static struct json_object *
key_of(const char *shard)
{
	struct json_object *k = json_object_new_object();

	json_object_object_add(k, "leaseKey", ddb_s(shard));
	return k;
}

static struct json_object *
req_new(const char *table, const char *shard)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "TableName",
	    json_object_new_string(table));
	if (shard != NULL)
		json_object_object_add(req, "Key", key_of(shard));
	return req;
}

static void
set_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

int
lease_scan(struct aws_ctx *ctx, const char *table, struct lease **out,
    size_t *nout, struct aws_result *res)
{
	struct json_object *req, *ans, *items, *lek = NULL;
	struct lease *v = NULL;
	size_t n = 0, cap = 0, i, m;
	const char *why;
	int pages = 0, r;

	do {
		req = req_new(table, NULL);
		json_object_object_add(req, "ConsistentRead",
		    json_object_new_boolean(1));
		if (lek != NULL)
			json_object_object_add(req, "ExclusiveStartKey", lek);
		lek = NULL;
		aws_result_free(res);
		aws_result_init(res);
		if (ddb_call(ctx, "Scan", req, &ans, res) != 0)
			goto fail;
		if (!json_object_object_get_ex(ans, "Items", &items) ||
		    !json_object_is_type(items, json_type_array)) {
			json_object_put(ans);
			snprintf(res->code, sizeof(res->code), "BadResponse");
			snprintf(res->message, sizeof(res->message), "Scan: no "
			    "Items");
			goto fail;
		}
		m = json_object_array_length(items);
		for (i = 0; i < m; i++) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				v = xrealloc(v, cap * sizeof(*v));
			}
			r = lease_from_item(json_object_array_get_idx(items, i),
			    &v[n], &why);
			if (r == -1) {
				json_object_put(ans);
				snprintf(res->code, sizeof(res->code),
				    "BadResponse");
				snprintf(res->message, sizeof(res->message),
				    "Scan: item %zu refused: %s", i, why);
				goto fail;
			}
			if (r == 0)
				n++;
		}
		if (json_object_object_get_ex(ans, "LastEvaluatedKey", &lek) &&
		    json_object_is_type(lek, json_type_object))
			lek = json_object_get(lek);
		else
			lek = NULL;
		json_object_put(ans);
	} while (lek != NULL && ++pages < SCAN_PAGES_MAX);
	json_object_put(lek);
	*out = v;
	*nout = n;
	return 0;
fail:
	free(v);
	*out = NULL;
	*nout = 0;
	return -1;
}

int
lease_get(struct aws_ctx *ctx, const char *table, const char *shard,
    struct lease *l, struct aws_result *res)
{
	struct json_object *req = req_new(table, shard), *ans, *item;
	const char *why;
	int r;

	json_object_object_add(req, "ConsistentRead",
	    json_object_new_boolean(1));
	if (ddb_call(ctx, "GetItem", req, &ans, res) != 0)
		return -1;
	if (!json_object_object_get_ex(ans, "Item", &item)) {
		json_object_put(ans);
		return 1;
	}
	r = lease_from_item(item, l, &why);
	json_object_put(ans);
	if (r != 0 || strcmp(l->key, shard) != 0) {
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message), "GetItem %s: %s",
		    shard, r == 0 ? "another leaseKey" : r == 1 ? "not a lease" :
		    why);
		return -1;
	}
	return 0;
}

int
lease_create(struct aws_ctx *ctx, const char *table, const char *shard,
    const char *const *parents, int nparents, const char *checkpoint,
    struct aws_result *res)
{
	struct json_object *req = req_new(table, NULL), *item, *ss;
	int i;

	item = json_object_new_object();
	json_object_object_add(item, "leaseKey", ddb_s(shard));
	json_object_object_add(item, "leaseCounter", ddb_n(0));
	json_object_object_add(item, "checkpoint", ddb_s(checkpoint));
	json_object_object_add(item, "checkpointSubSequenceNumber", ddb_n(0));
	json_object_object_add(item, "ownerSwitchesSinceCheckpoint", ddb_n(0));
	if (nparents > 0) {
		struct json_object *a = json_object_new_array();

		for (i = 0; i < nparents; i++)
			json_object_array_add(a,
			    json_object_new_string(parents[i]));
		ss = json_object_new_object();
		json_object_object_add(ss, "SS", a);
		json_object_object_add(item, "parentShardId", ss);
	}
	json_object_object_add(req, "Item", item);
	set_str(req, "ConditionExpression", "attribute_not_exists(leaseKey)");
	return ddb_call(ctx, "PutItem", req, NULL, res);
}

/* The values of an UpdateItem: ":one" always (every write moves the
 * counter). */
static struct json_object *
values(void)
{
	struct json_object *v = json_object_new_object();

	json_object_object_add(v, ":one", ddb_n(1));
	return v;
}

int
lease_take(struct aws_ctx *ctx, const char *table, struct lease *l,
    const char *owner, struct aws_result *res)
{
	struct json_object *req = req_new(table, l->key), *v;
	char token[LEASE_TOKEN_LEN];
	int switched = l->owner[0] != '\0' && strcmp(l->owner, owner) != 0;
	int r;

	/* DynamoDB refuses a value no expression uses */
	v = switched ? values() : json_object_new_object();
	lease_token(token);
	json_object_object_add(v, ":seen", ddb_n(l->counter));
	json_object_object_add(v, ":next", ddb_n(l->counter + 1));
	json_object_object_add(v, ":o", ddb_s(owner));
	json_object_object_add(v, ":t", ddb_s(token));
	json_object_object_add(req, "ExpressionAttributeValues", v);
	set_str(req, "ConditionExpression", "leaseCounter = :seen");
	/* a take answers any request to hand the lease over */
	set_str(req, "UpdateExpression", switched ?
	    "SET leaseOwner = :o, kkToken = :t, leaseCounter = :next "
	    "REMOVE kkWantedBy ADD ownerSwitchesSinceCheckpoint :one" :
	    "SET leaseOwner = :o, kkToken = :t, leaseCounter = :next "
	    "REMOVE kkWantedBy");
	r = ddb_call(ctx, "UpdateItem", req, NULL, res);
	if (r == 0) {
		str_copy(l->owner, owner, sizeof(l->owner));
		str_copy(l->token, token, sizeof(l->token));
		l->counter++;
		l->owner_switches += switched;
	}
	return r;
}

/* An UpdateItem on owner and token. */
static int
owned_update(struct aws_ctx *ctx, const char *table, const char *shard,
    const char *owner, const char *token, struct json_object *v,
    const char *update, struct json_object **ans, struct aws_result *res)
{
	struct json_object *req = req_new(table, shard);

	json_object_object_add(v, ":o", ddb_s(owner));
	json_object_object_add(v, ":t", ddb_s(token));
	json_object_object_add(req, "ExpressionAttributeValues", v);
	set_str(req, "ConditionExpression", "leaseOwner = :o AND kkToken = :t");
	set_str(req, "UpdateExpression", update);
	if (ans != NULL)
		set_str(req, "ReturnValues", "UPDATED_NEW");
	return ddb_call(ctx, "UpdateItem", req, ans, res);
}

int
lease_renew(struct aws_ctx *ctx, const char *table, const char *shard,
    const char *owner, const char *token, const char *announced,
    int64_t *counter, struct aws_result *res)
{
	struct json_object *v = values(), *ans, *attrs;
	int r;

	if (announced != NULL)
		json_object_object_add(v, ":a", ddb_s(announced));
	r = owned_update(ctx, table, shard, owner, token, v, announced ?
	    "SET kkAnnounced = :a ADD leaseCounter :one" :
	    "ADD leaseCounter :one", &ans, res);
	if (r != 0)
		return r;
	if (!json_object_object_get_ex(ans, "Attributes", &attrs) ||
	    ddb_get_n(attrs, "leaseCounter", counter) != 0) {
		json_object_put(ans);
		snprintf(res->code, sizeof(res->code), "BadResponse");
		snprintf(res->message, sizeof(res->message), "UpdateItem %s: "
		    "no leaseCounter in the answer", shard);
		return -1;
	}
	json_object_put(ans);
	return 0;
}

int
lease_evict(struct aws_ctx *ctx, const char *table, const char *shard,
    const char *owner, const char *token, const char *announced,
    struct aws_result *res)
{
	struct json_object *v = values();

	if (announced == NULL)
		return owned_update(ctx, table, shard, owner, token, v,
		    "REMOVE leaseOwner, kkToken ADD leaseCounter :one", NULL,
		    res);
	json_object_object_add(v, ":a", ddb_s(announced));
	return owned_update(ctx, table, shard, owner, token, v,
	    "SET kkAnnounced = :a REMOVE leaseOwner, kkToken "
	    "ADD leaseCounter :one", NULL, res);
}

int
lease_checkpoint(struct aws_ctx *ctx, const char *table, const char *shard,
    const char *owner, const char *token, const char *checkpoint,
    int64_t subseq, int inside, const char *last_key,
    const char *last_sha256, struct aws_result *res)
{
	struct json_object *v = values();
	const char *up;

	json_object_object_add(v, ":cp", ddb_s(checkpoint));
	json_object_object_add(v, ":sub", ddb_n(subseq));
	json_object_object_add(v, ":zero", ddb_n(0));
	json_object_object_add(v, ":in", ddb_n(inside ? 1 : 0));
	if (last_key != NULL && last_key[0] != '\0') {
		json_object_object_add(v, ":k", ddb_s(last_key));
		json_object_object_add(v, ":h", ddb_s(last_sha256 ?
		    last_sha256 : ""));
		up = "SET checkpoint = :cp, checkpointSubSequenceNumber = :sub, "
		    "ownerSwitchesSinceCheckpoint = :zero, kkInside = :in, "
		    "kkLastKey = :k, kkLastSha256 = :h ADD leaseCounter :one";
	} else
		up = "SET checkpoint = :cp, checkpointSubSequenceNumber = :sub, "
		    "ownerSwitchesSinceCheckpoint = :zero, kkInside = :in "
		    "ADD leaseCounter :one";
	return owned_update(ctx, table, shard, owner, token, v, up, NULL, res);
}

int
lease_ask(struct aws_ctx *ctx, const char *table, const struct lease *l,
    const char *me, struct aws_result *res)
{
	struct json_object *req = req_new(table, l->key), *v;

	v = json_object_new_object();
	json_object_object_add(v, ":o", ddb_s(l->owner));
	json_object_object_add(v, ":w", ddb_s(me));
	json_object_object_add(req, "ExpressionAttributeValues", v);
	set_str(req, "UpdateExpression", "SET kkWantedBy = :w");
	set_str(req, "ConditionExpression", "leaseOwner = :o");
	return ddb_call(ctx, "UpdateItem", req, NULL, res);
}

int
lease_add_child(struct aws_ctx *ctx, const char *table, const char *parent,
    const char *child, struct aws_result *res)
{
	struct json_object *req = req_new(table, parent), *v, *ss, *a;

	v = json_object_new_object();
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(child));
	ss = json_object_new_object();
	json_object_object_add(ss, "SS", a);
	json_object_object_add(v, ":c", ss);
	json_object_object_add(req, "ExpressionAttributeValues", v);
	set_str(req, "UpdateExpression", "ADD childShardIds :c");
	set_str(req, "ConditionExpression", "attribute_exists(leaseKey)");
	return ddb_call(ctx, "UpdateItem", req, NULL, res);
}

void
lease_token(char out[LEASE_TOKEN_LEN])
{
	unsigned char r[16];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(r)) {
		n = getrandom(r + got, sizeof(r) - got, 0);
		if (n <= 0)
			fatal("getrandom");
		got += (size_t)n;
	}
	hex_encode(r, sizeof(r), out);
	out[LEASE_TOKEN_LEN - 1] = '\0';
}

/* ---- the decision ---- */

int
lease_expired(const struct lease_obs *o, uint64_t now, uint64_t dur)
{
	return o->l->owner[0] == '\0' || now - o->seen_ms >= dur;
}

static int
ended(const struct lease *l)
{
	return strcmp(l->checkpoint, LEASE_SHARD_END) == 0;
}

int
lease_parents_done(const struct lease_obs *o, size_t n, size_t i)
{
	size_t j;
	int p;

	for (p = 0; p < o[i].l->nparents; p++)
		for (j = 0; j < n; j++)
			if (strcmp(o[j].l->key, o[i].l->parents[p]) == 0 &&
			    !ended(o[j].l))
				return 0;
	return 1;
}

/* Is this lease one this keeper may take now (other conditions aside)? */
static int
takeable(const struct lease_obs *o, size_t n, size_t i)
{
	return !o[i].held && !ended(o[i].l) && lease_parents_done(o, n, i);
}

/* A keeper's place in the owners' list (added with no load if new). */
static size_t
owner_idx(const char **owners, size_t *loads, size_t *nown, const char *who)
{
	size_t j;

	for (j = 0; j < *nown; j++)
		if (strcmp(owners[j], who) == 0)
			return j;
	owners[*nown] = who;
	loads[*nown] = 0;
	return (*nown)++;
}

/* Released for the keeper that asked for it, lately: not for others. */
static int
reserved(const struct lease_obs *o, const char *me, uint64_t now,
    uint64_t duration)
{
	return o->l->owner[0] == '\0' && o->l->wanted[0] != '\0' &&
	    strcmp(o->l->wanted, me) != 0 &&
	    now - o->seen_ms < LEASE_RESERVE_SCANS * duration;
}

size_t
lease_plan(const struct lease_obs *o, size_t n, const char *me,
    uint64_t now, uint64_t duration, int max_shards,
    struct lease_action *act, size_t maxact, struct lease_counts *cnt)
{
	const char **owners = NULL;
	size_t *loads = NULL, nown = 0, i, j, na = 0, most = 0, want, nshed;
	struct lease_counts c;
	int pass;

	memset(&c, 0, sizeof(c));
	owners = xcalloc(2 * n + 1, sizeof(*owners));
	loads = xcalloc(2 * n + 1, sizeof(*loads));
	/* live keepers: owners of leases renewed within the duration, and
	 * a keeper that asked for a lease (it may hold none yet) */
	for (i = 0; i < n; i++) {
		if (ended(o[i].l))
			continue;
		c.active++;
		if (o[i].l->wanted[0] != '\0' &&
		    strcmp(o[i].l->wanted, me) != 0)
			(void)owner_idx(owners, loads, &nown, o[i].l->wanted);
		if (o[i].held) {
			c.held++;
			continue;
		}
		if (lease_expired(&o[i], now, duration) ||
		    strcmp(o[i].l->owner, me) == 0)
			continue;
		loads[owner_idx(owners, loads, &nown, o[i].l->owner)]++;
	}
	c.keepers = nown + 1;
	c.target = (c.active + c.keepers - 1) / c.keepers;
	if (max_shards > 0 && c.target > (size_t)max_shards)
		c.target = (size_t)max_shards;
	want = c.target > c.held ? c.target - c.held : 0;
	/* asked to hand a lease over: the asker holds at least two less */
	for (i = 0; i < n && na < maxact; i++)
		if (o[i].held && !ended(o[i].l) && o[i].l->wanted[0] != '\0' &&
		    strcmp(o[i].l->wanted, me) != 0) {
			act[na].kind = LACT_SHED;
			act[na++].idx = i;
		}
	nshed = na;
	/* unowned first, then expired: an unowned lease was given up */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n && na - nshed < want && na < maxact; i++) {
			if (!takeable(o, n, i) ||
			    !lease_expired(&o[i], now, duration) ||
			    reserved(&o[i], me, now, duration))
				continue;
			if ((o[i].l->owner[0] == '\0') != (pass == 0))
				continue;
			act[na].kind = LACT_TAKE;
			act[na++].idx = i;
		}
	/* nothing free and still short: ask the most loaded for one, when
	 * it holds more than one lease beyond what this one holds; steal it
	 * when the owner did not hand it over in LEASE_ASK_SCANS durations
	 * (stuck), so that the balance still comes */
	if (na == nshed && want > 0 && na < maxact && nown > 0) {
		size_t pick = n;

		for (j = 1; j < nown; j++)
			if (loads[j] > loads[most] || (loads[j] == loads[most] &&
			    strcmp(owners[j], owners[most]) < 0))
				most = j;
		if (loads[most] > c.held + 1)
			for (i = 0; i < n; i++) {
				if (!takeable(o, n, i) ||
				    lease_expired(&o[i], now, duration) ||
				    strcmp(o[i].l->owner, owners[most]) != 0)
					continue;
				if (pick == n || strcmp(o[i].l->wanted, me) == 0)
					pick = i;
				if (strcmp(o[i].l->wanted, me) == 0)
					break;	/* the one asked for already */
			}
		if (pick < n) {
			if (strcmp(o[pick].l->wanted, me) != 0 ||
			    o[pick].asked_ms == 0)
				act[na].kind = LACT_ASK;
			else if (now - o[pick].asked_ms >=
			    LEASE_ASK_SCANS * duration)
				act[na].kind = LACT_STEAL;
			else
				pick = n;	/* asked: its owner hands over */
			if (pick < n)
				act[na++].idx = pick;
		}
	}
	free(owners);
	free(loads);
	if (cnt != NULL)
		*cnt = c;
	return na;
}
