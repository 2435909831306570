"""Saving a result into a folder: all or nothing, and a killed save cleaned up next time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import snapshot

from lrlab import sweep
from lrlab._errors import LrlabError
from lrlab.train import SweepResult


@pytest.fixture(scope="module")
def result() -> SweepResult:
    return sweep("blobs", lrs=[0.1, 0.01], epochs=1)


def test_a_killed_save_leaves_nothing_under_the_name_and_is_cleaned(
        result: SweepResult, tmp_path: Path) -> None:
    """A save killed midway leaves only its hidden temporary folder (``out`` is not
    created); the next save removes it and writes every file."""
    stale = tmp_path / ".run.saving-killed"
    stale.mkdir()
    (stale / "records.csv").write_text("member,epoch\n0,")  # half a file
    result.save(tmp_path / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert sorted(os.listdir(tmp_path / "run")) == ["members.csv", "records.csv",
                                                    "summary.json"]
    loaded = SweepResult.load(tmp_path / "run").records
    assert loaded["value"].tolist() == pytest.approx(result.records["value"].tolist())


def test_a_failing_save_leaves_the_folder_as_it_was(result: SweepResult, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that fails while writing (a full disk) leaves the earlier run's files whole
    and no temporary folder behind."""
    result.save(tmp_path / "run")
    before = snapshot(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pandas.DataFrame.to_csv", full)
    with pytest.raises(LrlabError, match="No space left on device"):
        result.save(tmp_path / "run")
    assert snapshot(tmp_path) == before
