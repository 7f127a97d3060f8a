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
ID=$("$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" "$MSG")
echo "$ID"
echo
# fetch_wait SOCKET [ARGS]: fetches until something arrives (10 s at most)
fetch_wait() {
	sock=$1; shift
	i=0
	while [ $i -lt 100 ]; do
		out=$("$B/nymctl/nymctl" --socket "$sock" fetch "$@")
		if [ -n "$out" ]; then
			echo "$out"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "nothing arrived within 10 s" >&2
	exit 1
}
echo "\$ nymctl --socket bob.sock fetch"
fetch_wait "$CLIENT_bob_SOCKET"
echo
echo "bob received alice's message."
echo
echo "Its status at alice, once bob's provider acknowledged it (docs/acks.md):"
echo "\$ nymctl --socket alice.sock status --watch $ID"
timeout 30 "$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" status --watch "$ID" | tail -n 1
echo
echo "An anonymous reply (docs/replies.md): alice sends a reply block; bob sees a"
echo "random sender tag, not who wrote, and answers through it."
MSG="Bob, answer me without learning who I am"
echo "\$ nymctl --socket alice.sock send --reply-surbs 1 --to $CLIENT_bob_PUBKEY \"$MSG\""
"$B/nymctl/nymctl" --socket "$CLIENT_alice_SOCKET" send --reply-surbs 1 --to "$CLIENT_bob_PUBKEY" "$MSG"
echo "\$ nymctl --socket bob.sock fetch --tags"
out=$(fetch_wait "$CLIENT_bob_SOCKET" --tags)
echo "$out"
TAG=$(echo "$out" | cut -f1)
REPLY="Here is my answer, whoever you are"
echo "\$ nymctl --socket bob.sock reply --tag $TAG \"$REPLY\""
"$B/nymctl/nymctl" --socket "$CLIENT_bob_SOCKET" reply --tag "$TAG" "$REPLY"
echo "\$ nymctl --socket alice.sock fetch"
fetch_wait "$CLIENT_alice_SOCKET"
echo
echo "alice received bob's reply."
exit 0
