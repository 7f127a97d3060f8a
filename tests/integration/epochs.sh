#!/bin/sh
# Key epochs (docs/epochs.md) on a real testnet with 20 s epochs: a steady
# stream from alice to bob over five epoch boundaries arrives exactly
# once, including the messages in flight at each boundary; every node
# holds at most three epoch keys, deletes each with its replay store, and
# the replay state after the fifth epoch is no larger than after the
# second; a packet replayed within its epoch is dropped as a replay, and
# the same packet sent again after its key expired is dropped as
# undecryptable (and delivered to nobody).
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"
plan 13

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
MIXSEND="$top_builddir/tests/tools/mixsend"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
EPOCH=20
MESSAGES=200

epochs_cleanup() {
	[ -n "${STREAM_PID:-}" ] && kill "$STREAM_PID" 2>/dev/null
	[ -f "$D/testnet.env" ] && "$TESTNET" down --dir "$D" --grace 2 >/dev/null 2>&1
	t_cleanup
}
trap epochs_cleanup EXIT

epoch_now() { echo $(($(date +%s) / EPOCH)); }
# until_epoch E: sleeps until epoch E has begun (and one more second).
until_epoch() {
	while [ "$(epoch_now)" -lt "$1" ]; do sleep 0.5; done
	sleep 1
}
most_keys() {
	for d in "$D"/nodes/*/*/data/epochs; do ls "$d" | wc -l; done | sort -n | tail -n 1
}
# replay_peak FIRST LAST: summed over the nodes, the most replay tags and
# the most store capacity any node's periodic stats line showed in epochs
# FIRST to LAST ("tags capacity").
replay_peak() {
	python3 - "$EPOCH" "$1" "$2" "$D"/logs/mix*.log "$D"/logs/provider*.log <<'PY'
import datetime, re, sys
epoch, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
tags = cap = 0
for path in sys.argv[4:]:
    t = c = 0
    for line in open(path):
        m = re.match(r"(\S+)Z .* stats: .* replay_tags=(\d+)/(\d+)", line)
        if not m:
            continue
        when = datetime.datetime.fromisoformat(m.group(1)).replace(
            tzinfo=datetime.timezone.utc).timestamp()
        if first <= int(when) // epoch <= last:
            t, c = max(t, int(m.group(2))), max(c, int(m.group(3)))
    tags, cap = tags + t, cap + c
print(tags, cap)
PY
}
# stat_sum NAME: NAME=N summed over the nodes' "stats at stop" lines.
stat_sum() {
	grep -h 'stats at stop' "$D"/logs/mix*.log "$D"/logs/provider*.log |
		sed -n "s/.* $1=\([0-9]*\).*/\1/p" | awk '{ s += $1 } END { print s + 0 }'
}

testnet_up "a testnet with $EPOCH s epochs and clients alice and bob starts" \
	--epoch-seconds "$EPOCH" --clients alice,bob --delay-ms 5 --rate 10
check "the topology announces ${EPOCH} s epochs" sh -c \
	"curl -s -m 5 '$DIRECTORY_TOPOLOGY_URL' | grep -q '\"epochSeconds\":$EPOCH'"
# (Polled: right after a boundary the nodes are still announcing the new key.)
check "every node published keys for the current and the next epoch" wait_for 5 python3 -c '
import json, sys, urllib.request, time
t = json.load(urllib.request.urlopen(sys.argv[1]))
cur = int(time.time()) // int(sys.argv[2])
nodes = t["MixNodes"] + t["MixProviderNodes"]
keys = lambda n: {k["epoch"] for k in json.loads(n["descriptor"])["sphinxKeys"]}
sys.exit(not nodes or any({cur, cur + 1} - keys(n) for n in nodes))
' "$DIRECTORY_TOPOLOGY_URL" "$EPOCH"

# Two packets sent straight to the layer 1 mixnode twice each (--replay),
# saved to be sent once more after their keys have expired.
PKEY="$D/nodes/providers/provider1/private_key.pem"
CKEY="$WORK/probe.pem"
CID=$("$MIXSEND" --directory "$DIRECTORY_URL" --key "$CKEY" register 2>>"$WORK/mixsend.err")
wait_for 10 sh -c "curl -s -m 2 '$DIRECTORY_TOPOLOGY_URL' | grep -q '$CID'" || diag "probe client not listed"
# every node must know the probe client's provider listing before we send
sleep 1.2
printf 'p1\np2\n' | "$MIXSEND" --directory "$DIRECTORY_URL" --key "$CKEY" \
	--entry "$MIX1_1_PUBKEY" --link-key "$PKEY" --replay --save "$WORK/l1.bin" \
	send 2>>"$WORK/mixsend.err"
# (A replay that got through after these two would stay in the mailbox,
# and the pull after the keys expired, below, would find it.)
"$MIXSEND" --directory "$DIRECTORY_URL" --key "$CKEY" --expect 2 --timeout 30 \
	pull --ack >"$WORK/pulled" 2>>"$WORK/mixsend.err"
diag "pulled: $(cut -f2 "$WORK/pulled" | sort | tr '\n' ' ')"
check "packets replayed within their epoch are delivered once" sh -c \
	"cut -f2 '$WORK/pulled' | sort | tr '\n' ' ' | grep -qx 'p1 p2 '" ||
	sed 's/^/# mixsend: /' "$WORK/mixsend.err"

# The stream: one message every 0.5 s, across five epoch boundaries.
E0=$(epoch_now)
(
	i=1
	while [ "$i" -le "$MESSAGES" ]; do
		"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" \
			"epoch-msg-$i" >/dev/null 2>>"$WORK/send.err" || echo "send $i failed" >>"$WORK/send.err"
		i=$((i + 1))
		sleep 0.5
	done
) &
STREAM_PID=$!
track "$STREAM_PID"

until_epoch $((E0 + 6))
wait "$STREAM_PID"
STREAM_PID=
# Without rotation the tags held would grow with every epoch; with it
# they stay those of about two epochs, and the stores do not multiply.
set -- $(replay_peak $((E0 + 1)) $((E0 + 2)))
TAGS2=$1 CAP2=$2
set -- $(replay_peak $((E0 + 4)) $((E0 + 5)))
TAGS5=$1 CAP5=$2
diag "replay tags held at most: $TAGS2 in epochs 1-2 of the stream, $TAGS5 in epochs 4-5; capacity $CAP2, $CAP5"
check "the replay stores after the 5th epoch are no larger than after the 2nd" \
	sh -c "[ $TAGS2 -gt 0 ] && [ $CAP5 -le $CAP2 ] && [ $((TAGS5 * 2)) -le $((TAGS2 * 3)) ]"
check "no node holds more than three epoch keys" [ "$(most_keys)" -le 3 ]
check "every node deleted expired keys with their replay stores" sh -c \
	"[ \$(grep -l 'expired; deleted with its replay store' '$D'/logs/mix*.log '$D'/logs/provider*.log | wc -l) = 4 ]"
check "every send was accepted" [ ! -s "$WORK/send.err" ]

fetch_lines "$NYMCTL" "$CLIENT_bob_SOCKET" "$MESSAGES" "$WORK/got"
check "all $MESSAGES messages of the stream arrived" \
	[ "$(grep -c '^epoch-msg-' "$WORK/got")" = "$MESSAGES" ]
check "none arrived twice" [ -z "$(sort "$WORK/got" | uniq -d)" ]

# The saved packets again, long after their keys expired.
"$MIXSEND" --directory "$DIRECTORY_URL" --key "$CKEY" --entry "$MIX1_1_PUBKEY" \
	--link-key "$PKEY" resend "$WORK/l1.bin" 2>>"$WORK/mixsend.err"
sleep 2
check "old packets after their key expired are delivered to nobody" sh -c \
	"[ -z \"\$('$MIXSEND' --directory '$DIRECTORY_URL' --key '$CKEY' --timeout 3 pull --ack 2>>'$WORK/mixsend.err')\" ]"
"$TESTNET" down --dir "$D" --grace 5 >/dev/null 2>&1
undecryptable=$(($(stat_sum no_key) + $(stat_sum bad_mac)))
diag "at stop: replay=$(stat_sum replay) no_key=$(stat_sum no_key) bad_mac=$(stat_sum bad_mac)"
check "the replays within the epoch were dropped as replays" [ "$(stat_sum replay)" -ge 2 ]
check "the packets of an expired key were dropped as undecryptable" [ "$undecryptable" -ge 2 ]
finish
