/*
 * cfg_file.c: from text to struct cfg: errors collected with file:line,
 * one value stored by its key's type, the libconfig tree walked, -D
 * overrides applied.
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

static void	vperr(struct pctx *, const struct origin *, const struct key *,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));

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
		/* the command line: the -D argument says which key, and its
		 * value only if it is a known setting that is no secret (a
		 * misspelt secret_access_key must not reach syslog) */
		const char *eq = o->ovr != NULL ? strchr(o->ovr, '=') : NULL;
		const struct key *dk = NULL;
		char *name;

		if (eq != NULL) {
			name = xstrndup(o->ovr, (size_t)(eq - o->ovr));
			dk = cfg_find_key(name, NULL);
			free(name);
		}
		e->rank = 2;
		if (eq == NULL || (dk != NULL && !(dk->flags & KF_SECRET)))
			xasprintf(&e->msg, "-D %s: %s", o->ovr != NULL ?
			    o->ovr : "?", msg ? msg : "?");
		else
			xasprintf(&e->msg, "-D %.*s=(not shown): %s",
			    (int)(eq - o->ovr), o->ovr, msg ? msg : "?");
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

void
cfg_perr(struct pctx *p, const struct origin *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(p, o, NULL, fmt, ap);
	va_end(ap);
}

/* An error about one key's value: the key name leads unless -D named it. */
void
cfg_kerr(struct pctx *p, const struct origin *o, const struct key *k,
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
void
cfg_flush_errors(struct pctx *p, struct cfg_errors *errs)
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
	char **f = cfg_field(c, k);

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
	cfg_fmt_num(k, v, a, sizeof(a));
	cfg_fmt_num(k, k->min, lo, sizeof(lo));
	cfg_fmt_num(k, k->max, hi, sizeof(hi));
	cfg_kerr(p, o, k, "%s out of range (%s..%s)", a, lo, hi);
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
			cfg_kerr(p, o, k, "must not be empty");
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
			cfg_kerr(p, o, k, "%s", why);
			return -1;
		}
		set_string(c, k, v->s);
		return 0;
	case K_ENUM:
		if (v->kind != V_STRING)
			break;
		if ((n = find_name(k->names, v->s)) == NULL)
			goto badname;
		*(int *)cfg_field(c, k) = n->value;
		return 0;
	case K_BOOL:
		if (v->kind != V_BOOL)
			break;
		*(int *)cfg_field(c, k) = v->b != 0;
		return 0;
	case K_INT:
	case K_COUNT:
		if (v->kind != V_INT)
			break;
		if (v->i < 0) {
			cfg_kerr(p, o, k, "%lld out of range (%llu..%llu)", v->i,
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return -1;
		}
		if (!range_ok(p, o, k, (uint64_t)v->i))
			return -1;
		if (k->type == K_INT)
			*(int *)cfg_field(c, k) = (int)v->i;
		else
			*(uint64_t *)cfg_field(c, k) = (uint64_t)v->i;
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
				cfg_kerr(p, o, k, "invalid %s \"%s\"", k->type ==
				    K_SIZE ? "size" : "duration", tmp);
				return -1;
			}
		} else if (v->kind == V_STRING) {
			if ((k->type == K_SIZE ? cfg_parse_size(v->s, &u) :
			    cfg_parse_duration(v->s, &u)) == -1) {
				cfg_kerr(p, o, k, "invalid %s \"%s\"", k->type ==
				    K_SIZE ? "size" : "duration", v->s);
				return -1;
			}
		} else
			break;
		if (!range_ok(p, o, k, u))
			return -1;
		*(uint64_t *)cfg_field(c, k) = u;
		return 0;
	case K_TIMESTAMP:
		if (v->kind == V_INT) {
			if (v->i < 0 || v->i > INT64_MAX / 1000) {
				cfg_kerr(p, o, k, "invalid timestamp \"%lld\"",
				    v->i);
				return -1;
			}
			ts = (int64_t)v->i * 1000;
		} else if (v->kind == V_STRING) {
			const char *s = v->s;

			if (cfg_parse_u64(&s, &u) == 0 && *s == '\0' &&
			    u <= INT64_MAX / 1000)
				ts = (int64_t)u * 1000;
			else if (cfg_parse_iso8601(v->s, &ts) == -1) {
				cfg_kerr(p, o, k, "invalid timestamp \"%s\" "
				    "(expected 2026-11-27T00:00:00Z or epoch "
				    "seconds)", v->s);
				return -1;
			}
		} else
			break;
		*(int64_t *)cfg_field(c, k) = ts;
		return 0;
	}
	cfg_kerr(p, o, k, "expected %s, got %s", ktype_name(k->type),
	    vkind_name(v->kind));
	return -1;
badname:
	buf_init(&b);
	names_list(k->names, &b);
	cfg_kerr(p, o, k, "invalid value \"%s\" (expected %s)", v->s, b.data);
	buf_free(&b);
	return -1;
}

/*
 * Text from the command line (or a default) takes the key's type: "10"
 * is an integer for read.max_records but a string for s3.prefix.
 */
int
cfg_store_text(struct pctx *p, const struct key *k, const struct origin *o,
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
			cfg_kerr(p, o, k, "invalid integer \"%s\"", text);
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
			cfg_kerr(p, o, k, "invalid boolean \"%s\" (expected true "
			    "or false)", text);
			return -1;
		}
		v.kind = V_BOOL;
	}
	return store(p, k, o, &v);
}

/* ---- @include ---- */

/*
 * Every @include is expanded here, once, into one text; libconfig never
 * opens a file. The supervisor validates that text, compares it on reload
 * and hands it to the workers, so a worker never runs with an include the
 * supervisor did not check. Each line of the text keeps its file and line
 * for the messages.
 */

/* A file name for messages, kept until the end of the parse. */
static const char *
intern(struct pctx *p, char *name)
{
	size_t i;

	for (i = 0; i < p->nnames; i++)
		if (strcmp(p->names[i], name) == 0) {
			free(name);
			return p->names[i];
		}
	p->names = xrealloc(p->names, (p->nnames + 1) * sizeof(*p->names));
	p->names[p->nnames++] = name;
	return name;
}

static void
add_line(struct pctx *p, struct buf *out, const char *s, size_t len,
    const char *file, int line)
{
	if (p->nlines == p->lcap) {
		p->lcap = p->lcap ? p->lcap * 2 : 64;
		p->lfile = xrealloc(p->lfile, p->lcap * sizeof(*p->lfile));
		p->lline = xrealloc(p->lline, p->lcap * sizeof(*p->lline));
	}
	p->lfile[p->nlines] = file;
	p->lline[p->nlines++] = line;
	buf_add(out, s, len);
	buf_addc(out, '\n');
}

/* "@include "name"" alone on its line (a comment may follow), as libconfig
 * reads it: 1 with the name, else 0. */
static int
include_line(const char *s, size_t len, const char **name, size_t *nlen)
{
	const char *e = s + len, *q;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	if ((size_t)(e - s) < 8 || strncmp(s, "@include", 8) != 0)
		return 0;
	for (s += 8; s < e && (*s == ' ' || *s == '\t'); s++)
		;
	if (s == e || *s != '"' || (q = memchr(s + 1, '"', (size_t)(e - s -
	    1))) == NULL)
		return 0;
	*name = s + 1;
	*nlen = (size_t)(q - s - 1);
	for (q++; q < e && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
		;
	return q == e || *q == '#' || (q + 1 < e && q[0] == '/' &&
	    q[1] == '/');
}

/*
 * Whether a block comment is open at the end of a line, given whether one
 * was at its start: libconfig reads @include only outside comments (and a
 * string never spans lines).
 */
static int
comment_after(const char *s, size_t len, int open)
{
	const char *e = s + len;

	while (s < e) {
		if (open) {
			if (s + 1 < e && s[0] == '*' && s[1] == '/') {
				open = 0;
				s += 2;
			} else
				s++;
		} else if (*s == '"') {
			for (s++; s < e && *s != '"'; s++)
				if (*s == '\\' && s + 1 < e)
					s++;
			if (s < e)
				s++;
		} else if (*s == '#' || (s + 1 < e && s[0] == '/' &&
		    s[1] == '/'))
			return 0;
		else if (s + 1 < e && s[0] == '/' && s[1] == '*') {
			open = 1;
			s += 2;
		} else
			s++;
	}
	return open;
}

static int
expand(struct pctx *p, struct buf *out, const char *text, const char *file,
    int depth)
{
	const char *s = text, *nl, *name;
	struct origin o;
	struct buf b;
	size_t len, nlen;
	char *path;
	int line = 0, r = 0, incomment = 0;

	while (*s != '\0') {
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		line++;
		if (incomment || !include_line(s, len, &name, &nlen)) {
			add_line(p, out, s, len, file, line);
			incomment = comment_after(s, len, incomment);
			s += len + (nl != NULL);
			continue;
		}
		s += len + (nl != NULL);
		memset(&o, 0, sizeof(o));
		o.file = file;
		o.line = line;
		/* relative names are beside the main file, as in libconfig */
		if (*name == '/' || p->dir == NULL)
			path = xstrndup(name, nlen);
		else
			xasprintf(&path, "%s/%.*s", p->dir, (int)nlen, name);
		if (depth >= CFG_MAX_DEPTH) {
			cfg_perr(p, &o, "@include nested too deep (max %d)",
			    CFG_MAX_DEPTH);
			free(path);
			return -1;
		}
		buf_init(&b);
		if (read_file(path, &b, CFG_MAX_FILE) == -1) {
			if (errno == ENOENT)
				cfg_perr(p, &o, "cannot open include file");
			else if (errno == EINVAL || errno == EISDIR)
				cfg_perr(p, &o, "cannot open include file: "
				    "not a regular file");
			else
				cfg_perr(p, &o, "cannot open include file: %s",
				    strerror(errno));
			r = -1;
		} else if (memchr(b.data, '\0', b.len) != NULL) {
			cfg_perr(p, &o, "include file is not a text file "
			    "(NUL byte)");
			r = -1;
		} else {
			const char *f = intern(p, path);

			path = NULL;	/* p->names owns it now */
			if (expand(p, out, b.data, f, depth + 1) == -1)
				r = -1;
		}
		free(path);
		buf_free(&b);
		if (r == -1)
			return -1;
		if (out->len > CFG_MAX_FILE) {
			cfg_perr(p, &o, "configuration too large with its "
			    "includes (max 1M)");
			return -1;
		}
	}
	return 0;
}

/* The text with its includes in place, or -1 (reported). */
int
cfg_expand(struct pctx *p, const char *text, struct buf *out)
{
	return expand(p, out, text, p->path, 0);
}

/* Where line (of the expanded text) came from. */
void
cfg_line_origin(const struct pctx *p, int line, struct origin *o)
{
	if (line >= 1 && (size_t)line <= p->nlines) {
		o->file = p->lfile[line - 1];
		o->line = p->lline[line - 1];
	} else {
		o->file = p->path;
		o->line = line;
	}
}

/* ---- the file ---- */

static void
setting_origin(const struct pctx *p, const config_setting_t *s,
    struct origin *o)
{
	cfg_line_origin(p, (int)config_setting_source_line(s), o);
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
void
cfg_scan_wide_ints(struct pctx *p, const char *t)
{
	struct origin o;
	const char *s;
	int line = 1;

	memset(&o, 0, sizeof(o));
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
			cfg_line_origin(p, line, &o);
			cfg_perr(p, &o, "integer %.*s is too large (write %.*sL, "
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
	const struct key *k = &cfg_keys[idx];
	struct origin *o = &p->org[idx];
	struct val v;

	memset(o, 0, sizeof(*o));
	setting_origin(p, s, o);
	o->set = 1;
	memset(&v, 0, sizeof(v));
	v.kind = setting_kind(s);
	if (v.kind == V_INT && wide_line(p, config_setting_source_line(s))) {
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
		if (cfg_find_key(dotted, &idx) != NULL)
			take(p, idx, s);
		else {
			memset(&o, 0, sizeof(o));
			setting_origin(p, s, &o);
			cfg_perr(p, &o, "unknown setting \"%s\"", dotted);
		}
		free(dotted);
	}
}

void
cfg_walk(struct pctx *p, config_setting_t *root)
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
		setting_origin(p, s, &o);
		o.set = 1;
		if (cfg_is_group(name)) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				cfg_perr(p, &o, "%s: expected a group, got %s",
				    name, vkind_name(setting_kind(s)));
				continue;
			}
			cfg_add_group(p, name, &o);
			walk_group(p, s);
		} else if (cfg_find_key(name, &idx) != NULL)
			take(p, idx, s);
		else
			cfg_perr(p, &o, "unknown setting \"%s\"", name);
	}
}

/* ---- command line ---- */

void
cfg_apply_override(struct pctx *p, const char *arg)
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
		cfg_perr(p, &o, "expected key=value");
		return;
	}
	name = xstrndup(arg, (size_t)(eq - arg));
	if ((k = cfg_find_key(name, &idx)) == NULL) {
		cfg_perr(p, &o, "unknown setting \"%s\"", name);
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
	if (cfg_store_text(p, k, &o, val) == -1)
		p->org[idx].bad = 1;
	cfg_add_group(p, k->name, &o);
	free(val);
}
