#!/bin/sh
# Security properties checked on a running system:
# - every TCP listener of every process of a whole testnet with nymd
#   clients (unix, tcp and websocket sockets) is on 127.0.0.1 or ::1;
# - a private key readable by group or others is refused;
# - the client's private key bytes are in no nymd process's memory but
#   keyd's (root only: reads /proc/PID/mem); the scan must find them in
#   keyd (positive control), or "not in netd" would prove nothing;
# - the plaintext of 200 messages never enters netd, the process facing
#   the network, on either side (issue 13): a marker in every message is
#   searched for in netd's and rpcd's memory while they are sent and
#   received; it must be found in the rpcds (positive control).
# The per-role seccomp kill tests are tests/unit/test_sandbox (a
# forbidden system call kills keyd, netd and rpcd); run here, each role's
# cases must pass.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../stress/stresslib.sh"
plan 14

# The seccomp kill tests are run here, and each role must have one that
# passed: a missing or failing case fails this check.
if [ -x "$top_builddir/tests/unit/test_sandbox" ]; then
	CMOCKA_MESSAGE_OUTPUT=TAP "$top_builddir/tests/unit/test_sandbox" >"$WORK/sandbox.tap" 2>&1
	rc=$?
	sed 's/^/# /' "$WORK/sandbox.tap" | grep -E '^# (not )?ok' || true
	check "seccomp: tests/unit/test_sandbox passes (exit $rc), a forbidden system call killing keyd, netd and rpcd" sh -c \
		"test $rc = 0 && ! grep -q '^not ok' '$WORK/sandbox.tap' &&
		 grep -q '^ok .*keyd_forbids_' '$WORK/sandbox.tap' &&
		 grep -q '^ok .*netd_forbids_' '$WORK/sandbox.tap' &&
		 grep -q '^ok .*rpcd_forbids_' '$WORK/sandbox.tap'"
else
	ok "seccomp: tests/unit/test_sandbox # SKIP not built here (cmocka missing)"
fi

check "testnet up: 1 mixnode a layer, 1 provider" st_up 1 1 || exit 1
check "2 nymd clients running" st_clients 2 5 5 5 2 info || exit 1
TP=$(free_port); WP=$(free_port)
for k in tcp ws; do
	"$NYMD" init --id "s$k" --home "$WORK/s$k" --directory "$DIRECTORY_TOPOLOGY_URL" \
		--provider "$PROVIDER1_PUBKEY" >"$WORK/init-s$k.out" 2>&1
done
"$NYMD" socket --id stcp --home "$WORK/stcp" --socket tcp --port "$TP" >"$WORK/stcp.out" 2>&1 &
STCP=$!; track $STCP
"$NYMD" socket --id sws --home "$WORK/sws" --socket websocket --port "$WP" >"$WORK/sws.out" 2>&1 &
SWS=$!; track $SWS
wait_for 20 "$SOCKREQ" "tcp:127.0.0.1:$TP" details >/dev/null
wait_for 20 python3 -c "import socket; socket.create_connection(('127.0.0.1', $WP), 1)"

# Our pids: the servers, and each nymd master with its children.
PIDS=""
for v in $TESTNET_PROCESSES; do eval "PIDS=\"\$PIDS \${${v}_PID}\""; done
for m in $CPID_c1 $CPID_c2 $STCP $SWS; do PIDS="$PIDS $(st_family "$m" | tr '\n' ' ')"; done
python3 - $PIDS >"$WORK/listen" <<'PY'
import os, sys, socket, struct
def addr(hexaddr):
    ip, port = hexaddr.split(":")
    b = bytes.fromhex(ip)
    if len(b) == 4:
        return socket.inet_ntop(socket.AF_INET, b[::-1]), int(port, 16)
    b = b"".join(b[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, b), int(port, 16)
listen = {}
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(f).read().splitlines()[1:]:
        x = line.split()
        if x[3] == "0A":
            listen[x[9]] = addr(x[1])
for pid in sys.argv[1:]:
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError as e:
        print("unreadable", pid, e.strerror)
        continue
    comm = open("/proc/%s/cmdline" % pid).read().replace("\0", " ").split(" ")[0:2]
    for fd in fds:
        try:
            l = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if l.startswith("socket:[") and l[8:-1] in listen:
            ip, port = listen[l[8:-1]]
            print("listen", pid, " ".join(comm), ip, port)
PY
sed 's/^/# /' "$WORK/listen"
nl=$(grep -c '^listen' "$WORK/listen")
# directory + mixnode + provider + tcp + websocket at least
check "TCP listeners of our processes found ($nl)" test "$nl" -ge 5
check "every one of them is on 127.0.0.1 or ::1" sh -c \
	"! grep '^listen' '$WORK/listen' | awk '{print \$(NF-1)}' | grep -qv '^127\.0\.0\.1\$\|^::1\$'"
check "every process could be inspected" sh -c "! grep -q '^unreadable' '$WORK/listen'"

# A world-readable private key (also in tests/integration/errors.sh).
KEY="$CH/clients/c1/config/private_key.pem"
mkdir -p "$WORK/kh" && cp -r "$CH/clients/c1" "$WORK/kh/c1-copy" 2>/dev/null
"$NYMD" init --id wr --home "$WORK/wr" --directory "$DIRECTORY_TOPOLOGY_URL" \
	--provider "$PROVIDER1_PUBKEY" >/dev/null 2>&1
chmod 0644 "$WORK/wr/clients/wr/config/private_key.pem"
"$NYMD" run --id wr --home "$WORK/wr" >/dev/null 2>"$WORK/wr.err" &
WRP=$!; track $WRP
wait_for 10 sh -c "! kill -0 $WRP"
wait "$WRP"; rc=$?
check "a private key readable by others is refused (exit $rc)" sh -c \
	"test $rc = 1 && grep -q 'accessible by group or others' '$WORK/wr.err'"

# The key in memory.
if [ "$(id -u)" != 0 ]; then
	for i in 1 2 3 4 5 6 7; do ok "memory scan # SKIP not root: /proc/PID/mem of nymd's roles is not readable"; done
	finish
fi
# Some traffic first, so that every role has worked with the key.
set -- $(awk '$1=="c2"' "$CLIENTS_FILE")
"$SOCKREQ" "unix:$CH/clients/c1/nymd.sock" "send:$3:$4:memscan" >/dev/null
sleep 2
for r in keyd netd rpcd; do eval "P_$r=$(role_pid "$CPID_c1" $r)"; done
python3 "$top_srcdir/tests/tools/memscan.py" "$KEY" "$CPID_c1" "$P_keyd" "$P_netd" "$P_rpcd" >"$WORK/memscan"
sed "s/^$CPID_c1 /master /; s/^$P_keyd /keyd /; s/^$P_netd /netd /; s/^$P_rpcd /rpcd /" "$WORK/memscan" | sed 's/^/# /'
res() { awk -v p="$1" '$1==p {print $2}' "$WORK/memscan"; }
check "the private key's bytes are not in netd's memory" test "$(res "$P_netd")" = clean
check "nor in rpcd's nor in the master's" test "$(res "$P_rpcd")$(res "$CPID_c1")" = cleanclean
# The positive control: without it, "clean" above could mean a scanner that
# finds nothing. keyd keeps the key in sodium_malloc'd pages, which root
# reads through /proc/PID/mem (memscan.py reads mappings of any protection).
check "positive control: keyd holds the key (the scan finds it where it is: $(res "$P_keyd"))" \
	test "$(res "$P_keyd")" = found

# The plaintext in memory: 200 messages from c1 to c2, each carrying a
# marker no other byte string has. netd of either side must never hold
# it; the rpcds (which store it) must, or "never" proves nothing.
MARKER="nymd-plaintext-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
for r in keyd netd rpcd; do eval "Q_$r=$(role_pid "$CPID_c2" $r)"; done
( i=1; while [ "$i" -le 200 ]; do
	"$SOCKREQ" "unix:$CH/clients/c1/nymd.sock" "send:$3:$4:$MARKER message $i" >/dev/null ||
		echo "send $i failed"
	i=$((i + 1))
done ) >"$WORK/marker-sends" 2>&1 &
SENDER=$!; track $SENDER
scans=0
: >"$WORK/marker"
while kill -0 "$SENDER" 2>/dev/null || [ "$scans" -lt 3 ]; do
	python3 "$top_srcdir/tests/tools/memscan.py" --text "$MARKER" \
		"$P_netd" "$P_rpcd" "$Q_netd" "$Q_rpcd" >>"$WORK/marker"
	scans=$((scans + 1))
	[ "$scans" -ge 30 ] && break
done
wait "$SENDER"
# The receiving side, once everything is there (and before c2 fetches).
wait_for 30 sh -c "python3 '$top_srcdir/tests/tools/memscan.py' --text '$MARKER' '$Q_rpcd' | grep -q found"
python3 "$top_srcdir/tests/tools/memscan.py" --text "$MARKER" \
	"$P_netd" "$P_rpcd" "$Q_netd" "$Q_rpcd" >>"$WORK/marker"
scans=$((scans + 1))
sed "s/^$P_netd /c1-netd /; s/^$P_rpcd /c1-rpcd /; s/^$Q_netd /c2-netd /; s/^$Q_rpcd /c2-rpcd /" \
	"$WORK/marker" | sort | uniq -c | sed 's/^/# /'
seen() { awk -v p="$1" '$1==p && $2=="found"' "$WORK/marker" | wc -l; }
looked() { awk -v p="$1" '$1==p && ($2=="found" || $2=="clean")' "$WORK/marker" | wc -l; }
check "the 200 marked messages were accepted" test ! -s "$WORK/marker-sends"
check "no plaintext in the sender's netd, in $(looked "$P_netd") of $scans scans during the sends" \
	sh -c "test $(seen "$P_netd") = 0 && test $(looked "$P_netd") = $scans"
check "nor in the recipient's netd ($(looked "$Q_netd") scans)" \
	sh -c "test $(seen "$Q_netd") = 0 && test $(looked "$Q_netd") = $scans"
check "positive control: the sender's rpcd and the recipient's held it ($(seen "$P_rpcd") and $(seen "$Q_rpcd") of $scans scans)" \
	sh -c "test $(seen "$P_rpcd") -gt 0 && test $(seen "$Q_rpcd") -gt 0"
finish
