#!/usr/bin/env python3
"""A tiny authoritative-looking DNS server for tests (tests/integration/
nss.sh): answers A queries for the names given (NAME=IPV4) over UDP,
NOERROR without an answer for their other types, NXDOMAIN for any other
name, and appends "QTYPE NAME" of every query to a log file.
Usage: dnsserver.py ADDR PORT LOG NAME=IPV4..."""
import socket
import struct
import sys

addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = {}
for a in sys.argv[4:]:
    n, ip = a.split("=")
    names[n.lower().rstrip(".")] = socket.inet_aton(ip)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
with open(log + ".ready", "w") as f:
    f.write("ready\n")
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    qid, _flags, qd = struct.unpack(">HHH", q[:6])
    if qd != 1:
        continue
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    question = q[12:i + 5]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    name = ".".join(labels).lower()
    with open(log, "a") as f:
        f.write("%d %s\n" % (qtype, name))
    answers = b""
    rcode = 0
    if name not in names:
        rcode = 3
    elif qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + names[name]
    header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    s.sendto(header + question + answers, peer)
