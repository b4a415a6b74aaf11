/*
 * test_slot.c: supervisor/slot.c, the shard slot's transition table. Every
 * state x event cell is walked against the table written out again below
 * (next state and action), then the clock side: deadlines set on entering a
 * state, the timers that fall due, the backoff and its reset, on a fake clock.
 */
#include <stdio.h>
#include <string.h>

#include "slot.h"
#include "t.h"

/*
 * Expected cells, one row per state in enum order, one column per event in
 * enum order: SPAWNED SPAWN_FAILED HELLO FLUSH DONE EXIT_DONE EXIT_CONFIG
 * EXIT_OTHER PROTO_ERROR HELLO_TIMEOUT STOP_TIMEOUT BACKOFF_DUE STOP RELOAD
 * PARENTS_READY LEASE_LOST. "=" keeps the state and does nothing; "STATE" moves with no
 * action; "STATE/ACTION" or "=/ACTION".
 */
static const char *const expect[SLOT_NSTATES][SLOT_NEVENTS] = {
	/* WAITING */
	{ "STARTING", "BACKOFF", "=", "=", "DONE", "=", "=", "=", "=", "=",
	  "=", "=", "=", "WAITING", "=/SPAWN", "=" },
	/* STARTING */
	{ "=", "=", "RUNNING", "KILLED/KILL", "KILLED/KILL", "DONE", "FAILED",
	  "BACKOFF/RESTART", "KILLED/KILL", "KILLED/KILL", "=", "=",
	  "STOPPING/TERM", "RELOADING/TERM", "=", "RELOADING/TERM" },
	/* RUNNING */
	{ "=", "=", "KILLED/KILL", "=/NOTIFY", "=/TOPOLOGY", "DONE", "FAILED",
	  "BACKOFF/RESTART", "KILLED/KILL", "=", "=", "=", "STOPPING/TERM",
	  "RELOADING/TERM", "=", "RELOADING/TERM" },
	/* STOPPING */
	{ "=", "=", "=", "=/NOTIFY", "=", "DONE", "FAILED", "WAITING",
	  "STOP_KILLED/KILL", "=", "STOP_KILLED/KILL", "=", "=", "=", "=", "=" },
	/* STOP_KILLED */
	{ "=", "=", "=", "=/NOTIFY", "=", "DONE", "FAILED", "WAITING", "=",
	  "=", "=", "=", "=", "=", "=", "=" },
	/* RELOADING */
	{ "=", "=", "=", "=/NOTIFY", "=/TOPOLOGY", "DONE", "WAITING",
	  "WAITING", "RELOAD_KILLED/KILL", "=", "RELOAD_KILLED/KILL", "=",
	  "STOPPING", "=", "=", "=" },
	/* RELOAD_KILLED */
	{ "=", "=", "=", "=/NOTIFY", "=", "DONE", "WAITING", "WAITING", "=",
	  "=", "=", "=", "STOP_KILLED", "=", "=", "=" },
	/* KILLED */
	{ "=", "=", "=", "=", "=", "DONE", "FAILED", "BACKOFF/RESTART", "=",
	  "=", "=", "=", "STOP_KILLED", "RELOAD_KILLED", "=", "RELOAD_KILLED" },
	/* BACKOFF */
	{ "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "WAITING",
	  "WAITING", "WAITING", "=", "WAITING" },
	/* DONE */
	{ "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=",
	  "=", "=" },
	/* FAILED */
	{ "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=", "=",
	  "WAITING", "=", "=" },
};

static const struct slot_timing tm = {
	.restart_min_ms = 200, .restart_max_ms = 2000, .shutdown_ms = 3000,
	.hello_ms = 15000, .healthy_ms = 10000
};

#define NOW	1000000

static void
walk_cells(void)
{
	int s, e;

	for (s = 0; s < SLOT_NSTATES; s++)
		for (e = 0; e < SLOT_NEVENTS; e++) {
			struct slot_fsm f = { (enum slot_state)s, NOW + 5, NOW - 1,
			    0 };
			char want_state[32], want_act[32], got[80], want[80];
			const char *x = expect[s][e], *slash;
			enum slot_action a;

			slash = strchr(x, '/');
			snprintf(want_state, sizeof(want_state), "%.*s",
			    (int)(slash ? slash - x : (long)strlen(x)), x);
			snprintf(want_act, sizeof(want_act), "%s",
			    slash ? slash + 1 : "NONE");
			if (strcmp(want_state, "=") == 0)
				snprintf(want_state, sizeof(want_state), "%s",
				    slot_state_name((enum slot_state)s));
			a = slot_step(&f, (enum slot_event)e, NOW, &tm);
			snprintf(got, sizeof(got), "%s/%s",
			    slot_state_name(f.state), slot_action_name(a));
			snprintf(want, sizeof(want), "%s/%s", want_state,
			    want_act);
			T_OK(strcmp(got, want) == 0, "%s x %s -> %s",
			    slot_state_name((enum slot_state)s),
			    slot_event_name((enum slot_event)e), want);
			if (strcmp(got, want) != 0)
				printf("#   got: %s\n", got);
		}
}

/* A state whose cell says "stay" keeps its deadline: no timer restarts. */
static void
stay_keeps_deadline(void)
{
	int s, e, bad = 0;

	for (s = 0; s < SLOT_NSTATES; s++)
		for (e = 0; e < SLOT_NEVENTS; e++) {
			struct slot_fsm f = { (enum slot_state)s, NOW + 5, 0, 0 };

			if (expect[s][e][0] != '=' ||
			    !slot_has_deadline((enum slot_state)s))
				continue;
			slot_step(&f, (enum slot_event)e, NOW, &tm);
			if (f.deadline != NOW + 5) {
				bad++;
				printf("#   %s x %s moved the deadline\n",
				    slot_state_name((enum slot_state)s),
				    slot_event_name((enum slot_event)e));
			}
		}
	T_OK(bad == 0, "a cell that keeps its state keeps its deadline");
}

static void
clock_side(void)
{
	struct slot_fsm f;
	unsigned i;
	int ok;

	/* spawn: the HELLO timer runs from the fork */
	memset(&f, 0, sizeof(f));
	slot_step(&f, SEV_SPAWNED, NOW, &tm);
	T_INTEQ(f.deadline, NOW + 15000, "SPAWNED: HELLO deadline now + 15 s");
	T_INTEQ(f.started_ms, NOW, "SPAWNED: start time is now");
	T_INTEQ(slot_due(&f, NOW + 14999), -1, "STARTING: no timer 1 ms early");
	T_INTEQ(slot_due(&f, NOW + 15000), SEV_HELLO_TIMEOUT,
	    "STARTING: HELLO_TIMEOUT due at the deadline");
	/* the timeout fires once: KILLED has no timer (the 287-line spin) */
	T_INTEQ(slot_step(&f, SEV_HELLO_TIMEOUT, NOW + 15000, &tm), SACT_KILL,
	    "HELLO_TIMEOUT: kill");
	T_INTEQ(slot_due(&f, NOW + 60000), -1,
	    "KILLED: no timer falls due again, however late");
	T_INTEQ(slot_step(&f, SEV_HELLO_TIMEOUT, NOW + 15001, &tm), SACT_NONE,
	    "KILLED: a second HELLO_TIMEOUT does nothing");

	/* stop while STARTING, then the HELLO: accepted, stop deadline kept */
	memset(&f, 0, sizeof(f));
	slot_step(&f, SEV_SPAWNED, NOW, &tm);
	T_INTEQ(slot_step(&f, SEV_STOP, NOW + 10, &tm), SACT_TERM,
	    "STARTING x STOP: SIGTERM");
	T_INTEQ(f.deadline, NOW + 10 + 3000, "STOPPING: deadline now + "
	    "shutdown_timeout");
	T_INTEQ(slot_step(&f, SEV_HELLO, NOW + 20, &tm), SACT_NONE,
	    "STOPPING x HELLO: no kill");
	T_INTEQ(f.state, SLOT_STOPPING, "STOPPING x HELLO: still stopping");
	T_INTEQ(slot_due(&f, NOW + 3010), SEV_STOP_TIMEOUT,
	    "STOPPING: STOP_TIMEOUT due at the deadline");
	slot_step(&f, SEV_STOP_TIMEOUT, NOW + 3010, &tm);
	T_INTEQ(slot_due(&f, NOW + 9000), -1, "STOP_KILLED: no timer again");

	/* spawn failure: restart_min */
	memset(&f, 0, sizeof(f));
	slot_step(&f, SEV_SPAWN_FAILED, NOW, &tm);
	T_INTEQ(f.deadline, NOW + 200, "SPAWN_FAILED: retry after restart_min");
	T_INTEQ(slot_due(&f, NOW + 200), SEV_BACKOFF_DUE,
	    "BACKOFF: BACKOFF_DUE at the deadline");
	slot_step(&f, SEV_BACKOFF_DUE, NOW + 200, &tm);
	T_INTEQ(f.state, SLOT_WAITING, "BACKOFF_DUE: waiting for a turn");

	/* a crash loop: delays within [n/2, n], n = min(200 * 2^k, 2000) */
	memset(&f, 0, sizeof(f));
	ok = 1;
	for (i = 0; i < 8; i++) {
		uint64_t t = NOW + i * 100000ULL, n, d;

		f.state = SLOT_WAITING;
		slot_step(&f, SEV_SPAWNED, t, &tm);
		slot_step(&f, SEV_HELLO, t, &tm);
		if (slot_step(&f, SEV_EXIT_OTHER, t + 50, &tm) != SACT_RESTART)
			ok = 0;
		n = 200ULL << i;
		if (n > 2000)
			n = 2000;
		d = f.deadline - (t + 50);
		if (d < n / 2 || d > n || d < 200) {
			ok = 0;
			printf("#   restart %u: delay %llu, nominal %llu\n", i,
			    (unsigned long long)d, (unsigned long long)n);
		}
	}
	T_OK(ok, "crash loop: restart delays grow from restart_min to "
	    "restart_max, never below restart_min");
	T_INTEQ(f.restarts, 8, "crash loop: 8 restarts counted");
	/* healthy for 10 s: back to restart_min */
	f.state = SLOT_WAITING;
	slot_step(&f, SEV_SPAWNED, NOW + 10000000, &tm);
	slot_step(&f, SEV_EXIT_OTHER, NOW + 10000000 + 10000, &tm);
	T_OK(f.deadline - (NOW + 10010000) <= 200 && f.restarts == 1,
	    "10 s of health: the next delay is restart_min again (%llu ms)",
	    (unsigned long long)(f.deadline - (NOW + 10010000)));

	/* a reload resets the backoff of a failed or backing-off slot */
	f.state = SLOT_BACKOFF;
	f.restarts = 5;
	slot_step(&f, SEV_RELOAD, NOW, &tm);
	T_OK(f.state == SLOT_WAITING && f.restarts == 0 && f.deadline == 0,
	    "BACKOFF x RELOAD: waiting, backoff reset");
	f.state = SLOT_FAILED;
	f.restarts = 5;
	slot_step(&f, SEV_RELOAD, NOW, &tm);
	T_OK(f.state == SLOT_WAITING && f.restarts == 0,
	    "FAILED x RELOAD: waiting, backoff reset");

	/* timers of states without one */
	ok = 1;
	for (i = 0; i < SLOT_NSTATES; i++) {
		f.state = (enum slot_state)i;
		f.deadline = 0;
		if (!slot_has_deadline(f.state) && slot_due(&f, NOW) != -1)
			ok = 0;
	}
	T_OK(ok, "no timer falls due in a state without a deadline");
	T_OK(slot_has_process(SLOT_STOP_KILLED) && !slot_has_process(SLOT_BACKOFF)
	    && !slot_has_process(SLOT_WAITING),
	    "process states: the killed ones have a process, BACKOFF none");
}

/*
 * Issue 15, bug 3: a lease lost and won again (a new token) while its old
 * worker stops. The keeper stops the worker on LOST (LEASE_LOST), again on
 * the GAINED of a new token (LEASE_LOST, nothing more to do), and the old
 * worker's exit 77 must not drop the new lease: the slot waits, leased,
 * and schedule() starts a worker under the new token.
 */
static void
lease_won_again(void)
{
	struct slot_fsm f = { SLOT_RUNNING, 0, NOW - 1, 0 };
	enum slot_action a1, a2, a3;

	a1 = slot_step(&f, SEV_LEASE_LOST, NOW, &tm);		/* LOST */
	a2 = slot_step(&f, SEV_LEASE_LOST, NOW + 10, &tm);	/* GAINED B */
	T_OK(f.state == SLOT_RELOADING && a1 == SACT_TERM && a2 == SACT_NONE,
	    "lease lost then won again while its worker stops: one SIGTERM, "
	    "still stopping (%s)", slot_state_name(f.state));
	T_OK(!slot_lease_exit_lost("tok-A", "tok-B"),
	    "exit 77 of a worker started under the old lease (tok-A) while "
	    "the slot holds a new one (tok-B): the new lease is kept");
	a3 = slot_step(&f, SEV_EXIT_OTHER, NOW + 20, &tm);	/* exit 77 */
	T_OK(f.state == SLOT_WAITING && a3 == SACT_NONE && f.deadline == 0,
	    "... and the slot waits for schedule() to start a worker under "
	    "the new lease, with no backoff (%s)", slot_state_name(f.state));
	T_OK(slot_lease_exit_lost("tok-A", "tok-A"),
	    "exit 77 of a worker started under the slot's lease (tok-A): the "
	    "lease is lost");
	T_OK(slot_lease_exit_lost("", ""),
	    "exit 77 with no token on either side (no lease won since): lost");
	/* the 77 may come before the GAINED: the new lease finds no process */
	f.state = SLOT_RUNNING;
	slot_step(&f, SEV_LEASE_LOST, NOW, &tm);
	slot_step(&f, SEV_EXIT_OTHER, NOW + 10, &tm);
	T_OK(f.state == SLOT_WAITING && !slot_has_process(f.state),
	    "lease lost, its worker's exit 77, then won again: WAITING, no "
	    "process to stop (the GAINED only sets the lease)");
}

int
main(void)
{
	walk_cells();
	stay_keeps_deadline();
	clock_side();
	lease_won_again();
	return t_done();
}
