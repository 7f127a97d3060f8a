# Shared helpers of the integration tests: TAP output, a private work
# directory, and cleanup of every process a test started (by PID).
# shellcheck shell=sh

: "${top_builddir:=$(pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
NYMD="$top_builddir/src/nymd"
SOCKREQ="$top_builddir/tests/tools/sockreq"
T_NUM=0
T_FAILED=0
T_PIDS=""
WORK=$(mktemp -d /tmp/nymd-test.XXXXXX)
chmod 755 "$WORK"
[ -n "${KEEP_WORK:-}" ] && echo "# work directory: $WORK"

# After a failure, the tail of every log and captured output of the test,
# so that a CI run's output alone explains it.
t_dump_logs() {
	for f in "$WORK"/*.log "$WORK"/*.err "$WORK"/out "$WORK"/err; do
		[ -s "$f" ] || continue
		# Debug lines (loop covers coming back, many a second) would
		# hide the warnings that explain a failure.
		echo "# ---- last lines of ${f#"$WORK"/} (debug lines left out)"
		grep -v ' debug: ' "$f" | tail -n 25 | sed 's/^/#   /'
	done
}

t_cleanup() {
	[ "$T_FAILED" -gt 0 ] && t_dump_logs
	for p in $T_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	# children of a killed master die with it (PR_SET_PDEATHSIG)
	sleep 0.2
	if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; fi
}
trap t_cleanup EXIT

plan() { echo "1..$1"; }
ok() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $*"; }
# NYMD_TEST_FAILFAST (set by the mutation check, where one failed check is
# enough): the test ends at its first failed check.
not_ok() {
	T_NUM=$((T_NUM + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_NUM - $*"
	if [ -n "${NYMD_TEST_FAILFAST:-}" ]; then exit 1; fi
}
# check "description" command...: ok if the command succeeds
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
diag() { echo "# $*"; }
# lacks PATTERN FILE...: no line of the files matches the basic regular
# expression; otherwise the lines that do, as diagnostics, and failure.
lacks() {
	pat=$1; shift
	if grep -h -e "$pat" "$@" >"$WORK/lacks.out" 2>/dev/null; then
		head -n 10 "$WORK/lacks.out" | sed 's/^/# found: /'
		return 1
	fi
	return 0
}
finish() { [ "$T_FAILED" -eq 0 ]; exit $?; }
track() { T_PIDS="$T_PIDS $1"; }

# wait_for SECONDS command...: polls every 50 ms
# (three times as long in the sanitizer build, where everything is slower).
# Its counters are local: a command that itself calls wait_for (or a
# caller's loop over i) must not cut the outer wait short (status.sh 6
# gave up after one try under ASan, when the inner wait had run its i up
# to the outer limit).
wait_for() {
	local _wf_limit _wf_i
	_wf_limit=$1; shift
	[ -n "${NYMD_SANITIZER_BUILD:-}" ] && _wf_limit=$((_wf_limit * 3))
	_wf_i=0
	while [ "$_wf_i" -lt $((_wf_limit * 20)) ]; do
		if "$@" 2>/dev/null; then return 0; fi
		sleep 0.05
		_wf_i=$((_wf_i + 1))
	done
	return 1
}

# The pid of ROLE's process under master pid MASTER, by process title.
role_pid() {
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		if tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | grep -q "^nymd: $2 "; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# A free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# When tests run as root, nymd drops to this user.
if [ "$(id -u)" = 0 ] && ! id nymd >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin nymd 2>/dev/null || true
fi

# init_client ID [extra init args]: a client under $WORK/home, logging to a file
init_client() {
	id=$1; shift
	"$NYMD" init --id "$id" --home "$WORK/home" --directory "http://127.0.0.1:1/none" "$@" >"$WORK/init-$id.out" 2>"$WORK/init-$id.err" || return 1
	sed -i "s|^file = .*|file = \"$WORK/$id.log\"|; s|^level = .*|level = \"debug\"|" \
		"$WORK/home/clients/$id/config/config.toml"
}

# start_daemon ID [args]: nymd run in the background; sets DAEMON_PID
start_daemon() {
	id=$1; shift
	"$NYMD" run --id "$id" --home "$WORK/home" "$@" >"$WORK/run-$id.out" 2>"$WORK/run-$id.err" &
	DAEMON_PID=$!
	track "$DAEMON_PID"
}

# testnet_up DESCRIPTION ARGS...: `nym-testnet up --dir $D ARGS`; on success
# ok DESCRIPTION and its testnet.env read, otherwise its output, not_ok and
# exit (the caller's EXIT trap takes the testnet down).
testnet_up() {
	desc=$1; shift
	if ! "$top_builddir/src/nym-testnet" up --dir "$D" "$@" >"$WORK/up.out" 2>&1; then
		sed 's/^/# /' "$WORK/up.out"
		not_ok "$desc"
		exit 1
	fi
	ok "$desc"
	. "$D/testnet.env"
}

# need_tmpfs: skips the whole test (a TAP skip plan) unless it can mount a
# small tmpfs of its own: as root, where mounts are allowed.
need_tmpfs() {
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP needs root to mount a small tmpfs"
		exit 0
	fi
	mkdir "$WORK/probe"
	if ! mount -t tmpfs -o size=64k tmpfs "$WORK/probe" 2>/dev/null; then
		echo "1..0 # SKIP cannot mount a tmpfs here"
		exit 0
	fi
	umount "$WORK/probe"
}

# fetch_lines NYMCTL SOCKET N FILE: fetches into FILE (emptied first) until
# it holds N lines, or nothing new came for 20 s.
fetch_lines() {
	: >"$4"
	idle=0
	while [ "$idle" -lt 40 ]; do
		before=$(wc -l <"$4")
		"$1" --socket "$2" fetch >>"$4" 2>/dev/null
		now=$(wc -l <"$4")
		[ "$now" -ge "$3" ] && break
		if [ "$now" = "$before" ]; then idle=$((idle + 1)); else idle=0; fi
		sleep 0.5
	done
}

all_roles_up() {
	role_pid "$1" keyd >/dev/null && role_pid "$1" netd >/dev/null && role_pid "$1" rpcd >/dev/null
}

# fixed_directory: serves a fixed topology (3 mixnodes, a provider with two
# registered clients) with python's static HTTP server; sets PROVIDER (the
# provider's id), CLIENT1 and CLIENT2 (the clients' ids) and TOPOLOGY_URL.
fixed_directory() {
	mkdir -p "$WORK/dir/api/presence"
	python3 - "$WORK/dir/api/presence/topology" <<'PY'
import base64, json, os, sys
k = lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
prov, c1, c2 = k(), k(), k()
json.dump({
  "MixNodes": [{"host": "127.0.0.1:%d" % (9100 + l), "pubKey": k(), "layer": l,
                "lastSeen": 1572258570490299400} for l in (1, 2, 3)],
  "MixProviderNodes": [{"host": "127.0.0.1:9200", "pubKey": prov,
      "registeredClients": [{"pubKey": c1}, {"pubKey": c2}],
      "lastSeen": 1572258572070089000}],
}, open(sys.argv[1], "w"))
open(sys.argv[1] + ".ids", "w").write("%s\n%s\n%s\n" % (prov, c1, c2))
PY
	PROVIDER=$(sed -n 1p "$WORK/dir/api/presence/topology.ids")
	CLIENT1=$(sed -n 2p "$WORK/dir/api/presence/topology.ids")
	CLIENT2=$(sed -n 3p "$WORK/dir/api/presence/topology.ids")
	fd_port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$WORK/dir" "$fd_port" >/dev/null 2>&1 &
	track $!
	TOPOLOGY_URL="http://127.0.0.1:$fd_port/api/presence/topology"
	# python3 takes a second or more to start on a loaded machine: a
	# client started before it listens finds no directory (proxy.sh 1)
	wait_for 30 python3 -c "import socket; socket.create_connection(('127.0.0.1', $fd_port)).close()" ||
		echo "# the fixed directory on port $fd_port did not start listening" >&2
}

# use_directory ID URL: points client ID's config at a topology URL
use_directory() {
	sed -i "s|^directory_server_topology = .*|directory_server_topology = \"$2\"|" \
		"$WORK/home/clients/$1/config/config.toml"
}

# need_netns: skips the whole test (a TAP skip plan) unless it can make a
# network namespace of its own (root, CONFIG_NET_NS, iproute2) and a veth
# pair in it, as nym-testnet up --netns does.
need_netns() {
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP network namespaces need root"
		exit 0
	fi
	if ! command -v ip >/dev/null 2>&1; then
		echo "1..0 # SKIP no ip(8) (iproute2) to make network namespaces"
		exit 0
	fi
	probe_ns="nymtest-probe-$$"
	if ! ip netns add "$probe_ns" 2>"$WORK/netns-probe.err"; then
		echo "1..0 # SKIP cannot make a network namespace here: $(head -n 1 "$WORK/netns-probe.err")"
		exit 0
	fi
	if ! ip -n "$probe_ns" link add p0 type veth peer name p1 2>"$WORK/netns-probe.err"; then
		ip netns del "$probe_ns"
		echo "1..0 # SKIP cannot make a veth pair in a namespace: $(head -n 1 "$WORK/netns-probe.err")"
		exit 0
	fi
	ip netns del "$probe_ns"
}

# netem_works: can tc(8) put a netem qdisc on a link (sch_netem)?
netem_works() {
	probe_ns="nymtest-netem-$$"
	ip netns add "$probe_ns" 2>/dev/null || return 1
	ip -n "$probe_ns" link add p0 type veth peer name p1 &&
		tc -n "$probe_ns" qdisc add dev p0 root netem delay 1ms >/dev/null 2>&1
	rc=$?
	ip netns del "$probe_ns"
	return $rc
}

# netns_of_testnet DIR: the namespaces of the testnet in DIR that exist
netns_of_testnet() {
	(
		# shellcheck disable=SC1091
		. "$1/testnet.env" || exit 1
		for ns in $TESTNET_NAMESPACES; do
			[ -e "/run/netns/$ns" ] && echo "$ns"
		done
	)
}
