"""Checkpoints of a fit: resuming from any of them gives the records of a run never
interrupted, bit for bit (the ``time`` record aside); the bytes hold plain values only."""

from __future__ import annotations

import dataclasses
import io
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import no_time, one_line
from torch import nn

from lrlab._errors import LrlabError
from lrlab.train import Checkpoint, EpochReport, fit, validated


def _fit_with_checkpoints(task, every: int, **settings):
    config = validated(**settings)
    taken: list[bytes] = []
    reports: list[EpochReport] = []
    result = fit(task, config.members(), config, callbacks=[reports.append],
                 checkpoint_every=every, on_checkpoint=lambda c: taken.append(c.to_bytes()))
    return config, result, taken, reports


def _assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(no_time(a.records), no_time(b.records), check_exact=True)
    pd.testing.assert_frame_equal(a.members, b.members, check_exact=True)
    if a.steps is None:
        assert b.steps is None
    else:
        pd.testing.assert_frame_equal(a.steps, b.steps, check_exact=True)


def _dropout_task(blobs):
    """blobs with a dropout layer: the resumed run must draw the same masks."""
    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    return dataclasses.replace(blobs, name="blobs-dropout", model=model)


CASES = {
    # a member diverging in epoch 1 (frozen, records stop) beside two that train on
    "adam-diverging": {"lrs": [0.01, 0.001, 50.0], "optimizer": "adam", "epochs": 5},
    # plateau members rewrite their rates after each epoch; per-step records too
    "plateau-steps": {"lrs": [0.5, 0.05], "schedules": ["plateau:patience=0,factor=0.5",
                                                      "step:factor=0.5,every=2"],
                          "epochs": 5, "record_steps": True},
    # distinct seeds: their own weights and example order
    "seeds-momentum": {"lrs": [0.1], "seeds": [0, 1], "optimizer": "momentum", "epochs": 5},
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_from_every_checkpoint_equals_uninterrupted(blobs, case: str) -> None:
    """Resuming from each checkpoint (epochs 2, 4 and the last) ends with the same records,
    members and per-step records as the run that was never stopped."""
    config, full, taken, _ = _fit_with_checkpoints(blobs, 2, **CASES[case])
    epochs = [Checkpoint.from_bytes(b).epoch for b in taken]
    assert epochs == [2, 4, 5]
    for data in taken[:2]:
        resumed = fit(blobs, config.members(), config, resume=Checkpoint.from_bytes(data))
        _assert_same_run(full, resumed)


def test_resume_replays_dropout_masks(blobs) -> None:
    """Random layers draw from the checkpoint's generator state: the same records; without
    that state (a fresh seed) the records after the checkpoint differ."""
    task = _dropout_task(blobs)
    config, full, taken, _ = _fit_with_checkpoints(task, 2, lrs=[0.1, 0.01], epochs=4)
    ckpt = Checkpoint.from_bytes(taken[0])
    _assert_same_run(full, fit(task, config.members(), config, resume=ckpt))
    ckpt.rng["cpu"] = torch.manual_seed(123).get_state()  # another generator state
    other = fit(task, config.members(), config, resume=ckpt)
    late = (full.records["epoch"] > 2) & (full.records["metric"] == "loss")
    assert not np.array_equal(full.records.loc[late, "value"], other.records.loc[late, "value"])


def test_epoch_reports_carry_the_final_records(blobs) -> None:
    """Each report's records are that epoch's rows; together they are the result's rows, in
    order (a diverged member's stop after the epoch it diverged in)."""
    _, result, _, reports = _fit_with_checkpoints(blobs, 10, lrs=[0.1, 50.0], epochs=3,
                                                  record_steps=True)
    assert [r.epoch for r in reports] == [1, 2, 3]
    for r in reports:
        assert set(r.records["epoch"]) == {r.epoch}
    joined = pd.concat([r.records for r in reports], ignore_index=True)
    pd.testing.assert_frame_equal(joined.astype({"split": str, "metric": str}),
                                  result.records.astype({"split": str, "metric": str}),
                                  check_exact=True)
    assert set(joined.loc[joined["member"] == 1, "epoch"]) == {1}  # lr=50 diverged in epoch 1
    assert reports[-1].diverged_step.tolist()[0] == -1 and reports[-1].diverged_step[1] > 0
    steps = pd.concat([r.steps for r in reports], ignore_index=True)
    assert len(steps) == len(result.steps)
    assert set(map(tuple, steps[["member", "step", "metric"]].to_numpy())) == set(
        map(tuple, result.steps[["member", "step", "metric"]].to_numpy()))


def test_checkpoint_cadence_and_none(blobs) -> None:
    """``on_checkpoint`` every N epochs and after the last; only after the last when N is
    None; after its callbacks ran for that epoch."""
    config = validated(lrs=[0.1], epochs=5)
    seen: list[str] = []
    fit(blobs, config.members(), config, callbacks=[lambda r: seen.append(f"epoch{r.epoch}")],
        checkpoint_every=2, on_checkpoint=lambda c: seen.append(f"ckpt{c.epoch}"))
    assert seen == ["epoch1", "epoch2", "ckpt2", "epoch3", "epoch4", "ckpt4", "epoch5", "ckpt5"]
    last: list[int] = []
    fit(blobs, config.members(), config, on_checkpoint=lambda c: last.append(c.epoch))
    assert last == [5]
    with pytest.raises(LrlabError, match="checkpoint_every"):
        fit(blobs, config.members(), config, checkpoint_every=0)


def test_checkpoint_bytes_are_plain_values(blobs) -> None:
    """The bytes load with weights_only=True (no pickled objects), every tensor on the CPU;
    a resumed fit at the last epoch trains nothing and returns the same records."""
    config, full, taken, _ = _fit_with_checkpoints(blobs, 5, lrs=[0.1, 0.01], epochs=2,
                                                   optimizer="adam")
    payload = torch.load(io.BytesIO(taken[-1]), weights_only=True)
    tensors = []

    def walk(v):
        if isinstance(v, torch.Tensor):
            tensors.append(v)
        elif isinstance(v, dict):
            assert all(isinstance(k, str) for k in v)
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        else:
            assert v is None or isinstance(v, (str, int, float, bool)), type(v)
    walk(payload)
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    calls: list[EpochReport] = []
    again = fit(blobs, config.members(), config, callbacks=[calls.append],
                resume=Checkpoint.from_bytes(taken[-1]))
    assert calls == []
    _assert_same_run(full, again)


def test_bad_checkpoints_are_refused(blobs) -> None:
    """Damaged bytes, a pickled object, or a checkpoint of other settings: one LrlabError."""
    _config, _, taken, _ = _fit_with_checkpoints(blobs, 1, lrs=[0.1], epochs=1)
    for bad in (b"", b"not a checkpoint", taken[0][: len(taken[0]) // 2]):
        with pytest.raises(LrlabError, match="checkpoint"):
            Checkpoint.from_bytes(bad)
    buffer = io.BytesIO()
    torch.save({"format": "lrlab-checkpoint", "evil": object()}, buffer, pickle_module=pickle)
    with pytest.raises(LrlabError, match="checkpoint"):
        Checkpoint.from_bytes(buffer.getvalue())
    other = validated(lrs=[0.2], epochs=1)
    with pytest.raises(LrlabError, match="other settings"):
        fit(blobs, other.members(), other, resume=Checkpoint.from_bytes(taken[0]))


def test_a_checkpoint_of_an_older_format_is_refused_in_one_line(blobs) -> None:
    """Version 1 kept the plateau state as private fields: refused, with what to do."""
    config = validated(lrs=[0.1], epochs=1)
    taken: list = []
    fit(blobs, config.members(), config, on_checkpoint=lambda c: taken.append(c.to_bytes()))
    payload = torch.load(io.BytesIO(taken[0]), weights_only=True)
    payload["version"] = 1
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with pytest.raises(LrlabError) as err:
        Checkpoint.from_bytes(buffer.getvalue())
    one_line(err, "older lrlab", "start the run again")


def test_population_state_round_trip(blobs) -> None:
    """``load_state_dict(state_dict())`` on a fresh population: the same parameters, rule
    state, mask and counters, and the same next step."""
    from lrlab.population import Population

    def build():
        return Population([blobs.init_model(0)] * 2, "adam", {"lr": [0.01, 1e4]})
    a = build()
    x, y = blobs.train.x[:50], blobs.train.y[:50]
    for _ in range(3):
        a.step(x, y, blobs.loss)
    b = build()
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.flat, b.flat) and torch.equal(a.alive, b.alive)
    assert a.steps == b.steps and torch.equal(a.diverged_step, b.diverged_step)
    out_a, out_b = a.step(x, y, blobs.loss), b.step(x, y, blobs.loss)
    assert torch.equal(out_a.loss, out_b.loss) and torch.equal(a.flat, b.flat)
    with pytest.raises(LrlabError, match="parameters"):
        Population(blobs.init_model(0), "adam", {"lr": [0.1]}).load_state_dict(a.state_dict())
