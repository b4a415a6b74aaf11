/*
 * recorder.c: the crash recorder, an LD_PRELOAD shim for tests only (never
 * linked into the shipped programs). It logs every change the keeper's
 * processes make under KK_REC_DIR in one global order, kills every keeper
 * process at the KK_REC_CRASH-th change, and can make one operation fail.
 *
 * Environment (all optional but KK_REC_DIR, KK_REC_LOG):
 *   KK_REC_DIR    the watched directory (absolute; state_dir)
 *   KK_REC_LOG    the log; KK_REC_LOG.ctl holds the counters and the lock
 *   KK_REC_CRASH  number of the change to crash at, or op:substring:nth (the
 *                 nth change by op on a path matching, as KK_REC_FAIL);
 *                 KK_REC_WHEN before|after|net (net: after it, at the next
 *                 network send of the process that made it, so what was
 *                 written before a network call is crashed in its window)
 *   KK_REC_FAIL   op:substring:nth:action, e.g. fsync:/checkpoints/:1:eio
 *                 (a trailing $ anchors the substring at the path's end;
 *                 action eio, enospc or short; nth counts matching calls)
 *   KK_REC_MSG    an fd (3: a worker's channel to the supervisor) whose
 *                 framed messages (common/msg.h) are logged by type, so a
 *                 flush report has its place in the order of the changes
 * Log lines: "N op pid ..." for the N-th change, "- op pid ..." for what is
 * no change but names an fd (an open), "- msg pid type" for a message,
 * "proc PID" for every process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXFD	4096

enum { CTL_COUNT, CTL_CRASHED, CTL_FAILSEEN, CTL_CRASHSEEN, CTL_N };

static const char *dir;
static size_t dirlen;
static int logfd = -1, ctlfd = -1;
static pid_t owner;		/* the process that opened logfd/ctlfd */
static long crash_at;
static int crash_after, crash_net, net_armed;
static char fail_op[32], fail_sub[256], fail_act[16];
static long fail_nth;
static char crash_op[32], crash_sub[256];
static long crash_nth;
static int msg_fd = -1;
static char *fdpath[MAXFD];
static __thread int inside;	/* our own calls are not recorded */

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *,
    unsigned);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_rmdir)(const char *);
static int (*real_close)(int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int,
    const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

#define RESOLVE(f)	do { if (real_##f == NULL) \
	real_##f = dlsym(RTLD_NEXT, #f); } while (0)

static void
resolve_all(void)
{
	RESOLVE(open); RESOLVE(openat); RESOLVE(write); RESOLVE(pwrite);
	RESOLVE(writev); RESOLVE(fsync); RESOLVE(fdatasync);
	RESOLVE(ftruncate); RESOLVE(rename); RESOLVE(renameat);
	RESOLVE(renameat2); RESOLVE(link); RESOLVE(linkat); RESOLVE(unlink);
	RESOLVE(unlinkat); RESOLVE(mkdir); RESOLVE(mkdirat); RESOLVE(rmdir);
	RESOLVE(close); RESOLVE(send); RESOLVE(sendto); RESOLVE(sendmsg);
}

static void
put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = real_write(logfd, s, n);

		if (w <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static int
ready(void)
{
	char ctl[PATH_MAX];
	const char *lp;

	resolve_all();
	if (dir == NULL)
		return 0;
	if (logfd != -1 && owner == getpid())
		return 1;
	/* after a fork the descriptions (and so the flock) are shared: a
	 * process of its own opens its own */
	if ((lp = getenv("KK_REC_LOG")) == NULL)
		return 0;
	snprintf(ctl, sizeof(ctl), "%s.ctl", lp);
	logfd = real_open(lp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ctlfd = real_open(ctl, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	owner = getpid();
	return logfd != -1 && ctlfd != -1;
}

static long
ctl_get(int i)
{
	long v = 0;

	if (pread(ctlfd, &v, sizeof(v), (off_t)i * (off_t)sizeof(v)) !=
	    (ssize_t)sizeof(v))
		v = 0;
	return v;
}

static void
ctl_set(int i, long v)
{
	(void)!real_pwrite(ctlfd, &v, sizeof(v), (off_t)i * (off_t)sizeof(v));
}

static void
lock(void)
{
	while (flock(ctlfd, LOCK_EX) == -1 && errno == EINTR)
		;
}

static void
unlock(void)
{
	flock(ctlfd, LOCK_UN);
}

/* SIGKILL every process that registered (a keeper process still alive),
 * then ourselves: a power cut stops them all at this very change. */
static void
kill_all(void)
{
	char path[PATH_MAX], buf[8192], cmd[512];
	const char *lp = getenv("KK_REC_LOG");
	FILE *f;
	pid_t me = getpid();
	int fd;

	ctl_set(CTL_CRASHED, 1);
	if (lp != NULL && (f = fopen(lp, "re")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL) {
			long pid;
			ssize_t n;

			if (strncmp(buf, "proc ", 5) != 0)
				continue;
			pid = strtol(buf + 5, NULL, 10);
			if (pid <= 1 || pid == me)
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
			if ((fd = real_open(path, O_RDONLY | O_CLOEXEC)) == -1)
				continue;
			n = read(fd, cmd, sizeof(cmd) - 1);
			real_close(fd);
			if (n <= 0)
				continue;
			cmd[n] = '\0';
			if (strstr(cmd, "kinesis-keeper") != NULL)
				kill((pid_t)pid, SIGKILL);
		}
		fclose(f);
	}
	kill(me, SIGKILL);
	_exit(137);
}

__attribute__((constructor)) static void
recorder_init(void)
{
	char line[64];
	const char *s;
	int n;

	resolve_all();
	if ((dir = getenv("KK_REC_DIR")) == NULL || dir[0] != '/')
		return;
	dirlen = strlen(dir);
	while (dirlen > 1 && dir[dirlen - 1] == '/')
		dirlen--;
	if ((s = getenv("KK_REC_CRASH")) != NULL && strchr(s, ':') != NULL)
		sscanf(s, "%31[^:]:%255[^:]:%ld", crash_op, crash_sub,
		    &crash_nth);
	else if (s != NULL)
		crash_at = strtol(s, NULL, 10);
	s = getenv("KK_REC_WHEN");
	crash_after = s != NULL && strcmp(s, "after") == 0;
	crash_net = s != NULL && strcmp(s, "net") == 0;
	if ((s = getenv("KK_REC_MSG")) != NULL)
		msg_fd = (int)strtol(s, NULL, 10);
	if ((s = getenv("KK_REC_FAIL")) != NULL)
		sscanf(s, "%31[^:]:%255[^:]:%ld:%15s", fail_op, fail_sub,
		    &fail_nth, fail_act);
	if (!ready())
		return;
	lock();
	if (ctl_get(CTL_CRASHED))
		kill_all();
	n = snprintf(line, sizeof(line), "proc %ld\n", (long)getpid());
	put(line, (size_t)n);
	unlock();
}

/* The absolute form of path (relative to dirfd); NULL when outside dir. */
static char *
watched(int dirfd, const char *path, char *out, size_t outlen)
{
	char base[PATH_MAX], link[64];
	ssize_t n;

	if (dir == NULL || path == NULL)
		return NULL;
	if (path[0] == '/')
		snprintf(out, outlen, "%s", path);
	else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(base, sizeof(base)) == NULL)
				return NULL;
		} else {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			if ((n = readlink(link, base, sizeof(base) - 1)) <= 0)
				return NULL;
			base[n] = '\0';
		}
		if ((size_t)snprintf(out, outlen, "%.*s/%s", PATH_MAX / 2, base,
		    path) >= outlen)
			return NULL;
	}
	if (strncmp(out, dir, dirlen) != 0 ||
	    (out[dirlen] != '/' && out[dirlen] != '\0'))
		return NULL;
	return out;
}

static const char *
fd_watched(int fd)
{
	if (dir == NULL || fd < 0 || fd >= MAXFD)
		return NULL;
	return fdpath[fd];
}

static void
hexput(const void *data, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *p = data;
	char chunk[1024];
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		chunk[o++] = hx[p[i] >> 4];
		chunk[o++] = hx[p[i] & 15];
		if (o == sizeof(chunk)) {
			put(chunk, o);
			o = 0;
		}
	}
	if (o > 0)
		put(chunk, o);
}

/* KK_REC_FAIL's (or KK_REC_CRASH's) substring; a trailing '$' anchors
 * it at the end */
static int
path_match(const char *path, const char *sub)
{
	size_t n = strlen(sub), l = strlen(path);

	if (n > 0 && sub[n - 1] == '$')
		return l >= n - 1 && strncmp(path + l - (n - 1), sub,
		    n - 1) == 0;
	return strstr(path, sub) != NULL;
}

/*
 * Begin one recorded call (lock held). Returns the action to take:
 * 0 perform it, or the errno to fail it with (-1: a short write).
 * *num is the change's number (0 when it is no change).
 */
static int
begin(const char *op, const char *path, int change, long *num)
{
	int act = 0;

	lock();
	if (ctl_get(CTL_CRASHED))
		kill_all();
	*num = 0;
	if (fail_op[0] != '\0' && strcmp(op, fail_op) == 0 && path != NULL &&
	    path_match(path, fail_sub)) {
		long seen = ctl_get(CTL_FAILSEEN) + 1;

		ctl_set(CTL_FAILSEEN, seen);
		if (seen == fail_nth) {
			if (strcmp(fail_act, "eio") == 0)
				act = EIO;
			else if (strcmp(fail_act, "enospc") == 0)
				act = ENOSPC;
			else if (strcmp(fail_act, "short") == 0)
				act = -1;
		}
	}
	if (change && act == 0) {
		*num = ctl_get(CTL_COUNT) + 1;
		ctl_set(CTL_COUNT, *num);
		if (crash_op[0] != '\0' && strcmp(op, crash_op) == 0 &&
		    path != NULL && path_match(path, crash_sub)) {
			long seen = ctl_get(CTL_CRASHSEEN) + 1;

			ctl_set(CTL_CRASHSEEN, seen);
			if (seen == crash_nth)
				crash_at = *num;	/* this process's */
		}
		if (*num == crash_at && !crash_after && !crash_net) {
			char line[PATH_MAX + 64];
			int n = snprintf(line, sizeof(line),
			    "crash %ld before %s %s\n", *num, op,
			    path != NULL ? path : "?");

			put(line, (size_t)n);
			kill_all();
		}
	}
	if (act > 0) {
		char line[PATH_MAX + 64];
		int n = snprintf(line, sizeof(line), "- fail %ld %s %s %d\n",
		    (long)getpid(), op, path, act);

		put(line, (size_t)n);
	}
	return act;
}

static void
end(long num)
{
	if (num != 0 && num == crash_at && crash_net)
		net_armed = 1;
	if (num != 0 && num == crash_at && crash_after) {
		char line[64];
		int n = snprintf(line, sizeof(line), "crash %ld after\n", num);

		put(line, (size_t)n);
		kill_all();
	}
	unlock();
}

static void
logf_(long num, const char *fmt, ...)
{
	char line[3 * PATH_MAX];
	va_list ap;
	int n;

	if (num > 0)
		n = snprintf(line, sizeof(line), "%ld ", num);
	else
		n = snprintf(line, sizeof(line), "- ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	put(line, (size_t)n);
}

static int
do_open(int dirfd, const char *path, int flags, mode_t mode, int at)
{
	char abs[PATH_MAX];
	struct stat st;
	int fd, change, exists, saved;
	long num;

	if (inside || !ready() || watched(dirfd, path, abs, sizeof(abs)) ==
	    NULL)
		return at ? real_openat(dirfd, path, flags, mode) :
		    real_open(path, flags, mode);
	inside = 1;
	exists = lstat(abs, &st) == 0;
	change = ((flags & O_CREAT) && !exists) ||
	    ((flags & O_TRUNC) && exists && S_ISREG(st.st_mode) &&
	    st.st_size > 0);
	begin("open", abs, change, &num);
	fd = at ? real_openat(dirfd, path, flags, mode) :
	    real_open(path, flags, mode);
	saved = errno;
	if (fd >= 0 && fd < MAXFD) {
		free(fdpath[fd]);
		fdpath[fd] = strdup(abs);
		logf_(num, "open %ld %d %s %d %d\n", (long)getpid(), fd, abs,
		    flags, fd >= 0 && !exists && (flags & O_CREAT));
	} else if (num != 0)
		logf_(num, "nop %ld open-failed %s\n", (long)getpid(), abs);
	end(num);
	inside = 0;
	errno = saved;
	return fd;
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	resolve_all();
	return do_open(AT_FDCWD, path, flags, mode, 0);
}

int open64(const char *, int, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	resolve_all();
	return do_open(dirfd, path, flags, mode, 1);
}

int openat64(int, const char *, int, ...) __attribute__((alias("openat")));

int
close(int fd)
{
	resolve_all();
	if (fd >= 0 && fd < MAXFD && fdpath[fd] != NULL) {
		free(fdpath[fd]);
		fdpath[fd] = NULL;
	}
	return real_close(fd);
}

static ssize_t
do_write(int fd, const void *data, size_t len, off_t off, int pos)
{
	const char *p;
	ssize_t r;
	long num;
	int act, saved;

	if (inside || !ready() || (p = fd_watched(fd)) == NULL)
		return pos ? real_pwrite(fd, data, len, off) :
		    real_write(fd, data, len);
	inside = 1;
	act = begin("write", p, 1, &num);
	if (act > 0) {
		end(num);
		inside = 0;
		errno = act;
		return -1;
	}
	if (act == -1 && len > 1) {
		/* a short write: half of it, and a change after all */
		len /= 2;
		num = ctl_get(CTL_COUNT) + 1;
		ctl_set(CTL_COUNT, num);
	}
	if (!pos) {
		off = lseek(fd, 0, SEEK_CUR);
		if (fcntl(fd, F_GETFL) & O_APPEND)
			off = lseek(fd, 0, SEEK_END);
	}
	r = pos ? real_pwrite(fd, data, len, off) : real_write(fd, data, len);
	saved = errno;
	if (r > 0) {
		logf_(num, "write %ld %d %lld %zd ", (long)getpid(), fd,
		    (long long)off, r);
		hexput(data, (size_t)r);
		put("\n", 1);
	} else if (num != 0)
		logf_(num, "nop %ld write-failed %d\n", (long)getpid(), fd);
	end(num);
	inside = 0;
	errno = saved;
	return r;
}

ssize_t
write(int fd, const void *data, size_t len)
{
	resolve_all();
	return do_write(fd, data, len, 0, 0);
}

ssize_t
pwrite(int fd, const void *data, size_t len, off_t off)
{
	resolve_all();
	return do_write(fd, data, len, off, 1);
}

ssize_t pwrite64(int, const void *, size_t, off_t)
    __attribute__((alias("pwrite")));

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t total = 0, r;
	int i;

	resolve_all();
	/* a framed message starts with its whole header {type, len, gen,
	 * pad} in the first piece (msg_send); the rest of one is not logged */
	if (fd == msg_fd && msg_fd != -1 && !inside && cnt > 0 &&
	    iov[0].iov_len == 4 * sizeof(uint32_t) && ready()) {
		uint32_t type;
		long num;
		char line[64];
		int n, saved;

		inside = 1;
		memcpy(&type, iov[0].iov_base, sizeof(type));
		begin("msg", NULL, 0, &num);
		n = snprintf(line, sizeof(line), "- msg %ld %u\n",
		    (long)getpid(), (unsigned)type);
		put(line, (size_t)n);
		r = real_writev(fd, iov, cnt);
		saved = errno;
		end(num);
		inside = 0;
		errno = saved;
		return r;
	}
	if (fd_watched(fd) == NULL || inside)
		return real_writev(fd, iov, cnt);
	/* one write per piece: a crash may fall between them anyway */
	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		r = do_write(fd, iov[i].iov_base, iov[i].iov_len, 0, 0);
		if (r == -1)
			return total > 0 ? total : -1;
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static int
do_sync(int fd, int data_only)
{
	const char *p;
	long num;
	int act, r, saved;
	const char *op = data_only ? "fdatasync" : "fsync";

	if (inside || !ready() || (p = fd_watched(fd)) == NULL)
		return data_only ? real_fdatasync(fd) : real_fsync(fd);
	inside = 1;
	act = begin(op, p, 1, &num);
	if (act != 0) {
		end(num);
		inside = 0;
		errno = act > 0 ? act : EIO;
		return -1;
	}
	r = data_only ? real_fdatasync(fd) : real_fsync(fd);
	saved = errno;
	logf_(num, "%s %ld %d %d\n", op, (long)getpid(), fd, r);
	end(num);
	inside = 0;
	errno = saved;
	return r;
}

int
fsync(int fd)
{
	resolve_all();
	return do_sync(fd, 0);
}

int
fdatasync(int fd)
{
	resolve_all();
	return do_sync(fd, 1);
}

int
ftruncate(int fd, off_t len)
{
	const char *p;
	long num;
	int r, saved;

	resolve_all();
	if (inside || !ready() || (p = fd_watched(fd)) == NULL)
		return real_ftruncate(fd, len);
	inside = 1;
	begin("ftruncate", p, 1, &num);
	r = real_ftruncate(fd, len);
	saved = errno;
	if (r == 0)
		logf_(num, "ftruncate %ld %d %lld\n", (long)getpid(), fd,
		    (long long)len);
	else
		logf_(num, "nop %ld ftruncate-failed %d\n", (long)getpid(), fd);
	end(num);
	inside = 0;
	errno = saved;
	return r;
}

int ftruncate64(int, off_t) __attribute__((alias("ftruncate")));

/* rename, link: two paths, either of them watched */
static int
do_two(const char *op, int ofd, const char *old, int nfd, const char *new,
    int flags)
{
	char a[PATH_MAX], b[PATH_MAX];
	const char *pa, *pb;
	long num;
	int r, saved, act;

	if (inside || !ready())
		pa = pb = NULL;
	else {
		pa = watched(ofd, old, a, sizeof(a));
		pb = watched(nfd, new, b, sizeof(b));
	}
	if (pa == NULL && pb == NULL) {
		if (strcmp(op, "rename") == 0)
			return flags ? real_renameat2(ofd, old, nfd, new,
			    (unsigned)flags) : real_renameat(ofd, old, nfd,
			    new);
		return real_linkat(ofd, old, nfd, new, flags);
	}
	inside = 1;
	if (pa == NULL)
		pa = watched(ofd, old, a, sizeof(a)) ? a : "?";
	act = begin(op, pb != NULL ? pb : pa, 1, &num);
	if (act > 0) {
		end(num);
		inside = 0;
		errno = act;
		return -1;
	}
	if (strcmp(op, "rename") == 0)
		r = flags ? real_renameat2(ofd, old, nfd, new, (unsigned)flags) :
		    real_renameat(ofd, old, nfd, new);
	else
		r = real_linkat(ofd, old, nfd, new, flags);
	saved = errno;
	if (r == 0)
		logf_(num, "%s %ld %s %s\n", op, (long)getpid(),
		    pa != NULL ? pa : "?", pb != NULL ? pb : "?");
	else
		logf_(num, "nop %ld %s-failed\n", (long)getpid(), op);
	end(num);
	inside = 0;
	errno = saved;
	return r;
}

int
rename(const char *old, const char *new)
{
	resolve_all();
	return do_two("rename", AT_FDCWD, old, AT_FDCWD, new, 0);
}

int
renameat(int ofd, const char *old, int nfd, const char *new)
{
	resolve_all();
	return do_two("rename", ofd, old, nfd, new, 0);
}

int
renameat2(int ofd, const char *old, int nfd, const char *new, unsigned fl)
{
	resolve_all();
	return do_two("rename", ofd, old, nfd, new, (int)fl);
}

int
link(const char *old, const char *new)
{
	resolve_all();
	return do_two("link", AT_FDCWD, old, AT_FDCWD, new, 0);
}

int
linkat(int ofd, const char *old, int nfd, const char *new, int fl)
{
	resolve_all();
	return do_two("link", ofd, old, nfd, new, fl);
}

/* unlink, rmdir, mkdir: one path */
static int
do_one(const char *op, int dirfd, const char *path, int flags, mode_t mode)
{
	char a[PATH_MAX];
	const char *p = NULL;
	long num;
	int r, saved, act, is_mkdir = strcmp(op, "mkdir") == 0;
	struct stat st;

	if (!inside && ready())
		p = watched(dirfd, path, a, sizeof(a));
	/* a mkdir of what exists, an unlink of what does not: no change */
	if (p == NULL || (is_mkdir && lstat(p, &st) == 0) ||
	    (!is_mkdir && lstat(p, &st) == -1)) {
		if (is_mkdir)
			return real_mkdirat(dirfd, path, mode);
		if (strcmp(op, "rmdir") == 0)
			return real_rmdir(path);
		return real_unlinkat(dirfd, path, flags);
	}
	inside = 1;
	act = begin(op, p, 1, &num);
	if (act > 0) {
		end(num);
		inside = 0;
		errno = act;
		return -1;
	}
	if (is_mkdir)
		r = real_mkdirat(dirfd, path, mode);
	else if (strcmp(op, "rmdir") == 0)
		r = real_rmdir(path);
	else
		r = real_unlinkat(dirfd, path, flags);
	saved = errno;
	if (r == 0)
		logf_(num, "%s %ld %s\n", (flags & AT_REMOVEDIR) ? "rmdir" : op,
		    (long)getpid(), p);
	else
		logf_(num, "nop %ld %s-failed\n", (long)getpid(), op);
	end(num);
	inside = 0;
	errno = saved;
	return r;
}

int
unlink(const char *path)
{
	resolve_all();
	return do_one("unlink", AT_FDCWD, path, 0, 0);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	resolve_all();
	return do_one("unlink", dirfd, path, flags, 0);
}

int
rmdir(const char *path)
{
	resolve_all();
	return do_one("rmdir", AT_FDCWD, path, 0, 0);
}

int
mkdir(const char *path, mode_t mode)
{
	resolve_all();
	return do_one("mkdir", AT_FDCWD, path, 0, mode);
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	resolve_all();
	return do_one("mkdir", dirfd, path, 0, mode);
}

/* KK_REC_WHEN=net: the process that made the crash change dies at its next
 * network send, everything it wrote to disk before that call done */
static void
net_check(void)
{
	char line[64];
	int n;

	if (!net_armed || inside || !ready())
		return;
	lock();
	n = snprintf(line, sizeof(line), "crash %ld net %ld\n", crash_at,
	    (long)getpid());
	put(line, (size_t)n);
	kill_all();
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	resolve_all();
	net_check();
	return real_send(fd, buf, len, flags);
}

ssize_t
sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	resolve_all();
	net_check();
	return real_sendto(fd, buf, len, flags, to, tolen);
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	resolve_all();
	net_check();
	return real_sendmsg(fd, m, flags);
}
