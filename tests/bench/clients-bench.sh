#!/bin/sh
# Throughput against the number of clients, run by `make bench`
# (tests/bench/run-bench.sh): one testnet (2 mixnodes a layer, 2
# providers, nym-testnet) and N nymd clients for N in CLIENTS_BENCH_N
# (default "2 5 10 20"); clients are added between points, so at each
# point exactly N run. At each point tests/tools/nymload.py has every
# client send CB_RATE messages a second (default 40) to random others for
# CB_SECONDS seconds (default 6) and records the delivered messages per
# second (delivered / time from the first send to the last arrival).
# Baseline: the offered load, the messages attempted per second
# (attempted / CB_SECONDS); ratio delivered / offered.
# Prints report rows (see run-bench.sh), writes clients-throughput.dat and
# the plot clients-throughput.png into BENCH_OUT.
# Environment: top_builddir, top_srcdir; BENCH_OUT, BENCH_TMP.
# Tunables: CLIENTS_BENCH_N, CB_RATE, CB_SECONDS, CB_DRAIN (s, default 15),
# CB_SEND_RATE, CB_FETCH_RATE, CB_LOOP_RATE (each client's Poisson rates,
# default 80, 40, 1), CB_DELAY_MS (per-hop mean delay, default 2).
# The defaults load 2 CPUs fully at 20 clients: the sending rate bounds a
# client's throughput, and every client's send stream (real or cover
# packets) costs every hop CPU whatever the load.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
: "${BENCH_OUT:=$top_builddir/bench}"
NS=${CLIENTS_BENCH_N:-2 5 10 20}
RATE=${CB_RATE:-40}
SECONDS_=${CB_SECONDS:-6}
DRAIN=${CB_DRAIN:-15}
SEND_RATE=${CB_SEND_RATE:-80}
FETCH_RATE=${CB_FETCH_RATE:-40}
LOOP_RATE=${CB_LOOP_RATE:-1}
DELAY_MS=${CB_DELAY_MS:-2}
M=$(python3 -c "import sys; print(max(1, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$RATE" "$SECONDS_")

# lib.sh and stresslib.sh: $WORK, track, wait_for, st_up, st_client, ...
# Their diagnostics ("# ...") would land in the report's appendix: quiet.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/stress/stresslib.sh"
diag() { echo "$*" >>"$WORK/diag"; }
mkdir -p "$BENCH_OUT" "$WORK/logs"
chmod 777 "$WORK/logs"
: >"$CLIENTS_FILE"

row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print('%.2f' % (a / b) if b else 'n/a')" "$1" "$2"; }

echo "cmd: cd $top_builddir && top_builddir=\$PWD top_srcdir=$top_srcdir BENCH_OUT=/tmp/b CLIENTS_BENCH_N='$NS' sh $top_srcdir/tests/bench/clients-bench.sh"
echo "cmd:   (each point: python3 $top_srcdir/tests/tools/nymload.py --clients FILE --messages $M --duration $SECONDS_ --drain $DRAIN --out DIR, FILE listing the N clients)"
t0=$(date +%s)
if ! st_up 2 2 >"$WORK/st_up.out" 2>&1; then
	echo "note: testnet did not come up:"
	sed 's/^/note:   /' "$WORK/st_up.out" "$WORK/up.out" 2>/dev/null | head -20
	exit 1
fi
echo "note: testnet of 1 directory, 2 mixnodes in each of 3 layers, 2 providers (nym-testnet); each client's Poisson rates: send $SEND_RATE/s, fetch $FETCH_RATE/s, loop cover $LOOP_RATE/s; per-hop mean delay $DELAY_MS ms; each client offers $RATE messages/s ($M messages of 64 bytes over $SECONDS_ s) to random other clients."

DAT="$WORK/clients.dat"
echo "# clients offered_per_s delivered_per_s attempted accepted delivered span_s lat_p50_ms lat_p99_ms" >"$DAT"
have=0
for n in $NS; do
	tp=$(date +%s)
	# Add clients c(have+1)..cn round the providers.
	ok=1
	while [ "$have" -lt "$n" ]; do
		have=$((have + 1))
		pv=$(( (have - 1) % TESTNET_PROVIDERS + 1 ))
		eval "prov=\$PROVIDER${pv}_PUBKEY"
		# shellcheck disable=SC2154 # prov: set by the eval above
		st_client "c$have" "$prov" "$LOOP_RATE" "$FETCH_RATE" "$SEND_RATE" "$DELAY_MS" warning || { ok=0; break; }
	done
	if [ "$ok" = 1 ]; then
		for s in $(awk '{print $2}' "$CLIENTS_FILE"); do
			wait_for 30 test -S "$s" || { ok=0; break; }
		done
	fi
	if [ "$ok" = 0 ] || ! wait_for 30 st_registered "$n"; then
		echo "note: $n clients: could not start or register every client; stopped here"
		break
	fi
	sleep 1.5	# one more topology refresh: every client knows every other
	tl=$(date +%s)
	out="$WORK/load$n"
	python3 "$NYMLOAD" --clients "$CLIENTS_FILE" --messages "$M" --duration "$SECONDS_" \
		--drain "$DRAIN" --out "$out" >"$out.log" 2>&1
	S="$out/summary"
	if [ ! -s "$S" ]; then
		echo "note: $n clients: nymload failed: $(tail -3 "$out.log" | tr '\n' ' ')"
		continue
	fi
	att=$(sval "$S" attempted)
	acc=$(sval "$S" accepted)
	del=$(sval "$S" delivered)
	mps=$(sval "$S" msgs_per_s)
	span=$(sval "$S" span_s)
	p50=$(sval "$S" lat_p50_ms)
	p99=$(sval "$S" lat_p99_ms)
	off=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$att" "$SECONDS_")
	row "delivered messages/s, $n clients ($del of $att delivered, latency p50 $p50 ms, p99 $p99 ms)" \
		"$mps" "messages/s" "offered $off messages/s" "$(ratio "$mps" "$off")"
	echo "$n $off $mps $att $acc $del $span $p50 $p99" >>"$DAT"
	echo "note: $n clients: $(sval "$S" missing) of $acc accepted messages missing after the ${DRAIN} s drain, $(sval "$S" duplicates) duplicates; delivery span $span s; setup $((tl - tp)) s, load $(( $(date +%s) - tl )) s; load average $(cut -d' ' -f1 /proc/loadavg)."
done
echo "note: delivered messages/s = messages delivered / (last arrival - first send), so the drain tail (latency) counts; offered = messages attempted / $SECONDS_ s. Clients of the earlier points keep running (cover traffic) at the later ones. The servers, every client and the load driver share this machine's $(nproc) CPUs, so the curve shows where this machine saturates, not one node's limit. Whole bench $(( $(date +%s) - t0 )) s."
cp "$DAT" "$BENCH_OUT/clients-throughput.dat"

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "note: no clients plot (gnuplot, Debian package gnuplot-nox, is not installed)"
	exit 0
fi
if [ "$(grep -vc '^#' "$DAT")" -eq 0 ]; then
	echo "note: no clients plot: no point was measured"
	exit 0
fi
gnuplot <<EOF 2>"$WORK/gnuplot.err"
set terminal pngcairo size 800,500 noenhanced
set output "$BENCH_OUT/clients-throughput.png"
set title "Delivered messages/s vs. nymd clients ($RATE msg/s offered each, $DELAY_MS ms/hop)"
set xlabel "nymd clients (log scale)"
set ylabel "messages per second"
set logscale x
set xtics ($(grep -v '^#' "$DAT" | awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }'))
set xrange [$(grep -v '^#' "$DAT" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%g:%g", lo * 0.75, hi * 1.4 }')]
set yrange [0:*]
set grid
set key top left
plot "$DAT" using 1:3 with linespoints lw 2 pt 7 title "delivered (whole testnet)", \
     "$DAT" using 1:2 with linespoints lw 2 dt 2 pt 6 title "baseline: offered (attempted)"
EOF
if [ -s "$BENCH_OUT/clients-throughput.png" ]; then
	echo "plot: clients-throughput.png Delivered messages per second of the whole testnet against the number of nymd clients, with the offered load (messages attempted per second) as the baseline (data: clients-throughput.dat)."
else
	echo "note: clients plot failed: $(head -3 "$WORK/gnuplot.err" | tr '\n' ' ')"
fi
exit 0
