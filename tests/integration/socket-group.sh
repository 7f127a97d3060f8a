#!/bin/sh
# Group access to the unix socket, as nymd(8) and the unit's comment
# document it: with socket_mode = "0660" the members of the socket's group
# are served, whether it is their primary group or a supplementary one
# (SO_PEERGROUPS), without allow_other_users; anyone else is refused with
# an answer, and a log line, that name the reason; with "0600" even a
# member is refused. Needs root (to connect as other uids and groups).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root to connect as another user and group"
	exit 0
fi
plan 8

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
CONF="$WORK/home/clients/alice/config/config.toml"
SOCK="$WORK/home/clients/alice/nymd.sock"
cp "$SOCKREQ" "$WORK/"
chmod 755 "$WORK/sockreq" "$WORK/home" "$WORK/home/clients" "$WORK/home/clients/alice"
sed -i 's/^socket_mode = .*/socket_mode = "0660"/' "$CONF"
grep -q '^allow_other_users = false' "$CONF" || diag "allow_other_users is not false in $CONF"

start_daemon alice
M=$DAEMON_PID
check "nymd serves its own user" wait_for 10 sh -c \
	"'$WORK/sockreq' 'unix:$SOCK' details | grep -q '^details:'"
G=$(stat -c %g "$SOCK")
diag "the socket is $(stat -c '%U:%G %a' "$SOCK") (gid $G)"
NOGROUP=$(getent group nogroup | cut -d: -f3)
[ "$G" != "$NOGROUP" ] || diag "the socket's group is nogroup: the checks below cannot tell"

# as UID PRIMARY-GID [SUPPLEMENTARY-GID]: details over the socket, its
# answer in $WORK/as.out
as() {
	if [ -n "${3:-}" ]; then grp="--groups=$3"; else grp="--clear-groups"; fi
	setpriv --reuid="$1" --regid="$2" $grp -- "$WORK/sockreq" "unix:$SOCK" details \
		>"$WORK/as.out" 2>&1
	cat "$WORK/as.out" >>"$WORK/as.all"
}
served() { as "$@"; grep -q '^details:' "$WORK/as.out"; }
refused_not_in_group() {
	as "$@"
	grep -q "^exception: connection refused: this user is not in the socket's group" "$WORK/as.out" &&
	    ! grep -q '^details:' "$WORK/as.out"
}

check "0660: a user whose primary group is the socket's is served" \
	served nobody "$G"
check "0660: a user with the socket's group as a supplementary group is served (SO_PEERGROUPS)" \
	served nobody "$NOGROUP" "$G"
# connect(2) itself stops such a user at the file's mode; open the file to
# test nymd's own check, which must hold when the permissions are changed.
chmod 666 "$SOCK"
check "0660: a user not in the socket's group is refused by nymd, and told why" \
	refused_not_in_group nobody "$NOGROUP"
check "the refusal is logged with the uid and the reason, not as a non-local peer" sh -c \
	"grep -q \"refused a connection from uid $(id -u nobody): this user is not in the socket's group\" '$WORK/alice.log' &&
	 ! grep -q 'non-local peer' '$WORK/alice.log'"
kill -TERM "$M"
wait "$M"

# 0600: the group is not granted, so not even its members are served.
sed -i 's/^socket_mode = .*/socket_mode = "0600"/' "$CONF"
start_daemon alice
M=$DAEMON_PID
check "0600: nymd serves its own user" wait_for 10 sh -c \
	"'$WORK/sockreq' 'unix:$SOCK' details | grep -q '^details:'"
chmod 666 "$SOCK"
as nobody "$NOGROUP" "$G"
check "0600: a member of the socket's group is refused by nymd, naming allow_other_users" \
	sh -c "grep -q '^exception: connection refused: .*allow_other_users' '$WORK/as.out'"
as nobody "$G"
check "0600: a user whose primary group is the socket's is refused too" \
	sh -c "grep -q '^exception: connection refused: ' '$WORK/as.out' && ! grep -q '^details:' '$WORK/as.out'"
kill -TERM "$M"
wait "$M"
finish
