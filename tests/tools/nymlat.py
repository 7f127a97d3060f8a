#!/usr/bin/env python3
"""Timing client of nymd's local socket API (python standard library only).

Speaks the seed's framing (a signed zig-zag varint length, then a protobuf
Request/Response, DESIGN.md section 4) on a unix socket, with the few
protobuf fields it needs written out by hand.

Usage:
  nymlat.py latency --from SOCK --to SOCK --recipient KEY:PROVIDER
                    [--count N] [--interval-ms MS] [--out FILE]
      Sends N messages from one client to another, one every MS ms (the
      sender does not wait for delivery), while a receiver polls `fetch`
      on the recipient's socket in a tight loop. Each message carries its
      send time; its latency is (time fetch returned it) - (time just
      before the send request was written). Also measures, on the sender's
      socket in the same run, the round trip of a `details` request (the
      baseline). Writes one line per message to FILE ("latency MS") and
      per baseline sample ("details MS"); prints a summary.
  nymlat.py startup --sock SOCK --match TEXT [--timeout S] -- NYMD ARGS...
      Starts NYMD ARGS (nymd run ...), then reports the time until the
      socket first answers `details` and until a `fetch` first returns a
      message containing TEXT (a message already waiting at the provider).
      Prints "pid P", "details_ms X", "fetch_ms Y"; the daemon keeps
      running (the caller stops it by pid).
"""
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

from nymsock import Conn, frame, req_details, req_fetch, req_send

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


# ---- latency ----------------------------------------------------------------


def cmd_latency(a):
    key, prov = a.recipient.split(":", 1)
    tag = "lat%d-" % os.getpid()
    sender, receiver = Conn(a.sock_from), Conn(a.sock_to)
    # Drain whatever was waiting for the recipient before we start.
    receiver.fetch()
    got = {}
    sent = {}
    done = threading.Event()

    def receive():
        deadline = None
        while True:
            for m in receiver.fetch():
                now = time.monotonic_ns()
                s = m.decode(errors="replace")
                if s.startswith(tag):
                    got.setdefault(int(s[len(tag):].split("-")[0]), now)
            if done.is_set():
                if deadline is None:
                    deadline = time.monotonic() + a.drain_s
                if len(got) >= a.count or time.monotonic() > deadline:
                    return
            time.sleep(a.poll_ms / 1000.0)

    th = threading.Thread(target=receive)
    th.start()
    details = []
    acks = []
    for k in range(a.count):
        body = (tag + "%d-" % k).encode() + b"x" * 16
        t0 = time.monotonic_ns()
        sender.s.sendall(frame(req_send(key, prov, body)))
        sent[k] = t0
        num, v = sender.response()
        acks.append((time.monotonic_ns() - t0) / 1e6)
        if num != 2:
            print("# send %d refused: %r" % (k, v), file=sys.stderr)
        # the baseline, in between on the same socket
        t1 = time.monotonic_ns()
        num, _ = sender.request(req_details())
        t2 = time.monotonic_ns()
        if num == 5:
            details.append((t2 - t1) / 1e6)
        time.sleep(a.interval_ms / 1000.0)
    done.set()
    th.join()
    lat = [(got[k] - sent[k]) / 1e6 for k in sorted(got)]
    with open(a.out, "w") if a.out else open(os.devnull, "w") as f:
        for x in lat:
            f.write("latency %.3f\n" % x)
        for x in details:
            f.write("details %.3f\n" % x)
    print("sent %d received %d" % (a.count, len(lat)))
    if lat:
        print("latency_p50_ms %.3f" % pct(lat, 50))
        print("latency_p99_ms %.3f" % pct(lat, 99))
        print("latency_mean_ms %.3f" % statistics.mean(lat))
        print("latency_max_ms %.3f" % max(lat))
    if acks:
        print("sendack_p50_ms %.3f" % pct(acks, 50))
        print("sendack_p99_ms %.3f" % pct(acks, 99))
    if details:
        print("details_p50_ms %.3f" % pct(details, 50))
        print("details_p99_ms %.3f" % pct(details, 99))
    return 0 if len(lat) == a.count else 1


# ---- startup ----------------------------------------------------------------


def cmd_startup(a):
    t0 = time.monotonic_ns()
    p = subprocess.Popen(a.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("pid %d" % p.pid, flush=True)
    deadline = time.monotonic() + a.timeout
    t_details = t_fetch = None
    c = None
    while time.monotonic() < deadline:
        try:
            if c is None:
                c = Conn(a.sock, timeout=2.0)
            if t_details is None:
                num, _ = c.request(req_details())
                if num == 5:
                    t_details = time.monotonic_ns()
            if any(a.match.encode() in m for m in c.fetch()):
                t_fetch = time.monotonic_ns()
                break
        except (OSError, EOFError, ValueError, RuntimeError):
            if c is not None:
                c.close()
            c = None
        time.sleep(0.002)
    if t_details is not None:
        print("details_ms %.1f" % ((t_details - t0) / 1e6))
    if t_fetch is not None:
        print("fetch_ms %.1f" % ((t_fetch - t0) / 1e6))
    return 0 if t_fetch is not None else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("latency")
    lp.add_argument("--from", dest="sock_from", required=True)
    lp.add_argument("--to", dest="sock_to", required=True)
    lp.add_argument("--recipient", required=True)
    lp.add_argument("--count", type=int, default=200)
    lp.add_argument("--interval-ms", type=float, default=20.0)
    lp.add_argument("--poll-ms", type=float, default=0.2)
    lp.add_argument("--drain-s", type=float, default=10.0)
    lp.add_argument("--out")
    sp = sub.add_parser("startup")
    sp.add_argument("--sock", required=True)
    sp.add_argument("--match", required=True)
    sp.add_argument("--timeout", type=float, default=30.0)
    sp.add_argument("argv", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.cmd == "startup":
        if a.argv and a.argv[0] == "--":
            a.argv = a.argv[1:]
        return cmd_startup(a)
    return cmd_latency(a)


if __name__ == "__main__":
    sys.exit(main())
