#!/bin/sh
# Out of memory in a child is fatal, reported to master, and master
# restarts the child: rpcd's calloc of the clients list fails (the
# LD_PRELOAD shim tests/tools/failalloc.so, for this size in rpcd only),
# rpcd logs the failed allocation and exits, master says why and starts a
# new rpcd, which answers.
. "$(dirname "$0")/lib.sh"

SHIM="$top_builddir/tests/tools/failalloc.so"
if [ -n "${NYMD_SANITIZER_BUILD:-}" ]; then
	echo "1..0 # SKIP the malloc shim and ASan's allocator do not mix"
	exit 0
fi
plan 8

# A topology with 1237 registered clients: answering clients allocates
# their list of 1237 pointers (9896 bytes), a size nothing else in rpcd
# asks calloc for.
N=1237
BYTES=$((N * 8))
mkdir -p "$WORK/dir/api/presence"
python3 - "$WORK/dir/api/presence/topology" "$N" <<'PY'
import base64, json, os, sys
k = lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
prov = k()
json.dump({
  "MixNodes": [{"host": "127.0.0.1:%d" % (9100 + l), "pubKey": k(), "layer": l,
                "lastSeen": 1572258570490299400} for l in (1, 2, 3)],
  "MixProviderNodes": [{"host": "127.0.0.1:9200", "pubKey": prov,
      "registeredClients": [{"pubKey": k()} for _ in range(int(sys.argv[2]))],
      "lastSeen": 1572258572070089000}],
}, open(sys.argv[1], "w"))
open(sys.argv[1] + ".id", "w").write(prov)
PY
PROVIDER=$(cat "$WORK/dir/api/presence/topology.id")
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/dir" "$port" >/dev/null 2>&1 &
track $!
# Up before nymd asks, or its first fetch fails and the next is 30 s later.
directory_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))"; }
wait_for 10 directory_up

init_client alice --provider "$PROVIDER"
use_directory alice "http://127.0.0.1:$port/api/presence/topology"
SOCK="$WORK/home/clients/alice/nymd.sock"
LD_PRELOAD="$SHIM" FAILALLOC_ROLE=rpcd FAILALLOC_BYTES=$BYTES start_daemon alice
M=$DAEMON_PID

check "the three roles start with the shim loaded" wait_for 10 all_roles_up "$M"
rpcd_before=$(role_pid "$M" rpcd)
details_ok() { "$SOCKREQ" "unix:$SOCK" details 2>/dev/null | grep -q "^details: id=.* provider=$PROVIDER "; }
check "details answers" wait_for 10 details_ok
check "rpcd has the topology" wait_for 20 grep -q "rpcd.*topology updated" "$WORK/alice.log"

# The request that makes rpcd allocate the list: it gets no answer.
timeout 10 "$SOCKREQ" "unix:$SOCK" clients >"$WORK/clients.out" 2>&1
check "clients is not answered: rpcd died on the way" sh -c "! grep -q '^clients:' '$WORK/clients.out'"
check "rpcd logs the failed allocation as fatal" wait_for 5 \
	grep -q "rpcd.*out of memory: calloc of $BYTES bytes failed" "$WORK/alice.log"
check "master reports it with rpcd's reason and restarts it" wait_for 5 \
	grep -q "rpcd .*out of memory: calloc of $BYTES bytes failed; restarting it in" "$WORK/alice.log"
new_rpcd() { p=$(role_pid "$M" rpcd) && [ "$p" != "$rpcd_before" ]; }
check "a new rpcd runs" wait_for 10 new_rpcd
check "and answers details; the daemon is whole again" wait_for 10 details_ok
finish
