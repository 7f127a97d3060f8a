#!/usr/bin/env python3
"""Talks to nymd's TCP socket (`nymd socket --socket tcp --port P`) with
the protobuf runtime of Debian's python3-protobuf, as the seed's Go
example does: each message is a protobuf Request or Response preceded by
its length as a signed zig-zag varint (Go's binary.PutVarint).

No generated code and no protoc: the message classes are built at import
time from descriptors written below, which mirror proto/types.proto and
proto/structs.proto field for field.

Usage:
  nym_tcp.py [--host H] --port P details
  nym_tcp.py [--host H] --port P clients
  nym_tcp.py [--host H] --port P send RECIPIENT_ID TEXT
  nym_tcp.py [--host H] --port P fetch [--wait SECONDS]
"""
import argparse
import socket
import sys
import time

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def _file(name, package, deps, messages):
    """A FileDescriptorProto; messages: {name: [(field, number, type, type_name, repeated)]}."""
    fp = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    fp.dependency.extend(deps)
    for mname, fields in messages.items():
        m = fp.message_type.add(name=mname)
        oneof = None
        for fname, num, ftype, tname, label in fields:
            f = m.field.add(name=fname, number=num, type=ftype,
                            label=F.LABEL_REPEATED if label == "repeated" else F.LABEL_OPTIONAL)
            if tname:
                f.type_name = tname
            if label == "oneof":
                if oneof is None:
                    oneof = len(m.oneof_decl)
                    m.oneof_decl.add(name="value")
                f.oneof_index = oneof
    return fp


STRUCTS = _file("structs.proto", "config", [], {
    "MixConfig": [("Id", 1, F.TYPE_STRING, None, ""), ("Host", 2, F.TYPE_STRING, None, ""),
                  ("Port", 3, F.TYPE_STRING, None, ""), ("PubKey", 4, F.TYPE_BYTES, None, ""),
                  ("Layer", 5, F.TYPE_UINT64, None, "")],
    "ClientConfig": [("Id", 1, F.TYPE_STRING, None, ""), ("Host", 2, F.TYPE_STRING, None, ""),
                     ("Port", 3, F.TYPE_STRING, None, ""), ("PubKey", 4, F.TYPE_BYTES, None, ""),
                     ("Provider", 5, F.TYPE_MESSAGE, ".config.MixConfig", "")],
})
M = F.TYPE_MESSAGE
TYPES = _file("types.proto", "types", ["structs.proto"], {
    "Request": [("send", 2, M, ".types.RequestSendMessage", "oneof"),
                ("fetch", 3, M, ".types.RequestFetchMessages", "oneof"),
                ("clients", 4, M, ".types.RequestGetClients", "oneof"),
                ("details", 5, M, ".types.RequestOwnDetails", "oneof"),
                ("flush", 6, M, ".types.RequestFlush", "oneof")],
    "RequestSendMessage": [("message", 1, F.TYPE_BYTES, None, ""),
                           ("recipient", 2, M, ".config.ClientConfig", "")],
    "RequestFetchMessages": [], "RequestGetClients": [], "RequestOwnDetails": [],
    "RequestFlush": [],
    "Response": [("exception", 1, M, ".types.ResponseException", "oneof"),
                 ("send", 2, M, ".types.ResponseSendMessage", "oneof"),
                 ("fetch", 3, M, ".types.ResponseFetchMessages", "oneof"),
                 ("clients", 4, M, ".types.ResponseGetClients", "oneof"),
                 ("details", 5, M, ".types.ResponseOwnDetails", "oneof"),
                 ("flush", 6, M, ".types.ResponseFlush", "oneof")],
    "ResponseException": [("error", 1, F.TYPE_STRING, None, "")],
    "ResponseSendMessage": [],
    "ResponseGetClients": [("clients", 1, M, ".config.ClientConfig", "repeated")],
    "ResponseOwnDetails": [("details", 1, M, ".config.ClientConfig", "")],
    "ResponseFlush": [],
    "ResponseFetchMessages": [("messages", 1, F.TYPE_BYTES, None, "repeated")],
})

_pool = descriptor_pool.DescriptorPool()
_pool.Add(STRUCTS)
_pool.Add(TYPES)
if hasattr(message_factory, "GetMessageClass"):	# protobuf >= 4.22
    def _cls(name):
        return message_factory.GetMessageClass(_pool.FindMessageTypeByName(name))
else:
    _factory = message_factory.MessageFactory(_pool)

    def _cls(name):
        return _factory.GetPrototype(_pool.FindMessageTypeByName(name))
Request = _cls("types.Request")
Response = _cls("types.Response")
ClientConfig = _cls("config.ClientConfig")

MAX_FRAME_BYTES = 64 * 1024 * 1024


def put_varint(n):
    """Go's binary.PutVarint: zig-zag, then 7 bits a byte."""
    u = (n << 1) ^ (n >> 63) if n < 0 else n << 1
    out = bytearray()
    while u >= 0x80:
        out.append(u & 0x7F | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


class NymTcp:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""

    def _read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("nymd closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def write(self, req):
        body = req.SerializeToString()
        self.sock.sendall(put_varint(len(body)) + body)

    def read(self):
        u = shift = 0
        for _ in range(10):
            b = self._read(1)[0]
            u |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        else:
            raise ValueError("malformed length prefix")
        n = (u >> 1) ^ -(u & 1)
        if n < 0 or n > MAX_FRAME_BYTES:
            raise ValueError("bad frame length %d" % n)
        res = Response()
        res.ParseFromString(self._read(n))
        if res.WhichOneof("value") == "exception":
            raise RuntimeError("nymd: " + res.exception.error)
        return res

    def call(self, **kw):
        req = Request(**kw)
        self.write(req)
        return self.read()

    def details(self):
        return self.call(details={}).details.details

    def clients(self):
        return list(self.call(clients={}).clients.clients)

    def fetch(self):
        return list(self.call(fetch={}).fetch.messages)

    def send(self, recipient, message):
        self.call(send={"message": message, "recipient": recipient})

    def flush(self):
        self.call(flush={})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--wait", type=float, default=0,
                   help="fetch: poll until a message comes or this many seconds pass")
    p.add_argument("command", choices=["details", "clients", "send", "fetch"])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    nym = NymTcp(a.host, a.port)
    try:
        if a.command == "details":
            d = nym.details()
            print("id: %s" % d.Id)
            if d.HasField("Provider"):
                print("provider: %s %s:%s" % (d.Provider.Id, d.Provider.Host, d.Provider.Port))
        elif a.command == "clients":
            for c in nym.clients():
                print(c.Id, c.Provider.Id)
        elif a.command == "send":
            if len(a.args) != 2:
                p.error("send RECIPIENT_ID TEXT")
            # The recipient's provider comes from the topology.
            match = [c for c in nym.clients() if c.Id == a.args[0]]
            if not match:
                sys.exit("nym_tcp: no registered client %s" % a.args[0])
            nym.send(match[0], a.args[1].encode())
            nym.flush()
            print("sent")
        elif a.command == "fetch":
            deadline = time.time() + a.wait
            while True:
                msgs = nym.fetch()
                if msgs or time.time() >= deadline:
                    break
                time.sleep(0.2)
            for m in msgs:
                print("message: " + m.decode("utf-8", "replace"))
    except RuntimeError as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
