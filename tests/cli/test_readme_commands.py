"""The README's and the reproductions' examples stay runnable: every ``lrlab ...`` line in
their code blocks names a command and options the command line has, with values its types
take, and every Python block is valid Python (the README's user task also trains).

Parsing is not training: what each command then checks (the task, the plan) is tested by
its own tests; this catches an example left behind when an option is renamed or removed.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from helpers import run

from lrlab.cli import app

ROOT = Path(__file__).resolve().parents[2]
#: The docs a user copies commands from (docs/benchmarks.md is a log of measurements, whose
#: commands hold placeholders such as ``--seed S``; architecture.md shows none).
DOCS = [ROOT / "README.md", ROOT / "docs" / "reproductions.md"]


def blocks(lang: str | None = None) -> list[tuple[str, str]]:
    """``(file:line, text)`` of every fenced code block (of language ``lang``)."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            if lang is None or match.group(1) == lang:
                line = text[:match.start()].count("\n") + 1
                found.append((f"{doc.name}:{line}", match.group(2)))
    return found


def command_lines() -> list[tuple[str, str]]:
    lines = []
    for where, body in blocks():
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip().startswith("lrlab "):
                lines.append((where, line.strip()))
    return lines


def parse(argv: list[str]) -> click.Command:
    """Parse ``lrlab argv`` down to its command as click would, without running it: an
    unknown command or option, or a value its type refuses, raises ``click.UsageError``."""
    ctx = app.make_context("lrlab", [], resilient_parsing=True)
    command: click.Command = app
    while isinstance(command, click.Group):
        if not argv:
            raise click.UsageError("no command given", ctx)
        name, *argv = argv
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no command {name!r}", ctx)
        leaf = not isinstance(sub, click.Group)
        ctx = sub.make_context(name, list(argv) if leaf else [], parent=ctx,
                               resilient_parsing=not leaf)
        command = sub
    return command


def test_the_docs_show_commands() -> None:
    assert len(command_lines()) >= 40  # the README's examples, docs/reproductions.md's


@pytest.mark.parametrize(("where", "line"), command_lines(),
                         ids=[f"{w} {l[:50]}" for w, l in command_lines()])
def test_every_command_line_parses(where: str, line: str) -> None:
    argv = shlex.split(line, comments=True)[1:]
    try:
        parse(argv)
    except click.UsageError as err:
        pytest.fail(f"{where}: {line!r}: {err.format_message()}")


def test_a_renamed_option_would_be_caught() -> None:
    with pytest.raises(click.UsageError, match="--lr-multiplier"):
        parse(["sweep", "digits", "--lr-multiplier", "uniform"])
    with pytest.raises(click.UsageError):
        parse(["sweep", "digits", "--epochs", "many"])


@pytest.mark.parametrize(("where", "code"), blocks("python"),
                         ids=[w for w, _ in blocks("python")])
def test_every_python_block_compiles(where: str, code: str) -> None:
    compile(code, where, "exec")


def test_the_readme_user_task_trains_as_the_readme_runs_it(capsys, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's ``mypackage/tasks.py``, saved as written, trained by its command line
    (``lrlab sweep --task mypackage.tasks:my_task --lrs 0.1,0.01``) for one epoch."""
    code = next(c for _, c in blocks("python") if "def my_task() -> Task:" in c)
    (tmp_path / "mypackage").mkdir()
    (tmp_path / "mypackage" / "tasks.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRLAB_DB", str(tmp_path / "studies.db"))
    code, out, err = run(capsys, "sweep", "--task", "mypackage.tasks:my_task", "--lrs",
                         "0.1,0.01", "--epochs", "1", "-q")
    assert code == 0, err
    assert "best: lr=" in out and "validation accuracy" in out
