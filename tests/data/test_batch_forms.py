"""Batch forms and data a new user brings, beyond ``(x, y)`` tensors: a collate function
returning a namedtuple, an iterable dataset handed to the range test bare, per-pixel class
scores in torch's ``(B, C, H, W)`` layout.

Each trains (or is read) exactly as the same data in the plain form does.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import no_time, one_line
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import lrlab
from lrlab import LrlabError
from lrlab.data import IGNORE_INDEX, correct, to_device
from lrlab.search import find_lr, range_test
from lrlab.tasks import Task

Pair = namedtuple("Pair", ["x", "y"])


def _data(n: int = 48, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


def _as_pairs(items) -> Pair:
    return Pair(torch.stack([x for x, _ in items]), torch.stack([y for _, y in items]))


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))


def test_to_device_keeps_a_namedtuple() -> None:
    batch = Pair(torch.zeros(2, 3), torch.ones(2))
    moved = to_device(batch, torch.device("cpu"), torch.float64)
    assert type(moved) is Pair and moved.x.dtype == torch.float64
    assert moved.y.dtype == torch.float64 and torch.equal(moved.y, batch.y.double())


def test_a_collate_function_returning_a_namedtuple_trains_like_tuples() -> None:
    def task(collate) -> Task:
        train = DataLoader(_data(), batch_size=16, shuffle=True, drop_last=True,
                           collate_fn=collate)
        val = DataLoader(_data(24, 1), batch_size=12, collate_fn=collate)
        return Task.from_loaders(_model, train, val, loss=nn.CrossEntropyLoss(), epochs=2)

    from torch.utils.data import default_collate

    pairs = lrlab.sweep(task(_as_pairs), lrs=[0.3, 0.03])
    plain = lrlab.sweep(task(default_collate), lrs=[0.3, 0.03])
    assert pairs.monitor == "accuracy"
    got, want = no_time(pairs.records), no_time(plain.records)
    assert got["value"].notna().all()
    np.testing.assert_array_equal(got["value"].to_numpy(), want["value"].to_numpy())


class _Stream(IterableDataset):
    """Examples one at a time, in a fixed order, with no length."""

    def __init__(self, n: int) -> None:
        self.data = _data(n)

    def __iter__(self):
        return iter(self.data)


def _stream_task(train, val) -> Task:
    return Task.from_loaders(_model, train, val, loss=nn.CrossEntropyLoss(), batch_size=16)


def test_the_range_test_batches_a_bare_iterable_dataset() -> None:
    """Examples, not batches, come out of an IterableDataset: the range test batches them
    as a DataLoader of the task's batch size would (a subset: its first whole batches)."""
    bare = range_test(_stream_task(_Stream(48), _Stream(16)), steps=12)
    loader = range_test(_stream_task(DataLoader(_Stream(48), batch_size=16),
                                     DataLoader(_Stream(16), batch_size=16)), steps=12)
    assert len(bare.losses) == 12
    np.testing.assert_array_equal(bare.losses, loader.losses)
    np.testing.assert_array_equal(bare.val_loss, loader.val_loss)
    first = range_test(_stream_task(_Stream(96), _Stream(16)).subset(40), steps=12)
    np.testing.assert_array_equal(first.losses, bare.losses)  # 40 -> 3 batches of 16


def _segmentation(h: int, w: int) -> Task:
    """Per-pixel classes: logits ``(B, 3, H, W)`` against labels ``(B, H, W)``."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 1, h, w, generator=g)
    y = torch.bucketize(x[:, 0], torch.tensor([-0.5, 0.5]))
    return Task.from_loaders(
        lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 3, 1)),
        DataLoader(TensorDataset(x[:24], y[:24]), batch_size=8),
        DataLoader(TensorDataset(x[24:], y[24:]), batch_size=8),
        loss=nn.CrossEntropyLoss(), epochs=2)


def _plain_pixel_accuracy(task: Task, lr: float) -> float:
    model = task.init_model(0).double()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(task.epochs):
        for x, y in task.train:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x.double()), y).backward()
            opt.step()
    with torch.no_grad():
        hits = [(model(x.double()).argmax(1) == y).double() for x, y in task.val]
    return float(torch.cat([h.flatten() for h in hits]).mean())


@pytest.mark.parametrize(("h", "w"), [(5, 6), (3, 3)])  # (3, 3): every axis 3 wide
def test_per_pixel_classes_on_axis_1_are_scored_per_pixel(h: int, w: int) -> None:
    """torch's layout for per-position classes, ``(B, C, H, W)``, makes a classifier whose
    accuracy is over pixels, as a plain loop scores it; with H = W = C it is not read as
    classes on the last axis."""
    task = _segmentation(h, w)
    result = lrlab.sweep(task, lrs=[0.5, 0.05], dtype="float64")
    assert result.monitor == "accuracy"
    final = result.curve("accuracy", "val").iloc[-1].to_numpy()
    want = [_plain_pixel_accuracy(task, lr) for lr in (0.5, 0.05)]
    np.testing.assert_allclose(final, want, atol=1e-12)


def test_the_searches_chance_level_reads_per_pixel_classes() -> None:
    """The untrained model's per-pixel accuracy, which every search compares rates with
    (it failed on the logits' shape, so auto on such a task stopped with an error), and the
    majority class counted per pixel too (the accuracy of always answering it), while the
    noise counts images."""
    from lrlab.search import baseline

    task = _segmentation(5, 6)
    model = task.init_model(2)
    with torch.no_grad():
        hits = [(model(x).argmax(1) == y).double().flatten() for x, y in task.val]
    base = baseline(task, 2)
    accuracy = float(torch.cat(hits).mean())
    assert base.untrained == pytest.approx(accuracy, abs=1e-7)
    pixels = torch.cat([y.flatten() for _, y in task.val])
    share = float(torch.bincount(pixels).max()) / len(pixels)
    assert base.chance == pytest.approx(max(accuracy, share), abs=1e-7)
    assert base.n == sum(len(y) for _, y in task.val)


def test_per_pixel_labels_outside_the_classes_are_one_line() -> None:
    task = _segmentation(5, 6)
    train = DataLoader(TensorDataset(torch.randn(8, 1, 5, 6), torch.full((8, 5, 6), 3)),
                       batch_size=8)
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task.replace(train=train), lrs=[0.1], epochs=1)
    one_line(err, "labels go up to 3", "0..2")


@pytest.mark.parametrize("part", ["training", "validation"])
def test_a_label_beyond_the_classes_after_the_first_batch_is_one_line(part: str) -> None:
    """The probe reads the first batch; a bad label in a later one stops the run with the
    same one line (the loss's IndexError read as a bug in lrlab before)."""
    x = torch.randn(48, 6, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(48, dtype=torch.long)
    bad = y.clone()
    bad[40] = 2  # batch 3 of 16: outside a two-class model's classes
    good, late = DataLoader(TensorDataset(x, y), 16), DataLoader(TensorDataset(x, bad), 16)
    train, val = (late, good) if part == "training" else (good, late)
    task = Task.from_loaders(_model, train, val, loss=nn.CrossEntropyLoss(), epochs=1)
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task, lrs=[0.1])
    one_line(err, f"labels go up to 2 in {part} batch 3", "0..1")


@dataclass
class _Batch:
    x: torch.Tensor
    y: torch.Tensor


def test_a_batch_lrlab_cannot_read_names_what_it_reads() -> None:
    """A collate function returning a dataclass: one line naming the forms lrlab reads (it
    said the batch had no targets, also to a model computing its own loss)."""
    def collate(items):
        return _Batch(*_as_pairs(items))

    for loss in (nn.CrossEntropyLoss(), None):
        task = Task.from_loaders(_model, DataLoader(_data(), 16, collate_fn=collate),
                                 DataLoader(_data(), 16, collate_fn=collate), loss=loss)
        with pytest.raises(LrlabError) as err:
            lrlab.sweep(task, lrs=[0.1], epochs=1)
        one_line(err, "a batch of type _Batch is not one lrlab reads", "collate function")


def test_correct_reads_classes_on_axis_1_or_last() -> None:
    """The range test's accuracy: per-position classes on axis 1 (torch's layout) or last
    (a token classifier's), each counted against the labels by hand."""
    g = torch.Generator().manual_seed(0)
    first, labels = torch.randn(4, 3, 5, generator=g), torch.randint(0, 3, (4, 5), generator=g)
    by_hand = sum(int(first[n, :, t].argmax() == labels[n, t]) for n in range(4)
                  for t in range(5))
    assert correct(first, labels) == (by_hand, 20)
    assert correct(first.transpose(1, 2), labels) == (by_hand, 20)  # (4, 5, 3): classes last
    assert correct(first, torch.zeros(4, 4, dtype=torch.long)) is None  # neither fits
    padded = labels.clone()
    padded[:, 3:] = IGNORE_INDEX  # the last two tokens of every sequence are padding
    kept = sum(int(first[n, :, t].argmax() == labels[n, t]) for n in range(4) for t in range(3))
    assert correct(first, padded) == (kept, 12)


def test_the_range_tests_accuracy_counts_tokens_not_sequences() -> None:
    """A token classifier's validation accuracy in the range test is a fraction of the
    scored tokens (padding skipped), by hand; it was hits over tokens divided by sequences
    (3.6 on a character language model)."""
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 7, (24, 6), generator=g)
    labels = torch.randint(0, 3, (24, 6), generator=g)
    labels[::2, 4:] = IGNORE_INDEX
    model = nn.Sequential(nn.Embedding(7, 3))  # (B, T, 3) logits, classes last
    loss = nn.CrossEntropyLoss()
    data = DataLoader(TensorDataset(tokens, labels), batch_size=8)
    result = find_lr(model, lambda out, y: loss(out.transpose(1, 2), y), data, steps=10,
                     val_data=data, eval_every=1, end=1e-6)
    with torch.no_grad():  # the rates are tiny: the weights hardly move, read them after
        pred = model(tokens).argmax(-1)
    scored = labels != IGNORE_INDEX
    by_hand = float(((pred == labels) & scored).sum() / scored.sum())
    assert 0 < result.val_accuracy[-1] <= 1
    assert result.val_accuracy[-1] == pytest.approx(by_hand, abs=0.02)


def test_the_range_test_casts_float64_inputs_to_the_models_dtype() -> None:
    """NumPy's float64 arrays meet a float32 model: the range test casts floating inputs
    as a sweep does (it failed on the first batch), the same numbers as float32 data."""
    x, y = _data().tensors
    single = DataLoader(TensorDataset(x, y), batch_size=16)
    double = DataLoader(TensorDataset(x.double(), y), batch_size=16)
    runs = [find_lr(_model_from(0), nn.CrossEntropyLoss(), data, steps=12, val_data=data)
            for data in (single, double)]
    np.testing.assert_array_equal(runs[0].losses, runs[1].losses)
    np.testing.assert_array_equal(runs[0].val_loss, runs[1].val_loss)


def _model_from(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _model()


class _TwoHeads(nn.Module):
    """Class scores and an auxiliary output, returned as a tuple."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Linear(4, 3)

    def forward(self, x):
        out = self.body(x)
        return out, out.pow(2).mean(-1)


def test_outputs_that_are_no_tensor_follow_one_policy() -> None:
    """A model returning a tuple: a loss of (outputs, targets) written for the tuple reads it
    in find_lr (it is the user's own code); one that takes a tensor (nn.CrossEntropyLoss) is
    one line naming model_loss, in find_lr (before: torch's TypeError) as in a task; and
    model_loss's (loss, outputs) pair, which a task trains on, runs find_lr and range_test too
    (before: 'the loss is a tuple'), as its loss alone does."""
    x = torch.randn(128, 4, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    ce = nn.CrossEntropyLoss()
    kw = {"steps": 25, "start": 1e-3, "end": 10.0, "batch_size": 16}
    with pytest.raises(LrlabError) as err:
        find_lr(_TwoHeads(), ce, (x, y), **kw)
    one_line(err, "the model returned tuple, not a tensor for loss_fn",
             "loss_fn=lrlab.search.model_loss(fn)")
    loaders = (DataLoader(TensorDataset(x, y), batch_size=16),
               DataLoader(TensorDataset(x, y), batch_size=64))
    with pytest.raises(LrlabError) as err:
        range_test(Task.from_loaders(_TwoHeads, *loaders, loss=ce, epochs=1), steps=20)
    one_line(err, "the model returned tuple, not a tensor for the task's loss",
             "loss=lrlab.search.model_loss(fn)")
    reads = find_lr(_TwoHeads(), lambda out, t: ce(out[0], t), (x, y), **kw)
    alone = find_lr(_TwoHeads(), lrlab.search.model_loss(lambda m, b: ce(m(b[0])[0], b[1])),
                    (x, y), **kw)
    pair = find_lr(_TwoHeads(), lrlab.search.model_loss(
        lambda m, b: (ce(m(b[0])[0], b[1]), m(b[0])[0])), (x, y), **kw)
    np.testing.assert_array_equal(pair.losses, alone.losses)
    np.testing.assert_array_equal(reads.losses, alone.losses)
    task = Task.from_loaders(_TwoHeads, *loaders, epochs=1, loss=lrlab.search.model_loss(
        lambda m, b: (ce(m(b[0])[0], b[1]), m(b[0])[0])))
    assert len(range_test(task, steps=20, validate=False).lrs) == 20
    with pytest.raises(LrlabError) as err:
        find_lr(_TwoHeads(), lrlab.search.model_loss(lambda m, b: (ce(m(b[0])[0], b[1]),) * 3),
                (x, y), **kw)
    one_line(err, "model_loss's function returned a tuple of 3", "(loss, outputs)")


class _Dict(_TwoHeads):
    """Class scores and an auxiliary output, returned as a dict."""

    def forward(self, x):
        out, aux = super().forward(x)
        return {"logits": out, "aux": aux}


class _NanoGPTLike(_TwoHeads):
    """``forward(x, targets=None) -> (logits, loss)``, the loss None without targets, as
    nanoGPT's model returns them."""

    def forward(self, x, targets=None):
        out = self.body(x)
        return out, (None if targets is None else nn.functional.cross_entropy(out, targets))


def test_model_loss_pairs_with_a_dict_of_outputs() -> None:
    """model_loss's fn returning (loss, the model's dict) is scored through the dict's logits,
    as an own-loss model's are: the same records as (loss, out["logits"]) (before: an
    AttributeError "'dict' object has no attribute 'dim'" from the first training step, a
    traceback); a dict without logits is one line before anything trains."""
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    loaders = (DataLoader(TensorDataset(x, y), batch_size=16),
               DataLoader(TensorDataset(x, y), batch_size=64))

    def whole(m, b):
        out = m(b[0])
        return nn.functional.cross_entropy(out["logits"], b[1]), out

    def logits(m, b):
        loss, out = whole(m, b)
        return loss, out["logits"]

    runs = [lrlab.sweep(Task.from_loaders(_Dict, *loaders, loss=lrlab.search.model_loss(fn),
                                          epochs=2), lrs=[0.1, 1.0]) for fn in (whole, logits)]
    assert runs[0].monitor == "accuracy"
    pd.testing.assert_frame_equal(no_time(runs[0].records), no_time(runs[1].records))

    def unscored(m, b):
        loss, out = whole(m, b)
        return loss, {"aux": out["aux"]}

    with pytest.raises(LrlabError) as err:
        lrlab.sweep(Task.from_loaders(_Dict, *loaders, loss=lrlab.search.model_loss(unscored),
                                      epochs=1), lrs=[0.1])
    one_line(err, "task '_Dict': model_loss's function returned (loss, dict)",
             "a dict or object holding 'logits'")


def _weighted(model, batch):
    """A weighted cross-entropy over (x, y, sample_weight) batches; the logits scored."""
    x, y, w = batch
    out = model(x)
    return (nn.functional.cross_entropy(out, y, reduction="none") * w).sum() / w.sum(), out


def test_sample_weights_last_say_their_outputs_go_unscored() -> None:
    """(x, y, sample_weight) batches (Keras's convention) under model_loss give the weights
    as the target, the batch's last element: the logits the function returns cannot be
    scored against them, which lrlab said nowhere (no accuracy, the rates ranked by the
    loss; monitor='accuracy' refused as 'not recorded', no why). It says so in one warning
    naming the fix, and the refusal says it too; the labels yielded last, (x, weight, y),
    are scored."""
    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(2))
    y, w = (x[:, 0] > 0).long(), torch.rand(64, generator=torch.Generator().manual_seed(3))

    def task(*tensors, **more) -> Task:
        return Task.from_loaders(_model, DataLoader(TensorDataset(*tensors), batch_size=16,
                                                    shuffle=True),
                                 DataLoader(TensorDataset(*tensors), batch_size=64), **more)

    with pytest.warns(UserWarning, match="lrlab: task '_model': the outputs model_loss's") as said:
        run = lrlab.sweep(task(x, y, w, loss=lrlab.search.model_loss(_weighted), epochs=1),
                          lrs=[0.1])
    assert run.monitor == "loss" and "yield them last, (x, sample_weight, y)" in \
        str(said[0].message)
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(task(x, y, w, loss=lrlab.search.model_loss(_weighted), epochs=1,
                         monitor="accuracy"), lrs=[0.1])
    one_line(err, "monitor 'accuracy' is not recorded", "(x, sample_weight, y)")

    def last(model, batch):
        xb, wb, yb = batch
        return _weighted(model, (xb, yb, wb))

    assert lrlab.sweep(task(x, w, y, loss=lrlab.search.model_loss(last), epochs=1),
                       lrs=[0.1]).monitor == "accuracy"


def test_an_own_loss_model_returning_a_tuple_names_model_loss() -> None:
    """loss=None on a model returning nanoGPT's (logits, loss): lrlab calls it on the
    inputs alone and reads .loss, so the line says so and names the model_loss that trains it
    (before: 'an own-loss model must return an object with .loss', no way forward); that
    model_loss trains, in a task and in find_lr."""
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    loaders = (DataLoader(TensorDataset(x, y), batch_size=16),
               DataLoader(TensorDataset(x, y), batch_size=64))
    with pytest.raises(LrlabError) as err:
        lrlab.sweep(Task.from_loaders(_NanoGPTLike, *loaders, loss=None, epochs=1), lrs=[0.1])
    one_line(err, "the model returned a tuple of 2", "model(x)",
             "lrlab.search.model_loss(lambda model, batch: model(*batch)[::-1])")
    with pytest.raises(LrlabError) as err:
        find_lr(_NanoGPTLike(), None, loaders[0], steps=10)
    one_line(err, "the model returned a tuple of 2", "model(*batch)[::-1]")
    fix = lrlab.search.model_loss(lambda model, batch: model(*batch)[::-1])
    result = lrlab.sweep(Task.from_loaders(_NanoGPTLike, *loaders, loss=fix, epochs=1),
                         lrs=[0.1])
    assert 0 <= result.summary()["best_val_accuracy"].iloc[0] <= 1
    assert len(find_lr(_NanoGPTLike(), fix, loaders[0], steps=10).lrs) == 10


_Output = namedtuple("_Output", ["loss", "logits"])


def test_an_own_loss_model_returning_a_namedtuple_with_a_loss_trains_as_a_dict() -> None:
    """A namedtuple is a tuple, but one with a ``loss`` field is an object with .loss: it
    trains exactly as the same model returning a dict (before: refused as nanoGPT's
    (logits, loss) pair)."""
    from data_models import TokenBag, Tokens

    class AsTuple(TokenBag):
        def forward(self, input_ids, labels=None):
            out = super().forward(input_ids, labels)
            return _Output(out.get("loss"), out["logits"])

    def records(model) -> object:
        train = DataLoader(Tokens(200, 0, signal=True), batch_size=20)
        val = DataLoader(Tokens(100, 1, signal=True), batch_size=100)
        torch.manual_seed(0)
        task = Task.from_loaders(lambda: model(own_loss=True), train, val, loss=None, epochs=1)
        return no_time(lrlab.sweep(task, lrs=[0.1, 1.0]).records)

    assert records(AsTuple).equals(records(TokenBag))
