/*
 * leases.c: the lease helper's work (see leases.h). Every duration/3 it
 * renews what it holds; every duration it scans the table, creates leases
 * for new shards, and takes (lease_plan) up to its fair share. A renewal
 * refused by its condition means another keeper owns the shard now; a
 * lease not renewed for a whole duration (DynamoDB out of reach) is given
 * up too: the supervisor stops reading rather than risk two owners.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb.h"
#include "kinesis.h"
#include "lease.h"
#include "leases.h"
#include "log.h"
#include "util.h"

#define TABLE_WAIT_MS		60000
#define SUMMARY_MS		60000
#define MAX_ACTIONS		64

struct held {
	char		 shard[LEASE_KEY_MAX];
	char		 token[LEASE_TOKEN_LEN];
	uint64_t	 last_ok;	/* the last renewal (or the take) */
	char		*announce;	/* to record at the next renewal */
	int		 shedding;	/* handed over: renewed until released */
};

/* What the last scans showed, with when each counter was first seen. */
struct seen {
	struct lease	 l;
	uint64_t	 since;
	uint64_t	 asked;		/* when this keeper asked for it, 0 */
};

enum { C_SCAN, C_GET, C_CREATE, C_TAKE, C_STEAL, C_RENEW, C_EVICT, C_LIST,
    C_CONDFAIL, C_ERROR, C_ASK, C_NCOUNT };

static const char *const cnames[C_NCOUNT] = {
	"scan", "get", "create", "take", "steal", "renew", "evict",
	"listshards", "condition_failed", "errors", "ask"
};

static struct {
	struct aws_ctx		*aws;
	const struct cfg	*cfg;
	void			(*send)(uint32_t, const void *, size_t);
	int			(*stopped)(void);
	int			 table_ok;
	struct held		*held;
	size_t			 nheld;
	struct seen		*seen;
	size_t			 nseen;
	struct kinesis_shard	*shards;	/* the last ListShards */
	size_t			 nshards;
	uint64_t		 next_renew, next_scan, next_list, next_summary;
	uint64_t		 count[C_NCOUNT];
} L;

void
lh_init(struct aws_ctx *aws, const struct cfg *cfg,
    void (*send)(uint32_t, const void *, size_t), int (*stopped)(void))
{
	memset(&L, 0, sizeof(L));
	L.stopped = stopped;
	L.aws = aws;
	L.cfg = cfg;
	L.send = send;
	L.next_summary = now_ms() + SUMMARY_MS;
	/* a renewal that hangs must not outlive the lease it renews: one
	 * attempt, bounded by a third of the duration (the next renewal is
	 * the retry) */
	ddb_set_limits((long)(cfg->lease_duration_ms / 3), 1);
	log_info("lease table %s as %s, lease duration %llu ms",
	    cfg->lease_table, cfg->lease_worker_id,
	    (unsigned long long)cfg->lease_duration_ms);
}

void
lh_summary(void)
{
	char b[512];
	size_t i, o = 0;

	for (i = 0; i < C_NCOUNT && o < sizeof(b); i++)
		o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s %llu",
		    i ? ", " : "", cnames[i], (unsigned long long)L.count[i]);
	log_info("lease calls: %s; leases held %zu", b, L.nheld);
}

static void
tell(uint32_t type, const char *shard, const char *token, const char *owner,
    int64_t counter, int takeover)
{
	struct msg_lease m;

	memset(&m, 0, sizeof(m));
	str_copy(m.shard, shard, sizeof(m.shard));
	if (token != NULL)
		str_copy(m.token, token, sizeof(m.token));
	if (owner != NULL)
		str_copy(m.owner, owner, sizeof(m.owner));
	m.counter = counter;
	m.takeover = (uint32_t)takeover;
	L.send(type, &m, sizeof(m));
}

static void
held_drop(size_t i)
{
	free(L.held[i].announce);
	L.held[i] = L.held[--L.nheld];
}

static ssize_t
held_find(const char *shard)
{
	size_t i;

	for (i = 0; i < L.nheld; i++)
		if (strcmp(L.held[i].shard, shard) == 0)
			return (ssize_t)i;
	return -1;
}

/* Lost by a condition: say to whom, when one read can tell. */
static void
lost_to(size_t i)
{
	struct aws_result res;
	struct lease l;
	const char *who = "another keeper";

	aws_result_init(&res);
	L.count[C_GET]++;
	if (lease_get(L.aws, L.cfg->lease_table, L.held[i].shard, &l,
	    &res) == 0 && l.owner[0] != '\0')
		who = l.owner;
	else if (res.code[0] == '\0')
		who = "nobody";
	log_info("lease %s: lost to %s", L.held[i].shard, who);
	tell(MSG_L_LOST, L.held[i].shard, NULL, who, 0, 0);
	aws_result_free(&res);
	held_drop(i);
}

static void
renew_all(void)
{
	struct aws_result res;
	int64_t counter;
	size_t i;
	int r;

	for (i = 0; i < L.nheld; ) {
		struct held *h = &L.held[i];

		/* the calls before this one may have taken long: a lease not
		 * renewed for a duration is given up without another try */
		if (now_ms() - h->last_ok >= L.cfg->lease_duration_ms) {
			log_warnx("lease %s: lost: not renewed for %llu ms "
			    "(dynamodb out of reach); stopping its worker rather "
			    "than risk two owners", h->shard,
			    (unsigned long long)(now_ms() - h->last_ok));
			tell(MSG_L_LOST, h->shard, NULL, "", 0, 0);
			held_drop(i);
			continue;
		}
		aws_result_init(&res);
		L.count[C_RENEW]++;
		r = lease_renew(L.aws, L.cfg->lease_table, h->shard,
		    L.cfg->lease_worker_id, h->token, h->announce, &counter,
		    &res);
		if (r == 0) {
			h->last_ok = now_ms();
			free(h->announce);
			h->announce = NULL;
			log_debug("lease %s: renewed (counter %lld)", h->shard,
			    (long long)counter);
		} else if (r == DDB_CONDITION) {
			L.count[C_CONDFAIL]++;
			aws_result_free(&res);
			lost_to(i);
			continue;
		} else {
			L.count[C_ERROR]++;
			log_warnx("lease %s: renewal failed: %s", h->shard,
			    aws_strerror(&res));
		}
		aws_result_free(&res);
		i++;
	}
}

static struct seen *
seen_find(struct seen *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].l.key, key) == 0)
			return &v[i];
	return NULL;
}

/* A new scan: a counter seen before keeps its first sighting. */
static void
seen_update(struct lease *v, size_t n, uint64_t now)
{
	struct seen *nv = xcalloc(n ? n : 1, sizeof(*nv)), *old;
	size_t i;

	for (i = 0; i < n; i++) {
		nv[i].l = v[i];
		old = seen_find(L.seen, L.nseen, v[i].key);
		nv[i].since = old != NULL && old->l.counter == v[i].counter &&
		    strcmp(old->l.owner, v[i].owner) == 0 ? old->since : now;
		/* asked of the same owner, and still marked so */
		nv[i].asked = old != NULL && strcmp(old->l.owner,
		    v[i].owner) == 0 && strcmp(v[i].wanted,
		    L.cfg->lease_worker_id) == 0 ? old->asked : 0;
	}
	free(L.seen);
	L.seen = nv;
	L.nseen = n;
}

static void
list_shards(uint64_t now)
{
	struct kinesis_shard *sh = NULL;
	struct aws_result res;
	size_t n = 0;

	aws_result_init(&res);
	L.count[C_LIST]++;
	if (kinesis_list_shards(L.aws, L.cfg->stream, &sh, &n, &res) == -1) {
		L.count[C_ERROR]++;
		log_warnx("lease helper: list shards of %s: %s", L.cfg->stream,
		    aws_strerror(&res));
		aws_result_free(&res);
		L.next_list = now + 5000;
		return;
	}
	aws_result_free(&res);
	kinesis_shards_free(L.shards, L.nshards);
	L.shards = sh;
	L.nshards = n;
	L.next_list = now + L.cfg->topology_refresh_ms;
}

static const char *
start_name(void)
{
	switch (L.cfg->start_position) {
	case START_LATEST:
		return "LATEST";
	case START_AT_TIMESTAMP:
		return "AT_TIMESTAMP";
	default:
		return "TRIM_HORIZON";
	}
}

/* A lease for every listed shard that has none. A child starts from its
 * first record (TRIM_HORIZON), as the KCL's do. */
static void
create_missing(uint64_t now)
{
	struct aws_result res;
	const char *parents[LEASE_PARENTS];
	size_t i;
	int np, p, r;

	for (i = 0; i < L.nshards; i++) {
		struct kinesis_shard *s = &L.shards[i];

		if (strlen(s->id) >= LEASE_KEY_MAX ||
		    seen_find(L.seen, L.nseen, s->id) != NULL)
			continue;
		np = 0;
		if (s->parent != NULL && strlen(s->parent) < LEASE_KEY_MAX)
			parents[np++] = s->parent;
		if (s->adjacent_parent != NULL &&
		    strlen(s->adjacent_parent) < LEASE_KEY_MAX)
			parents[np++] = s->adjacent_parent;
		aws_result_init(&res);
		L.count[C_CREATE]++;
		r = lease_create(L.aws, L.cfg->lease_table, s->id, parents, np,
		    np > 0 ? "TRIM_HORIZON" : start_name(), &res);
		if (r == -1) {
			L.count[C_ERROR]++;
			log_warnx("lease %s: create: %s", s->id,
			    aws_strerror(&res));
			aws_result_free(&res);
			continue;
		}
		if (r == DDB_CONDITION)
			L.count[C_CONDFAIL]++;
		else {
			log_info("lease %s: created", s->id);
			for (p = 0; p < np; p++) {
				aws_result_free(&res);
				aws_result_init(&res);
				(void)lease_add_child(L.aws, L.cfg->lease_table,
				    parents[p], s->id, &res);
			}
		}
		aws_result_free(&res);
		if (r == DDB_CONDITION)
			continue;	/* another keeper's: the next scan */
		/* seen now, unowned; the next scan reads it as it is */
		L.seen = xrealloc(L.seen, (L.nseen + 1) * sizeof(*L.seen));
		memset(&L.seen[L.nseen], 0, sizeof(*L.seen));
		str_copy(L.seen[L.nseen].l.key, s->id, LEASE_KEY_MAX);
		L.seen[L.nseen].l.nparents = np;
		for (p = 0; p < np; p++)
			str_copy(L.seen[L.nseen].l.parents[p], parents[p],
			    LEASE_KEY_MAX);
		str_copy(L.seen[L.nseen].l.checkpoint, np > 0 ?
		    "TRIM_HORIZON" : start_name(), LEASE_CKPT_MAX);
		L.seen[L.nseen].since = now;
		L.nseen++;
	}
}

static void
take(const struct lease_action *a, struct lease_obs *o)
{
	struct aws_result res;
	struct lease l = *o[a->idx].l;
	char prev[LEASE_OWNER_MAX];
	int r;

	str_copy(prev, l.owner, sizeof(prev));
	aws_result_init(&res);
	L.count[a->kind == LACT_STEAL ? C_STEAL : C_TAKE]++;
	r = lease_take(L.aws, L.cfg->lease_table, &l, L.cfg->lease_worker_id,
	    &res);
	if (r == DDB_CONDITION) {
		L.count[C_CONDFAIL]++;
		log_debug("lease %s: not taken: changed since the scan", l.key);
	} else if (r == -1) {
		L.count[C_ERROR]++;
		log_warnx("lease %s: take: %s", l.key, aws_strerror(&res));
	} else {
		struct held *h;

		L.held = xrealloc(L.held, (L.nheld + 1) * sizeof(*L.held));
		h = &L.held[L.nheld++];
		memset(h, 0, sizeof(*h));
		str_copy(h->shard, l.key, sizeof(h->shard));
		str_copy(h->token, l.token, sizeof(h->token));
		h->last_ok = now_ms();
		if (prev[0] == '\0')
			log_info("lease %s: taken (unowned, counter %lld)",
			    l.key, (long long)l.counter);
		else
			log_info("lease %s: %s from %s (counter %lld)", l.key,
			    a->kind == LACT_STEAL ? "stolen" : "taken", prev,
			    (long long)l.counter);
		tell(MSG_L_GAINED, l.key, l.token, prev, l.counter,
		    prev[0] != '\0');
	}
	aws_result_free(&res);
}

/* Graceful rebalancing: ask the owner of a lease to hand it over. */
static void
ask(const struct lease_action *a, struct lease_obs *o)
{
	struct aws_result res;
	struct seen *s;
	int r;

	aws_result_init(&res);
	L.count[C_ASK]++;
	r = lease_ask(L.aws, L.cfg->lease_table, o[a->idx].l,
	    L.cfg->lease_worker_id, &res);
	if (r == DDB_CONDITION) {
		L.count[C_CONDFAIL]++;
		log_debug("lease %s: not asked: changed since the scan",
		    o[a->idx].l->key);
	} else if (r == -1) {
		L.count[C_ERROR]++;
		log_warnx("lease %s: ask: %s", o[a->idx].l->key,
		    aws_strerror(&res));
	} else {
		log_info("lease %s: asked %s to hand it over",
		    o[a->idx].l->key, o[a->idx].l->owner);
		if ((s = seen_find(L.seen, L.nseen, o[a->idx].l->key)) != NULL)
			s->asked = now_ms();
	}
	aws_result_free(&res);
}

/* Asked for a lease: the supervisor stops its worker (final flush and
 * checkpoint under the lease, still renewed here) and then releases it. */
static void
shed(const struct lease_action *a, struct lease_obs *o)
{
	ssize_t i = held_find(o[a->idx].l->key);

	if (i < 0 || L.held[i].shedding)
		return;
	L.held[i].shedding = 1;
	log_info("lease %s: handing over to %s: stopping its worker, then "
	    "releasing it", L.held[i].shard, o[a->idx].l->wanted);
	tell(MSG_L_SHED, L.held[i].shard, L.held[i].token, o[a->idx].l->wanted,
	    0, 0);
}

static void
scan(uint64_t now)
{
	struct aws_result res;
	struct lease *v = NULL;
	struct lease_obs *o;
	struct lease_action act[MAX_ACTIONS];
	struct lease_counts c;
	size_t n = 0, i, na;

	aws_result_init(&res);
	if (!L.table_ok) {
		L.count[C_GET]++;
		if (ddb_create_table(L.aws, L.cfg->lease_table, TABLE_WAIT_MS,
		    L.stopped, &res) == -1) {
			L.count[C_ERROR]++;
			log_warnx("lease table %s: %s", L.cfg->lease_table,
			    aws_strerror(&res));
			aws_result_free(&res);
			return;
		}
		L.table_ok = 1;
	}
	L.count[C_SCAN]++;
	if (lease_scan(L.aws, L.cfg->lease_table, &v, &n, &res) == -1) {
		L.count[C_ERROR]++;
		log_warnx("lease table %s: scan: %s", L.cfg->lease_table,
		    aws_strerror(&res));
		aws_result_free(&res);
		return;
	}
	aws_result_free(&res);
	seen_update(v, n, now);
	free(v);
	if (now >= L.next_list)
		list_shards(now);
	create_missing(now);

	o = xcalloc(L.nseen ? L.nseen : 1, sizeof(*o));
	for (i = 0; i < L.nseen; i++) {
		ssize_t h = held_find(L.seen[i].l.key);

		o[i].l = &L.seen[i].l;
		o[i].seen_ms = L.seen[i].since;
		/* held even when the scan shows another token: the next
		 * renewal finds out and says so */
		o[i].held = h >= 0;
		o[i].asked_ms = L.seen[i].asked;
	}
	na = lease_plan(o, L.nseen, L.cfg->lease_worker_id, now,
	    L.cfg->lease_duration_ms, L.cfg->lease_max_shards, act,
	    MAX_ACTIONS, &c);
	log_debug("lease scan: %zu leases, %zu active, %zu keepers, target %zu, "
	    "held %zu, %zu to take", L.nseen, c.active, c.keepers, c.target,
	    c.held, na);
	for (i = 0; i < na; i++)
		if (act[i].kind == LACT_ASK)
			ask(&act[i], o);
		else if (act[i].kind == LACT_SHED)
			shed(&act[i], o);
		else
			take(&act[i], o);
	free(o);
}

uint64_t
lh_tick(void)
{
	uint64_t now = now_ms(), next, d = L.cfg->lease_duration_ms;

	if (now >= L.next_renew) {
		renew_all();
		L.next_renew = now + d / 3;
	}
	if (now >= L.next_scan) {
		scan(now);
		L.next_scan = now_ms() + d;
	}
	if (now >= L.next_summary) {
		lh_summary();
		L.next_summary = now + SUMMARY_MS;
	}
	now = now_ms();
	next = L.next_renew < L.next_scan ? L.next_renew : L.next_scan;
	return next > now ? next - now : 0;
}

static void
release(size_t i)
{
	struct aws_result res;
	int r;

	aws_result_init(&res);
	L.count[C_EVICT]++;
	r = lease_evict(L.aws, L.cfg->lease_table, L.held[i].shard,
	    L.cfg->lease_worker_id, L.held[i].token, L.held[i].announce, &res);
	if (r == 0)
		log_info("lease %s: released", L.held[i].shard);
	else if (r == DDB_CONDITION) {
		L.count[C_CONDFAIL]++;
		log_info("lease %s: not released: no longer ours",
		    L.held[i].shard);
	} else {
		L.count[C_ERROR]++;
		log_warnx("lease %s: release: %s (it expires in %llu ms)",
		    L.held[i].shard, aws_strerror(&res),
		    (unsigned long long)L.cfg->lease_duration_ms);
	}
	aws_result_free(&res);
	held_drop(i);
}

void
lh_message(const struct msg *m)
{
	if (m->hdr.type == MSG_L_RELEASE) {
		struct msg_lease l;
		struct msg_result r;
		ssize_t i;

		memcpy(&l, m->payload, sizeof(l));
		l.shard[sizeof(l.shard) - 1] = '\0';
		if (l.shard[0] != '\0') {
			if ((i = held_find(l.shard)) >= 0)
				release((size_t)i);
			return;
		}
		memset(&r, 0, sizeof(r));
		r.count = (uint32_t)L.nheld;
		while (L.nheld > 0)
			release(L.nheld - 1);
		r.ok = 1;
		L.send(MSG_L_RELEASED, &r, sizeof(r));
	} else if (m->hdr.type == MSG_L_ANNOUNCED) {
		struct msg_l_note n;
		ssize_t i;

		memcpy(&n, m->payload, sizeof(n));
		n.shard[sizeof(n.shard) - 1] = '\0';
		n.key[sizeof(n.key) - 1] = '\0';
		if ((i = held_find(n.shard)) >= 0) {
			free(L.held[i].announce);
			L.held[i].announce = xstrdup(n.key);
		}
	} else
		fatalx("unexpected %s from the supervisor",
		    msg_type_name(m->hdr.type));
}

void
lh_free(void)
{
	while (L.nheld > 0)
		held_drop(L.nheld - 1);
	free(L.held);
	free(L.seen);
	kinesis_shards_free(L.shards, L.nshards);
	memset(&L, 0, sizeof(L));
}
