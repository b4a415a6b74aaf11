"""
kk_formats.py: helpers for test_formats.py (SPEC section 5: KPL
de-aggregation, raw format, compression, multipart uploads, storage
options). Builds on kk.py (used read-only).

- kpl_aggregate(): KPL aggregated records made at test time by the official
  aws-kinesis-agg npm package (tests/e2e/kpl_agg.js), re-checked here.
- corrupt aggregates: a flipped byte, a truncated one, and one whose MD5 is
  right but whose protobuf is not.
- put_each(): PutRecord one by one (so an aggregate's outer key is used).
- StallProxy: an HTTP forwarder in front of moto (S3 and/or Kinesis) that
  records every request, can hold one chosen request (before or after moto
  saw it), so a test can SIGKILL a worker at an exact point of an upload,
  and can answer one chosen request itself (e.g. an empty GetRecords).
- decode_body()/check_format_objects(): objects in any format/compression
  decoded and checked against the SPEC (metadata, key, line fields).
"""

import base64
import contextlib
import gzip
import hashlib
import http.client
import http.server
import json
import os
import re
import subprocess
import threading
import time

import kk

KPL_MAGIC = b"\xf3\x89\x9a\xc2"
NODE_TIMEOUT = 60


# ------------------------------------------------------------------ KPL

def node_path():
    return os.path.join(kk.ROOT, "build", "npm", "node_modules")


def have_kpl_agg():
    return os.path.isdir(os.path.join(node_path(), "aws-kinesis-agg"))


def kpl_aggregate(groups):
    """groups: [[(pk, data_bytes, ehk_or_None), ...], ...]. Returns one list
    per group of aggregates [{"pk", "ehk", "data" (bytes), "start", "n"}]
    made by aws-kinesis-agg (which checks its own round trip)."""
    req = {"groups": [[dict({"pk": pk, "data": base64.b64encode(d).decode()},
                            **({"ehk": ehk} if ehk else {}))
                       for pk, d, ehk in g] for g in groups]}
    env = dict(os.environ, NODE_PATH=node_path())
    p = subprocess.run(["node", os.path.join(kk.HERE, "kpl_agg.js")],
                       input=json.dumps(req).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=NODE_TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("kpl_agg.js exited %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")[-500:]))
    out = [[] for _ in groups]
    for a in json.loads(p.stdout)["aggregates"]:
        a["data"] = base64.b64decode(a["data"])
        out[a["group"]].append(a)
    return out


def kpl_md5_ok(buf):
    """True if buf is magic + body + MD5(body)."""
    return (len(buf) > 20 and buf[:4] == KPL_MAGIC and
            hashlib.md5(buf[4:-16]).digest() == buf[-16:])


def corrupt_flip(buf):
    """A byte of the protobuf body flipped: the MD5 no longer matches."""
    b = bytearray(buf)
    i = 4 + (len(buf) - 20) // 2
    b[i] ^= 0x5a
    return bytes(b)


def corrupt_truncate(buf, n=7):
    """The last n bytes cut off (an aggregate cut short on the way)."""
    return buf[:-n]


def bad_protobuf():
    """Magic, a protobuf whose field 3 (records) claims more bytes than
    there are, and the right MD5 of it: the checksum passes, the decode
    must not."""
    body = b"\x0a\x03abc" + b"\x1a\xff\xff\x03" + b"\x08\x00\x1a\x02hi"
    return KPL_MAGIC + body + hashlib.md5(body).digest()


def empty_aggregate():
    """Magic, a protobuf with a partition key table but no records, and its
    right MD5: nothing to split, yet the Kinesis record must not vanish."""
    body = b"\x0a\x05empty"
    return KPL_MAGIC + body + hashlib.md5(body).digest()


def put_each(moto, stream, items):
    """PutRecord each (partition_key, data) in order (one at a time, so the
    order in the shard is the put order). Returns [(shard, seq, pk, data)]."""
    out = []
    for pk, d in items:
        r = moto.kinesis.put_record(StreamName=stream, PartitionKey=pk, Data=d)
        out.append((r["ShardId"], r["SequenceNumber"], pk, d))
    return out


# ---------------------------------------------------------- stall proxy

class Hold:
    """One request to hold: the nth request for which pred(method, path)
    is true. after: forward it to moto first and hold the response."""

    def __init__(self, pred, nth=1, after=False):
        self.pred = pred
        self.nth = nth
        self.after = after
        self.count = 0
        self.armed = True
        self.held = threading.Event()       # the request is being held
        self.released = threading.Event()
        self.drop = True
        self.request = None                  # the recorded request dict
        self.status = None                   # moto's answer (after=True)

    def wait_held(self, timeout):
        return self.held.wait(timeout)

    def release(self, drop=True):
        """Let it go: drop (close the connection unanswered) or pass on."""
        self.drop = drop
        self.released.set()


class Fake:
    """One request answered by the proxy itself (see StallProxy.fake)."""

    def __init__(self, pred, respond, nth=1):
        self.pred = pred
        self.respond = respond
        self.nth = nth
        self.count = 0
        self.armed = True
        self.done = threading.Event()
        self.request = None


def kinesis_op(headers):
    """The Kinesis operation of a request (X-Amz-Target), e.g. GetRecords."""
    return headers.get("x-amz-target", "").rpartition(".")[2]


def empty_get_records(body):
    """A GetRecords answer with no records that stays where it was: what
    Kinesis may return even when records follow (sparse shards)."""
    it = json.loads(body)["ShardIterator"]
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
        {"Records": [], "NextShardIterator": it,
         "MillisBehindLatest": 0}).encode()


class StallProxy(kk.LoopbackServer):
    """A plain HTTP forwarder in front of moto (headers, Host included,
    passed as is, so SigV4 stays valid) that records each request
    (method, path, headers, body MD5/SHA-256/length, moto's status) and
    can hold chosen requests (hold())."""

    HOLD_LIMIT = 120  # seconds a held request waits at most

    def __init__(self, target_port):
        self.target_port = target_port
        self.requests = []
        self.holds = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == \
                        "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _forward(self):
                body = self._body()
                rec = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in
                                   self.headers.items()},
                       "md5": base64.b64encode(
                           hashlib.md5(body).digest()).decode(),
                       "sha256": hashlib.sha256(body).hexdigest(),
                       "len": len(body), "status": None, "t": time.time()}
                hold = fake = None
                with proxy.lock:
                    proxy.requests.append(rec)
                    for f in proxy.fakes:
                        if f.armed and f.pred(self.command, self.path,
                                              rec["headers"], body):
                            f.count += 1
                            if f.count == f.nth:
                                f.armed = False
                                fake = f
                                break
                if fake is not None:
                    status, hdrs, data = fake.respond(body)
                    rec["status"] = "fake %d" % status
                    fake.request = rec
                    self.send_response(status)
                    for k, v in hdrs.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    fake.done.set()
                    return
                with proxy.lock:
                    for h in proxy.holds:
                        if h.armed and h.pred(self.command, self.path):
                            h.count += 1
                            if h.count == h.nth:
                                h.armed = False
                                h.request = rec
                                hold = h
                                break
                if hold is not None and not hold.after:
                    hold.held.set()
                    hold.released.wait(proxy.HOLD_LIMIT)
                    if hold.drop:
                        rec["status"] = "dropped"
                        self.close_connection = True
                        return
                conn = http.client.HTTPConnection("127.0.0.1",
                                                  proxy.target_port,
                                                  timeout=120)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding",
                                             "connection")}
                hdrs["Content-Length"] = str(len(body))
                try:
                    conn.request(self.command, self.path, body=body,
                                 headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                    rec["status"] = r.status
                    if hold is not None:
                        hold.status = r.status
                        hold.held.set()
                        hold.released.wait(proxy.HOLD_LIMIT)
                        if hold.drop:
                            self.close_connection = True
                            return
                    self.send_response(r.status, r.reason)
                    for k, v in r.getheaders():
                        if k.lower() not in ("transfer-encoding",
                                             "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.fakes = []
        self._serve(Handler)

    def hold(self, pred, nth=1, after=False):
        h = Hold(pred, nth, after)
        with self.lock:
            self.holds.append(h)
        return h

    def fake(self, pred, respond, nth=1):
        """Answer the nth request for which pred(method, path, headers,
        body) is true with respond(body) -> (status, headers, bytes),
        without forwarding it."""
        f = Fake(pred, respond, nth)
        with self.lock:
            self.fakes.append(f)
        return f

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def __exit__(self, *exc):
        # release held requests first, or the server would wait for them
        with self.lock:
            for h in self.holds:
                h.armed = False
                h.released.set()
        return super().__exit__(*exc)


def put_object_requests(requests, path_re):
    """PutObject requests (PUT without a query) whose path matches."""
    rx = re.compile(path_re)
    return [r for r in requests if r["method"] == "PUT" and
            "?" not in r["path"] and rx.search(r["path"])]


def md5_problems(requests):
    """S3 PUTs (objects and parts) whose Content-MD5 is missing or wrong."""
    return ["%s %s: Content-MD5 %r, body %s" % (r["method"], r["path"][:120],
            r["headers"].get("content-md5"), r["md5"])
            for r in requests if r["method"] == "PUT" and r["len"] and
            r["status"] != "dropped" and
            r["headers"].get("content-md5") != r["md5"]]


# ---------------------------------------------------------- processes

def worker_pids(keeper):
    """The live worker processes of this keeper's supervisor: its direct
    children only. (kk.Keeper.workers() also lists every process whose
    parent is the test itself, i.e. the supervisors of other keepers that
    run at the same time, so it cannot be used to kill one keeper's
    workers while others run.)"""
    if keeper.proc is None:
        return []
    sup = keeper.proc.pid
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        state, ppid = kk._proc_stat(int(name))
        cmd = kk._proc_cmdline(int(name))
        if state not in (None, "Z") and ppid == sup and \
                "kinesis-keeper" in cmd and not kk.is_helper_cmd(cmd):
            found.append(int(name))
    return found


def alive(pid):
    """pid exists and is not a zombie."""
    return kk._proc_stat(pid)[0] not in (None, "Z")


def kill_workers(keeper, timeout=10):
    """SIGKILL every worker of keeper (by PID); wait until they are gone.
    Returns the PIDs killed."""
    pids = worker_pids(keeper)
    for pid in pids:
        kk.kill_pid(pid)
    kk.wait_until(lambda: not any(alive(p) for p in pids), timeout, 0.05)
    return pids


def read_checkpoint(state_dir, shard):
    try:
        with open(os.path.join(state_dir, "checkpoints", shard)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------- decoding

def key_regex(ext):
    """The default key template with extension ext (e.g. "raw.gz")."""
    return re.compile(
        r"^(?P<prefix>.*?)(?P<stream>[^/]+)/(?P<yyyy>\d{4})/(?P<mm>\d\d)/"
        r"(?P<dd>\d\d)/(?P<hh>\d\d)/(?P=stream)-(?P<shard>shardId-\d+)-"
        r"(?P<seq>\d+)(?:-(?P<sub>\d+))?\.%s$" % re.escape(ext))


def decode_body(obj, gz):
    """obj["raw"]: the uncompressed body (errors in obj["errors"])."""
    obj["errors"] = []
    if gz:
        try:
            obj["raw"] = gzip.decompress(obj["body"])
        except (OSError, EOFError, ValueError) as e:
            obj["raw"] = b""
            obj["errors"].append("not a gzip stream: %s" % e)
    else:
        obj["raw"] = obj["body"]
        if obj["body"][:2] == b"\x1f\x8b":
            obj["errors"].append("compression none, but a gzip stream")
    return obj


def decode_jsonl(obj, gz):
    """Decode a jsonl object (gzip or not) like kk.decode_object does:
    obj["lines"], obj["nlines"], obj["errors"]."""
    decode_body(obj, gz)
    obj["lines"] = []
    raw = obj["raw"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        obj["errors"].append("body is not UTF-8: %s" % e)
        text = raw.decode("utf-8", "replace")
    if text and not text.endswith("\n"):
        obj["errors"].append("last line has no newline")
    rows = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    obj["nlines"] = len(rows) if text else 0
    for i, line in enumerate(rows):
        try:
            v = json.loads(line, parse_constant=kk._reject_constant)
        except ValueError as e:
            obj["errors"].append("line %d does not parse: %s" % (i + 1, e))
            continue
        if not isinstance(v, dict):
            obj["errors"].append("line %d is not an object" % (i + 1))
            continue
        obj["lines"].append(v)
    return obj


def check_format_objects(objs, stream, prefix, ext, gz, jsonl, label):
    """SPEC section 5 checks for objects of any format: the key follows the
    default template with extension ext, the body decodes, metadata
    (records, first-seq, last-seq, sha256) matches; for jsonl also each
    line's fields. Sets obj["shard"], obj["sub"] (from the key) and, for
    jsonl, obj["lines"] so kk.assert_exactly_once() applies."""
    rx = key_regex(ext)
    probs = {"key": [], "decode": [], "metadata": [], "line fields": []}
    for o in objs:
        m = rx.match(o["key"])
        o["shard"] = m.group("shard") if m else None
        o["key_seq"] = m.group("seq") if m else None
        o["sub"] = int(m.group("sub")) if m and m.group("sub") else None
        if not m or m.group("prefix") != prefix or m.group("stream") != stream:
            probs["key"].append("%s: not %s{stream}/yyyy/mm/dd/hh/"
                                "{stream}-{shard}-{seq}[-sub].%s"
                                % (o["key"], prefix, ext))
        if jsonl:
            decode_jsonl(o, gz)
            n = o["nlines"]
        else:
            decode_body(o, gz)
            n = None
        probs["decode"] += ["%s: %s" % (o["key"], e) for e in o["errors"]]
        md = o["metadata"]
        if md.get("sha256") != hashlib.sha256(o["body"]).hexdigest():
            probs["metadata"].append("%s: x-amz-meta-sha256 %r is not the "
                                     "SHA-256 of the stored bytes"
                                     % (o["key"], md.get("sha256")))
        if m and md.get("first-seq") != m.group("seq"):
            probs["metadata"].append("%s: x-amz-meta-first-seq %r"
                                     % (o["key"], md.get("first-seq")))
        if jsonl:
            lines = o["lines"]
            want = {"records": str(n),
                    "first-seq": lines[0].get("seq") if lines else None,
                    "last-seq": lines[-1].get("seq") if lines else None}
            for k, v in want.items():
                if md.get(k) != v:
                    probs["metadata"].append("%s: x-amz-meta-%s = %r, want %r"
                                             % (o["key"], k, md.get(k), v))
            if lines and m:
                first = lines[0]
                sub = first.get("sub")
                ksub = o["sub"]
                if first.get("seq") != m.group("seq") or \
                        (ksub or 0) != (sub or 0):
                    probs["key"].append("%s: first line is %s/%s"
                                        % (o["key"], first.get("seq"), sub))
            for i, ln in enumerate(lines):
                where = "%s line %d" % (o["key"], i + 1)
                extra = set(ln) - {"seq", "sub", "pk", "ts", "data", "b64"}
                if extra:
                    probs["line fields"].append("%s: unexpected %s"
                                                % (where, sorted(extra)))
                if not isinstance(ln.get("seq"), str) or \
                        not ln["seq"].isdigit():
                    probs["line fields"].append("%s: seq %r"
                                                % (where, ln.get("seq")))
                if not isinstance(ln.get("pk"), str):
                    probs["line fields"].append("%s: pk %r"
                                                % (where, ln.get("pk")))
                if not isinstance(ln.get("ts"), str) or \
                        not kk.TS_RE.match(ln["ts"]):
                    probs["line fields"].append("%s: ts %r"
                                                % (where, ln.get("ts")))
    for name, lst in probs.items():
        kk.ok(not lst, "%s: objects: %s correct (%d objects)"
              % (label, name, len(objs)), *lst[:8])
    return objs


def wait_records(moto, bucket, n, timeout, keeper=None):
    """Poll until x-amz-meta-records over the bucket reaches n (or the
    keeper died, or timeout). Returns the count."""
    cache = {}
    kk.wait_until(lambda: (keeper is not None and not keeper.running()) or
                  kk.archived_records(moto, bucket, cache) >= n,
                  timeout, 0.3)
    return kk.archived_records(moto, bucket, cache)


def multipart_uploads(moto, bucket):
    """In-progress multipart uploads of bucket: [(key, upload id)]."""
    r = moto.s3.list_multipart_uploads(Bucket=bucket)
    return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]


@contextlib.contextmanager
def keepers(*ks):
    """Enter several kk.Keeper context managers at once."""
    with contextlib.ExitStack() as st:
        yield [st.enter_context(k) for k in ks]
