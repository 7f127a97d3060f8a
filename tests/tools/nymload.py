#!/usr/bin/env python3
"""Load driver of tests/stress and tests/faults (python standard library only).

Usage: nymload.py --clients FILE --messages M --out DIR
                  [--duration S] [--drain S] [--seed N]

FILE has one client a line: "NAME SOCKET PUBKEY PROVIDER". Each client
gets a thread with its own connection to its nymd unix socket; it sends
M messages to random other clients, spread evenly over S seconds, and
fetches its own mailbox every few tens of milliseconds. A connection
that breaks (a nymd role killed) is opened again. Each message carries
the run id, its sender, sequence number, recipient and the wall-clock
time just before its send request was written, so that the receiver
computes its latency.

Outcome of a send: "accepted" (send: ok), "refused" (an exception) or
"unknown" (the connection broke before the answer: it may or may not
have been committed). After sending, every client keeps fetching until
each accepted message has arrived or --drain seconds have passed, then
one more second to catch duplicates.

Writes DIR/summary (key=value lines), DIR/missing (accepted messages that
never arrived: "ACCEPT_TIME SENDER SEQ RECIPIENT"), DIR/duplicates,
DIR/latency (one latency in ms a line). No loss is excused: with
acknowledgements and retransmission (docs/acks.md), an accepted message
that never arrives is lost, whatever crashed.
"""
import argparse
import os
import random
import sys
import threading
import time

from nymsock import Conn, pb_fields, req_fetch, req_send


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}		# (sender, seq) -> [status, t_send_ns, recipient]
        self.got = {}		# (sender, seq) -> count
        self.latency_ms = []
        self.first_send = None
        self.last_recv = None
        self.reconnects = 0
        self.errors = 0


def client_thread(a, me, clients, st, run_id, start_at, stop_ev):
    name, sock = me[0], me[1]
    others = [c for c in clients if c[0] != name]
    rnd = random.Random("%s-%s" % (a.seed, name))
    conn = None
    seq = 0
    interval = a.duration / max(1, a.messages)
    next_send = start_at + rnd.uniform(0, interval)
    prefix = ("%s|" % run_id).encode()

    def connect():
        nonlocal conn
        while not stop_ev.is_set():
            try:
                conn = Conn(sock, timeout=15.0)
                return True
            except OSError:
                time.sleep(0.1)
        return False

    if not connect():
        return
    while not stop_ev.is_set():
        now = time.time()
        try:
            if seq < a.messages and now >= next_send:
                to = rnd.choice(others)
                seq += 1
                t_ns = time.time_ns()
                body = prefix + ("%s|%d|%s|%d|" % (name, seq, to[0], t_ns)).encode()
                body += b"." * max(0, a.size - len(body))
                with st.lock:
                    st.sent[(name, seq)] = ["unknown", t_ns, to[0]]
                    if st.first_send is None or t_ns < st.first_send:
                        st.first_send = t_ns
                num, v = conn.request(req_send(to[2], to[3], body))
                with st.lock:
                    st.sent[(name, seq)][0] = "accepted" if num == 2 else "refused"
                next_send += interval
                continue
            num, v = conn.request(req_fetch())
            t_r = time.time_ns()
            if num == 3:
                for f, _, m in pb_fields(v):
                    if f != 1 or not m.startswith(prefix):
                        continue
                    parts = m.split(b"|")
                    key = (parts[1].decode(), int(parts[2]))
                    with st.lock:
                        st.got[key] = st.got.get(key, 0) + 1
                        if st.got[key] == 1:
                            st.latency_ms.append((t_r - int(parts[4])) / 1e6)
                        st.last_recv = t_r
        except (OSError, EOFError, ValueError):
            with st.lock:
                st.reconnects += 1
            try:
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
            if not connect():
                return
            continue
        time.sleep(a.poll_ms / 1000.0)
    conn.close()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(p / 100.0 * len(xs) + 0.5) - 1))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", required=True)
    ap.add_argument("--messages", type=int, default=10)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--drain", type=float, default=60.0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    clients = [l.split() for l in open(a.clients) if l.strip()]
    st = State()
    run_id = "L%d" % os.getpid()
    stop_ev = threading.Event()
    start_at = time.time() + 0.2
    ths = [threading.Thread(target=client_thread,
                            args=(a, c, clients, st, run_id, start_at, stop_ev),
                            daemon=True) for c in clients]
    for t in ths:
        t.start()
    total = len(clients) * a.messages
    deadline = start_at + a.duration + a.drain
    all_in = None
    while time.time() < deadline:
        time.sleep(0.1)
        with st.lock:
            done_sending = len(st.sent) == total and \
                all(v[0] != "unknown" or k[1] < a.messages
                    for k, v in st.sent.items())
            acc = [k for k, v in st.sent.items() if v[0] == "accepted"]
            if done_sending and all(k in st.got for k in acc):
                all_in = time.time()
                break
    # One more second of fetching to catch duplicates.
    time.sleep(1.0 if all_in else 0.2)
    stop_ev.set()
    for t in ths:
        t.join(timeout=20)

    with st.lock:
        acc = {k: v for k, v in st.sent.items() if v[0] == "accepted"}
        unk = {k: v for k, v in st.sent.items() if v[0] == "unknown"}
        refused = sum(1 for v in st.sent.values() if v[0] == "refused")
        missing = [k for k in acc if k not in st.got]
        dups = [k for k, n in st.got.items() if n > 1]
        stray = [k for k in st.got if k not in st.sent]
        unk_arrived = sum(1 for k in unk if k in st.got)
        lat = list(st.latency_ms)
        span = ((st.last_recv or 0) - (st.first_send or 0)) / 1e9
    os.makedirs(a.out, exist_ok=True)
    delivered = len(st.got)
    rows = [
        ("clients", len(clients)),
        ("attempted", len(st.sent)),
        ("accepted", len(acc)),
        ("refused", refused),
        ("unknown", len(unk)),
        ("unknown_arrived", unk_arrived),
        ("delivered", delivered),
        ("duplicates", len(dups)),
        ("stray", len(stray)),
        ("missing", len(missing)),
        ("reconnects", st.reconnects),
        ("span_s", "%.3f" % span),
        ("msgs_per_s", "%.1f" % (delivered / span if span > 0 else 0)),
        ("lat_p50_ms", "%.1f" % pct(lat, 50)),
        ("lat_p90_ms", "%.1f" % pct(lat, 90)),
        ("lat_p99_ms", "%.1f" % pct(lat, 99)),
        ("lat_max_ms", "%.1f" % (max(lat) if lat else float("nan"))),
    ]
    with open(os.path.join(a.out, "summary"), "w") as f:
        for k, v in rows:
            f.write("%s=%s\n" % (k, v))
    with open(os.path.join(a.out, "missing"), "w") as f:
        for k in sorted(missing, key=lambda k: acc[k][1]):
            f.write("%.3f %s %d %s\n" % (acc[k][1] / 1e9, k[0], k[1], acc[k][2]))
    with open(os.path.join(a.out, "duplicates"), "w") as f:
        for k in dups:
            f.write("%s %d x%d\n" % (k[0], k[1], st.got[k]))
    with open(os.path.join(a.out, "latency"), "w") as f:
        for x in lat:
            f.write("%.3f\n" % x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
