"""Each plot's data, against the closed forms of the synthetic run or a real sweep; each
drawing, by what it put on its axes."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest
import torch
from report_helpers import DIVERGED, EPOCHS, RATES, SEEDS, metric_values, range_result

from lrlab.report import (
    curves_info,
    grad_norm_info,
    heatmap_info,
    learning_curve,
    learning_curve_info,
    plot_curves,
    plot_grad_norm,
    plot_heatmap,
    plot_learning_curve,
    plot_range_test,
    plot_schedules,
    plot_sse,
    range_test_info,
    schedule_info,
    sse_info,
)
from lrlab.report._learning import nested_subsets
from lrlab.tasks import get_task


def _drawn_lines(fig) -> int:
    """Lines with data on every axes (legend-only proxies are empty)."""
    return sum(len(line.get_xdata()) > 0 for ax in fig.axes for line in ax.get_lines())


def test_curves_hold_every_record_and_mark_the_divergence(run) -> None:
    info = curves_info(run, "loss")
    records = run.records[run.records["metric"] == "loss"]
    assert len(info.frame) == len(records)
    assert set(info.frame["split"]) == {"train", "val"}
    # member 0 diverged in epoch 2 with an infinite loss: marked there, value unknown
    assert info.diverged[["member", "epoch"]].values.tolist() == [[DIVERGED, 2]]
    assert np.isnan(info.diverged["value"].iloc[0])
    error = curves_info(run, "error")  # a finite error at the divergence: marked at it
    assert error.diverged["value"].iloc[0] == pytest.approx(
        metric_values(DIVERGED, RATES[0], 2, "val")["error"])
    assert not info.log  # 0.5 .. 2.6: less than a decade
    fig = plot_curves(info)
    assert _drawn_lines(fig) == len(RATES) * len(SEEDS) * 2  # a line per member and split
    styles = {line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert {"-", "--"} <= styles


def test_a_blow_up_gets_a_log_axis(blobs_run) -> None:
    info = curves_info(blobs_run, "loss")
    assert info.log and set(info.diverged["lr"]) == {10.0}
    assert fig_scale(plot_curves(info)) == "log"


def fig_scale(fig) -> str:
    return fig.axes[0].get_yscale()


def test_heatmap_is_the_median_over_seeds(run) -> None:
    info = heatmap_info(run)
    assert info.lrs.tolist() == sorted(RATES)
    assert info.epochs.tolist() == list(range(1, EPOCHS + 1))
    for i, lr in enumerate(info.lrs):
        members = [k for k, (r, _) in enumerate((r, s) for r in RATES for s in SEEDS)
                   if r == lr]
        for j, epoch in enumerate(info.epochs):
            have = [metric_values(k, lr, epoch, "val")["auc"] for k in members
                    if not (k == DIVERGED and epoch > 2)]
            assert info.values[i, j] == pytest.approx(statistics.median(have))
    plot_heatmap(info)


def test_heatmap_is_blank_where_every_seed_diverged(blobs_run) -> None:
    info = heatmap_info(blobs_run)
    row = list(info.lrs).index(10.0)
    assert np.isfinite(info.values[row, 0]) and np.isnan(info.values[row, 1:]).all()


def test_sse_after_the_first_and_the_last_epoch(run) -> None:
    info = sse_info(run)
    assert info.last_epoch == EPOCHS
    for row in info.frame.itertuples(index=False):
        assert row.first == pytest.approx(metric_values(row.member, row.lr, 1, "train")["sse"])
        if row.member == DIVERGED:  # diverged in epoch 2: no SSE after the last epoch
            assert np.isnan(row.last) and row.diverged
        else:
            assert row.last == pytest.approx(
                metric_values(row.member, row.lr, EPOCHS, "train")["sse"])
    fig = plot_sse(info)
    assert fig.axes[0].get_xscale() == "log"
    assert _drawn_lines(fig) == 2  # the median per rate after epoch 1 and after the last


def test_grad_norm_mean_and_max_per_epoch(run) -> None:
    info = grad_norm_info(run)
    for row in info.frame.itertuples(index=False):
        assert row.mean == pytest.approx(1.0 + row.member + 1 / row.epoch)
        assert row.max == pytest.approx(2.0 + row.member + 2 / row.epoch)
    assert _drawn_lines(plot_grad_norm(info)) == 2 * len(RATES) * len(SEEDS)


def test_schedule_from_epoch_records_one_curve_per_setting(run) -> None:
    info = schedule_info(run)
    assert [label for label, _ in info.curves] == [f"lr={lr:g}" for lr in RATES]
    for (_, rates), lr in zip(info.curves, RATES):
        n = 2 if lr == RATES[0] else EPOCHS  # the seed-0 member of lr=1 stopped at epoch 2
        assert rates[:n] == pytest.approx([lr / e for e in range(1, n + 1)])
    assert _drawn_lines(plot_schedules(info, log=True)) == len(RATES)


def test_schedule_from_step_records(blobs_run) -> None:
    info = schedule_info(blobs_run)
    steps = len(get_task("blobs").train) // 50  # batch 50
    assert info.steps_per_epoch == steps and len(info.epoch) == 3 * steps
    assert info.epoch[:2].tolist() == [0.0, 1 / steps]
    assert {label: float(r[0]) for label, r in info.curves} == pytest.approx({
        "lr=10": 10.0, "lr=1": 1.0, "lr=0.1": 0.1})  # float32 training


@pytest.mark.parametrize("seeds", [1, 3])
def test_range_test_marks_every_reading(seeds: int) -> None:
    result = range_result(seeds)
    info = range_test_info(result)
    assert info.readings["name"].tolist() == list(result.suggestions())
    assert info.suggestion == result.suggestion.lr
    assert (info.band is not None) == (seeds > 1)
    if seeds > 1:
        band = result.band()
        assert info.band["low"].tolist() == band["low"].tolist()
        assert (info.band["low"] <= info.band["high"]).all()
    low, high = info.loss_limits
    assert low == pytest.approx(min(np.nanmin(result.losses), np.nanmin(result.smoothed)))
    assert high <= 4 * result.smoothed[0] + 1e-12  # the final blow-up is cut off
    fig = plot_range_test(info)
    finite = int(np.isfinite(info.readings["lr"]).sum())
    loss_ax, acc_ax = fig.axes[:2]
    marked = [line for line in loss_ax.get_lines() if line.get_label() != "_child"
              and line.get_xdata()[0] == line.get_xdata()[-1] and len(line.get_xdata()) == 2]
    assert len(marked) == finite
    labels = loss_ax.get_legend_handles_labels()[1]
    for name, lr in zip(info.readings["name"], info.readings["lr"]):
        if np.isfinite(lr):
            assert f"{name} {lr:.3g}" in labels
    assert loss_ax.get_xscale() == "log" and acc_ax.get_ylabel() == "validation accuracy"


def test_nested_subsets_each_inside_the_next() -> None:
    task = get_task("blobs")
    tasks = nested_subsets(task, [0.5, 40, 100], seed=3)
    assert [len(t.train) for t in tasks] == [40, 100, len(task.train) // 2]
    rows = [{tuple(x) for x in t.train.x.tolist()} for t in tasks]
    assert rows[0] <= rows[1] <= rows[2]
    share = torch.bincount(task.train.y, minlength=3) / len(task.train)
    for t in tasks:  # stratified: every class keeps its share, to one example
        counts = torch.bincount(t.train.y, minlength=3)
        assert (counts - share * len(t.train)).abs().max() <= 1
    assert torch.equal(tasks[0].val.x, task.val.x)


def test_learning_curve_one_sweep_per_size() -> None:
    curve = learning_curve("blobs", sizes=[60, 150], lrs=[1.0, 0.1], epochs=2)
    assert curve.sizes == (60, 150) and len(curve.runs) == 2
    info = learning_curve_info(curve)
    for size, run in zip(curve.sizes, curve.runs):
        best = run.summary().set_index("lr")["best_val_auc"]
        rows = info.frame[info.frame["size"] == size].set_index("lr")["best"]
        pd.testing.assert_series_equal(rows.sort_index(), best.sort_index(), check_names=False)
    assert _drawn_lines(plot_learning_curve(info)) == 2
