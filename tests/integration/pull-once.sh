#!/bin/sh
# A pull hands out each packet once per link until it is acknowledged or
# the link drops (docs/provider-store.md, "Leases"). A real mixnet on
# loopback (nym-directory, three nym-mixnodes, a nym-provider) and
# tests/tools/mixsend as a client that registers and then pulls hundreds
# of times on one link without ever acking: the provider sends each stored
# packet once (not once per pull), its memory stays where it was, and on
# the next link the unacknowledged packets come again. A link holds at
# most 256 unacknowledged deliveries; further pulls are refused busy.
. "$(dirname "$0")/lib.sh"

MIXNODE="$top_builddir/src/nym-mixnode"
PROVIDER="$top_builddir/src/nym-provider"
DIRECTORY="$top_builddir/src/nym-directory"
MIXSEND="$top_builddir/tests/tools/mixsend"

if [ ! -x "$DIRECTORY" ]; then
	echo "1..0 # SKIP nym-directory is not built"
	exit 0
fi
plan 12

H="$WORK/home"
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
CLIENT="$WORK/client.pem"

ms() { "$MIXSEND" --directory "$D" --key "$CLIENT" "$@" 2>>"$WORK/mixsend.err"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$PROV_PID/status"; }
lines() { wc -l <"$1" | tr -d ' '; }
messages() { i=0; while [ "$i" -lt "$2" ]; do echo "$1$i"; i=$((i + 1)); done; }

"$DIRECTORY" --listen "127.0.0.1:$DPORT" --stale-seconds 5 >"$WORK/directory.log" 2>&1 &
track $!
check "directory is up" wait_for 5 sh -c "curl -s -m 1 $D/api/healthcheck | grep -q ok"
ok_init=1
for l in 1 2 3; do
	"$MIXNODE" init --id "mix$l" --home "$H" --host 127.0.0.1 --port "$(free_port)" \
		--layer "$l" --directory "$D/api/presence/topology" >"$WORK/init-mix$l.out" 2>&1 || ok_init=0
done
"$PROVIDER" init --id prov --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--directory "$D" >"$WORK/init-prov.out" 2>&1 || ok_init=0
for f in "$H"/mixnodes/*/config.toml "$H/providers/prov/config.toml"; do
	sed -i 's/^presence_interval_seconds = .*/presence_interval_seconds = 1/
s/^topology_interval_seconds = .*/topology_interval_seconds = 1/' "$f"
done
for l in 1 2 3; do
	"$MIXNODE" run --id "mix$l" --home "$H" --log-level debug >>"$WORK/mix$l.log" 2>&1 &
	track $!
done
"$PROVIDER" run --id prov --home "$H" --log-level debug >>"$WORK/prov.log" 2>&1 &
PROV_PID=$!
track "$PROV_PID"
check "init and start of three mixnodes and a provider" [ "$ok_init" = 1 ]
check "the topology lists them" wait_for 20 sh -c \
	"curl -s -m 2 '$D/api/presence/topology' | python3 -c 'import json, sys
t = json.load(sys.stdin); sys.exit(0 if len(t[\"MixNodes\"]) == 3 and len(t[\"MixProviderNodes\"]) == 1 else 1)'"
CID=$(ms register)
check "the client registers" [ -n "$CID" ]
sleep 1.5	# every node knows every other

messages a 40 | ms --delay 5 send
ms --expect 40 --timeout 20 pull >"$WORK/got1"
check "40 packets in the mailbox, pulled without an ack" [ "$(lines "$WORK/got1")" = 40 ]

R1=$(rss_kb)
ms hoard 500 >"$WORK/hoard1"
diag "$(cat "$WORK/hoard1")"
check "500 pulls on one link without an ack: each packet sent once" \
	grep -qx 'pulls=500 deliveries=40 distinct=40 busy=0' "$WORK/hoard1"
R2=$(rss_kb)
diag "provider RSS ${R1} kB before, ${R2} kB after"
# Re-sent packets would be 20 000 frames, about 40 MiB. ASan's quarantine
# keeps freed memory for a while: the sanitizer build allows 16 MiB.
GROW_KB=4096
[ -n "${NYMD_SANITIZER_BUILD:-}" ] && GROW_KB=16384
check "the provider's memory stays where it was (grew < $((GROW_KB / 1024)) MiB)" [ $((R2 - R1)) -lt $GROW_KB ]
check "the provider took them back when the link closed" \
	grep -q 'client link closed with 40 deliveries unacknowledged' "$WORK/prov.log"

ms pull >"$WORK/got2"
check "on a new link the unacknowledged packets come again, same ids" \
	sh -c "cut -f1 '$WORK/got1' | sort >'$WORK/ids1' && cut -f1 '$WORK/got2' | sort | cmp -s - '$WORK/ids1'"

# The lease is bounded: 300 packets, one link holds 256 of them.
messages b 260 | ms --delay 5 send
check "300 packets in the mailbox" wait_for 30 sh -c \
	"[ \$('$MIXSEND' --directory '$D' --key '$CLIENT' hoard 2 2>/dev/null | sed -n 's/.*distinct=\([0-9]*\).*/\1/p') -ge 256 ]"
ms hoard 20 >"$WORK/hoard2"
diag "$(cat "$WORK/hoard2")"
check "a link holds at most 256 unacknowledged; later pulls are refused busy" \
	grep -qx 'pulls=20 deliveries=256 distinct=256 busy=19' "$WORK/hoard2"
ms --ack pull >"$WORK/got3"
ms --ack pull >"$WORK/got4"
ms pull >"$WORK/got5"
check "acked in two links' worth, all 300 come once and are gone" \
	sh -c "[ \$(cat '$WORK/got3' '$WORK/got4' | cut -f1 | sort -u | wc -l) = 300 ] && [ ! -s '$WORK/got5' ]"
finish
