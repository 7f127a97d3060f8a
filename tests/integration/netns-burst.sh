#!/bin/sh
# Issue 18's setting: nym-testnet up --netns --link-delay-ms 20
# --link-jitter-ms 5 --link-loss 1. The README demo's message from alice
# reaches bob, and a burst of 200 messages arrives exactly once, whatever
# the links lose. Skipped only where namespaces cannot be made.
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
N=200

need_netns
plan 4

burst_cleanup() {
	[ -f "$D/testnet.env" ] && "$TESTNET" down --dir "$D" --grace 1 >/dev/null 2>&1
	t_cleanup
}
trap burst_cleanup EXIT
trap 'exit 143' HUP INT TERM

testnet_up "up --netns --link-delay-ms 20 --link-jitter-ms 5 --link-loss 1" \
	--netns --clients alice,bob --delay-ms 5 --rate 20 --timeout 60 \
	--link-delay-ms 20 --link-jitter-ms 5 --link-loss 1
for k in $TESTNET_PROCESSES; do eval "[ \$${k}_PID != 0 ] && track \$${k}_PID"; done

received() {
	"$NYMCTL" --socket "$CLIENT_bob_SOCKET" fetch >>"$WORK/fetched" 2>/dev/null
	grep -qx 'hello bob' "$WORK/fetched"
}
"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" 'hello bob' >/dev/null
check "the README demo's message reaches bob" wait_for 30 received

# the burst on one connection to alice's socket
args=""
i=1
while [ "$i" -le "$N" ]; do
	args="$args send:$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER:burst-$i"
	i=$((i + 1))
done
# shellcheck disable=SC2086
accepted=$("$SOCKREQ" "unix:$CLIENT_alice_SOCKET" $args | grep -c '^send: ok')
check "alice accepted $N messages" [ "$accepted" = "$N" ]
fetch_lines "$NYMCTL" "$CLIENT_bob_SOCKET" "$N" "$WORK/burst"
got=$(grep -c '^burst-' "$WORK/burst")
diag "bob has $got of $N"
check "all $N arrive, each once" sh -c "[ $got = $N ] &&
	[ \$(grep '^burst-' '$WORK/burst' | sort -u | wc -l) = $N ]"
finish
