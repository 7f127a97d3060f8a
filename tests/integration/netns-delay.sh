#!/bin/sh
# The link options of nym-testnet up --netns, on two testnets started side
# by side:
# - with --link-delay-ms 200 --link-jitter-ms 10, every packet a namespace
#   sends is delayed by 190 to 210 ms: a TCP handshake between two
#   namespaces takes at least two such delays, and a message from alice to
#   bob at least six (alice -> provider -> mix1 -> mix2 -> mix3 ->
#   provider, then bob's fetch and its answer), where without link delay
#   it takes about 0.6 s;
# - with --link-delay-ms 20 --link-jitter-ms 5 --link-loss 1 (issue 18's
#   setting), about 1% of 2000 datagrams from one namespace to another
#   are lost (5 to 100), and yet the README demo's message from alice reaches bob
#   (the 200-message burst on that setting is netns-burst.sh).
# With netem where the kernel has it, else through `nym-testnet links` in
# user space. Skipped only where namespaces cannot be made.
# shellcheck disable=SC1090,SC1091,SC2154
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/delay"
L="$WORK/loss"
DELAY_MS=200
JITTER_MS=10
MIN_HOP_MS=$((DELAY_MS - JITTER_MS))
DATAGRAMS=2000

need_netns
plan 8
if netem_works; then diag "links: netem"; else diag "links: no netem here, nym-testnet links"; fi

delay_cleanup() {
	for dir in "$D" "$L"; do
		[ -f "$dir/testnet.env" ] && "$TESTNET" down --dir "$dir" --grace 1 >/dev/null 2>&1
	done
	t_cleanup
}
trap delay_cleanup EXIT
trap 'exit 143' HUP INT TERM

# Both at once: the test's time is one start, not two.
"$TESTNET" up --dir "$D" --netns --clients alice,bob --delay-ms 1 --rate 20 \
	--timeout 60 --link-delay-ms "$DELAY_MS" --link-jitter-ms "$JITTER_MS" \
	>"$WORK/up-delay.out" 2>&1 &
up_delay=$!
"$TESTNET" up --dir "$L" --netns --clients alice,bob --delay-ms 5 --rate 20 \
	--timeout 60 --link-delay-ms 20 --link-jitter-ms 5 --link-loss 1 \
	>"$WORK/up-loss.out" 2>&1 &
up_loss=$!
wait "$up_delay"; rc_delay=$?
wait "$up_loss"; rc_loss=$?
[ "$rc_delay" = 0 ] || sed 's/^/# /' "$WORK/up-delay.out"
[ "$rc_loss" = 0 ] || sed 's/^/# /' "$WORK/up-loss.out"
check "up --netns --link-delay-ms $DELAY_MS --link-jitter-ms $JITTER_MS" [ "$rc_delay" = 0 ]
check "up --netns --link-delay-ms 20 --link-jitter-ms 5 --link-loss 1" [ "$rc_loss" = 0 ]
[ "$rc_delay" = 0 ] && [ "$rc_loss" = 0 ] || exit 1
for dir in "$D" "$L"; do
	for p in $(. "$dir/testnet.env" && for k in $TESTNET_PROCESSES; do eval "echo \$${k}_PID"; done); do
		[ "$p" != 0 ] && track "$p"
	done
done

# links_applied DIR: netem on every eth0, or the user-space links running
links_applied() {
	(
		. "$1/testnet.env"
		case $TESTNET_LINK_EMULATION in
		netem)
			tc -n "$MIX1_1_NETNS" qdisc show dev eth0 |
				grep -q "netem.*delay ${TESTNET_LINK_DELAY_MS}ms" ;;
		userspace)
			kill -0 "$LINKS_PID" &&
				grep -q "^nym-testnet links: 7 links, delay $TESTNET_LINK_DELAY_MS ms" "$LINKS_LOG" ;;
		*) exit 1 ;;
		esac
	)
}
recorded_and_applied() {
	(. "$D/testnet.env" && [ "$TESTNET_LINK_DELAY_MS" = "$DELAY_MS" ] &&
		[ "$TESTNET_LINK_JITTER_MS" = "$JITTER_MS" ] && [ "$TESTNET_LINK_LOSS" = 0 ]) &&
		(. "$L/testnet.env" && [ "$TESTNET_LINK_LOSS" = 1 ]) &&
		links_applied "$D" && links_applied "$L"
}
check "the link options are recorded and applied" recorded_and_applied

. "$D/testnet.env"
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
# deliver ENV TEXT: sends TEXT from alice to bob of the testnet whose
# testnet.env is ENV; prints how long it took until bob had it, in ms
deliver() {
	(
		. "$1"
		t0=$(now_ms)
		"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "$2" >/dev/null || exit 1
		# at most 30 s, however slow the machine
		while [ $(($(now_ms) - t0)) -lt 30000 ]; do
			"$NYMCTL" --socket "$CLIENT_bob_SOCKET" fetch >>"$WORK/got" 2>/dev/null
			if grep -qx "$2" "$WORK/got"; then
				echo $(($(now_ms) - t0))
				exit 0
			fi
			sleep 0.05
		done
		exit 1
	)
}
best=""
arrived=0
for n in 1 2 3; do
	ms=$(deliver "$D/testnet.env" "delayed-$n") || continue
	arrived=$((arrived + 1))
	diag "message $n took $ms ms"
	if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
check "all 3 messages arrive" [ "$arrived" = 3 ]
check "the fastest message took at least 6 x $MIN_HOP_MS ms" \
	[ "${best:-0}" -ge $((6 * MIN_HOP_MS)) ]

# --- loss -----------------------------------------------------------------------
. "$L/testnet.env"
# DATAGRAMS datagrams, one a millisecond, from alice's namespace to bob's;
# prints how many bob's namespace received.
ip netns exec "$CLIENT_bob_NETNS" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((sys.argv[1], 9999))
s.settimeout(3)
n = 0
try:
    while True:
        s.recv(64)
        n += 1
except socket.timeout:
    pass
print(n)' "$CLIENT_bob_ADDR" >"$WORK/udp.count" 2>"$WORK/udp.err" &
receiver=$!
sleep 0.5
ip netns exec "$CLIENT_alice_NETNS" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"x", (sys.argv[1], 9999))
    time.sleep(0.001)' "$CLIENT_bob_ADDR" "$DATAGRAMS" 2>>"$WORK/udp.err"
wait "$receiver"
got=$(cat "$WORK/udp.count")
diag "$((DATAGRAMS - ${got:-0})) of $DATAGRAMS datagrams lost (received: ${got:-none})"
# 1% of 2000: 20 expected, sd 4.5; a loaded machine may lose a few more
lost=$((DATAGRAMS - ${got:-$DATAGRAMS}))
check "about 1% of the datagrams are lost (5 to 100 of $DATAGRAMS)" \
	[ "$lost" -ge 5 -a "$lost" -le 100 ]
ms=$(deliver "$L/testnet.env" "hello bob")
check "despite the loss, the README demo's message reaches bob" [ -n "$ms" ]

finish
