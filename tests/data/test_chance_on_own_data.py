"""Nothing learned is never a winner on a user's own data: the majority class is counted
from the validation targets as they are scored, so a Dataset whose labels only
``__getitem__`` gives (dict batches of token ids, a model with its own loss) gets the same
verdict and the same search guard as tensors."""

from __future__ import annotations

import math

import pytest
import torch
from data_models import Tokens, tokens_task

import lrlab
from lrlab.search import auto
from lrlab.store import Store, run_study
from lrlab.train import fit, validated

#: auto draws its race's subset at random when the training labels cannot be read up front
pytestmark = pytest.mark.filterwarnings("ignore:lrlab.*drawn plainly at random:UserWarning")

MAJORITY = "no rate beat always answering the majority class"


def _share(n: int, signal: bool) -> float:
    """The validation set's majority share, counted by hand from the dataset's labels."""
    labels = torch.stack([Tokens(n, 1, signal=signal)[i]["labels"] for i in range(n)])
    return float(torch.bincount(labels).max()) / n


@pytest.mark.parametrize("own_loss", [False, True], ids=["task-loss", "own-loss"])
def test_noise_labels_learn_nothing_and_both_verdicts_say_so(own_loss: bool) -> None:
    task = tokens_task(signal=False, own_loss=own_loss, n=600)
    result = lrlab.sweep(task, lrs=[0.1, 1.0, 10.0])
    assert result.chance == pytest.approx(_share(300, signal=False))
    assert result.chance > 0.85 and result.val_examples == 300
    assert MAJORITY in result.verdict()
    found = auto(task)
    assert any(w.startswith("no rate learned") for w in found.confidence.warnings)
    assert "no rate beat chance" in found.verdict()


def test_real_signal_gives_no_false_warning() -> None:
    task = tokens_task(signal=True, own_loss=True)
    result = lrlab.sweep(task, lrs=[0.1, 1.0, 10.0])
    assert result.chance == pytest.approx(_share(1000, signal=True))
    assert MAJORITY not in result.verdict()
    found = auto(task)
    assert not any("no rate learned" in w for w in found.confidence.warnings)
    assert found.confidence.chance >= result.chance  # the majority class, at least


def test_the_counted_chance_is_stored_and_survives_a_resume(tmp_path) -> None:
    """A study gets the chance level with its first epoch's records; a fit resumed from its
    last checkpoint (nothing left to evaluate) keeps it."""
    task = tokens_task(signal=False, own_loss=False, n=200)
    config = validated(lrs=[0.1, 1.0], epochs=2)
    with Store(tmp_path / "s.db") as store:
        name, result = run_study(store, task, config)
        stored = store.result(name)
    assert stored.chance == result.chance == pytest.approx(_share(100, signal=False))
    assert stored.val_examples == 100 and stored.verdict() == result.verdict()
    saved = []
    fit(task, config.members(), config, on_checkpoint=saved.append)
    done = fit(task, config.members(), config, resume=saved[-1])
    assert done.chance == result.chance and done.val_examples == 100
    assert math.isfinite(done.chance)
