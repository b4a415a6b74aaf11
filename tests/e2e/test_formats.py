#!/usr/bin/env python3
"""
test_formats.py: the object formats of SPEC section 5 end to end, against
moto with SigV4 checking on, S3 reached through a recording proxy that can
hold one chosen request (so kills land at exact points of an upload).

1. KPL: aggregates made at test time by the official aws-kinesis-agg
   (3..50 user records, distinct and shared partition keys, JSON, text and
   binary payloads, explicit hash keys, a 300-record one whose key indexes
   need two-byte varints), mixed with plain records and four corrupt
   aggregates (flipped byte, truncated, valid MD5 over a broken protobuf,
   valid MD5 over an aggregate without records), each put with PutRecord.
   batch.max_records = 7, so batches end inside aggregates: every user
   record once with its sub index, pk and data; corrupt ones whole as b64
   and logged; the exact set of keys, "-{sub}" where a batch starts inside
   an aggregate; notifications, checkpoint, local copies.
2. Crash inside aggregate-spanning batches: the worker SIGKILLed while
   moto has stored a batch starting inside an aggregate but its answer is
   held (checkpoint not yet moved); later supervisor and worker SIGKILLed
   while such a batch is on its way; a new keeper on the same state_dir.
   Exactly once overall; a re-read batch meets its key and adopts the
   object, never rewrites it.
   Then (kplgap) a worker resuming inside an aggregate whose first
   GetRecords answer is empty (Kinesis may answer so even when records
   follow; the proxy fakes it): the sub-records archived before the crash
   must not come again.
3. format.type = "raw" (gzip and none; byte-exact, de-aggregated records
   as their own lines, notifications), format.compression = "none",
   format.level 1, 6, 9 (gzip XFL flag, sizes), format.deaggregate = false.
4. Multipart: s3.multipart_threshold 1M, s3.part_size 5M, ~14 MB objects:
   ETag "-N", part sizes and Content-MD5, x-amz-meta-sha256, no upload
   left; a 2.8 MB object in one short part; a worker SIGKILLed while part 2
   is on its way (the recorded upload is aborted at restart) and again
   after moto completed the upload but before the worker heard of it (the
   stale id cleared, the object found with HeadObject and adopted, never
   uploaded again).
5. s3.storage_class / s3.sse (AES256, aws:kms + kms_key_id) in HeadObject,
   for single PUTs and for a multipart upload.
"""

import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_formats as kkf  # noqa: E402
from kk import ok, diag  # noqa: E402

BASE = {
    "read.interval": "200ms",
    "workers.restart_min": "300ms",
    "workers.shutdown_timeout": "20s",
}
KMS_KEY = ("arn:aws:kms:us-east-1:123456789012:key/"
           "1234abcd-12ab-34cd-56ef-1234567890ab")
SUBKEY_RE = re.compile(r"-shardId-\d+-(\d+)-(\d+)\.jsonl\.gz$")

rng = random.Random(20261105)
timings = []


def timed(name, fn, *args):
    t0 = time.monotonic()
    try:
        return fn(*args)
    finally:
        timings.append("%s %.1fs" % (name, time.monotonic() - t0))


# ------------------------------------------------------------ payloads

def json_payload(tag, i):
    return json.dumps({"tag": tag, "i": i, "user": "u-%d" % i,
                       "amount": round(rng.random() * 1000, 2),
                       "tags": ["kpl", "agg"], "ok": i % 2 == 0}).encode()


def user_payload(tag, i, style):
    k = i % 5 if style == "mixed" else {"json": 0, "bin": 4}[style]
    if k == 0:
        return json_payload(tag, i)
    if k == 1:
        return json.dumps({"i": i, "text": "ünïcödé ✓ %d" % i},
                          ensure_ascii=False, indent=2).encode()
    if k == 2:
        return ("plain text %d, not JSON" % i).encode()
    if k == 3:
        return b"" if i % 2 else b"\xff\xfe not utf-8 %d" % i
    return rng.randbytes(rng.randrange(1, 400))


def user_pk(g, i, style):
    if style == "shared":
        return ["k-red", "k-green", "k-blue"][i % 3]
    k = i % 5
    if k == 1:
        return "ключ-%d-%d" % (g, i)
    if k == 2:
        return 'q"uo\\te %d-%d' % (g, i)
    if k == 3:
        return "用户-%d-%d-" % (g, i) + "x" * 100
    return "g%d-pk-%d" % (g, i)


def make_group(g, n, style="mixed", pk_style="distinct", ehk=False):
    recs = []
    for i in range(n):
        e = str(2 ** 100 + i * 7919) if ehk and i % 3 == 0 else None
        recs.append((user_pk(g, i, pk_style), user_payload("g%d" % g, i,
                     style), e))
    return recs


def expand(put_rows, layout):
    """From the PutRecord results and the layout, the expected archive:
    want [(shard, seq, pk, data[, sub])] and the units in shard order
    [(seq, sub or None, data)]."""
    want, units = [], []
    for (shard, seq, pk, data), item in zip(put_rows, layout):
        if item[0] == "agg":
            a, recs = item[1], item[2]
            for j in range(a["n"]):
                upk, ud, _ = recs[a["start"] + j]
                want.append((shard, seq, upk, ud, j))
                units.append((seq, j, ud))
        else:
            want.append((shard, seq, pk, data))
            units.append((seq, None, data))
    return want, units


def build_layout(spec, groups, agg):
    """spec: [("plain", pk, data) | ("agg", g) | ("corrupt", pk, data)];
    returns [(item, outer pk, data)] with each aggregate of group g
    (aws-kinesis-agg may cut a group in several) its own item."""
    out = []
    for s in spec:
        if s[0] == "agg":
            g = s[1]
            for a in agg[g]:
                out.append((("agg", a, groups[g]), a["pk"], a["data"]))
        else:
            out.append(((s[0],), s[1], s[2]))
    return out


# -------------------------------------------------------------- 1. KPL

def test_kpl(moto, proxy):
    stream, bucket, prefix, maxrec, keep = "kpl", "kk-kpl", "kpl/", 7, 5
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    topic, queue = moto.create_topic_queue("kk-kpl", "kk-kpl-q")

    groups = [make_group(0, 3, "json"), make_group(1, 12),
              make_group(2, 50), make_group(3, 7, "json"),
              make_group(4, 20, "bin", ehk=True), make_group(5, 1),
              make_group(6, 10, "mixed", "shared"), make_group(7, 33),
              make_group(8, 5),                 # 8: to be corrupted
              make_group(9, 300, "json", ehk=True)]  # indexes > 127
    agg = kkf.kpl_aggregate(groups)
    good = all(kkf.kpl_md5_ok(a["data"]) for lst in agg for a in lst)
    ok(good and all(len(lst) == 1 for lst in agg),
       "kpl: aws-kinesis-agg made one valid aggregate per group (%d groups, "
       "%d user records)" % (len(groups), sum(len(g) for g in groups)),
       repr([len(lst) for lst in agg]))
    base = agg[8][0]["data"]
    flipped = kkf.corrupt_flip(base)
    truncated = kkf.corrupt_truncate(agg[3][0]["data"])
    badpb = kkf.bad_protobuf()
    ok(not kkf.kpl_md5_ok(flipped) and not kkf.kpl_md5_ok(truncated) and
       kkf.kpl_md5_ok(badpb), "kpl: corrupt fixtures: flipped byte and "
       "truncated fail the MD5, the broken protobuf has a valid one")

    spec = [("plain", "plain-json", json_payload("plain", 0)),
            ("agg", 0),
            ("plain", "plain-bin", rng.randbytes(64)),
            ("agg", 1),
            ("corrupt", "corrupt-flip", flipped),
            ("agg", 2),
            ("plain", "short-magic", kkf.KPL_MAGIC + b"abc"),
            ("agg", 3),
            ("corrupt", "corrupt-trunc", truncated),
            ("agg", 4),
            ("corrupt", "corrupt-pb", badpb),
            ("agg", 5),
            ("corrupt", "corrupt-empty", kkf.empty_aggregate()),
            ("agg", 6),
            ("plain", "plain-json-2", json_payload("plain", 1)),
            ("agg", 7),
            ("agg", 9)]
    layout = build_layout(spec, groups, agg)
    rows = kkf.put_each(moto, stream, [(pk, d) for _, pk, d in layout])
    want, units = expand(rows, [it for it, _, _ in layout])
    corrupt_seqs = {row[1]: row[2] for row, (it, _, _) in zip(rows, layout)
                    if it[0] == "corrupt"}
    diag("kpl: %d Kinesis records, %d archive units (user records, plain "
         "and corrupt)" % (len(rows), len(units)))

    # the keys this must give: one object per maxrec units
    exp_keys = set()
    for i in range(0, len(units), maxrec):
        seq, sub, _ = units[i]
        exp_keys.add("%s-%s-%s%s.jsonl.gz" % (stream, shard, seq,
                     "-%d" % sub if sub else ""))
    exp_sub = sum(1 for k in exp_keys if SUBKEY_RE.search(k))

    overrides = dict(BASE, **{
        "endpoints.s3": proxy.endpoint, "s3.prefix": prefix,
        "batch.max_records": maxrec, "batch.max_age": "3s",
        "local.keep": keep})
    with kk.Keeper(moto, stream, bucket, overrides=overrides,
                   topic_arn=topic, name="kpl") as keeper:
        keeper.start()
        have = kkf.wait_records(moto, bucket, len(units), 60, keeper)
        ok(have == len(units), "kpl: all %d units archived" % len(units),
           "x-amz-meta-records total %d" % have, *keeper.tail(15))
        rc = keeper.stop(40)
        ok(rc == 0, "kpl: SIGTERM: keeper exits 0", "exit %s" % rc)
        log = keeper.log()
        objs = moto.fetch_objects(bucket)
        kk.check_objects(objs, stream, prefix, moto.read_stream(stream),
                         "kpl")
        kk.assert_exactly_once(want, objs, "kpl")

        # sub: a JSON integer on de-aggregated lines only
        agg_seqs = {u[0] for u in units if u[1] is not None}
        bad = []
        for o in objs:
            for ln in o["lines"]:
                s = ln.get("sub")
                if ln.get("seq") in agg_seqs:
                    if not isinstance(s, int) or isinstance(s, bool):
                        bad.append("%s %s: sub %r" % (o["key"], ln.get("seq"),
                                                      s))
                elif "sub" in ln:
                    bad.append("%s %s: sub on a whole record"
                               % (o["key"], ln.get("seq")))
        ok(not bad, "kpl: \"sub\" is an integer on every de-aggregated "
           "line and absent elsewhere", *bad[:8])

        got_keys = {o["key"].rsplit("/", 1)[-1] for o in objs}
        ok(got_keys == exp_keys, "kpl: the objects are exactly the %d "
           "expected batches of %d, %d of them keyed -{seq}-{sub}"
           % (len(exp_keys), maxrec, exp_sub),
           "missing: %s" % sorted(exp_keys - got_keys)[:5],
           "unexpected: %s" % sorted(got_keys - exp_keys)[:5])

        # corrupt aggregates: whole, b64, outer pk, logged
        lines = {(ln.get("seq"), ln.get("sub")): ln
                 for o in objs for ln in o["lines"]}
        probs = []
        for seq, pk in corrupt_seqs.items():
            ln = lines.get((seq, None))
            if ln is None:
                probs.append("%s: no whole line" % seq)
                continue
            if ln.get("pk") != pk or "b64" not in ln or "data" in ln:
                probs.append("%s: %r" % (seq, sorted(ln)))
            if not any(re.search(r"\b%s\b" % seq, l) and "corrupt" in
                       l.lower() for l in log.splitlines()):
                probs.append("%s: not logged as a corrupt aggregate" % seq)
        ok(not probs, "kpl: each of the %d corrupt aggregates archived whole "
           "as b64 under its outer pk, and logged" % len(corrupt_seqs),
           *probs)
        notes = moto.drain_queue(queue)
        kk.check_notifications(notes, objs, objs, stream, bucket, None, "kpl")
        kk.check_state(keeper.state_dir, objs, keep, "kpl")
        ck = kkf.read_checkpoint(keeper.state_dir, shard) or {}
        ok(ck.get("seq") == units[-1][0] and "sub" not in ck,
           "kpl: the final checkpoint is the last record, complete (no sub)",
           "checkpoint %r" % ck)
        san = keeper.sanitizer_reports()
        ok(not san, "kpl: no sanitizer report", *san[:5])


# ------------------------------------------------------ 2. KPL + crash

def test_kpl_crash(moto, proxy):
    stream, bucket, prefix, maxrec = "kplcrash", "kk-kplcrash", "crash/", 7
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    sizes = [rng.randint(3, 50) for _ in range(24)]
    groups = [make_group(100 + g, n, "mixed") for g, n in enumerate(sizes)]
    agg = kkf.kpl_aggregate(groups)
    items = [(a["pk"], a["data"]) for lst in agg for a in lst]
    rows = kkf.put_each(moto, stream, items)
    want, units = [], []
    it = iter(rows)
    for g, lst in enumerate(agg):
        for a in lst:
            sh, seq, _, _ = next(it)
            for j in range(a["n"]):
                pk, d, _ = groups[g][a["start"] + j]
                want.append((sh, seq, pk, d, j))
                units.append((seq, j))
    diag("kplcrash: %d aggregates, %d user records" % (len(rows), len(want)))

    def sub_put(method, path):
        return (method == "PUT" and "?" not in path and
                path.startswith("/%s/" % bucket) and
                SUBKEY_RE.search(path) is not None)

    def key_of(req):
        return req["path"][len("/%s/" % bucket):]

    def puts_of(key):
        return [r for r in proxy.snapshot() if r["method"] == "PUT" and
                r["path"] == "/%s/%s" % (bucket, key)]

    tmp = tempfile.mkdtemp(prefix="kk-formats-crash-")
    overrides = dict(BASE, **{
        "endpoints.s3": proxy.endpoint, "s3.prefix": prefix,
        "batch.max_records": maxrec, "batch.max_age": "3s",
        "local.keep": 3})
    try:
        with kk.Keeper(moto, stream, bucket, overrides=overrides, tmp=tmp,
                       name="crash1") as k1:
            state = k1.state_dir
            h1 = proxy.hold(sub_put, nth=3, after=True)
            k1.start()
            held = h1.wait_held(45)
            ok(held and h1.status == 200, "kplcrash: crash point 1: moto "
               "stored the 3rd batch that starts inside an aggregate; its "
               "answer is held", "held %s, status %s" % (held, h1.status),
               *k1.tail(10))
            if not held:
                return
            key1 = key_of(h1.request)
            m = SUBKEY_RE.search(key1)
            ck = kkf.read_checkpoint(state, shard) or {}
            ok(ck.get("seq") == m.group(1) and
               ck.get("sub") == int(m.group(2)) - 1,
               "kplcrash: meanwhile the checkpoint is the previous batch's "
               "end inside the same aggregate (seq %s, sub %d)"
               % (m.group(1), int(m.group(2)) - 1), "checkpoint %r" % ck)
            first = moto.s3.get_object(Bucket=bucket, Key=key1)["Body"].read()
            # the next hold is armed before the restarted worker can pass it
            h2 = proxy.hold(sub_put, nth=6, after=False)
            killed = kkf.kill_workers(k1)
            h1.release(drop=True)
            ok(len(killed) == 1, "kplcrash: worker %s SIGKILLed" % killed)
            # SPEC 7: the re-read batch meets its key (412) and adopts
            again = kk.wait_until(lambda: any(r["status"] == 412 for r in
                                              puts_of(key1)[1:]) and
                                  key1 in kk.adopted_keys(k1.log()), 30, 0.1)
            ok(again, "kplcrash: the restarted worker re-read the batch, met "
               "its key %s (412) and adopted the object" % key1,
               *k1.tail(10))
            second = moto.s3.get_object(Bucket=bucket,
                                        Key=key1)["Body"].read()
            ok(first == second and not any(r["status"] == 200 for r in
                                           puts_of(key1)[1:]),
               "kplcrash: the adopted object was never rewritten")

            held2 = h2.wait_held(45)
            ok(held2, "kplcrash: crash point 2: a later batch starting "
               "inside an aggregate is on its way to S3 (held)",
               *k1.tail(10))
            if not held2:
                return
            key2 = key_of(h2.request)
            m2 = SUBKEY_RE.search(key2)
            ck = kkf.read_checkpoint(state, shard) or {}
            ok(ck.get("seq") == m2.group(1) and
               ck.get("sub") == int(m2.group(2)) - 1,
               "kplcrash: checkpoint at crash point 2 is (seq %s, sub %d)"
               % (m2.group(1), int(m2.group(2)) - 1), "checkpoint %r" % ck)
            # the worker first, then at once the supervisor: nothing flushes
            pids = kkf.worker_pids(k1)
            for pid in pids:
                kk.kill_pid(pid)
            k1.kill9()
            gone = kk.wait_until(lambda: not any(kkf.alive(p) for p in pids)
                                 and not k1.running(), 10, 0.05)
            h2.release(drop=True)
            kk.reap_orphans()
            ok(gone, "kplcrash: worker %s and supervisor SIGKILLed" % pids,
               repr([p for p in pids if kkf.alive(p)]))
            try:
                moto.s3.head_object(Bucket=bucket, Key=key2)
                absent = False
            except Exception:
                absent = True
            ok(absent, "kplcrash: the batch of crash point 2 never reached S3")

            with kk.Keeper(moto, stream, bucket, overrides=overrides,
                           tmp=tmp, name="crash2") as k2:
                k2.start()
                have = kkf.wait_records(moto, bucket, len(want), 60, k2)
                ok(have == len(want), "kplcrash: a new keeper on the same "
                   "state_dir archives the rest (%d of %d user records)"
                   % (have, len(want)), *k2.tail(10))
                rc = k2.stop(40)
                ok(rc == 0, "kplcrash: second keeper exits 0 on SIGTERM",
                   "exit %s" % rc)
                ok(any(r["status"] == 200 for r in puts_of(key2)),
                   "kplcrash: the batch lost at crash point 2 written "
                   "under its key %s after the restart" % key2)
                objs = moto.fetch_objects(bucket)
                kk.check_objects(objs, stream, prefix,
                                 moto.read_stream(stream), "kplcrash")
                kk.assert_exactly_once(want, objs, "kplcrash")
                nsub = sum(1 for o in objs if SUBKEY_RE.search(o["key"]))
                ok(nsub >= 2, "kplcrash: %d of %d objects start inside an "
                   "aggregate" % (nsub, len(objs)))
                san = k1.sanitizer_reports() + k2.sanitizer_reports()
                ok(not san, "kplcrash: no sanitizer report", *san[:5])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def archive_keys(moto, bucket):
    return [o["key"] for o in moto.fetch_objects(bucket)]


def test_kpl_empty_read(moto, proxy):
    """A worker resumes inside an aggregate (checkpoint with a sub) and its
    first GetRecords comes back empty, as Kinesis may answer even when
    records follow: the records archived before must not come again."""
    stream, bucket, prefix, maxrec = "kplgap", "kk-kplgap", "gap/", 7
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    groups = [make_group(200 + g, 20, "json") for g in range(4)]
    agg = kkf.kpl_aggregate(groups)
    # a plain record first: batches do not line up with the aggregates,
    # so re-reading an aggregate from sub 0 cannot just rewrite old keys
    rows = kkf.put_each(moto, stream, [("plain-0", json_payload("gap", 0))] +
                        [(a["pk"], a["data"]) for lst in agg for a in lst])
    want = [rows[0]]
    it = iter(rows[1:])
    for g, lst in enumerate(agg):
        for a in lst:
            sh, seq, _, _ = next(it)
            want += [(sh, seq) + groups[g][a["start"] + j][:2] + (j,)
                     for j in range(a["n"])]

    def sub_put(method, path):
        return (method == "PUT" and "?" not in path and
                path.startswith("/%s/" % bucket) and
                SUBKEY_RE.search(path) is not None)

    overrides = dict(BASE, **{
        "endpoints.s3": proxy.endpoint, "endpoints.kinesis": proxy.endpoint,
        "s3.prefix": prefix, "batch.max_records": maxrec,
        "batch.max_age": "3s", "local.keep": 1})
    with kk.Keeper(moto, stream, bucket, overrides=overrides,
                   name="kplgap") as k:
        hold = proxy.hold(sub_put, nth=2)
        k.start()
        held = hold.wait_held(45)
        ck = kkf.read_checkpoint(k.state_dir, shard) or {}
        ok(held and "sub" in ck, "kplgap: a batch starting inside an "
           "aggregate is on its way, the checkpoint is inside it (%r)" % ck,
           *k.tail(8))
        if not held:
            return
        fake = proxy.fake(lambda m, p, h, b: kkf.kinesis_op(h) ==
                          "GetRecords", kkf.empty_get_records)
        killed = kkf.kill_workers(k)
        hold.release(drop=True)
        ok(len(killed) == 1 and fake.done.wait(30), "kplgap: worker "
           "SIGKILLed; the restarted worker's first GetRecords (after the "
           "checkpoint's AT_SEQUENCE_NUMBER iterator) answered with no "
           "records",
           *k.tail(8))
        last = rows[-1][1]
        done = kk.wait_until(lambda: (kkf.read_checkpoint(
            k.state_dir, shard) or {}).get("seq") == last and "sub" not in
            (kkf.read_checkpoint(k.state_dir, shard) or {}), 45, 0.2)
        ok(done, "kplgap: the worker reached the end of the stream",
           *k.tail(8))
        rc = k.stop(40)
        ok(rc == 0, "kplgap: keeper exits 0 on SIGTERM", "exit %s" % rc)
        objs = moto.fetch_objects(bucket)
        kk.check_objects(objs, stream, prefix, None, "kplgap")
        if not kk.assert_exactly_once(want, objs, "kplgap"):
            diag("kplgap: the checkpoint said seq %s sub %s; after the empty "
                 "answer the worker archived that aggregate again from sub 0"
                 % (ck.get("seq"), ck.get("sub")),
                 "keys: %s" % sorted(o["key"].rsplit("/", 1)[-1]
                                     for o in objs))


# ------------------------------------------ 3 + 5. formats and storage

def raw_payloads(n):
    out = []
    for i in range(n):
        k = i % 4
        if k == 0:
            p = json_payload("raw", i)
        elif k == 1:
            p = ("raw text line %d\tkey=value é ✓" % i).encode()
        elif k == 2:
            p = rng.randbytes(rng.randrange(1, 300)).replace(b"\n", b"N")
        else:
            p = b"" if i % 8 == 3 else b"\x00\x01\x02 %d \r" % i
        out.append(p)
    return out


def compressible(n):
    levels = ["info", "warn", "error", "debug"]
    return [json.dumps({"ts": 1700000000 + i, "level": levels[i % 4],
                        "host": "web-%02d" % (i % 16),
                        "path": "/api/v1/orders/%d" % (i * 7 % 1000),
                        "status": [200, 200, 200, 404, 500][i % 5],
                        "latency_ms": (i * 37) % 900,
                        "msg": "request served " * (1 + i % 3)}).encode()
            for i in range(n)]


def check_raw(moto, label, stream, bucket, prefix, ext, gz, units,
              queue=None):
    objs = moto.fetch_objects(bucket)
    kkf.check_format_objects(objs, stream, prefix, ext, gz, False, label)
    index = {}
    for i, (seq, sub, _) in enumerate(units):
        index.setdefault((seq, sub or 0), i)
    covered = [0] * len(units)
    probs, lines = [], []
    for o in sorted(objs, key=lambda o: kk._pos(o.get("key_seq"),
                                                o.get("sub"))):
        start = index.get((o.get("key_seq"), o.get("sub") or 0))
        try:
            n = int(o["metadata"].get("records"))
        except (TypeError, ValueError):
            n = -1
        if start is None or n <= 0 or start + n > len(units):
            probs.append("%s: start %s, records %s" % (o["key"], start, n))
            continue
        part = units[start:start + n]
        exp = b"".join(d + b"\n" for _, _, d in part)
        if o["raw"] != exp:
            probs.append("%s: %d bytes, expected %d (records %d..%d)"
                         % (o["key"], len(o["raw"]), len(exp), start,
                            start + n - 1))
        if o["metadata"].get("last-seq") != part[-1][0]:
            probs.append("%s: x-amz-meta-last-seq %r, want %s"
                         % (o["key"], o["metadata"].get("last-seq"),
                            part[-1][0]))
        for i in range(start, start + n):
            covered[i] += 1
        extra_nl = sum(d.count(b"\n") for _, _, d in part)
        lines.append((o, n, o["raw"].count(b"\n"), extra_nl))
    ok(not probs, "%s: each object is its records' payloads, byte for byte, "
       "each followed by \\n, in shard order" % label, *probs[:8])
    miss = [i for i, c in enumerate(covered) if c == 0]
    dup = [i for i, c in enumerate(covered) if c > 1]
    ok(not miss and not dup, "%s: every record (%d, de-aggregated ones "
       "included) in exactly one object" % (label, len(units)),
       "missing %s, twice %s" % (miss[:10], dup[:10]))
    plain = [(o["key"], n, c) for o, n, c, x in lines if x == 0 and c != n]
    ok(not plain, "%s: one line per record where no payload holds a "
       "newline (wc -l == x-amz-meta-records)" % label, *plain[:5])
    nl = [(o, n, c, x) for o, n, c, x in lines if x]
    for o, n, c, x in nl:
        diag("%s: %s holds the payload with an embedded newline: %d records, "
             "%d lines (raw cannot delimit it; x-amz-meta-records stays %d)"
             % (label, o["key"].rsplit("/", 1)[-1], n, c, n))
    ok(len(nl) == 1 and all(c == n + x for _, n, c, x in nl),
       "%s: a payload with an embedded \\n is stored as is (one more line "
       "than records in its object)" % label)
    agg_start = [o["key"] for o in objs if o.get("sub")]
    ok(len(agg_start) == 1, "%s: the batch starting inside the aggregate is "
       "keyed -{seq}-{sub}" % label, repr([o["key"] for o in objs]))
    if queue is not None:
        notes = moto.drain_queue(queue)
        by_key = {}
        for n in notes:
            m = n["message"] if isinstance(n["message"], dict) else {}
            by_key.setdefault(m.get("key"), []).append(m)
        probs = []
        for o in objs:
            got = by_key.pop(o["key"], [])
            md = o["metadata"]
            exp = {"records": int(md.get("records", -1)),
                   "stored_bytes": len(o["body"]),
                   "sha256": hashlib.sha256(o["body"]).hexdigest(),
                   "first_seq": md.get("first-seq"),
                   "last_seq": md.get("last-seq"), "stream": stream,
                   "uri": "s3://%s/%s" % (bucket, o["key"])}
            if len(got) != 1:
                probs.append("%s: %d notifications" % (o["key"], len(got)))
                continue
            probs += ["%s: %s = %r, want %r" % (o["key"], f, got[0].get(f), v)
                      for f, v in exp.items() if got[0].get(f) != v]
        probs += ["notification for unknown key %r" % k for k in by_key]
        ok(not probs, "%s: one notification per object, fields match the "
           "object (%d notifications)" % (label, len(notes)), *probs[:8])
    return objs


def check_storage_headers(moto, proxy, label, bucket, objs, cls, sse,
                          kms=None):
    probs = []
    for o in objs:
        h = moto.s3.head_object(Bucket=bucket, Key=o["key"])
        got = (h.get("StorageClass") or "STANDARD",
               h.get("ServerSideEncryption"), h.get("SSEKMSKeyId"))
        if got != (cls, sse, kms):
            probs.append("%s: HeadObject says class %s, sse %s, kms %s"
                         % (o["key"], *got))
    reqs = [r for r in proxy.snapshot() if r["path"].startswith(
            "/%s/" % bucket) and (r["method"] == "PUT" and "?" not in
                                  r["path"] or "?uploads" in r["path"])]
    for r in reqs:
        hd = r["headers"]
        if hd.get("x-amz-storage-class", "STANDARD") != cls or \
                hd.get("x-amz-server-side-encryption") != sse or \
                hd.get("x-amz-server-side-encryption-aws-kms-key-id") != kms:
            probs.append("%s %s: sent class %s, sse %s, kms %s" % (
                r["method"], r["path"][:80], hd.get("x-amz-storage-class"),
                hd.get("x-amz-server-side-encryption"),
                hd.get("x-amz-server-side-encryption-aws-kms-key-id")))
    ok(objs and reqs and not probs, "%s: storage class %s, SSE %s%s sent and "
       "reported by HeadObject (%d objects)" % (label, cls, sse,
       " with key id" if kms else "", len(objs)), *probs[:6])


def test_formats(moto, proxy):
    cfgs = {
        # name: (overrides, ext, gzip?, jsonl?)
        "rawgz": ({"format.type": "raw"}, "raw.gz", True, False),
        "rawnone": ({"format.type": "raw", "format.compression": "none"},
                    "raw", False, False),
        "nocomp": ({"format.compression": "none"}, "jsonl", False, True),
        "lvl1": ({"format.level": 1}, "jsonl.gz", True, True),
        "lvl6": ({}, "jsonl.gz", True, True),
        "lvl9": ({"format.level": 9}, "jsonl.gz", True, True),
        "opts": ({"s3.storage_class": "STANDARD_IA", "s3.sse": "AES256"},
                 "jsonl.gz", True, True),
        "kms": ({"s3.sse": "aws:kms", "s3.kms_key_id": KMS_KEY},
                "jsonl.gz", True, True),
        "noagg": ({"format.deaggregate": False}, "jsonl.gz", True, True),
    }
    for name in cfgs:
        moto.create_stream(name, 1)
        moto.create_bucket("kk-" + name)

    # raw: plain records, one aggregate (de-aggregated into raw lines)
    # and, last, a payload holding a newline
    rawp = raw_payloads(70)
    group = [("raw-agg-%d" % i, p, None) for i, p in
             enumerate(raw_payloads(6))]
    ragg = kkf.kpl_aggregate([group])[0]
    # units 22..27: a batch of 25 starts inside the aggregate (key -3)
    raw_items = [("r-%d" % i, p) for i, p in enumerate(rawp[:22])]
    raw_items += [(a["pk"], a["data"]) for a in ragg]
    raw_items += [("r-%d" % i, p) for i, p in enumerate(rawp[22:], 22)]
    raw_items.append(("r-nl", b"first line\nsecond line"))
    raw_units = {}
    for name in ("rawgz", "rawnone"):
        rows = moto.put_records(name, raw_items)
        units = []
        for sh, seq, pk, d in rows:
            if d[:4] == kkf.KPL_MAGIC:
                units += [(seq, j, group[j][1]) for j in range(len(group))]
            else:
                units.append((seq, None, d))
        raw_units[name] = units
    comp = compressible(1500)
    comp_put = {}
    for name in ("nocomp", "lvl1", "lvl6", "lvl9"):
        comp_put[name] = moto.put_records(
            name, [("pk-%d" % (i % 50), p) for i, p in enumerate(comp)])
    for name in ("opts", "kms"):
        comp_put[name] = moto.put_records(
            name, [("o-%d" % i, json_payload(name, i)) for i in range(30)])
    # deaggregate = false: aggregates (good or corrupt) archived whole
    nagg = kkf.kpl_aggregate([make_group(50, 5)])[0][0]["data"]
    comp_put["noagg"] = moto.put_records("noagg", [
        ("n-0", json_payload("noagg", 0)), ("n-agg", nagg),
        ("n-bad", kkf.corrupt_flip(nagg)), ("n-3", rng.randbytes(40))])
    rawtopic, rawqueue = moto.create_topic_queue("kk-rawgz", "kk-rawgz-q")

    ks = []
    for name, (ov, _, _, _) in cfgs.items():
        o = dict(BASE, **{"endpoints.s3": proxy.endpoint,
                          "s3.prefix": name + "/", "batch.max_age": "1s",
                          "batch.max_records": 25 if name.startswith("raw")
                          else 500, "local.keep": 2})
        o.update(ov)
        ks.append(kk.Keeper(moto, name, "kk-" + name, overrides=o,
                            name=name, topic_arn=rawtopic
                            if name == "rawgz" else None))
    with kkf.keepers(*ks) as ks:
        for k in ks:
            k.start()
        for k, name in zip(ks, cfgs):
            n = len(raw_units[name]) if name in raw_units else \
                len(comp_put[name])
            have = kkf.wait_records(moto, "kk-" + name, n, 45, k)
            ok(have == n, "%s: all %d records archived" % (name, n),
               "x-amz-meta-records total %d" % have, *k.tail(8))
        for k, name in zip(ks, cfgs):
            rc = k.stop(40)
            ok(rc == 0, "%s: keeper exits 0 on SIGTERM" % name, "exit %s" % rc)

        objs = {}
        for name in ("rawgz", "rawnone"):
            _, ext, gz, _ = cfgs[name]
            objs[name] = check_raw(moto, name, name, "kk-" + name, name + "/",
                                   ext, gz, raw_units[name],
                                   rawqueue if name == "rawgz" else None)
        o = moto.fetch_objects("kk-nocomp")
        kkf.check_format_objects(o, "nocomp", "nocomp/", "jsonl", False, True,
                                 "nocomp")
        kk.assert_exactly_once(comp_put["nocomp"], o, "nocomp")
        objs["nocomp"] = o
        for name in ("lvl1", "lvl6", "lvl9", "opts", "kms", "noagg"):
            o = moto.fetch_objects("kk-" + name)
            kk.check_objects(o, name, name + "/", None, name)
            kk.assert_exactly_once(comp_put[name], o, name)
            objs[name] = o

        subs = [ln for o in objs["noagg"] for ln in o["lines"] if "sub" in ln]
        nk = ks[list(cfgs).index("noagg")]
        logged = [l for l in nk.log().splitlines() if "corrupt" in l.lower()]
        ok(not subs and not logged, "noagg: deaggregate = false archives "
           "aggregates whole (no sub lines, nothing called corrupt)",
           *(subs[:3] + logged[:3]))

        # gzip header XFL (RFC 1952): 2 = maximum compression, 4 = fastest
        xfl = {n: sorted({o["body"][8] for o in objs[n]
                          if len(o["body"]) > 9})
               for n in ("lvl1", "lvl6", "lvl9")}
        ok(xfl == {"lvl1": [4], "lvl6": [0], "lvl9": [2]},
           "levels: the gzip header's XFL says fastest for level 1, "
           "maximum for level 9", repr(xfl))
        size = {n: (sum(len(o["body"]) for o in objs[n]),
                    sum(len(o["raw"]) for o in objs[n]))
                for n in ("nocomp", "lvl1", "lvl6", "lvl9")}
        for n, (st, raw) in size.items():
            diag("sizes: %-6s stored %8d bytes for %8d bytes of jsonl "
                 "(%.1f%%)" % (n, st, raw, 100.0 * st / max(raw, 1)))
        for n in ("rawgz", "rawnone"):
            st = sum(len(o["body"]) for o in objs[n])
            raw = sum(len(o["raw"]) for o in objs[n])
            diag("sizes: %-7s stored %7d bytes for %7d bytes of raw payloads "
                 "(%.1f%%)" % (n, st, raw, 100.0 * st / max(raw, 1)))
        r1 = size["lvl1"][0] / max(size["lvl1"][1], 1)
        r9 = size["lvl9"][0] / max(size["lvl9"][1], 1)
        ok(r9 <= r1 and size["lvl1"][0] < size["nocomp"][0] / 3,
           "levels: level 9 stores no more than level 1 (%.2f%% vs %.2f%% "
           "of the jsonl), both far below compression none" % (100 * r9,
                                                               100 * r1))
        ok(size["nocomp"][0] == size["nocomp"][1],
           "nocomp: objects are the jsonl itself")

        check_storage_headers(moto, proxy, "opts", "kk-opts", objs["opts"],
                              "STANDARD_IA", "AES256")
        check_storage_headers(moto, proxy, "kms", "kk-kms", objs["kms"],
                              "STANDARD", "aws:kms", KMS_KEY)
        check_storage_headers(moto, proxy, "lvl6", "kk-lvl6", objs["lvl6"],
                              "STANDARD", None)
        san = [l for k in ks for l in k.sanitizer_reports()]
        ok(not san, "formats: no sanitizer report", *san[:5])


# ---------------------------------------------------------- 4. multipart

def check_multipart_object(moto, proxy, label, bucket, stream, put, part):
    objs = moto.fetch_objects(bucket)
    kk.check_objects(objs, stream, stream + "/", None, label)
    kk.assert_exactly_once(put, objs, label)
    probs = []
    for o in objs:
        n = -(-len(o["body"]) // part)
        if not (o["etag"] or "").strip('"').endswith("-%d" % n):
            probs.append("%s: %d bytes, ETag %s, want a -%d suffix"
                         % (o["key"], len(o["body"]), o["etag"], n))
        if o["metadata"].get("sha256") != \
                hashlib.sha256(o["body"]).hexdigest():
            probs.append("%s: x-amz-meta-sha256 is not the object's"
                         % o["key"])
    ok(len(objs) == 1 and not probs, "%s: one %.1f MB object uploaded in "
       "%d-byte parts (ETag %s), x-amz-meta-sha256 matches" % (
           label, len(objs[0]["body"]) / 1e6 if objs else 0, part,
           objs[0]["etag"] if objs else None), *probs)
    parts = [r for r in proxy.snapshot() if r["method"] == "PUT" and
             r["path"].startswith("/%s/" % bucket) and "partNumber=" in
             r["path"] and r["status"] == 200]
    if objs:
        total = len(objs[0]["body"])
        want = [part] * (total // part) + ([total % part] if total % part
                                           else [])
        # the parts of the completed upload: the last upload id seen
        ids = [re.search(r"uploadId=([^&]+)", r["path"]).group(1)
               for r in parts]
        last = [r for r in parts if ids and ids[-1] in r["path"]]
        got = [r["len"] for r in last]
        ok(got == want, "%s: parts of %s bytes" % (label, want),
           "sent %s" % got)
    bad = kkf.md5_problems([r for r in proxy.snapshot()
                            if r["path"].startswith("/%s/" % bucket)])
    ok(parts and not bad, "%s: every part carries a correct Content-MD5 "
       "(%d parts sent)" % (label, len(parts)), *bad[:5])
    left = kkf.multipart_uploads(moto, bucket)
    ok(not left, "%s: ListMultipartUploads is empty" % label, repr(left))
    return objs


def test_multipart(moto, proxy):
    part = 5 * 1024 * 1024
    puts, ks = {}, []
    nrec = {"mpclean": 15, "mpkill": 15, "mpsmall": 3}
    for name in ("mpclean", "mpkill", "mpsmall"):
        moto.create_stream(name, 1)
        moto.create_bucket("kk-" + name)
        puts[name] = moto.put_records(name, [("mp-%d" % i, os.urandom(
            900 * 1024)) for i in range(nrec[name])])
        o = dict(BASE, **{"endpoints.s3": proxy.endpoint,
                          "s3.prefix": name + "/",
                          "s3.multipart_threshold": "1M",
                          "s3.part_size": "5M",
                          "batch.max_records": nrec[name],
                          "batch.max_age": "120s",
                          "read.bytes_per_second": "100M", "local.keep": 1})
        if name == "mpclean":
            o.update({"s3.storage_class": "STANDARD_IA", "s3.sse": "AES256"})
        ks.append(kk.Keeper(moto, name, "kk-" + name, overrides=o, name=name))

    hold = proxy.hold(lambda m, p: m == "PUT" and p.startswith(
        "/kk-mpkill/") and "partNumber=2&" in p + "&")
    with kkf.keepers(*ks) as (kc, kx, ksm):
        kc.start()
        kx.start()
        ksm.start()
        held = hold.wait_held(60)
        ok(held, "mpkill: part 2 of the first multipart upload is on its way "
           "(held)", *kx.tail(10))
        if held:
            uid = re.search(r"uploadId=([^&]+)", hold.request["path"]).group(1)
            shard = "shardId-000000000000"
            upath = os.path.join(kx.state_dir, "uploads", shard)
            try:
                with open(upath) as f:
                    recorded = f.read()
            except OSError as e:
                recorded = str(e)
            ok(recorded.split("\n")[0] == uid,
               "mpkill: the running upload id is recorded in "
               "{state_dir}/uploads/%s" % shard, "file: %.200r" % recorded)
            live = kkf.multipart_uploads(moto, "kk-mpkill")
            ok(len(live) == 1, "mpkill: S3 lists the upload in progress",
               repr(live))
            # crash point 2: moto completed the next upload, the answer
            # is held (the checkpoint has not moved)
            hold2 = proxy.hold(lambda m, p: m == "POST" and p.startswith(
                "/kk-mpkill/") and "uploadId=" in p, after=True)
            killed = kkf.kill_workers(kx)
            hold.release(drop=True)
            ok(len(killed) == 1, "mpkill: worker %s SIGKILLed mid-upload"
               % killed)
            held2 = hold2.wait_held(60)
            ok(held2 and hold2.status == 200, "mpkill: crash point 2: the "
               "restarted worker's upload is completed in S3, the answer "
               "held", "held %s, status %s" % (held2, hold2.status),
               *kx.tail(10))
            if held2:
                uid2 = re.search(r"uploadId=([^&]+)",
                                 hold2.request["path"]).group(1)
                try:
                    with open(upath) as f:
                        recorded = f.read()
                except OSError as e:
                    recorded = str(e)
                ok(recorded.split("\n")[0] == uid2 and uid2 != uid,
                   "mpkill: the new upload id is recorded until the "
                   "worker has seen the upload completed",
                   "file: %.200r" % recorded)
                killed = kkf.kill_workers(kx)
                hold2.release(drop=True)
                ok(len(killed) == 1, "mpkill: worker %s SIGKILLed after "
                   "CompleteMultipartUpload" % killed)
                # the object is already there: wait for the checkpoint
                ckd = kk.wait_until(lambda: (kkf.read_checkpoint(
                    kx.state_dir, shard) or {}).get("seq") ==
                    puts["mpkill"][-1][1], 60, 0.2)
                ok(ckd, "mpkill: the restarted worker archived the batch "
                   "again and moved its checkpoint", *kx.tail(8))
        allk = ((kc, "mpclean"), (kx, "mpkill"), (ksm, "mpsmall"))
        for k, name in allk:
            have = kkf.wait_records(moto, "kk-" + name, nrec[name], 60, k)
            ok(have == nrec[name], "%s: the %d records archived"
               % (name, nrec[name]), "x-amz-meta-records %d" % have,
               *k.tail(8))
        for k, name in allk:
            rc = k.stop(40)
            ok(rc == 0, "%s: keeper exits 0 on SIGTERM" % name, "exit %s" % rc)
        clean = check_multipart_object(moto, proxy, "mpclean", "kk-mpclean",
                                       "mpclean", puts["mpclean"], part)
        check_storage_headers(moto, proxy, "mpclean (multipart)",
                              "kk-mpclean", clean, "STANDARD_IA", "AES256")
        check_multipart_object(moto, proxy, "mpkill", "kk-mpkill", "mpkill",
                               puts["mpkill"], part)
        check_multipart_object(moto, proxy, "mpsmall", "kk-mpsmall",
                               "mpsmall", puts["mpsmall"], part)
        if held:
            aborted = [r for r in proxy.snapshot() if r["method"] == "DELETE"
                       and "uploadId=%s" % uid in r["path"]]
            ok(aborted and "aborting the multipart upload" in kx.log(),
               "mpkill: the restarted worker aborted the recorded upload "
               "(and said so)", "DELETE requests: %d" % len(aborted))
            completes = [r for r in proxy.snapshot() if r["method"] == "POST"
                         and r["path"].startswith("/kk-mpkill/") and
                         "uploadId=" in r["path"] and r["status"] == 200]
            aborts = [r["status"] for r in proxy.snapshot()
                      if r["method"] == "DELETE" and
                      r["path"].startswith("/kk-mpkill/")]
            diag("mpkill: %d completed uploads, aborts answered %s"
                 % (len(completes), aborts))
            key = archive_keys(moto, "kk-mpkill")
            heads = [r for r in proxy.snapshot() if r["method"] == "HEAD"
                     and r["path"].startswith("/kk-mpkill/") and
                     r["status"] == 200]
            # SPEC 7: the object is there: adopted, never uploaded again
            ok(len(completes) == 1 and aborts == [204, 404] and heads and
               set(key) <= kk.adopted_keys(kx.log()),
               "mpkill: after crash point 2 the stale (completed) upload id "
               "is cleared and the object found (HeadObject) and adopted, "
               "not uploaded again",
               "completes %d, aborts %s, HEADs %d, keys %s, adopted %s"
               % (len(completes), aborts, len(heads), key,
                  kk.adopted_keys(kx.log())))
        for k, name in allk:
            d = os.path.join(k.state_dir, "uploads")
            left = os.listdir(d) if os.path.isdir(d) else []
            ok(not left, "%s: no upload id left in {state_dir}/uploads"
               % name, repr(left))
        san = [l for k, _ in allk for l in k.sanitizer_reports()]
        ok(not san, "multipart: no sanitizer report", *san[:5])


# ----------------------------------------------------------------- main

def scenario():
    kk.become_subreaper()
    t0 = time.monotonic()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return
    if not kkf.have_kpl_agg() or shutil.which("node") is None:
        ok(False, "node and aws-kinesis-agg are installed (tests/setup.sh)",
           "looked in %s" % kkf.node_path())
        return
    with kk.Moto() as moto:
        moto.check_auth()
        with kkf.StallProxy(moto.port) as proxy:
            timed("kpl", test_kpl, moto, proxy)
            timed("kplcrash", test_kpl_crash, moto, proxy)
            timed("kplgap", test_kpl_empty_read, moto, proxy)
            timed("formats", test_formats, moto, proxy)
            timed("multipart", test_multipart, moto, proxy)
            bad = kkf.md5_problems(proxy.snapshot())
            ok(not bad, "all S3 PUTs carried a correct Content-MD5 (%d "
               "requests)" % len(proxy.snapshot()), *bad[:5])
    diag("timings: " + ", ".join(timings) +
         ", total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
