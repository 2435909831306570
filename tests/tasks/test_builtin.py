"""Tests for the built-in tasks, ``Task`` validation, ``Task.subset`` and ``get_task``."""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import one_line
from torch import nn

from lrlab._errors import LrlabError
from lrlab.tasks import TASKS, Split, Task, get_task, read_idx

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def class_counts(y: torch.Tensor, classes: int) -> np.ndarray:
    """How many examples of each class ``y`` holds."""
    return np.bincount(y.numpy(), minlength=classes)


def sorted_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The (x, y) rows of a dataset in lexicographic order: a multiset to compare."""
    rows = np.column_stack([x, y])
    return rows[np.lexsort(rows.T[::-1])]


def tiny_task(**changes: object) -> Task:
    """A small valid two-class task; ``changes`` override its fields."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g)
    y = (x[:, 0] > 0).long()
    fields: dict[str, object] = {
        "name": "tiny", "train": Split(x[:20], y[:20]), "val": Split(x[20:], y[20:]),
        "model": lambda: nn.Linear(4, 2), "num_classes": 2, "batch_size": 5, "epochs": 1,
    }
    fields.update(changes)
    return Task(**fields)


# --- blobs -------------------------------------------------------------------------------


def test_blobs_data_is_the_briefs_make_blobs(blobs: Task) -> None:
    """blobs: make_blobs(1000, 3 centres, 2-D, std 2, seed 2); first 500 train, last 500 val."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2, random_state=2)
    assert torch.equal(blobs.train.x, torch.as_tensor(x[:500], dtype=torch.float32))
    assert torch.equal(blobs.train.y, torch.as_tensor(y[:500], dtype=torch.long))
    assert torch.equal(blobs.val.x, torch.as_tensor(x[500:], dtype=torch.float32))
    assert torch.equal(blobs.val.y, torch.as_tensor(y[500:], dtype=torch.long))
    assert blobs.train.x.dtype == torch.float32 and blobs.train.y.dtype == torch.long
    assert blobs.test is None


def test_blobs_training_defaults(blobs: Task) -> None:
    """blobs: 3 classes, batch 50, 200 epochs, ranked by validation AUC (higher is better)."""
    assert blobs.name == "blobs"
    assert blobs.num_classes == 3
    assert blobs.batch_size == 50
    assert blobs.epochs == 200
    assert blobs.monitor == "auc"
    assert blobs.higher_is_better


def test_blobs_model_is_dense_2_50_3_with_keras_initialisers(blobs: Task) -> None:
    """blobs model: Linear(2,50) He-uniform -> ReLU -> Linear(50,3) Glorot, zero biases."""
    torch.manual_seed(0)
    model = blobs.model()
    layers = list(model.children())
    assert [type(m) for m in layers] == [nn.Linear, nn.ReLU, nn.Linear]
    first, last = layers[0], layers[2]
    assert (first.in_features, first.out_features) == (2, 50)
    assert (last.in_features, last.out_features) == (50, 3)
    he, glorot = math.sqrt(6 / 2), math.sqrt(6 / 53)
    w1, w2 = first.weight.detach(), last.weight.detach()
    assert w1.abs().max() <= he
    assert w2.abs().max() <= glorot
    # the bounds are used, not torch's narrower defaults (1/sqrt(fan_in): 0.71 and 0.14)
    assert w1.abs().max() > 0.8 * he
    assert w2.abs().max() > 0.8 * glorot
    assert torch.count_nonzero(first.bias) == 0
    assert torch.count_nonzero(last.bias) == 0


def test_blobs_model_is_fresh_and_seeded(blobs: Task) -> None:
    """The model factory draws new weights each call, reproducibly under a seed."""
    torch.manual_seed(3)
    a = blobs.model()
    torch.manual_seed(3)
    b = blobs.model()
    c = blobs.model()
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(b[0].weight, c[0].weight)


# --- digits ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_task() -> Task:
    """The built-in digits task."""
    return get_task("digits")


def test_digits_splits_partition_the_dataset(digits_task: Task) -> None:
    """digits: train, validation and test are disjoint and together hold all 1,797 images."""
    from sklearn.datasets import load_digits

    data = load_digits()
    parts = [digits_task.train, digits_task.val, digits_task.test]
    assert digits_task.test is not None
    assert sum(len(p) for p in parts) == 1797
    assert [len(p) for p in parts] == [1078, 359, 360]
    x = np.concatenate([p.x.numpy() for p in parts]).astype(np.float64)
    y = np.concatenate([p.y.numpy() for p in parts])
    expected = sorted_rows(data.data / 16.0, data.target)
    np.testing.assert_allclose(sorted_rows(x, y), expected, rtol=0, atol=1e-6)


def test_digits_splits_are_stratified(digits_task: Task) -> None:
    """digits: every split holds each class in the dataset's proportions."""
    from sklearn.datasets import load_digits

    total = np.bincount(load_digits().target, minlength=10)
    assert digits_task.test is not None
    for split, tol in ((digits_task.train, 1.0), (digits_task.val, 2.0), (digits_task.test, 2.0)):
        counts = class_counts(split.y, 10)
        expected = total * len(split) / total.sum()
        assert np.abs(counts - expected).max() <= tol, (counts, expected)


def test_digits_inputs_and_defaults(digits_task: Task) -> None:
    """digits: 64 inputs in [0, 1], 10 classes, an MLP 64-64-10 producing 10 logits."""
    assert digits_task.train.x.shape[1] == 64
    assert float(digits_task.train.x.min()) >= 0.0
    assert float(digits_task.train.x.max()) <= 1.0
    assert digits_task.num_classes == 10
    assert digits_task.monitor == "accuracy"
    torch.manual_seed(0)
    out = digits_task.model()(digits_task.train.x[:4])
    assert out.shape == (4, 10)


# --- MNIST (real files) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_raw() -> dict[str, np.ndarray]:
    """The real MNIST arrays read straight from the IDX files, or skip."""
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST files not found at {MNIST_DIR}")
    names = {"train_images": "train-images-idx3-ubyte.gz",
             "train_labels": "train-labels-idx1-ubyte.gz",
             "test_images": "t10k-images-idx3-ubyte.gz",
             "test_labels": "t10k-labels-idx1-ubyte.gz"}
    return {key: read_idx(MNIST_DIR / name) for key, name in names.items()}


@pytest.mark.parametrize(("name", "shape"), [
    ("mnist-linear", (784,)),
    ("mnist-mlp", (784,)),
    ("mnist-cnn", (1, 28, 28)),
])
def test_mnist_tasks_on_real_files(name: str, shape: tuple[int, ...],
                                   mnist_raw: dict[str, np.ndarray]) -> None:
    """mnist-*: validation = last 10,000 training images, test = the 10,000 test images."""
    task = get_task(name, data_dir=str(MNIST_DIR), download=False)
    assert task.test is not None
    assert task.num_classes == 10
    assert tuple(task.train.x.shape) == (50_000, *shape)
    assert tuple(task.val.x.shape) == (10_000, *shape)
    assert tuple(task.test.x.shape) == (10_000, *shape)
    for split in (task.train, task.val, task.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.long
        assert float(split.x.min()) == 0.0 and float(split.x.max()) == 1.0

    def scaled(images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(images.astype(np.float32) / 255.0).reshape(len(images), *shape)

    images, labels = mnist_raw["train_images"], mnist_raw["train_labels"]
    assert torch.equal(task.val.x, scaled(images[50_000:]))
    assert torch.equal(task.val.y, torch.from_numpy(labels[50_000:].astype(np.int64)))
    assert torch.equal(task.train.x[-1], scaled(images[49_999:50_000])[0])
    assert torch.equal(task.train.y, torch.from_numpy(labels[:50_000].astype(np.int64)))
    assert torch.equal(task.test.x, scaled(mnist_raw["test_images"]))
    assert torch.equal(task.test.y, torch.from_numpy(mnist_raw["test_labels"].astype(np.int64)))
    torch.manual_seed(0)
    assert task.model()(task.val.x[:2]).shape == (2, 10)


# --- Task.subset -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [300, 0.25])
def test_subset_keeps_class_proportions(digits_task: Task, size: float) -> None:
    """subset(count or fraction): stratified within 1 example per class, validation untouched."""
    n = len(digits_task.train)
    sub = digits_task.subset(size)
    count = size if isinstance(size, int) else round(size * n)
    assert len(sub.train) == count
    full = class_counts(digits_task.train.y, 10)
    kept = class_counts(sub.train.y, 10)
    assert np.abs(kept - full * count / n).max() <= 1.0, (kept, full * count / n)
    assert torch.equal(sub.val.x, digits_task.val.x) and torch.equal(sub.val.y, digits_task.val.y)
    assert sub.test is not None and digits_task.test is not None
    assert torch.equal(sub.test.x, digits_task.test.x)
    assert (sub.batch_size, sub.epochs, sub.monitor) == (
        digits_task.batch_size, digits_task.epochs, digits_task.monitor)


def test_subset_rows_come_from_the_training_set(digits_task: Task) -> None:
    """subset: the kept examples are training rows (with their labels), each at most once."""
    sub = digits_task.subset(200)
    rows = {(tuple(x.tolist()), int(y)) for x, y in zip(digits_task.train.x, digits_task.train.y)}
    kept = [(tuple(x.tolist()), int(y)) for x, y in zip(sub.train.x, sub.train.y)]
    assert all(r in rows for r in kept)
    assert sum(Counter(kept).values()) == 200


def test_subset_seed_picks_the_examples(digits_task: Task) -> None:
    """subset: the same seed gives the same examples, another seed others."""
    a = digits_task.subset(100, seed=0)
    b = digits_task.subset(100, seed=0)
    c = digits_task.subset(100, seed=1)
    assert torch.equal(a.train.x, b.train.x)
    assert not torch.equal(a.train.x, c.train.x)


def test_subset_of_everything_is_the_task(digits_task: Task) -> None:
    """subset(1.0) and subset(n or more) keep every training example (the command line
    refuses a count above n; procedures may ask for "up to" a count)."""
    n = len(digits_task.train)
    assert len(digits_task.subset(1.0).train) == n
    assert len(digits_task.subset(n + 10).train) == n


def test_subset_near_full_size(blobs: Task) -> None:
    """subset(n - 1) keeps n - 1 examples, stratified (fewer left out than there are classes)."""
    n = len(blobs.train)
    sub = blobs.subset(n - 1)
    assert len(sub.train) == n - 1
    full = class_counts(blobs.train.y, 3)
    kept = class_counts(sub.train.y, 3)
    assert (full - kept).sum() == 1 and (full - kept).min() >= 0


@pytest.mark.parametrize("size", [0, -1, 1.5, 0.0, -0.5, float("nan"), True, "10"])
def test_bad_subset_sizes(digits_task: Task, size: object) -> None:
    """subset: 0, negatives, fractions above 1, NaN and non-numbers raise one line."""
    with pytest.raises(LrlabError) as err:
        digits_task.subset(size)  # type: ignore[arg-type]
    one_line(err)


def test_subset_smaller_than_the_classes(digits_task: Task) -> None:
    """subset: fewer examples than classes cannot be stratified: one line says so."""
    with pytest.raises(LrlabError) as err:
        digits_task.subset(5)
    assert "class" in one_line(err)


# --- Task validation ---------------------------------------------------------------------


def test_task_rejects_nan_inputs() -> None:
    """Task: NaN in the training inputs raises one line naming the row."""
    x = torch.randn(20, 4)
    x[7, 2] = math.nan
    y = torch.zeros(20, dtype=torch.long)
    with pytest.raises(LrlabError) as err:
        tiny_task(train=Split(x, y))
    message = one_line(err)
    assert "NaN" in message and "7" in message


def test_task_rejects_inf_validation_inputs() -> None:
    """Task: Inf in the validation inputs raises one line."""
    x = torch.randn(10, 4)
    x[0, 0] = math.inf
    with pytest.raises(LrlabError) as err:
        tiny_task(val=Split(x, torch.zeros(10, dtype=torch.long)))
    assert "validation" in one_line(err)


def test_task_rejects_mismatched_lengths() -> None:
    """Task: inputs and targets of different lengths raise one line."""
    with pytest.raises(LrlabError) as err:
        tiny_task(train=Split(torch.randn(20, 4), torch.zeros(19, dtype=torch.long)))
    message = one_line(err)
    assert "20" in message and "19" in message


@pytest.mark.parametrize("bad", [2, -1, 5])
def test_task_rejects_labels_out_of_range(bad: int) -> None:
    """Task: a label outside 0..C-1 raises one line."""
    y = torch.zeros(20, dtype=torch.long)
    y[3] = bad
    with pytest.raises(LrlabError) as err:
        tiny_task(train=Split(torch.randn(20, 4), y))
    assert "0..1" in one_line(err)


def test_task_rejects_empty_split_and_float_labels() -> None:
    """Task: an empty split, or float class labels, raise one line."""
    with pytest.raises(LrlabError) as err:
        tiny_task(val=Split(torch.randn(0, 4), torch.zeros(0, dtype=torch.long)))
    one_line(err)
    with pytest.raises(LrlabError) as err:
        tiny_task(train=Split(torch.randn(20, 4), torch.zeros(20)))
    one_line(err)


# --- get_task ----------------------------------------------------------------------------


def test_get_task_unknown_name_lists_the_tasks() -> None:
    """get_task("nope") raises one line naming every built-in task."""
    with pytest.raises(LrlabError) as err:
        get_task("nope")
    message = one_line(err)
    assert "'nope'" in message
    for name in TASKS:
        assert name in message


def test_get_task_subset_argument(digits_task: Task) -> None:
    """get_task(subset=...) trains on a stratified part and keeps validation."""
    task = get_task("digits", subset=100)
    assert len(task.train) == 100
    assert torch.equal(task.val.x, digits_task.val.x)




def test_user_task_loads(user_module: str) -> None:
    """get_task("mod:fn") imports mod from the working directory and calls fn."""
    path_before = list(sys.path)
    task = get_task(f"{user_module}:make")
    assert isinstance(task, Task) and task.name == "mine"
    assert len(task.train) == 40 and len(task.val) == 20
    assert sys.path == path_before
    assert len(get_task(f"{user_module}:make", subset=10).train) == 10


def test_user_task_whose_function_imports_its_neighbour_when_called(tmp_path,
                                                                    monkeypatch) -> None:
    """A task function that imports a module beside it when called (as a script may, and as
    lrlab's own user_shapes9.py does) failed from the CLI: 'user task ... failed:
    ModuleNotFoundError: No module named ...', the folder having left sys.path once the
    module had loaded. It stays there while the function builds the task, and only then."""
    (tmp_path / "lrlab_nb_helper.py").write_text(
        "import torch\nfrom lrlab import Task\nfrom lrlab.tasks import Split\n\n"
        "def build():\n    g = torch.Generator().manual_seed(0)\n"
        "    x, y = torch.randn(30, 3, generator=g), torch.arange(30) % 2\n"
        "    return Task(name='nb', train=Split(x[:20], y[:20]), val=Split(x[20:], y[20:]),\n"
        "                num_classes=2, batch_size=10, epochs=1,\n"
        "                model=lambda: torch.nn.Linear(3, 2))\n")
    (tmp_path / "lrlab_nb_tasks.py").write_text(
        "def make():\n    import lrlab_nb_helper\n    return lrlab_nb_helper.build()\n")
    path_before = list(sys.path)
    monkeypatch.chdir(tmp_path)
    try:
        task = get_task("lrlab_nb_tasks:make")
    finally:
        for name in ("lrlab_nb_tasks", "lrlab_nb_helper"):
            sys.modules.pop(name, None)
    assert isinstance(task, Task) and task.name == "nb"
    assert sys.path == path_before


def test_user_task_missing_module(user_module: str) -> None:
    """A module that does not exist raises one line naming it."""
    with pytest.raises(LrlabError) as err:
        get_task("lrlab_no_such_module_xyz:make")
    assert "lrlab_no_such_module_xyz" in one_line(err)


def test_user_task_missing_attribute(user_module: str) -> None:
    """A function the module lacks raises one line naming it."""
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:nothing_here")
    assert "nothing_here" in one_line(err)


def test_user_task_returning_a_non_task(user_module: str) -> None:
    """A function returning something other than a Task raises one line."""
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:not_a_task")
    assert "dict" in one_line(err)


def test_user_task_that_takes_arguments_or_is_a_model(user_module: str) -> None:
    """A function with a required argument is named as taking arguments that lrlab does not
    give (before: "failed: TypeError: needs_args() missing 1 required positional argument");
    a model class named for the task says how to make a Task of it (before: "returned Net,
    not lrlab.Task")."""
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:needs_args")
    one_line(err, "takes arguments (n)", "lrlab calls it with none")
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:Net")
    one_line(err, "returned Net, a model, not lrlab.Task",
             "lrlab.Task.from_loaders(Net, train, val, loss=...)")


def test_user_task_with_nan_inputs(user_module: str) -> None:
    """A user task whose inputs hold NaN is rejected with one line."""
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:with_nan")
    assert "NaN" in one_line(err)


@pytest.mark.parametrize("spec", [":make", "module:", ":"])
def test_user_task_malformed_spec(spec: str) -> None:
    """A spec without a module or a function part raises one line."""
    with pytest.raises(LrlabError) as err:
        get_task(spec)
    one_line(err)


def test_user_task_attribute_not_callable(user_module: str) -> None:
    """An attribute that is not a function (a constant) raises one line, not TypeError."""
    with pytest.raises(LrlabError) as err:
        get_task(f"{user_module}:CONSTANT")
    assert "CONSTANT" in one_line(err)


@pytest.mark.parametrize("call", ["sweep", "auto", "grid"])
def test_a_task_of_the_wrong_type_is_one_line(call: str) -> None:
    """lrlab.sweep(3, ...) raised AttributeError: 'int' object has no attribute 'in_memory'."""
    import lrlab

    run = {"sweep": lambda: lrlab.sweep(3, lrs=[0.1]),
           "auto": lambda: lrlab.search.auto(3),
           "grid": lambda: lrlab.search.grid(None, lrs=[0.1])}[call]
    with pytest.raises(lrlab.LrlabError, match=r"^task must be an lrlab.Task or a task's name "
                       r"\(lrlab list tasks\), got (int|NoneType)$"):
        run()
