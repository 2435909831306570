"""One logit per example under a binary cross-entropy with logits: a binary classifier.

``nn.BCEWithLogitsLoss`` on outputs ``(B,)`` or ``(B, 1)`` and 0/1 float targets is how most
binary classifiers are written; lrlab scores it as two classes (accuracy at ``z > 0``, AUC
on ``sigmoid(z)``) instead of as a regression ranked by loss.
"""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab.train import resolve_task, validated

EPOCHS, LRS = 3, [0.5, 0.05]


def _data(shape: str, labels=None):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 6, generator=g)
    y = labels(x) if labels else (x[:, 0] + 0.5 * x[:, 1] > 0).float()
    y = y.unsqueeze(1) if shape == "(B, 1)" and y.dim() == 1 else y
    return x, y


class _Net(nn.Module):
    def __init__(self, out: int = 1, squeeze: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, out))
        self.squeeze = squeeze

    def forward(self, x):
        out = self.net(x)
        return out.squeeze(1) if self.squeeze else out


def _task(shape: str, loss=None, labels=None, out: int = 1, **kw) -> tuple:
    x, y = _data(shape, labels)
    train = DataLoader(TensorDataset(x[:240], y[:240]), batch_size=40)  # in order
    val = DataLoader(TensorDataset(x[240:], y[240:]), batch_size=30)
    task = lrlab.Task.from_loaders(lambda: _Net(out, shape == "(B,)"), train, val,
                                   loss=loss or nn.BCEWithLogitsLoss(), epochs=EPOCHS, **kw)
    return task, train, x[240:], y[240:]


def _plain(task, train, lr: float) -> nn.Module:
    model = task.init_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(EPOCHS):
        for xb, yb in train:
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(xb), yb).backward()
            opt.step()
    return model


@pytest.mark.parametrize("shape", ["(B, 1)", "(B,)"])
def test_a_binary_logit_is_scored_as_two_classes(shape: str) -> None:
    task, train, xv, yv = _task(shape)
    result = lrlab.sweep(task, lrs=LRS)
    assert result.monitor == "accuracy"
    summary = result.summary().set_index("lr")
    for lr in LRS:
        model = _plain(task, train, lr)
        with torch.no_grad():
            z = model(xv).reshape(-1)
        accuracy = ((z > 0).float() == yv.reshape(-1)).double().mean().item()
        loss = nn.functional.binary_cross_entropy_with_logits(z, yv.reshape(-1)).item()
        assert summary.loc[lr, "final_val_accuracy"] == pytest.approx(accuracy, abs=1e-12)
        assert summary.loc[lr, "final_val_loss"] == pytest.approx(loss, rel=1e-5)


def test_the_auc_of_a_binary_logit_is_the_auc_of_its_sigmoid() -> None:
    """lrlab's AUC is Keras' (200 thresholds) over the softmax outputs against one-hot
    labels, flattened; for one logit those outputs are (1 - sigmoid(z), sigmoid(z)):
    against scikit-learn's exact AUC of the same."""
    task, train, xv, yv = _task("(B, 1)", monitor="auc")
    result = lrlab.sweep(task, lrs=[0.05])
    model = _plain(task, train, 0.05)
    with torch.no_grad():
        z = model(xv).reshape(-1)
    p, y = torch.sigmoid(z), yv.reshape(-1)
    exact = roc_auc_score(torch.stack([1 - y, y], 1).flatten().numpy(),
                          torch.stack([1 - p, p], 1).flatten().numpy())
    assert result.summary()["final_val_auc"].iloc[0] == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("case", ["mse on 0/1", "bce on probabilities", "soft targets"])
def test_what_is_not_one_binary_logit_stays_as_it_was(case: str) -> None:
    """A squared error on 0/1 targets stays a regression; a BCE on probabilities (sigmoid in
    forward) or targets between 0 and 1 are not read as binary logits either."""
    kw = {
        "mse on 0/1": {"loss": nn.MSELoss()},
        "bce on probabilities": {"loss": lambda p, y: nn.functional.binary_cross_entropy(
            torch.sigmoid(p), y)},
        "soft targets": {"labels": lambda x: torch.sigmoid(x[:, 0])},
    }[case]
    task, *_ = _task("(B, 1)", **kw)
    result = lrlab.sweep(task, lrs=[0.05], epochs=1)
    assert result.monitor == "loss" and "final_val_accuracy" not in result.summary()


def _three_labels(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0.5, x[:, 3] > 1.0], 1).float()


def test_a_multi_label_model_is_a_classifier_of_its_labels_ranked_by_its_loss() -> None:
    """Three 0/1 labels per example under BCEWithLogitsLoss on (B, 3) logits: each label a
    binary classifier. Its accuracy is the share of labels right at z > 0 (by hand, over
    every label of the validation set), its loss plain torch's; it is ranked by that loss,
    as before its labels were scored (monitor="accuracy" ranks by the share), and a subset
    of it is drawn without the warning about unreadable classes. Before, it was a
    regression: no accuracy, and an SSE of raw logits against the labels."""
    task, train, xv, yv = _task("(B, 1)", out=3, labels=_three_labels)
    result = lrlab.sweep(task, lrs=LRS)
    assert result.monitor == "loss" and not result.higher_is_better
    summary = result.summary().set_index("lr")
    accuracy = result.curve("accuracy", "val").iloc[-1]
    for lr, label in zip(LRS, result.members["label"]):
        model = _plain(task, train, lr)
        with torch.no_grad():
            z = model(xv)
        right = ((z > 0).float() == yv).double().mean().item()
        loss = nn.functional.binary_cross_entropy_with_logits(z, yv).item()
        assert accuracy[label] == pytest.approx(right, abs=1e-12)
        assert summary.loc[lr, "final_val_loss"] == pytest.approx(loss, rel=1e-5)
    by_share = lrlab.sweep(task.replace(monitor="accuracy"), lrs=LRS)
    assert by_share.monitor == "accuracy" and by_share.higher_is_better
    config = validated(lrs=[0.1])
    resolved = resolve_task(task, config, config.members())  # as a search subsets it
    assert (resolved.num_classes, resolved.monitor) == (2, "loss")
    assert resolved.subset(0.5).train_size == 120  # no warning (an error under pytest)


def test_the_searches_chance_level_reads_a_binary_logit() -> None:
    """The untrained model's score, which every search compares rates with, is read as a
    fit reads it: here its accuracy at z > 0 (it failed on the logits' shape)."""
    from lrlab.search import baseline

    task, _, xv, yv = _task("(B, 1)")
    with torch.no_grad():
        z = task.init_model(3)(xv).reshape(-1)
    accuracy = ((z > 0).float() == yv.reshape(-1)).double().mean().item()
    base = baseline(task, 3)
    assert base.untrained == pytest.approx(accuracy, abs=1e-12)
    share = yv.reshape(-1).double().mean().item()  # the two classes' shares: 0/1 targets
    assert base.chance == pytest.approx(max(accuracy, share, 1 - share), abs=1e-12)


class _Masker(nn.Module):
    """One logit per pixel: ``(B, 1, H, W)``, or ``(B, H, W)`` with ``squeeze``."""

    def __init__(self, squeeze: bool) -> None:
        super().__init__()
        self.conv, self.squeeze = nn.Conv2d(1, 1, 3, padding=1), squeeze

    def forward(self, x):
        out = self.conv(x)
        return out.squeeze(1) if self.squeeze else out


@pytest.mark.parametrize("shape", ["(B, 1, H, W)", "(B, H, W)"])
def test_a_mask_is_a_classifier_of_its_pixels_ranked_by_its_loss(shape: str) -> None:
    """A 0/1 mask per image under BCEWithLogitsLoss on one logit per pixel is scored as a
    multi-label model is (each pixel a binary classifier): accuracy the share of pixels right
    at z > 0 (by hand), the loss plain torch's, ranked by that loss unless
    monitor="accuracy", the searches' chance level the untrained model's or the majority
    pixel's. Before, a regression: no accuracy, an SSE of raw logits against the mask."""
    from lrlab.search import baseline

    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 1, 6, 6, generator=g)
    y = (x + 0.3 * torch.randn(x.shape, generator=g) > 0.4).float()
    y = y.squeeze(1) if shape == "(B, H, W)" else y
    train = DataLoader(TensorDataset(x[:120], y[:120]), batch_size=20)  # in order
    task = lrlab.Task.from_loaders(lambda: _Masker(shape == "(B, H, W)"), train,
                                   DataLoader(TensorDataset(x[120:], y[120:]), batch_size=40),
                                   loss=nn.BCEWithLogitsLoss(), epochs=EPOCHS)
    result = lrlab.sweep(task, lrs=LRS)
    assert result.monitor == "loss" and not result.higher_is_better
    accuracy = result.curve("accuracy", "val").iloc[-1]
    summary = result.summary().set_index("lr")
    for lr, label in zip(LRS, result.members["label"]):
        model = _plain(task, train, lr)
        with torch.no_grad():
            z = model(x[120:])
        right = ((z > 0).float() == y[120:]).double().mean().item()
        loss = nn.functional.binary_cross_entropy_with_logits(z, y[120:]).item()
        assert accuracy[label] == pytest.approx(right, abs=1e-12)
        assert summary.loc[lr, "final_val_loss"] == pytest.approx(loss, rel=1e-5)
    assert lrlab.sweep(task.replace(monitor="accuracy"), lrs=LRS).higher_is_better
    config = validated(lrs=[0.1])
    assert resolve_task(task, config, config.members()).num_classes == 2
    with torch.no_grad():
        z = task.init_model(3)(x[120:])
    untrained = ((z > 0).float() == y[120:]).double().mean().item()
    share = y[120:].double().mean().item()
    base = baseline(task.replace(monitor="accuracy"), 3)
    assert base.untrained == pytest.approx(untrained, abs=1e-12)
    assert base.chance == pytest.approx(max(untrained, share, 1 - share), abs=1e-12)
