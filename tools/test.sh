#!/bin/sh
# The whole test suite: each test once where it says the most
# (mk/checksplit.am): make check-normal in a normal build (unit tests,
# corpus replays, the tests about time and load and the shipped library),
# make check-functional in an AddressSanitizer + UndefinedBehaviorSanitizer
# build (everything else, and the unit tests again; NYMD_CHECK_ALL=1 runs
# make check in both);
# then the unit tests and corpus replays under valgrind, then the mutation
# check (make mutants: one result per mutation), then a short run of every
# fuzz target (NYMD_FUZZ_SECONDS each, 10 by default), then the Debian
# packages and systemd units (as root), then make distcheck. Ends with one
# line "N passed, M failed, K skipped" counted over all of them.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
status=0
# Each suite's TAP results are kept here, so that a later suite in the
# same build directory (valgrind) does not overwrite what is counted.
results="$top/build/results"
rm -rf "$results"

keep_results() {
	mkdir -p "$results/$1"
	find . -name '*.trs' -exec cp --parents {} "$results/$1/" \;
}

# The end of each failed test's log, so that CI's output alone explains it.
show_failed_logs() {
	grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null |
	while read -r trs; do
		log=${trs%.trs}.log
		echo "== ${log#./}, each failed check and what follows it:"
		awk '/^not ok/ { n = 8 } n > 0 { print; n-- }' "$log" | head -n 80 | sed 's/^/| /'
		echo "== ${log#./}, last 120 lines:"
		tail -n 120 "$log" | sed 's/^/| /'
	done
}

# run_suite NAME TARGET [CONFIGURE-ARGS]: build/NAME built, make TARGET
run_suite() {
	name=$1; target=$2; shift 2
	[ "${NYMD_CHECK_ALL:-0}" = 1 ] && target=check
	echo "== $name build: make $target"
	if ! "$top/tools/build.sh" "$name" "$@"; then
		echo "== $name: build FAILED"
		return 1
	fi
	check_in "$name" "$name" "$target"
}

# check_in RESULTS BUILD TARGET: make TARGET (a make check) in build/BUILD,
# its results kept as RESULTS, its output in build/BUILD/TARGET.out.
check_in() {
	cd "$top/build/$2" || return 1
	find . -name '*.trs' -delete
	make -j"$(nproc)" "$3" >"$3.out" 2>&1
	rc=$?
	keep_results "$1"
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$3.out" | grep -v '^PASS' || true
	grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$3.out" || true
	if [ $rc -ne 0 ]; then
		show_failed_logs
		echo "== $1: make $3 FAILED (see build/$2/$3.out and its *.log files)"
		return 1
	fi
	return 0
}

count() {
	# $1: result names to count; over every suite's TAP results
	find "$results" -name '*.trs' -exec cat {} + 2>/dev/null |
		grep -cE "^:test-result: ($1)" || true
}

# Every fuzz target fuzzes for a while (libFuzzer, clang, in build-fuzz/)
# from its committed corpus; each target without a crash is one pass.
# NYMD_FUZZ_SECONDS=0 leaves this out.
fuzz_passed=0
fuzz_failed=0
run_fuzz() {
	secs=${NYMD_FUZZ_SECONDS:-10}
	[ "$secs" = 0 ] && return 0
	echo "== fuzz: each target ${secs}s from its corpus"
	cd "$top/build/default" || return 1
	make fuzz FUZZ_SECONDS="$secs" >fuzz.out 2>&1
	rc=$?
	for t in $(sed -n 's/^fuzz_\([a-z_]*\): [0-9]*s$/\1/p' fuzz.out); do
		if grep -q "^fuzz_$t: FOUND A CRASH" fuzz.out; then
			echo "FAIL: fuzz_$t"; fuzz_failed=$((fuzz_failed + 1))
			tail -n 60 "$top/build-fuzz/fuzz_$t.log" | sed 's/^/| /'
		else
			fuzz_passed=$((fuzz_passed + 1))
		fi
	done
	awk '/^fuzz_[a-z_]*: [0-9]*s$/ { t = $0 }
		/number_of_executed_units/ { print t ", " $2 " executions" }' fuzz.out
	if [ $rc -ne 0 ] && [ $fuzz_failed -eq 0 ]; then
		tail -n 30 fuzz.out
		echo "== fuzz: FAILED (see build/default/fuzz.out)"
		fuzz_failed=1
	fi
	[ $fuzz_failed -eq 0 ]
}

# The Debian packages built, linted and installed into a fresh root
# (tests/package/build-install.sh: root only), then the systemd units
# verified and their exposure checked (make systemd-verify). Each check
# counts. NYMD_PACKAGE_CHECK=0 leaves this out.
pkg_passed=0
pkg_failed=0
pkg_skipped=0
run_package() {
	[ "${NYMD_PACKAGE_CHECK:-1}" = 0 ] && return 0
	echo "== package: Debian packages in a fresh root, systemd units"
	cd "$top/build/default" || return 1
	if [ "$(id -u)" = 0 ]; then
		top_srcdir="$top" sh "$top/tests/package/build-install.sh" >package-check.out 2>&1
		rc=$?
		grep -E '^(not )?ok ' package-check.out | grep -v '^ok ' || true
		pkg_passed=$((pkg_passed + $(grep -c '^ok ' package-check.out)))
		nf=$(grep -c '^not ok ' package-check.out)
		if [ $rc -eq 77 ]; then
			echo "SKIP: package-check: $(grep '^SKIP' package-check.out | head -1)"
			pkg_skipped=$((pkg_skipped + 1))
		elif [ $rc -ne 0 ]; then
			[ "$nf" -eq 0 ] && nf=1
			tail -n 40 package-check.out | sed 's/^/| /'
		fi
		pkg_failed=$((pkg_failed + nf))
		# The systemd boot test skips alone where nspawn cannot boot.
		if grep -q '^# SKIPPED: the systemd boot test' package-check.out; then
			grep '^SKIP: ' package-check.out | tail -1
			pkg_skipped=$((pkg_skipped + 1))
		fi
		grep -E '^# (lintian: [0-9]|all )' package-check.out || true
	else
		echo "SKIP: package-check (needs root: apt-get, debootstrap, chroot)"
		pkg_skipped=$((pkg_skipped + 1))
	fi
	if command -v systemd-analyze >/dev/null 2>&1; then
		make systemd-verify >systemd-verify.out 2>&1
		rc=$?
		grep -E '^(verify|security) ' systemd-verify.out
		if [ $rc -eq 0 ]; then
			pkg_passed=$((pkg_passed + 1))
		else
			tail -n 20 systemd-verify.out | sed 's/^/| /'
			pkg_failed=$((pkg_failed + 1))
		fi
	else
		echo "SKIP: systemd-verify (systemd-analyze: Debian package systemd)"
		pkg_skipped=$((pkg_skipped + 1))
	fi
	[ $pkg_failed -eq 0 ]
}

# make distcheck: the tarball builds, runs the unit tests and one
# end-to-end test (the whole suite ran above), installs and uninstalls out
# of tree. One check. NYMD_DISTCHECK=0 leaves this out.
dist_passed=0
dist_failed=0
run_distcheck() {
	[ "${NYMD_DISTCHECK:-1}" = 0 ] && return 0
	echo "== distcheck: the tarball out of tree (unit tests, testnet.sh, manpages.sh)"
	cd "$top/build/default" || return 1
	unit=$(cd "$top" && ls tests/unit/test_*.c | sed 's/\.c$//' | tr '\n' ' ')
	if make -j"$(nproc)" distcheck \
	    TESTS="$unit tests/integration/testnet.sh tests/integration/manpages.sh" \
	    >distcheck.out 2>&1; then
		grep -A1 'archives ready for distribution' distcheck.out | tail -1
		dist_passed=1
		return 0
	fi
	grep -E '^(FAIL|ERROR):' distcheck.out || true
	tail -n 40 distcheck.out | sed 's/^/| /'
	echo "== distcheck FAILED (see build/default/distcheck.out)"
	dist_failed=1
	return 1
}

# The unit tests and fuzz corpus replays again under valgrind's memcheck
# (make check-valgrind) in the normal build. NYMD_VALGRIND=0 leaves this out.
run_valgrind() {
	[ "${NYMD_VALGRIND:-1}" = 0 ] && return 0
	echo "== valgrind: unit tests and corpus replays under memcheck"
	check_in valgrind default check-valgrind
}

# The standing mutation check (make mutants, tests/mutants/README.md):
# each protected behaviour broken in a scratch copy (build/default-mutants),
# only its tests run; each mutation killed is one pass, each survivor (or
# one that no longer applies) one failure. NYMD_MUTANTS=0 leaves this out.
run_mutants() {
	[ "${NYMD_MUTANTS:-1}" = 0 ] && return 0
	echo "== mutants: each protected behaviour broken in turn, its tests must fail"
	cd "$top/build/default" || return 1
	rm -f mutants.result
	make mutants >mutants.out 2>&1
	rc=$?
	grep -E '^(not ok|# |Bail out)' mutants.out || true
	if [ -f mutants.result ]; then
		mkdir -p "$results/mutants"
		cp mutants.result "$results/mutants/mutants.trs"
	fi
	if [ $rc -ne 0 ]; then
		echo "== mutants FAILED (see build/default/mutants.out and build/default-mutants/mutants.log)"
		return 1
	fi
	return 0
}

run_suite default check-normal || status=1
run_suite sanitize check-functional --enable-sanitizers || status=1
run_valgrind || status=1
run_mutants || status=1
run_fuzz || status=1
run_package || status=1
run_distcheck || status=1

passed=$(($(count 'PASS|XFAIL') + fuzz_passed + pkg_passed + dist_passed))
failed=$(($(count 'FAIL|ERROR|XPASS') + fuzz_failed + pkg_failed + dist_failed))
skipped=$(($(count 'SKIP') + pkg_skipped))
# A build that failed before running its tests counts as a failure.
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
