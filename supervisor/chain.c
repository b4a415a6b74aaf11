/*
 * chain.c: rebuild each shard's chain of objects from their metadata and
 * name what is wrong: a link to an object that is gone or changed, two
 * objects claiming the same predecessor, ranges that overlap or go
 * backwards, a closed shard whose chain never ends. No I/O (chain.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "util.h"

void
chain_init(struct chain *c)
{
	memset(c, 0, sizeof(*c));
}

static void
obj_free(struct chain_obj *o)
{
	free(o->key);
	free(o->why);
	free(o->shard);
	free(o->first_seq);
	free(o->last_seq);
	free(o->prev_key);
	free(o);
}

void
chain_free(struct chain *c)
{
	size_t i, j;

	for (i = 0; i < c->nobjs; i++)
		obj_free(c->objs[i]);
	free(c->objs);
	for (i = 0; i < c->nshards; i++) {
		free(c->shards[i].id);
		for (j = 0; j < ARC_PARENTS; j++)
			free(c->shards[i].parent[j]);
	}
	free(c->shards);
	memset(c, 0, sizeof(*c));
}

struct chain_obj *
chain_add(struct chain *c, const char *key)
{
	struct chain_obj *o;

	if (c->nobjs == c->capobjs) {
		c->capobjs = c->capobjs ? c->capobjs * 2 : 256;
		c->objs = xrealloc(c->objs, c->capobjs * sizeof(*c->objs));
	}
	o = xcalloc(1, sizeof(*o));
	o->key = xstrdup(key);
	o->last_ts = INT64_MIN;
	c->objs[c->nobjs++] = o;
	return o;
}

void
chain_obj_set(struct chain_obj *o, const struct arc_object *m)
{
	const struct pos *f, *l;
	size_t i;

	o->checked = 1;
	o->shard = xstrdup(m->shard);
	memcpy(o->sha256, m->sha256, sizeof(o->sha256));
	o->records = m->records;
	/* a part of a batch stands for its batch in the chain's order */
	f = m->parts > 1 ? &m->batch_first : &m->first;
	l = m->parts > 1 ? &m->batch_last : &m->last;
	o->first_seq = xstrdup(f->seq);
	o->first_has_sub = f->has_sub;
	o->first_sub = f->sub;
	o->last_seq = xstrdup(l->seq);
	o->last_has_sub = l->has_sub;
	o->last_sub = l->sub;
	o->part = m->parts > 1 ? m->part : 0;
	o->parts = m->parts > 1 ? m->parts : 1;
	o->last_ts = m->last_ts;
	memcpy(o->prev_sha, m->prev.sha256, sizeof(o->prev_sha));
	if (m->prev.key[0] != '\0')
		o->prev_key = xstrdup(m->prev.key);
	for (i = 0; i < ARC_PARENTS; i++)
		memcpy(o->parent_sha[i], m->parents[i].sha256,
		    sizeof(o->parent_sha[i]));
}

void
chain_obj_bad(struct chain_obj *o, const char *why)
{
	o->checked = 1;
	free(o->why);
	o->why = xstrdup(why);
}

struct chain_shard *
chain_shard_get(struct chain *c, const char *id)
{
	struct chain_shard *s;
	size_t i;

	for (i = 0; i < c->nshards; i++)
		if (strcmp(c->shards[i].id, id) == 0)
			return &c->shards[i];
	if (c->nshards == c->capshards) {
		c->capshards = c->capshards ? c->capshards * 2 : 16;
		c->shards = xrealloc(c->shards, c->capshards *
		    sizeof(*c->shards));
	}
	s = &c->shards[c->nshards++];
	memset(s, 0, sizeof(*s));
	s->id = xstrdup(id);
	s->lag_ms = -1;
	return s;
}

static void
problem(struct chain *c, const char *key, const char *shard,
    const char *what, const char *fmt, ...)
{
	char detail[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->problems++;
	if (c->report != NULL)
		c->report(c->arg, key, shard, what, detail);
}

static int
cmp_sha(const void *a, const void *b)
{
	const struct chain_obj *x = *(struct chain_obj *const *)a;
	const struct chain_obj *y = *(struct chain_obj *const *)b;

	return strcmp(x->sha256, y->sha256);
}

static int
cmp_key(const void *a, const void *b)
{
	const struct chain_obj *x = *(struct chain_obj *const *)a;
	const struct chain_obj *y = *(struct chain_obj *const *)b;

	return strcmp(x->key, y->key);
}

/* The objects keep their positions as strings (compact); pos_cmp orders. */
static int
cmp3(const char *sa, int ha, uint64_t a, const char *sb, int hb, uint64_t b)
{
	struct pos x, y;

	pos_set(&x, sa, ha, a);
	pos_set(&y, sb, hb, b);
	return pos_cmp(&x, &y);
}

/* Two parts of one batch (the same range, the same number of parts). */
static int
same_batch(const struct chain_obj *a, const struct chain_obj *b)
{
	return a->parts > 1 && a->parts == b->parts &&
	    cmp3(a->first_seq, a->first_has_sub, a->first_sub, b->first_seq,
	    b->first_has_sub, b->first_sub) == 0 &&
	    cmp3(a->last_seq, a->last_has_sub, a->last_sub, b->last_seq,
	    b->last_has_sub, b->last_sub) == 0;
}

static int
first_cmp(const struct chain_obj *a, const struct chain_obj *b)
{
	int r = cmp3(a->first_seq, a->first_has_sub, a->first_sub,
	    b->first_seq, b->first_has_sub, b->first_sub);

	if (r == 0 && same_batch(a, b))
		return a->part < b->part ? -1 : a->part > b->part;
	return r;
}

/* a ends before b begins */
static int
before(const struct chain_obj *a, const struct chain_obj *b)
{
	if (same_batch(a, b))
		return a->part < b->part;
	return cmp3(a->last_seq, a->last_has_sub, a->last_sub,
	    b->first_seq, b->first_has_sub, b->first_sub) < 0;
}

static int
cmp_shard_pos(const void *a, const void *b)
{
	const struct chain_obj *x = *(struct chain_obj *const *)a;
	const struct chain_obj *y = *(struct chain_obj *const *)b;
	int r = strcmp(x->shard, y->shard);

	return r != 0 ? r : first_cmp(x, y);
}

/* The objects (good, checked) whose hash is sha: [*lo, *hi). */
static void
by_sha(struct chain_obj **idx, size_t n, const char *sha, size_t *lo,
    size_t *hi)
{
	size_t l = 0, h = n, m;

	while (l < h) {
		m = l + (h - l) / 2;
		if (strcmp(idx[m]->sha256, sha) < 0)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	while (l < n && strcmp(idx[l]->sha256, sha) == 0)
		l++;
	*hi = l;
}

static struct chain_obj *
by_key(struct chain_obj **idx, size_t n, const char *key)
{
	size_t l = 0, h = n, m;
	int r;

	while (l < h) {
		m = l + (h - l) / 2;
		if ((r = strcmp(idx[m]->key, key)) == 0)
			return idx[m];
		if (r < 0)
			l = m + 1;
		else
			h = m;
	}
	return NULL;
}

static void
fmt_pos(char *out, size_t len, const char *seq, int has_sub, uint64_t sub)
{
	if (has_sub)
		snprintf(out, len, "%s/%llu", seq, (unsigned long long)sub);
	else
		snprintf(out, len, "%s", seq);
}

/* Link o to the object its metadata names; report what does not hold. */
static void
check_link(struct chain *c, struct chain_obj *o, struct chain_obj **shas,
    size_t nsha, struct chain_obj **keys, int partial)
{
	struct chain_obj *p = NULL, *named;
	size_t lo, hi, i;
	char a[160], b[160];

	by_sha(shas, nsha, o->prev_sha, &lo, &hi);
	for (i = lo; i < hi; i++) {
		if (strcmp(shas[i]->shard, o->shard) != 0)
			continue;
		if (o->prev_key == NULL || strcmp(shas[i]->key,
		    o->prev_key) == 0) {
			p = shas[i];
			break;
		}
		if (p == NULL)
			p = shas[i];
	}
	if (p != NULL) {
		o->pred = p;
		p->nsucc++;
		if (!before(p, o)) {
			fmt_pos(a, sizeof(a), p->last_seq, p->last_has_sub,
			    p->last_sub);
			fmt_pos(b, sizeof(b), o->first_seq, o->first_has_sub,
			    o->first_sub);
			problem(c, o->key, o->shard, first_cmp(p, o) >= 0 ?
			    "out of order" : "overlap",
			    "starts at %s, not after the end %s of its "
			    "predecessor %s", b, a, p->key);
		}
		return;
	}
	named = o->prev_key != NULL ? by_key(keys, c->nobjs, o->prev_key) :
	    NULL;
	if (named != NULL && !named->checked)
		return;		/* outside --since: not read, trusted */
	if (named != NULL && named->why != NULL)
		problem(c, o->key, o->shard, "missing link",
		    "its predecessor %s has no keeper metadata (replaced?)",
		    o->prev_key);
	else if (named != NULL)
		problem(c, o->key, o->shard, "missing link",
		    "its predecessor %s has sha256 %s, this object names %s "
		    "(replaced?)", o->prev_key, named->sha256, o->prev_sha);
	else if (o->prev_key != NULL)
		problem(c, o->key, o->shard, "missing link",
		    "its predecessor %s (sha256 %s) is not in the archive",
		    o->prev_key, o->prev_sha);
	else if (!partial)
		problem(c, o->key, o->shard, "missing link",
		    "its predecessor (sha256 %s) is not in the archive",
		    o->prev_sha);
}

/* The first object of a child shard names its parents' last objects. */
static void
check_parents(struct chain *c, struct chain_obj *o, struct chain_shard *s,
    struct chain_obj **shas, size_t nsha, int partial)
{
	struct chain_shard *ps;
	size_t i, j, lo, hi, named = 0;
	int found;

	for (i = 0; i < ARC_PARENTS; i++) {
		if (o->parent_sha[i][0] == '\0')
			continue;
		named++;
		by_sha(shas, nsha, o->parent_sha[i], &lo, &hi);
		found = 0;
		for (j = lo; j < hi; j++)
			if (strcmp(shas[j]->shard, o->shard) != 0)
				found = 1;
		if (!found && !partial)
			problem(c, o->key, o->shard, "missing link",
			    "the parent object it names (sha256 %s) is not in "
			    "the archive", o->parent_sha[i]);
	}
	if (named > 0 || partial)
		return;
	/* naming none is right only when the parents archived nothing */
	for (i = 0; i < ARC_PARENTS; i++) {
		if (s->parent[i] == NULL)
			continue;
		ps = chain_shard_get(c, s->parent[i]);
		if (ps->objects > 0 || (ps->has_head && ps->head.key[0]))
			problem(c, o->key, o->shard, "missing link",
			    "first object of %s names no parent object, but its "
			    "parent %s has objects", o->shard, s->parent[i]);
	}
}

size_t
chain_check(struct chain *c, int64_t now_ms)
{
	struct chain_obj **shas, **keys, **pos, *o, *last;
	struct chain_shard *s;
	size_t i, j, nsha = 0, npos, start;
	int partial = 0;

	c->problems = 0;
	shas = xcalloc(c->nobjs + 1, sizeof(*shas));
	keys = xcalloc(c->nobjs + 1, sizeof(*keys));
	for (i = 0; i < c->nobjs; i++) {
		o = c->objs[i];
		keys[i] = o;
		o->nsucc = 0;
		o->pred = NULL;
		if (o->foreign)
			continue;
		if (!o->checked)
			partial = 1;
		else if (o->why != NULL)
			problem(c, o->key, NULL, "no metadata",
			    "not written by the keeper, or replaced: %s", o->why);
		else
			shas[nsha++] = o;
	}
	qsort(shas, nsha, sizeof(*shas), cmp_sha);
	qsort(keys, c->nobjs, sizeof(*keys), cmp_key);
	pos = xcalloc(nsha + 1, sizeof(*pos));
	memcpy(pos, shas, nsha * sizeof(*pos));
	npos = nsha;
	qsort(pos, npos, sizeof(*pos), cmp_shard_pos);
	for (i = 0; i < npos; i++) {
		s = chain_shard_get(c, pos[i]->shard);
		s->objects++;
		s->records += pos[i]->records;
	}

	/* links, and the roots of each shard */
	for (start = 0; start < npos; start = j) {
		size_t roots = 0;

		for (j = start; j < npos && strcmp(pos[j]->shard,
		    pos[start]->shard) == 0; j++) {
			o = pos[j];
			if (o->prev_sha[0] != '\0') {
				check_link(c, o, shas, nsha, keys, partial);
				continue;
			}
			if (roots++ > 0 && !partial) {
				problem(c, o->key, o->shard, "missing link",
				    "names no predecessor, but %s does not "
				    "begin here (it begins with %s)", o->shard,
				    pos[start]->key);
				continue;
			}
			check_parents(c, o, chain_shard_get(c, o->shard), shas,
			    nsha, partial);
		}
		/* ranges in position order: never two objects for a record */
		for (i = start + 1; i < j; i++) {
			char a[160];

			if (before(pos[i - 1], pos[i]))
				continue;
			fmt_pos(a, sizeof(a), pos[i]->first_seq,
			    pos[i]->first_has_sub, pos[i]->first_sub);
			if (pos[i]->pred != pos[i - 1])
				problem(c, pos[i]->key, pos[i]->shard,
				    "overlap", "starts at %s, inside %s", a,
				    pos[i - 1]->key);
		}
	}
	for (i = 0; i < npos; i++) {
		o = pos[i];
		if (o->nsucc > 1) {
			struct buf b;

			buf_init(&b);
			for (j = 0; j < npos; j++)
				if (pos[j]->pred == o)
					buf_printf(&b, " %s", pos[j]->key);
			problem(c, o->key, o->shard, "fork",
			    "named as predecessor by %d objects:%s", o->nsucc,
			    b.data);
			buf_free(&b);
		}
	}

	/* the ends */
	for (i = 0; i < c->nshards; i++) {
		struct chain_obj *h = NULL;

		s = &c->shards[i];
		last = NULL;
		for (j = 0; j < npos; j++)
			if (strcmp(pos[j]->shard, s->id) == 0)
				last = pos[j];
		s->last = last;
		if (last != NULL && last->last_ts != INT64_MIN)
			s->lag_ms = now_ms - last->last_ts;
		if (s->has_head && s->head.key[0] != '\0' &&
		    (h = by_key(keys, c->nobjs, s->head.key)) == NULL)
			problem(c, s->head.key, s->id, "missing link",
			    "the head object of %s names it, but it is not in "
			    "the archive", s->id);
		if (s->has_head && s->head.done && last != NULL && h != NULL &&
		    h->checked && last != h)
			problem(c, last->key, s->id, "overlap",
			    "after the end of %s (its head object says the "
			    "shard ended with %s)", s->id, s->head.key);
		if (s->listed && s->closed && !(s->has_head && s->head.done)) {
			char lag[64] = "unknown";

			if (s->lag_ms >= 0)
				snprintf(lag, sizeof(lag), "%lld s",
				    (long long)(s->lag_ms / 1000));
			problem(c, last ? last->key : NULL, s->id,
			    "not caught up", "%s is closed but its chain has no "
			    "end: last object %s, lag %s", s->id,
			    last ? last->key : "none", lag);
		}
	}
	free(pos);
	free(shas);
	free(keys);
	return c->problems;
}
