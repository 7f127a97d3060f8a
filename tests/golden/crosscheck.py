#!/usr/bin/env python3
"""Cross-checks the golden TCP and websocket binary frames with the
reference protobuf runtime (python3-protobuf), through the message classes
of examples/python/nym_tcp.py: each request and response parses as its
type and serializes back to the same bytes. Usage: crosscheck.py TOP_SRCDIR
Prints "ok - ..." / "not ok - ..." lines like socketapi.py."""
import os
import sys

sys.dont_write_bytecode = True	# the source tree may be read-only
top = sys.argv[1]
sys.path.insert(0, os.path.join(top, "examples", "python"))
sys.path.insert(0, os.path.join(top, "tests", "golden"))
import nym_tcp  # noqa: E402
import socketapi  # noqa: E402


def ws_payload(raw):
    n, i = raw[1] & 0x7F, 2
    if n == 126:
        i = 4
    elif n == 127:
        i = 10
    if raw[1] & 0x80:
        i += 4	# our golden requests use the mask 00000000
    return raw[i:]


for kind, unwrap in (("tcp", socketapi.unframe), ("ws-binary", ws_payload)):
    for name, q, r in socketapi.load_golden(os.path.join(top, "tests", "golden", kind + ".golden")):
        for hx, cls, what in ((q, nym_tcp.Request, "request"), (r, nym_tcp.Response, "response")):
            raw = bytes.fromhex(hx)
            body = unwrap(raw)
            m = cls()
            try:
                m.ParseFromString(body)
                good = m.SerializeToString() == body
            except Exception:  # noqa: BLE001
                # the deliberately malformed requests
                good = what == "request" and name.startswith("exception: not a protobuf")
            if kind == "tcp" and good and what == "response":
                good = nym_tcp.put_varint(len(body)) + body == raw
            print("%s - python3-protobuf agrees with golden %s %s: %s" %
                  ("ok" if good else "not ok", kind, what, name))
