#!/usr/bin/env python3
"""Hostile clients for tests/hostile (python standard library only).

Usage: hostile.py [--hold S] [--half-open N] [--loris N] [--garbage N] TARGET...
TARGET: unix:PATH | tcp:HOST:PORT (nymd's socket framing) |
        ws:HOST:PORT (nymd's websocket) | http:HOST:PORT (the directory) |
        link:HOST:PORT (a mixnode's or provider's Noise link port)

Against every target at once, for S seconds: N connections opened and
left silent (half-open), N slow-loris connections that trickle a
plausible request one byte every 200 ms and never finish it, and a
stream of short connections sending random garbage or a frame cut short
(a length prefix promising more than follows, a half HTTP head, half a
handshake), each closed abruptly. Prints "TARGET opened=.. refused=..
garbage=.. truncated=.." a target at the end; the caller checks, while
this runs, that honest clients are still served.
"""
import argparse
import os
import random
import socket
import sys
import threading
import time


def connect(target, timeout=2.0):
    kind, rest = target.split(":", 1)
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(rest)
        return s
    host, port = rest.rsplit(":", 1)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def loris_prefix(kind):
    """A request that looks honest but never ends."""
    if kind in ("unix", "tcp"):
        return bytes([0xfe, 0xff, 0x07])	# a ~1 MiB frame is announced
    if kind in ("ws", "http"):
        return b"GET /api/presence/topology HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 4000
    return os.urandom(4000)		# a handshake that never completes


def truncated(kind):
    if kind in ("unix", "tcp"):
        return bytes([0xd0, 0x0f]) + os.urandom(100)	# 1000 bytes promised
    if kind == "ws":
        return b"GET /mix HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nSec-WebSocket-K"
    if kind == "http":
        return b"POST /api/presence/mixnodes HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"host\":"
    return os.urandom(31)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def add(self, target, key):
        with self.lock:
            d = self.c.setdefault(target, {})
            d[key] = d.get(key, 0) + 1


def holder(target, n, loris, stop, st):
    kind = target.split(":", 1)[0]
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(target))
            st.add(target, "opened")
        except OSError:
            st.add(target, "refused")
    if not loris:
        stop.wait()
    else:
        data = loris_prefix(kind)
        i = 0
        while not stop.wait(0.2):
            for s in list(socks):
                try:
                    s.send(data[i % len(data):i % len(data) + 1])
                except OSError:
                    socks.remove(s)
                    st.add(target, "loris_dropped")
            i += 1
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def spammer(target, n, stop, st):
    kind = target.split(":", 1)[0]
    rnd = random.Random(target)
    k = 0
    while not stop.is_set() and k < n:
        k += 1
        try:
            s = connect(target)
        except OSError:
            st.add(target, "refused")
            time.sleep(0.05)
            continue
        try:
            if k % 2:
                s.sendall(os.urandom(rnd.randint(1, 65536)))
                st.add(target, "garbage")
            else:
                s.sendall(truncated(kind))
                st.add(target, "truncated")
            if k % 3 == 0:	# abrupt: a reset instead of a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        except OSError:
            st.add(target, "send_failed")
        finally:
            s.close()
        time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hold", type=float, default=10.0)
    ap.add_argument("--half-open", type=int, default=40)
    ap.add_argument("--loris", type=int, default=20)
    ap.add_argument("--garbage", type=int, default=200)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    stop = threading.Event()
    st = Stats()
    ths = []
    for t in a.targets:
        ths.append(threading.Thread(target=holder, args=(t, a.half_open, False, stop, st)))
        ths.append(threading.Thread(target=holder, args=(t, a.loris, True, stop, st)))
        ths.append(threading.Thread(target=spammer, args=(t, a.garbage, stop, st)))
    for th in ths:
        th.daemon = True
        th.start()
    time.sleep(a.hold)
    stop.set()
    for th in ths:
        th.join(timeout=10)
    for t in a.targets:
        d = st.c.get(t, {})
        print(t, " ".join("%s=%d" % kv for kv in sorted(d.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
