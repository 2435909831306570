"""Tests for ``auto`` with the schedule the full training will follow (``schedule=``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import one_line

from lrlab._errors import LrlabError
from lrlab.schedules import parse_schedule
from lrlab.search import auto
from lrlab.search._auto import before_peak
from lrlab.search._common import Plan

EPOCHS, PER = 20, 10  # blobs: 500 examples in batches of 50


def _last_rates(result) -> np.ndarray:
    """Each member's rate at the last step of its race (the train ``lr`` of its last epoch)."""
    return result.curve("lr", "train").iloc[-1].to_numpy(float)


def test_the_race_trains_the_start_of_the_schedule_and_confirm_all_of_it() -> None:
    """Every race (3 epochs of 8 steps: 396 examples, the range test having taken its
    share) follows cosine:warmup=2 as the 20-epoch training of 10 steps per epoch does: 20
    steps of warm-up, then its last step, 23, is 3 steps into a cosine of 180, lr0 * (1 +
    cos(3 pi / 180)) / 2 by hand; not a warm-up and a cosine squeezed into the race (which
    would end near 0). ``confirm`` trains the whole schedule, ending at its last step."""
    result = auto("blobs", epochs=EPOCHS, schedule="cosine:warmup=2", candidates=2, seeds=1,
                  check=False, confirm=True)
    assert (result.race_epochs, result.race_examples) == (3, 396)
    assert result.schedule == "cosine:warmup=2"
    for race in result.evidence:
        assert set(race.members["schedule"]) == {"cosine:warmup=2"}
        lrs = race.members["lr"].to_numpy(float)
        np.testing.assert_allclose(_last_rates(race),
                                   lrs * (1 + math.cos(math.pi * 3 / 180)) / 2, rtol=1e-6)
    final = result.confirmation
    np.testing.assert_allclose(_last_rates(final),
                               result.lr * (1 + math.cos(math.pi * 179 / 180)) / 2, rtol=1e-5)
    assert f"lr={result.lr:.3g} at the peak of cosine:warmup=2" in result.verdict()
    assert "whose start they trained as the full training's 20 epochs of 10 steps" \
        in result.explanation
    assert "before_peak" not in result.confidence.kinds


def test_a_race_inside_the_warm_up_says_so() -> None:
    """A warm-up of 5 epochs (50 steps) outlasts the 24-step race: every rate was read below
    its peak, a warning of its own kind naming the least budget whose race, as auto plans
    it, reaches the peak: 0.28 (6 epochs on 467 examples, 60 steps; 0.27 trains 50). It named
    0.32 before (0.15 x 51 / 24), a straight line through steps that grow in whole epochs."""
    result = auto("blobs", epochs=EPOCHS, schedule="wsd:warmup=5,cooldown_frac=0.2",
                  candidates=2, seeds=1, refine=False, check=False)
    assert "before_peak" in result.confidence.kinds
    line = next(w for w in result.warnings if w.kind == "before_peak")
    assert "peaks at step 51 of the full training's 200" in line
    assert "trained each rate 24 steps" in line and "(budget=0.28 or more lets the race" in line
    assert line.count("0.28") == 1  # said once (it read "at least 0.28 (budget=0.28)")
    for budget, warned in ((0.28, False), (0.27, True)):
        again = auto("blobs", epochs=EPOCHS, schedule="wsd:warmup=5,cooldown_frac=0.2",
                     candidates=2, seeds=1, refine=False, check=False, budget=budget)
        assert ("before_peak" in again.confidence.kinds) is warned


@pytest.mark.parametrize(("schedule", "needle"), [
    ("plateau", "follows a validation metric"),
    ("cosine:warmup=30", "shorter than training"),
    ("nosuch", "unknown schedule"),
])
def test_a_schedule_auto_cannot_race_is_one_line_before_training(schedule: str,
                                                                  needle: str) -> None:
    with pytest.raises(LrlabError) as err:
        auto("blobs", epochs=EPOCHS, schedule=schedule)
    one_line(err, needle)


@pytest.mark.parametrize("schedules", [["cosine", "constant"], ("cosine",)])
def test_a_list_of_schedules_is_one_line_naming_the_one(schedules) -> None:
    """``schedule=`` is one schedule, the full training's; a list (as ``sweep``'s
    ``schedules=`` takes) is told so and where several go. It was 'schedules.0: a schedule
    is text, NAME[:key=value,...], got [...]', naming a setting the user never gave."""
    with pytest.raises(LrlabError) as err:
        auto("blobs", epochs=EPOCHS, schedule=schedules)
    one_line(err, "auto: schedule= is the one schedule the full training follows")
    assert "sweep them side by side" in str(err.value)


@pytest.mark.parametrize("setting", [{"schedule_over": (5, 5)}, {"schedules": ["cosine"]}])
def test_a_schedule_given_as_a_sweep_setting_is_one_line(setting: dict) -> None:
    """``schedules`` and ``schedule_over`` are laid by ``auto`` itself from ``schedule=``;
    given beside it (a sweep's settings passed through), one line naming ``schedule=``
    (``schedule_over`` was a TypeError from the settings' second copy)."""
    with pytest.raises(LrlabError) as err:
        auto("blobs", epochs=EPOCHS, schedule="cosine", **setting)
    one_line(err, f"chooses {next(iter(setting))} itself")
    assert "schedule=, the schedule the full training follows" in str(err.value)


def test_a_peak_no_budget_reaches_names_no_budget() -> None:
    """A warm-up of 9 of 10 epochs peaks at step 91 of 100: the least budget that reaches it
    (auto's :func:`_enough_budget`, tested on a real race above) is named; where no budget
    of at most 1 does (a larger one is refused), the warning names only the full trainings
    (it said "give a budget above 1.4")."""
    p = Plan(None, None, 10, "sgd", 0, {}, (), schedule=parse_schedule("cosine:warmup=9"),
             schedule_over=(10, 10))
    # named as a fact, not as advice: at that budget a one-cycle SE-ResNet's picks were
    # worse on every seed, and too low (it said "give budget=0.91 or more, or train the
    # pick and a rate half a decade lower")
    assert "(budget=0.91 or more lets the race reach the peak, but" in before_peak(p, 15, 0.91)
    # the command line says it as lrlab auto's flag (was "give a budget above 0.91": no flag)
    from lrlab.cli._options import as_flags

    assert "(--budget 0.91 or more lets the race" in as_flags(str(before_peak(p, 15, 0.91)),
                                                              {"budget"})
    line = before_peak(p, 10, None)
    assert "peaks at step 91" in line and "budget" not in line
    assert line.endswith("train the pick and a rate half a decade either side for the full "
                         "epochs and keep the best") and "lower for" not in line
