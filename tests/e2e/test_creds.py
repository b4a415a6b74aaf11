#!/usr/bin/env python3
"""
test_creds.py: the credentials chain end to end (SPEC section 6), against
moto with SigV4 checking on: a request signed with anything but a live moto
key is refused, so a case archives only if the keeper really used the
credentials the case expects. A wrong secret in a lower-priority source
proves which source won.

Temporary credentials (run side by side, each with its own stream, bucket
and keeper; every source serves an Expiration ~5 min 30 s ahead, so the
keeper must refresh ~30 s later):
  webid   AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through an STS shim
          (moto with auth on answers an unsigned AssumeRoleWithWebIdentity
          with HTTP 500; the shim checks the unsigned call and replays it
          signed, so the credentials are moto's own temporary ones)
  assume  credentials.role_arn (+ external_id, session_name): AssumeRole
          signed with config keys of a user that may do nothing else
  imds    IMDSv2 responder (token handshake enforced) serving an IAM key A,
          then key B; A is deleted after the refresh
  ecs     AWS_CONTAINER_CREDENTIALS_FULL_URI with
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, serving moto STS
          credentials (with a session token); an IMDS decoy must stay idle
  ecsflaky  the agent (AWS_CONTAINER_AUTHORIZATION_TOKEN) fails every
          refresh: the old, still valid credentials go on serving
Each checks the source's protocol, a refresh ~30 s after the first fetch
(and no refresh storm), that later Kinesis calls are signed with the new
key, and that archiving continues after the refresh.
Static sources (sequential, while the above wait for their refresh):
  shared file + AWS_PROFILE, credentials.profile, ~/.aws/credentials,
  environment, and the precedence config > env > file.
Clean failures (side by side): a missing credentials.profile does not fall
back, AWS_EC2_METADATA_DISABLED=true, already expired IMDS credentials, a
wrong ECS token, web identity straight at moto.
Every keeper log is checked for every secret of the test.
"""

import json
import os
import re
import sys
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
import kk_creds as kc  # noqa: E402
from kk import ok, diag  # noqa: E402

EXPIRES_IN = 330          # seconds: refresh due 30 s after each fetch
REFRESH_SLACK = 20        # seconds allowed beyond that
ARCHIVE_TIMEOUT = 25
NEGATIVE_WAIT = 6         # seconds a failing keeper gets to archive nothing
LOG_WITHIN = 15           # seconds to say that it has no credentials
NO_CREDS_RE = r"(no (aws )?credentials|credentials.*(none|not) available)"

_n = [0]


def records(moto, stream, n, tag):
    _n[0] += 1
    return moto.put_records(stream, [
        ("pk-%s-%d" % (tag, i),
         json.dumps({"case": tag, "i": i, "n": _n[0]}).encode())
        for i in range(n)])


def common_overrides(extra=None):
    o = {"batch.max_age": "1s", "read.interval": "300ms",
         "workers.shutdown_timeout": "10s", "workers.restart_min": "1s",
         "workers.restart_max": "2s"}
    o.update(extra or {})
    return o


def check_log_secrets(keeper, label):
    log = keeper.log()
    n = kc.leaked_secrets(log)
    ok(n == 0, "%s: no secret, session token or identity token in the log"
       % label, "%d registered secrets found in the log" % n)


def stop_clean(keeper, label, within=15):
    t0 = time.monotonic()
    rc = keeper.stop(within + 20)
    dt = time.monotonic() - t0
    ok(rc == 0 and dt <= within, "%s: SIGTERM -> exit 0 (%.1fs)" % (label, dt),
       "exit %s after %.1fs" % (rc, dt), *keeper.tail(10))
    left = keeper.leftovers()
    ok(not left, "%s: no worker left behind" % label, repr(left))
    san = keeper.sanitizer_reports()
    ok(not san, "%s: no sanitizer report" % label, *san[:10])


def source_line(keeper, source):
    return kc.log_has(keeper, r"credentials from %s\b" % re.escape(source))


# ------------------------------------------------------------ static cases

def static_ok(moto, stream, put, label, creds=None, env=None, source=None):
    """One keeper that must archive stream with the given config creds and
    environment, naming source in its start line."""
    bucket = "kk-cr-" + re.sub(r"[^a-z0-9]+", "-", label.lower())
    moto.create_bucket(bucket)
    keeper = kc.make_keeper(moto, stream, bucket, creds=creds, env=env,
                            overrides=common_overrides(), name=label)
    with keeper:
        keeper.start()
        n, took = kc.wait_archived(moto, keeper, bucket, len(put),
                                   ARCHIVE_TIMEOUT)
        ok(n >= len(put), "%s: %d records archived (%.1fs)"
           % (label, len(put), took), "archived %d" % n, *keeper.tail(12))
        if source:
            ok(source_line(keeper, source), "%s: the keeper says credentials "
               "come from the %s" % (label, source),
               *kc.log_has(keeper, "credentials"))
        stop_clean(keeper, label)
        probs = kc.archive_problems(moto, bucket, put)
        ok(not probs, "%s: archive exactly once and intact" % label,
           *probs[:10])
        check_log_secrets(keeper, label)


def static_cases(moto, tmp, role_arn):
    """Static sources and their precedence; moto's key is the right one,
    'wrong' is the same key id with a wrong secret."""
    stream = "creds-static"
    moto.create_stream(stream, 1)
    put = records(moto, stream, 6, "static")
    right = (moto.access_key_id, moto.secret_access_key)
    wrong = (moto.access_key_id, "wrong-secret-" + "x" * 28)
    kc.register_secret(wrong[1])

    # a shared file whose default profile is wrong and "archive" is right
    cfile = kc.credentials_file(os.path.join(tmp, "credentials"),
                                {"default": wrong, "archive": right})
    static_ok(moto, stream, put, "file-aws-profile",
              env={"AWS_SHARED_CREDENTIALS_FILE": cfile,
                   "AWS_PROFILE": "archive"},
              source="shared credentials file")
    # credentials.profile in the config beats (wrong) environment keys
    static_ok(moto, stream, put, "config-profile",
              creds={"credentials.profile": "archive"},
              env={"AWS_SHARED_CREDENTIALS_FILE": cfile,
                   "AWS_ACCESS_KEY_ID": wrong[0],
                   "AWS_SECRET_ACCESS_KEY": wrong[1]},
              source="shared credentials file")
    # ~/.aws/credentials, profile default
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, ".aws"))
    kc.credentials_file(os.path.join(home, ".aws", "credentials"),
                        {"default": right})
    static_ok(moto, stream, put, "home-default-profile",
              env={"HOME": home}, source="shared credentials file")
    # environment only
    static_ok(moto, stream, put, "env-keys",
              env={"AWS_ACCESS_KEY_ID": right[0],
                   "AWS_SECRET_ACCESS_KEY": right[1]},
              source="environment")
    # config keys beat (wrong) environment keys
    static_ok(moto, stream, put, "config-beats-env",
              creds={"credentials.access_key_id": right[0],
                     "credentials.secret_access_key": right[1]},
              env={"AWS_ACCESS_KEY_ID": wrong[0],
                   "AWS_SECRET_ACCESS_KEY": wrong[1]},
              source="config")
    # temporary keys with a session token, from the environment and from
    # the config (moto refuses an ASIA key without its token)
    tmpkeys = kc.assume_role_creds(moto, role_arn, "kk-static-env")
    static_ok(moto, stream, put, "env-session-token",
              env={"AWS_ACCESS_KEY_ID": tmpkeys["AccessKeyId"],
                   "AWS_SECRET_ACCESS_KEY": tmpkeys["SecretAccessKey"],
                   "AWS_SESSION_TOKEN": tmpkeys["Token"]},
              source="environment")
    tmpkeys = kc.assume_role_creds(moto, role_arn, "kk-static-config")
    static_ok(moto, stream, put, "config-session-token",
              creds={"credentials.access_key_id": tmpkeys["AccessKeyId"],
                     "credentials.secret_access_key":
                         tmpkeys["SecretAccessKey"],
                     "credentials.session_token": tmpkeys["Token"]},
              source="config")
    # environment beats a (wrong) shared file in the default location,
    # whatever AWS_PROFILE names
    home2 = os.path.join(tmp, "home2")
    os.makedirs(os.path.join(home2, ".aws"))
    kc.credentials_file(os.path.join(home2, ".aws", "credentials"),
                        {"default": wrong, "archive": wrong})
    static_ok(moto, stream, put, "env-beats-file",
              env={"HOME": home2, "AWS_PROFILE": "archive",
                   "AWS_ACCESS_KEY_ID": right[0],
                   "AWS_SECRET_ACCESS_KEY": right[1]},
              source="environment")
    return cfile, wrong


# ---------------------------------------------------------- failing cases

class Negative:
    """A keeper that must archive nothing and say why."""

    def __init__(self, moto, label, stream, creds=None, env=None,
                 overrides=None, log_re=NO_CREDS_RE):
        self.label = label
        self.log_re = log_re
        self.bucket = "kk-neg-" + label
        moto.create_bucket(self.bucket)
        self.keeper = kc.make_keeper(moto, stream, self.bucket, creds=creds,
                                     env=env, name=label,
                                     overrides=common_overrides(overrides))

    def check(self, moto, t_start):
        k = self.keeper
        n = kc.object_count(moto, self.bucket)
        ok(n == 0, "%s: nothing archived" % self.label,
           "%d objects in %s" % (n, self.bucket))
        lines = kk.wait_until(lambda: kc.log_has(k, self.log_re),
                              max(0.0, t_start + LOG_WITHIN - time.monotonic()),
                              0.2)
        ok(lines, "%s: the log says why within %ds at the default log level "
           "(/%s/)" % (self.label, LOG_WITHIN, self.log_re), *k.tail(10))
        for ln in lines[:3]:
            diag("%s: %s" % (self.label, ln.split(": ", 1)[-1]))
        ok(k.running(), "%s: the supervisor keeps running, retrying"
           % self.label)


def negative_cases(moto, tmp, cfile, role_arn):
    stream = "creds-negative"
    moto.create_stream(stream, 1)
    records(moto, stream, 4, "neg")
    env_right = {"AWS_ACCESS_KEY_ID": moto.access_key_id,
                 "AWS_SECRET_ACCESS_KEY": moto.secret_access_key}
    servers = []

    # credentials.profile names a missing profile: no fallback to the env
    negs = [Negative(moto, "profile-missing", stream,
                     creds={"credentials.profile": "nosuch"},
                     env=dict(env_right, AWS_SHARED_CREDENTIALS_FILE=cfile),
                     log_re=r'profile "?nosuch"? not found')]

    # IMDS disabled: the responder must see nothing
    imds_off = kc.ImdsResponder(lambda n: {
        "AccessKeyId": moto.access_key_id,
        "SecretAccessKey": moto.secret_access_key})
    servers.append(imds_off)
    negs.append(Negative(moto, "imds-disabled", stream, env={
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_off.endpoint,
        "AWS_EC2_METADATA_DISABLED": "true"}))

    # IMDS answers valid moto keys that expired a minute ago: unusable
    imds_exp = kc.ImdsResponder(lambda n: {
        "AccessKeyId": moto.access_key_id,
        "SecretAccessKey": moto.secret_access_key}, expires_in=-60)
    servers.append(imds_exp)
    negs.append(Negative(moto, "imds-expired", stream, env={
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_exp.endpoint,
        "AWS_EC2_METADATA_DISABLED": "false"}))

    # ECS with the wrong authorization token: 401, nothing usable
    ecs_tok = "ecs-token-" + os.urandom(12).hex()
    kc.register_secret(ecs_tok)
    ecs_bad = kc.EcsResponder(lambda n: {
        "AccessKeyId": moto.access_key_id,
        "SecretAccessKey": moto.secret_access_key}, auth=ecs_tok)
    servers.append(ecs_bad)
    wrong_tok = "not-the-token-" + os.urandom(8).hex()
    kc.register_secret(wrong_tok)
    negs.append(Negative(moto, "ecs-wrong-token", stream, env={
        "AWS_CONTAINER_CREDENTIALS_FULL_URI":
            ecs_bad.endpoint + ecs_bad.path,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": wrong_tok}))

    # web identity straight against moto (no shim)
    probe = moto_webid_probe(moto, role_arn)
    tokfile = kc.write_private(os.path.join(tmp, "webid-direct.jwt"),
                               "direct-" + os.urandom(16).hex() + "\n")
    webid_env = {"AWS_WEB_IDENTITY_TOKEN_FILE": tokfile,
                 "AWS_ROLE_ARN": role_arn}
    direct = None
    if probe != 200:
        negs.append(Negative(moto, "webid-moto-direct", stream, env=webid_env,
                             log_re=r"AssumeRoleWithWebIdentity.*(HTTP )?%s"
                             % probe))
    else:
        direct = webid_env

    for s in servers:
        s.__enter__()
    try:
        for ng in negs:
            ng.keeper.__enter__()
            # default log level: what an operator sees, no debug lines
            ng.keeper.start(args=("-d",))
        t_start = time.monotonic()
        time.sleep(NEGATIVE_WAIT)
        for ng in negs:
            ng.check(moto, t_start)
        log, _ = imds_off.snapshot()
        ok(not log, "imds-disabled: the metadata responder saw no request",
           "%d requests" % len(log))
        log, fetches = imds_exp.snapshot()
        ok(fetches, "imds-expired: the keeper did fetch them, and did not "
           "use them (%d fetches)" % len(fetches))
        log, _ = ecs_bad.snapshot()
        ok(log and all(r[3] == 401 and r[4] for r in log),
           "ecs-wrong-token: the keeper sent its (wrong) Authorization header "
           "and got 401 (%d requests)" % len(log))
        for ng in negs:
            stop_clean(ng.keeper, ng.label)
            check_log_secrets(ng.keeper, ng.label)
    finally:
        for ng in negs:
            ng.keeper.__exit__(None, None, None)
        for s in servers:
            s.__exit__(None, None, None)
    return direct


def moto_webid_probe(moto, role_arn):
    """What moto (auth on) answers to an unsigned AssumeRoleWithWebIdentity,
    as the keeper sends it: the HTTP status."""
    body = urllib.parse.urlencode({
        "Action": "AssumeRoleWithWebIdentity", "RoleArn": role_arn,
        "RoleSessionName": "probe", "WebIdentityToken": "probe-token-1234",
        "Version": "2011-06-15"}).encode()
    req = urllib.request.Request(
        moto.endpoint + "/", data=body, method="POST",
        headers={"Content-Type":
                 "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    diag("moto answers an unsigned AssumeRoleWithWebIdentity with HTTP %d%s"
         % (status, " (it needs an Authorization header to run its auth "
            "check; web identity goes through the STS shim)"
            if status != 200 else ""))
    return status


# ------------------------------------------------------ temporary sources

class Temp:
    """One temporary-credentials case: its keeper, the fetch times of its
    credential source and an archive."""

    def __init__(self, moto, label, issued, env=None, creds=None,
                 overrides=None, source=None):
        """issued() -> [(monotonic time, access key id)] of every
        credentials fetch from the case's source."""
        self.moto = moto
        self.label = label
        self.issued = issued
        self.source = source
        # Kinesis through a recorder: which key signs the reads
        self.kin = kc.Forwarder(moto.port)
        self.kin.__enter__()
        overrides = dict(overrides or {}, **{"endpoints.kinesis":
                                             self.kin.endpoint})
        self.stream = "creds-" + label
        self.bucket = "kk-tmp-" + label
        moto.create_stream(self.stream, 1)
        moto.create_bucket(self.bucket)
        self.put = records(moto, self.stream, 5, label)
        self.keeper = kc.make_keeper(moto, self.stream, self.bucket,
                                     creds=creds, env=env, name=label,
                                     overrides=common_overrides(overrides))

    def start(self):
        self.keeper.__enter__()
        self.keeper.start()

    def first_archive(self):
        n, took = kc.wait_archived(self.moto, self.keeper, self.bucket,
                                   len(self.put), ARCHIVE_TIMEOUT)
        ok(n >= len(self.put), "%s: first %d records archived"
           % (self.label, len(self.put)), "archived %d" % n,
           *self.keeper.tail(15))
        if self.source:
            ok(source_line(self.keeper, self.source),
               "%s: the keeper says credentials come from %s"
               % (self.label, self.source),
               *kc.log_has(self.keeper, "credentials"))

    def fetches(self):
        return [t for t, _ in self.issued()]

    def check_new_key(self):
        """After the refresh round, reads are signed with a key from it."""
        iss = self.issued()
        if not iss:
            return
        first = iss[0][0]
        rnd = [(t, a) for t, a in iss if first + 25 <= t <= first + 60]
        if not rnd:
            return
        after = max(t for t, _ in rnd) + 0.5
        keys = {a for _, a in rnd}
        old = {a for t, a in iss if t < first + 25} - keys
        # a later refresh (each process refreshes on its own clock) is new
        keys |= {a for t, a in iss if t > first + 60}
        used = [kc.request_akid(r) for r in self.kin.snapshot()
                if r["t"] > after]
        ok(used and set(used) <= keys,
           "%s: after the refresh every Kinesis call is signed with the new "
           "credentials (%d calls)" % (self.label, len(used)),
           "%d calls with the old key, %d with another"
           % (sum(1 for u in used if u in old),
              sum(1 for u in used if u not in old and u not in keys)))

    def wait_refresh(self):
        """A fetch >= 25 s after the first one, within 30 s + slack."""
        f = self.fetches()
        if not f:
            ok(False, "%s: credentials were fetched at all" % self.label)
            return None
        first = f[0]
        deadline = first + (EXPIRES_IN - 300) + REFRESH_SLACK
        kk.wait_until(lambda: any(t >= first + 25 for t in self.fetches()),
                      max(0.0, deadline - time.monotonic()), 0.2)
        f = self.fetches()
        later = [t for t in f if t >= first + 25]
        ok(later, "%s: credentials refreshed before they expire (a new "
           "fetch %s after the first)" % (
               self.label, "%.1fs" % (later[0] - first) if later else
               "not within %ds" % (EXPIRES_IN - 300 + REFRESH_SLACK)),
           "fetches at %s s" % ["%.1f" % (t - first) for t in f],
           *self.keeper.tail(10))
        span = time.monotonic() - first
        # supervisor + one worker, each refreshing every ~30 s
        bound = 2 * (int(span / 25) + 1) + 2
        ok(len(f) <= bound, "%s: no refresh storm (%d fetches in %.0fs)"
           % (self.label, len(f), span),
           "fetches at %s s" % ["%.1f" % (t - first) for t in f])
        return later[0] if later else None

    def second_archive(self):
        more = records(self.moto, self.stream, 5, self.label + "-2")
        self.put += more
        n, took = kc.wait_archived(self.moto, self.keeper, self.bucket,
                                   len(self.put), ARCHIVE_TIMEOUT)
        ok(n >= len(self.put), "%s: archiving continues after the refresh "
           "(%d more records, %.1fs)" % (self.label, len(more), took),
           "archived %d of %d" % (n, len(self.put)), *self.keeper.tail(12))

    def finish(self):
        stop_clean(self.keeper, self.label)
        probs = kc.archive_problems(self.moto, self.bucket, self.put)
        ok(not probs, "%s: archive exactly once and intact" % self.label,
           *probs[:10])
        check_log_secrets(self.keeper, self.label)

    def close(self):
        self.keeper.__exit__(None, None, None)
        self.kin.__exit__(None, None, None)


def scenario():
    kk.become_subreaper()
    if not os.access(kk.keeper_bin(), os.X_OK):
        ok(False, "binary %s exists" % kk.keeper_bin())
        return
    t_all = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="kk-creds-")
    servers, temps = [], []
    try:
        with kk.Moto() as moto:
            moto.check_auth()
            run(moto, tmp, servers, temps)
    finally:
        for t in temps:
            t.close()
        for s in servers:
            s.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    diag("total: %.1fs" % (time.monotonic() - t_all))


def run(moto, tmp, servers, temps):
    iam = kc.iam_client(moto)
    role_arn = kc.create_role(moto, "kk-archiver")
    # a user that may only assume roles: archiving with its own keys fails
    base = kc.create_user_with_keys(moto, "kk-base", policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole",
             "Resource": "*"}]}))[0]
    code = "none (ListStreams succeeded)"
    try:
        boto3.client("kinesis", endpoint_url=moto.endpoint,
                     region_name=kk.REGION, aws_access_key_id=base[0],
                     aws_secret_access_key=base[1]).list_streams()
    except botocore.exceptions.ClientError as e:
        # moto's Kinesis auth errors are XML: the code is in the message
        code = "AccessDenied" if "AccessDenied" in str(e) else str(e)[:120]
    ok(code == "AccessDenied", "moto enforces policies: the AssumeRole-only "
       "user cannot use Kinesis itself", "error: %s" % code)
    key_a, key_b = kc.create_user_with_keys(moto, "kk-instance", nkeys=2)

    # -- web identity through the shim
    jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJrayJ9." + os.urandom(16).hex()
    kc.register_secret(jwt)
    tokfile = kc.write_private(os.path.join(tmp, "webid.jwt"), jwt + "\n")
    shim_w = kc.StsShim(moto, expires_in=EXPIRES_IN, expect_token=jwt)
    servers.append(shim_w)
    shim_w.__enter__()
    webid = Temp(moto, "webid",
                 lambda: [(t, k) for t, a, k in shim_w.issued
                          if a == "AssumeRoleWithWebIdentity"],
                 env={"AWS_WEB_IDENTITY_TOKEN_FILE": tokfile,
                      "AWS_ROLE_ARN": role_arn,
                      "AWS_ROLE_SESSION_NAME": "kk-webid-session"},
                 overrides={"endpoints.sts": shim_w.endpoint},
                 source="web identity")
    temps.append(webid)

    # -- credentials.role_arn, signed with the AssumeRole-only user's keys
    shim_a = kc.StsShim(moto, expires_in=EXPIRES_IN)
    servers.append(shim_a)
    shim_a.__enter__()
    assume = Temp(moto, "assume",
                  lambda: [(t, k) for t, a, k in shim_a.issued
                           if a == "AssumeRole"],
                  creds={"credentials.access_key_id": base[0],
                         "credentials.secret_access_key": base[1],
                         "credentials.role_arn": role_arn,
                         "credentials.external_id": "kk-external-42",
                         "credentials.session_name": "kk-assume-session"},
                  overrides={"endpoints.sts": shim_a.endpoint},
                  source="assumed role")
    temps.append(assume)

    # -- IMDSv2: key A for the first two fetches (supervisor, worker), then B
    imds = kc.ImdsResponder(lambda n: dict(zip(
        ("AccessKeyId", "SecretAccessKey"), key_a if n < 2 else key_b)),
        expires_in=EXPIRES_IN)
    servers.append(imds)
    imds.__enter__()
    imds_case = Temp(moto, "imds", lambda: list(imds.issued),
                     env={"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
                          "AWS_EC2_METADATA_DISABLED": "false"},
                     source="instance metadata")
    temps.append(imds_case)

    # -- ECS full URI with a token file; fresh STS credentials per fetch
    ecs_tok = "ecs-auth-" + os.urandom(16).hex()
    kc.register_secret(ecs_tok)
    ecs_tokfile = kc.write_private(os.path.join(tmp, "ecs-token"),
                                   ecs_tok + "\n")
    sts = kc.sts_client(moto)

    def ecs_source(n):
        c = sts.assume_role(RoleArn=role_arn,
                            RoleSessionName="ecs-task-%d" % n)["Credentials"]
        kc.register_secret(c["SecretAccessKey"], c["SessionToken"])
        return {"AccessKeyId": c["AccessKeyId"],
                "SecretAccessKey": c["SecretAccessKey"],
                "Token": c["SessionToken"]}
    ecs = kc.EcsResponder(ecs_source, auth=ecs_tok, expires_in=EXPIRES_IN)
    decoy = kc.ImdsResponder(lambda n: dict(zip(
        ("AccessKeyId", "SecretAccessKey"), key_b)))
    servers += [ecs, decoy]
    ecs.__enter__()
    decoy.__enter__()
    ecs_case = Temp(moto, "ecs", lambda: list(ecs.issued),
                    env={"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                         ecs.endpoint + ecs.path,
                         "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": ecs_tokfile,
                         "AWS_EC2_METADATA_SERVICE_ENDPOINT": decoy.endpoint,
                         "AWS_EC2_METADATA_DISABLED": "false"},
                    source="container credentials")
    temps.append(ecs_case)

    # -- ECS agent that fails every refresh: the old credentials, still
    #    valid for 5 minutes, must go on serving (token from the env)
    flaky_tok = "ecs-flaky-" + os.urandom(16).hex()
    kc.register_secret(flaky_tok)
    # the agent answers for the first 15 s, whatever the number of processes
    # fetching at start (the worker and the supervisor's three helpers,
    # kinesis-keeper(8) Architecture), then fails every refresh (~30 s on)
    flaky_t0 = []

    def flaky_source(n):
        now = time.monotonic()
        if not flaky_t0:
            flaky_t0.append(now)
        return ecs_source(100 + n) if now - flaky_t0[0] < 15 else None

    flaky = kc.EcsResponder(flaky_source,
                            auth=flaky_tok, expires_in=EXPIRES_IN)
    servers.append(flaky)
    flaky.__enter__()
    flaky_case = Temp(moto, "ecsflaky", lambda: list(flaky.issued),
                      env={"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                           flaky.endpoint + flaky.path,
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN": flaky_tok},
                      source="container credentials")
    temps.append(flaky_case)

    # the responders enforce their protocol (checked before relying on it)
    responder_selftest(imds, ecs)

    t_temp = time.monotonic()
    for t in temps:
        t.start()
    for t in temps:
        t.first_archive()

    # -- meanwhile: static sources, then failures
    t0 = time.monotonic()
    cfile, _ = static_cases(moto, tmp, role_arn)
    diag("static cases: %.1fs" % (time.monotonic() - t0))
    t0 = time.monotonic()
    direct = negative_cases(moto, tmp, cfile, role_arn)
    diag("failure cases: %.1fs" % (time.monotonic() - t0))

    # -- back to the temporary sources: the protocol seen so far
    check_webid(shim_w, role_arn)
    check_assume(shim_a, role_arn, base[0])
    check_imds_protocol(imds)
    check_ecs_protocol(ecs, decoy)

    # -- refreshes
    for t in temps:
        if t is not flaky_case:
            t.wait_refresh()
    check_failed_refresh(flaky, flaky_case)
    # every process got key A at most at fetch 2; 31 s later none may still
    # sign with it: delete it, then the next records prove key B is in use
    f = imds.snapshot()[1]
    if len(f) >= 2:
        kk.wait_until(lambda: time.monotonic() >= f[1] + (EXPIRES_IN - 300)
                      + 1.5, 40, 0.2)
    iam.delete_access_key(UserName="kk-instance", AccessKeyId=key_a[0])
    diag("imds: key A deleted %.1fs after its last fetch"
         % (time.monotonic() - f[min(1, len(f) - 1)] if f else -1))
    for t in temps:
        t.second_archive()
        if t is not flaky_case:
            t.check_new_key()
    check_imds_protocol(imds, after=True)
    for t in temps:
        t.finish()
    diag("temporary credentials cases: %.1fs" % (time.monotonic() - t_temp))
    if direct:
        diag("moto accepted an unsigned AssumeRoleWithWebIdentity: the "
             "direct case would archive; not run")


def check_failed_refresh(flaky, case):
    """The agent fails from the third request on: the keeper must try to
    refresh ~30 s after its fetch, keep the old (unexpired) credentials,
    and retry at a bounded rate."""
    log, fetches = flaky.snapshot()
    if not fetches:
        ok(False, "ecsflaky: credentials were fetched at all")
        return
    first = fetches[0]
    deadline = first + (EXPIRES_IN - 300) + REFRESH_SLACK
    kk.wait_until(lambda: any(r[3] == 500 for r in flaky.snapshot()[0]),
                  max(0.0, deadline - time.monotonic()), 0.2)
    log, fetches = flaky.snapshot()
    failed = [r[0] - first for r in log if r[3] == 500]
    ok(failed and failed[0] >= 25,
       "ecsflaky: a refresh was attempted before expiry (failed at %s)"
       % ("%.1fs" % failed[0] if failed else "never"),
       "requests at %s" % ["%.1f:%d" % (r[0] - first, r[3]) for r in log])
    span = time.monotonic() - first
    bound = 2 * (int(max(0.0, span - 25) / 5) + 1) + 2
    ok(len(failed) <= bound, "ecsflaky: failed refreshes retried at a "
       "bounded rate (%d in %.0fs)" % (len(failed), span))


def responder_selftest(imds, ecs):
    def status(url, method="GET", headers=None):
        req = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=b"" if method == "PUT" else None)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    base = imds.endpoint + "/latest/meta-data/iam/security-credentials/"
    s1 = status(base)
    s2 = status(base, headers={"X-aws-ec2-metadata-token": "forged"})
    s3 = status(imds.endpoint + "/latest/api/token", "PUT")
    s4 = status(ecs.endpoint + ecs.path)
    ok((s1, s2, s3, s4) == (401, 401, 400, 401),
       "responders enforce their protocol (IMDS GET without/forged token "
       "-> 401, PUT token without TTL -> 400; ECS without Authorization "
       "-> 401)", "got %s" % ((s1, s2, s3, s4),))
    # forget the self-test's requests
    with imds.lock:
        imds.log.clear()
    with ecs.lock:
        ecs.log.clear()


def check_webid(shim, role_arn):
    calls = shim.calls("AssumeRoleWithWebIdentity")
    ok(calls and not shim.problems and all(c["status"] == 200 for c in calls),
       "webid: AssumeRoleWithWebIdentity unsigned, with the token file's "
       "content, answered by moto (%d calls)" % len(calls),
       *shim.problems[:5])
    ok(calls and all(c["form"].get("RoleArn") == role_arn for c in calls),
       "webid: RoleArn is AWS_ROLE_ARN")
    names = sorted({c["form"].get("RoleSessionName") for c in calls})
    ok(names == ["kk-webid-session"],
       "webid: RoleSessionName is AWS_ROLE_SESSION_NAME when the config "
       "sets no credentials.session_name (kinesis-keeper(8))",
       "RoleSessionName sent: %s" % names)


def check_assume(shim, role_arn, base_akid):
    calls = shim.calls("AssumeRole")
    probs = []
    for c in calls:
        auth = c["headers"].get("authorization", "")
        if "Credential=%s/" % base_akid not in auth:
            probs.append("not signed with the chain's key: %.40s" % auth)
        f = c["form"]
        if f.get("RoleArn") != role_arn:
            probs.append("RoleArn %r" % f.get("RoleArn"))
        if f.get("ExternalId") != "kk-external-42":
            probs.append("ExternalId %r" % f.get("ExternalId"))
        if f.get("RoleSessionName") != "kk-assume-session":
            probs.append("RoleSessionName %r" % f.get("RoleSessionName"))
        if c["status"] != 200:
            probs.append("moto answered %s" % c["status"])
    ok(calls and not probs, "assume: AssumeRole signed with the config keys, "
       "with role_arn, external_id and session_name, accepted by moto "
       "(%d calls)" % len(calls), *probs[:6])


def check_imds_protocol(imds, after=False):
    log, fetches = imds.snapshot()
    lbl = "imds%s" % (" (after refresh)" if after else "")
    bad = [r for r in log if r[3] != 200]
    ok(log and not bad, "%s: every request followed the IMDSv2 handshake "
       "(%d requests, none refused)" % (lbl, len(log)),
       *["%s %s -> %d" % (r[1], r[2], r[3]) for r in bad[:8]])
    # each credentials fetch is preceded by a token PUT and a role listing
    seq_ok = True
    for i, r in enumerate(log):
        if r[1] == "GET" and r[2].rstrip("/").endswith(imds.role):
            before = [x for x in log[:i]]
            if not any(x[1] == "PUT" for x in before) or \
                    not any(x[2].endswith("security-credentials/")
                            for x in before):
                seq_ok = False
    ok(seq_ok, "%s: PUT /latest/api/token, then the role list, then the "
       "role's credentials" % lbl)


def check_ecs_protocol(ecs, decoy):
    log, fetches = ecs.snapshot()
    ok(log and all(r[3] == 200 for r in log),
       "ecs: every request carried the token file's content as "
       "Authorization (%d requests)" % len(log),
       *["%s %s -> %d (Authorization %s)" % (r[1], r[2], r[3],
                                             "sent" if r[4] else "missing")
         for r in log if r[3] != 200][:6])
    dlog, _ = decoy.snapshot()
    ok(not dlog, "ecs: container credentials win over instance metadata "
       "(the IMDS decoy saw no request)", "%d requests" % len(dlog))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
