"""
kk_faults.py: helpers for the fault and TLS scenarios (test_faults.py,
test_tls.py) on top of kk.py: a background record producer, RSS sampling
from /proc, call-rate arithmetic on the fault proxy's request log, archive
verification in one call, a throwaway test CA made with the openssl command,
and moto served over HTTPS.
"""

import contextlib
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok, diag  # noqa: E402


# ------------------------------------------------------------ binaries

def is_asan_build():
    """True if the keeper binaries are sanitizer builds (their RSS is
    dominated by shadow memory and quarantine, so bounds do not apply)."""
    try:
        with open(kk.keeper_bin(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def have_binaries():
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return False
    return True


# ------------------------------------------------------------ producer

class Producer:
    """Puts records on a stream from a background thread: `batch` records
    every `interval` seconds, payloads from make(i). Stops on stop() or after
    `limit` seconds (bounded). put holds [(shard, seq, pk, data)]."""

    def __init__(self, moto, stream, make, batch=10, interval=0.2, limit=120,
                 pks=None):
        self.moto = moto
        self.stream = stream
        self.make = make
        self.batch = batch
        self.interval = interval
        self.limit = limit
        self.pks = pks or ["pk-%d" % i for i in range(64)]
        self.put = []
        self.errors = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.thread = None
        self.i = 0

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="producer")
        self.thread.start()
        return self

    def _run(self):
        deadline = time.monotonic() + self.limit
        rng = random.Random(4)
        while not self.halt.is_set() and time.monotonic() < deadline:
            items = []
            for _ in range(self.batch):
                items.append((rng.choice(self.pks), self.make(self.i)))
                self.i += 1
            try:
                got = self.moto.put_records(self.stream, items)
                with self.lock:
                    self.put += got
            except Exception as e:  # reported by the test, never hidden
                self.errors.append(repr(e))
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        if self.thread is not None:
            self.thread.join(60)
        ok(not self.errors, "producer: every PutRecords succeeded (%d records)"
           % len(self.put), *self.errors[:5])
        return self.records()

    def records(self):
        with self.lock:
            return list(self.put)


# ------------------------------------------------------------ RSS

def rss_kib(pid):
    """VmRSS of pid in KiB, or None if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler:
    """Samples VmRSS of the keeper's supervisor and workers every `period`
    seconds from a thread. peak: {"supervisor": kib, "worker": kib};
    pids: every worker PID seen."""

    def __init__(self, keeper, period=0.1):
        self.keeper = keeper
        self.period = period
        self.peak = {"supervisor": 0, "worker": 0}
        self.peak_pid = {}
        self.samples = 0
        self.pids = set()
        self.halt = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="rss")
        self.thread.start()
        return self

    def _run(self):
        while not self.halt.is_set():
            sup = self.keeper.proc.pid if self.keeper.proc else None
            procs = [("supervisor", sup)] if sup else []
            procs += [("worker", p) for p in self.keeper.workers()]
            for role, pid in procs:
                v = rss_kib(pid)
                if v is None:
                    continue
                if role == "worker":
                    self.pids.add(pid)
                if v > self.peak[role]:
                    self.peak[role] = v
                    self.peak_pid[role] = pid
            self.samples += 1
            self.halt.wait(self.period)

    def stop(self):
        self.halt.set()
        if self.thread is not None:
            self.thread.join(10)
        return self.peak


# ------------------------------------------------------------ call rates

def max_in_window(times, window):
    """The largest number of times t_j within any [t_i, t_i + window)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def min_gap(times):
    times = sorted(times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    return min(gaps) if gaps else None


def mean_rate(times, t0, t1):
    n = len([t for t in times if t0 <= t < t1])
    return n / (t1 - t0) if t1 > t0 else 0.0


# ------------------------------------------------------------ outages

def outage(proxy, service, stages, least, most=20):
    """Faults in stages, one after the other without a gap: each stage,
    (action, {rule keywords}), stays for at least `least` seconds and until
    it has hit at least once (at most `most` seconds), so that every kind of
    failure really meets the keeper whatever its backoff. The last stage's
    rule is left in place: the caller removes it. Returns the rules."""
    rules = []
    for action, kw in stages:
        r = proxy.add_rule(service, action, **kw)
        if rules:
            proxy.remove_rule(rules[-1])
        rules.append(r)
        time.sleep(least)
        kk.wait_until(lambda: r.hits, max(0.0, most - least), 0.05)
    return rules


# ------------------------------------------------------------ archive

def wait_archived(moto, bucket, n, timeout, label):
    """Bounded wait until the bucket's x-amz-meta-records add up to n."""
    cache = {}
    t0 = time.monotonic()
    got = kk.wait_until(lambda: kk.archived_records(moto, bucket, cache) >= n,
                        timeout, 0.5)
    have = kk.archived_records(moto, bucket, cache)
    ok(got, "%s: all %d records archived within %ds (took %.1fs)"
       % (label, n, timeout, time.monotonic() - t0),
       "x-amz-meta-records add up to %d" % have)
    return got


def verify_archive(moto, bucket, stream, prefix, put, label):
    """Fetch the bucket, check the object format and that every put record
    is there exactly once. Returns the decoded objects."""
    objs = moto.fetch_objects(bucket)
    kk.check_objects(objs, stream, prefix, None, label)
    kk.assert_exactly_once(put, objs, label)
    return objs


def log_lines(keeper, pattern):
    rx = re.compile(pattern)
    return [line for line in keeper.log().splitlines() if rx.search(line)]


def crash_lines(keeper):
    """Supervisor lines that report a worker death it did not cause."""
    return log_lines(keeper, r"terminated by signal|exited with status|"
                     r"core dumped|AddressSanitizer|runtime error:")


def outbox_entries(state_dir):
    """Files left in {state_dir}/outbox/*/."""
    out = []
    base = os.path.join(state_dir, "outbox")
    with contextlib.suppress(OSError):
        for shard in os.listdir(base):
            d = os.path.join(base, shard)
            if os.path.isdir(d):
                out += [os.path.join(shard, f) for f in os.listdir(d)
                        if not f.startswith(".")]
    return out


# ------------------------------------------------------------ TLS

def openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args[:2]),
                                                r.stderr.decode()[-500:]))


def make_ca(tmp, name="kk-test-ca"):
    """A throwaway CA in tmp: returns (ca_cert, ca_key) paths."""
    cert = os.path.join(tmp, name + ".pem")
    key = os.path.join(tmp, name + ".key")
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-days", "2", "-subj", "/CN=%s" % name, "-keyout", key,
             "-out", cert, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], tmp)
    return cert, key


def make_server_cert(tmp, ca, name, san):
    """A server certificate signed by ca=(cert, key) with the given
    subjectAltName (e.g. "IP:127.0.0.1"): returns (cert, key) paths."""
    cert = os.path.join(tmp, name + ".pem")
    key = os.path.join(tmp, name + ".key")
    csr = os.path.join(tmp, name + ".csr")
    ext = os.path.join(tmp, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % san)
    openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/CN=%s" % name, "-keyout", key, "-out", csr], tmp)
    openssl(["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext,
             "-out", cert], tmp)
    return cert, key


class TlsMoto(kk.Moto):
    """kk.Moto served over HTTPS with our own certificate; the test's own
    clients trust ca_file."""

    def __init__(self, cert, key, ca_file, ready_timeout=30):
        super().__init__(ready_timeout)
        self.cert = cert
        self.key = key
        self.ca_file = ca_file
        self.ctx = ssl.create_default_context(cafile=ca_file)

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="kk-moto-tls-")
        self.port = kk.free_port()
        self.endpoint = "https://127.0.0.1:%d" % self.port
        self.logpath = os.path.join(self.tmp, "moto.log")
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                 "-p", str(self.port), "-c", self.cert, "-k", self.key],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
        finally:
            logf.close()
        # boto3 (AWS_CA_BUNDLE) and urllib (the installed opener) trust
        # the test CA, in this test process only
        os.environ["AWS_CA_BUNDLE"] = self.ca_file
        urllib.request.install_opener(urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ctx)))
        try:
            if not kk.wait_until(self._ready, self.ready_timeout, 0.1):
                raise RuntimeError("moto (TLS) did not answer within %ds"
                                   % self.ready_timeout)
            self._enable_auth()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("moto exited with %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen(self.endpoint + "/moto-api/",
                                        timeout=2, context=self.ctx) as r:
                return r.status == 200
        except OSError:
            return False

    def __exit__(self, *exc):
        r = super().__exit__(*exc)
        os.environ.pop("AWS_CA_BUNDLE", None)
        return r


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)


def run_scenarios(scenarios, check_auth=False):
    """Run the scenarios named on the command line (all by default) on one
    moto, each timed; one scenario's exception is a failed check, not the
    end of the others. check_auth: SigV4 checking on first."""
    kk.become_subreaper()
    if not have_binaries():
        return
    names = sys.argv[1:] or sorted(scenarios)
    bad = [n for n in names if n not in scenarios]
    if bad:
        ok(False, "known scenarios %s" % bad)
        return
    t_all = time.monotonic()
    with kk.Moto() as moto:
        if check_auth:
            moto.check_auth()
        for n in names:
            t = time.monotonic()
            try:
                scenarios[n](moto)
            except Exception as e:  # one scenario's failure is not fatal
                ok(False, "scenario %s completed without an exception (%s)"
                   % (n, type(e).__name__),
                   *traceback.format_exc().splitlines())
            diag("scenario %s took %.1fs" % (n, time.monotonic() - t))
    diag("all scenarios took %.1fs" % (time.monotonic() - t_all))
