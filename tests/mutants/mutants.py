#!/usr/bin/env python3
"""
mutants.py: make mutants, the project's own mutation run over the path that
keeps records safe. Each mutant is a named, deliberate bug (one or more
exact text replacements in the sources), applied to a copy of the tree,
built, and run against the one suite meant to catch it: "killed" when that
suite fails, "SURVIVED" when it passes. Not part of make check or CI.

  python3 tests/mutants/mutants.py [NAME...]     (default: every mutant)
  KK_MUTANT_KEEP=1 keeps the copies (printed) for a look at a survivor.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

WFA_FSYNC = ('\tstep = "fsync";\n\tif (fsync(fd) == -1)\n',)
WFA_DIR = ('\tif (fsync_dir(dir) == -1) {\n',)


def only(user, what):
    """Skip one sync call of write_file_atomic for one kind of file."""
    if what == "file":
        return [("common/util.c", WFA_FSYNC[0],
                 '\tstep = "fsync";\n\tif (strstr(path, "%s") == NULL && '
                 'fsync(fd) == -1)\n' % user)]
    return [("common/util.c", WFA_DIR[0],
             '\tif (strstr(path, "%s") == NULL && fsync_dir(dir) == -1) {\n'
             % user)]


MKDIR_FSYNC = "\tr = fsync_dir(path);\n"


def mkdir_only(name):
    """Skip the parent's fsync after creating one kind of directory
    (mkdir_durable: path is the parent there, slash + 1 the new name).
    Not for checkpoints/: the supervisor creates it first of four, and the
    fsync of state_dir after the next one (locks/) covers its entry too, so
    that mutant changes nothing a crash can show."""
    return [("common/util.c", MKDIR_FSYNC,
             '\tr = strcmp(slash + 1, "%s") == 0 || strstr(path, "/%s") != '
             'NULL ? 0 : fsync_dir(path);\n' % (name, name))]


# name: (suite, why it must be caught, [(file, old, new), ...])
MUTANTS = {
    "fsync-file-skipped": (
        "crash", "every temp file's fsync before its rename skipped",
        [("common/util.c", WFA_FSYNC[0],
          '\tstep = "fsync";\n\tif (0)\n')]),
    "fsync-dir-skipped": (
        "crash", "the directory fsync after every rename skipped",
        [("common/util.c", WFA_DIR[0], '\tif (0) {\n')]),
    "fsync-mkdir-parent-skipped": (
        "crash", "a new directory's parent not fsynced",
        [("common/util.c", MKDIR_FSYNC, "\tr = 0;\n")]),
    "fsync-mkdir-outbox-skipped": (
        "crash", "outbox/ or outbox/SHARD/ created, its parent not fsynced",
        mkdir_only("outbox")),
    "fsync-mkdir-batches-skipped": (
        "crash", "batches/ or batches/SHARD/ created, its parent not "
        "fsynced", mkdir_only("batches")),
    "fsync-mkdir-uploads-skipped": (
        "crash", "uploads/ created, its parent not fsynced",
        mkdir_only("uploads")),
    "fsync-checkpoint-file-skipped": (
        "crash", "the checkpoint's temp file not fsynced",
        only("/checkpoints/", "file")),
    "fsync-checkpoint-dir-skipped": (
        "crash", "the checkpoint's rename not made durable",
        only("/checkpoints/", "dir")),
    "fsync-outbox-file-skipped": (
        "crash", "the outbox entry's temp file not fsynced",
        only("/outbox/", "file")),
    "fsync-outbox-dir-skipped": (
        "crash", "the outbox entry's rename not made durable",
        only("/outbox/", "dir")),
    "fsync-localcopy-file-skipped": (
        "crash", "a local copy's temp file not fsynced",
        only("/batches/", "file")),
    "fsync-localcopy-dir-skipped": (
        "crash", "a local copy's rename not made durable",
        only("/batches/", "dir")),
    "fsync-upload-record-file-skipped": (
        "crash", "a multipart upload's record (uploads/SHARD) not fsynced",
        only("/uploads/", "file")),
    "fsync-upload-record-dir-skipped": (
        "crash", "a multipart upload's record not made durable",
        only("/uploads/", "dir")),
    "checkpoint-before-upload": (
        "crash", "the checkpoint written before the object is in S3",
        [("worker/worker.c",
          "\taws_result_init(&res);\n"
          "\twhile (s3_put_object(&w.aws, &w.cfg, &put, &res) == -1) {\n",
          "\t{\n\t\tstruct ckpt mk;\n\n\t\tmemset(&mk, 0, sizeof(mk));\n"
          "\t\tmk.pos = o->last;\n"
          "\t\t(void)ckpt_write(w.cfg.state_dir, w.shard, &mk);\n\t}\n"
          "\taws_result_init(&res);\n"
          "\twhile (s3_put_object(&w.aws, &w.cfg, &put, &res) == -1) {\n")]),
    "outbox-after-checkpoint": (
        "crash", "the outbox entries of a flush written after its "
        "checkpoint",
        [("worker/worker.c",
          "\t\tif (w.cfg.sns_topic_arn != NULL &&\n"
          "\t\t    outbox_put(w.cfg.state_dir, w.shard, &o[i].first,\n",
          "\t\tif (0 && w.cfg.sns_topic_arn != NULL &&\n"
          "\t\t    outbox_put(w.cfg.state_dir, w.shard, &o[i].first,\n"),
         ("worker/worker.c",
          "&ck) == -1))\n\t\tfatal(\"checkpoint for %s\", w.shard);\n",
          "&ck) == -1))\n\t\tfatal(\"checkpoint for %s\", w.shard);\n"
          "\tfor (i = 0; i < n; i++) {\n"
          "\t\tmsg = notification(keys[i].data, &o[i], stored[i]);\n"
          "\t\tif (w.cfg.sns_topic_arn != NULL &&\n"
          "\t\t    outbox_put(w.cfg.state_dir, w.shard, &o[i].first,\n"
          "\t\t    &o[i].last, msg, fm[i].outbox, sizeof(fm[i].outbox)) "
          "== -1)\n"
          "\t\t\tfatal(\"outbox\");\n"
          "\t\tfree(msg);\n\t}\n")]),
    "outbox-not-reread-at-start": (
        "outage", "the supervisor does not publish what the outbox holds "
        "at start",
        [("supervisor/keeper.c",
          "\tnotify_queue_all();\n\tmain_loop();\n",
          "\tmain_loop();\n")]),
    "resume-at-not-after": (
        "crash", "resume AT the checkpoint's record instead of AFTER it",
        [("worker/worker.c", '\t\t\ttype = "AFTER_SEQUENCE_NUMBER";\n',
          '\t\t\ttype = "AT_SEQUENCE_NUMBER";\n')]),
    "resume-sub-ignored": (
        "e2e:test_formats", "a checkpoint's subsequence number ignored on "
        "resume (the rest of the aggregate skipped)",
        [("worker/worker.c", "\t\tw.pos = ck.pos;\n"
          "\t\tw.pos_complete = !ck.pos.has_sub;\n",
          "\t\tw.pos = ck.pos;\n\t\tw.pos.has_sub = 0;\n"
          "\t\tw.pos_complete = 1;\n")]),
    "conditional-put-dropped": (
        "e2e:test_truth", "the PUT no longer If-None-Match: an object "
        "can be overwritten",
        [("worker/worker.c", "\tput.if_none_match = 1;\n",
          "\tput.if_none_match = 0;\n")]),
    "record-dropped-at-batch-boundary": (
        "crash", "the first record after a flushed batch is not added",
        [("worker/worker.c",
          "\tif (batch_add(&w.batch, &r, complete) == -1) {\n"
          "\t\t/* a partition",
          "\tif (w.batch.records == 0 && w.prev.key[0] != '\\0') {\n"
          "\t\tpos_set(&w.pos, seq, has_sub, sub);\n\t\treturn;\n\t}\n"
          "\tif (batch_add(&w.batch, &r, complete) == -1) {\n"
          "\t\t/* a partition")]),
    "child-before-parent-end": (
        "e2e:test_reshard", "a child shard read before its parents are done",
        [("supervisor/keeper.c",
          "\treturn p->f.state == SLOT_DONE &&\n",
          "\treturn 1 ||\n")]),
    "wrong-chain-predecessor": (
        "e2e:test_verify", "an object names the object before its "
        "predecessor (the chain link of a flush kept from the first one)",
        [("worker/worker.c", "\tw.prev = link;\n",
          "\tif (w.prev.key[0] == '\\0')\n\t\tw.prev = link;\n")]),
    "verify-ignores-gap": (
        "unit:test_archive", "verify says nothing when a predecessor is "
        "not in the archive",
        [("supervisor/chain.c",
          "\telse if (o->prev_key != NULL)\n"
          "\t\tproblem(c, o->key, o->shard, \"missing link\",\n",
          "\telse if (o->prev_key != NULL && 0)\n"
          "\t\tproblem(c, o->key, o->shard, \"missing link\",\n")]),
    "short-write-taken-as-whole": (
        "inject", "a short write counted as the whole write",
        [("common/util.c", "\t\tp += n;\n\t\tlen -= (size_t)n;\n",
          "\t\tp += n;\n\t\tlen = 0;\n")]),
    "failed-fsync-ignored": (
        "inject", "a failed fsync of a temp file taken for success",
        [("common/util.c", WFA_FSYNC[0],
          '\tstep = "fsync";\n\tif (fsync(fd) == -1 && 0)\n')]),
    "enospc-retry-taken-as-written": (
        "inject", "the outbox entry's second try after a full disk "
        "skipped: the local copies' room taken for the entry",
        [("worker/worker.c",
          "\t\t    (!room_freed() || outbox_put(w.cfg.state_dir, w.shard,\n"
          "\t\t    &o[i].first, &o[i].last, msg, fm[i].outbox,\n"
          "\t\t    sizeof(fm[i].outbox)) == -1))\n",
          "\t\t    (!room_freed() || 0))\n")]),
    "failed-dir-fsync-ignored": (
        "inject", "a failed directory fsync after a rename taken for "
        "success",
        [("common/util.c", WFA_DIR[0],
          '\tif (fsync_dir(dir) == -1 && 0) {\n')]),
    # the HTTP answer framing of the direct path (common/http_parse.c): a
    # wrongly framed answer is read into the next one on the connection
    "http-conflicting-length-accepted": (
        "unit:test_http_parse", "two different Content-Length values: the "
        "last one taken",
        [("common/http_parse.c",
          "\t\t\tif (cl >= 0 && x != cl)\n"
          "\t\t\t\treturn fail(p, \"conflicting Content-Length\");\n",
          "")]),
    "http-gzip-chunked-as-chunked": (
        "unit:test_http_parse", "Transfer-Encoding \"gzip, chunked\" read "
        "as plain chunked",
        [("common/http_parse.c",
          "\t\t\tif (vl != 7 || strncasecmp(v, \"chunked\", 7) != 0)\n",
          "\t\t\tif (!has_token(v, vl, \"chunked\"))\n")]),
    "http-body-left-not-counted": (
        "unit:test_http_parse", "the bytes of a body or chunk not counted "
        "down (p->left -= k forgotten)",
        [("common/http_parse.c", "\t\t\tp->left -= (long long)k;\n", "")]),
    "http-chunk-end-not-crlf": (
        "unit:test_http_parse", "any line accepted as the end of a chunk",
        [("common/http_parse.c",
          "\t\t\t\tif (p->state == S_CHUNK_END) {\n"
          "\t\t\t\t\t*used = i;\n",
          "\t\t\t\tif (p->state == S_CHUNK_END) {\n"
          "\t\t\t\t\tbuf_reset(&p->line);\n"
          "\t\t\t\t\tp->state = S_CHUNK_SIZE;\n"
          "\t\t\t\t\tbreak;\n")]),
    "http-interim-taken-as-final": (
        "unit:test_http_parse", "a 100 Continue taken for the answer",
        [("common/http_parse.c", "\tif (status < 200)\n\t\treturn 1;\n",
          "")]),
    "http-blank-line-cr-in-piece": (
        "unit:test_http_parse", "the head's blank line found only when its "
        "CR and LF arrive in one piece",
        [("common/http_parse.c",
          "\t\t\t    p->line.data[p->lstart] == '\\r'))) {\n",
          "\t\t\t    lf > d && lf[-1] == '\\r'))) {\n")]),
    "http-close-body-max-off-by-one": (
        "unit:test_http_parse", "a close-delimited body of exactly "
        "max_body refused",
        [("common/http_parse.c",
          "\t\t\tif (n - i > p->max_body - p->resp->body.len) {\n",
          "\t\t\tif (n - i >= p->max_body - p->resp->body.len) {\n")]),
    "http-1.0-keep-alive-ignored": (
        "unit:test_http_parse", "an HTTP/1.0 answer with keep-alive taken "
        "as closing", [("common/http_parse.c", "\tif (ver10 && !keep)\n",
                        "\tif (ver10)\n")]),
    "http-chunk-size-16-digits": (
        "unit:test_http_parse", "a chunk size of 16 hex digits read (it "
        "overflows)", [("common/http_parse.c", "\t\tif (i == 15)\n",
                        "\t\tif (i == 16)\n")]),
    "http-trailer-unbounded": (
        "unit:test_http_parse", "trailer lines not counted against the "
        "head limit",
        [("common/http_parse.c", "\t\t\t\tp->trailer += k;\n",
          "\t\t\t\tp->trailer += 0;\n")]),
    "http-refusal-not-kept": (
        "unit:test_http_parse", "fed again after a refusal, the parser "
        "answers HP_DONE",
        [("common/http_parse.c",
          "\tif (p->error[0] != '\\0') {\n\t\t*used = 0;\n",
          "\tif (0) {\n\t\t*used = 0;\n")]),
    "http-101-as-interim": (
        "unit:test_http_parse", "a protocol switch skipped like a 100",
        [("common/http_parse.c", "\tif (status == 101)\n",
          "\tif (status == 101 && 0)\n")]),
    "http-direct-no-reopen": (
        "unit:test_http", "a kept connection the server closed is not "
        "opened again",
        [("common/http.c", "for (attempt = 0; attempt < 2; attempt++) {",
          "for (attempt = 0; attempt < 1; attempt++) {")]),
    "http-direct-resend-after-answer-began": (
        "unit:test_http", "a request sent again on a new connection "
        "although the first never served an answer",
        [("common/http.c", "\treturn c->dserved > 0 ? D_STALE : D_FAIL;",
          "\treturn D_STALE;")]),
    "http-direct-close-ignored": (
        "unit:test_http", "Connection: close not honoured",
        [("common/http.c", "\t\t\tif (p.close)\n\t\t\t\tdirect_close(c);",
          "\t\t\tif (0)\n\t\t\t\tdirect_close(c);")]),
    "http-direct-no-low-speed": (
        "unit:test_http", "the direct path waits for a silent server until "
        "its timeout",
        [("common/http.c", "\t\tif (low && now >= window) {",
          "\t\tif (0 && low && now >= window) {")]),
    "http-direct-extra-bytes-kept": (
        "unit:test_http", "a connection with bytes after the answer kept",
        [("common/http.c", "\t\t\t\tif (used < n)\t/* bytes nobody asked for */",
          "\t\t\t\tif (0)\t/* bytes nobody asked for */")]),
}


def suite_cmd(suite, tree):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    if suite == "crash":
        env.update({"KK_CRASH_FAILFAST": "1", "KK_CRASH_INJECT": "0",
                    "KK_CRASH_SEED": env.get("KK_MUTANT_SEED", "7"),
                    "KK_CRASH_POINTS": "40", "KK_CRASH_STATES": "0"})
        return ["python3", "tests/crash/crash.py"], env, ["all", "crashlib"]
    if suite == "inject":
        env.update({"KK_CRASH_POINTS": "0"})
        return ["python3", "tests/crash/crash.py"], env, ["all", "crashlib"]
    if suite == "outage":
        # the crash suite's outbox-at-start case alone (no crash points)
        env.update({"KK_CRASH_POINTS": "0", "KK_CRASH_INJECT": "0"})
        return ["python3", "tests/crash/crash.py"], env, ["all", "crashlib"]
    if suite.startswith("e2e:"):
        env["KK_BIN_DIR"] = "build"
        return (["python3", "tests/e2e/%s.py" % suite[4:]], env, ["all"])
    if suite.startswith("unit:"):
        t = "build/asan/tests/" + suite[5:]
        return [t], env, [t]
    raise ValueError(suite)


def run_one(name, base):
    suite, why, edits = MUTANTS[name]
    tree = os.path.join(base, name)
    shutil.copytree(os.path.join(base, "src"), tree, symlinks=True)
    for path, old, new in edits:
        p = os.path.join(tree, path)
        with open(p) as f:
            text = f.read()
        if text.count(old) != 1:
            return "NOT APPLIED", "%s: the text to change is %s" % (
                path, "missing" if old not in text else "not unique")
        with open(p, "w") as f:
            f.write(text.replace(old, new))
    cmd, env, targets = suite_cmd(suite, tree)
    b = subprocess.run(["make", "-s", "-j2"] + targets, cwd=tree,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env)
    if b.returncode != 0:
        return "NOT BUILT", b.stdout.decode(errors="replace")[-400:]
    try:
        r = subprocess.run(cmd, cwd=tree, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=600)
        out = r.stdout.decode(errors="replace")
        code = r.returncode
    except subprocess.TimeoutExpired:
        return "killed", "timed out (600s)"
    lines = out.splitlines()
    fails = [i for i, ln in enumerate(lines) if ln.startswith("not ok")]
    # the e2e scripts exit 0 and say "N failed" (tests/e2e/run.sh adds up)
    if code != 0 or fails:
        if not fails:
            return "killed", "exit %d" % code
        # the failed check and its first diagnostic that names a problem
        i = fails[0]
        why = [ln for ln in lines[i + 1:i + 6] if ln.startswith("# ") and
               not ln.startswith(("# replay:", "# state lost:"))]
        return "killed", lines[i][:110] + (" | " + why[0][2:150]
                                           if why else "")
    return "SURVIVED", out.splitlines()[-1] if out else ""


def main(argv):
    names = argv or list(MUTANTS)
    base = tempfile.mkdtemp(prefix="kk-mutants-")
    t0 = time.monotonic()
    tally = {}
    # one snapshot of the tree (sources and build) that every mutant copies:
    # edits made meanwhile do not leak into the run
    shutil.copytree(ROOT, os.path.join(base, "src"), symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "node_modules"))
    # the emulators and helpers from npm, shared rather than copied
    npm = os.path.join(ROOT, "build", "npm", "node_modules")
    if os.path.isdir(npm):
        os.symlink(npm, os.path.join(base, "src", "build", "npm",
                                     "node_modules"))
    try:
        for name in names:
            t1 = time.monotonic()
            verdict, detail = run_one(name, base)
            tally[verdict] = tally.get(verdict, 0) + 1
            print("%-34s %-9s %-18s %4.0fs  %s" % (
                name, verdict, MUTANTS[name][0], time.monotonic() - t1,
                MUTANTS[name][1]), flush=True)
            print("    %s" % detail.strip().splitlines()[-1][:280]
                  if detail.strip() else "", flush=True)
            if not os.environ.get("KK_MUTANT_KEEP"):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    finally:
        if not os.environ.get("KK_MUTANT_KEEP"):
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("copies kept in %s" % base)
    print("mutants: %d, %d killed, %d SURVIVED, %d not applied or built "
          "(%.0fs)" % (len(names), tally.get("killed", 0),
                       tally.get("SURVIVED", 0),
                       tally.get("NOT APPLIED", 0) + tally.get("NOT BUILT", 0),
                       time.monotonic() - t0))
    return 0 if tally.get("killed", 0) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
