"""
inject.py: failed durability is not success. The crash recorder makes one
chosen call fail (EIO from fsync, ENOSPC or a short write from write) while
the workload of crash.py runs; the keeper must then never rename the file
whose write failed into place, write it again from a new temp file (never
just fsync it again), either in place (a full disk: the local copies give
their room) or by the worker's restart, and until that file is durable
advance no checkpoint and report no flush (the recorder logs the worker's
messages to the supervisor in the order of the changes); say in its log
which file and why, and end with every record archived once and every
object announced.
"""

import os
import re
import time

import kk
import powerloss

SH0 = "shardId-000000000000"

# name, KK_REC_FAIL, the strerror the log must show, the file it must name
CASES = [
    ("fsync of a checkpoint fails (EIO)",
     "fsync:/checkpoints/%s.tmp:1:eio" % SH0, "Input/output error",
     "checkpoints/" + SH0),
    ("write of an outbox entry fails (ENOSPC)",
     "write:/outbox/%s/:1:enospc" % SH0, "No space left on device",
     "outbox/" + SH0),
    ("fsync of the outbox directory fails after the rename (EIO)",
     "fsync:/outbox/%s$:1:eio" % SH0, "Input/output error",
     "outbox/" + SH0),
    ("fsync of the checkpoint directory fails after the rename (EIO)",
     "fsync:/checkpoints$:1:eio", "Input/output error", "checkpoints"),
    ("a short write of a checkpoint (half of it)",
     "write:/checkpoints/%s.tmp:1:short" % SH0, None, None),
]


def parse(lines, root):
    """[(number or None, op, pid, path, extra)] with fds resolved."""
    fds, out = {}, []
    for ln in lines:
        f = ln.rstrip("\n").split(" ")
        if len(f) < 4 or f[0] in ("proc", "crash"):
            continue
        num = int(f[0]) if f[0].isdigit() else None
        op, pid = f[1], f[2]
        if op == "open":
            fds[(pid, f[3])] = f[4]
            out.append((num, "open", pid, f[4], f[6]))  # f[6]: created
        elif op == "write":
            out.append((num, op, pid, fds.get((pid, f[3]), "?"),
                        (int(f[4]), int(f[5]))))
        elif op in ("fsync", "fdatasync", "ftruncate"):
            out.append((num, op, pid, fds.get((pid, f[3]), "?"),
                        f[4] if len(f) > 4 else ""))
        elif op == "fail":
            out.append((None, "fail", pid, f[4], f[3]))
        elif op in ("rename", "link"):
            out.append((num, op, pid, f[3], f[4]))
        else:
            out.append((num, op, pid, f[3] if len(f) > 3 else "", ""))
    return out


MSG_FLUSH = "3"     # enum msg_type in common/msg.h: a worker's flush report


def check_order(ops, fail_i):
    """After the failed call at ops[fail_i], what it guarded is done again
    from scratch: by the failing process in place, or by its restart. Until
    that file is durable again (renamed from a temp file created, written
    and fsynced after the failure, then its directory fsynced), the failing
    process advances no checkpoint and reports no flush. Returns
    problems."""
    probs = []
    _, _, fpid, fpath, fop = ops[fail_i]
    rest = ops[fail_i + 1:]
    if fpath.endswith(".tmp"):
        final = fpath[:-4]
    else:
        # a directory: the entry whose rename it was to make durable
        final = None
        for num, op, pid, a, b in ops[:fail_i]:
            if op == "rename" and pid == fpid and \
                    os.path.dirname(b) == fpath:
                final = b
        if final is None:
            return ["no rename into %s before its fsync failed" % fpath]
    # the next rename to final comes from a new temp file, written and
    # fsynced after the failure, and its directory is fsynced after it
    created = synced = False
    rewrite = durable = None
    for i, (num, op, pid, a, b) in enumerate(rest):
        if op == "open" and a == final + ".tmp":
            created, synced = b == "1", False
        elif op == "fsync" and a == final + ".tmp" and b == "0":
            synced = created
        elif op == "rename" and b == final:
            if not (created and synced):
                probs.append("%s renamed into place without being written "
                             "and fsynced again" % final)
                break
            rewrite = i
            durable = next((j for j in range(i + 1, len(rest))
                            if rest[j][1] == "fsync" and
                            rest[j][3] == os.path.dirname(final) and
                            rest[j][4] == "0"), None)
            if durable is None:
                probs.append("%s written again, its directory never "
                             "fsynced" % final)
            break
    else:
        probs.append("%s never written again after the failed %s"
                     % (final, fop))
    # until then the failing process advances no checkpoint and reports
    # no flush (after it, a worker that wrote the file again in place goes
    # on: the flush it reports is durable)
    until = len(rest) if durable is None else durable
    for i, (num, op, pid, a, b) in enumerate(rest[:until]):
        if pid != fpid or i == rewrite:
            continue
        if op == "rename" and "/checkpoints/" in b and \
                not b.endswith(".tmp"):
            probs.append("checkpoint %s advanced by the process whose %s "
                         "failed before %s was written again" % (b, fop,
                                                                 final))
        elif op == "msg" and a == MSG_FLUSH:
            probs.append("flush reported by the process whose %s failed "
                         "before %s was written again" % (fop, final))
    return probs


def one(suite, name, spec, why, what):
    moto = suite.moto
    bucket, arn, url, tmp = suite.fresh("inject")
    state = os.path.join(tmp, "state")
    log = os.path.join(tmp, "rec.log")
    import crash
    run = crash.Run(moto, tmp, bucket, arn, rec={
        "KK_REC_DIR": state, "KK_REC_LOG": log, "KK_REC_FAIL": spec,
        "KK_REC_MSG": "3"})
    t0 = time.monotonic()
    run.start()
    cache = {}
    caught = kk.wait_until(lambda: not run.keeper.running() or (
        suite.settled(state) and suite.reading(run, state) and kk.archived_records(
            moto, bucket, cache) >= suite.full_total), crash.CATCH_UP, 0.1)
    caught = caught and run.keeper.running()
    code = run.keeper.stop(20)
    crash.kill_all(run)
    took = time.monotonic() - t0
    text = run.keeper.log()
    lines = powerloss.read_log(log)
    ops = parse(lines, state)
    fails = [i for i, o in enumerate(ops) if o[1] == "fail"]
    probs = []
    if spec.endswith("short"):
        # a short write is no failure: the rest is written right after it,
        # at the offset where the short one stopped, before the fsync
        target = "/checkpoints/%s.tmp" % SH0
        first = next((i for i, o in enumerate(ops) if o[1] == "write" and
                      o[3].endswith(target)), None)
        if first is None:
            probs.append("no write of %s" % target)
        else:
            _, _, pid, path, (off, n) = ops[first]
            nxt = next((o for o in ops[first + 1:] if o[2] == pid and
                        o[3] == path), None)
            if nxt is None or nxt[1] != "write" or nxt[4][0] != off + n:
                probs.append("after the short write of %d bytes at %d to "
                             "%s came %s, not the rest of it"
                             % (n, off, path, nxt[:2] + nxt[4:] if nxt
                                else "nothing"))
    elif not fails:
        probs.append("the recorder never failed %s" % spec)
    else:
        fpid = ops[fails[0]][2]
        probs += check_order(ops, fails[0])
        mine = [ln for ln in text.splitlines() if "[%s]" % fpid in ln]
        said = [i for i, ln in enumerate(mine) if why in ln and what in ln]
        if not said:
            probs.append("no log line of the worker names %s and says %r"
                         % (what, why))
    # and in the end everything is there, once, and announced
    objs = crash.s3_state(moto, bucket)
    seen, keys = {}, {}
    import hashlib
    for key, (body, md, ct) in objs.items():
        if kk.is_head_key(key):
            continue
        o = kk.decode_object({"key": key, "body": body, "metadata": md})
        keys[key] = hashlib.sha256(body).hexdigest()
        m = kk.KEY_RE.match(key)
        for ln in o["lines"]:
            seen.setdefault((m.group("shard") if m else "?", ln.get("seq")),
                            []).append(key)
    if set(seen) != suite.want or any(len(v) > 1 for v in seen.values()):
        probs.append("not exactly once: %d of %d records, %d doubled"
                     % (len(set(seen) & suite.want), len(suite.want),
                        sum(1 for v in seen.values() if len(v) > 1)))
    told = {(a[0], a[1]) for a in crash.announced(crash.drain(moto, url))}
    for key, h in keys.items():
        if (key, h) not in told:
            probs.append("never announced: %s" % key)
    if not caught:
        probs.append("did not catch up within %ds" % crash.CATCH_UP)
    if code != 0:
        probs.append("exit status %s after SIGTERM" % code)
    what_done = ("the rest is written after it" if spec.endswith("short")
                 else "the file is written again (in place or by the "
                 "restart), no checkpoint advanced nor flush reported "
                 "before it is durable, the log names it")
    kk.ok(not probs, "inject: %s: %s; %d records once, all announced "
          "(%.1fs)" % (name, what_done, len(suite.want), took),
          "KK_REC_FAIL=%s" % spec, *(probs + (run.keeper.tail(30)
                                              if probs else [])))
    return not probs


def run(suite):
    for name, spec, why, what in CASES:
        if not one(suite, name, spec, why, what):
            suite.violations += 1
