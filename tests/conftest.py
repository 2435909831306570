"""Settings every test shares."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """The suite's networks are tiny: one intra-op thread is as fast, deterministic in its
    timing, and immune to oversubscription on a busy shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def study_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands that train write their studies into ``$LRLAB_DB``: one temporary database
    for the session, not ``./lrlab.db`` in the checkout."""
    before = os.environ.get("LRLAB_DB")
    os.environ["LRLAB_DB"] = str(tmp_path_factory.mktemp("store") / "lrlab.db")
    yield
    if before is None:
        os.environ.pop("LRLAB_DB", None)
    else:
        os.environ["LRLAB_DB"] = before
