"""Is a Ray address worth connecting to? Checked in a few seconds, before ``ray.init``.

``ray.init(address=...)`` waits minutes on an address where nothing answers, or where a
server that is not a Ray head answers, printing Ray's own warnings all the while (it
retries the cluster's control service, the GCS, for as long as its timeouts allow). Two
short exchanges tell a cluster from anything else, so the command line can say in one line
what answered and what to check:

1. TCP and the HTTP/2 client preface: a Ray head's GCS port and a Ray client port are gRPC
   servers, and a gRPC server answers the preface with a SETTINGS frame at once (a web
   server, a database or a closed port does not).
2. One gRPC call the GCS serves (``NodeInfoGcsService/CheckAlive``; for ``ray://`` the
   client server's ``RayletDriver/ClusterInfo``), with the same deadline: another gRPC
   server answers UNIMPLEMENTED. This step needs ``grpcio`` (installed with
   ``ray[default]``); without it the first step alone decides.
"""

from __future__ import annotations

import socket
from typing import Any

from lrlab._errors import LrlabError

__all__ = ["check_address", "check_dialled", "split_address"]

#: Hosts Ray replaces by this machine's own address before it dials them.
_LOOPBACK = ("localhost", "127.0.0.1", "::1")

#: The HTTP/2 client connection preface followed by an empty SETTINGS frame (RFC 9113, 3.4).
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4  # frame type of SETTINGS (RFC 9113, 6.5)
_HINT = "start one with `ray start --head` and pass the address it prints"
#: the gRPC method each kind of address must serve: a head's GCS, a Ray client server
_GCS_METHOD = "/ray.rpc.NodeInfoGcsService/CheckAlive"
_CLIENT_METHOD = "/ray.rpc.RayletDriver/ClusterInfo"
_NOT_RAY = ("give the head node's GCS address (port 6379 unless `ray start --port` chose "
            "another)")


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
            try:
                conn.sendall(_PREFACE)
                header = _read(conn, 9)
            except (ConnectionResetError, BrokenPipeError):  # took the call, then hung up
                header = b""
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
        raise LrlabError(f"{address} answers, but not as a Ray cluster; " + _NOT_RAY)
    _check_service(address, host, port, timeout)


def check_dialled(address: str, node_ip: str, timeout: float = 5.0) -> None:
    """Raise :class:`LrlabError` (one line) unless a Ray head answers where Ray will dial.

    ``ray.init`` dials a loopback head address (``localhost``, ``127.0.0.1``, ``::1``) as
    this machine's own address, ``node_ip`` (``ray.util.get_node_ip_address()``); a head
    that listens on loopback only is not there, and Ray would wait minutes.
    """
    host, port = split_address(address)
    if address.strip().startswith("ray://") or host not in _LOOPBACK or node_ip in _LOOPBACK:
        return
    try:
        check_address(f"{node_ip}:{port}", timeout)
    except LrlabError:
        raise LrlabError(f"{address} answers, but Ray dials it as this machine's address "
                         f"{node_ip}:{port}, where no Ray head answers (it listens on loopback "
                         f"only?); start the head with `ray start --head --node-ip-address "
                         f"{node_ip}` so that it listens there") from None


def _check_service(address: str, host: str, port: int, timeout: float) -> None:
    """Step 2: the gRPC server at ``host:port`` serves the Ray method the address calls
    for (any reply but UNIMPLEMENTED: a cluster that asks for a token is still Ray)."""
    grpc = _import_grpc()
    if grpc is None:
        return
    client = address.strip().startswith("ray://")
    code = _call(grpc, host, port, _CLIENT_METHOD if client else _GCS_METHOD, timeout)
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
        raise LrlabError(f"cannot reach Ray at {address}: a gRPC server accepts connections "
                         f"but does not answer within {timeout:g} s; check the address, or "
                         + _HINT)
    if code != grpc.StatusCode.UNIMPLEMENTED:
        return
    if client:
        raise LrlabError(f"{address} answers gRPC, but not as a Ray client server; give "
                         "ray://HEAD:10001 (`ray start --ray-client-server-port`), or the "
                         "head's GCS address without ray://")
    if _call(grpc, host, port, _CLIENT_METHOD, timeout) != grpc.StatusCode.UNIMPLEMENTED:
        raise LrlabError(f"{address} is a Ray client server, not a head's GCS; write "
                         f"ray://{address.strip()}, or " + _NOT_RAY)
    raise LrlabError(f"{address} answers gRPC, but not as a Ray cluster (another service "
                     "on that port?); " + _NOT_RAY)


def _call(grpc: Any, host: str, port: int, method: str, timeout: float) -> Any:
    """The status code of one empty unary call to ``method`` (an empty message is a valid
    request for both methods probed)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method, request_serializer=None,
                                   response_deserializer=None)
        try:
            call(b"", timeout=timeout)
        except grpc.RpcError as err:
            return err.code()
    return grpc.StatusCode.OK


def _import_grpc() -> Any:
    try:
        import grpc
    except ImportError:
        return None
    return grpc


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            break
        data += part
    return data
