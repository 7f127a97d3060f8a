#!/usr/bin/env python3
"""Delivery-status timing for tests/bench/acks-bench.sh (docs/acks.md).

Follows every status change of the sender's messages with `nymctl status
--watch` (pushed by nymd, timed as each line arrives) and sends with the
nym module (PYTHONPATH=SRC/python).

Usage:
  ackbench.py latency --nymctl NYMCTL --from SOCK --to SOCK --recipient=ID
                      [--count N] [--interval-ms MS] [--timeout S]
      Sends N single-packet messages, one every MS ms (not waiting for
      any), while the recipient's socket is polled for `fetch` every 2 ms.
      For each: delivered = (DELIVERED seen) - (just before send), and
      received = (the recipient's fetch returned it) - (just before send).
      Prints "count", "delivered N", "delivered_p50_ms", "delivered_p99_ms",
      "received N", "received_p50_ms", "received_p99_ms", "accept_p50_ms".
  ackbench.py transfer --nymctl NYMCTL --from SOCK --recipient=ID
                       [--bytes N] [--metrics URL] [--timeout S]
      Sends one message of N random bytes (default 1 MiB) and times it to
      DELIVERED. Prints "bytes", "packets" (its fragments, from the
      status), "seconds", "accept_seconds" (the send's answer), and, with
      --metrics (the sender's metrics_listen), "real_packets_sent" and
      "retransmissions" over the transfer (read 1.5 s after DELIVERED:
      netd reports its counters once a second).
An id may begin with "-": give it as --recipient=ID.
"""
import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request

import nym


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


class Watcher:
    """`nymctl status --watch`: the first time each (id, state) was seen."""

    def __init__(self, nymctl, sock):
        self.proc = subprocess.Popen([nymctl, "--socket", sock, "status", "--watch"],
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.seen = {}
        self.lines = {}
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            t = time.monotonic()
            parts = line.split()
            if len(parts) < 2:
                continue
            state = parts[1].rstrip(":")
            with self.cv:
                self.seen.setdefault(parts[0], {}).setdefault(state, t)
                self.lines[parts[0]] = line.strip()
                self.cv.notify_all()

    def wait(self, ids, states, timeout):
        """Until every id reached one of states; False on timeout."""
        end = time.monotonic() + timeout
        with self.cv:
            while not all(any(s in self.seen.get(i, {}) for s in states) for i in ids):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True

    def ready(self, client, recipient, timeout=40):
        """Once the watcher shows a message sent after it started."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            mid = client.send_id(recipient, b"ackbench warm-up").hex()
            if self.wait([mid], ("queued", "sending", "delivered"), 2):
                self.wait([mid], ("delivered",), 20)
                return True
        return False

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def metrics(url):
    out = {}
    for line in urllib.request.urlopen(url + "/metrics", timeout=5).read().decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def cmd_latency(a):
    alice = nym.connect_unix(a.sock_from, timeout=60)
    bob = nym.connect_unix(a.sock_to, timeout=60)
    w = Watcher(a.nymctl, a.sock_from)
    if not w.ready(alice, a.recipient):
        sys.exit("ackbench: nymctl status --watch showed nothing")
    tag = b"ab%d-" % os.getpid()
    bob.fetch()
    received, stop = {}, threading.Event()

    def receive():
        while not stop.is_set():
            for m in bob.fetch():
                if m.startswith(tag):
                    received.setdefault(int(m[len(tag):].split(b"-")[0]), time.monotonic())
            time.sleep(0.002)

    rt = threading.Thread(target=receive, daemon=True)
    rt.start()
    sent, accept = [], []
    start = time.monotonic()
    for i in range(a.count):
        nxt = start + i * a.interval_ms / 1000.0
        if nxt > time.monotonic():
            time.sleep(nxt - time.monotonic())
        t = time.monotonic()
        mid = alice.send_id(a.recipient, tag + b"%d-" % i + b"x" * 40)
        accept.append((time.monotonic() - t) * 1000)
        sent.append((mid.hex(), t))
    w.wait([m for m, _ in sent], ("delivered", "failed"), a.timeout)
    end = time.monotonic() + 10
    while len(received) < a.count and time.monotonic() < end:
        time.sleep(0.05)
    stop.set()
    rt.join()
    w.close()
    dl = [(w.seen[m]["delivered"] - t) * 1000 for m, t in sent if "delivered" in w.seen.get(m, {})]
    rl = [(received[i] - t) * 1000 for i, (_, t) in enumerate(sent) if i in received]
    print("count", a.count)
    print("delivered", len(dl))
    print("delivered_p50_ms %.1f" % pct(dl, 50))
    print("delivered_p99_ms %.1f" % pct(dl, 99))
    print("received", len(rl))
    print("received_p50_ms %.1f" % pct(rl, 50))
    print("received_p99_ms %.1f" % pct(rl, 99))
    print("accept_p50_ms %.2f" % pct(accept, 50))


def cmd_transfer(a):
    alice = nym.connect_unix(a.sock_from, timeout=120)
    w = Watcher(a.nymctl, a.sock_from)
    if not w.ready(alice, a.recipient):
        sys.exit("ackbench: nymctl status --watch showed nothing")
    body = os.urandom(a.bytes)
    m0 = None
    if a.metrics:
        time.sleep(1.5)  # netd's counters of the warm-up are in
        m0 = metrics(a.metrics)
    t0 = time.monotonic()
    mid = alice.send_id(a.recipient, body).hex()
    t1 = time.monotonic()
    ok = w.wait([mid], ("delivered", "failed"), a.timeout)
    w.close()
    st = alice.status(bytes.fromhex(mid))
    print("bytes", a.bytes)
    print("packets", st.packets)
    print("state", st.state if ok else "timeout-" + st.state)
    if "delivered" in w.seen.get(mid, {}):
        print("seconds %.3f" % (w.seen[mid]["delivered"] - t0))
    print("accept_seconds %.3f" % (t1 - t0))
    if m0 is not None:
        time.sleep(1.5)
        m1 = metrics(a.metrics)
        for key, name in (("nymd_real_packets_sent_total", "real_packets_sent"),
                          ("nymd_retransmissions_total", "retransmissions")):
            print(name, int(m1.get(key, 0) - m0.get(key, 0)))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--to", dest="sock_to", required=True)
    lat.add_argument("--count", type=int, default=200)
    lat.add_argument("--interval-ms", type=float, default=50)
    tr = sub.add_parser("transfer")
    tr.add_argument("--bytes", type=int, default=1048576)
    tr.add_argument("--metrics")
    for p in (lat, tr):
        p.add_argument("--nymctl", required=True)
        p.add_argument("--from", dest="sock_from", required=True)
        p.add_argument("--recipient", required=True)
        p.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    {"latency": cmd_latency, "transfer": cmd_transfer}[a.cmd](a)


if __name__ == "__main__":
    main()
