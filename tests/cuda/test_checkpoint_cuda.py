"""A checkpoint written on CUDA resumes on the CPU, and the reverse, with the records of a
run never interrupted (float64, to rounding: the two devices' kernels differ in the last bits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import no_time

from lrlab.tasks import get_task
from lrlab.train import Checkpoint, fit, validated

SETTINGS = {"lrs": [0.1, 0.01, 50.0], "optimizer": "adam", "epochs": 3, "dtype": "float64",
            "record_steps": True, "schedules": ["plateau:patience=0,factor=0.5"]}


def _fit(device: str, resume: Checkpoint | None = None):
    config = validated(**SETTINGS, device=device)
    taken: list[bytes] = []
    result = fit(get_task("blobs"), config.members(), config, checkpoint_every=1,
                 on_checkpoint=lambda c: taken.append(c.to_bytes()), resume=resume)
    return result, taken


@pytest.mark.parametrize("direction", ["device-to-cpu", "cpu-to-device"])
def test_a_checkpoint_resumes_on_the_other_device(device, direction):
    here, there = (str(device), "cpu") if direction == "device-to-cpu" else ("cpu", str(device))
    whole, taken = _fit(here)
    resumed, _ = _fit(there, resume=Checkpoint.from_bytes(taken[0]))
    assert resumed.population.flat.device.type == torch.device(there).type
    np.testing.assert_allclose(no_time(resumed.records)["value"], no_time(whole.records)["value"],
                               rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(resumed.steps["value"], whole.steps["value"], rtol=1e-9,
                               atol=1e-11)
    assert resumed.members["diverged_epoch"].tolist() == whole.members["diverged_epoch"].tolist()
