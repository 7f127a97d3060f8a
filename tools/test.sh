#!/bin/sh
# The whole test suite: make check in a normal build, then again in an
# AddressSanitizer + UndefinedBehaviorSanitizer build. Ends with one line
# "N passed, M failed, K skipped" counted over both.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
status=0

# The end of each failed test's log, so that CI's output alone explains it.
show_failed_logs() {
	grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null |
	while read -r trs; do
		log=${trs%.trs}.log
		echo "== ${log#./}, last 120 lines:"
		tail -n 120 "$log" | sed 's/^/| /'
	done
}

run_suite() {
	name=$1; shift
	echo "== $name build"
	if ! "$top/tools/build.sh" "$name" "$@"; then
		echo "== $name: build FAILED"
		return 1
	fi
	cd "$top/build/$name" || return 1
	find . -name '*.trs' -delete
	make -j"$(nproc)" check >check.out 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.out | grep -v '^PASS' || true
	grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' check.out || true
	if [ $rc -ne 0 ]; then
		show_failed_logs
		echo "== $name: make check FAILED (see build/$name/check.out and its *.log files)"
		return 1
	fi
	return 0
}

count() {
	# $1: result names to count; over both builds' TAP results
	cat "$top"/build/default/tests/*/*.trs "$top"/build/sanitize/tests/*/*.trs 2>/dev/null |
		grep -cE "^:test-result: ($1)" || true
}

run_suite default || status=1
run_suite sanitize --enable-sanitizers || status=1

passed=$(count 'PASS|XFAIL')
failed=$(count 'FAIL|ERROR|XPASS')
skipped=$(count 'SKIP')
# A build that failed before running its tests counts as a failure.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
