"""Epochs of a population fed by a user's ``Dataset`` or ``DataLoader``.

Each step takes one batch from the task's loader (:func:`lrlab.data.batches`: the order of
the run's seed) and trains every member on it, so loading and augmentation are paid once for
all K members. Batches follow lrlab's batch protocol (:mod:`lrlab.data`): the model gets the
inputs, the task's loss the outputs and targets, or the model computes its own loss.

Before training, :func:`probe` runs the first batch through one model as the user's own
code would: it reads what the task did not say (class logits against integer targets make a
classification task with C classes; float targets a regression; a model reporting only its
loss, the loss alone), checks the batch, the loss and the metrics with one clear line each,
and measures the activations one member keeps for its backward pass (the memory rule).
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from lrlab._errors import LrlabError, first_line
from lrlab._once import first_time
from lrlab._rng import isolated_rng, seeded_rng
from lrlab.data import (
    IGNORE_INDEX,
    ModelLoss,
    batch_size_of,
    batches,
    describe,
    ignore_index_of,
    not_a_tensor,
    output_logits,
    output_loss,
    split_batch,
    to_device,
)
from lrlab.metrics import EpochMetrics, cross_entropy, majority_outputs
from lrlab.population import Population, member_losses
from lrlab.tasks import Split, Task

__all__ = ["Mean", "Probe", "Scored", "cannot_take", "check_labels", "evaluate_data",
           "first_loss", "loss_fails", "majority_levels", "mean_loss", "member_metric",
           "one_model_loss", "probe", "refuse_broadcast", "train_epoch_data"]


@dataclass(frozen=True)
class Probe:
    """What the first batch showed.

    Attributes:
        task: the task with ``num_classes`` and ``monitor`` filled in.
        predictions: whether the outputs can be scored (classes or regression targets).
        activation_bytes: bytes one member keeps for its backward pass on one batch.
        class_axis: where one model's outputs hold the class scores: ``-1`` (``(B, ..., C)``)
            or ``1`` (``(B, C, ...)``, torch's convention for per-position losses such as
            segmentation); :data:`BINARY` (``0``): one logit per example, or per label of a
            multi-label model or pixel of a mask, against 0/1 float targets under a binary
            cross-entropy with logits, each scored as the two classes' logits ``(0, z)`` (so
            softmax gives ``sigmoid(z)``, argmax ``z > 0``).
    """

    task: Task
    predictions: bool
    activation_bytes: int
    class_axis: int = -1


#: :attr:`Probe.class_axis` of a binary classifier giving one logit per example, or a
#: multi-label one giving one per label (a mask: one per pixel).
BINARY = 0


def _own(loss: Any) -> bool:
    """Whether a task's or find_lr's loss leaves the loss to the model (None, or model_loss)."""
    return loss is None or isinstance(loss, ModelLoss)


def inputs_of(task: Task, batch: Any) -> tuple[Any, Tensor | None]:
    """What :meth:`Population.step` takes for one batch: the inputs (the raw batch for a
    :func:`~lrlab.data.model_loss`) and the targets."""
    if isinstance(task.loss, ModelLoss):
        split = split_batch(batch, own_loss=True, target_key=task.target_key)
        return batch, split.targets
    split = split_batch(batch, own_loss=task.loss is None, target_key=task.target_key)
    return split, split.targets


def first_batch(task: Task, batch_size: int, seed: int) -> Any:
    """The first training batch of epoch 1, as training will see it (tensors: the first
    ``batch_size`` examples, enough to read the task's kind). A dataset's random transforms
    draw from ``seed`` as the training's do; the caller's random states are left alone."""
    if task.in_memory:
        return task.train.x[:batch_size], task.train.y[:batch_size]
    with seeded_rng(seed):
        for batch in batches(task.train, batch_size=batch_size, seed=seed, epoch=1,
                             shuffle=True, what="the training data"):
            return batch
    raise LrlabError(f"task {task.name!r}: the training data yields no batches; give at "
                     "least one example (an empty loader, or drop_last with too few)")


def _validation_loads(task: Task, batch_size: int, seed: int) -> Any:
    """Load the first validation batch of a task fed by a Dataset or DataLoader, so that a
    validation set its loader cannot batch (a missing collate function) is refused before
    the first epoch trains, not after it; the random state is left as it was. Returns that
    batch (None for tensors)."""
    if isinstance(task.val, Split):
        return None
    with isolated_rng():
        for batch in batches(task.val, batch_size=batch_size, seed=seed, epoch=0,
                             shuffle=False, what="the validation data"):
            return batch
    return None


def _validation_taken(task: Task, model: torch.nn.Module, batch: Any) -> None:
    """The first validation batch through the model in evaluation mode, as the first
    evaluation will run it: a batch the model cannot take (features of another width than
    the training data's), or labels outside its classes, is refused before anything trains,
    in the words of the training batch's refusal (:func:`cannot_take`), naming the
    validation data; the random state is left as it was."""
    inputs, targets = inputs_of(task, batch)
    try:
        with torch.no_grad(), isolated_rng():
            out = model.eval()(*inputs.args, **inputs.kwargs)
            if task.loss is not None and isinstance(out, Tensor):
                check_labels(task.loss, out, targets, task.num_classes, task_scores=True)
    except LrlabError as err:
        raise LrlabError(f"task {task.name!r}: the validation data: {err}") from None
    except Exception as err:  # noqa: BLE001 - the user's model, in one line
        raise LrlabError(f"task {task.name!r}: the validation data: "
                         f"{cannot_take(model, task.loss, batch, inputs, err)}") from None


def _signature(model: torch.nn.Module) -> str:
    try:
        return f"forward{inspect.signature(model.forward)}"
    except (TypeError, ValueError):
        return "forward(...)"


def _too_many(loss: Any, model: torch.nn.Module, inputs: Any) -> str:
    """The fix, where a plain loss's batch holds more inputs than ``forward`` takes: a
    batch of pairs or triplets ``(anchor, positive, negative)`` is not ``(inputs..., target)``."""
    if _own(loss) or inputs.kwargs:
        return ""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return ""
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return ""
    takes = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if len(inputs.args) <= takes:
        return ""
    return (f"; lrlab calls the model with every part of a batch but the last, the target "
            f"({len(inputs.args)} inputs here): for batches of another shape (pairs, "
            "triplets) give loss=lrlab.search.model_loss(fn), fn(model, batch) returning the "
            "loss")


#: Probes already run, by (task, batch size, seed, device, dtype): the memory estimate, the
#: store and fit each need one, and a loader with workers is slow to start.
_PROBES: dict[tuple, Probe] = {}


def probe(task: Task, *, batch_size: int, seed: int, device: torch.device,
          dtype: torch.dtype) -> Probe:
    """Run the first batch through one model (see the module docstring); once per task
    object and settings.

    Raises:
        LrlabError: the model cannot take the batch, the loss has the wrong shape or is not
            finite, labels lie outside the classes, a metric fails, or the model has no
            trainable parameters.
    """
    key = (id(task), batch_size, seed, str(device), str(dtype))
    if key not in _PROBES:
        found = _probe(task, batch_size=batch_size, seed=seed, device=device, dtype=dtype)
        _remember(task, key, found)
        if found.task is not task:  # the task it resolved to probes the same: the fit that
            # trains it finds it here (kept without the task itself, so it can be freed)
            _remember(found.task, (id(found.task), *key[1:]), replace(found, task=None))
    got = _PROBES[key]
    return got if got.task is not None else replace(got, task=task)


def _remember(task: Task, key: tuple, found: Probe) -> None:
    _PROBES[key] = found
    weakref.finalize(task, _PROBES.pop, key, None)


def _probe(task: Task, *, batch_size: int, seed: int, device: torch.device,
           dtype: torch.dtype) -> Probe:
    model = task.init_model(seed).to(device, dtype)
    if not any(p.requires_grad for p in model.parameters()):
        raise LrlabError(f"task {task.name!r}: {type(model).__name__} has no trainable "
                         "parameters; unfreeze some (requires_grad=True)")
    raw = first_batch(task, batch_size, seed)
    val = _validation_loads(task, batch_size, seed)
    batch = to_device(raw, device, dtype)
    saved = [0]

    def pack(t: Tensor) -> Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    model = copy.deepcopy(model)  # BatchNorm statistics: the probe leaves no trace
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.manual_seed(seed)
        loss, outputs, targets = _probe_loss(task, model, batch)
    if val is not None and not isinstance(task.loss, ModelLoss):  # (its fn takes the batch)
        _validation_taken(task, model, to_device(val, device, dtype))
    layout = _layout(task.loss, outputs, targets)
    return Probe(task=_resolved(task, outputs, targets, loss),
                 predictions=_scorable(task, outputs, targets),
                 activation_bytes=saved[0], class_axis=layout[1] if layout else -1)


def cannot_take(model: torch.nn.Module, loss: Any, batch: Any, inputs: Any,
                err: Exception) -> str:
    """Why the first batch failed in the user's model (or model_loss), one line: the error,
    the batch's shapes, ``forward``'s signature, and the fix where a plain loss's batch holds
    more inputs than ``forward`` takes. A Task's probe and :func:`~lrlab.search.find_lr`
    both say it."""
    text = first_line(err)
    return (f"the model cannot take the first batch ({type(err).__name__}: {text}); the batch "
            f"is {describe(batch)} and the model's {_signature(model)}"
            f"{_too_many(loss, model, inputs)}")


def _with_logits(loss: Any) -> bool:
    """Whether ``loss`` (a task's, maybe wrapped per member) is a binary cross-entropy on
    logits: ``nn.BCEWithLogitsLoss`` or ``F.binary_cross_entropy_with_logits``."""
    fn = getattr(loss, "fn", loss)
    return (isinstance(fn, torch.nn.BCEWithLogitsLoss)
            or fn is torch.nn.functional.binary_cross_entropy_with_logits)


def _pair_not_scored(outputs: Any) -> str:
    """Why model_loss's ``(loss, outputs)`` cannot be scored when ``outputs`` is no tensor
    and holds no logits."""
    return (f"model_loss's function returned (loss, {type(outputs).__name__}): the outputs "
            "scored (accuracy, metrics) must be one tensor, or a dict or object holding "
            "'logits'; return (loss, the tensor to score), or the loss alone")


def _probe_loss(task: Task, model: torch.nn.Module, batch: Any) -> tuple[Tensor, Any, Any]:
    """The first batch's loss (checked), outputs and targets, through the model as is."""
    inputs, targets = inputs_of(task, batch)
    try:
        if isinstance(task.loss, ModelLoss):
            loss, outputs = task.loss.pair(model, inputs)
            if outputs is not None and not isinstance(outputs, Tensor):
                raise LrlabError(_pair_not_scored(outputs))
        else:
            out = model(*inputs.args, **inputs.kwargs)
            if task.loss is None:
                loss, outputs = output_loss(out), _aligned(task, output_logits(out), targets,
                                                           output_loss(out))
            else:
                outputs = out
                if not isinstance(out, Tensor):
                    raise LrlabError(not_a_tensor(out))
                check_labels(task.loss, out, targets, task.num_classes, task_scores=True)
                try:
                    loss = first_loss(task.loss, out.unsqueeze(0), targets)
                except LrlabError as err:
                    raise LrlabError(one_model_loss(task, out, targets) or str(err)) from None
                except Exception as err:  # noqa: BLE001 - the user's loss, in one line
                    raise LrlabError(one_model_loss(task, out, targets)
                                     or loss_fails(out, targets, err, task.loss)) from None
    except LrlabError as err:
        raise LrlabError(f"task {task.name!r}: {err}") from None
    except Exception as err:  # noqa: BLE001 - the user's model or loss, in one line
        raise LrlabError(f"task {task.name!r}: "
                         f"{cannot_take(model, task.loss, batch, inputs, err)}") from None
    if not isinstance(loss, Tensor):
        raise LrlabError(f"task {task.name!r}: the loss returned {type(loss).__name__}, not a "
                         "tensor")
    if not bool(torch.isfinite(loss.detach()).all()):
        raise LrlabError(f"task {task.name!r}: the loss of the first batch is not finite "
                         f"({loss.detach().flatten()[:3].tolist()}); check the data and the "
                         "model's initialisation")
    _check_metrics(task, outputs, targets)
    return loss, outputs, targets


def _token_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """The cross-entropy of per-position logits ``(B, T, C)`` against labels ``(B, T)`` (padding,
    -100, left out), in float64."""
    return torch.nn.functional.cross_entropy(logits.detach().flatten(0, -2).double(),
                                             targets.flatten(), ignore_index=IGNORE_INDEX)


def _aligned(task: Task, logits: Any, targets: Any, loss: Any) -> Any:
    """An own-loss model's per-position logits ``(B, T, C)``, or ``None`` where its loss is
    not their cross-entropy against the labels as given (a causal language model's loss
    compares position t with token t + 1): lrlab would score them against the wrong token,
    so the task is ranked by its loss; a monitor that needs them is refused in one line.
    Where no own metric reads the outputs; a sequence classifier's ``(B, C)`` is left as is.
    An untrained model's logits are near uniform, so both readings sit near log C and the
    labels as given could pass by chance (``user_shapes9``'s padded causal LM did on one seed
    in six: its race's subset then read them apart and stopped auto with this function's
    error): they pass only where the loss is no closer to the logits' cross-entropy against
    the labels one token on, the causal LM's own (equal to rounding)."""
    if task.metrics or not (isinstance(logits, Tensor) and isinstance(targets, Tensor)
                            and isinstance(loss, Tensor) and loss.numel() == 1) \
            or logits.dim() < 3 or targets.is_floating_point() \
            or tuple(logits.shape[:-1]) != tuple(targets.shape):
        return logits
    with torch.no_grad():
        theirs = float(_token_loss(logits, targets))
        shifted = (float(_token_loss(logits[:, :-1], targets[:, 1:])) if logits.dim() == 3
                   and logits.shape[1] > 1 and bool((targets[:, 1:] != IGNORE_INDEX).any())
                   else math.nan)
        own = float(loss.detach())
    if math.isclose(theirs, own, rel_tol=1e-3, abs_tol=1e-6) \
            and not abs(shifted - own) < abs(theirs - own):
        return logits
    if task.monitor not in (None, "loss"):
        raise LrlabError(
            f"the model's own loss ({own:.4g}) is not the cross-entropy of its logits "
            f"{tuple(logits.shape)} against the labels as given ({float(theirs):.4g}; a causal "
            f"language model shifts them one token), so lrlab cannot score {task.monitor!r}: "
            "give monitor='loss'")
    return None


def loss_fails(outputs: Tensor, targets: Any, err: Exception, loss: Any = None, *,
               who: str = "its loss") -> str:
    """Why the first batch failed in the task's loss (the model ran): its error, one line,
    and the fix where the shapes name one. ``who`` names the loss: a task's message begins
    with the task (``task 'x': its loss fails ...``), :func:`~lrlab.search.find_lr`'s with
    its argument (``loss_fn fails ...``)."""
    text = first_line(err)
    got = tuple(targets.shape) if isinstance(targets, Tensor) else describe(targets)
    said = (f"{who} fails on the model's outputs of shape {tuple(outputs.shape)} and "
            f"targets of shape {got} ({type(err).__name__}: {text})")
    fn = getattr(loss, "fn", loss)
    if isinstance(targets, Tensor) and targets.is_floating_point() \
            and outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1 \
            and tuple(outputs.shape[:-1]) == tuple(targets.shape):  # one output per target
        return (f"{said}; the outputs {tuple(outputs.shape)} have an extra axis of 1 against "
                f"targets {tuple(targets.shape)}: squeeze it in forward (out.squeeze(-1)), or "
                "give the targets that axis (y.unsqueeze(-1))")
    if isinstance(targets, Tensor) and targets.is_floating_point() and targets.dim() \
            and outputs.dim() == targets.dim() + 1 and outputs.shape[0] == targets.shape[0] \
            and not _regression_loss(fn):
        return (f"{said}; the targets look like class labels (an axis fewer than the "
                f"outputs) but are {str(targets.dtype).removeprefix('torch.')}: give them as "
                "integers (y.long())")
    if isinstance(targets, Tensor) and not targets.is_floating_point() \
            and targets.dim() == outputs.dim() >= 2 and targets.shape[-1] == 1 \
            and outputs.shape[-1] > 1 and targets.shape[:-1] == outputs.shape[:-1]:
        return (f"{said}; the targets look like class labels with an extra axis of 1: give "
                f"them as {tuple(targets.shape[:-1])} (y.squeeze(-1))")
    if (isinstance(fn, torch.nn.CrossEntropyLoss) or fn is torch.nn.functional.cross_entropy) \
            and isinstance(targets, Tensor) and not targets.is_floating_point() \
            and outputs.dim() == targets.dim() + 1 >= 3 \
            and tuple(outputs.shape[:-1]) == tuple(targets.shape):
        return (f"{said}; the outputs hold the class scores last {tuple(outputs.shape)} for "
                f"targets {tuple(targets.shape)} (a language model's tokens); "
                "nn.CrossEntropyLoss takes them on axis 1: give loss=lambda out, y: "
                "F.cross_entropy(out.movedim(-1, 1), y)")
    return said


def _regression_loss(fn: Any) -> bool:
    """Whether ``fn`` is one of torch's losses of real-valued targets (MSE, L1, Huber)."""
    nn_, F = torch.nn, torch.nn.functional
    return (isinstance(fn, (nn_.MSELoss, nn_.L1Loss, nn_.HuberLoss, nn_.SmoothL1Loss))
            or fn in (F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss))


def one_model_loss(task: Task, outputs: Tensor, targets: Any) -> str | None:
    """Why a task's loss fails on a population's outputs ``(K, B, ...)`` where a plain
    PyTorch loss would fit, and the fix; None when that is not the case. Two shapes: lrlab's
    default :func:`~lrlab.metrics.cross_entropy` (classes last) on outputs with the classes
    on axis 1 (``(B, C, H, W)`` against ``(B, H, W)``, as ``nn.CrossEntropyLoss`` takes them),
    and a PyTorch loss (``torch.nn``'s) of one model's ``(outputs, targets)`` given to
    ``Task`` unwrapped."""
    if task.loss is cross_entropy:
        layout = _layout(task.loss, outputs, targets)
        if layout is not None and layout[1] == -1 and bool((targets == IGNORE_INDEX).any()):
            return (f"the targets {tuple(targets.shape)} hold {IGNORE_INDEX} (padding), which "
                    "the task's default loss, lrlab's cross_entropy, cannot skip: build the "
                    "task with Task.from_loaders(..., loss=lambda out, y: "
                    "F.cross_entropy(out.movedim(-1, 1), y)), which skips them (classes last "
                    "moved to axis 1, as torch takes them per token)")
        if layout is None or layout[1] != 1:
            return None
        return (f"the model's outputs {tuple(outputs.shape)} hold the class scores on axis 1 "
                f"for targets {tuple(targets.shape)} (as nn.CrossEntropyLoss takes them per "
                "pixel or token), but the task's default loss, lrlab's cross_entropy, takes "
                "them last: give loss=lrlab.tasks.member_loss(nn.CrossEntropyLoss()), or "
                "build the task with Task.from_loaders(..., loss=nn.CrossEntropyLoss())")
    fn = task.loss
    torch_loss = fn if isinstance(fn, torch.nn.Module) else None
    source = type(fn).__module__ if torch_loss is not None else getattr(fn, "__module__", None)
    if not str(source).startswith("torch.nn"):  # lrlab's or the user's own: K-aware, its
        return None                             # own message says what is wrong
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a loss that broadcasts does not fit either
            fits = isinstance(fn(outputs, targets), Tensor)
    except Exception:  # noqa: BLE001 - only asking whether one model's loss fits
        return None
    if not fits:
        return None
    name = type(fn).__name__ if torch_loss is not None else getattr(fn, "__name__", "loss")
    return (f"the task's loss ({name}) takes one model's outputs {tuple(outputs.shape)}, but a "
            "Task's loss takes every member's outputs (K, B, ...): give "
            "loss=lrlab.tasks.member_loss(your_loss), or build the task with "
            "Task.from_loaders(..., loss=your_loss)")


def first_loss(loss: Callable[[Tensor, Tensor], Tensor], outputs: Tensor,
               targets: Tensor) -> Tensor:
    """``loss(outputs (K, B, ...), targets)`` on a probe batch, refusing a loss that
    broadcast outputs and targets of different shapes against each other (``nn.MSELoss``
    on outputs ``(B, 1)`` and targets ``(B,)`` averages a ``(B, B)`` table of every output
    against every target: torch only warns, and every rate would train on that). A loss
    that broadcasts without a warning (``nn.PoissonNLLLoss``, ``nn.L1Loss``'s kin written
    by hand) is caught by its value: rolling the targets along the batch leaves its total
    as it was, and dropping the axis of 1 changes it (:func:`_broadcast`).

    Raises:
        LrlabError: the loss broadcast (:func:`refuse_broadcast`).
    """
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        value = loss(outputs, targets)
    refuse_broadcast(loss, outputs, targets, value, seen)
    return value


def refuse_broadcast(loss: Callable[..., Any], outputs: Any, targets: Any, value: Any,
                     seen: list[warnings.WarningMessage], *, members: bool = True) -> None:
    """Refuse a ``value = loss(outputs, targets)`` that broadcast outputs and targets of
    different shapes against each other (:func:`first_loss`; ``members=False``: ``outputs``
    are one model's ``(B, ...)``, as :func:`~lrlab.search.find_lr` calls its ``loss_fn``).
    ``seen`` are the warnings the call raised: torch's broadcasting note is dropped with the
    refusal, any other shown again.

    Raises:
        LrlabError: torch warned that the target's size differs from the input's, or the
            loss compared every output with every target (:func:`_broadcast`).
    """
    broadcast = _broadcast(loss, outputs, targets, value, members)
    for w in seen:
        broadcast |= "different to the input size" in str(w.message)
        if not broadcast:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if broadcast:
        one = tuple(outputs.shape[1:] if members else outputs.shape)
        raise LrlabError(
            f"the loss broadcast the model's outputs {one} against targets "
            f"{tuple(targets.shape)}, comparing every output with every target; give them one "
            "shape (targets (B, 1), or squeeze the outputs in forward)")


def _broadcast(loss: Callable[[Tensor, Tensor], Tensor], outputs: Tensor, targets: Any,
               value: Any, members: bool = True) -> bool:
    """Whether ``loss`` broadcast one model's outputs ``(B, ..., 1)`` against real-valued
    targets ``(B, ...)`` (or ``(B, ...)`` against ``(B, ..., 1)``) without a warning. It
    then compares every output with every target: its total is the same with the targets
    rolled along the batch, and it changes when the extra axis of 1 is dropped. A loss that
    lines the shapes up itself (``out.squeeze(-1)``, ``t.unsqueeze(-1)`` or one quantile's
    ``t[:, None] - out`` inside) pairs output i with target i, so the roll changes it; a
    targets' batch of one value throughout cannot tell, and passes. ``outputs`` carry the
    members' axis first unless ``members`` is False."""
    if not (isinstance(targets, Tensor) and targets.is_floating_point()
            and isinstance(outputs, Tensor) and isinstance(value, Tensor)):
        return False
    one, want = tuple(outputs.shape[1:] if members else outputs.shape), tuple(targets.shape)
    if len(one) == len(want) + 1 and one[-1] == 1 and one[:-1] == want:
        dropped = (outputs.squeeze(-1), targets)
    elif len(want) == len(one) + 1 and want[-1] == 1 and want[:-1] == one:
        dropped = (outputs, targets.squeeze(-1))
    else:
        return False
    rolled = targets.roll(1, 0)
    if torch.equal(rolled, targets):
        return False
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other, moved = loss(*dropped), loss(outputs, rolled)
    except Exception:  # noqa: BLE001 - a loss that takes only the shapes as given
        return False
    if not isinstance(moved, Tensor) or not _close(moved.sum(), value.sum()):
        return False  # output i is paired with target i
    return not (isinstance(other, Tensor) and other.shape == value.shape
                and _close(other, value))


def _close(a: Tensor, b: Tensor) -> bool:
    return torch.allclose(a.detach().double(), b.detach().double(), rtol=1e-4, atol=1e-6,
                          equal_nan=True)


def _layout(loss: Any, outputs: Any, targets: Any) -> tuple[int, int] | None:
    """``(C, class axis)`` when ``outputs`` are class scores for integer ``targets`` (see
    :func:`_shaped`). A loss of the user's own (a function, or
    :func:`~lrlab.data.model_loss`) with integer targets reaching past C scores no classes:
    its outputs are something else (an ordinal model's thresholds, ``(B, grades - 1)``
    against grades ``0..grades - 1``)."""
    found = _shaped(loss, outputs, targets)
    return None if found is not None and _past(loss, found, targets) else found


def _past(loss: Any, layout: tuple[int, int], targets: Tensor) -> bool:
    """Whether integer ``targets`` reach past the C of ``layout`` under a loss not known to
    index the class scores (:func:`_takes_class_indices`)."""
    return (not _takes_class_indices(loss) and bool(targets.numel())
            and int(targets.max()) >= layout[0])


def _shaped(loss: Any, outputs: Any, targets: Any) -> tuple[int, int] | None:
    """``(C, class axis)`` when ``outputs`` are shaped as class scores for integer ``targets``
    ``(B, ...)`` (or class probabilities ``(B, C)``: :func:`_soft`): ``(B, ..., C)`` (axis
    -1) or ``(B, C, ...)`` (axis 1, what ``nn.CrossEntropyLoss`` takes per pixel or
    token). When both fit (every axis C wide),
    torch's axis 1, unless the model computes its own loss (Hugging Face models put the
    classes last) or the loss is lrlab's :func:`~lrlab.metrics.cross_entropy` (last too),
    whatever the labels' values."""
    if not (isinstance(outputs, Tensor) and isinstance(targets, Tensor)):
        return None
    if _binary(loss, outputs, targets):
        return 2, BINARY
    if _soft(loss, outputs, targets):
        return int(outputs.shape[-1]), -1
    if targets.is_floating_point() or targets.dtype == torch.bool \
            or outputs.dim() != targets.dim() + 1:
        return None
    last = outputs.shape[:-1] == targets.shape and outputs.shape[-1] > 1
    first = (outputs.dim() > 2 and outputs.shape[0] == targets.shape[0]
             and outputs.shape[2:] == targets.shape[1:] and outputs.shape[1] > 1)
    if first and (not last or not (_own(loss) or loss is cross_entropy)):
        return int(outputs.shape[1]), 1
    return (int(outputs.shape[-1]), -1) if last else None


def _takes_class_indices(loss: Any) -> bool:
    """Whether ``loss`` (a task's, maybe wrapped per member) is known to index the class
    scores by the labels: torch's cross-entropy, NLL and multi-margin losses, lrlab's
    :func:`~lrlab.metrics.cross_entropy`, or a model's own (``loss=None``: a Hugging Face
    classifier's cross-entropy). Labels beyond the scores are then an error, refused before
    the loss sees them."""
    fn = getattr(loss, "fn", loss)
    nn_, F = torch.nn, torch.nn.functional
    return (fn is None or fn is cross_entropy
            or isinstance(fn, (nn_.CrossEntropyLoss, nn_.NLLLoss, nn_.MultiMarginLoss))
            or fn in (F.cross_entropy, F.nll_loss, F.multi_margin_loss))


def _binary(loss: Any, outputs: Tensor, targets: Tensor) -> bool:
    """One logit per example (``(B,)`` or ``(B, 1)``), or per label (``(B, L)``: a
    multi-label model; ``(B, H, W)`` or ``(B, 1, H, W)``: a mask's pixels; each label a
    binary classifier), against 0/1 float targets of the same shape under a binary
    cross-entropy with logits."""
    return (_with_logits(loss) and targets.is_floating_point()
            and outputs.dim() >= 1 and targets.shape == outputs.shape
            and bool(((targets == 0) | (targets == 1)).all()))


def _soft(loss: Any, outputs: Tensor, targets: Tensor) -> bool:
    """Class probabilities ``(B, C)`` (mixup's or cutmix's mixed one-hot labels, soft
    labels) for class scores of that shape under a cross-entropy, which takes them as its
    target: a classifier, scored at each row's likeliest class (its validation labels may be
    class indices)."""
    fn = getattr(loss, "fn", loss)
    return ((isinstance(fn, torch.nn.CrossEntropyLoss) or fn is torch.nn.functional.cross_entropy)
            and targets.is_floating_point() and outputs.dim() == 2 and outputs.shape[1] > 1
            and targets.shape == outputs.shape and bool(((targets >= 0) & (targets <= 1)).all()))


def _multi_label(task: Task, outputs: Any, targets: Any) -> bool:
    """Several 0/1 labels per example, one logit each (a multi-label model's, a mask's
    pixels: see :func:`_binary`)."""
    return (isinstance(outputs, Tensor) and isinstance(targets, Tensor) and outputs.dim() >= 2
            and outputs.shape[1:].numel() > 1 and _binary(task.loss, outputs, targets))


def _classes(task: Task, outputs: Any, targets: Any) -> int | None:
    """C when ``outputs`` are class scores for integer ``targets`` (see :func:`_layout`)."""
    layout = _layout(task.loss, outputs, targets)
    return None if layout is None else layout[0]


def _scored(outputs: Tensor | None, targets: Any, class_axis: int) -> tuple[Any, Any]:
    """A population's outputs ``(K, B, ...)`` with the class scores last, and the targets,
    as the metrics take them (a binary logit ``z`` as the scores ``(0, z)``, its 0/1 float
    targets as class indices)."""
    if outputs is None:
        return outputs, targets
    if class_axis == BINARY and outputs.shape[2:].numel() > 1:  # multi-label, or a mask
        return torch.stack([torch.zeros_like(outputs), outputs], -1), targets.long()
    if class_axis == BINARY:
        z = outputs.reshape(*outputs.shape[:2])
        return (torch.stack([torch.zeros_like(z), z], -1),
                targets.reshape(targets.shape[0]).long())  # (B,) or (B, 1): see _binary
    if class_axis == -1 or outputs.dim() <= 3:
        return outputs, targets
    return outputs.movedim(2, -1), targets


def check_labels(loss: Any, outputs: Tensor, targets: Any, num_classes: int | None = None, *,
                 task_scores: bool = False) -> None:
    """Refuse, in one line, integer labels beyond one model's class scores ``outputs`` (or a
    task's ``num_classes``) before the loss sees them (on CUDA an index out of range is a
    device-side assert, not an error); labels equal to the loss's ``ignore_index`` are left
    out. ``task_scores``: a Task's (its loss takes a population's ``(K, B, ...)``), whose
    accuracy and chance leave out only :data:`~lrlab.data.IGNORE_INDEX`, so the loss's own
    ``ignore_index`` in the labels is refused too. A Task's probe and
    :func:`~lrlab.search.find_lr` both check the first batch with it. Under a loss of the
    user's own, labels past the scores are refused only where that loss fails on them
    (:func:`_fails_past`: a cross-entropy of one's own with labels 1..C), not where it
    reads the outputs otherwise (an ordinal model's thresholds)."""
    layout = _shaped(loss, outputs, targets)
    if layout is None:
        return
    failed = ""
    if _past(loss, layout, targets):
        failed = _fails_past(loss, outputs, targets, layout[0], members=task_scores)
        if not failed:  # the loss reads the outputs otherwise: they are no class scores
            return
    c = layout[0]
    ignored = ignore_index_of(loss)
    if task_scores and ignored != IGNORE_INDEX and bool((targets == ignored).any()):
        # nn.CrossEntropyLoss(ignore_index=255) (a border) or 0 (padding): lrlab's accuracy
        # and chance would score them as a class
        raise LrlabError(
            f"labels hold {ignored}, the loss's ignore_index, but lrlab leaves out of its "
            f"scores only {IGNORE_INDEX} (torch's default ignore_index): relabel them in the "
            f"data (y[y == {ignored}] = {IGNORE_INDEX}) and keep the loss's default")
    kept = targets[targets != ignored]
    if not kept.numel():
        return
    hi = int(kept.max())
    if hi >= c or (num_classes is not None and hi >= num_classes):
        limit = min(c, num_classes or c)
        raise LrlabError(f"labels go up to {hi} but the model gives {limit} class scores"
                         f"{failed}; labels must be 0..{limit - 1}")


def _fails_past(loss: Any, outputs: Tensor, targets: Tensor, c: int, *, members: bool) -> str:
    """How a loss of the user's own fails on the rows whose labels reach past ``c`` (at most
    four of them, on the CPU, where an index out of range is an error, not a device-side
    assert), as `` (the loss fails on them: IndexError: ...)``; ``""`` where it takes them
    (it does not index the outputs by the labels). ``members``: the loss takes a
    population's ``(K, B, ...)``."""
    rows = (targets.reshape(targets.shape[0], -1) >= c).any(1).nonzero().flatten()[:4]
    out, y = outputs.detach()[rows.to(outputs.device)].cpu(), targets[rows].cpu()
    try:
        with torch.no_grad(), isolated_rng():
            loss(out.unsqueeze(0) if members else out, y)
    except Exception as err:  # noqa: BLE001 - the user's loss: its error is the answer
        return f" (the loss fails on them: {type(err).__name__}: {first_line(err)})"
    return ""


def _check_later_labels(task: Task, targets: Any, where: str) -> None:
    """Labels beyond a classifier's classes in a batch after the probed first one, read
    once the loss has failed on it (no batch waits on the check): one line saying so."""
    if task.num_classes is None or not isinstance(targets, Tensor) \
            or targets.is_floating_point() or targets.dtype == torch.bool or not targets.numel():
        return
    hi = int(targets.max())
    if hi >= task.num_classes:
        raise LrlabError(f"task {task.name!r}: labels go up to {hi} in {where} but the task "
                         f"has {task.num_classes} classes; labels must be "
                         f"0..{task.num_classes - 1}")


def _scorable(task: Task, outputs: Any, targets: Any) -> bool:
    if _classes(task, outputs, targets) is not None:
        # padding (-100, nn.CrossEntropyLoss's ignore_index) is not scored; another
        # negative label is no convention lrlab knows: the loss alone
        return bool(((targets >= 0) | (targets == IGNORE_INDEX)).all())
    if isinstance(outputs, Tensor) and isinstance(targets, Tensor) \
            and targets.is_floating_point():
        b = outputs.shape[0]
        return outputs.numel() == targets.numel() and targets.shape[:1] == (b,)
    return False


def _unscored(task: Task, outputs: Any, targets: Any) -> str:
    """Why the outputs a :func:`~lrlab.data.model_loss` function returned to be scored cannot
    be scored against the batch's target (its last element, or its ``target_key`` entry),
    and the fix: ``(x, y, sample_weight)`` batches (Keras's convention) give the weights as
    the target; ``""`` where they can be, or none were returned."""
    if not (isinstance(task.loss, ModelLoss) and isinstance(outputs, Tensor)
            and isinstance(targets, Tensor)) or _scorable(task, outputs, targets):
        return ""
    return (f"the outputs model_loss's function returned, {describe(outputs.detach())}, cannot "
            f"be scored against the batch's target, {describe(targets)} (a tuple's last "
            "element, a dict's target_key entry): no accuracy or metric is recorded, and "
            "the rates are ranked by the loss; where the labels are another element, as in "
            "(x, y, sample_weight) batches, yield them last, (x, sample_weight, y), and "
            "unpack them so in the function")


def _resolved(task: Task, outputs: Any, targets: Any, loss: Tensor) -> Task:
    unscored = _unscored(task, outputs, targets)
    c = _classes(task, outputs, targets) if _scorable(task, outputs, targets) else None
    num_classes = task.num_classes if task.num_classes is not None else c
    # a multi-label model (a mask) is ranked by its loss as before its labels were scored (its
    # accuracy, the share of labels right, is recorded beside it: monitor="accuracy" ranks by it)
    monitor = task.monitor or ("accuracy" if num_classes is not None
                               and not _multi_label(task, outputs, targets) else "loss")
    known = {"loss"} | ({"accuracy", "error", "sse"} if num_classes is not None
                        else {"sse"} if _scorable(task, outputs, targets) else set())
    known |= set(task.metrics) | ({"auc"} if num_classes is not None else set())
    if monitor not in known:
        raise LrlabError(f"task {task.name!r}: monitor {monitor!r} is not recorded for this "
                         f"task; choose one of: {', '.join(sorted(known))}"
                         + (f" ({unscored})" if unscored else ""))
    if unscored and task.monitor is None and not task.metrics \
            and first_time("model_loss outputs", unscored):
        warnings.warn(f"lrlab: task {task.name!r}: {unscored}", UserWarning, stacklevel=2)
    return task.replace(num_classes=num_classes, monitor=monitor)


def _check_metrics(task: Task, outputs: Any, targets: Any) -> None:
    for name, fn in task.metrics.items():
        try:
            value = fn(outputs, targets)
            if not isinstance(value, Tensor):
                raise TypeError(f"it returned {type(value).__name__}, not a tensor")
        except Exception as err:  # noqa: BLE001 - the user's metric, in one line
            text = first_line(err, "")
            raise LrlabError(f"task {task.name!r}: metric {name!r} failed on the first batch "
                             f"({type(err).__name__}: {text})") from None


def _metrics(pop: Population, task: Task, predictions: bool) -> EpochMetrics:
    return EpochMetrics(pop.members, num_classes=task.num_classes,
                        auc=task.monitor == "auc", device=pop.device, predictions=predictions)


def train_epoch_data(pop: Population, task: Task, data: Iterable, rates: Tensor | None,
                     steps: list | None, predictions: bool, dtype: torch.dtype, *,
                     class_axis: int = -1) -> tuple[dict[str, Tensor], Tensor]:
    """One pass over the loader; the epoch's training metrics per member, and the last
    step's rates (``class_axis``: :attr:`Probe.class_axis`)."""
    metrics = _metrics(pop, task, predictions)
    norms, lr = [], None
    for i, batch in enumerate(data, 1):
        inputs, targets = inputs_of(task, to_device(batch, pop.device, dtype))
        try:
            out = pop.step(inputs, targets, task.loss,
                           lr=None if rates is None else rates[pop.steps])
        except (RuntimeError, IndexError, ValueError):
            _check_later_labels(task, targets, f"training batch {i}")
            raise
        metrics.update(*_scored(out.outputs, targets, class_axis), out.losses)
        norms.append(out.grad_norm)
        lr = out.lr
        if steps is not None:
            steps.append((pop.steps, out.loss, out.lr, out.grad_norm))
    if lr is None:
        raise LrlabError(f"task {task.name!r}: an epoch of the training data yielded no "
                         "batches")
    norms_t = torch.stack(norms).double()
    peak = norms_t.nan_to_num(-torch.inf).max(0).values
    return metrics.compute() | {"grad_norm": norms_t.nanmean(0), "grad_norm_max": peak}, lr


@torch.no_grad()
def evaluate_data(pop: Population, task: Task, data: Iterable, predictions: bool,
                  dtype: torch.dtype, *, class_axis: int = -1
                  ) -> tuple[dict[str, Tensor], EpochMetrics]:
    """The validation metrics of every member, in evaluation mode (the task's own metrics
    included; ``class_axis``: :attr:`Probe.class_axis`), and the accumulator that scored
    them (its :meth:`~lrlab.metrics.EpochMetrics.labels` counts the targets)."""
    metrics = _metrics(pop, task, predictions)
    own = {name: Mean(pop.members, pop.device) for name in task.metrics}
    seen = 0
    with pop.evaluating():
        for seen, batch in enumerate(data, 1):
            inputs, targets = inputs_of(task, to_device(batch, pop.device, dtype))
            try:
                if _own(task.loss):
                    loss, outputs = pop.own_loss(inputs, task.loss)
                    size = batch_size_of(targets if targets is not None else batch)
                    losses = loss.unsqueeze(1).expand(pop.members, size)
                else:
                    outputs = pop.forward(inputs)
                    losses = member_losses(task.loss, outputs, targets)
            except (RuntimeError, IndexError, ValueError):
                _check_later_labels(task, targets, f"validation batch {seen}")
                raise
            metrics.update(*_scored(outputs, targets, class_axis), losses)
            for name, fn in task.metrics.items():
                own[name].add(member_metric(task, name, fn, outputs, targets))
    if not seen:
        raise LrlabError(f"task {task.name!r}: the validation data yields no batches")
    return metrics.compute() | {name: m.value() for name, m in own.items()}, metrics


def member_metric(task: Task, name: str, fn: Callable, outputs: Tensor,
                   targets: Tensor | None) -> Tensor:
    """A user metric of one model's ``(outputs, targets)`` for every member: ``(K, B)``."""
    try:
        per = torch.stack([fn(outputs[k], targets) for k in range(outputs.shape[0])])
    except Exception as err:  # noqa: BLE001 - the user's metric, in one line
        text = first_line(err, "")
        raise LrlabError(f"task {task.name!r}: metric {name!r} failed ({type(err).__name__}: "
                         f"{text})") from None
    size = outputs.shape[1]
    per = per.double()
    if per.dim() == 1:
        return per.unsqueeze(1).expand(-1, size)
    return per.reshape(per.shape[0], size, -1).mean(-1)


class Mean:
    """A per-member running mean over samples."""

    def __init__(self, members: int, device: torch.device) -> None:
        self.sum = torch.zeros(members, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, per_sample: Tensor) -> None:
        self.sum += per_sample.sum(1)
        self.count += per_sample.shape[1]

    def value(self) -> Tensor:
        return self.sum / self.count if self.count else self.sum.fill_(math.nan)


class Scored:
    """A task's own metric that keeps what each call scored (the outputs' shape and dtype,
    the targets), to be scored again on majority answers (:func:`majority_levels`)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.calls: list[tuple[torch.Size, torch.dtype, Any]] = []

    def __call__(self, outputs: Tensor, targets: Any) -> Any:
        self.calls.append((outputs.shape, outputs.dtype, targets))
        return self.fn(outputs, targets)


@torch.no_grad()
def majority_levels(task: Task, scored: dict[str, Scored], majority: int | None,
                    class_axis: int = -1) -> dict[str, float]:
    """Each metric of ``scored`` on the outputs of a model that always answers class
    ``majority`` (:func:`~lrlab.metrics.majority_outputs`, in the layout of the outputs
    it saw; ``class_axis``: :attr:`Probe.class_axis`), over the same batches and averaged
    as an evaluation averages it: chance for a classifier's own metric. Left out: every
    metric when ``majority`` is ``None`` (not a classifier), a metric that raises on such
    outputs or gives no finite value."""
    if majority is None:
        return {}
    levels = {}
    for name, metric in scored.items():
        total = Mean(1, torch.device("cpu"))
        try:
            for shape, dtype, targets in metric.calls:  # one call per member and batch
                device = targets.device if isinstance(targets, Tensor) else None
                outputs = majority_outputs(shape, majority, class_axis, dtype=dtype,
                                           device=device)
                total.add(member_metric(task, name, metric.fn, outputs.unsqueeze(0),
                                        targets).cpu())
        except Exception:  # noqa: BLE001, S112 - a metric that cannot score such outputs
            continue
        value = float(total.value()[0])
        if math.isfinite(value):
            levels[name] = value
    return levels


@torch.no_grad()
def mean_loss(model: torch.nn.Module, task: Task, data: Any, *, seed: int = 0,
              chunk: int = 512, training: bool = False) -> float:
    """The mean loss of one plain ``model`` over ``data`` (a :class:`~lrlab.tasks.Split` or
    a Dataset / DataLoader of ``task``'s), in evaluation mode, in the model's dtype. What it
    draws (a dataset's random transforms, a model's own noise) is drawn from ``seed``, not
    from whatever state the caller left, and the random states are left as they were
    (:func:`~lrlab._rng.seeded_rng`): the same model, data and seed give the same loss.

    ``training``: in training mode instead, the loss a training step computes before its
    update (dropout drawn from ``seed``, BatchNorm's batch statistics, a loss term only a
    training forward returns, such as an auxiliary head's); the model's buffers (BatchNorm's
    running statistics) are put back as they were. A Dataset or DataLoader is read in
    batches of the task's size, but a :class:`~lrlab.tasks.Split` in unshuffled chunks of
    ``chunk`` examples: BatchNorm's statistics there are a chunk's, not a training batch's."""
    from lrlab.tasks import Split

    was = model.training
    model.train(training)
    buffers = [(b, b.clone()) for b in model.buffers()] if training else []
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    total, count = 0.0, 0
    try:
        with seeded_rng(seed, device):
            if isinstance(data, Split):
                for x, y in zip(data.x.split(chunk), data.y.split(chunk)):
                    out = model(to_device(x, device, dtype)).unsqueeze(0)
                    total += float(task.loss(out, y.to(device)).double().sum())
                    count += len(y)
            else:
                for batch in batches(data, batch_size=task.batch_size, seed=0, epoch=0,
                                     shuffle=False):
                    batch = to_device(batch, device, dtype)
                    inputs, targets = inputs_of(task, batch)
                    size = batch_size_of(targets if targets is not None else batch)
                    if isinstance(task.loss, ModelLoss):
                        value = float(task.loss.pair(model, inputs)[0]) * size
                    elif task.loss is None:
                        value = float(output_loss(model(*inputs.args, **inputs.kwargs))) * size
                    else:
                        out = model(*inputs.args, **inputs.kwargs).unsqueeze(0)
                        value = float(task.loss(out, targets).double().sum())
                    total += value
                    count += size
    finally:
        model.train(was)
        for buffer, saved in buffers:
            buffer.copy_(saved)
    return total / max(count, 1)
