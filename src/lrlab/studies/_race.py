"""A race of update rules in one population: tuned SGD or Adam against learning-rate-free rules.

``race(task, ["momentum:lr=0.3/0.1", "adam:lr=0.003/0.001", "prodigy", "dog"])`` trains
every rule at each of its rates (x seeds) as one population: members carry their own rule
(:func:`lrlab.optim.mixed`), start from the same weights per seed and see the same batches.
A learning-rate-free rule without ``lr=`` runs at its papers' multiplier, 1.

The claim (Mishchenko & Defazio 2023 for Prodigy, Defazio & Mishchenko 2023 for
D-Adaptation, Ivgi et al. 2023 for DoG), judged from the records: untuned, each
learning-rate-free rule ends within a few percent of the best tuned rule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lrlab._checks import positive_rates, repeated
from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab._once import warn_once
from lrlab.optim import RULES
from lrlab.reproduce import Claim, claims_frame, graded, margin, mean_se
from lrlab.tasks import Task
from lrlab.train import EpochReport, Member, SweepResult, fit, validated

__all__ = ["FREE", "RaceResult", "parse_entry", "race"]

#: Rules that set their own step size (their ``lr`` is a multiplier, 1 by default).
FREE = ("prodigy", "dadapt_adam", "dog")
#: How far below the best tuned rule (a fraction of its final metric) still counts as a match.
WITHIN = 0.02
Z = 2.0


def parse_entry(text: str) -> tuple[str, list[float], dict[str, float]]:
    """``NAME[:lr=A/B/C,key=value,...]`` as ``(rule, rates, hyperparameters)``.

    Example:
        >>> parse_entry("adam:lr=0.003/0.001,beta2=0.99")
        ('adam', [0.003, 0.001], {'beta2': 0.99})
    """
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if name not in RULES:
        raise LrlabError(f"unknown update rule {name!r} in {text!r}; choose one of: "
                         f"{', '.join(sorted(RULES))}")
    lrs, hparams = ([1.0] if name in FREE else []), {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = (s.strip() for s in pair.partition("="))
        try:
            numbers = [float(v) for v in value.split("/")] if eq else []
        except ValueError:
            numbers = []
        if not numbers or (key != "lr" and len(numbers) != 1):
            raise LrlabError(f"{text}: {pair!r} must be lr=A/B/C or key=number")
        if key == "lr":
            lrs = positive_rates(f"{text}: rates", numbers)  # the rule named, not "lrs.0"
            twice = repeated(lrs)
            if twice is not None:  # trained twice as two identical members, unsaid
                raise LrlabError(f"{text}: lists the rate {twice:g} twice; give each once")
        else:
            hparams[key] = numbers[0]
    if not lrs:
        raise LrlabError(f"{text}: needs its rates, e.g. {name}:lr=0.01/0.001 (only "
                         f"{', '.join(FREE)} default to 1)")
    return name, lrs, hparams


@warn_once()
def race(task: Task, entries: Sequence[str], *,
         callbacks: Sequence[Callable[[EpochReport], None]] = (), **settings: Any
         ) -> RaceResult:
    """Train every entry's rule at each of its rates as one population and judge the race.

    Args:
        task: the task.
        entries: ``NAME[:lr=A/B,key=value,...]`` per rule (see :func:`parse_entry`); two or
            more distinct rules.
        callbacks: called after every epoch.
        **settings: fields of :class:`lrlab.train.SweepConfig` (``epochs``, ``seeds``,
            ``seed``, ``batch_size``, ``device``, ...; not ``lrs``, ``optimizer``, ``hparams``).

    Example:
        >>> from lrlab.tasks import get_task
        >>> r = race(get_task("blobs"), ["sgd:lr=0.3", "prodigy"], epochs=2)
        >>> r.table()["rule"].tolist()
        ['sgd', 'prodigy']
    """
    for key in ("lrs", "optimizer", "hparams", "schedules", "lr_mults"):
        if key in settings:
            raise LrlabError(f"the race sets {key} itself; give each rule's as "
                             "NAME:lr=A/B,key=value")
    parsed = [parse_entry(e) for e in entries]
    names = [p[0] for p in parsed]
    if len(set(names)) < 2 or len(set(names)) != len(names):
        raise LrlabError(f"a race needs two or more distinct rules, each once; got "
                         f"{', '.join(names) or 'none'}")
    for name, lrs, hparams in parsed:  # each rule's rates and hyperparameters, one line
        validated(lrs=lrs, optimizer=name, hparams=hparams, **settings)
    config = validated(lrs=[1.0], optimizer=names[0], **settings)
    seeds = config.seeds or [config.seed]
    members = [Member(lr=lr, seed=seed, hparams=hparams, optimizer=name,
                      label=f"{name} lr={lr:g}" + (f" seed={seed}" if len(seeds) > 1 else ""))
               for name, lrs, hparams in parsed for lr in lrs for seed in seeds]
    return RaceResult(fit(task, members, config, callbacks=callbacks), tuple(names))


@dataclass
class RaceResult:
    """A race: the population's records and the rules in it, in order."""

    run: SweepResult
    rules: tuple[str, ...]

    def table(self) -> pd.DataFrame:
        """Per rule: its best rate (by the mean final validation metric over seeds), that
        mean and its standard error, the final validation loss, and whether it is free."""
        s = self.run.summary()
        s["rule"] = self.run.members["optimizer"].to_numpy()
        m = self.run.monitor
        rows = []
        for rule in self.rules:
            per_rate = []
            for lr, group in s[s["rule"] == rule].groupby("lr"):
                value, se = mean_se(group[f"final_val_{m}"])
                per_rate.append((value, se, lr, mean_se(group["final_val_loss"])[0]))
            finite = [p for p in per_rate if p[0] == p[0]] or per_rate
            best = (max if self.run.higher_is_better else min)(finite, key=lambda p: p[0])
            rows.append({"rule": rule, "free": rule in FREE, "rates": len(per_rate),
                         "best_lr": best[2], f"final_val_{m}": best[0],
                         f"final_val_{m}_se": best[1], "final_val_loss": best[3]})
        return pd.DataFrame(rows)

    def claims(self) -> list[Claim]:
        """Whether each learning-rate-free rule matches the best tuned one (see module)."""
        t, m = self.table(), self.run.monitor
        text = ("untuned, each learning-rate-free rule ends within "
                f"{WITHIN:.0%} of the best tuned rule (Mishchenko & Defazio 2023)")
        free, tuned = t[t["free"]], t[~t["free"]]
        if free.empty or tuned.empty:
            return [Claim(text, "needs a learning-rate-free rule (prodigy, dadapt_adam, dog) "
                          "and a tuned one", "not run", "")]
        sign = 1 if self.run.higher_is_better else -1
        col, se_col = f"final_val_{m}", f"final_val_{m}_se"
        best = tuned.loc[(tuned[col] * sign).idxmax()]
        gaps, ok = [], []
        for _, row in free.iterrows():
            gap = sign * (best[col] - row[col])  # > 0: the free rule is worse
            share = abs(gap) / abs(best[col])
            gaps.append(f"{row['rule']} {row[col]:.4f} ({share:.1%} "
                        f"{'behind' if gap > 0 else 'ahead' if gap < 0 else 'level'})")
            ok.append(gap <= margin([best[se_col], row[se_col]], Z,
                                    WITHIN * abs(best[col])))
        return [Claim(text, f"best tuned: {best['rule']} at lr={best['best_lr']:g}, "
                      f"{best[col]:.4f}; " + "; ".join(gaps),
                      graded(all(ok), any(ok)),
                      f"holds: every free rule's final validation {m} within max({WITHIN:.0%} "
                      f"of the best tuned rule's, {Z:g} standard errors over seeds); partly: "
                      "some", {"matched": float(sum(ok)), "free": float(len(ok))})]

    def verdict(self) -> str:
        """One line: the winner and the claim's verdict."""
        t, m = self.table(), self.run.monitor
        sign = 1 if self.run.higher_is_better else -1
        win = t.loc[(t[f"final_val_{m}"] * sign).idxmax()]
        return (f"race: {win['rule']} at lr={win['best_lr']:g} ends best (final validation {m} "
                f"{win[f'final_val_{m}']:.4f}); free rules match the tuned: "
                f"{self.claims()[0].verdict}")

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write the population (``run/``), ``race.json`` and ``claims.csv``."""
        out = Path(out)
        written = self.run.save(out / "run")
        frame = claims_frame(self.claims())
        meta = {"study": "race", "rules": list(self.rules), "verdict": self.verdict()}
        written.append(atomic_write(out / "claims.csv", lambda p: frame.to_csv(p, index=False)))
        written.append(atomic_write(out / "race.json",
                                    lambda p: p.write_text(json.dumps(meta, indent=2) + "\n")))
        return written

    @classmethod
    def load(cls, out: str | os.PathLike) -> RaceResult:
        """Read back :meth:`save`; the claims are recomputed from the records."""
        path = Path(out) / "race.json"
        if not path.is_file():
            raise LrlabError(f"{out} holds no race (no race.json); give the --out folder of "
                             "lrlab race")
        meta = json.loads(path.read_text())
        return cls(SweepResult.load(Path(out) / "run"), tuple(meta["rules"]))

    def write_report(self, path: str | os.PathLike) -> Path:
        """The race's HTML page: verdict, claim, per-rule table, the curves and rates."""
        from lrlab.report import (
            curves_info,
            plot_curves,
            plot_schedules,
            schedule_info,
            write_page,
        )

        m = self.run.monitor
        return write_page(path, title=f"lrlab: race on {self.run.task}", verdict=self.verdict(),
                          settings={"task": self.run.task, "rules": list(self.rules),
                                    "epochs": self.run.config.get("epochs")},
                          tables=[("claim, judged from the records", claims_frame(self.claims())),
                                  ("per rule, at its best rate", self.table())],
                          figures=[(f"validation {m} per epoch",
                                    plot_curves(curves_info(self.run, m))),
                                   ("the rate each member used (a free rule's own estimate)",
                                    plot_schedules(schedule_info(self.run), log=True))])
