/*
 * ckpt.h: the per-shard checkpoint {state_dir}/checkpoints/{shard} and the
 * per-shard lock {state_dir}/locks/{shard}. A checkpoint names the last
 * record whose object is in S3; it is replaced atomically, never edited.
 */
#ifndef KK_CKPT_H
#define KK_CKPT_H

#include <stdint.h>

#include "pos.h"

struct ckpt {
	struct pos	pos;		/* the last archived record, seq "" if
					 * none yet; has_sub: the batch ended
					 * inside an aggregate, after user
					 * record sub */
	int		done;		/* shard end reached, everything archived */
	char		key[1024];	/* the last object's key */
	char		sha256[65];	/* and its SHA-256: the chain's next
					 * link ("" in older checkpoints) */
};

/* 0 read, 1 no checkpoint yet, -1 unreadable or corrupt (logged). */
int	ckpt_read(const char *state_dir, const char *shard, struct ckpt *);
/* Atomic: temp file, fsync, rename, fsync of the directory. 0 or -1. */
int	ckpt_write(const char *state_dir, const char *shard, const struct ckpt *);
/* Move an unreadable checkpoint aside, to checkpoints/{shard}.bad-{time},
 * so the shard can resume from the archive and the file stays for a
 * post-mortem. The new path goes to out. 0 or -1. */
int	ckpt_set_aside(const char *state_dir, const char *shard, char *out,
	    size_t outlen);
/* Try to take the shard lock (flock, close-on-exec). fd, or -1 with errno
 * EWOULDBLOCK if someone else holds it. */
int	ckpt_lock(const char *state_dir, const char *shard);

#endif
