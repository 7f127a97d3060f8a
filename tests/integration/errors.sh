#!/bin/sh
# Bad configurations and keys: one clear line naming the file, exit 1,
# and no process left behind. Too many crashes stop the daemon.
. "$(dirname "$0")/lib.sh"
plan 9

# A unique id, so that the process checks see only this test's processes.
B=errors$$
init_client $B
C="$WORK/home/clients/$B/config"

"$NYMD" run --id nobody --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "run of an unknown id: exit 1 naming the config file" sh -c "test $rc = 1 && grep -q 'clients/nobody/config/config.toml' '$WORK/err'"

cp "$C/config.toml" "$WORK/config.good"
printf '\n[client]\nbogus = 1\n' >>"$C/config.toml"
"$NYMD" run --id $B --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "a config error: exit 1 with file and line" sh -c "test $rc = 1 && grep -q 'config.toml:[0-9]' '$WORK/err'"
cp "$WORK/config.good" "$C/config.toml"

chmod 0644 "$C/private_key.pem"
"$NYMD" run --id $B --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "a private key readable by others: exit 1 naming the file" sh -c "test $rc = 1 && grep -q 'private_key.pem: private key file is accessible by group or others' '$WORK/err'"
chmod 0600 "$C/private_key.pem"

cp "$C/private_key.pem" "$WORK/key.good"
printf -- '-----BEGIN SPHINX CURVE25519 PRIVATE KEY-----\nAAAA\n-----END SPHINX CURVE25519 PRIVATE KEY-----\n' >"$C/private_key.pem"
"$NYMD" run --id $B --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "a corrupt private key: exit 1 naming the file" sh -c "test $rc = 1 && grep -q 'keyd failed to start: .*private_key.pem: key is not 32 bytes' '$WORK/err'"
check "and no process left behind" sh -c "! pgrep -f '^nymd: keyd \\[$B\\]' >/dev/null && ! pgrep -f '^nymd: netd \\[$B\\]' >/dev/null && ! pgrep -f '^nymd: rpcd \\[$B\\]' >/dev/null"
cp "$WORK/key.good" "$C/private_key.pem"
chmod 0600 "$C/private_key.pem"

printf 'garbage\n' >"$C/public_key.pem"
"$NYMD" run --id $B --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "a corrupt public key: exit 1 naming the file" sh -c "test $rc = 1 && grep -q 'public_key.pem' '$WORK/err'"
"$NYMD" init --id other --home "$WORK/home" --directory http://127.0.0.1:1/x >/dev/null 2>&1
cp "$WORK/home/clients/other/config/public_key.pem" "$C/public_key.pem"
"$NYMD" run --id $B --home "$WORK/home" >/dev/null 2>"$WORK/err"; rc=$?
check "a public key of another client: exit 1" sh -c "test $rc = 1 && grep -q 'does not match the private key' '$WORK/err'"
"$NYMD" init --id $B --home "$WORK/home" --force --directory http://127.0.0.1:1/x >/dev/null 2>&1
sed -i "s|^file = .*|file = \"$WORK/$B.log\"|" "$C/config.toml"

# A crash budget of 2 within 60 s: the third crash stops the daemon.
sed -i "s/^max_restarts = .*/max_restarts = 2/; s/^restart_window_seconds = .*/restart_window_seconds = 60/" "$C/config.toml"
start_daemon $B
M=$DAEMON_PID
wait_for 10 all_roles_up "$M"
for i in 1 2 3; do
	wait_for 10 role_pid "$M" netd >/dev/null
	p=$(role_pid "$M" netd) && kill -KILL "$p"
	sleep 0.5
done
wait_for 10 sh -c "! kill -0 $M"
wait "$M"; rc=$?
check "netd crashing 3 times stops the daemon with a non-zero exit" test "$rc" != 0
check "with a clear message" grep -q "netd crashed 3 times within 60 s" "$WORK/run-$B.err"
finish
