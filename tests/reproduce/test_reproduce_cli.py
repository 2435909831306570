"""``lrlab reproduce``: the listing, a run from the command line, and bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_bad_input, no_time, run

from lrlab.reproduce import EXPERIMENTS, judge


def test_list_names_every_experiment(capsys) -> None:
    code, out, err = run(capsys, "reproduce", "--list")
    assert code == 0, err
    for name, exp in EXPERIMENTS.items():
        assert name in out and exp.section in out


def test_run_prints_the_verdict_table_and_writes_the_report(capsys, tmp_path: Path,
                                                             fake_mnist: Path,
                                                             outcome) -> None:
    """From the command line, the same seed gives the same records and verdicts as the
    library's run."""
    out = tmp_path / "mnist"
    code, stdout, err = run(capsys, "reproduce", "mnist-onelayer", "--size", "test", "--out",
                            out, "--data-dir", fake_mnist, "--no-download", "-q")
    assert code == 0, err
    claims = judge(out)
    for c in claims:
        assert c.verdict in stdout
    assert "mnist-onelayer (test): of 6 claims" in stdout
    assert (out / "report.html").is_file() and (out / "claims.csv").is_file()
    assert not (out / "figures").exists() or any((out / "figures").iterdir())
    library = outcome("mnist-onelayer")
    mine = pd.read_csv(out / "runs" / "mnist" / "records.csv")
    theirs = pd.read_csv(library.out / "runs" / "mnist" / "records.csv")
    pd.testing.assert_frame_equal(no_time(mine), no_time(theirs))
    assert [c.verdict for c in claims] == [c.verdict for c in library.claims]


@pytest.mark.parametrize("argv, words", [
    (["reproduce", "nope", "--out", "x"], ["unknown experiment 'nope'", *EXPERIMENTS]),
    (["reproduce", "--out", "x"], ["give an experiment NAME", "lrlab list experiments"]),
    (["reproduce", "decay-schedules"], ["give --out DIR"]),
    (["reproduce", "decay-schedules", "--full", "--size", "test", "--out", "x"],
     ["--full and --size test disagree"]),
])
def test_bad_input_is_one_error_line(capsys, tmp_path: Path, monkeypatch, argv,
                                     words) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    line = assert_bad_input(code, err)
    for word in words:
        assert word in line
    assert not (tmp_path / "x").exists()


def test_unwritable_out_is_refused_before_training(capsys, tmp_path: Path) -> None:
    """--out inside a file cannot become a folder: one line, exit 2, the file untouched."""
    blocker = tmp_path / "file"
    blocker.write_text("data")
    for out in (blocker, blocker / "sub"):
        code, _, err = run(capsys, "reproduce", "decay-schedules", "--size", "test",
                           "--out", out)
        line = assert_bad_input(code, err)
        assert str(blocker) in line
    assert blocker.read_text() == "data"
