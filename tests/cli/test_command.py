"""Every ``lrlab`` command refuses a single-valued option given twice (click keeps the last)."""

from __future__ import annotations

import click
import pytest
from helpers import assert_bad_input, run

from lrlab.cli import app
from lrlab.cli._command import Command, Group


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every command under ``group``, with the words that reach it."""
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


COMMANDS = dict(_commands(app))


def _single(cmd: click.Command) -> click.Option | None:
    """The first option of ``cmd`` that takes one value (not --help)."""
    return next((p for p in cmd.params if isinstance(p, click.Option) and not p.multiple
                 and not p.count and "--help" not in p.opts), None)


@pytest.mark.parametrize("words", list(COMMANDS), ids=" ".join)
def test_every_command_refuses_a_repeated_option(
        words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """Each command is lrlab's Command (or Group) and says a repeat in one line, exit 2,
    before any value is read (``x`` is no value any option takes)."""
    cmd = COMMANDS[words]
    assert isinstance(cmd, Command | Group)
    option = _single(cmd)
    if option is None:
        return
    given = [option.opts[-1]] + ([] if option.is_flag else ["x"])
    code, _, err = run(capsys, *words, *given, *given)
    line = assert_bad_input(code, err)
    assert f"{option.opts[0]}" in line and "given 2 times; give it once" in line, line


def test_two_spellings_of_one_option_are_one_option(capsys: pytest.CaptureFixture[str]) -> None:
    """``--lrs 0.01 --lr 0.1`` trained at 0.1 without a word: they are one option."""
    code, out, err = run(capsys, "playground", "quadratic", "--lrs", "0.01", "--lr", "0.1")
    assert assert_bad_input(code, err) == "error: --lr/--lrs is given 2 times; give it once"
    assert out == ""


def test_an_option_meant_to_repeat_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    """``--hp`` repeats by design; the group's own ``--version`` is single."""
    code, out, _ = run(capsys, "playground", "quadratic", "--optimizers", "adam",
                       "--hp", "beta1=0.5", "--hp", "beta2=0.9", "--steps", "5")
    assert code == 0 and "adam" in out
    assert "given 2 times" in assert_bad_input(*run(capsys, "--version", "--version")[::2])


def test_a_command_of_another_class_is_refused() -> None:
    """A command made with plain ``click.command`` would keep the last value silently."""
    with pytest.raises(TypeError, match="cls=lrlab.cli._command.Command"):
        Group("g").add_command(click.Command("plain"))


@pytest.mark.parametrize("words", [("find", "--lrs", "0.1"), ("find", "--lr", "0.1"),
                                   ("auto", "--lrs", "0.1"), ("coarse-to-fine", "--lrs", "1"),
                                   ("halving", "--lr", "1"), ("probe", "--lrs", "1")])
def test_a_search_given_rates_says_where_rates_go(
        words: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """A search that chooses its rates, given ``--lrs``, says so and names ``lrlab grid``
    (was click's "No such option '--lrs'. Did you mean '--eps'?")."""
    code, out, err = run(capsys, words[0], "digits", *words[1:])
    line = assert_bad_input(code, err)
    assert line.startswith(f"error: lrlab {words[0]} has no {words[1]}: "), line
    assert line.endswith("give them to lrlab grid TASK --lrs A,B,C") and out == ""
    code, _, err = run(capsys, "find", "digits", "--epochs", "3")
    assert "the range test trains --steps optimizer steps" in assert_bad_input(code, err)
    code, _, err = run(capsys, "auto", "digits", "--lrz", "1")  # any other: click's line
    assert assert_bad_input(code, err) == "error: No such option '--lrz'."


def test_a_search_given_seeds_names_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    """``lrlab grid digits --seeds 0,1`` (the README's sweep line with another command) got
    "Did you mean one of: '--eps', '--seed'?": a search trains from one seed; sweep crosses."""
    for name in ("grid", "coarse-to-fine", "fastest", "halving", "probe"):
        code, _, err = run(capsys, name, "digits", "--seeds", "0,1")
        line = assert_bad_input(code, err)
        assert line.startswith(f"error: lrlab {name} has no --seeds: a search trains each rate "
                               "from one seed (--seed N)"), line
        assert line.endswith("lrlab sweep TASK --lrs A,B --seeds 0,1,2"), line
