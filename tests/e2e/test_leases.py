#!/usr/bin/env python3
"""
test_leases.py: several keepers share one stream through a KCL 2.x lease
table in DynamoDB (SPEC section 7, "Leases"; issue 15). Kinesis is
kinesalite (it ends a drained closed shard, which moto never does: the
split needs it); DynamoDB, S3, SNS and SQS are moto with SigV4 on, each
keeper's DynamoDB calls through its own counting proxy.

An 8-shard stream with a producer putting distinct payloads throughout.
Three keepers (own config, state_dir and worker_id, 4 s leases) share it;
one is frozen (SIGSTOP of every process) for three lease durations and
thawed (a zombie: it must notice, stop those workers, move no checkpoint
and cause no duplicate); a fourth joins (rebalance to 2 shards each, the
moves counted); one host is SIGKILLed (its shards taken over within about
two durations, measured); a shard is split while its worker is held (the
children are taken only once the parent's checkpoint is SHARD_END); one
keeper stops gracefully (time until its shards have other owners,
measured). A poller scans the table every 200 ms (consistent reads): per
shard the leaseCounter never decreases and grows on every owner change,
the checkpoint never moves back and always ends an object in S3, and no
shard owned by a running keeper stalls. The keepers' own take/lose/release
lines give per-shard ownership intervals that must not overlap (beyond the
lost side's stop time). Every record exactly once (per shard and as a
multiset of payloads), no key written twice, every object announced, and
a KCL-style reader of the table sees, at the end, each shard's last
archived sequence number as its checkpoint. The DynamoDB requests are
counted by kind: the cost figures. Findings: LEASES-BUGS.md.
"""

import collections
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_extra as kx  # noqa: E402
from kk import ok, diag  # noqa: E402

import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

STREAM = "leases"
BUCKET = "kk-leases"
PREFIX = "ls/"
TABLE = "kk-leases-test"
NSHARDS = 8
DUR = 4.0              # leases.duration (s): short, so the test stays short
RATE = 80              # records per second, all shards
POLL = 0.2             # table poller period (s)
ARCHIVE_TIMEOUT = 60
DEFAULT_DUR = 10.0     # the default leases.duration, for the cost figure
STALL = 4 * DUR        # a checkpoint unmoved this long while owned: stalled

# The lease helper's log lines (tests/e2e/LEASES-NOTES.md): "lease S: taken
# (unowned, counter N)", "lease S: taken|stolen from W (counter N)",
# "lease S: lost to W", "lease S: lost: not renewed ...", "lease S:
# released".
TAKEN_RE = re.compile(r"^helper lease: lease (shardId-\d+): "
                      r"(?:taken|stolen)\b(?:.*?\bfrom (\S+))?"
                      r"(?:.*?\bcounter (\d+))?")
LOST_RE = re.compile(r"^helper lease: lease (shardId-\d+): lost\b")
RELEASED_RE = re.compile(r"^helper lease: lease (shardId-\d+): released\b")
ADOPTED_RE = re.compile(r"^worker (shardId-\d+): adopted ")
READING_RE = re.compile(r"^worker (shardId-\d+): reading ")

HELD_PIDS = []         # processes stopped by the test: SIGCONT at the end


def seq_key(cp):
    """Order of checkpoint values: TRIM_HORIZON/LATEST first, sequence
    numbers as integers, SHARD_END last; None if it is none of these."""
    if cp in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
        return -1
    if cp == "SHARD_END":
        return 1 << 256
    if isinstance(cp, str) and cp.isdigit():
        return int(cp)
    return None


# ------------------------------------------------------ DynamoDB call counts

def update_attrs(body):
    """{action: set of attribute names} an UpdateItem changes, from its
    UpdateExpression (placeholders resolved) or legacy AttributeUpdates."""
    out = collections.defaultdict(set)
    names = body.get("ExpressionAttributeNames") or {}
    expr = body.get("UpdateExpression") or ""
    parts = re.split(r"(?i)\b(SET|REMOVE|ADD|DELETE)\b", expr)
    for i in range(1, len(parts) - 1, 2):
        action = parts[i].upper()
        for clause in parts[i + 1].split(","):
            tok = re.match(r"\s*([#\w.]+)", clause)
            if tok:
                out[action].add(names.get(tok.group(1), tok.group(1)))
    for name, upd in (body.get("AttributeUpdates") or {}).items():
        a = (upd or {}).get("Action", "PUT").upper()
        out["REMOVE" if a == "DELETE" and "Value" not in upd else
            ("SET" if a == "PUT" else a)].add(name)
    return out


def ddb_kind(req):
    """(kind, shard) of one DynamoDB request: an operation name, or for
    UpdateItem what it does to the lease (take, renew, checkpoint,
    release)."""
    op = req["headers"].get("x-amz-target", "").rsplit(".", 1)[-1] or "?"
    try:
        body = json.loads(req["body"] or b"{}")
    except ValueError:
        return op, None
    key = body.get("Key") or body.get("Item") or {}
    shard = (key.get("leaseKey") or {}).get("S")
    if op != "UpdateItem":
        return op, shard
    a = update_attrs(body)
    changed = a["SET"] | a["ADD"]
    if "checkpoint" in changed:
        return "checkpoint", shard
    if "leaseOwner" in a["REMOVE"]:
        return "release", shard
    if "leaseOwner" in changed:
        return "take", shard
    if "leaseCounter" in changed:
        return "renew", shard
    return "UpdateItem other", shard      # e.g. a parent's childShardIds


# moto does not serialize conditional writes: measured here, 8 threads
# racing UpdateItem on "leaseCounter = 0" had two winners in 1 of 30
# trials, which DynamoDB never allows (its writes are atomic per item).
# The proxies pass the writes of one lease one at a time (a lock per
# leaseKey); reads and other items go on in parallel.
ITEM_LOCKS = collections.defaultdict(threading.Lock)
ITEM_LOCKS_GUARD = threading.Lock()


def item_lock(body):
    """The lock of the item a write names, or a fresh one (no wait)."""
    try:
        b = json.loads(body or b"{}")
        key = ((b.get("Key") or b.get("Item") or {}).get("leaseKey")
               or {}).get("S")
    except (ValueError, AttributeError):
        key = None
    if key is None:
        return threading.Lock()
    with ITEM_LOCKS_GUARD:
        return ITEM_LOCKS[key]


class DdbCounter(kx.HookProxy):
    """A forwarder in front of moto for one keeper's DynamoDB calls (headers
    passed as is: SigV4 stays valid), one write at a time per lease across
    keepers (item_lock), that records (wall time moto answered, kind, shard, HTTP
    status) of each."""

    def __init__(self, target_port, name):
        self.name = name
        self.calls = []
        self.lock = threading.Lock()
        super().__init__(target_port, hook=self._record,
                         around=lambda req: item_lock(req["body"]))

    def _record(self, req, status):
        t = time.time()
        kind, shard = ddb_kind(req)
        with self.lock:
            self.calls.append((t, kind, shard, status))

    def between(self, t0, t1):
        with self.lock:
            return [c for c in self.calls if t0 <= c[0] < t1]


# ---------------------------------------------------------- the table poller

def kcl_leases(ddb, table):
    """Read the table as the KCL's DynamoDBLeaseSerializer does (Scan,
    consistent): {leaseKey: lease dict}; problems: attributes of the wrong
    type or missing."""
    leases, problems = {}, []
    kw = {"TableName": table, "ConsistentRead": True}
    while True:
        r = ddb.scan(**kw)
        for it in r.get("Items", []):
            key = (it.get("leaseKey") or {}).get("S")
            if key is None:
                problems.append("item without leaseKey (S): %r" % it)
                continue
            lease = {"owner": None, "counter": None, "checkpoint": None,
                     "sub": None, "switches": None, "parents": set(),
                     "children": set()}
            for attr, typ, field in (
                    ("leaseOwner", "S", "owner"),
                    ("leaseCounter", "N", "counter"),
                    ("checkpoint", "S", "checkpoint"),
                    ("checkpointSubSequenceNumber", "N", "sub"),
                    ("ownerSwitchesSinceCheckpoint", "N", "switches"),
                    ("parentShardId", "SS", "parents"),
                    ("childShardIds", "SS", "children")):
                v = it.get(attr)
                if v is None:
                    continue
                if typ not in v:
                    problems.append("%s: %s is %s, KCL reads %s"
                                    % (key, attr, sorted(v), typ))
                    continue
                val = v[typ]
                if typ == "N":
                    try:
                        val = int(val)
                    except ValueError:
                        problems.append("%s: %s = %r" % (key, attr, val))
                        continue
                elif typ == "SS":
                    val = set(val)
                lease[field] = val
            for req in ("counter", "checkpoint"):
                if lease[req] is None:
                    problems.append("%s: no %s (KCL requires it)"
                                    % (key, req))
            leases[key] = lease
        if not r.get("LastEvaluatedKey"):
            return leases, problems
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


class TablePoller(threading.Thread):
    """Scans the lease table every POLL seconds: samples [(wall time,
    {shard: lease})], from the moment the table exists."""

    def __init__(self, ddb, table):
        super().__init__(daemon=True)
        self.ddb, self.table = ddb, table
        self.samples = []
        self.problems = []
        self.errors = 0
        self.lock = threading.Lock()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            t = time.time()
            try:
                leases, probs = kcl_leases(self.ddb, self.table)
                with self.lock:
                    self.samples.append((t, leases))
                    self.problems += probs[:3]
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] != \
                        "ResourceNotFoundException":
                    self.errors += 1
            except botocore.exceptions.BotoCoreError:
                self.errors += 1
            self._halt.wait(max(0.0, POLL - (time.time() - t)))

    def last(self):
        with self.lock:
            return self.samples[-1] if self.samples else (0.0, {})

    def owners(self):
        """{shard: owner} of the latest sample."""
        return {s: l["owner"] for s, l in self.last()[1].items()}

    def held(self, owner):
        return sorted(s for s, o in self.owners().items() if o == owner)

    def counts(self, open_shards):
        c = collections.Counter(o for s, o in self.owners().items()
                                if s in open_shards)
        return dict(c)

    def first_time(self, pred, after=0.0):
        """Wall time of the first sample after `after` whose leases satisfy
        pred, or None."""
        with self.lock:
            for t, leases in self.samples:
                if t >= after and pred(leases):
                    return t
        return None

    def stop(self):
        self._halt.set()
        self.join(10)


# ----------------------------------------------------------------- keepers

class Host:
    """One keeper (kk.Keeper) with its worker_id and DynamoDB proxy."""

    def __init__(self, stack, moto, kl, topic, name, wid):
        self.name, self.wid = name, wid
        self.proxy = stack.enter_context(DdbCounter(moto.port, name))
        ov = {
            "endpoints.kinesis": kl.endpoint,
            "endpoints.dynamodb": self.proxy.endpoint,
            "leases.table": TABLE,
            "leases.worker_id": wid,
            "leases.duration": "%ds" % DUR,
            "leases.max_shards": 0,
            "s3.prefix": PREFIX,
            "read.interval": "500ms",
            "topology.refresh": "2s",
            "batch.max_age": "2s",
            "local.keep": 2,
            "workers.restart_min": "200ms",
            "workers.restart_max": "2s",
            "workers.shutdown_timeout": "10s",
        }
        self.k = stack.enter_context(kk.Keeper(moto, STREAM, BUCKET,
                                               overrides=ov, topic_arn=topic,
                                               name=name))
        self.k_start = None    # wall time it was started
        self.end = None        # wall time it stopped owning anything
        self.frozen = None     # (freeze, thaw) wall times

    def start(self):
        self.k_start = time.time()
        self.k.start()

    def pids(self):
        """Every process of this host: supervisor, helpers, workers."""
        if not self.k.running():
            return []
        sup = self.k.proc.pid
        return [sup] + list(kk.helper_processes(sup).values()) + \
            self.k.workers()

    def lines(self):
        return kx.parse_log(self.k.log())


def lease_events(host):
    """[(t, kind, shard, line)] of a host's take/lose/release lines."""
    out = []
    for ln in host.lines():
        for kind, rx in (("taken", TAKEN_RE), ("lost", LOST_RE),
                         ("released", RELEASED_RE)):
            m = rx.search(ln.msg)
            if m:
                out.append((ln.t, kind, m.group(1), ln))
                break
    return out


def intervals(host):
    """Per-shard ownership intervals [(start, end, how_ended)] from a
    host's log: from its take line to its lose/release line; still open
    at the end: until the host ended (SIGKILL, stop). A frozen host that
    learns after its thaw that it lost a lease owned it until the freeze
    (what it did after the thaw is checked apart: no flush, no
    checkpoint)."""
    out = collections.defaultdict(list)
    open_ = {}
    for t, kind, shard, _ in lease_events(host):
        if kind == "taken":
            if shard in open_:
                out[shard].append((open_[shard], t, "taken again"))
            open_[shard] = t
        elif shard in open_:
            start = open_.pop(shard)
            end = t
            if kind == "lost" and host.frozen and \
                    start < host.frozen[0] and t >= host.frozen[1]:
                end = host.frozen[0]
            out[shard].append((start, end, kind))
    for shard, start in open_.items():
        out[shard].append((start, host.end or time.time(), "end"))
    return out


def kill_host(host):
    """A host dies: every process of it SIGKILLed at once (the supervisor
    stopped first so that it starts nothing meanwhile)."""
    sup = host.k.proc.pid
    kk.kill_pid(sup, signal.SIGSTOP)
    for pid in host.pids()[1:]:
        kk.kill_pid(pid)
    kk.kill_pid(sup)
    host.k.proc.wait(10)
    host.end = time.time()
    time.sleep(0.1)
    kx.reap_zombies()


def wait_balanced(poller, hosts, open_shards, want, timeout):
    """Wait until every open shard is owned by one of hosts and the counts
    per host are want(n) -> bool; return the counts seen last."""
    wids = {h.wid for h in hosts}

    def good():
        owners = poller.owners()
        if any(owners.get(s) not in wids for s in open_shards):
            return None
        c = poller.counts(open_shards)
        return c if all(want(c.get(w, 0)) for w in wids) else None
    return kk.wait_until(good, timeout, POLL) or poller.counts(open_shards)


# ---------------------------------------------------------------- scenario

def scenario():
    kk.become_subreaper()
    if not ok(os.access(kk.keeper_bin(), os.X_OK),
              "binary %s exists" % kk.keeper_bin()):
        return
    if not ok(kx.Kinesalite.available(),
              "kinesalite is installed (tests/setup.sh)"):
        return
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        moto = stack.enter_context(kk.Moto())
        kl = stack.enter_context(kx.Kinesalite())
        shards = kx.create_stream(kl.kinesis, STREAM, NSHARDS)
        moto.create_bucket(BUCKET)
        # a versioned bucket: an overwrite would leave a second version
        moto.s3.put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic, queue = moto.create_topic_queue("leases-topic", "leases-q")
        ddb = moto.session.client(
            "dynamodb", endpoint_url=moto.endpoint,
            config=botocore.config.Config(retries={"max_attempts": 2},
                                          connect_timeout=5,
                                          read_timeout=30))
        hosts = [Host(stack, moto, kl, topic, "k%s" % c, "host-%s" % c)
                 for c in "abcd"]
        poller = TablePoller(ddb, TABLE)
        producer = kx.Producer(kx.client("kinesis", kl.endpoint), STREAM,
                               rate=RATE, chunk=8, seed=15, tag="leases")
        try:
            run(moto, kl, ddb, hosts, poller, producer, shards, queue)
        finally:
            producer.stop()
            poller.stop()
            for pid in HELD_PIDS:
                kk.kill_pid(pid, signal.SIGCONT)
            for h in hosts:
                kx.save_log(h.k, "leases-%s.log" % h.name)
                with contextlib.suppress(Exception):
                    for pid in h.pids():
                        kk.kill_pid(pid, signal.SIGCONT)
    diag("run time %.1f s" % (time.monotonic() - t0))


def run(moto, kl, ddb, hosts, poller, producer, shards, queue):
    ha, hb, hc, hd = hosts
    open_shards = set(shards)
    figures = {}
    poller.start()
    producer.start()
    for h in (ha, hb, hc):
        h.start()

    # -- three keepers share the 8 shards: 3, 3, 2
    c = wait_balanced(poller, (ha, hb, hc), open_shards,
                      lambda n: n in (2, 3), 40)
    if not ok(sorted(c.values()) == [2, 3, 3],
              "three keepers: every shard owned, 3/3/2 (%s)" % c,
              *ha.k.tail(15)):
        return
    ok(kk.wait_until(lambda: all(len(kx.grep(h.lines(), READING_RE.pattern))
                                 >= 2 for h in (ha, hb, hc)), 20, 0.3),
       "three keepers: each runs workers that read (within 20 s)")
    time.sleep(DUR / 2)

    # -- B frozen for three durations, then thawed: a zombie
    b_shards = poller.held(hb.wid)
    b_workers = {p for p in hb.k.workers()}
    pids = hb.pids()
    HELD_PIDS.extend(pids)
    t_f = time.time()
    for pid in pids:
        kk.kill_pid(pid, signal.SIGSTOP)
    time.sleep(3 * DUR)
    owners = poller.owners()
    t_t = time.time()
    hb.frozen = (t_f, t_t)
    ok(all(owners.get(s) in (ha.wid, hc.wid) for s in b_shards),
       "zombie: while %s is frozen (%.0f s) the others took its %d shards"
       % (hb.wid, 3 * DUR, len(b_shards)), repr(owners))
    taken_at = poller.first_time(
        lambda ls: all(ls.get(s, {}).get("owner") not in (hb.wid, None)
                       for s in b_shards), t_f)
    if taken_at:
        figures["takeover of a frozen host"] = taken_at - t_f
    for pid in reversed(pids):
        kk.kill_pid(pid, signal.SIGCONT)
    gone = kk.wait_until(lambda: not any(kx.alive(p) for p in b_workers),
                         DUR + 15, 0.1)
    t_gone = time.time()
    ok(gone, "zombie: its %d old workers stopped after the thaw (%.1f s)"
       % (len(b_workers), t_gone - t_t),
       "alive: %s" % [p for p in b_workers if kx.alive(p)])
    figures["zombie stops its workers after the thaw"] = t_gone - t_t
    # its workers may find out first (a refused checkpoint): the helper's
    # lines come at its next renewal
    def lost_lines():
        lst = [e for e in lease_events(hb)
               if e[1] == "lost" and e[0] >= t_t and e[2] in b_shards]
        return lst if {e[2] for e in lst} == set(b_shards) else None
    lost = kk.wait_until(lost_lines, 2 * DUR + 15, 0.2) or [
        e for e in lease_events(hb)
        if e[1] == "lost" and e[0] >= t_t and e[2] in b_shards]
    per = collections.Counter(e[2] for e in lost)
    ok(sorted(per) == sorted(b_shards) and all(v == 1 for v in
                                               per.values()),
       "zombie: one 'lost' line per shard it held (%d of %d)"
       % (len(per), len(b_shards)), *[repr(e[3]) for e in lost])
    # the rebalance after the thaw: B is a live keeper again
    c = wait_balanced(poller, (ha, hb, hc), open_shards,
                      lambda n: n in (2, 3), 40)
    ok(sorted(c.values()) == [2, 3, 3],
       "zombie: back in the game, the three rebalance to 3/3/2 (%s)" % c)
    time.sleep(DUR / 2)

    # -- a fourth keeper joins: 2 each, moved gracefully
    t_j = time.time()
    hd.start()
    c = wait_balanced(poller, hosts, open_shards, lambda n: n == 2, 45)
    t_bal = time.time()
    ok(sorted(c.values()) == [2, 2, 2, 2],
       "join: a fourth keeper, the four hold 2 shards each (%s, %.1f s)"
       % (c, t_bal - t_j))
    figures["rebalance after a join"] = t_bal - t_j
    time.sleep(DUR)
    moves = owner_changes(poller, t_j, time.time())
    ok(len(moves) == 2 and all(m[3] == hd.wid for m in moves),
       "join: exactly 2 leases moved, both to %s (%d moves)"
       % (hd.wid, len(moves)), *[repr(m) for m in moves])
    d_takes = [e for e in lease_events(hd) if e[1] == "taken"]
    ok(len(d_takes) == 2, "join: %s logged 2 takes (%d)"
       % (hd.wid, len(d_takes)), *[repr(e[3]) for e in d_takes])
    # gracefully: the old owner flushed and gave it up, the new owner read
    # on from its last checkpoint (nothing read twice, no object met twice:
    # no adoption); how it went is printed
    for m in moves:
        how = [e[1] for h in hosts if h.wid == m[2] for e in lease_events(h)
               if e[2] == m[1] and e[0] >= t_j and e[1] != "taken"]
        diag("join: %s moved %s -> %s (the old owner's line: %s)"
             % (m[1], m[2], m[3], how[0] if how else "none"))
    moved = {m[1] for m in moves}
    adopted = [ln for h in hosts for ln in h.lines() if ln.t >= t_j and
               ADOPTED_RE.match(ln.msg) and
               ADOPTED_RE.match(ln.msg).group(1) in moved]
    ok(moves and not adopted, "join: no object of a moved shard was met "
       "twice (no adoption: the new owner read on from the old one's "
       "last checkpoint)", *[repr(x) for x in adopted[:6]] +
       ["a steal is not a graceful move: tests/e2e/LEASES-BUGS.md, 1"])

    # -- host A dies (SIGKILL of every process): taken over within ~2 D
    a_shards = poller.held(ha.wid)
    t_k = time.time()
    kill_host(ha)
    ok(kk.wait_until(lambda: all(poller.owners().get(s) not in
                                 (ha.wid, None) for s in a_shards),
                     3 * DUR + 15, POLL),
       "kill: the %d shards of %s have new owners" % (len(a_shards),
                                                     ha.wid))
    t_own = poller.first_time(
        lambda ls: all(ls.get(s, {}).get("owner") not in (ha.wid, None)
                       for s in a_shards), t_k)
    resumed = kk.wait_until(lambda: resume_times(hosts, a_shards, t_k),
                            20, 0.3)
    if t_own:
        figures["takeover after SIGKILL (table)"] = t_own - t_k
        # about two durations (expiry on the taker's clock, then its next
        # scan); more on a loaded machine
        ok(t_own - t_k <= 2 * DUR + 4.0,
           "kill: taken over within about two lease durations (%.1f s, "
           "duration %.0f s, bound %.0f s)" % (t_own - t_k, DUR,
                                               2 * DUR + 4.0))
    if resumed:
        figures["reading again after SIGKILL"] = max(resumed.values()) - t_k
    ok(resumed, "kill: new owners read each of its shards again (%s)"
       % ({s: "%.1f s" % (t - t_k) for s, t in (resumed or {}).items()}))
    c = wait_balanced(poller, (hb, hc, hd), open_shards,
                      lambda n: n in (2, 3), 40)
    ok(sorted(c.values()) == [2, 3, 3],
       "kill: the three left hold 3/3/2 (%s)" % c)

    # -- a split: children only after the parent's checkpoint is SHARD_END.
    # kinesalite closes the parent at once and its worker would reach the
    # end before the children's leases exist; its worker is held (SIGSTOP:
    # a parent with a backlog) so that they exist for two scans first.
    parent = shards[0]
    owner = next((h for h in hosts if h.wid == poller.owners().get(parent)),
                 None)
    held = kk.wait_until(lambda: kx.worker_of(parent, [owner.k.proc.pid])
                         if owner else [], 10, 0.2) or []
    ok(len(held) == 1, "split: one worker reads the parent %s (%s, of %s)"
       % (parent, held, owner.wid if owner else None))
    sh = next(s for s in kx.list_shards(kl.kinesis, STREAM)
              if s["ShardId"] == parent)
    lo = int(sh["HashKeyRange"]["StartingHashKey"])
    hi = int(sh["HashKeyRange"]["EndingHashKey"])
    HELD_PIDS.extend(held)
    for pid in held:
        kk.kill_pid(pid, signal.SIGSTOP)
    t_split = time.time()
    kl.kinesis.split_shard(StreamName=STREAM, ShardToSplit=parent,
                           NewStartingHashKey=str((lo + hi + 1) // 2))
    ok(kx.wait_active(kl.kinesis, STREAM), "split: stream ACTIVE again")
    kids = sorted(s["ShardId"] for s in kx.list_shards(kl.kinesis, STREAM)
                  if s.get("ParentShardId") == parent)
    if not ok(len(kids) == 2, "split: %s has 2 children" % parent):
        for pid in held:
            kk.kill_pid(pid, signal.SIGCONT)
        return
    open_shards = (open_shards - {parent}) | set(kids)
    t_kl = kk.wait_until(lambda: all(k in poller.last()[1] for k in kids)
                         and time.time(), 30, POLL)
    ok(t_kl, "split: the children's leases are in the table (%s)"
       % fmt_t(t_kl or None, t_split))
    time.sleep(2 * DUR + 1)
    early = {k: poller.last()[1].get(k, {}).get("owner") for k in kids}
    ok(not any(early.values()) and
       poller.last()[1][parent]["checkpoint"] != "SHARD_END",
       "split: while the parent's worker is held, its children wait "
       "(%.0f s, two scans)" % (2 * DUR + 1), repr(early))
    for pid in held:
        kk.kill_pid(pid, signal.SIGCONT)
    t_unhold = time.time()
    ok(kk.wait_until(lambda: all(poller.owners().get(k) for k in kids),
                     40, POLL),
       "split: both children taken once the parent ended (within 40 s)",
       repr(poller.last()[1].get(parent)))
    t_end = poller.first_time(
        lambda ls: ls.get(parent, {}).get("checkpoint") == "SHARD_END",
        t_split)
    t_kid = poller.first_time(
        lambda ls: any(ls.get(k, {}).get("owner") for k in kids), t_split)
    ok(t_end is not None and t_kid is not None and t_kid >= t_end,
       "split: the children were taken only after the parent's checkpoint "
       "was SHARD_END (end %s, first child owner %s)"
       % (fmt_t(t_end, t_split), fmt_t(t_kid, t_split)))
    kid_takes = [(e[0], h.wid, e[2]) for h in hosts for e in lease_events(h)
                 if e[1] == "taken" and e[2] in kids]
    ok(t_end is not None and kid_takes and
       min(t for t, _, _ in kid_takes) >= t_end - POLL,
       "split: no keeper logged a child taken before the parent's end",
       *["%s %s at %s" % (w, s, fmt_t(t, t_split))
         for t, w, s in kid_takes])
    c = wait_balanced(poller, (hb, hc, hd), open_shards,
                      lambda n: n == 3, 40)
    ok(sorted(c.values()) == [3, 3, 3],
       "split: 9 open shards, 3 per keeper (%s)" % c)
    time.sleep(DUR / 2)

    # -- a graceful stop: the others own its shards at once
    c_shards = poller.held(hc.wid)
    t_s = time.time()
    rc = hc.k.stop(40)
    t_exit = time.time()
    hc.end = t_exit
    ok(rc == 0, "graceful stop: %s exits 0 (%.1f s)" % (hc.wid, t_exit - t_s),
       "rc %r" % rc)
    ok(kk.wait_until(lambda: all(poller.owners().get(s) in (hb.wid, hd.wid)
                                 for s in c_shards), 2 * DUR + 15, POLL),
       "graceful stop: its %d shards have new owners" % len(c_shards))
    t_own = poller.first_time(
        lambda ls: all(ls.get(s, {}).get("owner") in (hb.wid, hd.wid)
                       for s in c_shards), t_s)
    if t_own:
        figures["handover after a graceful stop (SIGTERM to owned)"] = \
            t_own - t_s
        figures["handover after a graceful stop (exit to owned)"] = \
            t_own - t_exit
        # a released lease goes at the others' next scan (one duration);
        # an expired one would take one to two durations more
        ok(t_own - t_exit <= 2 * DUR,
           "graceful stop: taken over within about one scan of its exit "
           "(%.1f s, duration %.0f s)" % (t_own - t_exit, DUR))
    nxt = {}
    for h in (hb, hd):
        for t, kind, sh, ln in lease_events(h):
            if kind == "taken" and sh in c_shards and t >= t_s and \
                    (sh not in nxt or t < nxt[sh][0]):
                nxt[sh] = (t, ln)
    ok(sorted(nxt) == sorted(c_shards) and
       all("(unowned" in ln.msg for _, ln in nxt.values()),
       "graceful stop: each of its shards was next taken unowned "
       "(released, not expired)", *[repr(ln) for _, ln in nxt.values()])
    rel = [e for e in lease_events(hc) if e[1] == "released"
           and e[0] >= t_s]
    ok(sorted(e[2] for e in rel) == sorted(c_shards),
       "graceful stop: one 'released' line per shard it held (%d of %d)"
       % (len(rel), len(c_shards)), *[repr(e[3]) for e in rel])
    wait_balanced(poller, (hb, hd), open_shards, lambda n: n in (4, 5), 30)
    time.sleep(2)

    # -- the end: everything archived, every keeper stops gracefully
    producer.stop()
    t_prod = time.time()
    put = list(producer.put)
    diag("producer: %d records put, %d rejected, %d failed calls"
         % (len(put), producer.rejected, len(producer.errors)),
         *producer.errors[:5])
    ok(not producer.errors and not producer.rejected,
       "producer: every PutRecords call succeeded")
    cache = {}
    got = kk.wait_until(lambda: kk.archived_records(moto, BUCKET, cache)
                        >= len(put), ARCHIVE_TIMEOUT, 0.5)
    ok(got, "everything archived within %ds (%d of %d)"
       % (ARCHIVE_TIMEOUT, kk.archived_records(moto, BUCKET, cache),
          len(put)))
    for h in (hb, hd):
        rc = h.k.stop(40)
        h.end = time.time()
        ok(rc == 0, "final stop: %s exits 0" % h.wid, "rc %r" % rc)
    for h in hosts:
        left = h.k.leftovers()
        ok(not left, "%s: no process left" % h.wid, repr(left))
    time.sleep(3 * POLL)
    poller.stop()

    save_table_log(poller)
    check_table(poller, hosts)
    check_stalls(poller, hosts, t_prod, {parent: (t_split, t_unhold)})
    check_overlap(hosts)
    objs = moto.fetch_objects(BUCKET)
    kk.check_objects(objs, STREAM, PREFIX)
    kk.assert_exactly_once(put, objs)
    check_payloads(put, objs)
    multi = [k for k, n in versions(moto).items() if n > 1]
    ok(not multi, "no key written twice (versioned bucket, %d keys)"
       % len(objs), *multi[:8])
    notes = kx.drain_notes(moto.sqs, queue)
    kx.check_final_notifications(notes, objs, STREAM, BUCKET)
    check_zombie(hb, b_shards)
    check_checkpoints_archived(poller, objs)
    check_kcl_reader(ddb, objs, shards, parent, kids)
    cost(hosts, poller, figures)
    for name, v in figures.items():
        diag("figure: %s: %.1f s" % (name, v))
    san = [x for h in hosts for x in h.k.sanitizer_reports()]
    ok(not san, "no sanitizer report in the logs", *san[:10])


def fmt_t(t, base):
    return "never" if t is None else "+%.1f s" % (t - base)


def owner_changes(poller, t0, t1):
    """[(t, shard, old owner, new owner)] between consecutive samples."""
    out, prev = [], None
    with poller.lock:
        samples = [s for s in poller.samples if t0 - POLL <= s[0] <= t1]
    for t, leases in samples:
        if prev is not None:
            for s, l in leases.items():
                o = prev.get(s, {}).get("owner")
                if s in prev and l["owner"] != o and l["owner"] is not None:
                    out.append((t, s, o, l["owner"]))
        prev = leases
    return out


def resume_times(hosts, shards, after):
    """{shard: wall time of the first 'reading' line after `after`} once
    every shard has one, else None."""
    first = {}
    for h in hosts:
        for ln in h.lines():
            m = READING_RE.match(ln.msg)
            if m and m.group(1) in shards and ln.t >= after:
                first[m.group(1)] = min(first.get(m.group(1), ln.t), ln.t)
    return first if len(first) == len(shards) else None


def versions(moto):
    out = {}
    for page in moto.s3.get_paginator("list_object_versions").paginate(
            Bucket=BUCKET):
        for v in page.get("Versions", []):
            if not kk.is_head_key(v["Key"]):
                out[v["Key"]] = out.get(v["Key"], 0) + 1
    return out


# ------------------------------------------------------------------ checks

def check_table(poller, hosts):
    """From the poller's samples: per shard the leaseCounter never
    decreases and strictly increases on an owner change; the checkpoint
    never moves back; the items always read as KCL leases."""
    samples = poller.samples
    ok(len(samples) > 100, "poller: %d table samples (%d errors)"
       % (len(samples), poller.errors))
    ok(not poller.problems, "poller: every sample reads as KCL 2.x leases",
       *poller.problems[:8])
    dec, same, back, changes = [], [], [], 0
    prev = {}
    for t, leases in samples:
        for s, l in leases.items():
            p = prev.get(s)
            if p is not None:
                if l["counter"] is not None and p["counter"] is not None:
                    if l["counter"] < p["counter"]:
                        dec.append("%s at %.1f: counter %d -> %d"
                                   % (s, t, p["counter"], l["counter"]))
                    if l["owner"] != p["owner"]:
                        changes += 1
                        if l["counter"] <= p["counter"]:
                            same.append("%s at %.1f: owner %s -> %s, "
                                        "counter %d -> %d" % (
                                            s, t, p["owner"], l["owner"],
                                            p["counter"], l["counter"]))
                a, b = seq_key(p["checkpoint"]), seq_key(l["checkpoint"])
                if a is not None and b is not None and b < a:
                    back.append("%s at %.1f: checkpoint %s -> %s (owner %s)"
                                % (s, t, p["checkpoint"], l["checkpoint"],
                                   l["owner"]))
            prev[s] = l
    ok(not dec, "table: leaseCounter never decreases (%d samples)"
       % len(samples), *dec[:8])
    ok(changes > 0 and not same, "table: leaseCounter strictly increases on "
       "every owner change (%d changes seen)" % changes, *same[:8])
    ok(not back, "table: no checkpoint ever moved back", *back[:8])
    bad = [(t, s, l["checkpoint"]) for t, ls in samples
           for s, l in ls.items() if seq_key(l["checkpoint"]) is None]
    ok(not bad, "table: every checkpoint is a sequence number or a KCL "
       "sentinel", *[repr(b) for b in bad[:8]])


def check_stalls(poller, hosts, t_end, excused):
    """Liveness: while records flow (until t_end), a shard owned by a
    running keeper has its checkpoint move at least every STALL seconds
    (it flushes every 2 s). excused: {shard: (t0, t1)} held on purpose."""
    by_wid = {h.wid: h for h in hosts}
    since, last, stalls = {}, {}, []
    for t, leases in poller.samples:
        if t > t_end:
            break
        for s, l in leases.items():
            h = by_wid.get(l["owner"])
            key = (l["owner"], l["checkpoint"])
            run = h is not None and alive_at(h, t)
            ex = excused.get(s)
            if ex and ex[0] - STALL <= t <= ex[1] + STALL:
                run = False
            if not run or l["checkpoint"] == "SHARD_END" or \
                    last.get(s) != key:
                since[s] = t
                last[s] = key if run else None
                continue
            if t - since[s] > STALL:
                stalls.append("%s: owned by %s, checkpoint %s unmoved since "
                              "%.1f s before %.1f" % (s, l["owner"],
                                                      l["checkpoint"],
                                                      t - since[s], t))
                since[s] = t
    ok(not stalls, "no shard stalled: owned by a running keeper, every "
       "checkpoint moved at least every %.0f s while records flowed"
       % STALL, *stalls[:8])


def check_overlap(hosts):
    """The keepers' own lines: no two keepers own a shard at once, beyond
    the lost side's stop time (its next renewal: DUR/3, with slack)."""
    # the lost side learns it at its next renewal, or gives up after a
    # duration without one (renewals late on a loaded machine)
    allow = DUR + 1.5
    per = collections.defaultdict(list)
    for h in hosts:
        for s, lst in intervals(h).items():
            for a, b, how in lst:
                per[s].append((a, b, h.wid, how))
    over, worst, n = [], 0.0, 0
    for s, lst in per.items():
        lst.sort()
        n += len(lst)
        for i, (a1, b1, w1, how1) in enumerate(lst):
            for a2, b2, w2, how2 in lst[i + 1:]:
                if w1 == w2 or a2 >= b1:
                    continue
                ov = min(b1, b2) - a2
                worst = max(worst, ov)
                if ov > allow:
                    over.append("%s: %s [%.1f, %.1f] (%s) and %s [%.1f, "
                                "%.1f] (%s): %.1f s" % (s, w1, a1, b1, how1,
                                                        w2, a2, b2, how2, ov))
    diag("ownership: %d intervals, longest overlap %.2f s (the lost side's "
         "stop time)" % (n, worst))
    ok(n >= NSHARDS and not over, "ownership: no two keepers own a shard "
       "at once beyond %.1f s (%d intervals from the logs)" % (allow, n),
       *over[:10])
    # the counters the take lines name: distinct per shard, in time order
    takes = collections.defaultdict(list)
    for h in hosts:
        for t, kind, s, ln in lease_events(h):
            m = TAKEN_RE.search(ln.msg)
            if kind == "taken" and m.group(3):
                takes[s].append((t, int(m.group(3)), h.wid))
    dup = []
    for s, lst in takes.items():
        lst.sort()
        cs = [c for _, c, _ in lst]
        if len(set(cs)) != len(cs) or cs != sorted(cs):
            dup.append("%s: %s" % (s, lst))
    if takes:
        ok(not dup, "ownership: the counters of the take lines are distinct "
           "and increasing per shard", *dup[:8])


def check_payloads(put, objs):
    """The payloads as multisets: what was put = what is in S3."""
    want = collections.Counter(d for _, _, _, d in put)
    got = collections.Counter()
    for o in objs:
        for ln in o["lines"]:
            if "data" in ln:
                got[json.dumps(ln["data"], separators=(",", ":"))
                    .encode()] += 1
    missing = want - got
    extra = got - want
    ok(not missing and not extra and len(want) == len(put),
       "payload multisets equal: %d put, %d archived (%d missing, %d extra)"
       % (sum(want.values()), sum(got.values()), sum(missing.values()),
          sum(extra.values())),
       *[repr(x) for x in list(missing)[:3] + list(extra)[:3]])


def check_zombie(hb, b_shards):
    """The thawed zombie moved no checkpoint of the shards it lost while
    frozen, until it took one again: DynamoDB (through its proxy) accepted
    none of its checkpoint writes for them after the thaw. (Its log is no
    witness: a write accepted just before the freeze is logged after.)"""
    ev = lease_events(hb)
    bad = []
    for s in b_shards:
        retake = [t for t, k, sh, _ in ev if sh == s and k == "taken"
                  and t >= hb.frozen[1]]
        until = retake[0] if retake else float("inf")
        bad += ["%s: checkpoint accepted at thaw + %.2f s" %
                (s, t - hb.frozen[1])
                for t, kind, sh, status in hb.proxy.calls
                if kind == "checkpoint" and sh == s and status == 200
                and hb.frozen[1] <= t < until]
    refused = [c for c in hb.proxy.calls if c[1] == "checkpoint" and
               c[2] in b_shards and c[3] != 200 and c[0] >= hb.frozen[1]]
    diag("zombie: %d checkpoint writes refused after the thaw"
         % len(refused))
    ok(not bad, "zombie: no checkpoint of a lost shard accepted after the "
       "thaw (DynamoDB calls through its proxy)", *bad[:8])


def check_checkpoints_archived(poller, objs):
    """Every checkpoint the poller ever saw is the last record of an object
    of that shard in S3 (a checkpoint moves only after its object is
    stored), or a KCL sentinel."""
    ends = {(o.get("shard"), o["lines"][-1]["seq"]) for o in objs
            if o["lines"]}
    seen, bad = set(), []
    for t, leases in poller.samples:
        for s, l in leases.items():
            cp = l["checkpoint"]
            if (s, cp) in seen:
                continue
            seen.add((s, cp))
            if isinstance(cp, str) and cp.isdigit() and (s, cp) not in ends:
                bad.append("%s: checkpoint %s (seen at %.1f) is the end of "
                           "no object" % (s, cp, t))
    n = sum(1 for _, cp in seen if isinstance(cp, str) and cp.isdigit())
    ok(n > NSHARDS and not bad, "table: each of the %d checkpoints seen is "
       "the last record of an object in S3" % n, *bad[:8])


def save_table_log(poller):
    """$KK_E2E_LOGDIR/leases-table.log: one line per sample and lease
    (time, shard, owner, leaseCounter, checkpoint), for inspection."""
    d = os.environ.get("KK_E2E_LOGDIR")
    if not d:
        return
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "leases-table.log"), "w") as f:
        for t, leases in poller.samples:
            for s in sorted(leases):
                l = leases[s]
                f.write("%.3f %s %s %s %s\n" % (t, s, l["owner"] or "-",
                                                l["counter"], l["checkpoint"]))


def check_kcl_reader(ddb, objs, shards, parent, kids):
    """A KCL-style reader of the table after every keeper stopped: each
    shard's checkpoint is the last sequence number archived in S3 (the
    closed parent: SHARD_END), no lease has an owner, the children name
    their parent."""
    leases, probs = kcl_leases(ddb, TABLE)
    ok(not probs, "KCL reader: every item reads as a KCL 2.x lease",
       *probs[:8])
    want = set(shards) | set(kids)
    ok(set(leases) == want, "KCL reader: one lease per shard (%d)"
       % len(leases), "leases %s" % sorted(leases),
       "shards %s" % sorted(want))
    last = {}
    for o in objs:
        for ln in o["lines"]:
            s = o.get("shard")
            if s and int(ln["seq"]) > int(last.get(s, "-1")):
                last[s] = ln["seq"]
    wrong = []
    for s in sorted(want):
        cp = (leases.get(s) or {}).get("checkpoint")
        exp = "SHARD_END" if s == parent else last.get(s, "TRIM_HORIZON")
        if cp != exp:
            wrong.append("%s: checkpoint %s, last archived %s"
                         % (s, cp, last.get(s)))
    ok(not wrong, "KCL reader: each checkpoint is the shard's last "
       "archived sequence number (%d shards)" % len(want), *wrong)
    owned = {s: l["owner"] for s, l in leases.items() if l["owner"]}
    ok(not owned, "KCL reader: no owner left after every graceful stop",
       repr(owned))
    bad = [k for k in kids if (leases.get(k) or {}).get("parents") !=
           {parent}]
    ok(not bad, "KCL reader: the children's parentShardId is {%s}" % parent,
       *["%s: %r" % (k, (leases.get(k) or {}).get("parents")) for k in bad])


def alive_at(host, t):
    """Was host running (started, not ended, not frozen) at wall time t?"""
    if host.k_start is None or t < host.k_start:
        return False
    if host.end is not None and t >= host.end:
        return False
    return not (host.frozen and host.frozen[0] <= t < host.frozen[1])


def cost(hosts, poller, figures):
    """DynamoDB requests by kind (all hosts), per renewal and per
    checkpoint, and the monthly requests per shard at the default
    duration (printed for the note)."""
    kinds = collections.Counter()
    fails = collections.Counter()
    for h in hosts:
        for _, kind, _, status in h.proxy.calls:
            kinds[kind] += 1
            if status != 200:
                fails[kind] += 1
    diag("dynamodb calls by kind: %s" % dict(sorted(kinds.items())),
         "refused (HTTP != 200) by kind: %s" % dict(sorted(fails.items())))
    ok(kinds["renew"] > 0 and kinds["checkpoint"] > 0 and kinds["take"] > 0,
       "cost: renewals, takes and checkpoints counted (%d, %d, %d)"
       % (kinds["renew"], kinds["take"], kinds["checkpoint"]))
    # lease-seconds held by a running owner (from the samples), and
    # keeper-seconds of running keepers
    by_wid = {h.wid: h for h in hosts}
    held_s, prev_t = 0.0, None
    for t, leases in poller.samples:
        if prev_t is not None:
            held_s += (t - prev_t) * sum(
                1 for l in leases.values() if l["owner"] in by_wid and
                alive_at(by_wid[l["owner"]], t))
        prev_t = t
    keeper_s = 0.0
    for h in hosts:
        if h.k_start is not None:
            keeper_s += (h.end or time.time()) - h.k_start - (
                h.frozen[1] - h.frozen[0] if h.frozen else 0)
    renewals = held_s / (DUR / 3)
    per_renewal = kinds["renew"] / renewals if renewals else 0
    flushes = sum(len([1 for ln in h.lines()
                       if kx.FLUSHED_RE.match(ln.msg)]) for h in hosts)
    per_ckpt = kinds["checkpoint"] / flushes if flushes else 0
    scans = kinds["Scan"] / (keeper_s / DUR) if keeper_s else 0
    diag("cost: %.0f lease-seconds held by running keepers = %.0f renewal "
         "periods of %.2f s: %.2f UpdateItem per lease renewal"
         % (held_s, renewals, DUR / 3, per_renewal),
         "cost: %d flushes, %.2f UpdateItem per checkpoint"
         % (flushes, per_ckpt),
         "cost: %d Scan in %.0f keeper-seconds: %.2f per keeper per lease "
         "duration; %d GetItem (worker starts, lost leases)"
         % (kinds["Scan"], keeper_s, scans, kinds["GetItem"]))
    ok(0.5 <= per_renewal <= 1.5, "cost: about one request per lease "
       "renewal (%.2f)" % per_renewal)
    ok(0.9 <= per_ckpt <= 1.2, "cost: about one request per checkpoint "
       "(%.2f)" % per_ckpt)
    month = 30 * 86400
    diag("cost: per shard per month at the default duration (%.0f s): "
         "%.0f renewal writes (one per duration/3), plus one write per "
         "flush (%.0f at one flush per 5 min, the batch.max_age default), "
         "plus a share of its keeper's %.0f consistent Scans a month"
         % (DEFAULT_DUR, month / (DEFAULT_DUR / 3) * per_renewal,
            month / 300.0 * per_ckpt, month / DEFAULT_DUR * scans))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
