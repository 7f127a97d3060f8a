#!/bin/sh
# nym-directory: healthcheck; three mixnodes and a provider with two
# clients read back in exactly the seed's topology shape; each kind of bad
# input gets 400 with a JSON error and leaves the topology as it was;
# presences that are not renewed drop out; metrics round trip; SIGTERM
# stops it within a second with status 0. Signed descriptors
# (docs/directory.md): an unsigned or forged presence, a node moved by
# another identity, an identity reused for a second node, an old
# descriptor replayed and, with --allow, an identity not on the list are
# all refused, and the honest topology stays as it was.
. "$(dirname "$0")/lib.sh"
plan 52

DIRECTORY="$top_builddir/src/nym-directory"
DESC="$top_srcdir/tests/tools/descriptor.py"

# mix N KEY SEED [options]: a signed presence of mixnode N (layer N) at
# 127.0.0.1:910N; prov KEY SEED [options]: of a provider at :9200.
# (Options first: keys may start with '-', so the rest follows "--".)
mix() { l=$1; k=$2; seed=$3; shift 3; python3 "$DESC" "$@" -- mixnode "127.0.0.1:910$l" "$k" "$l" "$seed"; }
prov() { k=$1; seed=$2; shift 2; python3 "$DESC" "$@" -- provider 127.0.0.1:9200 "$k" 0 "$seed"; }
# refused CODE PORT PATH BODY: the directory answers CODE with a JSON error
refused() {
	printf '%s' "$4" >"$WORK/body"
	[ "$(req POST "$2" "$3" "$WORK/body")" = "$1" ] && is_json_error
}

# key N: the URL-safe base64 of 32 bytes derived from N (with - and _).
key() {
	python3 -c 'import base64, hashlib, sys
print(base64.urlsafe_b64encode(b"\xfb\xff" + hashlib.sha256(sys.argv[1].encode()).digest()[2:]).decode())' "$1"
}

# req METHOD PORT PATH [BODY_FILE]: prints the status code; the body is
# left in $WORK/resp and the content type in $WORK/ctype.
req() {
	if [ -n "${4:-}" ]; then
		curl -s -m 5 -X "$1" -o "$WORK/resp" -w '%{http_code} %{content_type}' \
			-H 'Content-Type: application/json' \
			--data-binary @"$4" "http://127.0.0.1:$2$3" >"$WORK/status"
	else
		curl -s -m 5 -X "$1" -o "$WORK/resp" -w '%{http_code} %{content_type}' \
			"http://127.0.0.1:$2$3" >"$WORK/status"
	fi
	cut -d' ' -f2- "$WORK/status" >"$WORK/ctype"
	cut -d' ' -f1 "$WORK/status"
}

# post PORT PATH JSON: 0 if the directory answers 201 {"ok":true}
post() {
	printf '%s' "$3" >"$WORK/body"
	[ "$(req POST "$1" "$2" "$WORK/body")" = 201 ] && grep -qx '{"ok":true}' "$WORK/resp"
}

# is_json_error: $WORK/resp is {"error": "<non-empty string>"} as JSON
is_json_error() {
	grep -q '^application/json' "$WORK/ctype" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict) and list(d) == ["error"]
assert isinstance(d["error"], str) and d["error"]' "$WORK/resp"
}

# bad PORT PATH BODY_FILE: 400 with a JSON error
bad() {
	[ "$(req POST "$1" "$2" "$3")" = 400 ] && is_json_error
}

start_directory() {
	port=$1; shift
	"$DIRECTORY" --listen "127.0.0.1:$port" "$@" >>"$WORK/dir-$port.log" 2>&1 &
	DIR_PID=$!
	track "$DIR_PID"
	wait_for 5 sh -c "curl -s -m 1 http://127.0.0.1:$port/api/healthcheck | grep -q ok"
}

# stop_within PID SIGNAL: the process exits 0 within a second of SIGNAL
stop_within() {
	(sleep 5; kill -KILL "$1" 2>/dev/null) &
	guard=$!
	t0=$(date +%s%N)
	kill -"$2" "$1"
	wait "$1"
	rc=$?
	t1=$(date +%s%N)
	kill "$guard" 2>/dev/null
	diag "exit status $rc after $(( (t1 - t0) / 1000000 )) ms"
	[ "$rc" -eq 0 ] && [ $((t1 - t0)) -lt 1000000000 ]
}

# --- command line ---------------------------------------------------------
check "--version exits 0" sh -c "'$DIRECTORY' --version | grep -q nym-directory"
check "--help exits 0 and shows the options" sh -c "'$DIRECTORY' --help | grep -q -- --stale-seconds"
"$DIRECTORY" --listen nowhere >/dev/null 2>&1
check "a bad --listen is a usage error (2)" test $? -eq 2
"$DIRECTORY" --stale-seconds 0 >/dev/null 2>&1
check "--stale-seconds 0 is a usage error (2)" test $? -eq 2
"$DIRECTORY" stray >/dev/null 2>&1
check "a stray argument is a usage error (2)" test $? -eq 2

# --- presence and the topology --------------------------------------------
P=$(free_port)
# Nothing goes stale while the slow parts run (signing is a python start-up).
check "starts and answers the healthcheck" start_directory "$P" --stale-seconds 3600
D=$DIR_PID
check "GET /api/healthcheck is 200 {\"ok\":true} as JSON" sh -c \
	"[ \"\$(curl -s -o '$WORK/hc' -w '%{http_code} %{content_type}' http://127.0.0.1:$P/api/healthcheck)\" = '200 application/json; charset=utf-8' ] && grep -qx '{\"ok\":true}' '$WORK/hc'"
check "an empty directory serves empty lists" sh -c \
	"curl -s http://127.0.0.1:$P/api/presence/topology | grep -qx '{\"MixNodes\":\[\],\"MixProviderNodes\":\[\],\"epochSeconds\":3600}'"

M1=$(key m1); M2=$(key m2); M3=$(key m3); PR=$(key provider)
# Clients with keys of their own, so that they can sign statements.
C1=$(python3 "$top_srcdir/tests/tools/regstmt.py" keypair c1 | cut -d' ' -f2)
C2=$(python3 "$top_srcdir/tests/tools/regstmt.py" keypair c2 | cut -d' ' -f2)
ok_all=1
for l in 1 2 3; do
	eval "k=\$M$l"
	post "$P" /api/presence/mixnodes "$(mix "$l" "$k" "m$l")" || ok_all=0
done
check "three mixnodes post their presence (201)" test "$ok_all" = 1
check "a provider with two clients posts its presence (201)" post "$P" /api/presence/mixproviders \
	"$(prov "$PR" provider --clients=@c1,@c2)"

curl -s "http://127.0.0.1:$P/api/presence/topology" >"$WORK/topo1"
check "GET answers carry Access-Control-Allow-Origin: * (as the seed's)" sh -c \
	"curl -s -D - -o /dev/null http://127.0.0.1:$P/api/presence/topology | grep -qi '^access-control-allow-origin: \*'"
check "the topology has exactly the seed's shape and our nodes" python3 - "$WORK/topo1" "$M1" "$M2" "$M3" "$PR" "$C1" "$C2" <<'PY'
import base64, json, sys, time
doc = json.load(open(sys.argv[1]))
m, pr, clients = sys.argv[2:5], sys.argv[5], sys.argv[6:8]
now = time.time_ns()
def key_ok(k):
    return isinstance(k, str) and len(k) == 44 and len(base64.urlsafe_b64decode(k)) == 32 \
        and base64.urlsafe_b64encode(base64.urlsafe_b64decode(k)).decode() == k
def seen_ok(t):
    return type(t) is int and abs(now - t) < 60 * 10**9
assert list(doc) == ["MixNodes", "MixProviderNodes", "epochSeconds"], list(doc)
assert len(doc["MixNodes"]) == 3
for i, n in enumerate(doc["MixNodes"]):
    assert list(n) == ["host", "pubKey", "layer", "lastSeen", "descriptor", "signature"], list(n)
    assert json.loads(n["descriptor"])["pubKey"] == m[i]
    assert n["host"] == "127.0.0.1:910%d" % (i + 1)
    assert n["pubKey"] == m[i] and key_ok(n["pubKey"])
    assert type(n["layer"]) is int and n["layer"] == i + 1
    assert seen_ok(n["lastSeen"])
assert len(doc["MixProviderNodes"]) == 1
p = doc["MixProviderNodes"][0]
assert list(p) == ["host", "pubKey", "registeredClients", "lastSeen", "descriptor", "signature"], list(p)
assert p["host"] == "127.0.0.1:9200" and p["pubKey"] == pr and key_ok(pr)
assert [c["pubKey"] for c in p["registeredClients"]] == clients
assert all(list(c) == ["pubKey", "registered", "signature"] for c in p["registeredClients"])
assert seen_ok(p["lastSeen"])
PY

# --- bad input --------------------------------------------------------------
b() { printf '%s' "$2" >"$WORK/bad-$1"; }
b json '{"host":"127.0.0.1:9101","pubKey":'
b type "{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":\"1\"}"
b base64 '{"host":"127.0.0.1:9101","pubKey":"not*base64*at*all*but*44*characters*long=","layer":1}'
b shortkey '{"host":"127.0.0.1:9101","pubKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","layer":1}'
b layer "{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":4}"
b host "{\"host\":\"127.0.0.1\",\"pubKey\":\"$M1\",\"layer\":1}"
b clients "{\"host\":\"127.0.0.1:9200\",\"pubKey\":\"$PR\",\"registeredClients\":[{\"pubKey\":\"short\"}]}"
b clienttype "{\"host\":\"127.0.0.1:9200\",\"pubKey\":\"$PR\",\"registeredClients\":\"$C1\"}"
b notobject '[1,2,3]'
python3 -c "import sys; sys.stdout.write('{\"host\":\"' + 'a' * 300000 + '\"}')" >"$WORK/bad-big"

check "invalid JSON: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-json"
check "a wrong type (layer as a string): 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-type"
check "a key that is not base64: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-base64"
check "a key that is not 32 bytes: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-shortkey"
check "an unknown layer, for a known node: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-layer"
check "a host without a port: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-host"
check "a bad client key, for a known provider: 400 with a JSON error" bad "$P" /api/presence/mixproviders "$WORK/bad-clients"
check "registeredClients not a list: 400 with a JSON error" bad "$P" /api/presence/mixproviders "$WORK/bad-clienttype"
check "a body that is not an object: 400 with a JSON error" bad "$P" /api/metrics/mixes "$WORK/bad-notobject"
check "a body over 256 KiB: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-big"
check "a form post (not application/json): 415 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' -d '{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":2}' http://127.0.0.1:$P/api/presence/mixnodes)\" = 415 ] && grep -q '\"error\"' '$WORK/resp'"
check "a wrong method: 405 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' -X DELETE http://127.0.0.1:$P/api/presence/topology)\" = 405 ] && grep -q '\"error\"' '$WORK/resp'"
check "an unknown path: 404 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' http://127.0.0.1:$P/api/presence/nothing)\" = 404 ] && grep -q '\"error\"' '$WORK/resp'"
curl -s "http://127.0.0.1:$P/api/presence/topology" >"$WORK/topo2"
check "the topology is unchanged after the bad input" cmp -s "$WORK/topo1" "$WORK/topo2"

# --- who may say what (signed descriptors) ----------------------------------
# nodes_of FILE: what the topology says of each node, descriptors read.
nodes_of() {
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
for n in t["MixNodes"] + t["MixProviderNodes"]:
    d = json.loads(n["descriptor"])
    print(n["host"], n["pubKey"], n.get("layer"), n.get("registeredClients"), d["identityKey"])' "$1"
}
# The bodies are made first: each signature is a python start-up.
ATT_MOVE=$(python3 "$DESC" -- mixnode 127.0.0.9:9101 "$M1" 2 attacker)
ATT_EMPTY=$(prov "$PR" attacker)
ATT_SYBIL=$(mix 3 "$(key sybil)" m1)
ATT_OLD=$(mix 1 "$M1" m1 --published $(($(date +%s) * 1000 - 600000)))
ATT_EPOCH=$(mix 1 "$M1" m1 --keys "5:$(key e5)")
ATT_TAMPER=$(mix 1 "$M1" m1 --tamper)
curl -s "http://127.0.0.1:$P/api/presence/topology" >"$WORK/topo-trust1"
check "an unsigned presence of a known node: 400" refused 400 "$P" /api/presence/mixnodes \
	"{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":1}"
check "a descriptor changed after signing: 400" refused 400 "$P" /api/presence/mixnodes "$ATT_TAMPER"
check "moving a known mixnode, signed by another identity: 403" refused 403 "$P" /api/presence/mixnodes "$ATT_MOVE"
check "emptying a provider's clients, signed by another identity: 403" refused 403 "$P" /api/presence/mixproviders "$ATT_EMPTY"
check "a second node under an identity already in use: 403" refused 403 "$P" /api/presence/mixnodes "$ATT_SYBIL"
check "an old descriptor of the node, replayed: 400" refused 400 "$P" /api/presence/mixnodes "$ATT_OLD"
check "keys for an epoch far from now: 400" refused 400 "$P" /api/presence/mixnodes "$ATT_EPOCH"
curl -s "http://127.0.0.1:$P/api/presence/topology" >"$WORK/topo-trust2"
check "the honest topology is unchanged after the attempts" cmp -s "$WORK/topo-trust1" "$WORK/topo-trust2"
nodes_of "$WORK/topo-trust2" >"$WORK/nodes-trust"
check "every node is as its own identity signed it" sh -c \
	"[ \$(wc -l <'$WORK/nodes-trust') = 4 ] && ! grep -q '127.0.0.9' '$WORK/nodes-trust' && grep -qF -e '$C2' '$WORK/nodes-trust'"
check "the node itself can still renew (201)" post "$P" /api/presence/mixnodes "$(mix 1 "$M1" m1)"
check "still alive after the bad input" kill -0 "$D"

# --- metrics ----------------------------------------------------------------
check "a mixnode posts its metrics (201)" post "$P" /api/metrics/mixes \
	"{\"pubKey\":\"$M1\",\"received\":12,\"sent\":{\"$M2\":5,\"$PR\":7}}"
curl -s "http://127.0.0.1:$P/api/metrics/mixes" >"$WORK/metrics"
check "GET /api/metrics/mixes returns the report with a timestamp" python3 - "$WORK/metrics" "$M1" "$M2" "$PR" <<'PY'
import json, sys, time
doc = json.load(open(sys.argv[1]))
m1, m2, pr = sys.argv[2:5]
assert isinstance(doc, list) and len(doc) == 1, doc
e = doc[0]
assert list(e) == ["pubKey", "sent", "received", "timestamp"], list(e)
assert e["pubKey"] == m1 and e["received"] == 12 and e["sent"] == {m2: 5, pr: 7}
assert abs(time.time_ns() - e["timestamp"]) < 60 * 10**9
PY
check "a metric with a negative count: 400 with a JSON error" sh -c \
	"printf '%s' '{\"pubKey\":\"$M1\",\"received\":-1,\"sent\":{}}' >'$WORK/bad-metric' && [ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @'$WORK/bad-metric' http://127.0.0.1:$P/api/metrics/mixes)\" = 400 ]"

check "SIGTERM stops it within a second, status 0" stop_within "$D" TERM

# --- staleness ----------------------------------------------------------------
S=$(free_port)
check "starts with --stale-seconds 1" start_directory "$S" --stale-seconds 1
D=$DIR_PID
# Signed before the clock starts: signing takes a python start-up.
B1=$(mix 1 "$M1" m1)
B2=$(mix 2 "$M2" m2)
post "$S" /api/presence/mixnodes "$B1"
post "$S" /api/presence/mixnodes "$B2"
post "$S" /api/metrics/mixes "{\"pubKey\":\"$M1\",\"received\":1,\"sent\":{}}"
check "both nodes are listed at first" sh -c \
	"curl -s http://127.0.0.1:$S/api/presence/topology | grep -qF -e '$M1' && curl -s http://127.0.0.1:$S/api/presence/topology | grep -qF -e '$M2'"
# M2 renews every 0.2 s for 1.6 s; M1 does not.
i=0
while [ $i -lt 8 ]; do
	sleep 0.2
	post "$S" /api/presence/mixnodes "$B2"
	i=$((i + 1))
done
curl -s "http://127.0.0.1:$S/api/presence/topology" >"$WORK/topo3"
check "the node that renewed stays, the one that did not drops out" sh -c \
	"grep -qF -e '$M2' '$WORK/topo3' && ! grep -qF -e '$M1' '$WORK/topo3'"
check "its metrics expire too" sh -c "curl -s http://127.0.0.1:$S/api/metrics/mixes | grep -qx '\[\]'"
check "the log says the node went stale" wait_for 3 grep -qF -e "mixnode $M1 went stale" "$WORK/dir-$S.log"
check "SIGINT stops it within a second, status 0" stop_within "$D" INT

# --- a closed network: --allow ------------------------------------------------
A=$(free_port)
{ echo "# the identities this network admits"; python3 "$DESC" --identity m1; } >"$WORK/allow"
check "starts with --allow" start_directory "$A" --allow "$WORK/allow"
D=$DIR_PID
check "a listed identity is admitted (201)" post "$A" /api/presence/mixnodes "$(mix 1 "$M1" m1)"
check "an identity not on the list is refused (403)" refused 403 "$A" /api/presence/mixnodes \
	"$(mix 2 "$M2" sybil-2)"
check "the topology lists only the admitted node" sh -c \
	"curl -s http://127.0.0.1:$A/api/presence/topology | grep -qF -e '$M1' && ! curl -s http://127.0.0.1:$A/api/presence/topology | grep -qF -e '$M2'"
stop_within "$D" TERM >/dev/null
printf 'not a key\n' >"$WORK/allow-bad"
"$DIRECTORY" --listen 127.0.0.1:0 --allow "$WORK/allow-bad" >"$WORK/allow-bad.out" 2>&1
check "an allow-list with a bad line: it does not start, naming the line" sh -c \
	"[ $? -ne 0 ] && grep -q 'allow-bad, line 1' '$WORK/allow-bad.out'"

finish
