"""nymd's socket protocol on the wire (docs/socket-api.md), without any
protobuf library: the few messages of proto/types.proto and
proto/structs.proto, encoded and decoded by hand.

Each message, either way, is its length as a signed zig-zag varint (Go's
``binary.PutVarint``), then a protobuf ``Request`` or ``Response``.

Bytes from nymd are parsed here and nowhere else: :func:`decode_length`
reads a frame's length prefix and :func:`decode_response` a frame's body.
Both check every length against the bytes there are and refuse, with
:class:`~nym.errors.ProtocolError`, truncated or over-long varints,
lengths past the end, wire types other than the field's, group wire types,
field number 0, strings that are not UTF-8 and keys that are not 32 bytes.
Unknown fields of a valid wire type are skipped, as protobuf requires, so a
newer nymd's additions do not break this module.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple, Union

from .errors import InvalidArgument, ProtocolError

#: No nymd takes a request larger than this: its largest max_message_bytes
#: (13197312, nymd.conf(5)) and 4096 bytes for the rest of a send. A
#: nymd's own limit follows its configuration (its `limits` request).
MAX_REQUEST_BYTES = 13197312 + 4096
#: This module refuses responses larger than this (as libnym does).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: A public key: X25519, 32 bytes.
KEY_BYTES = 32
#: An id is a key in URL-safe base64 with padding: 44 characters.
ID_CHARS = 44
#: A varint is at most 10 bytes (64 bits, 7 a byte).
VARINT_MAX_BYTES = 10

WT_VARINT = 0
WT_I64 = 1
WT_LEN = 2
WT_I32 = 5

# The oneof field numbers of types.Request and types.Response.
REQ_SEND, REQ_FETCH, REQ_CLIENTS, REQ_DETAILS, REQ_FLUSH = 2, 3, 4, 5, 6
REQ_REPLY = 10          # nymd's addition (docs/replies.md)
REQ_STATUS = 7          # nymd's addition (docs/acks.md)
RESPONSE_KINDS = {1: "exception", 2: "send", 3: "fetch", 4: "clients",
                  5: "details", 6: "flush", 7: "status", 10: "reply"}
MAX_REPLY_SURBS = 16    # reply blocks one send may ask for
TAG_BYTES = 16          # a sender tag
MESSAGE_ID_BYTES = 16   # a message id (send's answer, status)
#: MessageStatus.State of proto/types.proto, by number, as libnym's
#: nym_message_state_name() names them.
STATES = {0: "queued", 1: "sending", 2: "delivered", 3: "failed", 4: "sent"}


@dataclass(frozen=True)
class MixConfig:
    """config.MixConfig of the seed: a mixnode or a provider.

    ``pubkey`` is the 32-byte key, or None when nymd did not send one;
    ``layer`` is 1000000 for a provider."""

    id: str = ""
    host: str = ""
    port: str = ""
    pubkey: Optional[bytes] = None
    layer: int = 0


@dataclass(frozen=True)
class ClientConfig:
    """config.ClientConfig of the seed: a client and its provider.

    ``id`` is the client's key in URL-safe base64 (44 characters);
    ``pubkey`` the key itself, or None when nymd did not send one;
    ``provider`` None when nymd did not send one."""

    id: str = ""
    host: str = ""
    port: str = ""
    pubkey: Optional[bytes] = None
    provider: Optional[MixConfig] = None


@dataclass(frozen=True)
class Response:
    """A decoded Response: ``kind`` is ``exception``, ``send``, ``fetch``,
    ``clients``, ``details``, ``flush``, ``reply``, ``status``, ``empty``
    (no known member) or ``unknown:N`` (a member this module does not
    know, field N). ``value`` is the exception's text (str), the fetched
    messages (list of bytes), the clients (list of ClientConfig), our
    details (ClientConfig or None), the message id of a send or reply
    (16 bytes, or None from an older nymd), a MessageStatus, or None."""

    kind: str
    value: object = None
    received: Optional[List["Received"]] = None  # fetch: nymd's received list, if sent


@dataclass(frozen=True)
class Received:
    """A fetched message with what nymd knows of it (docs/replies.md):
    ``sender_tag`` (16 bytes) when it came with reply blocks, to give to
    Client.reply(); ``message_id`` (16 bytes)."""

    message: bytes
    sender_tag: Optional[bytes] = None
    message_id: Optional[bytes] = None


@dataclass(frozen=True)
class MessageStatus:
    """A sent message's delivery status (docs/acks.md): ``state`` is
    ``queued`` (stored, no packet with the provider yet), ``sending``
    (``acknowledged`` of its ``packets`` acknowledged so far),
    ``delivered`` (all of them), ``failed`` (given up at its expiry:
    ``reason`` says why), ``sent`` (a reply: our provider has it; replies
    are not acknowledged), or ``state-N`` for a state of a later nymd."""

    message_id: bytes
    state: str = "queued"
    packets: int = 0
    acknowledged: int = 0
    reason: str = ""


# ---- ids -------------------------------------------------------------------


def id_from_key(key: bytes) -> str:
    """The id of a 32-byte key: URL-safe base64 with padding (nym_id_from_key)."""
    if not isinstance(key, (bytes, bytearray, memoryview)) or len(key) != KEY_BYTES:
        raise InvalidArgument("a key is %d bytes" % KEY_BYTES)
    return base64.urlsafe_b64encode(bytes(key)).decode("ascii")


def key_from_id(client_id: str) -> bytes:
    """The 32-byte key of an id (nym_key_from_id); InvalidArgument unless
    it is 44 characters of URL-safe base64."""
    if not isinstance(client_id, str) or len(client_id) != ID_CHARS:
        raise InvalidArgument("'%s' is not a client id (44 characters of URL-safe base64)"
                              % (client_id,))
    try:
        key = base64.b64decode(client_id.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES or id_from_key(key) != client_id:
        raise InvalidArgument("'%s' is not a client id (44 characters of URL-safe base64)"
                              % (client_id,))
    return key


# ---- encoding --------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """An unsigned varint (0 <= value < 2**64)."""
    if value < 0 or value >= 1 << 64:
        raise InvalidArgument("varint out of range: %d" % value)
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_length(n: int) -> bytes:
    """A frame's length prefix: the zig-zag signed varint of n >= 0."""
    return encode_varint(n << 1)


def _len_field(num: int, payload: bytes) -> bytes:
    return encode_varint(num << 3 | WT_LEN) + encode_varint(len(payload)) + payload


def _str_field(num: int, s: str) -> bytes:
    return _len_field(num, s.encode("utf-8")) if s else b""


def _bytes_field(num: int, b: Optional[bytes]) -> bytes:
    return _len_field(num, bytes(b)) if b else b""


def encode_mix_config(m: MixConfig) -> bytes:
    """The fields of a MixConfig, proto3 style (defaults omitted)."""
    out = _str_field(1, m.id) + _str_field(2, m.host) + _str_field(3, m.port) + \
        _bytes_field(4, m.pubkey)
    if m.layer:
        out += encode_varint(5 << 3 | WT_VARINT) + encode_varint(m.layer)
    return out


def encode_client_config(c: ClientConfig) -> bytes:
    """The fields of a ClientConfig; its key taken from its id when it has
    none (as libnym does: the key is what nymd reads)."""
    key = c.pubkey
    if not key and c.id:
        try:
            key = key_from_id(c.id)
        except InvalidArgument:
            key = None
    out = _str_field(1, c.id) + _str_field(2, c.host) + _str_field(3, c.port) + \
        _bytes_field(4, key)
    if c.provider is not None:
        out += _len_field(5, encode_mix_config(c.provider))
    return out


def encode_request(kind: str, recipient: Optional[ClientConfig] = None,
                   message: bytes = b"", refresh: bool = False, reply_surbs: int = 0,
                   tag: Optional[bytes] = None, message_id: Optional[bytes] = None) -> bytes:
    """The body of a Request: ``send`` (to recipient, with reply_surbs
    reply blocks: nymd's addition), ``fetch``, ``clients`` (refresh:
    nymd's addition, fetch the topology first), ``details``, ``flush``,
    ``reply`` (nymd's: message through a block of sender tag tag) or
    ``status`` (nymd's: the state of the message of message_id).
    InvalidArgument when it is larger than nymd accepts."""
    if kind == "send":
        if recipient is None:
            raise InvalidArgument("send: no recipient")
        if not 0 <= reply_surbs <= MAX_REPLY_SURBS:
            raise InvalidArgument("send: reply_surbs must be 0 to %d" % MAX_REPLY_SURBS)
        inner = _bytes_field(1, message) + _len_field(2, encode_client_config(recipient))
        if reply_surbs:
            inner += bytes([3 << 3 | WT_VARINT]) + encode_varint(reply_surbs)
        body = _len_field(REQ_SEND, inner)
    elif kind == "reply":
        if tag is None or len(tag) != TAG_BYTES:
            raise InvalidArgument("reply: a sender tag is %d bytes" % TAG_BYTES)
        body = _len_field(REQ_REPLY, _bytes_field(1, bytes(tag)) + _bytes_field(2, message))
    elif kind == "status":
        if not isinstance(message_id, (bytes, bytearray, memoryview)) or \
                len(message_id) != MESSAGE_ID_BYTES:
            raise InvalidArgument("status: a message id is %d bytes" % MESSAGE_ID_BYTES)
        body = _len_field(REQ_STATUS, _bytes_field(1, bytes(message_id)))
    elif kind == "fetch":
        body = _len_field(REQ_FETCH, b"")
    elif kind == "clients":
        body = _len_field(REQ_CLIENTS, b"\x08\x01" if refresh else b"")
    elif kind == "details":
        body = _len_field(REQ_DETAILS, b"")
    elif kind == "flush":
        body = _len_field(REQ_FLUSH, b"")
    else:
        raise InvalidArgument("unknown request %r" % (kind,))
    if len(body) > MAX_REQUEST_BYTES:
        raise InvalidArgument("request of %d bytes is larger than nymd's limit of %d bytes"
                              % (len(body), MAX_REQUEST_BYTES))
    return body


def frame(body: bytes) -> bytes:
    """A message as it goes on the socket: its length prefix, then it."""
    return encode_length(len(body)) + body


# ---- decoding: every byte from nymd goes through here ----------------------


def decode_varint(buf: bytes, pos: int, end: int) -> Tuple[int, int]:
    """(value, position after it) of the unsigned varint at buf[pos:end].
    ProtocolError when it runs past end, is longer than 10 bytes or does
    not fit in 64 bits."""
    value = 0
    for i in range(VARINT_MAX_BYTES):
        if pos + i >= end:
            raise ProtocolError("truncated varint")
        b = buf[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if value >= 1 << 64:
                raise ProtocolError("varint does not fit in 64 bits")
            return value, pos + i + 1
    raise ProtocolError("varint longer than %d bytes" % VARINT_MAX_BYTES)


def decode_length(buf: bytes, limit: int = MAX_RESPONSE_BYTES) -> Optional[Tuple[int, int]]:
    """(frame length, bytes of its prefix) from the start of buf, or None
    when buf does not yet hold the whole prefix. ProtocolError when the
    prefix is not a varint of at most 10 bytes, or the length is negative
    or over limit."""
    end = min(len(buf), VARINT_MAX_BYTES)
    for i in range(end):
        if not buf[i] & 0x80:
            break
    else:
        if end < VARINT_MAX_BYTES:
            return None
        raise ProtocolError("bad frame: the length prefix is not a valid varint")
    try:
        u, used = decode_varint(buf, 0, end)
    except ProtocolError as e:
        raise ProtocolError("bad frame: the length prefix is not a valid varint") from e
    n = (u >> 1) ^ -(u & 1)
    if n < 0:
        raise ProtocolError("bad frame: negative frame length %d" % n)
    if n > limit:
        raise ProtocolError("bad frame: a response of %d bytes is larger than the limit (%d bytes)"
                            % (n, limit))
    return n, used


# (field number, wire type, value): an int for varint, fixed32 and fixed64,
# a (start, end) slice of the buffer for length-delimited fields.
_Field = Tuple[int, int, Union[int, Tuple[int, int]]]


def _fields(buf: bytes, pos: int, end: int, what: str) -> Iterator[_Field]:
    while pos < end:
        key, pos = decode_varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ProtocolError("%s: field number 0" % what)
        if wt == WT_VARINT:
            v, pos = decode_varint(buf, pos, end)
            yield num, wt, v
        elif wt == WT_LEN:
            n, pos = decode_varint(buf, pos, end)
            if n > end - pos:
                raise ProtocolError("%s: field %d of %d bytes runs past the end (%d left)"
                                    % (what, num, n, end - pos))
            yield num, wt, (pos, pos + n)
            pos += n
        elif wt in (WT_I64, WT_I32):
            n = 8 if wt == WT_I64 else 4
            if n > end - pos:
                raise ProtocolError("%s: truncated fixed%d field %d" % (what, n * 8, num))
            yield num, wt, int.from_bytes(buf[pos:pos + n], "little")
            pos += n
        else:
            raise ProtocolError("%s: field %d has wire type %d, which is not allowed"
                                % (what, num, wt))


def _want(what: str, num: int, wt: int, expected: int) -> None:
    if wt != expected:
        raise ProtocolError("%s: field %d has wire type %d, expected %d" % (what, num, wt, expected))


def _string(buf: bytes, span: Tuple[int, int], what: str) -> str:
    try:
        return bytes(buf[span[0]:span[1]]).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError("%s is not UTF-8" % what) from e


def _key(buf: bytes, span: Tuple[int, int], what: str) -> Optional[bytes]:
    key = bytes(buf[span[0]:span[1]])
    if not key:
        return None
    if len(key) != KEY_BYTES:
        raise ProtocolError("%s is %d bytes, not %d" % (what, len(key), KEY_BYTES))
    return key


def _mix_config(buf: bytes, start: int, end: int, what: str) -> MixConfig:
    v = {"id": "", "host": "", "port": "", "pubkey": None, "layer": 0}
    names = {1: "id", 2: "host", 3: "port"}
    for num, wt, val in _fields(buf, start, end, what):
        if num in names:
            _want(what, num, wt, WT_LEN)
            v[names[num]] = _string(buf, val, "%s %s" % (what, names[num]))
        elif num == 4:
            _want(what, num, wt, WT_LEN)
            v["pubkey"] = _key(buf, val, what + " PubKey")
        elif num == 5:
            _want(what, num, wt, WT_VARINT)
            v["layer"] = val
    return MixConfig(**v)


def _client_config(buf: bytes, start: int, end: int, what: str) -> ClientConfig:
    v = {"id": "", "host": "", "port": "", "pubkey": None, "provider": None}
    names = {1: "id", 2: "host", 3: "port"}
    for num, wt, val in _fields(buf, start, end, what):
        if num in names:
            _want(what, num, wt, WT_LEN)
            v[names[num]] = _string(buf, val, "%s %s" % (what, names[num]))
        elif num == 4:
            _want(what, num, wt, WT_LEN)
            v["pubkey"] = _key(buf, val, what + " PubKey")
        elif num == 5:
            _want(what, num, wt, WT_LEN)
            v["provider"] = _mix_config(buf, val[0], val[1], what + " provider")
    return ClientConfig(**v)


def _received(buf: bytes, start: int, end: int, what: str) -> Received:
    v: dict = {"message": b"", "sender_tag": None, "message_id": None}
    names = {1: "message", 2: "sender_tag", 3: "message_id"}
    for num, wt, val in _fields(buf, start, end, what + " received"):
        if num in names:
            _want(what, num, wt, WT_LEN)
            v[names[num]] = buf[val[0]:val[1]] or (b"" if num == 1 else None)
    return Received(**v)


def _message_id(buf: bytes, span: Tuple[int, int], what: str) -> Optional[bytes]:
    mid = bytes(buf[span[0]:span[1]])
    if not mid:
        return None
    if len(mid) != MESSAGE_ID_BYTES:
        raise ProtocolError("%s is %d bytes, not %d" % (what, len(mid), MESSAGE_ID_BYTES))
    return mid


def _status(buf: bytes, start: int, end: int, what: str) -> MessageStatus:
    v: dict = {"message_id": None, "state": "queued", "packets": 0, "acknowledged": 0,
               "reason": ""}
    for num, wt, val in _fields(buf, start, end, what):
        if num == 1:
            _want(what, num, wt, WT_LEN)
            v["message_id"] = _message_id(buf, val, what + " message id")
        elif num == 2:
            _want(what, num, wt, WT_VARINT)
            v["state"] = STATES.get(val, "state-%d" % val)
        elif num in (3, 4):
            _want(what, num, wt, WT_VARINT)
            v["packets" if num == 3 else "acknowledged"] = val & 0xFFFFFFFF
        elif num == 5:
            _want(what, num, wt, WT_LEN)
            v["reason"] = _string(buf, val, what + " reason")
    if v["message_id"] is None:
        raise ProtocolError("%s without a message id" % what)
    return MessageStatus(**v)


def decode_response(body: bytes) -> Response:
    """A Response from the bytes of one frame. ProtocolError when they are
    not one; unknown fields are skipped. Of several members of the oneof,
    the last counts (protobuf's rule)."""
    buf = bytes(body)
    result = Response("empty")
    for num, wt, val in _fields(buf, 0, len(buf), "Response"):
        kind = RESPONSE_KINDS.get(num)
        if kind is None:
            if wt == WT_LEN:
                result = Response("unknown:%d" % num)
            continue
        _want("Response", num, wt, WT_LEN)
        start, end = val
        what = "Response." + kind
        if kind == "exception":
            text = ""
            for n, w, v in _fields(buf, start, end, what):
                if n == 1:
                    _want(what, n, w, WT_LEN)
                    text = _string(buf, v, "the exception's text")
            result = Response(kind, text)
        elif kind == "fetch":
            msgs: List[bytes] = []
            received: Optional[List[Received]] = None
            for n, w, v in _fields(buf, start, end, what):
                if n == 1:
                    _want(what, n, w, WT_LEN)
                    msgs.append(buf[v[0]:v[1]])
                elif n == 2:
                    _want(what, n, w, WT_LEN)
                    received = (received or []) + [_received(buf, v[0], v[1], what)]
            result = Response(kind, msgs, received)
        elif kind == "clients":
            clients: List[ClientConfig] = []
            for n, w, v in _fields(buf, start, end, what):
                if n == 1:
                    _want(what, n, w, WT_LEN)
                    clients.append(_client_config(buf, v[0], v[1], "client %d" % len(clients)))
            result = Response(kind, clients)
        elif kind == "details":
            details = None
            for n, w, v in _fields(buf, start, end, what):
                if n == 1:
                    _want(what, n, w, WT_LEN)
                    details = _client_config(buf, v[0], v[1], "details")
            result = Response(kind, details)
        elif kind == "status":
            result = Response(kind, _status(buf, start, end, what))
        elif kind in ("send", "reply"):
            mid = None  # nymd's addition: the message id (docs/acks.md)
            for n, w, v in _fields(buf, start, end, what):
                if n == 1:
                    _want(what, n, w, WT_LEN)
                    mid = _message_id(buf, v, what + " message id")
            result = Response(kind, mid)
        else:  # flush: an empty message; check its fields are well formed
            for _ in _fields(buf, start, end, what):
                pass
            result = Response(kind)
    return result
