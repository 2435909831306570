"""Helpers the tests share: run ``lrlab`` in-process, check one-line errors, compare records
without their wall-clock ``time`` metric, snapshot a folder, write gzipped IDX files,
change a SQLite file behind the store's back, build a run's records by hand.

``tests/`` is on ``sys.path`` (its ``conftest.py`` puts it there), so any test imports these
as ``from helpers import ...``.
"""

from __future__ import annotations

import gzip
import math
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lrlab.cli import main
from lrlab.train import SweepResult


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run ``lrlab argv`` in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code: int, err: str) -> str:
    """Exit code 2, no traceback, exactly one non-empty stderr line starting "error: "."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def one_line(err: pytest.ExceptionInfo[BaseException], *needles: str) -> str:
    """The message of a raised error, checked to be one non-empty line holding every needle."""
    message = str(err.value)
    assert message.strip()
    assert "\n" not in message and "\r" not in message
    for needle in needles:
        assert needle in message, message
    return message


def no_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Records without the ``time`` metric (wall-clock seconds differ between runs), in their
    order, with a fresh index."""
    return frame[frame["metric"] != "time"].reset_index(drop=True)


def no_time_sorted(records: pd.DataFrame) -> pd.DataFrame:
    """Records without the ``time`` metric, split and metric as plain strings, sorted by
    member, epoch, split and metric, with a fresh index."""
    out = records[records["metric"] != "time"].copy()
    out["split"] = out["split"].astype(str)
    out["metric"] = out["metric"].astype(str)
    return out.sort_values(["member", "epoch", "split", "metric"]).reset_index(drop=True)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def idx_gz(array: np.ndarray, *, level: int = 9) -> bytes:
    """A gzipped uint8 IDX file (MNIST's format) holding ``array``: deterministic bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=level, mtime=0)


def sqlite_exec(path: Path, *statements: str) -> Path:
    """Run ``statements`` on the SQLite file ``path`` (created if missing) in one committed
    connection, as another program would; returns ``path``."""
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def made_run(finals: list[tuple[float, int, str, float]], *, monitor: str = "auc",
         diverged: tuple[int, ...] = ()) -> SweepResult:
    """A run built by hand: members ``(lr, seed, schedule, value)``, one epoch each, whose
    validation ``monitor`` is ``value`` (its final and its best)."""
    rows = []
    for k, (_, _, _, value) in enumerate(finals):
        rows += [(k, 1, "val", monitor, value), (k, 1, "train", "loss", 1.0)]
        rows += [(k, 1, "val", "loss", 1.0)] if monitor != "loss" else []
    records = pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])
    members = pd.DataFrame({
        "member": range(len(finals)),
        "label": [f"lr={lr:g} {s} seed={seed}" for lr, seed, s, _ in finals],
        "lr": [f[0] for f in finals], "optimizer": "sgd", "seed": [f[1] for f in finals],
        "schedule": [f[2] for f in finals],
        "diverged": [k in diverged for k in range(len(finals))],
        "diverged_epoch": pd.array([1 if k in diverged else None for k in range(len(finals))],
                                   dtype="Int64")})
    return SweepResult("made", monitor, monitor not in ("loss", "error", "sse"),
                       {"optimizer": "sgd"}, records, members)


def fake_range_tests(monkeypatch, curves, rise=lambda lr: 0.0, jump=lambda lr: False,
                     end=lambda lr: 1.0):
    """Replace the task's range test (``range_test``, ``lrlab find``) by constructed curves,
    one per call: each maps the planned rates to ``(losses, stopped)``, read against the
    loss of blobs' class shares (about ln 3) as the range test reads it. Returns
    blobs (the task the calls are given) and the list of ``(start, end, steps)`` the calls
    asked for.
    A flat curve's stability check trains nothing either: ``rise(lr)`` is how far each rate's
    loss rose (default 0: every rate stable, the curve's reading stands), ``jump(lr)`` whether
    it catapulted (default: none did); nor does an adaptive rule's check against lower rates: every rate
    starts at 2 and ends at ``end(lr)`` (default 1: no lower rate ends lower, the reading
    stands)."""
    from lrlab.search import _task_range, range_rates, rules_for
    from lrlab.search._below import Below
    from lrlab.search._result import RangeTestResult
    from lrlab.search._steady import Steady
    from lrlab.tasks import get_task

    calls = []

    def steady(task, lrs, **_):
        return Steady(tuple(lrs), tuple(rise(lr) for lr in lrs), 100, float(len(lrs)),
                      tuple(jump(lr) for lr in lrs))
    monkeypatch.setattr(_task_range, "steady", steady)

    def below(task, lrs, **_):
        return Below(tuple(lrs), (2.0,) * len(lrs), tuple(end(lr) for lr in lrs), 200,
                    float(len(lrs)))
    monkeypatch.setattr(_task_range, "below", below)

    def once(task, *, end, steps, start, optimizer="sgd", prior=(math.nan, 0), **_):
        calls.append((start, end, steps))
        lrs = range_rates(start, end, steps)
        loss, stopped = curves[len(calls) - 1](lrs)
        return _task_range.against(RangeTestResult.build(
            lrs[: len(loss)], loss, stopped_early=stopped,
            reason="the loss diverged" if stopped else "reached end",
            rules=rules_for(optimizer)), prior)
    monkeypatch.setattr(_task_range, "_once", once)
    return get_task("blobs"), calls


class TanhRNN(nn.Module):
    """A tanh RNN written out (``hidden`` units, PyTorch's default initialisation) over
    one-hot steps of 6 symbols, 3 classes from its last state."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.hidden = hidden
        self.cell = nn.Linear(6 + hidden, hidden)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hidden)
        for t in range(x.shape[1]):
            h = torch.tanh(self.cell(torch.cat([x[:, t], h], -1)))
        return self.head(h)


class HandLSTM(nn.Module):
    """An LSTM cell unrolled by hand (so a population vectorises it; ``hidden`` units, the
    four gates from one ``nn.Linear`` of the input and the state, PyTorch's default
    initialisation) over one-hot steps of 6 symbols, 3 classes from its last state: the
    finder-quality benchmark's unseen ``lstm`` with ``hidden=16``."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Linear(6 + hidden, 4 * hidden)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.hidden)
        c = h
        for t in range(x.shape[1]):
            i, f, g, o = self.gates(torch.cat([x[:, t], h], -1)).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return self.head(h)


def keys_task(hidden: int = 32):
    """Which of 3 keys sat in the first 2 of 8 one-hot steps, learned by :class:`TanhRNN`:
    SGD leaves its loss flat for several epochs, its range test breaks late, and rates near
    the top go unstable only when trained on (a quarter of the break explodes within a
    hundred steps)."""
    from lrlab.tasks import Split, Task

    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 6, size=(2000, 8))
    y = rng.integers(0, 3, size=2000)
    tokens[np.arange(2000), rng.integers(0, 2, size=2000)] = y
    x = torch.as_tensor(np.eye(6, dtype=np.float32)[tokens])
    y = torch.as_tensor(y)
    return Task(name="keys", train=Split(x[:1200], y[:1200]), val=Split(x[1200:], y[1200:]),
                num_classes=3, batch_size=32, epochs=15, model=lambda: TanhRNN(hidden))


class Stream(torch.utils.data.IterableDataset):
    """Examples as they come, with no length (a stream): 5 features, their sum the target."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 5, generator=g)
        self.y = self.x.sum(1, keepdim=True)

    def __iter__(self):
        return iter(zip(self.x, self.y))


def macro_f1(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A user's macro-F1 over the classes on the last axis (a batch's one value)."""
    pred, f = out.argmax(-1), []
    for c in range(out.shape[-1]):
        tp = ((pred == c) & (y == c)).sum().float()
        wrong = ((pred == c) & (y != c)).sum() + ((pred != c) & (y == c)).sum()
        f.append(2 * tp / (2 * tp + wrong).clamp(min=1))
    return torch.stack(f).mean()


def deep_sigmoid_task():
    """Three sigmoid layers of 32 (PyTorch's default initialisation) on 4 tabular classes
    (sklearn's make_classification, standardised; 1000 training, 500 validation rows), 30
    epochs: a network whose units saturate, for the range test's checks."""
    from sklearn.datasets import make_classification

    from lrlab.tasks import Split, Task

    x, y = make_classification(n_samples=1500, n_features=20, n_informative=10, n_classes=4,
                               n_clusters_per_class=2, random_state=0)
    x = torch.as_tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
    y = torch.as_tensor(y)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(20, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(),
                             nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 4))

    return Task(name="sigmoid", train=Split(x[:1000], y[:1000]), val=Split(x[1000:], y[1000:]),
                num_classes=4, batch_size=64, epochs=30, model=model)
