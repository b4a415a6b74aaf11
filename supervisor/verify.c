/*
 * verify.c: `kinesis-keeper verify`. Lists the stream's archive (one page
 * in memory at a time; a compact record per object), reads each object's
 * metadata (HeadObject) and each shard's head object, and hands everything
 * to chain.c, which names the problems. --deep also reads every body.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <zlib.h>
#include <zstd.h>

#include "archive.h"
#include "aws.h"
#include "cfg.h"
#include "chain.h"
#include "creds.h"
#include "kinesis.h"
#include "log.h"
#include "s3.h"
#include "util.h"
#include "verify.h"

#define DEEP_MAX	((size_t)5 << 30)	/* S3's largest single PUT */

struct vstate {
	struct cfg		 cfg;
	struct aws_ctx		 aws;
	struct chain		 chain;
	struct buf		 head_prefix;
	int64_t			 since;		/* INT64_MIN: everything */
	int			 json;
	int			 deep;
	int			 tty;
	size_t			 listed;
	struct json_object	*problems;	/* -j */
	uint64_t		 t0;
};

static void
usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper verify [-j] [--since TIME] "
	    "[--deep] [-D key=value]... config-file\n");
	exit(EX_FATAL);
}

static int64_t
days_from_civil(int y, int m, int d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return (int64_t)timegm(&tm);
}

int
verify_parse_since(const char *s, int64_t now_ms, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, n = 0;
	char unit;
	long long v;
	size_t len = strlen(s);

	if (len >= 2 && sscanf(s, "%lld%c%n", &v, &unit, &n) == 2 &&
	    (size_t)n == len && v >= 0 && v < 100000000LL) {
		int64_t f = unit == 's' ? 1000 : unit == 'm' ? 60000 :
		    unit == 'h' ? 3600000 : unit == 'd' ? 86400000 : 0;

		if (f == 0)
			return -1;
		*ms = now_ms - (int64_t)v * f;
		return 0;
	}
	n = 0;
	if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 &&
	    n == 10)
		;
	else if (len == 20 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo,
	    &d, &h, &mi, &sec, &n) == 6 && n == 20)
		;
	else if (len == 24 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y,
	    &mo, &d, &h, &mi, &sec, &frac, &n) == 7 && n == 24)
		;
	else
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || frac < 0)
		return -1;
	*ms = (days_from_civil(y, mo, d) + h * 3600 + mi * 60 + sec) * 1000 +
	    frac;
	return 0;
}

static void
report(void *arg, const char *key, const char *shard, const char *what,
    const char *detail)
{
	struct vstate *v = arg;
	struct json_object *p;

	if (v->json) {
		p = json_object_new_object();
		if (key != NULL)
			json_object_object_add(p, "key",
			    json_object_new_string(key));
		if (shard != NULL)
			json_object_object_add(p, "shard",
			    json_object_new_string(shard));
		json_object_object_add(p, "problem",
		    json_object_new_string(what));
		json_object_object_add(p, "detail",
		    json_object_new_string(detail));
		json_object_array_add(v->problems, p);
		return;
	}
	if (v->tty)
		fprintf(stderr, "\r\033[K");
	printf("%s: %s: %s\n", key ? key : shard ? shard : "archive", what,
	    detail);
}

static void
progress(struct vstate *v, const char *what, size_t n, size_t of)
{
	if (!v->tty || (n % 50 != 0 && n != of))
		return;
	if (of > 0)
		fprintf(stderr, "\rverify: %s %zu of %zu objects\033[K", what, n,
		    of);
	else
		fprintf(stderr, "\rverify: %s %zu objects\033[K", what, n);
}

/* Seconds since the epoch of S3's LastModified ("...T20:18:41.000Z"). */
static int64_t
last_modified_ms(const char *s)
{
	int y, mo, d, h, mi, sec;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
	    &sec) != 6)
		return INT64_MAX;	/* unknown: checked */
	return (days_from_civil(y, mo, d) + h * 3600 + mi * 60 + sec) * 1000;
}

static int
list_cb(void *arg, const struct s3_entry *e)
{
	struct vstate *v = arg;
	struct chain_obj *o;

	/* the head objects are pointers, read by shard below */
	if (strncmp(e->key, v->head_prefix.data, v->head_prefix.len) == 0)
		return 0;
	o = chain_add(&v->chain, e->key);
	/* outside --since: listed (a link to it holds) but not read */
	o->checked = 0;
	if (v->since != INT64_MIN && last_modified_ms(e->last_modified) <
	    v->since)
		o->checked = -1;
	progress(v, "listed", ++v->listed, 0);
	return 0;
}

/* Objects written before the chain carry no shard: their key names it. */
static int
shard_of_key(const char *key, char *out, size_t len)
{
	const char *p = strstr(key, "shardId-");
	size_t n = 8;

	if (p == NULL)
		return -1;
	while (p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 8 || n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Lines of a zstd body (any number of frames); -1 if it does not decode. */
static long long
count_lines_zstd(const unsigned char *p, size_t len)
{
	ZSTD_DStream *z;
	ZSTD_inBuffer in = { p, len, 0 };
	unsigned char out[65536];
	long long lines = 0;
	size_t r, i;

	if ((z = ZSTD_createDStream()) == NULL)
		return -1;
	ZSTD_initDStream(z);
	while (in.pos < in.size) {
		ZSTD_outBuffer ob = { out, sizeof(out), 0 };

		r = ZSTD_decompressStream(z, &ob, &in);
		if (ZSTD_isError(r)) {
			lines = -1;
			break;
		}
		for (i = 0; i < ob.pos; i++)
			lines += out[i] == '\n';
		if (r != 0 && ob.pos == 0 && in.pos == in.size) {
			lines = -1;	/* truncated */
			break;
		}
	}
	ZSTD_freeDStream(z);
	return lines;
}

/* Lines of a body as stored: gzip (any number of members) or plain. -1
 * when it does not decompress. */
static long long
count_lines(const unsigned char *p, size_t len)
{
	z_stream z;
	unsigned char out[65536];
	long long lines = 0;
	size_t i;
	int r;

	if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f &&
	    p[3] == 0xfd)
		return count_lines_zstd(p, len);
	if (len < 2 || p[0] != 0x1f || p[1] != 0x8b) {
		for (i = 0; i < len; i++)
			lines += p[i] == '\n';
		return lines;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = out;
		z.avail_out = sizeof(out);
		r = inflate(&z, Z_NO_FLUSH);
		for (i = 0; i < sizeof(out) - z.avail_out; i++)
			lines += out[i] == '\n';
		if (r == Z_STREAM_END) {
			if (z.avail_in == 0)
				break;
			inflateReset(&z);	/* the next gzip member */
			continue;
		}
		if (r != Z_OK) {
			lines = -1;
			break;
		}
	}
	inflateEnd(&z);
	return lines;
}

/* --deep: the body must hash to its metadata and hold its record count. */
static void
check_body(struct vstate *v, struct chain_obj *o)
{
	struct aws_result res;
	char sha[65];
	long long lines;

	aws_result_init(&res);
	if (s3_get_object(&v->aws, &v->cfg, v->cfg.s3_bucket, o->key, DEEP_MAX,
	    &res) != 0) {
		v->chain.problems++;
		report(v, o->key, o->shard, "body", aws_strerror(&res));
		aws_result_free(&res);
		return;
	}
	sha256_hex(res.body.data, res.body.len, sha);
	if (strcmp(sha, o->sha256) != 0) {
		char d[256];

		snprintf(d, sizeof(d), "the body's sha256 is %s, its metadata "
		    "says %s", sha, o->sha256);
		v->chain.problems++;
		report(v, o->key, o->shard, "body", d);
	} else if (v->cfg.format_type == FORMAT_JSONL &&
	    (lines = count_lines((const unsigned char *)res.body.data,
	    res.body.len)) != (long long)o->records) {
		char d[256];

		snprintf(d, sizeof(d), "the body holds %lld lines, its "
		    "metadata says %llu records", lines,
		    (unsigned long long)o->records);
		v->chain.problems++;
		report(v, o->key, o->shard, "body", d);
	}
	aws_result_free(&res);
}

static int
read_heads(struct vstate *v)
{
	struct kinesis_shard *sh = NULL;
	struct aws_result res;
	struct chain_shard *s;
	struct buf key;
	size_t n = 0, i;
	const char *why;
	int r;

	aws_result_init(&res);
	if (kinesis_list_shards(&v->aws, v->cfg.stream, &sh, &n, &res) == -1) {
		fprintf(stderr, "verify: list shards of %s: %s\n",
		    v->cfg.stream, aws_strerror(&res));
		aws_result_free(&res);
		return -1;
	}
	buf_init(&key);
	for (i = 0; i < n; i++) {
		s = chain_shard_get(&v->chain, sh[i].id);
		s->listed = 1;
		s->closed = sh[i].ending_seq != NULL;
		if (sh[i].parent != NULL)
			s->parent[0] = xstrdup(sh[i].parent);
		if (sh[i].adjacent_parent != NULL)
			s->parent[1] = xstrdup(sh[i].adjacent_parent);
		arc_head_key(&key, &v->cfg, sh[i].id);
		r = s3_get_object(&v->aws, &v->cfg, v->cfg.s3_bucket, key.data,
		    65536, &res);
		if (r == 0) {
			if (arc_head_parse(res.body.data, res.body.len,
			    &s->head, &why) == 0 &&
			    strcmp(s->head.shard, s->id) == 0)
				s->has_head = 1;
			else {
				v->chain.problems++;
				report(v, key.data, s->id, "head",
				    "unreadable head object");
			}
		} else if (r == -1) {
			fprintf(stderr, "verify: get s3://%s/%s: %s\n",
			    v->cfg.s3_bucket, key.data, aws_strerror(&res));
			buf_free(&key);
			aws_result_free(&res);
			kinesis_shards_free(sh, n);
			return -1;
		}
	}
	buf_free(&key);
	aws_result_free(&res);
	kinesis_shards_free(sh, n);
	return 0;
}

static void
print_summary(struct vstate *v, size_t checked, double secs)
{
	struct json_object *j, *shards, *s;
	struct chain_shard *cs;
	uint64_t records = 0;
	size_t i, objects = 0;

	for (i = 0; i < v->chain.nshards; i++)
		records += v->chain.shards[i].records;
	/* another stream's objects under a shared prefix are not ours */
	for (i = 0; i < v->chain.nobjs; i++)
		objects += !v->chain.objs[i]->foreign;
	if (!v->json) {
		if (v->tty)
			fprintf(stderr, "\r\033[K");
		for (i = 0; i < v->chain.nshards; i++) {
			cs = &v->chain.shards[i];
			printf("shard %s: %zu objects, %llu records, %s", cs->id,
			    cs->objects, (unsigned long long)cs->records,
			    cs->has_head && cs->head.done ? "done" :
			    cs->closed ? "closed, not done" : "open");
			if (cs->last != NULL)
				printf(", last %s", cs->last->key);
			if (cs->lag_ms >= 0 && !(cs->has_head &&
			    cs->head.done))
				printf(", lag %lld s",
				    (long long)(cs->lag_ms / 1000));
			printf("\n");
		}
		printf("verify: %zu objects (%zu checked) in %zu shards, %llu "
		    "records, %zu problems, %.1f s (%.0f objects/s)\n",
		    objects, checked, v->chain.nshards,
		    (unsigned long long)records, v->chain.problems, secs,
		    secs > 0 ? checked / secs : 0.0);
		return;
	}
	j = json_object_new_object();
	json_object_object_add(j, "version", json_object_new_int(1));
	json_object_object_add(j, "stream",
	    json_object_new_string(v->cfg.stream));
	json_object_object_add(j, "bucket",
	    json_object_new_string(v->cfg.s3_bucket));
	json_object_object_add(j, "ok",
	    json_object_new_boolean(v->chain.problems == 0));
	json_object_object_add(j, "objects",
	    json_object_new_int64((int64_t)objects));
	json_object_object_add(j, "checked",
	    json_object_new_int64((int64_t)checked));
	json_object_object_add(j, "records",
	    json_object_new_int64((int64_t)records));
	json_object_object_add(j, "seconds", json_object_new_double(secs));
	shards = json_object_new_array();
	for (i = 0; i < v->chain.nshards; i++) {
		cs = &v->chain.shards[i];
		s = json_object_new_object();
		json_object_object_add(s, "shard", json_object_new_string(cs->id));
		json_object_object_add(s, "objects",
		    json_object_new_int64((int64_t)cs->objects));
		json_object_object_add(s, "records",
		    json_object_new_int64((int64_t)cs->records));
		json_object_object_add(s, "closed",
		    json_object_new_boolean(cs->closed));
		json_object_object_add(s, "done", json_object_new_boolean(
		    cs->has_head && cs->head.done));
		json_object_object_add(s, "last_key", cs->last ?
		    json_object_new_string(cs->last->key) : NULL);
		json_object_object_add(s, "lag_ms", cs->lag_ms >= 0 ?
		    json_object_new_int64(cs->lag_ms) : NULL);
		json_object_array_add(shards, s);
	}
	json_object_object_add(j, "shards", shards);
	json_object_object_add(j, "problems", json_object_get(v->problems));
	printf("%s\n", json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

int
verify_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "deep", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct vstate v;
	struct cfg_errors errs;
	struct creds *creds;
	struct aws_result res;
	struct arc_object m;
	struct buf prefix;
	char **overrides = NULL;
	const char *why, *since = NULL;
	size_t nover = 0, i, checked = 0, n;
	int ch, r, status;

	memset(&v, 0, sizeof(v));
	v.since = INT64_MIN;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "jD:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			v.json = 1;
			break;
		case 'd':
			v.deep = 1;
			break;
		case 's':
			since = optarg;
			break;
		case 'D':
			overrides = xrealloc(overrides,
			    (nover + 1) * sizeof(char *));
			overrides[nover++] = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	if (since != NULL && verify_parse_since(since, (int64_t)wall_ms(),
	    &v.since) == -1) {
		fprintf(stderr, "verify: --since %s: not a date "
		    "(2026-12-03, 2026-12-03T20:00:00Z) nor an age (24h, 7d)\n",
		    since);
		free(overrides);
		return EX_FATAL;
	}
	log_init(LOG_TO_STDERR, 0, LOG_DAEMON);
	memset(&errs, 0, sizeof(errs));
	if (cfg_load(&v.cfg, argv[0], overrides, nover, 0, &errs, NULL) ==
	    -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		free(overrides);
		return EX_CONFIG_;
	}
	cfg_errors_free(&errs);
	free(overrides);
	log_setlevel(LOG_WARNING);
	v.tty = isatty(STDERR_FILENO) && !v.json;
	v.t0 = now_ms();
	http_global_init();
	creds = creds_new(&v.cfg);
	if (aws_ctx_init(&v.aws, &v.cfg, creds) == -1) {
		fprintf(stderr, "verify: bad endpoint\n");
		return EX_CONFIG_;
	}
	chain_init(&v.chain);
	v.chain.report = report;
	v.chain.arg = &v;
	if (v.json)
		v.problems = json_object_new_array();
	buf_init(&v.head_prefix);
	arc_head_key(&v.head_prefix, &v.cfg, "");
	v.head_prefix.len -= strlen(".json");
	v.head_prefix.data[v.head_prefix.len] = '\0';

	status = EX_FATAL;
	if (read_heads(&v) == -1)
		goto out;
	buf_init(&prefix);
	arc_list_prefix(&prefix, &v.cfg);
	aws_result_init(&res);
	if (s3_list(&v.aws, &v.cfg, v.cfg.s3_bucket, prefix.data, list_cb, &v,
	    &res) == -1) {
		fprintf(stderr, "verify: list s3://%s/%s: %s\n",
		    v.cfg.s3_bucket, prefix.data, aws_strerror(&res));
		aws_result_free(&res);
		buf_free(&prefix);
		goto out;
	}
	buf_free(&prefix);
	n = 0;
	for (i = 0; i < v.chain.nobjs; i++)
		n += v.chain.objs[i]->checked == 0;
	for (i = 0; i < v.chain.nobjs; i++) {
		struct chain_obj *o = v.chain.objs[i];

		if (o->checked != 0) {
			o->checked = 0;		/* outside --since */
			continue;
		}
		r = s3_head_object(&v.aws, &v.cfg, v.cfg.s3_bucket, o->key,
		    &res);
		if (r == 0 && arc_meta_parse(&res.meta, &m, &why) == 0 &&
		    m.stream[0] != '\0' && strcmp(m.stream, v.cfg.stream) != 0)
			/* another stream's object under a shared prefix */
			o->foreign = 1;
		else if (r == 0 && arc_meta_parse(&res.meta, &m, &why) == 0) {
			if (m.shard[0] == '\0' && shard_of_key(o->key, m.shard,
			    sizeof(m.shard)) == -1)
				chain_obj_bad(o, "no shard");
			else
				chain_obj_set(o, &m);
		} else if (r == 0)
			chain_obj_bad(o, why);
		else if (r == 1)
			chain_obj_bad(o, "deleted while verify ran");
		else {
			fprintf(stderr, "verify: head s3://%s/%s: %s\n",
			    v.cfg.s3_bucket, o->key, aws_strerror(&res));
			aws_result_free(&res);
			goto out;
		}
		if (v.deep && o->why == NULL)
			check_body(&v, o);
		progress(&v, v.deep ? "read" : "checked", ++checked, n);
	}
	aws_result_free(&res);
	n = v.chain.problems;
	chain_check(&v.chain, (int64_t)wall_ms());
	v.chain.problems += n;
	print_summary(&v, checked, (double)(now_ms() - v.t0) / 1000.0);
	status = v.chain.problems == 0 ? EX_OK_ : EX_FATAL;
out:
	if (v.problems != NULL)
		json_object_put(v.problems);
	buf_free(&v.head_prefix);
	chain_free(&v.chain);
	aws_ctx_free(&v.aws);
	creds_free(creds);
	cfg_free(&v.cfg);
	return status;
}
