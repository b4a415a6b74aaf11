#!/usr/bin/env python3
"""
test_startup.py: what an operator meets first. The keeper is started before
its stream exists: it says so, waits without crashing, and archives once the
stream appears. A configuration error found at start is reported with file
and line and exit 78, before anything runs. A state_dir that another user
could have tampered with (issue 12 item 1) is refused, and a symlink planted
there is never followed.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok  # noqa: E402

STREAM = "late-stream"
BUCKET = "kk-startup"


def scenario():
    with kk.Moto() as moto:
        moto.create_bucket(BUCKET)
        with kk.Keeper(moto, STREAM, BUCKET, overrides={
                "batch.max_age": "1s", "read.interval": "200ms",
                "topology.refresh": "1s"}) as k:
            k.start()
            waited = kk.wait_until(
                lambda: "does not exist" in k.log(), 20, 0.2)
            ok(waited, "a missing stream is reported (\"does not exist "
               "(yet); waiting\")", *k.tail(10))
            ok(k.running(), "the keeper keeps running while it waits")

            moto.create_stream(STREAM, 2)
            put = moto.put_records(STREAM, [("pk-%d" % i, b'{"n":%d}' % i)
                                            for i in range(60)])
            cache = {}
            done = kk.wait_until(
                lambda: kk.archived_records(moto, BUCKET, cache) >= len(put),
                60, 0.5)
            ok(done, "once the stream exists, its records are archived "
               "(%d put)" % len(put))
            code = k.stop()
            ok(code == 0, "SIGTERM: exit 0 (got %s)" % code)
            objs = moto.fetch_objects(BUCKET)
            kk.check_objects(objs, STREAM, "")
            kk.assert_exactly_once(put, objs)

        # a bad configuration: every error, file:line, 78, nothing started
        with kk.Keeper(moto, STREAM, BUCKET, overrides={
                "batch.max_age": "soon", "format.level": 20}) as k:
            code, out, err = kk.run_keeper(["-d", k.conf])
            lines = [ln for ln in err.splitlines() if ln.strip()]
            ok(code == 78, "a bad configuration exits 78 (got %s)" % code,
               *lines)
            ok(len(lines) == 2 and all(
                ln.startswith(k.conf + ":") for ln in lines),
               "both errors reported as file:line: message", *lines)
            ok(not os.path.exists(k.state_dir),
               "nothing was started or created")

        tampered_state_dir(moto)


def as_nobody(*cmd):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                           "--clear-groups", "--"] + list(cmd),
                          capture_output=True, timeout=10).returncode


def tampered_state_dir(moto):
    """Issue 12 item 1: nobody made state_dir/checkpoints (mode 777) and
    planted a symlink to a root-only file under the checkpoint's temp name.
    A root keeper used to write the checkpoint JSON into that file."""
    if os.geteuid() != 0:
        kk.diag("not root: the tampered state_dir checks are not run")
        return
    moto.create_stream("tamper", 1)
    moto.put_records("tamper", [("pk", b'{"n":1}')])
    shard = moto.list_shards("tamper")[0]["ShardId"]
    with kk.Keeper(moto, "tamper", BUCKET, overrides={
            "batch.max_age": "1s", "read.interval": "200ms"}) as k:
        os.chmod(k.tmp, 0o711)
        victim = os.path.join(k.tmp, "root-only")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.chmod(victim, 0o600)
        os.mkdir(k.state_dir, 0o777)
        os.chmod(k.state_dir, 0o777)
        ck = os.path.join(k.state_dir, "checkpoints")
        rc1 = as_nobody("mkdir", "-m", "777", ck)
        rc2 = as_nobody("ln", "-s", victim,
                        os.path.join(ck, shard + ".tmp"))
        os.chmod(k.state_dir, 0o750)   # the top is fixed, the rest is not
        ok(rc1 == 0 and rc2 == 0 and os.stat(ck).st_uid == 65534,
           "setup: nobody made checkpoints/ (777) and planted a link")

        code, out, err = kk.run_keeper(["-d", k.conf], timeout=30)
        lines = [ln for ln in err.splitlines() if "unsafe directory" in ln]
        ok(code == 1, "a keeper on a state_dir with a subdirectory of "
           "another user exits 1 (got %s)" % code, *err.splitlines()[-10:])
        ok(len(lines) == 1 and ck in lines[0] and "uid 65534" in lines[0],
           "one clear line names the directory and its owner",
           *err.splitlines()[-10:])
        with open(victim) as f:
            ok(f.read() == "precious\n", "the link's target is untouched")
        ok(os.path.islink(os.path.join(ck, shard + ".tmp")) and
           not os.path.exists(os.path.join(ck, shard)),
           "no checkpoint was written")

        # state_dir itself writable by others
        os.chmod(k.state_dir, 0o777)
        code, out, err = kk.run_keeper(["-d", k.conf], timeout=30)
        lines = [ln for ln in err.splitlines() if "unsafe directory" in ln]
        ok(code == 1 and len(lines) == 1 and k.state_dir in lines[0] and
           "writable by group or others" in lines[0],
           "a state_dir writable by others is refused with one clear line "
           "(exit %s)" % code, *err.splitlines()[-10:])
        os.chmod(k.state_dir, 0o750)
        subprocess.run(["rm", "-rf", ck], timeout=10)


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
