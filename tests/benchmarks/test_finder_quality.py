"""``benchmarks/finder_quality.py`` and its tasks: ``--redo`` names finders by whole words,
the goal line counts find's runs past its line and their warnings, and the unseen tasks'
hand-written recurrent cells are torch's LSTM and Elman cells."""

from __future__ import annotations

import json
import types

import pytest
import torch


@pytest.fixture
def bench(bench_import):
    return bench_import("finder_quality"), bench_import("finder_tasks")


def test_redo_names_finders_by_whole_words(bench):
    fq, _ = bench
    assert fq.named("lrlab find: suggestion", "find")
    assert fq.named("lrlab find: suggestion (adam)", "lrlab find")
    assert not fq.named("torch-lr-finder", "find")     # was rerun by --redo find
    assert fq.named("torch-lr-finder", "torch-lr-finder")
    assert fq.named("lrlab auto (adam)", "lrlab auto") and not fq.named("lrlab auto", "auto (")


def test_the_goal_line_counts_finds_past_five_points_and_their_warnings(bench):
    fq, _ = bench

    def row(finder, regret, note="", seed=0):
        return {"finder": finder, "regret": regret, "note": note, "regression": False,
                "lr": 0.1, "compute": 0.05, "task": "t", "seed": seed}

    rows = [row(fq.DEFAULT, 1.0), row(fq.FIND, 30.0, "no clear descent"), row(fq.FIND, 6.0),
            row(fq.FIND, 1.0), row(f"{fq.FIND} (adam)", 2.0)]
    text = fq.goal_text(rows)
    assert f"`{fq.FIND}`: worst 30.0 points, 2 runs over 5 (1 of them warned)" in text
    assert f"`{fq.FIND} (adam)`: worst 2.0 points, 0 runs over 5 (0 of them warned)" in text


def _cell_like(cell: torch.nn.Module, linear: torch.nn.Linear, inputs: int) -> torch.nn.Module:
    """torch's ``cell`` given the weights of a hand-written cell's one ``linear`` over
    ``[x, h]`` (input weights first, then the hidden ones; one bias)."""
    with torch.no_grad():
        cell.weight_ih.copy_(linear.weight[:, :inputs])
        cell.weight_hh.copy_(linear.weight[:, inputs:])
        cell.bias_ih.copy_(linear.bias)
        cell.bias_hh.zero_()
    return cell


def test_the_hand_written_cells_are_torchs(bench):
    """The LSTM and the tanh RNN unrolled by hand (so a population vectorises them) give
    torch.nn.LSTMCell's and RNNCell's last state with the same weights."""
    _, ft = bench
    torch.manual_seed(0)
    x = torch.randn(5, 7, 6)
    lstm = ft.LSTM(6, hidden=4)
    ref = _cell_like(torch.nn.LSTMCell(6, 4), lstm.gates, inputs=6)
    with torch.no_grad():
        h = c = torch.zeros(5, 4)
        for t in range(7):
            h, c = ref(x[:, t], (h, c))
        torch.testing.assert_close(lstm(x), lstm.head(h))
    rnn = ft.TanhRNN(6, hidden=4)
    cell = _cell_like(torch.nn.RNNCell(6, 4), rnn.cell, inputs=6)
    with torch.no_grad():
        h = torch.zeros(5, 4)
        for t in range(7):
            h = cell(x[:, t], h)
        torch.testing.assert_close(rnn(x), rnn.head(h))


def test_unseen_tasks_build_and_their_losses_are_per_sample(bench):
    _, ft = bench
    for name, make in ft.UNSEEN_TASKS.items():
        task = make()
        assert task.name == name and name not in ft.FINDER_TASKS
        out = task.init_model(0)(task.train.x[:3])
        assert out.shape == (3, task.num_classes or 1)
        assert task.loss(out.unsqueeze(0), task.train.y[:3]).shape == (1, 3)
    task = ft.UNSEEN_TASKS["sigmoid-mse"]()
    out, y = torch.randn(2, 3, 4), torch.tensor([0, 3, 1])
    onehot = torch.nn.functional.one_hot(y, 4).float()
    ref = torch.stack([torch.nn.functional.mse_loss(torch.sigmoid(o), onehot, reduction="none")
                       .mean(-1) for o in out])
    torch.testing.assert_close(task.loss(out, y), ref)
    task = ft.UNSEEN_TASKS["wide-regression"]()
    assert task.num_classes is None and task.monitor == "loss"
    out, y = torch.randn(2, 3, 1), torch.randn(3)
    torch.testing.assert_close(task.loss(out, y), (out.squeeze(-1) - y) ** 2)
    assert abs(float(task.train.y.mean())) < 1e-5 and abs(float(task.train.y.std()) - 1) < 1e-2


def test_hindsight_takes_the_rate_with_the_lowest_worst_regret_over_the_seeds(bench):
    """One grid rate per task, chosen knowing every seed: not the rate best on most seeds
    (0.1 wins two of three but loses 30 points on the third) but the one whose worst seed
    loses least (0.01: 1.5 points at worst); its regret is each seed's oracle minus its score,
    and a loss task's is the percent excess loss of that seed's best."""
    fq, _ = bench
    nan = float("nan")
    grids = {("t", "sgd"): {0: {0.01: 0.885, 0.1: 0.90, 1.0: nan},
                            1: {0.01: 0.89, 0.1: 0.90, 1.0: 0.10},
                            2: {0.01: 0.80, 0.1: 0.50, 1.0: 0.20}},
             ("r", "sgd"): {0: {0.01: 0.50, 0.1: 0.40}, 1: {0.01: 0.30, 0.1: 0.60}}}
    rows = [{"finder": fq.DEFAULT, "task": t, "family": "sgd", "regression": t == "r",
             "seed": s} for t in "tr" for s in range(3 if t == "t" else 2)]
    out = fq.hindsight_rows(rows, grids)
    assert {r["finder"] for r in out} == {fq.HINDSIGHT}
    t = [r for r in out if r["task"] == "t"]
    assert [r["lr"] for r in t] == [0.01] * 3
    assert [round(r["regret"], 9) for r in t] == [1.5, 1.0, 0.0]
    assert [r["oracle_lr"] for r in t] == [0.1, 0.1, 0.01]
    r = [r for r in out if r["task"] == "r"]  # 0.01: +25%, 0%; 0.1: 0%, +100%
    assert [r_["lr"] for r_ in r] == [0.01, 0.01]
    assert [round(r_["regret"], 9) for r_ in r] == [25.0, 0.0]
    text = fq.hindsight_text(out)
    assert "Its worst: 1.5 points, regression 25.0%" in text
    assert "r (0.01: worst 25.0%)" in text and "t (" not in text


def test_rule_momentum_trains_the_sgd_family_with_momentum_oracles_and_finders_alike(
        bench, monkeypatch, tmp_path):
    """``--rule momentum``: the tasks trained with SGD get the heavy-ball rule (an Adam task
    keeps Adam), run_one's SGD oracle trains with it and is cached under a name of its own
    beside the shared Adam grid, torch-lr-finder's optimizer is torch's SGD with lrlab's
    momentum, and the section is its own; without it, all as before."""
    fq, _ = bench
    from lrlab.optim import RULES

    task = types.SimpleNamespace(name="t", description="", epochs=1, num_classes=3)
    monkeypatch.setattr(fq, "load", lambda name, _: (task, "adam" if name == "b" else "sgd"))
    calls, titles = [], []
    monkeypatch.setattr(fq, "run_one", lambda name, t, rule, seed, cache, redo, extra,
                        sgd_rule="sgd": calls.append((name, rule, sgd_rule)) or [])
    monkeypatch.setattr(fq, "report", lambda rows, tasks, seeds, title, sgd_rule="sgd":
                        titles.append((title, sgd_rule)) or title)
    out = tmp_path / "b.md"
    fq.main(["--tasks", "a,b", "--seeds", "1", "--cache", str(tmp_path), "--rule", "momentum",
             "--write", str(out)])
    assert calls == [("a", "momentum", "momentum"), ("b", "adam", "momentum")]
    assert titles[-1][1] == "momentum" and titles[-1][0].endswith("SGD with momentum 0.9")
    assert "<!-- finder_quality_momentum:start -->" in out.read_text()
    fq.main(["--tasks", "a", "--seeds", "1", "--cache", str(tmp_path), "--write", str(out)])
    assert calls[-1] == ("a", "sgd", "sgd") and titles[-1] == (
        "Finder quality: regret against oracle grids, several seeds", "sgd")
    assert "<!-- finder_quality:start -->" in out.read_text()

    trained = []
    monkeypatch.setattr(fq, "best_scores", lambda t, lrs, rule, seed:
                        trained.append((rule, len(lrs))) or {lr: 0.5 for lr in lrs})
    fq.scores(tmp_path, task, 0, "sgd", [0.123], "momentum")
    fq.scores(tmp_path, task, 0, "adam", [], "momentum")
    fq.scores(tmp_path, task, 0, "sgd", [])
    assert trained == [("momentum", 17), ("adam", 16), ("sgd", 16)]
    assert {p.name for p in tmp_path.glob("t-s0-*.json")} == {
        "t-s0-momentum.json", "t-s0-adam.json", "t-s0-sgd.json"}
    assert fq.cache_file(tmp_path, "t", 0, "picks", "momentum").name == "t-s0-picks-momentum.json"
    rows = [{"task": "t", "seed": 0, "family": "sgd"}]
    assert 0.123 not in fq.grids_of(tmp_path, rows, "momentum")[("t", "sgd")][0]

    for rule, nesterov in (("momentum", False), ("nesterov", True)):
        group = fq._torch_opt(rule)([torch.nn.Parameter(torch.zeros(2))], 0.1).param_groups[0]
        assert group["momentum"] == RULES[rule].defaults["momentum"] == 0.9
        assert group["nesterov"] is nesterov and group["lr"] == 0.1
    assert fq._torch_opt("sgd")([torch.nn.Parameter(torch.zeros(2))], 0.1).param_groups[0][
        "momentum"] == 0


def test_finds_three_rates_under_momentum_score_as_the_best_of_them(bench, monkeypatch,
                                                                     tmp_path):
    """Under momentum ``lrlab find`` says to train three rates and keep the best: that row is
    scored as the best of them on the seed's grid (the rates off the grid trained too), its
    lr the one kept, its compute the three full trainings on top of the range test."""
    fq, _ = bench
    task = types.SimpleNamespace(name="t", epochs=2, num_classes=3)
    grid = {lr: 0.5 for lr in fq.SGD_GRID} | {0.0464: 0.9}
    monkeypatch.setattr(fq, "best_scores", lambda t, lrs, rule, seed: {
        lr: grid.get(lr, 0.8 if lr == 0.0357 else float("nan")) for lr in lrs})
    pick = fq.Pick(fq.TRIES, "sgd", 0.357, 0.5 + 3 * 2, tries=[0.0357, 0.357, 0.714])
    monkeypatch.setattr(fq, "GROUPS", (lambda t, rule, seed: [pick],))
    rows = fq.run_one("t", task, "momentum", 0, tmp_path, None, False, "momentum")
    (row,) = [r for r in rows if r["finder"] == fq.TRIES]
    assert row["lr"] == 0.0357 and row["score"] == 0.8 and row["oracle_lr"] == 0.0464
    assert round(row["regret"], 9) == 10.0 and row["compute"] == (0.5 + 6) / (16 * 2)
    assert fq._group_of(fq.TRIES) == "range_picks"
    cached = fq.cache_file(tmp_path, "t", 0, "picks", "momentum").read_text()
    again = [fq.Pick(**d) for d in json.loads(cached)]
    assert again == [pick]
