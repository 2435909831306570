"""score_splits: several splits' epoch metrics in one pass, against one EpochMetrics each.

Reference: per split, one ``EpochMetrics.update`` of its batches joined along the sample
axis and ``compute`` (what a buffered training epoch and a one-batch validation do); the
values must agree bit for bit.
"""

from __future__ import annotations

import math

import pytest
import torch

from lrlab.metrics import EpochMetrics, score_splits

K = 4


def _batches(sizes: list[int], classes: int, dtype: torch.dtype, g: torch.Generator,
             nan_member: bool = False) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    out = []
    for n in sizes:
        logits = torch.randn(K, n, classes, generator=g, dtype=dtype) * 3
        logits[0, : n // 2] = logits[0, : n // 2, :1]  # ties: the first class wins
        if nan_member:
            logits[2, 0, 1] = math.nan
        targets = torch.randint(0, classes, (n,), generator=g)
        out.append((logits, targets, torch.rand(K, n, generator=g, dtype=dtype)))
    return out


def _alone(batches, classes: int, auc: bool) -> tuple[dict[str, torch.Tensor], EpochMetrics]:
    m = EpochMetrics(K, num_classes=classes, auc=auc, device="cpu")
    logits, targets, losses = zip(*batches)
    m.update(torch.cat(logits, 1), torch.cat(targets), torch.cat(losses, 1))
    return m.compute(), m


@pytest.mark.parametrize("classes", [3, 10])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sizes", [([50] * 10, [500]), ([7, 9], [13]), ([333], [1000], [5])],
                         ids=["blobs", "odd", "three-splits"])
def test_one_pass_equals_one_metrics_per_split_bit_for_bit(classes, dtype, sizes):
    g = torch.Generator().manual_seed(0)
    splits = [_batches(s, classes, dtype, g, nan_member=i == 1) for i, s in enumerate(sizes)]
    for auc in (True, False):
        together = [EpochMetrics(K, num_classes=classes, auc=auc, device="cpu")
                    for _ in splits]
        got = score_splits(together, splits)
        for values, batches, m in zip(got, splits, together):
            want, alone = _alone(batches, classes, auc)
            assert m.labels() == alone.labels()
            assert values.keys() == want.keys()
            for name, v in want.items():
                assert torch.equal(v.isnan(), values[name].isnan()), name
                assert torch.equal(v.nan_to_num(), values[name].nan_to_num()), name
    assert got[1]["accuracy"][2].isnan() and not got[0]["accuracy"].isnan().any()


def test_splits_it_cannot_join_are_scored_one_by_one():
    """Regression predictions, and metrics that already hold a batch, take the plain path."""
    g = torch.Generator().manual_seed(1)
    preds = [(torch.randn(K, 6, 2, generator=g), torch.randn(6, 2, generator=g),
              torch.rand(K, 6, generator=g))]
    got = score_splits([EpochMetrics(K, num_classes=None, device="cpu") for _ in range(2)],
                       [preds, preds])
    want = EpochMetrics(K, num_classes=None, device="cpu")
    want.update(*preds[0])
    assert all(torch.equal(v, got[1][n]) for n, v in want.compute().items())
    batches = _batches([8], 3, torch.float32, g)
    started = EpochMetrics(K, num_classes=3, device="cpu")
    started.update(*batches[0])
    twice = score_splits([started, EpochMetrics(K, num_classes=3, device="cpu")],
                         [batches, batches])
    assert torch.equal(twice[0]["loss"], twice[1]["loss"])  # a mean of the same batch twice
    assert torch.equal(twice[0]["auc"], twice[1]["auc"])


@pytest.mark.parametrize("classes", [3, 10])
def test_targets_that_are_no_class_are_left_out_in_one_pass_too(classes):
    """-100 labels (examples without a label, ``ignore_index``) count in no score on the
    one-pass path either: its values equal one EpochMetrics per split bit for bit, and those
    of the same batches without the unlabelled examples (the losses aside: the caller's)."""
    g = torch.Generator().manual_seed(2)
    splits = [_batches(s, classes, torch.float64, g) for s in ([40, 24], [30])]
    for batches in splits:
        for _, targets, _ in batches:
            targets[torch.rand(len(targets), generator=g) < 0.3] = -100
    together = [EpochMetrics(K, num_classes=classes, device="cpu") for _ in splits]
    got = score_splits(together, splits)
    for values, batches in zip(got, splits):
        want, _ = _alone(batches, classes, auc=True)
        assert all(torch.equal(v, values[name]) for name, v in want.items())
        labelled = [(z[:, y >= 0], y[y >= 0], loss[:, y >= 0]) for z, y, loss in batches]
        real, _ = _alone(labelled, classes, auc=True)
        for name in ("accuracy", "sse", "auc"):
            torch.testing.assert_close(values[name], real[name], rtol=1e-12, atol=1e-12)
