#!/bin/sh
# Large messages in fragments (docs/replies.md, "Fragments") on a real
# local mixnet: a 1 MiB message (nymctl send, from standard input) and
# 200 of random sizes from 0 to 100 KiB (the Python module; 30 in the
# sanitizer build, where everything is slower) arrive at bob
# byte-identical and each exactly once; a message of max_message_bytes + 1
# is refused, naming the limit, with nothing stored; bob's rpcd, then
# bob's whole daemon, killed with SIGKILL while a 1 MiB message is half
# received (rpcd restarted by nymd's master, the daemon by hand): each
# arrives whole, once, and none of its fragments stay behind. In the end
# every message alice sent is DELIVERED in her store: each of its packets
# was acknowledged by bob's provider (docs/acks.md).
. "$(dirname "$0")/lib.sh"
plan 16

B="$top_builddir/src"
D="$WORK/tn"
NYMCTL="$top_builddir/src/nymctl/nymctl"
PYTHONPATH="$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT
# A 1 MiB message is 651 packets (fragments of 1611 bytes): at 150 a
# second, about 4 s of send slots; the 200 messages are some 6300 more,
# about 45 s (the sanitizer build, slower, sends 30 at 40 a second).
# Every client sends at that rate, cover or not, through one mixnode per
# layer, and every packet that reaches a mailbox makes an
# acknowledgement back through three mixnodes: at 200 on a loaded
# machine the layer-3 mixnode's link to the provider once filled and
# dropped packets (link_full). A dropped packet no longer loses its
# message (it is not acknowledged, and alice sends it again), but each
# costs a deadline: 150 keeps to a rate the links sustain.
SEND_RATE=150 LOOP_RATE=2 RANDOM_MESSAGES=200
if [ -n "${NYMD_SANITIZER_BUILD:-}" ]; then
	SEND_RATE=40 RANDOM_MESSAGES=30
	diag "sanitizer build: $RANDOM_MESSAGES messages of random sizes instead of 200, at $SEND_RATE packets a second"
fi
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 \
	--send-rate $SEND_RATE --fetch-rate 50 --loop-rate $LOOP_RATE
AS="$CLIENT_alice_SOCKET"
BS="$CLIENT_bob_SOCKET"
ADB="$D/clients-home/clients/alice/data/nymd.db"
BDB="$D/clients-home/clients/bob/data/nymd.db"

# rows TABLE DB: the rows of a table of a store nymd has open (read only)
rows() {
	python3 - "$2" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*) FROM " + sys.argv[2]).fetchone()[0])
PY
}
# py CODE...: python with the module, alice's and bob's sockets and ids
py() {
	AS="$AS" BS="$BS" BOB="$CLIENT_bob_PUBKEY" WORK="$WORK" python3 -c "$@"
}
# collect FILE N SECONDS: bob's messages fetched, one sha256 and length a
# line, appended to FILE until it holds N lines or SECONDS passed
collect() {
	py '
import hashlib, os, sys, time, nym
out, want, limit = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
c = nym.connect_unix(os.environ["BS"], timeout=60)
n = sum(1 for _ in open(out))
with open(out, "a") as f:
    while n < want and time.time() < limit:
        for m in c.fetch():
            f.write("%s %d\n" % (hashlib.sha256(m).hexdigest(), len(m)))
            n += 1
        f.flush()
        time.sleep(0.2)
' "$@"
}
scale=1
[ -n "${NYMD_SANITIZER_BUILD:-}" ] && scale=3
# watch_and_kill OUT PID...: one watcher (started before the message is
# sent, ready once OUT.ready exists) polls bob's store every 20 ms and,
# once it holds 50 fragments, kills the PIDs with SIGKILL at once; writes
# to OUT how many bob held then (0: never, within 120 s). A python3 per
# poll takes up to a second to start on a loaded machine: too slow.
watch_and_kill() {
	out=$1; shift
	python3 - "$BDB" "$out" "$@" <<'PY' &
import os, signal, sqlite3, sys, time
db, out, pids = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
open(out + ".ready", "w").close()
held, limit = 0, time.time() + 120
while time.time() < limit:
    try:
        c = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
        n = c.execute("SELECT COUNT(*) FROM fragments").fetchone()[0]
        c.close()
    except sqlite3.Error:
        n = 0
    if n >= 50:
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        held = n
        break
    time.sleep(0.02)
open(out, "w").write("%d\n" % held)
PY
	WATCHER=$!
	wait_for 30 test -e "$out.ready"
}

# --- the limit: limits names it; one byte over is refused, nothing stored
out=$("$SOCKREQ" "unix:$AS" limits 2>&1)
check "limits: max_message_bytes 1048576, max_request_bytes 1052672 ($out)" \
	sh -c "echo '$out' | grep -q 'max_message_bytes: 1048576' && echo '$out' | grep -q 'max_request_bytes: 1052672'"
head -c 1048577 /dev/urandom >"$WORK/over"
"$NYMCTL" --socket "$AS" send --to "$CLIENT_bob_PUBKEY" - <"$WORK/over" >"$WORK/over.out" 2>&1
rc=$?
check "1048577 bytes: refused (exit 1), naming the maximum" sh -c "test $rc = 1 &&
	grep -q 'send: message too large: 1048577 bytes, the maximum is 1048576' '$WORK/over.out'"
check "nothing of it is stored at alice" test "$(rows outgoing "$ADB")" = 0

# --- 1 MiB with nymctl from standard input, 200 of 0 to 100 KiB with the
# module: 0, 1, one packet's 1615 bytes and one more (2 fragments), two
# fragments' 3222 bytes exactly, 100 KiB, and random sizes
head -c 1048576 /dev/urandom >"$WORK/big"
"$NYMCTL" --socket "$AS" send --to "$CLIENT_bob_PUBKEY" - <"$WORK/big" >"$WORK/big.out" 2>&1
check "nymctl send - of 1 MiB: queued (exit 0)" test $? = 0
T_SEND=$(date +%s)
py '
import hashlib, os, random, sys, nym
c = nym.connect_unix(os.environ["AS"], timeout=60)
with open(os.environ["WORK"] + "/expect", "w") as f:
    for n in [0, 1, 1615, 1616, 1611 * 2, 102400] + \
            [random.randint(0, 102400) for _ in range(int(sys.argv[1]) - 6)]:
        m = os.urandom(n)
        c.send_id(os.environ["BOB"], m)
        f.write("%s %d\n" % (hashlib.sha256(m).hexdigest(), n))
' "$RANDOM_MESSAGES" >"$WORK/send-random.out" 2>&1
check "$RANDOM_MESSAGES messages of 0 to 100 KiB (0, 1, 1615, 1616, 3222, 102400 among them) queued" \
	test "$(wc -l <"$WORK/expect")" = "$RANDOM_MESSAGES"
diag "$(awk '{ s += $2; p += ($2 <= 1615) ? 1 : int(($2 + 1610) / 1611) }
	END { printf "they are %d bytes in %d packets (and the 1 MiB message 651)", s, p }' "$WORK/expect")"
echo "$(sha256sum <"$WORK/big" | cut -d' ' -f1) 1048576" >>"$WORK/expect"
all=$((RANDOM_MESSAGES + 1))
: >"$WORK/got"
collect "$WORK/got" "$all" $((240 * scale))
diag "$(wc -l <"$WORK/got") of the $all at bob $(( $(date +%s) - T_SEND )) s after the first was sent"
sort "$WORK/expect" >"$WORK/expect.sorted"
sleep 3
collect "$WORK/got" $((all + 1)) 2
sort "$WORK/got" >"$WORK/got.sorted"
check "all $all arrive at bob byte-identical (sha256), each exactly once" \
	cmp -s "$WORK/expect.sorted" "$WORK/got.sorted"
[ -n "$T_FAILED" ] && [ "$T_FAILED" -gt 0 ] && diff "$WORK/expect.sorted" "$WORK/got.sorted" | head -5 | sed 's/^/# /'
check "no fragment stays in bob's store" test "$(rows fragments "$BDB")" = 0
check "alice's queue is empty: every fragment was sent" wait_for 30 sh -c "test \"\$(python3 -c \"
import sqlite3; print(sqlite3.connect('file:$ADB?mode=ro', uri=True).execute('SELECT COUNT(*) FROM outgoing').fetchone()[0])\")\" = 0"

# --- bob's rpcd killed while a 1 MiB message is half received: the
# master starts it again, and the fragments it stored are resumed
head -c 1048576 /dev/urandom >"$WORK/rpcd-crash"
watch_and_kill "$WORK/held-rpcd" "$(role_pid "$CLIENT_bob_PID" rpcd)"
"$NYMCTL" --socket "$AS" send --to "$CLIENT_bob_PUBKEY" - <"$WORK/rpcd-crash" >/dev/null 2>&1
wait "$WATCHER"
held=$(cat "$WORK/held-rpcd" 2>/dev/null || echo 0)
check "bob's rpcd was killed holding part of the message ($held of its 651 fragments)" \
	sh -c "test '$held' -ge 50 && test '$held' -lt 651"
wait_for 20 all_roles_up "$CLIENT_bob_PID"
: >"$WORK/got-rpcd"
collect "$WORK/got-rpcd" 1 $((180 * scale))
sleep 3
collect "$WORK/got-rpcd" 2 2
echo "$(sha256sum <"$WORK/rpcd-crash" | cut -d' ' -f1) 1048576" >"$WORK/expect-rpcd"
check "rpcd restarted by the master: the message arrives whole, byte-identical, once" \
	cmp -s "$WORK/expect-rpcd" "$WORK/got-rpcd"
check "and none of its fragments stays behind" test "$(rows fragments "$BDB")" = 0

# --- bob killed whole while a 1 MiB message is half received
head -c 1048576 /dev/urandom >"$WORK/crash"
# every process of bob's daemon at once (the count is read again with bob dead)
# shellcheck disable=SC2046
watch_and_kill "$WORK/held-bob" $(cat /proc/"$CLIENT_bob_PID"/task/*/children) "$CLIENT_bob_PID"
"$NYMCTL" --socket "$AS" send --to "$CLIENT_bob_PUBKEY" - <"$WORK/crash" >/dev/null 2>&1
wait "$WATCHER"
sleep 0.3
held=$(rows fragments "$BDB")
check "bob was killed holding part of the message ($held of its 651 fragments)" \
	sh -c "test '$held' -ge 50 && test '$held' -lt 651"
"$B/nymd" run --id bob --home "$D/clients-home" >>"$WORK/bob2.log" 2>&1 &
CLIENT_bob_PID=$!
track "$CLIENT_bob_PID"
wait_for 10 all_roles_up "$CLIENT_bob_PID"
: >"$WORK/got-crash"
collect "$WORK/got-crash" 1 $((180 * scale))
sleep 3
collect "$WORK/got-crash" 2 2
echo "$(sha256sum <"$WORK/crash" | cut -d' ' -f1) 1048576" >"$WORK/expect-crash"
check "restarted, bob gets the message whole, byte-identical, once" \
	cmp -s "$WORK/expect-crash" "$WORK/got-crash"
check "and none of its fragments stays behind" test "$(rows fragments "$BDB")" = 0

# --- every message alice sent (the three of 1 MiB, the random ones) is
# DELIVERED in her store (enum queue_state) once the last
# acknowledgements are back: none in another state, none missing
sent=$((RANDOM_MESSAGES + 3))
delivered() {
	python3 - "$ADB" "$sent" >"$WORK/states" <<'PY'
import collections, sqlite3, sys
names = {0: "QUEUED", 1: "SENDING", 2: "DELIVERED", 3: "FAILED", 4: "SENT"}
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = db.execute("SELECT hex(msgid), state, packets, acked, reason FROM messages").fetchall()
count = collections.Counter(names.get(r[1], r[1]) for r in rows)
print("%d messages in alice's store: %s" % (len(rows),
      ", ".join("%s %d" % kv for kv in sorted(count.items()))))
for mid, state, packets, acked, reason in rows:
    if state != 2:
        print("not delivered: %s %s, %d of %d packets acknowledged%s" % (
            mid, names.get(state, state), acked, packets, ": " + reason if reason else ""))
sys.exit(0 if len(rows) == int(sys.argv[2]) and count["DELIVERED"] == len(rows) else 1)
PY
}
wait_for 60 delivered
rc=$?
head -n 10 "$WORK/states" | sed 's/^/# /'
check "every message alice sent ($sent) is DELIVERED in her store" test "$rc" = 0
finish
