"""Update rules over tensors with a leading member axis (see :mod:`lrlab.optim._rules`)."""

from lrlab.optim._rules import RULES, UpdateRule, get_rule, per_member

__all__ = ["RULES", "UpdateRule", "get_rule", "per_member"]
