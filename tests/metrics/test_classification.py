"""Per-sample scores and the per-member gradient norm against direct float64 computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lrlab import LrlabError
from lrlab.metrics import correct, cross_entropy, grad_norm, sse

K, N, C = 3, 17, 5


def _data(dtype: torch.dtype = torch.float64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = (3.0 * torch.randn(K, N, C, generator=g)).to(dtype)
    shared = torch.randint(0, C, (N,), generator=g)
    per_member = torch.randint(0, C, (K, N), generator=g)
    return logits, shared, per_member


def _hand(logits: torch.Tensor, targets: torch.Tensor):
    """Cross-entropy, SSE and correctness written out one sample at a time in float64."""
    z = logits.double().reshape(-1, logits.shape[-1]).tolist()
    y = targets.expand(logits.shape[:-1]).reshape(-1).tolist()
    ce, se, ok = [], [], []
    for row, t in zip(z, y):
        m = max(row)
        s = sum(math.exp(v - m) for v in row)
        p = [math.exp(v - m) / s for v in row]
        ce.append(-(row[t] - m - math.log(s)))
        se.append(sum((pc - (1.0 if c == t else 0.0)) ** 2 for c, pc in enumerate(p)))
        ok.append(1.0 if row.index(max(row)) == t else 0.0)
    shape = logits.shape[:-1]
    return tuple(torch.tensor(v, dtype=torch.float64).reshape(shape) for v in (ce, se, ok))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("per_member", [False, True])
def test_against_hand_computation(dtype: torch.dtype, per_member: bool) -> None:
    logits, shared, per = _data(dtype)
    targets = per if per_member else shared
    ce, se, ok = _hand(logits, targets)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for got, want in ((cross_entropy(logits, targets), ce), (sse(logits, targets), se)):
        assert got.shape == (K, N) and got.dtype == dtype
        torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)
    got = correct(logits, targets)
    assert got.dtype == dtype
    torch.testing.assert_close(got.double(), ok, rtol=0, atol=0)


@pytest.mark.parametrize("per_member", [False, True])
def test_against_torch_cross_entropy(per_member: bool) -> None:
    logits, shared, per = _data()
    targets = per if per_member else shared
    want = torch.stack(
        [F.cross_entropy(logits[k], targets.expand(K, N)[k], reduction="none") for k in range(K)]
    )
    torch.testing.assert_close(cross_entropy(logits, targets), want, rtol=1e-12, atol=1e-12)


def test_without_member_axis() -> None:
    logits, shared, _ = _data()
    want = F.cross_entropy(logits[1], shared, reduction="none")
    torch.testing.assert_close(cross_entropy(logits[1], shared), want, rtol=1e-12, atol=1e-12)
    _, se, ok = _hand(logits[1], shared)
    torch.testing.assert_close(sse(logits[1], shared), se, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(correct(logits[1], shared), ok)
    assert cross_entropy(logits[1], shared).shape == (N,)


def test_large_logits_stay_finite() -> None:
    logits = torch.tensor([[1000.0, -1000.0, 0.0]], dtype=torch.float32)
    target = torch.tensor([1])
    assert cross_entropy(logits, target).item() == pytest.approx(2000.0)
    assert sse(logits, target).item() == pytest.approx(2.0)
    assert torch.isfinite(cross_entropy(logits, torch.tensor([0]))).all()


def test_sse_bounds_and_perfect_prediction() -> None:
    logits, shared, _ = _data(seed=3)
    s = sse(logits, shared)
    assert (s >= 0).all() and (s <= 2).all()
    perfect = 50.0 * F.one_hot(shared, C).double()
    assert sse(perfect, shared).max().item() < 1e-20


def test_float_targets_rejected() -> None:
    logits, shared, _ = _data()
    with pytest.raises(LrlabError, match="integer class indices"):
        cross_entropy(logits, shared.double())
    with pytest.raises(LrlabError, match="do not match"):
        sse(logits, torch.zeros(N + 1, dtype=torch.int64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grad_norm_against_concatenation(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(1)
    grads = [
        torch.randn(K, 4, 3, generator=g).to(dtype),
        torch.randn(K, 3, generator=g).to(dtype),
        torch.randn(K, 2, 2, 5, generator=g).to(dtype),
        torch.randn(K, generator=g).to(dtype),
    ]
    got = grad_norm(grads)
    flat = torch.cat([t.reshape(K, -1) for t in grads], dim=1)
    want = torch.linalg.vector_norm(flat, dim=1)
    assert got.shape == (K,) and got.dtype == dtype
    torch.testing.assert_close(got, want)
    # member k alone gives the same number: no mixing between members
    for k in range(K):
        alone = grad_norm([t[k : k + 1] for t in grads])
        torch.testing.assert_close(alone[0], got[k])


def test_grad_norm_skips_none_and_checks_members() -> None:
    a = torch.ones(2, 3)
    torch.testing.assert_close(grad_norm([a, None]), torch.full((2,), math.sqrt(3.0)))
    with pytest.raises(LrlabError, match="at least one"):
        grad_norm([None])
    with pytest.raises(LrlabError, match="same leading member axis"):
        grad_norm([a, torch.ones(3, 3)])


def test_grad_norm_nan_member_is_isolated() -> None:
    a = torch.ones(3, 4)
    a[1, 2] = math.nan
    got = grad_norm([a, torch.ones(3, 2)])
    assert math.isnan(got[1].item())
    torch.testing.assert_close(got[[0, 2]], torch.full((2,), math.sqrt(6.0)))
