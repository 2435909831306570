"""``lrlab find``: the range test on a task from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import fake_range_tests

from lrlab.cli import main
from lrlab.cli._options import FIND_RERUN, as_flags


def test_find_prints_every_reading_and_writes_the_curve(tmp_path, capsys):
    """Every reading gets a row, a suggested rate is named, --out holds curve and readings."""
    assert main(["find", "blobs", "--steps", "40", "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    for name in ("min_lr", "max_lr", "recommended", "suggestion", "valley", "steepest",
                 "min_div10"):
        assert name in out
    assert "suggested rate:" in out
    readings = json.loads((tmp_path / "f" / "readings.json").read_text())
    assert set(readings) >= {"min_lr", "max_lr", "suggestion", "valley"}
    assert (tmp_path / "f" / "curve.csv").read_text().count("\n") == 41


def test_find_trains_with_the_rule_and_hyperparameters_given(tmp_path):
    """A ViT trained with AdamW, a ResNet with SGD momentum and weight decay: the test runs
    with that rule (once only sgd, momentum at its default, and adam, with no hyperparameters)
    and reads what the library's range test reads."""
    from lrlab.search import range_test
    from lrlab.tasks import get_task

    assert main(["find", "blobs", "--steps", "30", "--optimizer", "adamw", "--weight-decay",
                 "0.1", "--hp", "beta2=0.99", "--out", str(tmp_path / "f")]) == 0
    settings = json.loads((tmp_path / "f" / "range_test.json").read_text())
    assert settings["optimizer"] == "adamw"
    assert settings["hparams"] == {"weight_decay": 0.1, "beta2": 0.99}
    assert settings["to_try"] == []  # blobs trains 200 steps: the suggestion stands alone
    ref = range_test(get_task("blobs"), optimizer="adamw", steps=30, extend=True,
                     hparams={"weight_decay": 0.1, "beta2": 0.99})
    readings = json.loads((tmp_path / "f" / "readings.json").read_text())
    assert readings["suggestion"]["why"] == ref.suggestion.why
    assert readings["suggestion"]["lr"] == pytest.approx(ref.suggestion.lr, rel=1e-12)


@pytest.mark.parametrize("args", [
    ["find", "blobs", "--optimizer", "sgd", "--momentum", "0.9"],
    ["find", "blobs", "--hp", "beta2"],
    ["find", "blobs", "--start", "10", "--end", "1"],
    ["find", "blobs", "--steps", "5"],
    ["find", "blobs", "--seeds", "0,x"],
    ["find", "blobs", "--seeds", "0,-1"],
    ["find", "blobs", "--seeds", "0,0"],            # as sweep: one seed's tests alike (ran)
    ["find", "nope"],
    ["find"],
    ["find", "blobs", "--optimizer", "prodigy"],   # its lr is a multiplier, not a rate
    ["auto", "blobs", "--optimizer", "dadapt_adam"],
    ["find", "blobs", "--device", "cuda:99"],      # no such device here
    ["find", "blobs", "--device", "tpu9"],
    ["find", "blobs", "--clip-grad-norm", "0"],
    ["find", "blobs", "--clip-grad-norm", "inf"],
    ["find", "blobs", "--monitor", "mae"],         # blobs records no such metric
])
def test_find_bad_input_is_one_line_and_exit_2(args, capsys):
    """Bad ranges, too few steps, no or unknown task: one error line, exit code 2."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_a_flat_test_that_never_diverged_runs_again_further(tmp_path, capsys):
    """1e-9..1e-6 teaches blobs nothing: find says so, runs again up to 1e-3, warns on
    stdout and in the saved settings."""
    assert main(["find", "blobs", "--start", "1e-9", "--end", "1e-6", "--steps", "30",
                 "--out", str(tmp_path / "f")]) == 0
    captured = capsys.readouterr()
    assert "no descent up to 1e-06: ran the test again up to 0.001" in captured.err
    settings = json.loads((tmp_path / "f" / "range_test.json").read_text())
    curve = (tmp_path / "f" / "curve.csv").read_text().splitlines()
    assert float(curve[-1].split(",")[1]) > 1e-6  # the rates went past the first end
    lines = " ".join(captured.out.split())
    assert ("suggested rate:" in lines) or ("no rate: " in lines and "--end " in lines)
    for warning in settings["warnings"]:  # range_test.json keeps the library's words
        assert f"warning: {as_flags(warning, FIND_RERUN)}" in lines
    # -q, as auto's: no notes on stderr (the looks stay in range_test.json), stdout the same
    assert main(["find", "blobs", "--start", "1e-9", "--end", "1e-6", "--steps", "30",
                 "-q"]) == 0
    quiet = capsys.readouterr()
    assert not quiet.err and quiet.out == captured.out


def test_find_help_says_its_monitor_ranks_nothing_the_test_reads(capsys):
    """find's --monitor chooses the rates to try (and an adaptive rule's readings), never what
    the test reads: its help says so, not sweep's 'the metric that ranks the rates'."""
    assert main(["find", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "The test reads the training loss whatever it is" in text
    assert "the validation metric that ranks the rates" not in text


def test_find_monitor_is_the_metric_the_rates_are_ranked_by(tmp_path, capsys):
    """``--monitor loss`` ranks blobs (a classifier) by its loss: find then names the three
    rates a task ranked by its loss needs (before: no --monitor; blobs' AUC named none)."""
    assert main(["find", "blobs", "--steps", "40", "--monitor", "loss", "--out",
                 str(tmp_path / "f")]) == 0
    settings = json.loads((tmp_path / "f" / "range_test.json").read_text())
    assert "ranked_by_loss" in settings["warning_kinds"] and len(settings["to_try"]) == 3
    assert main(["find", "blobs", "--steps", "40", "--out", str(tmp_path / "g")]) == 0
    plain = json.loads((tmp_path / "g" / "range_test.json").read_text())
    assert "ranked_by_loss" not in plain["warning_kinds"] and plain["to_try"] == []
    capsys.readouterr()


def test_find_seeds_are_listed_as_for_sweep(capsys):
    """``--seeds 0,1`` runs those seeds; a lone count (find's old meaning) still runs that
    many, with a one-line note saying how to write it."""
    assert main(["find", "blobs", "--seeds", "0,1"]) == 0  # 100 steps: a clear curve
    out, err = capsys.readouterr()
    assert "median of 2 runs" in out and not err
    assert main(["find", "blobs", "--seeds", "3"]) == 0
    out, err = capsys.readouterr()
    assert "median of 3 runs" in out
    assert err.startswith("note: --seeds lists the seeds") and err.count("\n") == 1


def test_find_names_its_margin_and_which_rate_is_which(capsys):
    """The last line gives the suggestion, its margin below where the loss turns up (the
    factor is the ratio of the two rates printed), and names the table's 'recommended' as
    Smith's reading, a different rule."""
    import re

    assert main(["find", "blobs"]) == 0
    lines = " ".join(capsys.readouterr().out.split())
    m = re.search(r"suggested rate: ([0-9.e-]+), ([0-9.]+)x below where the loss turns up "
                  r"\(([0-9.e-]+)\)", lines)
    assert m, lines[-400:]
    rate, factor, room = (float(g) for g in m.groups())
    assert factor >= 3 and factor == pytest.approx(room / rate, rel=0.02)
    assert "'recommended'" in lines and "Smith's reading" in lines


def _said(capsys) -> tuple[str, str]:
    captured = capsys.readouterr()
    return " ".join(captured.out.split()), " ".join(captured.err.split())


def test_find_never_gives_advice_that_cannot_help(monkeypatch, capsys):
    """A new user's flat curves: whatever find prints as the next step must be able to
    help there. A flat curve that broke is never told to widen its range; Smith's four
    unreadable rows say their reason once."""
    def flat_then_break(lrs):  # a GRU's shape: flat to 2 at any density, then up
        u = np.log10(lrs)
        wiggle = 0.01 * (-1.0) ** np.arange(len(lrs))
        return 1.0 + wiggle + np.where(u > 0.3, 5 * (u - 0.3), 0), False

    fake_range_tests(monkeypatch, [flat_then_break, flat_then_break])
    assert main(["find", "blobs"]) == 0
    out, err = _said(capsys)
    assert "ran a second test of 200 steps" in err
    assert "widen" not in out and "add steps" not in out and "start lower" not in out
    assert "suggested rate:" in out and "shows no clear descent below" in out
    # the no-clear-descent line and the plateau line each said to train rates below the
    # break: said once, as the plateau line says it (from two seeds, or an adaptive rule)
    assert "shows no clear descent below" in out and "train a few rates below it" not in out
    assert out.count("next: train the rates below the break from two seeds") == 1
    assert out.count("as above") == 3  # max_lr, recommended, cycle_lower repeat min_lr's why


def test_find_says_it_checked_a_flat_reading_by_training(monkeypatch, capsys, tmp_path):
    """A flat curve's reading that rose when trained: find names the check among its looks
    (stderr and range_test.json), suggests the stable rate below and warns why."""
    def flat_then_break(lrs):
        u = np.log10(lrs)
        return 1.0 + 0.01 * (-1.0) ** np.arange(len(lrs)) + np.where(u > 0.3, 5 * (u - 0.3), 0), False

    fake_range_tests(monkeypatch, [flat_then_break, flat_then_break],
                     rise=lambda lr: 0.2 if lr > 0.2 else 0.0)
    assert main(["find", "blobs", "--out", str(tmp_path)]) == 0
    out, err = _said(capsys)
    assert "checked the flat curve's reading by training for 100 steps" in err
    assert "rose 20% (unstable)" in err and "never rose (stable)" in err
    looks = json.loads((tmp_path / "range_test.json").read_text())["looks"]
    assert looks[-1].startswith("checked the flat curve's reading")
    assert "warning: the flat curve's reading" in out and "was unstable when trained" in out
    fake_range_tests(monkeypatch, [flat_then_break, flat_then_break], jump=lambda lr: True)
    assert main(["find", "blobs"]) == 0  # a reading that catapulted: raised, and said so
    out, err = _said(capsys)
    assert "never rose, catapulted (stable)" in err and "catapulted when trained" in out


def test_find_says_it_trained_an_adam_reading_against_lower_rates(monkeypatch, capsys,
                                                                  tmp_path):
    """With Adam, find names the check against lower rates among its looks (stderr and range_test.json) and,
    when a rate half a decade lower ended lower, suggests it and says why."""
    def valley(lrs):  # falls from 0.05 to 0.5, turns up after 1
        u = np.log10(lrs)
        return (1.0 - 0.5 * np.clip((u + 1.3) / 1.0, 0, 1) + np.where(u > 0, 4 * u ** 2, 0)
                + 0.01 * (-1.0) ** np.arange(len(lrs))), False

    fake_range_tests(monkeypatch, [valley])
    assert main(["find", "blobs", "--optimizer", "adam", "--out", str(tmp_path)]) == 0
    out, err = _said(capsys)
    assert "trained the reading against lower rates for 200 steps" in err
    assert ("no lower rate ended lower by more than 5% of the loss they started from, the "
            "reading stands") in err
    looks = json.loads((tmp_path / "range_test.json").read_text())["looks"]
    assert looks[-1].startswith("trained the reading against lower rates")
    reading = json.loads((tmp_path / "readings.json").read_text())["suggestion"]["lr"]
    fake_range_tests(monkeypatch, [valley], end=lambda lr: 0.5 if lr < reading / 2 else 1.0)
    assert main(["find", "blobs", "--optimizer", "adam"]) == 0
    out, err = _said(capsys)
    assert f"a lower rate trained faster, read {reading / 10 ** 0.5:.3g}" in err
    assert "a lower rate trained faster, so the reading is past the fastest rate" in out


def test_find_reruns_a_test_that_diverged_at_once_lower(tmp_path, capsys):
    """Started above where blobs blows up: find runs the test again from a thousandth of
    the start, says so, and reads that curve (never 'add steps': steps were not the problem)."""
    assert main(["find", "blobs", "--start", "5", "--end", "100", "--out", str(tmp_path),
                 "--report", str(tmp_path / "r.html")]) == 0
    out, err = _said(capsys)
    assert "the loss diverged at once (2 steps, at 5.15): ran the test again" in err
    looks = json.loads((tmp_path / "range_test.json").read_text())["looks"]
    assert len(looks) == 1 and looks[0].startswith("the loss diverged at once")
    assert "looked again" in (tmp_path / "r.html").read_text()  # the report says so too
    assert "rate 0.005 to" in out and "add steps" not in out and "widen" not in out
    assert "suggested rate:" in out


def test_find_with_few_steps_asks_for_more(capsys):
    """10 steps over 8 decades show no descent: the advice is more steps, never a wider range."""
    assert main(["find", "blobs", "--steps", "10"]) == 0
    out, _ = _said(capsys)
    assert "10 steps are too few to show a descent: run more (--steps 100)" in out
    assert "widen" not in out


def test_find_warns_when_its_evidence_is_weak(monkeypatch, capsys, tmp_path):
    """A loss that fell, rose above its start and fell again later (a network that learns
    suddenly after many steps) is read below the rise, and says so; a shallow descent
    (a few noise units) warns that the rate is placed roughly. Both point to lrlab auto."""
    rng = np.random.default_rng(5)

    def late(lrs):  # clear fall by 0.1, up above the start at 0.3-1, to zero at 3-10
        u = np.log10(lrs)
        curve = 1.0 - 0.5 * np.clip(u + 2, 0, 1)
        curve = np.where(u > -0.8, 0.5 + np.clip((u + 0.8) / 0.3, 0, 1), curve)
        curve = np.where(u > 0.3, 1.5 * (1 - np.clip((u - 0.3) / 0.6, 0, 1)), curve)
        return curve + 0.01 * rng.standard_normal(len(lrs)), False

    fake_range_tests(monkeypatch, [late])
    assert main(["find", "blobs", "--out", str(tmp_path / "late")]) == 0
    out, _ = _said(capsys)
    assert "warning: the loss rose above its starting level at" in out
    saved = json.loads((tmp_path / "late" / "range_test.json").read_text())
    kinds = dict(zip(saved["warnings"], saved["warning_kinds"], strict=True))
    assert [kinds[w] for w in saved["warnings"] if w.startswith("the loss rose")] == ["early_rise"]
    rate = float(out.split("suggested rate: ")[1].split()[0].rstrip(","))
    assert 1e-3 < rate < 0.1 and "run lrlab auto" in out and "end higher" not in out

    def shallow(lrs):  # a valley about four noise units deep, then up
        u = np.log10(lrs)
        shape = 1.0 - 0.03 * np.clip(u + 3, 0, 1) + np.where(u > -1, 6 * (u + 1) ** 2, 0)
        return shape + 0.01 * np.random.default_rng(1).standard_normal(len(lrs)), False

    fake_range_tests(monkeypatch, [shallow])
    assert main(["find", "blobs"]) == 0
    out, _ = _said(capsys)
    assert "suggested rate:" in out and "warning: a shallow descent for its noise: the loss fell by" in out
    assert "too little to place a rate firmly" in out and "(lrlab auto)" in out


def test_find_on_a_subset_warns_by_the_full_trainings_length(capsys):
    """``--subset`` is the test's data, not the training's: digits on 100 examples is no
    short training (it trains 30 epochs of its 1078: 1020 steps); before, it warned of 'a
    short training (120 optimizer steps)'."""
    assert main(["find", "digits", "--subset", "100", "--steps", "40"]) == 0
    out = capsys.readouterr().out
    assert "suggested rate:" in out and "short training" not in out


def test_find_clips_and_accumulates_as_asked_and_says_so(tmp_path, monkeypatch):
    """--clip-grad-norm and --accumulate reach the range test (each step clipped, over that
    many batches) and range_test.json keeps them."""
    from lrlab.search import _task_range

    seen = []
    real = _task_range.find_lr

    def spy(*args, **kwargs):
        seen.append((kwargs["clip_grad_norm"], kwargs["accumulate"]))
        return real(*args, **kwargs)
    monkeypatch.setattr(_task_range, "find_lr", spy)
    out = tmp_path / "f"
    assert main(["find", "blobs", "--steps", "30", "--clip-grad-norm", "0.5", "--accumulate",
                 "2", "--out", str(out)]) == 0
    settings = json.loads((out / "range_test.json").read_text())
    assert seen and set(seen) == {(0.5, 2)}
    assert settings["clip_grad_norm"] == 0.5 and settings["accumulate"] == 2


def test_find_refuses_a_folder_holding_a_run_unless_overwrite(tmp_path, capsys):
    """A second ``find --out`` into the same folder would mix two tests' files (a 3-seed
    test's band.csv beside a 1-seed test's curve): refused in one line, as every command's
    --out is, until --overwrite, which leaves the new test's files alone."""
    out = str(tmp_path / "f")
    assert main(["find", "blobs", "--steps", "40", "--seeds", "0,1", "--out", out]) == 0
    assert (tmp_path / "f" / "band.csv").is_file()
    before = (tmp_path / "f" / "curve.csv").read_text()
    capsys.readouterr()
    assert main(["find", "blobs", "--steps", "40", "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a run" in err[0] and "--overwrite" in err[0]
    assert (tmp_path / "f" / "curve.csv").read_text() == before
    assert main(["find", "blobs", "--steps", "40", "--out", out, "--overwrite"]) == 0
    assert (tmp_path / "f" / "curve.csv").read_text() != before  # seed 0's own curve
    assert not (tmp_path / "f" / "band.csv").exists()  # one seed: no band left behind
    capsys.readouterr()
    assert main(["sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q", "--db",
                 str(tmp_path / "s.db"), "--out", out]) == 2  # nor a sweep on top of it
