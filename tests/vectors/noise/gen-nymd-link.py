#!/usr/bin/env python3
"""
An independent second derivation of Noise_IK_25519_ChaChaPoly_BLAKE2b and of
the nymd link wire format (docs/link.md), written separately from
src/common/noise.c on different primitives: Python's hashlib BLAKE2b, the
standard library's hmac module (RFC 2104, block size 128 for BLAKE2b) and the
`cryptography` package's X25519 and ChaCha20-Poly1305.

It first reproduces the published IK vectors in this directory (cacophony and
snow) byte for byte, then writes nymd-link.json: HMAC/HKDF/REKEY check values,
a link handshake with nymd's prologue and hello payloads, and transport frames
crossing rekeys (every 4 messages, and at the protocol's 2^16 boundary).

Usage: python3 gen-nymd-link.py > nymd-link.json   (Debian: python3-cryptography)
"""
import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

NAME = b"Noise_IK_25519_ChaChaPoly_BLAKE2b"
HASHLEN = 64
MAXNONCE = 2**64 - 1


def blake2b(data):
    return hashlib.blake2b(data, digest_size=64).digest()


def hmac_hash(key, data):
    return hmac.new(key, data, hashlib.blake2b).digest()


def hkdf(ck, ikm, n):
    temp = hmac_hash(ck, ikm)
    o1 = hmac_hash(temp, b"\x01")
    o2 = hmac_hash(temp, o1 + b"\x02")
    if n == 2:
        return o1, o2
    return o1, o2, hmac_hash(temp, o2 + b"\x03")


def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def dh(priv, peer):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(peer))


def nonce(n):
    return b"\x00" * 4 + struct.pack("<Q", n)


class Cipher:
    def __init__(self, k=None):
        self.k, self.n = k, 0

    def enc(self, ad, pt):
        if self.k is None:
            return pt
        assert self.n < MAXNONCE
        ct = ChaCha20Poly1305(self.k).encrypt(nonce(self.n), pt, ad)
        self.n += 1
        return ct

    def dec(self, ad, ct):
        if self.k is None:
            return ct
        pt = ChaCha20Poly1305(self.k).decrypt(nonce(self.n), ct, ad)
        self.n += 1
        return pt

    def rekey(self):
        self.k = rekey(self.k)


def rekey(k):
    return ChaCha20Poly1305(k).encrypt(nonce(MAXNONCE), b"\x00" * 32, b"")[:32]


class Handshake:
    """IK: <- s ... -> e, es, s, ss  <- e, ee, se"""

    def __init__(self, initiator, prologue, s, e, rs=None):
        self.init = initiator
        self.h = NAME + b"\x00" * (HASHLEN - len(NAME))
        self.ck = self.h
        self.cs = Cipher()
        self.s, self.spub = s, pub(s)
        self.e, self.epub = e, pub(e)
        self.rs, self.re = rs, None
        self.mix_hash(prologue)
        self.mix_hash(rs if initiator else self.spub)

    def mix_hash(self, d):
        self.h = blake2b(self.h + d)

    def mix_key(self, ikm):
        self.ck, k = hkdf(self.ck, ikm, 2)
        self.cs = Cipher(k[:32])

    def enc_hash(self, pt):
        ct = self.cs.enc(self.h, pt)
        self.mix_hash(ct)
        return ct

    def dec_hash(self, ct):
        pt = self.cs.dec(self.h, ct)
        self.mix_hash(ct)
        return pt

    def write1(self, payload):
        out = self.epub
        self.mix_hash(self.epub)
        self.mix_key(dh(self.e, self.rs))                 # es
        out += self.enc_hash(self.spub)                   # s
        self.mix_key(dh(self.s, self.rs))                 # ss
        return out + self.enc_hash(payload)

    def read1(self, m):
        self.re = m[:32]
        self.mix_hash(self.re)
        self.mix_key(dh(self.s, self.re))                 # es
        self.rs = self.dec_hash(m[32:80])                 # s
        self.mix_key(dh(self.s, self.rs))                 # ss
        return self.dec_hash(m[80:])

    def write2(self, payload):
        out = self.epub
        self.mix_hash(self.epub)
        self.mix_key(dh(self.e, self.re))                 # ee
        self.mix_key(dh(self.e, self.rs))                 # se (responder)
        return out + self.enc_hash(payload)

    def read2(self, m):
        self.re = m[:32]
        self.mix_hash(self.re)
        self.mix_key(dh(self.e, self.re))                 # ee
        self.mix_key(dh(self.s, self.re))                 # se (initiator)
        return self.dec_hash(m[32:])

    def split(self):
        k1, k2 = hkdf(self.ck, b"", 2)
        c1, c2 = Cipher(k1[:32]), Cipher(k2[:32])
        return (c1, c2) if self.init else (c2, c1)      # (send, recv)


def check_published(path):
    v = json.load(open(path))["vectors"][0]
    x = bytes.fromhex
    i = Handshake(True, x(v["init_prologue"]), x(v["init_static"]),
                  x(v["init_ephemeral"]), x(v["init_remote_static"]))
    r = Handshake(False, x(v["resp_prologue"]), x(v["resp_static"]),
                  x(v["resp_ephemeral"]))
    msgs = v["messages"]
    m = i.write1(x(msgs[0]["payload"]))
    assert m.hex() == msgs[0]["ciphertext"], path
    assert r.read1(m) == x(msgs[0]["payload"])
    m = r.write2(x(msgs[1]["payload"]))
    assert m.hex() == msgs[1]["ciphertext"], path
    assert i.read2(m) == x(msgs[1]["payload"])
    if "handshake_hash" in v:
        assert i.h.hex() == v["handshake_hash"] == r.h.hex(), path
    isend, irecv = i.split()
    rsend, rrecv = r.split()
    for k, msg in enumerate(msgs[2:]):
        a, b = (isend, rrecv) if k % 2 == 0 else (rsend, irecv)
        ct = a.enc(b"", x(msg["payload"]))
        assert ct.hex() == msg["ciphertext"], path
        assert b.dec(b"", ct) == x(msg["payload"])


# nymd link wire format (docs/link.md)
PROLOGUE = b"nymd-link-v1"
T_PACKET, T_CONTROL, T_DELIVERY = 1, 2, 3


def wire(body):
    return struct.pack(">H", len(body)) + body


def seal(c, interval, plaintext):
    if interval and c.n > 0 and c.n % interval == 0:
        c.rekey()
    n = c.n
    return n, wire(c.enc(b"", plaintext))


def frame(kind, body, ident=0):
    if kind == T_DELIVERY:
        return bytes([kind]) + struct.pack(">Q", ident) + body
    return bytes([kind]) + body


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check_published(os.path.join(here, "cacophony-IK_25519_ChaChaPoly_BLAKE2b.json"))
    check_published(os.path.join(here, "snow-IK_25519_ChaChaPoly_BLAKE2b.json"))

    x = bytes.fromhex
    out = {"generator": "gen-nymd-link.py (Python hashlib/hmac + cryptography)"}

    # HMAC-BLAKE2b and HKDF: short key, 64-byte key, 128-byte key, long key
    checks = []
    for key, data in [(b"k", b"data"), (bytes(range(64)), b""),
                      (bytes(range(128)), b"\x01"), (bytes(range(200)), b"x" * 300)]:
        checks.append({"key": key.hex(), "data": data.hex(),
                       "hmac": hmac_hash(key, data).hex()})
    out["hmac"] = checks
    ck = blake2b(b"chaining key")
    o1, o2, o3 = hkdf(ck, b"\x42" * 32, 3)
    out["hkdf"] = [{"ck": ck.hex(), "ikm": ("42" * 32),
                    "out1": o1.hex(), "out2": o2.hex(), "out3": o3.hex()},
                   {"ck": ck.hex(), "ikm": "", "out1": hkdf(ck, b"", 2)[0].hex(),
                    "out2": hkdf(ck, b"", 2)[1].hex()}]
    k = bytes(range(32))
    out["rekey"] = [{"k": k.hex(), "rekeyed": rekey(k).hex()}]

    # A link handshake with the cacophony keys and nymd's prologue and hello
    i_s = x("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1")
    i_e = x("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a")
    r_s = x("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893")
    r_e = x("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b")
    packet_bytes = 64
    hello = struct.pack(">I", packet_bytes)
    i = Handshake(True, PROLOGUE, i_s, i_e, pub(r_s))
    r = Handshake(False, PROLOGUE, r_s, r_e)
    m1 = i.write1(hello)
    assert r.read1(m1) == hello
    m2 = r.write2(hello)
    assert i.read2(m2) == hello
    assert i.h == r.h
    out["handshake"] = {
        "prologue": PROLOGUE.hex(), "packet_bytes": packet_bytes,
        "init_static": i_s.hex(), "init_ephemeral": i_e.hex(),
        "resp_static": r_s.hex(), "resp_ephemeral": r_e.hex(),
        "resp_static_public": pub(r_s).hex(), "init_static_public": pub(i_s).hex(),
        "msg1_wire": wire(m1).hex(), "msg2_wire": wire(m2).hex(),
        "handshake_hash": i.h.hex()}

    # Transport frames with a rekey every 4 messages per direction
    isend, irecv = i.split()
    rsend, rrecv = r.split()
    ping7 = x("42020807")            # Control{ping{nonce: 7}}
    frames = []
    for k in range(11):
        pkt = bytes([(k * 7 + j) & 0xff for j in range(packet_bytes)])
        kinds = [(T_PACKET, pkt, 0), (T_CONTROL, ping7, 0),
                 (T_DELIVERY, pkt, 1000 + k)]
        kind, body, ident = kinds[k % 3]
        pt = frame(kind, body, ident)
        n, w = seal(isend, 4, pt)
        frames.append({"dir": "i2r", "nonce": n, "plaintext": pt.hex(), "wire": w.hex()})
        pt = frame(T_PACKET, pkt[::-1])
        n, w = seal(rsend, 4, pt)
        frames.append({"dir": "r2i", "nonce": n, "plaintext": pt.hex(), "wire": w.hex()})
    out["transport"] = {"rekey_interval": 4, "frames": frames}

    # The protocol's own interval, 2^16: frames around the first rekey
    i = Handshake(True, PROLOGUE, i_s, i_e, pub(r_s))
    r = Handshake(False, PROLOGUE, r_s, r_e)
    r.read1(i.write1(hello))
    i.read2(r.write2(hello))
    isend, _ = i.split()
    isend.n = 65534
    frames = []
    for k in range(4):
        pt = frame(T_PACKET, bytes([k]) * packet_bytes)
        n, w = seal(isend, 65536, pt)
        frames.append({"dir": "i2r", "nonce": n, "plaintext": pt.hex(), "wire": w.hex()})
    out["rekey_boundary"] = {"rekey_interval": 65536, "start_nonce": 65534, "frames": frames}

    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
