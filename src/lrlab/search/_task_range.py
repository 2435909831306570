"""The range test on a task: its model, its loss, its data, one seed's weights and order.

:func:`range_test` is what ``lrlab find`` and :func:`~lrlab.search.auto` run: it builds the
task's model from ``seed``, trains it with lrlab's own update rule (the one a population
would use, so the test and the populations agree) while the rate rises, and reads the curve
with :func:`~lrlab.search.find_lr`. Tensor data runs several seeds as one vectorised
population with plain SGD; a Dataset or DataLoader task feeds its batches as they come
(dict batches, own-loss models included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lrlab._errors import LrlabError
from lrlab.data import ModelLoss
from lrlab.search._range_test import Mode, find_lr
from lrlab.search._result import RangeTestResult
from lrlab.tasks import Split, Task

__all__ = ["range_test"]


def _loss(task: Task) -> Any:
    """The task's loss as ``find_lr`` takes it: a batch mean of ``(outputs, targets)``, the
    model's own (``None``) or a :func:`~lrlab.data.model_loss`."""
    if task.loss is None or isinstance(task.loss, ModelLoss):
        return task.loss

    def loss(outputs, targets):  # the per-sample loss over one member, averaged
        return task.loss(outputs.unsqueeze(0), targets).mean()
    return loss


def _data(task: Task, split: Any) -> Any:
    return (split.x, split.y) if isinstance(split, Split) else split


def range_test(task: Task, *, optimizer: str = "sgd", hparams: Mapping[str, float] | None = None,
               seeds: int | Sequence[int] = 1, seed: int = 0, start: float = 1e-7, end: float = 10.0,
               steps: int = 100, mode: Mode = "exp", batch_size: int | None = None,
               validate: bool = True, extend: bool = False) -> RangeTestResult:
    """Leslie Smith's range test on ``task`` (see :func:`~lrlab.search.find_lr`).

    Args:
        task: any task (tensors, or a Dataset / DataLoader).
        optimizer, hparams: lrlab's update rule and its hyperparameters (``"sgd"``,
            ``"momentum"``, ``"adam"``, ...).
        seeds: tests to run, read on their median: a count (seeds ``seed .. seed + seeds -
            1``) or the seeds themselves.
        seed: the initial weights (and, with one test, the data order).
        start, end, steps, mode: the rate ramp.
        batch_size: default: the task's (a DataLoader keeps its own).
        validate: also evaluate the validation data along the way (Smith's readings).
        extend: when the loss neither fell clearly, nor rose, nor diverged (no suggestion:
            the descent has not started), run the test again up to ``1000 x end`` with the
            same steps per decade (``mode="exp"``), once.

    Example:
        >>> from lrlab.tasks import get_task
        >>> result = range_test(get_task("blobs"), steps=20, validate=False)
        >>> len(result.lrs) <= 20
        True
    """
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise LrlabError(f"seeds must be a count of at least 1, got {seeds!r}")
        seeds = list(range(seed, seed + seeds))
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise LrlabError(f"seeds must be a count or a non-empty list of int seeds, got {seeds!r}")
    seed = seeds[0] if len(seeds) == 1 else seed
    args = {"optimizer": optimizer, "hparams": hparams, "seeds": seeds, "seed": seed,
            "start": start, "mode": mode, "batch_size": batch_size, "validate": validate}
    result = _once(task, end=end, steps=steps, **args)
    if (extend and mode == "exp" and math.isnan(result.suggestion.lr)
            and not result.stopped_early):
        more = steps + round(3 * steps / math.log10(end / start))  # 3 decades, same density
        result = _once(task, end=end * 1000, steps=more, **args)
    return result


def _once(task: Task, *, optimizer: str, hparams: Mapping[str, float] | None,
          seeds: list[int], seed: int, start: float, end: float, steps: int, mode: Mode,
          batch_size: int | None, validate: bool) -> RangeTestResult:
    from lrlab.optim import Optimizer

    hparams = dict(hparams or {})
    keys = None if task.in_memory else (None, task.target_key)
    with torch.random.fork_rng(devices=[]):  # weights and data order from seed, not chance
        torch.manual_seed(seed)
        model = task.init_model(seed)
        own_sgd = optimizer == "sgd" and not hparams  # vectorised seeds on tensors
        opt = None if own_sgd else Optimizer(model.parameters(), optimizer, lr=start, **hparams)
        return find_lr(model, _loss(task), _data(task, task.train), optimizer=opt, start=start,
                       end=end, steps=steps, mode=mode,
                       val_data=_data(task, task.val) if validate else None,
                       batch_size=batch_size or task.batch_size, batch_keys=keys,
                       seeds=seeds if len(seeds) > 1 else None)
