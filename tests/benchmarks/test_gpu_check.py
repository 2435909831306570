"""``benchmarks/gpu_check.py`` at tiny size on the CPU: it runs end to end and writes its
table and JSON, with ratios that follow from its own timings; its ResNet-18 is torchvision's."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch


@pytest.fixture
def gpu_check(bench_import):
    return bench_import("gpu_check")


def test_the_check_runs_at_tiny_size_and_reports_what_it_timed(gpu_check, tmp_path: Path):
    assert gpu_check.main(["--out", str(tmp_path), "--tiny", "--no-tests", "--device", "cpu",
                           "--no-profile"]) == 0
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    rows = {(r["workload"], r["k"]): r for r in data["rows"]}
    assert set(rows) == {("mnist-cnn", 1), ("mnist-cnn", 2), ("resnet18", 2)}
    for (_, k), row in rows.items():
        plain = min(t["step_s"] for t in row["plain"])
        pop = min(t["step_s"] for t in row["population"])
        assert plain > 0 and pop > 0
        assert row["cost"] == pytest.approx(pop / plain)
        assert row["throughput"] == pytest.approx(k * plain / pop)
    assert rows[("resnet18", 2)]["population"][0]["path"] == "vmap"
    assert [g["met"] for g in data["goals"]] == [None, None, None]  # no such K at tiny size
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| mnist-cnn | 2 |" in table and "MNIST-shaped synthetic data" in table


def test_the_cuda_tests_run_in_a_subprocess_and_are_logged(gpu_check, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gpu_check, "CUDA_TESTS", ["tests/cuda/test_cli_cuda.py"])
    monkeypatch.setenv("LRLAB_TEST_DEVICE", "cuda")  # skipped here, as on any CPU machine
    result = gpu_check.run_tests(tmp_path, timeout=120)
    assert result["ran"] and result["returncode"] == 0
    assert "skipped" in result["summary"], result
    assert "needs a CUDA device" in (tmp_path / "cuda_tests.txt").read_text() or \
        torch.cuda.is_available()


def test_the_resnet18_has_torchvisions_architecture(gpu_check):
    resnet = sys.modules["_resnet"]
    ours = resnet.ResNet18(10)
    try:
        from torchvision.models import resnet18
    except ImportError:  # torchvision's documented 11,689,512 parameters at 1000 classes
        expected = {"count": 11_689_512 - 1000 * (512 + 1) + 10 * (512 + 1)}
    else:
        theirs = resnet18(num_classes=10)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        expected = {"count": sum(p.numel() for p in theirs.parameters())}
    assert sum(p.numel() for p in ours.parameters()) == expected["count"]
    assert ours(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_a_failed_measurement_is_noted_and_the_run_goes_on(gpu_check, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no kernel image is available\nmore")

    monkeypatch.setattr(gpu_check, "time_population", broken)
    assert gpu_check.main(["--out", str(tmp_path), "--tiny", "--no-tests", "--device", "cpu",
                           "--ks", "1", "--resnet-ks", ""]) == 0
    data = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(r["workload"], r["k"], r["note"]) for r in data["rows"]] == [
        ("mnist-cnn", 1, "failed: RuntimeError: no kernel image is available. ")]
    assert "no kernel image is available" in (tmp_path / "gpu_check.md").read_text()
