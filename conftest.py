"""Doctests in src/lrlab see numpy, torch, math and the schedule factories without
importing them in every example."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _doctest_names(doctest_namespace: dict) -> None:
    from lrlab import schedules

    doctest_namespace.update(math=math, np=np, torch=torch)
    doctest_namespace.update({name: getattr(schedules, name) for name in schedules.__all__})
