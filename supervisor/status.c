/*
 * status.c: "kinesis-keeper status [-j] config-file" (see kinesis-keeper(8)).
 * Combines what the running keeper says ({state_dir}/status.json, advisory)
 * with what is on disk (checkpoints/, outbox/), which is the truth. Strictly
 * read-only: no lock the keeper could find taken, non-blocking opens, and
 * FIFOs, devices and symlinks inside state_dir refused.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cfg.h"
#include "ckpt.h"
#include "status.h"
#include "util.h"

/* the keeper writes about 130 bytes a shard: 13 MB for 100,000 shards */
#define STATUS_JSON_MAX	(256 * 1024 * 1024)
#define CKPT_MAX	65536

struct shard_status {
	char			*shard;
	const char		*state;		/* status.json's name, or stopped, unknown */
	struct json_object	*sj;		/* its entry in status.json, or NULL */
	int			 ckpt;		/* 1 read, 0 none, -1 unreadable */
	char			 seq[SEQ_MAX];
	int			 has_sub;
	int64_t			 sub;
	int			 done;
	char			 key[1024];
	int64_t			 ckpt_ms;	/* mtime of the checkpoint: its flush */
	int			 pending;
	int64_t			 oldest_ms;	/* oldest outbox entry, 0 if none */
	int			 healthy;
};

struct status {
	const struct cfg	*cfg;
	int			 sfd;		/* state_dir */
	int			 running;
	pid_t			 pid;		/* the lock holder, 0 if unknown */
	struct json_object	*doc;		/* status.json, NULL if none */
	const char		*doc_problem;	/* why it is not used */
	int			 doc_current;	/* written by the running keeper */
	struct shard_status	*sh;
	size_t			 n;
	int			 pending;
	int64_t			 oldest_ms;
	int			 healthy;
	int64_t			 now;
};

static void
status_usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper status [-j] [-D key=value]... "
	    "config-file\n");
}

/*
 * Read a regular file below dfd. O_NOFOLLOW and O_NONBLOCK: a symlink is
 * refused, a FIFO never blocks the open, and fstat refuses anything but a
 * regular file before a byte is read.
 */
static int
read_at(int dfd, const char *name, struct buf *b, size_t max,
    struct stat *stp)
{
	struct stat st;
	ssize_t r;
	int fd, e;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	buf_reset(b);
	buf_reserve(b, (size_t)st.st_size + 1);
	for (;;) {
		buf_reserve(b, 4096);
		r = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	b->data[b->len] = '\0';
	if (stp != NULL)
		*stp = st;
	close(fd);
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* A directory below dfd, as a DIR (NULL if absent or not a directory). */
static DIR *
opendir_at(int dfd, const char *name)
{
	DIR *d;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/*
 * Is a keeper running on this state_dir, and which? First /proc/locks: it
 * names the holder of the keeper's flock without us taking any lock (a
 * keeper starting at that moment would find the directory locked and
 * refuse to run). If /proc/locks says nothing, a non-blocking shared lock,
 * let go at once, settles it.
 */
static void
find_keeper(struct status *s)
{
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int fd;

	s->running = 0;
	s->pid = 0;
	if ((fd = openat(s->sfd, "lock", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY)) == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	if ((f = fopen("/proc/locks", "re")) != NULL) {
		while (getline(&line, &cap, f) != -1) {
			unsigned int maj, min;
			unsigned long ino;
			char type[16], mode[16];
			int pid;

			/* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF";
			 * waiters ("1: -> FLOCK ...") hold nothing */
			if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%lu", type,
			    mode, &pid, &maj, &min, &ino) != 6)
				continue;
			if (strcmp(type, "FLOCK") != 0 ||
			    strcmp(mode, "WRITE") != 0 || ino != st.st_ino ||
			    maj != major(st.st_dev) || min != minor(st.st_dev))
				continue;
			s->running = 1;
			s->pid = pid;
			break;
		}
		free(line);
		fclose(f);
	}
	if (!s->running) {
		if (flock(fd, LOCK_SH | LOCK_NB) == -1)
			s->running = errno == EWOULDBLOCK;
		else
			flock(fd, LOCK_UN);
	}
	close(fd);
}

static const char *
jstr(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int
jint(struct json_object *o, const char *name, int64_t *out)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	*out = json_object_get_int64(v);
	return 1;
}

static void
load_doc(struct status *s)
{
	struct buf b;
	struct json_object *j;
	int64_t pid;

	buf_init(&b);
	if (read_at(s->sfd, "status.json", &b, STATUS_JSON_MAX, NULL) == -1) {
		s->doc_problem = errno == ENOENT ? "no status.json" :
		    errno == ELOOP ? "status.json is a symlink" :
		    errno == EINVAL ? "status.json is not a regular file" :
		    "status.json unreadable";
		buf_free(&b);
		return;
	}
	j = json_tokener_parse(b.data);
	buf_free(&b);
	if (j == NULL || !json_object_is_type(j, json_type_object)) {
		s->doc_problem = "status.json is not a JSON object";
		json_object_put(j);
		return;
	}
	s->doc = j;
	/* the file outlives its keeper: only the running one's is current */
	s->doc_current = s->running && jint(j, "pid", &pid) &&
	    (s->pid == 0 || pid == s->pid);
	if (s->running && !s->doc_current)
		s->doc_problem = "status.json is from an earlier run";
}

static void
shard_add(struct status *s, size_t *cap, const char *shard,
    struct json_object *sj)
{
	if (s->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		s->sh = xrealloc(s->sh, *cap * sizeof(*s->sh));
	}
	memset(&s->sh[s->n], 0, sizeof(s->sh[0]));
	s->sh[s->n].shard = xstrdup(shard);
	s->sh[s->n++].sj = sj;
}

static int
shard_order(const void *a, const void *b)
{
	return strcmp(((const struct shard_status *)a)->shard,
	    ((const struct shard_status *)b)->shard);
}

/*
 * Every shard the keeper or the disk knows, sorted, each once. Sorting and
 * then merging keeps this O(n log n): a stream may have many thousands.
 */
static void
collect_shards(struct status *s)
{
	struct json_object *arr, *o;
	struct dirent *de;
	const char *id;
	size_t cap = 0, i, j;
	DIR *d;

	if (s->doc != NULL && json_object_object_get_ex(s->doc, "shards",
	    &arr) && json_object_is_type(arr, json_type_array))
		for (i = 0; i < json_object_array_length(arr); i++) {
			o = json_object_array_get_idx(arr, i);
			if ((id = jstr(o, "shard")) != NULL &&
			    safe_component(id))
				shard_add(s, &cap, id, o);
		}
	if ((d = opendir_at(s->sfd, "checkpoints")) != NULL) {
		while ((de = readdir(d)) != NULL)
			/* shard ids have no dot: temp files and
			 * checkpoints moved aside do */
			if (safe_component(de->d_name) &&
			    strchr(de->d_name, '.') == NULL)
				shard_add(s, &cap, de->d_name, NULL);
		closedir(d);
	}
	if ((d = opendir_at(s->sfd, "outbox")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (safe_component(de->d_name) &&
			    strchr(de->d_name, '.') == NULL)
				shard_add(s, &cap, de->d_name, NULL);
		closedir(d);
	}
	if (s->n == 0)
		return;
	qsort(s->sh, s->n, sizeof(*s->sh), shard_order);
	for (i = 0, j = 1; j < s->n; j++) {
		if (strcmp(s->sh[i].shard, s->sh[j].shard) == 0) {
			if (s->sh[i].sj == NULL)
				s->sh[i].sj = s->sh[j].sj;
			free(s->sh[j].shard);
		} else
			s->sh[++i] = s->sh[j];
	}
	s->n = i + 1;
}

static void
read_checkpoint(struct status *s, struct shard_status *sh)
{
	struct json_object *j, *v;
	struct stat st;
	struct buf b;
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s", sh->shard);
	if ((fd = openat(s->sfd, "checkpoints", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	buf_init(&b);
	if (read_at(fd, path, &b, CKPT_MAX, &st) == -1) {
		sh->ckpt = errno == ENOENT ? 0 : -1;
		goto out;
	}
	sh->ckpt = -1;
	if ((j = json_tokener_parse(b.data)) == NULL)
		goto out;
	if (json_object_is_type(j, json_type_object)) {
		if (json_object_object_get_ex(j, "seq", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    seq_valid(json_object_get_string(v))) {
			str_copy(sh->seq, json_object_get_string(v),
			    sizeof(sh->seq));
			sh->ckpt = 1;
		} else if (!json_object_object_get_ex(j, "seq", NULL))
			sh->ckpt = 1;	/* nothing archived yet, e.g. done */
		if (json_object_object_get_ex(j, "sub", &v) &&
		    json_object_is_type(v, json_type_int)) {
			sh->has_sub = 1;
			sh->sub = json_object_get_int64(v);
		}
		if (json_object_object_get_ex(j, "done", &v) &&
		    json_object_is_type(v, json_type_boolean))
			sh->done = json_object_get_boolean(v);
		if (jstr(j, "key") != NULL)
			str_copy(sh->key, jstr(j, "key"), sizeof(sh->key));
		sh->ckpt_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
	}
	json_object_put(j);
out:
	buf_free(&b);
	close(fd);
}

/* Outbox entries of the shard ({first}.json, see outbox.h) and the oldest. */
static void
read_outbox(struct status *s, struct shard_status *sh)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int ofd;
	size_t l;

	if ((ofd = openat(s->sfd, "outbox", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	d = opendir_at(ofd, sh->shard);
	if (d == NULL) {
		close(ofd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t ms;

		l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 5 ||
		    strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(st.st_mode))
			continue;
		ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		sh->pending++;
		if (sh->oldest_ms == 0 || ms < sh->oldest_ms)
			sh->oldest_ms = ms;
	}
	closedir(d);
	close(ofd);
	s->pending += sh->pending;
	if (sh->oldest_ms != 0 && (s->oldest_ms == 0 ||
	    sh->oldest_ms < s->oldest_ms))
		s->oldest_ms = sh->oldest_ms;
}

static const char *
state_text(const char *state)
{
	static const char *const names[][2] = {
		{ "starting", "starting" }, { "running", "running" },
		{ "waiting", "waiting for parents" }, { "stopping", "stopping" },
		{ "backoff", "backing off" }, { "done", "done" },
		{ "failed", "failed" }, { "stopped", "stopped" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(state, names[i][0]) == 0)
			return names[i][1];
	return "unknown";
}

static void
judge(struct status *s)
{
	static const char *const fine[] = { "starting", "running", "waiting",
	    "done" };
	size_t i, j;

	s->healthy = s->n > 0 && s->running && s->doc_current &&
	    (!s->doc_current || jstr(s->doc, "error") == NULL);
	for (i = 0; i < s->n; i++) {
		struct shard_status *sh = &s->sh[i];
		const char *st = NULL;

		if (!s->running)
			st = sh->done ? "done" : "stopped";
		else if (s->doc_current && sh->sj != NULL)
			st = jstr(sh->sj, "state");
		if (st == NULL && s->running && sh->done)
			st = "done";
		sh->state = st != NULL && strcmp(state_text(st), "unknown") != 0 ?
		    st : "unknown";
		sh->healthy = sh->ckpt != -1;
		if (s->running && s->doc_current && jstr(sh->sj, "error"))
			sh->healthy = 0;
		for (j = 0; j < sizeof(fine) / sizeof(fine[0]); j++)
			if (strcmp(sh->state, fine[j]) == 0)
				break;
		if (j == sizeof(fine) / sizeof(fine[0]))
			sh->healthy = 0;
		if (!sh->healthy)
			s->healthy = 0;
	}
}

static void
fmt_time(int64_t ms, char *out, size_t len)
{
	if (ms <= 0)
		snprintf(out, len, "never");
	else
		fmt_iso8601_ms(ms, out, len);
}

/* Epoch ms of an ISO 8601 UTC time with milliseconds, 0 if it is not one. */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	int ms = 0;
	char *end;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	if (*end == '.')
		ms = (int)strtol(end + 1, &end, 10);
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static const char *
last_key(const struct status *s, const struct shard_status *sh)
{
	const char *k = s->doc_current ? jstr(sh->sj, "last_key") : NULL;

	if (k == NULL && sh->key[0] != '\0')
		k = sh->key;
	return k;
}

static int64_t
last_flush(const struct status *s, const struct shard_status *sh)
{
	int64_t t = s->doc_current ? parse_time(jstr(sh->sj, "last_flush")) :
	    0;

	/* the checkpoint is stored right after each flush */
	if (t == 0 && sh->ckpt == 1 && sh->seq[0] != '\0')
		t = sh->ckpt_ms;
	return t;
}

static void
print_text(const struct status *s)
{
	char t1[40], t2[40];
	const char *err;
	size_t i;

	printf("stream %s, region %s, state_dir %s: ", s->cfg->stream,
	    s->cfg->region ? s->cfg->region : "unset", s->cfg->state_dir);
	if (!s->running)
		printf("no keeper running\n");
	else {
		printf("keeper running");
		if (s->pid > 0)
			printf(" (pid %d)", (int)s->pid);
		if (s->doc_current) {
			fmt_time(parse_time(jstr(s->doc, "started")), t1,
			    sizeof(t1));
			fmt_time(parse_time(jstr(s->doc, "updated")), t2,
			    sizeof(t2));
			printf(", started %s, status of %s", t1, t2);
		} else if (s->doc_problem != NULL)
			printf(", %s", s->doc_problem);
		printf("\n");
	}
	if (s->doc_current && (err = jstr(s->doc, "error")) != NULL) {
		fmt_time(parse_time(jstr(s->doc, "error_time")), t1,
		    sizeof(t1));
		printf("keeper error since %s: %s\n", t1, err);
	}
	printf("notifications pending: %d", s->pending);
	if (s->pending > 0)
		printf(" (oldest %llds old)",
		    (long long)((s->now - s->oldest_ms) / 1000));
	printf("\n");
	if (s->doc_current && jstr(s->doc, "worker_id") != NULL) {
		int64_t held = 0;

		(void)jint(s->doc, "leases_held", &held);
		printf("leases: worker_id %s, %lld held\n",
		    jstr(s->doc, "worker_id"), (long long)held);
	}
	for (i = 0; i < s->n; i++) {
		const struct shard_status *sh = &s->sh[i];
		const char *k = last_key(s, sh);
		int64_t t = last_flush(s, sh);

		printf("%s: %s, checkpoint ", sh->shard, state_text(sh->state));
		if (sh->ckpt == -1)
			printf("unreadable");
		else if (sh->ckpt == 0 || sh->seq[0] == '\0')
			printf("none");
		else if (sh->has_sub)
			printf("%s (user record %lld)", sh->seq,
			    (long long)sh->sub);
		else
			printf("%s", sh->seq);
		if (sh->done)
			printf(" (shard end)");
		fmt_time(t, t1, sizeof(t1));
		printf(", last flush %s", t1);
		if (t > 0)
			printf(" (%llds ago)", (long long)((s->now - t) / 1000));
		if (k != NULL)
			printf(" %s", k);
		printf(", notifications pending %d", sh->pending);
		if (sh->pending > 0)
			printf(" (oldest %llds old)",
			    (long long)((s->now - sh->oldest_ms) / 1000));
		if (s->doc_current && jstr(sh->sj, "lease") != NULL)
			printf(", lease %s", jstr(sh->sj, "lease"));
		if (s->doc_current && (err = jstr(sh->sj, "error")) != NULL) {
			fmt_time(parse_time(jstr(sh->sj, "error_time")), t1,
			    sizeof(t1));
			printf(", error since %s: %s", t1, err);
		}
		printf("\n");
	}
	if (s->n == 0)
		printf("no shard known yet (no checkpoint, no status)\n");
	printf("%s\n", s->healthy ? "healthy" : "not healthy");
}

static struct json_object *
jtime(int64_t ms)
{
	char t[40];

	if (ms <= 0)
		return NULL;
	fmt_iso8601_ms(ms, t, sizeof(t));
	return json_object_new_string(t);
}

static struct json_object *
jcopy(struct json_object *from, const char *name)
{
	struct json_object *v;

	if (from == NULL || !json_object_object_get_ex(from, name, &v))
		return NULL;
	return json_object_get(v);
}

static void
print_json(const struct status *s)
{
	struct json_object *j, *k, *arr, *o, *c;
	size_t i;

	j = json_object_new_object();
	json_object_object_add(j, "stream", json_object_new_string(
	    s->cfg->stream));
	json_object_object_add(j, "region", s->cfg->region ?
	    json_object_new_string(s->cfg->region) : NULL);
	json_object_object_add(j, "state_dir", json_object_new_string(
	    s->cfg->state_dir));
	json_object_object_add(j, "healthy", json_object_new_boolean(
	    s->healthy));
	k = json_object_new_object();
	json_object_object_add(k, "running", json_object_new_boolean(
	    s->running));
	json_object_object_add(k, "pid", s->running && s->pid > 0 ?
	    json_object_new_int(s->pid) : NULL);
	json_object_object_add(k, "status_current", json_object_new_boolean(
	    s->doc_current));
	json_object_object_add(k, "problem", !s->doc_current &&
	    s->doc_problem ? json_object_new_string(s->doc_problem) : NULL);
	json_object_object_add(k, "keeper_version", s->doc_current ?
	    jcopy(s->doc, "keeper_version") : NULL);
	json_object_object_add(k, "started", s->doc_current ?
	    jcopy(s->doc, "started") : NULL);
	json_object_object_add(k, "updated", s->doc_current ?
	    jcopy(s->doc, "updated") : NULL);
	json_object_object_add(k, "stopping", s->doc_current ?
	    jcopy(s->doc, "stopping") : NULL);
	json_object_object_add(k, "error", s->doc_current ?
	    jcopy(s->doc, "error") : NULL);
	json_object_object_add(k, "error_time", s->doc_current ?
	    jcopy(s->doc, "error_time") : NULL);
	json_object_object_add(k, "worker_id", s->doc_current ?
	    jcopy(s->doc, "worker_id") : NULL);
	json_object_object_add(k, "leases_held", s->doc_current ?
	    jcopy(s->doc, "leases_held") : NULL);
	json_object_object_add(j, "keeper", k);
	json_object_object_add(j, "notifications_pending",
	    json_object_new_int(s->pending));
	json_object_object_add(j, "oldest_pending", jtime(s->oldest_ms));
	arr = json_object_new_array();
	for (i = 0; i < s->n; i++) {
		const struct shard_status *sh = &s->sh[i];
		struct json_object *sj = s->doc_current ? sh->sj : NULL;
		const char *key = last_key(s, sh);

		o = json_object_new_object();
		json_object_object_add(o, "shard", json_object_new_string(
		    sh->shard));
		json_object_object_add(o, "state", json_object_new_string(
		    sh->state));
		json_object_object_add(o, "healthy", json_object_new_boolean(
		    sh->healthy));
		if (sh->ckpt == 1) {
			c = json_object_new_object();
			json_object_object_add(c, "seq", sh->seq[0] ?
			    json_object_new_string(sh->seq) : NULL);
			json_object_object_add(c, "sub", sh->has_sub ?
			    json_object_new_int64(sh->sub) : NULL);
			json_object_object_add(c, "done",
			    json_object_new_boolean(sh->done));
		} else
			c = NULL;
		json_object_object_add(o, "checkpoint", c);
		json_object_object_add(o, "checkpoint_readable",
		    json_object_new_boolean(sh->ckpt != -1));
		json_object_object_add(o, "last_flush", jtime(last_flush(s,
		    sh)));
		json_object_object_add(o, "last_key", key ?
		    json_object_new_string(key) : NULL);
		json_object_object_add(o, "last_records", jcopy(sj,
		    "last_records"));
		json_object_object_add(o, "notifications_pending",
		    json_object_new_int(sh->pending));
		json_object_object_add(o, "oldest_pending", jtime(
		    sh->oldest_ms));
		json_object_object_add(o, "pid", jcopy(sj, "pid"));
		json_object_object_add(o, "restarts", jcopy(sj, "restarts"));
		json_object_object_add(o, "next_start", jcopy(sj,
		    "next_start"));
		json_object_object_add(o, "millis_behind", jcopy(sj,
		    "millis_behind"));
		json_object_object_add(o, "error", jcopy(sj, "error"));
		json_object_object_add(o, "error_time", jcopy(sj,
		    "error_time"));
		json_object_object_add(o, "lease", jcopy(sj, "lease"));
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "shards", arr);
	printf("%s\n", json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

int
status_main(int argc, char *argv[])
{
	struct status s;
	struct cfg cfg;
	struct cfg_errors errs;
	char **overrides = NULL;
	size_t nover = 0, i;
	int ch, json = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "jD:")) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'D':
			overrides = xrealloc(overrides,
			    (nover + 1) * sizeof(char *));
			overrides[nover++] = optarg;
			break;
		default:
			status_usage();
			free(overrides);
			return EX_FATAL;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		status_usage();
		free(overrides);
		return EX_FATAL;
	}
	memset(&errs, 0, sizeof(errs));
	memset(&cfg, 0, sizeof(cfg));
	/* read-only: state_dir is looked at, never created */
	if (cfg_load(&cfg, argv[0], overrides, nover, 0, &errs, NULL) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		free(overrides);
		return EX_CONFIG_;
	}
	cfg_errors_free(&errs);
	free(overrides);

	memset(&s, 0, sizeof(s));
	s.cfg = &cfg;
	s.now = (int64_t)wall_ms();
	if ((s.sfd = open(cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		fprintf(stderr, "kinesis-keeper status: state_dir %s: %s\n",
		    cfg.state_dir, strerror(errno));
		if (json) {
			/* still one document for a monitor */
			s.sfd = -1;
			print_json(&s);
		}
		cfg_free(&cfg);
		return EX_FATAL;
	}
	find_keeper(&s);
	load_doc(&s);
	collect_shards(&s);
	for (i = 0; i < s.n; i++) {
		read_checkpoint(&s, &s.sh[i]);
		read_outbox(&s, &s.sh[i]);
	}
	judge(&s);
	if (json)
		print_json(&s);
	else
		print_text(&s);
	fflush(stdout);

	for (i = 0; i < s.n; i++)
		free(s.sh[i].shard);
	free(s.sh);
	json_object_put(s.doc);
	close(s.sfd);
	cfg_free(&cfg);
	return s.healthy ? EX_OK_ : EX_FATAL;
}
