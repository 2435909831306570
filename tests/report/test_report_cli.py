"""``lrlab report`` and ``--report`` on the commands that write a run: the files, the
terminal table, and bad input as one ``error:`` line with nothing half-written."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_bad_input, run
from report_helpers import synthetic_run

from lrlab.report import load_run, member_table


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command runs in the test's folder (a study database lands there, if any)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRLAB_DB", str(tmp_path / "studies.db"))


def test_report_writes_page_csv_and_markdown(capsys, blobs_dir: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "report", blobs_dir, "--out", tmp_path / "r.html",
                         "--csv", tmp_path / "t.csv", "--markdown", tmp_path / "t.md",
                         "--plots", "heatmap,sse", "--target", "0.85")
    assert code == 0, err
    assert "best: lr=" in out and "per member (target: " in out  # verdict and table
    assert "mean over 2 seeds of their best" in out  # two seeds: the rate's mean
    page = (tmp_path / "r.html").read_text()
    assert len(re.findall(r'<figure class="lrlab-plot"', page)) == 2
    table = pd.read_csv(tmp_path / "t.csv")
    want = member_table(load_run(blobs_dir), target=0.85)
    assert table["epochs_to_target"].tolist() == pytest.approx(
        want["epochs_to_target"].astype(float).tolist(), nan_ok=True)
    markdown = (tmp_path / "t.md").read_text()
    assert markdown.startswith("### per member (target: validation auc >= 0.85, given)")
    assert "### robustness" in markdown


def test_report_of_a_range_test_folder(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "find", "blobs", "--steps", "30", "--seeds", "2", "--out",
                       tmp_path / "f", "--report", tmp_path / "find.html")
    assert code == 0, err
    assert {p.name for p in (tmp_path / "f").iterdir()} == {
        "curve.csv", "readings.json", "range_test.json", "band.csv"}
    code, _, err = run(capsys, "report", tmp_path / "f", "--target", "0.9")  # was ignored
    assert "--target must be left out for a range test" in assert_bad_input(code, err)
    code, out, err = run(capsys, "report", tmp_path / "f", "--out", tmp_path / "again.html")
    assert code == 0, err
    assert "suggested rate" in out
    for name in ("find.html", "again.html"):
        page = (tmp_path / name).read_text()
        assert "lrlab: range test on blobs" in page
        assert page.count('<figure class="lrlab-plot"') == 1
        assert "suggestion" in page and "seeds: lowest to highest" not in page  # in the PNG


def test_sweep_report_matches_report_of_its_folder(capsys, blobs_cli, tmp_path: Path) -> None:
    """``sweep --report`` and ``report RUN --out`` give the same verdict and tables."""
    folder, page = blobs_cli
    code, _, err = run(capsys, "report", folder, "--out", tmp_path / "again.html", "--plots",
                       "heatmap")
    assert code == 0, err
    caption = re.compile(r'<(?:h3|p class="verdict")[^>]*>(.*?)</')
    table = re.compile(r'<table class="lrlab-table">.*?</table>', re.DOTALL)
    a, b = page.read_text(), (tmp_path / "again.html").read_text()
    assert caption.findall(a) == caption.findall(b) and table.findall(a) == table.findall(b)


@pytest.mark.parametrize("command", [
    ["sweep", "blobs", "--lrs", "0.1"], ["train", "blobs"], ["find", "blobs"],
    ["grid", "blobs"], ["fastest", "blobs"], ["halving", "blobs"],
])
def test_an_unwritable_report_path_stops_before_training(capsys, tmp_path: Path,
                                                          command: list[str]) -> None:
    code, out, err = run(capsys, *command, "--report", tmp_path / "missing" / "r.html")
    assert "does not exist" in assert_bad_input(code, err)
    assert out == ""  # nothing trained, nothing printed
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, words", [
    (["{tmp}/nowhere", "--out", "{tmp}/r.html"], "does not exist"),
    (["{tmp}/empty", "--out", "{tmp}/r.html"], "holds no lrlab records"),
    (["{run}", "--plots", "curves,pie", "--out", "{tmp}/r.html"], "unknown plot 'pie'"),
    (["{run}", "--plots", "range_test"], "does not apply to a sweep"),
    (["{run}", "--plots", "curves,curves", "--out", "{tmp}/r.html"],  # accepted, drawn once
     "--plots lists 'curves' twice; give each once"),
    (["{run}", "--out", "{tmp}/missing/r.html"], "does not exist"),
    (["{run}", "--out", "{tmp}"], "is a directory"),
    (["{run}", "--csv", "{tmp}/missing/t.csv"], "does not exist"),
    (["{run}", "--target", "-1", "--out", "{tmp}/r.html"],  # an AUC run: accepted before
     "--target must be from 0 to 1 for validation auc"),
])
def test_bad_input_is_one_line_and_leaves_nothing(capsys, tmp_path: Path, blobs_dir: Path,
                                                  args: list[str], words: str) -> None:
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = run(capsys, "report", *(a.format(tmp=tmp_path, run=blobs_dir) for a in args))
    assert words in assert_bad_input(code, err)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_an_old_page_survives_a_failed_report(capsys, tmp_path: Path, blobs_dir: Path) -> None:
    page = tmp_path / "r.html"
    page.write_text("old page")
    code, _, err = run(capsys, "report", blobs_dir, "--plots", "nope", "--out", page)
    assert_bad_input(code, err)
    assert page.read_text() == "old page"


def test_csv_and_markdown_replace_only_what_lrlab_wrote(capsys, tmp_path: Path,
                                                       blobs_dir: Path) -> None:
    """``--csv`` and ``--markdown`` replace a file lrlab wrote there (the same table's CSV,
    Markdown ending in lrlab's mark) or an empty one, and refuse anything else in one line
    before any output, as the page does: a user's notes given by a typo survive. One file
    named twice is refused too (the second output would replace the first)."""
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    for _ in range(2):  # the second run replaces the first's files
        code, _, err = run(capsys, "report", blobs_dir, "--csv", csv, "--markdown", md)
        assert code == 0, err
    assert md.read_text().endswith("<!-- written by lrlab -->\n")
    notes = tmp_path / "notes.txt"
    for flag in ("--csv", "--markdown"):
        notes.write_text("my notes\n")
        code, out, err = run(capsys, "report", blobs_dir, flag, notes)
        assert "exists and is not" in assert_bad_input(code, err) and out == ""
        assert notes.read_text() == "my notes\n"
    code, _, err = run(capsys, "report", blobs_dir, "--csv", md)  # another table's file
    assert "is not a table lrlab wrote" in assert_bad_input(code, err)
    code, _, err = run(capsys, "report", blobs_dir, "--csv", csv, "--markdown", csv)
    assert "--csv and --markdown both name" in assert_bad_input(code, err)
    empty = tmp_path / "empty.csv"
    empty.touch()
    code, _, err = run(capsys, "report", blobs_dir, "--csv", empty)
    assert code == 0, err
    assert pd.read_csv(empty).columns.tolist() == pd.read_csv(csv).columns.tolist()


def test_learning_curve_command_and_its_report(capsys, tmp_path: Path) -> None:
    code, out, err = run(capsys, "learning-curve", "blobs", "--lrs", "1,0.1", "--sizes",
                         "60,0.24", "--epochs", "2", "-q", "--out", tmp_path / "lc")
    assert code == 0, err
    assert "best validation auc per setting and" in out and "lr=0.1" in out  # (was "metric")
    assert (tmp_path / "lc" / "size60" / "records.csv").is_file()
    assert (tmp_path / "lc" / "size120" / "records.csv").is_file()  # 0.24 of 500 examples
    code, _, err = run(capsys, "report", tmp_path / "lc", "--plots", "learning_curve", "--out",
                       tmp_path / "lc.html")
    assert code == 0, err
    assert "lrlab: learning curve on blobs" in (tmp_path / "lc.html").read_text()
    code, _, err = run(capsys, "learning-curve", "blobs", "--sizes", "60,lots")
    assert "--sizes: 'lots' is neither a count nor a fraction" in assert_bad_input(code, err)
    code, _, err = run(capsys, "learning-curve", "blobs", "--sizes", "60,60")  # (it ran)
    assert "--sizes lists 60 twice" in assert_bad_input(code, err)
    for sizes in ("0", "60,1.5"):  # was: "subset must be at least 1 example", or ran
        code, _, err = run(capsys, "learning-curve", "blobs", "--sizes", sizes)
        assert "--sizes must be counts of at least 1 or fractions in (0, 1]" in \
            assert_bad_input(code, err)


def test_report_content_in_flags_says_every_piece_of_advice_as_a_flag() -> None:
    """``in_flags`` says the advice of a report (verdict, warnings, notes, captions, settings,
    the tables' text) in the flags of the command that makes the run again: a range test's
    folder names find's ramp (``--start``), any other run only what every training command
    takes (``--monitor``, ``--optimizer``)."""
    import dataclasses

    from lrlab.cli._options import FIND_RERUN, RERUN
    from lrlab.cli._report import in_flags
    from lrlab.report._report import ReportContent

    advice = "try optimizer='adam'; start lower (start=1e-10)"
    content = ReportContent(
        title="t", verdict=advice, settings={"warnings": [advice], "steps": 100},
        tables=[(advice, pd.DataFrame({"why": [advice], "lr": [0.1]}))], figures=[],
        notes=advice, warnings=[advice])
    said = in_flags(content, FIND_RERUN)
    flags = "try --optimizer adam; start lower (--start 1e-10)"
    assert said.verdict == said.notes == said.tables[0][0] == flags
    assert said.warnings == said.settings["warnings"] == [flags]
    assert said.tables[0][1]["why"].tolist() == [flags]
    assert said.tables[0][1]["lr"].tolist() == [0.1] and said.settings["steps"] == 100
    assert in_flags(content, RERUN).verdict == "try --optimizer adam; start lower (start=1e-10)"
    numbered = dataclasses.replace(content, tables=[("t", pd.DataFrame({0: [advice]}))])
    assert in_flags(numbered, FIND_RERUN).tables[0][1][0].tolist() == [flags]  # not text-named
    assert content.verdict == advice  # the content given is left as it was


def test_a_report_page_is_checked_again_when_written_after_training(tmp_path: Path) -> None:
    """``--report`` is checked before training; a file the user put there while it trained
    is refused when the page is written too, not replaced (write_page checks it again)."""
    from lrlab import LrlabError
    from lrlab.cli._report import write_run_report

    trained = synthetic_run()
    notes = tmp_path / "notes.html"
    notes.write_text("<p>mine</p>")
    with pytest.raises(LrlabError, match="is not a page lrlab wrote"):
        write_run_report(trained, notes, plots=["sse"])
    assert notes.read_text() == "<p>mine</p>"


@pytest.mark.parametrize(("marker", "inside", "said"), [
    ("evidence.json", "runs/lrlab", (r"is a reproduction \(lrlab reproduce --out\), not one run: "
                                    r"its page is .*/repro/report\.html; lrlab report reads "
                                    r"each run in it: .*/repro/runs/lrlab$")),
    ("cooldown.json", "run", (r"is an lrlab cooldown study \(its --out\), not one run: its page "
                             r"is cooldown's --report \(from Python: lrlab\.studies\."
                             r"CooldownResult\.load\(folder\)\.write_report\(PAGE\)\); lrlab "
                             r"report reads each run in it: .*/repro/run$")),
])
def test_report_of_a_reproduction_or_study_folder_names_its_runs(
        capsys, blobs_dir: Path, tmp_path: Path, marker: str, inside: str, said: str) -> None:
    """A reproduction's or a study's --out holds runs, not one: report said it 'holds no lrlab
    records ... give a folder written by --out', which it was; it now says what the folder is,
    where its page is, and the runs in it that report reads."""
    import shutil

    folder = tmp_path / "repro"
    shutil.copytree(blobs_dir, folder / inside)
    (folder / marker).write_text("{}")
    code, _, err = run(capsys, "report", folder)
    assert re.search(said, assert_bad_input(code, err))
    code, out, err = run(capsys, "report", folder / inside)
    assert code == 0 and "best: lr=" in out, err
