#!/usr/bin/env python3
"""
crash.py: make check-crash. Power loss at every step: a fixed workload on
moto (two shards of seven records, batches of three by count going up in
multipart uploads, the seventh record by the final flush at SIGTERM, in one
PUT) runs once under the crash recorder to count its changes under
state_dir, the graceful stop included; then for each crash point the keeper
runs again and is killed at that change (before it, after it, or at the
next network call after it), every power-loss state is built from the log
(powerloss.py), the keeper is started on it with S3 as it was at the crash,
catches up, stops, and the archive is checked. Then one crash is restarted
with Kinesis unreachable (the outbox is announced at start all the same),
and the recorder's injected errors (EIO from fsync, ENOSPC, a short write)
check that failed durability is never taken for success.

Environment:
  KK_CRASH_ALL=1        every crash point (before and after each change)
  KK_CRASH_POINTS=N     crash points to sample (default 26)
  KK_CRASH_STATES=N     random states per point besides worst and kill -9
                        (default 2)
  KK_CRASH_SEED=S       seed of the sampling and the random states
  KK_CRASH_ONLY=K:W     one point (K: change number, W: before|after|net), to
                        replay a failing case; KK_CRASH_STATE=worst|all|
                        random:SEED then picks one state
  KK_CRASH_INJECT=0     skip the injected errors
  KK_CRASH_FAILFAST=1   stop at the first violation (make mutants)
  KK_CRASH_LANES=N      points run at once (default 2)
Ends with "crash: N points, M states, V violations".
"""

import concurrent.futures
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
sys.path.insert(0, HERE)

import kk  # noqa: E402
import powerloss  # noqa: E402

ROOT = kk.ROOT
SHIM = os.path.join(ROOT, "build", "tests", "librecorder.so")
STREAM = "crashwl"
PER_SHARD = 7           # records per shard, put before start
BATCH = 3               # batches by count: two objects per shard, and the
                        # last record's batch of one is flushed at SIGTERM
FULL = PER_SHARD // BATCH * BATCH   # records per shard flushed by count
CATCH_UP = 30           # seconds a keeper may take to archive everything

OVERRIDES = {
    "batch.max_records": BATCH,
    "batch.max_age": "1h",
    "read.interval": "200ms",
    "local.keep": 1,
    # the batches by count (about 115 bytes) go up in a multipart upload
    # (its id recorded under uploads/ while the parts go), the final
    # flush's batch of one (about 75) in one PUT
    "s3.multipart_threshold": 100,
    "workers.restart_min": "200ms",
    "workers.restart_max": "1s",
    "workers.shutdown_timeout": "10s",
    "log.level": "debug",
}


def shard_of(pk, shards):
    """The shard a partition key lands on (MD5 into the hash ranges)."""
    h = int(hashlib.md5(pk.encode()).hexdigest(), 16)
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    return None


def put_workload(moto):
    moto.create_stream(STREAM, 2)
    shards = moto.list_shards(STREAM)
    want = {s["ShardId"]: [] for s in shards}
    i = 0
    while any(len(v) < PER_SHARD for v in want.values()):
        pk = "pk-%d" % i
        i += 1
        sh = shard_of(pk, shards)
        if len(want[sh]) < PER_SHARD:
            want[sh].append(pk)
    items = []
    for n in range(PER_SHARD):
        for sh in sorted(want):
            pk = want[sh][n]
            items.append((pk, json.dumps({"n": len(items), "pk": pk})
                          .encode()))
    put = moto.put_records(STREAM, items)
    return put


class Run:
    """One keeper on one state_dir, bucket and topic, optionally under the
    recorder."""

    def __init__(self, moto, tmp, bucket, topic, rec=None, name="keeper",
                 more=None):
        self.moto = moto
        self.tmp = tmp
        self.bucket = bucket
        env = {}
        if rec:
            env.update(rec)
            env["LD_PRELOAD"] = SHIM
        self.keeper = kk.Keeper(moto, STREAM, bucket, overrides=dict(
            OVERRIDES, **(more or {})), tmp=tmp, topic_arn=topic, name=name,
            env=env)

    def start(self):
        self.keeper.start(args=("-d",))

    def processes(self):
        return ([self.keeper.proc.pid] if self.keeper.running() else []) + \
            self.keeper.workers()


def s3_state(moto, bucket):
    """{key: (body, metadata, content type)}, head objects included."""
    out = {}
    for page in moto.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket):
        for c in page.get("Contents", []):
            r = moto.s3.get_object(Bucket=bucket, Key=c["Key"])
            out[c["Key"]] = (r["Body"].read(), r.get("Metadata", {}),
                             r.get("ContentType"))
    return out


def s3_restore(moto, bucket, saved):
    """Make the bucket hold exactly saved again (S3 as it was at the crash:
    moto keeps what the previous state's keeper wrote)."""
    now = s3_state(moto, bucket)
    for key, v in now.items():
        if saved.get(key) != v:
            moto.s3.delete_object(Bucket=bucket, Key=key)
    for key, (body, md, ct) in saved.items():
        if now.get(key) != (body, md, ct):
            kw = {"ContentType": ct} if ct else {}
            moto.s3.put_object(Bucket=bucket, Key=key, Body=body,
                               Metadata=md, **kw)


def records_in(saved):
    n = 0
    for key, (body, md, ct) in saved.items():
        if not kk.is_head_key(key):
            n += int(md.get("records", "0") or 0)
    return n


def announced(notes):
    """[(key, sha256, shard, last_seq)] of drained notifications."""
    out = []
    for n in notes:
        m = n["message"]
        if isinstance(m, dict):
            out.append((m.get("key"), m.get("sha256"), m.get("shard"),
                        m.get("last_seq")))
    return out


def drain(moto, url):
    """Every message in the queue now: moto delivers SNS to SQS while the
    Publish call runs, so no long poll is needed once the keeper stopped."""
    out, empty = [], 0
    while empty < 2:
        r = moto.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=0,
                                     MessageAttributeNames=["All"])
        msgs = r.get("Messages", [])
        if not msgs:
            empty += 1
            continue
        for m in msgs:
            moto.sqs.delete_message(QueueUrl=url,
                                    ReceiptHandle=m["ReceiptHandle"])
            env = json.loads(m["Body"])
            try:
                msg = json.loads(env.get("Message", ""))
            except ValueError:
                msg = env.get("Message")
            out.append({"message": msg})
    return out


def wait_dead(run, timeout):
    """Wait for every process of run to be gone (the recorder killed them);
    False if the crash point was not reached in time."""
    def gone():
        kk.reap_orphans()
        return not run.processes()
    return kk.wait_until(gone, timeout, 0.05)


def kill_all(run):
    for pid in run.processes():
        kk.kill_pid(pid)
    if run.keeper.proc is not None:
        try:
            run.keeper.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    kk.wait_until(lambda: not run.keeper.workers(), 5, 0.05)
    kk.reap_orphans()


def recorded_uploads(lines):
    """Ids of the multipart uploads whose record (uploads/SHARD, written
    before the first part) was complete before the crash: renamed into
    place and its directory fsynced, or the process went on to the network
    after it (a crash at the next network call, KK_REC_WHEN=net)."""
    fds, data, pending, out = {}, {}, {}, set()
    for ln in lines:
        f = ln.rstrip("\n").split(" ")
        if f[0] == "crash" and len(f) > 3 and f[2] == "net":
            if f[3] in pending:
                out.add(pending.pop(f[3]))
            continue
        if len(f) < 4 or f[0] == "proc":
            continue
        op, pid = f[1], f[2]
        if op == "open":
            fds[(pid, f[3])] = f[4]
            if "/uploads/" in f[4]:
                data[f[4]] = b""
        elif op == "write" and "/uploads/" in fds.get((pid, f[3]), ""):
            p = fds[(pid, f[3])]
            data[p] = data.get(p, b"") + bytes.fromhex(f[6])
        elif op == "rename" and "/uploads/" in f[4]:
            pending[pid] = data.get(f[3], b"").split(b"\n")[0].decode()
        elif op == "fsync" and len(f) > 4 and f[4] == "0" and \
                fds.get((pid, f[3]), "").endswith("/uploads") and \
                pid in pending:
            out.add(pending.pop(pid))
    return out


def uploads_in_progress(moto, bucket):
    r = moto.s3.list_multipart_uploads(Bucket=bucket)
    return {u["UploadId"]: u["Key"] for u in r.get("Uploads", [])}


def checkpoint_pos(path):
    """(seq, sub) of a checkpoint file, None if absent, "bad" if unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    try:
        j = json.loads(raw.decode("utf-8"))
        return (int(j["seq"]), int(j.get("sub", -1))) if "seq" in j \
            else (-1, -1)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "bad"


class Suite:
    def __init__(self, moto, put):
        self.moto = moto
        self.put = put
        self.want = {(sh, seq) for sh, seq, _, _ in put}
        self.last = {}
        seqs = {}
        for sh, seq, _, _ in put:
            self.last[sh] = max(self.last.get(sh, 0), int(seq))
            seqs.setdefault(sh, []).append(int(seq))
        # the last record of each shard flushed by count: beyond it, only
        # the final flush at SIGTERM archives
        self.full_last = {sh: sorted(v)[FULL - 1] for sh, v in seqs.items()}
        self.full_total = FULL * len(seqs)
        self.stop_at = None
        self.work = tempfile.mkdtemp(prefix="kk-crash-")
        self.n = 0
        self.points = 0
        self.states = 0
        self.violations = 0
        self.lock = threading.Lock()

    def fresh(self, tag):
        """A bucket, a topic with its queue, and an empty state_dir."""
        with self.lock:
            self.n += 1
            name = "crash-%s-%d" % (tag, self.n)
        bucket = self.moto.create_bucket(name)
        arn, url = self.moto.create_topic_queue(name, name)
        tmp = os.path.join(self.work, name)
        os.makedirs(os.path.join(tmp, "state"))
        return bucket, arn, url, tmp

    def report(self, results):
        """Print one point's results in order (lanes run concurrently)."""
        cases = 0
        for cond, desc, diags in results:
            if cond is None:
                kk.diag(desc)
                continue
            if not desc.startswith("crash %s" % desc.split(" ")[1]) or \
                    "log replay" not in desc:
                cases += 1
            if not kk.ok(cond, desc, *diags):
                self.violations += 1
        if cases:
            self.points += 1
            self.states += cases

    # -------------------------------------------------------- counting

    def count(self):
        bucket, arn, url, tmp = self.fresh("count")
        log = os.path.join(tmp, "rec.log")
        run = Run(self.moto, tmp, bucket, arn, rec={
            "KK_REC_DIR": os.path.join(tmp, "state"), "KK_REC_LOG": log})
        t0 = time.monotonic()
        run.start()
        cache = {}
        done = self.until_quiet(run, log, bucket, cache, t0)
        # the stop: the last record of each shard is flushed at SIGTERM
        self.stop_at = max([0] + list(powerloss.describe(
            powerloss.read_log(log), os.path.join(tmp, "state"))))
        code = run.keeper.stop(20)
        kill_all(run)
        elapsed = time.monotonic() - t0
        lines = powerloss.read_log(log)
        names = powerloss.describe(lines, os.path.join(tmp, "state"))
        changes = sorted(names.items())
        archived = kk.archived_records(self.moto, bucket, cache)
        kk.ok(done and code == 0 and archived == len(self.put) and
              len(changes) > self.stop_at,
              "crash: the workload archives %d records under the recorder, "
              "%d of them by the final flush at SIGTERM (%d changes under "
              "state_dir, %d of them in the stop; %.1fs)"
              % (len(self.put), len(self.put) - self.full_total,
                 len(changes), len(changes) - self.stop_at, elapsed),
              "archived %d, exit status %s" % (archived, code),
              *run.keeper.tail(30))
        self.count_log = lines
        self.count_time = elapsed
        return changes

    def until_quiet(self, run, log, bucket, cache, t0):
        """Wait until what batches by count archive is in S3 and state_dir
        is quiet: no change for a second (notifications published, outbox
        entries removed, copies trimmed); status.json, advisory and
        rewritten on a timer, does not count. False if the keeper died (a
        crash point reached) or it took too long."""
        state = os.path.join(os.path.dirname(log), "state")

        def durable_changes():
            names = powerloss.describe(powerloss.read_log(log), state)
            return sum(1 for d in names.values() if "status.json" not in d)
        if not kk.wait_until(lambda: not run.keeper.running() or
                             kk.archived_records(self.moto, bucket, cache)
                             >= self.full_total, CATCH_UP, 0.1):
            return False
        last, since = -1, time.monotonic()
        while run.keeper.running() and time.monotonic() - t0 < CATCH_UP + 10:
            n = durable_changes()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= 1.0:
                return True
            time.sleep(0.1)
        return False

    # -------------------------------------------------------- one point

    def point(self, k, when, modes):
        """Crash at change k (before/after/net; k a number or the
        recorder's op:path:nth), then every state of modes:
        [("worst"|"all"|"random", seed)]."""
        bucket, arn, url, tmp = self.fresh("p%s%s" % (
            re.sub(r"[^a-z0-9]", "", str(k))[-12:], when[0]))
        state = os.path.join(tmp, "state")
        snap = powerloss.snapshot(state)
        log = os.path.join(tmp, "rec.log")
        run = Run(self.moto, tmp, bucket, arn, rec={
            "KK_REC_DIR": state, "KK_REC_LOG": log,
            "KK_REC_CRASH": str(k), "KK_REC_WHEN": when})
        t0 = time.monotonic()
        run.start()
        # a point in the stop is reached after SIGTERM, sent once the run
        # is as quiet as the counting run was when it sent its own (an
        # earlier point kills the keeper before that)
        if self.until_quiet(run, log, bucket, {}, t0):
            kk.kill_pid(run.keeper.proc.pid, signal.SIGTERM)
        reached = wait_dead(run, CATCH_UP)
        kill_all(run)
        lines = powerloss.read_log(log)
        marker = [ln for ln in lines if ln.startswith("crash ")]
        if not reached or not marker:
            return [(None, "crash point %s %s not reached in this run (%d "
                     "changes): skipped" % (k, when, sum(
                         1 for ln in lines if ln.split(" ")[0].isdigit())),
                     [])]
        results = []
        desc = powerloss.describe(lines, state).get(
            int(marker[0].split(" ")[1]), "")
        if when == "before":
            f = marker[0].rstrip("\n").split(" ")
            desc = "before %s %s" % (f[3], f[4][len(state) + 1:]
                                     if len(f) > 4 else "")
        elif when == "net":
            desc = "after %s, at its next network call" % desc
        else:
            desc = "after " + desc
        uploads = recorded_uploads(lines)
        replay = powerloss.Replay(state, snap)
        try:
            for ln in lines:
                replay.feed(ln)
        except Exception as e:  # a log the model cannot follow is a bug
            return [(False, "crash %s %s: the log replays" % (k, when),
                     [repr(e)])]
        saved = s3_state(self.moto, bucket)
        before = announced(drain(self.moto, url))
        heads = {}
        for key, (body, md, ct) in saved.items():
            if kk.is_head_key(key):
                try:
                    h = json.loads(body)
                    heads[h.get("shard")] = h
                except ValueError:
                    pass
        real = powerloss.snapshot(state)
        first = True
        for mode, seed in modes:
            out = os.path.join(tmp, "s-%s-%s" % (mode, seed))
            os.makedirs(out)
            rng = random.Random(seed) if mode == "random" else None
            lost = replay.state(out, mode, rng)
            if mode == "all":
                got = powerloss.snapshot(out)
                if got != real:
                    results.append((
                        False, "crash %s %s: the log replayed rebuilds the "
                        "directory the crash left" % (k, when),
                        ["only in the replay: %s" % sorted(
                            set(got) ^ set(real))[:5]]))
            if not first:
                s3_restore(self.moto, bucket, saved)
            first = False
            results.append(self.case(k, when, desc, mode, seed, out, bucket,
                                     arn, url, saved, before, heads, lost,
                                     uploads))
        return results

    # -------------------------------------------------------- one state

    def reading(self, run, sdir):
        """Every worker reached its read loop (a state already caught up
        must not be stopped before the keeper is even up) and holds the
        shard's last record, or has it archived: the stop's final flush
        then has it (the worker's debug line "read N records up to SEQ")."""
        text = run.keeper.log()
        for sh, last in self.last.items():
            if "reading %s " % sh not in text:
                return False
            pos = checkpoint_pos(os.path.join(sdir, "checkpoints", sh))
            if pos not in (None, "bad") and pos[0] >= last:
                continue
            got = re.findall(r"worker %s: read \d+ records up to (\d+)(.*)"
                             % sh, text)
            if not got or int(got[-1][0]) != last or got[-1][1].strip():
                return False
        return True

    def settled(self, sdir):
        """Caught up, as state_dir tells: every shard's checkpoint at or
        past its last record flushed by count and no notification waiting
        in the outbox that the checkpoint covers (an entry of the batch
        the stop flushes may wait uncovered: the restart's stop covers
        it)."""
        for sh, last in self.full_last.items():
            pos = checkpoint_pos(os.path.join(sdir, "checkpoints", sh))
            if pos is None or pos == "bad" or pos[0] < last:
                return False
            d = os.path.join(sdir, "outbox", sh)
            if os.path.isdir(d) and any(
                    n.endswith(".json") and
                    int(re.split(r"[-.]", n)[0] or 0) <= pos[0]
                    for n in os.listdir(d)):
                return False
        return True

    def case(self, k, when, desc, mode, seed, sdir, bucket, arn, url, saved,
             before, heads, lost, uploads=()):
        label = "crash %s %s %s%s" % (k, when, mode, ":%s" % seed
                                      if mode == "random" else "")
        probs = []
        # a promise made before the crash (a notification published, a head
        # object written) needs the checkpoint behind it on disk
        for sh in sorted({a[2] for a in before} | set(heads)):
            pos = checkpoint_pos(os.path.join(sdir, "checkpoints", sh))
            need = [int(a[3]) for a in before if a[2] == sh and a[3]]
            h = heads.get(sh)
            if h and str(h.get("last_seq", "")).isdigit():
                need.append(int(h["last_seq"]))
            if not need:
                continue
            if pos is None or pos == "bad" or pos[0] < max(need):
                probs.append("%s: checkpoint %s on disk, but seq %d was "
                             "already announced or in the head object"
                             % (sh, pos, max(need)))
        tmp = os.path.dirname(sdir)
        conf_tmp = os.path.join(tmp, "r-%s-%s" % (mode, seed))
        os.makedirs(conf_tmp)
        os.rename(sdir, os.path.join(conf_tmp, "state"))
        sdir = os.path.join(conf_tmp, "state")
        run = Run(self.moto, conf_tmp, bucket, arn)
        t0 = time.monotonic()
        run.start()
        cache = {}
        caught = kk.wait_until(lambda: not run.keeper.running() or (
            self.settled(sdir) and self.reading(run, sdir) and
            kk.archived_records(self.moto, bucket, cache) >=
            self.full_total), CATCH_UP, 0.1)
        caught = caught and run.keeper.running()
        code = run.keeper.stop(20)
        kill_all(run)
        took = time.monotonic() - t0
        after = announced(drain(self.moto, url))
        text = run.keeper.log()
        # a multipart upload recorded before the crash is aborted by the
        # restart, never left to bill its parts
        if when == "net" and not uploads:
            probs.append("no multipart upload recorded before a crash at "
                         "the network call after its record")
        for uid, key in sorted(uploads_in_progress(self.moto,
                                                   bucket).items()):
            if uid in uploads:
                probs.append("multipart upload of %s recorded in uploads/ "
                             "before the crash, still in progress" % key)
        if not caught:
            probs.append("did not catch up within %ds" % CATCH_UP)
        if code != 0:
            probs.append("exit status %s after SIGTERM" % code)
        restarts = [ln for ln in text.splitlines()
                    if re.search(r"restarting|terminated by signal|"
                                 r"exited with status [^0]", ln)]
        if restarts:
            probs.append("workers died: %s" % restarts[:3])
        objs = []
        for key, (body, md, ct) in s3_state(self.moto, bucket).items():
            if kk.is_head_key(key):
                continue
            o = kk.decode_object({"key": key, "body": body, "metadata": md})
            objs.append(o)
        seen = {}
        for o in objs:
            m = kk.KEY_RE.match(o["key"])
            sh = m.group("shard") if m else "?"
            for ln in o["lines"]:
                seen.setdefault((sh, ln.get("seq")), []).append(o["key"])
            if o["errors"]:
                probs.append("%s: %s" % (o["key"], o["errors"][:2]))
        missing = sorted(self.want - set(seen))
        dups = sorted(k2 for k2, v in seen.items() if len(v) > 1)
        extra = sorted(set(seen) - self.want)
        if missing:
            probs.append("%d records lost: %s" % (len(missing), missing[:4]))
        if dups:
            probs.append("%d records doubled: %s" % (
                len(dups), [(d, seen[d]) for d in dups[:3]]))
        if extra:
            probs.append("unexpected records: %s" % extra[:4])
        sha = {o["key"]: hashlib.sha256(o["body"]).hexdigest() for o in objs}
        notes = before + after
        told = {(a[0], a[1]) for a in notes}
        for key, h in sorted(sha.items()):
            if (key, h) not in told:
                probs.append("never announced with its final sha256: %s"
                             % key)
        for key, h, sh, _ in notes:
            if key not in sha:
                probs.append("announced, then gone: %s" % key)
            elif sha[key] != h:
                probs.append("announced, then changed: %s" % key)
        # a local copy is the object byte for byte, never a torn file
        bdir = os.path.join(sdir, "batches")
        bodies = {hashlib.sha256(o["body"]).hexdigest() for o in objs}
        for dp, _, fns in os.walk(bdir):
            for fn in fns:
                with open(os.path.join(dp, fn), "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() not in bodies:
                        probs.append("local copy %s matches no object"
                                     % os.path.relpath(os.path.join(dp, fn),
                                                       sdir))
        # the newest object of each shard has its copy (local.keep = 1),
        # unless the restarted keeper adopted it (its bytes came from the
        # run before the crash)
        have = set()
        for dp, _, fns in os.walk(bdir):
            for fn in fns:
                with open(os.path.join(dp, fn), "rb") as f:
                    have.add(hashlib.sha256(f.read()).hexdigest())
        adopted = kk.adopted_keys(text)
        newest = {}
        for o in objs:
            m = kk.KEY_RE.match(o["key"])
            if m and o["lines"]:
                pos = int(o["lines"][0].get("seq", 0))
                if pos >= newest.get(m.group("shard"), (-1, None))[0]:
                    newest[m.group("shard")] = (pos, o)
        for sh, (_, o) in sorted(newest.items()):
            if o["key"] not in adopted and \
                    hashlib.sha256(o["body"]).hexdigest() not in have:
                probs.append("%s: no local copy of its newest object %s"
                             % (sh, o["key"]))
        replay = "KK_CRASH_ONLY=%s:%s KK_CRASH_STATE=%s" % (
            k, when, mode if mode != "random" else "random:%s" % seed)
        shutil.rmtree(conf_tmp, ignore_errors=True)
        return (not probs, "%s: %s; back on its own (%.1fs): %d records "
                "once, every object announced with its final sha256, none "
                "announced changed, no promise ahead of the disk, no "
                "recorded upload left" % (
                    label, desc, took, len(self.want)),
                ["replay: %s" % replay,
                 "state lost: %s" % ("; ".join(lost) or "nothing")] +
                probs[:12] + (run.keeper.tail(25) if probs else []))


def covered_entries(sdir, sh):
    """{outbox entry name: its message} the shard's checkpoint covers."""
    pos = checkpoint_pos(os.path.join(sdir, "checkpoints", sh))
    d = os.path.join(sdir, "outbox", sh)
    out = {}
    if pos in (None, "bad") or not os.path.isdir(d):
        return out
    for n in os.listdir(d):
        if n.endswith(".json") and int(re.split(r"[-.]", n)[0]) <= pos[0]:
            try:
                with open(os.path.join(d, n)) as f:
                    out[n] = json.loads(json.load(f)["message"])
            except (OSError, ValueError, KeyError):
                out[n] = None
    return out


def outage(suite):
    """The outbox is announced at start, even when no worker can run: the
    keeper crashes right after a checkpoint's rename (its outbox entry
    committed, not yet published) and comes back with Kinesis unreachable
    (no topology, no worker, so no flush and no worker exit drains the
    shard's outbox): only the supervisor's read of the outbox at start
    announces it."""
    sh = sorted(suite.last)[0]
    bucket, arn, url, tmp = suite.fresh("outage")
    state = os.path.join(tmp, "state")
    log = os.path.join(tmp, "rec.log")
    run = Run(suite.moto, tmp, bucket, arn, rec={
        "KK_REC_DIR": state, "KK_REC_LOG": log,
        "KK_REC_CRASH": "rename:/checkpoints/%s$:1" % sh,
        "KK_REC_WHEN": "after"})
    run.start()
    reached = wait_dead(run, CATCH_UP)
    kill_all(run)
    drain(suite.moto, url)      # published before the crash: not counted
    want = covered_entries(state, sh)
    probs = []
    if not reached or not want:
        probs.append("no committed outbox entry after the crash (crash "
                     "reached: %s)" % reached)
    t0 = time.monotonic()
    run = Run(suite.moto, tmp, bucket, arn, name="outage", more={
        "endpoints.kinesis": "http://127.0.0.1:%d" % kk.free_port()})
    run.start()
    kk.wait_until(lambda: not run.keeper.running() or
                  not covered_entries(state, sh), 15, 0.1)
    code = run.keeper.stop(20)
    kill_all(run)
    told = {a[0] for a in announced(drain(suite.moto, url))}
    for n, m in sorted(want.items()):
        if not m or m.get("key") not in told:
            probs.append("outbox entry %s/%s never announced" % (sh, n))
    if covered_entries(state, sh):
        probs.append("still in the outbox: %s" % sorted(
            covered_entries(state, sh)))
    if code != 0:
        probs.append("exit status %s after SIGTERM" % code)
    ok = kk.ok(not probs, "crash after the checkpoint's rename, restarted "
               "with Kinesis unreachable: the outbox is announced at start "
               "(%d entries, %.1fs)" % (len(want), time.monotonic() - t0),
               *(probs + (run.keeper.tail(25) if probs else [])))
    if not ok:
        suite.violations += 1


# the creation of a multipart upload's record (uploads/SHARD.tmp): the 1st
# and the 3rd of the run by default, all four with KK_CRASH_ALL
NET_POINTS = ["open:/uploads/:1", "open:/uploads/:3", "open:/uploads/:2",
              "open:/uploads/:4"]


def choose(changes, stop_at, n, rng):
    """Crash points: a quarter in the stop (the final flush at SIGTERM),
    then every change touching the outbox or a checkpoint (the worker's
    flush and the supervisor's drain) first, the rest after, each sampled
    evenly; alternating before and after."""
    def kind(desc):
        if "/outbox/" in desc:
            return 0
        if "/checkpoints/" in desc:
            return 1
        return 2

    def sample(pool, m):
        if len(pool) <= m:
            return list(pool)
        step = len(pool) / m
        return [pool[int(i * step)] for i in range(m)]
    run = [c for c in changes if c[0] <= stop_at]
    stop = [c for c in changes if c[0] > stop_at]
    ranked = sorted(run, key=lambda c: (kind(c[1]), c[0]))
    key = [c for c in ranked if kind(c[1]) < 2]
    rest = [c for c in ranked if kind(c[1]) == 2]
    # a multipart upload's record, crashed at the first network call after
    # it (its parts on their way): the first and the third record, named
    # by the recorder's op:path:nth, as two workers' changes interleave
    # differently from run to run
    net = NET_POINTS[:2]
    picked = sample(stop, max(1, n // 4))
    picked += sample(key, max(1, (n - len(picked)) * 3 // 4))
    picked += sample(rest, n - len(picked) - len(net))
    out = []
    for i, (num, desc) in enumerate(sorted(picked)):
        out.append((num, "after" if (i + rng.randint(0, 1)) % 2 else "before"))
    return sorted(out) + [(k, "net") for k in net]


def main():
    if not os.path.exists(SHIM):
        kk.ok(False, "crash: %s is built (make check-crash)" % SHIM)
        return kk.done()
    totals = []
    return kk.main(lambda: scenario(totals))


def scenario(totals):
    seed = int(os.environ.get("KK_CRASH_SEED", "0") or 0) or \
        random.randrange(1, 10 ** 6)
    every = os.environ.get("KK_CRASH_ALL") == "1"
    npoints = int(os.environ.get("KK_CRASH_POINTS", "26"))
    nrand = int(os.environ.get("KK_CRASH_STATES", "6" if every else "2"))
    only = os.environ.get("KK_CRASH_ONLY")
    failfast = os.environ.get("KK_CRASH_FAILFAST") == "1"
    kk.diag("seed %d (KK_CRASH_SEED=%d replays this run)" % (seed, seed))
    rng = random.Random(seed)
    kk.become_subreaper()
    t0 = time.monotonic()
    with kk.Moto() as moto:
        put = put_workload(moto)
        suite = Suite(moto, put)
        totals.append(suite)
        try:
            if only:
                k, _, when = only.rpartition(":")
                k = int(k) if k.isdigit() else k
                st = os.environ.get("KK_CRASH_STATE")
                if st:
                    m, _, s = st.partition(":")
                    modes = [(m, int(s) if s else 0)]
                else:
                    modes = [("worst", 0), ("all", 0)] + [
                        ("random", rng.randrange(10 ** 6))
                        for _ in range(nrand)]
                suite.report(suite.point(k, when, modes))
            else:
                changes = suite.count()
                if every:
                    pts = [(c, w) for c, _ in changes
                           for w in ("before", "after")] + [
                               (k, "net") for k in NET_POINTS]
                elif npoints > 0:
                    pts = choose(changes, suite.stop_at, npoints, rng)
                else:
                    pts = []
                jobs = []
                for k, when in pts:
                    modes = [("worst", 0), ("all", 0)] + [
                        ("random", rng.randrange(10 ** 6))
                        for _ in range(nrand)]
                    jobs.append((k, when, modes))
                # two lanes: a keeper mostly waits on moto and its timers
                lanes = int(os.environ.get("KK_CRASH_LANES", "2"))
                with concurrent.futures.ThreadPoolExecutor(lanes) as ex:
                    futs = [ex.submit(suite.point, *j) for j in jobs]
                    for f in futs:
                        suite.report(f.result())
                        if failfast and suite.violations:
                            for g in futs:
                                g.cancel()
                            break
                if not (failfast and suite.violations):
                    outage(suite)
                if os.environ.get("KK_CRASH_INJECT", "1") != "0" and \
                        not (failfast and suite.violations):
                    import inject
                    inject.run(suite)
        finally:
            shutil.rmtree(suite.work, ignore_errors=True)
            kk.diag("took %.0fs" % (time.monotonic() - t0))
            print("crash: %d points, %d states, %d violations"
                  % (suite.points, suite.states, suite.violations),
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
