#!/usr/bin/env python3
"""Unit tests of the nym module's wire format and of its Client against a
fake nymd on a socketpair: the golden frames of tests/golden/tcp.golden
encoded and decoded, and malformed input (truncated varints, over-long
varints, oversize lengths, wrong wire types, bad UTF-8, bad keys, random
bytes) refused with ProtocolError and nothing else.

Run: python3 -m unittest tests/python/test_nym_wire.py, with the module's
directory (python/ in the tree) on PYTHONPATH; top_srcdir in the
environment, else two levels up, locates the golden frames.
"""
import os
import random
import signal
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
TOP = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..")
if "nym" not in sys.modules and os.path.isdir(os.path.join(TOP, "python", "nym")):
    sys.path.insert(0, os.path.join(TOP, "python"))

import nym  # noqa: E402
from nym import wire  # noqa: E402

GOLDEN = os.path.join(TOP, "tests", "golden", "tcp.golden")


def load_golden():
    """{case name: (request bytes, response bytes)} of tcp.golden."""
    cases, name, req = {}, None, None
    with open(GOLDEN) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# ") and not line.startswith("# Golden") and \
                    not line.startswith("# Each"):
                name = line[2:]
            elif line.startswith("> "):
                req = bytes.fromhex(line[2:])
            elif line.startswith("< "):
                cases[name] = (req, bytes.fromhex(line[2:]))
    return cases


def unframe(raw):
    n, used = wire.decode_length(raw)
    assert used + n == len(raw), "frame length %d + %d != %d" % (used, n, len(raw))
    return raw[used:]


def field(num, wt, payload):
    """A hand-made protobuf field (payload: bytes for wt 2, 1, 5; int for 0)."""
    key = wire.encode_varint(num << 3 | wt)
    if wt == 0:
        return key + wire.encode_varint(payload)
    if wt == 2:
        return key + wire.encode_varint(len(payload)) + payload
    return key + payload


KEY_A = bytes(range(32))
KEY_P = bytes([0x50]) * 32
ID_A = wire.id_from_key(KEY_A)
ID_P = wire.id_from_key(KEY_P)


class Golden(unittest.TestCase):
    """Byte for byte with the frames nymd is tested against."""

    @classmethod
    def setUpClass(cls):
        cls.g = load_golden()

    def test_requests_encode_as_golden(self):
        for kind in ("details", "clients", "flush"):
            self.assertEqual(wire.frame(wire.encode_request(kind)), self.g[kind][0], kind)
        self.assertEqual(wire.frame(wire.encode_request("fetch")),
                         self.g["fetch (nothing received)"][0])

    def test_send_encodes_as_golden(self):
        rk, pk = bytes([0xC1]) * 32, bytes([0x50]) * 32
        to = nym.ClientConfig(id=wire.id_from_key(rk), pubkey=rk,
                              provider=nym.MixConfig(id=wire.id_from_key(pk), pubkey=pk))
        self.assertEqual(wire.frame(wire.encode_request("send", to, b"hello")),
                         self.g["send"][0])
        # the key is taken from the id when the recipient has none (as libnym)
        to2 = nym.ClientConfig(id=wire.id_from_key(rk), provider=to.provider)
        self.assertEqual(wire.frame(wire.encode_request("send", to2, b"hello")),
                         self.g["send"][0])

    def test_clients_refresh(self):
        self.assertEqual(wire.encode_request("clients", refresh=True).hex(), "22020801")

    def test_details_decodes(self):
        r = wire.decode_response(unframe(self.g["details"][1]))
        self.assertEqual(r.kind, "details")
        d = r.value
        self.assertEqual(d.id, "QkzB4r6N6IxzE3jFqTE0jzLbQmhNVTpWoTyHyo6bWxM=")
        self.assertEqual(wire.id_from_key(d.pubkey), d.id)
        self.assertEqual((d.host, d.port), ("", ""))
        self.assertEqual(d.provider.id, ID_P)
        self.assertEqual((d.provider.host, d.provider.port), ("127.0.0.1", "9200"))
        self.assertEqual(d.provider.pubkey, KEY_P)
        self.assertEqual(d.provider.layer, 1000000)

    def test_clients_decode(self):
        r = wire.decode_response(unframe(self.g["clients"][1]))
        self.assertEqual(r.kind, "clients")
        self.assertEqual([c.pubkey for c in r.value], [bytes([0xC1]) * 32, bytes([0xC2]) * 32])
        for c in r.value:
            self.assertEqual(c.id, wire.id_from_key(c.pubkey))
            self.assertEqual((c.host, c.port), ("0.0.0.0", "42"))
            self.assertEqual(c.provider.layer, 1000000)

    def test_empty_answers(self):
        self.assertEqual(wire.decode_response(unframe(self.g["fetch (nothing received)"][1])),
                         wire.Response("fetch", []))
        self.assertEqual(wire.decode_response(unframe(self.g["send"][1])).kind, "send")
        self.assertEqual(wire.decode_response(unframe(self.g["flush"][1])).kind, "flush")

    def test_exceptions_decode_to_nymds_text(self):
        r = wire.decode_response(unframe(self.g["exception: send without recipient"][1]))
        self.assertEqual(r, wire.Response("exception", "send: missing recipient"))

    def test_every_golden_response_and_each_truncation(self):
        """Every response decodes; every truncation of it decodes or raises
        ProtocolError, never anything else."""
        for name, (_, resp) in self.g.items():
            body = unframe(resp)
            self.assertNotEqual(wire.decode_response(body).kind, "empty", name)
            for n in range(len(body)):
                try:
                    wire.decode_response(body[:n])
                except nym.ProtocolError:
                    pass


class Fetch(unittest.TestCase):
    def test_messages_in_order_with_unknown_fields_skipped(self):
        inner = field(1, 2, b"one") + field(9, 0, 7) + field(1, 2, b"") + field(1, 2, b"\xff" * 3000)
        body = field(3, 2, inner) + field(15, 5, b"\0\0\0\0") + field(16, 1, b"\0" * 8)
        self.assertEqual(wire.decode_response(body), wire.Response("fetch", [b"one", b"", b"\xff" * 3000]))

    def test_received_beside_messages(self):
        tag, mid = b"\x07" * 16, b"\x09" * 16
        r1 = field(1, 2, b"one") + field(2, 2, tag) + field(3, 2, mid)
        r2 = field(1, 2, b"") + field(3, 2, mid) + field(9, 0, 1)
        inner = field(1, 2, b"one") + field(1, 2, b"") + field(2, 2, r1) + field(2, 2, r2)
        res = wire.decode_response(field(3, 2, inner))
        self.assertEqual(res.value, [b"one", b""])
        self.assertEqual(res.received, [wire.Received(b"one", tag, mid),
                                        wire.Received(b"", None, mid)])
        # a seed-style fetch has no received list
        self.assertIsNone(wire.decode_response(field(3, 2, field(1, 2, b"x"))).received)

    def test_reply_requests(self):
        c = wire.ClientConfig(id="", pubkey=b"\x01" * 32,
                              provider=wire.MixConfig(pubkey=b"\x02" * 32))
        plain = wire.encode_request("send", c, b"hi")
        with_surbs = wire.encode_request("send", c, b"hi", reply_surbs=5)
        # reply_surbs is field 3 of RequestSendMessage, a varint, after the rest
        self.assertEqual(with_surbs[2:], plain[2:] + b"\x18\x05")
        self.assertEqual(with_surbs[1], plain[1] + 2)
        self.assertRaises(nym.InvalidArgument, wire.encode_request, "send", c, b"", reply_surbs=17)
        tag = bytes(range(16))
        self.assertEqual(wire.encode_request("reply", message=b"re", tag=tag),
                         b"\x52\x16" + b"\x0a\x10" + tag + b"\x12\x02re")
        self.assertRaises(nym.InvalidArgument, wire.encode_request, "reply", message=b"x", tag=b"\0" * 15)
        self.assertEqual(wire.decode_response(field(10, 2, b"")).kind, "reply")

    def test_unknown_member_is_reported(self):
        self.assertEqual(wire.decode_response(field(20, 2, b"")).kind, "unknown:20")
        self.assertEqual(wire.decode_response(b"").kind, "empty")


class Status(unittest.TestCase):
    """Delivery status (docs/acks.md): send's message id and status."""
    MID = bytes(range(16))

    def test_send_and_reply_answers_carry_the_message_id(self):
        mid = self.MID
        self.assertEqual(wire.decode_response(field(2, 2, field(1, 2, mid))),
                         wire.Response("send", mid))
        self.assertEqual(wire.decode_response(field(10, 2, field(1, 2, mid))),
                         wire.Response("reply", mid))
        # an older nymd's (and the seed's) empty answer: no id
        self.assertEqual(wire.decode_response(field(2, 2, b"")), wire.Response("send", None))
        with self.assertRaises(nym.ProtocolError):
            wire.decode_response(field(2, 2, field(1, 2, mid[:15])))

    def test_status_request(self):
        self.assertEqual(wire.encode_request("status", message_id=self.MID),
                         b"\x3a\x12\x0a\x10" + self.MID)
        for bad in (None, self.MID[:15], self.MID + b"!", "0" * 16):
            self.assertRaises(nym.InvalidArgument, wire.encode_request, "status",
                              message_id=bad)

    def test_status_decodes(self):
        mid = self.MID
        sending = field(1, 2, mid) + field(2, 0, 1) + field(3, 0, 3) + field(4, 0, 1)
        self.assertEqual(wire.decode_response(field(7, 2, sending)),
                         wire.Response("status", wire.MessageStatus(mid, "sending", 3, 1, "")))
        # defaults left out: QUEUED with nothing acknowledged
        self.assertEqual(wire.decode_response(field(7, 2, field(1, 2, mid) + field(3, 0, 2))).value,
                         wire.MessageStatus(mid, "queued", 2, 0, ""))
        failed = field(1, 2, mid) + field(2, 0, 3) + field(5, 2, "expired".encode())
        self.assertEqual(wire.decode_response(field(7, 2, failed)).value,
                         wire.MessageStatus(mid, "failed", 0, 0, "expired"))
        later = field(1, 2, mid) + field(2, 0, 9) + field(6, 0, 1)
        self.assertEqual(wire.decode_response(field(7, 2, later)).value.state, "state-9")
        for bad in (field(3, 0, 1), field(1, 2, mid[:8]), field(1, 2, mid) + field(2, 2, b"x"),
                    field(1, 2, mid) + field(5, 2, b"\xff")):
            with self.assertRaises(nym.ProtocolError):
                wire.decode_response(field(7, 2, bad))

    def test_client_send_and_status(self):
        mid = self.MID
        f = FakeNymd(wire.frame(field(2, 2, field(1, 2, mid))))
        c = wire.ClientConfig(pubkey=KEY_A, provider=wire.MixConfig(pubkey=KEY_P))
        self.assertEqual(f.client.send(c, b"hi"), mid)
        f.close()
        f = FakeNymd(wire.frame(field(7, 2, field(1, 2, mid) + field(2, 0, 2) +
                                      field(3, 0, 1) + field(4, 0, 1))))
        self.assertEqual(f.client.status(mid), wire.MessageStatus(mid, "delivered", 1, 1, ""))
        self.assertEqual(f.requests, [b"\x3a\x12\x0a\x10" + mid])
        f.close()
        text = "status: no message with id " + mid.hex()
        f = FakeNymd(wire.frame(field(1, 2, field(1, 2, text.encode()))))
        with self.assertRaises(nym.RemoteError) as cm:
            f.client.status(mid)
        self.assertEqual(str(cm.exception), text)
        f.close()


class Malformed(unittest.TestCase):
    def bad(self, body, text=None):
        with self.assertRaises(nym.ProtocolError) as cm:
            wire.decode_response(body)
        if text is not None:
            self.assertIn(text, str(cm.exception))

    def test_truncated_varints(self):
        self.bad(b"\x80", "truncated varint")                 # a key
        self.bad(b"\x1a", "truncated varint")                 # fetch without its length
        self.bad(b"\x1a\x80", "truncated varint")             # length cut
        self.bad(field(3, 2, b"\x08\xff"), "truncated varint")  # varint value cut

    def test_overlong_varints(self):
        self.bad(b"\x80" * 10 + b"\x01", "longer than 10 bytes")
        self.bad(b"\xff" * 9 + b"\x02", "64 bits")           # 2**64
        v, end = wire.decode_varint(b"\xff" * 9 + b"\x01", 0, 10)
        self.assertEqual((v, end), ((1 << 64) - 1, 10))

    def test_lengths_past_the_end(self):
        self.bad(b"\x1a\x05abcd", "runs past the end")
        self.bad(b"\x1a\xff\xff\xff\xff\x0f", "runs past the end")
        self.bad(field(3, 2, b"\x0a\x7f" + b"x" * 10), "runs past the end")
        self.bad(field(4, 2, field(1, 2, b"\x2a\x03ab")), "runs past the end")
        self.bad(b"\x7d\x00\x00", "truncated fixed32")
        self.bad(b"\x79" + b"\x00" * 7, "truncated fixed64")

    def test_wrong_wire_types(self):
        self.bad(field(1, 0, 5), "wire type 0, expected 2")            # exception as a varint
        self.bad(field(5, 5, b"\0\0\0\0"), "wire type 5, expected 2")  # details as fixed32
        self.bad(field(1, 2, field(1, 0, 1)), "wire type 0, expected 2")  # exception text
        self.bad(field(3, 2, field(1, 1, b"\0" * 8)), "wire type 1, expected 2")
        self.bad(field(5, 2, field(1, 2, field(4, 0, 3))), "wire type 0, expected 2")
        self.bad(field(5, 2, field(1, 2, field(5, 2, field(5, 2, b"")))),
                 "wire type 2, expected 0")                               # layer as bytes
        for wt in (3, 4, 6, 7):                                            # groups, invalid
            self.bad(wire.encode_varint(2 << 3 | wt) + b"\x00", "not allowed")

    def test_field_number_zero(self):
        self.bad(b"\x02\x00", "field number 0")

    def test_strings_and_keys(self):
        self.bad(field(1, 2, field(1, 2, b"\xc3\x28")), "not UTF-8")
        self.bad(field(5, 2, field(1, 2, field(4, 2, b"k" * 31))), "31 bytes, not 32")
        self.bad(field(4, 2, field(1, 2, field(5, 2, field(4, 2, b"k" * 33)))), "33 bytes, not 32")

    def test_random_bytes_raise_only_protocol_errors(self):
        rnd = random.Random(22)
        seen = set()
        for _ in range(8000):
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 24)))
            try:
                seen.add(wire.decode_response(body).kind)
            except nym.ProtocolError:
                seen.add("error")
        self.assertIn("error", seen)


class Lengths(unittest.TestCase):
    def test_prefix(self):
        self.assertIsNone(wire.decode_length(b""))
        self.assertIsNone(wire.decode_length(b"\x80\x80"))
        self.assertEqual(wire.decode_length(b"\x04\x2a\x00"), (2, 1))
        self.assertEqual(wire.decode_length(wire.encode_length(300) + b"x"), (300, 2))
        self.assertEqual(wire.decode_length(wire.encode_length(wire.MAX_RESPONSE_BYTES)),
                         (wire.MAX_RESPONSE_BYTES, 4))

    def test_bad_prefixes(self):
        for raw, text in ((b"\x03", "negative"),
                          (wire.encode_length(wire.MAX_RESPONSE_BYTES + 1), "larger than the limit"),
                          (b"\x80" * 10, "not a valid varint"),
                          (b"\xff" * 9 + b"\x02", "not a valid varint")):
            with self.assertRaises(nym.ProtocolError) as cm:
                wire.decode_length(raw)
            self.assertIn(text, str(cm.exception))

    def test_request_limit(self):
        to = nym.ClientConfig(id=ID_A, provider=nym.MixConfig(id=ID_P, pubkey=KEY_P))
        wire.encode_request("send", to, b"x" * (wire.MAX_REQUEST_BYTES - 200))
        with self.assertRaises(nym.InvalidArgument) as cm:
            wire.encode_request("send", to, b"x" * wire.MAX_REQUEST_BYTES)
        self.assertIn("larger than nymd's limit of 13201408 bytes", str(cm.exception))


class Ids(unittest.TestCase):
    def test_ids(self):
        self.assertEqual(len(ID_A), 44)
        self.assertEqual(wire.key_from_id(ID_A), KEY_A)
        for bad in ("", ID_A[:43], ID_A + "=", ID_A.replace("-", "+").replace("_", "/") if
                    ("-" in ID_A or "_" in ID_A) else "+" * 43 + "=", "!" * 44,
                    ID_A[:42] + "B=", None, 7):
            with self.assertRaises(nym.InvalidArgument, msg=repr(bad)):
                wire.key_from_id(bad)

    def test_client_ids(self):
        for good in ("alice", "a.b_c-1", "x" * 64):
            self.assertTrue(nym.valid_id(good), good)
        for bad in ("", "-a", ".a", "a/b", "x" * 65, "a b", "é"):
            self.assertFalse(nym.valid_id(bad), bad)
            with self.assertRaises(nym.InvalidArgument):
                nym.default_socket_path(bad, "/tmp")
        self.assertEqual(nym.default_socket_path("bob", "/r"), "/r/clients/bob/nymd.sock")
        with self.assertRaises(nym.InvalidArgument):
            nym.default_socket_path("bob", "/" + "d" * 100)


class FakeNymd:
    """The other end of a socketpair, answering with canned bytes."""

    def __init__(self, answer=None):
        self.ours, theirs = socket.socketpair()
        self.client = nym.connect_socket(theirs, timeout=1.0)
        self.answer = answer
        self.requests = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        buf = b""
        while True:
            try:
                chunk = self.ours.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            head = wire.decode_length(buf)
            if head is None or len(buf) < sum(head):
                continue
            n, used = head
            self.requests.append(buf[used:used + n])
            buf = buf[used + n:]
            if self.answer is not None:
                self.ours.sendall(self.answer)

    def close(self):
        self.client.close()
        self.ours.close()


def _hung(signum, frame):
    raise AssertionError("the call hung: no timeout took effect")


class ClientAgainstFake(unittest.TestCase):
    def setUp(self):
        # A Client that ignores its timeout would wait for ever: fail instead.
        signal.signal(signal.SIGALRM, _hung)
        signal.alarm(10)

    def tearDown(self):
        signal.alarm(0)

    def test_remote_error_keeps_the_connection(self):
        text = "send: message too large: 2032 bytes, the maximum is 2031"
        f = FakeNymd(wire.frame(field(1, 2, field(1, 2, text.encode()))))
        with self.assertRaises(nym.RemoteError) as cm:
            f.client.flush()
        self.assertEqual(str(cm.exception), text)
        with self.assertRaises(nym.RemoteError):
            f.client.fetch()
        self.assertEqual(f.requests, [b"\x32\x00", b"\x1a\x00"])
        f.close()

    def test_answer_of_the_wrong_kind(self):
        f = FakeNymd(wire.frame(field(6, 2, b"")))
        with self.assertRaises(nym.ProtocolError) as cm:
            f.client.details()
        self.assertIn("answered a details request with a flush response", str(cm.exception))
        f.close()

    def test_answer_split_byte_by_byte(self):
        raw = wire.frame(field(3, 2, field(1, 2, b"hi") + field(1, 2, b"there")))
        a, b = socket.socketpair()
        c = nym.connect_socket(b, timeout=2.0)

        def drip():
            a.recv(100)
            for i in range(len(raw)):
                a.send(raw[i:i + 1])
                time.sleep(0.002)
        t = threading.Thread(target=drip)
        t.start()
        self.assertEqual(c.fetch(), [b"hi", b"there"])
        t.join()
        c.close()
        a.close()

    def test_timeout_makes_the_connection_unusable(self):
        f = FakeNymd(None)          # never answers
        f.client.timeout = 0.3
        t0 = time.monotonic()
        with self.assertRaises(nym.Timeout):
            f.client.details()
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.29)
        self.assertLess(took, 1.5)
        with self.assertRaises(nym.TransportError) as cm:
            f.client.details()
        self.assertIn("timed out", str(cm.exception))
        f.close()

    def test_oversize_frame_breaks_the_connection(self):
        f = FakeNymd(wire.encode_length(wire.MAX_RESPONSE_BYTES + 1))
        with self.assertRaises(nym.ProtocolError) as cm:
            f.client.fetch()
        self.assertIn("larger than the limit", str(cm.exception))
        with self.assertRaises(nym.TransportError):
            f.client.fetch()
        f.close()

    def test_close_by_nymd(self):
        a, b = socket.socketpair()
        c = nym.connect_socket(b, timeout=2.0)
        a.close()
        with self.assertRaises(nym.TransportError):
            c.details()
        c.close()

    def test_connect_socket_refuses_a_datagram_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with self.assertRaises(nym.InvalidArgument):
            nym.connect_socket(s)
        s.close()

    def test_connect_errors(self):
        with self.assertRaises(nym.ConnectError) as cm:
            nym.connect_unix("/nonexistent/nymd.sock")
        self.assertEqual(cm.exception.errno, 2)
        with self.assertRaises(nym.InvalidArgument):
            nym.connect_unix("/" + "x" * 120)
        with self.assertRaises(nym.InvalidArgument):
            nym.connect(tcp="localhost")
        with self.assertRaises(nym.InvalidArgument):
            nym.connect("alice", tcp="127.0.0.1:1")


if __name__ == "__main__":
    unittest.main()
