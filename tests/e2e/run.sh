#!/bin/sh
# run.sh: run every end-to-end scenario (tests/e2e/test_*.py), pass their
# output through as each script finishes (each script's output in one piece),
# and end with the summed "N passed, N failed".
#   KK_BIN_DIR     binaries for every script (default: see KK_E2E_ASAN)
#   KK_E2E_ASAN    scripts (basenames without .py) run against the
#                  ASan/UBSan build in build/asan; the others use build
#   KK_E2E_JOBS    scripts run at once (default 3: they mostly wait on
#                  emulators and timers, so lanes overlap well on 2 cores)
# Exit status: non-zero if any check failed or any script exited non-zero.

dir=$(dirname "$0")
jobs=${KK_E2E_JOBS:-3}
asan=${KK_E2E_ASAN-"test_archive test_formats test_reshard test_supervision test_chaos test_tls test_ops test_truth test_hostile test_leases test_leases_smoke"}
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

# longest first, so the lanes finish together
order="test_faults test_leases test_leases_smoke test_chaos test_truth test_verify test_supervision test_tls test_metrics test_creds test_formats test_reshard test_archive test_ops test_status_live test_startup"
scripts=""
for n in $order; do
	[ -f "$dir/$n.py" ] && scripts="$scripts $n"
done
for t in "$dir"/test_*.py; do
	n=$(basename "$t" .py)
	case " $scripts " in *" $n "*) ;; *) scripts="$scripts $n" ;; esac
done

passed=0
failed=0
status=0
reported=""

# Print the output of every script that finished since the last call, in
# one piece each, and add up its counts.
report() {
	for n in $scripts; do
		[ -f "$out/$n.rc" ] || continue
		case " $reported " in *" $n "*) continue ;; esac
		reported="$reported $n"
		echo "# $n.py"
		cat "$out/$n.log"
		rc=$(cat "$out/$n.rc" 2>/dev/null || echo 1)
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$n.log" |
		    tail -n 1)
		f=0
		if [ -n "$line" ]; then
			p=${line%% passed*}
			f=${line#*passed, }
			f=${f%% failed*}
			passed=$((passed + p))
			failed=$((failed + f))
		fi
		if [ "$rc" -ne 0 ] && { [ -z "$line" ] || [ "$f" -eq 0 ]; }; then
			echo "not ok - $n.py exited with status $rc"
			failed=$((failed + 1))
		fi
		[ "$rc" -eq 0 ] || status=1
	done
}

running=0
for n in $scripts; do
	bin=${KK_BIN_DIR:-}
	if [ -z "$bin" ]; then
		bin=build
		case " $asan " in *" $n "*) bin=build/asan ;; esac
	fi
	: >"$out/$n.log"	# counted as started from now on
	(
		start=$(date +%s)
		KK_BIN_DIR=$bin python3 "$dir/$n.py" >"$out/$n.log.tmp" 2>&1
		rc=$?
		echo "# $n ($bin) took $(( $(date +%s) - start ))s" \
		    >>"$out/$n.log.tmp"
		mv "$out/$n.log.tmp" "$out/$n.log"
		echo $rc >"$out/$n.rc"	# last: the log is complete
	) &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait_one=1
		# wait for any one lane to finish (POSIX sh has no wait -n)
		while [ "$wait_one" -eq 1 ]; do
			report
			done_count=$(ls "$out"/*.rc 2>/dev/null | wc -l)
			started=$(ls "$out"/*.log 2>/dev/null | wc -l)
			if [ $((started - done_count)) -lt "$jobs" ]; then
				wait_one=0
			else
				sleep 1
			fi
		done
		running=$((started - done_count))
	fi
done
# the last lanes: report each as it ends
while [ "$(ls "$out"/*.rc 2>/dev/null | wc -l)" -lt \
    "$(echo $scripts | wc -w)" ] && [ -n "$(jobs -p)" ]; do
	report
	sleep 1
done
wait
report
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
