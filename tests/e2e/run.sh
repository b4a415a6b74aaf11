#!/bin/sh
# run.sh: run every end-to-end scenario (tests/e2e/test_*.py) with python3,
# pass its output through, and end with the summed "N passed, N failed".
# KK_BIN_DIR (default build) selects the binaries, e.g. KK_BIN_DIR=build/asan.
# Exit status: non-zero if any check failed or any script exited non-zero.

dir=$(dirname "$0")
tmp=$(mktemp) || exit 1
rcf=$(mktemp) || exit 1
trap 'rm -f "$tmp" "$rcf"' EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
status=0
for t in "$dir"/test_*.py; do
	[ -f "$t" ] || continue
	echo "# $(basename "$t")"
	# live output; the status travels through a file (no pipefail in sh)
	{ python3 "$t" 2>&1; echo $? >"$rcf"; } | tee "$tmp"
	rc=$(cat "$rcf")
	f=0
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed*}
		passed=$((passed + p))
		failed=$((failed + f))
	fi
	if [ "$rc" -ne 0 ] && { [ -z "$line" ] || [ "$f" -eq 0 ]; }; then
		echo "not ok - $(basename "$t") exited with status $rc"
		failed=$((failed + 1))
	fi
	[ "$rc" -eq 0 ] || status=1
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
