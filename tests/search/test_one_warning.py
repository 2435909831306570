"""A model vmap cannot trace is said once per call: a search trains several populations (the
untrained model's evaluation, the range test, each race), each of which finds it out anew;
the user reads one ``lrlab:`` line, whatever the warnings filters or earlier calls did."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import Tensor, nn

import lrlab
from lrlab.search import auto, grid
from lrlab.studies import scaling
from lrlab.tasks import Split, Task

SAID = "cannot be vectorised"


class Gated(nn.Module):
    """Data-dependent control flow on an activation: vmap refuses it, a loop runs it."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(4, 8), nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.inp(x))
        if h.sum() > 0:
            h = h * 2
        return self.out(h)


def _task() -> Task:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return Task(name="gated", train=Split(x[:96], y[:96]), val=Split(x[96:], y[96:]),
                model=Gated, num_classes=2, batch_size=16, epochs=2)


def _said(run) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # every warning raised, none deduplicated by Python
        run()
    return [str(w.message) for w in seen if SAID in str(w.message)]


@pytest.mark.parametrize("search", ["sweep", "grid", "auto", "scaling"])
def test_a_model_vmap_cannot_trace_is_said_once_per_call(search: str) -> None:
    """Each call says it once (before: grid twice, evaluating then training; auto and a
    study once per population), and a second call says it again: nothing is remembered
    between calls."""
    task = _task()
    run = {"sweep": lambda: lrlab.sweep(task, lrs=[0.1, 1.0]),
           "grid": lambda: grid(task, lrs=[0.1, 1.0]),
           "auto": lambda: auto(task, candidates=2, seeds=1, check=False),
           "scaling": lambda: scaling(task, batch_sizes=[16, 32], lrs=[0.1, 0.3, 1.0])}[search]
    for _ in range(2):
        said = _said(run)
        assert len(said) == 1, said
        assert said[0].startswith("lrlab: Gated cannot be vectorised (")


class _Padded(nn.Module):
    """nn.TransformerEncoder given a padding mask: in evaluation torch's fast path packs the
    batch as a nested tensor, which vmap cannot batch."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                                         1)
        self.head = nn.Linear(8, 2)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.enc(self.emb(ids), src_key_padding_mask=ids == 0)[:, 0])


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_the_fallback_of_a_padded_transformer_names_the_switch_that_vectorises_it() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 10, (48, 6), generator=g)
    ids[::2, 4:] = 0  # padding
    part = Split(ids, (ids[:, 0] > 4).long())
    task = Task(name="padded", train=part, val=part, model=_Padded, num_classes=2,
                batch_size=16, epochs=1)
    said = _said(lambda: lrlab.sweep(task, lrs=[0.1, 1.0]))
    assert len(said) == 1 and said[0].endswith(
        "torch.backends.mha.set_fastpath_enabled(False) lets it vectorise"), said
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        assert _said(lambda: lrlab.sweep(task, lrs=[0.1, 1.0])) == []  # what it names works
    finally:
        torch.backends.mha.set_fastpath_enabled(was)
