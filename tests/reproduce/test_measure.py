"""Tests for the measurements the reproductions' judges share (lrlab.reproduce._measure)."""

from __future__ import annotations

import numpy as np
import pytest

from lrlab import sweep
from lrlab.reproduce._measure import curves, final


@pytest.fixture(scope="module")
def run():
    """Two seeds of lr=0.1 and two of lr=1000 (which diverges at once) on blobs."""
    return sweep("blobs", lrs=[0.1, 1000.0], seeds=[0, 1], epochs=3)


def test_a_diverged_seed_counts_at_the_value_given(run) -> None:
    assert run.members.loc[run.members["lr"] == 1000.0, "diverged"].all()
    dropped = curves(run, "auc")[1000.0]
    counted = curves(run, "auc", diverged=0.5)[1000.0]
    assert list(counted.columns) == [0, 1]
    assert counted.notna().all().all()
    kept = dropped.notna()  # epochs recorded before the divergence are unchanged
    np.testing.assert_array_equal(counted[kept].to_numpy(), dropped[kept].to_numpy())
    assert (counted[~kept].fillna(-1).to_numpy()[~kept.to_numpy()] == 0.5).all()
    mean, _ = final(counted, 1.0)
    assert mean == pytest.approx(counted.mean(axis=0).mean())


def test_members_that_did_not_diverge_are_untouched(run) -> None:
    a = curves(run, "auc")[0.1]
    b = curves(run, "auc", diverged=0.5)[0.1]
    assert a.equals(b)
