#!/usr/bin/env python3
"""
status_live.py: `kinesis-keeper status` beside a running keeper while S3
fails (a fault proxy answers every PUT with 403 AccessDenied): the shard
shows its error and the time it began, exit 1; once S3 takes PUTs again the
shard is healthy, exit 0, and every record is archived once.
With the supervisor's status.json writer (issue 11).
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

STREAM = "live-status"
BUCKET = "kk-live-status"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def status(k, json_out=False):
    args = ["status"] + (["-j"] if json_out else []) + [k.conf]
    code, out, err = kk.run_keeper(args, timeout=20)
    if json_out:
        try:
            return code, json.loads(out), err
        except ValueError:
            return code, None, out + err
    return code, out, err


def scenario():
    with kk.Moto() as moto, FaultProxy(moto.port) as proxy:
        ids = moto.create_stream(STREAM, 2)
        moto.create_bucket(BUCKET)
        with kk.Keeper(moto, STREAM, BUCKET, overrides={
                "endpoints.s3": proxy.endpoint, "batch.max_age": "1s",
                "read.interval": "200ms",
                "workers.shutdown_timeout": "10s"}) as k:
            k.start()
            put = moto.put_records(STREAM, [("pk-%d" % i, b'{"n":%d}' % i)
                                            for i in range(40)])
            cache = {}
            kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                          >= len(put), 60, 0.5)
            last = {}

            def healthy():
                last["r"] = status(k, True)
                code, doc, _ = last["r"]
                return code == 0 and doc and doc["healthy"] and \
                    sorted(s["shard"] for s in doc["shards"]) == ids
            ok(kk.wait_until(healthy, 20, 0.5),
               "status beside a running keeper: healthy, exit 0, every shard",
               json.dumps(last["r"][1])[:800] if last["r"][1] else
               last["r"][2])

            rule = proxy.add_rule("s3", action="status", method="PUT",
                                  status=403, code="AccessDenied",
                                  message="Access Denied")
            put += moto.put_records(STREAM, [("pk-%d" % i, b'{"m":%d}' % i)
                                             for i in range(40)])

            def failing():
                last["r"] = status(k, True)
                code, doc, _ = last["r"]
                if code != 1 or not doc:
                    return None
                bad = [s for s in doc["shards"] if s.get("error") and
                       "AccessDenied" in s["error"]]
                return bad or None
            bad = kk.wait_until(failing, 40, 0.5)
            ok(bad and all(s["state"] in ("backoff", "running") and
                           not s["healthy"] and
                           TS_RE.match(s.get("error_time") or "") and
                           ("s3://%s" % BUCKET) in s["error"] for s in bad),
               "while S3 refuses PUTs: the shard shows its error (s3://%s, "
               "AccessDenied) and its time, exit 1" % BUCKET,
               json.dumps(last["r"][1])[:1200] if last["r"][1] else
               last["r"][2])
            code, out, _ = status(k)
            kk.diag("status while S3 refuses PUTs:", *out.splitlines())
            ok(code == 1 and any(re.match(r"shardId-\d+: (backing off|"
                                          r"running), .*error since \S+Z: "
                                          r"s3 put s3://%s" % BUCKET, ln)
                                 for ln in out.splitlines()),
               "status (text): the shard's line carries the error", out)

            proxy.remove_rule(rule)
            ok(kk.wait_until(healthy, 60, 0.5),
               "once S3 takes PUTs again: healthy, exit 0",
               json.dumps(last["r"][1])[:1200] if last["r"][1] else
               last["r"][2])
            done = kk.wait_until(lambda: kk.archived_records(
                moto, BUCKET, cache) >= len(put), 60, 0.5)
            ok(done, "every record archived after the outage")
            code = k.stop()
            ok(code == 0, "the keeper stops with exit 0 (got %s)" % code)
            objs = moto.fetch_objects(BUCKET)
            kk.check_objects(objs, STREAM, "")
            kk.assert_exactly_once(put, objs)
            code, out, _ = status(k)
            ok(code == 1 and "no keeper running" in out.splitlines()[0],
               "after the stop: \"no keeper running\", exit 1", out)


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
