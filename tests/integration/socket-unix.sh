#!/bin/sh
# The unix socket's placement and permissions: socket_mode is the mode the
# socket gets, and `nymd socket --socket unix --path P` with a relative P
# serves it relative to the directory nymd was started in, and removes it
# at the stop.
. "$(dirname "$0")/lib.sh"
plan 6

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
sed -i 's/^socket_mode = .*/socket_mode = "0660"/' "$WORK/home/clients/alice/config/config.toml"
SOCK="$WORK/home/clients/alice/nymd.sock"

start_daemon alice
M=$DAEMON_PID
check "socket_mode \"0660\": the socket is mode 0660" wait_for 10 sh -c \
	"test \"\$(stat -c %a '$SOCK' 2>/dev/null)\" = 660"
check "and it answers details" wait_for 5 sh -c "'$SOCKREQ' 'unix:$SOCK' details | grep -q '^details:'"
kill -TERM "$M"
wait "$M"

mkdir "$WORK/cwd"
(cd "$WORK/cwd" && exec "$NYMD" socket --id alice --home "$WORK/home" --socket unix --path rel.sock) \
	>"$WORK/rel.out" 2>&1 &
R=$!
track "$R"
check "--path rel.sock is served in the directory nymd started in" wait_for 10 test -S "$WORK/cwd/rel.sock"
check "and answers details" wait_for 5 sh -c "'$SOCKREQ' 'unix:$WORK/cwd/rel.sock' details | grep -q '^details:'"
check "nothing is created in the data directory" sh -c "! test -e '$WORK/home/clients/alice/data/rel.sock'"
kill -TERM "$R"
wait "$R"
check "the socket is removed at the stop" sh -c "! test -e '$WORK/cwd/rel.sock'"
finish
