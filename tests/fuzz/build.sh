#!/bin/sh
# build.sh OUTDIR [fuzz_NAME ...]: build the libFuzzer targets
# tests/fuzz/fuzz_*.c (or only those named) into OUTDIR, with clang,
# ASan and UBSan. Each target names the project sources it links in a
# comment line, and optionally the pkg-config packages it needs:
#   /* fuzz-sources: worker/record.c common/util.c common/log.c */
#   /* fuzz-pkgs: json-c libcrypto */
# (without fuzz-pkgs, the project's packages from the Makefile).
# Run a target: OUTDIR/fuzz_json -max_total_time=60 CORPUS_DIR
set -eu

usage() {
	echo "usage: $0 OUTDIR [fuzz_NAME ...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
out=$1
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/../.."

CC=${CC:-clang}
DEFAULT_PKGS="libcurl json-c libconfig zlib libcrypto"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wmissing-declarations -Wpointer-arith -Wcast-qual -Wwrite-strings \
    -Wformat=2 -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough \
    -Wno-unused-parameter -Icommon -Iworker -Isupervisor"

# the text of a "/* key: ... */" comment line in a file
field() {
	sed -n "s|^.*$1:[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*\*/.*\$|\1|p" \
	    "$2" | head -n 1
}

if [ $# -eq 0 ]; then
	set -- tests/fuzz/fuzz_*.c
else
	targets=
	for t in "$@"; do
		targets="$targets tests/fuzz/${t%.c}.c"
	done
	# shellcheck disable=SC2086
	set -- $targets
fi

status=0
for f in "$@"; do
	[ -f "$f" ] || { echo "$0: $f: no such target" >&2; exit 2; }
	name=$(basename "$f" .c)
	srcs=$(field fuzz-sources "$f")
	if [ -z "$srcs" ]; then
		echo "$0: $f: no fuzz-sources line" >&2
		status=1
		continue
	fi
	pkgs=$(field fuzz-pkgs "$f")
	[ -n "$pkgs" ] || pkgs=$DEFAULT_PKGS
	echo "  FUZZ    $out/$name"
	# shellcheck disable=SC2086
	if ! $CC $CFLAGS -o "$out/$name" "$f" $srcs \
	    $(pkg-config --cflags --libs $pkgs); then
		echo "$0: $name: build failed" >&2
		status=1
	fi
done
exit $status
