"""``benchmarks/_common.py``'s machine line: it names the CPU, since records are the same
bits on one CPU and may differ in the last bit on another."""

from __future__ import annotations

import torch


def test_the_machine_line_names_the_cpu_and_its_vector_instructions(bench_import) -> None:
    common = bench_import("_common")
    line = common.machine()
    assert common.cpu() in line
    assert f"({torch.backends.cpu.get_cpu_capability()}" in common.cpu()
    assert f"torch {torch.__version__}" in line
