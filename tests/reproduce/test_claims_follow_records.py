"""Each experiment's verdicts move with its records and thresholds, and its numbers are the
ones an independent reading of the saved CSV files gives.

The records of a test-size run are loaded from disk, changed in one place, and judged
again: the claim that reads that place must change its verdict (both ways where possible),
so no verdict can have been written in advance.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from lrlab.reproduce import Evidence
from lrlab.reproduce import _blobs_sgd as blobs
from lrlab.reproduce import _decay_schedules as decay
from lrlab.reproduce import _fastest_sse as fastest
from lrlab.reproduce import _mnist_onelayer as mnist
from lrlab.reproduce import _optimizers_surface as surface
from lrlab.reproduce import _range_test as range_test
from lrlab.reproduce import _transfer as transfer


def _load(outcome, name: str) -> Evidence:
    return Evidence.load(outcome(name).out)


def _claim(claims, start: str):
    (hit,) = [c for c in claims if c.claim.startswith(start)]
    return hit


def _set(run, members, metric: str, split: str, value) -> None:
    """Overwrite ``metric`` on ``split`` for ``members`` (a value or ``f(epoch)``)."""
    r = run.records
    rows = r["member"].isin(list(members)) & (r["metric"] == metric) & (r["split"] == split)
    r.loc[rows, "value"] = value(r.loc[rows, "epoch"]) if callable(value) else value


def _members(run, **where) -> list[int]:
    m = run.members
    keep = np.ones(len(m), dtype=bool)
    for column, value in where.items():
        keep &= np.isclose(m[column], value) if isinstance(value, float) else m[column] == value
    return m.loc[keep, "member"].tolist()


# -- blobs-sgd (F1) ---------------------------------------------------------------------


@pytest.mark.slow
def test_blobs_values_match_an_independent_reading(outcome) -> None:
    """The final AUC per rate in the table is the mean over seeds of each seed's mean over
    the last 10% of epochs, read here straight from the CSV files."""
    o = outcome("blobs-sgd")
    rec = pd.read_csv(o.out / "runs" / "lrlab" / "records.csv")
    mem = pd.read_csv(o.out / "runs" / "lrlab" / "members.csv")
    val = rec[(rec.metric == "auc") & (rec.split == "val")].merge(mem[["member", "lr"]])
    epochs = val.epoch.max()
    tail = val[val.epoch > epochs - max(1, round(0.1 * epochs))]
    per_rate = tail.groupby(["lr", "member"]).value.mean().groupby("lr").mean()
    best = _claim(o.claims, "conclusion")
    for lr in blobs.RATES:
        assert best.values[f"final_{lr:g}"] == pytest.approx(per_rate[lr], rel=1e-12)


@pytest.mark.slow
def test_blobs_conclusion_moves_with_the_records(outcome) -> None:
    ev = _load(outcome, "blobs-sgd")
    run = ev.run("lrlab")
    _set(run, _members(run, lr=0.01), "auc", "val", 0.999)
    assert _claim(blobs.judge(ev), "conclusion").verdict == "holds"
    _set(run, _members(run, lr=0.01), "auc", "val", 0.2)
    after = blobs.judge(ev)
    assert _claim(after, "conclusion").verdict == "does not hold"
    assert _claim(after, "0.001 is the slowest").verdict != "holds"  # 0.01 is slower now


@pytest.mark.slow
def test_blobs_keras_row_reads_keras_records_and_thresholds(outcome) -> None:
    """Moving Keras' curves far away breaks the agreement; with no Keras table the row says
    "not run"; a zero bar makes it hold."""
    ev = _load(outcome, "blobs-sgd")
    if "keras" not in ev.tables:
        pytest.skip(f"Keras did not run here: {ev.settings['keras']}")
    keras = ev.tables["keras"]
    loose = dataclasses.replace(blobs.THRESHOLDS, inside=0.0, inside_part=0.0)
    assert _claim(blobs.judge(ev, loose), "lrlab's curves").verdict == "holds"
    keras.loc[keras.metric == "auc", "value"] = -5.0
    row = _claim(blobs.judge(ev), "lrlab's curves")
    assert row.verdict == "does not hold" and row.values["inside"] == 0
    del ev.tables["keras"]
    assert _claim(blobs.judge(ev), "lrlab's curves").verdict == "not run"


# -- mnist-onelayer (F2) ----------------------------------------------------------------


def test_mnist_rank_correlation_against_scipy(outcome) -> None:
    stats = pytest.importorskip("scipy.stats")
    claim = _claim(outcome("mnist-onelayer").claims, "high rates drop")
    losses = [claim.values[f"epoch1_{lr:g}"] for lr in mnist.RATES]
    assert claim.values["rho"] == pytest.approx(stats.spearmanr(mnist.RATES, losses)[0])


def test_mnist_nan_and_oscillation_claims_move_with_the_records(outcome) -> None:
    ev = _load(outcome, "mnist-onelayer")
    run = ev.run("mnist")
    top = _members(run, lr=1.0)
    assert _claim(mnist.judge(ev), "... or go NaN").values["diverged"] == \
        run.members["diverged"].sum()
    run.members.loc[run.members.member.isin(top), ["diverged", "diverged_epoch"]] = [True, 1]
    assert _claim(mnist.judge(ev), "... or go NaN").verdict == "holds"
    run.members.loc[run.members.member.isin(top), "diverged_epoch"] = 3
    assert _claim(mnist.judge(ev), "... or go NaN").verdict == "partly"
    # a zig-zag validation loss at the high rates, a smooth fall at 0.01
    _set(run, _members(run, lr=1.0) + _members(run, lr=0.5), "loss", "val",
         lambda e: 1.0 + 0.3 * (e % 2))
    _set(run, _members(run, lr=0.01), "loss", "val", lambda e: 2.0 - 0.1 * e)
    claims = mnist.judge(ev)
    assert _claim(claims, "... but they oscillate").verdict == "holds"
    assert _claim(claims, "0.01 improves linearly").verdict == "holds"
    _set(run, _members(run, lr=0.01), "loss", "val", lambda e: 2.0 + 0.1 * e)
    assert _claim(mnist.judge(ev), "0.01 improves linearly").verdict == "does not hold"


def test_mnist_overfitting_needs_val_up_while_train_goes_down(outcome) -> None:
    ev = _load(outcome, "mnist-onelayer")
    run = ev.run("mnist")
    every = run.members.member
    _set(run, every, "loss", "train", lambda e: 1.0 - 0.1 * e)
    _set(run, every, "loss", "val", lambda e: 0.5 - 0.1 * e)  # below train: no gap
    assert _claim(mnist.judge(ev), "a train/validation gap").verdict == "does not hold"
    _set(run, every, "loss", "val", lambda e: 1.5 - 0.1 * e)  # a gap, val still falling
    assert _claim(mnist.judge(ev), "a train/validation gap").verdict == "partly"
    top = _members(run, lr=1.0)
    _set(run, top, "loss", "val", lambda e: 1.5 + 0.1 * (e - 2).abs())  # turns up at epoch 2
    assert _claim(mnist.judge(ev), "a train/validation gap").verdict == "holds"


# -- fastest-sse (F3) -------------------------------------------------------------------


def test_fastest_rate_is_the_lowest_one_epoch_sse_in_the_csv(outcome) -> None:
    o = outcome("fastest-sse")
    rec = pd.read_csv(o.out / "runs" / "phase1" / "records.csv")
    mem = pd.read_csv(o.out / "runs" / "phase1" / "members.csv")
    sse = rec[(rec.metric == "sse") & (rec.split == "train") & (rec.epoch == 1)]
    lowest = sse.merge(mem[["member", "lr"]]).sort_values("value").lr.iloc[0]
    claim = _claim(o.claims, "the lowest one-epoch SSE")
    assert claim.values["fastest"] == lowest == o.evidence.settings["lrs"][
        o.evidence.settings["lrs"].index(lowest)]
    # the procedure's own choice (live) is what the replay from the files finds
    assert fastest.replay(Evidence.load(o.out))["chosen"] == o.evidence.settings["procedure_lr"]


def test_fastest_claims_move_with_the_records(outcome) -> None:
    ev = _load(outcome, "fastest-sse")
    phase1 = ev.run("phase1")
    slowest = min(ev.settings["lrs"])
    _set(phase1, _members(phase1, lr=slowest), "sse", "train", 1e-9)
    claim = _claim(fastest.judge(ev), "the lowest one-epoch SSE")
    assert claim.values["fastest"] == slowest
    runs = [ev.run("long"), *fastest._phase2(ev)]
    for run in runs:  # every rate ends alike: no larger rate is slower or less accurate
        _set(run, run.members.member, "sse", "train", 1.0)
        _set(run, run.members.member, "accuracy", "val", lambda e: 0.5 + 0.01 * e)
    claims = fastest.judge(ev)
    assert _claim(claims, "the lowest one-epoch SSE").verdict in ("does not hold", "not run")
    assert _claim(claims, "holdout accuracy rises").verdict == "does not hold"  # still rising
    for run in runs:  # rises for two epochs, then falls
        _set(run, run.members.member, "accuracy", "val",
             lambda e: 0.5 + 0.1 * e.clip(upper=2) - 0.3 * (e >= 3))
    assert _claim(fastest.judge(ev), "holdout accuracy rises").verdict == "holds"


# -- decay-schedules (F4) ---------------------------------------------------------------


def test_decay_formulas_against_torch_schedulers() -> None:
    """The judge's closed forms, checked against torch's own schedulers stepped by hand."""
    lr0, epochs, per, every = 0.5, 6, 7, 2
    last = epochs * per - 1
    steps = np.arange(1, epochs + 1) * per - 1

    def torch_rates(make) -> np.ndarray:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
        sched, seen = make(opt), []
        for _ in range(last + 1):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return np.array(seen)[steps]

    lam = torch.optim.lr_scheduler.LambdaLR
    exp = torch_rates(lambda o: torch.optim.lr_scheduler.ExponentialLR(
        o, gamma=100 ** (-1 / last)))
    inv = torch_rates(lambda o: lam(o, lambda t: 1 / (1 + 99 * t / last)))
    drops = math.floor(last / (every * per))
    stp = torch_rates(lambda o: torch.optim.lr_scheduler.StepLR(
        o, step_size=every * per, gamma=100 ** (-1 / drops)))
    for name, ref in (("exponential", exp), ("1/t", inv), ("step", stp)):
        np.testing.assert_allclose(decay.formula_rates(name, lr0, epochs, per, every), ref,
                                   rtol=1e-12)
    assert decay.formula_rates("constant", lr0, epochs, per, every) is None


def test_decay_claims_move_with_the_records(outcome) -> None:
    ev = _load(outcome, "decay-schedules")
    run = ev.run("schedules")
    specs = ev.settings["schedules"]
    assert _claim(decay.judge(ev), "step, exponential").verdict == "holds"  # lrlab's rates
    _set(run, _members(run, schedule=specs["constant"]), "loss", "val", 50.0)
    assert _claim(decay.judge(ev), "decaying the rate").verdict == "holds"
    _set(run, _members(run, schedule=specs["constant"]), "loss", "val", 1e-6)
    assert _claim(decay.judge(ev), "decaying the rate").verdict == "does not hold"
    _set(run, _members(run, schedule=specs["exponential"]), "lr", "train", 0.123)
    assert _claim(decay.judge(ev), "step, exponential").verdict != "holds"


# -- range-test (F5) --------------------------------------------------------------------


def test_range_readings_from_the_file_are_the_live_ones(outcome) -> None:
    o = outcome("range-test")
    claim = _claim(o.claims, "the accuracy-vs-rate plot")
    for key in ("min_lr", "max_lr"):
        np.testing.assert_equal(claim.values[key], o.evidence.settings[key])


def test_range_claims_move_with_records_and_thresholds(outcome) -> None:
    ev = _load(outcome, "range-test")
    strict = dataclasses.replace(range_test.THRESHOLDS, span=1e12)
    readable = _claim(range_test.judge(ev, strict), "the accuracy-vs-rate plot")
    assert readable.verdict != "holds"
    if "training" not in ev.runs:
        pytest.skip("no max_lr was read at this size")
    run = ev.run("training")
    cycle = [k for k, label in zip(run.members.member, run.members.label)
             if label.startswith("one-cycle")]
    _set(run, cycle, "accuracy", "val", 1.0)
    assert _claim(range_test.judge(ev), "one-cycle").verdict == "holds"
    _set(run, cycle, "accuracy", "val", 0.0)
    assert _claim(range_test.judge(ev), "one-cycle").verdict == "does not hold"


# -- transfer (D) -----------------------------------------------------------------------


def test_transfer_values_match_an_independent_reading(outcome) -> None:
    o = outcome("transfer")
    rec = pd.read_csv(o.out / "runs" / "finetune" / "records.csv")
    mem = pd.read_csv(o.out / "runs" / "finetune" / "members.csv")
    val = rec[(rec.metric == "accuracy") & (rec.split == "val")].merge(mem)
    last = val[val.epoch == val.epoch.max()]  # the tail of a short run is its last epoch
    means = last.groupby(["lr_mult", "lr"]).value.mean()
    claim = _claim(o.claims, "fine-tuning with")
    assert claim.values["best_uniform"] == pytest.approx(means["uniform"].max(), rel=1e-12)
    assert claim.values["best_layerwise"] == pytest.approx(
        means[transfer.LABEL].max(), rel=1e-12)


def test_transfer_claims_move_with_the_records(outcome) -> None:
    ev = _load(outcome, "transfer")
    run = ev.run("finetune")
    layered = _members(run, lr_mult=transfer.LABEL)
    _set(run, _members(run, lr_mult="uniform"), "accuracy", "val", 0.5)
    _set(run, layered, "accuracy", "val", 1.0)
    claims = transfer.judge(ev)
    assert _claim(claims, "fine-tuning with").verdict == "holds"
    assert _claim(claims, "the new head").verdict == "holds"
    _set(run, layered, "accuracy", "val", 0.0)
    claims = transfer.judge(ev)
    assert _claim(claims, "fine-tuning with").verdict == "does not hold"
    assert _claim(claims, "the new head").verdict == "does not hold"


# -- optimizers-surface (E) -------------------------------------------------------------


def test_surface_measures_on_hand_made_paths() -> None:
    minima = [(1.0, 1.0)]
    arrive = np.array([[-1.0, 1.0], [0.0, 1.0], [1.3, 1.0], [1.002, 1.0], [1.0, 1.0]])
    assert surface.overshoot(arrive, minima) == pytest.approx(0.3)
    assert surface.reached(arrive, minima, 1e-2) == 3
    leave = np.vstack([arrive, [[0.5, 1.0]]])
    assert surface.reached(leave, minima, 1e-2) is None
    assert surface.overshoot(arrive[:2], minima) == 0.0
    assert surface.escaped(np.array([[1.8, 0.001], [1.0, 0.2], [0.5, -0.6]]), 0.5) == 2


def test_surface_claims_move_with_the_paths(outcome) -> None:
    ev = _load(outcome, "optimizers-surface")
    saddle = ev.tables["saddle"]
    saddle.loc[saddle.rule == "sgd", "y"] = 0.9  # SGD off the ridge from step 0
    assert _claim(surface.judge(ev), "adaptive rules").verdict == "does not hold"
    rosen = ev.tables["rosenbrock"]
    rows = rosen.rule == "momentum"
    rosen.loc[rows, "x"] = np.linspace(-1.2, 1.5, rows.sum())  # straight past (1, 1)
    assert _claim(surface.judge(ev), "momentum overshoots").values[
        "overshoot_momentum"] == pytest.approx(0.5)
