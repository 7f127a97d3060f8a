#!/bin/sh
# The command line: usage, exit codes, help and version, the seed's name.
. "$(dirname "$0")/lib.sh"
plan 10

out=$("$NYMD" 2>&1); rc=$?
check "no command: usage on stderr, exit 2" test "$rc" = 2
case $out in *"Usage: nymd COMMAND [OPTIONS]"*"Commands:"*"init"*"run"*"socket"*) ok "usage lists the seed's commands";; *) not_ok "usage lists the seed's commands";; esac
"$NYMD" frobnicate >/dev/null 2>&1; check "unknown command: exit 2" test $? = 2
"$NYMD" run --bogus x >/dev/null 2>&1; check "unknown flag: exit 2" test $? = 2
"$NYMD" run >/dev/null 2>"$WORK/err"; rc=$?
check "run without --id: exit 2 with a message" sh -c "test $rc = 2 && grep -q -- '--id is required' '$WORK/err'"
"$NYMD" socket --id a --socket tcp >/dev/null 2>&1; check "socket tcp without --port: exit 2" test $? = 2
"$NYMD" init --id a --port 1 >/dev/null 2>&1; check "init with a socket flag: exit 2" test $? = 2
check "--version" sh -c "'$NYMD' --version | grep -q '^nymd [0-9]'"
check "help init documents --force" sh -c "'$NYMD' help init | grep -q -- '--force'"
out=$("$top_builddir/src/loopix-client" 2>&1)
case $out in *"Usage: loopix-client COMMAND"*) ok "loopix-client is the same program under the seed's name";; *) not_ok "loopix-client usage";; esac
finish
