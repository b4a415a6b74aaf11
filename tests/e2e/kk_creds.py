"""
kk_creds.py: helpers of the metrics and credentials scenarios on top of
kk.py: a statsd UDP listener, a recording HTTP forwarder with an optional
response hook (an STS shim, a CloudWatch recorder), fixed-status and
black-hole servers, an IMDSv2 responder and an ECS container credentials
responder, shared credentials files and a few polling helpers.

Everything listens on 127.0.0.1 on a free port and runs in a daemon thread
of the test process; every server is a context manager that closes its
socket on exit. Secrets handed to these helpers are registered with kk so
that the TAP output never shows them.
"""

import base64
import contextlib
import datetime
import http.client
import http.server
import json
import os
import re
import secrets
import socket
import threading
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import kk

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def register_secret(*values):
    """Never print these (kk.scrub replaces registered secrets)."""
    for v in values:
        if v:
            kk._secrets.add(v)


def iso_z(t):
    """Epoch seconds -> '2026-11-27T14:30:05Z' (what IMDS/ECS/STS send)."""
    return datetime.datetime.fromtimestamp(
        int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def closed_port():
    """A loopback port nobody listens on (bound once, then released)."""
    return kk.free_port()


# ------------------------------------------------------------------ statsd

class UdpListener:
    """A statsd stand-in: records every datagram with its arrival time."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.packets = []  # (monotonic time, bytes)
        self.lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.packets.append((time.monotonic(), data))

    def lines(self):
        """Every statsd line received (a datagram may hold several,
        newline-separated)."""
        with self.lock:
            pk = list(self.packets)
        out = []
        for _, data in pk:
            for ln in data.decode("utf-8", "replace").split("\n"):
                if ln:
                    out.append(ln)
        return out

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(5)
        self.sock.close()
        return False


# ------------------------------------------------------------- HTTP basics

# a threaded HTTP server on a free loopback port (kk.py's)
_Server = kk.LoopbackServer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
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

    def reply(self, status, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def parse_form(body):
    """application/x-www-form-urlencoded -> {name: value} (last wins)."""
    try:
        return dict(urllib.parse.parse_qsl(body.decode("utf-8"),
                                           keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


class Forwarder(_Server):
    """An HTTP forwarder in front of target_port that records every request
    (time, method, path, lower-case headers, body, form, status).

    hook(rec) may return (status, body_bytes, content_type) to answer
    instead of forwarding, or a callable taking the upstream (status, body,
    headers) and returning a replacement body (to rewrite a response).
    Headers (Host included) pass as is, so SigV4 signatures stay valid.
    """

    def __init__(self, target_port, hook=None):
        self.target_port = target_port
        self.hook = hook
        self.requests = []
        self.lock = threading.Lock()
        fw = self

        class Handler(_Handler):
            def _any(self):
                body = self.read_body()
                rec = {"t": time.monotonic(), "wall": time.time(),
                       "method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in
                                   self.headers.items()},
                       "body": body, "form": parse_form(body),
                       "status": None}
                with fw.lock:
                    fw.requests.append(rec)
                rewrite = None
                if fw.hook is not None:
                    r = fw.hook(rec)
                    if isinstance(r, tuple):
                        rec["status"] = r[0]
                        self.reply(r[0], r[1], r[2])
                        return
                    rewrite = r
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding",
                                             "connection")}
                hdrs["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection("127.0.0.1", fw.target_port,
                                                  timeout=60)
                try:
                    conn.request(self.command, self.path, body=body,
                                 headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                    status, rh = r.status, r.getheaders()
                finally:
                    conn.close()
                if rewrite is not None:
                    data = rewrite(status, data, rh)
                rec["status"] = status
                self.send_response(status)
                for k, v in rh:
                    if k.lower() not in ("transfer-encoding", "connection",
                                         "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        self._serve(Handler)

    def snapshot(self):
        with self.lock:
            return list(self.requests)


class StatusServer(_Server):
    """Answers every request with one fixed status; counts requests."""

    def __init__(self, status=500, body=b"<html>internal error</html>"):
        self.status = status
        self.count = 0
        self.requests = []
        self.lock = threading.Lock()
        srv = self

        class Handler(_Handler):
            def _any(self):
                body = self.read_body()
                with srv.lock:
                    srv.count += 1
                    srv.requests.append({"t": time.monotonic(),
                                         "method": self.command,
                                         "path": self.path,
                                         "form": parse_form(body)})
                self.reply(srv.status, body_out, "text/html")

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        body_out = body
        self._serve(Handler)


class BlackHole:
    """A TCP listener that accepts connections and never answers (a
    black-holed endpoint). Counts accepted connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.conns = []
        self._stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(5)
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
        self.sock.close()
        return False


# --------------------------------------------------------------- STS shim

def sts_call_signed(moto, form, headers=None):
    """POST a query-protocol STS form to moto, SigV4-signed with moto's IAM
    key; return (status, body bytes)."""
    body = urllib.parse.urlencode(form)
    hdrs = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = AWSRequest(method="POST", url=moto.endpoint + "/", data=body,
                     headers=hdrs)
    SigV4Auth(Credentials(moto.access_key_id, moto.secret_access_key),
              "sts", kk.REGION).add_auth(req)
    p = req.prepare()
    conn = http.client.HTTPConnection("127.0.0.1", moto.port, timeout=30)
    try:
        conn.request("POST", "/", body=body.encode(), headers=dict(p.headers))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def sts_credentials(xml):
    """(akid, secret, token, expiration) from an STS XML answer, or None."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", "replace")

    def tag(t):
        m = re.search(r"<%s>(.*?)</%s>" % (t, t), xml, re.S)
        return m.group(1) if m else None
    akid, secret = tag("AccessKeyId"), tag("SecretAccessKey")
    if not akid or not secret:
        return None
    return akid, secret, tag("SessionToken"), tag("Expiration")


class StsShim(Forwarder):
    """endpoints.sts for the keeper, in front of moto.

    - AssumeRoleWithWebIdentity arrives unsigned (as it must); moto with
      auth on cannot serve an unsigned request (HTTP 500), so the shim
      checks the call (no Authorization header, the expected token and
      role) and replays it to moto signed with moto's IAM key. moto then
      mints real temporary credentials of the role.
    - Any other call (AssumeRole, signed by the keeper) is forwarded as is:
      moto verifies the keeper's signature.
    The Expiration of every answer is replaced by now + expires_in seconds
    (when given), to make the keeper refresh during the test. Issued
    credentials are recorded in self.issued and registered as secrets.
    """

    def __init__(self, moto, expires_in=None, expect_token=None):
        self.moto = moto
        self.expires_in = expires_in
        self.expect_token = expect_token
        self.issued = []  # (monotonic time, action, akid)
        self.problems = []
        super().__init__(moto.port, hook=self._hook)

    def _rewrite_expiration(self, status, data):
        text = data.decode("utf-8", "replace")
        creds = sts_credentials(text)
        if status == 200 and creds:
            register_secret(creds[1], creds[2])
            if self.expires_in is not None:
                text = re.sub(r"<Expiration>.*?</Expiration>",
                              "<Expiration>%s</Expiration>"
                              % iso_z(time.time() + self.expires_in), text)
        return text.encode(), creds

    def _hook(self, rec):
        form = rec["form"]
        action = form.get("Action")
        if action == "AssumeRoleWithWebIdentity":
            if "authorization" in rec["headers"]:
                self.problems.append("AssumeRoleWithWebIdentity was signed")
            if self.expect_token is not None and \
                    form.get("WebIdentityToken") != self.expect_token:
                self.problems.append("WebIdentityToken is not the file's "
                                     "content")
                return (400, b"<ErrorResponse><Error><Code>InvalidIdentity"
                        b"Token</Code></Error></ErrorResponse>", "text/xml")
            status, data = sts_call_signed(self.moto, form)
            data, creds = self._rewrite_expiration(status, data)
            rec["status"] = status
            if creds:
                self.issued.append((time.monotonic(), action, creds[0]))
            return (status, data, "text/xml")

        def rewrite(status, data, headers):
            out, creds = self._rewrite_expiration(status, data)
            if creds:
                self.issued.append((time.monotonic(), action, creds[0]))
            return out
        return rewrite

    def calls(self, action):
        return [r for r in self.snapshot() if r["form"].get("Action") == action]


# ---------------------------------------------------- IMDSv2 and ECS

class ImdsResponder(_Server):
    """An IMDSv2 stand-in (AWS_EC2_METADATA_SERVICE_ENDPOINT).

    PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds (1 to
    21600, else 400) and returns a fresh session token; every GET needs a
    live token in X-aws-ec2-metadata-token (else 401). Serves the role
    name and then the credentials from source(n) (n: 0, 1, ... per fetch)
    with Expiration = now + expires_in (a number) or expires_in(n).
    Records every request: self.log [(t, method, path, status)].
    """

    def __init__(self, source, role="kk-instance-role", expires_in=330):
        self.source = source
        self.role = role
        self.expires_in = expires_in
        self.tokens = {}  # token -> expiry (monotonic)
        self.log = []
        self.fetches = []  # monotonic times of served credentials
        self.issued = []  # (monotonic time, access key id served)
        self.lock = threading.Lock()
        me = self

        class Handler(_Handler):
            def _note(self, status):
                with me.lock:
                    me.log.append((time.monotonic(), self.command, self.path,
                                   status))

            def do_PUT(self):
                self.read_body()
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                if self.path != "/latest/api/token":
                    self._note(404)
                    return self.reply(404, "not found")
                if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    self._note(400)
                    return self.reply(400, "bad ttl")
                tok = base64.b64encode(secrets.token_bytes(30)).decode()
                with me.lock:
                    me.tokens[tok] = time.monotonic() + int(ttl)
                self._note(200)
                self.reply(200, tok, headers=[
                    ("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

            def do_GET(self):
                tok = self.headers.get("X-aws-ec2-metadata-token")
                with me.lock:
                    good = tok is not None and \
                        me.tokens.get(tok, 0) > time.monotonic()
                if not good:
                    self._note(401)
                    return self.reply(401, "Unauthorized")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    self._note(200)
                    return self.reply(200, me.role)
                if self.path == base + me.role:
                    with me.lock:
                        n = len(me.fetches)
                        me.fetches.append(time.monotonic())
                    c = me.source(n)
                    with me.lock:
                        me.issued.append((time.monotonic(), c["AccessKeyId"]))
                    exp = me.expires_in(n) if callable(me.expires_in) \
                        else me.expires_in
                    doc = {"Code": "Success",
                           "LastUpdated": iso_z(time.time()),
                           "Type": "AWS-HMAC",
                           "AccessKeyId": c["AccessKeyId"],
                           "SecretAccessKey": c["SecretAccessKey"],
                           "Expiration": iso_z(time.time() + exp)}
                    if c.get("Token"):
                        doc["Token"] = c["Token"]
                    self._note(200)
                    return self.reply(200, json.dumps(doc), "text/plain")
                self._note(404)
                self.reply(404, "not found")

            def do_POST(self):
                self.read_body()
                self._note(405)
                self.reply(405, "method not allowed")

        self._serve(Handler)

    def snapshot(self):
        with self.lock:
            return list(self.log), list(self.fetches)


class EcsResponder(_Server):
    """An ECS/EKS container credentials stand-in
    (AWS_CONTAINER_CREDENTIALS_FULL_URI = self.endpoint + path).
    A GET of path with Authorization == auth answers the credentials of
    source(n), Expiration now + expires_in (HTTP 500 when source(n) returns
    None: an agent that fails); a wrong or missing Authorization gets 401.
    self.log records (t, method, path, status, Authorization sent)."""

    def __init__(self, source, auth=None, path="/v2/credentials/kk-task",
                 expires_in=330):
        self.source = source
        self.auth = auth
        self.path = path
        self.expires_in = expires_in
        self.log = []  # (t, method, path, status, had_auth)
        self.attempts = 0
        self.fetches = []
        self.issued = []  # (monotonic time, access key id served)
        self.lock = threading.Lock()
        me = self

        class Handler(_Handler):
            def do_GET(self):
                got = self.headers.get("Authorization")
                status, c = 200, None
                if self.path != me.path:
                    status = 404
                elif me.auth is not None and got != me.auth:
                    status = 401
                if status == 200:
                    with me.lock:
                        n = me.attempts
                        me.attempts += 1
                    c = me.source(n)
                    if c is None:
                        status = 500
                with me.lock:
                    me.log.append((time.monotonic(), self.command, self.path,
                                   status, got is not None))
                    if status == 200:
                        me.fetches.append(time.monotonic())
                        me.issued.append((time.monotonic(), c["AccessKeyId"]))
                if status != 200:
                    return self.reply(status, json.dumps(
                        {"message": "no"}), "application/json")
                doc = {"AccessKeyId": c["AccessKeyId"],
                       "SecretAccessKey": c["SecretAccessKey"],
                       "Expiration": iso_z(time.time() + me.expires_in),
                       "RoleArn": "arn:aws:iam::123456789012:role/kk-task"}
                if c.get("Token"):
                    doc["Token"] = c["Token"]
                self.reply(200, json.dumps(doc), "application/json")

            def do_PUT(self):
                self.read_body()
                with me.lock:
                    me.log.append((time.monotonic(), "PUT", self.path, 405,
                                   False))
                self.reply(405, "")

        self._serve(Handler)

    def snapshot(self):
        with self.lock:
            return list(self.log), list(self.fetches)


# ------------------------------------------------------------- moto IAM

def iam_client(moto):
    return moto.session.client("iam", endpoint_url=moto.endpoint)


def sts_client(moto):
    return moto.session.client("sts", endpoint_url=moto.endpoint)


def create_user_with_keys(moto, name, policy=ALLOW_ALL, nkeys=1):
    """An IAM user with an inline policy and nkeys access keys:
    [(akid, secret)]. Secrets are registered."""
    iam = iam_client(moto)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    keys = []
    for _ in range(nkeys):
        k = iam.create_access_key(UserName=name)["AccessKey"]
        register_secret(k["SecretAccessKey"])
        keys.append((k["AccessKeyId"], k["SecretAccessKey"]))
    return keys


def create_role(moto, name, policy=ALLOW_ALL, trust=None):
    iam = iam_client(moto)
    trust = trust or json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}]})
    arn = iam.create_role(RoleName=name,
                          AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


def assume_role_creds(moto, role_arn, session="kk-test"):
    """Temporary credentials of role_arn from moto's STS:
    {AccessKeyId, SecretAccessKey, Token}. Registered as secrets."""
    c = sts_client(moto).assume_role(RoleArn=role_arn,
                                     RoleSessionName=session)["Credentials"]
    register_secret(c["SecretAccessKey"], c["SessionToken"])
    return {"AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"]}


# ------------------------------------------------------------- files

def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def credentials_file(path, profiles):
    """Write an AWS shared credentials file: profiles {name: (akid,
    secret[, token])}."""
    out = []
    for name, v in profiles.items():
        out.append("[%s]" % name)
        out.append("aws_access_key_id = %s" % v[0])
        out.append("aws_secret_access_key = %s" % v[1])
        if len(v) > 2 and v[2]:
            out.append("aws_session_token = %s" % v[2])
        out.append("")
    return write_private(path, "\n".join(out))


# ------------------------------------------------------------- polling

def archived(moto, bucket, cache=None):
    """Records archived in bucket (x-amz-meta-records), 0 on errors."""
    try:
        return kk.archived_records(moto, bucket, {} if cache is None else cache)
    except Exception:  # a bucket being created, moto busy: poll again
        return 0


def wait_archived(moto, keeper, bucket, n, timeout):
    """Poll until n records are archived in bucket, the keeper exits, or
    timeout; return (records archived, seconds taken)."""
    cache = {}
    t0 = time.monotonic()
    kk.wait_until(lambda: not keeper.running() or
                  archived(moto, bucket, cache) >= n, timeout, 0.3)
    return archived(moto, bucket, cache), time.monotonic() - t0


def object_count(moto, bucket):
    try:
        r = moto.s3.list_objects_v2(Bucket=bucket)
        return len([c for c in r.get("Contents", [])
                    if not kk.is_head_key(c["Key"])])
    except Exception:
        return 0


def log_has(keeper, pattern, flags=re.I):
    return [ln for ln in keeper.log().splitlines()
            if re.search(pattern, ln, flags)]


# ------------------------------------------------------------- keepers

class Keeper(kk.Keeper):
    """kk.Keeper for tests that run several keepers at once: its workers
    are the keeper processes that run its own config file (kk.Keeper
    counts every keeper process under the test, other keepers' included,
    and would report or kill them as leftovers)."""

    def workers(self):
        sup = self.proc.pid if self.proc else None
        parents = [sup] if sup else []
        return [p for p in kk.keeper_processes(parents)
                if p != sup and self.conf in kk._proc_cmdline(p).split(" ")]


def make_keeper(moto, stream, bucket, creds=None, overrides=None, env=None,
                name="keeper", topic_arn=None):
    """A kk.Keeper whose config has exactly the credentials.* settings in
    creds ({"credentials.profile": "x", ...}; None or {}: no credentials
    group at all), instead of moto's keys that kk.Keeper puts there."""
    k = Keeper(moto, stream, bucket, overrides=overrides, env=env,
               name=name, topic_arn=topic_arn)
    for key in [key for key in k.settings if key.startswith("credentials.")]:
        del k.settings[key]
    k.settings.update(creds or {})
    write_private(k.conf, kk.render_config(k.settings))
    return k


AKID_RE = re.compile(r"Credential=([A-Z0-9]+)/")


def request_akid(rec):
    """The access key id a recorded request was signed with, or None."""
    m = AKID_RE.search(rec["headers"].get("authorization", ""))
    return m.group(1) if m else None


def leaked_secrets(text):
    """How many registered secrets appear in text (never which)."""
    return sum(1 for s in kk._secrets if s and s in text)


def archive_problems(moto, bucket, put):
    """Quietly compare the bucket with put [(shard, seq, pk, data)]:
    a list of problems (empty: exactly once, payloads intact)."""
    probs = []
    want = {(p[0], p[1]): p for p in put}
    seen = {}
    for o in moto.fetch_objects(bucket):
        kk.decode_object(o)
        probs += ["%s: %s" % (o["key"], e) for e in o["errors"]]
        m = kk.KEY_RE.match(o["key"])
        shard = m.group("shard") if m else None
        for ln in o["lines"]:
            k = (shard, ln.get("seq"))
            if k in seen:
                probs.append("%s %s archived twice" % k)
            seen[k] = ln
            if k not in want:
                probs.append("%s %s not put" % k)
                continue
            good, why = kk.payload_matches(ln, want[k][3])
            if not good or ln.get("pk") != want[k][2]:
                probs.append("%s %s: %s" % (k[0], k[1], why or "pk differs"))
    probs += ["%s %s missing" % k for k in want if k not in seen]
    return probs
