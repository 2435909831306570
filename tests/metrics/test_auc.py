"""Keras-style ROC AUC: a NumPy reference, scikit-learn, streaming, members, NaN, Keras."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lrlab import LrlabError
from lrlab.metrics import AucCounts, keras_thresholds, roc_auc_keras

C = 4


def _thresholds_np(t: int) -> np.ndarray:
    return np.array([-1e-7] + [(i + 1) / (t - 1) for i in range(t - 2)] + [1 + 1e-7])


def _reference_auc(probs: np.ndarray, labels: np.ndarray, t: int = 200) -> float:
    """The Keras formula written out directly in float64, one threshold at a time."""
    p = np.clip(np.asarray(probs, dtype=np.float64).ravel(), 0.0, 1.0)
    y = np.asarray(labels).ravel() != 0
    tp, fp, tn, fn = [], [], [], []
    for th in _thresholds_np(t):
        pos = p > th
        tp.append(np.sum(pos & y))
        fp.append(np.sum(pos & ~y))
        fn.append(np.sum(~pos & y))
        tn.append(np.sum(~pos & ~y))
    auc = 0.0
    for i in range(t - 1):
        tpr = [tp[j] / (tp[j] + fn[j]) if tp[j] + fn[j] else 0.0 for j in (i, i + 1)]
        fpr = [fp[j] / (fp[j] + tn[j]) if fp[j] + tn[j] else 0.0 for j in (i, i + 1)]
        auc += (fpr[0] - fpr[1]) * (tpr[0] + tpr[1]) / 2.0
    return auc


def _tie_bound(probs: np.ndarray, labels: np.ndarray, t: int) -> float:
    """Largest possible |discretised - exact| AUC.

    Pairs (positive, negative) in different buckets (t_i, t_{i+1}] are ordered the same by
    both; the trapezoid rule scores every pair inside one bucket as a tie (1/2) while the exact
    AUC scores it 0, 1/2 or 1. So the gap is at most sum_b pos_b * neg_b / (2 P N).
    """
    p = np.clip(probs.ravel(), 0.0, 1.0)
    y = labels.ravel() != 0
    bucket = np.searchsorted(_thresholds_np(t), p, side="left") - 1
    pos = np.bincount(bucket[y], minlength=t)
    neg = np.bincount(bucket[~y], minlength=t)
    return float(0.5 * np.sum(pos * neg) / (y.sum() * (~y).sum()))


def _classification(k: int, n: int, seed: int, dtype=torch.float64, sep: float = 1.5):
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, C, (k, n), generator=g)
    logits = torch.randn(k, n, C, generator=g) + sep * torch.nn.functional.one_hot(targets, C)
    return torch.softmax(logits.to(dtype), dim=-1), targets


def _onehot(targets: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.one_hot(targets, C).numpy()


def test_thresholds_match_keras_definition() -> None:
    t = keras_thresholds(200)
    assert t.dtype == torch.float64 and t.shape == (200,)
    np.testing.assert_array_equal(t.numpy(), _thresholds_np(200))
    assert keras_thresholds(2).tolist() == [-1e-7, 1 + 1e-7]
    with pytest.raises(LrlabError):
        keras_thresholds(1)


def test_keras_docstring_example() -> None:
    got = roc_auc_keras(torch.tensor([0.0, 0.5, 0.3, 0.9]), torch.tensor([0.0, 0, 1, 1]), 3)
    assert got.item() == pytest.approx(0.75, abs=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("t", [3, 7, 200])
def test_against_numpy_reference(dtype: torch.dtype, t: int) -> None:
    probs, targets = _classification(3, 300, seed=t, dtype=dtype)
    got = roc_auc_keras(probs, targets, num_thresholds=t)
    assert got.shape == (3,) and got.dtype == torch.float64
    for k in range(3):
        want = _reference_auc(probs[k].double().numpy(), _onehot(targets[k]), t)
        assert got[k].item() == pytest.approx(want, abs=1e-12)


def test_scores_on_thresholds_and_out_of_range() -> None:
    # exactly on a threshold is not above it; outside [0, 1] is clipped as in Keras
    probs = torch.tensor(
        [0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 1.5, 0.5, 0.25, 0.75], dtype=torch.float64
    )
    labels = torch.tensor([0.0, 0, 1, 1, 1, 0, 1, 0, 1, 0])
    got = roc_auc_keras(probs, labels, num_thresholds=5).item()
    assert got == pytest.approx(_reference_auc(probs.numpy(), labels.numpy(), 5), abs=1e-15)


def test_against_sklearn_within_discretisation_bound() -> None:
    probs, targets = _classification(1, 800, seed=1)
    p, y = probs[0].numpy(), _onehot(targets[0])
    exact = roc_auc_score(y.ravel(), p.ravel())
    errors, bounds = [], []
    for t in (11, 101, 1001, 10001):
        err = abs(roc_auc_keras(probs[0], targets[0], num_thresholds=t).item() - exact)
        bound = _tie_bound(p, y, t)
        assert err <= bound + 1e-12
        errors.append(err)
        bounds.append(bound)
    assert errors[2] < 1e-2  # the default-size grid is already close
    assert all(a > b for a, b in itertools.pairwise(bounds))  # the bound shrinks with T
    assert errors[-1] < 1e-4 < errors[0]
    default = roc_auc_keras(probs[0], targets[0]).item()
    assert abs(default - exact) <= _tie_bound(p, y, 200) + 1e-12 and abs(default - exact) < 1e-2


@pytest.mark.parametrize("per_member_targets", [False, True])
def test_streaming_equals_one_shot(per_member_targets: bool) -> None:
    probs, targets = _classification(3, 500, seed=2)
    if not per_member_targets:
        targets = targets[0]
    counts = AucCounts(3)
    for lo, hi in ((0, 7), (7, 200), (200, 201), (201, 500)):
        t = targets[..., lo:hi]
        counts.update(probs[:, lo:hi], t)
    whole = AucCounts(3)
    whole.update(probs, targets)
    for a, b in zip(counts.confusion(), whole.confusion()):
        assert torch.equal(a, b)
    assert torch.equal(counts.result(), whole.result())
    counts.reset()
    assert torch.equal(counts.result(), torch.zeros(3, dtype=torch.float64))  # as Keras: 0


def test_members_are_independent() -> None:
    probs, targets = _classification(4, 250, seed=3)
    counts = AucCounts(4)
    counts.update(probs, targets)
    batched = counts.result()
    for k in range(4):
        alone = AucCounts(1)
        alone.update(probs[k : k + 1], targets[k])
        assert torch.equal(alone.confusion()[0][0], counts.confusion()[0][k])
        assert alone.result()[0].item() == pytest.approx(batched[k].item(), abs=1e-15)


def test_non_contiguous_probabilities() -> None:
    probs, targets = _classification(2, 90, seed=7)
    transposed = probs.transpose(1, 2).contiguous().transpose(1, 2)  # dense, not contiguous
    assert not transposed.is_contiguous()
    assert torch.equal(roc_auc_keras(transposed, targets), roc_auc_keras(probs, targets))
    assert torch.equal(
        roc_auc_keras(probs[:, ::2], targets[:, ::2]),
        roc_auc_keras(probs[:, ::2].contiguous(), targets[:, ::2].contiguous()),
    )


def test_label_targets_equal_index_targets() -> None:
    probs, targets = _classification(2, 100, seed=4)
    onehot = torch.nn.functional.one_hot(targets, C)
    by_index = roc_auc_keras(probs, targets)
    assert torch.equal(roc_auc_keras(probs, onehot.float()), by_index)
    assert torch.equal(roc_auc_keras(probs, onehot), by_index)  # int one-hot, same shape
    assert torch.equal(roc_auc_keras(probs, onehot.bool()), by_index)


@pytest.mark.parametrize("onehot", [False, True])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_member_leaves_others_unchanged(bad: float, onehot: bool) -> None:
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 120, C, generator=g)
    targets = torch.randint(0, C, (120,), generator=g)
    if onehot:
        targets = torch.nn.functional.one_hot(targets, C).float()
    clean = AucCounts(3)
    clean.update(torch.softmax(logits, -1), targets)
    logits[1, 7, 2] = bad  # softmax of this row becomes NaN
    broken = AucCounts(3)
    for lo in range(0, 120, 40):
        broken.update(torch.softmax(logits[:, lo : lo + 40], -1), targets[lo : lo + 40])
    got, want = broken.result(), clean.result()
    assert math.isnan(got[1].item())
    assert torch.equal(got[[0, 2]], want[[0, 2]])
    for a, b in zip(broken.confusion(), clean.confusion()):
        assert torch.equal(a[[0, 2]], b[[0, 2]])


def test_shape_errors() -> None:
    counts = AucCounts(2)
    with pytest.raises(LrlabError, match="member axis"):
        counts.update(torch.rand(3, 5, C), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(LrlabError, match="do not match"):
        counts.update(torch.rand(2, 5, C), torch.zeros(6, dtype=torch.int64))


@pytest.mark.slow
def test_matches_keras_streamed() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    probs, targets = _classification(2, 700, seed=6, dtype=torch.float32, sep=1.0)
    ours = AucCounts(2)
    metrics = [keras.metrics.AUC(num_thresholds=200) for _ in range(2)]
    for lo, hi in ((0, 64), (64, 128), (128, 500), (500, 700)):
        ours.update(probs[:, lo:hi], targets[:, lo:hi])
        for k, m in enumerate(metrics):
            m.update_state(_onehot(targets[k, lo:hi]).astype("float32"), probs[k, lo:hi].numpy())
    got = ours.result()
    tp, fp, tn, fn = ours.confusion()
    for k, m in enumerate(metrics):
        assert got[k].item() == pytest.approx(float(m.result()), abs=1e-6)
        for mine, theirs in zip(
            (tp, fp, tn, fn),
            (m.true_positives, m.false_positives, m.true_negatives, m.false_negatives),
        ):
            np.testing.assert_array_equal(mine[k].numpy(), theirs.value.detach().cpu().numpy())


def test_class_indices_that_are_no_class_are_left_out() -> None:
    """-100 (``ignore_index``) and out-of-range class indices leave their sample out, even
    with a NaN score (before: its C scores counted as negatives), against the NumPy
    reference on the labelled samples alone."""
    probs, targets = _classification(2, 300, seed=4, dtype=torch.float64)
    targets[:, ::4] = -100
    targets[:, 1::9] = C + 3
    probs[1, 0, 0] = math.nan  # at a -100 position: scored nowhere
    got = roc_auc_keras(probs, targets)
    keep = (targets >= 0) & (targets < C)
    for k in range(2):
        want = _reference_auc(probs[k][keep[k]].numpy(), _onehot(targets[k][keep[k]]))
        assert got[k].item() == pytest.approx(want, abs=1e-12)
