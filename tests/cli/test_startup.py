"""The command line starts without the heavy libraries: they load where a command uses them.

Checked in a fresh interpreter (what a process has imported is process-wide), by module
names, never by timing: ``benchmarks/startup.py`` measures the seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "matplotlib", "sklearn", "ray", "lrlab.report")


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return [name for name in HEAVY if name in modules]


@pytest.mark.parametrize("code", [
    "import lrlab.cli",
    "import lrlab",
    "from lrlab.cli import main; main(['--help'])",
    "from lrlab.cli import main; main(['tasks'])",
])
def test_starting_imports_nothing_heavy(code: str) -> None:
    assert _imported_after(code) == []


def test_names_still_load_on_first_use() -> None:
    assert _imported_after("import lrlab; lrlab.sweep") == ["torch", "pandas"]
