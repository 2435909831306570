"""The benchmark scripts' tests import them as a run would: ``benchmarks/`` on ``sys.path``
for the test, every module that import loaded dropped again afterwards."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_import(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """``bench_import("finder_quality")``: the script's module, imported from ``benchmarks/``."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    yield importlib.import_module
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if str(BENCHMARKS) in str(getattr(module, "__file__", "") or ""):
            sys.modules.pop(name, None)
