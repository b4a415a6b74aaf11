/*
 * log.h: the one logging API of kinesis-keeper (after OpenBSD ntpd log.c).
 * Messages go to syslog (LOG_PID, configured facility) or to stderr with -d.
 * Lowercase, no trailing period: "what: object: reason".
 */
#ifndef KK_LOG_H
#define KK_LOG_H

#include <stdarg.h>

#define LOG_TO_SYSLOG	0
#define LOG_TO_STDERR	1

/* verbosity: 0 = info and above, 1 or more = debug too */
void	log_init(int dest, int verbosity, int facility);
void	log_procinit(const char *name);	/* "worker shardId-..." prefix */
void	log_setfacility(int facility);
int	log_facility_from_name(const char *name);	/* -1 if unknown */
/* level: "debug", "info", "notice", "warning", "error" -> minimum priority */
int	log_level_from_name(const char *name);		/* -1 if unknown */
void	log_setlevel(int priority);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
/* like fatalx but with a chosen exit code (e.g. 78 for configuration) */
void	fatalx_code(int code, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif
