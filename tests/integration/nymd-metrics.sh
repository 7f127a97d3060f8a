#!/bin/sh
# nymd's metrics endpoint (metrics_listen, nymd(8) METRICS): alice and bob
# on a testnet, each with metrics on a loopback port; alice sends bob 20
# messages and bob fetches them; each scrape is well-formed Prometheus
# text (tests/tools/promcheck.py) whose counters match what was sent,
# delivered and fetched. Only GET /metrics is served; a metrics_listen
# that is not loopback is refused before anything starts.
# shellcheck disable=SC1091,SC2154
. "$(dirname "$0")/lib.sh"
plan 14

B="$top_builddir/src"
D="$WORK/tn"
CTL="$B/nymctl/nymctl"
PROM="python3 $top_srcdir/tests/tools/promcheck.py"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT

testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 --rate 20

# Each restarted with metrics_listen set.
with_metrics() {	# with_metrics NAME PID PORT
	kill -TERM "$2"
	wait_for 10 sh -c "! kill -0 $2 2>/dev/null"
	sed -i "s/^\[nymd\]\$/[nymd]\nmetrics_listen = \"127.0.0.1:$3\"/" \
		"$D/clients-home/clients/$1/config/config.toml"
	"$B/nymd" run --id "$1" --home "$D/clients-home" >>"$WORK/$1-2.log" 2>&1 &
	track $!
}
PA=$(free_port)
PB=$(free_port)
with_metrics alice "$CLIENT_alice_PID" "$PA"
with_metrics bob "$CLIENT_bob_PID" "$PB"
scrape() { curl -s -m 5 "http://127.0.0.1:$1/metrics"; }
# metric PORT NAME: its value (empty if absent)
metric() { scrape "$1" | awk -v n="$2" '$1 == n { print $2 }'; }
up() { [ "$(metric "$1" nymd_netd_reporting)" = 1 ] && [ "$(metric "$1" nymd_provider_registered)" = 1 ]; }
check_up() { wait_for 30 up "$PA" && wait_for 30 up "$PB"; }
check "both restarted with metrics_listen: netd reports, the provider link is registered" check_up

check "alice's scrape is well-formed Prometheus text (HELP, TYPE, samples)" sh -c \
	"curl -s -m 5 http://127.0.0.1:$PA/metrics | $PROM >/dev/null"
check "the scrape's content type is Prometheus text 0.0.4" sh -c \
	"curl -s -m 5 -o /dev/null -w '%{content_type}' http://127.0.0.1:$PA/metrics | grep -q 'text/plain; version=0.0.4'"

i=1
while [ "$i" -le 20 ]; do
	"$CTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "metric-$i" || break
	i=$((i + 1))
done
check "alice: nymd_messages_accepted_total is the 20 sent" \
	wait_for 5 sh -c "[ \"\$(curl -s -m 5 http://127.0.0.1:$PA/metrics | awk '\$1 == \"nymd_messages_accepted_total\" { print \$2 }')\" = 20 ]"
check "alice: nymd_messages_sent_total reaches 20 and nymd_messages_queued 0" \
	wait_for 60 sh -c "curl -s -m 5 http://127.0.0.1:$PA/metrics | grep -qx 'nymd_messages_sent_total 20' &&
		curl -s -m 5 http://127.0.0.1:$PA/metrics | grep -qx 'nymd_messages_queued 0'"
fetch_lines "$CTL" "$CLIENT_bob_SOCKET" 20 "$WORK/bob"
check "bob fetched the 20" test "$(grep -c '^metric-' "$WORK/bob")" = 20
check "bob: received 20, fetched 20, no duplicates counted" sh -c "
	m=\$(curl -s -m 5 http://127.0.0.1:$PB/metrics)
	echo \"\$m\" | grep -qx 'nymd_messages_received_total 20' &&
	echo \"\$m\" | grep -qx 'nymd_messages_fetched_total 20' &&
	echo \"\$m\" | grep -qx 'nymd_duplicates_dropped_total 0'"
pulled() { [ "$(metric "$PB" nymd_deliveries_pulled_total)" -ge 20 ]; }
check "bob: nymd_deliveries_pulled_total counts at least the 20 (netd reports each second)" \
	wait_for 5 pulled
# (netd reports once a second, and under ASan on a loaded machine the
# first loop cover may take a while to come back: waited for)
alice_sent() {
	m=$(curl -s -m 5 http://127.0.0.1:$PA/metrics)
	r=$(echo "$m" | awk '$1 == "nymd_real_packets_sent_total" { print $2 }')
	c=$(echo "$m" | awk '$1 == "nymd_cover_packets_sent_total" { print $2 }')
	l=$(echo "$m" | awk '$1 == "nymd_loop_rtt_seconds_count" { print $2 }')
	[ "${r:-0}" -ge 20 ] && [ "${c:-0}" -gt 0 ] && [ "${l:-0}" -gt 0 ]
}
check "alice: at least 20 real packets and some cover sent, loops came back" wait_for 20 alice_sent
diag "alice: real packets ${r:-?}, cover ${c:-?}, loops back ${l:-?}"
check "alice: the topology gauges say 3 mixnodes and 1 provider" sh -c "
	[ \"\$(curl -s -m 5 http://127.0.0.1:$PA/metrics | awk '\$1 == \"nymd_topology_mixnodes\" { print \$2 }')\" = 3 ] &&
	[ \"\$(curl -s -m 5 http://127.0.0.1:$PA/metrics | awk '\$1 == \"nymd_topology_providers\" { print \$2 }')\" = 1 ]"
only_get() {
	c1=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/other")
	c2=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PA/metrics")
	diag "GET /other: $c1, POST /metrics: $c2"
	[ "$c1" = 404 ] && [ "$c2" = 405 ]
}
check "only GET /metrics is served (another path: 404; POST: 405)" only_get

cfg="$D/clients-home/clients/alice/config/config.toml"
sed "s/^metrics_listen = .*/metrics_listen = \"0.0.0.0:9100\"/" "$cfg" >"$WORK/bad.toml"
check "check-config refuses a metrics_listen that is not loopback, naming it" sh -c \
	"! '$B/nymd' check-config --customCfg '$WORK/bad.toml' --home '$D/clients-home' >'$WORK/cc.out' 2>&1 &&
	 grep -q 'metrics_listen' '$WORK/cc.out' && grep -q 'loopback' '$WORK/cc.out'"
check "the scrape checker refuses malformed text" sh -c \
	"! printf 'nymd_x 1\n# TYPE nymd_y counter\nnymd_y abc\n' | $PROM 2>/dev/null"
finish
