"""Prodigy's probe: its rate is the recorded estimate d of a lone Prodigy run."""

from __future__ import annotations

import pytest

from lrlab import LrlabError
from lrlab.search import prodigy_probe
from lrlab.tasks import get_task
from lrlab.train import Member, fit, validated


def test_the_rate_is_prodigys_last_estimate() -> None:
    """The probe's rate equals d after the last step of a Prodigy fit (recorded rate)."""
    task = get_task("blobs")
    found = prodigy_probe(task, probe_epochs=2, epochs=2, batch_size=128, confirm=True)
    alone = fit(task, [Member(lr=1.0, optimizer="prodigy")],
                validated(lrs=[1.0], epochs=2, batch_size=128, record_steps=True))
    steps = alone.steps[alone.steps["metric"] == "lr"]
    assert found.lr == pytest.approx(float(steps["value"].iloc[-1]), rel=1e-6)
    assert found.estimates["d"].iloc[0] == pytest.approx(1e-6)  # d0, the first step's
    assert found.estimates["d"].is_monotonic_increasing
    assert found.confirmation.members["optimizer"].tolist() == ["adam"]
    assert found.confirmation.members["lr"].iloc[0] == found.lr
    assert found.verdict().startswith(f"prodigy_probe: lr={found.lr:.3g} for adam")


def test_the_explanation_counts_a_loaders_examples() -> None:
    """A DataLoader's len is its batches: the probe said '1 epoch(s) of 18 examples' for
    900 examples in batches of 50."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab import Task

    x = torch.randn(90, 4, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    data = DataLoader(TensorDataset(x, y), batch_size=10)
    task = Task.from_loaders(lambda: torch.nn.Linear(4, 2), data, data,
                             loss=torch.nn.CrossEntropyLoss(), epochs=1)
    found = prodigy_probe(task, probe_epochs=1, epochs=1)
    assert "ran 9 steps (1 epoch(s) of 90 examples)" in found.explanation


@pytest.mark.parametrize("kwargs, words", [({"probe_epochs": 0}, "probe_epochs must be"),
                                           # longer than the training: ran on for ever
                                           ({"probe_epochs": 9, "epochs": 8},
                                            "probe_epochs must be a whole number from 1 to 8"),
                                           ({"optimizer": "sgd"}, "an Adam rate"),
                                           ({"seeds": [0, 1]}, "chooses seeds itself")])
def test_bad_input_is_one_line(kwargs, words) -> None:
    with pytest.raises(LrlabError, match=words) as err:
        prodigy_probe("blobs", **kwargs)
    assert "\n" not in str(err.value)
