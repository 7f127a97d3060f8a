#!/bin/sh
# A disk that fails with EIO (issue 20): the data directories are on
# faultfs (tests/tools/faultfs.c), a FUSE pass-through that fails chosen
# operations on command. At the sender, alice: a send while writes fail,
# and one while only fsync fails, is refused with the cause named; rpcd
# says so once, not per message, and is not restarted for it; rpcd killed
# while fsync fails comes back and sends nothing it refused; with the
# faults gone sends work again without a restart; rpcd killed while its
# store cannot even be opened is not restarted into it: nymd stops, in one
# line. Every accepted message reaches bob exactly once, nothing refused
# does. At the recipient, bob: a fetch while fsync fails is an error and
# the messages stay; messages pulled meanwhile are not acknowledged to the
# provider; rpcd killed meanwhile; once the faults are gone every message
# reaches bob exactly once. Needs root (FUSE mounts used by nymd's user).
# Without the cut after a failed commit (queue_cut_failed_commit()), the
# WAL recovery after the kill takes the commit whose fsync failed: a
# refused message is delivered all the same ("nothing of the refused
# ones"), and fetched messages are marked although the fetch failed
# ("every message reaches bob": the first five are lost).
. "$(dirname "$0")/lib.sh"

FAULTFS="$top_builddir/tests/tools/faultfs"
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root to mount faultfs for nymd's user"
	exit 0
fi
if [ ! -x "$FAULTFS" ]; then
	echo "1..0 # SKIP tests/tools/faultfs is not built (no libfuse3-dev)"
	exit 0
fi
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "1..0 # SKIP no /dev/fuse or no fusermount3 (Debian package fuse3)"
	exit 0
fi
# faultfs_mount NAME DIR: DIR's files moved to $WORK/NAME.backing, and
# faultfs mounted over DIR, its rules in $WORK/NAME.rules
MOUNTS=""
faultfs_mount() {
	mkdir "$WORK/$1.backing" && chown --reference="$2" "$WORK/$1.backing" &&
		chmod --reference="$2" "$WORK/$1.backing" &&
		cp -a "$2/." "$WORK/$1.backing/" || return 1
	: >"$WORK/$1.rules"
	"$FAULTFS" "$WORK/$1.rules" "$WORK/$1.backing" "$2" -f \
		-o allow_other,default_permissions,fsname=faultfs 2>>"$WORK/$1-faultfs.log" &
	track $!
	MOUNTS="$2 $MOUNTS"
	wait_for 10 sh -c "findmnt -no FSTYPE '$2' | grep -q '^fuse.faultfs'"
}
# faults NAME RULE...: the rules in force from now on (faultfs reads them
# before each operation); none: no fault
faults() {
	n=$1; shift
	: >"$WORK/$n.rules.new"
	for r in "$@"; do echo "$r" >>"$WORK/$n.rules.new"; done
	mv "$WORK/$n.rules.new" "$WORK/$n.rules"
}
# The store, its WAL, reserve and record; not the -shm index, which SQLite
# writes through mmap (a failed write-back is not reported to it) and
# rebuilds at every open.
WRITES_FAIL="write,fsync EIO nymd.db
write,fsync EIO nymd.db-[!s]*"
FSYNC_FAILS="fsync EIO nymd.db
fsync EIO nymd.db-[!s]*"
OPEN_FAILS="open,write,fsync EIO nymd.db
open,write,fsync EIO nymd.db-[!s]*"

mkdir "$WORK/probe"
: >"$WORK/probe.rules"
"$FAULTFS" "$WORK/probe.rules" "$WORK" "$WORK/probe" -f 2>/dev/null &
PROBE=$!
track "$PROBE"
if ! wait_for 5 sh -c "findmnt -no FSTYPE '$WORK/probe' | grep -q '^fuse.faultfs'"; then
	echo "1..0 # SKIP cannot mount a FUSE file system here"
	exit 0
fi
fusermount3 -u "$WORK/probe"
wait "$PROBE"

plan 31

B="$top_builddir/src"
NYMCTL="$B/nymctl/nymctl"
D="$WORK/tn"
ADATA="$D/clients-home/clients/alice/data"
BDATA="$D/clients-home/clients/bob/data"
PDB="$D/nodes/providers/provider1/data/provider.db"
ALICE2=""
BOB2=""
down() {
	for p in $ALICE2 $BOB2; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1
	for m in $MOUNTS; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; done
}
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 --send-rate 100 \
	--fetch-rate 50 --loop-rate 5
A="unix:$CLIENT_alice_SOCKET"
BOBS="unix:$CLIENT_bob_SOCKET"
ALOG="$WORK/alice.log"
BLOG="$WORK/bob.log"

start_alice() {
	"$B/nymd" run --id alice --home "$D/clients-home" >>"$ALOG" 2>&1 &
	ALICE2=$!
	track "$ALICE2"
}
start_bob() {
	"$B/nymd" run --id bob --home "$D/clients-home" >>"$BLOG" 2>&1 &
	BOB2=$!
	track "$BOB2"
}
up() { "$SOCKREQ" "unix:$1" details 2>/dev/null | grep -q '^details:'; }
stop() {
	kill -TERM "$2"
	wait_for 10 sh -c "! kill -0 $2 2>/dev/null"
}
# send FILE WORD...: a send per word (alice to bob); the accepted words
# are appended to $WORK/accepted, the refused ones to $WORK/refused, the
# answers to FILE
send() {
	f=$1; shift
	args=""
	for w in "$@"; do args="$args send:$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER:$w"; done
	# shellcheck disable=SC2086
	"$SOCKREQ" "$A" $args >"$f" 2>&1
	for w in "$@"; do
		read -r line || line=""
		if [ "$line" = "send: ok" ]; then echo "$w" >>"$WORK/accepted"; else echo "$w" >>"$WORK/refused"; fi
	done <"$f"
}
# bob's fetched messages, appended to FILE as their words
fetch_bob() {
	"$SOCKREQ" "$BOBS" fetch 2>/dev/null | sed -n 's/^message: [0-9]* //p' |
		python3 -c 'import sys
for l in sys.stdin:
    print(bytes.fromhex(l.strip()).decode())' >>"$1"
}
# fetch_until FILE N: fetches until FILE holds N distinct words (or 60 s)
fetch_until() {
	i=0
	while [ "$i" -lt 120 ]; do
		fetch_bob "$1"
		[ "$(sort -u "$1" | grep -c .)" -ge "$2" ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}
# packets waiting in bob's mailbox at the provider
mailbox() {
	python3 -c 'import base64, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
k = base64.urlsafe_b64decode(sys.argv[2])
print(c.execute("SELECT count(*) FROM packets WHERE client = ?", (k,)).fetchone()[0])
c.close()' "$PDB" "$CLIENT_bob_PUBKEY"
}
# count DB SQL: a count in a store, read through its mount
count() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute(sys.argv[2]).fetchone()[0])
c.close()' "$1" "$2"
}
drained() { [ "$(count "$ADATA/nymd.db" "SELECT count(*) FROM outgoing")" = 0 ]; }
five_stored() {
	[ "$(count "$BDATA/nymd.db" "SELECT count(*) FROM received WHERE fetched = 0")" -ge 5 ]
}
# within SECONDS command...: wait_for by the clock, for commands that run
# python3 (which may take a second to start: wait_for counts its polls)
within() {
	limit=$1; shift
	[ -n "${NYMD_SANITIZER_BUILD:-}" ] && limit=$((limit * 3))
	end=$(($(date +%s) + limit))
	until "$@" 2>/dev/null; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}
: >"$WORK/accepted"
: >"$WORK/refused"
: >"$WORK/got"

# ---- the sender
stop alice "$CLIENT_alice_PID"
faultfs_mount alice "$ADATA"
start_alice
check "alice runs again with her data on faultfs" wait_for 15 up "$CLIENT_alice_SOCKET"
send "$WORK/a1" e-1 e-2 e-3 e-4 e-5
check "without faults, alice's sends are accepted" [ "$(grep -c . "$WORK/accepted")" = 5 ]
check "and leave her queue" within 60 drained

faults alice "$WRITES_FAIL"
"$NYMCTL" --socket "$CLIENT_alice_SOCKET" send --to "$CLIENT_bob_PUBKEY" e-ctl \
	>"$WORK/ctl.out" 2>"$WORK/ctl.err"
RC=$?
sed 's/^/# nymctl: /' "$WORK/ctl.err"
check "while writes fail with EIO, nymctl send fails" test "$RC" != 0
check "and names the cause and the store" \
	grep -q "input/output error ($ADATA/nymd.db" "$WORK/ctl.err"
send "$WORK/a2" e-r1 e-r2 e-r3 e-r4 e-r5
check "every send is refused, with the same cause" sh -c \
	"[ \$(grep -c '^exception: send: the message could not be stored: input/output error ($ADATA/nymd.db' '$WORK/a2') = 5 ]"
check "rpcd says it once, not once per refused send" sh -c \
	"[ \$(grep -c 'message store: cannot write: input/output error' '$ALOG') = 1 ]"
faults alice
send "$WORK/a3" e-6
check "with the faults gone, a send is accepted again, without a restart" \
	grep -q '^send: ok' "$WORK/a3"
check "and rpcd says the store is writable again" \
	grep -q "message store $ADATA/nymd.db: writable again" "$ALOG"

# netd stopped: a message stays queued, so that the WAL is not cut back
# to nothing when the queue drains; the next commits are appended to it
NETD=$(role_pid "$ALICE2" netd)
kill -STOP "$NETD"
send "$WORK/a4" e-7
faults alice "$FSYNC_FAILS"
send "$WORK/a5" e-r6 e-r7 e-r8
check "while fsync fails, every send is refused, with the same cause" sh -c \
	"[ \$(grep -c '^exception: send: the message could not be stored: input/output error ($ADATA/nymd.db' '$WORK/a5') = 3 ]"
check "faultfs did fail writes and fsyncs" sh -c \
	"grep -q 'write nymd.db-wal: Input/output error' '$WORK/alice-faultfs.log' &&
	 grep -q 'fdatasync nymd.db-wal: Input/output error' '$WORK/alice-faultfs.log'"
check "rpcd says so once more, for this second episode" sh -c \
	"[ \$(grep -c 'message store: cannot write: input/output error' '$ALOG') = 2 ]"
check "and is not restarted for it" lacks 'restarting it in' "$ALOG"

# rpcd killed while fsync fails: the WAL holds the last refused send's
# commit, whole but never synced
RPCD=$(role_pid "$ALICE2" rpcd)
kill -KILL "$RPCD"
check "rpcd killed while fsync fails is restarted and serves" wait_for 15 sh -c \
	"[ \$(grep -c 'restarting it in' '$ALOG') = 1 ] && '$SOCKREQ' '$A' details 2>/dev/null | grep -q '^details:'"
faults alice
kill -CONT "$NETD"
send "$WORK/a6" e-8 e-9 e-10
check "with the faults gone, alice's sends are accepted" \
	[ "$(grep -c . "$WORK/accepted")" = 10 ]

check "every accepted message reaches bob" fetch_until "$WORK/got" 10
sleep 3
fetch_bob "$WORK/got"
diag "bob got: $(sort "$WORK/got" | tr '\n' ' ')"
check "nothing of the refused ones" sh -c "! grep -q 'e-r\|e-ctl' '$WORK/got'"
check "each exactly once" sh -c "[ \$(sort '$WORK/got' | uniq -d | grep -c .) = 0 ]"

# rpcd killed while its store cannot even be opened: not restarted into it
faults alice "$OPEN_FAILS"
RPCD=$(role_pid "$ALICE2" rpcd)
kill -KILL "$RPCD"
check "nymd stops, saying that rpcd's storage failed" wait_for 15 sh -c \
	"! kill -0 $ALICE2 2>/dev/null && grep -q 'rpcd stopped because its storage failed' '$ALOG'"
grep 'rpcd stopped because' "$ALOG" | sed 's/^/# /'
check "no crash loop: rpcd was restarted once for this kill, not again" \
	sh -c "[ \$(grep -c 'restarting it in' '$ALOG') = 2 ]"
wait "$ALICE2" 2>/dev/null
ALICE2=""
faults alice
start_alice
check "with the faults gone, alice starts again and a send is accepted" wait_for 15 sh -c \
	"'$SOCKREQ' '$A' send:$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER:e-11 | grep -q '^send: ok'"
echo e-11 >>"$WORK/accepted"
check "and delivered" fetch_until "$WORK/got" 11

# ---- the recipient
: >"$WORK/got"
stop bob "$CLIENT_bob_PID"
faultfs_mount bob "$BDATA"
start_bob
check "bob runs again with his data on faultfs" wait_for 15 up "$CLIENT_bob_SOCKET"
send "$WORK/b1" s-1 s-2 s-3 s-4 s-5
check "five messages for bob are stored, not fetched yet" within 60 five_stored

faults bob "$FSYNC_FAILS"
"$SOCKREQ" "$BOBS" fetch >"$WORK/b2" 2>&1
sed 's/^/# fetch: /' "$WORK/b2"
check "while fsync fails, a fetch is an error, and the messages stay" \
	grep -q '^exception: fetch: the messages could not be read; they stay stored' "$WORK/b2"
# rpcd killed at once: the WAL holds the failed fetch's commit
RPCD=$(role_pid "$BOB2" rpcd)
kill -KILL "$RPCD"
check "bob's rpcd killed while fsync fails is restarted and serves" wait_for 15 sh -c \
	"[ \$(grep -c 'restarting it in' '$BLOG') = 1 ] && '$SOCKREQ' '$BOBS' details 2>/dev/null | grep -q '^details:'"
send "$WORK/b3" s-6 s-7 s-8 s-9 s-10 s-11 s-12 s-13 s-14 s-15
check "messages pulled meanwhile cannot be stored, and bob says so" wait_for 30 \
	grep -q 'message store: cannot write: input/output error' "$BLOG"
sleep 3
diag "bob's mailbox at the provider: $(mailbox) packets"
check "they are not acknowledged: they wait at the provider" [ "$(mailbox)" -ge 10 ]
faults bob
fetch_until "$WORK/got" 15
diag "bob got: $(sort "$WORK/got" | tr '\n' ' ')"
check "with the faults gone, all 15 reach bob (rpcd was killed meanwhile)" \
	sh -c "sort -u '$WORK/got' | grep -c . | grep -qx 15"
check "each exactly once" sh -c "[ \$(sort '$WORK/got' | uniq -d | grep -c .) = 0 ]"
finish
