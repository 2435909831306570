"""Layer-wise rates: grouping parameters by name pattern, and reading ``PATTERN=MULT``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab import LrlabError
from lrlab.optim import Optimizer, lr_multipliers, param_groups, parse_lr_mult

BASE = 0.01


class Net(nn.Module):
    """A pretrained-looking backbone, a new head, and a frozen embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4).requires_grad_(False)
        self.backbone = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 6))
        self.head = nn.Linear(6, 3)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)) * self.scale


def _names(group: dict, model: nn.Module) -> list[str]:
    ids = {id(p) for p in group["params"]}
    return [n for n, p in model.named_parameters() if id(p) in ids]


def test_rule_of_thumb_backbone_slow_head_fast():
    """SEEDS D: {"backbone.*": 0.1, "head.*": 10} and the rest at the base rate."""
    model = Net()
    groups = param_groups(model, BASE, {"backbone.*": 0.1, "head.*": 10})
    assert [(g["name"], g["lr"]) for g in groups] == [
        ("backbone.*", pytest.approx(0.001)), ("head.*", pytest.approx(0.1)), ("*", BASE)]
    assert _names(groups[0], model) == ["backbone.0.weight", "backbone.0.bias",
                                        "backbone.2.weight", "backbone.2.bias"]
    assert _names(groups[1], model) == ["head.weight", "head.bias"]
    assert _names(groups[2], model) == ["scale"]  # the frozen embedding is in no group


def test_a_module_name_means_everything_in_it():
    model = Net()
    by_module = param_groups(model, BASE, {"backbone": 0.1, "head": 10})
    by_glob = param_groups(model, BASE, {"backbone.*": 0.1, "head.*": 10})
    assert [_names(g, model) for g in by_module] == [_names(g, model) for g in by_glob]
    assert _names(param_groups(model, BASE, {"backbone.0": 2})[0], model) == [
        "backbone.0.weight", "backbone.0.bias"]


def test_first_matching_pattern_wins():
    model = Net()
    groups = param_groups(model, BASE, {"head.bias": 1.0, "head.*": 10, "*.bias": 0.5})
    assert _names(groups[0], model) == ["head.bias"]
    assert _names(groups[1], model) == ["head.weight"]
    assert _names(groups[2], model) == ["backbone.0.bias", "backbone.2.bias"]


def test_no_unmatched_group_when_every_parameter_is_taken():
    groups = param_groups(Net(), BASE, {"head.*": 10, "*": 1.0})
    assert [g["name"] for g in groups] == ["head.*", "*"]
    assert [g["name"] for g in param_groups(Net(), BASE)] == ["*"]


def test_lr_multipliers_follow_the_same_rules():
    names = [n for n, _ in Net().named_parameters()]
    mult = lr_multipliers(names, {"head.bias": 1.0, "head": 10, "backbone.*": 0.1})
    assert dict(zip(names, mult)) == {
        "embed.weight": 1.0, "backbone.0.weight": 0.1, "backbone.0.bias": 0.1,
        "backbone.2.weight": 0.1, "backbone.2.bias": 0.1, "head.weight": 10.0,
        "head.bias": 1.0, "scale": 1.0}
    assert lr_multipliers(names, None) == (1.0,) * len(names)


def test_sgd_moves_the_head_100x_faster_than_the_backbone():
    """Same gradient, rates 0.1x and 10x the base: the head moves 100 times as far."""
    model = nn.Sequential()
    model.add_module("backbone", nn.Linear(3, 3))
    model.add_module("head", nn.Linear(3, 3))
    model = model.to(torch.float64)
    groups = param_groups(model, BASE, {"backbone.*": 0.1, "head.*": 10})
    for opt in (torch.optim.SGD(groups, lr=BASE), Optimizer(groups, "sgd", lr=BASE)):
        before = [p.detach().clone() for p in model.parameters()]
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        moved = [(p - b).abs() for p, b in zip(model.parameters(), before)]
        back, head = moved[0], moved[2]
        assert torch.allclose(head, 100 * back, rtol=1e-9)
        assert torch.allclose(back, torch.full_like(back, 0.001), rtol=1e-9)


@pytest.mark.parametrize(("mult", "needle"), [
    ({"neck.*": 2.0}, "'neck.*' matches no trainable parameter"),
    ({"embed.*": 2.0}, "'embed.*' matches no trainable parameter"),  # frozen
    ({"head.*": 10, "head.bias": 1.0}, "earlier pattern 'head.*'"),
    ({"head.*": 0.0}, "finite number > 0"),
    ({"head.*": -1.0}, "finite number > 0"),
    ({"head.*": float("inf")}, "finite number > 0"),
    ({"head.*": float("nan")}, "finite number > 0"),
    ({"": 2.0}, "non-empty"),
    # the command line's text (was a ValueError: "dictionary update sequence element #0")
    ("head.*=10", "mult must be a dict of pattern -> multiplier, e.g. {'head.*': 10}"),
])
def test_bad_patterns_and_multipliers_are_one_line_errors(mult, needle):
    for call in (lambda: param_groups(Net(), BASE, mult),
                 lambda: lr_multipliers([n for n, p in Net().named_parameters()
                                         if p.requires_grad], mult)):
        with pytest.raises(LrlabError) as info:
            call()
        message = str(info.value)
        assert needle in message and "\n" not in message


def test_unmatched_pattern_error_lists_some_parameter_names():
    with pytest.raises(LrlabError, match="backbone.0.weight"):
        param_groups(Net(), BASE, {"neck": 2.0})


@pytest.mark.parametrize("base", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_base_rate(base):
    with pytest.raises(LrlabError, match="base_lr"):
        param_groups(Net(), base, {"head": 10})


def test_parse_lr_mult():
    assert parse_lr_mult(["backbone.*=0.1", "head.*=10"]) == {"backbone.*": 0.1, "head.*": 10.0}
    assert list(parse_lr_mult(["b=1", "a=2"])) == ["b", "a"]  # order kept: first match wins
    assert parse_lr_mult([" head = 1e1 "]) == {"head": 10.0}
    assert parse_lr_mult([]) == {}


@pytest.mark.parametrize(("text", "needle"), [
    (["head.*"], "PATTERN=MULT"),
    (["=10"], "PATTERN=MULT"),
    (["head.*=ten"], "not a number"),
    (["head.*=0"], "positive"),
    (["head.*=-2"], "positive"),
    (["head.*=nan"], "positive"),
    (["head=2", "head=3"], "twice"),
])
def test_parse_lr_mult_errors(text, needle):
    with pytest.raises(LrlabError) as info:
        parse_lr_mult(text)
    assert needle in str(info.value) and "\n" not in str(info.value)
