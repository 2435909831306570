"""The range test's training loop, and the save/restore that leaves the user's objects as found.

:func:`run_once` does the work of :func:`~lrlab.search.find_lr` once its inputs are checked:
one run from the current state, recorded step by step. It changes the model and optimizer,
so the caller wraps it in :func:`preserved`, which saves ``copy.deepcopy(model.state_dict())``,
every buffer (persistent or not), every parameter's ``.grad``, each submodule's ``training``
flag, ``copy.deepcopy(optimizer.state_dict())`` (its state and every param group's settings,
``lr`` included) and the random states (torch's CPU and the CUDA device's through
``torch.random.fork_rng``, Python's ``random``, NumPy's global), and on exit, normal or by an
exception, puts all of them back. Tensors are restored in place (``load_state_dict`` copies
into the existing parameters), so the optimizer's references stay valid.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrlab._errors import LrlabError, first_line
from lrlab._rng import isolated_rng
from lrlab.data import batch_size_of, correct, ignore_index_of, to_device
from lrlab.search._data import Batches, Stream, forward_loss
from lrlab.search._smooth import ema_step
from lrlab.train import refuse_broadcast

__all__ = ["Setup", "check_val", "diverged", "divergence", "preserved", "run_once"]


@dataclass(frozen=True)
class Setup:
    """Everything one run needs, checked by :func:`~lrlab.search.find_lr`."""

    model: nn.Module
    loss_fn: Any
    optimizer: torch.optim.Optimizer
    base: list[float]
    lrs: np.ndarray
    train: Batches
    val: Batches | None
    eval_every: int
    accumulate: int
    smooth: float
    diverge: float
    amp: bool
    device: torch.device
    keys: tuple[str, str] | None
    clip: float | None = None

    @property
    def dtype(self) -> torch.dtype | None:
        """The model's floating dtype: floating inputs are cast to it, as a sweep casts them
        (float64 arrays from NumPy meet a float32 model)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), None)


def diverged(smoothed: float, best: float, first: float, factor: float) -> bool:
    """Whether the smoothed loss has diverged from the best so far.

    ``best > 0``: ``smoothed > factor * best``. ``best <= 0``:
    ``smoothed - best > (factor - 1) * max(|best|, first - best)``, with ``first`` the first
    smoothed loss: a rise of ``factor - 1`` times the larger of the best's size and the drop
    so far.

    Example:
        >>> diverged(4.1, 1.0, 3.0, 4.0), diverged(-1.0, -2.0, 1.0, 4.0)
        (True, False)
    """
    if best > 0:
        return smoothed > factor * best
    return smoothed - best > (factor - 1.0) * max(abs(best), first - best)


def divergence(smoothed: float, best: float, first: float, factor: float) -> str:
    """What :func:`diverged` found, in words (the factor is a number, not a setting's name).

    Example:
        >>> divergence(44.15, 3.079, 3.2, 4.0)
        'the smoothed loss 44.15 is over 4x the best, 3.079'
        >>> divergence(8.0, -2.0, 1.0, 4.0)  # a loss that can go below 0
        'the smoothed loss 8 rose 10 above the best, -2: over 3x the larger of its size and the fall before it (3)'
    """
    if best > 0:
        return f"the smoothed loss {smoothed:.4g} is over {factor:g}x the best, {best:.4g}"
    return (f"the smoothed loss {smoothed:.4g} rose {smoothed - best:.4g} above the best, "
            f"{best:.4g}: over {factor - 1:g}x the larger of its size and the fall before it "
            f"({max(abs(best), first - best):.4g})")


def _autocast(s: Setup):
    """Mixed precision on the model's device (find_lr allows it on CUDA only)."""
    return torch.autocast(s.device.type) if s.amp else contextlib.nullcontext()


def _set_lrs(s: Setup, lr: float) -> None:
    """Group 0 at ``lr``; group ``i`` at ``base_i * lr / base_0``."""
    for i, (group, base) in enumerate(zip(s.optimizer.param_groups, s.base)):
        value = lr if i == 0 else base * (lr / s.base[0])
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def _check_loss(loss: Any) -> Tensor:
    if not isinstance(loss, Tensor):
        raise LrlabError(f"the loss is a {type(loss).__name__}, not a tensor: return a scalar "
                         "tensor from loss_fn")
    if loss.numel() != 1:
        raise LrlabError(f"the loss has shape {tuple(loss.shape)}, not a scalar: reduce it "
                         "(reduction='mean', or .mean())")
    if not loss.requires_grad:
        raise LrlabError("the loss does not depend on the model's trainable parameters: "
                         "compute it from the model's outputs with gradients on")
    return loss


#: Steps in a row the gradient scaler may skip (inf/NaN gradients) before the test stops:
#: from its initial scale of 2**16, halving each time, far past any scale that could help.
MAX_SKIPS = 32


def _train_step(s: Setup, stream: Stream, scaler, check: bool) -> tuple[float | None, bool]:
    """One optimizer step over ``accumulate`` micro-batches: the mean loss (None: no data)
    and whether the gradient scaler skipped the step (inf/NaN gradients under ``amp``)."""
    s.optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for k in range(s.accumulate):
        batch = stream.next()
        if batch is None:
            return None, False
        first = check and k == 0  # the first batch's loss is checked, its warnings held
        caught = warnings.catch_warnings(record=True) if first else contextlib.nullcontext()
        with _autocast(s), caught as seen:
            if first:
                warnings.simplefilter("always")
            loss, outputs, targets = forward_loss(s.model, s.loss_fn,
                                                  to_device(batch, s.device, s.dtype), s.keys,
                                                  first=first)
        if first:
            loss = _check_loss(loss)
            if s.loss_fn is not None:  # torch's broadcasting note goes with the refusal
                refuse_broadcast(s.loss_fn, outputs, targets, loss, seen, members=False)
            else:  # a model's own loss lines its shapes up itself
                for w in seen:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        value = float(loss.detach())
        if not math.isfinite(value):
            return value, False
        scaled = loss.reshape(()) / s.accumulate
        (scaler.scale(scaled) if scaler is not None else scaled).backward()
        total += value / s.accumulate
    if scaler is None:
        _clip(s)
        s.optimizer.step()
        return total, False
    if s.clip is not None:  # the clip applies to the true gradient, not the scaled one
        scaler.unscale_(s.optimizer)
        _clip(s)
    scale = scaler.get_scale()
    scaler.step(s.optimizer)
    scaler.update()
    return total, scaler.get_scale() < scale  # the scale drops exactly when it skipped


def _clip(s: Setup) -> None:
    """With ``s.clip``, every parameter the optimizer steps clipped as one vector to that
    global L2 norm (``torch.nn.utils.clip_grad_norm_``), as a sweep clips a member's."""
    if s.clip is not None:
        torch.nn.utils.clip_grad_norm_(
            [p for group in s.optimizer.param_groups for p in group["params"]], s.clip)


def _evaluate(s: Setup) -> tuple[float, float | None]:
    """Validation ``(loss, accuracy)`` over ``val``, eval mode, no grad: the loss a
    sample-weighted mean, the accuracy over every scored label position (``correct``).
    It draws nothing from the training's random states (:func:`~lrlab._rng.isolated_rng`:
    a validation loader draws its iterator's seed from torch's), so a test with validation
    trains on the same batches and dropout masks as one without."""
    s.model.eval()
    loss_sum, count = 0.0, 0
    hits, scored = 0, 0  # label positions, not examples (a sequence scores each token)
    ignored = ignore_index_of(s.loss_fn)  # nn.CrossEntropyLoss(ignore_index=255)'s: 255
    try:
        with torch.no_grad(), _autocast(s), isolated_rng(s.device):
            for i, batch in enumerate(s.val):
                batch = to_device(batch, s.device, s.dtype)
                try:
                    loss, outputs, targets = forward_loss(s.model, s.loss_fn, batch, s.keys)
                except torch.OutOfMemoryError:
                    raise  # the device's memory, not the batch's form: torch's own message
                except Exception as err:  # noqa: BLE001 - the user's batch, in one line
                    raise LrlabError(later_batch(err, i)) from None
                n = batch_size_of(batch if targets is None else targets)
                loss_sum += float(loss) * n
                count += n
                c = correct(outputs, targets, ignored)
                if c is None or hits is None:
                    hits = None
                else:
                    hits, scored = hits + c[0], scored + c[1]
    finally:
        s.model.train()
    if count == 0:
        raise LrlabError("val_data yields no batches: give at least one sample or drop it")
    return loss_sum / count, (None if hits is None or scored == 0 else hits / scored)


def later_batch(err: Exception, index: int) -> str:
    """Why batch ``index`` of ``val_data`` failed where its first passed (the first is
    checked before training, :func:`check_val`), one line."""
    text = first_line(err)
    return (f"val_data: its batch {index + 1} fails in the model or the loss "
            f"({type(err).__name__}: {text}) where its first passed: give every batch the "
            "first's form (shapes, dtypes, labels in range)")


def check_val(s: Setup) -> None:
    """The first ``val_data`` batch through the model, checked as the first training batch
    is (:func:`~lrlab.search._data.forward_loss`): a batch the model cannot take, float
    class labels, labels beyond its class scores and a loss that fails each raise one line
    naming ``val_data`` before anything trains, instead of torch's error at the first
    evaluation. It runs as an evaluation does (eval mode, no gradients, no random draws);
    the caller wraps it in :func:`preserved`, as it wraps :func:`run_once`."""
    if s.val is None:
        return
    s.model.eval()
    try:
        with torch.no_grad(), _autocast(s), isolated_rng(s.device):
            batch = next(iter(s.val), None)
            if batch is None:
                raise LrlabError("val_data yields no batches: give at least one sample or "
                                 "drop it")
            forward_loss(s.model, s.loss_fn, to_device(batch, s.device, s.dtype), s.keys,
                         first=True)
    except LrlabError as err:
        said = str(err)
        raise LrlabError(said if said.startswith("val_data") else f"val_data: {said}") from None


class Curve:
    """One range test's records and its divergence stop, step by step (the sequential loop
    and each member of the vectorised one keep theirs in one of these)."""

    def __init__(self, s: Setup, has_val: bool) -> None:
        self.s, self.has_val = s, has_val
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.val_loss: list[float] = []
        self.val_acc: list[float] = []
        self.avg, self.best, self.first = 0.0, math.inf, math.nan
        self.reason = f"reached end={s.lrs[-1]:.3g} after {len(s.lrs)} steps"
        self.active, self.stopped = True, False

    def add(self, t: int, lr: float, loss: float, val: tuple[float, float] | None) -> None:
        if not math.isfinite(loss):
            self.reason, self.stopped, self.active = f"the loss is {loss} at lr {lr:.3g}", True, False
            return
        self.avg, smoothed = ema_step(self.avg, loss, t, self.s.smooth)
        self.lrs.append(lr)
        self.losses.append(loss)
        if self.has_val:
            self.val_loss.append(val[0] if val else math.nan)
            self.val_acc.append(val[1] if val else math.nan)
        self.first = smoothed if t == 0 else self.first
        self.best = min(self.best, smoothed)
        if diverged(smoothed, self.best, self.first, self.s.diverge):
            self.reason = (f"diverged at lr {lr:.3g}: "
                           f"{divergence(smoothed, self.best, self.first, self.s.diverge)}")
            self.stopped, self.active = True, False

    def records(self, accuracy: bool) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": self.losses,
                "val_loss": self.val_loss if self.has_val else None,
                "val_accuracy": self.val_acc if self.has_val and accuracy else None,
                "stopped_early": self.stopped, "reason": self.reason}



def run_once(s: Setup) -> dict[str, Any]:
    """Run the ramp once from the current state; return the records for the result."""
    stream = Stream(s.train)
    scaler = torch.amp.GradScaler(s.device.type) if s.amp else None
    s.model.train()
    curve = Curve(s, s.val is not None)
    lrs, last, t, skips = s.lrs.tolist(), len(s.lrs) - 1, 0, 0
    while t <= last:
        lr = lrs[t]
        _set_lrs(s, lr)
        loss, skipped = _train_step(s, stream, scaler, check=t == 0)
        if loss is None:
            curve.reason, curve.stopped = f"train_data ran out after {stream.seen} batches", True
            break
        if skipped:  # no step was taken: not a point of the curve; the same rate again
            skips += 1
            if skips == MAX_SKIPS:
                curve.reason, curve.stopped = (f"the gradient scaler skipped {skips} steps in a "
                                               f"row at lr {lr:.3g}: the gradients overflow"), True
                break
            continue
        skips = 0
        val = (_evaluate(s) if s.val is not None and math.isfinite(loss)
               and (t % s.eval_every == 0 or t == last) else None)
        curve.add(t, lr, loss, val)
        if not curve.active:
            break
        t += 1
    return curve.records(all(a is not None for a in curve.val_acc))


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.detach().clone()


@contextmanager
def preserved(model: nn.Module, optimizer: torch.optim.Optimizer | None,
              device: torch.device) -> Iterator[None]:
    """Restore ``model``, ``optimizer``, modes, grads and random states on exit.

    Args:
        model: the user's model.
        optimizer: the user's optimizer (None for one made internally).
        device: the model's device; a CUDA device's generator is forked too.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> with preserved(net, None, torch.device("cpu")):
        ...     _ = net.weight.data.zero_()
        >>> bool(net.weight.abs().sum() > 0)
        True
    """
    model_state = copy.deepcopy(model.state_dict())
    buffers = {name: _clone(b) for name, b in model.named_buffers()}
    grads = [(p, _clone(p.grad)) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    optimizer_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    try:
        with isolated_rng(device):
            yield
    finally:
        with torch.no_grad():
            model.load_state_dict(model_state)
            for name, b in model.named_buffers():
                saved = buffers.get(name)
                if saved is not None and b is not None and saved.shape == b.shape:
                    b.copy_(saved)
        for p, g in grads:
            p.grad = g
        for m, mode in modes:
            m.training = mode
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_state)
