#!/bin/sh
# nym-testnet up --netns --link-delay-ms 400 --link-jitter-ms 10
# --link-loss 1: every link delays what its namespace sends by 390 to
# 410 ms. A TCP handshake between two namespaces takes at least two such
# delays; a message from alice to bob at least six (alice -> provider ->
# mix1 -> mix2 -> mix3 -> provider, then bob's fetch and its answer),
# whereas without link delay it takes a fraction of that; and it arrives,
# whatever the loss. With netem where the kernel has it, else through
# `nym-testnet links` in user space. Skipped where namespaces cannot be
# made.
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
DELAY_MS=400
JITTER_MS=10
MIN_HOP_MS=$((DELAY_MS - JITTER_MS))

need_netns
plan 6
if netem_works; then diag "links: netem"; else diag "links: no netem here, nym-testnet links"; fi

delay_cleanup() {
	[ -f "$D/testnet.env" ] && "$TESTNET" down --dir "$D" --grace 1 >/dev/null 2>&1
	t_cleanup
}
trap delay_cleanup EXIT

testnet_up "up --netns with link delay, jitter and loss" --netns --clients alice,bob \
	--delay-ms 1 --rate 20 --timeout 60 \
	--link-delay-ms "$DELAY_MS" --link-jitter-ms "$JITTER_MS" --link-loss 1
for k in $TESTNET_PROCESSES; do eval "[ \$${k}_PID != 0 ] && track \$${k}_PID"; done

check "testnet.env records the link options" sh -c "
	[ '$TESTNET_LINK_DELAY_MS' = $DELAY_MS ] && [ '$TESTNET_LINK_JITTER_MS' = $JITTER_MS ] &&
	[ '$TESTNET_LINK_LOSS' = 1 ]"
# netem on every eth0, or every frame through the user-space links
links_applied() {
	case $TESTNET_LINK_EMULATION in
	netem)
		tc -n "$MIX1_1_NETNS" qdisc show dev eth0 | grep -q 'netem.*delay.*loss 1%' ;;
	userspace)
		kill -0 "$LINKS_PID" && grep -q "^nym-testnet links: 7 links, delay $DELAY_MS ms" "$LINKS_LOG" ;;
	*) return 1 ;;
	esac
}
check "the link options are applied ($TESTNET_LINK_EMULATION)" links_applied

# The fastest of five TCP handshakes from alice's namespace to the
# directory, in ms: a round trip, two link delays.
connect_ms() {
	ip netns exec "$CLIENT_alice_NETNS" python3 - "$DIRECTORY_HOST" "$DIRECTORY_PORT" <<'PY'
import socket, sys, time
best = None
for _ in range(5):
    t = time.monotonic()
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    ms = (time.monotonic() - t) * 1000
    best = ms if best is None else min(best, ms)
print(int(best))
PY
}
rtt=$(connect_ms)
diag "fastest TCP handshake between two namespaces: ${rtt:-?} ms"
check "a handshake between namespaces takes at least 2 x $MIN_HOP_MS ms" \
	[ "${rtt:-0}" -ge $((2 * MIN_HOP_MS)) ]

now_ms() { date +%s%3N; }
# deliver TEXT: sends TEXT from alice to bob and prints how long it took
# until bob had it, in ms (polling every 50 ms)
deliver() {
	t0=$(now_ms)
	"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "$1" >/dev/null || return 1
	i=0
	while [ "$i" -lt 600 ]; do
		"$NYMCTL" --socket "$CLIENT_bob_SOCKET" fetch >>"$WORK/got" 2>/dev/null
		if grep -qx "$1" "$WORK/got"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
best=""
arrived=0
for n in 1 2 3; do
	ms=$(deliver "delayed-$n") || continue
	arrived=$((arrived + 1))
	diag "message $n took $ms ms"
	if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
check "all 3 messages arrive despite the loss" [ "$arrived" = 3 ]
check "the fastest message took at least 6 x $MIN_HOP_MS ms" \
	[ "${best:-0}" -ge $((6 * MIN_HOP_MS)) ]
finish
