#!/bin/sh
# Hostile input: every server (directory HTTP, mixnode and provider link
# ports) and every nymd socket (unix, tcp, websocket) gets, all at once,
# a stream of garbage, truncated frames, half-open connections and
# slow-loris clients (tests/tools/hostile.py), and the others are still
# served meanwhile: nymd answers requests on each socket, the directory
# serves the topology, a message crosses the mixnet and a new client
# connects to its provider and registers. No process dies.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../stress/stresslib.sh"
st_skip_sanitizer "the hostile-input test"
HOSTILE="$top_srcdir/tests/tools/hostile.py"
HOLD=${HOSTILE_HOLD:-15}
plan 12

check "testnet up: 1 mixnode a layer, 2 providers" st_up 1 2 || exit 1
check "2 nymd clients (unix sockets) running and registered" \
	st_clients 2 2 10 10 2 info || exit 1
set -- $(awk '$1=="c1"' "$CLIENTS_FILE"); C1SOCK=$2
set -- $(awk '$1=="c2"' "$CLIENTS_FILE"); C2SOCK=$2; C2KEY=$3; C2PROV=$4

# nymd with a tcp and one with a websocket listener (own clients).
TP=$(free_port); WP=$(free_port)
for k in tcp ws; do
	"$NYMD" init --id "s$k" --home "$WORK/s$k" --directory "$DIRECTORY_TOPOLOGY_URL" \
		--provider "$PROVIDER1_PUBKEY" >"$WORK/init-s$k.out" 2>&1
done
"$NYMD" socket --id stcp --home "$WORK/stcp" --socket tcp --port "$TP" >"$WORK/stcp.out" 2>&1 &
STCP=$!; track $STCP
"$NYMD" socket --id sws --home "$WORK/sws" --socket websocket --port "$WP" >"$WORK/sws.out" 2>&1 &
SWS=$!; track $SWS
wait_for 20 "$SOCKREQ" "tcp:127.0.0.1:$TP" details >/dev/null
check "nymd socket --socket tcp and --socket websocket listen" \
	wait_for 20 python3 -c "import socket; socket.create_connection(('127.0.0.1', $WP), 1)"

TARGETS="unix:$C1SOCK tcp:127.0.0.1:$TP ws:127.0.0.1:$WP http:127.0.0.1:$DIRECTORY_PORT"
for v in MIX1_1 MIX2_1 MIX3_1 PROVIDER1 PROVIDER2; do
	eval "TARGETS=\"\$TARGETS link:127.0.0.1:\${${v}_PORT}\""
done
python3 "$HOSTILE" --hold "$HOLD" $TARGETS >"$WORK/hostile.out" 2>&1 &
HP=$!; track $HP
sleep 3	# the attack is under way: every half-open and loris connection held

ws_ok() {
	python3 - "$WP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 3)
s.settimeout(3)
s.sendall(b"GET /mix HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
sys.exit(0 if s.recv(64).startswith(b"HTTP/1.1 101") else 1)
PY
}
topo_ok() {
	python3 -c "import urllib.request,json,sys; t=json.load(urllib.request.urlopen('$DIRECTORY_TOPOLOGY_URL', timeout=3)); sys.exit(0 if t['MixNodes'] else 1)"
}
check "under attack: nymd answers on its unix socket" sh -c "'$SOCKREQ' 'unix:$C1SOCK' details | grep -q '^details:'"
check "under attack: nymd answers on its tcp socket" sh -c "'$SOCKREQ' 'tcp:127.0.0.1:$TP' details | grep -q '^details:'"
check "under attack: nymd's websocket completes a handshake" ws_ok
check "under attack: the directory serves the topology" topo_ok
MSG=hostile-$$
HEX=$(printf '%s' "$MSG" | od -An -tx1 | tr -d ' \n')
check "under attack: a message crosses providers and mixnodes" sh -c "
	'$SOCKREQ' 'unix:$C1SOCK' 'send:$C2KEY:$C2PROV:$MSG' | grep -q '^send: ok' || exit 1
	i=0; while [ \$i -lt 100 ]; do
		'$SOCKREQ' 'unix:$C2SOCK' fetch | grep -q '$HEX' && exit 0
		sleep 0.1; i=\$((i + 1)); done; exit 1"
# A client that connects to its provider's link port now, mid-attack.
echo >/dev/null
st_client c3 "$PROVIDER2_PUBKEY" 2 10 10 2 info
check "under attack: a new client links to its provider and registers" \
	wait_for 20 st_registered 3
wait "$HP"
sed 's/^/# /' "$WORK/hostile.out"
check "the attack ran against all $(echo $TARGETS | wc -w) targets" \
	test "$(grep -c 'opened=' "$WORK/hostile.out")" = "$(echo $TARGETS | wc -w)"
dead=""
for v in $TESTNET_PROCESSES; do
	eval "p=\${${v}_PID}"
	kill -0 "$p" 2>/dev/null || dead="$dead $v"
done
for p in $CPID_c1 $CPID_c2 $STCP $SWS; do kill -0 "$p" 2>/dev/null || dead="$dead nymd:$p"; done
check "no server and no nymd died${dead:+ (dead:$dead)}" test -z "$dead"
check "after the attack, nymd's roles all run (none was restarted by a crash)" sh -c \
	"! grep -h 'died\|restart' '$WORK/logs/c1.log' '$WORK/logs/c2.log' 2>/dev/null | grep -qv 'max_restarts'"
finish
