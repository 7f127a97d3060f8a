#!/bin/sh
# Builds every fuzz target with clang + libFuzzer in build-fuzz/ and runs each
# for FUZZ_SECONDS on a copy of its committed corpus. New inputs that found
# coverage stay in build-fuzz/corpus/X; crashes land in build-fuzz/crashes/.
# Usage: run-fuzz.sh SRCDIR TARGET...
set -eu
src=$1; shift
seconds=${FUZZ_SECONDS:-60}
out=$src/build-fuzz
mkdir -p "$out"
cd "$out"
if [ ! -f Makefile ]; then
	CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined" \
		"$src/configure" --disable-shared --without-systemd >configure.log
fi
make -j"$(nproc)" fuzz-build >build.log
mkdir -p crashes
status=0
for t in "$@"; do
	mkdir -p "corpus/$t"
	cp -n "$src/tests/fuzz/corpus/$t/"* "corpus/$t/" 2>/dev/null || true
	echo "fuzz_$t: ${seconds}s"
	if ! "tests/fuzz/fuzz_$t" -max_total_time="$seconds" -artifact_prefix="crashes/$t-" \
		-print_final_stats=1 "corpus/$t" 2>"fuzz_$t.log"; then
		echo "fuzz_$t: FOUND A CRASH, see $out/crashes/ and $out/fuzz_$t.log"
		status=1
	fi
	grep -E 'stat::number_of_executed_units' "fuzz_$t.log" || true
done
exit $status
