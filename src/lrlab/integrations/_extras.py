"""Optional packages the integrations need: imported on use, missing ones named in one line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from lrlab._errors import LrlabError

__all__ = ["MissingExtra", "require", "user_level"]


class MissingExtra(LrlabError, ImportError):
    """An integration's optional package is not installed (the message names the
    ``pip install`` that fixes it). Both an :class:`~lrlab.LrlabError` (the command line
    prints it as one ``error:`` line) and an :class:`ImportError`."""


def require(module: str, extra: str, *, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``pip install 'lrlab[extra]'``.

    Example:
        >>> require("math", "none", what="arithmetic").sqrt(4.0)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{what} needs the {module.split('.')[0]} package: "
                           f"pip install 'lrlab[{extra}]'") from None


def user_level(*packages: str) -> int:
    """The ``stacklevel`` that points a warning raised by the caller at the user's code: the
    first frame outside lrlab and ``packages`` (those imported; e.g. ``"transformers"``,
    whose ``Trainer`` calls a callback through frames of its own, a number that changes with
    its version). 1 (the caller) when every frame is inside them.

    Example:
        >>> def warn_from_lrlab() -> int:  # a doctest's frames are no lrlab file
        ...     return user_level()
        >>> warn_from_lrlab()
        1
    """
    roots = [Path(__file__).parents[1]] + [
        Path(m.__file__).parent for name in packages
        if (m := sys.modules.get(name)) is not None and getattr(m, "__file__", None)]
    frame, level = sys._getframe(1), 1
    while frame is not None and any(Path(frame.f_code.co_filename).is_relative_to(root)
                                    for root in roots):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1
