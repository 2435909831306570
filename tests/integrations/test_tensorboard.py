"""TensorBoard runs read back with TensorBoard's own event reader: every record of every
member, the rate per step, the hyperparameters, the range test; the command line's
``--tensorboard``; a missing package named in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import lrlab
from lrlab.cli import main
from lrlab.integrations import MissingExtra
from lrlab.integrations.tensorboard import (
    check_log_dir,
    run_name,
    write_tensorboard,
)
from lrlab.search import grid
from lrlab.train import SweepResult


def _read(run: Path) -> EventAccumulator:
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0,
                                                       "tensors": 0})
    events.Reload()
    return events


def _scalars(events: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in events.Scalars(tag)}


def _hparams(events: EventAccumulator) -> dict[str, float | str]:
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.number_value if v.HasField("number_value") else v.string_value
            for k, v in start.hparams.items()}


def _assert_runs_hold(result, root: Path) -> None:
    """Every member's run holds exactly its records (but ``time``), its steps' rates and
    its settings."""
    for row in result.members.itertuples(index=False):
        events = _read(root / run_name(row.member, row.label, len(result.members)))
        mine = result.records[(result.records["member"] == row.member)
                              & (result.records["metric"] != "time")]
        tags = {f"{s}/{m}" for s, m in zip(mine["split"], mine["metric"])}
        assert tags <= set(events.Tags()["scalars"])
        for (split, metric), rows in mine.groupby(["split", "metric"], observed=True):
            got = _scalars(events, f"{split}/{metric}")
            want = dict(zip(rows["epoch"].astype(int), rows["value"]))
            assert list(got) == list(want)  # a diverged member's epochs stop where its do
            np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-6)
        if result.steps is not None:
            rates = result.steps[(result.steps["member"] == row.member)
                                 & (result.steps["metric"] == "lr")]
            got = _scalars(events, "step/lr")
            assert list(got) == rates["step"].tolist()
            np.testing.assert_allclose(list(got.values()), rates["value"], rtol=1e-6)
        settings = _hparams(events)
        assert settings["lr"] == row.lr and settings["seed"] == row.seed
        assert settings["optimizer"] == row.optimizer


def test_a_sweep_writes_every_member_as_its_run(tmp_path: Path) -> None:
    result = lrlab.sweep("blobs", lrs=[10.0, 0.1], seeds=[0, 1], epochs=3, record_steps=True,
                         optimizer="momentum", tensorboard_dir=tmp_path)
    assert result.members["diverged"].any()  # lr 10 diverges: its runs stop with it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        run_name(k, label, 4) for k, label in zip(result.members["member"],
                                                  result.members["label"]))
    _assert_runs_hold(result, tmp_path)
    events = _read(tmp_path / run_name(3, result.members["label"][3], 4))
    assert _hparams(events)["momentum"] == pytest.approx(0.9)


def test_a_search_writes_each_population(tmp_path: Path) -> None:
    result = grid("blobs", lrs=[1.0, 0.1], epochs=2, confirm=True)
    write_tensorboard(result, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"stage1", "confirm"}
    _assert_runs_hold(result.evidence[0], tmp_path / "stage1")
    _assert_runs_hold(result.confirmation, tmp_path / "confirm")


def test_the_range_test_curve_figure_and_readings(tmp_path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x = torch.randn(200, 2)
    y = (x[:, 0] > 0).long()
    result = lrlab.find_lr(nn.Linear(2, 2), nn.CrossEntropyLoss(), (x, y), start=1e-3,
                           end=10.0, steps=30, val_data=(x, y), eval_every=10)
    write_tensorboard(result, tmp_path)
    events = _read(tmp_path)
    for tag, values in (("lr", result.lrs), ("loss", result.losses),
                        ("smoothed", result.smoothed)):
        got = _scalars(events, f"range_test/{tag}")
        assert list(got) == list(range(len(values)))
        np.testing.assert_allclose(list(got.values()), values, rtol=1e-6)
    evaluated = np.flatnonzero(~np.isnan(result.val_accuracy))
    assert list(_scalars(events, "range_test/val_accuracy")) == evaluated.tolist()
    image = events.Images("range_test/figure")[0]
    assert image.width > 100 and image.height > 100
    text = events.Tensors("range_test/readings/text_summary")[0].tensor_proto.string_val[0].decode()
    assert f"| suggestion | {result.suggestion.lr:.4g} |" in text


def test_the_command_line_writes_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    board = tmp_path / "tb"
    code = main(["sweep", "blobs", "--lrs", "1,0.1", "--epochs", "2", "-q", "--out",
                 str(tmp_path / "run"), "--tensorboard", str(board)])
    assert code == 0, capsys.readouterr().err
    _assert_runs_hold(SweepResult.load(tmp_path / "run"), board)
    code = main(["find", "blobs", "--steps", "20", "--tensorboard", str(tmp_path / "find")])
    assert code == 0, capsys.readouterr().err
    assert "range_test/loss" in _read(tmp_path / "find").Tags()["scalars"]
    code = main(["grid", "blobs", "--lrs", "1,0.1", "--epochs", "1", "--out",
                 str(tmp_path / "grid"), "--tensorboard", str(tmp_path / "search")])
    assert code == 0, capsys.readouterr().err
    _assert_runs_hold(SweepResult.load(tmp_path / "grid" / "stage1"), tmp_path / "search" / "stage1")


def test_a_run_written_again_into_the_same_folder_warns(tmp_path: Path) -> None:
    """TensorBoard reads every event file of a run's folder as one run: a sweep written
    again into the same folder drew both as one zigzag line per member, silently. Now one
    ``lrlab:`` warning names the folder (nothing is removed); runs of other names, none."""
    lrlab.sweep("blobs", lrs=[1.0, 0.1], epochs=1, tensorboard_dir=tmp_path)
    lrlab.sweep("blobs", lrs=[0.3, 0.03], epochs=1, tensorboard_dir=tmp_path)  # other names
    with pytest.warns(UserWarning, match=r"lrlab: .* already holds the TensorBoard run 0_lr=1 "
                                         r"\(and 1 more\): TensorBoard draws both .* new folder"):
        lrlab.sweep("blobs", lrs=[1.0, 0.1], epochs=1, tensorboard_dir=tmp_path)
    assert len(list((tmp_path / "0_lr=1").glob("events.out.tfevents*"))) == 2  # both kept


def test_a_file_in_the_way_is_refused_before_training(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "tb").write_text("not a folder")
    code = main(["sweep", "blobs", "--lrs", "0.1", "--epochs", "1", "-q", "--tensorboard",
                 str(tmp_path / "tb"), "--study", "never"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --tensorboard") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_without_the_package_one_line_names_the_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(MissingExtra, match=r"^TensorBoard logging needs the tensorboard "
                                           r"package: pip install 'lrlab\[tensorboard\]'$"):
        check_log_dir("anywhere")
