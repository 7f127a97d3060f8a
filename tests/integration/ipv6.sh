#!/bin/sh
# One address syntax (issue 22): a provider on ::1 is printed "[::1]:PORT"
# by nymctl details and clients and in the log, as nymctl(1) promises
# host:port; and the provider link tries every address its host name
# resolves to, as node links do: with prov.test resolving to ::1 first and
# 127.0.0.1 second (an /etc/hosts bind-mounted in a private mount
# namespace), netd reaches a provider that listens on the second only.
. "$(dirname "$0")/lib.sh"
plan 5

NYMCTL="$top_builddir/src/nymctl/nymctl"

# topology HOSTPORT: a topology whose one provider is at HOSTPORT; sets
# PROVIDER and TOPOLOGY_URL
topology() {
	mkdir -p "$WORK/dir/api/presence"
	PROVIDER=$(python3 - "$WORK/dir/api/presence/topology" "$1" <<'PY'
import base64, json, os, sys
k = lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
prov = k()
json.dump({
  "MixNodes": [{"host": "127.0.0.1:%d" % (9100 + l), "pubKey": k(), "layer": l,
                "lastSeen": 1572258570490299400} for l in (1, 2, 3)],
  "MixProviderNodes": [{"host": sys.argv[2], "pubKey": prov,
      "registeredClients": [], "lastSeen": 1572258572070089000}],
}, open(sys.argv[1], "w"))
print(prov)
PY
)
	if [ -z "${fd_port:-}" ]; then
		fd_port=$(free_port)
		python3 -m http.server --bind 127.0.0.1 --directory "$WORK/dir" "$fd_port" >/dev/null 2>&1 &
		track $!
	fi
	TOPOLOGY_URL="http://127.0.0.1:$fd_port/api/presence/topology"
}

topology "[::1]:28090"
init_client six --provider "$PROVIDER"
use_directory six "$TOPOLOGY_URL"
start_daemon six
SOCK="$WORK/home/clients/six/nymd.sock"
wait_for 10 sh -c "'$NYMCTL' --socket '$SOCK' details 2>/dev/null | grep -q 28090"
"$NYMCTL" --socket "$SOCK" details >"$WORK/details" 2>&1
check "nymctl details prints the provider as [::1]:28090" grep -qx "provider: $PROVIDER \[::1\]:28090" "$WORK/details"
"$NYMCTL" --socket "$SOCK" clients >"$WORK/clients" 2>&1
check "the log names it [::1]:28090 too" wait_for 10 grep -q "provider $PROVIDER at \[::1\]:28090" "$WORK/six.log"
check "and never without brackets" lacks "at ::1:28090" "$WORK/six.log"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"

# every address of a name: ::1 first, then 127.0.0.1, where the provider is
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "ok 4 # SKIP needs root and unshare -m for a private /etc/hosts"
	echo "ok 5 # SKIP needs root and unshare -m for a private /etc/hosts"
	exit 0
fi
printf '127.0.0.1 localhost\n::1 prov.test\n127.0.0.1 prov.test\n' >"$WORK/hosts"
PPORT=$(free_port)
python3 - "$PPORT" "$WORK/accepted" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
c, _ = s.accept()
open(sys.argv[2], "w").write("accepted\n")
c.close()
PY
track $!
topology "prov.test:$PPORT"
init_client two --provider "$PROVIDER"
use_directory two "$TOPOLOGY_URL"
unshare -m sh -c "mount --bind '$WORK/hosts' /etc/hosts && exec '$NYMD' run --id two --home '$WORK/home'" \
	>"$WORK/run-two.out" 2>"$WORK/run-two.err" &
M=$!
track "$M"
check "the provider link reaches prov.test on its second address (127.0.0.1)" wait_for 15 test -s "$WORK/accepted"
check "after trying the first (::1)" grep -q "trying ::1 of prov.test:$PPORT" "$WORK/two.log"
finish
