#!/bin/sh
# bench/run.sh ("make bench"): the performance benchmark of issue 8. Needs
# the programs built (make all), Python 3 and boto3; writes only under
# build/bench/. Arguments go to bench/bench.py (--quick, --rows, ...).
set -u
cd "$(dirname "$0")/.." || exit 1
exec python3 bench/bench.py "$@"
