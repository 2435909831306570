"""One batch protocol for the whole library: what a batch is, what the model gets, the target.

A batch, as a ``DataLoader`` yields it, is one of

* a tensor ``x``: the model's only input, no target (an own-loss model, or :func:`model_loss`);
* a tuple or list ``(x, ..., y)``: every element but the last goes to the model positionally
  (``model(x, ...)``), the last is the target;
* a dict: its entries go to the model as keyword arguments (``model(**batch)``), except the
  target's key (``target_key``, ``"labels"`` by default) when a loss of ``(outputs, targets)``
  is given; an own-loss model (Hugging Face style) gets every entry, labels included, and
  returns an object with a ``.loss`` (or a dict with ``"loss"``).

:func:`split_batch` cuts a batch that way, :func:`to_device` moves it, :func:`model_loss` marks a
loss computed from ``(model, batch)``, and :func:`output_loss` / :func:`output_logits` read an
own-loss model's output. The range test (:func:`lrlab.find_lr`) and the population's epoch loop
(:func:`lrlab.fit`) both read batches through these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from lrlab._errors import LrlabError

__all__ = ["DEFAULT_TARGET_KEY", "Inputs", "ModelLoss", "batch_size_of", "correct", "describe", "ignore_index_of",
           "model_loss", "not_a_tensor", "output_logits", "output_loss", "split_batch",
           "to_device"]

#: The key of the target in a dict batch unless told otherwise (Hugging Face's name).
DEFAULT_TARGET_KEY = "labels"


@dataclass(frozen=True)
class ModelLoss:
    """A loss computed from ``(model, batch)``: build it with :func:`model_loss`."""

    fn: Callable[[nn.Module, Any], Tensor]

    def __call__(self, model: nn.Module, batch: Any) -> Tensor:
        return self.fn(model, batch)

    def pair(self, model: nn.Module, batch: Any) -> tuple[Any, Any]:
        """``(loss, outputs)``: ``fn``'s pair as it gave it, or its lone loss with ``None``;
        outputs that are a model's dict or object holding logits give those logits, as an
        own-loss model's are read (:func:`output_logits`).

        Example:
            >>> loss = model_loss(lambda model, batch: (batch.mean(), {"logits": batch}))
            >>> loss.pair(None, torch.ones(2))
            (tensor(1.), tensor([1., 1.]))
        """
        got = self.fn(model, batch)
        if not isinstance(got, tuple):
            return got, None
        if len(got) != 2:
            raise LrlabError(f"model_loss's function returned a tuple of {len(got)}: return "
                             "the loss alone, or (loss, outputs) for the outputs to be scored")
        loss, outputs = got
        if outputs is None or isinstance(outputs, Tensor):
            return loss, outputs
        logits = output_logits(outputs)
        return loss, (outputs if logits is None else logits)


def model_loss(fn: Callable[[nn.Module, Any], Tensor]) -> ModelLoss:
    """Mark ``fn(model, batch) -> scalar`` as the loss, for models that compute their own.

    A plain ``loss_fn`` is called as ``loss_fn(model(x), y)``; both kinds take two arguments,
    so lrlab asks for this explicit wrapper instead of guessing from the signature.

    Example:
        >>> loss = model_loss(lambda model, batch: model(batch["x"]).pow(2).mean())
        >>> isinstance(loss, ModelLoss)
        True
    """
    if not callable(fn):
        raise LrlabError(f"model_loss needs a callable fn(model, batch), got {type(fn).__name__}")
    return ModelLoss(fn)


@dataclass(frozen=True)
class Inputs:
    """What the model is called with, and the target: ``model(*args, **kwargs)``."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    targets: Tensor | None


def split_batch(batch: Any, *, own_loss: bool = False, target_key: str = DEFAULT_TARGET_KEY,
                input_key: str | None = None) -> Inputs:
    """The model's inputs and the target of one batch (see the module docstring).

    Args:
        batch: a tensor, an ``(x, ..., y)`` tuple or list, or a dict.
        own_loss: the model computes its own loss: a dict goes to it whole, and a lone
            tensor or a one-element tuple is allowed (no target).
        target_key: the target's key in a dict batch.
        input_key: a dict batch's single input (``model(batch[input_key])``) instead of
            keyword arguments.

    Example:
        >>> x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
        >>> split_batch((x, y)).targets is y, split_batch({"x": x, "labels": y}).kwargs.keys()
        (True, dict_keys(['x']))
    """
    if isinstance(batch, Mapping):
        targets = batch.get(target_key)
        if targets is None and not own_loss:
            raise LrlabError(f"the batch has no key {target_key!r} for the target (its keys: "
                             f"{', '.join(map(str, batch))}); name the target's key (target_key=, or "
                             "batch_keys=(input_key, target_key) in find_lr), or let the model "
                             "compute its own loss (loss=None)")
        if input_key is not None:
            if input_key not in batch:
                raise LrlabError(f"the batch has no key {input_key!r} (its keys: "
                                 f"{', '.join(map(str, batch))}); fix batch_keys")
            return Inputs((batch[input_key],), {}, targets)
        kwargs = dict(batch) if own_loss else {k: v for k, v in batch.items() if k != target_key}
        return Inputs((), kwargs, targets)
    if isinstance(batch, (tuple, list)):
        if len(batch) >= 2:
            return Inputs(tuple(batch[:-1]), {}, batch[-1])
        if len(batch) == 1 and own_loss:
            return Inputs((batch[0],), {}, None)
    elif isinstance(batch, Tensor) and own_loss:
        return Inputs((batch,), {}, None)
    elif not isinstance(batch, Tensor):  # a dataclass or other object from a collate_fn
        raise LrlabError(f"a batch of type {type(batch).__name__} is not one lrlab reads: "
                         "batches are tensors, (x, ..., y) tuples or lists, or dicts; have "
                         "the collate function return one of those")
    raise LrlabError(f"a batch of type {type(batch).__name__} has no targets: give (x, y) "
                     "batches, dicts with a target key, or a model that computes its own loss")


def to_device(batch: Any, device: torch.device, dtype: torch.dtype | None = None) -> Any:
    """Every tensor of a (nested) tuple, list or dict batch on ``device``; floating tensors
    also cast to ``dtype`` when given (integer inputs, such as token ids, keep theirs)."""
    if isinstance(batch, Tensor):
        if dtype is not None and batch.is_floating_point() and batch.dtype != dtype:
            return batch.to(device, dtype, non_blocking=True)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        moved = [to_device(b, device, dtype) for b in batch]
        if hasattr(batch, "_fields"):  # a namedtuple takes its fields as arguments
            return type(batch)(*moved)
        return type(batch)(moved)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, dtype) for k, v in batch.items()}
    return batch


def batch_size_of(batch: Any) -> int:
    """The first dimension of the batch's target, else of its first tensor (1 if none)."""
    if isinstance(batch, Tensor):
        return len(batch) if batch.dim() else 1
    if isinstance(batch, (tuple, list)) and batch:
        return batch_size_of(batch[-1])
    if isinstance(batch, Mapping) and batch:
        return batch_size_of(next(iter(batch.values())))
    return 1


def describe(batch: Any) -> str:
    """A batch's structure in a few words, for error messages: ``dict(input_ids: (8, 16)
    int64, labels: (8,) int64)``."""
    if isinstance(batch, Tensor):
        return f"{tuple(batch.shape)} {str(batch.dtype).removeprefix('torch.')}"
    if isinstance(batch, Mapping):
        return "dict(" + ", ".join(f"{k}: {describe(v)}" for k, v in batch.items()) + ")"
    if isinstance(batch, (tuple, list)):
        return f"{type(batch).__name__}(" + ", ".join(describe(b) for b in batch) + ")"
    return type(batch).__name__


def not_a_tensor(out: Any, arg: str = "loss", whose: str = "the task's loss") -> str:
    """Why a loss of ``(outputs, targets)`` cannot take a model's output ``out`` that is no
    tensor, and the fixes that fit it (``arg``: the argument the loss was given as).

    Example:
        >>> not_a_tensor((1, 2)).split(";")[0]
        "the model returned tuple, not a tensor for the task's loss"
    """
    said = f"the model returned {type(out).__name__}, not a tensor for {whose}"
    own = "loss" in out if isinstance(out, Mapping) else hasattr(out, "loss")
    several = (f"give {arg}=lrlab.search.model_loss(fn) with fn(model, batch) computing the "
               "loss from them")
    if output_logits(out) is not None:
        if own:  # a Hugging Face output: with the labels it computes its loss
            return (f"{said}; it holds logits: give {arg}=None to train on the model's own "
                    ".loss, or return the logits alone from forward")
        return f"{said}; it holds logits but no loss: return the logits alone from forward, or {several}"
    if isinstance(out, (tuple, list)):
        return (f"{said}; return the outputs alone from forward (a {type(out).__name__} of "
                f"{len(out)} is not read as outputs), or, for a loss of several outputs, "
                f"{several}; {arg}=None is for a model that returns its own loss")
    if own:
        return f"{said}; for a model that returns its own loss give {arg}=None"
    return (f"{said}; for a loss of several outputs {several}, or give {arg}=None for a model "
            "that returns its own loss")


def output_loss(output: Any) -> Tensor:
    """An own-loss model's loss: ``output.loss`` or ``output["loss"]``."""
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if not isinstance(loss, Tensor) and isinstance(output, (tuple, list)):
        # nanoGPT's (logits, loss), its targets not passed (a namedtuple with .loss reads)
        kind = "list" if isinstance(output, list) else "tuple"
        raise LrlabError(f"the model returned a {kind} of {len(output)} "
                         f"({describe(output)[len(type(output).__name__) + 1:-1]}), not an "
                         "object with .loss: an own-loss model is called on a batch's inputs "
                         "alone (model(x) for (x, y); a dict batch whole) and its .loss or "
                         "['loss'] read; for forward(x, y) returning (logits, loss) give "
                         "loss=lrlab.search.model_loss(lambda model, batch: "
                         "model(*batch)[::-1])")
    if not isinstance(loss, Tensor):
        raise LrlabError(f"the model returned {type(output).__name__} with no loss: an own-loss "
                         "model must return an object with .loss (or a dict with 'loss'); give "
                         "a loss of (outputs, targets) otherwise (a Task's loss, find_lr's "
                         "loss_fn)")
    return loss


def output_logits(output: Any) -> Tensor | None:
    """An own-loss model's predictions when it reports them (``.logits`` / ``["logits"]``)."""
    if isinstance(output, Tensor):
        return output
    logits = (output.get("logits") if isinstance(output, Mapping)
              else getattr(output, "logits", None))
    return logits if isinstance(logits, Tensor) else None


#: A label equal to this is padding, not scored: ``nn.CrossEntropyLoss``'s default
#: ``ignore_index`` (and Hugging Face's convention for padded token labels).
IGNORE_INDEX = -100


def ignore_index_of(loss: Any) -> int:
    """The label a loss leaves out: its ``ignore_index`` (``nn.CrossEntropyLoss``'s, also
    through a task's wrapped loss, ``.fn``), else :data:`IGNORE_INDEX`.

    lrlab's one rule for it: the label the loss leaves out is scored nowhere. ``find_lr``,
    which scores one model batch by batch, leaves this label out of its accuracy; a task's
    scores, counted for every member on the device, leave out :data:`IGNORE_INDEX` only, so
    a task whose loss ignores another label its data holds is refused before any step
    (:func:`~lrlab.train.check_fit`: relabel it to -100), never scored as a class.

    Example:
        >>> import torch.nn as nn
        >>> ignore_index_of(nn.CrossEntropyLoss(ignore_index=255)), ignore_index_of(nn.MSELoss())
        (255, -100)
    """
    return getattr(getattr(loss, "fn", loss), "ignore_index", IGNORE_INDEX)


def correct(outputs: Any, targets: Any, ignore_index: int = IGNORE_INDEX
            ) -> tuple[int, int] | None:
    """Correct predictions in a batch and the label positions scored, or None when accuracy
    does not apply.

    Integer class targets ``(N, ...)`` with outputs ``(N, C, ...)`` (torch's layout):
    ``argmax`` over dim 1; with outputs ``(N, ..., C)`` (classes last, as a Hugging Face
    token classifier gives them) over the last dim. Integer or bool targets with outputs of
    the same shape (or ``(N, 1)`` for ``(N,)``): binary logits, ``outputs > 0``. Float
    targets (regression, soft labels): None. Every label position counts once (a token, a
    pixel), except those equal to ``ignore_index`` (:data:`IGNORE_INDEX` by default: padding,
    as ``nn.CrossEntropyLoss`` skips them; give the loss's own, such as 255), so
    ``hits / scored`` is the accuracy over the positions a loss scores.
    """
    if not (isinstance(outputs, Tensor) and isinstance(targets, Tensor)):
        return None
    if targets.is_floating_point() or targets.is_complex():
        return None
    if outputs.dim() == targets.dim() + 1 and outputs.shape[1] > 1 \
            and outputs.shape[:1] + outputs.shape[2:] == targets.shape:
        pred = outputs.argmax(dim=1)
    elif outputs.dim() == targets.dim() + 1 and outputs.shape[-1] > 1 \
            and outputs.shape[:-1] == targets.shape:
        pred = outputs.argmax(dim=-1)
    elif outputs.shape == targets.shape or outputs.shape == (*targets.shape, 1):
        pred = (outputs.reshape(targets.shape) > 0).to(targets.dtype)
    else:
        return None
    if pred.shape != targets.shape:
        return None
    scored = targets != ignore_index
    return int(((pred == targets) & scored).sum()), int(scored.sum())
