#!/bin/sh
# No test that cannot fail: every TAP result of every shell test under
# tests/ can also be "not ok" (tests/tools/okscan.py says what counts: an
# ok under a condition that could say not_ok, after a guard that says
# not_ok and leaves, at the end of an and-or list, or a skip under a
# condition). Positive control: the scanner finds each unconditional
# result of a sample made of the patterns once found in tests/ (an ok
# after a listing, a positive control that says ok in both branches, a
# check of `true`, a skip helper called under no condition), and nothing
# in the same sample written so that each can fail.
. "$(dirname "$0")/lib.sh"
plan 3

SCAN="$top_srcdir/tests/tools/okscan.py"
cat >"$WORK/bad.sh" <<'SH'
. lib.sh
plan 5
ok "seccomp: tested by test_sandbox ($(grep -c x y) cases)"
if [ "$found" = yes ]; then
	ok "keyd holds the key"
else
	ok "keyd's key not found either # SKIP"
fi
check "nothing at all" true
skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $1 # SKIP $2"; }
skip "a skip under no condition" "why"
SH
cat >"$WORK/good.sh" <<'SH'
. lib.sh
plan 6
check "seccomp: test_sandbox passes" "$top_builddir/tests/unit/test_sandbox"
if [ "$found" = yes ]; then
	ok "keyd holds the key"
else
	not_ok "keyd holds the key"
fi
check "something" test -s file
skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $1 # SKIP $2"; }
[ -x tool ] || skip "with the tool" "tool is not built"
if ! start_it; then
	not_ok "it starts"
	exit 1
fi
ok "it starts"
SH
python3 "$SCAN" "$WORK/bad.sh" >"$WORK/bad.out" 2>&1
sed 's/^/# /' "$WORK/bad.out"
check "positive control: the scanner finds the 4 unconditional results of a bad sample" \
	sh -c "grep -q ':3: ' '$WORK/bad.out' && grep -q ':5: ' '$WORK/bad.out' &&
		grep -q ':9: check of nothing' '$WORK/bad.out' && grep -q ':11: skip calls skip' '$WORK/bad.out' &&
		grep -q ' 4 unconditional\$' '$WORK/bad.out'"
check "and nothing in the same sample written so that each can fail" \
	python3 "$SCAN" "$WORK/good.sh"

find "$top_srcdir/tests" -name '*.sh' | sort >"$WORK/files"
python3 "$SCAN" $(cat "$WORK/files") >"$WORK/scan.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/scan.out"
check "every result of the $(wc -l <"$WORK/files") shell tests under tests/ can fail" test "$rc" = 0
finish
