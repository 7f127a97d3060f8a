#!/bin/sh
# nymctl (and libnym under it) against a real nymd: details, clients, send,
# fetch and watch over the unix socket, by --socket, --id (with --home and
# NYMD_HOME) and --tcp; --start starts a nymd that is not running; exit
# status 3 when there is no nymd, 2 for usage errors.
. "$(dirname "$0")/lib.sh"
plan 34

NYMCTL="$top_builddir/src/nymctl/nymctl"

# send and fetch against this fixed topology: nymd queues the messages
# (its provider does not exist, so they stay queued) and fetch finds none.
# Delivery itself is tests/integration/traffic.sh's and examples.sh's.

fixed_directory

setup_client() {
	init_client "$1" --provider "$PROVIDER" && use_directory "$1" "$TOPOLOGY_URL"
}

# ctl ARGS...: runs nymctl, output in $WORK/out and $WORK/err, status in $RC
ctl() {
	"$NYMCTL" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
}
# status_is N DESCRIPTION: checks $RC, showing nymctl's stderr when it differs
status_is() {
	if [ "$RC" = "$1" ]; then ok "$2"; else not_ok "$2 (exit $RC, want $1)"; sed 's/^/# /' "$WORK/err"; fi
}

setup_client alice
SOCK="$WORK/home/clients/alice/nymd.sock"
start_daemon alice
if ! wait_for 10 sh -c "'$NYMCTL' --socket '$SOCK' clients 2>&1 | grep -c -e '$PROVIDER' | grep -qx 2"; then
	diag "nymd did not list the 2 clients in time; its last answer:"
	"$NYMCTL" --socket "$SOCK" clients 2>&1 | sed 's/^/#   /'
fi
OUR_ID=$(sed -n 's/^Our Public Key is: //p' "$WORK/run-alice.out")
diag "alice is $OUR_ID"

ctl --socket "$SOCK" details
check "details prints our id, the one nymd printed as 'Our Public Key is'" \
	sh -c "test $RC = 0 && test -n '$OUR_ID' && grep -qx 'id: $OUR_ID' '$WORK/out'"
check "details prints our provider with its address" \
	grep -qx "provider: $PROVIDER 127.0.0.1:9200" "$WORK/out"

ctl --socket "$SOCK" clients
if sh -c "test $RC = 0 && test \$(wc -l <'$WORK/out') = 2 &&
	 grep -qx -e '$CLIENT1 $PROVIDER 127.0.0.1:9200' '$WORK/out' &&
	 grep -qx -e '$CLIENT2 $PROVIDER 127.0.0.1:9200' '$WORK/out'"; then
	ok "clients lists the 2 registered clients, each with its provider"
else
	not_ok "clients lists the 2 registered clients, each with its provider"
	diag "nymctl clients exited $RC:"
	sed 's/^/#   /' "$WORK/out" "$WORK/err"
fi

ctl --id alice --home "$WORK/home" details
check "--id alice --home DIR finds alice's socket" sh -c "test $RC = 0 && grep -qx 'id: $OUR_ID' '$WORK/out'"
NYMD_HOME="$WORK/home" "$NYMCTL" --id alice details >"$WORK/out" 2>"$WORK/err"
check "--id alice honours NYMD_HOME" grep -qx "id: $OUR_ID" "$WORK/out"

ctl --socket "$SOCK" send --to "$CLIENT1" hello
check "send --to a registered client: queued (exit 0)" test "$RC" = 0
printf 'from stdin' | "$NYMCTL" --socket "$SOCK" send --to "$CLIENT2" - >"$WORK/out" 2>"$WORK/err"
RC=$?
check "send --to ID - reads the message from standard input" test "$RC" = 0
UNKNOWN=$(python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
ctl --socket "$SOCK" send --to "$UNKNOWN" hello
check "send to a well-formed id that is not registered: exit 1, saying so" \
	sh -c "test $RC = 1 && grep -q 'is not a registered client' '$WORK/err'"

ctl --socket "$SOCK" fetch
check "fetch: exit 0, nothing received" sh -c "test $RC = 0 && test ! -s '$WORK/out'"
ctl --socket "$SOCK" fetch --json
check "fetch --json: an empty JSON array" \
	sh -c "test $RC = 0 && python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' '$WORK/out'"

# watch runs on the asynchronous API: until ^C, or until fetch fails.
"$NYMCTL" --socket "$SOCK" watch --interval 50 >"$WORK/out" 2>"$WORK/err" &
W=$!
track $W
# (A background job starts with SIGINT ignored: ^C once nymctl catches
# it, which a loaded machine may take a while to reach.)
catches_int() {
	cgt=$(awk '/^SigCgt:/ { print $2 }' /proc/$W/status 2>/dev/null)
	[ -n "$cgt" ] && [ $((0x$cgt & 2)) -ne 0 ]
}
wait_for 20 catches_int
sleep 0.5
kill -INT $W 2>/dev/null
wait $W
RC=$?
check "watch: prints messages until SIGINT, then exits 0" test "$RC" = 0

ctl --socket "$SOCK" --timeout 5000 details
status_is 0 "--timeout MS before the command is accepted"

# --tcp: a second client serving the seed's TCP socket.
setup_client bob
TPORT=$(free_port)
"$NYMD" socket --id bob --home "$WORK/home" --socket tcp --port "$TPORT" >"$WORK/run-bob.out" 2>"$WORK/run-bob.err" &
track $!
wait_for 10 sh -c "'$SOCKREQ' 'tcp:127.0.0.1:$TPORT' details | grep -q '^details:'"
BOB_ID=$(sed -n 's/^Our Public Key is: //p' "$WORK/run-bob.out")
ctl --tcp "127.0.0.1:$TPORT" details
check "--tcp HOST:PORT talks to nymd socket --socket tcp" sh -c "test $RC = 0 && grep -qx 'id: $BOB_ID' '$WORK/out'"
ctl --tcp "localhost:$TPORT" clients
check "--tcp resolves a host name" sh -c "test $RC = 0 && test \$(wc -l <'$WORK/out') = 2"

# --start: carol is set up but not running; nymctl starts her nymd.
setup_client carol
carol_masters() {
	for p in /proc/[0-9]*; do
		[ "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" = "$NYMD run --id carol --home $WORK/home " ] &&
			echo "${p#/proc/}"
	done
}
ctl --id carol --home "$WORK/home" details
status_is 3 "--id of a client whose nymd is not running: exit 3"
check "and the message suggests --start" grep -q -- "--start" "$WORK/err"
NYMD_BINARY="$NYMD" "$NYMCTL" --id carol --home "$WORK/home" --start details >"$WORK/out" 2>"$WORK/err"
RC=$?
for p in $(carol_masters); do track "$p"; done
status_is 0 "--start starts nymd run --id carol and asks it"
check "it answers with carol's id" sh -c "grep -q '^id: [A-Za-z0-9_-]\{43\}=$' '$WORK/out' && ! grep -q -e '$OUR_ID' '$WORK/out'"
CAROL=$(carol_masters)
check "the started nymd is detached: its own session, not nymctl's child" sh -c \
	"test -n '$CAROL' && test \"\$(ps -o sid= -p '$CAROL' | tr -d ' ')\" = '$CAROL'"
NYMD_BINARY="$NYMD" "$NYMCTL" --id carol --home "$WORK/home" --start clients >"$WORK/out" 2>"$WORK/err"
RC=$?
check "a second --start connects to the running nymd and starts no other" \
	sh -c "test $RC = 0 && test \$(wc -l <'$WORK/out') = 2 && test '$(carol_masters)' = '$CAROL'"
NYMD_BINARY="$NYMD" "$NYMCTL" --id nobody --home "$WORK/home" --start details >"$WORK/out" 2>"$WORK/err"
RC=$?
status_is 3 "--start for a client that was never initialised: exit 3"
check "saying there is no such client" grep -q "no client nobody" "$WORK/err"
setup_client bob2
NYMD_BINARY=/nonexistent/nymd "$NYMCTL" --id bob2 --home "$WORK/home" --start details >/dev/null 2>"$WORK/err"
RC=$?
check "--start without a nymd to run: exit 3 naming NYMD_BINARY" sh -c "test $RC = 3 && grep -q NYMD_BINARY '$WORK/err'"

# No nymd to talk to: exit 3.
ctl --socket "$WORK/none.sock" details
status_is 3 "--socket with nothing listening: exit 3"
ctl --tcp "127.0.0.1:$(free_port)" details
status_is 3 "--tcp with nothing listening: exit 3"

# Usage errors: exit 2, whether or not a nymd runs.
ctl
status_is 2 "no arguments: exit 2"
ctl --socket "$SOCK" frobnicate
status_is 2 "an unknown command: exit 2"
ctl details
status_is 2 "no --id, --socket or --tcp: exit 2"
ctl --id alice --socket "$SOCK" details
status_is 2 "both --id and --socket: exit 2"
ctl --socket "$SOCK" send hello
status_is 2 "send without --to: exit 2"
ctl --socket "$SOCK" send --to not-an-id hello
status_is 2 "send --to something that is not a client id: exit 2"
ctl --socket "$SOCK" send --to "$CLIENT1" one two
status_is 2 "send with two messages: exit 2"
ctl --socket "$SOCK" watch --interval 0
status_is 2 "watch --interval 0: exit 2"
ctl --tcp 127.0.0.1 details
status_is 2 "--tcp without a port: exit 2"
finish
