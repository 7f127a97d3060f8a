#!/usr/bin/env python3
"""The link messages of one TCP connection in a packet capture (python
standard library only).

Usage: linkframes.py PCAP --src-port P --dst-port Q

Reads a classic pcap file (as `tcpdump -w` writes it; Ethernet, Linux
cooked v1/v2, or BSD loopback framing; IPv4 or IPv6), reassembles the
TCP byte stream from port P to port Q, and cuts it into link messages as
docs/link.md section 2 defines them: a 2-byte big-endian length L, then
L bytes. Prints one line per message: "TIME L", TIME being the capture
time (seconds since the epoch) of the segment holding the message's
first byte. The stream must start with the connection's SYN (exit
status 2 otherwise) so that message boundaries are known; a gap in the
capture ends the output (exit status 3).
"""
import argparse
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("linkframes: not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    i = 24
    while i + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[i:i + 16])
        i += 16
        yield sec + frac / (1e9 if nano else 1e6), linktype, data[i:i + incl]
        i += incl


def ip_payload(linktype, frame):
    """(protocol, ip payload) or None"""
    if linktype == 1:	# Ethernet
        if len(frame) < 14:
            return None
        etype, off = struct.unpack(">H", frame[12:14])[0], 14
    elif linktype == 113:	# Linux cooked v1
        etype, off = struct.unpack(">H", frame[14:16])[0], 16
    elif linktype == 276:	# Linux cooked v2
        etype, off = struct.unpack(">H", frame[0:2])[0], 20
    elif linktype in (0, 108):	# BSD loopback
        fam = struct.unpack("<I", frame[0:4])[0]
        etype, off = (0x0800 if fam == 2 else 0x86DD), 4
    elif linktype in (101, 12):	# raw IP
        etype = 0x0800 if frame[0] >> 4 == 4 else 0x86DD
        off = 0
    else:
        raise SystemExit("linkframes: link type %d not handled" % linktype)
    ip = frame[off:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        return ip[9], ip[ihl:total]
    if etype == 0x86DD and len(ip) >= 40:
        plen = struct.unpack(">H", ip[4:6])[0]
        return ip[6], ip[40:40 + plen]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--src-port", type=int, required=True)
    ap.add_argument("--dst-port", type=int, required=True)
    a = ap.parse_args()

    isn = None
    segs = {}	# relative sequence number -> (time, bytes)
    for t, lt, frame in packets(a.pcap):
        ipp = ip_payload(lt, frame)
        if ipp is None or ipp[0] != 6:
            continue
        tcp = ipp[1]
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        if sport != a.src_port or dport != a.dst_port:
            continue
        flags = tcp[13]
        if flags & 0x02:	# SYN
            isn = seq
            continue
        if isn is None:
            continue
        body = tcp[(tcp[12] >> 4) * 4:]
        if body:
            rel = (seq - isn - 1) & 0xFFFFFFFF
            if rel not in segs or len(segs[rel][1]) < len(body):
                segs[rel] = (t, body)
    if isn is None:
        print("linkframes: no SYN from port %d to %d in the capture" %
              (a.src_port, a.dst_port), file=sys.stderr)
        return 2

    # Reassemble, remembering the capture time of each segment's start.
    stream = bytearray()
    starts = []	# (offset, time)
    gap = False
    for rel in sorted(segs):
        t, body = segs[rel]
        if rel > len(stream):
            gap = True
            break
        new = body[len(stream) - rel:]
        if new:
            starts.append((len(stream), t))
            stream += new

    k = 0
    off = 0
    while off + 2 <= len(stream):
        n = struct.unpack(">H", stream[off:off + 2])[0]
        if off + 2 + n > len(stream):
            break
        while k + 1 < len(starts) and starts[k + 1][0] <= off:
            k += 1
        print("%.6f %d" % (starts[k][1], n))
        off += 2 + n
    return 3 if gap else 0


if __name__ == "__main__":
    sys.exit(main())
