#!/bin/sh
# Anonymous replies (docs/replies.md) on a real local mixnet: alice sends
# bob a message with 5 single-use reply blocks; both daemons are killed
# with SIGKILL and started again; bob answers 7 times with nymctl reply
# (his stock running low, he asks alice's nymd for more, which sends them
# on its own) and alice gets each reply exactly once; with one block, a
# second reply is refused (no block is used twice); nothing bob's nymd
# stores or shows holds alice's key or her provider's. Bad input gets a
# clear exception and stores nothing.
. "$(dirname "$0")/lib.sh"
plan 30

B="$top_builddir/src"
D="$WORK/tn"
NYMCTL="$top_builddir/src/nymctl/nymctl"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT
# two providers: alice's and bob's differ, so "her provider's key" is
# not bob's own
testnet_up "nym-testnet up with alice and bob on two providers" --clients alice,bob \
	--providers 2 --delay-ms 2 --send-rate 50 --fetch-rate 20 --loop-rate 5
AS="$CLIENT_alice_SOCKET"
BS="$CLIENT_bob_SOCKET"
BOB="$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER"
ADB="$D/clients-home/clients/alice/data/nymd.db"
BDB="$D/clients-home/clients/bob/data/nymd.db"
check "alice and bob have different providers" test "$CLIENT_alice_PROVIDER" != "$CLIENT_bob_PROVIDER"

# rows TABLE DB: the rows of a table of a store nymd has open (WAL: read
# with the WAL, never written)
rows() {
	python3 - "$2" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT COUNT(*) FROM " + sys.argv[2]).fetchone()[0])
PY
}
# req SOCKET REQUEST: sockreq's answer
req() { "$SOCKREQ" "unix:$1" "$2" 2>&1; }

# --- bad input: each a clear exception, nothing stored
out=$(req "$AS" "sendsurbs:$BOB:17:hello")
check "reply_surbs 17: refused, naming the maximum ($out)" \
	sh -c "echo '$out' | grep -qx 'exception: send: too many reply blocks: 17, the maximum is 16'"
LONG=$(python3 -c 'print("x" * 1599)')
out=$(req "$AS" "sendsurbs:$BOB:1:$LONG")
check "1599 bytes with reply blocks: refused, naming the maximum with blocks" \
	sh -c "echo '$out' | grep -qx 'exception: send: message too large to go with reply blocks: 1599 bytes, the maximum with reply_surbs is 1598 (a message in fragments cannot carry reply blocks yet)'"
check "nothing of either is stored at alice" test "$(rows outgoing "$ADB")" = 0
UNKNOWN=$(python3 -c 'import os; print(os.urandom(16).hex())')
out=$(req "$BS" "reply:$UNKNOWN:hello")
check "reply with an unknown tag: refused" \
	sh -c "echo '$out' | grep -q '^exception: reply: no reply block left for this sender tag'"
out=$(req "$BS" "reply:00112233445566778899aabbccddee:hello")
check "reply with a 15-byte tag: refused, naming the length" \
	sh -c "echo '$out' | grep -qx 'exception: reply: bad sender tag length: 15 bytes, expected 16'"
out=$(req "$BS" "reply:$UNKNOWN:")
check "reply with an empty message: refused" sh -c "echo '$out' | grep -qx 'exception: reply: empty message'"
check "nothing of those is stored at bob" test "$(rows outgoing "$BDB")" = 0
"$NYMCTL" --socket "$BS" reply --tag nothex hello >/dev/null 2>"$WORK/err"
check "nymctl reply --tag that is not 32 hex digits: usage error (exit 2)" test $? = 2
"$NYMCTL" --socket "$AS" send --reply-surbs 17 --to "$CLIENT_bob_PUBKEY" hello >/dev/null 2>"$WORK/err"
check "nymctl send --reply-surbs 17: usage error (exit 2)" test $? = 2

# --- alice sends with 5 reply blocks (4 beside the message, 1 in a packet of blocks)
"$NYMCTL" --socket "$AS" send --reply-surbs 5 --to "$CLIENT_bob_PUBKEY" "hello bob, reply please" \
	>"$WORK/out" 2>"$WORK/err"
check "nymctl send --reply-surbs 5: queued (exit 0)" test $? = 0
check "bob has received 5 reply blocks" wait_for 30 sh -c "test \"\$(python3 -c \"
import sqlite3; print(sqlite3.connect('file:$BDB?mode=ro', uri=True).execute('SELECT COUNT(*) FROM reply_blocks').fetchone()[0])\")\" = 5"
check "alice keeps the sealed keys of 5 blocks" test "$(rows surb_keys "$ADB")" = 5
: >"$WORK/bob-tags"
wait_for 20 sh -c "'$NYMCTL' --socket '$BS' fetch --tags >>'$WORK/bob-tags' 2>/dev/null; grep -q 'hello bob' '$WORK/bob-tags'"
TAG=$(sed -n 's/^\([0-9a-f]\{32\}\)\thello bob, reply please$/\1/p' "$WORK/bob-tags")
check "bob's fetch --tags shows TAG<TAB>MESSAGE, once" \
	sh -c "test -n '$TAG' && test \$(wc -l <'$WORK/bob-tags') = 1"

# --- nothing bob stores or shows holds alice's key or her provider's,
# while he holds her blocks (the topology, which lists every registered
# client, is public: not checked in bob's log)
check "bob's store and outputs hold neither alice's key nor her provider's, in any encoding" \
	python3 - "$CLIENT_alice_PUBKEY" "$CLIENT_alice_PROVIDER" "$CLIENT_bob_PROVIDER" \
	"$BDB" "$BDB-wal" "$WORK/bob-tags" <<'PY'
import base64, os, sys
keys = [base64.urlsafe_b64decode(k) for k in sys.argv[1:3]]
bobs = base64.urlsafe_b64decode(sys.argv[3])
forms = []
for k in keys:
    forms += [k, base64.urlsafe_b64encode(k), base64.b64encode(k), k.hex().encode()]
found = 0
for path in sys.argv[4:]:
    if not os.path.exists(path):
        continue
    data = open(path, "rb").read()
    for f in forms:
        if f in data:
            print("# found in", path, f[:12])
            found = 1
# the check can fail: bob's own provider is in his store (his blocks' first hop)
assert bobs in open(sys.argv[4], "rb").read() + (open(sys.argv[5], "rb").read() if os.path.exists(sys.argv[5]) else b""), "bob's own provider not found: the search is blind"
sys.exit(found)
PY
# --- both daemons killed whole, then started again
kill_whole() {	# kill_whole PID: the daemon and its children, by their ids
	for p in $(cat /proc/"$1"/task/*/children) "$1"; do kill -KILL "$p"; done
}
kill_whole "$CLIENT_alice_PID"
kill_whole "$CLIENT_bob_PID"
sleep 0.3
"$B/nymd" run --id alice --home "$D/clients-home" >>"$WORK/alice2.log" 2>&1 &
CLIENT_alice_PID=$!
track "$CLIENT_alice_PID"
"$B/nymd" run --id bob --home "$D/clients-home" >>"$WORK/bob2.log" 2>&1 &
CLIENT_bob_PID=$!
track "$CLIENT_bob_PID"
check "both restarted after kill -9" wait_for 15 sh -c \
	"'$NYMCTL' --socket '$AS' details >/dev/null 2>&1 && '$NYMCTL' --socket '$BS' details >/dev/null 2>&1"
check "bob still has the 5 blocks, alice their 5 keys" \
	sh -c "test $(rows reply_blocks "$BDB") = 5 && test $(rows surb_keys "$ADB") = 5"

# --- bob replies 4 times: the third leaves him 2 blocks, and one of them
# asks alice's nymd for 4 more, which it sends on its own
n=0
for i in 1 2 3 4; do
	"$NYMCTL" --socket "$BS" reply --tag "$TAG" "reply-$i" >/dev/null 2>>"$WORK/reply-err" && n=$((n + 1))
done
check "4 replies through 4 of the blocks (and a request for more through the 5th): queued" \
	test "$n" = 4
check "alice's nymd answers the request: bob gets 4 more blocks for the tag" \
	wait_for 30 sh -c "test \"\$(python3 -c \"
import sqlite3; print(sqlite3.connect('file:$BDB?mode=ro', uri=True).execute('SELECT COUNT(*) FROM reply_blocks').fetchone()[0])\")\" = 4"
n=0
for i in 5 6 7; do
	"$NYMCTL" --socket "$BS" reply --tag "$TAG" "reply-$i" >/dev/null 2>>"$WORK/reply-err" && n=$((n + 1))
done
check "a 5th, 6th and 7th reply through the new blocks: queued" test "$n" = 3
sed 's/^/# reply: /' "$WORK/reply-err"
: >"$WORK/alice-got"
wait_for 30 sh -c "'$NYMCTL' --socket '$AS' fetch --tags >>'$WORK/alice-got' 2>/dev/null; test \$(grep -c 'reply-' '$WORK/alice-got') -ge 7"
sleep 2
"$NYMCTL" --socket "$AS" fetch --tags >>"$WORK/alice-got" 2>/dev/null
sed 's/^/# alice got: /' "$WORK/alice-got"
check "alice receives the 7 replies, each exactly once, without a sender tag" sh -c \
	"printf -- '-\treply-%s\n' 1 2 3 4 5 6 7 | sort >'$WORK/want' && sort '$WORK/alice-got' | cmp -s - '$WORK/want'"
# the 6th reply asked for 4 more again: every block made is used or held
check "then bob holds 4 unused blocks and alice their 4 keys, no more" wait_for 30 sh -c \
	"test \$(python3 -c \"import sqlite3; print(sqlite3.connect('file:$BDB?mode=ro', uri=True).execute('SELECT COUNT(*) FROM reply_blocks').fetchone()[0])\") = 4 &&
	 test \$(python3 -c \"import sqlite3; print(sqlite3.connect('file:$ADB?mode=ro', uri=True).execute('SELECT COUNT(*) FROM surb_keys').fetchone()[0])\") = 4"

# --- a block is used once: with one block, a second reply is refused
"$NYMCTL" --socket "$AS" send --reply-surbs 1 --to "$CLIENT_bob_PUBKEY" "one block only" >/dev/null 2>&1
: >"$WORK/bob-tags2"
wait_for 20 sh -c "'$NYMCTL' --socket '$BS' fetch --tags >>'$WORK/bob-tags2' 2>/dev/null; grep -q 'one block only' '$WORK/bob-tags2'"
TAG1=$(sed -n 's/^\([0-9a-f]\{32\}\)\tone block only$/\1/p' "$WORK/bob-tags2")
check "a message with 1 block: a new tag" sh -c "test -n '$TAG1' && test '$TAG1' != '$TAG'"
"$NYMCTL" --socket "$BS" reply --tag "$TAG1" "the only reply" >"$WORK/out1" 2>"$WORK/err1"
check "the one reply through it: queued, its message id printed" sh -c \
	"test $? = 0 && grep -qx '[0-9a-f]\{32\}' '$WORK/out1'"
"$NYMCTL" --socket "$BS" reply --tag "$TAG1" "a second reply" >/dev/null 2>"$WORK/err2"
rc2=$?
check "a second reply: exit 1, no block left ($(cat "$WORK/err2"))" \
	sh -c "test $rc2 = 1 && grep -q 'no reply block left for this sender tag' '$WORK/err2'"
: >"$WORK/alice-got2"
wait_for 30 sh -c "'$NYMCTL' --socket '$AS' fetch >>'$WORK/alice-got2' 2>/dev/null; grep -q 'the only reply' '$WORK/alice-got2'"
sleep 2
"$NYMCTL" --socket "$AS" fetch >>"$WORK/alice-got2" 2>/dev/null
check "alice receives the one reply once, and nothing else" \
	sh -c "test \"\$(cat '$WORK/alice-got2')\" = 'the only reply'"

# --- the C example on libnym (examples/c/reply.c): an answering machine
EX="$top_builddir/examples/c/reply"
"$EX" "$AS" send "$CLIENT_bob_PUBKEY" 2 "ring ring" >"$WORK/ex-send" 2>&1
check "examples/c/reply sends with 2 reply blocks" grep -qx "sent with 2 reply blocks" "$WORK/ex-send"
: >"$WORK/ex-answer"
wait_for 20 sh -c "'$EX' '$BS' answer 'machine' >>'$WORK/ex-answer' 2>&1; grep -q '^answered' '$WORK/ex-answer'"
check "examples/c/reply answers it through a block, showing its tag" sh -c \
	"grep -qx 'message: ring ring' '$WORK/ex-answer' && grep -q '^tag:[0-9a-f]\{32\}$' '$WORK/ex-answer'"
: >"$WORK/ex-got"
wait_for 30 sh -c "'$EX' '$AS' answer x >>'$WORK/ex-got' 2>&1; grep -q 'machine: ring ring' '$WORK/ex-got'"
check "the answer reaches alice, without a tag (nothing to answer)" sh -c \
	"grep -qx 'message: machine: ring ring' '$WORK/ex-got' && ! grep -q '^answered' '$WORK/ex-got'"
finish
