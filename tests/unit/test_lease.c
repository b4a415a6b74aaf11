/*
 * test_lease.c: the lease record of the KCL table (lease_from_item, with
 * hostile items) and the decision of what a keeper takes (lease_plan):
 * fair share, max_shards, expiry on the observer's clock, one steal when
 * the spread exceeds one, parents before children. No network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lease.h"
#include "t.h"

#define DUR	10000
#define NOW	1000000

static int
parse(const char *text, struct lease *l, const char **why)
{
	struct json_object *j = json_tokener_parse(text);
	int r;

	*why = NULL;
	if (j == NULL)
		return -2;
	r = lease_from_item(j, l, why);
	json_object_put(j);
	return r;
}

static void
test_item(void)
{
	struct lease l;
	const char *why;
	int r;

	/* what the Java KCL 2.x writes, and ours */
	r = parse("{\"leaseKey\":{\"S\":\"shardId-000000000004\"},"
	    "\"leaseOwner\":{\"S\":\"host-a\"},\"leaseCounter\":{\"N\":\"42\"},"
	    "\"checkpoint\":{\"S\":\"49590338271490256608559692538361571095"
	    "921575989136588898\"},\"checkpointSubSequenceNumber\":{\"N\":\"3\"},"
	    "\"ownerSwitchesSinceCheckpoint\":{\"N\":\"1\"},"
	    "\"parentShardId\":{\"SS\":[\"shardId-000000000001\","
	    "\"shardId-000000000002\"]},\"childShardIds\":{\"SS\":[\"x\"]},"
	    "\"pendingCheckpoint\":{\"S\":\"1\"},\"kkToken\":{\"S\":"
	    "\"0123456789abcdef0123456789abcdef\"},\"kkInside\":{\"N\":\"1\"},"
	    "\"kkLastKey\":{\"S\":\"a/b.jsonl.gz\"},\"kkAnnounced\":{\"S\":"
	    "\"a/a.jsonl.gz\"}}", &l, &why);
	T_INTEQ(r, 0, "a KCL item with our attributes parses");
	T_STREQ(l.key, "shardId-000000000004", "leaseKey");
	T_STREQ(l.owner, "host-a", "leaseOwner");
	T_INTEQ(l.counter, 42, "leaseCounter");
	T_INTEQ(l.subseq, 3, "checkpointSubSequenceNumber");
	T_INTEQ(l.owner_switches, 1, "ownerSwitchesSinceCheckpoint");
	T_INTEQ(l.nparents, 2, "two parentShardId");
	T_STREQ(l.parents[1], "shardId-000000000002", "the second parent");
	T_INTEQ(l.inside, 1, "kkInside");
	T_STREQ(l.last_key, "a/b.jsonl.gz", "kkLastKey");
	T_STREQ(l.announced, "a/a.jsonl.gz", "kkAnnounced");

	r = parse("{\"leaseKey\":{\"S\":\"shardId-1\"},\"leaseCounter\":"
	    "{\"N\":\"0\"},\"checkpoint\":{\"S\":\"TRIM_HORIZON\"}}", &l, &why);
	T_OK(r == 0 && l.owner[0] == '\0' && l.nparents == 0,
	    "an unowned new lease parses, owner empty");
	r = parse("{\"leaseKey\":{\"S\":\"shardId-1\"},\"leaseCounter\":"
	    "{\"N\":\"7\"},\"checkpoint\":{\"S\":\"SHARD_END\"}}", &l, &why);
	T_OK(r == 0 && strcmp(l.checkpoint, LEASE_SHARD_END) == 0,
	    "SHARD_END parses");
	r = parse("{\"leaseKey\":{\"S\":\"wa\"},\"entityType\":{\"S\":"
	    "\"WORKER_METRICS\"}}", &l, &why);
	T_INTEQ(r, 1, "a KCL 3 entity that is not a lease is skipped");

	/* hostile items: refused with a reason, never trusted */
	{
		static const char *const bad[] = {
			"[]",
			"{}",
			"{\"leaseKey\":{\"N\":\"1\"},\"leaseCounter\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"\"},\"leaseCounter\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"../etc\"},\"leaseCounter\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"a/b\"},\"leaseCounter\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"x\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"-1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":"
			    "\"99999999999999999999999\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"S\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"leaseOwner\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"checkpoint\":{\"S\":\"12a\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"parentShardId\":{\"SS\":[\"a\",\"b\",\"c\"]}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"parentShardId\":{\"SS\":[\"../x\"]}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"parentShardId\":{\"S\":\"p\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"parentShardId\":{\"SS\":[1]}}",
			"{\"leaseKey\":{\"S\":\"s\\u0000x\"},\"leaseCounter\":{\"N\":\"1\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"kkToken\":{\"S\":\"0123456789abcdef0123456789abcdef0\"}}",
			"{\"leaseKey\":{\"S\":\"s1\"},\"leaseCounter\":{\"N\":\"1\"},"
			    "\"kkInside\":{\"N\":\"yes\"}}",
		};
		size_t i, refused = 0, reasons = 0;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			r = parse(bad[i], &l, &why);
			refused += r == -1;
			reasons += r == -1 && why != NULL;
			if (r != -1)
				printf("# accepted: %s\n", bad[i]);
		}
		T_INTEQ(refused, sizeof(bad) / sizeof(bad[0]),
		    "every hostile item refused");
		T_INTEQ(reasons, refused, "each refusal says why");
	}
	{
		/* an owner longer than the field is refused, not cut */
		char text[600], owner[300];

		memset(owner, 'o', sizeof(owner) - 1);
		owner[sizeof(owner) - 1] = '\0';
		snprintf(text, sizeof(text), "{\"leaseKey\":{\"S\":\"s1\"},"
		    "\"leaseCounter\":{\"N\":\"1\"},\"leaseOwner\":{\"S\":\"%s\"}}",
		    owner);
		T_INTEQ(parse(text, &l, &why), -1, "a 299-character owner refused");
	}
}

/* a small table: name, owner, counter age (ms before NOW), checkpoint,
 * parents, held */
struct row {
	const char	*key;
	const char	*owner;
	uint64_t	 age;
	const char	*ckpt;
	const char	*p1, *p2;
	int		 held;
};

static struct lease	tl[32];
static struct lease_obs	to[32];

static size_t
table(const struct row *r, size_t n)
{
	size_t i;

	memset(tl, 0, sizeof(tl));
	memset(to, 0, sizeof(to));
	for (i = 0; i < n; i++) {
		snprintf(tl[i].key, sizeof(tl[i].key), "%s", r[i].key);
		snprintf(tl[i].owner, sizeof(tl[i].owner), "%s",
		    r[i].owner ? r[i].owner : "");
		snprintf(tl[i].checkpoint, sizeof(tl[i].checkpoint), "%s",
		    r[i].ckpt ? r[i].ckpt : "TRIM_HORIZON");
		if (r[i].p1)
			snprintf(tl[i].parents[tl[i].nparents++], LEASE_KEY_MAX,
			    "%s", r[i].p1);
		if (r[i].p2)
			snprintf(tl[i].parents[tl[i].nparents++], LEASE_KEY_MAX,
			    "%s", r[i].p2);
		to[i].l = &tl[i];
		to[i].seen_ms = NOW - r[i].age;
		to[i].held = r[i].held;
	}
	return n;
}

/* the actions as "T:key S:key ..." (T take, S steal, A ask, H shed) */
static const char *
plan(size_t n, const char *me, int max, struct lease_counts *c)
{
	static char out[512];
	struct lease_action a[32];
	size_t na, i, o = 0;

	na = lease_plan(to, n, me, NOW, DUR, max, a, 32, c);
	out[0] = '\0';
	for (i = 0; i < na; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%c:%s",
		    i ? " " : "", a[i].kind == LACT_STEAL ? 'S' :
		    a[i].kind == LACT_ASK ? 'A' : a[i].kind == LACT_SHED ?
		    'H' : 'T', tl[a[i].idx].key);
	return out;
}

static void
test_plan(void)
{
	struct lease_counts c;
	size_t n;

	{
		static const struct row r[] = {
			{ "s0", NULL, 0, NULL, NULL, NULL, 0 },
			{ "s1", NULL, 0, NULL, NULL, NULL, 0 },
			{ "s2", NULL, 0, NULL, NULL, NULL, 0 },
			{ "s3", NULL, 0, NULL, NULL, NULL, 0 },
		};
		n = table(r, 4);
		T_STREQ(plan(n, "me", 0, &c), "T:s0 T:s1 T:s2 T:s3",
		    "alone on a new table: every unowned lease");
		T_INTEQ(c.keepers, 1, "one keeper");
		T_STREQ(plan(n, "me", 1, &c), "T:s0",
		    "max_shards 1: one lease");
	}
	{
		/* a live keeper holds all four: one steal a round */
		static const struct row r[] = {
			{ "s0", "a", 100, NULL, NULL, NULL, 0 },
			{ "s1", "a", 100, NULL, NULL, NULL, 0 },
			{ "s2", "a", 100, NULL, NULL, NULL, 0 },
			{ "s3", "a", 100, NULL, NULL, NULL, 0 },
		};
		n = table(r, 4);
		T_STREQ(plan(n, "me", 0, &c), "A:s0",
		    "joining a keeper with 4: ask for one (not four)");
		T_OK(c.keepers == 2 && c.target == 2,
		    "two keepers, a share of two");
	}
	{
		/* 3 against 1: still a steal; 2 against 2: nothing */
		static const struct row r[] = {
			{ "s0", "a", 100, NULL, NULL, NULL, 0 },
			{ "s1", "a", 100, NULL, NULL, NULL, 0 },
			{ "s2", "a", 100, NULL, NULL, NULL, 0 },
			{ "s3", "me", 100, NULL, NULL, NULL, 1 },
		};
		n = table(r, 4);
		T_STREQ(plan(n, "me", 0, &c), "A:s0", "3 against 1: ask for one");
		/* asked: wait for the owner to hand it over, then steal */
		snprintf(tl[1].wanted, sizeof(tl[1].wanted), "me");
		to[1].asked_ms = NOW - 1;
		T_STREQ(plan(n, "me", 0, &c), "",
		    "3 against 1, asked just now: wait for the handover");
		to[1].asked_ms = NOW - (LEASE_ASK_SCANS * DUR - 1);
		T_STREQ(plan(n, "me", 0, &c), "",
		    "asked one ms less than LEASE_ASK_SCANS durations ago: "
		    "still waiting");
		to[1].asked_ms = NOW - LEASE_ASK_SCANS * DUR;
		T_STREQ(plan(n, "me", 0, &c), "S:s1",
		    "asked LEASE_ASK_SCANS durations ago, not handed over: "
		    "steal the one asked for");
		to[1].asked_ms = 0;
		T_STREQ(plan(n, "me", 0, &c), "A:s1",
		    "marked for this keeper by an earlier run: ask again");
		tl[1].wanted[0] = '\0';
		tl[2].owner[0] = 'm', tl[2].owner[1] = 'e', tl[2].owner[2] = 0;
		to[2].held = 1;
		T_STREQ(plan(n, "me", 0, &c), "", "2 against 2: nothing");
	}
	{
		/* a spread of one is left alone: a 2, b 1, me 1 of 4 */
		static const struct row r[] = {
			{ "s0", "a", 100, NULL, NULL, NULL, 0 },
			{ "s1", "a", 100, NULL, NULL, NULL, 0 },
			{ "s2", "b", 100, NULL, NULL, NULL, 0 },
			{ "s3", "me", 100, NULL, NULL, NULL, 1 },
		};
		n = table(r, 4);
		T_STREQ(plan(n, "me", 0, &c), "",
		    "a spread of one shard: no steal (no thrashing)");
		T_OK(c.keepers == 3 && c.target == 2, "three keepers, share 2");
	}
	{
		/* expiry on this keeper's clock: a counter unchanged for the
		 * duration is expired (exactly DUR), one ms less is not */
		static const struct row r[] = {
			{ "s0", "dead", DUR, NULL, NULL, NULL, 0 },
			{ "s1", "dead", DUR - 1, NULL, NULL, NULL, 0 },
		};
		n = table(r, 2);
		T_OK(lease_expired(&to[0], NOW, DUR), "unchanged for the "
		    "duration: expired");
		T_OK(!lease_expired(&to[1], NOW, DUR), "one ms less: not "
		    "expired");
		T_STREQ(plan(n, "me", 0, &c), "T:s0",
		    "the expired one is taken, the live one left (share 1)");
	}
	{
		/* a dead keeper's leases: it is not counted as live */
		static const struct row r[] = {
			{ "s0", "dead", DUR * 2, NULL, NULL, NULL, 0 },
			{ "s1", "dead", DUR * 2, NULL, NULL, NULL, 0 },
			{ "s2", NULL, 0, NULL, NULL, NULL, 0 },
			{ "s3", "me", 0, NULL, NULL, NULL, 1 },
		};
		n = table(r, 4);
		T_STREQ(plan(n, "me", 0, &c), "T:s2 T:s0 T:s1",
		    "a dead keeper's leases taken, unowned first");
		T_INTEQ(c.keepers, 1, "the dead keeper is not counted");
	}
	{
		/* this keeper's id from an earlier run: expired only after
		 * the duration, like anyone's */
		static const struct row r[] = {
			{ "s0", "me", 100, NULL, NULL, NULL, 0 },
			{ "s1", "me", DUR, NULL, NULL, NULL, 0 },
		};
		n = table(r, 2);
		T_STREQ(plan(n, "me", 0, &c), "T:s1",
		    "its own id, not held: taken only once expired");
	}
	{
		/* parents before children; SHARD_END neither taken nor
		 * counted */
		static const struct row r[] = {
			{ "p0", "a", 100, "SHARD_END", NULL, NULL, 0 },
			{ "p1", "a", 100, "5", NULL, NULL, 0 },
			{ "c0", NULL, 0, NULL, "p0", NULL, 0 },
			{ "c1", NULL, 0, NULL, "p0", "p1", 0 },
			{ "c2", NULL, 0, NULL, "gone", NULL, 0 },
		};
		n = table(r, 5);
		T_STREQ(plan(n, "me", 0, &c), "T:c0 T:c2",
		    "a child only when every parent is at SHARD_END (or gone)");
		T_INTEQ(c.active, 4, "SHARD_END leases are not counted");
		snprintf(tl[1].checkpoint, sizeof(tl[1].checkpoint),
		    LEASE_SHARD_END);
		T_STREQ(plan(n, "me", 0, &c), "T:c0 T:c1 T:c2",
		    "both parents ended: the merge child too");
		tl[0].owner[0] = '\0';
		T_OK(strstr(plan(n, "me", 0, &c), "p0") == NULL,
		    "an ended, unowned lease is never taken");
	}
	{
		/* graceful rebalancing seen from the owner: a, b 3 each, me 2
		 * of 8, and d (holding nothing yet) asked a for s0 */
		static const struct row r[] = {
			{ "s0", "a", 100, NULL, NULL, NULL, 0 },
			{ "s1", "a", 100, NULL, NULL, NULL, 0 },
			{ "s2", "a", 100, NULL, NULL, NULL, 0 },
			{ "s3", "b", 100, NULL, NULL, NULL, 0 },
			{ "s4", "b", 100, NULL, NULL, NULL, 0 },
			{ "s5", "b", 100, NULL, NULL, NULL, 0 },
			{ "s6", "me", 100, NULL, NULL, NULL, 1 },
			{ "s7", "me", 100, NULL, NULL, NULL, 1 },
		};
		n = table(r, 8);
		T_STREQ(plan(n, "me", 0, &c), "",
		    "3/3/2, no one asking: a spread of one, no ask (share 3)");
		snprintf(tl[0].wanted, sizeof(tl[0].wanted), "d");
		T_STREQ(plan(n, "me", 0, &c), "",
		    "d asked a for a lease: d counts, share 2, 2 held: nothing");
		T_OK(c.keepers == 4 && c.target == 2,
		    "a keeper that asked, holding nothing, is a live keeper "
		    "(%zu keepers, share %zu)", c.keepers, c.target);
		/* a's view: shed what d asked for, nothing else */
		to[0].held = to[1].held = to[2].held = 1;
		to[6].held = to[7].held = 0;
		T_STREQ(plan(n, "a", 0, &c), "H:s0",
		    "the owner asked for s0 sheds it (hands it over)");
		to[0].held = to[1].held = to[2].held = 0;
		to[6].held = to[7].held = 1;
		/* released for d: reserved for it for a while */
		tl[0].owner[0] = '\0';
		tl[6].owner[0] = '\0';
		to[6].held = 0;
		to[0].seen_ms = NOW - (LEASE_RESERVE_SCANS * DUR - 1);
		T_STREQ(plan(n, "me", 0, &c), "T:s6",
		    "an unowned lease released for d is not taken by another "
		    "keeper (s0 left, s6 taken)");
		to[0].seen_ms = NOW - LEASE_RESERVE_SCANS * DUR;
		T_STREQ(plan(n, "me", 0, &c), "T:s0",
		    "... until LEASE_RESERVE_SCANS durations have passed (d "
		    "may be gone; share 2, one held: one taken)");
		snprintf(tl[0].wanted, sizeof(tl[0].wanted), "me");
		to[0].seen_ms = NOW;
		T_STREQ(plan(n, "me", 0, &c), "T:s0 T:s6",
		    "released for this keeper: taken at once (3 keepers now, "
		    "share 3)");
	}
	{
		/* a spread of one: nobody sheds unasked, nobody asks */
		static const struct row r[] = {
			{ "s0", "a", 100, NULL, NULL, NULL, 1 },
			{ "s1", "a", 100, NULL, NULL, NULL, 1 },
			{ "s2", "b", 100, NULL, NULL, NULL, 0 },
		};
		n = table(r, 3);
		T_STREQ(plan(n, "a", 0, &c), "",
		    "2 against 1: the owner of 2 sheds nothing unasked");
		T_STREQ(plan(n, "b", 0, &c), "",
		    "1 against 2 (spread one): no ask");
	}
	{
		/* held leases are never taken again, and count */
		static const struct row r[] = {
			{ "s0", "me", 100, NULL, NULL, NULL, 1 },
			{ "s1", NULL, 0, NULL, NULL, NULL, 0 },
		};
		n = table(r, 2);
		T_STREQ(plan(n, "me", 0, &c), "T:s1", "only what is not held");
		T_INTEQ(c.held, 1, "held counted");
		T_STREQ(plan(n, "me", 1, &c), "", "max_shards 1 reached");
	}
}

int
main(void)
{
	char tok[LEASE_TOKEN_LEN], tok2[LEASE_TOKEN_LEN];

	test_item();
	test_plan();
	lease_token(tok);
	lease_token(tok2);
	T_OK(strlen(tok) == 32 && strspn(tok, "0123456789abcdef") == 32 &&
	    strcmp(tok, tok2) != 0, "tokens: 32 hex digits, each new");
	return t_done();
}
