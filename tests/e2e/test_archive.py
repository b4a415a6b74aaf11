#!/usr/bin/env python3
"""
test_archive.py: the archive path end to end, against moto with SigV4
checking on. A 3-shard stream gets awkward payloads before and while the
keeper runs; everything must reach S3 exactly once, in the SPEC section 5
format, with metadata, notifications, checkpoints and local copies. A second
run on the same state_dir must resume after the checkpoints. Also: -n, -V and
the state_dir lock.
"""

import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "orders"
BUCKET = "kk-archive"
PREFIX = "archive/"
KEEP = 3
ARCHIVE_TIMEOUT = 60

rng = random.Random(20261127)

PKS = ["user-%d" % i for i in range(40)] + [
    "ключ-🔑", "用户-42", 'pk "quoted" \\ back', "pk\twith\ttabs",
    "x" * 256, "é" * 256, "🔑" * 64, "a", "0", " "]


def pk():
    return rng.choice(PKS)


def edge_payloads():
    """Payloads that stress the data/b64 decision and the JSON embedding."""
    deep = "[" * 64 + "1" + "]" * 64
    return [
        # valid JSON texts: embedded as data
        b'{"a":1}', b'[]', b'{}', b'[1,"two",3.5,null,true,false]',
        b'42', b'-0', b'-0.5e10', b'1E+2', b'"just a string"', b'true',
        b'false', b'null', b'""',
        b'12345678901234567890123',                 # beyond int64
        b'0.1000000000000000055511151231257827',     # more digits than a double
        b'  {"padded": true}  \n',                   # whitespace around
        b'{"esc":"quote\\" back\\\\ nl\\n tab\\t ctl\\u0001 nul\\u0000"}',
        b'{"uni":"\\u00e9\\ud83d\\ude00","raw":"Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93 \xf0\x9f\x98\x80"}',
        b'{"slash":"a\\/b","html":"<script>&amp;</script>"}',
        json.dumps({"pretty": [1, 2, {"k": "v"}], "n": None},
                   indent=2).encode(),
        b'{\r\n\t"crlf": [1,\r\n 2]\r\n}',
        deep.encode(),
        # not JSON: archived as b64
        b'', b' ', b'\n', b'hello world', b'{not json', b"{'single': 1}",
        b'[1,2,]', b'01', b'1 2', b'"unterminated', b'true false', b'.5',
        b'NaN', b'Infinity', b'-Infinity', b'{"a":1}x', b'line1\nline2\n',
        b'\x00', b'{"a":"\x00"}', b'{"tab":"\t"}',
        b'\xff\xfe\xfd', b'{"a":"\xc3\x28"}',       # invalid UTF-8
        b'"\xc0\xaf"', b'"\xed\xa0\x80"',            # overlong, surrogate
        b'\xf3\x89\x9a\xc2' + b'not really kpl',     # KPL magic, corrupt
    ]


def large_payloads():
    big_text = "".join(rng.choice('ab"\\\n\té✓😀 ') for _ in range(30000))
    return [
        json.dumps({"blob": "x" * 100000}).encode(),
        json.dumps({"escapes": big_text}, ensure_ascii=False).encode(),
        rng.randbytes(100 * 1024),
        ("not json " * 12000).encode(),
        json.dumps([{"i": i, "v": rng.random()} for i in range(3000)]).encode(),
    ]


def ordinary(i):
    k = rng.randrange(6)
    if k == 0:
        return json.dumps({"i": i, "user": "user-%d" % i,
                           "amount": round(rng.random() * 1000, 2),
                           "tags": ["a", "b"], "ok": True}).encode()
    if k == 1:
        return json.dumps([i, "x", {"nested": {"deep": [i]}}]).encode()
    if k == 2:
        return json.dumps(i * 1.5 if i % 2 else "scalar-%d" % i).encode()
    if k == 3:
        return json.dumps({"i": i, "text": "ünïcödé ✓ %d" % i},
                          indent=4, ensure_ascii=False).encode()
    if k == 4:
        return ("plain log line %d level=info msg=\"hello\"" % i).encode()
    return rng.randbytes(rng.randrange(1, 300))


def items(payloads):
    return [(pk(), p) for p in payloads]


def scenario():
    kk.become_subreaper()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return

    with kk.Moto() as moto:
        moto.check_auth()
        shards = moto.create_stream(STREAM, 3)
        ok(len(shards) == 3, "stream with 3 shards is ACTIVE", repr(shards))
        moto.create_bucket(BUCKET)
        topic, queue = moto.create_topic_queue("kk-archive", "kk-archive-q")

        with kk.RecordingProxy(moto.port) as proxy:
            overrides = {
                "endpoints.s3": proxy.endpoint,
                "s3.prefix": PREFIX,
                "read.interval": "200ms",
                "batch.max_age": "2s",
                "batch.max_records": 50,
                "batch.max_bytes": "256k",
                "local.keep": KEEP,
                "workers.shutdown_timeout": "20s",
                "cloudwatch.namespace": "KKTest",
                "cloudwatch.interval": "1s",
            }
            with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides,
                           topic_arn=topic) as keeper:
                run(moto, keeper, proxy, queue)


def command_line(keeper):
    rc, out, err = kk.run_keeper(["-n", keeper.conf])
    ok(rc == 0 and "configuration OK" in out + err,
       "-n on the test config prints 'configuration OK' and exits 0",
       "exit %s" % rc, *(out + err).splitlines()[-10:])
    rc, out, err = kk.run_keeper(["-V"])
    m = re.search(r"\d+\.\d+(\.\d+)?", out + err)
    ok(rc == 0 and m, "-V prints a version and exits 0",
       "exit %s, output %r" % (rc, (out + err)[:200]))
    return m.group(0) if m else None


def wait_archived(moto, keeper, n, label):
    """Poll S3 until n records are archived, the keeper dies, or timeout."""
    cache = {}
    t0 = time.monotonic()
    kk.wait_until(lambda: not keeper.running() or
                  kk.archived_records(moto, BUCKET, cache) >= n,
                  ARCHIVE_TIMEOUT, 0.5)
    have = kk.archived_records(moto, BUCKET, cache)
    ok(have >= n, "%s: all %d records archived within %ds (took %.1fs)"
       % (label, n, ARCHIVE_TIMEOUT, time.monotonic() - t0),
       "x-amz-meta-records total %d" % have,
       "keeper running: %s" % keeper.running())
    return have >= n


def run(moto, keeper, proxy, queue):
    version = command_line(keeper)

    # -- phase 1: a backlog, then records while the keeper runs
    put = moto.put_records(STREAM, items(edge_payloads()))
    put += moto.put_records(STREAM, items(large_payloads()))
    put += moto.put_records(STREAM, items(ordinary(i) for i in range(150)))
    ok(len({p[0] for p in put}) == 3, "backlog spread over all 3 shards",
       repr(sorted({p[0] for p in put})))
    diag("backlog: %d records" % len(put))

    keeper.start()
    time.sleep(1)
    ok(keeper.running(), "keeper is running", *keeper.tail(20))

    # a second supervisor on the same state_dir must refuse: the lock
    rc, out, err = kk.run_keeper(["-d", keeper.conf], timeout=15)
    ok(rc not in (0, None) and "lock" in (out + err).lower(),
       "a second keeper on the same state_dir exits non-zero mentioning the lock",
       "exit %s" % rc, *(out + err).splitlines()[-10:])
    ok(keeper.running(), "the first keeper is unaffected by the second")

    for r in range(10):
        put += moto.put_records(STREAM, items(ordinary(1000 + r * 20 + i)
                                              for i in range(20)))
        time.sleep(0.3)
    diag("phase 1: %d records put" % len(put))
    wait_archived(moto, keeper, len(put), "phase 1")

    rc = keeper.stop(40)
    ok(rc == 0, "SIGTERM: keeper exits 0", "exit code %s" % rc)
    left = keeper.leftovers()
    ok(not left, "no worker process left after the supervisor exited",
       repr(left))
    verify(moto, keeper, put, queue, version, "phase 1")
    proxy_checks(proxy)
    metrics_check(moto)
    secret_check(keeper, moto)

    phase1 = {o["key"]: o["etag"] for o in moto.fetch_objects(BUCKET)}

    # -- phase 2: resume on the same state_dir
    keeper.start()
    time.sleep(1)
    ok(keeper.running(), "phase 2: keeper restarted on the same state_dir",
       *keeper.tail(20))
    new = moto.put_records(STREAM, items(ordinary(5000 + i) for i in range(50)))
    wait_archived(moto, keeper, len(put) + len(new), "phase 2")
    time.sleep(1)  # room for a wrong re-read of old records to show up
    rc = keeper.stop(40)
    ok(rc == 0, "phase 2: SIGTERM: keeper exits 0", "exit code %s" % rc)
    objs = verify(moto, keeper, put + new, queue, version, "phase 2",
                  notified=lambda o: o["key"] not in phase1)
    changed = [o["key"] for o in objs if o["key"] in phase1
               and o["etag"] != phase1[o["key"]]]
    ok(not changed, "phase 2: no phase-1 object rewritten", *changed[:10])
    fresh = [o for o in objs if o["key"] not in phase1]
    newseq = {(s, q) for s, q, _, _ in new}
    in_fresh = {(o["shard"], ln.get("seq")) for o in fresh for ln in o["lines"]}
    ok(in_fresh == newseq, "phase 2: new objects hold exactly the 50 new records",
       "new objects hold %d records, %d expected" % (len(in_fresh), len(newseq)))
    san = keeper.sanitizer_reports()
    ok(not san, "no sanitizer report in the keeper log", *san[:10])


def verify(moto, keeper, put, queue, version, label, notified=None):
    objs = moto.fetch_objects(BUCKET)
    arrivals = moto.read_stream(STREAM)
    kk.check_objects(objs, STREAM, PREFIX, arrivals, label)
    shards_per = {}
    for o in objs:
        shards_per[o.get("shard")] = shards_per.get(o.get("shard"), 0) + 1
    ok(all(n >= 2 for n in shards_per.values()) and len(shards_per) == 3,
       "%s: several objects per shard" % label, repr(shards_per))
    kk.assert_exactly_once(put, objs, label)
    notes = moto.drain_queue(queue)
    want = [o for o in objs if notified is None or notified(o)]
    kk.check_notifications(notes, objs, want, STREAM, BUCKET, version, label)
    kk.check_state(keeper.state_dir, objs, KEEP, label)
    log = [l for l in keeper.log().splitlines() if "flushed" in l]
    unlogged = [o["key"] for o in want
                if not any("s3://%s/%s" % (BUCKET, o["key"]) in l for l in log)]
    ok(not unlogged, "%s: each flush logged as 'flushed N records to s3://...'"
       % label, *unlogged[:5])
    return objs


def proxy_checks(proxy):
    puts = [r for r in proxy.requests if r["method"] == "PUT"]
    bad_md5 = ["%s: Content-MD5 %r, body %s" % (r["path"],
               r["headers"].get("content-md5"), r["md5"])
               for r in puts if r["len"] and
               r["headers"].get("content-md5") != r["md5"]]
    ok(puts and not bad_md5, "S3 uploads carry a correct Content-MD5 (%d PUTs)"
       % len(puts), *bad_md5[:5])
    bad_sha = ["%s %s: x-amz-content-sha256 %r" % (r["method"], r["path"],
               r["headers"].get("x-amz-content-sha256"))
               for r in proxy.requests
               if r["headers"].get("x-amz-content-sha256") not in
               (r["sha256"], "UNSIGNED-PAYLOAD")]
    ok(not bad_sha, "S3 requests carry x-amz-content-sha256 of their body",
       *bad_sha[:5])


def metrics_check(moto):
    documented = {"RecordsRead", "BytesRead", "GetRecordsCalls",
                  "GetRecordsThrottled", "MillisBehindLatest", "BatchesFlushed",
                  "BatchRecords", "BatchBytes", "FlushLatency", "S3PutErrors",
                  "NotificationErrors", "WorkerRestarts", "WorkersRunning",
                  "NotificationsPending"}   # SPEC 7
    names = set()
    for page in moto.cloudwatch.get_paginator("list_metrics").paginate(
            Namespace="KKTest"):
        names |= {m["MetricName"] for m in page["Metrics"]}
    ok({"RecordsRead", "BatchesFlushed"} <= names and names <= documented,
       "CloudWatch metrics pushed under the configured namespace",
       "got %s" % sorted(names))


def secret_check(keeper, moto):
    ok(moto.secret_access_key not in keeper.log(),
       "the secret access key never appears in the keeper log")


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
