"""Hugging Face ``Trainer``: lrlab's range test on the trainer's own model, data and optimizer.

:func:`find_trainer_lr` runs :func:`lrlab.find_lr` before training: on ``trainer.model``
(which computes its own loss from the dict batches: ``model(**batch).loss``, through
``trainer.compute_loss``), over ``trainer.get_train_dataloader()``, with the optimizer the
trainer would build (``trainer.create_optimizer()``: its type and weight-decay groups), each
step over ``args.gradient_accumulation_steps`` batches as the trainer's steps are, its
gradient clipped to ``args.max_grad_norm`` as the trainer clips it (1.0 by default). The
optimizer is then dropped again, ``trainer.args.learning_rate`` is set to the chosen
reading, and ``trainer.train()`` builds its optimizer and schedule from that rate. The model,
the random states and everything the trainer had are as before; the rate is logged through
the trainer's reporters (``trainer.log``: TensorBoard, W&B, ... as configured), as
``lrlab/lr``. The result knows the training's length (``args.max_steps``, else its epochs
of the train dataloader's steps): its warnings (each also a ``UserWarning``) say when the
reading alone is weak evidence, a training of fewer than 200 steps among them.

:class:`FindLRCallback` does the same from inside ``train()`` (``on_train_begin``), where
the optimizer and schedule already exist: it scales their rates to the chosen one
(:func:`lrlab.integrations.scale_rates`) and records it in ``args.learning_rate``. A
callback sees the model but not the trainer, so it runs the model's own loss
(``model(**batch).loss``); a trainer whose loss is its own (``compute_loss_func``, a
subclass's ``compute_loss``) needs :func:`find_trainer_lr`.

Fine-tuning is where finders are said to mislead ("usually indicate 1e-3 when the best is
in the 1e-5 range", huggingface/transformers#16013): ``docs/benchmarks.md`` ("Fine-tuning")
measures lrlab's suggestion against a grid on a small pretrained model built offline.

Needs ``pip install 'lrlab[transformers]'``.

Example::

    from transformers import Trainer
    from lrlab.integrations.transformers import find_trainer_lr

    trainer = Trainer(model=model, args=args, train_dataset=train)
    result = find_trainer_lr(trainer, start=1e-7, end=1e-1)
    trainer.train()                      # at trainer.args.learning_rate == result's suggestion
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from lrlab._errors import LrlabError
from lrlab.integrations._extras import require, user_level
from lrlab.integrations._rates import at_base_rates, inner_optimizer, scale_rates

_hf = require("transformers", "transformers", what="lrlab.integrations.transformers")

from lrlab.search import RangeTestResult, find_lr, model_loss

__all__ = ["FindLRCallback", "find_trainer_lr"]

#: The packages whose frames lie between the user's ``trainer.train()`` and the callback.
_CALLERS = ("transformers", "accelerate")

#: The range test's default span for fine-tuning rates.
DEFAULTS = {"start": 1e-7, "end": 1.0, "steps": 100}


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return type(batch)({k: _to(v, device) for k, v in batch.items()})
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


def _training_steps(args, loader) -> int | None:
    """The optimizer steps ``Trainer.train()`` will take, as the Trainer counts them:
    ``args.max_steps`` when set, else ``ceil(num_train_epochs x ceil(len(loader) /
    gradient_accumulation_steps))``; None when the loader has no length.

    Example:
        >>> from types import SimpleNamespace
        >>> args = SimpleNamespace(max_steps=-1, num_train_epochs=2, gradient_accumulation_steps=3)
        >>> _training_steps(args, range(16))   # 6 steps an epoch (the last over one batch)
        12
    """
    if args.max_steps and args.max_steps > 0:
        return int(args.max_steps)
    try:
        batches = len(loader)
    except TypeError:
        return None
    per_epoch = max(math.ceil(batches / args.gradient_accumulation_steps), 1)
    return math.ceil(args.num_train_epochs * per_epoch)


def _range_test(trainer, model, optimizer, loader, options: dict,
                args, steps: int | None) -> RangeTestResult:
    """The range test, kept with the length of the training it is for (``steps``): under
    :data:`~lrlab.search._result.SHORT` optimizer steps its warnings name the rates to
    train (:func:`~lrlab.search._result.short_warning`, as ``lrlab find`` on a task), and
    every warning is also a Python ``UserWarning``: the training goes on at the reading
    without the user looking at the result."""
    device = next(p.device for p in model.parameters())

    def loss(module, batch):
        return trainer.compute_loss(module, _to(batch, device))

    # each step over the batches of one of the trainer's optimizer steps, its gradient
    # clipped as the trainer clips it (max_grad_norm, 1.0 by default; 0 or None: off)
    clip = args.max_grad_norm if args.max_grad_norm and args.max_grad_norm > 0 else None
    settings = {**DEFAULTS, "accumulate": args.gradient_accumulation_steps,
                "clip_grad_norm": clip, **options}
    with at_base_rates(optimizer):
        result = find_lr(model, model_loss(loss), loader, optimizer=optimizer, device=device,
                         training_steps=steps, **settings)
    for line in result.said():  # at the user's call (train() itself, under the callback)
        warnings.warn(f"lrlab: {line}", UserWarning, stacklevel=user_level(*_CALLERS))
    return result


def _chosen(result: RangeTestResult, reading: str) -> float | None:
    readings = result.suggestions()
    if reading not in readings:
        raise LrlabError(f"no reading {reading!r}; choose one of: {', '.join(readings)}")
    rate = readings[reading].lr
    if math.isfinite(rate) and rate > 0:
        return rate
    warnings.warn(f"lrlab: the range test gave no {reading} ({result.reason}); training goes "
                  "on at args.learning_rate", UserWarning, stacklevel=user_level(*_CALLERS))
    return None


def _check(trainer) -> None:
    if not isinstance(trainer, _hf.Trainer):
        raise LrlabError(f"find_trainer_lr needs a transformers.Trainer, got "
                         f"{type(trainer).__name__}")
    if trainer.train_dataset is None:
        raise LrlabError("the trainer has no train_dataset; give Trainer(train_dataset=...)")


def find_trainer_lr(trainer, *, reading: str = "suggestion", **options: Any) -> RangeTestResult:
    """Run the range test on ``trainer``'s model and data, and train at its rate.

    Args:
        trainer: a ``transformers.Trainer`` not yet trained (its optimizer not yet built,
            or built but never stepped).
        reading: the reading to train at: ``"suggestion"`` (default) or another name of
            :meth:`RangeTestResult.suggestions`.
        **options: :func:`lrlab.find_lr`'s settings (``start``, ``end``, ``steps``, ``mode``,
            ``smooth``, ``diverge``, ``seeds``, ``accumulate``, ``clip_grad_norm``); default
            span ``1e-7 .. 1``, 100 steps, ``accumulate`` the trainer's
            ``gradient_accumulation_steps``, ``clip_grad_norm`` its ``max_grad_norm``.

    Returns:
        the :class:`~lrlab.search.RangeTestResult`, its ``training_steps`` the trainer's
        (:func:`_training_steps`); ``trainer.args.learning_rate`` is its reading (left as it
        was, with a warning, when the curve gives none). Each of its ``warnings`` is also
        a ``UserWarning``: a training of fewer than 200 optimizer steps names the rates to
        train and compare (three; four under momentum 0.9) (a tiny GPT-2 trained 32 steps at the suggestion alone: 10-18%
        more validation loss than a grid's best).

    Raises:
        LrlabError: not a ``Trainer``, no training data, or an unknown ``reading``.
    """
    _check(trainer)
    had = trainer.optimizer
    optimizer = trainer.create_optimizer()  # the one train() would build, dropped after
    try:
        loader = trainer.get_train_dataloader()
        result = _range_test(trainer, trainer.model, optimizer, loader, options, trainer.args,
                             _training_steps(trainer.args, loader))
    finally:
        trainer.optimizer = had
    rate = _chosen(result, reading)
    if rate is not None:
        if had is not None:  # the user's own optimizer (and schedule): moved to the rate
            scheduler = getattr(trainer, "lr_scheduler", None)
            scale_rates(had, [] if scheduler is None else [scheduler], rate)
        trainer.args.learning_rate = rate
        trainer.log({"lrlab/lr": rate})
    return result


class FindLRCallback(_hf.TrainerCallback):
    """Run the range test at ``on_train_begin`` and train at its rate (see the module).

    Args:
        reading, **options: as for :func:`find_trainer_lr`.

    Attributes:
        rate: the rate applied (``None`` before, or when the curve gave none).
        result: the range test.
    """

    def __init__(self, *, reading: str = "suggestion", **options: Any) -> None:
        self.reading, self.options = reading, options
        self.rate: float | None = None
        self.result: RangeTestResult | None = None

    def on_train_begin(self, args, state, control, *, model=None, optimizer=None,
                       lr_scheduler=None, train_dataloader=None, **kwargs) -> None:
        if model is None or optimizer is None or train_dataloader is None:
            raise LrlabError("the Trainer passed no model, optimizer or train dataloader to "
                             "on_train_begin; call find_trainer_lr(trainer) before train()")
        trainer = _TrainerLoss(model)
        # the optimizer inside accelerate's wrapper (what train() hands callbacks): the range
        # test reads its curve with the rules of the update rule inside (AdamW's, not SGD's
        # by the wrapper's unknown name) and steps it as find_trainer_lr steps its own
        self.result = _range_test(trainer, model, inner_optimizer(optimizer), train_dataloader,
                                  self.options, args, state.max_steps or None)
        self.rate = _chosen(self.result, self.reading)
        if self.rate is not None:
            scale_rates(optimizer, [] if lr_scheduler is None else [lr_scheduler], self.rate)
            args.learning_rate = self.rate


class _TrainerLoss:
    """The Trainer's default loss, for the callback (which sees no trainer): the model's own
    ``loss`` output."""

    def __init__(self, model) -> None:
        self.model = model

    @staticmethod
    def compute_loss(model, inputs):
        out = model(**inputs)
        loss = out.get("loss") if isinstance(out, Mapping) else out[0]
        if loss is None:
            raise LrlabError(
                "the model's output holds no 'loss' (FindLRCallback runs model(**batch).loss: "
                "a Trainer's compute_loss_func or a subclass's compute_loss is not visible to "
                "a callback); give the batches their labels, or call "
                "find_trainer_lr(trainer) before trainer.train(), which runs the trainer's loss")
        return loss
