#!/usr/bin/env python3
"""
test_ops.py: what an operator at 3 a.m. relies on (issue 11).
- `kinesis-keeper check`: passes on a good setup; fails with one clear line
  for a missing bucket, a wrong secret, a missing stream, a wrong region and
  a missing topic; exit 0 / 1 / 78.
- `kinesis-keeper status`: from disk with no keeper (checkpoints, outbox),
  -j shape, exit codes; with a keeper that holds the lock and wrote
  status.json (here the test plays the keeper: the reader is tested against
  the agreed format); FIFOs and symlinks refused without hanging.
- a worker facing a missing bucket logs one health line per shard, not one
  per retry, and says when it healed.
- `kinesis-keeper -h`: usage on stdout, exit 0.
"""

import fcntl
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok  # noqa: E402

STREAM = "ops-stream"
BUCKET = "kk-ops"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def run(args, timeout=60):
    code, out, err = kk.run_keeper(args, timeout=timeout)
    san = [ln for ln in err.splitlines() if kk.SANITIZER_RE.search(ln)]
    if san:
        ok(False, "%s: no sanitizer report" % " ".join(args[:2]), *san[:20])
    return code, out, err


def lines_of(out):
    return [ln for ln in out.splitlines() if ln.strip()]


def failed_lines(out):
    return [ln for ln in out.splitlines() if ": FAILED: " in ln]


def check_cases(moto, topic_arn):
    # a good setup: every line ok, the probe object gone
    with kk.Keeper(moto, STREAM, BUCKET, topic_arn=topic_arn,
                   overrides={"s3.prefix": "arch/"}) as k:
        code, out, err = run(["check", k.conf])
        ls = lines_of(out)
        ok(code == 0, "check on a good setup: exit 0 (got %s)" % code,
           *(ls + lines_of(err)))
        ok(ls[:1] == ["configuration OK"] and ls[-1:] == ["all checks passed"],
           "check: \"configuration OK\" first, \"all checks passed\" last",
           *ls)
        want = ["identity: ok: ", "stream %s: ok: ACTIVE in region %s"
                % (STREAM, kk.REGION), "bucket %s: ok: writable" % BUCKET,
                "topic %s: ok: exists" % topic_arn]
        ok(all(sum(1 for ln in ls if ln.startswith(w)) == 1 for w in want),
           "check: one ok line each for identity, stream, bucket and topic",
           *ls)
        ok(any(ln.startswith("identity: ok: arn:aws:") and "account" in ln
               for ln in ls), "check: the identity names its ARN and account",
           *ls)
        probe = [ln for ln in ls if "probe s3://%s/arch/kinesis-keeper-check/"
                 % BUCKET in ln]
        left = moto.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
        ok(probe and left == 0, "check: the probe object goes under the "
           "prefix and is removed (%d objects left)" % left, *ls)
        ok(moto.secret_access_key not in out + err,
           "check: the secret never appears in its output")

    cases = [
        ("a missing bucket", {"s3.bucket": "kk-no-such-bucket"}, None,
         "bucket kk-no-such-bucket: FAILED: bucket kk-no-such-bucket does "
         "not exist (region %s)" % kk.REGION),
        ("a wrong secret", {"credentials.secret_access_key":
                            "wrong-secret-wrong-secret"}, None,
         "identity: FAILED: sts GetCallerIdentity for these credentials "
         "(region %s): SignatureDoesNotMatch" % kk.REGION),
        ("a missing stream", {}, "no-such-stream",
         "stream no-such-stream: FAILED: stream no-such-stream does not exist "
         "in region %s" % kk.REGION),
        ("a wrong region", {"region": "eu-west-3"}, None,
         "stream %s: FAILED: stream %s does not exist in region eu-west-3"
         % (STREAM, STREAM)),
        ("a missing topic", {"sns.topic_arn":
                             "arn:aws:sns:%s:123456789012:no-such-topic"
                             % kk.REGION}, None,
         "topic arn:aws:sns:%s:123456789012:no-such-topic: FAILED: topic "
         "arn:aws:sns:%s:123456789012:no-such-topic does not exist"
         % (kk.REGION, kk.REGION)),
    ]
    for label, over, stream, want in cases:
        with kk.Keeper(moto, stream or STREAM, BUCKET, topic_arn=topic_arn,
                       overrides=over) as k:
            t0 = time.monotonic()
            code, out, err = run(["check", k.conf])
            took = time.monotonic() - t0
            bad = failed_lines(out)
            hit = [ln for ln in bad if ln.startswith(want)]
            ok(code == 1 and hit and lines_of(out)[-1] == "some checks FAILED",
               "check, %s: exit 1 and \"%s...\"" % (label, want[:60]),
               "exit %s after %.1fs" % (code, took), *(lines_of(out) +
                                                      lines_of(err)))
            if label == "a wrong secret":
                ok(hit and "check the credentials" in hit[0],
                   "check, a wrong secret: the line says what to check", *bad)
                ok("wrong-secret-wrong-secret" not in out + err,
                   "check, a wrong secret: the secret is not printed")
            elif label == "a missing stream":
                ok(len(bad) == 1, "check, a missing stream: only the stream "
                   "check fails (%d lines)" % len(bad), *bad)
            elif label == "a missing bucket":
                ok(len(bad) == 1 and "check s3.bucket" in bad[0],
                   "check, a missing bucket: one line, says what to fix", *bad)
            elif label == "a missing topic":
                ok(len(bad) == 1 and "check sns.topic_arn" in bad[0],
                   "check, a missing topic: one line, says what to fix", *bad)

    # an S3 endpoint that takes the connection and never answers: that
    # check gives up after its 10 s (not the minute of a PUT), the others
    # still run
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        ep = "http://127.0.0.1:%d" % silent.getsockname()[1]
        with kk.Keeper(moto, STREAM, BUCKET, topic_arn=topic_arn,
                       overrides={"endpoints.s3": ep}) as k:
            t0 = time.monotonic()
            code, out, err = run(["check", k.conf], 90)
            took = time.monotonic() - t0
            bad = failed_lines(out)
            ok(code == 1 and len(bad) == 1 and bad[0].startswith(
                "bucket %s: FAILED: s3 put s3://%s (region %s): no answer "
                "within 10 s" % (BUCKET, BUCKET, kk.REGION))
               and 9 <= took < 18 and "stream %s: ok" % STREAM in out,
               "check, a silent S3 endpoint: that check gives up after "
               "10 s, the others pass (%.1fs, exit %s)" % (took, code),
               *lines_of(out))

    with kk.Keeper(moto, STREAM, BUCKET, overrides={
            "batch.max_age": "soon"}) as k:
        code, out, err = run(["check", k.conf])
        ok(code == 78 and k.conf + ":" in err and "FAILED" not in out,
           "check, a bad configuration: exit 78 with file:line, no live "
           "check (got %s)" % code, *(lines_of(out) + lines_of(err)))
        code, out, err = run(["status", k.conf])
        ok(code == 78 and k.conf + ":" in err,
           "status, a bad configuration: exit 78 (got %s)" % code,
           *lines_of(err))


def write_json(path, doc):
    tmp = path + ".t"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, path)


def status_cases(moto, topic_arn):
    shards = kk.Moto.list_shards(moto, STREAM)
    ids = sorted(s["ShardId"] for s in shards)
    put = moto.put_records(STREAM, [("pk-%d" % i, b'{"n":%d}' % i)
                                    for i in range(40)])
    with kk.Keeper(moto, STREAM, BUCKET, topic_arn=topic_arn, overrides={
            "batch.max_age": "1s", "read.interval": "200ms"}) as k:
        k.start()
        cache = {}
        kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                      >= len(put), 60, 0.5)
        code = k.stop()
        ok(code == 0, "status setup: a keeper archived %d records and "
           "stopped (exit %s)" % (len(put), code))
        sd = k.state_dir
        ckpts = {}
        for sid in ids:
            with open(os.path.join(sd, "checkpoints", sid)) as f:
                ckpts[sid] = json.load(f)

        # an outbox entry left behind, two minutes old
        ob = os.path.join(sd, "outbox", ids[0])
        os.makedirs(ob, exist_ok=True)
        entry = os.path.join(ob, "999999.json")
        with open(entry, "w") as f:
            f.write('{"shard":"%s","first_seq":"999999","last_seq":"999999",'
                    '"message":"{}"}' % ids[0])
        old = time.time() - 120
        os.utime(entry, (old, old))

        code, out, err = run(["status", k.conf], 20)
        ls = lines_of(out)
        ok(code == 1, "status with no keeper running: exit 1 (got %s)" % code,
           *(ls + lines_of(err)))
        ok(ls and ls[0].endswith("no keeper running"),
           "status: says no keeper runs", *ls)
        for sid in ids:
            mine = [ln for ln in ls if ln.startswith(sid + ": ")]
            seq = ckpts[sid].get("seq", "")
            ok(len(mine) == 1 and mine[0].startswith(sid + ": stopped, "
                                                     "checkpoint %s" % seq)
               and ckpts[sid].get("key", "-") in mine[0],
               "status: %s stopped, its checkpoint %s and last key" % (sid,
                                                                      seq),
               *ls)
        line0 = [ln for ln in ls if ln.startswith(ids[0] + ": ")]
        m = re.search(r"notifications pending 1 \(oldest (\d+)s old\)",
                      line0[0] if line0 else "")
        ok(m and 115 <= int(m.group(1)) <= 200,
           "status: the pending notification and its age (about 120 s)",
           *line0)
        ok(any(re.match(r"notifications pending: 1 \(oldest \d+s old\)$", ln)
               for ls_ in [ls] for ln in ls_),
           "status: the total of pending notifications", *ls)
        ok(ls[-1] == "not healthy", "status: ends \"not healthy\"", *ls)

        code, out, err = run(["status", "-j", k.conf], 20)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        ok(code == 1 and isinstance(doc, dict) and len(lines_of(out)) == 1,
           "status -j: one JSON document, exit 1 (got %s)" % code, out, err)
        doc = doc or {}
        keys = {"stream", "region", "state_dir", "healthy", "keeper",
                "notifications_pending", "oldest_pending", "shards"}
        ok(keys <= set(doc) and doc.get("healthy") is False and
           doc.get("keeper", {}).get("running") is False and
           doc.get("notifications_pending") == 1 and
           TS_RE.match(doc.get("oldest_pending") or ""),
           "status -j: top-level fields", json.dumps(doc)[:800])
        sh = doc.get("shards", [])
        skeys = {"shard", "state", "healthy", "checkpoint", "last_flush",
                 "last_key", "notifications_pending", "oldest_pending",
                 "error", "error_time"}
        ok([s.get("shard") for s in sh] == ids and
           all(skeys <= set(s) and s["state"] == "stopped" and
               s["checkpoint"]["seq"] == ckpts[s["shard"]]["seq"] and
               TS_RE.match(s["last_flush"] or "") for s in sh),
           "status -j: one entry per shard, state stopped, checkpoint, "
           "last flush", json.dumps(sh)[:800])
        os.unlink(entry)

        # the test plays a running keeper: holds the lock, writes status.json
        lockf = open(os.path.join(sd, "lock"), "a")
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        now = "2026-12-03T20:05:00.123Z"
        base = {"version": 1, "pid": os.getpid(), "keeper_version": "0.1.0",
                "stream": STREAM, "region": kk.REGION,
                "started": "2026-12-03T20:00:00.000Z", "updated": now,
                "stopping": False, "notifications_pending": 0,
                "oldest_pending": None, "error": None, "error_time": None}

        def shard_doc(sid, state, error=None):
            return {"shard": sid, "state": state, "pid": 4321, "restarts": 2,
                    "next_start": None, "last_flush": now,
                    "last_key": "arch/%s.jsonl.gz" % sid, "last_records": 7,
                    "millis_behind": 0, "error": error,
                    "error_time": now if error else None}
        try:
            err_text = ("s3 put s3://%s (region %s): NoSuchBucket: The "
                        "specified bucket does not exist; check the name"
                        % (BUCKET, kk.REGION))
            doc = dict(base, shards=[shard_doc(ids[0], "backoff", err_text)] +
                       [shard_doc(s, "running") for s in ids[1:]])
            write_json(os.path.join(sd, "status.json"), doc)
            code, out, err = run(["status", k.conf], 20)
            ls = lines_of(out)
            ok(code == 1 and ls and "keeper running (pid %d)" % os.getpid()
               in ls[0], "status, a keeper running with a backing-off "
               "shard: exit 1, the keeper's pid (got %s)" % code, *ls)
            l0 = [ln for ln in ls if ln.startswith(ids[0] + ": ")]
            ok(l0 and l0[0].startswith(ids[0] + ": backing off, ") and
               ("error since %s: %s" % (now, err_text)) in l0[0] and
               ("arch/%s.jsonl.gz" % ids[0]) in l0[0],
               "status: the backing-off shard with its error and its time",
               *ls)
            code, out, err = run(["status", "-j", k.conf], 20)
            d = json.loads(out) if out.strip() else {}
            s0 = [s for s in d.get("shards", []) if s["shard"] == ids[0]]
            ok(code == 1 and s0 and s0[0]["state"] == "backoff" and
               s0[0]["error"] == err_text and s0[0]["restarts"] == 2 and
               d["keeper"]["pid"] == os.getpid(),
               "status -j: state backoff, error, restarts, pid", out[:800])

            doc = dict(base, shards=[shard_doc(s, "running") for s in ids])
            write_json(os.path.join(sd, "status.json"), doc)
            code, out, err = run(["status", k.conf], 20)
            ls = lines_of(out)
            ok(code == 0 and ls[-1:] == ["healthy"] and
               sum(1 for ln in ls if ": running, checkpoint " in ln)
               == len(ids), "status, every shard running without error: "
               "exit 0, \"healthy\" (got %s)" % code, *ls)

            doc = dict(base, error="list shards: stream %s (region %s): "
                       "ResourceNotFoundException" % (STREAM, kk.REGION),
                       error_time=now,
                       shards=[shard_doc(s, "running") for s in ids])
            write_json(os.path.join(sd, "status.json"), doc)
            code, out, err = run(["status", k.conf], 20)
            ok(code == 1 and any(ln.startswith("keeper error since %s: list "
                                               "shards" % now)
                                 for ln in lines_of(out)),
               "status: a keeper-wide error is shown, exit 1 (got %s)" % code,
               *lines_of(out))

            # a status.json of an earlier keeper (another pid) is not trusted
            doc = dict(base, pid=1, shards=[shard_doc(s, "running")
                                            for s in ids])
            write_json(os.path.join(sd, "status.json"), doc)
            code, out, err = run(["status", k.conf], 20)
            ok(code == 1 and "status.json is from an earlier run" in out,
               "status: a stale status.json is not taken for the running "
               "keeper's (got %s)" % code, *lines_of(out))

            # a symlink instead of status.json, a FIFO instead of a
            # checkpoint: refused, never followed or waited on
            os.unlink(os.path.join(sd, "status.json"))
            os.symlink("/etc/passwd", os.path.join(sd, "status.json"))
            fifo = os.path.join(sd, "checkpoints", "shardId-000000000999")
            os.mkfifo(fifo)
            t0 = time.monotonic()
            code, out, err = run(["status", k.conf], 20)
            took = time.monotonic() - t0
            ls = lines_of(out)
            ok(code == 1 and took < 10 and "status.json is a symlink" in out
               and any(ln.startswith("shardId-000000000999: unknown, "
                                     "checkpoint unreadable") for ln in ls),
               "status: a symlinked status.json and a FIFO checkpoint are "
               "refused without blocking (%.1fs, exit %s)" % (took, code), *ls)
            os.unlink(fifo)
            os.unlink(os.path.join(sd, "status.json"))
        finally:
            lockf.close()


def scale_case(moto):
    """20,000 shards known three times over (status.json, checkpoints/,
    outbox/): each listed once, in order, quickly."""
    n = 20000
    with kk.Keeper(moto, STREAM, BUCKET) as k:
        sd = k.state_dir
        os.makedirs(os.path.join(sd, "checkpoints"))
        ids = ["shardId-%012d" % i for i in range(n)]
        for sid in ids:
            with open(os.path.join(sd, "checkpoints", sid), "w") as f:
                f.write('{"seq":"%d"}' % (int(sid[8:]) + 1))
        for sid in ids[:200]:
            os.makedirs(os.path.join(sd, "outbox", sid))
        lockf = open(os.path.join(sd, "lock"), "a")
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            write_json(os.path.join(sd, "status.json"), {
                "version": 1, "pid": os.getpid(), "stream": STREAM,
                "shards": [{"shard": sid, "state": "running", "error": None}
                           for sid in reversed(ids)]})
            t0 = time.monotonic()
            code, out, err = run(["status", "-j", k.conf], 60)
            took = time.monotonic() - t0
            try:
                got = [s_["shard"] for s_ in json.loads(out)["shards"]]
            except (ValueError, KeyError):
                got = []
            ok(code == 0 and got == ids and took < 60,
               "status: %d shards from status.json, checkpoints and outbox, "
               "each once, sorted, in %.1fs (exit %s)" % (n, took, code),
               err[:500])
        finally:
            lockf.close()


def health_case(moto):
    """A missing bucket: one health line per shard where the old code
    logged a warning per retry; the retries go on at debug level; when the
    bucket appears, "healthy again" and the records are archived."""
    bucket = "kk-ops-late"
    stream = "ops-health"
    ids = moto.create_stream(stream, 2)
    put = moto.put_records(stream, [("pk-%d" % i, b'{"h":%d}' % i)
                                    for i in range(30)])
    with kk.Keeper(moto, stream, bucket, overrides={
            "batch.max_age": "1s", "read.interval": "200ms"}) as k:
        k.start()
        # backoff 0.5, 1, 2, 4 s...: at least four retries in 12 s
        retry = re.compile(r"s3 put s3://%s/\S+: NoSuchBucket.*retrying in"
                           % bucket)
        kk.wait_until(lambda: all(
            sum(1 for ln in k.log().splitlines() if sid in ln and
                retry.search(ln)) >= 4 for sid in ids), 40, 0.5)
        log = k.log().splitlines()
        for sid in ids:
            health = [ln for ln in log if sid in ln and
                      "s3 put s3://%s (region %s): NoSuchBucket" %
                      (bucket, kk.REGION) in ln]
            retries = [ln for ln in log if sid in ln and retry.search(ln)]
            ok(len(health) == 1 and len(retries) >= 4 and
               "check the name and the region" in health[0],
               "%s: one health line (%d) with what to check, where %d "
               "retries happened" % (sid, len(health), len(retries)),
               *(health + retries[:3]))
        moto.create_bucket(bucket)
        cache = {}
        done = kk.wait_until(lambda: kk.archived_records(moto, bucket, cache)
                             >= len(put), 60, 0.5)
        healed = [ln for ln in k.log().splitlines() if "s3: healthy again"
                  in ln]
        ok(done and len(healed) == len(ids),
           "once the bucket exists: archived, one \"healthy again\" per shard "
           "(%d)" % len(healed), *k.tail(10))
        code = k.stop()
        ok(code == 0, "health: keeper stops with exit 0 (got %s)" % code)
        ok(not k.sanitizer_reports(), "health: no sanitizer report",
           *k.sanitizer_reports())


def scenario():
    code, out, err = run(["-h"])
    ok(code == 0 and out.startswith("usage: kinesis-keeper ") and
       "status [-j] config-file" in out and "check config-file" in out and
       not err, "-h: usage on stdout with the commands, exit 0 (got %s)"
       % code, out, err)
    code, out, err = run(["-x"])
    ok(code == 1 and "\nusage: kinesis-keeper " in "\n" + err and not out,
       "a wrong option: usage on stderr, exit 1 (got %s)" % code, err)
    with kk.Moto() as moto:
        moto.check_auth()
        moto.create_stream(STREAM, 2)
        moto.create_bucket(BUCKET)
        topic_arn, _ = moto.create_topic_queue("ops-topic", "ops-queue")
        check_cases(moto, topic_arn)
        status_cases(moto, topic_arn)
        scale_case(moto)
        health_case(moto)


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
