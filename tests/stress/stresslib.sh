# Shared helpers of tests/stress, tests/faults, tests/hostile and
# tests/security: a testnet of servers started by nym-testnet, and any
# number of nymd clients started here (nym-testnet starts at most 16),
# each process recorded by pid so that t_cleanup kills exactly those.
# Source after tests/integration/lib.sh.
# shellcheck shell=sh

B="$top_builddir/src"
D="$WORK/tn"
CH="$WORK/ch"
NYMLOAD="$top_srcdir/tests/tools/nymload.py"
CLIENTS_FILE="$WORK/clients"

st_down() {
	[ -f "$D/testnet.env" ] && "$B/nym-testnet" down --dir "$D" --grace 2 >/dev/null 2>&1
	t_cleanup
}
trap st_down EXIT

# st_skip_sanitizer WHAT: heavy tests are skipped in the sanitizer build
st_skip_sanitizer() {
	if [ -n "${NYMD_SANITIZER_BUILD:-}" ] && [ -z "${STRESS_FORCE:-}" ]; then
		echo "1..0 # SKIP $1 under the sanitizer build (NYMD_SANITIZER_BUILD set; STRESS_FORCE=1 runs it)"
		exit 0
	fi
}

# st_up K P [nym-testnet options]: the directory, K mixnodes a layer, P providers
st_up() {
	k=$1; p=$2; shift 2
	if ! "$B/nym-testnet" up --dir "$D" --mixes-per-layer "$k" --providers "$p" "$@" \
		>"$WORK/up.out" 2>&1; then
		sed 's/^/# /' "$WORK/up.out"
		return 1
	fi
	# shellcheck disable=SC1090
	. "$D/testnet.env"
	for v in $TESTNET_PROCESSES; do
		eval "track \${${v}_PID}"
	done
}

# st_client NAME PROVIDER_PUBKEY LOOP FETCH SEND DELAY LEVEL: init and run
st_client() {
	name=$1
	"$B/nymd" init --id "$name" --home "$CH" --directory "$DIRECTORY_TOPOLOGY_URL" \
		--provider "$2" --force >"$WORK/init-$name.out" 2>&1 || return 1
	cfg="$CH/clients/$name/config/config.toml"
	sed -i "s|^file = .*|file = \"$WORK/logs/$name.log\"|; s|^level = .*|level = \"$7\"|; \
s|^loop_cover_traffic_rate = .*|loop_cover_traffic_rate = $3|; \
s|^fetch_message_rate = .*|fetch_message_rate = $4|; \
s|^message_sending_rate = .*|message_sending_rate = $5|; \
s|^average_delay_ms = .*|average_delay_ms = $6|; \
s|^topology_refresh_seconds = .*|topology_refresh_seconds = 1|" "$cfg"
	"$B/nymd" run --id "$name" --home "$CH" >"$WORK/logs/run-$name.out" 2>&1 &
	eval "CPID_$name=$!"
	track $!
	pub=$(sed -n '2,/END/p' "$CH/clients/$name/config/public_key.pem" | grep -v END | tr -d '\n')
	key=$(python3 -c 'import base64,sys; d=base64.b64decode(sys.argv[1]); print(base64.urlsafe_b64encode(d[-32:]).decode())' "$pub")
	echo "$name $CH/clients/$name/nymd.sock $key $2" >>"$CLIENTS_FILE"
}

# registered N: the topology lists N clients with the providers
st_registered() {
	python3 - "$DIRECTORY_TOPOLOGY_URL" "$1" <<'PY'
import json, sys, urllib.request
t = json.load(urllib.request.urlopen(sys.argv[1], timeout=2))
n = sum(len(p.get("registeredClients") or []) for p in t.get("MixProviderNodes") or [])
sys.exit(0 if n >= int(sys.argv[2]) else 1)
PY
}

# st_clients N LOOP FETCH SEND DELAY LEVEL: N clients c1..cN round the providers
st_clients() {
	n=$1; shift
	mkdir -p "$WORK/logs" && chmod 777 "$WORK/logs"
	: >"$CLIENTS_FILE"
	i=1
	while [ "$i" -le "$n" ]; do
		pv=$(( (i - 1) % TESTNET_PROVIDERS + 1 ))
		eval "prov=\$PROVIDER${pv}_PUBKEY"
		st_client "c$i" "$prov" "$@" || return 1
		i=$((i + 1))
	done
	for s in $(awk '{print $2}' "$CLIENTS_FILE"); do
		wait_for 60 test -S "$s" || { diag "no socket $s"; return 1; }
	done
	wait_for 60 st_registered "$n" || { diag "not all $n clients registered"; return 1; }
	sleep 1.5	# one more topology refresh: every client knows every other
}

# The pids of a nymd master and its children.
st_family() {
	echo "$1"
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep .
}

# st_all_pids: "LABEL PID" of every server and every nymd process
st_all_pids() {
	for v in $TESTNET_PROCESSES; do
		eval "echo \"$v \${${v}_PID}\""
	done
	for c in $(awk '{print $1}' "$CLIENTS_FILE"); do
		eval "m=\$CPID_$c"
		for p in $(st_family "$m"); do
			role=$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | awk '{print $2}')
			[ "$p" = "$m" ] && role=master
			echo "$c.${role:-master} $p"
		done
	done
}

# st_proc_stats FILE: CPU seconds and memory of every process, from /proc
st_proc_stats() {
	hz=$(getconf CLK_TCK)
	st_all_pids | while read -r label pid; do
		[ -r "/proc/$pid/stat" ] || continue
		cpu=$(sed 's/^.*) //' /proc/"$pid"/stat | awk -v hz="$hz" '{printf "%.2f", ($12 + $13) / hz}')
		rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
		hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$pid"/status)
		echo "$label $pid cpu_s=$cpu rss_kb=$rss peak_rss_kb=$hwm"
	done >"$1"
}

# sval FILE KEY: a value of a nymload summary
sval() { sed -n "s/^$2=//p" "$1"; }
