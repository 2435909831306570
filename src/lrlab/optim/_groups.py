"""Layer-wise learning rates: a multiplier of the base rate per parameter-name pattern.

Caffe's ``base_lr`` and per-layer ``lr_mult``: when fine-tuning, the pretrained layers learn
slowly and the new ones fast, e.g. ``{"backbone.*": 0.1, "head.*": 10}`` (the new layer at
least 10x the base rate is the usual rule of thumb).

Matching, the same everywhere here:

* a pattern is matched with :func:`fnmatch.fnmatchcase` against the full parameter name
  (``"backbone.*"`` matches ``backbone.0.weight``: ``*`` crosses dots);
* a pattern that names a module matches everything in it (``"head"`` means ``"head.*"``);
* a parameter matching several patterns takes the **first** one, in the mapping's order, so
  write specific patterns before general ones (``{"head.bias": 1, "head.*": 10}``);
* a pattern that matches no parameter, or only ones an earlier pattern took, is an error.

Example:
    >>> import torch
    >>> model = torch.nn.Sequential()
    >>> model.add_module("backbone", torch.nn.Linear(4, 4))
    >>> model.add_module("head", torch.nn.Linear(4, 2))
    >>> groups = param_groups(model, 0.01, {"backbone": 0.1, "head": 10})
    >>> [(g["name"], g["lr"]) for g in groups]
    [('backbone', 0.001), ('head', 0.1)]
    >>> opt = torch.optim.SGD(groups, lr=0.01)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from torch import nn

from lrlab._checks import number
from lrlab._errors import LrlabError

__all__ = ["lr_multipliers", "param_groups", "parse_lr_mult"]

UNMATCHED = "*"  # the name of the group of parameters no pattern took


def _matches(pattern: str, name: str) -> bool:
    return fnmatchcase(name, pattern) or name.startswith(pattern + ".")


def _check_mapping(mult: object) -> None:
    if mult is not None and not isinstance(mult, Mapping):
        raise LrlabError(f"mult must be a dict of pattern -> multiplier, e.g. "
                         f"{{'head.*': 10}}, got {mult!r}")


def _check_mult(mult: Mapping[str, float]) -> None:
    _check_mapping(mult)
    for pattern, m in mult.items():
        if not isinstance(pattern, str) or not pattern:
            raise LrlabError(f"lr_mult patterns must be non-empty strings, got {pattern!r}")
        number(f"lr_mult for {pattern!r}", m, low=0, strict=True)


def _assign(names: Sequence[str], mult: Mapping[str, float]) -> list[str | None]:
    """The pattern each name takes (first match wins), ``None`` for unmatched names."""
    _check_mult(mult)
    taken = [next((pat for pat in mult if _matches(pat, n)), None) for n in names]
    for pattern in mult:
        if pattern in taken:
            continue
        hits = [n for n in names if _matches(pattern, n)]
        if not hits:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise LrlabError(f"lr_mult pattern {pattern!r} matches no trainable parameter; "
                             f"parameter names look like: {shown or '(none)'}")
        earlier = taken[names.index(hits[0])]
        raise LrlabError(f"lr_mult pattern {pattern!r} gets no parameter: the earlier pattern "
                         f"{earlier!r} already takes {hits[0]!r} (the first match wins); "
                         "put the more specific pattern first")
    return taken


def lr_multipliers(names: Sequence[str], mult: Mapping[str, float] | None
                   ) -> tuple[float, ...]:
    """The rate multiplier of each parameter name, in order (1.0 where no pattern matches).

    This is what the population passes as ``hp["lr_mult"]``.

    Args:
        names: parameter names, e.g. ``[n for n, _ in model.named_parameters()]``.
        mult: pattern -> multiplier (see the module docstring for matching).

    Returns:
        One float per name.

    Example:
        >>> lr_multipliers(["body.w", "head.w", "head.b"], {"head": 10})
        (1.0, 10.0, 10.0)
    """
    if not mult:
        return tuple(1.0 for _ in names)
    return tuple(1.0 if p is None else float(mult[p]) for p in _assign(list(names), mult))


def param_groups(model: nn.Module, base_lr: float, mult: Mapping[str, float] | None = None
                 ) -> list[dict[str, Any]]:
    """The model's trainable parameters in torch param groups, one per pattern.

    Args:
        model: the network; parameters with ``requires_grad=False`` are left out.
        base_lr: the base rate (Caffe's ``base_lr``).
        mult: pattern -> multiplier of ``base_lr`` (see the module docstring for matching).

    Returns:
        ``[{"params": [...], "lr": base_lr * m, "name": pattern}, ...]`` in the mapping's
        order, then ``{"params": [...], "lr": base_lr, "name": "*"}`` for the parameters no
        pattern took (left out when there are none). Pass it to any ``torch.optim``
        optimizer or to :class:`lrlab.optim.Optimizer`.
    """
    number("base_lr", base_lr, low=0, strict=True)
    _check_mapping(mult)  # dict("head.*=10") failed in a ValueError of its own
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    mult = dict(mult or {})
    taken = _assign([n for n, _ in named], mult) if mult else [None] * len(named)
    groups = [{"params": [p for (_, p), t in zip(named, taken) if t == pattern],
               "lr": base_lr * m, "name": pattern} for pattern, m in mult.items()]
    rest = [p for (_, p), t in zip(named, taken) if t is None]
    if rest:
        groups.append({"params": rest, "lr": base_lr, "name": UNMATCHED})
    return groups


def parse_lr_mult(texts: Sequence[str]) -> dict[str, float]:
    """Read ``PATTERN=MULT`` pairs (the command line's repeatable ``--lr-mult``).

    Example:
        >>> parse_lr_mult(["backbone.*=0.1", "head.*=10"])
        {'backbone.*': 0.1, 'head.*': 10.0}
    """
    out: dict[str, float] = {}
    for text in texts:
        pattern, sep, value = text.rpartition("=")
        pattern = pattern.strip()
        if not sep or not pattern:
            raise LrlabError(f"--lr-mult {text!r} is not PATTERN=MULT; write e.g. 'head.*=10'")
        try:
            m = float(value)
        except ValueError:
            raise LrlabError(f"--lr-mult {text!r}: {value.strip()!r} is not a number; write "
                             "e.g. 'head.*=10'") from None
        if not math.isfinite(m) or m <= 0:
            raise LrlabError(f"--lr-mult {text!r}: the multiplier must be positive and finite")
        if pattern in out:
            raise LrlabError(f"--lr-mult gives pattern {pattern!r} twice; give it once")
        out[pattern] = m
    return out
