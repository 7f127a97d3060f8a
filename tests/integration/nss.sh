#!/bin/sh
# A sandboxed role does not depend on the host's NSS modules (issue 22
# point 7). nymd runs in a mount namespace of the test's own whose
# nsswitch.conf says "hosts: nymdtest files dns", nymdtest being a module
# (tests/tools/nss_nymdtest.c) that makes system calls netd's filter
# forbids, as nss-mymachines or nss-systemd would: netd, which resolves
# names itself (/etc/hosts, then resolv.conf's nameservers), must never
# call it. Names known only to that namespace's /etc/hosts, then only to
# a small nameserver of the test's (tests/tools/dnsserver.py, the only one
# in its private resolv.conf): the directory's (fetched by libcurl) and
# the provider's (netd's link). Alice's message reaches Bob through a real
# testnet whose directory they know by a name; no NSS module is mapped in
# netd. A mixnode, sandboxed too, fetches its topology by a name the same
# way.
. "$(dirname "$0")/lib.sh"

MODULE="$top_builddir/tests/tools/libnss_nymdtest.so.2"
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "1..0 # SKIP needs root and unshare -m for a private nsswitch.conf, /etc/hosts and resolv.conf"
	exit 0
fi
if [ ! -f "$MODULE" ]; then
	echo "1..0 # SKIP the test NSS module is not built (make check builds it)"
	exit 0
fi
plan 21

B="$top_builddir/src"
D="$WORK/tn"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT

# The namespace: the module where glibc finds it (a private ld.so.cache
# that also lists its directory), nsswitch.conf, hosts and resolv.conf.
N="$WORK/ns"
mkdir -p "$N/lib"
cp "$MODULE" "$N/lib/libnss_nymdtest.so.2"
printf '%s\ninclude /etc/ld.so.conf\n' "$N/lib" >"$N/ld.so.conf"
ldconfig -X -C "$N/ld.so.cache" -f "$N/ld.so.conf"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: nymdtest files dns\n' >"$N/nsswitch.conf"
printf '127.0.0.1 localhost\n127.0.0.1 nymdir.test fakeprov.test\n' >"$N/hosts"
# the nameserver on an address of its own in 127/8, port 53
DNS_ADDR="127.53.$(( $$ % 250 + 1 )).$(( $$ / 250 % 250 + 1 ))"
printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$DNS_ADDR" >"$N/resolv.conf"
MOUNTS="mount --bind '$N/ld.so.cache' /etc/ld.so.cache &&
	mount --bind '$N/nsswitch.conf' /etc/nsswitch.conf &&
	mount --bind '$N/hosts' /etc/hosts &&
	mount --bind '$N/resolv.conf' /etc/resolv.conf"
# inns CMD...: CMD in such a namespace
inns() { unshare -m sh -c "$MOUNTS && exec \"\$@\"" sh "$@"; }

python3 "$top_srcdir/tests/tools/dnsserver.py" "$DNS_ADDR" 53 "$WORK/dns.log" \
	nymdns.test=127.0.0.1 provdns.test=127.0.0.1 >"$WORK/dnsserver.err" 2>&1 &
track $!
wait_for 5 test -f "$WORK/dns.log.ready"
inns getent ahosts nymdir.test >"$WORK/getent.out" 2>&1
check "in the namespace glibc asks the module first, then the hosts file" sh -c \
	"grep -q 'libnss_nymdtest: lookup of nymdir.test' '$WORK/getent.out' && grep -q '^127.0.0.1 ' '$WORK/getent.out'"
inns getent ahostsv4 nymdns.test >"$WORK/getent-dns.out" 2>&1
check "and the test's nameserver answers what the hosts file does not know" \
	grep -q '^127.0.0.1 ' "$WORK/getent-dns.out"

testnet_up "a testnet starts" --delay-ms 2
DPORT=${DIRECTORY_TOPOLOGY_URL#http://127.0.0.1:}
DPORT=${DPORT%%/*}

# run ID: nymd run in the namespace; sets M
run() {
	# (unshare and sh exec: $! is nymd's master)
	unshare -m sh -c "$MOUNTS && exec \"\$@\"" sh "$NYMD" run --id "$1" --home "$WORK/home" \
		>"$WORK/run-$1.out" 2>"$WORK/run-$1.err" &
	M=$!
	track "$M"
}
# alive MASTER ID: netd of MASTER runs, and ID's log names no sandbox kill
alive() {
	role_pid "$1" netd >/dev/null && lacks "killed by its sandbox" "$WORK/$2.log"
}
pubkey() {
	python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(base64.b64decode(open(sys.argv[1]).read().split("-----")[2])).decode())' \
		"$WORK/home/clients/$1/config/public_key.pem"
}

# Alice and Bob know the directory as nymdir.test (the namespace's
# /etc/hosts); their provider is the testnet's.
for c in alice bob; do
	init_client "$c" --provider "$PROVIDER1_PUBKEY"
	use_directory "$c" "http://nymdir.test:$DPORT/api/presence/topology"
done
run alice; ALICE=$M
run bob; BOB=$M
check "alice's netd loads the topology from nymdir.test" \
	wait_for 30 grep -q "topology loaded from http://nymdir.test:$DPORT/" "$WORK/alice.log"
check "bob registers at the provider" wait_for 30 grep -q "registered at provider" "$WORK/bob.log"
check "alice registers at the provider" wait_for 30 grep -q "registered at provider" "$WORK/alice.log"
BOBID=$(pubkey bob)
# bob's registration reaches the directory within a presence interval
wait_for 30 sh -c "curl -s -m 2 '$DIRECTORY_TOPOLOGY_URL' | grep -q '$BOBID'"
# send: alice queues the message (refused while her topology lacks bob)
send() {
	"$SOCKREQ" "unix:$WORK/home/clients/alice/nymd.sock" "send:$BOBID:$PROVIDER1_PUBKEY:nss-hello" >>"$WORK/send.out" 2>&1
	grep -q '^send: ok' "$WORK/send.out"
}
check "alice queues a message to bob" wait_for 30 send
HEX=$(printf 'nss-hello' | od -An -tx1 | tr -d ' \n')
got() {
	"$SOCKREQ" "unix:$WORK/home/clients/bob/nymd.sock" fetch 2>/dev/null >>"$WORK/got"
	grep -q "^message: 9 $HEX\$" "$WORK/got"
}
check "alice's message reaches bob" wait_for 60 got
check "alice's netd was never killed by its sandbox" alive "$ALICE" alice
check "nor bob's" alive "$BOB" bob
# no_nss PID: PID's memory map (read: /proc files have no size) has no
# libnss_* (glibc 2.34 on has files and dns built in: nothing to force one)
no_nss() {
	[ -n "$1" ] && grep -q 'libc[.-]' "/proc/$1/maps" && lacks 'libnss_' "/proc/$1/maps"
}
check "no NSS module is mapped in netd" no_nss "$(role_pid "$ALICE" netd)"
kill -TERM "$ALICE" "$BOB"
wait "$ALICE"
wait "$BOB"

# A mixnode (sandboxed once started) knows the directory as nymdir.test:
# it resolves the name itself, so the module is never loaded in it.
NH="$WORK/nodehome"
"$top_builddir/src/nym-mixnode" init --id mixns --home "$NH" --host 127.0.0.1 \
	--port "$(free_port)" --layer 1 --directory "http://nymdir.test:$DPORT" \
	>"$WORK/init-mixns.out" 2>&1
unshare -m sh -c "$MOUNTS && exec \"\$@\"" sh "$top_builddir/src/nym-mixnode" run \
	--id mixns --home "$NH" --log-level debug >"$WORK/mixns.log" 2>&1 &
MIXNS=$!
track "$MIXNS"
check "a mixnode fetches the topology from nymdir.test, in its sandbox" \
	wait_for 30 grep -q "topology: 3 mixnodes" "$WORK/mixns.log"
check "the mixnode runs under seccomp, and no NSS module is mapped in it" sh -c \
	"grep -q '^Seccomp:[[:space:]]*2' /proc/$MIXNS/status && grep -q 'libc[.-]' /proc/$MIXNS/maps && ! grep -q libnss_ /proc/$MIXNS/maps"
kill -TERM "$MIXNS"
wait "$MIXNS"

# A provider known by a name: a topology (as ipv6.sh's) whose provider is
# fakeprov.test (hosts file), then provdns.test (nameserver only), at a
# listener that records the connection.
fake_topology() {
	mkdir -p "$WORK/fake/$1/api/presence"
	python3 - "$WORK/fake/$1/api/presence/topology" "$2" <<'PY'
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
}
# listener PORT FILE
listener() {
	python3 - "$1" "$2" <<'PY' &
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
}
FPORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/fake" "$FPORT" >/dev/null 2>&1 &
track $!
P1=$(free_port)
listener "$P1" "$WORK/accepted-hosts"
PROV=$(fake_topology hosts "fakeprov.test:$P1")
init_client carol --provider "$PROV"
use_directory carol "http://nymdir.test:$FPORT/hosts/api/presence/topology"
run carol; CAROL=$M
check "netd reaches the provider fakeprov.test by the namespace's hosts file" \
	wait_for 30 test -s "$WORK/accepted-hosts"
check "carol's netd is alive" alive "$CAROL" carol
kill -TERM "$CAROL"
wait "$CAROL"

P2=$(free_port)
listener "$P2" "$WORK/accepted-dns"
PROV=$(fake_topology dns "provdns.test:$P2")
init_client dave --provider "$PROV"
use_directory dave "http://nymdns.test:$FPORT/dns/api/presence/topology"
run dave; DAVE=$M
check "netd reaches provdns.test, a provider only the nameserver knows" \
	wait_for 30 test -s "$WORK/accepted-dns"
check "having fetched the topology from nymdns.test" \
	grep -q "topology loaded from http://nymdns.test:$FPORT/" "$WORK/dave.log"
check "the nameserver was asked for both, A and AAAA" sh -c \
	"grep -q '^1 nymdns.test' '$WORK/dns.log' && grep -q '^28 nymdns.test' '$WORK/dns.log' && grep -q '^1 provdns.test' '$WORK/dns.log'"
check "dave's netd is alive" alive "$DAVE" dave
kill -TERM "$DAVE"
wait "$DAVE"

# A root without "localhost" in /etc/hosts (debootstrap writes no hosts
# file): netd still reaches a directory at http://localhost (RFC 6761),
# and never asks the nameserver for it.
printf '127.0.0.1 nymdir.test fakeprov.test\n' >"$N/hosts"
P3=$(free_port)
listener "$P3" "$WORK/accepted-localhost"
PROV=$(fake_topology localhost "fakeprov.test:$P3")
init_client erin --provider "$PROV"
use_directory erin "http://localhost:$FPORT/localhost/api/presence/topology"
run erin; ERIN=$M
check "without localhost in /etc/hosts, netd loads the topology from http://localhost" \
	wait_for 30 grep -q "topology loaded from http://localhost:$FPORT/" "$WORK/erin.log"
check "and the nameserver was never asked for localhost" lacks "localhost" "$WORK/dns.log"
kill -TERM "$ERIN"
wait "$ERIN"
finish
