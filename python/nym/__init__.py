"""nym: the client API of nymd's local socket, in Python.

A small module of the standard library only: it speaks nymd's socket
protocol (the seed's, docs/socket-api.md) over nymd's unix socket or its
TCP socket, with the calls of libnym(3):

    ============================  =================================
    nym                           libnym
    ============================  =================================
    connect(id, home=, start=)    (nymctl --id ID [--home] [--start])
    connect_unix(path)            nym_connect_unix()
    connect_tcp(host, port)       nym_connect_tcp()
    connect_socket(sock)          nym_connect_fd()
    start(id, home)               nym_client_start()
    default_socket_path(id, home) nym_default_socket_path()
    Client.details()              nym_details()
    Client.clients(refresh=False) nym_clients()
    Client.send(recipient, msg)   nym_send_message(): the message id
    Client.send_id(id, msg)       nym_send_message() with an id
    Client.status(message_id)     nym_status()
    Client.fetch()                nym_fetch()
    Client.flush()                nym_flush()
    Client.watch(interval=1.0)    (nymctl watch)
    Client.timeout = seconds      nym_set_timeout()
    Client.close()                nym_close()
    id_from_key(), key_from_id()  nym_id_from_key(), nym_key_from_id()
    ============================  =================================

Errors are exceptions, subclasses of NymError, one per libnym error code:
TransportError (NYM_ERR_IO), ConnectError, ProtocolError, RemoteError
(nymd's exception; str() is its text), InvalidArgument, NotFound,
StartError and Timeout.

Example::

    import nym

    with nym.connect("alice") as c:          # ~/.loopix/clients/alice/nymd.sock
        me = c.details()
        print("I am", me.id, "at provider", me.provider.id)
        c.send_id(bob_id, b"hello bob")       # queued durably when it returns
        for msg in c.watch(interval=0.5):     # polls fetch
            print(msg.decode())

    c = nym.connect(tcp="127.0.0.1:9001", timeout=5)   # nymd socket --socket tcp
    try:
        c.send_id("not an id", b"x")
    except nym.InvalidArgument as e:
        print(e)

watch() polls: nymd has no push subscription on its socket yet.
send() returns the message's id, and status(id) its delivery status
(MessageStatus: queued, sending, delivered, failed, or sent for a reply). See docs/python.md (/usr/share/doc/python3-nym/python.md).
"""

from __future__ import annotations

from .client import (START_TIMEOUT, WATCH_INTERVAL, Client, connect, connect_socket,
                     connect_tcp, connect_unix, default_socket_path, start, valid_id)
from .errors import (ConnectError, InvalidArgument, NotFound, NymError, ProtocolError,
                     RemoteError, StartError, Timeout, TransportError)
from .wire import (ID_CHARS, KEY_BYTES, MAX_REPLY_SURBS, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
                   MESSAGE_ID_BYTES, TAG_BYTES, ClientConfig, MessageStatus, MixConfig, Received,
                   id_from_key, key_from_id)

__version__ = "0.1.0"

__all__ = [
    "Client", "connect", "connect_unix", "connect_tcp", "connect_socket", "start",
    "default_socket_path", "valid_id", "id_from_key", "key_from_id",
    "ClientConfig", "MixConfig", "Received", "MessageStatus",
    "NymError", "TransportError", "ConnectError", "ProtocolError", "RemoteError",
    "InvalidArgument", "NotFound", "StartError", "Timeout",
    "START_TIMEOUT", "WATCH_INTERVAL", "KEY_BYTES", "ID_CHARS",
    "MAX_REQUEST_BYTES", "MAX_RESPONSE_BYTES", "MAX_REPLY_SURBS", "TAG_BYTES",
    "MESSAGE_ID_BYTES",
]
