#!/bin/sh
# The unix socket's placement and permissions: socket_mode is the mode the
# socket gets, and `nymd socket --socket unix --path P` with a relative P
# serves it relative to the directory nymd was started in, and removes it
# at the stop (started as root, where the user nymd runs as may do so;
# otherwise a new start replaces it).
. "$(dirname "$0")/lib.sh"
plan 7

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
if [ "$(id -u)" = 0 ]; then
	# Started as root, nymd runs as the user nymd, who may not enter
	# $WORK: the socket stays, said at the stop, and a new start
	# replaces it.
	check "the socket nymd's user may not remove stays, and the log says why" sh -c \
		"test -S '$WORK/cwd/rel.sock' && grep -q 'cannot remove the socket .*rel.sock.*the next start replaces it' '$WORK/alice.log'"
	(cd "$WORK/cwd" && exec "$NYMD" socket --id alice --home "$WORK/home" --socket unix --path rel.sock) \
		>"$WORK/rel2.out" 2>&1 &
	R=$!
	track "$R"
	check "a new start replaces it and serves" wait_for 10 sh -c \
		"'$SOCKREQ' 'unix:$WORK/cwd/rel.sock' details | grep -q '^details:'"
	kill -TERM "$R"
	wait "$R"
else
	check "the socket is removed at the stop" sh -c "! test -e '$WORK/cwd/rel.sock'"
	ok "a new start replaces a socket left behind # SKIP tested as root"
fi
finish
