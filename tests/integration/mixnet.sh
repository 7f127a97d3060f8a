#!/bin/sh
# A real mixnet on loopback: nym-directory, three nym-mixnodes (one per
# layer) and a nym-provider, with tests/tools/mixsend as the client. It
# registers, sends Sphinx packets along provider -> L1 -> L2 -> L3 ->
# provider -> client and checks: messages arrive byte-identical in the
# right mailbox; replays are dropped (at the provider and at a mixnode,
# also after a kill -9); flipped header bits are dropped, flipped payload
# bits caught at the recipient; drop cover never reaches a mailbox; a
# provider killed mid-run keeps un-acked packets; an acked packet never
# comes back; SIGTERM stops every node cleanly. Every program runs in
# its sandbox (seccomp filter and no_new_privs, as /proc shows).
. "$(dirname "$0")/lib.sh"

MIXNODE="$top_builddir/src/nym-mixnode"
PROVIDER="$top_builddir/src/nym-provider"
DIRECTORY="$top_builddir/src/nym-directory"
MIXSEND="$top_builddir/tests/tools/mixsend"

if [ ! -x "$DIRECTORY" ]; then
	echo "1..0 # SKIP nym-directory is not built"
	exit 0
fi
plan 47

H="$WORK/home"
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
CLIENT="$WORK/client.pem"

# topo_has PYTHON_EXPR: the topology satisfies the expression over t
topo_has() {
	curl -s -m 2 "$D/api/presence/topology" >"$WORK/topo" &&
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$WORK/topo" "$1"
}

# count LOG REASON: how many packets LOG says were dropped for REASON
count() {
	grep -c "dropped a packet from .*: $2\$" "$WORK/$1.log"
}

# at_least SECONDS LOG REASON N
at_least() {
	wait_for "$1" sh -c "[ \$(grep -c 'dropped a packet from .*: $3\$' '$WORK/$2.log') -ge $4 ]"
}

# node KIND ID: start one (appending to $WORK/ID.log); sets NODE_PID.
# NODE_WRAPPER runs it under a tool, e.g. "strace -f -o FILE" (not
# valgrind, whose own system calls the node's seccomp filter kills).
node() {
	${NODE_WRAPPER:-} "$1" run --id "$2" --home "$H" --log-level debug >>"$WORK/$2.log" 2>&1 &
	NODE_PID=$!
	track "$NODE_PID"
}

# started LOG N: the LOG shows N starts (each start logs "listening on")
started() {
	wait_for 20 sh -c "[ \$(grep -c 'listening on' '$WORK/$1.log') -ge $2 ]"
}

# faster timers than the defaults, for a test that lasts seconds
fast() {
	sed -i 's/^presence_interval_seconds = .*/presence_interval_seconds = 1/
s/^topology_interval_seconds = .*/topology_interval_seconds = 1/
s/^metrics_interval_seconds = .*/metrics_interval_seconds = 2/' "$1"
}

send() { "$MIXSEND" --directory "$D" --key "$CLIENT" --delay 20 "$@" send 2>>"$WORK/mixsend.err"; }
pull() { "$MIXSEND" --directory "$D" --key "$CLIENT" "$@" pull 2>>"$WORK/mixsend.err"; }

"$DIRECTORY" --listen "127.0.0.1:$DPORT" --stale-seconds 5 >"$WORK/directory.log" 2>&1 &
DIR_PID=$!
track "$DIR_PID"
check "directory is up" wait_for 5 sh -c "curl -s -m 1 $D/api/healthcheck | grep -q ok"

ok_init=1
for l in 1 2 3; do
	"$MIXNODE" init --id "mix$l" --home "$H" --host 127.0.0.1 --port "$(free_port)" \
		--layer "$l" --directory "$D/api/presence/topology" >"$WORK/init-mix$l.out" 2>&1 || ok_init=0
	fast "$H/mixnodes/mix$l/config.toml"
done
# L1 serves its metrics (docs/mixnode.md, "Metrics").
MPORT1=$(free_port)
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$MPORT1\"/" "$H/mixnodes/mix1/config.toml"
"$PROVIDER" init --id prov --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--directory "$D" >"$WORK/init-prov.out" 2>&1 || ok_init=0
fast "$H/providers/prov/config.toml"
check "init of three mixnodes and a provider" [ "$ok_init" = 1 ]
check "init prints the public key" grep -q '^Our Public Key is: [A-Za-z0-9_-]\{43\}=$' "$WORK/init-prov.out"
check "the private key is 0600" [ "$(stat -c %a "$H/mixnodes/mix1/private_key.pem")" = 600 ]
check "init refuses to overwrite without --force" sh -c \
	"! '$MIXNODE' init --id mix1 --home '$H' --port 1 --layer 1 --directory $D 2>/dev/null"
check "an unknown config key is refused" sh -c "
	cp -r '$H' '$WORK/badhome' && echo 'colour = 1' >>'$WORK/badhome/mixnodes/mix1/config.toml' &&
	! '$MIXNODE' run --id mix1 --home '$WORK/badhome' 2>'$WORK/bad.err' && grep -q \"unknown key\" '$WORK/bad.err'"

for l in 1 2 3; do node "$MIXNODE" "mix$l"; eval "MIX${l}_PID=\$NODE_PID"; done
node "$PROVIDER" prov; PROV_PID=$NODE_PID
check "the topology lists 3 mixnodes and the provider" wait_for 20 topo_has \
	'len(t["MixNodes"]) == 3 and len(t["MixProviderNodes"]) == 1 and sorted(m["layer"] for m in t["MixNodes"]) == [1, 2, 3]'
check "run prints the public key" grep -q '^Our Public Key is: ' "$WORK/mix1.log"
# Each program installs its sandbox once started (docs/threat-model.md):
# the kernel shows a seccomp filter (mode 2) and no_new_privs.
sandboxed() {
	grep -q '^Seccomp:[[:space:]]*2$' "/proc/$1/status" &&
		grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$1/status"
}
all_sandboxed() {
	for p in "$DIR_PID" "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID"; do
		sandboxed "$p" || { diag "pid $p: $(grep -E '^(Seccomp|NoNewPrivs):' "/proc/$p/status" | tr '\n' ' ')"; return 1; }
	done
}
check "the directory, the mixnodes and the provider run sandboxed (Seccomp 2, NoNewPrivs 1)" all_sandboxed
# The nodes' Sphinx workers (src/node/work.c) are threads started once
# the sandbox is in: each has the filter too (one started before it
# would show Seccomp 0, and be outside Landlock as well).
threads_sandboxed() {
	for p in "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID"; do
		n=0
		for t in /proc/"$p"/task/*; do
			n=$((n + 1))
			sandboxed "$p/task/${t##*/}" || { diag "pid $p thread ${t##*/}: $(grep -E '^(Seccomp|NoNewPrivs):' "$t/status" | tr '\n' ' ')"; return 1; }
		done
		[ "$n" -ge 2 ] || { diag "pid $p: $n thread(s), no Sphinx worker"; return 1; }
	done
}
check "every thread of the mixnodes and the provider, their Sphinx workers too, runs sandboxed" threads_sandboxed
check "each says so in its log" sh -c "grep -q 'nym-directory sandbox: seccomp allow-list' '$WORK/directory.log' &&
	grep -q 'nym-mixnode sandbox: seccomp allow-list' '$WORK/mix1.log' &&
	grep -q 'nym-provider sandbox: seccomp allow-list' '$WORK/prov.log'"

# A registration whose statement is bad in any way is refused by the
# provider (the presence check below then lists only the good client).
refused_all() {
	for m in flip other-provider future none; do
		if "$MIXSEND" --directory "$D" --key "$WORK/rogue.pem" --bad-statement "$m" \
			register >"$WORK/bad-$m.out" 2>&1; then
			echo "the provider took a registration with statement '$m'"; return 1
		fi
		grep -q "register: error" "$WORK/bad-$m.out" || { cat "$WORK/bad-$m.out"; return 1; }
	done
}
check "the provider refuses a registration statement that is forged, for another provider, from the future or missing" refused_all
CID=$("$MIXSEND" --directory "$D" --key "$CLIENT" register 2>>"$WORK/mixsend.err")
check "the client registers" [ -n "$CID" ]
check "the provider's presence lists the client" wait_for 5 topo_has \
	"[c['pubKey'] for c in t['MixProviderNodes'][0]['registeredClients']] == ['$CID']"
# every node must know every other before we send
sleep 1.2

# Messages of several lengths, up to the maximum of 2048 bytes.
python3 -c 'import random, string, sys
random.seed(7)
for n in (1, 17, 300, 2047, 2048):
    print("".join(random.choice(string.ascii_letters + string.digits + " !#$%&()*+,-./:;<=>?@[]^_{|}~") for _ in range(n)))' >"$WORK/msgs"
check "5 packets sent" send <"$WORK/msgs"
pull --expect 5 --timeout 10 >"$WORK/got1"
cut -f2- "$WORK/got1" | sort >"$WORK/got1.msgs"
sort "$WORK/msgs" >"$WORK/msgs.sorted"
check "they arrive in the client's mailbox byte-identical" cmp -s "$WORK/got1.msgs" "$WORK/msgs.sorted"
check "a pull without ack returns them again, same ids" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' pull --ack >'$WORK/got1b' 2>>'$WORK/mixsend.err' && cmp -s '$WORK/got1' '$WORK/got1b'"
check "a pull after the ack returns nothing" sh -c "[ -z \"\$('$MIXSEND' --directory '$D' --key '$CLIENT' --timeout 0 pull 2>/dev/null)\" ]"

# Another client's mailbox stays empty.
check "another client's mailbox is empty" sh -c \
	"[ -z \"\$('$MIXSEND' --directory '$D' --key '$WORK/other.pem' --timeout 0 pull 2>/dev/null)\" ]"

# Replays: at the provider (hop 0)...
r0=$(count prov replay)
printf 'r1\nr2\nr3\n' | send --replay
check "replayed packets are delivered once" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' --expect 3 --timeout 10 pull --ack 2>/dev/null | cut -f2 | sort | tr '\n' ' ' | grep -qx 'r1 r2 r3 '"
check "the provider dropped 3 replays" at_least 5 prov replay $((r0 + 3))

# ... and at a mixnode: enter at L1 with the provider's link key.
L1=$(python3 -c 'import json, sys
print([m["pubKey"] for m in json.load(open(sys.argv[1]))["MixNodes"] if m["layer"] == 1][0])' "$WORK/topo")
PKEY="$H/providers/prov/private_key.pem"
printf 'm1\nm2\n' | send --replay --entry "$L1" --link-key "$PKEY" --save "$WORK/l1.bin"
check "packets replayed to L1 are delivered once" sh -c \
	"'$MIXSEND' --directory '$D' --key '$CLIENT' --expect 2 --timeout 10 pull --ack 2>/dev/null | cut -f2 | sort | tr '\n' ' ' | grep -qx 'm1 m2 '"
check "mixnode L1 dropped 2 replays" at_least 5 mix1 replay 2

# L1 killed hard keeps its tags: the replay log outlives kill -9.
kill -KILL "$MIX1_PID"; wait "$MIX1_PID" 2>/dev/null
node "$MIXNODE" mix1; MIX1_PID=$NODE_PID
started mix1 2
# (from the log alone, or from a snapshot and the log after it, if the
# snapshot timer ran before the kill: either way not none)
check "L1 restarted after kill -9 recovers its tags (snapshot and log)" \
	wait_for 5 grep -Eq 'replay store of epoch [0-9]+: [1-9][0-9]* tags \((new, [1-9][0-9]*|snapshot loaded, [0-9]+) from the log\)' "$WORK/mix1.log"
wait_for 5 topo_has 'len(t["MixNodes"]) == 3' || true
sleep 0.3
"$MIXSEND" --directory "$D" --key "$CLIENT" --entry "$L1" --link-key "$PKEY" resend "$WORK/l1.bin" 2>>"$WORK/mixsend.err"
check "old packets sent to the restarted L1 are dropped as replays" at_least 5 mix1 replay 4
awk '/listening on/ { n++ } n >= 2' "$WORK/mix1.log" >"$WORK/mix1-restart.log"
check "the restarted L1 refused no link: it accepts once it has the topology" \
	lacks 'refused a link' "$WORK/mix1-restart.log"
check "and none of them reaches the mailbox" sh -c \
	"sleep 0.5; [ -z \"\$('$MIXSEND' --directory '$D' --key '$CLIENT' --timeout 0 pull 2>/dev/null)\" ]"

# A flipped header bit fails the MAC at the first hop.
m0=$(count prov "bad MAC")
printf 'f1\nf2\nf3\n' | send --flip-header
check "flipped header bits are dropped (bad MAC)" at_least 5 prov "bad MAC" $((m0 + 3))
# A flipped payload bit passes the hops and is caught at the recipient.
echo payload | send --flip-payload
pull --expect 1 --timeout 10 --ack >"$WORK/got2"
# By the payload's integrity check itself, not by the padding check after
# it (which a garbled payload would also fail).
check "a flipped payload bit is caught by the recipient" sh -c \
	"[ ! -s '$WORK/got2' ] && tail -1 '$WORK/mixsend.err' | grep -q 'pulled 1 packets, 1 failed to unwrap' &&
	 tail -2 '$WORK/mixsend.err' | head -1 | grep -q ': payload integrity check failed\$'"

# Drop cover ends at the provider.
c0=$(count prov "drop cover")
printf 'cover1\ncover2\ncover3\n' | send --cover
check "drop cover is discarded by the provider" at_least 5 prov "drop cover" $((c0 + 3))
check "drop cover never reaches a mailbox" sh -c \
	"[ -z \"\$('$MIXSEND' --directory '$D' --key '$CLIENT' --timeout 0 pull 2>/dev/null)\" ]"
# (A restarted node refuses links until its first topology arrives: the
# peer reconnects, nothing is dropped, so "refused a link" is not matched.)
check "no mixnode saw a DELIVER or dropped a good packet" lacks \
	'not for a node\|DELIVER at a mixnode\|queue full\|next hop .* is not in the topology' "$WORK"/mix*.log

# A provider killed mid-run keeps what it has not seen acked.
printf 'k1\nk2\n' | send --save "$WORK/k.bin"
pull --expect 2 --timeout 10 >"$WORK/got3"
check "two packets in the mailbox before the crash" [ "$(wc -l <"$WORK/got3")" = 2 ]
kill -KILL "$PROV_PID"; wait "$PROV_PID" 2>/dev/null
node "$PROVIDER" prov; PROV_PID=$NODE_PID
started prov 2
sleep 0.3
pull --timeout 0 >"$WORK/got4"
check "after kill -9 and restart the provider still has them, same ids" cmp -s "$WORK/got3" "$WORK/got4"
r1=$(count prov replay)
"$MIXSEND" --directory "$D" --key "$CLIENT" resend "$WORK/k.bin" 2>>"$WORK/mixsend.err"
check "the restarted provider drops the old packets as replays" at_least 5 prov replay $((r1 + 2))
"$MIXSEND" --directory "$D" --key "$CLIENT" ack $(cut -f1 "$WORK/got4") 2>>"$WORK/mixsend.err"
check "a pull after the ack never returns the acked packets" sh -c \
	"sleep 0.3; [ -z \"\$('$MIXSEND' --directory '$D' --key '$CLIENT' --timeout 0 pull 2>/dev/null)\" ]"

# A packet whose next hop no topology lists is dropped at once: the
# mixnode makes no peer or queue for a key anybody can name.
seq 40 | sed 's/^/u/' | "$MIXSEND" --directory "$D" --key "$CLIENT" --entry "$L1" \
	--link-key "$PKEY" --unknown-next send 2>>"$WORK/mixsend.err"

# The scrape: well-formed, and its counters are what the test sent.
curl -s -m 5 -o "$WORK/scrape" -w '%{content_type}' "http://127.0.0.1:$MPORT1/metrics" >"$WORK/scrape.ctype"
check "L1's /metrics is well-formed Prometheus text" sh -c \
	"grep -q '^text/plain; version=0.0.4' '$WORK/scrape.ctype' && python3 '$top_srcdir/tests/tools/promcheck.py' <'$WORK/scrape' >'$WORK/samples'"
# (L1 was restarted: its counters start there, as its log's second part.)
REPLAYS=$(awk '/listening on/ { n++ } n >= 2' "$WORK/mix1.log" | grep -c 'dropped a packet from .*: replay$')
diag "L1 since its restart: $(grep -E 'no_route|reason="replay"|epoch_keys ' "$WORK/samples" | tr '\n' ' ')(log: $REPLAYS replays)"
check "its counters match what was sent: 40 unknown next hops, the replays" sh -c \
	"[ $REPLAYS -ge 2 ] && grep -qx 'nym_node_packets_dropped_total{reason=\"no_route\"} 40' '$WORK/samples' && grep -qx 'nym_node_packets_dropped_total{reason=\"replay\"} $REPLAYS' '$WORK/samples' && grep -q '^nym_node_epoch_keys [23]$' '$WORK/samples'"
check "a metrics_listen that is not loopback is refused" sh -c "
	mkdir -p '$WORK/bm/mixnodes' && cp -r '$H/mixnodes/mix2' '$WORK/bm/mixnodes/mix2' &&
	sed -i 's/^metrics_listen = .*/metrics_listen = \"0.0.0.0:9\"/' '$WORK/bm/mixnodes/mix2/config.toml' &&
	! '$MIXNODE' run --id mix2 --home '$WORK/bm' 2>'$WORK/bm.err' && grep -q 'loopback' '$WORK/bm.err'"

check "metrics reach the directory" sh -c \
	"curl -s -m 2 '$D/api/metrics/mixes' | grep -q received"

# SIGTERM: every node stops with status 0 and writes its replay snapshot.
for p in "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID"; do kill -TERM "$p"; done
st=0
for p in "$MIX1_PID" "$MIX2_PID" "$MIX3_PID" "$PROV_PID"; do wait "$p" || st=$?; done
check "SIGTERM stops every node with status 0" [ "$st" = 0 ]
check "each node logged its stop" sh -c "[ \$(grep -l '] info: stopped' '$WORK'/mix?.log '$WORK/prov.log' | wc -l) = 4 ]"
check "L1 dropped the 40 packets for unknown next hops, with no peer for them" sh -c \
	"grep 'stats at stop' '$WORK/mix1.log' | tail -n 1 | grep -q ' no_route=40 in_flight=0 links_out=[0-9]*/1 '"
# Each epoch key has its own store (docs/epochs.md): the current one.
EPOCH_DIR=$(ls -d "$H"/mixnodes/mix2/data/epochs/* | sort -n | head -n 1)
check "the replay snapshot is written at stop" [ -s "$EPOCH_DIR/replay.bin" ]
check "the replay log is empty after the snapshot" [ "$(stat -c %s "$EPOCH_DIR/replay.log")" = 40 ]
check "no replay store of the long-term key is left" [ ! -e "$H/mixnodes/mix2/data/replay.bin" ]
kill -TERM "$DIR_PID"; wait "$DIR_PID" 2>/dev/null
check "no program was killed by its sandbox on the way" lacks 'killed by its sandbox' "$WORK"/*.log
finish
