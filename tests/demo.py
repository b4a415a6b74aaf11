"""make demo: kinesis-keeper against moto on 127.0.0.1, end to end."""
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "build", "demo")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit("emulator did not start: " + url)


def main():
    shutil.rmtree(DEMO, ignore_errors=True)
    os.makedirs(DEMO)
    port = free_port()
    ep = "http://127.0.0.1:%d" % port
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=open(os.path.join(DEMO, "moto.log"), "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    keeper = None
    try:
        wait_http(ep + "/moto-api/")
        sess = boto3.session.Session(aws_access_key_id="demo",
                                     aws_secret_access_key="demo-secret",
                                     region_name="us-east-1")
        kin = sess.client("kinesis", endpoint_url=ep)
        s3 = sess.client("s3", endpoint_url=ep)
        sns = sess.client("sns", endpoint_url=ep)
        sqs = sess.client("sqs", endpoint_url=ep)
        kin.create_stream(StreamName="orders", ShardCount=2)
        kin.get_waiter("stream_exists").wait(StreamName="orders")
        s3.create_bucket(Bucket="my-archive")
        topic = sns.create_topic(Name="archive")["TopicArn"]
        qurl = sqs.create_queue(QueueName="archive-events")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
        print("emulator: moto at %s; stream orders (2 shards), bucket my-archive, "
              "topic archive -> queue archive-events" % ep)

        def put(n, start):
            for i in range(start, start + n):
                rec = {"order": i, "user": "user-%d" % (i % 7), "amount": i * 1.5}
                kin.put_record(StreamName="orders", PartitionKey="user-%d" % (i % 7),
                               Data=json.dumps(rec).encode())
        put(40, 0)
        conf = os.path.join(DEMO, "orders.conf")
        with open(conf, "w") as f:
            f.write("""# demo configuration (see kinesis-keeper.conf(5))
stream    = "orders";
region    = "us-east-1";
state_dir = "%s/state";
endpoints = { kinesis = "%s"; s3 = "%s"; sns = "%s"; cloudwatch = "%s"; sts = "%s"; };
credentials = { access_key_id = "demo"; secret_access_key = "demo-secret"; };
read   = { interval = "250ms"; };
batch  = { max_records = 25; max_age = "3s"; };
s3     = { bucket = "my-archive"; prefix = "kinesis/"; };
sns    = { topic_arn = "%s"; };
""" % (DEMO, ep, ep, ep, ep, ep, topic))
        keeper_bin = os.path.join(ROOT, "build", "kinesis-keeper")

        def show(args):
            print("$ build/kinesis-keeper %s" % " ".join(args))
            r = subprocess.run([keeper_bin] + args, capture_output=True,
                               text=True, timeout=60)
            sys.stdout.write(r.stdout + r.stderr)
            print("(exit status %d)\n" % r.returncode)
        # what the configuration will meet in AWS, before starting
        show(["check", conf])
        print("running: build/kinesis-keeper -d %s  (log: build/demo/keeper.log)" % conf)
        keeper = subprocess.Popen([os.path.join(ROOT, "build", "kinesis-keeper"), "-d", conf],
                                  stderr=open(os.path.join(DEMO, "keeper.log"), "w"),
                                  start_new_session=True)
        time.sleep(3)
        put(30, 40)
        time.sleep(5)
        show(["status", conf])
        keeper.send_signal(signal.SIGTERM)
        rc = keeper.wait(timeout=60)
        keeper = None
        print("keeper stopped with exit status %d\n" % rc)
        print("--- keeper log")
        sys.stdout.write(open(os.path.join(DEMO, "keeper.log")).read())
        print("\n--- archived objects in s3://my-archive")
        total = 0
        heads = []
        for o in s3.list_objects_v2(Bucket="my-archive").get("Contents", []):
            obj = s3.get_object(Bucket="my-archive", Key=o["Key"])
            if "/_keeper/" in "/" + o["Key"]:
                # the per-shard head object: where each shard stands
                heads.append("%s  %s" % (o["Key"], obj["Body"].read().decode()))
                continue
            lines = gzip.decompress(obj["Body"].read()).decode().splitlines()
            total += len(lines)
            print("%s  %d bytes, %s records, sha256 %s..." % (
                o["Key"], o["Size"], obj["Metadata"].get("records"),
                obj["Metadata"].get("sha256", "")[:16]))
            print("    first line: " + lines[0])
        print("\n--- head objects (the last object of each shard, for a keeper "
              "that lost its state_dir)")
        for h in heads:
            print(h)
        print("\n--- notifications received on the queue")
        seen = 0
        for _ in range(10):
            msgs = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                body = json.loads(m["Body"])
                note = json.loads(body["Message"])
                seen += 1
                print("%s records=%d stored_bytes=%d" % (note["uri"], note["records"],
                                                          note["stored_bytes"]))
                sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
        print("\n70 records put, %d archived, %d notifications" % (total, seen))
        return 0 if total == 70 else 1
    finally:
        if keeper is not None:
            keeper.kill()
        os.killpg(moto.pid, signal.SIGTERM)
        moto.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
