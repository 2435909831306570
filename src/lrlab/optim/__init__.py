"""Update rules over tensors with a leading member axis (see :mod:`lrlab.optim._rules`)."""

from lrlab.optim._rules import RULES, UpdateRule, get_rule, lr_for, per_member

__all__ = ["RULES", "UpdateRule", "get_rule", "lr_for", "per_member"]
