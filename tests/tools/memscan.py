#!/usr/bin/env python3
"""Searches processes' memory for a private key or a marker (tests/security;
needs root).

Usage: memscan.py KEYFILE.pem PID...
       memscan.py --text MARKER PID...
Decodes the PEM's 32 raw key bytes (or takes MARKER's UTF-8 bytes), then
reads every readable mapping of each PID (/proc/PID/maps, /proc/PID/mem)
and prints "PID found N" or "PID clean" (N: occurrences), or
"PID unreadable REASON".
"""
import base64
import sys

CHUNK = 1 << 20
# Mappings larger than this are a sanitizer's shadow or reserved address
# space (terabytes, mostly never touched), never where a key is stored.
MAX_MAPPING = 1 << 30


def key_bytes(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("-----")]
    raw = base64.b64decode("".join(lines))
    if len(raw) < 32:
        raise SystemExit("%s: not a 32-byte key" % path)
    return raw[-32:]


def scan(pid, key):
    found = 0
    try:
        maps = open("/proc/%s/maps" % pid).read().splitlines()
        mem = open("/proc/%s/mem" % pid, "rb", 0)
    except OSError as e:
        return "unreadable %s" % e.strerror
    with mem:
        for line in maps:
            f = line.split()
            if "r" not in f[1] or (len(f) > 5 and f[5] == "[vvar]"):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if hi - lo > MAX_MAPPING:
                continue
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(CHUNK, hi - at))
                except (OSError, ValueError, OverflowError):
                    tail = b""
                    continue
                found += data.count(key)
                # keep the last len-1 bytes so a key across chunks is found once
                tail = data[-(len(key) - 1):]
    return "found %d" % found if found else "clean"


def main():
    args = sys.argv[1:]
    if args[0] == "--text":
        key = args[1].encode()
        args = args[2:]
    else:
        key = key_bytes(args[0])
        args = args[1:]
    for pid in args:
        print(pid, scan(pid, key), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
