#!/bin/sh
# `nymd check-config` and `nymd reload`, what nymd@.service's ExecReload=
# runs: a good configuration is reloaded by the running nymd; a broken one
# fails the reload with its error (so `systemctl reload` fails), is never
# signalled, and the running configuration stays.
. "$(dirname "$0")/lib.sh"
plan 9

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
CONF="$WORK/home/clients/alice/config/config.toml"
SOCK="$WORK/home/clients/alice/nymd.sock"

check "check-config passes a good configuration" sh -c \
	"'$NYMD' check-config --id alice --home '$WORK/home' >'$WORK/check.out' 2>&1 &&
	 grep -q 'is valid' '$WORK/check.out'"

start_daemon alice
M=$DAEMON_PID
check "nymd serves" wait_for 10 sh -c "'$SOCKREQ' 'unix:$SOCK' details | grep -q '^details:'"

check "reload of a good configuration exits 0" \
	"$NYMD" reload --id alice --home "$WORK/home" --pid "$M"
check "and the running nymd reloads it" \
	wait_for 5 grep -q "configuration reloaded from" "$WORK/alice.log"

cp "$CONF" "$WORK/good.toml"
printf '\n[client]\nno_such_key = 1\n' >>"$CONF"
"$NYMD" check-config --id alice --home "$WORK/home" >"$WORK/bad-check.out" 2>&1 && rc=0 || rc=$?
check "check-config fails a broken configuration (status 1) and names the error" sh -c \
	"[ $rc = 1 ] && grep -q 'config.toml' '$WORK/bad-check.out'"
"$NYMD" reload --id alice --home "$WORK/home" --pid "$M" >"$WORK/bad-reload.out" 2>&1 && rc=0 || rc=$?
check "reload of a broken configuration fails (status 1), saying the running one stays" sh -c \
	"[ $rc = 1 ] && grep -q 'running configuration stays' '$WORK/bad-reload.out'"
sleep 0.5
check "the broken configuration never reached nymd" sh -c \
	"[ \$(grep -c 'configuration reloaded from' '$WORK/alice.log') = 1 ] &&
	 ! grep -q 'reload failed' '$WORK/alice.log'"
check "nymd still runs and serves" sh -c \
	"kill -0 $M && '$SOCKREQ' 'unix:$SOCK' details | grep -q '^details:'"
"$NYMD" reload --id alice --home "$WORK/home" --pid nope >"$WORK/nopid.out" 2>&1 && rc=0 || rc=$?
check "reload with a bad --pid is a usage error" test "$rc" = 2
kill -TERM "$M"
wait "$M"
finish
