/*
 * keeper.c: kinesis-keeper, the supervisor (see kinesis-keeper(8)). It reads
 * the stream's shard topology, runs one kinesis-keeper-worker per shard in
 * topology order (parents before children), restarts crashed workers with
 * backoff, publishes the notifications the workers leave in the outbox, and
 * stops them all gracefully. One poll loop; signals arrive on a signalfd.
 */
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "aws.h"
#include "cfg.h"
#include "ckpt.h"
#include "creds.h"
#include "kinesis.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "outbox.h"
#include "sns.h"
#include "util.h"

#define WORKER_NAME		"kinesis-keeper-worker"
#define HEALTHY_MS		10000	/* a worker up this long resets its backoff */
#define TOPOLOGY_RETRY_MS	5000
#define OUTBOX_RETRY_MS		5000
#define HELLO_TIMEOUT_MS	15000

enum slot_state {
	SLOT_WAITING,		/* parents not done yet */
	SLOT_STARTING,		/* forked, no HELLO yet */
	SLOT_RUNNING,
	SLOT_STOPPING,		/* SIGTERM sent */
	SLOT_BACKOFF,		/* died, restart at next_start */
	SLOT_DONE,		/* shard end archived */
	SLOT_FAILED		/* exit 78: not respawned */
};

static const char *const state_names[] = {
	"WAITING", "STARTING", "RUNNING", "STOPPING", "BACKOFF", "DONE", "FAILED"
};

struct slot {
	char		*shard;
	char		*parent;
	char		*adjacent;
	enum slot_state	 state;
	pid_t		 pid;
	int		 fd;
	uint32_t	 gen;
	struct msgbuf	 mb;
	unsigned	 restarts;
	uint64_t	 next_start;
	uint64_t	 started_ms;
	int		 restart_now;	/* stopped for a reload: respawn at once */
	uint64_t	 stop_deadline;	/* STOPPING: SIGKILL after this */
	int		 in_topology;
	int		 killed;	/* we sent SIGKILL: stay quiet about it */
};

static struct {
	const char	*cfgpath;
	char		*cfgtext;
	struct cfg	 cfg;
	char		**overrides;
	size_t		 noverrides;
	int		 debug;
	int		 verbose;
	char		 worker_path[PATH_MAX];
	struct creds	*creds;
	struct aws_ctx	 aws;
	struct slot	*slots;
	size_t		 nslots;
	uint32_t	 gen;
	int		 sigfd;
	int		 stopping;
	int		 sigchld;	/* reap on the next turn */
	uint64_t	 stop_deadline;
	uint64_t	 next_topology;
	uint64_t	 next_outbox;
	int		 topology_ok;
	int		 outbox_pending;
	uint64_t	 next_metrics;
} k;

static void
usage(void)
{
	fprintf(stderr, "usage: kinesis-keeper [-dnvV] [-D key=value]... "
	    "config-file\n");
	exit(EX_FATAL);
}

static void
slot_set(struct slot *s, enum slot_state st)
{
	if (s->state != st)
		log_debug("%s: %s -> %s", s->shard, state_names[s->state],
		    state_names[st]);
	s->state = st;
}

static struct slot *
slot_find(const char *shard)
{
	size_t i;

	for (i = 0; i < k.nslots; i++)
		if (strcmp(k.slots[i].shard, shard) == 0)
			return &k.slots[i];
	return NULL;
}

static int
slot_alive(const struct slot *s)
{
	return s->state == SLOT_STARTING || s->state == SLOT_RUNNING ||
	    s->state == SLOT_STOPPING;
}

/*
 * Checked between retries and by curl while a request is in flight: a
 * SIGTERM (still pending: signals wait in the signalfd) cuts a hung SNS or
 * Kinesis call short, and during the stop nothing runs past the deadline.
 * What was not published stays in the outbox.
 */
static int
sup_interrupted(void)
{
	sigset_t p;

	if (k.stopping)
		return now_ms() >= k.stop_deadline;
	if (sigpending(&p) == -1)
		return 0;
	return sigismember(&p, SIGTERM) || sigismember(&p, SIGINT);
}

/* SNS publication of one outbox entry. */
static int
publish(void *arg, const char *shard, const char *message)
{
	struct aws_result res;
	int r;

	if (k.cfg.sns_topic_arn == NULL)
		return 0;	/* notifications turned off: discard */
	if (sup_interrupted())
		return -1;	/* kept for later */
	aws_result_init(&res);
	r = sns_publish(&k.aws, k.cfg.sns_topic_arn, message, k.cfg.stream,
	    shard, &res);
	if (r == -1) {
		metrics_notification_error();
		log_warnx("%s: notification not published: %s; will retry",
		    shard, aws_strerror(&res));
	} else
		log_debug("%s: notification published", shard);
	aws_result_free(&res);
	return r;
}

static int
drain_shard(const char *shard)
{
	int r = outbox_drain(k.cfg.state_dir, shard, publish, NULL);

	if (r != 0) {
		k.outbox_pending = 1;
		if (k.next_outbox == 0)
			k.next_outbox = now_ms() + OUTBOX_RETRY_MS;
	}
	return r;
}

/* Every shard directory in the outbox, including shards no longer listed. */
static void
drain_all(void)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;

	k.outbox_pending = 0;
	k.next_outbox = 0;
	snprintf(dir, sizeof(dir), "%s/outbox", k.cfg.state_dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (safe_component(de->d_name))
			drain_shard(de->d_name);
	closedir(d);
}

static int
shard_done_on_disk(const char *shard)
{
	struct ckpt ck;

	return ckpt_read(k.cfg.state_dir, shard, &ck) == 0 && ck.done;
}

/* A parent allows its children once it is done and announced, or when it
 * is no longer in the topology (aged out of retention). */
static int
parent_ready(const char *parent)
{
	struct slot *p;

	if (parent == NULL)
		return 1;
	p = slot_find(parent);
	if (p == NULL || !p->in_topology)
		return 1;
	return p->state == SLOT_DONE &&
	    (k.cfg.sns_topic_arn == NULL ||
	    outbox_count(k.cfg.state_dir, parent) == 0);
}

static void
slot_spawn(struct slot *s)
{
	int sv[2];
	pid_t pid;
	char genstr[16];
	char **argv;
	size_t n = 0, i;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", s->shard);
		goto backoff;
	}
	k.gen++;
	snprintf(genstr, sizeof(genstr), "%u", k.gen);
	argv = xcalloc(10 + 2 * k.noverrides + (size_t)k.verbose,
	    sizeof(char *));
	argv[n++] = xstrdup(WORKER_NAME);
	if (k.debug)
		argv[n++] = xstrdup("-d");
	for (i = 0; i < (size_t)k.verbose; i++)
		argv[n++] = xstrdup("-v");
	for (i = 0; i < k.noverrides; i++) {
		argv[n++] = xstrdup("-D");
		argv[n++] = xstrdup(k.overrides[i]);
	}
	argv[n++] = xstrdup("-s");
	argv[n++] = xstrdup(s->shard);
	argv[n++] = xstrdup("-g");
	argv[n++] = xstrdup(genstr);
	argv[n++] = xstrdup(k.cfgpath);
	argv[n] = NULL;

	switch ((pid = fork())) {
	case -1:
		log_warn("%s: fork", s->shard);
		close(sv[0]);
		close(sv[1]);
		for (i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		goto backoff;
	case 0:
		/* child: own session, its end of the pair on fd 3, nothing
		 * else open, default signals; then exec (no curl or OpenSSL
		 * state is carried over: the worker initialises its own) */
		setsid();
		if (sv[1] != 3) {
			if (dup2(sv[1], 3) == -1)
				_exit(EX_FATAL);
		} else if (fcntl(3, F_SETFD, 0) == -1)
			_exit(EX_FATAL);
		closefrom_(4);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(k.worker_path, argv);
		_exit(127);
	default:
		break;
	}
	for (i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("%s: O_NONBLOCK", s->shard);
	s->pid = pid;
	s->fd = sv[0];
	s->gen = k.gen;
	s->started_ms = now_ms();
	s->killed = 0;
	s->restart_now = 0;
	msgbuf_free(&s->mb);
	msgbuf_init(&s->mb);
	slot_set(s, SLOT_STARTING);
	log_debug("%s: started worker pid %d (generation %u)", s->shard,
	    (int)pid, s->gen);
	/* the worker parses exactly the text we validated */
	if (msg_send(s->fd, MSG_CONFIG, s->gen, k.cfgtext, strlen(k.cfgtext),
	    5000) == -1)
		log_warn("%s: send configuration", s->shard);
	return;
backoff:
	s->next_start = now_ms() + k.cfg.restart_min_ms;
	slot_set(s, SLOT_BACKOFF);
}

static void
slot_kill(struct slot *s, int sig)
{
	if (s->pid > 0 && kill(s->pid, sig) == -1 && errno != ESRCH)
		log_warn("%s: kill %d", s->shard, (int)s->pid);
	if (sig == SIGKILL)
		s->killed = 1;
}

/* Start whatever may run now. */
static void
schedule(void)
{
	uint64_t now = now_ms();
	size_t i;

	if (k.stopping)
		return;
	for (i = 0; i < k.nslots; i++) {
		struct slot *s = &k.slots[i];

		if (!s->in_topology)
			continue;
		if (s->state == SLOT_WAITING) {
			if (shard_done_on_disk(s->shard)) {
				slot_set(s, SLOT_DONE);
				continue;
			}
			if (parent_ready(s->parent) &&
			    parent_ready(s->adjacent)) {
				log_info("%s: starting worker", s->shard);
				slot_spawn(s);
			}
		} else if (s->state == SLOT_BACKOFF && now >= s->next_start)
			slot_spawn(s);
	}
}

static void
topology_refresh(void)
{
	struct kinesis_shard *sh;
	struct aws_result res;
	size_t n, i, j;

	aws_result_init(&res);
	if (kinesis_list_shards(&k.aws, k.cfg.stream, &sh, &n, &res) == -1) {
		if (strcmp(res.code, "ResourceNotFoundException") == 0)
			log_warnx("stream %s does not exist (yet); waiting",
			    k.cfg.stream);
		else
			log_warnx("list shards of %s: %s; retrying",
			    k.cfg.stream, aws_strerror(&res));
		aws_result_free(&res);
		k.next_topology = now_ms() + (k.topology_ok ?
		    k.cfg.topology_refresh_ms : TOPOLOGY_RETRY_MS);
		return;
	}
	aws_result_free(&res);
	for (j = 0; j < k.nslots; j++)
		k.slots[j].in_topology = 0;
	for (i = 0; i < n; i++) {
		struct slot *s = slot_find(sh[i].id);

		if (s == NULL) {
			k.slots = xrealloc(k.slots, (k.nslots + 1) *
			    sizeof(*k.slots));
			s = &k.slots[k.nslots++];
			memset(s, 0, sizeof(*s));
			s->shard = xstrdup(sh[i].id);
			s->fd = -1;
			msgbuf_init(&s->mb);
			s->state = SLOT_WAITING;
			if (k.topology_ok)
				log_info("%s: new shard%s%s%s%s", s->shard,
				    sh[i].parent ? " (parent " : "",
				    sh[i].parent ? sh[i].parent : "",
				    sh[i].adjacent_parent ? ", " : "",
				    sh[i].adjacent_parent ?
				    sh[i].adjacent_parent : "");
		}
		free(s->parent);
		free(s->adjacent);
		s->parent = sh[i].parent ? xstrdup(sh[i].parent) : NULL;
		s->adjacent = sh[i].adjacent_parent ?
		    xstrdup(sh[i].adjacent_parent) : NULL;
		s->in_topology = 1;
	}
	if (!k.topology_ok)
		log_info("stream %s: %zu shards", k.cfg.stream, n);
	kinesis_shards_free(sh, n);
	k.topology_ok = 1;
	k.next_topology = now_ms() + k.cfg.topology_refresh_ms;
}

static const char *
describe_status(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "terminated by signal %d%s", WTERMSIG(st),
		    WCOREDUMP(st) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "stopped (status %d)", st);
	return buf;
}

static void	slot_read(struct slot *);

static void
slot_exited(struct slot *s, int st)
{
	char why[64];
	uint64_t up = now_ms() - s->started_ms, delay;
	int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	int i;

	/* the pid is gone (never signal it again); its last words (FLUSH,
	 * STATS, DONE) may still wait in the socket: read them first */
	s->pid = 0;
	for (i = 0; s->fd != -1 && i < 10000; i++)
		slot_read(s);
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	drain_shard(s->shard);
	if (k.stopping) {
		if (!clean && !s->killed)
			log_warnx("%s: worker %s", s->shard,
			    describe_status(st, why, sizeof(why)));
		slot_set(s, shard_done_on_disk(s->shard) ? SLOT_DONE :
		    SLOT_WAITING);
		return;
	}
	if (clean && shard_done_on_disk(s->shard)) {
		log_info("%s: shard done", s->shard);
		slot_set(s, SLOT_DONE);
		return;
	}
	if (s->restart_now) {
		if (!clean)
			log_warnx("%s: worker %s while stopping for the reload",
			    s->shard, describe_status(st, why, sizeof(why)));
		slot_set(s, SLOT_WAITING);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == EX_CONFIG_) {
		log_warnx("%s: worker exited with status 78 (configuration): "
		    "not restarting it; fix the configuration and reload",
		    s->shard);
		slot_set(s, SLOT_FAILED);
		return;
	}
	if (!s->killed || !clean)
		log_warnx("%s: worker %s", s->shard,
		    describe_status(st, why, sizeof(why)));
	if (up >= HEALTHY_MS)
		s->restarts = 0;
	/* jittered, but always within restart_min..restart_max */
	delay = backoff_ms(s->restarts, k.cfg.restart_min_ms,
	    k.cfg.restart_max_ms);
	if (delay < k.cfg.restart_min_ms)
		delay = k.cfg.restart_min_ms;
	s->next_start = now_ms() + delay;
	s->restarts++;
	metrics_restart(s->shard);
	log_info("%s: restarting worker in %llu ms", s->shard,
	    (unsigned long long)(s->next_start - now_ms()));
	slot_set(s, SLOT_BACKOFF);
}

static void
reap(void)
{
	pid_t pid;
	int st;
	size_t i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < k.nslots; i++)
			if (k.slots[i].pid == pid)
				break;
		if (i == k.nslots)
			continue;
		slot_exited(&k.slots[i], st);
	}
}

/* A worker that breaks the protocol is killed and restarted: its messages
 * are gossip, our table is the truth. */
static void
slot_protocol_error(struct slot *s, const char *what)
{
	log_warnx("%s: worker pid %d: %s; killing it", s->shard, (int)s->pid,
	    what);
	slot_kill(s, SIGKILL);
	s->killed = 0;	/* its death is worth a log line */
	close(s->fd);
	s->fd = -1;
}

static void
slot_read(struct slot *s)
{
	struct msg m;
	ssize_t n;
	int r;

	n = msgbuf_read(&s->mb, s->fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: the worker is exiting; reap() will tell why */
		close(s->fd);
		s->fd = -1;
		return;
	}
	memset(&m, 0, sizeof(m));
	while ((r = msg_get(&s->mb, &m)) == 1) {
		if (m.hdr.gen != s->gen) {
			log_debug("%s: stale message (generation %u)",
			    s->shard, m.hdr.gen);
			continue;
		}
		switch (m.hdr.type) {
		case MSG_HELLO: {
			const struct msg_hello *h = m.payload;

			if (s->state != SLOT_STARTING ||
			    strncmp(h->shard, s->shard, sizeof(h->shard)) != 0) {
				slot_protocol_error(s, "unexpected HELLO");
				return;
			}
			slot_set(s, SLOT_RUNNING);
			break;
		}
		case MSG_FLUSH: {
			const struct msg_flush *f = m.payload;

			if (s->state == SLOT_STARTING) {
				slot_protocol_error(s, "FLUSH before HELLO");
				return;
			}
			log_debug("%s: flush of %llu records reported",
			    s->shard, (unsigned long long)f->records);
			metrics_flush(s->shard, f);
			drain_shard(s->shard);
			break;
		}
		case MSG_STATS:
			if (s->state == SLOT_STARTING) {
				slot_protocol_error(s, "message before HELLO");
				return;
			}
			metrics_stats(s->shard, m.payload);
			break;
		case MSG_DONE:
			if (s->state == SLOT_STARTING) {
				slot_protocol_error(s, "message before HELLO");
				return;
			}
			/* its children may be new to us: look now */
			log_info("%s: shard end reached", s->shard);
			k.next_topology = now_ms();
			break;
		default:
			slot_protocol_error(s, "unexpected message type");
			return;
		}
	}
	if (r == -1)
		slot_protocol_error(s, "malformed message");
}

static void
stop_all(void)
{
	size_t i;

	for (i = 0; i < k.nslots; i++) {
		struct slot *s = &k.slots[i];

		if (slot_alive(s)) {
			slot_kill(s, SIGTERM);
			slot_set(s, SLOT_STOPPING);
		} else if (s->state == SLOT_BACKOFF)
			slot_set(s, SLOT_WAITING);
	}
}

static int
alive_count(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < k.nslots; i++)
		if (k.slots[i].pid > 0)
			n++;
	return n;
}

static void
reload(void)
{
	struct cfg ncfg;
	struct cfg_errors errs;
	char *text = NULL;
	size_t i;

	memset(&errs, 0, sizeof(errs));
	memset(&ncfg, 0, sizeof(ncfg));
	if (cfg_load(&ncfg, k.cfgpath, k.overrides, k.noverrides, 1, &errs,
	    &text) == -1) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msgs[i]);
		log_warnx("reload: %s has errors; keeping the running "
		    "configuration", k.cfgpath);
		cfg_errors_free(&errs);
		cfg_free(&ncfg);
		return;
	}
	cfg_errors_free(&errs);
	if (strcmp(ncfg.state_dir, k.cfg.state_dir) != 0 ||
	    strcmp(ncfg.stream, k.cfg.stream) != 0) {
		log_warnx("reload: stream and state_dir cannot change while "
		    "running; keeping the running configuration");
		cfg_free(&ncfg);
		free(text);
		return;
	}
	if (strcmp(text, k.cfgtext) == 0) {
		log_info("reload: configuration unchanged");
		cfg_free(&ncfg);
		free(text);
		k.next_topology = now_ms();
		return;
	}
	log_info("reload: configuration changed; restarting workers");
	aws_ctx_free(&k.aws);
	creds_free(k.creds);
	cfg_free(&k.cfg);
	free(k.cfgtext);
	k.cfg = ncfg;
	k.cfgtext = text;
	log_setlevel(k.cfg.log_level);
	if (!k.debug)
		log_setfacility(k.cfg.log_facility);
	k.creds = creds_new(&k.cfg);
	if (aws_ctx_init(&k.aws, &k.cfg, k.creds) == -1)
		fatalx("reload: bad endpoint");
	k.aws.interrupted = sup_interrupted;
	aws_ctx_set_abort(&k.aws, sup_interrupted);
	metrics_init(&k.cfg);
	for (i = 0; i < k.nslots; i++) {
		struct slot *s = &k.slots[i];

		if (slot_alive(s)) {
			s->restart_now = 1;
			s->stop_deadline = now_ms() + k.cfg.shutdown_timeout_ms;
			slot_kill(s, SIGTERM);
			slot_set(s, SLOT_STOPPING);
		} else if (s->state == SLOT_FAILED || s->state == SLOT_BACKOFF) {
			s->restarts = 0;
			slot_set(s, SLOT_WAITING);
		}
	}
	k.next_topology = now_ms();
}

static void
find_worker(void)
{
	char self[PATH_MAX], *slash;
	const char *env = getenv("KINESIS_KEEPER_WORKER");
	ssize_t n;

	if (env != NULL && *env != '\0') {
		snprintf(k.worker_path, sizeof(k.worker_path), "%s", env);
		return;
	}
	/* next to this program (a build tree), else the installed one */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(k.worker_path, sizeof(k.worker_path),
			    "%s/%s", self, WORKER_NAME) < sizeof(k.worker_path) &&
			    access(k.worker_path, X_OK) == 0)
				return;
		}
	}
	snprintf(k.worker_path, sizeof(k.worker_path), "%s/%s", LIBEXECDIR,
	    WORKER_NAME);
}

static int
lock_state_dir(void)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", k.cfg.state_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) == -1)
		fatal("open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("state_dir %s is locked by another kinesis-keeper "
			    "(%s); refusing to run two on one directory",
			    k.cfg.state_dir, path);
		fatal("lock %s", path);
	}
	return fd;
}

static uint64_t
next_timeout(void)
{
	uint64_t now = now_ms(), t = now + 60000;
	size_t i;

	if (k.stopping)
		return k.stop_deadline > now ? k.stop_deadline - now : 0;
	if (k.next_topology < t)
		t = k.next_topology;
	if (k.outbox_pending && k.next_outbox && k.next_outbox < t)
		t = k.next_outbox;
	if (k.next_metrics < t)
		t = k.next_metrics;
	for (i = 0; i < k.nslots; i++) {
		struct slot *s = &k.slots[i];

		if (s->state == SLOT_BACKOFF && s->next_start < t)
			t = s->next_start;
		if (s->state == SLOT_STARTING &&
		    s->started_ms + HELLO_TIMEOUT_MS < t)
			t = s->started_ms + HELLO_TIMEOUT_MS;
		if (s->state == SLOT_STOPPING && !s->killed &&
		    s->stop_deadline < t)
			t = s->stop_deadline;
	}
	return t > now ? t - now : 0;
}

static void
handle_signals(void)
{
	struct signalfd_siginfo si;

	while (read(k.sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!k.stopping) {
				log_info("%s: stopping workers",
				    si.ssi_signo == SIGTERM ? "SIGTERM" :
				    "SIGINT");
				k.stopping = 1;
				k.stop_deadline = now_ms() +
				    k.cfg.shutdown_timeout_ms;
				stop_all();
			}
			break;
		case SIGHUP:
			if (!k.stopping) {
				log_info("SIGHUP: reloading %s", k.cfgpath);
				reload();
			}
			break;
		case SIGCHLD:
			k.sigchld = 1;
			break;
		default:
			break;
		}
	}
}

static void
main_loop(void)
{
	struct pollfd *pfd = NULL;
	struct slot **who = NULL;
	size_t i, n;
	int r;

	k.sigchld = 1;
	for (;;) {
		/* waitpid scans every child: only when one has changed */
		if (k.sigchld) {
			k.sigchld = 0;
			reap();
		}
		if (k.stopping && alive_count() == 0)
			break;
		if (k.stopping && now_ms() >= k.stop_deadline) {
			for (i = 0; i < k.nslots; i++)
				if (k.slots[i].pid > 0) {
					log_warnx("%s: worker did not stop within "
					    "%llu ms; killing it",
					    k.slots[i].shard, (unsigned long long)
					    k.cfg.shutdown_timeout_ms);
					slot_kill(&k.slots[i], SIGKILL);
				}
			while (alive_count() > 0) {
				int st;
				pid_t pid = waitpid(-1, &st, 0);

				if (pid == -1 && errno != EINTR)
					break;
				for (i = 0; i < k.nslots; i++)
					if (k.slots[i].pid == pid && pid > 0)
						slot_exited(&k.slots[i], st);
			}
			break;
		}
		if (!k.stopping) {
			if (now_ms() >= k.next_topology)
				topology_refresh();
			if (k.outbox_pending && now_ms() >= k.next_outbox)
				drain_all();
			for (i = 0; i < k.nslots; i++) {
				struct slot *s = &k.slots[i];

				if (s->state == SLOT_STARTING && now_ms() >
				    s->started_ms + HELLO_TIMEOUT_MS) {
					slot_protocol_error(s, "no HELLO");
				}
				/* a stop for a reload is bounded too */
				if (s->state == SLOT_STOPPING && s->pid > 0 &&
				    !s->killed && now_ms() >= s->stop_deadline) {
					log_warnx("%s: worker did not stop within "
					    "%llu ms; killing it", s->shard,
					    (unsigned long long)
					    k.cfg.shutdown_timeout_ms);
					slot_kill(s, SIGKILL);
				}
			}
			schedule();
			metrics_workers_running(alive_count());
			k.next_metrics = now_ms() + metrics_tick(&k.aws, &k.cfg);
		}

		pfd = xrealloc(pfd, (k.nslots + 1) * sizeof(*pfd));
		who = xrealloc(who, (k.nslots + 1) * sizeof(*who));
		pfd[0].fd = k.sigfd;
		pfd[0].events = POLLIN;
		n = 1;
		for (i = 0; i < k.nslots; i++) {
			if (k.slots[i].fd == -1)
				continue;
			pfd[n].fd = k.slots[i].fd;
			pfd[n].events = POLLIN;
			who[n++] = &k.slots[i];
		}
		r = poll(pfd, n, (int)(next_timeout() > 60000 ? 60000 :
		    next_timeout()));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN)
			handle_signals();
		for (i = 1; i < n; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR) &&
			    who[i]->fd == pfd[i].fd)
				slot_read(who[i]);
	}
	free(pfd);
	free(who);
}

static void
make_dirs(void)
{
	static const char *const sub[] = { "checkpoints", "locks", "batches",
	    "outbox" };
	char path[PATH_MAX];
	size_t i;

	if (mkdir_p(k.cfg.state_dir, 0750) == -1)
		fatal("mkdir %s", k.cfg.state_dir);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", k.cfg.state_dir, sub[i]);
		if (mkdir_p(path, 0750) == -1)
			fatal("mkdir %s", path);
	}
}

int
main(int argc, char *argv[])
{
	struct cfg_errors errs;
	sigset_t mask;
	int ch, check = 0, lockfd;
	size_t i;

	if (argc == 2 && strcmp(argv[1], "--list-keys") == 0) {
		cfg_list_keys(stdout);
		return 0;
	}
	while ((ch = getopt(argc, argv, "dnvVD:")) != -1) {
		switch (ch) {
		case 'd':
			k.debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			k.verbose++;
			break;
		case 'V':
			printf("kinesis-keeper %s\n", KK_VERSION);
			return 0;
		case 'D':
			k.overrides = xrealloc(k.overrides,
			    (k.noverrides + 1) * sizeof(char *));
			k.overrides[k.noverrides++] = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	k.cfgpath = argv[0];
	log_init(k.debug || check ? LOG_TO_STDERR : LOG_TO_SYSLOG, k.verbose,
	    LOG_DAEMON);

	memset(&errs, 0, sizeof(errs));
	if (cfg_load(&k.cfg, k.cfgpath, k.overrides, k.noverrides, 1, &errs,
	    &k.cfgtext) == -1) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		if (!check && !k.debug)
			for (i = 0; i < errs.n; i++)
				syslog(LOG_ERR, "%s", errs.msgs[i]);
		cfg_errors_free(&errs);
		return EX_CONFIG_;
	}
	cfg_errors_free(&errs);
	if (check) {
		if (k.verbose)
			cfg_dump(&k.cfg, stdout);
		printf("configuration OK\n");
		return 0;
	}
	log_setlevel(k.cfg.log_level);
	if (!k.debug)
		log_setfacility(k.cfg.log_facility);

	make_dirs();
	lockfd = lock_state_dir();
	find_worker();
	if (access(k.worker_path, X_OK) == -1)
		fatal("worker program %s", k.worker_path);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((k.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	http_global_init();
	k.creds = creds_new(&k.cfg);
	if (aws_ctx_init(&k.aws, &k.cfg, k.creds) == -1)
		fatalx_code(EX_CONFIG_, "bad endpoint");
	k.aws.interrupted = sup_interrupted;
	aws_ctx_set_abort(&k.aws, sup_interrupted);
	log_info("starting %s: stream %s, bucket %s, region %s, state %s, "
	    "kinesis %s://%s, credentials from %s", KK_VERSION, k.cfg.stream,
	    k.cfg.s3_bucket, k.cfg.region, k.cfg.state_dir, k.aws.kinesis.scheme,
	    k.aws.kinesis.host, creds_source(k.creds));

	metrics_init(&k.cfg);
	/* announce what a previous run archived but could not announce */
	drain_all();
	main_loop();
	drain_all();
	if (k.outbox_pending)
		log_warnx("some notifications are still pending; they will be "
		    "published at the next start");
	metrics_shutdown(&k.aws, &k.cfg);
	log_info("stopped");

	for (i = 0; i < k.nslots; i++) {
		free(k.slots[i].shard);
		free(k.slots[i].parent);
		free(k.slots[i].adjacent);
		msgbuf_free(&k.slots[i].mb);
		if (k.slots[i].fd != -1)
			close(k.slots[i].fd);
	}
	free(k.slots);
	aws_ctx_free(&k.aws);
	creds_free(k.creds);
	cfg_free(&k.cfg);
	free(k.cfgtext);
	free(k.overrides);
	close(lockfd);
	return 0;
}
