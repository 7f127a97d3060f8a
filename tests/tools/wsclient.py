#!/usr/bin/env python3
"""Test client of nymd's websocket (python standard library only).

Usage: wsclient.py --port P [--path /mix] [--origin O] [--version V]
                   [--key K] [--extra-conns N [--extra-idle S]] ACTION...

Opens the websocket (after N extra connections that stay open, silent
for S seconds before it), then
performs each ACTION in order and prints one line per message received:
  details | clients | fetch | flush | send   a binary request (protobuf)
  text:JSON       a text message
  bin:HEX         a binary message with these bytes
  big:N / bigtext:N   a binary / text message of N bytes
  frag:JSON       the text in three fragments with a ping between them
  ping:DATA       a ping (the pong is printed as "pong: DATA")
  raw:HEX         these bytes on the socket, unframed
  close           a close frame; prints the peer's close
  wait-close      read until the peer closes
  read            read one more message (one pushed unasked: changed)
A binary response is decoded: "details: id=... pubkey=...", "exception:
TEXT", ...; a text response is printed as "text: JSON" (on one line,
compacted). A refused handshake prints "status: CODE REASON" and "body: TEXT", exit status 2.
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import time

TIMEOUT_S = 5


def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def pb_fields(buf):
    """[(field, value)] of a protobuf message (varint and bytes fields)."""
    out, i = [], 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            i += n
        else:
            raise ValueError("wire type %d" % wt)
        out.append((field, v))
    return out


def pb_put_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def client_text(buf):
    f = dict(pb_fields(buf))
    s = "id=%s pubkey=%s" % (f.get(1, b"").decode(), base64.b64encode(f.get(4, b"")).decode())
    if 5 in f:
        p = dict(pb_fields(f[5]))
        s += " provider=%s host=%s port=%s layer=%d" % (
            p.get(1, b"").decode(), p.get(2, b"").decode(), p.get(3, b"").decode(), p.get(5, 0))
    return s


def response_text(buf):
    try:
        fields = pb_fields(buf)
    except (ValueError, IndexError):
        return "binary: not a protobuf: " + buf.hex()
    if len(fields) != 1:
        return "binary: %d fields: %s" % (len(fields), buf.hex())
    field, v = fields[0]
    inner = pb_fields(v)
    if field == 1:
        return "exception: " + dict(inner).get(1, b"").decode()
    if field == 2:
        mid = dict(inner).get(1, b"")
        return "send: id=" + mid.hex() if mid else "send"
    if field == 3:
        return "fetch: %d" % len(inner)
    if field == 4:
        return "clients: %d" % len(inner)
    if field == 5:
        return "details: " + client_text(dict(inner).get(1, b""))
    if field == 6:
        return "flush"
    if field == 8:
        return "watch"
    if field in (7, 23):
        d = dict(inner)
        return "%s: id=%s state=%d packets=%d acknowledged=%d" % (
            "status" if field == 7 else "changed", d.get(1, b"").hex(), d.get(2, 0),
            d.get(3, 0), d.get(4, 0))
    return "binary: field %d" % field


REQUESTS = {"send": 2, "fetch": 3, "clients": 4, "details": 5, "flush": 6}


class Conn:
    def __init__(self, args):
        self.s = socket.create_connection((args.host, args.port), timeout=TIMEOUT_S)
        self.buf = b""
        key = args.key if args.key is not None else base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % args.path, "Host: %s:%d" % (args.host, args.port),
                 "Upgrade: websocket", "Connection: Upgrade"]
        if key != "":
            lines.append("Sec-WebSocket-Key: " + key)
        if args.version != "":
            lines.append("Sec-WebSocket-Version: " + args.version)
        if args.origin is not None:
            lines.append("Origin: " + args.origin)
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self.read_until(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        self.code = int(status.split(" ")[1])
        self.status = status.split(" ", 1)[1]
        if self.code != 101:
            length = 0
            for h in head.split(b"\r\n")[1:]:
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            self.body = self.read_exactly(length).decode().strip()

    def read_more(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_until(self, mark):
        while mark not in self.buf:
            self.read_more()
        i = self.buf.index(mark) + len(mark)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exactly(self, n):
        while len(self.buf) < n:
            self.read_more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
        self.s.sendall(head + mask + body)

    def read_frame(self):
        h = self.read_exactly(2)
        fin, opcode, n = h[0] >> 7, h[0] & 0xF, h[1] & 0x7F
        if h[1] & 0x80:
            raise ValueError("the server masked a frame")
        if n == 126:
            n = struct.unpack(">H", self.read_exactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.read_exactly(8))[0]
        return fin, opcode, self.read_exactly(n)

    def read_message(self):
        """(opcode, payload) of the next message; answers pings."""
        parts, first = [], None
        while True:
            fin, opcode, payload = self.read_frame()
            if opcode == 9:
                self.send_frame(10, payload)
                continue
            if opcode >= 8:
                return opcode, payload
            if first is None:
                first = opcode
            parts.append(payload)
            if fin:
                return first, b"".join(parts)


def message_text(opcode, payload):
    if opcode == 1:
        # On one line: nymd writes jsonpb's indented text (its layout is
        # checked byte for byte by socket-api.sh and seed-compat.sh).
        text = payload.decode()
        try:
            return "text: " + json.dumps(json.loads(text), separators=(",", ":"),
                                         ensure_ascii=False)
        except ValueError:
            return "text: " + text.replace("\n", "\\n")
    if opcode == 2:
        return response_text(payload)
    if opcode == 8:
        code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        return "close: %d %s" % (code, payload[2:].decode(errors="replace"))
    if opcode == 10:
        return "pong: " + payload.decode(errors="replace")
    return "opcode %d" % opcode


def act(c, a):
    if a in REQUESTS:
        c.send_frame(2, bytes([REQUESTS[a] << 3 | 2, 0]))
    elif a.startswith("text:"):
        c.send_frame(1, a[5:].encode())
    elif a.startswith("bin:"):
        c.send_frame(2, bytes.fromhex(a[4:]))
    elif a.startswith("big:"):
        c.send_frame(2, bytes(int(a[4:])))
    elif a.startswith("bigtext:"):
        c.send_frame(1, b" " * int(a[8:]))
    elif a.startswith("frag:"):
        t = a[5:].encode()
        k = len(t) // 3
        c.send_frame(1, t[:k], fin=False)
        c.send_frame(9, b"mid")
        c.send_frame(0, t[k:2 * k], fin=False)
        c.send_frame(0, t[2 * k:])
        print(message_text(*c.read_message()))
    elif a.startswith("ping:"):
        c.send_frame(9, a[5:].encode())
    elif a.startswith("raw:"):
        c.s.sendall(bytes.fromhex(a[4:]))
        return
    elif a == "close":
        c.send_frame(8, struct.pack(">H", 1000))
    elif a == "read":
        pass
    elif a == "wait-close":
        while True:
            opcode, payload = c.read_message()
            if opcode == 8:
                break
        print(message_text(opcode, payload))
        return
    else:
        sys.exit("wsclient: unknown action " + a)
    print(message_text(*c.read_message()), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/mix")
    p.add_argument("--origin")
    p.add_argument("--version", default="13")
    p.add_argument("--key")
    p.add_argument("--extra-conns", type=int, default=0)
    p.add_argument("--extra-idle", type=float, default=0)
    p.add_argument("actions", nargs="*")
    args = p.parse_args()
    extra = []
    for _ in range(args.extra_conns):
        x = Conn(args)
        if x.code != 101:
            sys.exit("wsclient: extra connection refused: %d" % x.code)
        extra.append(x)
    time.sleep(args.extra_idle)
    c = Conn(args)
    if c.code != 101:
        print("status: %d %s" % (c.code, c.status.split(" ", 1)[1]))
        print("body: " + c.body)
        sys.exit(2)
    try:
        for a in args.actions:
            act(c, a)
    except (EOFError, ConnectionError) as e:
        print("connection closed: %s" % (type(e).__name__,))
        sys.exit(3)
    except socket.timeout:
        print("timeout")
        sys.exit(4)


if __name__ == "__main__":
    main()
