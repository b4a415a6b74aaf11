"""
kk_readers.py: the readers an archive must satisfy (issue 16), run on
objects fetched into a directory: gzip -t, zstd -t, zcat, Python's gzip,
Java's GZIPInputStream (java runs the source file itself), and DuckDB
through npm @duckdb/node-api (installed by tests/setup.sh into build/npm).
Each returns what it read, so a test can count lines, never just "it ran".
"""

import gzip
import json
import os
import shutil
import subprocess
import zlib

import kk

NPM = os.path.join(kk.ROOT, "build", "npm")
JAVA_SRC = r"""
import java.io.*;
import java.util.zip.GZIPInputStream;

public class GzLines {
    public static void main(String[] args) throws Exception {
        for (String f : args) {
            long lines = 0;
            byte[] b = new byte[65536];
            int n;
            try (InputStream in = new GZIPInputStream(
                    new BufferedInputStream(new FileInputStream(f)))) {
                while ((n = in.read(b)) > 0)
                    for (int i = 0; i < n; i++)
                        if (b[i] == '\n')
                            lines++;
            }
            System.out.println(lines + " " + f);
        }
    }
}
"""
DUCKDB_JS = r"""
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const q = JSON.parse(process.argv[1]);
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const out = [];
  for (const sql of q) {
    const r = await con.runAndReadAll(sql);
    out.push(r.getRows().map(row => row.map(v => v === null ? null
                                                 : String(v))));
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
"""


def have_duckdb():
    return os.path.isdir(os.path.join(NPM, "node_modules", "@duckdb",
                                      "node-api"))


def have_java():
    return shutil.which("java") is not None


def save(objs, dest):
    """Write fetched objects under dest by their keys; returns the paths."""
    paths = []
    for o in objs:
        p = os.path.join(dest, o["key"])
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(o["body"])
        paths.append(p)
    return paths


def tool_test(tool, paths, timeout=60):
    """gzip -t / zstd -t on every path: [(path, message)] of failures."""
    bad = []
    for p in paths:
        r = subprocess.run([tool, "-t", "-q", p], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            bad.append("%s: %s" % (p, (r.stderr or r.stdout).strip()))
    return bad


def zcat_lines(paths, timeout=60):
    """Total newline count of zcat over every path (None on failure)."""
    if not paths:
        return 0
    r = subprocess.run(["zcat"] + paths, capture_output=True, timeout=timeout)
    return r.stdout.count(b"\n") if r.returncode == 0 else None


def gzip_members(body):
    """How many gzip members one body holds (zlib, member by member)."""
    n = 0
    while body:
        d = zlib.decompressobj(31)
        d.decompress(body)
        if not d.eof:
            return -1
        n += 1
        body = d.unused_data
    return n


def python_gzip_lines(body):
    return gzip.decompress(body).count(b"\n")


def zstd_decompress(body, timeout=60):
    r = subprocess.run(["zstd", "-d", "-c", "-q"], input=body,
                       capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise ValueError("zstd -d: %s" % r.stderr.decode(errors="replace"))
    return r.stdout


def java_lines(paths, tmp, timeout=120):
    """{path: lines} read through java.util.zip.GZIPInputStream."""
    src = os.path.join(tmp, "GzLines.java")
    with open(src, "w") as f:
        f.write(JAVA_SRC)
    r = subprocess.run(["java", src] + paths, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("java: %s" % r.stderr[-500:])
    out = {}
    for line in r.stdout.splitlines():
        n, _, p = line.partition(" ")
        out[p] = int(n)
    return out


def duckdb(queries, timeout=120):
    """Run SQL queries in one in-memory DuckDB; a list of row lists
    (values as strings)."""
    env = dict(os.environ, NODE_PATH=os.path.join(NPM, "node_modules"))
    r = subprocess.run(["node", "-e", DUCKDB_JS, json.dumps(queries)],
                       capture_output=True, text=True, timeout=timeout,
                       env=env, cwd=NPM)
    if r.returncode != 0:
        raise RuntimeError("duckdb: %s" % r.stderr[-800:])
    return json.loads(r.stdout)


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"
