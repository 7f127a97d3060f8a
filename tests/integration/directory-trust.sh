#!/bin/sh
# nym-directory against a rogue provider and a flood (docs/directory.md,
# "Registration statements" and "Limits"), with real processes:
#  - re-homing: a provider (its own valid descriptor) that lists a victim
#    client without a statement, with the statement the victim gave its
#    real provider, or with a forged one, is refused (4xx), and the honest
#    topology is unchanged; its own registered client is accepted;
#  - bloat: a provider over the client cap is refused (400), a provider
#    past the node cap gets 503, and the topology stays within 4 MiB;
#  - rate limit: a burst of writes from one address gets 429 past its
#    limit, with one log line, and a write after a pause gets through.
. "$(dirname "$0")/lib.sh"
plan 13

DIRECTORY="$top_builddir/src/nym-directory"
TOOLS="$top_srcdir/tests/tools"

start_directory() {
	port=$1; shift
	"$DIRECTORY" --listen "127.0.0.1:$port" "$@" >>"$WORK/dir-$port.log" 2>&1 &
	track $!
	wait_for 5 sh -c "curl -s -m 1 http://127.0.0.1:$port/api/healthcheck | grep -q ok"
}

# One python process makes every body (a python start-up is slow here):
# bodies/NAME.json, posted later with post.
mkdir -p "$WORK/bodies"
python3 - "$TOOLS" "$WORK/bodies" <<'PY'
import base64, copy, hashlib, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import descriptor, regstmt
out = sys.argv[2]
now = int(time.time() * 1000)

def key(name):
    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode()

def provider(pub, seed, clients, port=9200):
    ident_sk, ident = descriptor.identity(seed)
    host = "127.0.0.1:%d" % port
    text = json.dumps({"version": 1, "role": "provider", "host": host, "pubKey": pub,
                       "identityKey": ident, "layer": 0, "published": now,
                       "sphinxKeys": []}, separators=(",", ":"))
    sig = descriptor.b64(ident_sk.sign(descriptor.CONTEXT + text.encode()))
    return {"host": host, "pubKey": pub, "registeredClients": clients,
            "descriptor": text, "signature": sig}

def entry(name, prov):
    return regstmt.entry(regstmt.secret_of(name), base64.urlsafe_b64decode(prov), now)

def write(name, body):
    json.dump(body, open(os.path.join(out, name + ".json"), "w"))

honest, rogue = key("honest"), key("rogue")
alice, bob, eve = entry("alice", honest), entry("bob", honest), entry("eve", rogue)
open(os.path.join(out, "ids"), "w").write("%s %s %s\n" % (honest, alice["pubKey"], bob["pubKey"]))
write("honest", provider(honest, "honest", [alice, bob]))
write("nostatement", provider(rogue, "rogue", [{"pubKey": alice["pubKey"]}, eve], 9201))
write("copied", provider(rogue, "rogue", [alice, eve], 9201))
forged = dict(alice)
s = bytearray(base64.urlsafe_b64decode(forged["signature"])); s[5] ^= 1
forged["signature"] = base64.urlsafe_b64encode(bytes(s)).decode()
write("forged", provider(rogue, "rogue", [forged, eve], 9201))
write("rogue-own", provider(rogue, "rogue", [eve], 9201))
# Over the cap, which is checked before any statement.
many = [dict(eve, pubKey=key("c%d" % i)) for i in range(1025)]
write("toomany", provider(key("fat"), "fat", many, 9202))
for i in range(16):
    write("filler%d" % i, provider(key("filler%d" % i), "filler%d" % i, [], 9300 + i))
PY
read -r HONEST ALICE BOB <"$WORK/bodies/ids"

# post PORT NAME: prints the status of POSTing bodies/NAME.json
post() {
	curl -s -m 20 -o "$WORK/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$WORK/bodies/$2.json" "http://127.0.0.1:$1/api/presence/mixproviders"
}
topology() { curl -s -m 10 "http://127.0.0.1:$1/api/presence/topology"; }
# honest_intact PORT: the honest provider lists alice and bob, nobody
# else lists them
honest_intact() {
	topology "$1" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
honest, alice, bob = sys.argv[1:4]
where = {}
for p in doc["MixProviderNodes"]:
    for c in p["registeredClients"]:
        where.setdefault(c["pubKey"], []).append(p["pubKey"])
assert where.get(alice) == [honest] and where.get(bob) == [honest], where' "$HONEST" "$ALICE" "$BOB"
}

# --- re-homing ---------------------------------------------------------------
P=$(free_port)
check "the directory starts (no rate limit, for the bulk posts)" start_directory "$P" \
	--stale-seconds 3600 --post-rate 0
check "the honest provider lists alice and bob with their statements (201)" \
	test "$(post "$P" honest)" = 201
check "a rogue provider listing alice without a statement: 400" \
	test "$(post "$P" nostatement)" = 400
check "... with alice's statement for her real provider: 400" \
	test "$(post "$P" copied)" = 400
check "... with a forged statement: 400" test "$(post "$P" forged)" = 400
check "the honest topology is unchanged, alice and bob only at their provider" honest_intact "$P"
check "the rogue provider with its own registered client is accepted (201)" \
	test "$(post "$P" rogue-own)" = 201
check "and alice and bob are still only at their provider" honest_intact "$P"

# --- bloat -------------------------------------------------------------------
check "a provider with more than 1024 clients: 400" test "$(post "$P" toomany)" = 400
codes=""
for i in $(seq 0 15); do codes="$codes $(post "$P" "filler$i")"; done
# 2 providers are in: 14 more fit, the 15th and 16th find it full.
check "providers past the cap of 16 get 503 (got:$codes)" \
	test "$(echo $codes | tr ' ' '\n' | grep -c 503)" = 2
small_and_intact() { honest_intact "$1" && test "$(topology "$1" | wc -c)" -le 4194304; }
check "the honest topology is unchanged, and under 4 MiB" small_and_intact "$P"

# --- rate limit ----------------------------------------------------------------
R=$(free_port)
start_directory "$R" --stale-seconds 3600 --post-rate 1 || diag "no second directory"
# 20 at once (curl's start-up is slow here: one after another would not
# outrun even 1 per second).
pids=""
for i in $(seq 1 20); do { post "$R" honest; echo; } >"$WORK/rate-$i" & pids="$pids $!"; done
for p in $pids; do wait "$p"; done
codes=$(cat "$WORK"/rate-* | sort | uniq -c | tr '\n' ' ')
check "20 writes at once at --post-rate 1 (burst 3): some get 429 ($codes)" sh -c \
	"echo '$codes' | grep -q ' 429' && echo '$codes' | grep -q ' 201'"
sleep 4
check "one log line says so, and a write after a pause gets through" sh -c \
	"[ \"\$(grep -c 'more than 1 writes per second' '$WORK/dir-$R.log')\" = 1 ] && \
	 [ \"\$(curl -s -m 20 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	   --data-binary @'$WORK/bodies/honest.json' http://127.0.0.1:$R/api/presence/mixproviders)\" = 201 ]"
finish
