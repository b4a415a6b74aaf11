#!/bin/sh
# tests/setup.sh: install what the tests need on a fresh Debian machine
# (build and test packages with apt-get when run as root, emulators from npm
# into build/npm). Quiet when everything is there already.

set -u
cd "$(dirname "$0")/.." || exit 1
pkgs="build-essential pkg-config libcurl4-openssl-dev libjson-c-dev
libconfig-dev zlib1g-dev libssl-dev libdeflate-dev libzstd-dev libisal-dev
clang mandoc jq curl python3 zstd openjdk-17-jdk-headless"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "# installing:$missing"
		apt-get update -qq >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing \
		    >/dev/null || exit 1
	else
		echo "# missing Debian packages (run as root or install):$missing"
		exit 1
	fi
fi
python3 -c 'import moto, boto3' 2>/dev/null || {
	echo "# python3 moto and boto3 are needed (pip install moto[server] boto3)"
	exit 1
}
if [ ! -d build/npm/node_modules/kinesalite ] ||
    [ ! -d build/npm/node_modules/aws-kinesis-agg ] ||
    [ ! -d build/npm/node_modules/@duckdb/node-api ]; then
	mkdir -p build/npm
	echo "# npm install kinesalite aws-kinesis-agg @duckdb/node-api"
	npm install --silent --no-audit --no-fund --prefix build/npm \
	    kinesalite@3 aws-kinesis-agg@4 @duckdb/node-api >/dev/null 2>&1 || {
		echo "# npm install failed"
		exit 1
	}
fi
exit 0
