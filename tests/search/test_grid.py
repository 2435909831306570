"""Tests for grid search and coarse to fine (lrlab.search._grid)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import assert_bad_input, one_line, run

from lrlab._errors import LrlabError
from lrlab.search._common import rate
from lrlab.search._grid import coarse_to_fine, decades, fine_rates, grid, ranked


@pytest.fixture(scope="module")
def c2f(blobs):
    """Coarse to fine on blobs: decades 1e-4 .. 10 (10 diverges), 5 fine rates, 3 epochs."""
    return coarse_to_fine(blobs, lo=1e-4, hi=10.0, fine=5, epochs=3)


# --- grid ----------------------------------------------------------------------------------


def test_grid_picks_the_member_sweep_result_best_picks(blobs) -> None:
    result = grid(blobs, [1.0, 0.1, 0.01, 0.001], epochs=3)
    (population,) = result.evidence
    best = population.best()
    assert result.lr == best["lr"]
    assert ranked(population).iloc[0]["member"] == best["member"]
    assert result.scores.iloc[0]["lr"] == result.lr
    assert result.confirmation is None
    assert result.compute == 4 * 3  # 4 members x 3 epochs of all the data
    assert rate(result.lr) in result.explanation and "validation auc" in result.explanation
    assert result.verdict().startswith(f"grid: lr={rate(result.lr)} ")


def test_a_search_result_prints_as_one_short_line(blobs, c2f) -> None:
    """print(result) in a notebook: the rate and the cost, not every population's tables."""
    result = grid(blobs, [1.0, 0.1], epochs=1)
    for r in (result, c2f):
        text = repr(r)
        assert "\n" not in text and len(text) < 160 and str(r) == text
        assert text.startswith(f"{type(r).__name__}(lr={rate(r.lr)}, compute=")


def test_grid_ties_go_to_the_lower_final_validation_loss(blobs) -> None:
    """Two identical members tie on every value: ranking stays as best() ranks (stable)."""
    result = grid(blobs, [0.1, 0.1, 0.01], epochs=2)
    population = result.evidence[0]
    assert ranked(population).iloc[0]["member"] == population.best()["member"]


def test_grid_subset_searches_part_and_confirm_trains_all(blobs) -> None:
    result = grid(blobs, [0.1, 0.01], epochs=2, subset=0.5, confirm=True)
    assert result.evidence[0].task == "blobs[250]"
    assert result.compute == pytest.approx(2 * 2 * 250 / 500)
    confirmation = result.confirmation
    assert confirmation is not None and confirmation.task == "blobs"
    assert confirmation.members["lr"].tolist() == [result.lr]
    assert int(confirmation.records["epoch"].max()) == 2
    assert result.total_compute == pytest.approx(result.compute + 2)


def test_grid_raises_when_every_rate_diverges(blobs) -> None:
    with pytest.raises(LrlabError) as err:
        grid(blobs, [1e3, 1e4], epochs=1)
    assert "every rate diverged" in one_line(err)


# --- coarse to fine ------------------------------------------------------------------------


def test_decades_and_fine_rates() -> None:
    assert decades(1e-7, 1.0) == [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0]
    assert decades(1e-3, 0.5) == [1e-3, 0.01, 0.1]
    interval, rates = fine_rates(0.01, 5)
    assert interval == (0.00316, 0.0316)
    assert rates == [0.00316, 0.00562, 0.01, 0.0178, 0.0316]
    interval, rates = fine_rates(1.0, 3, lo=1e-7, hi=1.0)  # cut at hi
    assert interval == (0.316, 1.0) and rates == [0.316, 0.562, 1.0]


def test_coarse_stage_holds_exactly_the_decades(c2f) -> None:
    assert c2f.coarse.members["lr"].tolist() == [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]
    assert c2f.coarse_lr == c2f.coarse.best()["lr"]
    assert c2f.evidence == (c2f.coarse, c2f.fine)


def test_fine_stage_lies_inside_the_best_decade(c2f) -> None:
    r = c2f.coarse_lr
    low, high = c2f.decade
    assert r / math.sqrt(10) * 0.999 <= low < r < high <= r * math.sqrt(10) * 1.001
    fine = c2f.fine.members["lr"].tolist()
    assert len(fine) == 5 and fine[0] == low and fine[-1] == high and r in fine
    assert all(low <= v <= high for v in fine)
    assert c2f.lr == c2f.fine.best()["lr"]
    assert c2f.compute == (6 + 5) * 3


def test_coarse_to_fine_explains_itself(c2f) -> None:
    text = c2f.explanation
    assert f"so lr={rate(c2f.lr)}" in text
    assert "10 diverged" in text  # the largest decade blows up on blobs
    assert c2f.verdict().startswith(f"coarse_to_fine: lr={rate(c2f.lr)} ")
    assert c2f.to_dict()["decade"] == list(c2f.decade)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "words"), [
    (lambda t: grid(t, []), "empty"),
    (lambda t: grid(t, [0.1, -1.0]), "positive"),
    (lambda t: grid(t, [math.nan]), "positive"),
    (lambda t: grid(t, [0.1], epochs=0), "epochs"),
    (lambda t: grid(t, [0.1], optimizer="nope"), "unknown update rule"),
    (lambda t: grid(t, [0.1], optimizer=torch.optim.Adam),  # was "Input should be a valid string"
     "torch.optim.Adam where lrlab takes its update rule's name: give optimizer='adam'"),
    (lambda t: grid(t, [0.1], optimizer=torch.optim.LBFGS([torch.zeros(1)])),
     "torch.optim.LBFGS where lrlab takes its update rule's name (one of: adagrad, "),
    (lambda t: grid(t, [0.1], subset=0.0), "subset"),
    (lambda t: grid(t, [0.1], seeds=[1, 2]), "seeds"),
    (lambda t: coarse_to_fine(t, lo=1.0, hi=0.1), "decade"),
    (lambda t: coarse_to_fine(t, lo=0.01, hi=0.05), "decade"),
    (lambda t: coarse_to_fine(t, lo=0.0), "lo"),
    (lambda t: coarse_to_fine(t, fine=1), "fine"),
    (lambda t: coarse_to_fine(t, fine=2.5), "fine"),
    (lambda t: coarse_to_fine(t, fine=26),  # ran on: rates 1.096x apart, finer than it reads
     ("fine=26 puts the rates 1.096x apart across the decade, closer than coarse-to-fine "
      "tells apart (1.1x: 0.01 vs 0.011); give fine=25 or fewer")),
])
def test_bad_input_is_one_line(blobs, call, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        call(blobs)
    assert words in one_line(err)


def test_a_note_of_the_evidence_ends_the_explanation() -> None:
    """What the evidence showed that is no weakness (here a pick at the lowest rate searched
    with its neighbour within the noise: a plateau reaching the edge) is a note, not a
    warning, and it ends the explanation the CLI and the report print."""
    from lrlab.tasks import get_task

    result = grid(get_task("digits"), lrs=[0.5, 1.0], epochs=4)
    notes = result.confidence.notes
    assert result.lr == 0.5 and not result.warnings
    assert notes and notes[0].startswith("the pick 0.5 is the lowest rate searched, on a plateau")
    assert result.explanation.endswith(f" T{notes[0][1:]}.")
    assert result.to_dict()["confidence"]["notes"] == list(notes)


def test_coarse_to_fine_range_is_said_in_the_commands_flags(capsys) -> None:
    """``--lo 1 --hi 0.1``: every setting the line names is a flag (before: '--lo 1 and
    hi=0.1 must span ... e.g. --lo 1e-7, hi=1', half Python)."""
    code, _, err = run(capsys, "coarse-to-fine", "blobs", "--lo", "1", "--hi", "0.1")
    assert assert_bad_input(code, err) == (
        "error: --hi 0.1 must be a decade or more above the lowest rate (1, hi >= 10 * lo): "
        "give --hi 10 or more, or a lower lo")
