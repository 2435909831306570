"""Width and the rate: muP's per-layer scales held to the mup package's formulation (written
out here: an explicit ``MuReadout`` output ``W (x / m) + b`` and MuAdam/MuSGD rates), the
claims from the records, and bad input."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from lrlab import LrlabError
from lrlab.studies import WidthResult, mup_multipliers, width, width_mlp
from lrlab.tasks import get_task
from lrlab.train import SweepResult

F64 = torch.float64


def test_multiplier_tables() -> None:
    """m = 4: Adam divides the hidden and (folded) readout weights' rates by m; SGD multiplies
    the input layer and hidden bias by m and divides the folded readout weight by m."""
    assert mup_multipliers("adam", 256, 64) == {"2.weight": 0.25, "4.weight": 0.25}
    assert mup_multipliers("momentum", 256, 64, flatten=True) == {
        "1.weight": 4.0, "1.bias": 4.0, "3.bias": 4.0, "5.weight": 0.25}
    assert mup_multipliers("adam", 64, 64) == {}


class _Explicit(nn.Module):
    """mup's model for an MLP: default init, hidden bias x sqrt(m) (rescale_linear_bias),
    readout ``W (x / m) + b`` with W and b x sqrt(m) (MuReadout._rescale_parameters)."""

    def __init__(self, d_in: int, hidden: int, out: int, m: float) -> None:
        super().__init__()
        self.l0, self.l1, self.l2 = (nn.Linear(d_in, hidden), nn.Linear(hidden, hidden),
                                     nn.Linear(hidden, out))
        self.m = m
        with torch.no_grad():
            self.l1.bias.mul_(math.sqrt(m))
            self.l2.weight.mul_(math.sqrt(m))
            self.l2.bias.mul_(math.sqrt(m))

    def forward(self, x):
        h = torch.relu(self.l1(torch.relu(self.l0(x))))
        return self.l2(h / self.m)

    def groups(self, lr: float, adam: bool) -> list[dict]:
        """MuAdam: matrix-like (two infinite dims: l1.weight) lr / m. MuSGD: vector-like (one
        infinite dim: l0.*, l1.bias, l2.weight) lr * m, l1.weight lr, l2.bias lr."""
        m = self.m
        rates = ({"l1.weight": lr / m} if adam else
                 {"l0.weight": lr * m, "l0.bias": lr * m, "l1.bias": lr * m,
                  "l2.weight": lr * m})
        return [{"params": [p], "lr": rates.get(n, lr)} for n, p in self.named_parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_folded_model_follows_the_explicit_mup_model(optimizer: str) -> None:
    """Same outputs at init and after 20 steps (float64): exact for SGD, to Adam's eps."""
    d_in, hidden, out, base = 5, 32, 3, 8
    m = hidden / base
    torch.manual_seed(3)
    ours = width_mlp(d_in, hidden, out, parametrisation="mup", base_width=base).double()
    torch.manual_seed(3)
    theirs = _Explicit(d_in, hidden, out, m).double()
    mult = mup_multipliers(optimizer, hidden, base)
    lr, adam = (0.01, True) if optimizer == "adam" else (0.05, False)
    ours_groups = [{"params": [p], "lr": lr * mult.get(n, 1.0)}
                   for n, p in ours.named_parameters()]
    make = (lambda g: torch.optim.Adam(g, eps=1e-14)) if adam else torch.optim.SGD
    opt_a, opt_b = make(ours_groups), make(theirs.groups(lr, adam))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, d_in, generator=gen, dtype=F64)
    y = torch.randn(16, out, generator=gen, dtype=F64)
    tol = 1e-12 if not adam else 1e-8
    for _ in range(20):
        torch.testing.assert_close(ours(x), theirs(x), rtol=tol, atol=tol)
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
    torch.testing.assert_close(ours(x), theirs(x), rtol=tol, atol=tol)


def _made(optima: dict[tuple[str, int], float]) -> WidthResult:
    """Populations whose final accuracy peaks (in log-rate) at the given optima."""
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
    runs = {}
    for key, peak in optima.items():
        rows, members = [], []
        for k, lr in enumerate(lrs):
            v = 0.9 - 0.1 * (math.log10(lr) - math.log10(peak)) ** 2
            rows += [(k, 1, "val", "accuracy", v), (k, 1, "val", "loss", 1 - v),
                     (k, 1, "train", "loss", 1.0)]
            members.append({"member": k, "label": f"lr={lr:g}", "lr": lr, "optimizer": "adam",
                            "seed": 0, "diverged": False, "diverged_epoch": pd.NA})
        runs[key] = SweepResult("made", "accuracy", True, {}, pd.DataFrame(
            rows, columns=["member", "epoch", "split", "metric", "value"]),
            pd.DataFrame(members).astype({"diverged_epoch": "Int64"}))
    return WidthResult(runs, "adam", pd.DataFrame())


@pytest.mark.parametrize("sp, mup, verdicts", [
    ((3e-3, 1e-3, 3e-4), (3e-3, 3e-3, 3e-3), ["holds", "holds"]),
    ((3e-3, 2e-3, 1.5e-3), (3e-3, 2.5e-3, 2e-3), ["holds", "partly"]),
    ((3e-3, 3e-3, 3e-3), (3e-3, 1e-3, 2e-4), ["does not hold", "does not hold"]),
])
def test_claims_follow_the_optima(sp, mup, verdicts) -> None:
    """Drifts: log10(max optimum / min optimum) over widths 64, 128, 256."""
    result = _made({**{("sp", w): o for w, o in zip((64, 128, 256), sp)},
                    **{("mup", w): o for w, o in zip((64, 128, 256), mup)}})
    drift = result.drift()
    assert drift["sp"] == pytest.approx(math.log10(max(sp) / min(sp)), abs=1e-9)
    assert drift["mup"] == pytest.approx(math.log10(max(mup) / min(mup)), abs=1e-9)
    assert [c.verdict for c in result.claims()] == verdicts


def test_a_best_rate_at_an_edge_of_the_rates_warns() -> None:
    """An optimum at the highest (lowest) rate swept may lie beyond it: the drift read from
    it is not measured, and the claims said "holds" without a word (sgd on blobs at 0.1,
    0.01, 0.001: every width best at 0.1, "muP's optimum moves 0.00 decades: holds")."""
    inside = {("sp", 64): 3e-3, ("sp", 128): 1e-3, ("mup", 64): 3e-3, ("mup", 128): 3e-3}
    assert _made(inside).warnings == []
    edges = _made({**inside, ("sp", 128): 1.0, ("mup", 64): 1e-5})
    assert edges.warnings == [
        ("the best rate of SP width 128 is the highest swept, 0.1: its optimum may lie above "
        "it, and the claims read it as 0.1; sweep rates above 0.1 too"),
        ("the best rate of muP width 64 is the lowest swept, 0.0001: its optimum may lie below "
        "it, and the claims read it as 0.0001; sweep rates below 0.0001 too")]


def test_a_small_run_with_its_coordinate_check(tmp_path) -> None:
    with pytest.warns(UserWarning) as said:  # (sgd's best rate here is the highest swept)
        r = width(get_task("blobs"), widths=[8, 32], lrs=[0.1, 0.01, 0.001], epochs=1,
                  coord_steps=2)
    assert [str(w.message) for w in said if "swept" in str(w.message)] == [
        f"lrlab: {line}" for line in r.warnings]
    c = r.coordinates
    assert set(c["parametrisation"]) == {"sp", "mup"} and set(c["step"]) == {0, 1, 2}
    assert set(c["layer"]) == {0, 1, 2}
    sp, mup = (c[(c["width"] == 8) & (c["parametrisation"] == p)]["l1"].to_numpy()
               for p in ("sp", "mup"))
    assert (sp == mup).all()  # m = 1: the same model
    r.save(tmp_path / "w")
    assert WidthResult.load(tmp_path / "w").verdict() == r.verdict()
    assert "coordinate check" in r.write_report(tmp_path / "w.html").read_text()


@pytest.mark.parametrize("kwargs, words", [
    ({"widths": [8]}, "two or more distinct positive widths"),
    ({"lrs": [0.1, 0.01]}, "three or more rates"),
    ({"optimizer": "rprop"}, "not 'rprop'"),
    ({"lr_mults": [{}]}, "sets lr_mults itself"),
])
def test_bad_input_is_one_line(kwargs, words) -> None:
    settings = {"widths": [8, 16], "lrs": [0.1, 0.01, 0.001], "epochs": 1, **kwargs}
    with pytest.raises(LrlabError, match=words) as err:
        width(get_task("blobs"), **settings)
    assert "\n" not in str(err.value)


def test_a_width_this_machine_cannot_hold_is_refused_before_any_trains() -> None:
    """Width 10**8 on blobs (10**16 weights) failed only after width 8 had trained, SP and
    muP; every width's model and memory are now checked first."""
    epochs = []
    with pytest.raises(LrlabError, match=r"^width 100000000: .*; give smaller widths$") as err:
        width(get_task("blobs"), widths=[8, 10**8], lrs=[0.1, 0.01, 0.001], epochs=1,
              callbacks=[epochs.append])
    assert "\n" not in str(err.value) and epochs == []


def test_a_loader_task_is_refused_in_one_line() -> None:
    """The study builds an MLP from the input tensors' shape: a DataLoader task (a new
    user's own data) crashed with "'DataLoader' object has no attribute 'x'" (a bug in
    lrlab, exit 1); it is one line now, before any training."""
    from torch.utils.data import DataLoader, TensorDataset

    from lrlab import Task

    data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,))), 8)
    task = Task.from_loaders(lambda: nn.Linear(4, 2), data, data, loss=nn.CrossEntropyLoss())
    with pytest.raises(LrlabError, match="DataLoader, not tensors") as err:
        width(task, widths=[8, 16], lrs=[0.1, 0.01, 0.001], epochs=1)
    assert "\n" not in str(err.value)
