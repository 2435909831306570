"""Prodigy's probe: run Prodigy briefly, then use its step-size estimate as a fixed Adam rate.

Prodigy (Mishchenko & Defazio 2023) is Adam whose rate ``d`` estimates the distance to the
solution; ``d`` only grows and settles early. Its authors suggest (konstmish/prodigy#12)
running it for a short while and giving its estimate to plain Adam as a constant rate.
:func:`prodigy_probe` does that on a task: one Prodigy member (``lr = 1``) for
``probe_epochs``, every step's ``d`` recorded, the last one the rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from lrlab._checks import whole
from lrlab._errors import LrlabError
from lrlab._once import warn_once
from lrlab.search._common import Callback, SearchResult, plan, rate
from lrlab.tasks import Task
from lrlab.train import Member, fit, validated

__all__ = ["ProbeResult", "prodigy_probe"]

#: The estimate has settled once it stays within this factor of its final value.
SETTLED = 1.1


@dataclass(frozen=True, eq=False, repr=False)  # SearchResult.__repr__: one line
class ProbeResult(SearchResult):
    """What :func:`prodigy_probe` found.

    Attributes:
        estimates: per step: ``step`` and ``d`` (Prodigy's rate after that step).
        settled_step: the first step from which ``d`` stays within 10% of its final value.
        optimizer: the rule the rate is for (``adam``).
    """

    procedure: ClassVar[str] = "prodigy_probe"
    estimates: pd.DataFrame
    settled_step: int
    optimizer: str

    def verdict(self) -> str:
        """One line: the rate, what it is for, and whether the estimate had settled."""
        steps = int(self.estimates["step"].max())
        where = (f"settled by step {self.settled_step} of {steps}"
                 if self.settled_step < 0.8 * steps else
                 f"still moving at step {self.settled_step} of {steps}: probe longer")
        return f"prodigy_probe: lr={rate(self.lr)} for {self.optimizer} (Prodigy's d {where})"


@warn_once()
def prodigy_probe(task: Task | str, *, probe_epochs: int = 1, epochs: int | None = None,
                  optimizer: str = "adam", subset: float | None = None, seed: int = 0,
                  confirm: bool = False, callbacks: Sequence[Callback] = (),
                  **settings: Any) -> ProbeResult:
    """Run Prodigy for ``probe_epochs`` and return its final ``d`` as Adam's rate.

    Args:
        task: a task or its name.
        optimizer: the rule the rate is for, ``adam`` or ``adamw`` (its hyperparameters are
            Prodigy's too, so both see the same betas, eps and weight decay).
        probe_epochs: how long Prodigy runs (epochs of the searched data), at most
            ``epochs``.
        epochs: the training length the rate is meant for (the confirmation's).
        subset: probe on a stratified subset (a count or a fraction) of the training data.
        seed: the seed of the weights and the example order.
        confirm: also train Adam at the rate on all the data for ``epochs``.
        callbacks: progress callbacks.
        **settings: other :class:`lrlab.train.SweepConfig` fields (``batch_size``,
            ``hparams`` for both Prodigy and Adam: ``beta1``, ``beta2``, ``eps``,
            ``weight_decay``; ``device``, ...).

    Example:
        >>> found = prodigy_probe("blobs", probe_epochs=1)
        >>> found.optimizer, found.lr > 1e-6
        ('adam', True)
    """
    if optimizer not in ("adam", "adamw"):
        raise LrlabError(f"Prodigy's estimate is an Adam rate; give optimizer adam or adamw, "
                         f"got {optimizer!r}")
    p = plan("prodigy_probe", task, subset=subset, epochs=epochs, optimizer=optimizer,
             seed=seed, callbacks=callbacks, settings=settings)
    whole("probe_epochs", probe_epochs, low=1, high=p.epochs,
          hint=f" (a probe is a short run before the training of {p.epochs} epochs its "
               "rate is for; for a longer one give epochs=N)")
    hparams = dict(p.settings.get("hparams") or {})
    config = validated(lrs=[1.0], epochs=probe_epochs, optimizer=optimizer, seed=seed,
                       record_steps=True, **p.settings)
    probe = fit(p.task, [Member(lr=1.0, seed=seed, hparams=hparams, optimizer="prodigy",
                                label="prodigy probe")], config, callbacks=p.callbacks)
    steps = probe.steps[probe.steps["metric"] == "lr"]
    estimates = pd.DataFrame({"step": steps["step"].to_numpy(),
                              "d": steps["value"].to_numpy(float)})
    final = float(estimates["d"].iloc[-1])
    near = (estimates["d"] >= final / SETTLED).to_numpy()
    settled = int(estimates["step"].iloc[int(near.argmax())]) if near.any() else 0
    n = p.task.train_size  # examples (a DataLoader's len counts batches)
    explanation = (f"Prodigy (lr=1) ran {len(estimates)} steps ({probe_epochs} epoch(s)"
                   f"{'' if n is None else f' of {n} examples'}); its estimate d rose from "
                   f"{estimates['d'].iloc[0]:.3g} to {final:.3g} and was within "
                   f"{SETTLED - 1:.0%} of that from step {settled} on. {optimizer} at a "
                   f"constant {rate(final)} is the suggestion (konstmish/prodigy#12).")
    return ProbeResult(lr=final, evidence=(probe,), explanation=explanation,
                       compute=p.cost(probe), confirmation=p.confirm(final) if confirm else None,
                       estimates=estimates, settled_step=settled, optimizer=optimizer)
