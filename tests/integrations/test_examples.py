"""Every script in examples/ runs, at its tiny size, and trains at the rate it found."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name))["main"]


def test_the_plain_loop(capsys) -> None:
    """It gives find_lr its training's steps, so its momentum 0.9 training (tiny: of 57 steps)
    gets the rates to try that the README says such a training needs (before: none)."""
    rate = _main("plain_loop_find_lr.py")(tiny=True)
    assert math.isfinite(rate) and rate > 0
    said = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("warning: a short training (57 optimizer steps): train ")]
    assert len(said) == 1 and f" {rate:.3g} and " in said[0] and "momentum 0.9" in said[0]


def test_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    _main("tensorboard_sweep.py")(str(tmp_path), tiny=True)
    assert len(list((tmp_path / "sweep").iterdir())) == 6  # 3 rates x 2 seeds
    assert list((tmp_path / "range_test").glob("events.out.tfevents.*"))


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)`:FutureWarning")
@pytest.mark.filterwarnings("ignore:lrlab. :UserWarning")  # tiny: a short training's line
def test_lightning() -> None:
    pytest.importorskip("lightning")
    rate = _main("lightning_finder.py")(tiny=True)
    assert math.isfinite(rate) and rate > 0


@pytest.mark.filterwarnings("ignore:lrlab. :UserWarning")  # tiny: a short training's line
def test_the_hf_trainer() -> None:
    pytest.importorskip("transformers")
    rate = _main("hf_trainer_finder.py")(tiny=True)
    assert math.isfinite(rate) and rate > 0
