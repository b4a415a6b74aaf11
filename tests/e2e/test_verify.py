#!/usr/bin/env python3
"""
test_verify.py: `kinesis-keeper verify` (SPEC section 7, "Chain" and the
verify command). Kinesis is kinesalite (closed shards end, split and merge
work); S3 is moto without SigV4 checking, which with auth on refuses a
ListObjectsV2 prefix holding '/' (ENVIRONMENT.md). A keeper archives a
2-shard stream across a split of shard 0 and a merge of its children; then:

1. verify exits 0, lists every shard, and -j says the same in JSON;
   the chain is the one the objects' metadata names: each child's first
   object names its parent's last object;
2. an object in the middle deleted: exit 1, naming its successor's missing
   link and the deleted key;
3. an object replaced by other content: exit 1 naming the key;
4. a body corrupted (same size) with its metadata kept: plain verify cannot
   see it (exit 0), --deep does (exit 1 naming the key);
5. after each object is put back, exit 0 again;
6. throughput: a synthetic chain of 2000 objects (two ListObjectsV2
   pages), verified (the figure is printed).
"""

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "vfy"
BUCKET = "kk-verify"
PREFIX = "vf/"
BULK = 2000


def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    if not ok(kx.Kinesalite.available(),
              "kinesalite is installed (tests/setup.sh)",
              "no node or no %s/kinesalite" % kx.NODE_MODULES):
        return
    t0 = time.monotonic()
    bad_config()
    with kk.Moto(auth=False) as moto, kx.Kinesalite() as kl:
        kin = kl.kinesis
        shards = kx.create_stream(kin, STREAM, 2)
        moto.create_bucket(BUCKET)
        overrides = {
            "endpoints.kinesis": kl.endpoint,
            "s3.prefix": PREFIX,
            "read.interval": "200ms",
            "topology.refresh": "1s",
            "batch.max_age": "1s",
            "batch.max_records": 50,
            "workers.restart_min": "200ms",
            "workers.restart_max": "2s",
            "workers.shutdown_timeout": "10s",
        }
        with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides) as keeper:
            try:
                archive(moto, kin, shards, keeper)
                damage(moto, keeper)
            finally:
                kx.save_log(keeper, "verify.log")
        bulk(moto, kl)
    diag("run time %.1f s" % (time.monotonic() - t0))


def bad_config():
    d = tempfile.mkdtemp(prefix="kk-verify-")
    try:
        conf = os.path.join(d, "bad.conf")
        with open(conf, "w") as f:
            f.write('stream = "s";\nstate_dir = "%s";\ns3 = { bucket = "b"; '
                    'colour = "red"; };\n' % d)
        rc, out, err = kk.run_keeper(["verify", conf])
        ok(rc == 78 and re.search(r"bad\.conf:3: .*colour", err),
           "verify: a bad configuration exits 78 with file:line",
           "rc %r" % rc, err[-300:])
        rc, out, err = kk.run_keeper(["verify", "--since", "soon", conf])
        ok(rc == 1 and "--since soon" in err, "verify: a bad --since is "
           "refused", "rc %r" % rc, err[-200:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def verify(keeper, *args):
    rc, out, err = kk.run_keeper(["verify"] + list(args) + [keeper.conf],
                                 timeout=300)
    return rc, out, err


def put(kin, n, tag):
    items = [("pk-%s-%d" % (tag, i), json.dumps({"t": tag, "i": i}).encode())
             for i in range(n)]
    r = kin.put_records(StreamName=STREAM, Records=[
        {"PartitionKey": pk, "Data": d} for pk, d in items])
    return r.get("FailedRecordCount", 0) == 0


def archive(moto, kin, shards, keeper):
    keeper.start()
    ok(put(kin, 200, "a"), "records put before the split")
    time.sleep(3)
    parent = next(s for s in kx.list_shards(kin, STREAM)
                  if s["ShardId"] == shards[0])
    lo = int(parent["HashKeyRange"]["StartingHashKey"])
    hi = int(parent["HashKeyRange"]["EndingHashKey"])
    kin.split_shard(StreamName=STREAM, ShardToSplit=shards[0],
                    NewStartingHashKey=str((lo + hi) // 2))
    ok(kx.wait_active(kin, STREAM), "split: stream ACTIVE again")
    ok(put(kin, 200, "b"), "records put after the split")
    kids = sorted([s for s in kx.list_shards(kin, STREAM)
                   if s.get("ParentShardId") == shards[0]],
                  key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    ok(kk.wait_until(lambda: all(re.search(
        r"worker %s: reading" % k["ShardId"], keeper.log()) for k in kids),
        40, 0.3), "split: both children are read", *keeper.tail(10))
    time.sleep(2)
    kin.merge_shards(StreamName=STREAM, ShardToMerge=kids[0]["ShardId"],
                     AdjacentShardToMerge=kids[1]["ShardId"])
    ok(kx.wait_active(kin, STREAM), "merge: stream ACTIVE again")
    ok(put(kin, 200, "c"), "records put after the merge")
    merged = [s for s in kx.list_shards(kin, STREAM)
              if s.get("AdjacentParentShardId")]
    ok(len(merged) == 1 and kk.wait_until(lambda: re.search(
        r"worker %s: reading" % merged[0]["ShardId"], keeper.log()), 40, 0.3),
        "merge: the merged shard is read", *keeper.tail(10))
    time.sleep(3)
    rc = keeper.stop()
    ok(rc == 0, "keeper stopped: exit 0", "rc %r" % rc)

    rc, out, err = verify(keeper)
    lines = out.splitlines()
    ok(rc == 0, "verify: a clean archive across a split and a merge: exit 0",
       "rc %r" % rc, *(lines[-12:] + err.splitlines()[-5:]))
    listed = [ln for ln in lines if ln.startswith("shard shardId-")]
    ok(len(listed) == 5, "verify: one line per shard (2 + 2 children + 1 "
       "merged = %d)" % len(listed), *listed)
    done = [ln for ln in listed if ", done" in ln]
    ok(len(done) == 3, "verify: the three closed shards are done (%d)"
       % len(done), *listed)
    summary = [ln for ln in lines if ln.startswith("verify: ")]
    ok(len(summary) == 1 and " 0 problems" in summary[0],
       "verify: the summary says 0 problems", *summary)
    rc, out, err = verify(keeper, "-j")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    ok(rc == 0 and doc.get("ok") is True and doc.get("problems") == [] and
       len(doc.get("shards", [])) == 5 and doc.get("objects", 0) > 5,
       "verify -j: one JSON document, ok, 5 shards, no problem (%s objects)"
       % doc.get("objects"), out[:300], err[-300:])

    # the chain the metadata names: a child's first object names its
    # parent's last object
    objs = moto.fetch_objects(BUCKET)
    by_shard = {}
    for o in objs:
        by_shard.setdefault(o["metadata"].get("shard"), []).append(o)
    first_of = {}
    for sh, lst in by_shard.items():
        lst.sort(key=lambda o: int(o["metadata"]["first-seq"]))
        first_of[sh] = lst[0]
    last_of = {sh: max(lst, key=lambda o: int(o["metadata"]["last-seq"]))
               for sh, lst in by_shard.items()}
    probs = []
    for k in kids:
        m = first_of.get(k["ShardId"], {}).get("metadata", {})
        want = last_of.get(shards[0])
        if want is None or m.get("parent-key") != want["key"] or \
                m.get("parent-sha256") != hashlib.sha256(
                    want["body"]).hexdigest():
            probs.append("%s first object names %r, parent's last is %r"
                         % (k["ShardId"], m.get("parent-key"),
                            want and want["key"]))
    m = first_of.get(merged[0]["ShardId"], {}).get("metadata", {})
    if not m.get("parent-sha256") or not m.get("parent2-sha256"):
        probs.append("merged shard's first object: %r" % m)
    ok(not probs, "chain: each child's first object names its parents' "
       "last objects (split: one, merge: two)", *probs)


def middle_object(moto):
    """An object of a shard with a predecessor and a successor."""
    objs = moto.fetch_objects(BUCKET)
    by_prev = {o["metadata"].get("prev-key"): o for o in objs}
    for o in sorted(objs, key=lambda o: o["key"]):
        if o["metadata"].get("prev-key") and o["key"] in by_prev:
            return o, by_prev[o["key"]]
    return None, None


def damage(moto, keeper):
    victim, succ = middle_object(moto)
    if not ok(victim is not None, "an object with a predecessor and a "
              "successor exists"):
        return
    key = victim["key"]
    meta = victim["metadata"]

    def restore():
        moto.s3.put_object(Bucket=BUCKET, Key=key, Body=victim["body"],
                           Metadata=meta)

    moto.s3.delete_object(Bucket=BUCKET, Key=key)
    rc, out, err = verify(keeper)
    hit = [ln for ln in out.splitlines() if ln.startswith(succ["key"] +
           ": missing link: ") and key in ln]
    ok(rc == 1 and len(hit) == 1, "deleted object: exit 1, its successor's "
       "missing link names it", "rc %r" % rc, *out.splitlines()[:6])
    restore()
    rc, out, err = verify(keeper)
    ok(rc == 0, "put back: exit 0", "rc %r" % rc, *out.splitlines()[:6])

    moto.s3.put_object(Bucket=BUCKET, Key=key, Body=b"other content\n")
    rc, out, err = verify(keeper)
    hit = [ln for ln in out.splitlines() if ln.startswith(key + ": ")]
    ok(rc == 1 and hit, "replaced by other content: exit 1 naming the key",
       "rc %r" % rc, *out.splitlines()[:6])
    restore()

    body = bytearray(victim["body"])
    body[len(body) // 2] ^= 0x55
    moto.s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(body),
                       Metadata=meta)
    rc, out, err = verify(keeper)
    ok(rc == 0, "body corrupted, metadata kept: plain verify trusts the "
       "metadata (exit 0)", "rc %r" % rc, *out.splitlines()[:6])
    rc, out, err = verify(keeper, "--deep")
    hit = [ln for ln in out.splitlines() if ln.startswith(key + ": body: ")]
    ok(rc == 1 and len(hit) == 1, "body corrupted, metadata kept: --deep "
       "exits 1 naming the key", "rc %r" % rc, *out.splitlines()[:6])
    restore()
    rc, out, err = verify(keeper, "--deep")
    ok(rc == 0, "put back: --deep exits 0 (every body hashes to its "
       "metadata and holds its record count)", "rc %r" % rc,
       *out.splitlines()[-6:])
    rc, out, err = verify(keeper, "--since", "1h")
    ok(rc == 0, "--since 1h: exit 0", "rc %r" % rc, *out.splitlines()[-3:])


def bulk(moto, kl):
    """A synthetic chain of BULK objects (the keeper's metadata, tiny
    bodies) on a 1-shard stream: verify's throughput."""
    stream = "bulk"
    kx.create_stream(kl.kinesis, stream, 1)
    shard = kx.list_shards(kl.kinesis, stream)[0]["ShardId"]
    prev = None
    t = time.monotonic()
    for i in range(BULK):
        body = ("%d\n" % i).encode()
        sha = hashlib.sha256(body).hexdigest()
        key = "bk/%s/%s-%s-%06d.jsonl" % (stream, stream, shard, i)
        meta = {"shard": shard, "records": "1", "first-seq": str(i + 1),
                "last-seq": str(i + 1), "sha256": sha}
        if prev:
            meta["prev-key"], meta["prev-sha256"] = prev
        moto.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=meta)
        prev = (key, sha)
    diag("bulk: %d objects written in %.1f s" % (BULK,
                                                 time.monotonic() - t))
    with kk.Keeper(moto, stream, BUCKET, overrides={
            "endpoints.kinesis": kl.endpoint, "s3.prefix": "bk/",
            "s3.key": "{prefix}{stream}/{stream}-{shard}-{seq}.jsonl",
            "format.compression": "none"}) as k:
        t = time.monotonic()
        rc, out, err = verify(k)
        took = time.monotonic() - t
        summary = [ln for ln in out.splitlines() if ln.startswith("verify: ")]
        ok(rc == 0 and summary and summary[0].startswith(
            "verify: %d objects (%d checked)" % (BULK, BULK)),
           "bulk: verify walks a chain of %d objects: exit 0" % BULK,
           "rc %r" % rc, *(summary + err.splitlines()[-3:]))
        diag("bulk: verify of %d objects took %.1f s (%.0f objects/s)"
             % (BULK, took, BULK / took if took else 0))


if __name__ == "__main__":
    kk.main(scenario)
