/*
 * status.h: "kinesis-keeper status [-j] config-file": where every shard
 * stands, read from state_dir (status.json, checkpoints/, outbox/) with or
 * without a running keeper, never taking anything the keeper waits on.
 */
#ifndef KK_STATUS_H
#define KK_STATUS_H

/* argv[0] is "status". Returns the exit status: 0 every shard healthy,
 * 1 otherwise, 78 for a bad configuration. */
int	status_main(int argc, char *argv[]);

#endif
