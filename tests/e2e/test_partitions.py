#!/usr/bin/env python3
"""
test_partitions.py: partitioned keys (issue 16) end to end. A proxy in
front of moto's Kinesis rewrites each record's ApproximateArrivalTimestamp
(moto stamps the wall clock), so one batch can straddle an hour.

1. The hour boundary (moto with SigV4 on, the default hourly key): records
   at 17:59:58..17:59:59.999 and 18:00:00.000.. in one batch become two
   objects, each record in its own hour's object, each key named after its
   own first record; one flush line and one SNS notification per object.
2. {json:PATH} (moto with SigV4 on): nested members, missing members, null,
   objects, non-JSON and binary payloads (all "_missing"), unsafe
   characters made safe ([A-Za-z0-9._-] kept, every other byte "_"),
   numbers and booleans as written; every object holds one partition; then
   batch.max_partitions = 3 with 8 partitions interleaved: nothing lost,
   the cap logged, every object still one partition.
3. Crash and re-read: the worker SIGKILLed while the second object of a
   split batch is on its way to S3 (the first is stored, the checkpoint
   has not moved); a new keeper re-reads: the same keys, the first object
   byte for byte what it was (adopted, never written again: a versioned
   bucket holds one version per key), every record once; and again with a
   new keeper whose batches end elsewhere (45 records, not 60): it reads
   the first run's batch again exactly, once.
4. Hive-style keys (moto without SigV4: with it, moto refuses "=" in keys):
   dt={yyyy}-{mm}-{dd}/hr={hh}/ over three hours in gzip and zstd, and
   kind={json:kind}/; gzip -t / zstd -t pass, DuckDB reads them with
   hive_partitioning and counts each partition right.
"""

import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_formats as kkf  # noqa: E402
import kk_readers as kkr  # noqa: E402
from kk import ok, diag  # noqa: E402

BASE = {
    "read.interval": "200ms",
    "workers.restart_min": "300ms",
    "workers.shutdown_timeout": "20s",
}
HOUR17 = 1795798800000                 # 2026-11-27T17:00:00Z, epoch ms
HOUR18 = 1795802400000                 # 2026-11-27T18:00:00Z
SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
           b"0123456789._-")
MISSING = "_missing"


class TimeShiftProxy(kk.LoopbackServer):
    """Forwards to moto (headers as they are, so SigV4 holds) and rewrites
    ApproximateArrivalTimestamp in GetRecords answers: stamp(seq) gives
    epoch ms for a sequence number, or None to leave it."""

    def __init__(self, target_port, stamp):
        self.target_port = target_port
        self.stamp = stamp
        self.rewritten = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding",
                                             "connection")}
                hdrs["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(
                    "127.0.0.1", proxy.target_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body,
                                 headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                    target = self.headers.get("X-Amz-Target", "")
                    if r.status == 200 and target.endswith(".GetRecords"):
                        data = proxy._rewrite(data)
                    self.send_response(r.status, r.reason)
                    for k, v in r.getheaders():
                        if k.lower() not in ("transfer-encoding",
                                             "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self._serve(Handler)

    def _rewrite(self, data):
        doc = json.loads(data)
        for rec in doc.get("Records", []):
            ms = self.stamp(rec["SequenceNumber"])
            if ms is not None:
                rec["ApproximateArrivalTimestamp"] = ms / 1000.0
                with self.lock:
                    self.rewritten += 1
        return json.dumps(doc).encode()


def hour_of(ms):
    return time.strftime("%Y/%m/%d/%H", time.gmtime(ms // 1000))


def part_value(payload, path):
    """The documented {json:PATH} value of a payload (kinesis-keeper.conf(5))."""
    try:
        v = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return MISSING
    for name in path.split("."):
        if not isinstance(v, dict) or name not in v:
            return MISSING
        v = v[name]
    if v is None or isinstance(v, (dict, list)):
        return MISSING
    if isinstance(v, bool):
        s = b"true" if v else b"false"
    elif isinstance(v, str):
        s = v.encode("utf-8")
    else:
        s = json.dumps(v).encode()
    s = s[:64]
    out = "".join(chr(c) if c in SAFE else "_" for c in s)
    if out == "":
        return "_empty"
    if set(out) == {"."}:
        return "_" * len(out)
    return out


def decode_all(objs, ext="jsonl.gz"):
    for o in objs:
        if ext.endswith(".zst"):
            o["raw"] = kkr.zstd_decompress(o["body"])
        else:
            o["raw"] = kkr.gzip.decompress(o["body"])
        o["lines"] = [json.loads(x) for x in o["raw"].decode().splitlines()]
        m = re.search(r"(shardId-\d+)-(\d+)\.", o["key"])
        o["shard"] = m.group(1) if m else None
        o["seq"] = m.group(2) if m else None
    return objs


def flush_lines(k):
    return [ln for ln in k.log().splitlines() if "flushed " in ln and
            " records to s3://" in ln]


# ------------------------------------------------------------ 1. hour

def test_hour(moto):
    stream, bucket = "hour", "kk-hour"
    moto.create_stream(stream, 1)
    moto.create_bucket(bucket)
    topic, queue = moto.create_topic_queue("kk-hour", "kk-hour-q")
    items = [("pk-%d" % i, json.dumps({"i": i}).encode()) for i in range(40)]
    put = moto.put_records(stream, items)
    # 20 records in the last two seconds of 17:xx, the last at .999, then
    # 20 from 18:00:00.000 on
    stamps = {}
    for i, (_, seq, _, _) in enumerate(put):
        stamps[seq] = (HOUR18 - 2000 + i * 100 if i < 19 else
                       HOUR18 - 1 if i == 19 else HOUR18 + (i - 20) * 50)
    with TimeShiftProxy(moto.port, stamps.get) as proxy, kk.Keeper(
            moto, stream, bucket, topic_arn=topic, overrides=dict(
                BASE, **{"endpoints.kinesis": proxy.endpoint,
                         "s3.prefix": "p/", "batch.max_age": "2s",
                         "log.level": "debug"})) as k:
        k.start()
        have = kkf.wait_records(moto, bucket, 40, 45, k)
        ok(have == 40, "hour: 40 records archived", "have %d" % have,
           *k.tail(10))
        # the notifications before SIGTERM: a publish cut short by it may
        # have reached SNS and is sent again (at least once, SPEC 5)
        msgs = []
        deadline = time.time() + 30
        while time.time() < deadline and len(msgs) < 2:
            msgs += moto.drain_queue(queue)
        rc = k.stop()
        ok(rc == 0, "hour: keeper exits 0", "exit %s" % rc)
        flushed = flush_lines(k)
        klog = k.log()
        ok(proxy.rewritten >= 40, "hour: the proxy stamped every record "
           "(%d rewrites)" % proxy.rewritten)
    objs = decode_all(moto.fetch_objects(bucket))
    ok(len(objs) == 2, "hour: one batch across hh:00:00 -> 2 objects "
       "(got %d)" % len(objs), *[o["key"] for o in objs])
    wrong = []
    for o in objs:
        for ln in o["lines"]:
            ms = stamps[ln["seq"]]
            if "/%s/" % hour_of(ms) not in o["key"]:
                wrong.append("%s (%s) in %s" % (ln["seq"], ln["ts"], o["key"]))
        if o["lines"] and o["seq"] != o["lines"][0]["seq"]:
            wrong.append("%s: {seq} is not its first record %s" % (
                o["key"], o["lines"][0]["seq"]))
    ok(not wrong, "hour: each record in its own hour's object, each key "
       "named after that object's first record", *wrong[:6])
    by_hour = sorted((o["key"].split("/")[5], len(o["lines"])) for o in objs)
    ok(by_hour == [("17", 20), ("18", 20)], "hour: 20 records in hr 17 "
       "(up to 17:59:59.999), 20 in hr 18 (from 18:00:00.000)",
       repr(by_hour))
    kk.assert_exactly_once(put, objs, "hour", partitioned=True)
    ok(len(flushed) == 2, "hour: one flush line per object (%d)"
       % len(flushed), *flushed)
    keys = sorted(m["message"].get("key") for m in msgs
                  if isinstance(m["message"], dict))
    pubs = [ln for ln in klog.splitlines() if "notification" in ln]
    ok(keys == sorted(o["key"] for o in objs), "hour: one notification per "
       "object, naming it", repr(keys), *pubs[-10:])


# ------------------------------------------------------------ 2. json

def json_payloads():
    """(payload, description) covering the documented cases."""
    out = []
    for i in range(12):
        out.append(json.dumps({"tenant": {"id": "t-%d" % (i % 3)},
                               "kind": ["click", "view"][i % 2],
                               "i": i}).encode())
    out += [
        json.dumps({"kind": "click", "i": 100}).encode(),          # no tenant
        json.dumps({"tenant": None, "kind": "x", "i": 101}).encode(),
        json.dumps({"tenant": {"id": None}, "kind": "y"}).encode(),
        json.dumps({"tenant": {"id": {"deep": 1}}, "kind": "z"}).encode(),
        json.dumps({"tenant": {"id": ["a"]}, "kind": "z"}).encode(),
        json.dumps({"tenant": {"id": "a/b c=d+e:f*g,h@i$j"},
                    "kind": "caf\u00e9"}).encode(),
        json.dumps({"tenant": {"id": ".."}, "kind": ""}).encode(),
        json.dumps({"tenant": {"id": 42}, "kind": True}).encode(),
        json.dumps({"tenant": {"id": "x" * 100}, "kind": -7}).encode(),
        b"plain text, not JSON",
        b"\xff\xfe\x00binary",
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"tenant": {"id": "t-0"}, "kind": "click", "trailing": ',  # broken
    ]
    return out


def check_partitions(label, objs, put, paths, keyfmt):
    wrong, mixed = [], []
    for o in objs:
        vals = set()
        for ln in o["lines"]:
            data = next(d for (_, s, _, d) in put if s == ln["seq"])
            vals.add(tuple(part_value(data, p) for p in paths))
        if len(vals) != 1:
            mixed.append("%s: %s" % (o["key"], sorted(vals)))
            continue
        want = keyfmt % vals.pop()
        if want not in o["key"]:
            wrong.append("%s: want %s in the key" % (o["key"], want))
    ok(not mixed, "%s: every object holds one partition" % label, *mixed[:5])
    ok(not wrong, "%s: keys carry the documented values (safe characters, "
       "%s for missing or non-JSON)" % (label, MISSING), *wrong[:8])


def test_json(moto):
    stream = "jsonp"
    moto.create_stream(stream, 1)
    moto.create_bucket("kk-jsonp")
    moto.create_bucket("kk-jsoncap")
    pays = json_payloads()
    put = moto.put_records(stream, [("pk-%d" % i, p)
                                    for i, p in enumerate(pays)])
    tmpl = "{prefix}{stream}/t/{json:tenant.id}/k/{json:kind}/" \
           "{stream}-{shard}-{seq}.jsonl.gz"
    with kk.Keeper(moto, stream, "kk-jsonp", overrides=dict(
            BASE, **{"s3.key": tmpl, "s3.prefix": "j/",
                     "batch.max_age": "2s"})) as k:
        k.start()
        have = kkf.wait_records(moto, "kk-jsonp", len(pays), 45, k)
        ok(have == len(pays), "json: %d records archived" % len(pays),
           "have %d" % have, *k.tail(10))
        ok(k.stop() == 0, "json: keeper exits 0")
        nflush = len(flush_lines(k))
    objs = decode_all(moto.fetch_objects("kk-jsonp"))
    want_parts = {(part_value(p, "tenant.id"), part_value(p, "kind"))
                  for p in pays}
    ok(len(objs) == len(want_parts) == nflush, "json: one object per "
       "partition of the batch (%d objects, %d partitions, %d flush lines)"
       % (len(objs), len(want_parts), nflush))
    check_partitions("json", objs, put, ["tenant.id", "kind"], "/t/%s/k/%s/")
    kk.assert_exactly_once(put, objs, "json", partitioned=True)
    keys = [o["key"] for o in objs]
    bad = [k for k in keys if not re.match(r"^[A-Za-z0-9._/-]+$", k) or
           "/../" in k or "//" in k]
    ok(not bad, "json: every key is plain ASCII, no empty or dot-dot "
       "segment", *bad[:5])

    # the cap: 8 partitions interleaved, at most 3 open per batch
    stream = "jsoncap"
    moto.create_stream(stream, 1)
    items = [("c-%d" % i, json.dumps({"kind": "k%d" % (i % 8), "i": i})
              .encode()) for i in range(64)]
    put = moto.put_records(stream, items)
    with kk.Keeper(moto, stream, "kk-jsoncap", overrides=dict(
            BASE, **{"s3.key": "{prefix}{json:kind}/{stream}-{shard}-{seq}"
                     ".jsonl.gz", "batch.max_partitions": 3,
                     "s3.prefix": "c/",
                     "batch.max_age": "2s"})) as k:
        k.start()
        have = kkf.wait_records(moto, "kk-jsoncap", 64, 45, k)
        ok(have == 64, "cap: all 64 records archived past the cap",
           "have %d" % have, *k.tail(10))
        ok(k.stop() == 0, "cap: keeper exits 0")
        capped = [ln for ln in k.log().splitlines()
                  if "batch.max_partitions" in ln]
    objs = decode_all(moto.fetch_objects("kk-jsoncap"))
    kk.assert_exactly_once(put, objs, "cap", partitioned=True)
    check_partitions("cap", objs, put, ["kind"], "/%s/")
    # 64 records cycling through 8 kinds, 3 open at most: a batch ends at
    # every 4th distinct kind, so 22 batches, 64 objects of one record
    # each (8 kinds never fit)
    ok(len(objs) == 64 and len(capped) >= 21, "cap: the batch is flushed "
       "whenever a 4th partition comes (%d objects, %d cap lines)" % (
           len(objs), len(capped)), *capped[:3])


# ------------------------------------------------------------ 3. crash

def test_crash(moto, stream="crashp", restart_max=60):
    """restart_max other than 60: the new keeper's batches end elsewhere,
    so the stored part of the first run's batch is met from a batch with
    another range: that batch is read again exactly (SPEC 7)."""
    bucket = "kk-" + stream
    moto.create_stream(stream, 1)
    moto.create_bucket(bucket)
    moto.s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    items = [("pk-%d" % i, json.dumps({"i": i, "pad": "x" * 200}).encode())
             for i in range(60)]
    put = moto.put_records(stream, items)
    stamps = {seq: (HOUR18 - 60000 + i * 1000 if i < 30 else
                    HOUR18 + (i - 30) * 1000)
              for i, (_, seq, _, _) in enumerate(put)}
    tmp = tempfile.mkdtemp(prefix="kk-e2e-crashp-")
    ov = dict(BASE, **{"batch.max_records": 60, "batch.max_age": "1h",
                       "s3.prefix": "c/"})
    try:
        with TimeShiftProxy(moto.port, stamps.get) as tsp, \
                kkf.StallProxy(moto.port) as sp:
            ov.update({"endpoints.kinesis": tsp.endpoint,
                       "endpoints.s3": sp.endpoint})
            puts = lambda m, p: m == "PUT" and "/" + bucket + "/" in p  # noqa
            h = sp.hold(puts, nth=2)
            with kk.Keeper(moto, stream, bucket, overrides=ov, tmp=tmp,
                           name="crash1") as k:
                k.start()
                held = h.wait_held(45)
                ok(held, "crash: the second object's PUT is held", *k.tail(10))
                before = decode_all(moto.fetch_objects(bucket))
                for pid in k.workers():
                    kk.kill_pid(pid)
                k.kill9()
                h.release(drop=True)
                ck = os.path.join(tmp, "state", "checkpoints",
                                  "shardId-000000000000")
                ok(len(before) == 1 and not os.path.exists(ck),
                   "crash: SIGKILL with one object of the split batch stored "
                   "and no checkpoint (%d objects)" % len(before))
            ov2 = dict(ov, **{"batch.max_records": restart_max})
            with kk.Keeper(moto, stream, bucket, overrides=ov2, tmp=tmp,
                           name="crash2") as k:
                k.start()
                have = kkf.wait_records(moto, bucket, 60, 45, k)
                ok(have == 60, "crash: after the restart all 60 records are "
                   "archived", "have %d" % have, *k.tail(10))
                ok(k.stop() == 0, "crash: the new keeper exits 0")
                # SPEC 7: the stored part is met (412) and adopted: its
                # batch is read again exactly, the missing part written
                adopted = [ln for ln in k.log().splitlines()
                           if "adopted" in ln or "already archived" in ln]
                ok(len(adopted) >= 1, "crash: the part stored before the "
                   "crash was adopted, not written again", *k.tail(12))
                again = [ln for ln in k.log().splitlines()
                         if "reading that batch again, exactly" in ln]
                ok(len(again) == (0 if restart_max == 60 else 1),
                   "crash (restart batches of %d): the first run's batch "
                   "read again exactly %s" % (restart_max, "never" if
                                              restart_max == 60 else "once"),
                   *again)
    finally:
        kk.shutil.rmtree(tmp, ignore_errors=True)
    vers = {}
    for page in moto.s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket):
        for v in page.get("Versions", []):
            if not kk.is_head_key(v["Key"]):
                vers[v["Key"]] = vers.get(v["Key"], 0) + 1
    ok(vers and all(n == 1 for n in vers.values()), "crash: no key was "
       "ever written twice (versioned bucket, %d keys)" % len(vers),
       repr(vers))
    after = decode_all(moto.fetch_objects(bucket))
    ok(len(after) == 2, "crash: still 2 objects (%d)" % len(after),
       *[o["key"] for o in after])
    same = [o for o in after for b in before if o["key"] == b["key"] and
            hashlib.sha256(o["body"]).digest() ==
            hashlib.sha256(b["body"]).digest()]
    ok(len(before) == 1 and len(same) == 1, "crash: the object stored "
       "before the crash is still there, byte for byte (never rewritten)",
       repr([b["key"] for b in before]), repr([o["key"] for o in after]))
    kk.assert_exactly_once(put, after, "crash", partitioned=True)


# ------------------------------------------------------------ 4. hive

def test_hive(moto, tmp):
    counts = {17: 10, 18: 25, 19: 7}
    cases = {
        "hivegz": ("gzip", "jsonl.gz",
                   "{prefix}{stream}/dt={yyyy}-{mm}-{dd}/hr={hh}/"
                   "{stream}-{shard}-{seq}.jsonl.gz"),
        "hivezst": ("zstd", "jsonl.zst",
                    "{prefix}{stream}/dt={yyyy}-{mm}-{dd}/hr={hh}/"
                    "{stream}-{shard}-{seq}.jsonl.zst"),
        "hivekind": ("gzip", "jsonl.gz",
                     "{prefix}{stream}/kind={json:kind}/"
                     "{stream}-{shard}-{seq}.jsonl.gz"),
    }
    n = sum(counts.values())
    kinds = ["click", "view", "buy"]
    puts, stamps = {}, {}
    for name in cases:
        moto.create_stream(name, 1)
        moto.create_bucket("kk-" + name)
        items = [("pk-%d" % i, json.dumps({"i": i, "kind": kinds[i % 3]})
                  .encode()) for i in range(n)]
        puts[name] = moto.put_records(name, items)
        i = 0
        for hr, c in sorted(counts.items()):
            for j in range(c):
                seq = puts[name][i][1]
                stamps[(name, seq)] = HOUR17 + (hr - 17) * 3600 * 1000 + \
                    j * 60000
                i += 1
    # one proxy for the three streams: sequence numbers repeat across
    # streams in moto, so the stamp follows the position, the same in each
    order = {}
    for name in cases:
        for i, (_, seq, _, _) in enumerate(puts[name]):
            order[seq] = stamps[(name, seq)]
    with TimeShiftProxy(moto.port, order.get) as proxy:
        ks = []
        for name, (comp, _, tmpl) in cases.items():
            ks.append(kk.Keeper(moto, name, "kk-" + name, name=name,
                                overrides=dict(BASE, **{
                                    "endpoints.kinesis": proxy.endpoint,
                                    "s3.key": tmpl, "s3.prefix": "h/",
                                    "format.compression": comp,
                                    "batch.max_age": "2s"})))
        with kkf.keepers(*ks) as ks:
            for k in ks:
                k.start()
            for k, name in zip(ks, cases):
                have = kkf.wait_records(moto, "kk-" + name, n, 45, k)
                ok(have == n, "%s: all %d records archived" % (name, n),
                   "have %d" % have, *k.tail(10))
            for k, name in zip(ks, cases):
                ok(k.stop() == 0, "%s: keeper exits 0" % name)
            # the chain across partitioned batches holds (SPEC 7): one
            # batch's parts interleave, batches do not; --deep reads and
            # counts every body, gzip and zstd
            for k, name in zip(ks, cases):
                rc, out, err = kk.run_keeper(["verify", "--deep", k.conf],
                                             timeout=120)
                ok(rc == 0 and " 0 problems" in out, "%s: kinesis-keeper "
                   "verify --deep exits 0" % name, "rc %r" % rc,
                   *(out + err).splitlines()[-8:])
    for name, (comp, ext, _) in cases.items():
        objs = decode_all(moto.fetch_objects("kk-" + name), ext)
        kk.assert_exactly_once(puts[name], objs, name, partitioned=True)
        d = os.path.join(tmp, name)
        paths = kkr.save(objs, d)
        bad = kkr.tool_test("zstd" if comp == "zstd" else "gzip", paths)
        ok(not bad, "%s: %s -t passes on every object" % (
            name, "zstd" if comp == "zstd" else "gzip"), *bad[:5])
        glob = kkr.sql_str(os.path.join(d, "**", "*." + ext))
        if name == "hivekind":
            rows = kkr.duckdb([
                "select kind, count(*) from read_json_auto(%s, "
                "hive_partitioning=true, format='newline_delimited') "
                "group by kind order by kind" % glob])[0]
            want = sorted([k, str(sum(1 for i in range(n) if
                                      kinds[i % 3] == k))] for k in kinds)
            ok(rows == want, "%s: DuckDB counts each kind= partition right"
               % name, "got %r want %r" % (rows, want))
            continue
        rows = kkr.duckdb([
            "select dt::VARCHAR, hr::VARCHAR, count(*), min(data.i), "
            "max(data.i) from read_json_auto(%s, hive_partitioning=true, "
            "format='newline_delimited') group by dt, hr order by hr"
            % glob])[0]
        want, i = [], 0
        for hr, c in sorted(counts.items()):
            want.append(["2026-11-27", str(hr), str(c), str(i),
                         str(i + c - 1)])
            i += c
        ok(rows == want, "%s: DuckDB with hive_partitioning counts each "
           "dt/hr partition right" % name, "got %r" % rows,
           "want %r" % want)


def scenario():
    kk.become_subreaper()
    t0 = time.monotonic()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return
    if not kkr.have_duckdb():
        ok(False, "@duckdb/node-api is installed (tests/setup.sh)")
        return
    with kk.Moto() as moto:
        moto.check_auth()
        test_hour(moto)
        test_json(moto)
        test_crash(moto)
        test_crash(moto, "crashq", 45)
    # moto with SigV4 on refuses "=" in keys (ENVIRONMENT.md)
    with kk.Moto(auth=False) as moto, tempfile.TemporaryDirectory(
            prefix="kk-hive-") as tmp:
        test_hive(moto, tmp)
    diag("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
