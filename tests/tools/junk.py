#!/usr/bin/env python3
"""junk.py: hostile bytes for a node's listening port
(tests/integration/nodes-hostile.sh).

  junk.py HOST PORT random N     N connections, each random bytes, then close
  junk.py HOST PORT truncated    handshakes cut short, oversized lengths, a
                                 random full-size first handshake message
  junk.py HOST PORT flood N      N connect-and-close, as fast as possible
  junk.py HOST PORT silent S     connect, send nothing; print how many
                                 seconds until the node closed it (or
                                 "open" after S seconds)
  junk.py HOST PORT trickle S    one random byte every 0.5 s for S seconds
  junk.py HOST PORT hold N S     keep N connections that never send open
                                 for S seconds, reconnecting each one the
                                 node closes; print how many were made
JUNK_SOURCE, if set, is the local address to connect from (127.0.0.2: an
attacker apart from the honest peers on 127.0.0.1).
Exits 0 unless the node could not be reached at all.
"""
import os
import random
import socket
import sys
import time

# docs/link.md: a 2-byte big-endian length before each message; the
# initiator's first Noise IK message is e (32) + s (32+16) + hello (4+16).
MSG1_BYTES = 100


def conn(host, port):
    src = os.environ.get("JUNK_SOURCE")
    s = socket.create_connection((host, port), timeout=5,
                                 source_address=(src, 0) if src else None)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_close(host, port, data, linger_rst=False):
    s = conn(host, port)
    try:
        s.sendall(data)
    except OSError:
        pass  # the node may close on us mid-write: that is fine
    if linger_rst:
        # close with RST instead of FIN
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    s.close()


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    arg = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    rnd = random.Random(int(os.environ.get("JUNK_SEED", "1")))
    if mode == "random":
        for i in range(int(arg)):
            n = rnd.choice([1, 2, 3, 99, 100, 101, 4096, 70000])
            send_close(host, port, os.urandom(n), linger_rst=(i % 3 == 0))
    elif mode == "truncated":
        L = MSG1_BYTES.to_bytes(2, "big")
        cases = [
            b"\x00",                              # half a length
            L,                                    # a length, no message
            L + os.urandom(MSG1_BYTES // 2),      # half a message
            L + os.urandom(MSG1_BYTES),           # a full message of junk
            L + os.urandom(MSG1_BYTES) + os.urandom(300),  # and more after it
            b"\xff\xff" + os.urandom(1000),       # a length out of bounds
            b"\x00\x00",                          # a zero length
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", # the wrong protocol
        ]
        for c in cases:
            send_close(host, port, c)
            send_close(host, port, c, linger_rst=True)
    elif mode == "flood":
        for _ in range(int(arg)):
            try:
                conn(host, port).close()
            except OSError:
                pass
    elif mode == "silent":
        s = conn(host, port)
        s.settimeout(arg)
        start = time.monotonic()
        try:
            data = s.recv(1)
            print("%.1f" % (time.monotonic() - start) if data == b"" else "data")
        except socket.timeout:
            print("open")
        except OSError:
            print("%.1f" % (time.monotonic() - start))
    elif mode == "hold":
        want, end = int(arg), time.monotonic() + float(sys.argv[5])
        held, made = [], 0
        while time.monotonic() < end:
            alive = []
            for c in held:
                try:
                    if c.recv(1, socket.MSG_DONTWAIT) == b"":
                        c.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    c.close()
                    continue
                alive.append(c)
            held = alive
            while len(held) < want and time.monotonic() < end:
                try:
                    held.append(conn(host, port))
                    made += 1
                except OSError:
                    break
            time.sleep(0.1)
        for c in held:
            c.close()
        print(made)
    elif mode == "trickle":
        s = conn(host, port)
        end = time.monotonic() + arg
        try:
            while time.monotonic() < end:
                s.send(os.urandom(1))
                time.sleep(0.5)
        except OSError:
            pass
        s.close()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
