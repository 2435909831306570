"""Checkpoints of a fit: everything needed to continue it exactly, as plain tensors.

A :class:`Checkpoint` is taken at the end of an epoch. It holds the population's state
(flat parameters, buffers, the update rule's state, the divergence mask and bounds, the step
counter), the reduce-on-plateau schedulers' state, the records so far (per epoch and per
step), the elapsed seconds and the random generators that random layers draw from. With it,
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
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lrlab._errors import LrlabError

__all__ = ["Checkpoint", "checkpoint_due", "fingerprint"]

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
        rng: the generators random layers draw from: ``{"cpu": state, "cuda": state}``.
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

    def to_bytes(self) -> bytes:
        """The checkpoint as bytes (``torch.save`` of plain values only)."""
        payload = {"format": _FORMAT, "version": _VERSION, "epoch": self.epoch,
                   "epochs": self.epochs, "fingerprint": self.fingerprint,
                   "population": self.population, "plateaus": self.plateaus,
                   "records": self.records, "steps": self.steps, "seconds": self.seconds,
                   "rng": self.rng}
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
        return cls(**{name: payload[name] for name in fields})


def checkpoint_due(epoch: int, epochs: int, every: int | None) -> bool:
    """Whether a fit checkpoints after ``epoch`` of ``epochs``: every ``every`` epochs
    (never when ``every`` is ``None`` or 0) and always after the last.

    Example:
        >>> [e for e in range(1, 8) if checkpoint_due(e, 7, 3)]
        [3, 6, 7]
    """
    return epoch == epochs or (bool(every) and epoch % every == 0)


def fingerprint(config: Any, members: Sequence[Any], *, epochs: int, batch_size: int) -> str:
    """A digest of what determines a fit's numbers: settings (but the device and whether the
    step is compiled), members, and the epochs and batch size actually used (the task's
    defaults filled in)."""
    settings = {k: v for k, v in config.model_dump().items() if k not in ("device", "compile")}
    text = json.dumps({"config": settings, "members": [m.model_dump() for m in members],
                       "epochs": epochs, "batch_size": batch_size}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

