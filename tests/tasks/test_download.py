"""Tests for locating and downloading IDX datasets (lrlab.tasks._download).

Downloads come only from a local ``http.server`` on 127.0.0.1; nothing else is contacted.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_gz, one_line

from lrlab._errors import DataError
from lrlab.tasks import _download
from lrlab.tasks._download import (
    DATASETS,
    FASHION_MNIST,
    MNIST,
    DataFile,
    DatasetSpec,
    ensure_files,
    get_spec,
    load_idx_dataset,
    resolve_data_dir,
)
from lrlab.tasks._idx import read_idx

SIZES = {"train": 5, "test": 3}


def tiny_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """A small MNIST-shaped dataset keyed like the DataFile keys."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in SIZES.items():
        out[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        out[f"{split}_labels"] = rng.integers(0, 10, size=n, dtype=np.uint8)
    return out


@dataclass
class Server:
    """A local HTTP server over ``root``; ``requests`` lists the paths asked for."""

    root: Path
    base: str = ""
    requests: list[str] = field(default_factory=list)

    def url(self, sub: str) -> str:
        """The base URL of the sub-folder ``sub`` (ending in /)."""
        return f"{self.base}{sub}/"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No outside env leaks in: no mirrors/data overrides, no proxies, cache under tmp."""
    for name in ("LRLAB_MIRRORS", "LRLAB_DATA", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return tiny_arrays()


@pytest.fixture
def server(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Iterator[Server]:
    """Serve ``good/`` (right files), ``bad/`` (other bytes) and ``empty/`` (404s)."""
    root = tmp_path / "www"
    for sub, seed in (("good", None), ("bad", 1)):
        (root / sub).mkdir(parents=True)
        data = arrays if seed is None else tiny_arrays(seed)
        for file in MNIST.files:
            (root / sub / file.filename).write_bytes(idx_gz(data[file.key]))
    (root / "empty").mkdir()
    state = Server(root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            state.requests.append(self.path)

    handler = functools.partial(Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def spec(arrays: dict[str, np.ndarray]) -> DatasetSpec:
    """A spec for the tiny dataset whose own mirror is unreachable."""
    files = tuple(
        DataFile(f.key, f.filename, hashlib.md5(idx_gz(arrays[f.key])).hexdigest())
        for f in MNIST.files
    )
    return DatasetSpec("tiny", files, (closed_port_url(),))


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "target"
    path.mkdir()
    return path


# --- downloading --------------------------------------------------------------------------


def test_download_into_target(server: Server, spec: DatasetSpec, target: Path, arrays) -> None:
    paths = ensure_files(spec, target, mirrors=[server.url("good")], timeout=5)
    assert sorted(p.name for p in target.iterdir()) == sorted(f.filename for f in spec.files)
    for key, path in paths.items():
        assert path.parent == target
        np.testing.assert_array_equal(read_idx(path), arrays[key])
    # Present files are used as they are: a second call fetches nothing.
    count = len(server.requests)
    assert ensure_files(spec, target, mirrors=[server.url("good")]) == paths
    assert len(server.requests) == count


def test_first_mirror_404_then_second(server: Server, spec: DatasetSpec, target: Path) -> None:
    paths = ensure_files(spec, target, mirrors=[server.url("empty"), server.url("good")])
    assert set(paths) == {f.key for f in spec.files}
    assert any(r.startswith("/empty/") for r in server.requests)


def test_md5_mismatch_everywhere(server: Server, spec: DatasetSpec, target: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, target, mirrors=[server.url("bad"), server.url("bad")])
    one_line(excinfo, "md5", str(target), "train-images-idx3-ubyte.gz", "t10k-labels")
    assert list(target.iterdir()) == []


def test_unreachable_mirror(spec: DatasetSpec, target: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, target, timeout=5)
    message = one_line(excinfo, "cannot download", str(target), "127.0.0.1")
    # the folder is the one given: the line points at it, not at --data-dir (it said
    # "... in FOLDER or pass --data-dir" to a user who had passed --data-dir FOLDER)
    assert "put the" in message and "--data-dir" not in message
    assert list(target.iterdir()) == []


def test_unreachable_mirror_without_a_folder(spec: DatasetSpec, target: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # no folder given (LRLAB_DATA's or the default): the line names the option that gives one
    monkeypatch.setenv("LRLAB_DATA", str(target))
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, None, timeout=5)
    one_line(excinfo, "cannot download", "or pass --data-dir (data_dir=) a folder")


def test_missing_without_download(server: Server, spec: DatasetSpec, target: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, target, download=False, mirrors=[server.url("good")])
    one_line(excinfo, "downloading is off", str(target), "train-labels-idx1-ubyte.gz")
    assert server.requests == []


def test_partial_download_keeps_good_files(server: Server, spec: DatasetSpec, target: Path):
    # Only the first file is on the mirror: it is kept, the error names the others.
    (server.root / "one").mkdir()
    name = spec.files[0].filename
    (server.root / "one" / name).write_bytes((server.root / "good" / name).read_bytes())
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, target, mirrors=[server.url("one")])
    message = one_line(excinfo, spec.files[1].filename, "HTTP 404")
    assert name not in message
    assert [p.name for p in target.iterdir()] == [name]


def test_env_mirrors_override(
    server: Server, spec: DatasetSpec, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRLAB_MIRRORS", f"{server.url('empty')}, {server.base}good")
    paths = ensure_files(spec, target)
    assert len(paths) == 4
    # An explicit mirrors= beats the env.
    for path in paths.values():
        path.unlink()
    with pytest.raises(DataError, match="md5"):
        ensure_files(spec, target, mirrors=[server.url("bad")])


def test_raw_files_count_as_present(spec: DatasetSpec, target: Path, arrays) -> None:
    for file in spec.files:
        raw = gzip.decompress(idx_gz(arrays[file.key]))
        (target / file.filename.removesuffix(".gz")).write_bytes(raw)
    paths = ensure_files(spec, target, download=False)
    assert all(p.suffix == "" for p in paths.values())
    np.testing.assert_array_equal(read_idx(paths["test_images"]), arrays["test_images"])


def test_verify_present_files(spec: DatasetSpec, target: Path, arrays) -> None:
    for file in spec.files:
        (target / file.filename).write_bytes(idx_gz(arrays[file.key]))
    assert len(ensure_files(spec, target, download=False, verify=True)) == 4
    bad = target / spec.files[2].filename
    bad.write_bytes(idx_gz(arrays["test_images"][:1]))
    assert len(ensure_files(spec, target, download=False)) == 4  # not re-hashed by default
    with pytest.raises(DataError) as excinfo:
        ensure_files(spec, target, download=False, verify=True)
    one_line(excinfo, str(bad), "md5")


def test_another_datasets_files_are_refused(spec: DatasetSpec, target: Path, arrays,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two datasets share file names (as MNIST and Fashion-MNIST do): one's folder given for
    the other is refused; an unknown md5 (a re-compressed copy) is still accepted."""
    for file in spec.files:
        (target / file.filename).write_bytes(idx_gz(arrays[file.key]))
    twin = DatasetSpec("twin", tuple(DataFile(f.key, f.filename, "0" * 32) for f in spec.files),
                       spec.mirrors)
    monkeypatch.setitem(_download.DATASETS, "tiny", spec)
    monkeypatch.setitem(_download.DATASETS, "twin", twin)
    assert len(ensure_files(spec, target, download=False)) == 4
    with pytest.raises(DataError) as excinfo:
        ensure_files(twin, target, download=False)
    one_line(excinfo, "train-images-idx3-ubyte.gz", "tiny", "not twin's", "--data-dir")
    recompressed = target / spec.files[0].filename
    recompressed.write_bytes(gzip.compress(gzip.decompress(recompressed.read_bytes()), 1))
    assert ensure_files(spec, target, download=False)["train_images"] == recompressed


def test_load_idx_dataset_downloads(
    server: Server, spec: DatasetSpec, arrays, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(DATASETS, "tiny", spec)
    monkeypatch.setenv("LRLAB_MIRRORS", server.url("good"))
    data = load_idx_dataset("tiny")  # into the XDG cache
    for key, array in arrays.items():
        np.testing.assert_array_equal(data[key], array)
    assert (tmp_path / "xdg-cache" / "lrlab" / "tiny" / spec.files[0].filename).is_file()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"train_labels": np.zeros(4, np.uint8)}, "5 images"),
        ({"test_labels": np.array([0, 10, 1], np.uint8)}, "label 10"),
        ({"test_images": np.zeros((3, 28, 27), np.uint8)}, "not an images file"),
    ],
)
def test_load_idx_dataset_checks(
    spec: DatasetSpec, target: Path, arrays, monkeypatch: pytest.MonkeyPatch, change, needle
) -> None:
    monkeypatch.setitem(DATASETS, "tiny", spec)
    for file in spec.files:
        (target / file.filename).write_bytes(idx_gz(change.get(file.key, arrays[file.key])))
    with pytest.raises(DataError) as excinfo:
        load_idx_dataset("tiny", target, download=False)
    one_line(excinfo, needle, str(target))


# --- where the data lives -----------------------------------------------------------------


def test_explicit_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRLAB_DATA", str(tmp_path))
    (tmp_path / "mine").mkdir()
    assert resolve_data_dir(tmp_path / "mine", "mnist") == tmp_path / "mine"
    assert resolve_data_dir(str(tmp_path / "mine"), "mnist") == tmp_path / "mine"


def test_explicit_dir_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DataError) as excinfo:
        resolve_data_dir(missing, "mnist")
    one_line(excinfo, f"data directory {missing} does not exist", "--data-dir", "LRLAB_DATA")
    assert not missing.exists()


def test_lrlab_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("LRLAB_DATA", str(root))
    assert resolve_data_dir(None, "mnist") == root / "mnist"  # created on demand
    assert (root / "mnist").is_dir()
    (root / "t10k-labels-idx1-ubyte").write_bytes(b"")  # files directly in LRLAB_DATA
    assert resolve_data_dir(None, "mnist") == root
    monkeypatch.setenv("LRLAB_DATA", str(tmp_path / "absent"))
    with pytest.raises(DataError) as excinfo:
        resolve_data_dir(None, "mnist")
    one_line(excinfo, str(tmp_path / "absent"), "LRLAB_DATA")


def test_cache_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_data_dir(None, "fashion-mnist") == tmp_path / "xdg-cache/lrlab/fashion-mnist"
    assert (tmp_path / "xdg-cache" / "lrlab" / "fashion-mnist").is_dir()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir(None, "mnist") == tmp_path / "home/.cache/lrlab/mnist"


# --- specs --------------------------------------------------------------------------------


def test_specs() -> None:
    assert DATASETS == {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}
    assert [f.key for f in MNIST.files] == [
        "train_images",
        "train_labels",
        "test_images",
        "test_labels",
    ]
    assert MNIST.files[0] == DataFile(
        "train_images", "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    )
    assert MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert FASHION_MNIST.files[3].md5 == "bb300cfdad3c16e7a12a480ee83cd310"
    assert all(m.endswith("/") for s in DATASETS.values() for m in s.mirrors)
    assert get_spec("Fashion_MNIST") is FASHION_MNIST
    with pytest.raises(DataError, match="choose one of mnist, fashion-mnist"):
        get_spec("cifar")


def test_file_md5(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"lrlab" * 300_000)
    assert _download.file_md5(path) == hashlib.md5(path.read_bytes()).hexdigest()
