"""Every check a fit makes before its first step, made before anything is written: the
device, the batch size, the schedules built for the fit's length, and the task's model,
loss and monitor on a probe population of a few members and a small batch.

:func:`check_fit` runs them all; :func:`lrlab.store.run_study` calls it before it creates
a study, so a study exists only when training can start, and :func:`~lrlab.train.fit`
calls it first too. A Dataset or DataLoader task is checked by its first-batch probe
(:func:`~lrlab.train.resolve_task`); the memory a population needs is the executor's
concern (:func:`~lrlab.train.estimate_memory`). :func:`threads_for` picks the intra-op
threads the command line uses.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lrlab._errors import LrlabError
from lrlab._once import unheard
from lrlab.metrics import EpochMetrics
from lrlab.tasks import Task
from lrlab.train._config import Member, SweepConfig
from lrlab.train._loader import first_loss, member_metric, one_model_loss
from lrlab.train._plan import plan_run

__all__ = ["SMALL_WORK", "check_fit", "threads_for"]

#: Examples in the probe batch that tries the task's model and loss.
_PROBE = 4
#: Multiply-adds of one training step (members x parameters x batch) below which one
#: intra-op thread is as fast as several, and far faster on a busy machine.
SMALL_WORK = 20_000_000


def check_fit(task: Task, members: Sequence[Member], config: SweepConfig) -> None:
    """Raise one :class:`LrlabError` line if fitting ``members`` on ``task`` would fail
    before or in its first step; leaves every random state as it was.

    Example:
        >>> from lrlab.tasks import get_task
        >>> from lrlab.train import validated
        >>> config = validated(lrs=[0.1], schedules=["cosine:warmup=5"], epochs=2)
        >>> check_fit(get_task("blobs"), config.members(), config)
        Traceback (most recent call last):
        ...
        lrlab._errors.LrlabError: cosine:warmup=5: warmup=5 must be shorter than training (2 epochs of 10 steps); shorten the warm-up
    """
    from lrlab.train._fit import _population, resolve_device, resolve_task

    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    plan = plan_run(task, config, members)
    if task.in_memory and plan.batch_size > len(task.train):
        raise LrlabError(f"batch size {plan.batch_size} is larger than the {len(task.train)} "
                         "training examples; lower --batch-size")
    if plan.steps_per_epoch:
        _check_schedules(members, *plan.schedule_over)
    if not task.in_memory:  # its first batch through one model: the loader's own probe
        found = resolve_task(task, config, members)
        names = {"loss", "sse"} | set(found.metrics) | (
            {"accuracy", "error", "auc"} if found.num_classes is not None else set())
        _check_monitors(members, names)
        return
    probe = _probe_members(members)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            warnings.catch_warnings(), unheard():
        warnings.simplefilter("ignore")  # the fit itself says what it has to say
        _build(task, probe[0].seed)
        x = task.train.x[:_PROBE]
        x = x.to(device, dtype) if x.is_floating_point() else x.to(device)  # tokens stay ints
        y = task.train.y[:_PROBE].to(device)
        pop = _population(task, probe, config, device, dtype, plan.batch_size)
        names = _try_step(task, pop, x, y)
    _check_monitors(members, names)


def _check_monitors(members: Sequence[Member], names: set[str]) -> None:
    """Each reduce-on-plateau schedule follows a validation metric the fit records."""
    for spec in dict.fromkeys(m.schedule for m in members):
        if spec.follows_metric and spec.monitor not in names:
            raise LrlabError(f"{spec}: monitor {spec.monitor!r} is not recorded for this task; "
                             f"choose one of: {', '.join(sorted(names))}")


def _check_schedules(members: Sequence[Member], epochs: int, steps_per_epoch: int) -> None:
    """Each distinct schedule built for this fit's length, and read at its two ends."""
    last = torch.tensor([0.0, epochs * steps_per_epoch - 1.0], dtype=torch.float64)
    for spec in dict.fromkeys(m.schedule for m in members):
        if spec.follows_metric:
            continue  # a plateau's values were checked when it was parsed
        spec.build(torch.tensor([1.0], dtype=torch.float64), epochs=epochs,
                   steps_per_epoch=steps_per_epoch)(last)


def _probe_members(members: Sequence[Member]) -> list[Member]:
    """One member per distinct schedule and layer-wise rates: what can fail per member."""
    seen: dict[tuple, Member] = {}
    for m in members:
        seen.setdefault((m.schedule, tuple(sorted(m.lr_mult.items()))), m)
    return list(seen.values())


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _build(task: Task, seed: int) -> nn.Module:
    try:
        model = task.init_model(seed)
    except LrlabError:
        raise
    except Exception as err:  # noqa: BLE001 -- a user's code: any error is theirs
        raise LrlabError(f"task {task.name!r}: building its model failed ({_one_line(err)}); "
                         "fix the task's model function") from None
    if not isinstance(model, nn.Module):
        raise LrlabError(f"task {task.name!r}: its model function returned "
                         f"{type(model).__name__}, not a torch.nn.Module")
    return model


def _try_step(task: Task, pop, x: Tensor, y: Tensor) -> set[str]:
    """The probe population's outputs, loss and one step on a small batch; the validation
    metrics the fit will record."""
    k, b = pop.members, len(x)
    try:
        out = pop.predict(x)
    except LrlabError as err:  # already says what is wrong with the model
        raise LrlabError(f"task {task.name!r}: {err}") from None
    except Exception as err:  # noqa: BLE001 -- a user's code: any error is theirs
        raise LrlabError(f"task {task.name!r}: its model fails on training inputs of shape "
                         f"{tuple(x.shape[1:])} per example ({_one_line(err)}); make the model "
                         "take the task's inputs") from None
    if not isinstance(out, Tensor):
        raise LrlabError(f"task {task.name!r}: its model returned {type(out).__name__}, not a "
                         "tensor; forward must return the outputs as one tensor")
    try:
        losses = first_loss(task.loss, out, y)
    except LrlabError as err:
        raise LrlabError(f"task {task.name!r}: {one_model_loss(task, out[0], y) or err}") \
            from None
    except Exception as err:  # noqa: BLE001 -- a user's code: any error is theirs
        raise LrlabError(f"task {task.name!r}: " + (
            one_model_loss(task, out[0], y)
            or f"its loss fails on the model's outputs of shape {tuple(out.shape)} and "
               f"targets of shape {tuple(y.shape)} ({_one_line(err)})")) from None
    if not isinstance(losses, Tensor) or tuple(losses.shape) != (k, b):
        unwrapped = one_model_loss(task, out[0], y)
        if unwrapped:
            raise LrlabError(f"task {task.name!r}: {unwrapped}")
        got = (f"shape {tuple(losses.shape)}" if isinstance(losses, Tensor)
               else type(losses).__name__)
        raise LrlabError(f"task {task.name!r}: its loss must return one value per member and "
                         f"example, shape (K, B) = ({k}, {b}), got {got}; reduce nothing "
                         "(e.g. reduction='none')")
    metrics = EpochMetrics(k, num_classes=task.num_classes, auc=task.num_classes is not None,
                           device=pop.device)
    try:
        metrics.update(out, y, losses)
        names = set(metrics.compute()) | set(task.metrics)
        for name, fn in task.metrics.items():  # the task's own: one line if one fails
            member_metric(task, name, fn, out, y)
    except LrlabError:
        raise
    except Exception as err:  # noqa: BLE001 -- a user's code: any error is theirs
        raise LrlabError(f"task {task.name!r}: its outputs {tuple(out.shape)} and targets "
                         f"{tuple(y.shape)} cannot be scored ({_one_line(err)})") from None
    if task.monitor not in names:
        kind = "a regression task" if task.num_classes is None else "this task"
        raise LrlabError(f"task {task.name!r}: monitor {task.monitor!r} is not recorded for "
                         f"{kind}; choose one of: {', '.join(sorted(names))}")
    try:
        pop.step(x, y, task.loss)
    except Exception as err:  # noqa: BLE001 -- a user's code: any error is theirs
        raise LrlabError(f"task {task.name!r}: a training step fails ({_one_line(err)})") \
            from None
    return names


def threads_for(task: Task, members: int, *, batch_size: int | None = None) -> int | None:
    """The intra-op threads a fit of ``members`` on ``task`` should use: 1 when one step is
    small work (fewer than :data:`SMALL_WORK` multiply-adds: members x parameters x batch),
    where threads only wait on each other and on other busy processes; ``None`` (torch's
    default) otherwise.

    Example:
        >>> from lrlab.tasks import get_task
        >>> threads_for(get_task("blobs"), 4)
        1
    """
    params = sum(p.numel() for p in _build(task, 0).parameters())
    work = members * params * (batch_size or task.batch_size)
    return 1 if work < SMALL_WORK else None
