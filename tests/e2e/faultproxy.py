"""
faultproxy.py: a small HTTP/1.1 reverse proxy for the end-to-end tests. It
sits on a free loopback port in front of moto (or any AWS emulator) and
forwards each request byte for byte: the method, path, body and every header,
Host included, exactly as the keeper sent them, so SigV4 signatures stay
valid. Client connections are kept alive; each has its own upstream
connection.

From the test thread, rules inject faults at run time (thread-safe):

    p = FaultProxy(upstream_port)
    r = p.add_rule("kinesis", op="GetRecords", action="throttle", every=2,
                   duration=10)
    p.add_rule("s3", method="PUT", path_prefix="/bucket/", action="status",
               status=503, duration=6)
    p.add_rule("sns", op="Publish", action="drop", count=3)

Matching: service is taken from the SigV4 credential scope (kinesis, s3, sns,
cloudwatch, sts); op is the X-Amz-Target operation (Kinesis), the form Action
(SNS, CloudWatch) or the method (S3); shard is known for Kinesis calls (from
GetShardIterator's ShardId, and followed through NextShardIterator) and for
S3 keys and SNS attributes that name one.

Actions: throttle, status (500/503...; code= and message= give another
AWS error, e.g. status=403, code="AccessDenied"), drop (close without answering;
mode="reset" sends a TCP RST), stall (delay by `seconds`, then forward, or
with mode="close" close without answering),
corrupt (forward, then mode = truncate | garble | types | base64 |
trailing | pk-ctrl | pk-utf8 | deep | huge | no-next | repeat), expired
(ExpiredIteratorException), html (200 with an HTML page).
A rule applies to the next `count` matching requests, and/or during a time
window (`delay` seconds from now, for `duration` seconds), to every `every`-th
match (counted per shard), and with need_records=True only to GetRecords
responses that carry records (so a corruption always hits real data).

The last two are answers that parse but lie: no-next drops the
NextShardIterator (and any ChildShards) as if an open shard had ended;
repeat serves the records of that shard's previous answer with records again
(an endpoint that started over at an earlier sequence number), keeping the
current NextShardIterator.

Every request is recorded (p.log(...)): monotonic arrival time, service, op,
shard, status, the fault applied, and for GetRecords the number of records,
their decoded data bytes and last sequence number.
"""

import base64
import contextlib
import http.client
import http.server
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse

SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
SHARD_RE = re.compile(r"shardId-\d+")
SCOPE_SERVICE = {"kinesis": "kinesis", "s3": "s3", "sns": "sns",
                 "monitoring": "cloudwatch", "sts": "sts"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te",
              "trailer", "upgrade", "proxy-authenticate",
              "proxy-authorization"}

# the wrong-type variants of corrupt/types, applied in turn
TYPE_VARIANTS = ("seq-number", "data-number", "pk-null", "ts-string",
                 "records-object")


class Rule:
    """One fault rule; see FaultProxy.add_rule. hits counts applications,
    matched counts matching requests (before every/need_records)."""

    def __init__(self, service, action, op=None, method=None,
                 path_prefix=None, shard=None, count=None, delay=0.0,
                 duration=None, every=1, status=None, seconds=None,
                 mode=None, need_records=False, code=None, message=None):
        if action not in FaultProxy.ACTIONS:
            raise ValueError("unknown action %r" % action)
        self.service = service
        self.action = action
        self.op = op
        self.method = method
        self.path_prefix = path_prefix
        self.shard = shard
        self.count = count
        now = time.monotonic()
        self.start = now + delay
        self.end = None if duration is None else self.start + duration
        self.every = max(1, int(every))
        self.status = status
        self.seconds = seconds
        self.mode = mode
        self.need_records = need_records
        self.code = code            # status: this AWS error code instead
        self.message = message
        self.hits = 0
        self.matched = 0
        self._per_shard = {}

    def __repr__(self):
        return "<Rule %s %s %s hits=%d>" % (self.service, self.op or
                                           self.path_prefix or "*",
                                           self.action, self.hits)

    def exhausted(self):
        return self.count is not None and self.hits >= self.count

    def matches(self, req, now):
        if self.exhausted() or now < self.start:
            return False
        if self.end is not None and now >= self.end:
            return False
        if self.service and req["service"] != self.service:
            return False
        if self.op and req["op"] != self.op:
            return False
        if self.method and req["method"] != self.method:
            return False
        if self.path_prefix and not req["path"].startswith(self.path_prefix):
            return False
        if self.shard and req.get("shard") != self.shard:
            return False
        return True

    def post(self):
        """Applied to the upstream's response rather than instead of it."""
        return self.action in ("corrupt", "html") or self.need_records


class FaultProxy:
    ACTIONS = ("throttle", "status", "drop", "stall", "corrupt", "expired",
               "html")

    def __init__(self, upstream_port, upstream_host="127.0.0.1",
                 upstream_tls_ca=None, tls_cert=None, tls_key=None):
        """upstream_tls_ca: talk HTTPS to the upstream, trusting this CA.
        tls_cert/tls_key: serve HTTPS ourselves with this certificate."""
        self.upstream = (upstream_host, upstream_port)
        self.upstream_ctx = None
        if upstream_tls_ca:
            self.upstream_ctx = ssl.create_default_context(
                cafile=upstream_tls_ca)
        self.lock = threading.Lock()
        self.rules = []
        self.records = []
        self.iterators = {}     # Kinesis iterator -> shard id
        self.last_records = {}  # shard -> Records of its last good answer
        self.stopping = threading.Event()
        self.conns = set()
        proxy = self

        class Handler(_Handler):
            pass
        Handler.proxy = proxy

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
            self.server.socket = ctx.wrap_socket(self.server.socket,
                                                 server_side=True)
        self.port = self.server.server_address[1]
        self.endpoint = "%s://127.0.0.1:%d" % ("https" if tls_cert else "http",
                                               self.port)
        self.thread = None

    # -- lifecycle
    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True, name="faultproxy")
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(10)
            self.thread = None
        self.server.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- rules
    def add_rule(self, service, action, **kw):
        """Add a rule (see Rule and the module comment); returns it."""
        r = Rule(service, action, **kw)
        with self.lock:
            self.rules.append(r)
        return r

    def remove_rule(self, rule):
        with self.lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self):
        with self.lock:
            self.rules.clear()

    def _pick(self, req, stage, has_records=None):
        """The rule to apply at stage 'pre' (instead of forwarding) or
        'post' (to the upstream response), counting its application."""
        now = time.monotonic()
        with self.lock:
            for r in self.rules:
                if r.post() != (stage == "post"):
                    continue
                if not r.matches(req, now):
                    continue
                if stage == "post" and r.need_records and not has_records:
                    continue
                r.matched += 1
                key = req.get("shard")
                n = r._per_shard.get(key, 0) + 1
                r._per_shard[key] = n
                if n % r.every != 0:
                    continue
                r.hits += 1
                return r, r.hits
        return None, 0

    # -- the request log
    def log(self, service=None, op=None, shard=None, since=None, until=None):
        """A copy of the recorded requests, filtered."""
        with self.lock:
            recs = list(self.records)
        return [r for r in recs
                if (service is None or r["service"] == service)
                and (op is None or r["op"] == op)
                and (shard is None or r.get("shard") == shard)
                and (since is None or r["t"] >= since)
                and (until is None or r["t"] < until)]

    def _record(self, rec):
        with self.lock:
            self.records.append(rec)

    def _learn_iterator(self, it, shard):
        if it and shard:
            with self.lock:
                self.iterators[it] = shard

    def shard_of_iterator(self, it):
        with self.lock:
            s = self.iterators.get(it)
        if s:
            return s
        # moto's iterators are base64("stream:shard:seq")
        with contextlib.suppress(Exception):
            parts = base64.b64decode(it).decode().split(":")
            if len(parts) >= 3 and SHARD_RE.fullmatch(parts[-2]):
                return parts[-2]
        return None


def _b64_len(s):
    if not isinstance(s, str):
        return 0
    n = len(s) // 4 * 3
    if s.endswith("=="):
        n -= 2
    elif s.endswith("="):
        n -= 1
    return n


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy = None            # set per server
    timeout = 120           # an idle client connection is closed after this

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.up = None
        # answers go out as written: no Nagle delay against delayed ACKs
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                       1)
        with self.proxy.lock:
            self.proxy.conns.add(self.connection)

    def finish(self):
        with contextlib.suppress(OSError):
            super().finish()
        with self.proxy.lock:
            self.proxy.conns.discard(self.connection)
        if self.up is not None:
            self.up.close()
            self.up = None

    # -- request parsing
    def parse_request(self):
        # the arrival time, taken as soon as the request line is in
        self.t_arrival = time.monotonic()
        return super().parse_request()

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out, True
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n else b""), False

    def _classify(self, body):
        h = self.headers
        req = {"t": self.t_arrival, "method": self.command,
               "path": self.path, "service": "other", "op": self.command,
               "shard": None, "req_bytes": len(body)}
        m = SCOPE_RE.search(h.get("Authorization", ""))
        if m:
            req["service"] = SCOPE_SERVICE.get(m.group(1), m.group(1))
        target = h.get("X-Amz-Target", "")
        if target.startswith("Kinesis_"):
            req["service"] = "kinesis"
        ctype = h.get("Content-Type", "")
        if req["service"] == "kinesis" and target:
            req["op"] = target.split(".", 1)[-1]
            try:
                j = json.loads(body or b"{}")
            except ValueError:
                j = {}
            if req["op"] == "GetShardIterator":
                req["shard"] = j.get("ShardId")
                req["type"] = j.get("ShardIteratorType")
                req["start_seq"] = j.get("StartingSequenceNumber")
            elif req["op"] == "GetRecords":
                req["iterator"] = j.get("ShardIterator")
                req["shard"] = self.proxy.shard_of_iterator(
                    j.get("ShardIterator") or "")
        elif req["service"] == "s3" or (req["service"] == "other" and
                                        self.command in ("PUT", "GET")):
            req["service"] = "s3" if m else req["service"]
            path = urllib.parse.urlsplit(self.path).path
            req["key"] = urllib.parse.unquote(path)
            s = SHARD_RE.search(req["key"])
            req["shard"] = s.group(0) if s else None
        elif "x-www-form-urlencoded" in ctype and self.command == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8",
                                                           "replace")))
            req["op"] = form.get("Action", "POST")
            if req["service"] == "other" and req["op"] == "Publish":
                req["service"] = "sns"
            if req["op"] == "Publish":
                att = "MessageAttributes.entry.%d."
                for i in range(1, 11):
                    if form.get(att % i + "Name") == "shard":
                        req["shard"] = form.get(att % i +
                                                "Value.StringValue")
                with contextlib.suppress(ValueError, AttributeError):
                    req["key"] = json.loads(form.get("Message", "")).get("key")
        return req

    # -- answers
    def _send(self, status, body, ctype, extra=(), reason=None):
        self.send_response_only(status, reason)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _error(self, service, status, code, message, sender=True):
        rid = "faultproxy-%d" % int(time.monotonic() * 1e6)
        if service in ("kinesis",):
            body = json.dumps({"__type": code, "message": message}).encode()
            self._send(status, body, "application/x-amz-json-1.1",
                       [("x-amzn-RequestId", rid)])
        elif service == "s3":
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
                    "<Code>%s</Code><Message>%s</Message><RequestId>%s"
                    "</RequestId><HostId>faultproxy</HostId></Error>"
                    % (code, message, rid)).encode()
            self._send(status, body, "application/xml",
                       [("x-amz-request-id", rid)])
        else:
            body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code>"
                    "<Message>%s</Message></Error><RequestId>%s</RequestId>"
                    "</ErrorResponse>" % ("Sender" if sender else "Receiver",
                                          code, message, rid)).encode()
            self._send(status, body, "text/xml",
                       [("x-amzn-RequestId", rid)])

    def _apply_pre(self, rule, req):
        """Answer instead of the upstream. Returns the recorded status, or
        None if the request must still be forwarded (stall)."""
        svc = req["service"]
        a = rule.action
        if a == "throttle":
            if svc == "kinesis":
                self._error(svc, 400, "ProvisionedThroughputExceededException",
                            "Rate exceeded for shard %s in stream under "
                            "account 123456789012."
                            % (req.get("shard") or "?"))
                return 400
            if svc == "s3":
                self._error(svc, 503, "SlowDown",
                            "Please reduce your request rate.")
                return 503
            self._error(svc, 400, "Throttling", "Rate exceeded")
            return 400
        if a == "status":
            st = rule.status or 500
            if svc == "s3":
                code, msg = (("SlowDown", "Please reduce your request rate.")
                             if st == 503 else
                             ("InternalError", "We encountered an internal "
                              "error. Please try again."))
            elif svc == "kinesis":
                code, msg = (("ServiceUnavailable", "Service unavailable")
                             if st == 503 else
                             ("InternalFailure", "Internal service error"))
            else:
                code, msg = (("ServiceUnavailable", "Service unavailable")
                             if st == 503 else
                             ("InternalError", "Internal error"))
            if rule.code:
                code, msg = rule.code, rule.message or rule.code
            self._error(svc, st, code, msg, sender=False)
            return st
        if a == "expired":
            self._error("kinesis", 400, "ExpiredIteratorException",
                        "Iterator expired. The iterator was created at time "
                        "Thu Nov 26 14:00:00 UTC 2026 while right now it is "
                        "Thu Nov 26 14:05:01 UTC 2026 which is further in the "
                        "future than the tolerated delay of 300000 "
                        "milliseconds.")
            return 400
        if a == "drop":
            if rule.mode == "reset":
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(socket.SOL_SOCKET,
                                               socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
            self.close_connection = True
            return 0
        if a == "stall":
            self.proxy.stopping.wait(rule.seconds or 5)
            if rule.mode == "close":    # then close without answering
                self.close_connection = True
                return 0
            return None
        raise AssertionError("not a pre action: %s" % a)

    def _mangle(self, rule, n, status, headers, data):
        """A corrupted version of the upstream response: (status, headers,
        data)."""
        if rule.action == "html":
            page = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway"
                    b"</title></head><body><h1>Bad Gateway</h1><p>The proxy "
                    b"server received an invalid response.</p></body>"
                    b"</html>\n")
            return 200, [("Content-Type", "text/html; charset=utf-8")], page
        mode = rule.mode or "truncate"
        if mode == "truncate":
            return status, headers, data[:max(1, len(data) // 2)]
        if mode == "garble":
            mid = len(data) // 2
            return status, headers, data[:mid] + b"\x00\x01}\xff\"]{" + \
                data[mid + 8:]
        if mode == "trailing":
            return status, headers, data + b'}{"Records":[]} trailing garbage'
        if mode in ("pk-ctrl", "pk-utf8"):
            try:
                j = json.loads(data)
                recs = j["Records"]
                recs[len(recs) // 2]["PartitionKey"] = "\x00MARK\x00"
            except (ValueError, KeyError, TypeError, IndexError):
                return status, headers, data[:max(1, len(data) // 2)]
            raw = b"pk\x01raw\x1f" if mode == "pk-ctrl" else b"pk\xff\xfe\xc3("
            return status, headers, json.dumps(j).encode().replace(
                b"\\u0000MARK\\u0000", raw)
        if mode == "deep":
            return status, headers, b'{"Records":' + b"[" * 200000 + \
                b"]" * 200000 + b"}"
        if mode == "huge":
            pad = b" " * (40 * 1024 * 1024)
            return status, headers, b'{"Records":[]' + pad + b"}"
        try:
            j = json.loads(data)
        except ValueError:
            return status, headers, data[:max(1, len(data) // 2)]
        recs = j.get("Records") if isinstance(j, dict) else None
        if mode == "no-next" and isinstance(j, dict):
            j["NextShardIterator"] = None
            j.pop("ChildShards", None)
            return status, headers, json.dumps(j).encode()
        if mode == "repeat" and isinstance(j, dict):
            with self.proxy.lock:
                old = self.proxy.last_records.get(self._req.get("shard"))
            if old:
                j["Records"] = old
            return status, headers, json.dumps(j).encode()
        if mode == "base64":
            if recs:
                recs[len(recs) // 2]["Data"] = "@@not*base64@@!"
            else:
                j["Records"] = [{"SequenceNumber": "1", "PartitionKey": "x",
                                 "Data": "@@not*base64@@!",
                                 "ApproximateArrivalTimestamp": 1.0}]
        elif mode.startswith("types"):
            variant = mode.split(":", 1)[1] if ":" in mode else \
                TYPE_VARIANTS[(n - 1) % len(TYPE_VARIANTS)]
            mid = recs[len(recs) // 2] if recs else None
            if variant == "records-object" or mid is None:
                j["Records"] = {"not": "an array"}
            elif variant == "seq-number":
                mid["SequenceNumber"] = int(mid["SequenceNumber"])
            elif variant == "data-number":
                mid["Data"] = 12345
            elif variant == "pk-null":
                mid["PartitionKey"] = None
            elif variant == "ts-string":
                mid["ApproximateArrivalTimestamp"] = "yesterday"
            else:
                raise ValueError("unknown types variant %r" % variant)
        else:
            raise ValueError("unknown corrupt mode %r" % mode)
        return status, headers, json.dumps(j).encode()

    # -- forwarding
    def _upstream(self):
        if self.up is None:
            host, port = self.proxy.upstream
            if self.proxy.upstream_ctx is not None:
                self.up = http.client.HTTPSConnection(
                    host, port, timeout=120, context=self.proxy.upstream_ctx)
            else:
                self.up = http.client.HTTPConnection(host, port, timeout=120)
        return self.up

    def _forward(self, body, dechunked):
        """Send the request upstream as received; (status, reason, headers,
        body) of the answer."""
        for attempt in (0, 1):
            conn = self._upstream()
            reused = conn.sock is not None
            try:
                conn.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if dechunked and k.lower() == "transfer-encoding":
                        continue
                    conn.putheader(k, v)
                if dechunked:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                r = conn.getresponse()
                data = r.read()
                if r.will_close:
                    conn.close()
                    self.up = None
                return r.status, r.reason, r.getheaders(), data
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as e:
                conn.close()
                self.up = None
                # a kept-alive connection the upstream closed meanwhile:
                # the request never reached it, so once more is safe
                if attempt == 0 and reused:
                    continue
                raise e
        raise AssertionError("unreachable")

    def _handle(self):
        p = self.proxy
        body, dechunked = self._read_body()
        req = self._classify(body)
        rec = dict(req)
        rec.update(status=None, fault=None, resp_bytes=0)
        try:
            rule, n = p._pick(req, "pre")
            if rule is not None:
                rec["fault"] = rule.action + (
                    ":%s" % rule.status if rule.status else "")
                st = self._apply_pre(rule, req)
                if st is not None:
                    rec["status"] = st
                    return
            try:
                status, reason, headers, data = self._forward(body, dechunked)
            except (OSError, http.client.HTTPException) as e:
                rec["error"] = "upstream: %s" % e
                self._error(req["service"], 502, "BadGateway",
                            "faultproxy: upstream failed: %s" % e,
                            sender=False)
                rec["status"] = 502
                return
            info = {}
            if req["service"] == "kinesis" and status == 200 and \
                    req["op"] in ("GetRecords", "GetShardIterator"):
                info = self._kinesis_info(req, data)
            recs = info.pop("_records", None)
            rule, n = p._pick(req, "post", info.get("nrec", 0) > 0)
            self._req = req
            if rule is None and recs:
                with p.lock:
                    p.last_records[req.get("shard")] = recs
            if rule is not None:
                rec["fault"] = rule.action + (":" + (rule.mode or "truncate")
                                              if rule.action == "corrupt"
                                              else "")
                status, headers, data = self._mangle(rule, n, status,
                                                     headers, data)
            else:
                rec.update(info)
            self.send_response_only(status, reason if rule is None else None)
            for k, v in headers:
                kl = k.lower()
                if kl in HOP_BY_HOP or kl == "content-length":
                    continue
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
            rec["status"] = status
            rec["resp_bytes"] = len(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            rec["error"] = "client: %s" % e
            self.close_connection = True
        finally:
            rec["t_end"] = time.monotonic()
            p._record(rec)

    def _kinesis_info(self, req, data):
        try:
            j = json.loads(data)
        except ValueError:
            return {}
        if req["op"] == "GetShardIterator":
            self.proxy._learn_iterator(j.get("ShardIterator"), req["shard"])
            return {}
        shard = req.get("shard")
        self.proxy._learn_iterator(j.get("NextShardIterator"), shard)
        recs = j.get("Records") or []
        return {"nrec": len(recs), "_records": recs,
                "data_bytes": sum(_b64_len(r.get("Data")) for r in recs),
                "first_seq": recs[0].get("SequenceNumber") if recs else None,
                "last_seq": recs[-1].get("SequenceNumber") if recs else None,
                "millis_behind": j.get("MillisBehindLatest")}

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle


def main(argv):
    """python3 faultproxy.py UPSTREAM_PORT: forward without faults and print
    each request (for trying things out by hand)."""
    import sys
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: faultproxy.py upstream-port", file=sys.stderr)
        return 2
    with FaultProxy(int(argv[1])) as p:
        print("faultproxy: %s -> 127.0.0.1:%s" % (p.endpoint, argv[1]),
              flush=True)
        seen = 0
        try:
            while True:
                time.sleep(0.5)
                recs = p.log()
                for r in recs[seen:]:
                    print("%.3f %s %s %s %s" % (r["t"], r["service"], r["op"],
                                                r.get("shard") or "-",
                                                r["status"]), flush=True)
                seen = len(recs)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
