"""The epoch loop: a population of members trained on a task, recorded epoch by epoch."""

from __future__ import annotations

import itertools
import math
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from lrlab._checks import whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab._rng import host_states, isolated_rng, seeded_rng, set_host_states
from lrlab._testing import kill_point
from lrlab.data import batches as epoch_batches
from lrlab.data import counted, to_device
from lrlab.metrics import EpochMetrics, LabelCounts, score_splits, share_examples
from lrlab.optim import get_rule, mixed
from lrlab.population import Population, member_losses
from lrlab.schedules import MONITORS
from lrlab.tasks import Split, Task, lower_is_better
from lrlab.train._checkpoint import Checkpoint, checkpoint_due
from lrlab.train._config import Member, SweepConfig
from lrlab.train._loader import (
    Mean,
    Scored,
    _with_logits,
    evaluate_data,
    inputs_of,
    majority_levels,
    member_metric,
    probe,
    train_epoch_data,
)
from lrlab.train._plan import RunPlan, plan_run
from lrlab.train._preflight import check_fit
from lrlab.train._result import SweepResult, _steps_frame, diverged_epochs, last_epochs

__all__ = ["EpochReport", "Untrained", "fit", "resolve_task", "untrained"]


class _OnDemand:
    """A dataclass field given a table or a function that builds it: built on first read,
    then kept. Most callbacks (a progress bar) never read the tidy tables, and building
    them every epoch was a tenth of a small run."""

    def __init__(self, *default: object) -> None:
        self.default = default  # (): the field is required; (value,): its default

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None):
        if obj is None:  # dataclasses asking for the default
            if not self.default:
                raise AttributeError(self.slot)
            return self.default[0]
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj: object, value: object) -> None:
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class EpochReport:
    """What a callback sees after each epoch (values per member, NumPy).

    Attributes:
        epoch, epochs: the epoch just done (1-based) and how many the fit trains.
        members: K.
        val: this epoch's validation metrics, ``(K,)`` each.
        alive: which members have not diverged, ``(K,)``.
        seconds: training time so far.
        records: this epoch's tidy rows ``(member, epoch, split, metric, value)``, exactly
            the rows the final :class:`SweepResult` will hold for it (a member that
            diverged in an earlier epoch has none), so a callback can store them as they come.
            Built when first read (the constructor also takes a function returning them).
        steps: this epoch's per-step rows (``record_steps=True``), else ``None``; built
            when first read, as ``records``.
        diverged_step: the step each member diverged at (``-1``: not diverged), ``(K,)``.
        diverged_epoch: the epoch it diverged in (``-1``: not diverged), ``(K,)``: read with
            the steps an epoch takes as this fit counted them (a stream's once it ended).
        monitor, higher_is_better: the metric the task is ranked by, and its direction (for
            a Dataset or DataLoader task, as read from its first batch).
        chance, val_examples, noise_examples: as :class:`SweepResult` has them, counted from
            the validation targets in the first evaluation (``nan`` and 0 until then).
    """

    epoch: int
    epochs: int
    members: int
    val: dict[str, np.ndarray]
    alive: np.ndarray
    seconds: float
    records: pd.DataFrame = _OnDemand()  # type: ignore[assignment]
    steps: pd.DataFrame | None = _OnDemand(None)  # type: ignore[assignment]
    diverged_step: np.ndarray | None = None
    diverged_epoch: np.ndarray | None = None
    monitor: str | None = None
    higher_is_better: bool = True
    chance: float = math.nan
    val_examples: int = 0
    noise_examples: float = math.nan


Callback = Callable[[EpochReport], None]


def resolve_device(name: str | None) -> torch.device:
    """The torch device a run uses for ``name`` (``--device``): ``None`` is CUDA when
    available, else the CPU; an unknown name or a CUDA device this machine lacks is one
    :class:`LrlabError` line.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LrlabError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        have = (f"CUDA devices here: cuda:0 to cuda:{count - 1}" if count > 1 else
                "CUDA devices here: cuda:0" if count else "this machine has no CUDA device")
        raise LrlabError(f"device {name!r} is not available here ({have}); use --device cpu")
    return device


def resolve_task(task: Task, config: SweepConfig, members: Sequence[Member]) -> Task:
    """``task`` as :func:`fit` will train it: for a Dataset or DataLoader task, its classes
    and monitor read from the first batch (:func:`~lrlab.train._loader.probe`, which also
    checks the batch, the loss and the metrics); so for a tensor task whose kind is left to
    that batch (:meth:`~lrlab.tasks.Task.from_loaders`: no monitor, or integer targets
    without ``num_classes``, or 0/1 floats under a binary cross-entropy on logits), and for
    one whose integer targets have more than one axis (per token or pixel: the classes may
    sit on the outputs' axis 1, ``(B, C, ...)``, which only the data path scores); other
    tensor tasks as they are (their checks: :func:`~lrlab.train.check_fit`). A tensor task
    the data path scores becomes Datasets once per task object, so every call (the fit, the
    memory estimate) probes it once."""
    known = task.in_memory and task.monitor is not None and (
        task.num_classes is not None
        or (task.train.y.is_floating_point() and not _with_logits(task.loss)))
    if known and not _per_position(task):
        return task
    if task.in_memory and task.train.y.is_floating_point() and _with_logits(task.loss):
        task = _as_datasets(task)  # one logit per example against 0/1 floats
    plan = plan_run(task, config, members)
    seed = members[0].seed if members else config.seed
    found = probe(task, batch_size=plan.batch_size, seed=seed, device=resolve_device(config.device),
                  dtype=getattr(torch, config.dtype))
    if task.in_memory and found.class_axis != -1:  # classes on axis 1: the data path reads them
        return resolve_task(_as_datasets(task), config, members)
    return task if known else found.task


def _per_position(task: Task) -> bool:
    """Integer targets with more than one axis (a label per token or pixel)."""
    y = task.train.y
    return y.dim() > 1 and not y.is_floating_point() and y.dtype != torch.bool


#: Tensor tasks already given as Datasets, by the task object's id (see :func:`resolve_task`).
_DATASETS: dict[int, Task] = {}


def _as_datasets(task: Task) -> Task:
    """A tensor task as Datasets: scored as a data task scores its outputs (the same object
    for the same task, so its first-batch probe is run once)."""
    key = id(task)
    if key not in _DATASETS:
        _DATASETS[key] = task.replace(train=TensorDataset(task.train.x, task.train.y),
                                      val=TensorDataset(task.val.x, task.val.y))
        weakref.finalize(task, _DATASETS.pop, key, None)
    return _DATASETS[key]


@dataclass(frozen=True)
class Untrained:
    """The validation set as a fit scores the model initialised from a seed.

    Attributes:
        metrics: every validation metric, as :func:`fit` records them after an epoch.
        labels: the validation targets scored (:class:`~lrlab.metrics.LabelCounts`): the
            majority class's level and the examples behind every score.
        majority: on a classifier, each of the task's own metrics on outputs that always
            answer the majority class (:func:`~lrlab.metrics.majority_outputs`): its chance
            level; a metric that raised on them or gave no finite value is left out.
    """

    metrics: dict[str, float]
    labels: LabelCounts
    majority: dict[str, float] = field(default_factory=dict)


def untrained(task: Task, seed: int = 0) -> Untrained:
    """``task``'s model as initialised from ``seed``, scored on the validation set on the
    CPU as :func:`fit` scores it after an epoch (every output layout it reads, the task's
    own metrics included): what a rate that learned nothing scores, and the targets it was
    scored on (the majority class, from labels only ``__getitem__`` gives too), and on a
    classifier the task's own metrics on answers of that class (:attr:`Untrained.majority`).

    Example:
        >>> from lrlab.tasks import get_task
        >>> scored = untrained(get_task("blobs"))
        >>> 0 <= scored.metrics["accuracy"] <= 1, scored.labels.examples
        (True, 500)
    """
    config = SweepConfig(lrs=[1.0], seed=seed, device="cpu")  # the rate is never used
    members = config.members()
    plan = plan_run(task, config, members)
    if task.train_size is not None and plan.batch_size > task.train_size:  # nothing trains
        config = config.model_copy(update={"batch_size": task.train_size})
        plan = plan_run(task, config, members)
    device, dtype = torch.device("cpu"), torch.float32
    own = {name: Scored(fn) for name, fn in task.metrics.items()}
    task = task.replace(metrics=own) if own else task
    if task.in_memory:
        feed: _TensorFeed | _DataFeed = _TensorFeed(task, members, plan.batch_size, device,
                                                    dtype)
    else:
        feed = _DataFeed(task, members, plan, device, dtype)
        task = feed.task
    pop = _population(task, members, config, device, dtype, plan.batch_size)
    for metric in own.values():
        metric.calls.clear()  # the probe's training batch is no validation batch
    with seeded_rng(seed):
        values, scored = feed.evaluate(pop, config.eval_batch_size)
        labels = scored.labels()
        levels = majority_levels(task, own, labels.majority(),
                                 getattr(feed, "class_axis", -1))
    return Untrained({name: float(v[0]) for name, v in values.items()}, labels, levels)


def _initial_models(task: Task, members: Sequence[Member]) -> list[torch.nn.Module]:
    """One freshly initialised model per distinct seed, in member order, RNG left untouched."""
    built = {seed: task.init_model(seed) for seed in dict.fromkeys(m.seed for m in members)}
    return [built[m.seed] for m in members]


class _Batches:
    """Example order per epoch: one permutation per distinct seed, drawn from that seed."""

    def __init__(self, n: int, batch_size: int, seeds: list[int], device: torch.device) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device
        self.distinct = list(dict.fromkeys(seeds))
        self.which = torch.tensor([self.distinct.index(s) for s in seeds], device=device)
        self.shared = len(self.distinct) == 1

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def order(self, epoch: int) -> Tensor:
        """This epoch's example order: ``(N,)`` when shared, else ``(K, N)``."""
        perms = []
        for seed in self.distinct:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            perms.append(torch.randperm(self.n, generator=g))
        order = torch.stack(perms)
        if self.device.type == "cuda":  # a copy from pinned memory does not stall the queue
            order = order.pin_memory()
        order = order.to(self.device, non_blocking=True)
        return order[0] if self.shared else order[self.which]


class _Buffered:
    """Hands :class:`EpochMetrics` the epoch's batches in large chunks.

    The metrics of an epoch are sums over its batches (Keras' AUC counts too), so scoring
    many batches at once gives the same values as scoring each; it replaces a dozen small
    ops per training step by a few large ones per chunk.
    """

    def __init__(self, metrics: EpochMetrics, *, batch_axis: int, limit: int = 1 << 22) -> None:
        self.metrics, self.limit, self.axis = metrics, limit, batch_axis
        self.parts: list[tuple[Tensor, Tensor, Tensor]] = []
        self.size = 0

    def update(self, outputs: Tensor, y: Tensor, losses: Tensor) -> None:
        self.parts.append((outputs, y, losses))
        self.size += outputs.numel()
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            outputs, ys, losses = zip(*self.parts)
            self.metrics.update(torch.cat(outputs, 1), torch.cat(ys, self.axis),
                                torch.cat(losses, 1))
            self.parts, self.size = [], 0

    def compute(self) -> dict[str, Tensor]:
        self.flush()
        return self.metrics.compute()


def _rate_table(members: Sequence[Member], plan: RunPlan, device: torch.device,
                dtype: torch.dtype) -> Tensor | None:
    """Every member's rate at every step, ``(epochs * steps_per_epoch, K)``, its schedule laid
    over ``plan.schedule_over``; ``None`` when every member keeps its rate constant (then
    the population uses its base rates).
    Reduce-on-plateau members start constant here; :class:`_Plateaus` lowers them later."""
    if all(m.schedule.name == "constant" and not m.schedule.options for m in members):
        return None
    if plan.steps_per_epoch is None:
        raise LrlabError("a schedule needs the steps per epoch, and this training data has no "
                         "length (an iterable dataset); give it __len__, or train at a "
                         "constant rate")
    epochs, steps_per_epoch = plan.schedule_over
    steps = torch.arange(plan.epochs * plan.steps_per_epoch, dtype=torch.float64)
    steps = steps.clamp(max=epochs * steps_per_epoch - 1)  # past a longer training's end
    table = torch.empty(len(steps), len(members), dtype=torch.float64)
    for spec in dict.fromkeys(m.schedule for m in members):
        which = [k for k, m in enumerate(members) if m.schedule == spec]
        lr0 = torch.tensor([members[k].lr for k in which], dtype=torch.float64)
        if spec.follows_metric:
            table[:, which] = lr0
            continue
        sched = spec.build(lr0, epochs=epochs, steps_per_epoch=steps_per_epoch)
        table[:, which] = sched(steps).reshape(len(steps), len(which))
    return table.to(device, dtype)


class _Plateaus:
    """Reduce-on-plateau members: after each epoch their validation metric sets the rate of
    every later step (one :class:`ReduceOnPlateau` per distinct spec, per member inside).
    A task's own metric improves as the task ranks it (its monitor), else as its name says."""

    def __init__(self, members: Sequence[Member], task: Task) -> None:
        self.groups = []
        for spec in dict.fromkeys(m.schedule for m in members if m.schedule.follows_metric):
            which = [k for k, m in enumerate(members) if m.schedule == spec]
            lr0 = torch.tensor([members[k].lr for k in which], dtype=torch.float64)
            self.groups.append((which, spec.monitor,
                                spec.on_metric(lr0, mode=_direction(task, spec.monitor))))

    def update(self, val: dict[str, Tensor], rates: Tensor, next_step: int) -> None:
        for which, monitor, plateau in self.groups:
            if monitor not in val:
                raise LrlabError(f"plateau monitor {monitor!r} is not a validation metric; "
                                 f"choose one of: {', '.join(val)}")
            lrs = plateau.update(val[monitor][which].double().cpu())
            rates[next_step:, which] = lrs.to(rates)

    #: What a :class:`ReduceOnPlateau` changes as epochs pass (saved in checkpoints).
    def state(self) -> list[dict]:
        return [plateau.state_dict() for _, _, plateau in self.groups]

    def restore(self, states: list[dict], rates: Tensor, next_step: int) -> None:
        """Set each scheduler's state, and the rate of every later step from it: since each
        update rewrote all later steps with the current rate, that is the whole table."""
        if len(states) != len(self.groups):
            raise LrlabError(f"the checkpoint has {len(states)} reduce-on-plateau groups, these "
                             f"settings {len(self.groups)}; resume with the same schedules")
        for (which, _, plateau), state in zip(self.groups, states):
            plateau.load_state_dict(state)
            rates[next_step:, which] = plateau.lr.to(rates)


def _direction(task: Task, metric: str) -> Literal["min", "max"] | None:
    """Whether a task's own ``metric`` improves downward or upward (``None``: lrlab's own,
    whose direction the schedule knows)."""
    if metric in MONITORS:
        return None
    better = task.higher_is_better if metric == task.monitor else not lower_is_better(metric)
    return "max" if better else "min"


def _score_epoch(pop: Population, task: Task, split: Split, eval_batch: int,
                 train: _Buffered
                 ) -> tuple[dict[str, Tensor], dict[str, Tensor], EpochMetrics]:
    """The epoch's training metrics (``train``'s buffered batches), and its validation
    metrics with their accumulator, as ``train.compute()`` and :func:`_evaluate` give them;
    in one pass over both splits (:func:`~lrlab.metrics.score_splits`) when the training
    batches are still buffered, their targets shared and the validation split is one
    evaluation batch."""
    if (train.metrics._samples or not 0 < len(split) <= eval_batch or not train.parts
            or train.axis):  # (per-member targets: batch axis 1)
        return train.compute(), *_evaluate(pop, task, split, eval_batch)
    metrics = EpochMetrics(pop.members, num_classes=task.num_classes,
                           auc=task.num_classes is not None, device=pop.device)
    x, y = split.x, split.y
    out = pop.predict(x)
    own = {name: Mean(pop.members, pop.device) for name in task.metrics}
    for name, fn in task.metrics.items():
        own[name].add(member_metric(task, name, fn, out, y))
    train_values, val_values = score_splits([train.metrics, metrics],
                                            [train.parts, [(out, y, member_losses(task.loss, out, y))]])
    train.parts, train.size = [], 0
    return train_values, val_values | {name: m.value() for name, m in own.items()}, metrics


def _evaluate(pop: Population, task: Task, split: Split, eval_batch: int
              ) -> tuple[dict[str, Tensor], EpochMetrics]:
    """Every member's validation metrics, and the accumulator that scored them (whose
    :meth:`~lrlab.metrics.EpochMetrics.labels` counts the targets)."""
    metrics = EpochMetrics(pop.members, num_classes=task.num_classes,
                           auc=task.num_classes is not None, device=pop.device)
    own = {name: Mean(pop.members, pop.device) for name in task.metrics}
    for x, y in zip(split.x.split(eval_batch), split.y.split(eval_batch)):
        out = pop.predict(x)
        metrics.update(out, y, member_losses(task.loss, out, y))
        for name, fn in task.metrics.items():
            own[name].add(member_metric(task, name, fn, out, y))
    return metrics.compute() | {name: m.value() for name, m in own.items()}, metrics


class _Recorder:
    """Collects per-epoch values per member as columns, then builds the tidy table."""

    def __init__(self, members: int) -> None:
        self.members = members
        self.rows: list[tuple[int, str, str, np.ndarray]] = []

    def state(self) -> list[list]:
        return [[e, split, metric, torch.from_numpy(v.copy())] for e, split, metric, v in self.rows]

    def restore(self, rows: list[list]) -> None:
        self.rows = [(int(e), str(split), str(metric), v.numpy()) for e, split, metric, v in rows]

    def add(self, epoch: int, split: str, values: dict[str, Tensor | np.ndarray]) -> None:
        for metric, v in values.items():
            arr = v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v)
            self.rows.append((epoch, split, metric, arr.astype(np.float64)))

    def replace(self, epoch: int, split: str, values: dict[str, Tensor]) -> None:
        """Epoch ``epoch``'s rows of ``split`` hold ``values`` (the same metrics) instead."""
        index = {(e, s, m): i for i, (e, s, m, _) in enumerate(self.rows)}
        if {m for e, s, m in index if (e, s) == (epoch, split)} != set(values):
            raise LrlabError(f"epoch {epoch} recorded other {split} metrics than "
                             f"{', '.join(values)}")
        for metric, v in values.items():
            self.rows[index[epoch, split, metric]] = (
                epoch, split, metric, v.detach().cpu().numpy().astype(np.float64))

    def frame(self, last_epoch: np.ndarray, start: int = 0, stop: int | None = None
              ) -> pd.DataFrame:
        """The rows ``start:stop`` as a tidy table, without those of a member after the
        epoch it diverged in (``last_epoch`` per member)."""
        k, rows = self.members, self.rows[start:stop]
        df = pd.DataFrame({
            "member": np.tile(np.arange(k), len(rows)),
            "epoch": np.repeat([r[0] for r in rows], k).astype(np.int64),
            "split": pd.Categorical(np.repeat([r[1] for r in rows], k)),
            "metric": pd.Categorical(np.repeat([r[2] for r in rows], k)),
            "value": np.concatenate([r[3] for r in rows]) if rows else np.zeros(0),
        })
        keep = df["epoch"].to_numpy() <= last_epoch[df["member"].to_numpy()]
        return df[keep].reset_index(drop=True)


def _population(task: Task, members: Sequence[Member], config: SweepConfig,
                device: torch.device, dtype: torch.dtype, batch_size: int) -> Population:
    """The members stacked, with their hyperparameters (each member's rule's defaults
    filled in; members with rules of their own run as one :func:`~lrlab.optim.mixed` rule)."""
    names = [m.optimizer or config.optimizer for m in members]
    distinct = list(dict.fromkeys(names))
    own = [get_rule(name) for name in names]
    rule = own[0] if len(distinct) == 1 else mixed([get_rule(name) for name in distinct],
                                                    [distinct.index(name) for name in names])
    n = task.train_size
    if rule.full_batch and n is not None and batch_size < n:
        warnings.warn(f"lrlab: {rule.name} is meant for full batches or large mini-batches "
                      f"(its sign and gain rules misread mini-batch noise); batch size "
                      f"{batch_size} of {n} examples", UserWarning, stacklevel=3)
    hparams = {"lr": [m.lr for m in members]}
    hparams |= {name: [m.hparams.get(name, r.defaults.get(name, d)) for m, r in zip(members, own)]
                for name, d in rule.defaults.items()}
    lr_mult = [m.lr_mult for m in members] if any(m.lr_mult for m in members) else None
    return Population(_initial_models(task, members), rule, hparams, device=device, dtype=dtype,
                      path=config.path, divergence_factor=config.divergence_factor,
                      lr_mult=lr_mult, compile=config.compile,
                      clip_grad_norm=config.clip_grad_norm)


def _train_steps(pop: Population, task: Task, data: Split, order: Tensor, batch_size: int,
                 shared: bool, rates: Tensor | None, steps: list | None
                 ) -> tuple[_Buffered, dict[str, Tensor]]:
    """One pass over the training data: its metrics still buffered, and the gradient norms'
    and rates' records."""
    metrics = _Buffered(EpochMetrics(pop.members, num_classes=task.num_classes,
                                     auc=task.num_classes is not None, device=pop.device),
                        batch_axis=order.dim() - 1)  # targets: (B, ...) shared, (K, B, ...) not
    norms = []
    xs, ys = data.x[order], data.y[order]  # one gather per epoch, then views
    for x, y in zip(xs.split(batch_size, dim=order.dim() - 1),
                    ys.split(batch_size, dim=order.dim() - 1)):
        out = pop.step(x, y, task.loss, shared=shared,
                       lr=None if rates is None else rates[pop.steps])
        metrics.update(out.outputs, y, out.losses)
        norms.append(out.grad_norm)
        if steps is not None:
            steps.append((pop.steps, out.loss, out.lr, out.grad_norm))
    norms = torch.stack(norms).double()
    peak = norms.nan_to_num(-torch.inf).max(0).values  # NaN: steps after divergence
    return metrics, {"grad_norm": norms.nanmean(0), "grad_norm_max": peak, "lr": out.lr}


@warn_once()
def fit(task: Task, members: Sequence[Member], config: SweepConfig, *,
        callbacks: Sequence[Callback] = (), checkpoint_every: int | None = None,
        on_checkpoint: Callable[[Checkpoint], None] | None = None,
        resume: Checkpoint | None = None) -> SweepResult:
    """Train every member on ``task`` as one population and record every epoch.

    Members diverging (NaN/Inf loss, or beyond ``config.divergence_factor`` times their
    first loss) are frozen; their records stop at the epoch they diverged in. The ``time``
    record is the wall time since the start, at the end of each epoch's evaluation.

    Args:
        task, members, config: what to train, the members and the settings.
        callbacks: called with an :class:`EpochReport` after every epoch.
        checkpoint_every: call ``on_checkpoint`` every this many epochs (and after the last
            one); ``None``: only after the last.
        on_checkpoint: receives a :class:`Checkpoint` after the epoch's callbacks ran.
        resume: a checkpoint of a fit with the same task, members and settings: training
            continues after ``resume.epoch`` and the result equals that of a run never
            interrupted (bit for bit, but the ``time`` record).
    """
    if checkpoint_every is not None:
        whole("checkpoint_every", checkpoint_every, low=1, hint=" (epochs)")
    task = resolve_task(task, config, members)
    if task.train_size is None and not all(m.schedule.name == "constant"
                                           and not m.schedule.options for m in members):
        # a schedule over a stream without __len__: its steps per epoch from one pass
        task = task.replace(train=counted(task.train, batch_size=task.batch_size,
                                          seed=config.seed))
    check_fit(task, members, config)  # one line for what would fail in its first step
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    plan = plan_run(task, config, members)
    task, feed = _feed(task, members, plan, device, dtype)
    pop = _population(task, members, config, device, dtype, plan.batch_size)
    rates = _rate_table(members, plan, device, dtype)
    loop = _Loop(task, members, config, pop, rates, plan)
    # random layers (dropout) and a dataset's random transforms draw from the run's seed
    with seeded_rng(config.seed, device):
        if resume is not None:
            loop.restore(resume)
        loop.run(feed, callbacks, checkpoint_every, on_checkpoint)
    return SweepResult.build(task, members, config, pop, loop.recorder, loop.steps or [],
                             loop.steps_per_epoch, plan.epochs, chance=loop.chance,
                             val_examples=loop.labels.examples,
                             noise_examples=loop.noise_examples)


def rescored(task: Task, members: Sequence[Member], config: SweepConfig,
             states: Sequence[Checkpoint]) -> tuple[SweepResult, Checkpoint]:
    """A fit's evaluations done again under ``config`` without training again: the result
    and last checkpoint of :func:`fit` with ``config`` where ``states`` are the checkpoints
    after each epoch (the first to the last) of a fit of the same task and members whose
    settings differ at most in how it scores (``norm_batches``).

    Training never reads a score (reduce-on-plateau members, which do, are refused), so
    the training records are the checkpointed fit's and each epoch's validation records
    are those ``config`` scores at that epoch's weights: the same as :func:`fit`'s, bit for
    bit (but ``time``). Only the last state needs the rule's state, records and steps
    (the earlier ones' weights, buffers and random state are read). No callbacks run.
    """
    task = resolve_task(task, config, members)
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    plan = plan_run(task, config, members)
    if [s.epoch for s in states] != list(range(1, plan.epochs + 1)):
        raise LrlabError(f"rescoring needs the checkpoints after each of the {plan.epochs} "
                         f"epochs, not after epochs {[s.epoch for s in states]}")
    task, feed = _feed(task, members, plan, device, dtype)
    pop = _population(task, members, config, device, dtype, plan.batch_size)
    loop = _Loop(task, members, config, pop, _rate_table(members, plan, device, dtype), plan)
    if loop.plateaus.groups:
        raise LrlabError("reduce-on-plateau members train on their scores; fit them again "
                         "to score them otherwise")
    last = replace(states[-1], fingerprint=loop.fingerprint)
    with seeded_rng(config.seed, device):
        loop.restore(last)  # the records, labels and seconds; then each epoch's weights
        if loop.steps_per_epoch is None:  # (data without a length: as the fit counted them)
            loop.steps_per_epoch = int(states[0].population["steps"])
        for state in states:
            pop.load_state_dict({**last.population, **{k: v for k, v in state.population.items()
                                                       if k != "rule"}})
            _set_rng(state.rng, device)  # as the fit's evaluation found it
            with (feed.recomputed_norms(pop, state.epoch, config.norm_batches)
                  if config.norm_batches else nullcontext()):
                val, _ = feed.evaluate(pop, config.eval_batch_size)
            loop.recorder.replace(state.epoch, "val", val)
        loop.restore(replace(last, records=loop.recorder.state()))
        checkpoint = loop.checkpoint()
    return SweepResult.build(task, members, config, pop, loop.recorder, loop.steps or [],
                             loop.steps_per_epoch, plan.epochs, chance=loop.chance,
                             val_examples=loop.labels.examples,
                             noise_examples=loop.noise_examples), checkpoint


def _feed(task: Task, members: Sequence[Member], plan: RunPlan, device: torch.device,
          dtype: torch.dtype) -> tuple[Task, _TensorFeed | _DataFeed]:
    """The run's batches (in-memory tensors, or a DataLoader's) and the task they feed (a
    DataLoader's feed holds the task it wraps)."""
    if task.in_memory:
        return task, _TensorFeed(task, members, plan.batch_size, device, dtype)
    feed = _DataFeed(task, members, plan, device, dtype)
    return feed.task, feed


def _set_rng(rng: dict[str, Tensor], device: torch.device) -> None:
    """The generators random layers and a dataset's transforms draw from set to a
    checkpoint's ``rng``."""
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)
    set_host_states(rng)


class _TensorFeed:
    """Epochs of in-memory tensors: one gather of the whole epoch's order, then views."""

    def __init__(self, task: Task, members: Sequence[Member], batch_size: int,
                 device: torch.device, dtype: torch.dtype) -> None:
        if batch_size > len(task.train):
            raise LrlabError(f"batch size {batch_size} is larger than the {len(task.train)} "
                             "training examples; lower --batch-size")
        self.task, self.batch_size = task, batch_size
        self.train = Split(to_device(task.train.x, device, dtype), task.train.y.to(device))
        self.val = Split(to_device(task.val.x, device, dtype), task.val.y.to(device))
        self.batches = _Batches(len(task.train), batch_size, [m.seed for m in members], device)

    def train_epoch(self, pop: Population, epoch: int, rates: Tensor | None,
                    steps: list | None) -> tuple[_Buffered, dict[str, Tensor]]:
        """The epoch's steps; :meth:`finish_epoch` scores them."""
        return _train_steps(pop, self.task, self.train, self.batches.order(epoch),
                            self.batch_size, self.batches.shared, rates, steps)

    def finish_epoch(self, pop: Population, trained: tuple[_Buffered, dict[str, Tensor]],
                     eval_batch: int
                     ) -> tuple[dict[str, Tensor], dict[str, Tensor], EpochMetrics]:
        """The epoch's training and validation metrics (scored together where they can),
        and the validation accumulator."""
        metrics, values = trained
        train, val, scored = _score_epoch(pop, self.task, self.val, eval_batch, metrics)
        return train | values, val, scored

    def evaluate(self, pop: Population, eval_batch: int
                 ) -> tuple[dict[str, Tensor], EpochMetrics]:
        return _evaluate(pop, self.task, self.val, eval_batch)

    def recomputed_norms(self, pop: Population, epoch: int, count: int
                         ) -> AbstractContextManager[int]:
        """:meth:`Population.recomputed_norms` from the first ``count`` batches of
        ``epoch``'s order."""
        order = self.batches.order(epoch)
        parts = order.split(self.batch_size, dim=order.dim() - 1)[:count]
        return pop.recomputed_norms((self.train.x[i] for i in parts), self.task.loss,
                                    shared=self.batches.shared)


class _DataFeed:
    """Epochs of a Dataset or DataLoader: the loader iterated once per epoch for every
    member, in the order of the members' one seed (see :mod:`lrlab.train._loader`)."""

    def __init__(self, task: Task, members: Sequence[Member], plan: RunPlan,
                 device: torch.device, dtype: torch.dtype) -> None:
        seeds = list(dict.fromkeys(m.seed for m in members))
        if len(seeds) > 1:
            raise LrlabError("members with different seeds train on different example orders; "
                             "with a Dataset or DataLoader train one population per seed "
                             "(lrlab.sweep and the executors do this)")
        self.seed, self.plan, self.dtype = seeds[0], plan, dtype
        found = probe(task, batch_size=plan.batch_size, seed=self.seed, device=device,
                      dtype=dtype)
        self.task, self.predictions = found.task, found.predictions
        self.class_axis = found.class_axis

    def train_epoch(self, pop: Population, epoch: int, rates: Tensor | None,
                    steps: list | None) -> dict[str, Tensor]:
        data = epoch_batches(self.task.train, batch_size=self.plan.batch_size, seed=self.seed,
                             epoch=epoch, shuffle=True, what="the training data")
        values, lr = train_epoch_data(pop, self.task, data, rates, steps, self.predictions,
                                      self.dtype, class_axis=self.class_axis)
        return values | {"lr": lr}

    def finish_epoch(self, pop: Population, trained: dict[str, Tensor], eval_batch: int
                     ) -> tuple[dict[str, Tensor], dict[str, Tensor], EpochMetrics]:
        return trained, *self.evaluate(pop, eval_batch)

    def evaluate(self, pop: Population, eval_batch: int
                 ) -> tuple[dict[str, Tensor], EpochMetrics]:
        # drawing nothing the next epoch's dropout draws from: a loader ordering itself is
        # re-seeded through torch's generator, a dataset's transforms may draw from it
        with isolated_rng(pop.device):
            data = epoch_batches(self.task.val, batch_size=self.plan.batch_size,
                                 seed=self.seed, epoch=0, shuffle=False,
                                 what="the validation data")
            return evaluate_data(pop, self.task, data, self.predictions, self.dtype,
                                 class_axis=self.class_axis)

    def recomputed_norms(self, pop: Population, epoch: int, count: int
                         ) -> AbstractContextManager[int]:
        """:meth:`Population.recomputed_norms` from the first ``count`` batches of
        ``epoch`` (the loader drawn again as that epoch drew it, on a copy of the random
        state)."""
        def first() -> Iterator[Any]:
            with isolated_rng(pop.device):
                data = epoch_batches(self.task.train, batch_size=self.plan.batch_size,
                                     seed=self.seed, epoch=epoch, shuffle=True,
                                     what="the training data")
                for batch in itertools.islice(data, count):
                    yield inputs_of(self.task, to_device(batch, pop.device, self.dtype))[0]
        return pop.recomputed_norms(first(), self.task.loss)


class _Loop:
    """The epoch loop of :func:`fit` and what it carries from epoch to epoch: train,
    evaluate, record, report, checkpoint; and the validation targets, counted in the first
    evaluation (:attr:`labels`: the same every epoch, so read once)."""

    def __init__(self, task: Task, members: Sequence[Member], config: SweepConfig,
                 pop: Population, rates: Tensor | None, plan: RunPlan) -> None:
        self.task, self.config, self.pop, self.rates = task, config, pop, rates
        self.epochs = plan.epochs
        #: known up front, or (data without a length) from the first epoch's batches
        self.steps_per_epoch = plan.steps_per_epoch
        self.plateaus = _Plateaus(members, task)
        self.recorder = _Recorder(len(members))
        self.steps: list | None = [] if config.record_steps else None
        self.done, self.seconds = 0, 0.0
        self.fingerprint = plan.fingerprint
        self.labels = LabelCounts()  # not counted yet
        #: the task's own monitor on majority answers, scored in the first evaluation
        self.own_chance = math.nan

    @property
    def chance(self) -> float:
        """The monitor's value for always answering the majority validation class (for one
        of the task's own metrics, its value on such answers: :func:`majority_levels`)."""
        counted = self.labels.chance(self.task.monitor)
        return counted if math.isfinite(counted) else self.own_chance

    @property
    def noise_examples(self) -> float:
        """What a score's noise counts when the task's own monitor is a share averaged over
        classes (:func:`~lrlab.metrics.share_examples`); ``nan`` otherwise."""
        return share_examples(self.labels, self.own_chance)

    def _counting(self, feed: _TensorFeed | _DataFeed) -> dict[str, Scored] | None:
        """Before the first evaluation of a task ranked by one of its own metrics: that
        metric, wrapped to keep what it scored (:class:`Scored`), for
        :func:`majority_levels` to score majority answers on the same batches."""
        m = self.task.monitor
        if self.labels.examples or m not in feed.task.metrics:
            return None
        return {m: Scored(feed.task.metrics[m])}

    def run(self, feed: _TensorFeed | _DataFeed, callbacks: Sequence[Callback],
            every: int | None, on_checkpoint: Callable[[Checkpoint], None] | None) -> None:
        """Epochs ``done + 1`` to the last; each ends with the callbacks, then (every
        ``every`` epochs, and after the last) a checkpoint."""
        pop, config = self.pop, self.config
        start = time.perf_counter() - self.seconds
        for epoch in range(self.done + 1, self.epochs + 1):
            rows, steps = len(self.recorder.rows), len(self.steps or ())
            trained = feed.train_epoch(pop, epoch, self.rates, self.steps)
            if self.steps_per_epoch is None:
                self.steps_per_epoch = pop.steps // epoch
            spe = self.steps_per_epoch
            kill_point("epoch", epoch)
            own, plain = self._counting(feed), feed.task
            if own is not None:  # this evaluation keeps what the monitor scored
                feed.task = plain.replace(metrics={**plain.metrics, **own})
            try:
                with (feed.recomputed_norms(pop, epoch, config.norm_batches)
                      if config.norm_batches else nullcontext()):
                    train_values, val_values, scored = feed.finish_epoch(
                        pop, trained, config.eval_batch_size)  # type: ignore[arg-type]
            finally:
                feed.task = plain
            if not self.labels.examples:
                self.labels = scored.labels()
                if own is not None:
                    self.own_chance = majority_levels(
                        plain, own, self.labels.majority(), getattr(feed, "class_axis", -1)
                    ).get(self.task.monitor, math.nan)
            self.plateaus.update(val_values, self.rates, pop.steps)
            self.seconds = time.perf_counter() - start
            train_values["time"] = torch.full_like(train_values["lr"], self.seconds,
                                                   dtype=torch.float64)
            self.recorder.add(epoch, "train", train_values)
            self.recorder.add(epoch, "val", val_values)
            self.done = epoch
            diverged_step = pop.diverged_step.cpu().numpy()
            last = last_epochs(diverged_step, spe, self.epochs)
            report = EpochReport(
                epoch, self.epochs, pop.members,
                {k: v.cpu().numpy() for k, v in val_values.items()}, pop.alive.cpu().numpy(),
                self.seconds, records=partial(self.recorder.frame, last, rows,
                                              len(self.recorder.rows)),
                steps=None if self.steps is None else partial(_steps_frame,
                                                              self.steps[steps:], spe),
                diverged_step=diverged_step,
                diverged_epoch=diverged_epochs(diverged_step, spe), monitor=self.task.monitor,
                higher_is_better=self.task.higher_is_better, chance=self.chance,
                val_examples=self.labels.examples, noise_examples=self.noise_examples)
            for cb in callbacks:
                cb(report)
            if on_checkpoint is not None and checkpoint_due(epoch, self.epochs, every):
                on_checkpoint(self.checkpoint())

    def checkpoint(self) -> Checkpoint:
        """This loop's state at the end of epoch ``done``, every tensor copied to the CPU."""
        device = self.pop.device
        rng = {"cpu": torch.get_rng_state(), **host_states()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        steps = [[s, *(t.detach().cpu().clone() for t in values)]
                 for s, *values in (self.steps or [])]
        plateaus = [{k: v.clone() if isinstance(v, Tensor) else v for k, v in state.items()}
                    for state in self.plateaus.state()]
        return Checkpoint(epoch=self.done, epochs=self.epochs, fingerprint=self.fingerprint,
                          population=self.pop.state_dict(), plateaus=plateaus,
                          records=self.recorder.state(), steps=steps, seconds=self.seconds,
                          rng=rng, labels=self.labels, own_chance=self.own_chance)

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue from ``ckpt`` (inside :func:`fit`'s forked random state)."""
        if ckpt.fingerprint != self.fingerprint or ckpt.epochs != self.epochs:
            raise LrlabError("the checkpoint was taken with other settings, members or task "
                             "defaults; resume with the settings it was saved with")
        if not 0 <= ckpt.epoch <= self.epochs:
            raise LrlabError(f"the checkpoint is at epoch {ckpt.epoch} of a {self.epochs}-epoch "
                             "fit; it is damaged")
        self.pop.load_state_dict(ckpt.population)
        if self.rates is not None:
            self.plateaus.restore(ckpt.plateaus, self.rates, self.pop.steps)
        self.recorder.restore(ckpt.records)
        if self.steps is not None:
            self.steps = [(int(s), *values) for s, *values in ckpt.steps]
        self.done, self.seconds = ckpt.epoch, float(ckpt.seconds)
        self.labels = ckpt.labels
        self.own_chance = ckpt.own_chance
        _set_rng(ckpt.rng, self.pop.device)
