#!/bin/sh
# tests/run.sh: every test of the project, run by "make check" from the
# repository root. Each suite prints "ok - ..." / "not ok - ..." lines; this
# script streams them as they come, says when each suite finished with its
# own counts, adds them up and ends with "N passed, N failed".
# KK_SUITES (space-separated: unit config sigv4 fuzz pkg e2e crash) limits
# what runs.

set -u
cd "$(dirname "$0")/.." || exit 1
suites=${KK_SUITES:-"unit config sigv4 fuzz pkg e2e crash"}
out=$(mktemp -d /tmp/kk-check.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run() {	# name command...
	name=$1
	shift
	echo "# === $name"
	t0=$(date +%s)
	# streamed as it comes (a suite can run for minutes), kept for the sums
	{ "$@" 2>&1; echo $? >"$out/$name.rc"; } | tee "$out/$name.log"
	rc=$(cat "$out/$name.rc" 2>/dev/null || echo 1)
	# a suite that fails without saying which check failed still counts
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out/$name.log"; then
		echo "not ok - $name exited with status $rc" |
		    tee -a "$out/$name.log"
	fi
	echo "# === $name: $(grep -c '^ok ' "$out/$name.log") passed," \
	    "$(grep -c '^not ok' "$out/$name.log") failed" \
	    "($(( $(date +%s) - t0 ))s)"
}

has() { case " $suites " in *" $1 "*) return 0 ;; esac; return 1; }

sh tests/setup.sh check ||
    echo "not ok - test dependencies could not be installed" |
    tee "$out/setup.log"

if has unit; then
	for t in build/asan/tests/test_*; do
		[ -x "$t" ] || continue
		run "unit-$(basename "$t")" "$t"
	done
fi
if has sigv4; then
	run sigv4-oracle python3 tests/unit/sigv4_vectors.py --check \
	    tests/unit/sigv4_vectors.txt
fi
if has config && [ -f tests/config/run.sh ]; then
	run config sh tests/config/run.sh build/kinesis-keeper
fi
if has fuzz && [ -f tests/fuzz/run.sh ]; then
	run fuzz sh tests/fuzz/run.sh
fi
if has pkg && [ -f tests/pkg/run.sh ]; then
	run pkg sh tests/pkg/run.sh
fi
if has e2e && [ -f tests/e2e/run.sh ]; then
	run e2e sh tests/e2e/run.sh
fi
if has crash && [ -f tests/crash/crash.py ]; then
	run crash python3 tests/crash/crash.py
fi

passed=$(cat "$out"/*.log | grep -c '^ok ')
failed=$(cat "$out"/*.log | grep -c '^not ok')
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
