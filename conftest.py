"""Doctests in src/lrlab see numpy, torch, math and the schedule factories without
importing them in every example."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _doctest_names(doctest_namespace: dict) -> None:
    from lrlab import schedules

    doctest_namespace.update(math=math, np=np, torch=torch)
    doctest_namespace.update({name: getattr(schedules, name) for name in schedules.__all__})


#: Integration modules import their optional package on import: without it (an environment
#: without the dev extras) the docstring collection skips them instead of failing.
collect_ignore = [f"src/lrlab/integrations/{name}.py" for name in ("lightning", "transformers")
                  if importlib.util.find_spec(name) is None]
