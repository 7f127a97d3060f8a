#!/bin/sh
# Acknowledgements, retransmission and expiry (docs/acks.md) on a local
# testnet with one mixnode per layer, alice and bob; alice restarted with
# her metrics endpoint (metrics_listen).
#
# - Bad input, beside what other tests check (status of an unknown or
#   malformed id: status.sh; the default limit, 1048576: fragments.sh and
#   traffic.sh): with max_message_bytes = 4000 (a reload), `limits` says
#   4000, a send of 4001 bytes is refused naming 4000 and leaves no
#   message (no status row, no queue row); 4000 bytes are accepted.
# - Expiry: with message_expiry_seconds = 10, a send to a key whose
#   provider (32 random bytes) is not in the topology is accepted, queued,
#   and `nymctl status ID` says it failed, because "the recipient's
#   provider is not in the topology", 9 to 10 s (plus a margin) after;
#   nothing of it reached alice's provider; a message to bob sent at the
#   same moment is delivered.
# - Loss: the layer-2 mixnode, restarted with max_delay_ms = 29 while the
#   clients draw per-hop delays of mean 10 ms, drops every packet whose
#   delay rounds to more than 29 ms, e^(-29.5/10) = 5.2 % of them,
#   independently, messages and acknowledgements alike (each crosses
#   layer 2 once). alice sends bob 100 messages, 20 of them in 2 to 8
#   fragments: each reaches bob exactly once, byte for byte, each is
#   delivered in `nymctl status` with its count of packets, each packet
#   was acknowledged once, the mixnode's metrics show its drops (2 to
#   10 % of what it received), and alice's metrics the retransmissions:
#   packets sent per message packet (diag) over 1 and under 2 (about
#   1 / (1 - p)^2 = 1.11 expected).
#
# Why not link loss (netem, or --link-loss on a --netns testnet): node
# links are TCP, which sends a lost segment again; no Sphinx packet is
# lost. With --link-loss 5 on every link of a --netns testnet, 100
# messages took no retransmission at all. A mixnode that drops packets
# itself is what acknowledgements are for, and max_delay_ms is a drop
# that a real mixnode makes, at a rate the delays fix.
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"
plan 17

B="$top_builddir/src"
D="$WORK/tn"
NYMCTL="$B/nymctl/nymctl"
PYTHONPATH="$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT
trap 'exit 143' HUP INT TERM

DELAY_MS=10 MAX_DELAY_MS=29
N=100
testnet_up "nym-testnet up: one mixnode per layer, alice and bob, per-hop delay $DELAY_MS ms" \
	--clients alice,bob --delay-ms "$DELAY_MS" --send-rate 20 --fetch-rate 20 --loop-rate 5
AS="$CLIENT_alice_SOCKET"
BS="$CLIENT_bob_SOCKET"
BOB="$CLIENT_bob_PUBKEY"
ACONF="$D/clients-home/clients/alice/config/config.toml"
ADB="$D/clients-home/clients/alice/data/nymd.db"
HEX32='[0-9a-f]\{32\}'

# py CODE ARGS...: python with the module, the sockets and bob's id
py() { AS="$AS" BS="$BS" BOB="$BOB" WORK="$WORK" N="$N" python3 -c "$@"; }
scale=1
[ -n "${NYMD_SANITIZER_BUILD:-}" ] && scale=3
# sql QUERY: one value from alice's store (read only, while nymd has it open)
sql() {
	python3 - "$ADB" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute(sys.argv[2]).fetchone()[0])
PY
}
# metric URL NAME: a sample's value from a metrics endpoint (empty if absent)
metric() {
	curl -s -m 5 "$1/metrics" | awk -v n="$2" '$1 == n { print $2; exit }'
}

# --- alice again, with metrics, a 10 s expiry and a 4000-byte limit ---------
AM="http://127.0.0.1:$(free_port)"
kill -TERM "$CLIENT_alice_PID"
wait_for 10 sh -c "! kill -0 $CLIENT_alice_PID 2>/dev/null"
sed -i -e "s|^\[nymd\]\$|[nymd]\nmetrics_listen = \"${AM#http://}\"|" \
	-e 's/^message_expiry_seconds = .*/message_expiry_seconds = 10/' \
	-e 's/^max_message_bytes = .*/max_message_bytes = 4000/' "$ACONF"
grep -q '^max_message_bytes = 4000$' "$ACONF" ||
	sed -i 's/^\[nymd\]$/[nymd]\nmax_message_bytes = 4000/' "$ACONF"
"$B/nymd" run --id alice --home "$D/clients-home" >>"$WORK/alice.err" 2>&1 &
ALICE=$!
track "$ALICE"
alice_up() {
	[ "$(metric "$AM" nymd_netd_reporting)" = 1 ] &&
		[ "$(metric "$AM" nymd_provider_registered)" = 1 ]
}
check "alice restarted with metrics_listen, message_expiry_seconds = 10, max_message_bytes = 4000" \
	wait_for 30 alice_up

# --- bad input ---------------------------------------------------------------
out=$("$SOCKREQ" "unix:$AS" limits 2>&1)
check "limits says the configured max_message_bytes, 4000 ($out)" \
	sh -c "echo '$out' | grep -q 'max_message_bytes: 4000 '"
m0=$(sql "SELECT COUNT(*) FROM messages")
o0=$(sql "SELECT COUNT(*) FROM outgoing")
out=$("$SOCKREQ" "unix:$AS" "sendlen:$BOB:$CLIENT_bob_PROVIDER:4001" 2>&1)
check "4001 bytes: refused, naming the limit ($out)" \
	sh -c "echo '$out' | grep -qx 'exception: send: message too large: 4001 bytes, the maximum is 4000'"
check "and nothing of it is stored: no status row, no queue row" \
	sh -c "[ '$(sql "SELECT COUNT(*) FROM messages")' = '$m0' ] &&
		[ '$(sql "SELECT COUNT(*) FROM outgoing")' = '$o0' ]"
out=$("$SOCKREQ" "unix:$AS" "sendlen:$BOB:$CLIENT_bob_PROVIDER:4000" 2>&1)
check "4000 bytes: accepted" sh -c "echo '$out' | grep -qx 'send: ok'"

# --- expiry: a recipient whose provider is not in the topology --------------
# Once the 4000 bytes are acknowledged, alice's provider confirms only
# what follows.
queue_empty() { [ "$(metric "$AM" nymd_messages_queued)" = 0 ]; }
wait_for 30 queue_empty ||
	diag "alice still has packets queued: $(metric "$AM" nymd_messages_queued)"
s0=$(metric "$AM" nymd_messages_sent_total)
py '
import os, time, nym
from nym import wire
c = nym.connect_unix(os.environ["AS"], timeout=30)
key, prov = os.urandom(32), os.urandom(32)
nowhere = wire.ClientConfig(id=wire.id_from_key(key), pubkey=key,
    provider=wire.MixConfig(id=wire.id_from_key(prov), pubkey=prov))
t = time.time()
x = c.send(nowhere, b"to a provider nobody lists")
y = c.send_id(os.environ["BOB"], b"to bob, beside it")
print("%s %s %.3f" % (x.hex(), y.hex(), t))
' >"$WORK/expiry.ids" 2>"$WORK/expiry.err"
read -r X Y T0 <"$WORK/expiry.ids"
st=$("$NYMCTL" --socket "$AS" status "$X" 2>&1)
check "the send to an unknown provider is accepted, with an id, and queued ($st)" \
	sh -c "echo '$X' | grep -qx '$HEX32' && [ '$st' = '$X queued' ]"
failed() { "$NYMCTL" --socket "$AS" status "$X" 2>/dev/null | grep -q "^$X failed: "; }
wait_for 20 failed
T1=$(date +%s.%N)
LIMIT=$((20 * scale))
st=$("$NYMCTL" --socket "$AS" status "$X" 2>&1)
after=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$T0" "$T1")
expired() {
	echo "$st" | grep -q "^$X failed: .*the recipient's provider is not in the topology\$" &&
		python3 -c 'import sys; sys.exit(not 9 <= float(sys.argv[1]) <= float(sys.argv[2]))' "$after" "$LIMIT"
}
check "nymctl status: failed after ${after} s (expiry 10 s), because its provider is not in the topology ($st)" \
	expired
bob_delivered() { "$NYMCTL" --socket "$AS" status "$Y" 2>/dev/null | grep -qx "$Y delivered 1/1"; }
check "the message to bob sent beside it: delivered" wait_for 30 bob_delivered
s1=$(metric "$AM" nymd_messages_sent_total)
XROW=$(sql "SELECT packets || '/' || acked FROM messages WHERE hex(msgid) = upper('$X')")
XQUEUED=$(sql "SELECT COUNT(*) FROM outgoing WHERE hex(msgid) = upper('$X')")
check "nothing of it reached alice's provider: $((s1 - s0)) packet confirmed (bob's); its packets/acknowledged $XROW, $XQUEUED queue rows left" \
	sh -c "[ $((s1 - s0)) = 1 ] && [ '$XROW' = 1/0 ] && [ '$XQUEUED' = 0 ]"

# --- loss: a layer-2 mixnode that drops 5 % of what it gets -----------------
# Back to the default expiry (a day) and limit, for the messages to come:
# read again on SIGHUP; rpcd has them once limits says so.
sed -i -e '/^message_expiry_seconds = /d' -e '/^max_message_bytes = /d' "$ACONF"
kill -HUP "$ALICE"
wait_for 10 sh -c "'$SOCKREQ' 'unix:$AS' limits | grep -q 'max_message_bytes: 1048576 '" ||
	diag "alice's reload did not show in limits"
MM="http://127.0.0.1:$(free_port)"
kill -TERM "$MIX2_1_PID"
wait_for 10 sh -c "! kill -0 $MIX2_1_PID 2>/dev/null"
sed -i -e "s/^max_delay_ms = .*/max_delay_ms = $MAX_DELAY_MS/" \
	-e "s|^metrics_listen = .*|metrics_listen = \"${MM#http://}\"|" \
	"$D/nodes/mixnodes/mix2_1/config.toml"
"$MIX2_1_EXE" run --id mix2_1 --home "$D/nodes" >>"$WORK/mix2_1.log" 2>&1 &
track $!
mix_up() { [ -n "$(metric "$MM" nym_node_packets_received_total)" ]; }
check "mix2_1 restarted with max_delay_ms = $MAX_DELAY_MS and metrics" wait_for 20 mix_up

r0=$(metric "$AM" nymd_real_packets_sent_total)
a0=$(metric "$AM" nymd_acks_received_total)
x0=$(metric "$AM" nymd_retransmissions_total)
l0=$(metric "$AM" nymd_acks_dropped_total)
f0=$(metric "$AM" nymd_messages_failed_total)
mr0=$(metric "$MM" nym_node_packets_received_total)
md0=$(metric "$MM" 'nym_node_packets_dropped_total{reason="delay_too_long"}')
# WORK/sent: a line a message: id, sha256, length, packets. Every fifth is
# in fragments of 1611 bytes (1616 to 11277 bytes: 2 to 8 of them);
# the others fit one packet (1615 bytes at most).
py '
import hashlib, os, nym
c = nym.connect_unix(os.environ["AS"], timeout=60)
big = [1616, 2000, 3222, 3223, 4833, 5000, 8000, 8055, 10000, 11277]
with open(os.environ["WORK"] + "/sent", "w") as f:
    for i in range(int(os.environ["N"])):
        n = big[(i // 5) % len(big)] if i % 5 == 4 else 40 + i
        m = b"acks-%03d-" % i
        m += os.urandom(n - len(m))
        mid = c.send_id(os.environ["BOB"], m)
        packets = 1 if n <= 1615 else -(-n // 1611)
        f.write("%s %s %d %d\n" % (mid.hex(), hashlib.sha256(m).hexdigest(), n, packets))
' >"$WORK/send.out" 2>&1
P=$(awk '{ s += $4 } END { print s + 0 }' "$WORK/sent")
check "alice queued $N messages, $(grep -vc ' 1$' "$WORK/sent") of them in fragments: $P packets" \
	sh -c "[ \$(grep -c '^$HEX32 ' '$WORK/sent') = $N ]"

# Until each is delivered (or failed, or 3 minutes passed), by its status.
py '
import os, sys, time, nym
c = nym.connect_unix(os.environ["AS"], timeout=60)
ids = [bytes.fromhex(l.split()[0]) for l in open(os.environ["WORK"] + "/sent")]
end = time.time() + float(sys.argv[1])
while time.time() < end:
    st = [c.status(i).state for i in ids]
    if all(s in ("delivered", "failed") for s in st):
        break
    time.sleep(0.5)
' "$((180 * scale))" >"$WORK/wait.out" 2>&1
# Then bob's: every message fetched (sha256 and length), until N came and
# 3 s more (a copy sent again whose first acknowledgement was lost would
# come in that time), or 60 s passed.
py '
import hashlib, os, sys, time, nym
c = nym.connect_unix(os.environ["BS"], timeout=60)
want, n, end, quiet = int(os.environ["N"]), 0, time.time() + 60, None
with open(os.environ["WORK"] + "/got", "w") as f:
    while time.time() < end and (quiet is None or time.time() < quiet):
        for m in c.fetch():
            if m.startswith(b"acks-"):
                f.write("%s %d\n" % (hashlib.sha256(m).hexdigest(), len(m)))
                n += 1
        f.flush()
        if n >= want and quiet is None:
            quiet = time.time() + 3
        time.sleep(0.2)
' >"$WORK/got.out" 2>&1
cut -d' ' -f2,3 "$WORK/sent" | sort >"$WORK/sent.sorted"
sort "$WORK/got" >"$WORK/got.sorted"
dups=$(uniq -d "$WORK/got.sorted" | wc -l)
check "bob has each of the $N exactly once, byte for byte ($(wc -l <"$WORK/got") fetched, $dups twice)" \
	cmp -s "$WORK/sent.sorted" "$WORK/got.sorted"

: >"$WORK/status.out"
while read -r id _ _ packets; do
	"$NYMCTL" --socket "$AS" status "$id" >>"$WORK/status.out" 2>&1 ||
		echo "$id: nymctl status failed" >>"$WORK/status.out"
	echo "$id delivered $packets/$packets" >>"$WORK/status.expected"
done <"$WORK/sent"
notdone=$(grep -vc ' delivered ' "$WORK/status.out")
grep -v ' delivered ' "$WORK/status.out" | head -n 5 | sed 's/^/# not delivered: /'
check "nymctl status: each of the $N delivered, with its count of packets ($notdone not)" \
	cmp -s "$WORK/status.expected" "$WORK/status.out"

r1=$(metric "$AM" nymd_real_packets_sent_total)
a1=$(metric "$AM" nymd_acks_received_total)
x1=$(metric "$AM" nymd_retransmissions_total)
l1=$(metric "$AM" nymd_acks_dropped_total)
f1=$(metric "$AM" nymd_messages_failed_total)
mr1=$(metric "$MM" nym_node_packets_received_total)
md1=$(metric "$MM" 'nym_node_packets_dropped_total{reason="delay_too_long"}')
check "alice: each of the $P packets acknowledged once ($((a1 - a0)) acknowledgements), none failed ($((f1 - f0)))" \
	sh -c "[ $((a1 - a0)) = $P ] && [ $((f1 - f0)) = 0 ]"

recv=$((mr1 - mr0)) drop=$((md1 - md0))
p=$(python3 -c "import sys; r, d = map(int, sys.argv[1:]); print('%.4f' % (d / r if r else 0))" "$recv" "$drop")
diag "mix2_1 dropped $drop of the $recv packets it received (delay over $MAX_DELAY_MS ms): $(python3 -c "print('%.1f' % (100 * $p))") %"
check "mix2_1 really dropped packets: 2 to 10 % of what it received ($drop of $recv)" \
	python3 -c "import sys; sys.exit(not 0.02 <= $p <= 0.10)"

sent=$((r1 - r0))
over=$(python3 -c "print('%.3f' % ($sent / $P))")
expect=$(python3 -c "print('%.3f' % (1 / (1 - $p) ** 2))")
diag "alice sent $sent packets for $P message packets ($((x1 - x0)) retransmissions): $over a packet; 1 / (1 - p)^2 = $expect with p = $p; $((l1 - l0)) acknowledgements of a copy came too late, dropped"
check "retransmission overhead: over 1 and under 2 packets sent per message packet ($over)" \
	python3 -c "import sys; sys.exit(not 1.0 < $over < 2.0)"
finish
