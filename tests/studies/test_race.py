"""The race: rules in one population, entries parsed at the edge, the claim from records."""

from __future__ import annotations

import pandas as pd
import pytest

from lrlab import LrlabError
from lrlab.studies import RaceResult, parse_entry, race
from lrlab.tasks import get_task
from lrlab.train import SweepResult


def test_a_small_race_saves_loads_and_reports(tmp_path) -> None:
    result = race(get_task("blobs"), ["sgd:lr=0.3/0.1", "prodigy"], epochs=2, batch_size=128)
    assert result.run.members["optimizer"].tolist() == ["sgd", "sgd", "prodigy"]
    table = result.table().set_index("rule")
    assert table.loc["sgd", "rates"] == 2 and bool(table.loc["prodigy", "free"])
    result.save(tmp_path / "r")
    back = RaceResult.load(tmp_path / "r")
    assert back.verdict() == result.verdict()
    assert "untuned, each learning-rate-free rule" in result.write_report(
        tmp_path / "r.html").read_text()


def _made(finals: dict[str, list[float]]) -> RaceResult:
    """One member per (rule, value): the value its final validation accuracy."""
    rows, members = [], []
    for rule, values in finals.items():
        for seed, value in enumerate(values):
            k = len(members)
            rows += [(k, 1, "val", "accuracy", value), (k, 1, "val", "loss", 1 - value),
                     (k, 1, "train", "loss", 1.0)]
            members.append({"member": k, "label": f"{rule} {seed}", "lr": 1.0,
                            "optimizer": rule, "seed": seed, "diverged": False,
                            "diverged_epoch": pd.NA})
    run = SweepResult("made", "accuracy", True, {}, pd.DataFrame(
        rows, columns=["member", "epoch", "split", "metric", "value"]),
        pd.DataFrame(members).astype({"diverged_epoch": "Int64"}))
    return RaceResult(run, tuple(finals))


@pytest.mark.parametrize("finals, verdict", [
    ({"adam": [0.90, 0.90], "prodigy": [0.89, 0.89], "dog": [0.885, 0.885]}, "holds"),
    ({"adam": [0.90, 0.90], "prodigy": [0.95, 0.95], "dog": [0.80, 0.80]}, "partly"),
    ({"adam": [0.90, 0.90], "prodigy": [0.85, 0.85]}, "does not hold"),
    ({"adam": [0.90, 0.90], "sgd": [0.85, 0.85]}, "not run"),
])
def test_claim_follows_the_records(finals, verdict) -> None:
    """Within 2% of the best tuned rule (0.90: down to 0.882) counts as a match."""
    assert _made(finals).claims()[0].verdict == verdict


def test_a_free_rule_ahead_of_the_tuned_is_said_ahead() -> None:
    """Each free rule's gap to the best tuned one reads as words, not a sign: ahead of it by
    5.6% (before: "(-5.6% behind)"), behind by 11.1%."""
    measured = _made({"adam": [0.90, 0.90], "prodigy": [0.95, 0.95],
                      "dog": [0.80, 0.80]}).claims()[0].measured
    assert "prodigy 0.9500 (5.6% ahead)" in measured and "dog 0.8000 (11.1% behind)" in measured


@pytest.mark.parametrize("text, words", [
    ("nope", "unknown update rule 'nope'"),
    ("adam", "needs its rates"),
    ("adam:lr=x", "must be lr=A/B/C or key=number"),
    ("adam:beta1=0.9/0.8", "must be lr=A/B/C or key=number"),
    # a rate twice trained two identical members unsaid (a sweep's --lrs refuses it)
    ("adam:lr=0.1/0.1", r"^adam:lr=0.1/0.1: lists the rate 0.1 twice; give each once$"),
    # the rule named (was "lrs.0: learning rates must be positive and finite, got -1.0")
    ("adam:lr=0.1/-1", r"^adam:lr=0.1/-1: rates must be positive and finite, got -1$"),
])
def test_bad_entries_are_one_line(text, words) -> None:
    with pytest.raises(LrlabError, match=words) as err:
        parse_entry(text)
    assert "\n" not in str(err.value)


def test_entries_and_settings_are_checked_before_training() -> None:
    assert parse_entry("prodigy:d_coef=0.5") == ("prodigy", [1.0], {"d_coef": 0.5})
    task = get_task("blobs")
    for entries, words in ((["adam:lr=0.1"], "two or more distinct rules"),
                           (["adam:lr=0.1", "adam:lr=0.01"], "two or more distinct rules"),
                           (["adam:lr=0.1,beta1=2", "prodigy"], "beta1=2 must be in"),
                           (["adam:lr=0.1,d0=1", "prodigy"], "adam takes no 'd0'")):
        with pytest.raises(LrlabError, match=words):
            race(task, entries, epochs=1)
    with pytest.raises(LrlabError, match="sets optimizer itself"):
        race(task, ["adam:lr=0.1", "prodigy"], optimizer="sgd")
