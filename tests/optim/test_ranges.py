"""Hyperparameters outside their range are refused before any training, in one line."""

from __future__ import annotations

import pytest

import lrlab
from lrlab.optim import RANGES, RULES, check_ranges


def test_every_hyperparameter_of_every_rule_has_a_range_and_its_default_is_inside():
    """A new rule's hyperparameter without a range entry fails here, loudly."""
    for rule in RULES.values():
        missing = set(rule.defaults) - set(RANGES)
        assert not missing, f"{rule.name}: no range for {sorted(missing)}"
        check_ranges(rule.name, dict(rule.defaults))


@pytest.mark.parametrize("optimizer, hparams, words", [
    ("adam", {"beta1": 1.0}, "beta1=1 must be in [0, 1) for the update rule adam"),
    ("momentum", {"momentum": -3.0}, "momentum=-3 must be in [0, 1) for the update rule momentum"),
    ("adam", {"eps": -1e-3}, "eps=-0.001 must be >= 0 for the update rule adam"),
    ("rprop", {"eta_plus": 0.5}, "eta_plus=0.5 must be in (1, inf) for the update rule rprop"),
    ("delta_bar_delta", {"gain_min": 5.0, "gain_max": 2.0}, "gain_min=5 must be below gain_max=2 for the update rule delta_bar_delta"),
    ("sgd", {"weight_decay": float("nan")}, "weight_decay=nan must be finite for the update rule sgd"),
])
def test_out_of_range_values_are_one_line_errors_from_python_and_the_population(
        optimizer, hparams, words):
    """The sweep's settings and the population both refuse them with the same line."""
    with pytest.raises(lrlab.LrlabError, match=None) as err:
        lrlab.sweep("blobs", lrs=[0.1], optimizer=optimizer, hparams=hparams, epochs=1)
    assert words in str(err.value) and "\n" not in str(err.value)
    import torch

    with pytest.raises(lrlab.LrlabError) as again:
        lrlab.Population(torch.nn.Linear(2, 2), optimizer,
                         {"lr": [0.1], **{k: [v] for k, v in hparams.items()}})
    assert words in str(again.value)
