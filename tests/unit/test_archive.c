/*
 * test_archive.c: common/archive.c (object metadata both ways, the 2 KB
 * limit, the head object parser on good and hostile input) and
 * supervisor/chain.c (each problem verify names: missing link, replaced
 * predecessor, fork, overlap, a closed shard without end; a clean chain
 * across a split and a merge has none) and verify's --since parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "chain.h"
#include "t.h"
#include "util.h"
#include "verify.h"

#define SHA(c)	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		c c

static void
meta_to_buf(const struct arc_meta *m, struct buf *b)
{
	size_t i;

	buf_reset(b);
	for (i = 0; i < m->n; i++)
		buf_printf(b, "%s: %s\n", m->kv[i].name, m->kv[i].value);
}

static void
obj(struct arc_object *o, const char *shard, const char *f, const char *l,
    const char *sha, const char *prevkey, const char *prevsha)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->shard, sizeof(o->shard), "%s", shard);
	o->records = 10;
	o->bytes = 100;
	snprintf(o->first.seq, sizeof(o->first.seq), "%s", f);
	snprintf(o->last.seq, sizeof(o->last.seq), "%s", l);
	o->first_ts = 1764792000000LL;
	o->last_ts = 1764792001000LL;
	snprintf(o->sha256, sizeof(o->sha256), "%s", sha);
	if (prevsha != NULL) {
		snprintf(o->prev.key, sizeof(o->prev.key), "%s", prevkey);
		snprintf(o->prev.sha256, sizeof(o->prev.sha256), "%s", prevsha);
	}
}

static void
test_meta(void)
{
	struct arc_object o, p;
	struct arc_meta m;
	struct buf b;
	const char *why;
	size_t i, total;

	buf_init(&b);
	obj(&o, "shardId-000000000001", "100", "200", SHA("a"), "k/prev.gz",
	    SHA("b"));
	snprintf(o.stream, sizeof(o.stream), "orders");
	o.first.has_sub = 1;
	o.first.sub = 3;
	o.last.has_sub = 1;
	o.last.sub = 7;
	o.last_more = 1;
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == 0, "metadata: parses back");
	T_STREQ(p.shard, o.shard, "metadata: shard");
	T_STREQ(p.stream, "orders", "metadata: stream");
	T_STREQ(p.first.seq, "100", "metadata: first-seq");
	T_INTEQ(p.first.sub, 3, "metadata: first-sub");
	T_STREQ(p.last.seq, "200", "metadata: last-seq");
	T_INTEQ(p.last.sub, 7, "metadata: last-sub");
	T_INTEQ(p.last_more, 1, "metadata: last-more");
	T_INTEQ(p.records, 10, "metadata: records");
	T_INTEQ(p.first_ts, o.first_ts, "metadata: first-ts");
	T_INTEQ(p.last_ts, o.last_ts, "metadata: last-ts");
	T_STREQ(p.prev.key, "k/prev.gz", "metadata: prev-key");
	T_STREQ(p.prev.sha256, SHA("b"), "metadata: prev-sha256");

	/* a part of a partitioned batch carries the batch */
	obj(&o, "s1", "12", "30", SHA("a"), "k/p0", SHA("b"));
	o.part = 1;
	o.parts = 3;
	pos_set(&o.batch_first, "10", 0, 0);
	pos_set(&o.batch_last, "40", 1, 2);
	o.batch_more = 1;
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == 0 && p.part == 1 &&
	    p.parts == 3 && strcmp(p.batch_first.seq, "10") == 0 &&
	    strcmp(p.batch_last.seq, "40") == 0 && p.batch_last.has_sub &&
	    p.batch_last.sub == 2 && p.batch_more, "metadata: part 2 of 3 "
	    "and its batch's range round-trip");
	o.part = 3;
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: part beyond parts "
	    "refused (%s)", why);
	o.part = 0;
	pos_set(&o.batch_last, "20", 0, 0);
	o.batch_more = 0;
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: a part outside its "
	    "batch refused (%s)", why);
	obj(&o, "s1", "12", "30", SHA("a"), NULL, NULL);
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == 0 && p.parts == 1 &&
	    pos_cmp(&p.batch_last, &p.last) == 0, "metadata: without parts the "
	    "object is its own batch");

	/* a merge child's first object names two parents */
	obj(&o, "shardId-000000000004", "5", "9", SHA("c"), NULL, NULL);
	snprintf(o.parents[0].key, sizeof(o.parents[0].key), "p1");
	snprintf(o.parents[0].sha256, 65, "%s", SHA("d"));
	snprintf(o.parents[1].key, sizeof(o.parents[1].key), "p2");
	snprintf(o.parents[1].sha256, 65, "%s", SHA("e"));
	arc_meta_build(&m, &o);
	meta_to_buf(&m, &b);
	T_OK(arc_meta_parse(&b, &p, &why) == 0 &&
	    strcmp(p.parents[1].key, "p2") == 0 &&
	    strcmp(p.parents[0].sha256, SHA("d")) == 0 &&
	    p.prev.sha256[0] == '\0', "metadata: two parent links");

	/* 2 KB: long keys give way, hashes stay */
	memset(o.prev.key, 'k', 1000);
	o.prev.key[1000] = '\0';
	snprintf(o.prev.sha256, 65, "%s", SHA("f"));
	memset(o.parents[0].key, 'p', 1000);
	o.parents[0].key[1000] = '\0';
	arc_meta_build(&m, &o);
	for (i = 0, total = 0; i < m.n; i++)
		total += strlen(m.kv[i].name) + strlen(m.kv[i].value);
	meta_to_buf(&m, &b);
	T_OK(total <= ARC_META_MAX && arc_meta_parse(&b, &p, &why) == 0 &&
	    p.prev.key[0] == '\0' && strcmp(p.prev.sha256, SHA("f")) == 0,
	    "metadata: within 2 KB (%zu bytes), links keep their hashes",
	    total);

	/* what is not the keeper's is refused, with a reason */
	buf_reset(&b);
	buf_addstr(&b, "records: 5\nfirst-seq: 1\nlast-seq: 2\n");
	T_OK(arc_meta_parse(&b, &p, &why) == -1 && why != NULL,
	    "metadata: without sha256 refused (%s)", why);
	/* what versions before the chain wrote: adopted, shard unnamed */
	buf_reset(&b);
	buf_printf(&b, "records: 5\nfirst-seq: 1\nlast-seq: 2\nsha256: %s\n",
	    SHA("a"));
	T_OK(arc_meta_parse(&b, &p, &why) == 0 && p.shard[0] == '\0' &&
	    p.prev.sha256[0] == '\0' && p.records == 5,
	    "metadata: an object of an older version parses, without shard "
	    "nor links");
	buf_reset(&b);
	buf_printf(&b, "shard: ../x\nrecords: 5\nfirst-seq: 1\nlast-seq: 2\n"
	    "sha256: %s\n", SHA("a"));
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: an unsafe shard "
	    "refused");
	buf_reset(&b);
	buf_printf(&b, "shard: s1\nrecords: 5\nfirst-seq: 9\nlast-seq: 2\n"
	    "sha256: %s\n", SHA("a"));
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: first after last "
	    "refused (%s)", why);
	buf_reset(&b);
	buf_printf(&b, "shard: s1\nrecords: 5x\nfirst-seq: 1\nlast-seq: 2\n"
	    "sha256: %s\n", SHA("a"));
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: bad count refused");
	buf_reset(&b);
	buf_printf(&b, "shard: s1\nrecords: 5\nfirst-seq: 1\nlast-seq: 2\n"
	    "sha256: %s\nprev-sha256: xyz\n", SHA("a"));
	T_OK(arc_meta_parse(&b, &p, &why) == -1, "metadata: bad prev-sha256 "
	    "refused");
	buf_free(&b);
}

static void
test_head(void)
{
	struct arc_head h, g;
	const char *why;
	char *s;
	size_t i;
	static const char *bad[] = {
		"",
		"[]",
		"{\"version\":1}",
		"{\"version\":2,\"shard\":\"s\",\"done\":false}",
		"{\"version\":1,\"shard\":\"../x\",\"done\":false}",
		"{\"version\":1,\"shard\":\"s\",\"key\":\"k\",\"done\":false}",
		"{\"version\":1,\"shard\":\"s\",\"key\":\"k\",\"sha256\":\"ab\","
		    "\"last_seq\":\"1\"}",
		"{\"version\":1,\"shard\":\"s\",\"last_seq\":\"1x\"}",
		"{\"version\":1,\"shard\":\"s\",\"last_seq\":\"1\","
		    "\"last_sub\":-1}",
		"{\"version\":1,\"shard\":\"s\",\"last_more\":true}",
		"{\"version\":1,\"shard\":\"s\",\"done\":\"yes\"}",
		"{\"version\":1,\"shard\":\"s\"} trailing",
		"{\"version\":1,\"shard\":\"s\",\"last_ts\":\"yesterday\"}",
	};

	memset(&h, 0, sizeof(h));
	snprintf(h.shard, sizeof(h.shard), "shardId-000000000002");
	snprintf(h.key, sizeof(h.key), "p/s/2026/x-1.jsonl.gz");
	snprintf(h.sha256, sizeof(h.sha256), "%s", SHA("0"));
	snprintf(h.last.seq, sizeof(h.last.seq), "4959");
	h.last.has_sub = 1;
	h.last.sub = 2;
	h.last_more = 1;
	h.records = 77;
	h.last_ts = 1764792001234LL;
	h.done = 1;
	s = arc_head_format(&h, "orders");
	T_OK(arc_head_parse(s, strlen(s), &g, &why) == 0, "head: parses back");
	T_OK(strcmp(g.key, h.key) == 0 && strcmp(g.sha256, h.sha256) == 0 &&
	    strcmp(g.last.seq, "4959") == 0 && g.last.has_sub &&
	    g.last.sub == 2 && g.last_more && g.done && g.records == 77 &&
	    g.last_ts == h.last_ts, "head: every field round-trips");
	free(s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_OK(arc_head_parse(bad[i], strlen(bad[i]), &g, &why) == -1,
		    "head: refused: %s (%s)", bad[i], why ? why : "?");
	T_OK(arc_head_parse("{\"version\":1,\"shard\":\"s\",\"done\":true}\n",
	    38, &g, &why) == 0 && g.done && g.key[0] == '\0',
	    "head: a done shard with nothing archived");
}

static void
test_keys(void)
{
	struct cfg c;
	struct buf b;

	memset(&c, 0, sizeof(c));
	c.stream = (char *)(uintptr_t)"orders";
	c.s3_prefix = (char *)(uintptr_t)"kinesis/";
	c.s3_key = (char *)(uintptr_t)
	    "{prefix}{stream}/{yyyy}/{mm}/{stream}-{shard}-{seq}.jsonl.gz";
	buf_init(&b);
	arc_list_prefix(&b, &c);
	T_STREQ(b.data, "kinesis/orders/", "list prefix: up to the first "
	    "placeholder of the object's own");
	arc_head_key(&b, &c, "shardId-000000000001");
	T_STREQ(b.data, "kinesis/orders/_keeper/shardId-000000000001.json",
	    "head key");
	buf_free(&b);
}

/* verify's problems, collected */
struct seen {
	char	text[8192];
	int	n;
};

static void
collect(void *arg, const char *key, const char *shard, const char *what,
    const char *detail)
{
	struct seen *s = arg;
	size_t l = strlen(s->text);

	snprintf(s->text + l, sizeof(s->text) - l, "%s|%s|%s\n",
	    key ? key : "-", what, detail);
	s->n++;
}

static void
add(struct chain *c, const char *key, const char *shard, const char *f,
    const char *l, const char *sha, const char *prevkey, const char *prevsha)
{
	struct arc_object o;

	obj(&o, shard, f, l, sha, prevkey ? prevkey : "", prevsha);
	chain_obj_set(chain_add(c, key), &o);
}

/*
 * The topology of the tests: shard 0 split into 1 and 2; 1 and 2 merged
 * into 3. Each shard's objects chain; children name their parents' last.
 */
static void
clean(struct chain *c, struct seen *seen)
{
	struct chain_shard *s;
	struct arc_object o;
	const char *ids[] = { "s0", "s1", "s2", "s3" };
	size_t i;

	chain_init(c);
	memset(seen, 0, sizeof(*seen));
	c->report = collect;
	c->arg = seen;
	for (i = 0; i < 4; i++) {
		s = chain_shard_get(c, ids[i]);
		s->listed = 1;
		s->closed = i < 3;
		s->has_head = 1;
		s->head.done = i < 3;
	}
	chain_shard_get(c, "s1")->parent[0] = xstrdup("s0");
	chain_shard_get(c, "s2")->parent[0] = xstrdup("s0");
	chain_shard_get(c, "s3")->parent[0] = xstrdup("s1");
	chain_shard_get(c, "s3")->parent[1] = xstrdup("s2");
	snprintf(chain_shard_get(c, "s0")->head.key, ARC_KEY_MAX, "a/s0-3");
	snprintf(chain_shard_get(c, "s1")->head.key, ARC_KEY_MAX, "a/s1-20");
	snprintf(chain_shard_get(c, "s2")->head.key, ARC_KEY_MAX, "a/s2-30");
	snprintf(chain_shard_get(c, "s3")->head.key, ARC_KEY_MAX, "a/s3-40");

	add(c, "a/s0-1", "s0", "1", "2", SHA("1"), NULL, NULL);
	add(c, "a/s0-3", "s0", "3", "9", SHA("2"), "a/s0-1", SHA("1"));
	obj(&o, "s1", "20", "21", SHA("3"), "", NULL);
	snprintf(o.parents[0].key, ARC_KEY_MAX, "a/s0-3");
	snprintf(o.parents[0].sha256, 65, "%s", SHA("2"));
	chain_obj_set(chain_add(c, "a/s1-20"), &o);
	obj(&o, "s2", "30", "35", SHA("4"), "", NULL);
	snprintf(o.parents[0].key, ARC_KEY_MAX, "a/s0-3");
	snprintf(o.parents[0].sha256, 65, "%s", SHA("2"));
	chain_obj_set(chain_add(c, "a/s2-30"), &o);
	obj(&o, "s3", "40", "41", SHA("5"), "", NULL);
	snprintf(o.parents[0].sha256, 65, "%s", SHA("3"));
	snprintf(o.parents[1].sha256, 65, "%s", SHA("4"));
	chain_obj_set(chain_add(c, "a/s3-40"), &o);
	add(c, "a/s3-42", "s3", "42", "50", SHA("6"), "a/s3-40", SHA("5"));
	snprintf(chain_shard_get(c, "s3")->head.key, ARC_KEY_MAX, "a/s3-42");
}

static struct chain_obj *
find(struct chain *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->nobjs; i++)
		if (strcmp(c->objs[i]->key, key) == 0)
			return c->objs[i];
	return NULL;
}

static void
test_chain(void)
{
	struct chain c;
	struct seen seen;
	struct chain_obj *o;
	size_t n;

	clean(&c, &seen);
	add(&c, "a/other-1", "s0", "1", "2", SHA("f"), NULL, NULL);
	c.objs[c.nobjs - 1]->foreign = 1;
	n = chain_check(&c, 1764792100000LL);
	T_OK(n == 0 && seen.n == 0, "chain: a clean archive across a split "
	    "and a merge has no problem, another stream's object beside it "
	    "ignored (%zu)", n);
	if (seen.n)
		printf("# %s", seen.text);
	T_INTEQ(chain_shard_get(&c, "s3")->objects, 2, "chain: objects "
	    "counted per shard");
	T_OK(chain_shard_get(&c, "s3")->last != NULL &&
	    strcmp(chain_shard_get(&c, "s3")->last->key, "a/s3-42") == 0,
	    "chain: the open shard's end is its last object");
	T_INTEQ(chain_shard_get(&c, "s3")->lag_ms, 99000, "chain: lag of "
	    "the open shard from its last record");
	chain_free(&c);

	/* partitions: a batch of two parts whose records interleave */
	clean(&c, &seen);
	{
		struct arc_object po;

		obj(&po, "s3", "51", "57", SHA("a"), "a/s3-42", SHA("6"));
		po.part = 0;
		po.parts = 2;
		pos_set(&po.batch_first, "51", 0, 0);
		pos_set(&po.batch_last, "58", 0, 0);
		chain_obj_set(chain_add(&c, "a/s3-51"), &po);
		obj(&po, "s3", "52", "58", SHA("b"), "a/s3-51", SHA("a"));
		po.part = 1;
		po.parts = 2;
		pos_set(&po.batch_first, "51", 0, 0);
		pos_set(&po.batch_last, "58", 0, 0);
		chain_obj_set(chain_add(&c, "a/s3-52"), &po);
	}
	n = chain_check(&c, 1764792100000LL);
	T_OK(n == 0, "chain: the parts of one batch interleave without being "
	    "an overlap (%zu)", n);
	if (seen.n)
		printf("# %s", seen.text);
	chain_free(&c);

	/* an object in the middle deleted */
	clean(&c, &seen);
	for (n = 0; n < c.nobjs; n++)
		if (strcmp(c.objs[n]->key, "a/s0-1") == 0) {
			free(c.objs[n]->key);
			c.objs[n]->key = xstrdup("z/unrelated");
			free(c.objs[n]->shard);
			c.objs[n]->shard = xstrdup("s9");
			memset(c.objs[n]->sha256, '9', 64);
		}
	n = chain_check(&c, 1764792100000LL);
	T_OK(n >= 1 && strstr(seen.text, "a/s0-3|missing link|its "
	    "predecessor a/s0-1") != NULL, "chain: a deleted object is a "
	    "missing link naming it");
	printf("# %s", seen.text);
	chain_free(&c);

	/* replaced by other content (no keeper metadata) */
	clean(&c, &seen);
	chain_obj_bad(find(&c, "a/s0-1"), "no shard");
	n = chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s0-1|no metadata|") != NULL &&
	    strstr(seen.text, "a/s0-3|missing link|its predecessor a/s0-1 "
	    "has no keeper metadata") != NULL, "chain: a replaced object is "
	    "named, and so is the broken link");
	chain_free(&c);

	/* replaced with metadata copied but another hash */
	clean(&c, &seen);
	memset(find(&c, "a/s0-1")->sha256, '7', 64);
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s0-3|missing link|its predecessor a/s0-1 "
	    "has sha256 7777") != NULL, "chain: a predecessor with another "
	    "hash breaks the link");
	chain_free(&c);

	/* a fork: two objects name the same predecessor */
	clean(&c, &seen);
	add(&c, "a/s3-45", "s3", "45", "49", SHA("8"), "a/s3-40", SHA("5"));
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s3-40|fork|named as predecessor by 2 "
	    "objects") != NULL, "chain: a fork is named");
	T_OK(strstr(seen.text, "|overlap|") != NULL, "chain: its overlapping "
	    "range too");
	chain_free(&c);

	/* overlap: a second root inside the shard */
	clean(&c, &seen);
	add(&c, "a/s0-2", "s0", "2", "4", SHA("9"), NULL, NULL);
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s0-2|missing link|names no predecessor") !=
	    NULL && strstr(seen.text, "|overlap|") != NULL,
	    "chain: an object starting inside another is an overlap");
	chain_free(&c);

	/* out of order: a link backwards */
	clean(&c, &seen);
	o = find(&c, "a/s0-3");
	free(o->first_seq);
	o->first_seq = xstrdup("1");
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s0-3|out of order|") != NULL,
	    "chain: a successor not after its predecessor is out of order");
	chain_free(&c);

	/* a closed shard whose chain has no end */
	clean(&c, &seen);
	chain_shard_get(&c, "s2")->head.done = 0;
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s2-30|not caught up|s2 is closed but its "
	    "chain has no end: last object a/s2-30, lag 99 s") != NULL,
	    "chain: a closed shard not done is reported with its lag");
	chain_free(&c);

	/* a child's first object that names no parent */
	clean(&c, &seen);
	o = find(&c, "a/s1-20");
	memset(o->parent_sha, 0, sizeof(o->parent_sha));
	chain_check(&c, 1764792100000LL);
	T_OK(strstr(seen.text, "a/s1-20|missing link|first object of s1 "
	    "names no parent") != NULL, "chain: a child's first object "
	    "without its parent link");
	chain_free(&c);

	/* --since: objects outside the window are trusted, not missing */
	clean(&c, &seen);
	o = find(&c, "a/s0-1");
	free(o->shard);
	o->shard = NULL;
	o->checked = 0;
	n = chain_check(&c, 1764792100000LL);
	T_OK(n == 0, "chain: a predecessor outside --since is not missing "
	    "(%zu)", n);
	chain_free(&c);
}

static void
test_since(void)
{
	int64_t ms;

	T_OK(verify_parse_since("2026-12-03", 0, &ms) == 0 &&
	    ms == 1796256000000LL, "since: a date");
	T_OK(verify_parse_since("2026-12-03T20:00:00Z", 0, &ms) == 0 &&
	    ms == 1796328000000LL, "since: a time");
	T_OK(verify_parse_since("24h", 100000000LL, &ms) == 0 &&
	    ms == 100000000LL - 86400000LL, "since: an age");
	T_OK(verify_parse_since("yesterday", 0, &ms) == -1 &&
	    verify_parse_since("24x", 0, &ms) == -1 &&
	    verify_parse_since("2026-13-03", 0, &ms) == -1,
	    "since: anything else refused");
}

int
main(void)
{
	test_meta();
	test_head();
	test_keys();
	test_chain();
	test_since();
	return t_done();
}
