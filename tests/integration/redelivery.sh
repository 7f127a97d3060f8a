#!/bin/sh
# Duplicates are dropped for as long as they can come back (issue 14,
# point 5; docs/ipc.md, "Duplicates"). A provider can deliver a packet
# from its mailbox again at any time. The recipient used to remember the
# ids of its last 100 000 messages only: one that more than 100 000 others
# followed was shown again. Here alice's message waits in bob's mailbox
# (bob stopped) and its packet is kept aside; bob shows it; bob's store
# then gets 100 001 more ids (as if that many messages had come since:
# written into his stopped store, which is much faster than sending them)
# and one more real message, whose fetch prunes; then the provider,
# stopped, gets the kept packet back into bob's mailbox, as a provider
# replaying what it kept would, and is started again. bob takes the
# delivery and acknowledges it, and must not show the message again.
. "$(dirname "$0")/lib.sh"

plan 7

B="$top_builddir/src"
D="$WORK/tn"
PDIR="$D/nodes/providers/provider1"
PDB="$PDIR/data/provider.db"
BOBDB="$D/clients-home/clients/bob/data/nymd.db"
BOB_PID=""
PROV2=""
down() {
	[ -n "$BOB_PID" ] && kill -TERM "$BOB_PID" 2>/dev/null && wait "$BOB_PID" 2>/dev/null
	[ -n "$PROV2" ] && kill -TERM "$PROV2" 2>/dev/null && wait "$PROV2" 2>/dev/null
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
}
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 \
	--send-rate 50 --fetch-rate 20 --loop-rate 2
A="unix:$CLIENT_alice_SOCKET"
BS="unix:$CLIENT_bob_SOCKET"

stopped() { ! kill -0 "$1" 2>/dev/null; }
bob_stop() {
	pid=${BOB_PID:-$CLIENT_bob_PID}
	kill -TERM "$pid"
	wait_for 15 stopped "$pid"
	BOB_PID=""
}
bob_start() {
	"$B/nymd" run --id bob --home "$D/clients-home" >>"$WORK/bob.log" 2>&1 &
	BOB_PID=$!
	track "$BOB_PID"
}
# mailbox SQL...: runs on the provider's store with :bob bound to bob's key
mailbox() {
	python3 - "$PDB" "$CLIENT_bob_PUBKEY" "$@" <<'PY'
import base64, sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
bob = base64.urlsafe_b64decode(sys.argv[2])
for sql in sys.argv[3:]:
    for row in c.execute(sql, {"bob": bob}):
        print(" ".join(str(x) for x in row))
c.commit()
c.close()
PY
}
send() { # send TEXT
	"$SOCKREQ" "$A" "send:$CLIENT_bob_PUBKEY:$PROVIDER1_PUBKEY:$1" | grep -c '^send: ok'
}
: >"$WORK/shown"
# bob_fetch: appends what bob's fetch returns, as text, to $WORK/shown
bob_fetch() {
	"$SOCKREQ" "$BS" fetch 2>/dev/null | sed -n 's/^message: [0-9]* //p' |
		python3 -c 'import sys
for l in sys.stdin:
    print(bytes.fromhex(l.strip()).decode())' >>"$WORK/shown"
}
shown() { bob_fetch; [ "$(grep -c "^$1\$" "$WORK/shown")" -ge 1 ]; }

# bob stopped: what comes for him stays in his mailbox
wait_for 15 sh -c "'$SOCKREQ' '$A' details | grep -q '^details:'"
bob_stop
sleep 2		# his own loop covers in flight land
before=$(mailbox "SELECT COALESCE(MAX(id), 0) FROM packets WHERE client = :bob")
n=$(send old-message)
arrived() {
	[ "$(mailbox "SELECT COUNT(*) FROM packets WHERE client = :bob AND id > $before")" -ge 1 ]
}
wait_for 30 arrived
mailbox "SELECT id, hex(packet) FROM packets WHERE client = :bob AND id > $before" >"$WORK/kept"
check "alice's message waits in bob's mailbox; its packet is kept aside" \
	test "$n/$(wc -l <"$WORK/kept")" = 1/1

bob_start
kept_ids=$(cut -d' ' -f1 "$WORK/kept" | paste -sd, -)
acked() { [ "$(mailbox "SELECT COUNT(*) FROM packets WHERE id IN ($kept_ids)")" = 0 ]; }
wait_for 30 shown old-message
check "bob, started, shows it and acknowledges it" wait_for 30 acked

bob_stop
ids=$(python3 - "$BOBDB" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executemany("INSERT INTO received (msgid, fetched) VALUES (?, 1)",
              ((os.urandom(16),) for _ in range(100001)))
c.commit()
print(c.execute("SELECT COUNT(*) FROM received").fetchone()[0])
c.close()
PY
)
check "bob's store holds 100 001 more message ids, as after that many messages" \
	test "$ids" -ge 100002
bob_start
n=$(send new-message)
wait_for 30 shown new-message
check "bob, started again, shows a message that came after them (its fetch prunes)" \
	test "$n/$?" = 1/0

# the provider replays the kept packet: stopped, the packet put back into
# bob's mailbox, started again
kill -TERM "$PROVIDER1_PID"
wait_for 15 stopped "$PROVIDER1_PID"
hex=$(cut -d' ' -f2 "$WORK/kept")
mailbox "INSERT INTO packets (client, packet) VALUES (:bob, x'$hex')" \
	"UPDATE clients SET packets = packets + 1 WHERE client = :bob"
replayed=$(mailbox "SELECT MAX(id) FROM packets WHERE client = :bob")
"$B/nym-provider" run --id provider1 --home "$D/nodes" >>"$WORK/provider1.log" 2>&1 &
PROV2=$!
track "$PROV2"
gone() { [ "$(mailbox "SELECT COUNT(*) FROM packets WHERE id = $replayed")" = 0 ]; }
check "the provider delivers the old packet to bob again, and bob acknowledges it" \
	wait_for 60 gone

# what bob shows from now on: not the old message
i=0
while [ "$i" -lt 6 ]; do bob_fetch; sleep 0.5; i=$((i + 1)); done
check "bob drops the copy: the old message was shown once" \
	test "$(grep -c '^old-message$' "$WORK/shown")" = 1
finish
