/*
 * slot.h: the life of one shard slot as a table (after s6-supervise and
 * bgpd's change_state): states x events -> next state + action. No I/O in
 * here: the caller turns what happened into events, passes the clock in and
 * carries out the returned action (spawn, signal, drain, look at topology).
 */
#ifndef KK_SLOT_H
#define KK_SLOT_H

#include <stdint.h>

enum slot_state {
	SLOT_WAITING,		/* no process: waiting for parents (or a turn) */
	SLOT_STARTING,		/* forked, no HELLO yet; deadline: HELLO timeout */
	SLOT_RUNNING,		/* HELLO received */
	SLOT_STOPPING,		/* SIGTERM sent for the keeper's stop; deadline */
	SLOT_STOP_KILLED,	/* ... and SIGKILL after the deadline: quiet */
	SLOT_RELOADING,		/* SIGTERM sent for a reload: respawn at exit */
	SLOT_RELOAD_KILLED,	/* ... and SIGKILL after the deadline */
	SLOT_KILLED,		/* SIGKILL for a protocol error or no HELLO */
	SLOT_BACKOFF,		/* died; deadline: the next start */
	SLOT_DONE,		/* shard end archived: never started again */
	SLOT_FAILED,		/* exit 78: not respawned until a reload */
	SLOT_NSTATES
};

enum slot_event {
	SEV_SPAWNED,		/* the caller forked a worker */
	SEV_SPAWN_FAILED,	/* socketpair or fork failed */
	SEV_HELLO,
	SEV_FLUSH,
	SEV_DONE,		/* DONE message, or a checkpoint that says done */
	SEV_EXIT_DONE,		/* exit 0 and the checkpoint says done */
	SEV_EXIT_CONFIG,	/* exit 78 */
	SEV_EXIT_OTHER,		/* any other exit or signal */
	SEV_PROTO_ERROR,	/* malformed or unexpected message */
	SEV_HELLO_TIMEOUT,
	SEV_STOP_TIMEOUT,
	SEV_BACKOFF_DUE,
	SEV_STOP,		/* the keeper stops */
	SEV_RELOAD,		/* the configuration changed */
	SEV_PARENTS_READY,	/* listed, and every parent is done and announced */
	SEV_LEASE_LOST,		/* another keeper owns the shard now: stop, no
				 * restart until the lease is won again */
	SLOT_NEVENTS
};

enum slot_action {
	SACT_NONE,
	SACT_SPAWN,		/* start a worker, then report SPAWNED/SPAWN_FAILED */
	SACT_TERM,		/* SIGTERM the worker */
	SACT_KILL,		/* SIGKILL the worker */
	SACT_NOTIFY,		/* a flush: publish the shard's outbox */
	SACT_TOPOLOGY,		/* the shard ended: its children may be new */
	SACT_RESTART		/* restart scheduled at deadline: log, count */
};

struct slot_timing {
	uint64_t	restart_min_ms;
	uint64_t	restart_max_ms;
	uint64_t	shutdown_ms;
	uint64_t	hello_ms;
	uint64_t	healthy_ms;	/* up this long resets the backoff */
};

struct slot_fsm {
	enum slot_state	 state;
	uint64_t	 deadline;	/* STARTING, STOPPING, RELOADING, BACKOFF */
	uint64_t	 started_ms;
	unsigned	 restarts;
};

/* Apply one event at time now; returns the action for the caller. */
enum slot_action slot_step(struct slot_fsm *, enum slot_event, uint64_t now,
	    const struct slot_timing *);
/* The timer event due at now (HELLO/STOP timeout, backoff), or -1. */
int		 slot_due(const struct slot_fsm *, uint64_t now);
/* 1 when the state has a deadline (then it is in fsm->deadline). */
int		 slot_has_deadline(enum slot_state);
/* 1 when a process may exist in this state. */
int		 slot_has_process(enum slot_state);
/* A worker's exit 77 (checkpoint refused) loses the slot's lease only
 * when the worker ran under it: 1 when worker_token (the lease the worker
 * was started with) is still lease_token (the slot's lease now). */
int		 slot_lease_exit_lost(const char *worker_token,
	    const char *lease_token);
const char	*slot_state_name(enum slot_state);
const char	*slot_event_name(enum slot_event);
const char	*slot_action_name(enum slot_action);

#endif
