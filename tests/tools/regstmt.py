#!/usr/bin/env python3
"""Registration statements (docs/directory.md) and XEdDSA in pure Python:
an implementation independent of src/common/xeddsa.c (Python integers
for the curve, OpenSSL through `cryptography` for X25519 and the final
Ed25519 verification), used to make the C unit test's vectors and by
tests that post statements to nym-directory.

    regstmt.py vector                 the vectors of tests/unit/test_xeddsa.c
    regstmt.py keypair SEED           X25519 secret (hex) and public key (b64)
    regstmt.py entry SEED PROVIDER [MS]
                                      a registeredClients entry of the client
                                      whose key SEED derives, for PROVIDER
"""
import base64, hashlib, json, struct, sys, time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
CONTEXT = b"nymd registration v1\n"


def recover_x(y, sign):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if x & 1 != sign:
        x = P - x
    return x


BY = 4 * pow(5, P - 2, P) % P
BASE = (recover_x(BY, 0), BY)


def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def mul(k, pt):
    acc = (0, 1)
    while k:
        if k & 1:
            acc = add(acc, pt)
        pt = add(pt, pt)
        k >>= 1
    return acc


def encode(pt):
    x, y = pt
    return (y | (x & 1) << 255).to_bytes(32, "little")


def clamp(sk):
    k = bytearray(sk)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(k, "little")


def xeddsa_sign(sk, msg, z):
    k = clamp(sk)
    E = mul(k, BASE)
    a = (-k) % Q if E[0] & 1 else k % Q
    A = E[1].to_bytes(32, "little")           # sign bit 0
    r = int.from_bytes(hashlib.sha512(b"\xfe" + b"\xff" * 31 + a.to_bytes(32, "little")
                                      + msg + z).digest(), "little") % Q
    R = encode(mul(r, BASE))
    h = int.from_bytes(hashlib.sha512(R + A + msg).digest(), "little") % Q
    return R + ((r + h * a) % Q).to_bytes(32, "little")


def x25519_public(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def xeddsa_verify(u_bytes, msg, sig):
    u = int.from_bytes(u_bytes, "little")
    if u >= P or (u + 1) % P == 0 or sig[63] & 0xe0:
        return False
    y = (u - 1) * pow(u + 1, P - 2, P) % P
    try:
        Ed25519PublicKey.from_public_bytes(y.to_bytes(32, "little")).verify(sig, msg)
        return True
    except Exception:
        return False


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode()


def secret_of(seed):
    return hashlib.sha256(b"regstmt " + seed.encode()).digest()


def message(client, provider, ms):
    return CONTEXT + client + provider + struct.pack(">Q", ms)


def entry(sk, provider, ms):
    client = x25519_public(sk)
    sig = xeddsa_sign(sk, message(client, provider, ms), hashlib.sha512(sk + provider).digest())
    assert xeddsa_verify(client, message(client, provider, ms), sig)
    return {"pubKey": b64(client), "registered": ms, "signature": b64(sig)}


def c_bytes(raw):
    return ", ".join("0x%02x" % b for b in raw)


def vector():
    for i in range(3):
        sk = hashlib.sha256(b"xeddsa vector sk %d" % i).digest()
        msg = hashlib.sha256(b"xeddsa vector msg %d" % i).digest()[:i * 13]
        z = hashlib.sha512(b"xeddsa vector z %d" % i).digest()
        sig = xeddsa_sign(sk, msg, z)
        u = x25519_public(sk)
        assert xeddsa_verify(u, msg, sig)
        print("\t{ /* %d */\n\t  { %s },\n\t  { %s },\n\t  %d,\n\t  { %s },\n\t  { %s },\n\t  { %s } },"
              % (i, c_bytes(sk), c_bytes(msg) or "0", len(msg), c_bytes(z), c_bytes(u), c_bytes(sig)))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "vector":
        vector()
    elif cmd == "keypair" and len(sys.argv) == 3:
        sk = secret_of(sys.argv[2])
        print(sk.hex(), b64(x25519_public(sk)))
    elif cmd == "entry" and len(sys.argv) in (4, 5):
        ms = int(sys.argv[4]) if len(sys.argv) == 5 else int(time.time() * 1000)
        provider = base64.urlsafe_b64decode(sys.argv[3])
        print(json.dumps(entry(secret_of(sys.argv[2]), provider, ms), separators=(",", ":")))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
