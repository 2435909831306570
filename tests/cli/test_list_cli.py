"""``lrlab list WHAT``: one listing convention for every name the command line takes; the
older spellings print the same lines. And the options whose defaults and names come from
the library: ``--help`` shows the library's values, a wrong name gets the library's line."""

from __future__ import annotations

import inspect

import pytest
from helpers import assert_bad_input, run

from lrlab.optim import RULES
from lrlab.playground import SURFACES
from lrlab.report import PLOTS
from lrlab.reproduce import EXPERIMENTS
from lrlab.schedules import SCHEDULES
from lrlab.search import auto, halving
from lrlab.tasks import DESCRIPTIONS

NAMES = {"tasks": DESCRIPTIONS, "schedules": SCHEDULES, "surfaces": SURFACES,
         "experiments": EXPERIMENTS, "rules": RULES, "plots": PLOTS}
OLD = {"tasks": ["tasks"], "schedules": ["schedule", "list"],
       "surfaces": ["playground", "--list"], "experiments": ["reproduce", "--list"]}


@pytest.mark.parametrize("what", list(NAMES))
def test_each_listing_starts_a_line_per_name(capsys, what: str) -> None:
    code, out, err = run(capsys, "list", what)
    assert code == 0, err
    first = {line.split()[0] for line in out.splitlines() if line and not line[0].isspace()}
    assert set(NAMES[what]) <= first
    if what in OLD:
        code, again, err = run(capsys, *OLD[what])
        assert code == 0, err
        assert again == out


def test_an_unknown_listing_is_one_line(capsys) -> None:
    line = assert_bad_input(*run(capsys, "list", "nope")[::2])
    assert "tasks" in line and "plots" in line


@pytest.mark.parametrize("command, procedure, option, param", [
    ("halving", halving, "--start", "start"),
    ("halving", halving, "--subset", "subset"),
    ("auto", auto, "--budget", "budget"),
    ("auto", auto, "--candidates", "candidates"),
])
def test_help_shows_the_procedures_own_defaults(capsys, command, procedure, option,
                                                 param) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    default = inspect.signature(procedure).parameters[param].default
    text = " ".join(out.split())  # help wraps its lines
    after = text[text.index(f"{option} "):]
    assert f"[default: {default:g}]" in after[:after.index(" --", 1)]


def test_registry_names_in_help_and_the_librarys_error(capsys) -> None:
    code, out, _ = run(capsys, "sweep", "--help")
    assert code == 0 and "|".join(RULES) in out and "|".join(SCHEDULES) in out
    code, out, _ = run(capsys, "report", "--help")
    assert code == 0 and "|".join(PLOTS) in out
    line = assert_bad_input(*run(capsys, "sweep", "blobs", "--optimizer", "nope")[::2])
    assert line.startswith("error: unknown update rule 'nope'")
