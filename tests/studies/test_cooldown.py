"""The cooldown study: forked members equal plain runs, claims follow the records, bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import no_time

from lrlab import LrlabError, sweep
from lrlab.studies import CooldownResult, cooldown
from lrlab.tasks import get_task
from lrlab.train import SweepResult


@pytest.fixture(scope="module")
def study() -> CooldownResult:
    return cooldown(get_task("blobs"), lr=0.3, at=[0.5, 0.75], shapes=["linear", "1-sqrt"],
                    epochs=4, batch_size=128)


def test_forked_members_equal_a_plain_sweep_of_their_schedules(study) -> None:
    """The study forks after epoch 2; every record equals a sweep from scratch."""
    assert study.fork_epoch == 2 and study.epochs == 4
    specs = study.run.members["schedule"].tolist()
    assert specs == ["constant", "wsd:cooldown_frac=0.5,shape=linear",
                     "wsd:cooldown_frac=0.5,shape=1-sqrt",
                     "wsd:cooldown_frac=0.25,shape=linear",
                     "wsd:cooldown_frac=0.25,shape=1-sqrt"]
    plain = sweep("blobs", lrs=[0.3], schedules=specs, epochs=4, batch_size=128)
    pd.testing.assert_frame_equal(no_time(study.run.records), no_time(plain.records))


def test_save_load_and_report(study, tmp_path) -> None:
    study.save(tmp_path / "c")
    back = CooldownResult.load(tmp_path / "c")
    assert back.verdict() == study.verdict()
    assert [c.verdict for c in back.claims()] == [c.verdict for c in study.claims()]
    page = study.write_report(tmp_path / "c.html").read_text()
    assert "a cooldown at the end" in page and page.count("<img") == 2


def _made(losses: dict[str, list[float]]) -> CooldownResult:
    """A study whose members end at the given validation losses (one entry per seed)."""
    rows, members, k = [], [], 0
    for schedule, values in losses.items():
        for seed, value in enumerate(values):
            rows += [(k, 1, "val", "loss", value), (k, 1, "val", "auc", 0.9),
                     (k, 1, "train", "loss", value)]
            members.append({"member": k, "label": f"{schedule} seed={seed}", "lr": 0.1,
                            "optimizer": "sgd", "seed": seed, "schedule": schedule,
                            "diverged": False, "diverged_epoch": pd.NA})
            k += 1
    records = pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])
    run_ = SweepResult("made", "auc", True, {"optimizer": "sgd"}, records,
                       pd.DataFrame(members).astype({"diverged_epoch": "Int64"}))
    return CooldownResult(run_, 0.1, (0.7, 0.9), ("linear", "1-sqrt"), 1, 2)


LIN7, SQ7 = "wsd:cooldown_frac=0.3,shape=linear", "wsd:cooldown_frac=0.3,shape=1-sqrt"
LIN9, SQ9 = "wsd:cooldown_frac=0.1,shape=linear", "wsd:cooldown_frac=0.1,shape=1-sqrt"


@pytest.mark.parametrize("losses, verdicts", [
    # every cooldown clearly below 1.0; 1-sqrt below linear at both points
    ({"constant": [1.0, 1.0], LIN7: [0.8, 0.8], SQ7: [0.7, 0.7], LIN9: [0.9, 0.9],
      SQ9: [0.85, 0.85]}, ["holds", "holds"]),
    # one cooldown within the floor (0.5% of 1.0): partly; 1-sqrt wins at one point
    ({"constant": [1.0, 1.0], LIN7: [0.8, 0.8], SQ7: [0.9, 0.9], LIN9: [0.998, 0.998],
      SQ9: [0.95, 0.95]}, ["partly", "partly"]),
    # seeds disagree a lot: the margin (2 standard errors) swallows a 0.05 gain
    ({"constant": [1.0, 1.2], LIN7: [1.05, 1.05], SQ7: [1.05, 1.05], LIN9: [1.05, 1.05],
      SQ9: [1.05, 1.05]}, ["does not hold", "does not hold"]),
])
def test_claims_follow_the_records(losses, verdicts) -> None:
    assert [c.verdict for c in _made(losses).claims()] == verdicts


def test_the_shape_claim_needs_both_shapes() -> None:
    result = _made({"constant": [1.0], LIN7: [0.8]})
    result.shapes = ("linear",)
    assert result.claims()[1].verdict == "not run"


@pytest.mark.parametrize("kwargs, words", [
    ({"at": [1.2]}, "outside training"),
    ({"at": [0.0]}, "outside training"),
    ({"at": [0.1]}, "falls in the first epoch"),
    ({"at": []}, "at least one fork point"),
    ({"shapes": ["exp"]}, "unknown cooldown shape 'exp'"),
    ({"schedules": ["cosine"]}, "sets schedules itself"),
    # the study's own lr (was the sweep's "lrs.0: learning rates must be positive ...")
    ({"lr": -1.0}, r"^lr must be a finite number > 0, got -1.0; e.g. lr=0.1$"),
])
def test_bad_input_is_one_line(kwargs, words) -> None:
    settings = {"lr": 0.1, "epochs": 4, **kwargs}
    with pytest.raises(LrlabError, match=words) as err:
        cooldown(get_task("blobs"), **settings)
    assert "\n" not in str(err.value)
