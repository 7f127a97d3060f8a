#!/usr/bin/env python3
"""The checks of python-module.sh, through the nym module only, against a
running testnet: alice's nymd on its unix socket, bob's on a TCP socket.
Prints one line per check, "PASS<TAB>what" or "FAIL<TAB>what<TAB>why",
which the shell turns into TAP; a crash leaves the plan short.

Environment: ALICE_SOCKET, ALICE_ID, ALICE_PROVIDER, ALICE_RPCD (the pid
of alice's rpcd, stopped for the timeout check), BOB_TCP (host:port),
BOB_ID, CAROL_ID (a client whose nymd is not running: start() starts it;
its pid goes to CAROL_PIDFILE), CLIENTS_HOME, NYMD_BINARY.
"""
import errno
import os
import signal
import socket
import sys
import time
import traceback

sys.dont_write_bytecode = True
import nym  # noqa: E402

E = os.environ


def report(ok, what, why=""):
    print("%s\t%s\t%s" % ("PASS" if ok else "FAIL", what, str(why).replace("\n", " ")[:500]),
          flush=True)


def check(what):
    """A decorator: runs the check at once; it passes unless it raises."""
    def run(fn):
        try:
            fn()
            report(True, what)
        except Exception as e:  # noqa: BLE001
            report(False, what, "%s: %s | %s" % (type(e).__name__, e,
                                                 traceback.format_exc().splitlines()[-3]))
        return fn
    return run


def raises(cls, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except cls as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError("expected %s, got %s: %s" % (cls.__name__, type(e).__name__, e))
    raise AssertionError("expected %s, nothing was raised" % cls.__name__)


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


alice = nym.connect_unix(E["ALICE_SOCKET"], timeout=20)
host, port = E["BOB_TCP"].rsplit(":", 1)
bob = nym.connect_tcp(host, port, timeout=20)


@check("details over the unix socket: alice's id, key and provider")
def _():
    d = alice.details()
    expect(d.id == E["ALICE_ID"], "id %r, want %r" % (d.id, E["ALICE_ID"]))
    expect(d.pubkey == nym.key_from_id(E["ALICE_ID"]), "pubkey does not match the id")
    expect(d.provider is not None and d.provider.id == E["ALICE_PROVIDER"],
           "provider %r, want %r" % (d.provider, E["ALICE_PROVIDER"]))
    expect(d.provider.layer == 1000000 and d.provider.host and d.provider.port,
           "provider without address or layer: %r" % (d.provider,))


@check("details over TCP: bob's id")
def _():
    d = bob.details()
    expect(d.id == E["BOB_ID"], "id %r, want %r" % (d.id, E["BOB_ID"]))


@check("connect(id, home=) and NYMD_HOME find alice's socket as nymctl does")
def _():
    with nym.connect("alice", home=E["CLIENTS_HOME"], timeout=10) as c:
        expect(c.details().id == E["ALICE_ID"], "another client answered")
    os.environ["NYMD_HOME"] = E["CLIENTS_HOME"]
    try:
        expect(nym.default_socket_path("alice") == E["ALICE_SOCKET"],
               "%s != %s" % (nym.default_socket_path("alice"), E["ALICE_SOCKET"]))
        with nym.connect("alice", timeout=10) as c:
            expect(c.details().id == E["ALICE_ID"], "another client answered")
    finally:
        del os.environ["NYMD_HOME"]
    with nym.connect(tcp=E["BOB_TCP"], timeout=10) as c:
        expect(c.details().id == E["BOB_ID"], "not bob over tcp=")


@check("clients lists alice, bob and carol, each with a provider")
def _():
    deadline = time.monotonic() + 20
    while True:
        ids = {c.id: c for c in alice.clients()}
        if {E["ALICE_ID"], E["BOB_ID"], E["CAROL_ID"]} <= set(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for who in ("ALICE_ID", "BOB_ID", "CAROL_ID"):
        c = ids.get(E[who])
        expect(c is not None, "%s missing from %s" % (who, sorted(ids)))
        expect(c.pubkey == nym.key_from_id(c.id), "key of %s" % who)
        expect(c.provider is not None and c.provider.pubkey is not None, "provider of %s" % who)


MSG1 = b"hello bob, from python \x00\xff\xfe" + os.urandom(8).hex().encode()


SENT = {}


@check("send from alice (unix) to bob by id")
def _():
    SENT["id"] = alice.send_id(E["BOB_ID"], MSG1)


@check("send returns the message id (16 bytes), and status() its state")
def _():
    mid = SENT.get("id")
    expect(isinstance(mid, bytes) and len(mid) == nym.MESSAGE_ID_BYTES, repr(mid))
    st = alice.status(mid)
    expect(isinstance(st, nym.MessageStatus) and st.message_id == mid, repr(st))
    expect(st.state in ("queued", "sending", "delivered") and st.packets == 1, repr(st))
    e = raises(nym.RemoteError, alice.status, bytes(16))
    expect(str(e).startswith("status: no message with id 000000"), str(e))
    raises(nym.InvalidArgument, alice.status, b"short")


@check("fetch on bob's side (TCP): exactly alice's message arrives, once")
def _():
    got = []
    deadline = time.monotonic() + 60
    while MSG1 not in got and time.monotonic() < deadline:
        got += bob.fetch()
        time.sleep(0.2)
    time.sleep(1)
    got += bob.fetch()
    expect(got.count(MSG1) == 1, "bob got %r" % (got,))


MSG2 = "héllo alice, from bob over TCP " + os.urandom(4).hex()


@check("send from bob (TCP, a ClientConfig from clients) and watch on alice's side")
def _():
    to = [c for c in bob.clients() if c.id == E["ALICE_ID"]]
    expect(to, "alice is not in bob's clients")
    bob.send(to[0], MSG2)
    t0 = time.monotonic()
    got = []
    for m in alice.watch(interval=0.2, duration=60):
        got.append(m)
        if m == MSG2.encode():
            break
    expect(MSG2.encode() in got, "alice's watch saw %r in %.1f s" % (got, time.monotonic() - t0))


@check("bad recipients: nymd's own text as RemoteError, the connection stays usable")
def _():
    prov = alice.details().provider
    bob_key = nym.key_from_id(E["BOB_ID"])
    e = raises(nym.RemoteError, alice.send,
               nym.ClientConfig(id="x", pubkey=bob_key[:31], provider=prov), b"x")
    expect(str(e) == "send: bad recipient public key length: 31 bytes, expected 32", str(e))
    # Without provider nymd looks the key up in its topology: one it does
    # not list is refused.
    e = raises(nym.RemoteError, alice.send,
               nym.ClientConfig(id=nym.id_from_key(bytes(range(32)))), b"x")
    expect(str(e) == "send: the recipient has no provider, and the topology does "
           "not list its key", str(e))
    e = raises(nym.RemoteError, alice.send,
               nym.ClientConfig(id=E["BOB_ID"], provider=prov), b"x" * 1048577)
    expect(str(e) == "send: message too large: 1048577 bytes, the maximum is 1048576", str(e))
    expect(e.code == -4, "code %r" % e.code)
    expect(alice.details().id == E["ALICE_ID"], "alice's connection is not usable after")


@check("bad recipients found by the module: not an id, not registered")
def _():
    e = raises(nym.InvalidArgument, alice.send_id, "bob", b"x")
    expect("is not a client id" in str(e), str(e))
    unknown = nym.id_from_key(bytes([9]) * 32)
    t0 = time.monotonic()
    e = raises(nym.NotFound, alice.send_id, unknown, b"x")
    expect(str(e) == "recipient %s is not a registered client in nymd's topology" % unknown, str(e))
    expect(time.monotonic() - t0 < 15, "took %.1f s" % (time.monotonic() - t0))
    e = raises(nym.InvalidArgument, alice.send_id, E["BOB_ID"], b"x" * (nym.MAX_REQUEST_BYTES + 1))
    expect("larger than nymd's limit" in str(e), str(e))


@check("a nymd that does not answer: Timeout after the timeout, then the connection is unusable")
def _():
    rpcd = int(E["ALICE_RPCD"])
    c = nym.connect_unix(E["ALICE_SOCKET"], timeout=10)
    c.details()
    c.timeout = 0.5
    os.kill(rpcd, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        e = raises(nym.Timeout, c.details)
        took = time.monotonic() - t0
    finally:
        os.kill(rpcd, signal.SIGCONT)
    expect(0.45 <= took < 3, "Timeout after %.2f s, want 0.5" % took)
    expect(isinstance(e, TimeoutError), "not a TimeoutError")
    e = raises(nym.TransportError, c.details)
    expect("timed out" in str(e), str(e))
    c.close()
    # the daemon itself is fine once it runs again
    c = nym.connect_unix(E["ALICE_SOCKET"], timeout=10)
    expect(c.details().id == E["ALICE_ID"], "alice after SIGCONT")
    c.close()


@check("connection errors: nothing listening (unix, TCP, an id without a daemon)")
def _():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free = s.getsockname()[1]
    s.close()
    e = raises(nym.ConnectError, nym.connect_tcp, "127.0.0.1", free, timeout=5)
    expect(e.errno == errno.ECONNREFUSED, "errno %r" % e.errno)
    e = raises(nym.ConnectError, nym.connect, "nobody", home=E["CLIENTS_HOME"])
    expect(e.errno == errno.ENOENT and "nobody/nymd.sock" in str(e), str(e))
    e = raises(nym.NotFound, nym.start, "nobody", E["CLIENTS_HOME"])
    expect("nymd init --id nobody" in str(e), str(e))


@check("start() runs nymd for carol, detached, and tells its pid")
def _():
    c = nym.start("carol", E["CLIENTS_HOME"], timeout=20)
    with open(E["CAROL_PIDFILE"], "w") as f:
        f.write("%d\n" % (c.pid or 0))
    expect(c.pid is not None and c.pid > 1, "pid %r" % c.pid)
    with open("/proc/%d/stat" % c.pid) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    expect(ppid != os.getpid(), "nymd is a child of the caller")
    deadline = time.monotonic() + 15
    while True:
        try:
            d = c.details()
            break
        except nym.RemoteError:   # "nymd is starting, its key is not loaded yet"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    expect(d.id == E["CAROL_ID"], "id %r" % d.id)
    # a second start() uses the running one
    c2 = nym.start("carol", E["CLIENTS_HOME"], timeout=20)
    expect(c2.pid is None, "started another nymd: %r" % c2.pid)
    c2.close()
    c.close()


alice.close()
bob.close()
