#!/bin/sh
# nym-directory: healthcheck; three mixnodes and a provider with two
# clients read back in exactly the seed's topology shape; each kind of bad
# input gets 400 with a JSON error and leaves the topology as it was;
# presences that are not renewed drop out; metrics round trip; SIGTERM
# stops it within a second with status 0.
. "$(dirname "$0")/lib.sh"
plan 37

DIRECTORY="$top_builddir/src/nym-directory"

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
check "starts and answers the healthcheck" start_directory "$P"
D=$DIR_PID
check "GET /api/healthcheck is 200 {\"ok\":true} as JSON" sh -c \
	"[ \"\$(curl -s -o '$WORK/hc' -w '%{http_code} %{content_type}' http://127.0.0.1:$P/api/healthcheck)\" = '200 application/json; charset=utf-8' ] && grep -qx '{\"ok\":true}' '$WORK/hc'"
check "an empty directory serves empty lists" sh -c \
	"curl -s http://127.0.0.1:$P/api/presence/topology | grep -qx '{\"MixNodes\":\[\],\"MixProviderNodes\":\[\]}'"

M1=$(key m1); M2=$(key m2); M3=$(key m3); PR=$(key provider); C1=$(key c1); C2=$(key c2)
ok_all=1
for l in 1 2 3; do
	eval "k=\$M$l"
	post "$P" /api/presence/mixnodes "{\"host\":\"127.0.0.1:910$l\",\"pubKey\":\"$k\",\"layer\":$l}" || ok_all=0
done
check "three mixnodes post their presence (201)" test "$ok_all" = 1
check "a provider with two clients posts its presence (201)" post "$P" /api/presence/mixproviders \
	"{\"host\":\"127.0.0.1:9200\",\"pubKey\":\"$PR\",\"registeredClients\":[{\"pubKey\":\"$C1\"},{\"pubKey\":\"$C2\"}]}"

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
assert list(doc) == ["MixNodes", "MixProviderNodes"], list(doc)
assert len(doc["MixNodes"]) == 3
for i, n in enumerate(doc["MixNodes"]):
    assert list(n) == ["host", "pubKey", "layer", "lastSeen"], list(n)
    assert n["host"] == "127.0.0.1:910%d" % (i + 1)
    assert n["pubKey"] == m[i] and key_ok(n["pubKey"])
    assert type(n["layer"]) is int and n["layer"] == i + 1
    assert seen_ok(n["lastSeen"])
assert len(doc["MixProviderNodes"]) == 1
p = doc["MixProviderNodes"][0]
assert list(p) == ["host", "pubKey", "registeredClients", "lastSeen"], list(p)
assert p["host"] == "127.0.0.1:9200" and p["pubKey"] == pr and key_ok(pr)
assert p["registeredClients"] == [{"pubKey": c} for c in clients]
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
python3 -c "import sys; sys.stdout.write('{\"host\":\"' + 'a' * 100000 + '\"}')" >"$WORK/bad-big"

check "invalid JSON: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-json"
check "a wrong type (layer as a string): 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-type"
check "a key that is not base64: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-base64"
check "a key that is not 32 bytes: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-shortkey"
check "an unknown layer, for a known node: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-layer"
check "a host without a port: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-host"
check "a bad client key, for a known provider: 400 with a JSON error" bad "$P" /api/presence/mixproviders "$WORK/bad-clients"
check "registeredClients not a list: 400 with a JSON error" bad "$P" /api/presence/mixproviders "$WORK/bad-clienttype"
check "a body that is not an object: 400 with a JSON error" bad "$P" /api/metrics/mixes "$WORK/bad-notobject"
check "a body over 64 KiB: 400 with a JSON error" bad "$P" /api/presence/mixnodes "$WORK/bad-big"
check "a form post (not application/json): 415 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' -d '{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":2}' http://127.0.0.1:$P/api/presence/mixnodes)\" = 415 ] && grep -q '\"error\"' '$WORK/resp'"
check "a wrong method: 405 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' -X DELETE http://127.0.0.1:$P/api/presence/topology)\" = 405 ] && grep -q '\"error\"' '$WORK/resp'"
check "an unknown path: 404 with a JSON error" sh -c \
	"[ \"\$(curl -s -o '$WORK/resp' -w '%{http_code}' http://127.0.0.1:$P/api/presence/nothing)\" = 404 ] && grep -q '\"error\"' '$WORK/resp'"
curl -s "http://127.0.0.1:$P/api/presence/topology" >"$WORK/topo2"
check "the topology is unchanged after the bad input" cmp -s "$WORK/topo1" "$WORK/topo2"
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
post "$S" /api/presence/mixnodes "{\"host\":\"127.0.0.1:9101\",\"pubKey\":\"$M1\",\"layer\":1}"
post "$S" /api/presence/mixnodes "{\"host\":\"127.0.0.1:9102\",\"pubKey\":\"$M2\",\"layer\":2}"
post "$S" /api/metrics/mixes "{\"pubKey\":\"$M1\",\"received\":1,\"sent\":{}}"
check "both nodes are listed at first" sh -c \
	"curl -s http://127.0.0.1:$S/api/presence/topology | grep -qF -e '$M1' && curl -s http://127.0.0.1:$S/api/presence/topology | grep -qF -e '$M2'"
# M2 renews every 0.2 s for 1.6 s; M1 does not.
i=0
while [ $i -lt 8 ]; do
	sleep 0.2
	post "$S" /api/presence/mixnodes "{\"host\":\"127.0.0.1:9102\",\"pubKey\":\"$M2\",\"layer\":2}"
	i=$((i + 1))
done
curl -s "http://127.0.0.1:$S/api/presence/topology" >"$WORK/topo3"
check "the node that renewed stays, the one that did not drops out" sh -c \
	"grep -qF -e '$M2' '$WORK/topo3' && ! grep -qF -e '$M1' '$WORK/topo3'"
check "its metrics expire too" sh -c "curl -s http://127.0.0.1:$S/api/metrics/mixes | grep -qx '\[\]'"
check "the log says the node went stale" wait_for 3 grep -qF -e "mixnode $M1 went stale" "$WORK/dir-$S.log"
check "SIGINT stops it within a second, status 0" stop_within "$D" INT

finish
