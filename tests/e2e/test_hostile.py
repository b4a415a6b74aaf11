#!/usr/bin/env python3
"""
test_hostile.py: endpoints that lie and a disk that fills (issue 12): an
endpoint that misbehaves must never cost a record nor double one, and a
stop must not wait on a stalled read. moto behind faultproxy.py.

  a  one GetRecords answer without NextShardIterator on an open shard: a bad
     answer (counted, logged once, read again), never the end of the shard.
  b  answers that start over at earlier sequence numbers: rejected, never
     archived twice, never a second flush to one key.
  c  SIGTERM while GetRecords hangs: the read is cut short at once and what
     the worker holds is flushed, far inside workers.shutdown_timeout.
  d  state_dir on a 1 MB tmpfs that the keeper's own local copies fill:
     the copies give way, archiving goes on without a restart.
  e  an @include edited behind the keeper's back: a restarted worker keeps
     the configuration the supervisor checked; SIGHUP sees the change. A
     FIFO put in place of the config file is refused at SIGHUP and with -n,
     without hanging.

Run a subset with: python3 test_hostile.py b d
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok, diag  # noqa: E402
import kk_faults as kf  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

PREFIX = "hostile/"
rng = random.Random(20261203)


def overrides(proxy, **extra):
    o = {"endpoints.kinesis": proxy.endpoint, "endpoints.s3": proxy.endpoint,
         "s3.prefix": PREFIX, "workers.shutdown_timeout": "20s",
         "read.interval": "200ms", "local.keep": 2}
    o.update(extra)
    return o


def records(n, size=None):
    if size:
        return [("pk-%d" % (i % 7), rng.randbytes(size)) for i in range(n)]
    return [("pk-%d" % (i % 7), json.dumps({"i": i}).encode())
            for i in range(n)]


def checkpoint(state_dir, shard):
    try:
        with open(os.path.join(state_dir, "checkpoints", shard)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def flushed_keys(keeper):
    return [ln.split(" to s3://", 1)[1].split(" ", 1)[0]
            for ln in kf.log_lines(keeper, r"flushed \d+ records to s3://")]


def stop(keeper, label):
    rc = keeper.stop(40)
    ok(rc == 0, "%s: SIGTERM: exit 0" % label, "exit %s" % rc,
       *keeper.tail(20))
    ok(not keeper.leftovers(), "%s: no worker left behind" % label)
    san = keeper.sanitizer_reports()
    ok(not san, "%s: no sanitizer report" % label, *san[:10])


# ---------------------------------------------------------------- a

def scenario_a(moto):
    label = "a (no NextShardIterator)"
    stream, bucket = "ha", "kk-ha"
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    put = moto.put_records(stream, records(1000))
    with FaultProxy(moto.port) as proxy, kk.Keeper(
            moto, stream, bucket, name="keeper-a", overrides=overrides(
                proxy, **{"read.max_records": 100,
                          "batch.max_age": "2s"})) as keeper:
        rule = proxy.add_rule("kinesis", "corrupt", op="GetRecords",
                              mode="no-next", need_records=True, count=1)
        keeper.start()
        kf.wait_archived(moto, bucket, len(put), 60, label)
        ok(rule.hits == 1, "%s: one answer came without NextShardIterator"
           % label, "hits %d" % rule.hits)
        bad = kf.log_lines(keeper, r"bad answer: no NextShardIterator, but "
                           r"the shard is open")
        ok(len(bad) == 1, "%s: exactly one bad-answer line (got %d)"
           % (label, len(bad)), *keeper.tail(20))
        ok(not kf.log_lines(keeper, r"is done"),
           "%s: the shard is not marked done" % label)
        ck = checkpoint(keeper.state_dir, shard)
        ok(ck is not None and ck.get("done") is False and
           ck.get("seq") == put[-1][1],
           "%s: checkpoint at the last record, not done" % label, repr(ck))
        ok(len(keeper.workers()) == 1, "%s: the worker keeps reading" % label)
        stop(keeper, label)
        kf.verify_archive(moto, bucket, stream, PREFIX, put, label)


# ---------------------------------------------------------------- b

def scenario_b(moto):
    label = "b (earlier sequence numbers)"
    stream, bucket = "hb", "kk-hb"
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    put = moto.put_records(stream, records(600))
    with FaultProxy(moto.port) as proxy, kk.Keeper(
            moto, stream, bucket, name="keeper-b", overrides=overrides(
                proxy, **{"read.max_records": 50, "batch.max_records": 50,
                          "batch.max_age": "2s"})) as keeper:
        # every second answer with records repeats the one before: the
        # endpoint started over at an earlier sequence number, three times
        rule = proxy.add_rule("kinesis", "corrupt", op="GetRecords",
                              mode="repeat", need_records=True, every=2,
                              count=3)
        keeper.start()
        kf.wait_archived(moto, bucket, len(put), 60, label)
        ok(rule.hits == 3, "%s: three answers repeated earlier records"
           % label, "hits %d" % rule.hits)
        bad = kf.log_lines(keeper, r"bad answer: record \d+ is not after")
        ok(len(bad) == 3, "%s: exactly three bad-answer lines (got %d)"
           % (label, len(bad)), *bad)
        time.sleep(1)
        stop(keeper, label)
        keys = flushed_keys(keeper)
        ok(len(keys) == len(set(keys)) == 12,
           "%s: 12 flushes, each to its own key (%d flushes, %d keys)"
           % (label, len(keys), len(set(keys))))
        ck = checkpoint(keeper.state_dir, shard)
        ok(ck is not None and ck.get("seq") == put[-1][1],
           "%s: the checkpoint is at the last record" % label, repr(ck))
        objs = kf.verify_archive(moto, bucket, stream, PREFIX, put, label)
        ok(len(objs) == 12, "%s: 12 objects of 50 records (got %d)"
           % (label, len(objs)))


# ---------------------------------------------------------------- c

def scenario_c(moto):
    label = "c (stop during a stalled GetRecords)"
    stream, bucket = "hc", "kk-hc"
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    put = moto.put_records(stream, records(200))
    with FaultProxy(moto.port) as proxy, kk.Keeper(
            moto, stream, bucket, name="keeper-c", overrides=overrides(
                proxy, **{"batch.max_age": "5m"})) as keeper:
        keeper.start()

        def read_all():
            return sum(r.get("nrec") or 0 for r in
                       proxy.log("kinesis", "GetRecords", shard)) >= len(put)
        ok(kk.wait_until(read_all, 30, 0.1),
           "%s: the worker read all %d records" % (label, len(put)),
           *keeper.tail(20))
        rule = proxy.add_rule("kinesis", "stall", op="GetRecords",
                              seconds=60)
        ok(kk.wait_until(lambda: rule.hits >= 1, 10, 0.05),
           "%s: a GetRecords hangs" % label)
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = keeper.stop(40)
        took = time.monotonic() - t0
        ok(rc == 0 and took < 8,
           "%s: SIGTERM ends the keeper in %.1f s (bound 8 s; the stop "
           "deadline is 19 s)" % (label, took), "exit %s" % rc,
           *keeper.tail(20))
        flushed = kf.log_lines(keeper, r"flushed 200 records to s3://")
        ok(len(flushed) == 1, "%s: the 200 records held were flushed once "
           "(%d lines)" % (label, len(flushed)), *keeper.tail(20))
        ok(not kf.log_lines(keeper, r"abandoned"),
           "%s: nothing abandoned" % label)
        proxy.remove_rule(rule)
        kf.verify_archive(moto, bucket, stream, PREFIX, put, label)


# ---------------------------------------------------------------- d

def scenario_d(moto):
    label = "d (state_dir filled by local copies)"
    if os.geteuid() != 0 or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        diag("%s: needs root and mount namespaces; not run" % label)
        return
    stream, bucket = "hd", "kk-hd"
    shard = moto.create_stream(stream, 1)[0]
    moto.create_bucket(bucket)
    # incompressible: each batch of 200 is a 200 KiB object, ten of them
    # would be 2 MiB of local copies in a 1 MiB state_dir
    put = moto.put_records(stream, records(2000, 1024))
    with FaultProxy(moto.port) as proxy, kk.Keeper(
            moto, stream, bucket, name="keeper-d", overrides=overrides(
                proxy, **{"batch.max_records": 200, "batch.max_age": "2s",
                          "local.keep": 10})) as keeper:
        os.mkdir(keeper.state_dir, 0o750)
        logf = open(keeper.logpath, "ab")
        try:
            # the keeper in its own mount namespace, on a 1 MiB tmpfs
            keeper.proc = subprocess.Popen(
                ["unshare", "-m", "sh", "-c",
                 'mount -t tmpfs -o size=1m,mode=0750 tmpfs "$1" && '
                 'exec "$2" -d -v "$3"', "sh", keeper.state_dir,
                 kk.keeper_bin(), keeper.conf],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                env=kk.keeper_env(), start_new_session=True)
        finally:
            logf.close()
        kf.wait_archived(moto, bucket, len(put), 90, label)
        full = kf.log_lines(keeper, r"no space left")
        ok(full, "%s: the full disk was met and said so" % label,
           *keeper.tail(20))
        crashes = kf.crash_lines(keeper) + kf.log_lines(keeper, r"fatal|"
                                                         r"restarting")
        ok(not crashes, "%s: no worker died or restarted" % label,
           *crashes[:10])
        keys = flushed_keys(keeper)
        ok(len(keys) == len(set(keys)) == 10,
           "%s: 10 flushes, none uploaded again (%d flushes, %d keys)"
           % (label, len(keys), len(set(keys))))
        root = "/proc/%d/root" % keeper.proc.pid
        ck = checkpoint(root + keeper.state_dir, shard)
        ok(ck is not None and ck.get("seq") == put[-1][1],
           "%s: the checkpoint is at the last record" % label, repr(ck))
        stop(keeper, label)
        kf.verify_archive(moto, bucket, stream, PREFIX, put, label)


# ---------------------------------------------------------------- e

def batch_sizes(moto, bucket, seen):
    """Record counts of the archived objects not in seen (which is
    updated); the per-shard head objects under _keeper/ are not archive."""
    out = []
    for page in moto.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket):
        for c in page.get("Contents", []):
            if kk.is_head_key(c["Key"]):
                continue
            if c["Key"] not in seen:
                seen.add(c["Key"])
                h = moto.s3.head_object(Bucket=bucket, Key=c["Key"])
                out.append(int(h["Metadata"].get("records", "0")))
    return sorted(out)


def scenario_e(moto):
    label = "e (@include and reload)"
    stream, bucket = "he", "kk-he"
    moto.create_stream(stream, 1)
    moto.create_bucket(bucket)
    put, seen, cache = [], set(), {}
    with FaultProxy(moto.port) as proxy, kk.Keeper(
            moto, stream, bucket, name="keeper-e", overrides=overrides(
                proxy, **{"workers.restart_min": "200ms"})) as keeper:
        inc = os.path.join(keeper.tmp, "shared.inc")
        with open(inc, "w") as f:
            f.write('batch = { max_records = 10; max_age = "1s"; };\n')
        with open(keeper.conf, "a") as f:
            f.write('@include "shared.inc"\n')
        keeper.start()

        def phase(n, what):
            put.extend(moto.put_records(stream, records(n)))
            done = kk.wait_until(lambda: kk.archived_records(
                moto, bucket, cache) >= len(put), 30, 0.2)
            ok(done, "%s: %s: archived" % (label, what), *keeper.tail(10))
            return batch_sizes(moto, bucket, seen)

        sizes = phase(30, "include says 10")
        ok(sizes == [10, 10, 10], "%s: objects of 10 records (%s)"
           % (label, sizes))
        # the include changes, nobody tells the keeper, a worker restarts
        with open(inc, "w") as f:
            f.write('batch = { max_records = 25; max_age = "1s"; };\n')
        old = keeper.workers()
        for pid in old:
            kk.kill_pid(pid)
        ok(kk.wait_until(lambda: keeper.workers() and
                         not set(keeper.workers()) & set(old), 15, 0.1),
           "%s: the killed worker was restarted" % label)
        sizes = phase(50, "include edited, no SIGHUP")
        ok(sizes == [10] * 5, "%s: the restarted worker kept the checked "
           "configuration: objects of 10 (%s)" % (label, sizes))
        os.kill(keeper.proc.pid, signal.SIGHUP)
        ok(kk.wait_until(lambda: kf.log_lines(
            keeper, r"reload: configuration changed"), 10, 0.1),
           "%s: SIGHUP after editing only the include: changed" % label,
           *keeper.tail(10))
        ok(not kf.log_lines(keeper, r"configuration unchanged"),
           "%s: never \"configuration unchanged\"" % label)
        time.sleep(2)
        sizes = phase(50, "after SIGHUP")
        ok(sizes == [25, 25], "%s: after SIGHUP, objects of 25 (%s)"
           % (label, sizes))

        # a FIFO where the config file was: refused, nothing hangs
        os.rename(keeper.conf, keeper.conf + ".saved")
        os.mkfifo(keeper.conf, 0o600)
        os.kill(keeper.proc.pid, signal.SIGHUP)
        ok(kk.wait_until(lambda: len(kf.log_lines(
            keeper, r"not a regular file")) == 1, 10, 0.1),
           "%s: SIGHUP with a FIFO as the config: one line, refused"
           % label, *keeper.tail(10))
        code, out, err = kk.run_keeper(["-n", keeper.conf], timeout=10)
        ok(code == 78 and "not a regular file" in err,
           "%s: -n with a FIFO: exit 78 at once (got %s)" % (label, code),
           err)
        t0 = time.monotonic()
        stop(keeper, label)
        ok(time.monotonic() - t0 < 10, "%s: the keeper still obeys SIGTERM"
           % label)
        kf.verify_archive(moto, bucket, stream, PREFIX, put, label)


SCENARIOS = {"a": scenario_a, "b": scenario_b, "c": scenario_c,
             "d": scenario_d, "e": scenario_e}


def scenario():
    kf.run_scenarios(SCENARIOS)


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
