#!/bin/sh
# tests/setup.sh [GOAL]: install what the tests need on a fresh Debian
# machine: the Debian packages of tests/packages.txt for GOAL (default
# check; see tests/deps.sh), and for "check" the emulators' npm packages
# into build/npm. "demo" needs nothing from npm (its emulator is moto).
# Quiet when everything is there already.

set -u
cd "$(dirname "$0")/.." || exit 1
goal=${1:-check}
sh tests/deps.sh "$goal" || exit 1
python3 -c 'import moto, boto3' 2>/dev/null || {
	echo "python3 moto and boto3 are missing (pip install 'moto[server]' boto3)" >&2
	exit 1
}
[ "$goal" = check ] || exit 0
if [ ! -d build/npm/node_modules/kinesalite ] ||
    [ ! -d build/npm/node_modules/aws-kinesis-agg ] ||
    [ ! -d build/npm/node_modules/@duckdb/node-api ]; then
	mkdir -p build/npm
	echo "# npm install kinesalite aws-kinesis-agg @duckdb/node-api"
	npm install --silent --no-audit --no-fund --prefix build/npm \
	    kinesalite@3 aws-kinesis-agg@4 @duckdb/node-api >/dev/null 2>&1 || {
		echo "npm install kinesalite aws-kinesis-agg @duckdb/node-api" \
		    "failed" >&2
		exit 1
	}
fi
exit 0
