#!/usr/bin/env python3
"""Driver of tests/integration/socket-api.sh (python standard library only).

Usage: socketapi.py --tcp PORT --ws PORT [--golden DIR] [--update]
                    [--nonlocal ADDR] MODE...
MODE: golden | bad | concurrent
Prints one line per check, "ok - TEXT" or "not ok - TEXT" (the shell
script numbers them), and "# ..." diagnostics.

The frames are written by hand here, byte by byte, so that the golden
files check nymd's encoding against an encoder that shares no code with
it. The client's key and the topology are fixed (tests/golden/), so every
response is deterministic and compared byte for byte.
"""
import argparse
import base64
import json
import os
import re
import socket
import struct
import sys
import threading
import time

TIMEOUT_S = 10
K = lambda b: bytes([b]) * 32  # noqa: E731
PROVIDER_KEY = K(0x50)
RECIPIENT_KEY = K(0xC1)
B64URL = lambda k: base64.urlsafe_b64encode(k).decode()  # noqa: E731

FAILED = 0


def report(good, text):
    global FAILED
    if not good:
        FAILED += 1
    print(("ok - " if good else "not ok - ") + text, flush=True)


# --- protobuf, by hand ---------------------------------------------------

def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(v):
    """Go's binary.PutVarint: the seed's length prefix."""
    return uvarint((v << 1) ^ (v >> 63) if v < 0 else v << 1)


def field(num, payload):
    return uvarint(num << 3 | 2) + uvarint(len(payload)) + payload


def field_varint(num, v):
    return uvarint(num << 3) + uvarint(v)


def mix_config(key, host=b"", port=b"", layer=0, id_=None):
    out = b""
    if id_ is None:
        id_ = B64URL(key).encode() if key else b""
    if id_:
        out += field(1, id_)
    if host:
        out += field(2, host)
    if port:
        out += field(3, port)
    if key:
        out += field(4, key)
    if layer:
        out += field_varint(5, layer)
    return out


def client_config(key, provider=None):
    out = b""
    if key:
        out += field(1, B64URL(key).encode()) + field(4, key)
    if provider is not None:
        out += field(5, provider)
    return out


def send_request(msg, recipient):
    inner = b""
    if msg:
        inner += field(1, msg)
    if recipient is not None:
        inner += field(2, recipient)
    return field(2, inner)


VALID_RECIPIENT = client_config(RECIPIENT_KEY, mix_config(PROVIDER_KEY))
REQ = {
    "send": send_request(b"hello", VALID_RECIPIENT),
    "fetch": field(3, b""),
    "clients": field(4, b""),
    "details": field(5, b""),
    "flush": field(6, b""),
    # nymd's: the state of a message it never sent (an exception)
    "status": field(7, field(1, bytes([0x5A]) * 16)),
}


def frame(msg):
    return zigzag(len(msg)) + msg


# --- TCP ---------------------------------------------------------------

class Tcp:
    def __init__(self, port, host="127.0.0.1", source=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT_S)
        if source:
            self.s.bind((source, 0))
        self.s.connect((host, port))
        self.buf = b""

    def read_more(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def read_frame(self):
        """The raw bytes of the next frame, varint included."""
        while True:
            v = shift = i = 0
            complete = False
            while i < len(self.buf):
                b = self.buf[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    complete = True
                    break
            if complete:
                n = v >> 1
                if len(self.buf) >= i + n:
                    out, self.buf = self.buf[:i + n], self.buf[i + n:]
                    return out
            self.read_more()

    def closed(self):
        """True when the peer closes (after anything it still sends)."""
        try:
            while True:
                self.read_more()
        except (EOFError, ConnectionResetError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def unframe(raw):
    i = 0
    while raw[i] & 0x80:
        i += 1
    return raw[i + 1:]


# --- websocket ---------------------------------------------------------

class Ws:
    def __init__(self, port, origin=None, host="127.0.0.1", source=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT_S)
        if source:
            self.s.bind((source, 0))
        self.s.connect((host, port))
        self.buf = b""
        lines = ["GET /mix HTTP/1.1", "Host: localhost:%d" % port, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "Sec-WebSocket-Version: 13"]
        if origin:
            lines.append("Origin: " + origin)
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self.read_more()
        i = self.buf.index(b"\r\n\r\n") + 4
        self.head, self.buf = self.buf[:i].decode(), self.buf[i:]
        self.code = int(self.head.split(" ")[1])

    read_more = Tcp.read_more
    closed = Tcp.closed
    close = Tcp.close

    def read_exactly(self, n):
        while len(self.buf) < n:
            self.read_more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    @staticmethod
    def client_frame(opcode, payload, mask=b"\0\0\0\0"):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        if mask != b"\0\0\0\0":
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + mask + payload

    def send(self, opcode, payload):
        self.s.sendall(self.client_frame(opcode, payload, os.urandom(4)))

    def read_raw_frame(self):
        """(opcode, payload, the frame's bytes as sent)."""
        h = self.read_exactly(2)
        n = h[1] & 0x7F
        ext = b""
        if n == 126:
            ext = self.read_exactly(2)
            n = struct.unpack(">H", ext)[0]
        elif n == 127:
            ext = self.read_exactly(8)
            n = struct.unpack(">Q", ext)[0]
        payload = self.read_exactly(n)
        return h[0] & 0xF, payload, h + ext + payload

    def read_message(self):
        while True:
            op, payload, raw = self.read_raw_frame()
            if op == 9:
                self.send(10, payload)
                continue
            return op, payload, raw


# --- golden ------------------------------------------------------------

def hexs(b):
    return b.hex()


# nymd's send (and reply) answers carry the message's id (docs/acks.md):
# 16 random bytes, the only part of an answer that is not deterministic.
# The golden files show it as zeros (AAAAAAAAAAAAAAAAAAAAAA== in JSON);
# the answers are compared with the id they carry put to zeros, once it is
# found where the golden bytes have it.
ZERO_ID = bytes(16)
ID_JSON = re.compile(r'(\{\n  "(?:send|reply)": \{\n    "messageId": ")[A-Za-z0-9+/]{22}=="')


def mask_pb(pb):
    """A packed send or reply answer with its message id zeroed."""
    if len(pb) == 20 and pb[0] in (0x12, 0x52) and pb[1:4] == b"\x12\x0a\x10":
        return pb[:4] + ZERO_ID
    return pb


def mask_tcp(raw):
    """A TCP frame (prefix 0x28: 20 bytes) of a send or reply answer."""
    return raw[:1] + mask_pb(raw[1:]) if raw[:1] == b"\x28" else raw


def mask_ws(raw):
    """A websocket binary frame (82 14) of a send or reply answer."""
    return raw[:2] + mask_pb(raw[2:]) if raw[:2] == b"\x82\x14" else raw


def mask_json(text):
    return ID_JSON.sub(r'\1AAAAAAAAAAAAAAAAAAAAAA=="', text)


def message_id(raw_tcp):
    """The message id of a TCP frame of a send answer, or None."""
    if mask_tcp(raw_tcp) == raw_tcp or len(raw_tcp) != 21:
        return None
    return raw_tcp[5:]


def load_golden(path):
    """[(name, request, response)] of a golden file. A response over
    several lines (jsonpb's indented JSON) has "< " before each line."""
    out, name, req, prev = [], None, None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# "):
            name = line[2:]
        elif line.startswith("> "):
            req = line[2:]
        elif line.startswith("< ") or line == "<":
            if prev is not None and prev.startswith("<"):
                out[-1] = (name, req, out[-1][2] + "\n" + line[2:])
            else:
                out.append((name, req, line[2:]))
        prev = line
    return out


def golden_cases():
    """The requests of each golden file, in order (name, request)."""
    tcp = [
        ("details", frame(REQ["details"])),
        ("clients", frame(REQ["clients"])),
        ("fetch (nothing received)", frame(REQ["fetch"])),
        ("send", frame(REQ["send"])),
        ("flush", frame(REQ["flush"])),
        ("exception: empty Request", frame(b"")),
        ("exception: send without recipient", frame(send_request(b"x", None))),
        ("exception: not a protobuf", frame(b"\xff\xff\xff\xff")),
        ("exception: status of an id nymd does not know", frame(REQ["status"])),
    ]
    wsbin = [(n, Ws.client_frame(2, REQ[k])) for n, k in
             (("details", "details"), ("clients", "clients"),
              ("fetch (nothing received)", "fetch"), ("send", "send"),
              ("exception: flush does not exist", "flush"))]
    wsbin.append(("exception: empty Request", Ws.client_frame(2, b"")))
    wsbin.append(("exception: status of an id nymd does not know",
                  Ws.client_frame(2, REQ["status"])))
    send_json = json.dumps({"send": {"message": "aGVsbG8=", "recipient": {
        "id": B64URL(RECIPIENT_KEY), "pubKey": base64.b64encode(RECIPIENT_KEY).decode(),
        "provider": {"id": B64URL(PROVIDER_KEY),
                     "pubKey": base64.b64encode(PROVIDER_KEY).decode()}}}},
        separators=(",", ":"))
    wstext = [
        ("details", '{"details":{}}'),
        ("clients", '{"clients":{}}'),
        ("fetch (nothing received)", '{"fetch":{}}'),
        ("send", send_json),
        ("exception: flush does not exist", '{"flush":{}}'),
        ("exception: malformed JSON", '{"details":'),
        ("exception: status of an id nymd does not know",
         '{"status":{"messageId":"WlpaWlpaWlpaWlpaWlpaWg=="}}'),
    ]
    return tcp, wsbin, wstext


def run_golden(args):
    tcp, wsbin, wstext = golden_cases()
    got = {"tcp": [], "ws-binary": [], "ws-text": []}
    c = Tcp(args.tcp)
    ids = []
    for name, req in tcp:
        c.s.sendall(req)
        raw = c.read_frame()
        if name == "send":
            ids.append(message_id(raw))
            c.s.sendall(req)	# again: another message, another id
            ids.append(message_id(c.read_frame()))
        got["tcp"].append((name, hexs(req), hexs(mask_tcp(raw))))
    c.close()
    report(len(ids) == 2 and None not in ids and ZERO_ID not in ids and ids[0] != ids[1],
           "two sends are answered with two different message ids of 16 bytes")
    w = Ws(args.ws)
    for name, req in wsbin:
        w.s.sendall(req)
        got["ws-binary"].append((name, hexs(req), hexs(mask_ws(w.read_message()[2]))))
    for name, req in wstext:
        w.s.sendall(Ws.client_frame(1, req.encode()))
        op, payload, _ = w.read_message()
        got["ws-text"].append((name, req, mask_json(payload.decode()) if op == 1 else
                               "opcode %d" % op))
    w.close()
    for kind, cases in got.items():
        path = os.path.join(args.golden, kind + ".golden")
        if args.update:
            with open(path, "w", encoding="utf-8") as f:
                f.write("# Golden frames of nymd's socket API over %s; see docs/socket-api.md.\n"
                        "# Each case: '# name', '> request', '< response' (%s).\n"
                        "# A send's message id, 16 random bytes, is shown as zeros.\n" %
                        (kind, "JSON text, '< ' before each of its lines" if kind == "ws-text" else
                         "hex of the bytes on the wire"))
                for name, req, res in cases:
                    f.write("\n# %s\n> %s\n%s\n" % (name, req, "\n".join(
                        ("< " + x) if x else "<" for x in res.split("\n"))))
            print("# wrote " + path)
            continue
        want = load_golden(path)
        for i, (name, req, res) in enumerate(cases):
            w_ = want[i] if i < len(want) else (name, None, None)
            good = w_[1] == req and w_[2] == res
            report(good, "golden %s: %s" % (kind, name))
            if not good:
                print("#   want %s\n#   got  %s" % (w_[2], res))


# --- bad input ---------------------------------------------------------

def exception_text(raw_response):
    """The error of a Response{exception}, or None."""
    if len(raw_response) < 2 or raw_response[0] != 0x0A:
        return None
    inner = raw_response[2:] if raw_response[1] < 0x80 else raw_response[3:]
    if not inner or inner[0] != 0x0A:
        return None
    return inner[2:].decode() if inner[1] < 0x80 else inner[3:].decode()


def tcp_bad(args, name, data, want, closes):
    """Sends data; wants an exception matching want, then a close or an
    answer to details on the same connection."""
    c = Tcp(args.tcp)
    try:
        c.s.sendall(data)
        text = exception_text(unframe(c.read_frame()))
        good = text is not None and re.search(want, text) is not None
        if closes:
            after = c.closed()
        else:
            c.s.sendall(frame(REQ["details"]))
            after = unframe(c.read_frame())[0] == 0x2A
        report(good and after, "tcp %s: exception /%s/, then %s" %
               (name, want, "the connection closes" if closes else "it still answers"))
        if not good:
            print("#   got: %r" % text)
        elif args.verbose:
            print("#   %s" % text)
    except (EOFError, OSError) as e:
        report(False, "tcp %s: %s" % (name, e))
    c.close()


def ws_bad(args, name, opcode, data, want, binary_reply=False):
    w = Ws(args.ws)
    try:
        w.send(opcode, data)
        op, payload, _ = w.read_message()
        if op == 1:
            try:
                text = json.loads(payload)["exception"]["error"]
            except (ValueError, KeyError):
                text = None
        else:
            text = exception_text(payload)
        good = text is not None and re.search(want, text) is not None and \
            op == (1 if opcode == 1 else 2)
        w.send(2, REQ["details"])
        after = w.read_message()[1][:1] == b"\x2a"
        report(good and after, "ws %s: exception /%s/, then it still answers" % (name, want))
        if not good:
            print("#   got: %r %r" % (op, payload[:200]))
        elif args.verbose:
            print("#   %s" % text)
    except (EOFError, OSError) as e:
        report(False, "ws %s: %s" % (name, e))
    w.close()


def run_bad(args):
    # TCP framing: impossible frames are answered, then the connection closes.
    tcp_bad(args, "malformed varint (11 continuation bytes)", b"\xff" * 11,
            r"^bad frame: .*varint.*closing the connection", True)
    tcp_bad(args, "negative length (-1)", zigzag(-1), r"^bad frame: .*negative", True)
    # the limit is max_request_bytes: max_message_bytes (1 MiB) + 4096
    tcp_bad(args, "length over the limit (1 MiB + 4096 + 1)", zigzag(1052673),
            r"^bad frame: .*(large|limit).*1052672", True)
    tcp_bad(args, "length over 64 bits", b"\xff" * 9 + b"\x7f",
            r"^bad frame: ", True)
    # TCP payloads: an exception, and the connection stays usable.
    tcp_bad(args, "truncated protobuf", frame(b"\x2a\x05\x0a"),
            r"^malformed request: not a protobuf Request", False)
    tcp_bad(args, "empty Request", frame(b""), r"^Invalid server request: unknown request: "
            "expected one of send, fetch, clients, details, flush, reply$", False)
    tcp_bad(args, "unknown oneof field 15", frame(field(15, b"")),
            r"^Invalid server request: unknown request", False)
    # field 7 is nymd's status (the seed did not know it: seed-compat.sh)
    tcp_bad(args, "status without a message id", frame(field(7, b"")),
            r"^status: bad message id length: 0 bytes, expected 16$", False)
    tcp_bad(args, "status with a 15-byte message id", frame(field(7, field(1, bytes(15)))),
            r"^status: bad message id length: 15 bytes, expected 16$", False)
    tcp_bad(args, "Response's exception field 1 in a Request", frame(field(1, b"")),
            r"^Invalid server request: unknown request", False)
    tcp_bad(args, "wrong wire type for details (varint)", frame(field_varint(5, 1)),
            r"^malformed request", False)
    tcp_bad(args, "send without recipient", frame(send_request(b"x", None)),
            r"^send: missing recipient$", False)
    tcp_bad(args, "recipient key of 31 bytes",
            frame(send_request(b"x", client_config(RECIPIENT_KEY[:31], mix_config(PROVIDER_KEY)))),
            r"^send: bad recipient public key length: 31 bytes, expected 32$", False)
    tcp_bad(args, "recipient key of 33 bytes",
            frame(send_request(b"x", client_config(RECIPIENT_KEY + b"!", mix_config(PROVIDER_KEY)))),
            r"^send: bad recipient public key length: 33 bytes, expected 32$", False)
    # nymd completes a missing provider from the topology: a key it does
    # not list (C3; C1 and C2 are registered) is refused.
    tcp_bad(args, "recipient without provider, not in the topology",
            frame(send_request(b"x", client_config(K(0xC3)))),
            r"^send: the recipient has no provider, and the topology does not list its key$",
            False)
    tcp_bad(args, "provider key of 0 bytes",
            frame(send_request(b"x", client_config(RECIPIENT_KEY, mix_config(b"", b"h", b"1"))))
            , r"^send: bad recipient provider public key length: 0 bytes, expected 32$", False)
    # Points of small order: every packet to them would fail to build.
    tcp_bad(args, "recipient key of small order (zero)",
            frame(send_request(b"x", client_config(bytes(32), mix_config(PROVIDER_KEY)))),
            r"^send: the recipient's public key is not a usable X25519 key \(a point of small order\)$",
            False)
    tcp_bad(args, "provider key of small order (p - 1)",
            frame(send_request(b"x", client_config(RECIPIENT_KEY, mix_config(
                bytes.fromhex("ec" + "ff" * 30 + "7f"))))),
            r"^send: the recipient provider's public key is not a usable X25519 key "
            r"\(a point of small order\)$", False)
    tcp_bad(args, "message of 1048577 bytes (the maximum is max_message_bytes, 1048576)",
            frame(send_request(bytes(1048577), VALID_RECIPIENT)),
            r"^send: message too large: 1048577 bytes, the maximum is 1048576$", False)

    # Websocket: JSON and binary; the connection always stays usable.
    rcpt = {"id": B64URL(RECIPIENT_KEY), "pubKey": base64.b64encode(RECIPIENT_KEY).decode(),
            "provider": {"pubKey": base64.b64encode(PROVIDER_KEY).decode()}}
    J = lambda o: json.dumps(o).encode()  # noqa: E731
    ws_bad(args, "malformed JSON", 1, b'{"fetch":', r"^malformed JSON")
    ws_bad(args, "JSON that is not an object", 1, b'[1,2]',
           r"^the request must be a JSON object with one of send, fetch, clients, details, flush, reply$")
    ws_bad(args, "a request member that is not an object", 1, b'{"details":[]}',
           r"^details must be a JSON object$")
    ws_bad(args, "message as a number", 1, J({"send": {"message": 5, "recipient": rcpt}}),
           r"^send\.message must be a base64 string$")
    ws_bad(args, "recipient as a string", 1, J({"send": {"message": "", "recipient": "x"}}),
           r"^send\.recipient must be a JSON object$")
    ws_bad(args, "layer as a boolean", 1, J({"send": {"recipient": dict(
        rcpt, provider={"pubKey": rcpt["provider"]["pubKey"], "layer": True})}}),
           r"^send\.recipient\.provider\.layer must be an unsigned integer$")
    ws_bad(args, "unknown request member", 1, b'{"bogus":{}}',
           r'^Invalid server request: unknown request "bogus"')
    ws_bad(args, "empty JSON object", 1, b'{}', r'^Invalid server request: empty request')
    ws_bad(args, "unknown field inside details", 1, b'{"details":{"x":1}}', r'^unknown field "x" in details$')
    ws_bad(args, "unknown field inside recipient", 1,
           J({"send": {"recipient": dict(rcpt, colour="blue")}}),
           r'^unknown field "colour" in send\.recipient$')
    ws_bad(args, "two requests in one object", 1, b'{"details":{},"fetch":{}}',
           r"^more than one request in one message \(details and fetch\)$")
    ws_bad(args, "invalid base64 in message", 1, J({"send": {"message": "@@@", "recipient": rcpt}}),
           r"invalid base64 in send\.message")
    ws_bad(args, "invalid base64 in recipient key", 1,
           J({"send": {"message": "", "recipient": dict(rcpt, pubKey="*")}}),
           r"^invalid base64 in send\.recipient\.pubKey$")
    ws_bad(args, "recipient key of 31 bytes (JSON)", 1,
           J({"send": {"message": "aGk=", "recipient": dict(
               rcpt, pubKey=base64.b64encode(RECIPIENT_KEY[:31]).decode())}}),
           r"^send: bad recipient public key length: 31 bytes, expected 32$")
    ws_bad(args, "recipient without provider, not in the topology (JSON)", 1,
           J({"send": {"message": "aGk=", "recipient": {
               "pubKey": base64.b64encode(K(0xC3)).decode()}}}),
           r"^send: the recipient has no provider, and the topology does not list its key$")
    ws_bad(args, "message of 1048577 bytes (JSON)", 1,
           J({"send": {"message": base64.b64encode(bytes(1048577)).decode(), "recipient": rcpt}}),
           r"^send: message too large: 1048577 bytes, the maximum is 1048576$")
    ws_bad(args, "flush (JSON)", 1, b'{"flush":{}}',
           r"^Invalid server request: flush does not exist on the websocket")
    ws_bad(args, "flush (binary)", 2, REQ["flush"],
           r"^Invalid server request: flush does not exist on the websocket")
    ws_bad(args, "empty binary Request", 2, b"", r"^Invalid server request: unknown request")
    ws_bad(args, "truncated protobuf (binary)", 2, b"\x2a\x05\x0a", r"^malformed request")
    ws_bad(args, "a message over the 1,469,100-byte websocket limit", 2, bytes(1469101),
           r"^message too large: the limit is 1469100 bytes per websocket message$")

    w = Ws(args.ws, origin="http://evil.example")
    report(w.code == 403 and w.closed(), "ws remote Origin http://evil.example: 403, then closed")
    w.close()
    if args.nonlocal_addr:
        for kind, cls, port in (("tcp", Tcp, args.tcp), ("ws", None, args.ws)):
            s = socket.socket()
            s.settimeout(TIMEOUT_S)
            s.bind((args.nonlocal_addr, 0))
            try:
                s.connect((args.nonlocal_addr, port))
                if kind == "tcp":
                    s.sendall(frame(REQ["details"]))
                else:
                    s.sendall(b"GET /mix HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
                              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
                data = s.recv(100)
                good = data == b""
            except ConnectionResetError:
                good = True
            except OSError as e:
                good = False
                print("# %s" % e)
            report(good, "%s from non-loopback peer %s: closed without an answer" %
                   (kind, args.nonlocal_addr))
            s.close()


# --- 100 concurrent connections -----------------------------------------

def run_concurrent(args):
    golden = {}
    for kind in ("tcp", "ws-binary", "ws-text"):
        golden[kind] = [(n, q, r) for n, q, r in load_golden(os.path.join(args.golden, kind + ".golden"))]
    rounds = args.rounds
    errors = []
    lock = threading.Lock()

    def fail(text):
        with lock:
            errors.append(text)

    def tcp_worker(k):
        try:
            c = Tcp(args.tcp)
            cases = golden["tcp"]
            wire = b"".join(bytes.fromhex(q) for _, q, _ in cases)
            for r in range(rounds):
                c.s.sendall(wire)	# pipelined: one round at a time
                for name, _, want in cases:
                    got = mask_tcp(c.read_frame()).hex()
                    if got != want:
                        fail("tcp conn %d round %d %s: %s" % (k, r, name, got[:80]))
                        return
            c.close()
        except Exception as e:  # noqa: BLE001
            fail("tcp conn %d: %r" % (k, e))

    def ws_worker(k):
        try:
            w = Ws(args.ws)
            for r in range(rounds):
                for name, q, want in golden["ws-binary"]:
                    w.s.sendall(bytes.fromhex(q))
                for name, q, want in golden["ws-text"]:
                    w.send(1, q.encode())
                for name, _, want in golden["ws-binary"]:
                    got = mask_ws(w.read_message()[2]).hex()
                    if got != want:
                        fail("ws conn %d round %d %s: %s" % (k, r, name, got[:80]))
                        return
                for name, _, want in golden["ws-text"]:
                    got = mask_json(w.read_message()[1].decode())
                    if got != want:
                        fail("ws text conn %d round %d %s: %s" % (k, r, name, got[:80]))
                        return
            w.close()
        except Exception as e:  # noqa: BLE001
            fail("ws conn %d: %r" % (k, e))

    # The misbehaving ones, started first and kept open meanwhile.
    bad = []
    stall = Tcp(args.tcp)		# half a frame, then silence
    stall.s.sendall(zigzag(100) + b"\x2a")
    bad.append(stall)
    hog = Tcp(args.tcp)		# pipelines without ever reading
    hog.s.setblocking(False)
    try:
        for _ in range(20000):
            hog.s.send(frame(REQ["clients"]) * 64)
    except (BlockingIOError, OSError):
        pass
    bad.append(hog)
    garbage = Tcp(args.tcp)		# an impossible frame: closed
    garbage.s.sendall(b"\xff" * 11)
    bad.append(garbage)
    wstall = Ws(args.ws)		# a frame header announcing 1 MB, then silence
    wstall.s.sendall(b"\x82\xff" + struct.pack(">Q", 1000000) + b"\0\0\0\0" + b"\x2a")
    bad.append(wstall)
    wbad = Ws(args.ws)		# an unmasked frame: closed with 1002
    wbad.s.sendall(b"\x82\x00")
    bad.append(wbad)

    n_tcp = args.conns // 2
    threads = [threading.Thread(target=tcp_worker, args=(k,)) for k in range(n_tcp)]
    threads += [threading.Thread(target=ws_worker, args=(k,)) for k in range(args.conns - n_tcp)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    for e in errors[:5]:
        print("# " + e)
    report(not errors, "%d concurrent connections (%d tcp, %d websocket), %d rounds of every "
           "request type each, all answers byte-exact and in order, while 5 others misbehave "
           "(%.1f s)" % (args.conns, n_tcp, args.conns - n_tcp, rounds, dt))
    op, payload, _ = wbad.read_message()
    report(op == 8 and payload[:2] == b"\x03\xea", "the unmasked websocket frame was closed with 1002")
    try:
        text = exception_text(unframe(garbage.read_frame()))
    except (EOFError, OSError):
        text = None
    report(text is not None and text.startswith("bad frame") and garbage.closed(),
           "the impossible TCP frame got its exception and its close")
    for b in bad:
        b.close()
    c = Tcp(args.tcp)
    c.s.sendall(frame(REQ["details"]))
    report(c.read_frame().hex() == golden["tcp"][0][2], "nymd still answers afterwards")
    c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", type=int, required=True)
    p.add_argument("--ws", type=int, required=True)
    p.add_argument("--golden", default=os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--update", action="store_true")
    p.add_argument("--nonlocal", dest="nonlocal_addr")
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--verbose", action="store_true", help="print each exception's text")
    p.add_argument("modes", nargs="+")
    args = p.parse_args()
    for m in args.modes:
        {"golden": run_golden, "bad": run_bad, "concurrent": run_concurrent}[m](args)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
