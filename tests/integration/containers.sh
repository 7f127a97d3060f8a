#!/bin/sh
# Where users run it (issue 22): started as root in a user namespace that
# does not map the nymd user (unshare -U -r), nymd runs confined as an
# unprivileged start is, and says so; with Docker's default capability
# set (setpriv --bounding-set) it switches to its user as on a host; with
# a capability it needs missing from that set, it exits 1 naming it and
# the setting that avoids it.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! unshare -U -r true 2>/dev/null || ! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs root, unshare -U and setpriv"
	exit 0
fi
plan 9

fixed_directory
DOCKER_CAPS="chown,dac_override,fowner,fsetid,kill,setgid,setuid,setpcap,net_bind_service,net_raw,sys_chroot,mknod,audit_write,setfcap"
details_ok() { "$SOCKREQ" "unix:$WORK/home/clients/$1/nymd.sock" details 2>/dev/null | grep -q '^details: id='; }
# bounding CAPS: setpriv's --bounding-set argument for a comma list
bounding() { echo "-all,$(echo "$1" | sed 's/\([a-z_]*\)/+\1/g')"; }

# a user namespace without the nymd user
init_client ns --provider "$PROVIDER"
use_directory ns "$TOPOLOGY_URL"
unshare -U -r "$NYMD" run --id ns --home "$WORK/home" >"$WORK/run-ns.out" 2>"$WORK/run-ns.err" &
M=$!
track "$M"
check "root in a user namespace without the nymd user: nymd runs" wait_for 15 details_ok ns
check "saying the user is not mapped and what it does instead" \
	grep -q "the user nymd (uid [0-9]*) is not mapped in this user namespace: running as uid 0 without any capability, confined as an unprivileged start is" "$WORK/ns.log"
ok_roles=1
for r in keyd netd rpcd; do
	p=$(role_pid "$M" $r) || { ok_roles=0; break; }
	grep -q '^Seccomp:[[:space:]]*2' /proc/"$p"/status && grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/"$p"/status || ok_roles=0
done
check "every role is sandboxed and holds no capability" test "$ok_roles" = 1
kill -TERM "$M"
wait "$M"

# Docker's default capabilities
init_client dk --provider "$PROVIDER"
use_directory dk "$TOPOLOGY_URL"
setpriv --bounding-set "$(bounding "$DOCKER_CAPS")" --inh-caps -all \
	"$NYMD" run --id dk --home "$WORK/home" >"$WORK/run-dk.out" 2>"$WORK/run-dk.err" &
M=$!
track "$M"
check "with Docker's default capabilities nymd runs" wait_for 15 details_ok dk
check "and switches to its user" grep -q "running as user nymd" "$WORK/dk.log"
p=$(role_pid "$M" rpcd)
check "rpcd runs as nymd" sh -c "grep -q \"^Uid:[[:space:]]*$(id -u nymd)[[:space:]]\" /proc/$p/status"
kill -TERM "$M"
wait "$M"

# without CAP_CHOWN (it hands the client's home to its user)
init_client nc --provider "$PROVIDER"
use_directory nc "$TOPOLOGY_URL"
setpriv --bounding-set "$(bounding "$(echo "$DOCKER_CAPS" | sed 's/^chown,//')")" --inh-caps -all \
	timeout 10 "$NYMD" run --id nc --home "$WORK/home" >"$WORK/run-nc.out" 2>"$WORK/run-nc.err"
rc=$?
check "without CAP_CHOWN it exits 1" test "$rc" = 1
check "naming the capability and the setting" grep -q "started as root without CAP_CHOWN, which nymd needs .* grant it (e.g. docker run --cap-add), or start nymd as an unprivileged user" "$WORK/run-nc.err"
check "having started no child" lacks "starting nymd" "$WORK/nc.log"
finish
