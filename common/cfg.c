/*
 * cfg.c: the configuration loader (kinesis-keeper.conf(5)). One table row
 * per dotted key drives parsing, defaults, overrides, cfg_dump and
 * cfg_list_keys; every problem is collected as "file:line: message" so
 * that an operator fixes a broken file in one round, not one error a time.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "cfg.h"
#include "util.h"

#define CFG_MAX_FILE	(1024 * 1024)

#define KIB	1024ULL
#define MIB	(1024ULL * 1024)
#define GIB	(1024ULL * 1024 * 1024)
#define SEC	1000ULL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

/* Enum fields are stored through an int pointer. */
_Static_assert(sizeof(enum cfg_start) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_compression) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_sse) == sizeof(int), "enum size");

enum ktype {
	K_STRING,		/* char *, optionally one of names[] */
	K_BOOL,			/* int 0/1 */
	K_INT,			/* int within min..max */
	K_COUNT,		/* uint64_t within min..max */
	K_SIZE,			/* uint64_t bytes: 64M, 512k, 1G, plain */
	K_DURATION,		/* uint64_t ms: 250ms, 10s, 5m, 1h, plain s */
	K_ENUM,			/* int from a name table */
	K_TIMESTAMP		/* int64_t ms: ISO 8601 or epoch seconds */
};

#define KF_EMPTY_OK	0x01	/* "" is a meaningful value */
#define KF_SECRET	0x02	/* never printed by cfg_dump */

struct kname {
	const char	*name;
	int		 value;
};

struct key {
	const char		*name;		/* dotted */
	enum ktype		 type;
	size_t			 off;		/* into struct cfg */
	const char		*def;		/* default as override text */
	uint64_t		 min, max;	/* numeric types */
	const struct kname	*names;		/* K_ENUM, K_STRING choices */
	int			(*check)(const char *, char *, size_t);
	int			 flags;
};

static int	check_stream(const char *, char *, size_t);
static int	check_region(const char *, char *, size_t);
static int	check_url(const char *, char *, size_t);
static int	check_arn(const char *, char *, size_t);
static int	check_session_name(const char *, char *, size_t);
static int	check_bucket(const char *, char *, size_t);
static int	check_prefix(const char *, char *, size_t);
static int	check_key(const char *, char *, size_t);
static int	check_namespace(const char *, char *, size_t);
static int	check_statsd_prefix(const char *, char *, size_t);
static int	check_host(const char *, char *, size_t);

static const struct kname start_names[] = {
	{ "TRIM_HORIZON", START_TRIM_HORIZON },
	{ "LATEST", START_LATEST },
	{ "AT_TIMESTAMP", START_AT_TIMESTAMP },
	{ NULL, 0 }
}, format_names[] = {
	{ "jsonl", FORMAT_JSONL },
	{ "raw", FORMAT_RAW },
	{ NULL, 0 }
}, compression_names[] = {
	{ "gzip", COMPRESSION_GZIP },
	{ "none", COMPRESSION_NONE },
	{ NULL, 0 }
}, sse_names[] = {
	{ "none", SSE_NONE },
	{ "AES256", SSE_AES256 },
	{ "aws:kms", SSE_KMS },
	{ NULL, 0 }
}, storage_names[] = {
	{ "STANDARD", 0 }, { "REDUCED_REDUNDANCY", 0 }, { "STANDARD_IA", 0 },
	{ "ONEZONE_IA", 0 }, { "INTELLIGENT_TIERING", 0 }, { "GLACIER", 0 },
	{ "GLACIER_IR", 0 }, { "DEEP_ARCHIVE", 0 }, { "OUTPOSTS", 0 },
	{ "EXPRESS_ONEZONE", 0 },
	{ NULL, 0 }
}, facility_names[] = {
	/* the names log_facility_from_name() knows (checked by test_cfg) */
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
}, level_names[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
	{ "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
	{ "error", LOG_ERR },
	{ NULL, 0 }
};

#define F(m)	offsetof(struct cfg, m)
#define STR(n, m, def, chk, fl) \
	{ n, K_STRING, F(m), def, 0, 0, NULL, chk, fl }
#define NUM(n, t, m, def, lo, hi) \
	{ n, t, F(m), def, lo, hi, NULL, NULL, 0 }
#define ENUM(n, m, def, tab) \
	{ n, K_ENUM, F(m), def, 0, 0, tab, NULL, 0 }

/*
 * The schema. Bounds are the limits of the services (Kinesis returns at
 * most 10000 records per call, S3 parts are 5M..5G) or of sanity (an
 * iterator expires after 5 minutes, so a longer read interval never works).
 */
static const struct key keys[] = {
	STR("stream", stream, NULL, check_stream, 0),
	STR("region", region, NULL, check_region, 0),
	STR("state_dir", state_dir, NULL, NULL, 0),
	ENUM("start_position", start_position, "TRIM_HORIZON", start_names),
	{ "start_timestamp", K_TIMESTAMP, F(start_timestamp_ms), NULL, 0, 0,
	    NULL, NULL, 0 },

	STR("endpoints.kinesis", ep_kinesis, NULL, check_url, 0),
	STR("endpoints.s3", ep_s3, NULL, check_url, 0),
	STR("endpoints.sns", ep_sns, NULL, check_url, 0),
	STR("endpoints.cloudwatch", ep_cloudwatch, NULL, check_url, 0),
	STR("endpoints.sts", ep_sts, NULL, check_url, 0),

	STR("credentials.access_key_id", cred_access_key_id, NULL, NULL, 0),
	STR("credentials.secret_access_key", cred_secret_access_key, NULL,
	    NULL, KF_SECRET),
	STR("credentials.session_token", cred_session_token, NULL, NULL,
	    KF_SECRET),
	STR("credentials.profile", cred_profile, NULL, NULL, 0),
	STR("credentials.role_arn", cred_role_arn, NULL, check_arn, 0),
	STR("credentials.external_id", cred_external_id, NULL, NULL, 0),
	STR("credentials.session_name", cred_session_name, NULL,
	    check_session_name, 0),

	NUM("read.interval", K_DURATION, read_interval_ms, "1s", 0, 4 * MIN),
	NUM("read.max_records", K_INT, read_max_records, "10000", 1, 10000),
	NUM("read.other_readers", K_INT, read_other_readers, "0", 0, 100),
	NUM("read.calls_per_second", K_INT, read_calls_per_sec, "5", 1, 1000),
	NUM("read.bytes_per_second", K_SIZE, read_bytes_per_sec, "2M", 1024,
	    GIB),

	NUM("topology.refresh", K_DURATION, topology_refresh_ms, "60s", SEC,
	    24 * HOUR),

	NUM("batch.max_records", K_COUNT, batch_max_records, "500000", 1,
	    1000000000),
	NUM("batch.max_bytes", K_SIZE, batch_max_bytes, "64M", 1, 4 * GIB),
	NUM("batch.max_age", K_DURATION, batch_max_age_ms, "5m", 10,
	    24 * HOUR),

	STR("s3.bucket", s3_bucket, NULL, check_bucket, 0),
	STR("s3.prefix", s3_prefix, "", check_prefix, KF_EMPTY_OK),
	STR("s3.key", s3_key, NULL, check_key, 0),
	NUM("s3.path_style", K_BOOL, s3_path_style, "false", 0, 1),
	{ "s3.storage_class", K_STRING, F(s3_storage_class), "STANDARD", 0, 0,
	    storage_names, NULL, 0 },
	ENUM("s3.sse", s3_sse, "none", sse_names),
	STR("s3.kms_key_id", s3_kms_key_id, NULL, NULL, 0),
	NUM("s3.multipart_threshold", K_SIZE, s3_multipart_threshold, "64M",
	    1, 5 * GIB),
	NUM("s3.part_size", K_SIZE, s3_part_size, "16M", 5 * MIB, 5 * GIB),

	ENUM("format.type", format_type, "jsonl", format_names),
	ENUM("format.compression", format_compression, "gzip",
	    compression_names),
	NUM("format.level", K_INT, format_level, "6", 1, 9),
	NUM("format.deaggregate", K_BOOL, format_deaggregate, "true", 0, 1),

	NUM("local.keep", K_INT, local_keep, "10", 0, 1000000),

	STR("sns.topic_arn", sns_topic_arn, NULL, check_arn, 0),

	STR("cloudwatch.namespace", cw_namespace, "KinesisKeeper",
	    check_namespace, 0),
	NUM("cloudwatch.interval", K_DURATION, cw_interval_ms, "60s", SEC,
	    HOUR),

	STR("statsd.host", statsd_host, NULL, check_host, 0),
	NUM("statsd.port", K_INT, statsd_port, "8125", 1, 65535),
	STR("statsd.prefix", statsd_prefix, "kinesis_keeper.",
	    check_statsd_prefix, KF_EMPTY_OK),

	ENUM("log.facility", log_facility, "daemon", facility_names),
	ENUM("log.level", log_level, "info", level_names),

	NUM("workers.restart_min", K_DURATION, restart_min_ms, "1s", 1, HOUR),
	NUM("workers.restart_max", K_DURATION, restart_max_ms, "60s", 1,
	    24 * HOUR),
	NUM("workers.shutdown_timeout", K_DURATION, shutdown_timeout_ms,
	    "30s", 100, HOUR),

	STR("tls.ca_file", tls_ca_file, NULL, NULL, 0),
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/* Where a value came from, for messages and for the cross checks. */
struct origin {
	const char	*file;		/* NULL: command line */
	int		 line;
	const char	*ovr;		/* the -D argument */
	int		 set;		/* given in the file or with -D */
	int		 bad;		/* given, but rejected */
};

struct perr {
	int		 rank;		/* 0 main file, 1 include, 2 -D */
	char		*file;
	int		 line;
	size_t		 seq;
	char		*msg;
};

struct pctx {
	struct cfg	*cfg;
	const char	*path;
	char		*dir;		/* of path, for @include names */
	struct origin	 org[NKEYS];
	struct origin	 line1;		/* "missing" and environment errors */
	char		**names;	/* include file names we made */
	size_t		 nnames;
	int		*wide;		/* lines with a wrapped integer */
	size_t		 nwide;
	struct perr	*errs;
	size_t		 nerrs;
	/* groups present (by name); only a few exist */
	struct {
		char		*name;
		struct origin	 o;
	}		 grp[32];
	size_t		 ngrp;
};

static void	vperr(struct pctx *, const struct origin *, const struct key *,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	perr(struct pctx *, const struct origin *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	kerr(struct pctx *, const struct origin *, const struct key *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

static void *
field(struct cfg *c, const struct key *k)
{
	return (char *)c + k->off;
}

static const void *
cfield(const struct cfg *c, const struct key *k)
{
	return (const char *)c + k->off;
}

static const struct key *
find_key(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &keys[i];
		}
	return NULL;
}

/* A top-level name is a group if some key is dotted below it. */
static int
is_group(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, name, n) == 0 &&
		    keys[i].name[n] == '.')
			return 1;
	return 0;
}

static struct origin *
group_origin(struct pctx *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->ngrp; i++)
		if (strlen(p->grp[i].name) == len &&
		    strncmp(p->grp[i].name, name, len) == 0)
			return &p->grp[i].o;
	return NULL;
}

/* Note that a group is present, from the file or from -D. */
static void
add_group(struct pctx *p, const char *dotted, const struct origin *o)
{
	const char *dot = strchr(dotted, '.');
	size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
	size_t i;

	if (group_origin(p, dotted, len) != NULL ||
	    p->ngrp == sizeof(p->grp) / sizeof(p->grp[0]))
		return;
	for (i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, dotted, len) == 0 &&
		    keys[i].name[len] == '.')
			break;
	if (i == NKEYS)
		return;
	p->grp[p->ngrp].name = xstrndup(dotted, len);
	p->grp[p->ngrp].o = *o;
	p->ngrp++;
}

/* ---- errors ---- */

static void
vperr(struct pctx *p, const struct origin *o, const struct key *k,
    const char *fmt, va_list ap)
{
	struct perr *e;
	char *msg;

	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	p->errs = xrealloc(p->errs, (p->nerrs + 1) * sizeof(*p->errs));
	e = &p->errs[p->nerrs];
	memset(e, 0, sizeof(*e));
	e->seq = p->nerrs++;
	if (o->file == NULL) {
		/* the command line: the -D argument says which key */
		e->rank = 2;
		xasprintf(&e->msg, "-D %s: %s", o->ovr, msg ? msg : "?");
	} else {
		e->rank = strcmp(o->file, p->path) == 0 ? 0 : 1;
		e->file = xstrdup(o->file);
		e->line = o->line;
		if (k != NULL)
			xasprintf(&e->msg, "%s:%d: %s: %s", o->file, o->line,
			    k->name, msg ? msg : "?");
		else
			xasprintf(&e->msg, "%s:%d: %s", o->file, o->line,
			    msg ? msg : "?");
	}
	free(msg);
}

static void
perr(struct pctx *p, const struct origin *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, o, NULL, fmt, ap);
	va_end(ap);
}

/* An error about one key's value: the key name leads unless -D named it. */
static void
kerr(struct pctx *p, const struct origin *o, const struct key *k,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, o, o->file != NULL ? k : NULL, fmt, ap);
	va_end(ap);
}

static int
perr_cmp(const void *a, const void *b)
{
	const struct perr *x = a, *y = b;
	int c;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->rank == 1 && (c = strcmp(x->file, y->file)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand the collected errors over in file order, then the -D ones. */
static void
flush_errors(struct pctx *p, struct cfg_errors *errs)
{
	size_t i;

	if (p->nerrs > 0)
		qsort(p->errs, p->nerrs, sizeof(*p->errs), perr_cmp);
	for (i = 0; i < p->nerrs; i++) {
		free(p->errs[i].file);
		if (errs == NULL) {
			free(p->errs[i].msg);
			continue;
		}
		errs->msgs = xrealloc(errs->msgs,
		    (errs->n + 1) * sizeof(*errs->msgs));
		errs->msgs[errs->n++] = p->errs[i].msg;
	}
	free(p->errs);
	p->errs = NULL;
	p->nerrs = 0;
}

/* ---- units ---- */

static int
parse_u64(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

int
cfg_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mul;

	if (s == NULL || parse_u64(&s, &v) == -1)
		return -1;
	if (strcmp(s, "") == 0)
		mul = 1;
	else if (strcmp(s, "k") == 0 || strcmp(s, "K") == 0)
		mul = KIB;
	else if (strcmp(s, "M") == 0)
		mul = MIB;
	else if (strcmp(s, "G") == 0)
		mul = GIB;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
cfg_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t v, mul;

	if (s == NULL || parse_u64(&s, &v) == -1)
		return -1;
	if (strcmp(s, "") == 0 || strcmp(s, "s") == 0)
		mul = SEC;
	else if (strcmp(s, "ms") == 0)
		mul = 1;
	else if (strcmp(s, "m") == 0)
		mul = MIN;
	else if (strcmp(s, "h") == 0)
		mul = HOUR;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*ms = v * mul;
	return 0;
}

static void
fmt_size(uint64_t v, char *out, size_t len)
{
	if (v != 0 && v % GIB == 0)
		snprintf(out, len, "%lluG", (unsigned long long)(v / GIB));
	else if (v != 0 && v % MIB == 0)
		snprintf(out, len, "%lluM", (unsigned long long)(v / MIB));
	else if (v != 0 && v % KIB == 0)
		snprintf(out, len, "%lluK", (unsigned long long)(v / KIB));
	else
		snprintf(out, len, "%llu", (unsigned long long)v);
}

static void
fmt_duration(uint64_t ms, char *out, size_t len)
{
	if (ms != 0 && ms % HOUR == 0)
		snprintf(out, len, "%lluh", (unsigned long long)(ms / HOUR));
	else if (ms != 0 && ms % MIN == 0)
		snprintf(out, len, "%llum", (unsigned long long)(ms / MIN));
	else if (ms % SEC == 0)
		snprintf(out, len, "%llus", (unsigned long long)(ms / SEC));
	else
		snprintf(out, len, "%llums", (unsigned long long)ms);
}

static void
fmt_num(const struct key *k, uint64_t v, char *out, size_t len)
{
	if (k->type == K_SIZE)
		fmt_size(v, out, len);
	else if (k->type == K_DURATION)
		fmt_duration(v, out, len);
	else
		snprintf(out, len, "%llu", (unsigned long long)v);
}

/*
 * "2026-11-27T00:00:00Z", optionally with milliseconds and a "+01:00"
 * offset instead of Z; a timestamp without a zone would be ambiguous.
 */
static int
parse_iso8601(const char *s, int64_t *ms)
{
	struct tm tm, chk;
	int y, mo, d, h, mi, sec, n = 0, frac = 0, sign, oh, om;
	time_t t;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
	    &n) != 6 || n != 19)
		return -1;
	p = s + n;
	if (*p == '.') {
		int digits = 0;

		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (strcmp(p, "Z") == 0)
		oh = om = sign = 0;
	else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) &&
	    p[6] == '\0') {
		sign = *p == '-' ? -1 : 1;
		oh = (p[1] - '0') * 10 + (p[2] - '0');
		om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59)
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
	/* timegm normalises Feb 30 to Mar 2: reject what moved */
	gmtime_r(&t, &chk);
	if (chk.tm_mday != d || chk.tm_mon != mo - 1)
		return -1;
	t -= (time_t)sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

/* ---- value checks ---- */

static int
all_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

static int
check_stream(const char *s, char *why, size_t len)
{
	if (strlen(s) > 128 || !all_chars(s, "_.-")) {
		snprintf(why, len, "invalid stream name \"%s\" (1 to 128 of "
		    "A-Z a-z 0-9 _ . -)", s);
		return -1;
	}
	return 0;
}

static int
check_region(const char *s, char *why, size_t len)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '-')
			break;
	if (*p != '\0' || strlen(s) > 32) {
		snprintf(why, len, "invalid region \"%s\"", s);
		return -1;
	}
	return 0;
}

static int
check_url(const char *s, char *why, size_t len)
{
	const char *host = NULL, *p;

	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	for (p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			host = NULL;
	if (host == NULL || *host == '\0' || *host == '/' || *host == ':') {
		snprintf(why, len, "invalid URL \"%s\" (expected http://host "
		    "or https://host)", s);
		return -1;
	}
	return 0;
}

static int
check_arn(const char *s, char *why, size_t len)
{
	if (strncmp(s, "arn:", 4) != 0 || strchr(s, ' ') != NULL) {
		snprintf(why, len, "invalid ARN \"%s\"", s);
		return -1;
	}
	return 0;
}

static int
check_session_name(const char *s, char *why, size_t len)
{
	/* the AssumeRole RoleSessionName pattern */
	if (strlen(s) < 2 || strlen(s) > 64 || !all_chars(s, "_+=,.@-")) {
		snprintf(why, len, "invalid session name \"%s\" (2 to 64 of "
		    "A-Z a-z 0-9 _ + = , . @ -)", s);
		return -1;
	}
	return 0;
}

static int
check_bucket(const char *s, char *why, size_t len)
{
	/* loose enough for legacy us-east-1 names, strict enough for URLs */
	if (strlen(s) < 3 || strlen(s) > 255 || !all_chars(s, "_.-")) {
		snprintf(why, len, "invalid bucket name \"%s\"", s);
		return -1;
	}
	return 0;
}

static int
check_prefix(const char *s, char *why, size_t len)
{
	/* "/kinesis/" would archive under an empty-named top folder */
	if (*s == '/') {
		snprintf(why, len, "must not start with \"/\"");
		return -1;
	}
	return 0;
}

/*
 * The key must name each batch uniquely and stably: {shard} and {seq}
 * identify its first record, and only placeholders derived from that
 * record are allowed, so a re-read batch overwrites the same object.
 */
static int
check_key(const char *s, char *why, size_t len)
{
	static const char *const ph[] = {
		"prefix", "stream", "shard", "seq", "yyyy", "mm", "dd", "hh"
	};
	const char *p, *end;
	int shard = 0, seq = 0;
	size_t i, n;

	if (*s == '/') {
		snprintf(why, len, "must not start with \"/\"");
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '}') {
			snprintf(why, len, "unbalanced \"}\" in \"%s\"", s);
			return -1;
		}
		if (*p != '{')
			continue;
		end = strpbrk(p + 1, "{}");
		if (end == NULL || *end == '{') {
			snprintf(why, len, "unbalanced \"{\" in \"%s\"", s);
			return -1;
		}
		n = (size_t)(end - p - 1);
		for (i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
			if (strlen(ph[i]) == n && strncmp(p + 1, ph[i], n) == 0)
				break;
		if (i == sizeof(ph) / sizeof(ph[0])) {
			snprintf(why, len, "unknown placeholder \"%.*s\" "
			    "(expected {prefix} {stream} {shard} {seq} {yyyy} "
			    "{mm} {dd} {hh})", (int)(n + 2), p);
			return -1;
		}
		shard |= strcmp(ph[i], "shard") == 0;
		seq |= strcmp(ph[i], "seq") == 0;
		p = end;
	}
	if (!shard || !seq) {
		snprintf(why, len, "must contain {shard} and {seq}, or batches "
		    "would overwrite each other");
		return -1;
	}
	return 0;
}

static int
check_namespace(const char *s, char *why, size_t len)
{
	if (strlen(s) > 255 || strncmp(s, "AWS/", 4) == 0) {
		snprintf(why, len, "invalid namespace \"%s\" (at most 255 "
		    "characters, not AWS/...)", s);
		return -1;
	}
	return 0;
}

static int
check_statsd_prefix(const char *s, char *why, size_t len)
{
	const char *p;

	/* these would break the statsd line protocol */
	for (p = s; *p != '\0'; p++)
		if (*p == ':' || *p == '|' || *p == '@' ||
		    isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			snprintf(why, len, "invalid prefix \"%s\" (no "
			    "\":\", \"|\", \"@\" or spaces)", s);
			return -1;
		}
	return 0;
}

static int
check_host(const char *s, char *why, size_t len)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) ||
		    *p == '/') {
			snprintf(why, len, "invalid host \"%s\"", s);
			return -1;
		}
	return 0;
}

/* ---- storing values ---- */

/* One value, from libconfig or from -D, before the key's type is applied. */
enum vkind {
	V_STRING,
	V_INT,
	V_BOOL,
	V_FLOAT,
	V_GROUP,
	V_ARRAY,
	V_LIST
};

struct val {
	enum vkind	 kind;
	const char	*s;
	long long	 i;
	int		 b;
};

static const char *
vkind_name(enum vkind v)
{
	switch (v) {
	case V_STRING:
		return "a string";
	case V_INT:
		return "an integer";
	case V_BOOL:
		return "a boolean";
	case V_FLOAT:
		return "a float";
	case V_GROUP:
		return "a group";
	case V_ARRAY:
		return "an array";
	case V_LIST:
		return "a list";
	}
	return "?";
}

static const char *
ktype_name(enum ktype t)
{
	switch (t) {
	case K_STRING:
	case K_ENUM:
		return "a string";
	case K_BOOL:
		return "a boolean";
	case K_INT:
	case K_COUNT:
		return "an integer";
	case K_SIZE:
		return "a size";
	case K_DURATION:
		return "a duration";
	case K_TIMESTAMP:
		return "a timestamp";
	}
	return "?";
}

/* "TRIM_HORIZON, LATEST or AT_TIMESTAMP" */
static void
names_list(const struct kname *n, struct buf *b)
{
	size_t i, cnt;

	for (cnt = 0; n[cnt].name != NULL; cnt++)
		;
	for (i = 0; i < cnt; i++) {
		if (i > 0)
			buf_addstr(b, i + 1 == cnt ? " or " : ", ");
		buf_addstr(b, n[i].name);
	}
}

static const struct kname *
find_name(const struct kname *n, const char *s)
{
	for (; n->name != NULL; n++)
		if (strcasecmp(n->name, s) == 0)
			return n;
	return NULL;
}

static void
set_string(struct cfg *c, const struct key *k, const char *s)
{
	char **f = field(c, k);

	free(*f);
	*f = xstrdup(s);
}

static int
range_ok(struct pctx *p, const struct origin *o, const struct key *k,
    uint64_t v)
{
	char a[32], lo[32], hi[32];

	if (v >= k->min && v <= k->max)
		return 1;
	fmt_num(k, v, a, sizeof(a));
	fmt_num(k, k->min, lo, sizeof(lo));
	fmt_num(k, k->max, hi, sizeof(hi));
	kerr(p, o, k, "%s out of range (%s..%s)", a, lo, hi);
	return 0;
}

/*
 * Apply the key's type to v and store it in p->cfg. Returns 0, or -1
 * after reporting why at o.
 */
static int
store(struct pctx *p, const struct key *k, const struct origin *o,
    const struct val *v)
{
	struct cfg *c = p->cfg;
	const struct kname *n;
	struct buf b;
	char why[512];
	uint64_t u;
	int64_t ts;

	switch (k->type) {
	case K_STRING:
		if (v->kind != V_STRING)
			break;
		if (*v->s == '\0' && !(k->flags & KF_EMPTY_OK)) {
			kerr(p, o, k, "must not be empty");
			return -1;
		}
		if (k->names != NULL) {
			if ((n = find_name(k->names, v->s)) == NULL)
				goto badname;
			set_string(c, k, n->name);
			return 0;
		}
		if (k->check != NULL &&
		    k->check(v->s, why, sizeof(why)) == -1) {
			kerr(p, o, k, "%s", why);
			return -1;
		}
		set_string(c, k, v->s);
		return 0;
	case K_ENUM:
		if (v->kind != V_STRING)
			break;
		if ((n = find_name(k->names, v->s)) == NULL)
			goto badname;
		*(int *)field(c, k) = n->value;
		return 0;
	case K_BOOL:
		if (v->kind != V_BOOL)
			break;
		*(int *)field(c, k) = v->b != 0;
		return 0;
	case K_INT:
	case K_COUNT:
		if (v->kind != V_INT)
			break;
		if (v->i < 0) {
			kerr(p, o, k, "%lld out of range (%llu..%llu)", v->i,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return -1;
		}
		if (!range_ok(p, o, k, (uint64_t)v->i))
			return -1;
		if (k->type == K_INT)
			*(int *)field(c, k) = (int)v->i;
		else
			*(uint64_t *)field(c, k) = (uint64_t)v->i;
		return 0;
	case K_SIZE:
	case K_DURATION:
		if (v->kind == V_INT) {
			/* a plain integer: bytes or seconds */
			char tmp[32];

			snprintf(tmp, sizeof(tmp), "%lld", v->i);
			if (v->i < 0 || (k->type == K_SIZE ?
			    cfg_parse_size(tmp, &u) : cfg_parse_duration(tmp,
			    &u)) == -1) {
				kerr(p, o, k, "invalid %s \"%s\"", k->type ==
				    K_SIZE ? "size" : "duration", tmp);
				return -1;
			}
		} else if (v->kind == V_STRING) {
			if ((k->type == K_SIZE ? cfg_parse_size(v->s, &u) :
			    cfg_parse_duration(v->s, &u)) == -1) {
				kerr(p, o, k, "invalid %s \"%s\"", k->type ==
				    K_SIZE ? "size" : "duration", v->s);
				return -1;
			}
		} else
			break;
		if (!range_ok(p, o, k, u))
			return -1;
		*(uint64_t *)field(c, k) = u;
		return 0;
	case K_TIMESTAMP:
		if (v->kind == V_INT) {
			if (v->i < 0 || v->i > INT64_MAX / 1000) {
				kerr(p, o, k, "invalid timestamp \"%lld\"",
				    v->i);
				return -1;
			}
			ts = (int64_t)v->i * 1000;
		} else if (v->kind == V_STRING) {
			const char *s = v->s;

			if (parse_u64(&s, &u) == 0 && *s == '\0' &&
			    u <= INT64_MAX / 1000)
				ts = (int64_t)u * 1000;
			else if (parse_iso8601(v->s, &ts) == -1) {
				kerr(p, o, k, "invalid timestamp \"%s\" "
				    "(expected 2026-11-27T00:00:00Z or epoch "
				    "seconds)", v->s);
				return -1;
			}
		} else
			break;
		*(int64_t *)field(c, k) = ts;
		return 0;
	}
	kerr(p, o, k, "expected %s, got %s", ktype_name(k->type),
	    vkind_name(v->kind));
	return -1;
badname:
	buf_init(&b);
	names_list(k->names, &b);
	kerr(p, o, k, "invalid value \"%s\" (expected %s)", v->s, b.data);
	buf_free(&b);
	return -1;
}

/*
 * Text from the command line (or a default) takes the key's type: "10"
 * is an integer for read.max_records but a string for s3.prefix.
 */
static int
store_text(struct pctx *p, const struct key *k, const struct origin *o,
    const char *text)
{
	struct val v;
	char *end;

	memset(&v, 0, sizeof(v));
	v.kind = V_STRING;
	v.s = text;
	if (k->type == K_INT || k->type == K_COUNT) {
		errno = 0;
		v.i = strtoll(text, &end, 10);
		if (*text == '\0' || *end != '\0' || errno != 0 ||
		    isspace((unsigned char)*text)) {
			kerr(p, o, k, "invalid integer \"%s\"", text);
			return -1;
		}
		v.kind = V_INT;
	} else if (k->type == K_BOOL) {
		if (strcasecmp(text, "true") == 0 ||
		    strcasecmp(text, "yes") == 0 ||
		    strcasecmp(text, "on") == 0 || strcmp(text, "1") == 0)
			v.b = 1;
		else if (strcasecmp(text, "false") == 0 ||
		    strcasecmp(text, "no") == 0 ||
		    strcasecmp(text, "off") == 0 || strcmp(text, "0") == 0)
			v.b = 0;
		else {
			kerr(p, o, k, "invalid boolean \"%s\" (expected true "
			    "or false)", text);
			return -1;
		}
		v.kind = V_BOOL;
	}
	return store(p, k, o, &v);
}

/* ---- the file ---- */

/* The name to print for a setting: @include names are relative to dir. */
static const char *
setting_file(struct pctx *p, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);
	char *name;
	size_t i;

	if (f == NULL)
		return p->path;
	if (*f == '/' || p->dir == NULL)
		name = xstrdup(f);
	else
		xasprintf(&name, "%s/%s", p->dir, f);
	for (i = 0; i < p->nnames; i++)
		if (strcmp(p->names[i], name) == 0) {
			free(name);
			return p->names[i];
		}
	p->names = xrealloc(p->names, (p->nnames + 1) * sizeof(*p->names));
	p->names[p->nnames++] = name;
	return name;
}

static int
wide_line(const struct pctx *p, int line)
{
	size_t i;

	for (i = 0; i < p->nwide; i++)
		if (p->wide[i] == line)
			return 1;
	return 0;
}

/*
 * libconfig 1.5 silently wraps integers beyond 32 bits written without
 * the L suffix (5000000000 becomes 705032704). Scan the text for such
 * literals, skipping strings and comments, and refuse them; the settings
 * on those lines are then not reported again with their wrapped value.
 */
static void
scan_wide_ints(struct pctx *p, const char *t)
{
	struct origin o;
	const char *s;
	int line = 1;

	memset(&o, 0, sizeof(o));
	o.file = p->path;
	while (*t != '\0') {
		if (*t == '\n') {
			line++;
			t++;
		} else if (*t == '#' || (t[0] == '/' && t[1] == '/')) {
			while (*t != '\0' && *t != '\n')
				t++;
		} else if (t[0] == '/' && t[1] == '*') {
			for (t += 2; *t != '\0' && !(t[0] == '*' &&
			    t[1] == '/'); t++)
				line += *t == '\n';
			if (*t != '\0')
				t += 2;
		} else if (*t == '"') {
			for (t++; *t != '\0' && *t != '"'; t++) {
				if (*t == '\\' && t[1] != '\0')
					t++;
				line += *t == '\n';
			}
			if (*t != '\0')
				t++;
		} else if (isalpha((unsigned char)*t) || *t == '*' ||
		    *t == '@' || *t == '_') {
			while (isalnum((unsigned char)*t) || *t == '*' ||
			    *t == '@' || *t == '_' || *t == '-')
				t++;
		} else if (isdigit((unsigned char)*t) || ((*t == '-' ||
		    *t == '+') && isdigit((unsigned char)t[1]))) {
			unsigned long long u;
			long long v;
			int wide;

			s = t;
			if (*t == '-' || *t == '+')
				t++;
			errno = 0;
			if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
				u = strtoull(t, NULL, 16);
				for (t += 2; isxdigit((unsigned char)*t); t++)
					;
				wide = errno != 0 || u > INT_MAX;
			} else {
				v = strtoll(s, NULL, 10);
				while (isdigit((unsigned char)*t))
					t++;
				wide = errno != 0 || v > INT_MAX || v < INT_MIN;
			}
			if (*t == '.' || *t == 'e' || *t == 'E') {
				/* a float: never wrapped */
				while (isdigit((unsigned char)*t) ||
				    *t == '.' || *t == 'e' || *t == 'E' ||
				    ((*t == '-' || *t == '+') &&
				    (t[-1] == 'e' || t[-1] == 'E')))
					t++;
				continue;
			}
			if (*t == 'L')
				wide = 0;
			while (*t == 'L')
				t++;
			if (!wide)
				continue;
			o.line = line;
			perr(p, &o, "integer %.*s is too large (write %.*sL, "
			    "or use a unit)", (int)(t - s), s, (int)(t - s), s);
			p->wide = xrealloc(p->wide, (p->nwide + 1) *
			    sizeof(*p->wide));
			p->wide[p->nwide++] = line;
		} else
			t++;
	}
}

static enum vkind
setting_kind(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return V_INT;
	case CONFIG_TYPE_STRING:
		return V_STRING;
	case CONFIG_TYPE_BOOL:
		return V_BOOL;
	case CONFIG_TYPE_FLOAT:
		return V_FLOAT;
	case CONFIG_TYPE_GROUP:
		return V_GROUP;
	case CONFIG_TYPE_ARRAY:
		return V_ARRAY;
	default:
		return V_LIST;
	}
}

static void
take(struct pctx *p, size_t idx, config_setting_t *s)
{
	const struct key *k = &keys[idx];
	struct origin *o = &p->org[idx];
	struct val v;

	memset(o, 0, sizeof(*o));
	o->file = setting_file(p, s);
	o->line = config_setting_source_line(s);
	o->set = 1;
	memset(&v, 0, sizeof(v));
	v.kind = setting_kind(s);
	if (v.kind == V_INT && o->file == p->path && wide_line(p, o->line)) {
		o->bad = 1;		/* reported by scan_wide_ints */
		return;
	}
	if (v.kind == V_INT)
		v.i = config_setting_get_int64(s);
	else if (v.kind == V_STRING)
		v.s = config_setting_get_string(s);
	else if (v.kind == V_BOOL)
		v.b = config_setting_get_bool(s);
	if (store(p, k, o, &v) == -1)
		o->bad = 1;
}

static void
walk_group(struct pctx *p, config_setting_t *g)
{
	config_setting_t *s;
	struct origin o;
	char *dotted;
	size_t idx;
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		xasprintf(&dotted, "%s.%s", config_setting_name(g),
		    config_setting_name(s));
		if (find_key(dotted, &idx) != NULL)
			take(p, idx, s);
		else {
			memset(&o, 0, sizeof(o));
			o.file = setting_file(p, s);
			o.line = config_setting_source_line(s);
			perr(p, &o, "unknown setting \"%s\"", dotted);
		}
		free(dotted);
	}
}

static void
walk(struct pctx *p, config_setting_t *root)
{
	config_setting_t *s;
	struct origin o;
	const char *name;
	size_t idx;
	int i, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, i);
		name = config_setting_name(s);
		memset(&o, 0, sizeof(o));
		o.file = setting_file(p, s);
		o.line = config_setting_source_line(s);
		o.set = 1;
		if (is_group(name)) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				perr(p, &o, "%s: expected a group, got %s",
				    name, vkind_name(setting_kind(s)));
				continue;
			}
			add_group(p, name, &o);
			walk_group(p, s);
		} else if (find_key(name, &idx) != NULL)
			take(p, idx, s);
		else
			perr(p, &o, "unknown setting \"%s\"", name);
	}
}

/* ---- command line ---- */

static void
apply_override(struct pctx *p, const char *arg)
{
	struct origin o;
	const struct key *k;
	const char *eq;
	char *name, *val;
	size_t idx, len;

	memset(&o, 0, sizeof(o));
	o.ovr = arg;
	o.set = 1;
	if ((eq = strchr(arg, '=')) == NULL || eq == arg) {
		perr(p, &o, "expected key=value");
		return;
	}
	name = xstrndup(arg, (size_t)(eq - arg));
	if ((k = find_key(name, &idx)) == NULL) {
		perr(p, &o, "unknown setting \"%s\"", name);
		free(name);
		return;
	}
	free(name);
	/* -D 's3.prefix=""' means the empty string, as in the file */
	len = strlen(eq + 1);
	if (len >= 2 && eq[1] == '"' && eq[len] == '"')
		val = xstrndup(eq + 2, len - 2);
	else
		val = xstrdup(eq + 1);
	p->org[idx] = o;
	if (store_text(p, k, &o, val) == -1)
		p->org[idx].bad = 1;
	add_group(p, k->name, &o);
	free(val);
}

/* ---- cross checks ---- */

static struct origin *
org_of(struct pctx *p, const char *name)
{
	size_t idx;

	if (find_key(name, &idx) == NULL)
		abort();
	return &p->org[idx];
}

/* Given, and accepted: cross checks look only at these. */
static int
good(struct pctx *p, const char *name)
{
	struct origin *o = org_of(p, name);

	return o->set && !o->bad;
}

static int
bad(struct pctx *p, const char *name)
{
	return org_of(p, name)->bad;
}

static void
require(struct pctx *p, const char *name, const void *value)
{
	const char *dot = strchr(name, '.');
	struct origin *o = NULL;

	if (value != NULL || bad(p, name))
		return;
	if (dot != NULL)
		o = group_origin(p, name, (size_t)(dot - name));
	if (o == NULL || o->file == NULL)
		o = &p->line1;
	perr(p, o, "missing required setting \"%s\"", name);
}

static void
check_region_env(struct pctx *p)
{
	static const char *const vars[] = {
		"AWS_REGION", "AWS_DEFAULT_REGION"
	};
	const char *v;
	char why[256];
	size_t i;

	if (p->cfg->region != NULL || bad(p, "region"))
		return;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = getenv(vars[i])) == NULL || *v == '\0')
			continue;
		if (check_region(v, why, sizeof(why)) == -1)
			perr(p, &p->line1, "region: %s (from %s)", why,
			    vars[i]);
		else
			p->cfg->region = xstrdup(v);
		return;
	}
	perr(p, &p->line1, "no region: set region or AWS_REGION");
}

static void
check_credentials(struct pctx *p)
{
	struct cfg *c = p->cfg;
	int akid = good(p, "credentials.access_key_id");
	int secret = good(p, "credentials.secret_access_key");

	if (akid != secret && !bad(p, "credentials.access_key_id") &&
	    !bad(p, "credentials.secret_access_key"))
		perr(p, org_of(p, akid ? "credentials.access_key_id" :
		    "credentials.secret_access_key"), "credentials."
		    "access_key_id and credentials.secret_access_key must be "
		    "given together");
	if (good(p, "credentials.session_token") && !akid && !secret)
		perr(p, org_of(p, "credentials.session_token"), "credentials."
		    "session_token requires credentials.access_key_id and "
		    "credentials.secret_access_key");
	if (good(p, "credentials.profile") && (akid || secret))
		perr(p, org_of(p, "credentials.profile"), "credentials."
		    "profile and explicit keys (credentials.access_key_id) "
		    "are mutually exclusive");
	/*
	 * session_name is fine alone: web identity from the environment uses
	 * it too. An external ID only ever goes with our own AssumeRole.
	 */
	if (c->cred_role_arn == NULL && !bad(p, "credentials.role_arn") &&
	    good(p, "credentials.external_id"))
		perr(p, org_of(p, "credentials.external_id"),
		    "credentials.external_id requires credentials.role_arn");
}

/*
 * state_dir must be usable by the service user before anything starts; it
 * is created later by the supervisor, never here (a -n check must not
 * change the system).
 */
static void
check_state_dir(struct pctx *p)
{
	const struct key *k = find_key("state_dir", NULL);
	struct origin *o = org_of(p, "state_dir");
	const char *dir = p->cfg->state_dir;
	struct stat st;
	char *anc, *slash;

	if (dir == NULL)
		return;
	if (*dir != '/') {
		kerr(p, o, k, "\"%s\" is not an absolute path", dir);
		return;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			kerr(p, o, k, "\"%s\" is not a directory", dir);
		else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) ==
		    -1)
			kerr(p, o, k, "\"%s\" is not writable", dir);
		return;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		kerr(p, o, k, "\"%s\": %s", dir, strerror(errno));
		return;
	}
	/* the nearest existing ancestor decides whether mkdir -p can work */
	anc = xstrdup(dir);
	for (;;) {
		if ((slash = strrchr(anc, '/')) == NULL)
			break;
		if (slash == anc)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(anc, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				kerr(p, o, k, "cannot create \"%s\": "
				    "\"%s\" is not a directory", dir, anc);
			else if (faccessat(AT_FDCWD, anc, W_OK | X_OK,
			    AT_EACCESS) == -1)
				kerr(p, o, k, "cannot create \"%s\": "
				    "\"%s\" is not writable", dir, anc);
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			kerr(p, o, k, "cannot create \"%s\": \"%s\": "
			    "%s", dir, anc, strerror(errno));
			break;
		}
		if (strcmp(anc, "/") == 0)
			break;
	}
	free(anc);
}

static void
check_all(struct pctx *p, int check_dirs)
{
	struct cfg *c = p->cfg;
	char a[32], b[32];

	require(p, "stream", c->stream);
	require(p, "state_dir", c->state_dir);
	require(p, "s3.bucket", c->s3_bucket);
	check_region_env(p);

	if (c->start_position == START_AT_TIMESTAMP &&
	    !good(p, "start_timestamp") && !bad(p, "start_timestamp"))
		perr(p, org_of(p, "start_position"), "start_position "
		    "\"AT_TIMESTAMP\" requires start_timestamp");
	if (good(p, "start_timestamp") && c->start_position !=
	    START_AT_TIMESTAMP && !bad(p, "start_position"))
		perr(p, org_of(p, "start_timestamp"), "start_timestamp "
		    "requires start_position \"AT_TIMESTAMP\"");

	if (good(p, "s3.kms_key_id") && c->s3_sse != SSE_KMS &&
	    !bad(p, "s3.sse"))
		perr(p, org_of(p, "s3.kms_key_id"), "s3.kms_key_id requires "
		    "s3.sse \"aws:kms\"");

	if (c->restart_min_ms > c->restart_max_ms &&
	    !bad(p, "workers.restart_min") && !bad(p, "workers.restart_max")) {
		fmt_duration(c->restart_min_ms, a, sizeof(a));
		fmt_duration(c->restart_max_ms, b, sizeof(b));
		perr(p, org_of(p, good(p, "workers.restart_min") ?
		    "workers.restart_min" : "workers.restart_max"),
		    "workers.restart_min (%s) must not exceed "
		    "workers.restart_max (%s)", a, b);
	}

	/* statsd is on when a host is set; a group without one is a slip */
	if (c->statsd_host == NULL && !bad(p, "statsd.host") &&
	    group_origin(p, "statsd", 6) != NULL)
		require(p, "statsd.host", c->statsd_host);
	c->cw_enabled = group_origin(p, "cloudwatch", 10) != NULL;

	check_credentials(p);

	if (check_dirs) {
		check_state_dir(p);
		if (c->tls_ca_file != NULL && access(c->tls_ca_file, R_OK) ==
		    -1)
			kerr(p, org_of(p, "tls.ca_file"),
			    find_key("tls.ca_file", NULL), "cannot read "
			    "\"%s\": %s", c->tls_ca_file, strerror(errno));
	}
}

/* The default key's extension follows the format, so that tools that
 * go by extension (Athena, zcat) see what the object holds. */
static void
default_key(struct cfg *c)
{
	if (c->s3_key != NULL)
		return;
	xasprintf(&c->s3_key, "{prefix}{stream}/{yyyy}/{mm}/{dd}/{hh}/"
	    "{stream}-{shard}-{seq}.%s%s", c->format_type == FORMAT_RAW ?
	    "raw" : "jsonl", c->format_compression == COMPRESSION_GZIP ?
	    ".gz" : "");
}

/* ---- public ---- */

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		if (keys[i].type == K_STRING)
			free(*(char **)field(c, &keys[i]));
	free(c->path);
	memset(c, 0, sizeof(*c));
}

void
cfg_errors_free(struct cfg_errors *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

int
cfg_parse(struct cfg *cfg, const char *path, const char *text,
    char *const *overrides, size_t noverrides, int check_dirs,
    struct cfg_errors *errs)
{
	struct pctx p;
	struct origin def;
	config_t lc;
	const char *slash, *ef;
	size_t i;
	int ok;

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	if (path == NULL)
		path = "(config)";
	p.cfg = cfg;
	p.path = path;
	p.line1.file = path;
	p.line1.line = 1;
	if ((slash = strrchr(path, '/')) != NULL)
		p.dir = xstrndup(path, slash == path ? 1 : (size_t)(slash -
		    path));
	cfg->path = xstrdup(path);

	/* defaults go through the same conversion as every other value */
	memset(&def, 0, sizeof(def));
	def.file = "(default)";
	for (i = 0; i < NKEYS; i++)
		if (keys[i].def != NULL && store_text(&p, &keys[i], &def,
		    keys[i].def) == -1)
			abort();

	config_init(&lc);
	config_set_include_dir(&lc, p.dir != NULL ? p.dir : ".");
	if (config_read_string(&lc, text != NULL ? text : "") != CONFIG_TRUE) {
		/* libconfig stops at the first syntax error: report it alone */
		struct origin o;

		memset(&o, 0, sizeof(o));
		ef = config_error_file(&lc);
		o.file = path;
		if (ef != NULL) {
			if (*ef == '/' || p.dir == NULL)
				o.file = ef;
			else {
				char *n;

				xasprintf(&n, "%s/%s", p.dir, ef);
				p.names = xrealloc(p.names, (p.nnames + 1) *
				    sizeof(*p.names));
				p.names[p.nnames++] = n;
				o.file = n;
			}
		}
		o.line = config_error_line(&lc);
		perr(&p, &o, "%s", config_error_text(&lc) ?
		    config_error_text(&lc) : "syntax error");
	} else {
		scan_wide_ints(&p, text != NULL ? text : "");
		walk(&p, config_root_setting(&lc));
		for (i = 0; i < noverrides; i++)
			apply_override(&p, overrides[i]);
		default_key(cfg);
		check_all(&p, check_dirs);
	}
	config_destroy(&lc);

	ok = p.nerrs == 0;
	flush_errors(&p, errs);
	for (i = 0; i < p.nnames; i++)
		free(p.names[i]);
	free(p.names);
	for (i = 0; i < p.ngrp; i++)
		free(p.grp[i].name);
	free(p.wide);
	free(p.dir);
	if (!ok) {
		cfg_free(cfg);
		return -1;
	}
	return 0;
}

int
cfg_load(struct cfg *cfg, const char *path, char *const *overrides,
    size_t noverrides, int check_dirs, struct cfg_errors *errs,
    char **text_out)
{
	struct buf b;
	char *msg;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (text_out != NULL)
		*text_out = NULL;
	buf_init(&b);
	if (read_file(path, &b, CFG_MAX_FILE) == -1) {
		if (errno == EFBIG)
			xasprintf(&msg, "%s: file too large (max 1M)", path);
		else
			xasprintf(&msg, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (memchr(b.data, '\0', b.len) != NULL) {
		xasprintf(&msg, "%s: not a text file (NUL byte)", path);
		goto fail;
	}
	r = cfg_parse(cfg, path, b.data, overrides, noverrides, check_dirs,
	    errs);
	if (r == 0 && text_out != NULL) {
		*text_out = b.data;
		return 0;
	}
	buf_free(&b);
	return r;
fail:
	buf_free(&b);
	if (errs != NULL) {
		errs->msgs = xrealloc(errs->msgs,
		    (errs->n + 1) * sizeof(*errs->msgs));
		errs->msgs[errs->n++] = msg;
	} else
		free(msg);
	return -1;
}

void
cfg_list_keys(FILE *fp)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		fprintf(fp, "%s\n", keys[i].name);
}

static void
dump_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '"':
		case '\\':
			fprintf(fp, "\\%c", *s);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\f':
			fputs("\\f", fp);
			break;
		default:
			if (iscntrl((unsigned char)*s))
				fprintf(fp, "\\x%02x", (unsigned char)*s);
			else
				fputc(*s, fp);
		}
	}
	fputc('"', fp);
}

static void
dump_value(FILE *fp, const struct cfg *c, const struct key *k)
{
	const struct kname *n;
	char tmp[64];
	uint64_t u;
	int v;

	switch (k->type) {
	case K_STRING:
		dump_string(fp, *(char *const *)cfield(c, k));
		break;
	case K_BOOL:
		fputs(*(const int *)cfield(c, k) ? "true" : "false", fp);
		break;
	case K_INT:
		fprintf(fp, "%d", *(const int *)cfield(c, k));
		break;
	case K_COUNT:
		/* libconfig 1.5 needs the L beyond 32 bits */
		u = *(const uint64_t *)cfield(c, k);
		fprintf(fp, "%llu%s", (unsigned long long)u, u > INT_MAX ?
		    "L" : "");
		break;
	case K_SIZE:
	case K_DURATION:
		fmt_num(k, *(const uint64_t *)cfield(c, k), tmp, sizeof(tmp));
		fprintf(fp, "\"%s\"", tmp);
		break;
	case K_ENUM:
		v = *(const int *)cfield(c, k);
		for (n = k->names; n->name != NULL; n++)
			if (n->value == v)
				break;
		dump_string(fp, n->name != NULL ? n->name : "?");
		break;
	case K_TIMESTAMP:
		fmt_iso8601_ms(*(const int64_t *)cfield(c, k), tmp,
		    sizeof(tmp));
		dump_string(fp, tmp);
		break;
	}
}

/* Whether a key has a value worth printing (unset strings are shown as
 * comments, a timestamp only with AT_TIMESTAMP). */
static int
has_value(const struct cfg *c, const struct key *k)
{
	if (k->type == K_STRING)
		return *(char *const *)cfield(c, k) != NULL;
	if (k->type == K_TIMESTAMP)
		return c->start_position == START_AT_TIMESTAMP;
	return 1;
}

void
cfg_dump(const struct cfg *c, FILE *fp)
{
	const char *dot, *name;
	size_t i, glen = 0;
	const char *grp = NULL;
	int off = 0;

	fprintf(fp, "# effective configuration of %s\n",
	    c->path != NULL ? c->path : "(config)");
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		dot = strchr(k->name, '.');
		if (grp != NULL && (dot == NULL ||
		    (size_t)(dot - k->name) != glen ||
		    strncmp(k->name, grp, glen) != 0)) {
			fprintf(fp, "%s};\n", off ? "# " : "");
			grp = NULL;
		}
		if (dot != NULL && grp == NULL) {
			grp = k->name;
			glen = (size_t)(dot - k->name);
			/* an absent cloudwatch or statsd group means "off" */
			off = (strncmp(grp, "cloudwatch.", 11) == 0 &&
			    !c->cw_enabled) ||
			    (strncmp(grp, "statsd.", 7) == 0 &&
			    c->statsd_host == NULL);
			fprintf(fp, "%s%.*s = {\n", off ? "# " : "",
			    (int)glen, grp);
		}
		name = dot != NULL ? dot + 1 : k->name;
		fprintf(fp, "%s%s", off ? "# " : "", dot != NULL ? "\t" : "");
		if (!has_value(c, k)) {
			fprintf(fp, "# %s: not set\n", name);
			continue;
		}
		fprintf(fp, "%s = ", name);
		if (k->flags & KF_SECRET)
			fputs("\"(set)\"", fp);
		else
			dump_value(fp, c, k);
		fputs(";\n", fp);
	}
	if (grp != NULL)
		fprintf(fp, "%s};\n", off ? "# " : "");
}
