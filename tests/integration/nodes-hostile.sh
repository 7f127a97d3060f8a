#!/bin/sh
# Nodes under hostile input and churn, on a real mixnet on loopback
# (nym-directory, three nym-mixnodes, a nym-provider, tests/tools/mixsend):
#  - while a mixsend flow runs, the mixnode of layer 1 and the provider are
#    fed random bytes, handshakes cut short, oversized lengths, a connection
#    flood, a byte trickle and connections that never send
#    (tests/tools/junk.py); every message still arrives, the nodes live on,
#    and they close the silent connections (handshake timeout, 3 s);
#  - a flood of connections that never finish their handshake, from
#    another address, gets a bounded share of the provider's handshake
#    slots: honest messages still arrive, its memory stays small;
#  - a mixnode that stops announcing (SIGSTOP) leaves the topology of a
#    directory with --stale-seconds 1, and returns after SIGCONT.
. "$(dirname "$0")/lib.sh"

MIXNODE="$top_builddir/src/nym-mixnode"
PROVIDER="$top_builddir/src/nym-provider"
DIRECTORY="$top_builddir/src/nym-directory"
MIXSEND="$top_builddir/tests/tools/mixsend"
JUNK="$top_srcdir/tests/tools/junk.py"

if [ ! -x "$DIRECTORY" ] || [ ! -x "$MIXSEND" ]; then
	echo "1..0 # SKIP nym-directory or mixsend is not built"
	exit 0
fi
plan 18

H="$WORK/home"
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
CLIENT="$WORK/client.pem"

# topo_has URL PYTHON_EXPR: the topology at URL satisfies the expression over t
topo_has() {
	curl -s -m 2 "$1/api/presence/topology" >"$WORK/topo" &&
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$WORK/topo" "$2"
}
fast() {
	sed -i 's/^presence_interval_seconds = .*/presence_interval_seconds = 1/
s/^topology_interval_seconds = .*/topology_interval_seconds = 1/
s/^metrics_interval_seconds = .*/metrics_interval_seconds = 2/' "$1"
}
node() {
	"$1" run --id "$2" --home "$H" --log-level debug >>"$WORK/$2.log" 2>&1 &
	NODE_PID=$!
	track "$NODE_PID"
}
# port_of KIND ID
port_of() { sed -n 's/^port = //p' "$H/$1/$2/config.toml"; }

"$DIRECTORY" --listen "127.0.0.1:$DPORT" --stale-seconds 5 >"$WORK/directory.log" 2>&1 &
DIR_PID=$!
track "$DIR_PID"
check "directory is up" wait_for 5 sh -c "curl -s -m 1 $D/api/healthcheck | grep -q ok"

for l in 1 2 3; do
	"$MIXNODE" init --id "mix$l" --home "$H" --host 127.0.0.1 --port "$(free_port)" \
		--layer "$l" --directory "$D" >/dev/null 2>&1
	fast "$H/mixnodes/mix$l/config.toml"
	node "$MIXNODE" "mix$l"; eval "MIX${l}_PID=\$NODE_PID"
done
"$PROVIDER" init --id prov --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--directory "$D" >/dev/null 2>&1
fast "$H/providers/prov/config.toml"
node "$PROVIDER" prov; PROV_PID=$NODE_PID
check "the topology lists 3 mixnodes and the provider" wait_for 20 topo_has "$D" \
	'len(t["MixNodes"]) == 3 and len(t["MixProviderNodes"]) == 1'
CID=$("$MIXSEND" --directory "$D" --key "$CLIENT" register 2>>"$WORK/mixsend.err")
wait_for 5 topo_has "$D" "[c['pubKey'] for c in t['MixProviderNodes'][0]['registeredClients']] == ['$CID']"
sleep 1.2
MPORT=$(port_of mixnodes mix1)
PPORT=$(port_of providers prov)

# Connections that never send, held open through the whole flow.
for p in "$MPORT" "$PPORT"; do
	python3 "$JUNK" 127.0.0.1 "$p" silent 20 >"$WORK/silent-$p" 2>&1 &
	track $!
done
# The flow: 4 batches of 25 messages, 20 ms mean delay per hop, while junk flies.
seq 1 100 | sed 's/^/hostile-/' >"$WORK/msgs"
(
	for b in 0 1 2 3; do
		sed -n "$((b * 25 + 1)),$((b * 25 + 25))p" "$WORK/msgs" |
			"$MIXSEND" --directory "$D" --key "$CLIENT" --delay 20 send || exit 1
		sleep 0.5
	done
) 2>>"$WORK/mixsend.err" &
FLOW_PID=$!
track "$FLOW_PID"
junk_ok=1
for p in "$MPORT" "$PPORT"; do
	python3 "$JUNK" 127.0.0.1 "$p" trickle 3 >>"$WORK/junk.err" 2>&1 &
	track $!
	python3 "$JUNK" 127.0.0.1 "$p" random 30 2>>"$WORK/junk.err" || junk_ok=0
	python3 "$JUNK" 127.0.0.1 "$p" truncated 2>>"$WORK/junk.err" || junk_ok=0
	python3 "$JUNK" 127.0.0.1 "$p" flood 300 2>>"$WORK/junk.err" || junk_ok=0
done
check "junk was sent to the mixnode's and the provider's ports" [ "$junk_ok" = 1 ]
wait "$FLOW_PID"
check "the flow sent its 100 messages" [ $? = 0 ]
"$MIXSEND" --directory "$D" --key "$CLIENT" --expect 100 --timeout 20 pull --ack \
	>"$WORK/got" 2>>"$WORK/mixsend.err"
cut -f2- "$WORK/got" | sort >"$WORK/got.msgs"
sort "$WORK/msgs" >"$WORK/msgs.sorted"
check "all 100 messages arrived byte-identical" cmp -s "$WORK/got.msgs" "$WORK/msgs.sorted"
check "the nodes are still running" kill -0 "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID"
check "no junk was taken for a packet" lacks 'dropped a packet' \
	"$WORK/mix1.log" "$WORK/prov.log"
check "the mixnode logged the junk links as closed" \
	grep -q 'incoming link closed' "$WORK/mix1.log"
printf 'after1\nafter2\nafter3\n' | "$MIXSEND" --directory "$D" --key "$CLIENT" --delay 20 send 2>>"$WORK/mixsend.err"
check "messages sent after the junk arrive" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' --expect 3 --timeout 10 pull --ack 2>/dev/null | cut -f2 | sort | tr '\n' ' ' | grep -qx 'after1 after2 after3 '"
# closed_silent PORT: the node closed our silent connection (handshake timeout)
closed_silent() { grep -q '^[0-9]' "$WORK/silent-$1"; }
check "the mixnode closed a connection that never sent" wait_for 20 closed_silent "$MPORT"
check "the provider closed a connection that never sent" wait_for 20 closed_silent "$PPORT"
diag "silent connections closed after $(cat "$WORK/silent-$MPORT") s (mixnode), $(cat "$WORK/silent-$PPORT") s (provider)"

# A handshake flood (issue "network trust"): 1000 connections from
# 127.0.0.2 that never finish a handshake, kept up by reconnecting, while
# an honest client on 127.0.0.1 sends. The flood gets a bounded share of
# the provider's handshake slots; the honest messages arrive and the
# provider's memory stays small.
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
RSS0=$(rss_kib "$PROV_PID")
JUNK_SOURCE=127.0.0.2 python3 "$JUNK" 127.0.0.1 "$PPORT" hold 1000 8 >"$WORK/hold.out" 2>&1 &
HOLD_PID=$!
track "$HOLD_PID"
sleep 2
RSS_PEAK=$(rss_kib "$PROV_PID")
printf 'flood1\nflood2\nflood3\n' | "$MIXSEND" --directory "$D" --key "$CLIENT" --delay 20 send 2>>"$WORK/mixsend.err"
check "during a handshake flood from another address, messages arrive" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' --expect 3 --timeout 10 pull --ack 2>/dev/null | cut -f2 | sort | tr '\n' ' ' | grep -qx 'flood1 flood2 flood3 '"
r=$(rss_kib "$PROV_PID"); [ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r
wait "$HOLD_PID"
diag "the flood made $(cat "$WORK/hold.out") connections; provider RSS $RSS0 KiB before, at most $RSS_PEAK KiB during"
check "the flood's connections beyond the per-address budget were refused" \
	grep -q 'refusing connections: 64 handshakes in progress from one address' "$WORK/prov.log"
check "the provider's memory grew by less than 16 MiB under the flood" \
	[ $((RSS_PEAK - RSS0)) -lt 16384 ]

# Churn: a directory that forgets a node after 1 s, and a mixnode on it.
D2PORT=$(free_port)
D2="http://127.0.0.1:$D2PORT"
"$DIRECTORY" --listen "127.0.0.1:$D2PORT" --stale-seconds 1 >"$WORK/directory2.log" 2>&1 &
DIR2_PID=$!
track "$DIR2_PID"
wait_for 5 sh -c "curl -s -m 1 $D2/api/healthcheck | grep -q ok"
"$MIXNODE" init --id solo --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--layer 2 --directory "$D2" >/dev/null 2>&1
fast "$H/mixnodes/solo/config.toml"
node "$MIXNODE" solo; SOLO_PID=$NODE_PID
present='len(t["MixNodes"]) == 1'
absent='len(t["MixNodes"]) == 0'
check "a running mixnode is in the topology" wait_for 10 topo_has "$D2" "$present"
kill -STOP "$SOLO_PID"
# gone: absent now, and still absent 1.5 s later (no presence while stopped)
gone() { topo_has "$D2" "$absent" && sleep 1.5 && topo_has "$D2" "$absent"; }
check "a mixnode that stops announcing (SIGSTOP) leaves the topology" wait_for 6 gone
kill -CONT "$SOLO_PID"
check "after SIGCONT it returns" wait_for 6 topo_has "$D2" "$present"

for p in "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID" "$SOLO_PID"; do kill -TERM "$p"; done
st=0
for p in "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID" "$SOLO_PID"; do wait "$p" || st=$?; done
check "SIGTERM stops every node with status 0" [ "$st" = 0 ]
kill -TERM "$DIR_PID" "$DIR2_PID"; wait "$DIR_PID" "$DIR2_PID" 2>/dev/null
finish
