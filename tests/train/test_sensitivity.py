"""The basin of good rates, from records built by hand, checked against a hand count."""

from __future__ import annotations

import dataclasses
import json
import math

import pandas as pd
import pytest
from helpers import made_run as made

from lrlab import LrlabError
from lrlab.train import sensitivity


def test_basin_is_the_unbroken_run_of_good_rates_around_the_best() -> None:
    """AUC best 0.90 at 0.1; good means >= 0.855: 0.03 and 0.3 are; 0.001 and 3.0 are good
    too, but 0.01 and 1.0 (bad) cut them off."""
    finals = [(0.001, 0, "c", 0.87), (0.01, 0, "c", 0.80), (0.03, 0, "c", 0.86),
              (0.1, 0, "c", 0.90), (0.3, 0, "c", 0.855), (1.0, 0, "c", 0.70),
              (3.0, 0, "c", 0.88)]
    (basin,) = sensitivity(made(finals)).basins
    assert basin.best_lr == 0.1 and basin.best == pytest.approx(0.90)
    assert (basin.lo, basin.hi) == (0.03, 0.3)  # 0.001 and 3.0 are good but cut off
    assert basin.decades == pytest.approx(math.log10(0.3 / 0.03))
    assert not basin.open_low and not basin.open_high
    assert basin.describe() == "0.03 to 0.3 (1.00 decades)"


def test_lower_is_better_and_open_edges() -> None:
    """Loss best 0.40 at the largest rate: good means <= 0.40 / 0.95; open on the right."""
    finals = [(0.01, 0, "c", 0.9), (0.1, 0, "c", 0.42), (1.0, 0, "c", 0.40)]
    s = sensitivity(made(finals, monitor="loss"))
    (basin,) = s.basins
    assert (basin.lo, basin.hi, basin.open_high, basin.open_low) == (0.1, 1.0, True, False)
    assert basin.describe() == "0.1 to 1 (at least 1.00 decades)"
    (basin,) = sensitivity(made(finals, monitor="loss"), tolerance=0.01).basins
    assert (basin.lo, basin.hi) == (1.0, 1.0) and basin.decades == 0
    # one rate: it said "1 to 1 (at least 0.00 decades)"
    assert basin.describe() == "only 1, at the edge of the rates swept"


def test_median_over_seeds_counts_a_diverged_seed_as_worst() -> None:
    """Two of three seeds at 0.1 diverged: its median is the worst, so it is not good, and
    the basin around 0.01 stops before it; one diverged seed of three leaves a median."""
    finals = [(0.001, s, "c", v) for s, v in enumerate([0.80, 0.82, 0.81])] + \
             [(0.01, s, "c", v) for s, v in enumerate([0.90, 0.88, 0.89])] + \
             [(0.1, s, "c", v) for s, v in enumerate([0.95, 0.95, 0.95])] + \
             [(1.0, s, "c", v) for s, v in enumerate([0.86, 0.87, 0.10])]
    (basin,) = sensitivity(made(finals, diverged=(6, 7, 11))).basins
    assert basin.best_lr == 0.01 and basin.best == pytest.approx(0.89)
    assert math.isnan(basin.values[2])  # median of (worst, worst, 0.95)
    assert basin.values[3] == pytest.approx(0.86)  # median of (0.86, 0.87, worst)
    assert (basin.lo, basin.hi) == (0.01, 0.01)


def test_one_basin_per_setting() -> None:
    """Members that differ by schedule get their own rate curves."""
    finals = [(lr, 0, s, v) for s, values in (("a", [0.5, 0.9, 0.88]), ("b", [0.9, 0.6, 0.2]))
              for lr, v in zip((0.01, 0.1, 1.0), values)]
    s = sensitivity(made(finals))
    assert [(b.setting, b.best_lr, b.lo, b.hi) for b in s.basins] == [
        ("schedule=a", 0.1, 0.1, 1.0), ("schedule=b", 0.01, 0.01, 0.01)]
    assert s.frame()["decades"].tolist() == pytest.approx([1.0, 0.0])


def test_verdict_summary_file_and_bad_tolerance(tmp_path) -> None:
    """The verdict names the basin around the best; summary.json keeps the table."""
    finals = [(0.01, 0, "c", 0.5), (0.1, 0, "c", 0.9), (1.0, 0, "c", 0.88)]
    run = made(finals)
    assert run.verdict().endswith("; good rates (final validation auc within 5% of the best):"
                                  " 0.1 to 1 (at least 1.00 decades)")
    # the median is named where there are seeds to take it over (one seed: none)
    two = made([(lr, seed, "c", v) for seed in (0, 1) for lr, v in ((0.1, 0.9), (1.0, 0.88))])
    assert two.sensitivity().rule().endswith("of the best, median over 2 seeds")
    run.save(tmp_path)
    saved = json.loads((tmp_path / "summary.json").read_text())["sensitivity"]
    assert saved[0]["basin_lo"] == 0.1 and saved[0]["decades"] == pytest.approx(1.0)
    for bad in (0, 1, -0.1, "x"):
        with pytest.raises(LrlabError, match="tolerance must be a fraction") as err:
            run.sensitivity(bad)
        assert "\n" not in str(err.value)


def test_the_plot_shades_one_basin_per_setting() -> None:
    """Drawn from the computed data: one band and one median line per setting."""
    from lrlab.report import plot_sensitivity

    finals = [(lr, 0, s, v) for s, values in (("a", [0.5, 0.9, 0.88]), ("b", [0.9, 0.6, 0.2]))
              for lr, v in zip((0.01, 0.1, 1.0), values)]
    ax = plot_sensitivity(sensitivity(made(finals))).axes[0]
    assert len(ax.patches) == 2 and len(ax.lines) == 2
    assert [list(line.get_xdata()) for line in ax.lines] == [[0.01, 0.1, 1.0]] * 2


def test_a_best_rate_that_ended_lower_is_named_beside_the_basin() -> None:
    """The verdict's best rate is read at its best epoch, the basin on final values: when
    the two differ, the verdict says around which rate the basin lies and where the best
    rate ended (an LSTM's sweep read 'best: lr=1 ...; good rates 0.03 to 0.3', as if 1 were
    the best those rates are within 5% of)."""
    run = made([(0.01, 0, "c", 0.5), (0.1, 0, "c", 0.9), (1.0, 0, "c", 0.88)])
    later = pd.DataFrame([(k, 2, "val", "auc", v) for k, v in enumerate((0.5, 0.6, 0.88))]
                         + [(k, 2, split, "loss", 1.0) for k in range(3)
                            for split in ("train", "val")],
                         columns=run.records.columns)
    run = dataclasses.replace(run, records=pd.concat([run.records, later], ignore_index=True))
    assert run.verdict().startswith("best: lr=0.1 c seed=0 (validation auc 0.9000 at epoch 1")
    assert run.verdict().endswith(
        "; good rates (final validation auc within 5% of the best): only 1, "
        "at the edge of the rates swept, around 1, the best final auc (0.8800), where 0.1 ended at "
        "0.6000")


def test_the_best_rate_beside_the_basin_is_spelled_as_the_verdict_names_it() -> None:
    """`lrlab sweep digits --lrs logspace:1e-2:1:5 --epochs 30` said 'best: lr=0.316228
    (...) ..., where 0.316 ended at 0.9777': one rate in two spellings, read as two rates."""
    rates = (0.01, 0.0316228, 0.1, 0.316228)
    run = made([(lr, 0, "c", v) for lr, v in zip(rates, (0.5, 0.87, 0.9, 0.95))])
    later = pd.DataFrame([(k, 2, "val", "auc", v) for k, v in enumerate((0.5, 0.87, 0.9, 0.88))]
                         + [(k, 2, split, "loss", 1.0) for k in range(4)
                            for split in ("train", "val")],
                         columns=run.records.columns)
    run = dataclasses.replace(run, records=pd.concat([run.records, later], ignore_index=True))
    assert run.verdict().startswith("best: lr=0.316228 c seed=0 (validation auc 0.9500")
    assert run.verdict().endswith(
        "0.0316 to 0.316 (at least 1.00 decades), around 0.1, the best final auc (0.9000), "
        "where 0.316228 ended at 0.8800")
