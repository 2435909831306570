"""find_lr with mixed precision on CUDA: a step the gradient scaler skips (inf gradients)
is no point of the curve and does not advance the rate ramp."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lrlab.search import find_lr, range_rates

CE = nn.CrossEntropyLoss()


def test_amp_skipped_steps_do_not_advance_the_ramp(device, cuda_only):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (512,), generator=g)
    x = torch.randn(512, 8, generator=g) + 2.0 * (2 * y[:, None] - 1)
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2)).to(device)
    calls = {"n": 0}

    def overflow(grad):  # backward calls 3 and 4 overflow, as float16 gradients can
        calls["n"] += 1
        return torch.full_like(grad, torch.inf) if calls["n"] in (3, 4) else grad

    net[0].weight.register_hook(overflow)
    result = find_lr(net, CE, (x.to(device), y.to(device)), start=1e-5, end=1.0, steps=30,
                     amp=True)
    recorded = len(result.lrs)
    assert recorded >= 10 and np.isfinite(result.losses).all()
    np.testing.assert_array_equal(result.lrs, range_rates(1e-5, 1.0, 30)[:recorded])
    assert calls["n"] >= recorded + 2  # at least the two forced skips were retried


def test_amp_clips_the_true_gradient_not_the_scaled_one(device, cuda_only):
    """Under AMP the clip applies after the scaler's unscale_: the curve follows the float32
    test's with the same clip (a clip of the scaled gradient, 65536x its size, would shrink
    every step to nearly nothing and the loss would barely move)."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (512,), generator=g)
    x = torch.randn(512, 8, generator=g) + 0.5 * (2 * y[:, None] - 1)

    def curve(amp: bool) -> np.ndarray:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2)).to(device)
        batches = [(x[i:i + 32].to(device), y[i:i + 32].to(device)) for i in range(0, 512, 32)]
        return find_lr(net, CE, batches, start=1e-2, end=3.0, steps=16, amp=amp,
                       clip_grad_norm=0.1, diverge=1e9).losses

    full, mixed = curve(False), curve(True)
    assert len(full) == len(mixed) == 16 and full[-1] < full[0] - 0.05
    np.testing.assert_allclose(mixed, full, rtol=2e-2, atol=2e-3)
