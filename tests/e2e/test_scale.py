#!/usr/bin/env python3
"""
test_scale.py: topologies a hostile or huge stream can have (issue 12 items
6, 7 and 13), against a fake ListShards endpoint and fake workers
(fake_worker.py through KINESIS_KEEPER_WORKER; the helpers are the real
worker program).
  L  a 128-character shard ID (the AWS maximum) runs and is not restarted;
     a shard listed twice is counted and started once; two shards that
     name each other as parents are logged as a cycle, once each, and not
     started
  M  100,000 shards with workers.max = 4: four workers, one line saying how
     many wait, and SIGTERM still ends the keeper at once
  W  60 shards waiting for an open parent: over 3 s of loop turns (strace
     on the supervisor alone) no checkpoint or outbox is opened again; the
     waiting slots are decided in memory (issue 12 item 15)
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
import kk_faults as kfl  # noqa: E402
from kk import ok, diag  # noqa: E402
from test_supervision import Fake  # noqa: E402

STREAM = "scale"
LONG = "shardId-" + "x" * 120
PAGE = 10000


class FakeKinesis(kk.LoopbackServer):
    """ListShards only: the shards given, PAGE per page with NextToken."""

    def __init__(self):
        self.shards = []
        self.calls = 0
        outer = self

        class Handler(kk.http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(n) or b"{}")
                outer.calls += 1
                start = int(req.get("NextToken", "0") or 0)
                page = outer.shards[start:start + PAGE]
                out = {"Shards": page}
                if start + PAGE < len(outer.shards):
                    out["NextToken"] = str(start + PAGE)
                body = json.dumps(out, separators=(",", ":")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._serve(Handler)
        self.access_key_id = "AKIDSCALE"
        self.secret_access_key = "scale-secret"

    def set(self, shards):
        """shards: [(id, parent or None)]"""
        out = []
        for sid, parent in shards:
            d = {"ShardId": sid,
                 "HashKeyRange": {"StartingHashKey": "0",
                                  "EndingHashKey": "1"},
                 "SequenceNumberRange": {"StartingSequenceNumber": "0"}}
            if parent:
                d["ParentShardId"] = parent
            out.append(d)
        self.shards = out


OVERRIDES = {"workers.restart_min": "200ms", "workers.restart_max": "2s",
             "workers.shutdown_timeout": "2s", "topology.refresh": "1s"}


def scenario():
    kk.become_subreaper()
    with FakeKinesis() as fk:
        phase_long(fk)
        phase_waiting(fk)
        phase_many(fk)


def phase_long(fk):
    a, b = "shardId-00000000000a", "shardId-00000000000b"
    one = "shardId-000000000001"
    fk.set([(LONG, None), (one, None), (one, None), (a, b), (b, a)])
    fake = Fake({})
    try:
        with kk.Keeper(fk, STREAM, "kk-scale", overrides=OVERRIDES,
                       env=fake.env, name="long") as keeper:
            keeper.start()
            ok(kk.wait_until(lambda: fake.starts(LONG) and fake.starts(one),
                             15, 0.1),
               "L: the 128-character shard and the listed-twice one start",
               *keeper.tail(15))
            time.sleep(3)   # three topology refreshes
            lines = kx.parse_log(keeper.log())
            ok(len(fake.starts(LONG)) == 1 and
               not kx.grep(lines, r"unexpected HELLO"),
               "L: a 128-character shard ID runs, never restarted (%d "
               "starts, HELLO accepted)" % len(fake.starts(LONG)),
               *[repr(x) for x in kx.grep(lines, "x{120}")][-5:])
            ok(len(fake.starts(one)) == 1,
               "L: a shard listed twice is started once (%d starts)"
               % len(fake.starts(one)))
            ok(kx.grep(lines, r"^stream %s: 4 shards$" % STREAM),
               "L: \"stream %s: 4 shards\": the duplicate counted once"
               % STREAM, *[repr(x) for x in kx.grep(lines, "shards")][:3])
            for s in (a, b):
                cyc = kx.grep(lines, r"^%s: ParentShardId cycle \(" % s)
                ok(len(cyc) == 1 and not fake.starts(s),
                   "L: %s: the parent cycle is logged once (%d lines, 3 "
                   "refreshes) and the shard not started" % (s, len(cyc)),
                   *[repr(x) for x in cyc])
            rc = keeper.stop(10)
            ok(rc == 0, "L: SIGTERM: exit 0", "exit status %r" % rc)
    finally:
        fake.cleanup()


def phase_waiting(fk):
    parent = "shardId-000000000100"
    kids = ["shardId-%012d" % (200 + i) for i in range(60)]
    fk.set([(parent, None)] + [(c, parent) for c in kids])
    fake = Fake({})
    trace = None
    try:
        with kk.Keeper(fk, STREAM, "kk-scale", overrides=OVERRIDES,
                       env=fake.env, name="waiting") as keeper:
            trace = os.path.join(keeper.tmp, "strace.txt")
            keeper.start()
            ok(kk.wait_until(lambda: fake.starts(parent) and re.search(
                r"stream %s: 61 shards" % STREAM, keeper.log()), 15, 0.1),
               "W: the open parent runs, its 60 children are listed",
               *keeper.tail(10))
            # the supervisor alone (no -f): its workers and helpers open
            # their own files; SIGINT after 3 s detaches strace
            subprocess.run(["timeout", "-s", "INT", "3", "strace", "-q",
                            "-p", str(keeper.proc.pid), "-e",
                            "trace=open,openat,poll,ppoll", "-o", trace],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
            try:
                with open(trace) as f:
                    calls = f.read().splitlines()
            except OSError:
                calls = []
            turns = [c for c in calls if re.match(r"(pp|p)oll\(", c)]
            opens = [c for c in calls if re.match(r"open(at)?\(", c) and
                     re.search(r"/(checkpoints|outbox)/", c)]
            diag("W: %d loop turns (polls), %d opens of checkpoints/ or "
                 "outbox/ in 3 s" % (len(turns), len(opens)))
            ok(len(turns) >= 3 and len(opens) <= 5,
               "W: 60 waiting slots: %d opens of a checkpoint or outbox "
               "over %d loop turns (at most 5; the old schedule() opened "
               "one per waiting slot per turn)" % (len(opens), len(turns)),
               *opens[:5])
            ok(not fake.starts(kids[0]) and not fake.starts(kids[-1]),
               "W: the children of an open parent are not started")
            rc = keeper.stop(10)
            ok(rc == 0, "W: SIGTERM: exit 0", "exit status %r" % rc)
    finally:
        fake.cleanup()


def phase_many(fk):
    n = 100000
    fk.set([("shardId-%012d" % i, None) for i in range(n)])
    fake = Fake({})
    ov = dict(OVERRIDES)
    ov["workers.max"] = 4
    ov["topology.refresh"] = "60s"
    try:
        with kk.Keeper(fk, STREAM, "kk-scale", overrides=ov, env=fake.env,
                       name="many") as keeper:
            rss = kfl.RssSampler(keeper, 0.2)
            t0 = time.monotonic()
            keeper.start()
            rss.start()
            started = lambda: [f for f in os.listdir(fake.dir)
                               if f.endswith(".events")]
            got = kk.wait_until(lambda: len(started()) >= 4, 60, 0.1)
            diag("M: first 4 workers after %.1f s" % (time.monotonic() - t0))
            ok(got, "M: 100,000 shards listed: workers start (within 60 s)",
               *keeper.tail(10))
            time.sleep(3)
            lines = kx.parse_log(keeper.log())
            ok(len(started()) == 4 and len(keeper.workers()) == 4,
               "M: workers.max = 4: exactly 4 workers (%d shards started, "
               "%d processes)" % (len(started()), len(keeper.workers())))
            cap = kx.grep(lines, r"^stream %s: 100000 shards to read, more "
                          r"than workers.max \(4\): 99996 wait" % STREAM)
            ok(len(cap) == 1, "M: one line says 100000 shards, workers.max "
               "4, 99996 waiting (%d lines)" % len(cap), *keeper.tail(5))
            t = time.monotonic()
            t_term = time.time()
            rc = keeper.stop(20)
            took = time.monotonic() - t
            rss.stop()
            diag("M: supervisor peak RSS %d KiB" % rss.peak["supervisor"])
            seen = kx.grep(kx.parse_log(keeper.log()),
                           r"^SIGTERM: stopping workers$")
            react = (seen[0].t - t_term) if seen else None
            ok(rc == 0 and react is not None and react <= 1.0 and took < 3,
               "M: SIGTERM with 100,000 shards: obeyed after %s s (<= 1 s), "
               "exit 0 after %.2f s" % ("%.2f" % react if react is not None
                                        else "?", took),
               "exit status %r" % rc, *keeper.tail(8))
            lines = keeper.log().splitlines()
            for i, ln in enumerate(lines):
                if "longest turn so far" in ln:
                    diag(*lines[max(0, i - 4):i + 1])
            m = re.findall(r"longest loop turn (\d+) ms", keeper.log())
            diag("M: longest loop turn %s ms" % (m[0] if m else "?"))
    finally:
        fake.cleanup()


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
