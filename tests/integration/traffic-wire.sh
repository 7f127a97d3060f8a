#!/bin/sh
# What an observer of nymd's traffic sees (DESIGN.md section 5), on a real
# local mixnet (nym-testnet):
#  - every frame from alice to her provider that carries a packet has the
#    same size, and the pattern of frames (a packet, then a ping) is the same
#    whether alice sends real messages or only cover; shown with a packet
#    capture on loopback (tcpdump; the capture tests are skipped without it);
#  - the directory going away does not stop a client that has a topology.
. "$(dirname "$0")/lib.sh"
plan 13

B="$top_builddir/src"
TOOLS="$top_srcdir/tests/tools"
D="$WORK/tn"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
TCPDUMP_PID=""
trap '[ -n "$TCPDUMP_PID" ] && kill -INT "$TCPDUMP_PID" 2>/dev/null; down; t_cleanup' EXIT

skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $1 # SKIP $2"; }
now() { date +%s.%N; }

# tcpdump: installed here if missing and we may (Debian package tcpdump).
if ! command -v tcpdump >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q tcpdump >"$WORK/apt.log" 2>&1 || true
fi
NOCAP=""
if ! command -v tcpdump >/dev/null 2>&1; then
	NOCAP="tcpdump is not installed (Debian package tcpdump)"
elif [ "$(id -u)" != 0 ]; then
	NOCAP="capturing on loopback needs root"
fi

SEND_RATE=50
LOOP_RATE=20
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 --send-rate $SEND_RATE \
	--fetch-rate 20 --loop-rate $LOOP_RATE
A="unix:$CLIENT_alice_SOCKET"
BOB="$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER"

fetch_until() {	# fetch_until N FILE: bob's messages appended to FILE until it has N
	i=0
	while [ "$i" -lt 600 ]; do
		"$SOCKREQ" "unix:$CLIENT_bob_SOCKET" fetch 2>/dev/null | sed -n 's/^message: //p' >>"$2"
		[ "$(wc -l <"$2")" -ge "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
burst() {	# burst TAG COUNT: COUNT messages from alice; prints how many were accepted
	args=""
	k=1
	while [ "$k" -le "$2" ]; do args="$args send:$BOB:$1-$k"; k=$((k + 1)); done
	# shellcheck disable=SC2086
	"$SOCKREQ" "$A" $args | grep -c '^send: ok'
}
# alice's local port on her link to the provider, from netd pid $1
alice_port() {
	ss -tnpH state established "( dport = :$PROVIDER1_PORT )" 2>/dev/null |
		awk -v p="pid=$1," 'index($0, p) { n = split($3, a, ":"); print a[n]; exit }' | grep .
}

# ---- 1. frame sizes on the link --------------------------------------------
BURST=150
if [ -z "$NOCAP" ]; then
	tcpdump -i lo -s 0 -U -Z root -w "$WORK/cap.pcap" "tcp port $PROVIDER1_PORT" \
		>"$WORK/tcpdump.log" 2>&1 &
	TCPDUMP_PID=$!
	wait_for 10 grep -q 'listening on' "$WORK/tcpdump.log"
	# A new link, so that the capture holds it from its SYN and handshake.
	kill -KILL "$(role_pid "$CLIENT_alice_PID" netd)"
	sleep 0.2
	wait_for 10 all_roles_up "$CLIENT_alice_PID"
	netd=$(role_pid "$CLIENT_alice_PID" netd)
	wait_for 10 alice_port "$netd" >/dev/null
	PORT=$(alice_port "$netd")
	# Past ping nonce 127, so that every ping below has a 2-byte nonce.
	sleep 3
	T0=$(now); sleep 4; T1=$(now)		# idle: cover only
	: >"$WORK/w1"
	accepted=$(burst w1 $BURST)		# $BURST real messages at $SEND_RATE/s
	T2=$(now); sleep 2; T3=$(now)		# every send tick finds a real one
	fetch_until "$BURST" "$WORK/w1" || true
	sleep 1
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" 2>/dev/null
	TCPDUMP_PID=""
	python3 "$TOOLS/linkframes.py" "$WORK/cap.pcap" --src-port "${PORT:-0}" \
		--dst-port "$PROVIDER1_PORT" >"$WORK/frames" 2>"$WORK/frames.err"
	check "the capture holds alice's link to her provider from its SYN" \
		test -s "$WORK/frames"
	check "the burst of $BURST real messages was accepted and arrived at bob" \
		test "$accepted" = "$BURST" -a "$(sort -u "$WORK/w1" | wc -l)" -ge "$BURST"
	python3 - "$WORK/frames" "$T0" "$T1" "$T2" "$T3" >"$WORK/analysis" 2>&1 <<'PY'
import collections, sys
path, t0, t1, t2, t3 = sys.argv[1], *map(float, sys.argv[2:])
frames = [(float(t), int(n)) for t, n in (l.split() for l in open(path))]
out = []
def verdict(name, good, detail):
    out.append("%s %s %s" % (name, "yes" if good else "no", detail))
# The handshake's first message: 100 bytes (docs/link.md section 2).
verdict("handshake", bool(frames) and frames[0][1] == 100, "first=%s" % (frames[:1],))
tr = frames[1:]
# Packets are the only frames of a packet's size; control frames are small.
big = [n for _, n in tr if n > 512]
sizes = sorted(set(big))
verdict("onesize", len(sizes) == 1 and len(big) > 0,
        "packet-frame sizes=%s count=%d" % (sizes, len(big)))
P = sizes[0] if sizes else -1
# What follows each packet frame: a ping (L = 16 + 1 + 3 + nonce varint).
pairs = []
for i, (t, n) in enumerate(tr):
    if n == P:
        nxt = tr[i + 1][1] if i + 1 < len(tr) else None
        pairs.append((t, nxt))
verdict("pingafter", all(x is not None and 21 <= x <= 29 for _, x in pairs[:-1]),
        "after-packet sizes=%s" % dict(collections.Counter(x for _, x in pairs)))
def period(a, b):
    ps = [x for t, x in pairs if a <= t < b]
    return collections.Counter((P, x) for x in ps), len(ps) / (b - a)
idle, r_idle = period(t0, t1)
busy, r_busy = period(t2, t3)
verdict("samepairs", set(idle) == set(busy) and len(idle) == 1,
        "idle=%s busy=%s" % (dict(idle), dict(busy)))
# The rate of packets does not change either (send + loop Poisson streams).
verdict("samerate", r_idle > 0 and 0.6 < r_busy / r_idle < 1.6,
        "packets/s idle=%.1f busy=%.1f" % (r_idle, r_busy))
print("\n".join(out))
PY
	sed 's/^/# /' "$WORK/analysis"
	verdict() { grep -q "^$1 yes" "$WORK/analysis"; }
	check "alice's link starts with a 100-byte handshake message" verdict handshake
	check "every packet frame from alice to her provider has the same size" verdict onesize
	check "every packet frame, real or cover, is followed by a ping" verdict pingafter
	check "packet+ping pairs have the same sizes with and without real messages" verdict samepairs
	check "the packet rate does not change when real messages are sent" verdict samerate
else
	for d in "the capture holds alice's link to her provider from its SYN" \
		"the burst of $BURST real messages was accepted and arrived at bob" \
		"alice's link starts with a 100-byte handshake message" \
		"every packet frame from alice to her provider has the same size" \
		"every packet frame, real or cover, is followed by a ping" \
		"packet+ping pairs have the same sizes with and without real messages" \
		"the packet rate does not change when real messages are sent"; do
		skip "$d" "$NOCAP"
	done
fi

# ---- 2. the directory goes away --------------------------------------------
dircmd=$(tr '\0' '\n' </proc/"$DIRECTORY_PID"/cmdline)
kill -KILL "$DIRECTORY_PID"
check "alice says the directory is unreachable and keeps the last good topology" \
	wait_for 15 grep -q 'directory .* unreachable: .*keeping the last good topology' "$CLIENT_alice_LOG"
: >"$WORK/d1"
check "without the directory, alice's 40 messages are accepted" test "$(burst d1 40)" = 40
fetch_until 40 "$WORK/d1"
check "and bob receives all 40" test "$(sort -u "$WORK/d1" | wc -l)" -ge 40
sleep 2
: >"$WORK/d2"
burst d2 10 >/dev/null
fetch_until 10 "$WORK/d2"
check "a while later, still without the directory, 10 more arrive" \
	test "$(sort -u "$WORK/d2" | wc -l)" -ge 10
# The directory comes back (same command line, same port).
n0=$(grep -c 'topology loaded from' "$CLIENT_alice_LOG")
set -f
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2086
set -- $dircmd
IFS=$old_ifs
set +f
"$@" >>"$WORK/directory2.log" 2>&1 &
track $!
check "when the directory is back, alice loads the topology again" \
	wait_for 40 sh -c "test \$(grep -c 'topology loaded from' '$CLIENT_alice_LOG') -gt $n0"
finish
