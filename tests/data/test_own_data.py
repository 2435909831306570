"""Populations on the models and data people have: member k equals a plain PyTorch loop.

Each model kind trains as a K-population from a DataLoader; member k's weights after
training equal those of a lone ``torch.optim.SGD`` loop at member k's rate over the same
batches from the same initial weights (float32 tolerance), and the test says which forward
path the population took, so a change in vmap coverage shows.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from data_models import gru_task, plain_run, regression_task, resnet_task, transformer_task
from helpers import Stream, no_time, one_line
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab import LrlabError
from lrlab.search import auto, grid
from lrlab.tasks import Split, Task, member_loss
from lrlab.train import estimate_memory, validated

LRS = [0.2, 0.05]


def _assert_members_match_plain_runs(task: Task, result, *, atol: float = 2e-5) -> None:
    for k, lr in enumerate(LRS):
        plain = plain_run(task, lr)
        member = result.population.member_module(k)
        for (name, want), got in zip(plain.state_dict().items(),
                                     member.state_dict().values()):
            if want.is_floating_point():
                diff = (want - got).abs().max().item()
                assert diff <= atol, f"member {k} {name} differs by {diff:.3g}"
            else:
                assert torch.equal(want, got), name


def _sweep(task: Task, **kw):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = lrlab.sweep(task, lrs=LRS, **kw)
    return result, [str(w.message) for w in seen if str(w.message).startswith("lrlab:")]


@pytest.mark.parametrize(("make", "path"), [
    (resnet_task, "vmap"),          # BatchNorm: per-member running statistics under vmap
    (transformer_task, "vmap"),     # Embedding, attention, dict batches, own loss
    (gru_task, "loop"),             # vmap has no batching rule for aten::gru
    (regression_task, "batched"),   # a Sequential of standard layers
])
def test_member_k_equals_a_plain_pytorch_loop(make, path: str) -> None:
    task = make()
    result, said = _sweep(task)
    assert result.population.path == path
    assert bool(said) == (path == "loop"), said
    _assert_members_match_plain_runs(task, result)


def test_what_each_kind_records() -> None:
    """Classes read from the first batch: accuracy for classifiers, loss for regression."""
    resnet, _ = _sweep(resnet_task(workers=0))
    assert resnet.monitor == "accuracy"
    assert {"loss", "accuracy", "error", "sse"} <= set(resnet.records["metric"])
    reg, _ = _sweep(regression_task())
    assert reg.monitor == "loss" and not reg.higher_is_better
    assert "accuracy" not in set(reg.records["metric"])
    text, _ = _sweep(transformer_task())  # own loss with logits: accuracy from them
    assert text.monitor == "accuracy"


def test_a_dataloader_trains_like_the_same_tensors() -> None:
    """A shuffling DataLoader over a TensorDataset draws lrlab's seeded order: the records
    equal those of the same data given as tensors."""
    blobs = lrlab.get_task("blobs")
    data = TensorDataset(blobs.train.x, blobs.train.y)
    loaded = blobs.replace(train=DataLoader(data, batch_size=50, shuffle=True),
                           val=TensorDataset(blobs.val.x, blobs.val.y))
    a = lrlab.sweep(blobs, lrs=[0.1, 0.01], epochs=3)
    b = lrlab.sweep(loaded, lrs=[0.1, 0.01], epochs=3)
    drop = lambda r: r.records[~r.records["metric"].isin(["time", "auc"])]
    merged = drop(a).merge(drop(b), on=["member", "epoch", "split", "metric"])
    assert len(merged) == len(drop(a))
    assert (merged["value_x"] - merged["value_y"]).abs().max() <= 1e-5


def test_same_seed_same_records_with_workers_and_augmentation() -> None:
    a, _ = _sweep(resnet_task(workers=2))
    b, _ = _sweep(resnet_task(workers=2))
    assert no_time(a.records).equals(no_time(b.records))


def test_seeds_train_as_one_population_each() -> None:
    """Two seeds on a DataLoader: each seed's members equal a lone run of that seed."""
    task = regression_task()
    result, _ = _sweep(task, seeds=[0, 1], epochs=1)
    assert result.members["seed"].tolist() == [0, 1, 0, 1]
    lone = lrlab.sweep(task, lrs=LRS, seed=1, epochs=1)
    mine = result.records[result.records["member"].isin([1, 3])]
    theirs = lone.records.assign(member=lone.records["member"].map({0: 1, 1: 3}))
    both = mine.merge(theirs, on=["member", "epoch", "split", "metric"])
    both = both[both["metric"] != "time"]
    assert len(both) and (both["value_x"] - both["value_y"]).abs().max() <= 1e-6


def test_user_metrics_are_recorded_and_can_rank() -> None:
    def mae(outputs, targets):
        return (outputs - targets).abs().mean(-1)

    task = regression_task().replace(metrics={"mae": mae}, monitor="mae")
    result, _ = _sweep(task)
    assert "mae" in set(result.records.query("split == 'val'")["metric"])
    assert result.monitor == "mae" and not result.higher_is_better
    assert result.best()["label"] == result.summary().sort_values("best_val_mae")["label"].iloc[0]


@pytest.mark.parametrize("make", [resnet_task, transformer_task, gru_task, regression_task])
def test_a_grid_search_runs_on_every_kind(make) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="lrlab: GRUNet cannot be vectorised")
        picked = grid(make(), [0.3, 0.03], epochs=1)
    assert picked.lr in (0.3, 0.03) and picked.compute == 2


def test_every_search_runs_on_a_loader_task() -> None:
    """auto, coarse to fine, halving, the range test over seeds and the learning curve on a
    DataLoader task (fastest: classification only, on the CNN)."""
    from lrlab.report import learning_curve
    from lrlab.search import coarse_to_fine, fastest, halving, range_test

    images, table = resnet_task(workers=0), regression_task()
    assert auto(images, epochs=2, candidates=2, seeds=1).lr > 0
    assert coarse_to_fine(table, lo=1e-3, hi=1e-1, fine=2, epochs=1).lr > 0
    assert halving(table, epochs=2).lr > 0
    test = range_test(table, seeds=2, steps=12)
    assert len(test.runs) == 2 and len(test.lrs) >= 2
    assert fastest(images, lrs=[0.5, 0.1], max_epochs=2).lr > 0
    curve = learning_curve(table, sizes=[64, 128], lrs=[0.1], epochs=1, seeds=[0, 1])
    assert curve.sizes == (64, 128) and curve.runs[0].members["seed"].tolist() == [0, 1]


def test_memory_chunks_and_limits() -> None:
    task = regression_task()
    config = validated(lrs=[0.1])
    estimate = estimate_memory(task, config, config.members())
    limit = estimate.total(1) + estimate.per_member // 2  # room for one member, not two
    with pytest.warns(UserWarning, match=r"^lrlab: 2 members need .* chunks of 1"):
        chunked = lrlab.sweep(task, lrs=LRS, epochs=1, memory_limit=limit)
    whole = lrlab.sweep(task, lrs=LRS, epochs=1)
    # other GEMM sizes: the last bits differ
    a, b = no_time(chunked.records)["value"], no_time(whole.records)["value"]
    assert ((a - b).abs() <= 1e-6 * (1 + b.abs())).all()
    # sizes in the unit they fill (was "one member needs about 0.00 GiB but 0.00 GiB ...")
    with pytest.raises(LrlabError, match=r"^one member needs about [\d.]+ KiB but 1000 B may be "
                       r"used; .*, or give memory_limit=[\d.]+KiB or more$"):
        lrlab.sweep(task, lrs=LRS, epochs=1, memory_limit=1000)
    # named as sweep takes it (was: "members per task ...; give --members-per-task", a flag)
    with pytest.raises(LrlabError, match=r"^members_per_chunk must be a whole number of at "
                                         r"least 1, got 0$"):
        lrlab.sweep(task, lrs=LRS, epochs=1, members_per_chunk=0)


def _bad_tasks() -> dict:
    """Name -> (a function building the task, words the one-line error must hold)."""
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 3  # every batch holds class 2: the probe reads the first alone
    loader = DataLoader(TensorDataset(x, y), batch_size=8)

    def classify(**changes) -> Task:
        task = Task.from_loaders(lambda: nn.Linear(4, 3), loader, loader,
                                 loss=nn.CrossEntropyLoss())
        return task.replace(**changes)

    def reg(**changes) -> Task:
        return regression_task().replace(**changes)

    def wrong_shape() -> Task:
        return Task.from_loaders(lambda: nn.Linear(4, 3), loader, loader,
                                 loss=lambda out, t: out.sum(0))  # (C,), not per sample

    def broadcast(split: bool) -> Task:  # outputs (B, 1), targets (B,): MSE of a (B, B) table
        if split:
            part = Split(x, y.float())
            return Task(name="reg", train=part, val=part, model=lambda: nn.Linear(4, 1),
                        num_classes=None, monitor="loss", loss=member_loss(nn.MSELoss()))
        data = DataLoader(TensorDataset(x, y.float()), batch_size=8)
        return Task.from_loaders(lambda: nn.Linear(4, 1), data, data, loss=nn.MSELoss())

    return {
        "outputs (B, 1) broadcast against targets (B,)": (lambda: broadcast(False),
                                                           "broadcast the model's outputs (8, 1)"),
        "the same with tensors": (lambda: broadcast(True), "1) against targets ("),
        # losses that broadcast without torch's warning trained every rate on the (B, B)
        # table: a Poisson regression's counts (B,), a hand-written L1 on targets (B, 1)
        "PoissonNLLLoss on outputs (B, 1) and counts (B,)": (
            lambda: Task.from_loaders(lambda: nn.Linear(4, 1), *[DataLoader(
                TensorDataset(x, y.float()), batch_size=8)] * 2, loss=nn.PoissonNLLLoss()),
            "the loss broadcast the model's outputs (8, 1) against targets (8,)"),
        "an own loss on outputs (B,) and targets (B, 1)": (
            lambda: Task.from_loaders(lambda: nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)),
                                      *[DataLoader(TensorDataset(x, y.float()[:, None]),
                                                   batch_size=8)] * 2,
                                      loss=lambda out, t: (out - t).abs().mean()),
            "the loss broadcast the model's outputs (8,) against targets (8, 1)"),
        # triplets (anchor, positive, negative) to a plain loss: the message named torch's
        # TypeError and the signature, not the fix
        "a batch of triplets to a plain loss": (
            lambda: Task.from_loaders(lambda: nn.Linear(4, 2), *[DataLoader(
                TensorDataset(x, x, x), batch_size=8)] * 2, loss=nn.TripletMarginLoss()),
            ("(2 inputs here): for batches of another shape (pairs, triplets) give "
             "loss=lrlab.search.model_loss(fn)")),
        "wrong input size": (lambda: reg(model=lambda: nn.Linear(7, 1)),
                             "cannot take the first batch"),
        "empty loader": (lambda: reg(train=DataLoader(TensorDataset(x[:0], y[:0]))), "empty"),
        "loader yielding nothing": (lambda: reg(train=DataLoader(TensorDataset(x[:4], y[:4]),
                                                                 batch_size=8,
                                                                 drop_last=True)),
                                    "yields no batches"),
        "loss of the wrong shape": (wrong_shape, "mean"),
        "non-finite loss": (lambda: classify(model=_Nan), "not finite"),
        # TensorDataset(x, y.unsqueeze(1)): torch's "0D or 1D target tensor expected" alone
        "class labels (B, 1)": (
            lambda: Task.from_loaders(lambda: nn.Linear(4, 3), *[DataLoader(
                TensorDataset(x, y.unsqueeze(1)), batch_size=8)] * 2, loss=nn.CrossEntropyLoss()),
            "class labels with an extra axis of 1: give them as (8,) (y.squeeze(-1))"),
        # a language model's (B, T, V) logits to nn.CrossEntropyLoss (classes on axis 1):
        # torch's "Expected target size [8, 5], got [8, 3]" alone named no fix
        "token logits (B, T, C) to nn.CrossEntropyLoss": (
            lambda: Task.from_loaders(_TokenLogits, *[DataLoader(TensorDataset(
                x, y.view(-1, 1).expand(-1, 3).contiguous()), batch_size=8)] * 2,
                loss=nn.CrossEntropyLoss()),
            ("the outputs hold the class scores last (8, 3, 5) for targets (8, 3) (a language "
             "model's tokens); nn.CrossEntropyLoss takes them on axis 1: give loss=lambda out, "
             "y: F.cross_entropy(out.movedim(-1, 1), y)")),
        # token sequences of different lengths, no padding collate: torch's "stack expects
        # each tensor to be equal size" was reported as "a bug in lrlab"
        "examples of different lengths": (
            lambda: Task.from_loaders(lambda: nn.Linear(4, 3), *[DataLoader(_Unpadded(), 4)] * 2,
                                      loss=nn.CrossEntropyLoss()),
            ("the training data failed to load a batch (RuntimeError: stack expects each tensor "
             "to be equal size, but got [2] at entry 0 and [3] at entry 1); the error is in its "
             "Dataset, collate function or workers: its examples differ in size (variable-length "
             "sequences), which the default collate function cannot stack: give the DataLoader "
             "a collate_fn that pads them")),
        # a forecaster's (B, H, 1) against targets (B, H) under MSE: the message said the
        # targets looked like class labels and to give them as integers
        "outputs (B, H, 1) against targets (B, H)": (
            lambda: Task.from_loaders(lambda: nn.Sequential(nn.Linear(4, 3), nn.Unflatten(1, (3, 1))),
                                      *[DataLoader(TensorDataset(x, x[:, :3]), batch_size=8)] * 2,
                                      loss=nn.MSELoss()),
            ("the outputs (8, 3, 1) have an extra axis of 1 against targets (8, 3): squeeze it "
             "in forward (out.squeeze(-1)), or give the targets that axis (y.unsqueeze(-1))")),
        "labels out of range": (lambda: classify(model=lambda: nn.Linear(4, 2)),
                                "labels go up to 2"),
        "metric raises": (lambda: classify(metrics={"bad": lambda o, t: 1 / 0}),
                          "metric 'bad' failed"),
        "no trainable parameters": (lambda: classify(model=_Frozen), "no trainable parameters"),
        "bad monitor": (lambda: classify(monitor="f1"), "monitor 'f1'"),
        "a model returning a dict to a loss": (lambda: reg(model=_DictOut), "not a tensor"),
        "a model returning (outputs, extra) to a loss": (
            lambda: reg(model=_PairOut), "return the outputs alone from forward"),
        "a model returning .logits to a loss": (
            lambda: reg(model=_LogitsOut), "it holds logits: give loss=None"),
        # no loss field: loss=None cannot help (it was suggested)
        "a model returning logits alone in a dict to a loss": (
            lambda: reg(model=_LogitsOnly),
            ("it holds logits but no loss: return the logits alone from forward, or give "
             "loss=lrlab.search.model_loss")),
        # a VAE's (reconstruction, mean, log-variance) and a dict of heads, each to a loss of
        # all of them: loss=None (all the message said) cannot help either
        "a model returning (outputs, extra) to a loss of both": (
            lambda: reg(model=_PairOut), ("for a loss of several outputs, give "
                                          "loss=lrlab.search.model_loss(fn) with fn(model, batch)")),
        "a model returning a dict of heads to a loss of them": (
            lambda: reg(model=_DictOut), ("for a loss of several outputs give "
                                          "loss=lrlab.search.model_loss(fn)")),
        # a loss field and no logits (its own loss): loss=None is the fix, not model_loss
        "a model returning its own loss in a dict to a loss": (
            lambda: reg(model=_OwnLossOut), ("not a tensor for the task's loss; for a model "
                                             "that returns its own loss give loss=None")),
        # torch's ignore_index=255 (VOC's border): lrlab scores all but -100, so 255 read
        # as a class the model lacks ("labels must be 0..2" said nothing of the loss)
        "a per-pixel loss ignoring 255": (
            lambda: _ignores(255), ("labels hold 255, the loss's ignore_index, but lrlab leaves "
                                    "out of its scores only -100 (torch's default "
                                    "ignore_index): relabel them in the data (y[y == 255] = "
                                    "-100)")),
        # padding as class 0 (a tokenizer's pad id): accuracy and chance would count it
        "a per-pixel loss ignoring class 0": (lambda: _ignores(0), "(y[y == 0] = -100)"),
        "builder raises": (lambda: reg(model=lambda: 1 / 0), "building the model failed"),
        "a built model for its builder": (lambda: reg(model=nn.Linear(5, 1)),
                                          "model is a built Linear"),
        "a loss class for a loss": (lambda: Task.from_loaders(lambda: nn.Linear(4, 3), loader,
                                                              loader, loss=nn.CrossEntropyLoss),
                                    "give an instance: loss=CrossEntropyLoss()"),
        "own-loss model without a loss": (lambda: reg(loss=None), "no loss"),
        "metric name taken": (lambda: reg(metrics={"loss": lambda o, t: o}), "lrlab's own"),
    }


def _pixels(ignored: int) -> tuple[Tensor, Tensor]:
    """Images (8, 1, 4, 4) and per-pixel labels of 3 classes, the border ``ignored``."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 1, 4, 4, generator=g), torch.randint(0, 3, (8, 4, 4), generator=g)
    y[:, 0] = ignored
    return x, y


def _ignores(ignored: int) -> Task:
    data = DataLoader(TensorDataset(*_pixels(ignored)), batch_size=4)
    return Task.from_loaders(lambda: nn.Conv2d(1, 3, 1), data, data,
                             loss=nn.CrossEntropyLoss(ignore_index=ignored))


def test_per_pixel_labels_relabelled_as_the_ignore_index_error_says_train() -> None:
    x, y = _pixels(255)
    y[y == 255] = -100  # the fix the error names
    data = DataLoader(TensorDataset(x, y), batch_size=4)
    task = Task.from_loaders(lambda: nn.Conv2d(1, 3, 1), data, data,
                             loss=nn.CrossEntropyLoss())
    result = lrlab.sweep(task, lrs=[0.1], epochs=1)
    scored = y[y != -100]
    chance = (scored == scored.mode().values).float().mean()  # the border is scored nowhere
    assert result.chance == pytest.approx(float(chance))


class _Nan(nn.Linear):
    def __init__(self) -> None:
        super().__init__(4, 3)

    def forward(self, x):
        return super().forward(x) * float("nan")


class _Frozen(nn.Linear):
    def __init__(self) -> None:
        super().__init__(4, 3)
        self.requires_grad_(False)


class _Unpadded(torch.utils.data.Dataset):
    """Token sequences of lengths 2, 3, 4, ... with no collate function to pad them."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        return torch.zeros(2 + i, dtype=torch.long), torch.tensor(i % 3)


class _TokenLogits(nn.Linear):
    """A language model's layout: logits (B, T=3, C=5), classes last."""

    def __init__(self) -> None:
        super().__init__(4, 15)

    def forward(self, x):
        return super().forward(x).view(-1, 3, 5)


class _PairOut(nn.Linear):
    def __init__(self) -> None:
        super().__init__(5, 1)

    def forward(self, x):
        y = super().forward(x)
        return y, y.detach()


class _LogitsOut(nn.Linear):  # a Hugging Face ModelOutput without a loss (no labels given)
    def __init__(self) -> None:
        super().__init__(5, 1)

    def forward(self, x):
        return {"loss": None, "logits": super().forward(x)}


class _LogitsOnly(nn.Linear):  # a dict of logits and no loss field at all
    def __init__(self) -> None:
        super().__init__(5, 1)

    def forward(self, x):
        return {"logits": super().forward(x)}


class _OwnLossOut(nn.Linear):  # its own loss and other outputs, no logits
    def __init__(self) -> None:
        super().__init__(5, 1)

    def forward(self, x):
        y = super().forward(x)
        return {"loss": y.square().mean(), "y": y}


class _DictOut(nn.Linear):
    def __init__(self) -> None:
        super().__init__(5, 1)

    def forward(self, x):
        return {"y": super().forward(x)}


@pytest.mark.parametrize("case", sorted(_bad_tasks()))
def test_bad_input_is_one_line(case: str) -> None:
    """Each is refused before training, with one line (some when the task is built)."""
    make, words = _bad_tasks()[case]
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(make(), lrs=[0.1], epochs=1)
    one_line(err, words)


@pytest.mark.parametrize("case", sorted(_bad_tasks()))
def test_the_range_test_refuses_bad_input_as_a_sweep_does(case: str) -> None:
    """``range_test`` (``lrlab find``) checks a task's first batch as a sweep does: the same
    one line, never torch's own error under 'a bug in lrlab' (before: labels beyond the
    model's classes raised torch's IndexError from inside the loss)."""
    from lrlab.search import range_test

    make, words = _bad_tasks()[case]
    with pytest.raises(LrlabError) as err:
        range_test(make(), steps=5, validate=False)
    one_line(err, words)


def test_a_loss_that_lines_up_the_shapes_itself_trains() -> None:
    """Outputs (B, 1) and targets (B,) are refused only where the loss broadcast them: one
    that squeezes the outputs itself trains, as its own loop does, and warns of nothing."""
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    y = (torch.arange(32) % 3).float()

    def run(targets: Tensor, loss) -> lrlab.SweepResult:
        data = DataLoader(TensorDataset(x, targets), batch_size=8)
        task = Task.from_loaders(lambda: nn.Linear(4, 1), data, data, loss=loss)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return lrlab.sweep(task, lrs=[0.05, 0.2], epochs=2)

    squeezed = run(y, lambda out, t: nn.functional.poisson_nll_loss(out[:, 0], t))
    aligned = run(y[:, None], nn.PoissonNLLLoss())  # the same loss on one shape
    losses = [r.records.query("metric == 'loss'") for r in (squeezed, aligned)]
    assert len(losses[0]) == len(losses[1]) == 8  # 2 rates x 2 epochs x train, val
    assert losses[0]["value"].to_numpy() == pytest.approx(losses[1]["value"].to_numpy(),
                                                          rel=1e-6)



def _pinball(out: Tensor, t: Tensor, q: float = 0.5) -> Tensor:
    """The pinball loss of quantile outputs (B, Q) against targets (B,): here one quantile."""
    d = t[:, None] - out
    return torch.maximum(q * d, (q - 1) * d).mean()


@pytest.mark.parametrize("case", ["mse on targets[:, None]", "the same with tensors",
                                  "one quantile's pinball"])
def test_a_loss_that_gives_the_targets_the_axis_itself_trains(case: str) -> None:
    """Outputs (B, 1) against targets (B,) given their axis of 1 inside the loss pair output
    i with target i: such a loss trains, as it did before the check for silent broadcasting
    (which called it on the outputs squeezed to (B,), made it broadcast itself, and refused
    it)."""
    x = torch.randn(48, 4, generator=torch.Generator().manual_seed(0))
    y = 2 * x[:, 0] + 0.1
    loss = {"mse on targets[:, None]": lambda out, t: nn.functional.mse_loss(out, t[:, None]),
            "the same with tensors": lambda out, t: ((out - t[..., None]) ** 2).mean(-1),
            "one quantile's pinball": _pinball}[case]
    if case == "the same with tensors":
        task = Task(name="own", train=Split(x[:32], y[:32]), val=Split(x[32:], y[32:]),
                    model=lambda: nn.Linear(4, 1), loss=loss, batch_size=8, epochs=2)
    else:
        data = DataLoader(TensorDataset(x, y), batch_size=8)
        task = Task.from_loaders(lambda: nn.Linear(4, 1), data, data, loss=loss, epochs=2)
    result = lrlab.sweep(task, lrs=[0.05])
    assert result.monitor == "loss" and math.isfinite(result.summary()["final_val_loss"][0])


def test_a_loss_the_user_wrapped_in_member_loss_trains_as_the_loss_itself() -> None:
    """``Task.from_loaders`` wraps its loss per member; one the user wrapped already (as the
    README shows for ``Task(...)``) is not run per member twice (it was, and vmap split the
    batch: 'size of tensor a (64) must match ...' for ``F.mse_loss(o, t.unsqueeze(-1))``)."""
    x = torch.randn(48, 4, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(x, 2 * x[:, 0] + 0.1), batch_size=8)

    def mse(out: Tensor, t: Tensor) -> Tensor:
        return nn.functional.mse_loss(out, t.unsqueeze(-1))

    runs = [lrlab.sweep(Task.from_loaders(lambda: nn.Linear(4, 1), data, data, loss=loss,
                                          epochs=2, name="own"), lrs=[0.05])
            for loss in (mse, member_loss(mse))]
    assert member_loss(member_loss(mse)) == member_loss(mse)
    assert no_time(runs[1].records).equals(no_time(runs[0].records))


class _Counted(TensorDataset):
    """A TensorDataset that counts the examples it gave."""

    given = 0

    def __getitem__(self, i: int):
        type(self).given += 1
        return super().__getitem__(i)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_validation_set_that_cannot_load_is_refused_before_training(workers) -> None:
    """Its loader's error is one line naming the validation data, before any epoch trains:
    the training data gave the probe's first batch, not an epoch (before: torch's error
    after the first training epoch, as "a bug in lrlab"). In a worker, the worker's own
    error, named once (not torch's 'Caught ... in DataLoader worker process 0')."""
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    _Counted.given = 0
    train = DataLoader(_Counted(x, torch.arange(16) % 3), batch_size=4)
    task = Task.from_loaders(lambda: nn.Linear(4, 3), train,
                             DataLoader(_Unpadded(), 4, num_workers=workers),
                             loss=nn.CrossEntropyLoss())
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task, lrs=[0.1], epochs=1)
    said = one_line(err, "the validation data failed to load a batch (RuntimeError: stack "
                    "expects each tensor to be equal size", "collate_fn that pads")
    assert "Caught" not in said and _Counted.given < len(x)


@pytest.mark.parametrize("search", [False, True])
def test_a_validation_batch_the_model_cannot_take_is_refused_before_training(search) -> None:
    """Validation features of another width than the training data's, or labels outside
    the classes, are one line naming the validation data, before anything trains; before,
    the first evaluation raised torch's RuntimeError ('Expected size for first two
    dimensions of batch2 tensor ...') after an epoch, a traceback from lrlab.sweep."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 20, generator=g), torch.arange(64) % 2
    train = DataLoader(TensorDataset(x, y), batch_size=16)
    wide = DataLoader(TensorDataset(torch.randn(32, 7, generator=g), y[:32]), batch_size=16)
    labels = DataLoader(TensorDataset(x[:32], y[:32] * 3), batch_size=16)

    def run(val):
        task = Task.from_loaders(lambda: nn.Sequential(nn.Linear(20, 8), nn.ReLU(),
                                                       nn.Linear(8, 2)),
                                 train, val, loss=nn.CrossEntropyLoss(), epochs=1)
        with pytest.raises(LrlabError) as err:
            auto(task) if search else lrlab.sweep(task, lrs=[0.1])
        return str(err.value)

    said = run(wide)
    assert said.startswith("task 'task': the validation data: the model cannot take the first "
                           "batch (RuntimeError: mat1 and mat2 shapes cannot be multiplied "
                           "(16x7 and 20x8)); the batch is list((16, 7) float32, (16,) int64)")
    assert "\n" not in said
    assert run(labels) == ("task 'task': the validation data: labels go up to 3 but the model "
                           "gives 2 class scores; labels must be 0..1")


def test_a_split_task_still_takes_tensors_only_as_splits() -> None:
    with pytest.raises(LrlabError, match="give a lrlab.Split"):
        Task(name="x", train=[1, 2], val=Split(torch.zeros(2, 1), torch.zeros(2)),
             model=lambda: nn.Linear(1, 1))


def test_resume_continues_a_loader_task_bit_for_bit(tmp_path) -> None:
    """A checkpoint after epoch 1 of a map-style dataset with augmentation (drawn from the
    run's random state, no workers): resuming gives the records of an unbroken run."""
    from lrlab.store import Store, resume_study, run_study

    task = resnet_task(workers=0).replace(epochs=3)
    config = validated(lrs=LRS)
    whole = lrlab.fit(task, config.members(), config)
    saved = []
    lrlab.fit(task, config.members(), config, checkpoint_every=1, on_checkpoint=saved.append)
    resumed = lrlab.fit(task, config.members(), config, resume=saved[0])
    assert saved[0].epoch == 1 and no_time(resumed.records).equals(no_time(whole.records))
    def stop(report) -> None:
        if report.epoch == 2:
            raise KeyboardInterrupt

    with Store(tmp_path / "lrlab.db") as store:  # and through a study, stopped in epoch 2
        with pytest.raises(KeyboardInterrupt):
            run_study(store, task, config, name="cut", checkpoint_every=1, callbacks=[stop])
        again = resume_study(store, "cut", task)
    assert no_time(again.records).equals(no_time(whole.records))


def test_a_hugging_face_model_trains_as_a_population() -> None:
    """BertForSequenceClassification from a tiny BertConfig (no weights downloaded): dict
    batches, its own loss; member k equals a plain loop."""
    transformers = pytest.importorskip("transformers", reason="the transformers extra")
    from data_models import Texts

    def bert():
        config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, intermediate_size=32,
                                         max_position_embeddings=16, num_labels=2,
                                         hidden_dropout_prob=0.0,
                                         attention_probs_dropout_prob=0.0)
        return transformers.BertForSequenceClassification(config)

    task = Task.from_loaders(bert, DataLoader(Texts(32, 0), batch_size=16, shuffle=True),
                             DataLoader(Texts(16, 1), batch_size=16), loss=None, name="bert",
                             epochs=1)
    result, said = _sweep(task)
    assert result.monitor == "accuracy"
    assert result.population.path == "vmap" and not said  # a change in coverage shows here
    _assert_members_match_plain_runs(task, result, atol=5e-5)


class _FrozenNorm(nn.Module):
    """Fine-tuning style: a BatchNorm with statistics of its own, kept in evaluation mode by
    ``train()`` (as a loop calling ``model.train()`` each epoch gets it), its affine frozen."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.norm, self.head = nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3)
        self.norm.running_mean.uniform_(-1, 1)
        self.norm.running_var.uniform_(0.5, 2)
        self.norm.requires_grad_(False)

    def train(self, mode: bool = True) -> _FrozenNorm:
        super().train(mode)
        self.norm.eval()
        return self

    def forward(self, x):
        return self.head(torch.tanh(self.norm(self.body(x))))


def test_a_model_whose_train_freezes_batchnorm_trains_as_its_own_loop_does() -> None:
    """The first epoch ran in the mode the builder left (BatchNorm training: batch
    statistics, running ones updated) until an evaluation switched back through train()."""
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g))
    task = Task.from_loaders(_FrozenNorm, DataLoader(data, batch_size=16, shuffle=True),
                             DataLoader(data, batch_size=64), loss=nn.CrossEntropyLoss(),
                             epochs=2)
    result, _ = _sweep(task)
    _assert_members_match_plain_runs(task, result)  # running statistics included


def test_a_model_built_in_evaluation_mode_trains_in_training_mode_as_its_own_loop() -> None:
    """A builder ending in .eval() (as from_pretrained returns a model): its loop calls
    model.train(), so dropout is on while it trains (before, every member trained with it off)."""
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g))

    def built_eval() -> nn.Module:
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).eval()

    task = Task.from_loaders(built_eval, DataLoader(data, batch_size=16, shuffle=True),
                             DataLoader(data, batch_size=64), loss=nn.CrossEntropyLoss(),
                             epochs=2)
    result, _ = _sweep(task)
    _assert_members_match_plain_runs(task, result)


def test_an_iterable_dataset_without_a_length() -> None:
    """Epochs are passes; a subset is its first examples."""
    task = Task.from_loaders(lambda: nn.Linear(5, 1), Stream(96, 0), Stream(32, 1),
                             loss=nn.MSELoss(), batch_size=16, epochs=2)
    result = lrlab.sweep(task, lrs=[0.1, 0.01])
    assert result.steps_per_epoch == 6 and result.monitor == "loss"
    assert result.curve("loss", "train").shape == (2, 2)
    small = task.subset(40)
    assert lrlab.sweep(small, lrs=[0.1], epochs=1, record_steps=True).steps["step"].max() == 3
    with pytest.raises(LrlabError) as err:
        task.subset(0.5)
    one_line(err, "number of examples")


def test_a_search_counts_a_stream_without_a_length() -> None:
    """A search on a streaming loader (an IterableDataset without __len__) counts its
    examples in one pass, the caller's random state left as it was, where it refused the
    data before ('give it __len__'): auto races the stream's first examples, under a
    schedule too (its steps per epoch from the count), and grid trains all of them; so
    does a sweep under a schedule."""
    from lrlab.data import counted

    stream = DataLoader(Stream(96, 0), batch_size=16)
    before = torch.get_rng_state()
    assert counted(stream, batch_size=16, seed=0).count == 96
    assert torch.equal(torch.get_rng_state(), before)
    task = Task.from_loaders(lambda: nn.Linear(5, 1), stream, Stream(32, 1),
                             loss=nn.MSELoss(), epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for schedule in (None, "cosine"):
            assert math.isfinite(auto(task, schedule=schedule).lr)
        searched = grid(task, lrs=[0.1, 0.01])
    assert searched.evidence[-1].steps_per_epoch == 6 and searched.compute == 4
    # a sweep under a schedule (it refused: 'a schedule needs the steps per epoch, ... give
    # it __len__'): the stream's steps per epoch from one pass, as a loader with a length
    sized = Task.from_loaders(lambda: nn.Linear(5, 1),
                              DataLoader(TensorDataset(Stream(96, 0).x, Stream(96, 0).y),
                                         batch_size=16), Stream(32, 1), loss=nn.MSELoss(),
                              epochs=2)
    runs = [lrlab.sweep(t, lrs=[0.1, 0.01], schedules=["cosine"]) for t in (task, sized)]
    assert runs[0].steps_per_epoch == 6
    assert no_time(runs[0].records).equals(no_time(runs[1].records))


def test_a_loader_built_from_a_batch_sampler() -> None:
    """accelerate and the Hugging Face Trainer build loaders from a plain BatchSampler (their
    batch_size is None): lrlab reads the batch size there, shuffles in its seeded order, and
    takes subsets of them (a search's race)."""
    from data_models import Texts
    from torch.utils.data import BatchSampler, RandomSampler

    data = Texts(64, 0)
    loader = DataLoader(data, batch_sampler=BatchSampler(RandomSampler(data), 16, False))
    task = Task.from_loaders(transformer_task().model, loader,
                             DataLoader(Texts(32, 1), batch_size=16), loss=None, epochs=1)
    assert task.batch_size == 16
    assert lrlab.sweep(task, lrs=[0.1], record_steps=True).steps["step"].max() == 4
    half = task.subset(32)
    assert lrlab.data.steps_per_epoch(half.train, 16) == 2
    assert lrlab.sweep(half, lrs=[0.1]).curve("loss", "train").shape == (1, 1)


def test_integer_token_inputs_stay_integers_in_a_tensor_task() -> None:
    """A Split of token ids feeds an Embedding as integers (only float inputs take the
    training dtype), and member k equals a plain loop."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 20, (96, 6), generator=g)
    y = (ids[:, 0] >= 10).long()

    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = nn.Embedding(20, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.embed(x).mean(1))

    task = Task(name="tokens", train=Split(ids[:64], y[:64]), val=Split(ids[64:], y[64:]),
                model=Bag, num_classes=2, batch_size=16, epochs=2)
    result = lrlab.sweep(task, lrs=[0.5])
    plain = task.init_model(0)
    opt = torch.optim.SGD(plain.parameters(), lr=0.5)
    for epoch in (1, 2):
        order = lrlab.data.seeded_order(64, 0, epoch)
        for batch in order.split(16):
            loss = nn.functional.cross_entropy(plain(ids[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    got = result.population.member_module(0).state_dict()
    for name, want in plain.state_dict().items():
        assert (want - got[name]).abs().max() <= 2e-5, name


def test_a_search_counts_a_loaders_validation_examples_not_its_batches() -> None:
    """The noise of a validation score comes from the examples (a DataLoader's len() is its
    batches: one batch of 32 read as one example made every margin noise)."""
    from lrlab.search import baseline

    task = regression_task()
    assert baseline(task, 0).n == 32 and len(task.val) == 1


class _Rows(torch.utils.data.Dataset):
    """Rows whose labels only ``__getitem__`` gives (no ``.targets``)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 6, generator=g)
        self.y = (self.x[:, 0] + self.x[:, 1] > 0).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def test_auto_says_once_that_the_race_subset_is_drawn_at_random() -> None:
    """A loader whose labels cannot be read up front: auto's race subset is drawn plainly at
    random, and the warning saying so comes once (before, a race cut to fit the range
    tests' cost drew its subset twice, and warned twice)."""
    model = lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    task = Task.from_loaders(model, DataLoader(_Rows(600, 0), batch_size=32, shuffle=True),
                             DataLoader(_Rows(200, 1), batch_size=64),
                             loss=nn.CrossEntropyLoss(), epochs=10)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = auto(task, seed=0)
    said = [w for w in seen if "labels cannot be read" in str(w.message)]
    assert len(said) == 1
    assert "Task.from_loaders(..., labels=)" in str(said[0].message)  # how to stratify
    assert "rather than" in result.explanation  # the race was cut to fit: two shares drawn


def test_a_stream_loader_for_validation_with_its_own_batch_size() -> None:
    """A ``DataLoader`` over an ``IterableDataset`` validates at its own batch size: the
    evaluation re-batched it with the stream's sampler, which ``DataLoader`` refuses for an
    iterable dataset (before: "unexpected ValueError ... a bug in lrlab"). The records are
    those of the same streams given bare (the task's batch size throughout)."""
    from torch.utils.data import DataLoader

    def task(wrap: bool) -> Task:
        train, val = Stream(96, 0), Stream(32, 1)
        if wrap:
            train, val = DataLoader(train, batch_size=16), DataLoader(val, batch_size=64)
        return Task.from_loaders(lambda: nn.Linear(5, 1), train, val, loss=nn.MSELoss(),
                                 batch_size=16, epochs=2)

    got = lrlab.sweep(task(True), lrs=[0.1, 0.01])
    bare = lrlab.sweep(task(False), lrs=[0.1, 0.01])
    for split in ("train", "val"):
        assert got.curve("loss", split).equals(bare.curve("loss", split))


def test_float_class_labels_from_a_loader_are_named_as_such() -> None:
    """Class labels given as floats to ``nn.CrossEntropyLoss`` through a loader: the error
    says the targets look like labels but are floats, and how to fix it (before: torch's
    'gather(): Expected dtype int32/int64 for index' alone); given as integers, it trains."""
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    y = (x[:, 0] > 0).float()

    def task(labels: torch.Tensor) -> Task:
        data = DataLoader(TensorDataset(x, labels), batch_size=16)
        return Task.from_loaders(lambda: nn.Linear(5, 2), data, data,
                                 loss=nn.CrossEntropyLoss(), epochs=1)

    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task(y), lrs=[0.1])
    one_line(err, "float32: give them as integers (y.long())")
    assert lrlab.sweep(task(y.long()), lrs=[0.1]).monitor == "accuracy"


class _Buckets(torch.utils.data.Sampler):
    """Batches of examples of similar length, in a random order of batches: a text
    pipeline's batch sampler (it indexes the whole dataset)."""

    def __init__(self, lengths: list[int], size: int) -> None:
        self.lengths, self.size = lengths, size

    def __iter__(self):
        order = sorted(range(len(self.lengths)), key=lambda i: self.lengths[i])
        chunks = [order[i:i + self.size] for i in range(0, len(order), self.size)]
        for j in torch.randperm(len(chunks)).tolist():
            yield chunks[j]

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.size)


def _padded(items):
    x = torch.zeros(len(items), 6)
    for i, (row, _) in enumerate(items):
        x[i, :len(row)] = row
    return x, torch.tensor([y for _, y in items])


class _Ragged(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(n)
        self.rows = [torch.randn(int(torch.randint(2, 7, (1,), generator=g)), generator=g)
                     for _ in range(n)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.rows[i], int(self.rows[i][0] > 0)


def test_a_subset_of_a_loader_with_its_own_batch_sampler_trains() -> None:
    """A batch sampler that buckets by length cannot index a subset: auto's race subset was
    rebuilt with batch_size=None, so the collate function got single examples ('string
    indices must be integers', a bug in lrlab). The subset is read in shuffled batches of the
    loader's mean batch size (120 examples in 15 batches: 8), seeded like any shuffle."""
    data = _Ragged(120)
    loader = DataLoader(data, batch_sampler=_Buckets([len(r) for r in data.rows], 8),
                        collate_fn=_padded)
    task = Task.from_loaders(lambda: nn.Linear(6, 2), loader,
                             DataLoader(_Ragged(40), batch_size=20, collate_fn=_padded),
                             loss=nn.CrossEntropyLoss(), epochs=1, labels=[y for _, y in data])
    part = task.subset(48, seed=0)
    assert part.train.batch_size == 8 and part.train_size == 48
    runs = [lrlab.sweep(part, lrs=[0.1], seed=0) for _ in range(2)]
    assert no_time(runs[0].records).equals(no_time(runs[1].records))


def test_a_subset_of_a_weighted_sampler_loader_is_shuffled_not_read_in_order() -> None:
    """A WeightedRandomSampler indexes the whole dataset, so a subset cannot keep it; it
    was read in dataset order (a dataset sorted by class trained the race on one class
    at a time). Now in shuffled batches of the loader's size."""
    x = torch.randn(64, 3)
    y = torch.arange(64) // 32  # sorted by class
    sampler = torch.utils.data.WeightedRandomSampler(torch.ones(64), 64)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, sampler=sampler)
    part = Task.from_loaders(lambda: nn.Linear(3, 2), loader, loader,
                             loss=nn.CrossEntropyLoss()).subset(32, seed=0)
    assert part.train.batch_size == 16
    assert type(part.train.sampler) is torch.utils.data.RandomSampler


def test_a_model_with_lazy_layers_is_one_line_and_the_fix_it_names_trains() -> None:
    """nn.LazyLinear sizes its weights at the first call: sweep and find crashed 'Attempted
    to use an uninitialized parameter' (a bug in lrlab, exit 1); both are one line naming
    the fix, and calling the model once where it is built (the fix) trains."""
    x, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    data = DataLoader(TensorDataset(x, y), batch_size=16)

    def lazy() -> nn.Module:
        return nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(3))

    def built() -> nn.Module:
        model = lazy()
        model(x[:1])
        return model

    task = Task.from_loaders(lazy, data, data, loss=nn.CrossEntropyLoss(), epochs=1)
    with pytest.raises(LrlabError, match=r"LazyLinear sizes them at its first call") as err:
        lrlab.sweep(task, lrs=[0.1])
    one_line(err, "call the model once on an example batch")
    with pytest.raises(LrlabError, match=r"parameters not yet created"):
        lrlab.find_lr(lazy(), nn.CrossEntropyLoss(), data)
    runs = [lrlab.sweep(task.replace(model=built), lrs=[0.1, 0.01]) for _ in range(2)]
    assert no_time(runs[0].records).equals(no_time(runs[1].records))  # same weights each time


def _tiny_gpt2():
    transformers = pytest.importorskip("transformers", reason="the transformers extra")
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=20, n_embd=16, n_layer=1, n_head=2, n_positions=8))


class _Tokens(torch.utils.data.Dataset):
    """Token sequences as a causal LM's batches: the labels are the input ids themselves
    (the model shifts them one token inside its loss)."""

    def __init__(self, n: int, seed: int) -> None:
        self.ids = torch.randint(0, 20, (n, 8), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


@pytest.mark.parametrize("monitor", [None, "accuracy"])
def test_a_causal_lm_is_not_scored_against_its_unshifted_labels(monitor) -> None:
    """GPT2LMHeadModel's loss compares position t's logits with token t + 1, so its logits
    scored against the labels as given measure nothing it learns (a tiny GPT-2 trained well
    scored 0% there, a diverging one 13%, and auto ranked rates by that). lrlab checks the
    model's own loss against the logits' cross-entropy on the first batch: apart, the task
    is ranked by its loss (no accuracy recorded), and a monitor that needs the logits is one
    line saying so."""
    task = Task.from_loaders(_tiny_gpt2, DataLoader(_Tokens(32, 0), batch_size=16),
                             DataLoader(_Tokens(16, 1), batch_size=16), loss=None,
                             epochs=1, monitor=monitor)
    if monitor == "accuracy":
        with pytest.raises(LrlabError, match="shifts them.*monitor='loss'"):
            lrlab.sweep(task, lrs=[0.01])
        return
    result = lrlab.sweep(task, lrs=[0.01])
    assert result.monitor == "loss"
    assert "accuracy" not in set(result.records["metric"])


def _above_thresholds(logits: Tensor, y: Tensor) -> Tensor:
    """An ordinal model's loss (CORAL's): one binary cross-entropy per threshold k, 'grade
    above k', summed per row; ``logits`` (B, grades - 1), grades 0..grades - 1."""
    above = (y[:, None] > torch.arange(logits.shape[-1])).float()
    return nn.functional.binary_cross_entropy_with_logits(logits, above, reduction="none").sum(-1).mean()


def test_an_ordinal_model_with_a_threshold_a_grade_gap_trains_on_its_own_loss() -> None:
    """An ordinal model gives one logit per threshold, ``(B, grades - 1)``, against grades
    ``0..grades - 1`` under a loss of its own: lrlab took the logits for class scores and
    refused the top grade ("labels go up to 3 but the model gives 3 class scores"), though
    nothing indexes them. A loss of the user's own with labels past the scores' width now
    scores no classes (no accuracy; its monitor, or its loss, ranks); torch's cross-entropy
    still refuses them (the tests of "labels go up to" above)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = torch.bucketize(x[:, 0].contiguous(), torch.tensor([-0.7, 0.0, 0.7]))  # grades 0..3
    data = DataLoader(TensorDataset(x, y), batch_size=16)

    def grade_error(logits: Tensor, y: Tensor) -> Tensor:
        return ((logits > 0).sum(-1) - y).abs().float().mean()

    task = Task.from_loaders(lambda: nn.Linear(4, 3), data, data, loss=_above_thresholds,
                             epochs=2, metrics={"grade_mae": grade_error}, monitor="grade_mae")
    result = lrlab.sweep(task, lrs=[0.3, 0.03])
    assert result.monitor == "grade_mae" and not result.higher_is_better
    assert "accuracy" not in set(result.records["metric"])
    by_loss = Task.from_loaders(lambda: nn.Linear(4, 3), data, data, loss=_above_thresholds,
                                epochs=1)
    assert lrlab.sweep(by_loss, lrs=[0.3]).monitor == "loss"


@pytest.mark.parametrize("way", ["task", "find_lr"])
def test_labels_one_past_the_scores_under_an_own_cross_entropy_are_still_refused(way) -> None:
    """The commonest label mistake, labels 1..C, under a loss of the user's own that indexes
    the scores (a cross-entropy in a lambda): refused before training, in the usual line
    with the loss's own error (on CUDA that index would be a device-side assert, not an
    error). The ordinal model's rule above (labels past the scores under an own loss score
    no classes) had let it through to the loss: "its loss fails ... index 3 is out of
    bounds". The loss is tried on the CPU, on the rows past the scores."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = torch.randint(1, 4, (64,), generator=g)  # 1..3 for 3 classes
    data = DataLoader(TensorDataset(x, y), batch_size=16)

    def own(out: Tensor, y: Tensor) -> Tensor:
        return nn.functional.cross_entropy(out, y)

    said = r"^(task 'task': )?labels go up to 3 but the model gives 3 class scores \(the loss " \
           r"fails on them: \w+Error: .*\); labels must be 0\.\.2$"
    with pytest.raises(LrlabError, match=said):
        if way == "task":
            lrlab.sweep(Task.from_loaders(lambda: nn.Linear(4, 3), data, data, loss=own,
                                          epochs=1), lrs=[0.1])
        else:
            from lrlab.search import find_lr
            find_lr(nn.Linear(4, 3), own, data, steps=10)


class _NearUniformLM(nn.Module):
    """A causal LM in miniature whose untrained logits are near uniform (each token's
    embedding is its next-token logits, drawn at std 0.001), Hugging Face style: its own
    loss, the labels shifted one token inside."""

    def __init__(self) -> None:
        super().__init__()
        self.next = nn.Embedding(20, 20)
        nn.init.normal_(self.next.weight, std=0.001)

    def forward(self, input_ids: Tensor, labels: Tensor | None = None) -> dict:
        logits = self.next(input_ids)
        loss = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
        return {"loss": loss, "logits": logits}


def test_a_near_uniform_causal_lm_is_not_scored_against_its_labels_by_chance() -> None:
    """An untrained causal LM's logits are near uniform, so their cross-entropy against the
    labels as given sits within 1e-3 of its own (shifted) loss and passed the check above
    by chance: the task resolved to accuracy, and auto's race on a subset, whose first batch
    told them apart, stopped with "cannot score 'accuracy': give monitor='loss'" (benchmarks'
    user_shapes9 padlm, seed 1 of 0-5). The labels as given pass now only where the loss is
    no closer to the logits' cross-entropy one token on."""
    batch = next(iter(DataLoader(_Tokens(16, 0), batch_size=16)))
    torch.manual_seed(0)
    with torch.no_grad():
        out = _NearUniformLM()(**batch)
        as_given = nn.functional.cross_entropy(out["logits"].flatten(0, 1).double(),
                                               batch["labels"].flatten())
    assert math.isclose(float(as_given), float(out["loss"]), rel_tol=1e-3)  # how it passed
    task = Task.from_loaders(_NearUniformLM, DataLoader(_Tokens(32, 0), batch_size=16),
                             DataLoader(_Tokens(16, 1), batch_size=16), loss=None, epochs=1)
    result = lrlab.sweep(task, lrs=[0.01])
    assert result.monitor == "loss"
    assert "accuracy" not in set(result.records["metric"])
