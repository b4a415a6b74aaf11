/*
 * cfg.c: the configuration loader (kinesis-keeper.conf(5)). One table row
 * per dotted key drives parsing, defaults, overrides, cfg_dump and
 * cfg_list_keys; every problem is collected as "file:line: message" so
 * that an operator fixes a broken file in one round, not one error a time.
 * This file holds the schema and the entry points; cfg_priv.h lists the rest.
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
#include "log.h"
#include "util.h"


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
	{ "zstd", COMPRESSION_ZSTD },
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
const struct key cfg_keys[] = {
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
	STR("endpoints.dynamodb", ep_dynamodb, NULL, check_url, 0),

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
	NUM("batch.max_partitions", K_INT, batch_max_partitions, "16", 1,
	    CFG_MAX_PARTITIONS),

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
	/* the range of every engine; cfg_check.c narrows it per engine and
	 * sets the engine's default when it is not given */
	NUM("format.level", K_INT, format_level, NULL, 1, CFG_ZSTD_LEVEL_MAX),
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
	NUM("workers.max", K_INT, workers_max, "0", 0, 1000000),

	STR("tls.ca_file", tls_ca_file, NULL, NULL, 0),

	/* several keepers share the stream through a KCL lease table; a
	 * lease shorter than 3 s cannot be renewed three times over a
	 * loaded network */
	STR("leases.table", lease_table, NULL, check_table, 0),
	STR("leases.worker_id", lease_worker_id, NULL, check_worker_id, 0),
	NUM("leases.duration", K_DURATION, lease_duration_ms, "10s", 3 * SEC,
	    HOUR),
	NUM("leases.max_shards", K_INT, lease_max_shards, "0", 0, 1000000),
};

#define NKEYS	(sizeof(cfg_keys) / sizeof(cfg_keys[0]))

const size_t cfg_nkeys = NKEYS;

void *
cfg_field(struct cfg *c, const struct key *k)
{
	return (char *)c + k->off;
}

const void *
cfg_cfield(const struct cfg *c, const struct key *k)
{
	return (const char *)c + k->off;
}

const struct key *
cfg_find_key(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(cfg_keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &cfg_keys[i];
		}
	return NULL;
}

/* A top-level name is a group if some key is dotted below it. */
int
cfg_is_group(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < NKEYS; i++)
		if (strncmp(cfg_keys[i].name, name, n) == 0 &&
		    cfg_keys[i].name[n] == '.')
			return 1;
	return 0;
}

struct origin *
cfg_group_origin(struct pctx *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->ngrp; i++)
		if (strlen(p->grp[i].name) == len &&
		    strncmp(p->grp[i].name, name, len) == 0)
			return &p->grp[i].o;
	return NULL;
}

/* Note that a group is present, from the file or from -D. */
void
cfg_add_group(struct pctx *p, const char *dotted, const struct origin *o)
{
	const char *dot = strchr(dotted, '.');
	size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
	size_t i;

	if (cfg_group_origin(p, dotted, len) != NULL ||
	    p->ngrp == sizeof(p->grp) / sizeof(p->grp[0]))
		return;
	for (i = 0; i < NKEYS; i++)
		if (strncmp(cfg_keys[i].name, dotted, len) == 0 &&
		    cfg_keys[i].name[len] == '.')
			break;
	if (i == NKEYS)
		return;
	p->grp[p->ngrp].name = xstrndup(dotted, len);
	p->grp[p->ngrp].o = *o;
	p->ngrp++;
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
	    ".gz" : c->format_compression == COMPRESSION_ZSTD ? ".zst" : "");
}

/* ---- public ---- */

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].type == K_STRING)
			free(*(char **)cfg_field(c, &cfg_keys[i]));
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

/*
 * A file with keys in it is a secret: the packaged directory is closed to
 * others, and a file others can read is worth a line (never its content).
 */
static void
warn_open_secrets(struct pctx *p)
{
	const char *warned[8];	/* files: there are two secret keys */
	struct stat st;
	size_t i, j, n = 0;

	for (i = 0; i < cfg_nkeys; i++) {
		const char *f = p->org[i].file;

		if (!(cfg_keys[i].flags & KF_SECRET) || !p->org[i].set ||
		    f == NULL || stat(f, &st) == -1 || !(st.st_mode & S_IROTH))
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(warned[j], f) == 0)
				break;
		if (j < n || n == sizeof(warned) / sizeof(warned[0]))
			continue;
		warned[n++] = f;
		log_warnx("%s: readable by others, and it holds %s: make it "
		    "mode 0640 or 0600", f, cfg_keys[i].name);
	}
}

/*
 * Parse text (as read from path). expanded_out (optional) receives the text
 * with its includes in place, which is what the workers get; warn_open: say
 * so when a file that holds a secret can be read by others.
 */
static int
parse(struct cfg *cfg, const char *path, const char *text,
    char *const *overrides, size_t noverrides, int check_dirs,
    struct cfg_errors *errs, char **expanded_out, int warn_open)
{
	struct pctx p;
	struct origin def;
	struct buf ex;
	config_t lc;
	const char *slash;
	size_t i;
	int ok;

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	if (path == NULL)
		path = "(config)";
	p.cfg = cfg;
	p.path = path;
	p.org = xcalloc(cfg_nkeys, sizeof(*p.org));
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
		if (cfg_keys[i].def != NULL && cfg_store_text(&p, &cfg_keys[i], &def,
		    cfg_keys[i].def) == -1)
			abort();

	buf_init(&ex);
	buf_reserve(&ex, 0);
	ex.data[0] = '\0';
	config_init(&lc);
	if (cfg_expand(&p, text != NULL ? text : "", &ex) == -1)
		;	/* reported; the text is not parsed */
	else if (config_read_string(&lc, ex.data) != CONFIG_TRUE) {
		/* libconfig stops at the first syntax error: report it alone */
		struct origin o;

		memset(&o, 0, sizeof(o));
		cfg_line_origin(&p, config_error_line(&lc), &o);
		cfg_perr(&p, &o, "%s", config_error_text(&lc) ?
		    config_error_text(&lc) : "syntax error");
	} else {
		cfg_scan_wide_ints(&p, ex.data);
		cfg_walk(&p, config_root_setting(&lc));
		for (i = 0; i < noverrides; i++)
			cfg_apply_override(&p, overrides[i]);
		default_key(cfg);
		cfg_check_all(&p, check_dirs);
		if (warn_open && p.nerrs == 0)
			warn_open_secrets(&p);
	}
	config_destroy(&lc);

	ok = p.nerrs == 0;
	cfg_flush_errors(&p, errs);
	for (i = 0; i < p.nnames; i++)
		free(p.names[i]);
	free(p.names);
	for (i = 0; i < p.ngrp; i++)
		free(p.grp[i].name);
	free(p.wide);
	free(p.lfile);
	free(p.lline);
	free(p.dir);
	free(p.org);
	if (ok && expanded_out != NULL)
		*expanded_out = ex.data;
	else
		buf_free(&ex);
	if (!ok) {
		cfg_free(cfg);
		return -1;
	}
	return 0;
}

int
cfg_parse(struct cfg *cfg, const char *path, const char *text,
    char *const *overrides, size_t noverrides, int check_dirs,
    struct cfg_errors *errs)
{
	return parse(cfg, path, text, overrides, noverrides, check_dirs, errs,
	    NULL, 0);
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
		else if (errno == EINVAL || errno == EISDIR)
			/* a FIFO is refused, never waited on (read_file) */
			xasprintf(&msg, "%s: not a regular file", path);
		else
			xasprintf(&msg, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (memchr(b.data, '\0', b.len) != NULL) {
		xasprintf(&msg, "%s: not a text file (NUL byte)", path);
		goto fail;
	}
	r = parse(cfg, path, b.data, overrides, noverrides, check_dirs, errs,
	    text_out, 1);
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
