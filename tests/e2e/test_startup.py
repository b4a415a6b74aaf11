#!/usr/bin/env python3
"""
test_startup.py: what an operator meets first. The keeper is started before
its stream exists: it says so, waits without crashing, and archives once the
stream appears. A configuration error found at start is reported with file
and line and exit 78, before anything runs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok  # noqa: E402

STREAM = "late-stream"
BUCKET = "kk-startup"


def scenario():
    with kk.Moto() as moto:
        moto.create_bucket(BUCKET)
        with kk.Keeper(moto, STREAM, BUCKET, overrides={
                "batch.max_age": "1s", "read.interval": "200ms",
                "topology.refresh": "1s"}) as k:
            k.start()
            waited = kk.wait_until(
                lambda: "does not exist" in k.log(), 20, 0.2)
            ok(waited, "a missing stream is reported (\"does not exist "
               "(yet); waiting\")", *k.tail(10))
            ok(k.running(), "the keeper keeps running while it waits")

            moto.create_stream(STREAM, 2)
            put = moto.put_records(STREAM, [("pk-%d" % i, b'{"n":%d}' % i)
                                            for i in range(60)])
            cache = {}
            done = kk.wait_until(
                lambda: kk.archived_records(moto, BUCKET, cache) >= len(put),
                60, 0.5)
            ok(done, "once the stream exists, its records are archived "
               "(%d put)" % len(put))
            code = k.stop()
            ok(code == 0, "SIGTERM: exit 0 (got %s)" % code)
            objs = moto.fetch_objects(BUCKET)
            kk.check_objects(objs, STREAM, "")
            kk.assert_exactly_once(put, objs)

        # a bad configuration: every error, file:line, 78, nothing started
        with kk.Keeper(moto, STREAM, BUCKET, overrides={
                "batch.max_age": "soon", "format.level": 20}) as k:
            code, out, err = kk.run_keeper(["-d", k.conf])
            lines = [ln for ln in err.splitlines() if ln.strip()]
            ok(code == 78, "a bad configuration exits 78 (got %s)" % code,
               *lines)
            ok(len(lines) == 2 and all(
                ln.startswith(k.conf + ":") for ln in lines),
               "both errors reported as file:line: message", *lines)
            ok(not os.path.exists(k.state_dir),
               "nothing was started or created")


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
