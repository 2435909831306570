"""Find, download and verify the IDX files of MNIST-format datasets.

Where the files live (:func:`resolve_data_dir`): an explicit directory, else
``$LRLAB_DATA`` (or ``$LRLAB_DATA/<dataset>``), else ``$XDG_CACHE_HOME/lrlab/<dataset>``
(``~/.cache/lrlab/<dataset>``). A file counts as present under its ``.gz`` name or its
raw (gunzipped) name.

Present files are hashed only to refuse another dataset's file under the same name (MNIST
and Fashion-MNIST share their file names); an unknown md5 is accepted, since a valid but
re-compressed ``.gz`` would fail it although its content is right, and
:func:`~lrlab.tasks._idx.read_idx` already rejects truncated or corrupt files (gzip CRC,
header and size checks). Pass ``verify=True`` to :func:`ensure_files` to require the
expected md5. Downloaded
files are always checked: each is streamed into a temporary file in the target directory,
its md5 compared, and only then moved into place with :func:`os.replace`, so nothing
half-written ever sits under a final name. ``$LRLAB_MIRRORS`` (comma-separated base URLs)
overrides a dataset's mirrors.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrlab._errors import DataError
from lrlab.tasks._idx import expect_idx, read_idx

__all__ = [
    "DATASETS",
    "FASHION_MNIST",
    "MNIST",
    "DataFile",
    "DatasetSpec",
    "ensure_files",
    "file_md5",
    "get_spec",
    "load_idx_dataset",
    "resolve_data_dir",
]

_CHUNK = 1 << 16


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset: its key, its ``.gz`` name and the md5 of the ``.gz``."""

    key: str
    filename: str
    md5: str

    @property
    def raw_name(self) -> str:
        """The name of the gunzipped file (``filename`` without ``.gz``)."""
        return self.filename.removesuffix(".gz")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its name, its files and the base URLs (ending in ``/``) to fetch from."""

    name: str
    files: tuple[DataFile, ...]
    mirrors: tuple[str, ...]


_LAYOUT = (
    ("train_images", "train-images-idx3-ubyte.gz"),
    ("train_labels", "train-labels-idx1-ubyte.gz"),
    ("test_images", "t10k-images-idx3-ubyte.gz"),
    ("test_labels", "t10k-labels-idx1-ubyte.gz"),
)


def _mnist_layout(name: str, md5s: str, mirrors: tuple[str, ...]) -> DatasetSpec:
    """A spec with the four MNIST-layout files; ``md5s`` lists their md5s in ``_LAYOUT`` order."""
    files = tuple(DataFile(key, fn, md5) for (key, fn), md5 in zip(_LAYOUT, md5s.split()))
    return DatasetSpec(name, files, mirrors)


MNIST = _mnist_layout(
    "mnist",
    "f68b3c2dcbeaaa9fbdd348bbdeb94873 d53e105ee54ea40749a09fcbcd1e9432 "
    "9fb629c4189551a2d022fa330f9573f3 ec29112dd5afa0611ce80d1b7f02629c",
    (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
)
FASHION_MNIST = _mnist_layout(
    "fashion-mnist",
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d 25c81989df183df01b3e8a0aad5dffbe "
    "bef4ecab320f06d8554ea6380940ec79 bb300cfdad3c16e7a12a480ee83cd310",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
)
DATASETS: dict[str, DatasetSpec] = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def _one_line(text: object) -> str:
    """Squash any text onto one line (exception messages may hold newlines)."""
    return " ".join(str(text).split())


def get_spec(name: str) -> DatasetSpec:
    """Look up a dataset by name (case-insensitive, ``_`` same as ``-``).

    Args:
        name: e.g. ``"mnist"`` or ``"fashion-mnist"``.

    Returns:
        Its :class:`DatasetSpec`.
    """
    spec = DATASETS.get(name.strip().lower().replace("_", "-"))
    if spec is None:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return spec


def file_md5(path: str | os.PathLike[str]) -> str:
    """The hex md5 of a file, read in chunks.

    Args:
        path: the file.

    Returns:
        32 lowercase hex digits.
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _present(directory: Path, file: DataFile) -> Path | None:
    """The path of ``file`` in ``directory`` (``.gz`` name first, then raw), if any."""
    for name in (file.filename, file.raw_name):
        if (directory / name).is_file():
            return directory / name
    return None


def _existing_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a directory, else raise a one-line :class:`DataError`."""
    if not path.is_dir():
        raise DataError(
            f"{what} {path} does not exist; create it, or point --data-dir / LRLAB_DATA at "
            "the folder that holds the dataset's IDX files"
        )
    return path


def _make_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and return it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create data directory {path} ({_one_line(exc.strerror or exc)}); "
            "pass --data-dir or set LRLAB_DATA to a writable folder"
        ) from None
    return path


def resolve_data_dir(data_dir: str | os.PathLike[str] | None, dataset: str) -> Path:
    """Decide which directory holds (or will hold) a dataset's files.

    Args:
        data_dir: an explicit directory; it must exist and is used as given.
        dataset: the dataset name, e.g. ``"mnist"``.

    Returns:
        ``data_dir`` if given; else ``$LRLAB_DATA`` when it holds the dataset's files
        directly, otherwise ``$LRLAB_DATA/<dataset>`` (``$LRLAB_DATA`` must exist; the
        subfolder is created on demand); else ``$XDG_CACHE_HOME/lrlab/<dataset>`` or
        ``~/.cache/lrlab/<dataset>``, created on demand.
    """
    if data_dir is not None:
        return _existing_dir(Path(data_dir).expanduser(), "data directory")
    env = os.environ.get("LRLAB_DATA", "").strip()
    if env:
        root = _existing_dir(Path(env).expanduser(), "LRLAB_DATA directory")
        spec = DATASETS.get(dataset)
        if spec is not None and any(_present(root, f) for f in spec.files):
            return root
        return _make_dir(root / dataset)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return _make_dir(base / "lrlab" / dataset)


def _mirror_list(spec: DatasetSpec, mirrors: Sequence[str] | None) -> list[str]:
    """The base URLs to try, each ending in ``/``: ``mirrors``, else env, else the spec's."""
    if mirrors is None:
        env = [m.strip() for m in os.environ.get("LRLAB_MIRRORS", "").split(",")]
        mirrors = [m for m in env if m] or spec.mirrors
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def _fetch(url: str, directory: Path, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a temporary file in ``directory``.

    Args:
        url: what to download.
        directory: where the temporary file goes (same filesystem as the target).
        timeout: socket timeout in seconds.

    Returns:
        ``(temporary path, md5 hex)``. On any error the temporary file is removed.
    """
    fd, name = tempfile.mkstemp(prefix=".lrlab-", suffix=".part", dir=directory)
    tmp = Path(name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def _reason(exc: BaseException) -> str:
    """A short one-line reason for a failed download."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {_one_line(exc.reason)}"
    if isinstance(exc, urllib.error.URLError):
        return _one_line(exc.reason)
    return _one_line(exc) or type(exc).__name__


def _download(file: DataFile, directory: Path, mirrors: list[str], timeout: float) -> str | None:
    """Try each mirror for ``file``; place it under its final name on the first good one.

    Args:
        file: the file to get.
        directory: where it goes.
        mirrors: base URLs, each ending in ``/``.
        timeout: socket timeout in seconds.

    Returns:
        ``None`` on success, else the reason the last mirror failed.
    """
    last = "no mirrors configured (set LRLAB_MIRRORS)"
    for base in mirrors:
        url = base + file.filename
        try:
            tmp, md5 = _fetch(url, directory, timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # an HTTPError holds the open response
            last = f"{url}: {_reason(exc)}"
            continue
        if md5 != file.md5:
            tmp.unlink(missing_ok=True)
            last = f"{url}: md5 {md5} is not the expected {file.md5}"
            continue
        try:
            os.replace(tmp, directory / file.filename)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            last = f"cannot write {directory / file.filename}: {_reason(exc)}"
            continue
        return None
    return last


def _missing_error(spec: DatasetSpec, names: list[str], directory: Path, why: str,
                   given: bool = False) -> DataError:
    """The one-line error for files that are missing and could not be fetched; ``given``:
    the folder is the one the user named (no other folder to point at)."""
    title = _TITLES.get(spec.name, spec.name)
    other = "" if given else " or pass --data-dir (data_dir=) a folder that holds them"
    return DataError(
        f"cannot download {', '.join(names)} ({why}); put the {title} IDX files "
        f"(.gz or raw) in {directory}{other}"
    )


def ensure_files(
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    verify: bool = False,
) -> dict[str, Path]:
    """Make sure every file of ``spec`` is present, downloading missing ones if allowed.

    Args:
        spec: the dataset.
        data_dir: an explicit directory, or ``None`` (see :func:`resolve_data_dir`).
        download: fetch missing files; if ``False`` a missing file is an error.
        mirrors: base URLs to use instead of ``$LRLAB_MIRRORS`` / the spec's mirrors.
        timeout: socket timeout per request, in seconds.
        verify: also md5-check ``.gz`` files that are already present.

    Returns:
        ``{file key: path}``, each path the ``.gz`` or the raw file.
    """
    directory = resolve_data_dir(data_dir, spec.name)
    found = {f.key: _present(directory, f) for f in spec.files}
    missing = [f for f in spec.files if found[f.key] is None]
    if missing and not download:
        raise _missing_error(spec, [f.filename for f in missing], directory, "downloading is off",
                             given=data_dir is not None)
    urls = _mirror_list(spec, mirrors)
    for i, file in enumerate(missing):
        failure = _download(file, directory, urls, timeout)
        if failure is not None:
            names = [f.filename for f in missing[i:]]
            raise _missing_error(spec, names, directory, f"no mirror worked; last: {failure}",
                                 given=data_dir is not None)
        found[file.key] = directory / file.filename
    if verify:
        _verify(spec, found)
    else:
        _not_another_dataset(spec, found, downloaded={f.key for f in missing})
    return {key: path for key, path in found.items() if path is not None}


def _not_another_dataset(spec: DatasetSpec, paths: dict[str, Path | None],
                         downloaded: set[str]) -> None:
    """Refuse a present ``.gz`` that is *another* dataset's file under the same name.

    MNIST and Fashion-MNIST share their file names, so a folder of one passed for the other
    would load silently. A file whose md5 is neither expected nor another dataset's is
    accepted (a re-compressed copy); one whose md5 is another dataset's is not.
    """
    others = {f.md5: (other.name, f) for other in DATASETS.values() if other is not spec
              for f in other.files}
    for file in spec.files:
        path = paths[file.key]
        if file.key in downloaded or path is None or path.name != file.filename:
            continue
        md5 = file_md5(path)
        if md5 != file.md5 and md5 in others:
            theirs = _TITLES.get(others[md5][0], others[md5][0])
            raise DataError(
                f"{path} is {theirs}'s {others[md5][1].filename}, not "
                f"{_TITLES.get(spec.name, spec.name)}'s; give the folder that holds "
                f"{_TITLES.get(spec.name, spec.name)} (--data-dir)")


def _verify(spec: DatasetSpec, paths: dict[str, Path | None]) -> None:
    """Check the md5 of every ``.gz`` path against ``spec`` (raw files are skipped)."""
    for file in spec.files:
        path = paths[file.key]
        if path is None or path.name != file.filename:
            continue
        md5 = file_md5(path)
        if md5 != file.md5:
            raise DataError(
                f"{path} has md5 {md5}, not the expected {file.md5}; it is not the "
                f"{_TITLES.get(spec.name, spec.name)} file: delete it and download it again"
            )


def _check_split(images: np.ndarray, labels: np.ndarray, paths: tuple[Path, Path]) -> None:
    """Check one images/labels pair: shapes, dtype, matching count, labels in 0..9."""
    expect_idx(images, paths[0], dims=(None, 28, 28), kind="an images file", dtype=np.uint8)
    expect_idx(labels, paths[1], dims=(None,), kind="a labels file", dtype=np.uint8)
    if len(images) != len(labels):
        raise DataError(
            f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} "
            "labels; the two files do not belong together: download them again"
        )
    if labels.size and int(labels.max()) > 9:
        raise DataError(
            f"{paths[1]} has label {int(labels.max())}, outside 0..9; "
            "delete it and download it again"
        )


def load_idx_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> dict[str, np.ndarray]:
    """Locate (or download) and read an MNIST-format dataset.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: an explicit directory, or ``None`` (see :func:`resolve_data_dir`).
        download: fetch missing files.

    Returns:
        ``{"train_images": (N, 28, 28) uint8, "train_labels": (N,) uint8,
        "test_images": ..., "test_labels": ...}``.
    """
    spec = get_spec(name)
    paths = ensure_files(spec, data_dir, download=download)
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in sorted({key.rsplit("_", 1)[0] for key in arrays}):
        pair = (f"{split}_images", f"{split}_labels")
        _check_split(arrays[pair[0]], arrays[pair[1]], (paths[pair[0]], paths[pair[1]]))
    return arrays
