#!/usr/bin/env python3
"""
test_metrics.py: metrics end to end (SPEC section 5 "Metrics"), against moto
with SigV4 checking on.

1. Healthy: a 2-shard stream with records before and while the keeper runs,
   cloudwatch.interval = 2s through a recording forwarder in front of moto,
   statsd to a UDP listener in the test. CloudWatch (ListMetrics,
   GetMetricStatistics and the PutMetricData bodies) must have every
   documented name with the right dimensions per shard and per stream and
   values that agree with what was archived; statsd lines must carry the
   configured prefix, be well-formed, and their counters add up.
2. CloudWatch answering HTTP 500: archiving completes exactly once, SNS
   notifications keep flowing, the failure is logged as a cloudwatch
   failure with bounded retries, statsd (default prefix) is unaffected,
   SIGTERM stops the keeper within workers.shutdown_timeout.
3. CloudWatch on a closed port (connection refused): the same.
4. CloudWatch black-holed (accepts, never answers): the same; in
   particular the supervisor's loop (notifications, SIGTERM) must not wait
   on metrics.
5. A closed shard (kinesalite: moto never ends one) is read to its end:
   its per-shard CloudWatch datums (ShardId dimension) go out with the push
   after "shard done" at most, and never again, while its children's go on.
"""

import contextlib
import json
import os
import random
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_creds as kc  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

NS = "KKMetricsTest"
PREFIX = "kktest.metrics."
INTERVAL = 2.0
ARCHIVE_TIMEOUT = 40

# statsd types (kinesis-keeper.conf(5)): counts are counters
COUNTERS = {"RecordsRead", "BytesRead", "GetRecordsCalls",
            "GetRecordsThrottled", "BatchesFlushed", "BatchRecords",
            "BatchBytes", "S3PutErrors", "NotificationErrors",
            "WorkerRestarts"}
GAUGES = {"MillisBehindLatest", "WorkersRunning", "NotificationsPending"}
TIMERS = {"FlushLatency"}
# CloudWatch statistic sets
CW_SETS = {"BatchRecords", "BatchBytes", "FlushLatency"}
ALL = COUNTERS | GAUGES | TIMERS
# names that only make sense for the whole stream
STREAM_ONLY = {"NotificationErrors", "WorkersRunning", "NotificationsPending"}
# statsd: keeper-wide names carry no shard, every other one does
STATSD_WIDE = {"WorkersRunning", "NotificationsPending"}
PER_SHARD = ALL - STREAM_ONLY
UNITS = {"BytesRead": "Bytes", "BatchBytes": "Bytes",
         "FlushLatency": "Milliseconds", "MillisBehindLatest": "Milliseconds"}

rng = random.Random(6)
STATSD_RE = re.compile(r"^(?P<prefix>.*?)(?P<name>[A-Za-z]+)"
                       r"(?:\.(?P<shard>shardId-[A-Za-z0-9_.-]+))?:"
                       r"(?P<value>-?\d+(?:\.\d+)?)\|(?P<type>c|g|ms)"
                       r"(?:\|@[0-9.]+)?$")


def payload(i):
    k = rng.randrange(3)
    if k == 0:
        return ('{"i":%d,"pad":"%s"}' % (i, "x" * rng.randrange(0, 200))).encode()
    if k == 1:
        return rng.randbytes(rng.randrange(1, 400))
    return ("log line %d" % i).encode()


def items(n, base):
    return [("pk-%d" % rng.randrange(1000), payload(base + i)) for i in range(n)]


# --------------------------------------------------------- PutMetricData

def datums(forwarder):
    """Every datum of every PutMetricData seen: dicts with name, unit,
    dims {name: value}, value or stats, t (monotonic), namespace."""
    out = []
    for r in forwarder.snapshot():
        f = r["form"]
        if f.get("Action") != "PutMetricData":
            continue
        idx = set()
        for k in f:
            m = re.match(r"MetricData\.member\.(\d+)\.", k)
            if m:
                idx.add(int(m.group(1)))
        for i in sorted(idx):
            p = "MetricData.member.%d." % i
            dims = {}
            j = 1
            while p + "Dimensions.member.%d.Name" % j in f:
                dims[f[p + "Dimensions.member.%d.Name" % j]] = \
                    f.get(p + "Dimensions.member.%d.Value" % j)
                j += 1
            d = {"name": f.get(p + "MetricName"), "unit": f.get(p + "Unit"),
                 "dims": dims, "t": r["t"], "namespace": f.get("Namespace"),
                 "status": r["status"]}
            if p + "Value" in f:
                d["value"] = float(f[p + "Value"])
            if p + "StatisticValues.Sum" in f:
                d["stats"] = {s: float(f.get(p + "StatisticValues." + s, "nan"))
                              for s in ("SampleCount", "Sum", "Minimum",
                                        "Maximum")}
            out.append(d)
    return out


def pushes(times, gap=1.0):
    """Cluster request times into pushes (requests closer than gap)."""
    groups = []
    for t in sorted(times):
        if groups and t - groups[-1][-1] < gap:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


# ------------------------------------------------------------ CloudWatch

def list_metrics(moto):
    """{(name, frozenset(dims.items()))} under NS (moto lists one entry per
    datum; deduplicated here)."""
    seen = set()
    for page in moto.cloudwatch.get_paginator("list_metrics").paginate(
            Namespace=NS):
        for m in page["Metrics"]:
            seen.add((m["MetricName"], frozenset(
                (d["Name"], d["Value"]) for d in m.get("Dimensions", []))))
    return seen


def stats(moto, name, dims, t0):
    """GetMetricStatistics over the whole test, summed over periods:
    {Sum, SampleCount, Minimum, Maximum} (None if no data).
    Only exact for the per-shard dimension set: moto matches dimensions as
    a subset, so a StreamName-only query also returns per-shard data."""
    import datetime
    start = datetime.datetime.fromtimestamp(t0 - 600, datetime.timezone.utc)
    end = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(minutes=10)
    r = moto.cloudwatch.get_metric_statistics(
        Namespace=NS, MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=start, EndTime=end, Period=60,
        Statistics=["Sum", "SampleCount", "Minimum", "Maximum"])
    dps = r.get("Datapoints", [])
    if not dps:
        return None
    return {"Sum": sum(d["Sum"] for d in dps),
            "SampleCount": sum(d["SampleCount"] for d in dps),
            "Minimum": min(d["Minimum"] for d in dps),
            "Maximum": max(d["Maximum"] for d in dps)}


# --------------------------------------------------------------- phase 1

def phase_healthy(moto):
    stream, bucket = "metrics-ok", "kk-metrics-ok"
    shards = moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    t_start = time.time()
    with kc.UdpListener() as statsd, kc.Forwarder(moto.port) as cw:
        overrides = {
            "endpoints.cloudwatch": cw.endpoint,
            "cloudwatch.namespace": NS,
            "cloudwatch.interval": "2s",
            "statsd.host": "127.0.0.1",
            "statsd.port": statsd.port,
            "statsd.prefix": PREFIX,
            "read.interval": "200ms",
            "batch.max_age": "1s",
            "batch.max_records": 40,
        }
        with kk.Keeper(moto, stream, bucket, overrides=overrides,
                       name="metrics") as keeper:
            put = moto.put_records(stream, items(150, 0))
            ok({p[0] for p in put} == set(shards),
               "healthy: backlog spread over both shards")
            keeper.start()
            t_run = time.monotonic()
            for r in range(5):
                time.sleep(0.5)
                put += moto.put_records(stream, items(30, 1000 + 30 * r))
            n, took = kc.wait_archived(moto, keeper, bucket, len(put),
                                       ARCHIVE_TIMEOUT)
            ok(n >= len(put), "healthy: all %d records archived (%.1fs)"
               % (len(put), took), "archived %d" % n, *keeper.tail(20))
            # let two more intervals pass while running: periodic pushes
            kk.wait_until(lambda: len(pushes(
                [d["t"] for d in datums(cw)])) >= 4, 3 * INTERVAL + 5, 0.2)
            time.sleep(INTERVAL + 0.5)
            running_pushes = pushes([r["t"] for r in cw.snapshot()
                                     if r["form"].get("Action") ==
                                     "PutMetricData"])
            ok(keeper.running(), "healthy: keeper still running")
            elapsed = time.monotonic() - t_run
            t0 = time.monotonic()
            rc = keeper.stop(30)
            ok(rc == 0, "healthy: SIGTERM -> exit 0 (%.1fs)"
               % (time.monotonic() - t0), "exit %s" % rc)
            ok(not keeper.leftovers(), "healthy: no worker left behind")
            ok(not keeper.sanitizer_reports(), "healthy: no sanitizer report",
               *keeper.sanitizer_reports()[:10])
            ok(moto.secret_access_key not in keeper.log(),
               "healthy: the secret never appears in the log")

            objs = kk.check_objects(moto.fetch_objects(bucket), stream, "",
                                    label="healthy")
            kk.assert_exactly_once(put, objs, label="healthy")

            check_pushes(running_pushes, elapsed)
            check_cloudwatch(moto, cw, stream, shards, put, objs, t_start,
                             elapsed)
            check_statsd(statsd, PREFIX, put, objs, "healthy")


def check_pushes(groups, elapsed):
    ok(len(groups) >= 3, "healthy: PutMetricData pushed periodically while "
       "running (%d pushes in %.1fs)" % (len(groups), elapsed))
    starts = [g[0] for g in groups]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    med = statistics.median(gaps) if gaps else None
    ok(med is not None and INTERVAL * 0.75 <= med <= INTERVAL * 1.75,
       "healthy: pushes every cloudwatch.interval (median gap %s, want ~%.0fs)"
       % ("%.2fs" % med if med is not None else "n/a", INTERVAL),
       "gaps: %s" % ["%.2f" % g for g in gaps])


def check_cloudwatch(moto, cw, stream, shards, put, objs, t_start, elapsed):
    ds = datums(cw)
    ok(ds and all(d["status"] == 200 for d in ds),
       "healthy: moto accepted every PutMetricData (SigV4-signed form)",
       "statuses %s" % sorted({d["status"] for d in ds}))
    ok(all(d["namespace"] == NS for d in ds),
       "healthy: every PutMetricData uses the configured namespace",
       repr(sorted({d["namespace"] for d in ds})))

    # -- ListMetrics: names and dimension sets
    listed = list_metrics(moto)
    want = set()
    for name in ALL:
        want.add((name, frozenset({("StreamName", stream)})))
    for name in PER_SHARD:
        for sh in shards:
            want.add((name, frozenset({("StreamName", stream),
                                       ("ShardId", sh)})))
    missing = sorted("%s %s" % (n, dict(d)) for n, d in want - listed)
    extra = sorted("%s %s" % (n, dict(d)) for n, d in listed - want
                   if n not in ALL or n in STREAM_ONLY or
                   {k for k, _ in d} not in ({"StreamName"},
                                             {"StreamName", "ShardId"}) or
                   dict(d).get("StreamName") != stream or
                   dict(d).get("ShardId", shards[0]) not in shards)
    ok(not missing, "healthy: ListMetrics has all 14 names at stream level "
       "and the 11 shard-level names per shard (%d metric/dimension sets)"
       % len(want), *missing[:15])
    ok(not extra, "healthy: no undocumented name or dimension set",
       *extra[:15])

    # -- units and statistic sets in the pushed data
    bad_unit = sorted({"%s: %s" % (d["name"], d["unit"]) for d in ds
                       if d["unit"] != UNITS.get(d["name"], "Count")})
    ok(not bad_unit, "healthy: units (Count, Bytes, Milliseconds) as expected",
       *bad_unit)
    bad_set = sorted({d["name"] for d in ds if (d["name"] in CW_SETS) !=
                      ("stats" in d)})
    ok(not bad_set, "healthy: BatchRecords/BatchBytes/FlushLatency are "
       "statistic sets, everything else single values", *bad_set)

    # -- per-shard values from GetMetricStatistics (exact dimension match)
    nrec = {sh: sum(1 for p in put if p[0] == sh) for sh in shards}
    nbytes = {sh: sum(len(p[3]) for p in put if p[0] == sh) for sh in shards}
    pkbytes = {sh: sum(len(p[2].encode()) for p in put if p[0] == sh)
               for sh in shards}
    by_shard = {sh: [o for o in objs if o.get("shard") == sh] for sh in shards}
    probs = []
    tot_read = tot_flushed = 0
    for sh in shards:
        dims = {"StreamName": stream, "ShardId": sh}
        g = {n: stats(moto, n, dims, t_start) for n in PER_SHARD}
        rr = g["RecordsRead"]["Sum"] if g["RecordsRead"] else None
        tot_read += rr or 0
        if rr != nrec[sh]:
            probs.append("%s RecordsRead %s, %d records put" % (sh, rr, nrec[sh]))
        br = g["BytesRead"]["Sum"] if g["BytesRead"] else None
        if br is None or not nbytes[sh] <= br <= \
                nbytes[sh] + pkbytes[sh] + 200 * nrec[sh]:
            probs.append("%s BytesRead %s, payload bytes %d"
                         % (sh, br, nbytes[sh]))
        bf = g["BatchesFlushed"]["Sum"] if g["BatchesFlushed"] else None
        tot_flushed += bf or 0
        if bf != len(by_shard[sh]):
            probs.append("%s BatchesFlushed %s, %d objects"
                         % (sh, bf, len(by_shard[sh])))
        b = g["BatchRecords"]
        sizes = [len(o["lines"]) for o in by_shard[sh]]
        if not b or b["SampleCount"] != len(sizes) or b["Sum"] != sum(sizes) \
                or b["Minimum"] != min(sizes or [0]) or \
                b["Maximum"] != max(sizes or [0]):
            probs.append("%s BatchRecords %s, objects hold %s" % (sh, b, sizes))
        bb = g["BatchBytes"]
        if not bb or bb["SampleCount"] != len(sizes) or \
                not nbytes[sh] <= bb["Sum"] <= 4 * nbytes[sh] + 200 * nrec[sh]:
            probs.append("%s BatchBytes %s (payload bytes %d)"
                         % (sh, bb, nbytes[sh]))
        fl = g["FlushLatency"]
        if not fl or fl["SampleCount"] != len(sizes) or fl["Minimum"] < 0 or \
                fl["Maximum"] > 30000:
            probs.append("%s FlushLatency %s" % (sh, fl))
        calls = g["GetRecordsCalls"]["Sum"] if g["GetRecordsCalls"] else None
        # read.interval 200ms and the 5 calls/s budget
        if calls is None or not 1 <= calls <= 5 * (elapsed + 5):
            probs.append("%s GetRecordsCalls %s in %.0fs" % (sh, calls, elapsed))
        mb = g["MillisBehindLatest"]
        if not mb or mb["Minimum"] < 0 or mb["Maximum"] > 3600 * 1000:
            probs.append("%s MillisBehindLatest %s" % (sh, mb))
        for zero in ("GetRecordsThrottled", "S3PutErrors", "WorkerRestarts"):
            v = g[zero]
            if v is None or v["Sum"] != 0:
                probs.append("%s %s %s, want 0 reported" % (sh, zero, v))
    ok(not probs, "healthy: per-shard GetMetricStatistics agree with the "
       "archive (RecordsRead, BytesRead, BatchesFlushed, BatchRecords, ...)",
       *probs)
    ok(tot_read == len(put) and tot_flushed == len(objs),
       "healthy: RecordsRead summed over shards == %d records put, "
       "BatchesFlushed == %d objects" % (len(put), len(objs)),
       "RecordsRead %s, BatchesFlushed %s" % (tot_read, tot_flushed))

    # -- stream-level aggregates, from the pushed data (moto cannot query
    #    a dimension set exactly)
    st = [d for d in ds if set(d["dims"]) == {"StreamName"}]
    sh_ds = [d for d in ds if set(d["dims"]) == {"StreamName", "ShardId"}]

    def total(lst, name):
        return sum(d.get("value", d.get("stats", {}).get("Sum", 0))
                   for d in lst if d["name"] == name)
    probs = []
    if total(st, "RecordsRead") != len(put):
        probs.append("stream RecordsRead %s, %d put"
                     % (total(st, "RecordsRead"), len(put)))
    if total(st, "BatchesFlushed") != len(objs):
        probs.append("stream BatchesFlushed %s, %d objects"
                     % (total(st, "BatchesFlushed"), len(objs)))
    for name in ("BytesRead", "GetRecordsCalls", "BatchRecords", "BatchBytes"):
        if total(st, name) != total(sh_ds, name):
            probs.append("stream %s %s != sum over shards %s"
                         % (name, total(st, name), total(sh_ds, name)))
    n_br = sum(d["stats"]["SampleCount"] for d in st
               if d["name"] == "BatchRecords")
    if n_br != len(objs):
        probs.append("stream BatchRecords SampleCount %s, %d objects"
                     % (n_br, len(objs)))
    wr = [d["value"] for d in st if d["name"] == "WorkersRunning"]
    if not wr or max(wr) != 2 or min(wr) < 0:
        probs.append("WorkersRunning values %s, want max 2" % wr[:20])
    for zero in ("NotificationErrors", "WorkerRestarts", "S3PutErrors",
                 "GetRecordsThrottled"):
        if total(st, zero) != 0:
            probs.append("stream %s %s" % (zero, total(st, zero)))
    mbl = [d["value"] for d in st if d["name"] == "MillisBehindLatest"]
    if not mbl or min(mbl) < 0:
        probs.append("stream MillisBehindLatest %s" % mbl[:10])
    ok(not probs, "healthy: stream-level aggregates (StreamName only) equal "
       "the per-shard sums and the archive; WorkersRunning 2", *probs)


def check_statsd(statsd, prefix, put, objs, label):
    lines = statsd.lines()
    ok(lines, "%s: statsd lines received (%d)" % (label, len(lines)))
    bad, parsed = [], []
    for ln in lines:
        m = STATSD_RE.match(ln)
        if not m or m.group("prefix") != prefix or m.group("name") not in ALL:
            bad.append(ln)
            continue
        parsed.append((m.group("name"), float(m.group("value")),
                       m.group("type"), m.group("shard")))
    ok(not bad, "%s: every statsd line is '%s<Name>[.<ShardId>]:<value>|c|g|ms' "
       "with a documented name" % (label, prefix), *[repr(b) for b in bad[:10]])
    noshard = sorted({"%s (%s)" % (n, sh) for n, _, _, sh in parsed
                      if (sh is None) != (n in STATSD_WIDE)})
    ok(not noshard, "%s: statsd: per-shard names carry their ShardId, "
       "WorkersRunning and NotificationsPending none" % label, *noshard[:10])
    lag = {sh for n, _, t, sh in parsed
           if n == "MillisBehindLatest" and t == "g"}
    shards_seen = {p[0] for p in put}
    ok(shards_seen <= lag,
       "%s: statsd: per-shard lag, MillisBehindLatest.<ShardId>|g, for every "
       "shard (%s)" % (label, ", ".join(sorted(lag))),
       "missing %s" % sorted(shards_seen - lag))
    wrong_type = sorted({"%s|%s" % (n, t) for n, _, t, _ in parsed
                         if t != ("c" if n in COUNTERS else
                                  "g" if n in GAUGES else "ms")})
    ok(not wrong_type, "%s: counters |c, gauges |g, timers |ms" % label,
       *wrong_type)
    names = {n for n, _, _, _ in parsed}
    need = {"RecordsRead", "BytesRead", "GetRecordsCalls", "MillisBehindLatest",
            "BatchesFlushed", "BatchRecords", "BatchBytes", "FlushLatency",
            "WorkersRunning"}
    ok(need <= names, "%s: statsd carries %s" % (label, ", ".join(sorted(need))),
       "missing %s" % sorted(need - names))

    def s(name, typ):
        return sum(v for n, v, t, _ in parsed if n == name and t == typ)
    nbytes = sum(len(p[3]) for p in put)
    ok(s("RecordsRead", "c") == len(put),
       "%s: statsd RecordsRead counters sum to the %d records put"
       % (label, len(put)), "sum %s" % s("RecordsRead", "c"))
    ok(s("BatchesFlushed", "c") == len(objs) and
       s("BatchRecords", "c") == len(put) and
       sum(1 for n, _, _, _ in parsed if n == "BatchRecords") == len(objs),
       "%s: statsd BatchesFlushed == %d objects, BatchRecords counters sum to "
       "%d" % (label, len(objs), len(put)),
       "BatchesFlushed %s, BatchRecords sum %s" % (
           s("BatchesFlushed", "c"), s("BatchRecords", "c")))
    ok(s("BytesRead", "c") >= nbytes,
       "%s: statsd BytesRead >= payload bytes (%d)" % (label, nbytes),
       "BytesRead %s" % s("BytesRead", "c"))
    wr = [v for n, v, _, _ in parsed if n == "WorkersRunning"]
    ok(2 in wr and all(0 <= v <= 2 for v in wr),
       "%s: statsd WorkersRunning gauge reaches 2" % label, repr(wr[:20]))


# ------------------------------------------------------------ phases 2, 3

NOTIFY_WITHIN = 8


def notified(moto, queue, keys, timeout):
    """Receive notifications until every key in keys was announced or
    timeout; return (announced keys, seconds taken)."""
    seen = set()
    t0 = time.monotonic()
    while not keys <= seen and time.monotonic() - t0 < timeout:
        r = moto.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            moto.sqs.delete_message(QueueUrl=queue,
                                    ReceiptHandle=m["ReceiptHandle"])
            try:
                seen.add(json.loads(json.loads(m["Body"])["Message"])["key"])
            except (ValueError, KeyError, TypeError):
                pass
    return seen, time.monotonic() - t0


def phase_failing(moto, kind):
    stream = "metrics-%s" % kind
    bucket = "kk-metrics-%s" % kind
    moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    if kind == "http500":
        server = kc.StatusServer(500)
    elif kind == "blackhole":
        server = kc.BlackHole()
    else:  # nothing listens there: connection refused
        server = contextlib.nullcontext()
        server.endpoint = "http://127.0.0.1:%d" % kc.closed_port()
    shutdown_timeout = 10
    with kc.UdpListener() as statsd, server:
        overrides = {
            "endpoints.cloudwatch": server.endpoint,
            "cloudwatch.namespace": NS + "Failing",
            "cloudwatch.interval": "2s",
            "statsd.host": "127.0.0.1",   # default prefix
            "statsd.port": statsd.port,
            "read.interval": "200ms",
            "batch.max_age": "1s",
            "workers.shutdown_timeout": "%ds" % shutdown_timeout,
        }
        topic, queue = moto.create_topic_queue("kk-%s" % kind,
                                               "kk-%s-q" % kind)
        with kk.Keeper(moto, stream, bucket, overrides=overrides,
                       topic_arn=topic, name="metrics-" + kind) as keeper:
            put = moto.put_records(stream, items(60, 0))
            keeper.start()
            # records arriving while CloudWatch is failing
            for r in range(4):
                time.sleep(1)
                put += moto.put_records(stream, items(20, 500 + 20 * r))
            n, took = kc.wait_archived(moto, keeper, bucket, len(put),
                                       ARCHIVE_TIMEOUT)
            ok(n >= len(put), "%s: archiving completes while CloudWatch fails "
               "(%d records, %.1fs after the last put)" % (kind, len(put), took),
               "archived %d" % n)
            # the supervisor publishes notifications: metrics must not hold
            # its loop up
            keys = {o["Key"] for o in moto.s3.list_objects_v2(
                Bucket=bucket).get("Contents", [])
                if not kk.is_head_key(o["Key"])}
            seen, wait = notified(moto, queue, keys, NOTIFY_WITHIN)
            ok(keys <= seen, "%s: every object notified within %ds of the "
               "archive being complete (%d objects, took %.1fs)"
               % (kind, NOTIFY_WITHIN, len(keys), wait),
               "%d of %d notified" % (len(keys & seen), len(keys)))
            # at least two intervals with failing pushes
            if kind == "http500":
                kk.wait_until(lambda: len(pushes(
                    [r["t"] for r in server.requests], 0.9)) >= 2, 10, 0.2)
            elif kind == "blackhole":
                kk.wait_until(lambda: len(server.conns) >= 1, 10, 0.2)
            fail_lines = kk.wait_until(lambda: kc.log_has(
                keeper, r"cloudwatch.*(fail|error|dropped|refused|timed? ?out)"),
                20, 0.3)
            ok(fail_lines, "%s: the log has a clear cloudwatch failure line"
               % kind, *keeper.tail(15))
            if fail_lines:
                diag("%s: e.g. %s" % (kind, fail_lines[0]))
            ok(keeper.running(), "%s: the keeper keeps running" % kind)
            # archiving goes on after failed pushes
            more = moto.put_records(stream, items(20, 900))
            put += more
            n, took = kc.wait_archived(moto, keeper, bucket, len(put), 30)
            ok(n >= len(put), "%s: records put after failed pushes archived "
               "too (%.1fs)" % (kind, took), "archived %d of %d" % (n, len(put)))
            t0 = time.monotonic()
            rc = keeper.stop(shutdown_timeout + 30)
            dt = time.monotonic() - t0
            ok(rc == 0 and dt <= shutdown_timeout + 2,
               "%s: SIGTERM -> exit 0 within workers.shutdown_timeout %ds "
               "(took %.1fs)" % (kind, shutdown_timeout, dt), "exit %s" % rc,
               *keeper.tail(12))
            ok(not keeper.leftovers(), "%s: no worker left behind" % kind)
            ok(not keeper.sanitizer_reports(),
               "%s: no sanitizer report" % kind,
               *keeper.sanitizer_reports()[:10])
            if kind == "http500":
                reqs = list(server.requests)
                # the same body sent again in a row is a retry of one batch
                run, longest = 0, 0
                for a, b in zip([None] + reqs, reqs):
                    run = run + 1 if a is not None and a["form"] == b["form"] \
                        else 1
                    longest = max(longest, run)
                ok(reqs and all(r["form"].get("Action") == "PutMetricData"
                                for r in reqs) and longest <= 3,
                   "http500: each PutMetricData batch tried a bounded number "
                   "of times, then dropped (%d requests, at most %d tries of "
                   "one batch)" % (len(reqs), longest))
            objs = kk.check_objects(moto.fetch_objects(bucket), stream, "",
                                    label=kind)
            kk.assert_exactly_once(put, objs, label=kind)
            lines = statsd.lines()
            good = [ln for ln in lines if STATSD_RE.match(ln) and
                    ln.startswith("kinesis_keeper.")]
            rr = sum(float(STATSD_RE.match(ln).group("value")) for ln in good
                     if STATSD_RE.match(ln).group("name") == "RecordsRead")
            ok(lines and len(good) == len(lines) and rr == len(put),
               "%s: statsd unaffected, default prefix 'kinesis_keeper.', "
               "RecordsRead sums to %d" % (kind, len(put)),
               "%d lines, %d well-formed with default prefix, RecordsRead %s"
               % (len(lines), len(good), rr), *lines[:5])


def phase_closed(moto):
    """A shard that is done leaves the metrics after the next push."""
    stream, bucket = "metrics-closed", "kk-metrics-closed"
    moto.create_bucket(bucket)
    with kx.Kinesalite() as kl, kc.Forwarder(moto.port) as cw:
        kin = kx.client("kinesis", kl.endpoint)
        parent = kx.create_stream(kin, stream, 1)[0]
        kin.put_records(StreamName=stream, Records=[
            {"Data": payload(i), "PartitionKey": "k%d" % i}
            for i in range(40)])
        sh = kx.list_shards(kin, stream)[0]
        hi = int(sh["HashKeyRange"]["EndingHashKey"])
        kin.split_shard(StreamName=stream, ShardToSplit=parent,
                        NewStartingHashKey=str((hi + 1) // 2))
        ok(kx.wait_active(kin, stream), "closed: split, stream ACTIVE")
        kids = [s["ShardId"] for s in kx.list_shards(kin, stream)
                if s.get("ParentShardId") == parent]
        overrides = {
            "endpoints.kinesis": kl.endpoint,
            "endpoints.cloudwatch": cw.endpoint,
            "cloudwatch.namespace": NS,
            "cloudwatch.interval": "2s",
            "read.interval": "200ms",
            "topology.refresh": "1s",
            "batch.max_age": "1s",
        }
        with kk.Keeper(moto, stream, bucket, overrides=overrides,
                       name="closed") as keeper:
            keeper.start()
            done_pat = r"^%s: shard done$" % parent
            got = kk.wait_until(lambda: kx.grep(kx.parse_log(keeper.log()),
                                                done_pat), 30, 0.1)
            t_done = time.monotonic()
            ok(got and len(kids) == 2, "closed: the closed parent %s is read "
               "to its end (\"shard done\")" % parent, *keeper.tail(20))
            # three more pushes: the one that may still carry its last
            # values, and two that must not name it
            kk.wait_until(lambda: len(pushes(
                [d["t"] for d in datums(cw) if d["t"] > t_done])) >= 3,
                4 * INTERVAL + 10, 0.2)
            rc = keeper.stop(30)
            ok(rc == 0, "closed: SIGTERM -> exit 0", "exit %s" % rc)
        ds = datums(cw)
        groups = pushes([d["t"] for d in ds])
        mine = [d for d in ds if d["dims"].get("ShardId") == parent]
        ok(mine, "closed: the parent's datums were pushed (%d)" % len(mine))
        after = [g for g in groups if g[0] > t_done]
        late = [d for g in after[1:] for d in mine
                if g[0] <= d["t"] <= g[-1]]
        ok(len(after) >= 3 and not late,
           "closed: after \"shard done\", no push but the next names "
           "ShardId %s (%d later pushes, %d datums of it)"
           % (parent, len(after) - 1, len(late)),
           *["%s %r" % (d["name"], d.get("value")) for d in late[:5]])
        last = after[-1] if after else [0, 0]
        kid = [d for d in ds if last[0] <= d["t"] <= last[-1] and
               d["dims"].get("ShardId") in kids]
        ok(kid, "closed: the children's datums go on in the last push "
           "(%d)" % len(kid))


def scenario():
    kk.become_subreaper()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return
    t0 = time.monotonic()
    with kk.Moto() as moto:
        moto.check_auth()
        phase_healthy(moto)
        diag("healthy phase: %.1fs" % (time.monotonic() - t0))
        t1 = time.monotonic()
        phase_failing(moto, "http500")
        diag("http500 phase: %.1fs" % (time.monotonic() - t1))
        t1 = time.monotonic()
        phase_failing(moto, "refused")
        diag("refused phase: %.1fs" % (time.monotonic() - t1))
        t1 = time.monotonic()
        phase_failing(moto, "blackhole")
        diag("blackhole phase: %.1fs" % (time.monotonic() - t1))
        t1 = time.monotonic()
        if ok(kx.Kinesalite.available(), "kinesalite is installed "
              "(tests/setup.sh)", "no node or no %s/kinesalite"
              % kx.NODE_MODULES):
            phase_closed(moto)
        diag("closed phase: %.1fs" % (time.monotonic() - t1))
    diag("total: %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
