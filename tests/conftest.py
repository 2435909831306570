"""Settings every test shares."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lrlab.tasks import Task, get_task


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


@pytest.fixture(scope="session")
def blobs() -> Task:
    """The built-in blobs task (frozen, so one for the session)."""
    return get_task("blobs")


# A user-task module (for --task / get_task("module:function")), written per test.
USER_MODULE = '''
import math

import torch
from torch import nn

from lrlab.tasks import Split, Task


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g)
    return x, (x[:, 0] > 0).long()


def make():
    x, y = _data()
    return Task(name="mine", train=Split(x[:40], y[:40]), val=Split(x[40:], y[40:]),
                model=lambda: nn.Sequential(nn.Linear(4, 2)), num_classes=2,
                batch_size=10, epochs=1)


def with_nan():
    x, y = _data()
    x[5, 1] = math.nan
    return Task(name="nan", train=Split(x[:40], y[:40]), val=Split(x[40:], y[40:]),
                model=lambda: nn.Sequential(nn.Linear(4, 2)), num_classes=2)


def not_a_task():
    return {"train": None}


def needs_args(n, seed=0):
    return make()


class Net(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.body = nn.Linear(width, 2)


CONSTANT = 3
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh user module in tmp_path (the working directory); yields its name."""
    name = f"lrlab_user_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    yield name
    sys.modules.pop(name, None)


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench_import(monkeypatch: pytest.MonkeyPatch):
    """``bench_import("finder_quality")``: a benchmark script's module, imported as a run
    imports it (``benchmarks/`` on ``sys.path`` for the test; every module that import
    loaded from there is dropped again afterwards)."""
    import importlib

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    yield importlib.import_module
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if str(BENCHMARKS) in str(getattr(module, "__file__", "") or ""):
            sys.modules.pop(name, None)
