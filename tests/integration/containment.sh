#!/bin/sh
# Who nymd serves, and what its children can do, tried as an attacker
# would against real processes:
# - another local user (a client run with setpriv as nobody) is refused
#   on the TCP, websocket and unix sockets with a clear answer, logged once
#   at info; allow_other_users = true serves it again;
# - a browser page whose Origin is null or file:// gets 403 naming the key;
# - no child of nymd has a controlling terminal (nymd started on a pty),
#   fds 0-2 of the children are not the terminal, every child is
#   undumpable, and a sibling cannot open /proc/<keyd>/mem.
# The other-user checks need root (to run a client as another uid).
. "$(dirname "$0")/lib.sh"
plan 26

ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
skip_unless_root() {
	if [ "$ROOT" = 1 ]; then return 1; fi
	ok "# SKIP $1: needs root to run a client as another uid"
	return 0
}
# as_nobody command...: runs it as uid nobody, no groups
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
CONF="$WORK/home/clients/alice/config/config.toml"
# The tools, where nobody can read them.
cp "$top_srcdir/tests/tools/wsclient.py" "$SOCKREQ" "$WORK/"
chmod 755 "$WORK/wsclient.py" "$WORK/sockreq"

# --- TCP ---
PORT=$(free_port)
"$NYMD" socket --id alice --home "$WORK/home" --socket tcp --port "$PORT" \
	>"$WORK/tcp.out" 2>"$WORK/tcp.err" &
M=$!
track "$M"
check "tcp: nymd's own user (or root) is served" wait_for 10 sh -c \
	"'$WORK/sockreq' tcp:127.0.0.1:$PORT details | grep -q '^details:'"
if ! skip_unless_root "tcp: another user is refused"; then
	as_nobody "$WORK/sockreq" "tcp:127.0.0.1:$PORT" details >"$WORK/nobody-tcp" 2>&1
	check "tcp: another user is refused with an exception that names allow_other_users" \
		sh -c "grep -q '^exception: connection refused: .*allow_other_users' '$WORK/nobody-tcp' &&
		    ! grep -q '^details:' '$WORK/nobody-tcp'"
fi
if ! skip_unless_root "tcp: the user nymd runs as is served"; then
	if id nymd >/dev/null 2>&1; then
		check "tcp: the user nymd runs as (nymd, started as root) is served" sh -c \
			"setpriv --reuid=nymd --regid=nymd --clear-groups -- '$WORK/sockreq' tcp:127.0.0.1:$PORT details | grep -q '^details:'"
	else
		ok "# SKIP tcp: the user nymd runs as is served: no user nymd"
	fi
fi
check "tcp: the refusal is logged once, at info, with the uid" sh -c \
	"test \$(grep -c 'refused a connection from uid $(id -u nobody)' '$WORK/alice.log') -eq $ROOT"
check "tcp: and a served connection works after it" sh -c \
	"'$WORK/sockreq' tcp:127.0.0.1:$PORT details | grep -q '^details:'"
# What a browser sends when a page POSTs to the port: headers, then a body
# of frames (here a details request, 04 2a 00). It gets an HTTP answer, no
# protobuf, and the connection is closed.
http_post() {
	python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = b"\x04\x2a\x00" * 4
s.sendall(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body)
s.settimeout(5)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.exit(0 if data.startswith(b"HTTP/1.1 400 ") and b"details" not in data else 1)
PY
}
check "tcp: an HTTP request (a web page, across protocols) gets HTTP 400 and is closed" http_post
kill -TERM "$M"
wait "$M"

# --- websocket ---
PORT=$(free_port)
"$NYMD" socket --id alice --home "$WORK/home" --socket websocket --port "$PORT" \
	>"$WORK/ws.out" 2>"$WORK/ws.err" &
M=$!
track "$M"
WS="/usr/bin/python3 $WORK/wsclient.py --port $PORT"
check "websocket: a program (no Origin) is served" wait_for 10 sh -c "$WS details | grep -q '^details:'"
check "websocket: a page on http://127.0.0.1:8000 is served" sh -c \
	"$WS --origin http://127.0.0.1:8000 details | grep -q '^details:'"
refused_403() {
	"$@" >"$WORK/refused" 2>&1
	[ $? = 2 ] && grep -q '^status: 403' "$WORK/refused" &&
	    grep -q '^body: .*websocket_allowed_origins' "$WORK/refused"
}
check "websocket: Origin null (sandboxed iframe, data: URL) gets 403 naming the key" \
	refused_403 $WS --origin null details
check "websocket: Origin file:// gets 403 naming the key" refused_403 $WS --origin file:// details
check "websocket: Origin http://evil.example gets 403" refused_403 $WS --origin http://evil.example details
if ! skip_unless_root "websocket: another user is refused"; then
	as_nobody /usr/bin/python3 "$WORK/wsclient.py" --port "$PORT" details >"$WORK/nobody-ws" 2>&1
	check "websocket: another user gets 403 naming allow_other_users" sh -c \
		"grep -q '^status: 403' '$WORK/nobody-ws' && grep -q '^body: .*allow_other_users' '$WORK/nobody-ws'"
fi
kill -TERM "$M"
wait "$M"

# --- unix socket, even when its mode lets everyone connect ---
sed -i 's/^socket_mode = .*/socket_mode = "0666"/' "$CONF"
SOCK="$WORK/home/clients/alice/nymd.sock"
chmod 755 "$WORK/home" "$WORK/home/clients" "$WORK/home/clients/alice"
start_daemon alice
M=$DAEMON_PID
check "unix: served to its own user" wait_for 10 sh -c \
	"'$WORK/sockreq' 'unix:$SOCK' details | grep -q '^details:'"
if ! skip_unless_root "unix: another user is refused despite mode 0666"; then
	as_nobody "$WORK/sockreq" "unix:$SOCK" details >"$WORK/nobody-unix" 2>&1
	check "unix: another user is refused despite mode 0666 (SO_PEERCRED)" sh -c \
		"grep -q '^exception: connection refused: .*allow_other_users' '$WORK/nobody-unix'"
fi

# --- the children: detached, undumpable, keyd's memory closed to siblings ---
K=$(role_pid "$M" keyd); N=$(role_pid "$M" netd); R=$(role_pid "$M" rpcd)
tty_nr() { awk '{ print $7 }' /proc/"$1"/stat; }
children_detached() {
	for p in $K $N $R; do
		[ "$(tty_nr "$p")" = 0 ] || return 1
		[ "$(awk '{ print $6 }' /proc/"$p"/stat)" = "$p" ] || return 1	# own session
	done
}
check "every child runs in its own session without a controlling terminal" children_detached
# What confines a process, as /proc shows it (the uid, capabilities,
# no_new_privs, seccomp mode, dumpable through /proc ownership, session).
confinement() {
	grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/"$1"/status |
		tr -s '\t ' ' '
	echo "owner $(stat -c %u /proc/"$1"/status) session-leader $([ "$(awk '{ print $6 }' /proc/"$1"/stat)" = "$1" ] && echo yes)"
}
no_caps() {
	[ -n "$1" ] && grep -Eq '^CapPrm:\s+0+$' /proc/"$1"/status &&
	    grep -Eq '^CapEff:\s+0+$' /proc/"$1"/status && grep -Eq '^CapAmb:\s+0+$' /proc/"$1"/status
}
children_confined() {
	for p in $K $N $R; do
		no_caps "$p" && grep -Eq '^Seccomp:\s+2$' /proc/"$p"/status &&
		    grep -Eq '^NoNewPrivs:\s+1$' /proc/"$p"/status || { confinement "$p" | sed 's/^/# /'; return 1; }
	done
}
check "every child has no capability, no_new_privs and a seccomp filter" children_confined
# A child restarted after a crash is confined exactly like the first.
is_restarted() {
	p=$(role_pid "$M" "$1") && [ "$p" != "$2" ] && grep -q "$1 is ready (pid $p)" "$WORK/alice.log"
}
restarted_alike() {
	role=$1; old=$(role_pid "$M" "$role") || return 1
	confinement "$old" >"$WORK/$role-first"
	kill -KILL "$old"
	wait_for 15 is_restarted "$role" "$old" || return 1
	new=$(role_pid "$M" "$role") || return 1
	confinement "$new" >"$WORK/$role-again"
	diff "$WORK/$role-first" "$WORK/$role-again" | sed 's/^/# /'
	cmp -s "$WORK/$role-first" "$WORK/$role-again" &&
	    "$WORK/sockreq" "unix:$SOCK" details | grep -q '^details: id='
}
check "a keyd restarted after SIGKILL is confined like the first, and the key is back" restarted_alike keyd
check "an rpcd restarted after SIGKILL is confined like the first, and serves" restarted_alike rpcd
check "master runs under its own seccomp allow-list (and no_new_privs)" sh -c \
	"grep -Eq '^Seccomp:\s+2$' /proc/$M/status && grep -Eq '^NoNewPrivs:\s+1$' /proc/$M/status"
# Started as root, master gave up every capability before the first child
# (and still restarted both children above, confined alike).
check "master holds no capability (permitted, effective, ambient)" no_caps "$M"
kill -TERM "$M"
wait "$M"

# The same, started on a terminal: nymd's children must not keep it.
cat >"$WORK/onpty.py" <<'PY'
import os, pty, sys, time
# onpty.py OUT COMMAND...: runs COMMAND on a new pty (its controlling
# terminal), copying what it writes there to OUT until it closes.
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
open(sys.argv[1] + ".pid", "w").write("%d\n" % pid)
out = open(sys.argv[1], "wb")
deadline = time.time() + 300
while time.time() < deadline:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    out.write(data)
    out.flush()
PY
sed -i 's/^file = .*/file = ""/' "$CONF"	# log to the terminal
python3 "$WORK/onpty.py" "$WORK/run.pty" "$NYMD" run --id alice --home "$WORK/home" &
P=$!
track "$P"
wait_for 10 test -s "$WORK/run.pty.pid"
M=$(cat "$WORK/run.pty.pid")
track "$M"
wait_for 10 all_roles_up "$M"
K=$(role_pid "$M" keyd); N=$(role_pid "$M" netd); R=$(role_pid "$M" rpcd)
diag "on a pty: master $M, keyd $K, netd $N, rpcd $R"
pty_detached() {
	[ -n "$K" ] && [ -n "$N" ] && [ -n "$R" ] || return 1
	# the positive control: master does have the terminal
	[ "$(tty_nr "$M")" != 0 ] || { diag "master has no terminal"; return 1; }
	for p in $K $N $R; do
		[ "$(tty_nr "$p")" = 0 ] || { diag "$p has tty_nr $(tty_nr "$p")"; return 1; }
	done
}
check "on a pty: master has the terminal, every child none (tty_nr 0)" pty_detached
fds_not_tty() {
	[ -n "$K" ] && [ -n "$N" ] && [ -n "$R" ] || return 1
	for p in $K $N $R; do
		for fd in 0 1 2; do
			t=$(readlink /proc/"$p"/fd/$fd) || return 1
			case $t in /dev/pts/*|/dev/tty*) echo "# $p fd $fd is $t"; return 1;; esac
		done
	done
}
check "on a pty: no child has the terminal on fds 0-2" fds_not_tty
check "the children's log lines still reach the terminal" wait_for 10 grep -q "rpcd.* listening on" "$WORK/run.pty"
# Another process's dumpable flag shows in who owns its /proc/PID files: root
# when it is 0, the process's own user otherwise.
undumpable() {
	[ -n "$K" ] && [ -n "$N" ] && [ -n "$R" ] || return 1
	for p in $K $N $R; do
		[ "$(stat -c %u /proc/"$p"/status)" = 0 ] || return 1
	done
}
check "every child is undumpable (its /proc/PID files belong to root)" undumpable
# A sibling's view: open /proc/<keyd>/mem with netd's uid (nymd), as a
# compromised netd would where Landlock is missing.
if ! skip_unless_root "a process of keyd's uid cannot open /proc/<keyd>/mem"; then
	check "a process with keyd's uid cannot open /proc/<keyd>/mem" sh -c \
		"! setpriv --reuid=\$(awk '/^Uid:/ {print \$2}' /proc/$K/status) --regid=\$(awk '/^Gid:/ {print \$2}' /proc/$K/status) --clear-groups -- \
		 /usr/bin/python3 -c 'open(\"/proc/$K/mem\", \"rb\")' 2>/dev/null"
fi
kill -TERM "$M"
wait "$P" 2>/dev/null

# allow_other_users = true: another user is served again (unsafe).
sed -i 's/^allow_other_users = .*/allow_other_users = true/' "$CONF"
sed -i "s|^file = .*|file = \"$WORK/alice.log\"|" "$CONF"
PORT=$(free_port)
"$NYMD" socket --id alice --home "$WORK/home" --socket tcp --port "$PORT" \
	>"$WORK/tcp2.out" 2>"$WORK/tcp2.err" &
M=$!
track "$M"
wait_for 10 sh -c "'$WORK/sockreq' tcp:127.0.0.1:$PORT details | grep -q '^details:'"
if ! skip_unless_root "allow_other_users = true serves another user"; then
	check "allow_other_users = true serves another user" sh -c \
		"as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- \"\$@\"; };
		 as_nobody '$WORK/sockreq' tcp:127.0.0.1:$PORT details | grep -q '^details:'"
fi
kill -TERM "$M"
wait "$M"
finish
