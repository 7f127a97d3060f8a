#!/bin/sh
# An attacker who breaks the provider link (the provider itself, or an
# on-path RST) must not make nymd put more real packets on the wire:
# during a burst from alice to bob, every connection to the provider is
# killed 20 times (ss -K, while the provider is stopped so that packets
# are unconfirmed); every message arrives exactly once, and every
# unconfirmed packet went out again unchanged, none was built again for a
# new path (issue "network trust").
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
MESSAGES=60

if [ "$(id -u)" != 0 ] || ! ss -K dst 127.0.0.1 dport = 1 >/dev/null 2>&1; then
	echo "1..0 # SKIP killing sockets (ss -K) needs root and INET_DIAG_DESTROY"
	exit 0
fi
plan 7

drop_cleanup() {
	[ -f "$D/testnet.env" ] && "$TESTNET" down --dir "$D" --grace 2 >/dev/null 2>&1
	t_cleanup
}
trap drop_cleanup EXIT

testnet_up "a testnet with alice and bob starts" --clients alice,bob --delay-ms 5 --rate 10

# The burst takes about 6 s at 10 packets/s: break the link throughout,
# each time while the provider is stopped (SIGSTOP), so that packets are
# on the way and not yet confirmed when the link goes. The sends go on
# meanwhile, so that this holds however slowly a build sends (ASan).
(
	i=1
	while [ "$i" -le "$MESSAGES" ]; do
		"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "drop-msg-$i" \
			>/dev/null 2>>"$WORK/send.err" || echo "send $i failed" >>"$WORK/send.err"
		i=$((i + 1))
	done
) &
SENDER=$!
track "$SENDER"
n=0
while [ "$n" -lt 20 ]; do
	kill -STOP "$PROVIDER1_PID"
	sleep 0.3
	ss -K dst 127.0.0.1 dport = "$PROVIDER1_PORT" >/dev/null 2>&1
	kill -CONT "$PROVIDER1_PID"
	n=$((n + 1))
	sleep 0.2
done
wait "$SENDER"
check "alice queued $MESSAGES messages" [ ! -s "$WORK/send.err" ]

fetch_lines "$NYMCTL" "$CLIENT_bob_SOCKET" "$MESSAGES" "$WORK/got"
check "all $MESSAGES messages arrived" [ "$(grep -c '^drop-msg-' "$WORK/got")" = "$MESSAGES" ]
check "none arrived twice" [ -z "$(sort "$WORK/got" | uniq -d)" ]
grep 'provider link lost' "$CLIENT_alice_LOG" >"$WORK/lost" || true
diag "$(wc -l <"$WORK/lost") link losses with unconfirmed packets; $(sed -n 's/.*lost: \([0-9]*\) unconfirmed.*/\1/p' "$WORK/lost" | awk '{ s += $1 } END { print s + 0 }') packets went again unchanged"
# The sanitizer build sends so slowly that a cut may catch no real packet
# in flight; the normal build (and the mutation check) must see one.
if [ -s "$WORK/lost" ] || [ -z "${NYMD_SANITIZER_BUILD:-}" ]; then
	check "the link was lost with packets unconfirmed" [ -s "$WORK/lost" ]
else
	ok "the link was lost with packets unconfirmed # SKIP no cut caught a packet in flight in this sanitizer build"
fi
check "no lost packet was built again for a new path" \
	lacks ', [1-9][0-9]* are built again' "$WORK/lost"
check "alice's daemon is still running" kill -0 "$CLIENT_alice_PID"
finish
