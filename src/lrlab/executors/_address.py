"""Is a Ray address worth connecting to? Checked in a few seconds, before ``ray.init``.

``ray.init(address=...)`` waits minutes on an address where nothing answers (it retries the
cluster's control service, the GCS, for as long as its timeouts allow). A Ray head's GCS
port and a Ray client port are gRPC servers, and a gRPC server answers the HTTP/2 client
preface with a SETTINGS frame at once; so one short TCP exchange tells a dead or wrong
address from a cluster, and the command line can say so in one line.
"""

from __future__ import annotations

import socket

from lrlab._errors import LrlabError

__all__ = ["check_address", "split_address"]

#: The HTTP/2 client connection preface followed by an empty SETTINGS frame (RFC 9113, 3.4).
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4  # frame type of SETTINGS (RFC 9113, 6.5)
_HINT = "start one with `ray start --head` and pass the address it prints"


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (optionally ``ray://host:port`` or ``[v6]:port``) as ``(host, port)``."""
    rest = address.strip().removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise LrlabError(f"cannot read Ray address {address!r}; give HOST:PORT (the head "
                         "node's address, e.g. 10.0.0.5:6379) or 'auto'")
    return host, int(port)


def check_address(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`LrlabError` (one line) unless a gRPC server answers at ``address``.

    ``"auto"`` is left to Ray (it looks for a cluster started on this machine).
    """
    if address.strip() == "auto":
        return
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_PREFACE)
            header = _read(conn, 9)
    except socket.gaierror:
        raise LrlabError(f"cannot reach Ray at {address}: unknown host {host!r}; check the "
                         "address, or " + _HINT) from None
    except TimeoutError:
        raise LrlabError(f"cannot reach Ray at {address}: no answer within {timeout:g} s; "
                         "check the address and firewall, or " + _HINT) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise LrlabError(f"cannot reach Ray at {address}: {reason.lower()}; is the cluster "
                         "running? " + _HINT[0].upper() + _HINT[1:]) from None
    if len(header) < 9 or header[3] != _SETTINGS:
        raise LrlabError(f"{address} answers, but not as a Ray cluster; give the head node's "
                         "GCS address (port 6379 unless `ray start --port` chose another)")


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            break
        data += part
    return data
