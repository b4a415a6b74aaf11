/*
 * cfg_units.c: the units of kinesis-keeper.conf(5): sizes (64M), durations
 * (250ms, 5m) and ISO 8601 timestamps, parsed and printed back.
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

/* ---- units ---- */

int
cfg_parse_u64(const char **sp, uint64_t *out)
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

	if (s == NULL || cfg_parse_u64(&s, &v) == -1)
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

	if (s == NULL || cfg_parse_u64(&s, &v) == -1)
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

void
cfg_fmt_size(uint64_t v, char *out, size_t len)
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

void
cfg_fmt_duration(uint64_t ms, char *out, size_t len)
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

void
cfg_fmt_num(const struct key *k, uint64_t v, char *out, size_t len)
{
	if (k->type == K_SIZE)
		cfg_fmt_size(v, out, len);
	else if (k->type == K_DURATION)
		cfg_fmt_duration(v, out, len);
	else
		snprintf(out, len, "%llu", (unsigned long long)v);
}

/*
 * "2026-11-27T00:00:00Z", optionally with milliseconds and a "+01:00"
 * offset instead of Z; a timestamp without a zone would be ambiguous.
 */
int
cfg_parse_iso8601(const char *s, int64_t *ms)
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
