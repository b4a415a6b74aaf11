#!/usr/bin/env python3
"""
test_chaos.py: kill -9 at random moments (SPEC section 6: "nothing lost,
nothing doubled ... across crashes (kill -9 of any process at any moment)").
moto with SigV4 on, a 4-shard stream, a producer thread. For about a minute
random workers are SIGKILLed (one or two at a time), and the supervisor
itself a few times: it is started again at once on the same state_dir (its
orphaned workers get SIGTERM through PDEATHSIG and flush; the new ones wait
for the shard lock). S3 and SNS are reached through a proxy that also kills
at the worst moments: a worker right after moto stored its object (before
its checkpoint: its successor meets the key and adopts the object), the
supervisor right after moto accepted a Publish (before the outbox entry is
removed). Then the producer stops, the keeper is restarted cleanly and
drains. Every record is archived exactly once, no key is ever stored twice,
the last notification of each key announces its object, no announced object
changed, and the outbox is empty.

KK_CHAOS_SEED=N replays a run's choice of victims and moments;
KK_CHAOS_SECONDS changes the chaos duration (default 65).
"""

import hashlib
import os
import random
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "chaos"
BUCKET = "kk-chaos"
PREFIX = "chaos/"
SHARDS = 4
RATE = 150
KEEP = 3
SHUTDOWN_S = 5
CHAOS_S = float(os.environ.get("KK_CHAOS_SECONDS", "65"))
ARCHIVE_TIMEOUT = 60


def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    seed = int(os.environ.get("KK_CHAOS_SEED") or time.time() * 1000) \
        % 1000000
    diag("KK_CHAOS_SEED=%d (set it to replay this run's choices)" % seed)
    t0 = time.monotonic()
    chaos = Chaos(random.Random(seed))
    with kk.Moto() as moto, kx.HookProxy(moto.port, chaos.hook) as proxy:
        moto.create_stream(STREAM, SHARDS)
        moto.create_bucket(BUCKET)
        topic, queue = moto.create_topic_queue("chaos-topic", "chaos-q")
        overrides = {
            # S3 and SNS through the proxy that kills at the worst moment
            "endpoints.s3": proxy.endpoint,
            "endpoints.sns": proxy.endpoint,
            "s3.prefix": PREFIX,
            "read.interval": "200ms",
            "batch.max_age": "1s",
            "batch.max_records": 150,
            "local.keep": KEEP,
            "topology.refresh": "5s",
            "workers.restart_min": "200ms",
            "workers.restart_max": "1s",
            "workers.shutdown_timeout": "%ds" % SHUTDOWN_S,
        }
        with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides,
                       topic_arn=topic) as keeper:
            chaos.keeper = keeper
            try:
                run(moto, keeper, queue, chaos)
            finally:
                chaos.active = False
                kx.save_log(keeper, "chaos.log")
    diag("run time %.1f s" % (time.monotonic() - t0))


class Chaos:
    """Who gets killed when. The loop kills workers at random moments and
    the supervisor at planned ones; the proxy hook (moto has answered, the
    client does not know yet) kills a worker right after its object PUT
    (object stored, checkpoint not written) and, when armed, the supervisor
    right after an SNS Publish (published, outbox entry not removed)."""

    def __init__(self, rng):
        self.rng = rng
        self.prng = random.Random(rng.randrange(1 << 30))
        self.lock = threading.Lock()
        self.keeper = None
        self.active = False
        self.arm_publish = False
        self.orphans = []        # workers of killed supervisors
        self.worker_kills = 0
        self.put_kills = 0
        self.sup_kills = 0
        self.publish_kills = 0
        self.puts = {}           # key -> [sha256 of each PUT body]
        self.killed_sups = []    # (pid, [its workers])
        self.slow_until = 0.0    # S3 PUT answers held back until then

    def kill_supervisor(self, why):
        """With the lock held."""
        sup = self.keeper.proc.pid
        kids = kx.children_of(sup)
        kk.kill_pid(sup)
        self.orphans += kids
        self.killed_sups.append((sup, kids))
        self.sup_kills += 1
        # hold back S3 answers a while: the orphans' last flushes take
        # longer, so their replacements have to wait for the shard locks
        self.slow_until = time.monotonic() + SLOW_S
        diag("SIGKILL supervisor %d %s (its workers %s)" % (sup, why, kids))

    def hook(self, req, status):
        path = urllib.parse.unquote(req["path"].split("?")[0])
        if req["method"] == "PUT" and status == 200 and \
                path.endswith(".jsonl.gz"):
            key = path.split("/", 2)[2]
            m = kk.KEY_RE.match(key)
            if time.monotonic() < self.slow_until:
                time.sleep(SLOW_DELAY_S)
            with self.lock:
                self.puts.setdefault(key, []).append(
                    hashlib.sha256(req["body"]).hexdigest())
                if not (self.active and m and self.prng.random() < P_PUT_KILL):
                    return
                for pid in kx.worker_of(m.group("shard"),
                                        [self.keeper.proc.pid]):
                    kk.kill_pid(pid)
                    self.put_kills += 1
        elif req["method"] == "POST" and status == 200 and \
                b"Action=Publish" in req["body"]:
            with self.lock:
                if self.active and self.arm_publish and \
                        self.keeper.running():
                    self.arm_publish = False
                    self.publish_kills += 1
                    self.kill_supervisor("right after an SNS Publish")


P_PUT_KILL = 0.12     # a worker is killed right after this share of PUTs
SLOW_S = 3.0          # after a supervisor kill, for this long ...
SLOW_DELAY_S = 1.0    # ... every S3 PUT answer is held back this long


def reading_shards(keeper, since_idx=0):
    return {ln.msg.split(":")[0].split()[1]
            for ln in kx.grep(kx.parse_log(keeper.log()),
                              r"^worker shardId-\d+: reading ")
            if ln.idx >= since_idx}


def run(moto, keeper, queue, chaos):
    rng = chaos.rng
    shards = [s["ShardId"] for s in moto.list_shards(STREAM)]
    producer = kx.Producer(kx.no_retry_client(moto, "kinesis"), STREAM,
                           rate=RATE, chunk=10, seed=rng.randrange(1 << 30),
                           tag="chaos")
    keeper.start()
    producer.start()
    try:
        ok(kk.wait_until(lambda: reading_shards(keeper) >= set(shards), 20,
                         0.2), "a worker reads each of the %d shards"
           % SHARDS, *keeper.tail(20))
        chaos.active = True
        t_end = time.monotonic() + CHAOS_S
        # supervisor kills at about 30%, 60% and 90% of the chaos: at a
        # random moment, or armed for the next SNS Publish
        sup_at = [(time.monotonic() + CHAOS_S * f + rng.uniform(-3, 3), how)
                  for f, how in ((0.3, "publish"), (0.6, "random"),
                                 (0.9, "publish"))]
        while time.monotonic() < t_end:
            # a supervisor killed by the proxy is started again at once:
            # its orphans may still be flushing (the shard lock)
            pause = time.monotonic() + rng.uniform(0.2, 2.0)
            while time.monotonic() < pause:
                with chaos.lock:
                    if not keeper.running():
                        keeper.proc.wait(10)
                        keeper.start()
                time.sleep(0.02)
            with chaos.lock:
                kx.reap_zombies(exclude={keeper.proc.pid})
                if sup_at and time.monotonic() >= sup_at[0][0]:
                    _, how = sup_at.pop(0)
                    if how == "publish":
                        chaos.arm_publish = True
                    else:
                        chaos.kill_supervisor("at a random moment")
                        keeper.proc.wait(10)
                        keeper.start()
                    continue
                kids = kx.children_of(keeper.proc.pid)
                if not kids:
                    continue
                victims = rng.sample(kids, 2 if len(kids) > 1 and
                                     rng.random() < 0.2 else 1)
                for v in victims:
                    kk.kill_pid(v)
                    chaos.worker_kills += 1
        with chaos.lock:
            chaos.active = False
            if not keeper.running():
                keeper.proc.wait(10)
                keeper.start()
    finally:
        chaos.active = False
        producer.stop()
    put = producer.put
    diag("chaos: %d workers killed at random moments, %d right after their "
         "S3 PUT; %d supervisor kills (%d right after an SNS Publish)"
         % (chaos.worker_kills, chaos.put_kills, chaos.sup_kills,
            chaos.publish_kills))
    diag("producer: %d records put, %d rejected, %d failed calls"
         % (len(put), producer.rejected, len(producer.errors)),
         *producer.errors[:5])
    ok(not producer.errors, "producer: no PutRecords call failed (else a "
       "record may be stored without the test knowing its sequence number)")
    ok(chaos.sup_kills >= 2 and chaos.put_kills >= 1,
       "the chaos happened (supervisor killed at least twice, a worker "
       "killed right after its PUT at least once)")
    orphans = chaos.orphans

    # every worker of a killed supervisor flushes and exits
    def orphans_left():
        kx.reap_zombies(exclude={keeper.proc.pid})
        return [p for p in orphans if kx.alive(p)]
    ok(kk.wait_until(lambda: not orphans_left(), SHUTDOWN_S + 10, 0.2),
       "the %d workers of killed supervisors all exited" % len(orphans),
       "still alive: %r" % orphans_left())

    # restart cleanly, then drain
    if keeper.running():
        rc = keeper.stop(SHUTDOWN_S + 20)
        ok(rc == 0, "SIGTERM after the chaos: exit 0", "exit status %r" % rc)
    mark = len(keeper.log().splitlines())
    keeper.start()
    ok(kk.wait_until(lambda: reading_shards(keeper, mark) >= set(shards),
                     SHUTDOWN_S + 20, 0.2),
       "clean restart: a worker reads each shard again", *keeper.tail(20))
    cache = {}
    got = kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                        >= len(put) and
                        not kx.outbox_entries(keeper.state_dir),
                        ARCHIVE_TIMEOUT, 0.5)
    ok(got, "everything archived and announced within %ds (%d of %d "
       "records by x-amz-meta-records, %d outbox entries)"
       % (ARCHIVE_TIMEOUT, kk.archived_records(moto, BUCKET, cache),
          len(put), len(kx.outbox_entries(keeper.state_dir))))
    t = time.monotonic()
    rc = keeper.stop(SHUTDOWN_S + 20)
    ok(rc == 0, "final SIGTERM: exit 0 (%.1f s)" % (time.monotonic() - t),
       "exit status %r" % rc)
    ok(not keeper.leftovers(), "no worker left after the stop")

    lines = kx.parse_log(keeper.log())
    locked = kx.grep(lines, r"locked by another kinesis-keeper")
    ok(not locked, "every supervisor restarted at once after a kill got the "
       "state_dir lock", *[repr(x) for x in locked[:5]])
    waits = kx.grep(lines, r"waiting for the shard lock")
    diag("%d \"waiting for the shard lock\" lines (a new worker waiting for "
         "an orphan)" % len(waits))
    check_one_owner(lines, chaos)
    flushed = {}
    for ln in lines:
        m = kx.FLUSHED_RE.match(ln.msg)
        if m:
            flushed[m.group(3)] = flushed.get(m.group(3), 0) + 1
    rewritten = [k for k, v in chaos.puts.items() if len(v) > 1]
    changed = [k for k in rewritten if len(set(chaos.puts[k])) > 1]
    adopted = kk.adopted_keys(keeper.log())
    diag("%d flushes logged; %d object PUTs stored; %d objects adopted by a "
         "restarted worker" % (sum(flushed.values()),
                               sum(len(v) for v in chaos.puts.values()),
                               len(adopted)))
    # SPEC 7: an object is written only if its key does not exist yet
    ok(not rewritten, "never overwritten: moto stored each key once (a "
       "re-read batch adopts the object instead)",
       *["%s stored %d times%s" % (k, len(chaos.puts[k]), " with other bytes"
                                   if k in changed else "")
         for k in rewritten[:8]])

    objs = moto.fetch_objects(BUCKET)
    kk.check_objects(objs, STREAM, PREFIX)
    kk.assert_exactly_once(put, objs)
    notes = kx.drain_notes(moto.sqs, queue)
    repeats, superseded = kx.check_final_notifications(notes, objs, STREAM,
                                                       BUCKET)
    ok(not superseded, "no announced object changed afterwards",
       *superseded[:8])
    ok(not kx.outbox_entries(keeper.state_dir), "outbox empty at the end",
       *kx.outbox_entries(keeper.state_dir)[:10])
    kk.check_state(keeper.state_dir, objs, KEEP,
                   adopted=kk.adopted_keys(keeper.log()))
    san = keeper.sanitizer_reports()
    ok(not san, "no sanitizer report in the log", *san[:10])


def check_one_owner(lines, chaos):
    """SPEC 6, one owner per shard: after a supervisor kill, the new
    worker of a shard starts reading only after the orphan of that shard
    logged its last line (its final flush): never two readers at once."""
    sups = [ln.pid for ln in kx.grep(lines, r"^starting \S+: stream ")]
    by_pid = {}
    for ln in lines:
        by_pid.setdefault(ln.pid, []).append(ln)
    probs, checked = [], 0
    for old, orphans in chaos.killed_sups:
        if old not in sups or sups.index(old) + 1 >= len(sups):
            probs.append("supervisor %d: no successor in the log" % old)
            continue
        new = sups[sups.index(old) + 1]
        started = {}   # shard -> every worker pid the new supervisor ran
        for ln in by_pid.get(new, []):
            m = re.match(r"^(shardId-\d+): started worker pid (\d+)", ln.msg)
            if m:
                started.setdefault(m.group(1), set()).add(int(m.group(2)))
        for p in orphans:
            own = by_pid.get(p, [])
            m = own and re.match(r"^worker (shardId-\d+): ", own[-1].msg)
            if not m:
                continue
            shard = m.group(1)
            reads = sorted((ln for h in started.get(shard, ())
                            for ln in by_pid.get(h, [])
                            if ln.msg.startswith("worker %s: reading "
                                                 % shard)),
                           key=lambda ln: ln.idx)
            if not reads:
                probs.append("%s: no reading worker of supervisor %d"
                             % (shard, new))
                continue
            checked += 1
            if reads[0].idx < own[-1].idx:
                probs.append("%s: %r before the orphan %d was done (%r)"
                             % (shard, reads[0], p, own[-1]))
    ok(not probs and checked, "one owner per shard: after each supervisor "
       "kill the new worker read only after the orphan's last line "
       "(%d shards checked)" % checked, *probs[:10])


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
