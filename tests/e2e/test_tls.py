#!/usr/bin/env python3
"""
test_tls.py: certificates are always verified (SPEC section 6, TLS). moto is
served over HTTPS with a certificate for IP:127.0.0.1 from a throwaway test
CA made with the openssl command.

  1  no CA configured: nothing archived, nothing lost (no checkpoint), a
     clear certificate error in the log;
  2  the same state_dir with tls.ca_file: everything archived exactly once;
  3  AWS_CA_BUNDLE instead of tls.ca_file: everything archived exactly once;
  4  another CA configured: refused;
  5  a certificate from the right CA but for another name: refused.
"""

import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kk  # noqa: E402
from kk import ok, diag  # noqa: E402
import kk_faults as kf  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

PREFIX = "tls/"
ARCHIVE_TIMEOUT = 60
SHUTDOWN_TIMEOUT = 15
CERT_RE = r"(?i)certificate|subject.*name|SSL peer"


def payload(i):
    return ('{"i":%d,"tls":true,"pad":"%s"}' % (i, "z" * (i % 40))).encode()


def put_n(moto, stream, start, n):
    return moto.put_records(stream, [("pk-%d" % (i % 17), payload(i))
                                     for i in range(start, start + n)])


def overrides(endpoint, **extra):
    o = {"endpoints.kinesis": endpoint, "endpoints.s3": endpoint,
         "endpoints.sns": endpoint, "endpoints.cloudwatch": endpoint,
         "endpoints.sts": endpoint, "s3.prefix": PREFIX,
         "read.interval": "200ms", "batch.max_age": "1s",
         "workers.shutdown_timeout": "%ds" % SHUTDOWN_TIMEOUT}
    o.update(extra)
    return o


def bucket_keys(moto, bucket):
    r = moto.s3.list_objects_v2(Bucket=bucket)
    return [c["Key"] for c in r.get("Contents", [])
            if not kk.is_head_key(c["Key"])]


def checkpoints(state_dir):
    d = os.path.join(state_dir, "checkpoints")
    try:
        return [f for f in os.listdir(d) if not f.startswith(".")]
    except OSError:
        return []


def refused(moto, keeper, bucket, label, wait=6):
    """Run keeper against an endpoint it must not trust: a certificate
    error is logged, nothing is archived, no checkpoint is written."""
    t0 = time.monotonic()
    keeper.start()

    def errors():
        # not the per-attempt debug lines (-v): the event an operator sees
        return [line for line in kf.log_lines(keeper, CERT_RE)
                if not re.search(r": retry \d+ in ", line)]
    lines = kk.wait_until(errors, 30, 0.2)
    diag("%s: first certificate error line after %.1fs"
         % (label, time.monotonic() - t0))
    time.sleep(wait)  # retries happen meanwhile; none may get through
    ok(keeper.running(), "%s: the keeper keeps running (retrying)" % label,
       *keeper.tail(20))
    ok(lines, "%s: a certificate error is logged" % label, *keeper.tail(20))
    for line in (lines or [])[:1]:
        diag("%s: %s" % (label, line.split(": ", 1)[-1][-200:]))
    keys = bucket_keys(moto, bucket)
    ok(not keys, "%s: nothing archived" % label, *keys[:5])
    t1 = time.monotonic()
    rc = keeper.stop(30)
    took = time.monotonic() - t1
    ok(rc == 0 and took <= SHUTDOWN_TIMEOUT + 1,
       "%s: SIGTERM: exits 0 within shutdown_timeout = %ds (after %.1fs)"
       % (label, SHUTDOWN_TIMEOUT, took), "exit code %s" % rc,
       *keeper.tail(20))
    ok(not keeper.leftovers(), "%s: no worker left behind" % label)
    ck = checkpoints(keeper.state_dir)
    ok(not ck, "%s: no checkpoint written (nothing lost)" % label, *ck)
    ok(not kf.outbox_entries(keeper.state_dir),
       "%s: no notification pending" % label)


def archived(moto, keeper, stream, bucket, put, label, more=None):
    keeper.start()
    if more is not None:
        time.sleep(2)
        put = put + more()
    kf.wait_archived(moto, bucket, len(put), ARCHIVE_TIMEOUT, label)
    rc = keeper.stop(30)
    ok(rc == 0, "%s: SIGTERM: exits 0" % label, "exit code %s" % rc,
       *keeper.tail(20))
    ok(not keeper.leftovers(), "%s: no worker left behind" % label)
    bad = kf.log_lines(keeper, r"(?i)certificate")
    ok(not bad, "%s: no certificate error logged" % label, *bad[:3])
    san = keeper.sanitizer_reports()
    ok(not san, "%s: no sanitizer report" % label, *san[:5])
    kf.verify_archive(moto, bucket, stream, PREFIX, put, label)


def check_certs(tmp, ca, other_ca, server, wrong):
    """The fixtures are what the scenarios assume (issue 12 item 16: this
    used to be ok(True)): server verifies with ca, not with other_ca, and
    names 127.0.0.1 while wrong does not. True, or a string saying what is
    off."""
    def verify(cafile, cert, *extra):
        return subprocess.run(["openssl", "verify", "-CAfile", cafile] +
                              list(extra) + [cert], capture_output=True,
                              timeout=30, cwd=tmp).returncode == 0
    if not verify(ca[0], server[0]):
        return "server certificate does not verify against the test CA"
    if verify(other_ca[0], server[0]):
        return "server certificate verifies against the other CA"
    if not verify(ca[0], server[0], "-verify_ip", "127.0.0.1"):
        return "server certificate is not for 127.0.0.1"
    if verify(ca[0], wrong[0], "-verify_ip", "127.0.0.1"):
        return "wrong-name certificate is valid for 127.0.0.1"
    return True


def scenario():
    kk.become_subreaper()
    if not kf.have_binaries():
        return
    # only the CAs named by the test may be trusted
    for v in ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE"):
        os.environ.pop(v, None)
    t_all = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="kk-tls-")
    try:
        ca = kf.make_ca(tmp, "kk-test-ca")
        other_ca = kf.make_ca(tmp, "kk-other-ca")
        server = kf.make_server_cert(tmp, ca, "moto-127", "IP:127.0.0.1")
        wrong = kf.make_server_cert(tmp, ca, "wrong-name",
                                    "DNS:not-this-host.invalid")
        made = check_certs(tmp, ca, other_ca, server, wrong)
        ok(made, "test CA and certificates made with openssl: the server "
           "certificate verifies against its CA only, for 127.0.0.1 only",
           made)
        if not made:
            return
        with kf.TlsMoto(server[0], server[1], ca[0]) as moto:
            run(moto, tmp, ca, other_ca, wrong)
    finally:
        kf.rmtree(tmp)
    diag("test_tls took %.1fs" % (time.monotonic() - t_all))


def run(moto, tmp, ca, other_ca, wrong):
    ok(moto.endpoint.startswith("https://"), "moto serves HTTPS at %s"
       % moto.endpoint)
    moto.check_auth()
    ep = moto.endpoint

    # 1 and 2: one state_dir, first without a CA, then with tls.ca_file
    s1, b1 = "tls1", "kk-tls1"
    moto.create_stream(s1, 2)
    moto.create_bucket(b1)
    put = put_n(moto, s1, 0, 200)
    state = tempfile.mkdtemp(prefix="kk-tls-state-")
    try:
        with kk.Keeper(moto, s1, b1, name="keeper-noca", tmp=state,
                       overrides=overrides(ep)) as keeper:
            refused(moto, keeper, b1, "no CA configured")
        with kk.Keeper(moto, s1, b1, name="keeper-cafile", tmp=state,
                       overrides=overrides(ep, **{"tls.ca_file": ca[0]})) \
                as keeper:
            archived(moto, keeper, s1, b1, put, "tls.ca_file",
                     more=lambda: put_n(moto, s1, 200, 100))
    finally:
        kf.rmtree(state)

    # 3: AWS_CA_BUNDLE
    s2, b2 = "tls2", "kk-tls2"
    moto.create_stream(s2, 2)
    moto.create_bucket(b2)
    put = put_n(moto, s2, 0, 150)
    with kk.Keeper(moto, s2, b2, name="keeper-bundle", overrides=overrides(ep),
                   env={"AWS_CA_BUNDLE": ca[0]}) as keeper:
        archived(moto, keeper, s2, b2, put, "AWS_CA_BUNDLE",
                 more=lambda: put_n(moto, s2, 150, 50))

    # 4: a CA that did not sign the server certificate
    s3, b3 = "tls3", "kk-tls3"
    moto.create_stream(s3, 1)
    moto.create_bucket(b3)
    put_n(moto, s3, 0, 20)
    with kk.Keeper(moto, s3, b3, name="keeper-otherca",
                   overrides=overrides(ep, **{"tls.ca_file": other_ca[0]})) \
            as keeper:
        refused(moto, keeper, b3, "another CA configured", wait=1)

    # 5: the right CA, the wrong name (a TLS proxy in front of moto)
    with FaultProxy(moto.port, upstream_tls_ca=ca[0], tls_cert=wrong[0],
                    tls_key=wrong[1]) as proxy:
        ctx = ssl.create_default_context(cafile=ca[0])
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), 5) as s:
                with ctx.wrap_socket(
                        s, server_hostname="not-this-host.invalid"):
                    good = True
        except (OSError, ssl.SSLError) as e:
            good = False
            diag("handshake: %s" % e)
        ok(good, "the wrong-name certificate is valid for its own name "
           "(so only the name is wrong)")
        with kk.Keeper(moto, s3, b3, name="keeper-wrongname",
                       overrides=overrides(proxy.endpoint,
                                           **{"tls.ca_file": ca[0]})) \
                as keeper:
            refused(moto, keeper, b3, "certificate for another name",
                    wait=1)
        reached = [r for r in proxy.log() if r["service"] != "other"]
        ok(not reached, "certificate for another name: no request was sent "
           "over the refused connection", repr(reached[:3]))


if __name__ == "__main__":
    sys.exit(kk.main(scenario))
