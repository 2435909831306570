"""Tests for the IDX reader (lrlab.tasks._idx), on real MNIST files and generated ones."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from lrlab._errors import DataError
from lrlab.tasks._download import MNIST, load_idx_dataset
from lrlab.tasks._idx import IDX_DTYPES, expect_idx, read_idx

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """Encode ``array`` as an IDX file with dtype ``code``."""
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (gzipped when the name ends in .gz) and return it."""
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def assert_one_line_error(path: Path, excinfo: pytest.ExceptionInfo[DataError]) -> str:
    """Check a DataError message is one line that names ``path``; return it."""
    message = str(excinfo.value)
    assert "\n" not in message and "\r" not in message
    assert str(path) in message
    return message


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    """The shared real MNIST directory, or skip."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST files not found at {MNIST_DIR}")
    return MNIST_DIR


# --- real MNIST --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "shape", "first_label"),
    [
        ("train-images-idx3-ubyte.gz", (60000, 28, 28), None),
        ("train-labels-idx1-ubyte.gz", (60000,), 5),
        ("t10k-images-idx3-ubyte.gz", (10000, 28, 28), None),
        ("t10k-labels-idx1-ubyte.gz", (10000,), 7),
    ],
)
def test_real_mnist_files(
    mnist_dir: Path, filename: str, shape: tuple[int, ...], first_label: int | None
) -> None:
    array = read_idx(mnist_dir / filename)
    assert array.shape == shape
    assert array.dtype == np.uint8
    assert array.flags.writeable
    if first_label is not None:
        counts = np.bincount(array, minlength=10)
        assert len(counts) == 10 and counts.sum() == shape[0] and counts.min() > 0
        assert array[0] == first_label
    else:
        assert array.max() == 255 and array.min() == 0


def test_real_mnist_md5_match_spec(mnist_dir: Path) -> None:
    for file in MNIST.files:
        digest = hashlib.md5((mnist_dir / file.filename).read_bytes(), usedforsecurity=False)
        assert digest.hexdigest() == file.md5, file.filename


def test_real_mnist_load_dataset(mnist_dir: Path) -> None:
    data = load_idx_dataset("mnist", mnist_dir, download=False)
    assert sorted(data) == ["test_images", "test_labels", "train_images", "train_labels"]
    assert data["train_images"].shape == (60000, 28, 28)
    assert data["test_labels"].shape == (10000,)
    assert int(data["train_labels"][0]) == 5 and int(data["test_labels"][0]) == 7


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 0, 3)])
def test_round_trip(tmp_path: Path, code: int, suffix: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(code)
    dtype = IDX_DTYPES[code].newbyteorder("=")
    if dtype.kind == "f":
        array = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    path = write(tmp_path / f"data-idx{suffix}", idx_bytes(array, code))
    back = read_idx(path)
    assert back.dtype == dtype and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path / "x.gz", idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3), 0x08))
    assert read_idx(str(path)).tolist() == [[0, 1, 2], [3, 4, 5]]


# --- bad files ----------------------------------------------------------------------------

GOOD = idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8), 0x08)


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("magic-idx", b"\x01\x02" + GOOD[2:], "bad magic"),
        ("magic-idx.gz", b"\x00\x01" + GOOD[2:], "bad magic"),
        ("code-idx", GOOD[:2] + b"\x0a" + GOOD[3:], "unknown dtype code 0x0a"),
        ("zero-dims-idx", b"\x00\x00\x08\x00", "0 dimensions"),
        ("short-idx", b"\x00\x00", "only 2 bytes"),
        ("short-header-idx.gz", GOOD[:9], "header"),
        ("truncated-idx", GOOD[:-1], "truncated"),
        ("truncated-idx.gz", GOOD[:-5], "truncated"),
        ("extra-idx", GOOD + b"\x00", "1 extra bytes"),
        ("extra-idx.gz", GOOD + b"abc", "3 extra bytes"),
    ],
)
def test_bad_content(tmp_path: Path, name: str, data: bytes, needle: str) -> None:
    path = write(tmp_path / name, data)
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert needle in assert_one_line_error(path, excinfo)


def test_gzip_content_without_gz_name(tmp_path: Path) -> None:
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(GOOD))
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert "gzip-compressed" in assert_one_line_error(path, excinfo)


def test_not_gzip_named_gz(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(GOOD)
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert "not a valid gzip file" in assert_one_line_error(path, excinfo)


def test_cut_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-12])
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert "truncated gzip" in assert_one_line_error(path, excinfo)


def test_corrupt_gzip_crc(tmp_path: Path) -> None:
    blob = bytearray(gzip.compress(GOOD))
    blob[-8] ^= 0xFF  # flip a CRC byte
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert_one_line_error(path, excinfo)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.gz"
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert "does not exist" in assert_one_line_error(path, excinfo)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        read_idx(tmp_path)
    assert "cannot read" in assert_one_line_error(tmp_path, excinfo)


def test_data_error_is_value_error() -> None:
    assert issubclass(DataError, ValueError)


# --- expect_idx ---------------------------------------------------------------------------


def test_expect_idx_labels_where_images_expected(tmp_path: Path) -> None:
    path = write(tmp_path / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros(5, np.uint8), 8))
    labels = read_idx(path)
    with pytest.raises(DataError) as excinfo:
        expect_idx(labels, path, dims=(None, 28, 28), kind="an images file", dtype=np.uint8)
    message = assert_one_line_error(path, excinfo)
    assert "not an images file" in message
    assert "2049" in message and "2051" in message


def test_expect_idx_accepts_matching_and_checks_dtype(tmp_path: Path) -> None:
    path = tmp_path / "x"
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    expect_idx(images, path, dims=(None, 28, 28), kind="an images file")
    expect_idx(images, path, dims=(4, 28, 28), kind="an images file", dtype="uint8")
    with pytest.raises(DataError, match="int16"):
        expect_idx(images.astype(np.int16), path, dims=(None, 28, 28), kind="x", dtype="u1")
    with pytest.raises(DataError, match="5x28x28"):
        expect_idx(images, path, dims=(5, 28, 28), kind="an images file")


def test_load_dataset_labels_file_as_images(tmp_path: Path) -> None:
    labels = idx_bytes(np.zeros(3, np.uint8), 8)
    images = idx_bytes(np.zeros((3, 28, 28), np.uint8), 8)
    for file in MNIST.files:
        write(tmp_path / file.filename, labels if "labels" in file.key else images)
    bad = write(tmp_path / "train-images-idx3-ubyte.gz", labels)
    with pytest.raises(DataError) as excinfo:
        load_idx_dataset("mnist", tmp_path, download=False)
    assert "2049" in assert_one_line_error(bad, excinfo)
