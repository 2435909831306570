"""Update rules over tensors with a leading member axis, and their torch.optim faces.

* :data:`RULES`: every rule by name (contract in :mod:`lrlab.optim._base`): sgd, momentum,
  nesterov, adagrad, rmsprop, adam, adamw (as ``torch.optim``); rprop and delta_bar_delta
  (per-weight steps from gradient signs; full batches); sgd_hd and adam_hd (hypergradient
  descent on the rate, which the rule keeps in ``state["lr"]``); the learning-rate-free
  prodigy, dadapt_adam, dog (their ``lr`` a multiplier, 1 by their papers; the step size
  they settle on in ``state["lr"]``), sf_sgd and sf_adamw (Schedule-Free: trained at ``y``,
  evaluated at the average ``x``, :attr:`UpdateRule.eval_params`).
* :func:`mixed`: several rules in one population, member k running its own.
* :class:`Optimizer` (and :class:`Rprop`, :class:`DeltaBarDelta`, :class:`SGDHD`,
  :class:`AdamHD`): any rule as a ``torch.optim.Optimizer`` for your own loop.
* :func:`param_groups`, :func:`lr_multipliers`, :func:`parse_lr_mult`: layer-wise rates.
"""

from lrlab.optim._base import lr_mult_for
from lrlab.optim._groups import lr_multipliers, param_groups, parse_lr_mult
from lrlab.optim._mixed import mixed
from lrlab.optim._ranges import RANGES, check_ranges
from lrlab.optim._rules import RULES, UpdateRule, get_rule, lr_for, per_member
from lrlab.optim._torch import SGDHD, AdamHD, DeltaBarDelta, Optimizer, Rprop

__all__ = [
    "RANGES",
    "RULES",
    "SGDHD",
    "AdamHD",
    "DeltaBarDelta",
    "Optimizer",
    "Rprop",
    "UpdateRule",
    "check_ranges",
    "get_rule",
    "lr_for",
    "lr_mult_for",
    "lr_multipliers",
    "mixed",
    "param_groups",
    "parse_lr_mult",
    "per_member",
]
