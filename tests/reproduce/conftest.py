"""Fixtures of the reproduction tests: a small MNIST-format dataset, and every experiment run
once at the test size (shared by the test files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import idx_gz

from lrlab.reproduce import Outcome, reproduce

#: The experiments whose figures are also written as PNG files in the tests (the others
#: render them only into the report, which is enough to check them and faster).
WITH_PNGS = ("decay-schedules",)


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST's four files with 12,000 training images (the last 10,000 validate, as for the
    real set) and 100 test images: class ``c`` is a bright square at its own place plus
    noise, so the networks learn something."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 12_000), ("t10k", 100)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28))
        for c in range(10):
            r, col = 2 + 5 * (c // 4), 2 + 6 * (c % 4)
            images[labels == c, r:r + 5, col:col + 5] += 150
        (root / f"{split}-images-idx3-ubyte.gz").write_bytes(idx_gz(images.clip(0, 255), level=1))
        (root / f"{split}-labels-idx1-ubyte.gz").write_bytes(idx_gz(labels, level=1))
    return root


@pytest.fixture(scope="session")
def outcome(tmp_path_factory: pytest.TempPathFactory,
            fake_mnist: Path) -> Callable[[str], Outcome]:
    """``outcome(name)``: the experiment run once per session at the test size."""
    done: dict[str, Outcome] = {}

    def run(name: str) -> Outcome:
        if name not in done:
            out = tmp_path_factory.mktemp(name)
            done[name] = reproduce(name, out, size="test", data_dir=fake_mnist, download=False,
                                   figures=name in WITH_PNGS)
        return done[name]

    return run
