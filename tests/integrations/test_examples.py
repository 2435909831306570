"""Every script in examples/ runs, at its tiny size, and trains at the rate it found."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name))["main"]


def test_the_plain_loop() -> None:
    rate = _main("plain_loop_find_lr.py")(tiny=True)
    assert math.isfinite(rate) and rate > 0


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
