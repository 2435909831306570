"""Before connecting: Ray addresses read and probed (no Ray needed), and the command line's
errors for a missing Ray or a bad address: one ``error:`` line, exit 2, nothing written."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import assert_bad_input, run

from lrlab._errors import LrlabError
from lrlab.executors import check_address
from lrlab.executors._address import check_dialled, split_address

# RFC 9113: a server's connection preface is a SETTINGS frame: length 0, type 4, flags 0,
# stream 0 (written out here byte by byte, apart from the module's constant)
SETTINGS_FRAME = b"\x00\x00\x00" + b"\x04" + b"\x00" + b"\x00\x00\x00\x00"


@contextmanager
def server(reply: bytes) -> Iterator[str]:
    """A loopback TCP server that answers every connection with ``reply``: its address."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def grpc_server() -> Iterator[str]:
    """A loopback gRPC server with no services (every method: UNIMPLEMENTED)."""
    grpc = pytest.importorskip("grpc")
    from concurrent.futures import ThreadPoolExecutor

    srv = grpc.server(ThreadPoolExecutor(max_workers=1))
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        srv.stop(None)


@contextmanager
def http_server() -> Iterator[str]:
    """The standard library's web server on loopback (something else that answers)."""
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # its access log is not ours to read
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> str:
    """A loopback address where nothing listens (a port the OS just gave and took back)."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.mark.parametrize(("address", "expected"), [
    ("10.0.0.5:6379", ("10.0.0.5", 6379)),
    ("ray://head.example:10001", ("head.example", 10001)),
    ("[::1]:6379", ("::1", 6379)),
    (" 127.0.0.1:6380 ", ("127.0.0.1", 6380)),
])
def test_addresses_are_read(address: str, expected: tuple[str, int]) -> None:
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["head", "head:", ":6379", "head:port", "head:70000"])
def test_unreadable_addresses_say_what_to_give(address: str) -> None:
    with pytest.raises(LrlabError, match="give HOST:PORT") as err:
        check_address(address)
    assert "\n" not in str(err.value)


def test_nothing_listening_is_one_clear_line() -> None:
    address = closed_port()
    with pytest.raises(LrlabError, match=f"cannot reach Ray at {address}: connection refused"):
        check_address(address)


def test_an_unknown_host_is_named() -> None:
    with pytest.raises(LrlabError, match="unknown host 'nosuchhost.invalid'"):
        check_address("nosuchhost.invalid:6379")


def test_a_server_that_is_not_ray_is_refused() -> None:
    with (server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as address,
          pytest.raises(LrlabError, match="answers, but not as a Ray cluster")):
        check_address(address)


def test_a_server_that_stays_silent_is_refused_within_the_timeout() -> None:
    """A listening socket that never accepts: the kernel completes the handshake, and
    then nothing comes."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(LrlabError, match=f"cannot reach Ray at {address}: no answer "
                                             "within 0.2 s"):
            check_address(address, timeout=0.2)


def test_a_server_that_hangs_up_is_not_ray() -> None:
    with (server(b"") as address,
          pytest.raises(LrlabError, match="answers, but not as a Ray cluster")):
        check_address(address)


def test_without_grpcio_the_handshake_alone_decides(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)  # `import grpc` now raises ImportError
    with server(SETTINGS_FRAME) as address:
        check_address(address)  # no error: any gRPC server passes step 1
    check_address("auto")  # Ray looks for a local cluster itself


def test_a_grpc_server_that_is_not_ray_is_refused() -> None:
    """Step 2: the server speaks gRPC but serves no Ray method (a head's GCS or a client
    server); with ray:// the client server's method is asked for."""
    with grpc_server() as address:
        with pytest.raises(LrlabError, match="answers gRPC, but not as a Ray cluster") as err:
            check_address(address)
        assert "\n" not in str(err.value)
        with pytest.raises(LrlabError, match="answers gRPC, but not as a Ray client server"):
            check_address("ray://" + address)


def test_a_grpc_server_that_never_answers_is_refused(monkeypatch) -> None:
    """A SETTINGS frame, then silence: the gRPC call's deadline ends the wait."""
    pytest.importorskip("grpc")
    with (server(SETTINGS_FRAME) as address,
          pytest.raises(LrlabError, match="does not answer within 0.5 s")):
        check_address(address, timeout=0.5)


def test_a_loopback_head_is_checked_where_ray_dials_it() -> None:
    """Ray dials 127.0.0.1 as this machine's address; a head on loopback only is not
    there (127.0.0.2 stands for that address here: loopback, but not where it listens)."""
    with server(SETTINGS_FRAME) as address:
        port = address.rsplit(":", 1)[1]
        with pytest.raises(LrlabError, match=f"Ray dials it as this machine's address "
                                             f"127.0.0.2:{port}, where no Ray head answers"):
            check_dialled(address, "127.0.0.2")
        check_dialled(address, "127.0.0.1")  # Ray keeps loopback (no cluster networking)
        check_dialled(f"ray://{address}", "127.0.0.2")  # a client address is dialled as is
    check_dialled("10.0.0.5:6379", "10.0.0.9")  # not loopback: dialled as given, no check


# -- the command line -------------------------------------------------------------------


def sweep_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q",
            "--db", str(tmp_path / "studies.db"), "--out", str(tmp_path / "out"), *extra]


def assert_nothing_written(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_executor_ray_without_ray_says_how_to_install(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    line = assert_bad_input(*run(capsys, *sweep_args(tmp_path, "--executor", "ray"))[::2])
    assert line == ("error: --executor ray needs Ray, which is not installed: "
                    "pip install 'lrlab[ray]'")
    assert_nothing_written(tmp_path)


def test_an_unreachable_address_is_one_line(capsys, tmp_path) -> None:
    address = closed_port()
    code, _, err = run(capsys, *sweep_args(tmp_path, "--executor", "ray", "--address", address))
    line = assert_bad_input(code, err)
    assert line.startswith(f"error: cannot reach Ray at {address}: connection refused")
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(("serve", "message"), [
    (http_server, "answers, but not as a Ray cluster"),
    (grpc_server, "answers gRPC, but not as a Ray cluster"),
])
def test_something_else_answering_is_one_line(capfd, tmp_path, serve, message) -> None:
    """Not a word of Ray's own (captured at the file descriptors, where Ray's C++ core
    writes its warnings): the one line, before ``ray.init``."""
    with serve() as address:
        code, out, err = run(capfd, *sweep_args(tmp_path, "--executor", "ray",
                                                "--address", address))
    line = assert_bad_input(code, err)
    assert line.startswith(f"error: {address} {message}")
    assert out == ""
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(("extra", "message"), [
    (("--address", "10.0.0.5:6379"), "--address names a Ray cluster"),
    (("--members-per-task", "0"), "--members-per-task must be a whole number"),
    (("--executor", "dask"), "Invalid value for '--executor'"),
])
def test_bad_executor_options(capsys, tmp_path, extra, message) -> None:
    line = assert_bad_input(*run(capsys, *sweep_args(tmp_path, *extra))[::2])
    assert message in line
    assert_nothing_written(tmp_path)
