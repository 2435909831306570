"""The checks every layer makes of user input, written once: whole numbers, finite numbers,
the paths results are written to, and a model whose parameters exist.

Each check raises one :class:`~lrlab._errors.LrlabError` line naming the setting, what it
must be and the value it got, and returns the value (as ``int``, ``float`` or ``Path``) so
callers can check and convert in one expression.

Example:
    >>> whole("patience", 3, low=0)
    3
    >>> whole("patience", True, low=0)
    Traceback (most recent call last):
    ...
    lrlab._errors.LrlabError: patience must be a whole number of at least 0, got True
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Iterable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from lrlab._errors import LrlabError

__all__ = ["IMAGE_METADATA", "MARKDOWN_FOOTER", "PAGE_FOOTER", "image_file", "is_number",
           "is_rate", "is_whole", "mark_gif", "markdown_file", "materialised", "number", "out_dir",
           "out_file", "page_file", "positive_rates", "run_dir_free", "table_file", "whole"]

#: The last line of every page lrlab writes (``lrlab.report.write_page``): a file ending
#: in it is lrlab's to replace.
PAGE_FOOTER = "<footer>written by lrlab</footer>"
#: The last line of the Markdown tables ``lrlab report --markdown`` writes (a comment, not
#: shown where the Markdown is rendered): a file ending in it is lrlab's to replace.
MARKDOWN_FOOTER = "<!-- written by lrlab -->"
#: What the images lrlab draws say made them: a PNG's ``Software`` text (matplotlib's
#: ``savefig(metadata=IMAGE_METADATA)``), a GIF's comment before its end (:func:`mark_gif`).
#: A file that carries it is lrlab's to replace.
IMAGE_METADATA = {"Software": "lrlab"}
_PNG_MARK = b"tEXtSoftware\x00lrlab"
_GIF_MARK = b"\x21\xfe\x05lrlab\x00"

#: The files a run folder holds (``SweepResult.save``, a search's ``search.json``, the
#: ``stage``/``confirm`` folders, ``lrlab find``'s ``readings.json``, a learning curve's
#: ``learning_curve.json``, a reproduction's ``evidence.json`` and the ``claims.csv`` of
#: every reproduction and study): a folder with one of them holds a run.
RUN_FILES = ("summary.json", "search.json", "records.csv", "records.parquet", "readings.json",
             "learning_curve.json", "evidence.json", "claims.csv", "stage1", "confirm")


def is_whole(value: object) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's), and not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def repeated(values: Iterable, key: Callable[[Any], Hashable] = lambda v: v) -> Any:
    """The first of ``values`` listed a second time (compared by ``key``), or ``None``.

        >>> repeated([0, 1, 0]), repeated([0.1, 0.01])
        (0, None)
    """
    seen: set = set()
    for v in values:
        if (k := key(v)) in seen:
            return v
        seen.add(k)
    return None


def is_number(value: object) -> bool:
    """Whether ``value`` is a finite real number, and not a bool."""
    return (isinstance(value, Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def whole(name: str, value: object, *, low: int = 1, high: int | None = None,
          hint: str = "") -> int:
    """``value`` as an ``int``, or one line: ``NAME must be a whole number of at least LOW,
    got V``.

    Args:
        name: the setting as the user wrote it (``"--epochs"``, ``"patience"``).
        value: what was given.
        low, high: the smallest and largest value allowed (``high=None``: no bound).
        hint: appended to the message (``"; give --members-per-task 1 or more"``).
    """
    if is_whole(value) and value >= low and (high is None or value <= high):
        return int(value)
    span = f"of at least {low}" if high is None else f"from {low} to {high}"
    raise LrlabError(f"{name} must be a whole number {span}, got {value!r}{hint}")


def number(name: str, value: object, *, low: float | None = None, high: float | None = None,
           strict: bool = False, hint: str = "") -> float:
    """``value`` as a ``float``, or one line saying it must be a finite number in range.

    ``strict=True`` excludes the bounds themselves (``low < value < high``).
    """
    ok = is_number(value)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if ok and high is not None:
        ok = value < high if strict else value <= high
    if ok:
        return float(value)
    lt, gt = ("<", ">") if strict else ("<=", ">=")
    span = " and ".join([*([f"{gt} {low:g}"] if low is not None else []),
                         *([f"{lt} {high:g}"] if high is not None else [])])
    raise LrlabError(f"{name} must be a finite number{' ' + span if span else ''}, "
                     f"got {value!r}{hint}")


def is_rate(value: float) -> bool:
    """Whether ``value`` can be a learning rate: positive and finite."""
    return math.isfinite(value) and value > 0


def positive_rates(name: str, values: object, *, hint: str = "") -> list[float]:
    """``values`` as a list of floats, or one line naming ``name``: no rates, a value that is
    no number, or one that is not positive and finite (the one check of every list of
    rates: a sweep's, a search's, a study's, the playground's). ``hint`` is appended.

    Example:
        >>> positive_rates("grid lrs", [1, 0.1])
        [1.0, 0.1]
        >>> positive_rates("grid lrs", [0.1, -1])
        Traceback (most recent call last):
        ...
        lrlab._errors.LrlabError: grid lrs must be positive and finite, got -1
    """
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise LrlabError(f"{name} must be a list of learning rates, got {values!r}{hint}")
    out: list[float] = []
    for value in values:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            raise LrlabError(f"{name} must be numbers, got {value!r}{hint}") from None
    if not out:
        raise LrlabError(f"{name} is empty; give at least one positive learning rate{hint}")
    bad = next((v for v in out if not is_rate(v)), None)
    if bad is not None:
        raise LrlabError(f"{name} must be positive and finite, got {bad:g}{hint}")
    return out


def out_dir(out: str | os.PathLike, *, what: str = "--out") -> Path:
    """A folder results can be written into (made if missing): not empty text, not a file,
    under a writable folder."""
    text = os.fspath(out)
    if not str(text).strip():
        raise LrlabError(f"{what} is empty; give a folder name (e.g. {what} runs/first)")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise LrlabError(f"{what} {path} is a file; give a directory")
    parent = next(p for p in (path, *path.parents) if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise LrlabError(f"cannot write into {path}: {parent} is not a writable directory; "
                         f"choose another {what}")
    return path


def run_dir_free(out: str | os.PathLike, *, overwrite: bool = False,
                 what: str = "--out") -> Path:
    """:func:`out_dir`, and refuse a folder that already holds another run (its files would
    mix with this one's) unless ``overwrite``."""
    path = out_dir(out, what=what)
    if not overwrite and path.is_dir():
        held = [name for name in RUN_FILES if (path / name).exists()]
        if held:
            raise LrlabError(f"{what} {path} already holds a run ({held[0]}); give a new "
                             "folder, or --overwrite to replace its files")
    return path


def out_file(out: str | os.PathLike, *, suffix: str | None = None,
             example: str = "report.html") -> Path:
    """A file that can be written: ends in ``suffix`` (when given), is not a folder (nor
    written as one, with a trailing slash), and its folder exists and is writable."""
    text = os.fspath(out)
    path = Path(out)
    if not str(text).strip():
        raise LrlabError(f"the output file name is empty; give one such as {example}")
    if suffix is not None and path.suffix.lower() != suffix:
        raise LrlabError(f"{path} must end in {suffix}")
    if path.is_dir() or str(text).endswith(("/", os.sep)):  # Path() drops a trailing slash
        raise LrlabError(f"{text} is a directory; give a file name such as {example}")
    if not path.parent.is_dir():
        raise LrlabError(f"the directory of {path}, {path.parent}, does not exist; "
                         "create it first")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise LrlabError(f"cannot write into {path.parent}; choose a writable directory")
    return path


def page_file(out: str | os.PathLike) -> Path:
    """:func:`out_file` for an HTML page, refusing to replace a file lrlab did not write
    (``--report notes.txt``, a typo, replaced the user's notes): an existing file is
    replaced when it is empty or ends as lrlab's pages end (:data:`PAGE_FOOTER`)."""
    path = out_file(out)
    return _ours(path, _ends_in(path, PAGE_FOOTER), "is not a page lrlab wrote", "report.html")


def markdown_file(out: str | os.PathLike) -> Path:
    """:func:`out_file` for ``lrlab report --markdown``, refusing to replace a file lrlab
    did not write: an existing file is replaced when it is empty or ends as lrlab's Markdown
    ends (:data:`MARKDOWN_FOOTER`)."""
    path = out_file(out, example="tables.md")
    return _ours(path, _ends_in(path, MARKDOWN_FOOTER), "is not Markdown lrlab wrote",
                 "tables.md")


def table_file(out: str | os.PathLike, header: str) -> Path:
    """:func:`out_file` for a CSV table whose first line is ``header``, refusing to replace
    a file lrlab did not write: a CSV has no room for a mark, so an existing file is
    replaced when it is empty or begins with that same header (the same table written
    before)."""
    path = out_file(out, example="table.csv")
    same = False
    if path.is_file():
        with path.open("rb") as f:
            same = f.readline(len(header.encode()) + 2).rstrip(b"\r\n") == header.encode()
    return _ours(path, same, "is not a table lrlab wrote with these columns", "table.csv")


def image_file(out: str | os.PathLike, suffix: str, example: str) -> Path:
    """:func:`out_file` for a ``.png`` or ``.gif`` lrlab draws (``--out traj.png``),
    refusing to replace a file lrlab did not draw: an existing file is replaced when it is
    empty or carries lrlab's mark (:data:`IMAGE_METADATA`)."""
    path = out_file(out, suffix=suffix, example=example)
    marked = False
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(4096)
            f.seek(max(path.stat().st_size - 64, 0))
            marked = _PNG_MARK in head or _GIF_MARK in f.read()
    return _ours(path, marked, "is not an image lrlab drew", example)


def mark_gif(path: Path) -> None:
    """Put lrlab's mark into the GIF ``path`` as a comment before its trailer (a GIF89a
    comment extension: viewers skip it), so :func:`image_file` knows it as lrlab's."""
    data = path.read_bytes()
    if data.endswith(b"\x3b"):
        path.write_bytes(data[:-1] + _GIF_MARK + b"\x3b")


def _ends_in(path: Path, footer: str) -> bool:
    """Whether the file ``path`` holds ``footer`` in its last KiB."""
    if not path.is_file():
        return False
    with path.open("rb") as f:
        f.seek(max(path.stat().st_size - 1024, 0))
        return footer.encode() in f.read()


def _ours(path: Path, ours: bool, why: str, example: str) -> Path:
    """``path``, unless it is a file with something in it that lrlab did not write
    (``ours``): one line saying so (``why``)."""
    if path.is_file() and path.stat().st_size and not ours:
        raise LrlabError(f"{path} exists and {why}; give a new file name such as {example}, "
                         "or remove it first")
    return path


def materialised(model: Any, what: str) -> None:
    """Refuse a model with parameters not yet created (``nn.LazyLinear`` and the other lazy
    modules size them at the first forward call, drawing their initial values then): lrlab
    copies, counts and vectorises the weights before any batch, and every member must start
    from the same ones. ``what`` names the model in the message.

    Example:
        >>> import torch
        >>> materialised(torch.nn.Linear(2, 1), "the model")
        >>> materialised(torch.nn.LazyLinear(1), "the model")
        Traceback (most recent call last):
        ...
        lrlab._errors.LrlabError: the model has parameters not yet created (LazyLinear sizes them at its first call); give their sizes (nn.Linear(in_features, out_features)), or call the model once on an example batch where it is built
    """
    from torch.nn.parameter import UninitializedParameter

    lazy = [type(m).__name__ for m in model.modules()
            if any(isinstance(p, UninitializedParameter) for p in m.parameters(recurse=False))]
    if lazy:
        raise LrlabError(f"{what} has parameters not yet created ({lazy[0]} sizes them at its "
                         "first call); give their sizes (nn.Linear(in_features, out_features)), "
                         "or call the model once on an example batch where it is built")
