#!/usr/bin/env python3
"""
test_leases_smoke.py: two keepers share a 4-shard moto stream through a
DynamoDB lease table (SPEC section 7, "Leases"; issue 15). The first takes
all four shards, the second joins and the two end with two each (handed
over: the second asks, the first flushes and releases, no steal); the first
stops gracefully, releases its leases, and the second takes them at once
(within one scan, not after expiry). Every record exactly once, every
object announced, no key written twice.
2. a dead host's unannounced objects: keeper A archives a 2-shard stream
with its SNS endpoint refusing connections (its notifications wait in its
outbox), and is SIGKILLed with its whole process group; keeper B takes
both leases once they expire (about two durations) and announces A's
objects again from the chain (kkLastKey back to kkAnnounced): every object
announced at least once, every record exactly once.
3. DynamoDB out of reach (a black hole through the fault proxy): the
keeper gives its leases up after one duration without a renewal and stops
its workers rather than risk two owners; once DynamoDB answers again it
takes the leases back (after they expire) and archives on.
4. a split across hosts (Kinesis from kinesalite: moto never ends a
shard): the parent's lease ends at SHARD_END and is released, it names its
children (childShardIds) and they name it (parentShardId), and no child
lease is taken before the parent's worker reached its end.
5. a checkpoint is fenced: while a keeper's worker holds a batch, another
owner (a boto3 "thief", KCL-style: owner and counter, a new token) takes
the lease; at the stop the worker uploads its batch but its checkpoint is
refused (one line, exit 77), the lease's checkpoint does not move, and the
keeper logs the lease lost to the thief.
The full scenario (kills, zombies, a split) is test_leases.py.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "leasesmoke"
BUCKET = "kk-leasesmoke"
TABLE = "kk-leasesmoke-leases"
PREFIX = "ls/"
DURATION = 4            # seconds: leases.duration
SHARDS = 4


def overrides(moto, worker_id, table=TABLE):
    return {
        "s3.prefix": PREFIX,
        "read.interval": "200ms",
        "batch.max_age": "1s",
        "batch.max_records": 50,
        "topology.refresh": "5s",
        "workers.restart_min": "200ms",
        "workers.restart_max": "1s",
        "workers.shutdown_timeout": "10s",
        "endpoints.dynamodb": moto.endpoint,
        "leases.table": table,
        "leases.worker_id": worker_id,
        "leases.duration": "%ds" % DURATION,
    }


def owners(ddb, table=TABLE):
    """{shard: owner or None} as the table says (a KCL-style reader)."""
    out = {}
    kw = {"TableName": table, "ConsistentRead": True}
    while True:
        r = ddb.scan(**kw)
        for it in r["Items"]:
            out[it["leaseKey"]["S"]] = it.get("leaseOwner", {}).get("S")
        if "LastEvaluatedKey" not in r:
            return out
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def held_by(ddb, who, table=TABLE):
    try:
        return sorted(s for s, o in owners(ddb, table).items() if o == who)
    except Exception:  # the table may not exist yet
        return []


def count(keeper, pattern):
    return len([ln for ln in keeper.log().splitlines()
                if re.search(pattern, ln)])


def put(moto, n, tag, stream=STREAM):
    return moto.put_records(stream, [("pk-%s-%d" % (tag, i),
                                      ('{"n":%d,"t":"%s"}' % (i, tag)).encode())
                                     for i in range(n)])


def dead_host(moto, ddb):
    stream, bucket, table = "leasekill", "kk-leasekill", "kk-leasekill-leases"
    topic, queue = moto.create_topic_queue("leasekill", "leasekill-q")
    moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    oa = overrides(moto, "host-a", table)
    oa["endpoints.sns"] = "http://127.0.0.1:1"   # refused: nothing announced
    with kk.Keeper(moto, stream, bucket, oa, topic_arn=topic,
                   name="deadhost-a") as a, \
            kk.Keeper(moto, stream, bucket, overrides(moto, "host-b", table),
                      topic_arn=topic, name="deadhost-b") as b:
        records = put(moto, 300, "k", stream)
        a.start()
        cache = {}
        ok(kk.wait_until(lambda: kk.archived_records(moto, bucket, cache)
                         >= len(records), 60),
           "dead host: A archived every record (%d)" % len(records),
           *a.tail(20))
        a_objs = [o["key"] for o in moto.fetch_objects(bucket)
                  if not kk.is_head_key(o["key"])]
        ok(not kx.drain_notes(moto.sqs, queue, idle_rounds=1),
           "dead host: A announced nothing (its SNS endpoint refuses)")
        # the host dies: supervisor, helpers and workers at once
        os.killpg(a.proc.pid, 9)
        a.proc.wait(10)
        t0 = time.time()
        b.start()
        took = kk.wait_until(lambda: len(held_by(ddb, "host-b", table)) == 2,
                             6 * DURATION, 0.2)
        ok(took, "dead host: B holds both leases within %d s (%.1f s after "
           "the kill, duration %d s)" % (6 * DURATION, time.time() - t0,
                                          DURATION),
           "table: %r" % owners(ddb, table), *b.tail(20))
        # the first scan sees A as live (its counters just moved): one
        # steal; the other lease is taken once it expired
        ok(count(b, r"lease shardId-\d+: (taken|stolen) from host-a") == 2,
           "dead host: B took both leases from host-a (2 lines)",
           *[ln for ln in b.log().splitlines() if "lease " in ln][:10])
        records += put(moto, 100, "l", stream)
        ok(kk.wait_until(lambda: kk.archived_records(moto, bucket, cache)
                         >= len(records), 60),
           "dead host: B archived the rest (%d records)" % len(records))
        time.sleep(2)
        ok(b.stop() == 0, "dead host: B stops: exit 0", *b.tail(20))
        objs = kk.check_objects(moto.fetch_objects(bucket), stream, PREFIX,
                                label="dead host")
        kk.assert_exactly_once(records, objs, label="dead host")
        notes = kx.drain_notes(moto.sqs, queue)
        keys = {n["message"].get("key") for n in notes
                if isinstance(n["message"], dict)}
        missing = [k for k in a_objs if k not in keys]
        ok(a_objs and not missing, "dead host: every object A archived but "
           "never announced is announced by B (%d objects)" % len(a_objs),
           *missing[:8])
        ok(count(b, r"lease shardId-\d+: \d+ objects after the last "
                    r"announced") == 2,
           "dead host: one re-announce line per shard taken over",
           *[ln for ln in b.log().splitlines() if "announced" in ln][:6])
        kx.check_final_notifications(notes, objs, stream, bucket,
                                     label="dead host")


def gauges(sock, name):
    """The values of statsd gauge name received so far, in order."""
    out = []
    while True:
        try:
            data = sock.recv(65536).decode("utf-8", "replace")
        except BlockingIOError:
            return out
        for ln in data.splitlines():
            m = re.match(r"^kinesis_keeper\.%s:(\d+)\|g$" % name, ln)
            if m:
                out.append(int(m.group(1)))


def unreachable(moto, ddb):
    stream, bucket, table = "leasehole", "kk-leasehole", "kk-leasehole-leases"
    moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    with FaultProxy(moto.port) as proxy:
        o = overrides(moto, "host-c", table)
        o["endpoints.dynamodb"] = "http://127.0.0.1:%d" % proxy.port
        with kk.Keeper(moto, stream, bucket, o, name="hole-c") as c:
            records = put(moto, 100, "h", stream)
            c.start()
            ok(kk.wait_until(lambda: len(held_by(ddb, "host-c", table)) == 2
                             and len(c.workers()) == 2, 6 * DURATION),
               "unreachable: host-c holds 2 leases, 2 workers run",
               *c.tail(20))
            rule = proxy.add_rule("dynamodb", action="stall", seconds=60,
                                  mode="close")
            t0 = time.time()
            lost = kk.wait_until(lambda: count(c, r"lease shardId-\d+: lost: "
                                               r"not renewed") == 2,
                                 3 * DURATION, 0.1)
            ok(lost, "unreachable: both leases given up within %d s (%.1f s; "
               "duration %d s)" % (3 * DURATION, time.time() - t0, DURATION),
               *c.tail(20))
            # they stop reading at once; their last checkpoint waits for
            # DynamoDB until workers.shutdown_timeout (10 s), then exit 75
            gone = kk.wait_until(lambda: not c.workers(), 15, 0.2)
            ok(gone, "unreachable: both workers exited within "
               "shutdown_timeout (%.1f s after the rule)" % (time.time() - t0),
               "workers: %r" % c.workers(), *c.tail(20))
            proxy.remove_rule(rule)
            t0 = time.time()
            back = kk.wait_until(lambda: len(c.workers()) == 2 and
                                 len(held_by(ddb, "host-c", table)) == 2,
                                 8 * DURATION, 0.2)
            ok(back, "unreachable: DynamoDB back, host-c takes its leases "
               "again and reads (%.1f s)" % (time.time() - t0), *c.tail(20))
            records += put(moto, 100, "i", stream)
            cache = {}
            ok(kk.wait_until(lambda: kk.archived_records(moto, bucket, cache)
                             >= len(records), 60),
               "unreachable: every record archived (%d)" % len(records))
            ok(c.stop() == 0, "unreachable: exit 0", *c.tail(20))
            objs = kk.check_objects(moto.fetch_objects(bucket), stream,
                                    PREFIX, label="unreachable")
            kk.assert_exactly_once(records, objs, label="unreachable")


def log_time(line):
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ", line)
    return m.group(1) if m else None


def split(moto, ddb):
    if not ok(kx.Kinesalite.available(), "split: kinesalite is installed "
              "(tests/setup.sh)", "no node or no %s/kinesalite"
              % kx.NODE_MODULES):
        return
    stream, bucket, table = "leasesplit", "kk-leasesplit", "kk-split-leases"
    with kx.Kinesalite() as kl:
        kin = kl.kinesis
        shards = kx.create_stream(kin, stream, 2)
        moto.create_bucket(bucket)

        def conf(wid):
            o = overrides(moto, wid, table)
            o["endpoints.kinesis"] = kl.endpoint
            o["topology.refresh"] = "2s"
            # 50 records/s a shard: the parent's backlog below takes
            # about 8 s to read, longer than its children take to appear
            o["read.max_records"] = 10
            return o
        producer = kx.Producer(kx.client("kinesis", kl.endpoint), stream,
                               rate=60, chunk=10, seed=5, tag="ls")
        with kk.Keeper(moto, stream, bucket, conf("host-a"),
                       name="split-a") as a, \
                kk.Keeper(moto, stream, bucket, conf("host-b"),
                          name="split-b") as b:
            a.start()
            b.start()
            producer.start()
            ok(kk.wait_until(lambda: len(held_by(ddb, "host-a", table)) == 1
                             and len(held_by(ddb, "host-b", table)) == 1,
                             10 * DURATION),
               "split: one lease each", "table: %r" % owners(ddb, table))
            time.sleep(2)
            parent = next(sh for sh in kx.list_shards(kin, stream)
                          if sh["ShardId"] == shards[0])
            lo = int(parent["HashKeyRange"]["StartingHashKey"])
            hi = int(parent["HashKeyRange"]["EndingHashKey"])
            backlog = []
            for c in range(4):
                recs = [("bk-%d-%d" % (c, i), ('{"backlog":%d}' % (c * 100 + i))
                         .encode()) for i in range(100)]
                r = kin.put_records(StreamName=stream, Records=[
                    {"PartitionKey": pk, "Data": d, "ExplicitHashKey": str(lo)}
                    for pk, d in recs])
                backlog += [(rr["ShardId"], rr["SequenceNumber"], pk, d)
                            for (pk, d), rr in zip(recs, r["Records"])]
            kin.split_shard(StreamName=stream, ShardToSplit=shards[0],
                            NewStartingHashKey=str((lo + hi + 1) // 2))
            ok(kx.wait_active(kin, stream), "split: stream ACTIVE again")
            kids = [sh["ShardId"] for sh in kx.list_shards(kin, stream)
                    if sh.get("ParentShardId") == shards[0]]
            ok(kk.wait_until(lambda: len(kids) == 2 and
                             all(owners(ddb, table).get(k) for k in kids),
                             15 * DURATION, 0.3),
               "split: both children's leases owned",
               "table: %r" % owners(ddb, table))
            time.sleep(2)
            producer.stop()
            cache = {}
            put = producer.put + backlog
            ok(kk.wait_until(lambda: kk.archived_records(moto, bucket, cache)
                             >= len(put), 60),
               "split: every record archived (%d)" % len(put))
            items = {it["leaseKey"]["S"]: it for it in ddb.scan(
                TableName=table, ConsistentRead=True)["Items"]}
            p = items.get(shards[0], {})
            ok(p.get("checkpoint", {}).get("S") == "SHARD_END" and
               "leaseOwner" not in p, "split: the parent's lease is at "
               "SHARD_END and released", repr(p))
            ok(sorted(p.get("childShardIds", {}).get("SS", [])) ==
               sorted(kids) and all(items.get(k, {}).get("parentShardId",
                                                         {}).get("SS") ==
                                    [shards[0]] for k in kids),
               "split: childShardIds and parentShardId as the KCL writes "
               "them", repr(items))
            logs = a.log().splitlines() + b.log().splitlines()
            end = [log_time(ln) for ln in logs if re.search(
                r"worker %s: shard end reached" % shards[0], ln)]
            taken = [log_time(ln) for ln in logs for k in kids
                     if re.search(r"lease %s: taken" % k, ln)]
            ok(len(end) == 1 and len(taken) == 2 and min(taken) > end[0],
               "split: no child lease taken before the parent's end "
               "(end %s, children taken %s)" % (end, taken))
            ok(a.stop() == 0 and b.stop() == 0, "split: both stop, exit 0")
            objs = kk.check_objects(moto.fetch_objects(bucket), stream,
                                    PREFIX, label="split")
            kk.assert_exactly_once(put, objs, label="split")


def fenced(moto, ddb):
    stream, bucket, table = "leasefence", "kk-leasefence", "kk-fence-leases"
    moto.create_stream(stream, 1)
    moto.create_bucket(bucket)
    o = overrides(moto, "host-f", table)
    o["batch.max_age"] = "60s"          # the batch stays in the worker
    with kk.Keeper(moto, stream, bucket, o, name="fence") as f:
        f.start()
        ok(kk.wait_until(lambda: len(held_by(ddb, "host-f", table)) == 1 and
                         len(f.workers()) == 1, 6 * DURATION),
           "fenced: host-f holds the lease", *f.tail(20))
        records = put(moto, 30, "f", stream)   # fewer than max_records
        ok(kk.wait_until(lambda: count(f, r"GetRecords|read \d+ records|"
                                          r"reading") >= 1, 10), "fenced: "
           "the worker reads")
        time.sleep(3)   # the 30 records are in the worker's batch
        shard = held_by(ddb, "host-f", table)[0]
        before = ddb.get_item(TableName=table, ConsistentRead=True,
                              Key={"leaseKey": {"S": shard}})["Item"]
        ddb.update_item(
            TableName=table, Key={"leaseKey": {"S": shard}},
            ConditionExpression="leaseCounter = :c",
            UpdateExpression="SET leaseOwner = :o, kkToken = :t, "
                             "leaseCounter = :n",
            ExpressionAttributeValues={
                ":c": before["leaseCounter"], ":o": {"S": "thief"},
                ":t": {"S": "0" * 32},
                ":n": {"N": str(int(before["leaseCounter"]["N"]) + 1)}})
        # the next renewal fails: the worker is stopped, flushes, and its
        # checkpoint is refused
        kk.wait_until(lambda: count(f, r"checkpoint refused") >= 1,
                      2 * DURATION)
        f.stop()
        after = ddb.get_item(TableName=table, ConsistentRead=True,
                             Key={"leaseKey": {"S": shard}})["Item"]
        ok(count(f, r"lease %s: lost: checkpoint refused" % shard) == 1,
           "fenced: the worker's checkpoint was refused (one line)",
           *f.tail(20))
        ok(after.get("checkpoint") == before.get("checkpoint") and
           after.get("leaseOwner", {}).get("S") == "thief",
           "fenced: the lease's checkpoint did not move, the thief owns it",
           "before %r" % before, "after %r" % after)
        ok(count(f, r"lease %s: lost to thief" % shard) +
           count(f, r"%s: worker stopped: its lease is another keeper's"
                 % shard) >= 1, "fenced: the keeper knows the lease is "
           "lost", *f.tail(20))
        objs = [x for x in moto.fetch_objects(bucket)
                if not kk.is_head_key(x["key"])]
        diag("fenced: %d objects in S3 after the refused checkpoint (the "
             "next owner adopts them)" % len(objs))


def scenario():
    kk.become_subreaper()
    with kk.Moto() as moto:
        moto.create_stream(STREAM, SHARDS)
        moto.create_bucket(BUCKET)
        topic, queue = moto.create_topic_queue("leasesmoke", "leasesmoke-q")
        ddb = moto.session.client("dynamodb", endpoint_url=moto.endpoint)
        records = put(moto, 200, "a")
        statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        statsd.bind(("127.0.0.1", 0))
        statsd.setblocking(False)
        ob = overrides(moto, "host-b")
        ob["statsd.host"] = "127.0.0.1"
        ob["statsd.port"] = statsd.getsockname()[1]
        with kk.Keeper(moto, STREAM, BUCKET, overrides(moto, "host-a"),
                       topic_arn=topic, name="a") as a, \
                kk.Keeper(moto, STREAM, BUCKET, ob,
                          topic_arn=topic, name="b") as b:
            rc, out, err = kk.run_keeper(["check", a.conf], 60)
            lines = [ln for ln in out.splitlines()
                     if ln.startswith("lease table ")]
            ok(rc == 0 and len(lines) == 1 and ": ok: does not exist yet" in
               lines[0], "check: the missing lease table is fine (created "
               "on demand): one line, exit 0", "exit %r" % rc, *out.splitlines())
            rc, out, err = kk.run_keeper(
                ["check", "-D", "endpoints.dynamodb=http://127.0.0.1:1",
                 a.conf], 60)
            lines = [ln for ln in out.splitlines()
                     if ln.startswith("lease table ")]
            ok(rc == 1 and len(lines) == 1 and ": FAILED: " in lines[0],
               "check: an unreachable lease table FAILED, exit 1",
               "exit %r" % rc, *out.splitlines())
            a.start()
            ok(kk.wait_until(lambda: len(held_by(ddb, "host-a")) == SHARDS,
                             6 * DURATION),
               "alone, host-a holds all %d leases within %d s"
               % (SHARDS, 6 * DURATION), "table: %r" % owners(ddb))
            ok(count(a, r"lease shardId-\d+: taken \(unowned") == SHARDS,
               "host-a logged one 'taken (unowned' line per shard",
               *a.tail(20))
            rc, out, err = kk.run_keeper(["check", b.conf], 60)
            ok(rc == 0 and "lease table %s: ok: ACTIVE (worker_id host-b)"
               % TABLE in out, "check: lease table ACTIVE once created",
               "exit %r" % rc, *out.splitlines())
            b.start()
            records += put(moto, 200, "b")
            t0 = time.time()
            even = kk.wait_until(
                lambda: len(held_by(ddb, "host-a")) == 2 and
                len(held_by(ddb, "host-b")) == 2, 10 * DURATION, 0.2)
            ok(even, "host-b joins: two leases each within %d s (%.1f s)"
               % (10 * DURATION, time.time() - t0), "table: %r" % owners(ddb))
            # graceful: B asks, A hands over (flush, checkpoint, release)
            # and B takes the released lease; no steal, nothing lost
            blines = [ln for ln in b.log().splitlines() if "lease " in ln]
            ok(count(b, r"lease shardId-\d+: asked host-a to hand it "
                        r"over") == 2 and
               count(b, r"lease shardId-\d+: taken \(unowned") == 2 and
               count(b, r"lease shardId-\d+: (stolen|taken) from") == 0,
               "host-b asked host-a for exactly two leases and took them "
               "released (no steal)", *blines[:10])
            ok(count(a, r"lease shardId-\d+: handing over to host-b") == 2
               and count(a, r"lease shardId-\d+: released") == 2 and
               count(a, r"lease shardId-\d+: lost to") == 0,
               "host-a handed two leases over to host-b and released them "
               "(no 'lost' line)", *a.tail(20))
            records += put(moto, 200, "c")
            time.sleep(2)
            t0 = time.time()
            rc = a.stop()
            stop_s = time.time() - t0
            ok(rc == 0, "host-a stops gracefully: exit 0 (%.1f s)" % stop_s,
               *a.tail(20))
            ok(count(a, r"lease shardId-\d+: released") == 4,
               "host-a released its two leases at the stop (4 'released' "
               "lines with the two handed over)", *a.tail(20))
            t0 = time.time()
            took = kk.wait_until(lambda: len(held_by(ddb, "host-b")) ==
                                 SHARDS, 2 * DURATION, 0.1)
            ok(took, "host-b takes the released leases within one scan "
               "(%.1f s, duration %d s)" % (time.time() - t0, DURATION),
               "table: %r" % owners(ddb))
            def status_says():
                rc, out, err = kk.run_keeper(["status", b.conf], 30)
                return out
            kk.wait_until(lambda: "leases: worker_id host-b, %d held"
                          % SHARDS in status_says(), 10)
            out = status_says()
            ok("leases: worker_id host-b, %d held" % SHARDS in out and
               len(re.findall(r", lease held", out)) == SHARDS,
               "status: worker_id, %d leases held, each shard 'lease held'"
               % SHARDS, *out.splitlines())
            seen = []
            kk.wait_until(lambda: seen.extend(gauges(statsd, "LeasesHeld"))
                          or (seen and seen[-1] == SHARDS), 15)
            ok(seen and seen[-1] == SHARDS and 2 in seen,
               "statsd: LeasesHeld of host-b went 2 then %d" % SHARDS,
               "values: %r" % seen[-20:])
            records += put(moto, 200, "d")
            cache = {}
            ok(kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                             >= len(records), 60),
               "every record archived (%d)" % len(records))
            ok(b.stop() == 0, "host-b stops: exit 0", *b.tail(20))
            objs = kk.check_objects(moto.fetch_objects(BUCKET), STREAM,
                                    PREFIX, label="smoke")
            kk.assert_exactly_once(records, objs, label="smoke")
            notes = kx.drain_notes(moto.sqs, queue)
            repeats, superseded = kx.check_final_notifications(
                notes, objs, STREAM, BUCKET, label="smoke")
            ok(not superseded, "no announced object changed afterwards")
            calls = [ln for ln in a.log().splitlines() + b.log().splitlines()
                     if "lease calls:" in ln]
            ok(len(calls) >= 2, "each lease helper logged its call counts",
               *calls[:4])
            for ln in calls[-2:]:
                diag(ln)
            for k in (a, b):
                ok(not k.sanitizer_reports(), "%s: no sanitizer report"
                   % k.name, *k.sanitizer_reports()[:5])
        statsd.close()
        dead_host(moto, ddb)
        unreachable(moto, ddb)
        split(moto, ddb)
        fenced(moto, ddb)


if __name__ == "__main__":
    kk.main(scenario)
