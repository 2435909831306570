"""Tests for lrlab._io.atomic_write."""

from __future__ import annotations

import os
import stat

import pytest

from lrlab._errors import LrlabError
from lrlab._io import atomic_write


def test_the_file_gets_the_mode_a_plain_open_would(tmp_path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = atomic_write(tmp_path / "atomic.txt", lambda p: p.write_text("y"))
    assert path.read_text() == "y"
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path) -> None:
    path = tmp_path / "kept.txt"
    path.write_text("old")

    def fail(p):
        p.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(LrlabError, match="cannot write"):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
