"""
kk_extra.py: helpers of the supervision scenarios (resharding, chaos,
worker supervision) on top of kk.py: kinesalite on loopback, a rate-bounded
producer thread, keeper log parsing, process-tree helpers, notification
draining in receive order, and state directory readers.
"""

import contextlib
import datetime
import hashlib
import http.client
import http.server
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

import boto3
import botocore.config
import botocore.exceptions

import kk

NODE_MODULES = os.path.join(kk.ROOT, "build", "npm", "node_modules")

# ------------------------------------------------------------------ kinesalite

_KINESALITE_JS = r"""
var kinesalite = require(process.argv[2]);
var server = kinesalite({createStreamMs: 0, deleteStreamMs: 0,
                         updateStreamMs: 0});
server.listen(parseInt(process.argv[3], 10), '127.0.0.1', function (err) {
  if (err) { console.error(err); process.exit(1); }
  console.log('kinesalite listening on 127.0.0.1:' + process.argv[3]);
});
"""


class Kinesalite:
    """kinesalite (in memory) on a free loopback port, started from a node
    script (its CLI would listen on all interfaces). Attributes: endpoint,
    kinesis (a boto3 client; kinesalite checks no signature)."""

    def __init__(self, ready_timeout=30):
        self.ready_timeout = ready_timeout
        self.proc = None
        self.tmp = None

    @staticmethod
    def available():
        return (shutil.which("node") is not None and
                os.path.isdir(os.path.join(NODE_MODULES, "kinesalite")))

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="kk-kinesalite-")
        script = os.path.join(self.tmp, "kinesalite.js")
        with open(script, "w") as f:
            f.write(_KINESALITE_JS)
        self.port = kk.free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.logpath = os.path.join(self.tmp, "kinesalite.log")
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(
                ["node", script, os.path.join(NODE_MODULES, "kinesalite"),
                 str(self.port)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
        finally:
            logf.close()
        self.kinesis = client("kinesis", self.endpoint)
        try:
            if not kk.wait_until(self._ready, self.ready_timeout, 0.1):
                raise RuntimeError("kinesalite did not answer within %ds"
                                   % self.ready_timeout)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("kinesalite exited with %s: %s" % (
                self.proc.returncode, open(self.logpath).read()[-500:]))
        try:
            self.kinesis.list_streams()
            return True
        except (botocore.exceptions.BotoCoreError,
                botocore.exceptions.ClientError):
            return False

    def __exit__(self, *exc):
        if self.proc is not None:
            kk.stop_group(self.proc)
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return False


def client(service, endpoint, access_key="AKIDKINESALITE", secret="unused"):
    """A boto3 client without retries (a retried PutRecords could store a
    record twice and the test would not know its sequence number)."""
    return boto3.client(service, endpoint_url=endpoint, region_name=kk.REGION,
                        aws_access_key_id=access_key,
                        aws_secret_access_key=secret,
                        config=botocore.config.Config(
                            retries={"max_attempts": 1, "mode": "standard"},
                            connect_timeout=5, read_timeout=30))


def no_retry_client(moto, service):
    """A client of moto (SigV4 credentials of kk.Moto) without retries."""
    return client(service, moto.endpoint, moto.access_key_id,
                  moto.secret_access_key)


def list_shards(kinesis, stream):
    shards, kw = [], {"StreamName": stream}
    while True:
        r = kinesis.list_shards(**kw)
        shards += r["Shards"]
        if not r.get("NextToken"):
            return shards
        kw = {"StreamName": stream, "NextToken": r["NextToken"]}


def wait_active(kinesis, stream, timeout=20):
    return kk.wait_until(
        lambda: kinesis.describe_stream_summary(StreamName=stream)
        ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE",
        timeout, 0.1)


def create_stream(kinesis, stream, shards, timeout=20):
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    if not wait_active(kinesis, stream, timeout):
        raise RuntimeError("stream %s not ACTIVE after %ds"
                           % (stream, timeout))
    return [s["ShardId"] for s in list_shards(kinesis, stream)]


# -------------------------------------------------------------------- producer

class Producer(threading.Thread):
    """Puts records with random partition keys at a bounded rate (rate
    records/s in PutRecords calls of `chunk`) until stop(). Each payload is
    a unique JSON text. put: [(shard, seq, pk, data)] of accepted records;
    errors: calls that failed as a whole (their records may or may not be
    stored: reported by the tests as a diagnostic)."""

    def __init__(self, kinesis, stream, rate=100, chunk=10, seed=1, tag="r"):
        super().__init__(daemon=True)
        self.kinesis = kinesis
        self.stream = stream
        self.rate = rate
        self.chunk = chunk
        self.rng = random.Random(seed)
        self.tag = tag
        self.put = []
        self.errors = []
        self.rejected = 0
        self.lock = threading.Lock()
        self._halt = threading.Event()
        self.n = 0

    def run(self):
        period = self.chunk / float(self.rate)
        next_t = time.monotonic()
        while not self._halt.is_set():
            items = []
            for _ in range(self.chunk):
                pk = "pk-%d" % self.rng.randrange(1 << 30)
                data = json.dumps({"n": self.n, "tag": self.tag,
                                   "pad": "x" * self.rng.randrange(0, 200)},
                                  separators=(",", ":")).encode()
                self.n += 1
                items.append((pk, data))
            try:
                r = self.kinesis.put_records(StreamName=self.stream, Records=[
                    {"PartitionKey": pk, "Data": d} for pk, d in items])
                with self.lock:
                    for (pk, d), rr in zip(items, r["Records"]):
                        if rr.get("SequenceNumber"):
                            self.put.append((rr["ShardId"],
                                             rr["SequenceNumber"], pk, d))
                        else:
                            self.rejected += 1
            except Exception as e:  # noqa: BLE001 (reported by the test)
                with self.lock:
                    self.errors.append("%s: %s" % (type(e).__name__, e))
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                self._halt.wait(delay)
            else:
                next_t = time.monotonic()

    def count(self):
        with self.lock:
            return len(self.put)

    def stop(self, timeout=30):
        self._halt.set()
        self.join(timeout)
        return not self.is_alive()


# ------------------------------------------------------------------------ logs

LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z "
                    r"[^\[\s]+\[(\d+)\]: (.*)$")


class LogLine:
    __slots__ = ("idx", "t", "pid", "msg", "raw")

    def __init__(self, idx, t, pid, msg, raw):
        self.idx, self.t, self.pid, self.msg, self.raw = idx, t, pid, msg, raw

    def __repr__(self):
        return self.raw


def parse_log(text):
    """Keeper stderr (-d) as [LogLine]: idx (line number in file order), t
    (UTC epoch seconds), pid, msg (after "ident[pid]: ")."""
    out = []
    for i, raw in enumerate(text.splitlines()):
        m = LOG_RE.match(raw)
        if not m:
            continue
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f") \
            .replace(tzinfo=datetime.timezone.utc).timestamp()
        out.append(LogLine(i, t, int(m.group(2)), m.group(3), raw))
    return out


def grep(lines, pattern):
    r = re.compile(pattern)
    return [ln for ln in lines if r.search(ln.msg)]


FLUSHED_RE = re.compile(r"^worker (shardId-\d+): flushed (\d+) records to "
                        r"s3://[^/]+/(\S+)")


# ------------------------------------------------------------------- processes

def proc_stat(pid):
    """(state, ppid) of a process, or (None, None)."""
    return kk._proc_stat(pid)


def children_of(ppid):
    """Live (non-zombie) processes whose parent is ppid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        state, pp = proc_stat(int(name))
        if pp == ppid and state not in (None, "Z") and \
                not kk.is_helper_cmd(kk._proc_cmdline(int(name))):
            found.append(int(name))
    return sorted(found)


def alive(pid):
    state, _ = proc_stat(pid)
    return state is not None and state != "Z"


def reap_zombies(exclude=()):
    """waitpid() the zombie children of this process (re-parented orphans)
    except exclude (Popen objects still to be waited for)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in exclude:
            continue
        state, pp = proc_stat(pid)
        if pp == me and state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


# ------------------------------------------------------------------- SNS / SQS

def drain_notes(sqs, url, idle_rounds=2, timeout=60):
    """Receive and delete every message, in receive order: [{message,
    attributes, sent (ms, SQS SentTimestamp), ts (SNS Timestamp), order}]."""
    out, idle = [], 0
    deadline = time.monotonic() + timeout
    while idle < idle_rounds and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                WaitTimeSeconds=1, AttributeNames=["All"],
                                MessageAttributeNames=["All"])
        msgs = r.get("Messages", [])
        if not msgs:
            idle += 1
            continue
        idle = 0
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            env = json.loads(m["Body"])
            try:
                msg = json.loads(env.get("Message", ""))
            except ValueError:
                msg = env.get("Message")
            attrs = {k: v.get("Value") for k, v in
                     (env.get("MessageAttributes") or {}).items()}
            try:
                sent = int(m.get("Attributes", {}).get("SentTimestamp", "0"))
            except ValueError:
                sent = 0
            out.append({"message": msg, "attributes": attrs, "raw": env,
                        "sent": sent, "ts": env.get("Timestamp"),
                        "order": len(out)})
    return out


# ----------------------------------------------------------------------- state

def read_checkpoint(state_dir, shard):
    """The checkpoint as a dict, None if absent, or {"_error": ...}."""
    path = os.path.join(state_dir, "checkpoints", shard)
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return {"_error": str(e)}


def outbox_entries(state_dir):
    """Every file left under {state_dir}/outbox/*/ (relative paths)."""
    base = os.path.join(state_dir, "outbox")
    out = []
    for root, _, files in os.walk(base):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), base))
    return sorted(out)


def check_final_notifications(notes, objs, stream, bucket, label=""):
    """At-least-once notifications after crashes (SPEC section 5): every
    object has a notification; the LAST notification of each key (receive
    order) announces the final object under that key, field by field
    (kk.check_notifications on that subset); nothing announces a key that is
    not in the bucket. Repeats with the same sha256 (republished after a
    crash) and earlier ones with another sha256 (an object rewritten under
    the same key) are reported as diagnostics, with their count returned:
    (repeats, superseded)."""
    lbl = (label + ": ") if label else ""
    by_key = {o["key"]: o for o in objs}
    last, every, bad = {}, {}, []
    for n in notes:
        m = n["message"]
        if not isinstance(m, dict):
            bad.append("not JSON: %.100r" % m)
            continue
        last[m.get("key")] = n
        every.setdefault(m.get("key"), []).append(n)
    kk.ok(not bad, "%severy notification is a JSON message" % lbl, *bad[:5])
    final = [last[k] for k in sorted(last, key=lambda k: last[k]["order"])]
    kk.check_notifications(final, objs, objs, stream, bucket,
                           label=(lbl + "last notification per key").strip())
    repeats, superseded = [], []
    for key, lst in every.items():
        o = by_key.get(key)
        if o is None or len(lst) < 2:
            continue
        want = hashlib.sha256(o["body"]).hexdigest()
        for n in lst[:-1]:
            sha = n["message"].get("sha256")
            if sha == want:
                repeats.append("%s: announced again (#%d)" % (key, n["order"]))
            else:
                superseded.append("%s: #%d announced sha256 %s, the final "
                                  "object has %s" % (key, n["order"], sha,
                                                     want))
    if repeats:
        kk.diag("%s%d repeated notifications (at-least-once after a crash):"
                % (lbl, len(repeats)), *repeats[:10])
    if superseded:
        kk.diag("%s%d notifications announced an object later rewritten "
                "under the same key:" % (lbl, len(superseded)),
                *superseded[:20])
    return repeats, superseded


def save_log(keeper, name):
    """Copy the keeper log to $KK_E2E_LOGDIR/name (if set) for inspection."""
    d = os.environ.get("KK_E2E_LOGDIR")
    if d:
        os.makedirs(d, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copyfile(keeper.logpath, os.path.join(d, name))


# --------------------------------------------------------------- fault proxy

SNS_OUTAGE = (503, "text/xml", b'<ErrorResponse><Error><Type>Receiver</Type>'
              b'<Code>ServiceUnavailable</Code><Message>test outage'
              b'</Message></Error></ErrorResponse>')


class HookProxy(kk.LoopbackServer):
    """An HTTP forwarder on loopback in front of moto (headers, Host
    included, passed as is, so SigV4 signatures stay valid) that calls
    hook(request, status) after moto has answered and BEFORE the answer goes
    back: the moment to SIGKILL the client when the effect (an object
    stored, a message published) has happened but the client cannot know.
    request: {method, path, headers (lower-case), body}. pre(request), if
    given, is called first: a (status, content_type, body) it returns is
    the answer, and moto never sees the request (an outage). around(request),
    if given, returns a context manager held while moto handles the request
    and the hook runs (e.g. one write at a time per item)."""

    def __init__(self, target_port, hook=None, pre=None, around=None):
        self.hook = hook or (lambda req, status: None)
        self.pre = pre or (lambda req: None)
        self.around = around or (lambda req: contextlib.nullcontext())
        self.target_port = target_port
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v
                                   for k, v in self.headers.items()},
                       "body": body}
                fake = proxy.pre(req)
                if fake is not None:
                    status, ctype, data = fake
                    with contextlib.suppress(OSError):
                        self.send_response(status)
                        self.send_header("Content-Type", ctype)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(
                    "127.0.0.1", proxy.target_port, timeout=60)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding",
                                             "connection")}
                hdrs["Content-Length"] = str(len(body))
                with proxy.around(req):
                    try:
                        conn.request(self.command, self.path, body=body,
                                     headers=hdrs)
                        r = conn.getresponse()
                        data = r.read()
                    finally:
                        conn.close()
                    try:
                        proxy.hook(req, r.status)
                    except Exception as e:  # noqa: BLE001 (a test bug)
                        kk.diag("proxy hook: %s: %s"
                                % (type(e).__name__, e))
                with contextlib.suppress(OSError):
                    self.send_response(r.status, r.reason)
                    for k, v in r.getheaders():
                        if k.lower() not in ("transfer-encoding",
                                             "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # a client killed mid-request is what this proxy is for
                if not isinstance(sys.exc_info()[1], OSError):
                    super().handle_error(request, client_address)

        self._serve(Handler, Server)


def worker_of(shard, parents):
    """PIDs of live worker processes for shard whose parent is in parents
    (or this test: orphans)."""
    parents = set(parents) | {os.getpid()}
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        state, pp = proc_stat(pid)
        if state in (None, "Z") or pp not in parents:
            continue
        argv = kk._proc_cmdline(pid).split()
        if "-s" in argv and argv.index("-s") + 1 < len(argv) and \
                argv[argv.index("-s") + 1] == shard and \
                any("worker" in a for a in argv[:2]):
            out.append(pid)
    return out
