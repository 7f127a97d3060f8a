#!/bin/sh
# Anonymous-reply benchmark (docs/replies.md), run by `make bench`
# (tests/bench/run-bench.sh): on a local mixnet with per-hop delays ~0,
# the round trip alice -> bob (a message with one reply block) -> alice (bob's
# reply through it, sent as soon as bob's fetch shows the message), p50 and
# p99, against the round trip of a `details` request on alice's socket in
# the same run. Reply-block and reply-packet creation in X25519-equivalents
# are sphinx-bench's rows ("6-hop reply block creation", "reply packet
# creation").
# Environment: top_builddir, top_srcdir; BENCH_TMP. Tunables: RB_COUNT
# (round trips), RB_RATE (the clients' Poisson rates).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
: "${BENCH_TMP:=$(mktemp -d /tmp/replies-bench.XXXXXX)}"
COUNT=${RB_COUNT:-50}
RATE=${RB_RATE:-500}
B="$top_builddir/src"
W="$BENCH_TMP/replies"
D="$W/tn"
rm -rf "$W"
mkdir -p "$W"
trap '"$B/nym-testnet" down --dir "$D" >/dev/null 2>&1' EXIT

row() { echo "| $1 | $2 | $3 | $4 | $5 |"; }
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print('%.2f' % (a / b) if b else 'n/a')" "$1" "$2"; }

echo "cmd: cd $top_builddir && top_builddir=\$PWD top_srcdir=$top_srcdir sh $top_srcdir/tests/bench/replies-bench.sh"
if ! "$B/nym-testnet" up --dir "$D" --clients alice,bob --delay-ms 0 --send-rate "$RATE" \
	--fetch-rate "$RATE" --loop-rate 10 >"$W/up.out" 2>&1; then
	sed 's/^/nym-testnet: /' "$W/up.out"
	exit 1
fi
. "$D/testnet.env"
PYTHONPATH="$top_srcdir/python" python3 - "$CLIENT_alice_SOCKET" "$CLIENT_bob_SOCKET" \
	"$CLIENT_bob_PUBKEY" "$COUNT" >"$W/out" 2>&1 <<'PY'
import statistics, sys, time
import nym
a = nym.connect_unix(sys.argv[1], timeout=30)
b = nym.connect_unix(sys.argv[2], timeout=30)
bob, count = sys.argv[3], int(sys.argv[4])
to = next(c for c in a.clients(refresh=True) if c.id == bob)
def wait(fetch, want):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        for m in fetch():
            if m.message == want:
                return m
        time.sleep(0.0005)
    raise SystemExit("timed out waiting for %r" % want)
rt, details = [], []
for i in range(count):
    t = time.monotonic(); a.details(); details.append((time.monotonic() - t) * 1000)
    msg = b"rt-%d" % i
    t0 = time.monotonic()
    a.send(to, msg, reply_surbs=1)
    m = wait(b.fetch_received, msg)
    b.reply(m.sender_tag, b"re-" + msg)
    wait(a.fetch_received, b"re-" + msg)
    rt.append((time.monotonic() - t0) * 1000)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1)]
print("got", len(rt))
print("p50 %.3f" % q(rt, 50))
print("p99 %.3f" % q(rt, 99))
print("d50 %.3f" % q(details, 50))
print("d99 %.3f" % q(details, 99))
PY
rc=$?
if [ $rc != 0 ]; then
	sed 's/^/replies-bench: /' "$W/out"
	exit 1
fi
v() { sed -n "s/^$1 //p" "$W/out"; }
row "alice→bob→alice reply round trip p50 ($(v got) round trips, zero-delay testnet)" "$(v p50)" ms \
	"details round trip p50 $(v d50) ms" "$(ratio "$(v p50)" "$(v d50)")"
row "alice→bob→alice reply round trip p99" "$(v p99)" ms \
	"details round trip p99 $(v d99) ms" "$(ratio "$(v p99)" "$(v d99)")"
