"""
bench/datagen.py: the benchmark's record data, generated deterministically
(a fixed seed per dataset) and cached under build/bench/data/. A dataset is
one shard's worth of GetRecords responses, already in wire form: for each
response, the text that goes between `{"Records":[` and `]`, so the replay
server only adds the iterator and MillisBehindLatest around it.

Datasets:
  logs1k     ~1 KiB JSON access-log lines (ids, latencies, user agents...),
             about 5x under gzip -6
  metrics100 ~100 B JSON metric events

Responses follow the GetRecords limits of real Kinesis: at most 10000
records and 10 MiB of data each.
"""
import base64
import json
import os
import random
import sys
import time

GEN_VERSION = 3
MAX_RECORDS_PER_RESPONSE = 10000
MAX_BYTES_PER_RESPONSE = 10 * 1024 * 1024
# 56-digit sequence numbers like real Kinesis; a shard's numbers increase
SEQ_BASE = 49590338271490256608559692538361571095921575989136588898
ARRIVAL_START_MS = 1795789805123        # 2026-11-27T..., the first record


def seq_number(shard_no, i, rnd):
    return str(SEQ_BASE + shard_no * 10 ** 44 + i * (1 << 22) +
               rnd.randrange(1 << 21))


def aws_timestamp(ms):
    """ApproximateArrivalTimestamp as AWS writes it: 1.795789805123E9."""
    d = str(ms)
    mant = d.rstrip("0")
    frac = mant[1:] or "0"
    return "%s.%sE%d" % (d[0], frac, len(d) - 4)


# -- access logs -------------------------------------------------------------

SERVICES = ["checkout-api", "cart-api", "search", "catalog", "payments",
            "accounts", "recommendations", "inventory", "shipping", "gateway"]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1"]
METHODS = ["GET"] * 14 + ["POST"] * 4 + ["PUT", "DELETE", "PATCH"]
ROUTES = [
    ("/api/v2/orders/{id}", "orders"), ("/api/v2/orders/{id}/items", "orders"),
    ("/api/v2/cart/{id}", "cart"), ("/api/v2/products/{id}", "catalog"),
    ("/api/v2/products/{id}/reviews", "catalog"), ("/api/v1/search", "search"),
    ("/api/v2/users/{id}/addresses", "accounts"), ("/api/v2/payments/{id}", "pay"),
    ("/api/v2/shipments/{id}/tracking", "shipping"), ("/healthz", "infra"),
    ("/api/v2/recommendations/{id}", "reco"), ("/api/v2/inventory/{id}", "inv"),
]
STATUSES = [200] * 80 + [201] * 5 + [204] * 3 + [304] * 4 + [400, 401, 403] + \
    [404] * 3 + [429, 500, 502, 503]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "okhttp/4.12.0", "Go-http-client/2.0", "python-requests/2.32.3",
    "ShopApp/5.14.2 (iOS 18.1; iPhone15,3; de_DE)",
    "ShopApp/5.14.1 (Android 14; SM-S918B; fr_FR)",
    "curl/8.5.0", "Apache-HttpClient/5.3.1 (Java/21.0.5)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
LANGS = ["de-DE,de;q=0.9,en;q=0.8", "en-US,en;q=0.9", "fr-FR,fr;q=0.9",
         "en-GB,en;q=0.8", "es-ES,es;q=0.9,en;q=0.5", "it-IT", "nl-NL,nl;q=0.9"]
COUNTRIES = [("DE", "Berlin"), ("DE", "M\u00fcnchen"), ("FR", "Paris"),
             ("GB", "London"), ("US", "Seattle"), ("ES", "Madrid"),
             ("IT", "Milano"), ("NL", "Amsterdam"), ("PL", "Krak\u00f3w"),
             ("SE", "G\u00f6teborg"), ("JP", "\u6771\u4eac")]
CACHE = ["HIT", "MISS", "MISS", "BYPASS", "EXPIRED"]
MESSAGES = [
    "request completed", "request completed", "request completed",
    "upstream responded slowly", "cache refreshed from origin",
    "rate limit close to threshold for client",
    "retrying upstream call after connection reset",
    "validation failed: field \"quantity\" must be positive",
    "payment provider returned a soft decline; asking the client to retry",
]
REFERERS = ["https://shop.example.com/", "https://shop.example.com/cart",
            "https://shop.example.com/checkout/payment",
            "https://www.google.com/", "", "android-app://com.example.shop/"]


def hexs(rnd, n):
    return "%0*x" % (n, rnd.getrandbits(4 * n))


def access_log(rnd, ms):
    svc = rnd.choice(SERVICES)
    route, area = rnd.choice(ROUTES)
    rid = rnd.randrange(1, 9_999_999)
    path = route.replace("{id}", str(rid))
    status = rnd.choice(STATUSES)
    lat = rnd.lognormvariate(2.6, 0.9)
    up = lat * rnd.uniform(0.55, 0.95)
    region = rnd.choice(REGIONS)
    c = rnd.choice(COUNTRIES)
    ua = rnd.choice(AGENTS)
    msg = rnd.choice(MESSAGES) if status < 400 else \
        "request failed with status %d after %d attempts" % (
            status, rnd.randrange(1, 4))
    host = "ip-10-%d-%d-%d.%s.compute.internal" % (
        rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), region)
    q = "" if rnd.random() < 0.5 else "page=%d&limit=%d&sort=%s" % (
        rnd.randrange(1, 40), rnd.choice([20, 50, 100]),
        rnd.choice(["price", "-created", "relevance"]))
    t = time.gmtime(ms // 1000)
    ts = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
        ms % 1000)
    d = {
        "@timestamp": ts, "level": "info" if status < 500 else "error",
        "service": svc, "env": "prod", "region": region,
        "host": host,
        "pod": "%s-%s-%s" % (svc, hexs(rnd, 9), hexs(rnd, 5)),
        "request_id": "%s-%s-4%s-%s-%s" % (hexs(rnd, 8), hexs(rnd, 4),
                                           hexs(rnd, 3), hexs(rnd, 4),
                                           hexs(rnd, 12)),
        "trace_id": hexs(rnd, 32), "span_id": hexs(rnd, 16),
        "parent_span_id": hexs(rnd, 16),
        "client_ip": "%d.%d.%d.%d" % (rnd.choice([81, 87, 91, 176, 185, 203]),
                                      rnd.randrange(256), rnd.randrange(256),
                                      rnd.randrange(1, 255)),
        "method": rnd.choice(METHODS), "path": path, "route": route,
        "query": q, "status": status,
        "latency_ms": round(lat, 3), "upstream_ms": round(up, 3),
        "bytes_in": rnd.randrange(0, 4096), "bytes_out": rnd.randrange(80, 65536),
        "user_id": "u-%07d" % rnd.randrange(2_000_000),
        "session": hexs(rnd, 24),
        "user_agent": ua, "referer": rnd.choice(REFERERS),
        "tls": rnd.choice(["TLSv1.3", "TLSv1.3", "TLSv1.2"]),
        "cache": rnd.choice(CACHE),
        "geo": {"country": c[0], "city": c[1]},
        "area": area,
        "headers": {"accept": "application/json",
                    "accept_language": rnd.choice(LANGS),
                    "x_forwarded_proto": "https"},
        "message": msg,
    }
    if area in ("orders", "cart", "pay") or rnd.random() < 0.2:
        d["order"] = {"id": "ord-%010d" % rnd.randrange(10 ** 10),
                      "items": rnd.randrange(1, 12),
                      "value": round(rnd.uniform(3, 900), 2),
                      "currency": rnd.choice(["EUR", "EUR", "GBP", "USD"])}
    if rnd.random() < 0.3:
        d["feature_flags"] = ["new-checkout", "fast-search",
                              "reco-v%d" % rnd.randrange(1, 5)]
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def access_log_pk(rnd, i):
    return "u-%07d" % rnd.randrange(2_000_000)


# -- metric events -----------------------------------------------------------

METRICS = ["http.server.duration", "http.server.requests", "cpu.user",
           "cpu.system", "mem.rss", "gc.pause", "db.pool.active",
           "queue.depth", "cache.hits", "cache.misses", "disk.io.wait",
           "net.tx.bytes", "net.rx.bytes", "jvm.threads", "kafka.lag"]
UNITS = {"http.server.duration": "ms", "gc.pause": "ms", "disk.io.wait": "ms",
         "mem.rss": "By", "net.tx.bytes": "By", "net.rx.bytes": "By",
         "cpu.user": "%", "cpu.system": "%"}


def metric_event(rnd, ms):
    m = rnd.choice(METRICS)
    v = round(rnd.lognormvariate(3, 1.2), rnd.choice([0, 1, 3]))
    return ('{"m":"%s","h":"web-%03d","v":%s,"t":%d,"u":"%s","svc":"%s",'
            '"pid":%d,"az":"%s"}' % (
                m, rnd.randrange(300), repr(v) if isinstance(v, float) else v,
                ms, UNITS.get(m, "1"), rnd.choice(SERVICES),
                rnd.randrange(1, 65536), rnd.choice("abc"))).encode()


def metric_pk(rnd, i):
    return "web-%03d" % rnd.randrange(300)


DATASETS = {
    # name: (record maker, partition key maker, total record bytes, records/ms)
    "logs1k": (access_log, access_log_pk, 512 * 10 ** 6, 5),
    "metrics100": (metric_event, metric_pk, 256 * 10 ** 6, 20),
}


def paths(datadir, name):
    return (os.path.join(datadir, name + ".bin"),
            os.path.join(datadir, name + ".json"))


def load_index(datadir, name):
    binp, idxp = paths(datadir, name)
    try:
        with open(idxp) as f:
            idx = json.load(f)
    except (OSError, ValueError):
        return None
    if idx.get("version") != GEN_VERSION or \
            idx.get("target_bytes") != DATASETS[name][2] or \
            not os.path.exists(binp) or \
            os.path.getsize(binp) != idx.get("file_bytes"):
        return None
    return idx


def generate(datadir, name, log=sys.stderr):
    """Build (or reuse) one dataset; returns its index."""
    idx = load_index(datadir, name)
    if idx is not None:
        return idx
    make, pkmake, target, per_ms = DATASETS[name]
    os.makedirs(datadir, exist_ok=True)
    binp, idxp = paths(datadir, name)
    rnd = random.Random("kinesis-keeper bench %s v%d" % (name, GEN_VERSION))
    t0 = time.time()
    total = nrec = off = 0
    responses = []
    raw_sizes = []
    with open(binp + ".tmp", "wb") as out:
        while total < target:
            parts = []
            rbytes = 0
            first = last = None
            while len(parts) < MAX_RECORDS_PER_RESPONSE and total < target:
                ms = ARRIVAL_START_MS + nrec // per_ms
                data = make(rnd, ms)
                if rbytes + len(data) > MAX_BYTES_PER_RESPONSE:
                    break
                seq = seq_number(0, nrec, rnd)
                pk = pkmake(rnd, nrec)
                parts.append('{"SequenceNumber":"%s","ApproximateArrival'
                             'Timestamp":%s,"Data":"%s","PartitionKey":"%s"}'
                             % (seq, aws_timestamp(ms),
                                base64.b64encode(data).decode(), pk))
                if len(raw_sizes) < 2000:
                    raw_sizes.append(len(data))
                first = first or seq
                last = seq
                rbytes += len(data)
                total += len(data)
                nrec += 1
            body = ",".join(parts).encode()
            out.write(body)
            responses.append({"off": off, "len": len(body), "n": len(parts),
                              "bytes": rbytes, "first": first, "last": last,
                              "last_ms": ARRIVAL_START_MS + (nrec - 1) // per_ms})
            off += len(body)
            print("\r  generating %s: %d MB" % (name, total // 10 ** 6),
                  end="", file=log, flush=True)
    os.replace(binp + ".tmp", binp)
    idx = {"version": GEN_VERSION, "name": name, "target_bytes": target,
           "records": nrec, "bytes": total, "file_bytes": off,
           "responses": responses,
           "mean_record_bytes": total / nrec}
    with open(idxp + ".tmp", "w") as f:
        json.dump(idx, f)
    os.replace(idxp + ".tmp", idxp)
    print("\r  generated %s: %d records, %.0f MB in %.0f s" % (
        name, nrec, total / 1e6, time.time() - t0), file=log)
    return idx


def sample_records(name, n):
    """The first n payloads of a dataset (for quick checks)."""
    make, pkmake, _, per_ms = DATASETS[name]
    rnd = random.Random("kinesis-keeper bench %s v%d" % (name, GEN_VERSION))
    out = []
    for i in range(n):
        out.append(make(rnd, ARRIVAL_START_MS + i // per_ms))
        seq_number(0, i, rnd)
        pkmake(rnd, i)
    return out


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bench/data"
    for n in sys.argv[2:] or DATASETS:
        generate(d, n)
