"""What the population searches return, and the bookkeeping they share.

Every search (:func:`~lrlab.search.grid`, :func:`~lrlab.search.coarse_to_fine`,
:func:`~lrlab.search.fastest`, :func:`~lrlab.search.halving`) trains one or more populations
through :func:`lrlab.train.fit` and returns a frozen result with the same five fields:

* ``lr``: the chosen rate;
* ``evidence``: the :class:`~lrlab.train.SweepResult` of every search population, in order;
* ``explanation``: a few sentences: what was tried, what was seen, why this rate;
* ``compute``: what the search cost, in member-epochs of the *full* training set
  (``members x epochs x examples trained on / training examples``), so a search on a 10%
  subset costs a tenth of one on all the data. A population trains every member for every
  epoch in lockstep, diverged (frozen) members included, so every member counts in full;
* ``confirmation``: the winner trained on all the data for the full epochs
  (``confirm=True``), else ``None``; it is a check of the verdict, not evidence for it, so it
  is not in ``evidence`` and not in ``compute`` (see :attr:`SearchResult.total_compute`);
* ``confidence``: how sure the search is (:class:`~lrlab.search.Confidence`): the margin
  between the pick and the runner-up against the noise of a validation score, and a
  warning line per weakness of the evidence (``None`` for a procedure that does not rank
  validation scores).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import pandas as pd

from lrlab._errors import LrlabError
from lrlab.data import counted
from lrlab.schedules import ScheduleSpec
from lrlab.search._confidence import Confidence
from lrlab.tasks import Task
from lrlab.train import (
    Checkpoint,
    EpochReport,
    SweepConfig,
    SweepResult,
    fit,
    plan_run,
    resolve_task,
    validated,
)

__all__ = ["Plan", "SearchResult", "plan", "rate"]

Callback = Callable[[EpochReport], None]

#: Settings a search decides itself: passing them through would change what it means.
_OWN = ("lrs", "seeds", "lr_mults", "schedules", "schedule_over", "record_steps")


def _own_setting(procedure: str, key: str) -> str:
    """The line for a sweep's setting a search lays itself (:data:`_OWN`)."""
    if key == "lr_mults":  # it searches one rate: layer-wise variants are a sweep's
        return (f"{procedure} searches one rate for the whole model and takes no lr_mults: "
                "search the uniform rate, then sweep the layer-wise variants at it "
                "(lrlab.sweep(task, lrs=[rate], lr_mults=[...]))")
    instead = ("auto's schedule=, the schedule the full training follows"
               if key.startswith("schedule") else "seed=")
    return (f"{procedure} chooses {key} itself; it trains one member per rate from one seed "
            f"(give {instead}, not {key}=)")


def examples(task: Task) -> int:
    """The training examples of ``task``; one line when its data cannot say how many."""
    n = task.train_size
    if n is None:
        raise LrlabError(f"task {task.name!r}: a search needs the number of training "
                         "examples, and this data has no length (an iterable dataset); give "
                         "it __len__")
    return n


def rate(value: float) -> str:
    """A rate as people write it: ``0.0316``, ``1e-05``."""
    return f"{value:.3g}"


def rates_text(values: Sequence[float]) -> str:
    """Rates as a comma list, for explanations."""
    return ", ".join(rate(v) for v in values)


@dataclass(frozen=True)
class Plan:
    """How a search trains: the data it searches on, all the data, and the settings.

    Attributes:
        task: the task searched on (``full`` or a stratified subset of its training data).
        full: the task with all its training data (confirmation runs).
        epochs: the full training length (the task's default unless given).
        optimizer, seed: the update rule and the seed of weights and example order.
        settings: every other :class:`~lrlab.train.SweepConfig` field passed through.
        callbacks: progress callbacks given to every :func:`~lrlab.train.fit`.
        schedule: the rate schedule the full training follows, each member's rate its
            peak (``None``: a constant rate); every population trains the start of it, laid
            over ``schedule_over``.
        schedule_over: ``(epochs, steps per epoch)`` of the full training on all the data.
    """

    task: Task
    full: Task
    epochs: int
    optimizer: str
    seed: int
    settings: dict[str, Any]
    callbacks: tuple[Callback, ...]
    schedule: ScheduleSpec | None = None
    schedule_over: tuple[int, int] | None = None

    @property
    def batch_size(self) -> int:
        """The batch size every population trains with."""
        return int(self.settings.get("batch_size") or self.task.batch_size)

    def train(self, lrs: Sequence[float], *, epochs: int | None = None, task: Task | None = None,
              on_checkpoint: Callable[[Checkpoint], None] | None = None,
              checkpoint_every: int | None = None, **extra: Any) -> SweepResult:
        """One population: a member per rate, same weights and order, on ``task``
        (``on_checkpoint`` receives its state after the last epoch, to continue it, and
        every ``checkpoint_every`` epochs)."""
        config = self.config(lrs, epochs=epochs, **extra)
        return fit(task or self.task, config.members(), config, callbacks=self.callbacks,
                   on_checkpoint=on_checkpoint, checkpoint_every=checkpoint_every)

    def config(self, lrs: Sequence[float], *, epochs: int | None = None,
               **extra: Any) -> SweepConfig:
        """The settings of a population of ``lrs`` as :meth:`train` trains it (``seed``
        among ``extra`` replaces the plan's)."""
        seed = extra.pop("seed", self.seed)
        if self.schedule is not None:
            extra = {"schedules": [self.schedule], "schedule_over": self.schedule_over, **extra}
        return validated(lrs=list(lrs), epochs=epochs or self.epochs, optimizer=self.optimizer,
                         seed=seed, **self.settings, **extra)

    def cost(self, result: SweepResult, task: Task | None = None) -> float:
        """Member-epochs of the full training set that ``result``'s population cost."""
        used = examples(task or self.task)
        return len(result.members) * result.epochs * used / examples(self.full)

    def confirm(self, lr: float, **extra: Any) -> SweepResult:
        """Train ``lr`` on all the data for the full epochs."""
        return self.train([lr], task=self.full, epochs=self.epochs, **extra)


def plan(procedure: str, task: Task | str, *, subset: float | None, epochs: int | None,
         optimizer: str, seed: int, callbacks: Sequence[Callback],
         settings: dict[str, Any], schedule: str | ScheduleSpec | None = None) -> Plan:
    """Check the settings (all before any training) and draw the search subset;
    ``schedule``: the one the full training follows (text or parsed), built for it here."""
    from lrlab.tasks import as_task

    for key in _OWN:
        if key in settings:
            raise LrlabError(_own_setting(procedure, key))
    if isinstance(schedule, (list, tuple)):  # sweep's schedules=, several side by side
        raise LrlabError(f"{procedure}: schedule= is the one schedule the full training "
                         f"follows (text, NAME[:key=value,...]), not a list: got {schedule!r}; "
                         "to compare schedules, sweep them side by side (lrlab.sweep(..., "
                         "schedules=[...]))")
    given = {} if schedule is None else {"schedules": [schedule]}
    config = validated(lrs=[1.0], epochs=epochs, optimizer=optimizer, seed=seed, **settings,
                       **given)
    full = as_task(task)
    full = resolve_task(full, config, config.members())  # a loader task: its kind, checked
    if full.train_size is None:  # a stream without __len__: counted in one pass
        full = full.replace(train=counted(full.train, batch_size=full.batch_size, seed=seed))
    searched = full.subset(subset, seed=seed) if subset is not None else full
    spec, over = None, None
    if schedule is not None:
        spec = config.schedules[0]
        run = plan_run(full, config, config.members())
        if run.steps_per_epoch is None:
            raise LrlabError(f"{procedure}: a schedule needs the steps per epoch, and this "
                             "training data has no length (an iterable dataset); give it "
                             "__len__, or search at a constant rate")
        over = (run.epochs, run.steps_per_epoch)
        if not spec.follows_metric:  # its values against the full training, in one line
            spec.build(1.0, epochs=over[0], steps_per_epoch=over[1])
    return Plan(task=searched, full=full, epochs=epochs or full.epochs, optimizer=optimizer,
                seed=seed, settings=dict(settings), callbacks=tuple(callbacks),
                schedule=spec, schedule_over=over)


@dataclass(frozen=True, eq=False, repr=False)  # __repr__ below: one line, no tables
class SearchResult:
    """The fields every search result has (see the module docstring)."""

    procedure: ClassVar[str] = "search"

    lr: float
    evidence: tuple[SweepResult, ...]
    explanation: str
    compute: float
    confirmation: SweepResult | None
    confidence: Confidence | None = field(default=None, kw_only=True)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The confidence's warning lines (empty when there are none or no confidence)."""
        return self.confidence.warnings if self.confidence is not None else ()

    @property
    def next_step(self) -> str:
        """What to do next where several warnings each advised (their one advice, the
        confidence's :attr:`~lrlab.search.Confidence.next_step`); ``""`` otherwise."""
        return self.confidence.next_step if self.confidence is not None else ""

    def sureness(self) -> str:
        """The margin clause and the warnings, for a verdict line ('' without confidence)."""
        if self.confidence is None:
            return ""
        return f"; {self.confidence.text()}" + ("; WEAK EVIDENCE" if self.warnings else "")

    @property
    def total_compute(self) -> float:
        """``compute`` plus the confirmation run's member-epochs (all data, full epochs)."""
        if self.confirmation is None:
            return self.compute
        return self.compute + self.confirmation.epochs

    def verdict(self) -> str:
        """One line: the procedure and the chosen rate."""
        return f"{self.procedure}: lr={rate(self.lr)}"

    def __repr__(self) -> str:
        warned = f", warnings={len(self.warnings)}" if self.warnings else ""
        return (f"{type(self).__name__}(lr={rate(self.lr)}, compute={self.compute:.4g} "
                f"member-epochs, populations={len(self.evidence)}{warned})")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``search.json``: procedure, lr, verdict, explanation, compute and
        every procedure-specific field (tables as lists of rows)."""
        out: dict[str, Any] = {"procedure": self.procedure, "lr": self.lr,
                               "verdict": self.verdict(), "explanation": self.explanation,
                               "compute": self.compute, "total_compute": self.total_compute}
        shared = {"lr", "evidence", "explanation", "compute", "confirmation", "confidence"}
        if self.confidence is not None:
            out["confidence"] = self.confidence.to_dict()
            out["warnings"] = list(self.warnings)
            out["warning_kinds"] = list(self.confidence.kinds)
            out["next_step"] = self.next_step or None
        for f in fields(self):
            if f.name not in shared:
                out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records"))
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
