#!/bin/sh
# One ack schedule (docs/ipc.md): the provider cannot tell from when a
# delivery is acknowledged whether it was a real message or a loop cover.
# On a testnet whose provider logs, per acknowledged delivery, how long
# after it was handed out the ack came, alice sends 300 messages to bob
# while bob's loop covers run; bob's log says which delivery ids were
# messages and which loop covers. A two-sample Kolmogorov-Smirnov test
# over the provider-side delays of each must not tell them apart (p >
# 0.01). With real messages acked only after rpcd stored them and covers
# at once, it did (p < 1e-30).
. "$(dirname "$0")/lib.sh"
plan 5

B="$top_builddir/src"
D="$WORK/tn"
down() { "$B/nym-testnet" down --dir "$D" >/dev/null 2>&1; }
trap 'down; t_cleanup' EXIT
testnet_up "nym-testnet up with alice and bob" --clients alice,bob --delay-ms 2 \
	--send-rate 50 --fetch-rate 10 --loop-rate 10
A="unix:$CLIENT_alice_SOCKET"
BOB="$CLIENT_bob_PUBKEY:$CLIENT_bob_PROVIDER"

# The provider again, logging at debug level (its per-delivery ack delays).
kill -TERM "$PROVIDER1_PID"
wait_for 10 sh -c "! kill -0 $PROVIDER1_PID"
sed -i 's/^level = .*/level = "debug"/' "$D/nodes/providers/provider1/config.toml"
"$PROVIDER1_EXE" run --id provider1 --home "$D/nodes" >"$WORK/prov.log" 2>&1 &
PROV=$!
track "$PROV"
# bob at debug level too (SIGHUP rereads it): which delivery was what.
sed -i 's/^level = .*/level = "debug"/' "$D/clients-home/clients/bob/config/config.toml"
kill -HUP "$CLIENT_bob_PID"
check "the provider is back, logging at debug level, and bob pulls from it" \
	wait_for 30 sh -c "grep -q 'acknowledged .* ms after it was handed out' '$WORK/prov.log' &&
		grep -q 'delivery [0-9]*: loop cover back' '$CLIENT_bob_LOG'"

# 300 messages, one every 100 ms, as bob's loop covers come (10 a second):
# messages that came in a burst would share a few batches and so a few
# ack times, and the samples would not be independent.
k=1
while [ "$k" -le 300 ]; do
	"$SOCKREQ" "$A" "send:$BOB:m-$k" >>"$WORK/sent"
	sleep 0.1
	k=$((k + 1))
done
check "300 messages are accepted" test "$(grep -c '^send: ok' "$WORK/sent")" = 300

# samples: "real MS" and "loop MS" lines, one per acknowledged delivery of bob's
samples() {
	python3 - "$CLIENT_bob_LOG" "$WORK/prov.log" >"$WORK/samples" <<'PY'
import re, sys
kind = {}
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"delivery (\d+): (loop cover back|a message, stored)", line)
    if m:
        kind[m.group(1)] = "loop" if m.group(2).startswith("loop") else "real"
delay = {}
for line in open(sys.argv[2], errors="replace"):
    m = re.search(r"delivery (\d+) acknowledged (\d+) ms after", line)
    if m and m.group(1) in kind:
        delay[m.group(1)] = int(m.group(2))
for i, ms in delay.items():
    print(kind[i], ms)
PY
	[ "$(grep -c '^real' "$WORK/samples")" -ge 250 ] &&
		[ "$(grep -c '^loop' "$WORK/samples")" -ge 250 ]
}
# every 2 s for up to 2 minutes (a python start is slow under load)
enough() {
	i=0
	while [ "$i" -lt 60 ]; do
		samples && return 0
		sleep 2
		i=$((i + 1))
	done
	return 1
}
check "at least 250 acknowledged messages and 250 loop covers of bob's" enough

# ks: two-sample Kolmogorov-Smirnov, asymptotic p-value (stdlib only)
ks() {
	python3 - "$WORK/samples" <<'PY'
import math, sys
real, loop = [], []
for line in open(sys.argv[1]):
    k, v = line.split()
    (real if k == "real" else loop).append(int(v))
real.sort(); loop.sort()
n1, n2 = len(real), len(loop)
i = j = 0; d = 0.0
for x in sorted(set(real + loop)):
    while i < n1 and real[i] <= x: i += 1
    while j < n2 and loop[j] <= x: j += 1
    d = max(d, abs(i / n1 - j / n2))
ne = n1 * n2 / (n1 + n2)
lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
p = min(max(p, 0.0), 1.0)
med = lambda a: a[len(a) // 2]
print(f"# real n={n1} median={med(real)} ms, loop n={n2} median={med(loop)} ms, D={d:.3f} p={p:.3g}")
sys.exit(0 if p > 0.01 else 1)
PY
}
ks >"$WORK/ks.out"
KS=$?
cat "$WORK/ks.out"
check "the provider-side ack delays of messages and loop covers are one distribution (KS p > 0.01)" [ "$KS" = 0 ]
finish
