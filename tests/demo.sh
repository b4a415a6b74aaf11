#!/bin/sh
# tests/demo.sh ("make demo"): run kinesis-keeper against a local AWS
# emulator (moto on a free loopback port): create a stream, a bucket and a
# topic with a queue, feed sample records, run the keeper for a while, then
# show the archived objects and the notifications. Everything it starts, it
# stops; everything it writes is under build/demo/.

set -u
cd "$(dirname "$0")/.." || exit 1
sh tests/setup.sh demo || exit 1
exec python3 tests/demo.py "$@"
