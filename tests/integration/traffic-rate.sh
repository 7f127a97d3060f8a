#!/bin/sh
# The Loopix streams run at their configured rates (DESIGN.md section 5),
# on a real local mixnet (nym-testnet):
#  - alice's packet rate to her provider, from the bytes her link socket
#    has sent (ss -ti), is her send + loop rate (the event loop's coarse
#    clock once held every stream to one tick per 4 ms jiffy: 400/s ran at
#    about 200/s);
#  - while keyd cannot build (stopped), send ticks find the cover pool
#    empty and netd says so, once, rate-limited; the rate comes back with
#    keyd.
. "$(dirname "$0")/lib.sh"
plan 6

B="$top_builddir/src"
D="$WORK/tn"
trap '"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; t_cleanup' EXIT

if ! command -v ss >/dev/null 2>&1; then
	for i in 1 2 3 4 5 6; do echo "ok $i - # SKIP ss (Debian package iproute2) is not installed"; done
	exit 0
fi

SEND_RATE=400
LOOP_RATE=20
# Everything is several times slower under ASan: a lower rate keeps keyd
# ahead of the streams on a loaded 2-core machine.
[ -n "${NYMD_SANITIZER_BUILD:-}" ] && SEND_RATE=150
# One packet frame and the ping after it on the wire (docs/link.md).
FRAME_BYTES=2520

testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 1 --send-rate $SEND_RATE \
	--fetch-rate 10 --loop-rate $LOOP_RATE

# bytes_sent of alice's link to her provider (netd pid $1)
sent_bytes() {
	ss -tinpH state established "( dport = :$PROVIDER1_PORT )" 2>/dev/null |
		awk -v p="pid=$1," 'index($0, p) { f = 1; next }
			f && match($0, /bytes_sent:[0-9]+/) { print substr($0, RSTART + 11, RLENGTH - 11); exit }
			{ f = 0 }' | grep .
}
now() { date +%s.%N; }
# rate NETD SECONDS: alice's packets per second over SECONDS
rate() {
	b0=$(sent_bytes "$1"); t0=$(now)
	sleep "$2"
	b1=$(sent_bytes "$1"); t1=$(now)
	python3 -c "import sys; b0, b1, t0, t1, fb = map(float, sys.argv[1:]); print('%.1f' % ((b1 - b0) / fb / (t1 - t0)))" \
		"${b0:-0}" "${b1:-0}" "$t0" "$t1" "$FRAME_BYTES"
}
within() {	# within MEASURED EXPECTED LOW HIGH
	python3 -c "import sys; m, e, lo, hi = map(float, sys.argv[1:]); sys.exit(0 if lo <= m / e <= hi else 1)" "$@"
}

netd=$(role_pid "$CLIENT_alice_PID" netd)
keyd=$(role_pid "$CLIENT_alice_PID" keyd)
check "alice's netd and keyd run" test -n "$netd" -a -n "$keyd"
wait_for 10 sent_bytes "$netd" >/dev/null
sleep 2		# warm-up: cover pools filled, first pulls done
r1=$(rate "$netd" 5)
expect=$((SEND_RATE + LOOP_RATE))
diag "alice sends $r1 packets/s; configured send $SEND_RATE/s + loop $LOOP_RATE/s = $expect/s"
check "alice's packet rate is her send + loop rate (within 20 %)" within "$r1" "$expect" 0.8 1.2

# keyd stopped: the pools run dry, ticks send nothing and netd says so
# (at once, or 10 s after an earlier warning: a loaded machine may have
# left a tick without a cover before).
n_before=$(grep -c 'send stream: .*found no cover packet ready' "$CLIENT_alice_LOG")
kill -STOP "$keyd"
sleep 1.5
kill -CONT "$keyd"
stop_logged() {
	grep 'send stream: .*found no cover packet ready' "$CLIENT_alice_LOG" | sed -n "$((n_before + 1)),\$p" |
		sed -n 's/.*send stream: \([0-9]*\) tick(s).*/\1/p' | awk '$1 >= 100 { f = 1 } END { exit !f }'
}
check "netd logs that send ticks found no cover ready while keyd was stopped" wait_for 12 stop_logged
grep "found no cover packet ready" "$CLIENT_alice_LOG" | sed 's/^/# /'
spaced() {	# consecutive warnings of a stream at least 10 s apart
	grep "$1 stream: .*found no cover packet ready" "$CLIENT_alice_LOG" | cut -d' ' -f1 |
		python3 -c "
import sys, datetime
ts = [datetime.datetime.strptime(l.strip(), '%Y-%m-%dT%H:%M:%S.%fZ') for l in sys.stdin]
sys.exit(0 if all((b - a).total_seconds() >= 9.9 for a, b in zip(ts, ts[1:])) else 1)"
}
check "the warning is rate-limited (at most one line per stream every 10 s)" spaced send
sleep 1
r2=$(rate "$netd" 5)
diag "after keyd came back: $r2 packets/s"
check "the rate is back once keyd runs again (within 20 %)" within "$r2" "$expect" 0.8 1.2
finish
