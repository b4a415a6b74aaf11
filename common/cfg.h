/*
 * cfg.h: the configuration of one keeper instance (kinesis-keeper.conf(5)).
 * Parsed with libconfig into one struct with every default filled in; all
 * errors are collected as "file:line: message" before anything starts.
 */
#ifndef KK_CFG_H
#define KK_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_start {
	START_TRIM_HORIZON,
	START_LATEST,
	START_AT_TIMESTAMP
};

enum cfg_format {
	FORMAT_JSONL,
	FORMAT_RAW
};

enum cfg_compression {
	COMPRESSION_GZIP,
	COMPRESSION_NONE,
	COMPRESSION_ZSTD
};

/* batch.max_partitions at most; {json:PATH} placeholders in s3.key at most,
 * and the longest PATH */
#define CFG_MAX_PARTITIONS	1000
#define CFG_MAX_JSON_KEYS	8
#define CFG_MAX_JSON_PATH	200
/* leases.worker_id at most (it travels in fixed message fields) */
#define CFG_WORKER_ID_MAX	100

/* format.level: the range of each engine, and its default when unset */
#define CFG_GZIP_LEVEL_MIN	1
#define CFG_GZIP_LEVEL_MAX	12
#define CFG_GZIP_LEVEL_DEFAULT	6
#define CFG_ZSTD_LEVEL_MIN	1
#define CFG_ZSTD_LEVEL_MAX	19
#define CFG_ZSTD_LEVEL_DEFAULT	1

enum cfg_sse {
	SSE_NONE,
	SSE_AES256,
	SSE_KMS
};

struct cfg {
	char		*path;		/* the file it came from */

	char		*stream;	/* required */
	char		*region;	/* default $AWS_REGION, $AWS_DEFAULT_REGION; none is an error */
	char		*state_dir;	/* required */

	/* endpoints: NULL means the AWS default for the region */
	char		*ep_kinesis;
	char		*ep_s3;
	char		*ep_sns;
	char		*ep_cloudwatch;
	char		*ep_sts;
	char		*ep_dynamodb;

	/* credentials (all optional) */
	char		*cred_access_key_id;
	char		*cred_secret_access_key;
	char		*cred_session_token;
	char		*cred_profile;
	char		*cred_role_arn;
	char		*cred_external_id;
	char		*cred_session_name;	/* default "kinesis-keeper" */

	enum cfg_start	 start_position;	/* default TRIM_HORIZON */
	int64_t		 start_timestamp_ms;	/* epoch ms, AT_TIMESTAMP only */

	uint64_t	 read_interval_ms;	/* 1s */
	int		 read_max_records;	/* 10000, 1..10000 */
	int		 read_other_readers;	/* 0, 0..100 */
	int		 read_calls_per_sec;	/* 5: the shard's GetRecords limit */
	uint64_t	 read_bytes_per_sec;	/* 2M: the shard's read limit */

	uint64_t	 topology_refresh_ms;	/* 60s */

	uint64_t	 batch_max_records;	/* 500000 */
	uint64_t	 batch_max_bytes;	/* 64M */
	uint64_t	 batch_max_age_ms;	/* 5m */
	int		 batch_max_partitions;	/* 16: objects open per batch */

	char		*s3_bucket;		/* required */
	char		*s3_prefix;		/* "" */
	char		*s3_key;		/* template, default in cfg.c */
	int		 s3_path_style;		/* 0 */
	char		*s3_storage_class;	/* "STANDARD" */
	enum cfg_sse	 s3_sse;		/* SSE_NONE */
	char		*s3_kms_key_id;		/* only with aws:kms */
	uint64_t	 s3_multipart_threshold;	/* 64M */
	uint64_t	 s3_part_size;		/* 16M, >= 5M */

	enum cfg_format		format_type;	/* FORMAT_JSONL */
	enum cfg_compression	format_compression;	/* COMPRESSION_GZIP */
	int			format_level;	/* gzip 6 (1..12), zstd 1 (1..19) */
	int			format_deaggregate;	/* 1 */

	int		 local_keep;		/* 10, >= 0 */

	char		*sns_topic_arn;		/* NULL: no notifications */

	int		 cw_enabled;		/* the cloudwatch group is present */
	char		*cw_namespace;		/* "KinesisKeeper" */
	uint64_t	 cw_interval_ms;	/* 60s */

	char		*statsd_host;		/* NULL: statsd off */
	int		 statsd_port;		/* 8125 */
	char		*statsd_prefix;		/* "kinesis_keeper." */

	int		 log_facility;		/* LOG_DAEMON */
	int		 log_level;		/* LOG_INFO (syslog priority) */

	uint64_t	 restart_min_ms;	/* 1s */
	uint64_t	 restart_max_ms;	/* 60s */
	uint64_t	 shutdown_timeout_ms;	/* 30s */
	int		 workers_max;		/* 0: no cap */

	char		*tls_ca_file;		/* NULL: $AWS_CA_BUNDLE, else system */

	/* leases (several keepers, one stream): off when lease_table is NULL */
	char		*lease_table;
	char		*lease_worker_id;	/* default: the host name */
	uint64_t	 lease_duration_ms;	/* 10s, >= 3s */
	int		 lease_max_shards;	/* 0: no cap */
};

/* Collected error lines, each "file:line: message". */
struct cfg_errors {
	char	**msgs;
	size_t	  n;
};

/*
 * Parse configuration text (as read from path; path is used in messages and
 * to resolve @include) and apply overrides ("key=value" with dotted keys,
 * e.g. "batch.max_age=10s"). Returns 0 and fills cfg, or -1 with every
 * problem appended to errs. check_dirs != 0 also checks that state_dir is
 * (or can be created as) a writable directory and tls.ca_file is readable.
 * cfg is overwritten, not freed first; after -1 it is all zero.
 */
int	cfg_parse(struct cfg *, const char *path, const char *text,
	    char *const *overrides, size_t noverrides, int check_dirs,
	    struct cfg_errors *);
/* Read the file (at most 1 MiB) and cfg_parse it; text_out (optional)
 * receives the file text for handing to workers. */
int	cfg_load(struct cfg *, const char *path, char *const *overrides,
	    size_t noverrides, int check_dirs, struct cfg_errors *,
	    char **text_out);
void	cfg_free(struct cfg *);
void	cfg_errors_free(struct cfg_errors *);
/* The effective configuration in config syntax, secrets shown as "(set)". */
void	cfg_dump(const struct cfg *, FILE *);
/* Every setting name the parser accepts, dotted ("batch.max_age"), one per
 * line: for the documentation check. */
void	cfg_list_keys(FILE *);

/* Units: "64M", "512k", "1G", plain bytes; "250ms", "10s", "5m", "1h",
 * plain seconds. Return 0 or -1. */
int	cfg_parse_size(const char *, uint64_t *);
int	cfg_parse_duration(const char *, uint64_t *ms);

#endif
