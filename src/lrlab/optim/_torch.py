"""Any lrlab update rule as a ``torch.optim.Optimizer``, for people's own training loops.

The class only keeps the books: it gathers a param group's tensors and state, hands them to
the very function the population calls (with a member axis of 1: ``unsqueeze(0)`` views),
and adds the updates. One call per param group, so a rule that looks at all parameters at
once (hypergradient descent's dot product) sees the group's parameters together.

State lives where ``torch.optim`` keeps it, so ``state_dict()`` / ``load_state_dict()``
round-trip: per-parameter buffers (``m``, ``v``, ``gain``, ...) in ``self.state[p]``, and the
rule's scalars (the step count ``t``; the adapted rate ``lr`` of hypergradient rules) per
group in ``param_groups[i]["rule_state"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.optim._base import State, UpdateRule
from lrlab.optim._ranges import check_ranges
from lrlab.optim._rules import get_rule

__all__ = ["SGDHD", "AdamHD", "DeltaBarDelta", "Optimizer", "Rprop"]


class Optimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that runs an lrlab update rule.

    Each step, for each param group, with ``p`` its parameters that have a gradient::

        updates, state = rule.update(grads, state, p, hp);  p <- p + updates

    where every tensor has a member axis of 1 and ``hp`` holds the group's ``lr`` and the
    rule's hyperparameters. Param groups may set their own ``lr`` and hyperparameters; extra
    keys (``name`` from :func:`param_groups`) are kept and ignored. A parameter that first
    gets a gradient after its group has stepped starts from fresh buffers.

    Args:
        params: parameters or param-group dicts, as for any torch optimizer.
        rule: an :class:`UpdateRule` or the name of one in :data:`RULES`.
        lr: the learning rate (for hypergradient rules: the first rate, ``alpha_0``; the
            adapted one is ``param_groups[i]["rule_state"]["lr"]`` after a step).
        **hparams: the rule's hyperparameters; the rest keep the rule's defaults.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = Optimizer(model.parameters(), "adam_hd", lr=1e-3, beta=1e-4)
        >>> model(torch.ones(2, 3)).sum().backward()
        >>> _ = opt.step()
        >>> opt.param_groups[0]["rule_state"]["t"]
        1
    """

    def __init__(self, params: Iterable[Any], rule: str | UpdateRule = "sgd", *, lr: float,
                 **hparams: float) -> None:
        self.rule = get_rule(rule) if isinstance(rule, str) else rule
        unknown = sorted(set(hparams) - set(self.rule.defaults))
        if unknown:
            known = ", ".join(["lr", *self.rule.defaults])
            raise LrlabError(f"update rule {self.rule.name!r} has no hyperparameter "
                             f"{unknown[0]!r}; it takes: {known}")
        super().__init__(params, {"lr": lr, **self.rule.defaults, **hparams})

    def __getstate__(self) -> dict[str, Any]:  # torch keeps only its own three fields
        return {**super().__getstate__(), "rule": self.rule}

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (torch's method), checking its rate and hyperparameters."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for name in ("lr", *self.rule.defaults):
            value = group[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, Tensor)) or \
                    not math.isfinite(float(value)):
                raise LrlabError(f"{name} must be a finite number, got {value!r}")
        if float(group["lr"]) <= 0:
            raise LrlabError(f"the learning rate must be positive, got lr={group['lr']!r}")
        check_ranges(self.rule.name, {name: float(group[name]) for name in self.rule.defaults})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(group, params)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        like = params[0]
        hp = {name: torch.tensor([float(group[name])], dtype=like.dtype, device=like.device)
              for name in ("lr", *self.rule.defaults)}
        if "weight_decay" in hp and float(group["weight_decay"]) == 0.0:
            del hp["weight_decay"]  # as the population passes it
        for p in params:
            if p.grad.is_sparse:
                raise LrlabError("lrlab optimizers take dense gradients; use torch.optim."
                                 "SparseAdam for sparse ones")
        # the rule may keep a gradient as state: copy it, since backward() and
        # zero_grad(set_to_none=False) write into p.grad in place
        grads = [p.grad.unsqueeze(0).clone() for p in params]
        views = [p.unsqueeze(0) for p in params]
        updates, state = self.rule.update(grads, self._gather(group, params, views), views, hp)
        for p, u in zip(params, updates):
            p.add_(u.squeeze(0))
        scalars = {}
        for key, value in state.items():
            if isinstance(value, list):
                for p, t in zip(params, value):
                    self.state[p][key] = t.squeeze(0)
            else:
                scalars[key] = value
        group["rule_state"] = scalars

    def _gather(self, group: dict[str, Any], params: list[Tensor],
                views: list[Tensor]) -> State:
        """The rule's state for ``params``: fresh on a group's first step, else from books."""
        if "rule_state" not in group:
            return self.rule.init(views)
        like = params[0]
        state: State = {k: v.to(like.device, like.dtype) if isinstance(v, Tensor) else v
                        for k, v in group["rule_state"].items()}
        missing = [v for p, v in zip(params, views) if not self.state[p]]
        fresh = self.rule.init(missing) if missing else {}
        keys = [k for k, v in fresh.items() if isinstance(v, list)] if missing \
            else list(self.state[like])
        for key in keys:
            blank = iter(fresh.get(key, ()))
            state[key] = [self.state[p][key].unsqueeze(0) if self.state[p] else next(blank)
                          for p in params]
        return state


class Rprop(Optimizer):
    """:class:`Optimizer` running ``rprop`` (full batches only; see :data:`RULES`)."""

    def __init__(self, params: Iterable[Any], *, lr: float = 0.01, **hparams: float) -> None:
        super().__init__(params, "rprop", lr=lr, **hparams)


class DeltaBarDelta(Optimizer):
    """:class:`Optimizer` running ``delta_bar_delta`` (full or large batches)."""

    def __init__(self, params: Iterable[Any], *, lr: float, **hparams: float) -> None:
        super().__init__(params, "delta_bar_delta", lr=lr, **hparams)


class SGDHD(Optimizer):
    """:class:`Optimizer` running ``sgd_hd``, SGD with hypergradient descent on its rate."""

    def __init__(self, params: Iterable[Any], *, lr: float, **hparams: float) -> None:
        super().__init__(params, "sgd_hd", lr=lr, **hparams)


class AdamHD(Optimizer):
    """:class:`Optimizer` running ``adam_hd``, Adam with hypergradient descent on its rate."""

    def __init__(self, params: Iterable[Any], *, lr: float, **hparams: float) -> None:
        super().__init__(params, "adam_hd", lr=lr, **hparams)
