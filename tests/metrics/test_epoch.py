"""EpochMetrics: batches against the whole epoch at once, regression, NaN members, devices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrlab import LrlabError
from lrlab.metrics import EpochMetrics, LabelCounts, correct, cross_entropy, roc_auc_keras, sse

K, N, C = 3, 230, 4
SPLITS = ((0, 32), (32, 64), (64, 65), (65, 200), (200, 230))


def _data(dtype: torch.dtype = torch.float64, seed: int = 0, per_member: bool = False):
    g = torch.Generator().manual_seed(seed)
    shape = (K, N) if per_member else (N,)
    targets = torch.randint(0, C, shape, generator=g)
    logits = 2.0 * torch.randn(K, N, C, generator=g)
    logits = logits + torch.nn.functional.one_hot(targets, C).expand(K, N, C)
    return logits.to(dtype), targets


def _run(logits: torch.Tensor, targets: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
    metrics = EpochMetrics(K, num_classes=C, **kwargs)
    for lo, hi in SPLITS:
        z, y = logits[:, lo:hi], targets[..., lo:hi]
        metrics.update(z, y, cross_entropy(z, y))
    return metrics.compute()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("per_member", [False, True])
def test_batches_equal_whole_epoch(dtype: torch.dtype, per_member: bool) -> None:
    logits, targets = _data(dtype, per_member=per_member)
    got = _run(logits, targets)
    assert set(got) == {"loss", "accuracy", "error", "sse", "auc"}
    for v in got.values():
        assert v.shape == (K,) and v.dtype == torch.float64
    want = {
        "loss": cross_entropy(logits, targets).double().mean(dim=1),
        "accuracy": correct(logits, targets).double().mean(dim=1),
        "sse": sse(logits, targets).double().sum(dim=1),
        "auc": roc_auc_keras(torch.softmax(logits, -1), targets.expand(K, N)),
    }
    want["error"] = 1.0 - want["accuracy"]
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for name, value in want.items():
        torch.testing.assert_close(got[name], value, rtol=tol, atol=tol, msg=name)
    assert 0.5 < got["auc"].min().item() and got["accuracy"].min().item() > 1.0 / C


def test_auc_off_reset_and_empty() -> None:
    logits, targets = _data()
    metrics = EpochMetrics(K, num_classes=C, auc=False)
    empty = metrics.compute()
    assert set(empty) == {"loss", "accuracy", "error", "sse"}
    assert all(torch.isnan(v).all() for v in empty.values())
    metrics.update(logits[:, :10], targets[:10], cross_entropy(logits[:, :10], targets[:10]))
    metrics.reset()
    z, y = logits[:, 10:], targets[10:]
    metrics.update(z, y, cross_entropy(z, y))
    torch.testing.assert_close(metrics.compute()["sse"], sse(z, y).sum(dim=1))
    assert set(EpochMetrics(K, num_classes=C).compute()) == {
        "loss",
        "accuracy",
        "error",
        "sse",
        "auc",
    }


def test_accepts_tensors_that_require_grad() -> None:
    logits, targets = _data()
    logits.requires_grad_(True)
    metrics = EpochMetrics(K, num_classes=C)
    metrics.update(logits, targets, cross_entropy(logits, targets))
    assert not metrics.compute()["loss"].requires_grad


@pytest.mark.parametrize("classes", [3, 70])  # 70: wider than the transposed layout's cut-off
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_ties_count_for_the_first_class_as_argmax(classes: int, layout: str) -> None:
    """Accuracy on logits with many ties (small integers) equals torch.argmax's, the first
    of the tied classes counting, whatever the memory layout of the logits."""
    g = torch.Generator().manual_seed(5)
    logits = torch.randint(0, 3, (K, N, classes), generator=g).float()
    targets = torch.randint(0, classes, (N,), generator=g)
    if layout == "transposed":
        logits = logits.transpose(1, 2).contiguous().transpose(1, 2)
    metrics = EpochMetrics(K, num_classes=classes)
    metrics.update(logits, targets, cross_entropy(logits, targets))
    want = (logits.argmax(-1) == targets).double().mean(dim=1)
    assert torch.equal(metrics.compute()["accuracy"], want)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_member_is_isolated(bad: float) -> None:
    logits, targets = _data()
    clean = _run(logits, targets)
    logits[1, 100, 2] = bad
    logits[1, 150] = bad
    got = _run(logits, targets)  # must not raise
    for name, value in got.items():
        assert math.isnan(value[1].item()), name
        assert torch.equal(value[[0, 2]], clean[name][[0, 2]]), name


def test_regression_shared_targets_of_shape_b() -> None:
    g = torch.Generator().manual_seed(1)
    preds = torch.randn(K, N, 1, generator=g)
    targets = torch.randn(N, generator=g)
    metrics = EpochMetrics(K, num_classes=None)
    for lo, hi in SPLITS:
        p, y = preds[:, lo:hi], targets[lo:hi]
        metrics.update(p, y, (p.squeeze(-1) - y).square())
    got = metrics.compute()
    assert set(got) == {"loss", "sse"}
    sq = (preds.squeeze(-1).double() - targets.double()).square()
    torch.testing.assert_close(got["loss"], sq.mean(dim=1))
    torch.testing.assert_close(got["sse"], sq.sum(dim=1))


def test_regression_per_member_targets_and_nan() -> None:
    g = torch.Generator().manual_seed(2)
    preds = torch.randn(K, N, 3, generator=g, dtype=torch.float64)
    targets = torch.randn(K, N, 3, generator=g, dtype=torch.float64)
    preds[2, 5, 1] = math.nan
    metrics = EpochMetrics(K, num_classes=None)
    for lo, hi in SPLITS:
        p, y = preds[:, lo:hi], targets[:, lo:hi]
        metrics.update(p, y, (p - y).square().mean(dim=-1))
    got = metrics.compute()
    sq = (preds - targets).square()
    torch.testing.assert_close(got["sse"][:2], sq[:2].sum(dim=(1, 2)))
    torch.testing.assert_close(got["loss"][:2], sq[:2].mean(dim=2).mean(dim=1))
    assert math.isnan(got["sse"][2].item()) and math.isnan(got["loss"][2].item())


def test_shape_errors() -> None:
    logits, targets = _data()
    losses = cross_entropy(logits, targets)
    with pytest.raises(LrlabError, match="C=5"):
        EpochMetrics(K, num_classes=5).update(logits, targets, losses)
    with pytest.raises(LrlabError, match="per-sample"):
        EpochMetrics(K, num_classes=C).update(logits, targets, losses.mean(dim=1))
    with pytest.raises(LrlabError, match="member axis"):
        EpochMetrics(K + 1, num_classes=C).update(logits, targets, losses)
    with pytest.raises(LrlabError, match="do not match"):
        EpochMetrics(K, num_classes=None).update(logits, targets, losses)


def test_failed_update_changes_nothing() -> None:
    logits, targets = _data()
    losses = cross_entropy(logits, targets)
    metrics = EpochMetrics(K, num_classes=C)
    with pytest.raises(LrlabError, match="do not match"):
        metrics.update(logits, targets[:-1], losses)
    metrics.update(logits, targets, losses)
    torch.testing.assert_close(metrics.compute()["loss"], losses.mean(dim=1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_update_never_synchronises() -> None:
    logits, targets = _data(torch.float32)
    logits, targets = logits.cuda(), targets.cuda()
    losses = cross_entropy(logits, targets)
    metrics = EpochMetrics(K, num_classes=C)
    metrics.update(logits[:, :8], targets[:8], losses[:, :8])  # allocation on first use
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for lo, hi in SPLITS:
            metrics.update(logits[:, lo:hi], targets[lo:hi], losses[:, lo:hi])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    got = metrics.compute()
    assert got["auc"].device.type == "cuda"
    torch.testing.assert_close(
        got["loss"].cpu(),
        torch.cat([losses[:, :8], losses], dim=1).double().mean(dim=1).cpu(),
    )


@pytest.mark.parametrize("per_member", [False, True])
def test_labels_count_the_targets_classes(per_member: bool) -> None:
    """The class counts of the targets scored, batch by batch, against torch.bincount (member
    0's targets where each member has its own); positions per label of a sequence; none for
    a regression; zero after a reset."""
    logits, targets = _data(per_member=per_member)
    metrics = EpochMetrics(K, num_classes=C)
    for lo, hi in SPLITS:
        z, y = logits[:, lo:hi], targets[..., lo:hi]
        metrics.update(z, y, cross_entropy(z, y))
    first = targets[0] if per_member else targets
    want = tuple(torch.bincount(first, minlength=C).tolist())
    assert metrics.labels() == LabelCounts(examples=N, positions=N, counts=want)
    assert metrics.labels().majority_share() == max(want) / N
    metrics.reset()
    assert metrics.labels() == LabelCounts(0, 0, (0,) * C)
    # a label per token: (K, B, L, C) scores against (B, L) targets count every position
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, C, (6, 5), generator=g)
    scores = torch.randn(K, 6, 5, C, generator=g)
    metrics.update(scores, tokens, torch.zeros(K, 6))
    counted = metrics.labels()
    assert counted.examples == 6 and counted.positions == 30
    assert counted.counts == tuple(torch.bincount(tokens.flatten(), minlength=C).tolist())
    regression = EpochMetrics(K, num_classes=None)
    regression.update(torch.zeros(K, 4, 1), torch.zeros(4), torch.zeros(K, 4))
    assert regression.labels() == LabelCounts(examples=4) and math.isnan(
        regression.labels().chance("accuracy"))


def _keras_auc64(probs: np.ndarray, positive: np.ndarray, t: int = 200) -> float:
    """Keras' ROC AUC written out in float64, one threshold at a time (rates 0 where their
    denominator is)."""
    p = np.clip(probs.astype(np.float64).ravel(), 0.0, 1.0)
    y = positive.ravel()
    edges = [-1e-7] + [(i + 1) / (t - 1) for i in range(t - 2)] + [1 + 1e-7]
    tpr, fpr = [], []
    for th in edges:
        above = p > th
        tpr.append(np.sum(above & y) / max(np.sum(y), 1))
        fpr.append(np.sum(above & ~y) / max(np.sum(~y), 1))
    return sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2 for i in range(t - 1))


@pytest.mark.parametrize("classes", [4, 70], ids=["narrow", "wide"])  # both class layouts
@pytest.mark.parametrize("per_member", [False, True])
def test_positions_whose_target_is_no_class_are_scored_nowhere(classes: int,
                                                               per_member: bool) -> None:
    """Token labels padded with -100 (``nn.CrossEntropyLoss``'s ``ignore_index``; 255, a
    segmentation's void label, is no class either) count in no score: accuracy, SSE and AUC
    are those of the real positions alone, against a float64 hand computation over them
    (before: each padded position added ``sum p^2`` to the SSE and C negatives to the AUC)."""
    g = torch.Generator().manual_seed(5)
    b, length = 12, 6
    shape = (K, b, length) if per_member else (b, length)
    y = torch.randint(0, classes, shape, generator=g)
    y[..., 4:] = -100
    y[..., 1, :] = -100  # a whole sequence of padding
    y[..., 2, 0] = 255 if classes < 255 else -1
    logits = 2.0 * torch.randn(K, b, length, classes, generator=g, dtype=torch.float64)
    metrics = EpochMetrics(K, num_classes=classes)
    for lo, hi in ((0, 5), (5, 12)):
        metrics.update(logits[:, lo:hi], y[..., lo:hi, :], torch.zeros(K, hi - lo))
    got = metrics.compute()
    z = logits.double().numpy()
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    targets = np.broadcast_to(y.numpy(), (K, b, length))
    for k in range(K):
        real = (targets[k] >= 0) & (targets[k] < classes)
        pk, yk = p[k][real], targets[k][real]
        onehot = yk[:, None] == np.arange(classes)
        assert float(got["sse"][k]) == pytest.approx(float(((pk - onehot) ** 2).sum()), rel=1e-9)
        assert float(got["auc"][k]) == pytest.approx(_keras_auc64(pk, onehot), abs=1e-12)
        hits = z[k][real].argmax(-1) == yk
        assert float(got["accuracy"][k]) == pytest.approx(hits.mean(), abs=1e-12)


def test_the_accelerators_masking_changes_no_bit(monkeypatch) -> None:
    """Where targets are not read back (an accelerator), every position is masked whether
    or not it is a class: the same values, bit for bit, as the CPU's check that skips it."""
    import lrlab.metrics._classification as classification

    logits, targets = _data(torch.float32)
    read = _run(logits, targets)
    monkeypatch.setattr(classification, "_READ_BACK", frozenset())
    masked = _run(logits, targets)
    assert all(torch.equal(v, masked[name]) for name, v in read.items())
