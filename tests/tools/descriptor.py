#!/usr/bin/env python3
"""A node's presence body with a signed descriptor (docs/directory.md),
for tests that talk to nym-directory without running a node.

    descriptor.py [--published MS] [--keys EPOCH:KEY,...]
        [--clients KEY,...] [--tamper] -- ROLE HOST PUBKEY LAYER SEED
    descriptor.py --identity SEED        (prints the identity key)

SEED is any string; the Ed25519 identity key is derived from it, so a
test can sign as the same node twice. --tamper changes the descriptor
after signing. A provider's --clients are keys listed without a
registration statement, or @NAME: the client whose X25519 key NAME
derives (tests/tools/regstmt.py), with its statement for this provider."""
import argparse, base64, hashlib, json, os, sys, time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

CONTEXT = b"nymd descriptor v1\n"


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode()


def identity(seed):
    sk = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.encode()).digest())
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw)
    return sk, b64(pk)


def client_entry(c, provider, published):
    if not c.startswith("@"):
        return {"pubKey": c}
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import regstmt
    return regstmt.entry(regstmt.secret_of(c[1:]), base64.urlsafe_b64decode(provider),
                         published)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--identity":
        print(identity(sys.argv[2])[1])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["mixnode", "provider"])
    ap.add_argument("host")
    ap.add_argument("pubkey")
    ap.add_argument("layer", type=int)
    ap.add_argument("seed")
    ap.add_argument("--published", type=int, default=int(time.time() * 1000))
    ap.add_argument("--keys", default="")
    ap.add_argument("--clients", default=None)
    ap.add_argument("--tamper", action="store_true")
    a = ap.parse_args()
    sk, ident = identity(a.seed)
    keys = []
    for item in filter(None, a.keys.split(",")):
        epoch, key = item.split(":", 1)
        keys.append({"epoch": int(epoch), "key": key})
    text = json.dumps({"version": 1, "role": a.role, "host": a.host,
                       "pubKey": a.pubkey, "identityKey": ident,
                       "layer": a.layer if a.role == "mixnode" else 0,
                       "published": a.published, "sphinxKeys": keys},
                      separators=(",", ":"))
    sig = b64(sk.sign(CONTEXT + text.encode()))
    if a.tamper:
        text = text.replace('"version":1', '"version":1 ')
    body = {"host": a.host, "pubKey": a.pubkey}
    if a.role == "mixnode":
        body["layer"] = a.layer
    else:
        clients = [] if a.clients is None else list(filter(None, a.clients.split(",")))
        body["registeredClients"] = [client_entry(c, a.pubkey, a.published)
                                     for c in clients]
    body["descriptor"] = text
    body["signature"] = sig
    print(json.dumps(body))


if __name__ == "__main__":
    main()
