#!/usr/bin/env python3
"""
test_truth.py: the archive in S3 is the source of truth (SPEC section 7,
"The archive is the source of truth"; issue 14). moto with SigV4 on and a
versioned bucket: an overwrite would leave a second version of a key, so
"never overwritten" is checked on every key, not guessed from the log.

1. lost state_dir: a keeper archives a 2-shard stream while a producer
   runs; it is SIGKILLed (whole process group: a lost host), its state_dir
   deleted, and a new keeper started on an empty state_dir while records
   keep flowing. Every record exactly once; no announced object changed;
   the log says where each shard resumed (one line per shard).
2. two keepers at once on the same stream and bucket from two state_dirs
   (a host swap done wrong): still no duplicate, no overwrite.
3. SIGKILL between upload and checkpoint: the answer of a PUT that moto
   stored is held, the worker killed; its successor meets the object
   (412), adopts it (one log line), never rewrites it, and announces it.
4. an unreadable checkpoint is moved aside and the shard resumes from the
   archive, with no operator step.
(kinesis-keeper verify is tested in test_verify.py: moto with auth on
refuses a ListObjectsV2 prefix holding '/'.)
"""

import hashlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
import kk_formats as kf  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "truth"
BUCKET = "kk-truth"
PREFIX = "tr/"
RATE = 100
ARCHIVE_TIMEOUT = 60


def base_overrides(endpoint=None):
    o = {
        "s3.prefix": PREFIX,
        "read.interval": "200ms",
        "batch.max_age": "1s",
        "batch.max_records": 40,
        "local.keep": 3,
        "topology.refresh": "5s",
        "workers.restart_min": "200ms",
        "workers.restart_max": "1s",
        "workers.shutdown_timeout": "10s",
    }
    if endpoint:
        o["endpoints.s3"] = endpoint
    return o


def versions(moto, bucket):
    """{key: number of versions} of the archive objects (head objects are
    rewritten by design and not archive data)."""
    out = {}
    for page in moto.s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket):
        for v in page.get("Versions", []):
            if not kk.is_head_key(v["Key"]):
                out[v["Key"]] = out.get(v["Key"], 0) + 1
    return out


def shas(moto, bucket):
    return {o["key"]: hashlib.sha256(o["body"]).hexdigest()
            for o in moto.fetch_objects(bucket)}


def archived_all(moto, put, cache):
    return kk.archived_records(moto, BUCKET, cache) >= len(put)


def grep(keeper, pattern):
    return [ln for ln in keeper.log().splitlines() if re.search(pattern, ln)]


ALL_PUT = []      # every record put by any scenario: the archive holds all
ALL_NOTES = []    # every notification received, in order


def check_final(moto, queue, label, before=None):
    """Exactly once, one version per key, announcements match the final
    objects and none announced an object that later changed."""
    objs = kk.check_objects(moto.fetch_objects(BUCKET), STREAM, PREFIX,
                            label=label)
    kk.assert_exactly_once(ALL_PUT, objs, label=label)
    multi = {k: n for k, n in versions(moto, BUCKET).items() if n > 1}
    ok(not multi, "%s: no key was ever written twice (versioned bucket, "
       "%d keys)" % (label, len(objs)),
       *["%s: %d versions" % kv for kv in list(multi.items())[:8]])
    ALL_NOTES.extend(kx.drain_notes(moto.sqs, queue))
    for i, n in enumerate(ALL_NOTES):
        n["order"] = i
    repeats, superseded = kx.check_final_notifications(ALL_NOTES, objs,
                                                       STREAM, BUCKET,
                                                       label=label)
    ok(not superseded, "%s: no announced object was changed afterwards "
       "(%d notifications)" % (label, len(ALL_NOTES)), *superseded[:8])
    if before is not None:
        now = {o["key"]: hashlib.sha256(o["body"]).hexdigest() for o in objs}
        changed = ["%s: %s -> %s" % (k, v, now.get(k)) for k, v in
                   before.items() if now.get(k) != v]
        ok(not changed, "%s: every object that existed before is unchanged "
           "(%d objects compared by sha256)" % (label, len(before)),
           *changed[:8])
    return objs


def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    t0 = time.monotonic()
    with kk.Moto() as moto, kf.StallProxy(moto.port) as proxy:
        moto.create_stream(STREAM, 2)
        moto.create_bucket(BUCKET)
        moto.s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic, queue = moto.create_topic_queue("truth-topic", "truth-q")
        shards = [s["ShardId"] for s in moto.list_shards(STREAM)]
        lost_state(moto, proxy, topic, queue, shards)
        two_keepers(moto, topic, queue, shards)
        kill_after_upload(moto, proxy, topic, queue, shards)
    diag("run time %.1f s" % (time.monotonic() - t0))


def lost_state(moto, proxy, topic, queue, shards):
    tmp = tempfile.mkdtemp(prefix="kk-truth-")
    prod = kx.Producer(moto.kinesis, STREAM, rate=RATE, seed=14, tag="lost")
    prod.start()
    try:
        with kk.Keeper(moto, STREAM, BUCKET, overrides=base_overrides(),
                       tmp=tmp, topic_arn=topic, name="lost1") as k1:
            k1.start()
            cache = {}
            ok(kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                             >= 3 * RATE, 40, 0.5),
               "lost state: the first keeper archives (%d records)"
               % kk.archived_records(moto, BUCKET, cache), *k1.tail(10))
            # a lost host: every process of it gone at once, then its disk
            kk.kill_pid(k1.proc.pid, signal.SIGSTOP)
            for pid in k1.workers():
                kk.kill_pid(pid)
            kk.kill_pid(k1.proc.pid)
            k1.proc.wait(10)
            before = shas(moto, BUCKET)
            shutil.rmtree(k1.state_dir)
        diag("lost state: %d objects before the state_dir was deleted"
             % len(before))
        with kk.Keeper(moto, STREAM, BUCKET, overrides=base_overrides(),
                       topic_arn=topic, name="lost2") as k2:
            k2.start()
            time.sleep(4)           # records keep flowing meanwhile
            prod.stop()
            ok(not prod.errors, "lost state: producer had no error",
               *prod.errors[:3])
            put = list(prod.put)
            ALL_PUT.extend(put)
            cache = {}
            ok(kk.wait_until(lambda: archived_all(moto, put, cache),
                             ARCHIVE_TIMEOUT, 0.5),
               "lost state: the new keeper archives everything (%d records)"
               % len(put), *k2.tail(15))
            rc = k2.stop()
            ok(rc == 0, "lost state: SIGTERM: exit 0", "rc %r" % rc)
            lines = grep(k2, r"no checkpoint: (shardId-\d+) resumes from the "
                         r"archive after \d+")
            got = sorted({re.search(r"(shardId-\d+) resumes", ln).group(1)
                          for ln in lines})
            ok(got == sorted(shards) and len(lines) == len(shards),
               "lost state: the log says where each shard resumed (one line "
               "per shard: %d)" % len(lines), *lines)
            starts = grep(k2, r"reading shardId-\d+ from TRIM_HORIZON")
            ok(not starts, "lost state: no shard fell back to start_position",
               *starts)
            check_final(moto, queue, "lost state", before)
    finally:
        prod.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def two_keepers(moto, topic, queue, shards):
    before = shas(moto, BUCKET)
    prod = kx.Producer(moto.kinesis, STREAM, rate=RATE, seed=15, tag="two")
    prod.start()
    try:
        with kk.Keeper(moto, STREAM, BUCKET, overrides=base_overrides(),
                       topic_arn=topic, name="twoA") as ka, \
                kk.Keeper(moto, STREAM, BUCKET, overrides=dict(
                    base_overrides(), **{"batch.max_records": 55}),
                    topic_arn=topic, name="twoB") as kb:
            ka.start()
            kb.start()
            time.sleep(8)
            prod.stop()
            put = list(prod.put)
            ALL_PUT.extend(put)
            cache = {}
            ok(kk.wait_until(lambda: archived_all(moto, ALL_PUT, cache),
                             ARCHIVE_TIMEOUT, 0.5),
               "two keepers: everything archived (%d new records)" % len(put),
               *kb.tail(10))
            time.sleep(2)
            rca, rcb = ka.stop(), kb.stop()
            ok(rca == 0 and rcb == 0, "two keepers: both exit 0 on SIGTERM",
               "rc %r %r" % (rca, rcb))
            adopted = grep(ka, r"adopted s3://") + grep(kb, r"adopted s3://")
            diag("two keepers: %d adoptions" % len(adopted), *adopted[:4])
            ok(adopted, "two keepers: they met each other's objects and "
               "adopted them (%d)" % len(adopted))
            check_final(moto, queue, "two keepers", before)
    finally:
        prod.stop()


def kill_after_upload(moto, proxy, topic, queue, shards):
    """A worker SIGKILLed after moto stored its object, before its
    checkpoint: the successor adopts the object. Then a checkpoint made
    unreadable: moved aside, the shard resumes from the archive."""
    before = shas(moto, BUCKET)
    objkey = re.compile(r"^/%s/%s%s/.*\.jsonl\.gz$" % (BUCKET, PREFIX,
                                                      STREAM))

    def obj_put(method, path):
        return method == "PUT" and "?" not in path and \
            objkey.search(path) is not None

    ov = base_overrides(proxy.endpoint)
    ov["batch.max_records"] = 30
    ov["batch.max_age"] = "30s"
    items = [("pk-%d" % i, ('{"k":%d}' % i).encode()) for i in range(200)]
    with kk.Keeper(moto, STREAM, BUCKET, overrides=ov, topic_arn=topic,
                   name="kill") as k:
        h = proxy.hold(obj_put, nth=2, after=True)
        ALL_PUT.extend(moto.put_records(STREAM, items))
        k.start()
        held = h.wait_held(45)
        ok(held and h.status == 200, "kill: moto stored an object; its "
           "answer is held", "held %s status %s" % (held, h.status),
           *k.tail(10))
        if not held:
            return
        key = h.request["path"][len("/%s/" % BUCKET):]
        sha = hashlib.sha256(moto.s3.get_object(
            Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()
        killed = kf.kill_workers(k)
        h.release(drop=True)
        ok(len(killed) >= 1, "kill: the workers SIGKILLed, one of them "
           "before its checkpoint (%s)" % killed)
        pat = r"adopted s3://%s/%s: " % (BUCKET, re.escape(key))
        ok(kk.wait_until(lambda: grep(k, pat), 45, 0.2),
           "kill: the restarted worker adopted %s" % key, *k.tail(15))
        cache = {}
        ok(kk.wait_until(lambda: archived_all(moto, ALL_PUT, cache),
                         ARCHIVE_TIMEOUT, 0.5),
           "kill: everything archived", *k.tail(10))
        n = len(grep(k, pat))
        ok(n == 1, "kill: one adoption line for it (%d)" % n)
        after = hashlib.sha256(moto.s3.get_object(
            Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()
        ok(after == sha, "kill: the adopted object is unchanged")
        rc = k.stop()
        ok(rc == 0, "kill: SIGTERM: exit 0", "rc %r" % rc)
        check_final(moto, queue, "kill", before)

        # an unreadable checkpoint: set aside, resumed from the archive
        ck = os.path.join(k.state_dir, "checkpoints", shards[0])
        with open(ck, "w") as f:
            f.write("{not json")
        more = [("pk-m%d" % i, ('{"m":%d}' % i).encode()) for i in range(60)]
        ALL_PUT.extend(moto.put_records(STREAM, more))
        k.start()
        cache = {}
        ok(kk.wait_until(lambda: archived_all(moto, ALL_PUT, cache),
                         ARCHIVE_TIMEOUT, 0.5),
           "bad checkpoint: everything archived", *k.tail(10))
        rc = k.stop()
        lines = grep(k, r"checkpoint of %s unreadable: moved aside to "
                     r"\S+\.bad-\d+; resuming from the archive" % shards[0])
        aside = [f for f in os.listdir(os.path.dirname(ck))
                 if f.startswith(shards[0] + ".bad-")]
        ok(len(lines) == 1 and len(aside) == 1, "bad checkpoint: moved "
           "aside once, logged with its path", *lines + aside)
        ok(rc == 0, "bad checkpoint: SIGTERM: exit 0", "rc %r" % rc)
        check_final(moto, queue, "bad checkpoint")


if __name__ == "__main__":
    kk.main(scenario)
