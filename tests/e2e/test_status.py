#!/usr/bin/env python3
"""
test_status.py: what the supervisor tells an operator (issue 11, supervisor
side; kinesis-keeper(8) FILES and EXIT STATUS), against moto.
  S  {state_dir}/status.json: the contract fields, a running shard with its
     pid, a flush's time, key and record count, a SIGKILLed worker shown
     backing off with its error and next start, "stopping" at the end, no
     temp file left
  T  a stream that does not exist: one line a minute (not one per retry)
     naming stream and region, and the keeper-wide error in status.json
  N  an SNS topic that does not exist: the same, naming the topic; the
     notifications wait in the outbox
  A  a stop whose final flush was abandoned (S3 failing): exit 1, and a
     line names the shard
"""

import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
import kk_formats as kf  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from kk import ok, diag  # noqa: E402

TOP = {"version", "pid", "keeper_version", "stream", "region", "started",
       "updated", "stopping", "notifications_pending", "oldest_pending",
       "shards", "error", "error_time"}
SHARD = {"shard", "state", "pid", "restarts", "next_start", "last_flush",
         "last_key", "last_records", "millis_behind", "error", "error_time"}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def status(keeper):
    try:
        with open(os.path.join(keeper.state_dir, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def shard_of(st, shard):
    for s in (st or {}).get("shards", []):
        if s.get("shard") == shard:
            return s
    return None


def scenario():
    kk.become_subreaper()
    with kk.Moto() as moto:
        phase_status(moto)
        phase_stream_missing(moto)
        phase_topic_missing(moto)
        phase_abandoned(moto)


def phase_status(moto):
    stream, bucket = "st", "kk-st"
    shards = moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    ov = {"batch.max_age": "1s", "read.interval": "200ms",
          "workers.restart_min": "3s", "workers.restart_max": "3s"}
    with kk.Keeper(moto, stream, bucket, overrides=ov, name="st") as keeper:
        keeper.start()
        ok(kk.wait_until(lambda: all(
            (shard_of(status(keeper), s) or {}).get("state") == "running"
            for s in shards), 20, 0.2),
           "S: status.json shows both shards running", *keeper.tail(10))
        st = status(keeper)
        ok(st is not None and TOP <= set(st) and st["version"] == 1 and
           st["pid"] == keeper.proc.pid and st["stream"] == stream and
           st["region"] == kk.REGION and TS.match(st["started"] or "") and
           TS.match(st["updated"] or "") and st["stopping"] is False and
           st["error"] is None,
           "S: the top-level fields of the contract (version 1, pid, stream, "
           "region, ISO times, stopping false, no error)",
           json.dumps(st)[:400])
        pids = {s: (shard_of(st, s) or {}).get("pid") for s in shards}
        ok(all(SHARD <= set(shard_of(st, s)) for s in shards) and
           set(pids.values()) == set(kf.worker_pids(keeper)),
           "S: every shard entry has the contract fields and its worker's "
           "pid", repr(pids), repr(kf.worker_pids(keeper)))
        put = moto.put_records(stream, [("pk-%d" % i, b'{"i":%d}' % i)
                                        for i in range(40)])
        s0 = put[0][0]
        got = kk.wait_until(lambda: (shard_of(status(keeper), s0) or {}).get(
            "last_key"), 20, 0.2)
        e = shard_of(status(keeper), s0) or {}
        ok(got and TS.match(e.get("last_flush") or "") and
           ("-%s-" % s0) in e["last_key"] and
           e.get("last_records") == sum(1 for p in put if p[0] == s0),
           "S: after a flush: last_flush, last_key (of %s) and last_records "
           "(%d)" % (s0, sum(1 for p in put if p[0] == s0)), json.dumps(e))
        pid = pids[s0]
        kk.kill_pid(pid)
        got = kk.wait_until(lambda: (shard_of(status(keeper), s0) or {}).get(
            "state") == "backoff", 5, 0.05)
        e = shard_of(status(keeper), s0) or {}
        ok(got and e.get("error") == "worker terminated by signal 9" and
           TS.match(e.get("error_time") or "") and
           TS.match(e.get("next_start") or "") and e.get("pid") is None and
           e.get("restarts") == 1,
           "S: a SIGKILLed worker: state backoff, its error and time, the "
           "next start, restarts 1", json.dumps(e))
        ok(kk.wait_until(lambda: (shard_of(status(keeper), s0) or {}).get(
            "state") == "running", 10, 0.1),
           "S: running again after the backoff")
        rc = keeper.stop(20)
        st = status(keeper)
        ok(rc == 0 and st is not None and st["stopping"] is True,
           "S: after the stop status.json says stopping (exit %r)" % rc)
        left = [n for n in os.listdir(keeper.state_dir)
                if n.startswith(".status.json")]
        ok(not left, "S: no temp file left beside status.json", repr(left))


def phase_stream_missing(moto):
    ov = {"topology.refresh": "1s"}
    with kk.Keeper(moto, "no-such-stream", "kk-st", overrides=ov,
                   name="nostream") as keeper:
        keeper.start()
        time.sleep(12)   # the retry is every 5 s: three tries
        lines = kx.grep(kx.parse_log(keeper.log()), r"does not exist")
        ok(len(lines) == 1 and "no-such-stream" in lines[0].msg and
           kk.REGION in lines[0].msg,
           "T: a missing stream is said once in 12 s (3 tries), with the "
           "stream and the region (%d lines)" % len(lines),
           *[repr(x) for x in lines[:4]])
        st = status(keeper)
        ok(st is not None and st.get("error") and
           "no-such-stream" in st["error"] and
           TS.match(st.get("error_time") or ""),
           "T: status.json carries the keeper-wide error",
           json.dumps(st)[:300] if st else "no status.json")
        rc = keeper.stop(10)
        ok(rc == 0, "T: SIGTERM: exit 0", "exit status %r" % rc)


def phase_topic_missing(moto):
    stream, bucket = "nt", "kk-nt"
    moto.create_stream(stream, 1)
    moto.create_bucket(bucket)
    topic = "arn:aws:sns:%s:123456789012:no-such-topic" % kk.REGION
    ov = {"batch.max_age": "1s", "read.interval": "200ms"}
    with kk.Keeper(moto, stream, bucket, overrides=ov, topic_arn=topic,
                   name="notopic") as keeper:
        keeper.start()
        moto.put_records(stream, [("pk-%d" % i, b'{"i":%d}' % i)
                                  for i in range(10)])
        ok(kk.wait_until(lambda: kx.grep(kx.parse_log(keeper.log()),
                                         r"no-such-topic"), 20, 0.2),
           "N: the missing topic is reported", *keeper.tail(10))
        time.sleep(11)   # publications are retried every 5 s
        lines = kx.grep(kx.parse_log(keeper.log()), r"no-such-topic")
        ok(len(lines) == 1 and kk.REGION in lines[0].msg,
           "N: said once in 11 s of retries, with topic and region (%d "
           "lines)" % len(lines), *[repr(x) for x in lines[:4]])
        st = status(keeper)
        ok(st is not None and "no-such-topic" in (st.get("error") or "") and
           st.get("notifications_pending", 0) >= 1 and
           TS.match(st.get("oldest_pending") or ""),
           "N: status.json: the error, the pending notifications and the "
           "oldest one's time",
           json.dumps(st)[:300] if st else "no status.json")
        rc = keeper.stop(20)
        ok(rc == 0, "N: SIGTERM: exit 0", "exit status %r" % rc)


def phase_abandoned(moto):
    stream, bucket = "ab", "kk-ab"
    shards = moto.create_stream(stream, 2)
    moto.create_bucket(bucket)
    with FaultProxy(moto.port) as proxy:
        ov = {"endpoints.s3": "http://127.0.0.1:%d" % proxy.port,
              "batch.max_age": "60s", "read.interval": "200ms",
              "workers.shutdown_timeout": "3s"}
        with kk.Keeper(moto, stream, bucket, overrides=ov,
                       name="abandon") as keeper:
            keeper.start()
            ok(kk.wait_until(lambda: len(kf.worker_pids(keeper)) == 2, 20,
                             0.2), "A: two workers")
            put = moto.put_records(stream, [("pk-%d" % i, b'{"i":%d}' % i)
                                            for i in range(20)])
            time.sleep(2)    # read, held (max_age 60 s)
            proxy.add_rule("s3", method="PUT", action="status", status=503)
            t = time.monotonic()
            rc = keeper.stop(20)
            took = time.monotonic() - t
            lines = kx.grep(kx.parse_log(keeper.log()),
                            r"^stop: the final flush of \d+ shards? was "
                            r"abandoned")
            held = sorted({p[0] for p in put})
            ok(rc == 1 and len(lines) == 1 and
               all(s in lines[0].msg for s in held),
               "A: S3 failing at the stop: exit 1 in %.1f s and one line "
               "names the shards whose batch waits (%s)" % (took,
                                                          ", ".join(held)),
               "exit status %r" % rc, *keeper.tail(8))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
