"""Lazy re-exports for package ``__init__`` modules.

``import lrlab`` and the ``lrlab`` command must start fast: torch, pandas, scikit-learn,
matplotlib and Ray take seconds to import, and ``lrlab --help`` or ``lrlab tasks`` need none
of them. A package lists its public names and the module each comes from; the module is
imported the first time one of its names is read (PEP 562's module ``__getattr__``), and the
name is then kept in the package's namespace, so later reads cost nothing. Submodules not
yet imported are imported when read as attributes (``lrlab.optim``), as before.

A public name may also be a submodule's name (``lrlab.train`` is a function, and
``lrlab.train`` also a subpackage): importing the submodule would rebind the package
attribute to the module, so the package keeps the public name instead, as the eager
imports in ``__init__`` did.

Example:
    >>> import lrlab
    >>> import lrlab.train  # the subpackage is imported ...
    >>> callable(lrlab.train)  # ... and the name is still the function
    True
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> None:
    """Make ``package`` import each of ``names`` from its module on first use.

    Args:
        package: the package's ``__name__`` (call this from its ``__init__``).
        names: public name -> the module that defines it (absolute).
    """
    names = dict(names)

    class LazyPackage(ModuleType):
        def __getattr__(self, name: str) -> Any:
            where = names.get(name)
            if where is None:  # a submodule not imported yet (``lrlab.optim``), or nothing
                if not name.startswith("__"):
                    try:
                        return importlib.import_module(f"{package}.{name}")
                    except ModuleNotFoundError as err:
                        if err.name != f"{package}.{name}":
                            raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(where), name)
            ModuleType.__setattr__(self, name, value)
            return value

        def __dir__(self) -> list[str]:
            return sorted({*self.__dict__, *names})

        def __setattr__(self, name: str, value: Any) -> None:
            if (name in names and isinstance(value, ModuleType)
                    and value.__name__ == f"{package}.{name}"):
                return  # the import system binding a submodule over a public name
            ModuleType.__setattr__(self, name, value)

    sys.modules[package].__class__ = LazyPackage
