#!/bin/sh
# nym-testnet partition / heal on a --netns testnet with one mixnode per
# layer: while mix2_1 is cut off (10 s, during a burst of 20), nothing
# alice sends reaches bob, the hub cannot reach mix2_1, and mix2_1's own
# metrics (scraped inside its namespace) show it receiving nothing; once
# it is healed, every message sent during the partition arrives, exactly
# once, and its counter moves again. Then the same for the provider of
# both clients (nymd keeps what it could not hand over, and sends it when
# the link comes back). partition and heal refuse an unknown name.
# Skipped only where namespaces cannot be made.
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
N=20

need_netns
plan 15

partition_cleanup() {
	[ -f "$D/testnet.env" ] && "$TESTNET" down --dir "$D" --grace 1 >/dev/null 2>&1
	t_cleanup
}
trap partition_cleanup EXIT
trap 'exit 143' HUP INT TERM

testnet_up "up --netns, one mixnode per layer, alice and bob" \
	--netns --metrics --clients alice,bob --delay-ms 5 --rate 10
for k in $TESTNET_PROCESSES; do eval "[ \$${k}_PID != 0 ] && track \$${k}_PID"; done

send_batch() {	# send_batch TAG: N messages TAG-1..TAG-N from alice to bob
	i=1
	while [ "$i" -le "$N" ]; do
		"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" \
			"$1-$i" >/dev/null 2>>"$WORK/send.err" || return 1
		i=$((i + 1))
	done
}
# count TAG: how many distinct TAG-* messages bob has; fetches first
count() {
	"$NYMCTL" --socket "$CLIENT_bob_SOCKET" fetch >>"$WORK/got" 2>/dev/null
	grep "^$1-" "$WORK/got" | sort -u | wc -l
}
all_of() { [ "$(count "$1")" -ge "$N" ]; }
hub_reaches() {	# hub_reaches ADDR PORT: a TCP connection from the hub
	ip netns exec "$TESTNET_NETNS_HUB" python3 -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$1" "$2" 2>/dev/null
}

# received NODE: the node's nym_node_packets_received_total, scraped on
# the loopback of its own namespace (which a partition does not cut)
received() {
	eval "ns=\$${1}_NETNS url=http://\$${1}_METRICS/metrics"
	ip netns exec "$ns" python3 -c '
import sys, urllib.request
for l in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if l.startswith("nym_node_packets_received_total "):
        print(int(float(l.split()[1])))' "$url"
}

check "partition of an unknown name: exit 1" \
	sh -c "! '$TESTNET' partition --dir '$D' nosuchnode >/dev/null 2>&1"

# --- a mixnode -----------------------------------------------------------------
"$TESTNET" partition --dir "$D" mix2_1 >"$WORK/cut.out" 2>&1
check "partition mix2_1: exit 0, recorded" sh -c "
	. '$D/testnet.env' && [ \"\$MIX2_1_PARTITIONED\" = 1 ]"
check "the hub no longer reaches mix2_1" sh -c "! $(command -v ip) netns exec '$TESTNET_NETNS_HUB' \
	python3 -c 'import socket; socket.create_connection((\"$MIX2_1_ADDR\", 1789), timeout=1)' 2>/dev/null"
sleep 1		# what was on the wire when the link went down
r1=$(received MIX2_1)
send_batch mix
sleep 9
r2=$(received MIX2_1)
check "while mix2_1 is cut off, no message reaches bob" [ "$(count mix)" = 0 ]
check "and its metrics show it: nothing received in 9 s ($r1, then $r2)" \
	sh -c "[ -n '$r1' ] && [ '$r1' -gt 0 ] && [ '$r1' = '$r2' ]"
"$TESTNET" heal --dir "$D" mix2_1 >>"$WORK/cut.out" 2>&1
check "heal mix2_1: the hub reaches it again" wait_for 5 hub_reaches "$MIX2_1_ADDR" 1789
wait_for 60 all_of mix
check "after heal, all $N messages arrive" [ "$(count mix)" = "$N" ]
r3=$(received MIX2_1)
check "and mix2_1 receives again ($r2, then $r3)" sh -c "[ -n '$r3' ] && [ '$r3' -gt '$r2' ]"

# --- the provider of both clients ---------------------------------------------
"$TESTNET" partition --dir "$D" provider1 >>"$WORK/cut.out" 2>&1
check "partition provider1: the hub no longer reaches it" \
	sh -c "! $(command -v ip) netns exec '$TESTNET_NETNS_HUB' \
	python3 -c 'import socket; socket.create_connection((\"$PROVIDER1_ADDR\", 1789), timeout=1)' 2>/dev/null"
send_batch prov
sleep 6
check "while provider1 is cut off, no message reaches bob" [ "$(count prov)" = 0 ]
check "alice's daemon keeps running meanwhile" kill -0 "$CLIENT_alice_PID"
"$TESTNET" heal --dir "$D" provider1 >>"$WORK/cut.out" 2>&1
check "heal provider1: recorded" sh -c ". '$D/testnet.env' && [ \"\$PROVIDER1_PARTITIONED\" = 0 ]"
wait_for 60 all_of prov
check "after heal, all $N messages arrive" [ "$(count prov)" = "$N" ]
check "no message arrived twice" [ -z "$(grep -e '^mix-' -e '^prov-' "$WORK/got" | sort | uniq -d)" ]
finish
