"""
kk.py: the end-to-end harness for kinesis-keeper. It drives the programs only
through their contract (SPEC.md): moto on loopback with SigV4 checking on, a
config file, signals, and what ends up in S3, SNS/SQS and the state directory.

Output follows a TAP-like line protocol: "ok - ..." / "not ok - ..." with
"#"-prefixed diagnostics, ending with "N passed, N failed" (see done()).
Secrets are never printed: diagnostics pass through scrub() first.
"""

import base64
import contextlib
import ctypes
import datetime
import gzip
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REGION = "us-east-1"

# ---------------------------------------------------------------- reporting

_passed = 0
_failed = 0
_secrets = set()


def scrub(text):
    """Remove every registered secret from text before it is printed."""
    text = str(text)
    for s in _secrets:
        if s:
            text = text.replace(s, "<secret>")
    return text


def diag(*lines):
    for line in lines:
        for part in scrub(line).splitlines() or [""]:
            print("# " + part, flush=True)


def ok(cond, desc, *diagnostics):
    """Report one check; diagnostics are printed only when it fails."""
    global _passed, _failed
    if cond:
        _passed += 1
        print("ok - " + scrub(desc), flush=True)
    else:
        _failed += 1
        print("not ok - " + scrub(desc), flush=True)
        diag(*diagnostics)
    return bool(cond)


def failed():
    return _failed


def done():
    """Print the summary line and return the exit status for sys.exit()."""
    print("%d passed, %d failed" % (_passed, _failed), flush=True)
    return 1 if _failed else 0


def main(scenario):
    """Run scenario(); an exception is reported as a failed check with its
    traceback as diagnostics. Returns the exit status for sys.exit()."""
    import traceback
    try:
        scenario()
    except Exception as e:  # report, never hide: the summary still prints
        ok(False, "scenario completed without an exception (%s)"
           % type(e).__name__, *traceback.format_exc().splitlines())
    return done()


def wait_until(pred, timeout, interval=0.2):
    """Poll pred() until it returns a true value or timeout seconds pass;
    return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------- process hygiene

def become_subreaper():
    """Orphans of processes we start (workers whose supervisor died) are
    re-parented to us instead of init, so the test can find, report and
    kill them by PID."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def _proc_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        rest = s[s.rindex(")") + 2:].split()
        return rest[0], int(rest[1])  # state, ppid
    except (OSError, ValueError, IndexError):
        return None, None


def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def keeper_processes(parents, conf=None):
    """PIDs of live kinesis-keeper processes whose parent is in parents or is
    this test process (re-parented orphans). With conf, an orphan counts only
    if its command line names that config file: other keepers of the same
    test (their supervisors are its children too) are left alone."""
    me = os.getpid()
    parents = set(parents) | {me}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        state, ppid = _proc_stat(pid)
        if state is None or state == "Z" or ppid not in parents:
            continue
        cmd = _proc_cmdline(pid)
        if "kinesis-keeper" not in cmd or is_helper_cmd(cmd):
            continue
        if ppid == me and conf is not None and conf not in cmd:
            continue
        found.append(pid)
    return found


def is_helper_cmd(cmd):
    """The supervisor's network helpers (kinesis-keeper-worker -H ROLE, named
    kinesis-keeper-helper in ps) are not workers."""
    return cmd.startswith("kinesis-keeper-helper ")


def helper_processes(parent):
    """PIDs of the live helpers of one supervisor: {role: pid}."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        state, ppid = _proc_stat(int(name))
        if state is None or state == "Z" or ppid != parent:
            continue
        cmd = _proc_cmdline(int(name))
        if is_helper_cmd(cmd):
            found[cmd.split()[2]] = int(name)
    return found


def stop_group(proc, timeout=10):
    """Stop a server started with start_new_session=True: SIGTERM to its
    process group, SIGKILL if it is still there after timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def reap_orphans():
    """Collect zombies of re-parented processes (not subprocess children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_pid(pid, sig=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


# -------------------------------------------------------------------- moto

class Moto:
    """moto_server on a free loopback port with SigV4 verification on.

    Attributes: endpoint, access_key_id, secret_access_key, session and the
    clients kinesis, s3, sns, sqs, cloudwatch (all signed with those
    credentials, region us-east-1).
    """

    def __init__(self, ready_timeout=30, auth=True):
        """auth=False leaves SigV4 checking off: moto with it on refuses
        keys with = + : * , @ $ (Hive-style keys), see ENVIRONMENT.md."""
        self.ready_timeout = ready_timeout
        self.auth = auth
        self.proc = None
        self.tmp = None

    # -- lifecycle
    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="kk-moto-")
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.logpath = os.path.join(self.tmp, "moto.log")
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                 "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
        finally:
            logf.close()
        try:
            if not wait_until(self._ready, self.ready_timeout, 0.1):
                raise RuntimeError("moto did not answer within %ds"
                                   % self.ready_timeout)
            if self.auth:
                self._enable_auth()
            else:
                self._clients("AKIDNOAUTHEXAMPLE", "no-auth-secret")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        return False

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("moto exited with %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen(self.endpoint + "/moto-api/",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _enable_auth(self):
        # While auth is still off, any credentials are accepted.
        iam = boto3.client("iam", endpoint_url=self.endpoint,
                           region_name=REGION, aws_access_key_id="AKIDBOOTSTRAP",
                           aws_secret_access_key="bootstrap")
        iam.create_user(UserName="kinesis-keeper")
        iam.put_user_policy(
            UserName="kinesis-keeper", PolicyName="everything",
            PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*",
                               "Resource": "*"}]}))
        key = iam.create_access_key(UserName="kinesis-keeper")["AccessKey"]
        self.access_key_id = key["AccessKeyId"]
        self.secret_access_key = key["SecretAccessKey"]
        _secrets.add(self.secret_access_key)
        req = urllib.request.Request(
            self.endpoint + "/moto-api/reset-auth", data=b"0",
            headers={"Content-Type": "text/plain"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        if r.status != 200:
            raise RuntimeError("reset-auth: HTTP %d %r" % (r.status, body))
        self._clients(self.access_key_id, self.secret_access_key)

    def _clients(self, akid, secret):
        self.access_key_id = akid
        self.secret_access_key = secret
        self.session = boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key, region_name=REGION)
        cfg = botocore.config.Config(retries={"max_attempts": 2},
                                     connect_timeout=5, read_timeout=30)
        for svc in ("kinesis", "s3", "sns", "sqs", "cloudwatch"):
            setattr(self, svc, self.session.client(
                svc, endpoint_url=self.endpoint, config=cfg))

    def check_auth(self):
        """Report a check that SigV4 verification is really on: a wrong
        secret is refused with 403, the right one accepted."""
        bad = boto3.client("kinesis", endpoint_url=self.endpoint,
                           region_name=REGION,
                           aws_access_key_id=self.access_key_id,
                           aws_secret_access_key="not-the-secret",
                           config=botocore.config.Config(
                               retries={"max_attempts": 1}))
        status = None
        try:
            bad.list_streams()
        except botocore.exceptions.ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        good = None
        try:
            self.kinesis.list_streams()
            good = 200
        except botocore.exceptions.ClientError as e:
            good = e.response["ResponseMetadata"]["HTTPStatusCode"]
        return ok(status == 403 and good == 200,
                  "moto verifies SigV4 (wrong secret -> 403, right one accepted)",
                  "wrong secret gave %s, right secret gave %s" % (status, good))

    # -- resources
    def create_stream(self, name, shards, timeout=20):
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        status = wait_until(
            lambda: self.kinesis.describe_stream_summary(StreamName=name)
            ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE",
            timeout, 0.2)
        if not status:
            raise RuntimeError("stream %s not ACTIVE after %ds" % (name, timeout))
        return [s["ShardId"] for s in self.list_shards(name)]

    def list_shards(self, name):
        shards, kw = [], {"StreamName": name}
        while True:
            r = self.kinesis.list_shards(**kw)
            shards += r["Shards"]
            if not r.get("NextToken"):
                return shards
            # moto pages only when StreamName is sent again (ENVIRONMENT.md)
            kw = {"StreamName": name, "NextToken": r["NextToken"]}

    def create_bucket(self, name):
        self.s3.create_bucket(Bucket=name)
        return name

    def create_topic_queue(self, topic, queue):
        """An SNS topic with an SQS queue subscribed (envelope delivery, so
        MessageAttributes arrive). Returns (topic_arn, queue_url)."""
        arn = self.sns.create_topic(Name=topic)["TopicArn"]
        url = self.sqs.create_queue(QueueName=queue)["QueueUrl"]
        qarn = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn,
                           Attributes={"RawMessageDelivery": "false"})
        return arn, url

    def put_records(self, stream, items):
        """Put (partition_key, data_bytes) items, in order, with PutRecords.
        Returns [(shard, seq, pk, data)] in put order."""
        out, chunk, size = [], [], 0

        def flush():
            if not chunk:
                return
            r = self.kinesis.put_records(StreamName=stream, Records=[
                {"PartitionKey": pk, "Data": d} for pk, d in chunk])
            if r.get("FailedRecordCount"):
                raise RuntimeError("PutRecords: %d failed"
                                   % r["FailedRecordCount"])
            for (pk, d), rr in zip(chunk, r["Records"]):
                out.append((rr["ShardId"], rr["SequenceNumber"], pk, d))
            chunk.clear()

        for pk, d in items:
            n = len(d) + len(pk.encode())
            if len(chunk) >= 500 or size + n > 4 * 1024 * 1024:
                flush()
                size = 0
            chunk.append((pk, d))
            size += n
        flush()
        return out

    def read_stream(self, stream):
        """Everything the stream holds, read with GetRecords from
        TRIM_HORIZON: {(shard, seq): arrival datetime (UTC)}."""
        got = {}
        for sh in self.list_shards(stream):
            it = self.kinesis.get_shard_iterator(
                StreamName=stream, ShardId=sh["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for _ in range(10000):
                r = self.kinesis.get_records(ShardIterator=it, Limit=10000)
                for rec in r["Records"]:
                    got[(sh["ShardId"], rec["SequenceNumber"])] = \
                        rec["ApproximateArrivalTimestamp"].astimezone(
                            datetime.timezone.utc)
                # moto never ends an open shard: stop when caught up
                if not r["Records"]:
                    break
                it = r.get("NextShardIterator")
                if not it:
                    break
        return got

    # -- S3 / SQS read back
    def fetch_objects(self, bucket):
        """Every archive object in the bucket: [{key, body, size, metadata,
        etag}] (the per-shard head objects under _keeper/ are not archive
        data: see head_objects). Lists without a Prefix: moto with auth on
        rejects an encoded '/'."""
        objs = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket):
            for c in page.get("Contents", []):
                if is_head_key(c["Key"]):
                    continue
                r = self.s3.get_object(Bucket=bucket, Key=c["Key"])
                body = r["Body"].read()
                objs.append({"key": c["Key"], "body": body, "size": c["Size"],
                             "metadata": r.get("Metadata", {}),
                             "etag": r.get("ETag")})
        return objs

    def head_objects(self, bucket):
        """The per-shard head objects: {shard: decoded JSON}."""
        heads = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket):
            for c in page.get("Contents", []):
                if is_head_key(c["Key"]):
                    r = self.s3.get_object(Bucket=bucket, Key=c["Key"])
                    h = json.loads(r["Body"].read())
                    heads[h.get("shard")] = h
        return heads

    def drain_queue(self, url, idle_rounds=2):
        """Receive and delete every message; return the decoded SNS
        envelopes [{message: dict|str, attributes: {name: value}, raw}]."""
        out, idle = [], 0
        deadline = time.monotonic() + 60
        while idle < idle_rounds and time.monotonic() < deadline:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=1,
                                         MessageAttributeNames=["All"])
            msgs = r.get("Messages", [])
            if not msgs:
                idle += 1
                continue
            idle = 0
            for m in msgs:
                self.sqs.delete_message(QueueUrl=url,
                                        ReceiptHandle=m["ReceiptHandle"])
                env = json.loads(m["Body"])
                try:
                    msg = json.loads(env.get("Message", ""))
                except ValueError:
                    msg = env.get("Message")
                attrs = {k: v.get("Value") for k, v in
                         (env.get("MessageAttributes") or {}).items()}
                out.append({"message": msg, "attributes": attrs, "raw": env})
        return out


# ------------------------------------------------------------------ keeper

def _lc_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%dL" % v if not -2**31 <= v < 2**31 else str(v)
    if isinstance(v, float):
        return repr(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"') \
        .replace("\n", "\\n").replace("\t", "\\t")
    return '"%s"' % s


def render_config(settings):
    """Render {dotted.key: value} in libconfig syntax, one group per first
    component (nested groups for deeper keys)."""
    tree = {}
    for key, value in settings.items():
        node = tree
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value

    def emit(node, indent):
        lines = []
        for k, v in node.items():
            if isinstance(v, dict):
                lines.append("%s%s = {" % (indent, k))
                lines += emit(v, indent + "  ")
                lines.append("%s};" % indent)
            else:
                lines.append("%s%s = %s;" % (indent, k, _lc_value(v)))
        return lines

    return "\n".join(emit(tree, "")) + "\n"


def bin_dir():
    d = os.environ.get("KK_BIN_DIR", "build")
    return d if os.path.isabs(d) else os.path.join(ROOT, d)


def keeper_bin():
    return os.path.join(bin_dir(), "kinesis-keeper")


def keeper_env(extra=None):
    """A hermetic environment: no AWS_* from the caller, no instance
    metadata, and a non-UTC local time zone (keys must use UTC)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("TZ", "HOME")}
    env.update({"AWS_EC2_METADATA_DISABLED": "true", "TZ": "XST-5:30",
                "HOME": "/nonexistent"})
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    if extra:
        env.update(extra)
    return env


def run_keeper(args, timeout=20, env=None):
    """Run the supervisor with args to completion (bounded); return
    (exit status, stdout, stderr). A hang is killed and reported as None."""
    p = subprocess.Popen([keeper_bin()] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=keeper_env(env), start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = None
    return rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|"
                          r"runtime error:|SUMMARY: \w+Sanitizer")


class Keeper:
    """One kinesis-keeper supervisor with a generated config.

    Keeper(moto, stream, bucket, overrides={...}, tmp=None, topic_arn=None)
    - tmp: directory for the config, log and state (created if None and
      removed on exit; pass the same tmp to resume on the same state_dir).
    - overrides: {"batch.max_age": "2s", ...} merged over the defaults.
    As a context manager it does not start the keeper; on exit it kills
    what is left (by PID), prints the log tail if anything failed and
    removes its own tmp. Methods: start(), stop(timeout) -> exit code,
    kill9(), log(), tail(n), running(), workers(), leftovers().
    """

    def __init__(self, moto, stream, bucket, overrides=None, tmp=None,
                 topic_arn=None, name="keeper", env=None):
        self.moto = moto
        self.own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="kk-e2e-")
        self.state_dir = os.path.join(self.tmp, "state")
        self.name = name
        self.env = env
        self.conf = os.path.join(self.tmp, name + ".conf")
        self.logpath = os.path.join(self.tmp, name + ".log")
        ep = moto.endpoint
        settings = {
            "stream": stream,
            "region": REGION,
            "state_dir": self.state_dir,
            "endpoints.kinesis": ep, "endpoints.s3": ep, "endpoints.sns": ep,
            "endpoints.cloudwatch": ep, "endpoints.sts": ep,
            "credentials.access_key_id": moto.access_key_id,
            "credentials.secret_access_key": moto.secret_access_key,
            "s3.bucket": bucket,
            "s3.path_style": True,
        }
        if topic_arn:
            settings["sns.topic_arn"] = topic_arn
        settings.update(overrides or {})
        self.settings = settings
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(render_config(settings))
        self.proc = None
        self.exit_code = None

    def __enter__(self):
        return self  # not started yet: start() when the test is ready

    def __exit__(self, exc_type, *exc):
        self.cleanup()
        if exc_type is not None or failed():
            self.print_tail()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def start(self, args=("-d", "-v")):
        if self.running():
            raise RuntimeError("%s is already running" % self.name)
        logf = open(self.logpath, "ab")
        try:
            self.proc = subprocess.Popen(
                [keeper_bin()] + list(args) + [self.conf],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                env=keeper_env(self.env), start_new_session=True)
        finally:
            logf.close()
        self.exit_code = None
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def workers(self):
        """Live worker processes (children of the supervisor, or orphans
        re-parented to the test)."""
        parents = [self.proc.pid] if self.proc else []
        return [p for p in keeper_processes(parents, self.conf)
                if not self.proc or p != self.proc.pid]

    def stop(self, timeout=40):
        """SIGTERM, wait up to timeout; return the exit code (negative:
        killed by a signal), or None if it hung and had to be SIGKILLed."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            kill_pid(self.proc.pid, signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            diag("%s did not exit within %ds after SIGTERM; SIGKILL"
                 % (self.name, timeout))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.exit_code = None
        return self.exit_code

    def kill9(self):
        """SIGKILL the supervisor only (its workers must notice)."""
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def leftovers(self, wait=5):
        """Worker processes still alive wait seconds after the supervisor
        ended (bounded poll); they are reported, not killed."""
        left = wait_until(lambda: not self.workers(), wait, 0.1)
        return [] if left else self.workers()

    def cleanup(self):
        """Kill everything this keeper left behind, by PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop(10)
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in self.workers():
            kill_pid(pid)
        time.sleep(0.05)
        reap_orphans()

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=40):
        return self.log().splitlines()[-n:]

    def print_tail(self, n=40):
        diag("--- last lines of %s log ---" % self.name, *self.tail(n))

    def sanitizer_reports(self):
        return [l for l in self.log().splitlines() if SANITIZER_RE.search(l)]


# ------------------------------------------------------------ verification

KEY_RE = re.compile(r"^(?P<prefix>.*?)(?P<stream>[^/]+)/(?P<yyyy>\d{4})/"
                    r"(?P<mm>\d\d)/(?P<dd>\d\d)/(?P<hh>\d\d)/(?P=stream)-"
                    r"(?P<shard>shardId-\d+)-(?P<seq>\d+)(?:-(?P<sub>\d+))?"
                    r"\.jsonl\.gz$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _reject_constant(name):
    raise ValueError("not JSON: " + name)


def json_text(data):
    """The parsed value if data is a valid UTF-8 JSON text (RFC 8259: no
    NaN/Infinity), else raise ValueError."""
    text = data.decode("utf-8")  # strict: rejects invalid and surrogates
    return json.loads(text, parse_constant=_reject_constant)


def is_json_text(data):
    try:
        json_text(data)
        return True
    except ValueError:
        return False


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def decode_object(obj):
    """Gunzip and parse one object in place: obj["lines"] (dicts),
    obj["text"], obj["errors"] (format problems found)."""
    errs = []
    obj["lines"] = []
    try:
        raw = gzip.decompress(obj["body"])
    except (OSError, EOFError, ValueError) as e:
        obj["errors"] = ["not a gzip stream: %s" % e]
        obj["raw"] = b""
        return obj
    obj["raw"] = raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        errs.append("body is not UTF-8: %s" % e)
        text = raw.decode("utf-8", "replace")
    if text and not text.endswith("\n"):
        errs.append("last line has no newline")
    rows = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    obj["nlines"] = len(rows) if text else 0
    for i, line in enumerate(rows):
        try:
            v = json.loads(line, parse_constant=_reject_constant)
        except ValueError as e:
            errs.append("line %d does not parse: %s: %.120r" % (i + 1, e, line))
            continue
        if not isinstance(v, dict):
            errs.append("line %d is not an object" % (i + 1))
            continue
        obj["lines"].append(v)
    obj["errors"] = errs
    return obj


def line_payload(line):
    """('data', value) or ('b64', bytes) or (None, reason)."""
    if "data" in line and "b64" not in line:
        return "data", line["data"]
    if "b64" in line and "data" not in line:
        try:
            return "b64", base64.b64decode(line["b64"], validate=True)
        except (ValueError, TypeError) as e:
            return None, "bad base64: %s" % e
    return None, "needs exactly one of data/b64, has %s" % sorted(line)


def payload_matches(line, original):
    """(True, "") if the line carries original in the form SPEC section 5
    asks for, else (False, reason)."""
    kind, v = line_payload(line)
    if kind is None:
        return False, v
    if is_json_text(original):
        if kind != "data":
            return False, "valid JSON payload %.60r archived as b64" % original
        if v != json_text(original):
            return False, "data %.80r != payload %.80r" % (
                json.dumps(v), original)
        return True, ""
    if kind != "b64":
        return False, "non-JSON payload %.60r archived as data" % original
    if v != original:
        return False, "b64 decodes to %.60r, payload was %.60r" % (v, original)
    return True, ""


def check_objects(objs, stream, prefix, arrivals=None, label=""):
    """Format checks on fetched objects (decoded in place). arrivals:
    {(shard, seq): datetime} from read_stream, to check ts and key dates."""
    lbl = (label + ": ") if label else ""
    problems = {"gzip/utf8/json lines": [], "metadata": [], "key": [],
                "line fields": [], "ts": []}
    for o in objs:
        decode_object(o)
        problems["gzip/utf8/json lines"] += ["%s: %s" % (o["key"], e)
                                             for e in o["errors"]]
        lines = o["lines"]
        md = o["metadata"]
        m = KEY_RE.match(o["key"])
        o["shard"] = m.group("shard") if m else None
        want = {"records": str(o.get("nlines", 0)),
                "first-seq": lines[0].get("seq") if lines else None,
                "last-seq": lines[-1].get("seq") if lines else None,
                "sha256": hashlib.sha256(o["body"]).hexdigest()}
        for k, v in want.items():
            if md.get(k) != v:
                problems["metadata"].append("%s: x-amz-meta-%s = %r, want %r"
                                            % (o["key"], k, md.get(k), v))
        if not lines:
            problems["key"].append("%s: empty object" % o["key"])
            continue
        first = lines[0]
        if not m:
            problems["key"].append("%s: does not match the default template"
                                   % o["key"])
        else:
            exp_date = None
            ts = first.get("ts")
            if isinstance(ts, str) and TS_RE.match(ts):
                exp_date = parse_ts(ts)
            exp = "%s%s/%s/%s-%s-%s%s.jsonl.gz" % (
                prefix, stream,
                exp_date.strftime("%Y/%m/%d/%H") if exp_date else "?",
                stream, m.group("shard"), first.get("seq"),
                "-%s" % first["sub"] if first.get("sub") not in (None, 0, "0")
                else "")
            if o["key"] != exp:
                problems["key"].append("%s: expected %s" % (o["key"], exp))
        for i, ln in enumerate(lines):
            where = "%s line %d" % (o["key"], i + 1)
            if not isinstance(ln.get("seq"), str) or not ln["seq"].isdigit():
                problems["line fields"].append("%s: seq %r" % (where, ln.get("seq")))
            if not isinstance(ln.get("pk"), str):
                problems["line fields"].append("%s: pk %r" % (where, ln.get("pk")))
            extra = set(ln) - {"seq", "sub", "pk", "ts", "data", "b64"}
            if extra:
                problems["line fields"].append("%s: unexpected fields %s"
                                               % (where, sorted(extra)))
            ts = ln.get("ts")
            if not isinstance(ts, str) or not TS_RE.match(ts):
                problems["ts"].append("%s: ts %r not UTC with ms" % (where, ts))
            elif arrivals is not None and o["shard"]:
                arr = arrivals.get((o["shard"], ln.get("seq")))
                if arr is not None and abs((parse_ts(ts) - arr)
                                           .total_seconds()) > 0.0015:
                    problems["ts"].append("%s: ts %s, arrival %s"
                                          % (where, ts, arr.isoformat()))
    for name, lst in problems.items():
        ok(not lst, "%sobjects: %s correct (%d objects)" % (lbl, name, len(objs)),
           *lst[:8] + (["... %d more" % (len(lst) - 8)] if len(lst) > 8 else []))
    return objs


def _pos(seq, sub):
    """Sort key of a (seq, sub) position; non-numeric sorts first."""
    return (int(seq) if str(seq).isdigit() else -1,
            int(sub) if str(sub).isdigit() else -1)


def assert_exactly_once(put, objs, label="", partitioned=False):
    """Every put record appears exactly once, in shard order, with its
    partition key and payload; nothing extra. put: [(shard, seq, pk, data)]
    or, for de-aggregated KPL user records, [(shard, seq, pk, data, sub)];
    objs: decoded objects (check_objects). partitioned: objects of one
    shard interleave (partitioned keys): the order holds within each."""
    lbl = (label + ": ") if label else ""
    want = {}
    for p in put:
        sh, seq, pk, d = p[:4]
        sub = p[4] if len(p) > 4 else None
        want[(sh, seq, None if sub is None else str(sub))] = (pk, d)
    seen = {}  # (shard, seq, sub) -> (object key, line)
    dups, extra, order = [], [], []
    by_shard = {}
    for o in objs:
        by_shard.setdefault(o.get("shard"), []).append(o)
    for shard, lst in by_shard.items():
        lst.sort(key=lambda o: _pos(o["lines"][0].get("seq"),
                                    o["lines"][0].get("sub"))
                 if o["lines"] else (-1, -1))
        prev = None
        for o in lst:
            for ln in o["lines"]:
                sub = ln.get("sub")
                k = (shard, ln.get("seq"), None if sub is None else str(sub))
                name = "%s %s%s" % (shard, k[1], "" if sub is None
                                    else "/%s" % sub)
                if k in seen:
                    dups.append("%s in %s and %s" % (name, seen[k][0], o["key"]))
                    continue
                seen[k] = (o["key"], ln)
                if k not in want:
                    extra.append("%s in %s" % (name, o["key"]))
                pos = _pos(k[1], k[2])
                if partitioned and ln is o["lines"][0]:
                    prev = None
                if prev is not None and pos <= prev:
                    order.append("%s after %s in %s" % (name, prev, o["key"]))
                prev = pos
    missing = ["%s %s%s" % (k[0], k[1], "" if k[2] is None else "/" + k[2])
               for k in want if k not in seen]
    bad_pk, bad_payload = [], []
    for k, (key, ln) in seen.items():
        if k not in want:
            continue
        pk, data = want[k]
        if ln.get("pk") != pk:
            bad_pk.append("%s %s: pk %r, want %r" % (k[0], k[1], ln.get("pk"), pk))
        good, why = payload_matches(ln, data)
        if not good:
            bad_payload.append("%s %s: %s" % (k[0], k[1], why))

    def cut(lst):
        return lst[:10] + (["... %d more" % (len(lst) - 10)]
                           if len(lst) > 10 else [])
    ok(not missing, "%severy put record archived (%d of %d)"
       % (lbl, len(want) - len(missing), len(want)), *cut(missing))
    ok(not dups, "%sno record archived twice" % lbl, *cut(dups))
    ok(not extra, "%sno unexpected records" % lbl, *cut(extra))
    ok(not order, "%srecords in shard order %s" % (
        lbl, "within each object" if partitioned else "across objects"),
        *cut(order))
    ok(not bad_pk, "%spartition keys preserved" % lbl, *cut(bad_pk))
    ok(not bad_payload, "%spayloads preserved (data/b64 as SPEC 5)" % lbl,
       *cut(bad_payload))
    return not (missing or dups or extra or order or bad_pk or bad_payload)


def is_head_key(key):
    """A per-shard head object ({prefix}{stream}/_keeper/{shard}.json), the
    one object the keeper rewrites: a pointer, not archive data."""
    return "/_keeper/" in "/" + key


def archived_records(moto, bucket, cache):
    """Number of records in the bucket by x-amz-meta-records, re-reading only
    new or changed keys (cache: {key: (etag, n)}); for polling."""
    total = 0
    for page in moto.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for c in page.get("Contents", []):
            if is_head_key(c["Key"]):
                continue
            hit = cache.get(c["Key"])
            if hit is None or hit[0] != c["ETag"]:
                h = moto.s3.head_object(Bucket=bucket, Key=c["Key"])
                try:
                    n = int(h.get("Metadata", {}).get("records", "0"))
                except ValueError:
                    n = 0
                hit = cache[c["Key"]] = (c["ETag"], n)
            total += hit[1]
    return total


def check_notifications(notes, objs, required, stream, bucket, version=None,
                        label="", may_repeat=()):
    """Match SNS notifications (drain_queue) 1:1 to objects: each object of
    required (a subset of objs, the bucket) notified once, nothing else.
    version: the number -V printed, which keeper_version must contain.
    may_repeat: keys whose outbox entry was left at a stop or a kill while
    its Publish may have been on the way: at least once allows them twice."""
    lbl = (label + ": ") if label else ""
    by_key = {o["key"]: o for o in objs}
    probs, unmatched, dup = [], [], []
    count = {}
    for n in notes:
        m = n["message"]
        if not isinstance(m, dict):
            probs.append("message is not JSON: %.100r" % m)
            continue
        key = m.get("key")
        count[key] = count.get(key, 0) + 1
        o = by_key.get(key)
        if o is None:
            unmatched.append("notification for unknown key %r" % key)
            continue
        lines = o["lines"]
        exp = {"version": 1, "stream": stream, "shard": o.get("shard"),
               "bucket": bucket, "key": key, "uri": "s3://%s/%s" % (bucket, key),
               "records": len(lines), "stored_bytes": o["size"],
               "sha256": hashlib.sha256(o["body"]).hexdigest(),
               "first_seq": lines[0].get("seq") if lines else None,
               "last_seq": lines[-1].get("seq") if lines else None,
               "first_ts": lines[0].get("ts") if lines else None,
               "last_ts": lines[-1].get("ts") if lines else None}
        for f, v in exp.items():
            if m.get(f) != v:
                probs.append("%s: %s = %.80r, want %.80r" % (key, f, m.get(f), v))
        if not isinstance(m.get("bytes"), int) or m["bytes"] <= 0:
            probs.append("%s: bytes = %r" % (key, m.get("bytes")))
        if not isinstance(m.get("host"), str) or not m["host"]:
            probs.append("%s: host = %r" % (key, m.get("host")))
        kv = m.get("keeper_version")
        if not isinstance(kv, str) or not kv or (version and version not in kv):
            probs.append("%s: keeper_version = %r, -V says %r"
                         % (key, kv, version))
        att = n["attributes"]
        if att.get("stream") != stream or att.get("shard") != o.get("shard"):
            probs.append("%s: message attributes %r" % (key, att))
    dup = ["%s notified %d times" % (k, c) for k, c in count.items()
           if c > (2 if k in may_repeat else 1)]
    missing = [o["key"] for o in required if o["key"] not in count]
    stale = [k for k in count if k in by_key and
             k not in {o["key"] for o in required}]
    ok(not missing, "%severy object notified (%d objects, %d notifications)"
       % (lbl, len(required), len(notes)), *missing[:10])
    ok(not stale, "%sno notification repeated for an older object" % lbl,
       *stale[:10])
    ok(not unmatched, "%sno notification without its object" % lbl, *unmatched[:10])
    ok(not dup, "%sone notification per object in a clean run" % lbl, *dup[:10])
    ok(not probs, "%snotification fields and attributes match the objects"
       % lbl, *probs[:10])


def adopted_keys(log_text):
    """Keys the keeper adopted (met under its key, written by an earlier
    run): 'adopted s3://bucket/KEY: ...' lines."""
    return set(re.findall(r"adopted s3://[^/\s]+/(\S+): ", log_text))


def check_state(state_dir, objs, keep, label="", adopted=()):
    """Checkpoints name each shard's last archived seq; local copies are the
    last `keep` objects of each shard, byte for byte (an adopted object's
    bytes were written by an earlier run: its copy may be missing)."""
    lbl = (label + ": ") if label else ""
    by_shard = {}
    for o in objs:
        if o.get("shard") and o["lines"]:
            by_shard.setdefault(o["shard"], []).append(o)
    ck_probs, local_probs = [], []
    for shard, lst in sorted(by_shard.items()):
        lst.sort(key=lambda o: _pos(o["lines"][0].get("seq"),
                                    o["lines"][0].get("sub")))
        last = max((ln.get("seq") for o in lst for ln in o["lines"]),
                   key=lambda s: _pos(s, None))
        path = os.path.join(state_dir, "checkpoints", shard)
        try:
            with open(path, "rb") as f:
                content = f.read().decode("utf-8", "replace")
            if not re.search(r"(?<!\d)%s(?!\d)" % re.escape(last), content):
                ck_probs.append("%s: checkpoint %.80r lacks last seq %s"
                                % (shard, content, last))
        except OSError as e:
            ck_probs.append("%s: %s" % (shard, e))
        d = os.path.join(state_dir, "batches", shard)
        try:
            files = sorted(f for f in os.listdir(d)
                           if os.path.isfile(os.path.join(d, f)))
        except OSError as e:
            local_probs.append("%s: %s" % (shard, e))
            continue
        local = {}
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                local[hashlib.sha256(fh.read()).hexdigest()] = f
        want = {hashlib.sha256(o["body"]).hexdigest(): o["key"]
                for o in lst[-keep:]} if keep > 0 else {}
        if len(files) > keep:
            local_probs.append("%s: %d local files, keep = %d"
                               % (shard, len(files), keep))
        for h, key in want.items():
            if h not in local and key not in adopted:
                local_probs.append("%s: no byte-identical local copy of %s"
                                   % (shard, key))
        s3_all = {hashlib.sha256(o["body"]).hexdigest() for o in lst}
        for h, f in local.items():
            if h not in s3_all:
                local_probs.append("%s: local %s matches no S3 object" % (shard, f))
    ok(not ck_probs, "%scheckpoint of each shard names its last archived seq"
       % lbl, *ck_probs)
    ok(not local_probs, "%slocal copies are the last %d objects per shard, "
       "byte-identical" % (lbl, keep), *local_probs[:10])


class LoopbackServer:
    """A threaded HTTP server on a free loopback port: call
    self._serve(handler_cls[, server_cls]) in __init__; a context manager
    that serves in a daemon thread and stops on exit."""

    def _serve(self, handler_cls, server_cls=None):
        cls = server_cls or http.server.ThreadingHTTPServer
        self.server = cls(("127.0.0.1", 0), handler_cls)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        return False


class RecordingProxy(LoopbackServer):
    """A plain HTTP forwarder in front of moto that records each request's
    method, path, headers and body digest (to check what moto does not:
    Content-MD5, x-amz-content-sha256). Headers, Host included, are passed
    as is, so SigV4 signatures stay valid."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.requests = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                with proxy.lock:
                    proxy.requests.append({
                        "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                        "sha256": hashlib.sha256(body).hexdigest(),
                        "len": len(body)})
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port,
                                                  timeout=60)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("transfer-encoding", "connection")}
                hdrs["Content-Length"] = str(len(body))
                try:
                    conn.request(self.command, self.path, body=body, headers=hdrs)
                    r = conn.getresponse()
                    data = r.read()
                    self.send_response(r.status, r.reason)
                    for k, v in r.getheaders():
                        if k.lower() not in ("transfer-encoding", "connection",
                                             "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            def _read_chunked(self):
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self._serve(Handler)
