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
import base64
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

# ---- protobuf, the handful of fields used here ----------------------------


def pb_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, payload):
    """A length-delimited field (wire type 2)."""
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload


def pb_read_varint(buf, i):
    v = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def pb_fields(buf):
    """(field number, wire type, value) of each field; values of wire type
    2 are bytes, of type 0 integers."""
    i = 0
    while i < len(buf):
        key, i = pb_read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = pb_read_varint(buf, i)
        elif wt == 2:
            n, i = pb_read_varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def req_details():
    return pb_field(5, b"")


def req_fetch():
    return pb_field(3, b"")


def req_send(recipient, provider, body):
    rk = base64.urlsafe_b64decode(recipient)
    pk = base64.urlsafe_b64decode(provider)
    prov = pb_field(1, provider.encode()) + pb_field(4, pk)
    to = pb_field(1, recipient.encode()) + pb_field(4, rk) + pb_field(5, prov)
    return pb_field(2, pb_field(1, body) + pb_field(2, to))


# ---- the socket framing -----------------------------------------------------


def frame(msg):
    n = len(msg)
    return pb_varint(n << 1) + msg	# zig-zag of a non-negative length


class Conn:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def close(self):
        self.s.close()

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("socket closed")
            self.buf += chunk

    def response(self):
        """(response field number, its bytes)"""
        i = 0
        while True:
            self._need(i + 1)
            if not self.buf[i] & 0x80:
                break
            i += 1
        zz, j = pb_read_varint(self.buf, 0)
        n = zz >> 1
        self._need(j + n)
        msg, self.buf = self.buf[j:j + n], self.buf[j + n:]
        for num, _, v in pb_fields(msg):
            return num, v
        raise ValueError("empty response")

    def request(self, msg):
        self.s.sendall(frame(msg))
        return self.response()

    def fetch(self):
        num, v = self.request(req_fetch())
        if num != 3:
            raise RuntimeError("fetch answered with field %d: %r" % (num, v))
        return [m for f, _, m in pb_fields(v) if f == 1]


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
