#!/bin/sh
# Load: a testnet of 2 mixnodes a layer and 2 providers, STRESS_CLIENTS
# nymd clients (default 20; `make stress` runs 100), each sending
# STRESS_MESSAGES messages (default 10) to random other clients. Every
# accepted message arrives exactly once. Records delivered messages per
# second, latency percentiles and each process's CPU time and memory
# (from /proc) in the TAP diagnostics and in $STRESS_REPORT if set.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/stresslib.sh"
st_skip_sanitizer "the load test"

N=${STRESS_CLIENTS:-20}
M=${STRESS_MESSAGES:-10}
# Per-client Poisson rates: the sending rate bounds each client's
# throughput; cover traffic costs every node CPU whatever the load.
# Above 40 clients the default rates are lower: 2 cores carry the cover
# traffic of every client through five hops.
if [ "$N" -gt 40 ]; then dr=5; else dr=20; fi
SEND_RATE=${STRESS_SEND_RATE:-$dr}
LOOP_RATE=${STRESS_LOOP_RATE:-1}
FETCH_RATE=${STRESS_FETCH_RATE:-$((dr / 2))}
DURATION=${STRESS_DURATION:-$((M * 2 / dr + 1))}
plan 8

t0=$(date +%s)
check "testnet up: 2 mixnodes a layer, 2 providers" st_up 2 2 || exit 1
check "$N nymd clients running and registered" \
	st_clients "$N" "$LOOP_RATE" "$FETCH_RATE" "$SEND_RATE" 2 info || exit 1
diag "setup took $(( $(date +%s) - t0 )) s"
st_proc_stats "$WORK/stats-before"

python3 "$NYMLOAD" --clients "$CLIENTS_FILE" --messages "$M" --duration "$DURATION" \
	--drain 90 --out "$WORK/load" >"$WORK/load.out" 2>&1
S="$WORK/load/summary"
st_proc_stats "$WORK/stats-after"
sed 's/^/# /' "$S"

acc=$(sval "$S" accepted)
check "all $((N * M)) messages accepted (got $acc)" test "$acc" = $((N * M))
check "every accepted message delivered (missing $(sval "$S" missing))" \
	test "$(sval "$S" missing)" = 0
check "none delivered twice (duplicates $(sval "$S" duplicates))" \
	test "$(sval "$S" duplicates)" = 0
check "nothing delivered that was not sent" test "$(sval "$S" stray)" = 0
diag "throughput: $(sval "$S" msgs_per_s) delivered messages/s over $(sval "$S" span_s) s"
diag "latency ms: p50 $(sval "$S" lat_p50_ms) p90 $(sval "$S" lat_p90_ms) p99 $(sval "$S" lat_p99_ms) max $(sval "$S" lat_max_ms)"

# Per process: CPU seconds used during the run, resident and peak memory.
python3 - "$WORK/stats-before" "$WORK/stats-after" >"$WORK/procs" <<'PY'
import sys, collections
def load(p):
    d = {}
    for l in open(p):
        f = l.split()
        d[f[0]] = {k: float(v) for k, v in (x.split("=") for x in f[2:])}
    return d
b, a = load(sys.argv[1]), load(sys.argv[2])
groups = collections.defaultdict(list)
for label, v in sorted(a.items()):
    cpu = v["cpu_s"] - b.get(label, {}).get("cpu_s", 0)
    kind = label.split(".")[-1] if "." in label else label.rstrip("0123456789_").rstrip("_")
    groups[kind].append((cpu, v["rss_kb"], v["peak_rss_kb"]))
    print("proc %-14s cpu_s %6.2f rss_kb %7d peak_rss_kb %7d" % (label, cpu, v["rss_kb"], v["peak_rss_kb"]))
for kind, xs in sorted(groups.items()):
    print("kind %-10s n %3d cpu_s total %6.2f max %5.2f  rss_kb max %7d  peak_rss_kb max %7d" % (
        kind, len(xs), sum(x[0] for x in xs), max(x[0] for x in xs),
        max(x[1] for x in xs), max(x[2] for x in xs)))
PY
grep '^kind' "$WORK/procs" | sed 's/^/# /'
[ -n "${STRESS_VERBOSE:-}" ] && grep '^proc' "$WORK/procs" | sed 's/^/# /'
check "CPU and memory read from /proc for every process" test -s "$WORK/procs"
alive=0
for p in $(st_all_pids | awk '{print $2}'); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "every server and nymd process still runs" \
	test "$alive" = "$(st_all_pids | wc -l)"
if [ -n "${STRESS_REPORT:-}" ]; then
	{ echo "clients=$N messages=$M send_rate=$SEND_RATE"; cat "$S"; cat "$WORK/procs"; } >"$STRESS_REPORT"
fi
diag "total $(( $(date +%s) - t0 )) s"
finish
