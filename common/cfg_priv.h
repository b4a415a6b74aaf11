/*
 * cfg_priv.h: what the files of the configuration loader share (cfg.c the
 * schema and entry points, cfg_file.c values and the libconfig tree,
 * cfg_units.c sizes, durations and ISO 8601, cfg_check.c value and cross
 * checks, cfg_dump.c the -n output). Not for use outside common/cfg*.c.
 */
#ifndef KK_CFG_PRIV_H
#define KK_CFG_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "cfg.h"

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
#define KF_SECRET	0x02	/* never printed: not by cfg_dump, not in an
				 * error about a -D argument */

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

#define CFG_MAX_FILE	(1024 * 1024)	/* a file, and the expanded text */
#define CFG_MAX_DEPTH	10		/* @include in @include, as libconfig */

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

struct buf;

struct pctx {
	struct cfg	*cfg;
	const char	*path;
	char		*dir;		/* of path, for @include names */
	struct origin	*org;		/* one per key, by index */
	struct origin	 line1;		/* "missing" and environment errors */
	char		**names;	/* include file names we made */
	size_t		 nnames;
	int		*wide;		/* lines with a wrapped integer */
	size_t		 nwide;
	/* the text with every @include expanded: each line's origin */
	const char	**lfile;
	int		*lline;
	size_t		 nlines, lcap;
	struct perr	*errs;
	size_t		 nerrs;
	/* groups present (by name); only a few exist */
	struct {
		char		*name;
		struct origin	 o;
	}		 grp[32];
	size_t		 ngrp;
};

/* cfg.c: the schema */
extern const struct key	cfg_keys[];
extern const size_t	cfg_nkeys;

void		*cfg_field(struct cfg *, const struct key *);
const void	*cfg_cfield(const struct cfg *, const struct key *);
const struct key *cfg_find_key(const char *, size_t *);
int		 cfg_is_group(const char *);
struct origin	*cfg_group_origin(struct pctx *, const char *, size_t);
void		 cfg_add_group(struct pctx *, const char *,
		    const struct origin *);

/* cfg_file.c: errors, values, the libconfig tree, -D */
void	cfg_perr(struct pctx *, const struct origin *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	cfg_kerr(struct pctx *, const struct origin *, const struct key *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
void	cfg_flush_errors(struct pctx *, struct cfg_errors *);
int	cfg_store_text(struct pctx *, const struct key *,
	    const struct origin *, const char *);
int	cfg_expand(struct pctx *, const char *, struct buf *);
void	cfg_line_origin(const struct pctx *, int, struct origin *);
void	cfg_scan_wide_ints(struct pctx *, const char *);
void	cfg_walk(struct pctx *, config_setting_t *);
void	cfg_apply_override(struct pctx *, const char *);

/* cfg_units.c */
int	cfg_parse_u64(const char **, uint64_t *);
int	cfg_parse_iso8601(const char *, int64_t *);
void	cfg_fmt_size(uint64_t, char *, size_t);
void	cfg_fmt_duration(uint64_t, char *, size_t);
void	cfg_fmt_num(const struct key *, uint64_t, char *, size_t);

/* cfg_check.c: one value (the schema's check column), then the whole */
int	check_stream(const char *, char *, size_t);
int	check_region(const char *, char *, size_t);
int	check_url(const char *, char *, size_t);
int	check_arn(const char *, char *, size_t);
int	check_session_name(const char *, char *, size_t);
int	check_bucket(const char *, char *, size_t);
int	check_prefix(const char *, char *, size_t);
int	check_key(const char *, char *, size_t);
int	check_namespace(const char *, char *, size_t);
int	check_statsd_prefix(const char *, char *, size_t);
int	check_host(const char *, char *, size_t);
int	check_table(const char *, char *, size_t);
int	check_worker_id(const char *, char *, size_t);
void	cfg_check_all(struct pctx *, int);

#endif
