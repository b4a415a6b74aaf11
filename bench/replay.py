"""
bench/replay.py: a Kinesis source, S3 sink and SNS endpoint fast enough not
to be the bottleneck of the benchmark. One HTTP/1.1 keep-alive server:

  Kinesis (JSON 1.1, POST / with X-Amz-Target: Kinesis_20131202.<Op>):
    ListShards, GetShardIterator, GetRecords. GetRecords answers come from
    pre-built datasets (datagen.py) mapped into memory: the server only
    writes `{"Records":[`, the stored text, and the iterator around it.
  S3 (path style): PUT object, multipart (POST ?uploads, PUT ?partNumber&
    uploadId, POST ?uploadId, DELETE ?uploadId), GET/HEAD object. Content-MD5
    is verified (400 BadDigest), and so is x-amz-content-sha256 when it is a
    digest; objects are written under --store.
  SNS: form POST Action=Publish, a minimal XML answer.
  Control, for bench.py: POST /_bench/streams (define streams, JSON),
    GET /_bench/state (timings and counters), POST /_bench/reset.

Signatures are not verified. Times are CLOCK_BOOTTIME seconds, the clock of
/proc/PID/stat start times, so the bench can relate them to processes.

Usage: python3 bench/replay.py --data DIR --store DIR [--port N]
prints "port N" on stdout once it listens.
"""
import argparse
import base64
import hashlib
import json
import mmap
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datagen  # noqa: E402

ITER_PAD = 180          # real shard iterators are a couple hundred chars
LOCK = threading.Lock()
DATA = {}               # dataset name -> (mmap, index)
STREAMS = {}            # stream name -> {"shards": [shard dict]}
STATE = {}              # "stream/shard" -> counters and times
BUCKETS = {}            # bucket -> counters
SNS = {"publishes": 0, "records": 0, "by_stream": {}}
CONNS = [0]             # client connections (keep-alive check)
TIMES = {}              # "kinesis GetRecords s-x" / "s3 PUT bucket"... ->
                        # [requests, seconds from headers read to reply sent]
UPLOADS = {}            # upload id -> {"bucket","key","parts":{n: bytes}}
ARGS = None


def now():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def dataset(name):
    with LOCK:
        if name not in DATA:
            idx = datagen.load_index(ARGS.data, name)
            if idx is None:
                raise KeyError("dataset %s is not generated" % name)
            binp, _ = datagen.paths(ARGS.data, name)
            with open(binp, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            DATA[name] = (mm, idx)
        return DATA[name]


def shard_state(stream, shard):
    k = stream + "/" + shard
    st = STATE.get(k)
    if st is None:
        st = STATE[k] = {"first_get_records": None, "first_data": None,
                         "end_served": None, "calls": 0, "records": 0,
                         "bytes": 0, "iterators": 0, "last_data": None,
                         "max_response": 0}
    return st


def make_iter(stream, si, pos, skip=0):
    s = "%s~%d~%d~%d~" % (stream, si, pos, skip)
    return s + "A" * max(0, ITER_PAD - len(s))


def parse_iter(it):
    try:
        stream, si, pos, skip, _ = it.split("~", 4)
        return stream, int(si), int(pos), int(skip)
    except (ValueError, AttributeError):
        return None


class Shard:
    """One shard: its records are responses [0, n) of a dataset (or none)."""

    def __init__(self, stream, si, d):
        self.stream = stream
        self.si = si
        self.id = d["id"]
        self.parent = d.get("parent")
        self.closed = bool(d.get("closed"))
        self.children = d.get("children", [])
        self.resps = []
        self.mm = None
        if d.get("data"):
            self.mm, idx = dataset(d["data"])
            n = d.get("responses")
            self.resps = idx["responses"][:n] if n else idx["responses"]
        self.last_ms = self.resps[-1]["last_ms"] if self.resps else 0
        self.lock = threading.Lock()

    def describe(self):
        d = {"ShardId": self.id,
             "HashKeyRange": {
                 "StartingHashKey": str(self.si * (2 ** 128 // 128)),
                 "EndingHashKey": str((self.si + 1) * (2 ** 128 // 128) - 1)},
             "SequenceNumberRange": {
                 "StartingSequenceNumber": self.resps[0]["first"] if self.resps
                 else str(datagen.SEQ_BASE + self.si)}}
        if self.parent:
            d["ParentShardId"] = self.parent
        if self.closed:
            d["SequenceNumberRange"]["EndingSequenceNumber"] = \
                self.resps[-1]["last"] if self.resps else \
                str(datagen.SEQ_BASE + self.si)
        return d


def error(h, status, typ, msg):
    body = json.dumps({"__type": typ, "message": msg}).encode()
    h.reply(status, body, "application/x-amz-json-1.1",
            [("x-amzn-ErrorType", typ)])


def kinesis(h, op, body):
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return error(h, 400, "SerializationException", "bad JSON")
    if op == "ListShards":
        name = req.get("StreamName")
        if name not in STREAMS:
            return error(h, 400, "ResourceNotFoundException",
                         "Stream %s not found" % name)
        shards = [s.describe() for s in STREAMS[name]["shards"]]
        return h.reply(200, json.dumps({"Shards": shards}).encode(),
                       "application/x-amz-json-1.1")
    if op == "GetShardIterator":
        name, sid = req.get("StreamName"), req.get("ShardId")
        s = next((x for x in STREAMS.get(name, {"shards": []})["shards"]
                  if x.id == sid), None)
        if s is None:
            return error(h, 400, "ResourceNotFoundException",
                         "Shard %s in stream %s not found" % (sid, name))
        typ = req.get("ShardIteratorType")
        pos, skip = 0, 0
        if typ == "LATEST":
            pos = len(s.resps)
        elif typ in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            seq = int(req.get("StartingSequenceNumber", "0"))
            pos = len(s.resps)
            for i, r in enumerate(s.resps):
                if int(r["last"]) >= seq:
                    pos = i
                    seqs = [int(x["SequenceNumber"]) for x in json.loads(
                        b"[" + s.mm[r["off"]:r["off"] + r["len"]] + b"]")]
                    skip = sum(1 for x in seqs if x < seq or (
                        x == seq and typ == "AFTER_SEQUENCE_NUMBER"))
                    if skip == len(seqs):
                        pos, skip = i + 1, 0
                    break
        with LOCK:
            shard_state(name, sid)["iterators"] += 1
        return h.reply(200, json.dumps({
            "ShardIterator": make_iter(name, s.si, pos, skip)}).encode(),
            "application/x-amz-json-1.1")
    if op == "GetRecords":
        it = parse_iter(req.get("ShardIterator"))
        if it is None or it[0] not in STREAMS or \
                it[1] >= len(STREAMS[it[0]]["shards"]):
            return error(h, 400, "InvalidArgumentException", "bad iterator")
        name, si, pos, skip = it
        s = STREAMS[name]["shards"][si]
        t = now()
        with LOCK:
            st = shard_state(name, s.id)
            st["calls"] += 1
            if st["first_get_records"] is None:
                st["first_get_records"] = t
        if pos >= len(s.resps):
            with LOCK:
                if st["end_served"] is None:
                    st["end_served"] = t
            if s.closed:
                tail = {"Records": [], "MillisBehindLatest": 0,
                        "ChildShards": [{"ShardId": c, "ParentShards": [s.id],
                                         "HashKeyRange": s.describe()[
                                             "HashKeyRange"]}
                                        for c in s.children]}
            else:
                tail = {"Records": [], "MillisBehindLatest": 0,
                        "NextShardIterator": make_iter(name, si, pos)}
            return h.reply(200, json.dumps(tail).encode(),
                           "application/x-amz-json-1.1")
        r = s.resps[pos]
        chunk = memoryview(s.mm)[r["off"]:r["off"] + r["len"]]
        n, nbytes = r["n"], r["bytes"]
        limit = int(req.get("Limit", 10000))
        if skip or limit < n:
            recs = json.loads(b"[" + bytes(chunk) + b"]")
            nxt_skip = skip + min(limit, len(recs) - skip)
            part = recs[skip:nxt_skip]
            chunk = json.dumps(part, separators=(",", ":"))[1:-1].encode()
            n = len(part)
            nbytes = sum(len(base64.b64decode(x["Data"])) for x in part)
            nxt = make_iter(name, si, pos, nxt_skip) if nxt_skip < len(
                recs) else make_iter(name, si, pos + 1)
        else:
            nxt = make_iter(name, si, pos + 1)
        mbl = s.last_ms - r["last_ms"] + 1      # > 0: there is more
        head = b'{"Records":['
        tail = ('],"NextShardIterator":"%s","MillisBehindLatest":%d}' % (
            nxt, mbl)).encode()
        with LOCK:
            st["records"] += n
            st["bytes"] += nbytes
            if st["first_data"] is None:
                st["first_data"] = t
            st["last_data"] = t
            st["max_response"] = max(st["max_response"],
                                     len(head) + len(chunk) + len(tail))
        return h.reply_parts(200, [head, chunk, tail],
                             "application/x-amz-json-1.1")
    return error(h, 400, "UnknownOperationException", op)


def sns(h, body):
    form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    if form.get("Action", [""])[0] != "Publish":
        return h.reply(400, b"<ErrorResponse><Error><Code>InvalidAction</Code>"
                       b"</Error></ErrorResponse>", "text/xml")
    recs, stream = 0, "?"
    try:
        m = json.loads(form["Message"][0])
        recs, stream = int(m.get("records", 0)), m.get("stream", "?")
    except (KeyError, ValueError):
        pass
    with LOCK:
        SNS["publishes"] += 1
        SNS["records"] += recs
        b = SNS["by_stream"].setdefault(stream, {"publishes": 0, "records": 0,
                                                 "last": None})
        b["publishes"] += 1
        b["records"] += recs
        b["last"] = now()
    mid = hashlib.md5(body).hexdigest()
    h.reply(200, ("<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/"
                  "2010-03-31/\"><PublishResult><MessageId>%s-%s-%s-%s-%s"
                  "</MessageId></PublishResult><ResponseMetadata><RequestId>"
                  "bench</RequestId></ResponseMetadata></PublishResponse>" % (
                      mid[:8], mid[8:12], mid[12:16], mid[16:20], mid[20:])
                  ).encode(), "text/xml")


def s3_error(h, status, code, msg):
    h.reply(status, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s"
                     "</Code><Message>%s</Message></Error>" % (code, msg)
                     ).encode(), "application/xml")


def bucket_state(bucket):
    b = BUCKETS.get(bucket)
    if b is None:
        b = BUCKETS[bucket] = {"objects": 0, "bytes": 0, "puts": 0,
                               "multipart": 0, "parts": 0, "bad_digest": 0,
                               "no_md5": 0, "bad_sha256": 0,
                               "first_put": None, "last_put_done": None,
                               "max_object": 0, "keys": []}
    return b


def check_body(h, bucket, body):
    """Content-MD5 and x-amz-content-sha256; False after answering 400."""
    md5 = h.headers.get("Content-MD5")
    with LOCK:
        b = bucket_state(bucket)
    if md5 is None:
        with LOCK:
            b["no_md5"] += 1
    elif base64.b64encode(hashlib.md5(body).digest()).decode() != md5.strip():
        with LOCK:
            b["bad_digest"] += 1
        s3_error(h, 400, "BadDigest", "The Content-MD5 you specified did not "
                 "match what we received.")
        return False
    sha = h.headers.get("x-amz-content-sha256", "")
    if len(sha) == 64 and hashlib.sha256(body).hexdigest() != sha:
        with LOCK:
            b["bad_sha256"] += 1
        s3_error(h, 400, "XAmzContentSHA256Mismatch", "The provided "
                 "'x-amz-content-sha256' header does not match what was "
                 "computed.")
        return False
    return True


def store(bucket, key, body):
    path = os.path.join(ARGS.store, bucket, key.replace("/", "%2F"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "wb") as f:
        f.write(body)
    os.replace(path + ".part", path)
    with LOCK:
        b = bucket_state(bucket)
        b["last_put_done"] = now()
        if "/_keeper/" in "/" + key:
            # the per-shard head object (where the shard stands), rewritten
            # at every flush: not archive, so not counted as such
            b["heads"] = b.get("heads", 0) + 1
            return
        b["objects"] += 1
        b["bytes"] += len(body)
        b["max_object"] = max(b["max_object"], len(body))
        b["keys"].append(key)


def s3(h, method, path, query, body):
    parts = path.lstrip("/").split("/", 1)
    bucket = urllib.parse.unquote(parts[0])
    key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    with LOCK:
        b = bucket_state(bucket)
        if b["first_put"] is None and method in ("PUT", "POST"):
            b["first_put"] = now()
    if method == "PUT" and "uploadId" in q:
        up = UPLOADS.get(q["uploadId"][0])
        if up is None:
            return s3_error(h, 404, "NoSuchUpload", "no such upload")
        if not check_body(h, bucket, body):
            return None
        n = int(q["partNumber"][0])
        up["parts"][n] = body
        with LOCK:
            b["parts"] += 1
        return h.reply(200, b"", None,
                       [("ETag", '"%s"' % hashlib.md5(body).hexdigest())])
    if method == "PUT":
        if not check_body(h, bucket, body):
            return None
        store(bucket, key, body)
        with LOCK:
            b["puts"] += 1
        return h.reply(200, b"", None,
                       [("ETag", '"%s"' % hashlib.md5(body).hexdigest())])
    if method == "POST" and "uploads" in q:
        uid = base64.urlsafe_b64encode(os.urandom(24)).decode()
        UPLOADS[uid] = {"bucket": bucket, "key": key, "parts": {}}
        return h.reply(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                             "<InitiateMultipartUploadResult><Bucket>%s"
                             "</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                             "</InitiateMultipartUploadResult>" % (
                                 bucket, key, uid)).encode(),
                       "application/xml")
    if method == "POST" and "uploadId" in q:
        up = UPLOADS.pop(q["uploadId"][0], None)
        if up is None:
            return s3_error(h, 404, "NoSuchUpload", "no such upload")
        nums = sorted(up["parts"])
        data = b"".join(up["parts"][i] for i in nums)
        store(bucket, key, data)
        with LOCK:
            b["multipart"] += 1
        etag = hashlib.md5(b"".join(hashlib.md5(up["parts"][i]).digest()
                                    for i in nums)).hexdigest()
        return h.reply(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                             "<CompleteMultipartUploadResult><Bucket>%s"
                             "</Bucket><Key>%s</Key><ETag>\"%s-%d\"</ETag>"
                             "</CompleteMultipartUploadResult>" % (
                                 bucket, key, etag, len(nums))).encode(),
                       "application/xml")
    if method == "DELETE" and "uploadId" in q:
        UPLOADS.pop(q["uploadId"][0], None)
        return h.reply(204, b"", None)
    if method in ("GET", "HEAD"):
        p = os.path.join(ARGS.store, bucket, key.replace("/", "%2F"))
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError:
            return s3_error(h, 404, "NoSuchKey", "no such key")
        return h.reply(200, data, "application/octet-stream")
    return s3_error(h, 400, "NotImplemented", "%s %s" % (method, path))


def control(h, method, path, body):
    if path == "/_bench/streams" and method == "POST":
        spec = json.loads(body)
        for name, d in spec.items():
            STREAMS[name] = {"shards": [Shard(name, i, s)
                                        for i, s in enumerate(d["shards"])]}
        return h.reply(200, b"{}", "application/json")
    if path == "/_bench/state":
        with LOCK:
            out = json.dumps({"now": now(), "shards": STATE, "times": TIMES,
                              "connections": CONNS[0],
                              "buckets": BUCKETS, "sns": SNS,
                              "uploads_open": len(UPLOADS)}).encode()
        return h.reply(200, out, "application/json")
    if path == "/_bench/reset":
        with LOCK:
            STATE.clear()
            BUCKETS.clear()
            TIMES.clear()
            SNS.update({"publishes": 0, "records": 0, "by_stream": {}})
        return h.reply(200, b"{}", "application/json")
    return h.reply(404, b"{}", "application/json")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kk-bench-replay"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counted = False

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype, extra=()):
        self.reply_parts(status, [body], ctype, extra)

    def reply_parts(self, status, parts, ctype, extra=()):
        self.send_response_only(status)
        self.send_header("Content-Length", str(sum(len(p) for p in parts)))
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("x-amzn-RequestId", "bench")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            for p in parts:
                self.wfile.write(p)

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = []
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(out)
                out.append(self.rfile.read(n))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def dispatch(self):
        t0 = now()
        body = self.body()
        path, _, query = self.path.partition("?")
        if path.startswith("/_bench/"):
            return control(self, self.command, path, body)
        if not self.counted:
            self.counted = True
            with LOCK:
                CONNS[0] += 1
        target = self.headers.get("X-Amz-Target", "")
        if self.command == "POST" and path == "/" and target:
            op = target.rpartition(".")[2]
            try:
                what = "kinesis %s %s" % (op, json.loads(body).get(
                    "StreamName") or (parse_iter(json.loads(body).get(
                        "ShardIterator")) or ["?"])[0])
            except (ValueError, AttributeError):
                what = "kinesis " + op
            kinesis(self, op, body)
        elif self.command == "POST" and path == "/":
            what = "sns Publish"
            sns(self, body)
        else:
            what = "s3 %s %s" % (self.command, path.lstrip("/").split("/")[0])
            s3(self, self.command, path, query, body)
        t1 = now()
        with LOCK:
            e = TIMES.setdefault(what, [0, 0.0])
            e[0] += 1
            e[1] += t1 - t0

    def do_POST(self):
        self.dispatch()

    do_PUT = do_GET = do_HEAD = do_DELETE = do_POST


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--port", type=int, default=0)
    ARGS = ap.parse_args()
    os.makedirs(ARGS.store, exist_ok=True)
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    print("port %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
