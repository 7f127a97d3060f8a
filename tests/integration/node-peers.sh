#!/bin/sh
# Link peer authentication at the nodes, on real processes (nym-directory,
# a nym-mixnode, a nym-provider, tests/tools/linkauth):
#  - at the mixnode, a link whose static key the topology does not list is
#    refused before its handshake completes, and counted (refused_links in
#    the node's stats line); the positive control is the same key accepted
#    once the directory lists it;
#  - a flood of 200 links from fresh unlisted keys over 2 s: every one is
#    refused, at a cost of at most one on-demand topology fetch per 250 ms
#    (no fetch storm), and none is left waiting;
#  - the provider takes any key's link as a client's (to register), but
#    drops the packets of one that is neither a node nor registered
#    (not_allowed); the positive control: the same key, once listed as a
#    node, has its (random) packets processed (bad_mac).
. "$(dirname "$0")/lib.sh"

MIXNODE="$top_builddir/src/nym-mixnode"
PROVIDER="$top_builddir/src/nym-provider"
DIRECTORY="$top_builddir/src/nym-directory"
LINKAUTH="$top_builddir/tests/tools/linkauth"

if [ ! -x "$DIRECTORY" ] || [ ! -x "$LINKAUTH" ]; then
	echo "1..0 # SKIP nym-directory or linkauth is not built"
	exit 0
fi
plan 12

H="$WORK/home"
DPORT=$(free_port)
D="http://127.0.0.1:$DPORT"
"$DIRECTORY" --listen "127.0.0.1:$DPORT" >"$WORK/directory.log" 2>&1 &
track $!
wait_for 5 sh -c "curl -s -m 1 $D/api/healthcheck | grep -q ok"

"$MIXNODE" init --id mix1 --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--layer 1 --directory "$D" >/dev/null 2>&1
fast() {
	sed -i 's/^presence_interval_seconds = .*/presence_interval_seconds = 1/
s/^topology_interval_seconds = .*/topology_interval_seconds = 1/
s/^metrics_interval_seconds = .*/metrics_interval_seconds = 1/' "$1"
}
fast "$H/mixnodes/mix1/config.toml"
MPORT=$(free_port)
sed -i "s/^metrics_listen = .*/metrics_listen = \"127.0.0.1:$MPORT\"/" "$H/mixnodes/mix1/config.toml"
"$MIXNODE" run --id mix1 --home "$H" --log-level debug >"$WORK/mix1.log" 2>&1 &
MIX_PID=$!
track "$MIX_PID"
mixid() {
	curl -s -m 2 "$D/api/presence/topology" | python3 -c 'import json, sys
t = json.load(sys.stdin)
print(t["MixNodes"][0]["pubKey"]) if t["MixNodes"] else sys.exit(1)'
}
listed() { mixid >/dev/null; }
check "the mixnode is in the topology" wait_for 10 listed
MIXID=$(mixid)
# the mixnode has fetched a topology (it accepts links only then)
wait_for 5 grep -q 'topology' "$WORK/mix1.log"

"$LINKAUTH" --directory "$D" --node "$MIXID" --tries 3 >"$WORK/linkauth.out" 2>"$WORK/linkauth.err"
sed 's/^/# /' "$WORK/linkauth.out" "$WORK/linkauth.err"
check "3 links from a key not in the topology are refused before the handshake completes" \
	grep -qx 'unlisted refused=3 accepted=0 timeout=0' "$WORK/linkauth.out"
check "positive control: the same key, once listed, is accepted" \
	grep -qx 'listed accepted' "$WORK/linkauth.out"
# refused_links N: the last stats line counts at least N refused links
refused_links() {
	n=$(sed -n 's/.*stats.* refused_links=\([0-9]*\) .*/\1/p' "$WORK/mix1.log" | tail -n 1)
	[ -n "$n" ] && [ "$n" -ge "$1" ]
}
check "the mixnode counts the refused links (refused_links >= 3)" wait_for 5 refused_links 3
check "the mixnode is still running" kill -0 "$MIX_PID"

# metric NAME: the mixnode's sample of NAME (no labels), or nothing
metric() {
	curl -s -m 2 "http://127.0.0.1:$MPORT/metrics" | sed -n "s/^$1 \([0-9]*\)$/\1/p"
}
F0=$(metric nym_node_topology_fetches_total)
"$LINKAUTH" --directory "$D" --node "$MIXID" --flood 200 --over 2000 >"$WORK/flood.out" 2>"$WORK/flood.err"
F1=$(metric nym_node_topology_fetches_total)
sed 's/^/# /' "$WORK/flood.out" "$WORK/flood.err"
diag "topology fetches: $F0 before the flood, $F1 after"
check "200 links from fresh unlisted keys: every one refused, none accepted or left unanswered" \
	grep -q '^flood links=200 refused=200 accepted=0 timeout=0 ' "$WORK/flood.out"
# At most one on-demand fetch per 250 ms over the flood, plus the periodic
# ones (every second here) and one at each end.
few_fetches() {
	ms=$(sed -n 's/^flood .* ms=\([0-9]*\)$/\1/p' "$WORK/flood.out")
	[ -n "$F0" ] && [ -n "$F1" ] && [ -n "$ms" ] &&
		[ $((F1 - F0)) -le $((ms / 250 + ms / 1000 + 3)) ]
}
check "the flood made no fetch storm (at most one on-demand fetch per 250 ms)" few_fetches
check "no link waits for a fetch after the flood" wait_for 5 sh -c "
	curl -s -m 2 http://127.0.0.1:$MPORT/metrics | grep -qx 'nym_node_links_waiting 0'"

"$PROVIDER" init --id prov --home "$H" --host 127.0.0.1 --port "$(free_port)" \
	--directory "$D" >/dev/null 2>&1
fast "$H/providers/prov/config.toml"
"$PROVIDER" run --id prov --home "$H" --log-level debug >"$WORK/prov.log" 2>&1 &
PROV_PID=$!
track "$PROV_PID"
# (linkauth's key above is listed as a provider too: ours is the one it says)
wait_for 5 grep -q '^Our Public Key is: ' "$WORK/prov.log"
PROVID=$(sed -n 's/^Our Public Key is: //p' "$WORK/prov.log")
prov_listed() {
	curl -s -m 2 "$D/api/presence/topology" | python3 -c 'import json, sys
t = json.load(sys.stdin)
sys.exit(0 if sys.argv[1] in [p["pubKey"] for p in t["MixProviderNodes"]] else 1)' "$PROVID"
}
check "the provider is in the topology" wait_for 10 prov_listed
wait_for 5 grep -q 'topology' "$WORK/prov.log"
"$LINKAUTH" --directory "$D" --node "$PROVID" --packets 3 >"$WORK/linkauth2.out" 2>"$WORK/linkauth2.err"
sed 's/^/# /' "$WORK/linkauth2.out" "$WORK/linkauth2.err"
check "3 packets sent to the provider from a key not in the topology, 3 once listed" \
	sh -c "grep -qx 'unlisted sent=3' '$WORK/linkauth2.out' && grep -qx 'listed sent=3' '$WORK/linkauth2.out'"
# stat NAME: NAME's count in the provider's last stats line
stat() { sed -n "s/.*stats.* $1=\([0-9]*\) .*/\1/p" "$WORK/prov.log" | tail -n 1; }
# at_least N NAME...: the sum of the NAMEs' counts is at least N
at_least() {
	want=$1; shift
	sum=0
	for k in "$@"; do v=$(stat "$k"); sum=$((sum + ${v:-0})); done
	[ "$sum" -ge "$want" ]
}
check "the provider dropped the unlisted key's 3 packets (not_allowed >= 3)" wait_for 5 at_least 3 not_allowed
# Random bytes fail the Sphinx checks: a bad MAC, or an alpha that is no
# usable point (malformed).
check "positive control: it processed the listed key's (bad_mac + malformed >= 3)" \
	wait_for 5 at_least 3 bad_mac malformed
grep 'stats' "$WORK/prov.log" | tail -n 1 | sed 's/^/# /'
finish
