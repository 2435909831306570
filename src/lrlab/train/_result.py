"""What a sweep returns: tidy records, a members table, a summary, its sensitivity to the
rate and a verdict."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from lrlab._checks import out_dir
from lrlab._errors import LrlabError
from lrlab._io import UMASK
from lrlab.metrics import LEARNED, score_noise
from lrlab.optim import get_rule
from lrlab.train._config import mult_label
from lrlab.train._rank import rank, setting_labels
from lrlab.train._sensitivity import TOLERANCE, Sensitivity, sensitivity

if TYPE_CHECKING:
    from lrlab.population import Population
    from lrlab.tasks import Task
    from lrlab.train._config import Member, SweepConfig

__all__ = ["SweepResult", "check_writable", "diverged_epochs", "last_epochs", "members_table"]

Format = Literal["csv", "parquet"]


@dataclass
class SweepResult:
    """The records of one population.

    Attributes:
        task: the task's name.
        monitor: the validation metric that ranks members.
        higher_is_better: whether a larger ``monitor`` is better.
        config: the settings, as a plain dict.
        records: one row per (member, epoch, split, metric): the tidy table.
        members: one row per member: its hyperparameters and whether it diverged.
        steps: per-step records (``record_steps=True``), else ``None``.
        population: the trained population (in-process only; not saved).
        epochs: the epochs the run was planned to train (records may hold fewer: a member
            that diverged, or a study still running).
        steps_per_epoch: optimizer steps per epoch (0: not known, an iterable dataset's
            run that has not finished an epoch).
        optimizer: the update rule's name.
        chance: the monitor's value for always answering the validation set's majority
            class (accuracy or error; :meth:`~lrlab.metrics.LabelCounts.chance`, counted
            from the targets as the first evaluation scored them, whatever the data; one
            of the task's own metrics scored on such answers in that evaluation,
            :func:`~lrlab.train._loader.majority_levels`), so the verdict can say when no
            rate beat it; ``nan`` when not known (another monitor, outputs that are not
            class scores, a metric that cannot score them, a run not yet evaluated).
        val_examples: validation examples scored each epoch (0: not known); the verdict's
            allowance for noise (:func:`~lrlab.metrics.score_noise`) reads it.
        noise_examples: for one of the task's own metrics that is a share averaged over
            classes (a macro-F1), what its noise counts in place of ``val_examples``
            (:func:`~lrlab.metrics.share_examples`: binomial on the balanced examples, as
            the searches read it); ``nan`` otherwise.
    """

    task: str
    monitor: str
    higher_is_better: bool
    config: dict
    records: pd.DataFrame
    members: pd.DataFrame
    steps: pd.DataFrame | None = None
    population: Population | None = field(default=None, repr=False)
    epochs: int = 0
    steps_per_epoch: int = 0
    optimizer: str = "sgd"
    chance: float = math.nan
    val_examples: int = 0
    noise_examples: float = math.nan

    def __post_init__(self) -> None:
        if not self.epochs:  # made by hand, or read from an older folder: what it holds
            planned = self.config.get("epochs") if isinstance(self.config, dict) else None
            done = self.records["epoch"].max() if len(self.records) else 0
            self.epochs = int(planned or (0 if pd.isna(done) else done))
        if isinstance(self.config, dict) and self.optimizer == "sgd":
            self.optimizer = str(self.config.get("optimizer") or "sgd")

    @classmethod
    def build(cls, task: Task, members: list[Member], config: SweepConfig, pop: Population,
              recorder, steps: list, steps_per_epoch: int, epochs: int,
              chance: float = math.nan, val_examples: int = 0,
              noise_examples: float = math.nan) -> SweepResult:
        """Assemble the tables once training has finished (used by :func:`lrlab.fit`)."""
        diverged_step = pop.diverged_step.cpu().numpy()
        return cls(task=task.name, monitor=task.monitor, higher_is_better=task.higher_is_better,
                   config=config.model_dump(),
                   records=recorder.frame(last_epochs(diverged_step, steps_per_epoch, epochs)),
                   members=members_table(members, config.optimizer, diverged_step,
                                         diverged_epochs(diverged_step, steps_per_epoch)),
                   steps=_steps_frame(steps, steps_per_epoch), population=pop,
                   epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=config.optimizer,
                   chance=chance, val_examples=val_examples, noise_examples=noise_examples)

    def __repr__(self) -> str:
        """One line, as the searches' results print in a REPL: the best rate by the mean over
        its seeds, as :meth:`verdict` ranks (the tables stay in :meth:`summary`)."""
        diverged = int(self.members["diverged"].sum()) if len(self.members) else 0
        b = None if self.records.empty or diverged == len(self.members) else self.best()
        best = ""
        if b is not None:
            m = self.monitor
            score = b.get(f"mean_best_val_{m}", math.nan)
            score = b[f"best_val_{m}"] if pd.isna(score) else score  # no mean: its best seed
            best = f", best_lr={b['lr']:.4g}, {m}={score:.4g}"
        return (f"{type(self).__name__}(task={self.task!r}, optimizer={self.optimizer!r}, "
                f"members={len(self.members)}, epochs={self.epochs}"
                f"{f', diverged={diverged}' if diverged else ''}{best})")

    # -- reading -------------------------------------------------------------------------

    def curve(self, metric: str, split: str = "val") -> pd.DataFrame:
        """One column per member (its label), one row per epoch."""
        rows = self.records[(self.records["metric"] == metric) & (self.records["split"] == split)]
        if rows.empty:
            splits = sorted(set(self.records["split"]))
            if split not in splits:
                raise LrlabError(f"no split {split!r}; the records hold {', '.join(splits)}")
            have = sorted(set(self.records.loc[self.records["split"] == split, "metric"]))
            raise LrlabError(f"no {split} records of {metric!r}; recorded for {split}: "
                             f"{', '.join(have)}")
        wide = rows.pivot(index="epoch", columns="member", values="value")
        return wide.rename(columns=dict(zip(self.members["member"], self.members["label"])))

    def summary(self) -> pd.DataFrame:
        """Per member: final and best validation ``monitor``, the epoch of the best, final
        training and validation loss, and whether (and when) it diverged."""
        m = self.monitor
        val = self.curve(m, "val")
        val.columns = self.members["member"].to_numpy()
        scored = val.dropna(axis=1, how="all")  # a member NaN from epoch 1 has no best epoch
        best_epoch = (scored.idxmax() if self.higher_is_better else scored.idxmin())
        best_epoch = best_epoch.reindex(val.columns)
        best = val.max() if self.higher_is_better else val.min()
        out = self.members[["member", "label", "lr", "seed"]].copy()
        out[f"final_val_{m}"] = [_last(val[k]) for k in out["member"]]
        out[f"best_val_{m}"] = best.reindex(out["member"]).to_numpy()
        out["best_epoch"] = best_epoch.reindex(out["member"]).astype("Int64").to_numpy()
        for split in ("train", "val"):
            loss = self.curve("loss", split)
            out[f"final_{split}_loss"] = [_last(loss.iloc[:, k]) for k in out["member"]]
        out["diverged_epoch"] = self.members["diverged_epoch"]
        return out

    def ranked(self) -> pd.DataFrame:
        """:meth:`summary` best first. With several seeds per rate, rates are ranked by the
        mean over their seeds, not by one lucky seed, and the table gains each member's
        ``setting`` (its label without the seed), ``seeds`` and ``mean_best_val_<m>`` (see
        :func:`rank`)."""
        summary, settings = self.summary(), setting_labels(self.members)
        if settings.duplicated().any():
            summary["setting"] = settings.to_numpy()
        return rank(summary, self.monitor, self.higher_is_better)

    def best(self) -> pd.Series | None:
        """The ranked row of the best member (the first of :meth:`ranked`: with seeds, the
        best seed of the rate whose mean over seeds is best); ``None`` when every member
        diverged at once (no member has a score)."""
        table = self.ranked()
        if table.empty or pd.isna(table.iloc[0][f"best_val_{self.monitor}"]):
            return None
        return table.iloc[0]

    def sensitivity(self, tolerance: float = TOLERANCE) -> Sensitivity:
        """The basin of good rates per setting (see :func:`lrlab.train.sensitivity`)."""
        return sensitivity(self, tolerance)

    def verdict(self, *, among: str = "") -> str:
        """One line naming the best rate and why, and (with three or more rates) how wide
        the basin of good rates around it is; ``among`` says whose best it is where this is
        one population of several (``"in stage 1 of 3"``: a search's own pick comes after)."""
        best = f"best {among}" if among else "best"
        b = self.best()
        diverged = self.members.loc[self.members["diverged"], "label"].tolist()
        tail = f"; diverged: {', '.join(diverged)}" if diverged else ""
        if b is None or len(diverged) == len(self.members):
            return f"every member diverged{tail}; try smaller learning rates"
        done = int(self.records["epoch"].max())
        of = (f"{done} done, {self.epochs} planned" if self.epochs and done < self.epochs
              else str(self.epochs or done))  # a study still running, or cut short
        m = self.monitor
        if b.get("seeds", 1) > 1 and pd.notna(b[f"mean_best_val_{m}"]):
            # the rate, by its mean; then the seed that did best (no mean: the seed alone)
            return (f"{best}: {b['setting']} (validation {m} {b[f'mean_best_val_{m}']:.4f}, "
                    f"mean over {b['seeds']} seeds of their best; best seed {b['label']}: "
                    f"{b[f'best_val_{m}']:.4f} at epoch {int(b['best_epoch'])} of {of})"
                    f"{self._basin_words(b)}{self._chance_words(b)}{tail}")
        return (f"{best}: {b['label']} (validation {m} {b[f'best_val_{m}']:.4f}"
                f" at epoch {int(b['best_epoch'])} of {of}){self._basin_words(b)}"
                f"{self._chance_words(b)}{tail}")

    def _chance_words(self, best: pd.Series) -> str:
        """The warning when the best rate scored no better than always answering the
        majority class, within the noise a search allows (:data:`~lrlab.metrics.LEARNED`
        noise units on the validation set): the rates then cannot be told apart by this
        monitor. With seeds, the rate's mean over them is what is compared, as it is ranked."""
        if not math.isfinite(self.chance):
            return ""
        m = self.monitor
        mean = best.get(f"mean_best_val_{m}")
        value = mean if best.get("seeds", 1) > 1 and pd.notna(mean) else best[f"best_val_{m}"]
        margin = (LEARNED * score_noise(self.chance, m, self.noise_examples, binomial=True)
                  if math.isfinite(self.noise_examples)
                  else LEARNED * score_noise(self.chance, m, self.val_examples)
                  if self.val_examples else 0.0)
        sign = 1 if self.higher_is_better else -1
        if sign * (value - self.chance) > margin:
            return ""
        hint = "'auc' or 'loss'" if "auc" in set(self.records["metric"]) else "'loss'"
        return (f"; no rate beat always answering the majority class ({self.chance:.4f}) by "
                f"more than the noise, so {m} cannot rank these rates: rank by {hint} "
                "instead (Task(..., monitor=...))")

    def _basin_words(self, best: pd.Series) -> str:
        if self._chance_words(best):
            return ""  # every rate is "good" when none learned
        s = self.sensitivity()
        setting = s.points.set_index("member")["setting"].get(best["member"])
        basin = next((x for x in s.basins if x.setting == setting), None)
        if basin is None or len(basin.rates) < 3:
            return ""
        words = f"; good rates ({s.rule()}): {basin.describe()}"
        if math.isclose(basin.best_lr, float(best["lr"])):
            return words
        # the basin is read on the final value, the best rate on its best epoch: say whose
        # final value the basin is measured from, else it reads as the rate named first;
        # the rate spelled as the verdict's start names it (lr=0.316228, not 0.316)
        mine = basin.values[basin.rates.index(float(best["lr"]))] \
            if float(best["lr"]) in basin.rates else math.nan
        ended = f", where {best['lr']:g} ended at {mine:.4f}" if math.isfinite(mine) else ""
        return (f"{words}, around {basin.best_lr:.3g}, the best final "
                f"{self.monitor} ({basin.best:.4f}){ended}")

    # -- files ---------------------------------------------------------------------------

    def save(self, out: str | os.PathLike, *, format: Format = "csv") -> list[Path]:
        """Write ``records``, ``members``, ``steps`` and ``summary.json`` into ``out``.

        Every file is written into a hidden temporary folder beside ``out`` first and moved
        into place once all are complete, so a killed write leaves ``out`` as it was (and
        the next save removes the temporary folder it left).
        """
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise LrlabError(f"--out {out} is a file; give a directory")
        if format == "parquet":
            _require_parquet()
        summary = {"task": self.task, "monitor": self.monitor, "format": format,  # may fail:
                   "higher_is_better": self.higher_is_better, "verdict": self.verdict(),
                   "epochs": self.epochs, "steps_per_epoch": self.steps_per_epoch,
                   "optimizer": self.optimizer,
                   "chance": None if math.isnan(self.chance) else self.chance,
                   "val_examples": self.val_examples,
                   "noise_examples": (None if math.isnan(self.noise_examples)
                                      else self.noise_examples),
                   "config": self.config,  # before any file is written
                   "summary": json.loads(self.summary().to_json(orient="records")),
                   "sensitivity": json.loads(self.sensitivity().frame().to_json(
                       orient="records"))}
        tables = {"records": self.records, "members": self.members}
        if self.steps is not None:
            tables["steps"] = self.steps
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            for stale in out.parent.glob(f".{out.name}.saving-*"):  # a killed save's
                shutil.rmtree(stale, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.saving-"))
            os.chmod(tmp, 0o777 & ~UMASK)  # mkdtemp makes 0700; give what mkdir would
        except OSError as err:
            raise LrlabError(f"cannot create {out} ({err.strerror}); choose another --out") \
                from None
        try:
            names = [f"{name}.{format}" for name in tables] + ["summary.json"]
            for (name, table), file in zip(tables.items(), names):
                _write(table, tmp / file, format)
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            return _move_into(tmp, out, names)
        except OSError as err:
            raise LrlabError(f"cannot write into {out} ({err.strerror}); it is left as it "
                             "was") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, out: str | os.PathLike) -> SweepResult:
        """Read back what :meth:`save` wrote."""
        out = Path(out)
        meta_path = out / "summary.json"
        if not meta_path.is_file():
            raise LrlabError(f"{out} holds no lrlab records (no summary.json); "
                             "give a directory written by --out")
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict):
            raise LrlabError(f"{meta_path} is not an lrlab summary (a JSON object); "
                             "give a directory written by --out")
        fmt = meta.get("format", "csv")
        read = pd.read_parquet if fmt == "parquet" else pd.read_csv
        steps = out / f"steps.{fmt}"
        records, members = read(out / f"records.{fmt}"), read(out / f"members.{fmt}")
        _check_records(records, members, out / f"records.{fmt}")
        return cls(task=meta["task"], monitor=meta["monitor"],
                   higher_is_better=meta["higher_is_better"], config=meta["config"],
                   records=records, members=members,
                   steps=read(steps) if steps.exists() else None,
                   epochs=int(meta.get("epochs") or 0),
                   steps_per_epoch=int(meta.get("steps_per_epoch") or 0),
                   optimizer=str(meta.get("optimizer") or meta["config"].get("optimizer")
                                 or "sgd"),
                   chance=float(meta.get("chance") if meta.get("chance") is not None
                                else math.nan),
                   val_examples=int(meta.get("val_examples") or 0),
                   noise_examples=float(meta.get("noise_examples")
                                        if meta.get("noise_examples") is not None else math.nan))


def _check_records(records: pd.DataFrame, members: pd.DataFrame, path: Path) -> None:
    """One line unless ``records`` is the tidy table :meth:`SweepResult.save` wrote: its
    columns, numbers where numbers belong, members of the members table, each row once."""
    def bad(what: str) -> LrlabError:
        return LrlabError(f"{path} is not an lrlab records table ({what}); write it again "
                          "with --out")

    missing = [c for c in ("member", "epoch", "split", "metric", "value")
               if c not in records.columns]
    if missing:
        raise bad(f"no {', '.join(missing)} column")
    if records.empty:
        return  # no rows: the reader says so
    for column in ("member", "epoch", "value"):
        if not pd.api.types.is_numeric_dtype(records[column]):
            raise bad(f"its {column} column holds text")
    if "member" not in members.columns:
        raise bad("its members table has no member column")
    unknown = set(records["member"]) - set(members["member"])
    if unknown:
        raise bad(f"member {min(unknown)} is not in the members table")
    if records.duplicated(["member", "epoch", "split", "metric"]).any():
        raise bad("a record appears twice")


def _move_into(tmp: Path, out: Path, names: list[str]) -> list[Path]:
    """The complete files in ``tmp`` moved into ``out`` (renamed whole when ``out`` is new;
    else file by file, each rename atomic), and an earlier run's tables of another format or
    without steps removed; the paths written, ``summary.json`` last."""
    if not out.exists():
        os.replace(tmp, out)
        return [out / n for n in names]
    out.mkdir(exist_ok=True)
    for stale in ("records", "members", "steps"):  # an earlier run's files in this folder
        for fmt in ("csv", "parquet"):
            if f"{stale}.{fmt}" not in names and (out / f"{stale}.{fmt}").exists():
                (out / f"{stale}.{fmt}").unlink()
    for n in names:
        os.replace(tmp / n, out / n)
    return [out / n for n in names]


def last_epochs(diverged_step: np.ndarray, steps_per_epoch: int, epochs: int) -> np.ndarray:
    """The last epoch recorded per member: the one it diverged in, else ``epochs``."""
    diverged_step = np.asarray(diverged_step)
    return np.where(diverged_step >= 0, (diverged_step - 1) // steps_per_epoch + 1, epochs)


def diverged_epochs(diverged_step: np.ndarray, steps_per_epoch: int) -> np.ndarray:
    """The epoch each member diverged in, ``-1`` for those that did not."""
    return last_epochs(diverged_step, steps_per_epoch, -1)


def members_table(members: list[Member], optimizer: str, diverged_step: np.ndarray,
                  diverged_epoch: np.ndarray) -> pd.DataFrame:
    """One row per member: label, rate, rule, seed, schedule, [layer-wise multipliers], the
    rule's hyperparameters as given, and whether, in which epoch and step it diverged
    (``diverged_step``, ``diverged_epoch``: ``-1`` for a member that did not)."""
    diverged_step = np.asarray(diverged_step)
    diverged = diverged_step >= 0
    table = pd.DataFrame({
        "member": np.arange(len(members)),
        "label": [m.name() for m in members],
        "lr": [m.lr for m in members],
        "optimizer": [m.optimizer or optimizer for m in members],
        "seed": [m.seed for m in members],
        "schedule": [m.schedule.text for m in members],
    })
    if any(m.lr_mult for m in members):
        table["lr_mult"] = [mult_label(m.lr_mult) for m in members]
    rules = {name: get_rule(name) for name in dict.fromkeys(table["optimizer"])}
    for rule in rules.values():
        for name in rule.defaults:
            if name not in table:  # as given, not rounded; NaN for a rule without it
                table[name] = [m.hparams.get(name, own.defaults.get(name, math.nan))
                               for m, own in zip(members, (rules[o] for o in table["optimizer"]))]
    table["diverged"] = diverged
    table["diverged_epoch"] = pd.array(np.asarray(diverged_epoch)).astype("Int64")
    table.loc[~diverged, "diverged_epoch"] = pd.NA
    table["diverged_step"] = pd.array(np.where(diverged, diverged_step, -1)).astype("Int64")
    table.loc[~diverged, "diverged_step"] = pd.NA
    return table


def _last(series: pd.Series) -> float:
    values = series.dropna()
    return float(values.iloc[-1]) if len(values) else float("nan")


def _steps_frame(steps: list, steps_per_epoch: int) -> pd.DataFrame | None:
    """Per-step records ``(step, loss, lr, grad_norm)`` as one tidy table (with the epoch)."""
    if not steps:
        return None
    step = np.array([s[0] for s in steps])
    epoch = (step - 1) // steps_per_epoch + 1
    k = steps[0][1].shape[0]
    frames = []
    for i, metric in ((1, "loss"), (2, "lr"), (3, "grad_norm")):
        values = np.stack([s[i].double().cpu().numpy() for s in steps])  # (steps, K)
        frames.append(pd.DataFrame({
            "member": np.tile(np.arange(k), len(steps)), "epoch": np.repeat(epoch, k),
            "step": np.repeat(step, k), "metric": metric, "value": values.reshape(-1)}))
    return pd.concat(frames, ignore_index=True)


def check_writable(out: str | os.PathLike, format: Format = "csv") -> None:
    """Fail before any training if ``out`` cannot become a directory of results."""
    out_dir(out)
    if format == "parquet":
        _require_parquet()


def _require_parquet() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise LrlabError("writing Parquet needs pyarrow: pip install 'lrlab[parquet]', "
                         "or use --format csv") from None


def _write(table: pd.DataFrame, path: Path, format: Format) -> None:
    if format == "parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)
