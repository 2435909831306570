"""The store's command-line tests share ``tests/cli/cli_helpers.py``."""

from __future__ import annotations

import sys
from pathlib import Path

_CLI_TESTS = str(Path(__file__).resolve().parents[1] / "cli")
if _CLI_TESTS not in sys.path:
    sys.path.append(_CLI_TESTS)
