#!/usr/bin/env python3
"""
test_reshard.py: resharding while records flow (SPEC section 6: "a child
shard is read only after all its parents reached their end and flushed").
Kinesis is kinesalite (it ends a drained closed shard with a null
NextShardIterator, which moto never does); S3, SNS and SQS are moto with
SigV4 on (SNS through a proxy that can simulate an outage). A 2-shard
stream gets records with random partition keys at a bounded rate. Shard 0
is split at its midpoint hash key while the keeper runs, during an SNS
outage: the children must wait until the parent's last notifications are
published. Then the two children are merged again. Then shard 1 is split
and the supervisor SIGKILLed 0.3 s later and started again on the same
state_dir. Every record must be archived exactly once, closed shards must
be checkpointed done, and no child may be started, flushed or announced
before its parents' last object.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "reshard"
BUCKET = "kk-reshard"
PREFIX = "rs/"
RATE = 120             # records per second
ARCHIVE_TIMEOUT = 60


def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    if not ok(kx.Kinesalite.available(),
              "kinesalite is installed (tests/setup.sh)",
              "no node or no %s/kinesalite" % kx.NODE_MODULES):
        return
    t_start = time.monotonic()
    outage = threading.Event()

    def sns_outage(req):
        if outage.is_set() and req["method"] == "POST" and \
                b"Action=Publish" in req["body"]:
            return kx.SNS_OUTAGE
        return None
    with kk.Moto() as moto, kx.Kinesalite() as kl, \
            kx.HookProxy(moto.port, pre=sns_outage) as proxy:
        kin = kl.kinesis
        shards = kx.create_stream(kin, STREAM, 2)
        moto.create_bucket(BUCKET)
        topic, queue = moto.create_topic_queue("reshard-topic", "reshard-q")
        overrides = {
            "endpoints.kinesis": kl.endpoint,
            "endpoints.sns": proxy.endpoint,
            "s3.prefix": PREFIX,
            "read.interval": "200ms",
            "topology.refresh": "1s",
            "batch.max_age": "1s",
            "workers.restart_min": "200ms",
            "workers.restart_max": "2s",
            "workers.shutdown_timeout": "10s",
        }
        with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides,
                       topic_arn=topic) as keeper:
            try:
                run(moto, kl, kin, shards, keeper, queue, outage)
            finally:
                kx.save_log(keeper, "reshard.log")
    diag("run time %.1f s" % (time.monotonic() - t_start))


def shard_by_id(kin, sid):
    return next(s for s in kx.list_shards(kin, STREAM) if s["ShardId"] == sid)


def wait_started(keeper, shard, timeout):
    pat = r"^%s: starting worker$" % shard
    return kk.wait_until(
        lambda: kx.grep(kx.parse_log(keeper.log()), pat), timeout, 0.2)


def run(moto, kl, kin, shards, keeper, queue, outage):
    producer = kx.Producer(kx.client("kinesis", kl.endpoint), STREAM,
                           rate=RATE, chunk=10, seed=3, tag="reshard")
    keeper.start()
    producer.start()
    try:
        ok(kk.wait_until(lambda: len(kx.grep(kx.parse_log(keeper.log()),
                                             r"^worker shardId-\d+: reading ")
                                     ) >= 2, 20, 0.2),
           "a worker reads each of the 2 initial shards", *keeper.tail(20))
        time.sleep(4)

        # split shard 0 at the midpoint of its hash key range, during an
        # SNS outage: the parent reaches its end with notifications pending,
        # and its children must wait for them
        outage.set()
        time.sleep(1)
        parent = shard_by_id(kin, shards[0])
        lo = int(parent["HashKeyRange"]["StartingHashKey"])
        hi = int(parent["HashKeyRange"]["EndingHashKey"])
        mid = (lo + hi + 1) // 2
        kin.split_shard(StreamName=STREAM, ShardToSplit=shards[0],
                        NewStartingHashKey=str(mid))
        ok(kx.wait_active(kin, STREAM), "split: stream ACTIVE again")
        topo = kx.list_shards(kin, STREAM)
        children = sorted((s for s in topo
                           if s.get("ParentShardId") == shards[0]),
                          key=lambda s: int(
                              s["HashKeyRange"]["StartingHashKey"]))
        if not ok(len(children) == 2, "split: 2 children of %s" % shards[0],
                  repr(topo)):
            return
        kids = [c["ShardId"] for c in children]
        diag("split %s -> %s at hash key %d" % (shards[0], kids, mid))
        end = kk.wait_until(lambda: kx.grep(
            kx.parse_log(keeper.log()), r"^worker %s: shard end reached"
            % shards[0]), 20, 0.2)
        ok(end, "split: the parent's worker reached its end (within 20 s)",
           *keeper.tail(20))
        time.sleep(4)
        lines = kx.parse_log(keeper.log())
        pending = [e for e in kx.outbox_entries(keeper.state_dir)
                   if e.startswith(shards[0] + "/")]
        ok(kx.grep(lines, r"^%s: notification not published" % shards[0])
           and pending, "SNS outage: the parent's last notifications are "
           "pending (%d in the outbox)" % len(pending))
        early = [ln for c in kids
                 for ln in kx.grep(lines, r"^%s: starting worker$" % c)]
        ok(not early, "SNS outage: the children wait while the parent's "
           "notifications are pending (4 s after its end)",
           *[repr(x) for x in early])
        outage.clear()
        ok(all(wait_started(keeper, c, 30) for c in kids),
           "split: both children started (within 30 s)", *keeper.tail(30))
        time.sleep(5)

        # merge the two (adjacent) children
        kin.merge_shards(StreamName=STREAM, ShardToMerge=kids[0],
                         AdjacentShardToMerge=kids[1])
        ok(kx.wait_active(kin, STREAM), "merge: stream ACTIVE again")
        topo = kx.list_shards(kin, STREAM)
        merged = [s for s in topo if s.get("ParentShardId") in kids and
                  s.get("AdjacentParentShardId") in kids]
        if not ok(len(merged) == 1, "merge: one shard with both children "
                  "as parents", repr(topo)):
            return
        m = merged[0]["ShardId"]
        diag("merge %s + %s -> %s" % (kids[0], kids[1], m))
        ok(wait_started(keeper, m, 30), "merge: merged shard started "
           "(within 30 s)", *keeper.tail(30))
        time.sleep(3)

        # split shard 1 and SIGKILL the supervisor while its worker is
        # draining the parent: the orphaned workers flush and exit, the new
        # supervisor must finish the parent before it starts the children
        parent = shard_by_id(kin, shards[1])
        lo = int(parent["HashKeyRange"]["StartingHashKey"])
        hi = int(parent["HashKeyRange"]["EndingHashKey"])
        mid = (lo + hi + 1) // 2
        kin.split_shard(StreamName=STREAM, ShardToSplit=shards[1],
                        NewStartingHashKey=str(mid))
        time.sleep(0.3)
        old_workers = kx.children_of(keeper.proc.pid)
        keeper.kill9()
        ok(kk.wait_until(lambda: not any(kx.alive(p) for p in old_workers),
                         15, 0.1),
           "kill -9 of the supervisor: its %d workers flush and exit "
           "(within 15 s)" % len(old_workers))
        kx.reap_zombies()
        ok(kx.wait_active(kin, STREAM), "second split: stream ACTIVE again")
        topo = kx.list_shards(kin, STREAM)
        kids2 = [s["ShardId"] for s in sorted(
            (s for s in topo if s.get("ParentShardId") == shards[1]),
            key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))]
        if not ok(len(kids2) == 2, "second split: 2 children of %s"
                  % shards[1], repr(topo)):
            return
        diag("split %s -> %s, supervisor killed 0.3 s later"
             % (shards[1], kids2))
        keeper.start()
        ok(all(wait_started(keeper, c, 30) for c in kids2),
           "second split: both children started after the restart "
           "(within 30 s)", *keeper.tail(30))
        time.sleep(3)
    finally:
        producer.stop()
    put = producer.put
    diag("producer: %d records put, %d rejected, %d failed calls"
         % (len(put), producer.rejected, len(producer.errors)),
         *producer.errors[:5])
    by_shard = {}
    for sh, _, _, _ in put:
        by_shard[sh] = by_shard.get(sh, 0) + 1
    diag("records per shard: %s" % sorted(by_shard.items()))
    ok(all(by_shard.get(s, 0) > 0 for s in shards + kids + [m] + kids2),
       "records went to every parent, child and merged shard",
       repr(by_shard))

    cache = {}
    got = kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                        >= len(put), ARCHIVE_TIMEOUT, 0.5)
    ok(got, "everything archived within %ds (%d of %d)"
       % (ARCHIVE_TIMEOUT, kk.archived_records(moto, BUCKET, cache),
          len(put)))
    # a closed shard is done only once its worker has read the null iterator
    closed = shards + kids
    kk.wait_until(lambda: all((kx.read_checkpoint(keeper.state_dir, s) or {})
                              .get("done") for s in closed), 15, 0.2)
    t0 = time.monotonic()
    rc = keeper.stop(30)
    ok(rc == 0, "SIGTERM: exit status 0 (%.1f s)" % (time.monotonic() - t0),
       "exit status %r" % rc)
    ok(not keeper.leftovers(), "no worker left after the stop")

    objs = moto.fetch_objects(BUCKET)
    kk.check_objects(objs, STREAM, PREFIX)
    kk.assert_exactly_once(put, objs)
    notes = kx.drain_notes(moto.sqs, queue)
    # at-least-once across the supervisor kill: judge the last notification
    # of each key, report repeats
    kx.check_final_notifications(notes, objs, STREAM, BUCKET)
    ok(not kx.outbox_entries(keeper.state_dir), "outbox empty at the end",
       *kx.outbox_entries(keeper.state_dir)[:10])

    # checkpoints: closed shards done, open ones not
    for s in closed:
        ck = kx.read_checkpoint(keeper.state_dir, s)
        ok(ck is not None and ck.get("done") is True,
           "checkpoint of closed shard %s says done" % s, repr(ck))
    for s in [m] + kids2:
        ck = kx.read_checkpoint(keeper.state_dir, s)
        ok(ck is not None and ck.get("done") is not True,
           "checkpoint of open shard %s is not done" % s, repr(ck))

    edges = [(shards[0], kids[0]), (shards[0], kids[1]),
             (kids[0], m), (kids[1], m),
             (shards[1], kids2[0]), (shards[1], kids2[1])]
    check_order(keeper, objs, notes, edges)
    san = keeper.sanitizer_reports()
    ok(not san, "no sanitizer report in the log", *san[:10])


def first_by_key(notes):
    first = {}
    for n in notes:
        msg = n["message"]
        if isinstance(msg, dict) and msg.get("key") not in first:
            first[msg.get("key")] = n
    return first


def check_order(keeper, objs, notes, edges):
    lines = kx.parse_log(keeper.log())
    flushed = {}
    for ln in lines:
        mm = kx.FLUSHED_RE.match(ln.msg)
        if mm:
            flushed.setdefault(mm.group(1), []).append(ln)
    starting = {}
    for ln in kx.grep(lines, r"^shardId-\d+: starting worker$"):
        starting.setdefault(ln.msg.split(":")[0], []).append(ln)
    # the worker says so when it marked its checkpoint done
    done = {}
    for ln in kx.grep(lines, r"^worker shardId-\d+: shard end reached: "):
        done.setdefault(ln.msg.split(":")[0].split()[1], []).append(ln)
    published = {}
    for ln in kx.grep(lines, r"^shardId-\d+: notification published$"):
        published.setdefault(ln.msg.split(":")[0], []).append(ln)
    first = first_by_key(notes)
    by_shard = {}
    for n in first.values():
        by_shard.setdefault(n["message"].get("shard"), []).append(n)
    for s in sorted({c for _, c in edges} | {p for p, _ in edges}):
        ok(flushed.get(s), "%s: flushed at least one object" % s)

    for p, c in edges:
        what = "%s -> %s" % (p, c)
        pl, cl = flushed.get(p, []), flushed.get(c, [])
        cs = starting.get(c, [])
        pd = done.get(p, [])
        if not (pl and cl and cs and pd):
            ok(False, "%s: log has the parent's flushes and shard end, and "
               "the child's start and flushes" % what,
               "parent flushed %d, shard end %d; child started %d, flushed %d"
               % (len(pl), len(pd), len(cs), len(cl)))
            continue
        ok(cs[0].idx > pd[-1].idx and cs[0].t >= pd[-1].t,
           "%s: child started after the parent reached its end" % what,
           "parent end: %r" % pd[-1], "child start: %r" % cs[0])
        ok(cs[0].idx > pl[-1].idx and cs[0].t >= pl[-1].t,
           "%s: child started after the parent's last flush" % what,
           "parent last flush: %r" % pl[-1], "child start: %r" % cs[0])
        pp = published.get(p, [])
        ok(pp and cs[0].idx > pp[-1].idx,
           "%s: child started after the parent's last notification was "
           "published (log)" % what,
           "parent last published: %r" % (pp[-1] if pp else None),
           "child start: %r" % cs[0])
        ok(cl[0].idx > pl[-1].idx and cl[0].t >= pl[-1].t,
           "%s: child's first flush logged after the parent's last" % what,
           "parent last flush: %r" % pl[-1], "child first flush: %r" % cl[0])
        # first announcement of each object, in SQS receive order and by
        # SentTimestamp
        pn, cn = by_shard.get(p, []), by_shard.get(c, [])
        p_objs = [o for o in objs if o.get("shard") == p and o["lines"]]
        if not (pn and cn and p_objs):
            ok(False, "%s: both shards were announced" % what,
               "parent %d, child %d notifications" % (len(pn), len(cn)))
            continue
        last_obj = max(p_objs, key=lambda o: int(o["lines"][-1]["seq"]))
        last_p = first.get(last_obj["key"])
        if not ok(last_p is not None, "%s: the parent's last object was "
                  "announced" % what, last_obj["key"]):
            continue
        first_c = min(cn, key=lambda n: n["order"])
        ok(first_c["order"] > last_p["order"] and
           all(n["order"] < first_c["order"] for n in pn),
           "%s: no child object announced before the parent's last one "
           "(SQS receive order)" % what,
           "parent last object: #%d %s" % (last_p["order"], last_obj["key"]),
           "child first: #%d %s" % (first_c["order"],
                                     first_c["message"]["key"]))
        ok(min(n["sent"] for n in cn) >= max(n["sent"] for n in pn),
           "%s: child announcements sent no earlier than the parent's "
           "(SentTimestamp)" % what,
           "parent last sent %d, child first sent %d"
           % (max(n["sent"] for n in pn), min(n["sent"] for n in cn)))
    # each supervisor starts each shard's worker once: nothing crashed here
    sups = {ln.pid for lst in starting.values() for ln in lst}
    for s, lst in sorted(starting.items()):
        per = {}
        for ln in lst:
            per[ln.pid] = per.get(ln.pid, 0) + 1
        ok(all(v == 1 for v in per.values()),
           "%s: started at most once per supervisor (%d supervisors)"
           % (s, len(sups)), *[repr(x) for x in lst])
    restarts = kx.grep(lines, r"restarting worker in")
    ok(not restarts, "no worker crashed (no backoff restart)",
       *[repr(x) for x in restarts[:10]])


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
