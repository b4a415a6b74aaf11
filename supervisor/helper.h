/*
 * helper.h: the supervisor's network helpers (kinesis-keeper-worker -H ROLE):
 * topology (ListShards), notify (SNS Publish) and metrics (CloudWatch,
 * statsd). Each is one blocking process, so a hung call stalls only its role.
 */
#ifndef KK_HELPER_H
#define KK_HELPER_H

#define HELPER_PROGNAME	"kinesis-keeper-helper"	/* its argv[0] */

int	helper_main(int argc, char *argv[]);

#endif
