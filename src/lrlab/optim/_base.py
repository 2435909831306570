"""What every update rule shares: the :class:`UpdateRule` record and hyperparameter helpers.

Every parameter and gradient has shape ``(K, ...)``: K members of one network stacked. Every
hyperparameter is a tensor of shape ``(K,)``, so member k may have its own rate, momentum or
betas and all K still move in one pass. A rule is a pair of plain functions:

* ``init(params) -> state``: the rule's buffers (lists of tensors shaped like the
  parameters) and scalars such as the step count ``t``;
* ``update(grads, state, params, hp) -> (updates, state)``: the increments to *add* to the
  parameters, and the new state. Nothing is changed in place, so a caller can drop the
  update of a member (a diverged one) with ``torch.where``.

The classic rules also have ``apply(grads, state, params, hp, alive) -> state | None``: the
same step added to ``params`` in place by torch's fused kernels, the state changed in place,
members whose ``alive`` is False left alone (``None``: all live); ``None`` back where it
does not run, and then the caller uses ``update`` (see :mod:`lrlab.optim._fused`).

A rule whose global rate adapts (hypergradient descent, the learning-rate-free rules) keeps
the rate it used in the step
just taken in ``state["lr"]``, a ``(K,)`` tensor present after the first update; the
population records it per step so users can watch it move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = ["Grads", "Hyper", "State", "UpdateRule", "lr_for", "lr_mult_for", "per_member"]

State = dict[str, Any]
Hyper = Mapping[str, Any]
#: What ``apply`` takes as gradients: tensors ``(K, ...)`` shaped like the parameters, or a
#: function giving member ``k``'s gradient rows (one per parameter, ``k``'s slice), called
#: once per live member just before its step, so each gradient can be made while it is in
#: the cache (the population's in-place step does that; see :mod:`lrlab.optim._fused`).
Grads = Sequence[Tensor] | Callable[[int], Sequence[Tensor]]


def per_member(h: Tensor, like: Tensor) -> Tensor:
    """View a ``(K,)`` hyperparameter so it broadcasts against a ``(K, ...)`` tensor."""
    return h.view(h.shape[0], *([1] * (like.dim() - 1)))


def lr_mult_for(hp: Hyper, i: int) -> float | Tensor:
    """The layer multiplier of parameter ``i`` (Caffe's ``lr_mult``); 1.0 when none is set.

    ``hp["lr_mult"]``, when present, holds one entry per parameter tensor: a float (a
    fine-tuned backbone at 0.1, a new head at 10), or a tensor that broadcasts against the
    parameter without its member axis (one multiplier per element, as the population passes
    for its flattened parameters).
    """
    mult = hp.get("lr_mult")
    return 1.0 if mult is None else mult[i]


def lr_for(hp: Hyper, i: int, like: Tensor, lr: Tensor | None = None) -> Tensor:
    """The rate of parameter ``i``: ``lr`` (default ``hp["lr"]``) per member, times its
    layer multiplier (:func:`lr_mult_for`), shaped to broadcast against ``like``."""
    rate = per_member(hp["lr"] if lr is None else lr, like)
    mult = lr_mult_for(hp, i)
    if isinstance(mult, Tensor):
        return rate * mult
    return rate if mult == 1.0 else rate * mult


def zeros(params: Sequence[Tensor]) -> list[Tensor]:
    """One zero buffer shaped like each parameter."""
    return [torch.zeros_like(p) for p in params]


def with_decay(grads: Sequence[Tensor], params: Sequence[Tensor], hp: Hyper) -> list[Tensor]:
    """L2 penalty folded into the gradient: ``g + wd * p`` (torch's ``weight_decay``)."""
    wd = hp.get("weight_decay")
    if wd is None:
        return list(grads)
    return [torch.addcmul(g, p, per_member(wd, p)) for g, p in zip(grads, params)]


@dataclass(frozen=True)
class UpdateRule:
    """A named update rule: its hyperparameters with defaults, and its two functions.

    Attributes:
        name: the name users pass (``--optimizer NAME``).
        init: ``init(params) -> state``.
        update: ``update(grads, state, params, hp) -> (updates, state)``.
        defaults: every hyperparameter other than ``lr`` with its default value.
        torch_name: the ``torch.optim`` class with the same formula, if one exists.
        full_batch: meant for full batches: sign-based or gain-based rules misread
            mini-batch noise as sign changes (the trainer warns on mini-batches).
        eval_params: ``eval_params(state, params) -> weights`` for a rule that trains one
            sequence of weights and evaluates another (Schedule-Free's average); ``None``:
            evaluate the parameters themselves.
        apply: ``apply(grads, state, params, hp, alive) -> state | None``: ``update``'s
            step added to ``params`` in place by a fused kernel per member, for a caller
            that owns parameters and state (may overwrite ``grads``; ``grads`` may be a
            function of the member, :data:`Grads`); ``None`` back where it cannot run.
            ``None`` for a rule without one.
        multiplier: its ``lr`` multiplies a step size the rule estimates itself (Prodigy,
            D-Adaptation, DoG: 1 by their papers), so a range of it is no range of rates
            (a range test refuses it).
    """

    name: str
    init: Callable[[Sequence[Tensor]], State]
    update: Callable[[Sequence[Tensor], State, Sequence[Tensor], Hyper], tuple[list[Tensor], State]]
    defaults: Mapping[str, float] = field(default_factory=dict)
    torch_name: str | None = None
    full_batch: bool = False
    eval_params: Callable[[State, Sequence[Tensor]], list[Tensor]] | None = None
    apply: Callable[[Grads, State, Sequence[Tensor], Hyper, Tensor | None],
                    State | None] | None = None
    multiplier: bool = False
