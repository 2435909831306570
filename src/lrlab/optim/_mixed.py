"""Several update rules in one population: member k runs rule ``assignment[k]``.

:func:`mixed` builds one :class:`UpdateRule` from several: each call gathers the members of
each rule along the member axis (``index_select``), calls that rule's own ``update`` with
its members' gradients, parameters, state and hyperparameters, and scatters the updates
back in member order. So a tuned SGD, an Adam and a Prodigy race in lockstep, from the same
weights on the same batches, and member k moves exactly as a lone run of its rule.

Hyperparameters are ``(K,)`` tensors over all members (the union of the rules' names); a
rule sees only its own names, for its own members. The rate each member used is reported
in ``state["lr"]`` (a rule's adapted rate, else ``hp["lr"]``); evaluation weights
(:attr:`UpdateRule.eval_params`) are each rule's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lrlab._errors import LrlabError
from lrlab.optim._base import Hyper, State, UpdateRule

__all__ = ["mixed"]


def _split(hp: Hyper, rule: UpdateRule, index: Tensor, members: int) -> dict:
    """The hyperparameters of ``rule`` for the members in ``index`` (and the multipliers:
    per element ``(P,)`` shared, or ``(K, P)`` per member)."""
    out = {}
    for name in ("lr", *rule.defaults):
        if name in hp:
            out[name] = hp[name].index_select(0, index.to(hp[name].device))
    if "lr_mult" in hp:
        out["lr_mult"] = tuple(m.index_select(0, index.to(m.device))
                               if isinstance(m, Tensor) and m.dim() == 2 and m.shape[0] == members
                               else m for m in hp["lr_mult"])
    return out


def mixed(rules: Sequence[UpdateRule], assignment: Sequence[int]) -> UpdateRule:
    """One rule running ``rules[assignment[k]]`` for member ``k``.

    Args:
        rules: the distinct rules, two or more.
        assignment: per member, the index of its rule in ``rules``; every rule used.

    Returns:
        an :class:`UpdateRule` named ``mixed(sgd,adam,...)`` whose defaults are the union of
        the rules' (the first rule with a name gives its default).

    Example:
        >>> import torch
        >>> from lrlab.optim import RULES
        >>> rule = mixed([RULES["sgd"], RULES["adam"]], [0, 1, 1])
        >>> p = [torch.zeros(3, 2)]
        >>> hp = {"lr": torch.tensor([0.1, 0.1, 0.01]), "beta1": torch.full((3,), 0.9),
        ...       "beta2": torch.full((3,), 0.999), "eps": torch.full((3,), 1e-8)}
        >>> (u,), _ = rule.update([torch.ones(3, 2)], rule.init(p), p, hp)
        >>> u[:, 0]
        tensor([-0.1000, -0.1000, -0.0100])
    """
    rules = list(rules)
    which = torch.as_tensor(list(assignment), dtype=torch.long)
    if len(rules) < 2 or len(which) == 0 or set(which.tolist()) != set(range(len(rules))):
        raise LrlabError(f"mixed needs two or more rules, each used by some member; got "
                         f"{len(rules)} rules for assignment {which.tolist()}")
    groups = [torch.nonzero(which == i).flatten() for i in range(len(rules))]
    members = len(which)
    defaults: dict[str, float] = {}
    for rule in rules:
        for name, value in rule.defaults.items():
            defaults.setdefault(name, value)

    def pick(tensors: Sequence[Tensor], index: Tensor) -> list[Tensor]:
        return [t.index_select(0, index.to(t.device)) for t in tensors]

    def init(params: Sequence[Tensor]) -> State:
        return {"parts": [r.init(pick(params, g)) for r, g in zip(rules, groups)]}

    def update(grads, state, params, hp):
        updates = [torch.empty_like(p) for p in params]
        parts, used = [], torch.empty_like(hp["lr"])
        for rule, index, part in zip(rules, groups, state["parts"]):
            own = _split(hp, rule, index, members)
            moved, part = rule.update(pick(grads, index), part, pick(params, index), own)
            for u, m in zip(updates, moved):
                u.index_copy_(0, index.to(u.device), m)
            used.index_copy_(0, index.to(used.device), part.get("lr", own["lr"]).to(used))
            parts.append(part)
        return updates, {"parts": parts, "lr": used}

    def eval_params(state: State, params: Sequence[Tensor]) -> list[Tensor]:
        out = [p.clone() for p in params]
        for rule, index, part in zip(rules, groups, state["parts"]):
            if rule.eval_params is not None:
                for o, w in zip(out, rule.eval_params(part, pick(params, index))):
                    o.index_copy_(0, index.to(o.device), w)
        return out

    name = "mixed(" + ",".join(r.name for r in rules) + ")"
    return UpdateRule(name, init, update, defaults,
                      full_batch=any(r.full_batch for r in rules),
                      eval_params=eval_params if any(r.eval_params for r in rules) else None)
