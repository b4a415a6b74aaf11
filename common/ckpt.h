/*
 * ckpt.h: the per-shard checkpoint {state_dir}/checkpoints/{shard} and the
 * per-shard lock {state_dir}/locks/{shard}. A checkpoint names the last
 * record whose object is in S3; it is replaced atomically, never edited.
 */
#ifndef KK_CKPT_H
#define KK_CKPT_H

#include <stdint.h>

#define SEQ_MAX		130	/* 128 digits and a NUL, with room */

struct ckpt {
	char		seq[SEQ_MAX];	/* "" if nothing archived yet */
	int		has_sub;	/* the batch ended inside an aggregate */
	uint64_t	sub;		/* ... after this user record */
	int		done;		/* shard end reached, everything archived */
	char		key[1024];	/* the last object's key (informational) */
};

/* 0 read, 1 no checkpoint yet, -1 unreadable or corrupt (logged). */
int	ckpt_read(const char *state_dir, const char *shard, struct ckpt *);
/* Atomic: temp file, fsync, rename, fsync of the directory. 0 or -1. */
int	ckpt_write(const char *state_dir, const char *shard, const struct ckpt *);
/* Compare a position (seq, has_sub, sub) to another. A position without sub
 * means "the whole record", which is after all of its sub-records. */
int	ckpt_pos_cmp(const char *seq_a, int has_sub_a, uint64_t sub_a,
	    const char *seq_b, int has_sub_b, uint64_t sub_b);
/* Try to take the shard lock (flock, close-on-exec). fd, or -1 with errno
 * EWOULDBLOCK if someone else holds it. */
int	ckpt_lock(const char *state_dir, const char *shard);

#endif
