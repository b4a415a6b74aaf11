/*
 * cfg_dump.c: the configuration printed back (kinesis-keeper -n) in the
 * file's own syntax, secrets left out, and the list of every key.
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

void
cfg_list_keys(FILE *fp)
{
	size_t i;

	for (i = 0; i < cfg_nkeys; i++)
		fprintf(fp, "%s\n", cfg_keys[i].name);
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
		dump_string(fp, *(char *const *)cfg_cfield(c, k));
		break;
	case K_BOOL:
		fputs(*(const int *)cfg_cfield(c, k) ? "true" : "false", fp);
		break;
	case K_INT:
		fprintf(fp, "%d", *(const int *)cfg_cfield(c, k));
		break;
	case K_COUNT:
		/* libconfig 1.5 needs the L beyond 32 bits */
		u = *(const uint64_t *)cfg_cfield(c, k);
		fprintf(fp, "%llu%s", (unsigned long long)u, u > INT_MAX ?
		    "L" : "");
		break;
	case K_SIZE:
	case K_DURATION:
		cfg_fmt_num(k, *(const uint64_t *)cfg_cfield(c, k), tmp, sizeof(tmp));
		fprintf(fp, "\"%s\"", tmp);
		break;
	case K_ENUM:
		v = *(const int *)cfg_cfield(c, k);
		for (n = k->names; n->name != NULL; n++)
			if (n->value == v)
				break;
		dump_string(fp, n->name != NULL ? n->name : "?");
		break;
	case K_TIMESTAMP:
		fmt_iso8601_ms(*(const int64_t *)cfg_cfield(c, k), tmp,
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
		return *(char *const *)cfg_cfield(c, k) != NULL;
	if (k->type == K_TIMESTAMP)
		return c->start_position == START_AT_TIMESTAMP;
	/* compression "none" takes no level */
	if (k->off == offsetof(struct cfg, format_level))
		return c->format_compression != COMPRESSION_NONE;
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
	for (i = 0; i < cfg_nkeys; i++) {
		const struct key *k = &cfg_keys[i];

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
			/* an absent cloudwatch, statsd or leases group means
			 * "off" */
			off = (strncmp(grp, "cloudwatch.", 11) == 0 &&
			    !c->cw_enabled) ||
			    (strncmp(grp, "statsd.", 7) == 0 &&
			    c->statsd_host == NULL) ||
			    (strncmp(grp, "leases.", 7) == 0 &&
			    c->lease_table == NULL);
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
