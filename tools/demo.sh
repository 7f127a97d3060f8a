#!/bin/sh
# The demo: builds nymd, initialises a client "alice" in a scratch home and
# runs the daemon: its four processes start (master, keyd, netd, rpcd),
# answer on the local socket, and stop cleanly on SIGTERM.
# (The local mixnet and a message from alice to bob come with nym-testnet.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/build.sh" default
B="$top/build/default"
H=$(mktemp -d /tmp/nymd-demo.XXXXXX)
chmod 755 "$H"
trap 'rm -rf "$H"' EXIT
if [ "$(id -u)" = 0 ] && ! id nymd >/dev/null 2>&1; then
	echo "Creating the system user nymd that the daemon runs as when started by root"
	useradd --system --no-create-home --shell /usr/sbin/nologin nymd
fi

echo "\$ nymd init --id alice --local"
"$B/src/nymd" init --id alice --local --home "$H"
sed -i 's|^file = .*|file = ""|' "$H/clients/alice/config/config.toml"
echo
echo "\$ nymd run --id alice"
"$B/src/nymd" run --id alice --home "$H" &
M=$!
sleep 2
echo
echo "The daemon's processes:"
ps -o pid,ppid,user,args --ppid "$M" -p "$M" | sed 's/^/    /'
for p in $(cat /proc/"$M"/task/*/children); do
	printf '    %s: %s\n' "$(tr '\0' ' ' </proc/"$p"/cmdline)" \
		"$(grep -E '^(Seccomp|NoNewPrivs):' /proc/"$p"/status | tr -s '\t\n' '  ')"
done
echo
echo "Asking rpcd for our details on the unix socket:"
make -C "$B" tests/tools/sockreq >/dev/null
"$B/tests/tools/sockreq" "unix:$H/clients/alice/nymd.sock" details | sed 's/^/    /'
echo
echo "Stopping with SIGTERM:"
kill -TERM "$M"
wait "$M" && echo "    nymd stopped cleanly"
