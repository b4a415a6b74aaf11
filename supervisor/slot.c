/*
 * slot.c: the transition table of a shard slot (see slot.h). Every cell
 * not written below keeps the state and does nothing: an event that cannot
 * matter there (a timer of another state, a message from a process already
 * SIGKILLed) is ignored, so no cell repeats an action by accident.
 */
#include <stddef.h>
#include <string.h>

#include "slot.h"
#include "util.h"

struct cell {
	unsigned char	next;	/* state + 1; 0: stay */
	unsigned char	act;
};

#define T(st, a)	{ (st) + 1, (a) }
#define A(a)		{ 0, (a) }

static const struct cell table[SLOT_NSTATES][SLOT_NEVENTS] = {
	[SLOT_WAITING] = {
		[SEV_SPAWNED] = T(SLOT_STARTING, SACT_NONE),
		[SEV_SPAWN_FAILED] = T(SLOT_BACKOFF, SACT_NONE),
		[SEV_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_RELOAD] = T(SLOT_WAITING, SACT_NONE),
		[SEV_PARENTS_READY] = A(SACT_SPAWN),
	},
	[SLOT_STARTING] = {
		[SEV_HELLO] = T(SLOT_RUNNING, SACT_NONE),
		[SEV_FLUSH] = T(SLOT_KILLED, SACT_KILL),	/* before HELLO */
		[SEV_DONE] = T(SLOT_KILLED, SACT_KILL),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_FAILED, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_BACKOFF, SACT_RESTART),
		[SEV_PROTO_ERROR] = T(SLOT_KILLED, SACT_KILL),
		[SEV_HELLO_TIMEOUT] = T(SLOT_KILLED, SACT_KILL),
		[SEV_STOP] = T(SLOT_STOPPING, SACT_TERM),
		[SEV_RELOAD] = T(SLOT_RELOADING, SACT_TERM),
		[SEV_LEASE_LOST] = T(SLOT_RELOADING, SACT_TERM),
	},
	[SLOT_RUNNING] = {
		[SEV_HELLO] = T(SLOT_KILLED, SACT_KILL),	/* a second one */
		[SEV_FLUSH] = A(SACT_NOTIFY),
		[SEV_DONE] = A(SACT_TOPOLOGY),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_FAILED, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_BACKOFF, SACT_RESTART),
		[SEV_PROTO_ERROR] = T(SLOT_KILLED, SACT_KILL),
		[SEV_STOP] = T(SLOT_STOPPING, SACT_TERM),
		[SEV_RELOAD] = T(SLOT_RELOADING, SACT_TERM),
		/* a lease lost stops the worker like a reload does: it
		 * flushes (its checkpoint is refused) and waits, in WAITING,
		 * until the lease is won again */
		[SEV_LEASE_LOST] = T(SLOT_RELOADING, SACT_TERM),
	},
	/* told to stop: a late HELLO (stopped while STARTING) is fine */
	[SLOT_STOPPING] = {
		[SEV_FLUSH] = A(SACT_NOTIFY),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_FAILED, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_WAITING, SACT_NONE),
		[SEV_PROTO_ERROR] = T(SLOT_STOP_KILLED, SACT_KILL),
		[SEV_STOP_TIMEOUT] = T(SLOT_STOP_KILLED, SACT_KILL),
	},
	[SLOT_STOP_KILLED] = {
		[SEV_FLUSH] = A(SACT_NOTIFY),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_FAILED, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_WAITING, SACT_NONE),
	},
	/* the old configuration's 78 says nothing about the new one */
	[SLOT_RELOADING] = {
		[SEV_FLUSH] = A(SACT_NOTIFY),
		[SEV_DONE] = A(SACT_TOPOLOGY),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_WAITING, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_WAITING, SACT_NONE),
		[SEV_PROTO_ERROR] = T(SLOT_RELOAD_KILLED, SACT_KILL),
		[SEV_STOP_TIMEOUT] = T(SLOT_RELOAD_KILLED, SACT_KILL),
		[SEV_STOP] = T(SLOT_STOPPING, SACT_NONE),
	},
	[SLOT_RELOAD_KILLED] = {
		[SEV_FLUSH] = A(SACT_NOTIFY),
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_WAITING, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_WAITING, SACT_NONE),
		[SEV_STOP] = T(SLOT_STOP_KILLED, SACT_NONE),
	},
	/* SIGKILL sent: wait for the exit, never kill twice */
	[SLOT_KILLED] = {
		[SEV_EXIT_DONE] = T(SLOT_DONE, SACT_NONE),
		[SEV_EXIT_CONFIG] = T(SLOT_FAILED, SACT_NONE),
		[SEV_EXIT_OTHER] = T(SLOT_BACKOFF, SACT_RESTART),
		[SEV_STOP] = T(SLOT_STOP_KILLED, SACT_NONE),
		[SEV_RELOAD] = T(SLOT_RELOAD_KILLED, SACT_NONE),
		[SEV_LEASE_LOST] = T(SLOT_RELOAD_KILLED, SACT_NONE),
	},
	[SLOT_BACKOFF] = {
		[SEV_BACKOFF_DUE] = T(SLOT_WAITING, SACT_NONE),
		[SEV_STOP] = T(SLOT_WAITING, SACT_NONE),
		[SEV_RELOAD] = T(SLOT_WAITING, SACT_NONE),
		[SEV_LEASE_LOST] = T(SLOT_WAITING, SACT_NONE),
	},
	[SLOT_DONE] = {
		[SEV_DONE] = A(SACT_NONE),
	},
	[SLOT_FAILED] = {
		[SEV_RELOAD] = T(SLOT_WAITING, SACT_NONE),
	},
};

static const char *const state_names[SLOT_NSTATES] = {
	"WAITING", "STARTING", "RUNNING", "STOPPING", "STOP_KILLED",
	"RELOADING", "RELOAD_KILLED", "KILLED", "BACKOFF", "DONE", "FAILED"
};

static const char *const event_names[SLOT_NEVENTS] = {
	"SPAWNED", "SPAWN_FAILED", "HELLO", "FLUSH", "DONE", "EXIT_DONE",
	"EXIT_CONFIG", "EXIT_OTHER", "PROTO_ERROR", "HELLO_TIMEOUT",
	"STOP_TIMEOUT", "BACKOFF_DUE", "STOP", "RELOAD", "PARENTS_READY",
	"LEASE_LOST"
};

static const char *const action_names[] = {
	"NONE", "SPAWN", "TERM", "KILL", "NOTIFY", "TOPOLOGY", "RESTART"
};

const char *
slot_state_name(enum slot_state s)
{
	return (unsigned)s < SLOT_NSTATES ? state_names[s] : "?";
}

const char *
slot_event_name(enum slot_event e)
{
	return (unsigned)e < SLOT_NEVENTS ? event_names[e] : "?";
}

const char *
slot_action_name(enum slot_action a)
{
	return (unsigned)a <= SACT_RESTART ? action_names[a] : "?";
}

/*
 * A worker started under an older lease knows nothing of the one won since
 * (lease_gained() stops it and installs the new token): its refusal says
 * nothing about the new lease, whose renewals the lease helper judges.
 */
int
slot_lease_exit_lost(const char *worker_token, const char *lease_token)
{
	return strcmp(worker_token, lease_token) == 0;
}

int
slot_has_deadline(enum slot_state s)
{
	return s == SLOT_STARTING || s == SLOT_STOPPING ||
	    s == SLOT_RELOADING || s == SLOT_BACKOFF;
}

int
slot_has_process(enum slot_state s)
{
	return s == SLOT_STARTING || s == SLOT_RUNNING ||
	    s == SLOT_STOPPING || s == SLOT_STOP_KILLED ||
	    s == SLOT_RELOADING || s == SLOT_RELOAD_KILLED ||
	    s == SLOT_KILLED;
}

enum slot_action
slot_step(struct slot_fsm *f, enum slot_event ev, uint64_t now,
    const struct slot_timing *t)
{
	struct cell c;
	enum slot_state from = f->state, to;
	uint64_t delay;

	if ((unsigned)from >= SLOT_NSTATES || (unsigned)ev >= SLOT_NEVENTS)
		return SACT_NONE;
	c = table[from][ev];
	to = c.next ? (enum slot_state)(c.next - 1) : from;
	/* what entering a state means for its clock and counters */
	switch (to) {
	case SLOT_STARTING:
		if (from != SLOT_STARTING) {
			f->started_ms = now;
			f->deadline = now + t->hello_ms;
		}
		break;
	case SLOT_STOPPING:
	case SLOT_RELOADING:
		if (from != to)
			f->deadline = now + t->shutdown_ms;
		break;
	case SLOT_BACKOFF:
		if (from == SLOT_BACKOFF)
			break;
		if (c.act != SACT_RESTART) {
			f->deadline = now + t->restart_min_ms;
			break;
		}
		/* a worker that proved healthy starts the backoff again */
		if (now - f->started_ms >= t->healthy_ms)
			f->restarts = 0;
		delay = backoff_ms(f->restarts, t->restart_min_ms,
		    t->restart_max_ms);
		if (delay < t->restart_min_ms)
			delay = t->restart_min_ms;
		f->deadline = now + delay;
		f->restarts++;
		break;
	case SLOT_WAITING:
		if (ev == SEV_RELOAD || from == SLOT_RELOADING ||
		    from == SLOT_RELOAD_KILLED)
			f->restarts = 0;
		f->deadline = 0;
		break;
	case SLOT_FAILED:
		if (ev == SEV_RELOAD)
			f->restarts = 0;
		f->deadline = 0;
		break;
	default:
		if (!slot_has_deadline(to))
			f->deadline = 0;
		break;
	}
	f->state = to;
	return (enum slot_action)c.act;
}

int
slot_due(const struct slot_fsm *f, uint64_t now)
{
	if (!slot_has_deadline(f->state) || now < f->deadline)
		return -1;
	switch (f->state) {
	case SLOT_STARTING:
		return SEV_HELLO_TIMEOUT;
	case SLOT_STOPPING:
	case SLOT_RELOADING:
		return SEV_STOP_TIMEOUT;
	case SLOT_BACKOFF:
		return SEV_BACKOFF_DUE;
	default:
		return -1;
	}
}
