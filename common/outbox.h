/*
 * outbox.h: durable notifications. The worker writes an entry for each
 * object BEFORE it stores the checkpoint; the supervisor publishes only the
 * entries the checkpoint covers, then removes them. So a batch whose
 * checkpoint advanced is always announced (at least once), and an entry left
 * by a crash before the checkpoint is never announced: the re-read batch
 * rewrites it under the same name (the name is the batch's first record).
 */
#ifndef KK_OUTBOX_H
#define KK_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"

/* Write {state_dir}/outbox/{shard}/{first}.json atomically; name_out (if not
 * NULL) receives the file name. 0 or -1 with errno. */
int	outbox_put(const char *state_dir, const char *shard,
	    const struct pos *first, const struct pos *last,
	    const char *message, char *name_out, size_t name_len);

/* Publish callback: 0 if published, -1 to stop draining (kept for later). */
typedef int (*outbox_publish_fn)(void *arg, const char *shard,
    const char *message);

/*
 * Publish, in shard order, every entry of the shard that its checkpoint
 * covers, removing each after it is published. Returns the number of
 * committed entries still pending (0: all announced), -1 on I/O error.
 */
int	outbox_drain(const char *state_dir, const char *shard,
	    outbox_publish_fn, void *arg);
/* Number of entries of the shard (committed or not) present. */
int	outbox_count(const char *state_dir, const char *shard);

#endif
