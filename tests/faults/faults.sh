#!/bin/sh
# Faults during load: 6 nymd clients send to each other for about 40 s
# while, one after the other at random moments, the directory is killed
# (-9) and kept down for a while, a mixnode is killed and restarted, a
# mixnode and a provider are stopped (SIGSTOP) and continued, a provider
# is killed and restarted (its store reopened after an unclean stop),
# each nymd role of one client is killed and the whole of another client
# is killed and restarted.
#
# Accepted messages arrive exactly once, except packets that were inside
# the killed mixnode (held in memory for their delay; retransmission is a
# later issue), or on their way to the killed provider's clients. Those
# losses are counted, not ignored: a missing message is "excused" only if
# it was accepted in the window around the mixnode crash, or around the
# provider crash and addressed to one of its clients; the mixnode's
# window must show the loss in the senders' loop-cover
# statistics (loop covers returned, from the debug log line "loop cover
# back after N ms", compared with the same span before the crash).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../stress/stresslib.sh"
st_skip_sanitizer "the fault test"

N=${FAULT_CLIENTS:-6}
M=${FAULT_MESSAGES:-60}
DURATION=${FAULT_DURATION:-45}
SEED=${FAULT_SEED:-$$}
LOOP_RATE=10
plan 14

check "testnet up: 2 mixnodes a layer, 2 providers" st_up 2 2 || exit 1
check "$N nymd clients running and registered" \
	st_clients "$N" "$LOOP_RATE" 10 20 2 debug || exit 1
diag "random seed $SEED (FAULT_SEED=$SEED repeats the schedule)"

EXCUSE="$WORK/excuse"
: >"$EXCUSE"
: >"$WORK/events"
python3 "$NYMLOAD" --clients "$CLIENTS_FILE" --messages "$M" --duration "$DURATION" \
	--drain 60 --seed "$SEED" --excuse-file "$EXCUSE" --out "$WORK/load" \
	>"$WORK/load.out" 2>&1 &
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
	python3 - "$DIRECTORY_TOPOLOGY_URL" "$N" <<'PY'
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

# 2. A layer-2 mixnode killed and restarted 2 s later: its packets are lost.
T_KILL=$(now)
event "kill -9 mixnode mix2_1"
kill -KILL "$MIX2_1_PID"
sleep 2
restart_node MIX2_1
T_BACK=$(now)
event "mixnode mix2_1 restarted"
# Messages accepted from 3 s before the crash (queued at the sender,
# then delayed per hop) to 2 s after the restart may have crossed it.
python3 -c "print($T_KILL - 3, $T_BACK + 2)" >>"$EXCUSE"
sleep 2
settle

# 3. SIGSTOP / SIGCONT of a mixnode and of a provider.
event "SIGSTOP mixnode mix1_2 for 2 s"
kill -STOP "$MIX1_2_PID"; sleep 2; kill -CONT "$MIX1_2_PID"
settle
event "SIGSTOP provider2 for 2 s"
kill -STOP "$PROVIDER2_PID"; sleep 2; kill -CONT "$PROVIDER2_PID"
settle

# 4. A provider killed and restarted: its store reopened after an unclean stop.
# What its clients sent is confirmed by it or sent again by their netd, so
# none of that may be lost; what was on its way to them inside the killed
# process or its socket buffers is, as for the mixnode (no hop-by-hop or
# end-to-end acknowledgement yet): only messages to provider1's clients
# are excused, in the same window.
T_PKILL=$(now)
event "kill -9 provider1"
kill -KILL "$PROVIDER1_PID"
sleep 1
restart_node PROVIDER1
T_PBACK=$(now)
event "provider1 restarted"
P1_CLIENTS=$(i=1; while [ $i -le "$N" ]; do [ $(( (i - 1) % TESTNET_PROVIDERS )) = 0 ] && printf ' c%d' $i; i=$((i + 1)); done)
python3 -c "print($T_PKILL - 3, $T_PBACK + 2, '$P1_CLIENTS')" >>"$EXCUSE"
settle

# 5. Each nymd role of c1 killed (the master restarts it).
for r in keyd netd rpcd; do
	p=$(role_pid "$CPID_c1" "$r") && { event "kill -9 c1 $r"; kill -KILL "$p"; }
	pause
done
# 6. The whole of c2 killed and started again.
event "kill -9 the whole of c2 (master and children)"
for p in $(st_family "$CPID_c2"); do kill -KILL "$p" 2>/dev/null; done
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
# its acceptance: the phase that lost it.
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
    per[(ph, "excused" in l)] += 1
    print("missing:", l.strip(), "| phase:", ph)
for (ph, exc), n in sorted(per.items()):
    print("lost in phase '%s': %d%s" % (ph, n, " (a crashed node: excused)" if exc else ""))
PY

check "the load ran to the end ($(sval "$S" attempted) sends attempted)" \
	test "$(sval "$S" attempted)" = $((N * M))
check "most sends accepted ($(sval "$S" accepted); unknown outcome: $(sval "$S" unknown))" \
	test "$(sval "$S" accepted)" -ge $((N * M * 9 / 10))
check "no accepted message shown twice (duplicates $(sval "$S" duplicates))" \
	test "$(sval "$S" duplicates)" = 0
check "nothing shown that was not sent" test "$(sval "$S" stray)" = 0
check "no accepted message lost outside the crash windows (lost $(sval "$S" lost))" \
	test "$(sval "$S" lost)" = 0
diag "messages lost inside a crashed node (excused, counted): $(sval "$S" excused) of $(sval "$S" accepted)"
diag "sends whose connection broke before the answer: $(sval "$S" unknown), of which arrived: $(sval "$S" unknown_arrived)"

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
excused=$(sval "$S" excused)
check "messages lost in the crashed nodes counted: $excused, reported, and bounded" \
	test "$excused" -le $((N * 20))

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
finish
