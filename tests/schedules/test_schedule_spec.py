"""The command-line form ``NAME[:key=value,...]``: parsing, building in steps, errors."""

from __future__ import annotations

import math
import re

import pytest
import torch

import lrlab.schedules as S
from lrlab import LrlabError

EXAMPLES = {
    "constant": "constant",
    "step": "step:factor=0.5,every=5",
    "multistep": "multistep:milestones=30/40,factor=0.1",
    "exp": "exp:k=0.05",
    "inv": "inv:k=0.1",
    "poly": "poly:power=2",
    "cosine": "cosine:min_lr=1e-4",
    "sgdr": "sgdr:first=10,mult=2",
    "cyclic": "cyclic:lo=0.001,half_period=5,mode=triangular2",
    "onecycle": "onecycle",
    "wsd": "wsd:cooldown_frac=0.2,shape=1-sqrt",
}


def test_every_name_has_an_example() -> None:
    """Every kind that follows time (plateau follows a metric: tested below)."""
    assert set(EXAMPLES) == {n for n, kind in S.SCHEDULES.items() if not kind.follows_metric}
    assert [n for n, kind in S.SCHEDULES.items() if kind.follows_metric] == ["plateau"]


def test_plateau_is_a_kind_driven_by_a_metric() -> None:
    """plateau: parsed like the others, refuses to build a curve, and gives the rule torch's
    ReduceLROnPlateau runs (the defaults are ReduceOnPlateau's own)."""
    spec = S.parse_schedule("plateau:factor=0.5,patience=1,monitor=accuracy")
    assert spec.follows_metric and spec.monitor == "accuracy"
    assert S.parse_schedule("plateau").monitor == "loss"
    assert S.parse_schedule("cosine").monitor is None
    with pytest.raises(LrlabError, match="follows the validation metric"):
        spec.build(0.1, epochs=10)
    ours = spec.on_metric([0.1])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    for metric in (0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7):
        ref.step(metric)
        assert ours.update(metric).item() == opt.param_groups[0]["lr"]
    assert opt.param_groups[0]["lr"] < 0.1  # it did cut
    default = S.parse_schedule("plateau").on_metric(1.0)
    assert (default.patience, default.cooldown, default.mode) == (10, 0, "min")
    assert (default.factor.item(), default.threshold.item()) == (0.1, 1e-4)
    with pytest.raises(LrlabError, match="schedule 'plateau:warmup=2' has no key 'warmup'"):
        S.parse_schedule("plateau:warmup=2")


@pytest.mark.parametrize("text", ["cosine", " Step : factor = 0.5 , every = 5 ",
                                  "plateau:patience=3,monitor=auc", "multistep:milestones=3/6"])
def test_a_spec_is_stored_as_written_and_reads_back_equal(text: str) -> None:
    spec = S.parse_schedule(text)
    assert spec.text == text and S.parse_schedule(spec.text) == spec
    assert hash(S.parse_schedule(text)) == hash(spec)
    made = S.ScheduleSpec(spec.name, dict(spec.options))  # made in Python: spelled out
    assert S.parse_schedule(made.text).options == spec.options


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("per", [1, 7])
def test_examples_build_step_schedules(name: str, per: int) -> None:
    spec = S.parse_schedule(EXAMPLES[name])
    assert spec.name == name and str(spec) == EXAMPLES[name]
    for text in (EXAMPLES[name], EXAMPLES[name] + (",warmup=3" if ":" in EXAMPLES[name]
                                                    else ":warmup=3")):
        sched = S.parse_schedule(text).build([0.1, 0.05], epochs=50,
                                             steps_per_epoch=per)
        rates = sched(torch.arange(50 * per))
        assert sched.unit == "step" and rates.shape == (50 * per, 2)
        assert bool(torch.isfinite(rates).all()) and float(rates.max()) <= 0.1 + 1e-12


def test_epoch_keys_become_steps() -> None:
    steps = torch.arange(0, 200)
    built = S.parse_schedule("step:factor=0.5,every=5").build(0.1, epochs=20, steps_per_epoch=10)
    direct = S.step_decay(0.1, factor=0.5, every=5)
    assert torch.equal(built(steps), direct.at_step(steps, 10))
    built = S.parse_schedule("exp:k=0.05").build(0.1, epochs=20, steps_per_epoch=4)
    torch.testing.assert_close(built(steps), S.exponential(0.1, k=0.05).at_step(steps, 4),
                               rtol=1e-14, atol=0)
    built = S.parse_schedule("cyclic:lo=0.001,half_period=5,mode=exp_range,gamma=0.9").build(
        0.1, epochs=20, steps_per_epoch=3)
    direct = S.cyclical(0.001, 0.1, half_period=5, mode="exp_range", gamma=0.9)
    torch.testing.assert_close(built(steps), direct.at_step(steps, 3), rtol=1e-13, atol=0)


def test_multistep_milestones_in_epochs() -> None:
    sched = S.parse_schedule("multistep:milestones=3/6,factor=0.1").build(
        1.0, epochs=10, steps_per_epoch=2)
    assert sched(torch.tensor([5, 6, 11, 12]))[:, 0].tolist() == pytest.approx(
        [1.0, 0.1, 0.1, 0.01])


def test_onecycle_is_torch_per_batch() -> None:
    built = S.parse_schedule("onecycle:pct_start=0.25,anneal=linear,three_phase=true").build(
        0.3, epochs=6, steps_per_epoch=5)
    direct = S.one_cycle(0.3, total=30, pct_start=0.25, anneal="linear", three_phase=True,
                         unit="step")
    assert torch.equal(built(torch.arange(30)), direct(torch.arange(30)))


def test_decay_reaches_the_total_factor_at_the_last_step() -> None:
    """decay=100: the last step of training (step 199 of 200) runs at lr0 / 100."""
    for text in ("exp:decay=100", "inv:decay=100", "step:decay=100,every=5"):
        sched = S.parse_schedule(text).build(0.1, epochs=50, steps_per_epoch=4)
        assert sched(199).item() == pytest.approx(0.001, rel=1e-12), text


def test_warmup_then_the_schedule_fits_the_rest() -> None:
    sched = S.parse_schedule("cosine:warmup=5,warmup_start=0.1").build(
        0.1, epochs=25, steps_per_epoch=2)
    t = torch.tensor([0, 5, 10, 30, 50])
    torch.testing.assert_close(sched(t)[:, 0], torch.tensor(
        [0.01, 0.055, 0.1, 0.05, 0.0], dtype=torch.float64), rtol=1e-14, atol=1e-17)
    exp = S.parse_schedule("exp:decay=100,warmup=10").build(1.0, epochs=60)
    assert exp(59).item() == pytest.approx(0.01, rel=1e-12)  # the last of 60 steps


def test_spaces_and_case_are_tolerated() -> None:
    spec = S.parse_schedule("  Step : factor = 0.5 , every = 5 ")
    assert spec.name == "step" and spec.options == {"factor": 0.5, "every": 5.0}


@pytest.mark.parametrize("text, words", [
    ("", "empty schedule"),
    ("linear", "known: constant, step"),
    ("step:every=5,gamma=0.1", "step's keys: every, factor, decay, warmup"),
    ("step:factor", "key=value"),
    ("step:every=five", "must be a number"),
    ("step:factor=0.5", "needs every="),
    # the spec quoted whole: it said "step: step needs every=..." (the name twice) and "cosine
    # has no key 'foo' (it is not one of cosine's keys)"
    ("step", "^schedule 'step' needs every=...; see lrlab list schedules$"),
    ("cosine:foo=1", r"^schedule 'cosine:foo=1' has no key 'foo'; cosine's keys: min_lr, "),
    ("exp", "needs k=... or decay=..."),
    ("exp:k=0.1,decay=100", "give one of k, decay, not 2"),  # was "needs k=... or decay=..."
    ("step:every=5,factor=0.5,decay=100", "not both"),
    ("step:every=5,every=6", "given twice"),
    ("multistep:milestones=30-60", "numbers separated by /"),
    ("cyclic:lo=0.01,half_period=5,mode=sine", "must be one of"),
    ("onecycle:three_phase=maybe", "true or false"),
    # values wrong for every run: refused where the spec is read (lrlab schedule show)
    ("cosine:warmup=-1", "warmup=-1 must be a finite length >= 0"),
    ("cosine:warmup_steps=-3", "warmup_steps=-3 must be a finite length >= 0"),
    ("onecycle:pct_start=2", "pct_start must be < 1"),
    # the bound a value below it is told is the one 0 is told (-2 said ">= 0", then 0 "> 0")
    ("poly:power=-2", "power must be > 0 (1 is a linear decay), got -2"),
    ("poly:power=0", "power must be > 0 (1 is a linear decay), got 0"),
    ("onecycle:div_factor=-1", "div_factor must be > 0, got -1"),
    ("sgdr:first=-1", "first must be > 0 (the length of the first cycle), got -1"),
    ("cosine:min_lr=-1", "min_lr must be >= 0"),
    ("step:every=5,decay=0.5", "decay=0.5 must be >= 1"),
    ("sgdr:first=5,mult=0.5", "mult must be >= 1"),
    ("cosine:warmup_start=0.1", "warmup_start sets where a warm-up starts, and there is none"),
    ("cosine:warmup=1,warmup_start=2", "warmup_start must be in"),
    ("cosine:warmup=1,warmup_start=-2", "warmup_start must be >= 0"),
    ("wsd:cooldown_frac=2", "cooldown_frac=2 must be a fraction of training, from 0 to 1"),
    ("cosine:warmup_frac=1", "warmup_frac=1 must be below 1"),
    ("cosine:warmup=nan", "warmup=nan must be a finite length >= 0"),  # said: too long
    ("cosine:warmup=inf", "warmup=inf must be a finite length >= 0"),
    ("step:every=inf", "every must be finite, got inf"),  # the factory's own words
])
def test_parse_errors(text: str, words: str) -> None:
    with pytest.raises(LrlabError, match=words.replace(".", r"\.").replace("(", r"\(")
                       .replace(")", r"\)")) as err:
        S.parse_schedule(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["cosine:warmup=50", "cosine:min_lr=1", "onecycle:pct_start=0.01",
                                  "cyclic:lo=1,half_period=5", "step:decay=100,every=80",
                                  "wsd:cooldown=100", "cosine:warmup_steps=1e6"])
def test_values_wrong_only_for_some_runs_are_read(text: str) -> None:
    """Too long for 50 epochs, or above a rate of 0.1: right for a longer run or a higher
    rate, so read, and refused where the run is known (:func:`test_build_errors`)."""
    spec = S.parse_schedule(text)
    with pytest.raises(LrlabError, match=f"^{re.escape(text)}: "):
        spec.build(0.1, epochs=50)


@pytest.mark.parametrize("text, kwargs, words", [
    ("cosine:warmup=50", {}, "shorter than training"),
    ("cosine:warmup=60", {}, "shorter than training"),
    ("step:factor=-0.5,every=5", {}, r"factor must be > 0 \(the multiplier at each drop\)"),
    ("step:factor=0.5,every=0", {}, "every must be > 0"),
    # the spec names its own key and lr0 (was "hi must be >= lo": hi is no key of cyclic)
    ("cyclic:lo=1,half_period=5", {},
     (r"lo=1 must be <= lr0, the member's rate, the peak of the cycle; got lr0=0\.1: give a "
      r"lower lo \(an absolute rate, not a fraction of lr0\)")),
    # poly rose from lr0 to end, "polynomial decay to end" (min_lr above lr0 is refused)
    ("poly:end=1", {}, r"end=1 must be <= lr0, the member's rate, where the decay starts"),
    ("cosine:min_lr=1", {}, "min_lr must be <= lr0"),
    ("multistep:milestones=30/20", {}, "must increase"),
    ("step:decay=100,every=80", {}, "every must be <= total"),
    ("cosine", {"epochs": 0}, "epochs must be a whole number"),
    ("cosine", {"steps_per_epoch": 1.5}, "steps_per_epoch must be a whole number"),
])
def test_build_errors(text: str, kwargs: dict, words: str) -> None:
    with pytest.raises(LrlabError, match=words) as err:
        S.parse_schedule(text).build(0.1, **{"epochs": 50, **kwargs})
    assert "\n" not in str(err.value)
    if "epochs" not in words and "steps_per" not in words:
        assert str(err.value).startswith(text)


def test_a_rate_above_one_members_lr0_names_that_member() -> None:
    with pytest.raises(LrlabError, match=r"got lr0=0\.01 \(member 2\)"):
        S.parse_schedule("cyclic:lo=0.05,half_period=5").build([1.0, 0.1, 0.01], epochs=50)


def test_member_rates_share_one_spec() -> None:
    lr0 = torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64)
    sched = S.parse_schedule("sgdr:first=4").build(lr0, epochs=12)
    for i in range(3):
        alone = S.parse_schedule("sgdr:first=4").build(float(lr0[i]), epochs=12)
        torch.testing.assert_close(sched(torch.arange(12))[:, i:i + 1], alone(torch.arange(12)))
    assert math.isclose(sched(2)[0].item(), 0.5)
