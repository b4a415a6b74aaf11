#!/usr/bin/env python3
"""
test_blackhole.py: the supervisor never waits on the network (issue 13,
kinesis-keeper(8) ARCHITECTURE). SNS and CloudWatch point at a server that
accepts TCP connections and never answers, and after start-up every
ListShards is held the same way (a stall in faultproxy.py); the workers'
own Kinesis and S3 traffic goes on. Meanwhile one worker is SIGKILLed every
3 seconds (each shard once, so every restart is a first one): each must be
running again within workers.restart_min + 200 ms. The notify helper is
SIGKILLed too: it is restarted, and no notification is lost (the outbox keeps
them). SIGTERM then ends the keeper within workers.shutdown_timeout + 1 s,
and the supervisor's longest loop turn (its own log line) stays under 50 ms.
"""

import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
import kk_formats as kf  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from kk import ok, diag  # noqa: E402

STREAM = "hole"
BUCKET = "kk-hole"
SHARDS = 4
RESTART_MIN = 1000      # ms
SHUTDOWN = 3000         # ms
STALL_LIMIT = 50        # ms


class BlackHole:
    """Accepts connections on 127.0.0.1 and never answers; counts them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.halt = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.halt:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)

    def close(self):
        self.halt = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


def shard_worker(keeper, shard):
    """PID of the live worker of shard, or None."""
    for pid in kf.worker_pids(keeper):
        if (" -s %s " % shard) in kk._proc_cmdline(pid):
            return pid
    return None


def scenario():
    kk.become_subreaper()
    with kk.Moto() as moto, FaultProxy(moto.port) as proxy:
        hole = BlackHole()
        try:
            run(moto, proxy, hole)
        finally:
            hole.close()


def run(moto, proxy, hole):
    shards = moto.create_stream(STREAM, SHARDS)
    moto.create_bucket(BUCKET)
    dead = "http://127.0.0.1:%d" % hole.port
    overrides = {
        "endpoints.kinesis": "http://127.0.0.1:%d" % proxy.port,
        "endpoints.sns": dead, "endpoints.cloudwatch": dead,
        "sns.topic_arn": "arn:aws:sns:us-east-1:123456789012:hole",
        "cloudwatch.namespace": "KKHole", "cloudwatch.interval": "1s",
        "topology.refresh": "1s", "batch.max_age": "1s",
        "read.interval": "200ms",
        "workers.restart_min": "%dms" % RESTART_MIN,
        "workers.restart_max": "10s",
        "workers.shutdown_timeout": "%dms" % SHUTDOWN,
    }
    with kk.Keeper(moto, STREAM, BUCKET, overrides=overrides,
                   name="hole") as keeper:
        keeper.start()
        sup = keeper.proc.pid
        if not ok(kk.wait_until(lambda: all(shard_worker(keeper, s)
                                            for s in shards), 30, 0.1),
                  "a worker per shard (%d)" % SHARDS, *keeper.tail(20)):
            return
        helpers = kk.helper_processes(sup)
        ok(sorted(helpers) == ["metrics", "notify", "topology"],
           "three helpers run beside the workers: %s" % sorted(helpers))
        # from now on every ListShards hangs, as SNS and CloudWatch do
        hold = proxy.add_rule("kinesis", op="ListShards", action="stall",
                              seconds=600)
        moto.put_records(STREAM, [("pk-%d" % i, b'{"i":%d}' % i)
                                  for i in range(200)])
        ok(kk.wait_until(lambda: hold.hits >= 1 and len(hole.conns) >= 2,
                         20, 0.2),
           "ListShards, SNS and CloudWatch calls are held (%d ListShards "
           "held, %d connections to the black hole)" % (hold.hits,
                                                          len(hole.conns)))
        ok(kk.wait_until(lambda: any(
            os.listdir(os.path.join(keeper.state_dir, "outbox", s))
            for s in shards
            if os.path.isdir(os.path.join(keeper.state_dir, "outbox", s))),
            20, 0.2), "flushes leave notifications in the outbox")

        # a worker SIGKILLed every 3 s, each shard once; the restart is
        # timed from the kill to the supervisor's own "started worker pid"
        # line (both wall clocks of this host, ms): the test's polling of
        # /proc is not part of it
        late = []
        for shard in shards:
            old = shard_worker(keeper, shard)
            t = time.monotonic()
            t_kill = time.time()
            kk.kill_pid(old)
            new = kk.wait_until(lambda: (lambda p: p if p and p != old
                                         else None)(
                shard_worker(keeper, shard)), 10, 0.01)
            took = None
            for ln in kx.parse_log(keeper.log()):
                m = re.match(r"^%s: started worker pid %d " % (
                    re.escape(shard), new or -1), ln.msg)
                if m:
                    took = (ln.t - t_kill) * 1000
            diag("%s: SIGKILL -> new worker started after %s ms" % (
                shard, "%.0f" % took if took is not None else "?"))
            if not new or took is None or took > RESTART_MIN + 200:
                late.append("%s: %s after %s ms" % (
                    shard, "restarted" if new else "not restarted",
                    "%.0f" % took if took is not None else "?"))
            time.sleep(max(0, 3 - (time.monotonic() - t)))
        ok(not late, "every SIGKILLed worker was running again within "
           "restart_min + 200 ms (%d ms) while the black hole held the "
           "supervisor's calls" % (RESTART_MIN + 200), *late)

        # the notify helper dies with a publication out
        helpers = kk.helper_processes(sup)
        pending = sum(len(os.listdir(os.path.join(keeper.state_dir,
                                                  "outbox", s)))
                      for s in os.listdir(os.path.join(keeper.state_dir,
                                                       "outbox")))
        kk.kill_pid(helpers.get("notify", 0))
        again = kk.wait_until(lambda: kk.helper_processes(sup).get(
            "notify") not in (None, helpers.get("notify")), 10, 0.05)
        ok(again, "a SIGKILLed notify helper is started again")
        left = sum(len(os.listdir(os.path.join(keeper.state_dir, "outbox",
                                               s)))
                   for s in os.listdir(os.path.join(keeper.state_dir,
                                                    "outbox")))
        ok(pending > 0 and left >= pending,
           "the helper's death lost no notification (%d in the outbox "
           "before, %d after)" % (pending, left))
        ok(kk.wait_until(lambda: sum(
            1 for s in shards if shard_worker(keeper, s)) == SHARDS, 5, 0.1),
           "every worker runs")

        t = time.monotonic()
        rc = keeper.stop(SHUTDOWN / 1000.0 + 10)
        took = time.monotonic() - t
        ok(rc == 0 and took <= SHUTDOWN / 1000.0 + 1,
           "SIGTERM: the keeper exits 0 within shutdown_timeout + 1 s "
           "(%.2f s) though SNS, CloudWatch and ListShards never answer"
           % took, "exit status %r" % rc, *keeper.tail(15))
        ok(not kk.helper_processes(sup) and not keeper.leftovers(),
           "no helper or worker is left")
        log = keeper.log()
        lines = log.splitlines()
        for i, ln in enumerate(lines):
            if "longest turn so far" in ln:
                diag(*lines[max(0, i - 3):i + 1])
        m = re.findall(r"stopped \(longest loop turn (\d+) ms;", log)
        ok(len(m) == 1 and int(m[0]) < STALL_LIMIT,
           "the supervisor's longest loop turn stayed under %d ms (%s ms)"
           % (STALL_LIMIT, m[0] if m else "?"))
        ok(len(re.findall(r"some notifications are still pending", log))
           == 1, "the pending notifications are named once at the stop")
        san = keeper.sanitizer_reports()
        ok(not san, "no sanitizer report in the log", *san[:10])


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
