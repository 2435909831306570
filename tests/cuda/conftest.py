"""The CUDA tests: skipped without a CUDA device; ``benchmarks/gpu_check.py`` runs them.

Every test here asks for the ``device`` fixture (CUDA). ``LRLAB_TEST_DEVICE=cpu`` runs them on
the CPU instead, to check the tests themselves before spending time on a GPU machine; the
tests that only mean something on CUDA (mixed precision, synchronisation) then skip.
"""

from __future__ import annotations

import os

import pytest
import torch

NO_DEVICE = ("needs a CUDA device: run benchmarks/gpu_check.py on a GPU machine "
             "(LRLAB_TEST_DEVICE=cpu checks these tests on the CPU)")


@pytest.fixture(autouse=True)
def device() -> torch.device:
    """Where the tests run: CUDA (``LRLAB_TEST_DEVICE`` to override)."""
    where = torch.device(os.environ.get("LRLAB_TEST_DEVICE", "cuda"))
    if where.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(NO_DEVICE)
    return where


@pytest.fixture
def cuda_only(device: torch.device) -> None:
    """Skip on a non-CUDA test device (a dry run on the CPU)."""
    if device.type != "cuda":
        pytest.skip("means something on CUDA only")
