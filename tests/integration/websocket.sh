#!/bin/sh
# nymd socket --socket websocket: binary and JSON requests on /mix, every
# bad input answered with an exception on a connection that stays usable,
# the handshake's refusals (origin, path, version, connection limit), the
# framing's limits and closes, and SIGTERM.
. "$(dirname "$0")/lib.sh"
plan 30

fixed_directory

init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
PORT=$(free_port)
"$NYMD" socket --id alice --home "$WORK/home" --socket websocket --port "$PORT" \
	>"$WORK/socket.out" 2>"$WORK/socket.err" &
M=$!
track "$M"
WS="python3 $top_srcdir/tests/tools/wsclient.py --port $PORT"
export WS

check "prints 'Our Public Key is:'" wait_for 10 grep -q "^Our Public Key is: " "$WORK/socket.out"
KEY=$(sed -n 's/^Our Public Key is: //p' "$WORK/socket.out")
check "a binary details request is answered in protobuf with our id" wait_for 10 sh -c \
	"\$WS details | grep -q '^details: id=$KEY '"
check "details names the provider from the topology" wait_for 10 sh -c \
	"\$WS details | grep -q 'provider=$PROVIDER host=127.0.0.1 port=9200 layer=1000000'"

# The JSON answer, checked field by field.
json_details_ok() {
	$WS 'text:{"details":{}}' >"$WORK/json" &&
	python3 - "$WORK/json" "$KEY" "$PROVIDER" <<'PY'
import base64, json, sys
line = open(sys.argv[1]).read()
assert line.startswith("text: "), line
d = json.loads(line[6:])["details"]["details"]
assert d["id"] == sys.argv[2], d
assert base64.b64decode(d["pubKey"], validate=True) == base64.urlsafe_b64decode(d["id"]), d
assert d["provider"]["id"] == sys.argv[3] and d["provider"]["layer"] == "1000000", d
assert d["provider"]["host"] == "127.0.0.1" and d["provider"]["port"] == "9200", d
assert set(d) == {"id", "pubKey", "provider"}, d
PY
}
check "text {\"details\":{}} is answered in JSON: id, pubKey in standard base64, layer as a string" \
	json_details_ok
check "text {\"clients\":{}} lists the registered clients" sh -c \
	"\$WS 'text:{\"clients\":{}}' | python3 -c 'import json,sys; l=sys.stdin.read(); assert l.startswith(\"text: \"); c=json.loads(l[6:])[\"clients\"][\"clients\"]; assert len(c)==2 and all(len(x[\"pubKey\"])==44 for x in c)'"

# Bad input: an exception that says why, then the connection answers again.
bad_then_details() {
	want=$1; shift
	$WS "$@" details >"$WORK/bad" 2>&1
	head -1 "$WORK/bad" | grep -q "$want" && sed -n 2p "$WORK/bad" | grep -q "^details: id=$KEY "
}
check "malformed JSON gets an exception, the connection still answers" \
	bad_then_details '^text: {"exception":{"error":"malformed JSON: ' 'text:{"details":'
check "an unknown request gets an exception naming it" \
	bad_then_details '^text: {"exception":{"error":"Invalid server request: unknown request \\"bogus\\": expected one of send, fetch' \
	'text:{"bogus":{}}'
check "invalid base64 gets an exception naming the field" \
	bad_then_details '"invalid base64 in send.message"' 'text:{"send":{"message":"@@@"}}'
check "send with the original field names parses (and reaches the request handler)" \
	bad_then_details '^text: {"send":{"messageId":"[A-Za-z0-9+/]\{22\}=="}}\|^text: {"exception":{"error":"send: ' \
	"text:{\"send\":{\"message\":\"aGk=\",\"recipient\":{\"Id\":\"$KEY\",\"PubKey\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}}}"

# Delivery status (docs/acks.md) in JSON: send's id, a watch's changed
# pushes, status; the state QUEUED, the default, left out as jsonpb does.
K64=$(python3 -c 'import base64,sys; print(base64.b64encode(base64.urlsafe_b64decode(sys.argv[1])).decode())' "$CLIENT1")
$WS 'text:{"watch":{}}' "text:{\"send\":{\"message\":\"aGk=\",\"recipient\":{\"pubKey\":\"$K64\"}}}" read \
	>"$WORK/watched" 2>&1
watched_ok() {
	python3 - "$WORK/watched" "$WORK/mid" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3 and all(l.startswith("text: ") for l in lines), lines
w, s, c = (json.loads(l[6:]) for l in lines)
assert w == {"watch": {}}, w
mid = s["send"]["messageId"]
assert len(mid) == 24 and mid.endswith("=="), s
assert c == {"changed": {"messageId": mid, "packets": 1}}, c
open(sys.argv[2], "w").write(mid)
PY
}
check "JSON watch: answered, then a send's id, then its change pushed unasked (queued: no state)" \
	watched_ok
MID=$(cat "$WORK/mid" 2>/dev/null)
check "JSON status of that id: its messageId and packets, in jsonpb's text" sh -c \
	"\$WS 'text:{\"status\":{\"messageId\":\"$MID\"}}' | grep -qx 'text: {\"status\":{\"messageId\":\"$MID\",\"packets\":1}}'"
check "JSON status of an id nymd does not know: an exception naming it in hex" sh -c \
	"\$WS 'text:{\"status\":{\"messageId\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}}' | grep -qx 'text: {\"exception\":{\"error\":\"status: no message with id 00000000000000000000000000000000 (never sent here, or its status was forgotten 7 days after it ended)\"}}'"

check "text {\"flush\":{}} gets an exception: flush does not exist on the websocket" \
	bad_then_details '^text: {"exception":{"error":"Invalid server request: flush does not exist on the websocket' 'text:{"flush":{}}'
check "a binary flush gets the same exception in protobuf" \
	bad_then_details '^exception: Invalid server request: flush does not exist on the websocket' flush
check "a binary message that is not a Request gets an exception" \
	bad_then_details '^exception: malformed request' bin:ffffffff
check "a binary request over max_request_bytes (1 MiB + 4096) gets an exception naming the limit" \
	bad_then_details '^exception: message too large: the request is 1052673 bytes, the limit is 1052672' \
	big:1052673
check "a message over the websocket limit is skipped with an exception" \
	bad_then_details '^exception: message too large: the limit is [0-9]* bytes per websocket message' \
	big:1500000
check "a fragmented text message with a ping between fragments is answered" sh -c \
	"\$WS 'frag:{\"details\":{}}' | tr '\\n' '|' | grep -q '^pong: mid|text: {\"details\":{\"details\":{\"id\":\"$KEY\"'"
check "a ping is answered with a pong" sh -c "\$WS ping:hello | grep -qx 'pong: hello'"
check "a close is answered with a close" sh -c "\$WS details close | tail -1 | grep -q '^close: 1000'"
check "an unmasked frame closes with 1002 (protocol error)" sh -c \
	"\$WS raw:8100 wait-close | grep -q '^close: 1002'"
check "a text message that is not UTF-8 closes with 1007" sh -c \
	"\$WS raw:8182000000007fff wait-close | grep -q '^close: 1007'"

# The handshake's refusals.
refused() {
	want=$1; shift
	$WS "$@" details >"$WORK/refused" 2>&1
	[ $? = 2 ] && head -1 "$WORK/refused" | grep -q "^status: $want"
}
check "an Origin naming another site is refused with 403" refused 403 --origin http://evil.example
check "an Origin on localhost is accepted" sh -c \
	"\$WS --origin http://localhost:3000 details | grep -q '^details: '"
check "the path /other is refused with 404" refused 404 --path /other
check "a wrong Sec-WebSocket-Version is refused with 426" refused 426 --version 8
check "a missing Sec-WebSocket-Key is refused with 400" refused 400 --key ""
check "beyond 128 connections the next one is refused with 503" refused 503 --extra-conns 128
check "once they are closed, connections are accepted again" wait_for 5 sh -c \
	"\$WS details | grep -q '^details: '"

pids="$M $(cat /proc/$M/task/*/children)"
kill -TERM "$M"
sleep 1
left=""
for p in $pids; do [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null && left="$left $p"; done
check "SIGTERM ends nymd socket within 1 s, no process left" test -z "$left"
finish
