#!/bin/sh
# The Python module (python/nym, packaged as python3-nym; docs/python.md):
# its unit tests (tests/python/test_nym_wire.py: the golden frames, malformed
# input, a Client against a fake nymd), then, through the module only,
# against a real local mixnet (nym-testnet) with alice on her unix socket
# and bob on a TCP socket: details, clients, send alice -> bob and
# bob -> alice (fetch and watch), bad recipients (nymd's text), a nymd that
# does not answer (its rpcd stopped: Timeout), connection errors, and
# start() running carol's nymd. The checks themselves are in
# tests/integration/python-module.py; each prints PASS or FAIL.
. "$(dirname "$0")/lib.sh"
plan 20

B="$top_builddir/src"
D="$WORK/tn"
PYTHONPATH="$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
BOB_PID=""
down() {
	[ -s "$WORK/carol.pid" ] && kill -TERM "$(cat "$WORK/carol.pid")" 2>/dev/null
	[ -n "$BOB_PID" ] && kill -TERM "$BOB_PID" 2>/dev/null && wait "$BOB_PID" 2>/dev/null
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
}
trap 'down; t_cleanup' EXIT

# 1. Unit tests, no nymd.
if top_srcdir="$top_srcdir" python3 "$top_srcdir/tests/python/test_nym_wire.py" -v \
	>"$WORK/unit.out" 2>&1; then
	ok "unit tests of the module: $(grep -o '^Ran [0-9]* tests' "$WORK/unit.out")"
else
	not_ok "unit tests of the module"
	grep -v ' ok$' "$WORK/unit.out" | tail -n 40 | sed 's/^/# /'
fi
check "import nym takes only the standard library (no google.protobuf)" \
	python3 -c 'import sys, nym; assert not [m for m in sys.modules if m.startswith("google")]'

# 2. A mixnet; bob moves to a TCP socket, carol is stopped for start().
testnet_up "nym-testnet up with alice, bob and carol" --clients alice,bob,carol --delay-ms 2 --rate 20
gone() { ! kill -0 "$1" 2>/dev/null; }
kill -TERM "$CLIENT_bob_PID" "$CLIENT_carol_PID"
wait_for 10 gone "$CLIENT_bob_PID"
wait_for 10 gone "$CLIENT_carol_PID"
TPORT=$(free_port)
"$NYMD" socket --id bob --home "$TESTNET_CLIENTS_HOME" --socket tcp --port "$TPORT" >"$WORK/bob.out" 2>&1 &
BOB_PID=$!
track "$BOB_PID"
check "bob listens on TCP" wait_for 10 grep -q 'rpcd is ready' "$WORK/bob.out"
ALICE_RPCD=$(role_pid "$CLIENT_alice_PID" rpcd)

# alice's provider's key, as nymctl shows it (a cross-check of the module)
"$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" details >"$WORK/alice-details" 2>&1
ALICE_PROVIDER=$(sed -n 's/^provider: \([^ ]*\).*/\1/p' "$WORK/alice-details")

ALICE_SOCKET=$CLIENT_alice_SOCKET ALICE_ID=$CLIENT_alice_PUBKEY ALICE_PROVIDER=$ALICE_PROVIDER \
ALICE_RPCD=${ALICE_RPCD:-0} BOB_TCP=127.0.0.1:$TPORT BOB_ID=$CLIENT_bob_PUBKEY \
CAROL_ID=$CLIENT_carol_PUBKEY CAROL_PIDFILE=$WORK/carol.pid CLIENTS_HOME=$TESTNET_CLIENTS_HOME \
NYMD_BINARY=$NYMD \
	python3 "$top_srcdir/tests/integration/python-module.py" >"$WORK/checks.out" 2>"$WORK/checks.err"
[ -s "$WORK/carol.pid" ] && track "$(cat "$WORK/carol.pid")"
TAB=$(printf '\t')
while IFS=$TAB read -r res what why; do
	if [ "$res" = PASS ]; then
		ok "$what"
	else
		not_ok "$what"
		diag "$why"
	fi
done <"$WORK/checks.out"
if [ -s "$WORK/checks.err" ]; then
	sed 's/^/# stderr: /' "$WORK/checks.err" | tail -n 30
fi

# 3. The example on the module: alice by --id, bob by --tcp.
EX="$top_srcdir/examples/python/nym_hello.py"
python3 "$EX" --id alice --home "$TESTNET_CLIENTS_HOME" details >"$WORK/ex-details" 2>&1
check "examples/python/nym_hello.py details: alice's id by --id" \
	grep -qx "id: $CLIENT_alice_PUBKEY" "$WORK/ex-details"
python3 "$EX" --socket "$CLIENT_alice_SOCKET" send "$CLIENT_bob_PUBKEY" "hello bob, from nym_hello.py" \
	>"$WORK/ex-send" 2>&1
# (a loaded machine under ASan can take a while: 120 s)
python3 "$EX" --tcp "127.0.0.1:$TPORT" fetch --wait 120 >"$WORK/ex-fetch" 2>&1
if grep -qx sent "$WORK/ex-send" && grep -qx "message: hello bob, from nym_hello.py" "$WORK/ex-fetch"; then
	ok "nym_hello.py send, then fetch at bob over TCP: the message arrived"
else
	not_ok "nym_hello.py send, then fetch at bob over TCP: the message arrived"
	sed 's/^/# send: /' "$WORK/ex-send"
	sed 's/^/# fetch: /' "$WORK/ex-fetch"
	grep -v ' debug: ' "$WORK/bob.out" | tail -n 15 | sed 's/^/# bob: /'
	"$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" details 2>&1 | sed 's/^/# alice: /'
fi
RC=0
python3 "$EX" --tcp "127.0.0.1:$TPORT" send "not-an-id" "x" >/dev/null 2>"$WORK/ex-err" || RC=$?
check "nym_hello.py: an error is one line saying why, exit status 1" sh -c "test $RC = 1 &&
	grep -qx \"nym_hello: 'not-an-id' is not a client id (44 characters of URL-safe base64)\" '$WORK/ex-err'"
finish
