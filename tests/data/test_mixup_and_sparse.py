"""Class probabilities as training targets (mixup, cutmix, soft labels), and embeddings with
sparse gradients: two things a user's own training loop does that lrlab trains as it does.

``nn.CrossEntropyLoss`` takes float targets ``(B, C)`` as class probabilities; a mixup loader
yields them in training while validation keeps class indices. lrlab scores such a task as a
classifier (validation accuracy; a mixed target counts at its likeliest class). An
``nn.Embedding(sparse=True)`` gives sparse gradients, which torch's SGD takes: lrlab trains it
with the same numbers, dense.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab

EPOCHS, LRS = 2, [0.3, 0.03]


def _mixed(items: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Each batch mixed with its reversal at a fixed weight 0.7 (a mixup without the draw)."""
    x = torch.stack([x for x, _ in items])
    y = F.one_hot(torch.stack([y for _, y in items]), 3).float()
    return 0.7 * x + 0.3 * x.flip(0), 0.7 * y + 0.3 * y.flip(0)


def _mixup_task() -> tuple[lrlab.Task, DataLoader, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    train = DataLoader(TensorDataset(x[:240], y[:240]), batch_size=40, collate_fn=_mixed)

    def model() -> nn.Module:
        return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    task = lrlab.Task.from_loaders(model, train, DataLoader(TensorDataset(x[240:], y[240:]),
                                                            batch_size=30),
                                   loss=nn.CrossEntropyLoss(), epochs=EPOCHS)
    return task, train, x[240:], y[240:]


def test_mixup_targets_train_a_classifier_scored_on_its_labels() -> None:
    """Each rate's validation accuracy and loss are those of a plain torch loop on the same
    mixed batches (before: the probability targets made it a regression, and its first
    evaluation on class labels failed)."""
    task, train, xv, yv = _mixup_task()
    result = lrlab.sweep(task, lrs=LRS)
    assert result.monitor == "accuracy"
    summary = result.summary().set_index("lr")
    for lr in LRS:
        model = task.init_model(0)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(EPOCHS):
            for xb, yb in train:
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
        with torch.no_grad():
            z = model(xv)
        assert summary.loc[lr, "final_val_accuracy"] == pytest.approx(
            (z.argmax(1) == yv).double().mean().item(), abs=1e-12)
        assert summary.loc[lr, "final_val_loss"] == pytest.approx(
            F.cross_entropy(z, yv).item(), rel=1e-5)


def test_mixed_targets_count_at_their_likeliest_class() -> None:
    """The training accuracy of an epoch scores each mixed target at its larger share."""
    m = lrlab.metrics.EpochMetrics(1, num_classes=3, auc=False)
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]]])
    targets = torch.tensor([[0.7, 0.3, 0.0], [0.7, 0.0, 0.3], [0.0, 0.4, 0.6]])
    m.update(logits, targets, torch.zeros(1, 3))
    assert m.compute()["accuracy"].item() == pytest.approx(2 / 3)


class _Bag(nn.Module):
    def __init__(self, sparse: bool = True) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 8, sparse=sparse)
        self.head = nn.Linear(8, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids).mean(1))


def _bag_task(sparse: bool = True) -> tuple[lrlab.Task, DataLoader]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 50, (200, 6), generator=g)
    y = ((ids < 10).sum(1) > (ids >= 40).sum(1)).long()
    train = DataLoader(TensorDataset(ids[:160], y[:160]), batch_size=20)
    task = lrlab.Task.from_loaders(lambda: _Bag(sparse), train,
                                   DataLoader(TensorDataset(ids[160:], y[160:]), batch_size=40),
                                   loss=nn.CrossEntropyLoss(), epochs=EPOCHS)
    return task, train


def test_a_sparse_embedding_trains_as_torch_sgd_trains_it() -> None:
    """Each rate's final training loss is that of torch's SGD on the sparse gradients (before:
    the population's backward pass failed, 'reshape is not implemented for sparse tensors')."""
    task, train = _bag_task()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SGD takes sparse gradients: nothing to say
        result = lrlab.sweep(task, lrs=[3.0, 0.3])
    summary = result.summary().set_index("lr")
    for lr in (3.0, 0.3):
        model = task.init_model(0)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(EPOCHS):
            losses = []
            for xb, yb in train:
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                assert model.emb.weight.grad.is_sparse
                opt.step()
                losses.append(loss.item())
        assert summary.loc[lr, "final_train_loss"] == pytest.approx(sum(losses) / len(losses),
                                                                     rel=1e-5)


def test_a_sparse_embedding_under_adam_is_trained_dense_and_says_so() -> None:
    """torch's Adam refuses sparse gradients: lrlab's adam trains the embedding dense, as
    ``sparse=False`` would, and says that these are the dense embedding's rates."""
    with pytest.warns(UserWarning, match=r"_Bag.emb is nn.Embedding\(sparse=True\).*sparse=False"):
        sparse = lrlab.sweep(_bag_task()[0], lrs=[0.01], optimizer="adam")
    dense = lrlab.sweep(_bag_task(sparse=False)[0], lrs=[0.01], optimizer="adam")
    assert (sparse.summary()["final_val_loss"].tolist()
            == dense.summary()["final_val_loss"].tolist())


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_range_test_trains_a_sparse_embedding_dense(optimizer: str) -> None:
    """The range test (``lrlab find``, auto's first step) trains the sparse embedding as the
    population does (before: 'lrlab optimizers take dense gradients; use
    torch.optim.SparseAdam', which no lrlab rule is) and gives a rate."""
    from lrlab.search import range_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = range_test(_bag_task()[0], optimizer=optimizer, steps=30)
    assert len(test.lrs) > 0 and test.suggestion.lr > 0


def test_dense_gradients_names_the_sparse_module_and_keeps_sgd_quiet() -> None:
    """An ``nn.EmbeddingBag(sparse=True)`` is made dense in place; the warning names its
    kind under Adam, and says nothing under SGD (whose sparse update is the dense one)."""
    from lrlab.optim import get_rule
    from lrlab.population import dense_gradients

    def model() -> nn.Module:
        return nn.Sequential(nn.EmbeddingBag(20, 4, sparse=True), nn.Linear(4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not dense_gradients(model(), get_rule("momentum"))[0].sparse
    with pytest.warns(UserWarning, match=r"Sequential\.0 is nn\.EmbeddingBag\(sparse=True\)"):
        assert not dense_gradients(model(), get_rule("adam"))[0].sparse
