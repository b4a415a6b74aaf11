/*
 * log.c: logging to syslog or stderr (after OpenBSD ntpd log.c).
 * Not async-signal-safe: never call from a signal handler.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	log_dest = LOG_TO_STDERR;
static int	log_verbose;
static int	log_minprio = LOG_INFO;
static int	log_fac = LOG_DAEMON;
static char	log_proc[160];
static const char *log_ident = "kinesis-keeper";
static int	log_journal;	/* stderr is journald: "<prio>" prefixes */

void
log_init(int dest, int verbosity, int facility)
{
	log_dest = dest;
	log_verbose = verbosity;
	log_fac = facility;
	if (dest == LOG_TO_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	/* under systemd with -d, journald reads stderr: it keeps the priority
	 * of lines prefixed "<N>" (sd-daemon(3)) and adds its own time */
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		snprintf(log_proc, sizeof(log_proc), "%s: ", name);
	else
		log_proc[0] = '\0';
}

void
log_setfacility(int facility)
{
	if (facility == log_fac)
		return;
	log_fac = facility;
	if (log_dest == LOG_TO_SYSLOG) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
}

void
log_setlevel(int prio)
{
	log_minprio = prio;
}

static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
}, levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING }, { "error", LOG_ERR },
};

int
log_facility_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

int
log_level_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].value;
	return -1;
}

static void __attribute__((format(printf, 2, 0)))
vlog(int prio, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;

	/* -v shows everything; otherwise the configured level decides */
	if (log_verbose == 0 && prio > log_minprio)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest == LOG_TO_SYSLOG) {
		syslog(prio, "%s%s", log_proc, msg);
	} else if (log_journal) {
		fprintf(stderr, "<%d>%s[%d]: %s%s\n", prio, log_ident,
		    (int)getpid(), log_proc, msg);
		fflush(stderr);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%d]: %s%s\n", when,
		    ts.tv_nsec / 1000000, log_ident, (int)getpid(), log_proc,
		    msg);
		fflush(stderr);
	}
	errno = saved;
}

#define LOGFN(name, prio)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(prio, fmt, ap);				\
	va_end(ap);					\
}

LOGFN(log_warnx, LOG_WARNING)
LOGFN(log_info, LOG_INFO)
LOGFN(log_notice, LOG_NOTICE)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", buf, strerror(saved));
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fatalx("%s: %s", buf, strerror(saved));
}

static void __attribute__((noreturn, format(printf, 2, 0)))
vfatal(int code, const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_dest == LOG_TO_SYSLOG)
		syslog(LOG_CRIT, "%sfatal: %s", log_proc, buf);
	else if (log_journal)
		fprintf(stderr, "<%d>%s[%d]: %sfatal: %s\n", LOG_CRIT,
		    log_ident, (int)getpid(), log_proc, buf);
	else
		fprintf(stderr, "%s[%d]: %sfatal: %s\n", log_ident,
		    (int)getpid(), log_proc, buf);
	exit(code);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(1, fmt, ap);
	va_end(ap);
}

void
fatalx_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatal(code, fmt, ap);
	va_end(ap);
}
