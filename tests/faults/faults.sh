#!/bin/sh
# Faults during load: 6 nymd clients send to each other for about 45 s
# while, one after the other at random moments, the directory is killed
# (-9) and kept down for a while, a mixnode is killed and restarted, a
# mixnode and a provider are stopped (SIGSTOP) and continued, a provider
# is killed and restarted (its store reopened after an unclean stop),
# each nymd role of one client is killed, and the whole of another client
# (c2) is killed and restarted in the middle of a 1 MiB message (651
# fragments) it sends to a seventh client, outside the load, with the
# provider that was killed.
#
# Nothing is excused: every packet is acknowledged by its recipient's
# provider and sent again until it is (docs/acks.md), so what a crashed
# node held, or what was on its way to a killed provider, is sent again
# on another path. Every accepted message arrives exactly once (a send
# whose connection broke before the answer may arrive or not, but at
# most once), the 1 MiB message arrives whole and once, and in the end
# every message in every client's store is DELIVERED. The mixnode crash
# must also show in the senders' loop-cover statistics (loop covers
# returned, from the debug log line "loop cover back after N ms",
# compared with the same span before the crash): a client sees the loss
# as it happens.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../stress/stresslib.sh"
st_skip_sanitizer "the fault test"

N=${FAULT_CLIENTS:-6}
M=${FAULT_MESSAGES:-60}
DURATION=${FAULT_DURATION:-45}
SEED=${FAULT_SEED:-$$}
LOOP_RATE=10
NYMCTL="$B/nymctl/nymctl"
PYTHONPATH="$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
BIG_FRAGMENTS=651	# 1 MiB in fragments of 1611 bytes (docs/acks.md, 1)
plan 17

check "testnet up: 2 mixnodes a layer, 2 providers" st_up 2 2 || exit 1
check "$N nymd clients running and registered" \
	st_clients "$N" "$LOOP_RATE" 10 20 2 debug || exit 1
diag "random seed $SEED (FAULT_SEED=$SEED repeats the schedule)"

# big: the recipient of c2's 1 MiB message, with provider1, outside the
# load (nymload sends to every client of $CLIENTS_FILE): it receives
# nothing else. Every client knows of it before the load starts.
big_client() {
	st_client big "$PROVIDER1_PUBKEY" "$LOOP_RATE" 10 20 2 debug || return 1
	BIG_KEY=$(awk '$1 == "big" {print $3}' "$CLIENTS_FILE")
	sed -i '/^big /d' "$CLIENTS_FILE"
	wait_for 60 test -S "$CH/clients/big/nymd.sock" || { diag "no socket of big"; return 1; }
	wait_for 60 st_registered $((N + 1)) || { diag "big not registered"; return 1; }
	sleep 1.5	# one more topology refresh of every client
}
check "a client outside the load (big, with provider1) running and registered" \
	big_client || exit 1

: >"$WORK/events"
python3 "$NYMLOAD" --clients "$CLIENTS_FILE" --messages "$M" --duration "$DURATION" \
	--drain 90 --seed "$SEED" --out "$WORK/load" >"$WORK/load.out" 2>&1 &
LOADPID=$!
track $LOADPID

# A reproducible pseudo-random pause of 0.5 to 2.5 s.
R=$SEED
pause() {
	R=$(( (R * 1103515245 + 12345) % 2147483648 ))
	ms=$(( 500 + R % 2000 ))
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}
now() { date +%s.%N | cut -c1-14; }
event() { echo "$(now) $*" >>"$WORK/events"; diag "$(date +%T.%N | cut -c1-12) $*"; }
restart_node() {	# restart_node VAR: a node again, as nym-testnet ran it
	eval "exe=\$${1}_EXE id=\$${1}_ID"
	"$exe" run --id "$id" --home "$D/nodes" >>"$WORK/logs/$id-restart.log" 2>&1 &
	eval "${1}_PID=$!"
	track $!
}
alive() { kill -0 "$1" 2>/dev/null; }

# The topology lists every node and client again (after the directory
# came back, nodes post their presence within their 5 s interval).
topo_full() {
	python3 - "$DIRECTORY_TOPOLOGY_URL" $((N + 1)) <<'PY'
import json, sys, urllib.request
t = json.load(urllib.request.urlopen(sys.argv[1], timeout=2))
c = sum(len(p.get("registeredClients") or []) for p in t.get("MixProviderNodes") or [])
sys.exit(0 if len(t.get("MixNodes") or []) == 6 and len(t.get("MixProviderNodes") or []) == 2
         and c >= int(sys.argv[2]) else 1)
PY
}
# Each fault gets its own span of time, so that a loss is attributed to
# the fault that caused it.
settle() { wait_for 20 topo_full; sleep 2; pause; }

# big_rows DB: of the 1 MiB message in a sender's store (read only), its
# rows still queued (not acknowledged) and its packets acknowledged
big_rows() {
	python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = db.execute("SELECT COUNT(*) FROM outgoing WHERE frag_count > 0").fetchone()[0]
acked = db.execute("SELECT COALESCE(MAX(acked), 0) FROM messages WHERE packets > 1").fetchone()[0]
print(rows, acked)
PY
}

sleep 2
pause
# 1. The directory killed and down for a while, then started again.
event "kill -9 directory"
kill -KILL "$DIRECTORY_PID"
sleep 4
"$DIRECTORY_EXE" --listen "127.0.0.1:$DIRECTORY_PORT" >>"$WORK/logs/directory-restart.log" 2>&1 &
DIRECTORY_PID=$!
track $DIRECTORY_PID
event "directory restarted after 4 s"
settle
event "topology complete again"

# 2. A layer-2 mixnode killed and restarted 2 s later: the packets it
# held are not acknowledged, and their senders send them again.
T_KILL=$(now)
event "kill -9 mixnode mix2_1"
kill -KILL "$MIX2_1_PID"
sleep 2
restart_node MIX2_1
T_BACK=$(now)
event "mixnode mix2_1 restarted"
sleep 2
settle

# 3. SIGSTOP / SIGCONT of a mixnode and of a provider.
event "SIGSTOP mixnode mix1_2 for 2 s"
kill -STOP "$MIX1_2_PID"; sleep 2; kill -CONT "$MIX1_2_PID"
settle
event "SIGSTOP provider2 for 2 s"
kill -STOP "$PROVIDER2_PID"; sleep 2; kill -CONT "$PROVIDER2_PID"
settle

# c2 sends big 1 MiB: 651 fragments, about 33 s of its send slots at 20 a
# second, ahead of its later load messages (its queue goes in order):
# provider1's crash and then c2's own come in the middle of it.
head -c 1048576 /dev/urandom >"$WORK/big"
echo "$(sha256sum <"$WORK/big" | cut -d' ' -f1) 1048576" >"$WORK/big.expect"
"$NYMCTL" --socket "$CH/clients/c2/nymd.sock" send --to "$BIG_KEY" - \
	<"$WORK/big" >"$WORK/big-send.out" 2>&1
event "c2 queued 1 MiB to big (nymctl send: exit $?, $(head -n 1 "$WORK/big-send.out"))"

# 4. A provider killed and restarted: its store reopened after an unclean
# stop. What its clients sent is confirmed by it or sent again by their
# netd; what was on its way to its mailboxes, or stored and not yet
# acknowledged, is sent again by its senders.
event "kill -9 provider1"
kill -KILL "$PROVIDER1_PID"
sleep 1
restart_node PROVIDER1
event "provider1 restarted"
settle

# 5. Each nymd role of c1 killed (the master restarts it).
for r in keyd netd rpcd; do
	p=$(role_pid "$CPID_c1" "$r") && { event "kill -9 c1 $r"; kill -KILL "$p"; }
	pause
done
# 6. The whole of c2 killed and started again in the middle of its 1 MiB
# message: part of it must still be queued, unacknowledged, when the
# kill lands (if not, the schedule waits too long for the message).
set -- $(big_rows "$CH/clients/c2/data/nymd.db") 0 0
event "kill -9 the whole of c2 (master and children): $2 of the $BIG_FRAGMENTS fragments acknowledged, $1 queued"
for p in $(st_family "$CPID_c2"); do kill -KILL "$p" 2>/dev/null; done
check "c2 was killed in the middle of its 1 MiB message ($2 of $BIG_FRAGMENTS fragments acknowledged, $1 queued)" \
	test "$1" -gt 0 -a "$2" -gt 0
sleep 0.5
"$B/nymd" run --id c2 --home "$CH" >>"$WORK/logs/run-c2-restart.out" 2>&1 &
CPID_c2=$!
track $CPID_c2
event "c2 restarted"
event "end of the fault schedule"

wait "$LOADPID"
S="$WORK/load/summary"
sed 's/^/# /' "$S"
# Each missing message, with the last fault before (or up to 2 s after)
# its acceptance.
python3 - "$WORK/events" "$WORK/load/missing" <<'PY' | sed 's/^/# /'
import sys, collections
ev = [(float(l.split()[0]), l.split(None, 1)[1].strip()) for l in open(sys.argv[1])]
per = collections.Counter()
for l in open(sys.argv[2]):
    t = float(l.split()[0])
    ph = "before any fault"
    for te, what in ev:
        if te <= t + 2:
            ph = what
    per[ph] += 1
    print("missing:", l.strip(), "| phase:", ph)
for ph, n in sorted(per.items()):
    print("lost in phase '%s': %d" % (ph, n))
PY
sed 's/^/# duplicate: /' "$WORK/load/duplicates"

check "the load ran to the end ($(sval "$S" attempted) sends attempted)" \
	test "$(sval "$S" attempted)" = $((N * M))
check "most sends accepted ($(sval "$S" accepted); unknown outcome: $(sval "$S" unknown))" \
	test "$(sval "$S" accepted)" -ge $((N * M * 9 / 10))
check "no accepted message shown twice (duplicates $(sval "$S" duplicates))" \
	test "$(sval "$S" duplicates)" = 0
check "nothing shown that was not sent" test "$(sval "$S" stray)" = 0
check "no accepted message lost, whatever crashed (lost $(sval "$S" missing) of $(sval "$S" accepted))" \
	test "$(sval "$S" missing)" = 0
diag "sends whose connection broke before the answer: $(sval "$S" unknown), of which arrived: $(sval "$S" unknown_arrived)"
# What retransmission did (rpcd's debug line "N packets unacknowledged by
# their deadline: sent again"), per client.
diag "packets sent again after their deadline: $(for f in "$WORK"/logs/c*.log; do
	n=$(sed -n 's/.* debug: \([0-9]*\) packets unacknowledged by their deadline: sent again.*/\1/p' "$f" |
		awk '{ s += $1 } END { print s + 0 }')
	c=${f##*/}; printf '%s %s, ' "${c%.log}" "$n"; done | sed 's/, $//')"

# Loop covers returned per second, all senders, before and during the crash.
python3 - "$T_KILL" "$T_BACK" "$WORK"/logs/c*.log >"$WORK/loops" <<'PY'
import sys, datetime
t_kill, t_back = float(sys.argv[1]), float(sys.argv[2])
span = t_back - t_kill
before = during = 0
for path in sys.argv[3:]:
    if "restart" in path or "run-" in path:
        continue
    for line in open(path, errors="replace"):
        if "loop cover back" not in line:
            continue
        ts = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
        t = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t_kill - span <= t < t_kill:
            before += 1
        elif t_kill + 0.3 <= t < t_back:
            during += 1
rb = before / span
rd = during / (span - 0.3)
print("before %d %.1f" % (before, rb))
print("during %d %.1f" % (during, rd))
PY
set -- $(grep before "$WORK/loops") $(grep during "$WORK/loops")
diag "loop covers returned: $3/s ($2) in the 2 s before the crash, $6/s ($5) while mix2_1 was down"
check "loop covers came back before the crash ($2 returned)" test "$2" -gt 0
check "the crash shows in the senders' loop-cover statistics (fewer than 80% returned while down)" \
	python3 -c "import sys; sys.exit(0 if float('$6') < 0.8 * float('$3') else 1)"

# big's messages, a sha256 and length a line, until one came or 60 s
# passed, then 3 s more to catch a second copy.
python3 - "$CH/clients/big/nymd.sock" "$WORK/big.got" <<'PY'
import hashlib, sys, time, nym
c = nym.connect_unix(sys.argv[1], timeout=60)
n, end = 0, time.time() + 60
with open(sys.argv[2], "w") as f:
    while time.time() < end:
        for m in c.fetch():
            f.write("%s %d\n" % (hashlib.sha256(m).hexdigest(), len(m)))
            if n == 0:
                end = time.time() + 3
            n += 1
        f.flush()
        time.sleep(0.2)
PY
sed 's/^/# big received: /' "$WORK/big.got"
check "big received the 1 MiB message byte-identical (sha256), exactly once" \
	cmp -s "$WORK/big.expect" "$WORK/big.got"

check "c1's master restarted each killed role" wait_for 10 all_roles_up "$CPID_c1"
check "the restarted c2, provider1, mix2_1 and directory run" sh -c \
	"kill -0 $CPID_c2 && kill -0 $PROVIDER1_PID && kill -0 $MIX2_1_PID && kill -0 $DIRECTORY_PID"
check "provider1 reopened its store after kill -9 (no error in its log)" \
	sh -c "grep -q 'mailbox store' '$WORK/logs/provider1-restart.log' && \
	 ! grep -q ' error: \| fatal: \|panic' '$WORK/logs/provider1-restart.log'"
check "after the faults, new messages flow again (c1 -> c2)" sh -c "
	set -- \$(awk '\$1==\"c2\"' '$CLIENTS_FILE')
	'$SOCKREQ' 'unix:$CH/clients/c1/nymd.sock' \"send:\$3:\$4:after-faults\" | grep -q '^send: ok' || exit 1
	i=0; while [ \$i -lt 100 ]; do
		'$SOCKREQ' \"unix:\$2\" fetch | grep -q \"\$(printf after-faults | od -An -tx1 | tr -d ' \n')\" && exit 0
		sleep 0.1; i=\$((i + 1)); done; exit 1"

# all_delivered: no message in any client's store (read only) in another
# state than DELIVERED (enum queue_state); the states counted, and each
# message that is not, in $WORK/states
all_delivered() {
	python3 - "$CH"/clients/*/data/nymd.db >"$WORK/states" <<'PY'
import collections, os, sqlite3, sys
names = {0: "QUEUED", 1: "SENDING", 2: "DELIVERED", 3: "FAILED", 4: "SENT"}
count, bad = collections.Counter(), []
for path in sys.argv[1:]:
    client = path.split(os.sep)[-3]
    db = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
    for mid, state, packets, acked, reason in db.execute(
            "SELECT hex(msgid), state, packets, acked, reason FROM messages"):
        count[names.get(state, state)] += 1
        if state != 2:
            bad.append("%s %s %s, %d of %d packets acknowledged%s" % (
                client, mid, names.get(state, state), acked, packets,
                ": " + reason if reason else ""))
    db.close()
print("%d stores, messages: %s" % (len(sys.argv) - 1,
      ", ".join("%s %d" % kv for kv in sorted(count.items()))))
for b in bad:
    print("not delivered:", b)
sys.exit(1 if bad or not count else 0)
PY
}
T_D=$(date +%s)
wait_for 60 all_delivered
rc=$?
head -n 20 "$WORK/states" | sed 's/^/# /'
check "every message in every client's store is DELIVERED (waited $(( $(date +%s) - T_D )) s)" \
	test "$rc" = 0
finish
