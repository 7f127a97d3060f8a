#!/bin/sh
# Proxies are a decision (issue 22): with http_proxy, HTTPS_PROXY,
# all_proxy and their kin pointing at a dead port, init and run fetch the
# directory directly; with directory_proxy set, run fetches it through
# that proxy and says so.
. "$(dirname "$0")/lib.sh"
plan 6

fixed_directory
DEAD=$(free_port)
PROXY_ENV="http_proxy=http://127.0.0.1:$DEAD HTTP_PROXY=http://127.0.0.1:$DEAD https_proxy=http://127.0.0.1:$DEAD HTTPS_PROXY=http://127.0.0.1:$DEAD all_proxy=socks5://127.0.0.1:$DEAD ALL_PROXY=socks5://127.0.0.1:$DEAD no_proxy= NO_PROXY="

# init picks a provider from the directory, by a name (dir.test, in a
# private /etc/hosts) so that no loopback exception can hide the proxy
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	printf '127.0.0.1 localhost dir.test\n' >"$WORK/hosts"
	url=$(echo "$TOPOLOGY_URL" | sed 's/127.0.0.1/dir.test/')
	env $PROXY_ENV unshare -m sh -c "mount --bind '$WORK/hosts' /etc/hosts && exec '$NYMD' init --id p1 --home '$WORK/home' --directory '$url'" \
		>"$WORK/init.out" 2>"$WORK/init.err"
	check "init with proxy variables set fetches the directory directly and picks its provider" \
		grep -q "^provider_id = \"$PROVIDER\"" "$WORK/home/clients/p1/config/config.toml"
else
	echo "ok 1 # SKIP needs root and unshare -m for a private /etc/hosts"
fi

init_client alice --provider "$PROVIDER"
use_directory alice "$TOPOLOGY_URL"
env $PROXY_ENV "$NYMD" run --id alice --home "$WORK/home" >"$WORK/run-alice.out" 2>"$WORK/run-alice.err" &
M=$!
track "$M"
check "run with proxy variables set loads the topology directly" wait_for 15 grep -q "topology loaded from $TOPOLOGY_URL" "$WORK/alice.log"
kill -TERM "$M"
wait "$M"

# directory_proxy: a small HTTP proxy that serves the topology and
# records the request line it got
PPORT=$(free_port)
python3 - "$PPORT" "$WORK/dir/api/presence/topology" "$WORK/proxied" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
body = open(sys.argv[2], "rb").read()
while True:
    c, _ = s.accept()
    req = c.recv(65536).split(b"\r\n")[0]
    open(sys.argv[3], "ab").write(req + b"\n")
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
PY
track $!
wait_for 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $PPORT)).close()"
init_client bob --provider "$PROVIDER"
use_directory bob "$TOPOLOGY_URL"
sed -i "s|^directory_proxy = .*|directory_proxy = \"http://127.0.0.1:$PPORT\"|" "$WORK/home/clients/bob/config/config.toml"
check "init writes the directory_proxy key, empty" grep -qx 'directory_proxy = ""' "$WORK/home/clients/alice/config/config.toml"
env $PROXY_ENV "$NYMD" run --id bob --home "$WORK/home" >"$WORK/run-bob.out" 2>"$WORK/run-bob.err" &
M=$!
track "$M"
check "with directory_proxy the topology comes through that proxy" wait_for 15 grep -q "topology loaded from $TOPOLOGY_URL" "$WORK/bob.log"
check "which got the directory request" grep -q "^GET $TOPOLOGY_URL HTTP/1.1" "$WORK/proxied"
check "and netd says which proxy it uses" grep -q "fetched through the proxy http://127.0.0.1:$PPORT (directory_proxy)" "$WORK/bob.log"
kill -TERM "$M"
wait "$M"
finish
