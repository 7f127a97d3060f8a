"""The socket API's wire format for the test tools (nymlat.py, nymload.py):
the handful of protobuf fields they use, the signed zig-zag varint framing,
and a blocking connection to a nymd unix socket."""
import base64
import socket


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
        return 0, b""

    def request(self, msg):
        self.s.sendall(frame(msg))
        return self.response()

    def fetch(self):
        num, v = self.request(req_fetch())
        if num != 3:
            raise RuntimeError("fetch answered with field %d: %r" % (num, v))
        return [m for f, _, m in pb_fields(v) if f == 1]
