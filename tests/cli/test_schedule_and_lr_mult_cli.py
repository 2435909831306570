"""The command line for schedules and layer-wise rates: ``--schedule``, ``--lr-mult``,
``lrlab schedule``, the full-batch warning, and one ``error:`` line for each bad input
(the same text Python callers get as a ValueError)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import assert_bad_input, one_line, run, snapshot

import lrlab
from lrlab.optim import get_rule, param_groups, parse_lr_mult
from lrlab.schedules import cyclical, exponential, parse_schedule, step_decay
from lrlab.tasks import get_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS_PER_EPOCH = 10  # blobs: 500 training examples in batches of 50


def python_message(call: Callable[[], object]) -> str:
    """The one-line message of the ValueError ``call`` raises."""
    with pytest.raises(ValueError) as err:
        call()
    assert isinstance(err.value, lrlab.LrlabError)
    return one_line(err)


def blobs_model() -> torch.nn.Module:
    return get_task("blobs").model()


# --- commands that work ------------------------------------------------------------------


def test_two_schedules_side_by_side(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--schedule twice: one member per schedule, both named in the table and the files."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--schedule", "constant",
                         "--schedule", "step:factor=0.5,every=2", "--epochs", "3", "-q",
                         "--out", tmp_path / "run")
    assert code == 0, err
    assert "lr=0.1 constant" in out
    assert "lr=0.1 step:factor=0.5,every=2" in out
    assert len([line for line in out.splitlines() if line.startswith("best:")]) == 1
    members = pd.read_csv(tmp_path / "run" / "members.csv")
    assert members["schedule"].tolist() == ["constant", "step:factor=0.5,every=2"]
    records = pd.read_csv(tmp_path / "run" / "records.csv")
    lr = records[(records["metric"] == "lr") & (records["member"] == 1)].sort_values("epoch")
    assert lr["value"].tolist() == pytest.approx([0.1, 0.1, 0.05], rel=1e-6)


def test_lr_mult_variants(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--lr-mult uniform --lr-mult '2.*=10': two members, both named."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.05", "--lr-mult", "uniform",
                         "--lr-mult", "2.*=10", "--epochs", "2", "-q", "--out", tmp_path / "lw")
    assert code == 0, err
    assert "lr=0.05 uniform" in out and "lr=0.05 2.*=10" in out
    members = pd.read_csv(tmp_path / "lw" / "members.csv")
    assert members["lr_mult"].tolist() == ["uniform", "2.*=10"]


def test_lr_mult_with_several_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    """One --lr-mult with two comma-separated pairs is one variant."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.05", "--lr-mult",
                         "0.*=0.1,2.*=10", "--epochs", "1", "-q")
    assert code == 0, err
    assert "best: lr=0.05 " in out


def test_full_batch_rule_warns_once(capsys: pytest.CaptureFixture[str]) -> None:
    """rprop on mini-batches: exactly one "warning:" line about full batches, exit 0."""
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.01", "--optimizer", "rprop",
                         "--epochs", "1", "-q")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("warning:"), err
    assert "full batches" in lines[0]
    assert "Traceback" not in err and "lrlab:" not in err
    assert "best: lr=0.01 " in out


def test_full_batch_rule_on_full_batches_is_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    """rprop with --batch-size of the whole training set: no warning."""
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.01", "--optimizer", "rprop",
                       "--batch-size", "500", "--epochs", "1", "-q")
    assert code == 0, err
    assert err == ""


def test_schedule_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schedule", "list")
    assert code == 0, err
    names = {line.split()[0] for line in out.splitlines() if line and not line[0].isspace()}
    assert {"constant", "step", "exp", "cosine", "cyclic", "onecycle"} <= names


def test_schedule_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    code, stdout, err = run(capsys, "schedule", "plot", "cosine", "--lr0", "0.1", "--epochs",
                            "10", "--out", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert str(out) in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


# --- bad input: one line, and the text Python callers get ---------------------------------


def _sweep(**settings: object) -> Callable[[], object]:
    return lambda: lrlab.sweep("blobs", **{"lrs": [0.1], "epochs": 3, **settings})


def _build(spec: str, epochs: int = 3) -> Callable[[], object]:
    return lambda: parse_schedule(spec).build(0.1, epochs=epochs,
                                              steps_per_epoch=STEPS_PER_EPOCH)


# (argv after "sweep blobs --lrs 0.1 --epochs 3 -q", the Python call with the same bad input)
BAD: dict[str, tuple[list[str], Callable[[], object]]] = {
    "negative k": (["--schedule", "exp:k=-1"], _sweep(schedules=["exp:k=-1"])),
    "nan k": (["--schedule", "exp:k=nan"], _sweep(schedules=["exp:k=nan"])),
    "long warmup": (["--schedule", "cosine:warmup=10"], _sweep(schedules=["cosine:warmup=10"])),
    "cyclic order": (["--schedule", "cyclic:lo=1,half_period=2"],
                     _sweep(schedules=["cyclic:lo=1,half_period=2"])),
    "unknown schedule": (["--schedule", "nope"], _sweep(schedules=["nope"])),
    "unknown key": (["--schedule", "exp:zz=1"], _sweep(schedules=["exp:zz=1"])),
    "unknown rule": (["--optimizer", "nope"], _sweep(optimizer="nope")),
    "unmatched pattern": (["--lr-mult", "head.*=10"], _sweep(lr_mults=[{"head.*": 10.0}])),
    "malformed lr-mult": (["--lr-mult", "head.*"], lambda: parse_lr_mult(["head.*"])),
    "zero multiplier": (["--lr-mult", "2.*=0"], lambda: parse_lr_mult(["2.*=0"])),
}

# the same bad input given to the lower-level factory, where there is one
FACTORY: dict[str, Callable[[], object]] = {
    "long warmup": _build("cosine:warmup=10"),
    # (not cyclical(1, 0.1, ...)'s "hi must be >= lo": the spec has no hi; it names lr0)
    "cyclic order": _build("cyclic:lo=1,half_period=2"),
    "unknown schedule": lambda: parse_schedule("nope"),
    "unknown key": lambda: parse_schedule("exp:zz=1"),
    "unknown rule": lambda: get_rule("nope"),
    "unmatched pattern": lambda: param_groups(blobs_model(), 0.1, {"head.*": 10.0}),
}

WORDS = {
    "negative k": "k must be >= 0", "nan k": "k must be finite",
    "long warmup": "shorter than training", "cyclic order": "lo=1 must be <= lr0",
    "unknown schedule": "unknown schedule 'nope'", "unknown key": "no key 'zz'",
    "unknown rule": "unknown update rule 'nope'",
    # the flag named (was "lr_mult pattern 'head.*' ...", the Python setting's words)
    "unmatched pattern": "--lr-mult pattern 'head.*' matches no",
    "malformed lr-mult": "PATTERN=MULT", "zero multiplier": "positive",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_same_as_python(capsys: pytest.CaptureFixture[str],
                                           case: str) -> None:
    """Exit 2, one "error:" line, no traceback; the text of Python's ValueError, the
    settings it names said as the command's flags."""
    from lrlab.cli import app
    from lrlab.cli._options import error_flags

    argv, call = BAD[case]
    code, out, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "3", "-q", *argv)
    line = assert_bad_input(code, err)
    assert out == ""
    assert WORDS[case] in line
    params = app.commands["sweep"].params
    assert line == "error: " + error_flags(python_message(call), params, argv)
    if case in FACTORY:
        assert line == "error: " + error_flags(python_message(FACTORY[case]), params, argv)


@pytest.mark.parametrize("spec, factory", [
    ("exp:k=-1", lambda: exponential(0.1, k=-1)),
    ("exp:k=nan", lambda: exponential(0.1, k=float("nan"))),
    ("step:every=-1", lambda: step_decay(0.1, factor=0.1, every=-1)),
    ("cyclic:lo=0.01,half_period=1,mode=exp_range,gamma=2",
     lambda: cyclical(0.01, 0.1, half_period=1, mode="exp_range", gamma=2)),
])
def test_bad_schedule_value_names_what_was_written(capsys: pytest.CaptureFixture[str],
                                                   spec: str,
                                                   factory: Callable[[], object]) -> None:
    """The error quotes the spec, then the factory's message for the value as written.

    ``exp:k=-1`` must say ``k must be >= 0, got -1`` like ``exponential(lr0, k=-1)``, not
    the per-step value ``-0.1`` that the spec's k becomes with 10 steps per epoch (likewise
    ``every=-1`` is not ``-10``, and ``gamma=2`` per epoch is not ``2**0.1``).
    """
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "3", "-q",
                       "--schedule", spec)
    line = assert_bad_input(code, err)
    assert line == f"error: {spec}: {python_message(factory)}"


def test_zero_multiplier_is_refused_from_python_too() -> None:
    """lr_mults=[{"2.*": 0}] from Python: a one-line ValueError naming the pattern."""
    message = python_message(_sweep(lr_mults=[{"2.*": 0}]))
    assert "'2.*'" in message and "> 0" in message


def test_failures_leave_previous_out_untouched(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    """After a good run into --out, every failing command leaves it byte for byte."""
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q",
                       "--schedule", "cosine", "--out", out_dir)
    assert code == 0, err
    before = snapshot(out_dir)
    assert {"records.csv", "members.csv", "summary.json"} <= set(before)
    for case, (argv, _) in BAD.items():
        code, _, err = run(capsys, "sweep", "blobs", "--lrs", "0.1", "--epochs", "3", "-q",
                           *argv, "--out", out_dir)
        assert_bad_input(code, err)
        assert snapshot(out_dir) == before, case
