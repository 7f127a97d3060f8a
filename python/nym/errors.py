"""The exceptions of the nym module: one class per libnym error code.

Every exception the module raises on purpose is a :class:`NymError`; its
``str()`` is one line saying what went wrong (for :class:`RemoteError`,
exactly nymd's text) and its ``code`` is libnym's ``enum nym_error`` value.
"""

from __future__ import annotations


class NymError(Exception):
    """Base class of the module's errors (libnym: any negative return)."""

    code = -1


class TransportError(NymError, OSError):
    """Reading or writing the socket failed, or nymd closed it
    (``NYM_ERR_IO``). The connection is unusable; close it."""

    code = -1


class ConnectError(NymError, OSError):
    """Nothing listens at the address (``NYM_ERR_CONNECT``); ``errno``
    says why when the system gave a reason."""

    code = -2


class ProtocolError(NymError):
    """nymd's answer is not what the protocol allows (``NYM_ERR_PROTOCOL``).
    When the framing itself is broken, the connection is unusable."""

    code = -3


class RemoteError(NymError):
    """nymd answered with an exception (``NYM_ERR_REMOTE``); ``str(e)`` is
    its text, word for word. The connection stays usable."""

    code = -4


class InvalidArgument(NymError, ValueError):
    """A bad argument: not a client id, a request larger than nymd accepts,
    a path too long for a unix socket (``NYM_ERR_INVALID``)."""

    code = -6


class NotFound(NymError, LookupError):
    """send_id(): the recipient is not registered; start(): the client was
    never initialised (``NYM_ERR_NOT_FOUND``)."""

    code = -7


class StartError(NymError):
    """start() could not find, run or wait for nymd (``NYM_ERR_START``)."""

    code = -8


class Timeout(NymError, TimeoutError):
    """No answer within the connection's timeout (``NYM_ERR_TIMEOUT``).
    The connection is unusable: a late answer would be taken for the next
    request's."""

    code = -9
