#!/bin/sh
# nymd run: four processes with their titles, each child sandboxed, the
# socket answers details and clients from keyd's key and netd's topology,
# a killed child is restarted and the daemon is whole again, SIGTERM
# stops everything within a second.
. "$(dirname "$0")/lib.sh"
plan 24

fixed_directory

init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
SOCK="$WORK/home/clients/alice/nymd.sock"
start_daemon alice
M=$DAEMON_PID

check "the three roles start" wait_for 10 all_roles_up "$M"
check "prints 'Our Public Key is:' with the key of public_key.pem" wait_for 5 grep -q "^Our Public Key is: [A-Za-z0-9_-]\{43\}=$" "$WORK/run-alice.out"
for r in keyd netd rpcd; do
	p=$(role_pid "$M" $r)
	check "$r has the title 'nymd: $r [alice]'" sh -c "tr '\\0' ' ' </proc/$p/cmdline | grep -q '^nymd: $r \\[alice\\]'"
	check "$r is sandboxed: Seccomp 2 and NoNewPrivs 1" sh -c "grep -q '^Seccomp:[[:space:]]*2' /proc/$p/status && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$p/status"
done
check "the socket is mode 0600" wait_for 5 sh -c "test \"\$(stat -c %a '$SOCK')\" = 600"

details_ok() {
	"$SOCKREQ" "unix:$SOCK" details >"$WORK/details" 2>&1 &&
	grep -q "^details: id=$(sed -n 's/^Our Public Key is: //p' "$WORK/run-alice.out") " "$WORK/details"
}
check "details answers with our id and key" wait_for 5 details_ok
check "details names the provider with host and port from the topology" wait_for 5 sh -c \
	"'$SOCKREQ' 'unix:$SOCK' details | grep -q 'provider=$PROVIDER host=127.0.0.1 port=9200 layer=1000000'"
check "clients lists the registered clients" sh -c "'$SOCKREQ' 'unix:$SOCK' clients | grep -q '^clients: 2'"
check "responses come in request order, flush last" sh -c \
	"'$SOCKREQ' 'unix:$SOCK' details clients flush | awk 'NR==1 && /^details/ {a=1} /^clients/ {b=NR} END {exit !(a && b==2)}' &&
	 '$SOCKREQ' 'unix:$SOCK' details flush | tail -1 | grep -qx flush"
check "a request that is not a protobuf gets an exception, the connection stays usable" sh -c \
	"'$SOCKREQ' 'unix:$SOCK' raw:04ffff details | head -2 | tr '\\n' '|' | grep -q '^exception: malformed request.*|details:'"
check "an impossible frame length gets an exception and a close" sh -c \
	"'$SOCKREQ' 'unix:$SOCK' raw:ffffffffffffffffffff7f details | grep -q '^exception: bad frame'"

for r in keyd netd rpcd; do
	old=$(role_pid "$M" $r)
	kill -KILL "$old"
	check "after kill -9 of $r, a new $r runs and details answers" wait_for 10 sh -c \
		"p=\$(. '$top_srcdir/tests/integration/lib.sh' >/dev/null 2>&1; true); \
		 [ -n \"\$(cat /proc/$M/task/*/children)\" ] && \
		 for c in \$(cat /proc/$M/task/*/children); do tr '\\0' ' ' </proc/\$c/cmdline | grep -q '^nymd: $r ' && [ \$c != $old ] && exit 0; done; exit 1"
	wait_for 10 details_ok
done
check "the daemon is whole again and answers details" wait_for 10 details_ok
check "the restarts are logged" grep -q "restarting it in" "$WORK/alice.log"

kill -HUP "$M"
check "SIGHUP reloads the configuration" wait_for 5 grep -q "configuration reloaded from" "$WORK/alice.log"

pids="$M $(cat /proc/$M/task/*/children)"
kill -TERM "$M"
sleep 1
left=""
for p in $pids; do [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null && left="$left $p"; done
check "SIGTERM leaves no process behind within 1 s" test -z "$left"
wait "$M"; rc=$?
check "and master exits 0" test "$rc" = 0
check "no role died of its sandbox on the way" sh -c "! grep -q 'signal 31' '$WORK/alice.log'"
finish
