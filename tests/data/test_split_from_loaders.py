"""``Task.from_loaders`` given tensors (``lrlab.Split``): the task's kind read from the first
batch, as for loaders, and the tensor fast path kept where it can score the outputs.

A user who holds their data as tensors writes the same call as with loaders; before the kind
was read for loaders only, so a classifier given as Splits trained as a regression and
failed on its first step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import lrlab
from lrlab._errors import LrlabError
from lrlab.tasks import Split, Task

LRS, EPOCHS = [0.5, 0.05], 2


def _xy(n: int = 240):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=g)
    return x, (x[:, 0] - x[:, 1] > 0)


def _mlp(out: int, flat: bool = False):
    def make() -> nn.Module:
        layers = [nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, out)]
        return nn.Sequential(*layers, nn.Flatten(0)) if flat else nn.Sequential(*layers)
    return make


def _records(result) -> list:
    frame = result.records[result.records["metric"] != "time"]
    return frame.sort_values(["member", "epoch", "split", "metric"]).values.tolist()


def _metrics(result) -> set[str]:
    return set(result.records.loc[result.records["split"] == "val", "metric"])


def test_a_classifier_from_splits_is_read_as_one_and_trains_as_a_tensor_task() -> None:
    x, y = _xy()
    train, val = Split(x[:180], y[:180].long()), Split(x[180:], y[180:].long())
    task = Task.from_loaders(_mlp(2), train, val, loss=nn.CrossEntropyLoss(), epochs=EPOCHS,
                             batch_size=30)
    given = Task(name="task", train=train, val=val, model=_mlp(2), num_classes=2,
                 loss=task.loss, batch_size=30, epochs=EPOCHS)
    got = lrlab.sweep(task, lrs=LRS)
    assert got.monitor == "accuracy" and {"accuracy", "auc"} <= _metrics(got)
    assert _records(got) == _records(lrlab.sweep(given, lrs=LRS))  # the same fast path


def test_a_regression_from_splits_is_ranked_by_loss() -> None:
    x, _ = _xy()
    y = x[:, :1] * 2 - x[:, 1:2]
    task = Task.from_loaders(_mlp(1), Split(x[:180], y[:180]), Split(x[180:], y[180:]),
                             loss=nn.MSELoss(), epochs=EPOCHS)
    result = lrlab.sweep(task, lrs=LRS)
    assert result.monitor == "loss" and "accuracy" not in _metrics(result)


@pytest.mark.parametrize("flat", [True, False], ids=["(B,)", "(B, 1)"])
def test_one_logit_per_example_from_splits_scores_as_two_classes(flat: bool) -> None:
    """Float 0/1 targets under BCEWithLogitsLoss: accuracy as the same data given as Datasets
    gets it, not a regression."""
    x, y = _xy()
    y = y.float() if flat else y.float().unsqueeze(1)
    loss = nn.BCEWithLogitsLoss()
    split = Task.from_loaders(_mlp(1, flat), Split(x[:180], y[:180]), Split(x[180:], y[180:]),
                              loss=loss, epochs=EPOCHS, batch_size=30)
    datasets = Task.from_loaders(_mlp(1, flat), TensorDataset(x[:180], y[:180]),
                                 TensorDataset(x[180:], y[180:]), loss=loss, epochs=EPOCHS,
                                 batch_size=30)
    got = lrlab.sweep(split, lrs=LRS)
    assert got.monitor == "accuracy" and "accuracy" in _metrics(got)
    assert _records(got) == _records(lrlab.sweep(datasets, lrs=LRS))


def test_outputs_the_loss_refuses_are_one_line_before_training() -> None:
    x, y = _xy()
    y = y.float()  # (B,) against the model's (B, 1): torch's loss refuses the pair
    task = Task.from_loaders(_mlp(1), Split(x[:180], y[:180]), Split(x[180:], y[180:]),
                             loss=nn.BCEWithLogitsLoss(), epochs=EPOCHS)
    with pytest.raises(LrlabError, match=r"its loss fails on the model's outputs of shape "
                       r"\(32, 1\) and targets of shape \(32,\) \(ValueError") as err:
        lrlab.sweep(task, lrs=LRS)  # (the model ran: the message blamed it)
    assert "\n" not in str(err.value)


def _pixels(n: int = 120):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 2, 3, 3, generator=g)
    return x, (x[:, 0] > x[:, 1]).long()


@pytest.mark.parametrize("kind", ["classes-last", "one-logit", "classes-on-axis-1"])
def test_a_monitor_given_still_reads_the_kind_from_the_first_batch(kind: str) -> None:
    """Splits with ``monitor=`` given train as without it: the kind is still read from the
    first batch (before, a monitor skipped that: a classifier trained as a regression and
    failed its first step, one logit was refused as a regression)."""
    if kind == "classes-on-axis-1":
        x, y = _pixels()
        model, loss = (lambda: nn.Conv2d(2, 2, 1)), nn.CrossEntropyLoss()
    else:
        x, y = _xy()
        one = kind == "one-logit"
        y = y.float() if one else y.long()
        model = _mlp(1 if one else 2, flat=one)
        loss = nn.BCEWithLogitsLoss() if one else nn.CrossEntropyLoss()
    cut = len(x) * 3 // 4
    kw = {"loss": loss, "epochs": EPOCHS, "batch_size": 30, "monitor": "accuracy"}
    split = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]), **kw)
    if kind == "classes-last":  # the tensor fast path, as a task that names its classes
        same = Task(name="task", train=split.train, val=split.val, model=model, num_classes=2,
                    loss=split.loss, batch_size=30, epochs=EPOCHS)
    else:  # scored as the data path scores them
        same = Task.from_loaders(model, TensorDataset(x[:cut], y[:cut]),
                                 TensorDataset(x[cut:], y[cut:]), **kw)
    got = lrlab.sweep(split, lrs=LRS)
    assert got.monitor == "accuracy" and "accuracy" in _metrics(got)
    assert _records(got) == _records(lrlab.sweep(same, lrs=LRS))


@pytest.mark.parametrize("shape", [(300,), (300, 1)], ids=["(n,)", "(n, 1)"])
def test_a_binary_tensor_datasets_float_labels_stratify_a_subset(shape) -> None:
    """0/1 float targets (BCEWithLogitsLoss's) are class labels: a subset keeps each class's
    share, and no warning says the labels cannot be read."""
    import warnings

    from lrlab.data import labels_of

    y = (torch.arange(300) % 10 == 0).float().reshape(shape)  # 10% positives
    data = TensorDataset(torch.randn(300, 5), y)
    assert labels_of(data).tolist() == (y.reshape(-1) == 1).long().tolist()
    assert labels_of(TensorDataset(torch.randn(300, 5), y * 0.5)) is None  # not labels
    task = Task.from_loaders(_mlp(1), data, data, loss=nn.BCEWithLogitsLoss(), num_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        part = task.subset(100, seed=0)
    assert int(sum(float(part.train[i][1].sum()) for i in range(len(part.train)))) == 10


def _tokens(n: int = 96):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(n, 3, 6, generator=g)  # (B, features, T)
    return x, (x[:, 0] > x[:, 1]).long()  # a label per token: (B, T)


class _PerToken(nn.Module):  # (B, C, T): what nn.CrossEntropyLoss takes per token
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 2, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("monitor", [None, "accuracy"])
@pytest.mark.parametrize("kind", ["per-token (B, C, T)", "per-pixel (B, C, H, W)"])
def test_classes_on_axis_1_with_num_classes_given_train_as_without(kind, monitor) -> None:
    """Splits whose outputs hold the classes on axis 1 train when ``num_classes`` is given too
    (before, with a monitor, they took the tensor path and failed with "logits must be
    (K, B, C)", advice that cannot help: torch's own loss wants the classes on axis 1)."""
    x, y = _tokens() if kind.startswith("per-token") else _pixels()
    model = _PerToken if kind.startswith("per-token") else (lambda: nn.Conv2d(2, 2, 1))
    cut = len(x) * 3 // 4
    kw = {"loss": nn.CrossEntropyLoss(), "epochs": EPOCHS, "batch_size": 30,
          "monitor": monitor}
    given = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]),
                              num_classes=2, **kw)
    read = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]), **kw)
    got = lrlab.sweep(given, lrs=LRS)
    assert got.monitor == "accuracy" and "accuracy" in _metrics(got)
    assert _records(got) == _records(lrlab.sweep(read, lrs=LRS))
    plain = Task(name="task", train=given.train, val=given.val, model=model, num_classes=2,
                 loss=given.loss, batch_size=30, epochs=EPOCHS)  # monitor: accuracy
    assert _records(lrlab.sweep(plain, lrs=LRS)) == _records(got)


@pytest.mark.parametrize("kind", ["per-token (B, C, T)", "per-pixel (B, C, H, W)"])
def test_range_test_takes_splits_with_classes_on_axis_1_as_a_sweep_does(kind) -> None:
    """``range_test`` (``lrlab find``) checks such a task as the sweep's fit does, after it is
    resolved to the data path (before, its check read the Split's raw outputs and refused a
    task that sweeps train: "logits must be (K, B, C) with C=2 classes"); its curve is the
    one of the same Splits without ``num_classes``, read off the outputs."""
    from lrlab.search import range_test

    x, y = _tokens() if kind.startswith("per-token") else _pixels()
    model = _PerToken if kind.startswith("per-token") else (lambda: nn.Conv2d(2, 2, 1))
    cut = len(x) * 3 // 4
    kw = {"loss": nn.CrossEntropyLoss(), "epochs": EPOCHS, "batch_size": 30}
    split = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]),
                              num_classes=2, **kw)
    read = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]), **kw)
    got = range_test(split, steps=12, seed=1)
    want = range_test(read, steps=12, seed=1)
    assert len(got.lrs) == 12 and np.isfinite(got.val_accuracy).any()
    assert got.losses.tolist() == want.losses.tolist()
    assert np.array_equal(got.val_accuracy, want.val_accuracy, equal_nan=True)


@pytest.mark.parametrize("kind", ["one-logit", "classes-on-axis-1"])
def test_a_tensor_task_scored_as_data_is_probed_once(kind: str, monkeypatch) -> None:
    """A Split task that the data path scores is converted once per task object: a sweep
    (its memory estimate, then its fit) runs the user's model on the first batch once (before,
    each ``resolve_task`` made new Datasets, and each was probed again)."""
    from lrlab.train import _loader

    if kind == "one-logit":
        x, y = _xy()
        model, loss, y = _mlp(1, flat=True), nn.BCEWithLogitsLoss(), y.float()
    else:
        x, y = _pixels()
        model, loss = (lambda: nn.Conv2d(2, 2, 1)), nn.CrossEntropyLoss()
    runs = []
    real = _loader._probe
    monkeypatch.setattr(_loader, "_probe", lambda task, **kw: runs.append(task) or real(task, **kw))
    cut = len(x) * 3 // 4
    task = Task.from_loaders(model, Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:]),
                             loss=loss, epochs=EPOCHS, batch_size=30)
    lrlab.sweep(task, lrs=LRS)
    lrlab.sweep(task, lrs=LRS)
    converted = [t for t in runs if not t.in_memory]
    assert len(converted) == 1 and len(runs) == (1 if kind == "one-logit" else 2)


@pytest.mark.parametrize("kind", ["per-pixel, default loss", "per-pixel, nn.CrossEntropyLoss",
                                  "regression, nn.MSELoss"])
def test_a_task_given_one_models_loss_names_member_loss_and_that_fix_trains(kind) -> None:
    """``Task(...)`` takes a loss of every member's outputs ``(K, B, ...)``. A per-pixel
    classifier on lrlab's default cross-entropy (classes last), or a plain PyTorch loss given
    unwrapped, failed with advice that cannot help: "use (N,) or (K, N) for logits (K, N, C)",
    torch's "Expected input batch_size (1) to match target batch_size", or "give them one
    shape" for outputs and targets already of one shape. The error names the fix, and the fix
    trains."""
    if kind.startswith("per-pixel"):
        x, y = _pixels()
        model, torch_loss, kw = (lambda: nn.Conv2d(2, 2, 1)), nn.CrossEntropyLoss(), {
            "num_classes": 2}
        if kind.endswith("nn.CrossEntropyLoss"):
            kw["loss"] = torch_loss
    else:
        x, _ = _xy()
        y = x[:, :1] * 2 - x[:, 1:2]
        model, torch_loss = _mlp(1), nn.MSELoss()
        kw = {"num_classes": None, "monitor": "loss", "loss": torch_loss}
    cut = len(x) * 3 // 4
    make = {"name": "task", "train": Split(x[:cut], y[:cut]), "val": Split(x[cut:], y[cut:]),
            "model": model, "batch_size": 30, "epochs": EPOCHS}
    with pytest.raises(LrlabError, match=r"member_loss\(") as err:
        lrlab.sweep(Task(**make, **kw), lrs=LRS)
    assert "\n" not in str(err.value) and "(K, N, C)" not in str(err.value)
    assert "one shape" not in str(err.value)
    fixed = Task(**make, **{**kw, "loss": lrlab.tasks.member_loss(torch_loss)})
    got = lrlab.sweep(fixed, lrs=LRS)
    assert got.monitor == ("loss" if kw["num_classes"] is None else "accuracy")
    read = Task.from_loaders(model, make["train"], make["val"], loss=torch_loss, epochs=EPOCHS,
                             batch_size=30)  # the same loss, wrapped by from_loaders
    same = [_records(r) for r in (got, lrlab.sweep(read, lrs=LRS))]
    assert [[*row[:-1], repr(row[-1])] for row in same[0]] == \
        [[*row[:-1], repr(row[-1])] for row in same[1]]  # nan (a grad norm) as itself


@pytest.mark.parametrize("given", ["Split", "DataLoader"])
def test_a_subset_of_labels_per_pixel_says_nothing_false(given: str) -> None:
    """A subset of a per-pixel task given as tensors draws whole examples without the warning
    that 'the training labels cannot be read without loading every example ... give the task
    labels=': they are read (a tensor), and a label per pixel has no class per example to
    stratify by (before: ``lrlab auto`` printed it for every such task)."""
    import warnings

    from torch.utils.data import DataLoader

    x, y = _pixels()
    train = Split(x[:90], y[:90])
    if given == "DataLoader":
        train = DataLoader(TensorDataset(x[:90], y[:90]), batch_size=30)
    task = Task.from_loaders(lambda: nn.Conv2d(2, 2, 1), train, Split(x[90:], y[90:]),
                             loss=nn.CrossEntropyLoss(), epochs=EPOCHS, batch_size=30)
    from lrlab.train import SweepConfig, resolve_task

    config = SweepConfig(lrs=[0.1])
    resolved = resolve_task(task, config, config.members())  # a classifier, as auto sees it
    assert resolved.num_classes == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        part = resolved.subset(30, seed=0)
    assert part.train_size == 30


class _Tokens(torch.utils.data.Dataset):
    """Dict examples, as a tokenizer gives them; ``__getitem__`` draws (augmentation)."""

    def __init__(self, per_token: bool) -> None:
        self.x, self.y = _tokens(60)
        self.per_token = per_token

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        noise = 0.01 * torch.randn(self.x[i].shape)
        label = self.y[i] if self.per_token else self.y[i, 0]
        return {"x": self.x[i] + noise, "labels": label}


@pytest.mark.parametrize("per_token", [True, False])
def test_a_subset_of_dict_examples_warns_only_where_labels_could_stratify(per_token) -> None:
    """A Dataset of dict examples with a label per token: its subset says nothing of
    'give the task labels= to stratify it' (no class per example exists to give); with one
    label per example the warning stands. Reading the first example leaves torch's random
    state as it was (its ``__getitem__`` draws)."""
    import warnings

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 2, 1)

        def forward(self, x):
            out = self.conv(x)
            return out if per_token else out.mean(-1)

    task = Task.from_loaders(Net, _Tokens(per_token), _Tokens(per_token),
                             loss=nn.CrossEntropyLoss(), num_classes=2, epochs=EPOCHS,
                             batch_size=20)
    before = torch.get_rng_state()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        part = task.subset(30, seed=0)
    assert torch.equal(torch.get_rng_state(), before)
    assert part.train_size == 30
    said = [str(w.message) for w in seen if "labels=" in str(w.message)]
    assert len(said) == (0 if per_token else 1)


class _ClassesLast(nn.Module):  # (B, T, C): a token classifier's layout
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 2, 1)

    def forward(self, x):
        return self.conv(x).transpose(1, 2)


def test_padded_labels_on_the_default_loss_name_a_loss_that_skips_them() -> None:
    """Token labels padded with -100, classes last, on lrlab's default cross-entropy (which
    scores every position): one line naming a loss that skips the padding (before: torch's
    'index -100 is out of bounds'), and that loss trains, scoring the real tokens only."""
    x, y = _tokens()
    y[::3, 4:] = -100
    cut = len(x) * 3 // 4
    train, val = Split(x[:cut], y[:cut]), Split(x[cut:], y[cut:])
    task = Task(name="padded", train=train, val=val, model=_ClassesLast, num_classes=2,
                batch_size=24, epochs=EPOCHS)
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task, lrs=LRS)
    said = str(err.value)
    assert "\n" not in said and "-100 (padding)" in said and "out of bounds" not in said
    assert "F.cross_entropy(out.movedim(-1, 1), y)" in said
    fixed = Task.from_loaders(_ClassesLast, train, val, epochs=EPOCHS, batch_size=24,
                              loss=lambda out, y: nn.functional.cross_entropy(out.movedim(-1, 1), y))
    got = lrlab.sweep(fixed, lrs=LRS)
    labels = y[cut:][y[cut:] != -100]
    majority = max(int((labels == c).sum()) for c in (0, 1)) / len(labels)  # real tokens only
    assert got.monitor == "accuracy" and got.chance == pytest.approx(majority)
