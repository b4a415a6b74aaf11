/*
 * test_localcopy.c: worker/localcopy.c. The newest local.keep copies stay,
 * copies of earlier runs count, a rewritten batch is not counted twice, a
 * flush costs no directory scan (local.keep up to 10^6), and a full disk
 * drops the copies instead of stopping the archive (issue 12 items 5, 15).
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "localcopy.h"
#include "t.h"
#include "util.h"

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static size_t
files_in(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
has(const char *dir, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void
plant(const char *dir, const char *name, time_t mtime)
{
	char p[PATH_MAX];
	struct timespec ts[2];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (write_file_atomic(p, "old", 3, 0640) == -1)
		T_OK(0, "write %s: %s", p, strerror(errno));
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, p, ts, 0);
}

static void
test_keep(const char *base)
{
	struct localcopy lc;
	char dir[PATH_MAX], name[32];
	int i;

	snprintf(dir, sizeof(dir), "%s/keep", base);
	mkdir_p(dir, 0750);
	lc_init(&lc, dir, 3);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "obj-%d", i);
		T_INTEQ(lc_store(&lc, name, "data", 4), 0, "lc_store");
	}
	T_INTEQ(files_in(dir), 3, "keep 3: three copies after five stores");
	T_OK(!has(dir, "obj-0") && !has(dir, "obj-1") && has(dir, "obj-2") &&
	    has(dir, "obj-4"), "keep 3: the newest three stay");
	/* the newest batch written again (a restart re-read it) */
	T_INTEQ(lc_store(&lc, "obj-4", "DATA", 4), 0, "lc_store: same name");
	T_INTEQ(lc_count(&lc), 3, "a rewritten copy is counted once");
	T_OK(has(dir, "obj-2") && has(dir, "obj-3") && has(dir, "obj-4"),
	    "a rewritten copy does not push an older one out");
	lc_free(&lc);

	/* copies of an earlier run count, oldest first by mtime */
	snprintf(dir, sizeof(dir), "%s/earlier", base);
	mkdir_p(dir, 0750);
	plant(dir, "z-oldest", 1000);
	plant(dir, "a-middle", 2000);
	plant(dir, "m-newest", 3000);
	lc_init(&lc, dir, 2);
	T_INTEQ(lc_store(&lc, "new", "x", 1), 0, "lc_store after a restart");
	T_INTEQ(files_in(dir), 2, "keep 2: earlier copies are pruned too");
	T_OK(has(dir, "m-newest") && has(dir, "new") &&
	    !has(dir, "z-oldest") && !has(dir, "a-middle"),
	    "keep 2: the oldest by mtime went, not by name");
	lc_free(&lc);

	/* keep 0: nothing written */
	snprintf(dir, sizeof(dir), "%s/none", base);
	mkdir_p(dir, 0750);
	lc_init(&lc, dir, 0);
	T_INTEQ(lc_store(&lc, "x", "x", 1), 0, "keep 0: lc_store is a no-op");
	T_INTEQ(files_in(dir), 0, "keep 0: no copy");
	lc_free(&lc);
}

/*
 * Issue 12 item 15: with local.keep = 20000 and 20000 copies on disk, each
 * flush listed and stat'ed the whole directory (and found the oldest by a
 * linear scan per removal): 300 flushes took 6 million stat calls. Now one
 * scan at the first store, then a ring.
 */
static void
test_cost(void)
{
	char tmpl[] = "/dev/shm/kk-test-lc.XXXXXX", *dir, name[64];
	struct localcopy lc;
	struct timespec t0, t1;
	double secs;
	int i, fd;
	const int n = 20000, stores = 300;

	if ((dir = mkdtemp(tmpl)) == NULL) {
		T_OK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/old-%06d", dir, i);
		if ((fd = open(p, O_WRONLY | O_CREAT, 0640)) != -1)
			close(fd);
	}
	lc_init(&lc, dir, (size_t)n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < stores; i++) {
		snprintf(name, sizeof(name), "new-%06d", i);
		lc_store(&lc, name, "x", 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	T_INTEQ(files_in(dir), n, "keep 20000: still 20000 copies");
	T_INTEQ(lc_count(&lc), n, "keep 20000: the ring knows 20000");
	T_OK(secs < 4.0, "300 flushes beside 20000 copies take %.2f s "
	    "(bound 4 s; a directory scan per flush took 29 s)", secs);
	lc_free(&lc);
	rm_rf(dir);
}

/* In a child: a 64 KiB tmpfs in a private mount namespace (root only). */
static void
enospc_child(const char *dir)
{
	struct localcopy lc;
	char big[20000], name[32], path[PATH_MAX + 32];
	int i, fails = 0;

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k") == -1)
		_exit(2);
	memset(big, 'x', sizeof(big));
	lc_init(&lc, dir, 10);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "obj-%d", i);
		if (lc_store(&lc, name, big, sizeof(big)) == -1)
			fails++;
	}
	/* after the failure the copies gave their room back: a checkpoint
	 * written now finds space */
	printf("# %d of 6 copies failed, %zu kept\n", fails, lc_count(&lc));
	/* three fit; the fourth finds no room, drops the three; the last
	 * two fit again */
	if (fails != 1)
		_exit(3);
	if (lc_count(&lc) != 2 || files_in(dir) != 2)
		_exit(4);
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if (write_file_atomic(path, big, 16000, 0640) == -1)
		_exit(5);
	lc_free(&lc);
	_exit(0);
}

static void
test_enospc(const char *base)
{
	char dir[PATH_MAX];
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		printf("# not root: the full disk check is not run\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/full", base);
	mkdir_p(dir, 0750);
	fflush(stdout);
	if ((pid = fork()) == 0)
		enospc_child(dir);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		printf("# no mount namespace here: the full disk check is not "
		    "run\n");
		return;
	}
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a full disk: the copies are dropped and a checkpoint still fits "
	    "(child status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int
main(void)
{
	char tmpl[] = "/tmp/kk-test-lc.XXXXXX", *base;

	umask(022);
	if ((base = mkdtemp(tmpl)) == NULL) {
		T_OK(0, "mkdtemp: %s", strerror(errno));
		return t_done();
	}
	test_keep(base);
	test_cost();
	test_enospc(base);
	rm_rf(base);
	return t_done();
}
