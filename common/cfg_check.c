/*
 * cfg_check.c: the checks of kinesis-keeper.conf(5) values, one string at a
 * time (names, ARNs, URLs, key templates), and across settings once the
 * whole file is read (region, credentials, state directory).
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
#include "cfg_priv.h"
#include "util.h"

/* ---- value checks ---- */

static int
all_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

int
check_stream(const char *s, char *why, size_t len)
{
	if (strlen(s) > 128 || !all_chars(s, "_.-")) {
		snprintf(why, len, "invalid stream name \"%s\" (1 to 128 of "
		    "A-Z a-z 0-9 _ . -)", s);
		return -1;
	}
	return 0;
}

int
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

int
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

int
check_arn(const char *s, char *why, size_t len)
{
	if (strncmp(s, "arn:", 4) != 0 || strchr(s, ' ') != NULL) {
		snprintf(why, len, "invalid ARN \"%s\"", s);
		return -1;
	}
	return 0;
}

int
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

int
check_bucket(const char *s, char *why, size_t len)
{
	/* loose enough for legacy us-east-1 names, strict enough for URLs */
	if (strlen(s) < 3 || strlen(s) > 255 || !all_chars(s, "_.-")) {
		snprintf(why, len, "invalid bucket name \"%s\"", s);
		return -1;
	}
	return 0;
}

int
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
 * The key must name each object uniquely and stably: {shard} and {seq}
 * identify its first record, and only placeholders derived from that
 * record are allowed (its arrival time, members of its payload), so a
 * re-read batch overwrites the same objects.
 */
int
check_key(const char *s, char *why, size_t len)
{
	static const char *const ph[] = {
		"prefix", "stream", "shard", "seq", "yyyy", "mm", "dd", "hh"
	};
	const char *p, *end, *q;
	int shard = 0, seq = 0, njson = 0;
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
		if (n > 5 && strncmp(p + 1, "json:", 5) == 0) {
			/* dot-separated member names, none empty */
			for (q = p + 6; q < end; q++)
				if (*q == '.' && (q == p + 6 || q + 1 == end ||
				    q[1] == '.'))
					break;
			if (q < end || n - 5 > CFG_MAX_JSON_PATH) {
				snprintf(why, len, "bad placeholder \"%.*s\" "
				    "(expected {json:name.name...}, names not "
				    "empty, at most %d characters)", (int)(n + 2),
				    p, CFG_MAX_JSON_PATH);
				return -1;
			}
			if (++njson > CFG_MAX_JSON_KEYS) {
				snprintf(why, len, "more than %d {json:...} "
				    "placeholders", CFG_MAX_JSON_KEYS);
				return -1;
			}
			p = end;
			continue;
		}
		for (i = 0; i < sizeof(ph) / sizeof(ph[0]); i++)
			if (strlen(ph[i]) == n && strncmp(p + 1, ph[i], n) == 0)
				break;
		if (i == sizeof(ph) / sizeof(ph[0])) {
			snprintf(why, len, "unknown placeholder \"%.*s\" "
			    "(expected {prefix} {stream} {shard} {seq} {yyyy} "
			    "{mm} {dd} {hh} {json:PATH})", (int)(n + 2), p);
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

int
check_namespace(const char *s, char *why, size_t len)
{
	if (strlen(s) > 255 || strncmp(s, "AWS/", 4) == 0) {
		snprintf(why, len, "invalid namespace \"%s\" (at most 255 "
		    "characters, not AWS/...)", s);
		return -1;
	}
	return 0;
}

int
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

int
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

/* DynamoDB table names: 3-255 of [A-Za-z0-9_.-] */
int
check_table(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);

	if (n < 3 || n > 255 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
		snprintf(why, len, "invalid table name \"%s\" (3 to 255 of "
		    "A-Z a-z 0-9 _ . -)", s);
		return -1;
	}
	return 0;
}

/* The owner written in the lease table and in the supervisor's messages:
 * printable, no spaces, short enough for a message field. */
int
check_worker_id(const char *s, char *why, size_t len)
{
	const char *p;

	if (strlen(s) > CFG_WORKER_ID_MAX) {
		snprintf(why, len, "worker_id longer than %d characters",
		    CFG_WORKER_ID_MAX);
		return -1;
	}
	for (p = s; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p)) {
			snprintf(why, len, "invalid worker_id \"%s\" (no "
			    "spaces or control characters)", s);
			return -1;
		}
	return 0;
}

/* ---- cross checks ---- */

static struct origin *
org_of(struct pctx *p, const char *name)
{
	size_t idx;

	if (cfg_find_key(name, &idx) == NULL)
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
		o = cfg_group_origin(p, name, (size_t)(dot - name));
	if (o == NULL || o->file == NULL)
		o = &p->line1;
	cfg_perr(p, o, "missing required setting \"%s\"", name);
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
			cfg_perr(p, &p->line1, "region: %s (from %s)", why,
			    vars[i]);
		else
			p->cfg->region = xstrdup(v);
		return;
	}
	cfg_perr(p, &p->line1, "no region: set region or AWS_REGION");
}

static void
check_credentials(struct pctx *p)
{
	struct cfg *c = p->cfg;
	int akid = good(p, "credentials.access_key_id");
	int secret = good(p, "credentials.secret_access_key");

	if (akid != secret && !bad(p, "credentials.access_key_id") &&
	    !bad(p, "credentials.secret_access_key"))
		cfg_perr(p, org_of(p, akid ? "credentials.access_key_id" :
		    "credentials.secret_access_key"), "credentials."
		    "access_key_id and credentials.secret_access_key must be "
		    "given together");
	if (good(p, "credentials.session_token") && !akid && !secret)
		cfg_perr(p, org_of(p, "credentials.session_token"), "credentials."
		    "session_token requires credentials.access_key_id and "
		    "credentials.secret_access_key");
	if (good(p, "credentials.profile") && (akid || secret))
		cfg_perr(p, org_of(p, "credentials.profile"), "credentials."
		    "profile and explicit keys (credentials.access_key_id) "
		    "are mutually exclusive");
	/*
	 * session_name is fine alone: web identity from the environment uses
	 * it too. An external ID only ever goes with our own AssumeRole.
	 */
	if (c->cred_role_arn == NULL && !bad(p, "credentials.role_arn") &&
	    good(p, "credentials.external_id"))
		cfg_perr(p, org_of(p, "credentials.external_id"),
		    "credentials.external_id requires credentials.role_arn");
}

/* format.level: within the engine's range; unset, the engine's default */
static void
check_level(struct pctx *p)
{
	struct cfg *c = p->cfg;
	const struct key *k = cfg_find_key("format.level", NULL);
	struct origin *o = org_of(p, "format.level");
	int lo = 0, hi = 0, def = 0;

	if (bad(p, "format.compression"))
		return;
	switch (c->format_compression) {
	case COMPRESSION_GZIP:
		lo = CFG_GZIP_LEVEL_MIN;
		hi = CFG_GZIP_LEVEL_MAX;
		def = CFG_GZIP_LEVEL_DEFAULT;
		break;
	case COMPRESSION_ZSTD:
		lo = CFG_ZSTD_LEVEL_MIN;
		hi = CFG_ZSTD_LEVEL_MAX;
		def = CFG_ZSTD_LEVEL_DEFAULT;
		break;
	case COMPRESSION_NONE:
		/* a level here is a slip: the operator meant to compress */
		if (good(p, "format.level"))
			cfg_kerr(p, o, k, "not used with format.compression "
			    "\"none\"");
		c->format_level = 0;
		return;
	}
	if (!o->set)
		c->format_level = def;
	else if (!o->bad && (c->format_level < lo || c->format_level > hi))
		cfg_kerr(p, o, k, "%d out of range for %s (%d..%d)",
		    c->format_level, c->format_compression ==
		    COMPRESSION_GZIP ? "gzip" : "zstd", lo, hi);
}

/*
 * state_dir must be usable by the service user before anything starts; it
 * is created later by the supervisor, never here (a -n check must not
 * change the system).
 */
static void
check_state_dir(struct pctx *p)
{
	const struct key *k = cfg_find_key("state_dir", NULL);
	struct origin *o = org_of(p, "state_dir");
	const char *dir = p->cfg->state_dir;
	struct stat st;
	char *anc, *slash;

	if (dir == NULL)
		return;
	if (*dir != '/') {
		cfg_kerr(p, o, k, "\"%s\" is not an absolute path", dir);
		return;
	}
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			cfg_kerr(p, o, k, "\"%s\" is not a directory", dir);
		else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) ==
		    -1)
			cfg_kerr(p, o, k, "\"%s\" is not writable", dir);
		return;
	}
	if (errno != ENOENT && errno != ENOTDIR) {
		cfg_kerr(p, o, k, "\"%s\": %s", dir, strerror(errno));
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
				cfg_kerr(p, o, k, "cannot create \"%s\": "
				    "\"%s\" is not a directory", dir, anc);
			else if (faccessat(AT_FDCWD, anc, W_OK | X_OK,
			    AT_EACCESS) == -1)
				cfg_kerr(p, o, k, "cannot create \"%s\": "
				    "\"%s\" is not writable", dir, anc);
			break;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			cfg_kerr(p, o, k, "cannot create \"%s\": \"%s\": "
			    "%s", dir, anc, strerror(errno));
			break;
		}
		if (strcmp(anc, "/") == 0)
			break;
	}
	free(anc);
}

void
cfg_check_all(struct pctx *p, int check_dirs)
{
	struct cfg *c = p->cfg;
	char a[32], b[32];

	require(p, "stream", c->stream);
	require(p, "state_dir", c->state_dir);
	require(p, "s3.bucket", c->s3_bucket);
	check_region_env(p);

	if (c->start_position == START_AT_TIMESTAMP &&
	    !good(p, "start_timestamp") && !bad(p, "start_timestamp"))
		cfg_perr(p, org_of(p, "start_position"), "start_position "
		    "\"AT_TIMESTAMP\" requires start_timestamp");
	if (good(p, "start_timestamp") && c->start_position !=
	    START_AT_TIMESTAMP && !bad(p, "start_position"))
		cfg_perr(p, org_of(p, "start_timestamp"), "start_timestamp "
		    "requires start_position \"AT_TIMESTAMP\"");

	if (good(p, "s3.kms_key_id") && c->s3_sse != SSE_KMS &&
	    !bad(p, "s3.sse"))
		cfg_perr(p, org_of(p, "s3.kms_key_id"), "s3.kms_key_id requires "
		    "s3.sse \"aws:kms\"");

	if (c->restart_min_ms > c->restart_max_ms &&
	    !bad(p, "workers.restart_min") && !bad(p, "workers.restart_max")) {
		cfg_fmt_duration(c->restart_min_ms, a, sizeof(a));
		cfg_fmt_duration(c->restart_max_ms, b, sizeof(b));
		cfg_perr(p, org_of(p, good(p, "workers.restart_min") ?
		    "workers.restart_min" : "workers.restart_max"),
		    "workers.restart_min (%s) must not exceed "
		    "workers.restart_max (%s)", a, b);
	}

	/* statsd is on when a host is set; a group without one is a slip */
	if (c->statsd_host == NULL && !bad(p, "statsd.host") &&
	    cfg_group_origin(p, "statsd", 6) != NULL)
		require(p, "statsd.host", c->statsd_host);
	c->cw_enabled = cfg_group_origin(p, "cloudwatch", 10) != NULL;

	/* leases are on when a table is named; a group without one is a slip */
	if (c->lease_table == NULL && !bad(p, "leases.table") &&
	    cfg_group_origin(p, "leases", 6) != NULL)
		require(p, "leases.table", c->lease_table);
	if (c->lease_table != NULL && c->lease_worker_id == NULL &&
	    !bad(p, "leases.worker_id")) {
		char host[256];

		if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (strlen(host) > CFG_WORKER_ID_MAX)
			host[CFG_WORKER_ID_MAX] = '\0';
		c->lease_worker_id = xstrdup(host);
	}

	check_credentials(p);
	check_level(p);

	if (check_dirs) {
		check_state_dir(p);
		if (c->tls_ca_file != NULL && access(c->tls_ca_file, R_OK) ==
		    -1)
			cfg_kerr(p, org_of(p, "tls.ca_file"),
			    cfg_find_key("tls.ca_file", NULL), "cannot read "
			    "\"%s\": %s", c->tls_ca_file, strerror(errno));
	}
}
