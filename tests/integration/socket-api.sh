#!/bin/sh
# The socket API against the golden frames in tests/golden/: every request
# and response type byte for byte over TCP (varint prefix included) and
# websocket binary frames, and as JSON over websocket text; the bad-input
# table (each input with its exception or close); 100 concurrent
# connections while others misbehave. The client's key and the topology
# are fixed, so every response is deterministic. The checks themselves are
# in tests/golden/socketapi.py; set UPDATE_GOLDEN=1 to rewrite the files.
. "$(dirname "$0")/lib.sh"

G="$top_srcdir/tests/golden"
PROVIDER=UFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFA=

mkdir -p "$WORK/dir/api/presence"
cp "$G/topology.json" "$WORK/dir/api/presence/topology"
DPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/dir" "$DPORT" >/dev/null 2>&1 &
track $!

# A non-loopback address of this host, if it has one: the listeners then
# bind 0.0.0.0 so that a connection from it reaches the peer check.
NONLOCAL=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
LISTEN=127.0.0.1
[ -n "$NONLOCAL" ] && LISTEN=0.0.0.0

# setup KIND: client "golden" under $WORK/KIND with the fixed keys
setup() {
	h="$WORK/$1"
	"$NYMD" init --id golden --home "$h" --directory "http://127.0.0.1:$DPORT/api/presence/topology" \
		--provider "$PROVIDER" >"$WORK/init-$1.out" 2>&1 || return 1
	c="$h/clients/golden/config"
	cp "$G/client-private.pem" "$c/private_key.pem"
	cp "$G/client-public.pem" "$c/public_key.pem"
	chmod 600 "$c/private_key.pem"
	sed -i "s|^file = .*|file = \"$WORK/$1.log\"|; s|^level = .*|level = \"debug\"|; s|^listen_address = .*|listen_address = \"$LISTEN\"|" \
		"$c/config.toml"
}
setup tcp && setup ws || { echo "1..0 # SKIP nymd init failed"; exit 0; }
TPORT=$(free_port)
WPORT=$(free_port)
"$NYMD" socket --id golden --home "$WORK/tcp" --socket tcp --port "$TPORT" >"$WORK/tcp.out" 2>&1 &
TPID=$!
track $TPID
"$NYMD" socket --id golden --home "$WORK/ws" --socket websocket --port "$WPORT" >"$WORK/ws.out" 2>&1 &
WPID=$!
track $WPID

ID=$(python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(open(sys.argv[1]).read().split("-----")[2])).decode())' "$G/client-public.pem")
check "nymd socket --socket tcp is up with the fixed key" wait_for 10 sh -c \
	"'$SOCKREQ' tcp:127.0.0.1:$TPORT details | grep -q 'provider=$PROVIDER host=127.0.0.1'"
check "nymd socket --socket websocket is up with the fixed key" wait_for 10 \
	grep -q "^Our Public Key is: $ID" "$WORK/ws.out"
# the websocket daemon must have the topology too before the golden run
wait_for 10 sh -c "python3 '$top_srcdir/tests/tools/wsclient.py' --port $WPORT details | grep -q 'host=127.0.0.1 port=9200'"

DRIVER="python3 $G/socketapi.py --tcp $TPORT --ws $WPORT --golden $G"
if [ -n "${UPDATE_GOLDEN:-}" ]; then
	$DRIVER --update golden
fi
[ -n "$NONLOCAL" ] && DRIVER="$DRIVER --nonlocal $NONLOCAL"

# The driver prints "ok - ..." / "not ok - ..." lines; number them here.
$DRIVER --verbose golden bad concurrent >"$WORK/driver.out" 2>&1
# The golden frames, read by the reference runtime (Debian's python3-protobuf,
# which may be for the system python rather than the first python3 in PATH).
PB_PYTHON=""
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import google.protobuf' 2>/dev/null; then PB_PYTHON=$py; break; fi
done
if [ -n "$PB_PYTHON" ]; then
	"$PB_PYTHON" "$G/crosscheck.py" "$top_srcdir" >>"$WORK/driver.out" 2>&1
else
	echo "ok - golden frames read by python3-protobuf # SKIP python3-protobuf is not installed" >>"$WORK/driver.out"
fi
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done <"$WORK/driver.out"
if [ -z "$NONLOCAL" ]; then
	ok "a non-loopback peer is refused # SKIP this host has no non-loopback IPv4 address"
fi
check "neither nymd crashed" sh -c "kill -0 $TPID && kill -0 $WPID && \
	'$SOCKREQ' tcp:127.0.0.1:$TPORT details | grep -q '^details: '"
plan "$T_NUM"
finish
