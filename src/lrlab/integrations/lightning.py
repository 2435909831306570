"""PyTorch Lightning: lrlab's range test at the start of ``fit``, its rate really applied.

:class:`FindLR` is a ``lightning.pytorch.Callback``. When training starts (after the
optimizers, schedulers and the train dataloader exist, before the first batch) it runs
:func:`lrlab.find_lr` on the module's own ``training_step`` loss over the trainer's train
dataloader, with the module's own optimizer, each step over the trainer's
``accumulate_grad_batches`` batches as its training steps are, its gradient clipped to the
trainer's ``gradient_clip_val`` when it clips by norm (``gradient_clip_algorithm="norm"``,
the default), then:

* applies the chosen reading to every optimizer: with ``c = rate / peak_0`` (``peak_0``
  the first group's highest rate: a ``OneCycleLR``'s ``max_lr`` or a ``CyclicLR``'s
  ``max_lrs``, else its ``initial_lr`` when a scheduler set one, else its ``lr``), each
  group's ``lr``, ``initial_lr``, ``max_lr`` and ``min_lr`` and each scheduler's
  ``base_lrs``, ``max_lrs`` and last rates (a ``SequentialLR``'s or ``ChainedScheduler``'s
  parts' too) are multiplied by ``c``: groups keep their
  ratios, a cycle peaks at the rate and any other scheduler starts from it (absolute
  floors such as ``eta_min`` stay);
* checks at the next optimizer step that the optimizer really trains at the rate it set
  (``rate_used``), and raises if something overwrote it;
* leaves everything else as it was: weights, buffers, gradients, the optimizer's state,
  the random states (the dataloader's generator too), and the trainer's loops, callbacks
  and logged metrics, which the test never touches (``training_step`` is called
  directly; its ``self.log`` calls are discarded while the test runs);
* moves the module's own name for its rate (``lr`` or ``learning_rate``: an attribute or in
  ``hparams``, as Lightning's ``LearningRateFinder`` finds it) by the same factor, so a
  checkpoint's hyperparameters hold the rate trained at, and so does the ``hparams.yaml``
  of a TensorBoard or CSV logger (written again: Lightning logs the hyperparameters before
  the test; TensorBoard's HPARAMS tab, logged then, keeps the starting rate);
* logs the rate (``lrlab/lr``) to every logger and, to a TensorBoard logger, the range
  test's figure.
* keeps the fit's optimizer steps left in the result (``training_steps``), so its
  warnings are ``lrlab find``'s on a task (a fit of fewer than 200 steps names the rates
  to train and compare: three, four under momentum 0.9), and raises each as a ``UserWarning``: the fit goes on at the
  reading.

Under several processes (DDP), each runs the test on its own shard and rank 0's rate is
broadcast to all; tested on one CPU process. Mixed precision: the test runs
``training_step`` outside the precision plugin's autocast, in the module's own dtype.

A run resumed from a checkpoint (``fit(ckpt_path=...)``) does not run it at the start: the
optimizer's restored state already holds the rate, and the callback's state (``rate``) is
saved in the checkpoint.

``epochs=(5, 10)`` runs it again at the start of those epochs (as ``trainer.current_epoch``
counts them, from 0), for a rate that follows the training.

Needs ``pip install 'lrlab[lightning]'``.

Example::

    import lightning as L
    from lrlab.integrations.lightning import FindLR

    finder = FindLR(start=1e-6, end=1.0)
    L.Trainer(max_epochs=10, callbacks=[finder]).fit(module, train_loader)
    epoch, result = finder.results[0]       # (epoch, RangeTestResult) per test
    finder.rate, result.suggestion.why
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrlab._errors import LrlabError
from lrlab.integrations._extras import require, user_level

_pl = require("lightning.pytorch", "lightning", what="lrlab.integrations.lightning")

from lightning.pytorch.utilities import move_data_to_device
from lightning.pytorch.utilities.parsing import (
    lightning_getattr,
    lightning_hasattr,
    lightning_setattr,
)

from lrlab.integrations._rates import at_base_rates, scale_rates
from lrlab.search import RangeTestResult, find_lr, model_loss

__all__ = ["FindLR"]

#: The packages whose frames lie between the user's ``trainer.fit()`` and the hooks.
_CALLERS = ("lightning", "pytorch_lightning", "torch")


@contextlib.contextmanager
def _quiet_logging(module) -> Iterator[None]:
    """``self.log`` / ``self.log_dict`` discarded while the test calls ``training_step``
    (else its losses would enter the first epoch's logged means)."""
    module.log = module.log_dict = lambda *args, **kwargs: None
    try:
        yield
    finally:
        del module.log, module.log_dict


@contextlib.contextmanager
def _loader_generators(loader: Any) -> Iterator[None]:
    """A dataloader's own generators (its and its sampler's) restored after the test."""
    owners = [loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)]
    gens = [g for o in owners if isinstance(g := getattr(o, "generator", None), torch.Generator)]
    states = [g.get_state() for g in gens]
    try:
        yield
    finally:
        for g, state in zip(gens, states):
            g.set_state(state)


def _base_rate(optimizer: torch.optim.Optimizer) -> float:
    group = optimizer.param_groups[0]
    return float(group.get("initial_lr", group["lr"]))


def _rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _rename(trainer, module, factor: float) -> None:
    """The module's own names for its rate (``lr`` or ``learning_rate``: an attribute, in
    ``hparams`` or the datamodule's, as Lightning's tuner finds them) moved as group 0 moved:
    a checkpoint's hyperparameters then hold the rate trained at. So do the loggers' records
    of them (Lightning logged them before the test): the ``hparams.yaml`` a TensorBoard or
    CSV logger keeps is written again."""
    moved = []
    for name in ("lr", "learning_rate"):
        if lightning_hasattr(module, name):
            value = lightning_getattr(module, name)
            if _rate(value):
                lightning_setattr(module, name, value * factor)
                moved.append(name)
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):  # its experiment rewrites the file (rank 0)
            kept = logger.experiment.hparams if trainer.is_global_zero else {}
            again = {n: kept[n] * factor for n in moved if _rate(kept.get(n))}
            if again:
                logger.log_hyperparams(again)
        elif isinstance(logger, TensorBoardLogger):  # written once, by its first save()
            again = {n: logger.hparams[n] * factor for n in moved
                     if _rate(logger.hparams.get(n))}
            logger.hparams.update(again)
            if again and trainer.is_global_zero:
                from lightning.pytorch.core.saving import save_hparams_to_yaml

                path = Path(logger.log_dir) / logger.NAME_HPARAMS_FILE
                if path.is_file():
                    save_hparams_to_yaml(path, logger.hparams)


class FindLR(_pl.Callback):
    """Run lrlab's range test when training starts and train at its rate.

    Args:
        start, end, steps, mode, smooth, diverge, seeds: the range test's settings (see
            :func:`lrlab.find_lr`).
        reading: which reading to train at: ``"suggestion"`` (lrlab's calibrated rule, the
            default) or any other name of :meth:`RangeTestResult.suggestions`
            (``"recommended"``, ``"valley"``, ``"steepest"``, ``"min_div10"``, ...).
        epochs: also run it at the start of these epochs (``trainer.current_epoch``, from 0).

    Attributes:
        rate: the rate last applied (``None`` before any).
        results: ``(epoch, RangeTestResult)`` of every test run.
        rate_used: the rate the optimizer's first group trained at on the first step after
            each test, ``(epoch, rate)``.
    """

    def __init__(self, *, start: float = 1e-7, end: float = 10.0, steps: int = 100,
                 mode: str = "exp", smooth: float = 0.98, diverge: float = 4.0,
                 seeds: int | Sequence[int] | None = None, reading: str = "suggestion",
                 epochs: Sequence[int] = ()) -> None:
        super().__init__()
        self.settings = {"start": start, "end": end, "steps": steps, "mode": mode,
                         "smooth": smooth, "diverge": diverge, "seeds": seeds}
        self.reading = reading
        self.epochs = tuple(int(e) for e in epochs)
        self.rate: float | None = None
        self.results: list[tuple[int, RangeTestResult]] = []
        self.rate_used: list[tuple[int, float]] = []
        self._expect: list[float] | None = None

    # -- Lightning hooks -------------------------------------------------------------------

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.global_step == 0:  # a run resumed from a checkpoint keeps its rate
            self.run(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the rate applied (the results stay in memory)."""
        return {"rate": self.rate}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rate = state_dict.get("rate")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch in self.epochs and trainer.current_epoch > 0:
            self.run(trainer, pl_module)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self._expect is None or optimizer is not trainer.optimizers[0]:
            return
        used = [group["lr"] for group in optimizer.param_groups]
        expected, self._expect = self._expect, None
        self.rate_used.append((trainer.current_epoch, float(used[0])))
        if not all(math.isclose(u, e, rel_tol=1e-9) for u, e in zip(used, expected)):
            raise LrlabError(f"the optimizer trained at {used[0]:.4g}, not at the {expected[0]:.4g} "
                             "lrlab set: another callback or scheduler overwrote the rate")

    # -- the test --------------------------------------------------------------------------

    def run(self, trainer, pl_module) -> RangeTestResult:
        """Run the range test now and apply its rate (what the hooks call)."""
        optimizer, loader = self._checked(trainer, pl_module)
        calls = iter(range(1 << 62))

        def loss(module, batch):
            out = module.training_step(move_data_to_device(batch, module.device), next(calls))
            out = out.get("loss") if isinstance(out, dict) else out
            if not isinstance(out, torch.Tensor):
                raise LrlabError("training_step returned no loss (None or a dict without "
                                 "'loss'); lrlab's range test needs the loss it trains on")
            return out

        with at_base_rates(optimizer), _quiet_logging(pl_module), _loader_generators(loader):
            result = find_lr(pl_module, model_loss(loss), loader, optimizer=optimizer,
                             device=pl_module.device, training_steps=_steps_left(trainer),
                             **{"accumulate": trainer.accumulate_grad_batches,
                                "clip_grad_norm": _clip(trainer), **self.settings})
        for line in result.said():  # training goes on at the reading: say it now, at the
            # user's trainer.fit() (stacklevel=2 was Lightning's line that called the hook)
            warnings.warn(f"lrlab: {line}", UserWarning, stacklevel=user_level(*_CALLERS))
        self.results.append((trainer.current_epoch, result))
        readings = result.suggestions()
        if self.reading not in readings:
            raise LrlabError(f"no reading {self.reading!r}; choose one of: "
                             f"{', '.join(readings)}")
        rate = trainer.strategy.broadcast(readings[self.reading].lr, src=0)  # one rate for all
        if not (math.isfinite(rate) and rate > 0):
            warnings.warn(f"lrlab: the range test gave no {self.reading} ({result.reason}); "
                          "training goes on at the optimizer's own rate", UserWarning,
                          stacklevel=user_level(*_CALLERS))
            return result
        schedulers = [config.scheduler for config in trainer.lr_scheduler_configs]
        before = _base_rate(optimizer)
        for opt in trainer.optimizers:
            scale_rates(opt, schedulers, rate)
        _rename(trainer, pl_module, _base_rate(optimizer) / before)
        self.rate = rate
        self._expect = [group["lr"] for group in optimizer.param_groups]
        self._log(trainer, result, rate)
        return result

    def _checked(self, trainer, pl_module):
        """The module's optimizer and the train dataloader, or one line saying what lacks."""
        if not pl_module.automatic_optimization:
            raise LrlabError("the module uses manual optimization: lrlab cannot drive its "
                             "optimizers from training_step; call lrlab.find_lr yourself")
        mine = {id(p) for p in pl_module.parameters()}
        if not any(id(p) in mine for opt in trainer.optimizers
                   for group in opt.param_groups for p in group["params"]):
            raise LrlabError(f"{type(pl_module).__name__} configures no optimizer over its "
                             "parameters (configure_optimizers returned none); lrlab has no "
                             "rate to set")
        loader = trainer.train_dataloader
        if isinstance(loader, (list, tuple, dict)):
            raise LrlabError("the trainer has several train dataloaders; lrlab's range test "
                             "reads one")
        if loader is None:
            raise LrlabError("the trainer has no train dataloader yet; pass one to fit()")
        return trainer.optimizers[0], loader

    def _log(self, trainer, result: RangeTestResult, rate: float) -> None:
        for logger in trainer.loggers:
            logger.log_metrics({"lrlab/lr": rate}, step=trainer.global_step)
            writer = getattr(logger, "experiment", None)
            if hasattr(writer, "add_image"):  # TensorBoard: the range test's figure
                from lrlab.report import plot_range_test, range_test_info

                fig = plot_range_test(range_test_info(result))
                fig.canvas.draw()
                writer.add_image("lrlab/range_test", np.asarray(fig.canvas.buffer_rgba())[..., :3],
                                 trainer.global_step, dataformats="HWC")


def _steps_left(trainer) -> int | None:
    """The optimizer steps the fit has left (``estimated_stepping_batches`` less the steps
    taken), the training the reading is for: under 200 its warnings name the rates to
    train (:func:`~lrlab.search._result.short_warning`); None when unbounded."""
    total = trainer.estimated_stepping_batches
    if not math.isfinite(total):
        return None
    return max(int(total) - trainer.global_step, 1)


def _clip(trainer) -> float | None:
    """The global norm the trainer clips gradients to (``gradient_clip_val`` under
    ``gradient_clip_algorithm="norm"``), or None (no clipping, or clipping by value, which
    the range test does not do)."""
    value = getattr(trainer, "gradient_clip_val", None)
    how = str(getattr(trainer, "gradient_clip_algorithm", None) or "norm").lower()
    return float(value) if value and float(value) > 0 and how.endswith("norm") else None

