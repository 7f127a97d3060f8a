#!/bin/sh
# nym-testnet: usage errors; `up` without the binaries fails clearly and
# starts nothing; `up` against nodes that never announce themselves times
# out and leaves no process behind; then the real thing: up with one
# mixnode per layer, one provider and clients alice and bob, testnet.env
# names everything, every process runs, the topology lists 3 mixnodes and
# 1 provider, status works, down stops every process and a second down is
# harmless; in between, a message from alice reaches bob. The real part is skipped while the servers are not built.
# shellcheck disable=SC1091,SC2154,SC2086
# (lib.sh and testnet.env are sourced at run time; pid lists are split on
# purpose.)
. "$(dirname "$0")/lib.sh"
plan 25

TESTNET="$top_builddir/src/nym-testnet"
BIN="$top_builddir/src"
D="$WORK/tn"

# Whatever happens, stop what the tests started (by pid, via testnet.env).
testnet_cleanup() {
	for dir in "$D" "$WORK/slow"; do
		[ -f "$dir/testnet.env" ] && "$TESTNET" down --dir "$dir" --grace 1 >/dev/null 2>&1
	done
	t_cleanup
}
trap testnet_cleanup EXIT

# status_of CMD...: the exit status of the command, output kept in $WORK/out
status_of() {
	"$@" >"$WORK/out" 2>"$WORK/err"
	echo $?
}

# gone PID: no such process, or a zombie (an init that does not reap keeps
# zombies around; they are dead all the same)
gone() {
	[ ! -e "/proc/$1" ] && return 0
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$state" = Z ] || [ "$state" = X ]
}

# all_gone PIDS...
all_gone() {
	for p in "$@"; do gone "$p" || return 1; done
}

# --- usage -----------------------------------------------------------------
check "no command: exit 2" [ "$(status_of "$TESTNET")" = 2 ]
check "up without --dir: exit 2" [ "$(status_of "$TESTNET" up)" = 2 ]
check "--mixes-per-layer 0: exit 2" \
	[ "$(status_of "$TESTNET" up --dir "$D" --mixes-per-layer 0)" = 2 ]
check "a client name that is not a shell name: exit 2" \
	[ "$(status_of "$TESTNET" up --dir "$D" --clients 'alice,b-ob')" = 2 ]
mkdir -p "$WORK/empty"
check "down without a testnet: nothing to stop, exit 0" \
	[ "$(status_of "$TESTNET" down --dir "$WORK/empty")" = 0 ]
check "status without a testnet: exit 1" \
	[ "$(status_of "$TESTNET" status --dir "$WORK/empty")" = 1 ]
rc=$(NYM_BIN_DIR="$WORK/empty" status_of "$TESTNET" up --dir "$WORK/nobin")
check "up without the binaries: exit 1 naming the missing one" \
	sh -c "[ $rc = 1 ] && grep -q 'nym-directory' '$WORK/err'"

# --- timeout and clean-up, with stand-in nodes that never announce ----------
mkdir -p "$WORK/fake"
ln -s "$BIN/nym-directory" "$WORK/fake/nym-directory"
for node in nym-mixnode nym-provider; do
	cat >"$WORK/fake/$node" <<'EOF'
#!/bin/sh
# A node that initialises (writing the identity key nym-testnet puts on
# the directory's allow-list) and runs but never tells the directory.
if [ "$1" = init ]; then
	while [ $# -gt 0 ]; do
		case $1 in --id) id=$2 ;; --home) home=$2 ;; esac
		shift
	done
	case $(basename "$0") in nym-mixnode) kind=mixnodes ;; *) kind=providers ;; esac
	mkdir -p "$home/$kind/$id"
	printf '%s\n' '-----BEGIN NYM ED25519 IDENTITY PUBLIC KEY-----' \
		'A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=' \
		'-----END NYM ED25519 IDENTITY PUBLIC KEY-----' \
		>"$home/$kind/$id/identity_public_key.pem"
	exit 0
fi
while :; do sleep 1; done
EOF
	chmod 755 "$WORK/fake/$node"
done
if [ -x "$BIN/nym-directory" ]; then
	start=$(date +%s)
	rc=$(NYM_BIN_DIR="$WORK/fake" status_of "$TESTNET" up --dir "$WORK/slow" --timeout 2 --grace 1)
	took=$(($(date +%s) - start))
	check "up with silent nodes: exit 1 within the timeout" \
		sh -c "[ $rc = 1 ] && [ $took -lt 15 ]"
	check "the error says the topology lacks nodes" grep -q 'topology.*lacks 4 nodes' "$WORK/err"
	pids=$(. "$WORK/slow/testnet.env" && for k in $TESTNET_PROCESSES; do eval "echo \$${k}_PID"; done)
	check "a failed up records every process it started" \
		[ "$(echo $pids | wc -w)" = 5 ]
	check "a failed up stops every process it started" all_gone $pids
else
	for _ in 1 2 3 4; do ok "# SKIP nym-directory not built"; done
fi

# --- the real testnet ---------------------------------------------------------
missing=""
for b in nym-directory nym-mixnode nym-provider nymd; do
	[ -x "$BIN/$b" ] || missing="$missing $b"
done
if [ -n "$missing" ]; then
	for _ in $(seq 14); do ok "# SKIP not built yet:$missing"; done
	finish
fi

rc=$(status_of "$TESTNET" up --dir "$D" --mixes-per-layer 1 --providers 1 --clients alice,bob)
check "up with K=1, P=1 and clients alice,bob: exit 0" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { diag "$(cat "$WORK/err")"; }

names_everything() {
	(
		. "$D/testnet.env" || exit 1
		[ "$TESTNET_STATE" = up ] &&
		[ "$TESTNET_PROCESSES" = "DIRECTORY MIX1_1 MIX2_1 MIX3_1 PROVIDER1 CLIENT_alice CLIENT_bob" ] &&
		[ -n "$DIRECTORY_URL" ] && [ -n "$DIRECTORY_TOPOLOGY_URL" ] &&
		[ -n "$DIRECTORY_PORT" ] && [ -n "$MIX1_1_PORT" ] && [ "$MIX2_1_LAYER" = 2 ] &&
		[ ${#PROVIDER1_PUBKEY} = 44 ] && [ ${#CLIENT_alice_PUBKEY} = 44 ] &&
		[ "$CLIENT_bob_PROVIDER" = "$PROVIDER1_PUBKEY" ] &&
		[ -n "$CLIENT_alice_SOCKET" ] && [ -n "$CLIENT_bob_SOCKET" ] &&
		for k in $TESTNET_PROCESSES; do
			eval "[ -n \"\$${k}_PID\" ] && [ -f \"\$${k}_LOG\" ]" || exit 1
		done
	)
}
check "testnet.env exists and names everything" names_everything

PIDS=$(. "$D/testnet.env" && for k in $TESTNET_PROCESSES; do eval "echo \$${k}_PID"; done)
for p in $PIDS; do track "$p"; done
all_alive() {
	[ "$(echo $PIDS | wc -w)" = 7 ] || return 1
	for p in $PIDS; do
		[ -d "/proc/$p" ] && ! gone "$p" || return 1
	done
}
check "every pid is alive" all_alive
check "each client's socket exists" sh -c ". '$D/testnet.env' && [ -S \"\$CLIENT_alice_SOCKET\" ] && [ -S \"\$CLIENT_bob_SOCKET\" ]"

topology_complete() {
	url=$(. "$D/testnet.env" && echo "$DIRECTORY_TOPOLOGY_URL")
	curl -s -m 5 "$url" >"$WORK/topology" || return 1
	python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
mix = t["MixNodes"]
assert len(mix) == 3, mix
assert sorted(m["layer"] for m in mix) == [1, 2, 3], mix
assert len(t["MixProviderNodes"]) == 1, t' "$WORK/topology"
}
check "the directory lists 3 mixnodes (one per layer) and 1 provider" topology_complete

# As soon as up returns, the clients know each other.
NYMCTL="$top_builddir/src/nymctl/nymctl"
ALICE_SOCKET=$(. "$D/testnet.env" && echo "$CLIENT_alice_SOCKET")
BOB_SOCKET=$(. "$D/testnet.env" && echo "$CLIENT_bob_SOCKET")
BOB=$(. "$D/testnet.env" && echo "$CLIENT_bob_PUBKEY")
received() {
	"$NYMCTL" --socket "$BOB_SOCKET" fetch >>"$WORK/fetched" 2>/dev/null
	grep -qx 'hello bob' "$WORK/fetched"
}
alice_to_bob() {
	"$NYMCTL" --socket "$ALICE_SOCKET" send --to "$BOB" 'hello bob' &&
		wait_for 10 received
}
if [ -x "$NYMCTL" ]; then
	check "a message from alice reaches bob" alice_to_bob
else
	ok "# SKIP nymctl not built"
fi

rc=$(status_of "$TESTNET" status --dir "$D")
check "status: exit 0" [ "$rc" = 0 ]
check "status: every process alive, the topology counts" sh -c "
	[ \$(grep -c ' alive' '$WORK/out') = 7 ] &&
	grep -q 'topology: 3 mixnodes (layer 1: 1, layer 2: 1, layer 3: 1), 1 provider' '$WORK/out'"
check "up again while it runs: refused, exit 1" \
	[ "$(status_of "$TESTNET" up --dir "$D" --timeout 3 --grace 1)" = 1 ]

rc=$(status_of "$TESTNET" down --dir "$D")
check "down: exit 0" [ "$rc" = 0 ]
check "down: every process is gone" all_gone $PIDS
check "status after down: exit 1, every process dead" sh -c "
	[ \$(cd / && '$TESTNET' status --dir '$D' >'$WORK/out2' 2>&1; echo \$?) = 1 ] &&
	[ \$(grep -c ' dead' '$WORK/out2') = 7 ]"
rc=$(status_of "$TESTNET" down --dir "$D")
check "a second down: exit 0" [ "$rc" = 0 ]
check "a second down signals nothing" sh -c "! grep -q 'stopped\|killed' '$WORK/out'"
finish
