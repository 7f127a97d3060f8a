#!/bin/sh
# Traffic benchmark of nymd on a local mixnet (nym-testnet), run by
# `make bench` (tests/bench/run-bench.sh):
#  - latency alice -> bob with per-hop delays ~0 and high Poisson rates,
#    p50 and p99 of (receive time - send time), against the round trip of a
#    `details` request on alice's socket in the same run (target p99 <= 10 ms);
#  - resident memory of alice's four nymd processes together, idle and under
#    a burst, against four minimal processes (target <= 16 MiB idle);
#  - time from `nymd run` to the first successful fetch, against the time to
#    the first answer on its socket.
# Prints report rows (see run-bench.sh) and writes the latency CDF plot.
# Environment: top_builddir, top_srcdir; BENCH_OUT (plots), BENCH_TMP.
# Tunables: TB_SEND_RATE (alice's), TB_FETCH_RATE (bob's), TB_LOOP_RATE,
# TB_IDLE_RATE (the streams the measurement does not wait for), TB_DELAY_MS,
# TB_COUNT (latency samples), TB_INTERVAL_MS, TB_BURST.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
: "${BENCH_OUT:=$top_builddir/bench}" "${BENCH_TMP:=$(mktemp -d /tmp/traffic-bench.XXXXXX)}"
SEND_RATE=${TB_SEND_RATE:-1000}
FETCH_RATE=${TB_FETCH_RATE:-1000}
LOOP_RATE=${TB_LOOP_RATE:-10}
IDLE_RATE=${TB_IDLE_RATE:-10}
# How often the measuring client asks bob's nymd for new messages: every
# 0.2 ms was 5000 SQLite-backed fetches a second competing for the two
# CPUs with the path it measures.
POLL_MS=${TB_POLL_MS:-1}
# nymd refuses a mean delay of exactly 0 (config: > 0); 1 µs is zero here.
DELAY_MS=${TB_DELAY_MS:-0}
COUNT=${TB_COUNT:-400}
INTERVAL_MS=${TB_INTERVAL_MS:-20}
BURST=${TB_BURST:-2000}

B="$top_builddir/src"
SOCKREQ="$top_builddir/tests/tools/sockreq"
LAT="$top_srcdir/tests/tools/nymlat.py"
W="$BENCH_TMP/traffic"
D="$W/tn"
rm -rf "$W"
mkdir -p "$W" "$BENCH_OUT"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
}
trap cleanup EXIT

row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print('%.2f' % (a / b) if b else 'n/a')" "$1" "$2"; }
field() { sed -n "s/^$1 //p" "$2" | head -1; }

echo "cmd: cd $top_builddir && top_builddir=\$PWD top_srcdir=$top_srcdir BENCH_OUT=/tmp/b sh $top_srcdir/tests/bench/traffic-bench.sh"
if ! "$B/nym-testnet" up --dir "$D" --clients alice,bob --delay-ms "$DELAY_MS" \
	--send-rate "$SEND_RATE" --fetch-rate "$FETCH_RATE" --loop-rate "$LOOP_RATE" >"$W/up.out" 2>&1; then
	sed 's/^/nym-testnet: /' "$W/up.out"
	exit 1
fi
echo "cmd:   (testnet: nym-testnet up --dir DIR --clients alice,bob --delay-ms $DELAY_MS --send-rate $SEND_RATE --fetch-rate $FETCH_RATE --loop-rate $LOOP_RATE)"
. "$D/testnet.env"

# Only alice's send stream and bob's fetch stream are on the measured
# path; running the other two at 1000/s as well would only load the two
# CPUs with cover traffic (each stream really runs at its rate). The rates
# change in each client's config.toml, which nymd rereads on SIGHUP.
set_rates() {	# set_rates CLIENT SEND FETCH
	eval cpid=\$CLIENT_$1_PID
	cfg="$TESTNET_CLIENTS_HOME/clients/$1/config/config.toml"
	sed -i -e "s/^message_sending_rate = .*/message_sending_rate = $2/" \
		-e "s/^fetch_message_rate = .*/fetch_message_rate = $3/" "$cfg" &&
		kill -HUP "$cpid"
}
set_rates alice "$SEND_RATE" "$IDLE_RATE"
set_rates bob "$IDLE_RATE" "$FETCH_RATE"
echo "cmd:   (then in alice's config.toml message_sending_rate = $SEND_RATE, fetch_message_rate = $IDLE_RATE; in bob's message_sending_rate = $IDLE_RATE, fetch_message_rate = $FETCH_RATE; kill -HUP each nymd)"
sleep 1
BOB="$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER"
ALICE="$CLIENT_alice_PUBKEY:$CLIENT_alice_PROVIDER"
echo "note: testnet of 1 directory, 3 mixnodes, 1 provider, clients alice and bob; per-hop mean delay $DELAY_MS ms, Poisson rates: alice sends at $SEND_RATE/s and fetches at $IDLE_RATE/s, bob sends at $IDLE_RATE/s and fetches at $FETCH_RATE/s, loop cover $LOOP_RATE/s each."

# CPU time (clock ticks) of every process of the testnet and its children
cpu_ticks() {
	for k in $TESTNET_PROCESSES; do
		eval p=\$${k}_PID
		echo "$p" $(cat /proc/"$p"/task/*/children 2>/dev/null)
	done | tr ' ' '\n' | grep . | while read -r p; do
		sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{ print $12 + $13 }'
	done | awk '{ s += $1 } END { print s + 0 }'
}

# ---- latency ---------------------------------------------------------------
# Warm-up: the first packets wait for the cover pools and first pulls.
python3 "$LAT" latency --from "$CLIENT_alice_SOCKET" --to "$CLIENT_bob_SOCKET" \
	--recipient "$BOB" --count 50 --interval-ms 10 >/dev/null 2>&1
cpu0=$(cpu_ticks); w0=$(date +%s.%N)
python3 "$LAT" latency --from "$CLIENT_alice_SOCKET" --to "$CLIENT_bob_SOCKET" \
	--recipient "$BOB" --count "$COUNT" --interval-ms "$INTERVAL_MS" --poll-ms "$POLL_MS" \
	--out "$W/lat.txt" >"$W/lat.sum" 2>&1
cpu1=$(cpu_ticks); w1=$(date +%s.%N)
echo "cmd:   (latency: python3 $LAT latency --from ALICE_SOCKET --to BOB_SOCKET --recipient BOB_KEY:PROVIDER --count $COUNT --interval-ms $INTERVAL_MS --poll-ms $POLL_MS)"
p50=$(field latency_p50_ms "$W/lat.sum")
p99=$(field latency_p99_ms "$W/lat.sum")
d50=$(field details_p50_ms "$W/lat.sum")
d99=$(field details_p99_ms "$W/lat.sum")
got=$(sed -n 's/^sent [0-9]* received //p' "$W/lat.sum")
if [ -n "$p50" ] && [ -n "$d50" ]; then
	row "alice→bob latency p50 ($got of $COUNT messages)" "$p50" ms "details round trip p50 $d50 ms" "$(ratio "$p50" "$d50")"
	row "alice→bob latency p99" "$p99" ms "details round trip p99 $d99 ms" "$(ratio "$p99" "$d99")"
	row "alice→bob latency p99 vs target" "$p99" ms "target 10 ms" "$(ratio "$p99" 10)"
	sa=$(field sendack_p50_ms "$W/lat.sum")
	row "send accepted (durably queued), p50" "$sa" ms "details round trip p50 $d50 ms" "$(ratio "$sa" "$d50")"
	cores=$(python3 -c "import sys; c0, c1, w0, w1, hz = map(float, sys.argv[1:]); print('%.2f' % ((c1 - c0) / hz / (w1 - w0)))" \
		"$cpu0" "$cpu1" "$w0" "$w1" "$(getconf CLK_TCK)")
	row "CPU used by the testnet's processes during the latency run" "$cores" "CPUs" "$(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)" "$(ratio "$cores" "$(nproc)")"
	python3 - "$W/lat.txt" "$SEND_RATE" "$FETCH_RATE" "$POLL_MS" <<'PY'
import sys
lat = sorted(float(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("latency"))
send, fetch, poll = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
n = len(lat)
under = sum(1 for x in lat if x <= 10.0)
print("note: latency: %d samples, min %.2f ms, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; "
      "%.1f%% within 10 ms." % (n, lat[0], lat[n // 2], lat[int(n * 0.9)], lat[min(n - 1, int(n * 0.99))],
                                lat[-1], 100.0 * under / n))
print("note: latency: the Poisson streams alone add a mean of 1/%g + 1/%g s = %.1f ms (alice's send "
      "tick, bob's fetch tick); the rest is rpcd's durable queue, keyd's Sphinx build and unwrap, "
      "three mixnode hops, the provider's SQLite commit (synchronous=FULL), and bob's durable store. "
      "Receive time is when the measuring client's own fetch loop (%g ms poll) got it." %
      (send, fetch, 1000.0 / send + 1000.0 / fetch, poll))
PY
else
	echo "note: latency: measurement failed:"
	sed 's/^/note:   /' "$W/lat.sum"
fi

# ---- memory ----------------------------------------------------------------
alice_pids() { echo "$CLIENT_alice_PID" $(cat /proc/"$CLIENT_alice_PID"/task/*/children 2>/dev/null); }
# kib FIELD PIDS...: the sum of FIELD (Rss or Pss, kB) over PIDS
kib() {
	f=$1; shift
	for p in "$@"; do sed -n "s/^$f: *\([0-9]*\) kB/\1/p" /proc/"$p"/smaps_rollup 2>/dev/null; done |
		awk '{ s += $1 } END { print s + 0 }'
}
mib() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / 1024))" "$1"; }
sleep 2
set -- $(alice_pids)
nproc_alice=$#
rss_idle=$(kib Rss "$@")
pss_idle=$(kib Pss "$@")
# Baseline: four minimal processes (coreutils sleep) in the same run.
s1= s2= s3= s4=
sleep 30 & s1=$!; sleep 30 & s2=$!; sleep 30 & s3=$!; sleep 30 & s4=$!
PIDS="$PIDS $s1 $s2 $s3 $s4"
sleep 0.2
rss_base=$(kib Rss $s1 $s2 $s3 $s4)
kill $s1 $s2 $s3 $s4 2>/dev/null
# Under a burst: BURST messages as fast as alice's socket takes them.
args=""
k=1
while [ "$k" -le 200 ]; do args="$args send:$BOB:burst-$k-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; k=$((k + 1)); done
(
	i=0
	while [ "$i" -lt $((BURST / 200)) ]; do
		# shellcheck disable=SC2086
		"$SOCKREQ" "unix:$CLIENT_alice_SOCKET" $args >/dev/null
		i=$((i + 1))
	done
) &
bp=$!
PIDS="$PIDS $bp"
rss_burst=0
pss_burst=0
while kill -0 "$bp" 2>/dev/null; do
	r=$(kib Rss $(alice_pids)); [ "$r" -gt "$rss_burst" ] && rss_burst=$r
	p=$(kib Pss $(alice_pids)); [ "$p" -gt "$pss_burst" ] && pss_burst=$p
	sleep 0.05
done
# and while the queue drains
for i in 1 2 3 4 5 6 7 8 9 10; do
	r=$(kib Rss $(alice_pids)); [ "$r" -gt "$rss_burst" ] && rss_burst=$r
	p=$(kib Pss $(alice_pids)); [ "$p" -gt "$pss_burst" ] && pss_burst=$p
	sleep 0.2
done
row "nymd RSS, $nproc_alice processes together, idle" "$(mib "$rss_idle")" MiB "4 × sleep(1) $(mib "$rss_base") MiB" "$(ratio "$rss_idle" "$rss_base")"
row "nymd RSS idle vs target" "$(mib "$rss_idle")" MiB "target 16 MiB" "$(ratio "$rss_idle" 16384)"
row "nymd RSS, together, peak under a burst of $BURST sends" "$(mib "$rss_burst")" MiB "idle $(mib "$rss_idle") MiB" "$(ratio "$rss_burst" "$rss_idle")"
row "nymd PSS (shared pages split), together, idle" "$(mib "$pss_idle")" MiB "RSS idle $(mib "$rss_idle") MiB" "$(ratio "$pss_idle" "$rss_idle")"
row "nymd PSS, together, peak under the burst" "$(mib "$pss_burst")" MiB "PSS idle $(mib "$pss_idle") MiB" "$(ratio "$pss_burst" "$pss_idle")"
echo "note: memory: RSS/PSS from /proc/PID/smaps_rollup of nymd's master, keyd, netd and rpcd (RSS counts shared library pages once per process; PSS splits them)."

# Let bob's mailbox drain before the next measurement.
i=0
while [ "$i" -lt 300 ] && "$SOCKREQ" "unix:$CLIENT_bob_SOCKET" fetch 2>/dev/null | grep -q '^message: '; do
	sleep 0.1
	i=$((i + 1))
done

# ---- IPC frames per message -------------------------------------------------
# Each nymd process logs, at exit, the IPC frames it sent and received by
# type; one frame is one protobuf pack and one unpack. Before issue 13 a
# message took 4 frames to send (rpcd→netd OUTGOING, netd→keyd BUILD_REQUEST,
# keyd→netd BUILD_REPLY, netd→rpcd SENT) with its body packed and unpacked 5
# times each (netd kept the Outgoing packed and unpacked it to build), and 4
# to receive; those counts are from the code, since that build is not here.
# ipc_count LOG ROLE DIR TYPE: the last count of TYPE sent (DIR=sent) or
# received (DIR=received) that ROLE logged in LOG
ipc_count() {
	grep "$2\[" "$1" | grep 'ipc frames sent' | tail -1 | python3 -c '
import re, sys
line = sys.stdin.read()
want, typ = sys.argv[1], sys.argv[2]
sent, _, received = line.partition("; received:")
part = sent if want == "sent" else received
m = re.search(r"\b%s=(\d+)" % typ, part)
print(m.group(1) if m else 0)' "$3" "$4"
}
traffic_count() {	# traffic_count LOG WHAT: netd's exit count ("loops returned")
	grep 'traffic: ' "$1" | tail -1 | sed -n "s/.* \([0-9]*\) $2.*/\1/p"
}
kill -TERM "$CLIENT_alice_PID" 2>/dev/null
i=0
while kill -0 "$CLIENT_alice_PID" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
AL="$CLIENT_alice_LOG"
a_sent=$(ipc_count "$AL" netd sent SENT)
a_frames=$(( $(ipc_count "$AL" rpcd sent BUILD) + $(ipc_count "$AL" keyd sent PACKET) +
	$(ipc_count "$AL" keyd sent BUILD_FAILED) + $(ipc_count "$AL" netd sent SENT) +
	$(ipc_count "$AL" netd sent EXPIRED) + $(ipc_count "$AL" keyd sent NETD_UP) ))
if [ "${a_sent:-0}" -gt 0 ]; then
	f=$(python3 -c "import sys; print('%.2f' % (int(sys.argv[1]) / int(sys.argv[2])))" "$a_frames" "$a_sent")
	row "IPC frames per message sent ($a_sent messages)" "$f" frames "4 before issue 13 (from the code)" "$(ratio "$f" 4)"
	row "protobuf packs (and unpacks) per message sent" "$f" packs "5 before issue 13 (from the code)" "$(ratio "$f" 5)"
else
	echo "note: IPC frames: alice's log has no counts"
fi

# ---- time to the first fetch ---------------------------------------------
# alice is stopped, bob leaves a message in her mailbox, alice starts again:
# the first fetch that returns it is her first successful pull.
# Here alice is the one who fetches: her restarts read the full rate.
sed -i "s/^fetch_message_rate = .*/fetch_message_rate = $FETCH_RATE/" \
	"$TESTNET_CLIENTS_HOME/clients/alice/config/config.toml"
: >"$W/startup"
for run in 1 2 3; do
	kill -TERM "$CLIENT_alice_PID" 2>/dev/null
	i=0
	while kill -0 "$CLIENT_alice_PID" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	"$SOCKREQ" "unix:$CLIENT_bob_SOCKET" "send:$ALICE:wake-$run" >/dev/null
	sleep 1.5
	python3 "$LAT" startup --sock "$CLIENT_alice_SOCKET" --match "wake-$run" -- \
		"$B/nymd" run --id alice --home "$D/clients-home" >"$W/st.$run" 2>&1
	CLIENT_alice_PID=$(field pid "$W/st.$run")
	PIDS="$PIDS $CLIENT_alice_PID"
	echo "$(field details_ms "$W/st.$run") $(field fetch_ms "$W/st.$run")" >>"$W/startup"
done
echo "cmd:   (first fetch: stop alice, bob sends to her, then python3 $LAT startup --sock ALICE_SOCKET --match TEXT -- nymd run --id alice --home HOME)"
read -r sd sf <<EOF
$(sort -k2 -n "$W/startup" | sed -n 2p)
EOF
if [ -n "${sf:-}" ]; then
	row "nymd run → first successful fetch (median of 3)" "$sf" ms "nymd run → socket answers details $sd ms" "$(ratio "$sf" "$sd")"
	echo "note: first fetch: runs (details ms, fetch ms): $(tr '\n' ';' <"$W/startup" | sed 's/;$//'). The topology refresh of the testnet is 1 s; nymd needs the topology and a registered provider link before its first pull."
else
	echo "note: first fetch: not measured (runs: $(tr '\n' ';' <"$W/startup"))"
fi

# bob's receiving side, counted when he stops
kill -TERM "$CLIENT_bob_PID" 2>/dev/null
i=0
while kill -0 "$CLIENT_bob_PID" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
BL="$CLIENT_bob_LOG"
b_recv=$(traffic_count "$BL" "messages received")
b_other=$(( $(traffic_count "$BL" "loops returned") + $(traffic_count "$BL" "deliveries dropped") ))
b_frames=$(( $(ipc_count "$BL" netd sent UNWRAP) + $(ipc_count "$BL" keyd sent UNWRAPPED) +
	$(ipc_count "$BL" keyd sent RECEIVED) + $(ipc_count "$BL" rpcd sent STORED) +
	$(ipc_count "$BL" rpcd sent NOT_STORED) - 2 * b_other ))
if [ "${b_recv:-0}" -gt 0 ]; then
	f=$(python3 -c "import sys; print('%.2f' % (int(sys.argv[1]) / int(sys.argv[2])))" "$b_frames" "$b_recv")
	row "IPC frames per message received ($b_recv messages; loop covers' frames taken out)" "$f" frames "4 before issue 13 (from the code)" "$(ratio "$f" 4)"
	echo "note: IPC frames: a received message's plaintext now crosses one IPC channel (keyd→rpcd), a sent one one (rpcd→keyd); before, two and three, through netd."
else
	echo "note: IPC frames: bob's log has no counts"
fi

# ---- plot --------------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1 && [ -s "$W/lat.txt" ]; then
	sed -n 's/^latency //p' "$W/lat.txt" | sort -n | awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print a[i], i / NR }' >"$W/cdf.dat"
	sed -n 's/^details //p' "$W/lat.txt" | sort -n | awk '{ a[NR] = $1 } END { for (i = 1; i <= NR; i++) print a[i], i / NR }' >"$W/cdf-details.dat"
	gnuplot <<EOF 2>"$W/gnuplot.err"
set terminal pngcairo size 800,500 noenhanced
set output "$BENCH_OUT/traffic-latency-cdf.png"
set title "alice -> bob latency CDF (delay $DELAY_MS ms/hop, send $SEND_RATE/s, fetch $FETCH_RATE/s)"
set xlabel "latency (ms), log scale"
set ylabel "fraction of messages"
set logscale x
set grid
set key bottom right
set yrange [0:1]
set arrow from 10, graph 0 to 10, graph 1 nohead dt 2 lc rgb "red"
plot "$W/cdf.dat" using 1:2 with steps lw 2 title "alice -> bob (send to fetch)", \
     "$W/cdf-details.dat" using 1:2 with steps lw 2 title "baseline: details round trip"
EOF
	if [ -s "$BENCH_OUT/traffic-latency-cdf.png" ]; then
		echo "plot: traffic-latency-cdf.png Latency CDF of alice → bob (log scale), with the details round trip as the baseline; the dashed line is the 10 ms target."
	else
		echo "note: plot failed: $(head -3 "$W/gnuplot.err" | tr '\n' ' ')"
	fi
else
	echo "note: no latency plot (gnuplot, Debian package gnuplot-nox, is not installed)"
fi
exit 0
