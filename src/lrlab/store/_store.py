"""The store: studies, their members, records and checkpoints in one SQLite database.

A study is one population trained by :func:`lrlab.train.fit`: its task, settings and
members are written when it starts, each epoch's records in one transaction when the epoch
ends (so a crash loses at most the epoch in flight), a checkpoint every few epochs, and its
status when it ends. Every write is a ``BEGIN IMMEDIATE`` transaction in WAL mode, so
several processes can write one database at once: a writer waits for the other's commit
(up to a busy timeout) and readers never block.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lrlab._errors import LrlabError
from lrlab._testing import kill_point
from lrlab.store import _schema
from lrlab.store._schema import BUSY_TIMEOUT, connect
from lrlab.train import Checkpoint

if TYPE_CHECKING:
    from lrlab.tasks import Task
    from lrlab.train import EpochReport, Member, SweepConfig, SweepResult

__all__ = ["DEFAULT_DB", "Store", "StudyInfo"]

#: Where the command line keeps its studies unless ``--db`` (or ``$LRLAB_DB``) says otherwise.
DEFAULT_DB = "lrlab.db"

_STEP_METRICS = ("loss", "lr", "grad_norm")  # the per-step table's order (SweepResult.steps)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _guarded(method):
    """Turn SQLite's errors inside a :class:`Store` method into one :class:`LrlabError` line."""
    @functools.wraps(method)
    def wrapper(self: Store, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as err:
            raise self._error(err) from None
    return wrapper


@dataclass(frozen=True)
class StudyInfo:
    """One study's row: what it trains and how far it got.

    ``parts`` are the populations it trains as, ``(start, stop, fingerprint)`` each: one
    for :func:`lrlab.train.fit`, one per chunk for an executor. ``checkpoint_epoch`` is the
    epoch a resume continues from (every part has a checkpoint there), ``None`` if none.
    ``state`` is ``done``, ``running`` (its process is alive), or ``interrupted`` (its
    process is gone before the end: ``lrlab resume`` continues it).
    """

    name: str
    id: int
    command: str
    task: str
    task_spec: dict[str, Any]
    config: dict[str, Any]
    monitor: str
    higher_is_better: bool
    epochs: int
    steps_per_epoch: int
    parts: list[tuple[int, int, str]]
    status: str
    epochs_done: int
    members: int
    checkpoint_epoch: int | None
    pid: int | None
    host: str | None
    created: str
    updated: str
    chance: float = math.nan
    val_examples: int = 0
    noise_examples: float = math.nan

    @property
    def state(self) -> str:
        if self.status == "done":
            return "done"
        return "running" if _alive(self.pid, self.host) else "interrupted"


@dataclass(frozen=True)
class _Damaged:
    """A study whose row cannot be read, as ``lrlab ls`` lists it."""

    name: str
    command: str
    task: str
    created: str
    members: int = 0
    epochs_done: int = 0
    epochs: int = 0
    state: str = "damaged"
    checkpoint_epoch: int | None = None


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether ``pid`` on ``host`` is a live process other than this one (another host:
    assumed alive, since it cannot be checked from here)."""
    if pid is None or (pid == os.getpid() and host == socket.gethostname()):
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class Store:
    """An lrlab database (SQLite, WAL): studies, members, records and checkpoints.

    Args:
        path: the database file (created with the schema when missing).
        create: create a missing database; ``False`` refuses one (for commands that read).

    Raises:
        LrlabError: the file is not an lrlab database, is damaged, or has a newer schema;
            the file is left exactly as it was.

    Example:
        >>> import tempfile, os
        >>> with Store(os.path.join(tempfile.mkdtemp(), "lrlab.db")) as store:
        ...     len(store.studies())
        0
    """

    def __init__(self, path: str | os.PathLike = DEFAULT_DB, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn = connect(self.path, create=create)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):  # -> Store (typing.Self from Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _error(self, err: sqlite3.Error) -> LrlabError:
        text = " ".join(str(err).split())
        if "locked" in text or "busy" in text:
            return LrlabError(f"{self.path} stayed locked by another process for "
                              f"{BUSY_TIMEOUT:g} s; try again when it is done")
        if "full" in text:
            return LrlabError(f"the disk holding {self.path} is full; free some space (a study "
                              "stays resumable from its last checkpoint: lrlab resume NAME)")
        if "readonly" in text or "read-only" in text:
            return LrlabError(f"cannot write {self.path} (read-only); give another db=PATH")
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return LrlabError(f"{self.path} is damaged ({text}); restore it from a copy or "
                              "give another db=PATH")
        return LrlabError(f"{self.path}: {text}")

    @contextmanager
    def _write(self, kill: str | None = None, epoch: int = 0) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: the write lock up front, so two
        writers queue instead of failing halfway); ``kill`` names its test kill point."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            if kill is not None:
                kill_point(kill, epoch)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # SQLite rolls back itself on a full disk
                self._conn.execute("ROLLBACK")
            raise

    # -- studies -------------------------------------------------------------------------

    @_guarded
    def create_study(self, task: Task, config: SweepConfig, members: list[Member], *,
                     task_spec: dict[str, Any], command: str = "sweep",
                     name: str | None = None, steps_per_epoch: int, epochs: int,
                     parts: Sequence[tuple[int, int, str]] = ()) -> str:
        """Write a new study (status ``running``, owned by this process); its name.

        ``name=None`` picks ``COMMAND-N``, unused. A name already taken is refused.
        ``parts``: the populations it trains as (see :class:`StudyInfo`).
        """
        with self._write() as db:
            name = self._name(db, name, command)
            self._insert(db, name, command=command, task=task.name, monitor=task.monitor,
                         higher_is_better=task.higher_is_better, task_spec=task_spec,
                         config=config, members=members, epochs=epochs,
                         steps_per_epoch=steps_per_epoch, parts=parts)
        return name

    @_guarded
    def add_results(self, results: Sequence[tuple[str, SweepResult]], *, command: str,
                    task_spec: dict[str, Any], name: str | None = None) -> list[str]:
        """Store populations trained elsewhere (a search's stages) as finished studies named
        ``NAME.SUFFIX`` for each ``(suffix, result)``, all in one transaction; their names.

        ``name=None`` picks ``COMMAND-N``, unused. They cannot be resumed (they are done).
        """
        from lrlab.train import SweepConfig

        names = []
        with self._write() as db:
            base = self._name(db, name, command)
            for suffix, result in results:
                config = SweepConfig.model_validate(result.config)
                members = config.members()
                if len(members) != len(result.members):
                    raise LrlabError(f"the {suffix} population has {len(result.members)} "
                                     f"members, its settings {len(members)}; cannot store it")
                study = self._insert(
                    db, self._name(db, f"{base}.{suffix}", command), command=command,
                    task=result.task, monitor=result.monitor,
                    higher_is_better=result.higher_is_better, task_spec=task_spec,
                    config=config, members=members, status="done",
                    epochs=result.epochs, steps_per_epoch=result.steps_per_epoch,
                    chance=result.chance, val_examples=result.val_examples,
                    noise_examples=result.noise_examples)
                done = int(result.records["epoch"].max())
                self._insert_records(db, study, result.records, result.steps)
                self._set_diverged(db, study, _int(result.members["diverged_step"]),
                                   _int(result.members["diverged_epoch"]))
                db.execute("UPDATE studies SET epochs_done = ? WHERE id = ?", (done, study))
                names.append(f"{base}.{suffix}")
        return names

    def _name(self, db: sqlite3.Connection, name: str | None, command: str) -> str:
        """``name`` if it is free, else an error; ``None``: a free ``COMMAND-N``."""
        if name is None:
            n = db.execute("SELECT coalesce(max(id), 0) + 1 FROM studies").fetchone()[0]
            while db.execute("SELECT 1 FROM studies WHERE name = ? OR name LIKE ?",
                             (f"{command}-{n}", f"{command}-{n}.%")).fetchone():
                n += 1
            return f"{command}-{n}"
        if not name.strip() or name != name.strip():
            raise LrlabError(f"study name {name!r} must be non-empty, without surrounding "
                             "spaces")
        if "/" in name or "\\" in name:  # lrlab report reads such a name as a folder
            raise LrlabError(f"study name {name!r} holds a slash, and lrlab report would read "
                             "it as a folder; give a name without one (e.g. "
                             f"{name.replace('/', '-').replace(chr(92), '-')!r})")
        if db.execute("SELECT 1 FROM studies WHERE name = ?", (name,)).fetchone():
            raise LrlabError(f"study {name!r} already exists in {self.path}; choose another "
                             "--study name (lrlab ls lists them)")
        return name

    @staticmethod
    def _insert(db: sqlite3.Connection, name: str, *, command: str, task: str, monitor: str,
                higher_is_better: bool, task_spec: dict[str, Any], config: SweepConfig,
                members: list[Member], epochs: int, steps_per_epoch: int,
                parts: Sequence[tuple[int, int, str]] = (), status: str = "running",
                chance: float = math.nan, val_examples: int = 0,
                noise_examples: float = math.nan) -> int:
        now, running = _now(), status == "running"
        cur = db.execute(
            "INSERT INTO studies (name, command, task, task_spec, config, monitor, "
            "higher_is_better, epochs, steps_per_epoch, parts, status, pid, host, created, "
            "updated, chance, val_examples, noise_examples) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, command, task, json.dumps(task_spec), config.model_dump_json(), monitor,
             int(higher_is_better), epochs, steps_per_epoch, json.dumps([list(p) for p in parts]),
             status,
             os.getpid() if running else None, socket.gethostname() if running else None,
             now, now, None if math.isnan(chance) else float(chance), int(val_examples),
             None if math.isnan(noise_examples) else float(noise_examples)))
        db.executemany("INSERT INTO members (study, member, label, lr, seed, spec) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(cur.lastrowid, k, m.name(), m.lr, m.seed, m.model_dump_json())
                        for k, m in enumerate(members)])
        return cur.lastrowid

    @_guarded
    def info(self, name: str) -> StudyInfo:
        """The study called ``name``, or one :class:`LrlabError` line naming those there are."""
        row = self._conn.execute(
            "SELECT s.name, s.id, command, task, task_spec, config, monitor, higher_is_better,"
            " epochs, steps_per_epoch, parts, status, epochs_done,"
            " (SELECT count(*) FROM members m WHERE m.study = s.id), NULL,"
            " pid, host, created, updated, chance, val_examples, noise_examples FROM studies s"
            " WHERE s.name = ?", (name,)).fetchone()
        if row is None:
            stages = [r[0] for r in self._conn.execute(  # a search's populations: NAME.stage1
                "SELECT name FROM studies WHERE substr(name, 1, ?) = ? ORDER BY id",
                (len(name) + 1, f"{name}."))]
            if stages:
                raise LrlabError(f"{name!r} is a search: each population it trained is a study, "
                                 f"{', '.join(stages)}; give one of them")
            names = [r[0] for r in self._conn.execute(
                "SELECT name FROM studies ORDER BY id DESC LIMIT 5")]
            hint = f"recent: {', '.join(names)}" if names else "it holds no studies yet"
            raise LrlabError(f"no study {name!r} in {self.path} ({hint}); lrlab ls lists them")
        try:
            values = _parse_row(list(row))
        except (ValueError, TypeError, KeyError) as err:  # pydantic's errors are ValueErrors
            raise self._damaged(name, err) from None
        values[14] = self._resume_epoch(self._conn, values[1], values[10], values[12])
        return StudyInfo(*values)

    def _damaged(self, name: str, err: BaseException) -> LrlabError:
        what = " ".join(str(err).split())[:120] or type(err).__name__
        return LrlabError(f"study {name!r} in {self.path} is damaged ({what}); lrlab rm "
                          f"{name} removes it")

    @staticmethod
    def _resume_epoch(db: sqlite3.Connection, study: int, parts: list, done: int) -> int | None:
        """The last epoch, among those committed, at which every part has a checkpoint."""
        need = {f for _, _, f in parts}
        have: dict[int, set[str]] = {}
        for part, epoch in db.execute("SELECT DISTINCT part, epoch FROM checkpoints "
                                      "WHERE study = ? AND epoch <= ?", (study, done)):
            have.setdefault(epoch, set()).add(part)
        full = [e for e, got in have.items() if need and got >= need]
        return max(full) if full else None

    @_guarded
    def studies(self) -> pd.DataFrame:
        """One row per study, oldest first: name, command, task, members, epochs done and
        planned, state (done, running, interrupted), last checkpoint, created."""
        rows = self._conn.execute(
            "SELECT name, command, task, created FROM studies ORDER BY id").fetchall()
        infos = []
        for name, command, task, created in rows:
            try:
                infos.append(self.info(name))
            except LrlabError:  # listed, so that lrlab rm can find it
                infos.append(_Damaged(name, str(command), str(task), str(created)))
        return pd.DataFrame({
            "name": [i.name for i in infos], "command": [i.command for i in infos],
            "task": [i.task for i in infos], "members": [i.members for i in infos],
            "epochs_done": [i.epochs_done for i in infos],
            "epochs": [i.epochs for i in infos], "state": [i.state for i in infos],
            "checkpoint": pd.array([i.checkpoint_epoch for i in infos], dtype="Int64"),
            "created": [i.created for i in infos]})

    # -- a study's life ------------------------------------------------------------------

    @_guarded
    def record_epoch(self, name: str, report: EpochReport) -> None:
        """Commit one epoch: its records (and per-step records), who diverged, how far, and
        (once counted, in the first evaluation) the validation targets' chance level and
        examples."""
        from lrlab.train import diverged_epochs

        info = self.info(name)
        with self._write("commit", report.epoch) as db:
            self._insert_records(db, info.id, report.records, report.steps)
            if report.diverged_step is not None:
                # the fit's own count of steps per epoch: a stream's is known only once its
                # first epoch ended (the study was created with 0)
                epochs = (report.diverged_epoch if report.diverged_epoch is not None
                          else diverged_epochs(report.diverged_step, info.steps_per_epoch))
                self._set_diverged(db, info.id, report.diverged_step, epochs)
            db.execute("UPDATE studies SET epochs_done = ?, updated = ?, chance = coalesce(?, "
                       "chance), val_examples = max(?, val_examples), noise_examples = "
                       "coalesce(?, noise_examples) WHERE id = ?",
                       (report.epoch, _now(),
                        float(report.chance) if math.isfinite(report.chance) else None,
                        int(report.val_examples),
                        (float(report.noise_examples) if math.isfinite(report.noise_examples)
                         else None), info.id))

    @staticmethod
    def _insert_records(db: sqlite3.Connection, study: int, records: pd.DataFrame,
                        steps: pd.DataFrame | None) -> None:
        """Per-epoch rows (``step`` NULL), then per-step rows, in the tables' order."""
        db.executemany(
            "INSERT INTO records (study, member, epoch, split, metric, value) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            zip([study] * len(records), records["member"].tolist(), records["epoch"].tolist(),
                records["split"].astype(str).tolist(), records["metric"].astype(str).tolist(),
                records["value"].tolist()))
        if steps is not None:
            db.executemany(
                "INSERT INTO records (study, member, epoch, step, split, metric, value) "
                "VALUES (?, ?, ?, ?, 'train', ?, ?)",
                zip([study] * len(steps), steps["member"].tolist(), steps["epoch"].tolist(),
                    steps["step"].tolist(), steps["metric"].astype(str).tolist(),
                    steps["value"].tolist()))

    @staticmethod
    def _set_diverged(db: sqlite3.Connection, study: int, steps: np.ndarray,
                      epochs: np.ndarray) -> None:
        db.executemany("UPDATE members SET diverged_step = ?, diverged_epoch = ? "
                       "WHERE study = ? AND member = ?",
                       [(int(s), int(e), study, k) for k, (s, e) in enumerate(zip(steps, epochs))])

    @_guarded
    def save_checkpoint(self, name: str, checkpoint: Checkpoint) -> None:
        """Keep ``checkpoint`` (its part's, at its epoch), and drop those no resume needs
        any more: older than the epoch a resume would now continue from. One transaction."""
        info, data = self.info(name), memoryview(checkpoint.to_bytes())
        key, now, size = (info.id, checkpoint.fingerprint, checkpoint.epoch), _now(), \
            _schema.PIECE_BYTES
        with self._write("checkpoint", checkpoint.epoch) as db:
            db.execute("DELETE FROM checkpoints WHERE study = ? AND part = ? AND epoch = ?", key)
            db.executemany("INSERT INTO checkpoints (study, part, epoch, piece, created, data) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           ((*key, piece, now, data[start:start + size]) for piece, start
                            in enumerate(range(0, max(len(data), 1), size))))
            keep = self._resume_epoch(db, info.id, info.parts, info.epochs_done)
            if keep is not None:
                db.execute("DELETE FROM checkpoints WHERE study = ? AND epoch < ?",
                           (info.id, keep))

    @_guarded
    def checkpoints(self, name: str) -> list[Checkpoint]:
        """The checkpoints a resume continues from, one per part, all at
        ``info(name).checkpoint_epoch`` and read with ``weights_only=True``; ``[]`` if none."""
        info = self.info(name)
        if info.checkpoint_epoch is None:
            return []
        pieces: dict[str, list[bytes]] = {}
        for part, data in self._conn.execute(
                "SELECT part, data FROM checkpoints WHERE study = ? AND epoch = ? "
                "ORDER BY part, piece", (info.id, info.checkpoint_epoch)):
            pieces.setdefault(part, []).append(data)
        return [Checkpoint.from_bytes(b"".join(pieces[f])) for f in dict.fromkeys(
            f for _, _, f in info.parts)]

    @_guarded
    def claim(self, name: str, *, force: bool = False) -> int:
        """Take an interrupted study over to resume it from its checkpoints: drop every
        record and checkpoint after their epoch, forget divergence detected after it (the
        resumed run detects it again, the same). Returns that epoch (0: from the start).

        Raises:
            LrlabError: the study is done, or another live process is training it.
        """
        info = self.info(name)
        if info.status == "done":
            raise LrlabError(f"study {name!r} is done; nothing to resume (lrlab show {name})")
        if not force and info.state == "running":
            where = f"pid {info.pid}" + ("" if info.host == socket.gethostname()
                                         else f" on {info.host}")
            raise LrlabError(f"study {name!r} is still being trained ({where}); wait for it, "
                             "or stop it first (--force if that process is gone)")
        epoch = info.checkpoint_epoch or 0
        with self._write() as db:  # BEGIN IMMEDIATE: no other writer between check and claim
            now = db.execute("SELECT pid, host, status FROM studies WHERE id = ?",
                             (info.id,)).fetchone()
            if tuple(now) != (info.pid, info.host, info.status):
                raise LrlabError(f"study {name!r} was just taken over by another process "
                                 f"(pid {now[0]}); check with lrlab show {name}")
            db.execute("DELETE FROM records WHERE study = ? AND epoch > ?", (info.id, epoch))
            db.execute("DELETE FROM checkpoints WHERE study = ? AND epoch != ?", (info.id, epoch))
            db.execute("UPDATE members SET diverged_step = -1, diverged_epoch = -1 "
                       "WHERE study = ? AND diverged_epoch > ?", (info.id, epoch))
            db.execute("UPDATE studies SET epochs_done = ?, pid = ?, host = ?, updated = ? "
                       "WHERE id = ?", (epoch, os.getpid(), socket.gethostname(), _now(),
                                        info.id))
        return epoch

    @_guarded
    def finish(self, name: str, result: SweepResult) -> None:
        """Mark the study done, with each member's divergence as the result has it."""
        study = self.info(name).id
        with self._write() as db:
            self._set_diverged(db, study, _int(result.members["diverged_step"]),
                               _int(result.members["diverged_epoch"]))
            db.execute("UPDATE studies SET status = 'done', pid = NULL, updated = ? "
                       "WHERE id = ?", (_now(), study))

    @_guarded
    def remove(self, name: str) -> None:
        """Delete the study ``name`` with its members, records and checkpoints (one
        transaction).

        Raises:
            LrlabError: no such study, or another live process is training it.
        """
        row = self._conn.execute("SELECT id, status, pid, host FROM studies WHERE name = ?",
                                 (name,)).fetchone()
        if row is None:
            self.info(name)  # the one line naming the studies there are
        study, status, pid, host = row
        if status != "done" and _alive(pid, host):
            raise LrlabError(f"study {name!r} is still being trained (pid {pid}); stop it "
                             "first")
        with self._write() as db:
            db.execute("DELETE FROM studies WHERE id = ?", (study,))

    # -- reading back --------------------------------------------------------------------

    @_guarded
    def members(self, name: str) -> list[Member]:
        """The study's members, in order, with every hyperparameter they were given."""
        from lrlab.train import Member

        rows = self._conn.execute("SELECT spec FROM members WHERE study = ? ORDER BY member",
                                  (self.info(name).id,)).fetchall()
        try:
            return [Member.model_validate_json(r[0]) for r in rows]
        except ValueError as err:  # pydantic's ValidationError, a hand-edited member
            raise self._damaged(name, err) from None

    @_guarded
    def result(self, name: str) -> SweepResult:
        """The study's records so far as a :class:`~lrlab.train.SweepResult` (the same
        tables :func:`lrlab.train.fit` returned, or would have, for the epochs done)."""
        from lrlab.train import SweepResult, members_table

        info = self.info(name)
        try:
            diverged = np.array(self._conn.execute(
                "SELECT diverged_step, diverged_epoch FROM members WHERE study = ? ORDER BY "
                "member", (info.id,)).fetchall(), dtype=np.int64).reshape(-1, 2)
        except (ValueError, TypeError) as err:
            raise self._damaged(name, err) from None
        table = members_table(self.members(name), info.config.get("optimizer", "sgd"),
                              diverged[:, 0],
                              diverged[:, 1])
        rows = self._conn.execute(
            "SELECT member, epoch, split, metric, value FROM records WHERE study = ? AND step "
            "IS NULL ORDER BY rowid", (info.id,)).fetchall()
        try:
            records, steps = _records_frame(rows, len(table)), self._steps(info.id)
        except (ValueError, TypeError) as err:
            raise self._damaged(name, err) from None
        return SweepResult(task=info.task, monitor=info.monitor,
                           higher_is_better=info.higher_is_better, config=info.config,
                           records=records, members=table, steps=steps, epochs=info.epochs,
                           steps_per_epoch=info.steps_per_epoch,
                           optimizer=info.config.get("optimizer", "sgd"),
                           chance=info.chance, val_examples=info.val_examples,
                           noise_examples=info.noise_examples)

    def _steps(self, study: int) -> pd.DataFrame | None:
        rows = self._conn.execute(
            "SELECT member, epoch, step, metric, value FROM records WHERE study = ? AND step "
            "IS NOT NULL ORDER BY rowid", (study,)).fetchall()
        if not rows:
            return None
        member, epoch, step, metric, value = zip(*rows)
        frame = pd.DataFrame({"member": np.array(member, dtype=np.int64),
                              "epoch": np.array(epoch, dtype=np.int64),
                              "step": np.array(step, dtype=np.int64), "metric": list(metric),
                              "value": np.array(value, dtype=np.float64)})
        rank = frame["metric"].map({m: i for i, m in enumerate(_STEP_METRICS)})
        order = np.lexsort((frame["member"], frame["step"], rank))
        return frame.iloc[order].reset_index(drop=True)


def _parse_row(values: list) -> list:
    """A ``studies`` row as :class:`StudyInfo`'s fields; ``ValueError`` or ``TypeError``
    when a hand edit or damage left something this code cannot read."""
    from lrlab.train import SweepConfig

    values[4], values[5] = json.loads(values[4]), json.loads(values[5])
    if not isinstance(values[4], dict):
        raise TypeError("its task settings are not a JSON object")
    SweepConfig.model_validate(values[5])  # the settings must still be settings
    values[7] = bool(values[7])
    values[10] = [(int(a), int(b), str(f)) for a, b, f in json.loads(values[10])]
    values[19] = math.nan if values[19] is None else float(values[19])  # chance
    values[21] = math.nan if values[21] is None else float(values[21])  # noise examples
    for i in (8, 9, 12, 20):  # epochs, steps per epoch, epochs done, validation examples
        if not isinstance(values[i], int) or isinstance(values[i], bool) or values[i] < 0:
            raise ValueError(f"a count is {values[i]!r}")
    return values


def _int(column: pd.Series) -> np.ndarray:
    """An ``Int64`` column with ``<NA>`` as ``-1``."""
    return column.fillna(-1).astype(np.int64).to_numpy()


def _records_frame(rows: list[tuple], members: int) -> pd.DataFrame:
    """Stored per-epoch rows as the tidy table, with :func:`lrlab.train.fit`'s dtypes
    (``ValueError`` for a value that is not a number or a member that is not the study's)."""
    member, epoch, split, metric, value = zip(*rows) if rows else ((),) * 5
    if any(isinstance(v, (str, bytes)) for v in value):
        raise ValueError("a record's value is text, not a number")
    if any(not isinstance(m, int) or not 0 <= m < members for m in member):
        raise ValueError("a record belongs to no member of the study")
    return pd.DataFrame({"member": np.array(member, dtype=np.int64),
                         "epoch": np.array(epoch, dtype=np.int64),
                         "split": pd.Categorical(list(split)),
                         "metric": pd.Categorical(list(metric)),
                         "value": np.array(value, dtype=np.float64)})  # NULL (NaN) -> nan
