"""``benchmarks/finder_quality.py`` and its tasks: ``--redo`` names finders by whole words,
and the unseen tasks' hand-written recurrent cells are torch's LSTM and Elman cells."""

from __future__ import annotations

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


def test_the_hand_written_cells_are_torchs(bench):
    """The LSTM and the tanh RNN unrolled by hand (so a population vectorises them) give
    torch.nn.LSTMCell's and RNNCell's last state with the same weights."""
    _, ft = bench
    torch.manual_seed(0)
    x = torch.randn(5, 7, 6)
    lstm = ft.LSTM(6, hidden=4)
    ref = torch.nn.LSTMCell(6, 4)
    with torch.no_grad():
        ref.weight_ih.copy_(lstm.gates.weight[:, :6])
        ref.weight_hh.copy_(lstm.gates.weight[:, 6:])
        ref.bias_ih.copy_(lstm.gates.bias)
        ref.bias_hh.zero_()
        h = c = torch.zeros(5, 4)
        for t in range(7):
            h, c = ref(x[:, t], (h, c))
        torch.testing.assert_close(lstm(x), lstm.head(h))
    rnn = ft.TanhRNN(6, hidden=4)
    cell = torch.nn.RNNCell(6, 4)
    with torch.no_grad():
        cell.weight_ih.copy_(rnn.cell.weight[:, :6])
        cell.weight_hh.copy_(rnn.cell.weight[:, 6:])
        cell.bias_ih.copy_(rnn.cell.bias)
        cell.bias_hh.zero_()
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
        assert out.shape == (3, task.num_classes)
    task = ft.UNSEEN_TASKS["sigmoid-mse"]()
    out, y = torch.randn(2, 3, 4), torch.tensor([0, 3, 1])
    onehot = torch.nn.functional.one_hot(y, 4).float()
    ref = torch.stack([torch.nn.functional.mse_loss(torch.sigmoid(o), onehot, reduction="none")
                       .mean(-1) for o in out])
    torch.testing.assert_close(task.loss(out, y), ref)
