"""The population's optional compiled step: ``torch.compile`` with a fallback to eager.

A population step is two pure pieces of tensor code around one backward pass: the forward
pass with the loss, and the update (the rule, the gradient norm, the divergence mask). On an
accelerator each is dozens of small kernels for a small network; compiled, they fuse into a
few (``torch.compile``; inductor by default). :class:`Compiler` compiles each piece on first
use and runs it compiled from then on. When compilation fails (no C++ compiler, an
unsupported operation, a backend error), the piece runs as written instead, for good, after
one ``RuntimeWarning`` saying why; an error in the user's own code still raises as it would
uncompiled, since the fallback runs the same code eagerly.

Compiled code computes the same values up to floating-point rounding (fused kernels may sum
in another order): records agree with an uncompiled run to tolerance, not bit for bit.
Whether it pays is measured by ``benchmarks/gpu_check.py``; it is off by default.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar, Union

import torch

__all__ = ["CompileSetting", "Compiler"]

#: ``False`` (off), ``True`` (``torch.compile``'s default backend), or a backend: its name
#: (``"inductor"``, ``"aot_eager"``, ...) or a callable, as ``torch.compile(backend=...)``.
CompileSetting = Union[bool, str, Callable[..., Any]]  # noqa: UP007 - a runtime alias (3.10)

T = TypeVar("T")


class Compiler:
    """Runs named pieces of code compiled when asked, eagerly when not or after a failure.

    Args:
        setting: see :data:`CompileSetting`.
        before_first: called before a piece's first compiled call; returns a function that
            undoes what a failed compiled call changed (the population restores its buffers).

    Example:
        >>> c = Compiler(False)
        >>> c("double", lambda v: 2 * v, 3)
        6
    """

    def __init__(self, setting: CompileSetting,
                 before_first: Callable[[], Callable[[], None]] | None = None) -> None:
        self.setting = setting
        self.before_first = before_first
        self.failed: str | None = None  # why compilation was given up, once it was
        self._compiled: dict[str, Callable[..., Any]] = {}

    @property
    def active(self) -> bool:
        """Whether pieces still run compiled."""
        return self.setting is not False and self.failed is None

    def __call__(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, compiled under ``name`` when the setting asks for it."""
        if not self.active:
            return fn(*args)
        compiled = self._compiled.get(name)
        undo = None if compiled is not None or self.before_first is None else self.before_first()
        try:
            if compiled is None:
                backend = "inductor" if self.setting is True else self.setting
                # dynamic=None: a rule's step count (Adam's t) becomes symbolic after its
                # first change instead of recompiling every step
                compiled = self._compiled[name] = torch.compile(fn, backend=backend)
            return compiled(*args)
        except Exception as err:  # noqa: BLE001 - any backend failure means: run eagerly
            if undo is not None:
                undo()
            out = fn(*args)  # the user's own errors raise here, as they would uncompiled
            self.failed = _reason(err)
            warnings.warn(f"lrlab: compiling the population step failed ({self.failed}); "
                          "running it uncompiled", RuntimeWarning, stacklevel=3)
            return out


def _reason(err: BaseException) -> str:
    """The root cause's type and first line (dynamo wraps a backend's error in its own)."""
    inner = getattr(err, "inner_exception", None) or err.__cause__
    while isinstance(inner, BaseException):
        err = inner
        inner = getattr(err, "inner_exception", None) or err.__cause__
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200] if text else 'no message'}"
