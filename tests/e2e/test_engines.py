#!/usr/bin/env python3
"""
test_engines.py: the compression engines of issue 16 end to end, against
moto with SigV4 checking on: gzip level 6 (libdeflate, the default: a batch
of ~2.6 MB of lines becomes several gzip members), level 1 (ISA-L igzip),
level 12, zstd level 1 (the default) and 19. For each: every record exactly
once, key extension, Content-Type, metadata (records, sha256 of the stored
bytes); then every reader the archive promises: gzip -t / zstd -t, zcat,
Python's gzip, Java's GZIPInputStream (multi-member objects included) and
DuckDB (read_json_auto over the objects, counted per engine).
"""

import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_formats as kkf  # noqa: E402
import kk_readers as kkr  # noqa: E402
from kk import ok, diag  # noqa: E402

BASE = {
    "read.interval": "200ms",
    "batch.max_age": "3s",
    "workers.restart_min": "300ms",
    "workers.shutdown_timeout": "20s",
}
# name: (overrides, records, extension)
CASES = {
    "gz6": ({}, 2500, "jsonl.gz"),
    "gz1": ({"format.level": 1}, 600, "jsonl.gz"),
    "gz12": ({"format.level": 12}, 300, "jsonl.gz"),
    "zstd": ({"format.compression": "zstd"}, 2500, "jsonl.zst"),
    "zstd19": ({"format.compression": "zstd", "format.level": 19}, 300,
               "jsonl.zst"),
}
rng = random.Random(20261203)


def log_record(name, i):
    """~1 KiB JSON log lines, compressible like real ones."""
    return json.dumps({
        "@timestamp": "2026-12-03T20:%02d:%02d.%03dZ" % (i // 3600 % 60,
                                                         i // 60 % 60, i % 1000),
        "level": rng.choice(["info", "info", "info", "warn", "error"]),
        "service": rng.choice(["checkout", "shipping", "search", "auth"]),
        "host": "ip-10-0-%d-%d.eu-west-1.compute.internal" % (
            rng.randrange(8), rng.randrange(256)),
        "request_id": "%032x" % rng.getrandbits(128),
        "path": "/api/v2/%s/%d" % (rng.choice(["items", "users", "carts"]),
                                   rng.randrange(100000)),
        "status": rng.choice([200, 200, 200, 201, 404, 500]),
        "latency_ms": rng.randrange(2000),
        "user_agent": rng.choice([
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile"]),
        "case": name, "i": i,
        "msg": "handled request in %d ms; cache %s; upstream %s" % (
            rng.randrange(500), rng.choice(["hit", "miss"]),
            rng.choice(["db-1", "db-2", "cache-3"])),
    }).encode()


def key_re(ext):
    return re.compile(r"^(?P<prefix>[^/]+/)(?P<stream>[^/]+)/\d{4}/\d\d/\d\d/"
                      r"\d\d/(?P=stream)-(?P<shard>shardId-\d+)-(?P<seq>\d+)"
                      r"\.%s$" % re.escape(ext))


def decode(o, ext):
    """obj["raw"], obj["lines"], obj["shard"] for either engine."""
    if ext.endswith(".zst"):
        o["raw"] = kkr.zstd_decompress(o["body"])
    else:
        o["raw"] = kkr.gzip.decompress(o["body"])
    o["lines"] = [json.loads(x) for x in o["raw"].decode().splitlines()]
    m = key_re(ext).match(o["key"])
    o["shard"] = m.group("shard") if m else None
    return o


def check_case(moto, name, put, tmp):
    ov, n, ext = CASES[name]
    objs = moto.fetch_objects("kk-" + name)
    bad_key, bad_md, bad_ct = [], [], []
    for o in objs:
        try:
            decode(o, ext)
        except (ValueError, OSError, EOFError) as e:
            o["lines"] = []
            bad_md.append("%s: does not decode: %s" % (o["key"], e))
            continue
        if o["shard"] is None:
            bad_key.append(o["key"])
        md = o["metadata"]
        want = {"records": str(len(o["lines"])),
                "sha256": hashlib.sha256(o["body"]).hexdigest(),
                "first-seq": o["lines"][0]["seq"] if o["lines"] else None,
                "last-seq": o["lines"][-1]["seq"] if o["lines"] else None}
        for k, v in want.items():
            if md.get(k) != v:
                bad_md.append("%s: x-amz-meta-%s %r, want %r" % (
                    o["key"], k, md.get(k), v))
        ct = moto.s3.head_object(Bucket="kk-" + name,
                                 Key=o["key"])["ContentType"]
        wct = "application/zstd" if ext.endswith(".zst") else \
            "application/gzip"
        if ct != wct:
            bad_ct.append("%s: %s, want %s" % (o["key"], ct, wct))
    ok(objs and not bad_key, "%s: %d objects, keys end in .%s" % (
        name, len(objs), ext), *bad_key[:5])
    ok(not bad_md, "%s: bodies decode, metadata matches them" % name,
       *bad_md[:5])
    ok(not bad_ct, "%s: Content-Type %s" % (name, "application/zstd"
                                            if ext.endswith(".zst")
                                            else "application/gzip"),
       *bad_ct[:5])
    kk.assert_exactly_once(put, objs, name)

    # the readers, on the objects as files
    d = os.path.join(tmp, name)
    paths = kkr.save(objs, d)
    if ext.endswith(".zst"):
        bad = kkr.tool_test("zstd", paths)
        ok(not bad, "%s: zstd -t passes on every object" % name, *bad[:5])
    else:
        bad = kkr.tool_test("gzip", paths)
        ok(not bad, "%s: gzip -t passes on every object" % name, *bad[:5])
        zl = kkr.zcat_lines(paths)
        ok(zl == n, "%s: zcat reads %s lines, want %d" % (name, zl, n))
        py = sum(kkr.python_gzip_lines(o["body"]) for o in objs)
        ok(py == n, "%s: Python gzip reads %d lines, want %d" % (name, py, n))
        if kkr.have_java():
            jl = kkr.java_lines(paths, tmp)
            wrong = ["%s: %s lines, metadata %s" % (
                os.path.basename(p), jl.get(p), o["metadata"].get("records"))
                for p, o in zip(paths, objs)
                if str(jl.get(p)) != o["metadata"].get("records")]
            ok(not wrong, "%s: Java GZIPInputStream reads every object "
               "whole (%d lines)" % (name, sum(jl.values())), *wrong[:5])
        else:
            ok(False, "%s: java is installed" % name)
    if kkr.have_duckdb():
        glob = os.path.join(d, "**", "*." + ext)
        rows = kkr.duckdb([
            "select count(*), count(distinct seq), count(distinct data.i) "
            "from read_json_auto(%s, format='newline_delimited')"
            % kkr.sql_str(glob)])[0]
        ok(rows == [[str(n), str(n), str(n)]], "%s: DuckDB reads %s rows "
           "(distinct seq, distinct data.i), want %d each" % (name, rows, n))
    else:
        ok(False, "@duckdb/node-api is installed (tests/setup.sh)")
    return objs


def scenario():
    kk.become_subreaper()
    t0 = time.monotonic()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return
    with kk.Moto() as moto, tempfile.TemporaryDirectory(
            prefix="kk-engines-") as tmp:
        moto.check_auth()
        puts = {}
        for name, (_, n, _) in CASES.items():
            moto.create_stream(name, 1)
            moto.create_bucket("kk-" + name)
            puts[name] = moto.put_records(name, [
                ("pk-%d" % (i % 40), log_record(name, i)) for i in range(n)])
        ks = []
        for name, (ov, _, _) in CASES.items():
            o = dict(BASE, **{"s3.prefix": name + "/"})
            o.update(ov)
            ks.append(kk.Keeper(moto, name, "kk-" + name, overrides=o,
                                name=name))
        with kkf.keepers(*ks) as ks:
            for k in ks:
                k.start()
            for k, (name, (_, n, _)) in zip(ks, CASES.items()):
                have = kkf.wait_records(moto, "kk-" + name, n, 60, k)
                ok(have == n, "%s: all %d records archived" % (name, n),
                   "x-amz-meta-records total %d" % have, *k.tail(8))
            for k, name in zip(ks, CASES):
                rc = k.stop(40)
                ok(rc == 0, "%s: keeper exits 0 on SIGTERM" % name,
                   "exit %s" % rc)
            san = [ln for k in ks for ln in k.sanitizer_reports()]
            ok(not san, "engines: no sanitizer report", *san[:5])
        objs = {name: check_case(moto, name, puts[name], tmp)
                for name in CASES}

        # libdeflate compresses 1 MiB chunks as gzip members: the big
        # batch must be several members, read whole by every reader above
        members = [kkr.gzip_members(o["body"]) for o in objs["gz6"]]
        raw = max((len(o["raw"]) for o in objs["gz6"]), default=0)
        ok(max(members, default=0) >= 2 and -1 not in members,
           "gz6: a %d-byte batch is stored as %d gzip members (1 MiB "
           "chunks)" % (raw, max(members, default=0)), repr(members))
        ok(all(kkr.gzip_members(o["body"]) == 1 for o in objs["gz1"]),
           "gz1: ISA-L writes one gzip member per object")
        for name in CASES:
            st = sum(len(o["body"]) for o in objs[name])
            rw = sum(len(o["raw"]) for o in objs[name])
            diag("sizes: %-6s stored %8d bytes for %8d bytes of jsonl "
                 "(ratio %.2f)" % (name, st, rw, rw / max(st, 1)))
    diag("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
