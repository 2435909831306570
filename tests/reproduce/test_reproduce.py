"""Every reproduction: its verdict table is computed from its records, and written whole.

Each experiment runs once at the test size (``conftest.outcome``). The verdicts must be the
ones :func:`lrlab.reproduce.judge` recomputes from the files alone, the files must agree with
the table, and the registry and the helpers shared by the experiments must behave.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd
import pytest

from lrlab import LrlabError
from lrlab.reproduce import (
    EXPERIMENTS,
    SIZES,
    VERDICTS,
    Claim,
    Evidence,
    get_experiment,
    judge,
    reproduce,
)
from lrlab.reproduce._claims import graded, margin, mean_se

NAMES = list(EXPERIMENTS)
#: The blobs run trains Keras too: the longest of them.
PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n == "blobs-sgd" else n for n in NAMES]


def _same(a: list[Claim], b: list[Claim]) -> None:
    assert [(c.claim, c.measured, c.verdict, c.rule) for c in a] == \
        [(c.claim, c.measured, c.verdict, c.rule) for c in b]
    for x, y in zip(a, b):
        np.testing.assert_equal(dict(x.values), dict(y.values))  # NaN equals NaN here


@pytest.mark.parametrize("name", PARAMS)
def test_verdicts_are_recomputed_from_the_saved_records(outcome, name: str) -> None:
    """judge(out) reads only the files and gives the table the run printed, number for
    number; claims.csv / claims.json hold that table; the report shows every row."""
    o = outcome(name)
    assert o.experiment == name and o.size == "test" and o.claims
    _same(judge(o.out), list(o.claims))
    saved = pd.read_csv(o.out / "claims.csv", keep_default_na=False)
    assert saved.to_dict("list") == o.table().to_dict("list")
    rows = json.loads((o.out / "claims.json").read_text())
    assert [r["verdict"] for r in rows] == [c.verdict for c in o.claims]
    page = (o.out / "report.html").read_text()
    assert html.escape(o.verdict()) in page
    for c in o.claims:
        assert c.verdict in VERDICTS and c.rule and c.measured
        assert html.escape(c.claim) in page and html.escape(c.measured) in page


@pytest.mark.parametrize("name", PARAMS)
def test_evidence_round_trips_through_the_files(outcome, name: str) -> None:
    """Every run's records and every table come back from disk as they were."""
    o = outcome(name)
    loaded = Evidence.load(o.out)
    assert loaded.experiment == name and loaded.size == "test"
    assert set(loaded.runs) == set(o.evidence.runs)
    assert set(loaded.tables) == set(o.evidence.tables)
    for key, run in o.evidence.runs.items():
        mine, back = run.records, loaded.runs[key].records
        assert len(mine) == len(back)
        np.testing.assert_array_equal(mine["value"].to_numpy(), back["value"].to_numpy())
    for key, table in o.evidence.tables.items():
        pd.testing.assert_frame_equal(table.reset_index(drop=True), loaded.tables[key],
                                      check_dtype=False)


def test_figures_are_written_as_png(outcome) -> None:
    """With figures=True every report figure is also a PNG file, named by experiment."""
    o = outcome("decay-schedules")
    assert o.figures and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in o.figures)
    assert [p.name for p in o.figures] == [f"decay-schedules-{i}.png"
                                           for i in range(1, len(o.figures) + 1)]


def test_every_experiment_has_the_three_sizes() -> None:
    assert NAMES == ["blobs-sgd", "mnist-onelayer", "fastest-sse", "decay-schedules",
                     "range-test", "transfer", "optimizers-surface"]
    for exp in EXPERIMENTS.values():
        assert set(exp.sizes) == set(SIZES) and exp.summary and exp.section


def test_unknown_experiment_names_the_known_ones() -> None:
    with pytest.raises(LrlabError, match="unknown experiment 'nope'; choose one of: blobs-sgd"):
        get_experiment("nope")


def test_bad_input_is_refused_before_training(tmp_path) -> None:
    """A file as --out, an unknown size, a missing data dir: one-line errors, nothing made."""
    afile = tmp_path / "taken"
    afile.write_text("keep me")
    with pytest.raises(LrlabError, match="is a file"):
        reproduce("decay-schedules", afile, size="test")
    assert afile.read_text() == "keep me"
    with pytest.raises(LrlabError, match="unknown size 'huge'"):
        reproduce("decay-schedules", tmp_path / "a", size="huge")  # type: ignore[arg-type]
    with pytest.raises(LrlabError, match="does not exist"):
        reproduce("mnist-onelayer", tmp_path / "b", size="test", data_dir=tmp_path / "absent")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_judge_needs_a_reproduction_folder(tmp_path) -> None:
    with pytest.raises(LrlabError, match="no evidence.json"):
        judge(tmp_path)


# -- the helpers every verdict uses -----------------------------------------------------


def test_mean_se_against_numpy() -> None:
    values = [0.91, 0.93, 0.90, 0.95]
    mean, se = mean_se(values + [math.nan])  # NaN (a diverged seed) is left out
    assert mean == pytest.approx(np.mean(values))
    assert se == pytest.approx(np.std(values, ddof=1) / 2)
    assert mean_se([0.5]) == (0.5, 0.0)
    assert all(math.isnan(v) for v in mean_se([math.nan]))


def test_margin_is_z_standard_errors_with_a_floor() -> None:
    assert margin([0.003, 0.004], z=2.0, floor=0.001) == pytest.approx(2 * 0.005)
    assert margin([0.0, 0.0], z=2.0, floor=0.001) == 0.001


def test_graded() -> None:
    assert graded(True, False) == "holds"
    assert graded(False, True) == "partly"
    assert graded(False, False) == "does not hold"
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("c", "m", "maybe", "r")  # type: ignore[arg-type]
