#!/usr/bin/env python3
"""
test_supervision.py: the supervisor's worker management (SPEC section 3,
kinesis-keeper(8), kinesis-keeper-worker(8)) against moto with SigV4 on and
a 3-shard stream. Phases A-C, E and F run fake_worker.py (through
KINESIS_KEEPER_WORKER) to misbehave on purpose:
  A  a crash loop (exponential backoff from workers.restart_min, capped at
     restart_max), exit 78 (never respawned, logged; started again by a
     reload with a changed config)
  B  protocol violations: garbage, unknown type, a 2 GiB header, FLUSH
     before HELLO, HELLO of another shard, a second HELLO, a wrong length
     (each killed and restarted)
  C  a stale generation (dropped, not punished); a worker that ignores
     SIGTERM (SIGKILLed after workers.shutdown_timeout, the keeper still
     exits 0)
  D  the real worker: SIGHUP with an invalid config (ignored), the same one,
     another stream (refused), a changed one (each worker flushes and is
     restarted once)
  E  the backoff returns to restart_min after 10 s of health; a worker that
     never sends HELLO is killed after 15 s
  F  a reload while a worker ignores SIGTERM
  G  a reload while a worker is STARTING, then its HELLO (accepted, not
     killed); a FLUSH claiming 2^64-1 records is bounded before metrics
The well-behaved workers beside the misbehaving ones must never be
restarted.
"""

import os
import re
import signal
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STREAM = "sup"
BUCKET = "kk-sup"
RESTART_MIN = 200      # ms, workers.restart_min
RESTART_MAX = 2000     # ms, workers.restart_max
SHUTDOWN = 2000        # ms, workers.shutdown_timeout

FAKE_OVERRIDES = {
    "workers.restart_min": "%dms" % RESTART_MIN,
    "workers.restart_max": "%dms" % RESTART_MAX,
    "workers.shutdown_timeout": "%dms" % SHUTDOWN,
}


class Fake:
    """A directory for fake_worker.py: its mode files and event logs, and a
    symlink to it named kinesis-keeper-fake-worker (so that kk finds its
    processes by command line)."""

    def __init__(self, modes):
        self.dir = tempfile.mkdtemp(prefix="kk-fake-")
        self.prog = os.path.join(self.dir, "kinesis-keeper-fake-worker")
        os.symlink(os.path.join(HERE, "fake_worker.py"), self.prog)
        for shard, mode in modes.items():
            with open(os.path.join(self.dir, shard + ".mode"), "w") as f:
                f.write(mode + "\n")
        self.env = {"KINESIS_KEEPER_WORKER": self.prog,
                    "KK_FAKE_DIR": self.dir}

    def events(self, shard):
        """[(t, pid, event, details)] of the shard, in order."""
        out = []
        try:
            with open(os.path.join(self.dir, shard + ".events")) as f:
                for line in f:
                    p = line.split(None, 3)
                    if len(p) >= 3:
                        out.append((float(p[0]), int(p[1]), p[2],
                                    p[3].strip() if len(p) > 3 else ""))
        except OSError:
            pass
        return out

    def starts(self, shard):
        return [e for e in self.events(shard) if e[2] == "start"]

    def pids(self, shard):
        return [e[1] for e in self.starts(shard)]

    def has(self, shard, pid, what):
        return any(e[1] == pid and e[2] == what for e in self.events(shard))

    def cleanup(self):
        for name in os.listdir(self.dir):
            if name.endswith(".events"):
                for _, pid, _, _ in self.events(name[:-len(".events")]):
                    if kx.alive(pid):
                        kk.kill_pid(pid)
        shutil.rmtree(self.dir, ignore_errors=True)


def restart_delays(lines, shard):
    pat = re.compile(r"^%s: restarting worker in (\d+) ms$" % re.escape(shard))
    out = []
    for ln in lines:
        m = pat.match(ln.msg)
        if m:
            out.append((ln, int(m.group(1))))
    return out


def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    t0 = time.monotonic()
    with kk.Moto() as moto:
        shards = moto.create_stream(STREAM, 3)
        moto.create_bucket(BUCKET)
        for name, phase in (("A backoff", phase_backoff),
                            ("B protocol", phase_protocol),
                            ("C shutdown", phase_shutdown),
                            ("D reload", phase_reload),
                            ("E health", phase_health),
                            ("F stuck reload", phase_stuck_reload),
                            ("G starting", phase_starting)):
            t = time.monotonic()
            diag("phase %s" % name)
            phase(moto, shards)
            diag("phase %s: %.1f s" % (name, time.monotonic() - t))
    diag("run time %.1f s" % (time.monotonic() - t0))


def run_fake(moto, modes, body, name):
    fake = Fake(modes)
    try:
        with kk.Keeper(moto, STREAM, BUCKET, overrides=FAKE_OVERRIDES,
                       env=fake.env, name=name) as keeper:
            try:
                body(keeper, fake)
                san = keeper.sanitizer_reports()
                ok(not san, "%s: no sanitizer report in the log" % name,
                   *san[:10])
            finally:
                kx.save_log(keeper, name + ".log")
    finally:
        fake.cleanup()


def check_fake_argv(fake, shard, keeper, label):
    st = fake.starts(shard)
    if not st:
        return
    d = st[0][3]
    ok("config=%s" % keeper.conf in d and "flags=-d-v" in d,
       "%s: worker argv carries -d -v, -s %s and the config path" % (label,
                                                                   shard), d)
    cfg = [e for e in fake.events(shard) if e[2] == "config" and
           e[1] == st[0][1]]
    gen = re.search(r"gen=(\d+)", d).group(1)
    ok(cfg and "type=2 gen=%s " % gen in cfg[0][3] and
       "stream=yes" in cfg[0][3],
       "%s: %s got a CONFIG with its generation %s" % (label, shard, gen),
       repr(cfg))


# ------------------------------------------------------------------ phase A

def phase_backoff(moto, shards):
    s_crash, s_good, s_78 = shards
    modes = {s_crash: "crash", s_good: "good", s_78: "exit78"}

    def body(keeper, fake):
        keeper.start()
        ok(kk.wait_until(lambda: fake.starts(s_good) and fake.starts(s_78),
                         10, 0.1),
           "A: fake workers started for every shard", *keeper.tail(20))
        time.sleep(10)
        starts = fake.starts(s_crash)
        good_starts = fake.starts(s_good)
        s78 = fake.starts(s_78)
        lines = kx.parse_log(keeper.log())

        # a changed configuration restarts the failed (78) worker too, and
        # the well-behaved one once, gracefully
        text = open(keeper.conf).read()
        write_atomic(keeper.conf, text + 'batch = { max_age = "7s"; };\n')
        n_crash = len(fake.starts(s_crash))
        os.kill(keeper.proc.pid, signal.SIGHUP)
        ok(kk.wait_until(lambda: len(fake.starts(s_78)) == 2 and
                         len(fake.starts(s_good)) == 2, 5, 0.1),
           "A: SIGHUP with a changed config: the exit-78 worker and the "
           "well-behaved one are started again (within 5 s)",
           "%s: %d starts, %s: %d starts" % (
               s_78, len(fake.starts(s_78)), s_good,
               len(fake.starts(s_good))), *keeper.tail(15))
        first = good_starts[0][1]
        ok(fake.has(s_good, first, "term") and
           fake.has(s_good, first, "exit"),
           "A: reload: the well-behaved worker was stopped with SIGTERM "
           "and exited by itself", repr(fake.events(s_good)))
        time.sleep(1)
        ok(len(fake.starts(s_78)) == 2 and len(fake.starts(s_good)) == 2,
           "A: reload: each restarted once only")
        diag("A: crash loop after the reload: %d -> %d starts"
             % (n_crash, len(fake.starts(s_crash))))
        t = time.monotonic()
        rc = keeper.stop(15)
        took = time.monotonic() - t
        ok(rc == 0 and took < SHUTDOWN / 1000.0 + 1,
           "A: SIGTERM: exit 0 in %.1f s" % took, "exit status %r" % rc)

        # crash loop
        delays = restart_delays(lines, s_crash)
        ds = [d for _, d in delays]
        diag("A: crash loop: %d starts; logged delays (ms): %s"
             % (len(starts), ds))
        ok(len(starts) >= 6, "A: a crash-looping worker keeps being "
           "restarted (%d starts in 10 s)" % len(starts))
        ok(len(kx.grep(lines, r"^%s: worker exited with status 1$" % s_crash))
           >= len(starts) - 1, "A: each crash logged with its exit status")
        ok(len(ds) in (len(starts) - 1, len(starts)),
           "A: one \"restarting worker in N ms\" line per crash",
           "%d lines, %d starts" % (len(ds), len(starts)))
        nominal = [min(RESTART_MIN * 2 ** k, RESTART_MAX)
                   for k in range(len(ds))]
        ok(ds and max(ds) <= RESTART_MAX,
           "A: restart delays capped at restart_max (%d ms)" % RESTART_MAX,
           repr(ds))
        # jitter is fine: [n/2, 1.25 n] around the nominal n
        over = [(k, d, n) for k, (d, n) in enumerate(zip(ds, nominal))
                if d > min(n * 1.25, RESTART_MAX) + 5 or d < n / 2.0 - 5]
        ok(ds and not over,
           "A: restart delays grow exponentially (delay k within "
           "[n/2, 1.25 n], n = min(restart_min * 2^k, restart_max))",
           *["delay %d: %d ms, nominal %d ms" % x for x in over])
        ok(len(ds) >= 5 and min(ds[4:]) >= RESTART_MAX / 2.0,
           "A: later delays reach the cap region (>= restart_max/2)",
           repr(ds))
        # all delays of the run: the reload restarted the backoff, so two
        # of them are first delays
        every = [d for _, d in restart_delays(kx.parse_log(keeper.log()),
                                              s_crash)]
        below = [(k, d) for k, d in enumerate(every) if d < RESTART_MIN]
        ok(every and not below,
           "A: no restart sooner than restart_min (%d ms; %d delays, "
           "before and after the reload)" % (RESTART_MIN, len(every)),
           *["delay %d: %d ms < restart_min" % x for x in below],
           "kinesis-keeper.conf(5): workers.restart_min is \"the delay "
           "before a crashed worker is restarted\"; kinesis-keeper-worker(8): "
           "\"a delay between workers.restart_min and workers.restart_max\"")
        # the delays are real: the fake's own clock, exit -> next start
        ev = fake.events(s_crash)
        exits = [e[0] for e in ev if e[2] == "exit"]
        real = [starts[k + 1][0] - exits[k]
                for k in range(min(len(exits), len(starts) - 1))]
        diag("A: measured exit -> next start (ms): %s"
             % [int(r * 1000) for r in real])
        off = [(k, int(r * 1000), ds[k]) for k, r in enumerate(real)
               if k < len(ds) and
               not ds[k] - 30 <= r * 1000 <= ds[k] + 800]
        ok(real and not off, "A: measured restart intervals match the "
           "logged delays (-30/+800 ms)",
           *["restart %d: measured %d ms, logged %d ms" % x for x in off])

        # exit 78
        ok(len(s78) == 1, "A: a worker that exits 78 is not respawned "
           "(%d starts in 10 s, before the reload)" % len(s78))
        ok(kx.grep(lines, r"^%s: worker exited with status 78.*not "
                   r"restarting" % s_78),
           "A: exit 78 logged: \"worker exited with status 78 ... not "
           "restarting\"")
        ok(not restart_delays(lines, s_78), "A: no backoff restart "
           "scheduled for the exit-78 shard")

        # the well-behaved one beside them
        ok(len(good_starts) == 1, "A: the well-behaved worker was never "
           "restarted (%d starts in 10 s, before the reload)"
           % len(good_starts))
        last = fake.starts(s_good)[-1][1]
        ok(fake.has(s_good, last, "term") and fake.has(s_good, last, "exit"),
           "A: the well-behaved worker got SIGTERM at the stop and exited",
           repr(fake.events(s_good)))
        check_fake_argv(fake, s_good, keeper, "A")

    run_fake(moto, modes, body, "phase-a")


# ------------------------------------------------------------------ phase B

def phase_protocol(moto, shards):
    s0, s_good, s2 = shards
    modes = {s0: "garbage badtype huge good", s_good: "good",
             s2: "flushfirst wrongshard hellotwice badlen good"}
    n0, n2 = len(modes[s0].split()), len(modes[s2].split())

    def body(keeper, fake):
        keeper.start()
        got = kk.wait_until(lambda: len(fake.starts(s0)) >= n0 and
                            len(fake.starts(s2)) >= n2, 15, 0.1)
        ok(got, "B: each protocol violation killed and restarted "
           "(within 15 s)", "%s: %d starts, %s: %d starts" % (
               s0, len(fake.starts(s0)), s2, len(fake.starts(s2))),
           *keeper.tail(30))
        time.sleep(2)
        lines = kx.parse_log(keeper.log())
        p0, p2 = fake.pids(s0), fake.pids(s2)
        # the wording of a reason is not part of the contract: accept the
        # fair ones
        bad = "malformed message|unexpected message type|bad length|" \
            "too large|oversized"
        expect = [(s0, p0, 0, bad, "garbage bytes"),
                  (s0, p0, 1, bad, "type 9"),
                  (s0, p0, 2, bad, "a header announcing 2 GiB"),
                  (s2, p2, 0, "FLUSH before HELLO|message before HELLO",
                   "FLUSH before HELLO"),
                  (s2, p2, 1, "unexpected HELLO", "HELLO of another shard"),
                  (s2, p2, 2, "unexpected HELLO", "a second HELLO"),
                  (s2, p2, 3, bad, "STATS of 10 bytes")]
        for shard, pids, k, why, what in expect:
            if len(pids) <= k:
                ok(False, "B: %s: %s -> killed and restarted" % (shard, what))
                continue
            pid = pids[k]
            hit = kx.grep(lines, r"^%s: worker pid %d: (%s); killing it$"
                          % (shard, pid, why))
            ok(hit, "B: %s: %s -> logged with its reason (%s)"
               % (shard, what, hit[0].msg if hit else
                  "\"worker pid %d: ...; killing it\"" % pid),
               "reasons accepted: %s" % why,
               *[repr(x) for x in kx.grep(lines, "^%s: " % shard)][-10:])
            ok(not kx.alive(pid) and not fake.has(shard, pid, "exit"),
               "B: %s: %s -> the worker was killed (SIGKILL, no exit of "
               "its own)" % (shard, what), repr(fake.events(shard)))
        for shard, n in ((s0, n0), (s2, n2)):
            ok(len(kx.grep(lines, r"^%s: worker terminated by signal 9$"
                           % shard)) == n - 1,
               "B: %s: each of the %d deaths logged as \"terminated by "
               "signal 9\"" % (shard, n - 1))
            ok(len(restart_delays(lines, shard)) == n - 1,
               "B: %s: each kill followed by a backoff restart" % shard)
            st = fake.starts(shard)
            ok(len(st) == n and kx.alive(st[-1][1]),
               "B: %s: the last (well-behaved) worker runs on, not "
               "restarted (%d starts)" % (shard, len(st)))
        ok(len(fake.starts(s_good)) == 1, "B: the well-behaved worker on "
           "%s was never restarted" % s_good)
        rc = keeper.stop(15)
        ok(rc == 0, "B: SIGTERM: exit 0", "exit status %r" % rc)
        for shard in shards:
            pid = fake.pids(shard)[-1]
            ok(fake.has(shard, pid, "term") and fake.has(shard, pid, "exit"),
               "B: %s: its last worker stopped on SIGTERM" % shard,
               repr(fake.events(shard)[-4:]))

    run_fake(moto, modes, body, "phase-b")


# ------------------------------------------------------------------ phase C

def phase_shutdown(moto, shards):
    s_stuck, s_good, s_stale = shards
    modes = {s_stuck: "ignoreterm", s_good: "good", s_stale: "stale good"}

    def body(keeper, fake):
        keeper.start()
        ok(kk.wait_until(lambda: all(
            any(e[2] == "config" for e in fake.events(s))
            for s in shards), 10, 0.1),
           "C: every fake worker got its CONFIG", *keeper.tail(20))
        time.sleep(1.5)
        lines = kx.parse_log(keeper.log())
        ok(len(fake.starts(s_stale)) == 1 and
           not kx.grep(lines, r"^%s: .*killing it" % s_stale),
           "C: a message of a stale generation is dropped, its sender "
           "not punished", *[repr(x) for x in kx.grep(lines, s_stale)][-8:])
        ok(kx.grep(lines, r"^%s: stale message \(generation \d+\)$"
                   % s_stale), "C: the stale message is logged (debug)")
        stuck = fake.pids(s_stuck)
        t = time.monotonic()
        rc = keeper.stop(SHUTDOWN / 1000.0 + 10)
        took = time.monotonic() - t
        ok(rc == 0, "C: SIGTERM with a worker that ignores it: exit 0",
           "exit status %r" % rc)
        ok(SHUTDOWN / 1000.0 - 0.1 <= took <= SHUTDOWN / 1000.0 + 3,
           "C: the keeper waited workers.shutdown_timeout (%d ms), then "
           "stopped (%.2f s)" % (SHUTDOWN, took))
        lines = kx.parse_log(keeper.log())
        ok(kx.grep(lines, r"^%s: worker did not stop within %d ms; killing "
                   r"it$" % (s_stuck, SHUTDOWN)),
           "C: the straggler is named in the log (\"did not stop within "
           "%d ms; killing it\")" % SHUTDOWN, *keeper.tail(12))
        ok(kk.wait_until(lambda: not any(kx.alive(p) for p in stuck), 3, 0.1)
           and not any(fake.has(s_stuck, p, "orphaned") for p in stuck),
           "C: the straggler was SIGKILLed by the supervisor (not left "
           "orphaned)", repr(fake.events(s_stuck)))
        for shard in (s_good, s_stale):
            ev = fake.events(shard)
            term = [e for e in ev if e[2] == "term"]
            ok(len(fake.starts(shard)) == 1 and term and
               fake.has(shard, term[0][1], "exit"),
               "C: %s: stopped on SIGTERM, never restarted" % shard,
               repr(ev[-4:]))
        ok(not keeper.leftovers(), "C: no worker left after the stop")

    run_fake(moto, modes, body, "phase-c")


# ------------------------------------------------------------------ phase E

def phase_health(moto, shards):
    """The backoff starts again from restart_min after a worker that ran
    for more than 10 s (kinesis-keeper(8): reset after 10 s of health)."""
    s0, s1, s2 = shards
    modes = {s0: "crash crash crash crashafter:11 crash crash", s1: "good",
             s2: "silent good"}

    def body(keeper, fake):
        keeper.start()
        got = kk.wait_until(lambda: len(fake.starts(s0)) >= 6 and
                            len(fake.starts(s2)) >= 2, 25, 0.1)
        ok(got, "E: 6 starts of the crashing worker, 2 of the silent one "
           "(within 25 s)", "%d and %d starts" % (len(fake.starts(s0)),
                                                  len(fake.starts(s2))))
        lines = kx.parse_log(keeper.log())
        # kinesis-keeper-worker(8): "the supervisor kills a worker that
        # sends no HELLO within 15 seconds"
        st = fake.starts(s2)
        if len(st) >= 2:
            gap = st[1][0] - st[0][0]
            # the timeout fires once (it once spun: 287 lines in 14 ms)
            n = len(kx.grep(lines, r"^%s: worker pid %d: no HELLO; killing "
                            r"it$" % (s2, st[0][1])))
            ok(n == 1, "E: the HELLO timeout kills once: one \"no HELLO; "
               "killing it\" line for the silent worker (%d)" % n)
            ok(kx.grep(lines, r"^%s: worker pid %d: no HELLO; killing it$"
                       % (s2, st[0][1])) and 14.5 <= gap <= 18,
               "E: a worker that sends no HELLO is killed after 15 s and "
               "restarted (%.1f s)" % gap,
               *[repr(x) for x in kx.grep(lines, "^%s: " % s2)][-6:])
        rc = keeper.stop(15)
        ok(rc == 0, "E: SIGTERM: exit 0", "exit status %r" % rc)
        ds = [d for _, d in restart_delays(lines, s0)]
        diag("E: logged delays (ms): %s" % ds)
        if not ok(len(ds) >= 5, "E: 5 restarts logged", repr(ds)):
            return
        ok(ds[2] >= RESTART_MIN * 2 and ds[3] <= RESTART_MIN + 5 and
           ds[4] <= RESTART_MIN * 2 + 5,
           "E: after 11 s of health the backoff starts again from "
           "restart_min (delays 3 and 4 <= %d, %d ms; delay 2 >= %d ms)"
           % (RESTART_MIN, 2 * RESTART_MIN, 2 * RESTART_MIN), repr(ds))
        ok(len(fake.starts(s1)) == 1, "E: the well-behaved worker on %s "
           "was never restarted" % s1)

    run_fake(moto, modes, body, "phase-e")


# ------------------------------------------------------------------ phase F

def phase_stuck_reload(moto, shards):
    """SIGHUP with a changed config while a worker ignores SIGTERM:
    kinesis-keeper(8) says every worker is "stopped gracefully and started
    again with the new one". The stuck one must not keep its shard unread
    for ever: like at shutdown, it is SIGKILLed after
    workers.shutdown_timeout and a new worker is started."""
    s_stuck, s1, s2 = shards
    modes = {s_stuck: "ignoreterm good", s1: "good", s2: "good"}

    def body(keeper, fake):
        keeper.start()
        ok(kk.wait_until(lambda: all(
            any(e[2] == "config" for e in fake.events(s))
            for s in shards), 10, 0.1),
           "F: every fake worker got its CONFIG", *keeper.tail(20))
        stuck = fake.pids(s_stuck)[0]
        text = open(keeper.conf).read()
        write_atomic(keeper.conf, text + 'batch = { max_age = "7s"; };\n')
        t = time.monotonic()
        os.kill(keeper.proc.pid, signal.SIGHUP)
        ok(kk.wait_until(lambda: len(fake.starts(s1)) == 2 and
                         len(fake.starts(s2)) == 2, 5, 0.1),
           "F: the well-behaved workers were restarted by the reload")
        got = kk.wait_until(lambda: len(fake.starts(s_stuck)) >= 2,
                            SHUTDOWN / 1000.0 + 5, 0.1)
        took = time.monotonic() - t
        lines = kx.parse_log(keeper.log())
        ok(got and not kx.alive(stuck),
           "F: reload: the worker that ignores SIGTERM is killed after "
           "workers.shutdown_timeout (%d ms) and started again (within "
           "%d s)" % (SHUTDOWN, SHUTDOWN / 1000 + 5),
           "after %.1f s: %d starts on %s, pid %d %s" % (
               took, len(fake.starts(s_stuck)), s_stuck, stuck,
               "still alive" if kx.alive(stuck) else "gone"),
           *[repr(x) for x in kx.grep(lines, "^%s: " % s_stuck)][-6:])
        rc = keeper.stop(SHUTDOWN / 1000.0 + 10)
        ok(rc == 0, "F: SIGTERM: exit 0", "exit status %r" % rc)

    run_fake(moto, modes, body, "phase-f")


# ------------------------------------------------------------------ phase G

def phase_starting(moto, shards):
    """kinesis-keeper(8): a worker stopped before its HELLO may still send
    it: it is accepted and the worker stops by itself. A FLUSH's numbers are
    the worker's claim: the supervisor bounds them before metrics."""
    s_slow, s_big, s2 = shards
    modes = {s_slow: "slowhello good", s_big: "bigflush", s2: "good"}
    import kk_creds as kc

    with kc.UdpListener() as statsd:
        fake = Fake(modes)
        ov = dict(FAKE_OVERRIDES)
        ov.update({"statsd.host": "127.0.0.1", "statsd.port": statsd.port,
                   "statsd.prefix": "g."})
        try:
            with kk.Keeper(moto, STREAM, BUCKET, overrides=ov, env=fake.env,
                           name="phase-g") as keeper:
                try:
                    keeper.start()
                    ok(kk.wait_until(lambda: fake.starts(s_slow), 10, 0.02),
                       "G: the slow worker started", *keeper.tail(10))
                    text = open(keeper.conf).read()
                    write_atomic(keeper.conf,
                                 text + 'batch = { max_age = "7s"; };\n')
                    os.kill(keeper.proc.pid, signal.SIGHUP)
                    first = fake.pids(s_slow)[0]
                    ok(kk.wait_until(lambda: len(fake.starts(s_slow)) >= 2,
                                     10, 0.1),
                       "G: reload while STARTING: the worker is started again")
                    lines = kx.parse_log(keeper.log())
                    ok(fake.has(s_slow, first, "hello") and
                       fake.has(s_slow, first, "term") and
                       fake.has(s_slow, first, "exit") and
                       not kx.grep(lines, r"^%s: .*unexpected HELLO" % s_slow),
                       "G: its HELLO after the stop was accepted; the worker "
                       "stopped on SIGTERM by itself (not killed)",
                       repr(fake.events(s_slow)),
                       *[repr(x) for x in kx.grep(lines, s_slow)][-6:])
                    got = kk.wait_until(lambda: [ln for ln in statsd.lines()
                                                 if ln.startswith(
                                                     "g.BatchRecords.")], 10,
                                        0.1)
                    vals = [int(ln.split(":")[1].split("|")[0])
                            for ln in statsd.lines()
                            if ln.startswith("g.BatchRecords.%s:" % s_big)]
                    ok(got and vals and max(vals) <= 2 ** 32,
                       "G: a FLUSH claiming 2^64-1 records reaches metrics "
                       "bounded (BatchRecords %s <= 2^32)" % vals)
                    rc = keeper.stop(15)
                    ok(rc == 0, "G: SIGTERM: exit 0", "exit status %r" % rc)
                finally:
                    kx.save_log(keeper, "phase-g.log")
        finally:
            fake.cleanup()


# ------------------------------------------------------------------ phase D

def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def phase_reload(moto, shards):
    overrides = {"read.interval": "200ms", "batch.max_age": "60s",
                 "s3.prefix": "sup/",
                 "workers.restart_min": "%dms" % RESTART_MIN,
                 "workers.restart_max": "%dms" % RESTART_MAX,
                 "workers.shutdown_timeout": "10s"}
    with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides,
                   name="phase-d") as keeper:
        try:
            reload_body(moto, shards, keeper)
            san = keeper.sanitizer_reports()
            ok(not san, "phase-d: no sanitizer report in the log", *san[:10])
        finally:
            kx.save_log(keeper, "phase-d.log")


def reload_body(moto, shards, keeper):
    original = open(keeper.conf).read()
    # earlier phases archived nothing: the bucket holds only this phase
    keeper.start()

    def reading():
        return {ln.msg.split(":")[0].split()[1] for ln in
                kx.grep(kx.parse_log(keeper.log()), r"^worker shardId-\d+: "
                        r"reading ")}
    if not ok(kk.wait_until(lambda: reading() >= set(shards), 20, 0.2),
              "D: real workers read all 3 shards", *keeper.tail(20)):
        return
    sup = keeper.proc.pid
    pids = kx.children_of(sup)
    ok(len(pids) == 3, "D: 3 worker processes", repr(pids))
    put = moto.put_records(STREAM, [("pk-%d" % i, b'{"phase":"d1","i":%d}' % i)
                                    for i in range(60)])
    time.sleep(2)   # read, not flushed (batch.max_age = 60s)

    def count(pat):
        return len(kx.grep(kx.parse_log(keeper.log()), pat))

    # invalid: an unknown setting and a wrong type
    write_atomic(keeper.conf, original + 'no_such_setting = 1;\n'
                 'topology = { refresh = "soon"; };\n')
    n_start = count(r": starting worker$")
    os.kill(sup, signal.SIGHUP)
    ok(kk.wait_until(lambda: count(r"keeping the running configuration"), 5,
                     0.1), "D: SIGHUP with an invalid config: logged "
       "\"keeping the running configuration\"", *keeper.tail(10))
    lines = kx.parse_log(keeper.log())
    errs = kx.grep(lines, r"no_such_setting|topology\.refresh")
    ok(errs, "D: the invalid config's errors are logged",
       *[repr(x) for x in lines[-8:]])
    time.sleep(1.5)
    ok(keeper.running() and kx.children_of(sup) == pids and
       count(r": starting worker$") == n_start and
       count(r"^worker shardId-\d+: flushed ") == 0,
       "D: invalid config: same workers, nothing restarted or flushed",
       "before %r, after %r" % (pids, kx.children_of(sup)))

    # unchanged
    write_atomic(keeper.conf, original)
    os.kill(sup, signal.SIGHUP)
    ok(kk.wait_until(lambda: count(r"^reload: configuration unchanged$"), 5,
                     0.1), "D: SIGHUP with the same config: \"configuration "
       "unchanged\"")
    time.sleep(1)
    ok(kx.children_of(sup) == pids and count(r": starting worker$") ==
       n_start, "D: unchanged config: same workers")

    # stream cannot change while running
    write_atomic(keeper.conf, original.replace('stream = "%s";' % STREAM,
                                               'stream = "other";'))
    os.kill(sup, signal.SIGHUP)
    ok(kk.wait_until(lambda: count(r"stream and state_dir cannot change"),
                     5, 0.1), "D: SIGHUP with another stream: logged that "
       "stream and state_dir cannot change while running", *keeper.tail(5))
    time.sleep(1)
    ok(kx.children_of(sup) == pids and count(r": starting worker$") ==
       n_start, "D: another stream: same workers")

    # changed: batch.max_age 60s -> 1s; each worker flushes and restarts once
    changed = original.replace('max_age = "60s"', 'max_age = "1s"')
    if not ok(changed != original, "D: test can edit batch.max_age"):
        return
    write_atomic(keeper.conf, changed)
    t_hup = time.time()
    os.kill(sup, signal.SIGHUP)
    ok(kk.wait_until(lambda: count(r"^reload: configuration changed; "
                                   r"restarting workers$"), 5, 0.1),
       "D: SIGHUP with a changed config: \"configuration changed; "
       "restarting workers\"")
    new = kk.wait_until(lambda: (lambda c: c if len(c) == 3 and
                                 not set(c) & set(pids) else None)(
                                     kx.children_of(sup)), 15, 0.1)
    ok(new, "D: 3 new worker processes replace the old ones (within 15 s)",
       "old %r, now %r" % (pids, kx.children_of(sup)), *keeper.tail(20))
    time.sleep(1)
    lines = kx.parse_log(keeper.log())
    for shard in shards:
        st = kx.grep(lines, r"^%s: starting worker$" % shard)
        ok(len(st) == 2, "D: %s: started exactly once more" % shard,
           *[repr(x) for x in st])
        fl = [ln for ln in lines if ln.t >= t_hup - 0.01 and
              ln.pid in pids and
              ln.msg.startswith("worker %s: flushed " % shard)]
        ok(fl and st and fl[0].idx < st[-1].idx,
           "D: %s: the old worker flushed its batch before the new one "
           "started (graceful)" % shard,
           *[repr(x) for x in kx.grep(lines, shard)][-10:])
    bad = kx.grep(lines, r"restarting worker in|worker exited with status|"
                  r"terminated by signal|killing it")
    ok(not bad, "D: no crash, kill or backoff restart during the reload",
       *[repr(x) for x in bad[:10]])
    put += moto.put_records(STREAM, [("pk-%d" % i,
                                      b'{"phase":"d2","i":%d}' % i)
                                     for i in range(60)])
    cache = {}
    ok(kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                     >= len(put), 10, 0.3),
       "D: the new batch.max_age (1s) is in effect: everything archived "
       "within 10 s", "%d of %d" % (kk.archived_records(moto, BUCKET, cache),
                                    len(put)))
    rc = keeper.stop(20)
    ok(rc == 0, "D: SIGTERM: exit 0", "exit status %r" % rc)
    objs = moto.fetch_objects(BUCKET)
    kk.check_objects(objs, STREAM, "sup/", label="D")
    kk.assert_exactly_once(put, objs, label="D")


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
