"""``lrlab sweep --device cuda`` from the command line (a subprocess, as a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _sweep(device: str, out: Path) -> pd.DataFrame:
    argv = [sys.executable, "-m", "lrlab", "sweep", "blobs", "--lrs", "0.1,0.01", "--epochs",
            "3", "--dtype", "float64", "--device", device, "-q", "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy(),
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    records = pd.read_csv(out / "records.csv")
    return records[records["metric"] != "time"].reset_index(drop=True)


def test_sweep_with_device_cuda_from_the_cli(device, tmp_path):
    on_device = _sweep(str(device), tmp_path / "device")
    on_cpu = _sweep("cpu", tmp_path / "cpu")
    assert on_device[["member", "epoch", "metric"]].equals(on_cpu[["member", "epoch", "metric"]])
    np.testing.assert_allclose(on_device["value"], on_cpu["value"], rtol=1e-9, atol=1e-11)
