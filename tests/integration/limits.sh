#!/bin/sh
# nymd's connection limits cannot be used to lock applications out: at
# the limit of 128 connections, the one idle the longest (at least 5 s)
# is closed to make room for a new client, on the unix socket and on the
# websocket; a frame that is started but not finished within 10 s (a
# slow-loris client trickling bytes) gets an exception and is closed.
. "$(dirname "$0")/lib.sh"
plan 6

fixed_directory
init_client alice --provider "$PROVIDER" && use_directory alice "$TOPOLOGY_URL"
start_daemon alice
SOCK="$WORK/home/clients/alice/nymd.sock"
wait_for 10 sh -c "'$SOCKREQ' 'unix:$SOCK' details | grep -q '^details:'"

# hold N: N silent connections to the unix socket for 20 s; prints "held N"
# once they are open
hold() {
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys, time
conns = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
print("held", len(conns), flush=True)
time.sleep(20)
PY
}
hold 128 >"$WORK/hold.out" 2>&1 &
H=$!
track $H
wait_for 10 grep -q "held 128" "$WORK/hold.out"
# Right away a 129th connection finds no idle one to replace.
"$SOCKREQ" "unix:$SOCK" details >"$WORK/now.out" 2>&1
check "at 128 connections all just opened, a new one is refused" \
	sh -c "! grep -q '^details:' '$WORK/now.out'"
sleep 6
check "at 128 connections idle for 5 s, a new client is served" \
	sh -c "'$SOCKREQ' 'unix:$SOCK' details | grep -q '^details:'"
check "nymd logs that it closed the connection idle the longest" \
	grep -q "closing the one idle the longest" "$WORK/alice.log"
kill "$H" 2>/dev/null

# A slow-loris client: a frame of 100 bytes announced, one byte a second.
python3 - "$SOCK" >"$WORK/loris.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(1)
start = time.monotonic()
s.sendall(bytes([200, 1]))		# zig-zag varint: 100 bytes follow
got = b""
while time.monotonic() - start < 30:
    try:
        s.sendall(b"\x00")
    except OSError:
        break
    try:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    except socket.timeout:
        pass
print("closed after %.0f s: %r" % (time.monotonic() - start, got))
PY
check "a frame trickled in for 10 s gets an exception saying so" \
	grep -q "a frame was not completed within 10 seconds" "$WORK/loris.out"
check "... and the connection is closed within 13 s" \
	grep -qE "closed after ([89]|1[0-3]) s" "$WORK/loris.out"

# The websocket: 128 connections open and silent, then one more.
WPORT=$(free_port)
init_client bob --provider "$PROVIDER" && use_directory bob "$TOPOLOGY_URL"
"$NYMD" socket --id bob --home "$WORK/home" --socket websocket --port "$WPORT" \
	>"$WORK/bob.out" 2>&1 &
track $!
wait_for 10 grep -q "rpcd is ready" "$WORK/bob.log"
check "websocket: at 128 connections idle for 6 s, a new client is served" sh -c \
	"python3 '$top_srcdir/tests/tools/wsclient.py' --port $WPORT --extra-conns 128 \
	 --extra-idle 6 details | grep -q '^details:'"
finish
