"""``lrlab list WHAT``: every name the command line knows, one convention for all of them.

Each listing prints one line per name, ``NAME  what it is``, with any details on indented
lines below it, read from the library's registries: ``tasks``, ``schedules``, ``surfaces``
(the playground's), ``experiments`` (``lrlab reproduce``), ``rules`` and ``plots``. The
older spellings (``lrlab tasks``, ``lrlab schedule list``, ``lrlab playground --list``,
``lrlab reproduce --list``) print the same listing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import click

from lrlab.cli._command import Command

__all__ = ["LISTINGS", "list_command", "print_listing"]

_COMMON_KEYS = ("warmup", "warmup_steps", "warmup_frac", "warmup_start")


def _row(name: str, text: str, width: int) -> str:
    return f"{name:{width}s} {text}"


def _detail(text: str, width: int) -> str:
    return f"{'':{width}s}   {text}"


def tasks() -> Iterator[str]:
    """The built-in tasks (``--task package.module:function`` loads one of your own)."""
    from lrlab.tasks import DESCRIPTIONS

    for name, text in DESCRIPTIONS.items():
        yield _row(name, text, 16)


def schedules() -> Iterator[str]:
    """The schedule names ``--schedule NAME[:key=value,...]`` takes, with their keys."""
    from lrlab.schedules import SCHEDULES

    for name, kind in SCHEDULES.items():
        yield _row(name, kind.summary, 10)
        for key, spec in kind.keys.items():
            if key in _COMMON_KEYS:
                continue
            value = f"= {spec.default}" if spec.default is not None else _need(kind, key)
            if spec.choices:
                value += f"  [{'|'.join(spec.choices)}]"
            yield _detail(f"{key} {value}: {spec.help}", 10)
    some = next(iter(SCHEDULES.values()))
    by_metric = [name for name, kind in SCHEDULES.items() if kind.follows_metric]
    yield f"every schedule{' but ' + ', '.join(by_metric) if by_metric else ''} also takes: " + \
        ", ".join(f"{key}{'' if some.keys[key].default is None else f' = {some.keys[key].default}'}"
                  f" ({some.keys[key].help})" for key in _COMMON_KEYS)
    yield ("e.g. step:factor=0.5,every=5   exp:decay=100   cosine:warmup=5   "
           "multistep:milestones=30/60   wsd:cooldown_frac=0.2,shape=1-sqrt   "
           "plateau:factor=0.5,patience=3")


def _need(kind, key: str) -> str:
    """How a key without a default is asked for: required, one of a group, or optional."""
    for group in kind.one_of:
        if key in group:
            others = [k for k in group if k != key]
            return f"(required, or {' or '.join(others)})" if others else "(required)"
    return "(optional)"


def surfaces() -> Iterator[str]:
    """The playground's loss surfaces: box, start, rate and minima; then the update rules."""
    from lrlab.optim import RULES
    from lrlab.playground import SURFACES

    for s in SURFACES.values():
        x0, x1, y0, y1 = s.box
        yield _row(s.name, s.description, 11)
        minima = ", ".join(f"({x:.4g}, {y:.4g})" for x, y in s.minima)
        yield _detail(f"box x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}]; start "
                      f"{s.start[0]:g},{s.start[1]:g}; lr {s.lr:g}; minima {minima}", 11)
    yield f"update rules: {', '.join(RULES)}"


def experiments() -> Iterator[str]:
    """The brief's experiments ``lrlab reproduce NAME`` runs: the section, what it shows."""
    from lrlab.reproduce import EXPERIMENTS, SIZES

    for exp in EXPERIMENTS.values():
        needs = f" (needs {', '.join(exp.needs)})" if exp.needs else ""
        yield _row(exp.name, f"{exp.section}: {exp.summary}{needs}", 19)
    yield f"lrlab reproduce NAME [--size {'|'.join(SIZES)}] --out DIR"


def rules() -> Iterator[str]:
    """The update rules ``--optimizer`` takes, with their hyperparameters' defaults."""
    from lrlab.optim import RULES

    for name, rule in RULES.items():
        hps = ", ".join(f"{k}={v:g}" for k, v in rule.defaults.items())
        yield _row(name, hps or "lr only", 16)


def plots() -> Iterator[str]:
    """The plots ``lrlab report --plots`` draws (each where the run has what it needs)."""
    from lrlab.report import PLOTS

    yield from PLOTS


#: What ``lrlab list`` lists: a name -> a function yielding the lines.
LISTINGS: dict[str, Callable[[], Iterator[str]]] = {
    "tasks": tasks, "schedules": schedules, "surfaces": surfaces,
    "experiments": experiments, "rules": rules, "plots": plots,
}


def print_listing(what: str) -> None:
    """Print the listing ``what`` (a key of :data:`LISTINGS`)."""
    for line in LISTINGS[what]():
        click.echo(line)


@click.command("list", cls=Command)
@click.argument("what", type=click.Choice(list(LISTINGS)), metavar="WHAT")
def list_command(what: str) -> None:
    """List the names a command takes: tasks, schedules, surfaces, experiments, rules,
    plots."""
    print_listing(what)
