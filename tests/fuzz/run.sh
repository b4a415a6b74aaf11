#!/bin/sh
# tests/fuzz/run.sh: build every libFuzzer target tests/fuzz/fuzz_NAME.c
# into build/fuzz (with tests/fuzz/build.sh) and run each for
# ${KK_FUZZ_SECONDS:-10} seconds (clang: ${KK_FUZZ_CC:-clang}) on a
# temporary copy of its seed corpus,
# tests/fuzz/corpus/NAME/ (and tests/fuzz/corpus/NAME_*/). Nothing is
# written into the repository. Prints "ok - fuzz NAME (N runs)" or
# "not ok - fuzz NAME" followed by the fuzzer's report.

set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${KK_FUZZ_SECONDS:-10}
out=$(pwd)/build/fuzz
# libFuzzer needs clang, whatever CC the rest of the build uses
fcc=${KK_FUZZ_CC:-clang}

if ! command -v "$fcc" >/dev/null 2>&1; then
	echo "not ok - fuzz: $fcc (clang) is not installed"
	exit 1
fi
if [ ! -f tests/fuzz/build.sh ]; then
	echo "not ok - fuzz: tests/fuzz/build.sh is missing"
	exit 1
fi

tmp=$(mktemp -d /tmp/kk-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# a report line for the TAP output: each line commented
quote() {
	sed 's/^/#   /'
}

# The targets are built one after another in the background while the
# previous one runs (a fuzzer keeps one core busy, the compiler the other):
# $tmp/NAME.rc appears once NAME's build is over.
(
	for f in tests/fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		target=$(basename "$f" .c)
		CC=$fcc sh tests/fuzz/build.sh "$out" "$target" \
		    >"$tmp/${target#fuzz_}.build" 2>&1
		echo $? >"$tmp/${target#fuzz_}.rc.tmp"
		mv "$tmp/${target#fuzz_}.rc.tmp" "$tmp/${target#fuzz_}.rc"
	done
) &
builder=$!
trap 'kill $builder 2>/dev/null; rm -rf "$tmp"' EXIT

status=0
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	target=$(basename "$f" .c)
	name=${target#fuzz_}
	while [ ! -f "$tmp/$name.rc" ] && kill -0 $builder 2>/dev/null; do
		sleep 0.2
	done
	if [ "$(cat "$tmp/$name.rc" 2>/dev/null)" != 0 ]; then
		echo "not ok - fuzz $name (build failed)"
		quote <"$tmp/$name.build"
		status=1
		continue
	fi
	corpus=$tmp/corpus-$name
	mkdir -p "$corpus"
	for d in tests/fuzz/corpus/"$name" tests/fuzz/corpus/"$name"_*; do
		[ -d "$d" ] && cp "$d"/* "$corpus"/ 2>/dev/null
	done
	# run in the temp dir: crash files and fuzz-*.log land there
	if (cd "$tmp" && "$out/$target" -max_total_time="$secs" -timeout=25 \
	    -rss_limit_mb=4096 -print_final_stats=1 \
	    -artifact_prefix="$tmp/$name-" "$corpus") >"$tmp/$name.log" 2>&1
	then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$tmp/$name.log" | tail -n 1)
		[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' \
		    "$tmp/$name.log" | tail -n 1)
		echo "ok - fuzz $name (${runs:-?} runs)"
	else
		echo "not ok - fuzz $name"
		# the report, not the corpus statistics before it
		grep -v -e '^#[0-9]' -e '^INFO: ' "$tmp/$name.log" |
		    tail -n 80 | quote
		for a in "$tmp/$name"-*; do
			[ -f "$a" ] || continue
			echo "#   input ($(basename "$a")), first 512 bytes:"
			head -c 512 "$a" | od -A d -c | head -n 40 | quote
		done
		status=1
	fi
done
wait $builder
exit $status
