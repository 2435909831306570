"""Read IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a big-endian header followed by the array body in row-major order::

    0x00 0x00 <dtype code> <number of dims>   # the 4-byte "magic" (2051 = uint8, 3 dims)
    <dim 0> <dim 1> ...                       # one big-endian uint32 per dim
    <body>                                    # prod(dims) items of the dtype

Files named ``*.gz`` are gunzipped first. Every problem (missing file, bad gzip, bad
header, short or long body) raises :class:`~lrlab._errors.DataError` with one line that
names the file and says what to do.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from lrlab._errors import DataError

__all__ = ["IDX_DTYPES", "expect_idx", "idx_magic", "read_idx"]

#: IDX dtype code -> numpy dtype as stored on disk (big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_REDO = "delete it and download it again"


def _load_bytes(path: Path) -> bytes:
    """Return the (gunzipped, if the name ends in ``.gz``) content of ``path``.

    Args:
        path: the IDX file.

    Returns:
        The raw IDX bytes.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; check the path or download the file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataError(
            f"cannot read {path} ({reason}); check the path and its permissions"
        ) from None
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except gzip.BadGzipFile as exc:
        raise DataError(f"{path} is not a valid gzip file ({exc}); {_REDO}") from None
    except EOFError:
        raise DataError(f"{path} is a truncated gzip file; {_REDO}") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path} is a corrupt gzip file ({exc}); {_REDO}") from None


def _parse_header(data: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode the IDX header.

    Args:
        data: the raw IDX bytes.
        path: the file, for error messages.

    Returns:
        ``(dtype, shape, offset)``: the on-disk dtype, the array shape and where the body
        starts.
    """
    if len(data) < 4:
        raise DataError(f"{path} is not an IDX file: only {len(data)} bytes; {_REDO}")
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0:
        hint = " (it looks gzip-compressed: name it *.gz)" if data[:2] == b"\x1f\x8b" else ""
        raise DataError(f"{path} is not an IDX file: bad magic 0x{data[:4].hex()}{hint}; {_REDO}")
    if code not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file: unknown dtype code 0x{code:02x}; {_REDO}")
    if ndim == 0:
        raise DataError(f"{path} is not an IDX file: header declares 0 dimensions; {_REDO}")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataError(f"{path} is truncated: the header of {ndim} dims is cut short; {_REDO}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return IDX_DTYPES[code], shape, offset


def _shape_text(shape: tuple[int | None, ...]) -> str:
    """Format a shape as ``60000x28x28`` (``N`` for a free dimension)."""
    return "x".join("N" if d is None else str(d) for d in shape)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a numpy array.

    Args:
        path: the file; a name ending in ``.gz`` is gunzipped.

    Returns:
        A writable array with the shape from the header, in native byte order (``uint8``
        for MNIST).

    Raises:
        DataError: the file is missing, not gzip though named ``.gz``, has a bad header,
            or its body is shorter or longer than the header says.
    """
    path = Path(path)
    data = _load_bytes(path)
    dtype, shape, offset = _parse_header(data, path)
    count = math.prod(shape)
    want, have = count * dtype.itemsize, len(data) - offset
    if have < want:
        raise DataError(
            f"{path} is truncated: header says {_shape_text(shape)} items of "
            f"{dtype.itemsize} byte(s) ({want} bytes) but only {have} follow; {_REDO}"
        )
    if have > want:
        raise DataError(
            f"{path} has {have - want} extra bytes after the {_shape_text(shape)} body "
            f"the header declares; {_REDO}"
        )
    body = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    # astype copies: the result is writable (torch.from_numpy warns otherwise) and native.
    return body.astype(dtype.newbyteorder("=")).reshape(shape)


def idx_magic(array: np.ndarray) -> int | None:
    """The IDX magic number a file holding ``array`` would start with.

    Args:
        array: any array.

    Returns:
        ``code * 256 + ndim`` (2049 for uint8 labels, 2051 for uint8 images), or ``None``
        when the dtype has no IDX code.
    """
    for code, dtype in IDX_DTYPES.items():
        if dtype.newbyteorder("=") == array.dtype.newbyteorder("="):
            return code * 256 + array.ndim
    return None


def expect_idx(
    array: np.ndarray,
    path: str | os.PathLike[str],
    *,
    dims: tuple[int | None, ...],
    kind: str,
    dtype: np.dtype | type | str | None = None,
) -> None:
    """Check that an array read from ``path`` has the expected shape (and dtype).

    Args:
        array: the array read from the file.
        path: the file, for the error message.
        dims: the expected shape; ``None`` matches any size along that axis.
        kind: what the file should be, e.g. ``"an images file"``.
        dtype: the expected dtype, or ``None`` for any.

    Raises:
        DataError: the shape or dtype differs, e.g. a labels file (magic 2049) where an
            images file (magic 2051) belongs.
    """
    shape_ok = array.ndim == len(dims) and all(
        want is None or want == got for want, got in zip(dims, array.shape)
    )
    dtype_ok = dtype is None or array.dtype == np.dtype(dtype)
    if shape_ok and dtype_ok:
        return
    magic = idx_magic(array)
    found = f"{array.dtype} {_shape_text(array.shape)}"
    if magic is not None:
        found += f" (IDX magic {magic})"
    want = _shape_text(dims)
    if dtype is not None:
        want = f"{np.dtype(dtype)} {want}"
        want_magic = idx_magic(np.empty((0,) * len(dims), dtype=dtype))
        if want_magic is not None:
            want += f" (IDX magic {want_magic})"
    raise DataError(
        f"{path} is not {kind}: expected {want} but it holds {found}; "
        "check that the file is the right one, or delete it and download it again"
    )
