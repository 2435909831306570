"""Tests for the epoch loop (sweep, train, fit), its settings and SweepResult."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import no_time_sorted, one_line

from lrlab import sweep, train
from lrlab._errors import LrlabError
from lrlab.tasks import Split, Task
from lrlab.train import SweepResult, parse_lrs

TRAIN_METRICS = {"loss", "accuracy", "error", "sse", "auc", "grad_norm", "grad_norm_max",
                 "lr", "time"}
VAL_METRICS = {"loss", "accuracy", "error", "sse", "auc"}


def member_records(records: pd.DataFrame, member: int, *, as_member: int = 0) -> pd.DataFrame:
    """One member's records (no time), renumbered as ``as_member``."""
    out = no_time_sorted(records)
    out = out[out["member"] == member].copy()
    out["member"] = as_member
    return out.reset_index(drop=True)


def assert_same_member(a: pd.DataFrame, ka: int, b: pd.DataFrame, kb: int, *,
                       atol: float = 0.0) -> None:
    """Member ``ka`` of records ``a`` has the records of member ``kb`` of ``b`` (to atol)."""
    ra, rb = member_records(a, ka), member_records(b, kb)
    assert not ra.empty
    pd.testing.assert_frame_equal(ra.drop(columns="value"), rb.drop(columns="value"))
    np.testing.assert_allclose(ra["value"].to_numpy(), rb["value"].to_numpy(),
                               rtol=0, atol=atol, equal_nan=True)


@pytest.fixture(scope="module")
def base() -> SweepResult:
    """A 3-epoch sweep of two rates on blobs."""
    return sweep("blobs", lrs=[0.1, 0.01], epochs=3)


# --- records -----------------------------------------------------------------------------


def test_records_are_complete(base: SweepResult) -> None:
    """Every (member, epoch 1..3, split, metric) is recorded exactly once."""
    rec = base.records
    assert list(rec.columns) == ["member", "epoch", "split", "metric", "value"]
    have = {str(m) for m in rec.loc[rec["split"] == "train", "metric"]}
    assert TRAIN_METRICS <= have
    have_val = {str(m) for m in rec.loc[rec["split"] == "val", "metric"]}
    assert VAL_METRICS <= have_val
    assert set(rec["split"].astype(str)) == {"train", "val"}
    expected = {(k, e, "train", m) for k, e, m in itertools.product([0, 1], [1, 2, 3], have)}
    expected |= {(k, e, "val", m) for k, e, m in itertools.product([0, 1], [1, 2, 3], have_val)}
    keys = list(zip(rec["member"], rec["epoch"], rec["split"].astype(str),
                    rec["metric"].astype(str)))
    assert len(keys) == len(set(keys))
    assert set(keys) == expected


def test_records_values_are_consistent(base: SweepResult) -> None:
    """Values are finite; error = 1 - accuracy; lr is the member's rate; AUC in [0, 1]."""
    rec = base.records
    assert np.isfinite(rec["value"].to_numpy()).all()

    def values(split: str, metric: str) -> pd.Series:
        rows = rec[(rec["split"] == split) & (rec["metric"] == metric)]
        return rows.set_index(["member", "epoch"])["value"].sort_index()

    for split in ("train", "val"):
        np.testing.assert_allclose(values(split, "error"), 1 - values(split, "accuracy"))
        auc = values(split, "auc")
        assert ((auc >= 0) & (auc <= 1)).all()
    lr = values("train", "lr")
    np.testing.assert_allclose(lr.xs(0, level="member"), 0.1, rtol=1e-6)
    np.testing.assert_allclose(lr.xs(1, level="member"), 0.01, rtol=1e-6)
    assert (values("train", "grad_norm_max") >= values("train", "grad_norm") - 1e-9).all()
    for k in (0, 1):
        elapsed = values("train", "time").xs(k, level="member").to_numpy()
        assert (elapsed > 0).all() and (np.diff(elapsed) >= 0).all()


def test_members_table_and_labels(base: SweepResult) -> None:
    """The members table lists each rate with its label, seed and no divergence."""
    m = base.members
    assert m["member"].tolist() == [0, 1]
    assert m["label"].tolist() == ["lr=0.1", "lr=0.01"]
    assert m["lr"].tolist() == [0.1, 0.01]
    assert m["seed"].tolist() == [0, 0]
    assert (m["optimizer"] == "sgd").all()
    assert not m["diverged"].any()
    assert m["diverged_epoch"].isna().all()
    assert base.task == "blobs" and base.monitor == "auc" and base.higher_is_better


def test_training_improves_blobs(base: SweepResult) -> None:
    """At lr=0.1 the validation loss falls over three epochs."""
    curve = base.curve("loss", "val")
    assert list(curve.columns) == ["lr=0.1", "lr=0.01"]
    assert curve["lr=0.1"].iloc[-1] < curve["lr=0.1"].iloc[0]


# --- determinism and shared starts -------------------------------------------------------


def test_same_seed_same_records(base: SweepResult) -> None:
    """Two runs with the same seed give identical records (time aside)."""
    again = sweep("blobs", lrs=[0.1, 0.01], epochs=3)
    pd.testing.assert_frame_equal(no_time_sorted(base.records), no_time_sorted(again.records))


def test_other_seed_other_records(base: SweepResult) -> None:
    """Another seed gives other initial weights and order, hence other records."""
    other = sweep("blobs", lrs=[0.1, 0.01], epochs=3, seed=1)
    a, b = no_time_sorted(base.records), no_time_sorted(other.records)
    assert a[["member", "epoch", "split", "metric"]].equals(b[["member", "epoch", "split",
                                                                "metric"]])
    loss = (a["metric"] == "loss").to_numpy()
    assert not np.allclose(a["value"].to_numpy()[loss], b["value"].to_numpy()[loss])
    assert other.members["seed"].tolist() == [1, 1]


def test_equal_rates_train_identically_and_like_a_lone_member() -> None:
    """Default: every member starts from the same weights and order (float64, 1e-12)."""
    both = sweep("blobs", lrs=[0.1, 0.1, 0.01], epochs=2, dtype="float64")
    assert_same_member(both.records, 0, both.records, 1)
    alone = train("blobs", lr=0.01, epochs=2, dtype="float64")
    assert_same_member(both.records, 2, alone.records, 0, atol=1e-12)
    assert both.members["label"].tolist() == ["lr=0.1", "lr=0.1", "lr=0.01"]


def test_seeds_cross_rates_and_seeds() -> None:
    """seeds=[0, 1] crosses rates x seeds; each seed member matches a lone sweep at that seed."""
    result = sweep("blobs", lrs=[0.1, 0.01], seeds=[0, 1], epochs=2, dtype="float64")
    m = result.members
    assert m["label"].tolist() == ["lr=0.1 seed=0", "lr=0.1 seed=1",
                                   "lr=0.01 seed=0", "lr=0.01 seed=1"]
    assert m["lr"].tolist() == [0.1, 0.1, 0.01, 0.01]
    assert m["seed"].tolist() == [0, 1, 0, 1]
    assert set(result.records["member"]) == {0, 1, 2, 3}
    a, b = member_records(result.records, 0), member_records(result.records, 1)
    assert not np.allclose(a["value"], b["value"])
    lone = train("blobs", lr=0.1, seed=1, epochs=2, dtype="float64")
    assert_same_member(result.records, 1, lone.records, 0, atol=1e-12)


# --- divergence --------------------------------------------------------------------------


def test_exploding_member_is_flagged_and_isolated() -> None:
    """lr=1e4 diverges in epoch 1: flagged, its records stop, the others are unaffected."""
    with_bad = sweep("blobs", lrs=[1e4, 0.1, 0.01], epochs=3, dtype="float64")
    without = sweep("blobs", lrs=[0.1, 0.01], epochs=3, dtype="float64")
    m = with_bad.members
    assert m["diverged"].tolist() == [True, False, False]
    assert m.loc[0, "diverged_epoch"] == 1
    assert pd.isna(m.loc[1, "diverged_epoch"]) and pd.isna(m.loc[2, "diverged_epoch"])
    assert m.loc[0, "diverged_step"] >= 1
    rec = with_bad.records
    assert set(rec.loc[rec["member"] == 0, "epoch"]) == {1}
    assert set(rec.loc[rec["member"] == 1, "epoch"]) == {1, 2, 3}
    assert_same_member(with_bad.records, 1, without.records, 0)
    assert_same_member(with_bad.records, 2, without.records, 1)
    summary = with_bad.summary()
    assert summary.loc[0, "diverged_epoch"] == 1
    assert with_bad.best()["label"] in ("lr=0.1", "lr=0.01")
    verdict = with_bad.verdict()
    assert verdict.startswith(("best: lr=0.1", "best: lr=0.01"))
    assert "diverged: lr=10000" in verdict


def test_member_with_nan_validation_still_summarises() -> None:
    """A member whose outputs overflow to NaN (lr=1e20) does not break summary or verdict."""
    result = sweep("blobs", lrs=[1e20, 0.1], epochs=2)
    assert result.members["diverged"].tolist() == [True, False]
    summary = result.summary()
    assert len(summary) == 2
    assert pd.isna(summary.loc[0, "best_val_auc"])
    assert result.best()["label"] == "lr=0.1"
    assert result.verdict().startswith("best: lr=0.1 ")


# --- summary, best, verdict on a constructed case ----------------------------------------


def constructed(monitor: str, curves: dict[int, list[float]], losses: dict[int, list[float]],
                diverged: dict[int, int] | None = None) -> SweepResult:
    """A SweepResult built by hand: val ``monitor`` and val/train loss curves per member."""
    diverged = diverged or {}
    rows = []
    for k, curve in curves.items():
        for e, v in enumerate(curve, start=1):
            rows.append((k, e, "val", monitor, v))
            if monitor != "loss":
                rows.append((k, e, "val", "loss", losses[k][e - 1]))
            rows.append((k, e, "train", "loss", losses[k][e - 1] + 0.5))
    records = pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])
    lrs = [1.0, 0.1, 0.01, 0.001, 10.0][: len(curves)]
    members = pd.DataFrame({
        "member": list(curves), "label": [f"lr={lr:g}" for lr in lrs], "lr": lrs,
        "optimizer": "sgd", "seed": 0,
        "diverged": [k in diverged for k in curves],
        "diverged_epoch": pd.array([diverged.get(k) for k in curves], dtype="Int64"),
    })
    return SweepResult(task="made", monitor=monitor, higher_is_better=monitor not in (
        "loss", "error", "sse"), config={"optimizer": "sgd"}, records=records, members=members)


def test_summary_best_verdict_higher_is_better() -> None:
    """AUC: the best member has the highest best-epoch value; ties go to lower final loss."""
    result = constructed(
        "auc",
        {0: [0.70, 0.80, 0.75], 1: [0.60, 0.90, 0.85], 2: [0.50, 0.60, 0.70],
         3: [0.90, 0.88, 0.86], 4: [0.40]},
        {0: [1.0, 0.9, 0.8], 1: [1.0, 0.7, 0.6], 2: [1.0, 0.9, 0.8], 3: [0.5, 0.6, 0.7],
         4: [9.0]},
        diverged={4: 1},
    )
    s = result.summary().set_index("label")
    assert s.loc["lr=0.1", "final_val_auc"] == pytest.approx(0.85)
    assert s.loc["lr=0.1", "best_val_auc"] == pytest.approx(0.90)
    assert s.loc["lr=0.1", "best_epoch"] == 2
    assert s.loc["lr=0.1", "final_val_loss"] == pytest.approx(0.6)
    assert s.loc["lr=0.1", "final_train_loss"] == pytest.approx(1.1)
    assert s.loc["lr=0.001", "best_epoch"] == 1
    assert s.loc["lr=10", "final_val_auc"] == pytest.approx(0.40)
    assert s.loc["lr=10", "diverged_epoch"] == 1
    assert pd.isna(s.loc["lr=1", "diverged_epoch"])
    # members 1 and 3 tie at 0.90; member 1 ends with the lower validation loss
    assert result.best()["label"] == "lr=0.1"
    # the basin is judged on final values: 0.001 ends best (0.86), 0.01 next to it is bad
    assert result.verdict() == ("best: lr=0.1 (validation auc 0.9000 at epoch 2 of 3); "
                                "good rates (final validation auc within 5% of the best): "
                                "only 0.001, at the edge of the rates swept, "
                                "around 0.001, the best final auc (0.8600), where 0.1 ended at "
                                "0.8500; diverged: lr=10")


def test_summary_best_verdict_lower_is_better() -> None:
    """Loss as monitor: the lowest validation loss wins."""
    result = constructed(
        "loss",
        {0: [1.0, 0.5, 0.6], 1: [1.0, 0.8, 0.4], 2: [1.0, 0.9, 0.95]},
        {0: [1.0, 0.5, 0.6], 1: [1.0, 0.8, 0.4], 2: [1.0, 0.9, 0.95]},
    )
    assert not result.higher_is_better
    s = result.summary().set_index("label")
    assert s.loc["lr=1", "best_val_loss"] == pytest.approx(0.5)
    assert s.loc["lr=1", "best_epoch"] == 2
    assert result.best()["label"] == "lr=0.1"
    assert result.verdict() == ("best: lr=0.1 (validation loss 0.4000 at epoch 3 of 3); good "
                                "rates (final validation loss within 5% of the best): only 0.1")


def test_verdict_when_every_member_diverged() -> None:
    """Every member diverged: the verdict says so and suggests smaller rates."""
    result = constructed("auc", {0: [0.5], 1: [0.6]}, {0: [5.0], 1: [6.0]},
                         diverged={0: 1, 1: 1})
    verdict = result.verdict()
    assert verdict.startswith("every member diverged")
    assert "smaller" in verdict


def test_curve_of_unknown_metric() -> None:
    """curve() of a metric that was not recorded raises one line listing what was."""
    result = constructed("auc", {0: [0.5]}, {0: [1.0]})
    with pytest.raises(LrlabError) as err:
        result.curve("nope")
    assert "auc" in one_line(err)


def test_curve_of_an_unknown_split_names_the_splits() -> None:
    """curve() of a split not recorded ('test': lrlab keeps the test set apart) names the
    splits the records hold, and a metric missing from one split lists that split's metrics
    (before: 'no test records of 'auc'; recorded: ...', every split's metrics)."""
    result = constructed("auc", {0: [0.5]}, {0: [1.0]})
    with pytest.raises(LrlabError) as err:
        result.curve("auc", "test")
    assert one_line(err) == "no split 'test'; the records hold train, val"
    with pytest.raises(LrlabError) as err:
        result.curve("auc", "train")
    assert one_line(err) == "no train records of 'auc'; recorded for train: loss"


# --- save and load -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_save_load_round_trip(base: SweepResult, tmp_path: Path, fmt: str) -> None:
    """save() then SweepResult.load() gives back records, members and the summary."""
    out = tmp_path / "run"
    written = base.save(out, format=fmt)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"records.{fmt}", f"members.{fmt}", "summary.json"])
    assert sorted(p.name for p in written) == names
    meta = json.loads((out / "summary.json").read_text())
    assert meta["verdict"] == base.verdict()
    assert meta["task"] == "blobs" and meta["monitor"] == "auc"
    loaded = SweepResult.load(out)
    assert loaded.steps is None
    assert (loaded.task, loaded.monitor, loaded.higher_is_better) == ("blobs", "auc", True)
    assert loaded.config == json.loads(json.dumps(base.config))

    def plain(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for col in ("split", "metric"):
            if col in df:
                df[col] = df[col].astype(str)
        return df

    pd.testing.assert_frame_equal(plain(loaded.records), plain(base.records), check_dtype=False,
                                  rtol=0, atol=0)
    pd.testing.assert_frame_equal(plain(loaded.members), plain(base.members), check_dtype=False)
    assert loaded.verdict() == base.verdict()


@pytest.fixture(scope="module")
def stepped() -> SweepResult:
    """A 2-epoch sweep of two rates on blobs with per-step records."""
    return sweep("blobs", lrs=[0.1, 0.01], epochs=2, record_steps=True)


def test_save_and_load_steps(stepped: SweepResult, tmp_path: Path) -> None:
    """record_steps=True: the steps table is written and read back."""
    result = stepped
    result.save(tmp_path)
    assert (tmp_path / "steps.csv").is_file()
    loaded = SweepResult.load(tmp_path)
    assert loaded.steps is not None and len(loaded.steps) == len(result.steps)


def test_save_refuses_a_file_and_load_refuses_an_empty_dir(base: SweepResult,
                                                           tmp_path: Path) -> None:
    """save() into an existing file, or load() of a directory without records, raise one line."""
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    with pytest.raises(LrlabError) as err:
        base.save(target)
    one_line(err)
    assert target.read_text() == "keep me"
    with pytest.raises(LrlabError) as err:
        SweepResult.load(tmp_path)
    one_line(err)


# --- record_steps ------------------------------------------------------------------------


def test_record_steps_table(stepped: SweepResult, base: SweepResult) -> None:
    """record_steps=True: one row per member per step per metric (loss, lr, grad_norm)."""
    steps = stepped.steps
    assert steps is not None
    per_epoch = 500 // 50
    metrics = set(steps["metric"])
    assert {"loss", "lr", "grad_norm"} <= metrics
    assert len(steps) == 2 * 2 * per_epoch * len(metrics)
    keys = list(zip(steps["member"], steps["step"], steps["metric"]))
    assert len(set(keys)) == len(keys)
    assert set(steps["step"]) == set(range(1, 2 * per_epoch + 1))
    epochs = steps.groupby("step")["epoch"].first()
    assert (epochs == (epochs.index - 1) // per_epoch + 1).all()
    lr = steps[steps["metric"] == "lr"].groupby("member")["value"].unique()
    np.testing.assert_allclose(np.concatenate(lr.to_numpy()), [0.1, 0.01], rtol=1e-6)
    assert base.steps is None


# --- bad settings ------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [
    {"lrs": []},
    {"lrs": [-0.1]},
    {"lrs": [0.0]},
    {"lrs": [math.nan]},
    {"lrs": [math.inf]},
    {"lrs": [0.1, -1.0]},
    {"lrs": [0.1], "epochs": 0},
    {"lrs": [0.1], "batch_size": 0},
    {"lrs": [0.1], "optimizer": "nope"},
    {"lrs": [0.1], "hparams": {"momentum": 0.9}},
    {"lrs": [0.1], "optimizer": "adam", "hparams": {"momentum": 0.9}},
    {"lrs": [0.1], "seeds": []},
    {"lrs": [0.1], "unknown_setting": 1},
    {"lrs": [0.1], "epochs": 1, "batch_size": 501},
], ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_bad_settings(settings: dict) -> None:
    """Bad settings raise one LrlabError line before (or instead of) training."""
    with pytest.raises(LrlabError) as err:
        sweep("blobs", **settings)
    one_line(err)


def test_batch_size_larger_than_training_set_is_named() -> None:
    """A batch larger than the training set names both numbers."""
    with pytest.raises(LrlabError) as err:
        sweep("blobs", lrs=[0.1], epochs=1, batch_size=501)
    message = one_line(err)
    assert "501" in message and "500" in message


def test_other_optimizer_and_hparams_train() -> None:
    """momentum with its own momentum trains and records the hyperparameter per member."""
    result = sweep("digits", lrs=[0.1, 0.01], optimizer="momentum", hparams={"momentum": 0.9},
                   epochs=1, batch_size=64)
    assert result.members["momentum"].tolist() == pytest.approx([0.9, 0.9], rel=1e-6)
    assert (result.members["optimizer"] == "momentum").all()
    assert result.monitor == "accuracy"


def test_members_table_records_hparams_as_given() -> None:
    """The members table holds the hyperparameters as requested, like lr (not float32-rounded)."""
    result = sweep("blobs", lrs=[0.1], optimizer="momentum", hparams={"momentum": 0.9},
                   epochs=1)
    assert result.members["lr"].tolist() == [0.1]
    assert result.members["momentum"].tolist() == [0.9]


# --- parse_lrs ---------------------------------------------------------------------------


def test_parse_lrs_comma_list() -> None:
    """parse_lrs reads a comma list of rates."""
    assert parse_lrs("1,0.1") == [1.0, 0.1]
    assert parse_lrs(" 0.5 ") == [0.5]
    assert parse_lrs("1e-3, 2e-3") == [0.001, 0.002]


def test_parse_lrs_logspace() -> None:
    """parse_lrs reads logspace:LO:HI:N as N log-spaced rates from LO to HI."""
    rates = parse_lrs("logspace:1e-4:1:5")
    assert len(rates) == 5
    np.testing.assert_allclose(rates, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-9)
    assert parse_lrs("logspace:0.1:0.1:1") == [0.1]


@pytest.mark.parametrize("text", ["abc", "1,,2", "logspace:0:1:3", "logspace:1e-3:1", "-1",
                                  "0", "nan", "inf", "", "logspace:1e-3:1:0",
                                  "logspace:1e-3:1:x", "1;2"])
def test_parse_lrs_rejects(text: str) -> None:
    """parse_lrs rejects malformed text, non-positive and non-finite rates with one line."""
    with pytest.raises(LrlabError) as err:
        parse_lrs(text)
    one_line(err)


def test_verdict_of_a_study_cut_short_names_the_planned_epochs() -> None:
    """A study still running (or interrupted) says how far it got of what was planned,
    not "of 3" as if three were all."""
    result = constructed(
        "loss",
        {0: [1.0, 0.5, 0.6], 1: [1.0, 0.8, 0.4], 2: [1.0, 0.9, 0.95]},
        {0: [1.0, 0.5, 0.6], 1: [1.0, 0.8, 0.4], 2: [1.0, 0.9, 0.95]},
    )
    result.epochs = 300
    assert result.verdict().startswith("best: lr=0.1 (validation loss 0.4000 at epoch 3 of 3 "
                                       "done, 300 planned)")


# --- no better than the majority class -------------------------------------------------


def test_verdict_says_when_no_rate_beat_the_majority_class() -> None:
    """Accuracy at the majority class's share: the verdict says accuracy cannot rank the
    rates (and drops the basin, where every rate is "good"); one rate above it: silent."""
    flat = constructed("accuracy", {0: [0.90, 0.90], 1: [0.88, 0.90], 2: [0.90, 0.89]},
                       {0: [0.4, 0.4], 1: [0.5, 0.4], 2: [0.4, 0.4]})
    flat.chance = 0.90
    verdict = flat.verdict()
    assert "no rate beat always answering the majority class (0.9000)" in verdict
    assert "rank by 'loss' instead" in verdict and "good rates" not in verdict
    better = constructed("accuracy", {0: [0.90, 0.91], 1: [0.88, 0.90], 2: [0.90, 0.89]},
                         {0: [0.4, 0.4], 1: [0.5, 0.4], 2: [0.4, 0.4]})
    better.chance = 0.90
    assert "majority" not in better.verdict() and "good rates" in better.verdict()
    error = constructed("error", {0: [0.10, 0.10], 1: [0.12, 0.10]},
                        {0: [0.4, 0.4], 1: [0.5, 0.4]})
    error.chance = 0.10
    assert "majority class (0.1000)" in error.verdict()
    # on 100 validation examples 0.91 is within the noise: 2 x sqrt(0.9 x 0.1 / 100) = 0.06
    better.val_examples = 100
    assert "majority class (0.9000) by more than the noise" in better.verdict()
    better.val_examples = 10_000  # 0.006: 0.91 learned
    assert "majority" not in better.verdict()


def test_majority_verdict_with_seeds_reads_the_rates_mean() -> None:
    """With seeds, a lucky seed above chance does not silence the warning: the rate's mean
    over its seeds is compared, as the ranking compares it."""
    rows = []
    for k, (curve, seed) in enumerate([([0.90, 0.95], 0), ([0.90, 0.90], 1),
                                       ([0.90, 0.90], 0), ([0.90, 0.90], 1)]):
        for e, v in enumerate(curve, start=1):
            rows += [(k, e, "val", "accuracy", v), (k, e, "val", "loss", 0.4),
                     (k, e, "train", "loss", 0.4)]
    records = pd.DataFrame(rows, columns=["member", "epoch", "split", "metric", "value"])
    members = pd.DataFrame({
        "member": [0, 1, 2, 3], "label": ["lr=1 seed=0", "lr=1 seed=1", "lr=0.1 seed=0",
                                          "lr=0.1 seed=1"],
        "lr": [1.0, 1.0, 0.1, 0.1], "optimizer": "sgd", "seed": [0, 1, 0, 1],
        "diverged": False, "diverged_epoch": pd.array([None] * 4, dtype="Int64")})
    result = SweepResult(task="made", monitor="accuracy", higher_is_better=True,
                         config={"optimizer": "sgd"}, records=records, members=members,
                         chance=0.90, val_examples=400)
    # lr=1's seed 0 reached 0.95 (2.5 noise units of 0.015 above chance), its mean 0.925 is
    # 1.67 units: not learned
    assert result.best()["label"] == "lr=1 seed=0"
    assert "no rate beat always answering the majority class" in result.verdict()


def test_the_evaluation_counts_the_validation_labels_by_hand() -> None:
    """The classes of the validation targets, counted while the untrained model is scored:
    from tensors, from a loader, and from a Dataset whose labels only ``__getitem__`` gives;
    an ignore_index label (-100) is no scored position (accuracy skips it, as the loss); 0/1
    float targets of one binary logit are two classes; a regression has none."""
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    from lrlab.metrics import LabelCounts
    from lrlab.train import untrained

    y = torch.tensor([0, 2, 2, 1, 2, -100, 2, 0])
    x = torch.randn(len(y), 3, generator=torch.Generator().manual_seed(0))
    model = lambda: torch.nn.Linear(3, 3)
    kept = y >= 0
    counts = tuple(torch.bincount(y[kept], minlength=3).tolist())  # the reference
    assert counts == (2, 1, 4)
    split = Task("t", Split(x[kept], y[kept]), Split(x[kept], y[kept]), model, num_classes=3)
    labels = untrained(split).labels
    assert labels == LabelCounts(examples=7, positions=7, counts=counts)
    assert labels.majority_share() == pytest.approx(4 / 7)
    loader = Task.from_loaders(model, DataLoader(TensorDataset(x, y.clamp(min=0))),
                               DataLoader(TensorDataset(x, y), batch_size=3),
                               loss=torch.nn.CrossEntropyLoss(), num_classes=3)
    assert untrained(loader).labels == LabelCounts(8, 7, counts)  # -100: not scored

    class Opaque(Dataset):  # labels only through __getitem__, in dicts
        def __len__(self) -> int:
            return int(kept.sum())

        def __getitem__(self, i: int) -> dict:
            return {"x": x[kept][i], "labels": y[kept][i]}

    class Keyword(torch.nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x)

    opaque = Task.from_loaders(lambda: Keyword(3, 3), DataLoader(Opaque(), batch_size=2),
                               DataLoader(Opaque(), batch_size=2),
                               loss=torch.nn.CrossEntropyLoss(), num_classes=3)
    assert untrained(opaque).labels == labels
    binary = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    one_logit = Task.from_loaders(lambda: torch.nn.Linear(3, 1),
                                  DataLoader(TensorDataset(x[:4], binary), batch_size=2),
                                  DataLoader(TensorDataset(x[:4], binary), batch_size=2),
                                  loss=torch.nn.BCEWithLogitsLoss())
    assert untrained(one_logit).labels == LabelCounts(4, 4, (3, 1))
    reg = Task("r", Split(x, y.float() / 3), Split(x, y.float() / 3),
               lambda: torch.nn.Linear(3, 1), loss=lambda out, t: (out[..., 0] - t).square(),
               num_classes=None, monitor="loss")
    assert untrained(reg).labels == LabelCounts(examples=8)
    assert math.isnan(untrained(reg).labels.chance("accuracy"))


def test_sweep_on_imbalanced_noise_says_nothing_learned(tmp_path) -> None:
    """A real sweep on 95%-one-class noise: no rate beats the majority class, the verdict
    says so, and the chance level survives save and load."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 5, generator=g)
    y = (torch.rand(600, generator=g) < 0.05).long()
    task = Task("noise", Split(x[:400], y[:400]), Split(x[400:], y[400:]),
                lambda: torch.nn.Linear(5, 2), num_classes=2, batch_size=50, epochs=2)
    result = sweep(task, lrs=[0.1, 0.01, 0.001])
    share = float((y[400:] == 0).float().mean())
    assert result.chance == pytest.approx(share)
    assert "no rate beat always answering the majority class" in result.verdict()
    result.save(tmp_path / "out")
    back = SweepResult.load(tmp_path / "out")
    assert back.chance == pytest.approx(share) and back.val_examples == 200
    assert back.verdict() == result.verdict()


@pytest.mark.parametrize("classes", [2, 3])
def test_a_loss_that_views_the_outputs_trains_and_evaluates(classes: int) -> None:
    """A narrow last layer's logits are a strided view of its class-major product; a task's
    own loss gets them contiguous, as a plain model gives them: ``.view()`` works, and the
    records equal those of the same loss written with ``reshape``."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=g)
    y = (x[:, 0] > 0).long() + (classes == 3) * (x[:, 1] > 0.5).long()

    def loss(flat):
        def per_sample(o, t):
            k, b, c = o.shape
            z = o.view(-1, c) if flat == "view" else o.reshape(-1, c)
            return torch.nn.functional.cross_entropy(z, t.expand(k, b).reshape(-1),
                                                     reduction="none").reshape(k, b)
        return per_sample

    def records(flat):
        task = Task("v", Split(x[:80], y[:80]), Split(x[80:], y[80:]),
                    lambda: torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                                torch.nn.Linear(8, classes)),
                    num_classes=classes, loss=loss(flat), batch_size=16, epochs=2)
        got = sweep(task, lrs=[0.1, 0.5]).records
        return got[got["metric"] != "time"].values.tolist()

    assert records("view") == records("reshape")


def test_clip_grad_norm_reaches_every_member_and_its_fingerprint(blobs) -> None:
    """fit(clip_grad_norm=c) clips every member's gradient (Population's clip, tested there
    against torch's clip_grad_norm_): the recorded gradient norms are the unclipped ones and
    the weights move less where they exceed c; a threshold above every norm trains as no
    clipping (to rounding); off, the fingerprint is the one from before the setting."""
    from types import SimpleNamespace

    from lrlab.train import Member, fingerprint, fit, validated

    def run(**extra):
        config = validated(lrs=[0.3, 3.0], epochs=2, dtype="float64", record_steps=True,
                           **extra)
        return config, fit(blobs, config.members(), config)

    plain_config, plain = run()
    _, loose = run(clip_grad_norm=1e9)
    tight_config, tight = run(clip_grad_norm=0.05)
    steps = plain.steps
    norms = steps[steps["metric"] == "grad_norm"]["value"].to_numpy()
    assert (norms > 0.05).any()  # the tight threshold clips
    pd.testing.assert_frame_equal(no_time_sorted(plain.records), no_time_sorted(loose.records),
                                  rtol=1e-9, atol=1e-12)
    assert not np.allclose(plain.records.query("metric == 'loss'")["value"],
                           tight.records.query("metric == 'loss'")["value"])
    first = tight.steps[(tight.steps["metric"] == "grad_norm") & (tight.steps["step"] == 0)]
    assert np.allclose(first["value"], steps[(steps["metric"] == "grad_norm")
                                             & (steps["step"] == 0)]["value"])  # unclipped
    members = [Member(lr=0.3)]
    keys = {"epochs": 2, "batch_size": 8}
    assert (fingerprint(plain_config, members, **keys)
            != fingerprint(tight_config, members, **keys))
    without = plain_config.model_dump()
    del without["clip_grad_norm"]
    before = SimpleNamespace(model_dump=lambda: without)  # a config from before the field
    assert fingerprint(plain_config, members, **keys) == fingerprint(before, members, **keys)


def _off_centre_task(loaders: bool) -> Task:
    """Three classes of 4-d points far from the origin, a BatchNorm MLP with dropout,
    2 epochs of 10 steps: in tensors or through DataLoaders."""
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (240,), generator=g)
    x = torch.randn(3, 4, generator=g)[y] + torch.randn(240, 4, generator=g) + 4
    nn = torch.nn
    model = lambda: nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                  nn.Dropout(0.2), nn.Linear(16, 3))
    if loaders:
        return Task.from_loaders(model, DataLoader(TensorDataset(x[:160], y[:160]),
                                                   batch_size=16, shuffle=True),
                                 DataLoader(TensorDataset(x[160:], y[160:]), batch_size=40),
                                 loss=nn.CrossEntropyLoss(), num_classes=3, epochs=2)
    return Task("off", Split(x[:160], y[:160]), Split(x[160:], y[160:]), model,
                num_classes=3, epochs=2, batch_size=16)


@pytest.mark.parametrize("loaders", [False, True])
def test_norm_batches_rescore_the_evaluation_and_train_as_without(loaders: bool) -> None:
    """norm_batches=n scores every evaluation with BatchNorm's statistics recomputed from
    n training batches (Population.recomputed_norms, tested there against torch's
    cumulative average): the training records are bit for bit those without it (weights,
    running statistics and dropout draws go on as before), the validation records move; a
    model without BatchNorm records the same; off, the fingerprint is the one from before
    the setting."""
    from types import SimpleNamespace

    from lrlab.train import Member, fingerprint, validated

    task = _off_centre_task(loaders)
    plain, fresh = (sweep(task, lrs=[0.3, 0.03], **extra).records
                    for extra in ({}, {"norm_batches": 3}))
    split = lambda r, s: no_time_sorted(r[r["split"] == s])
    pd.testing.assert_frame_equal(split(plain, "train"), split(fresh, "train"))
    assert not np.allclose(split(plain, "val")["value"], split(fresh, "val")["value"])
    flat = task.replace(model=lambda: torch.nn.Sequential(torch.nn.Linear(4, 3)))
    pd.testing.assert_frame_equal(no_time_sorted(sweep(flat, lrs=[0.3]).records),
                                  no_time_sorted(sweep(flat, lrs=[0.3], norm_batches=3).records))
    config = validated(lrs=[0.3])
    without = config.model_dump()
    del without["norm_batches"]
    before = SimpleNamespace(model_dump=lambda: without)  # a config from before the field
    keys = {"epochs": 2, "batch_size": 16}
    assert (fingerprint(config, [Member(lr=0.3)], **keys)
            == fingerprint(before, [Member(lr=0.3)], **keys))


@pytest.mark.parametrize("loaders", [False, True])
def test_a_fit_rescored_from_its_checkpoints_equals_one_trained_with_the_scoring(
        loaders: bool) -> None:
    """rescored: a fit's evaluations redone from its checkpoints after each epoch (the
    earlier ones without the rule's state) under norm_batches=3 give the records and the
    last checkpoint of the fit trained with norm_batches=3, bit for bit (but time), with no
    training; a fit from that checkpoint goes on as from the trained one's."""
    from dataclasses import replace

    from lrlab.train import fit, fork, rescored, validated

    task = _off_centre_task(loaders)
    plain, fresh = validated(lrs=[0.3, 0.03], epochs=2), validated(lrs=[0.3, 0.03], epochs=2,
                                                                    norm_batches=3)
    saved, kept = [], []
    fit(task, plain.members(), plain, checkpoint_every=1, on_checkpoint=saved.append)
    trained = fit(task, fresh.members(), fresh, on_checkpoint=kept.append)
    saved[0] = replace(saved[0], population={k: v for k, v in saved[0].population.items()
                                             if k != "rule"}, records=[])
    result, last = rescored(task, fresh.members(), fresh, saved)
    pd.testing.assert_frame_equal(no_time_sorted(result.records),
                                  no_time_sorted(trained.records))
    assert last.fingerprint == kept[-1].fingerprint
    longer = validated(lrs=[0.3], epochs=3, norm_batches=3)
    on = [fit(task, longer.members(), longer,
              resume=fork(c, [0], task, longer.members(), longer)).records
          for c in (last, kept[-1])]
    pd.testing.assert_frame_equal(no_time_sorted(on[0]), no_time_sorted(on[1]))
    with pytest.raises(LrlabError) as err:
        rescored(task, fresh.members(), fresh, saved[1:])
    one_line(err, "rescoring needs the checkpoints after each of the 2 epochs, not after "
                  "epochs [2]")


@pytest.mark.parametrize("count, said", [(0, "(this machine has no CUDA device)"),
                                         (2, "(CUDA devices here: cuda:0 to cuda:1)")])
def test_a_missing_cuda_device_says_what_the_machine_has(monkeypatch, count, said) -> None:
    """``--device cuda:3``: one line naming what there is; on a machine without CUDA that is
    no device at all (before: "CUDA devices: 0", which read as if cuda:0 were there)."""
    from lrlab.train import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    with pytest.raises(LrlabError) as err:
        resolve_device("cuda:3")
    one_line(err, "device 'cuda:3' is not available here " + said)
