/*
 * check.h: "kinesis-keeper check config-file": what -n checks, then one
 * line per live check with the configured credentials (identity, stream,
 * bucket, topic), each failure naming the resource, region and the fix.
 */
#ifndef KK_CHECK_H
#define KK_CHECK_H

/* argv[0] is "check". Returns the exit status: 0 every check passed, 1
 * otherwise, 78 for a bad configuration. */
int	check_main(int argc, char *argv[]);

#endif
