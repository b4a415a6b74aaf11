/*
 * check.c: "kinesis-keeper check config-file" (see kinesis-keeper(8)): the
 * configuration as -n checks it, then, with the configured credentials, the
 * calls the keeper depends on, one line each: "what: ok: ..." or
 * "what: FAILED: ...; what to fix". Bounded: few retries, short timeouts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "aws.h"
#include "cfg.h"
#include "ddb.h"
#include "check.h"
#include "creds.h"
#include "health.h"
#include "kinesis.h"
#include "log.h"
#include "s3.h"
#include "sns.h"
#include "sts.h"
#include "util.h"

/* The probe object, under the configured prefix (see kinesis-keeper(8)). */
#define PROBE_DIR	"kinesis-keeper-check/"
/* Each check gets this long, retries included: a silent endpoint must not
 * keep an operator waiting for the minutes the keeper would retry. */
#define CHECK_TIMEOUT_MS	10000

static uint64_t	check_deadline;

/* aws_call's retry and transfer abort test (aws_ctx_set_abort) */
static int
check_expired(void)
{
	return now_ms() >= check_deadline;
}

static void
check_usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper check [-D key=value]... "
	    "config-file\n");
}

/* One failed line: what the error is, on what, where, and what to fix. */
static void
failed(const struct cfg *cfg, const char *label, const char *what,
    const char *resource, const struct aws_result *res, const char *fix)
{
	char text[768];

	if (check_expired())
		printf("%s: FAILED: %s %s (region %s): no answer within %d s; "
		    "%s and the network\n", label, what, resource, cfg->region,
		    CHECK_TIMEOUT_MS / 1000, fix);
	else if (health_classify(res, what, resource, cfg->region, text,
	    sizeof(text)) != HEALTH_OK)
		printf("%s: FAILED: %s\n", label, text);
	else
		printf("%s: FAILED: %s %s (region %s): %s; %s\n", label, what,
		    resource, cfg->region, aws_strerror(res), fix);
}

static int
check_identity(struct aws_ctx *ctx, const struct cfg *cfg,
    struct creds *creds)
{
	struct aws_result res;
	char arn[512], account[64], label[64];
	int r;

	snprintf(label, sizeof(label), "identity");
	aws_result_init(&res);
	r = sts_get_caller_identity(ctx, arn, sizeof(arn), account,
	    sizeof(account), &res);
	if (r == 0)
		printf("%s: ok: %s (account %s), credentials from %s\n", label,
		    arn[0] ? arn : "?", account[0] ? account : "?",
		    creds_source(creds));
	else
		failed(cfg, label, "sts GetCallerIdentity", "for these "
		    "credentials", &res, "check the credentials and "
		    "endpoints.sts");
	aws_result_free(&res);
	return r;
}

static int
check_stream(struct aws_ctx *ctx, const struct cfg *cfg)
{
	struct aws_result res;
	char status[64], label[300], resource[300];
	long open_shards;
	int r;

	snprintf(label, sizeof(label), "stream %s", cfg->stream);
	snprintf(resource, sizeof(resource), "stream %s", cfg->stream);
	aws_result_init(&res);
	r = kinesis_describe_stream_summary(ctx, cfg->stream, status,
	    sizeof(status), &open_shards, &res);
	if (r == -1) {
		if (strcmp(res.code, "ResourceNotFoundException") == 0)
			printf("%s: FAILED: stream %s does not exist in region "
			    "%s (%s); check the stream name and the region "
			    "(streams are per region)\n", label, cfg->stream,
			    cfg->region, aws_strerror(&res));
		else
			failed(cfg, label, "kinesis DescribeStreamSummary",
			    resource, &res, "check endpoints.kinesis");
	} else if (strcmp(status, "ACTIVE") != 0 &&
	    strcmp(status, "UPDATING") != 0) {
		printf("%s: FAILED: stream %s is %s in region %s, not ACTIVE; "
		    "wait for it or check its name\n", label, cfg->stream,
		    status, cfg->region);
		r = -1;
	} else {
		printf("%s: ok: %s in region %s", label, status, cfg->region);
		if (open_shards >= 0)
			printf(", %ld open shard%s", open_shards,
			    open_shards == 1 ? "" : "s");
		printf("\n");
	}
	aws_result_free(&res);
	return r;
}

/*
 * The bucket takes a PUT exactly like the keeper's: same headers, storage
 * class and encryption, so a policy that denies those fails here too. The
 * probe is removed at once (s3:DeleteObject on the probe prefix only).
 */
static int
check_bucket(struct aws_ctx *ctx, const struct cfg *cfg)
{
	struct aws_result res;
	struct s3_put put;
	struct sigv4_kv meta[1];
	char *key, host[128], label[300], resource[300], sha[65], md5[32];
	const char *body = "kinesis-keeper check: this object is removed "
	    "right after it is written\n";
	int r;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	xasprintf(&key, "%s" PROBE_DIR "probe-%s-%ld", cfg->s3_prefix ?
	    cfg->s3_prefix : "", host, (long)getpid());
	snprintf(label, sizeof(label), "bucket %s", cfg->s3_bucket);
	snprintf(resource, sizeof(resource), "s3://%s", cfg->s3_bucket);
	sha256_hex(body, strlen(body), sha);
	md5_base64(body, strlen(body), md5);
	meta[0].name = "purpose";
	meta[0].value = "kinesis-keeper-check";
	memset(&put, 0, sizeof(put));
	put.bucket = cfg->s3_bucket;
	put.key = key;
	put.body = body;
	put.len = strlen(body);
	put.content_type = "text/plain";
	put.md5_b64 = md5;
	put.sha256_hex = sha;
	put.meta = meta;
	put.nmeta = 1;
	aws_result_init(&res);
	if ((r = s3_put_object(ctx, cfg, &put, &res)) == -1) {
		if (strcmp(res.code, "NoSuchBucket") == 0)
			printf("%s: FAILED: bucket %s does not exist (region "
			    "%s): %s; check s3.bucket, or create the bucket\n",
			    label, cfg->s3_bucket, cfg->region,
			    aws_strerror(&res));
		else
			failed(cfg, label, "s3 put", resource, &res,
			    "check endpoints.s3 and s3.path_style");
		goto out;
	}
	aws_result_free(&res);
	aws_result_init(&res);
	if ((r = s3_delete_object(ctx, cfg, cfg->s3_bucket, key, &res)) ==
	    -1) {
		printf("%s: FAILED: writable, but the probe s3://%s/%s could "
		    "not be removed (region %s): %s; allow s3:DeleteObject on "
		    "%s" PROBE_DIR "* or remove it by hand\n", label,
		    cfg->s3_bucket, key, cfg->region, aws_strerror(&res),
		    cfg->s3_prefix ? cfg->s3_prefix : "");
		goto out;
	}
	printf("%s: ok: writable (probe s3://%s/%s written and removed)\n",
	    label, cfg->s3_bucket, key);
out:
	aws_result_free(&res);
	free(key);
	return r;
}

static int
check_topic(struct aws_ctx *ctx, const struct cfg *cfg)
{
	struct aws_result res;
	char label[600], resource[600];
	int r;

	snprintf(label, sizeof(label), "topic %s", cfg->sns_topic_arn);
	snprintf(resource, sizeof(resource), "topic %s", cfg->sns_topic_arn);
	aws_result_init(&res);
	if ((r = sns_get_topic_attributes(ctx, cfg->sns_topic_arn, &res)) == 0)
		printf("%s: ok: exists\n", label);
	else if (strcmp(res.code, "NotFound") == 0 ||
	    strcmp(res.code, "NotFoundException") == 0)
		printf("%s: FAILED: topic %s does not exist (region %s): %s; "
		    "check sns.topic_arn (its region is part of the ARN) and "
		    "endpoints.sns\n", label, cfg->sns_topic_arn, cfg->region,
		    aws_strerror(&res));
	else
		failed(cfg, label, "sns GetTopicAttributes", resource, &res,
		    "check endpoints.sns");
	aws_result_free(&res);
	return r;
}

/* The lease table: reachable, and ACTIVE or absent (the lease helper
 * creates it on demand, which needs dynamodb:CreateTable). */
static int
check_leases(struct aws_ctx *ctx, const struct cfg *cfg)
{
	struct aws_result res;
	char label[300], resource[300], status[32];
	int r;

	snprintf(label, sizeof(label), "lease table %s", cfg->lease_table);
	snprintf(resource, sizeof(resource), "table %s", cfg->lease_table);
	aws_result_init(&res);
	r = ddb_describe_table(ctx, cfg->lease_table, status, sizeof(status),
	    &res);
	if (r == 0 && strcmp(status, "ACTIVE") == 0)
		printf("%s: ok: ACTIVE (worker_id %s)\n", label,
		    cfg->lease_worker_id);
	else if (r == 0)
		printf("%s: ok: %s (worker_id %s)\n", label, status,
		    cfg->lease_worker_id);
	else if (r == 1) {
		printf("%s: ok: does not exist yet; the keeper creates it "
		    "(on-demand billing, needs dynamodb:CreateTable)\n", label);
		r = 0;
	} else
		failed(cfg, label, "dynamodb DescribeTable", resource, &res,
		    "check leases.table, endpoints.dynamodb and the IAM policy");
	aws_result_free(&res);
	return r;
}

int
check_main(int argc, char *argv[])
{
	struct cfg cfg;
	struct cfg_errors errs;
	struct creds *creds;
	struct aws_ctx ctx;
	char **overrides = NULL;
	size_t nover = 0, i;
	int ch, bad = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "D:")) != -1) {
		switch (ch) {
		case 'D':
			overrides = xrealloc(overrides,
			    (nover + 1) * sizeof(char *));
			overrides[nover++] = optarg;
			break;
		default:
			check_usage();
			free(overrides);
			return EX_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		check_usage();
		free(overrides);
		return EX_FATAL;
	}
	/* the credential chain explains itself on stderr */
	log_init(LOG_TO_STDERR, 0, LOG_DAEMON);
	memset(&errs, 0, sizeof(errs));
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load(&cfg, argv[0], overrides, nover, 1, &errs, NULL) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		free(overrides);
		return EX_CONFIG_;
	}
	cfg_errors_free(&errs);
	free(overrides);
	printf("configuration OK\n");
	fflush(stdout);

	http_global_init();
	creds = creds_new(&cfg);
	if (aws_ctx_init(&ctx, &cfg, creds) == -1) {
		fprintf(stderr, "%s: bad endpoint\n", cfg.path);
		creds_free(creds);
		cfg_free(&cfg);
		return EX_CONFIG_;
	}
	ctx.interrupted = check_expired;
	aws_ctx_set_abort(&ctx, check_expired);
	/* every check runs, even after one failed: the operator sees all */
	check_deadline = now_ms() + CHECK_TIMEOUT_MS;
	bad |= check_identity(&ctx, &cfg, creds) != 0;
	fflush(stdout);
	check_deadline = now_ms() + CHECK_TIMEOUT_MS;
	bad |= check_stream(&ctx, &cfg) != 0;
	fflush(stdout);
	check_deadline = now_ms() + CHECK_TIMEOUT_MS;
	bad |= check_bucket(&ctx, &cfg) != 0;
	fflush(stdout);
	check_deadline = now_ms() + CHECK_TIMEOUT_MS;
	if (cfg.sns_topic_arn != NULL)
		bad |= check_topic(&ctx, &cfg) != 0;
	else
		printf("topic: ok: none configured (sns.topic_arn unset)\n");
	fflush(stdout);
	if (cfg.lease_table != NULL) {
		check_deadline = now_ms() + CHECK_TIMEOUT_MS;
		bad |= check_leases(&ctx, &cfg) != 0;
	}
	printf("%s\n", bad ? "some checks FAILED" : "all checks passed");
	aws_ctx_free(&ctx);
	creds_free(creds);
	cfg_free(&cfg);
	return bad ? EX_FATAL : EX_OK_;
}
