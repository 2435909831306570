"""An experiment of the brief: how it trains, how it is judged, what it draws.

Each experiment module defines one :class:`Experiment`: its ``sizes`` (the knobs of the
``test``, ``reduced`` and ``full`` runs), ``train(ctx) -> Evidence``, ``judge(evidence) ->
claims`` (a pure function of the records) and ``figures(evidence)``/``tables(evidence)``
for the report. :class:`Context` is what ``train`` gets: the size's knobs, where the data
are, the device, and progress callbacks for each population it trains.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from lrlab.reproduce._claims import Claim
from lrlab.reproduce._evidence import Evidence
from lrlab.tasks import Task, get_task
from lrlab.train import Member, SweepResult, fit, validated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SIZES", "Context", "Experiment", "Progress", "Size"]

Size = Literal["test", "reduced", "full"]

#: The sizes every experiment has: ``test`` (seconds, for the test suite), ``reduced`` (the
#: default, a few minutes on 2 CPU cores), ``full`` (the brief's size).
SIZES: tuple[Size, ...] = ("test", "reduced", "full")

#: ``progress(title, monitor, higher_is_better)`` -> a context giving the fit callbacks.
Progress = Callable[[str, str, bool], AbstractContextManager[list]]


@contextlib.contextmanager
def _silent(title: str, monitor: str, higher_is_better: bool) -> Iterator[list]:
    yield []


@dataclass(frozen=True)
class Context:
    """What an experiment's ``train`` works with.

    Attributes:
        size: the size's name.
        knobs: the size's settings (the experiment's own dataclass).
        data_dir: where dataset files are (``None``: ``$LRLAB_DATA``, else a cache).
        download: whether missing dataset files may be downloaded.
        device: ``cpu``, ``cuda``... (``None``: CUDA when available).
        progress: wraps each population's training (the CLI shows a bar).
        say: reports a step that is not a population's training (one line).
    """

    size: Size
    knobs: Any
    data_dir: str | None = None
    download: bool = True
    device: str | None = None
    progress: Progress = field(default=_silent, repr=False)
    say: Callable[[str], None] = field(default=lambda text: None, repr=False)

    def task(self, name: str, **kw: Any) -> Task:
        """A built-in task, reading its files from :attr:`data_dir`."""
        return get_task(name, data_dir=self.data_dir, download=self.download, **kw)

    def fit(self, title: str, task: Task, members: Sequence[Member], **settings: Any
            ) -> SweepResult:
        """Train ``members`` on ``task`` as one population (settings as :class:`SweepConfig`;
        ``lrs`` defaults to the members' rates, which :func:`lrlab.fit` ignores)."""
        settings.setdefault("lrs", sorted({m.lr for m in members}))
        config = validated(device=self.device, **settings)
        with self.progress(title, task.monitor, task.higher_is_better) as callbacks:
            return fit(task, members, config, callbacks=callbacks)

    def sweep(self, title: str, task: Task, **settings: Any) -> SweepResult:
        """Train the members a :class:`SweepConfig` expands to (rates x seeds x ...)."""
        config = validated(device=self.device, **settings)
        with self.progress(title, task.monitor, task.higher_is_better) as callbacks:
            return fit(task, config.members(), config, callbacks=callbacks)


@dataclass(frozen=True)
class Experiment:
    """One reproduction: its name, the brief's section, and its four functions.

    Attributes:
        name: the command-line name (``blobs-sgd``).
        summary: one line for ``lrlab list experiments``.
        section: where the brief describes it (``F1``).
        sizes: the knobs of each size in :data:`SIZES`.
        train: trains at ``ctx.knobs`` and returns the evidence.
        judge: the claims table from the evidence (no training, no randomness).
        figures: ``(caption, figure)`` pairs for the report, from the evidence.
        tables: ``(caption, frame)`` pairs for the report, from the evidence.
        needs: what it needs beyond lrlab, in words (for the listing).
    """

    name: str
    summary: str
    section: str
    sizes: Mapping[Size, Any]
    train: Callable[[Context], Evidence]
    judge: Callable[[Evidence], list[Claim]]
    figures: Callable[[Evidence], list[tuple[str, Figure]]]
    tables: Callable[[Evidence], list[tuple[str, pd.DataFrame]]] = lambda evidence: []
    needs: tuple[str, ...] = ()
