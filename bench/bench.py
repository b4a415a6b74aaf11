"""
bench/bench.py ("make bench", through bench/run.sh): the benchmark of issue 8.
Everything it writes is under build/bench/; it prints a table and ratios to
the targets, never pass/fail. It starts the replay server (replay.py), runs
build/kinesis-keeper as its own child against it for each row, and measures:

  - CPU of the keeper (supervisor + workers, user+sys: os.wait4 of the
    supervisor, which reaps its workers) per GB of record data;
  - the floor: gzip -6 CPU on the exact JSON lines the keeper stored (and
    Python's zlib on the same lines), and the row's own engine and level
    alone on them (bench/floor.c, the keeper's compression module);
  - per engine and level: the ratio (lines / stored bytes) beside zlib -6's;
  - the boto3 archiver (boto3_archiver.py) on a smaller sample, normalised;
  - peak RSS (VmHWM) of the supervisor and the worker, throughput;
  - 100 idle shards, on the replay server and on kinesalite (issue 17): CPU
    per idle GetRecords, wake-ups (context switches of all the keeper's
    processes) and system calls (strace of one worker) per call, PSS per
    worker and what it is made of, the supervisor's VmHWM;
  - worker start-up and a full reshard of 100 shards;
  - a perf profile of the worker, when perf can sample here.

GB and MB are 10^9 and 10^6 bytes of record data (the decoded payloads).
Options: --quick (small sizes, to try the bench itself), --programs DIR
(another build's kinesis-keeper{,-worker}), --rows a,b,...
(logs1k-l6 logs1k-l1 logs1k-l12 logs1k-zstd1 logs1k-zstd3 logs1k-zstd19
metrics100-l6 metrics100-zstd1 boto3-logs1k-l6 boto3-metrics100-l6
idle100 idle100-floor idle100-kinesalite reshard100 profile-logs1k profile-metrics100, and idle500 and
profile-logs1k-zstd1, which only run when named), --no-profile, --idle-seconds N,
--against DIR (adds the row idle-pair: this build and DIR's at once, 50
idle shards each on one replay server, CPU per call of each over rounds;
the host's noise moves both alike, which rows run one after the other
cannot promise).
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import datagen  # noqa: E402

OUT = os.path.join(ROOT, "build", "bench")
BUILT = os.path.join(ROOT, "build")
# copies taken at start (snapshot_programs), so that a `make` run by someone
# else during the benchmark cannot swap the programs between rows
KEEPER = os.path.join(OUT, "bin", "kinesis-keeper")
WORKER = os.path.join(OUT, "bin", "kinesis-keeper-worker")
FLOOR = os.path.join(OUT, "bin", "kk-floor")
TOPIC = "arn:aws:sns:us-east-1:123456789012:bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024


def now():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# -- the replay server ---------------------------------------------------------

class Replay:
    def __init__(self):
        self.store = os.path.join(OUT, "s3")
        subprocess.run(["rm", "-rf", self.store], check=True)
        self.errf = open(os.path.join(OUT, "replay.log"), "w")
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "replay.py"), "--data",
             os.path.join(OUT, "data"), "--store", self.store],
            stdout=subprocess.PIPE, stderr=self.errf, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            raise SystemExit("replay server did not start; see %s"
                             % self.errf.name)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def call(self, path, body=None):
        req = urllib.request.Request(self.url + path, data=body,
                                     method="POST" if body else "GET")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def streams(self, spec):
        self.call("/_bench/streams", json.dumps(spec).encode())

    def state(self):
        return self.call("/_bench/state")

    def close(self):
        self.p.terminate()
        self.p.wait()
        self.errf.close()


# -- kinesalite (the idle row on an independent Kinesis) ------------------------

NODE_MODULES = os.path.join(ROOT, "build", "npm", "node_modules")

# kinesalite on loopback (its CLI listens on all interfaces), with a second
# port that answers the number of calls per X-Amz-Target so far: kinesalite
# keeps no count, and the idle row divides CPU by calls
KINESALITE_JS = r"""
var kinesalite = require(process.argv[2]);
var http = require('http');
var server = kinesalite({createStreamMs: 0, deleteStreamMs: 0,
                         updateStreamMs: 0, shardLimit: 10000});
var counts = {};
server.prependListener('request', function (req) {
  var t = String(req.headers['x-amz-target'] || '').split('.').pop();
  counts[t] = (counts[t] || 0) + 1;
});
server.listen(0, '127.0.0.1', function () {
  var c = http.createServer(function (q, r) { r.end(JSON.stringify(counts)); });
  c.listen(0, '127.0.0.1', function () {
    console.log('port ' + server.address().port + ' ' + c.address().port);
  });
});
"""


class Kinesalite:
    def __init__(self):
        if not os.path.isdir(os.path.join(NODE_MODULES, "kinesalite")):
            raise OSError("no %s/kinesalite (tests/setup.sh installs it)"
                          % NODE_MODULES)
        script = os.path.join(OUT, "kinesalite.js")
        with open(script, "w") as f:
            f.write(KINESALITE_JS)
        self.errf = open(os.path.join(OUT, "kinesalite.log"), "w")
        self.p = subprocess.Popen(
            ["node", script, os.path.join(NODE_MODULES, "kinesalite")],
            stdout=subprocess.PIPE, stderr=self.errf, text=True,
            stdin=subprocess.DEVNULL)
        line = self.p.stdout.readline()
        if not line.startswith("port "):
            self.close()
            raise OSError("kinesalite did not start; see %s" % self.errf.name)
        self.port, self.cport = (int(x) for x in line.split()[1:3])
        self.url = "http://127.0.0.1:%d" % self.port

    def create_stream(self, name, shards):
        import boto3
        import botocore.config
        k = boto3.client("kinesis", endpoint_url=self.url,
                         region_name="us-east-1",
                         aws_access_key_id="AKIDBENCHEXAMPLE",
                         aws_secret_access_key="unused",
                         config=botocore.config.Config(
                             retries={"max_attempts": 1}))
        k.create_stream(StreamName=name, ShardCount=shards)
        wait_for(lambda: k.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", 30,
            "the kinesalite stream")

    def counts(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/" % self.cport,
                                    timeout=30) as r:
            return json.loads(r.read())

    def close(self):
        self.p.terminate()
        self.p.wait()
        self.errf.close()


# -- /proc ---------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "VmPTE"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        return None
    return out


def proc_cpu(pid):
    """utime + stime of one process, in seconds (None once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_runtime(pid):
    """Time on CPU of one process, seconds, from schedstat (nanoseconds)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return proc_cpu(pid)


def proc_sched(pid):
    """(seconds on CPU, seconds runnable but waiting for a CPU) so far."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            v = f.read().split()
        return int(v[0]) / 1e9, int(v[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def system_busy():
    """CPU seconds all processes of the machine have used so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def proc_start(pid):
    """Start time of a process, CLOCK_BOOTTIME seconds (1/CLK_TCK steps)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return int(s[s.rindex(")") + 2:].split()[19]) / CLK_TCK


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def worker_shard(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    for i, a in enumerate(argv[:-1]):
        if a == b"-s":
            return argv[i + 1].decode()
    return None


def smaps_rollup(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        return None
    return out


def smaps_breakdown(pid, field="Pss"):
    """PSS (or Rss) by kind of mapping: heap (+anonymous), libcurl and the
    libraries it pulls in, OpenSSL, libc, other libraries, the program, the
    stack."""
    kinds = {}
    name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split()
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    path = head[5] if len(head) > 5 else ""
                    base = os.path.basename(path)
                    if path in ("", "[heap]"):
                        name = "heap+anon"
                    elif path == "[stack]":
                        name = "stack"
                    elif path.startswith("["):
                        name = "kernel ([vdso] etc.)"
                    elif base.startswith(("libssl", "libcrypto")):
                        name = "OpenSSL"
                    elif base.startswith("libcurl"):
                        name = "libcurl"
                    elif base.startswith(("libc.so", "ld-linux", "libm.so")):
                        name = "libc+ld.so+libm"
                    elif "kinesis-keeper" in base:
                        name = "program"
                    elif base.startswith(("libjson-c", "libconfig", "libz.")):
                        name = "json-c+libconfig+zlib"
                    else:
                        name = "libcurl's dependencies"
                elif head and head[0] == field + ":" and name:
                    kinds[name] = kinds.get(name, 0) + int(head[1]) * 1024
    except OSError:
        return None
    return kinds


class Monitor(threading.Thread):
    """Samples VmHWM of the supervisor and its children until it exits, and
    remembers each worker's shard and start time."""

    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.sup_hwm = 0
        self.workers = {}       # pid -> {"shard", "start", "hwm", ...}
        self.stop = False
        self.detail = True      # take an Rss breakdown at a worker's peak

    def run(self):
        while not self.stop:
            self.sample()
            time.sleep(self.interval)

    def sample(self):
        st = proc_status(self.pid)
        if st is None:
            return
        self.sup_hwm = max(self.sup_hwm, st.get("VmHWM", 0))
        for c in children(self.pid):
            w = self.workers.get(c)
            if w is None:
                shard = worker_shard(c)
                if shard is None:
                    continue
                w = self.workers[c] = {"shard": shard, "start": proc_start(c),
                                       "hwm": 0, "rss": 0, "at_peak": None}
            cs = proc_status(c)
            if cs is not None:
                w["hwm"] = max(w["hwm"], cs.get("VmHWM", 0))
                if self.detail and cs.get("VmRSS", 0) > w["rss"] * 1.02:
                    b = smaps_breakdown(c, "Rss")
                    if b:
                        w["rss"] = cs["VmRSS"]
                        w["at_peak"] = b


# -- the keeper ----------------------------------------------------------------

def keeper_conf(path, stream, row, port, settings):
    """A configuration for the replay server; settings: {"group.key": value}."""
    groups = {
        "endpoints": {"kinesis": "http://127.0.0.1:%d" % port,
                      "s3": "http://127.0.0.1:%d" % port,
                      "sns": "http://127.0.0.1:%d" % port},
        "credentials": {"access_key_id": "AKIDBENCHEXAMPLE",
                        "secret_access_key": "bench/secret/key/EXAMPLE"},
        "read": {"interval": "1s", "calls_per_second": 1000,
                 "bytes_per_second": "1G"},
        "topology": {"refresh": "60s"},
        "batch": {"max_bytes": "64M", "max_age": "5m"},
        "s3": {"bucket": row, "path_style": True},
        "format": {},
        "sns": {"topic_arn": TOPIC},
        "log": {"level": "info"},
    }
    for k, v in settings.items():
        g, _, key = k.partition(".")
        if v is None:
            groups[g].pop(key, None)
        else:
            groups.setdefault(g, {})[key] = v

    def lit(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return json.dumps(v)
    state = os.path.join(OUT, "run", row, "state")
    text = ['stream = "%s";' % stream, 'region = "us-east-1";',
            'state_dir = "%s";' % state]
    for g, kv in groups.items():
        text.append("%s = { %s };" % (g, " ".join(
            "%s = %s;" % (k, lit(v)) for k, v in kv.items())))
    with open(path, "w") as f:
        f.write("\n".join(text) + "\n")


class Keeper:
    """One run of build/kinesis-keeper as our child."""

    def __init__(self, replay, row, stream, settings, interval=0.02,
                 wrap=None, keeper=None):
        keeper = keeper or KEEPER
        self.row = row
        self.dir = os.path.join(OUT, "run", row)
        subprocess.run(["rm", "-rf", self.dir, os.path.join(replay.store, row)],
                       check=True)
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "keeper.conf")
        keeper_conf(self.conf, stream, row, replay.port, settings)
        chk = subprocess.run([keeper, "-n", self.conf], capture_output=True,
                             text=True)
        if chk.returncode != 0:
            raise SystemExit("%s: bad configuration:\n%s%s" % (
                row, chk.stdout, chk.stderr))
        self.logf = open(os.path.join(self.dir, "keeper.log"), "w")
        argv = [keeper, "-d", self.conf]
        if wrap:
            argv = wrap + argv
        self.t0 = now()
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf)
        self.sup_pid = self.p.pid
        if wrap:        # perf record: the keeper is its child
            time.sleep(0.3)
            c = children(self.p.pid)
            self.sup_pid = c[0] if c else self.p.pid
        self.mon = Monitor(self.sup_pid, interval)
        self.mon.start()
        self.rusage = None

    def stop(self, timeout=120):
        self.mon.sample()
        self.sup_cpu = proc_runtime(self.sup_pid)
        self.sup_rss_kinds = smaps_breakdown(self.sup_pid, "Rss")
        t = now()
        for c, w in self.mon.workers.items():
            w["rss_end"] = (proc_status(c) or {}).get("VmRSS", 0)
            sc = proc_sched(c)
            if sc and w["start"]:
                w["sched"] = {"cpu": sc[0], "runqueue": sc[1],
                              "life": t - w["start"]}
        os.kill(self.sup_pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while True:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                os.kill(self.p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(self.p.pid, 0)
                break
            self.mon.sample()
            time.sleep(0.01)
        self.t_exit = now()
        self.p.returncode = status
        self.mon.stop = True
        self.mon.join()
        self.logf.close()
        self.rusage = ru
        self.status = status
        return ru

    def cpu(self):
        return self.rusage.ru_utime + self.rusage.ru_stime


def wait_for(pred, timeout, what, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise SystemExit("timed out waiting for %s" % what)


def drained(replay, stream, shards):
    def pred():
        st = replay.state()["shards"]
        return all(st.get("%s/%s" % (stream, s), {}).get("end_served")
                   for s in shards) and st
    return pred


def stored_objects(replay, row):
    d = os.path.join(replay.store, row)
    # not the per-shard head objects (_keeper/<shard>.json): not archive
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if not f.endswith(".part") and
                  "%2F_keeper%2F" not in "%2F" + f)


def unpack(files, dest, engine="gzip"):
    """Decompress the stored objects into one file of JSON lines; returns
    (lines, bytes). gzip objects may hold several members (libdeflate
    writes one per 1 MiB chunk); zstd objects go through the zstd CLI."""
    lines = size = 0
    with open(dest, "wb") as out:
        for fn in files:
            if engine == "zstd":
                p = subprocess.Popen(["zstd", "-d", "-c", "-q", fn],
                                     stdout=subprocess.PIPE)
                while True:
                    d = p.stdout.read(1 << 20)
                    if not d:
                        break
                    lines += d.count(b"\n")
                    size += len(d)
                    out.write(d)
                if p.wait() != 0:
                    raise SystemExit("%s: zstd -d failed" % fn)
                continue
            z, fed = zlib.decompressobj(31), False
            with open(fn, "rb") as f:
                while True:
                    c = f.read(1 << 20)
                    if not c:
                        break
                    while c:
                        d = z.decompress(c)
                        fed = True
                        lines += d.count(b"\n")
                        size += len(d)
                        out.write(d)
                        c = b""
                        if z.eof:
                            # the next member starts in unused_data
                            c = z.unused_data
                            z, fed = zlib.decompressobj(31), False
            if fed:
                raise SystemExit("%s: truncated gzip stream" % fn)
    return lines, size


def child_cpu(argv, stdin_path=None):
    """Run argv to completion; its CPU seconds (user+sys) and peak RSS."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdin=fin, stdout=subprocess.DEVNULL)
    _, st, ru = os.wait4(p.pid, 0)
    p.returncode = st
    if stdin_path:
        fin.close()
    if st != 0:
        raise SystemExit("%s failed: status %d" % (argv[0], st))
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024


ZLIB_FLOOR = r"""
import resource, sys, zlib
lvl, path = int(sys.argv[1]), sys.argv[2]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
f = open(path, "rb"); c0 = cpu()
while f.read(1 << 20): pass                 # the cost of reading alone
f.seek(0); c1 = cpu()
z = zlib.compressobj(lvl, zlib.DEFLATED, 31, 8)
n = 0
while True:
    b = f.read(1 << 20)
    if not b: break
    n += len(z.compress(b))
n += len(z.flush()); c2 = cpu()
print((c2 - c1) - (c1 - c0), n)
"""


def zlib_floor(level, path):
    """zlib (Python's, the library gzip(1) is built on) on path: (CPU
    seconds, compressed bytes)."""
    out = subprocess.run([sys.executable, "-c", ZLIB_FLOOR, str(level), path],
                         capture_output=True, text=True, check=True)
    t, n = out.stdout.split()
    return float(t), int(n)


def build_floor():
    """bench/floor.c, linked with the keeper's own compression module, as
    build/bench/bin/kk-floor: an engine's floor on the same lines."""
    objs = [os.path.join(BUILT, "obj", o) for o in (
        "worker/compress.o", "libcommon.a")]
    pkgs = subprocess.run(["pkg-config", "--cflags", "--libs", "libdeflate",
                           "libzstd", "libisal", "libcrypto", "json-c"],
                          capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-I",
                    os.path.join(ROOT, "common"), "-I",
                    os.path.join(ROOT, "worker"), "-o", FLOOR,
                    os.path.join(HERE, "floor.c")] + objs + pkgs + ["-lm"],
                   check=True)


def engine_floor(engine, level, path):
    """The keeper's compression module alone on path: (CPU seconds,
    compressed bytes)."""
    out = subprocess.run([FLOOR, engine, str(level), path],
                         capture_output=True, text=True, check=True)
    t, n = out.stdout.split()
    return float(t), int(n)


# -- rows ----------------------------------------------------------------------

def sizes(quick):
    if quick:
        return {"logs": 6, "metrics": 24, "boto_logs": 2, "boto_metrics": 4,
                "parent": 1, "profile_logs": 3, "profile_metrics": 12,
                "logs_mid": 3, "logs_slow": 1}
    # responses: logs1k ~10.5 MB each, metrics100 ~1.1 MB each; the slow
    # levels (gzip 12, zstd 19) on a sample, to keep the run short
    return {"logs": None, "metrics": None, "boto_logs": 10, "boto_metrics": 16,
            "parent": 1, "profile_logs": 12, "profile_metrics": 60,
            "logs_mid": 12, "logs_slow": 3}


def run_keeper_row(replay, row, dataset, responses, settings, level_floor,
                   results):
    stream = "s-" + row
    shard = "shardId-000000000000"
    replay.streams({stream: {"shards": [{"id": shard, "data": dataset,
                                         "responses": responses}]}})
    log("%s: keeper, %s%s, %s" % (row, dataset, " (%d responses)" % responses
                                  if responses else "", settings))
    busy0, rep0 = system_busy(), proc_runtime(replay.p.pid)
    conns0 = replay.state()["connections"]
    k = Keeper(replay, row, stream, settings)
    st = wait_for(drained(replay, stream, [shard]), 900, row + " to drain",
                  0.01)
    k.stop()
    busy1, rep1 = system_busy(), proc_runtime(replay.p.pid)
    if k.status != 0:
        raise SystemExit("%s: keeper exited with status %d; see %s" % (
            row, k.status, os.path.join(k.dir, "keeper.log")))
    st = replay.state()
    conns = st["connections"] - conns0
    sh = st["shards"]["%s/%s" % (stream, shard)]
    tm = st["times"]
    server = {"GetRecords": tm.get("kinesis GetRecords " + stream, [0, 0]),
              "S3": [sum(v[0] for kk, v in tm.items()
                         if kk.startswith("s3 ") and kk.endswith(" " + row)),
                     sum(v[1] for kk, v in tm.items()
                         if kk.startswith("s3 ") and kk.endswith(" " + row))]}
    b = st["buckets"].get(row, {})
    sns = st["sns"]["by_stream"].get(stream, {})
    w = max(k.mon.workers.values(), key=lambda x: x["hwm"]) \
        if k.mon.workers else {"hwm": 0, "start": None}
    # sampled VmHWM only: wait4's ru_maxrss also counts the memory of this
    # Python process, which the supervisor was forked from
    worker_hwm = w["hwm"]
    r = {"row": row, "kind": "keeper", "dataset": dataset,
         "records": sh["records"], "bytes": sh["bytes"], "cpu": k.cpu(),
         "utime": k.rusage.ru_utime, "stime": k.rusage.ru_stime,
         "sup_hwm": k.mon.sup_hwm, "worker_hwm": worker_hwm,
         "worker_hwm_sampled": w["hwm"],
         "wait4_maxrss": k.rusage.ru_maxrss * 1024,
         "objects": b.get("objects", 0), "stored": b.get("bytes", 0),
         "max_object": b.get("max_object", 0),
         "max_response": sh.get("max_response", 0),
         "multipart": b.get("multipart", 0), "bad_digest": b.get("bad_digest", 0),
         "no_md5": b.get("no_md5", 0), "bad_sha256": b.get("bad_sha256", 0),
         "sns_records": sns.get("records", 0), "calls": sh["calls"],
         "t_first_get": sh["first_get_records"] - k.t0,
         "t_worker_exec_to_get": (sh["first_get_records"] - w["start"])
         if w["start"] else None,
         "wall_archive": b["last_put_done"] - sh["first_get_records"],
         "wall_read": sh["end_served"] - sh["first_get_records"],
         "engine": settings.get("format.compression", "gzip"),
         "level": settings.get("format.level", 1 if settings.get(
             "format.compression") == "zstd" else 6),
         "sup_cpu": k.sup_cpu, "replay_cpu": rep1 - rep0,
         "wall_total": k.t_exit - k.t0,
         "worker_rss_at_peak": w.get("at_peak"),
         "worker_sched": w.get("sched"), "server": server,
         "connections": conns,
         "worker_rss_end": w.get("rss_end", 0),
         "sup_rss_kinds": k.sup_rss_kinds}
    # what everybody else on the machine used meanwhile (other engineers'
    # tests, fuzzers...): busy CPU minus the keeper and the replay server
    r["others_cores"] = max(0.0, (busy1 - busy0) - r["cpu"] - r["replay_cpu"]
                            ) / r["wall_total"]
    r["worker_util"] = (r["cpu"] - r["sup_cpu"]) / r["wall_total"]
    r["mb_per_cpu_s"] = r["bytes"] / 1e6 / (r["cpu"] - r["sup_cpu"])
    r["mbps"] = r["bytes"] / 1e6 / r["wall_archive"]
    r["rps"] = r["records"] / r["wall_archive"]
    # the floor on the exact lines it stored
    lines_path = os.path.join(OUT, "run", row, "lines.jsonl")
    lines, lbytes = unpack(stored_objects(replay, row), lines_path,
                           r["engine"])
    r["lines"], r["line_bytes"] = lines, lbytes
    # the floors, on the lines it stored: gzip(1) and zlib at level_floor
    # (6: the floor every engine is measured against), and the row's own
    # engine and level alone (bench/floor.c)
    fl, _ = child_cpu(["gzip", "-%d" % level_floor, "-c"], lines_path)
    r["floor_gzip"] = fl
    r["floor_level"] = level_floor
    r["floor_zlib"], r["floor_zlib_bytes"] = zlib_floor(level_floor,
                                                        lines_path)
    r["floor_engine"], r["floor_engine_bytes"] = engine_floor(
        r["engine"], r["level"], lines_path)
    r["ratio"] = lbytes / max(r["stored"], 1)
    r["floor_ratio"] = lbytes / max(r["floor_zlib_bytes"], 1)
    os.unlink(lines_path)
    if lines != r["records"] or r["sns_records"] != r["records"]:
        r["odd"] = "records served %d, lines stored %d, notified %d" % (
            r["records"], lines, r["sns_records"])
    results[row] = r
    log("  %d records, %.0f MB, %.2f CPU-s (%.2f CPU-s/GB), floor gzip "
        "%.2f CPU-s/GB, %.1f MB/s" % (r["records"], r["bytes"] / 1e6, r["cpu"],
                                      r["cpu"] / r["bytes"] * 1e9,
                                      fl / r["bytes"] * 1e9, r["mbps"]))
    return r


def run_boto3_row(replay, row, dataset, responses, results):
    stream = "s-" + row
    replay.streams({stream: {"shards": [{"id": "shardId-000000000000",
                                         "data": dataset,
                                         "responses": responses}]}})
    subprocess.run(["rm", "-rf", os.path.join(replay.store, row)], check=True)
    log("%s: boto3 archiver, %s (%d responses)" % (row, dataset, responses))
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "boto3_archiver.py"),
                          "--endpoint", replay.url, "--stream", stream,
                          "--bucket", row, "--level", "6", "--topic", TOPIC],
                         stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, st, ru = os.wait4(p.pid, 0)
    p.returncode = st
    if st != 0:
        raise SystemExit("%s: boto3 archiver failed" % row)
    rep = json.loads(out.strip().splitlines()[-1])
    r = {"row": row, "kind": "boto3", "dataset": dataset,
         "records": rep["records"], "bytes": rep["bytes"],
         "cpu": rep["cpu_loop"], "cpu_process": ru.ru_utime + ru.ru_stime,
         "peak_rss": ru.ru_maxrss * 1024, "objects": rep["objects"],
         "stored": rep["stored"], "wall_archive": rep["wall_loop"],
         "level": 6}
    r["mbps"] = r["bytes"] / 1e6 / r["wall_archive"]
    r["rps"] = r["records"] / r["wall_archive"]
    results[row] = r
    log("  %d records, %.0f MB, %.2f CPU-s in the loop (%.1f CPU-s/GB), "
        "%.2f CPU-s whole process" % (r["records"], r["bytes"] / 1e6, r["cpu"],
                                      r["cpu"] / r["bytes"] * 1e9,
                                      r["cpu_process"]))
    return r


def bare_worker_pss():
    """PSS of a worker that has been exec'd (libraries mapped) but has not
    yet got its configuration, so has not initialised curl or OpenSSL: it
    waits in receive_config() for the supervisor. And of `sleep`, the
    smallest process there is."""
    a, b = socket.socketpair()
    p = subprocess.Popen([WORKER, "-d", "-s", "shardId-bare", "-g", "1",
                          "/dev/null"], pass_fds=(3,),
                         preexec_fn=lambda: os.dup2(b.fileno(), 3),
                         stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    bare = smaps_rollup(p.pid)
    bare_kinds = smaps_breakdown(p.pid)
    bare_pte = (proc_status(p.pid) or {}).get("VmPTE", 0)
    p.kill()
    p.wait()
    a.close()
    b.close()
    s = subprocess.Popen(["sleep", "30"])
    time.sleep(0.3)
    sl = smaps_rollup(s.pid)
    s.kill()
    s.wait()
    return bare, bare_kinds, bare_pte, sl


def ctxt_switches(pid):
    """Voluntary + involuntary context switches of a process so far: each
    sleep that ends is one wake-up."""
    n = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches",
                                    "nonvoluntary_ctxt_switches")):
                    n += int(line.split()[1])
    except OSError:
        return None
    return n


STRACE_LINE = re.compile(r"^(?:\d+\s+)?([a-z_0-9]+)\((.*)$")


def strace_calls(pid, seconds, tag):
    """Every system call of one worker for a while (strace -f): (GetRecords
    calls, {syscall: count}). A call is a request sent: a send whose
    buffer starts with "POST "."""
    if subprocess.run(["which", "strace"], capture_output=True).returncode:
        return None
    out = os.path.join(OUT, "run", tag + ".strace")
    p = subprocess.Popen(["strace", "-f", "-qq", "-s", "8", "-o", out, "-p",
                          str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    p.wait()
    counts, posts = {}, 0
    with open(out) as f:
        for line in f:
            if "resumed>" in line:
                continue
            m = STRACE_LINE.match(line)
            if not m:
                continue
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
            if m.group(1) in ("sendto", "write", "writev", "sendmsg") and \
                    m.group(2).lstrip("0123456789, ").startswith('"POST '):
                posts += 1
    os.unlink(out)
    return posts, counts


def run_idle(replay, nshards, seconds, results, profile=False, kin=None):
    """nshards idle shards on the replay server, or on kinesalite (kin)
    with S3 and SNS still on the replay server."""
    row = "idle%d" % nshards + ("-kinesalite" if kin else "")
    stream = "s-" + row
    shards = ["shardId-%012d" % i for i in range(nshards)]
    settings = {"read.calls_per_second": None, "read.bytes_per_second": None,
                "read.interval": None}
    if kin:
        kin.create_stream(stream, nshards)
        settings["endpoints.kinesis"] = kin.url
    else:
        replay.streams({stream: {"shards": [{"id": s} for s in shards]}})
    log("%s: keeper following %d idle shards on %s (defaults: read.interval "
        "1s, 5 calls/s)" % (row, nshards, "kinesalite" if kin else
                            "the replay server"))
    k = Keeper(replay, row, stream, settings, interval=1.0)
    k.mon.detail = False

    def all_started():
        st = replay.state()["shards"]
        got = [st.get("%s/%s" % (stream, s), {}).get("first_get_records")
               for s in shards]
        return all(got) and got

    def calls():
        if kin:
            return kin.counts().get("GetRecords", 0)
        return sum(v["calls"] for n, v in replay.state()["shards"].items()
                   if n.startswith(stream + "/"))
    if kin:
        # kinesalite's iterators name no shard: every worker has asked for
        # its iterator, and a second later all of them read
        wait_for(lambda: kin.counts().get("GetShardIterator", 0) >= nshards,
                 60 + nshards, "%d workers to start" % nshards, 0.05)
        firsts, exec_to_get = None, None
        time.sleep(1)
    else:
        firsts = wait_for(all_started, 60 + nshards, "%d workers to start" %
                          nshards, 0.05)
        k.mon.sample()
        wstarts = {w["shard"]: w["start"] for w in k.mon.workers.values()}
        exec_to_get = sorted(f - wstarts[s] for s, f in zip(shards, firsts)
                             if wstarts.get(s) is not None)
    k.mon.stop = True           # nothing of ours runs during the window
    time.sleep(3)
    wpids = children(k.sup_pid)
    allpids = [k.sup_pid] + wpids
    calls0 = calls()
    s0 = proc_runtime(k.sup_pid)
    w0 = sum(proc_runtime(p) or 0 for p in wpids)
    cs0 = sum(ctxt_switches(p) or 0 for p in allpids)
    t0 = time.monotonic()
    time.sleep(seconds)
    s1 = proc_runtime(k.sup_pid)
    w1 = sum(proc_runtime(p) or 0 for p in wpids)
    cs1 = sum(ctxt_switches(p) or 0 for p in allpids)
    dt = time.monotonic() - t0
    calls1 = calls()
    pss = []
    kinds = {}
    ptes = []
    for p in wpids:
        r = smaps_rollup(p)
        if r:
            pss.append(r["Pss"])
        b = smaps_breakdown(p)
        for kk, v in (b or {}).items():
            kinds[kk] = kinds.get(kk, 0) + v
        ptes.append((proc_status(p) or {}).get("VmPTE", 0))
    kinds = {kk: v / len(wpids) for kk, v in kinds.items()}
    sup = smaps_rollup(k.sup_pid) or {}
    sup_st = proc_status(k.sup_pid) or {}
    worker_rss = [(proc_status(p) or {}).get("VmRSS", 0) for p in wpids]
    # one worker under strace, after the window (strace slows what it
    # traces): the system calls of its idle calls
    shard_pids = [p for p in wpids if (worker_shard(p) or "").startswith(
        "shardId-")]
    st = strace_calls(shard_pids[0], min(seconds, 10), row) \
        if shard_pids else None
    # beside the idle workers, so that shared pages split the same way
    bare, bare_kinds, bare_pte, sleep_pss = bare_worker_pss()
    prof = None
    if profile:
        prof = perf_attach(row, [k.sup_pid] + wpids, seconds)
    k.stop()
    cpu = (s1 - s0) + (w1 - w0)
    ncalls = calls1 - calls0
    r = {"row": row, "kind": "idle", "shards": nshards, "window": dt,
         "kinesis": "kinesalite" if kin else "replay",
         "cpu": cpu, "core_pct": cpu / dt * 100,
         "sup_pct": (s1 - s0) / dt * 100, "workers_pct": (w1 - w0) / dt * 100,
         "calls": ncalls, "ms_per_call": cpu * 1000 / max(ncalls, 1),
         "wakeups_per_call": (cs1 - cs0) / max(ncalls, 1),
         "strace_calls": st[0] if st else None,
         "syscalls": st[1] if st else None,
         "pss_median": statistics.median(pss), "pss_max": max(pss),
         "pss_mean": statistics.mean(pss), "rss_median":
         statistics.median(worker_rss), "pte_mean": statistics.mean(ptes),
         "kinds": kinds, "sup_pss": sup.get("Pss", 0),
         "sup_rss": sup_st.get("VmRSS", 0),
         "sup_hwm": max(k.mon.sup_hwm, sup_st.get("VmHWM", 0)),
         "sup_rss_kinds": k.sup_rss_kinds,
         "startup_first_get": sorted(f - k.t0 for f in firsts)
         if firsts else None,
         "startup_exec_to_get": exec_to_get,
         "bare_worker_pss": (bare or {}).get("Pss", 0),
         "bare_kinds": bare_kinds, "bare_pte": bare_pte,
         "sleep_pss": (sleep_pss or {}).get("Pss", 0), "profile": prof}
    if st and st[0]:
        r["syscalls_per_call"] = sum(st[1].values()) / st[0]
    results[row] = r
    log("  %.2f%% of a core over %.0f s (supervisor %.2f%%, workers %.2f%%; "
        "%d GetRecords, %.3f ms each, %.1f wake-ups each, %s system calls "
        "each), worker PSS median %.2f MiB, supervisor VmHWM %.1f MiB" % (
            r["core_pct"], dt, r["sup_pct"], r["workers_pct"], r["calls"],
            r["ms_per_call"], r["wakeups_per_call"],
            "%.1f" % r["syscalls_per_call"] if "syscalls_per_call" in r
            else "?", r["pss_median"] / MiB, r["sup_hwm"] / MiB))
    return r


def run_idle_floor(replay, nshards, seconds, results):
    """The floor under an idle call on this machine (bench/idlefloor.c):
    nshards bare socket clients, one per idle shard of the replay server,
    a call a second each, without curl, signing or parsing."""
    row = "idle%d-floor" % nshards
    stream = "s-" + row
    replay.streams({stream: {"shards": [{"id": "shardId-%012d" % i}
                                        for i in range(nshards)]}})
    prog = os.path.join(OUT, "bin", "kk-idlefloor")
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-o", prog,
                    os.path.join(HERE, "idlefloor.c")], check=True)
    log("%s: %d bare socket clients, one idle call a second each" % (
        row, nshards))
    procs = []
    for i in range(nshards):
        procs.append(subprocess.Popen(
            [prog, str(replay.port), stream, str(i), "1000", str(seconds)],
            stdout=subprocess.PIPE, text=True))
        time.sleep(1.0 / nshards)      # spread over the second, as workers
    calls = cpu = 0
    for p in procs:
        out = p.communicate()[0].split()
        if p.returncode == 0 and len(out) == 2:
            calls += int(out[0])
            cpu += float(out[1])
    r = {"row": row, "kind": "idle-floor", "shards": nshards,
         "calls": calls, "cpu": cpu,
         "ms_per_call": cpu * 1000 / max(calls, 1)}
    results[row] = r
    log("  %d calls, %.3f ms of CPU each" % (calls, r["ms_per_call"]))
    return r


def run_idle_pair(replay, other, nshards, seconds, rounds, results):
    """Two builds at once: nshards idle shards each, on two streams of one
    replay server; every round, the CPU per GetRecords of each keeper (all
    its processes). DIR's programs are copied like ours."""
    import shutil
    row = "idle-pair"
    odir = os.path.join(OUT, "bin-against")
    os.makedirs(odir, exist_ok=True)
    for prog in ("kinesis-keeper", "kinesis-keeper-worker"):
        shutil.copy2(os.path.join(other, prog), os.path.join(odir, prog))
    bins = {"this": KEEPER, "against": os.path.join(odir, "kinesis-keeper")}
    keepers = {}
    for v in ("this", "against"):
        stream = "s-%s-%s" % (row, v)
        replay.streams({stream: {"shards": [
            {"id": "shardId-%012d" % i} for i in range(nshards)]}})
        k = Keeper(replay, "%s-%s" % (row, v), stream, {
            "read.calls_per_second": None,
            "read.bytes_per_second": None, "read.interval": None},
            interval=1.0, keeper=bins[v])
        k.mon.detail = False
        keepers[v] = k
    log("%s: this build and %s at once, %d idle shards each, %d rounds of "
        "%.0f s" % (row, other, nshards, rounds, seconds))

    def calls(v):
        pre = "s-%s-%s/" % (row, v)
        return sum(x["calls"] for n, x in replay.state()["shards"].items()
                   if n.startswith(pre))
    wait_for(lambda: all(calls(v) >= nshards for v in keepers),
             60 + nshards, "%d workers of each to start" % nshards, 0.1)
    for k in keepers.values():
        k.mon.stop = True
    time.sleep(3)
    pids = {v: [k.sup_pid] + children(k.sup_pid) for v, k in keepers.items()}
    per = {v: [] for v in keepers}
    for _ in range(rounds):
        c0 = {v: calls(v) for v in keepers}
        r0 = {v: sum(proc_runtime(p) or 0 for p in pids[v]) for v in keepers}
        time.sleep(seconds)
        for v in keepers:
            n = calls(v) - c0[v]
            cpu = sum(proc_runtime(p) or 0 for p in pids[v]) - r0[v]
            per[v].append(cpu * 1000 / max(n, 1))
        log("  round %d: this %.3f ms, against %.3f ms per call" % (
            len(per["this"]), per["this"][-1], per["against"][-1]))
    for k in keepers.values():
        k.stop()
    r = {"row": row, "kind": "idle-pair", "against": other,
         "shards": nshards, "seconds": seconds, "this": per["this"],
         "other": per["against"]}
    results[row] = r
    return r


def reshard_stages(path, parents, kids):
    """From the keeper's log (-d, millisecond timestamps): for each parent,
    the worker's "shard end reached", the supervisor's handling of that
    message, the reaping ("shard done") and the start of the child."""
    pat = re.compile(r"^(\S+)Z \S+ (worker )?(shardId-\d+): (.*)$")
    ev = {}
    with open(path) as f:
        for line in f:
            m = pat.match(line)
            if not m:
                continue
            t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
                            ) + float("0" + m.group(1)[19:])
            sh, msg, wk = m.group(3), m.group(4), bool(m.group(2))
            key = None
            if wk and msg.startswith("shard end reached"):
                key = "worker_end"
            elif not wk and msg == "shard end reached":
                key = "sup_msg"
            elif not wk and msg == "shard done":
                key = "sup_done"
            elif not wk and msg == "starting worker":
                key = "start"
            if key:
                ev.setdefault(sh, {}).setdefault(key, t)
    out = {"worker end -> worker reaped, shard done": [],
           "-> child started": []}
    for p, c in zip(parents, kids):
        e, ce = ev.get(p, {}), ev.get(c, {})
        if {"worker_end", "sup_done"} <= set(e) and "start" in ce:
            out["worker end -> worker reaped, shard done"].append(
                e["sup_done"] - e["worker_end"])
            out["-> child started"].append(ce["start"] - e["sup_done"])
    # the worker sends DONE just before it exits; the supervisor logs it
    # when it reads it (a message still unread when it reaps is lost)
    done_read = sum(1 for p in parents if "sup_msg" in ev.get(p, {}))
    out = {k: sorted(v) for k, v in out.items()}
    out["done_read"] = done_read
    out["worker_ends"] = sum(1 for p in parents if "worker_end" in ev.get(p, {}))
    return out



def run_reshard(replay, nshards, parent_responses, results):
    row = "reshard%d" % nshards
    stream = "s-" + row
    parents = ["shardId-%012d" % i for i in range(nshards)]
    kids = ["shardId-%012d" % (i + nshards) for i in range(nshards)]
    spec = [{"id": p, "data": "metrics100", "responses": parent_responses,
             "closed": True, "children": [c]} for p, c in zip(parents, kids)]
    spec += [{"id": c, "parent": p} for p, c in zip(parents, kids)]
    replay.streams({stream: {"shards": spec}})
    log("%s: %d parents with data that end, %d children (topology.refresh "
        "1s)" % (row, nshards, nshards))
    k = Keeper(replay, row, stream, {"topology.refresh": "1s",
                                     "read.interval": None}, interval=0.5)

    def kids_started():
        st = replay.state()["shards"]
        got = [st.get("%s/%s" % (stream, c), {}).get("first_get_records")
               for c in kids]
        return all(got) and st
    st = wait_for(kids_started, 300, "the children to start", 0.05)
    k.stop()
    ends = {p: st["%s/%s" % (stream, p)]["end_served"] for p in parents}
    firsts = {c: st["%s/%s" % (stream, c)]["first_get_records"] for c in kids}
    per_child = sorted(firsts[c] - ends[p] for p, c in zip(parents, kids))
    stages = reshard_stages(os.path.join(k.dir, "keeper.log"), parents, kids)
    r = {"row": row, "kind": "reshard", "shards": nshards,
         "last_parent_end": max(ends.values()) - k.t0,
         "first_parent_end": min(ends.values()) - k.t0,
         "last_child_first_get": max(firsts.values()) - k.t0,
         "reshard_s": max(firsts.values()) - max(ends.values()),
         "per_child": per_child, "status": k.status, "stages": stages}
    results[row] = r
    log("  last parent end -> last child's first GetRecords: %.2f s" %
        r["reshard_s"])
    return r


# -- profile -------------------------------------------------------------------

def perf_works():
    try:
        probe = os.path.join(OUT, "perf.probe")
        p = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o",
                            probe, "--", "true"], capture_output=True,
                           timeout=30)
        for f in (probe, probe + ".old"):
            if os.path.exists(f):
                os.unlink(f)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


ZLIB_SYMS = os.path.join(HERE, "libz-1.2.13.dfsg-1-amd64.syms")


def zlib_symbols():
    """(dso name, resolver) for the installed zlib when it is the build the
    table in ZLIB_SYMS describes; else None."""
    try:
        with open(ZLIB_SYMS) as f:
            rows = [l.split() for l in f if not l.startswith("#")]
    except OSError:
        return None
    meta = {r[0]: r[1] for r in rows if len(r) == 2}
    syms = sorted((int(a, 16), int(n, 16), name) for a, n, name in
                  (r for r in rows if len(r) == 3))
    lib = None
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"):
        p = os.path.join(d, "libz.so.1.2.13")
        if os.path.exists(p):
            lib = p
            break
    if lib is None:
        return None
    tmp = os.path.join(OUT, "libz.text")
    if subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", lib,
                       tmp], capture_output=True).returncode != 0:
        return None
    import hashlib
    with open(tmp, "rb") as f:
        ok = hashlib.sha256(f.read()).hexdigest() == meta.get("text_sha256")
    os.unlink(tmp)
    if not ok:
        return None

    def resolve(addr):
        for a, n, name in syms:
            if a <= addr < a + n:
                return name
        return None
    return resolve


def perf_table(data, keys):
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                          "--no-children", "--sort", keys],
                         capture_output=True, text=True)
    return rep.stdout.splitlines()


def perf_summary(data):
    """Per program (supervisor, worker): its share of all samples, by
    library, and its top functions (as shares of that program's samples)."""
    zsym = zlib_symbols()
    progs = {os.path.basename(KEEPER)[:15]: "supervisor",
             os.path.basename(WORKER)[:15]: "worker"}
    out = {p: {"share": 0.0, "dsos": {}, "syms": {}} for p in progs.values()}
    for line in perf_table(data, "comm,dso"):
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(\S+)\s*$", line)
        if m and m.group(2) in progs:
            o = out[progs[m.group(2)]]
            o["share"] += float(m.group(1))
            o["dsos"][m.group(3)] = float(m.group(1))
    for line in perf_table(data, "comm,dso,sym"):
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$",
                     line)
        if not m or m.group(2) not in progs:
            continue
        pct, dso, sym = float(m.group(1)), m.group(3), m.group(5)
        if dso.startswith("libz.") and sym.startswith("0x") and zsym:
            sym = zsym(int(sym, 16)) or sym
        if m.group(4) == "k":
            sym = "[k] " + sym
        o = out[progs[m.group(2)]]
        o["syms"][(dso, sym)] = o["syms"].get((dso, sym), 0) + pct
    for o in out.values():
        t = o["share"] or 100
        o["dsos"] = sorted(((p / t * 100, d) for d, p in o["dsos"].items()),
                           reverse=True)[:12]
        o["top"] = sorted(((p / t * 100, d, s) for (d, s), p in
                           o.pop("syms").items()), reverse=True)[:30]
    out["zlib_symbols"] = bool(zsym)
    return out


def perf_attach(row, pids, seconds):
    """Sample running processes for a while (the idle keeper)."""
    data = os.path.join(OUT, "run", row + ".perf.data")
    log("  perf record of the running keeper for %.0f s" % seconds)
    p = subprocess.run(["perf", "record", "-q", "-F", "1999", "-e",
                        "cpu-clock", "-o", data, "-p",
                        ",".join(str(x) for x in pids), "--", "sleep",
                        str(seconds)], capture_output=True)
    if p.returncode != 0:
        return None
    return perf_summary(data)


def run_profile(replay, row, dataset, responses, results, settings=None):
    stream = "s-" + row
    shard = "shardId-000000000000"
    replay.streams({stream: {"shards": [{"id": shard, "data": dataset,
                                         "responses": responses}]}})
    data = os.path.join(OUT, "run", row + ".perf.data")
    log("%s: perf record of the keeper, %s (%d responses)" % (
        row, dataset, responses))
    k = Keeper(replay, row, stream, settings or {}, wrap=[
        "perf", "record", "-q", "-F", "1999", "-e", "cpu-clock", "-o", data,
        "--"])
    wait_for(drained(replay, stream, [shard]), 600, row + " to drain", 0.02)
    k.stop()
    results[row] = {"row": row, "kind": "profile", "data": data,
                    "perf": perf_summary(data)}
    return results[row]


# -- report --------------------------------------------------------------------

def mib(n):
    return "%.1f MiB" % (n / MiB)


def kinds_str(k):
    return ", ".join("%s %.1f" % (n, v / MiB) for n, v in sorted(
        (k or {}).items(), key=lambda x: -x[1]) if v >= 0.05 * MiB)


def report(res, env):
    P = print
    P()
    P("kinesis-keeper benchmark (issue 8)  %s" % env["when"])
    P("commit %s%s, %s, %d cores, load average at start %s" % (
        env["commit"], " (+ uncommitted changes in common/ worker/ "
        "supervisor/)" if env["dirty"] else "", env["cpu"], env["ncpu"],
        env["load"]))
    P("programs: copies of build/kinesis-keeper{,-worker} %s" %
      env["programs"])
    P("GB/MB = 10^9/10^6 bytes of record data (decoded payloads); CPU = "
      "user+sys of all the keeper's processes; x floor = CPU/GB over the "
      "gzip floor's")
    P()
    hdr = "%-31s %9s %6s %7s %9s %7s %17s %6s" % (
        "row", "records", "MB", "CPU-s", "CPU-s/GB", "x floor",
        "peak RSS MiB", "MB/s")
    P(hdr)
    P("-" * len(hdr))

    def line(name, rec, mb, cpu, pergb, ratio, rss, mbps):
        P("%-31s %9s %6s %7s %9s %7s %17s %6s" % (
            name, rec, mb, cpu, pergb, ratio, rss, mbps))
    boto = {"logs1k-l6": "boto3-logs1k-l6",
            "metrics100-l6": "boto3-metrics100-l6"}
    groups = [(k, boto.get(k)) for k, r in res.items()
              if r.get("kind") == "keeper"]
    for krow, brow in groups:
        r = res.get(krow)
        if r is None:
            continue
        gb = r["bytes"] / 1e9
        flg = r["floor_gzip"] / gb
        line("keeper %s" % krow, r["records"], "%.0f" % (r["bytes"] / 1e6),
             "%.2f" % r["cpu"], "%.2f" % (r["cpu"] / gb),
             "%.2f" % (r["cpu"] / gb / flg),
             "sup %.1f, wk %.1f" % (r["sup_hwm"] / MiB, r["worker_hwm"] / MiB),
             "%.1f" % r["mbps"])
        line("  floor: gzip -%d, same lines" % r.get("floor_level", 6),
             r["lines"],
             "%.0f" % (r["bytes"] / 1e6), "%.2f" % r["floor_gzip"],
             "%.2f" % flg, "1.00", "", "")
        line("  zlib -%d (Python's zlib)" % r.get("floor_level", 6), "", "",
             "%.2f" % r["floor_zlib"], "%.2f" % (r["floor_zlib"] / gb),
             "%.2f" % (r["floor_zlib"] / gb / flg), "", "")
        b = res.get(brow) if brow else None
        if b:
            bgb = b["bytes"] / 1e9
            line("  boto3 archiver, gzip -6", b["records"], "%.0f" % (
                b["bytes"] / 1e6), "%.2f" % b["cpu"], "%.2f" % (b["cpu"] / bgb),
                "%.2f" % (b["cpu"] / bgb / flg), "%.1f" % (
                    b["peak_rss"] / MiB), "%.1f" % b["mbps"])
    P()
    P("engines and levels (issue 16): ratio = JSON lines / stored bytes; "
      "x zlib-6 = keeper CPU/GB over the gzip -6 floor on the same lines; "
      "engine floor = the keeper's compression module alone on them")
    hdr = "%-18s %-8s %6s %7s %9s %8s %12s %7s %11s" % (
        "row", "engine", "ratio", "zlib-6", "CPU-s/GB", "x zlib-6",
        "engine floor", "MB/s", "wk RSS MiB")
    P(hdr)
    P("-" * len(hdr))
    for k, r in res.items():
        if r.get("kind") != "keeper" or "floor_engine" not in r:
            continue
        gb = r["bytes"] / 1e9
        P("%-18s %-8s %6.2f %7.2f %9.2f %8.2f %12.2f %7.1f %11.1f" % (
            k, "%s %d" % (r["engine"], r["level"]), r["ratio"],
            r["floor_ratio"], r["cpu"] / gb, r["cpu"] / r["floor_gzip"],
            r["floor_engine"] / gb, r["mbps"], r["worker_hwm"] / MiB))
    P("floors, CPU-s/GB on the same lines: " + "; ".join(
        "%s gzip -6 %.2f, zlib -6 %.2f, %s %d %.2f" % (
            k, r["floor_gzip"] / (r["bytes"] / 1e9),
            r["floor_zlib"] / (r["bytes"] / 1e9), r["engine"], r["level"],
            r["floor_engine"] / (r["bytes"] / 1e9))
        for k, r in res.items()
        if r.get("kind") == "keeper" and "floor_engine" in r))
    P()
    for k, r in res.items():
        if r.get("kind") != "keeper":
            continue
        P("%s:" % k)
        P("  CPU: supervisor %.2f s, worker %.2f s (user %.2f, sys %.2f); "
          "the worker was on CPU %.0f%% of the run: %.0f MB of records per "
          "worker CPU-second; meanwhile other processes on this machine used "
          "%.2f cores and the replay server %.2f CPU-s" % (
              r["sup_cpu"], r["cpu"] - r["sup_cpu"], r["utime"], r["stime"],
              r["worker_util"] * 100, r["mb_per_cpu_s"], r["others_cores"],
              r["replay_cpu"]))
        sc = r.get("worker_sched")
        if sc:
            P("  the worker's %.1f s of life: %.1f s on CPU, %.1f s runnable "
              "but waiting for a CPU (other load), %.1f s blocked (network, "
              "replay server, disk)" % (
                  sc["life"], sc["cpu"], sc["runqueue"],
                  sc["life"] - sc["cpu"] - sc["runqueue"]))
            P("  the replay server spent %.1f s answering its %d GetRecords "
              "(sending included) and %.1f s on its %d S3 requests "
              "(receiving included)" % (
                  r["server"]["GetRecords"][1], r["server"]["GetRecords"][0],
                  r["server"]["S3"][1], r["server"]["S3"][0]))
        P("  %d objects (%d multipart), %.1f MB stored, lines/stored %.2f, "
          "%d GetRecords over %d TCP connections in all, %.0f records/s; "
          "Content-MD5 wrong %d, missing %d; SHA-256 wrong %d%s" % (
              r["objects"], r["multipart"], r["stored"] / 1e6,
              r["line_bytes"] / max(r["stored"], 1), r["calls"],
              r["connections"], r["rps"],
              r["bad_digest"], r["no_md5"], r["bad_sha256"],
              "; ODD: " + r["odd"] if r.get("odd") else ""))
        P("  worker RSS at its peak, MiB: %s; still %.1f MiB once idle at "
          "the end" % (kinds_str(r["worker_rss_at_peak"]),
                       r["worker_rss_end"] / MiB))
        P("  supervisor RSS, MiB: %s" % kinds_str(r["sup_rss_kinds"]))
    bs = [r for r in res.values() if r.get("kind") == "boto3"]
    if bs:
        P("boto3 archiver CPU is its archiving loop alone; the whole process "
          "(imports, clients) took " + ", ".join(
              "%.2f CPU-s (%s)" % (r["cpu_process"], r["row"]) for r in bs))

    P()
    P("against the targets (this machine, this run)")

    def tgt(what, value, goal):
        P("  %-62s %-20s target %s" % (what, value, goal))
    r = res.get("logs1k-l6")
    if r:
        tgt("keeper CPU/GB over the gzip -6 floor, 1 KiB records",
            "%.2fx" % (r["cpu"] / r["floor_gzip"]), "<= 1.3x")
        tgt("  (over zlib -6, the library it uses)",
            "%.2fx" % (r["cpu"] / r["floor_zlib"]), "")
    for row, what, goal in (
            ("logs1k-l6", "gzip 6 (libdeflate, the default)", "<= 0.7x"),
            ("logs1k-l1", "gzip 1 (ISA-L, the fast level)", "<= 0.3x"),
            ("logs1k-zstd1", "zstd 1 (the zstd default)", "<= 0.3x")):
        r = res.get(row)
        if r:
            tgt("%s CPU/GB over the zlib-6 floor" % what,
                "%.2fx" % (r["cpu"] / r["floor_gzip"]), goal)
            if goal != "<= 0.3x" or row.endswith("zstd1"):
                tgt("  ratio against zlib -6's on the same lines",
                    "%.2f vs %.2f" % (r["ratio"], r["floor_ratio"]),
                    ">= zlib -6's")
    r = res.get("metrics100-l6")
    if r:
        tgt("keeper CPU/GB over the gzip -6 floor, 100 B records",
            "%.2fx" % (r["cpu"] / r["floor_gzip"]), "<= 1.6x")
        tgt("  (over zlib -6, the library it uses)",
            "%.2fx" % (r["cpu"] / r["floor_zlib"]), "")
    for krow, brow in (("logs1k-l6", "boto3-logs1k-l6"),
                       ("metrics100-l6", "boto3-metrics100-l6")):
        if krow in res and brow in res:
            k, b = res[krow], res[brow]
            tgt("boto3 CPU/GB over keeper CPU/GB, %s" % krow, "%.1fx" % (
                (b["cpu"] / b["bytes"]) / (k["cpu"] / k["bytes"])), ">= 3x")
    ks = [r for r in res.values() if r.get("kind") == "keeper"]
    if ks:
        tgt("supervisor peak RSS (VmHWM), largest of the rows",
            mib(max(r["sup_hwm"] for r in ks)), "< 8 MiB")
        for r in ks:
            allow = 16 * MiB + r["max_object"] + r["max_response"]
            tgt("worker peak RSS, %s" % r["row"], mib(r["worker_hwm"]),
                "< %s (16 MiB + %.1f object + %.1f response)" % (
                    mib(allow), r["max_object"] / MiB,
                    r["max_response"] / MiB))
    r = res.get("logs1k-l1")
    if r:
        tgt("one worker, gzip -1, 1 KiB records, wall clock",
            "%.1f MB/s" % r["mbps"], ">= 50 MB/s")
        sc = r.get("worker_sched")
        if sc:
            tgt("  (without the time it waited for a CPU: on CPU + blocked)",
                "%.1f MB/s" % (r["bytes"] / 1e6 / (sc["life"] - sc["runqueue"])),
                "")
        tgt("  (per worker CPU-second: on CPU only)",
            "%.1f MB/s" % r["mb_per_cpu_s"], "")
    for r in res.values():
        if r.get("kind") != "idle":
            continue
        on_ = r.get("kinesis", "replay")
        tgt("%d idle shards (%s), CPU over %.0f s" % (
            r["shards"], on_, r["window"]),
            "%.2f%% of a core" % r["core_pct"], "< 2%" if r["shards"] == 100
            else "")
        tgt("  CPU per idle GetRecords, all included",
            "%.3f ms" % (r["cpu"] * 1000 / max(r["calls"], 1)), "< 0.2 ms")
        if r.get("syscalls_per_call") is not None:
            tgt("  system calls per call (one worker)",
                "%.1f" % r["syscalls_per_call"], "")
        if r.get("wakeups_per_call") is not None:
            tgt("  wake-ups per call (all processes)",
                "%.2f" % r["wakeups_per_call"], "")
        fl = res.get("idle%d-floor" % r["shards"])
        if fl and r.get("kinesis", "replay") == "replay":
            tgt("  the floor: a bare socket client (idlefloor.c)",
                "%.3f ms" % fl["ms_per_call"], "")
        tgt("  idle worker PSS (median of %d)" % r["shards"],
            mib(r["pss_median"]), "< 4 MiB")
        tgt("  supervisor peak RSS (VmHWM)", mib(r["sup_hwm"]), "< 8 MiB")

    for r in res.values():
        if r.get("kind") != "idle-pair":
            continue
        a, b = r["this"], r["other"]
        P()
        P("this build and %s at once, %d idle shards each, %d rounds of "
          "%.0f s: ms of CPU per idle GetRecords, all included" % (
              r["against"], r["shards"], len(a), r["seconds"]))
        P("  this     %s  (mean %.3f)" % (
            " ".join("%.3f" % x for x in a), sum(a) / max(len(a), 1)))
        P("  against  %s  (mean %.3f)" % (
            " ".join("%.3f" % x for x in b), sum(b) / max(len(b), 1)))
        P("  this / against, each round: %s" % " ".join(
            "%.2f" % (x / y) if y else "-" for x, y in zip(a, b)))
    for r in res.values():
        if r.get("kind") != "idle":
            continue
        P()
        P("%d idle shards on %s: %d GetRecords in %.0f s; CPU: supervisor "
          "%.2f%%, workers and helpers %.2f%% of a core (%.3f ms per "
          "GetRecords, all included)" % (
              r["shards"], r.get("kinesis", "replay"), r["calls"],
              r["window"], r["sup_pct"], r["workers_pct"],
              r["cpu"] * 1000 / max(r["calls"], 1)))
        if r.get("syscalls"):
            n = max(r["strace_calls"], 1)
            P("  system calls per GetRecords (strace of one worker, %d "
              "calls): %s" % (r["strace_calls"], ", ".join(
                  "%s %.1f" % (c, v / n) for c, v in sorted(
                      r["syscalls"].items(), key=lambda x: -x[1]))))
        P("  supervisor PSS %s, RSS %s (peak %s); RSS MiB: %s" % (
            mib(r["sup_pss"]), mib(r["sup_rss"]), mib(r["sup_hwm"]),
            kinds_str(r["sup_rss_kinds"])))
        P("  worker PSS median %s, mean %s, max %s (RSS median %s, page "
          "tables %.0f KiB not in PSS)" % (
              mib(r["pss_median"]), mib(r["pss_mean"]), mib(r["pss_max"]),
              mib(r["rss_median"]), r["pte_mean"] / 1024))
        P("  500 shards would take %.2f GiB of PSS (+ %.0f MiB page tables)" %
          (500 * r["pss_mean"] / 1024 ** 3, 500 * r["pte_mean"] / MiB))
        P("  %-28s %12s %16s" % ("PSS per worker", "idle worker",
                                 "exec'd, no curl"))
        for kk in sorted(set(r["kinds"]) | set(r["bare_kinds"] or {}),
                         key=lambda x: -r["kinds"].get(x, 0)):
            P("  %-28s %8.0f KiB %12.0f KiB" % (
                kk, r["kinds"].get(kk, 0) / 1024,
                (r["bare_kinds"] or {}).get(kk, 0) / 1024))
        P("  %-28s %8.0f KiB %12.0f KiB" % (
            "total", r["pss_mean"] / 1024, r["bare_worker_pss"] / 1024))
        P("  one process for comparison: `sleep` %.0f KiB PSS; the worker "
          "before it initialises curl/OpenSSL (waiting for its "
          "configuration) %.0f KiB" % (r["sleep_pss"] / 1024,
                                       r["bare_worker_pss"] / 1024))
        s = r["startup_first_get"]
        e = r["startup_exec_to_get"]
        if not s:
            continue
        P("start-up, %d workers at once: keeper start -> first GetRecords "
          "min %.2f / median %.2f / max %.2f s; worker exec -> its first "
          "GetRecords median %.2f / max %.2f s" % (
              r["shards"], s[0], statistics.median(s), s[-1],
              statistics.median(e) if e else -1, e[-1] if e else -1))
    for k, rr in res.items():
        if rr.get("kind") == "keeper":
            P("start-up, one worker (%s): keeper start -> first GetRecords "
              "%.3f s" % (k, rr["t_first_get"]))
            break
    r = res.get("reshard100")
    if r:
        pc = r["per_child"]
        P("reshard of %d shards: parents ended between %.2f and %.2f s after "
          "start; last parent end -> last child's first GetRecords %.2f s "
          "(each child after its own parent: median %.2f, max %.2f s)" % (
              r["shards"], r["first_parent_end"], r["last_parent_end"],
              r["reshard_s"], statistics.median(pc), pc[-1]))
        st = r["stages"]
        P("  from the keeper's log, per parent (median / max): " + "; ".join(
            "%s %.2f / %.2f s" % (k, statistics.median(v), v[-1])
            for k, v in st.items() if isinstance(v, list) and v))
        P("  DONE messages the supervisor read (\"<shard>: shard end "
          "reached\"): %d of %d parents that sent one" % (
              st["done_read"], st["worker_ends"]))
    for k, rr in res.items():
        if rr.get("kind") == "profile":
            print_profile("profile of the keeper, %s (perf, cpu-clock samples)"
                          % k, rr["perf"], ["worker"])
        elif rr.get("kind") == "idle" and rr.get("profile"):
            print_profile("profile of the idle keeper, %d shards, %.0f s "
                          "(perf, cpu-clock samples)" % (rr["shards"],
                                                         rr["window"]),
                          rr["profile"], ["worker", "supervisor"])


def print_profile(title, perf, progs):
    print()
    print(title)
    print("  zlib's static functions %s" % (
        "named from bench/libz-*.syms" if perf["zlib_symbols"]
        else "left as addresses"))
    for prog in progs:
        o = perf[prog]
        print("  %s: %.1f%% of all samples; by library: %s" % (
            prog, o["share"], ", ".join("%s %.1f%%" % (d, p)
                                        for p, d in o["dsos"][:7])))
        for p, d, s in o["top"][:22 if prog == "worker" else 12]:
            print("    %6.2f%%  %-24s %s" % (p, d, s))


def environment():
    def sh(*a):
        try:
            return subprocess.run(a, capture_output=True, text=True,
                                  cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"commit": sh("git", "rev-parse", "--short", "HEAD"),
            "dirty": bool(sh("git", "status", "--porcelain", "--",
                             "common", "worker", "supervisor")),
            "cpu": cpu, "ncpu": os.cpu_count(),
            "load": " ".join(open("/proc/loadavg").read().split()[:3]),
            "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def snapshot_programs(built=BUILT):
    import hashlib
    import shutil
    os.makedirs(os.path.dirname(KEEPER), exist_ok=True)
    sums = []
    for p in (KEEPER, WORKER):
        src = os.path.join(built, os.path.basename(p))
        if not os.access(src, os.X_OK):
            raise SystemExit("%s is missing: run make first" % src)
        shutil.copy2(src, p + ".tmp")
        os.replace(p + ".tmp", p)
        with open(p, "rb") as f:
            sums.append(hashlib.sha256(f.read()).hexdigest()[:12])
    return "built %s, sha256 %s" % (time.strftime(
        "%H:%M:%S", time.localtime(os.path.getmtime(KEEPER))), "/".join(sums))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--idle-seconds", type=float, default=20)
    # another build's programs (DIR/kinesis-keeper{,-worker}), to compare
    # two versions on the same machine at the same time of day
    ap.add_argument("--programs", default=BUILT)
    # another build run beside this one at the same time (row idle-pair)
    ap.add_argument("--against")
    ap.add_argument("--pair-rounds", type=int, default=6)
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    env = environment()
    env["programs"] = snapshot_programs(a.programs)
    build_floor()
    sz = sizes(a.quick)
    want = set(a.rows.split(",")) if a.rows else None

    def on(name):
        # idle500 (500 processes, and a replay server at 500 calls/s on
        # the same cores) and the zstd profile only when asked for
        return name in want if want else name not in (
            "idle500", "profile-logs1k-zstd1")
    ddir = os.path.join(OUT, "data")
    missing = [d for d in datagen.DATASETS if datagen.load_index(ddir, d) is None]
    if missing:
        # once, then cached: one process per dataset (about a minute)
        log("generating %s under %s" % (", ".join(missing), ddir))
        procs = [subprocess.Popen([sys.executable, os.path.join(
            HERE, "datagen.py"), ddir, d], stderr=subprocess.DEVNULL)
            for d in missing]
        for p in procs:
            p.wait()
        for d in missing:
            if datagen.load_index(ddir, d) is None:
                raise SystemExit("could not generate dataset %s" % d)
    replay = Replay()
    res = {}
    try:
        if on("logs1k-l6"):
            run_keeper_row(replay, "logs1k-l6", "logs1k", sz["logs"], {}, 6, res)
        if on("logs1k-l1"):
            run_keeper_row(replay, "logs1k-l1", "logs1k", sz["logs"], {
                "format.level": 1, "s3.multipart_threshold": "8M",
                "s3.part_size": "5M"}, 6, res)
        # a row per engine and level (issue 16); every floor at zlib -6
        for row, n, st in (
                ("logs1k-l12", sz["logs_slow"], {"format.level": 12}),
                ("logs1k-zstd1", sz["logs"], {"format.compression": "zstd"}),
                ("logs1k-zstd3", sz["logs_mid"], {
                    "format.compression": "zstd", "format.level": 3}),
                ("logs1k-zstd19", sz["logs_slow"], {
                    "format.compression": "zstd", "format.level": 19})):
            if on(row):
                run_keeper_row(replay, row, "logs1k", n, st, 6, res)
        if on("metrics100-l6"):
            run_keeper_row(replay, "metrics100-l6", "metrics100",
                           sz["metrics"], {}, 6, res)
        if on("metrics100-zstd1"):
            run_keeper_row(replay, "metrics100-zstd1", "metrics100",
                           sz["metrics"], {"format.compression": "zstd"}, 6,
                           res)
        if on("boto3-logs1k-l6"):
            run_boto3_row(replay, "boto3-logs1k-l6", "logs1k", sz["boto_logs"],
                          res)
        if on("boto3-metrics100-l6"):
            run_boto3_row(replay, "boto3-metrics100-l6", "metrics100",
                          sz["boto_metrics"], res)
        if on("idle100"):
            run_idle(replay, 100, a.idle_seconds if not a.quick else 5, res,
                     profile=not a.no_profile and perf_works())
        if a.against and (not want or "idle-pair" in want):
            run_idle_pair(replay, a.against, 50, a.idle_seconds if not
                          a.quick else 5, a.pair_rounds if not a.quick
                          else 2, res)
        if on("idle100-floor"):
            run_idle_floor(replay, 100, a.idle_seconds if not a.quick else 5,
                           res)
        if on("idle100-kinesalite"):
            try:
                kin = Kinesalite()
            except OSError as e:
                kin = None
                log("idle100-kinesalite: skipped: %s" % e)
            if kin:
                try:
                    run_idle(replay, 100, a.idle_seconds if not a.quick
                             else 5, res, kin=kin,
                             profile=not a.no_profile and perf_works())
                finally:
                    kin.close()
        if on("idle500"):
            run_idle(replay, 500, a.idle_seconds if not a.quick else 5, res)
        if on("reshard100"):
            run_reshard(replay, 100, sz["parent"], res)
        if not a.no_profile and (on("profile-logs1k") or
                                 on("profile-metrics100") or
                                 on("profile-logs1k-zstd1")):
            if perf_works():
                if on("profile-logs1k"):
                    run_profile(replay, "profile-logs1k", "logs1k",
                                sz["profile_logs"], res)
                if on("profile-metrics100"):
                    run_profile(replay, "profile-metrics100", "metrics100",
                                sz["profile_metrics"], res)
                if on("profile-logs1k-zstd1"):
                    run_profile(replay, "profile-logs1k-zstd1", "logs1k",
                                sz["profile_logs"], res,
                                {"format.compression": "zstd"})
            else:
                log("perf cannot sample here: no profile (try valgrind "
                    "--tool=callgrind on a small run)")
    finally:
        replay.close()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"env": env, "results": res}, f, indent=1)
    report(res, env)
    print("\n(raw numbers: %s)" % os.path.relpath(
        os.path.join(OUT, "results.json"), ROOT))


if __name__ == "__main__":
    main()
