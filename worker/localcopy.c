/*
 * localcopy.c: a shard's local copies, oldest first, in a ring of names read
 * from the directory once: each flush costs one write and at most a few
 * unlinks, whatever local.keep is (up to 10^6), never a directory scan.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "localcopy.h"
#include "log.h"
#include "util.h"

struct found {
	char		*name;
	struct timespec	 t;
};

void
lc_init(struct localcopy *lc, const char *dir, size_t keep)
{
	memset(lc, 0, sizeof(*lc));
	lc->dir = xstrdup(dir);
	lc->keep = keep;
}

void
lc_free(struct localcopy *lc)
{
	size_t i;

	for (i = 0; i < lc->n; i++)
		free(lc->ring[(lc->head + i) % lc->cap]);
	free(lc->ring);
	free(lc->dir);
	memset(lc, 0, sizeof(*lc));
}

static void
push(struct localcopy *lc, char *name)
{
	char **r;
	size_t i, cap;

	if (lc->n == lc->cap) {
		cap = lc->cap ? lc->cap * 2 : 16;
		r = xcalloc(cap, sizeof(*r));
		for (i = 0; i < lc->n; i++)
			r[i] = lc->ring[(lc->head + i) % lc->cap];
		free(lc->ring);
		lc->ring = r;
		lc->cap = cap;
		lc->head = 0;
	}
	lc->ring[(lc->head + lc->n) % lc->cap] = name;
	lc->n++;
}

static int
older(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->t.tv_sec != y->t.tv_sec)
		return x->t.tv_sec < y->t.tv_sec ? -1 : 1;
	if (x->t.tv_nsec != y->t.tv_nsec)
		return x->t.tv_nsec < y->t.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The copies of earlier runs, oldest first: the only directory scan. */
static void
load(struct localcopy *lc)
{
	struct found *f = NULL;
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, i;
	DIR *d;

	lc->loaded = 1;
	if ((d = opendir(lc->dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("local copies %s", lc->dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			f = xrealloc(f, cap * sizeof(*f));
		}
		f[n].name = xstrdup(de->d_name);
		f[n++].t = st.st_mtim;
	}
	closedir(d);
	if (n > 0)
		qsort(f, n, sizeof(*f), older);
	for (i = 0; i < n; i++)
		push(lc, f[i].name);
	free(f);
}

size_t
lc_count(const struct localcopy *lc)
{
	return lc->n;
}

size_t
lc_prune(struct localcopy *lc, size_t keep)
{
	char path[PATH_MAX];
	size_t gone = 0;
	char *name;

	if (!lc->loaded)
		load(lc);
	while (lc->n > keep) {
		name = lc->ring[lc->head];
		lc->head = (lc->head + 1) % lc->cap;
		lc->n--;
		snprintf(path, sizeof(path), "%s/%s", lc->dir, name);
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("remove old local copy %s", path);
		free(name);
		gone++;
	}
	return gone;
}

int
lc_store(struct localcopy *lc, const char *name, const void *data,
    size_t len)
{
	char path[PATH_MAX];
	size_t last;

	if (lc->keep == 0)
		return 0;
	if (!lc->loaded)
		load(lc);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", lc->dir, name) >=
	    sizeof(path)) {
		log_warnx("local copy %s/%s: name too long", lc->dir, name);
		return -1;
	}
	/* the same batch again (a restart re-read it): replaced in place */
	if (lc->n > 0) {
		last = (lc->head + lc->n - 1) % lc->cap;
		if (strcmp(lc->ring[last], name) == 0) {
			free(lc->ring[last]);
			lc->n--;
		}
	}
	/* room first: the copy about to be written may need it */
	lc_prune(lc, lc->keep - 1);
	if (write_file_atomic(path, data, len, 0640) == -1) {
		if (errno == ENOSPC || errno == EDQUOT) {
			/* the outbox and the checkpoint come next and matter:
			 * they get the room the copies held */
			log_warnx("local copy %s: no space left; dropping the "
			    "%zu local copies of this shard", path, lc->n);
			lc_prune(lc, 0);
		} else
			log_warn("local copy %s", path);
		return -1;
	}
	push(lc, xstrdup(name));
	return 0;
}
