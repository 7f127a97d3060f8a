"""Connections to a running nymd: libnym's calls in Python (see the
package's documentation, ``pydoc nym``)."""

from __future__ import annotations

import errno
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time
from typing import Iterator, List, Optional, Tuple, Union

from . import wire
from .errors import (ConnectError, InvalidArgument, NotFound, ProtocolError, RemoteError,
                     StartError, Timeout, TransportError)
from .wire import ClientConfig

#: How long start() waits for a nymd it started (libnym's NYM_START_TIMEOUT_MS).
START_TIMEOUT = 15.0
#: watch()'s default pause between two fetches that found nothing, in
#: seconds (nymctl watch's default --interval).
WATCH_INTERVAL = 1.0
#: nymd's rule for a client id (config_id_valid): what cannot leave ROOT/clients.
ID_MAX_CHARS = 64
_ID_RE = re.compile(r"[A-Za-z0-9._-]+\Z")
# sizeof(struct sockaddr_un.sun_path) on Linux, with its NUL.
_SUN_PATH_BYTES = 108

Message = Union[bytes, bytearray, memoryview, str]


def _deadline(timeout: Optional[float]) -> Optional[float]:
    return None if timeout is None else time.monotonic() + timeout


class Client:
    """One connection to nymd over its unix or TCP socket.

    Made by :func:`connect`, :func:`connect_unix`, :func:`connect_tcp`,
    :func:`connect_socket` or :func:`start`; a context manager that closes
    it. Requests are answered in order; a lock lets several threads share
    one connection, one request at a time.

    ``timeout`` (seconds, None to wait forever, the default) bounds each
    call: from sending its request to the end of its answer. After a
    :class:`~nym.Timeout`, a :class:`~nym.TransportError` or a broken
    frame the connection is unusable and every later call raises
    :class:`~nym.TransportError`; after a :class:`~nym.RemoteError` it
    stays usable. ``pid`` is the pid of the nymd that :func:`start`
    started for it, else None.
    """

    def __init__(self, sock: socket.socket, timeout: Optional[float] = None) -> None:
        self._sock: Optional[socket.socket] = sock
        self._buf = bytearray()
        self._broken: Optional[str] = None
        self._lock = threading.Lock()
        self.timeout = timeout
        self.pid: Optional[int] = None

    # ---- the connection ---------------------------------------------------

    @property
    def timeout(self) -> Optional[float]:
        """Seconds each call may wait for nymd; None waits forever."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: Optional[float]) -> None:
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise InvalidArgument("the timeout is a number of seconds > 0, or None")
        self._timeout = value

    def set_timeout(self, seconds: Optional[float]) -> None:
        """libnym's nym_set_timeout(), in seconds: None or 0 waits forever."""
        self.timeout = seconds or None

    def close(self) -> None:
        """Closes the connection (nym_close); later calls raise TransportError."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._broken = self._broken or "the connection is closed"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self._broken or "open"
        return "<nym.Client %s, timeout=%r>" % (state, self._timeout)

    def _fail(self, exc: Exception, why: str) -> Exception:
        self._broken = why
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return exc

    def _remaining(self, deadline: Optional[float]) -> Optional[float]:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._fail(Timeout("no answer from nymd within %g s" % self._timeout),
                             "a request timed out")
        return left

    def _recv(self, deadline: Optional[float]) -> None:
        assert self._sock is not None
        self._sock.settimeout(self._remaining(deadline))
        try:
            chunk = self._sock.recv(65536)
        except socket.timeout:
            raise self._fail(Timeout("no answer from nymd within %g s" % self._timeout),
                             "a request timed out") from None
        except OSError as e:
            raise self._fail(TransportError("read: %s" % (e.strerror or e)), "read failed") from e
        if not chunk:
            raise self._fail(TransportError("nymd closed the connection"),
                             "nymd closed the connection")
        self._buf += chunk

    def _read_frame(self, deadline: Optional[float]) -> bytes:
        while True:
            try:
                head = wire.decode_length(self._buf)
            except ProtocolError as e:
                raise self._fail(e, "nymd's framing is broken") from None
            if head is not None:
                break
            self._recv(deadline)
        n, used = head
        while len(self._buf) < used + n:
            self._recv(deadline)
        body = bytes(self._buf[used:used + n])
        del self._buf[:used + n]
        return body

    def _call(self, body: bytes, expect: str) -> object:
        """Sends one request and returns its answer's value."""
        return self._call_response(body, expect).value

    def _call_response(self, body: bytes, expect: str) -> "wire.Response":
        """Sends one request and returns its answer."""
        with self._lock:
            if self._sock is None or self._broken is not None:
                raise TransportError("the connection is unusable: %s" % self._broken)
            deadline = _deadline(self._timeout)
            data = wire.frame(body)
            try:
                self._sock.settimeout(self._remaining(deadline))
                self._sock.sendall(data)
            except socket.timeout:
                raise self._fail(Timeout("nymd did not take the request within %g s"
                                         % self._timeout), "a request timed out") from None
            except OSError as e:
                raise self._fail(TransportError("write: %s" % (e.strerror or e)),
                                 "write failed") from e
            res = wire.decode_response(self._read_frame(deadline))
        if res.kind == "exception":
            raise RemoteError(res.value or "nymd answered with an exception without text")
        if res.kind != expect:
            raise ProtocolError("nymd answered a %s request with a %s response" % (expect, res.kind))
        return res

    # ---- requests ---------------------------------------------------------

    def details(self) -> ClientConfig:
        """This client's own configuration: its id, key and provider (nym_details)."""
        d = self._call(wire.encode_request("details"), "details")
        if d is None:
            raise ProtocolError("a client configuration is missing")
        assert isinstance(d, ClientConfig)
        return d

    def clients(self, refresh: bool = False) -> List[ClientConfig]:
        """The clients registered in the topology (nym_clients). With
        refresh, nymd fetches the topology from the directory first
        (at most about 4 s)."""
        v = self._call(wire.encode_request("clients", refresh=refresh), "clients")
        assert isinstance(v, list)
        return v

    def send(self, recipient: Union[ClientConfig, str], message: Message,
             reply_surbs: int = 0) -> Optional[bytes]:
        """Sends message to recipient (nym_send_message): a ClientConfig
        (from clients(); its key and its provider's key matter), or an id,
        which is send_id(). With reply_surbs (1 to 16), the recipient can
        answer that many times with reply(), knowing only a random sender
        tag. Returns once nymd has queued it durably, with its message id
        (16 bytes, for status(); None from a nymd older than delivery
        status)."""
        if isinstance(recipient, str):
            return self.send_id(recipient, message, reply_surbs)
        if not isinstance(recipient, ClientConfig):
            raise InvalidArgument("send: the recipient is a ClientConfig or an id")
        mid = self._call(wire.encode_request("send", recipient, _bytes(message),
                                             reply_surbs=reply_surbs), "send")
        assert mid is None or isinstance(mid, bytes)
        return mid

    def send_id(self, recipient_id: str, message: Message,
                reply_surbs: int = 0) -> Optional[bytes]:
        """Sends to the registered client with this id (nym_send_id): finds
        it with clients(), then, if missing, with clients(refresh=True).
        NotFound when it is in neither. Returns the message id, as send()."""
        key = wire.key_from_id(recipient_id)
        data = _bytes(message)
        for refresh in (False, True):
            for c in self.clients(refresh=refresh):
                if c.id == recipient_id or c.pubkey == key:
                    return self.send(c, data, reply_surbs)
        raise NotFound("recipient %s is not a registered client in nymd's topology" % recipient_id)

    def status(self, message_id: bytes) -> wire.MessageStatus:
        """The delivery status of the message send() gave this id
        (nym_status); RemoteError when nymd does not know it (never sent
        here, or forgotten 7 days after it ended)."""
        st = self._call(wire.encode_request("status", message_id=message_id), "status")
        assert isinstance(st, wire.MessageStatus)
        return st

    def fetch(self) -> List[bytes]:
        """Takes the messages received so far, oldest first (nym_fetch);
        nymd forgets them as it returns them."""
        v = self._call(wire.encode_request("fetch"), "fetch")
        assert isinstance(v, list)
        return v

    def fetch_received(self) -> List[wire.Received]:
        """fetch(), with each message's sender tag (when it came with reply
        blocks) and id (nym_fetch_received)."""
        res = self._call_response(wire.encode_request("fetch"), "fetch")
        if res.received is not None:
            return list(res.received)
        assert isinstance(res.value, list)
        return [wire.Received(m) for m in res.value]  # an older nymd

    def reply(self, sender_tag: bytes, message: Message) -> Optional[bytes]:
        """Answers the message of sender_tag through one of its reply
        blocks, each used once (nym_reply_message); RemoteError when none
        is left. Returns the reply's message id, as send()."""
        mid = self._call(wire.encode_request("reply", message=_bytes(message),
                                             tag=bytes(sender_tag)), "reply")
        assert mid is None or isinstance(mid, bytes)
        return mid

    def flush(self) -> None:
        """Returns once nymd has written every earlier answer (nym_flush)."""
        self._call(wire.encode_request("flush"), "flush")

    def watch(self, interval: float = WATCH_INTERVAL,
              duration: Optional[float] = None) -> Iterator[bytes]:
        """Yields each message as it arrives, oldest first (nymctl watch).

        nymd has no push subscription yet, so this polls: it fetches, yields
        what came, and fetches again at once if something came, else after
        ``interval`` seconds. It ends after ``duration`` seconds (None:
        never; stop it with ``break``). Errors are raised from the
        generator."""
        if interval <= 0:
            raise InvalidArgument("watch: the interval is a number of seconds > 0")
        end = _deadline(duration)
        while True:
            msgs = self.fetch()
            yield from msgs
            if end is not None and time.monotonic() >= end:
                return
            if not msgs:
                pause = interval if end is None else min(interval, end - time.monotonic())
                if pause > 0:
                    time.sleep(pause)


def _bytes(message: Message) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise InvalidArgument("a message is bytes or str, not %s" % type(message).__name__)


# ---- connecting -------------------------------------------------------------


def _connect_error(what: str, e: OSError) -> ConnectError:
    err = ConnectError("connect %s: %s" % (what, e.strerror or e))
    err.errno = e.errno
    return err


def connect_unix(path: Union[str, bytes, os.PathLike], timeout: Optional[float] = None) -> Client:
    """Connects to nymd's unix socket at path (nym_connect_unix), by default
    ROOT/clients/ID/nymd.sock for ``nymd run --id ID``."""
    p = os.fsencode(path)
    if not p:
        raise InvalidArgument("no socket path")
    if len(p) >= _SUN_PATH_BYTES:
        raise InvalidArgument("%s: the path is too long for a unix socket" % os.fsdecode(p))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(p)
    except socket.timeout:
        s.close()
        raise ConnectError("connect %s: no answer within %g s" % (os.fsdecode(p), timeout)) from None
    except OSError as e:
        s.close()
        raise _connect_error(os.fsdecode(p), e) from None
    return Client(s, timeout)


def connect_tcp(host: str, port: Union[int, str], timeout: Optional[float] = None) -> Client:
    """Connects to ``nymd socket --socket tcp`` at host (a name or an
    address; every address it resolves to is tried) and port
    (nym_connect_tcp)."""
    try:
        portnum = int(port)
    except (TypeError, ValueError):
        portnum = -1
    if not host or not 0 < portnum < 65536:
        raise InvalidArgument("no host or no valid port")
    what = "%s port %d" % (host, portnum)
    try:
        s = socket.create_connection((host, portnum), timeout=timeout)
    except socket.gaierror as e:
        err = ConnectError("%s: %s" % (what, e.strerror))
        err.errno = errno.EHOSTUNREACH
        raise err from None
    except socket.timeout:
        raise ConnectError("connect %s: no answer within %g s" % (what, timeout)) from None
    except OSError as e:
        raise _connect_error(what, e) from None
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Client(s, timeout)


def connect_socket(sock: socket.socket, timeout: Optional[float] = None) -> Client:
    """Uses a connected stream socket (nym_connect_fd); the Client owns it
    from then on. InvalidArgument unless it is a stream socket."""
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        raise InvalidArgument("not a connected stream socket")
    try:
        sock.getpeername()
    except OSError as e:
        raise InvalidArgument("not a connected stream socket: %s" % (e.strerror or e)) from None
    return Client(sock, timeout)


def _root(home: Optional[str]) -> str:
    """ROOT: home, else $NYMD_HOME, else ~/.loopix (as libnym and nymctl)."""
    if home:
        return home
    env = os.environ.get("NYMD_HOME")
    if env:
        return env
    h = os.environ.get("HOME", "")
    if not h.startswith("/"):
        try:
            h = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            raise InvalidArgument("no home directory: set NYMD_HOME or pass home") from None
    return h + "/.loopix"


def valid_id(client_id: str) -> bool:
    """Whether nymd would take client_id for --id: 1 to 64 of [A-Za-z0-9._-],
    not starting with '-' or '.'."""
    return (isinstance(client_id, str) and 0 < len(client_id) <= ID_MAX_CHARS and
            client_id[0] not in "-." and _ID_RE.match(client_id) is not None)


def default_socket_path(client_id: str, home: Optional[str] = None) -> str:
    """ROOT/clients/ID/nymd.sock (nym_default_socket_path): ROOT is home,
    else $NYMD_HOME, else ~/.loopix. InvalidArgument for an id nymd would
    refuse or a path too long for a unix socket."""
    if not valid_id(client_id):
        raise InvalidArgument("'%s' is not a valid client id" % (client_id,))
    path = "%s/clients/%s/nymd.sock" % (_root(home), client_id)
    if len(os.fsencode(path)) >= _SUN_PATH_BYTES:
        raise InvalidArgument("the socket path of %s is too long: %s" % (client_id, path))
    return path


def _split_hostport(tcp: Union[str, Tuple[str, Union[int, str]]]) -> Tuple[str, str]:
    if isinstance(tcp, tuple):
        return str(tcp[0]), str(tcp[1])
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", tcp)
    if m is None:
        raise InvalidArgument("'%s' is not HOST:PORT (IPv6 in brackets)" % tcp)
    return (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))


def connect(client_id: Optional[str] = None, *, home: Optional[str] = None,
            path: Optional[str] = None,
            tcp: Union[str, Tuple[str, Union[int, str]], None] = None,
            start: bool = False, timeout: Optional[float] = None) -> Client:
    """Connects as nymctl does: to client_id's nymd on its default socket
    (under home, else $NYMD_HOME, else ~/.loopix; with start, starting
    ``nymd run`` when none listens, see :func:`start`), or to the unix
    socket at path, or to tcp, ``"HOST:PORT"`` (``"[::1]:9001"``) or
    ``(host, port)``. Exactly one of client_id, path and tcp."""
    if (client_id is not None) + (path is not None) + (tcp is not None) != 1:
        raise InvalidArgument("say which nymd to use: exactly one of client_id, path and tcp")
    if client_id is None and (home is not None or start):
        raise InvalidArgument("home and start go with client_id")
    if path is not None:
        return connect_unix(path, timeout)
    if tcp is not None:
        host, port = _split_hostport(tcp)
        return connect_tcp(host, port, timeout)
    assert client_id is not None
    if start:
        return _start(client_id, home, timeout=timeout)
    return connect_unix(default_socket_path(client_id, home), timeout)


def _find_nymd() -> Optional[str]:
    env = os.environ.get("NYMD_BINARY")
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("nymd", path=os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def start(client_id: str, home: Optional[str] = None, *, timeout: Optional[float] = None,
          start_timeout: float = START_TIMEOUT) -> Client:
    """Connects to client_id's nymd on its default socket, first starting
    ``nymd run --id ID --home ROOT`` when nothing listens there
    (nym_client_start). The nymd started runs in its own session with its
    standard streams on /dev/null, is not a child of the caller and
    outlives it; its pid is the Client's ``pid``. nymd is $NYMD_BINARY,
    else found in $PATH. NotFound when the client was never initialised;
    StartError when nymd cannot be run or has no socket after
    start_timeout seconds."""
    sock_path = default_socket_path(client_id, home)
    try:
        return connect_unix(sock_path, timeout)
    except ConnectError as e:
        if e.errno not in (errno.ENOENT, errno.ECONNREFUSED):
            raise
    root = _root(home)
    cfg = "%s/clients/%s/config/config.toml" % (root, client_id)
    if not os.access(cfg, os.R_OK):
        raise NotFound("no client %s: %s: %s (create it with: nymd init --id %s)"
                       % (client_id, cfg, os.strerror(errno.ENOENT if not os.path.exists(cfg)
                                                      else errno.EACCES), client_id))
    nymd = _find_nymd()
    if nymd is None:
        raise StartError("cannot find nymd: set NYMD_BINARY or add its directory to PATH")
    # sh starts nymd in the background and exits: nymd is orphaned (init
    # reaps it), in the session setsid made, and sh prints its pid.
    try:
        out = subprocess.run(["/bin/sh", "-c", '"$@" </dev/null >/dev/null 2>&1 & echo $!',
                              "sh", nymd, "run", "--id", client_id, "--home", root],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True,
                             timeout=10, check=True).stdout
        pid = int(out.strip())
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        raise StartError("cannot run %s: %s" % (nymd, e)) from None
    end = time.monotonic() + start_timeout
    while True:
        try:
            c = connect_unix(sock_path, timeout)
            c.pid = pid
            return c
        except ConnectError:
            pass
        if not _alive(pid):
            # Another daemon of this client may have won a race.
            try:
                return connect_unix(sock_path, timeout)
            except ConnectError:
                raise StartError("%s run --id %s exited before its socket was ready; see its "
                                 "log (/tmp/loopix_%s.log unless config.toml says otherwise)"
                                 % (nymd, client_id, client_id)) from None
        if time.monotonic() >= end:
            raise StartError("%s run --id %s: no socket at %s after %g s"
                             % (nymd, client_id, sock_path, start_timeout))
        time.sleep(0.05)


# connect() has a parameter named start.
_start = start

__all__ = ["Client", "connect", "connect_unix", "connect_tcp", "connect_socket", "start",
           "default_socket_path", "valid_id", "START_TIMEOUT", "WATCH_INTERVAL"]
