"""Runs the report tests draw: the synthetic sweep (``report_helpers``) and one real blobs
sweep from the command line (a few epochs, two seeds, one rate that diverges) shared by the
session."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import synthetic_run

from lrlab.train import SweepResult


@pytest.fixture
def run() -> SweepResult:
    return synthetic_run()


@pytest.fixture(scope="session")
def blobs_cli(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real sweep from the command line, ``--out`` and ``--report``: lr 10 diverges, two
    seeds, every step recorded, three epochs. Returns (run folder, report page)."""
    from lrlab.cli import main

    tmp = tmp_path_factory.mktemp("blobs")
    code = main(["sweep", "blobs", "--lrs", "10,1,0.1", "--epochs", "3", "--seeds", "0,1",
                 "--record-steps", "-q", "--db", str(tmp / "studies.db"), "--out",
                 str(tmp / "run"), "--report", str(tmp / "report.html")])
    assert code == 0
    return tmp / "run", tmp / "report.html"


@pytest.fixture(scope="session")
def blobs_dir(blobs_cli: tuple[Path, Path]) -> Path:
    return blobs_cli[0]


@pytest.fixture(scope="session")
def report_page(blobs_cli: tuple[Path, Path]) -> Path:
    """The blobs sweep's full report (every plot), written by ``lrlab sweep --report``."""
    return blobs_cli[1]


@pytest.fixture(scope="session")
def blobs_run(blobs_dir: Path) -> SweepResult:
    return SweepResult.load(blobs_dir)
