/*
 * test_ckpt.c: common/ckpt.c (checkpoint files, position order, the shard
 * lock) and common/outbox.c (only entries the checkpoint covers are
 * published, in sequence order, and removed; a failed publish keeps the
 * rest; a rewritten entry replaces the old one).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "outbox.h"
#include "t.h"
#include "util.h"

#define SHARD	"shardId-000000000003"
#define SEQ56	"49590338271490256608559692538361571095921575989136588898"

static char state[64];

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

static void
mkdirs(void)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/checkpoints", state);
	mkdir_p(p, 0750);
	snprintf(p, sizeof(p), "%s/locks", state);
	mkdir_p(p, 0750);
}

static void
put_ckpt_text(const char *shard, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/checkpoints/%s", state, shard);
	if (write_file_atomic(p, text, strlen(text), 0644) == -1)
		T_OK(0, "write %s: %s", p, strerror(errno));
}

static int
read_text(const char *text, struct ckpt *c)
{
	put_ckpt_text("corrupt", text);
	return ckpt_read(state, "corrupt", c);
}

static void
set_ckpt(const char *shard, const char *seq, int has_sub, uint64_t sub,
    int done)
{
	struct ckpt c;

	memset(&c, 0, sizeof(c));
	snprintf(c.pos.seq, sizeof(c.pos.seq), "%s", seq);
	c.pos.has_sub = has_sub;
	c.pos.sub = sub;
	c.done = done;
	if (ckpt_write(state, shard, &c) == -1)
		T_OK(0, "ckpt_write: %s", strerror(errno));
}

static void
test_ckpt_rw(void)
{
	struct ckpt c, r;
	char p[PATH_MAX];
	struct buf b;

	memset(&r, 0x5a, sizeof(r));
	T_INTEQ(ckpt_read(state, SHARD, &r), 1, "ckpt_read: none yet is 1");
	T_OK(r.pos.seq[0] == '\0' && !r.pos.has_sub && !r.done,
	    "ckpt_read: none yet leaves an empty position");

	memset(&c, 0, sizeof(c));
	snprintf(c.pos.seq, sizeof(c.pos.seq), "%s", SEQ56);
	snprintf(c.key, sizeof(c.key), "kinesis/orders/2016/11/21/16/x.gz");
	T_INTEQ(ckpt_write(state, SHARD, &c), 0, "ckpt_write: whole record");
	T_INTEQ(ckpt_read(state, SHARD, &r), 0, "ckpt_read: back");
	T_OK(strcmp(r.pos.seq, SEQ56) == 0 && r.pos.has_sub == 0 && r.pos.sub == 0 &&
	    r.done == 0 && strcmp(r.key, c.key) == 0,
	    "ckpt round trip: seq, no sub, not done, key");

	c.pos.has_sub = 1;
	c.pos.sub = 17;
	c.done = 1;
	T_INTEQ(ckpt_write(state, SHARD, &c), 0, "ckpt_write: sub, done");
	T_INTEQ(ckpt_read(state, SHARD, &r), 0, "ckpt_read: back again");
	T_OK(strcmp(r.pos.seq, SEQ56) == 0 && r.pos.has_sub == 1 && r.pos.sub == 17 &&
	    r.done == 1, "ckpt round trip: sub 17, done");

	c.pos.sub = 0;
	c.done = 0;
	T_INTEQ(ckpt_write(state, SHARD, &c), 0, "ckpt_write: sub 0");
	T_OK(ckpt_read(state, SHARD, &r) == 0 && r.pos.has_sub == 1 && r.pos.sub == 0,
	    "ckpt round trip: sub 0 is kept as a sub");

	memset(&c, 0, sizeof(c));
	c.done = 1;
	T_INTEQ(ckpt_write(state, SHARD, &c), 0, "ckpt_write: empty, done");
	T_OK(ckpt_read(state, SHARD, &r) == 0 && r.pos.seq[0] == '\0' && r.done,
	    "ckpt round trip: a closed shard with nothing archived");

	snprintf(p, sizeof(p), "%s/checkpoints/%s.tmp", state, SHARD);
	T_OK(access(p, F_OK) == -1, "ckpt_write leaves no temp file");
	snprintf(p, sizeof(p), "%s/checkpoints/%s", state, SHARD);
	buf_init(&b);
	T_OK(read_file(p, &b, 65536) == 0 && b.data[0] == '{' &&
	    strstr(b.data, "\"shard\":\"" SHARD "\"") != NULL,
	    "the checkpoint is a JSON object naming its shard");
	buf_free(&b);

	T_INTEQ(ckpt_write(state, "../evil", &c), -1,
	    "ckpt_write: unsafe shard name refused");
	T_INTEQ(ckpt_read(state, "../evil", &r), -1,
	    "ckpt_read: unsafe shard name refused");
	T_INTEQ(ckpt_read(state, "", &r), -1, "ckpt_read: empty shard name");
	T_INTEQ(ckpt_write("/nonexistent/kk", SHARD, &c), -1,
	    "ckpt_write: missing directory fails");
}

/* Write len bytes (NULs included) as the checkpoint of "corrupt". */
static int
read_bytes(const char *data, size_t len, struct ckpt *c)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/checkpoints/corrupt", state);
	if (write_file_atomic(p, data, len, 0644) == -1)
		T_OK(0, "write %s: %s", p, strerror(errno));
	return ckpt_read(state, "corrupt", c);
}

/*
 * Issue 12 item 14: the whole file is the checkpoint. "{}" then a NUL then
 * the real content used to read as an empty checkpoint (the file length was
 * ignored), so the shard restarted from start_position: with LATEST, a loss.
 */
static void
test_ckpt_whole_file(void)
{
	static const char nul[] = "{}\0{\"seq\":\"7\",\"done\":false}";
	static const char nul2[] = "{\"seq\":\"7\"}\0garbage";
	struct ckpt c;
	char p[PATH_MAX];

	T_INTEQ(read_bytes(nul, sizeof(nul) - 1, &c), -1,
	    "checkpoint {}\\0{...} (a NUL inside) -> -1, not empty");
	T_INTEQ(read_bytes(nul2, sizeof(nul2) - 1, &c), -1,
	    "checkpoint with a NUL and bytes after the object -> -1");
	T_INTEQ(read_text("{\"seq\":\"7\"}{\"seq\":\"1\"}", &c), -1,
	    "checkpoint: a second object after the first -> -1");
	T_INTEQ(read_text("{\"seq\":\"7\"} x", &c), -1,
	    "checkpoint: trailing garbage -> -1");
	T_INTEQ(read_text("{}", &c), -1,
	    "checkpoint: no seq and not done -> -1");
	T_INTEQ(read_text("{\"done\":false,\"shard\":\"x\"}", &c), -1,
	    "checkpoint: no seq, done false -> -1");
	T_INTEQ(read_text("{\"done\":true}", &c), 0,
	    "checkpoint: no seq but done (an empty closed shard) is fine");
	T_INTEQ(read_text("{\"seq\":\"7\"}\n", &c), 0,
	    "checkpoint: trailing newline is fine");
	T_STREQ(c.pos.seq, "7", "checkpoint with a trailing newline: seq 7");

	/* Issue 12 item 8: a FIFO as the checkpoint is refused, at once */
	snprintf(p, sizeof(p), "%s/checkpoints/fifo", state);
	if (mkfifo(p, 0600) == -1)
		T_OK(0, "mkfifo: %s", strerror(errno));
	else {
		alarm(10);	/* a hang fails the test, not the suite */
		T_INTEQ(ckpt_read(state, "fifo", &c), -1,
		    "checkpoint that is a FIFO: -1 without blocking");
		alarm(0);
		unlink(p);
	}
}

static void
test_ckpt_corrupt(void)
{
	static const char *const bad[] = {
		"",
		"not json",
		"{\"seq\":\"12",
		"{\"seq\":\"123\",",
		"[\"123\"]",
		"\"123\"",
		"null",
		"{\"seq\":123}",
		"{\"seq\":\"12a\"}",
		"{\"seq\":\"\"}",
		"{\"seq\":\"-1\"}",
		"{\"seq\":\"1\",\"sub\":-1}",
		"{\"seq\":\"1\",\"sub\":\"3\"}",
		"{\"seq\":\"1\",\"sub\":1.5}",
		"{\"sub\":3}",
		"{\"seq\":\"99999999999999999999999999999999999999999999999999"
		    "999999999999999999999999999999999999999999999999999999999"
		    "9999999999999999999999\"}",
	};
	struct ckpt c;
	char *huge;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_INTEQ(read_text(bad[i], &c), -1, "corrupt checkpoint -> -1");

	huge = xmalloc(70000);
	memset(huge, ' ', 69999);
	huge[0] = '{';
	huge[69997] = '}';
	huge[69999] = '\0';
	T_INTEQ(read_text(huge, &c), -1, "checkpoint over 64 kB -> -1");
	free(huge);

	T_INTEQ(read_text("{\"seq\":\"0042\",\"done\":false}", &c), 0,
	    "leading zeros are still a sequence number");
	T_INTEQ(read_text("{\"seq\":\"5\",\"done\":true,\"extra\":[1]}", &c),
	    0, "unknown keys are ignored");
	T_OK(c.done == 1 && strcmp(c.pos.seq, "5") == 0, "done true read");

	/*
	 * Was a bug in common/ckpt.c ckpt_read, fixed in 659746b: "done" is
	 * read with json_object_get_boolean() without a type check, so a
	 * corrupt "done":"false" (any non-empty string, or a non-zero number)
	 * reads as done = 1: the shard would be considered finished.
	 */
	T_INTEQ(read_text("{\"seq\":\"5\",\"done\":\"false\"}", &c), -1,
	    "corrupt checkpoint: \"done\" as a string -> -1");
	T_INTEQ(read_text("{\"seq\":\"5\",\"done\":2}", &c), -1,
	    "corrupt checkpoint: \"done\" as a number -> -1");
	/*
	 * Was a bug in common/ckpt.c ckpt_read, fixed in 659746b: a "sub" above
	 * INT64_MAX is silently clamped to INT64_MAX by
	 * json_object_get_int64().
	 */
	T_INTEQ(read_text("{\"seq\":\"5\",\"sub\":18446744073709551615}", &c),
	    -1, "corrupt checkpoint: sub beyond int64 -> -1");
	test_ckpt_whole_file();
}

/* pos_cmp of two positions given by their parts */
static int
pcmp(const char *sa, int hsa, uint64_t suba, const char *sb, int hsb,
    uint64_t subb)
{
	struct pos a, b;

	pos_set(&a, sa, hsa, suba);
	pos_set(&b, sb, hsb, subb);
	return pos_cmp(&a, &b);
}

static void
test_pos_cmp(void)
{
	T_INTEQ(pcmp("9", 0, 0, "10", 0, 0), -1, "pos: 9 < 10");
	T_INTEQ(pcmp("10", 0, 0, "9", 0, 0), 1, "pos: 10 > 9");
	T_INTEQ(pcmp("10", 0, 0, "010", 0, 0), 0, "pos: 10 == 010");
	T_INTEQ(pcmp("5", 1, 3, "5", 1, 4), -1, "pos: sub 3 < sub 4");
	T_INTEQ(pcmp("5", 1, 4, "5", 1, 3), 1, "pos: sub 4 > sub 3");
	T_INTEQ(pcmp("5", 1, 4, "5", 1, 4), 0, "pos: same sub");
	T_INTEQ(pcmp("5", 1, 9, "5", 0, 0), -1,
	    "pos: a sub-record comes before its whole record");
	T_INTEQ(pcmp("5", 1, UINT64_MAX, "5", 0, 0), -1,
	    "pos: even the largest sub");
	T_INTEQ(pcmp("5", 0, 0, "5", 1, 0), 1,
	    "pos: the whole record is after sub 0");
	T_INTEQ(pcmp("5", 0, 7, "5", 0, 3), 0,
	    "pos: sub is ignored without has_sub");
	T_INTEQ(pcmp("4", 0, 0, "5", 1, 0), -1,
	    "pos: an earlier record before any sub of a later one");
	T_INTEQ(pcmp("6", 1, 0, "5", 0, 0), 1,
	    "pos: sub 0 of a later record after an earlier whole one");
	T_INTEQ(pcmp(SEQ56, 1, 1, "1", 0, 0), 1,
	    "pos: 56 digits > 1");
}

static void
test_lock(void)
{
	int fd1, fd2, st;
	pid_t pid;
	char p[PATH_MAX];

	fd1 = ckpt_lock(state, SHARD);
	T_OK(fd1 >= 0, "ckpt_lock: first taker gets it");
	T_OK(fd1 >= 0 && (fcntl(fd1, F_GETFD) & FD_CLOEXEC),
	    "ckpt_lock: fd is close-on-exec");
	errno = 0;
	fd2 = ckpt_lock(state, SHARD);
	T_INTEQ(fd2, -1, "ckpt_lock: a second fd in the same process fails");
	T_INTEQ(errno, EWOULDBLOCK, "ckpt_lock: EWOULDBLOCK");
	fd2 = ckpt_lock(state, "shardId-000000000004");
	T_OK(fd2 >= 0, "ckpt_lock: another shard is independent");
	if (fd2 >= 0)
		close(fd2);

	fflush(stdout);
	if ((pid = fork()) == 0) {
		int fd = ckpt_lock(state, SHARD);

		_exit(fd == -1 && errno == EWOULDBLOCK ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ckpt_lock: another process is refused while held");

	if (fd1 >= 0)
		close(fd1);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		int fd = ckpt_lock(state, SHARD);

		_exit(fd >= 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ckpt_lock: another process gets it once released");
	fd1 = ckpt_lock(state, SHARD);
	T_OK(fd1 >= 0, "ckpt_lock: free again after the child exited");
	if (fd1 >= 0)
		close(fd1);

	T_INTEQ(ckpt_lock(state, "a/b"), -1, "ckpt_lock: unsafe name");
	snprintf(p, sizeof(p), "%s/nolocks", state);
	mkdir_p(p, 0750);
	T_INTEQ(ckpt_lock(p, SHARD), -1, "ckpt_lock: no locks directory");
}

/* The publisher: records what it was given; fails at call fail_at. */
struct pub {
	char	msgs[64][128];
	int	n;
	int	calls;
	int	fail_at;	/* 1-based call number that fails; 0 never */
};

static int
publish(void *arg, const char *shard, const char *message)
{
	struct pub *p = arg;

	p->calls++;
	if (p->fail_at != 0 && p->calls == p->fail_at)
		return -1;
	if (p->n < 64)
		snprintf(p->msgs[p->n++], sizeof(p->msgs[0]), "%s", message);
	return 0;
}

static int drain_crashes, drain_leaks;

/*
 * outbox_drain in a child process, so that a sanitizer abort in it (see
 * the BUG check at the end of test_outbox) is counted instead of ending
 * the whole test binary. Its effects on disk are the same.
 */
static int
drain_at(const char *shard, struct pub *pb, int fail_at)
{
	int fds[2], st, r = -2;
	pid_t pid;

	memset(pb, 0, sizeof(*pb));
	pb->fail_at = fail_at;
	if (pipe(fds) == -1)
		return -2;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		r = outbox_drain(state, shard, publish, pb);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r) ||
		    write(fds[1], pb, sizeof(*pb)) != sizeof(*pb))
			_exit(2);
		exit(0);	/* LeakSanitizer runs: exit status 23 on a leak */
	}
	close(fds[1]);
	if (read(fds[0], &r, sizeof(r)) != sizeof(r) ||
	    read(fds[0], pb, sizeof(*pb)) != sizeof(*pb)) {
		r = -2;
		memset(pb, 0, sizeof(*pb));
	}
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 23) {
		drain_leaks++;
		printf("# outbox_drain(%s) leaked\n", shard);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		drain_crashes++;
		printf("# outbox_drain(%s) died in the child\n", shard);
		r = -2;
	}
	return r;
}

static int
drain(const char *shard, struct pub *pb)
{
	return drain_at(shard, pb, 0);
}

static int
put(const char *shard, const char *fseq, int fhs, uint64_t fsub,
    const char *lseq, int lhs, uint64_t lsub, const char *msg)
{
	struct pos f, l;

	pos_set(&f, fseq, fhs, fsub);
	pos_set(&l, lseq, lhs, lsub);
	return outbox_put(state, shard, &f, &l, msg, NULL, 0);
}

static int
entry_exists(const char *shard, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/outbox/%s/%s", state, shard, name);
	return access(p, F_OK) == 0;
}

static void
test_outbox(void)
{
	struct pub pb;
	struct pos f, l;
	char name[300];
	const char *sh;
	int r;

	/* no checkpoint yet: nothing is committed, nothing published */
	sh = "shardId-a";
	T_INTEQ(put(sh, "5", 0, 0, "7", 0, 0, "m5"), 0, "outbox_put");
	T_INTEQ(drain(sh, &pb), 0,
	    "drain without a checkpoint: nothing pending");
	T_INTEQ(pb.calls, 0, "drain without a checkpoint: nothing published");
	T_INTEQ(outbox_count(state, sh), 1, "the entry is kept");
	T_OK(entry_exists(sh, "5.json"), "entry named after its first record");

	/* only entries covered by the checkpoint; numeric order */
	sh = "shardId-b";
	put(sh, "100", 0, 0, "109", 0, 0, "m100");
	put(sh, "9", 0, 0, "9", 0, 0, "m9");
	put(sh, "11", 0, 0, "99", 0, 0, "m11");
	put(sh, "10", 0, 0, "10", 0, 0, "m10");
	put(sh, "110", 0, 0, "120", 0, 0, "m110");
	T_INTEQ(outbox_count(state, sh), 5, "outbox_count: 5 entries");
	set_ckpt(sh, "109", 0, 0, 0);
	r = drain(sh, &pb);
	T_INTEQ(r, 0, "drain: every committed entry announced");
	T_INTEQ(pb.n, 4, "drain: four covered entries published");
	T_OK(pb.n == 4 && strcmp(pb.msgs[0], "m9") == 0 &&
	    strcmp(pb.msgs[1], "m10") == 0 && strcmp(pb.msgs[2], "m11") == 0 &&
	    strcmp(pb.msgs[3], "m100") == 0,
	    "drain: in numeric sequence order (9, 10, 11, 100)");
	T_INTEQ(outbox_count(state, sh), 1, "drain: published ones removed");
	T_OK(entry_exists(sh, "110.json"),
	    "drain: the uncovered entry stays");
	drain(sh, &pb);
	T_INTEQ(pb.calls, 0, "drain again: nothing republished");
	T_OK(entry_exists(sh, "110.json"), "drain again: uncovered one kept");
	set_ckpt(sh, "120", 0, 0, 0);
	T_INTEQ(drain(sh, &pb), 0,
	    "drain after the checkpoint advanced");
	T_OK(pb.n == 1 && strcmp(pb.msgs[0], "m110") == 0,
	    "drain: the newly covered entry published");
	T_INTEQ(outbox_count(state, sh), 0, "drain: outbox empty");

	/* a failing publish stops the drain and keeps the rest */
	sh = "shardId-c";
	put(sh, "1", 0, 0, "1", 0, 0, "c1");
	put(sh, "2", 0, 0, "2", 0, 0, "c2");
	put(sh, "3", 0, 0, "3", 0, 0, "c3");
	put(sh, "4", 0, 0, "4", 0, 0, "c4");
	set_ckpt(sh, "4", 0, 0, 0);
	r = drain_at(sh, &pb, 2);
	T_INTEQ(r, 3, "drain: three committed entries still pending");
	T_INTEQ(pb.calls, 2, "drain: stops at the first failure");
	T_OK(pb.n == 1 && strcmp(pb.msgs[0], "c1") == 0,
	    "drain: the one before the failure was published");
	T_OK(!entry_exists(sh, "1.json") && entry_exists(sh, "2.json") &&
	    entry_exists(sh, "3.json") && entry_exists(sh, "4.json"),
	    "drain: the failed entry and those after it are kept");
	T_INTEQ(drain(sh, &pb), 0,
	    "drain: the next drain finishes");
	T_OK(pb.n == 3 && strcmp(pb.msgs[0], "c2") == 0 &&
	    strcmp(pb.msgs[1], "c3") == 0 && strcmp(pb.msgs[2], "c4") == 0,
	    "drain: resumes in order with the failed entry");

	/* a rewritten entry with the same first record replaces the old */
	sh = "shardId-d";
	T_INTEQ(put(sh, "50", 0, 0, "60", 0, 0, "old"), 0, "put old");
	T_INTEQ(put(sh, "50", 0, 0, "70", 0, 0, "new"), 0, "put rewritten");
	T_INTEQ(outbox_count(state, sh), 1, "rewrite: still one entry");
	set_ckpt(sh, "65", 0, 0, 0);
	drain(sh, &pb);
	T_INTEQ(pb.calls, 0,
	    "rewrite: the new entry (ends at 70) is not covered by 65");
	set_ckpt(sh, "70", 0, 0, 0);
	drain(sh, &pb);
	T_OK(pb.n == 1 && strcmp(pb.msgs[0], "new") == 0,
	    "rewrite: only the new message is published");

	/* positions inside an aggregate */
	sh = "shardId-e";
	pos_set(&f, "7", 1, 0);
	pos_set(&l, "7", 1, 3);
	name[0] = '\0';
	T_INTEQ(outbox_put(state, sh, &f, &l, "e7", name, sizeof(name)), 0,
	    "outbox_put with subs");
	T_STREQ(name, "7-0.json", "outbox_put: name with the first sub");
	set_ckpt(sh, "7", 1, 2, 0);
	drain(sh, &pb);
	T_INTEQ(pb.calls, 0, "sub: ends at sub 3, checkpoint at sub 2");
	set_ckpt(sh, "7", 1, 3, 0);
	drain(sh, &pb);
	T_INTEQ(pb.n, 1, "sub: covered by a checkpoint at sub 3");
	put(sh, "8", 1, 0, "8", 0, 0, "e8");
	set_ckpt(sh, "8", 1, 99, 0);
	drain(sh, &pb);
	T_INTEQ(pb.calls, 0,
	    "sub: ending with the whole record is after any of its subs");
	set_ckpt(sh, "8", 0, 0, 0);
	drain(sh, &pb);
	T_INTEQ(pb.n, 1, "sub: covered by the whole-record checkpoint");
	/* a sub-record entry and a whole-record entry of the same seq */
	put(sh, "9", 0, 0, "9", 0, 0, "whole9");
	put(sh, "9", 1, 2, "9", 1, 5, "sub9");
	set_ckpt(sh, "10", 0, 0, 0);
	drain(sh, &pb);
	T_OK(pb.n == 2 && strcmp(pb.msgs[0], "sub9") == 0,
	    "sub: a sub-record entry sorts before the whole record");

	/* a done checkpoint covers everything */
	sh = "shardId-f";
	put(sh, "500", 0, 0, "600", 0, 0, "f500");
	set_ckpt(sh, "1", 0, 0, 1);
	T_INTEQ(drain(sh, &pb), 0, "done: drain");
	T_INTEQ(pb.n, 1, "done: a finished shard announces everything");

	/* an empty checkpoint (nothing archived) covers nothing */
	sh = "shardId-g";
	put(sh, "1", 0, 0, "1", 0, 0, "g1");
	set_ckpt(sh, "", 0, 0, 0);
	drain(sh, &pb);
	T_INTEQ(pb.calls, 0, "empty checkpoint covers nothing");

	/* message bytes kept exactly */
	sh = "shardId-h";
	put(sh, "1", 0, 0, "1", 0, 0,
	    "{\"key\":\"a/b\\\"c\",\"u\":\"\xc3\xa9\xe2\x82\xac\"}");
	set_ckpt(sh, "1", 0, 0, 0);
	drain(sh, &pb);
	T_STREQ(pb.msgs[0],
	    "{\"key\":\"a/b\\\"c\",\"u\":\"\xc3\xa9\xe2\x82\xac\"}",
	    "the message is published byte for byte");

	/* an unreadable entry is moved aside, the others still go out */
	sh = "shardId-i";
	put(sh, "1", 0, 0, "1", 0, 0, "i1");
	put(sh, "3", 0, 0, "3", 0, 0, "i3");
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/outbox/%s/2.json", state, sh);
		write_file_atomic(p, "{garbage", 8, 0640);
	}
	set_ckpt(sh, "3", 0, 0, 0);
	T_INTEQ(drain(sh, &pb), 0,
	    "corrupt entry: drain goes on");
	T_OK(pb.n == 2 && strcmp(pb.msgs[0], "i1") == 0 &&
	    strcmp(pb.msgs[1], "i3") == 0, "corrupt entry: the good ones");
	T_OK(entry_exists(sh, "2.json.bad") && !entry_exists(sh, "2.json"),
	    "corrupt entry: moved aside as .bad");

	/* refused inputs */
	errno = 0;
	T_INTEQ(put("../x", "1", 0, 0, "1", 0, 0, "m"), -1,
	    "outbox_put: unsafe shard");
	T_INTEQ(errno, EINVAL, "outbox_put: EINVAL");
	T_INTEQ(put(SHARD, "1a", 0, 0, "1", 0, 0, "m"), -1,
	    "outbox_put: bad first seq");
	T_INTEQ(put(SHARD, "1", 0, 0, "", 0, 0, "m"), -1,
	    "outbox_put: bad last seq");
	T_INTEQ(drain("../x", &pb), -1,
	    "outbox_drain: unsafe shard");
	put_ckpt_text("shardId-j", "{broken");
	T_INTEQ(drain("shardId-j", &pb), -1,
	    "outbox_drain: corrupt checkpoint is an error");

	/*
	 * Was a bug in common/outbox.c outbox_drain, the qsort call, fixed in
	 * 659746b: when the outbox directory exists but no entry is covered by
	 * the checkpoint, ents is NULL and qsort(NULL, 0, ...) is called:
	 * undefined behaviour that UBSan (the sanitized keeper of the e2e
	 * tests) aborts on. Every drain above ran in a child; none may have
	 * died.
	 */
	T_INTEQ(drain_crashes, 0,
	    "outbox_drain with no covered entry: no qsort(NULL, 0)");
	T_INTEQ(drain_leaks, 0, "outbox_drain leaks nothing");
}

/*
 * Issue 12 item 1: a symlink planted where a state file goes is never
 * followed. The checkpoint's temp name pointing at a file of somebody else
 * used to be opened with O_CREAT|O_TRUNC: the checkpoint JSON went into that
 * file and the checkpoint became the link.
 */
static void
test_symlinks(void)
{
	char victim[PATH_MAX], link[PATH_MAX], ck[PATH_MAX];
	struct ckpt c;
	struct buf b;
	struct stat st;
	int fd;

	snprintf(victim, sizeof(victim), "%s/victim", state);
	if (write_file_atomic(victim, "precious\n", 9, 0600) == -1)
		T_OK(0, "write %s: %s", victim, strerror(errno));
	snprintf(link, sizeof(link), "%s/checkpoints/%s.tmp", state,
	    "shardId-sym");
	snprintf(ck, sizeof(ck), "%s/checkpoints/%s", state, "shardId-sym");
	if (symlink(victim, link) == -1)
		T_OK(0, "symlink: %s", strerror(errno));
	set_ckpt("shardId-sym", "42", 0, 0, 0);
	buf_init(&b);
	T_OK(read_file(victim, &b, 100) == 0 && strcmp(b.data,
	    "precious\n") == 0, "a symlink as the temp name: its target is "
	    "untouched");
	T_OK(lstat(ck, &st) == 0 && S_ISREG(st.st_mode),
	    "the checkpoint is a regular file, not the planted link");
	T_OK(ckpt_read(state, "shardId-sym", &c) == 0 &&
	    strcmp(c.pos.seq, "42") == 0, "and it holds the checkpoint");
	T_OK(lstat(link, &st) == -1 && errno == ENOENT,
	    "the planted link is gone");

	/* a lock file that is a link to somebody else's file */
	snprintf(link, sizeof(link), "%s/locks/shardId-sym", state);
	unlink(victim);
	if (symlink(victim, link) == -1)
		T_OK(0, "symlink: %s", strerror(errno));
	fd = ckpt_lock(state, "shardId-sym");
	T_OK(fd == -1 && errno == ELOOP,
	    "ckpt_lock through a symlink is refused (ELOOP)");
	T_OK(lstat(victim, &st) == -1 && errno == ENOENT,
	    "ckpt_lock created nothing at the link's target");
	if (fd != -1)
		close(fd);
	unlink(link);

	/* a hard link to another file, or a FIFO, as the lock file */
	write_file_atomic(victim, "precious\n", 9, 0600);
	if (linkat(AT_FDCWD, victim, AT_FDCWD, link, 0) == -1)
		T_OK(0, "link: %s", strerror(errno));
	fd = ckpt_lock(state, "shardId-sym");
	T_OK(fd == -1 && errno == EPERM,
	    "ckpt_lock on a hard link to another file is refused");
	if (fd != -1)
		close(fd);
	unlink(link);
	if (mkfifo(link, 0600) == -1)
		T_OK(0, "mkfifo: %s", strerror(errno));
	alarm(10);
	fd = ckpt_lock(state, "shardId-sym");
	alarm(0);
	T_OK(fd == -1 && errno == EPERM,
	    "ckpt_lock on a FIFO is refused without blocking");
	if (fd != -1)
		close(fd);
	unlink(link);
	buf_free(&b);
}

int
main(void)
{
	snprintf(state, sizeof(state), "/tmp/kk-test-ckpt.XXXXXX");
	if (mkdtemp(state) == NULL) {
		T_OK(0, "mkdtemp: %s", strerror(errno));
		return t_done();
	}
	mkdirs();
	test_ckpt_rw();
	test_ckpt_corrupt();
	test_pos_cmp();
	test_lock();
	test_symlinks();
	test_outbox();
	rm_rf(state);
	return t_done();
}
