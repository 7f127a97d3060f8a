#!/bin/sh
# A node that joins a running mixnet is not taken for a client (nor
# refused) by the nodes that have not fetched a topology listing it yet.
# nym-directory, mixnodes mix1..mix3 (one a layer) and a provider run with
# a topology refresh of an hour, so that no node learns of the newcomers
# from its periodic fetch; tests/tools/mixsend is the client. While its
# messages flow (provider -> L1 -> L2 -> L3 -> provider), two mixnodes
# with keys of their own join: mix3b (layer 3) and mix2b (layer 2).
# Messages entering at mix3b reach the provider over a link the provider
# has never seen the key of; messages entering at mix2b reach mix3 or
# mix3b the same way. Every message is delivered, no node drops a packet
# as from a peer that may not send (not_allowed) or refuses a link, and
# the newcomers did relay the messages (positive control); the provider
# learnt of mix3b from a fetch that mix3b's link set off.
. "$(dirname "$0")/lib.sh"

MIXNODE="$top_builddir/src/nym-mixnode"
PROVIDER="$top_builddir/src/nym-provider"
DIRECTORY="$top_builddir/src/nym-directory"
MIXSEND="$top_builddir/tests/tools/mixsend"

if [ ! -x "$DIRECTORY" ] || [ ! -x "$MIXSEND" ]; then
	echo "1..0 # SKIP nym-directory or mixsend is not built"
	exit 0
fi
plan 13

H="$WORK/home"
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
CLIENT="$WORK/client.pem"
NODES="mix1 mix2 mix3 prov mix3b mix2b"

"$DIRECTORY" --listen "127.0.0.1:$DPORT" >"$WORK/directory.log" 2>&1 &
track $!
check "the directory is up" wait_for 5 sh -c "curl -s -m 1 $D/api/healthcheck | grep -q ok"

# topo_has PYTHON_EXPR: the directory's topology satisfies it (over t)
topo_has() {
	curl -s -m 2 "$D/api/presence/topology" >"$WORK/topo" &&
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$WORK/topo" "$1"
}
mixnodes() { topo_has "len(t['MixNodes']) == $1"; }
# The config of node ID (mixnode or provider)
conf() {
	case $1 in prov) echo "$H/providers/$1/config.toml" ;;
	*) echo "$H/mixnodes/$1/config.toml" ;; esac
}
# init ID LAYER: a node with a key of its own, refreshing its topology
# only every hour, serving its metrics
init() {
	if [ "$1" = prov ]; then
		"$PROVIDER" init --id prov --home "$H" --host 127.0.0.1 \
			--port "$(free_port)" --directory "$D" >"$WORK/init-$1.out" 2>&1
	else
		"$MIXNODE" init --id "$1" --home "$H" --host 127.0.0.1 --port "$(free_port)" \
			--layer "$2" --directory "$D" >"$WORK/init-$1.out" 2>&1
	fi || return 1
	port=$(free_port)
	eval "MPORT_$1=$port"
	sed -i "s/^presence_interval_seconds = .*/presence_interval_seconds = 1/
s/^topology_interval_seconds = .*/topology_interval_seconds = 3600/
s/^metrics_interval_seconds = .*/metrics_interval_seconds = 1/
s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$port\"/" "$(conf "$1")"
}
# start ID: runs node ID, logging to $WORK/ID.log
start() {
	case $1 in prov) exe=$PROVIDER ;; *) exe=$MIXNODE ;; esac
	"$exe" run --id "$1" --home "$H" --log-level debug >"$WORK/$1.log" 2>&1 &
	track $!
}
# metric ID NAME [REASON]: node ID's sample of NAME (of a drop reason)
metric() {
	eval "port=\$MPORT_$1"
	if [ -n "${3:-}" ]; then
		curl -s -m 2 "http://127.0.0.1:$port/metrics" |
			sed -n "s/^$2{reason=\"$3\"} \\([0-9]*\\)$/\\1/p"
	else
		curl -s -m 2 "http://127.0.0.1:$port/metrics" | sed -n "s/^$2 \\([0-9]*\\)$/\\1/p"
	fi
}

ok_init=1
for n in mix1:1 mix2:2 mix3:3 prov:0 mix3b:3 mix2b:2; do
	init "${n%:*}" "${n#*:}" || ok_init=0
done
check "init of five mixnodes and a provider" [ "$ok_init" = 1 ]

# The first network, each node started once the one before is listed.
start mix3; wait_for 20 mixnodes 1
start mix2; wait_for 20 mixnodes 2
start mix1; wait_for 20 mixnodes 3
start prov
check "the first network is listed: 3 mixnodes and a provider" wait_for 20 topo_has \
	'len(t["MixNodes"]) == 3 and len(t["MixProviderNodes"]) == 1'
wait_for 10 grep -q 'topology: 3 mixnodes' "$WORK/prov.log"

send() { "$MIXSEND" --directory "$D" --key "$CLIENT" --delay 20 "$@" send 2>>"$WORK/mixsend.err"; }
key_of() { sed -n 's/^Our Public Key is: //p' "$WORK/init-$1.out"; }
# The first network's path. (Which mixnode of a layer a client picks is
# not this test's subject: a node drops a packet for a next hop that its
# topology does not list yet, no_route, and fetches.)
# shellcheck disable=SC2086
FIRST="--via $(key_of mix1) --via $(key_of mix2) --via $(key_of mix3)"

CID=$("$MIXSEND" --directory "$D" --key "$CLIENT" register 2>>"$WORK/mixsend.err")
check "the client registers" [ -n "$CID" ]
# shellcheck disable=SC2086
printf 'w1\nw2\nw3\n' | send $FIRST
check "3 messages through the first network arrive" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' --expect 3 --timeout 20 pull --ack 2>>'$WORK/mixsend.err' | cut -f2 | sort | tr '\n' ' ' | grep -qx 'w1 w2 w3 '"

# Traffic flows through the first network while the nodes join.
(
	i=0
	while [ ! -f "$WORK/stop" ]; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		echo "flow$i" | send $FIRST && echo "flow$i" >>"$WORK/sent"
		sleep 0.2
	done
) &
FLOW_PID=$!
track "$FLOW_PID"

start mix3b
check "mix3b joins: the directory lists it" wait_for 20 mixnodes 4
start mix2b
check "mix2b joins: the directory lists it" wait_for 20 mixnodes 5
# The newcomers know the nodes they send to (their first fetch, at start).
wait_for 10 grep -q 'topology: [45] mixnodes, 1 providers' "$WORK/mix2b.log"
wait_for 10 grep -q 'topology: [34] mixnodes, 1 providers' "$WORK/mix3b.log"
ID3B=$(key_of mix3b)
ID2B=$(key_of mix2b)
PKEY="$H/providers/prov/private_key.pem"
python3 -c 'for i in range(20): print("via3b-%d" % i)' >"$WORK/via3b"
python3 -c 'for i in range(20): print("via2b-%d" % i)' >"$WORK/via2b"
# The provider's link key: the newcomers know it (a node of their topology).
sent_new=1
send --entry "$ID3B" --link-key "$PKEY" <"$WORK/via3b" || sent_new=0
send --entry "$ID2B" --link-key "$PKEY" <"$WORK/via2b" || sent_new=0
check "20 messages sent in at mix3b and 20 at mix2b" [ "$sent_new" = 1 ]
sleep 1
touch "$WORK/stop"
wait "$FLOW_PID"
cat "$WORK/via3b" "$WORK/via2b" "$WORK/sent" | sort >"$WORK/want"
diag "$(wc -l <"$WORK/sent") messages flowed through the first network meanwhile"
"$MIXSEND" --directory "$D" --key "$CLIENT" --expect "$(wc -l <"$WORK/want")" --timeout 30 \
	pull --ack 2>>"$WORK/mixsend.err" | cut -f2 | sort >"$WORK/got"
check "every message arrives, those through the newcomers included" cmp -s "$WORK/want" "$WORK/got"
comm -3 "$WORK/want" "$WORK/got" | head -5 | sed 's/^/# missing or extra: /'

no_drops() {
	for n in $NODES; do
		v=$(metric "$n" nym_node_packets_dropped_total not_allowed)
		[ "$v" = 0 ] || { diag "$n: not_allowed=$v"; return 1; }
	done
}
check "no node dropped a packet as from a peer that may not send (not_allowed)" no_drops
# refused_links: links from keys no topology of the node lists (stats line)
no_refusals() {
	for n in $NODES; do
		v=$(sed -n 's/.*stats.* refused_links=\([0-9]*\) .*/\1/p' "$WORK/$n.log" | tail -n 1)
		[ "$v" = 0 ] || { diag "$n: refused_links=$v"; return 1; }
	done
}
check "no node refused a newcomer's link (refused_links)" wait_for 3 no_refusals
relayed() { [ "$(metric "$1" nym_node_packets_relayed_total)" -ge 20 ] 2>/dev/null; }
both_relayed() { relayed mix3b && relayed mix2b; }
check "positive control: mix3b and mix2b relayed at least 20 packets each" both_relayed
check "the provider waited for a fetch before it answered mix3b's link, and took it for a node" \
	sh -c "grep -q 'link from $ID3B: not in the topology; fetching it before the answer' '$WORK/prov.log' &&
		grep -q 'link from $ID3B: a node' '$WORK/prov.log'"
grep 'stats' "$WORK/prov.log" | tail -n 1 | sed 's/^/# /'
finish
