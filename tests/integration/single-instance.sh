#!/bin/sh
# One daemon per client: master holds a lock in the client's data
# directory for its life. A second run or socket for the same client exits
# 1 naming the running one (run+run, run+socket, socket+run); nymctl
# --start (nym_client_start) uses the running daemon, also when two start
# it at once; a daemon killed with kill -9 leaves no lock behind.
. "$(dirname "$0")/lib.sh"
plan 15

NYMCTL="$top_builddir/src/nymctl/nymctl"
fixed_directory
init_client dup --provider "$PROVIDER"
use_directory dup "$TOPOLOGY_URL"
SOCK="$WORK/home/clients/dup/nymd.sock"

# second CMD...: a second daemon for dup; status in RC (124: it ran on)
second() {
	timeout 5 "$NYMD" "$@" --id dup --home "$WORK/home" >"$WORK/second.out" 2>"$WORK/second.err"
	RC=$?
}
# refused WHAT MASTER COMMAND: exit 1 and the line naming the running one
refused() {
	if [ "$RC" = 1 ] && grep -qx "nymd: client 'dup' is already running (pid $2, nymd $3)" "$WORK/second.err"; then
		ok "$1"
	else
		not_ok "$1 (exit $RC)"
		sed 's/^/# /' "$WORK/second.err"
	fi
}
details_ok() { "$SOCKREQ" "unix:$SOCK" details 2>/dev/null | grep -q '^details: id='; }
dup_masters() {
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "^$NYMD run --id dup --home $WORK/home " && echo "${p#/proc/}"
	done
}

# run + run, run + socket
start_daemon dup
M=$DAEMON_PID
check "the first nymd run starts" wait_for 10 details_ok
second run
refused "a second run for the same client exits 1: already running (pid, nymd run)" "$M" run
second socket --socket tcp --port "$(free_port)"
refused "socket beside run exits 1 the same way" "$M" run
check "the first daemon still answers, on the same socket" details_ok
check "its log does not show the second one" sh -c "test \$(grep -c 'starting nymd' '$WORK/dup.log') = 1"
check "the lock file names the running master" grep -qx "$M nymd run" "$WORK/home/clients/dup/data/nymd.lock"
NYMD_BINARY="$NYMD" "$NYMCTL" --id dup --home "$WORK/home" --start details >"$WORK/ctl.out" 2>"$WORK/ctl.err"
rc=$?
check "nymctl --start uses the running daemon" sh -c "test $rc = 0 && grep -q '^id: ' '$WORK/ctl.out' && test '$(dup_masters)' = '$M'"
kill -TERM "$M"
wait "$M"

# socket + run
TPORT=$(free_port)
"$NYMD" socket --id dup --home "$WORK/home" --socket tcp --port "$TPORT" >"$WORK/socket.out" 2>"$WORK/socket.err" &
S=$!
track "$S"
check "nymd socket starts" wait_for 10 all_roles_up "$S"
second run
refused "run beside socket exits 1: already running (pid, nymd socket)" "$S" socket
NYMD_BINARY="$NYMD" "$NYMCTL" --id dup --home "$WORK/home" --start details >"$WORK/ctl.out" 2>"$WORK/ctl.err"
rc=$?
check "nymctl --start beside socket says which daemon runs the client and starts none" sh -c \
	"test $rc = 3 && grep -q \"client 'dup' is already running (pid $S, nymd socket) but does not serve $SOCK\" '$WORK/ctl.err' && test -z '$(dup_masters)'"

# a stale lock: master killed with kill -9
kids=$(cat /proc/"$S"/task/*/children)
kill -KILL "$S"
wait "$S" 2>/dev/null
check "the children die with their master" wait_for 5 sh -c "for k in $kids; do kill -0 \$k 2>/dev/null && exit 1; done; exit 0"
start_daemon dup
M=$DAEMON_PID
check "after kill -9 of the master, nymd run starts again on the stale lock file" wait_for 10 details_ok
kill -TERM "$M"
wait "$M"

# two nymctl --start at once: both get the one daemon
NYMD_BINARY="$NYMD" "$NYMCTL" --id dup --home "$WORK/home" --start details >"$WORK/ctl1.out" 2>"$WORK/ctl1.err" &
c1=$!
NYMD_BINARY="$NYMD" "$NYMCTL" --id dup --home "$WORK/home" --start details >"$WORK/ctl2.out" 2>"$WORK/ctl2.err" &
c2=$!
wait "$c1"; r1=$?
wait "$c2"; r2=$?
for p in $(dup_masters); do track "$p"; done
check "two nymctl --start at once both succeed" sh -c "test $r1 = 0 && test $r2 = 0" || sed 's/^/# /' "$WORK/ctl1.err" "$WORK/ctl2.err"
check "and one daemon runs the client" test "$(dup_masters | wc -l)" = 1
check "no role died of its sandbox" sh -c "! grep -q 'signal 31' '$WORK/dup.log'"
finish
