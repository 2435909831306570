"""The class of every ``lrlab`` command: an option that takes one value is given once.

click keeps the last of a repeated single-valued option, so ``--lrs 0.01 --lr 0.1`` (one
option, two spellings) would train at 0.1 without a word. :class:`Command` refuses the
second one as a usage error before any value is read; options meant to repeat
(``multiple=True``: ``--schedule``, ``--hp``) and counters are left alone. Every command of
the ``lrlab`` group is one (:class:`Group` makes its subcommands so, and refuses any other).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType

import click

__all__ = ["Command", "Group"]


def _single(param: click.Parameter) -> bool:
    """Whether ``param`` takes one value, kept by click as the last one given."""
    return (isinstance(param, click.Option) and not param.multiple
            and not getattr(param, "count", False))


def refuse_repeats(command: click.Command, ctx: click.Context, args: list[str]) -> None:
    """Raise :class:`click.UsageError` if ``args`` give a single-valued option twice.

    Example:
        >>> cmd = Command("c", params=[click.Option(["--lr", "--lrs"])])
        >>> refuse_repeats(cmd, click.Context(cmd), ["--lrs", "0.01", "--lr", "0.1"])
        Traceback (most recent call last):
        click.exceptions.UsageError: --lr/--lrs is given 2 times; give it once
    """
    _, _, order = command.make_parser(ctx).parse_args(args=list(args))
    for param, times in Counter(p for p in order if _single(p)).items():
        if times > 1:
            flags = "/".join([*param.opts, *param.secondary_opts])
            raise click.UsageError(f"{flags} is given {times} times; give it once", ctx)


class _Once:
    """The check, run before click reads the arguments (a mixin of both classes), and the
    advice for a flag the command has not (:attr:`instead`)."""

    #: Flags the command has not, with what to do instead: ``lrlab find --lrs`` got click's
    #: "Did you mean '--eps'?", which misleads.
    instead: Mapping[str, str] = MappingProxyType({})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            if not ctx.resilient_parsing:  # shell completion reads half-typed lines
                refuse_repeats(self, ctx, args)
            return super().parse_args(ctx, args)
        except click.NoSuchOption as err:
            said = self.instead.get(err.option_name)
            if said is None:
                raise
            raise click.UsageError(f"lrlab {self.name} has no {err.option_name}: {said}",
                                   ctx) from None


class Command(_Once, click.Command):
    """A click command that refuses a single-valued option given twice."""


class Group(_Once, click.Group):
    """A click group whose options, subcommands and subgroups all refuse repeats."""

    command_class = Command
    group_class = type  # a subgroup is a Group too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, Command | Group):
            raise TypeError(f"lrlab command {cmd.name!r} must be made with "
                            "cls=lrlab.cli._command.Command (or Group)")
        super().add_command(cmd, name)

