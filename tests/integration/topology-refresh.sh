#!/bin/sh
# A send to a client that registered after nymd last fetched the topology:
# nymctl send (libnym's nym_send_id) asks nymd for a fresh topology, nymd
# fetches it at once (at most once a second) and the send is accepted if
# the fresh topology lists the recipient; refused with the usual error if
# not. While one connection waits for the directory, others are served.
. "$(dirname "$0")/lib.sh"
plan 8

NYMCTL="$top_builddir/src/nymctl/nymctl"
fixed_directory
DIRPID=${T_PIDS##* }
TOPO="$WORK/dir/api/presence/topology"
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
CONF="$WORK/home/clients/alice/config/config.toml"
# No periodic fetch within the test: only the one a send asks for.
sed -i 's/^topology_refresh_seconds = .*/topology_refresh_seconds = 3600/' "$CONF"
grep -q '^topology_refresh_seconds = 3600' "$CONF" || diag "topology_refresh_seconds not set in $CONF"
SOCK="$WORK/home/clients/alice/nymd.sock"
start_daemon alice
M=$DAEMON_PID
check "nymd lists the directory's 2 clients" wait_for 10 sh -c \
	"'$NYMCTL' --socket '$SOCK' clients 2>/dev/null | grep -c . | grep -qx 2"

newkey() { python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
# add_client KEY: the directory now lists KEY at the provider
add_client() {
	python3 - "$TOPO" "$1" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["MixProviderNodes"][0]["registeredClients"].append({"pubKey": sys.argv[2]})
json.dump(t, open(sys.argv[1] + ".new", "w"))
PY
	mv "$TOPO.new" "$TOPO"
}
now_ms() { date +%s%3N; }

NEW=$(newkey)
add_client "$NEW"
t0=$(now_ms)
"$NYMCTL" --socket "$SOCK" send --to "$NEW" "hello new client" >"$WORK/new.out" 2>&1 && rc=0 || rc=$?
t1=$(now_ms)
diag "send to the newly registered client: exit $rc in $((t1 - t0)) ms: $(head -c 300 "$WORK/new.out")"
check "a send to a client registered since the last fetch is accepted" test "$rc" = 0
check "within a few seconds" test $((t1 - t0)) -lt 5000
# At once, or (within a second of the last fetch, as under ASan when the
# first checks passed quickly) as soon as the rate limit allows: the send
# asked for it either way.
check "nymd fetched the topology for it at once" \
	grep -q -e "fetching the topology now" -e "topology fetch asked for again within" \
	"$WORK/alice.log"

UNKNOWN=$(newkey)
sleep 1.1	# past the rate limit
"$NYMCTL" --socket "$SOCK" send --to "$UNKNOWN" "hello nobody" >"$WORK/unknown.out" 2>&1 && rc=0 || rc=$?
check "a send to a client the fresh topology does not list is refused with the usual error" sh -c \
	"[ $rc = 1 ] && grep -q 'is not a registered client in nymd' '$WORK/unknown.out'"

# The directory hangs (stopped): the send waits for it, at most a few
# seconds, and another connection is served meanwhile.
kill -STOP "$DIRPID"
sleep 1.1
t0=$(now_ms)
"$NYMCTL" --socket "$SOCK" send --to "$(newkey)" "hello" >"$WORK/hang.out" 2>&1 &
S=$!
track "$S"
sleep 0.5
"$NYMCTL" --socket "$SOCK" details >"$WORK/details.out" 2>&1 && rc=0 || rc=$?
check "another connection is served while a send waits for the directory" sh -c \
	"[ $rc = 0 ] && grep -q '^id: ' '$WORK/details.out' && ! [ -s '$WORK/hang.out' ]"
wait "$S" && rc=0 || rc=$?
t2=$(now_ms)
kill -CONT "$DIRPID"
diag "the waiting send ended after $((t2 - t0)) ms: $(head -c 300 "$WORK/hang.out")"
# nymd's own wait is 4 s; the bound here allows for a loaded machine.
check "the waiting send is answered after a bounded wait, with the usual error" sh -c \
	"[ $rc = 1 ] && grep -q 'is not a registered client in nymd' '$WORK/hang.out' &&
	 grep -q 'no fresh topology within 4000 ms' '$WORK/alice.log' && [ $((t2 - t0)) -lt 15000 ]"
check "nymd is still running" kill -0 "$M"
kill -TERM "$M"
wait "$M"
finish
