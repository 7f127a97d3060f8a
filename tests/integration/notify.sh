#!/bin/sh
# Readiness for systemd (Type=notify): with NOTIFY_SOCKET set, nymd's master
# says READY=1 once its roles run, RELOADING=1 and READY=1 around a SIGHUP,
# STOPPING=1 at SIGTERM. libsystemd is loaded by the master alone, and only
# then: no other process, and no nymd without NOTIFY_SOCKET, maps it.
. "$(dirname "$0")/lib.sh"

if ! grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h"; then
	echo "1..0 # SKIP built --without-systemd"
	exit 0
fi
plan 8

fixed_directory
init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"

# A service manager's end of the protocol: one datagram a line. The
# socket is writable by all: as root, nymd's master runs as user nymd.
python3 - "$WORK/notify.sock" "$WORK/notify.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
out = open(sys.argv[2], "ab", buffering=0)
while True:
    out.write(s.recv(4096).replace(b"\n", b" ") + b"\n")
PY
track $!
wait_for 5 test -S "$WORK/notify.sock"

maps_systemd() { grep -q 'libsystemd\.so' "/proc/$1/maps"; }

NOTIFY_SOCKET="$WORK/notify.sock" start_daemon alice
M=$DAEMON_PID
check "READY=1 once keyd, netd and rpcd run" wait_for 10 grep -q '^READY=1 STATUS=running' "$WORK/notify.out"
check "the master has libsystemd loaded" maps_systemd "$M"
kids=$(cat /proc/"$M"/task/*/children)
check "none of keyd, netd and rpcd maps libsystemd" sh -c \
	"[ -n '$kids' ] && for p in $kids; do ! grep -q 'libsystemd\\.so' /proc/\$p/maps || exit 1; done"

kill -HUP "$M"
check "SIGHUP: RELOADING=1, then READY=1" wait_for 5 sh -c \
	"grep -A1 '^RELOADING=1' '$WORK/notify.out' | tail -1 | grep -q '^READY=1'"
kill -TERM "$M"
check "SIGTERM: STOPPING=1" wait_for 5 grep -q '^STOPPING=1' "$WORK/notify.out"
wait "$M"
check "and nymd exits with status 0" [ $? = 0 ]

# Without NOTIFY_SOCKET nothing loads it.
start_daemon alice
M=$DAEMON_PID
check "without NOTIFY_SOCKET the roles start" wait_for 10 all_roles_up "$M"
check "and the master does not map libsystemd" sh -c "! grep -q 'libsystemd\\.so' /proc/$M/maps"
kill -TERM "$M"
wait "$M"
finish
