"""What a reproduction trained, kept as files: populations, extra tables, settings.

Layout of ``DIR`` (the ``--out`` folder):

* ``runs/NAME/``: each population, written by :meth:`lrlab.train.SweepResult.save`;
* ``tables/NAME.csv``: every other record (Keras' histories, a range test's curve, ...);
* ``evidence.json``: the experiment, its size, its settings and the names above.

An experiment's verdicts are computed from an :class:`Evidence` alone, so the ones printed
after a run are the ones :func:`lrlab.reproduce.judge` recomputes from the files.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lrlab._errors import LrlabError
from lrlab._io import atomic_write
from lrlab.train import SweepResult

__all__ = ["Evidence"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class Evidence:
    """The records of one reproduction.

    Attributes:
        experiment: the experiment's name.
        size: ``"test"``, ``"reduced"`` or ``"full"``.
        settings: plain data (JSON): the size's knobs and whatever the run decided (a
            range test's readings, the rates it chose).
        runs: the populations trained, by name.
        tables: other tidy records, by name.
    """

    experiment: str
    size: str
    settings: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, SweepResult] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def run(self, name: str) -> SweepResult:
        """The population called ``name``."""
        if name not in self.runs:
            raise LrlabError(f"{self.experiment}: no run {name!r} in the evidence (have: "
                             f"{', '.join(self.runs) or 'none'}); was it written by this "
                             "experiment?")
        return self.runs[name]

    def table(self, name: str) -> pd.DataFrame:
        """The extra table called ``name``."""
        if name not in self.tables:
            raise LrlabError(f"{self.experiment}: no table {name!r} in the evidence (have: "
                             f"{', '.join(self.tables) or 'none'})")
        return self.tables[name]

    def save(self, out: str | os.PathLike) -> list[Path]:
        """Write every run and table into ``out``, then ``evidence.json`` (each file atomically)."""
        out = Path(out)
        for name in (*self.runs, *self.tables):
            if not _NAME.match(name):
                raise LrlabError(f"evidence name {name!r} must be lowercase letters, digits, "
                                 "'-' or '_'")
        written: list[Path] = []
        for name, result in self.runs.items():
            written += result.save(out / "runs" / name)
        if self.tables:
            (out / "tables").mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            written.append(atomic_write(out / "tables" / f"{name}.csv",
                                        lambda p, f=frame: f.to_csv(p, index=False)))
        meta = {"experiment": self.experiment, "size": self.size, "settings": self.settings,
                "runs": list(self.runs), "tables": list(self.tables)}
        text = json.dumps(meta, indent=2, default=_plain) + "\n"
        written.append(atomic_write(out / "evidence.json", lambda p: p.write_text(text)))
        return written

    @classmethod
    def load(cls, out: str | os.PathLike) -> Evidence:
        """Read back what :meth:`save` wrote."""
        out = Path(out)
        path = out / "evidence.json"
        if not path.is_file():
            raise LrlabError(f"{out} holds no reproduction (no evidence.json); give the --out "
                             "folder of an lrlab reproduce run")
        meta = json.loads(path.read_text())
        runs = {name: SweepResult.load(out / "runs" / name) for name in meta["runs"]}
        tables = {name: pd.read_csv(out / "tables" / f"{name}.csv") for name in meta["tables"]}
        return cls(meta["experiment"], meta["size"], meta["settings"], runs, tables)


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and tuples-of-numbers that ``json`` does not know."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to evidence.json")
