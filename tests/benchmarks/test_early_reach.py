"""``benchmarks/early_reach.py`` on constructed races: which picks ``early_race`` would warn
on at a threshold, by what each pick was (the line itself is ``lrlab.search.auto``'s, tested
there)."""

from __future__ import annotations

import json
import math

import pytest


@pytest.fixture
def reach(bench_import):
    return bench_import("early_reach")


def _race(task: str, seed: int, lr: float, last: float, kinds=(), rule: str = "momentum"):
    return {"task": task, "optimizer": rule, "seed": seed, "lr": lr,
            "confidence": {"warning_kinds": list(kinds)},
            "table": [{"lr": lr, "last": last}, {"lr": lr * 3.16, "last": 0.2}]}


def test_tally_sorts_the_runs_it_would_warn_on_by_what_each_pick_was(reach) -> None:
    runs = [(_race("a", 0, 0.1, 0.82), 0.82, 4.7, False, []),          # an unwarned miss
            (_race("a", 1, 0.1, 0.76), 0.76, 0.5, False, []),          # a good pick
            (_race("b", 0, 0.1, 0.9), 0.9, 0.0, False, ["no_clear_descent"]),
            (_race("c", 0, 0.1, 0.99), 0.99, 9.0, False, ["race_unlearned"]),  # says more
            (_race("d", 0, 0.1, 0.85), 0.85, math.nan, False, []),     # no grid scores it
            (_race("e", 0, 0.1, 0.9), 0.9, 4.0, True, [])]             # 4% on a loss: good
    out = reach.tally(runs, 0.8)
    assert [len(out[k]) for k in out] == [1, 1, 2, 1, 1, 1]
    assert out["caught"] == ["a momentum s0 (0.820)"]
    assert out["newly warned"] == ["e momentum s0 (0.900)"]
    assert reach.tally(runs, 0.75)["newly warned"] == ["a momentum s1 (0.760)",
                                                       "e momentum s0 (0.900)"]


def test_main_scores_races_against_rows_and_grids(reach, tmp_path, capsys) -> None:
    races = tmp_path / "races.jsonl"
    races.write_text("\n".join(json.dumps(r) for r in (
        _race("deep", 0, 0.132, 0.823), _race("deep", 0, 0.01, 0.7, rule="adam"),
        _race("new_user:weighted", 1, 0.201, 0.816, rule="sgd"))))
    rows = tmp_path / "rows-momentum.json"
    rows.write_text(json.dumps([
        {"task": "deep", "seed": 0, "finder": "lrlab auto", "family": "sgd", "lr": 0.132,
         "regret": 2.5, "regression": False},
        {"task": "deep", "seed": 0, "finder": "lrlab auto (adam)", "family": "adam",
         "lr": 0.01, "regret": 0.1, "regression": False}]))
    grids = tmp_path / "grid.json"
    grids.write_text(json.dumps({"weighted s1": {"0.201": 0.875, "0.215": 0.899,
                                                 "higher": True}}))
    reach.main([str(races), "--rows", str(rows), "--grids", str(grids), "--thresholds", "0.8"])
    out = capsys.readouterr().out
    assert "caught: deep momentum s0 (0.823), new_user:weighted sgd s1 (0.816)" in out
    assert "misses unwarned 2; caught 2; good unwarned 1; newly warned 0" in out
