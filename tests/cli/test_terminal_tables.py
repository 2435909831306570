"""Terminal tables at 80 columns: every number whole (never ending in "…"), the label
whole, the least telling columns left out and named."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from lrlab.cli._tables import compact, print_frame


def printed(frame: pd.DataFrame, width: int = 80) -> tuple[str, list[str]]:
    console = Console(file=io.StringIO(), width=width, highlight=False)
    left_out = print_frame(console, frame, "caption")
    return console.file.getvalue(), left_out


def wide_member_table() -> pd.DataFrame:
    """Fourteen columns of long numbers, as the report's member table has."""
    rng = np.random.default_rng(0)
    names = ["epochs_to_target", "seconds_to_target", "best_val_accuracy", "best_epoch",
             "final_val_accuracy", "wall_time_s", "final_train_loss", "grad_norm_mean",
             "grad_norm_max", "diverged_epoch"]
    frame = pd.DataFrame({"label": [f"lr={lr:g} seed={s}" for lr in (0.3, 0.001) for s in (0, 1)],
                          "lr": [0.3, 0.3, 0.001, 0.001], "seed": [0, 1, 0, 1]})
    for name in names:
        frame[name] = rng.uniform(-1, 1, 4) * 10.0 ** rng.integers(-6, 7, 4)
    return frame


def test_numbers_and_labels_stay_whole_at_80_columns() -> None:
    frame = wide_member_table()
    text, left_out = printed(frame)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert "…" not in text
    kept = [c for c in frame.columns if c.replace("_", " ") not in left_out]
    for _, row in frame.iterrows():  # the row of each label holds every kept value whole
        line = next(line for line in lines if f" {row['label']} " in line)
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        assert cells == [compact(row[c]) for c in kept]
    # the gradient norms and the clock go first, the rate's scores stay; a note names
    # what is missing
    assert {"grad norm max", "grad norm mean", "wall time s"} <= set(left_out)
    assert {"label", "lr", "seed", "best_val_accuracy"} <= set(kept)
    assert " ".join(text.split()).count(f"(left out at 80 columns: {', '.join(left_out)};") == 1


def test_a_table_that_fits_keeps_every_column() -> None:
    frame = wide_member_table().iloc[:, :5]
    text, left_out = printed(frame)
    assert left_out == [] and "left out" not in text and "…" not in text


def test_compact_numbers() -> None:
    assert [compact(v) for v in (-1.234567e-05, 123456789.0, 1e100, pd.NA, np.float32(0.5),
                                 np.int64(7), False)] == \
        ["-1.235e-5", "1.235e8", "1e100", "-", "0.5", "7", "no"]


def test_report_in_an_80_column_pipe(tmp_path: Path) -> None:
    """The command itself, as a pipe with ``COLUMNS=80``: no line wider, no number cut."""
    from lrlab import sweep

    sweep("blobs", lrs=[10.0, 0.1, 0.0001], seeds=[0, 1], epochs=2).save(tmp_path / "run")
    done = subprocess.run([sys.executable, "-m", "lrlab", "report", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    table_lines = [line for line in done.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(map(len, table_lines)) <= 80
    assert "…" not in done.stdout
    assert "lr=0.0001 seed=1" in done.stdout  # the longest label whole


def test_cells_and_names_are_printed_as_written_not_as_markup() -> None:
    """A study name or command holding square brackets is text: '[/x]' raised rich's
    MarkupError, '[bold]' vanished."""
    frame = pd.DataFrame({"name": ["run[/x]", "a [bold]b"], "command": ["lrlab [red]", "x"]})
    text, _ = printed(frame)
    for cell in ("run[/x]", "a [bold]b", "lrlab [red]"):
        assert cell in text
