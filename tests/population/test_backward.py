"""The hand-written backward pass of the batched Sequential against autograd.

Reference: the same population trained through ``torch.autograd.grad`` (a loss that is not
lrlab's ``cross_entropy`` object takes that path). The two must agree bit for bit: the
hand-written pass calls the operations autograd calls, on the same memory layouts.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from lrlab.metrics import cross_entropy
from lrlab.population import Population

BATCH = 12


def _autograd_loss(logits, targets):
    return cross_entropy(logits, targets)  # another object: the autograd path


MODELS = {
    "relu": lambda c: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, c)),
    "tanh-sigmoid": lambda c: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6),
                                            nn.Sigmoid(), nn.Identity(), nn.Linear(6, c)),
    "flatten-no-bias": lambda c: nn.Sequential(nn.Flatten(), nn.Linear(4, 8, bias=False),
                                               nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, c)),
    "linear": lambda c: nn.Sequential(nn.Linear(4, c)),
    "activation-last": lambda c: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, c),
                                               nn.Tanh()),
    # a weight of 130 x 128 elements: its gradient in its own layout (_batched.own_layout)
    "own-layout": lambda c: nn.Sequential(nn.Linear(4, 130), nn.ReLU(), nn.Linear(130, 128),
                                          nn.ReLU(), nn.Linear(128, c)),
}


def _pair(model: nn.Module, rule: str, lrs: list[float], dtype: torch.dtype):
    return [Population(model, rule, {"lr": lrs}, dtype=dtype, path="batched")
            for _ in range(2)]


@pytest.mark.parametrize("name", list(MODELS))
# 2, 3: a class-major last layer padded to 4 rows; 4: unpadded; 70: above the narrow cut-off
@pytest.mark.parametrize("classes", [2, 3, 4, 70])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_steps_equal_autograd_bit_for_bit(name: str, classes: int, dtype: torch.dtype):
    torch.manual_seed(0)
    by_hand, reference = _pair(MODELS[name](classes), "sgd", [0.3, 0.05, 1.0], dtype)
    assert by_hand._program is not None
    g = torch.Generator().manual_seed(1)
    for step in range(6):
        x = torch.randn(BATCH, 4, generator=g, dtype=dtype)
        y = torch.randint(0, classes, (BATCH,), generator=g)
        a = by_hand.step(x, y, cross_entropy)
        b = reference.step(x, y, _autograd_loss)
        assert torch.equal(a.losses, b.losses) and torch.equal(a.outputs, b.outputs), step
        assert torch.equal(a.grad_norm, b.grad_norm), step
    assert torch.equal(by_hand.flat, reference.flat)


def test_per_member_batches_and_a_diverging_member_equal_autograd():
    """Per-member inputs ``(K, B, ...)`` and targets, Adam, and a member frozen midway."""
    torch.manual_seed(0)
    lrs = [0.01, 0.1, 1e5]
    by_hand, reference = _pair(MODELS["relu"](3), "adam", lrs, torch.float32)
    g = torch.Generator().manual_seed(2)
    for _ in range(8):
        x = torch.randn(len(lrs), BATCH, 4, generator=g)
        y = torch.randint(0, 3, (len(lrs), BATCH), generator=g)
        by_hand.step(x, y, cross_entropy, shared=False)
        reference.step(x, y, _autograd_loss, shared=False)
    assert reference.alive.tolist() == [True, True, False]  # the frozen branch was taken
    assert torch.equal(by_hand.alive, reference.alive)
    assert torch.equal(by_hand.flat, reference.flat)


@pytest.mark.parametrize("batch", [1, 2])
def test_a_one_row_batch_leaves_the_class_major_layout_and_equals_autograd(batch: int):
    """A batch of one row runs the narrow last layer row-major (a one-row product is one
    MKL rounds by position), two rows class-major; both equal the autograd path."""
    torch.manual_seed(0)
    by_hand, reference = _pair(MODELS["relu"](3), "sgd", [0.3, 0.05, 1.0], torch.float32)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        x, y = torch.randn(batch, 4, generator=g), torch.randint(0, 3, (batch,), generator=g)
        a = by_hand.step(x, y, cross_entropy)
        b = reference.step(x, y, _autograd_loss)
        assert torch.equal(a.losses, b.losses) and torch.equal(a.outputs, b.outputs)
        assert a.outputs.is_contiguous() == (batch == 1)  # class-major: a transposed view
    assert torch.equal(by_hand.flat, reference.flat)


@pytest.mark.parametrize("model", [
    nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3)),  # no hand-written derivative
    nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3)),
])
def test_other_layers_take_autograd(model: nn.Module):
    assert Population(model, "sgd", {"lr": [0.1]})._program is None


def test_frozen_parameter_takes_autograd():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model[0].weight.requires_grad_(False)
    assert Population(model, "sgd", {"lr": [0.1]})._program is None


@pytest.mark.parametrize("name", list(MODELS))
def test_predictions_equal_the_batched_forward(name: str):
    torch.manual_seed(0)
    pop = Population(MODELS[name](3), "sgd", {"lr": [0.1, 0.2]}, path="batched")
    x = torch.randn(BATCH, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(pop.predict(x), pop.forward(x))


@pytest.mark.parametrize("widths", [(2, 50, 3), (5, 16, 3), (4, 8, 6, 10), (1, 50, 3), (1, 3)],
                         ids=["blobs", "small", "deeper", "one-input", "one-input-linear"])
@pytest.mark.parametrize("loss", [cross_entropy, _autograd_loss], ids=["by-hand", "autograd"])
def test_a_members_steps_do_not_depend_on_its_position_or_the_population_size(widths, loss):
    """Members 1-2 and 3-5 trained alone end bit for bit where they end in a population of
    eight (MKL's batched matmul kernels round some small shapes by position in the batch;
    the weight gradients must avoid those: docs/benchmarks.md, issue 14)."""
    torch.manual_seed(0)
    layers = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    lrs = [0.5 / 2 ** k for k in range(8)]
    g = torch.Generator().manual_seed(4)
    batches = [(torch.randn(50, widths[0], generator=g),
                torch.randint(0, widths[-1], (50,), generator=g)) for _ in range(4)]

    def trained(rates: list[float]) -> torch.Tensor:
        pop = Population(model, "sgd", {"lr": rates}, path="batched")
        for x, y in batches:
            pop.step(x, y, loss)
        return pop.flat

    whole = trained(lrs)
    for start, stop in [(1, 3), (3, 6), (7, 8)]:
        assert torch.equal(trained(lrs[start:stop]), whole[start:stop]), (start, stop)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-x", "per-member-x"])
def test_large_members_predict_member_by_member_as_the_batched_forward(shared: bool):
    """Members of 2^16+ parameters predict one member at a time in blocks of 1,024 rows
    (here three blocks, the last one short; a Flatten first): the batched forward's
    outputs to float64 rounding."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 5))
    pop = Population(model, "sgd", {"lr": [0.1, 0.2, 0.3]}, dtype=torch.float64)
    assert pop._large
    g = torch.Generator().manual_seed(3)
    x = torch.randn(*(() if shared else (3,)), 2100, 16, 16, generator=g, dtype=torch.float64)
    with torch.no_grad():
        got, want = pop.predict(x, shared=shared), pop.forward(x, shared=shared)
    assert got.shape == want.shape == (3, 2100, 5)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_a_one_input_first_layer_equals_autograd_at_32_members():
    """A 1 -> 100 first layer (one input: weight_grad's elementwise order) takes the same
    order on the autograd path, so the two paths stay equal bit for bit (review: at 32
    members autograd's one-row batched product rounded differently)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 100), nn.ReLU(), nn.Linear(100, 3))
    lrs = [0.5 / 1.2 ** k for k in range(32)]
    by_hand, reference = _pair(model, "sgd", lrs, torch.float32)
    g = torch.Generator().manual_seed(4)
    for _ in range(4):
        x, y = torch.randn(64, 1, generator=g), torch.randint(0, 3, (64,), generator=g)
        by_hand.step(x, y, cross_entropy)
        reference.step(x, y, _autograd_loss)
    assert torch.equal(by_hand.flat, reference.flat)
