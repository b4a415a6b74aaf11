/*
 * kinesis_parse.c: ListShards and GetRecords response bodies to structs,
 * validated as a whole: a response with one bad record is rejected (and
 * retried), never partially used. GetRecords goes through a fast scanner
 * first; json-c has the final word on anything the scanner refuses.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonscan.h"
#include "kinesis.h"
#include "log.h"

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * An optional string field: 0 absent or null, 1 a string (in *out) with no
 * embedded NUL, -1 anything else. A field of the wrong type is a broken
 * answer, not a missing value.
 */
static int
jopt(struct json_object *o, const char *key, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return -1;
	return 1;
}

/*
 * json-c, even strict, lets raw control characters through inside strings;
 * RFC 8259 does not, and a partition key with one is a broken answer.
 */
static int
raw_control_in_string(const char *body, size_t len)
{
	const unsigned char *p = (const unsigned char *)body;
	const unsigned char *end = p + len;
	int in = 0;

	for (; p < end; p++) {
		if (!in) {
			if (*p == '"')
				in = 1;
		} else if (*p == '\\')
			p++;
		else if (*p == '"')
			in = 0;
		else if (*p < 0x20)
			return 1;
	}
	return 0;
}

/* One JSON object and nothing after it but white space. */
static struct json_object *
parse_whole(struct json_tokener *tok, const char *body, size_t len)
{
	struct json_object *j;
	size_t off;

	if (len > INT32_MAX || raw_control_in_string(body, len))
		return NULL;
	/* strict RFC 8259 and valid UTF-8: raw control characters or broken
	 * bytes in a string mean a broken answer, never a partition key */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	j = json_tokener_parse_ex(tok, body, (int)len);
	if (j == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		if (j != NULL)
			json_object_put(j);
		return NULL;
	}
	for (off = json_tokener_get_parse_end(tok); off < len; off++)
		if (!isspace((unsigned char)body[off])) {
			json_object_put(j);
			return NULL;
		}
	if (!json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

void
kinesis_shards_free(struct kinesis_shard *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].parent);
		free(s[i].adjacent_parent);
		free(s[i].starting_seq);
		free(s[i].ending_seq);
	}
	free(s);
}

int
kinesis_parse_shards(const char *body, size_t len, struct kinesis_shard **out,
    size_t *nout, char **next_token, const char **why)
{
	struct json_tokener *tok;
	struct json_object *j, *arr, *sh, *r;
	const char *s;
	size_t i, n, base = *nout;
	int ret = -1;

	*next_token = NULL;
	tok = json_tokener_new();
	if ((j = parse_whole(tok, body, len)) == NULL) {
		*why = "not a JSON object";
		goto out;
	}
	if (!json_object_object_get_ex(j, "Shards", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		*why = "no Shards array";
		goto out;
	}
	n = json_object_array_length(arr);
	if (n > 100000) {
		*why = "too many shards";
		goto out;
	}
	*out = xrealloc(*out, (base + n) * sizeof(**out));
	for (i = 0; i < n; i++) {
		struct kinesis_shard *k = &(*out)[base + i];
		const char *p, *a, *st, *en;

		memset(k, 0, sizeof(*k));
		*nout = base + i;
		sh = json_object_array_get_idx(arr, i);
		if (sh == NULL || !json_object_is_type(sh, json_type_object) ||
		    jopt(sh, "ShardId", &s) != 1 || !safe_component(s)) {
			*why = "shard without a valid ShardId";
			goto out;
		}
		if (jopt(sh, "ParentShardId", &p) == -1 ||
		    (p != NULL && *p && !safe_component(p)) ||
		    jopt(sh, "AdjacentParentShardId", &a) == -1 ||
		    (a != NULL && *a && !safe_component(a))) {
			*why = "shard with a bad parent ShardId";
			goto out;
		}
		st = en = NULL;
		if (json_object_object_get_ex(sh, "SequenceNumberRange", &r) &&
		    r != NULL) {
			if (!json_object_is_type(r, json_type_object) ||
			    jopt(r, "StartingSequenceNumber", &st) == -1 ||
			    jopt(r, "EndingSequenceNumber", &en) == -1 ||
			    (st != NULL && !seq_valid(st)) ||
			    (en != NULL && !seq_valid(en))) {
				*why = "shard with a bad SequenceNumberRange";
				goto out;
			}
		}
		k->id = xstrdup(s);
		if (p != NULL && *p)
			k->parent = xstrdup(p);
		if (a != NULL && *a)
			k->adjacent_parent = xstrdup(a);
		if (st != NULL)
			k->starting_seq = xstrdup(st);
		if (en != NULL)
			k->ending_seq = xstrdup(en);
	}
	*nout = base + n;
	if (jopt(j, "NextToken", &s) == -1) {
		*why = "bad NextToken";
		goto out;
	}
	if (s != NULL && *s)
		*next_token = xstrdup(s);
	ret = 0;
out:
	if (j != NULL)
		json_object_put(j);
	json_tokener_free(tok);
	return ret;
}

int
kinesis_parse_iterator(const char *body, char **iterator)
{
	struct json_object *j;
	const char *s;
	int ret = -1;

	if ((j = json_tokener_parse(body)) != NULL &&
	    (s = jstr(j, "ShardIterator")) != NULL && *s != '\0') {
		*iterator = xstrdup(s);
		ret = 0;
	}
	if (j != NULL)
		json_object_put(j);
	return ret;
}

int
kinesis_parse_stream_summary(const char *body, char *status, size_t statuslen,
    long *open_shards)
{
	struct json_object *j, *d, *v;
	const char *s;
	int ret = -1;

	*open_shards = -1;
	if ((j = json_tokener_parse(body)) != NULL &&
	    json_object_object_get_ex(j, "StreamDescriptionSummary", &d) &&
	    json_object_is_type(d, json_type_object) &&
	    (s = jstr(d, "StreamStatus")) != NULL && *s != '\0') {
		str_copy(status, s, statuslen);
		if (json_object_object_get_ex(d, "OpenShardCount", &v) &&
		    json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) >= 0)
			*open_shards = (long)json_object_get_int64(v);
		ret = 0;
	}
	if (j != NULL)
		json_object_put(j);
	return ret;
}

/*
 * A busy shard parses an answer of up to 10000 records every 200 ms. Its
 * record array (and the scanner's, below) is kept for the next answer
 * rather than given back: arrays this big are mmap'd, and each new one
 * was faulted in again, about 250 page faults per answer. One array is
 * lent at a time (a second parse while it is out gets its own); both stay
 * at most 10000 entries, until kinesis_parse_trim.
 */
static struct {
	struct kinesis_record	*p;
	size_t			 cap;
	int			 lent;
} rec_pool;

static struct kinesis_record *
recs_alloc(size_t n)
{
	if (n == 0)
		n = 1;
	if (rec_pool.lent)
		return xcalloc(n, sizeof(*rec_pool.p));
	if (rec_pool.cap < n) {
		free(rec_pool.p);
		rec_pool.p = xmalloc(n * sizeof(*rec_pool.p));
		rec_pool.cap = n;
	}
	memset(rec_pool.p, 0, n * sizeof(*rec_pool.p));
	rec_pool.lent = 1;
	return rec_pool.p;
}

static void
recs_free(struct kinesis_record *p)
{
	if (p != NULL && p == rec_pool.p)
		rec_pool.lent = 0;
	else
		free(p);
}

void
kinesis_records_free(struct kinesis_records *r)
{
	size_t i;

	recs_free(r->recs);
	free(r->next_iterator);
	for (i = 0; i < r->nchild; i++)
		free(r->child_shards[i]);
	free(r->child_shards);
	free(r->arena);
	memset(r, 0, sizeof(*r));
}

int
kinesis_parse_records_jsonc(const char *body, size_t len,
    struct kinesis_records *out, const char **why)
{
	struct json_tokener *tok;
	struct json_object *j, *arr, *v, *rec;
	size_t i, n, need = 0, off = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->millis_behind = -1;
	tok = json_tokener_new();
	if ((j = parse_whole(tok, body, len)) == NULL) {
		*why = "not a JSON object";
		goto out;
	}
	if (!json_object_object_get_ex(j, "Records", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		*why = "no Records array";
		goto out;
	}
	if (json_object_object_get_ex(j, "NextShardIterator", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0) {
			*why = "bad NextShardIterator";
			goto out;
		}
		out->next_iterator = xstrdup(json_object_get_string(v));
	}
	if (json_object_object_get_ex(j, "MillisBehindLatest", &v)) {
		/* json-c clamps what int64 cannot hold: refuse the clamp */
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) == INT64_MAX) {
			*why = "bad MillisBehindLatest";
			goto out;
		}
		out->millis_behind = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(j, "ChildShards", &v) && v != NULL) {
		size_t k, nc;

		if (!json_object_is_type(v, json_type_array)) {
			*why = "ChildShards is not an array";
			goto out;
		}
		nc = json_object_array_length(v);
		if (nc > 1000) {
			*why = "too many ChildShards";
			goto out;
		}
		out->child_shards = xcalloc(nc ? nc : 1, sizeof(char *));
		for (k = 0; k < nc; k++) {
			struct json_object *e = json_object_array_get_idx(v, k);
			const char *id = NULL;

			if (e == NULL || !json_object_is_type(e, json_type_object) ||
			    jopt(e, "ShardId", &id) != 1 || !safe_component(id)) {
				*why = "bad ChildShards entry";
				goto out;
			}
			out->child_shards[out->nchild++] = xstrdup(id);
		}
	}
	n = json_object_array_length(arr);
	if (n > 10000) {
		*why = "more than 10000 records";
		goto out;
	}
	/* first pass: validate and size the arena */
	for (i = 0; i < n; i++) {
		const char *seq, *pk, *data;
		size_t dl;

		rec = json_object_array_get_idx(arr, i);
		if (rec == NULL || !json_object_is_type(rec, json_type_object)) {
			*why = "record is not an object";
			goto out;
		}
		pk = jstr(rec, "PartitionKey");
		data = jstr(rec, "Data");
		if (jopt(rec, "SequenceNumber", &seq) != 1 || !seq_valid(seq)) {
			*why = "record without a valid SequenceNumber";
			goto out;
		}
		if (pk == NULL) {
			*why = "record without PartitionKey";
			goto out;
		}
		if (data == NULL) {
			*why = "record without Data";
			goto out;
		}
		if (!json_object_object_get_ex(rec, "ApproximateArrivalTimestamp",
		    &v) || !(json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_int))) {
			*why = "record without ApproximateArrivalTimestamp";
			goto out;
		}
		dl = strlen(data);
		need += strlen(seq) + 1 + (size_t)json_object_get_string_len(
		    json_object_object_get(rec, "PartitionKey")) + 1 +
		    dl / 4 * 3 + 3;
		if (i > 0 && seq_cmp(seq, jstr(json_object_array_get_idx(arr,
		    i - 1), "SequenceNumber")) <= 0) {
			*why = "records out of sequence order";
			goto out;
		}
	}
	out->arena = xmalloc(need ? need : 1);
	out->arena_len = need;
	out->recs = recs_alloc(n);
	for (i = 0; i < n; i++) {
		struct kinesis_record *k = &out->recs[i];
		struct json_object *pkv, *dv;
		const char *seq;
		double ts;
		ssize_t dl;
		size_t l;

		rec = json_object_array_get_idx(arr, i);
		seq = jstr(rec, "SequenceNumber");
		l = strlen(seq) + 1;
		memcpy(out->arena + off, seq, l);
		k->seq = (const char *)out->arena + off;
		off += l;
		pkv = json_object_object_get(rec, "PartitionKey");
		l = (size_t)json_object_get_string_len(pkv);
		memcpy(out->arena + off, json_object_get_string(pkv), l);
		out->arena[off + l] = '\0';
		k->pk = (const char *)out->arena + off;
		k->pk_len = l;
		off += l + 1;
		dv = json_object_object_get(rec, "Data");
		dl = base64_decode(json_object_get_string(dv),
		    (size_t)json_object_get_string_len(dv), out->arena + off,
		    need - off);
		if (dl < 0) {
			*why = "record Data is not valid base64";
			goto out;
		}
		k->data = out->arena + off;
		k->data_len = (size_t)dl;
		off += (size_t)dl;
		out->data_bytes += (size_t)dl;
		ts = json_object_get_double(json_object_object_get(rec,
		    "ApproximateArrivalTimestamp"));
		if (!isfinite(ts) || ts < 0 || ts > 1e11) {
			*why = "record with a bad ApproximateArrivalTimestamp";
			goto out;
		}
		k->ts_ms = llround(ts * 1000.0);
		out->n++;
	}
	ret = 0;
out:
	if (ret == -1)
		kinesis_records_free(out), out->millis_behind = -1;
	if (j != NULL)
		json_object_put(j);
	json_tokener_free(tok);
	return ret;
}

/*
 * The fast path: a strict single-pass scanner for GetRecords bodies, about
 * 25 times cheaper than building a json-c tree (make bench). It accepts
 * only plain RFC 8259 JSON with no escapes in the fields it keeps and no
 * duplicate keys; anything else returns -1 and the body goes to the json-c
 * parser, which has the final word. So the scanner may refuse more than
 * json-c, never accept more, and must produce the same records; the fuzz
 * target fuzz_getrecords cross-checks exactly that.
 */
struct scan {
	const char	*p;
	const char	*end;
};

struct span {
	const char	*s;
	size_t		 len;
};

struct scan_rec {
	struct span	 seq, pk, data;
	double		 ts;
};

/* json-c refuses nesting deeper than 32 from the top; stay well inside */
#define SCAN_MAX_DEPTH	16

static void
sc_ws(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\n' ||
	    *sc->p == '\r' || *sc->p == '\t'))
		sc->p++;
}

static int
sc_lit(struct scan *sc, char c)
{
	sc_ws(sc);
	if (sc->p < sc->end && *sc->p == c) {
		sc->p++;
		return 0;
	}
	return -1;
}

/* A string; *plain says it has no escapes (the span is then its value). */
static int
sc_string(struct scan *sc, struct span *out, int *plain)
{
	const unsigned char *p, *q;

	sc_ws(sc);
	if (sc->p >= sc->end || *sc->p != '"')
		return -1;
	p = (const unsigned char *)sc->p + 1;
	q = json_scan_string(p, (const unsigned char *)sc->end);
	if (q == NULL)
		return -1;
	out->s = (const char *)p;
	out->len = (size_t)(q - 1 - p);
	*plain = memchr(out->s, '\\', out->len) == NULL;
	sc->p = (const char *)q;
	return 0;
}

/* RFC 8259 number; the span is its text. */
static int
sc_number(struct scan *sc, struct span *out, int *integer)
{
	const unsigned char *p, *q, *end = (const unsigned char *)sc->end;

	sc_ws(sc);
	p = (const unsigned char *)sc->p;
	if (p >= end || (q = json_scan_number(p, end)) == NULL)
		return -1;
	out->s = sc->p;
	out->len = (size_t)(q - p);
	*integer = 1;
	for (; p < q; p++)
		if (*p == '.' || *p == 'e' || *p == 'E') {
			*integer = 0;
			break;
		}
	sc->p = (const char *)q;
	return 0;
}

static int
sc_skip(struct scan *sc, int depth)
{
	struct span sp;
	int plain, integer;

	if (depth > SCAN_MAX_DEPTH)
		return -1;
	sc_ws(sc);
	if (sc->p >= sc->end)
		return -1;
	switch (*sc->p) {
	case '"':
		return sc_string(sc, &sp, &plain);
	case '{':
		sc->p++;
		if (sc_lit(sc, '}') == 0)
			return 0;
		do {
			if (sc_string(sc, &sp, &plain) == -1 ||
			    sc_lit(sc, ':') == -1 || sc_skip(sc, depth + 1) == -1)
				return -1;
		} while (sc_lit(sc, ',') == 0);
		return sc_lit(sc, '}');
	case '[':
		sc->p++;
		if (sc_lit(sc, ']') == 0)
			return 0;
		do {
			if (sc_skip(sc, depth + 1) == -1)
				return -1;
		} while (sc_lit(sc, ',') == 0);
		return sc_lit(sc, ']');
	case 't':
	case 'f':
	case 'n': {
		static const char *const lits[] = { "true", "false", "null" };
		size_t i;

		for (i = 0; i < 3; i++) {
			size_t l = strlen(lits[i]);

			if ((size_t)(sc->end - sc->p) >= l &&
			    memcmp(sc->p, lits[i], l) == 0) {
				sc->p += l;
				return 0;
			}
		}
		return -1;
	}
	default:
		return sc_number(sc, &sp, &integer);
	}
}

/* Decode the simple escapes of a string span; \u escapes are left to
 * json-c (-1). moto's iterators end in an escaped newline, for one. */
static char *
span_unescape(const struct span *sp)
{
	char *out = xmalloc(sp->len + 1), *o = out;
	const char *p = sp->s, *end = sp->s + sp->len;

	while (p < end) {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		switch (p[1]) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case '/': *o++ = '/'; break;
		case '\\': *o++ = '\\'; break;
		case '"': *o++ = '"'; break;
		default:
			free(out);
			return NULL;
		}
		p += 2;
	}
	*o = '\0';
	return out;
}

static int
span_is(const struct span *sp, const char *s)
{
	size_t l = strlen(s);

	return sp->len == l && memcmp(sp->s, s, l) == 0;
}

static int
span_seq_valid(const struct span *sp)
{
	size_t i;

	if (sp->len == 0 || sp->len > 128)
		return 0;
	for (i = 0; i < sp->len; i++)
		if (!isdigit((unsigned char)sp->s[i]))
			return 0;
	return 1;
}

/* seq_cmp for spans of digits: the longer number (after leading zeros)
 * is the larger, else the bytes decide */
static int
span_seq_cmp(const struct span *a, const struct span *b)
{
	const char *x = a->s, *y = b->s;
	size_t lx = a->len, ly = b->len;
	int c;

	while (lx > 1 && *x == '0')
		x++, lx--;
	while (ly > 1 && *y == '0')
		y++, ly--;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	c = memcmp(x, y, lx);
	return c < 0 ? -1 : c > 0;
}

/*
 * The Data string: base64, so its end is the next '"' unless a backslash
 * comes first (then the careful path). Bytes are not checked here: the
 * base64 decoder refuses anything outside its alphabet, control characters
 * and non-ASCII included, and json-c refuses the same bodies.
 */
static int
sc_data(struct scan *sc, struct span *out)
{
	const char *q;
	int plain;

	sc_ws(sc);
	if (sc->p >= sc->end || *sc->p != '"')
		return -1;
	q = memchr(sc->p + 1, '"', (size_t)(sc->end - sc->p - 1));
	if (q == NULL)
		return -1;
	if (memchr(sc->p + 1, '\\', (size_t)(q - sc->p - 1)) != NULL)
		return sc_string(sc, out, &plain) == -1 || !plain ? -1 : 0;
	out->s = sc->p + 1;
	out->len = (size_t)(q - sc->p - 1);
	sc->p = q + 1;
	return 0;
}

static int
scan_record(struct scan *sc, struct scan_rec *r)
{
	struct span key, num;
	int plain, integer, seen = 0;
	char tmp[64];

	if (sc_lit(sc, '{') == -1)
		return -1;
	if (sc_lit(sc, '}') == 0)
		return -1;	/* missing fields */
	do {
		if (sc_string(sc, &key, &plain) == -1 || !plain ||
		    sc_lit(sc, ':') == -1)
			return -1;
		if (span_is(&key, "SequenceNumber") ||
		    span_is(&key, "PartitionKey") || span_is(&key, "Data")) {
			struct span *dst = key.s[0] == 'S' ? &r->seq :
			    key.s[0] == 'P' ? &r->pk : &r->data;
			int bit = key.s[0] == 'S' ? 1 : key.s[0] == 'P' ? 2 : 4;

			if (seen & bit)
				return -1;
			seen |= bit;
			if (bit == 4) {
				if (sc_data(sc, dst) == -1)
					return -1;
			} else if (sc_string(sc, dst, &plain) == -1 || !plain)
				return -1;
		} else if (span_is(&key, "ApproximateArrivalTimestamp")) {
			if (seen & 8)
				return -1;
			seen |= 8;
			if (sc_number(sc, &num, &integer) == -1 ||
			    num.len >= sizeof(tmp))
				return -1;
			memcpy(tmp, num.s, num.len);
			tmp[num.len] = '\0';
			r->ts = strtod(tmp, NULL);
			if (!isfinite(r->ts) || r->ts < 0 || r->ts > 1e11)
				return -1;
		} else if (sc_skip(sc, 4) == -1)
			return -1;
	} while (sc_lit(sc, ',') == 0);
	if (sc_lit(sc, '}') == -1 || seen != 15 || !span_seq_valid(&r->seq))
		return -1;
	return 0;
}

/* The scanner's spans, kept from one answer to the next (see rec_pool). */
static struct scan_rec *scan_pool;
static size_t scan_pool_cap;

void
kinesis_parse_trim(void)
{
	if (!rec_pool.lent) {
		free(rec_pool.p);
		rec_pool.p = NULL;
		rec_pool.cap = 0;
	}
	free(scan_pool);
	scan_pool = NULL;
	scan_pool_cap = 0;
}

int
kinesis_parse_records_fast(char *body, size_t len,
    struct kinesis_records *out)
{
	struct scan sc;
	struct span key, it = { NULL, 0 }, num, *child = NULL;
	struct scan_rec *recs = scan_pool;
	size_t n = 0, cap = scan_pool_cap, nchild = 0, ccap = 0, i;
	int plain, integer, seen = 0, have_it = 0;
	int64_t behind = -1;
	char tmp[32];

	memset(out, 0, sizeof(*out));
	out->millis_behind = -1;
	sc.p = body;
	sc.end = body + len;
	if (sc_lit(&sc, '{') == -1 || sc_lit(&sc, '}') == 0)
		goto fail;
	do {
		if (sc_string(&sc, &key, &plain) == -1 || !plain ||
		    sc_lit(&sc, ':') == -1)
			goto fail;
		if (span_is(&key, "Records")) {
			if (seen & 1)
				goto fail;
			seen |= 1;
			if (sc_lit(&sc, '[') == -1)
				goto fail;
			if (sc_lit(&sc, ']') == 0)
				continue;
			do {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					recs = xrealloc(recs, cap * sizeof(*recs));
					scan_pool = recs;
					scan_pool_cap = cap;
				}
				if (n >= 10000 || scan_record(&sc, &recs[n]) == -1)
					goto fail;
				if (n > 0 && span_seq_cmp(&recs[n].seq,
				    &recs[n - 1].seq) <= 0)
					goto fail;
				n++;
			} while (sc_lit(&sc, ',') == 0);
			if (sc_lit(&sc, ']') == -1)
				goto fail;
		} else if (span_is(&key, "NextShardIterator")) {
			if (seen & 2)
				goto fail;
			seen |= 2;
			sc_ws(&sc);
			if ((size_t)(sc.end - sc.p) >= 4 &&
			    memcmp(sc.p, "null", 4) == 0) {
				sc.p += 4;
				continue;
			}
			if (sc_string(&sc, &it, &plain) == -1 || it.len == 0)
				goto fail;
			have_it = 1;
		} else if (span_is(&key, "MillisBehindLatest")) {
			if (seen & 4)
				goto fail;
			seen |= 4;
			if (sc_number(&sc, &num, &integer) == -1 || !integer ||
			    num.len > 15 || num.s[0] == '-')
				goto fail;
			memcpy(tmp, num.s, num.len);
			tmp[num.len] = '\0';
			behind = strtoll(tmp, NULL, 10);
		} else if (span_is(&key, "ChildShards")) {
			if (seen & 8)
				goto fail;
			seen |= 8;
			if (sc_lit(&sc, '[') == -1)
				goto fail;
			if (sc_lit(&sc, ']') == 0)
				continue;
			do {
				struct span k2, id = { NULL, 0 };
				int got = 0;

				if (sc_lit(&sc, '{') == -1 || sc_lit(&sc, '}') == 0)
					goto fail;
				do {
					if (sc_string(&sc, &k2, &plain) == -1 ||
					    !plain || sc_lit(&sc, ':') == -1)
						goto fail;
					if (span_is(&k2, "ShardId")) {
						if (got++ || sc_string(&sc, &id,
						    &plain) == -1 || !plain)
							goto fail;
					} else if (sc_skip(&sc, 4) == -1)
						goto fail;
				} while (sc_lit(&sc, ',') == 0);
				if (sc_lit(&sc, '}') == -1 || !got ||
				    id.len == 0 || id.len > 200 || nchild >= 1000)
					goto fail;
				if (nchild == ccap) {
					ccap = ccap ? ccap * 2 : 4;
					child = xrealloc(child,
					    ccap * sizeof(*child));
				}
				child[nchild++] = id;
			} while (sc_lit(&sc, ',') == 0);
			if (sc_lit(&sc, ']') == -1)
				goto fail;
		} else if (sc_skip(&sc, 2) == -1)
			goto fail;
	} while (sc_lit(&sc, ',') == 0);
	if (sc_lit(&sc, '}') == -1 || !(seen & 1))
		goto fail;
	sc_ws(&sc);
	if (sc.p != sc.end)
		goto fail;

	for (i = 0; i < nchild; i++) {
		char *id = xstrndup(child[i].s, child[i].len);

		if (!safe_component(id) || strlen(id) != child[i].len) {
			free(id);
			goto fail;
		}
		if (out->child_shards == NULL)
			out->child_shards = xcalloc(nchild, sizeof(char *));
		out->child_shards[out->nchild++] = id;
	}
	if (have_it && (out->next_iterator = span_unescape(&it)) == NULL)
		goto fail;

	/*
	 * Valid: now the records are made in place, in the body itself (no
	 * copy of a 10 MB answer): each string's closing quote becomes its
	 * NUL, and Data is decoded where it stands (base64 shrinks, so the
	 * output never overtakes the input). From here the body is no longer
	 * JSON, so a failure is final (-2), not a case for json-c.
	 */
	out->recs = recs_alloc(n);
	for (i = 0; i < n; i++) {
		struct kinesis_record *k = &out->recs[i];
		char *seq = (char *)(uintptr_t)recs[i].seq.s;
		char *pk = (char *)(uintptr_t)recs[i].pk.s;
		unsigned char *data = (unsigned char *)(uintptr_t)recs[i].data.s;
		ssize_t dl;

		dl = base64_decode((const char *)data, recs[i].data.len, data,
		    recs[i].data.len);
		if (dl < 0) {
			/* recs is scan_pool: kept */
			free(child);
			kinesis_records_free(out);
			out->millis_behind = -1;
			return -2;
		}
		seq[recs[i].seq.len] = '\0';
		pk[recs[i].pk.len] = '\0';
		k->seq = seq;
		k->pk = pk;
		k->pk_len = recs[i].pk.len;
		k->data = data;
		k->data_len = (size_t)dl;
		out->data_bytes += (size_t)dl;
		k->ts_ms = llround(recs[i].ts * 1000.0);
		out->n++;
	}
	out->millis_behind = behind;
	/* recs is scan_pool: kept */
	free(child);
	return 0;
fail:
	/* recs is scan_pool: kept */
	free(child);
	kinesis_records_free(out);
	out->millis_behind = -1;
	return -1;
}

int
kinesis_parse_records(char *body, size_t len, struct kinesis_records *out,
    const char **why)
{
	int r = kinesis_parse_records_fast(body, len, out);

	if (r == 0)
		return 0;
	if (r == -2) {
		*why = "record Data is not valid base64";
		return -1;
	}
	/* anything unusual: json-c decides, and says why if it refuses */
	return kinesis_parse_records_jsonc(body, len, out, why);
}
