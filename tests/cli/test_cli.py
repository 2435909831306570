"""Tests for the ``lrlab`` command line: in-process through ``main(argv)``, plus the script."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_bad_input, idx_gz, run, snapshot

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"



def verdict_lines(out: str) -> list[str]:
    """The stdout lines that start with "best:"."""
    return [line for line in out.splitlines() if line.startswith("best:")]


def fake_mnist(directory: Path) -> Path:
    """A directory of four small, valid MNIST-layout .gz files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        (directory / f"{prefix}-images-idx3-ubyte.gz").write_bytes(idx_gz(images))
        (directory / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(idx_gz(labels))
    return directory




@pytest.fixture
def mnist_dir() -> Path:
    """The shared real MNIST directory, or skip."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST files not found at {MNIST_DIR}")
    return MNIST_DIR


# --- commands that work ------------------------------------------------------------------


def test_sweep_prints_table_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """sweep blobs --quiet: a table naming each member, a "best:" verdict, exit 0."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1,0.01", "--epochs", "2",
                         "--quiet")
    assert code == 0, err
    assert err == ""
    assert "lr=0.1" in out and "lr=0.01" in out
    assert "blobs" in out
    verdicts = verdict_lines(out)
    assert len(verdicts) == 1
    assert verdicts[0].startswith(("best: lr=0.1 ", "best: lr=0.01 "))
    assert "validation auc" in verdicts[0] and "of 2" in verdicts[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_sweep_out_writes_records(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  fmt: str) -> None:
    """--out DIR writes records, members (csv or parquet) and summary.json."""
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1,0.01", "--epochs", "2", "-q",
                       "--out", out_dir, "--format", fmt)
    assert code == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert names == {f"records.{fmt}", f"members.{fmt}", "summary.json"}
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    members = read(out_dir / f"members.{fmt}")
    assert members["label"].tolist() == ["lr=0.1", "lr=0.01"]
    records = read(out_dir / f"records.{fmt}")
    assert set(records["epoch"]) == {1, 2}
    assert str(out_dir) in err


def test_train_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """train blobs --lr 0.01: one member, exit 0."""
    code, out, err = run(capsys, "train", "blobs", "--lr", "0.01", "--epochs", "2", "-q",
                         "--out", tmp_path / "one")
    assert code == 0, err
    assert verdict_lines(out)[0].startswith("best: lr=0.01 ")
    members = pd.read_csv(tmp_path / "one" / "members.csv")
    assert members["lr"].tolist() == [0.01]


def test_sweep_digits_momentum_logspace(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """digits with logspace rates and momentum 0.9: three members of the momentum rule."""
    code, out, err = run(capsys, "sweep", "digits", "--lrs", "logspace:1e-3:1:3",
                         "--optimizer", "momentum", "--momentum", "0.9", "--epochs", "1", "-q",
                         "--out", tmp_path / "d")
    assert code == 0, err
    assert len(verdict_lines(out)) == 1
    members = pd.read_csv(tmp_path / "d" / "members.csv")
    np.testing.assert_allclose(members["lr"], [1e-3, 10 ** -1.5, 1.0], rtol=1e-5)
    assert (members["optimizer"] == "momentum").all()
    np.testing.assert_allclose(members["momentum"], 0.9, rtol=1e-6)


def test_sweep_mnist_linear_subset(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   mnist_dir: Path) -> None:
    """mnist-linear on a 2,000-image subset of the real files, one epoch."""
    code, out, err = run(capsys, "sweep", "mnist-linear", "--lrs", "0.5,0.1", "--epochs", "1",
                         "--subset", "2000", "--data-dir", mnist_dir, "--no-download", "-q",
                         "--out", tmp_path / "m")
    assert code == 0, err
    assert "mnist-linear" in out
    assert len(verdict_lines(out)) == 1
    records = pd.read_csv(tmp_path / "m" / "records.csv")
    assert set(records["member"]) == {0, 1}
    acc = records[(records["split"] == "val") & (records["metric"] == "accuracy")]["value"]
    assert (acc > 0.5).all()


def test_user_task_option(capsys: pytest.CaptureFixture[str], user_module: str) -> None:
    """--task mod:fn trains a user's task from the working directory."""
    code, out, err = run(capsys, "sweep", "--task", f"{user_module}:make", "--lrs", "0.1",
                         "-q")
    assert code == 0, err
    assert "mine" in out
    assert verdict_lines(out)[0].startswith("best: lr=0.1 ")


def test_tasks_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    """lrlab tasks lists blobs and the other built-in tasks, one per line."""
    code, out, _ = run(capsys, "tasks")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert "blobs" in names and "digits" in names and "mnist-linear" in names


def test_verdict_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """The verdict is one stdout line even when it lists several diverged members."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "10000,3000,1000,300,0.1",
                         "--epochs", "1", "-q")
    assert code == 0, err
    verdicts = verdict_lines(out)
    assert len(verdicts) == 1
    assert verdicts[0].endswith("diverged: lr=10000, lr=3000, lr=1000, lr=300"), out


def test_member_with_nan_outputs_does_not_crash(capsys: pytest.CaptureFixture[str]) -> None:
    """A member overflowing to NaN (lr=1e20) is reported as diverged, not a traceback."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "1e20,0.1", "--epochs", "1", "-q")
    assert code == 0, err
    assert verdict_lines(out)[0].startswith("best: lr=0.1 ")


def test_title_says_how_many_epochs_ran_of_those_asked(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every member diverged in epoch 1 of 3: training stops there, and the table's title
    says so ("1 of 3 epochs"; it said "1 epochs", as if one had been asked); one epoch as
    asked is "1 epoch"."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "1e4,3e3", "--epochs", "3", "-q")
    assert code == 0, err
    assert "blobs: sgd, 1 of 3 epochs" in out and "every member diverged" in out
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q")
    assert code == 0, err
    assert "blobs: sgd, 1 epoch " in out


def test_subset_of_all_but_one_example(capsys: pytest.CaptureFixture[str]) -> None:
    """--subset 499 of blobs' 500 training examples trains (stratified), exit 0."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1",
                         "--subset", "499", "-q")
    assert code == 0, err
    assert "blobs[499]" in out


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["sweep", "nope"],
    ["sweep", "blobs", "--lrs", "abc"],
    ["sweep", "blobs", "--lrs", "1,,2"],
    ["sweep", "blobs", "--lrs", "0"],
    ["sweep", "blobs", "--lrs", "-1"],
    ["sweep", "blobs", "--lrs=-1"],
    ["sweep", "blobs", "--lrs", "nan"],
    ["sweep", "blobs", "--lrs", "inf"],
    ["sweep", "blobs", "--lrs", "logspace:0:1:3"],
    ["train", "blobs", "--lr", "0"],
    ["train", "blobs", "--lr", "nan"],
    ["train", "blobs", "--lr", "-0.1"],
    ["sweep", "blobs", "--epochs", "0"],
    ["sweep", "blobs", "--batch-size", "0"],
    ["sweep", "blobs", "--batch-size", "501", "--epochs", "1"],
    ["sweep", "blobs", "--optimizer", "nope"],
    ["sweep", "blobs", "--hp", "alpha"],
    ["sweep", "blobs", "--hp", "=1"],
    ["sweep", "blobs", "--hp", "alpha=1"],
    ["sweep", "blobs", "--subset", "abc"],
    ["sweep", "blobs", "--subset", "0"],
    ["sweep", "blobs", "--subset", "1.5"],
    ["sweep", "blobs", "--seeds", "a,b"],
    ["sweep", "blobs", "--epochs", "two"],
    ["sweep", "blobs", "--no-such-option"],
    ["sweep"],
    ["sweep", "--task", "lrlab_no_such_module_xyz:make"],
    ["sweep", "--task", "no_function_part"],
    ["nope-command"],
], ids=lambda a: " ".join(a))
def test_bad_input_is_one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Bad input: exit 2 and one "error:" line on stderr, no traceback."""
    code, _, err = run(capsys, *argv, "-q")
    assert_bad_input(code, err)


def test_missing_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--data-dir that does not exist: one error line naming it."""
    missing = tmp_path / "not-there"
    code, _, err = run(capsys, "sweep", "mnist-linear", "--data-dir", missing, "--no-download",
                       "-q")
    assert str(missing) in assert_bad_input(code, err)


def test_empty_data_dir_without_download(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    """An empty --data-dir with --no-download: one error line, nothing fetched."""
    code, _, err = run(capsys, "sweep", "mnist-linear", "--data-dir", tmp_path, "--no-download",
                       "-q")
    assert_bad_input(code, err)
    assert list(tmp_path.iterdir()) == []


def test_truncated_idx_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A truncated train-images .gz: one error line naming the file."""
    data = fake_mnist(tmp_path / "data")
    images = data / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    code, _, err = run(capsys, "sweep", "mnist-linear", "--data-dir", data, "--no-download",
                       "-q")
    line = assert_bad_input(code, err)
    assert "train-images-idx3-ubyte.gz" in line and "truncated" in line


def test_wrong_magic_idx_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A train-images file with a wrong magic number: one error line naming the file."""
    data = fake_mnist(tmp_path / "data")
    images = data / "train-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(images.read_bytes()))
    raw[:4] = b"\x12\x34\x08\x03"
    images.write_bytes(gzip.compress(bytes(raw), mtime=0))
    code, _, err = run(capsys, "sweep", "mnist-linear", "--data-dir", data, "--no-download",
                       "-q")
    line = assert_bad_input(code, err)
    assert "train-images-idx3-ubyte.gz" in line and "magic" in line


def test_user_task_with_nan_inputs(capsys: pytest.CaptureFixture[str], user_module: str) -> None:
    """A user task whose training inputs hold NaN: exit 2, one line."""
    code, _, err = run(capsys, "sweep", "--task", f"{user_module}:with_nan", "--lrs", "0.1",
                       "-q")
    assert "NaN" in assert_bad_input(code, err)


def test_user_task_missing_function(capsys: pytest.CaptureFixture[str], user_module: str) -> None:
    """--task mod:missing: exit 2, one line saying the module has no such name (it said
    'check that the module is importable', which it was); a constant: 'is an int'."""
    code, _, err = run(capsys, "sweep", "--task", f"{user_module}:missing", "-q")
    line = assert_bad_input(code, err)
    assert f"module {user_module} (" in line and "has no 'missing'" in line
    assert "importable" not in line
    code, _, err = run(capsys, "sweep", "--task", f"{user_module}:CONSTANT", "-q")
    assert "'CONSTANT' is an int, not a function" in assert_bad_input(code, err)


def test_out_is_an_existing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--out naming an existing file: one error line, the file unchanged."""
    target = tmp_path / "results.txt"
    target.write_text("precious\n")
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q",
                         "--out", target)
    assert_bad_input(code, err)
    assert target.read_text() == "precious\n"
    assert out == ""


def test_failed_run_leaves_previous_out_intact(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """A later command failing on bad input leaves an earlier run's --out untouched."""
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q",
                       "--out", out_dir)
    assert code == 0, err
    before = snapshot(out_dir)
    assert "records.csv" in before
    for bad in (["--lrs", "abc"], ["--lrs", "0.1", "--epochs", "0"],
                ["--lrs", "0.1", "--batch-size", "501"], ["--lrs", "0.1", "--subset", "x"],
                ["--lrs", "0.1", "--optimizer", "nope"]):
        code, _, err = run(capsys, "sweep", "blobs", *bad, "-q", "--out", out_dir)
        assert_bad_input(code, err)
        assert snapshot(out_dir) == before
    code, _, err = run(capsys, "sweep", "nope", "-q", "--out", out_dir)
    assert_bad_input(code, err)
    assert snapshot(out_dir) == before


# --- the installed console script --------------------------------------------------------


def test_console_script() -> None:
    """The installed lrlab script: a sweep exits 0; an unknown task exits 2 with one line."""
    script = Path(sys.executable).with_name("lrlab")
    found = str(script) if script.is_file() else shutil.which("lrlab")
    if found is None:
        pytest.skip("the lrlab console script is not installed next to this Python")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # both at once: each spends most of its time importing torch
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
             for argv in ([found, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q"],
                          [found, "sweep", "nope"])]
    (ok_out, ok_err), (_, bad_err) = (p.communicate(timeout=180) for p in procs)
    assert procs[0].returncode == 0, ok_err
    assert "best: lr=0.1 " in ok_out
    assert procs[1].returncode == 2
    lines = [line for line in bad_err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unknown task 'nope'"), bad_err
    assert "Traceback" not in bad_err


def test_another_packages_warning_is_marked_as_its_own_once(monkeypatch, capsys) -> None:
    """A warning torch raises (the nested-tensor prototype note of a pre-norm Transformer)
    prints once per command as Python writes a warning, 'file:line: UserWarning: ...' (torch
    names the caller's line); an lrlab line stays 'warning: ...', lrlab's finding. Before,
    torch's printed as lrlab's 'warning:' line."""
    import warnings

    from torch import nn

    import lrlab.cli._list as listing
    from lrlab.cli import main

    def listed(what: str) -> None:
        for _ in range(2):  # a search builds the model many times: said once
            nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, norm_first=True), 2)
            warnings.simplefilter("default")  # as lrlab's code does: Python's registry forgets
        warnings.warn("lrlab: a finding of lrlab's", UserWarning, stacklevel=1)
    monkeypatch.setattr(listing, "print_listing", listed)
    assert main(["list", "tasks"]) == 0
    err = capsys.readouterr().err.splitlines()
    torch_lines = [line for line in err if "enable_nested_tensor" in line]
    assert len(torch_lines) == 1 and torch_lines[0].startswith("test_cli.py:")
    assert ": UserWarning: enable_nested_tensor is True" in torch_lines[0]
    assert "warning: a finding of lrlab's" in err
