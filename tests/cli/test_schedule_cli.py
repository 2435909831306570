"""``lrlab schedule plot``, ``show`` and ``list``: data, PNG and bad input."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from lrlab import LrlabError
from lrlab.cli._schedule import plot_schedules, schedule
from lrlab.report import schedule_curves
from lrlab.schedules import SCHEDULES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(schedule, list(args))


def test_curves_are_plain_data() -> None:
    data = schedule_curves(["cosine", "step:factor=0.5,every=2"], lr0=0.2, epochs=4,
                           steps_per_epoch=2)
    assert data.epoch.tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]
    (label_a, cos), (label_b, step) = data.curves
    assert (label_a, label_b) == ("cosine", "step:factor=0.5,every=2")
    assert isinstance(cos, np.ndarray) and cos[0] == 0.2 and cos[4] == pytest.approx(0.1)
    assert step.tolist() == pytest.approx([0.2] * 4 + [0.1] * 4)


@pytest.mark.parametrize("log", [False, True])
def test_plot_writes_a_png(tmp_path: Path, log: bool) -> None:
    out = tmp_path / "s.png"
    args = ["plot", "cosine:warmup=5", "onecycle", "cyclic:lo=0.001,half_period=5",
            "--lr0", "0.1", "--epochs", "30", "--steps-per-epoch", "3", "--out", str(out)]
    result = invoke(*args, *(["--log"] if log else []))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png"]      # no temporary left


def test_plot_replaces_its_own_png_and_refuses_a_users_file(tmp_path: Path) -> None:
    """``schedule plot --out`` replaces a PNG it drew and refuses another file in one line,
    leaving it as it was (before: replaced)."""
    out = tmp_path / "s.png"
    for _ in range(2):
        assert invoke("plot", "cosine", "--out", str(out)).exit_code == 0
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"mine")
    result = invoke("plot", "cosine", "--out", str(mine))
    assert isinstance(result.exception, LrlabError)
    assert "is not an image lrlab drew" in str(result.exception)
    assert mine.read_bytes() == b"mine"


def test_list_names_every_schedule_and_its_keys() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    for name, kind in SCHEDULES.items():
        assert f"\n{name} " in "\n" + result.output
        for key in kind.keys:
            assert key in result.output


def test_show_prints_every_key_in_effect() -> None:
    """Given keys as written, the rest from the registry's defaults; plateau like any kind."""
    result = invoke("show", "plateau:patience=3", "step:every=5")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("plateau:patience=3  ") and "validation loss" in lines[0]
    assert "    patience = 3: " in result.output
    for key, spec in SCHEDULES["plateau"].keys.items():
        assert f"    {key} = " in result.output
        if key != "patience":
            assert f"    {key} = {spec.default}  (default): " in result.output
    assert "    every = 5.0: " in result.output and "    factor = 0.1  (default)" in result.output
    # decay sets step's factor: no default factor of 0.1 is in effect (it said there was)
    shown = invoke("show", "step:every=5,decay=100").output
    assert "    decay = 100.0: " in shown and "factor =" not in shown


@pytest.mark.parametrize("args, words", [
    (["show", "cosine", "plateau:zz=1"], "schedule 'plateau:zz=1' has no key 'zz'"),
    (["show", "cosine:warmup=-1"], "warmup=-1 must be a finite length >= 0"),  # shown as read
    (["show", "onecycle:pct_start=2"], "pct_start must be < 1"),
    (["show", "poly:power=-2"], "power must be > 0 (1 is a linear decay), got -2"),
    (["show", "cosine:min_lr=-1"], "min_lr must be >= 0"),
    (["plot", "cosine", "plateau", "--out", "{tmp}/a.png"], "follows the validation metric"),
    (["plot", "linear", "--out", "{tmp}/a.png"], "unknown schedule"),
    (["plot", "step:every=5,gamma=0.1", "--out", "{tmp}/a.png"], "no key 'gamma'"),
    (["plot", "cosine:warmup=60", "--epochs", "50", "--out", "{tmp}/a.png"],
     "shorter than training"),
    (["plot", "cosine", "--out", "{tmp}/missing/a.png"], "does not exist"),
    (["plot", "cosine", "--out", "{tmp}/a.svg"], "must end in .png"),
    (["plot", "cosine", "--out", "{tmp}"], "must end in .png"),
    (["plot", "cosine", "--lr0", "0", "--out", "{tmp}/a.png"], "--lr0 must be > 0"),
    (["plot", "cosine", "--epochs", "0", "--out", "{tmp}/a.png"], "epochs must be"),
    (["plot", "cosine", "--epochs", "10000", "--steps-per-epoch", "1001", "--out",
      "{tmp}/a.png"],  # one step over; --epochs 99999999 ran on for minutes
     "10,000 epochs of 1,001 steps are 10,010,000 rates to draw, more than a plot holds"),
])
def test_bad_input_raises_lrlab_error(tmp_path: Path, args: list[str], words: str) -> None:
    result = invoke(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert isinstance(result.exception, LrlabError), result.output
    assert words in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "a.png").exists()


def test_a_png_named_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(LrlabError, match="is a directory"):
        plot_schedules(schedule_curves(["cosine"], lr0=0.1, epochs=5), tmp_path / "d.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = invoke("plot", "cosine", "--out", str(locked / "a.png"))
        assert isinstance(result.exception, LrlabError)
        assert "cannot write" in str(result.exception)
    finally:
        locked.chmod(stat.S_IRWXU)


def test_through_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lrlab.cli import app, main

    app.add_command(schedule)
    out = tmp_path / "m.png"
    assert main(["schedule", "plot", "exp:decay=100", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert main(["schedule", "plot", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown schedule 'nope'")
