#!/usr/bin/env python3
"""
fake_worker.py: a stand-in for kinesis-keeper-worker (run through
KINESIS_KEEPER_WORKER) that misbehaves on purpose, to test the supervisor.

Command line as the real worker: [-d] [-v...] [-D k=v]... -s SHARD -g GEN
CONFIG; fd 3 is the supervisor's socket (16-byte header {type, len, gen,
pad}, native byte order). The behaviour comes from $KK_FAKE_DIR/SHARD.mode:
whitespace-separated modes, the n-th start uses the n-th one (the last one
repeats). Every start and event is appended to $KK_FAKE_DIR/SHARD.events as
"EPOCH-SECONDS PID EVENT [details]".

Modes:
  good        HELLO, read CONFIG, wait for SIGTERM, exit 0
  crash       HELLO, exit 1 at once
  exit78      HELLO, exit 78 (configuration error: must not be respawned)
  garbage     HELLO, then 64 bytes that are no valid message
  badtype     HELLO, then a well-formed header of unknown type 9
  flushfirst  a FLUSH (correct generation) before any HELLO
  wrongshard  HELLO naming another shard
  stale       HELLO, then a STATS message of another generation (to be
              dropped, not punished), then as good
  huge        HELLO, then a header announcing a 2 GiB payload (no payload)
  hellotwice  HELLO, CONFIG read, HELLO again
  badlen      HELLO, then a STATS message of 10 bytes instead of 64
  silent      no HELLO at all, otherwise as good
  ignoreterm  HELLO, ignore SIGTERM, never exit on its own (a bounded 120 s)
  crashafter:N  as good, but exit 1 after N seconds
  slowhello   HELLO only after 1 s, then as good (a stop or reload may come
              while it is STARTING)
  bigflush    HELLO, then a FLUSH claiming 2^64-1 records, bytes and
              milliseconds, then as good
A parent death is noticed with PR_SET_PDEATHSIG (SIGUSR1): logged as
"orphaned" and the process exits, so nothing outlives the test.
"""

import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

HELLO, CONFIG, FLUSH, STATS, DONE = 1, 2, 3, 4, 5
SUP_FD = 3

state = {"events": None, "term": False}


def event(what):
    line = "%.3f %d %s\n" % (time.time(), os.getpid(), what)
    if state["events"]:
        fd = os.open(state["events"], os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                     0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def send(sock, mtype, gen, payload=b""):
    sock.sendall(struct.pack("=IIII", mtype, len(payload), gen, 0) + payload)


def hello(sock, gen, shard):
    send(sock, HELLO, gen, struct.pack("=i132s", os.getpid(),
                                       shard.encode()[:131]))


def read_config(sock, gen, timeout=5):
    """Read the CONFIG message; log its generation and length."""
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(buf) >= 16:
            t, n, g, _ = struct.unpack("=IIII", buf[:16])
            if len(buf) >= 16 + n:
                text = buf[16:16 + n]
                event("config type=%d gen=%d len=%d stream=%s" % (
                    t, g, n, "yes" if b"stream" in text else "no"))
                return True
        r, _, _ = select.select([sock], [], [], 0.2)
        if r:
            chunk = sock.recv(65536)
            if not chunk:
                event("eof")
                return False
            buf += chunk
    event("no-config")
    return False


def wait_term(sock, limit=120):
    """Until SIGTERM (exit 0) or limit (returns); an EOF on the channel is
    logged (the supervisor that closes it is expected to signal us)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if state["term"]:
            event("term")
            event("exit 0")
            sys.exit(0)
        if sock is None:
            time.sleep(0.05)
            continue
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                event("eof")
                sock = None
    event("limit")


def main():
    args = sys.argv[1:]
    shard = gen = None
    overrides, flags = [], []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-d", "-v"):
            flags.append(a)
        elif a in ("-D", "-s", "-g") and i + 1 < len(args):
            if a == "-D":
                overrides.append(args[i + 1])
            elif a == "-s":
                shard = args[i + 1]
            else:
                gen = int(args[i + 1])
            i += 1
        else:
            break
        i += 1
    rest = args[i:]
    d = os.environ.get("KK_FAKE_DIR")
    if not d or shard is None or gen is None or len(rest) != 1:
        sys.stderr.write("fake_worker: bad usage %r\n" % (args,))
        sys.exit(64)
    state["events"] = os.path.join(d, shard + ".events")

    def on_usr1(*_):
        event("orphaned")
        os._exit(0)

    signal.signal(signal.SIGUSR1, on_usr1)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGUSR1), 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    try:
        with open(os.path.join(d, shard + ".mode")) as f:
            modes = f.read().split() or ["good"]
    except OSError:
        modes = ["good"]
    n = 0
    try:
        with open(state["events"]) as f:
            n = sum(1 for ln in f if ln.split()[2:3] == ["start"])
    except OSError:
        pass
    mode = modes[min(n, len(modes) - 1)]
    event("start gen=%d mode=%s flags=%s overrides=%s config=%s"
          % (gen, mode, "".join(flags) or "-", ",".join(overrides) or "-",
             rest[0]))

    if mode == "ignoreterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        def on_term(*_):
            state["term"] = True
        signal.signal(signal.SIGTERM, on_term)
    try:
        sock = socket.socket(fileno=SUP_FD)
    except OSError as e:
        event("no-channel %s" % e)
        sys.exit(1)

    if mode == "flushfirst":
        send(sock, FLUSH, gen, struct.pack("=4Q256s", 1, 1, 1, 1,
                                           b"0.json"))
        wait_term(sock, 30)
        sys.exit(3)
    if mode == "wrongshard":
        hello(sock, gen, "shardId-999999999999")
        wait_term(sock, 30)
        sys.exit(3)
    if mode == "slowhello":
        time.sleep(1)
        event("hello")
    if mode != "silent":
        hello(sock, gen, shard)
    if mode == "crash":
        event("exit 1")
        sys.exit(1)
    if mode == "exit78":
        event("exit 78")
        sys.exit(78)
    read_config(sock, gen)
    if mode == "garbage":
        sock.sendall(b"\xde\xad\xbe\xef" * 16)
    elif mode == "badtype":
        send(sock, 9, gen, b"")
    elif mode == "huge":
        sock.sendall(struct.pack("=IIII", STATS, 0x7fffffff, gen, 0))
    elif mode == "hellotwice":
        hello(sock, gen, shard)
    elif mode == "badlen":
        send(sock, STATS, gen, b"0123456789")
    elif mode == "bigflush":
        big = 2 ** 64 - 1
        send(sock, FLUSH, gen, struct.pack("=4Q256s", big, big, big, big,
                                           b"0.json"))
    elif mode == "stale":
        send(sock, STATS, gen + 1000, struct.pack("=8Q", *range(8)))
    elif mode.startswith("crashafter:"):
        wait_term(sock, float(mode.split(":", 1)[1]))
        event("exit 1")
        sys.exit(1)
    elif mode == "ignoreterm":
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
        event("limit")
        sys.exit(3)
    wait_term(sock)
    sys.exit(3)


if __name__ == "__main__":
    main()
