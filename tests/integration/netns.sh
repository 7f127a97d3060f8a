#!/bin/sh
# nym-testnet up --netns: every process in a network namespace of its own,
# on the bridge of the testnet's hub namespace; the nodes listen on and
# announce their namespace's address, not loopback; nothing is added to
# the namespace the test runs in; a message from alice reaches bob; the
# clients' unix sockets work from here; status reaches the directory;
# down removes every namespace (and with them every veth and the bridge),
# also after `up` was killed half-way. Skipped only where namespaces
# cannot be made.
# shellcheck disable=SC1091,SC2154,SC2086
. "$(dirname "$0")/lib.sh"

BIN="$top_builddir/src"
TESTNET="$BIN/nym-testnet"
NYMCTL="$BIN/nymctl/nymctl"
D="$WORK/tn"
C="$WORK/crash"

need_netns
plan 18

netns_cleanup() {
	for dir in "$D" "$C"; do
		[ -f "$dir/testnet.env" ] && "$TESTNET" down --dir "$dir" --grace 1 >/dev/null 2>&1
	done
	t_cleanup
}
trap netns_cleanup EXIT
trap 'exit 143' HUP INT TERM

status_of() {
	"$@" >"$WORK/out" 2>"$WORK/err"
	echo $?
}
root_links() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
gone() {
	[ ! -e "/proc/$1" ] && return 0
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$state" = Z ] || [ "$state" = X ]
}
# the pids of the processes that were started (0: never started)
pids_of() {
	(. "$1/testnet.env" && for k in $TESTNET_PROCESSES; do eval "echo \$${k}_PID"; done) |
		grep -v '^0$'
}
all_gone() { for p in "$@"; do gone "$p" || return 1; done; }

check "--link-delay-ms without --netns: exit 2" \
	[ "$(status_of "$TESTNET" up --dir "$D" --link-delay-ms 5)" = 2 ]

root_links >"$WORK/links.before"
testnet_up "up --netns with alice and bob" --netns --clients alice,bob --delay-ms 5 --rate 10
for p in $(pids_of "$D"); do track "$p"; done
root_links >"$WORK/links.during"
check "up adds no link to the namespace it runs in" \
	cmp -s "$WORK/links.before" "$WORK/links.during"

# One namespace per process, and the hub.
own_namespaces() {
	n=0
	for k in $TESTNET_PROCESSES; do
		eval "ns=\$${k}_NETNS pid=\$${k}_PID"
		[ -e "/run/netns/$ns" ] || return 1
		# the process runs in that namespace, not in ours
		[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || return 1
		[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/run/netns/$ns")" ] || return 1
		n=$((n + 1))
	done
	[ "$n" = 7 ] && [ -e "/run/netns/$TESTNET_NETNS_HUB" ] &&
		[ "$(netns_of_testnet "$D" | wc -l)" = 8 ]
}
check "each of the 7 processes runs in a namespace of its own" own_namespaces

HUB=$TESTNET_NETNS_HUB
topology_at_namespace_addresses() {
	ip netns exec "$HUB" curl -s -m 5 "$DIRECTORY_TOPOLOGY_URL" >"$WORK/topology" || return 1
	python3 - "$WORK/topology" "$MIX1_1_ADDR" "$MIX2_1_ADDR" "$MIX3_1_ADDR" "$PROVIDER1_ADDR" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
hosts = sorted(n["host"] for n in t["MixNodes"] + t["MixProviderNodes"])
want = sorted(a + ":1789" for a in sys.argv[2:])
assert hosts == want, (hosts, want)
assert all(a.startswith("10.77.") for a in sys.argv[2:])
PY
}
check "the directory lists every node at its namespace's address" topology_at_namespace_addresses
check "mix2_1 listens on its namespace's address, not on loopback" sh -c "
	ip netns exec '$MIX2_1_NETNS' ss -Hltn >'$WORK/ss' &&
	grep -q ' $MIX2_1_ADDR:1789 ' '$WORK/ss' && ! grep -q '127.0.0.1:1789' '$WORK/ss'"
check "alice's namespace reaches the directory's address" \
	ip netns exec "$CLIENT_alice_NETNS" curl -s -o /dev/null -m 5 "$DIRECTORY_URL/api/healthcheck"
# (here, a gateway may answer for any address: ask for the topology)
check "but this namespace does not" \
	sh -c "! curl -sf -o /dev/null -m 2 '$DIRECTORY_TOPOLOGY_URL'"

received() {
	"$NYMCTL" --socket "$CLIENT_bob_SOCKET" fetch >>"$WORK/fetched" 2>/dev/null
	grep -qx 'hello bob' "$WORK/fetched"
}
alice_to_bob() {
	"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" 'hello bob' &&
		wait_for 20 received
}
check "a message from alice reaches bob (unix sockets used from here)" alice_to_bob

rc=$(status_of "$TESTNET" status --dir "$D")
check "status: exit 0, each process with its namespace" sh -c "[ $rc = 0 ] &&
	[ \$(grep -c ' alive.* netns ' '$WORK/out') = 7 ] &&
	grep -q 'topology: 3 mixnodes (layer 1: 1, layer 2: 1, layer 3: 1), 1 provider' '$WORK/out'"

PIDS=$(pids_of "$D")
rc=$(status_of "$TESTNET" down --dir "$D")
check "down: exit 0" [ "$rc" = 0 ]
check "down: every process is gone" all_gone $PIDS
no_namespace_left() {
	! ip netns list | grep -q "^${2%-hub}-" && [ -z "$(netns_of_testnet "$1")" ]
}
check "down: no namespace of the testnet is left" no_namespace_left "$D" "$HUB"
root_links >"$WORK/links.after"
check "down: this namespace's links are as before" cmp -s "$WORK/links.before" "$WORK/links.after"

# --- up killed half-way ------------------------------------------------------
"$TESTNET" up --dir "$C" --netns --clients carol >"$WORK/crash.out" 2>&1 &
up_pid=$!
track "$up_pid"
some_started() {
	[ -f "$C/testnet.env" ] && (. "$C/testnet.env" && [ "${MIX3_1_PID:-0}" != 0 ])
}
wait_for 30 some_started
kill -KILL "$up_pid"
wait "$up_pid" 2>/dev/null
CPIDS=$(pids_of "$C")
CHUB=$(. "$C/testnet.env" && echo "$TESTNET_NETNS_HUB")
left_behind() { [ -n "$(netns_of_testnet "$C")" ] && [ -n "$CPIDS" ]; }
check "a killed up left namespaces and processes behind" left_behind
for p in $CPIDS; do track "$p"; done
rc=$(status_of "$TESTNET" down --dir "$C" --grace 1)
check "down after a killed up: exit 0" [ "$rc" = 0 ]
check "down after a killed up: no process left" all_gone $CPIDS
removed_all() {
	[ "$(grep -c 'namespace removed' "$WORK/out")" -ge 2 ] &&
		no_namespace_left "$C" "$CHUB"
}
check "down after a killed up: no namespace left" removed_all
finish
