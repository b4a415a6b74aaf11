/*
 * verify.h: `kinesis-keeper verify [-j] [--since TIME] [--deep] config`,
 * the proof that the archive in S3 is complete and consistent.
 */
#ifndef KK_VERIFY_H
#define KK_VERIFY_H

/* argv[0] is "verify". Returns the exit status: 0 complete and
 * consistent, 1 a problem (or S3/Kinesis unreachable), 78 bad config. */
int	verify_main(int argc, char *argv[]);

/* "2026-12-03", "2026-12-03T20:00:00Z" (optional .mmm), or an age such as
 * "90m", "24h", "7d" before now_ms. 0, or -1 if it is none of these. */
int	verify_parse_since(const char *s, int64_t now_ms, int64_t *ms);

#endif
