/*
 * keeper.c: kinesis-keeper, the supervisor (see kinesis-keeper(8)). It runs
 * one kinesis-keeper-worker per shard in topology order (parents before
 * children), restarts crashed workers with backoff and stops them all
 * gracefully; three helpers make its network calls (topology, notify,
 * metrics: helper.c). One poll loop that never waits on the network; signals
 * arrive on a signalfd; a slot's life is the table of slot.c.
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
#include <time.h>
#include <unistd.h>


#include <json-c/json.h>

#include "cfg.h"
#include "ckpt.h"
#include "health.h"
#include "helper.h"
#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "slot.h"
#include "status.h"
#include "util.h"

#define WORKER_NAME		"kinesis-keeper-worker"
#define HEALTHY_MS		10000	/* a worker up this long resets its backoff */
#define TOPOLOGY_RETRY_MS	5000
#define OUTBOX_RETRY_MS		5000
#define HELLO_TIMEOUT_MS	15000
#define SPAWNS_PER_TURN		64	/* forks per loop turn: signals stay prompt */
#define DRAINS_PER_TURN		16	/* outbox directories read per turn */
#define OUTQ_MAX		(8 * 1024 * 1024)	/* queued bytes per peer */
#define TURN_BUDGET_MS		10	/* spawning stops for this turn after */
#define STATUS_EVERY_MS		1000	/* status.json at most this often */
#define STATUS_PER_TURN		2000	/* shards added to it per turn */
#define SUMMARY_EVERY_MS	(5 * 60 * 1000)
#define STALL_LOG_MS		20	/* a loop turn this long is logged (debug) */

/* One end of a framed channel: a worker or a helper. Writes are queued and
 * flushed on POLLOUT, never waited for. */
struct peer {
	pid_t		 pid;		/* 0: none */
	int		 fd;		/* -1: closed (EOF, or after a kill) */
	uint32_t	 gen;
	struct msgbuf	 mb;
	struct buf	 out;
	size_t		 out_off;
};

struct slot {
	char		*shard;
	char		*parent;
	char		*adjacent;
	struct slot_fsm	 f;
	struct peer	 p;
	uint32_t	 listed_gen;	/* the topology generation that listed it */
	int		 cycle_logged;
	int		 outbox_clean;	/* its outbox was found empty */
	uint64_t	 pending;	/* committed entries at the last look */
	int64_t		 pending_since;	/* wall ms it was first seen pending */
	uint64_t	 notify_after;	/* a publication failed: retry then */
	/* for status.json: what the worker last told */
	int64_t		 last_flush;	/* wall ms, 0: none */
	char		*last_key;
	uint64_t	 last_records;
	uint64_t	 millis_behind;
	char		*error;		/* NULL: healthy */
	int64_t		 error_time;
	int		 abandoned;	/* its last batch was left at the stop */
	int		 queued;	/* in the notify queue */
	/* leases.table set: the worker runs only while the lease is ours */
	int		 leased;
	char		 token[MSG_TOKEN_LEN];	/* the lease's fencing token */
	/* the token its worker was started with: a lease won again while
	 * that worker stops has another one */
	char		 worker_token[MSG_TOKEN_LEN];
	int		 shed;		/* handed over: release at its exit */
	struct slot	*hnext;		/* hash chain */
};

/* H_LEASE runs only with leases.table set */
enum helper_role { H_TOPOLOGY, H_NOTIFY, H_METRICS, H_LEASE, H_COUNT };

enum helper_state { HS_DOWN, HS_STARTING, HS_UP, HS_STOPPING };

struct helper {
	const char		*role;
	enum helper_state	 state;
	struct peer		 p;
	uint64_t		 deadline;	/* DOWN: next start; STARTING: HELLO */
	uint64_t		 started_ms;
	unsigned		 restarts;
	int			 busy;		/* a request is out */
	int			 restart_now;	/* stopped for a reload */
	int			 eof_after_flush; /* shut the channel when sent */
};

/* The publication in flight: the first committed entry of one shard. */
struct inflight {
	char		*shard;
	char		*message;
	uint64_t	 id;
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
	char		 helper_path[PATH_MAX];
	struct slot	**slots;
	size_t		 nslots;
	struct slot	**hash;
	size_t		 hsize;		/* power of two */
	struct helper	 helpers[H_COUNT];
	uint32_t	 gen;
	int		 sigfd;
	int		 stopping;
	int		 sigchld;	/* reap on the next turn */
	uint64_t	 stop_deadline;
	uint64_t	 next_topology;
	int		 topology_ok;
	/* ListShards answer being received */
	struct msg_topo_shard *pend;
	size_t		 npend;
	size_t		 papply;	/* applied so far, a chunk per turn */
	int		 applying;
	uint32_t	 topo_gen;	/* of the last topology applied whole */
	/* notifications: shards whose outbox needs a look, in order */
	char		**nq;
	size_t		 nnq;
	size_t		 nqh;		/* head: nq[nqh..nnq) are queued */
	struct inflight	 fly;
	uint64_t	 publish_id;
	uint64_t	 workers_sent;
	int		 workers_last;
	uint64_t	 pending;	/* notifications pending, all shards */
	uint64_t	 pending_last;
	uint64_t	 pending_sent;
	uint64_t	 max_turn_ms;	/* the loop's longest turn */
	/* status.json, the health lines, the summary */
	int		 status_dirty;
	uint64_t	 status_next;
	struct buf	 sb;		/* status.json being built */
	size_t		 sb_i;		/* next shard to add */
	int		 sb_on;
	uint64_t	 sb_spent;	/* ms spent on this one */
	int64_t		 started_wall;
	char		*kerr;		/* the keeper-wide error, NULL: none */
	int64_t		 kerr_time;
	int		 kerr_topo;	/* kerr came from the topology */
	struct health_pace topo_pace, sns_pace;
	uint64_t	 next_summary;
	uint64_t	 records_since;
	uint64_t	 max_turn_cpu_us;	/* the CPU time of a turn, longest */
	int		 running;	/* worker processes alive */
	int		 more_to_spawn;	/* schedule() stopped at its bound */
	uint64_t	 turn_now;	/* the clock of this turn, 0: read it */
	size_t		 capped_logged;	/* shards to read when last told */
	/* leases */
	int		 leases_held;
	int		 leases_sent;	/* LeasesHeld last sent, -1: never */
	uint64_t	 leases_sent_at;
	int		 release_asked;	/* at the stop: MSG_L_RELEASE sent */
	int		 released;	/* ... and answered */
} k;

static int
leases_on(void)
{
	return k.cfg.lease_table != NULL;
}

static void	usage(int) __attribute__((noreturn));

/* -h: on stdout, exit 0; a wrong command line: on stderr, exit 1 */
static void
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: kinesis-keeper [-dnvV] [-D key=value]... config-file\n"
	    "       kinesis-keeper status [-j] config-file\n"
	    "       kinesis-keeper check config-file\n"
	    "       kinesis-keeper -h\n");
	exit(code);
}

static const struct slot_timing *
timing(void)
{
	static struct slot_timing t;

	t.restart_min_ms = k.cfg.restart_min_ms;
	t.restart_max_ms = k.cfg.restart_max_ms;
	t.shutdown_ms = k.cfg.shutdown_timeout_ms;
	t.hello_ms = HELLO_TIMEOUT_MS;
	t.healthy_ms = HEALTHY_MS;
	return &t;
}

/* ------------------------------------------------------------ channels */

static void
peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	msgbuf_init(&p->mb);
	buf_init(&p->out);
}

static void
peer_close(struct peer *p)
{
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	buf_reset(&p->out);
	p->out_off = 0;
}

/* Write what is queued, as much as the socket takes now. */
static void
peer_flush(struct peer *p)
{
	while (p->fd != -1 && p->out_off < p->out.len) {
		ssize_t n = write(p->fd, p->out.data + p->out_off,
		    p->out.len - p->out_off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				peer_close(p);	/* EPIPE: its exit is reaped */
			return;
		}
		p->out_off += (size_t)n;
	}
	if (p->out_off == p->out.len) {
		buf_reset(&p->out);
		p->out_off = 0;
		if (p == &k.helpers[H_METRICS].p &&
		    k.helpers[H_METRICS].eof_after_flush && p->fd != -1) {
			shutdown(p->fd, SHUT_WR);
			k.helpers[H_METRICS].eof_after_flush = 0;
		}
	}
}

/* Queue one message; -1 (dropped) when the peer is gone or too far behind. */
static int
peer_send(struct peer *p, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	struct msg_hdr h;

	if (p->fd == -1 || p->out.len - p->out_off + alen + blen > OUTQ_MAX)
		return -1;
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.len = (uint32_t)(alen + blen);
	h.gen = p->gen;
	buf_add(&p->out, &h, sizeof(h));
	if (alen > 0)
		buf_add(&p->out, a, alen);
	if (blen > 0)
		buf_add(&p->out, b, blen);
	peer_flush(p);
	return 0;
}

/* fork/exec one child with its end of a socketpair on fd 3 (STYLE 1). */
static int
peer_spawn(struct peer *p, const char *path, char **argv)
{
	int sv[2];
	pid_t pid;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	switch ((pid = fork())) {
	case -1:
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		/* child: own session, its end of the pair on fd 3, nothing
		 * else open, default signals; then exec */
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
		execv(path, argv);
		_exit(127);
	default:
		break;
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("O_NONBLOCK");
	peer_close(p);
	msgbuf_free(&p->mb);
	msgbuf_init(&p->mb);
	p->pid = pid;
	p->fd = sv[0];
	p->gen = ++k.gen;
	/* the child parses exactly the text we validated */
	peer_send(p, MSG_CONFIG, k.cfgtext, strlen(k.cfgtext), NULL, 0);
	return 0;
}

static char **
child_argv(const char *name, const char *opt, const char *optval,
    const char *token)
{
	char **argv, genstr[16];
	size_t n = 0, i;

	snprintf(genstr, sizeof(genstr), "%u", k.gen + 1);
	argv = xcalloc(12 + 2 * k.noverrides + (size_t)k.verbose,
	    sizeof(char *));
	argv[n++] = xstrdup(name);
	if (opt[1] == 'H') {	/* a helper: its role first */
		argv[n++] = xstrdup(opt);
		argv[n++] = xstrdup(optval);
	}
	if (k.debug)
		argv[n++] = xstrdup("-d");
	for (i = 0; i < (size_t)k.verbose; i++)
		argv[n++] = xstrdup("-v");
	for (i = 0; i < k.noverrides; i++) {
		argv[n++] = xstrdup("-D");
		argv[n++] = xstrdup(k.overrides[i]);
	}
	if (opt[1] != 'H') {
		argv[n++] = xstrdup(opt);
		argv[n++] = xstrdup(optval);
	}
	if (token != NULL) {	/* the lease it works under */
		argv[n++] = xstrdup("-L");
		argv[n++] = xstrdup(token);
	}
	argv[n++] = xstrdup("-g");
	argv[n++] = xstrdup(genstr);
	argv[n++] = xstrdup(k.cfgpath);
	argv[n] = NULL;
	return argv;
}

static void
argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* ------------------------------------------------------------ slots */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct slot *
slot_find(const char *shard)
{
	struct slot *s;

	if (k.hsize == 0)
		return NULL;
	for (s = k.hash[hash_str(shard) & (k.hsize - 1)]; s; s = s->hnext)
		if (strcmp(s->shard, shard) == 0)
			return s;
	return NULL;
}

static struct slot *
slot_new(const char *shard)
{
	struct slot *s = xcalloc(1, sizeof(*s));
	size_t i, b;

	if (k.nslots + 1 > k.hsize) {
		/* grow the index: chains stay about one long */
		size_t nsize = k.hsize ? k.hsize * 2 : 64;

		free(k.hash);
		k.hash = xcalloc(nsize, sizeof(*k.hash));
		k.hsize = nsize;
		for (i = 0; i < k.nslots; i++) {
			b = hash_str(k.slots[i]->shard) & (k.hsize - 1);
			k.slots[i]->hnext = k.hash[b];
			k.hash[b] = k.slots[i];
		}
	}
	s->shard = xstrdup(shard);
	peer_init(&s->p);
	s->f.state = SLOT_WAITING;
	b = hash_str(shard) & (k.hsize - 1);
	s->hnext = k.hash[b];
	k.hash[b] = s;
	k.slots = xrealloc(k.slots, (k.nslots + 1) * sizeof(*k.slots));
	k.slots[k.nslots++] = s;
	return s;
}

static void
slot_error(struct slot *s, const char *text, int64_t when)
{
	free(s->error);
	s->error = text ? xstrdup(text) : NULL;
	s->error_time = text ? when : 0;
	k.status_dirty = 1;
}

static void
keeper_error(const char *text, int topo)
{
	free(k.kerr);
	k.kerr = text ? xstrdup(text) : NULL;
	k.kerr_time = text ? (int64_t)wall_ms() : 0;
	k.kerr_topo = topo;
	k.status_dirty = 1;
}

/* Listed by the last topology (or already by the one being applied). */
static int
listed(const struct slot *s)
{
	return k.topo_gen > 0 && s->listed_gen >= k.topo_gen;
}

static int
shard_done_on_disk(const char *shard)
{
	struct ckpt ck;

	return ckpt_read(k.cfg.state_dir, shard, &ck) == 0 && ck.done;
}

static void	notify_queue(const char *shard);
static void	metrics_event(const char *shard, uint32_t kind, uint64_t v);

static void	slot_event(struct slot *, enum slot_event, const char *why);
static void	lease_release(struct slot *);
static void	lease_lost(struct slot *, const char *);
static void	lease_send_release(const char *);

static void
slot_spawn(struct slot *s)
{
	char **argv = child_argv(WORKER_NAME, "-s", s->shard,
	    leases_on() ? s->token : NULL);

	if (peer_spawn(&s->p, k.worker_path, argv) == -1) {
		log_warn("%s: start worker", s->shard);
		argv_free(argv);
		slot_event(s, SEV_SPAWN_FAILED, NULL);
		return;
	}
	argv_free(argv);
	k.running++;
	str_copy(s->worker_token, s->token, sizeof(s->worker_token));
	log_debug("%s: started worker pid %d (generation %u)", s->shard,
	    (int)s->p.pid, s->p.gen);
	slot_event(s, SEV_SPAWNED, NULL);
}

static void
slot_signal(struct slot *s, int sig)
{
	if (s->p.pid > 0 && kill(s->p.pid, sig) == -1 && errno != ESRCH)
		log_warn("%s: kill %d", s->shard, (int)s->p.pid);
}

/*
 * Every change of a slot goes through here: the table decides (slot.c),
 * this carries the action out and says why in the log.
 */
static void
slot_event(struct slot *s, enum slot_event ev, const char *why)
{
	enum slot_state from = s->f.state;
	enum slot_action act;
	/* one clock read a turn: a stop walks every slot */
	uint64_t now = k.turn_now ? k.turn_now : now_ms();

	act = slot_step(&s->f, ev, now, timing());
	if (s->f.state != from)
		k.status_dirty = 1;
	if (s->f.state != from)
		log_debug("%s: %s -> %s (%s)", s->shard, slot_state_name(from),
		    slot_state_name(s->f.state), slot_event_name(ev));
	switch (act) {
	case SACT_NONE:
		break;
	case SACT_SPAWN:
		log_info("%s: starting worker", s->shard);
		slot_spawn(s);
		break;
	case SACT_TERM:
		slot_signal(s, SIGTERM);
		break;
	case SACT_KILL:
		if (ev == SEV_STOP_TIMEOUT)
			log_warnx("%s: worker did not stop within %llu ms; "
			    "killing it", s->shard,
			    (unsigned long long)k.cfg.shutdown_timeout_ms);
		else
			log_warnx("%s: worker pid %d: %s; killing it",
			    s->shard, (int)s->p.pid, why ? why :
			    ev == SEV_HELLO_TIMEOUT ? "no HELLO" :
			    ev == SEV_HELLO ? "unexpected HELLO" :
			    ev == SEV_FLUSH ? "FLUSH before HELLO" :
			    "message before HELLO");
		slot_signal(s, SIGKILL);
		/* its words are not heard any more; its exit is reaped */
		peer_close(&s->p);
		break;
	case SACT_NOTIFY:
		notify_queue(s->shard);
		break;
	case SACT_TOPOLOGY:
		k.next_topology = now_ms();
		break;
	case SACT_RESTART:
		metrics_event(s->shard, MSG_M_RESTART, 1);
		log_info("%s: restarting worker in %llu ms", s->shard,
		    (unsigned long long)(s->f.deadline - now));
		break;
	}
	if (s->f.state == SLOT_DONE && from != SLOT_DONE) {
		metrics_event(s->shard, MSG_M_CLOSED, 0);
		/* its lease says SHARD_END: nobody takes it again, and its
		 * children may start anywhere */
		if (s->leased)
			lease_release(s);
	}
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
	if (p == NULL || !listed(p))
		return 1;
	/* with leases the lease helper took the child only once the parent's
	 * lease said SHARD_END; a parent still read here is waited for */
	if (leases_on() && p->f.state != SLOT_DONE)
		return !p->leased && !slot_has_process(p->f.state);
	return p->f.state == SLOT_DONE &&
	    (k.cfg.sns_topic_arn == NULL || p->outbox_clean);
}

/* Start whatever may run now, a bounded number per turn, and for a bounded
 * time: the rest waits for the next turn (after a poll). */
static void
schedule(void)
{
	uint64_t t0 = now_ms();
	size_t i;
	int spawned = 0;

	k.more_to_spawn = 0;
	if (k.stopping)
		return;
	for (i = 0; i < k.nslots; i++) {
		struct slot *s = k.slots[i];

		if (k.cfg.workers_max > 0 && k.running >= k.cfg.workers_max)
			break;	/* the rest waits for a place */
		if (!listed(s) || s->f.state != SLOT_WAITING ||
		    (leases_on() && !s->leased))
			continue;
		if (spawned >= SPAWNS_PER_TURN ||
		    now_ms() - t0 >= TURN_BUDGET_MS) {
			k.more_to_spawn = 1;	/* poll, then go on */
			break;
		}
		if (parent_ready(s->parent) && parent_ready(s->adjacent)) {
			slot_event(s, SEV_PARENTS_READY, NULL);
			spawned++;
		}
	}
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
	enum slot_state from = s->f.state;
	int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	int i;
	enum slot_event ev;

	/* the pid is gone (never signal it again); its last words (FLUSH,
	 * STATS, DONE) may still wait in the socket: read them first */
	s->p.pid = 0;
	k.running--;
	for (i = 0; s->p.fd != -1 && i < 10000; i++)
		slot_read(s);
	peer_close(&s->p);
	notify_queue(s->shard);
	/* handed over: its final checkpoint is written, the lease goes */
	if (s->shed) {
		s->shed = 0;
		lease_send_release(s->shard);
	}
	if (clean && shard_done_on_disk(s->shard))
		ev = SEV_EXIT_DONE;
	else if (WIFEXITED(st) && WEXITSTATUS(st) == EX_CONFIG_)
		ev = SEV_EXIT_CONFIG;
	else
		ev = SEV_EXIT_OTHER;
	describe_status(st, why, sizeof(why));
	/* the worker says so itself; a straggler we SIGKILLed may have held
	 * nothing (SPEC 3: stragglers get SIGKILL, the stop is still clean) */
	if (k.stopping && WIFEXITED(st) && WEXITSTATUS(st) == EX_ABANDONED)
		s->abandoned = 1;
	/* its checkpoint was refused: the lease it ran under is another
	 * keeper's (the lease helper learns it at its next renewal). A lease
	 * won again since then is ours: the slot goes back to WAITING and
	 * schedule() starts a worker under it. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == EX_LEASE_LOST) {
		if (slot_lease_exit_lost(s->worker_token, s->token)) {
			log_info("%s: worker stopped: its lease is another "
			    "keeper's", s->shard);
			lease_lost(s, "checkpoint refused");
		} else
			log_info("%s: worker stopped: its lease was lost, "
			    "and won again since: starting a worker under "
			    "the new one", s->shard);
		slot_event(s, ev, NULL);
		return;
	}
	if (ev != SEV_EXIT_DONE && !clean && (from == SLOT_STARTING ||
	    from == SLOT_RUNNING || from == SLOT_KILLED)) {
		char text[96];

		snprintf(text, sizeof(text), "worker %s", why);
		slot_error(s, text, (int64_t)wall_ms());
	}
	switch (from) {
	case SLOT_STOP_KILLED:
	case SLOT_RELOAD_KILLED:
		break;		/* we killed it: quiet */
	case SLOT_STOPPING:
		if (!clean)
			log_warnx("%s: worker %s", s->shard, why);
		break;
	case SLOT_RELOADING:
		if (!clean)
			log_warnx("%s: worker %s while stopping for the reload",
			    s->shard, why);
		break;
	default:
		if (ev == SEV_EXIT_DONE)
			log_info("%s: shard done", s->shard);
		else if (ev == SEV_EXIT_CONFIG)
			log_warnx("%s: worker exited with status 78 "
			    "(configuration): not restarting it; fix the "
			    "configuration and reload", s->shard);
		else
			log_warnx("%s: worker %s", s->shard, why);
		break;
	}
	slot_event(s, ev, NULL);
}

/* ------------------------------------------------------------ helpers */

static struct helper *
helper_of_pid(pid_t pid)
{
	int i;

	for (i = 0; i < H_COUNT; i++)
		if (k.helpers[i].p.pid == pid && pid > 0)
			return &k.helpers[i];
	return NULL;
}

static void
helper_spawn(struct helper *h)
{
	char **argv = child_argv(HELPER_PROGNAME, "-H", h->role, NULL);

	if (peer_spawn(&h->p, k.helper_path, argv) == -1) {
		log_warn("helper %s: start", h->role);
		h->state = HS_DOWN;
		h->deadline = now_ms() + k.cfg.restart_min_ms;
	} else {
		log_debug("helper %s: started pid %d", h->role, (int)h->p.pid);
		h->state = HS_STARTING;
		h->started_ms = now_ms();
		h->deadline = now_ms() + HELLO_TIMEOUT_MS;
	}
	h->busy = 0;
	h->restart_now = 0;
	h->eof_after_flush = 0;
	argv_free(argv);
}

static void
helper_kill(struct helper *h, const char *why)
{
	log_warnx("helper %s: pid %d: %s; killing it", h->role, (int)h->p.pid,
	    why);
	if (h->p.pid > 0)
		kill(h->p.pid, SIGKILL);
	peer_close(&h->p);
}

static void	notify_lost(void);
static void	leases_all_lost(void);

static void
helper_exited(struct helper *h, int st)
{
	char why[64];
	uint64_t delay;

	h->p.pid = 0;
	peer_close(&h->p);
	if (h == &k.helpers[H_TOPOLOGY] && h->busy && !k.applying) {
		free(k.pend);
		k.pend = NULL;
		k.npend = 0;
		k.next_topology = now_ms();	/* ask the next one */
	}
	if (h == &k.helpers[H_NOTIFY])
		notify_lost();
	if (h == &k.helpers[H_LEASE]) {
		if (!k.stopping)
			log_warnx("helper lease: exited: every lease it held "
			    "is treated as lost");
		leases_all_lost();
	}
	h->busy = 0;
	if (h->state == HS_STOPPING && (k.stopping || h->restart_now)) {
		h->state = HS_DOWN;
		h->deadline = now_ms();
		return;
	}
	log_warnx("helper %s: %s", h->role, describe_status(st, why,
	    sizeof(why)));
	if (now_ms() - h->started_ms >= HEALTHY_MS)
		h->restarts = 0;
	delay = backoff_ms(h->restarts++, k.cfg.restart_min_ms,
	    k.cfg.restart_max_ms);
	if (delay < k.cfg.restart_min_ms)
		delay = k.cfg.restart_min_ms;
	h->state = HS_DOWN;
	h->deadline = now_ms() + delay;
	log_info("helper %s: restarting it in %llu ms", h->role,
	    (unsigned long long)delay);
}

/*
 * Topology and notify are told with SIGTERM (it aborts a call in flight).
 * The metrics helper is told by an end of file after everything queued for
 * it: it sends what it got to statsd, pushes once more and exits; it is
 * SIGKILLed at the stop deadline if CloudWatch holds it.
 */
static void
helper_stop(struct helper *h)
{
	if (h->state != HS_STARTING && h->state != HS_UP)
		return;
	h->state = HS_STOPPING;
	if (h == &k.helpers[H_METRICS] && h->p.fd != -1 && !h->restart_now) {
		h->eof_after_flush = 1;
		peer_flush(&h->p);
		return;
	}
	if (h->p.pid > 0)
		kill(h->p.pid, SIGTERM);
}

/* ------------------------------------------------------------ metrics */

static void
metrics_event(const char *shard, uint32_t kind, uint64_t v)
{
	struct msg_m_event e;

	memset(&e, 0, sizeof(e));
	if (shard != NULL)
		str_copy(e.shard, shard, sizeof(e.shard));
	e.kind = kind;
	e.value = v;
	/* metrics are best effort: a full queue drops them */
	peer_send(&k.helpers[H_METRICS].p, MSG_M_EVENT, &e, sizeof(e), NULL, 0);
}

/* ------------------------------------------------------------ leases */

static void
leases_count(int delta)
{
	k.leases_held += delta;
	k.status_dirty = 1;
}

/* The lease helper won a shard: its worker may start (schedule()). A
 * worker still running under an older token is restarted under this one. */
static void
lease_gained(const struct msg_lease *m)
{
	struct slot *s = slot_find(m->shard);

	if (s == NULL)
		s = slot_new(m->shard);
	/* a shard this keeper has not listed yet (a new child): list now */
	if (!listed(s))
		k.next_topology = now_ms();
	if (!s->leased)
		leases_count(1);
	s->leased = 1;
	if (slot_has_process(s->f.state) && strcmp(s->token, m->token) != 0)
		slot_event(s, SEV_LEASE_LOST, NULL);
	str_copy(s->token, m->token, sizeof(s->token));
	log_debug("%s: lease won (counter %lld)", s->shard,
	    (long long)m->counter);
}

static void
lease_lost(struct slot *s, const char *why)
{
	if (!s->leased)
		return;
	s->leased = 0;
	leases_count(-1);
	if (slot_has_process(s->f.state))
		log_info("%s: lease lost (%s): stopping its worker", s->shard,
		    why);
	slot_event(s, SEV_LEASE_LOST, NULL);
}

static void
lease_send_release(const char *shard)
{
	struct msg_lease m;

	memset(&m, 0, sizeof(m));
	str_copy(m.shard, shard, sizeof(m.shard));
	peer_send(&k.helpers[H_LEASE].p, MSG_L_RELEASE, &m, sizeof(m), NULL,
	    0);
}

/* Give a lease up (a shard done): the helper evicts it. */
static void
lease_release(struct slot *s)
{
	lease_send_release(s->shard);
	s->leased = 0;
	leases_count(-1);
}

/* Another keeper asked for the lease (rebalancing): stop the worker, which
 * flushes and checkpoints under the lease, and release it at its exit, so
 * that the asker reads on from that checkpoint. */
static void
lease_shed(const struct msg_lease *m)
{
	struct slot *s = slot_find(m->shard);

	if (s == NULL || !s->leased) {
		lease_send_release(m->shard);
		return;
	}
	s->leased = 0;
	leases_count(-1);
	if (!slot_has_process(s->f.state)) {
		lease_send_release(s->shard);
		return;
	}
	log_info("%s: lease handed over to %s: stopping its worker", s->shard,
	    m->owner[0] ? m->owner : "another keeper");
	s->shed = 1;
	slot_event(s, SEV_LEASE_LOST, NULL);
}

/* The lease helper is gone: what it held can no longer be renewed. */
static void
leases_all_lost(void)
{
	size_t i;

	for (i = 0; i < k.nslots; i++)
		lease_lost(k.slots[i], "the lease helper exited");
}

static void
lease_note_announced(const char *shard, const char *message)
{
	struct json_object *j, *v;
	struct msg_l_note n;

	if (!leases_on() || (j = json_tokener_parse(message)) == NULL)
		return;
	if (json_object_object_get_ex(j, "key", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strlen(json_object_get_string(v)) < sizeof(n.key)) {
		memset(&n, 0, sizeof(n));
		str_copy(n.shard, shard, sizeof(n.shard));
		str_copy(n.key, json_object_get_string(v), sizeof(n.key));
		peer_send(&k.helpers[H_LEASE].p, MSG_L_ANNOUNCED, &n,
		    sizeof(n), NULL, 0);
	}
	json_object_put(j);
}

/* ------------------------------------------------------------ notify */

/*
 * The supervisor owns the outbox: it hands the first committed entry of a
 * shard to the notify helper and removes it only after the helper said
 * "published". An entry is on disk until then, so a helper crash or a
 * SIGKILL of the supervisor costs at most a second publication.
 */
static void
notify_queue(const char *shard)
{
	struct slot *s = slot_find(shard);
	size_t i;

	if (s != NULL) {
		s->outbox_clean = 0;
		if (s->queued)
			return;
		s->queued = 1;
	} else
		for (i = k.nqh; i < k.nnq; i++)
			if (strcmp(k.nq[i], shard) == 0)
				return;
	if (k.nqh > 0 && k.nqh == k.nnq)
		k.nqh = k.nnq = 0;
	if ((k.nnq & (k.nnq - 1)) == 0)	/* 0, 1, 2, 4...: double */
		k.nq = xrealloc(k.nq, (k.nnq ? 2 * k.nnq : 1) * sizeof(*k.nq));
	k.nq[k.nnq++] = xstrdup(shard);
}

static void
notify_queue_all(void)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/outbox", k.cfg.state_dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (safe_component(de->d_name))
			notify_queue(de->d_name);
	closedir(d);
}

struct pick {
	const char	*published;	/* remove this one if it comes first */
	int		 calls;
	char		*next;		/* the entry to publish next */
};

static int
pick_cb(void *arg, const char *shard, const char *message)
{
	struct pick *p = arg;

	if (k.cfg.sns_topic_arn == NULL)
		return 0;	/* notifications turned off: discard */
	if (p->calls++ == 0 && p->published != NULL &&
	    strcmp(p->published, message) == 0)
		return 0;	/* published: unlink */
	p->next = xstrdup(message);
	return -1;		/* kept: the next one to hand out */
}

static void
fly_clear(void)
{
	free(k.fly.shard);
	free(k.fly.message);
	memset(&k.fly, 0, sizeof(k.fly));
}

/* Look at one shard's outbox; hand its next entry out. 1 if one is out. */
static int
notify_shard(const char *shard, const char *published)
{
	struct helper *h = &k.helpers[H_NOTIFY];
	struct msg_publish mp;
	struct pick p;
	struct slot *s = slot_find(shard);
	int r;

	memset(&p, 0, sizeof(p));
	p.published = published;
	r = outbox_drain(k.cfg.state_dir, shard, pick_cb, &p);
	if (s != NULL && r >= 0) {
		k.pending += (uint64_t)r - s->pending;
		if (r > 0 && s->pending == 0)
			s->pending_since = (int64_t)wall_ms();
		s->pending = (uint64_t)r;
		k.status_dirty = 1;
	}
	if (p.next == NULL) {
		if (r == 0 && s != NULL)
			s->outbox_clean = 1;
		return 0;
	}
	memset(&mp, 0, sizeof(mp));
	mp.id = ++k.publish_id;
	str_copy(mp.shard, shard, sizeof(mp.shard));
	if (peer_send(&h->p, MSG_PUBLISH, &mp, sizeof(mp), p.next,
	    strlen(p.next)) == -1) {
		free(p.next);
		notify_queue(shard);
		return 0;
	}
	k.fly.shard = xstrdup(shard);
	k.fly.message = p.next;
	k.fly.id = mp.id;
	h->busy = 1;
	return 1;
}

/* Hand out the next entry; a shard whose publication failed waits for its
 * own retry time, the others go on. */
static void
notify_service(void)
{
	struct helper *h = &k.helpers[H_NOTIFY];
	uint64_t now = now_ms();
	size_t n, todo;

	if (h->busy)
		return;
	if (k.cfg.sns_topic_arn != NULL && h->state != HS_UP)
		return;
	todo = k.nnq - k.nqh;
	for (n = 0; n < todo && n < DRAINS_PER_TURN * 4 && k.nnq > k.nqh;
	    n++) {
		char *shard = k.nq[k.nqh++];
		struct slot *s = slot_find(shard);
		int out;

		if (s != NULL)
			s->queued = 0;
		if (s != NULL && s->notify_after > now) {
			notify_queue(shard);	/* to the back */
			free(shard);
			continue;
		}
		out = notify_shard(shard, NULL);
		free(shard);
		if (out)
			return;
	}
}

/* The earliest time a queued shard may be looked at; 0: now. */
static uint64_t
notify_next(void)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	for (i = k.nqh; i < k.nnq; i++) {
		struct slot *s = slot_find(k.nq[i]);

		if (s == NULL || s->notify_after == 0)
			return 0;
		if (s->notify_after < t)
			t = s->notify_after;
	}
	return t;
}

static void
notify_answer(const struct msg_result *r)
{
	struct helper *h = &k.helpers[H_NOTIFY];
	struct slot *s;
	char *shard, *message;

	if (k.fly.shard == NULL || r->id != k.fly.id) {
		helper_kill(h, "PUBLISHED of no request");
		return;
	}
	shard = k.fly.shard;
	message = k.fly.message;
	memset(&k.fly, 0, sizeof(k.fly));
	h->busy = 0;
	if (r->ok) {
		log_debug("%s: notification published", shard);
		if ((s = slot_find(shard)) != NULL)
			s->notify_after = 0;
		if (health_due(&k.sns_pace, HEALTH_OK, now_ms())) {
			log_info("sns publish: topic %s: healthy again",
			    k.cfg.sns_topic_arn);
			if (k.kerr != NULL && !k.kerr_topo)
				keeper_error(NULL, 0);
		}
		/* the lease records it at its next renewal (at least once
		 * across hosts: kinesis-keeper.conf(5), LEASES) */
		lease_note_announced(shard, message);
		/* remove it and hand out the next one of the shard */
		notify_shard(shard, message);
	} else {
		metrics_event(shard, MSG_M_NOTIFY_ERROR, 1);
		if (r->permanent != HEALTH_OK) {
			/* once a minute, not at every retry */
			if (health_due(&k.sns_pace,
			    (enum health_kind)r->permanent, now_ms()))
				log_warnx("%s", r->text);
			keeper_error(r->text, 0);
		} else
			log_warnx("%s: notification not published: %s; will "
			    "retry", shard, r->text);
		notify_queue(shard);
		if ((s = slot_find(shard)) != NULL)
			s->notify_after = now_ms() + OUTBOX_RETRY_MS;
	}
	free(shard);
	free(message);
}

/* The helper died with a publication out: it stays in the outbox. */
static void
notify_lost(void)
{
	if (k.fly.shard != NULL)
		notify_queue(k.fly.shard);
	fly_clear();
}

static int
notify_idle(void)
{
	return k.fly.shard == NULL && k.nnq == k.nqh;
}

/* ------------------------------------------------------------ topology */

/* Follow one line of ancestors; 1 if it comes back to s. */
static int
ancestors_loop(struct slot *s, const char *first, struct buf *path)
{
	struct slot *p;
	const char *id = first;
	size_t steps;

	buf_reset(path);
	buf_addstr(path, s->shard);
	for (steps = 0; id != NULL && steps < 64; steps++) {
		if ((p = slot_find(id)) == NULL || !listed(p))
			return 0;
		buf_printf(path, " -> %s", p->shard);
		if (p == s)
			return 1;
		id = p->parent;
	}
	return 0;
}

/*
 * What the topology asks that we will not do, said once: parents that name
 * each other (their shards would wait for ever), and more shards to read
 * than workers.max.
 */
static void
topology_check(void)
{
	struct buf path;
	size_t i, open = 0;

	buf_init(&path);
	for (i = 0; i < k.nslots; i++) {
		struct slot *s = k.slots[i];

		if (!listed(s) || s->f.state == SLOT_DONE)
			continue;
		open++;
		if (s->cycle_logged || (s->parent == NULL && s->adjacent == NULL))
			continue;
		if (ancestors_loop(s, s->parent, &path) ||
		    ancestors_loop(s, s->adjacent, &path)) {
			log_warnx("%s: ParentShardId cycle (%s): it waits for "
			    "itself and is not started; check the stream's "
			    "topology", s->shard, path.data);
			s->cycle_logged = 1;
		}
	}
	buf_free(&path);
	if (k.cfg.workers_max > 0 && open > (size_t)k.cfg.workers_max &&
	    open != k.capped_logged) {
		log_warnx("stream %s: %zu shards to read, more than workers.max "
		    "(%d): %zu wait for a free place", k.cfg.stream, open,
		    k.cfg.workers_max, open - (size_t)k.cfg.workers_max);
		k.capped_logged = open;
	}
}

#define APPLY_PER_TURN	1000	/* listed shards looked at per turn */

/*
 * A ListShards answer is applied a chunk per turn (a topology of 100,000
 * shards would stall the loop otherwise). Slots listed by the answer get
 * its generation; those it no longer lists keep the old one and count as
 * unlisted once it is applied whole.
 */
static void
topology_apply_step(void)
{
	uint32_t gen = k.topo_gen + 1;
	size_t i, end = k.papply + APPLY_PER_TURN;

	if (end > k.npend)
		end = k.npend;
	for (i = k.papply; i < end; i++) {
		struct msg_topo_shard *t = &k.pend[i];
		struct slot *s = slot_find(t->id);

		if (s == NULL) {
			s = slot_new(t->id);
			if (k.topology_ok)
				log_info("%s: new shard%s%s%s%s", s->shard,
				    t->parent[0] ? " (parent " : "", t->parent,
				    t->adjacent[0] ? ", " : "", t->adjacent);
			/* the checkpoint is read once, not at every turn */
			if (shard_done_on_disk(s->shard))
				slot_event(s, SEV_DONE, NULL);
			notify_queue(s->shard);
		} else if (s->listed_gen == gen)
			continue;	/* listed twice: counted once */
		free(s->parent);
		free(s->adjacent);
		s->parent = t->parent[0] ? xstrdup(t->parent) : NULL;
		s->adjacent = t->adjacent[0] ? xstrdup(t->adjacent) : NULL;
		s->listed_gen = gen;
	}
	k.papply = end;
	if (k.papply < k.npend)
		return;
	k.topo_gen = gen;
	k.applying = 0;
	if (!k.topology_ok) {
		size_t n = 0;

		for (i = 0; i < k.nslots; i++)
			n += listed(k.slots[i]);
		log_info("stream %s: %zu shards", k.cfg.stream, n);
	}
	topology_check();
	free(k.pend);
	k.pend = NULL;
	k.npend = 0;
	k.papply = 0;
	k.topology_ok = 1;
	k.next_topology = now_ms() + k.cfg.topology_refresh_ms;
}

static void
topology_answer(const struct msg_result *r)
{
	k.helpers[H_TOPOLOGY].busy = 0;
	if (r->ok) {
		if (health_due(&k.topo_pace, HEALTH_OK, now_ms())) {
			log_info("list shards: stream %s: healthy again",
			    k.cfg.stream);
			if (k.kerr != NULL && k.kerr_topo)
				keeper_error(NULL, 1);
		}
		k.applying = 1;
		k.papply = 0;
		topology_apply_step();
		return;
	}
	free(k.pend);
	k.pend = NULL;
	k.npend = 0;
	if (r->permanent != HEALTH_OK) {
		/* once a minute; a stream created later is found then */
		if (health_due(&k.topo_pace, (enum health_kind)r->permanent,
		    now_ms())) {
			if (strcmp(r->code, "ResourceNotFoundException") == 0)
				log_warnx("stream %s does not exist (yet) in "
				    "region %s; waiting: %s", k.cfg.stream,
				    k.cfg.region, r->text);
			else
				log_warnx("%s", r->text);
		}
		keeper_error(r->text, 1);
	} else
		log_warnx("list shards of %s: %s; retrying", k.cfg.stream,
		    r->text);
	k.next_topology = now_ms() + (k.topology_ok ?
	    k.cfg.topology_refresh_ms : TOPOLOGY_RETRY_MS);
}

static void
topology_service(void)
{
	struct helper *h = &k.helpers[H_TOPOLOGY];

	if (k.applying && !k.stopping)
		topology_apply_step();
	if (k.stopping || k.applying || h->state != HS_UP || h->busy ||
	    now_ms() < k.next_topology)
		return;
	if (peer_send(&h->p, MSG_TOPO_REQ, NULL, 0, NULL, 0) == 0)
		h->busy = 1;
}

/* ------------------------------------------------------------ reading */

static ssize_t	helper_read_once(struct helper *);

/* A helper may send a lot at once (100,000 shards): several reads a turn. */
static void
helper_read(struct helper *h)
{
	int i;

	for (i = 0; i < 64 && h->p.fd != -1; i++)
		if (helper_read_once(h) <= 0)
			break;
}

static ssize_t
helper_read_once(struct helper *h)
{
	struct msg m;
	ssize_t n;
	int r;

	n = msgbuf_read(&h->p.mb, h->p.fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n <= 0) {
		peer_close(&h->p);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	while ((r = msg_get(&h->p.mb, &m)) == 1) {
		if (m.hdr.gen != h->p.gen)
			continue;
		if (h->state == HS_STARTING) {
			const struct msg_hello *hh = m.payload;

			if (m.hdr.type != MSG_HELLO || strncmp(hh->shard,
			    h->role, sizeof(hh->shard)) != 0) {
				helper_kill(h, "expected HELLO");
				return 0;
			}
			h->state = HS_UP;
			continue;
		}
		if (h == &k.helpers[H_TOPOLOGY] && h->busy &&
		    m.hdr.type == MSG_TOPO_SHARD) {
			if (k.npend >= 1024 && (k.npend & (k.npend - 1)) == 0)
				k.pend = xrealloc(k.pend, 2 * k.npend *
				    sizeof(*k.pend));
			else if (k.npend == 0)
				k.pend = xrealloc(k.pend, 1024 *
				    sizeof(*k.pend));
			memcpy(&k.pend[k.npend], m.payload, sizeof(*k.pend));
			/* a gossiping helper never makes us read past a field */
			k.pend[k.npend].id[MSG_SHARD_LEN - 1] = '\0';
			k.pend[k.npend].parent[MSG_SHARD_LEN - 1] = '\0';
			k.pend[k.npend].adjacent[MSG_SHARD_LEN - 1] = '\0';
			if (safe_component(k.pend[k.npend].id))
				k.npend++;
		} else if (h == &k.helpers[H_TOPOLOGY] && h->busy &&
		    m.hdr.type == MSG_TOPO_END) {
			struct msg_result res;

			memcpy(&res, m.payload, sizeof(res));
			res.code[sizeof(res.code) - 1] = '\0';
			res.text[sizeof(res.text) - 1] = '\0';
			topology_answer(&res);
		} else if (h == &k.helpers[H_NOTIFY] &&
		    m.hdr.type == MSG_PUBLISHED) {
			struct msg_result res;

			memcpy(&res, m.payload, sizeof(res));
			res.text[sizeof(res.text) - 1] = '\0';
			notify_answer(&res);
			if (h->p.fd == -1)
				return 0;
		} else if (h == &k.helpers[H_LEASE] &&
		    (m.hdr.type == MSG_L_GAINED || m.hdr.type == MSG_L_LOST ||
		    m.hdr.type == MSG_L_SHED)) {
			struct msg_lease l;
			struct slot *s;

			memcpy(&l, m.payload, sizeof(l));
			l.shard[sizeof(l.shard) - 1] = '\0';
			l.token[sizeof(l.token) - 1] = '\0';
			l.owner[sizeof(l.owner) - 1] = '\0';
			if (!safe_component(l.shard) || (m.hdr.type ==
			    MSG_L_GAINED && strspn(l.token,
			    "0123456789abcdef") != 32)) {
				helper_kill(h, "bad lease message");
				return 0;
			}
			if (m.hdr.type == MSG_L_GAINED)
				lease_gained(&l);
			else if (m.hdr.type == MSG_L_SHED)
				lease_shed(&l);
			else if ((s = slot_find(l.shard)) != NULL)
				lease_lost(s, l.owner[0] ? l.owner :
				    "not renewed");
		} else if (h == &k.helpers[H_LEASE] &&
		    m.hdr.type == MSG_L_RELEASED) {
			k.released = 1;
		} else {
			helper_kill(h, "unexpected message type");
			return 0;
		}
	}
	if (r == -1) {
		helper_kill(h, "malformed message");
		return 0;
	}
	return n;
}

/* The object a flush stored, for status.json: the checkpoint the worker
 * wrote just before its FLUSH names it (a small local file). */
static void
flush_seen(struct slot *s, const struct msg_flush *f)
{
	struct ckpt ck;

	s->last_flush = (int64_t)wall_ms();
	s->last_records = f->records;
	k.records_since += f->records;
	if (s->error != NULL)
		slot_error(s, NULL, 0);		/* a flush is health */
	k.status_dirty = 1;
	if (ckpt_read(k.cfg.state_dir, s->shard, &ck) == 0 && ck.key[0]) {
		free(s->last_key);
		s->last_key = xstrdup(ck.key);
	}
}

/* FLUSH values come from a process we do not trust: bound them */
static uint64_t
bounded(uint64_t v, uint64_t max)
{
	return v > max ? max : v;
}

static void
slot_read(struct slot *s)
{
	struct msg m;
	ssize_t n;
	int r;

	n = msgbuf_read(&s->p.mb, s->p.fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: the worker is exiting; reap() will tell why */
		peer_close(&s->p);
		return;
	}
	memset(&m, 0, sizeof(m));
	while ((r = msg_get(&s->p.mb, &m)) == 1) {
		if (m.hdr.gen != s->p.gen) {
			log_debug("%s: stale message (generation %u)",
			    s->shard, m.hdr.gen);
			continue;
		}
		switch (m.hdr.type) {
		case MSG_HELLO: {
			const struct msg_hello *h = m.payload;

			if (strnlen(h->shard, sizeof(h->shard)) ==
			    sizeof(h->shard) || strcmp(h->shard, s->shard) != 0)
				slot_event(s, SEV_PROTO_ERROR,
				    "unexpected HELLO");
			else
				slot_event(s, SEV_HELLO, NULL);
			break;
		}
		case MSG_FLUSH: {
			struct msg_m_flush f;

			memset(&f, 0, sizeof(f));
			memcpy(&f.f, m.payload, sizeof(f.f));
			/* no records: not a batch, only "my outbox has
			 * entries" (objects announced again at a takeover) */
			if (s->f.state != SLOT_STARTING && f.f.records > 0) {
				str_copy(f.shard, s->shard, sizeof(f.shard));
				/* a batch holds at most 2^32 records */
				f.f.records = bounded(f.f.records, 1ULL << 32);
				f.f.bytes = bounded(f.f.bytes, 1ULL << 42);
				f.f.stored_bytes = bounded(f.f.stored_bytes,
				    1ULL << 42);
				f.f.latency_ms = bounded(f.f.latency_ms,
				    86400000ULL * 365);
				log_debug("%s: flush of %llu records reported",
				    s->shard, (unsigned long long)f.f.records);
				flush_seen(s, &f.f);
				peer_send(&k.helpers[H_METRICS].p, MSG_M_FLUSH,
				    &f, sizeof(f), NULL, 0);
			}
			slot_event(s, SEV_FLUSH, NULL);
			break;
		}
		case MSG_STATS:
		case MSG_HEALTH:
			if (s->f.state == SLOT_STARTING) {
				slot_event(s, SEV_PROTO_ERROR,
				    "message before HELLO");
				break;
			}
			if (m.hdr.type == MSG_HEALTH) {
				struct msg_health hm;

				memcpy(&hm, m.payload, sizeof(hm));
				hm.text[sizeof(hm.text) - 1] = '\0';
				if (hm.ok)
					slot_error(s, NULL, 0);
				else
					slot_error(s, hm.text,
					    (int64_t)hm.time_ms);
			}
			if (m.hdr.type == MSG_STATS) {
				struct msg_m_stats st;

				memset(&st, 0, sizeof(st));
				str_copy(st.shard, s->shard, sizeof(st.shard));
				memcpy(&st.s, m.payload, sizeof(st.s));
				if (s->millis_behind != st.s.millis_behind_latest)
					k.status_dirty = 1;
				s->millis_behind = st.s.millis_behind_latest;
				peer_send(&k.helpers[H_METRICS].p, MSG_M_STATS,
				    &st, sizeof(st), NULL, 0);
			}
			break;
		case MSG_DONE:
			if (s->f.state != SLOT_STARTING)
				log_info("%s: shard end reached", s->shard);
			slot_event(s, SEV_DONE, NULL);
			break;
		default:
			slot_event(s, SEV_PROTO_ERROR, "unexpected message type");
			break;
		}
		if (s->p.fd == -1)
			return;		/* killed: nothing more is heard */
	}
	if (r == -1)
		slot_event(s, SEV_PROTO_ERROR, "malformed message");
}

static void
reap(void)
{
	struct helper *h;
	pid_t pid;
	int st;
	size_t i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((h = helper_of_pid(pid)) != NULL) {
			helper_exited(h, st);
			continue;
		}
		for (i = 0; i < k.nslots; i++)
			if (k.slots[i]->p.pid == pid)
				break;
		if (i < k.nslots)
			slot_exited(k.slots[i], st);
	}
}

static void
stop_all(void)
{
	size_t i;

	for (i = 0; i < k.nslots; i++)
		slot_event(k.slots[i], SEV_STOP, NULL);
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
	/* the lease helper holds leases under this owner and table: it is
	 * not restarted by a reload (its leases would lapse) */
	if ((ncfg.lease_table == NULL) != (k.cfg.lease_table == NULL) ||
	    (ncfg.lease_table != NULL && (strcmp(ncfg.lease_table,
	    k.cfg.lease_table) != 0 || strcmp(ncfg.lease_worker_id,
	    k.cfg.lease_worker_id) != 0 || ncfg.lease_duration_ms !=
	    k.cfg.lease_duration_ms || ncfg.lease_max_shards !=
	    k.cfg.lease_max_shards))) {
		log_warnx("reload: the leases settings cannot change while "
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
	cfg_free(&k.cfg);
	free(k.cfgtext);
	k.cfg = ncfg;
	k.cfgtext = text;
	log_setlevel(k.cfg.log_level);
	if (!k.debug)
		log_setfacility(k.cfg.log_facility);
	for (i = 0; i < H_COUNT; i++) {
		if (i == H_LEASE)
			continue;
		k.helpers[i].restart_now = 1;
		k.helpers[i].restarts = 0;
		helper_stop(&k.helpers[i]);
	}
	for (i = 0; i < k.nslots; i++)
		slot_event(k.slots[i], SEV_RELOAD, NULL);
	k.next_topology = now_ms();
}

static void
find_program(char *out, size_t len, const char *env, const char *name)
{
	char self[PATH_MAX], *slash;
	const char *e = getenv(env);
	ssize_t n;

	if (e != NULL && *e != '\0') {
		snprintf(out, len, "%s", e);
		return;
	}
	/* next to this program (a build tree), else the installed one */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%s/%s", self, name) <
			    len && access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, len, "%s/%s", LIBEXECDIR, name);
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

/* Timers of slots and helpers that fell due. */
static void
timers(uint64_t now)
{
	size_t i;
	int ev;

	for (i = 0; i < k.nslots; i++)
		if ((ev = slot_due(&k.slots[i]->f, now)) != -1)
			slot_event(k.slots[i], (enum slot_event)ev, NULL);
	for (i = 0; i < H_COUNT; i++) {
		struct helper *h = &k.helpers[i];

		if (i == H_LEASE && !leases_on())
			continue;
		if (h->state == HS_DOWN && !k.stopping && now >= h->deadline)
			helper_spawn(h);
		else if (h->state == HS_STARTING && now >= h->deadline &&
		    h->p.fd != -1)
			helper_kill(h, "no HELLO");
	}
}

static uint64_t
next_timeout(void)
{
	uint64_t now = now_ms(), t = now + 60000;
	size_t i;

	if (k.stopping && k.stop_deadline < t)
		t = k.stop_deadline;
	if (!k.stopping && k.helpers[H_TOPOLOGY].state == HS_UP &&
	    !k.helpers[H_TOPOLOGY].busy && k.next_topology < t)
		t = k.next_topology;
	if (k.applying)
		t = now;
	if (k.sb_on || k.more_to_spawn)
		t = now;
	else if (k.status_dirty)
		t = k.status_next > now ? (k.status_next < t ? k.status_next :
		    t) : now;
	if (k.next_summary < t)
		t = k.next_summary;
	if (k.nnq > k.nqh && !k.helpers[H_NOTIFY].busy &&
	    (k.helpers[H_NOTIFY].state == HS_UP ||
	    k.cfg.sns_topic_arn == NULL)) {
		uint64_t nt = notify_next();

		if (nt < t)
			t = nt;
	}
	for (i = 0; i < k.nslots; i++) {
		const struct slot_fsm *f = &k.slots[i]->f;

		if (slot_has_deadline(f->state) && f->deadline < t)
			t = f->deadline;
	}
	for (i = 0; i < H_COUNT; i++)
		if ((k.helpers[i].state == HS_DOWN ||
		    k.helpers[i].state == HS_STARTING) &&
		    k.helpers[i].deadline < t && (i != H_LEASE || leases_on()))
			t = k.helpers[i].deadline;
	return t > now ? t - now : 0;
}

/* ------------------------------------------------------------ status */

static const char *
status_state(enum slot_state st)
{
	switch (st) {
	case SLOT_WAITING:
		return "waiting";
	case SLOT_STARTING:
		return "starting";
	case SLOT_RUNNING:
		return "running";
	case SLOT_BACKOFF:
		return "backoff";
	case SLOT_DONE:
		return "done";
	case SLOT_FAILED:
		return "failed";
	default:
		return "stopping";
	}
}

/* A JSON string (or null): what a worker or an endpoint said is escaped. */
static void
json_str(struct buf *b, const char *v)
{
	const unsigned char *p;

	if (v == NULL) {
		buf_addstr(b, "null");
		return;
	}
	buf_addc(b, '"');
	for (p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_addc(b, (char)*p);
	}
	buf_addc(b, '"');
}

static void
json_time(struct buf *b, int64_t ms)
{
	char t[32];

	if (ms <= 0) {
		buf_addstr(b, "null");
		return;
	}
	fmt_iso8601_ms(ms, t, sizeof(t));
	json_str(b, t);
}

/*
 * {state_dir}/status.json for `kinesis-keeper status`: advisory, never a
 * source of truth, so no fsync; replaced whole (a fresh O_EXCL|O_NOFOLLOW
 * temp file, then rename) so a reader never sees half of it. The text is
 * built a chunk of shards per turn (100,000 shards make 13 MB), then
 * written at once.
 */
static void
status_begin(void)
{
	int64_t wall = (int64_t)wall_ms(), oldest = 0;
	struct buf *b = &k.sb;
	size_t i;

	k.status_dirty = 0;
	k.sb_on = 1;
	k.sb_i = 0;
	k.sb_spent = 0;
	buf_reset(b);
	buf_printf(b, "{\"version\":1,\"pid\":%d,\"keeper_version\":",
	    (int)getpid());
	json_str(b, KK_VERSION);
	buf_addstr(b, ",\"stream\":");
	json_str(b, k.cfg.stream);
	buf_addstr(b, ",\"region\":");
	json_str(b, k.cfg.region);
	buf_addstr(b, ",\"started\":");
	json_time(b, k.started_wall);
	buf_addstr(b, ",\"updated\":");
	json_time(b, wall);
	for (i = 0; i < k.nslots; i++)
		if (k.slots[i]->pending > 0 && (oldest == 0 ||
		    k.slots[i]->pending_since < oldest))
			oldest = k.slots[i]->pending_since;
	buf_printf(b, ",\"stopping\":%s,\"notifications_pending\":%llu,"
	    "\"oldest_pending\":", k.stopping ? "true" : "false",
	    (unsigned long long)k.pending);
	json_time(b, oldest);
	buf_addstr(b, ",\"error\":");
	json_str(b, k.kerr);
	buf_addstr(b, ",\"error_time\":");
	json_time(b, k.kerr_time);
	buf_addstr(b, ",\"worker_id\":");
	json_str(b, leases_on() ? k.cfg.lease_worker_id : NULL);
	if (leases_on())
		buf_printf(b, ",\"leases_held\":%d", k.leases_held);
	else
		buf_addstr(b, ",\"leases_held\":null");
	buf_addstr(b, ",\"shards\":[");
}

/* Up to n more shards; 1 when the text is complete. */
static int
status_more(size_t n)
{
	struct buf *b = &k.sb;
	uint64_t t0 = now_ms(), now = now_ms();
	int64_t wall = (int64_t)wall_ms();
	size_t end = k.sb_i + n < k.sb_i ? k.nslots : k.sb_i + n;

	if (end > k.nslots)
		end = k.nslots;
	for (; k.sb_i < end; k.sb_i++) {
		struct slot *s = k.slots[k.sb_i];

		buf_addstr(b, k.sb_i ? ",{\"shard\":" : "{\"shard\":");
		json_str(b, s->shard);
		buf_printf(b, ",\"state\":\"%s\",\"pid\":", status_state(
		    s->f.state));
		if (s->p.pid > 0)
			buf_printf(b, "%d", (int)s->p.pid);
		else
			buf_addstr(b, "null");
		buf_printf(b, ",\"restarts\":%u,\"next_start\":",
		    s->f.restarts);
		json_time(b, s->f.state == SLOT_BACKOFF ? wall +
		    (int64_t)(s->f.deadline > now ? s->f.deadline - now : 0) :
		    0);
		buf_addstr(b, ",\"last_flush\":");
		json_time(b, s->last_flush);
		buf_addstr(b, ",\"last_key\":");
		json_str(b, s->last_key);
		buf_addstr(b, ",\"last_records\":");
		if (s->last_flush > 0)
			buf_printf(b, "%llu",
			    (unsigned long long)s->last_records);
		else
			buf_addstr(b, "null");
		buf_printf(b, ",\"millis_behind\":%llu,\"error\":",
		    (unsigned long long)s->millis_behind);
		json_str(b, s->error);
		buf_addstr(b, ",\"error_time\":");
		json_time(b, s->error_time);
		if (leases_on())
			buf_printf(b, ",\"lease\":\"%s\"", s->leased ?
			    "held" : "other");
		buf_addc(b, '}');
	}
	k.sb_spent += now_ms() - t0;
	if (k.sb_i < k.nslots)
		return 0;
	buf_addstr(b, "]}\n");
	return 1;
}

static void
status_commit(void)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct buf *b = &k.sb;
	uint64_t t0 = now_ms();
	size_t off;
	int fd, tries;

	k.sb_on = 0;
	snprintf(path, sizeof(path), "%s/status.json", k.cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s/.status.json.%d", k.cfg.state_dir,
	    (int)getpid());
	for (tries = 0; tries < 2; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
		if (fd != -1 || errno != EEXIST)
			break;
		unlink(tmp);	/* left by a crash of this pid's namesake */
	}
	if (fd == -1) {
		log_debug("status %s: %s", tmp, strerror(errno));
		return;
	}
	for (off = 0; off < b->len; ) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (close(fd) == -1 || off != b->len || rename(tmp, path) == -1) {
		log_debug("status %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	/* a big table costs: keep it to about 1% of the loop's time */
	k.sb_spent += now_ms() - t0;
	k.status_next = now_ms() + STATUS_EVERY_MS;
	if (k.sb_spent * 100 > STATUS_EVERY_MS)
		k.status_next = now_ms() + k.sb_spent * 100;
	if (b->cap > 1024 * 1024) {	/* not 13 MB kept between writes */
		buf_free(b);
		buf_init(b);
	}
}

/* At exit: the whole text at once. */
static void
status_write(void)
{
	status_begin();
	status_more(SIZE_MAX);
	status_commit();
}

/* One line every 5 minutes: tells an idle keeper from a stuck one. */
static void
summary(void)
{
	size_t i, up = 0, listed_n = 0;
	uint64_t lag = 0;
	const char *lagging = NULL;

	for (i = 0; i < k.nslots; i++) {
		struct slot *s = k.slots[i];

		listed_n += listed(s) && s->f.state != SLOT_DONE;
		up += s->f.state == SLOT_RUNNING;
		if (s->f.state == SLOT_RUNNING && s->millis_behind >= lag &&
		    s->millis_behind > 0) {
			lag = s->millis_behind;
			lagging = s->shard;
		}
	}
	log_info("summary: %zu of %zu shards running, %llu records archived "
	    "in the last %d minutes, %llu notifications pending, largest lag "
	    "%llu ms%s%s%s", up, listed_n,
	    (unsigned long long)k.records_since, SUMMARY_EVERY_MS / 60000,
	    (unsigned long long)k.pending, (unsigned long long)lag,
	    lagging ? " (" : "", lagging ? lagging : "", lagging ? ")" : "");
	k.records_since = 0;
}

/* CPU time of this process: tells a slow turn from a descheduled one. */
static uint64_t
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
helpers_alive(void)
{
	int i, n = 0;

	for (i = 0; i < H_COUNT; i++)
		n += k.helpers[i].p.pid > 0;
	return n;
}

static void
main_loop(void)
{
	struct pollfd *pfd = NULL;
	struct peer **who = NULL;
	struct slot **wslot = NULL;
	struct helper **whelp = NULL;
	size_t i, n, cap = 0;
	int r, helpers_told = 0;
	uint64_t now, turn_start, wait, cpu_start;

	for (i = 0; i < H_COUNT; i++) {
		peer_init(&k.helpers[i].p);
		k.helpers[i].role = i == H_TOPOLOGY ? "topology" :
		    i == H_NOTIFY ? "notify" : i == H_METRICS ? "metrics" :
		    "lease";
		if (i != H_LEASE || leases_on())
			helper_spawn(&k.helpers[i]);
	}
	k.sigchld = 1;
	turn_start = now_ms();
	cpu_start = cpu_us();
	for (;;) {
		/* waitpid scans every child: only when one has changed */
		if (k.sigchld) {
			k.sigchld = 0;
			reap();
		}
		now = k.turn_now = now_ms();
		timers(now);
		if (k.stopping) {
			/* workers first, then what they left to announce,
			 * then the helpers; never past the deadline */
			/* a topic that does not exist is not waited for */
			if (k.running == 0 && !helpers_told &&
			    (notify_idle() || now >= k.stop_deadline ||
			    k.cfg.sns_topic_arn == NULL ||
			    k.sns_pace.kind != HEALTH_OK)) {
				/* then the leases, so that another keeper
				 * takes over at once, not after expiry */
				if (leases_on() && !k.release_asked &&
				    k.helpers[H_LEASE].state == HS_UP) {
					struct msg_lease m;

					memset(&m, 0, sizeof(m));
					peer_send(&k.helpers[H_LEASE].p,
					    MSG_L_RELEASE, &m, sizeof(m), NULL,
					    0);
					k.release_asked = 1;
				}
				if (!k.release_asked || k.released ||
				    k.helpers[H_LEASE].state != HS_UP ||
				    now >= k.stop_deadline) {
					for (i = 0; i < H_COUNT; i++)
						helper_stop(&k.helpers[i]);
					helpers_told = 1;
				}
			}
			if (k.running == 0 && helpers_alive() == 0)
				break;
			if (now >= k.stop_deadline + 1000) {
				/* stragglers were SIGKILLed at the deadline */
				log_warnx("stop: %d workers and %d helpers "
				    "still there; leaving", k.running,
				    helpers_alive());
				break;
			}
			if (now >= k.stop_deadline)
				for (i = 0; i < H_COUNT; i++)
					if (k.helpers[i].p.pid > 0) {
						kill(k.helpers[i].p.pid, SIGKILL);
						k.helpers[i].state = HS_STOPPING;
					}
		}
		topology_service();
		notify_service();
		schedule();
		if (now >= k.next_summary) {
			if (k.next_summary != 0)
				summary();
			k.next_summary = now + SUMMARY_EVERY_MS;
		}
		if (!k.sb_on && k.status_dirty && now >= k.status_next)
			status_begin();
		if (k.sb_on && status_more(STATUS_PER_TURN))
			status_commit();
		if (!k.stopping && (k.running != k.workers_last ||
		    now - k.workers_sent >= 10000)) {
			metrics_event(NULL, MSG_M_WORKERS, (uint64_t)k.running);
			k.workers_last = k.running;
			k.workers_sent = now;
		}
		if (leases_on() && (k.leases_held != k.leases_sent ||
		    now - k.leases_sent_at >= 10000)) {
			metrics_event(NULL, MSG_M_LEASES,
			    (uint64_t)k.leases_held);
			k.leases_sent = k.leases_held;
			k.leases_sent_at = now;
		}
		if (k.pending != k.pending_last || now - k.pending_sent >=
		    10000) {
			metrics_event(NULL, MSG_M_PENDING, k.pending);
			k.pending_last = k.pending;
			k.pending_sent = now;
		}

		n = 1 + k.nslots + H_COUNT;
		if (n > cap) {
			cap = n;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			who = xrealloc(who, cap * sizeof(*who));
			wslot = xrealloc(wslot, cap * sizeof(*wslot));
			whelp = xrealloc(whelp, cap * sizeof(*whelp));
		}
		pfd[0].fd = k.sigfd;
		pfd[0].events = POLLIN;
		n = 1;
		for (i = 0; i < k.nslots + H_COUNT; i++) {
			struct peer *p = i < k.nslots ? &k.slots[i]->p :
			    &k.helpers[i - k.nslots].p;

			if (p->fd == -1)
				continue;
			pfd[n].fd = p->fd;
			pfd[n].events = POLLIN;
			if (p->out_off < p->out.len)
				pfd[n].events |= POLLOUT;
			who[n] = p;
			whelp[n] = i < k.nslots ? NULL : &k.helpers[i - k.nslots];
			wslot[n++] = i < k.nslots ? k.slots[i] : NULL;
		}
		wait = next_timeout();
		now = now_ms();
		/* the longest time between two polls: the loop's stall */
		if (cpu_us() - cpu_start > k.max_turn_cpu_us)
			k.max_turn_cpu_us = cpu_us() - cpu_start;
		if (now - turn_start > k.max_turn_ms) {
			k.max_turn_ms = now - turn_start;
			if (k.max_turn_ms >= STALL_LOG_MS)
				log_debug("loop: longest turn so far %llu ms "
				    "(%llu ms of CPU)",
				    (unsigned long long)k.max_turn_ms,
				    (unsigned long long)(cpu_us() - cpu_start) /
				    1000);
		}
		k.turn_now = 0;
		r = poll(pfd, n, (int)(wait > 60000 ? 60000 : wait));
		turn_start = k.turn_now = now_ms();
		cpu_start = cpu_us();
		if (r == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN)
			handle_signals();
		for (i = 1; i < n; i++) {
			if (who[i]->fd != pfd[i].fd)
				continue;
			if (pfd[i].revents & POLLOUT)
				peer_flush(who[i]);
			if (who[i]->fd != pfd[i].fd ||
			    !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (wslot[i] != NULL)
				slot_read(wslot[i]);
			else
				helper_read(whelp[i]);
		}
	}
	free(pfd);
	free(who);
	free(wslot);
	free(whelp);
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

/*
 * "check" and "verify" call AWS: the worker program runs them (-C), the
 * program that links libcurl; this one does not (Makefile). Same argv,
 * same exit statuses: the command replaces this process.
 */
static int
run_command(int argc, char *argv[])
{
	char path[PATH_MAX], **av;
	int i;

	find_program(path, sizeof(path), "KINESIS_KEEPER_HELPER", WORKER_NAME);
	av = xcalloc((size_t)argc + 2, sizeof(*av));
	av[0] = xstrdup(WORKER_NAME);
	av[1] = xstrdup("-C");
	for (i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	execv(path, av);
	fprintf(stderr, "kinesis-keeper: %s: %s: %s\n", argv[1], path,
	    strerror(errno));
	return EX_FATAL;
}

int
main(int argc, char *argv[])
{
	struct cfg_errors errs;
	sigset_t mask;
	int ch, check = 0, lockfd, exit_code = 0;
	size_t i;

	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return run_command(argc, argv);
	if (argc == 2 && strcmp(argv[1], "--list-keys") == 0) {
		cfg_list_keys(stdout);
		return 0;
	}
	/* a command word first: its own options, its own exit statuses */
	if (argc >= 2 && strcmp(argv[1], "status") == 0)
		return status_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return run_command(argc, argv);
	while ((ch = getopt(argc, argv, "dhnvVD:")) != -1) {
		switch (ch) {
		case 'd':
			k.debug = 1;
			break;
		case 'h':
			usage(0);
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
			usage(EX_FATAL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage(EX_FATAL);
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
	find_program(k.worker_path, sizeof(k.worker_path),
	    "KINESIS_KEEPER_WORKER", WORKER_NAME);
	if (access(k.worker_path, X_OK) == -1)
		fatal("worker program %s", k.worker_path);
	/* the helpers are the real worker program even when tests give the
	 * workers a stand-in */
	find_program(k.helper_path, sizeof(k.helper_path),
	    "KINESIS_KEEPER_HELPER", WORKER_NAME);
	if (access(k.helper_path, X_OK) == -1)
		fatal("helper program %s", k.helper_path);

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

	/* no libcurl, no OpenSSL, no credentials here: the helpers own every
	 * network call (kinesis-keeper(8), ARCHITECTURE) */
	log_info("starting %s: stream %s, bucket %s, region %s, state %s",
	    KK_VERSION, k.cfg.stream, k.cfg.s3_bucket, k.cfg.region,
	    k.cfg.state_dir);

	/* announce what a previous run archived but could not announce */
	k.started_wall = (int64_t)wall_ms();
	k.leases_sent = -1;
	k.status_dirty = 1;
	notify_queue_all();
	main_loop();
	status_write();
	if (!notify_idle())
		log_warnx("some notifications are still pending; they will be "
		    "published at the next start");
	log_info("stopped (longest loop turn %llu ms; most CPU in a turn "
	    "%llu ms)", (unsigned long long)k.max_turn_ms,
	    (unsigned long long)k.max_turn_cpu_us / 1000);
	{
		struct buf names;
		int nab = 0;

		buf_init(&names);
		for (i = 0; i < k.nslots; i++)
			if (k.slots[i]->abandoned) {
				buf_printf(&names, "%s%s", nab++ ? ", " : "",
				    k.slots[i]->shard);
			}
		if (nab > 0) {
			log_warnx("stop: the final flush of %d shard%s was "
			    "abandoned (nothing lost: read again at the next "
			    "start): %s", nab, nab > 1 ? "s" : "", names.data);
			exit_code = EX_FATAL;
		}
		buf_free(&names);
	}

	for (i = 0; i < k.nslots; i++) {
		struct slot *s = k.slots[i];

		free(s->shard);
		free(s->parent);
		free(s->adjacent);
		free(s->last_key);
		free(s->error);
		msgbuf_free(&s->p.mb);
		peer_close(&s->p);
		buf_free(&s->p.out);
		free(s);
	}
	free(k.slots);
	free(k.hash);
	for (i = 0; i < H_COUNT; i++) {
		msgbuf_free(&k.helpers[i].p.mb);
		peer_close(&k.helpers[i].p);
		buf_free(&k.helpers[i].p.out);
	}
	for (i = k.nqh; i < k.nnq; i++)
		free(k.nq[i]);
	free(k.nq);
	fly_clear();
	free(k.pend);
	free(k.kerr);
	buf_free(&k.sb);
	cfg_free(&k.cfg);
	free(k.cfgtext);
	free(k.overrides);
	close(lockfd);
	return exit_code;
}
