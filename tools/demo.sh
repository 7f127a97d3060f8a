#!/bin/sh
# The demo: builds nymd and its local mixnet, starts a testnet (a
# directory, a mixnode in each of three layers, a provider) with two nymd
# clients, alice and bob, and sends a message from alice to bob:
# alice -> provider -> 3 mixnodes -> provider -> bob.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/build.sh" default
B="$top/build/default/src"
D=$(mktemp -d /tmp/nymd-demo.XXXXXX)
chmod 755 "$D"
trap '"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1 || true; rm -rf "$D"' EXIT
if [ "$(id -u)" = 0 ] && ! id nymd >/dev/null 2>&1; then
	echo "Creating the system user nymd that the daemon runs as when started by root"
	useradd --system --no-create-home --shell /usr/sbin/nologin nymd
fi

echo "\$ nym-testnet up --clients alice,bob"
"$B/nym-testnet" up --dir "$D" --clients alice,bob
. "$D/testnet.env"
echo
echo "alice's daemon, one role per process, each sandboxed:"
for p in "$CLIENT_alice_PID" $(cat /proc/"$CLIENT_alice_PID"/task/*/children); do
	printf '    %-6s %-22s %s\n' "$p" "$(tr '\0' ' ' </proc/"$p"/cmdline | sed 's|^[^ ]*/||' | cut -c1-22)" \
		"$(grep -E '^(Seccomp|NoNewPrivs):' /proc/"$p"/status | tr -s '\t\n' '  ')"
done
echo
MSG="Hello bob, this is alice, through the mixnet"
echo "\$ nymctl --socket alice.sock send --to $CLIENT_bob_PUBKEY \"$MSG\""
"$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "$MSG"
echo
echo "\$ nymctl --socket bob.sock fetch"
i=0
while [ $i -lt 100 ]; do
	out=$("$B/nymctl/nymctl" --socket "$CLIENT_bob_SOCKET" fetch)
	if [ -n "$out" ]; then
		echo "$out"
		echo
		echo "bob received alice's message."
		exit 0
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "the message did not arrive within 10 s" >&2
exit 1
