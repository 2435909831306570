"""Contours and drawings: the data each picture is made of, and the files written."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from lrlab import LrlabError
from lrlab.playground import contours, draw, trajectories, write_gif, write_png
from lrlab.playground._draw import LEVELS


@pytest.fixture(scope="module")
def quadratic():
    """Four SGD rates on the quadratic; lr 0.1 leaves the box (y *= -1.5) at step 7."""
    return trajectories("quadratic", ["sgd"], [0.001, 0.01, 0.05, 0.1], steps=60)


@pytest.fixture(scope="module")
def coarse():
    return contours("quadratic", n=41)


def test_contours_sample_the_surface_on_its_box() -> None:
    c = contours("beale", n=31)
    assert c.x[0] == -4.5 and c.x[-1] == 4.5 and c.y[0] == -4.5 and c.z.shape == (31, 31)
    x, y = np.meshgrid(c.x, c.y)  # row i is y[i], column j is x[j]
    beale = ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
             + (2.625 - x + x * y**3) ** 2)
    np.testing.assert_allclose(c.z, beale, rtol=1e-13)


def test_log_levels_are_geometric_above_the_lowest_minimum() -> None:
    c = contours("rosenbrock", n=61)
    assert c.log and c.levels.shape == (LEVELS,)
    ratios = c.levels[1:] / c.levels[:-1]  # rosenbrock's minimum value is 0
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert c.levels[-1] == pytest.approx(c.z.max(), rel=1e-12)


def test_even_levels_where_the_surface_has_no_deep_valley() -> None:
    c = contours("saddle", n=61)  # minima at -1: log levels would need a shift
    assert not c.log
    steps = np.diff(c.levels)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert c.z.min() < c.levels[0] and c.levels[-1] < c.z.max()


def test_draw_shows_each_path_up_to_its_divergence(quadratic, coarse) -> None:
    fig = draw(quadratic, coarse)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-5.0, 5.0) and ax.get_ylim() == (-2.5, 2.5)
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(lines) == 4
    for k, line in enumerate(lines):
        end = quadratic.last[k]
        np.testing.assert_array_equal(line.get_xydata(), quadratic.path[k, : end + 1])
    assert quadratic.last.tolist() == [60, 60, 60, 6]
    crosses = [line for line in ax.get_lines() if line.get_marker() == "X"]
    marked = [c.get_xydata() for c in crosses if len(c.get_xdata())]
    assert len(marked) == 1  # only lr 0.1, clipped into the view
    x, y = marked[0][0]
    assert -5 <= x <= 5 and -2.5 <= y <= 2.5
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["minimum", "start", "lr=0.001", "lr=0.01", "lr=0.05",
                     "lr=0.1 (diverged at step 7)"]
    assert ax.get_title() == "quadratic: 60 steps"


def test_draw_a_frame(quadratic, coarse) -> None:
    ax = draw(quadratic, coarse, step=5).axes[0]
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert all(len(line.get_xdata()) == 6 for line in lines)
    assert not any(len(c.get_xdata()) for c in ax.get_lines() if c.get_marker() == "X")
    assert ax.get_title() == "quadratic: step 5 of 60"


def test_write_png(tmp_path, quadratic, coarse) -> None:
    out = write_png(quadratic, tmp_path / "traj.png", grid=coarse, dpi=40)
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 100
    assert os.listdir(tmp_path) == ["traj.png"]


def test_write_gif(tmp_path, quadratic, coarse) -> None:
    out = write_gif(quadratic, tmp_path / "traj.gif", grid=coarse, frames=3, fps=2, dpi=40)
    assert out.read_bytes()[:6] == b"GIF89a"
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames >= 3 and im.is_animated
    assert os.listdir(tmp_path) == ["traj.gif"]


def test_more_frames_than_steps_show_every_step_once(tmp_path, coarse) -> None:
    """frames=10**11 failed allocating 745 GiB of frame indices (the CLI's --frames has no
    bound): frames beyond one per step draw what one per step draws."""
    short = trajectories("quadratic", ["sgd"], [0.01], steps=4)
    every = write_gif(short, tmp_path / "every.gif", grid=coarse, frames=5, fps=2, dpi=40)
    many = write_gif(short, tmp_path / "many.gif", grid=coarse, frames=10**11, fps=2, dpi=40)
    assert many.read_bytes() == every.read_bytes()


@pytest.mark.parametrize("name,message", [
    ("traj.jpg", "must end in .png"),
    ("missing/traj.png", "does not exist"),
    ("folder.png", "is a directory"),
])
def test_bad_paths_write_nothing(tmp_path, quadratic, coarse, name, message) -> None:
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(LrlabError, match=message):
        write_png(quadratic, tmp_path / name, grid=coarse)
    assert os.listdir(tmp_path) == ["folder.png"]


def test_a_failed_write_keeps_the_old_file(tmp_path, quadratic, coarse) -> None:
    old = write_gif(quadratic, tmp_path / "traj.gif", grid=coarse, frames=3, fps=2, dpi=40)
    drawn = old.read_bytes()
    with pytest.raises(LrlabError, match="at least 2 frames"):
        write_gif(quadratic, old, grid=coarse, frames=1)
    with pytest.raises(ValueError):
        write_png(quadratic, tmp_path / "traj.png", grid=coarse, dpi=-5)
    assert old.read_bytes() == drawn and os.listdir(tmp_path) == ["traj.gif"]


def test_an_image_lrlab_did_not_draw_is_refused_and_its_own_replaced(tmp_path, quadratic,
                                                                     coarse) -> None:
    """``write_png``/``write_gif`` replace an image lrlab drew (its mark: the PNG's Software
    text, a comment before the GIF's end) or an empty file, and refuse any other file in one
    line, untouched (before: a user's picture at that name was replaced)."""
    png, gif = write_png(quadratic, tmp_path / "t.png", grid=coarse, dpi=40), \
        write_gif(quadratic, tmp_path / "t.gif", grid=coarse, frames=3, fps=2, dpi=40)
    with Image.open(png) as im:
        assert im.info["Software"] == "lrlab"
    with Image.open(gif) as im:  # the mark leaves every frame readable
        assert im.format == "GIF" and im.n_frames >= 3
    write_png(quadratic, png, grid=coarse, dpi=40)  # lrlab's own: replaced
    write_gif(quadratic, gif, grid=coarse, frames=3, fps=2, dpi=40)
    for name, write in (("mine.png", write_png), ("mine.gif", write_gif)):
        mine = tmp_path / name
        mine.write_bytes(b"\x89PNG a picture of mine")
        with pytest.raises(LrlabError, match=rf"^{mine} exists and is not an image lrlab "
                                             r"drew; give a new file name such as"):
            write(quadratic, mine, grid=coarse)
        assert mine.read_bytes() == b"\x89PNG a picture of mine"
