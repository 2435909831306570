"""The same seed gives the same records: lrlab's entry points on a loader task whose dataset
augments from torch's, Python's and NumPy's global random states (a contrastive encoder under
its own InfoNCE loss, as a new user writes one) give identical results twice in one process
with those states disturbed in between, and once more in a fresh interpreter (another
``PYTHONHASHSEED``, so no set or dict order of strings may matter either)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

import lrlab
from lrlab.search import model_loss
from lrlab.train import validated


class _Views(Dataset):
    """Two noisy views of each of 64 fixed points, the noise drawn from all three global
    random states (torch's in a transform, NumPy's and Python's in a user's own code)."""

    def __init__(self, seed: int) -> None:
        self.x = torch.randn(64, 8, generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.x)

    def _view(self, v: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(8) + torch.from_numpy(np.random.randn(8)).float()
        return v + 0.3 * noise * random.random()

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._view(self.x[i]), self._view(self.x[i])


def _infonce(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    a, b = batch
    logits = F.normalize(model(a), dim=-1) @ F.normalize(model(b), dim=-1).T / 0.2
    return F.cross_entropy(logits, torch.arange(len(a)))


def _task() -> lrlab.Task:
    return lrlab.Task.from_loaders(
        lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8)),
        DataLoader(_Views(0), batch_size=16, shuffle=True),
        DataLoader(_Views(1), batch_size=32), loss=model_loss(_infonce), epochs=2,
        name="views")


def _text(frame: pd.DataFrame) -> str:
    keep = frame[frame["metric"] != "time"] if "metric" in frame else frame
    return keep.drop(columns=[c for c in keep if "time" in str(c) or "second" in str(c)]) \
        .to_csv(float_format="%.17g")


def records() -> dict[str, str]:
    """What each entry point returned, as text to compare bit for bit (and the untrained
    model's losses ``auto`` reads its races' stability against, which its result does not
    show)."""
    from lrlab.search._auto import _start_loss

    auto = lrlab.search.auto(_task(), seed=1, candidates=3, refine=False, check=False)
    test = lrlab.search.range_test(_task(), seed=1, steps=20, validate=False)
    model, loader = _task().init_model(2), DataLoader(_Views(0), batch_size=16, shuffle=True)
    own = lrlab.search.find_lr(model, model_loss(_infonce), loader, steps=12, seeds=2)
    swept = lrlab.sweep(_task(), lrs=[0.03, 0.3], seeds=[1], epochs=2)
    return {"auto": f"{auto.lr!r} {auto.explanation}\n{_text(auto.scores)}",
            "auto's untrained losses": repr(_start_loss(_task(), 1)),
            "range_test": f"{test.suggestion.lr!r} {test.losses.tolist()}",
            "find_lr": f"{own.suggestion.lr!r} {own.losses.tolist()}",
            "sweep": _text(swept.records)}


def _disturb(n: int) -> None:
    """Draw ``n`` values from each global random state (what a user's earlier code did)."""
    torch.rand(n)
    np.random.rand(n)
    for _ in range(n):
        random.random()


def _states() -> tuple:
    return torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tobytes()


def test_the_same_seed_gives_the_same_records_whatever_was_drawn_before():
    _disturb(3)
    before = _states()
    first = records()
    after = _states()  # the caller's random states are left as they were
    assert torch.equal(after[0], before[0]) and after[1:] == before[1:]
    _disturb(11)
    again = records()
    for name, text in first.items():
        assert again[name] == text, name
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          str(Path(lrlab.__file__).parents[1])])}
    code = ("import json, torch; torch.set_num_threads(1); import test_determinism as t; "
            "print(json.dumps(t.records()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    for name, text in first.items():
        assert fresh[name] == text, name


def test_a_resumed_fit_draws_on_as_the_unbroken_one():
    """The checkpoint keeps Python's and NumPy's states too: a fit resumed after epoch 1 of
    the views (drawn from all three) records what the unbroken fit records."""
    config = validated(lrs=[0.1, 0.3], epochs=3)
    task = _task().replace(epochs=3)
    whole = lrlab.fit(task, config.members(), config)
    saved = []
    lrlab.fit(task, config.members(), config, checkpoint_every=1, on_checkpoint=saved.append)
    _disturb(5)
    resumed = lrlab.fit(task, config.members(), config, resume=saved[0])
    assert _text(resumed.records) == _text(whole.records)
