"""``benchmarks/pick_guard.py``'s comparison on constructed records: which picks moved, each
move's regret and verdict, and the command that reproduces a pick (the picks themselves are
``lrlab.search.auto``'s and ``range_test``'s, the grids ``lrlab.sweep``'s, tested there)."""

from __future__ import annotations

import math

import pytest


@pytest.fixture
def guard(bench_import):
    return bench_import("pick_guard")


def _pick(auto: float, find: float, auto_kinds=(), find_kinds=()) -> dict:
    return {"auto": auto, "auto kinds": list(auto_kinds), "find": find,
            "find kinds": list(find_kinds), "auto s": 1.0, "find s": 0.5}


def test_moved_lists_rates_and_kinds_that_changed_and_nothing_else(guard) -> None:
    old = {"meta": {"lrlab": "/a"}, "text s0": _pick(1.0, 0.5, ["few_steps"]),
           "text s1": _pick(1.0, math.nan, [], ["no rate"]),
           "vae s0": _pick(0.1, 0.2, [], ["plateau"]), "lstm s0": _pick(3.16, 1.0),
           "gone s0": _pick(1.0, 1.0)}
    new = {"meta": {"lrlab": "/b"}, "text s0": _pick(1.0, 0.5, ["few_steps"]),
           "text s1": _pick(1.0, math.nan, [], ["no rate"]),      # nan to nan: the same
           "vae s0": _pick(0.1, 0.2, [], ["plateau", "ranked_by_loss"]),
           "lstm s0": {"error": "ValueError: no"}, "new s0": _pick(1.0, 1.0),
           "poisson s1": _pick(0.3, 0.3)}
    old["poisson s1"] = _pick(0.3 * (1 + 1e-12), 0.3)              # a rounding: the same
    rows = guard.moved(old, new)
    assert [(r["scenario"], r["seed"], r["finder"], r["rate moved"]) for r in rows] == [
        ("vae", 0, "find", False), ("lstm", 0, "auto", True), ("lstm", 0, "find", True)]
    assert rows[0]["new kinds"] == ["plateau", "ranked_by_loss"]
    assert rows[1]["old"] == 3.16 and math.isnan(rows[1]["new"])
    assert rows[1]["error"] == "ValueError: no" and rows[0]["error"] is None
    moved_auto = guard.moved({"x s2": _pick(1.0, 1.0)}, {"x s2": _pick(0.562, 1.0)})
    assert [(r["finder"], r["old"], r["new"]) for r in moved_auto] == [("auto", 1.0, 0.562)]


@pytest.mark.parametrize("old, new, unit, expected", [
    (1.0, 1.4, "pt", "same"), (1.0, 0.2, "pt", "better"), (1.0, 2.9, "pt", "worse"),
    (1.0, 3.1, "pt", "WORSE"), (10.0, 10.9, "%", "same"), (10.0, 14.0, "%", "worse"),
    (10.0, 15.5, "%", "WORSE"), (24.8, 3.0, "%", "better")])
def test_verdict_reads_the_change_in_regret_against_the_thresholds(guard, old, new, unit,
                                                                   expected) -> None:
    assert guard.verdict(old, new, unit) == expected


def test_judge_scores_both_picks_against_the_grids_best(guard) -> None:
    grid = {0.1, 0.3, 1.0}
    accuracy = {0.1: 0.90, 0.2: 0.93, 0.3: 0.95, 1.0: 0.50}
    row = {"scenario": "text", "seed": 0, "finder": "auto", "old": 0.3, "new": 1.0}
    j = guard.judge(row, accuracy, True, grid)
    assert (j["old regret"], j["unit"], j["grid best"]) == (0.0, "pt", 0.3)
    assert j["new regret"] == pytest.approx(45.0) and j["verdict"] == "WORSE"
    off_grid = guard.judge(row | {"new": 0.2}, accuracy, True, grid)
    assert off_grid["new regret"] == pytest.approx(2.0) and off_grid["verdict"] == "worse"
    # a loss over a floor of -1: excess (0.5 - -1) / (0.2 - -1) - 1 = 25%; no rate: the worst
    loss = {0.01: 0.2, 0.1: 0.5, 1.0: 3.0}
    j = guard.judge(row | {"old": math.nan, "new": 0.1}, loss, False, {0.01, 0.1, 1.0}, -1.0)
    assert j["unit"] == "%" and j["grid best"] == 0.01
    assert j["old regret"] == pytest.approx(100 * (4.0 / 1.2 - 1))
    assert j["new regret"] == pytest.approx(25.0) and j["verdict"] == "better"


def test_command_names_the_scenarios_task_rule_and_settings(guard) -> None:
    assert guard.command("mobilenet nesterov", 2, "auto") == (
        "cd benchmarks && PYTHONPATH=../src:. lrlab auto --task user_shapes3:mobilenet "
        "--optimizer nesterov --momentum 0.9 --seed 2")
    gpt = guard.command("gpt adamw", 1, "auto")
    assert "--task user_shapes4:gpt --optimizer adamw --weight-decay 0.1 --beta2 0.95" in gpt
    assert gpt.endswith("--schedule 'cosine:warmup_frac=0.1' --seed 1")
    assert "--schedule" not in guard.command("gpt adamw", 1, "find")
    assert "--clip-grad-norm 1 " in guard.command("rowgru adam", 0, "find")
    assert guard.command("bn-cnn", 0, "find").startswith(
        "cd benchmarks && PYTHONPATH=../src:. lrlab find --task new_user:bn_cnn --optimizer sgd ")


def test_key_round_trips_names_with_spaces(guard) -> None:
    assert guard.parse_key(guard.key("resnet-wd momentum", 3)) == ("resnet-wd momentum", 3)


def test_scenario_names_lists_every_scenario_or_refuses_one_it_does_not_know(
        bench_import, capsys) -> None:
    """The scenario list every probe's --only reads (new_user.scenario_names): a comma list,
    empty for all, and an unknown name is the parser's one-line error (exit 2)."""
    import argparse

    new_user = bench_import("new_user")
    parser = argparse.ArgumentParser(prog="probe")
    assert new_user.scenario_names(parser, " lstm, vae ,") == ["lstm", "vae"]
    assert new_user.scenario_names(parser, "") == list(new_user.SCENARIOS)
    with pytest.raises(SystemExit) as stop:
        new_user.scenario_names(parser, "lstm,nosuch")
    assert stop.value.code == 2
    assert "no scenario 'nosuch'; new_user.py's SCENARIOS lists them" in capsys.readouterr().err


def test_record_hands_the_child_the_tree_by_its_absolute_path(guard, tmp_path,
                                                              monkeypatch) -> None:
    """The recording child runs in benchmarks/: a tree given by a relative path from
    elsewhere must reach it absolute, or the child imports the installed lrlab and records
    it under the tree's name without a word."""
    (tmp_path / "tree" / "src" / "lrlab").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    seen = {}

    def run(cmd, env, cwd, check):
        seen.update(path=env["PYTHONPATH"].split(":")[0], cwd=cwd)
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(guard.subprocess, "run", run)
    with pytest.raises(SystemExit):
        guard.main(["record", "tree", "out.json", "--only", "lstm", "--seeds", "0"])
    assert seen["path"] == str(tmp_path / "tree" / "src")
    assert seen["cwd"] != tmp_path
