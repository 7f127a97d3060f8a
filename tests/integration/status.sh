#!/bin/sh
# Delivery status (docs/acks.md; docs/socket-api.md, status and watch) on
# a real local mixnet: nymctl send prints the message's id; nymctl status
# ID prints its state on one line; nymctl status --watch, started before
# the send, prints it queued, then sending, then delivered, in that order,
# and ends with status 0 on SIGTERM; status --watch ID follows one message
# until it is delivered; an id nymd does not know, one of the wrong
# length and one that is not an id at all are refused, each saying why.
# Needs acknowledgements (docs/acks.md): without them nothing is delivered.
. "$(dirname "$0")/lib.sh"
plan 17

B="$top_builddir/src"
D="$WORK/tn"
NYMCTL="$top_builddir/src/nymctl/nymctl"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 \
	--send-rate 50 --fetch-rate 20 --loop-rate 5
AS="$CLIENT_alice_SOCKET"
BS="$CLIENT_bob_SOCKET"
BOB="$CLIENT_bob_PUBKEY"
HEX32='[0-9a-f]\{32\}'

# --- bad ids: refused, saying why; nothing needs the mixnet for these
UNKNOWN=$(python3 -c 'import os; print(os.urandom(16).hex())')
"$NYMCTL" --socket "$AS" status "$UNKNOWN" >"$WORK/out" 2>"$WORK/err"
rc=$?
check "status of an id nymd does not know: exit 1, nymd's exception ($(cat "$WORK/err"))" sh -c \
	"test $rc = 1 && test ! -s '$WORK/out' && grep -qx 'nymctl: status: error from nymd: status: no message with id $UNKNOWN (never sent here, or its status was forgotten 7 days after it ended)' '$WORK/err'"
"$SOCKREQ" "unix:$AS" status:00112233445566778899aabbccddee details >"$WORK/out" 2>&1
check "status of a 15-byte id: an exception naming the length, then the connection answers" sh -c \
	"sed -n 1p '$WORK/out' | grep -qx 'exception: status: bad message id length: 15 bytes, expected 16' &&
	 sed -n 2p '$WORK/out' | grep -q '^details: '"
"$SOCKREQ" "unix:$AS" status: >"$WORK/out" 2>&1
check "status without an id: the same exception, 0 bytes" \
	grep -qx 'exception: status: bad message id length: 0 bytes, expected 16' "$WORK/out"
"$NYMCTL" --socket "$AS" status 0123456789abcdef >/dev/null 2>"$WORK/err"
rc=$?
check "nymctl status of something that is not an id: usage error (exit 2), saying what an id is" sh -c \
	"test $rc = 2 && grep -q 'is not a message id (32 hex digits, as send prints it)' '$WORK/err'"

# --- a watcher of every message, from before the send. It is ready once
# it shows a message sent after it started (another is sent every 2 s).
"$NYMCTL" --socket "$AS" status --watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
WATCHER=$!
track "$WATCHER"
watching() {
	w=$("$NYMCTL" --socket "$AS" send --to "$BOB" warm-up) &&
		wait_for 2 grep -q "^$w queued$" "$WORK/watch.out"
}
check "nymctl status --watch prints a message sent after it started, queued" wait_for 40 watching

ID=$("$NYMCTL" --socket "$AS" send --to "$BOB" "hello bob, watched" 2>"$WORK/err")
rc=$?
check "nymctl send: exit 0, and it prints the message's id, 32 hex digits ($ID)" sh -c \
	"test $rc = 0 && echo '$ID' | grep -qx '$HEX32'"
"$NYMCTL" --socket "$AS" status "$ID" >"$WORK/status.out" 2>"$WORK/err"
rc=$?
check "nymctl status ID: exit 0, one line, the id and its state ($(cat "$WORK/status.out"))" sh -c \
	"test $rc = 0 && test \$(wc -l <'$WORK/status.out') = 1 &&
	 grep -qx '$ID \(queued\|sending [01]/1 acknowledged\|delivered 1/1\)' '$WORK/status.out'"
B64=$(python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$ID")
check "nymctl status takes the id in base64 too, as the websocket's JSON writes it" sh -c \
	"'$NYMCTL' --socket '$AS' status '$B64' | grep -q '^$ID '"
check "bob receives the message" wait_for 30 sh -c \
	"'$NYMCTL' --socket '$BS' fetch >>'$WORK/bob.out' 2>/dev/null; grep -qx 'hello bob, watched' '$WORK/bob.out'"
check "nymctl status ID: delivered once bob's provider acknowledged it" wait_for 60 sh -c \
	"'$NYMCTL' --socket '$AS' status '$ID' | grep -qx '$ID delivered 1/1'"
wait_for 10 grep -q "^$ID delivered" "$WORK/watch.out"
SEQ=$(grep "^$ID " "$WORK/watch.out" | cut -d' ' -f2 | uniq | tr '\n' ' ')
grep "^$ID " "$WORK/watch.out" | sed 's/^/# watched: /' | head -n 20
check "the watcher printed it queued, then sending, then delivered ($SEQ)" \
	test "$SEQ" = "queued sending delivered "
check "and its lines are those status prints" sh -c \
	"grep '^$ID ' '$WORK/watch.out' | grep -vx '$ID queued' | grep -vx '$ID sending [01]/1 acknowledged' |
	 grep -vx '$ID delivered 1/1' | wc -l | grep -qx 0"

# --- status --watch ID: that message's state now, then its changes, until it ends
ID2=$("$NYMCTL" --socket "$AS" send --to "$BOB" "hello bob, followed")
timeout 90 "$NYMCTL" --socket "$AS" status --watch "$ID2" >"$WORK/one.out" 2>"$WORK/one.err"
rc=$?
check "status --watch ID ends once the message is delivered, with status 0 ($(tail -n 1 "$WORK/one.out"))" sh -c \
	"test $rc = 0 && tail -n 1 '$WORK/one.out' | grep -qx '$ID2 delivered 1/1' && ! grep -qv '^$ID2 ' '$WORK/one.out'"
timeout 30 "$NYMCTL" --socket "$AS" status --watch "$ID" >"$WORK/one.out" 2>&1
check "status --watch ID of a message delivered already: that line, exit 0" sh -c \
	"test $? = 0 && grep -qx '$ID delivered 1/1' '$WORK/one.out' && test \$(wc -l <'$WORK/one.out') = 1"

# --- the watcher ends on SIGTERM; nymd serves on
kill -TERM "$WATCHER"
wait "$WATCHER"
check "nymctl status --watch ends with status 0 on SIGTERM, having said nothing on stderr" sh -c \
	"test $? = 0 && test ! -s '$WORK/watch.err'"
check "alice's nymd still takes messages after the watcher closed" sh -c \
	"'$NYMCTL' --socket '$AS' send --to '$BOB' 'after the watcher' | grep -qx '$HEX32'"
finish
