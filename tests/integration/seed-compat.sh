#!/bin/sh
# nymd against the seed's own program: the 79 cases of
# tests/golden/seedprobe.py (the probe that measured loopix-client of
# nym-mixnet v0.2.0) replayed over a real `nymd socket` (TCP and
# websocket) and compared byte for byte with what the seed's program
# answered (tests/golden/seed-captures.json). An answer is either
# identical, or differs exactly as a row of the table of deliberate
# differences in docs/socket-api.md says; anything else fails. The
# comparison is in tests/golden/seedreplay.py.
. "$(dirname "$0")/lib.sh"

G="$top_srcdir/tests/golden"
PROVIDER=UFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFA=
# The captures were made with the topology's provider on this port.
SEED_PROVIDER_PORT=35599

mkdir -p "$WORK/dir/api/presence"
sed "s|127.0.0.1:9200|127.0.0.1:$SEED_PROVIDER_PORT|" "$G/topology.json" \
	>"$WORK/dir/api/presence/topology"
DPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/dir" "$DPORT" >/dev/null 2>&1 &
track $!

# setup KIND: client "golden" under $WORK/KIND with the fixed keys
setup() {
	h="$WORK/$1"
	"$NYMD" init --id golden --home "$h" --directory "http://127.0.0.1:$DPORT/api/presence/topology" \
		--provider "$PROVIDER" >"$WORK/init-$1.out" 2>&1 || return 1
	c="$h/clients/golden/config"
	cp "$G/client-private.pem" "$c/private_key.pem"
	cp "$G/client-public.pem" "$c/public_key.pem"
	chmod 600 "$c/private_key.pem"
	sed -i "s|^file = .*|file = \"$WORK/$1.log\"|; s|^level = .*|level = \"debug\"|" "$c/config.toml"
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

# Both must have the topology before the replay (clients, details).
check "nymd socket --socket tcp is up with the fixed key and the topology" wait_for 10 sh -c \
	"'$SOCKREQ' tcp:127.0.0.1:$TPORT details | grep -q 'provider=$PROVIDER host=127.0.0.1'"
check "nymd socket --socket websocket is up with the fixed key and the topology" wait_for 10 sh -c \
	"python3 '$top_srcdir/tests/tools/wsclient.py' --port $WPORT details | grep -q 'host=127.0.0.1 port=$SEED_PROVIDER_PORT'"

python3 "$G/seedreplay.py" --tcp "$TPORT" --ws "$WPORT" \
	--captures "$G/seed-captures.json" --doc "$top_srcdir/docs/socket-api.md" ${SEED_REPLAY_OUT:+--out "$SEED_REPLAY_OUT"} \
	>"$WORK/driver.out" 2>&1
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done <"$WORK/driver.out"
check "neither nymd crashed" sh -c "kill -0 $TPID && kill -0 $WPID"
plan "$T_NUM"
finish
