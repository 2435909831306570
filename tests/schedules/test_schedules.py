"""The contract every schedule factory keeps, driven by one table, plus float64 hand checks.

Each entry of ``CASES`` builds a schedule from a dict of parameters, names three per-member
values for each, and lists bad parameter sets. Every entry must: validate (one-line
LrlabError), return float64 ``(K,)`` / ``(T, K)``, be pure, and give member k of a
K-member schedule exactly the schedule built from member k's values alone.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch

import lrlab.schedules as S
from lrlab import LrlabError
from lrlab.schedules import Schedule

NAN, INF = math.nan, math.inf
TIMES = torch.cat([torch.arange(0.0, 61.0), torch.linspace(0.0, 60.0, 97), torch.tensor([250.0])])


@dataclass(frozen=True)
class Case:
    build: Callable[[dict], Schedule]
    per_member: dict[str, list[float]]
    bad: list[dict] = field(default_factory=list)


CASES: dict[str, Case] = {
    "constant": Case(lambda p: S.constant(p["lr0"]), {"lr0": [0.1, 0.3, 1.0]},
                     [{"lr0": -0.1}, {"lr0": NAN}, {"lr0": INF}, {"lr0": "a"}, {"lr0": True},
                      {"lr0": [[0.1]]}, {"lr0": []}]),
    "step_decay": Case(lambda p: S.step_decay(p["lr0"], factor=p["factor"], every=p["every"]),
                       {"lr0": [0.1, 0.3, 1.0], "factor": [0.5, 0.1, 0.9], "every": [5, 20, 3]},
                       [{"every": 0.0}, {"factor": 0.0}, {"factor": -0.5}, {"every": NAN},
                        {"lr0": [0.1, 0.2], "every": [1, 2, 3]}]),
    "multistep": Case(lambda p: S.multistep(p["lr0"], milestones=[10, 25, 40],
                                            factor=p["factor"]),
                      {"lr0": [0.1, 0.3, 1.0], "factor": [0.5, 0.1, 0.9]},
                      [{"factor": 0.0}, {"lr0": -1.0}]),
    "exponential": Case(lambda p: S.exponential(p["lr0"], k=p["k"]),
                        {"lr0": [0.1, 0.3, 1.0], "k": [0.0, 0.05, 0.2]},
                        [{"k": -0.1}, {"k": INF}]),
    "inverse_time": Case(lambda p: S.inverse_time(p["lr0"], k=p["k"]),
                         {"lr0": [0.1, 0.3, 1.0], "k": [0.0, 0.05, 0.2]},
                         [{"k": -0.1}, {"lr0": NAN}]),
    "polynomial": Case(lambda p: S.polynomial(p["lr0"], total=p["total"], end=p["end"],
                                              power=p["power"]),
                       {"lr0": [0.1, 0.3, 1.0], "total": [10, 40, 60], "end": [0.0, 0.01, 0.5],
                        "power": [1.0, 2.0, 0.5]},
                       [{"total": 0.0}, {"power": 0.0}, {"end": -0.1}]),
    "cosine": Case(lambda p: S.cosine(p["lr0"], total=p["total"], min_lr=p["min_lr"]),
                   {"lr0": [0.1, 0.3, 1.0], "total": [10, 40, 60], "min_lr": [0.0, 0.01, 0.5]},
                   [{"total": 0.0}, {"min_lr": 2.0}, {"total": -5.0}]),
    "cosine_restarts": Case(
        lambda p: S.cosine_restarts(p["lr0"], first=p["first"], mult=p["mult"],
                                    min_lr=p["min_lr"], peak_factor=p["peak_factor"]),
        {"lr0": [0.1, 0.3, 1.0], "first": [5, 7.5, 3], "mult": [1.0, 2.0, 1.5],
         "min_lr": [0.0, 0.01, 0.5], "peak_factor": [1.0, 0.5, 0.9]},
        [{"first": 0.0}, {"mult": 0.5}, {"min_lr": 2.0}, {"peak_factor": 1.5}]),
    "cyclical": Case(lambda p: S.cyclical(p["lo"], p["hi"], half_period=p["half_period"],
                                          mode="exp_range", gamma=p["gamma"]),
                     {"lo": [0.01, 0.1, 0.0], "hi": [0.1, 0.3, 1.0], "half_period": [2, 5, 7.5],
                      "gamma": [1.0, 0.99, 0.9]},
                     [{"hi": 0.001}, {"half_period": 0.0}, {"gamma": 0.0}, {"gamma": 1.5}]),
    "one_cycle": Case(lambda p: S.one_cycle(p["lr0"], total=p["total"], pct_start=p["pct"],
                                            div_factor=p["div"], final_div_factor=p["final"]),
                      {"lr0": [0.1, 0.3, 1.0], "total": [20, 40, 60], "pct": [0.3, 0.25, 0.5],
                       "div": [25.0, 10.0, 4.0], "final": [1e4, 100.0, 10.0]},
                      [{"total": 0.0}, {"pct": 0.01}, {"pct": 1.0}, {"div": 0.0}]),
    "warmup": Case(lambda p: S.warmup(S.cosine(p["lr0"], total=40), length=p["length"],
                                      start=p["start"]),
                   {"lr0": [0.1, 0.3, 1.0], "length": [1, 5, 7.5], "start": [0.0, 0.1, 1.0]},
                   [{"length": 0.0}, {"start": 1.5}, {"start": -0.1}]),
    "warmup_continue": Case(lambda p: S.warmup(S.exponential(p["lr0"], k=0.1), length=p["length"],
                                               start=p["start"], clock="continue"),
                            {"lr0": [0.1, 0.3, 1.0], "length": [1, 5, 7.5],
                             "start": [0.0, 0.1, 1.0]},
                            [{"length": NAN}]),
    "join": Case(lambda p: S.join([S.constant(p["lr0"]), S.exponential(p["lr0"], k=p["k"]),
                                   S.cosine(p["lr0"], total=10)], [7, 19.5]),
                 {"lr0": [0.1, 0.3, 1.0], "k": [0.0, 0.05, 0.2]}, [{"k": -1.0}]),
    "join_continue": Case(lambda p: S.join([S.constant(p["lr0"]), S.exponential(p["lr0"],
                                                                                k=p["k"])],
                                           [7], clock="continue"),
                          {"lr0": [0.1, 0.3, 1.0], "k": [0.0, 0.05, 0.2]}, [{"lr0": -1.0}]),
    "decaying": Case(lambda p: S.decaying(p["lr0"], total_factor=p["f"], total=p["total"],
                                          kind="step", every=p["every"]),
                     {"lr0": [0.1, 0.3, 1.0], "f": [1.0, 10.0, 100.0], "total": [20, 40, 60],
                      "every": [5, 10, 7]},
                     [{"f": 0.5}, {"total": 0.0}, {"every": 100.0}]),
    "wsd": Case(lambda p: S.wsd(p["lr0"], total=p["total"], cooldown=p["cooldown"],
                                shape="1-sqrt", min_lr=p["min_lr"]),
                {"lr0": [0.1, 0.3, 1.0], "total": [10, 40, 60], "cooldown": [0.0, 8, 30],
                 "min_lr": [0.0, 0.01, 0.5]},
                [{"total": 0.0}, {"cooldown": 11.0}, {"cooldown": -1.0}, {"min_lr": 2.0}]),
}

FACTORIES = ["constant", "step_decay", "multistep", "exponential", "inverse_time", "polynomial",
             "cosine", "cosine_restarts", "cyclical", "one_cycle", "warmup", "join", "decaying",
             "wsd"]


def member(case: Case, i: int) -> dict:
    return {name: values[i] for name, values in case.per_member.items()}


def first_member(case: Case) -> dict:
    return member(case, 0)


def test_every_factory_is_in_the_table() -> None:
    exported = {name for name in S.__all__ if name[0].islower() and name not in
                ("decay_over", "parse_plateau", "parse_schedule")}
    assert exported == set(FACTORIES)
    assert set(FACTORIES) <= {name.removesuffix("_continue") for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_dtype(name: str) -> None:
    case = CASES[name]
    one = case.build(first_member(case))
    many = case.build(case.per_member)
    assert one.members == 1 and many.members == 3
    assert one(3).shape == (1,) and many(3).shape == (3,)
    assert many(torch.tensor(2.5)).shape == (3,)
    assert many(TIMES).shape == (len(TIMES), 3)
    assert many(TIMES).dtype == torch.float64 and one(7.25).dtype == torch.float64
    assert bool(torch.isfinite(many(TIMES)).all()) and bool((many(TIMES) >= 0).all())


@pytest.mark.parametrize("name", CASES)
def test_pure(name: str) -> None:
    case = CASES[name]
    sched = case.build(case.per_member)
    before = sched(TIMES)
    singles = torch.stack([sched(float(t)) for t in TIMES])
    assert torch.equal(sched(TIMES.flip(0)).flip(0), before)
    assert torch.equal(sched(TIMES), before)
    torch.testing.assert_close(singles, before, rtol=1e-15, atol=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.unit = "step"  # type: ignore[misc]
    assert torch.equal(pickle.loads(pickle.dumps(sched))(TIMES), before)  # to other processes


@pytest.mark.parametrize("name", CASES)
def test_member_axis_is_k_separate_schedules(name: str) -> None:
    case = CASES[name]
    many = case.build(case.per_member)(TIMES)
    for i in range(3):
        alone = case.build(member(case, i))(TIMES)
        torch.testing.assert_close(many[:, i:i + 1], alone, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", CASES)
def test_bad_parameters_raise_one_line(name: str) -> None:
    case = CASES[name]
    for bad in case.bad:
        with pytest.raises(LrlabError) as err:
            case.build({**first_member(case), **bad})
        assert "\n" not in str(err.value) and str(err.value)


def test_parameters_are_copied() -> None:
    lr0 = torch.tensor([0.1, 0.2], dtype=torch.float64)
    sched = S.exponential(lr0, k=0.1)
    lr0.mul_(10)
    assert sched(0).tolist() == [0.1, 0.2]


@pytest.mark.parametrize("t", [-1, math.nan, math.inf, torch.zeros(2, 2), "3", True])
def test_bad_times(t: object) -> None:
    with pytest.raises(LrlabError):
        S.constant(0.1)(t)  # type: ignore[arg-type]


@pytest.mark.parametrize("call", [
    lambda: S.cosine(0.1, total=10, unit="batch"),  # type: ignore[arg-type]
    lambda: S.cyclical(0.01, 0.1, half_period=5, mode="sine"),  # type: ignore[arg-type]
    lambda: S.cyclical(0.01, 0.1, half_period=5, gamma=0.9),    # gamma needs exp_range
    lambda: S.one_cycle(0.1, total=10, anneal="cubic"),  # type: ignore[arg-type]
    lambda: S.one_cycle(0.1, total=10, pct_start=0.6, three_phase=True),
    lambda: S.multistep(0.1, milestones=[30, 20], factor=0.1),
    lambda: S.multistep(0.1, milestones=[30, 30], factor=0.1),
    lambda: S.multistep(0.1, milestones=[], factor=0.1),
    lambda: S.multistep(0.1, milestones="30", factor=0.1),  # type: ignore[arg-type]
    lambda: S.warmup(0.1, length=5),  # type: ignore[arg-type]
    lambda: S.warmup(S.cosine(0.1, total=10), length=20, clock="continue"),
    lambda: S.warmup(S.cosine(0.1, total=10), length=5, clock="later"),  # type: ignore[arg-type]
    lambda: S.join([S.constant(0.1), S.constant(0.2)], []),
    lambda: S.join([S.constant(0.1)], [3]),
    lambda: S.join([], []),
    lambda: S.join([S.constant(0.1), S.constant(0.2, unit="step")], [3]),
    lambda: S.join([S.constant([0.1, 0.2]), S.constant([0.1, 0.2, 0.3])], [3]),
    lambda: S.decay_over(100, 200, kind="step"),
    lambda: S.decay_over(100, 200, kind="exponential", every=5),
    lambda: S.decay_over(100, 200, kind="linear"),  # type: ignore[arg-type]
    lambda: S.constant(0.1).at_step(3, 0),
    lambda: S.constant(0.1).at_step(-3, 10),
])
def test_bad_options_raise_one_line(call: Callable[[], object]) -> None:
    with pytest.raises(LrlabError) as err:
        call()
    assert "\n" not in str(err.value)


# -- hand computations in float64 ------------------------------------------------------------


@pytest.mark.parametrize("kind, every", [("exponential", None), ("inverse_time", None),
                                         ("step", 20), ("step", 30)])
def test_decay_over_reaches_the_factor_at_the_end(kind: str, every: float | None) -> None:
    sched = S.decaying(0.1, total_factor=100, total=200, kind=kind, every=every)  # type: ignore
    drops_end = 200 if every is None else every * (200 // every)
    assert sched(drops_end).item() == pytest.approx(0.001, rel=1e-13)
    assert sched(0).item() == 0.1
    if kind == "exponential":
        assert S.decay_over(100, 200, kind=kind).item() == pytest.approx(math.log(100) / 200)
    if kind == "inverse_time":
        assert S.decay_over(100, 200, kind=kind).item() == pytest.approx(99 / 200)


def test_brief_step_decays() -> None:
    halve = S.step_decay(1.0, factor=0.5, every=5)
    tenth = S.step_decay(1.0, factor=0.1, every=20)
    t = torch.tensor([0.0, 4.0, 5.0, 9.9, 10.0, 19.0, 20.0, 40.0])
    assert halve(t)[:, 0].tolist() == [1, 1, 0.5, 0.5, 0.25, 0.125, 0.0625, 0.00390625]
    torch.testing.assert_close(tenth(t)[:, 0], torch.tensor(
        [1, 1, 1, 1, 1, 1, 0.1, 0.01], dtype=torch.float64), rtol=1e-15, atol=0)


def test_multistep_by_hand() -> None:
    sched = S.multistep(1.0, milestones=[3, 7.5], factor=0.5)
    t = torch.tensor([0.0, 2.9, 3.0, 7.4, 7.5, 100.0])
    assert sched(t)[:, 0].tolist() == [1, 1, 0.5, 0.5, 0.25, 0.25]


@pytest.mark.parametrize("start", [0.0, 0.25])
def test_warmup_ramp(start: float) -> None:
    main = S.cosine(0.2, total=40)
    restart = S.warmup(main, length=8, start=start)
    t = torch.tensor([0.0, 2.0, 4.0, 8.0, 28.0, 48.0, 60.0])
    ramp = [start + (1 - start) * x / 8 for x in (0, 2, 4)]
    expect = [0.2 * r for r in ramp] + [0.2, 0.1, 0.0, 0.0]
    torch.testing.assert_close(restart(t)[:, 0], torch.tensor(expect, dtype=torch.float64),
                               rtol=1e-15, atol=1e-17)
    keep = S.warmup(main, length=8, start=start, clock="continue")
    torch.testing.assert_close(keep(t)[:, 0], main(t)[:, 0] * torch.tensor(
        [*ramp, 1, 1, 1, 1], dtype=torch.float64), rtol=1e-15, atol=0)


def test_triangular2_halves_each_cycle() -> None:
    sched = S.cyclical(0.1, 0.9, half_period=4, mode="triangular2")
    peaks = sched(torch.tensor([4.0, 12.0, 20.0, 28.0]))[:, 0]
    torch.testing.assert_close(peaks - 0.1, 0.8 * torch.tensor([1, 0.5, 0.25, 0.125],
                                                               dtype=torch.float64))
    assert sched(torch.tensor([0.0, 8.0, 16.0]))[:, 0].tolist() == [0.1, 0.1, 0.1]
    assert sched(2.0).item() == pytest.approx(0.5) and sched(10.0).item() == pytest.approx(0.3)


def test_exp_range_by_hand() -> None:
    sched = S.cyclical(0.0, 1.0, half_period=2, mode="exp_range", gamma=0.9)
    assert sched(1.0).item() == pytest.approx(0.5 * 0.9)
    assert sched(6.0).item() == pytest.approx(0.9**6)


def test_cosine_stays_at_min_after_total() -> None:
    sched = S.cosine(1.0, total=10, min_lr=0.1)
    assert sched(5.0).item() == pytest.approx(0.55, rel=1e-15)
    assert sched(10.0).item() == sched(50.0).item() == pytest.approx(0.1, rel=1e-15)


def test_polynomial_by_hand() -> None:
    sched = S.polynomial(1.0, total=10, end=0.1, power=2)
    assert sched(5.0).item() == pytest.approx(0.9 * 0.25 + 0.1, rel=1e-15)
    assert sched(12.0).item() == pytest.approx(0.1, rel=1e-15)


def test_cosine_restarts_by_hand() -> None:
    sched = S.cosine_restarts(1.0, first=2, mult=1.5, peak_factor=0.5)
    starts = [0.0, 2.0, 5.0, 9.5, 16.25]           # 2, 3, 4.5, 6.75 long
    for i, s in enumerate(starts):
        assert sched(s).item() == pytest.approx(0.5**i, rel=1e-14)
    assert sched(5.0 + 4.5 / 2).item() == pytest.approx(0.25 * 0.5, rel=1e-14)
    assert sched(9.5 - 1e-9).item() < 1e-15


def test_one_cycle_landmarks() -> None:
    sched = S.one_cycle(1.0, total=100, pct_start=0.3, div_factor=20, final_div_factor=50)
    t = torch.tensor([0.0, 29.0, 99.0, 150.0])
    torch.testing.assert_close(sched(t)[:, 0], torch.tensor(
        [0.05, 1.0, 0.001, 0.001], dtype=torch.float64), rtol=1e-14, atol=0)
    three = S.one_cycle(1.0, total=100, div_factor=20, final_div_factor=50, three_phase=True)
    assert three(58.0).item() == pytest.approx(0.05, rel=1e-14)


def test_join_restart_and_continue() -> None:
    parts = [S.constant(0.5), S.exponential(1.0, k=0.5)]
    t = torch.tensor([0.0, 3.9, 4.0, 6.0])
    restart = S.join(parts, [4])(t)[:, 0]
    cont = S.join(parts, [4], clock="continue")(t)[:, 0]
    torch.testing.assert_close(restart, torch.tensor([0.5, 0.5, 1.0, math.exp(-1)],
                                                     dtype=torch.float64))
    torch.testing.assert_close(cont, torch.tensor([0.5, 0.5, math.exp(-2), math.exp(-3)],
                                                  dtype=torch.float64))


def test_at_step_units() -> None:
    per_epoch = S.exponential(1.0, k=1.0)
    per_step = S.exponential(1.0, k=1.0, unit="step")
    assert per_epoch.at_step(150, 100).item() == pytest.approx(math.exp(-1.5))
    assert per_epoch.at_step(150, 100, stepwise=False).item() == pytest.approx(math.exp(-1))
    assert per_step.at_step(3, 100).item() == pytest.approx(math.exp(-3))
    steps = torch.arange(0, 300)
    torch.testing.assert_close(per_epoch.at_step(steps, 100, stepwise=False)[:, 0],
                               per_epoch(steps // 100)[:, 0])


def test_composites_take_members_from_parts() -> None:
    sched = S.warmup(S.cosine([0.1, 0.2, 0.4], total=10), length=2)
    assert sched.members == 3 and sched(1).tolist() == pytest.approx([0.05, 0.1, 0.2])
    wide = S.warmup(S.cosine(0.1, total=10), length=[1, 2, 4])
    assert wide(1).tolist() == pytest.approx([0.1, 0.05, 0.025])
    assert "Warmup(" in repr(wide) and "length=[1, 2, 4]" in repr(wide)
