"""
bench/boto3_archiver.py: the archiver a user would write instead of
kinesis-keeper, as the benchmark's baseline. One shard, one process:
get_records in a loop, the same JSON-lines envelope as the keeper
({"seq","pk","ts","data"|"b64"}), gzip through zlib at the same level,
put_object with Content-MD5 and the same metadata, one SNS publish per
object. It stops when the shard is drained (no records, MillisBehindLatest
0) and prints one JSON line: its CPU time for the archiving loop alone
(after imports and client set-up) and what it archived.

Usage: python3 bench/boto3_archiver.py --endpoint URL --stream S
       --bucket B [--level 6] [--max-bytes 67108864] [--topic ARN]
"""
import argparse
import base64
import hashlib
import json
import resource
import time
import zlib

import boto3
from botocore.config import Config


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--level", type=int, default=6)
    ap.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--topic")
    a = ap.parse_args()
    cpu_start = cpu()
    kw = dict(endpoint_url=a.endpoint, region_name="us-east-1",
              aws_access_key_id="AKIDBENCH", aws_secret_access_key="benchsecret")
    kin = boto3.client("kinesis", **kw)
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
    sns = boto3.client("sns", **kw) if a.topic else None
    shard = kin.list_shards(StreamName=a.stream)["Shards"][0]["ShardId"]
    it = kin.get_shard_iterator(StreamName=a.stream, ShardId=shard,
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    cpu_loop = cpu()
    t_loop = time.monotonic()

    state = {"z": None, "out": [], "n": 0, "bytes": 0, "first": None,
             "last": None, "first_ts": None}
    totals = {"records": 0, "bytes": 0, "objects": 0, "stored": 0}

    def flush():
        if state["n"] == 0:
            return
        state["out"].append(state["z"].flush())
        body = b"".join(state["out"])
        key = "%s/%s-%s-%s.jsonl.gz" % (
            state["first_ts"].strftime("%Y/%m/%d/%H"), a.stream, shard,
            state["first"])
        sha = hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket=a.bucket, Key=key, Body=body,
                      ContentType="application/gzip",
                      ContentMD5=base64.b64encode(
                          hashlib.md5(body).digest()).decode(),
                      Metadata={"records": str(state["n"]),
                                "first-seq": state["first"],
                                "last-seq": state["last"], "sha256": sha})
        if sns:
            sns.publish(TopicArn=a.topic, Message=json.dumps({
                "version": 1, "stream": a.stream, "shard": shard,
                "bucket": a.bucket, "key": key, "records": state["n"],
                "bytes": state["bytes"], "stored_bytes": len(body),
                "sha256": sha, "first_seq": state["first"],
                "last_seq": state["last"]}),
                MessageAttributes={
                    "stream": {"DataType": "String", "StringValue": a.stream},
                    "shard": {"DataType": "String", "StringValue": shard}})
        totals["objects"] += 1
        totals["stored"] += len(body)
        state.update({"z": None, "out": [], "n": 0, "bytes": 0,
                      "first": None})

    while True:
        resp = kin.get_records(ShardIterator=it, Limit=10000)
        for r in resp["Records"]:
            data = r["Data"]
            ts = r["ApproximateArrivalTimestamp"]
            try:
                payload = json.dumps(json.loads(data), separators=(",", ":"),
                                     ensure_ascii=False)
                body = '"data":' + payload
            except ValueError:
                body = '"b64":"%s"' % base64.b64encode(data).decode()
            line = '{"seq":%s,"pk":%s,"ts":"%s.%03dZ",%s}\n' % (
                json.dumps(r["SequenceNumber"]), json.dumps(r["PartitionKey"]),
                ts.strftime("%Y-%m-%dT%H:%M:%S"), ts.microsecond // 1000, body)
            if state["z"] is None:
                state["z"] = zlib.compressobj(a.level, zlib.DEFLATED, 31)
                state["first"] = r["SequenceNumber"]
                state["first_ts"] = ts
            state["out"].append(state["z"].compress(line.encode()))
            state["last"] = r["SequenceNumber"]
            state["n"] += 1
            state["bytes"] += len(data)
            totals["records"] += 1
            totals["bytes"] += len(data)
            if state["bytes"] >= a.max_bytes:
                flush()
        it = resp.get("NextShardIterator")
        if it is None or (not resp["Records"] and
                          resp.get("MillisBehindLatest", 0) == 0):
            break
    flush()
    cpu_end = cpu()
    totals.update({"cpu_total": cpu_end - cpu_start,
                   "cpu_loop": cpu_end - cpu_loop,
                   "wall_loop": time.monotonic() - t_loop})
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
