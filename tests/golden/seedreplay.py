#!/usr/bin/env python3
"""Driver of tests/integration/seed-compat.sh (python standard library only).

Usage: seedreplay.py (--tcp PORT --ws PORT | --replayed FILE) --captures FILE
                     --doc FILE [--out FILE]

Replays the 79 cases of seedprobe.py (the probe that measured the seed's
own program, loopix-client of nym-mixnet v0.2.0; kept as it was) against
nymd and compares each answer with the bytes the seed's program sent back
(seed-captures.json). Each answer must be identical, or be exactly the
answer that one deliberate difference says (DIFFS below: nymd's expected
bytes are built from the seed's), and every difference used must have its
row in the table of docs/socket-api.md. Prints "ok - ..." / "not ok - ..."
lines, one per case, and "# ..." diagnostics.
"""
import argparse
import base64
import json
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedprobe  # noqa: E402
from seedprobe import fld, frame, parse, zigzag  # noqa: E402

FAILED = 0
PROVIDER_KEY = bytes([0x50] * 32)
SEED_PROVIDER_ID = b"127.0.0.1:35599"
NYMD_PROVIDER_ID = base64.urlsafe_b64encode(PROVIDER_KEY)
REQUESTS = "send, fetch, clients, details, flush, reply"
INVALID = "Invalid server request"
FLUSH_PB = fld(6, b"")

# The deliberate differences: the name of each is in the first column of
# the table in docs/socket-api.md, which gives the reason.
KINDS = ("provider-id", "invalid-request", "exception-not-close", "frame-error",
         "frame-timeout", "send-refused", "send-error-text", "provider-from-topology",
         "packet-limit", "request-limit", "message-id", "status-request",
         "no-flush-needed", "two-requests", "lenient-base64", "utf8", "origin",
         "close-reason", "http")


def report(good, text):
    global FAILED
    if not good:
        FAILED += 1
    print(("ok - " if good else "not ok - ") + text, flush=True)


# --- what came back, and what nymd is expected to send ------------------

def key(rec):
    return (rec["transport"], rec["case"])


def answer(rec):
    """What a case's answer is made of: everything that came back."""
    if rec["transport"] == "tcp":
        return {"bytes": rec["response_hex"], "end": rec["end"]}
    if rec["transport"] == "ws":
        return {"handshake": rec.get("handshake"), "body": rec.get("http_body"),
                "frames": [f["raw_hex"] for f in rec.get("frames", [])], "end": rec["end"]}
    return {"http": rec["http"]}


def encode(fields):
    out = b""
    for num, v in fields:
        out += fld(num, v) if isinstance(v, bytes) else seedprobe.fvar(num, v)
    return out


def fix_client(pb):
    """A ClientConfig with its provider's Id as nymd writes it."""
    out = []
    for num, v in parse(pb):
        if num == 5:
            v = encode([(n, NYMD_PROVIDER_ID if n == 1 and x == SEED_PROVIDER_ID else x)
                        for n, x in parse(v)])
        out.append((num, v))
    return encode(out)


def fix_response(pb):
    """A Response (details or clients) with the provider Ids fixed."""
    out = []
    for num, v in parse(pb):
        if num in (4, 5):
            v = encode([(n, fix_client(x) if n == 1 else x) for n, x in parse(v)])
        out.append((num, v))
    return encode(out)


def tcp_frames(hexs):
    """The packed Responses in a TCP byte stream."""
    data, i, out = bytes.fromhex(hexs), 0, []
    while i < len(data):
        n, i = seedprobe.read_uvarint(data, i)
        n >>= 1
        out.append(data[i:i + n])
        i += n
    return out


def ws_server_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x80 | opcode, 127]) + struct.pack(">Q", n)
    return (head + payload).hex()


def ws_payload(raw_hex):
    raw = bytes.fromhex(raw_hex)
    n, off = raw[1] & 0x7F, 2
    if n == 126:
        off = 4
    elif n == 127:
        off = 10
    return raw[0] & 0x0F, raw[off:]


def fix_ws(raw_hex):
    op, payload = ws_payload(raw_hex)
    if op == 2:
        payload = fix_response(payload)
    elif op == 1:
        payload = payload.replace(b'"id": "%s"' % SEED_PROVIDER_ID,
                                  b'"id": "%s"' % NYMD_PROVIDER_ID)
    return ws_server_frame(op, payload)


# nymd's send answers carry the message's id (docs/acks.md): 16 random
# bytes where the seed's answer is empty. The id is taken out of nymd's
# answer (difference message-id) before it is compared as any other.
ID_JSON = re.compile(r'\{\n  "(send|reply)": \{\n    "messageId": "[A-Za-z0-9+/]{22}=="\n  \}\n\}')


def strip_pb(pb):
    """A packed send or reply answer without its message id; (pb, found)."""
    if len(pb) == 20 and pb[0] in (0x12, 0x52) and pb[1:4] == b"\x12\x0a\x10":
        return pb[:1] + b"\x00", True
    return pb, False


def strip_ids(a):
    """nymd's answer a without the message ids of its send answers: (a, found)."""
    found = False
    a = dict(a)
    if "bytes" in a:
        data = bytes.fromhex(a["bytes"])
        frames = tcp_frames(a["bytes"])
        if sum(len(frame(pb)) for pb in frames) == len(data):
            out = []
            for pb in frames:
                pb, f = strip_pb(pb)
                found |= f
                out.append(frame(pb).hex())
            a["bytes"] = "".join(out)
    if a.get("frames"):
        out = []
        for raw in a["frames"]:
            op, payload = ws_payload(raw)
            if op == 2:
                payload, f = strip_pb(payload)
            elif op == 1:
                text, n = ID_JSON.subn(r'{\n  "\1": {\n\n  }\n}', payload.decode(errors="replace"))
                f = n > 0
                if f:
                    payload = text.encode()
            else:
                f = False
            found |= f
            out.append(ws_server_frame(op, payload) if f else raw)
        a["frames"] = out
    return a, found


def go_quote(text):
    """A JSON string as Go's encoding/json writes it."""
    q = json.dumps(text)
    return q.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def exception_pb(text):
    return fld(1, fld(1, text.encode()))


def exception_json(text):
    return '{\n  "exception": {\n    "error": %s\n  }\n}' % go_quote(text)


def expect_provider_id(seed, _):
    a = answer(seed)
    if seed["transport"] == "tcp":
        a["bytes"] = "".join(frame(fix_response(pb)).hex() for pb in tcp_frames(a["bytes"]))
    else:
        a["frames"] = [fix_ws(f) for f in a["frames"]]
    return a


def expect_exception(seed, text, closes=False):
    """One exception saying text, where the seed's answer was whatever it
    was; over TCP then the flush's answer, unless the frame closed it."""
    a = answer(seed)
    text_case = seed["transport"] == "ws" and seed["requests"][0]["opcode"] == 1
    if seed["transport"] == "tcp":
        frames = [exception_pb(text)] + ([] if closes else [FLUSH_PB])
        a["bytes"] = "".join(frame(pb).hex() for pb in frames)
        a["end"] = "closed by server (EOF)" if closes else "open"
    elif text_case:
        a["frames"] = [ws_server_frame(1, exception_json(text).encode())]
        a["end"] = "open"
    else:
        a["frames"] = [ws_server_frame(2, exception_pb(text))]
        a["end"] = "open"
    return a


def expect_answer(seed, pb):
    """The answer pb (a packed Response) where the seed answered otherwise;
    over TCP then the flush's answer."""
    a = answer(seed)
    if seed["transport"] == "tcp":
        a["bytes"] = "".join(frame(x).hex() for x in (pb, FLUSH_PB))
    else:
        a["frames"] = [ws_server_frame(2, pb)]
    a["end"] = "open"
    return a


def expect_invalid_request(seed, explanation):
    """The seed's "Invalid server request", then what was wrong."""
    return expect_exception(seed, INVALID + ": " + explanation)


def expect_frame_closed(seed, text):
    return expect_exception(seed, text, closes=True)


def expect_no_flush(seed, captures):
    """The answer the seed held until a flush, sent at once."""
    a = answer(seed)
    details = expect_provider_id(captures[("tcp", "details")], None)
    a["bytes"] = details["bytes"][:-len(frame(FLUSH_PB).hex())]
    return a


def expect_sent(seed, _):
    a = answer(seed)
    a["frames"] = [ws_server_frame(1, b'{\n  "send": {\n\n  }\n}')]
    a["end"] = "open"
    return a


def expect_waiting(seed, _):
    """No answer yet: a frame within max_request_bytes is read to its end
    (or its 10 s deadline), past the case's wait."""
    a = answer(seed)
    a["bytes"] = ""
    a["end"] = "open (no more bytes within 3s)"
    return a


def expect_close(seed, code):
    a = answer(seed)
    a["frames"] = [ws_server_frame(8, struct.pack(">H", code))]
    a["end"] = "close frame from server"
    return a


def loose_origin(seed, _):
    """http.c decides the body (issue 12 owns it): the status is the difference."""
    return None


TEXT_REQUESTS = "the request must be a JSON object with one of " + REQUESTS
UNKNOWN = "unknown request: expected one of " + REQUESTS
NO_FLUSH = "flush does not exist on the websocket: every response is sent as soon as it is ready"
MALFORMED = "malformed request: not a protobuf Request message"
KEY_LEN = "send: bad recipient public key length: %d bytes, expected 32"
PKEY_LEN = "send: bad recipient provider public key length: %d bytes, expected 32"
NO_RECIPIENT = "send: missing recipient"
SMALL = "send: the recipient's public key is not a usable X25519 key (a point of small order)"
LIMIT = "(limit 1052672 bytes); closing the connection"
NO_ID = "status: bad message id length: 0 bytes, expected 16"

# case -> (difference, how nymd's answer is made from the seed's, argument)
DIFFS = {}
for t in ("tcp", "ws"):
    for c in (["details", "clients", "pipelined details,fetch,clients"] if t == "tcp" else
              ["binary details", "binary clients", "binary pipelined details,fetch,clients",
               "details with Origin http://localhost", "fragmented binary details (2 frames)",
               "text details", "text clients", "text details null", "text whitespace",
               "text trailing garbage after the object", "text two objects in one message",
               "text pipelined details,fetch"]):
        DIFFS[(t, c)] = ("provider-id", expect_provider_id, None)
    b = "" if t == "tcp" else "binary "
    DIFFS[(t, b + "send-no-recipient")] = ("send-refused", expect_exception, NO_RECIPIENT)
    DIFFS[(t, b + "send-recipient-key-31")] = ("send-refused", expect_exception, KEY_LEN % 31)
    DIFFS[(t, b + "send-recipient-key-zero")] = ("send-refused", expect_exception, SMALL)
    DIFFS[(t, b + "send-empty-recipient")] = ("send-error-text", expect_exception, KEY_LEN % 0)
    # The recipient (C1) is registered in the topology: nymd sends to its provider.
    DIFFS[(t, b + "send-recipient-no-provider")] = ("provider-from-topology", expect_answer,
                                                    fld(2, b""))
    DIFFS[(t, b + "empty-request")] = ("invalid-request", expect_invalid_request, UNKNOWN)
    # Field 7 is nymd's status request (docs/acks.md): without an id.
    DIFFS[(t, b + "unknown-field-7")] = ("status-request", expect_exception, NO_ID)
    DIFFS[(t, b + "not-protobuf")] = ("exception-not-close", expect_exception, MALFORMED)
    DIFFS[(t, b + "wrong-wire-type")] = ("exception-not-close", expect_exception, MALFORMED)
DIFFS.update({
    ("tcp", "send-provider-key-31"): ("send-error-text", expect_exception, PKEY_LEN % 31),
    ("tcp", "send-provider-no-key"): ("send-error-text", expect_exception, PKEY_LEN % 0),
    ("tcp", "send-garbage-recipient"): ("exception-not-close", expect_exception, MALFORMED),
    ("tcp", "unknown-field-1"): ("invalid-request", expect_invalid_request, UNKNOWN),
    ("tcp", "details without flush (wait 2s)"): ("no-flush-needed", expect_no_flush, "captures"),
    ("tcp", "length over 1 MiB (1048577)"): ("request-limit", expect_waiting, None),
    ("tcp", "negative length (-1)"): (
        "frame-error", expect_frame_closed, "bad frame: negative frame length " + LIMIT),
    ("tcp", "varint longer than 10 bytes"): (
        "frame-error", expect_frame_closed, "bad frame: length prefix is not a valid varint " + LIMIT),
    ("tcp", "truncated frame then silence (wait 12s)"): (
        "frame-timeout", expect_frame_closed,
        "a frame was not completed within 10 seconds; closing the connection"),
    ("ws", "binary flush"): ("invalid-request", expect_invalid_request, NO_FLUSH),
    ("ws", "binary 3000-byte message (over the seed's 2048 read limit)"): (
        "packet-limit", expect_answer, fld(2, b"")),
    ("ws", "text flush"): ("invalid-request", expect_invalid_request, NO_FLUSH),
    ("ws", "text empty object"): ("invalid-request", expect_invalid_request,
                                  "empty request: expected one of " + REQUESTS),
    ("ws", "text send without recipient"): ("send-refused", expect_exception, NO_RECIPIENT),
    ("ws", "text send empty recipient"): ("send-error-text", expect_exception, KEY_LEN % 0),
    ("ws", "text send url-safe unpadded base64"): ("lenient-base64", expect_sent, None),
    ("ws", "text send message not base64"): (
        "exception-not-close", expect_exception, "invalid base64 in send.message"),
    ("ws", "text unknown request"): (
        "exception-not-close", expect_exception,
        INVALID + ': unknown request "bogus": expected one of ' + REQUESTS),
    ("ws", "text unknown field"): (
        "exception-not-close", expect_exception, 'unknown field "x" in details'),
    ("ws", "text malformed JSON"): (
        "exception-not-close", expect_exception,
        "malformed JSON: unexpected token near end of file (line 1, column 11)"),
    ("ws", "text JSON array"): ("exception-not-close", expect_exception, TEXT_REQUESTS),
    ("ws", "text two requests"): (
        "two-requests", expect_exception,
        "more than one request in one message (details and fetch)"),
    ("ws", "text not UTF-8"): ("utf8", expect_close, 1007),
    ("ws", "unmasked frame"): ("close-reason", expect_close, 1002),
    ("ws", "details with foreign Origin"): ("origin", None, "HTTP/1.1 403 "),
    ("http", "HTTP GET /mix without upgrade"): ("http", None, "HTTP/1.1 400 "),
    ("http", "HTTP GET /"): ("http", None, "HTTP/1.1 404 "),
    ("http", "HTTP GET /other"): ("http", None, "HTTP/1.1 404 "),
})


def as_documented(seed, mine, captures):
    """(difference, good, expected answer) for a case that is not identical."""
    kind, make, arg = DIFFS[key(seed)]
    if make is None:
        # The refusals of http.c: only the status line is the difference
        # (its texts are another issue's, and say why in nymd's words).
        status = mine.get("handshake") or mine.get("http", {}).get("status", "")
        good = status.startswith(arg) and (
            mine["transport"] == "http" or mine["end"] == "handshake refused")
        return kind, good, "status " + arg
    want = make(seed, captures if arg == "captures" else arg)
    return kind, strip_ids(answer(mine))[0] == want, want


def documented_kinds(doc):
    """{name: number of cases} of the table of differences (its first and
    last columns)."""
    rows, inside = {}, False
    for line in open(doc, encoding="utf-8"):
        if line.startswith("## "):
            inside = line.startswith("## Differences from the seed")
        elif inside and line.startswith("| `"):
            cells = line.split("|")
            rows[line.split("`")[1]] = cells[-2].strip()
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", type=int)
    p.add_argument("--ws", type=int)
    p.add_argument("--replayed", help="compare nymd's answers saved by --out instead")
    p.add_argument("--captures", required=True)
    p.add_argument("--doc", required=True, help="docs/socket-api.md")
    p.add_argument("--out", help="also write nymd's answers here, as the probe does")
    a = p.parse_args()
    seed = json.load(open(a.captures, encoding="utf-8"))
    if a.replayed:
        got = json.load(open(a.replayed, encoding="utf-8"))
    else:
        got = seedprobe.tcp_cases(a.tcp, True) + seedprobe.ws_cases(a.ws)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(got, f, indent=1)
    captures = {key(s): s for s in seed}
    mine = {key(r): r for r in got}
    documented = documented_kinds(a.doc)
    same, used = 0, {}
    for s in seed:
        k = key(s)
        r = mine.get(k)
        if r is None:
            report(False, "%s %s: not replayed" % k)
            continue
        if answer(r) == answer(s):
            same += 1
            report(k not in DIFFS, "%s %s: identical to the seed's program%s" %
                   (k + ((" (but listed as a difference: %s)" % DIFFS[k][0]) if k in DIFFS else "",)))
            continue
        stripped, had_id = strip_ids(answer(r))
        if had_id:
            used["message-id"] = used.get("message-id", 0) + 1
        if had_id and stripped == answer(s) and k not in DIFFS:
            report("message-id" in documented, "%s %s: differs as documented: message-id" % k)
            continue
        if k not in DIFFS:
            report(False, "%s %s: differs from the seed's program, and no documented "
                   "difference says so" % k)
            print("#   seed %s" % json.dumps(answer(s))[:400])
            print("#   nymd %s" % json.dumps(answer(r))[:400])
            continue
        kind, good, want = as_documented(s, r, captures)
        used[kind] = used.get(kind, 0) + 1
        report(good and kind in documented, "%s %s: differs as documented: %s%s" %
               (k + (kind, "" if kind in documented else
                     " (not in the table of docs/socket-api.md)")))
        if not good:
            print("#   want %s" % json.dumps(want)[:400])
            print("#   nymd %s" % json.dumps(answer(r))[:400])
    unused = [k for k in KINDS if k not in used]
    report(not unused and set(used) <= set(KINDS),
           "every listed difference is met by a case (unused: %s)" % (", ".join(unused) or "none"))
    wrong = ["%s (%s, replayed %d)" % (k, documented.get(k), used.get(k, 0))
             for k in sorted(set(used) | set(documented))
             if documented.get(k) != str(used.get(k, 0))]
    report(not wrong, "the table of docs/socket-api.md has a row for each difference, "
           "with its number of cases%s" % ("; wrong: " + ", ".join(wrong) if wrong else ""))
    print("# %d of %d answers identical to the seed's program; the others differ as "
          "documented: %s" % (same, len(seed), ", ".join(
              "%s %d" % (k, used[k]) for k in KINDS if k in used)))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
