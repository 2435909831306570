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


def _tagged(n: int = 96, length: int = 8, pad: bool = True):
    """Token features ``(n, T, 4)``, a label per token, padded past each sequence's length
    with -100 (``nn.CrossEntropyLoss``'s ``ignore_index``) when ``pad``."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, length, 4, generator=g)
    y = (x[..., 0] > 0.3).long()
    padded = torch.arange(length) >= torch.randint(3, length + 1, (n, 1), generator=g)
    if pad:
        y[padded] = -100
    return x, y


class _Tagger(torch.nn.Module):
    """Per-token class scores in torch's layout, ``(B, C, T)``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x).transpose(1, 2)


@pytest.mark.parametrize("data", ["DataLoader", "Split"])
@pytest.mark.parametrize("pad", ["in the first batch", "in validation only"])
def test_padding_labels_are_not_scored_in_accuracy_sse_or_chance(pad: str, data: str) -> None:
    """-100 padding in token labels is skipped as ``nn.CrossEntropyLoss`` skips it: accuracy,
    SSE and the majority-class level count the real tokens only, whether the first (probed)
    training batch holds padding or only the validation data does (before: in the first
    batch it made the task loss-only, chance nan; later, every padded token counted as a
    miss)."""
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab.tasks import Split, Task

    x, y = _tagged()
    train_y = y if pad == "in the first batch" else _tagged(pad=False)[1]
    if data == "Split":
        train, val = Split(x, train_y), Split(x, y)
    else:
        train = DataLoader(TensorDataset(x, train_y), batch_size=16, shuffle=True)
        val = DataLoader(TensorDataset(x, y), batch_size=32)
    task = Task.from_loaders(_Tagger, train, val, loss=torch.nn.CrossEntropyLoss(), epochs=2,
                             batch_size=16)
    result = lrlab.sweep(task, lrs=[0.5])
    real = y != -100
    assert result.monitor == "accuracy"
    assert result.chance == pytest.approx(float(torch.bincount(y[real]).max()) / int(real.sum()))
    model = result.population.member_module(0).eval()
    with torch.no_grad():
        scores = model(x)
    hits = (scores.argmax(1) == y)[real]
    val = result.records.query("split == 'val' and epoch == 2").set_index("metric")["value"]
    assert float(val["accuracy"]) == pytest.approx(float(hits.double().mean()))
    # SSE over the real tokens alone, in float64 (before: each padded token added sum p^2)
    probs = torch.softmax(scores.double().movedim(1, -1)[real], -1)
    onehot = torch.nn.functional.one_hot(y[real], 2)
    assert float(val["sse"]) == pytest.approx(float((probs - onehot).square().sum()), rel=1e-5)


def test_a_token_tasks_tensor_subset_draws_whole_sequences() -> None:
    """A per-token Split's subset draws examples (sequences), not label positions (before:
    an IndexError from indices over B x T positions)."""
    from lrlab.tasks import Split, Task

    x, y = _tagged()
    task = Task.from_loaders(_Tagger, Split(x, y), Split(x, y),
                             loss=torch.nn.CrossEntropyLoss(), num_classes=2)
    part = task.subset(40, seed=1)
    rows = [int(torch.nonzero((x == row).all(-1).all(-1))[0]) for row in part.train.x]
    assert len(rows) == len(set(rows)) == 40 and torch.equal(part.train.y, y[rows])


def _skewed_f1():
    """An MLP on 7% positives (13 of 200 validation examples), tensors, ranked by a user's
    macro-F1; and the validation labels."""
    from helpers import macro_f1

    from lrlab.tasks import Split, Task

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 10, generator=g)
    y = ((x[:, 0] + 0.5 * x[:, 1]) > 1.6).long()
    task = Task("skewed-f1", Split(x[:800], y[:800]), Split(x[800:], y[800:]),
                lambda: torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(),
                                            torch.nn.Linear(16, 2)),
                num_classes=2, metrics={"f1": macro_f1}, monitor="f1", batch_size=32,
                epochs=2)
    return task, y[800:]


def test_a_sweep_ranked_by_an_own_metric_says_when_no_rate_beat_the_majority(tmp_path) -> None:
    """A sweep ranked by a user's macro-F1 reads chance as the searches do: the metric on
    answers that always name the majority class (0.483 on 13 positives of 200), its noise a
    share's on the balanced examples (48.6, C^2 / sum 1/n_c): rates too small to move off the
    majority answer get the verdict's warning (before: chance unknown, nothing said). The
    summary, the study's row and a resumed fit keep both."""
    from lrlab.metrics import LEARNED, score_noise

    task, yv = _skewed_f1()
    counts = torch.bincount(yv).double()
    level = float(0.5 * (2 * counts[0] / (2 * counts[0] + counts[1])))  # class 0's F1 / 2
    balanced = float(len(counts) ** 2 / (1 / counts).sum())
    result = lrlab.sweep(task, lrs=[1e-5, 1e-4])
    assert result.chance == pytest.approx(level, rel=1e-6) and result.val_examples == 200
    assert result.noise_examples == pytest.approx(balanced) and round(balanced, 1) == 48.6
    best = float(result.summary()["best_val_f1"].max())
    margin = LEARNED * score_noise(level, "f1", balanced, binomial=True)
    assert best - level <= margin and MAJORITY in result.verdict()
    result.save(tmp_path / "out")
    from lrlab.train import SweepResult

    again = SweepResult.load(tmp_path / "out")
    assert again.noise_examples == result.noise_examples and again.verdict() == result.verdict()
    config = validated(lrs=[1e-5, 1e-4], epochs=2)
    with Store(tmp_path / "s.db") as store:
        name, ran = run_study(store, task, config)
        stored = store.result(name)
    assert stored.chance == ran.chance and stored.noise_examples == ran.noise_examples
    assert stored.verdict() == ran.verdict() and MAJORITY in ran.verdict()
    saved = []
    fit(task, config.members(), config, on_checkpoint=saved.append, checkpoint_every=1)
    from lrlab.train._checkpoint import Checkpoint

    first = Checkpoint.from_bytes(saved[0].to_bytes())
    assert first.own_chance == pytest.approx(level, rel=1e-6)
    done = fit(task, config.members(), config, resume=first)
    assert done.chance == ran.chance and done.noise_examples == ran.noise_examples


def test_a_sweeps_verdict_allows_a_shares_noise_not_the_examples() -> None:
    """The margin the verdict allows an own share-like metric is a share's noise on the
    balanced examples (48.6 of 200), not the examples' own: a best score above chance by
    more than twice the examples' noise but less than twice the share's still gets the
    warning, and would not were the examples counted (noise_examples unknown)."""
    from dataclasses import replace

    from lrlab.metrics import LEARNED, score_noise

    task, _ = _skewed_f1()
    result = lrlab.sweep(task, lrs=[1e-5, 1e-4])
    best = float(result.summary()["best_val_f1"].max())
    share = LEARNED * score_noise(result.chance, "f1", result.noise_examples, binomial=True)
    plain = LEARNED * score_noise(result.chance, "f1", result.val_examples)
    chance = best - (share + plain) / 2
    assert (LEARNED * score_noise(chance, "f1", result.val_examples) < best - chance
            < LEARNED * score_noise(chance, "f1", result.noise_examples, binomial=True))
    assert MAJORITY in replace(result, chance=chance).verdict()
    assert MAJORITY not in replace(result, chance=chance, noise_examples=math.nan).verdict()
