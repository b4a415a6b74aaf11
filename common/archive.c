/*
 * archive.c: the keeper's metadata on each object and the per-shard head
 * object (archive.h). Everything read back from S3 is validated field by
 * field: a worker resumes from it, so a damaged value must be refused,
 * never guessed at.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "archive.h"

int
arc_sha_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

/* "2026-11-27T14:30:05.123Z" exactly (what fmt_iso8601_ms writes). */
static int
parse_ts(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, frac, n = 0;
	time_t t;

	if (strlen(s) != 24 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y,
	    &mo, &d, &h, &mi, &sec, &frac, &n) != 7 || n != 24)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60 || frac < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

int
arc_meta_value(const struct buf *meta, const char *name, char *out,
    size_t outlen)
{
	const char *p = meta->data, *e;
	size_t nl = strlen(name), vl;

	if (outlen > 0)
		out[0] = '\0';
	if (p == NULL)
		return -1;
	while (p < meta->data + meta->len) {
		if ((e = memchr(p, '\n', meta->data + meta->len - p)) == NULL)
			break;
		if ((size_t)(e - p) >= nl + 2 && strncmp(p, name, nl) == 0 &&
		    p[nl] == ':' && p[nl + 1] == ' ') {
			vl = (size_t)(e - p) - nl - 2;
			if (vl >= outlen)
				return -1;
			memcpy(out, p + nl + 2, vl);
			out[vl] = '\0';
			return 0;
		}
		p = e + 1;
	}
	return -1;
}

static int	batch_parse(const struct buf *, struct arc_object *,
		    const char **);

/* A decimal uint64 with nothing around it. */
static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 20)
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

static void
kv_add(struct arc_meta *m, const char *name, const char *value)
{
	if (m->n < sizeof(m->kv) / sizeof(m->kv[0])) {
		m->kv[m->n].name = name;
		m->kv[m->n++].value = value;
	}
}

static void
build(struct arc_meta *m, const struct arc_object *o, int keys)
{
	static const char *pk[ARC_PARENTS] = { "parent-key", "parent2-key" };
	static const char *ps[ARC_PARENTS] = { "parent-sha256",
	    "parent2-sha256" };
	size_t i;

	m->n = 0;
	snprintf(m->num[0], sizeof(m->num[0]), "%" PRIu64, o->records);
	snprintf(m->num[1], sizeof(m->num[1]), "%" PRIu64, o->bytes);
	if (o->stream[0] != '\0')
		kv_add(m, "stream", o->stream);
	if (o->shard[0] != '\0')
		kv_add(m, "shard", o->shard);
	kv_add(m, "records", m->num[0]);
	kv_add(m, "bytes", m->num[1]);
	if (o->stored > 0) {
		snprintf(m->num[6], sizeof(m->num[6]), "%" PRIu64, o->stored);
		kv_add(m, "stored-bytes", m->num[6]);
	}
	kv_add(m, "first-seq", o->first.seq);
	if (o->first.has_sub) {
		snprintf(m->num[2], sizeof(m->num[2]), "%" PRIu64, o->first.sub);
		kv_add(m, "first-sub", m->num[2]);
	}
	if (o->first_ts != INT64_MIN) {
		fmt_iso8601_ms(o->first_ts, m->num[4], sizeof(m->num[4]));
		kv_add(m, "first-ts", m->num[4]);
	}
	kv_add(m, "last-seq", o->last.seq);
	if (o->last.has_sub) {
		snprintf(m->num[3], sizeof(m->num[3]), "%" PRIu64, o->last.sub);
		kv_add(m, "last-sub", m->num[3]);
		if (o->last_more)
			kv_add(m, "last-more", "1");
	}
	if (o->last_ts != INT64_MIN) {
		fmt_iso8601_ms(o->last_ts, m->num[5], sizeof(m->num[5]));
		kv_add(m, "last-ts", m->num[5]);
	}
	kv_add(m, "sha256", o->sha256);
	if (o->parts > 1) {
		snprintf(m->num[7], sizeof(m->num[7]), "%u", o->part);
		snprintf(m->num[8], sizeof(m->num[8]), "%u", o->parts);
		kv_add(m, "part", m->num[7]);
		kv_add(m, "parts", m->num[8]);
		kv_add(m, "batch-first-seq", o->batch_first.seq);
		if (o->batch_first.has_sub) {
			snprintf(m->num[9], sizeof(m->num[9]), "%" PRIu64,
			    o->batch_first.sub);
			kv_add(m, "batch-first-sub", m->num[9]);
		}
		kv_add(m, "batch-last-seq", o->batch_last.seq);
		if (o->batch_last.has_sub) {
			snprintf(m->num[10], sizeof(m->num[10]), "%" PRIu64,
			    o->batch_last.sub);
			kv_add(m, "batch-last-sub", m->num[10]);
			if (o->batch_more)
				kv_add(m, "batch-more", "1");
		}
	}
	if (o->prev.sha256[0] != '\0') {
		if (keys && o->prev.key[0] != '\0')
			kv_add(m, "prev-key", o->prev.key);
		kv_add(m, "prev-sha256", o->prev.sha256);
	}
	for (i = 0; i < ARC_PARENTS; i++) {
		if (o->parents[i].sha256[0] == '\0')
			continue;
		if (keys && o->parents[i].key[0] != '\0')
			kv_add(m, pk[i], o->parents[i].key);
		kv_add(m, ps[i], o->parents[i].sha256);
	}
}

void
arc_meta_build(struct arc_meta *m, const struct arc_object *o)
{
	size_t i, total = 0;

	memset(m, 0, sizeof(*m));
	build(m, o, 1);
	for (i = 0; i < m->n; i++)
		total += strlen(m->kv[i].name) + strlen(m->kv[i].value);
	/* S3 refuses more than 2 KB of user metadata: long keys give way,
	 * and the hashes alone still identify the links */
	if (total > ARC_META_MAX)
		build(m, o, 0);
}

int
arc_meta_parse(const struct buf *meta, struct arc_object *o, const char **why)
{
	static const char *pk[ARC_PARENTS] = { "parent-key", "parent2-key" };
	static const char *ps[ARC_PARENTS] = { "parent-sha256",
	    "parent2-sha256" };
	char v[ARC_KEY_MAX];
	size_t i;

	memset(o, 0, sizeof(*o));
	o->first_ts = o->last_ts = INT64_MIN;
	*why = NULL;
	/* objects of versions before the chain name no stream nor shard */
	if (arc_meta_value(meta, "stream", o->stream, sizeof(o->stream)) ==
	    0 && o->stream[0] == '\0')
		*why = "bad stream";
	else if (arc_meta_value(meta, "shard", o->shard, sizeof(o->shard)) ==
	    0 && !safe_component(o->shard))
		*why = "bad shard";
	else if (arc_meta_value(meta, "records", v, sizeof(v)) == -1 ||
	    parse_u64(v, &o->records) == -1 || o->records == 0)
		*why = "bad records";
	else if (arc_meta_value(meta, "first-seq", o->first.seq,
	    sizeof(o->first.seq)) == -1 || !seq_valid(o->first.seq))
		*why = "bad first-seq";
	else if (arc_meta_value(meta, "last-seq", o->last.seq,
	    sizeof(o->last.seq)) == -1 || !seq_valid(o->last.seq))
		*why = "bad last-seq";
	else if (arc_meta_value(meta, "sha256", o->sha256,
	    sizeof(o->sha256)) == -1 || !arc_sha_valid(o->sha256))
		*why = "bad sha256";
	if (*why != NULL)
		return -1;
	if (arc_meta_value(meta, "bytes", v, sizeof(v)) == 0 &&
	    parse_u64(v, &o->bytes) == -1)
		*why = "bad bytes";
	else if (arc_meta_value(meta, "stored-bytes", v, sizeof(v)) == 0 &&
	    parse_u64(v, &o->stored) == -1)
		*why = "bad stored-bytes";
	else if (arc_meta_value(meta, "first-sub", v, sizeof(v)) == 0 &&
	    (parse_u64(v, &o->first.sub) == -1 || !(o->first.has_sub = 1)))
		*why = "bad first-sub";
	else if (arc_meta_value(meta, "last-sub", v, sizeof(v)) == 0 &&
	    (parse_u64(v, &o->last.sub) == -1 || !(o->last.has_sub = 1)))
		*why = "bad last-sub";
	else if (arc_meta_value(meta, "last-more", v, sizeof(v)) == 0 &&
	    (strcmp(v, "1") != 0 || !o->last.has_sub || !(o->last_more = 1)))
		*why = "bad last-more";
	else if (arc_meta_value(meta, "first-ts", v, sizeof(v)) == 0 &&
	    parse_ts(v, &o->first_ts) == -1)
		*why = "bad first-ts";
	else if (arc_meta_value(meta, "last-ts", v, sizeof(v)) == 0 &&
	    parse_ts(v, &o->last_ts) == -1)
		*why = "bad last-ts";
	else if (arc_meta_value(meta, "prev-sha256", o->prev.sha256,
	    sizeof(o->prev.sha256)) == 0 && !arc_sha_valid(o->prev.sha256))
		*why = "bad prev-sha256";
	if (*why != NULL)
		return -1;
	arc_meta_value(meta, "prev-key", o->prev.key, sizeof(o->prev.key));
	if (o->prev.key[0] != '\0' && o->prev.sha256[0] == '\0') {
		*why = "prev-key without prev-sha256";
		return -1;
	}
	for (i = 0; i < ARC_PARENTS; i++) {
		struct arc_link *l = &o->parents[i];

		if (arc_meta_value(meta, ps[i], l->sha256, sizeof(l->sha256)) ==
		    0 && !arc_sha_valid(l->sha256)) {
			*why = "bad parent-sha256";
			return -1;
		}
		arc_meta_value(meta, pk[i], l->key, sizeof(l->key));
		if (l->key[0] != '\0' && l->sha256[0] == '\0') {
			*why = "parent-key without parent-sha256";
			return -1;
		}
	}
	if (pos_cmp(&o->first, &o->last) > 0) {
		*why = "first-seq after last-seq";
		return -1;
	}
	return batch_parse(meta, o, why);
}

/* The batch of a part (partitions); without them the object is its own
 * batch. */
static int
batch_parse(const struct buf *meta, struct arc_object *o, const char **why)
{
	char v[64];
	uint64_t x;

	o->part = 0;
	o->parts = 1;
	o->batch_first = o->first;
	o->batch_last = o->last;
	o->batch_more = o->last_more;
	if (arc_meta_value(meta, "parts", v, sizeof(v)) == -1)
		return 0;
	if (parse_u64(v, &x) == -1 || x < 2 || x > 1000000) {
		*why = "bad parts";
		return -1;
	}
	o->parts = (unsigned)x;
	if (arc_meta_value(meta, "part", v, sizeof(v)) == -1 ||
	    parse_u64(v, &x) == -1 || x >= o->parts) {
		*why = "bad part";
		return -1;
	}
	o->part = (unsigned)x;
	memset(&o->batch_first, 0, sizeof(o->batch_first));
	memset(&o->batch_last, 0, sizeof(o->batch_last));
	o->batch_more = 0;
	if (arc_meta_value(meta, "batch-first-seq", o->batch_first.seq,
	    sizeof(o->batch_first.seq)) == -1 ||
	    !seq_valid(o->batch_first.seq) ||
	    arc_meta_value(meta, "batch-last-seq", o->batch_last.seq,
	    sizeof(o->batch_last.seq)) == -1 ||
	    !seq_valid(o->batch_last.seq)) {
		*why = "bad batch range";
		return -1;
	}
	if (arc_meta_value(meta, "batch-first-sub", v, sizeof(v)) == 0) {
		if (parse_u64(v, &o->batch_first.sub) == -1) {
			*why = "bad batch-first-sub";
			return -1;
		}
		o->batch_first.has_sub = 1;
	}
	if (arc_meta_value(meta, "batch-last-sub", v, sizeof(v)) == 0) {
		if (parse_u64(v, &o->batch_last.sub) == -1) {
			*why = "bad batch-last-sub";
			return -1;
		}
		o->batch_last.has_sub = 1;
	}
	if (arc_meta_value(meta, "batch-more", v, sizeof(v)) == 0) {
		if (strcmp(v, "1") != 0 || !o->batch_last.has_sub) {
			*why = "bad batch-more";
			return -1;
		}
		o->batch_more = 1;
	}
	/* the part lies inside its batch */
	if (pos_cmp(&o->batch_first, &o->first) > 0 ||
	    pos_cmp(&o->last, &o->batch_last) > 0) {
		*why = "part outside its batch";
		return -1;
	}
	return 0;
}

void
arc_head_key(struct buf *b, const struct cfg *cfg, const char *shard)
{
	buf_reset(b);
	buf_printf(b, "%s%s/_keeper/%s.json", cfg->s3_prefix ? cfg->s3_prefix :
	    "", cfg->stream, shard);
}

void
arc_list_prefix(struct buf *b, const struct cfg *cfg)
{
	const char *p = cfg->s3_key, *e;

	buf_reset(b);
	while (*p) {
		if (*p != '{' || (e = strchr(p, '}')) == NULL) {
			buf_addc(b, *p++);
			continue;
		}
		if ((size_t)(e - p + 1) == 8 && strncmp(p, "{prefix}", 8) == 0)
			buf_addstr(b, cfg->s3_prefix ? cfg->s3_prefix : "");
		else if ((size_t)(e - p + 1) == 8 &&
		    strncmp(p, "{stream}", 8) == 0)
			buf_addstr(b, cfg->stream);
		else
			break;
		p = e + 1;
	}
	if (b->data == NULL)
		buf_addstr(b, "");
}

char *
arc_head_format(const struct arc_head *h, const char *stream)
{
	struct json_object *j;
	char ts[32], *s;

	j = json_object_new_object();
	json_object_object_add(j, "version", json_object_new_int(1));
	json_object_object_add(j, "stream", json_object_new_string(stream));
	json_object_object_add(j, "shard", json_object_new_string(h->shard));
	if (h->key[0] != '\0') {
		json_object_object_add(j, "key", json_object_new_string(h->key));
		json_object_object_add(j, "sha256",
		    json_object_new_string(h->sha256));
		json_object_object_add(j, "records",
		    json_object_new_int64((int64_t)h->records));
	}
	if (h->last.seq[0] != '\0') {
		json_object_object_add(j, "last_seq",
		    json_object_new_string(h->last.seq));
		if (h->last.has_sub)
			json_object_object_add(j, "last_sub",
			    json_object_new_int64((int64_t)h->last.sub));
		json_object_object_add(j, "last_more",
		    json_object_new_boolean(h->last_more));
	}
	if (h->last_ts != INT64_MIN) {
		fmt_iso8601_ms(h->last_ts, ts, sizeof(ts));
		json_object_object_add(j, "last_ts", json_object_new_string(ts));
	}
	json_object_object_add(j, "done", json_object_new_boolean(h->done));
	fmt_iso8601_ms((int64_t)time(NULL) * 1000, ts, sizeof(ts));
	json_object_object_add(j, "updated", json_object_new_string(ts));
	s = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return s;
}

static int
get_str(struct json_object *j, const char *name, char *out, size_t len,
    int *present)
{
	struct json_object *v;
	const char *s;

	*present = 0;
	out[0] = '\0';
	if (!json_object_object_get_ex(j, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) >= len || (size_t)json_object_get_string_len(v) !=
	    strlen(s))
		return -1;
	memcpy(out, s, strlen(s) + 1);
	*present = 1;
	return 0;
}

static int
get_u64(struct json_object *j, const char *name, uint64_t *out, int *present)
{
	struct json_object *v;
	int64_t x;

	*present = 0;
	if (!json_object_object_get_ex(j, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	x = json_object_get_int64(v);
	if (x < 0 || x == INT64_MAX || errno != 0)
		return -1;
	*out = (uint64_t)x;
	*present = 1;
	return 0;
}

static int
get_bool(struct json_object *j, const char *name, int *out)
{
	struct json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(j, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

int
arc_head_parse(const char *text, size_t len, struct arc_head *h,
    const char **why)
{
	struct json_tokener *tok;
	struct json_object *j = NULL, *v;
	char ts[64];
	int p, ret = -1;

	memset(h, 0, sizeof(*h));
	h->last_ts = INT64_MIN;
	*why = NULL;
	if (len == 0 || len > 65536 || memchr(text, '\0', len) != NULL) {
		*why = "empty, too large or not text";
		return -1;
	}
	tok = json_tokener_new();
	j = json_tokener_parse_ex(tok, text, (int)len);
	if (j == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len) {
		/* trailing white space is fine, anything else is not */
		size_t end = j != NULL ? json_tokener_get_parse_end(tok) : 0;

		while (j != NULL && end < len && (text[end] == '\n' ||
		    text[end] == ' ' || text[end] == '\r' || text[end] == '\t'))
			end++;
		if (j == NULL || end != len) {
			*why = "not one JSON document";
			goto out;
		}
	}
	if (!json_object_is_type(j, json_type_object)) {
		*why = "not a JSON object";
		goto out;
	}
	if (!json_object_object_get_ex(j, "version", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != 1)
		*why = "bad version";
	else if (get_str(j, "shard", h->shard, sizeof(h->shard), &p) == -1 ||
	    !p || !safe_component(h->shard))
		*why = "bad shard";
	else if (get_str(j, "key", h->key, sizeof(h->key), &p) == -1 ||
	    (p && h->key[0] == '\0'))
		*why = "bad key";
	else if (get_str(j, "sha256", h->sha256, sizeof(h->sha256), &p) ==
	    -1 || (p != (h->key[0] != '\0')) || (p &&
	    !arc_sha_valid(h->sha256)))
		*why = "bad sha256";
	else if (get_str(j, "last_seq", h->last.seq, sizeof(h->last.seq),
	    &p) == -1 || (p && !seq_valid(h->last.seq)) ||
	    (h->key[0] != '\0' && !p))
		*why = "bad last_seq";
	else if (get_u64(j, "last_sub", &h->last.sub, &h->last.has_sub) ==
	    -1 || (h->last.has_sub && h->last.seq[0] == '\0'))
		*why = "bad last_sub";
	else if (get_bool(j, "last_more", &h->last_more) == -1 ||
	    (h->last_more && !h->last.has_sub))
		*why = "bad last_more";
	else if (get_u64(j, "records", &h->records, &p) == -1)
		*why = "bad records";
	else if (get_bool(j, "done", &h->done) == -1)
		*why = "bad done";
	else if (get_str(j, "last_ts", ts, sizeof(ts), &p) == -1 ||
	    (p && parse_ts(ts, &h->last_ts) == -1))
		*why = "bad last_ts";
	else
		ret = 0;
out:
	if (j != NULL)
		json_object_put(j);
	json_tokener_free(tok);
	if (ret == -1)
		memset(h, 0, sizeof(*h));
	return ret;
}
