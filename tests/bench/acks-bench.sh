#!/bin/sh
# Acknowledgement benchmark (docs/acks.md, section 5), run by `make bench`
# (tests/bench/run-bench.sh) or alone by `make bench-acks`. One testnet
# (nym-testnet: one mixnode per layer, alice and bob); alice restarted
# with her metrics endpoint. Delivery is timed by `nymctl status --watch`
# (tests/tools/ackbench.py).
#  - Time to DELIVERED, p50 and p99, of AB_COUNT single-packet messages
#    (one every AB_INTERVAL_MS ms) on a zero-delay testnet, against the
#    time until bob's fetch (polled every 2 ms) shows each, same run.
#  - Goodput of a 1 MiB message (651 fragments of 1611 bytes) from the
#    send to DELIVERED on the zero-delay testnet at alice's send rate
#    AB_RATE: 1048576 / time, against AB_RATE × 1611 bytes a second (what
#    the send stream's slots carry; target at least 0.9); its packets sent
#    per fragment (alice's nymd_real_packets_sent_total), against 1.
#  - Packets sent per fragment of a 1 MiB message under 5 % loss: alice
#    and bob restarted with per-hop delays of mean 10 ms and mix2_1 with
#    max_delay_ms = 29, so that mix2_1 drops e^(-29.5/10) = 5.2 % of the
#    packets and acknowledgements (delays drawn over its maximum; as
#    tests/integration/acks.sh), against 1 / (1 - p)^2 with p the drop
#    rate mix2_1's metrics show over the run (each packet and its
#    acknowledgement cross layer 2 once). Link loss (netem or --link-loss)
#    would not do: node links are TCP, which hides it; so this needs no
#    network namespaces.
# Environment: top_builddir, top_srcdir; BENCH_TMP. Tunables: AB_RATE
# (alice's send rate, default 100), AB_FETCH_RATE (both clients' fetch
# rate, default 100), AB_COUNT (default 200), AB_INTERVAL_MS (default 50),
# AB_BYTES (default 1048576).
# shellcheck disable=SC1091,SC2154
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
: "${BENCH_TMP:=$(mktemp -d /tmp/acks-bench.XXXXXX)}"
RATE=${AB_RATE:-100}
FETCH=${AB_FETCH_RATE:-100}
COUNT=${AB_COUNT:-200}
INTERVAL_MS=${AB_INTERVAL_MS:-50}
BYTES=${AB_BYTES:-1048576}
LOSSY_DELAY_MS=10 MAX_DELAY_MS=29
B="$top_builddir/src"
NYMCTL="$B/nymctl/nymctl"
SOCKREQ="$top_builddir/tests/tools/sockreq"
AB="$top_srcdir/tests/tools/ackbench.py"
W="$BENCH_TMP/acks"
D="$W/tn"
rm -rf "$W"
mkdir -p "$W"
PYTHONPATH="$top_srcdir/python${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 143' HUP INT TERM
T_START=$(date +%s)

row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print('%.2f' % (a / b) if b else 'n/a')" "$1" "$2"; }
calc() { python3 -c "import sys; print($1)"; }
v() { sed -n "s/^$1 //p" "$2" | head -1; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
metric() {	# metric URL NAME
	curl -s -m 5 "$1/metrics" | awk -v n="$2" '$1 == n { print $2; exit }'
}
waitfor() {	# waitfor SECONDS COMMAND...
	lim=$(($1 * 10)) n=0
	shift
	while [ "$n" -lt "$lim" ]; do
		if "$@" 2>/dev/null; then return 0; fi
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }

echo "cmd: cd $top_builddir && top_builddir=\$PWD top_srcdir=$top_srcdir BENCH_TMP=/tmp/b sh $top_srcdir/tests/bench/acks-bench.sh"
if ! "$B/nym-testnet" up --dir "$D" --clients alice,bob --delay-ms 0 --send-rate "$RATE" \
	--fetch-rate "$FETCH" --loop-rate 2 >"$W/up.out" 2>&1; then
	sed 's/^/nym-testnet: /' "$W/up.out"
	exit 1
fi
echo "cmd:   (testnet: nym-testnet up --dir DIR --clients alice,bob --delay-ms 0 --send-rate $RATE --fetch-rate $FETCH --loop-rate 2; alice restarted with metrics_listen)"
. "$D/testnet.env"
ACONF="$D/clients-home/clients/alice/config/config.toml"
AM="http://127.0.0.1:$(free_port)"

# restart_alice, restart_bob: each again, with its config as it now is
ALICE=$CLIENT_alice_PID BOBPID=$CLIENT_bob_PID
restart_alice() {
	kill -TERM "$ALICE"
	waitfor 10 gone "$ALICE"
	"$B/nymd" run --id alice --home "$D/clients-home" >>"$W/alice.out" 2>&1 &
	ALICE=$!
	PIDS="$PIDS $ALICE"
	waitfor 30 alice_up
}
restart_bob() {
	kill -TERM "$BOBPID"
	waitfor 10 gone "$BOBPID"
	"$B/nymd" run --id bob --home "$D/clients-home" >>"$W/bob.out" 2>&1 &
	BOBPID=$!
	PIDS="$PIDS $BOBPID"
	waitfor 30 bob_answers && sleep 1
}
bob_answers() { "$SOCKREQ" "unix:$CLIENT_bob_SOCKET" details >/dev/null; }
alice_up() {
	[ "$(metric "$AM" nymd_netd_reporting)" = 1 ] &&
		[ "$(metric "$AM" nymd_provider_registered)" = 1 ]
}
sed -i "s|^\[nymd\]\$|[nymd]\nmetrics_listen = \"${AM#http://}\"|" "$ACONF"
if ! restart_alice; then
	echo "note: alice did not come back with metrics_listen"
	tail -n 20 "$W/alice.out"
	exit 1
fi
BOB="$CLIENT_bob_PUBKEY"

# ---- time to DELIVERED --------------------------------------------------------
python3 "$AB" latency --nymctl "$NYMCTL" --from "$CLIENT_alice_SOCKET" --to "$CLIENT_bob_SOCKET" \
	--recipient="$BOB" --count "$COUNT" --interval-ms "$INTERVAL_MS" >"$W/lat" 2>&1
echo "cmd:   (python3 SRC/tests/tools/ackbench.py latency --nymctl BUILD/src/nymctl/nymctl --from ALICE_SOCKET --to BOB_SOCKET --recipient=BOB_ID --count $COUNT --interval-ms $INTERVAL_MS)"
if [ -n "$(v delivered_p50_ms "$W/lat")" ]; then
	d50=$(v delivered_p50_ms "$W/lat") d99=$(v delivered_p99_ms "$W/lat")
	r50=$(v received_p50_ms "$W/lat") r99=$(v received_p99_ms "$W/lat")
	row "send → DELIVERED p50 ($(v delivered "$W/lat") of $COUNT single-packet messages, zero delay)" "$d50" ms \
		"send → bob's fetch p50 $r50 ms ($(v received "$W/lat") received)" "$(ratio "$d50" "$r50")"
	row "send → DELIVERED p99" "$d99" ms "send → bob's fetch p99 $r99 ms" "$(ratio "$d99" "$r99")"
	echo "note: DELIVERED: $COUNT messages of 50 bytes, one every $INTERVAL_MS ms, alice's send stream at $RATE/s, both clients fetching at $FETCH/s; DELIVERED is the acknowledgement's return through three mixnodes to alice's mailbox, then her pull; send accepted (durably queued) p50 $(v accept_p50_ms "$W/lat") ms."
else
	echo "note: DELIVERED: measurement failed:"
	sed 's/^/note:   /' "$W/lat"
fi

# ---- goodput of 1 MiB, no loss ------------------------------------------------
transfer() {	# transfer OUT
	python3 "$AB" transfer --nymctl "$NYMCTL" --from "$CLIENT_alice_SOCKET" --recipient="$BOB" \
		--bytes "$BYTES" --metrics "$AM" --timeout 120 >"$1" 2>&1
}
transfer "$W/big"
echo "cmd:   (python3 SRC/tests/tools/ackbench.py transfer --nymctl BUILD/src/nymctl/nymctl --from ALICE_SOCKET --recipient=BOB_ID --bytes $BYTES --metrics http://ALICE_METRICS)"
FRAG=$(v packets "$W/big")
if [ -n "$(v seconds "$W/big")" ]; then
	s=$(v seconds "$W/big")
	good=$(calc "'%.0f' % ($BYTES / $s)")
	base=$((RATE * 1611))
	row "goodput of $BYTES bytes ($FRAG fragments), send → DELIVERED, zero delay (target ≥ 0.9)" "$good" "bytes/s" \
		"send rate $RATE/s × 1611 bytes = $base bytes/s" "$(ratio "$good" "$base")"
	pf=$(calc "'%.3f' % ($(v real_packets_sent "$W/big") / $FRAG)")
	row "packets sent per fragment, no loss (the same $FRAG)" "$pf" packets "1 (each sent once)" "$(ratio "$pf" 1)"
	echo "note: goodput: $BYTES bytes DELIVERED $s s after the send (its answer after $(v accept_seconds "$W/big") s: $FRAG rows committed); the $FRAG send slots alone take $FRAG / $RATE = $(calc "'%.2f' % ($FRAG / $RATE)") s on average (a Poisson stream); $(v real_packets_sent "$W/big") packets sent, $(v retransmissions "$W/big") retransmissions."
else
	echo "note: goodput: measurement failed:"
	sed 's/^/note:   /' "$W/big"
fi

# ---- packets per fragment under 5 % loss ---------------------------------------
# Both clients' packets cross mix2_1: with the same delays, the drop rate
# its metrics show is that of alice's packets.
sed -i "s/^average_delay_ms = .*/average_delay_ms = $LOSSY_DELAY_MS.0/" "$ACONF" \
	"$D/clients-home/clients/bob/config/config.toml"
MM="http://127.0.0.1:$(free_port)"
kill -TERM "$MIX2_1_PID"
waitfor 10 gone "$MIX2_1_PID"
sed -i -e "s/^max_delay_ms = .*/max_delay_ms = $MAX_DELAY_MS/" \
	-e "s|^metrics_listen = .*|metrics_listen = \"${MM#http://}\"|" \
	"$D/nodes/mixnodes/mix2_1/config.toml"
"$MIX2_1_EXE" run --id mix2_1 --home "$D/nodes" >>"$W/mix2_1.out" 2>&1 &
PIDS="$PIDS $!"
mix_up() { [ -n "$(metric "$MM" nym_node_packets_received_total)" ]; }
if restart_alice && restart_bob && waitfor 20 mix_up; then
	mr0=$(metric "$MM" nym_node_packets_received_total)
	md0=$(metric "$MM" 'nym_node_packets_dropped_total{reason="delay_too_long"}')
	transfer "$W/lossy"
	mr1=$(metric "$MM" nym_node_packets_received_total)
	md1=$(metric "$MM" 'nym_node_packets_dropped_total{reason="delay_too_long"}')
	echo "cmd:   (loss: average_delay_ms = $LOSSY_DELAY_MS in alice's and bob's config.toml, max_delay_ms = $MAX_DELAY_MS in mix2_1's, all three restarted; the same transfer)"
	if [ -n "$(v seconds "$W/lossy")" ] && [ "$((mr1 - mr0))" -gt 0 ]; then
		F=$(v packets "$W/lossy")
		p=$(calc "'%.4f' % ($((md1 - md0)) / $((mr1 - mr0)))")
		pf=$(calc "'%.3f' % ($(v real_packets_sent "$W/lossy") / $F)")
		model=$(calc "'%.3f' % (1 / (1 - $p) ** 2)")
		row "packets sent per fragment, 5 % loss at the layer-2 mixnode ($F fragments)" "$pf" packets \
			"1 / (1 − p)² = $model, p = $p measured" "$(ratio "$pf" "$model")"
		echo "note: loss: mix2_1 dropped $((md1 - md0)) of the $((mr1 - mr0)) packets it received during the transfer (delay over $MAX_DELAY_MS ms, per-hop mean $LOSSY_DELAY_MS ms: e^(-29.5/10) = 5.2 % expected); alice sent $(v real_packets_sent "$W/lossy") packets for $F fragments ($(v retransmissions "$W/lossy") retransmissions); DELIVERED after $(v seconds "$W/lossy") s, a goodput of $(calc "'%.0f' % ($BYTES / $(v seconds "$W/lossy"))") bytes/s, $(ratio "$(calc "$BYTES / $(v seconds "$W/lossy")")" "$((RATE * 1611))") of the send rate's (a lost packet waits for its deadline, at least 2 s)."
	else
		echo "note: loss: measurement failed:"
		sed 's/^/note:   /' "$W/lossy"
	fi
else
	echo "note: loss: alice or mix2_1 did not come back"
fi
echo "note: whole bench $(($(date +%s) - T_START)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
