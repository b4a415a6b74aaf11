/*
 * localcopy.h: the last local.keep objects of a shard, byte for byte, in
 * {state_dir}/batches/{shard}/. The copies are expendable: they never stop
 * archiving, and they give their room to the outbox and the checkpoint.
 */
#ifndef KK_LOCALCOPY_H
#define KK_LOCALCOPY_H

#include <stddef.h>

struct localcopy {
	char	*dir;
	size_t	 keep;
	int	 loaded;	/* the directory was read once */
	char	**ring;		/* names, oldest first, from head */
	size_t	 head, n, cap;
};

void	lc_init(struct localcopy *, const char *dir, size_t keep);
void	lc_free(struct localcopy *);
/*
 * Store one copy under name (one path component): first the oldest copies
 * beyond keep - 1 are removed, then the copy is written. 0, or -1 after a
 * warning (the copy is missing; archiving goes on). Without room, every copy
 * of the shard is dropped so the outbox and the checkpoint can be written.
 */
int	lc_store(struct localcopy *, const char *name, const void *data,
	    size_t len);
/* Remove the oldest copies until at most keep are left; how many went. */
size_t	lc_prune(struct localcopy *, size_t keep);
/* The number of copies known (after the first lc_store or lc_prune). */
size_t	lc_count(const struct localcopy *);

#endif
