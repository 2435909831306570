"""Per-member and robustness tables, checked against sums done by hand from the closed
forms the synthetic run is built from."""

from __future__ import annotations

import dataclasses
import math
import statistics

import pandas as pd
import pytest
from report_helpers import DIVERGED, EPOCHS, RATES, SEEDS, metric_values, synthetic_run

from lrlab import LrlabError
from lrlab.report import TARGET_FRACTION, markdown_table, member_table, robustness_table


def _expected(k: int, lr: float, metric: str, target: float, higher: bool) -> dict:
    """Member ``k``'s row, by a plain loop over its epochs."""
    last = 2 if k == DIVERGED else EPOCHS
    values = {e: metric_values(k, lr, e, "val")[metric] for e in range(1, last + 1)}
    reached = [e for e, v in values.items() if (v >= target if higher else v <= target)]
    best_epoch = (max if higher else min)(values, key=values.get)
    return {"epochs_to_target": reached[0] if reached else None,
            "seconds_to_target": 0.5 * reached[0] if reached else math.nan,
            "best": values[best_epoch], "best_epoch": best_epoch, "final": values[last],
            "wall_time_s": 0.5 * last,
            "final_train_loss": metric_values(k, lr, last, "train")["loss"] if k != DIVERGED
            else math.inf,
            "grad_norm_mean": statistics.mean(1.0 + k + 1 / e for e in range(1, last + 1)),
            "grad_norm_max": max(2.0 + k + 2 / e for e in range(1, last + 1))}


@pytest.mark.parametrize("higher", [True, False])
def test_member_table_matches_a_loop_over_the_records(higher: bool) -> None:
    """Every column of every member, with the default target (95% of the best member's
    best; the best / 0.95 when lower is better)."""
    run = synthetic_run(higher_is_better=higher)
    metric = run.monitor
    every = [metric_values(k, lr, e, "val")[metric]
             for k, (lr, _) in enumerate((lr, s) for lr in RATES for s in SEEDS)
             for e in range(1, (2 if k == DIVERGED else EPOCHS) + 1)]
    target = TARGET_FRACTION * max(every) if higher else min(every) / TARGET_FRACTION
    table = member_table(run)
    assert table.attrs["target"] == pytest.approx(target)
    for row in table.itertuples(index=False):
        want = _expected(row.member, row.lr, metric, target, higher)
        got = row._asdict()
        assert (None if pd.isna(got["epochs_to_target"]) else got["epochs_to_target"]) \
            == want["epochs_to_target"]
        assert got[f"best_val_{metric}"] == pytest.approx(want["best"])
        assert got["best_epoch"] == want["best_epoch"]
        assert got[f"final_val_{metric}"] == pytest.approx(want["final"])
        for key in ("seconds_to_target", "wall_time_s", "final_train_loss", "grad_norm_mean",
                    "grad_norm_max"):
            assert got[key] == pytest.approx(want[key], nan_ok=True), key
        assert pd.isna(got["diverged_epoch"]) == (row.member != DIVERGED)
    assert table.loc[DIVERGED, "diverged_epoch"] == 2


def test_an_explicit_target_replaces_the_default(run) -> None:
    """target=0.8 on AUC: the first epoch each member's validation AUC is >= 0.8."""
    table = member_table(run, target=0.8)
    for row in table.itertuples(index=False):
        want = _expected(row.member, row.lr, "auc", 0.8, True)["epochs_to_target"]
        assert (None if pd.isna(row.epochs_to_target) else row.epochs_to_target) == want
    assert table.attrs["target"] == 0.8
    with pytest.raises(LrlabError, match="finite"):
        member_table(run, target=math.nan)


@pytest.mark.parametrize("monitor, target, words", [
    ("auc", -1.0, "target must be from 0 to 1 for validation auc"),  # every member reaches it
    ("auc", 1.5, "target must be from 0 to 1 for validation auc"),   # none does
    ("error", -0.1, "target must be from 0 to 1 for validation error"),
    ("sse", -0.1, "target must be >= 0 for validation sse"),
])
def test_a_target_the_metric_cannot_take_is_refused(monitor: str, target: float,
                                                    words: str) -> None:
    """A share of the examples (AUC, error), a sum of squares (SSE): a target outside what
    they can be timed every member at its first epoch, or none, without a word."""
    run = dataclasses.replace(synthetic_run(higher_is_better=monitor == "auc"), monitor=monitor)
    with pytest.raises(LrlabError, match=words):
        member_table(run, target=target)
    assert member_table(run, target=0.5).attrs["target"] == 0.5  # inside: kept as given


def test_robustness_is_the_spread_over_seeds(run) -> None:
    """One row per rate: seeds, diverged count, and mean/std (ddof 1)/min/max of the best
    validation AUC over the seeds, as statistics computes them."""
    table = robustness_table(run)
    members = member_table(run)
    assert table["setting"].tolist() == [f"lr={lr:g}" for lr in RATES]
    for row in table.itertuples(index=False):
        best = members.loc[members["lr"] == row.lr, "best_val_auc"].tolist()
        assert row.seeds == len(SEEDS) == len(best)
        assert row.best_val_auc_mean == pytest.approx(statistics.mean(best))
        assert row.best_val_auc_std == pytest.approx(statistics.stdev(best))
        assert (row.best_val_auc_min, row.best_val_auc_max) == (min(best), max(best))
        assert row.diverged == (1 if row.lr == RATES[0] else 0)


def test_no_robustness_table_without_several_seeds(run) -> None:
    keep = run.members["seed"] == 0
    run.members = run.members[keep].reset_index(drop=True)
    run.records = run.records[run.records["member"].isin(run.members["member"])]
    assert robustness_table(run) is None


def test_markdown_escapes_pipes_and_shows_missing_values() -> None:
    frame = pd.DataFrame({"name": ["a|b", "c"], "value": [0.123456, math.nan],
                          "n": pd.array([3, None], dtype="Int64")})
    lines = markdown_table(frame).splitlines()
    assert lines[0] == "| name | value | n |"
    assert lines[1] == "|:---|---:|---:|"
    assert lines[2] == "| a\\|b | 0.1235 | 3 |"
    assert lines[3] == "| c | - | - |"
