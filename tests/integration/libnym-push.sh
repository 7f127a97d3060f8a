#!/bin/sh
# libnym against a real local mixnet (nym-testnet): messages pushed to the
# application as they arrive (nym_wait_message(), examples/c/wait), one
# subscriber at a time, a pushed message gone from later fetches; a send
# naming the recipient's key alone (nymd completes the provider from its
# topology, and refuses an unknown key clearly); the maximum message size
# and the daemon's pid asked over the socket.
. "$(dirname "$0")/lib.sh"
plan 12

B="$top_builddir/src"
D="$WORK/tn"
WAIT="$top_builddir/examples/c/wait"
NYMCTL="$B/nymctl/nymctl"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT

testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 --rate 20
A="$CLIENT_alice_SOCKET"
BS="$CLIENT_bob_SOCKET"

# bob waits for two messages, pushed (at most 60 s each).
"$WAIT" "$BS" 2 60000 >"$WORK/bob.out" 2>"$WORK/bob.err" &
BOB_WAIT=$!
track "$BOB_WAIT"
check "the waiting connection learns bob's daemon pid ($CLIENT_bob_PID) and the maximum message size" \
	wait_for 10 sh -c "grep -qx 'daemon pid: $CLIENT_bob_PID' '$WORK/bob.out' &&
		grep -qx 'max message: 1048576 bytes' '$WORK/bob.out'"
sed 's/^/# bob: /' "$WORK/bob.out" "$WORK/bob.err" | head -3

# A second subscriber is refused while bob's first one waits.
wait_for 5 sh -c "'$NYMCTL' --socket '$BS' details >/dev/null 2>&1"
sleep 0.5
"$WAIT" "$BS" 1 2000 >"$WORK/second.out" 2>"$WORK/second.err"
check "a second subscriber is refused while one is attached" \
	grep -q "subscribe: another connection is subscribed" "$WORK/second.err"

# alice sends to bob's key alone: nymd finds bob's provider.
send_key() {
	"$WAIT" "$A" --to "$CLIENT_bob_PUBKEY" "$1" 0 >"$WORK/send.out" 2>"$WORK/send.err"
}
check "alice sends to bob's key alone (no provider): accepted" send_key "pushed one"
sed 's/^/# /' "$WORK/send.err" | head -3
send_key "pushed two"
check "bob's waiting connection gets both messages pushed, without polling" \
	wait_for 60 sh -c "grep -qx 'message: pushed one' '$WORK/bob.out' &&
		grep -qx 'message: pushed two' '$WORK/bob.out'"
check "and it exits once it has them" wait_for 10 sh -c "! kill -0 $BOB_WAIT 2>/dev/null"

# Pushed messages were removed as by a fetch.
"$NYMCTL" --socket "$BS" fetch >"$WORK/fetch.out" 2>"$WORK/fetch.err"
check "a later fetch does not return the pushed messages" sh -c \
	"! grep -q 'pushed' '$WORK/fetch.out'"

# A message that arrives while nobody waits stays stored, and is pushed
# when a subscriber comes (deliveries take well under 5 s here).
send_key "stored first"
sleep 5
"$WAIT" "$BS" 1 60000 >"$WORK/late.out" 2>"$WORK/late.err"
check "a message sent 5 s before the subscription is pushed to it" \
	grep -qx "message: stored first" "$WORK/late.out"

# The subscriber is free again once its connection closed.
"$WAIT" "$BS" 1 300 >"$WORK/again.out" 2>"$WORK/again.err"
check "after the subscriber left, a new one is accepted (and times out quietly)" sh -c \
	"grep -q 'NYM_ERR_TIMEOUT\\|did not answer in time' '$WORK/again.err' &&
	 ! grep -q 'another connection' '$WORK/again.err'"
sed 's/^/# /' "$WORK/again.err" | head -2

# An unknown key: refused by nymd, clearly.
UNKNOWN="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
"$WAIT" "$A" --to "$UNKNOWN" "lost" 0 >"$WORK/unknown.out" 2>"$WORK/unknown.err"
check "a key the topology does not list is refused, saying so" grep -q \
	"send: the recipient has no provider, and the topology does not list its key" "$WORK/unknown.err"
sed 's/^/# /' "$WORK/unknown.err" | head -2

# A seed request with a provider keeps its behaviour: bob's full config.
"$B/../examples/c/hello" "$A" "$CLIENT_bob_PUBKEY" "with a provider" >"$WORK/hello.out" 2>&1
check "a send with the provider (nym_send_id) works as before" \
	grep -q "^sent 15 bytes to $CLIENT_bob_PUBKEY" "$WORK/hello.out"
"$WAIT" "$BS" 1 60000 >"$WORK/last.out" 2>&1
check "and arrives, pushed" grep -qx "message: with a provider" "$WORK/last.out"
finish
