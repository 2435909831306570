"""Checkpoints of a fit: everything needed to continue it exactly, as plain tensors.

A :class:`Checkpoint` is taken at the end of an epoch. It holds the population's state
(flat parameters, buffers, the update rule's state, the divergence mask and bounds, the step
counter), the reduce-on-plateau schedulers' state, the records so far (per epoch and per
step), the elapsed seconds, the random generators that random layers draw from and the
validation targets' counts (the majority class the verdict compares with). With it,
:func:`lrlab.train.fit` continues after ``epoch`` and ends with the same records, bit for
bit (the ``time`` metric aside), as a run that was never interrupted.

Its bytes are ``torch.save`` of plain tensors, lists, dicts, strings and numbers only, and
are read back with ``torch.load(..., weights_only=True)``: loading a checkpoint never
unpickles an arbitrary object.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lrlab._errors import LrlabError
from lrlab.metrics import LabelCounts

__all__ = ["Checkpoint", "checkpoint_due", "fingerprint", "fork"]

_FORMAT = "lrlab-checkpoint"
_VERSION = 2  # 2: plateau state as ReduceOnPlateau.state_dict()


@dataclass
class Checkpoint:
    """The state of a fit at the end of an epoch (every tensor on the CPU).

    Attributes:
        epoch: the last epoch done (1-based); training continues with ``epoch + 1``.
        epochs: how many epochs the fit trains in all.
        fingerprint: a digest of the settings and members (see :func:`fingerprint`); a fit
            resumed with other settings is refused.
        population: :meth:`lrlab.population.Population.state_dict`.
        plateaus: the state of each reduce-on-plateau group, in member order of first use.
        records: the per-epoch rows so far: ``[epoch, split, metric, values (K,) float64]``.
        steps: the per-step rows so far (``record_steps``): ``[step, loss, lr, grad_norm]``.
        seconds: training time before this checkpoint (the ``time`` record goes on from it).
        rng: the generators random layers and a dataset's transforms draw from: ``{"cpu":
            state, "cuda": state}`` and Python's and NumPy's (:func:`lrlab._rng.host_states`).
        labels: the validation targets counted in the first evaluation (empty before it,
            and in a checkpoint written before lrlab counted them).
        own_chance: the task's own monitor on majority answers, scored in that evaluation
            (``nan``: not one of the task's own metrics, or not known).
    """

    epoch: int
    epochs: int
    fingerprint: str
    population: dict[str, Any]
    plateaus: list[dict[str, Any]] = field(default_factory=list)
    records: list[list[Any]] = field(default_factory=list)
    steps: list[list[Any]] = field(default_factory=list)
    seconds: float = 0.0
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    labels: LabelCounts = field(default_factory=LabelCounts)
    own_chance: float = math.nan

    def to_bytes(self) -> bytes:
        """The checkpoint as bytes (``torch.save`` of plain values only)."""
        payload = {"format": _FORMAT, "version": _VERSION, "epoch": self.epoch,
                   "epochs": self.epochs, "fingerprint": self.fingerprint,
                   "population": self.population, "plateaus": self.plateaus,
                   "records": self.records, "steps": self.steps, "seconds": self.seconds,
                   "rng": self.rng, "labels": {"examples": self.labels.examples,
                                               "positions": self.labels.positions,
                                               "counts": list(self.labels.counts)},
                   "own_chance": float(self.own_chance)}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Checkpoint:
        """Read :meth:`to_bytes` back with ``torch.load(..., weights_only=True)``.

        Raises:
            LrlabError: the bytes are not an lrlab checkpoint, or one this version cannot read.
        """
        try:
            payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        except (RuntimeError, EOFError, ValueError, OSError, pickle.UnpicklingError) as err:
            raise LrlabError(f"cannot read the checkpoint ({type(err).__name__}): it is "
                             "damaged, or not an lrlab checkpoint") from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise LrlabError("these bytes are not an lrlab checkpoint")
        version = payload.get("version")
        if version != _VERSION:
            older = isinstance(version, int) and version < _VERSION
            raise LrlabError(f"checkpoint version {version} cannot be read by this lrlab (it "
                             f"reads version {_VERSION}); " + (
                                 "it was written by an older lrlab: start the run again"
                                 if older else "upgrade lrlab"))
        fields = ("epoch", "epochs", "fingerprint", "population", "plateaus", "records",
                  "steps", "seconds", "rng")
        if any(name not in payload for name in fields):
            raise LrlabError("the checkpoint lacks "
                             f"{next(n for n in fields if n not in payload)!r}; it is damaged")
        labels = payload.get("labels") or {}
        try:
            counted = LabelCounts(int(labels.get("examples", 0)), int(labels.get("positions", 0)),
                                  tuple(int(c) for c in labels.get("counts", ())))
        except (AttributeError, TypeError, ValueError):
            raise LrlabError("the checkpoint's label counts are not numbers; it is damaged") \
                from None
        try:
            own = float(payload.get("own_chance", math.nan))  # (older checkpoints: none)
        except (TypeError, ValueError):
            raise LrlabError("the checkpoint's chance level is not a number; it is damaged") \
                from None
        return cls(**{name: payload[name] for name in fields}, labels=counted, own_chance=own)


def checkpoint_due(epoch: int, epochs: int, every: int | None) -> bool:
    """Whether a fit checkpoints after ``epoch`` of ``epochs``: every ``every`` epochs
    (never when ``every`` is ``None`` or 0) and always after the last.

    Example:
        >>> [e for e in range(1, 8) if checkpoint_due(e, 7, 3)]
        [3, 6, 7]
    """
    return epoch == epochs or (bool(every) and epoch % every == 0)


#: Settings added after runs were stored: left out of a fingerprint while off (``None``), so
#: a stored run's fingerprint stays what it was.
_LATER = ("clip_grad_norm", "schedule_over", "norm_batches")


def fingerprint(config: Any, members: Sequence[Any], *, epochs: int, batch_size: int) -> str:
    """A digest of what determines a fit's numbers: settings (but the device and whether the
    step is compiled), members, and the epochs and batch size actually used (the task's
    defaults filled in)."""
    settings = {k: v for k, v in config.model_dump().items() if k not in ("device", "compile")
                and not (k in _LATER and v is None)}  # off: as before the field
    dumped = [{k: v for k, v in m.model_dump().items() if k != "optimizer" or v}
              for m in members]  # a member without a rule of its own: as before the field
    text = json.dumps({"config": settings, "members": dumped,
                       "epochs": epochs, "batch_size": batch_size}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fork(checkpoint: Checkpoint, source: Sequence[int], task: Any, members: Sequence[Any],
         config: Any) -> Checkpoint:
    """A checkpoint from which :func:`lrlab.train.fit` trains ``members`` on, each starting
    where member ``source[j]`` of the checkpointed population stands (its weights, the
    rule's state, its divergence flag and its records so far, copied along the member axis).

    Train a shared phase once, then fork K members from it as one population: member ``j``
    of the result equals a fit of ``members[j]`` from scratch whenever its settings agree
    with its source's up to ``checkpoint.epoch`` (the same rate there, say).

    Args:
        checkpoint: the shared phase's last checkpoint (no reduce-on-plateau members).
        source: for each new member, the index of the member it continues.
        task, members, config: the fit that will resume from the fork (its ``epochs`` must
            go beyond ``checkpoint.epoch``; its batch size must be the shared phase's).

    Example:
        >>> from lrlab.tasks import get_task
        >>> from lrlab.train import Member, fit, validated
        >>> task, one = get_task("blobs"), [Member(lr=0.1)]
        >>> saved = []
        >>> _ = fit(task, one, validated(lrs=[0.1], epochs=2), on_checkpoint=saved.append)
        >>> two = [Member(lr=0.1), Member(lr=0.1, schedule="wsd:cooldown=2")]
        >>> config = validated(lrs=[0.1], epochs=4, schedules=["constant", "wsd:cooldown=2"])
        >>> run = fit(task, two, config, resume=fork(saved[-1], [0, 0], task, two, config))
        >>> int(run.records["epoch"].max())
        4
    """
    if checkpoint.plateaus:
        raise LrlabError("cannot fork a run with reduce-on-plateau members; fork from a run "
                         "with closed-form schedules")
    old = int(checkpoint.population["flat"].shape[0])
    index = torch.as_tensor(list(source), dtype=torch.long)
    if len(index) != len(members) or not bool(((index >= 0) & (index < old)).all()):
        raise LrlabError(f"fork needs one source member (0 to {old - 1}) per new member; got "
                         f"{list(source)} for {len(members)} members")
    epochs = config.epochs or task.epochs
    if checkpoint.epoch >= epochs:
        raise LrlabError(f"the checkpoint is at epoch {checkpoint.epoch}, the fork trains "
                         f"{epochs} epochs; fork into a longer run")

    def pick(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.index_select(0, index) if value.dim() and value.shape[0] == old \
                else value.clone()
        if isinstance(value, dict):
            return {k: pick(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [pick(v) for v in value]
        return value

    return Checkpoint(
        epoch=checkpoint.epoch, epochs=epochs,
        fingerprint=fingerprint(config, members, epochs=epochs,
                                batch_size=config.batch_size or task.batch_size),
        population=pick(checkpoint.population), plateaus=[],
        records=[[e, split, metric, pick(v)] for e, split, metric, v in checkpoint.records],
        steps=[[s, *(pick(v) for v in values)] for s, *values in checkpoint.steps],
        seconds=checkpoint.seconds, rng={k: v.clone() for k, v in checkpoint.rng.items()},
        labels=checkpoint.labels, own_chance=checkpoint.own_chance)

