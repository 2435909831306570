"""Tests for ``lrlab auto``, ``grid``, ``coarse-to-fine``, ``fastest`` and ``halving``
(in-process)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_bad_input, run

from lrlab.cli import app
from lrlab.cli._options import as_flags
from lrlab.search import KINDS


def test_grid_prints_table_verdict_and_why(capsys) -> None:
    code, out, err = run(capsys, "grid", "blobs", "--lrs", "0.1,0.01", "--epochs", "2", "-q")
    assert code == 0, err
    assert "lr=0.1" in out and "lr=0.01" in out  # print_result's table
    assert any(line.startswith("grid: lr=") for line in out.splitlines())
    assert "why: Trained 2 rates" in out and "compute: 4 member-epochs" in out
    # one population: its table and its best are not numbered (it read "best in stage 1 of 1")
    assert "stage" not in out and any(line.startswith("best: lr=") for line in out.splitlines())


@pytest.mark.parametrize(("lrs", "advice"), [
    ("1e-6,1e-5", "try rates above 1e-05 (it did not diverge) or more epochs"),
    ("1e-6,1e-5,100", "try rates between 1e-05 and 100 (which diverged), or more epochs"),
])
def test_grid_that_learned_nothing_says_what_could_help(capsys, lrs: str, advice: str) -> None:
    """Larger rates are advised only below the first that diverged."""
    code, out, err = run(capsys, "grid", "blobs", "--lrs", lrs, "--epochs", "1", "-q")
    assert code == 0, err
    assert f"warning: no rate beat chance: {advice}" in " ".join(out.split())


def test_fastest_that_learned_nothing_does_not_advise_its_own_walk(capsys) -> None:
    """Phase 1 ranked noise: neither smaller nor larger phase-1 rates can help; the advice
    is a search with several epochs per rate."""
    code, out, err = run(capsys, "fastest", "blobs", "--lrs", "1e-7,1e-6", "--max-epochs", "1",
                         "-q")
    assert code == 0, err
    said = " ".join(out.split())
    assert "no rate learned: phase 1's one epoch cannot rank rates" in said
    assert "(lrlab grid or auto)" in said and "add smaller lrs" not in said


def test_coarse_to_fine_writes_each_stage(capsys, tmp_path: Path) -> None:
    out_dir = tmp_path / "c2f"
    code, out, err = run(capsys, "grid", "blobs", "--coarse-to-fine", "--lo", "1e-3", "--hi",
                         "1", "--fine", "3", "--epochs", "2", "--subset", "0.5", "-q",
                         "--out", out_dir)
    assert code == 0, err
    assert "coarse_to_fine: lr=" in out
    # each population's table says which it is, as --out's folders and the studies do
    assert "(stage 1 of 2)" in out and "(stage 2 of 2)" in out
    for stage in ("stage1", "stage2"):
        assert (out_dir / stage / "records.csv").is_file()
        assert (out_dir / stage / "summary.json").is_file()
    assert not (out_dir / "confirm").exists()
    saved = json.loads((out_dir / "search.json").read_text())
    assert saved["procedure"] == "coarse_to_fine"
    assert saved["compute"] == pytest.approx((4 + 3) * 2 * 0.5)
    assert saved["decade"][0] <= saved["lr"] <= saved["decade"][1]
    assert [row["lr"] for row in saved["coarse_scores"]].count(0.001) == 1
    assert saved["explanation"]


def test_coarse_to_fine_is_its_own_command_and_grid_flag_still_works(capsys) -> None:
    """``lrlab coarse-to-fine`` runs the procedure; ``grid --coarse-to-fine`` (the old
    spelling) gives the same verdict and says it is deprecated, after the run."""
    args = ["blobs", "--lo", "1e-2", "--hi", "1", "--fine", "2", "--epochs", "1", "--subset",
            "0.2", "-q"]
    code, new, err = run(capsys, "coarse-to-fine", *args)
    assert code == 0, err
    assert "deprecated" not in err
    code, old, err = run(capsys, "grid", *args[:1], "--coarse-to-fine", *args[1:])
    assert code == 0, err
    assert "`lrlab coarse-to-fine`" in err.splitlines()[-1]
    verdict = [line for line in new.splitlines() if line.startswith("coarse_to_fine: lr=")]
    assert len(verdict) == 1 and verdict[0] in old.splitlines()


def test_coarse_to_fine_at_the_edge_names_the_wider_range_as_a_flag(capsys,
                                                                   tmp_path: Path) -> None:
    """The best decade at the top of the range is told to widen it by its flag (``--hi 0.1``
    on the command line, ``hi=0.1`` in the library's explanation) instead of 'widen lo/hi',
    which named no option the command shows."""
    code, out, err = run(capsys, "coarse-to-fine", "blobs", "--lo", "1e-3", "--hi", "1e-2",
                         "--fine", "2", "--epochs", "1", "--subset", "0.2", "-q",
                         "--out", tmp_path / "c2f")
    assert code == 0, err
    said = " ".join(out.split())
    assert "0.01 is the highest decade tried; widen the range to look beyond it (--hi 0.1)." in said
    assert "lo/hi" not in said
    saved = json.loads((tmp_path / "c2f" / "search.json").read_text())
    assert saved["explanation"].endswith("widen the range to look beyond it (hi=0.1).")


def test_fastest_prints_sse_per_rate_and_writes_confirm(capsys, tmp_path: Path) -> None:
    out_dir = tmp_path / "fast"
    code, out, err = run(capsys, "fastest", "blobs", "--lrs", "100,1,0.01", "--max-epochs",
                         "4", "--patience", "2", "--epochs", "2", "--confirm", "-q",
                         "--out", out_dir)
    assert code == 0, err
    assert "phase 1: training SSE summed over one epoch" in out
    assert "dropped (larger, diverged)" in out and "fastest: lr=" in out
    saved = json.loads((out_dir / "search.json").read_text())
    assert saved["procedure"] == "fastest" and saved["stop_epoch"] >= 1
    assert [row["lr"] for row in saved["sse"]] == [100, 1, 0.01]
    assert (out_dir / "stage1" / "records.csv").is_file()
    assert (out_dir / "confirm" / "members.csv").is_file()
    stages = sorted(p.name for p in out_dir.iterdir() if p.name.startswith("stage"))
    assert len(stages) == 1 + max(row["population"] for row in saved["phase2"])


def test_halving_defaults_to_a_tenth_and_proposes_a_schedule(capsys, tmp_path: Path) -> None:
    out_dir = tmp_path / "halve"
    code, out, err = run(capsys, "halving", "blobs", "--start", "1000", "--min-lr", "0.1",
                         "--iterations", "5", "-q", "--out", out_dir)
    assert code == 0, err
    assert "halvings: 5 steps on 50 examples" in out and "schedule exp:decay=100" in out
    saved = json.loads((out_dir / "search.json").read_text())
    assert saved["schedule"] == "exp:decay=100" and saved["examples"] == 50
    assert (out_dir / "stage1" / "records.csv").is_file()


def test_auto_races_the_candidates_and_writes_the_range_test(capsys, tmp_path: Path) -> None:
    out_dir = tmp_path / "auto"
    code, out, err = run(capsys, "auto", "blobs", "--epochs", "10", "--candidates", "3",
                         "--seeds", "1", "-q", "--out", out_dir)
    assert code == 0, err
    assert "auto: lr=" in out and "why: A range test over" in out
    saved = json.loads((out_dir / "search.json").read_text())
    assert saved["procedure"] == "auto" and saved["race_epochs"] == 2  # 15% of 10 epochs
    assert len(saved["candidates"]) == 3
    # 100 steps of blobs: the range test keeps 75 and the race runs on 206 of 375 examples,
    # where its lowest rate alone learned and it moved down: no budget left to refine
    assert len(saved["refined"]) == 2 or "Skipped the refinement" in " ".join(out.split())
    assert saved["lr"] in saved["candidates"] + saved["refined"]
    assert saved["range_test"]["suggestion"] <= saved["bottom"] / 2  # find keeps a margin
    assert saved["warnings"] == saved["confidence"]["warnings"]
    assert saved["warning_kinds"] == saved["confidence"]["warning_kinds"]
    assert len(saved["warning_kinds"]) == len(saved["warnings"])
    assert all(k in KINDS for k in saved["warning_kinds"])
    assert saved["confidence"]["noise"] > 0
    flags = {p.name for p in app.commands["auto"].params}  # printed as the command says them
    for line in saved["warnings"]:  # ("budget=0.3" is "--budget 0.3")
        assert f"warning: {as_flags(line, flags)}" in " ".join(out.split())
    assert (out_dir / "stage1" / "records.csv").is_file()
    assert (out_dir / "stage2" / "records.csv").is_file()  # the refinement
    # each stage's line names its own best as that stage's (auto's pick, after them all,
    # weighs every stage); before, "best: lr=..." read as a pick the verdict then contradicted
    stages = [line.split(":")[0] for line in out.splitlines() if line.startswith("best")]
    count = len(list(out_dir.glob("stage*")))
    assert stages == [f"best in stage {i} of {count}" for i in range(1, count + 1)]


def test_auto_takes_the_schedule_you_train_with(capsys, tmp_path: Path) -> None:
    """--schedule: the races train the start of it, the verdict's rate is its peak, and
    search.json says which schedule (a warm-up longer than the race would warn)."""
    code, out, err = run(capsys, "auto", "blobs", "--epochs", "10", "--candidates", "2",
                         "--seeds", "1", "--no-check", "--schedule", "cosine:warmup=1", "-q",
                         "--out", tmp_path / "a")
    assert code == 0, err
    saved = json.loads((tmp_path / "a" / "search.json").read_text())
    assert saved["schedule"] == "cosine:warmup=1"
    assert f"auto: lr={saved['lr']:.3g} at the peak of cosine:warmup=1" in out
    stage = pd.read_csv(tmp_path / "a" / "stage1" / "members.csv")
    assert set(stage["schedule"]) == {"cosine:warmup=1"}


def test_auto_without_refining_trains_one_race(capsys, tmp_path: Path) -> None:
    code, _out, err = run(capsys, "auto", "blobs", "--epochs", "4", "--candidates", "2",
                         "--no-refine", "--no-check", "-q", "--out", tmp_path / "a")
    assert code == 0, err
    assert json.loads((tmp_path / "a" / "search.json").read_text())["refined"] == []
    assert not (tmp_path / "a" / "stage2").exists()


def test_monitor_chooses_what_ranks_the_rates_and_the_advice_names_it(capsys) -> None:
    """``--monitor`` is the task's metric (``Task(monitor=)``) for the commands that rank by
    it: grid ranks blobs by its validation loss (its own metric is the AUC); where no rate's
    accuracy beats the majority class the verdict's advice names the flag, not Python's
    ``Task(..., monitor=...)`` (before: the CLI had no such flag); resume keeps it."""
    from lrlab.cli._bundles import TaskOptions

    code, out, err = run(capsys, "grid", "blobs", "--lrs", "0.1,0.01", "--epochs", "2", "-q",
                         "--monitor", "loss")
    assert code == 0, err
    verdict = next(line for line in out.splitlines() if line.startswith("grid: lr="))
    assert "best validation loss" in verdict and "auc" not in verdict
    code, out, err = run(capsys, "sweep", "digits", "--lrs", "1e-7,1e-6", "--epochs", "1",
                         "-q")
    said = " ".join(out.split())
    assert code == 0, err
    assert "rank by 'auc' or 'loss' instead (--monitor METRIC)" in said and "Task(" not in said
    given = TaskOptions("blobs", None, None, monitor="loss")
    assert TaskOptions.from_spec(given.spec()) == given


@pytest.mark.parametrize("argv", [
    ["grid"],
    ["grid", "blobs", "--monitor", "mae"],         # not recorded: the task names its metrics
    ["auto", "blobs", "--monitor", "accuracy "],   # a name with a space
    ["sweep", "blobs", "--lrs", "0.1", "--monitor", ""],
    ["fastest", "blobs", "--monitor", "loss"],     # stops by accuracy, as its paper does
    ["halving", "blobs", "--monitor", "loss"],     # reads the training loss
    ["auto", "blobs", "--budget", "0"],
    ["auto", "blobs", "--budget", "2"],
    ["auto", "blobs", "--candidates", "1"],
    ["auto", "blobs", "--seeds", "0"],
    ["grid", "blobs", "--lrs", "0"],
    ["grid", "blobs", "--lrs", "abc"],
    ["grid", "blobs", "--coarse-to-fine", "--lrs", "1"],
    ["grid", "blobs", "--lo", "1e-3"],
    ["grid", "blobs", "--coarse-to-fine", "--lo", "1", "--hi", "0.5"],
    ["grid", "blobs", "--coarse-to-fine", "--fine", "1"],
    ["coarse-to-fine", "blobs", "--lo", "1", "--hi", "0.5"],
    ["coarse-to-fine", "blobs", "--fine", "1"],
    ["coarse-to-fine", "blobs", "--lrs", "1"],
    ["grid", "blobs", "--subset", "abc"],
    ["grid", "blobs", "--epochs", "0"],
    ["grid", "nope"],
    ["fastest", "blobs", "--factor", "1.5"],
    ["fastest", "blobs", "--patience", "0"],
    ["fastest", "blobs", "--lrs", ""],
    ["halving", "blobs", "--start", "1e-8"],
    ["halving", "blobs", "--iterations", "1"],
    ["halving", "blobs", "--decay", "1"],
    ["halving", "blobs", "--optimizer", "nope"],
])
def test_bad_input_exits_2_with_one_line(capsys, argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert_bad_input(code, err)


def test_a_fine_stage_finer_than_coarse_to_fine_reads_is_refused_as_its_flag(capsys) -> None:
    """--fine 1000 ran hundreds of trainings of rates 1.002x apart; the verdict holds steps
    under 1.1x not worth telling apart, so 25 (1.1x across the decade) is the most."""
    code, out, err = run(capsys, "coarse-to-fine", "blobs", "--fine", "1000")
    assert out == ""
    assert "--fine 1000 puts the rates 1.002x apart" in assert_bad_input(code, err)
    assert err.rstrip().endswith("give --fine 25 or fewer")


def test_out_that_is_a_file_is_refused(capsys, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    code, _, err = run(capsys, "grid", "blobs", "--lrs", "0.1", "--out", path)
    assert "is a file" in assert_bad_input(code, err)


@pytest.mark.parametrize("name", ["auto", "grid", "coarse-to-fine", "fastest", "halving"])
def test_help(capsys, name: str) -> None:
    code, out, _ = run(capsys, name, "--help")
    assert code == 0 and "--confirm" in out and "--subset" in out


def test_auto_says_one_next_step_where_two_warnings_advise(capsys, tmp_path: Path,
                                                           monkeypatch) -> None:
    """Two warnings that each say what to do (here forced: a short race on a loss and too
    few steps) print their facts, then one "next:" line, in the terminal, search.json and
    the report alike; their kinds stay."""
    from lrlab.search import _auto

    few, loss = _auto.few_steps, _auto.short_on_loss
    monkeypatch.setattr(_auto, "few_steps", lambda *a: few(6, 38))
    monkeypatch.setattr(_auto, "short_on_loss", lambda r, e, m, *, lr: loss(2, 10, "loss", lr=lr))
    out_dir, page = tmp_path / "auto", tmp_path / "auto.html"
    code, out, err = run(capsys, "auto", "blobs", "--epochs", "10", "--candidates", "3",
                         "--seeds", "1", "-q", "--out", out_dir, "--report", page)
    assert code == 0, err
    saved = json.loads((out_dir / "search.json").read_text())
    assert {"few_steps", "short_on_loss"} <= set(saved["warning_kinds"])
    said = " ".join(out.split())
    assert saved["next_step"].startswith("where a few percent matter, train ")
    assert said.count("where a few percent matter") == 1
    assert f"next: {saved['next_step']}" in said
    assert "half a decade either side" not in said  # few_steps's advice, left for the one
    assert f"next: {saved['next_step']}" in " ".join(html.unescape(page.read_text()).split())
