#!/bin/sh
# The provider's mailbox disk (issue 20): its data directory is a small
# tmpfs and mailbox_packets is 40. A flood to bob (stopped) is refused
# beyond his cap while carol still receives; then the disk is filled to
# its last 96 KiB: packets are refused (said once), but bob, started
# again, pulls and acknowledges his whole mailbox (acks never need new
# space); with room again carol receives without a restart. Needs root
# (a mount of its own); otherwise skipped.
. "$(dirname "$0")/lib.sh"

need_tmpfs
plan 12

B="$top_builddir/src"
D="$WORK/tn"
PDIR="$D/nodes/providers/provider1"
PDATA="$PDIR/data"
PLOG="$WORK/provider2.log"
MOUNTED=""
PROV2=""
BOB2=""
down() {
	[ -n "$BOB2" ] && kill -TERM "$BOB2" 2>/dev/null && wait "$BOB2" 2>/dev/null
	[ -n "$PROV2" ] && kill -TERM "$PROV2" 2>/dev/null && wait "$PROV2" 2>/dev/null
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
	[ -n "$MOUNTED" ] && { umount "$PDATA" || umount -l "$PDATA"; }
}
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice, bob and carol" --clients alice,bob,carol --delay-ms 2 \
	--send-rate 50 --fetch-rate 20 --loop-rate 2
A="unix:$CLIENT_alice_SOCKET"
C="unix:$CLIENT_carol_SOCKET"
# bob stopped: his mailbox only fills
kill -TERM "$CLIENT_bob_PID"
wait_for 10 sh -c "! kill -0 $CLIENT_bob_PID 2>/dev/null"

# the provider stopped, a mailbox cap of 40, its data on a 12 MiB tmpfs (7 MiB of it the replay store)
kill -TERM "$PROVIDER1_PID"
wait_for 10 sh -c "! kill -0 $PROVIDER1_PID 2>/dev/null"
if grep -q '^mailbox_packets' "$PDIR/config.toml"; then
	sed -i 's/^mailbox_packets = .*/mailbox_packets = 40/' "$PDIR/config.toml"
elif grep -q '^\[provider\]' "$PDIR/config.toml"; then
	sed -i 's/^\[provider\]/[provider]\nmailbox_packets = 40/' "$PDIR/config.toml"
else
	printf '\n[provider]\nmailbox_packets = 40\n' >>"$PDIR/config.toml"
fi
cp -a "$PDATA" "$WORK/pdata.saved"
mount -t tmpfs -o size=12m,mode=0700 tmpfs "$PDATA" && MOUNTED=1
cp -a "$WORK/pdata.saved/." "$PDATA/"
"$B/nym-provider" run --id provider1 --home "$D/nodes" >>"$PLOG" 2>&1 &
PROV2=$!
track "$PROV2"

send() { # send TO_PUBKEY TAG COUNT
	args=""
	for k in $(seq 1 "$3"); do args="$args send:$1:$PROVIDER1_PUBKEY:$2-$k"; done
	# shellcheck disable=SC2086
	"$SOCKREQ" "$A" $args | grep -c '^send: ok'
}
: >"$WORK/carol"
carol_has() { # carol_has TAG N: carol fetched N messages TAG-*
	"$SOCKREQ" "$C" fetch 2>/dev/null | sed -n 's/^message: [0-9]* //p' | python3 -c 'import sys
for l in sys.stdin:
    print(bytes.fromhex(l.strip()).decode())' >>"$WORK/carol"
	[ "$(grep -c "^$1-" "$WORK/carol")" -ge "$2" ]
}
mailbox() {
	python3 -c 'import base64, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
k = base64.urlsafe_b64decode(sys.argv[2])
print(c.execute("SELECT count(*) FROM packets WHERE client = ?", (k,)).fetchone()[0])
c.close()' "$PDATA/provider.db" "$CLIENT_bob_PUBKEY"
}

wait_for 15 sh -c "'$SOCKREQ' '$C' details | grep -q '^details:'"
sleep 2
n=$(send "$CLIENT_carol_PUBKEY" before 1)
wait_for 30 carol_has before 1
check "the provider runs again; alice reaches carol through it" test "$n/$?" = 1/0

# a flood to bob: his mailbox holds 40, carol still receives. Loop
# cover bob sent before he stopped may already hold a place or two in
# his mailbox (the provider cannot tell it from a message): the flood
# gets the rest.
loops=$(mailbox)
n=$(send "$CLIENT_bob_PUBKEY" flood 80)
check "alice sends 80 messages to bob" test "$n" = 80
capped() { [ "$(mailbox)" = 40 ] && grep -q "mailbox of client $CLIENT_bob_PUBKEY is full (quota of 40" "$PLOG"; }
check "bob's mailbox stops at its cap of 40" wait_for 60 capped
n=$(send "$CLIENT_carol_PUBKEY" capped 5)
wait_for 30 carol_has capped 5
check "carol still receives" test "$n/$?" = 5/0

# the mailbox disk filled to its last 96 KiB: the mailbox store (its
# reserve taken) runs out first
avail=$(df --output=avail -k "$PDATA" | tail -1)
dd if=/dev/zero of="$PDATA/filler" bs=1k count=$((avail - 96)) 2>/dev/null
check "the provider's disk is nearly full" sh -c "[ \$(df --output=avail -k '$PDATA' | tail -1) -le 100 ]"
# The node's replay log shares the disk and takes a tag for every packet,
# cover too, so it usually meets the full disk first and stops taking
# packets; otherwise the mailbox store refuses them. Each says it once:
# when the mailbox store refuses first, the replay log (still taking tags
# of cover) may meet the full disk next and say so too (CI, under ASan).
refused() {
	m=$(grep -c 'mailbox store: no space left on device: deliveries refused' "$PLOG")
	r=$(grep -c 'replay log: write failed; dropping packets' "$PLOG")
	[ "$m" -le 1 ] && [ "$r" -le 1 ] && [ $((m + r)) -ge 1 ]
}
i=0
while [ "$i" -lt 40 ] && ! refused; do
	send "$CLIENT_carol_PUBKEY" full 10 >/dev/null
	sleep 1
	i=$((i + 1))
done
check "deliveries are refused, and the provider says so once" refused
"$B/nymd" run --id bob --home "$D/clients-home" >>"$WORK/bob2.log" 2>&1 &
BOB2=$!
track "$BOB2"
emptied() { [ "$(mailbox)" -lt 5 ]; }	# bob's own loop cover may be there
check "bob, started again, pulls and acknowledges his whole mailbox on the full disk" \
	wait_for 60 emptied
# The mailbox's last few (below the 5 that "emptied" allows for) may
# still be on their way: bob's acks go out a batch at a time.
: >"$WORK/bob"
bob_has_all() {
	"$SOCKREQ" "unix:$CLIENT_bob_SOCKET" fetch 2>/dev/null | sed -n 's/^message: [0-9]* //p' |
		python3 -c 'import sys
for l in sys.stdin:
    print(bytes.fromhex(l.strip()).decode())' >>"$WORK/bob"
	[ "$(grep -c '^flood-' "$WORK/bob")" -ge $((40 - loops)) ]
}
wait_for 20 bob_has_all
check "bob has the $((40 - loops)) of the flood that his mailbox took, once each" sh -c \
	"[ \$(grep -c '^flood-' '$WORK/bob') = $((40 - loops)) ] && [ \$(sort '$WORK/bob' | uniq -d | grep -c .) = 0 ]"
check "no ack failed" sh -c "! grep -q 'ack: ' '$PLOG'"

rm -f "$PDATA/filler"
n=$(send "$CLIENT_carol_PUBKEY" after 3)
wait_for 30 carol_has after 3
check "with room again, carol receives without a restart" test "$n/$?" = 3/0
check "the provider was not restarted" kill -0 "$PROV2"
finish
