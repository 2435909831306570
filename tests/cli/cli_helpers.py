"""Helpers the command-line tests share: run ``lrlab`` in-process, check a bad-input exit."""

from __future__ import annotations

import pytest

from lrlab.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run ``lrlab argv`` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code: int, err: str) -> str:
    """Exit code 2, no traceback, exactly one non-empty stderr line starting "error: "."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]
