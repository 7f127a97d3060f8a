#!/bin/sh
# Nothing lost when the recipient's disk is full: bob's data directory is
# a small tmpfs, filled up. Messages pulled while rpcd cannot store them
# are not acknowledged to the provider, netd keeps pulling, and once there
# is room again every one of them reaches bob exactly once. Needs root (a
# mount of its own); otherwise skipped.
. "$(dirname "$0")/lib.sh"

need_tmpfs
plan 8

B="$top_builddir/src"
D="$WORK/tn"
DATA="$D/clients-home/clients/bob/data"
MOUNTED=""
down() {
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
	[ -n "$BOB2" ] && kill -TERM "$BOB2" 2>/dev/null && wait "$BOB2" 2>/dev/null
	[ -n "$MOUNTED" ] && umount "$DATA"
}
BOB2=""
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 --send-rate 100 \
	--fetch-rate 50 --loop-rate 5
A="unix:$CLIENT_alice_SOCKET"
BOBS="unix:$CLIENT_bob_SOCKET"

# bob stopped, his data directory moved onto a 2 MiB tmpfs, bob again
kill -TERM "$CLIENT_bob_PID"
wait_for 10 sh -c "! kill -0 $CLIENT_bob_PID 2>/dev/null"
cp -a "$DATA" "$WORK/data.saved"
mount -t tmpfs -o size=2m,mode=0700 tmpfs "$DATA" && MOUNTED=1
cp -a "$WORK/data.saved/." "$DATA/"
"$B/nymd" run --id bob --home "$D/clients-home" >>"$WORK/bob2.log" 2>&1 &
BOB2=$!
track "$BOB2"
check "bob runs again with his data on a 2 MiB tmpfs" wait_for 15 sh -c \
	"'$SOCKREQ' '$BOBS' details 2>/dev/null | grep -q '^details:'"

# the tmpfs filled to the last block
dd if=/dev/zero of="$DATA/filler" bs=4k 2>/dev/null
check "bob's data directory is full" sh -c "[ \$(df --output=avail -k '$DATA' | tail -1) -eq 0 ]"

args=""
for k in $(seq 1 20); do args="$args send:$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER:full-$k-$(head -c 1500 /dev/zero | tr '\0' x)"; done
# shellcheck disable=SC2086
check "alice sends 20 messages of 1.5 KB to bob" sh -c \
	"[ \$('$SOCKREQ' '$A' $args | grep -c '^send: ok') = 20 ]"
check "bob cannot store them and says so" wait_for 20 sh -c \
	"cat '$CLIENT_bob_LOG' '$WORK/bob2.log' 2>/dev/null | grep -q 'message store: cannot write: no space left on device'"
"$SOCKREQ" "$BOBS" fetch 2>/dev/null | sed -n 's/^message: //p' >"$WORK/got"

rm -f "$DATA/filler"
i=0
while [ "$i" -lt 600 ]; do
	"$SOCKREQ" "$BOBS" fetch 2>/dev/null | sed -n 's/^message: //p' >>"$WORK/got"
	[ "$(grep -c . "$WORK/got")" -ge 20 ] && break
	sleep 0.1
	i=$((i + 1))
done
check "with room again, all 20 reach bob" [ "$(grep -c . "$WORK/got")" -ge 20 ]
check "each exactly once" python3 - "$WORK/got" <<'PY'
import collections, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 2:
        c[bytes.fromhex(parts[1]).decode().split("-")[1]] += 1
sys.exit(0 if sorted(c) == sorted(str(k) for k in range(1, 21)) and set(c.values()) == {1} else 1)
PY
check "bob's netd kept pulling (no role was restarted)" sh -c \
	"! cat '$CLIENT_bob_LOG' '$WORK/bob2.log' | grep -q 'restarting it in'"
finish
