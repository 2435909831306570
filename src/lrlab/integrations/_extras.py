"""Optional packages the integrations need: imported on use, missing ones named in one line."""

from __future__ import annotations

import importlib
from types import ModuleType

from lrlab._errors import LrlabError

__all__ = ["MissingExtra", "require"]


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
