"""Writing files so that a failure never leaves a half-written one under the final name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from lrlab._errors import LrlabError

__all__ = ["UMASK", "atomic_write"]


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; set back at once, at import
    os.umask(mask)
    return mask


#: This process's umask (read once, at import).
UMASK = _umask()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    Raises:
        LrlabError: one line, when the folder cannot be written.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise LrlabError(f"cannot write into {path.parent}: {err.strerror}") from None
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give what open() would
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as err:
        raise LrlabError(f"cannot write {path}: {err.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
