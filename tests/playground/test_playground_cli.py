"""``lrlab playground``: pictures and animations written, the table shown, bad input refused
before anything is computed or written."""

from __future__ import annotations

import os
import re

import pytest
from helpers import assert_bad_input, run
from PIL import Image

from lrlab.playground import SURFACES


def test_png_and_gif(capsys, tmp_path) -> None:
    png, gif = tmp_path / "traj.png", tmp_path / "traj.gif"
    code, out, err = run(capsys, "playground", "quadratic", "--optimizers", "sgd,momentum,adam",
                         "--lr", "0.03", "--steps", "40", "--out", png, "--gif", gif,
                         "--frames", "3")
    assert code == 0, err
    with Image.open(png) as im:
        assert im.format == "PNG"
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames >= 3
    assert sorted(os.listdir(tmp_path)) == ["traj.gif", "traj.png"]
    for member in ("sgd", "momentum", "adam"):
        assert member in out
    assert f"wrote {png}" in out and f"wrote {gif}" in out


def test_one_rule_at_several_rates_with_a_start(capsys) -> None:
    code, out, err = run(capsys, "playground", "quadratic", "--lrs", "0.001,0.01,0.1",
                         "--optimizers", "sgd", "--steps", "30", "--start", "-4,1")
    assert code == 0, err
    assert "lr=0.001" in out and "lr=0.1" in out
    assert "from (-4, 1)" in out
    y, t = 1.0, 0  # SGD at lr 0.1 multiplies y by -1.5 until it is 10 half-heights out
    while abs(y) <= 25.0:
        y, t = -1.5 * y, t + 1
    row = next(line for line in out.splitlines() if "lr=0.1 " in line)
    assert row.rstrip(" │").endswith(f" {t}")  # the "diverged at" column


def test_list(capsys) -> None:
    code, out, _ = run(capsys, "playground", "--list")
    assert code == 0
    for name, surf in SURFACES.items():
        assert f"{name} " in out and surf.description in out
    assert "update rules: sgd, momentum" in out


@pytest.mark.parametrize("args,message", [
    (["ackley"], ("unknown surface 'ackley'; choose one of: quadratic, rosenbrock, beale, "
                  "saddle, himmelblau")),
    ([], "give a surface"),
    (["beale", "--optimizers", "sgd,adamax"], "unknown update rule 'adamax'"),
    (["beale", "--lr", "0"], "learning rates must be positive"),
    (["beale", "--lrs", "0.1,-1"], "learning rates must be positive"),
    (["beale", "--lr", "fast"], "cannot read rates 'fast'"),
    (["beale", "--steps", "0"], "steps must be a whole number from 1"),
    (["beale", "--start", "1"], "--start '1' must be two numbers X,Y"),
    (["beale", "--start", "nan,1"], "must be finite"),
    (["beale", "--start", "9,9"], "outside beale's box"),
    (["beale", "--hp", "beta1=1"], r"beta1=1 must be in \[0, 1\) for the update rule adam"),
    (["beale", "--out", "{tmp}/missing/a.png"], "does not exist"),
    (["beale", "--out", "{tmp}/a.jpg"], "must end in .png"),
    (["beale", "--out", "{tmp}"], "must end in .png"),
    (["beale", "--out", "{tmp}/a.png", "--gif", "{tmp}/a.png"], "must end in .gif"),
    (["beale", "--out", "{tmp}/a.png", "--gif", "{tmp}/a.gif", "--frames", "1"],
     "--frames must be at least 2"),
])
def test_bad_input(capsys, tmp_path, args, message) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = run(capsys, "playground", *args)
    line = assert_bad_input(code, err)
    assert re.search(message, line), line
    assert os.listdir(tmp_path) == []  # nothing written, not even the valid one


def test_a_picture_lrlab_did_not_draw_is_refused_before_anything_runs(capsys, tmp_path) -> None:
    """``--out``/``--gif`` naming a file of the user's: one line, exit 2, the file and the
    other output untouched (before: replaced)."""
    mine = tmp_path / "mine.gif"
    mine.write_bytes(b"GIF89a mine")
    code, out, err = run(capsys, "playground", "quadratic", "--optimizers", "sgd", "--steps",
                         "5", "--out", tmp_path / "new.png", "--gif", mine)
    assert "mine.gif exists and is not an image lrlab drew" in assert_bad_input(code, err)
    assert out == "" and os.listdir(tmp_path) == ["mine.gif"]
    assert mine.read_bytes() == b"GIF89a mine"
